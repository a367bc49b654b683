package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
	"muster/api"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/notify"
	"muster/plans"
)

// boardCallUp loads the demo city, the flood plan and a roster of people into
// the fixture and activates the plan (EXERCISE, level IV) over region.
func boardCallUp(t testing.TB, f *fixture, h http.Handler, people int, regions ...string) notify.Activation {
	t.Helper()
	withDemo(t, f, h)
	rs, err := examples.Regions()
	require.NoError(t, err)
	var roster bytes.Buffer
	require.NoError(t, examples.GenerateRoster(&roster, people, 5, examples.Grids(rs)))
	res := do(t, h, request{method: "POST", path: "/api/v1/roster/import", token: f.root, body: bytes.NewReader(roster.Bytes())})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	return boardActivate(t, f, h, regions...)
}

func boardActivate(t testing.TB, f *fixture, h http.Handler, regions ...string) notify.Activation {
	t.Helper()
	req := map[string]any{"plan_id": "flood-control", "regions": regions, "level": "IV", "purpose": "EXERCISE", "reason": "防汛通讯演练"}
	res := do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(req)})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var a notify.Activation
	res.decode(t, &a)
	require.Positive(t, a.Recipients)
	return a
}

// boardReply sends one recipient's SMS answer through the real inbound path, as
// the provider's webhook would.
func boardReply(t *testing.T, f *fixture, h http.Handler, id plans.ActivationID, body string) notify.Recipient {
	t.Helper()
	res := do(t, h, request{method: "GET", path: "/api/v1/activations/" + string(id) + "/recipients?limit=1&state=pending", token: f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var l plans.List[notify.Recipient]
	res.decode(t, &l)
	require.NotEmpty(t, l.Items)
	// The call-up is a drill: its answers come in on the exercise account.
	acct := testSenders.Exercise.Account
	in := notify.NewInbound(f.c.Leader().Node, notify.InboundConfig{Exercise: []string{acct}})
	defer in.Close()
	out, err := in.Submit(ctx(t), notify.InboundItem{Kind: notify.InboundReply, SID: "SM" + string(l.Items[0].Person) + body, From: l.Items[0].Phone, Body: body, Account: acct})
	require.NoError(t, err)
	require.Equal(t, notify.InboundApplied, out.Outcome)
	return l.Items[0]
}

func TestBoardThroughTheAPI(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	a := boardCallUp(t, f, h, 1200, "990101")
	viewer, _ := createToken(t, h, f.root, "viewer", access.Viewer)
	who := boardReply(t, f, h, a.ID, "1")

	before := time.Now()
	res := do(t, h, request{method: "GET", path: "/api/v1/activations/" + string(a.ID) + "/board", token: viewer})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	assert.Equal(t, "application/json; charset=utf-8", res.Header().Get("Content-Type"))

	// The shape, as a client without muster's types sees it.
	var doc map[string]any
	res.decode(t, &doc)
	for _, k := range []string{"activation", "status", "started_at", "as_of", "elapsed", "checkpoints", "total", "regions", "grids"} {
		assert.Contains(t, doc, k)
	}
	assert.Equal(t, []any{5.0, 15.0, 30.0}, doc["checkpoints"])
	total := doc["total"].(map[string]any)
	for _, k := range []string{"recipients", "pending", "sending", "sent", "delivered", "acked", "declined", "failed", "escalated", "expired", "unanswered", "acked_pct", "ack_by"} {
		assert.Contains(t, total, k)
	}
	assert.Equal(t, map[string]any{"minutes": 5.0, "acked": 1.0, "pct": notify.Percent(1, a.Recipients), "reached": false}, total["ack_by"].([]any)[0])
	grid := doc["grids"].([]any)[0].(map[string]any)
	for _, k := range []string{"code", "name", "kind", "path", "recipients", "acked", "acked_pct", "ack_by"} {
		assert.Contains(t, grid, k)
	}

	var b notify.Board
	res.decode(t, &b)
	assert.Equal(t, a.ID, b.Activation)
	assert.Equal(t, a.Recipients, b.Total.Recipients)
	assert.Equal(t, 1, b.Total.Acked)
	assert.Equal(t, a.Recipients-1, b.Total.Pending)
	assert.Equal(t, a.Recipients-1, b.Total.Unanswered)
	assert.False(t, b.AsOf.Before(before.Add(-time.Second)), "stamped when served")
	assert.Equal(t, b.AsOf.Sub(a.StartedAt), b.Elapsed)
	found := false
	for _, g := range b.Grids {
		assert.NotEmpty(t, g.Name, g.Code)
		if g.Code == who.Grid {
			found = true
			assert.Equal(t, 1, g.Acked)
			assert.Equal(t, 1, g.AckBy[0].Acked)
		}
	}
	assert.True(t, found, "the grid of the one who reported is on the board")
	require.NotEmpty(t, b.Regions)
	for _, r := range b.Regions {
		assert.Equal(t, plans.KindStreet, r.Kind, "a district's board rolls up to its streets")
	}

	res = do(t, h, request{method: "GET", path: "/api/v1/activations/A999999/board", token: viewer})
	assert.Equal(t, http.StatusNotFound, res.Code)
	assert.Equal(t, muster.ENotFound, res.errorBody(t).Code)
	res = do(t, h, request{method: "GET", path: "/api/v1/activations/" + string(a.ID) + "/board"})
	assert.Equal(t, http.StatusUnauthorized, res.Code)
}

// sseEvent is one Server-Sent Event, or a comment when name is empty.
type sseEvent struct {
	name, data, comment string
}

// readEvents parses an event stream into a channel, closed at the end of
// the stream.
func readEvents(body *bufio.Reader) <-chan sseEvent {
	ch := make(chan sseEvent, 16)
	go func() {
		defer close(ch)
		var ev sseEvent
		for {
			line, err := body.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				if ev != (sseEvent{}) {
					ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				ch <- sseEvent{comment: strings.TrimSpace(line[1:])}
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data += line[len("data: "):]
			}
		}
	}()
	return ch
}

// nextStatus waits (bounded) for the next status event.
func nextStatus(t *testing.T, events <-chan sseEvent, timeout time.Duration) notify.ActivationStatus {
	t.Helper()
	var st notify.ActivationStatus
	nextEvent(t, events, "status", timeout, &st)
	return st
}

// nextEvent waits (bounded) for the next event, which must be named name,
// and decodes its data into out.
func nextEvent(t *testing.T, events <-chan sseEvent, name string, timeout time.Duration, out any) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-events:
			require.True(t, ok, "the stream ended before a %s event", name)
			if ev.name == "" {
				continue
			}
			require.Equal(t, name, ev.name, "data: %s", ev.data)
			require.NoError(t, json.Unmarshal([]byte(ev.data), out), ev.data)
			return
		case <-deadline:
			t.Fatalf("no %s event within %v", name, timeout)
		}
	}
}

