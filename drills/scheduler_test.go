package drills_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/drills"
	"muster/notify"
	"muster/plans"
)

// newClockedEnv is newEnv with the hand-moved clock also given to every
// node, so the leader stamps commands — a run's start and end, a
// postponement — with the time the test set, not the wall clock. leader,
// when not nil, is called on each node before it starts (to register
// leader services with the clock).
func newClockedEnv(t testing.TB, nodes, people int, leader func(n *cluster.Node, clk *clustertest.Clock)) *env {
	return newEnvWith(t, envOptions{nodes: nodes, people: people, stamp: true, leader: leader})
}

var quietLog = slog.New(slog.DiscardHandler)

// on returns the drills and notify services and a scheduler of member m,
// all on the env's clock.
func (e *env) on(m *clustertest.Member, cfg drills.SchedulerConfig) (*drills.Service, *notify.Service, *drills.Scheduler) {
	if cfg.Logger == nil {
		cfg.Logger = quietLog
	}
	svc := drills.NewService(m.Node, m.Node, e.clock)
	return svc, notify.NewService(m.Node, m.Node, senders), drills.NewScheduler(svc, m.Node, cfg)
}

// tickThrough moves the clock from from to to (both included) in steps,
// ticking at each, and returns the reports of the passes that did something.
func tickThrough(t *testing.T, ctx context.Context, e *env, s *drills.Scheduler, from, to time.Time, step time.Duration) []drills.TickReport {
	t.Helper()
	var out []drills.TickReport
	for now := from; !now.After(to); now = now.Add(step) {
		e.clock.Set(now)
		rep, err := s.Tick(ctx)
		require.NoError(t, err, "tick at %s", now)
		if !rep.Idle() {
			out = append(out, rep)
		}
	}
	return out
}

// runsOf lists every run of schedule id, oldest first.
func runsOf(t *testing.T, ctx context.Context, svc *drills.Service, id drills.ScheduleID) []drills.Run {
	t.Helper()
	var out []drills.Run
	page := plans.Page{Limit: plans.MaxPageLimit}
	for {
		l, err := svc.Runs(ctx, muster.Default, drills.RunFilter{Schedule: id}, page)
		require.NoError(t, err)
		out = append(out, l.Items...)
		if l.Next == "" {
			return out
		}
		page.After = l.Next
	}
}

func exerciseActivations(t *testing.T, ctx context.Context, svc *notify.Service) []notify.Activation {
	t.Helper()
	var out []notify.Activation
	page := plans.Page{Limit: plans.MaxPageLimit}
	for {
		l, err := svc.Activations(ctx, muster.Default, page)
		require.NoError(t, err)
		for _, a := range l.Items {
			if a.Purpose == notify.PurposeExercise {
				out = append(out, a)
			}
		}
		if l.Next == "" {
			return out
		}
		page.After = l.Next
	}
}

func runDues(runs []drills.Run) []time.Time {
	var out []time.Time
	for _, r := range runs {
		out = append(out, r.Due.UTC())
	}
	return out
}

