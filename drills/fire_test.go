package drills_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/drills"
	"muster/examples"
	"muster/notify"
	"muster/plans"
)

func weekly(regions ...plans.RegionCode) drills.ScheduleInput {
	return drills.ScheduleInput{Plan: "flood-control", Regions: regions, Level: "IV", Type: "notification",
		Title: "防汛通讯演练", Cron: "0 9 * * 1", TimeZone: "Asia/Shanghai"}
}

func TestFireClaimsEachDueTimeOnce(t *testing.T) {
	e := newEnv(t, 1, 2000)
	ctx := testCtx(t)
	s, err := e.drills.Schedule(ctx, "trainer", weekly(district))
	require.NoError(t, err)
	assert.Equal(t, drills.ScheduleID("D000001"), s.ID)
	loc, _ := time.LoadLocation("Asia/Shanghai")
	want := time.Date(2026, 12, 7, 9, 0, 0, 0, loc)
	assert.True(t, s.Due.Equal(want), "first due %s, want %s", s.Due, want)
	assert.Equal(t, s.Due, s.RunAt, "an announced drill starts at its due time")

	next, ok, err := s.NextDue(s.Due)
	require.NoError(t, err)
	require.True(t, ok)
	fire := drills.Fire{Schedule: s.ID, Due: s.Due, Next: next, NextRunAt: next}
	var res drills.FireResult
	require.NoError(t, e.drills.Fire(ctx, "scheduler", fire, &res))
	require.NotNil(t, res.Run)
	assert.Equal(t, drills.RunStarted, res.Run.Status)
	assert.Positive(t, res.Run.Participants)
	a, err := e.notify.Activation(ctx, muster.Default, res.Run.Activation)
	require.NoError(t, err)
	assert.Equal(t, notify.PurposeExercise, a.Purpose)
	assert.Equal(t, res.Run.Participants, a.Recipients)
	assert.True(t, res.Schedule.Due.Equal(next))

	// The same due time again (a new leader re-proposing it) starts nothing.
	err = e.drills.Fire(ctx, "scheduler", fire, &res)
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	runs, err := e.drills.Runs(ctx, muster.Default, drills.RunFilter{}, plans.Page{})
	require.NoError(t, err)
	assert.Len(t, runs.Items, 1)
	list, err := e.notify.Activations(ctx, muster.Default, plans.Page{})
	require.NoError(t, err)
	assert.Len(t, list.Items, 1)
}

func TestFirePostponedByLiveEmergency(t *testing.T) {
	e := newEnv(t, 1, 2000)
	ctx := testCtx(t)
	s, err := e.drills.Schedule(ctx, "trainer", weekly(street))
	require.NoError(t, err)
	live, err := e.notify.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "IV", Purpose: "LIVE", Reason: "暴雨"})
	require.NoError(t, err)

	next, _, _ := s.NextDue(s.Due)
	retry := s.Due.Add(10 * time.Minute)
	var res drills.FireResult
	require.NoError(t, e.drills.Fire(ctx, "scheduler", drills.Fire{Schedule: s.ID, Due: s.Due, Next: next, NextRunAt: next, RetryAt: retry}, &res))
	assert.Nil(t, res.Run, "nothing starts while the district is in a live emergency")
	require.NotNil(t, res.Postponed)
	assert.Equal(t, []plans.RegionCode{district}, res.Postponed.Regions)
	assert.Contains(t, res.Postponed.Reason, string(live.ID))
	assert.True(t, res.Schedule.RunAt.Equal(retry))
	assert.True(t, res.Schedule.Due.Equal(s.Due), "the occurrence is still owed")
	got, err := e.drills.Get(ctx, muster.Default, s.ID)
	require.NoError(t, err)
	require.NotNil(t, got.Postponed, "the postponement is visible")

	// By hand it is refused outright.
	_, err = e.drills.RunNow(ctx, "trainer", s.ID)
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)

	_, err = e.notify.StandDown(ctx, "commander", live.ID, "雨停")
	require.NoError(t, err)
	_, err = e.notify.EndRecovery(ctx, "commander", []plans.RegionCode{district}, "恢复正常")
	require.NoError(t, err)
	require.NoError(t, e.drills.Fire(ctx, "scheduler", drills.Fire{Schedule: s.ID, Due: s.Due, Next: next, NextRunAt: next, RetryAt: retry.Add(10 * time.Minute)}, &res))
	require.NotNil(t, res.Run)
	assert.Equal(t, drills.RunStarted, res.Run.Status)
	assert.Positive(t, res.Run.Waited.Std(), "the run says how long it waited")
	assert.Nil(t, res.Schedule.Postponed)
	m, err := e.notify.Mode(ctx, muster.Default, street)
	require.NoError(t, err)
	assert.Equal(t, plans.ModeNormal, m.Mode, "a drill holds no region: the street is back to normal with its district")
}

