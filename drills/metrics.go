package drills

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/notify"
	"muster/plans"
)

// CategoryUnknown is the roster category counted for a recipient who is no
// longer in the roster when the metrics are read.
const CategoryUnknown plans.Category = "unknown"

// Checkpoint is how far a call-up had got Minutes after it started: the
// recipients reached, acknowledged and declined at or before that moment,
// and their share of the row's recipients.
type Checkpoint struct {
	Minutes int `json:"minutes"`
	// Passed is set once the counts are final: the checkpoint lies at or
	// before the metrics' AsOf, or the call-up stood down before it (Cut).
	// Until then the counts are still growing. (notify.AckBy.Reached.)
	Passed bool `json:"passed"`
	// Cut is set when the call-up stood down before the checkpoint: the
	// counts are final, but they count up to the stand-down, not to
	// T+Minutes (notify.AckBy.Cut).
	Cut         bool    `json:"cut,omitempty"`
	Reached     int     `json:"reached"`
	ReachedPct  float64 `json:"reached_pct"`
	Acked       int     `json:"acked"`
	AckedPct    float64 `json:"acked_pct"`
	Declined    int     `json:"declined"`
	DeclinedPct float64 `json:"declined_pct"`
}

// AckTimes summarises the time from the start of the call-up to each
// acknowledgement: N acknowledgements with a recorded time, the
// nearest-rank 50th and 90th percentiles (the value at rank ⌈p·N/100⌉ of
// the times sorted ascending) and the longest. All zero when N is 0.
type AckTimes struct {
	N   int            `json:"n"`
	P50 plans.Duration `json:"p50"`
	P90 plans.Duration `json:"p90"`
	Max plans.Duration `json:"max"`
}

// Tally is one row of a run's metrics: every recipient, or those of one
// region, grid, role slot or roster category. Unanswered counts those who
// neither answered nor failed (Recipients − Acked − Declined − Failed);
// percentages are of Recipients, rounded to one decimal.
type Tally struct {
	// Key is the region or grid code, the role slot's index, or the
	// category; empty for the total.
	Key  string `json:"key,omitempty"`
	Name string `json:"name,omitempty"`
	// NameEN is a role slot's English name (the plan's name_en, which
	// English speakers' messages say), when it has one; an English report
	// says it.
	NameEN string `json:"name_en,omitempty"`
	// Path names the regions above a region or grid, below the city, top
	// down; Group is a role slot's group.
	Path  string `json:"path,omitempty"`
	Group string `json:"group,omitempty"`
	// Outside marks a region outside every activated region (people called
	// up by roles that reach the whole plan).
	Outside bool `json:"outside,omitempty"`

	Recipients    int     `json:"recipients"`
	Reached       int     `json:"reached"`
	Acked         int     `json:"acked"`
	Declined      int     `json:"declined"`
	Failed        int     `json:"failed"`
	Unanswered    int     `json:"unanswered"`
	ReachedPct    float64 `json:"reached_pct"`
	AckedPct      float64 `json:"acked_pct"`
	DeclinedPct   float64 `json:"declined_pct"`
	FailedPct     float64 `json:"failed_pct"`
	UnansweredPct float64 `json:"unanswered_pct"`
	// Checkpoints are the counts at T+5, T+15 and T+30 minutes.
	Checkpoints []Checkpoint `json:"checkpoints"`
	AckTime     AckTimes     `json:"ack_time"`
}

