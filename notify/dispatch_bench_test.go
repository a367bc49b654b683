package notify_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"muster/notify"
	"muster/notify/twiliosim"
	"muster/plans"
)

// BenchmarkDispatch measures the dispatcher on a 3-node loopback cluster
// against the simulator over HTTP, rate limits lifted: from the moment the
// activation is committed until every recipient's send result is committed, with delivery
// reports flowing back through the cluster meanwhile. In the same run, a
// bare twilio-go CreateMessage loop with as many workers sends as many
// messages to the same simulator, once just before the dispatch and once
// just after; ratio is their mean time / dispatch time. The cpu-µs/sms
// figures are the process's CPU time (user and system) per message during
// the dispatch and during the bare loops without reports: what a message
// costs each path, whatever the machine's speed at the time.
//
//	go test ./notify -run '^$' -bench Dispatch -benchtime 1x -timeout 20m
func BenchmarkDispatch(b *testing.B) {
	// nodes=3 is the replicated service, its three nodes sharing the
	// machine's cores with the simulator; nodes=1 is `muster dev`'s single
	// node: the same code path with one copy of the state.
	for _, nodes := range []int{3, 1} {
		for _, reports := range []bool{true, false} {
			b.Run(fmt.Sprintf("nodes=%d/reports=%v", nodes, reports), func(b *testing.B) { benchDispatch(b, nodes, reports) })
		}
	}
}

func benchDispatch(b *testing.B, nodes int, reports bool) {
	const people, workers = 20_000, 64
	r := newCallRig(b, rigOptions{nodes: nodes, people: people, noCallbacks: !reports,
		sim: twiliosim.Config{SentDelay: 200 * time.Millisecond, DeliveredDelay: 500 * time.Millisecond, MaxMessages: people,
			Workers: 64},
		disp: notify.DispatcherConfig{Workers: workers, ReportTimeout: time.Hour}})
	bare := bareClient(b, r.simURL)
	var sunk atomic.Int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		sunk.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(sink.Close)
	// The bare loops send what the dispatch sends: the same texts to the
	// same numbers. An untimed call-up renders them first (a call-up's
	// texts are longer than benchBody, and a longer text costs the client
	// and the simulator more per message: a loop sending shorter texts was
	// doing less). It also fills the simulator's store (below).
	warm := r.activate(b, "exercise")
	r.waitDispatched(b, warm.ID, 5*time.Minute)
	r.standDown(b, warm.ID)
	r.waitSimIdle(b, 5*time.Minute)
	sent := r.sim.Messages("")
	require.Len(b, sent, people)
	bareLoop := func(callback string) time.Duration {
		return runWorkers(b, people, workers, func(i int) error {
			p := &api.CreateMessageParams{}
			p.SetTo(sent[i].To).SetFrom(drillAcct.Number).SetBody(sent[i].Body)
			if callback != "" {
				p.SetStatusCallback(callback)
			}
			_, err := bare.Api.CreateMessage(p)
			return err
		})
	}
	// The bare loops run just before the dispatch and just after it, and
	// their times are averaged: this machine's speed drifts by a third
	// within minutes, and one bare run on one side of the dispatch moved
	// the ratio by as much. With reports, the bare loop also runs asking
	// for the same delivery reports, posted to a receiver that only answers
	// 204: what the provider side of the reports costs on this machine,
	// without muster. cBare is the CPU time of the bare loops without
	// reports.
	var tBare, tSink, cBare time.Duration
	bareRuns := func(when string) {
		c0 := cpuTime()
		t := bareLoop("")
		cBare += (cpuTime() - c0) / 2
		r.waitSimIdle(b, 5*time.Minute)
		tBare += t / 2
		msg := fmt.Sprintf("bare twilio-go loop %s the dispatch: %.0f SMS/s", when, people/t.Seconds())
		if reports {
			t := bareLoop(sink.URL)
			r.waitSimIdle(b, 5*time.Minute)
			tSink += t / 2
			msg += fmt.Sprintf(", with reports %.0f SMS/s", people/t.Seconds())
		}
		b.Log(msg)
	}
	// The simulator keeps the last 20,000 messages (MaxMessages): the
	// untimed call-up above filled it, so every timed run, bare or muster,
	// meets it holding as many as it holds after (the first runs on an
	// empty store were the fastest: the retained messages cost the
	// simulator).
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tBare, tSink, cBare = 0, 0, 0
		sunk.Store(0)
		bareRuns("before")
		a := r.activate(b, "exercise") // committed on every node: the recipients are written
		leader := r.c.WaitLeader(15 * time.Second).Node
		first := leader.FSM().AppliedIndex()
		start, c0 := time.Now(), cpuTime()
		stop := profileSection(b)
		st := r.waitDispatched(b, a.ID, 5*time.Minute)
		tDispatch, cDispatch := time.Since(start), cpuTime()-c0
		stop()
		// Raft entries committed while dispatching: claims, results and,
		// with reports, batches of delivery reports.
		b.ReportMetric(float64(leader.FSM().AppliedIndex()-first), "raft-entries")
		require.Zero(b, st.Counters.ByState[notify.StateFailed])
		r.waitSimIdle(b, 5*time.Minute)
		bareRuns("after")
		b.ReportMetric(people/tDispatch.Seconds(), "dispatch-sms/s")
		b.ReportMetric(people/tBare.Seconds(), "twilio-go-sms/s")
		b.ReportMetric(float64(cDispatch.Microseconds())/people, "dispatch-cpu-µs/sms")
		b.ReportMetric(float64(cBare.Microseconds())/people, "twilio-go-cpu-µs/sms")
		b.ReportMetric(tBare.Seconds()/tDispatch.Seconds(), "ratio")
		if reports {
			b.Logf("delivery reports the receiver took: %d", sunk.Load())
			require.GreaterOrEqual(b, sunk.Load(), int64(4*people)) // sent and delivered for each, in two runs
			b.ReportMetric(people/tSink.Seconds(), "twilio-go-reports-sms/s")
			b.ReportMetric(tSink.Seconds()/tDispatch.Seconds(), "ratio-reports")
		}
		b.ReportMetric(0, "ns/op")
		r.standDown(b, a.ID)
		r.waitSimIdle(b, time.Minute)
	}
}

