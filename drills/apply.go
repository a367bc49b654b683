package drills

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/notify"
	"muster/plans"
)

// Command types owned by drills.
const (
	CmdSchedule = "drill.schedule" // create a schedule with its first occurrence stamped
	CmdUpdate   = "drill.update"   // pause, resume, delete or change a schedule
	CmdFire     = "drill.fire"     // claim a due time and start its run (or postpone, or record it missed)
	CmdClose    = "drill.close"    // a run's length is over: stand its activation down
)

// Buckets of the state file owned by drills.
var (
	bSchedules = []byte("drill_schedules") // schedule ID → Schedule (JSON)
	bDue       = []byte("drill_due")       // 8-byte RunAt unix nanos + schedule ID → nothing, for unpaused schedules
	bRuns      = []byte("drill_runs")      // run ID → Run (JSON)
	bEnds      = []byte("drill_ends")      // 8-byte EndsAt unix nanos + run ID → nothing, while its call-up is open
)

// Registrar is where drills registers its apply functions (cluster.Node).
type Registrar interface {
	Handle(cmdType string, fn muster.ApplyFunc)
}

// Register installs every drills command in the FSM.
func Register(r Registrar) {
	r.Handle(CmdSchedule, applySchedule)
	r.Handle(CmdUpdate, applyUpdate)
	r.Handle(CmdFire, applyFire)
	r.Handle(CmdClose, applyClose)
	r.Handle(CmdFindingAdd, applyFindingAdd)
	r.Handle(CmdFindingUpdate, applyFindingUpdate)
}

// Run is one due time of a schedule (or one run started by hand) and what
// became of it. A started run is an EXERCISE activation; its metrics are
// read from that activation's recipients.
type Run struct {
	ID       RunID              `json:"id"`
	Schedule ScheduleID         `json:"schedule"`
	Plan     plans.PlanID       `json:"plan"`
	Regions  []plans.RegionCode `json:"regions"`
	Level    plans.LevelCode    `json:"level"`
	Type     ExerciseType       `json:"type"`
	Title    string             `json:"title"`
	Status   RunStatus          `json:"status"`
	// Due is the nominal due time the run answers (zero for a run by hand).
	Due    time.Time `json:"due,omitzero"`
	Manual bool      `json:"manual,omitempty"`
	// NoNotice marks a run whose start time was picked inside a window.
	NoNotice bool      `json:"no_notice,omitempty"`
	At       time.Time `json:"at"` // when it started, or was recorded missed or failed
	By       string    `json:"by"`
	// Activation is the EXERCISE activation of a started run, and
	// PlanVersion the plan version it pinned.
	Activation  plans.ActivationID `json:"activation,omitempty"`
	PlanVersion int                `json:"plan_version,omitempty"`
	// Participants counts the people called up, and Units the
	// participating units the schedule names.
	Participants int       `json:"participants"`
	Units        []string  `json:"units,omitempty"`
	EndsAt       time.Time `json:"ends_at,omitzero"` // when the scheduler stands the call-up down
	// Waited is how long the run was postponed (by a live emergency, or a
	// region's recovery after one), and WaitedFor what it waited for (rules 13; empty before: a live
	// emergency): emergency, recovery (a region's recovery after one) or
	// emergency_and_recovery.
	Waited    plans.Duration `json:"waited,omitempty"`
	WaitedFor string         `json:"waited_for,omitempty"`
	// DuringRecovery marks a run by hand started, on purpose, while a
	// region among, above or below its regions was in recovery (恢复)
	// after a live emergency (Fire.DuringRecovery; rules 13).
	DuringRecovery bool   `json:"during_recovery,omitempty"`
	Error          string `json:"error,omitempty"` // why a run failed or was missed
	Index          uint64 `json:"index"`
	// TimeZone is the schedule's, for showing the run's times as the
	// schedule's are (empty in runs recorded before it was kept).
	TimeZone string `json:"time_zone,omitempty"`
	// StoppedBy and Retracted are filled in on reads (GetRun, Runs) from
	// the run's call-up, never stored: the LIVE call-up that stood it
	// down, or that it was retracted as a mistake.
	StoppedBy plans.ActivationID `json:"stopped_by,omitempty"`
	Retracted bool               `json:"retracted,omitempty"`
	// Outcome is filled in on reads too, for a started run: running while
	// its call-up is active, then held, cut_short, stopped_by_live,
	// retracted or simulated (only a run held counts as a drill of its
	// regions).
	Outcome string `json:"outcome,omitempty"`
	// Simulated is filled in on reads too: the leader sent the run's
	// call-up through the built-in simulator (notify.Activation.Simulated),
	// so no phone was reached and it is not a drill held.
	Simulated bool `json:"simulated,omitempty"`
	// Warnings is set only in the answer to a run by hand, never stored:
	// what may stop it soon (a LIVE request over its regions waiting for
	// approval, which stands it down once approved).
	Warnings []string `json:"warnings,omitempty"`
}

