package drills

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// After-action review and improvement plan (AAR/IP): every run can carry
// findings — what happened, what should change, who owns the change and by
// when — whose status is followed until they are done or dropped.

// Command types of findings.
const (
	CmdFindingAdd    = "drill.finding.add"    // record a finding on a run
	CmdFindingUpdate = "drill.finding.update" // change the fields a person gave
)

// bFindings holds finding ID → Finding (JSON).
var bFindings = []byte("drill_findings")

// FindingID identifies a finding (F000001, ...).
type FindingID string

// FindingStatus is where an improvement item stands.
type FindingStatus string

// Finding statuses. Open and in progress are the open items; done and
// dropped close an item, and only reopening it (open or in progress) moves
// it on from there.
const (
	FindingOpen       FindingStatus = "open"        // recorded, nobody working on it yet
	FindingInProgress FindingStatus = "in_progress" // the owner is on it
	FindingDone       FindingStatus = "done"        // the change was made
	FindingDropped    FindingStatus = "dropped"     // decided not to make the change
)

// FindingStatuses lists the statuses in their usual order.
func FindingStatuses() []FindingStatus {
	return []FindingStatus{FindingOpen, FindingInProgress, FindingDone, FindingDropped}
}

var findingStatusNames = map[string]FindingStatus{
	"open": FindingOpen, "待处理": FindingOpen, "未开始": FindingOpen,
	"in_progress": FindingInProgress, "in-progress": FindingInProgress, "in progress": FindingInProgress, "进行中": FindingInProgress, "整改中": FindingInProgress,
	"done": FindingDone, "closed": FindingDone, "已完成": FindingDone, "已整改": FindingDone,
	"dropped": FindingDropped, "已放弃": FindingDropped, "不整改": FindingDropped,
}

// ParseFindingStatus accepts a status by its name (open, in_progress, done,
// dropped; also in-progress, closed and the Chinese names). Anything else
// is an EInvalid error listing the statuses.
func ParseFindingStatus(s string) (FindingStatus, error) {
	if st, ok := findingStatusNames[strings.ToLower(strings.TrimSpace(s))]; ok {
		return st, nil
	}
	return "", invalidf("status %q: want one of open, in_progress, done, dropped", s)
}

// Open reports whether an item with this status still needs work: open or
// in progress.
func (s FindingStatus) Open() bool { return s == FindingOpen || s == FindingInProgress }

// Closed reports whether the status closes an item: done or dropped.
func (s FindingStatus) Closed() bool { return s == FindingDone || s == FindingDropped }

// checkMove says whether an item may go from s to to: freely among the
// open statuses, from an open one to a closed one, and from a closed one
// only back to an open one (reopening). A refusal is EConflict and says
// what to do instead.
func (s FindingStatus) checkMove(id FindingID, to FindingStatus) error {
	if s == to || s.Open() || to.Open() {
		return nil
	}
	return conflictf("finding %s is %s: reopen it (status open) before marking it %s", id, s, to)
}

// Date is a calendar day written 2006-01-02; as text it sorts in date order.
type Date string

// dateLayout is how a Date is written.
const dateLayout = "2006-01-02"

// ParseDate reads a day written 2006-01-02 (a year from 2000 to 2999). The
// zero Date is returned for empty text; anything else is an EInvalid error
// showing the expected form.
func ParseDate(s string) (Date, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil || t.Year() < 2000 || t.Year() > 2999 {
		return "", invalidf("due %q: want a date written 2006-01-02, e.g. 2027-03-31", s)
	}
	return Date(t.Format(dateLayout)), nil
}

// DateOf is the calendar day of t in loc.
func DateOf(t time.Time, loc *time.Location) Date { return Date(t.In(loc).Format(dateLayout)) }

// daysBetween counts the days from a to b (negative when b is earlier);
// both are valid dates.
func daysBetween(a, b Date) int {
	ta, _ := time.Parse(dateLayout, string(a))
	tb, _ := time.Parse(dateLayout, string(b))
	return int(tb.Sub(ta) / (24 * time.Hour))
}

