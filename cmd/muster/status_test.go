package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
	"muster/plans"
)

// statusGoldenUpdate reports whether -update was given: the golden files
// under testdata/status are rewritten instead of compared. The flag is looked
// up in init so that another test file of the package may define it too.
var statusGoldenUpdate func() bool

func init() {
	f := flag.Lookup("update")
	if f == nil {
		flag.Bool("update", false, "rewrite golden files under testdata/")
		f = flag.Lookup("update")
	}
	statusGoldenUpdate = func() bool {
		g, ok := f.Value.(flag.Getter)
		return ok && g.Get() == true
	}
}

// statusGolden compares got with testdata/status/name, or rewrites it with -update.
func statusGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "status", name)
	if statusGoldenUpdate() {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run with -update to create it")
	assert.Equal(t, string(want), got, "rendering changed; if on purpose, run go test ./cmd/muster -run %s -update", t.Name())
}

var statusT0 = time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)

// sampleStatus is an activation twelve minutes into a call-up of 40 people
// in two grids.
func sampleStatus() notify.ActivationStatus {
	return notify.ActivationStatus{
		Activation: notify.Activation{ID: "A000007", Plan: "flood-control", PlanTitle: "示例市防汛应急预案", Level: "IV", Purpose: notify.PurposeExercise,
			RegionNames: "青山街道", Status: notify.StatusActive, CreatedAt: statusT0, Recipients: 40,
			Roles: []notify.RoleSlot{{Index: 0, Group: "网格力量", Name: "网格长"}, {Index: 1, Group: "指挥部", Name: "值班领导"}}},
		Counters: notify.Counters{
			Total:   40,
			ByState: map[notify.State]int{notify.StatePending: 2, notify.StateSending: 1, notify.StateSent: 3, notify.StateDelivered: 10, notify.StateAcked: 20, notify.StateDeclined: 3, notify.StateFailed: 1},
			ByRole: map[int]map[notify.State]int{
				0: {notify.StatePending: 2, notify.StateSending: 1, notify.StateSent: 3, notify.StateDelivered: 9, notify.StateAcked: 19, notify.StateDeclined: 3, notify.StateFailed: 1},
				1: {notify.StateDelivered: 1, notify.StateAcked: 1},
			},
			ByGrid: map[plans.RegionCode]map[notify.State]int{
				"990101001001001": {notify.StatePending: 2, notify.StateDelivered: 4, notify.StateAcked: 8, notify.StateDeclined: 1},
				"990101001001002": {notify.StateSending: 1, notify.StateSent: 3, notify.StateDelivered: 6, notify.StateAcked: 12, notify.StateDeclined: 2, notify.StateFailed: 1},
			},
			AckBy: map[plans.RegionCode]map[int]int{"990101001001001": {5: 5, 15: 8, 30: 8}, "990101001001002": {5: 6, 15: 12, 30: 12}},
		},
	}
}

// sampleBoard is the board of sampleStatus at T+12m.
func sampleBoard() notify.Board {
	row := func(code plans.RegionCode, name string, kind plans.RegionKind, path string, c notify.StatusCounts, ack map[int]int) notify.BoardRow {
		r := notify.BoardRow{Code: code, Name: name, Kind: kind, Path: path, StatusCounts: c, Unanswered: c.Unanswered(), AckedPct: notify.Percent(c.Acked, c.Recipients)}
		for _, m := range []int{5, 15, 30} {
			r.AckBy = append(r.AckBy, notify.AckBy{Minutes: m, Acked: ack[m], Pct: notify.Percent(ack[m], c.Recipients)})
		}
		return r
	}
	st := sampleStatus()
	g1 := notify.CountStates(st.Counters.ByGrid["990101001001001"])
	g2 := notify.CountStates(st.Counters.ByGrid["990101001001002"])
	all := notify.CountStates(st.Counters.ByState)
	b := notify.Board{Activation: st.ID, Status: st.Status, StartedAt: statusT0, Checkpoints: []int{5, 15, 30},
		Total: row("", "", "", "", all, map[int]int{5: 11, 15: 20, 30: 20}),
		Regions: []notify.BoardRow{
			row("990101001001", "幸福里社区", plans.KindCommunity, "东湖区 / 青山街道", all, map[int]int{5: 11, 15: 20, 30: 20}),
		},
		Grids: []notify.BoardRow{
			row("990101001001001", "幸福里社区第1网格", plans.KindGrid, "东湖区 / 青山街道 / 幸福里社区", g1, map[int]int{5: 5, 15: 8, 30: 8}),
			row("990101001001002", "幸福里社区第2网格", plans.KindGrid, "东湖区 / 青山街道 / 幸福里社区", g2, map[int]int{5: 6, 15: 12, 30: 12}),
		},
	}
	return b.At(statusT0.Add(12 * time.Minute))
}

