package drills

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/notify"
	"muster/plans"
)

// Applier replicates a command and decodes its result into out
// (cluster.Node implements it).
type Applier interface {
	Apply(ctx context.Context, c *muster.Command, out any) error
}

// Viewer reads the state at a consistency level (cluster.Node implements it).
type Viewer interface {
	View(ctx context.Context, level muster.Consistency, fn func(tx *bolt.Tx) error) error
}

// Service schedules, runs and reads drills. It holds no state of its own
// beyond its clock and randomness, which stamp commands before they are
// proposed.
type Service struct {
	apply Applier
	view  Viewer
	clock muster.Clock

	mu  sync.Mutex
	rnd *rand.Rand

	// Rules, when set, is the state-machine behaviour the cluster applies
	// commands under now (cluster.Node's Status().Rules): what a reader is
	// told of a postponement, and a person scheduling a drill is warned
	// of, follows it (a recovery postpones a due time from rules 13). nil:
	// this muster's own (muster.Rules).
	Rules func() int
	// Simulated, when set, reports whether drills' messages go to the
	// built-in simulator, reaching no phone (an agent without an EXERCISE
	// account): the answer to a run by hand warns of it (SimulatedWarning).
	// Nil: not known.
	Simulated func() bool
}

// recoveryPostpones reports whether the cluster applies the rules under
// which a region's recovery after a live emergency postpones a due time.
func (s *Service) recoveryPostpones() bool {
	r := muster.Rules
	if s.Rules != nil {
		r = s.Rules()
	}
	return max(r, 1) >= rulesRecoveryPostpones
}

// NewService returns a Service over a replicated state. clock is the time
// every stamp is taken from (muster.SystemClock{} outside tests).
func NewService(a Applier, v Viewer, clock muster.Clock) *Service {
	var seed [16]byte
	_, _ = crand.Read(seed[:])
	return &Service{apply: a, view: v, clock: clock,
		rnd: rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))}
}

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.clock.Now() }

// pick stamps the start of the occurrence due at due, seen now.
func (s *Service) pick(sc *Schedule, due, now time.Time) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sc.PickRunAt(due, now, s.rnd)
}

// ScheduleInput asks for a drill schedule, as a person types it.
type ScheduleInput struct {
	Plan          plans.PlanID       `json:"plan_id"`
	Regions       []plans.RegionCode `json:"regions"`
	Level         string             `json:"level"`
	Type          string             `json:"type"`
	Title         string             `json:"title,omitempty"` // default: the plan's title and the type, 示例市防汛应急预案通讯演练
	Cron          string             `json:"cron,omitempty"`
	At            string             `json:"at,omitempty"` // RFC 3339, or "2006-01-02 15:04" in TimeZone
	TimeZone      string             `json:"time_zone,omitempty"`
	NoNotice      string             `json:"no_notice,omitempty"` // "09:00-17:00"
	CatchUp       string             `json:"catch_up,omitempty"`  // skip (default) or once
	CatchUpWithin string             `json:"catch_up_within,omitempty"`
	Length        string             `json:"length,omitempty"`
	ConfirmScope  string             `json:"confirm_scope,omitempty"`
	Units         []string           `json:"units,omitempty"`
}

// schedule turns the input into a Schedule with its first occurrence
// stamped at now.
func (s *Service) schedule(in ScheduleInput, now time.Time) (Schedule, error) {
	sc, err := newSchedule(in)
	if err != nil {
		return sc, err
	}
	return sc, s.firstOccurrence(&sc, now)
}