// Outcome is what became of one recipient of a run.
type Outcome struct {
	Person plans.PersonID `json:"person"`
	// ExternalID is the person's 编号 in the roster file now (empty when
	// they have none, or are no longer in the roster); Phone the number
	// the call-up went to: what a trainer fixes the roster file by.
	ExternalID string           `json:"external_id,omitempty"`
	Name       string           `json:"name"`
	Phone      string           `json:"phone,omitempty"`
	Grid       plans.RegionCode `json:"grid"`
	// GridName is the grid's name and Region the name of the region it
	// rolls up into (empty for a grid no longer in the region tree).
	GridName string `json:"grid_name,omitempty"`
	Region   string `json:"region,omitempty"`
	// Roles are the names of the role slots the recipient filled, in slot
	// order.
	Roles []string `json:"roles"`
	// Category is the recipient's roster category now, CategoryUnknown
	// when they are no longer in the roster.
	Category plans.Category `json:"category"`
	State    notify.State   `json:"state"`
	Reached  time.Time      `json:"reached,omitzero"`
	Answered time.Time      `json:"answered,omitzero"`
	// ToAck is Answered − Start for an acknowledgement; zero otherwise.
	// For a backup the escalation called up in place of a silent person
	// (BackupFor) it counts from when their own call-up reached them.
	ToAck plans.Duration `json:"to_ack,omitempty"`
	// BackupFor is, for a backup the escalation called up in place of a
	// silent person, whom they stand in for: they are counted in that
	// person's grid (Grid, GridName, Region), and OwnGrid is their own.
	BackupFor *notify.StandIn  `json:"backup_for,omitempty"`
	OwnGrid   plans.RegionCode `json:"own_grid,omitempty"`
	Reason    string           `json:"reason,omitempty"` // a decline's reason
	Code      int              `json:"code,omitempty"`   // the last provider error code
	Error     string           `json:"error,omitempty"`  // the last provider error
}

// CurvePoint is how many recipients had been reached, had acknowledged and
// had declined by Second seconds after the start. Minute is the same time
// in whole minutes, rounded down: with a step under a minute, several
// points share a Minute.
type CurvePoint struct {
	Minute   int `json:"minute"`
	Second   int `json:"second"`
	Reached  int `json:"reached"`
	Acked    int `json:"acked"`
	Declined int `json:"declined"`
}

// Curve is the cumulative counts over time, a point every StepSeconds
// from the start to the first point at or after End (at most
// maxCurvePoints+1 points). The step is the shortest of 5, 10, 15 and 30
// seconds, 1, 2, 5, 10, 15 and 30 minutes, 1, 2, 4, 6, 12 and 24 hours (or
// a whole number of days) that keeps within that bound: 5 seconds for a
// span up to 10 minutes, 30 seconds up to an hour, a minute up to two.
// The counts are exact at each point; between two points they are not
// known, only that they did not go down.
type Curve struct {
	// StepMinutes is the step in whole minutes: 0 when it is under a
	// minute.
	StepMinutes int          `json:"step_minutes"`
	StepSeconds int          `json:"step_seconds"`
	Points      []CurvePoint `json:"points"`
}

