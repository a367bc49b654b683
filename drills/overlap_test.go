package drills_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/drills"
	"muster/notify"
	"muster/plans"
)

// A due time that comes while another drill's run is open over the same
// regions, or a region above or below them, is recorded missed naming that
// run, as a due time over its own schedule's open run is: a weekly and a
// workday schedule of one district, both due Monday 09:00, do not call the
// same people up twice at once. A schedule over another district runs.
func TestADueTimeOverAnotherDrillsOpenRunIsMissed(t *testing.T) {
	e := newClockedEnv(t, 1, 400, nil)
	ctx := testCtx(t)
	week := scheduledAs(t, e, district, "", "")
	days := scheduledAs(t, e, street, "0 9 * * 1-5", "街道通讯演练")
	away := scheduledAs(t, e, other, "", "江北通讯演练")
	require.True(t, days.Due.Equal(week.Due), "both due %s and %s", week.Due, days.Due)

	e.clock.Set(week.Due.Add(-20 * time.Minute))
	byHand, err := e.drills.RunNow(ctx, "trainer", week.ID)
	require.NoError(t, err)

	_, _, sched := e.on(e.c.Leader(), drills.SchedulerConfig{})
	e.clock.Set(week.Due.Add(time.Second))
	rep, err := sched.Tick(ctx)
	require.NoError(t, err)
	require.Len(t, rep.Started, 1, "only the other district's drill starts: missed %v", rep.Missed)
	assert.Len(t, rep.Missed, 2, "the weekly one over its own run by hand, the workday one over it too")
	assert.Equal(t, 2, activeDrills(t, e), "the run by hand and the other district's")

	runs := runsOf(t, ctx, e.drills, days.ID)
	require.Len(t, runs, 1)
	assert.Equal(t, drills.RunMissed, runs[0].Status)
	assert.True(t, runs[0].Due.Equal(days.Due))
	assert.Contains(t, runs[0].Error, string(byHand.ID))
	assert.Contains(t, runs[0].Error, string(byHand.Activation))
	assert.Contains(t, runs[0].Error, string(week.ID))
	assert.Contains(t, runs[0].Error, "drill runs over the same regions do not overlap")
	got, err := e.drills.Get(ctx, muster.Default, days.ID)
	require.NoError(t, err)
	assert.True(t, got.Due.Equal(days.Due.Add(24*time.Hour)), "the schedule moves on: next due %s", got.Due)
	assert.Equal(t, 1, got.Missed)
	started := runsOf(t, ctx, e.drills, away.ID)
	require.Len(t, started, 1)
	assert.Equal(t, drills.RunStarted, started[0].Status)
}

// Two schedules over the same district due at the same minute: the
// scheduler's read before either fire found no run open, so both fires are
// proposed; the FSM starts the one applied first and records the other
// missed, naming it. Under rules 12 both started.
func TestTwoSchedulesDueAtOnceStartOne(t *testing.T) {
	for _, rules := range []int{0, 12} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			e := newEnvWith(t, envOptions{nodes: 1, people: 300, rules: rules, stamp: true})
			ctx := testCtx(t)
			a := scheduledAs(t, e, district, "", "")
			b := scheduledAs(t, e, district, "0 * * * *", "每小时通讯演练")
			require.True(t, a.Due.Equal(b.Due))
			e.clock.Set(a.Due)
			fire := func(s drills.Schedule) drills.FireResult {
				next, _, err := s.NextDue(s.Due)
				require.NoError(t, err)
				var res drills.FireResult
				require.NoError(t, e.drills.Fire(ctx, "scheduler", drills.Fire{Schedule: s.ID, Due: s.Due, Next: next, NextRunAt: next}, &res))
				require.NotNil(t, res.Run)
				return res
			}
			first, second := fire(a), fire(b)
			assert.Equal(t, drills.RunStarted, first.Run.Status)
			if rules == 12 {
				assert.Equal(t, drills.RunStarted, second.Run.Status, "under rules 12 both started")
				assert.Equal(t, 2, activeDrills(t, e))
				return
			}
			assert.Equal(t, drills.RunMissed, second.Run.Status)
			assert.Contains(t, second.Run.Error, string(first.Run.ID))
			assert.Contains(t, second.Run.Error, string(first.Run.Activation))
			assert.Equal(t, 1, activeDrills(t, e))
		})
	}
}