// scheduleCreate is the payload of drill.schedule; the proposer stamped the
// first occurrence (Due, RunAt) with its clock and randomness.
type scheduleCreate struct {
	Schedule Schedule `json:"schedule"`
}

// scheduleUpdate is the payload of drill.update. Resume carries the next
// occurrence, stamped like a new schedule's; so does a change that gives
// the schedule other due times.
type scheduleUpdate struct {
	ID     ScheduleID `json:"id"`
	Action string     `json:"action"` // pause, resume, delete, change
	Due    time.Time  `json:"due,omitzero"`
	RunAt  time.Time  `json:"run_at,omitzero"`
	// Schedule is a change's schedule as it is to be (its definition: the
	// store keeps its identity, runs and occurrence), and Seen the
	// UpdatedAt of the schedule the proposer changed.
	Schedule *Schedule `json:"schedule,omitempty"`
	Seen     time.Time `json:"seen,omitzero"`
}

// Update actions.
const (
	ActionPause  = "pause"
	ActionResume = "resume"
	ActionDelete = "delete"
	ActionChange = "change"
)

// rulesScheduleChange is the behaviour (muster.Rules) from which
// drill.update changes a schedule in place (ActionChange). Under older
// rules it is refused: a member on an older muster would not know it.
const rulesScheduleChange = 13

// Fire is the payload of drill.fire: everything the scheduler (or a person
// asking to run a drill now) decided, stamped so that applying it is
// deterministic. For a scheduled fire, Due is the claim: the command does
// anything only if the schedule's occurrence is still Due, so the same due
// time proposed twice — by an old and a new leader — starts one run.
type Fire struct {
	Schedule ScheduleID `json:"schedule"`
	Due      time.Time  `json:"due,omitzero"`
	// RunDue, when later than Due, is the due time the fire answers instead
	// of Due: the latest of several that passed while the whole cluster was
	// down. Due stays the claim; it is recorded missed, then Missed, and
	// RunDue is run, skipped or postponed as Due otherwise would be.
	RunDue time.Time `json:"run_due,omitzero"`
	// Manual runs the schedule now, outside its due times; a live
	// emergency in its regions refuses it rather than postponing it, and
	// so does a region's recovery after one (rules 13) unless
	// DuringRecovery says to run it all the same.
	Manual         bool `json:"manual,omitempty"`
	DuringRecovery bool `json:"during_recovery,omitempty"`
	// Missed are other due times that passed unseen (the whole cluster was
	// down), oldest first; each is recorded as a missed run, before the due
	// time the fire answers. Without RunDue they are recorded before Due.
	Missed []time.Time `json:"missed,omitempty"`
	// MissedMore counts further due times that passed unseen, too many to
	// record one run each; they are added to the schedule's missed count.
	MissedMore int `json:"missed_more,omitempty"`
	// Skip records the due time the fire answers as missed instead of
	// running it (catch-up policy skip, too late for the catch-up window, or
	// still postponed when the next due time came).
	Skip   bool   `json:"skip,omitempty"`
	Reason string `json:"reason,omitempty"` // why it is skipped
	// Next and NextRunAt are the occurrence after the one answered (zero:
	// none).
	Next      time.Time `json:"next,omitzero"`
	NextRunAt time.Time `json:"next_run_at,omitzero"`
	// RetryAt is when to look again if a live emergency (or a region's
	// recovery after one) postpones the occurrence; at the latest Next. A retry after Next, or none, gives the
	// occurrence up instead.
	RetryAt time.Time `json:"retry_at,omitzero"`
}

// FireResult is what applying a Fire did.
type FireResult struct {
	Schedule Schedule `json:"schedule"`
	// Run is the run started, failed or missed at Due; nil when postponed.
	Run       *Run          `json:"run,omitempty"`
	Postponed *Postponement `json:"postponed,omitempty"`
	Missed    []Run         `json:"missed,omitempty"`
}

// closeRun is the payload of drill.close.
type closeRun struct {
	Run    RunID  `json:"run"`
	Reason string `json:"reason"`
}

func key8(t time.Time, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(t.UnixNano()))
	return append(k, id...)
}

func getSchedule(tx *bolt.Tx, id ScheduleID) (Schedule, error) {
	return getRecord[Schedule](tx, bSchedules, string(id), "drill schedule")
}