// newSchedule checks the input and turns it into a Schedule without an
// occurrence: what a person asks for, whenever they ask.
func newSchedule(in ScheduleInput) (Schedule, error) {
	sc := Schedule{Plan: plans.PlanID(strings.TrimSpace(string(in.Plan))), Title: strings.TrimSpace(in.Title),
		Cron: strings.TrimSpace(in.Cron), TimeZone: strings.TrimSpace(in.TimeZone), ConfirmScope: strings.TrimSpace(in.ConfirmScope)}
	if sc.TimeZone == "" {
		sc.TimeZone = DefaultTimeZone
	}
	loc, err := LoadZone(sc.TimeZone)
	if err != nil {
		return sc, err
	}
	if sc.Plan == "" {
		return sc, invalidf("plan: name the plan to drill")
	}
	// The title is each run's reason: the same limits as an activation's.
	if err := notify.CheckReason("title", sc.Title, "it is each run's reason, which voice call-ups read out"); err != nil {
		return sc, err
	}
	if err := notify.CheckDrillText("title", sc.Title); err != nil {
		return sc, err
	}
	if sc.Regions, err = regionCodes(in.Regions); err != nil {
		return sc, err
	}
	lvl, err := plans.ParseLevelCode(in.Level)
	if err != nil {
		return sc, err
	}
	sc.Level = lvl
	if sc.Type, err = ParseExerciseType(orDefault(in.Type, string(Notification))); err != nil {
		return sc, err
	}
	if sc.CatchUp, err = ParseCatchUp(in.CatchUp); err != nil {
		return sc, err
	}
	if in.CatchUpWithin != "" {
		d, err := time.ParseDuration(strings.TrimSpace(in.CatchUpWithin))
		if err != nil || d <= 0 {
			return sc, invalidf("catch-up window %q: want a duration such as 4h", in.CatchUpWithin)
		}
		sc.CatchUpWithin = plans.Duration(d)
	}
	if in.Length != "" {
		d, err := time.ParseDuration(strings.TrimSpace(in.Length))
		if err != nil || d <= 0 {
			return sc, invalidf("length %q: want a duration such as 1h", in.Length)
		}
		if d < MinHeld {
			return sc, shortLengthError(d)
		}
		if d > MaxLength {
			return sc, invalidf("length %s: at most %s (a drill's call-up, with its reminders and escalations, runs no longer than a day)", plans.Duration(d), plans.Duration(MaxLength))
		}
		sc.Length = plans.Duration(d)
	}
	if in.NoNotice != "" {
		w, err := ParseWindow(in.NoNotice)
		if err != nil {
			return sc, err
		}
		sc.NoNotice = &w
	}
	for _, u := range in.Units {
		if err := muster.CheckPlainText("units", u, false); err != nil {
			return sc, err
		}
		if u = strings.TrimSpace(u); u != "" {
			sc.Units = append(sc.Units, u)
		}
	}
	at := strings.TrimSpace(in.At)
	switch {
	case sc.Cron != "" && at != "":
		return sc, invalidf("schedule: give --cron or --at, not both")
	case sc.Cron == "" && at == "":
		return sc, invalidf("schedule: give --cron for a recurring drill or --at for a one-off")
	case sc.Cron != "":
		if why := CronProblem(sc.Cron); why != "" {
			return sc, invalidf("cron %q: %s", sc.Cron, why)
		}
	default:
		t, err := ParseTime(at, loc)
		if err != nil {
			return sc, err
		}
		sc.At = t.UTC()
	}
	return sc, nil
}

// firstOccurrence stamps on sc its first occurrence after now (Due, and
// RunAt picked by the service for a no-notice drill), refusing a one-off
// whose time has passed, a cron that never comes due and runs spaced
// closer than their length (checkSpacing).
func (s *Service) firstOccurrence(sc *Schedule, now time.Time) error {
	if sc.Cron == "" && !sc.At.After(now) {
		loc, err := sc.Location()
		if err != nil {
			return err
		}
		return invalidf("at %s: the time has passed (now %s)", sc.At.In(loc).Format("2006-01-02 15:04 -07:00"), now.In(loc).Format("2006-01-02 15:04 -07:00"))
	}
	due, ok, err := sc.NextDue(now)
	if err != nil {
		return err
	}
	if !ok {
		return invalidf("schedule: the cron expression %q never comes due", sc.Cron)
	}
	if err := sc.checkSpacing(now); err != nil {
		return err
	}
	if sc.NoNotice != nil {
		// The first no-notice day may already be under way: pick from what
		// is left of its window, never before now.
		if sc.RunAt, err = s.pick(sc, due, now); err != nil {
			return err
		}
	} else {
		sc.RunAt = due
	}
	sc.Due = due
	return nil
}