// Metrics is how fast the people called up by a drill run reported. It is
// computed from the run's EXERCISE activation in one read transaction, and
// depends only on that state and AsOf.
//
// A recipient counts as reached once a delivery report or a reply came
// (notify.Attempt.Reached), as acknowledged or declined when their state is
// acked or declined (at the time of their answer, Attempt.Answered), as
// failed when their state is failed. The counts are the recorded state;
// AsOf says which checkpoints have passed and ends the curve of a run still
// open. Events count at a checkpoint T+m when they happened at most m
// minutes after Start.
type Metrics struct {
	Run          RunID              `json:"run"`
	Schedule     ScheduleID         `json:"schedule"`
	Activation   plans.ActivationID `json:"activation"`
	Purpose      notify.Purpose     `json:"purpose"` // always EXERCISE for a drill
	Status       notify.Status      `json:"status"`  // the activation's
	Plan         plans.PlanID       `json:"plan"`
	PlanVersion  int                `json:"plan_version"`
	PlanTitle    string             `json:"plan_title"`
	PlanTitleEN  string             `json:"plan_title_en,omitempty"`
	Title        string             `json:"title"` // the scenario
	Type         ExerciseType       `json:"type"`
	Level        plans.LevelCode    `json:"level"`
	LevelName    string             `json:"level_name"`
	Regions      []plans.RegionCode `json:"regions"`
	RegionNames  string             `json:"region_names"`
	Units        []string           `json:"units,omitempty"`
	Participants int                `json:"participants"`
	// LeftOut counts the people the run's call-up did not drill because a
	// LIVE call-up called them up for real: left out when it started, or
	// taken off it when the LIVE call-up started. Those not yet sent to are
	// not among the recipients measured; those already sent to stay, with
	// their escalation ended.
	LeftOut  int  `json:"left_out,omitempty"`
	Manual   bool `json:"manual,omitempty"`
	NoNotice bool `json:"no_notice,omitempty"`
	// Retraction is set when the run's call-up was retracted (muster
	// retract): it went out by mistake, its sends stopped, and a correction
	// told the people it reached to ignore it. StoppedBy is the LIVE
	// call-up that stood the drill down when it started over its regions.
	// Either way the drill was cut short, not held.
	Retraction *notify.Retraction `json:"retraction,omitempty"`
	StoppedBy  plans.ActivationID `json:"stopped_by,omitempty"`
	// Simulated is set when the leader sent the run's call-up through the
	// built-in simulator (notify.Activation.Simulated): no phone was
	// reached (模拟器发送，未到达任何手机), its reached, answered and silent
	// figures are the simulator's, and it is not a drill held.
	Simulated bool `json:"simulated,omitempty"`

	// Start is when the call-up started; End is the earlier of its
	// stand-down and AsOf (AsOf for a run still open), never before Start.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	AsOf  time.Time `json:"as_of"`
	// Checkpoints are the minutes of every row's Checkpoints, in order.
	Checkpoints []int `json:"checkpoints"`

	Total Tally `json:"total"`
	// ByRegion rolls grids up one level below the activated regions, as the
	// 报到 board does (grids no longer in the region tree roll up nowhere),
	// by code; ByGrid has every grid with recipients, by code; ByRole every
	// role slot of the level, in plan order (a recipient in two roles counts
	// in both); ByCategory the roster categories met, in the roster's order
	// with CategoryUnknown last.
	ByRegion   []Tally `json:"by_region"`
	ByGrid     []Tally `json:"by_grid"`
	ByRole     []Tally `json:"by_role"`
	ByCategory []Tally `json:"by_category"`
	// NoAnswer lists everyone who neither acknowledged nor declined —
	// the failed and the unanswered — by grid code, name and person ID.
	NoAnswer []Outcome `json:"no_answer"`
	Curve    Curve     `json:"curve"`
}

// TrendRow is one started run of a plan, summed up for comparison with the
// plan's other runs.
type TrendRow struct {
	Run          RunID              `json:"run"`
	Activation   plans.ActivationID `json:"activation"`
	Start        time.Time          `json:"start"`
	Type         ExerciseType       `json:"type"`
	Level        plans.LevelCode    `json:"level"`
	Regions      []plans.RegionCode `json:"regions"`
	Participants int                `json:"participants"`
	NoNotice     bool               `json:"no_notice,omitempty"`
	// Retracted marks a run whose call-up was retracted as a mistake, and
	// StoppedBy names the LIVE call-up that stood it down.
	Retracted bool               `json:"retracted,omitempty"`
	StoppedBy plans.ActivationID `json:"stopped_by,omitempty"`
	// StoodDownAt is when the run's call-up stood down (zero while it is
	// open): its figures are final.
	StoodDownAt time.Time `json:"stood_down_at,omitzero"`
	// CutShort marks a run cut short rather than held (see Overdue):
	// retracted, stopped by a LIVE call-up, or stood down by hand before
	// MinHeld (or its length) was over. Its figures are not a drill's.
	CutShort bool `json:"cut_short,omitempty"`
	// Simulated marks a run sent through the built-in simulator: no phone
	// was reached, and it is not a drill held.
	Simulated bool  `json:"simulated,omitempty"`
	Total     Tally `json:"total"`
	// TimeZone is the run's schedule's, in which its times are shown
	// (empty for runs recorded before runs kept it).
	TimeZone string `json:"time_zone,omitempty"`
}

// Report is everything a drill report shows, read in one transaction:
// the run, its metrics, the trend of its plan's runs, and every recipient's
// outcome (by person ID), with the time zone its times are shown in.
type Report struct {
	Run      Run        `json:"run"`
	Metrics  Metrics    `json:"metrics"`
	Trend    []TrendRow `json:"trend"`
	People   []Outcome  `json:"people"`
	TimeZone string     `json:"time_zone"`
}