// getRecord reads the JSON record key of bucket; what names it in errors
// (ENotFound when there is none).
func getRecord[T any](tx *bolt.Tx, bucket []byte, key, what string) (T, error) {
	var out T
	var v []byte
	if b := tx.Bucket(bucket); b != nil {
		v = b.Get([]byte(key))
	}
	if v == nil {
		return out, muster.Errorf(muster.ENotFound, "%s %s does not exist", what, key)
	}
	if err := json.Unmarshal(v, &out); err != nil {
		return out, fmt.Errorf("decode %s %s: %w", what, key, err)
	}
	return out, nil
}

// putRecord stores v as JSON under key in bucket.
func putRecord(tx *bolt.Tx, bucket []byte, key string, v any) error {
	b, err := tx.CreateBucketIfNotExists(bucket)
	if err != nil {
		return err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), data)
}

// newID is the next ID from bucket's sequence: prefix and six digits
// (D000001, R000001, F000001).
func newID(tx *bolt.Tx, bucket []byte, prefix string) (string, error) {
	b, err := tx.CreateBucketIfNotExists(bucket)
	if err != nil {
		return "", err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s%06d", prefix, seq), nil
}

// forEachRecord calls fn with every JSON record of bucket, by key; what
// names the records in errors.
func forEachRecord[T any](tx *bolt.Tx, bucket []byte, what string, fn func(T) error) error {
	b := tx.Bucket(bucket)
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		var rec T
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("decode %s %s: %w", what, k, err)
		}
		return fn(rec)
	})
}

// putSchedule stores s and keeps the due index in step: old is what was
// stored before (nil for a new schedule).
func putSchedule(tx *bolt.Tx, old *Schedule, s *Schedule) error {
	due, err := tx.CreateBucketIfNotExists(bDue)
	if err != nil {
		return err
	}
	if old != nil && !old.Paused && !old.RunAt.IsZero() {
		if err := due.Delete(key8(old.RunAt, string(old.ID))); err != nil {
			return err
		}
	}
	if s != nil && !s.Paused && !s.RunAt.IsZero() {
		if err := due.Put(key8(s.RunAt, string(s.ID)), nil); err != nil {
			return err
		}
	}
	if s == nil {
		return tx.Bucket(bSchedules).Delete([]byte(old.ID))
	}
	return putRecord(tx, bSchedules, string(s.ID), s)
}

func getRun(tx *bolt.Tx, id RunID) (Run, error) {
	return getRecord[Run](tx, bRuns, string(id), "drill run")
}

// forEachRun calls fn for every run, by ID.
func forEachRun(tx *bolt.Tx, fn func(r Run) error) error {
	return forEachRecord(tx, bRuns, "drill run", fn)
}

// addRun stores a new run under the next run ID.
func addRun(tx *bolt.Tx, r *Run) error {
	id, err := newID(tx, bRuns, "R")
	if err != nil {
		return err
	}
	r.ID = RunID(id)
	return putRun(tx, r)
}

func putRun(tx *bolt.Tx, r *Run) error { return putRecord(tx, bRuns, string(r.ID), r) }

// rulesHeldLength is the behaviour (muster.Rules) from which a schedule
// made or changed (drill.schedule, drill.update change) is refused a
// length shorter than MinHeld: its runs would end before they could be
// drills held. Under older rules any positive length was taken; such
// schedules stored before still load and run, and their runs are cut
// short.
const rulesHeldLength = 13

// shortLengthError refuses a length d shorter than MinHeld.
func shortLengthError(d time.Duration) error {
	return invalidf("length %s: at least %s — a drill counts as held only once its call-up has run %s (the report's T+15 checkpoint, time for people to answer); "+
		"a shorter run would be recorded as cut short, never as a drill of its regions (to end one run early, muster drill stand-down it)",
		plans.Duration(d), plans.Duration(MinHeld), plans.Duration(MinHeld))
}

