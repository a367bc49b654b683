package drills

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/notify"
	"muster/plans"
)

// The overdue report (muster drill overdue): which plans and regions have
// gone longer than their plan allows without a drill, and which roster
// entries failed in the last drills.

// OverdueReport is what is overdue as of Now: every region of every plan's
// scope with its last drills and when the next are due, and the roster
// entries the last drills of each plan showed to be broken.
type OverdueReport struct {
	Now time.Time `json:"now"`
	// Regions lists every plan (latest version, by ID) and every region of
	// its scope (by code), overdue or not.
	Regions []RegionDrills `json:"regions"`
	// Roster lists the people to follow up, by plan, kind and person ID.
	Roster []RosterFailure `json:"roster"`
}

// RegionDrills is how one region of a plan's scope stands for drills.
type RegionDrills struct {
	Plan        plans.PlanID     `json:"plan"`
	PlanTitle   string           `json:"plan_title"`
	PlanVersion int              `json:"plan_version"`
	Region      plans.RegionCode `json:"region"`
	RegionName  string           `json:"region_name,omitempty"`
	// Full is the exercise of the full plan (tabletop, functional or
	// full-scale), Notification the notification drill.
	Full         DrillDue `json:"full"`
	Notification DrillDue `json:"notification"`
	// Overdue is set when either is.
	Overdue bool `json:"overdue"`
}

// DrillDue is when one kind of drill last covered a region and when the
// next is due. A region never drilled is overdue (Never, NextDue zero).
type DrillDue struct {
	Interval plans.Period `json:"interval"`
	LastRun  RunID        `json:"last_run,omitempty"`
	LastType ExerciseType `json:"last_type,omitempty"`
	LastAt   time.Time    `json:"last_at,omitzero"`
	// LastRegions are the regions the last run called up, and Partial is
	// set when each of them lies under the scope region: it drilled a part
	// of it (one district of a city-wide plan, say), and the rest of it
	// was not drilled by that run.
	LastRegions []plans.RegionCode `json:"last_regions,omitempty"`
	Partial     bool               `json:"partial,omitempty"`
	// NeverDrilled, with Partial, are the regions directly under the scope
	// region (the districts of a city-wide plan) that no drill of this
	// kind held has covered: neither the region, one above it, nor one
	// under it was ever called up by such a run.
	NeverDrilled []plans.RegionCode `json:"never_drilled,omitempty"`
	// NextDue is LastAt plus Interval by the calendar in DefaultTimeZone.
	NextDue time.Time `json:"next_due,omitzero"`
	// Overdue is set when NextDue is at or before the report's time, or
	// the region was never drilled.
	Overdue bool `json:"overdue"`
	Never   bool `json:"never,omitempty"`
	// DaysOverdue counts whole days since NextDue (0 when not overdue or
	// never drilled).
	DaysOverdue int `json:"days_overdue,omitempty"`
}

// FailureKind is why a roster entry needs following up after a drill.
type FailureKind string

// Failure kinds, in the order the report lists them.
const (
	// FailWrongNumber: the provider refused the number for good — invalid,
	// not a mobile, unknown to the network, or unsubscribed (STOP).
	FailWrongNumber FailureKind = "wrong_number"
	// FailLandline: the number is a landline (or its carrier unreachable).
	FailLandline FailureKind = "landline"
	// FailPermanent: any other delivery failure the call-up gave up on.
	FailPermanent FailureKind = "failed"
	// FailNoAnswer: neither acknowledged nor declined in the plan's last
	// two drills, whatever the reason.
	FailNoAnswer FailureKind = "no_answer_twice"
)

func (k FailureKind) order() int {
	return slices.Index([]FailureKind{FailWrongNumber, FailLandline, FailPermanent, FailNoAnswer}, k)
}

// RosterFailure is one person a plan's last drills showed to need
// following up: their number failed in the last drill (Code, Reason; a
// number the call-up left for their next phone too, one entry per
// number), or they answered in neither of the last two although both sent
// to them (Runs names both).
type RosterFailure struct {
	Plan   plans.PlanID     `json:"plan"`
	Person plans.PersonID   `json:"person"`
	Name   string           `json:"name"`
	Phone  string           `json:"phone"` // the number the drill used
	Grid   plans.RegionCode `json:"grid"`
	Kind   FailureKind      `json:"kind"`
	Code   int              `json:"code,omitempty"` // provider error code, 0 when none was given
	Reason string           `json:"reason"`         // in words, with the code
	Runs   []RunID          `json:"runs"`           // the run it failed in, or the two it went unanswered in
	// PhoneChanged is set when the roster's first phone is no longer the
	// one the drill used (perhaps already corrected); Removed when the
	// person has left the roster.
	PhoneChanged bool `json:"phone_changed,omitempty"`
	Removed      bool `json:"removed,omitempty"`
}

