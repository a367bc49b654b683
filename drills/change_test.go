package drills_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/drills"
)

// A schedule changed in place runs its new due times under its own ID: the
// scheduler starts the first of them, the runs before stay its runs and
// the count goes on, and the old due times are gone.
func TestChangedScheduleRunsItsNewTimes(t *testing.T) {
	e := newClockedEnv(t, 1, 200, nil)
	ctx := testCtx(t)
	svc, _, sched := e.on(e.c.Leader(), drills.SchedulerConfig{})
	s, err := svc.Schedule(ctx, "trainer", weekly(district))
	require.NoError(t, err)
	reps := tickThrough(t, ctx, e, sched, s.Due, s.Due, time.Minute)
	require.Len(t, reps, 1)
	require.Len(t, reps[0].Started, 1)
	first := reps[0].Started[0]

	// Wednesdays from now on; the change is made an hour after Monday's run.
	e.clock.Set(s.Due.Add(time.Hour))
	wed := "0 9 * * 3"
	changed, err := svc.Change(ctx, "trainer", s.ID, drills.ScheduleChange{Cron: &wed})
	require.NoError(t, err)
	shanghai := mustZone(t, "Asia/Shanghai")
	wednesday := time.Date(2026, 12, 9, 9, 0, 0, 0, shanghai)
	assert.Equal(t, s.ID, changed.ID)
	assert.True(t, changed.Due.Equal(wednesday), "due %s", changed.Due.In(shanghai))
	assert.Equal(t, 1, changed.Runs)
	assert.Equal(t, first, changed.LastRun)

	var started []drills.RunID
	for _, rep := range tickThrough(t, ctx, e, sched, wednesday.Add(-time.Minute), wednesday, time.Minute) {
		started = append(started, rep.Started...)
	}
	require.Len(t, started, 1, "Wednesday's due time starts a run")
	runs := runsOf(t, ctx, svc, s.ID)
	assert.Equal(t, []time.Time{s.Due.UTC(), wednesday.UTC()}, runDues(runs), "both runs are the schedule's")
	got, err := svc.Get(ctx, muster.Default, s.ID)
	require.NoError(t, err)
	assert.Equal(t, 2, got.Runs)
	assert.Equal(t, started[0], got.LastRun)
	nextMonday := s.Due.Add(7 * 24 * time.Hour)
	for _, rep := range tickThrough(t, ctx, e, sched, nextMonday, nextMonday.Add(time.Minute), time.Minute) {
		assert.Empty(t, rep.Started, "Monday is no longer a due time")
	}
}

// interleaved applies, once, before the first change of a drill schedule
// it is asked to apply, what another person did meanwhile.
type interleaved struct {
	drills.Applier
	meanwhile func()
}

func (a *interleaved) Apply(ctx context.Context, c *muster.Command, out any) error {
	if f := a.meanwhile; f != nil && c.Type == drills.CmdUpdate && bytes.Contains(c.Payload, []byte(`"action":"change"`)) {
		a.meanwhile = nil
		f()
	}
	return a.Applier.Apply(ctx, c, out)
}

// A change made on a schedule read before another person changed it (here
// paused it) is refused, not applied over theirs; made again on the
// schedule as it is, it keeps the pause.
func TestChangeOfAScheduleChangedSinceItWasRead(t *testing.T) {
	e := newEnv(t, 1, 200)
	ctx := testCtx(t)
	s, err := e.drills.Schedule(ctx, "trainer", weekly(district))
	require.NoError(t, err)
	n := e.c.Leader().Node
	svc := drills.NewService(&interleaved{Applier: n, meanwhile: func() {
		_, err := e.drills.Pause(ctx, "另一位演练组织者", s.ID)
		require.NoError(t, err)
	}}, n, e.clock)
	title := "防汛通讯演练（改）"
	_, err = svc.Change(ctx, "trainer", s.ID, drills.ScheduleChange{Title: &title})
	require.Error(t, err)
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	assert.Contains(t, err.Error(), "by 另一位演练组织者 after it was read for this change")
	got, err := e.drills.Get(ctx, muster.Default, s.ID)
	require.NoError(t, err)
	assert.Equal(t, s.Title, got.Title)
	assert.True(t, got.Paused)

	changed, err := svc.Change(ctx, "trainer", s.ID, drills.ScheduleChange{Title: &title})
	require.NoError(t, err)
	assert.Equal(t, title, changed.Title)
	assert.True(t, changed.Paused, "a paused schedule stays paused")
}