func (s *Schedule) check(tx *bolt.Tx, c *muster.Command) error {
	if _, err := ParseExerciseType(string(s.Type)); err != nil || s.Type != ExerciseType(strings.ToLower(string(s.Type))) {
		return invalidf("type %q: want notification, tabletop, functional or full-scale", s.Type)
	}
	if strings.TrimSpace(s.Title) == "" {
		return invalidf("title: name the drill's scenario (it is the reason of every run)")
	}
	if (s.Cron == "") == s.At.IsZero() {
		return invalidf("schedule: give either a cron expression or a one-off time (--at), not both or neither")
	}
	if s.Cron != "" {
		if _, err := ParseCron(s.Cron); err != nil {
			return err
		}
	}
	if _, err := s.Location(); err != nil {
		return err
	}
	if s.CatchUp != CatchUpSkip && s.CatchUp != CatchUpOnce {
		return invalidf("catch-up %q: want skip or once", s.CatchUp)
	}
	if s.CatchUp == CatchUpOnce && s.CatchUpWithin <= 0 {
		return invalidf("catch-up once: give the window within which a missed drill still runs (e.g. 4h)")
	}
	if s.NoNotice != nil && (s.NoNotice.End <= s.NoNotice.Start || s.NoNotice.Start < 0 || s.NoNotice.End > 24*60) {
		return invalidf("no-notice window %s: the end must come after the start, within one day", s.NoNotice)
	}
	if s.Length < 0 {
		return invalidf("length %s: must be positive", s.Length)
	}
	if s.Length > 0 && s.Length.Std() < MinHeld && c.RulesAtLeast(rulesHeldLength) {
		return shortLengthError(s.Length.Std())
	}
	return notify.CheckActivation(tx, s.request(""))
}

// request is the EXERCISE activation a run of s asks for.
func (s *Schedule) request(reason string) notify.ActivationRequest {
	if reason == "" {
		reason = s.Title
	}
	return notify.ActivationRequest{Plan: s.Plan, Regions: s.Regions, Level: string(s.Level),
		Purpose: string(notify.PurposeExercise), Reason: reason, ConfirmScope: s.ConfirmScope}
}

func applySchedule(tx *bolt.Tx, c *muster.Command) (any, error) {
	var p scheduleCreate
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		return nil, invalidf("drill schedule: %v", err)
	}
	s := p.Schedule
	if err := s.check(tx, c); err != nil {
		return nil, err
	}
	if s.RunAt.IsZero() != s.Due.IsZero() {
		return nil, invalidf("drill schedule: the first occurrence needs both its due time and its start")
	}
	id, err := newID(tx, bSchedules, "D")
	if err != nil {
		return nil, err
	}
	s.ID = ScheduleID(id)
	s.Postponed, s.Runs, s.Missed, s.LastRun = nil, 0, 0, ""
	s.CreatedAt, s.CreatedBy, s.UpdatedAt, s.UpdatedBy = c.Time, c.Actor, c.Time, c.Actor
	return s, putSchedule(tx, nil, &s)
}

func applyUpdate(tx *bolt.Tx, c *muster.Command) (any, error) {
	var p scheduleUpdate
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		return nil, invalidf("drill update: %v", err)
	}
	old, err := getSchedule(tx, p.ID)
	if err != nil {
		return nil, err
	}
	s := old
	s.UpdatedAt, s.UpdatedBy = c.Time, c.Actor
	switch p.Action {
	case ActionPause:
		if s.Paused {
			return nil, conflictf("drill schedule %s is already paused", s.ID)
		}
		s.Paused = true
	case ActionResume:
		if !s.Paused {
			return nil, conflictf("drill schedule %s is not paused", s.ID)
		}
		// Due times that passed while paused are not runs owed: the
		// schedule picks up at the next one, stamped by the proposer.
		s.Paused, s.Due, s.RunAt, s.Postponed = false, p.Due, p.RunAt, nil
	case ActionDelete:
		return s, putSchedule(tx, &old, nil)
	case ActionChange:
		if !c.RulesAtLeast(rulesScheduleChange) {
			return nil, conflictf("changing drill schedule %s needs state-machine rules %d and the cluster applies %d: upgrade every member's muster first, "+
				"or delete it and schedule it again (under a new ID; its runs stay under this one)", s.ID, rulesScheduleChange, max(c.Rules, 1))
		}
		return changeSchedule(tx, c, old, p)
	default:
		return nil, invalidf("drill update %q: want pause, resume or delete", p.Action)
	}
	return s, putSchedule(tx, &old, &s)
}

