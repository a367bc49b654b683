package drills_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/api"
	"muster/drills"
	"muster/notify"
	"muster/notify/twiliosim"
	"muster/plans"
)

// The simulator's accounts for a drill call-up: the live one must stay
// untouched.
var (
	simLive  = twiliosim.Account{SID: "AC00000000000000000000000000000011", AuthToken: "livetoken11", Number: "+15005550016"}
	simDrill = twiliosim.Account{SID: "AC00000000000000000000000000000012", AuthToken: "drilltoken12", Number: "+15005550017"}
)

// callUp is the smallest rig that really calls people up: the leader of
// env runs a dispatcher whose routes are the real twilio-go client against
// the simulator over HTTP, and takes the simulator's delivery reports and
// replies through the real HTTP API's webhooks.
type callUp struct {
	sim   *twiliosim.Server
	hooks *httptest.Server
}

func newCallUp(t *testing.T, e *env, replies []twiliosim.ReplyRule) *callUp {
	t.Helper()
	n := e.c.Leader().Node
	quiet := slog.New(slog.DiscardHandler)
	var handler atomic.Pointer[http.Handler]
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }))
	t.Cleanup(hooks.Close)
	in := notify.NewInbound(n, notify.InboundConfig{Tokens: map[string]string{simLive.SID: simLive.AuthToken, simDrill.SID: simDrill.AuthToken},
		Exercise: []string{simDrill.SID}, View: n})
	t.Cleanup(in.Close)
	h := api.New(api.Config{Logger: quiet, PublicURL: hooks.URL}, api.Deps{Cluster: n, Webhooks: in}).Handler()
	handler.Store(&h)

	live, drill := simLive, simDrill
	live.InboundURL = hooks.URL + "/hooks/twilio/sms-inbound"
	drill.InboundURL = live.InboundURL
	sim := twiliosim.New(twiliosim.Config{Accounts: []twiliosim.Account{live, drill}, Replies: replies, Seed: 42,
		TimeScale: 0.05, Workers: 32, CallbackAttempts: 8, CallbackRetryDelay: 20 * time.Millisecond})
	simServer := httptest.NewServer(sim.Handler())
	t.Cleanup(func() {
		sim.Close()
		simServer.Close()
	})
	route := func(name string, a twiliosim.Account, exercise bool) *notify.Route {
		tw, err := notify.NewTwilio(notify.TwilioConfig{AccountSID: a.SID, AuthToken: a.AuthToken, APIURL: simServer.URL, From: []string{a.Number}})
		require.NoError(t, err)
		t.Cleanup(tw.Close)
		return &notify.Route{Name: name, Account: a.SID, Provider: tw, Senders: []string{a.Number}, Exercise: exercise}
	}
	d, err := notify.NewDispatcher(n, n, notify.DispatcherConfig{Live: route("live", simLive, false), Exercise: route("exercise", simDrill, true),
		PublicURL: hooks.URL, ReportTimeout: 3 * time.Second, Logger: quiet})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { d.Run(ctx) }) // the node is the only one: it leads
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return &callUp{sim: sim, hooks: hooks}
}