func TestStatusRendering(t *testing.T) {
	t.Run("status", func(t *testing.T) {
		var out bytes.Buffer
		w := newTable(&out)
		printStatus(w, sampleStatus(), sampleBoard(), 1)
		require.NoError(t, w.Flush())
		statusGolden(t, "status.txt", out.String())
	})
	for _, sortBy := range []string{"code", "acked"} {
		t.Run("board by "+sortBy, func(t *testing.T) {
			var out bytes.Buffer
			w := newTable(&out)
			printBoard(w, sampleBoard(), sortBy, 0)
			require.NoError(t, w.Flush())
			statusGolden(t, "board-"+sortBy+".txt", out.String())
		})
	}
	t.Run("watch screen", func(t *testing.T) {
		now := statusT0.Add(12 * time.Minute)
		w := &watcher{out: &bytes.Buffer{}, now: func() time.Time { return now }}
		st := sampleStatus()
		// Watching from T+8m: 45% then, 50% at T+12m.
		w.points = []curvePoint{{at: 8 * time.Minute, pct: 45}, {at: 10 * time.Minute, pct: 47.5}}
		w.last = &st
		w.update(st, nil)
		statusGolden(t, "watch.txt", w.frame(now))
	})
	t.Run("watch line", func(t *testing.T) {
		assert.Equal(t, "T+12m0s status=active recipients=40 pending=2 sending=1 sent=3 delivered=10 acked=20 declined=3 failed=1 escalated=0 out_pct=90.0 acked_pct=50.0",
			statusLine(sampleStatus(), 12*time.Minute))
	})
}

func TestProgressBarAndCurve(t *testing.T) {
	for _, tc := range []struct {
		n, total int
		want     string
	}{
		{0, 10, "░░░░░░░░░░"},
		{5, 10, "█████░░░░░"},
		{10, 10, "██████████"},
		{12, 10, "██████████"},
		{3, 0, "░░░░░░░░░░"},
	} {
		assert.Equal(t, tc.want, progressBar(tc.n, tc.total, 10), "%d/%d", tc.n, tc.total)
	}
	pts := []curvePoint{{0, 0}, {10 * time.Minute, 50}, {20 * time.Minute, 60}}
	assert.Equal(t, 25.0, curveAt(pts, 5*time.Minute), "between points: interpolated")
	assert.Equal(t, 55.0, curveAt(pts, 15*time.Minute))
	assert.Equal(t, 60.0, curveAt(pts, 30*time.Minute), "after the last point: held")
	chart := ackChart(pts, 20*time.Minute, 20, 4)
	lines := strings.Split(strings.TrimSuffix(chart, "\n"), "\n")
	require.Len(t, lines, 1+4+2, chart)
	assert.Contains(t, lines[1], "60%", "the scale tops at the highest share rounded up to 10%%")
	assert.True(t, strings.HasSuffix(lines[4], "█"), "the bottom row is full at the end: %q", lines[4])
	assert.Contains(t, lines[6], "T+20m0s")
}

// statusDev starts `muster dev` and returns the client environment for it.
func statusDev(t *testing.T) (addr, token string, env []string) {
	t.Helper()
	addr = freePort(t)
	dev := startProc(t, "dev", nil, "dev", "--data-dir", filepath.Join(t.TempDir(), "data"), "--http-addr", addr, "--people", "1500", "--log-level", "warn")
	token = strings.Fields(dev.waitOutput("admin token:", 60*time.Second))[0]
	return addr, token, []string{"MUSTER_ADDR=http://" + addr, "MUSTER_TOKEN=" + token}
}

// runBoardCmd runs the board verb in this process against the dev server.
func runBoardCmd(t *testing.T, addr, token, output string, args ...string) (string, error) {
	t.Helper()
	cmd := newBoardCmd(&globals{addr: "http://" + addr, token: token, output: output})
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	return out.String(), err
}

// countsAddUp checks a status line's states against its recipients.
func countsAddUp(t *testing.T, line string) map[string]string {
	t.Helper()
	kv := map[string]string{}
	for _, f := range strings.Fields(line)[1:] {
		k, v, ok := strings.Cut(f, "=")
		require.True(t, ok, "key=value: %q in %q", f, line)
		kv[k] = v
	}
	sum := 0
	for _, k := range []string{"pending", "sending", "sent", "delivered", "acked", "declined", "failed", "escalated"} {
		var n int
		require.NoError(t, json.Unmarshal([]byte(kv[k]), &n), "%s in %q", k, line)
		sum += n
	}
	assert.Equal(t, kv["recipients"], itoa(sum), "the states add up (nothing expires here): %q", line)
	return kv
}