// waitDispatched polls until every recipient of id has a committed send
// result (none pending or sending).
func (r *callRig) waitDispatched(t testing.TB, id plans.ActivationID, timeout time.Duration) notify.ActivationStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := r.status(t, id)
		if c := st.Counters.ByState; c[notify.StatePending]+c[notify.StateSending] == 0 {
			return st
		}
		require.True(t, time.Now().Before(deadline), "not dispatched after %v: %v", timeout, st.Counters.ByState)
		time.Sleep(20 * time.Millisecond)
	}
}

// profileSection writes a CPU profile of the timed section to the file
// named by MUSTER_BENCH_CPUPROFILE, when set; the returned func stops it.
func profileSection(b *testing.B) func() {
	path := os.Getenv("MUSTER_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	require.NoError(b, err)
	require.NoError(b, pprof.StartCPUProfile(f))
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

func bareClient(b *testing.B, simURL string) *twilio.RestClient {
	base, _ := url.Parse(simURL)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	bc := &client.Client{
		Credentials: client.NewCredentials(drillAcct.SID, drillAcct.AuthToken),
		HTTPClient:  &http.Client{Timeout: 10 * time.Second, Transport: hostRewriter{base: base, next: tr}},
	}
	bc.SetAccountSid(drillAcct.SID)
	b.Cleanup(tr.CloseIdleConnections)
	return twilio.NewRestClientWithParams(twilio.ClientParams{Client: bc})
}

// BenchmarkWebhookIngest measures signed webhooks taken by a 3-node
// loopback cluster: a delivery report for every recipient of a call-up and
// a reply from half of them, posted by 256 concurrent clients spread over the
// three nodes (followers forward to the leader in batches). Each is checked
// (signature), applied and committed before its 2xx.
//
//	go test ./notify -run '^$' -bench WebhookIngest -benchtime 1x -timeout 20m
func BenchmarkWebhookIngest(b *testing.B) {
	const people, clients = 20_000, 256
	r := newCallRig(b, rigOptions{nodes: 3, people: people, noCallbacks: true,
		sim: twiliosim.Config{MaxMessages: 2 * people}, disp: notify.DispatcherConfig{ReportTimeout: time.Hour}})
	a := r.activate(b, "exercise")
	r.waitDispatched(b, a.ID, 5*time.Minute) // all sent; no reports were asked for
	recs := r.recipientsOf(b, a.ID)
	type hook struct {
		path string
		form url.Values
	}
	var hooks []hook
	for _, rc := range recs {
		hooks = append(hooks, hook{"/hooks/twilio/sms-status?attempt=" + url.QueryEscape(notify.AttemptID(a.ID, rc.Person, rc.Attempt.N)),
			url.Values{"AccountSid": {drillAcct.SID}, "MessageSid": {rc.Attempt.SID}, "MessageStatus": {"delivered"}, "From": {drillAcct.Number}, "To": {rc.Phone}}})
	}
	for i, rc := range recs {
		if i%2 == 0 {
			hooks = append(hooks, hook{"/hooks/twilio/sms-inbound", url.Values{"AccountSid": {drillAcct.SID}, "MessageSid": {fmt.Sprintf("SMbench%08d", i)},
				"From": {rc.Phone}, "To": {drillAcct.Number}, "Body": {"1"}}})
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = clients
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	b.Cleanup(tr.CloseIdleConnections)
	b.ResetTimer()
	stop := profileSection(b)
	defer stop()
	for range b.N {
		var next, failed atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for c := range clients {
			node := r.nodes[c%len(r.nodes)]
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= len(hooks) {
						return
					}
					h := hooks[i]
					req, _ := http.NewRequest(http.MethodPost, node+h.path, strings.NewReader(h.form.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("X-Twilio-Signature", twiliosim.Signature(drillAcct.AuthToken, r.front.URL+h.path, h.form))
					resp, err := hc.Do(req)
					if err != nil || resp.StatusCode >= 300 {
						failed.Add(1)
					}
					if resp != nil {
						// Read to the end, or the connection is not reused:
						// a provider keeps its connections.
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
			})
		}
		wg.Wait()
		took := time.Since(start)
		require.Zero(b, failed.Load())
		b.ReportMetric(float64(len(hooks))/took.Seconds(), "callbacks/s")
		b.ReportMetric(0, "ns/op")
	}
	st := r.status(b, a.ID)
	require.Equal(b, people/2, st.Counters.ByState[notify.StateAcked])
	require.Equal(b, people-people/2, st.Counters.ByState[notify.StateDelivered])
}

// instantProvider accepts every SMS at once, with a Twilio-sized SID: a
// provider that costs nothing, so that what a dispatch costs muster alone
// can be measured.
type instantProvider struct{ n atomic.Uint64 }

func (p *instantProvider) SendSMS(ctx context.Context, m notify.SMS) (notify.Sent, error) {
	return notify.Sent{ProviderID: fmt.Sprintf("SM%032x", p.n.Add(1)), Status: "queued", Segments: 2}, nil
}

func (p *instantProvider) PlaceCall(ctx context.Context, c notify.Call) (notify.Placed, error) {
	return notify.Placed{ProviderID: fmt.Sprintf("CA%032x", p.n.Add(1))}, nil
}

// BenchmarkDispatchBookkeeping measures what muster itself spends per
// message of a call-up: the dispatcher's claims, renders and results, raft
// and the state, against a provider that answers at once and costs nothing.
// cpu-µs/sms is the process's CPU time (user and system, every node) per
// message sent; the same work, plus the provider's HTTP, is what
// BenchmarkDispatch measures.
//
//	go test ./notify -run '^$' -bench DispatchBookkeeping -benchtime 1x -count 3 -timeout 20m
func BenchmarkDispatchBookkeeping(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			const people = 20_000
			p := &instantProvider{} // the exercise route's
			r := newCallRig(b, rigOptions{nodes: nodes, people: people, noCallbacks: true,
				provider: func(exercise bool) notify.Provider {
					if exercise {
						return p
					}
					return &instantProvider{}
				},
				disp: notify.DispatcherConfig{Workers: 64, ReportTimeout: time.Hour}})
			b.ResetTimer()
			for range b.N {
				before := p.n.Load()
				runtime.GC()
				a := r.activate(b, "exercise") // not timed, as in BenchmarkDispatch
				cpu0, start := cpuTime(), time.Now()
				stop := profileSection(b)
				st := r.waitDispatched(b, a.ID, 5*time.Minute)
				took := time.Since(start)
				stop()
				cpu := cpuTime() - cpu0
				require.Equal(b, people, st.Counters.ByState[notify.StateSent])
				require.Equal(b, uint64(people), p.n.Load()-before)
				b.ReportMetric(people/took.Seconds(), "sms/s")
				b.ReportMetric(float64(cpu.Microseconds())/people, "cpu-µs/sms")
				b.ReportMetric(0, "ns/op")
				r.standDown(b, a.ID)
			}
		})
	}
}