// Metrics computes the metrics of run id as of asOf. A run that did not
// start (missed or failed) has none: EConflict. An unknown run is
// ENotFound.
func (s *Service) Metrics(ctx context.Context, level muster.Consistency, id RunID, asOf time.Time) (Metrics, error) {
	var out Metrics
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		r, err := getRun(tx, id)
		if err != nil {
			return err
		}
		out, _, err = measure(tx, r, asOf, true)
		return err
	})
	return out, err
}

// Trend compares every started run of plan, oldest first; checkpoints are
// marked passed as of the service's clock. A plan without runs has an
// empty trend; a plan that does not exist is ENotFound.
func (s *Service) Trend(ctx context.Context, level muster.Consistency, plan plans.PlanID) ([]TrendRow, error) {
	var out []TrendRow
	now := s.clock.Now()
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		if err := knownPlan(tx, plan); err != nil {
			return err
		}
		var err error
		out, err = trend(tx, plan, now, nil)
		return err
	})
	return out, err
}

// Report reads everything the report of run id shows, as of asOf: its
// metrics, its plan's trend, every recipient's outcome, and the time zone
// of its schedule (DefaultTimeZone when the schedule is gone). Errors as
// Metrics.
func (s *Service) Report(ctx context.Context, level muster.Consistency, id RunID, asOf time.Time) (Report, error) {
	var out Report
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		r, err := getRun(tx, id)
		if err != nil {
			return err
		}
		m, people, err := measure(tx, r, asOf, true)
		if err != nil {
			return err
		}
		tr, err := trend(tx, r.Plan, asOf, &m)
		if err != nil {
			return err
		}
		out = Report{Run: r, Metrics: m, Trend: tr, People: people, TimeZone: DefaultTimeZone}
		if sc, err := getSchedule(tx, r.Schedule); err == nil && sc.TimeZone != "" {
			out.TimeZone = sc.TimeZone
		}
		return nil
	})
	return out, err
}

// trend sums up every started run of plan; cur, when set, is the metrics
// of one of them already computed.
func trend(tx *bolt.Tx, plan plans.PlanID, asOf time.Time, cur *Metrics) ([]TrendRow, error) {
	out := []TrendRow{}
	err := forEachRun(tx, func(r Run) error {
		if r.Plan != plan || r.Status != RunStarted || r.Activation == "" {
			return nil
		}
		m := cur
		if m == nil || m.Run != r.ID {
			got, _, err := measure(tx, r, asOf, false)
			if err != nil {
				return fmt.Errorf("trend of plan %s: %w", plan, err)
			}
			m = &got
		}
		row := TrendRow{Run: r.ID, Activation: r.Activation, Start: m.Start, Type: r.Type, Level: r.Level,
			Regions: r.Regions, Participants: r.Participants, NoNotice: r.NoNotice, Retracted: m.Retraction != nil,
			StoppedBy: m.StoppedBy, CutShort: cutShort(tx, &r), Simulated: m.Simulated, Total: m.Total, TimeZone: r.TimeZone}
		if a, err := notify.GetActivation(tx, r.Activation); err == nil && !a.StoodDownAt.IsZero() && !a.StoodDownAt.After(asOf) {
			row.StoodDownAt = a.StoodDownAt
		}
		out = append(out, row)
		return nil
	})
	slices.SortStableFunc(out, func(a, b TrendRow) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Run, b.Run))
	})
	return out, err
}

// row is one recipient as measure reads them.
type row struct {
	person plans.PersonID
	name   string
	grid   plans.RegionCode // their own: the roster's
	// counted is the grid they are counted in: their own, or, for a
	// backup standing in for someone (backupFor), that person's.
	counted   plans.RegionCode
	backupFor *notify.StandIn
	roles     []int
	state     notify.State
	reached   time.Time
	answered  time.Time
	reason    string
	code      int
	err       string
	category  plans.Category
	external  string // the roster's 编号 now
	phone     string
}

