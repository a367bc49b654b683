package drills

import (
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster/notify"
	"muster/plans"
)

// Runs of one schedule do not overlap: they call up the same people, and
// replies go to the newest call-up, so an earlier run still open would be
// measured wrong. A run is open while its call-up is active and its length
// is not over (once it is over, the scheduler stands it down on its next
// pass). Both the service (a run by hand) and the scheduler (a due time)
// check this before they propose, on their clock; the FSM checks a run by
// hand again at its command's time (rulesManualRunOpen), so that two
// requests at once start one run.

// openRun is the run of schedule id still open at now; ok is false when
// none is. It reads the index of runs whose call-up the scheduler has yet
// to close, which holds only the runs of the last length or so.
func openRun(tx *bolt.Tx, id ScheduleID, now time.Time) (Run, bool, error) {
	b := tx.Bucket(bEnds)
	if b == nil {
		return Run{}, false, nil
	}
	c := b.Cursor()
	for k, _ := c.Seek(key8(now.Add(time.Nanosecond), "")); k != nil && len(k) > 8; k, _ = c.Next() {
		r, err := getRun(tx, RunID(k[8:]))
		if err != nil {
			return Run{}, false, err
		}
		if r.Schedule != id || r.Activation == "" {
			continue
		}
		a, err := notify.GetActivation(tx, r.Activation)
		if err != nil {
			return Run{}, false, fmt.Errorf("drill run %s: %w", r.ID, err)
		}
		if a.Status == notify.StatusActive {
			return r, true, nil
		}
	}
	return Run{}, false, nil
}