func mustZone(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func utcTime(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestSchedulerCronAcrossDaylightSaving(t *testing.T) {
	e := newClockedEnv(t, 1, 200, nil)
	ctx := testCtx(t)
	_, _, sched := e.on(e.c.Leader(), drills.SchedulerConfig{})
	ny, berlin, shanghai := mustZone(t, "America/New_York"), mustZone(t, "Europe/Berlin"), mustZone(t, "Asia/Shanghai")
	for _, tc := range []struct {
		name     string
		cron     string
		loc      *time.Location
		from, to time.Time // local, ticking every minute
		want     []time.Time
	}{
		{
			name: "New York 02:30 across spring forward runs at the jump",
			cron: "30 2 * * *", loc: ny,
			from: time.Date(2026, 3, 7, 0, 0, 0, 0, ny), to: time.Date(2026, 3, 10, 0, 0, 0, 0, ny),
			// 2026-03-08 02:30 does not exist: 02:00 EST becomes 03:00 EDT (07:00 UTC).
			want: []time.Time{utcTime("2026-03-07 07:30"), utcTime("2026-03-08 07:00"), utcTime("2026-03-09 06:30")},
		},
		{
			name: "New York hourly across spring forward runs each reading once",
			cron: "0 * * * *", loc: ny,
			from: time.Date(2026, 3, 8, 0, 30, 0, 0, ny), to: time.Date(2026, 3, 8, 5, 0, 0, 0, ny),
			// 02:00 is skipped by the clocks and 03:00 follows at once: one run at the jump.
			want: []time.Time{utcTime("2026-03-08 06:00"), utcTime("2026-03-08 07:00"), utcTime("2026-03-08 08:00"), utcTime("2026-03-08 09:00")},
		},
		{
			name: "Berlin 02:30 across spring forward runs at the jump",
			cron: "30 2 * * *", loc: berlin,
			from: time.Date(2026, 3, 28, 0, 0, 0, 0, berlin), to: time.Date(2026, 3, 31, 0, 0, 0, 0, berlin),
			want: []time.Time{utcTime("2026-03-28 01:30"), utcTime("2026-03-29 01:00"), utcTime("2026-03-30 00:30")},
		},
		{
			name: "Berlin 02:30 across fall back runs once",
			cron: "30 2 * * *", loc: berlin,
			from: time.Date(2026, 10, 24, 0, 0, 0, 0, berlin), to: time.Date(2026, 10, 27, 0, 0, 0, 0, berlin),
			// 2026-10-25 02:30 happens at 00:30 UTC (CEST) and 01:30 UTC (CET): the first only.
			want: []time.Time{utcTime("2026-10-24 00:30"), utcTime("2026-10-25 00:30"), utcTime("2026-10-26 01:30")},
		},
		{
			name: "New York 01:30 across fall back runs once",
			cron: "30 1 * * *", loc: ny,
			from: time.Date(2026, 10, 31, 0, 0, 0, 0, ny), to: time.Date(2026, 11, 3, 0, 0, 0, 0, ny),
			// 2026-11-01 01:30 happens at 05:30 UTC (EDT) and 06:30 UTC (EST): the first only.
			want: []time.Time{utcTime("2026-10-31 05:30"), utcTime("2026-11-01 05:30"), utcTime("2026-11-02 06:30")},
		},
		{
			name: "New York hourly across fall back runs each reading once",
			cron: "0 * * * *", loc: ny,
			from: time.Date(2026, 10, 31, 23, 30, 0, 0, ny), to: time.Date(2026, 11, 1, 3, 0, 0, 0, ny),
			want: []time.Time{utcTime("2026-11-01 04:00"), utcTime("2026-11-01 05:00"), utcTime("2026-11-01 07:00"), utcTime("2026-11-01 08:00")},
		},
		{
			name: "Shanghai has no daylight saving",
			cron: "30 2 * * *", loc: shanghai,
			from: time.Date(2026, 3, 7, 0, 0, 0, 0, shanghai), to: time.Date(2026, 3, 10, 0, 0, 0, 0, shanghai),
			want: []time.Time{utcTime("2026-03-06 18:30"), utcTime("2026-03-07 18:30"), utcTime("2026-03-08 18:30")},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.clock.Set(tc.from)
			in := weekly(district)
			in.Cron, in.TimeZone = tc.cron, tc.loc.String()
			s, err := e.drills.Schedule(ctx, "trainer", in)
			require.NoError(t, err)
			assert.True(t, s.Due.Equal(tc.want[0]), "first due %s, want %s", s.Due, tc.want[0])
			tickThrough(t, ctx, e, sched, tc.from, tc.to, time.Minute)
			_, err = e.drills.Delete(ctx, "trainer", s.ID)
			require.NoError(t, err)
			// Its last run is closed before the next case sets the clock
			// back: it would be open over the same district then.
			e.clock.Set(tc.to.Add(2 * time.Hour))
			_, err = sched.Tick(ctx)
			require.NoError(t, err)

			runs := runsOf(t, ctx, e.drills, s.ID)
			assert.Equal(t, tc.want, runDues(runs), "each due time once, in UTC")
			for _, r := range runs {
				assert.Equal(t, drills.RunStarted, r.Status, "%s", r.Due)
				assert.True(t, r.At.Equal(r.Due), "run %s started at %s, due %s", r.ID, r.At, r.Due)
				assert.NotEmpty(t, r.Activation)
			}
		})
	}
}

func TestSchedulerNoNoticePicksAgreeOnEveryNode(t *testing.T) {
	e := newClockedEnv(t, 3, 200, nil)
	ctx := testCtx(t)
	shanghai := mustZone(t, "Asia/Shanghai")
	inWindow := func(at time.Time, day int) bool {
		lo := time.Date(2026, 12, day, 9, 0, 0, 0, shanghai)
		return !at.Before(lo) && at.Before(lo.Add(8*time.Hour))
	}
	// Monday 2026-12-07 08:00 in Shanghai: the window (09:00-17:00) is ahead.
	var ids []drills.ScheduleID
	first := map[time.Time]bool{}
	// Eight streets: drills over the same region would not run at once.
	for _, street := range []plans.RegionCode{"990101001", "990101002", "990101003", "990101004", "990102001", "990102002", "990102003", "990102004"} {
		in := weekly(street)
		in.NoNotice = "09:00-17:00"
		s, err := e.drills.Schedule(ctx, "trainer", in)
		require.NoError(t, err)
		assert.True(t, inWindow(s.RunAt, 7), "first pick %s is inside the window on the due day", s.RunAt.In(shanghai))
		ids = append(ids, s.ID)
		first[s.RunAt] = true
	}
	assert.Greater(t, len(first), 1, "different schedules get different picks")

	leader := e.c.Leader()
	svc, _, sched := e.on(leader, drills.SchedulerConfig{})
	picked := map[drills.ScheduleID]time.Time{}
	for _, id := range ids {
		s, err := svc.Get(ctx, muster.Default, id)
		require.NoError(t, err)
		picked[id] = s.RunAt
	}
	tickThrough(t, ctx, e, sched, time.Date(2026, 12, 7, 8, 0, 0, 0, shanghai), time.Date(2026, 12, 7, 17, 5, 0, 0, shanghai), time.Minute)

	e.c.WaitApplied(leader.Node.FSM().AppliedIndex(), 10*time.Second)
	next := map[time.Time]bool{}
	for _, id := range ids {
		runs := runsOf(t, ctx, svc, id)
		require.Len(t, runs, 1, "schedule %s ran once on its day", id)
		r := runs[0]
		assert.Equal(t, drills.RunStarted, r.Status)
		assert.True(t, r.NoNotice)
		assert.True(t, !r.At.Before(picked[id]) && r.At.Before(picked[id].Add(time.Minute)),
			"schedule %s started at %s, picked %s", id, r.At.In(shanghai), picked[id].In(shanghai))

		var seen []drills.Schedule
		for _, m := range e.c.Nodes {
			s, err := drills.NewService(m.Node, m.Node, e.clock).Get(ctx, muster.Stale, id)
			require.NoError(t, err)
			seen = append(seen, s)
		}
		for _, s := range seen[1:] {
			assert.True(t, s.RunAt.Equal(seen[0].RunAt), "%s: node pick %s, leader's %s", id, s.RunAt, seen[0].RunAt)
			assert.True(t, s.Due.Equal(seen[0].Due))
		}
		assert.True(t, inWindow(seen[0].RunAt, 14), "the scheduler's pick %s is inside the window on the next due day", seen[0].RunAt.In(shanghai))
		next[seen[0].RunAt] = true
	}
	assert.Greater(t, len(next), 1, "the scheduler's picks differ between schedules")
}

// A no-notice window is read on the clocks of its time zone, like a cron's
// due time: on the day the clocks go forward, the part of the window they
// skip is not there, and a run never starts before the window (an hour
// early, at a reading taken with the winter offset) or after it.
func TestNoNoticeWindowAcrossSpringForward(t *testing.T) {
	ny, berlin := mustZone(t, "America/New_York"), mustZone(t, "Europe/Berlin")
	for _, tc := range []struct {
		name, cron, window string
		loc                *time.Location
		day                time.Time
		lo, hi             time.Time // the window's real bounds, UTC
	}{
		{
			name: "New York 02:00-04:00 starts at the jump", cron: "0 9 * * *", window: "02:00-04:00", loc: ny,
			day: time.Date(2026, 3, 8, 0, 0, 0, 0, ny),
			// 02:00 EST becomes 03:00 EDT at 07:00 UTC; 04:00 EDT is 08:00 UTC.
			lo: utcTime("2026-03-08 07:00"), hi: utcTime("2026-03-08 08:00"),
		},
		{
			name: "Berlin 01:30-02:30 ends at the jump", cron: "0 9 * * *", window: "01:30-02:30", loc: berlin,
			day: time.Date(2026, 3, 29, 0, 0, 0, 0, berlin),
			// 01:30 CET is 00:30 UTC; 02:00 CET becomes 03:00 CEST at 01:00 UTC.
			lo: utcTime("2026-03-29 00:30"), hi: utcTime("2026-03-29 01:00"),
		},
		{
			name: "Berlin 02:30-03:30 starts at the jump", cron: "0 9 * * *", window: "02:30-03:30", loc: berlin,
			day: time.Date(2026, 3, 29, 0, 0, 0, 0, berlin),
			lo:  utcTime("2026-03-29 01:00"), hi: utcTime("2026-03-29 01:30"),
		},
		{
			name: "New York on a day without a change", cron: "0 9 * * *", window: "02:00-04:00", loc: ny,
			day: time.Date(2026, 3, 9, 0, 0, 0, 0, ny),
			lo:  utcTime("2026-03-09 06:00"), hi: utcTime("2026-03-09 08:00"),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := drills.ParseWindow(tc.window)
			require.NoError(t, err)
			s := drills.Schedule{Cron: tc.cron, TimeZone: tc.loc.String(), NoNotice: &w}
			due := time.Date(tc.day.Year(), tc.day.Month(), tc.day.Day(), 9, 0, 0, 0, tc.loc)
			lo, hi := w.On(due, tc.loc)
			assert.True(t, lo.Equal(tc.lo) && hi.Equal(tc.hi), "window %s-%s, want %s-%s", lo.UTC(), hi.UTC(), tc.lo, tc.hi)
			var early, late int
			first, last := hi, lo
			for seed := range uint64(300) {
				at, err := s.PickRunAt(due, tc.day.Add(-time.Hour), rand.New(rand.NewPCG(seed, 1)))
				require.NoError(t, err)
				if at.Before(tc.lo) {
					early++
				}
				if !at.Before(tc.hi) {
					late++
				}
				first, last = earliest(first, at), latest(last, at)
			}
			assert.Zero(t, early, "picks before the window (first %s)", first.In(tc.loc))
			assert.Zero(t, late, "picks at or after the window's end (last %s)", last.In(tc.loc))
			assert.Less(t, first.Sub(tc.lo), 5*time.Minute, "picks spread over the whole window: first %s", first.In(tc.loc))
			assert.Less(t, tc.hi.Sub(last), 5*time.Minute, "picks spread over the whole window: last %s", last.In(tc.loc))
		})
	}

	// Through the cluster: a window the clocks skip entirely runs once, at
	// the jump, and the schedule's checks see the same window.
	t.Run("a window the clocks skip runs at the jump", func(t *testing.T) {
		e := newClockedEnv(t, 1, 100, nil)
		ctx := testCtx(t)
		e.clock.Set(time.Date(2026, 3, 7, 12, 0, 0, 0, ny))
		in := weekly(district)
		in.Cron, in.TimeZone, in.NoNotice = "0 2 * * *", ny.String(), "02:00-02:59"
		s, err := e.drills.Schedule(ctx, "trainer", in)
		require.NoError(t, err)
		jump := utcTime("2026-03-08 07:00")
		assert.True(t, s.Due.Equal(jump), "due %s", s.Due.In(ny))
		assert.True(t, s.RunAt.Equal(jump), "picked %s, want the jump to 03:00 EDT", s.RunAt.In(ny))
		_, _, sched := e.on(e.c.Leader(), drills.SchedulerConfig{})
		tickThrough(t, ctx, e, sched, time.Date(2026, 3, 8, 0, 0, 0, 0, ny), time.Date(2026, 3, 8, 4, 0, 0, 0, ny), time.Minute)
		runs := runsOf(t, ctx, e.drills, s.ID)
		require.Len(t, runs, 1)
		assert.Equal(t, drills.RunStarted, runs[0].Status)
		assert.True(t, runs[0].At.Equal(jump), "started at %s", runs[0].At.In(ny))
	})
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func TestSchedulerExactlyOnceAcrossLeaderChange(t *testing.T) {
	e := newClockedEnv(t, 3, 200, nil)
	ctx := testCtx(t)
	s, err := e.drills.Schedule(ctx, "trainer", weekly(district))
	require.NoError(t, err)
	week := 7 * 24 * time.Hour

	// once checks that every due time up to due started exactly one run and
	// one EXERCISE activation.
	once := func(t *testing.T, m *clustertest.Member, due time.Time) {
		t.Helper()
		svc, nsvc, _ := e.on(m, drills.SchedulerConfig{})
		runs := runsOf(t, ctx, svc, s.ID)
		var want []time.Time
		for d := s.Due; !d.After(due); d = d.Add(week) {
			want = append(want, d.UTC())
		}
		assert.Equal(t, want, runDues(runs))
		acts := map[plans.ActivationID]bool{}
		for _, r := range runs {
			assert.Equal(t, drills.RunStarted, r.Status)
			acts[r.Activation] = true
		}
		assert.Len(t, exerciseActivations(t, ctx, nsvc), len(acts), "one EXERCISE activation per due time")
		assert.Len(t, acts, len(want))
	}
	rejoin := func(t *testing.T, m *clustertest.Member) {
		e.c.Restart(m)
		l := e.c.WaitLeader(15 * time.Second)
		e.c.WaitApplied(l.Node.FSM().AppliedIndex(), 15*time.Second)
	}

	t.Run("fire committed, then the leader is killed", func(t *testing.T) {
		e.clock.Set(s.Due)
		old := e.c.Leader()
		_, _, sched := e.on(old, drills.SchedulerConfig{})
		rep, err := sched.Tick(ctx)
		require.NoError(t, err)
		require.Len(t, rep.Started, 1)
		e.c.Kill(old)

		l := e.c.WaitLeader(15 * time.Second)
		_, _, sched = e.on(l, drills.SchedulerConfig{})
		rep, err = sched.Tick(ctx)
		require.NoError(t, err)
		assert.Empty(t, rep.Started, "the new leader finds the due time claimed")
		once(t, l, s.Due)
		rejoin(t, old)
	})

	t.Run("leader killed while its fire is in flight", func(t *testing.T) {
		due := s.Due.Add(week)
		e.clock.Set(due)
		old := e.c.Leader()
		// The old leader's scheduler proposes the fire and the leader dies
		// as it does: the fire may commit or be lost, and the scheduler
		// does not learn which.
		app := &killOnFire{n: old.Node, kill: func() { e.c.Kill(old) }}
		sched := drills.NewScheduler(drills.NewService(app, old.Node, e.clock), old.Node, drills.SchedulerConfig{Logger: quietLog})
		rep, err := sched.Tick(ctx)
		t.Logf("the killed leader's pass: started %v, err %v", rep.Started, err)
		require.True(t, app.fired, "the old leader proposed the fire")

		l := e.c.WaitLeader(15 * time.Second)
		_, _, sched = e.on(l, drills.SchedulerConfig{})
		rep2, err := sched.Tick(ctx)
		require.NoError(t, err)
		t.Logf("the new leader's pass: started %v, conflicts %d", rep2.Started, rep2.Conflicts)
		once(t, l, due)
		rejoin(t, old)
	})

	t.Run("schedulers ticking concurrently on the same state", func(t *testing.T) {
		due := s.Due.Add(2 * week)
		e.clock.Set(due)
		l := e.c.Leader()
		members := []*clustertest.Member{l, l, e.c.Followers()[0], e.c.Followers()[1]}
		reps := make([]drills.TickReport, len(members))
		errs := make([]error, len(members))
		var wg sync.WaitGroup
		for i, m := range members {
			_, _, sched := e.on(m, drills.SchedulerConfig{})
			wg.Go(func() { reps[i], errs[i] = sched.Tick(ctx) })
		}
		wg.Wait()
		started := 0
		for i := range members {
			require.NoError(t, errs[i])
			started += len(reps[i].Started)
		}
		assert.Equal(t, 1, started, "one scheduler starts the run, the others find it claimed")
		once(t, l, due)
	})
}

func TestSchedulerCatchUp(t *testing.T) {
	e := newClockedEnv(t, 1, 200, nil)
	ctx := testCtx(t)
	shanghai := mustZone(t, "Asia/Shanghai")
	monday := func(day int) time.Time { return time.Date(2026, 12, day, 9, 0, 0, 0, shanghai).UTC() }
	newSchedule := func(policy, within string) drills.Schedule {
		in := weekly(district)
		in.CatchUp, in.CatchUpWithin = policy, within
		s, err := e.drills.Schedule(ctx, "trainer", in)
		require.NoError(t, err)
		require.True(t, s.Due.Equal(monday(7)))
		return s
	}
	skip, once, tooOld := newSchedule("skip", ""), newSchedule("once", "4h"), newSchedule("once", "1h")

	// The whole cluster is down for three weeks: it comes back on Monday
	// 2026-12-28 at 12:00, three hours after the fourth due time.
	node := e.c.Leader()
	e.c.Stop(node)
	e.clock.Set(time.Date(2026, 12, 28, 12, 0, 0, 0, shanghai))
	e.c.Restart(node)
	e.c.WaitLeader(15 * time.Second)
	svc, nsvc, sched := e.on(node, drills.SchedulerConfig{})
	rep, err := sched.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, rep.Due)
	assert.Len(t, rep.Started, 1)
	assert.Len(t, rep.Missed, 4+3+4)
	passed := []time.Time{monday(7), monday(14), monday(21), monday(28)}

	for _, tc := range []struct {
		name    string
		s       drills.Schedule
		missed  []time.Time
		started []time.Time
		reason  string
	}{
		{"skip records every missed due time", skip, passed, nil, "catch-up policy skip"},
		{"once within its window runs the latest once", once, passed[:3], passed[3:], ""},
		{"once outside its window runs nothing", tooOld, passed, nil, "more than the catch-up window of 1h0m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runs := runsOf(t, ctx, svc, tc.s.ID)
			var missed, started []time.Time
			for _, r := range runs {
				switch r.Status {
				case drills.RunMissed:
					missed = append(missed, r.Due.UTC())
					assert.Contains(t, r.Error, "the cluster was down")
				case drills.RunStarted:
					started = append(started, r.Due.UTC())
					assert.NotEmpty(t, r.Activation)
				}
			}
			assert.Equal(t, tc.missed, missed)
			assert.Equal(t, tc.started, started)
			assert.Equal(t, append(append([]time.Time{}, tc.missed...), tc.started...), runDues(runs), "recorded oldest first")
			if tc.reason != "" {
				assert.Contains(t, runs[len(runs)-1].Error, tc.reason)
			}
			s, err := svc.Get(ctx, muster.Default, tc.s.ID)
			require.NoError(t, err)
			assert.True(t, s.Due.Equal(monday(28).Add(7*24*time.Hour)), "next due %s is the first in the future", s.Due)
			assert.Equal(t, len(tc.missed), s.Missed)
			assert.Equal(t, len(tc.started), s.Runs)
		})
	}
	assert.Len(t, exerciseActivations(t, ctx, nsvc), 1)
	rep, err = sched.Tick(ctx)
	require.NoError(t, err)
	assert.True(t, rep.Idle(), "nothing is left due: %+v", rep)
}

