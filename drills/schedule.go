package drills

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"muster/plans"
)

// Schedule is a drill that recurs (Cron in TimeZone) or happens once (At),
// with its next occurrence: Due is the nominal due time, RunAt when the run
// starts — Due itself, or for a no-notice drill a time the leader picked
// inside the window on the due day and stamped into the log. API readers
// other than admins are not shown RunAt of a no-notice schedule.
type Schedule struct {
	ID      ScheduleID         `json:"id"`
	Plan    plans.PlanID       `json:"plan"`
	Regions []plans.RegionCode `json:"regions"`
	Level   plans.LevelCode    `json:"level"`
	Type    ExerciseType       `json:"type"`
	// Title names the scenario; it is the reason of every run's activation.
	Title    string    `json:"title"`
	Cron     string    `json:"cron,omitempty"`
	TimeZone string    `json:"time_zone"`
	At       time.Time `json:"at,omitzero"` // a one-off's time
	NoNotice *Window   `json:"no_notice,omitempty"`
	// CatchUp and CatchUpWithin say what happens to due times missed while
	// the cluster was down (see CatchUpPolicy).
	CatchUp       CatchUpPolicy  `json:"catch_up"`
	CatchUpWithin plans.Duration `json:"catch_up_within,omitempty"`
	// Length is how long each run's call-up stays open before the scheduler
	// stands it down (DefaultLength when zero).
	Length plans.Duration `json:"length,omitempty"`
	// ConfirmScope confirms a scope wider than the plan expects, as an
	// activation request would (notify.ScopeGuard).
	ConfirmScope string   `json:"confirm_scope,omitempty"`
	Units        []string `json:"units,omitempty"` // participating units (参演单位)
	Paused       bool     `json:"paused,omitempty"`

	// The next occurrence; both zero when none remains (a one-off that ran).
	Due   time.Time `json:"due,omitzero"`
	RunAt time.Time `json:"run_at,omitzero"`
	// Postponed is set while the occurrence at Due waits for a live
	// emergency in its regions to end.
	Postponed *Postponement `json:"postponed,omitempty"`

	Runs      int       `json:"runs"`   // runs started
	Missed    int       `json:"missed"` // due times that passed without a run
	LastRun   RunID     `json:"last_run,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`

	// Warnings is set only in the answer to a new or changed schedule,
	// never stored: the other active schedules over the same regions whose
	// runs can be open at the same time as one of its own (see
	// overlapWarnings), a live emergency over its regions, and for a
	// change its run open now, which the change does not touch.
	Warnings []string `json:"warnings,omitempty"`
}

// sameTimes reports whether s and o come due at the same times: the same
// cron or one-off time, time zone and no-notice window.
func (s *Schedule) sameTimes(o *Schedule) bool {
	return s.Cron == o.Cron && s.At.Equal(o.At) && s.TimeZone == o.TimeZone &&
		(s.NoNotice == nil) == (o.NoNotice == nil) && (s.NoNotice == nil || *s.NoNotice == *o.NoNotice)
}

// Postponement is why and since when an occurrence has been waiting.
type Postponement struct {
	Due     time.Time          `json:"due"`
	Since   time.Time          `json:"since"`
	Regions []plans.RegionCode `json:"regions"` // the regions in live emergency (or recovery after one) that block it
	Reason  string             `json:"reason"`
	Checks  int                `json:"checks"` // times the scheduler found it blocked
	// Emergency and Recovery say what the scheduler's looks found
	// blocking it so far: a region in a live emergency (战时), a region in
	// recovery (恢复) after one (rules 13; absent before).
	Emergency bool `json:"emergency,omitempty"`
	Recovery  bool `json:"recovery,omitempty"`
}

// waitedFor is what an occurrence postponed by p waited for (Run.WaitedFor):
// "" when p recorded none (rules before 13: a live emergency).
func (p *Postponement) waitedFor() string {
	switch {
	case p == nil:
		return ""
	case p.Emergency && p.Recovery:
		return WaitedEmergencyAndRecovery
	case p.Recovery:
		return WaitedRecovery
	case p.Emergency:
		return WaitedEmergency
	}
	return ""
}

