package drills_test

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster/clustertest"
	"muster/drills"
	"muster/notify"
	"muster/plans"
)

// newEnvAt is newEnv on one node whose leader stamps every command with
// clk, so every time in the state is the test's. The everyone plan is
// applied besides the example plans. Its rules are 10: the scripted
// sends (drive) fail for good, where from rules 11 a failed number's
// call-up goes on to the person's next mobile, which no script sends.
func newEnvAt(t testing.TB, people int, clk *clustertest.Clock) *env {
	return newEnvWith(t, envOptions{nodes: 1, people: people, clock: clk, stamp: true, everyone: true, rules: 10})
}

// apply proposes a command the way the dispatcher and the webhooks do.
func (e *env) apply(t testing.TB, typ string, payload, out any) {
	t.Helper()
	b, err := json.Marshal(payload)
	require.NoError(t, err)
	require.NoError(t, e.c.Leader().Node.Apply(testCtx(t), &muster.Command{Type: typ, Actor: "test", Payload: b}, out))
}

// recipients lists every recipient of an activation, in person ID order,
// through the notify API.
func (e *env) recipients(t testing.TB, id plans.ActivationID) []notify.Recipient {
	t.Helper()
	var out []notify.Recipient
	page := plans.Page{Limit: plans.MaxPageLimit}
	for {
		l, err := e.notify.Recipients(testCtx(t), muster.Default, id, notify.RecipientFilter{}, page)
		require.NoError(t, err)
		out = append(out, l.Items...)
		if l.Next == "" {
			return out
		}
		page.After = l.Next
	}
}

// The scripted outcomes, by recipient index (person ID order) modulo 11.
// Times are minutes after the start, multiplied by the script's pace.
//
//	0 delivered 1, acks 2          6 the send fails (not a mobile)
//	1 delivered 1, acks 4          7 delivered 1, silent
//	2 delivered 1, acks 12         8 sent, no report, silent
//	3 delivered 6, acks 25         9 never sent, acks 8 by SMS anyway
//	4 delivered 1, acks 40        10 sent, undelivered (30005) at 2
//	5 delivered 1, declines 3
//
// The run is closed (its activation stood down) at 50.
const scriptClasses = 11

