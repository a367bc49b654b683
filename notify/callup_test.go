package notify_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/api"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/notify"
	"muster/notify/twiliosim"
	"muster/plans"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode) // the test binary's main; the server itself never sets it
	os.Exit(m.Run())
}

// The simulator's two accounts: LIVE traffic and EXERCISE/TEST traffic.
var (
	liveAcct  = twiliosim.Account{SID: "AC00000000000000000000000000000001", AuthToken: "livetoken1", Number: "+15005550006"}
	drillAcct = twiliosim.Account{SID: "AC00000000000000000000000000000002", AuthToken: "drilltoken2", Number: "+15005550007"}
	// The fallback accounts, on a second simulator instance.
	liveFallbackAcct  = twiliosim.Account{SID: "AC00000000000000000000000000000003", AuthToken: "livetoken3", Number: "+15005550008"}
	drillFallbackAcct = twiliosim.Account{SID: "AC00000000000000000000000000000004", AuthToken: "drilltoken4", Number: "+15005550009"}
)

// callRig is a real cluster whose every node runs a dispatcher as a leader
// service and takes webhooks through the real HTTP API, a Twilio simulator
// over HTTP with a live and an exercise account, and a front: the public
// URL the simulator posts webhooks to, which passes each to a node that is
// up, as a load balancer would.
type callRig struct {
	*env
	sim       *twiliosim.Server
	simServer *httptest.Server
	simURL    string
	fbSim     *twiliosim.Server // the fallback accounts' simulator (rigOptions.fallback)
	front     *httptest.Server

	mu     sync.Mutex
	disp   map[int]*notify.Dispatcher
	esc    map[int]*notify.Escalator
	in     map[int]*notify.Inbound // each member's webhooks, as last started
	nodes  []string                // HTTP addresses, by member index
	starts map[int]int             // how many times each member has started
}

type rigOptions struct {
	nodes, people int
	sim           twiliosim.Config
	disp          notify.DispatcherConfig
	config        func(i int, c *cluster.Config)
	noCallbacks   bool    // the dispatcher asks for no delivery reports
	perSecond     float64 // each route's send rate; 0 is unlimited
	drillRate     float64 // the exercise route's send rate, when set (in place of perSecond)
	// restartRate, when set, is the exercise route's send rate on a node
	// started again (Cluster.Restart) in place of drillRate: the pace a
	// test sets up its moment with need not pace the rest of the call-up.
	restartRate   float64
	drillCallRate float64 // the exercise voice route's calls per second; 0 is unlimited
	fallback      bool    // each route has a fallback account on a second simulator
	// wrongDrillToken gives the exercise route a wrong auth token: the
	// simulator refuses the account (401, 20003), as Twilio does a token
	// rotated under it.
	wrongDrillToken bool
	// clock, when set, is every node's clock and the escalators' (which
	// run on every node as leader services).
	clock muster.Clock
	// provider, when set, makes each route's provider in place of the
	// simulator's (one for live, one for exercise).
	provider func(exercise bool) notify.Provider
	// wrap, when set, wraps each route's provider (once chosen).
	wrap func(exercise bool, p notify.Provider) notify.Provider
	// escalator, when set, changes each node's escalator configuration
	// (with clock).
	escalator func(*notify.EscalatorConfig)
	// leaderServices, when set, adds to each node what else it registers
	// and runs as leader services, given the node's dispatcher routes.
	leaderServices func(i int, n *cluster.Node, cfg notify.DispatcherConfig)
}