// openEvents connects to an activation's event stream over real HTTP.
func openEvents(t *testing.T, c context.Context, url, token string) (*http.Response, <-chan sseEvent) {
	t.Helper()
	req, err := http.NewRequestWithContext(c, "GET", url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { res.Body.Close() })
	require.Equal(t, http.StatusOK, res.StatusCode)
	return res, readEvents(bufio.NewReaderSize(res.Body, 1<<20))
}

func TestActivationEventsStream(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	a := boardCallUp(t, f, h, 1200, "990101")
	srv := httptest.NewServer(h)
	closed := false
	t.Cleanup(func() {
		if !closed {
			srv.Close()
		}
	})
	viewer, _ := createToken(t, h, f.root, "viewer", access.Viewer)
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	res, events := openEvents(t, c, srv.URL+"/api/v1/activations/"+string(a.ID)+"/events?consistency=linearizable", viewer)
	assert.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	assert.Equal(t, "no", res.Header.Get("X-Accel-Buffering"))
	assert.Equal(t, "no-cache", res.Header.Get("Cache-Control"))

	// At once: the status as GET /activations/{id} has it.
	st := nextStatus(t, events, 5*time.Second)
	assert.Equal(t, a.ID, st.ID)
	assert.NotEmpty(t, st.Counters.ByGrid)
	assert.Equal(t, notify.StatusActive, st.Status)
	assert.Equal(t, a.Recipients, st.Counters.ByState[notify.StatePending])

	// A reply moves a counter: a new event follows.
	boardReply(t, f, h, a.ID, "1")
	st = nextStatus(t, events, 5*time.Second)
	assert.Equal(t, 1, st.Counters.ByState[notify.StateAcked])
	assert.Equal(t, a.Recipients-1, st.Counters.ByState[notify.StatePending])

	// Stood down with nothing in flight: one last event, then the end.
	sd := do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(a.ID) + "/stand-down", token: f.root, body: jsonBody(map[string]string{"reason": "演练结束"})})
	require.Equal(t, http.StatusOK, sd.Code, "%s", sd.Body)
	st = nextStatus(t, events, 5*time.Second)
	assert.Equal(t, notify.StatusStoodDown, st.Status)
	select {
	case ev, ok := <-events:
		assert.False(t, ok, "the stream ends after the stand-down; got %+v", ev)
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end after the stand-down")
	}

	// A stream of a settled activation ends after its one event.
	_, events = openEvents(t, c, srv.URL+"/api/v1/activations/"+string(a.ID)+"/events", viewer)
	assert.Equal(t, notify.StatusStoodDown, nextStatus(t, events, 5*time.Second).Status)
	_, ok := <-events
	assert.False(t, ok)

	// Errors before the stream are ordinary JSON errors.
	r := do(t, h, request{method: "GET", path: "/api/v1/activations/A999999/events", token: viewer})
	assert.Equal(t, http.StatusNotFound, r.Code)
	assert.Equal(t, muster.ENotFound, r.errorBody(t).Code)
	r = do(t, h, request{method: "GET", path: "/api/v1/activations/" + string(a.ID) + "/events"})
	assert.Equal(t, http.StatusUnauthorized, r.Code)

	// A client that goes away ends its stream: the server can close.
	b := boardActivate(t, f, h, "990102")
	gone, leave := context.WithCancel(c)
	_, events = openEvents(t, gone, srv.URL+"/api/v1/activations/"+string(b.ID)+"/events", viewer)
	assert.Equal(t, b.ID, nextStatus(t, events, 5*time.Second).ID)
	leave()
	done := make(chan struct{})
	go func() { srv.Close(); close(done) }()
	closed = true
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the event handler kept running after its client went away")
	}
}