// TestStatusBoardAndWatch runs the status verbs against a real dev server.
// Whether the counts move depends on the server sending SMS, so the test
// checks shapes and sums, and drives the watch to its end by standing the
// activation down.
func TestStatusBoardAndWatch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	addr, token, env := statusDev(t)
	r := runCLI(t, env, "activate", "flood-control", "--region", "990101", "--level", "IV", "--purpose", "exercise", "--reason", "防汛通讯演练", "--yes", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var a notify.Activation
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &a))
	require.Positive(t, a.Recipients)
	id := string(a.ID)

	// The list has every activation with its counts.
	r = runCLI(t, env, "status")
	require.Zero(t, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 2, r.stdout)
	assert.Equal(t, []string{"ID", "PLAN", "LEVEL", "PURPOSE", "STATUS", "RECIPIENTS", "PENDING", "SENDING", "SENT", "DELIVERED", "ACKED", "DECLINED", "FAILED", "ESCALATED", "报到%", "CREATED"}, strings.Fields(lines[0]))
	assert.Equal(t, []string{id, "flood-control", "IV", "EXERCISE", "active", itoa(a.Recipients)}, strings.Fields(lines[1])[:6])
	// Filtered by status: the exercise is active, and nothing waits for
	// approval; a status the server does not know is refused.
	r = runCLI(t, env, "status", "--status", "pending_approval,rejected")
	require.Zero(t, r.code, r.stderr)
	assert.Len(t, strings.Split(strings.TrimSpace(r.stdout), "\n"), 1, "only the header: %s", r.stdout)
	r = runCLI(t, env, "status", "--status", "active")
	require.Zero(t, r.code, r.stderr)
	if active := strings.Split(strings.TrimSpace(r.stdout), "\n"); assert.Len(t, active, 2, r.stdout) {
		assert.Equal(t, []string{id, "flood-control", "IV", "EXERCISE", "active", itoa(a.Recipients)}, strings.Fields(active[1])[:6])
	}
	oneLineError(t, runCLI(t, env, "status", "--status", "waiting"), 2, `--status "waiting": want pending_approval, active, stood_down, rejected or approval_expired`)
	oneLineError(t, runCLI(t, env, "status", id, "--status", "active"), 2, "--status filters the list of activations")
	r = runCLI(t, env, "status", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var list struct {
		Items []struct {
			notify.Activation
			Counts notify.StatusCounts `json:"counts"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &list), r.stdout)
	require.Len(t, list.Items, 1)
	assert.Equal(t, a.Recipients, list.Items[0].Counts.Recipients)

	// One activation: counts overall, per role, region and grid.
	r = runCLI(t, env, "status", id, "--grids", "3")
	require.Zero(t, r.code, r.stderr)
	for _, want := range []string{"sent ", "报到 ", "ALL ", "ROLE ", "REGION ", "GRID ", "网格力量 / 网格长", "青山街道", "more grid"} {
		assert.Contains(t, r.stdout, want)
	}
	r = runCLI(t, env, "status", id, "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var one struct {
		notify.ActivationStatus
		Counts     notify.StatusCounts `json:"counts"`
		RoleCounts []notify.RoleCounts `json:"role_counts"`
		Board      notify.Board        `json:"board"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &one), r.stdout)
	assert.Equal(t, a.Recipients, one.Counts.Recipients)
	assert.Len(t, one.RoleCounts, len(a.Roles))
	assert.Equal(t, a.Recipients, one.Board.Total.Recipients)
	assert.NotEmpty(t, one.Board.Grids, "JSON has every grid")

	// The board, in table and JSON.
	out, err := runBoardCmd(t, addr, token, "table", id, "--sort", "acked", "--top", "5")
	require.NoError(t, err)
	for _, want := range []string{"board of " + id, "REGION", "GRID", "报到", "T+5", "T+15", "T+30", "TOTAL", "still counting"} {
		assert.Contains(t, out, want)
	}
	out, err = runBoardCmd(t, addr, token, "json", id)
	require.NoError(t, err)
	var b notify.Board
	require.NoError(t, json.Unmarshal([]byte(out), &b), out)
	assert.Equal(t, a.Recipients, b.Total.Recipients)
	assert.Equal(t, []int{5, 15, 30}, b.Checkpoints)
	_, err = runBoardCmd(t, addr, token, "table", "A999999")
	assert.ErrorContains(t, err, "does not exist")
	_, err = runBoardCmd(t, addr, token, "table", id, "--sort", "name")
	assert.ErrorContains(t, err, "--sort")

	// --watch on a pipe: a line per update, until the stand-down settles it.
	for _, output := range []string{"table", "json"} {
		t.Run("watch "+output, func(t *testing.T) {
			if output == "json" {
				a2 := runCLI(t, env, "activate", "flood-control", "--region", "990102", "--level", "IV", "--purpose", "exercise", "--reason", "第二次演练", "--yes", "-o", "json")
				require.Zero(t, a2.code, a2.stderr)
				var act notify.Activation
				require.NoError(t, json.Unmarshal([]byte(a2.stdout), &act))
				id = string(act.ID)
			}
			w := startProc(t, "watch", env, "status", id, "--watch", "-o", output)
			first := waitOutputLines(t, w, 1, 15*time.Second)[0]
			if output == "json" {
				var st notify.ActivationStatus
				require.NoError(t, json.Unmarshal([]byte(first), &st), first)
				assert.Equal(t, plans.ActivationID(id), st.ID)
			} else {
				assert.True(t, strings.HasPrefix(first, "T+"), first)
				assert.Equal(t, "active", countsAddUp(t, first)["status"])
			}
			r := runCLI(t, env, "stand-down", id, "--reason", "演练结束")
			require.Zero(t, r.code, r.stderr)
			// The watch ends once the stood-down activation has nothing in
			// flight; how soon depends on the server's SMS provider, which
			// this test does not control.
			ended := false
			select {
			case <-w.done:
				ended = true
			case <-time.After(20 * time.Second):
			}
			all := waitOutputLines(t, w, 2, time.Second)
			last := all[len(all)-1]
			var st notify.ActivationStatus
			if output == "json" {
				require.NoError(t, json.Unmarshal([]byte(last), &st), last)
			} else {
				kv := countsAddUp(t, last)
				st.Status = notify.Status(kv["status"])
				st.Counters.ByState = map[notify.State]int{}
				for _, s := range notify.States() {
					var n int
					_ = json.Unmarshal([]byte(kv[string(s)]), &n)
					st.Counters.ByState[s] = n
				}
			}
			assert.Equal(t, notify.StatusStoodDown, st.Status, w.out.String())
			if ended {
				assert.Zero(t, w.cmd.ProcessState.ExitCode(), w.out.String())
				assert.True(t, st.Settled(), "it ended on a settled status: %s", last)
			} else {
				assert.Positive(t, st.Summary().Counts.InFlight(), "a watch of a settled activation ends: %s", last)
				t.Logf("messages still in flight 20 s after the stand-down; the watch rightly waits: %s", last)
			}
		})
	}

	// Stood down within seconds: every checkpoint is final, and none was
	// reached before the stand-down, which the board and status say.
	out, err = runBoardCmd(t, addr, token, "table", id)
	require.NoError(t, err)
	assert.Regexp(t, `\n\* stood down at T\+[0-9.ms]+, before T\+5, T\+15, T\+30: the share counts the answers until the stand-down\n`, out)
	assert.Regexp(t, `\nTOTAL\s.*%\*\s+[0-9.]+%\*\s+[0-9.]+%\*\n`, out)
	assert.NotContains(t, out, "still counting")
	r = runCLI(t, env, "status", id)
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "T+30 ")
	assert.Contains(t, r.stdout, "* stood down at T+")

	// Usage and unknown activations fail with one line.
	oneLineError(t, runCLI(t, env, "status", "--watch"), 2, "--watch follows one activation")
	oneLineError(t, runCLI(t, env, "status", "A999999", "--watch"), 1, "does not exist")
	oneLineError(t, runCLI(t, env, "status", id, "--grids", "-1"), 2, "--grids")
}