// failureCodes describes the provider (Twilio) error codes a failed drill
// recipient may carry. notify classifies codes as temporary or permanent
// for retrying; this says what the roster owner has to do about them.
var failureCodes = map[int]struct {
	kind FailureKind
	text string
}{
	21211: {FailWrongNumber, "invalid phone number"},
	21217: {FailWrongNumber, "invalid phone number"},
	21614: {FailWrongNumber, "not a mobile number"},
	21610: {FailWrongNumber, "unsubscribed: the number sent STOP to the exercise sender"},
	30005: {FailWrongNumber, "unknown or inactive number"},
	30006: {FailLandline, "landline or unreachable carrier"},
	21612: {FailPermanent, "not reachable by SMS from the sender"},
	21408: {FailPermanent, "sending to this country or region is not enabled on the account"},
	30004: {FailPermanent, "blocked by the recipient or the carrier"},
	30007: {FailPermanent, "filtered by the carrier"},
	30003: {FailPermanent, "handset unreachable on every try"},
	30008: {FailPermanent, "unknown delivery error on every try"},
}

// DescribeFailure says in words why a recipient failed, from the provider
// error code of its last attempt and the error text: the kind of failure
// and a reason ending in the code, such as "invalid phone number (21211)".
func DescribeFailure(code int, providerError string) (FailureKind, string) {
	if d, ok := failureCodes[code]; ok {
		return d.kind, fmt.Sprintf("%s (%d)", d.text, code)
	}
	if code != 0 {
		return FailPermanent, fmt.Sprintf("delivery failed (%d)", code)
	}
	if e := strings.TrimSpace(providerError); e != "" {
		return FailPermanent, "delivery failed: " + e
	}
	return FailPermanent, "delivery failed"
}

// Overdue reports, as of now, for every plan (its latest version) and every
// region of its scope, the last started run of the full plan (tabletop,
// functional or full-scale) and the last started notification run that
// covered the region, when each is next due (the last run's start plus the
// plan's interval, plans.Plan.FullDrillInterval and
// NotificationDrillInterval, by the calendar in DefaultTimeZone) and
// whether it is overdue: due at or before now, or never drilled. A run
// covers a scope region when one of the run's regions is that region, lies
// under it (a district drill exercises a city plan there) or lies above it
// (a city-wide drill exercises every district). Runs of any version of the
// plan count; missed and failed runs do not, nor do runs cut short
// (cutShort: stopped by a LIVE call-up, retracted, or stood down by hand
// within MinHeld of their start), nor runs whose call-up the leader sent
// through the built-in simulator (notify.Activation.Simulated): no phone
// was reached, so nobody was drilled.
//
// Roster lists, per plan, the people its last finished started run (its
// call-up stood down, or its EndsAt at or before now) failed to reach —
// wrong number, landline or another permanent failure, with the reason
// and provider code — and the people who neither acknowledged nor declined
// in either of its last two finished runs, unless the last run already
// lists them as failed. Everything is sorted, so the same state and now
// give the same report.
func (s *Service) Overdue(ctx context.Context, level muster.Consistency, now time.Time) (OverdueReport, error) {
	out := OverdueReport{Now: now, Regions: []RegionDrills{}, Roster: []RosterFailure{}}
	loc, err := loadZone(DefaultTimeZone)
	if err != nil {
		return out, err
	}
	err = s.view.View(ctx, level, func(tx *bolt.Tx) error {
		out.Regions, out.Roster = []RegionDrills{}, []RosterFailure{}
		byPlan, err := startedRunsByPlan(tx)
		if err != nil {
			return err
		}
		paths := regionPaths{tx: tx, paths: map[plans.RegionCode][]plans.RegionCode{}}
		return plans.ForEachPlan(tx, func(pv plans.PlanVersion) error {
			runs := byPlan[pv.PlanID]
			for _, code := range pv.Plan.Scope {
				out.Regions = append(out.Regions, regionDrills(tx, &paths, pv, code, runs, now, loc))
			}
			failures, err := rosterFailures(tx, pv.PlanID, runs, now)
			if err != nil {
				return fmt.Errorf("overdue report for plan %s: %w", pv.PlanID, err)
			}
			out.Roster = append(out.Roster, failures...)
			return nil
		})
	})
	return out, err
}

