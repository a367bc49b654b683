package drills_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/drills"
	"muster/notify"
	"muster/plans"
)

// recoveringEnv is an env under rules (0: this muster's) with a weekly
// drill of street, and district in recovery after LIVE call-up live.
func recoveringEnv(t *testing.T, rules int) (*env, drills.Schedule, notify.Activation) {
	t.Helper()
	e := newEnvWith(t, envOptions{nodes: 1, people: 300, stamp: true, rules: rules})
	ctx := testCtx(t)
	s, err := e.drills.Schedule(ctx, "trainer", weekly(street))
	require.NoError(t, err)
	live, err := e.notify.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "IV", Purpose: "LIVE", Reason: "暴雨"})
	require.NoError(t, err)
	_, err = e.drills.RunNowWith(ctx, "trainer", s.ID, drills.RunOptions{DuringRecovery: true})
	require.True(t, muster.IsCode(err, muster.EConflict), "a live emergency refuses it, whatever the trainer says: %v", err)
	assert.ErrorContains(t, err, "is in emergency (战时")
	_, err = e.notify.StandDown(ctx, "commander", live.ID, "雨停")
	require.NoError(t, err)
	m, err := e.notify.Mode(ctx, muster.Default, street)
	require.NoError(t, err)
	require.Equal(t, plans.ModeRecovery, m.Mode)
	return e, s, live
}

// A drill run by hand while a region of it (or above or below) is in
// recovery (恢复) after a live emergency is refused (409), as a due time
// is then postponed: the people just called up for real may still be at
// work on it. The refusal says the region is recovering and how to run it
// all the same (--during-recovery); with it the run starts, records it and
// warns. Under rules 12 it started.
func TestARunByHandDuringARecoveryNeedsToBeMeant(t *testing.T) {
	for _, rules := range []int{0, 12} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			e, s, live := recoveringEnv(t, rules)
			ctx := testCtx(t)
			if rules == 12 {
				r, err := e.drills.RunNow(ctx, "trainer", s.ID)
				require.NoError(t, err, "under rules 12 it starts")
				assert.Equal(t, drills.RunStarted, r.Status)
				assert.False(t, r.DuringRecovery)
				return
			}
			_, err := e.drills.RunNow(ctx, "trainer", s.ID)
			require.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
			assert.ErrorContains(t, err, "is in recovery (恢复) after "+string(live.ID))
			assert.ErrorContains(t, err, "recovering from a live emergency until a commander ends its recovery")
			assert.ErrorContains(t, err, "--during-recovery")
			assert.Zero(t, activeDrills(t, e), "nothing started")

			// Proposed past the service, the FSM refuses it as it applies.
			var out drills.FireResult
			err = e.drills.Fire(ctx, "trainer", drills.Fire{Schedule: s.ID, Manual: true}, &out)
			require.True(t, muster.IsCode(err, muster.EConflict), "%v", err)

			r, err := e.drills.RunNowWith(ctx, "trainer", s.ID, drills.RunOptions{DuringRecovery: true})
			require.NoError(t, err)
			assert.Equal(t, drills.RunStarted, r.Status)
			assert.True(t, r.DuringRecovery)
			require.Len(t, r.Warnings, 1, "%q", r.Warnings)
			assert.Contains(t, r.Warnings[0], "is in recovery (恢复) after "+string(live.ID))
			assert.Contains(t, r.Warnings[0], "runs during its recovery")
			got, err := e.drills.GetRun(ctx, muster.Default, r.ID)
			require.NoError(t, err)
			assert.True(t, got.DuringRecovery, "the run records it")
		})
	}
}

// A due time postponed by a live emergency and then by the region's
// recovery records what it waited for (emergency_and_recovery); one
// postponed only by a recovery, recovery; one given up at the next due
// time says it was the recovery that held it.
func TestARunRecordsWhatItWaitedFor(t *testing.T) {
	e, s, _ := recoveringEnv(t, 0)
	ctx := testCtx(t)
	_, _, sched := e.on(e.c.Leader(), drills.SchedulerConfig{})
	tick := func(at time.Time) drills.TickReport {
		t.Helper()
		e.clock.Set(at)
		rep, err := sched.Tick(ctx)
		require.NoError(t, err)
		return rep
	}
	// Due while the street recovers: postponed, then given up at the next
	// due time, the recovery named as the reason.
	require.Equal(t, []drills.ScheduleID{s.ID}, tick(s.Due).Postponed)
	got, err := e.drills.Get(ctx, muster.Default, s.ID)
	require.NoError(t, err)
	require.NotNil(t, got.Postponed)
	assert.True(t, got.Postponed.Recovery)
	assert.False(t, got.Postponed.Emergency)
	next := s.Due.AddDate(0, 0, 7)
	rep := tick(next)
	require.Len(t, rep.Missed, 1, "%+v", rep)
	var missed drills.Run
	runs, err := e.drills.Runs(ctx, muster.Default, drills.RunFilter{Schedule: s.ID}, plans.Page{})
	require.NoError(t, err)
	for _, r := range runs.Items {
		if r.Status == drills.RunMissed {
			missed = r
		}
	}
	require.NotEmpty(t, missed.ID, "the first due time is given up: %+v", runs.Items)
	assert.Contains(t, missed.Error, "postponed by the region's recovery after a live emergency until its next due time: ")
	assert.NotContains(t, missed.Error, "by a live emergency")
	assert.Equal(t, drills.WaitedRecovery, missed.WaitedFor)

	_, err = e.notify.EndRecovery(ctx, "commander", []plans.RegionCode{district}, "恢复正常")
	require.NoError(t, err)
	rep = tick(next.Add(drills.DefaultPostponeRetry))
	require.Len(t, rep.Started, 1)
	r, err := e.drills.GetRun(ctx, muster.Default, rep.Started[0])
	require.NoError(t, err)
	assert.Equal(t, drills.WaitedRecovery, r.WaitedFor)
	assert.Equal(t, "the region's recovery after a live emergency", drills.WaitedWhat(r.WaitedFor))
}