// waitOutputLines polls a process's output until it has at least n lines.
func waitOutputLines(t *testing.T, p *proc, n int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var lines []string
		sc := bufio.NewScanner(strings.NewReader(p.out.String()))
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" {
				lines = append(lines, l)
			}
		}
		if len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s printed %d lines, want %d, within %v:\n%s", p.name, len(lines), n, timeout, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fakeEvents serves scripted event streams: each connection gets the next
// script, whose statuses are sent in order; a script that ends open keeps
// the connection until the client leaves.
type fakeEvents struct {
	mu      sync.Mutex
	scripts [][]string // event data; "" ends the script by closing the stream
	conns   int
}

func (f *fakeEvents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/A000007/events") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"code":"not_found","message":"activation A404 does not exist"}}`)
		return
	}
	f.mu.Lock()
	script := f.scripts[min(f.conns, len(f.scripts)-1)]
	f.conns++
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/event-stream")
	for _, data := range script {
		if data == "" {
			return
		}
		name := "status"
		if strings.HasPrefix(data, `{"error"`) {
			name = "error"
		}
		fmt.Fprintf(w, ": heartbeat\n\nevent: %s\ndata: %s\n\n", name, data)
		w.(http.Flusher).Flush()
	}
	<-r.Context().Done()
}

func statusJSON(t *testing.T, s notify.Status, by map[notify.State]int) string {
	st := sampleStatus()
	st.Status = s
	st.Counters.ByState = by
	b, err := json.Marshal(st)
	require.NoError(t, err)
	return string(b)
}