func TestFireRecordsARunThatCannotStart(t *testing.T) {
	e := newEnv(t, 1, 500)
	ctx := testCtx(t)
	s, err := e.drills.Schedule(ctx, "trainer", weekly(district))
	require.NoError(t, err)
	// The plan is narrowed to another district after the drill was scheduled:
	// its due time finds the scope guard wanting a confirmation it lacks.
	narrowFloodScope(ctx, t, e)
	next, _, _ := s.NextDue(s.Due)
	var res drills.FireResult
	require.NoError(t, e.drills.Fire(ctx, "scheduler", drills.Fire{Schedule: s.ID, Due: s.Due, Next: next, NextRunAt: next}, &res))
	require.NotNil(t, res.Run)
	assert.Equal(t, drills.RunFailed, res.Run.Status)
	assert.Contains(t, res.Run.Error, "scope not confirmed")
	assert.Empty(t, res.Run.Activation)
	assert.True(t, res.Schedule.Due.Equal(next), "the schedule moves on to its next due time")
	// By hand the same drill is refused with the reason, and nothing is
	// recorded.
	_, err = e.drills.RunNow(ctx, "trainer", s.ID)
	assert.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
	assert.ErrorContains(t, err, "scope not confirmed")
	runs, err := e.drills.Runs(ctx, muster.Default, drills.RunFilter{}, plans.Page{})
	require.NoError(t, err)
	assert.Len(t, runs.Items, 1, "only the failed due time")
	list, err := e.notify.Activations(ctx, muster.Default, plans.Page{})
	require.NoError(t, err)
	assert.Empty(t, list.Items, "nothing was activated")
}

// Runs of one schedule call up the same people, and replies go to the
// newest call-up: a run by hand is refused while the schedule's last run is
// still open, and a due time that comes while one is open is recorded
// missed with why rather than started over it.
func TestRunsOfAScheduleDoNotOverlap(t *testing.T) {
	e := newClockedEnv(t, 1, 500, nil)
	ctx := testCtx(t)
	s, err := e.drills.Schedule(ctx, "trainer", weekly(district))
	require.NoError(t, err)
	first, err := e.drills.RunNow(ctx, "trainer", s.ID)
	require.NoError(t, err)

	e.clock.Add(time.Second)
	_, err = e.drills.RunNow(ctx, "trainer", s.ID)
	require.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	assert.ErrorContains(t, err, string(first.ID))
	assert.ErrorContains(t, err, string(first.Activation))
	assert.ErrorContains(t, err, "muster stand-down "+string(first.Activation))
	list, err := e.notify.Activations(ctx, muster.Default, plans.Page{})
	require.NoError(t, err)
	assert.Len(t, list.Items, 1, "no second call-up of the same people")

	// Stood down, the run is over: the drill runs again.
	_, err = e.notify.StandDown(ctx, "trainer", first.Activation, "提前结束")
	require.NoError(t, err)
	e.clock.Set(s.Due.Add(-30 * time.Minute))
	second, err := e.drills.RunNow(ctx, "trainer", s.ID)
	require.NoError(t, err)

	// The due time comes while the run by hand has half an hour to go.
	_, _, sched := e.on(e.c.Leader(), drills.SchedulerConfig{})
	e.clock.Set(s.Due)
	rep, err := sched.Tick(ctx)
	require.NoError(t, err)
	assert.Empty(t, rep.Started, "nothing starts over the open run")
	require.Len(t, rep.Missed, 1)
	runs := runsOf(t, ctx, e.drills, s.ID)
	require.Len(t, runs, 3)
	missed := runs[2]
	assert.Equal(t, drills.RunMissed, missed.Status)
	assert.True(t, missed.Due.Equal(s.Due))
	assert.Contains(t, missed.Error, string(second.ID))
	assert.Contains(t, missed.Error, string(second.Activation))
	got, err := e.drills.Get(ctx, muster.Default, s.ID)
	require.NoError(t, err)
	assert.True(t, got.Due.Equal(s.Due.Add(7*24*time.Hour)), "the schedule moves on: next due %s", got.Due)

	// Once its length is over the scheduler closes the run, and the next
	// due time runs.
	e.clock.Set(second.EndsAt)
	rep, err = sched.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []drills.RunID{second.ID}, rep.Closed)
	e.clock.Set(got.Due)
	rep, err = sched.Tick(ctx)
	require.NoError(t, err)
	assert.Len(t, rep.Started, 1)
	list, err = e.notify.Activations(ctx, muster.Default, plans.Page{})
	require.NoError(t, err)
	assert.Len(t, list.Items, 3)
}

