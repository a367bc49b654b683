package drills_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/drills"
	"muster/plans"
)

// A length shorter than MinHeld is refused when a drill is scheduled or
// changed, saying why: such a run ends before it could be a drill held.
// From rules 13 the FSM refuses it too.
func TestScheduleRefusesALengthTooShortToBeHeld(t *testing.T) {
	e := newClockedEnv(t, 1, 100, nil)
	ctx := testCtx(t)
	for _, length := range []string{"30s", "5m", "14m59s"} {
		in := weekly(district)
		in.Length = length
		_, err := e.drills.Schedule(ctx, "trainer", in)
		require.True(t, muster.IsCode(err, muster.EInvalid), "%s: %v", length, err)
		assert.ErrorContains(t, err, "at least 15m", length)
		assert.ErrorContains(t, err, "cut short", length)
	}
	in := weekly(district)
	in.Length = "15m"
	s, err := e.drills.Schedule(ctx, "trainer", in)
	require.NoError(t, err, "MinHeld itself is taken")
	short := "10m"
	_, err = e.drills.Change(ctx, "trainer", s.ID, drills.ScheduleChange{Length: &short})
	require.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
	assert.ErrorContains(t, err, "at least 15m")

	old := drills.Schedule{Plan: in.Plan, Regions: in.Regions, Level: "IV", Type: drills.Notification, Title: in.Title,
		Cron: in.Cron, TimeZone: in.TimeZone, CatchUp: drills.CatchUpSkip, Length: plans.Duration(30 * time.Second),
		Due: s.Due, RunAt: s.Due}
	b, err := json.Marshal(map[string]any{"schedule": old})
	require.NoError(t, err)
	err = e.c.Leader().Node.Apply(ctx, &muster.Command{Type: drills.CmdSchedule, Actor: "test", Payload: b}, nil)
	require.True(t, muster.IsCode(err, muster.EInvalid), "the FSM refuses it from rules 13: %v", err)
}

// A schedule with a length under MinHeld stored under older rules still
// loads and runs, but a run the scheduler closes when that length is over
// is cut short, not a drill held: the overdue report does not count it as
// the city's drill, and the trend marks it.
func TestARunShorterThanMinHeldIsCutShort(t *testing.T) {
	e := newEnvWith(t, envOptions{nodes: 1, people: 300, stamp: true, rules: 12})
	ctx := testCtx(t)
	in := weekly(district)
	old := drills.Schedule{Plan: in.Plan, Regions: in.Regions, Level: "IV", Type: drills.Notification, Title: in.Title,
		Cron: in.Cron, TimeZone: in.TimeZone, CatchUp: drills.CatchUpSkip, Length: plans.Duration(30 * time.Second),
		Due: start.Add(time.Hour), RunAt: start.Add(time.Hour)}
	var stored drills.Schedule
	e.apply(t, drills.CmdSchedule, map[string]any{"schedule": old}, &stored)
	run, err := e.drills.RunNow(ctx, "trainer", stored.ID)
	require.NoError(t, err)
	require.Equal(t, drills.RunStarted, run.Status)
	_, _, sched := e.on(e.c.Leader(), drills.SchedulerConfig{})
	e.clock.Set(run.EndsAt)
	rep, err := sched.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, []drills.RunID{run.ID}, rep.Closed, "closed when its 30s are over")

	overdue, err := e.drills.Overdue(ctx, muster.Default, run.At.Add(24*time.Hour))
	require.NoError(t, err)
	flood := findRegion(t, overdue, "flood-control", city)
	assert.True(t, flood.Notification.Never, "a 30-second run is no drill of the city: last %s", flood.Notification.LastRun)
	assert.True(t, flood.Notification.Overdue)

	trend, err := e.drills.Trend(ctx, muster.Default, "flood-control")
	require.NoError(t, err)
	require.Len(t, trend, 1)
	assert.True(t, trend[0].CutShort, "the trend marks it cut short")
}