// A catch-up run starts when the cluster comes back and calls the same
// people up for its length: it is made only when the next due time cannot
// start before it is over. Otherwise the late due time is recorded missed
// and the next one runs on schedule, rather than two runs starting
// together (the next one then recorded missed for the catch-up) or one
// just after the other.
func TestSchedulerCatchUpLeavesTheNextDueTimeItsRun(t *testing.T) {
	hour, day := time.Hour, 24*time.Hour
	for _, tc := range []struct {
		name, cron, noNotice, within, length string
		back                                 time.Duration // after the first due time, when the cluster is back
		until                                time.Duration // after the first due time, the last tick
		missed, started                      []time.Duration
	}{
		{
			name: "hourly, back with the next due time on time", cron: "0 * * * *", within: "4h", length: "30m",
			back: 3*hour + time.Minute, until: 5*hour + 30*time.Minute,
			missed: []time.Duration{0, hour, 2 * hour}, started: []time.Duration{3 * hour, 4 * hour, 5 * hour},
		},
		{
			name: "hourly, a catch-up run that ends as the next starts", cron: "0 * * * *", within: "4h", length: "30m",
			back: 3*hour + 30*time.Minute, until: 5*hour + 30*time.Minute,
			missed: []time.Duration{0, hour, 2 * hour}, started: []time.Duration{3 * hour, 4 * hour, 5 * hour},
		},
		{
			name: "daily, back half an hour before the next", cron: "0 9 * * *", within: "24h",
			back: 2*day - 30*time.Minute, until: 2*day + hour,
			missed: []time.Duration{0, day}, started: []time.Duration{2 * day},
		},
		{
			name: "daily no-notice, back inside the next day's window", cron: "0 9 * * *", noNotice: "09:00-17:00", within: "48h",
			back: 2*day + 2*hour, until: 2*day + 9*hour,
			missed: []time.Duration{0, day}, started: []time.Duration{2 * day},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newClockedEnv(t, 1, 100, nil)
			ctx := testCtx(t)
			in := weekly(district)
			in.Cron, in.TimeZone, in.NoNotice, in.CatchUp, in.CatchUpWithin, in.Length = tc.cron, "UTC", tc.noNotice, "once", tc.within, tc.length
			s, err := e.drills.Schedule(ctx, "trainer", in)
			require.NoError(t, err)
			_, _, sched := e.on(e.c.Leader(), drills.SchedulerConfig{})
			// Nothing ticks while the cluster is down; it comes back at back.
			back := s.Due.Add(tc.back)
			tickThrough(t, ctx, e, sched, back, s.Due.Add(tc.until), time.Minute)

			var missed, started []time.Duration
			var prev *drills.Run
			for _, r := range runsOf(t, ctx, e.drills, s.ID) {
				switch r.Status {
				case drills.RunMissed:
					missed = append(missed, r.Due.Sub(s.Due))
					assert.Contains(t, r.Error, "the cluster was down", "%s due %s", r.ID, r.Due)
				case drills.RunStarted:
					started = append(started, r.Due.Sub(s.Due))
					if prev != nil {
						assert.GreaterOrEqual(t, r.At.Sub(prev.At), s.RunLength(), "%s started at %s, %s at %s", prev.ID, prev.At, r.ID, r.At)
					}
					assert.False(t, r.At.Before(back), "%s started at %s", r.ID, r.At)
					prev = &r
				default:
					t.Errorf("run %s due %s: %s %s", r.ID, r.Due, r.Status, r.Error)
				}
			}
			assert.Equal(t, tc.missed, missed, "missed due times, after the first")
			assert.Equal(t, tc.started, started, "started due times, after the first")
		})
	}
}