func newCallRig(t testing.TB, o rigOptions) *callRig {
	t.Helper()
	r := &callRig{disp: map[int]*notify.Dispatcher{}, esc: map[int]*notify.Escalator{}, in: map[int]*notify.Inbound{}, starts: map[int]int{}}
	r.front = httptest.NewServer(http.HandlerFunc(r.forward))
	t.Cleanup(r.front.Close)

	live, drill := liveAcct, drillAcct
	live.InboundURL = r.front.URL + "/hooks/twilio/sms-inbound"
	drill.InboundURL = live.InboundURL
	o.sim.Accounts = []twiliosim.Account{live, drill}
	if o.sim.SentDelay == 0 {
		o.sim.SentDelay, o.sim.DeliveredDelay = 5*time.Millisecond, 10*time.Millisecond
	}
	if o.sim.CallbackRetryDelay == 0 {
		o.sim.CallbackRetryDelay = 20 * time.Millisecond
	}
	if o.sim.CallbackAttempts == 0 {
		o.sim.CallbackAttempts = 8
	}
	if o.sim.Workers == 0 {
		o.sim.Workers = 64 // as a provider posts reports: many at once
	}
	r.sim = twiliosim.New(o.sim)
	r.simServer = httptest.NewServer(r.sim.Handler())
	r.simURL = r.simServer.URL
	t.Cleanup(func() {
		r.sim.Close()
		r.simServer.Close()
	})
	// The fallback accounts live on a second simulator instance.
	var liveFB, drillFB *notify.Route
	if o.fallback {
		lfb, dfb := liveFallbackAcct, drillFallbackAcct
		lfb.InboundURL, dfb.InboundURL = live.InboundURL, live.InboundURL
		fbCfg := o.sim
		fbCfg.Accounts = []twiliosim.Account{lfb, dfb}
		r.fbSim = twiliosim.New(fbCfg)
		fbServer := httptest.NewServer(r.fbSim.Handler())
		t.Cleanup(func() {
			r.fbSim.Close()
			fbServer.Close()
		})
		liveFB = &notify.Route{Name: "live-fallback", Account: lfb.SID, Senders: []string{lfb.Number}, PerSecond: o.perSecond,
			Provider: newTwilio(t, notify.TwilioConfig{AccountSID: lfb.SID, AuthToken: lfb.AuthToken, APIURL: fbServer.URL, From: []string{lfb.Number}})}
		drillFB = &notify.Route{Name: "exercise-fallback", Account: dfb.SID, Senders: []string{dfb.Number}, Exercise: true, PerSecond: o.perSecond,
			Provider: newTwilio(t, notify.TwilioConfig{AccountSID: dfb.SID, AuthToken: dfb.AuthToken, APIURL: fbServer.URL, From: []string{dfb.Number}})}
	}

	tokens := map[string]string{live.SID: live.AuthToken, drill.SID: drill.AuthToken,
		liveFallbackAcct.SID: liveFallbackAcct.AuthToken, drillFallbackAcct.SID: drillFallbackAcct.AuthToken}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("MUSTER_TEST_LOG") != "" { // the nodes' and dispatchers' logs, to debug a failure
		quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	config := o.config
	if o.clock != nil {
		config = func(i int, c *cluster.Config) {
			c.Clock = o.clock
			if o.config != nil {
				o.config(i, c)
			}
		}
	}
	opts := clustertest.Options{
		Config: config,
		Setup: func(i int, n *cluster.Node) {
			setup(i, n)
			cfg := o.disp
			if cfg.ReportTimeout == 0 {
				cfg.ReportTimeout = 3 * time.Second // a lost report is looked up soon
			}
			if !o.noCallbacks {
				cfg.PublicURL = r.front.URL
			}
			cfg.Logger = quiet
			cfg.Live = &notify.Route{Name: "live", Account: live.SID, Senders: []string{live.Number}, PerSecond: o.perSecond,
				Provider: newTwilio(t, notify.TwilioConfig{AccountSID: live.SID, AuthToken: live.AuthToken, APIURL: r.simURL, From: []string{live.Number}})}
			drillToken := drill.AuthToken
			if o.wrongDrillToken {
				drillToken = "rotated" + drillToken
			}
			r.mu.Lock()
			r.starts[i]++
			restarted := r.starts[i] > 1
			r.mu.Unlock()
			drillRate := cmp.Or(o.drillRate, o.perSecond)
			if restarted && o.restartRate > 0 {
				drillRate = o.restartRate
			}
			cfg.Exercise = &notify.Route{Name: "exercise", Account: drill.SID, Senders: []string{drill.Number}, Exercise: true, PerSecond: drillRate,
				Provider: newTwilio(t, notify.TwilioConfig{AccountSID: drill.SID, AuthToken: drillToken, APIURL: r.simURL, From: []string{drill.Number}})}
			cfg.Live.Fallback, cfg.Exercise.Fallback = liveFB, drillFB
			if o.provider != nil {
				cfg.Live.Provider, cfg.Exercise.Provider = o.provider(false), o.provider(true)
			}
			if o.wrap != nil {
				cfg.Live.Provider, cfg.Exercise.Provider = o.wrap(false, cfg.Live.Provider), o.wrap(true, cfg.Exercise.Provider)
			}
			d, err := notify.NewDispatcher(n, n, cfg)
			require.NoError(t, err)
			n.OnLeader(d.Run)
			if o.leaderServices != nil {
				o.leaderServices(i, n, cfg)
			}
			r.mu.Lock()
			r.disp[i] = d
			r.mu.Unlock()
			if o.clock != nil {
				voice := func(r *notify.Route) *notify.VoiceRoute {
					v := &notify.VoiceRoute{Name: r.Name, Account: r.Account, Caller: r.Provider.(notify.Caller), Exercise: r.Exercise}
					if r.Exercise {
						v.PerSecond = o.drillCallRate
					}
					return v
				}
				ecfg := notify.EscalatorConfig{Clock: o.clock, Tick: 20 * time.Millisecond,
					Live: cfg.Live, Exercise: cfg.Exercise, LiveVoice: voice(cfg.Live), ExerciseVoice: voice(cfg.Exercise),
					PublicURL: r.front.URL, Logger: quiet}
				if o.escalator != nil {
					o.escalator(&ecfg)
				}
				e := notify.NewEscalator(n, n, ecfg)
				n.OnLeader(e.Run)
				r.mu.Lock()
				r.esc[i] = e
				r.mu.Unlock()
			}
		},
		Handler: func(i int, n *cluster.Node) http.Handler {
			in := notify.NewInbound(n, notify.InboundConfig{Tokens: tokens, Exercise: []string{drill.SID, drillFallbackAcct.SID}, View: n, Clock: o.clock})
			t.Cleanup(in.Close)
			r.mu.Lock()
			r.in[i] = in
			r.mu.Unlock()
			return api.New(api.Config{Logger: quiet, PublicURL: r.front.URL}, api.Deps{Cluster: n, Webhooks: in}).Handler()
		},
	}
	r.env = newEnvWith(t, o.nodes, o.people, opts, testCtx(t))
	for _, m := range r.c.Nodes {
		r.nodes = append(r.nodes, m.HTTPAddr)
	}
	_, err := r.plans.ApplyPlan(testCtx(t), "test", "everyone.yaml", examples.EveryonePlan)
	require.NoError(t, err)
	return r
}

// forward passes a webhook to the first node that answers, starting from a
// different one each time.
var frontTurn atomic.Uint64

// frontClient keeps a connection to each node for every concurrent webhook,
// as a load balancer does; http.DefaultClient keeps two per host and would
// open and close one for most webhooks when the simulator posts many at once.
var frontClient = func() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	tr.MaxIdleConns = 1024
	return &http.Client{Transport: tr}
}()