// changeSchedule stores old as p's schedule says, keeping its ID, pause,
// runs, missed count and creation; its occurrence stays unless its due
// times change, when it is the one p stamped and a postponement is dropped.
// A schedule changed since the proposer read it (another change, a pause
// or resume) is refused rather than overwritten.
func changeSchedule(tx *bolt.Tx, c *muster.Command, old Schedule, p scheduleUpdate) (any, error) {
	if p.Schedule == nil {
		return nil, invalidf("drill update change: the changed schedule is missing")
	}
	if !old.UpdatedAt.Equal(p.Seen) {
		return nil, conflictf("drill schedule %s was changed at %s by %s after it was read for this change: read it again and make the change on it as it is now",
			old.ID, old.UpdatedAt.Format(time.RFC3339), old.UpdatedBy)
	}
	s := *p.Schedule
	if err := s.check(tx, c); err != nil {
		return nil, err
	}
	s.ID, s.Paused, s.Runs, s.Missed, s.LastRun = old.ID, old.Paused, old.Runs, old.Missed, old.LastRun
	s.CreatedAt, s.CreatedBy, s.UpdatedAt, s.UpdatedBy = old.CreatedAt, old.CreatedBy, c.Time, c.Actor
	s.Warnings = nil
	if s.sameTimes(&old) {
		s.Due, s.RunAt, s.Postponed = old.Due, old.RunAt, old.Postponed
	} else {
		if p.Due.IsZero() || p.RunAt.IsZero() {
			return nil, invalidf("drill update change: new due times need their first occurrence stamped")
		}
		s.Due, s.RunAt, s.Postponed = p.Due, p.RunAt, nil
	}
	return s, putSchedule(tx, &old, &s)
}

// applyFire claims a due time of a schedule and, in the same transaction,
// starts its EXERCISE activation — or postpones it while a region is in a
// live emergency, or records it missed or failed. Claim and activation are
// one raft entry, so a due time starts at most one run whatever leader
// proposes it, however often.
func applyFire(tx *bolt.Tx, c *muster.Command) (any, error) {
	var f Fire
	if err := json.Unmarshal(c.Payload, &f); err != nil {
		return nil, invalidf("drill fire: %v", err)
	}
	old, err := getSchedule(tx, f.Schedule)
	if err != nil {
		return nil, err
	}
	s := old
	out := FireResult{}
	if f.Manual {
		return fireManual(tx, c, &old, f)
	}
	switch {
	case s.Paused:
		return nil, conflictf("drill schedule %s is paused", s.ID)
	case s.Due.IsZero():
		return nil, conflictf("drill schedule %s has no occurrence left", s.ID)
	case !s.Due.Equal(f.Due):
		return nil, conflictf("drill schedule %s: due time %s was already handled (next due %s)", s.ID, f.Due.Format(time.RFC3339), s.Due.Format(time.RFC3339))
	}
	due := f.Due
	if f.RunDue.After(f.Due) {
		// Catch-up: the claimed occurrence passed (waiting, perhaps, for a
		// live emergency) while the cluster was down; a later one is answered.
		r := s.run(RunMissed, f.Due, c)
		r.Error = "the cluster was down at its due time"
		if s.Postponed != nil {
			r.Error = "postponed by " + WaitedWhat(s.Postponed.waitedFor()) + " (" + s.Postponed.Reason + "), then the cluster was down past its next due time"
			r.Waited = plans.Duration(c.Time.Sub(s.Postponed.Since))
			r.WaitedFor = s.Postponed.waitedFor()
		}
		if err := addRun(tx, &r); err != nil {
			return nil, err
		}
		s.Missed++
		out.Missed = append(out.Missed, r)
		due, s.Due, s.Postponed = f.RunDue, f.RunDue, nil
	}
	for i, m := range f.Missed {
		r := s.run(RunMissed, m, c)
		r.Error = "the cluster was down at its due time"
		if i == len(f.Missed)-1 && f.MissedMore > 0 {
			r.Error += fmt.Sprintf(" (and %d later due times, not recorded one by one)", f.MissedMore)
		}
		if err := addRun(tx, &r); err != nil {
			return nil, err
		}
		s.Missed++
		out.Missed = append(out.Missed, r)
	}
	if f.MissedMore > 0 {
		s.Missed += f.MissedMore
	}
	advance := func() {
		s.Due, s.RunAt, s.Postponed = f.Next, f.NextRunAt, nil
	}
	// giveUp records the occurrence at due as missed, with why, and moves
	// the schedule on.
	giveUp := func(why string) (any, error) {
		r := s.run(RunMissed, due, c)
		r.Error = why
		if s.Postponed != nil {
			r.Waited = plans.Duration(c.Time.Sub(s.Postponed.Since))
			r.WaitedFor = s.Postponed.waitedFor()
		}
		if err := addRun(tx, &r); err != nil {
			return nil, err
		}
		s.Missed++
		advance()
		out.Run = &r
		out.Schedule = s
		return out, putSchedule(tx, &old, &s)
	}
	if f.Skip {
		return giveUp(orDefault(f.Reason, "missed its due time"))
	}
	b, err := liveBlocks(tx, s.Regions, c.RulesAtLeast(rulesRecoveryPostpones))
	if err != nil {
		return nil, err
	}
	if blocked, why := b.regions, b.why(); len(blocked) > 0 {
		if s.Postponed == nil {
			s.Postponed = &Postponement{Due: due, Since: c.Time}
		}
		if c.RulesAtLeast(rulesRecoveryPostpones) {
			// What the wait is for, kept for the run's record: a
			// recovery is no emergency any more.
			s.Postponed.Emergency = s.Postponed.Emergency || len(b.emergency) > 0
			s.Postponed.Recovery = s.Postponed.Recovery || len(b.recovery) > 0
		}
		if f.RetryAt.IsZero() || (!f.Next.IsZero() && f.RetryAt.After(f.Next)) {
			// Still blocked when the next occurrence is due: this one is
			// given up and recorded, the schedule moves on.
			return giveUp("postponed until its next due time by " + b.what() + ": " + why)
		}
		s.Postponed.Regions, s.Postponed.Reason = blocked, why
		s.Postponed.Checks++
		s.RunAt = f.RetryAt
		out.Postponed = s.Postponed
		out.Schedule = s
		return out, putSchedule(tx, &old, &s)
	}
	if c.RulesAtLeast(rulesDueTimeOverlap) {
		// The schedule's run before must be over: recorded missed if it
		// was open when this one was to start, stood down now if its
		// length is over (or ends a little after, see dueTimeOpen).
		last, end, open, over, err := dueTimeOpen(tx, &old, occurrenceStart(&old, f, c.Time), c.Time)
		switch {
		case err != nil:
			return nil, err
		case open:
			return giveUp("not started: " + describeOpenAt(last, end) + " (runs of a schedule do not overlap)")
		case over:
			if err := endRun(tx, c, last, "演练结束"); err != nil {
				return nil, err
			}
		}
	}
	if c.RulesAtLeast(rulesOtherRunsOverlap) {
		// Nor may another drill's run be open over the same people: the
		// due time is recorded missed as above, and a run whose length is
		// over, or nearly over, is stood down first.
		other, open, over, err := otherRunOpen(tx, &old, occurrenceStart(&old, f, c.Time), c.Time)
		if err != nil {
			return nil, err
		}
		if open {
			return giveUp("not started: " + describeOther(other))
		}
		// Nor a drill call-up started by hand, which has no length: the
		// due time is recorded missed while it is active.
		if hand, ok, err := handDrillOpen(tx, &old); err != nil {
			return nil, err
		} else if ok {
			return giveUp("not started: " + describeHand(hand, mustZone(&old)))
		}
		for _, r := range over {
			if err := endRun(tx, c, r, "演练结束"); err != nil {
				return nil, err
			}
		}
	}
	r, err := s.start(tx, c, due)
	if err != nil {
		return nil, err
	}
	if s.Postponed != nil {
		r.Waited = plans.Duration(c.Time.Sub(s.Postponed.Since))
		r.WaitedFor = s.Postponed.waitedFor()
		if err := putRun(tx, &r); err != nil {
			return nil, err
		}
	}
	advance()
	out.Run = &r
	out.Schedule = s
	return out, putSchedule(tx, &old, &s)
}

