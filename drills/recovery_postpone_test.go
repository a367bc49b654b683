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

// A due time postponed by a live emergency stays postponed while the
// region is in recovery (恢复) after it: the drill does not call the people
// just called up for real while the region recovers. The schedule says it
// waits until the region is back to normal, and the run starts at the
// scheduler's first look after the recovery ends. Under rules 12 it
// started at the first look after the stand-down.
func TestADrillWaitsOutTheRecoveryAfterALiveEmergency(t *testing.T) {
	for _, rules := range []int{0, 12} {
		t.Run(map[int]string{0: "rules 13", 12: "rules 12"}[rules], func(t *testing.T) {
			e := newEnvWith(t, envOptions{nodes: 1, people: 300, stamp: true, rules: rules})
			ctx := testCtx(t)
			s, err := e.drills.Schedule(ctx, "trainer", weekly(street))
			require.NoError(t, err)
			_, _, sched := e.on(e.c.Leader(), drills.SchedulerConfig{})
			tick := func(at time.Time) drills.TickReport {
				t.Helper()
				e.clock.Set(at)
				rep, err := sched.Tick(ctx)
				require.NoError(t, err)
				return rep
			}
			live, err := e.notify.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "IV", Purpose: "LIVE", Reason: "暴雨"})
			require.NoError(t, err)
			require.Equal(t, []drills.ScheduleID{s.ID}, tick(s.Due).Postponed)

			_, err = e.notify.StandDown(ctx, "commander", live.ID, "雨停")
			require.NoError(t, err)
			m, err := e.notify.Mode(ctx, muster.Default, street)
			require.NoError(t, err)
			require.Equal(t, plans.ModeRecovery, m.Mode)
			retry := drills.DefaultPostponeRetry
			rep := tick(s.Due.Add(retry))
			if rules == 12 {
				assert.Len(t, rep.Started, 1, "under rules 12 it starts once the call-up stands down")
				return
			}
			assert.Empty(t, rep.Started, "not while the district recovers")
			assert.Equal(t, []drills.ScheduleID{s.ID}, rep.Postponed)
			got, err := e.drills.Get(ctx, muster.Default, s.ID)
			require.NoError(t, err)
			require.NotNil(t, got.Postponed, "shown postponed")
			assert.Equal(t, []plans.RegionCode{district}, got.Postponed.Regions)
			assert.Contains(t, got.Postponed.Reason, "is in recovery (恢复) after "+string(live.ID))
			assert.Contains(t, got.Postponed.Reason, "back to normal")

			_, err = e.notify.EndRecovery(ctx, "commander", []plans.RegionCode{district}, "恢复正常")
			require.NoError(t, err)
			got, err = e.drills.Get(ctx, muster.Default, s.ID)
			require.NoError(t, err)
			assert.Nil(t, got.Postponed, "nothing blocks it any more")
			rep = tick(s.Due.Add(2 * retry))
			require.Len(t, rep.Started, 1, "it starts at the first look after the recovery ends")
			run, err := e.drills.GetRun(ctx, muster.Default, rep.Started[0])
			require.NoError(t, err)
			assert.True(t, run.Due.Equal(s.Due))
			assert.Equal(t, 2*retry, run.Waited.Std())
			assert.Equal(t, drills.WaitedEmergencyAndRecovery, run.WaitedFor, "a live emergency, then the recovery after it")
		})
	}
}

// Scheduling a drill over a region in recovery after a live emergency
// warns that a due time before it is back to normal is postponed.
func TestScheduleWarnsOfARecoveryOverItsRegions(t *testing.T) {
	e := newEnv(t, 1, 300)
	ctx := testCtx(t)
	live, err := e.notify.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district},
		Level: "IV", Purpose: string(notify.PurposeLive), Reason: "暴雨"})
	require.NoError(t, err)
	_, err = e.notify.StandDown(ctx, "commander", live.ID, "雨停")
	require.NoError(t, err)
	s := scheduledAs(t, e, street, "", "")
	require.Len(t, s.Warnings, 1, "%q", s.Warnings)
	assert.Contains(t, s.Warnings[0], "is in recovery (恢复) after "+string(live.ID))
	assert.Contains(t, s.Warnings[0], "postponed, not missed")
	assert.Empty(t, scheduledAs(t, e, other, "", "江北通讯演练").Warnings)
}