func (r *callRig) forward(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	nodes := append([]string(nil), r.nodes...)
	r.mu.Unlock()
	start := int(frontTurn.Add(1))
	for i := range nodes {
		target := nodes[(start+i)%len(nodes)] + req.URL.RequestURI()
		out, err := http.NewRequestWithContext(req.Context(), req.Method, target, bytes.NewReader(body))
		if err != nil {
			continue
		}
		out.Header = req.Header.Clone()
		resp, err := frontClient.Do(out)
		if err != nil {
			continue // node down: try the next
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		resp.Body.Close()
		return
	}
	http.Error(w, "no node answered", http.StatusBadGateway)
}

// activate starts an activation of the everyone plan over the city.
func (r *callRig) activate(t testing.TB, purpose string) notify.Activation {
	t.Helper()
	return r.activateIn(t, purpose, city)
}

// activateIn starts an activation of the everyone plan over one region.
func (r *callRig) activateIn(t testing.TB, purpose string, region plans.RegionCode) notify.Activation {
	t.Helper()
	n := r.c.WaitLeader(15 * time.Second).Node
	svc := notify.NewService(n, n, senders)
	a, err := svc.Activate(testCtx(t), "commander", notify.ActivationRequest{Plan: "everyone", Regions: []plans.RegionCode{region}, Level: "IV", Purpose: purpose, Reason: "通讯检查"})
	require.NoError(t, err)
	return a
}

// drillDistrict is where the drill runs in the tests of a drill and a LIVE
// call-up at once: a LIVE call-up stands down the drills over its regions
// (rulesLiveStopsDrills), so the LIVE one is over district, the next.
const drillDistrict = plans.RegionCode("990102")

// status reads an activation's counters from the current leader.
func (r *callRig) status(t testing.TB, id plans.ActivationID) notify.ActivationStatus {
	t.Helper()
	n := r.c.WaitLeader(15 * time.Second).Node
	st, err := notify.NewService(n, n, senders).Activation(testCtx(t), muster.Default, id)
	require.NoError(t, err)
	return st
}

// waitSettled polls until no recipient of id is pending, sending or sent.
func (r *callRig) waitSettled(t testing.TB, id plans.ActivationID, timeout time.Duration) notify.ActivationStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := r.status(t, id)
		c := st.Counters.ByState
		if c[notify.StatePending]+c[notify.StateSending]+c[notify.StateSent] == 0 {
			return st
		}
		if time.Now().After(deadline) {
			require.FailNowf(t, "call-up did not settle", "after %v: %v, dispatch %v", timeout, c, st.Counters.Dispatch)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recipientsOf lists every recipient of an activation.
func (r *callRig) recipientsOf(t testing.TB, id plans.ActivationID) []notify.Recipient {
	t.Helper()
	n := r.c.WaitLeader(15 * time.Second).Node
	svc := notify.NewService(n, n, senders)
	var out []notify.Recipient
	page := plans.Page{Limit: plans.MaxPageLimit}
	for {
		l, err := svc.Recipients(testCtx(t), muster.Default, id, notify.RecipientFilter{}, page)
		require.NoError(t, err)
		out = append(out, l.Items...)
		if l.Next == "" {
			return out
		}
		page.After = l.Next
	}
}

func TestExerciseCallUpEndToEnd(t *testing.T) {
	r := newCallRig(t, rigOptions{nodes: 1, people: 300, sim: twiliosim.Config{
		Replies: []twiliosim.ReplyRule{
			{Share: 0.7, Body: "1", Within: 50 * time.Millisecond},
			{Share: 0.1, Body: "2 家中有事", Within: 50 * time.Millisecond},
			{Share: 0.05, Body: "请问去哪里集合？", Within: 50 * time.Millisecond},
		},
	}})
	a := r.activate(t, "exercise")
	require.Equal(t, 300, a.Recipients)

	// Everyone is delivered, and most answer: wait until the simulator has
	// posted every reply (a reply is posted only once its webhook got a 2xx,
	// so it is committed by then).
	r.waitSettled(t, a.ID, 30*time.Second)
	sim := r.waitSimIdle(t, 30*time.Second)
	require.Zero(t, sim.RepliesFailed)
	st := r.status(t, a.ID)
	c := st.Counters.ByState
	assert.Zero(t, sim.Accounts[liveAcct.SID].Created, "a drill never uses the live account")
	assert.EqualValues(t, 300, sim.Accounts[drillAcct.SID].Created, "one message per recipient")
	assert.Equal(t, 300, c[notify.StateDelivered]+c[notify.StateAcked]+c[notify.StateDeclined])
	replied, notes := 0, 0
	for _, rc := range r.recipientsOf(t, a.ID) {
		if rc.Attempt != nil && rc.Attempt.Replies > 0 {
			replied++
			if !rc.State.Answered() {
				notes++
				assert.Equal(t, "请问去哪里集合？", rc.Attempt.LastBody)
			}
		}
		if rc.State == notify.StateDeclined {
			assert.Equal(t, "家中有事", rc.Attempt.Reason)
		}
	}
	assert.EqualValues(t, sim.RepliesSent, replied, "every reply is attributed")
	assert.Equal(t, replied, c[notify.StateAcked]+c[notify.StateDeclined]+notes)
	assert.Positive(t, notes)
	assert.Greater(t, c[notify.StateAcked], 150)
	assert.Greater(t, c[notify.StateDeclined], 10)
	for _, m := range r.sim.Messages("") {
		if m.Direction == "outbound-api" {
			assert.True(t, strings.HasPrefix(m.Body, plans.ExerciseMark), "exercise SMS without the mark: %q", m.Body)
		}
	}
	// Acknowledgements came within seconds: all count at T+5.
	acked5 := 0
	for _, g := range st.Counters.AckBy {
		acked5 += g[5]
	}
	assert.Equal(t, c[notify.StateAcked], acked5)
}

// TestDispatchStartsAndCommitsWithoutWaiting: with the dispatcher's poll
// and its results' batch delay both an hour, a call-up still goes out and
// every send result is committed at once: the dispatcher wakes when the
// activation is applied, and the last send of the burst makes its batch of
// results due.
func TestDispatchStartsAndCommitsWithoutWaiting(t *testing.T) {
	r := newCallRig(t, rigOptions{nodes: 1, people: 50, noCallbacks: true,
		disp: notify.DispatcherConfig{Poll: time.Hour, ResultDelay: time.Hour}})
	// The dispatcher is running, idle: it has looked once and now waits.
	require.Eventually(t, func() bool { return r.disp[0].Stats().Runs == 1 }, 10*time.Second, 5*time.Millisecond)
	a := r.activate(t, "exercise")
	start := time.Now()
	st := r.waitDispatched(t, a.ID, 10*time.Second)
	assert.Equal(t, 50, st.Counters.ByState[notify.StateSent])
	t.Logf("50 sent and their results committed %v after the activation", time.Since(start))
}

// TestLiveCallUpIsNotHeldBehindADrill starts a drill in one district whose
// exercise account sends 10 messages a second, then a LIVE call-up in the
// next. The LIVE messages go out at once on their own account: they do not
// queue behind the drill's claimed backlog (tens of seconds of it), nor
// wait for a worker held by the exercise account's limit.
func TestLiveCallUpIsNotHeldBehindADrill(t *testing.T) {
	const people = 1200
	r := newCallRig(t, rigOptions{nodes: 1, people: people, noCallbacks: true, drillRate: 10,
		disp: notify.DispatcherConfig{Workers: 8}})
	drill := r.activateIn(t, "exercise", drillDistrict)
	require.Greater(t, drill.Recipients, 100, "a backlog of 10 s or more")
	require.Eventually(t, func() bool { return r.status(t, drill.ID).Counters.ByState[notify.StateSent] > 0 }, 10*time.Second, 10*time.Millisecond)
	live := r.activateIn(t, "live", district)
	require.Empty(t, live.StoppedDrills)
	start := time.Now()
	st := r.waitDispatched(t, live.ID, 20*time.Second) // none pending or sending
	took := time.Since(start)
	assert.Equal(t, live.Recipients, st.Counters.Dispatch["claimed"], "each sent once")
	assert.Zero(t, st.Counters.ByState[notify.StateFailed])
	d := r.status(t, drill.ID).Counters.ByState
	assert.Positive(t, d[notify.StatePending]+d[notify.StateSending], "the drill is still sending at its own pace: %v", d)
	t.Logf("%d LIVE messages sent in %v while the drill had sent %d", live.Recipients, took, d[notify.StateSent])
	r.standDown(t, drill.ID)
}

// TestLostDeliveryReportsAreLookedUp: the dispatcher asks for no delivery
// reports here, as if every one were lost on the way. Once ReportTimeout
// has passed, it asks the provider for each message's status and commits
// it: every recipient ends delivered, each asked about once.
func TestLostDeliveryReportsAreLookedUp(t *testing.T) {
	const people = 50
	r := newCallRig(t, rigOptions{nodes: 1, people: people, noCallbacks: true,
		disp: notify.DispatcherConfig{ReportTimeout: time.Second}})
	a := r.activate(t, "live")
	st := r.waitSettled(t, a.ID, 20*time.Second)
	assert.Equal(t, people, st.Counters.ByState[notify.StateDelivered])
	assert.EqualValues(t, people, r.disp[0].Stats().Fetched, "each message's status asked once")
}

// TestLiveReportSweepIsNotHeldBehindADrill: the exercise account hangs
// when asked for a message's status. The overdue reports of a LIVE
// call-up opened after the drill are still looked up on the live account,
// while the drill's wait on theirs.
func TestLiveReportSweepIsNotHeldBehindADrill(t *testing.T) {
	const people = 50
	var hung *hangingFetcher
	r := newCallRig(t, rigOptions{nodes: 1, people: people, noCallbacks: true,
		disp: notify.DispatcherConfig{ReportTimeout: time.Second},
		wrap: func(exercise bool, p notify.Provider) notify.Provider {
			if !exercise {
				return p
			}
			hung = &hangingFetcher{Provider: p, release: make(chan struct{})}
			return hung
		}})
	// Let the lookups go before the node closes (cleanups run last first):
	// a closing dispatcher otherwise waits out its grace for them.
	t.Cleanup(func() { close(hung.release) })
	drill := r.activateIn(t, "exercise", drillDistrict)
	r.waitDispatched(t, drill.ID, 10*time.Second)
	live := r.activateIn(t, "live", district)
	st := r.waitSettled(t, live.ID, 20*time.Second)
	assert.Equal(t, live.Recipients, st.Counters.ByState[notify.StateDelivered])
	assert.Positive(t, hung.asked.Load(), "the drill's sweep asked its account too")
	assert.Equal(t, drill.Recipients, r.status(t, drill.ID).Counters.ByState[notify.StateSent], "the drill's reports are still overdue")
	r.standDown(t, drill.ID)
}

// hangingFetcher is a provider whose status lookups hang until their
// context ends or release is closed (at the end of the test).
type hangingFetcher struct {
	notify.Provider
	asked   atomic.Int64
	release chan struct{}
}

func (h *hangingFetcher) FetchSMS(ctx context.Context, providerID string) (notify.Report, error) {
	h.asked.Add(1)
	select {
	case <-ctx.Done():
		return notify.Report{}, ctx.Err()
	case <-h.release:
		return notify.Report{}, errors.New("the test is over")
	}
}

// TestSevereCallUpClaimsFirst opens a level IV drill over 300 people on an
// exercise account sending 100 a second, with an in-flight window of 20,
// then a level I drill of the same people. Every place that frees in the
// window goes to level I until all of it is claimed. Level IV claims only
// what level I leaves: at most a window in a round of claims already under
// way when level I opened, and after level I's last claim what frees while
// level I's last sends finish, at most three windows more. Sharing the
// places instead gave level IV about as many as level I (270 in two runs).
func TestSevereCallUpClaimsFirst(t *testing.T) {
	const people, window = 300, 20
	r := newCallRig(t, rigOptions{nodes: 1, people: people, noCallbacks: true, drillRate: 100,
		disp: notify.DispatcherConfig{MaxInFlight: window, ClaimBatch: 10}})
	claimed := func(id plans.ActivationID) int { return r.status(t, id).Counters.Dispatch["claimed"] }
	iv, one := r.levelIVThenI(t)
	before := claimed(iv.ID)
	r.waitDispatched(t, one.ID, 30*time.Second)
	during := claimed(iv.ID) - before
	assert.Equal(t, people, claimed(one.ID))
	assert.LessOrEqual(t, during, 4*window, "level IV claimed while level I was being sent")
	t.Logf("level IV claimed %d while level I's %d were sent", during, people)
	r.standDown(t, iv.ID)
}

// TestSevereSendsGoFirst claims two seconds of a 300-person level IV
// drill's sends at once (the claim horizon: 200 at the account's 100 a
// second), then opens a level I drill of the same people, claimed as
// places free. Level I's sends go before the level IV ones still queued:
// when level I is all sent, most of level IV still waits (in claim order
// the 200 queued would have gone first).
func TestSevereSendsGoFirst(t *testing.T) {
	const people = 300
	r := newCallRig(t, rigOptions{nodes: 1, people: people, noCallbacks: true, drillRate: 100,
		disp: notify.DispatcherConfig{MaxInFlight: 2 * people, ClaimBatch: people}})
	iv, one := r.levelIVThenI(t)
	r.waitDispatched(t, one.ID, 30*time.Second)
	c := r.status(t, iv.ID).Counters
	assert.GreaterOrEqual(t, c.Dispatch["claimed"], 200, "level IV's two seconds were claimed before level I opened")
	waiting := c.ByState[notify.StatePending] + c.ByState[notify.StateSending]
	assert.GreaterOrEqual(t, waiting, people/2, "level IV's sends wait while level I's go: %v", c.ByState)
	t.Logf("level I all sent; level IV still waiting: %d of %d", waiting, people)
	r.standDown(t, iv.ID)
}

// TestSevereSendIsNotHeldByWaitingWorkers: on an exercise account sending
// 10 messages a second, each of the 16 workers waits for the account's
// rate with a level IV send it took. When a level I drill opens, the next
// worker whose turn comes sends level I's first message, not the level IV
// one it held: level IV sends next to nothing between level I's opening
// and its first send. Before, the 16 held level IV sends went first (1.6 s).
func TestSevereSendIsNotHeldByWaitingWorkers(t *testing.T) {
	const people, workers = 300, 16
	r := newCallRig(t, rigOptions{nodes: 1, people: people, noCallbacks: true, drillRate: 10,
		disp: notify.DispatcherConfig{Workers: workers}})
	sent := func(id plans.ActivationID) int { return r.status(t, id).Counters.ByState[notify.StateSent] }
	iv, one := r.levelIVThenI(t)
	before := sent(iv.ID)
	require.Eventually(t, func() bool { return sent(one.ID) > 0 }, 10*time.Second, 5*time.Millisecond)
	during := sent(iv.ID) - before
	assert.Less(t, during, workers/2, "level IV sends before level I's first")
	t.Logf("level IV sent %d between level I's opening and its first send", during)
	r.standDown(t, one.ID)
	r.standDown(t, iv.ID)
}

// levelIVThenI opens a level IV drill of everyone, waits for its first
// committed send, then opens a level I drill of everyone (plan
// everyone-i, made here from the everyone plan) over the same people on
// purpose (Repeat: 演练重叠 refuses it otherwise).
func (r *callRig) levelIVThenI(t *testing.T) (iv, one notify.Activation) {
	t.Helper()
	severe := bytes.Replace(examples.EveryonePlan, []byte("id: everyone"), []byte("id: everyone-i"), 1)
	severe = bytes.Replace(severe, []byte("\n  IV:\n"), []byte("\n  I:\n"), 1)
	_, err := r.plans.ApplyPlan(testCtx(t), "test", "everyone-i.yaml", severe)
	require.NoError(t, err)
	iv = r.activate(t, "exercise")
	require.Eventually(t, func() bool { return r.status(t, iv.ID).Counters.ByState[notify.StateSent] > 0 }, 10*time.Second, 10*time.Millisecond)
	n := r.c.WaitLeader(15 * time.Second).Node
	one, err = notify.NewService(n, n, senders).Activate(testCtx(t), "commander", notify.ActivationRequest{Plan: "everyone-i", Regions: []plans.RegionCode{city}, Level: "I", Purpose: "exercise", Reason: "通讯演练", Repeat: true})
	require.NoError(t, err)
	return iv, one
}

// standDown stands activation id down through the current leader.
func (r *callRig) standDown(t testing.TB, id plans.ActivationID) {
	t.Helper()
	n := r.c.WaitLeader(15 * time.Second).Node
	_, err := notify.NewService(n, n, senders).StandDown(testCtx(t), "commander", id, "done")
	require.NoError(t, err)
}

// waitSimIdle polls until the simulator has nothing scheduled.
func (r *callRig) waitSimIdle(t testing.TB, timeout time.Duration) twiliosim.Stats {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := r.sim.Stats()
		if st.Pending == 0 {
			return st
		}
		require.True(t, time.Now().Before(deadline), "simulator still busy after %v: %+v", timeout, st)
		time.Sleep(20 * time.Millisecond)
	}
}

// simDuplicates counts, over the outbound messages the simulator accepted,
// how many went to a number that had already been sent one, and how many
// numbers got at least one.
func simDuplicates(sim *twiliosim.Server) (dups, numbers int) {
	per := map[string]int{}
	for _, m := range sim.Messages("") {
		if m.Direction == "outbound-api" {
			per[m.To]++
		}
	}
	for _, n := range per {
		dups += n - 1
	}
	return dups, len(per)
}

// TestDispatchSurvivesLeaderLoss kills the leader in the middle of a
// 20,000-recipient call-up (2,000 under -race). The new leader's dispatcher resumes from the
// replicated claims: every recipient ends delivered, none is lost, and the
// messages the simulator got twice are exactly re-sends of claims the dead
// leader left unresolved, bounded by the in-flight window.
func TestDispatchSurvivesLeaderLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 recipients on three nodes")
	}
	const window = 512
	people := 20_000
	if raceDetector {
		people = 2_000 // the full size runs without -race in .ci/run
	}
	r := newCallRig(t, rigOptions{nodes: 3, people: people, disp: notify.DispatcherConfig{MaxInFlight: window, ClaimBatch: 128, Workers: 32}})
	a := r.activate(t, "exercise")
	require.Equal(t, people, a.Recipients)

	// Kill the leader once a quarter has been claimed.
	old := r.c.Leader()
	deadline := time.Now().Add(60 * time.Second)
	for r.status(t, a.ID).Counters.Dispatch["claimed"] < people/4 {
		require.True(t, time.Now().Before(deadline), "dispatch did not start")
		time.Sleep(10 * time.Millisecond)
	}
	r.c.Kill(old)
	newLeader := r.c.WaitLeader(15 * time.Second)
	require.NotEqual(t, old.Node.ID(), newLeader.Node.ID())

	st := r.waitSettled(t, a.ID, 90*time.Second)
	r.waitSimIdle(t, 30*time.Second)
	st = r.status(t, a.ID)
	assert.Equal(t, people, st.Counters.Total)
	assert.Equal(t, map[notify.State]int{notify.StateDelivered: people}, st.Counters.ByState, "every recipient ends delivered")

	recs := r.recipientsOf(t, a.ID)
	require.Len(t, recs, people)
	for _, rc := range recs {
		if !assert.Equal(t, notify.StateDelivered, rc.State, rc.Person) {
			break
		}
	}
	dups, numbers := simDuplicates(r.sim)
	resent := st.Counters.Dispatch["resent"]
	t.Logf("claimed %d, resent %d, duplicates at the simulator %d", st.Counters.Dispatch["claimed"], resent, dups)
	assert.Equal(t, people, numbers, "every recipient's number got a message")
	assert.LessOrEqual(t, dups, resent, "every duplicate is a counted re-send")
	// Each new leader re-sends at most the window its predecessor had in
	// flight. A loaded machine may see more elections than the one forced.
	var terms int64
	r.mu.Lock()
	for _, d := range r.disp {
		terms += d.Stats().Runs
	}
	r.mu.Unlock()
	t.Logf("dispatcher terms %d", terms)
	require.GreaterOrEqual(t, terms, int64(2))
	assert.LessOrEqual(t, resent, window*int(terms-1), "re-sends are bounded by the in-flight window per leader change")
	assert.Zero(t, r.sim.Stats().Accounts[liveAcct.SID].Created)
}