// Another drill's run whose length ends a few seconds after a due time
// (a daily 08:00 drill of an hour, its start stamped a little late) does not
// make the 09:00 drill of the same district missed: the 09:00 fire stands
// it down in the same raft entry as it starts, so the two are never open at
// once, and the run stood down counts as held.
func TestAnotherDrillsRunEndingAtTheDueTimeIsStoodDown(t *testing.T) {
	e := newClockedEnv(t, 1, 300, nil)
	ctx := testCtx(t)
	e.clock.Set(start.Add(-time.Hour)) // Monday 07:00
	week := scheduledAs(t, e, district, "", "")
	daily := scheduledAs(t, e, district, "0 8 * * *", "早间通讯演练")
	require.True(t, daily.Due.Before(week.Due))

	_, _, sched := e.on(e.c.Leader(), drills.SchedulerConfig{})
	e.clock.Set(daily.Due.Add(3 * time.Second))
	rep, err := sched.Tick(ctx)
	require.NoError(t, err)
	require.Len(t, rep.Started, 1)
	e.clock.Set(week.Due.Add(time.Second)) // the 08:00 run ends at 09:00:03
	rep, err = sched.Tick(ctx)
	require.NoError(t, err)
	require.Len(t, rep.Started, 1, "the 09:00 drill starts: missed %v", rep.Missed)
	assert.Empty(t, rep.Missed)
	assert.Equal(t, 1, activeDrills(t, e), "the 08:00 run was stood down as the 09:00 one started")
	trend, err := e.drills.Trend(ctx, muster.Default, "flood-control")
	require.NoError(t, err)
	require.Len(t, trend, 2)
	assert.False(t, trend[0].CutShort, "held: stood down a few seconds before its length was over")
}

// Scheduling a drill says which other active schedules over the same
// regions can have a run open when one of its own starts (or the reverse):
// it is a warning, the schedule is made. Schedules over another district,
// or whose runs never meet, are not named.
func TestScheduleWarnsOfSchedulesThatCanOverlap(t *testing.T) {
	e := newClockedEnv(t, 1, 50, nil)
	ctx := testCtx(t)
	week := scheduledAs(t, e, district, "", "")
	assert.Empty(t, week.Warnings)
	later := scheduledAs(t, e, district, "0 14 * * 1", "午后通讯演练")
	assert.Empty(t, later.Warnings, "five hours apart, an hour long: never open at once")
	away := scheduledAs(t, e, other, "", "江北通讯演练")
	assert.Empty(t, away.Warnings)

	workday := weekly(street)
	workday.Cron, workday.Title, workday.Length = "30 8 * * 1-5", "街道通讯演练", "45m"
	days, err := e.drills.Schedule(ctx, "trainer", workday)
	require.NoError(t, err, "a warning, not a refusal")
	require.Len(t, days.Warnings, 1, "%q", days.Warnings)
	assert.Contains(t, days.Warnings[0], string(week.ID))
	assert.Contains(t, days.Warnings[0], week.Due.In(mustZone(t, "Asia/Shanghai")).Format("2006-01-02 15:04"))
	stored, err := e.drills.Get(ctx, muster.Default, days.ID)
	require.NoError(t, err)
	assert.Empty(t, stored.Warnings, "warnings are not stored")
}

