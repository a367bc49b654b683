package notify

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// StatusCounts are the counts a call-up is followed by: recipients, and how
// many of them are in each state. The states add up to Recipients.
type StatusCounts struct {
	Recipients int `json:"recipients"`
	Pending    int `json:"pending"`
	Sending    int `json:"sending"`
	Sent       int `json:"sent"`
	Delivered  int `json:"delivered"`
	Acked      int `json:"acked"`
	Declined   int `json:"declined"`
	Failed     int `json:"failed"`
	Escalated  int `json:"escalated"`
	Expired    int `json:"expired"`
	// Cancelled counts those an operator took off the call-up (rules 13):
	// nothing more of it is sent to them, and they are not waited for.
	Cancelled int `json:"cancelled"`
}

// CountStates turns per-state counts (Counters.ByState, or one grid's or
// role's map) into StatusCounts. States it does not know count only towards
// Recipients.
func CountStates(by map[State]int) StatusCounts {
	var c StatusCounts
	for s, n := range by {
		c.Recipients += n
		switch s {
		case StatePending:
			c.Pending += n
		case StateSending:
			c.Sending += n
		case StateSent:
			c.Sent += n
		case StateDelivered:
			c.Delivered += n
		case StateAcked:
			c.Acked += n
		case StateDeclined:
			c.Declined += n
		case StateFailed:
			c.Failed += n
		case StateEscalated:
			c.Escalated += n
		case StateExpired:
			c.Expired += n
		case StateCancelled:
			c.Cancelled += n
		}
	}
	return c
}

func (c *StatusCounts) add(o StatusCounts) {
	c.Recipients += o.Recipients
	c.Pending += o.Pending
	c.Sending += o.Sending
	c.Sent += o.Sent
	c.Delivered += o.Delivered
	c.Acked += o.Acked
	c.Declined += o.Declined
	c.Failed += o.Failed
	c.Escalated += o.Escalated
	c.Expired += o.Expired
	c.Cancelled += o.Cancelled
}

// Out counts the recipients a message went out to: sent, delivered,
// answered or escalated after silence.
func (c StatusCounts) Out() int { return c.Sent + c.Delivered + c.Acked + c.Declined + c.Escalated }

// InFlight counts the recipients whose message the provider has not yet
// reported on: being sent, or sent and not yet delivered.
func (c StatusCounts) InFlight() int { return c.Sending + c.Sent }

// Unanswered counts the recipients who have neither answered nor failed
// and were not taken off the call-up: still to be sent, on their way,
// delivered and silent, escalated or expired.
func (c StatusCounts) Unanswered() int {
	return c.Recipients - c.Acked - c.Declined - c.Failed - c.Cancelled
}

// Percent is 100·n/of rounded to one decimal; 0 when of is 0.
func Percent(n, of int) float64 {
	if of <= 0 {
		return 0
	}
	return math.Round(float64(n)*1000/float64(of)) / 10
}

// RoleCounts are the status counts of the recipients filling one role slot
// (a recipient in two roles counts in both).
type RoleCounts struct {
	Index int    `json:"index"`
	Group string `json:"group"`
	Name  string `json:"name"`
	StatusCounts
}

// GridCounts are the status counts of the recipients in one grid.
type GridCounts struct {
	Grid plans.RegionCode `json:"grid"`
	StatusCounts
}

// Summary is an activation's status counts overall, per role slot (in slot
// order, every slot listed) and per grid (by code).
type Summary struct {
	Counts StatusCounts `json:"counts"`
	Roles  []RoleCounts `json:"roles"`
	Grids  []GridCounts `json:"grids"`
}

// Summary sums the activation's counters into StatusCounts.
func (st ActivationStatus) Summary() Summary {
	out := Summary{Counts: CountStates(st.Counters.ByState), Roles: []RoleCounts{}, Grids: []GridCounts{}}
	for _, r := range st.Roles {
		out.Roles = append(out.Roles, RoleCounts{Index: r.Index, Group: r.Group, Name: r.Name, StatusCounts: CountStates(st.Counters.ByRole[r.Index])})
	}
	for g, by := range st.Counters.ByGrid {
		out.Grids = append(out.Grids, GridCounts{Grid: g, StatusCounts: CountStates(by)})
	}
	slices.SortFunc(out.Grids, func(a, b GridCounts) int { return cmp.Compare(a.Grid, b.Grid) })
	return out
}

// Settled reports whether the activation's counts have stopped moving on
// their own: it was stood down and no message awaits the provider's report
// (nobody sending or sent), or every recipient has an outcome nothing
// changes (answered, failed for good or expired). A correction takes no
// answers: it has settled once every message and call has gone out and
// its SMS have their delivery outcome. A settled activation that is still
// active can still be stood down.
func (st ActivationStatus) Settled() bool {
	c := CountStates(st.Counters.ByState)
	switch {
	case st.Status == StatusStoodDown:
		return c.InFlight() == 0
	case st.Retracts != "":
		return c.Pending+c.InFlight() == 0 && st.Counters.Dispatch[escQueuedCounter]+st.Counters.Dispatch[escSendingCounter] == 0
	}
	return c.Acked+c.Declined+c.Failed+c.Expired+c.Cancelled == c.Recipients
}

