package drills_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/drills"
	"muster/notify"
	"muster/plans"
)

// On a cluster applying rules 12, where a region's recovery postpones no
// drill (the FSM starts the run at the scheduler's next look after the
// stand-down), drill list and show do not say that the recovery postpones
// it, and scheduling a drill over a region in recovery warns of nothing.
func TestUnderRules12ARecoveryIsNotShownAsPostponing(t *testing.T) {
	e := newEnvWith(t, envOptions{nodes: 1, people: 300, stamp: true, rules: 12})
	ctx := testCtx(t)
	s, err := e.drills.Schedule(ctx, "trainer", weekly(street))
	require.NoError(t, err)
	_, _, sched := e.on(e.c.Leader(), drills.SchedulerConfig{})
	live, err := e.notify.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "IV", Purpose: "LIVE", Reason: "暴雨"})
	require.NoError(t, err)
	e.clock.Set(s.Due)
	rep, err := sched.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, []drills.ScheduleID{s.ID}, rep.Postponed)
	_, err = e.notify.StandDown(ctx, "commander", live.ID, "雨停")
	require.NoError(t, err)
	m, err := e.notify.Mode(ctx, muster.Default, street)
	require.NoError(t, err)
	require.Equal(t, plans.ModeRecovery, m.Mode)

	got, err := e.drills.Get(ctx, muster.Default, s.ID)
	require.NoError(t, err)
	assert.Nil(t, got.Postponed, "it starts at the next look: %+v", got.Postponed)
	list, err := e.drills.Schedules(ctx, muster.Default, plans.Page{})
	require.NoError(t, err)
	require.Len(t, list.Items, 1)
	assert.Nil(t, list.Items[0].Postponed)
	other := weekly(street)
	other.Title, other.Cron = "街道通讯演练", "0 15 * * 3"
	s2, err := e.drills.Schedule(ctx, "trainer", other)
	require.NoError(t, err)
	for _, w := range s2.Warnings {
		assert.NotContains(t, w, "recovery", "no recovery warning under rules 12")
	}
}