// Finding is one after-action finding of a run and its improvement item:
// what happened, what should change, who owns the change and when it is
// due, and where it stands. Plan is copied from the run, so findings can be
// listed per plan after the schedule is gone. ClosedAt is set while the
// status is done or dropped.
type Finding struct {
	ID        FindingID     `json:"id"`
	Run       RunID         `json:"run"`
	Plan      plans.PlanID  `json:"plan"`
	What      string        `json:"what"`
	Change    string        `json:"change"`
	Owner     string        `json:"owner,omitempty"`
	Due       Date          `json:"due,omitempty"`
	Status    FindingStatus `json:"status"`
	CreatedAt time.Time     `json:"created_at"`
	CreatedBy string        `json:"created_by"`
	UpdatedAt time.Time     `json:"updated_at"`
	UpdatedBy string        `json:"updated_by"`
	ClosedAt  time.Time     `json:"closed_at,omitzero"`
}

// Limits on a finding's text.
const (
	maxFindingText  = 4000 // bytes of What or Change
	maxFindingOwner = 100  // characters of Owner
)

// FindingInput records a finding as a person types it. Owner and Due may
// be left empty and given later; Status defaults to open.
type FindingInput struct {
	Run    RunID  `json:"run"`
	What   string `json:"what"`
	Change string `json:"change"`
	Owner  string `json:"owner,omitempty"`
	Due    string `json:"due,omitempty"` // 2006-01-02
	Status string `json:"status,omitempty"`
}

// FindingUpdate changes the fields it gives (non-nil) and keeps the rest.
// An empty Owner or Due clears it; What and Change cannot be emptied.
type FindingUpdate struct {
	What   *string `json:"what,omitempty"`
	Change *string `json:"change,omitempty"`
	Owner  *string `json:"owner,omitempty"`
	Due    *string `json:"due,omitempty"` // 2006-01-02, or "" to clear
	Status *string `json:"status,omitempty"`
}

// findingAdd is the payload of drill.finding.add.
type findingAdd struct {
	Input FindingInput `json:"input"`
}

// findingUpdate is the payload of drill.finding.update.
type findingUpdate struct {
	ID     FindingID     `json:"id"`
	Update FindingUpdate `json:"update"`
}

func findingText(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" && field == "what":
		return "", invalidf("what: say what happened in the drill (the observation)")
	case s == "":
		return "", invalidf("change: say what should change (the improvement), e.g. correct the phone numbers of grid 990101001")
	case len(s) > maxFindingText:
		return "", invalidf("%s: %d bytes, keep it within %d", field, len(s), maxFindingText)
	}
	return s, nil
}

func findingOwner(s string) (string, error) {
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n > maxFindingOwner {
		return "", invalidf("owner: %d characters, keep it within %d (a person or a unit)", n, maxFindingOwner)
	}
	return s, nil
}

// newFinding checks and normalizes an input into a finding without its
// identity, run and stamps. It is pure, so proposer and FSM agree.
func newFinding(in FindingInput) (Finding, error) {
	var f Finding
	var err error
	if strings.TrimSpace(string(in.Run)) == "" {
		return f, invalidf("run: name the drill run the finding is about, e.g. R000001")
	}
	f.Run = RunID(strings.TrimSpace(string(in.Run)))
	if f.What, err = findingText("what", in.What); err != nil {
		return f, err
	}
	if f.Change, err = findingText("change", in.Change); err != nil {
		return f, err
	}
	if f.Owner, err = findingOwner(in.Owner); err != nil {
		return f, err
	}
	if f.Due, err = ParseDate(in.Due); err != nil {
		return f, err
	}
	f.Status = FindingOpen
	if strings.TrimSpace(in.Status) != "" {
		if f.Status, err = ParseFindingStatus(in.Status); err != nil {
			return f, err
		}
	}
	return f, nil
}

// apply changes f by u as of command time t; changed is false when u
// changes nothing. It is pure, so proposer and FSM agree.
func (u FindingUpdate) apply(f Finding, t time.Time) (Finding, bool, error) {
	if u.What == nil && u.Change == nil && u.Owner == nil && u.Due == nil && u.Status == nil {
		return f, false, invalidf("finding %s: nothing to change: give at least one of what, change, owner, due or status", f.ID)
	}
	old := f
	var err error
	if u.What != nil {
		if f.What, err = findingText("what", *u.What); err != nil {
			return old, false, err
		}
	}
	if u.Change != nil {
		if f.Change, err = findingText("change", *u.Change); err != nil {
			return old, false, err
		}
	}
	if u.Owner != nil {
		if f.Owner, err = findingOwner(*u.Owner); err != nil {
			return old, false, err
		}
	}
	if u.Due != nil {
		if f.Due, err = ParseDate(*u.Due); err != nil {
			return old, false, err
		}
	}
	if u.Status != nil {
		to, err := ParseFindingStatus(*u.Status)
		if err != nil {
			return old, false, err
		}
		if err := f.Status.checkMove(f.ID, to); err != nil {
			return old, false, err
		}
		switch {
		case to.Closed() && !f.Status.Closed():
			f.ClosedAt = t
		case to.Open():
			f.ClosedAt = time.Time{}
		}
		f.Status = to
	}
	return f, f != old, nil
}