// TestActivationEventsWithBoard: with board=true every status event is
// followed by the board from the same read, so their counts agree: whole
// the first time, then only the rows an answer changed.
func TestActivationEventsWithBoard(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	a := boardCallUp(t, f, h, 600, "990101")
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := srv.URL + "/api/v1/activations/" + string(a.ID) + "/events?board=true"

	_, events := openEvents(t, c, url, f.root)
	st := nextStatus(t, events, 5*time.Second)
	assert.Nil(t, st.Counters.ByGrid, "the counts by grid come in the board")
	assert.Nil(t, st.Counters.AckBy, "as do the acknowledgements by grid")
	var b notify.Board
	nextEvent(t, events, "board", 5*time.Second, &b)
	assert.Equal(t, a.ID, b.Activation)
	assert.Equal(t, st.Counters.Total, b.Total.Recipients)
	assert.Equal(t, st.Counters.ByState[notify.StatePending], b.Total.Pending)
	assert.False(t, b.AsOf.IsZero(), "stamped when read")
	assert.NotEmpty(t, b.Grids)

	// Later board events carry the board's own fields and total, and only
	// the rows that changed: the answer's grid and the region above it.
	who := boardReply(t, f, h, a.ID, "1")
	st = nextStatus(t, events, 5*time.Second)
	var d struct {
		notify.Board
		Partial bool `json:"partial"`
	}
	nextEvent(t, events, "board", 5*time.Second, &d)
	assert.Equal(t, 1, st.Counters.ByState[notify.StateAcked])
	assert.True(t, d.Partial)
	assert.Equal(t, a.ID, d.Activation)
	assert.Equal(t, 1, d.Total.Acked)
	require.Len(t, d.Grids, 1, "only the grid that changed")
	assert.Equal(t, who.Grid, d.Grids[0].Code)
	assert.Equal(t, 1, d.Grids[0].Acked)
	require.Len(t, d.Regions, 1, "and the region it rolls up to")
	assert.True(t, strings.HasPrefix(string(who.Grid), string(d.Regions[0].Code)), "%s under %s", who.Grid, d.Regions[0].Code)
	assert.Equal(t, 1, d.Regions[0].Acked)

	r := do(t, h, request{method: "GET", path: "/api/v1/activations/" + string(a.ID) + "/events?board=maybe", token: f.root})
	assert.Equal(t, http.StatusBadRequest, r.Code)
	assert.Equal(t, muster.EInvalid, r.errorBody(t).Code)

	// GET /activations/{id}?board=true: the status with the board from the
	// same read.
	r = do(t, h, request{method: "GET", path: "/api/v1/activations/" + string(a.ID) + "?board=true", token: f.root})
	require.Equal(t, http.StatusOK, r.Code, "%s", r.Body)
	var both struct {
		notify.ActivationStatus
		Board notify.Board `json:"board"`
	}
	r.decode(t, &both)
	assert.Equal(t, a.ID, both.ID)
	assert.Equal(t, a.ID, both.Board.Activation)
	assert.Equal(t, both.Counters.Total, both.Board.Total.Recipients)
	assert.Equal(t, both.Counters.ByState[notify.StateAcked], both.Board.Total.Acked)
	assert.NotEmpty(t, both.Counters.ByGrid, "the status is whole")
	r = do(t, h, request{method: "GET", path: "/api/v1/activations/" + string(a.ID) + "?board=maybe", token: f.root})
	assert.Equal(t, http.StatusBadRequest, r.Code)
}

