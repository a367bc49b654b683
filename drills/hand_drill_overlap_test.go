package drills_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/drills"
	"muster/notify"
	"muster/plans"
)

// handDrill asks for a drill call-up by hand (muster activate --purpose
// purpose) over region.
func handDrill(region plans.RegionCode, purpose notify.Purpose) notify.ActivationRequest {
	return notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{region}, Level: "IV", Purpose: string(purpose), Reason: "通讯测试"}
}

// A drill run over the people a TEST (or EXERCISE) call-up started by hand
// still drills is refused (409) naming that call-up (演练重叠), by the
// service and, proposed past it, by the FSM, as over another drill's run;
// a due time then is recorded missed naming it. Another district's drill
// runs, and the refused one does once the call-up stands down. Under
// rules 12 the FSM started it.
func TestADrillRunOverADrillStartedByHandIsRefused(t *testing.T) {
	e := newClockedEnv(t, 1, 400, nil)
	ctx := testCtx(t)
	week := scheduledAs(t, e, district, "", "")
	away := scheduledAs(t, e, other, "", "江北通讯演练")
	e.clock.Set(week.Due.Add(-20 * time.Minute))
	hand, err := e.notify.Activate(ctx, "值班员", handDrill(street, notify.PurposeTest))
	require.NoError(t, err)

	_, err = e.drills.RunNow(ctx, "trainer", week.ID)
	require.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	assert.ErrorContains(t, err, "TEST activation "+string(hand.ID))
	assert.ErrorContains(t, err, "演练重叠")
	assert.ErrorContains(t, err, "muster stand-down "+string(hand.ID))
	var out drills.FireResult
	err = e.drills.Fire(ctx, "trainer", drills.Fire{Schedule: week.ID, Manual: true}, &out)
	require.True(t, muster.IsCode(err, muster.EConflict), "the FSM refuses it too: %v", err)
	assert.ErrorContains(t, err, string(hand.ID))
	assert.Zero(t, activeDrills(t, e), "no run's EXERCISE call-up (the one by hand is a TEST)")

	_, _, sched := e.on(e.c.Leader(), drills.SchedulerConfig{})
	e.clock.Set(week.Due.Add(time.Second))
	rep, err := sched.Tick(ctx)
	require.NoError(t, err)
	require.Len(t, rep.Started, 1, "the other district's drill starts: missed %v", rep.Missed)
	runs := runsOf(t, ctx, e.drills, week.ID)
	require.Len(t, runs, 1)
	assert.Equal(t, drills.RunMissed, runs[0].Status)
	assert.Contains(t, runs[0].Error, string(hand.ID))
	assert.Contains(t, runs[0].Error, "演练重叠")
	started := runsOf(t, ctx, e.drills, away.ID)
	require.Len(t, started, 1)
	assert.Equal(t, drills.RunStarted, started[0].Status)

	_, err = e.notify.StandDown(ctx, "值班员", hand.ID, "测试结束")
	require.NoError(t, err)
	r, err := e.drills.RunNow(ctx, "trainer", week.ID)
	require.NoError(t, err)
	assert.Equal(t, drills.RunStarted, r.Status)
}

// Under rules 12 the FSM started a run by hand over a drill call-up
// started by hand.
func TestADrillRunOverADrillStartedByHandUnderRules12(t *testing.T) {
	e := newEnvWith(t, envOptions{nodes: 1, people: 300, stamp: true, rules: 12})
	ctx := testCtx(t)
	week := scheduledAs(t, e, district, "", "")
	_, err := e.notify.Activate(ctx, "值班员", handDrill(street, notify.PurposeExercise))
	require.NoError(t, err)
	var out drills.FireResult
	require.NoError(t, e.drills.Fire(ctx, "trainer", drills.Fire{Schedule: week.ID, Manual: true}, &out))
	require.NotNil(t, out.Run)
	assert.Equal(t, drills.RunStarted, out.Run.Status)
	assert.Equal(t, 2, activeDrills(t, e))
}