// ParseTime reads a time as RFC 3339, or as "2006-01-02 15:04[:05]" (also
// with a T) in loc, read as a cron time is (NextDue): a reading the clocks
// skip when they go forward is the instant they jump (2027-03-14 02:30 in
// America/New_York is 03:00 EDT, never 01:30 EST), and a reading they show
// twice is its first showing.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return wallInstant(t, loc), nil
		}
	}
	return time.Time{}, invalidf("time %q: want 2006-01-02 15:04 (in the schedule's time zone) or RFC 3339", s)
}

// Schedule creates a drill schedule. Bad input is EInvalid and names the
// field; an unknown plan is ENotFound.
func (s *Service) Schedule(ctx context.Context, actor string, in ScheduleInput) (Schedule, error) {
	if err := s.defaultTitle(ctx, &in); err != nil {
		return Schedule{}, err
	}
	now := s.clock.Now()
	sc, err := s.schedule(in, now)
	if err != nil {
		return sc, err
	}
	var warnings []string
	err = s.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		var err error
		warnings, err = scheduleWarnings(tx, &sc, now, s.recoveryPostpones())
		return err
	})
	if err != nil {
		return sc, err
	}
	var out Schedule
	err = s.propose(ctx, CmdSchedule, actor, scheduleCreate{Schedule: sc}, &out)
	out.Warnings = warnings
	return out, err
}

// defaultTitle names a drill given without a title for its plan and type
// (示例市防汛应急预案通讯演练). An unknown plan is ENotFound.
func (s *Service) defaultTitle(ctx context.Context, in *ScheduleInput) error {
	if strings.TrimSpace(in.Title) != "" || strings.TrimSpace(string(in.Plan)) == "" {
		return nil
	}
	typ, err := ParseExerciseType(orDefault(in.Type, string(Notification)))
	if err != nil {
		return err
	}
	return s.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		pv, err := plans.GetPlanVersion(tx, plans.PlanID(strings.TrimSpace(string(in.Plan))), 0)
		if err != nil {
			return err
		}
		in.Title = pv.Plan.Title + typ.ChineseName()
		return nil
	})
}

// scheduleWarnings refuses sc's regions when one lies within another it
// names, and lists what the person scheduling sc, or changing it, is
// warned of: other drills whose runs can be open when one of its starts
// (overlapWarnings), and a live emergency over its regions now (with
// recovery, the rules the cluster applies: or a recovery after one).
func scheduleWarnings(tx *bolt.Tx, sc *Schedule, now time.Time, recovery bool) ([]string, error) {
	// As for an activation: no region named with one it lies within
	// (its people are called once anyway, but every message would
	// name both).
	if r, above, ok := plans.WithinAnother(plans.NewRegionReader(tx), sc.Regions); ok {
		return nil, invalidf("regions: %s lies within %s, also named: name only %s", r, above, above)
	}
	warnings, err := overlapWarnings(tx, sc, now)
	if err != nil {
		return nil, err
	}
	// A live emergency over its regions now, or its recovery (rules 13),
	// postpones a due time that comes while it lasts.
	blocked, why, err := liveEmergency(tx, sc.Regions, recovery)
	if err == nil && len(blocked) > 0 {
		warnings = append(warnings, why+"; a due time before then is postponed, not missed")
	}
	return warnings, err
}

// Pause stops a schedule's occurrences until it is resumed. A paused
// schedule shows no postponement: resuming does not owe the occurrence.
func (s *Service) Pause(ctx context.Context, actor string, id ScheduleID) (Schedule, error) {
	var out Schedule
	err := s.propose(ctx, CmdUpdate, actor, scheduleUpdate{ID: id, Action: ActionPause}, &out)
	if out.Paused {
		out.Postponed = nil
	}
	return out, err
}

