package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"muster/drills"
	"muster/examples"
	"muster/notify"
)

// activationStatus is what GET /api/v1/activations/{id} answers, as far as
// these tests read it.
type activationStatus struct {
	ID         string `json:"id"`
	Recipients int    `json:"recipients"`
	Simulated  bool   `json:"simulated"`
	Counters   struct {
		Total    int                  `json:"total"`
		ByState  map[notify.State]int `json:"by_state"`
		Dispatch map[string]int       `json:"dispatch"`
	} `json:"counters"`
}

// unsettled counts the recipients that may still change without an answer.
func (s activationStatus) unsettled() int {
	c := s.Counters.ByState
	return c[notify.StatePending] + c[notify.StateSending] + c[notify.StateSent]
}

// simStats is GET /_sim/stats, per account.
type simStats struct {
	Created  int64 `json:"created"`
	Pending  int   `json:"pending"`
	Accounts map[string]struct {
		Created         int64 `json:"created"`
		CallbacksFailed int64 `json:"callbacks_failed"`
	} `json:"accounts"`
}

// activateCLI activates a plan for an exercise through the CLI and returns
// the activation's ID and recipient count.
func activateCLI(t *testing.T, env []string, plan, region string) (string, int) {
	t.Helper()
	r := runCLI(t, env, "activate", plan, "--region", region, "--level", "IV", "--purpose", "exercise", "--reason", "通讯演练", "--yes", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var a activationStatus
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &a), r.stdout)
	require.NotEmpty(t, a.ID)
	return a.ID, a.Recipients
}

// waitSettled polls an activation until no recipient is pending, sending or
// sent, and returns its status then.
func waitSettled(t testing.TB, c *apiClient, base, id string, timeout time.Duration) activationStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var st activationStatus
		code := c.getJSON(base+"/api/v1/activations/"+id, &st)
		if code == http.StatusOK && st.Counters.Total > 0 && st.unsettled() == 0 {
			return st
		}
		if time.Now().After(deadline) {
			require.FailNowf(t, "call-up did not settle", "after %v: HTTP %d, by state %v, dispatch %v", timeout, code, st.Counters.ByState, st.Counters.Dispatch)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// metricValue reads one unlabelled sample from a Prometheus text page.
func metricValue(t testing.TB, c *apiClient, base, name string) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, body := c.call(ctx, http.MethodGet, base+"/metrics", nil, "")
	require.Equal(t, http.StatusOK, code)
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return f
		}
	}
	t.Fatalf("%s/metrics has no %s", base, name)
	return 0
}

// TestDevExerciseUsesOnlyTheExerciseAccount runs `muster dev`, activates an
// EXERCISE call-up through the CLI and follows it until every recipient is
// delivered or has answered: the built-in simulator got every message on
// the exercise account and none on the live one, and the dispatcher's
// metrics count them.
func TestDevExerciseUsesOnlyTheExerciseAccount(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	addr := freePort(t)
	dev := startProc(t, "dev", nil, "dev", "--data-dir", filepath.Join(t.TempDir(), "data"), "--http-addr", addr, "--people", "1500", "--log-level", "warn")
	token := strings.Fields(dev.waitOutput("admin token:", 60*time.Second))[0]
	simURL := strings.Fields(dev.waitOutput("twilio simulator:", 10*time.Second))[0]
	assert.Contains(t, dev.waitOutput("EXERCISE SMS:", time.Second), devExercise.SID, "dev says which account drills use")
	env := []string{"MUSTER_ADDR=http://" + addr, "MUSTER_TOKEN=" + token}
	c := newAPI(t, token)

	id, recipients := activateCLI(t, env, "flood-control", "990101")
	require.Positive(t, recipients)
	st := waitSettled(t, c, "http://"+addr, id, 60*time.Second)
	assert.Equal(t, recipients, st.Counters.Total)
	for state, n := range st.Counters.ByState {
		assert.Contains(t, []notify.State{notify.StateDelivered, notify.StateAcked, notify.StateDeclined}, state, "%d recipients end %s", n, state)
	}

	var sim simStats
	require.Equal(t, http.StatusOK, newAPI(t, "").getJSON(simURL+"/_sim/stats", &sim))
	assert.Zero(t, sim.Accounts[devLive.SID].Created, "a drill never uses the live account")
	assert.EqualValues(t, recipients, sim.Accounts[devExercise.SID].Created, "one message per recipient, all on the exercise account")
	assert.EqualValues(t, recipients, metricValue(t, c, "http://"+addr, "muster_dispatch_sent_total"))
	assert.Zero(t, metricValue(t, c, "http://"+addr, "muster_dispatch_resent_total"))
}