// drive moves the recipients of run r through the script by the commands
// the dispatcher and the webhooks propose (dispatch.claim,
// dispatch.result, inbound.batch), with the clock at each step's time, and
// closes the run. pace stretches the script's times.
func drive(t testing.TB, e *env, r drills.Run, pace float64) {
	t.Helper()
	recs := e.recipients(t, r.Activation)
	require.NotEmpty(t, recs)
	start := e.clock.Now()
	class := func(c ...int) []notify.Recipient {
		var out []notify.Recipient
		for i, rc := range recs {
			if slices.Contains(c, i%scriptClasses) {
				out = append(out, rc)
			}
		}
		return out
	}
	at := func(minutes float64) {
		e.clock.Set(start.Add(time.Duration(minutes * pace * float64(time.Minute))))
	}
	inbound := func(items []notify.InboundItem) {
		for len(items) > 0 {
			n := min(len(items), 500)
			var res []notify.InboundResult
			e.apply(t, notify.CmdInbound, map[string]any{"i": items[:n]}, &res)
			for i, r := range res {
				require.Equal(t, notify.InboundApplied, r.Outcome, "inbound %+v", items[i])
			}
			items = items[n:]
		}
	}
	sid := 0
	reply := func(rs []notify.Recipient, body string) {
		var items []notify.InboundItem
		for _, rc := range rs {
			sid++
			items = append(items, notify.InboundItem{Kind: notify.InboundReply, SID: fmt.Sprintf("SMreply%s%06d", r.ID, sid), From: rc.Phone,
				To: senders.Exercise.Sender, Body: body, Account: senders.Exercise.Account, Exercise: true})
		}
		inbound(items)
	}
	status := func(rs []notify.Recipient, st string, code int) {
		var items []notify.InboundItem
		for _, rc := range rs {
			items = append(items, notify.InboundItem{Kind: notify.InboundStatus, Attempt: notify.AttemptID(r.Activation, rc.Person, 1),
				SID: "SM" + string(r.Activation) + string(rc.Person), Status: st, Code: code, Account: senders.Exercise.Account, Exercise: true})
		}
		inbound(items)
	}

	at(1.0 / 6)
	sent := class(0, 1, 2, 3, 4, 5, 6, 7, 8, 10)
	for i := 0; i < len(sent); i += 1000 {
		var claim notify.ClaimResult
		var items []notify.ClaimItem
		for _, rc := range sent[i:min(i+1000, len(sent))] {
			items = append(items, notify.ClaimItem{Person: rc.Person})
		}
		e.apply(t, notify.CmdDispatchClaim, map[string]any{"a": r.Activation, "i": items}, &claim)
		require.Len(t, claim.Claimed, len(items))
	}
	at(0.5)
	var results []notify.ResultItem
	failed := map[plans.PersonID]bool{}
	for _, rc := range class(6) {
		failed[rc.Person] = true
	}
	for _, rc := range sent {
		it := notify.ResultItem{Activation: r.Activation, Person: rc.Person, N: 1, Outcome: notify.OutcomeSent, SID: "SM" + string(r.Activation) + string(rc.Person)}
		if failed[rc.Person] {
			it = notify.ResultItem{Activation: r.Activation, Person: rc.Person, N: 1, Outcome: notify.OutcomeFailed, Code: 21614,
				Error: "'To' number " + rc.Phone + " is not a mobile number"}
		}
		results = append(results, it)
	}
	for i := 0; i < len(results); i += 1000 {
		var sum notify.ResultSummary
		e.apply(t, notify.CmdDispatchResult, map[string]any{"i": results[i:min(i+1000, len(results))]}, &sum)
		require.Equal(t, min(1000, len(results)-i), sum.Applied)
	}
	at(1)
	status(class(0, 1, 2, 4, 5, 7), "delivered", 0)
	at(2)
	reply(class(0), "1")
	status(class(10), "undelivered", 30005)
	at(3)
	reply(class(5), "2 家中有事")
	at(4)
	reply(class(1), "收到")
	at(6)
	status(class(3), "delivered", 0)
	at(8)
	reply(class(9), "1")
	at(12)
	reply(class(2), "好")
	at(25)
	reply(class(3), "1")
	at(40)
	reply(class(4), "到")
	at(50)
	_, err := e.drills.Close(testCtx(t), "scheduler", r.ID, "演练结束")
	require.NoError(t, err)
}

// drillFixture is a plan drilled twice over one street: a week apart, the
// first run at half the pace of the second, both driven through the
// script; then a recipient is struck off the roster. It returns the runs,
// oldest first, and the time the test reads them at. Everything is on the
// test's clock and the roster's seed, so the state is the same every time.
func drillFixture(t testing.TB) (*env, []drills.Run, time.Time) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	clk := clustertest.NewClock(time.Date(2026, 11, 30, 9, 0, 0, 0, loc))
	e := newEnvAt(t, 2000, clk)
	ctx := testCtx(t)
	in := weekly(street)
	in.Title = "青山街道防汛通讯演练"
	in.Units = []string{"东湖区应急管理局", "青山街道办事处"}
	sc, err := e.drills.Schedule(ctx, "trainer", in)
	require.NoError(t, err)

	first, err := e.drills.RunNow(ctx, "trainer", sc.ID)
	require.NoError(t, err)
	drive(t, e, first, 2)
	clk.Set(time.Date(2026, 12, 7, 9, 0, 0, 0, loc))
	second, err := e.drills.RunNow(ctx, "trainer", sc.ID)
	require.NoError(t, err)
	drive(t, e, second, 1)

	// A silent recipient leaves the roster: their category is unknown now.
	recs := e.recipients(t, second.Activation)
	require.NoError(t, e.plans.DeletePerson(ctx, "admin", recs[7].Person))
	return e, []drills.Run{first, second}, time.Date(2026, 12, 7, 10, 0, 0, 0, loc)
}

// tallyWant is what the test expects of one row of the metrics.
type tallyWant struct {
	Recipients, Reached, Acked, Declined, Failed, Unanswered int
	Pct                                                      [5]float64
	CP                                                       [][7]float64 // minutes, passed, reached, acked, declined, acked %, reached %
	N                                                        int
	P50, P90, Max                                            time.Duration
}