// A drill's regions are checked as an activation's are: one named with a
// region it lies within is refused, naming both; one named twice is kept
// once.
func TestScheduleChecksRegionsAsAnActivation(t *testing.T) {
	e := newEnv(t, 1, 50)
	ctx := testCtx(t)
	_, err := e.drills.Schedule(ctx, "trainer", weekly(district, street))
	require.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
	assert.ErrorContains(t, err, string(street)+" lies within "+string(district))
	_, aerr := e.notify.Activate(ctx, "trainer", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district, street},
		Level: "IV", Purpose: string(notify.PurposeExercise), Reason: "演练"})
	require.Error(t, aerr, "an activation is refused the same")
	assert.Equal(t, aerr.Error(), err.Error())

	s, err := e.drills.Schedule(ctx, "trainer", weekly(district, district+","+district))
	require.NoError(t, err)
	assert.Equal(t, []plans.RegionCode{district}, s.Regions)
}

// An --at wall-clock time the clocks skip is the instant they jump, as a
// cron's is; one they show twice is its first showing.
func TestAtReadsATimeTheClocksSkipAsTheJump(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	for _, tc := range []struct{ at, want string }{
		{"2027-03-14 02:30", "2027-03-14T03:00:00-04:00"}, // skipped: 02:00 EST becomes 03:00 EDT
		{"2027-03-14 03:30", "2027-03-14T03:30:00-04:00"},
		{"2027-11-07 01:30", "2027-11-07T01:30:00-04:00"}, // shown twice: the first, EDT
		{"2027-03-14T02:15", "2027-03-14T03:00:00-04:00"},
	} {
		got, err := drills.ParseTime(tc.at, ny)
		require.NoError(t, err, tc.at)
		want, err := time.Parse(time.RFC3339, tc.want)
		require.NoError(t, err)
		assert.True(t, got.Equal(want), "%s: got %s, want %s", tc.at, got.In(ny), want)
	}
	e := newEnv(t, 1, 20)
	in := weekly(district)
	in.Cron, in.At, in.TimeZone = "", "2027-03-14 02:30", "America/New_York"
	s, err := e.drills.Schedule(testCtx(t), "trainer", in)
	require.NoError(t, err)
	jump := time.Date(2027, 3, 14, 7, 0, 0, 0, time.UTC)
	assert.True(t, s.Due.Equal(jump), "due %s, want %s", s.Due.In(ny), jump.In(ny))
	cron := weekly(district)
	cron.Cron, cron.TimeZone, cron.Title = "30 2 14 3 *", "America/New_York", "夏令时"
	c, err := e.drills.Schedule(testCtx(t), "trainer", cron)
	require.NoError(t, err)
	assert.True(t, s.Due.Equal(c.Due), "--at %s and --cron %s", s.Due, c.Due)
}

// An --at time that has passed is refused naming it and now with their
// offset, as every other time is shown.
func TestAtThatHasPassedNamesTheOffset(t *testing.T) {
	e := newEnv(t, 1, 20)
	in := weekly(district)
	in.Cron, in.At = "", "2026-12-07 07:30"
	_, err := e.drills.Schedule(testCtx(t), "trainer", in)
	require.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
	now := e.clock.Now().In(mustZone(t, "Asia/Shanghai"))
	assert.ErrorContains(t, err, "at 2026-12-07 07:30 +08:00: the time has passed (now "+now.Format("2006-01-02 15:04 -07:00")+")")
}

// scheduledAs is the trainer's weekly drill schedule over region, as
// stored, with cron and title in place of weekly's unless empty.
func scheduledAs(t *testing.T, e *env, region plans.RegionCode, cron, title string) drills.Schedule {
	t.Helper()
	in := weekly(region)
	if cron != "" {
		in.Cron = cron
	}
	if title != "" {
		in.Title = title
	}
	s, err := e.drills.Schedule(testCtx(t), "trainer", in)
	require.NoError(t, err)
	return s
}