// NeverStarts reports whether st is a request that will not start: it was
// rejected, or its approval window passed. Nothing about it changes any
// more.
func (st ActivationStatus) NeverStarts() bool {
	return st.Status == StatusRejected || st.Status == StatusApprovalExpired
}

// AckCheckpoints are the minutes after an activation at which
// acknowledgements are counted per grid (Counters.AckBy): 5, 15 and 30.
func AckCheckpoints() []int {
	out := make([]int, len(ackCheckpoints))
	for i, d := range ackCheckpoints {
		out[i] = int(d / time.Minute)
	}
	return out
}

// AckBy is how many recipients reported (报到) within Minutes of the
// activation, and their share of the row's recipients.
type AckBy struct {
	Minutes int     `json:"minutes"`
	Acked   int     `json:"acked"`
	Pct     float64 `json:"pct"`
	// Reached is set once the checkpoint has passed (at the board's AsOf),
	// or the call-up stood down before it: until then Acked is still
	// counting.
	Reached bool `json:"reached"`
	// Cut is set when the call-up stood down before the checkpoint: Acked
	// is final, but it counts the answers up to the stand-down, not to
	// T+Minutes.
	Cut bool `json:"cut,omitempty"`
}

// BoardRow is one line of the board: a grid, a region rolling up grids, or
// the whole call-up, with its status counts, 报到 rate and acknowledgements
// by checkpoint.
type BoardRow struct {
	Code plans.RegionCode `json:"code,omitempty"`
	Name string           `json:"name,omitempty"`
	Kind plans.RegionKind `json:"kind,omitempty"`
	// Path names the regions above the row below the city, top down,
	// joined by " / " (for a grid: district / street / community).
	Path string `json:"path,omitempty"`
	// Outside marks a region outside every activated region: its people are
	// called up by roles that reach the whole plan.
	Outside bool `json:"outside,omitempty"`
	StatusCounts
	Unanswered int     `json:"unanswered"`
	AckedPct   float64 `json:"acked_pct"`
	AckBy      []AckBy `json:"ack_by"`
}

// Board is the 报到 board of an activation: per grid and per region below
// the activated regions, and overall, who was called, who reported, who
// declined or could not be reached, and how many reported within 5, 15 and
// 30 minutes.
type Board struct {
	Activation  plans.ActivationID `json:"activation"`
	Status      Status             `json:"status"`
	StartedAt   time.Time          `json:"started_at,omitzero"` // when the call-up started; absent while it has not
	StoodDownAt time.Time          `json:"stood_down_at,omitzero"`
	// Retraction is set when the call-up was retracted as a mistake (its
	// status then says stood_down): who, when, and the correction.
	Retraction *Retraction `json:"retraction,omitempty"`
	// AsOf is when the board was read (set by At); Elapsed is the time from
	// the activation to AsOf.
	AsOf    time.Time     `json:"as_of,omitzero"`
	Elapsed time.Duration `json:"elapsed"`
	// Checkpoints are the minutes of every row's AckBy, in order.
	Checkpoints []int    `json:"checkpoints"`
	Total       BoardRow `json:"total"`
	// Regions roll the grids up one level below the activated regions
	// (districts under a city, streets under a district, …), by code. Grids
	// called up from outside the activated regions roll up at the same
	// level, marked Outside.
	Regions []BoardRow `json:"regions"`
	// Grids has every grid with recipients, by code.
	Grids []BoardRow `json:"grids"`
}

// At stamps the board with the time it is read at: AsOf, Elapsed since the
// activation (up to its stand-down, when it stood down: its clock stops
// there), and which checkpoints have passed. It returns a copy and leaves
// b as it was.
func (b Board) At(now time.Time) Board {
	b.AsOf = now
	end := now
	if !b.StoodDownAt.IsZero() && b.StoodDownAt.Before(now) {
		end = b.StoodDownAt
	}
	if !b.StartedAt.IsZero() { // a request awaiting approval, or withdrawn, never started: T+0
		b.Elapsed = max(0, end.Sub(b.StartedAt))
	}
	over := !b.StoodDownAt.IsZero() && !b.StoodDownAt.After(now)
	reach := func(r *BoardRow) {
		r.AckBy = slices.Clone(r.AckBy)
		for i := range r.AckBy {
			passed := b.Elapsed >= time.Duration(r.AckBy[i].Minutes)*time.Minute
			r.AckBy[i].Reached = over || passed
			r.AckBy[i].Cut = over && !passed
		}
	}
	reach(&b.Total)
	b.Regions, b.Grids = slices.Clone(b.Regions), slices.Clone(b.Grids)
	for i := range b.Regions {
		reach(&b.Regions[i])
	}
	for i := range b.Grids {
		reach(&b.Grids[i])
	}
	return b
}

// Board reads an activation's 报到 board. AsOf and Elapsed are left zero for
// the caller to set with At; the rest depends only on the replicated state.
// An unknown activation is ENotFound.
func (s *Service) Board(ctx context.Context, level muster.Consistency, id plans.ActivationID) (Board, error) {
	_, b, err := s.StatusAndBoard(ctx, level, id)
	return b, err
}