// TestDispatchRidesOutProviderStorms makes the provider answer 500, drop
// connections and throttle for a while. Sends back off (the whole route
// pauses, so an outage costs a few requests per pause rather than one per
// recipient), nobody is marked failed for a temporary error within the retry
// budget, and everyone is delivered once the storm passes. Under -race it
// sends to 600 people, not 2,000: the storm's requests are bounded by the
// workers and the pauses, not by the people, and 600 are still far more
// than the race detector's dispatcher can try in the storm's 1.5 s; the
// throttled case sends to 180 at 30/s, a rate it surely passes.
func TestDispatchRidesOutProviderStorms(t *testing.T) {
	people := 2_000
	if raceDetector {
		people = 600
	}
	cfg := notify.DispatcherConfig{Workers: 16, Backoff: 200 * time.Millisecond, MaxBackoff: 2 * time.Second, MaxAttempts: 8}
	for _, tc := range []struct {
		name  string
		fault twiliosim.Fault
		mps   float64
	}{
		{name: "500", fault: twiliosim.Fault500},
		{name: "dropped connections", fault: twiliosim.FaultDrop},
		{name: "HTML 503", fault: twiliosim.Fault503HTML},
		{name: "throttled", mps: 400},
	} {
		people := people
		if raceDetector && tc.mps > 0 {
			// The race detector's dispatcher on a loaded machine sends about
			// 90/s (CI saw 600 people settle in 6.7 s at 100/s, never
			// throttled): 30/s leaves it three times the rate it must pass,
			// and 180 people take about six one-second buckets.
			tc.mps, people = 30, 180
		}
		t.Run(tc.name, func(t *testing.T) {
			r := newCallRig(t, rigOptions{nodes: 1, people: people, disp: cfg, sim: twiliosim.Config{MPS: tc.mps}})
			const storm = 1500 * time.Millisecond
			if tc.fault != twiliosim.FaultNone {
				r.sim.SetFault(tc.fault, storm)
			}
			start := time.Now()
			a := r.activate(t, "exercise")
			st := r.waitSettled(t, a.ID, 60*time.Second)
			took := time.Since(start)
			sim := r.sim.Stats()
			t.Logf("settled in %v: faults %d, throttled %d, created %d, dispatch %v", took.Round(time.Millisecond), sim.Faults, sim.Throttled, sim.Created, st.Counters.Dispatch)
			assert.Equal(t, map[notify.State]int{notify.StateDelivered: people}, st.Counters.ByState, "no one failed for a temporary error")
			if tc.fault != twiliosim.FaultNone {
				assert.Positive(t, sim.Faults, "the storm was felt")
				// Each pause (Backoff/2) lets at most Workers requests through.
				bound := int64(cfg.Workers) * int64(storm/(cfg.Backoff/2)+2)
				assert.LessOrEqual(t, sim.Faults, bound, "requests during the storm are bounded by pauses, not by recipients")
				assert.GreaterOrEqual(t, took, storm, "nothing got through the storm")
			} else {
				assert.Positive(t, sim.Throttled, "the provider throttled")
				assert.Less(t, sim.Throttled, int64(people), "throttling pauses the route instead of hammering it")
			}
			assert.EqualValues(t, people, sim.Created, "one message per recipient")
		})
	}
}