// TestWatchFollowsTheStream runs the watcher against scripted streams: it
// reconnects when a stream drops, ends on a settled status, stops on
// Ctrl-C, and reports errors.
func TestWatchFollowsTheStream(t *testing.T) {
	active := statusJSON(t, notify.StatusActive, map[notify.State]int{notify.StatePending: 40})
	inFlight := statusJSON(t, notify.StatusStoodDown, map[notify.State]int{notify.StateSending: 1, notify.StateDelivered: 39})
	settled := statusJSON(t, notify.StatusStoodDown, map[notify.State]int{notify.StateDelivered: 40})
	run := func(t *testing.T, f *fakeEvents, id string, ctx context.Context) (string, error) {
		srv := httptest.NewServer(f)
		t.Cleanup(srv.Close)
		var out bytes.Buffer
		c := &client{g: &globals{addr: srv.URL, output: "table"}, http: &http.Client{}, out: &out, err: io.Discard}
		w := &watcher{out: &out, now: func() time.Time { return statusT0.Add(time.Minute) }}
		done := make(chan error, 1)
		go func() { done <- w.run(ctx, c, id) }()
		select {
		case err := <-done:
			return out.String(), err
		case <-time.After(15 * time.Second):
			t.Fatal("the watch did not end")
			return "", nil
		}
	}

	t.Run("reconnects and ends when settled", func(t *testing.T) {
		f := &fakeEvents{scripts: [][]string{{active, ""}, {inFlight, settled}}}
		out, err := run(t, f, "A000007", context.Background())
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 3, out)
		assert.Contains(t, lines[0], "status=active")
		assert.Contains(t, lines[1], "status=stood_down")
		assert.Contains(t, lines[1], "sending=1")
		assert.Contains(t, lines[2], "delivered=40")
		f.mu.Lock()
		assert.Equal(t, 2, f.conns, "one reconnection")
		f.mu.Unlock()
	})
	t.Run("waits while the request awaits approval", func(t *testing.T) {
		// A LIVE request at level II: nobody is called yet, so its counts
		// are all zero, which must not read as settled; it has no start.
		st := sampleStatus()
		st.Purpose, st.Level, st.Status, st.Recipients = notify.PurposeLive, "II", notify.StatusPendingApproval, 0
		st.ApprovalsRequired, st.ApprovalDeadline = 2, statusT0.Add(30*time.Minute)
		st.Counters = notify.Counters{}
		b, err := json.Marshal(st)
		require.NoError(t, err)
		pending := string(b)
		approved := sampleStatus()
		approved.StartedAt = statusT0.Add(20 * time.Second)
		approved.Counters.ByState = map[notify.State]int{notify.StatePending: 40}
		b, err = json.Marshal(approved)
		require.NoError(t, err)
		f := &fakeEvents{scripts: [][]string{{pending, string(b), settled}}}
		out, err := run(t, f, "A000007", context.Background())
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 3, "it waits for the approval, then follows the call-up until it is settled:\n%s", out)
		assert.True(t, strings.HasPrefix(lines[0], "T+0s status=pending_approval recipients=0 "), "no time has passed in a call-up that has not started: %s", lines[0])
		assert.Contains(t, lines[0], " approvals=1/2 approve_by="+st.ApprovalDeadline.Format(time.RFC3339))
		assert.True(t, strings.HasPrefix(lines[1], "T+40s status=active recipients=40 pending=40 "), lines[1])
		assert.Contains(t, lines[2], "delivered=40")

		w := &watcher{out: io.Discard, now: func() time.Time { return statusT0.Add(time.Minute) }, tty: true}
		w.update(st, nil)
		screen := w.frame(statusT0.Add(time.Minute))
		assert.Contains(t, screen, "— pending_approval, T+0s\n")
		assert.Contains(t, screen, "awaiting approval (1 of 2) until "+localTime(st.ApprovalDeadline)+"; nothing is sent yet")
		assert.NotContains(t, screen, "2562047h")
	})
	t.Run("Ctrl-C stops it", func(t *testing.T) {
		f := &fakeEvents{scripts: [][]string{{active}}}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(300*time.Millisecond, cancel)
		out, err := run(t, f, "A000007", ctx)
		require.NoError(t, err)
		assert.Contains(t, out, "status=active")
	})
	t.Run("an unknown activation", func(t *testing.T) {
		_, err := run(t, &fakeEvents{}, "A404", context.Background())
		var ae *apiError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, http.StatusNotFound, ae.Status)
		assert.Contains(t, err.Error(), "does not exist")
	})
	t.Run("an error event", func(t *testing.T) {
		f := &fakeEvents{scripts: [][]string{{active, `{"error":{"code":"internal","message":"internal error; see the log"}}`}}}
		out, err := run(t, f, "A000007", context.Background())
		assert.ErrorContains(t, err, "internal error")
		assert.Contains(t, out, "status=active")
	})
}

// rawServer accepts TCP connections on loopback and hands each, with its
// number from 0, to handle in a goroutine of its own. Cleanup closes the
// listener and every connection and waits for the goroutines. conns counts
// the connections accepted.
type rawServer struct {
	ln    net.Listener
	mu    sync.Mutex
	open  []net.Conn
	conns int
	wg    sync.WaitGroup
}

func newRawServer(t *testing.T, handle func(i int, conn net.Conn)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &rawServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			i := s.conns
			s.conns++
			s.open = append(s.open, conn)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				handle(i, conn)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.open {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *rawServer) accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// hold reads and drops what the client sends until the connection closes:
// a server that never answers.
func hold(conn net.Conn) { io.Copy(io.Discard, conn) }

// answerHeaders reads the request and answers the headers of an event
// stream, then whatever events are given, each as a status event.
func answerHeaders(conn net.Conn, events ...string) error {
	if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
		return err
	}
	msg := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
	for _, data := range events {
		msg += "event: status\ndata: " + data + "\n\n"
	}
	_, err := io.WriteString(conn, msg)
	return err
}