// rulesManualRunOpen is the behaviour (muster.Rules) from which the FSM
// itself refuses a run by hand while a run of the schedule is open (the
// service checks before it proposes, but two requests at once both passed
// that check). Under older rules only the service checked.
const rulesManualRunOpen = 7

// rulesManualOtherRunOpen is the behaviour (muster.Rules) from which the
// FSM refuses a run by hand while another drill's run (another schedule's,
// or one run by hand) is open over the same regions, or a region above or
// below them (otherRunOpenNow at the command's time), as a due time then is
// recorded missed; and while an EXERCISE or TEST call-up started by hand
// (activation.create, not a drill's run) is active over them
// (handDrillOpen). Under older rules it started, and the same people were
// called up twice at once.
const rulesManualOtherRunOpen = 13

// rulesManualRecovery is the behaviour (muster.Rules) from which the FSM
// refuses a run by hand while a region among, above or below its regions
// is in recovery (恢复) after a live emergency, as a due time is then
// postponed (rulesRecoveryPostpones), unless the fire says to run it
// during the recovery (Fire.DuringRecovery), which the run records. Under
// older rules it started.
const rulesManualRecovery = 13

// fireManual runs s now, outside its due times: its occurrences are left as
// they are, and a live emergency, a region's recovery after one (unless
// f.DuringRecovery), an open run of s or another drill's run open over its
// regions refuses it.
func fireManual(tx *bolt.Tx, c *muster.Command, old *Schedule, f Fire) (any, error) {
	s := *old
	b, err := liveBlocks(tx, s.Regions, c.RulesAtLeast(rulesManualRecovery))
	if err != nil {
		return nil, err
	}
	if len(b.emergency) > 0 {
		why := strings.Join(b.emergency, "; ")
		return nil, conflictf("drill %s not started: %s; drills wait until the emergency stands down", s.ID, why)
	}
	if len(b.recovery) > 0 && !f.DuringRecovery {
		return nil, conflictf("drill %s not started: %s: the region is recovering from a live emergency until a commander ends its recovery "+
			"(muster end-recovery), and a scheduled run of it waits until then; to drill its people during the recovery all the same, "+
			"run it again with --during-recovery (API: \"during_recovery\": true)", s.ID, strings.Join(b.recovery, "; "))
	}
	if c.RulesAtLeast(rulesManualRunOpen) {
		if open, ok, err := openRun(tx, s.ID, c.Time); err != nil {
			return nil, err
		} else if ok {
			return nil, conflictf("drill %s not started: %s", s.ID, describeOpen(open))
		}
	}
	if c.RulesAtLeast(rulesManualOtherRunOpen) {
		if other, ok, err := otherRunOpenNow(tx, &s, c.Time); err != nil {
			return nil, err
		} else if ok {
			return nil, conflictf("drill %s not started: %s", s.ID, describeOther(other))
		}
		if hand, ok, err := handDrillOpen(tx, &s); err != nil {
			return nil, err
		} else if ok {
			return nil, conflictf("drill %s not started: %s", s.ID, describeHand(hand, mustZone(&s)))
		}
	}
	r, err := s.start(tx, c, time.Time{})
	if err != nil {
		return nil, err
	}
	if len(b.recovery) > 0 {
		r.DuringRecovery = true
		if err := putRun(tx, &r); err != nil {
			return nil, err
		}
	}
	return FireResult{Schedule: s, Run: &r}, putSchedule(tx, old, &s)
}