func fromTally(t drills.Tally) tallyWant {
	w := tallyWant{Recipients: t.Recipients, Reached: t.Reached, Acked: t.Acked, Declined: t.Declined, Failed: t.Failed,
		Unanswered: t.Unanswered, Pct: [5]float64{t.ReachedPct, t.AckedPct, t.DeclinedPct, t.FailedPct, t.UnansweredPct},
		N: t.AckTime.N, P50: t.AckTime.P50.Std(), P90: t.AckTime.P90.Std(), Max: t.AckTime.Max.Std()}
	for _, c := range t.Checkpoints {
		passed := 0.0
		if c.Passed {
			passed = 1
		}
		w.CP = append(w.CP, [7]float64{float64(c.Minutes), passed, float64(c.Reached), float64(c.Acked), float64(c.Declined), c.AckedPct, c.ReachedPct})
	}
	return w
}

// noAnswerWant is what the test expects of one person who never answered.
type noAnswerWant struct {
	Person   plans.PersonID
	Name     string
	Grid     plans.RegionCode
	Roles    string
	Category plans.Category
	State    notify.State
	Code     int
	Error    string
}

// metricsWant is the test's own count of a run's metrics.
type metricsWant struct {
	Start, End time.Time
	Total      tallyWant
	ByRegion   map[string]tallyWant
	ByGrid     map[string]tallyWant
	ByRole     map[string]tallyWant
	ByCategory map[string]tallyWant
	NoAnswer   []noAnswerWant
	// StepMinutes and StepSeconds are the curve's step.
	StepMinutes, StepSeconds int
	Curve                    []drills.CurvePoint
}

func gotMetrics(m drills.Metrics) metricsWant {
	w := metricsWant{Start: m.Start, End: m.End, Total: fromTally(m.Total), StepMinutes: m.Curve.StepMinutes, StepSeconds: m.Curve.StepSeconds, Curve: m.Curve.Points,
		ByRegion: map[string]tallyWant{}, ByGrid: map[string]tallyWant{}, ByRole: map[string]tallyWant{}, ByCategory: map[string]tallyWant{}}
	for _, d := range []struct {
		rows []drills.Tally
		into map[string]tallyWant
	}{{m.ByRegion, w.ByRegion}, {m.ByGrid, w.ByGrid}, {m.ByRole, w.ByRole}, {m.ByCategory, w.ByCategory}} {
		for _, r := range d.rows {
			d.into[r.Key] = fromTally(r)
		}
	}
	for _, o := range m.NoAnswer {
		w.NoAnswer = append(w.NoAnswer, noAnswerWant{Person: o.Person, Name: o.Name, Grid: o.Grid, Roles: strings.Join(o.Roles, ","),
			Category: o.Category, State: o.State, Code: o.Code, Error: o.Error})
	}
	return w
}