// postHook posts a webhook form to a node, signed with token for the URL
// the provider was given (the front's) unless token is empty.
func (r *callRig) postHook(t testing.TB, node, path string, form url.Values, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, node+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if token != "" {
		req.Header.Set("X-Twilio-Signature", twiliosim.Signature(token, r.front.URL+path, form))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestWebhooksAreVerifiedAndIdempotent(t *testing.T) {
	r := newCallRig(t, rigOptions{nodes: 3, people: 200})
	a := r.activate(t, "exercise")
	r.waitSettled(t, a.ID, 30*time.Second)
	r.waitSimIdle(t, 10*time.Second)
	recs := r.recipientsOf(t, a.ID)
	require.GreaterOrEqual(t, len(recs), 3)
	first, second, third := recs[0], recs[1], recs[2]
	follower := r.c.Followers()[0].HTTPAddr // webhooks are taken on any node
	n := r.c.WaitLeader(15 * time.Second).Node
	svc := notify.NewService(n, n, senders)

	statusPath := "/hooks/twilio/sms-status?attempt=" + url.QueryEscape(notify.AttemptID(a.ID, first.Person, 1))
	report := url.Values{"AccountSid": {drillAcct.SID}, "MessageSid": {first.Attempt.SID}, "MessageStatus": {"failed"}, "ErrorCode": {"30008"}}
	t.Run("signatures", func(t *testing.T) {
		for name, tc := range map[string]struct {
			form  url.Values
			token string
		}{
			"missing":         {report, ""},
			"wrong token":     {report, liveAcct.AuthToken},
			"unknown account": {url.Values{"AccountSid": {"AC0000000000000000000000000000000f"}, "MessageStatus": {"failed"}}, "x"},
		} {
			code, body := r.postHook(t, follower, statusPath, tc.form, tc.token)
			assert.Equal(t, http.StatusForbidden, code, name)
			assert.Contains(t, body, `"code":"forbidden"`, name)
		}
		// Signed for one attempt, sent for another.
		req, _ := http.NewRequest(http.MethodPost, follower+"/hooks/twilio/sms-status?attempt="+url.QueryEscape(notify.AttemptID(a.ID, second.Person, 1)), strings.NewReader(report.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", twiliosim.Signature(drillAcct.AuthToken, r.front.URL+statusPath, report))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	})

	t.Run("late and replayed reports change nothing", func(t *testing.T) {
		for range 2 {
			code, _ := r.postHook(t, follower, statusPath, report, drillAcct.AuthToken)
			assert.Equal(t, http.StatusNoContent, code)
		}
		delivered := url.Values{"AccountSid": {drillAcct.SID}, "MessageSid": {first.Attempt.SID}, "MessageStatus": {"delivered"}}
		code, _ := r.postHook(t, follower, statusPath, delivered, drillAcct.AuthToken)
		assert.Equal(t, http.StatusNoContent, code)
		st := r.status(t, a.ID)
		assert.Equal(t, map[notify.State]int{notify.StateDelivered: len(recs)}, st.Counters.ByState)
		code, _ = r.postHook(t, follower, "/hooks/twilio/sms-status?attempt=nonsense", delivered, drillAcct.AuthToken)
		assert.Equal(t, http.StatusBadRequest, code)
	})

	reply := func(from, sid, body string) (int, string) {
		return r.postHook(t, follower, "/hooks/twilio/sms-inbound", url.Values{"AccountSid": {drillAcct.SID}, "MessageSid": {sid},
			"From": {from}, "To": {drillAcct.Number}, "Body": {body}}, drillAcct.AuthToken)
	}
	t.Run("replies", func(t *testing.T) {
		code, body := reply(first.Phone, "SMreply1", "收到")
		assert.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "<Message>"+notify.AnswerRecorded(first.Language, true, notify.ReplyWords{}, notify.ReplyAccept, "", nil, notify.ReplyWords{})+"</Message>", "told the answer counted")
		code, _ = reply(first.Phone, "SMreply1", "收到") // the same webhook again
		assert.Equal(t, http.StatusOK, code)
		code, body = reply(first.Phone, "SMreply2", "2 临时有事") // after an answer: a note
		assert.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "<Message>"+notify.DeclineAfterAckNoted(first.Language, true, notify.ReplyWords{})+"</Message>", "told the decline is shown to the duty office, not to reply 1")
		code, _ = reply(second.Phone, "SMreply3", "不能，在外地")
		assert.Equal(t, http.StatusOK, code)
		code, body = reply(third.Phone, "SMreply4", "在哪集合？")
		assert.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "<Message>"+notify.HelpText(third.Language, true, notify.ReplyWords{})+"</Message>", "a note is answered with the help text")
		assert.Contains(t, body, "<Message>【演练】", "on a drill's account, marked as a drill's")

		st := r.status(t, a.ID)
		assert.Equal(t, 1, st.Counters.ByState[notify.StateAcked])
		assert.Equal(t, 1, st.Counters.ByState[notify.StateDeclined])
		got := map[plans.PersonID]notify.Recipient{}
		for _, rc := range r.recipientsOf(t, a.ID) {
			got[rc.Person] = rc
		}
		assert.Equal(t, notify.StateAcked, got[first.Person].State)
		assert.Equal(t, 2, got[first.Person].Attempt.Replies, "the replayed webhook was not counted")
		assert.Equal(t, notify.StateDeclined, got[second.Person].State)
		assert.Equal(t, "在外地", got[second.Person].Attempt.Reason)
		assert.Equal(t, notify.StateDelivered, got[third.Person].State)
		notes, err := svc.Notes(testCtx(t), muster.Default, a.ID)
		require.NoError(t, err)
		require.Len(t, notes, 2)
		assert.Equal(t, "2 临时有事", notes[0].Body)
		assert.Equal(t, "在哪集合？", notes[1].Body)

		// Who declined and writes again is told their answer stands; no
		// more than 3 replies get an SMS back, so an automatic answerer is
		// not kept going.
		code, body = reply(second.Phone, "SMreply2b", "好了，能来")
		assert.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "<Message>"+notify.FirstAnswerStands(second.Language, true)+"</Message>", "told the first answer stands, not to reply 1")
		code, body = reply(second.Phone, "SMreply2c", "1")
		assert.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "<Message>"+notify.FirstAnswerStands(second.Language, true)+"</Message>")
		code, body = reply(second.Phone, "SMreply2d", "自动回复：我正在开会")
		assert.Equal(t, http.StatusOK, code)
		assert.NotContains(t, body, "<Message>")
	})

	t.Run("unknown senders and closed call-ups are audited", func(t *testing.T) {
		code, body := reply("+8613900000000", "SMreply5", "1")
		assert.Equal(t, http.StatusOK, code)
		assert.NotContains(t, body, "<Message>")
		_, err := svc.StandDown(testCtx(t), "commander", a.ID, "演练结束")
		require.NoError(t, err)
		code, _ = reply(third.Phone, "SMreply6", "1")
		assert.Equal(t, http.StatusOK, code)
		st := r.status(t, a.ID)
		assert.Equal(t, notify.StateDelivered, func() notify.State {
			for _, rc := range r.recipientsOf(t, a.ID) {
				if rc.Person == third.Person {
					return rc.State
				}
			}
			return ""
		}(), "a reply after the stand-down does not change the call-up")
		assert.Equal(t, 1, st.Counters.ByState[notify.StateAcked])
		audit, err := svc.InboundAudit(testCtx(t), muster.Default, 0, 10)
		require.NoError(t, err)
		require.Len(t, audit, 2)
		assert.Equal(t, notify.InboundUnknown, audit[0].Outcome)
		assert.Equal(t, "+8613900000000", audit[0].From)
		assert.Equal(t, notify.InboundNoCallUp, audit[1].Outcome)
		assert.Equal(t, third.Person, audit[1].Person)
	})
}

// TestInboundKeepsDrillAndLiveApart: a person called up by a drill and by a
// newer LIVE activation answers the drill SMS (on the exercise account):
// the answer counts for the drill only, and a report signed by the
// exercise account cannot change a LIVE attempt. Under rules 4, as here,
// the drill ran on when the LIVE call-up started (now it is stood down,
// rulesLiveStopsDrills); such entries replay as they applied.
func TestInboundKeepsDrillAndLiveApart(t *testing.T) {
	r := newCallRig(t, rigOptions{nodes: 1, people: 100, config: func(_ int, c *cluster.Config) { c.Rules = 4 }})
	drill := r.activate(t, "exercise")
	live := r.activate(t, "live")
	r.waitSettled(t, drill.ID, 30*time.Second)
	r.waitSettled(t, live.ID, 30*time.Second)
	r.waitSimIdle(t, 10*time.Second)
	p := r.recipientsOf(t, drill.ID)[0]
	node := r.nodes[0]

	code, _ := r.postHook(t, node, "/hooks/twilio/sms-inbound", url.Values{"AccountSid": {drillAcct.SID}, "MessageSid": {"SMdrill1"},
		"From": {p.Phone}, "To": {drillAcct.Number}, "Body": {"1"}}, drillAcct.AuthToken)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, 1, r.status(t, drill.ID).Counters.ByState[notify.StateAcked], "the drill got the answer")
	assert.Zero(t, r.status(t, live.ID).Counters.ByState[notify.StateAcked], "the LIVE call-up did not")

	path := "/hooks/twilio/sms-status?attempt=" + url.QueryEscape(notify.AttemptID(live.ID, p.Person, 1))
	code, _ = r.postHook(t, node, path, url.Values{"AccountSid": {drillAcct.SID}, "MessageSid": {"SMx"}, "MessageStatus": {"failed"}, "ErrorCode": {"30006"}}, drillAcct.AuthToken)
	require.Equal(t, http.StatusNoContent, code)
	assert.Zero(t, r.status(t, live.ID).Counters.ByState[notify.StateFailed], "an exercise-account report does not touch a LIVE attempt")

	code, _ = r.postHook(t, node, "/hooks/twilio/sms-inbound", url.Values{"AccountSid": {liveAcct.SID}, "MessageSid": {"SMlive1"},
		"From": {p.Phone}, "To": {liveAcct.Number}, "Body": {"2 在外地"}}, liveAcct.AuthToken)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, 1, r.status(t, live.ID).Counters.ByState[notify.StateDeclined], "a reply on the live account answers the LIVE call-up")
}