func getFinding(tx *bolt.Tx, id FindingID) (Finding, error) {
	return getRecord[Finding](tx, bFindings, string(id), "finding")
}

func putFinding(tx *bolt.Tx, f *Finding) error { return putRecord(tx, bFindings, string(f.ID), f) }

func applyFindingAdd(tx *bolt.Tx, c *muster.Command) (any, error) {
	var p findingAdd
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		return nil, invalidf("drill finding: %v", err)
	}
	f, err := newFinding(p.Input)
	if err != nil {
		return nil, err
	}
	r, err := getRun(tx, f.Run)
	if muster.IsCode(err, muster.ENotFound) {
		return nil, muster.Errorf(muster.ENotFound, "finding: drill run %s does not exist (list the runs with muster drill runs)", f.Run)
	} else if err != nil {
		return nil, err
	}
	id, err := newID(tx, bFindings, "F")
	if err != nil {
		return nil, err
	}
	f.ID = FindingID(id)
	f.Plan = r.Plan
	f.CreatedAt, f.CreatedBy, f.UpdatedAt, f.UpdatedBy = c.Time, c.Actor, c.Time, c.Actor
	if f.Status.Closed() {
		f.ClosedAt = c.Time
	}
	return f, putFinding(tx, &f)
}

func applyFindingUpdate(tx *bolt.Tx, c *muster.Command) (any, error) {
	var p findingUpdate
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		return nil, invalidf("drill finding update: %v", err)
	}
	f, err := getFinding(tx, p.ID)
	if err != nil {
		return nil, err
	}
	f, changed, err := p.Update.apply(f, c.Time)
	if err != nil || !changed {
		return f, err
	}
	f.UpdatedAt, f.UpdatedBy = c.Time, c.Actor
	return f, putFinding(tx, &f)
}

// AddFinding records a finding on a run. Bad input is EInvalid and names
// the field (empty what or change, a status not among open, in_progress,
// done, dropped, a due date not written 2006-01-02); an unknown run is
// ENotFound. The finding gets the next ID and the run's plan.
func (s *Service) AddFinding(ctx context.Context, actor string, in FindingInput) (Finding, error) {
	var out Finding
	f, err := newFinding(in)
	if err != nil {
		return out, err
	}
	if err := s.notPast(f.Due); err != nil {
		return out, err
	}
	err = s.propose(ctx, CmdFindingAdd, actor, findingAdd{Input: in}, &out)
	return out, err
}

// UpdateFinding changes the fields u gives and nothing else. Closing an
// item (done, dropped) stamps ClosedAt and reopening it clears it; a closed
// item cannot go straight to the other closed status (EConflict). An
// update that changes nothing returns the finding as it was.
func (s *Service) UpdateFinding(ctx context.Context, actor string, id FindingID, u FindingUpdate) (Finding, error) {
	var out Finding
	if _, _, err := u.apply(Finding{ID: id, What: "-", Change: "-", Status: FindingOpen}, time.Time{}); err != nil && !muster.IsCode(err, muster.EConflict) {
		return out, err // bad input; whether the move is allowed is the FSM's to say
	}
	if u.Due != nil {
		due, _ := ParseDate(*u.Due) // checked by apply
		if err := s.notPast(due); err != nil {
			return out, err
		}
	}
	err := s.propose(ctx, CmdFindingUpdate, actor, findingUpdate{ID: id, Update: u}, &out)
	return out, err
}

// notPast refuses a due date before today (in DefaultTimeZone): an
// improvement item is due when the change is to be made, so a date already
// gone is a typing error (2025 for 2027). Today itself is allowed. The
// check is the proposer's, on its clock; the FSM takes any valid date.
func (s *Service) notPast(due Date) error {
	if due == "" {
		return nil
	}
	loc, err := loadZone(DefaultTimeZone)
	if err != nil {
		return err
	}
	if today := DateOf(s.clock.Now(), loc); due < today {
		return invalidf("due %s is in the past (today is %s): give the day the change is to be made by", due, today)
	}
	return nil
}