// countRun counts run r's metrics as of asOf from what the notify and plans
// APIs say of its recipients, one by one, without the drills code: the
// recipients with their attempts, today's roster for categories, and the
// board for the regions grids roll up into.
func countRun(t testing.TB, e *env, r drills.Run, asOf time.Time) metricsWant {
	t.Helper()
	ctx := testCtx(t)
	st, err := e.notify.Activation(ctx, muster.Default, r.Activation)
	require.NoError(t, err)
	start := st.Activation.StartedAt
	end := asOf.UTC() // the state's times are UTC, as the leader stamps them
	if !st.StoodDownAt.IsZero() && st.StoodDownAt.Before(asOf) {
		end = st.StoodDownAt
	}
	final := !st.StoodDownAt.IsZero() && !st.StoodDownAt.After(asOf)
	board, err := e.notify.Board(ctx, muster.Default, r.Activation)
	require.NoError(t, err)
	recs := e.recipients(t, r.Activation)
	require.Len(t, recs, r.Participants)

	category := map[plans.PersonID]plans.Category{}
	for _, rc := range recs {
		p, err := e.plans.Person(ctx, muster.Default, rc.Person)
		if muster.IsCode(err, muster.ENotFound) {
			category[rc.Person] = drills.CategoryUnknown
			continue
		}
		require.NoError(t, err)
		category[rc.Person] = p.Category
	}
	regionOf := func(g plans.RegionCode) string {
		best := ""
		for _, row := range board.Regions {
			if strings.HasPrefix(string(g), string(row.Code)) && len(row.Code) > len(best) {
				best = string(row.Code)
			}
		}
		require.NotEmpty(t, best, "grid %s rolls up into no board row", g)
		return best
	}

	groups := map[string]map[string][]notify.Recipient{"region": {}, "grid": {}, "role": {}, "cat": {}}
	for _, rc := range recs {
		groups["region"][regionOf(rc.Grid)] = append(groups["region"][regionOf(rc.Grid)], rc)
		groups["grid"][string(rc.Grid)] = append(groups["grid"][string(rc.Grid)], rc)
		for _, i := range rc.Roles {
			groups["role"][strconv.Itoa(i)] = append(groups["role"][strconv.Itoa(i)], rc)
		}
		c := string(category[rc.Person])
		groups["cat"][c] = append(groups["cat"][c], rc)
	}
	w := metricsWant{Start: start, End: end, Total: countTally(recs, start, asOf, final),
		ByRegion: map[string]tallyWant{}, ByGrid: map[string]tallyWant{}, ByRole: map[string]tallyWant{}, ByCategory: map[string]tallyWant{}}
	for k, rs := range groups["region"] {
		w.ByRegion[k] = countTally(rs, start, asOf, final)
	}
	for k, rs := range groups["grid"] {
		w.ByGrid[k] = countTally(rs, start, asOf, final)
	}
	for _, slot := range st.Roles { // every slot, with recipients or not
		w.ByRole[strconv.Itoa(slot.Index)] = countTally(groups["role"][strconv.Itoa(slot.Index)], start, asOf, final)
	}
	for k, rs := range groups["cat"] {
		w.ByCategory[k] = countTally(rs, start, asOf, final)
	}

	for _, rc := range recs {
		if rc.State == notify.StateAcked || rc.State == notify.StateDeclined {
			continue
		}
		var names []string
		for _, i := range rc.Roles {
			names = append(names, st.Roles[i].Name)
		}
		na := noAnswerWant{Person: rc.Person, Name: rc.Name, Grid: rc.Grid, Roles: strings.Join(names, ","), Category: category[rc.Person], State: rc.State}
		if rc.Attempt != nil {
			na.Code, na.Error = rc.Attempt.Code, rc.Attempt.Error
		}
		w.NoAnswer = append(w.NoAnswer, na)
	}
	slices.SortFunc(w.NoAnswer, func(a, b noAnswerWant) int {
		if a.Grid != b.Grid {
			return strings.Compare(string(a.Grid), string(b.Grid))
		}
		if a.Name != b.Name {
			return strings.Compare(a.Name, b.Name)
		}
		return strings.Compare(string(a.Person), string(b.Person))
	})

	// The curve: the smallest step that keeps it within 120 steps, points
	// from the start to the first at or after the end.
	span := end.Sub(start)
	step := curveStepFor(span)
	w.StepMinutes, w.StepSeconds = int(step/time.Minute), int(step/time.Second)
	for k := 0; ; k++ {
		at := time.Duration(k) * step
		p := drills.CurvePoint{Minute: int(at / time.Minute), Second: int(at / time.Second)}
		for _, rc := range recs {
			a := rc.Attempt
			if a == nil {
				continue
			}
			by := func(ts time.Time) bool { return !ts.IsZero() && ts.Sub(start) <= at && ts.Sub(start) <= span }
			if by(a.Reached) {
				p.Reached++
			}
			if rc.State == notify.StateAcked && by(a.Answered) {
				p.Acked++
			}
			if rc.State == notify.StateDeclined && by(a.Answered) {
				p.Declined++
			}
		}
		w.Curve = append(w.Curve, p)
		if at >= span {
			break
		}
	}
	return w
}

// curveStepFor is the test's own choice of a curve's step for span: the
// shortest of the steps listed in docs/drills.md that covers it in at most
// 120 steps, past a day a whole number of days.
func curveStepFor(span time.Duration) time.Duration {
	for _, s := range []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
		time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour, 4 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour} {
		if span <= 120*s {
			return s
		}
	}
	days := time.Duration(math.Ceil(span.Hours() / 24 / 120))
	return days * 24 * time.Hour
}