// Resume restarts a paused schedule at its next due time from now; due
// times that passed while it was paused are not run.
func (s *Service) Resume(ctx context.Context, actor string, id ScheduleID) (Schedule, error) {
	var out Schedule
	sc, err := s.Get(ctx, muster.Default, id)
	if err != nil {
		return out, err
	}
	now := s.clock.Now()
	if err := sc.checkSpacing(now); err != nil {
		return out, err // a schedule made before runs were spaced
	}
	u := scheduleUpdate{ID: id, Action: ActionResume}
	if due, ok, err := sc.NextDue(now); err != nil {
		return out, err
	} else if ok {
		if u.RunAt, err = s.pick(&sc, due, now); err != nil {
			return out, err
		}
		u.Due = due
	}
	err = s.propose(ctx, CmdUpdate, actor, u, &out)
	return out, err
}

// Delete removes a schedule; its runs and their findings stay.
func (s *Service) Delete(ctx context.Context, actor string, id ScheduleID) (Schedule, error) {
	var out Schedule
	err := s.propose(ctx, CmdUpdate, actor, scheduleUpdate{ID: id, Action: ActionDelete}, &out)
	return out, err
}

// ScheduleChange changes the fields of a drill schedule it gives (non-nil)
// and keeps the rest; each reads as in ScheduleInput. A cron replaces a
// one-off's time and a time replaces a cron (giving both is refused); an
// empty title names the drill for its plan and type again, an empty
// no_notice makes it announced, an empty length is the default, and an
// empty confirm_scope or units clears it.
type ScheduleChange struct {
	Plan          *plans.PlanID       `json:"plan_id,omitempty"`
	Regions       *[]plans.RegionCode `json:"regions,omitempty"`
	Level         *string             `json:"level,omitempty"`
	Type          *string             `json:"type,omitempty"`
	Title         *string             `json:"title,omitempty"`
	Cron          *string             `json:"cron,omitempty"`
	At            *string             `json:"at,omitempty"`
	TimeZone      *string             `json:"time_zone,omitempty"`
	NoNotice      *string             `json:"no_notice,omitempty"`
	CatchUp       *string             `json:"catch_up,omitempty"`
	CatchUpWithin *string             `json:"catch_up_within,omitempty"`
	Length        *string             `json:"length,omitempty"`
	ConfirmScope  *string             `json:"confirm_scope,omitempty"`
	Units         *[]string           `json:"units,omitempty"`
}

// onto is in with the change's fields put in.
func (ch ScheduleChange) onto(in ScheduleInput) ScheduleInput {
	set := func(to *string, v *string) {
		if v != nil {
			*to = *v
		}
	}
	if ch.Plan != nil {
		in.Plan = *ch.Plan
	}
	if ch.Regions != nil {
		in.Regions = *ch.Regions
	}
	if ch.Units != nil {
		in.Units = *ch.Units
	}
	set(&in.Level, ch.Level)
	set(&in.Type, ch.Type)
	set(&in.Title, ch.Title)
	set(&in.TimeZone, ch.TimeZone)
	set(&in.NoNotice, ch.NoNotice)
	set(&in.CatchUp, ch.CatchUp)
	set(&in.CatchUpWithin, ch.CatchUpWithin)
	set(&in.Length, ch.Length)
	set(&in.ConfirmScope, ch.ConfirmScope)
	// A cron makes a one-off recurring, and a time a recurring drill a
	// one-off; both given are both kept, and refused.
	if ch.Cron != nil {
		in.Cron = *ch.Cron
		if ch.At == nil && strings.TrimSpace(*ch.Cron) != "" {
			in.At = ""
		}
	}
	if ch.At != nil {
		in.At = *ch.At
		if ch.Cron == nil && strings.TrimSpace(*ch.At) != "" {
			in.Cron = ""
		}
	}
	return in
}

// input is what a person would type to schedule sc as it is.
func (sc *Schedule) input() ScheduleInput {
	in := ScheduleInput{Plan: sc.Plan, Regions: slices.Clone(sc.Regions), Level: string(sc.Level), Type: string(sc.Type), Title: sc.Title,
		Cron: sc.Cron, TimeZone: sc.TimeZone, CatchUp: string(sc.CatchUp), ConfirmScope: sc.ConfirmScope, Units: slices.Clone(sc.Units)}
	if !sc.At.IsZero() {
		in.At = sc.At.Format(time.RFC3339Nano)
	}
	if sc.NoNotice != nil {
		in.NoNotice = sc.NoNotice.String()
	}
	if sc.CatchUpWithin > 0 {
		in.CatchUpWithin = sc.CatchUpWithin.Std().String()
	}
	if sc.Length > 0 {
		in.Length = sc.Length.Std().String()
	}
	return in
}