// startedRunsByPlan reads the started runs, each plan's in start order,
// leaving out those cut short (cutShort: stopped by a LIVE call-up,
// retracted, or stood down by hand within MinHeld) and those sent through
// the built-in simulator (simulated): they were not drills held, and
// their silent people did not fail them.
func startedRunsByPlan(tx *bolt.Tx) (map[plans.PlanID][]Run, error) {
	out := map[plans.PlanID][]Run{}
	err := forEachRun(tx, func(r Run) error {
		if r.Status == RunStarted && !cutShort(tx, &r) && !simulated(tx, &r) {
			out[r.Plan] = append(out[r.Plan], r)
		}
		return nil
	})
	for _, runs := range out {
		slices.SortStableFunc(runs, func(a, b Run) int { return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.ID, b.ID)) })
	}
	return out, err
}

// regionPaths caches each region's code and the codes above it.
type regionPaths struct {
	tx    *bolt.Tx
	paths map[plans.RegionCode][]plans.RegionCode
}

// path is code followed by the codes of the regions above it; a region no
// longer in the tree is just itself.
func (p *regionPaths) path(code plans.RegionCode) []plans.RegionCode {
	if got, ok := p.paths[code]; ok {
		return got
	}
	out := []plans.RegionCode{code}
	if rs, err := plans.RegionPath(p.tx, code); err == nil {
		out = out[:0]
		for _, r := range rs {
			out = append(out, r.Code)
		}
	}
	p.paths[code] = out
	return out
}

// covers reports whether a run over runRegions covers scope region r: one
// of them is r, lies under r, or lies above r.
func (p *regionPaths) covers(runRegions []plans.RegionCode, r plans.RegionCode) bool {
	up := p.path(r)
	for _, rr := range runRegions {
		if slices.Contains(p.path(rr), r) || slices.Contains(up, rr) {
			return true
		}
	}
	return false
}

func regionDrills(tx *bolt.Tx, paths *regionPaths, pv plans.PlanVersion, code plans.RegionCode, runs []Run, now time.Time, loc *time.Location) RegionDrills {
	rd := RegionDrills{Plan: pv.PlanID, PlanTitle: pv.Plan.Title, PlanVersion: pv.Version, Region: code,
		Full:         DrillDue{Interval: pv.Plan.FullDrillInterval()},
		Notification: DrillDue{Interval: pv.Plan.NotificationDrillInterval()}}
	if r, ok, err := plans.GetRegion(tx, code); err == nil && ok {
		rd.RegionName = r.Name
	}
	var lastFull, lastNotify *Run
	var fullRuns, notifyRuns []*Run
	for i := range runs {
		r := &runs[i]
		if !paths.covers(r.Regions, code) {
			continue
		}
		if r.Type == Notification {
			lastNotify, notifyRuns = r, append(notifyRuns, r)
		} else {
			lastFull, fullRuns = r, append(fullRuns, r)
		}
	}
	rd.Full.settle(lastFull, now, loc)
	rd.Notification.settle(lastNotify, now, loc)
	for _, k := range []struct {
		d    *DrillDue
		runs []*Run
	}{{&rd.Full, fullRuns}, {&rd.Notification, notifyRuns}} {
		d := k.d
		d.Partial = len(d.LastRegions) > 0 && !slices.ContainsFunc(d.LastRegions, func(rr plans.RegionCode) bool {
			return slices.Contains(paths.path(code), rr) // code itself or a region above it
		})
		if d.Partial {
			d.NeverDrilled = neverDrilled(tx, paths, code, k.runs)
		}
	}
	rd.Overdue = rd.Full.Overdue || rd.Notification.Overdue
	return rd
}

// neverDrilled are the regions directly under code that none of runs
// covered (regionPaths.covers).
func neverDrilled(tx *bolt.Tx, paths *regionPaths, code plans.RegionCode, runs []*Run) []plans.RegionCode {
	children, err := plans.RegionChildren(tx, code)
	if err != nil {
		return nil
	}
	var out []plans.RegionCode
	for _, c := range children {
		if !slices.ContainsFunc(runs, func(r *Run) bool { return paths.covers(r.Regions, c) }) {
			out = append(out, c)
		}
	}
	return out
}

// settle fills in the last run (nil: never) and what follows from it at now.
func (d *DrillDue) settle(last *Run, now time.Time, loc *time.Location) {
	if last == nil {
		d.Never, d.Overdue = true, true
		return
	}
	d.LastRun, d.LastType, d.LastAt, d.LastRegions = last.ID, last.Type, last.At, slices.Clone(last.Regions)
	d.NextDue = d.Interval.AddTo(last.At.In(loc))
	if !now.Before(d.NextDue) {
		d.Overdue = true
		d.DaysOverdue = daysBetween(DateOf(d.NextDue, loc), DateOf(now, loc))
	}
}