// countTally counts one row from its recipients.
func countTally(rs []notify.Recipient, start, asOf time.Time, final bool) tallyWant {
	pct := func(k int) float64 {
		if len(rs) == 0 {
			return 0
		}
		return math.Round(float64(k)*1000/float64(len(rs))) / 10
	}
	var w tallyWant
	var acks []time.Duration
	cps := []int{5, 15, 30}
	cp := make([][3]int, len(cps))
	for _, rc := range rs {
		w.Recipients++
		var a notify.Attempt
		if rc.Attempt != nil {
			a = *rc.Attempt
		}
		if !a.Reached.IsZero() {
			w.Reached++
		}
		switch rc.State {
		case notify.StateAcked:
			w.Acked++
			acks = append(acks, a.Answered.Sub(start))
		case notify.StateDeclined:
			w.Declined++
		case notify.StateFailed:
			w.Failed++
		}
		for i, m := range cps {
			lim := time.Duration(m) * time.Minute
			if !a.Reached.IsZero() && a.Reached.Sub(start) <= lim {
				cp[i][0]++
			}
			if rc.State == notify.StateAcked && a.Answered.Sub(start) <= lim {
				cp[i][1]++
			}
			if rc.State == notify.StateDeclined && a.Answered.Sub(start) <= lim {
				cp[i][2]++
			}
		}
	}
	w.Unanswered = w.Recipients - w.Acked - w.Declined - w.Failed
	w.Pct = [5]float64{pct(w.Reached), pct(w.Acked), pct(w.Declined), pct(w.Failed), pct(w.Unanswered)}
	for i, m := range cps {
		passed := 0.0 // final: passed by asOf, or the call-up stood down before it
		if final || !asOf.Before(start.Add(time.Duration(m)*time.Minute)) {
			passed = 1
		}
		w.CP = append(w.CP, [7]float64{float64(m), passed, float64(cp[i][0]), float64(cp[i][1]), float64(cp[i][2]), pct(cp[i][1]), pct(cp[i][0])})
	}
	if n := len(acks); n > 0 {
		slices.Sort(acks)
		rank := func(p float64) time.Duration { return acks[int(math.Ceil(p/100*float64(n)))-1] }
		w.N, w.P50, w.P90, w.Max = n, rank(50), rank(90), acks[n-1]
	}
	return w
}

// checkMetrics compares a run's metrics with the test's own count, and
// with what the activation's counters and board say.
func checkMetrics(t *testing.T, e *env, r drills.Run, m drills.Metrics, asOf time.Time) {
	t.Helper()
	want := countRun(t, e, r, asOf)
	got := gotMetrics(m)
	assert.Equal(t, want.Start, got.Start, "start")
	assert.Equal(t, want.End, got.End, "end")
	assert.Equal(t, want.Total, got.Total, "total")
	assert.Equal(t, want.ByRegion, got.ByRegion, "by region")
	assert.Equal(t, want.ByGrid, got.ByGrid, "by grid")
	assert.Equal(t, want.ByRole, got.ByRole, "by role")
	assert.Equal(t, want.ByCategory, got.ByCategory, "by category")
	assert.Equal(t, want.NoAnswer, got.NoAnswer, "people who never answered")
	assert.Equal(t, []int{want.StepMinutes, want.StepSeconds}, []int{got.StepMinutes, got.StepSeconds}, "curve step, minutes and seconds")
	assert.Equal(t, want.Curve, got.Curve, "curve")

	// The activation's own counters, kept by the FSM as recipients moved.
	ctx := testCtx(t)
	st, err := e.notify.Activation(ctx, muster.Default, r.Activation)
	require.NoError(t, err)
	c := notify.CountStates(st.Counters.ByState)
	assert.Equal(t, c.Recipients, m.Total.Recipients)
	assert.Equal(t, c.Acked, m.Total.Acked)
	assert.Equal(t, c.Declined, m.Total.Declined)
	assert.Equal(t, c.Failed, m.Total.Failed)
	assert.Equal(t, c.Unanswered(), m.Total.Unanswered)
	for _, g := range m.ByGrid {
		for _, cp := range g.Checkpoints {
			assert.Equal(t, st.Counters.AckBy[plans.RegionCode(g.Key)][cp.Minutes], cp.Acked, "grid %s acked by T+%d", g.Key, cp.Minutes)
		}
	}
	board, err := e.notify.Board(ctx, muster.Default, r.Activation)
	require.NoError(t, err)
	require.Len(t, m.ByRegion, len(board.Regions))
	for i, row := range board.Regions {
		g := m.ByRegion[i]
		assert.Equal(t, string(row.Code), g.Key)
		assert.Equal(t, row.Name, g.Name)
		assert.Equal(t, row.Path, g.Path)
		assert.Equal(t, row.Outside, g.Outside)
		assert.Equal(t, row.Recipients, g.Recipients)
		assert.Equal(t, row.Acked, g.Acked)
	}
	sum := 0
	for _, g := range m.ByCategory {
		sum += g.Recipients
	}
	assert.Equal(t, m.Total.Recipients, sum, "every recipient has one category")
	assert.Equal(t, notify.PurposeExercise, m.Purpose)
}