// front is the public URL of a cluster as a TCP load balancer gives it:
// each connection goes to the first node that accepts one, starting from a
// different node each time, so webhooks reach a live node whichever died
// (a connection to a node that dies breaks, and the sender retries). It
// splices bytes and parses nothing, so the test process stays cheap.
type front struct {
	ln    net.Listener
	mu    sync.Mutex
	nodes []string // HOST:PORT
	conns map[net.Conn]struct{}
	turn  atomic.Uint64
	wg    sync.WaitGroup
}

func newFront(t testing.TB) (*front, string) { return newFrontOn(t, "127.0.0.1:0") }

// newFrontOn is newFront listening on addr (HOST:PORT).
func newFrontOn(t testing.TB, addr string) (*front, string) {
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	f := &front{ln: ln, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.serve()
	t.Cleanup(f.close)
	return f, "http://" + ln.Addr().String()
}

// setNodes sets the nodes' base URLs.
func (f *front) setNodes(urls []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nodes = nil
	for _, u := range urls {
		f.nodes = append(f.nodes, strings.TrimPrefix(u, "http://"))
	}
}

func (f *front) serve() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		if !f.track(c, true) {
			c.Close()
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer f.track(c, false)
			defer c.Close()
			f.mu.Lock()
			nodes := f.nodes
			f.mu.Unlock()
			start := int(f.turn.Add(1))
			for i := range nodes {
				up, err := net.DialTimeout("tcp", nodes[(start+i)%len(nodes)], time.Second)
				if err != nil {
					continue // node down: try the next
				}
				f.pipe(c, up)
				return
			}
		}()
	}
}