// Change changes schedule id as ch says, keeping its ID, its runs and
// missed count and its findings. The result is checked as a new schedule
// is (bad input is EInvalid naming the field; an unknown schedule or plan
// is ENotFound) and answered with the same warnings. When its due times
// change (cron, at, time zone, no-notice window) its next occurrence is
// the first after now under the new ones, and an occurrence postponed (by
// a live emergency, or a region's recovery after one) is dropped; otherwise its next occurrence stays. A run
// of the schedule open now goes on as it started: the change applies from
// the next run, and the answer says so. A cluster on rules before 13
// refuses it (EConflict), and so does a schedule changed since it was read.
func (s *Service) Change(ctx context.Context, actor string, id ScheduleID, ch ScheduleChange) (Schedule, error) {
	old, err := s.Get(ctx, muster.Default, id)
	if err != nil {
		return Schedule{}, err
	}
	if ch == (ScheduleChange{}) {
		return Schedule{}, invalidf("drill %s: nothing to change: give at least one of plan_id, regions, level, type, title, cron, at, time_zone, no_notice, catch_up, catch_up_within, length, confirm_scope or units", id)
	}
	in := ch.onto(old.input())
	if err := s.defaultTitle(ctx, &in); err != nil {
		return Schedule{}, err
	}
	sc, err := newSchedule(in)
	if err != nil {
		return Schedule{}, err
	}
	sc.ID = id
	now := s.clock.Now()
	u := scheduleUpdate{ID: id, Action: ActionChange, Schedule: &sc, Seen: old.UpdatedAt}
	retimed := !sc.sameTimes(&old)
	if retimed {
		if err := s.firstOccurrence(&sc, now); err != nil {
			return Schedule{}, err
		}
		u.Due, u.RunAt = sc.Due, sc.RunAt
	} else {
		if sc.RunLength() != old.RunLength() {
			if err := sc.checkSpacing(now); err != nil {
				return Schedule{}, err
			}
		}
		sc.Due, sc.RunAt = old.Due, old.RunAt
	}
	var warnings []string
	err = s.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		var err error
		if warnings, err = scheduleWarnings(tx, &sc, now, s.recoveryPostpones()); err != nil {
			return err
		}
		open, isOpen, err := openRun(tx, id, now)
		if err != nil || !isOpen {
			return err
		}
		w := describeOpen(open) + ": it goes on as it started, and the change applies from the next run"
		if !sc.Due.IsZero() && earliestStart(&sc, sc.Due, mustZone(&sc)).Before(open.EndsAt) {
			w += fmt.Sprintf("; the next due time, %s, comes while it is open and will be recorded missed", sc.Due.In(mustZone(&sc)).Format("2006-01-02 15:04 -07:00"))
		}
		warnings = append(warnings, w)
		return nil
	})
	if err != nil {
		return Schedule{}, err
	}
	if retimed && old.Postponed != nil && !old.Paused {
		warnings = append(warnings, fmt.Sprintf("the occurrence due %s, postponed by %s since %s, is dropped with the old due times: the schedule starts again at its next due time",
			old.Postponed.Due.In(mustZone(&old)).Format("2006-01-02 15:04 -07:00"), WaitedWhat(old.Postponed.waitedFor()), old.Postponed.Since.In(mustZone(&old)).Format("2006-01-02 15:04 -07:00")))
	}
	var out Schedule
	err = s.propose(ctx, CmdUpdate, actor, u, &out)
	if out.Paused {
		out.Postponed = nil
	}
	out.Warnings = warnings
	return out, err
}

// mustZone is sc's time zone, UTC when it no longer loads.
func mustZone(sc *Schedule) *time.Location {
	loc, err := sc.Location()
	if err != nil {
		return time.UTC
	}
	return loc
}