func TestMetricsMatchAnIndependentCount(t *testing.T) {
	e, runs, asOf := drillFixture(t)
	ctx := testCtx(t)
	for _, r := range runs {
		m, err := e.drills.Metrics(ctx, muster.Default, r.ID, asOf)
		require.NoError(t, err)
		checkMetrics(t, e, r, m, asOf)
		assert.Equal(t, r.Participants, m.Total.Recipients)
		assert.Len(t, m.ByRole, 4, "every role slot of flood control IV, with people or not")
	}

	// The second run, by hand: what the script makes of its recipients.
	m, err := e.drills.Metrics(ctx, muster.Default, runs[1].ID, asOf)
	require.NoError(t, err)
	n := m.Total.Recipients
	classSize := func(c int) int { return (n - c + scriptClasses - 1) / scriptClasses }
	assert.Equal(t, classSize(0)+classSize(1)+classSize(2)+classSize(3)+classSize(4)+classSize(9), m.Total.Acked)
	assert.Equal(t, classSize(5), m.Total.Declined)
	assert.Equal(t, classSize(6)+classSize(10), m.Total.Failed)
	assert.Equal(t, classSize(0)+classSize(1), m.Total.Checkpoints[0].Acked, "acked by T+5")
	assert.Equal(t, m.Total.Acked-classSize(4), m.Total.Checkpoints[2].Acked, "acked by T+30")
	assert.Equal(t, 40*time.Minute, m.Total.AckTime.Max.Std())
	assert.Len(t, m.NoAnswer, n-m.Total.Acked-m.Total.Declined)
	assert.Equal(t, 50, m.Curve.Points[len(m.Curve.Points)-1].Minute, "the curve ends at the stand-down")
	assert.Equal(t, m.Total.Acked, m.Curve.Points[len(m.Curve.Points)-1].Acked)
	assert.Equal(t, string(drills.CategoryUnknown), m.ByCategory[len(m.ByCategory)-1].Key)
	assert.Equal(t, 1, m.ByCategory[len(m.ByCategory)-1].Recipients, "the person struck off the roster")
	assert.True(t, slices.ContainsFunc(m.ByRegion, func(g drills.Tally) bool { return g.Outside }), "duty leaders reach the whole plan")

	// Before the checkpoints have passed, they say so.
	early, err := e.drills.Metrics(ctx, muster.Default, runs[1].ID, m.Start.Add(10*time.Minute))
	require.NoError(t, err)
	assert.Equal(t, []bool{true, false, false}, []bool{early.Total.Checkpoints[0].Passed, early.Total.Checkpoints[1].Passed, early.Total.Checkpoints[2].Passed})
	assert.Equal(t, 10, early.Curve.Points[len(early.Curve.Points)-1].Minute)
	checkMetrics(t, e, runs[1], early, m.Start.Add(10*time.Minute))

	// The trend compares both runs, oldest first; the slower first run
	// acknowledged later.
	trend, err := e.drills.Trend(ctx, muster.Default, "flood-control")
	require.NoError(t, err)
	require.Len(t, trend, 2)
	for i, r := range runs {
		mr, err := e.drills.Metrics(ctx, muster.Default, r.ID, e.clock.Now())
		require.NoError(t, err)
		assert.Equal(t, r.ID, trend[i].Run)
		assert.Equal(t, mr.Start, trend[i].Start)
		assert.Equal(t, r.Participants, trend[i].Participants)
		assert.Equal(t, mr.Total, trend[i].Total)
	}
	assert.Greater(t, trend[0].Total.AckTime.P50, trend[1].Total.AckTime.P50)
	none, err := e.drills.Trend(ctx, muster.Default, "hazmat-fire")
	require.NoError(t, err)
	assert.Empty(t, none)

	// A run that did not start has no metrics, and is not in the trend.
	sc, err := e.drills.Get(ctx, muster.Default, runs[0].Schedule)
	require.NoError(t, err)
	next, _, err := sc.NextDue(sc.Due)
	require.NoError(t, err)
	var res drills.FireResult
	require.NoError(t, e.drills.Fire(ctx, "scheduler", drills.Fire{Schedule: sc.ID, Due: sc.Due, Skip: true, Reason: "test", Next: next, NextRunAt: next}, &res))
	require.NotNil(t, res.Run)
	_, err = e.drills.Metrics(ctx, muster.Default, res.Run.ID, asOf)
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	_, err = e.drills.Metrics(ctx, muster.Default, "R999999", asOf)
	assert.True(t, muster.IsCode(err, muster.ENotFound), "%v", err)
	trend, err = e.drills.Trend(ctx, muster.Default, "flood-control")
	require.NoError(t, err)
	assert.Len(t, trend, 2)
}