// TestBoardEventAtCheckpoint: when T+5 minutes passes, nothing is counted
// anew, yet the board changes: its five-minute figures are final. A stream
// with the board sends it then, every row's checkpoint marked reached.
func TestBoardEventAtCheckpoint(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	a := boardCallUp(t, f, h, 600, "990101")
	n := f.c.Nodes[0].Node
	clk := clustertest.NewClock(time.Now())
	srv := httptest.NewServer(api.New(api.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: clk},
		api.Deps{Cluster: n, Tokens: access.NewService(n, n), Activations: notify.NewService(n, n, testSenders)}).Handler())
	t.Cleanup(srv.Close)
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	_, events := openEvents(t, c, srv.URL+"/api/v1/activations/"+string(a.ID)+"/events?board=true", f.root)
	nextStatus(t, events, 5*time.Second)
	var b notify.Board
	nextEvent(t, events, "board", 5*time.Second, &b)
	require.NotEmpty(t, b.Total.AckBy)
	assert.False(t, b.Total.AckBy[0].Reached)

	clk.Add(6 * time.Minute)
	nextStatus(t, events, 5*time.Second)
	var d struct {
		notify.Board
		Partial bool `json:"partial"`
	}
	nextEvent(t, events, "board", 5*time.Second, &d)
	assert.True(t, d.Partial)
	assert.Equal(t, 5, d.Total.AckBy[0].Minutes)
	assert.True(t, d.Total.AckBy[0].Reached, "T+5 has passed")
	assert.False(t, d.Total.AckBy[1].Reached, "T+15 has not")
	assert.Len(t, d.Grids, len(b.Grids), "every grid's T+5 is final now")
}