func (r *row) fill(rc *notify.Recipient) {
	*r = row{person: rc.Person, name: rc.Name, grid: rc.Grid, counted: rc.Grid, roles: rc.Roles, state: rc.State, phone: rc.Phone}
	if b := rc.BackupFor; b != nil {
		r.backupFor = b
		if b.Grid != "" {
			r.counted = b.Grid
		}
	}
	if a := rc.Attempt; a != nil {
		r.reached, r.answered, r.reason, r.code, r.err = a.Reached, a.Answered, a.Reason, a.Code, a.Error
	}
}

// toAck is how long r, who acknowledged, took to: from the call-up's
// start, or, for a backup standing in for someone, from when their own
// call-up reached them (it went out when the escalation called them up).
func (r *row) toAck(cx *calc) time.Duration {
	if r.backupFor != nil && !r.reached.IsZero() && !r.answered.Before(r.reached) {
		return r.answered.Sub(r.reached)
	}
	return cx.since(r.answered)
}

// lookupLimit is the number of recipients up to which categories are read
// person by person; above it one scan of the roster is cheaper.
const lookupLimit = 2000

// maxCurvePoints bounds the ack curve; its step grows to fit.
const maxCurvePoints = 120

// curveSteps are the steps the curve may take, shortest first.
var curveSteps = []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 4 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

// curveStep is the shortest of curveSteps that covers span in at most
// maxCurvePoints steps; past the longest, the fewest whole days that do.
func curveStep(span time.Duration) time.Duration {
	for _, s := range curveSteps {
		if span <= s*maxCurvePoints {
			return s
		}
	}
	day := curveSteps[len(curveSteps)-1]
	return day * ((span + day*maxCurvePoints - 1) / (day * maxCurvePoints))
}