// TestStandDownExpiresSendsInFlight: recipients claimed but without a
// committed result when their activation is stood down (a dead leader's
// sends) are expired, since no leader claims them again; a result or a
// report that still comes moves them on.
func TestStandDownExpiresSendsInFlight(t *testing.T) {
	e := newEnv(t, 1, 200)
	ctx := testCtx(t)
	n := e.c.Leader().Node
	a, first := floodDrill(t, e, 3)
	p0, p1, p2 := first[0].Person, first[1].Person, first[2].Person
	apply := func(typ, payload string, out any) { t.Helper(); applyJSON(t, n, typ, payload, out) }
	var claim notify.ClaimResult
	apply(notify.CmdDispatchClaim, `{"a":"`+string(a.ID)+`","i":[{"p":"`+string(p0)+`","n":0},{"p":"`+string(p1)+`","n":0},{"p":"`+string(p2)+`","n":0}]}`, &claim)
	require.Len(t, claim.Claimed, 3)

	_, err := e.svc.StandDown(ctx, "commander", a.ID, "演练取消")
	require.NoError(t, err)
	st, err := e.svc.Activation(ctx, muster.Default, a.ID)
	require.NoError(t, err)
	assert.Equal(t, 3, st.Counters.ByState[notify.StateExpired])
	assert.Zero(t, st.Counters.ByState[notify.StateSending])

	// A claim after the stand-down is refused.
	apply(notify.CmdDispatchClaim, `{"a":"`+string(a.ID)+`","i":[{"p":"`+string(first[0].Person)+`","n":1}]}`, &claim)
	assert.True(t, claim.Stopped)

	var sum notify.ResultSummary
	apply(notify.CmdDispatchResult, `{"i":[{"a":"`+string(a.ID)+`","p":"`+string(p0)+`","n":1,"o":"sent","sid":"SM1"}]}`, &sum)
	assert.Equal(t, 1, sum.Applied)
	var res []notify.InboundResult
	apply(notify.CmdInbound, `{"i":[{"k":"status","at":"`+notify.AttemptID(a.ID, p1, 1)+`","sid":"SM2","st":"delivered","ex":true},`+
		`{"k":"status","at":"`+notify.AttemptID(a.ID, p2, 1)+`","sid":"SM3","st":"undelivered","code":30003,"ex":true}]}`, &res)
	st, err = e.svc.Activation(ctx, muster.Default, a.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, st.Counters.ByState[notify.StateSent], "the result of a send in flight still counts")
	assert.Equal(t, 1, st.Counters.ByState[notify.StateDelivered], "so does a delivery report")
	assert.Equal(t, 1, st.Counters.ByState[notify.StateFailed], "a temporary failure is not retried after the stand-down")
	assert.Zero(t, st.Counters.ByState[notify.StateExpired])
}