// start creates the run's EXERCISE activation and records the run: started,
// or, for a due time, failed with the reason when the activation cannot be
// created (the plan lost its level, a region was removed, the scope guard
// wants a confirmation). A run by hand (due zero) that cannot start is
// refused instead: the reason is the error and nothing is recorded. It
// updates s's run counters; the caller stores s.
func (s *Schedule) start(tx *bolt.Tx, c *muster.Command, due time.Time) (Run, error) {
	r := s.run(RunStarted, due, c)
	r.Manual = due.IsZero()
	a, refused, err := notify.TryActivation(tx, c, s.request(s.activationReason(r.Manual)))
	if err != nil {
		return r, fmt.Errorf("start drill %s: %w", s.ID, err)
	}
	switch {
	case refused != nil && r.Manual:
		return r, refused
	case refused != nil:
		r.Status, r.Error = RunFailed, refused.Error()
		return r, addRun(tx, &r)
	}
	r.Activation, r.PlanVersion, r.Participants = a.ID, a.PlanVersion, a.Recipients
	r.EndsAt = c.Time.Add(s.RunLength())
	if err := addRun(tx, &r); err != nil {
		return r, err
	}
	ends, err := tx.CreateBucketIfNotExists(bEnds)
	if err != nil {
		return r, err
	}
	if err := ends.Put(key8(r.EndsAt, string(r.ID)), nil); err != nil {
		return r, err
	}
	s.Runs++
	s.LastRun = r.ID
	return r, nil
}

// activationReason is the reason the run's activation carries.
func (s *Schedule) activationReason(manual bool) string {
	how := "按计划"
	if manual {
		how = "手动启动"
	}
	return fmt.Sprintf("%s（%s %s，%s）", s.Title, s.Type.ChineseName(), s.ID, how)
}

func (s *Schedule) run(status RunStatus, due time.Time, c *muster.Command) Run {
	return Run{Schedule: s.ID, Plan: s.Plan, Regions: slices.Clone(s.Regions), Level: s.Level, Type: s.Type, Title: s.Title,
		Status: status, Due: due, NoNotice: s.NoNotice != nil, At: c.Time, By: c.Actor, Units: slices.Clone(s.Units), Index: c.Index, TimeZone: s.TimeZone}
}

// rulesRecoveryPostpones is the behaviour (muster.Rules) from which a due
// time is postponed while a region among, above or below its regions is in
// recovery (恢复) after a live emergency, as it is while one is in
// emergency: the drill waits until the region is back to normal, not only
// until the LIVE call-up stands down. Under older rules it started as
// soon as the call-up stood down, to the people just called up for real.
const rulesRecoveryPostpones = 13