// What a run's wait was for (Run.WaitedFor).
const (
	WaitedEmergency            = "emergency"              // a live emergency (战时) over its regions
	WaitedRecovery             = "recovery"               // a region's recovery (恢复) after a live emergency
	WaitedEmergencyAndRecovery = "emergency_and_recovery" // a live emergency, then the recovery after it
)

// WaitedWhat says in words what a run's wait was for, by its WaitedFor
// ("" in runs recorded before rules 13: a live emergency).
func WaitedWhat(waitedFor string) string {
	switch waitedFor {
	case WaitedRecovery:
		return "the region's recovery after a live emergency"
	case WaitedEmergencyAndRecovery:
		return "a live emergency and the region's recovery after it"
	}
	return "a live emergency"
}

// RunLength is how long each run's call-up stays open.
func (s *Schedule) RunLength() time.Duration {
	if s.Length > 0 {
		return s.Length.Std()
	}
	return DefaultLength
}

// Location is the schedule's time zone.
func (s *Schedule) Location() (*time.Location, error) {
	return loadZone(s.TimeZone)
}

func loadZone(name string) (*time.Location, error) {
	if name == "" {
		name = DefaultTimeZone
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, invalidf("time zone %q: %v", name, err)
	}
	return loc, nil
}

// LoadZone is the time zone a new schedule is given: an IANA name such as
// Asia/Shanghai, DefaultTimeZone when name is empty. "Local" is refused:
// it is the zone of whichever node computes a due time, which the nodes
// of a cluster need not share, so the drill would move with the leader.
// Schedules stored with it still load (Location).
func LoadZone(name string) (*time.Location, error) {
	if strings.EqualFold(strings.TrimSpace(name), "Local") {
		return nil, invalidf("time zone %q: want an IANA time zone such as Asia/Shanghai (Local is each node's own zone, which a cluster's nodes need not share)", name)
	}
	return loadZone(strings.TrimSpace(name))
}

// cronFields name the five fields of a cron expression, in order, with
// the values each takes.
var cronFields = [5]struct{ name, takes string }{
	{"minute", "0–59"}, {"hour", "0–23"}, {"day-of-month", "1–31"},
	{"month", "1–12 or JAN–DEC"}, {"day-of-week", "0–6 or SUN–SAT, Sunday 0"},
}

// CronProblem says what is wrong with a cron expression ParseCron refuses,
// in words that follow the expression (or the flag that gave it): of five
// fields, the one that is wrong and what it takes; "" when ParseCron takes
// it.
func CronProblem(spec string) string {
	_, err := ParseCron(spec)
	if err == nil {
		return ""
	}
	spec = strings.TrimSpace(spec)
	// ParseCron's message names the expression first: the caller names it.
	why := strings.TrimPrefix(err.Error(), fmt.Sprintf("cron %q: ", spec))
	fields := strings.Fields(spec)
	if len(fields) != 5 || strings.HasPrefix(spec, "@") || strings.Contains(spec, "=") {
		return why
	}
	// Each field alone, the others any value: the first one the parser
	// refuses is the one that is wrong.
	for i, f := range fields {
		probe := []string{"*", "*", "*", "*", "*"}
		probe[i] = f
		if _, perr := cronParser.Parse(strings.Join(probe, " ")); perr != nil {
			return fmt.Sprintf("%s %q: %v (%s takes %s)", cronFields[i].name, f, perr, cronFields[i].name, cronFields[i].takes)
		}
	}
	return why
}

// cronParser reads the five standard fields and the @descriptors.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseCron checks a cron expression (robfig/cron/v3 standard syntax: five
// fields, or @daily, @weekly, ...). The time zone is the schedule's own;
// a CRON_TZ= or TZ= prefix is refused so there is one place to say it.
func ParseCron(spec string) (cron.Schedule, error) {
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=") {
		return nil, invalidf("cron %q: give the time zone with --tz, not in the expression", spec)
	}
	if strings.HasPrefix(spec, "@every") {
		return nil, invalidf("cron %q: @every is not a calendar schedule; use five fields such as \"0 9 * * 1\"", spec)
	}
	sc, err := cronParser.Parse(spec)
	if err != nil {
		return nil, invalidf("cron %q: %v (want five fields: minute hour day-of-month month day-of-week, e.g. \"0 9 * * 1\")", spec, err)
	}
	return sc, nil
}