// A reply from a number that left the roster while a call-up to it was
// open (its person deleted, or their number changed) still answers that
// call-up: the recipient said 到, and escalation must not chase them.
// Under rules 4 such a reply was unknown.
func TestRepliesFromNumbersThatLeftTheRoster(t *testing.T) {
	for _, rules := range []int{0, 4} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			r, a, recs := settledDrill(t, rules)
			deleted, renumbered := recs[0], recs[1]
			ctx := testCtx(t)
			require.NoError(t, r.plans.DeletePerson(ctx, "admin", deleted.Person))
			r.renumber(t, renumbered.Person, "+8613912345678")

			for i, from := range []string{deleted.Phone, renumbered.Phone, "+8613987654321"} {
				r.drillReply(t, fmt.Sprintf("SMgone%d", i), from, "1")
			}
			acked := r.acked(t, a.ID)
			if rules == 0 {
				assert.Equal(t, map[plans.PersonID]bool{deleted.Person: true, renumbered.Person: true}, acked, "both answered; a number never in the roster answers nothing")
			} else {
				assert.Empty(t, acked)
			}
		})
	}
}

// A number handed on while a call-up runs (a duty phone given to the next
// person on the roster): the handset's reply answers the message it got,
// that of the person who had the number, not the call-up of the new owner,
// whose message went elsewhere. Under rules 7 the new owner was counted as
// reported though nothing had reached them.
func TestAReplyAnswersTheMessageItsNumberGot(t *testing.T) {
	for _, rules := range []int{0, 7} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			r, a, recs := settledDrill(t, rules)
			had, got := recs[0], recs[1]
			r.renumber(t, had.Person, "+8613912345678")
			r.renumber(t, got.Person, had.Phone) // the number is handed on

			r.drillReply(t, "SMhanded", had.Phone, "1")
			acked := r.acked(t, a.ID)
			if rules == 0 {
				assert.Equal(t, map[plans.PersonID]bool{had.Person: true}, acked, "the one whose message went to the number")
			} else {
				assert.Equal(t, map[plans.PersonID]bool{got.Person: true}, acked, "rules 7: the number's new owner")
			}
		})
	}
}