// liveEmergency reports the regions among, above or below regions that are
// in emergency (战时) — and, with recovery, those in recovery (恢复) after
// one, or going back to it once a warning is lifted. Only LIVE activations
// switch regions to emergency, so any such region is a live emergency. why
// describes them for a person.
func liveEmergency(tx *bolt.Tx, regions []plans.RegionCode, recovery bool) ([]plans.RegionCode, string, error) {
	b, err := liveBlocks(tx, regions, recovery)
	return b.regions, b.why(), err
}

// blocks are the regions among, above or below a drill's regions that
// hold it back, with why: each in emergency, or in recovery after one.
type blocks struct {
	regions   []plans.RegionCode
	reasons   []string // in the order of regions
	emergency []string // the reasons of regions in emergency
	recovery  []string // the reasons of regions in recovery
	// through: recoveries were looked for; a drill held back then waits
	// through the recovery after an emergency too.
	through bool
}

// why describes the blocks for a person, as liveEmergency does.
func (b blocks) why() string {
	why := strings.Join(b.reasons, "; ")
	if b.through && why != "" {
		why += ": the drill waits until the region is back to normal (平时), through its recovery"
	}
	return why
}

// what names what holds the drill back now, for the record of an
// occurrence given up: a live emergency, the recovery after one, or both.
func (b blocks) what() string {
	switch {
	case len(b.recovery) > 0 && len(b.emergency) > 0:
		return WaitedWhat(WaitedEmergencyAndRecovery)
	case len(b.recovery) > 0:
		return WaitedWhat(WaitedRecovery)
	}
	return WaitedWhat(WaitedEmergency)
}

// liveBlocks is liveEmergency's finding, emergencies and recoveries apart.
func liveBlocks(tx *bolt.Tx, regions []plans.RegionCode, recovery bool) (blocks, error) {
	b := blocks{through: recovery}
	modes, err := plans.Modes(tx)
	if err != nil {
		return b, err
	}
	for _, m := range modes {
		recovering := recovery && m.Mode != plans.ModeEmergency && (m.Mode == plans.ModeRecovery || m.Recovery != nil)
		if m.Mode != plans.ModeEmergency && !recovering {
			continue
		}
		path, err := plans.RegionPath(tx, m.Region)
		if err != nil {
			continue // a record for a region no longer in the tree blocks nothing
		}
		hit := false
		for _, r := range regions {
			if slices.ContainsFunc(path, func(p plans.Region) bool { return p.Code == r }) {
				hit = true // m.Region is r or lies under it
				break
			}
			up, err := plans.RegionPath(tx, r)
			if err == nil && slices.ContainsFunc(up, func(p plans.Region) bool { return p.Code == m.Region }) {
				hit = true // r lies under m.Region
				break
			}
		}
		if !hit {
			continue
		}
		b.regions = append(b.regions, m.Region)
		if recovering {
			after := ""
			if m.Recovery != nil && m.Recovery.Activation != "" {
				after = " after " + string(m.Recovery.Activation)
			}
			r := fmt.Sprintf("%s is in recovery (恢复)%s", path[0].Label(), after)
			b.reasons, b.recovery = append(b.reasons, r), append(b.recovery, r)
			continue
		}
		var acts []string
		for _, h := range m.Holds {
			acts = append(acts, string(h.Activation))
		}
		r := fmt.Sprintf("%s is in emergency (战时, level %s, %s)", path[0].Label(), m.Level, strings.Join(acts, ", "))
		b.reasons, b.emergency = append(b.reasons, r), append(b.emergency, r)
	}
	return b, nil
}

func applyClose(tx *bolt.Tx, c *muster.Command) (any, error) {
	var p closeRun
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		return nil, invalidf("drill close: %v", err)
	}
	r, err := getRun(tx, p.Run)
	if err != nil {
		return nil, err
	}
	ends := tx.Bucket(bEnds)
	if r.EndsAt.IsZero() || ends == nil || ends.Get(key8(r.EndsAt, string(r.ID))) == nil {
		return nil, conflictf("drill run %s was already closed", r.ID)
	}
	return r, endRun(tx, c, r, orDefault(p.Reason, "演练结束 (drill over)"))
}

// endRun closes run r: it leaves the index of runs to close, and its
// call-up, if still active, is stood down for reason.
func endRun(tx *bolt.Tx, c *muster.Command, r Run, reason string) error {
	if ends := tx.Bucket(bEnds); ends != nil && !r.EndsAt.IsZero() {
		if err := ends.Delete(key8(r.EndsAt, string(r.ID))); err != nil {
			return err
		}
	}
	a, err := notify.GetActivation(tx, r.Activation)
	if err != nil {
		return err
	}
	if a.Status == notify.StatusActive {
		if _, err := notify.StandDownActivation(tx, c, r.Activation, reason); err != nil {
			return err
		}
	}
	return nil
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