// measure computes run r's metrics as of asOf. With full unset only the
// run's facts and Total are filled (for a trend), and no outcomes returned.
func measure(tx *bolt.Tx, r Run, asOf time.Time, full bool) (Metrics, []Outcome, error) {
	if r.Status != RunStarted || r.Activation == "" {
		return Metrics{}, nil, conflictf("drill run %s did not start (%s): it has no call-up to measure", r.ID, r.Status)
	}
	a, err := notify.GetActivation(tx, r.Activation)
	if err != nil {
		return Metrics{}, nil, err
	}
	m := Metrics{Run: r.ID, Schedule: r.Schedule, Activation: a.ID, Purpose: a.Purpose, Status: a.Status,
		Plan: a.Plan, PlanVersion: a.PlanVersion, PlanTitle: a.PlanTitle, PlanTitleEN: a.PlanTitleEN, Title: r.Title,
		Type: r.Type, Level: a.Level, LevelName: a.LevelName, Regions: a.Regions, RegionNames: a.RegionNames,
		Units: r.Units, Participants: r.Participants, LeftOut: a.LeftOut, Manual: r.Manual, NoNotice: r.NoNotice,
		Retraction: a.Retraction, StoppedBy: a.StoppedBy, Simulated: a.Simulated,
		Start: a.Start(), AsOf: asOf.UTC(), Checkpoints: notify.AckCheckpoints(),
		ByRegion: []Tally{}, ByGrid: []Tally{}, ByRole: []Tally{}, ByCategory: []Tally{}, NoAnswer: []Outcome{}}
	m.End = m.AsOf
	if !a.StoodDownAt.IsZero() && a.StoodDownAt.Before(asOf) {
		m.End = a.StoodDownAt
	}
	if m.End.Before(m.Start) {
		m.End = m.Start
	}
	cx := &calc{start: m.Start, asOf: asOf, cps: m.Checkpoints}
	if !a.StoodDownAt.IsZero() && !a.StoodDownAt.After(asOf) {
		cx.stoodDown = a.StoodDownAt
	}

	var rows []row
	if full {
		rows = make([]row, 0, a.Recipients)
	}
	total := cx.newAgg()
	if err := notify.ForEachRecipient(tx, a.ID, func(rc *notify.Recipient) error {
		var rw row
		rw.fill(rc)
		if full {
			rows = append(rows, rw)
		} else {
			total.add(cx, &rw)
		}
		return nil
	}); err != nil {
		return m, nil, err
	}
	if !full {
		m.Total = total.tally(cx, "", "")
		return m, nil, nil
	}
	if err := joinCategories(tx, rows); err != nil {
		return m, nil, err
	}

	// The grids met, placed as on the board.
	var gridCodes []plans.RegionCode
	grids := map[plans.RegionCode]*agg{}
	for i := range rows {
		if grids[rows[i].counted] == nil {
			grids[rows[i].counted] = cx.newAgg()
			gridCodes = append(gridCodes, rows[i].counted)
		}
	}
	slices.Sort(gridCodes)
	places, err := notify.PlaceGrids(tx, a.Regions, gridCodes)
	if err != nil {
		return m, nil, err
	}

	roles := make([]*agg, len(a.Roles))
	for i := range roles {
		roles[i] = cx.newAgg()
	}
	cats := map[plans.Category]*agg{}
	var acks, reach, decl []time.Duration
	names := roleNames{slots: a.Roles, cache: map[string][]string{}}
	people := make([]Outcome, 0, len(rows))
	for i := range rows {
		rw := &rows[i]
		total.add(cx, rw)
		grids[rw.counted].add(cx, rw)
		for _, ri := range rw.roles {
			if ri >= 0 && ri < len(roles) {
				roles[ri].add(cx, rw)
			}
		}
		c := cats[rw.category]
		if c == nil {
			c = cx.newAgg()
			cats[rw.category] = c
		}
		c.add(cx, rw)
		if !rw.reached.IsZero() {
			reach = append(reach, cx.since(rw.reached))
		}
		switch {
		case rw.state == notify.StateAcked && !rw.answered.IsZero():
			acks = append(acks, cx.since(rw.answered))
		case rw.state == notify.StateDeclined && !rw.answered.IsZero():
			decl = append(decl, cx.since(rw.answered))
		}
		p := places[rw.counted]
		o := Outcome{Person: rw.person, ExternalID: rw.external, Name: rw.name, Phone: rw.phone, Grid: rw.counted, GridName: p.Name, Roles: names.of(rw.roles),
			Category: rw.category, State: rw.state, Reached: rw.reached, Answered: rw.answered,
			Reason: rw.reason, Code: rw.code, Error: rw.err, BackupFor: rw.backupFor}
		if rw.backupFor != nil {
			o.OwnGrid = rw.grid
		}
		if p.Known {
			o.Region = p.Rollup.Name
		}
		if rw.state == notify.StateAcked && !rw.answered.IsZero() {
			o.ToAck = plans.Duration(rw.toAck(cx))
		}
		people = append(people, o)
	}
	m.Total = total.tally(cx, "", "")

	ups := map[plans.RegionCode]*agg{}
	upRows := map[plans.RegionCode]Tally{}
	for _, g := range gridCodes {
		p := places[g]
		t := grids[g].tally(cx, string(g), p.Name)
		t.Path = p.Path
		m.ByGrid = append(m.ByGrid, t)
		if !p.Known {
			continue
		}
		up := p.Rollup.Code
		if ups[up] == nil {
			ups[up] = cx.newAgg()
			upRows[up] = Tally{Key: string(up), Name: p.Rollup.Name, Path: p.RollupPath, Outside: p.Outside}
		}
		ups[up].merge(grids[g])
	}
	for _, up := range slices.Sorted(maps.Keys(ups)) {
		base := upRows[up]
		t := ups[up].tally(cx, base.Key, base.Name)
		t.Path, t.Outside = base.Path, base.Outside
		m.ByRegion = append(m.ByRegion, t)
	}
	for i, slot := range a.Roles {
		t := roles[i].tally(cx, strconv.Itoa(slot.Index), slot.Name)
		t.Group, t.NameEN = slot.Group, slot.NameEN
		m.ByRole = append(m.ByRole, t)
	}
	for _, c := range categoryOrder(cats) {
		m.ByCategory = append(m.ByCategory, cats[c].tally(cx, string(c), string(c)))
	}

	// Sorted by index: an Outcome is too big to move around.
	var silent []int32
	for i := range people {
		if s := people[i].State; s != notify.StateAcked && s != notify.StateDeclined {
			silent = append(silent, int32(i))
		}
	}
	slices.SortFunc(silent, func(i, j int32) int {
		a, b := &people[i], &people[j]
		return cmp.Or(cmp.Compare(a.Grid, b.Grid), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Person, b.Person))
	})
	m.NoAnswer = make([]Outcome, len(silent))
	for k, i := range silent {
		m.NoAnswer[k] = people[i]
	}
	m.Curve = cx.curve(m.End, reach, acks, decl)
	return m, people, nil
}