// Runs exactly a length apart each run: a run's end is stamped when its
// fire commits, a little after its due time, and the next due time must
// not take it for still open.
func TestRunsALengthApartEachRun(t *testing.T) {
	e := newClockedEnv(t, 1, 300, nil)
	ctx := testCtx(t)
	hourly := weekly(district)
	hourly.Cron = "0 * * * *"
	s, err := e.drills.Schedule(ctx, "trainer", hourly)
	require.NoError(t, err)
	_, _, sched := e.on(e.c.Leader(), drills.SchedulerConfig{})
	due := s.Due
	for i, late := range []time.Duration{3 * time.Second, time.Second, 2 * time.Second} {
		// The tick comes a little after the due time: the first run's end
		// is then a little after the second's due time.
		e.clock.Set(due.Add(late))
		rep, err := sched.Tick(ctx)
		require.NoError(t, err)
		require.Len(t, rep.Started, 1, "run %d at %s: missed %v", i+1, due, rep.Missed)
		assert.Empty(t, rep.Missed)
		due = due.Add(time.Hour)
	}
}

// A cron whose runs can start closer together than a run's length is
// refused when the drill is scheduled (and when a schedule made before is
// resumed): a new run would start every minute over the one before.
func TestScheduleRefusesRunsCloserThanTheirLength(t *testing.T) {
	e := newClockedEnv(t, 1, 50, nil)
	ctx := testCtx(t)
	for _, tc := range []struct {
		name, cron, tz, length, noNotice string
		gap                              string // in the refusal; "" when accepted
	}{
		{name: "every minute", cron: "* * * * *", gap: "1m apart"},
		{name: "every half hour", cron: "*/30 * * * *", gap: "30m apart"},
		{name: "every half hour, 30m long", cron: "*/30 * * * *", length: "30m"},
		{name: "hourly, an hour long", cron: "0 * * * *"},
		{name: "twice a morning, 2h long", cron: "0 9,10 * * *", length: "2h", gap: "1h apart"},
		{name: "weekly, 3h long", cron: "0 9 * * 1", length: "3h"},
		{name: "daily inside a day-long window", cron: "0 9 * * *", noNotice: "00:00-23:59", gap: "1m apart"},
		{name: "daily inside an office-hours window", cron: "0 9 * * *", noNotice: "09:00-17:00"},
		// 01:30 EST, then 02:30 (skipped: at the jump, 03:00 EDT), then 03:30 EDT.
		{name: "hourly at :30 across spring forward", cron: "30 * * * *", tz: "America/New_York", gap: "30m apart (due 2027-03-14 01:30 and 2027-03-14 03:00 -04:00)"},
		{name: "hourly at :30 without daylight saving", cron: "30 * * * *", tz: "UTC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := weekly(district)
			in.Cron, in.Length, in.NoNotice = tc.cron, tc.length, tc.noNotice
			if tc.tz != "" {
				in.TimeZone = tc.tz
			}
			s, err := e.drills.Schedule(ctx, "trainer", in)
			if tc.gap == "" {
				require.NoError(t, err)
				_, err = e.drills.Delete(ctx, "trainer", s.ID)
				require.NoError(t, err)
				return
			}
			require.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
			assert.ErrorContains(t, err, tc.gap)
			assert.ErrorContains(t, err, "less than a run's length of "+orDefault(tc.length, "1h"))
		})
	}

	// A schedule stored before the check (the FSM takes it) is not resumed.
	in := weekly(district)
	in.Cron = "0 9,10 * * *"
	old := drills.Schedule{Plan: in.Plan, Regions: in.Regions, Level: "IV", Type: drills.Notification, Title: in.Title,
		Cron: in.Cron, TimeZone: in.TimeZone, CatchUp: drills.CatchUpSkip, Length: plans.Duration(2 * time.Hour),
		Due: start.Add(time.Hour), RunAt: start.Add(time.Hour)}
	var stored drills.Schedule
	e.apply(t, drills.CmdSchedule, map[string]any{"schedule": old}, &stored)
	_, err := e.drills.Pause(ctx, "trainer", stored.ID)
	require.NoError(t, err)
	_, err = e.drills.Resume(ctx, "trainer", stored.ID)
	require.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
	assert.ErrorContains(t, err, "1h apart")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Two runs by hand asked for at once both pass the service's check, made