// Finding reads one finding; an unknown ID is ENotFound.
func (s *Service) Finding(ctx context.Context, level muster.Consistency, id FindingID) (Finding, error) {
	var out Finding
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		var err error
		out, err = getFinding(tx, id)
		return err
	})
	return out, err
}

// FindingFilter narrows a list of findings; empty fields match everything.
// OpenOnly keeps the items still needing work (open and in progress).
type FindingFilter struct {
	Run      RunID
	Plan     plans.PlanID
	Status   FindingStatus
	OpenOnly bool
}

func (f FindingFilter) match(x Finding) bool {
	return (f.Run == "" || x.Run == f.Run) && (f.Plan == "" || x.Plan == f.Plan) &&
		(f.Status == "" || x.Status == f.Status) && (!f.OpenOnly || x.Status.Open())
}

// Findings lists findings by ID (oldest first), a page at a time. A status
// in the filter that is not one of the four is EInvalid; a run or plan
// that does not exist is ENotFound.
func (s *Service) Findings(ctx context.Context, level muster.Consistency, f FindingFilter, page plans.Page) (plans.List[Finding], error) {
	out := plans.List[Finding]{Items: []Finding{}}
	if f.Status != "" && !slices.Contains(FindingStatuses(), f.Status) {
		return out, invalidf("status %q: want one of open, in_progress, done, dropped", f.Status)
	}
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		if err := knownRun(tx, f.Run); err != nil {
			return err
		}
		if err := knownPlan(tx, f.Plan); err != nil {
			return err
		}
		var err error
		out, err = listJSON[Finding](tx.Bucket(bFindings), page, f.match)
		return err
	})
	return out, err
}

// OpenFinding is an open improvement item as of a given time: Overdue when
// its due date is before that day (in DefaultTimeZone), by DaysOverdue days.
type OpenFinding struct {
	Finding
	Overdue     bool `json:"overdue"`
	DaysOverdue int  `json:"days_overdue,omitempty"`
}

// PlanFindings are a plan's open improvement items, earliest due first
// (items without a due date last, then by ID), and how many are overdue.
type PlanFindings struct {
	Plan    plans.PlanID  `json:"plan"`
	Items   []OpenFinding `json:"items"`
	Overdue int           `json:"overdue"`
}

// OpenFindings lists the open items (open and in progress) per plan, plans
// in ID order, each sorted by due date, with items whose due day has
// passed at now flagged. plan, when given, keeps that plan only (a plan
// that does not exist is ENotFound); plans without open items are left out.
func (s *Service) OpenFindings(ctx context.Context, level muster.Consistency, plan plans.PlanID, now time.Time) ([]PlanFindings, error) {
	loc, err := loadZone(DefaultTimeZone)
	if err != nil {
		return nil, err
	}
	var all []Finding
	err = s.view.View(ctx, level, func(tx *bolt.Tx) error {
		all = nil
		if err := knownPlan(tx, plan); err != nil {
			return err
		}
		return forEachRecord(tx, bFindings, "finding", func(f Finding) error {
			if f.Status.Open() && (plan == "" || f.Plan == plan) {
				all = append(all, f)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return groupOpenFindings(all, DateOf(now, loc)), nil
}

// groupOpenFindings groups open findings by plan and flags those due
// before today.
func groupOpenFindings(all []Finding, today Date) []PlanFindings {
	byPlan := map[plans.PlanID]*PlanFindings{}
	var ids []plans.PlanID
	for _, f := range all {
		pf := byPlan[f.Plan]
		if pf == nil {
			pf = &PlanFindings{Plan: f.Plan}
			byPlan[f.Plan] = pf
			ids = append(ids, f.Plan)
		}
		o := OpenFinding{Finding: f}
		if f.Due != "" && f.Due < today {
			o.Overdue, o.DaysOverdue = true, daysBetween(f.Due, today)
			pf.Overdue++
		}
		pf.Items = append(pf.Items, o)
	}
	slices.Sort(ids)
	out := make([]PlanFindings, 0, len(ids))
	for _, id := range ids {
		pf := byPlan[id]
		slices.SortFunc(pf.Items, func(a, b OpenFinding) int {
			if (a.Due == "") != (b.Due == "") {
				if a.Due == "" {
					return 1
				}
				return -1
			}
			return cmp.Or(cmp.Compare(a.Due, b.Due), cmp.Compare(a.ID, b.ID))
		})
		out = append(out, *pf)
	}
	return out
}