// joinCategories sets each row's category and external ID from the
// current roster: CategoryUnknown for people no longer in it. rows are in
// person ID order.
func joinCategories(tx *bolt.Tx, rows []row) error {
	for i := range rows {
		rows[i].category = CategoryUnknown
	}
	if len(rows) <= lookupLimit {
		for i := range rows {
			p, ok, err := plans.GetPerson(tx, rows[i].person)
			if err != nil {
				return err
			}
			if ok {
				rows[i].category, rows[i].external = p.Category, p.ExternalID
			}
		}
		return nil
	}
	// Recipients and roster are both in person ID order: one merged scan,
	// skipping the grids nobody was called up in.
	grids := map[plans.RegionCode]bool{}
	for i := range rows {
		grids[rows[i].grid] = true
	}
	i := 0
	return plans.ForEachPerson(tx, func(g plans.RegionCode) bool { return grids[g] }, func(p *plans.PersonRecord) error {
		for i < len(rows) && string(rows[i].person) < string(p.ID) {
			i++
		}
		if i < len(rows) && string(rows[i].person) == string(p.ID) {
			rows[i].category = p.Category
			full, err := p.Person()
			if err != nil {
				return err
			}
			rows[i].external = full.ExternalID
		}
		return nil
	})
}

// categoryOrder lists the categories met: the roster's own in its order,
// then any other by name, then CategoryUnknown.
func categoryOrder(cats map[plans.Category]*agg) []plans.Category {
	var out []plans.Category
	for _, c := range plans.Categories() {
		if cats[c] != nil {
			out = append(out, c)
		}
	}
	var rest []plans.Category
	for c := range cats {
		if c != CategoryUnknown && !slices.Contains(out, c) {
			rest = append(rest, c)
		}
	}
	slices.Sort(rest)
	out = append(out, rest...)
	if cats[CategoryUnknown] != nil {
		out = append(out, CategoryUnknown)
	}
	return out
}

// roleNames turns a recipient's role indices into slot names, sharing one
// slice between everyone with the same roles.
type roleNames struct {
	slots []notify.RoleSlot
	cache map[string][]string
	key   []byte
}

func (n *roleNames) of(roles []int) []string {
	n.key = n.key[:0]
	for _, i := range roles {
		n.key = binary.AppendUvarint(n.key, uint64(i))
	}
	if s, ok := n.cache[string(n.key)]; ok {
		return s
	}
	s := make([]string, 0, len(roles))
	for _, i := range roles {
		if i >= 0 && i < len(n.slots) {
			s = append(s, n.slots[i].Name)
		}
	}
	n.cache[string(n.key)] = s
	return s
}

// calc holds what every tally of one run is measured against.
type calc struct {
	start     time.Time
	asOf      time.Time
	stoodDown time.Time // when the call-up stood down, if by asOf
	cps       []int     // minutes
}

// since is how long after the start t was (never negative).
func (cx *calc) since(t time.Time) time.Duration { return max(0, t.Sub(cx.start)) }

// agg accumulates one tally's recipients.
type agg struct {
	n, reached, acked, declined, failed int
	cpReached, cpAcked, cpDeclined      []int
	toAck                               []time.Duration
}

func (cx *calc) newAgg() *agg {
	k := len(cx.cps)
	return &agg{cpReached: make([]int, k), cpAcked: make([]int, k), cpDeclined: make([]int, k)}
}