// describeOpen names an open run for a person: the run, its activation and
// when its length is over, in the run's time zone.
func describeOpen(r Run) string {
	loc, err := loadZone(r.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	return fmt.Sprintf("its run %s (activation %s) is still calling the same people up until %s",
		r.ID, r.Activation, r.EndsAt.In(loc).Format("2006-01-02 15:04 -07:00"))
}

// rulesDueTimeOverlap is the behaviour (muster.Rules) from which applying a
// scheduled fire itself keeps its run off the schedule's run before it
// (dueTimeOpen at the command's time): that run is stood down in the same
// raft entry when its length is over, or nearly over as below, and the due
// time is recorded missed when that run was open at it. Under older rules
// only the scheduler checked, before it proposed, and counted a run whose
// length ended within a tick after the due time as over: the new run
// started while that one stayed open until a later pass closed it.
const rulesDueTimeOverlap = 9

// occurrenceStart is when the occurrence a scheduled fire answers was to
// start, the time an open run is judged at (dueTimeOpen): its start as
// stamped (the due time, or the time picked in a no-notice window); for a
// postponed one, when it was first found blocked; for a catch-up of a later
// due time, now.
func occurrenceStart(s *Schedule, f Fire, now time.Time) time.Time {
	switch {
	case f.RunDue.After(f.Due):
		return now
	case s.Postponed != nil:
		return s.Postponed.Since
	}
	return s.RunAt
}

// dueTimeOpen judges s's last run against an occurrence that was to start
// at at and starts now. The run overlaps it (open is true) when it was
// still open at at, or is open now having started since; end is when it is
// or was over. A run is open until its length is over or its call-up stood
// down, whichever is first. One exception: a run that started from its own
// due time (not by hand, not after waiting out an emergency) and whose
// length ends at most Grace after at does not overlap: it ends after at
// only because its own start was stamped that little after its due time,
// the runs being a length apart. over is true when the run does not
// overlap but its call-up is still active: the caller stands it down before
// the new run starts, in the same command.
func dueTimeOpen(tx *bolt.Tx, s *Schedule, at, now time.Time) (last Run, end time.Time, open, over bool, err error) {
	if s.LastRun == "" {
		return Run{}, time.Time{}, false, false, nil
	}
	r, err := getRun(tx, s.LastRun)
	if err != nil || r.Activation == "" {
		return r, time.Time{}, false, false, err
	}
	a, err := notify.GetActivation(tx, r.Activation)
	if err != nil {
		return r, time.Time{}, false, false, fmt.Errorf("drill run %s: %w", r.ID, err)
	}
	active := a.Status == notify.StatusActive
	end = r.EndsAt
	if !active && a.StoodDownAt.Before(end) {
		end = a.StoodDownAt
	}
	switch {
	case !end.After(at):
		return r, end, false, active, nil // over before the occurrence was to start
	case !r.At.After(at) || end.After(now):
		if !r.Manual && r.Waited == 0 && !r.EndsAt.After(at.Add(Grace)) {
			return r, end, false, active, nil // a length apart, started a little late
		}
		return r, end, true, false, nil
	}
	return r, end, false, active, nil // started after at and over by now
}

// describeOpenAt names, for a person, a run that overlaps a due time (see
// dueTimeOpen) and when it called people up, in the run's time zone.
func describeOpenAt(r Run, end time.Time) string {
	loc, err := loadZone(r.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	return fmt.Sprintf("its run %s (activation %s) called the same people up from %s until %s",
		r.ID, r.Activation, r.At.In(loc).Format("2006-01-02 15:04:05"), end.In(loc).Format("2006-01-02 15:04:05 -07:00"))
}

// rulesOtherRunsOverlap is the behaviour (muster.Rules) from which applying
// a scheduled fire also keeps its run off the open runs of other schedules
// (and runs by hand) over the same regions, or regions above or below them
// (otherRunOpen at the command's time): the due time is recorded missed
// naming the open run, as for a run of its own schedule, and a run whose
// length is over, or ends at most Grace after the due time, is stood down
// in the same raft entry. An EXERCISE or TEST call-up started by hand
// that is active over them records the due time missed too
// (handDrillOpen). Under older rules only the schedule's own run
// before was looked at, and two schedules of the same district due at the
// same minute called the same people up twice at once.
const rulesOtherRunsOverlap = 13

// otherRunOpen judges the open runs of schedules other than s, over regions
// that overlap s's (the same region, or one above or below), against an
// occurrence of s that was to start at at and starts now. open is the
// first that still calls people up after at+Grace; ok is false when none
// does. over are those whose call-up is still active though their length is
// over by now or ends at most Grace after at: the caller stands them down
// before the new run starts. It reads the index of runs the scheduler has
// yet to close, which holds only the runs of the last length or so.
func otherRunOpen(tx *bolt.Tx, s *Schedule, at, now time.Time) (open Run, ok bool, over []Run, err error) {
	active, err := activeRunsOver(tx, plans.NewRegionReader(tx), s)
	if err != nil {
		return Run{}, false, nil, err
	}
	for _, r := range active {
		switch {
		case !r.EndsAt.After(now) || !r.EndsAt.After(at.Add(Grace)):
			over = append(over, r)
		case !ok:
			open, ok = r, true
		}
	}
	return open, ok, over, nil
}

// otherRunOpenNow is the first run of a schedule other than s whose
// call-up is active over regions that overlap s's and whose length is not
// over at now; ok is false when none is. A run by hand of s would call its
// people up a second time.
func otherRunOpenNow(tx *bolt.Tx, s *Schedule, now time.Time) (Run, bool, error) {
	active, err := activeRunsOver(tx, plans.NewRegionReader(tx), s)
	if err != nil {
		return Run{}, false, err
	}
	for _, r := range active {
		if r.EndsAt.After(now) {
			return r, true, nil
		}
	}
	return Run{}, false, nil
}

// activeRunsOver returns, in the order of the index of runs the scheduler
// has yet to close, the runs of schedules other than s whose call-up is
// active over regions that overlap s's.
func activeRunsOver(tx *bolt.Tx, rr *plans.RegionReader, s *Schedule) ([]Run, error) {
	b := tx.Bucket(bEnds)
	if b == nil {
		return nil, nil
	}
	var out []Run
	c := b.Cursor()
	for k, _ := c.First(); k != nil && len(k) > 8; k, _ = c.Next() {
		r, err := getRun(tx, RunID(k[8:]))
		if err != nil {
			return nil, err
		}
		if r.Schedule == s.ID || r.Activation == "" || !regionsOverlap(rr, r.Regions, s.Regions) {
			continue
		}
		a, err := notify.GetActivation(tx, r.Activation)
		if err != nil {
			return nil, fmt.Errorf("drill run %s: %w", r.ID, err)
		}
		if a.Status == notify.StatusActive {
			out = append(out, r)
		}
	}
	return out, nil
}

// regionsOverlap reports whether a region of a is one of b, or lies above
// or below one of b in the region tree: a call-up over either reaches the
// people of the smaller.
func regionsOverlap(rr *plans.RegionReader, a, b []plans.RegionCode) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y || rr.Within(x, y) || rr.Within(y, x) {
				return true
			}
		}
	}
	return false
}