func TestSchedulerCatchUpBoundsMissedRuns(t *testing.T) {
	e := newClockedEnv(t, 1, 50, nil)
	ctx := testCtx(t)
	in := weekly(district)
	in.Cron, in.TimeZone = "0 * * * *", "UTC"
	s, err := e.drills.Schedule(ctx, "trainer", in)
	require.NoError(t, err)
	require.True(t, s.Due.Equal(start.Add(time.Hour)))

	// Down for 60 days: 1,440 hourly due times passed, the latest 30 minutes ago.
	e.clock.Set(start.Add(60*24*time.Hour + 30*time.Minute))
	_, _, sched := e.on(e.c.Leader(), drills.SchedulerConfig{})
	rep, err := sched.Tick(ctx)
	require.NoError(t, err)
	assert.Len(t, rep.Missed, drills.MaxMissedRecorded+2, "the claimed due time, the first thousand after it and the latest")
	assert.Equal(t, 1440-drills.MaxMissedRecorded-2, rep.MissedUnrecorded)
	got, err := e.drills.Get(ctx, muster.Default, s.ID)
	require.NoError(t, err)
	assert.Equal(t, 1440, got.Missed)
	assert.True(t, got.Due.Equal(start.Add(60*24*time.Hour+time.Hour)), "next due %s", got.Due)
	runs := runsOf(t, ctx, e.drills, s.ID)
	require.Len(t, runs, drills.MaxMissedRecorded+2)
	assert.Contains(t, runs[len(runs)-2].Error, "and 438 later due times")
	assert.True(t, runs[len(runs)-1].Due.Equal(start.Add(60*24*time.Hour)), "the latest is recorded last")
}