// TestWatchGivesUpOnASilentServer: a server that accepts the connection and
// then says nothing (a frozen node, a half-open connection) is taken as
// dead after the idle time, so the watch reconnects and gives up once no
// connection has worked for the give-up time, whether it never answered,
// answered only headers, or went silent mid-stream. Heartbeats keep a quiet
// stream alive.
func TestWatchGivesUpOnASilentServer(t *testing.T) {
	const (
		idle   = 300 * time.Millisecond
		retry  = 50 * time.Millisecond
		giveUp = time.Second
		bound  = 15 * time.Second // far above idle+giveUp+retry; the old code never returned
	)
	active := statusJSON(t, notify.StatusActive, map[notify.State]int{notify.StatePending: 40})
	settled := statusJSON(t, notify.StatusStoodDown, map[notify.State]int{notify.StateDelivered: 40})
	run := func(t *testing.T, addr string) (string, error, time.Duration) {
		t.Helper()
		var out bytes.Buffer
		c := &client{g: &globals{addr: addr, output: "table"}, http: &http.Client{}, out: &out, err: io.Discard}
		w := &watcher{out: &out, now: func() time.Time { return statusT0.Add(time.Minute) }, idle: idle, retry: retry, giveUp: giveUp}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- w.run(ctx, c, "A000007") }()
		select {
		case err := <-done:
			return out.String(), err, time.Since(start)
		case <-time.After(bound):
			cancel()
			<-done
			t.Fatalf("the watch of a silent server did not end within %v", bound)
			return "", nil, 0
		}
	}

	for _, tc := range []struct {
		name   string
		handle func(i int, conn net.Conn)
		shown  string // a status the watch showed before the server went silent
	}{
		{"accepts and never answers", func(_ int, conn net.Conn) { hold(conn) }, ""},
		{"answers headers then nothing", func(_ int, conn net.Conn) {
			if answerHeaders(conn) == nil {
				hold(conn)
			}
		}, ""},
		{"goes silent mid-stream", func(i int, conn net.Conn) {
			if i == 0 && answerHeaders(conn, active) != nil {
				return
			}
			hold(conn)
		}, "status=active"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRawServer(t, tc.handle)
			out, err, took := run(t, "http://"+srv.ln.Addr().String())
			require.Error(t, err)
			assert.Contains(t, err.Error(), "sent nothing for "+idle.String())
			assert.GreaterOrEqual(t, took, giveUp, "it tries for the give-up time")
			assert.GreaterOrEqual(t, srv.accepted(), 2, "it reconnects before giving up")
			if tc.shown != "" {
				assert.Contains(t, out, tc.shown)
			}
		})
	}

	t.Run("heartbeats keep a quiet stream", func(t *testing.T) {
		srv := newRawServer(t, func(i int, conn net.Conn) {
			if i > 0 || answerHeaders(conn, active) != nil {
				hold(conn)
				return
			}
			// Quiet for four idle times, with a heartbeat each third of one.
			for range 12 {
				time.Sleep(idle / 3)
				if _, err := io.WriteString(conn, ": heartbeat\n\n"); err != nil {
					return
				}
			}
			if _, err := io.WriteString(conn, "event: status\ndata: "+settled+"\n\n"); err != nil {
				return
			}
			hold(conn)
		})
		out, err, _ := run(t, "http://"+srv.ln.Addr().String())
		require.NoError(t, err)
		assert.Contains(t, out, "status=active")
		assert.Contains(t, out, "delivered=40")
		assert.Equal(t, 1, srv.accepted(), "one connection, never taken as dead")
	})
}

// The escalation table lists each step's items and the recipients who
// wait for the step on clocks of their own.
func TestEscalationRendering(t *testing.T) {
	var out bytes.Buffer
	printEscalation(&out, []notify.EscalationStepStatus{
		{Index: 0, After: plans.Duration(5 * time.Minute), Do: plans.EscalateVoice, Due: statusT0.Add(5 * time.Minute), FiredAt: statusT0.Add(5 * time.Minute),
			Items: map[string]int{notify.EscSent: 12, notify.EscFailed: 1}},
		{Index: 1, After: plans.Duration(10 * time.Minute), Do: plans.EscalateSuperior, Due: statusT0.Add(10 * time.Minute), Items: map[string]int{}, Waiting: 7},
		{Index: 2, After: plans.Duration(15 * time.Minute), Do: plans.EscalateSMS, Due: statusT0.Add(15 * time.Minute), FiredAt: statusT0.Add(15 * time.Minute),
			Items: map[string]int{notify.EscQueued: 9, notify.EscSent: 3}, Retrying: 9},
	})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 4)
	assert.Contains(t, lines[1], "sent 12, failed 1")
	assert.Regexp(t, `T\+10m0s +superior .* - +7 waiting on own clock$`, lines[2])
	assert.Contains(t, lines[3], "queued 9 (9 retrying), sent 3", "the provider down: queued to be tried again")
}

// A list says what became of an activation: retracted (and its
// correction), a correction (and what it corrects), a drill a LIVE
// call-up stopped.
func TestStatusLabel(t *testing.T) {
	assert.Equal(t, "active", statusLabel(notify.Activation{Status: notify.StatusActive}))
	assert.Equal(t, "retracted (correction A000005)", statusLabel(notify.Activation{Status: notify.StatusStoodDown, Retraction: &notify.Retraction{Correction: "A000005"}}))
	assert.Equal(t, "active (correction of A000003)", statusLabel(notify.Activation{Status: notify.StatusActive, Retracts: "A000003"}))
	assert.Equal(t, "stood_down (by LIVE A000018)", statusLabel(notify.Activation{Status: notify.StatusStoodDown, StoppedBy: "A000018"}))
	assert.Equal(t, "stood_down (correction of A000003, forced: calls still ringing read nothing)",
		statusLabel(notify.Activation{Status: notify.StatusStoodDown, Retracts: "A000003", Forced: true}))
}