// TestMetricsOfALargeRunScanTheRoster: above the size where categories are
// looked up person by person, they come from one scan of the roster; the
// numbers are the same.
func TestMetricsOfALargeRunScanTheRoster(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	clk := clustertest.NewClock(time.Date(2026, 12, 7, 9, 0, 0, 0, loc))
	e := newEnvAt(t, 2600, clk)
	ctx := testCtx(t)
	sc, err := e.drills.Schedule(ctx, "trainer", drills.ScheduleInput{Plan: "everyone", Regions: []plans.RegionCode{city}, Level: "IV",
		Type: "notification", Title: "全员通讯演练", Cron: "0 9 1 * *"})
	require.NoError(t, err)
	r, err := e.drills.RunNow(ctx, "trainer", sc.ID)
	require.NoError(t, err)
	require.Equal(t, 2600, r.Participants)
	drive(t, e, r, 1)
	recs := e.recipients(t, r.Activation)
	for _, i := range []int{7, 18, 2000} { // silent ones
		require.NoError(t, e.plans.DeletePerson(ctx, "admin", recs[i].Person))
	}
	asOf := clk.Now()
	m, err := e.drills.Metrics(ctx, muster.Default, r.ID, asOf)
	require.NoError(t, err)
	checkMetrics(t, e, r, m, asOf)
	last := m.ByCategory[len(m.ByCategory)-1]
	assert.Equal(t, string(drills.CategoryUnknown), last.Key)
	assert.Equal(t, 3, last.Recipients)
	assert.Greater(t, len(m.ByCategory), 5)
}

// quickDrill is a drill of street started by hand at 9:00 on 7 December
// 2026 in Shanghai in which three people answer 1 by SMS, 5, 12 and 38
// seconds after the start, and nobody else does; the call-up stays open.
// It returns the run and its start.
func quickDrill(t *testing.T) (*env, drills.Run, time.Time) {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	clk := clustertest.NewClock(time.Date(2026, 12, 7, 9, 0, 0, 0, loc))
	e := newEnvAt(t, 2000, clk)
	ctx := testCtx(t)
	sc, err := e.drills.Schedule(ctx, "trainer", weekly(street))
	require.NoError(t, err)
	r, err := e.drills.RunNow(ctx, "trainer", sc.ID)
	require.NoError(t, err)
	st, err := e.notify.Activation(ctx, muster.Default, r.Activation)
	require.NoError(t, err)
	start := st.Activation.StartedAt
	recs := e.recipients(t, r.Activation)
	require.Greater(t, len(recs), 3)
	for i, after := range []time.Duration{5 * time.Second, 12 * time.Second, 38 * time.Second} {
		clk.Set(start.Add(after))
		rc := recs[i]
		var res []notify.InboundResult
		e.apply(t, notify.CmdInbound, map[string]any{"i": []notify.InboundItem{{Kind: notify.InboundReply, SID: fmt.Sprintf("SMquick%06d", i),
			From: rc.Phone, To: senders.Exercise.Sender, Body: "1", Account: senders.Exercise.Account, Exercise: true}}}, &res)
		require.Len(t, res, 1)
		require.Equal(t, notify.InboundApplied, res[0].Outcome, "reply of %s", rc.Person)
	}
	return e, r, start
}

// curveJSON is a metrics' curve as a consumer of the JSON report reads it.
type curveJSON struct {
	StepMinutes int `json:"step_minutes"`
	StepSeconds int `json:"step_seconds"`
	Points      []struct {
		Minute  int `json:"minute"`
		Second  int `json:"second"`
		Reached int `json:"reached"`
		Acked   int `json:"acked"`
	} `json:"points"`
}