func TestSchedulerPostponesDuringLiveEmergency(t *testing.T) {
	e := newClockedEnv(t, 1, 500, nil)
	ctx := testCtx(t)
	shanghai := mustZone(t, "Asia/Shanghai")
	s, err := e.drills.Schedule(ctx, "trainer", weekly(street))
	require.NoError(t, err)
	_, _, sched := e.on(e.c.Leader(), drills.SchedulerConfig{}) // PostponeRetry 5m
	live, err := e.notify.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "IV", Purpose: "LIVE", Reason: "暴雨"})
	require.NoError(t, err)

	tick := func(at time.Time) drills.TickReport {
		t.Helper()
		e.clock.Set(at)
		rep, err := sched.Tick(ctx)
		require.NoError(t, err)
		return rep
	}
	get := func() drills.Schedule {
		t.Helper()
		got, err := e.drills.Get(ctx, muster.Default, s.ID)
		require.NoError(t, err)
		return got
	}

	// The street's district is in a live emergency at the due time.
	rep := tick(s.Due)
	assert.Equal(t, []drills.ScheduleID{s.ID}, rep.Postponed)
	assert.Empty(t, rep.Started)
	got := get()
	require.NotNil(t, got.Postponed, "the postponement is visible")
	assert.Equal(t, []plans.RegionCode{district}, got.Postponed.Regions)
	assert.Contains(t, got.Postponed.Reason, string(live.ID))
	assert.True(t, got.RunAt.Equal(s.Due.Add(drills.DefaultPostponeRetry)), "retried after PostponeRetry, at %s", got.RunAt)

	retry := drills.DefaultPostponeRetry
	assert.True(t, tick(s.Due.Add(retry-time.Second)).Idle(), "nothing to do before the retry")
	rep = tick(s.Due.Add(retry))
	assert.Equal(t, []drills.ScheduleID{s.ID}, rep.Postponed)
	got = get()
	assert.Equal(t, 2, got.Postponed.Checks)
	assert.True(t, got.RunAt.Equal(s.Due.Add(2*retry)))

	_, err = e.notify.StandDown(ctx, "commander", live.ID, "雨停")
	require.NoError(t, err)
	_, err = e.notify.EndRecovery(ctx, "commander", []plans.RegionCode{district}, "恢复正常")
	require.NoError(t, err)
	rep = tick(s.Due.Add(2 * retry))
	require.Len(t, rep.Started, 1, "it runs at the first retry after the stand-down")
	run, err := e.drills.GetRun(ctx, muster.Default, rep.Started[0])
	require.NoError(t, err)
	assert.True(t, run.Due.Equal(s.Due))
	assert.Equal(t, 2*retry, run.Waited.Std(), "the run says how long it waited")
	got = get()
	assert.Nil(t, got.Postponed)
	assert.True(t, got.Due.Equal(s.Due.Add(7*24*time.Hour)))

	// The run closes when its length (default an hour) is over.
	assert.True(t, run.EndsAt.Equal(s.Due.Add(2*retry+drills.DefaultLength)), "ends at %s", run.EndsAt)
	assert.Empty(t, tick(run.EndsAt.Add(-time.Second)).Closed)
	rep = tick(run.EndsAt)
	assert.Equal(t, []drills.RunID{run.ID}, rep.Closed)
	a, err := e.notify.Activation(ctx, muster.Default, run.Activation)
	require.NoError(t, err)
	assert.Equal(t, notify.StatusStoodDown, a.Status)
	assert.Equal(t, "演练结束", a.StandDownReason)
	assert.True(t, tick(run.EndsAt.Add(time.Minute)).Idle(), "closed once")

	// Next week the street itself is in a live emergency, and still is at
	// the week after: that occurrence is recorded missed with the reason,
	// and the schedule moves on to the next (postponed in turn).
	_, _, slow := e.on(e.c.Leader(), drills.SchedulerConfig{PostponeRetry: 48 * time.Hour})
	e.clock.Set(time.Date(2026, 12, 14, 8, 0, 0, 0, shanghai))
	live, err = e.notify.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{street}, Level: "IV", Purpose: "LIVE", Reason: "内涝"})
	require.NoError(t, err)
	due, next := got.Due, got.Due.Add(7*24*time.Hour)
	var retries []time.Time
	e.clock.Set(due)
	for range 10 {
		rep, err = slow.Tick(ctx)
		require.NoError(t, err)
		if len(rep.Missed) > 0 {
			break
		}
		require.Equal(t, []drills.ScheduleID{s.ID}, rep.Postponed)
		got = get()
		retries = append(retries, got.RunAt)
		e.clock.Set(got.RunAt)
	}
	day := 24 * time.Hour
	assert.Equal(t, []time.Time{due.Add(2 * day), due.Add(4 * day), due.Add(6 * day), next}, retries,
		"retried every PostponeRetry, the last at the next due time")
	require.Len(t, rep.Missed, 1)
	assert.Equal(t, []drills.ScheduleID{s.ID}, rep.Postponed, "the next occurrence is postponed in turn")
	missed, err := e.drills.GetRun(ctx, muster.Default, rep.Missed[0])
	require.NoError(t, err)
	assert.Equal(t, drills.RunMissed, missed.Status)
	assert.True(t, missed.Due.Equal(due))
	assert.Contains(t, missed.Error, "live emergency")
	assert.Contains(t, missed.Error, string(live.ID))
	assert.Equal(t, 7*day, missed.Waited.Std())
	got = get()
	assert.True(t, got.Due.Equal(next), "the schedule moved on")
	require.NotNil(t, got.Postponed)
	assert.True(t, got.Postponed.Due.Equal(next))
	assert.Equal(t, 1, got.Missed)
	assert.Equal(t, 1, got.Runs)
}