// NextDue is the schedule's first nominal due time strictly after t: the
// cron's next time in the schedule's time zone, or At for a one-off not yet
// past. ok is false when none remains.
//
// A cron names wall-clock times in the time zone, and each wall-clock time
// is due at most once, across daylight-saving changes too: a time the clocks
// show twice when they go back is due at its first showing only, and a time
// the clocks skip when they go forward is due at the instant they jump (a
// daily 02:30 in America/New_York is due at 03:00 EDT on the day 02:00
// becomes 03:00, and 01:30 on the day 02:00 becomes 01:00 is due once, EDT).
func (s *Schedule) NextDue(t time.Time) (due time.Time, ok bool, err error) {
	next, err := s.dueTimes()
	if err != nil {
		return time.Time{}, false, err
	}
	due, ok = next(t)
	return due, ok, nil
}

// dueTimes is NextDue with the cron parsed and the time zone loaded once,
// for walking many due times.
func (s *Schedule) dueTimes() (func(t time.Time) (time.Time, bool), error) {
	if s.Cron == "" {
		at := s.At
		return func(t time.Time) (time.Time, bool) {
			if !at.IsZero() && at.After(t) {
				return at, true
			}
			return time.Time{}, false
		}, nil
	}
	loc, err := s.Location()
	if err != nil {
		return nil, err
	}
	sc, err := ParseCron(s.Cron)
	if err != nil {
		return nil, err
	}
	return func(t time.Time) (time.Time, bool) {
		next := cronNext(sc, t, loc)
		if next.IsZero() {
			return time.Time{}, false
		}
		return next.UTC(), true
	}, nil
}

// cronNext is sc's first time strictly after t, reading sc as wall-clock
// times in loc. The cron is evaluated on a clock without daylight saving (the
// wall reading taken as UTC), and each reading is then placed in loc by
// wallInstant: so no reading is skipped or doubled by a change of offset.
func cronNext(sc cron.Schedule, t time.Time, loc *time.Location) time.Time {
	w := wall(t.In(loc))
	// A reading placed at or before t was already due (the clocks went back
	// over it); the repeated stretch is at most a few hours of readings.
	for range 100_000 {
		if w = sc.Next(w); w.IsZero() {
			return time.Time{}
		}
		if at := wallInstant(w, loc); at.After(t) {
			return at
		}
	}
	return time.Time{}
}

// wall is t's wall-clock reading in its location, as the same reading in UTC.
func wall(t time.Time) time.Time {
	y, m, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, m, d, h, mi, s, t.Nanosecond(), time.UTC)
}

// wallInstant is the instant the clocks in loc show the reading w (given as
// that reading in UTC): the first such instant when they show it twice, and
// the instant they jump past it when they never show it.
func wallInstant(w time.Time, loc *time.Location) time.Time {
	var first, latest time.Time
	// The offsets in force a day either side cover both sides of any change
	// near w (zones change their offset at most a few times a year).
	for _, probe := range []time.Time{w.Add(-24 * time.Hour), w.Add(24 * time.Hour)} {
		_, off := probe.In(loc).Zone()
		at := w.Add(-time.Duration(off) * time.Second)
		if wall(at.In(loc)).Equal(w) && (first.IsZero() || at.Before(first)) {
			first = at
		}
		if at.After(latest) {
			latest = at
		}
	}
	if !first.IsZero() {
		return first
	}
	// In a gap: read with the earlier (smaller) offset, w lands after the
	// jump, in the zone that starts at it.
	if start, _ := latest.In(loc).ZoneBounds(); !start.IsZero() && !start.After(latest) {
		return start
	}
	return latest
}

// PickRunAt is when the occurrence due at due starts, seen at now: due for
// an announced drill; for a no-notice drill a uniformly random second inside
// the window on the due day (never before now, so a window already under
// way is picked from what is left of it). The caller is the leader, which
// stamps the pick into the command; rnd is its randomness.
func (s *Schedule) PickRunAt(due, now time.Time, rnd *rand.Rand) (time.Time, error) {
	if s.NoNotice == nil {
		return due, nil
	}
	loc, err := s.Location()
	if err != nil {
		return time.Time{}, err
	}
	lo, hi := s.NoNotice.On(due, loc)
	if now.After(lo) {
		lo = now.Truncate(time.Second)
	}
	if !hi.After(lo) {
		return lo.UTC(), nil
	}
	span := int64(hi.Sub(lo) / time.Second)
	return lo.Add(time.Duration(rnd.Int64N(span)) * time.Second).UTC(), nil
}