// MinHeld is how long a drill's call-up must have run for the drill to
// count as held: the report's T+15 checkpoint. It is also the shortest
// length a schedule takes (rules 13): a run shorter than that ends before
// anyone's answer could count, and is cut short however it ends.
const MinHeld = 15 * time.Minute

// cutShort reports whether run r was cut short rather than held: its
// call-up was stood down by a LIVE call-up that started over its regions
// (StoppedBy), or retracted as a mistake (Retraction), or stood down less
// than MinHeld after it started, by hand or by the scheduler — people had
// no time to answer — or its length is shorter than MinHeld (a schedule
// stored before lengths had that floor). The scheduler stands a run down
// when its length is over, or at most Grace before as the next run of its
// schedule starts, which for a length of at least MinHeld is held.
func cutShort(tx *bolt.Tx, r *Run) bool {
	if r.Activation == "" {
		return false
	}
	a, err := notify.GetActivation(tx, r.Activation)
	if err != nil {
		return false
	}
	if a.StoppedBy != "" || a.Retraction != nil {
		return true
	}
	if r.shortLength() {
		return true
	}
	if a.Status != notify.StatusStoodDown || a.StoodDownAt.IsZero() {
		return false
	}
	if a.StoodDownBy == SchedulerActor && !a.StoodDownAt.Add(Grace).Before(r.EndsAt) {
		// Its length was over, or the next run of its schedule stood it
		// down as it started, a few seconds before (dueTimeOpen).
		return false
	}
	started := a.StartedAt
	if started.IsZero() {
		started = r.At
	}
	return a.StoodDownAt.Sub(started) < r.HeldAfter()
}

// SimulatedWarning is what the answer to a run by hand says when drills'
// messages go to the built-in simulator (Service.Simulated).
const SimulatedWarning = "模拟器发送，未到达任何手机: sent through the built-in simulator, no phone will be reached — the node has no EXERCISE SMS account " +
	"(--exercise-twilio-account-sid, --exercise-twilio-auth-token, --exercise-twilio-from); the run's figures will be the simulator's, " +
	"and it will not count as a drill held (muster drill overdue) nor list its silent people"

// simulated reports whether run r's call-up went to the built-in
// simulator (notify.Activation.Simulated, rules 13): it reached no phone,
// so it is no drill held, whatever its length, and its silent people are
// not to be chased.
func simulated(tx *bolt.Tx, r *Run) bool {
	if r.Activation == "" {
		return false
	}
	a, err := notify.GetActivation(tx, r.Activation)
	return err == nil && a.Simulated
}

// shortLength reports whether r's length is shorter than MinHeld: it can
// never be a drill held.
func (r Run) shortLength() bool {
	return !r.EndsAt.IsZero() && r.EndsAt.Sub(r.At) < MinHeld
}

// HeldAfter is how long r's call-up must run for it to be a drill held
// rather than cut short: MinHeld, whatever its length (a run whose length
// is shorter is cut short when its length is over).
func (r Run) HeldAfter() time.Duration { return MinHeld }

// Run outcomes (Run.Outcome): what became of a started run's call-up.
const (
	OutcomeRunning   = "running"         // its call-up is still active
	OutcomeHeld      = "held"            // it ran long enough to be a drill held
	OutcomeCutShort  = "cut_short"       // stood down before MinHeld, or its length was shorter
	OutcomeStopped   = "stopped_by_live" // a LIVE call-up over its regions stood it down
	OutcomeRetracted = "retracted"       // its call-up was retracted as a mistake
	// OutcomeSimulated: its call-up went to the built-in simulator (no
	// EXERCISE account) and reached no phone; not a drill held.
	OutcomeSimulated = "simulated"
)

// outcome says what became of started run r's call-up (see the Outcome
// constants); "" for a run that did not start.
func outcome(tx *bolt.Tx, r *Run) string {
	if r.Status != RunStarted || r.Activation == "" {
		return ""
	}
	a, err := notify.GetActivation(tx, r.Activation)
	if err != nil {
		return ""
	}
	switch {
	case a.Retraction != nil:
		return OutcomeRetracted
	case a.StoppedBy != "":
		return OutcomeStopped
	case a.Status == notify.StatusActive:
		return OutcomeRunning
	case a.Simulated:
		return OutcomeSimulated
	case cutShort(tx, r):
		return OutcomeCutShort
	}
	return OutcomeHeld
}