// StatusAndBoard reads an activation's status (as Activation does) and its
// board (as Board does) in one read: the board's counts are the status's.
func (s *Service) StatusAndBoard(ctx context.Context, level muster.Consistency, id plans.ActivationID) (ActivationStatus, Board, error) {
	var st ActivationStatus
	var b Board
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		var err error
		if st, err = activationStatus(tx, id); err != nil {
			return err
		}
		st.Activation = st.Activation.shown(s.now()) // the board says approval_expired too
		b, err = buildBoard(tx, st.Activation, st.Counters)
		return err
	})
	return st, b, err
}

// gridTally is what the counters say of one grid.
type gridTally struct {
	counts StatusCounts
	ackBy  map[int]int
}

func buildBoard(tx *bolt.Tx, a Activation, c Counters) (Board, error) {
	cps := AckCheckpoints()
	b := Board{Activation: a.ID, Status: a.Status, StartedAt: a.Start(), StoodDownAt: a.StoodDownAt, Retraction: a.Retraction, Checkpoints: cps,
		Regions: []BoardRow{}, Grids: []BoardRow{}}

	grids := map[plans.RegionCode]*gridTally{}
	tally := func(g plans.RegionCode) *gridTally {
		if grids[g] == nil {
			grids[g] = &gridTally{ackBy: map[int]int{}}
		}
		return grids[g]
	}
	for g, by := range c.ByGrid {
		tally(g).counts = CountStates(by)
	}
	for g, by := range c.AckBy {
		ab := tally(g).ackBy
		for m, n := range by {
			ab[m] += n
		}
	}
	codes := make([]plans.RegionCode, 0, len(grids))
	for g := range grids {
		codes = append(codes, g)
	}
	slices.Sort(codes)

	places, err := PlaceGrids(tx, a.Regions, codes)
	if err != nil {
		return b, err
	}
	total := gridTally{ackBy: map[int]int{}}
	rollups := map[plans.RegionCode]*gridTally{}
	rollupRow := map[plans.RegionCode]BoardRow{}
	for _, g := range codes {
		t := grids[g]
		total.counts.add(t.counts)
		for m, n := range t.ackBy {
			total.ackBy[m] += n
		}
		row := BoardRow{Code: g}
		pl := places[g]
		if !pl.Known {
			// A grid no longer in the region tree: listed by code, rolled up nowhere.
			b.Grids = append(b.Grids, boardRow(row, *t, cps))
			continue
		}
		row.Name, row.Kind, row.Path = pl.Name, pl.Kind, pl.Path
		b.Grids = append(b.Grids, boardRow(row, *t, cps))

		up := pl.Rollup
		if rollups[up.Code] == nil {
			rollups[up.Code] = &gridTally{ackBy: map[int]int{}}
			rollupRow[up.Code] = BoardRow{Code: up.Code, Name: up.Name, Kind: up.Kind, Path: pl.RollupPath, Outside: pl.Outside}
		}
		rollups[up.Code].counts.add(t.counts)
		for m, n := range t.ackBy {
			rollups[up.Code].ackBy[m] += n
		}
	}
	b.Total = boardRow(BoardRow{}, total, cps)
	ups := make([]plans.RegionCode, 0, len(rollups))
	for code := range rollups {
		ups = append(ups, code)
	}
	slices.Sort(ups)
	for _, code := range ups {
		b.Regions = append(b.Regions, boardRow(rollupRow[code], *rollups[code], cps))
	}
	return b, nil
}

// rollupOf picks the region a grid rolls up into, given its path (the grid
// first, the city last): the child, on the path, of the outermost activated
// region the grid lies under (the grid itself when a grid was activated);
// for a grid under no activated region, its ancestor at childDepth.
func rollupOf(path []plans.Region, activated map[plans.RegionCode]int, childDepth int) (plans.Region, bool) {
	for i := len(path) - 1; i >= 0; i-- {
		if _, ok := activated[path[i].Code]; ok {
			return path[max(i-1, 0)], false
		}
	}
	for _, r := range path {
		if r.Kind.Depth() <= childDepth {
			return r, true
		}
	}
	return path[0], true
}

// pathNames joins the names of regions above a row (nearest first, as
// RegionPath lists them) top down, leaving out the city.
func pathNames(above []plans.Region) string {
	var names []string
	for i := len(above) - 1; i >= 0; i-- {
		if above[i].Kind != plans.KindCity {
			names = append(names, above[i].Name)
		}
	}
	return strings.Join(names, " / ")
}

func boardRow(row BoardRow, t gridTally, cps []int) BoardRow {
	row.StatusCounts = t.counts
	row.Unanswered = t.counts.Unanswered()
	row.AckedPct = Percent(t.counts.Acked, t.counts.Recipients)
	row.AckBy = make([]AckBy, len(cps))
	for i, m := range cps {
		row.AckBy[i] = AckBy{Minutes: m, Acked: t.ackBy[m], Pct: Percent(t.ackBy[m], t.counts.Recipients)}
	}
	return row
}