// The status says how many SMS a leader that stopped handed back unsent
// (the next leader sends each once), and says nothing of it when none
// were.
func TestStatusSaysWhatAStoppedLeaderHandedBack(t *testing.T) {
	render := func(st notify.ActivationStatus) string {
		var out bytes.Buffer
		w := newTable(&out)
		printStatus(w, st, sampleBoard(), 1)
		require.NoError(t, w.Flush())
		return out.String()
	}
	st := sampleStatus()
	assert.NotContains(t, render(st), "handed back")
	st.Counters.Dispatch = map[string]int{"released": 355}
	assert.Contains(t, render(st), "handed back unsent by a leader that stopped, for the next to send once: 355 SMS\n")
}

// The list of activations counts the recipients a stopped call-up never
// sent as not sent, as the status of that one activation does, and those
// of an active one as pending.
func TestStatusListSaysNotSent(t *testing.T) {
	stopped := sampleStatus()
	stopped.Status = notify.StatusStoodDown
	pending := stopped.Summary().Counts.Pending
	require.Positive(t, pending)
	active := sampleStatus()
	active.ID = "A000008"
	api := fakeAPI{
		"GET /api/v1/activations":         map[string]any{"items": []notify.Activation{stopped.Activation, active.Activation}},
		"GET /api/v1/activations/A000007": stopped,
		"GET /api/v1/activations/A000008": active,
	}
	out := mustRunOnFake(t, api, "status")
	assert.Regexp(t, `A000007 .* stood_down +\d+ +`+strconv.Itoa(pending)+` not sent +\d`, out)
	assert.Regexp(t, `A000008 .* active +\d+ +`+strconv.Itoa(pending)+` +\d`, out)
	assert.NotContains(t, strings.SplitN(out, "\n", 3)[2], "not sent", "the active one's are pending")

	// The watch screen of a stopped call-up says so too.
	w := &watcher{now: func() time.Time { return statusT0.Add(time.Minute) }}
	w.last = &stopped
	assert.Contains(t, w.frame(statusT0.Add(time.Minute)), fmt.Sprintf("not sent %d  sending", pending))
	w.last = &active
	assert.Contains(t, w.frame(statusT0.Add(time.Minute)), fmt.Sprintf("pending %d  sending", pending))
}

// The board of a retracted call-up says so, with its correction, as muster
// status does: its status alone says stood_down.
func TestBoardOfARetractedCallUp(t *testing.T) {
	b := sampleBoard()
	b.Status = notify.StatusStoodDown
	b.Retraction = &notify.Retraction{Correction: "A000009"}
	var out bytes.Buffer
	w := newTable(&out)
	printBoard(w, b, "code", 0)
	require.NoError(t, w.Flush())
	assert.Contains(t, out.String(), "— retracted (correction A000009), T+")
}

// A call-up stood down at T+9s and watched at T+29s: the watch screen and
// line stop its clock at the stand-down and call its checkpoints final
// (cut), as muster status does of the same call-up, instead of running on
// to T+29s with checkpoints "still counting".
func TestWatchOfAStoodDownCallUp(t *testing.T) {
	stoodDown := statusT0.Add(9 * time.Second)
	now := statusT0.Add(29 * time.Second)
	st := sampleStatus()
	st.Status, st.StoodDownAt, st.StartedAt = notify.StatusStoodDown, stoodDown, statusT0
	st.Counters.AckBy = map[plans.RegionCode]map[int]int{"990101001001001": {5: 3, 15: 3, 30: 3}, "990101001001002": {5: 4, 15: 4, 30: 4}}

	// What muster status says of it, from the board the server sends.
	b := sampleBoard()
	b.Status, b.StoodDownAt = st.Status, stoodDown
	for i, m := range b.Checkpoints {
		b.Total.AckBy[i] = notify.AckBy{Minutes: m, Acked: 7, Pct: notify.Percent(7, 40)}
	}
	b = b.At(now)
	var static bytes.Buffer
	tw := newTable(&static)
	printStatus(tw, st, b, 1)
	require.NoError(t, tw.Flush())
	require.Contains(t, static.String(), "— stood_down, T+9s\n")
	require.Contains(t, static.String(), "T+5 17.5%*  T+15 17.5%*  T+30 17.5%*\n")

	w := &watcher{out: io.Discard, now: func() time.Time { return now }, tty: true}
	w.update(st, nil)
	screen := w.frame(now)
	assert.Contains(t, screen, "— stood_down, T+9s\n", "the clock stops at the stand-down")
	assert.Contains(t, screen, "\nT+5 17.5%*  T+15 17.5%*  T+30 17.5%*\n", "final, cut by the stand-down, as muster status says")
	assert.Contains(t, screen, "* stood down at T+9s, before T+5, T+15, T+30: the share counts the answers until the stand-down\n")
	assert.NotContains(t, screen, "…", "nothing is still counting")
	assert.Contains(t, screen, "报到 % over time, T+0 to T+9s\n")
	assert.NotContains(t, screen, "T+29s")
	assert.Contains(t, screen, "watching since after the stand-down;", "the watch began at T+29s, not T+9s")

	var line bytes.Buffer
	w = &watcher{out: &line, now: func() time.Time { return now }}
	w.update(st, nil)
	assert.True(t, strings.HasPrefix(line.String(), "T+9s status=stood_down "), line.String())

	// While it was active, at T+6s, the clock ran and every checkpoint
	// was still counting.
	active := st
	active.Status, active.StoodDownAt = notify.StatusActive, time.Time{}
	w.last = &active
	screen = w.frame(statusT0.Add(6 * time.Second))
	assert.Contains(t, screen, "— active, T+6s\n")
	assert.Contains(t, screen, "\nT+5 17.5%…  T+15 17.5%…  T+30 17.5%…\n")
	assert.NotContains(t, screen, "stood down at")
}