// before either is proposed; the FSM starts one and refuses the other.
// Under rules 6 both started.
func TestTwoRunsByHandAtOnceStartOne(t *testing.T) {
	for _, rules := range []int{0, 6} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			e := newEnvWith(t, envOptions{nodes: 1, people: 300, rules: rules})
			ctx := testCtx(t)
			s, err := e.drills.Schedule(ctx, "trainer", weekly(district))
			require.NoError(t, err)
			// Both requests got past the check: they propose.
			var first, second drills.FireResult
			require.NoError(t, e.drills.Fire(ctx, "trainer", drills.Fire{Schedule: s.ID, Manual: true}, &first))
			err = e.drills.Fire(ctx, "trainer", drills.Fire{Schedule: s.ID, Manual: true}, &second)
			list, lerr := e.notify.Activations(ctx, muster.Default, plans.Page{})
			require.NoError(t, lerr)
			if rules == 6 {
				require.NoError(t, err)
				assert.Len(t, list.Items, 2, "under rules 6 both started")
				return
			}
			require.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
			assert.ErrorContains(t, err, string(first.Run.ID))
			assert.Len(t, list.Items, 1, "one call-up of the same people")
		})
	}
}

// activeDrills counts the EXERCISE call-ups still active.
func activeDrills(t *testing.T, e *env) int {
	t.Helper()
	n := 0
	for _, a := range exerciseActivations(t, testCtx(t), e.notify) {
		if a.Status == notify.StatusActive {
			n++
		}
	}
	return n
}