// spacingWalk bounds the due times checkSpacing walks: a year of them, and
// no more than this many (an hourly cron has 8,760 in a year).
const spacingWalk = 10_000

// checkSpacing refuses a recurring schedule two of whose runs can start
// closer together than a run's length (RunLength): the later would start
// while the earlier is still calling the same people up. It walks the due
// times of the year after now (at most spacingWalk of them, so daylight-
// saving changes are seen), taking for each the earliest and latest start
// (the due time, or the ends of a no-notice window that day). The refusal
// offers a shorter length only when one of at least MinHeld fits between
// every two starts of the walk. The check is the proposer's; the FSM does
// not make it.
func (s *Schedule) checkSpacing(now time.Time) error {
	if s.Cron == "" {
		return nil
	}
	loc, err := s.Location()
	if err != nil {
		return err
	}
	next, err := s.dueTimes()
	if err != nil {
		return err
	}
	length := s.RunLength()
	end := now.AddDate(1, 0, 0)
	var refused string      // why, once two starts are too close
	var least time.Duration // the shortest gap seen since
	prev, ok := next(now)
	for n := 0; ok && n < spacingWalk && !prev.After(end); n++ {
		due, more := next(prev)
		if !more {
			break
		}
		if s.NoNotice != nil && sameDay(prev, due, loc) {
			// Each due day's run starts at a time picked in the window:
			// a second due time that day has the same window.
			return invalidf("cron %q is due more than once a day (%s and %s): an unannounced drill starts at a time picked inside its window (%s) on each day it is due, so give a cron due at most once a day, such as \"0 9 * * 1\" for Mondays",
				s.Cron, prev.In(loc).Format("2006-01-02 15:04"), due.In(loc).Format("15:04"), s.NoNotice.String())
		}
		gap := earliestStart(s, due, loc).Sub(latestStart(s, prev, loc))
		if refused != "" {
			least = min(least, gap)
		} else if gap < length {
			what, fix := "two runs can start", "space the due times at least "+shortDuration(length)+" apart"
			if s.NoNotice != nil {
				what = "with the no-notice window " + s.NoNotice.String() + ", two runs can start"
				fix = "leave at least " + shortDuration(length) + " from the end of one due day's window to the start of the next"
			}
			refused = fmt.Sprintf("cron %q: %s %s apart (due %s and %s), less than a run's length of %s: a run would start while the one before is still calling the same people up; %s",
				s.Cron, what, shortDuration(max(gap, 0)), prev.In(loc).Format("2006-01-02 15:04"), due.In(loc).Format("2006-01-02 15:04 -07:00"),
				shortDuration(length), fix)
			least = gap
		}
		if refused != "" && least < MinHeld {
			return invalidf("%s", refused) // no length a schedule may have would fit
		}
		prev = due
	}
	if refused == "" {
		return nil
	}
	// A length is at least MinHeld: one from MinHeld to the shortest gap fits.
	shorter := "a length of " + shortDuration(MinHeld)
	if least > MinHeld {
		shorter = "a length from " + shortDuration(MinHeld) + " to " + shortDuration(least)
	}
	return invalidf("%s, or give %s", refused, shorter)
}

// earliestStart is the earliest a due time's run may start: the due time
// itself, or for a no-notice drill the start of its window that day.
func earliestStart(sc *Schedule, due time.Time, loc *time.Location) time.Time {
	if sc.NoNotice == nil {
		return due
	}
	start, _ := sc.NoNotice.On(due, loc)
	return start
}

// shortDuration writes d without trailing zero units: 1h, 1h30m, 45s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// sameDay reports whether a and b fall on the same calendar day in loc.
func sameDay(a, b time.Time, loc *time.Location) bool {
	ay, am, ad := a.In(loc).Date()
	by, bm, bd := b.In(loc).Date()
	return ay == by && am == bm && ad == bd
}