// TestActivationEventsShareReads: twenty streams watch one call-up; one
// reply moves its counters, and every stream shows it. To see it each
// stream looked at least once, yet the node read the activation's status
// for all of them fewer times than there are streams: a read serves every
// stream that looks within half a poll of it.
func TestActivationEventsShareReads(t *testing.T) {
	const streams = 20
	f, h, a, counted, served := countedCallUp(t, nil)
	srv := httptest.NewServer(served)
	t.Cleanup(srv.Close)
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	all := make([]<-chan sseEvent, streams)
	for i := range all {
		_, all[i] = openEvents(t, c, srv.URL+"/api/v1/activations/"+string(a.ID)+"/events", f.root)
		require.Equal(t, a.Recipients, nextStatus(t, all[i], 5*time.Second).Counters.ByState[notify.StatePending])
	}
	before, start := counted.stale.Load(), time.Now()
	boardReply(t, f, h, a.ID, "1")
	for _, events := range all {
		assert.Equal(t, 1, nextStatus(t, events, 5*time.Second).Counters.ByState[notify.StateAcked])
	}
	reads, took := counted.stale.Load()-before, time.Since(start)
	assert.Less(t, reads, int64(streams), "reads of the status for %d streams in %v", streams, took)
	t.Logf("%d streams saw the reply within %v; the node read the status %d times meanwhile", streams, took, reads)
}

// TestReadsAreShared: twenty consoles ask for one call-up's board, or its
// status, at once, as they do when a call-up starts. The first read is held
// until all twenty requests have come; each gets its answer, and the node
// reads a few times, not twenty.
func TestReadsAreShared(t *testing.T) {
	for _, tc := range []struct {
		name, path, idKey, read string
		reads                   func(*countingActivations) int64
	}{
		{"board", "/board", "activation", "board", func(c *countingActivations) int64 { return c.boards.Load() }},
		{"status", "", "id", "status", func(c *countingActivations) int64 { return c.reads.Load() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const consoles = 20
			f, _, a, counted, served := countedCallUp(t, make(chan struct{}))
			srv := httptest.NewServer(served)
			t.Cleanup(srv.Close)
			c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			answers := make(chan map[string]any, consoles)
			for range consoles {
				go func() {
					req, _ := http.NewRequestWithContext(c, http.MethodGet, srv.URL+"/api/v1/activations/"+string(a.ID)+tc.path, nil)
					req.Header.Set("Authorization", "Bearer "+f.root)
					var v map[string]any
					res, err := http.DefaultClient.Do(req)
					if assert.NoError(t, err) {
						defer res.Body.Close()
						assert.Equal(t, http.StatusOK, res.StatusCode)
						assert.Equal(t, "application/json; charset=utf-8", res.Header.Get("Content-Type"))
						assert.NoError(t, json.NewDecoder(res.Body).Decode(&v))
					}
					answers <- v
				}()
			}
			// Every request has come once all wait for a read (the node's
			// own gauge of them): counting them as they reach the server
			// left some still in the middleware under load, each then
			// taking its own read after the first.
			require.Eventually(t, func() bool {
				return waiters(t, counted.metrics, tc.read) == consoles && tc.reads(counted) > 0
			}, 10*time.Second, time.Millisecond)
			close(counted.hold)
			for range consoles {
				assert.Equal(t, string(a.ID), (<-answers)[tc.idKey])
			}
			// The held read, and the one started after it for all who came
			// while it was under way.
			assert.LessOrEqual(t, tc.reads(counted), int64(2), "reads for %d requests", consoles)
			assert.Zero(t, waiters(t, counted.metrics, tc.read), "none waits once all are answered")
			t.Logf("%d requests at once; the node read %d times", consoles, tc.reads(counted))
		})
	}
}

// countedCallUp makes a one-node fixture with a drill of 600 people in
// 990101 and returns, besides the fixture's handler, an API over the node
// whose reads of activations are counted; with hold, the first read
// waits until hold is closed (countingActivations).
func countedCallUp(t *testing.T, hold chan struct{}) (*fixture, http.Handler, notify.Activation, *countingActivations, http.Handler) {
	t.Helper()
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	a := boardCallUp(t, f, h, 600, "990101")
	n := f.c.Nodes[0].Node
	counted := &countingActivations{activations: notify.NewService(n, n, testSenders), hold: hold, metrics: prometheus.NewRegistry()}
	served := api.New(api.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: counted.metrics},
		api.Deps{Cluster: n, Tokens: access.NewService(n, n), Activations: counted}).Handler()
	return f, h, a, counted, served
}

