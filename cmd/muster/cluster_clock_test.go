package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/api"
	"muster/cluster"
	"muster/cluster/clustertest"
)

// offClock is a node's clock: the system's, off by what the test sets.
type offClock struct{ off atomic.Int64 }

func (c *offClock) Now() time.Time { return time.Now().Add(time.Duration(c.off.Load())) }

// muster cluster status shows each member's clock against the addressed
// node's, and flags the one not to act on: from a member whose clock
// agrees, the member 30 minutes ahead (OFF, and a line saying what to do);
// from that member itself, its own clock, with why it holds.
func TestClusterStatusShowsAClockOff(t *testing.T) {
	clocks := []*offClock{{}, {}, {}}
	c := clustertest.New(t, 3, clustertest.Options{Config: func(i int, cfg *cluster.Config) { cfg.Clock = clocks[i] }})
	leader := c.WaitLeader(10 * time.Second)
	off := c.Followers()[0]
	clocks[off.Index].off.Store(int64(30 * time.Minute))
	require.Eventually(t, func() bool { return off.Node.ClockOff() != "" }, 20*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		for _, s := range leader.Node.Status().Servers {
			if s.ID == off.Node.ID() && s.ClockSkewed {
				return true
			}
		}
		return false
	}, 20*time.Second, 20*time.Millisecond)

	// /readyz says why the node whose clock is off is not ready; the
	// others are.
	readyz := func(n *cluster.Node) (int, string) {
		srv := httptest.NewServer(api.New(api.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, api.Deps{Cluster: n}).Handler())
		defer srv.Close()
		res, err := http.Get(srv.URL + "/readyz")
		require.NoError(t, err)
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(body)
	}
	code, body := readyz(off.Node)
	assert.Equal(t, http.StatusServiceUnavailable, code, body)
	assert.Regexp(t, `not ready: this node's clock is 30m0s ahead of the clocks of node\d, node\d .*fix its time \(NTP\)`, body)
	code, body = readyz(leader.Node)
	assert.Equal(t, http.StatusOK, code, body)

	// The CLI reads the cluster status from the node it is pointed at;
	// each of these answers with its node's own.
	statusOf := func(n *cluster.Node, args ...string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/api/v1/cluster/status" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(n.Status())
		}))
		defer srv.Close()
		r := runCLI(t, []string{"MUSTER_ADDR=" + srv.URL, "MUSTER_TOKEN=" + testAdminToken}, append([]string{"cluster", "status"}, args...)...)
		require.Zero(t, r.code, r.stderr)
		return r.stdout
	}
	row := func(out, id string) string {
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] == id {
				return strings.Join(f, " ")
			}
		}
		return ""
	}

	out := statusOf(leader.Node)
	assert.Contains(t, strings.Fields(row(out, "ID")), "CLOCK", out)
	assert.Contains(t, row(out, off.Node.ID()), " +30m0s OFF ", out)
	assert.Contains(t, row(out, leader.Node.ID()), " 0s ", out)
	assert.Contains(t, out, off.Node.ID()+"'s clock is 30m0s ahead of this node's, beyond the 10s the cluster tolerates: fix its time (NTP)", out)
	assert.NotContains(t, out, "CLOCK OFF:", out)

	out = statusOf(off.Node)
	assert.Regexp(t, `CLOCK OFF: this node's clock is 30m0s ahead of the clocks of node\d, node\d .*fix its time \(NTP\)`, out)
	assert.Contains(t, row(out, off.Node.ID()), " 0s OFF ", out)
	assert.Contains(t, row(out, leader.Node.ID()), " -30m0s ", out)
	assert.NotContains(t, row(out, leader.Node.ID()), "OFF", out)

	var st struct {
		ClockOff string `json:"clock_off"`
		Servers  []struct {
			ID            string `json:"id"`
			ClockOffsetMs *int64 `json:"clock_offset_ms"`
			ClockSkewed   bool   `json:"clock_skewed"`
		} `json:"servers"`
	}
	require.NoError(t, json.Unmarshal([]byte(statusOf(leader.Node, "-o", "json")), &st))
	assert.Empty(t, st.ClockOff)
	require.Len(t, st.Servers, 3)
	for _, s := range st.Servers {
		require.NotNil(t, s.ClockOffsetMs, s.ID)
		assert.Equal(t, s.ID == off.Node.ID(), s.ClockSkewed, s.ID)
		if s.ID == off.Node.ID() {
			assert.InDelta(t, (30 * time.Minute).Milliseconds(), *s.ClockOffsetMs, 1000)
		}
	}
}

// --clock-tolerance must stay inside the window in which the members take
// each other's requests: a node started with one beyond it is refused, as
// a usage error, before it starts.
func TestClockToleranceWithinTheRequestWindow(t *testing.T) {
	r := runCLI(t, nil, "dev", "--data-dir", t.TempDir(), "--http-addr", freePort(t), "--clock-tolerance", "3m")
	assert.Equal(t, exitUsage, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, "--clock-tolerance 3m0s: want 0 (not compared) or a duration under 2m")
}