// Two runs of one schedule are never open at once, on any pass: a run that
// started late after a postponement and is still open at the next due time
// makes that due time missed, naming it (it was started over it, and closed
// only on the pass after); a run whose length ends a few seconds after the
// next due time because its own start was a few seconds late (a day-long
// drill every day) is stood down in the same raft entry as the next starts
// (it was left open until the pass after).
func TestRunsOfAScheduleNeverOpenAtOnce(t *testing.T) {
	rig := func(t *testing.T, rules int) (*env, func(at time.Time) drills.TickReport) {
		e := newEnvWith(t, envOptions{nodes: 1, people: 300, rules: rules, stamp: true})
		_, _, sched := e.on(e.c.Leader(), drills.SchedulerConfig{}) // tick 5s, retry 1m
		return e, func(at time.Time) drills.TickReport {
			t.Helper()
			e.clock.Set(at)
			rep, err := sched.Tick(testCtx(t))
			require.NoError(t, err)
			if rules == 8 {
				return rep
			}
			assert.LessOrEqual(t, activeDrills(t, e), 1, "call-ups of the schedule open at once after the pass at %s (started %v, closed %v)", at, rep.Started, rep.Closed)
			return rep
		}
	}

	t.Run("started late after a postponement", func(t *testing.T) {
		e, tick := rig(t, 0)
		ctx := testCtx(t)
		in := weekly(street)
		in.Cron, in.Length = "*/30 * * * *", "29m"
		s, err := e.drills.Schedule(ctx, "trainer", in)
		require.NoError(t, err)
		phase := 2876 * time.Millisecond // the passes come at :02.876, :07.876, …
		live, err := e.notify.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{street}, Level: "IV", Purpose: "LIVE", Reason: "内涝"})
		require.NoError(t, err)
		rep := tick(s.Due.Add(phase))
		require.Equal(t, []drills.ScheduleID{s.ID}, rep.Postponed)
		_, err = e.notify.StandDown(ctx, "commander", live.ID, "内涝解除")
		require.NoError(t, err)
		_, err = e.notify.EndRecovery(ctx, "commander", []plans.RegionCode{street}, "恢复正常")
		require.NoError(t, err)
		// The retry a minute later starts the run, a little after a pass's
		// phase: its length of 29m ends 2.879s after the next due time.
		rep = tick(s.Due.Add(time.Minute + phase + 3*time.Millisecond))
		require.Len(t, rep.Started, 1)
		late, err := e.drills.GetRun(ctx, muster.Default, rep.Started[0])
		require.NoError(t, err)
		next := s.Due.Add(30 * time.Minute)
		require.True(t, late.EndsAt.Equal(next.Add(phase+3*time.Millisecond)), "ends at %s", late.EndsAt)

		rep = tick(next.Add(phase)) // 3ms before the late run's length is over
		assert.Empty(t, rep.Started, "nothing starts over the late run")
		require.Len(t, rep.Missed, 1, "the next due time is missed: %+v", rep)
		missed, err := e.drills.GetRun(ctx, muster.Default, rep.Missed[0])
		require.NoError(t, err)
		assert.True(t, missed.Due.Equal(next), "missed %s", missed.Due)
		assert.Contains(t, missed.Error, string(late.ID))
		assert.Contains(t, missed.Error, string(late.Activation))

		// Closed on the pass after; had it closed first in the same pass, its
		// due time would still have come while it was open.
		rep = tick(next.Add(phase + 5*time.Second))
		assert.Equal(t, []drills.RunID{late.ID}, rep.Closed)
		rep = tick(next.Add(30*time.Minute + phase))
		assert.Len(t, rep.Started, 1, "the due time after runs")
	})

	// Under rules 8 the FSM left the run before open: the pass after
	// closed it.
	for _, rules := range []int{0, 8} {
		t.Run(fmt.Sprintf("a day long, every day, rules %d", rules), func(t *testing.T) {
			e, tick := rig(t, rules)
			ctx := testCtx(t)
			in := weekly(district)
			in.Cron, in.Length = "0 9 * * *", "24h"
			e.clock.Set(time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC))
			s, err := e.drills.Schedule(ctx, "trainer", in)
			require.NoError(t, err)
			due := s.Due
			var started []drills.RunID
			for i, late := range []time.Duration{3 * time.Second, 2 * time.Second, 4 * time.Second} {
				// The pass comes a few seconds after the due time; the run
				// before ends as late after it as it started after its own.
				rep := tick(due.Add(late))
				require.Len(t, rep.Started, 1, "day %d: missed %v", i+1, rep.Missed)
				started = append(started, rep.Started[0])
				if rules == 8 && i == 1 {
					assert.Equal(t, 2, activeDrills(t, e), "under rules 8 both are open until the pass after")
				}
				due = due.Add(24 * time.Hour)
			}
			for _, id := range started[:2] {
				r, err := e.drills.GetRun(ctx, muster.Default, id)
				require.NoError(t, err)
				a, err := e.notify.Activation(ctx, muster.Default, r.Activation)
				require.NoError(t, err)
				assert.Equal(t, notify.StatusStoodDown, a.Status, "%s", id)
				assert.Equal(t, "演练结束", a.StandDownReason)
			}
		})
	}

	// A run stood down a second before its length is over, as the next
	// starts, was held, not cut short: the trend does not mark it.
	t.Run("fifteen minutes long, every fifteen minutes", func(t *testing.T) {
		e, tick := rig(t, 0)
		ctx := testCtx(t)
		in := weekly(district)
		in.Cron, in.Length = "*/15 * * * *", "15m"
		s, err := e.drills.Schedule(ctx, "trainer", in)
		require.NoError(t, err)
		require.Len(t, tick(s.Due.Add(3*time.Second)).Started, 1)
		require.Len(t, tick(s.Due.Add(15*time.Minute+2*time.Second)).Started, 1)
		trend, err := e.drills.Trend(ctx, muster.Default, "flood-control")
		require.NoError(t, err)
		require.Len(t, trend, 2)
		assert.Equal(t, 899*time.Second, trend[0].StoodDownAt.Sub(trend[0].Start))
		assert.False(t, trend[0].CutShort, "held: stood down as the next run started")
	})
}