// waitSettled polls, up to timeout, until no recipient of the activation
// waits for a send or a report and the simulator has nothing left to post.
func (cu *callUp) waitSettled(t *testing.T, e *env, id plans.ActivationID, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, err := e.notify.Activation(testCtx(t), muster.Default, id)
		require.NoError(t, err)
		c := st.Counters.ByState
		busy := c[notify.StatePending] + c[notify.StateSending] + c[notify.StateSent]
		if busy == 0 && cu.sim.Stats().Pending == 0 {
			return
		}
		require.True(t, time.Now().Before(deadline), "call-up not settled after %v: %v, simulator %+v", timeout, c, cu.sim.Stats())
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDrillCallUpEndToEnd runs a drill against the simulator: 70% of
// those called reply 1 within 30 s, 10% reply 2, the rest stay silent
// (simulated time, at a twentieth of real time). The run's metrics match
// the test's own count of the recorded state, and only the EXERCISE
// account was used.
func TestDrillCallUpEndToEnd(t *testing.T) {
	e := newEnv(t, 1, 1500)
	cu := newCallUp(t, e, []twiliosim.ReplyRule{
		{Share: 0.7, Body: "1", Within: 30 * time.Second},
		{Share: 0.1, Body: "2 在外地出差", Within: 30 * time.Second},
	})
	ctx := testCtx(t)
	sc, err := e.drills.Schedule(ctx, "trainer", weekly(district))
	require.NoError(t, err)
	run, err := e.drills.RunNow(ctx, "trainer", sc.ID)
	require.NoError(t, err)
	require.Greater(t, run.Participants, 150)

	cu.waitSettled(t, e, run.Activation, 25*time.Second)
	st := cu.sim.Stats() // before the end notice adds its SMS
	_, err = e.drills.Close(ctx, "scheduler", run.ID, "演练结束")
	require.NoError(t, err)
	asOf := time.Now()
	m, err := e.drills.Metrics(ctx, muster.Default, run.ID, asOf)
	require.NoError(t, err)
	checkMetrics(t, e, run, m, asOf)

	// Only the exercise account carried the drill, every message marked.
	assert.Zero(t, st.Accounts[simLive.SID].Created, "a drill never uses the live account")
	assert.EqualValues(t, run.Participants, st.Accounts[simDrill.SID].Created, "one message per person called up")
	assert.Zero(t, st.RepliesFailed)
	for _, msg := range cu.sim.Messages("") {
		if msg.Direction == "outbound-api" {
			assert.True(t, strings.HasPrefix(msg.Body, plans.ExerciseMark), "exercise SMS without the mark: %q", msg.Body)
		}
	}
	assert.Equal(t, notify.PurposeExercise, m.Purpose)

	// What the reply profile makes of it: everyone reached, about 70%
	// acknowledged and 10% declined, all within the first checkpoint.
	n := m.Total.Recipients
	t.Logf("%d called up: reached %d, acked %d (p50 %v, p90 %v, max %v), declined %d, silent %d", n, m.Total.Reached, m.Total.Acked,
		m.Total.AckTime.P50, m.Total.AckTime.P90, m.Total.AckTime.Max, m.Total.Declined, m.Total.Unanswered)
	assert.Equal(t, n, m.Total.Reached)
	assert.EqualValues(t, st.RepliesSent, m.Total.Acked+m.Total.Declined, "every reply is an answer")
	assert.InDelta(t, 0.7, float64(m.Total.Acked)/float64(n), 0.12)
	assert.InDelta(t, 0.1, float64(m.Total.Declined)/float64(n), 0.07)
	assert.Equal(t, m.Total.Acked, m.Total.Checkpoints[0].Acked, "every ack by T+5")
	assert.Len(t, m.NoAnswer, n-m.Total.Acked-m.Total.Declined)
	assert.Positive(t, m.Total.AckTime.P50.Std())
	assert.LessOrEqual(t, m.Total.AckTime.Max.Std(), 10*time.Second)

	// The report renders from what was recorded.
	rep, err := e.drills.Report(ctx, muster.Default, run.ID, asOf)
	require.NoError(t, err)
	var html strings.Builder
	require.NoError(t, drills.WriteReport(&html, rep, drills.FormatHTML, drills.ReportOptions{}))
	assert.Contains(t, html.String(), "【演练】")

	// Closed at its length, the drill tells everyone it reached that it
	// is over (rules 13), on the exercise account, as a trainer's
	// stand-down does: those who answered 到 may be on the way to a drill
	// post. Before, a run ending at its length told nobody.
	a, err := e.notify.Activation(ctx, muster.Default, run.Activation)
	require.NoError(t, err)
	require.NotEmpty(t, a.EndNotice, "the run's end tells the people it reached")
	cu.waitSettled(t, e, a.EndNotice, 25*time.Second)
	told := map[string]bool{}
	for _, msg := range cu.sim.Messages("") {
		if msg.Direction == "outbound-api" && (strings.Contains(msg.Body, notify.DrillEndText) || strings.Contains(msg.Body, notify.DrillEndTextEN)) {
			assert.True(t, strings.HasPrefix(msg.Body, plans.ExerciseMark), "%q", msg.Body)
			told[msg.To] = true
		}
	}
	assert.Len(t, told, m.Total.Reached, "everyone reached is told, once each")
	assert.Zero(t, cu.sim.Stats().Accounts[simLive.SID].Created, "a drill's end never uses the live account")
}