// finished reports whether run r's call-up is over at now: stood down (or
// never active), or past its EndsAt.
func finished(tx *bolt.Tx, r *Run, now time.Time) (bool, error) {
	if r.Activation == "" {
		return false, nil
	}
	a, err := notify.GetActivation(tx, r.Activation)
	if err != nil {
		return false, fmt.Errorf("run %s: %w", r.ID, err)
	}
	return a.Status != notify.StatusActive || (!r.EndsAt.IsZero() && !r.EndsAt.After(now)), nil
}

// sentUnanswered reports whether a drill's message went out to r (the
// provider took it) and r never answered. Someone the run never sent to,
// because it was stood down first, has not failed to answer.
func sentUnanswered(r *notify.Recipient) bool {
	return r.Attempt != nil && r.Attempt.SID != "" && !r.State.Answered() && r.State != notify.StateFailed
}

// rosterFailures lists the people plan's last finished runs showed to be
// unreachable: failed in the last, or unanswered in the last two.
func rosterFailures(tx *bolt.Tx, plan plans.PlanID, runs []Run, now time.Time) ([]RosterFailure, error) {
	var done []*Run
	for i := len(runs) - 1; i >= 0 && len(done) < 2; i-- {
		ok, err := finished(tx, &runs[i], now)
		if err != nil {
			return nil, err
		}
		if ok {
			done = append(done, &runs[i])
		}
	}
	if len(done) == 0 {
		return nil, nil
	}
	last := done[0]
	// People a call-up of the run before reached without an answer.
	prevSilent := map[plans.PersonID]notify.State{}
	if len(done) == 2 {
		err := notify.ForEachRecipient(tx, done[1].Activation, func(r *notify.Recipient) error {
			if sentUnanswered(r) {
				prevSilent[r.Person] = r.State
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("run %s: %w", done[1].ID, err)
		}
	}
	var out []RosterFailure
	err := notify.ForEachRecipient(tx, last.Activation, func(r *notify.Recipient) error {
		base := RosterFailure{Plan: plan, Person: r.Person, Name: r.Name, Phone: r.Phone, Grid: r.Grid}
		var found []RosterFailure
		var left []notify.PhoneFailure // numbers the call-up went on from (rules 11)
		if r.Attempt != nil {
			left = r.Attempt.FailedPhones
		}
		switch prev, silentBefore := prevSilent[r.Person]; {
		case r.State == notify.StateFailed && len(left) > 0:
			// every number was tried and failed: each is listed (the
			// record's own is the last tried, or one a call reaches)
		case r.State == notify.StateFailed:
			f := base
			var code int
			var msg string
			if r.Attempt != nil {
				code, msg = r.Attempt.Code, r.Attempt.Error
			}
			f.Kind, f.Reason = DescribeFailure(code, msg)
			f.Code, f.Runs = code, []RunID{last.ID}
			found = append(found, f)
		case silentBefore && sentUnanswered(r):
			f := base
			f.Kind, f.Runs = FailNoAnswer, []RunID{done[1].ID, last.ID}
			f.Reason = fmt.Sprintf("no answer in %s (%s) nor in %s (%s)", done[1].ID, prev, last.ID, r.State)
			found = append(found, f)
		}
		// A number the call-up left for the person's next phone needs
		// correcting as much as one they could not be reached at: listed
		// with the number that failed, saying where they were reached.
		for _, pf := range left {
			f := base
			f.Phone, f.Code, f.Runs = pf.Phone, pf.Code, []RunID{last.ID}
			f.Kind, f.Reason = DescribeFailure(pf.Code, "")
			if r.State != notify.StateFailed {
				f.Reason += "; the call-up went on to " + r.Phone
			}
			found = append(found, f)
		}
		if len(found) == 0 {
			return nil
		}
		p, ok, err := plans.GetPerson(tx, r.Person)
		if err != nil {
			return err
		}
		for _, f := range found {
			f.Removed = !ok
			if f.Phone == r.Phone && len(left) == 0 {
				f.PhoneChanged = ok && (len(p.Phones) == 0 || p.Phones[0] != r.Phone)
			} else { // a number the call-up went on from: changed once the person no longer has it
				f.PhoneChanged = ok && !slices.Contains(p.Phones, f.Phone)
			}
			out = append(out, f)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", last.ID, err)
	}
	slices.SortStableFunc(out, func(a, b RosterFailure) int {
		return cmp.Or(cmp.Compare(a.Kind.order(), b.Kind.order()), cmp.Compare(a.Person, b.Person))
	})
	return out, nil
}