func readCurve(t *testing.T, m drills.Metrics) curveJSON {
	t.Helper()
	b, err := json.Marshal(m)
	require.NoError(t, err)
	var v struct {
		Curve curveJSON `json:"curve"`
	}
	require.NoError(t, json.Unmarshal(b, &v))
	return v.Curve
}

// A drill everyone answers within a minute is counted in seconds: read 40
// seconds after the start, the curve has a point every 5 seconds, each
// counting the answers by then (5, 12 and 38 s), where it had two points a
// minute apart that showed nothing of how fast they came. The JSON keeps
// step_minutes and each point's minute (whole minutes, 0 here) for readers
// of the per-minute curve.
func TestCurveOfAShortDrillIsInSeconds(t *testing.T) {
	e, r, start := quickDrill(t)
	m, err := e.drills.Metrics(testCtx(t), muster.Default, r.ID, start.Add(40*time.Second))
	require.NoError(t, err)
	require.Equal(t, 3, m.Total.Acked)
	c := readCurve(t, m)
	assert.Equal(t, 5, c.StepSeconds, "step_seconds")
	assert.Equal(t, 0, c.StepMinutes, "step_minutes: under a minute")
	var secs, mins, acked, reached []int
	for _, p := range c.Points {
		secs, mins, acked, reached = append(secs, p.Second), append(mins, p.Minute), append(acked, p.Acked), append(reached, p.Reached)
	}
	assert.Equal(t, []int{0, 5, 10, 15, 20, 25, 30, 35, 40}, secs)
	assert.Equal(t, []int{0, 0, 0, 0, 0, 0, 0, 0, 0}, mins)
	assert.Equal(t, []int{0, 1, 1, 2, 2, 2, 2, 2, 3}, acked, "acked by each point")
	assert.Equal(t, acked, reached, "a reply reaches; nothing was delivered")

	// Read a little later, the step stays 5 s up to 10 minutes; the point
	// at 38 s is not there, the one at 40 s counts it.
	m, err = e.drills.Metrics(testCtx(t), muster.Default, r.ID, start.Add(10*time.Minute))
	require.NoError(t, err)
	c = readCurve(t, m)
	require.Equal(t, 5, c.StepSeconds)
	require.Len(t, c.Points, 121)
	assert.Equal(t, 2, c.Points[7].Acked, "by 35 s")
	assert.Equal(t, 3, c.Points[8].Acked, "by 40 s")
	assert.Equal(t, []int{1, 60}, []int{c.Points[12].Minute, c.Points[12].Second})
}

// A long drill keeps whole-minute steps, and however long the span (a run
// left open for months), the curve has at most 121 points: the step grows
// to whole days past 24 hours, where it stopped at a day and grew without
// bound.
func TestCurveOfALongDrillKeepsMinuteStepsAndItsBound(t *testing.T) {
	e, r, start := quickDrill(t)
	for _, tc := range []struct {
		name        string
		span        time.Duration
		stepSeconds int
		points      int
	}{
		{"fifty minutes", 50 * time.Minute, 30, 101},
		{"two hours", 2 * time.Hour, 60, 121},
		{"three hours", 3 * time.Hour, 120, 91},
		{"two days", 48 * time.Hour, 30 * 60, 97},
		{"two hundred days", 200 * 24 * time.Hour, 2 * 24 * 3600, 101},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := e.drills.Metrics(testCtx(t), muster.Default, r.ID, start.Add(tc.span))
			require.NoError(t, err)
			c := readCurve(t, m)
			assert.Equal(t, tc.stepSeconds, c.StepSeconds, "step_seconds")
			assert.Equal(t, tc.stepSeconds/60, c.StepMinutes, "step_minutes")
			assert.Len(t, c.Points, tc.points)
			assert.LessOrEqual(t, len(c.Points), 121, "at most maxCurvePoints+1")
			for i, p := range c.Points {
				require.Equal(t, i*tc.stepSeconds, p.Second, "point %d", i)
				require.Equal(t, p.Second/60, p.Minute, "point %d: whole minutes", i)
			}
			last := c.Points[len(c.Points)-1]
			assert.GreaterOrEqual(t, time.Duration(last.Second)*time.Second, tc.span, "the first point at or after the end")
			for _, p := range c.Points {
				want := 0
				for _, at := range []int{5, 12, 38} {
					if at <= p.Second {
						want++
					}
				}
				require.Equal(t, want, p.Acked, "acked by %d s", p.Second)
			}
		})
	}
}