// A postponed schedule, read through the service (muster drill list and
// show), says what blocks it now, not what blocked it at the scheduler's
// last look: nothing once the emergency has stood down, the emergency that
// blocks it now, the next occurrence once its due time has come, and no
// postponement while paused. The metric counts the same.
func TestPostponedScheduleShowsWhatBlocksItNow(t *testing.T) {
	e := newClockedEnv(t, 1, 300, nil)
	ctx := testCtx(t)
	s, err := e.drills.Schedule(ctx, "trainer", weekly(street))
	require.NoError(t, err)
	_, _, sched := e.on(e.c.Leader(), drills.SchedulerConfig{PostponeRetry: time.Hour})
	metric := sched.Collector()
	postponedMetric := func(n int) string {
		return fmt.Sprintf(`
# HELP muster_drill_schedules_postponed Drill schedules whose occurrence is postponed by a live emergency over their regions, or (rules 13) by a region's recovery after one.
# TYPE muster_drill_schedules_postponed gauge
muster_drill_schedules_postponed %d
`, n)
	}
	shown := func() drills.Schedule {
		t.Helper()
		got, err := e.drills.Get(ctx, muster.Default, s.ID)
		require.NoError(t, err)
		list, err := e.drills.Schedules(ctx, muster.Default, plans.Page{})
		require.NoError(t, err)
		require.Len(t, list.Items, 1)
		assert.Equal(t, got, list.Items[0], "list and show agree")
		return got
	}
	live, err := e.notify.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "IV", Purpose: "LIVE", Reason: "暴雨"})
	require.NoError(t, err)
	e.clock.Set(s.Due)
	rep, err := sched.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, []drills.ScheduleID{s.ID}, rep.Postponed)
	got := shown()
	require.NotNil(t, got.Postponed)
	assert.Contains(t, got.Postponed.Reason, string(live.ID))
	assert.NoError(t, testutil.CollectAndCompare(metric, strings.NewReader(postponedMetric(1)), "muster_drill_schedules_postponed"))

	// The emergency stands down; the scheduler looks again only in an hour.
	_, err = e.notify.StandDown(ctx, "commander", live.ID, "雨停")
	require.NoError(t, err)
	_, err = e.notify.EndRecovery(ctx, "commander", []plans.RegionCode{district}, "恢复正常")
	require.NoError(t, err)
	e.clock.Set(s.Due.Add(10 * time.Minute))
	got = shown()
	assert.Nil(t, got.Postponed, "nothing blocks it any more")
	assert.True(t, got.RunAt.Equal(s.Due.Add(time.Hour)), "it starts at the scheduler's next look, %s", got.RunAt)
	assert.NoError(t, testutil.CollectAndCompare(metric, strings.NewReader(postponedMetric(0)), "muster_drill_schedules_postponed"))

	// Another emergency, over the whole city, blocks it now.
	typhoon, err := e.notify.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "LIVE", Reason: "台风"})
	require.NoError(t, err)
	got = shown()
	require.NotNil(t, got.Postponed)
	assert.Equal(t, []plans.RegionCode{city}, got.Postponed.Regions)
	assert.Contains(t, got.Postponed.Reason, string(typhoon.ID))
	assert.NotContains(t, got.Postponed.Reason, string(live.ID))
	assert.True(t, got.Postponed.Due.Equal(s.Due))

	// The next due time comes before the scheduler looks: that occurrence
	// is the one shown, postponed from its due time; the scheduler's look
	// then agrees.
	next := s.Due.Add(7 * 24 * time.Hour)
	e.clock.Set(next.Add(time.Minute))
	got = shown()
	assert.True(t, got.Due.Equal(next), "due %s", got.Due)
	require.NotNil(t, got.Postponed)
	assert.True(t, got.Postponed.Due.Equal(next))
	assert.Contains(t, got.Postponed.Reason, string(typhoon.ID))
	rep, err = sched.Tick(ctx)
	require.NoError(t, err)
	assert.Len(t, rep.Missed, 1)
	assert.Equal(t, []drills.ScheduleID{s.ID}, rep.Postponed)
	after := shown()
	assert.True(t, after.Due.Equal(got.Due))
	require.NotNil(t, after.Postponed)
	assert.True(t, after.Postponed.Due.Equal(got.Postponed.Due))
	assert.Equal(t, got.Postponed.Reason, after.Postponed.Reason)

	// Paused, it waits for nothing: resuming does not owe the occurrence.
	paused, err := e.drills.Pause(ctx, "trainer", s.ID)
	require.NoError(t, err)
	assert.Nil(t, paused.Postponed)
	got = shown()
	assert.True(t, got.Paused)
	assert.Nil(t, got.Postponed)
	assert.NoError(t, testutil.CollectAndCompare(metric, strings.NewReader(postponedMetric(0)), "muster_drill_schedules_postponed"))
}