// An EXERCISE or TEST call-up by hand over (or above or below) the people
// a drill's run or another drill call-up still drills is refused (409,
// 演练重叠) naming it, and its preview says so; asked with repeat it
// starts. A LIVE call-up and a drill of another district are not held.
func TestADrillByHandOverAnOpenDrillNeedsRepeat(t *testing.T) {
	e := newEnv(t, 1, 300)
	ctx := testCtx(t)
	week := scheduledAs(t, e, district, "", "")
	run, err := e.drills.RunNow(ctx, "trainer", week.ID)
	require.NoError(t, err)

	req := handDrill(street, notify.PurposeExercise)
	p, err := e.notify.Preview(ctx, req)
	require.NoError(t, err)
	assert.Contains(t, p.DrillOverlap, "演练重叠")
	assert.Contains(t, p.DrillOverlap, "EXERCISE activation "+string(run.Activation))
	assert.Contains(t, p.DrillOverlap, "ask again with repeat")
	assert.Empty(t, p.Again, "no LIVE repeat")
	_, err = e.notify.Activate(ctx, "值班员", req)
	require.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	assert.ErrorContains(t, err, "演练重叠")
	assert.ErrorContains(t, err, string(run.Activation))
	assert.Equal(t, 1, activeDrills(t, e), "nothing started")

	away, err := e.notify.Activate(ctx, "值班员", handDrill(other, notify.PurposeTest))
	require.NoError(t, err, "another district's people are drilled by nobody")
	_, err = e.notify.Activate(ctx, "值班员", handDrill(other, notify.PurposeExercise))
	require.True(t, muster.IsCode(err, muster.EConflict), "over a drill by hand as well: %v", err)
	assert.ErrorContains(t, err, "TEST activation "+string(away.ID))

	req.Repeat = true
	p, err = e.notify.Preview(ctx, req)
	require.NoError(t, err)
	assert.Empty(t, p.DrillOverlap)
	a, err := e.notify.Activate(ctx, "值班员", req)
	require.NoError(t, err, "meant, with repeat")
	assert.Equal(t, notify.StatusActive, a.Status)
}

// An EXERCISE or TEST call-up by hand over (or above or below) a region in
// recovery (恢复) after a live emergency is refused (409) naming the region
// and the call-up it recovers from, as a drill's run by hand is; its
// preview says so. Asked with during_recovery it starts, and its preview
// warns of the recovery instead.
func TestADrillByHandDuringARecoveryNeedsToBeMeant(t *testing.T) {
	e, _, live := recoveringEnv(t, 0)
	ctx := testCtx(t)
	for _, purpose := range []notify.Purpose{notify.PurposeExercise, notify.PurposeTest} {
		req := handDrill(street, purpose)
		p, err := e.notify.Preview(ctx, req)
		require.NoError(t, err)
		assert.Contains(t, p.Recovery, "is in recovery (恢复) after "+string(live.ID))
		assert.Contains(t, p.Recovery, "--during-recovery")
		_, err = e.notify.Activate(ctx, "值班员", req)
		require.True(t, muster.IsCode(err, muster.EConflict), "%s: %v", purpose, err)
		assert.ErrorContains(t, err, "is in recovery (恢复) after "+string(live.ID))
		assert.ErrorContains(t, err, "recovering from a live emergency")
	}
	assert.Zero(t, activeDrills(t, e), "nothing started")

	req := handDrill(district, notify.PurposeExercise)
	req.DuringRecovery = true
	p, err := e.notify.Preview(ctx, req)
	require.NoError(t, err)
	assert.Empty(t, p.Recovery)
	require.Len(t, p.Warnings, 1, "%q", p.Warnings)
	assert.Contains(t, p.Warnings[0], "is in recovery (恢复) after "+string(live.ID))
	assert.Contains(t, p.Warnings[0], "runs during its recovery")
	a, err := e.notify.Activate(ctx, "值班员", req)
	require.NoError(t, err)
	assert.Equal(t, notify.StatusActive, a.Status)
}