// track adds or removes an open connection; it refuses new ones once closed.
func (f *front) track(c net.Conn, open bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !open {
		delete(f.conns, c)
		return true
	}
	if f.conns == nil {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

// pipe copies both ways until either side closes.
func (f *front) pipe(down, up net.Conn) {
	f.track(up, true)
	defer f.track(up, false)
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go cp(up, down)
	go cp(down, up)
	<-done
	up.Close()
	down.Close()
	<-done
}

func (f *front) close() {
	f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.conns = nil
	f.mu.Unlock()
	f.wg.Wait()
}

// TestDispatchFailoverAcrossProcesses calls up 20,000 people from three
// real agent processes sending through a real twilio-sim process, and kills
// -9 the leader once a fifth of them are claimed. The next leader resumes:
// every recipient ends in one final state, the live account is never used,
// and the numbers the simulator messaged twice are re-sends the cluster
// counted, bounded by the dispatcher's in-flight window.
func TestDispatchFailoverAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	// Beside TestRemovedAgentDoesNotRejoin, which mostly waits: each has
	// its own processes, ports and data dirs.
	t.Parallel()
	const (
		people = 20_000
		window = 512
	)
	live := twilioAccount{sid: "AC0000000000000000000000000000000a", token: "failoverlive1", number: "+15005550100"}
	drill := twilioAccount{sid: "AC0000000000000000000000000000000b", token: "failoverdrill2", number: "+15005550101"}
	lb, publicURL := newFront(t)

	simAddr := freePort(t)
	sim := startProc(t, "twilio-sim", nil, "twilio-sim", "--listen", simAddr,
		"--account", live.spec(), "--account", drill.spec(), "--inbound-url", publicURL+"/hooks/twilio/sms-inbound",
		"--sent-delay", "5ms", "--delivered-delay", "10ms", "--workers", "128",
		"--callback-attempts", "12", "--callback-retry-delay", "50ms", "--log-level", "error")
	sim.waitOutput("twilio simulator listening", 10*time.Second)
	simURL := "http://" + simAddr

	agents := startAgents(t, "--public-url", publicURL, "--dispatch-max-inflight", strconv.Itoa(window),
		"--twilio-account-sid", live.sid, "--twilio-auth-token", live.token, "--twilio-from", live.number, "--twilio-api-url", simURL,
		"--exercise-twilio-account-sid", drill.sid, "--exercise-twilio-auth-token", drill.token, "--exercise-twilio-from", drill.number,
		"--exercise-twilio-api-url", simURL, "--exercise-twilio-rate", "0")
	var urls []string
	for _, a := range agents {
		urls = append(urls, a.http)
	}
	lb.setNodes(urls)
	c := newAPI(t, testAdminToken)
	env := []string{"MUSTER_ADDR=" + agents[1].http, "MUSTER_TOKEN=" + testAdminToken}
	loadEveryone(t, c, agents[1].http, env, people) // the demo city, 20,000 people and a plan that calls everyone

	leader := leaderOf(t, c, agents)
	start := time.Now()
	id, recipients := activateCLI(t, env, "everyone", string(examples.CityCode))
	require.Equal(t, people, recipients)

	// Kill the leader once a fifth is claimed.
	deadline := time.Now().Add(30 * time.Second)
	var st activationStatus
	for {
		if c.getJSON(leader.http+"/api/v1/activations/"+id+"?consistency=stale", &st) == http.StatusOK && st.Counters.Dispatch["claimed"] >= people/5 {
			break
		}
		require.True(t, time.Now().Before(deadline), "dispatch did not claim a fifth within 30 s: %v", st.Counters.Dispatch)
		time.Sleep(10 * time.Millisecond)
	}
	leader.kill()
	killedAt := st.Counters.Dispatch["claimed"]
	rest := othersThan(agents, leader)
	next := leaderOf(t, c, rest)
	t.Logf("killed leader %s at %d claimed, %v after activation; %s leads", leader.id, killedAt, time.Since(start).Round(time.Millisecond), next.id)

	st = waitSettled(t, c, next.http, id, 60*time.Second)
	t.Logf("settled %v after activation: %v, dispatch %v", time.Since(start).Round(time.Millisecond), st.Counters.ByState, st.Counters.Dispatch)
	assert.Positive(t, metricValue(t, c, next.http, "muster_dispatch_claimed_total"), "the new leader's dispatcher resumed")

	assertEveryoneOnce(t, c, next.http, simURL, id, people, window, live, drill, st)
}

// assertEveryoneOnce checks a settled exercise call-up of people after a
// failover: every recipient is listed once in a final state; the simulator
// got nothing on the live account and a message for every number, and the
// extra messages are counted re-sends, at most window of them.
func assertEveryoneOnce(t *testing.T, c *apiClient, base, simURL, id string, people, window int, live, drill twilioAccount, st activationStatus) {
	t.Helper()
	// Every recipient is in exactly one final state.
	assert.Equal(t, people, st.Counters.Total)
	final := map[notify.State]bool{notify.StateDelivered: true, notify.StateAcked: true, notify.StateDeclined: true, notify.StateFailed: true}
	for state, n := range st.Counters.ByState {
		assert.True(t, final[state] || n == 0, "%d recipients end %s", n, state)
	}
	seen := map[string]bool{}
	for after := ""; ; {
		var page struct {
			Items []struct {
				Person string       `json:"person"`
				State  notify.State `json:"state"`
			} `json:"items"`
			Next string `json:"next"`
		}
		require.Equal(t, http.StatusOK, c.getJSON(base+"/api/v1/activations/"+id+"/recipients?limit=1000&after="+after, &page))
		for _, rc := range page.Items {
			assert.False(t, seen[rc.Person], "%s is listed twice", rc.Person)
			seen[rc.Person] = true
			if !final[rc.State] {
				assert.Failf(t, "recipient not final", "%s is %s", rc.Person, rc.State)
			}
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	assert.Len(t, seen, people, "every recipient is listed once")

	// What the provider saw: nothing on the live account, every number at
	// least once, and the duplicates are counted re-sends within the window.
	sc := newAPI(t, "")
	var stats simStats
	waitUntil(t, 30*time.Second, func() bool {
		return sc.getJSON(simURL+"/_sim/stats", &stats) == http.StatusOK && stats.Pending == 0
	})
	assert.Zero(t, stats.Accounts[live.sid].Created, "a drill never uses the live account")
	assert.Zero(t, stats.Accounts[drill.sid].CallbacksFailed, "every delivery report reached a node")
	var msgs []struct {
		To         string `json:"to"`
		AccountSID string `json:"account_sid"`
		Direction  string `json:"direction"`
	}
	require.Equal(t, http.StatusOK, sc.getJSON(simURL+"/_sim/messages", &msgs))
	per := map[string]int{}
	for _, m := range msgs {
		if m.Direction == "outbound-api" {
			per[m.To]++
		}
	}
	dups := 0
	for _, n := range per {
		dups += n - 1
	}
	resent := st.Counters.Dispatch["resent"]
	t.Logf("claimed %d, resent %d, numbers messaged twice or more: %d extra messages", st.Counters.Dispatch["claimed"], resent, dups)
	assert.Len(t, per, people, "every recipient's number got a message")
	assert.EqualValues(t, people+dups, stats.Accounts[drill.sid].Created)
	assert.LessOrEqual(t, dups, resent, "every duplicate is a counted re-send")
	assert.LessOrEqual(t, resent, window, "re-sends are bounded by the in-flight window")
}

// loadEveryone loads, through the node at base and the CLI with env, the
// demo city, a roster of people and a plan that calls everyone.
func loadEveryone(t *testing.T, c *apiClient, base string, env []string, people int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code, body := c.call(ctx, http.MethodPost, base+"/api/v1/regions/import", examples.RegionsCSV(), "text/csv")
	require.Equal(t, http.StatusOK, code, "%s", body)
	dir := t.TempDir()
	roster, planFile := filepath.Join(dir, "roster.csv"), filepath.Join(dir, "everyone.yaml")
	regions, err := examples.Regions()
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, examples.GenerateRoster(&buf, people, 1, examples.Grids(regions)))
	require.NoError(t, os.WriteFile(roster, buf.Bytes(), 0o600))
	require.NoError(t, os.WriteFile(planFile, examples.EveryonePlan, 0o600))
	r := runCLI(t, env, "roster", "import", "-f", roster)
	require.Zero(t, r.code, r.stderr)
	r = runCLI(t, env, "plan", "apply", "-f", planFile)
	require.Zero(t, r.code, r.stderr)
}

// twilioAccount is one account of the simulator process.
type twilioAccount struct{ sid, token, number string }

func (a twilioAccount) spec() string { return a.sid + ":" + a.token + ":" + a.number }

// TestServerSMSFlagErrors: bad SMS flags stop a server before it starts,
// with exit code 2 and the flag named.
func TestServerSMSFlagErrors(t *testing.T) {
	const (
		sidA = "AC0000000000000000000000000000000a"
		sidB = "AC0000000000000000000000000000000b"
	)
	base := func(extra ...string) []string {
		return append([]string{"agent", "--node-id", "n1", "--data-dir", filepath.Join(t.TempDir(), "d"), "--raft-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--log-level", "error"}, extra...)
	}
	live := []string{"--twilio-account-sid", sidA, "--twilio-auth-token", "tok", "--twilio-from", "+15005550100"}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{name: "bad SID", args: base("--twilio-account-sid", "AC123", "--twilio-auth-token", "tok", "--twilio-from", "+15005550100"), want: "want AC followed by 32 hex digits"},
		{name: "no token", args: base("--twilio-account-sid", sidA, "--twilio-from", "+15005550100"), want: "--twilio-auth-token"},
		{name: "token without account", args: base("--exercise-twilio-auth-token", "tok"), want: "--exercise-twilio-auth-token needs --exercise-twilio-account-sid"},
		{name: "no senders", args: base("--twilio-account-sid", sidA, "--twilio-auth-token", "tok"), want: "--twilio-from"},
		{name: "pool and service", args: base(append(live, "--twilio-messaging-service-sid", "MG00000000000000000000000000000001")...), want: "not both"},
		{name: "sender not E.164", args: base("--twilio-account-sid", sidA, "--twilio-auth-token", "tok", "--twilio-from", "+15005550100,15005550101"), want: `"15005550101"`},
		{name: "sender from env", env: []string{"MUSTER_TWILIO_FROM=+15005550100,+1"}, args: base("--twilio-account-sid", sidA, "--twilio-auth-token", "tok"), want: `"+1"`},
		{name: "negative rate", args: base("--exercise-twilio-rate", "-1"), want: "--exercise-twilio-rate"},
		{name: "same account", args: base(append(live, "--exercise-twilio-account-sid", sidA, "--exercise-twilio-auth-token", "tok", "--exercise-twilio-from", "+15005550101")...), want: "must not share the live account"},
		{name: "live on the simulator's account", args: base("--twilio-account-sid", devExercise.SID, "--twilio-auth-token", "tok", "--twilio-from", "+15005550100"), want: "would both use account " + devExercise.SID},
		{name: "bad API URL", args: base(append(live, "--twilio-api-url", "127.0.0.1:9099")...), want: "twilio API URL"},
		{name: "bad public URL", args: base("--public-url", "hooks.example.org"), want: "--public-url"},
		{name: "window", args: base("--dispatch-max-inflight", "0"), want: "--dispatch-max-inflight"},
		{name: "fallback without the LIVE account", args: base("--twilio-fallback-account-sid", sidB, "--twilio-fallback-auth-token", "tok", "--twilio-fallback-from", "+15005550102"),
			want: "--twilio-fallback-account-sid without --twilio-account-sid"},
		{name: "exercise SID", args: base("--exercise-twilio-account-sid", sidB+"0", "--exercise-twilio-auth-token", "tok", "--exercise-twilio-from", "+15005550101"), want: "--exercise-twilio-*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oneLineError(t, runCLI(t, tc.env, tc.args...), 2, tc.want)
		})
	}
}

func TestTwilioSimAccountFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    simOpts
		want []string // SIDs, or the error
		err  string
	}{
		{name: "old flags", o: simOpts{accountSID: "AC1", authToken: "t"}, want: []string{"AC1"}},
		{name: "repeated", o: simOpts{accounts: []string{"AC1:t1", "AC2:t2:+15005550101"}}, want: []string{"AC1", "AC2"}},
		{name: "both", o: simOpts{accountSID: "AC1", authToken: "t", accounts: []string{"AC2:t2"}}, want: []string{"AC1", "AC2"}},
		{name: "twice", o: simOpts{accountSID: "AC1", authToken: "t", accounts: []string{"AC1:t2"}}, err: "given twice"},
		{name: "no token", o: simOpts{accounts: []string{"AC1"}}, err: "SID:TOKEN"},
		{name: "none", o: simOpts{}, err: "--account-sid"},
		{name: "Twilio's retries", o: simOpts{accountSID: "AC1", authToken: "t", twilioTry: true}, want: []string{"AC1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.number, tc.o.workers, tc.o.cbAttempts, tc.o.cbDelay = "+15005550006", 8, 3, time.Second
			cfg, err := tc.o.config()
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			var sids []string
			for _, a := range cfg.Accounts {
				sids = append(sids, a.SID)
			}
			assert.Equal(t, tc.want, sids)
			assert.Equal(t, tc.o.twilioTry, cfg.TwilioRetries, "--twilio-retries")
			assert.Equal(t, "+15005550006", cfg.Accounts[0].Number)
			if len(tc.o.accounts) == 2 {
				assert.Equal(t, "+15005550101", cfg.Accounts[1].Number, "NUMBER is taken from the spec")
			}
		})
	}
}