// TestSchedulerGivesUpAOneOffDrillAfterADayPostponed: a one-off drill has
// no next due time to give up at; it waits out a live emergency for
// OneOffPostponeLimit and is then recorded missed.
func TestSchedulerGivesUpAOneOffDrillAfterADayPostponed(t *testing.T) {
	e := newClockedEnv(t, 1, 300, nil)
	ctx := testCtx(t)
	in := weekly(street)
	in.Cron, in.At = "", "2026-12-08 10:00"
	s, err := e.drills.Schedule(ctx, "trainer", in)
	require.NoError(t, err)
	_, _, sched := e.on(e.c.Leader(), drills.SchedulerConfig{PostponeRetry: 5 * time.Hour})
	live, err := e.notify.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "IV", Purpose: "LIVE", Reason: "暴雨"})
	require.NoError(t, err)

	var checks []time.Time
	var rep drills.TickReport
	e.clock.Set(s.Due)
	for range 10 {
		rep, err = sched.Tick(ctx)
		require.NoError(t, err)
		if len(rep.Missed) > 0 {
			break
		}
		require.Equal(t, []drills.ScheduleID{s.ID}, rep.Postponed)
		got, err := e.drills.Get(ctx, muster.Default, s.ID)
		require.NoError(t, err)
		checks = append(checks, got.RunAt)
		e.clock.Set(got.RunAt)
	}
	require.Len(t, rep.Missed, 1, "given up after a day")
	assert.Len(t, checks, 5, "retried every 5 h until a day had passed: %v", checks)
	assert.True(t, checks[len(checks)-1].Sub(s.Due) >= drills.OneOffPostponeLimit)
	run, err := e.drills.GetRun(ctx, muster.Default, rep.Missed[0])
	require.NoError(t, err)
	assert.Equal(t, drills.RunMissed, run.Status)
	assert.True(t, run.Due.Equal(s.Due))
	assert.Contains(t, run.Error, "the most a one-off drill waits")
	assert.Contains(t, run.Error, string(live.ID))
	assert.Equal(t, 25*time.Hour, run.Waited.Std())
	got, err := e.drills.Get(ctx, muster.Default, s.ID)
	require.NoError(t, err)
	assert.Nil(t, got.Postponed)
	assert.Equal(t, 1, got.Missed)
	e.clock.Set(got.RunAt.Add(48 * time.Hour))
	rep, err = sched.Tick(ctx)
	require.NoError(t, err)
	assert.True(t, rep.Idle(), "a one-off drill given up is over: %+v", rep)
}