// RunNow starts a run of schedule id now, whatever its due times. A region
// in a live emergency refuses it (EConflict), and so does a run of the
// schedule still open (see openRun), or another drill's run open over the
// same regions or regions above or below them (otherRunOpenNow), or an
// EXERCISE or TEST call-up started by hand still active over them
// (handDrillOpen): the same people would be called up twice at once. From rules 13 a region in
// recovery (恢复) after a live emergency refuses it too, as it postpones a
// due time (see RunNowWith).
func (s *Service) RunNow(ctx context.Context, actor string, id ScheduleID) (Run, error) {
	return s.RunNowWith(ctx, actor, id, RunOptions{})
}

// RunOptions are how a person asks for a run by hand.
type RunOptions struct {
	// DuringRecovery runs it although a region among, above or below its
	// regions is in recovery (恢复) after a live emergency: the trainer
	// means to drill its people then (a drill of the recovery itself,
	// say). The run records it, and the answer warns of each such region.
	DuringRecovery bool `json:"during_recovery,omitempty"`
}

// RunNowWith is RunNow as opts ask.
func (s *Service) RunNowWith(ctx context.Context, actor string, id ScheduleID, opts RunOptions) (Run, error) {
	var out FireResult
	var open Run
	var hand notify.Activation
	var isOpen, otherOpen, handOpen bool
	var warnings []string
	err := s.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		var err error
		now := s.clock.Now()
		if open, isOpen, err = openRun(tx, id, now); err != nil || isOpen {
			return err
		}
		sc, err := getSchedule(tx, id)
		if err != nil {
			return err
		}
		if open, otherOpen, err = otherRunOpenNow(tx, &sc, now); err != nil || otherOpen {
			return err
		}
		if hand, handOpen, err = handDrillOpen(tx, &sc); err != nil || handOpen {
			if handOpen {
				err = conflictf("drill %s not started: %s; stand it down first (muster stand-down %s --reason ...)", id, describeHand(hand, mustZone(&sc)), hand.ID)
			}
			return err
		}
		if warnings, err = waitingLiveWarnings(tx, id, now); err != nil || !opts.DuringRecovery {
			return err
		}
		b, err := liveBlocks(tx, sc.Regions, true)
		for _, r := range b.recovery {
			warnings = append(warnings, r+": this drill runs during its recovery (--during-recovery), calling people who may still be at work on the live emergency")
		}
		return err
	})
	if err != nil {
		return Run{}, err
	}
	if isOpen || otherOpen {
		what := describeOpen(open)
		if otherOpen {
			what = describeOther(open)
		}
		return Run{}, conflictf("drill %s not started: %s; stand it down first (muster stand-down %s --reason ...) or wait until it ends",
			id, what, open.Activation)
	}
	if err := s.Fire(ctx, actor, Fire{Schedule: id, Manual: true, DuringRecovery: opts.DuringRecovery}, &out); err != nil {
		return Run{}, s.scopeNotConfirmed(ctx, id, err)
	}
	if out.Run == nil {
		return Run{}, muster.Errorf(muster.EInternal, "drill %s: no run recorded", id)
	}
	r := *out.Run
	if r.Status == RunStarted {
		r.Warnings = warnings
		if s.Simulated != nil && s.Simulated() {
			r.Warnings = append(r.Warnings, SimulatedWarning)
		}
	}
	return r, nil
}

// waitingLiveWarnings names, for a person running schedule id by hand,
// the LIVE requests waiting for approval over its regions (or above or
// below them): the approval of one stands the drill down.
func waitingLiveWarnings(tx *bolt.Tx, id ScheduleID, now time.Time) ([]string, error) {
	sc, err := getSchedule(tx, id)
	if err != nil {
		return nil, err
	}
	waiting, err := notify.WaitingRequests(tx, now, 100)
	if err != nil {
		return nil, err
	}
	rr := plans.NewRegionReader(tx)
	var out []string
	for _, a := range waiting {
		if a.Purpose == notify.PurposeLive && regionsOverlap(rr, a.Regions, sc.Regions) {
			out = append(out, fmt.Sprintf("LIVE request %s (%s level %s over %s) waits for approval over these regions: once approved, it stands this drill down",
				a.ID, a.Plan, a.Level, plans.JoinCodes(a.Regions, ",")))
		}
	}
	return out, nil
}