// TestAgentDrillsWithoutAnExerciseAccount: an agent given only a live
// account sends drills — EXERCISE activations and drill runs — to its
// built-in simulator, never to the live account, and the call-up still
// runs to delivered. It warns of it when it starts and prints its routes,
// and the call-up, the run, its report and the overdue report say that
// no phone was reached: the run is not a drill held.
func TestAgentDrillsWithoutAnExerciseAccount(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	live := twilioAccount{sid: "AC0000000000000000000000000000000a", token: "agentlive1", number: "+15005550100"}
	simAddr := freePort(t)
	sim := startProc(t, "twilio-sim", nil, "twilio-sim", "--listen", simAddr, "--account", live.spec(), "--log-level", "error")
	sim.waitOutput("twilio simulator listening", 10*time.Second)

	httpAddr := freePort(t)
	base := "http://" + httpAddr
	ag := startProc(t, "agent", []string{"MUSTER_CLUSTER_KEY=" + testClusterKey, "MUSTER_TWILIO_AUTH_TOKEN=" + live.token},
		"agent", "--node-id", "n1", "--data-dir", filepath.Join(t.TempDir(), "n1"), "--raft-addr", freePort(t), "--http-addr", httpAddr,
		"--bootstrap", "--bootstrap-token", testAdminToken, "--log-level", "warn",
		"--twilio-account-sid", live.sid, "--twilio-from", live.number, "--twilio-api-url", "http://"+simAddr)
	ag.waitOutput("cluster bootstrapped", 30*time.Second)
	// Its routes on stdout, as muster dev prints them, and a warning (not
	// an INFO line, which --log-level warn hides) naming the flags to give.
	exRoute := ag.waitOutput("EXERCISE SMS: account", 5*time.Second)
	assert.Contains(t, exRoute, devExercise.SID+", sender "+devExercise.Number+", via built-in simulator")
	assert.Contains(t, exRoute, "(nothing reaches a phone)")
	assert.Contains(t, ag.waitOutput("LIVE SMS: account", 5*time.Second), live.sid+", sender "+live.number+", via Twilio API http://"+simAddr)
	warn := ag.waitOutput("no EXERCISE SMS account", 5*time.Second)
	assert.Contains(t, warn, "reach no phone")
	assert.Contains(t, warn, "--exercise-twilio-account-sid")
	assert.Contains(t, ag.out.String(), "level=WARN msg=\"no EXERCISE SMS account")
	c := newAPI(t, testAdminToken)
	c.waitStatus(base+"/readyz", http.StatusOK, 30*time.Second)
	env := []string{"MUSTER_ADDR=" + base, "MUSTER_TOKEN=" + testAdminToken}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, body := c.call(ctx, http.MethodPost, base+"/api/v1/regions/import", examples.RegionsCSV(), "text/csv")
	require.Equal(t, http.StatusOK, code, "%s", body)
	roster := filepath.Join(t.TempDir(), "roster.csv")
	require.Zero(t, runCLI(t, nil, "roster", "generate", "-n", "400", "--out", roster).code)
	r := runCLI(t, env, "roster", "import", "-f", roster)
	require.Zero(t, r.code, r.stderr)
	r = runCLI(t, env, "plan", "apply", "-f", filepath.Join("..", "..", "examples", "plans", "flood.yaml"))
	require.Zero(t, r.code, r.stderr)

	r = runCLI(t, env, "activate", "flood-control", "--region", "990101", "--level", "IV", "--purpose", "exercise", "--reason", "通讯演练")
	assert.Contains(t, r.stderr, devExercise.SID+" (built-in simulator)", "the preview says where a drill goes")
	id, recipients := activateCLI(t, env, "flood-control", "990101")
	require.Positive(t, recipients)
	st := waitSettled(t, c, base, id, 30*time.Second)
	assert.Equal(t, map[notify.State]int{notify.StateDelivered: recipients}, st.Counters.ByState, "delivered by the built-in simulator's reports")
	assert.True(t, st.Simulated, "the call-up records that it went to the simulator")
	r = runCLI(t, env, "status", string(id))
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "!! 模拟器发送，未到达任何手机: sent through the built-in simulator, no phone was reached ("+strconv.Itoa(recipients)+" SMS)")

	// A drill run is the same: scheduled by a trainer, run by hand,
	// delivered by the built-in simulator.
	r = runCLI(t, env, "token", "create", "--role", "trainer", "--name", "演练组织者", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var trainer struct {
		Secret string `json:"secret"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &trainer))
	env = []string{"MUSTER_ADDR=" + base, "MUSTER_TOKEN=" + trainer.Secret}
	r = runCLI(t, env, "drill", "schedule", "flood-control", "--region", "990102", "--level", "IV", "--type", "notification",
		"--title", "防汛通讯演练", "--cron", "0 9 * * 1", "--tz", "Asia/Shanghai", "--no-notice", "09:00-17:00", "--units", "区应急局,区水务局")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "drill D000001 scheduled")
	assert.Contains(t, r.stdout, "no notice between 09:00-17:00", "the window is shown, the picked time is not")
	r = runCLI(t, env, "drill", "run", "D000001", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var run struct {
		ID           string   `json:"id"`
		Activation   string   `json:"activation"`
		Participants int      `json:"participants"`
		Warnings     []string `json:"warnings"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &run))
	require.Positive(t, run.Participants)
	assert.Contains(t, run.Warnings, drills.SimulatedWarning, "the answer says no phone will be reached")
	st = waitSettled(t, c, base, run.Activation, 30*time.Second)
	assert.Equal(t, map[notify.State]int{notify.StateDelivered: run.Participants}, st.Counters.ByState)
	r = runCLI(t, append(slices.Clip(env), "TZ=UTC"), "drill", "runs")
	require.Zero(t, r.code, r.stderr)
	assert.Regexp(t, run.ID+` +D000001 +flood-control +notification +started +- +\S+ \S+ \+08:00 +A\d+`, r.stdout,
		"times in the schedule's zone (Asia/Shanghai), not the CLI machine's (UTC)")
	assert.Contains(t, r.stdout, "模拟器发送，未到达任何手机 (built-in simulator: no phone was reached)")
	r = runCLI(t, env, "drill", "show", "D000001")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "1 started, 0 missed, last "+run.ID)
	assert.Contains(t, r.stdout, "区应急局、区水务局")
	oneLineError(t, runCLI(t, env, "drill", "schedule", "flood-control", "--region", "990102", "--level", "IV", "--title", "x", "--cron", "61 9 * * 1"), 2, `--cron "61 9 * * 1": minute "61": end of range (61) above maximum (59)`)

	// The report, written to a file; the plan's trend.
	reportFile := filepath.Join(t.TempDir(), "report.html")
	r = runCLI(t, env, "drill", "report", run.ID, "--out", reportFile)
	require.Zero(t, r.code, r.stderr)
	html, err := os.ReadFile(reportFile)
	require.NoError(t, err)
	assert.Contains(t, string(html), "【演练】")
	assert.Contains(t, string(html), "<svg")
	assert.Contains(t, string(html), "模拟器发送，未到达任何手机")
	r = runCLI(t, env, "drill", "report", run.ID, "--format", "csv", "--lang", "en")
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, run.Participants+1, strings.Count(r.stdout, "\n"), "a header and one row per recipient")
	xlsxFile := filepath.Join(t.TempDir(), "report.xlsx")
	r = runCLI(t, env, "drill", "report", run.ID, "--out", xlsxFile, "--lang", "en")
	require.Zero(t, r.code, r.stderr)
	book, err := excelize.OpenFile(xlsxFile)
	require.NoError(t, err, "a workbook, not HTML in a .xlsx file")
	sheetRows, err := book.GetRows(run.ID)
	require.NoError(t, err)
	require.NoError(t, book.Close())
	assert.Len(t, sheetRows, run.Participants+1, "a header and one row per recipient, as the CSV")
	if assert.NotEmpty(t, sheetRows) {
		assert.Equal(t, []string{"muster ID", "external ID", "name", "phone", "grid code"}, sheetRows[0][:5])
	}
	oneLineError(t, runCLI(t, env, "drill", "report", run.ID, "--out", filepath.Join(t.TempDir(), "report.pdf")), 2, "muster writes no .pdf report")
	r = runCLI(t, env, "drill", "trend", "flood-control")
	require.Zero(t, r.code, r.stderr)
	assert.Regexp(t, run.ID+` .* notification +IV +`+strconv.Itoa(run.Participants)+` +100\.0% .*simulator: no phone reached`, r.stdout, "every recipient 'reached' by the simulator")
	oneLineError(t, runCLI(t, env, "drill", "report", run.ID, "--format", "pdf"), 2, `--format "pdf": want html, csv, json or xlsx`)

	// After-action: a finding, its improvement item moved on, the plan's
	// open items and what is overdue.
	r = runCLI(t, env, "drill", "finding", "add", run.ID, "--what", "两名网格员未回复", "--change", "核对网格员号码", "--owner", "区应急局", "--due", "2099-01-31")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "finding F000001 of run "+run.ID)
	r = runCLI(t, env, "drill", "finding", "update", "F000001", "--status", "in_progress")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "in_progress")
	assert.Contains(t, r.stdout, "区应急局", "what was not given is kept")
	oneLineError(t, runCLI(t, env, "drill", "finding", "update", "F000001", "--status", "finished"), 2, `--status "finished": want open, in_progress, done or dropped`)
	r = runCLI(t, env, "drill", "finding", "open", "--plan", "flood-control")
	require.Zero(t, r.code, r.stderr)
	assert.Regexp(t, `flood-control +F000001 +`+run.ID+` +in_progress +2099-01-31`, r.stdout)
	r = runCLI(t, env, "drill", "overdue", "--all")
	require.Zero(t, r.code, r.stderr)
	assert.Regexp(t, `flood-control +990100 \S+ +!! never \(every 3y\) +!! never `, r.stdout, "no full exercise yet; the notification drill went to the simulator: not held")

	var stats simStats
	require.Equal(t, http.StatusOK, newAPI(t, "").getJSON("http://"+simAddr+"/_sim/stats", &stats))
	assert.Zero(t, stats.Accounts[live.sid].Created, "a drill never uses the live account")
}