func TestSchedulerRunsOnTheLeaderOnly(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	e := newClockedEnv(t, 3, 200, func(n *cluster.Node, clk *clustertest.Clock) {
		sched := drills.NewScheduler(drills.NewService(n, n, clk), n, drills.SchedulerConfig{Tick: 10 * time.Millisecond, Logger: logger.With("node", n.ID())})
		n.OnLeader(sched.Run)
	})
	ctx := testCtx(t)
	s, err := e.drills.Schedule(ctx, "trainer", weekly(district))
	require.NoError(t, err)

	waitRuns := func(m *clustertest.Member, n int) []drills.Run {
		t.Helper()
		svc, _, _ := e.on(m, drills.SchedulerConfig{})
		deadline := time.Now().Add(20 * time.Second)
		for {
			runs := runsOf(t, ctx, svc, s.ID)
			if len(runs) >= n || time.Now().After(deadline) {
				return runs
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	e.clock.Set(s.Due)
	old := e.c.Leader()
	require.Len(t, waitRuns(old, 1), 1, "the leader's scheduler starts the due run")
	e.c.Kill(old) // its scheduler stops with it

	l := e.c.WaitLeader(15 * time.Second)
	next := s.Due.Add(7 * 24 * time.Hour)
	e.clock.Set(next)
	runs := waitRuns(l, 2)
	assert.Equal(t, []time.Time{s.Due.UTC(), next.UTC()}, runDues(runs), "each due time once, across the failover")
	_, nsvc, sched := e.on(l, drills.SchedulerConfig{})
	rep, err := sched.Tick(ctx)
	require.NoError(t, err)
	assert.Empty(t, rep.Started, "nothing is left due")
	assert.Len(t, exerciseActivations(t, ctx, nsvc), 2)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "drill started") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the log line follows the apply's result
	}
	assert.Contains(t, logs.String(), "drill started")
}

func TestSchedulerCollector(t *testing.T) {
	e := newClockedEnv(t, 1, 200, nil)
	ctx := testCtx(t)
	a, err := e.drills.Schedule(ctx, "trainer", weekly(district))
	require.NoError(t, err)
	_, err = e.drills.Schedule(ctx, "trainer", weekly("990103")) // not over district: runs at the same time
	require.NoError(t, err)
	_, err = e.drills.Schedule(ctx, "trainer", weekly(other))
	require.NoError(t, err)
	_, err = e.notify.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{other}, Level: "IV", Purpose: "LIVE", Reason: "暴雨"})
	require.NoError(t, err)
	_, _, sched := e.on(e.c.Leader(), drills.SchedulerConfig{})
	c := sched.Collector()

	e.clock.Set(a.Due.Add(3 * time.Hour)) // late (catch-up skip): all three recorded missed
	_, err = sched.Tick(ctx)
	require.NoError(t, err)
	_, err = e.drills.RunNow(ctx, "trainer", a.ID)
	require.NoError(t, err)
	want := `
# HELP muster_drill_runs_ended_total Started drill runs whose call-up is over, by outcome (held, cut_short, stopped_by_live, retracted); only held ones count as drills.
# TYPE muster_drill_runs_ended_total counter
muster_drill_runs_ended_total{outcome="cut_short"} 0
muster_drill_runs_ended_total{outcome="held"} 0
muster_drill_runs_ended_total{outcome="retracted"} 0
muster_drill_runs_ended_total{outcome="stopped_by_live"} 0
# HELP muster_drill_runs_total Drill runs recorded, by status (started, missed, failed).
# TYPE muster_drill_runs_total counter
muster_drill_runs_total{status="failed"} 0
muster_drill_runs_total{status="missed"} 3
muster_drill_runs_total{status="started"} 1
# HELP muster_drill_schedules Drill schedules, paused ones included.
# TYPE muster_drill_schedules gauge
muster_drill_schedules 3
# HELP muster_drill_schedules_postponed Drill schedules whose occurrence is postponed by a live emergency over their regions, or (rules 13) by a region's recovery after one.
# TYPE muster_drill_schedules_postponed gauge
muster_drill_schedules_postponed 0
`
	// A late occurrence is skipped whatever the emergency: nothing is
	// postponed yet.
	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want)))

	e.clock.Set(a.Due.Add(7 * 24 * time.Hour)) // on time: "other" is in a live emergency
	rep, err := sched.Tick(ctx)
	require.NoError(t, err)
	assert.Len(t, rep.Started, 2)
	assert.Len(t, rep.Postponed, 1)
	// The pass closed the run by hand, an hour long: held.
	want = strings.NewReplacer(`started"} 1`, `started"} 3`, "postponed 0", "postponed 1", `held"} 0`, `held"} 1`).Replace(want)
	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want)), "counted incrementally")
}

// killOnFire applies commands through n, and kills n while it proposes
// the first drill.fire.
type killOnFire struct {
	n     *cluster.Node
	kill  func()
	fired bool
}

func (k *killOnFire) Apply(ctx context.Context, c *muster.Command, out any) error {
	if c.Type != drills.CmdFire || k.fired {
		return k.n.Apply(ctx, c, out)
	}
	k.fired = true
	errc := make(chan error, 1)
	go func() { errc <- k.n.Apply(ctx, c, out) }()
	k.kill()
	return <-errc
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of loggers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