// An SMS answer names no call-up: it answers every open call-up of its
// purpose that waits for that person's answer. Two LIVE call-ups over
// nested regions (a district's, then the city's) call the same people; the
// older one used to keep reminding, calling and escalating those who had
// answered the newer (rules 7).
func TestAnAnswerAnswersEveryOpenCallUp(t *testing.T) {
	for _, rules := range []int{0, 7} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			r := smallRig(t, rules)
			older := r.activateIn(t, "live", district)
			newer := r.activateIn(t, "live", city)
			r.waitSettled(t, older.ID, 30*time.Second)
			r.waitSettled(t, newer.ID, 30*time.Second)
			recs := r.recipientsOf(t, older.ID)
			require.GreaterOrEqual(t, len(recs), 2)
			coming, hurt := recs[0], recs[1]
			for i, m := range []struct{ from, body string }{{coming.Phone, "1"}, {hurt.Phone, "2 腿受伤"}} {
				code, _ := r.postHook(t, r.nodes[0], "/hooks/twilio/sms-inbound", url.Values{"AccountSid": {liveAcct.SID}, "MessageSid": {fmt.Sprintf("SMboth%d", i)},
					"From": {m.from}, "To": {liveAcct.Number}, "Body": {m.body}}, liveAcct.AuthToken)
				require.Equal(t, http.StatusOK, code)
			}
			states := func(id plans.ActivationID) map[plans.PersonID]notify.State {
				out := map[plans.PersonID]notify.State{}
				for _, rc := range r.recipientsOf(t, id) {
					if rc.Person == coming.Person || rc.Person == hurt.Person {
						out[rc.Person] = rc.State
					}
				}
				return out
			}
			answered := map[plans.PersonID]notify.State{coming.Person: notify.StateAcked, hurt.Person: notify.StateDeclined}
			assert.Equal(t, answered, states(newer.ID), "the newest takes the answer")
			if rules == 0 {
				assert.Equal(t, answered, states(older.ID), "and so does the older one")
			} else {
				assert.Equal(t, map[plans.PersonID]notify.State{coming.Person: notify.StateDelivered, hurt.Person: notify.StateDelivered}, states(older.ID),
					"rules 7: the older one waits on")
			}
		})
	}
}

// smallRig is a call rig of one node and 50 people under the given rules.
func smallRig(t *testing.T, rules int) *callRig {
	return newCallRig(t, rigOptions{nodes: 1, people: 50, config: func(_ int, c *cluster.Config) { c.Rules = rules }})
}

// settledDrill starts a drill of everyone on a small rig and waits until
// its sends have their outcome; it returns the recipients in ID order.
func settledDrill(t *testing.T, rules int) (*callRig, notify.Activation, []notify.Recipient) {
	t.Helper()
	r := smallRig(t, rules)
	a := r.activate(t, "exercise")
	r.waitSettled(t, a.ID, 30*time.Second)
	return r, a, r.recipientsOf(t, a.ID)
}

// drillReply posts an SMS reply to the drill account, signed, as the
// provider does, to the first node.
func (r *callRig) drillReply(t *testing.T, sid, from, body string) {
	t.Helper()
	r.smsReply(t, drillAcct, sid, from, body)
}

// smsReply posts an SMS reply to acct's number, signed, as the provider
// does, to the first node, and returns muster's TwiML answer.
func (r *callRig) smsReply(t *testing.T, acct twiliosim.Account, sid, from, body string) string {
	t.Helper()
	code, answer := r.postHook(t, r.nodes[0], "/hooks/twilio/sms-inbound", url.Values{"AccountSid": {acct.SID}, "MessageSid": {sid},
		"From": {from}, "To": {acct.Number}, "Body": {body}}, acct.AuthToken)
	require.Equal(t, http.StatusOK, code)
	return answer
}

// acked is the set of activation id's recipients who acknowledged.
func (r *callRig) acked(t *testing.T, id plans.ActivationID) map[plans.PersonID]bool {
	t.Helper()
	out := map[plans.PersonID]bool{}
	for _, rc := range r.recipientsOf(t, id) {
		if rc.State == notify.StateAcked {
			out[rc.Person] = true
		}
	}
	return out
}

// renumber gives person id the one phone given, through the roster's API.
func (e *env) renumber(t *testing.T, id plans.PersonID, phone string) {
	t.Helper()
	ctx := testCtx(t)
	p, err := e.plans.Person(ctx, muster.Default, id)
	require.NoError(t, err)
	_, err = e.plans.UpdatePerson(ctx, "admin", p.ID, plans.PersonInput{Name: p.Name, Phones: []string{phone}, Grid: string(p.Grid),
		Category: string(p.Category), Language: string(p.Language)})
	require.NoError(t, err)
}

// TestLostReportLookupsThatFailAreCounted: the provider cannot give the
// status of any message (as a node's built-in simulator cannot for what
// another node's sent before a failover). The sends stay sent, outcome
// unknown, and each failed lookup is counted (and logged), not dropped in
// silence.
func TestLostReportLookupsThatFailAreCounted(t *testing.T) {
	const people = 30
	r := newCallRig(t, rigOptions{nodes: 1, people: people, noCallbacks: true,
		disp: notify.DispatcherConfig{ReportTimeout: time.Second},
		wrap: func(_ bool, p notify.Provider) notify.Provider { return unknownSIDs{p} }})
	a := r.activate(t, "live")
	r.waitDispatched(t, a.ID, 10*time.Second)
	require.Eventually(t, func() bool { return r.disp[0].Stats().LookupsFailed >= people }, 20*time.Second, 20*time.Millisecond,
		"every overdue send's lookup failed and was counted: %+v", r.disp[0].Stats())
	assert.Equal(t, people, r.status(t, a.ID).Counters.ByState[notify.StateSent], "their outcome stays unknown")
	r.standDown(t, a.ID)
}

// unknownSIDs is a provider that knows none of the messages it is asked
// about.
type unknownSIDs struct{ notify.Provider }

func (unknownSIDs) FetchSMS(context.Context, string) (notify.Report, error) {
	return notify.Report{}, &notify.SendError{Code: 20404, Message: "The requested resource was not found"}
}