// scopeNotConfirmed is err, the refusal of a run of schedule id by hand,
// told for a drill when the scope guard refused it: the regions reach
// further than the plan now expects (its scope was narrowed, or its level's
// people grew past the guard, since the drill was scheduled) and the
// schedule's confirmation does not cover them. The activation's advice, to
// add --confirm-scope, is no use here: a drill's scope is confirmed when it
// is scheduled, so the message says to schedule it again with the
// confirmation or to change the plan. Any other refusal is err as it is.
func (s *Service) scopeNotConfirmed(ctx context.Context, id ScheduleID, err error) error {
	if !muster.IsCode(err, muster.EInvalid) {
		return err
	}
	var sc Schedule
	var confirm string
	guard := false
	verr := s.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		var err error
		if sc, err = getSchedule(tx, id); err != nil {
			return err
		}
		// With the confirmation the guard asks for the run would start
		// when the guard is all that stops it.
		confirm = scopeConfirmation(sc)
		req := sc.request("")
		req.ConfirmScope = confirm
		guard = notify.CheckActivation(tx, req) == nil
		return nil
	})
	if verr != nil || !guard {
		return err
	}
	// The guard's refusal gives its reasons, then the activation's advice.
	why, _, _ := strings.Cut(err.Error(), "; if that is meant")
	made := "without --confirm-scope"
	if sc.ConfirmScope != "" {
		made = fmt.Sprintf("with --confirm-scope %s", sc.ConfirmScope)
	}
	return invalidf("drill %s not started: %s; a drill's scope is confirmed with its schedule (%s was scheduled %s; muster drill run takes none): "+
		"if that is meant, confirm it in place (muster drill update %s --confirm-scope %s: it keeps its ID, runs and findings), or change plan %s to cover its regions",
		id, why, id, made, id, confirm, sc.Plan)
}

// Fire proposes a Fire the caller stamped.
func (s *Service) Fire(ctx context.Context, actor string, f Fire, out *FireResult) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*time.Minute) // a run derives its recipients on every node
		defer cancel()
	}
	return s.propose(ctx, CmdFire, actor, f, out)
}

// Close ends run id: its activation is stood down if still running.
func (s *Service) Close(ctx context.Context, actor string, id RunID, reason string) (Run, error) {
	var out Run
	err := s.propose(ctx, CmdClose, actor, closeRun{Run: id, Reason: reason}, &out)
	return out, err
}

func (s *Service) propose(ctx context.Context, typ, actor string, payload, out any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	return s.apply.Apply(ctx, &muster.Command{Type: typ, Actor: actor, Payload: b}, out)
}

// Get reads one schedule as it stands at the service's clock: a
// postponement shows what blocks the occurrence now (see asSeen).
func (s *Service) Get(ctx context.Context, level muster.Consistency, id ScheduleID) (Schedule, error) {
	var out Schedule
	now, recovery := s.clock.Now(), s.recoveryPostpones()
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		var err error
		if out, err = getSchedule(tx, id); err != nil {
			return err
		}
		return asSeen(tx, &out, now, recovery)
	})
	return out, err
}

// Schedules lists schedules by ID, a page at a time, each as Get shows it.
func (s *Service) Schedules(ctx context.Context, level muster.Consistency, page plans.Page) (plans.List[Schedule], error) {
	out := plans.List[Schedule]{Items: []Schedule{}}
	now, recovery := s.clock.Now(), s.recoveryPostpones()
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		var err error
		if out, err = listJSON[Schedule](tx.Bucket(bSchedules), page, func(Schedule) bool { return true }); err != nil {
			return err
		}
		for i := range out.Items {
			if err := asSeen(tx, &out.Items[i], now, recovery); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// RunFilter narrows a list of runs; empty fields match everything.
type RunFilter struct {
	Schedule ScheduleID
	Plan     plans.PlanID
	Status   RunStatus
	// Activation is the EXERCISE activation a run started: the one run
	// whose call-up it is.
	Activation plans.ActivationID
}

func (f RunFilter) match(r Run) bool {
	return (f.Schedule == "" || r.Schedule == f.Schedule) && (f.Plan == "" || r.Plan == f.Plan) && (f.Status == "" || r.Status == f.Status) &&
		(f.Activation == "" || r.Activation == f.Activation)
}

// GetRun reads one run.
func (s *Service) GetRun(ctx context.Context, level muster.Consistency, id RunID) (Run, error) {
	var out Run
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		var err error
		if out, err = getRun(tx, id); err != nil {
			return err
		}
		return howEnded(tx, &out)
	})
	return out, err
}