// countingActivations counts the reads of an activation's status from the
// node's own state (the event streams' polls), its other reads of the
// status, and its reads with the board; with hold, the first read with the
// board or the first status read not from the node's own state waits until
// hold is closed.
type countingActivations struct {
	activations
	stale, reads, boards atomic.Int64
	hold                 chan struct{}
	held                 atomic.Bool
	metrics              *prometheus.Registry // the API's
}

// waiters is the API's gauge of the requests waiting for a shared read of
// the kind read (status or board).
func waiters(t *testing.T, reg *prometheus.Registry, read string) int {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != "muster_api_shared_read_waiters" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "read" && l.GetValue() == read {
					return int(m.GetGauge().GetValue())
				}
			}
		}
	}
	return 0
}

// wait holds the first read it is asked to until c.hold is closed.
func (c *countingActivations) wait(ctx context.Context) error {
	if c.hold == nil || !c.held.CompareAndSwap(false, true) {
		return nil
	}
	select {
	case <-c.hold:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *countingActivations) StatusAndBoard(ctx context.Context, level muster.Consistency, id plans.ActivationID) (notify.ActivationStatus, notify.Board, error) {
	c.boards.Add(1)
	if err := c.wait(ctx); err != nil {
		return notify.ActivationStatus{}, notify.Board{}, err
	}
	return c.activations.StatusAndBoard(ctx, level, id)
}

// activations is api.Activations under a name that does not hide its
// method Activations when embedded.
type activations = api.Activations

func (c *countingActivations) Activation(ctx context.Context, level muster.Consistency, id plans.ActivationID) (notify.ActivationStatus, error) {
	if level == muster.Stale {
		c.stale.Add(1)
	} else {
		c.reads.Add(1)
		if err := c.wait(ctx); err != nil {
			return notify.ActivationStatus{}, err
		}
	}
	return c.activations.Activation(ctx, level, id)
}

// TestActivationEventsEndWhenTheTokenIsRevoked: a stream checks the token
// that opened it while it runs: revoked, the stream ends within a few
// seconds with an unauthorized error event, while streams opened with other
// tokens go on.
func TestActivationEventsEndWhenTheTokenIsRevoked(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	a := boardCallUp(t, f, h, 300, "990101")
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	wall, wallToken := createToken(t, h, f.root, "大屏", access.Viewer)
	desk, _ := createToken(t, h, f.root, "值班席", access.Viewer)
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	url := srv.URL + "/api/v1/activations/" + string(a.ID) + "/events"
	_, revoked := openEvents(t, c, url, wall)
	_, withBoard := openEvents(t, c, url+"?board=true", wall)
	_, kept := openEvents(t, c, url, desk)
	for _, ev := range []<-chan sseEvent{revoked, withBoard, kept} {
		assert.Equal(t, a.ID, nextStatus(t, ev, 5*time.Second).ID)
	}
	var b notify.Board
	nextEvent(t, withBoard, "board", 5*time.Second, &b)

	res := do(t, h, request{method: "DELETE", path: "/api/v1/tokens/" + string(wallToken.ID), token: f.root})
	require.Equal(t, http.StatusNoContent, res.Code, "%s", res.Body)
	revokedAt := time.Now()
	for name, events := range map[string]<-chan sseEvent{"status stream": revoked, "board stream": withBoard} {
		var got struct {
			Error muster.Error `json:"error"`
		}
		nextEvent(t, events, "error", 8*time.Second, &got)
		assert.Equal(t, muster.EUnauthorized, got.Error.Code, name)
		assert.Contains(t, got.Error.Message, "revoked", name)
		select {
		case ev, ok := <-events:
			assert.False(t, ok, "%s: the stream ends after the error; got %+v", name, ev)
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the stream did not end", name)
		}
	}
	assert.Less(t, time.Since(revokedAt), 6*time.Second, "the streams ended soon after the revocation")

	// The other token's stream goes on and still follows the call-up.
	boardReply(t, f, h, a.ID, "1")
	assert.Equal(t, 1, nextStatus(t, kept, 5*time.Second).Counters.ByState[notify.StateAcked])
}