func (g *agg) add(cx *calc, r *row) {
	g.n++
	within := func(t time.Time, counts []int) {
		d := cx.since(t)
		for i, m := range cx.cps {
			if d <= time.Duration(m)*time.Minute {
				counts[i]++
			}
		}
	}
	if !r.reached.IsZero() {
		g.reached++
		within(r.reached, g.cpReached)
	}
	switch r.state {
	case notify.StateAcked:
		g.acked++
		if !r.answered.IsZero() {
			within(r.answered, g.cpAcked)
			g.toAck = append(g.toAck, r.toAck(cx))
		}
	case notify.StateDeclined:
		g.declined++
		if !r.answered.IsZero() {
			within(r.answered, g.cpDeclined)
		}
	case notify.StateFailed:
		g.failed++
	}
}

func (g *agg) merge(o *agg) {
	g.n += o.n
	g.reached += o.reached
	g.acked += o.acked
	g.declined += o.declined
	g.failed += o.failed
	for i := range g.cpReached {
		g.cpReached[i] += o.cpReached[i]
		g.cpAcked[i] += o.cpAcked[i]
		g.cpDeclined[i] += o.cpDeclined[i]
	}
	g.toAck = append(g.toAck, o.toAck...)
}

func (g *agg) tally(cx *calc, key, name string) Tally {
	t := Tally{Key: key, Name: name, Recipients: g.n, Reached: g.reached, Acked: g.acked, Declined: g.declined, Failed: g.failed}
	t.Unanswered = g.n - g.acked - g.declined - g.failed
	pct := func(n int) float64 { return notify.Percent(n, g.n) }
	t.ReachedPct, t.AckedPct, t.DeclinedPct, t.FailedPct, t.UnansweredPct = pct(t.Reached), pct(t.Acked), pct(t.Declined), pct(t.Failed), pct(t.Unanswered)
	t.Checkpoints = make([]Checkpoint, len(cx.cps))
	for i, m := range cx.cps {
		at := cx.start.Add(time.Duration(m) * time.Minute)
		cut := !cx.stoodDown.IsZero() && cx.stoodDown.Before(at)
		t.Checkpoints[i] = Checkpoint{Minutes: m, Passed: cut || !cx.asOf.Before(at), Cut: cut,
			Reached: g.cpReached[i], ReachedPct: pct(g.cpReached[i]), Acked: g.cpAcked[i], AckedPct: pct(g.cpAcked[i]),
			Declined: g.cpDeclined[i], DeclinedPct: pct(g.cpDeclined[i])}
	}
	t.AckTime = ackTimes(g.toAck)
	return t
}

// ackTimes sorts d and takes its nearest-rank percentiles.
func ackTimes(d []time.Duration) AckTimes {
	n := len(d)
	if n == 0 {
		return AckTimes{}
	}
	slices.Sort(d)
	rank := func(p int) plans.Duration { return plans.Duration(d[(p*n+99)/100-1]) }
	return AckTimes{N: n, P50: rank(50), P90: rank(90), Max: plans.Duration(d[n-1])}
}

// curve counts, at every step from the start to end, the events of each
// kind (times since the start) that happened by then and by end.
func (cx *calc) curve(end time.Time, reach, acks, decl []time.Duration) Curve {
	span := end.Sub(cx.start)
	step := curveStep(span)
	last := int((span + step - 1) / step)
	for _, d := range [][]time.Duration{reach, acks, decl} {
		slices.Sort(d)
	}
	upTo := func(d []time.Duration, at time.Duration) int {
		return sort.Search(len(d), func(i int) bool { return d[i] > at })
	}
	c := Curve{StepMinutes: int(step / time.Minute), StepSeconds: int(step / time.Second), Points: make([]CurvePoint, 0, last+1)}
	for k := 0; k <= last; k++ {
		sec := k * c.StepSeconds
		at := min(time.Duration(k)*step, span)
		c.Points = append(c.Points, CurvePoint{Minute: sec / 60, Second: sec, Reached: upTo(reach, at), Acked: upTo(acks, at), Declined: upTo(decl, at)})
	}
	return c
}