// describeOther names, for a person, another drill's run that is open over
// the same regions, and until when, in the run's time zone.
func describeOther(r Run) string {
	loc, err := loadZone(r.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	of := "run by hand"
	if !r.Manual {
		of = "scheduled run"
	}
	return fmt.Sprintf("drill %s's %s %s (activation %s) is calling up %s until %s (drill runs over the same regions do not overlap)",
		r.Schedule, of, r.ID, r.Activation, plans.JoinCodes(r.Regions, ","), r.EndsAt.In(loc).Format("2006-01-02 15:04 -07:00"))
}

// overlapWarnings names, for the person scheduling sc, each other active
// schedule over regions that overlap sc's one of whose runs can be open
// while one of sc's starts, or the reverse, within the year after now: at
// its due time the later run would be recorded missed. It walks at most
// spacingWalk due times of each (a run spans from the earliest start of its
// due day to the latest plus its length, so a no-notice window is taken
// whole, and no picked time is shown). The check is the proposer's, and a
// warning, not a refusal.
func overlapWarnings(tx *bolt.Tx, sc *Schedule, now time.Time) ([]string, error) {
	loc, err := sc.Location()
	if err != nil {
		return nil, err
	}
	mine, err := runSpans(sc, now)
	if err != nil {
		return nil, err
	}
	rr := plans.NewRegionReader(tx)
	var out []string
	// A run open now (a one-off's, one run by hand, the current run of a
	// schedule next due later) is in no schedule's due times ahead.
	active, err := activeRunsOver(tx, rr, sc)
	if err != nil {
		return nil, err
	}
	for _, r := range active {
		if i := slices.IndexFunc(mine, func(a runSpan) bool { return a.from.Before(r.EndsAt) }); i >= 0 {
			out = append(out, fmt.Sprintf("%s, and this one is due %s: it would be recorded missed",
				describeOther(r), mine[i].due.In(loc).Format("2006-01-02 15:04 -07:00")))
		}
	}
	err = forEachRecord(tx, bSchedules, "drill schedule", func(o Schedule) error {
		if o.ID == sc.ID || o.Paused || o.Due.IsZero() || !regionsOverlap(rr, o.Regions, sc.Regions) {
			return nil
		}
		theirs, err := runSpans(&o, now)
		if err != nil {
			return nil // a schedule whose cron or zone no longer reads runs no more
		}
		for i, j := 0, 0; i < len(mine) && j < len(theirs); {
			a, b := mine[i], theirs[j]
			if a.from.Before(b.to) && b.from.Before(a.to) {
				out = append(out, fmt.Sprintf("drill %s (%s, over %s) can be calling the same people up when this one runs: it is due %s and this one %s; "+
					"a due time that comes while another drill's run is open over the same regions is recorded missed",
					o.ID, o.Title, plans.JoinCodes(o.Regions, ","), b.due.In(loc).Format("2006-01-02 15:04 -07:00"), a.due.In(loc).Format("2006-01-02 15:04 -07:00")))
				return nil
			}
			if a.to.Before(b.to) {
				i++
			} else {
				j++
			}
		}
		return nil
	})
	return out, err
}

// runSpan is when a run of one due time may be open: from its earliest
// start to its latest start plus its length.
type runSpan struct{ due, from, to time.Time }

// runSpans lists the spans of s's runs due in the year after now, at most
// spacingWalk of them, earliest first.
func runSpans(s *Schedule, now time.Time) ([]runSpan, error) {
	loc, err := s.Location()
	if err != nil {
		return nil, err
	}
	next, err := s.dueTimes()
	if err != nil {
		return nil, err
	}
	var out []runSpan
	end := now.AddDate(1, 0, 0)
	for due, ok := next(now); ok && !due.After(end) && len(out) < spacingWalk; due, ok = next(due) {
		out = append(out, runSpan{due: due, from: earliestStart(s, due, loc), to: latestStart(s, due, loc).Add(s.RunLength())})
	}
	return out, nil
}

// handDrillOpen is the first drill call-up started by hand (an EXERCISE or
// TEST activation, not a drill's run) still active over regions that
// overlap s's, or above or below them; ok is false when none is. A run of
// s would drill its people a second time at once, as over another drill's
// run, and the replies would answer one of the two call-ups only.
func handDrillOpen(tx *bolt.Tx, s *Schedule) (a notify.Activation, ok bool, err error) {
	open, err := notify.OpenDrills(tx, s.Regions)
	if err != nil || len(open) == 0 {
		return a, false, err
	}
	runs := map[plans.ActivationID]bool{}
	if b := tx.Bucket(bEnds); b != nil {
		c := b.Cursor()
		for k, _ := c.First(); k != nil && len(k) > 8; k, _ = c.Next() {
			r, err := getRun(tx, RunID(k[8:]))
			if err != nil {
				return a, false, err
			}
			runs[r.Activation] = true
		}
	}
	for _, o := range open {
		if !runs[o.ID] {
			return o, true, nil
		}
	}
	return a, false, nil
}

// describeHand names, for a person, a drill call-up started by hand that
// is open over a schedule's regions, and since when, in the schedule's
// time zone loc.
func describeHand(a notify.Activation, loc *time.Location) string {
	return fmt.Sprintf("%s activation %s (%s level %s: %s), started by hand by %s at %s, is still drilling %s (演练重叠: a drill run does not overlap another drill's call-up over the same regions)",
		a.Purpose, a.ID, a.Plan, a.Level, a.Reason, a.CreatedBy, a.Start().In(loc).Format("2006-01-02 15:04 -07:00"), plans.JoinCodes(a.Regions, ","))
}