// howEnded fills in, on r read from the store, whether a LIVE call-up
// stood its call-up down or it was retracted, and its outcome.
func howEnded(tx *bolt.Tx, r *Run) error {
	if r.Activation == "" {
		return nil
	}
	a, err := notify.GetActivation(tx, r.Activation)
	if muster.IsCode(err, muster.ENotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("drill run %s: %w", r.ID, err)
	}
	r.StoppedBy, r.Retracted, r.Simulated = a.StoppedBy, a.Retraction != nil, a.Simulated
	r.Outcome = outcome(tx, r)
	return nil
}

// Runs lists runs by ID (oldest first), a page at a time. A plan or
// schedule in the filter that does not exist is ENotFound, so a typo does
// not read as "never drilled"; a deleted schedule whose runs stay is known.
func (s *Service) Runs(ctx context.Context, level muster.Consistency, f RunFilter, page plans.Page) (plans.List[Run], error) {
	out := plans.List[Run]{Items: []Run{}}
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		if err := knownPlan(tx, f.Plan); err != nil {
			return err
		}
		if err := knownSchedule(tx, f.Schedule); err != nil {
			return err
		}
		var err error
		if out, err = listJSON[Run](tx.Bucket(bRuns), page, f.match); err != nil {
			return err
		}
		for i := range out.Items {
			if err := howEnded(tx, &out.Items[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// listJSON pages through a bucket of JSON values keyed by ID.
func listJSON[T any](b *bolt.Bucket, page plans.Page, keep func(T) bool) (plans.List[T], error) {
	out := plans.List[T]{Items: []T{}}
	if b == nil {
		return out, nil
	}
	limit := page.Limit
	if limit <= 0 {
		limit = plans.DefaultPageLimit
	}
	limit = min(limit, plans.MaxPageLimit)
	c := b.Cursor()
	k, v := c.First()
	if page.After != "" {
		k, v = c.Seek([]byte(page.After))
		if k != nil && string(k) == page.After {
			k, v = c.Next()
		}
	}
	var last []byte
	for ; k != nil; k, v = c.Next() {
		var item T
		if err := json.Unmarshal(v, &item); err != nil {
			return out, err
		}
		if !keep(item) {
			continue
		}
		if len(out.Items) == limit {
			out.Next = string(last)
			break
		}
		out.Items = append(out.Items, item)
		last = append(last[:0], k...)
	}
	return out, nil
}

// knownPlan refuses a plan, named in a filter, that does not exist
// (ENotFound); an empty one is no filter.
func knownPlan(tx *bolt.Tx, id plans.PlanID) error {
	if id == "" {
		return nil
	}
	_, err := plans.LatestPlanVersion(tx, id)
	return err
}

// knownSchedule refuses a schedule, named in a filter, that does not exist
// and has no run recorded (ENotFound): a deleted schedule's runs stay, and
// its ID still names them.
func knownSchedule(tx *bolt.Tx, id ScheduleID) error {
	if id == "" {
		return nil
	}
	_, err := getSchedule(tx, id)
	if !muster.IsCode(err, muster.ENotFound) {
		return err
	}
	errFound := errors.New("found")
	switch ferr := forEachRun(tx, func(r Run) error {
		if r.Schedule == id {
			return errFound
		}
		return nil
	}); {
	case errors.Is(ferr, errFound):
		return nil
	case ferr != nil:
		return ferr
	}
	return err
}

// knownRun refuses a run, named in a filter, that does not exist
// (ENotFound); an empty one is no filter.
func knownRun(tx *bolt.Tx, id RunID) error {
	if id == "" {
		return nil
	}
	_, err := getRun(tx, id)
	return err
}