// A request that never started (withdrawn before approval, rejected, or
// not approved in time) called nobody: status, board and watch say so,
// with no T+ and no checkpoints, instead of reading like a call-up stood
// down at T+0s or still counting; the list shows — for its 报到 share, and
// for a correction's, which takes no answers.
func TestNeverStartedRequests(t *testing.T) {
	request := func(s notify.Status) notify.ActivationStatus {
		st := sampleStatus()
		st.Purpose, st.Level, st.Status, st.Recipients = notify.PurposeLive, "II", s, 0
		st.ApprovalsRequired, st.ApprovalDeadline = 2, statusT0.Add(30*time.Minute)
		st.Counters = notify.Counters{}
		if s == notify.StatusStoodDown {
			st.StoodDownAt = statusT0.Add(2 * time.Minute)
		}
		return st
	}
	now := statusT0.Add(40 * time.Minute)
	for _, tc := range []struct {
		status notify.Status
		want   string
		board  string // the board does not carry the approval deadline
	}{
		{notify.StatusStoodDown, "— stood_down, never started (withdrawn before approval): nothing was sent\n", ""},
		{notify.StatusRejected, "— rejected, never started (rejected): nothing was sent\n", ""},
		{notify.StatusApprovalExpired, "— approval_expired, never started (nobody approved it by " + localTime(statusT0.Add(30*time.Minute)) + "): nothing was sent\n",
			"— approval_expired, never started (not approved in time): nothing was sent\n"},
	} {
		t.Run(string(tc.status), func(t *testing.T) {
			st := request(tc.status)
			b := notify.Board{Activation: st.ID, Status: st.Status, StoodDownAt: st.StoodDownAt, Checkpoints: []int{5, 15, 30},
				Total: notify.BoardRow{AckBy: []notify.AckBy{{Minutes: 5}, {Minutes: 15}, {Minutes: 30}}}, Regions: []notify.BoardRow{}, Grids: []notify.BoardRow{}}
			b = b.At(now)

			// muster status (no escalation is asked for: none ever ran).
			api := fakeAPI{
				"GET /api/v1/activations/A000007": struct {
					notify.ActivationStatus
					Board notify.Board `json:"board"`
				}{st, b},
				"GET /api/v1/activations/A000007/escalation": map[string]any{"items": []notify.EscalationStepStatus{
					{Index: 0, After: plans.Duration(3 * time.Minute), Do: plans.EscalateVoice, Items: map[string]int{}}}},
			}
			out := mustRunOnFake(t, api, "status", "A000007")
			assert.Contains(t, out, tc.want)
			for _, not := range []string{"T+", "…", "*", "报到", "ROLE", "ESCALATION"} {
				assert.NotContains(t, out, not, "no clock, checkpoints or zero tables:\n%s", out)
			}

			// muster board.
			var board bytes.Buffer
			printBoard(&board, b, "code", 0)
			assert.Equal(t, "board of A000007 "+cmp.Or(tc.board, tc.want), board.String())

			// muster status --watch, on a terminal and on a pipe.
			var line bytes.Buffer
			w := &watcher{out: &line, now: func() time.Time { return now }}
			w.update(st, nil)
			assert.True(t, strings.HasPrefix(line.String(), "never_started status="+string(tc.status)+" recipients=0 "), line.String())
			screen := w.frame(now)
			assert.Contains(t, screen, tc.want)
			assert.NotContains(t, screen, "T+")
		})
	}

	// The list: — where there is nothing to count.
	correction := sampleStatus()
	correction.ID, correction.Retracts, correction.Status = "A000009", "A000008", notify.StatusStoodDown
	correction.StartedAt = statusT0
	withdrawn := request(notify.StatusStoodDown)
	withdrawn.ID = "A000010"
	active := sampleStatus()
	active.ID = "A000008"
	api := fakeAPI{
		"GET /api/v1/activations":         map[string]any{"items": []notify.Activation{active.Activation, correction.Activation, withdrawn.Activation}},
		"GET /api/v1/activations/A000008": active,
		"GET /api/v1/activations/A000009": correction,
		"GET /api/v1/activations/A000010": withdrawn,
	}
	out := mustRunOnFake(t, api, "status")
	assert.Regexp(t, `\nA000008 .* 50\.0% `, out)
	assert.Regexp(t, `\nA000009 .* — `, out, "a correction takes no answers")
	assert.Regexp(t, `\nA000010 .* 0 +0 +0 +0 +0 +0 +0 +0 +0 +— `, out, "a withdrawn request called nobody")
	assert.NotRegexp(t, `\s0\.0%`, out)
}