// A fire proposed over an open run (the scheduler's read was behind, say)
// is checked again as it applies: the due time is recorded missed naming
// the open run. Under rules 8 the FSM started it over the open run.
func TestFireOverAnOpenRunIsMissed(t *testing.T) {
	for _, rules := range []int{0, 8} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			e := newEnvWith(t, envOptions{nodes: 1, people: 300, rules: rules, stamp: true})
			ctx := testCtx(t)
			s, err := e.drills.Schedule(ctx, "trainer", weekly(district))
			require.NoError(t, err)
			e.clock.Set(s.Due.Add(-10 * time.Minute))
			byHand, err := e.drills.RunNow(ctx, "trainer", s.ID)
			require.NoError(t, err)

			e.clock.Set(s.Due)
			next, _, err := s.NextDue(s.Due)
			require.NoError(t, err)
			var res drills.FireResult
			require.NoError(t, e.drills.Fire(ctx, "scheduler", drills.Fire{Schedule: s.ID, Due: s.Due, Next: next, NextRunAt: next}, &res))
			require.NotNil(t, res.Run)
			if rules == 8 {
				assert.Equal(t, drills.RunStarted, res.Run.Status, "under rules 8 it started over the open run")
				assert.Equal(t, 2, activeDrills(t, e))
				return
			}
			assert.Equal(t, drills.RunMissed, res.Run.Status)
			assert.Contains(t, res.Run.Error, string(byHand.ID))
			assert.Contains(t, res.Run.Error, string(byHand.Activation))
			assert.Contains(t, res.Run.Error, "runs of a schedule do not overlap")
			assert.Equal(t, 1, activeDrills(t, e))
			assert.True(t, res.Schedule.Due.Equal(next), "the schedule moves on")
		})
	}
}

// narrowFloodScope applies a version of the flood plan whose scope is the
// district 990102 instead of the city: drills scheduled over 990101 before
// fall outside it.
func narrowFloodScope(ctx context.Context, t *testing.T, e *env) {
	t.Helper()
	files, err := examples.Plans()
	require.NoError(t, err)
	narrowed := false
	for _, f := range files {
		if f.Name == "flood.yaml" {
			src := strings.Replace(string(f.Data), `scope: ["990100"]`, `scope: ["990102"]`, 1)
			require.NotEqual(t, string(f.Data), src)
			_, err := e.plans.ApplyPlan(ctx, "operator", f.Name, []byte(src))
			require.NoError(t, err)
			narrowed = true
		}
	}
	require.True(t, narrowed)
}