// Scheduling a drill over regions where another drill's run is open now (a
// run by hand, a one-off's, a recurring schedule's current run: in no
// schedule's due times ahead) warns that a due time of it within that run
// would be recorded missed, naming the run; one due after the run ends, or
// over another district, is not warned of.
func TestScheduleWarnsOfARunOpenNow(t *testing.T) {
	e := newClockedEnv(t, 1, 50, nil)
	ctx := testCtx(t)
	week := scheduledAs(t, e, district, "", "")
	e.clock.Set(week.Due.Add(-20 * time.Minute))
	byHand, err := e.drills.RunNow(ctx, "trainer", week.ID)
	require.NoError(t, err)
	shanghai := mustZone(t, "Asia/Shanghai")
	at := func(d time.Duration) string { return e.clock.Now().Add(d).In(shanghai).Format("2006-01-02 15:04") }

	oneOff := func(region plans.RegionCode, when, title string) drills.Schedule {
		in := weekly(region)
		in.Cron, in.At, in.Title, in.Length = "", when, title, "15m"
		s, err := e.drills.Schedule(ctx, "trainer", in)
		require.NoError(t, err, "a warning, not a refusal")
		return s
	}
	cityWide := oneOff(city, at(3*time.Minute), "全市演练")
	require.Len(t, cityWide.Warnings, 1, "%q", cityWide.Warnings)
	assert.Contains(t, cityWide.Warnings[0], string(byHand.ID))
	assert.Contains(t, cityWide.Warnings[0], string(byHand.Activation))
	assert.Contains(t, cityWide.Warnings[0], "would be recorded missed")
	assert.Contains(t, cityWide.Warnings[0], at(3*time.Minute))

	away := oneOff(other, at(3*time.Minute), "江北演练")
	assert.NotContains(t, strings.Join(away.Warnings, "\n"), string(byHand.ID), "another district (the city-wide one-off is warned of)")
	assert.Empty(t, oneOff(street, byHand.EndsAt.Add(time.Hour).In(shanghai).Format("2006-01-02 15:04"), "街道演练").Warnings, "due after the run ends")
}

// A drill run by hand while a LIVE request over its regions (or above or
// below them) waits for approval starts, and its answer says that the
// approval stands it down; a request over another district is not named.
func TestARunByHandNamesALiveRequestWaitingOverItsRegions(t *testing.T) {
	e := newEnv(t, 1, 300)
	ctx := testCtx(t)
	live := func(region plans.RegionCode) notify.Activation {
		a, err := e.notify.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{region},
			Level: "I", Purpose: string(notify.PurposeLive), Reason: "特大暴雨"})
		require.NoError(t, err)
		require.Equal(t, notify.StatusPendingApproval, a.Status)
		return a
	}
	waiting, elsewhere := live(city), live(other)
	s := scheduledAs(t, e, street, "", "")
	r, err := e.drills.RunNow(ctx, "trainer", s.ID)
	require.NoError(t, err)
	require.Equal(t, drills.RunStarted, r.Status, "a warning, not a refusal")
	require.Len(t, r.Warnings, 1, "%q", r.Warnings)
	assert.Contains(t, r.Warnings[0], "LIVE request "+string(waiting.ID))
	assert.Contains(t, r.Warnings[0], "once approved, it stands this drill down")
	assert.NotContains(t, strings.Join(r.Warnings, "\n"), string(elsewhere.ID))
	got, err := e.drills.GetRun(ctx, muster.Default, r.ID)
	require.NoError(t, err)
	assert.Empty(t, got.Warnings, "warnings are not stored")
}

// Scheduling a drill over regions in a live emergency (战时) now says that a
// due time while it lasts is postponed; over another district it says
// nothing of it.
func TestScheduleWarnsOfALiveEmergencyOverItsRegions(t *testing.T) {
	e := newEnv(t, 1, 300)
	ctx := testCtx(t)
	live, err := e.notify.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district},
		Level: "IV", Purpose: string(notify.PurposeLive), Reason: "暴雨"})
	require.NoError(t, err)
	require.Equal(t, notify.StatusActive, live.Status)
	s := scheduledAs(t, e, street, "", "")
	require.Len(t, s.Warnings, 1, "%q", s.Warnings)
	assert.Contains(t, s.Warnings[0], "is in emergency (战时, level IV, "+string(live.ID)+")")
	assert.Contains(t, s.Warnings[0], "postponed, not missed")
	assert.Empty(t, scheduledAs(t, e, other, "", "江北通讯演练").Warnings)
}
