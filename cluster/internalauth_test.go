package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster"
	"muster/cluster/clustertest"
)

// wire records the bytes nodes write on the connections they dial, while on.
type wire struct {
	mu  sync.Mutex
	on  bool
	buf bytes.Buffer
}

func (w *wire) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &tapped{Conn: c, w: w}, nil
}

func (w *wire) record(on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.on = on
	w.buf.Reset()
}

func (w *wire) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

type tapped struct {
	net.Conn
	w *wire
}

func (c *tapped) Write(p []byte) (int, error) {
	c.w.mu.Lock()
	if c.w.on {
		c.w.buf.Write(p)
	}
	c.w.mu.Unlock()
	return c.Conn.Write(p)
}

// A rolling upgrade from a muster that sent the cluster key in a header of
// every node-to-node request to one that signs them: writes go through
// every node after each restart; once every member signs, the key is on
// no connection any node opens, and a request that carries it instead of
// a signature is refused.
func TestNodeToNodeRequestsStopCarryingTheKey(t *testing.T) {
	var mu sync.Mutex
	older := map[int]bool{0: true, 1: true, 2: true}
	w := &wire{}
	c := clustertest.New(t, 3, clustertest.Options{Setup: kv, Config: func(i int, cfg *cluster.Config) {
		mu.Lock()
		defer mu.Unlock()
		cfg.Dial = w.dial
		if older[i] {
			cluster.SpeakLegacyInternalAuth(cfg)
		} else {
			cfg.Rules = cluster.SignedOnlyRules
		}
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	writes := 0
	throughEach := func(when string) {
		t.Helper()
		c.WaitLeader(15 * time.Second)
		for _, m := range c.Nodes {
			writes++
			require.NoError(t, put(ctx, m.Node, fmt.Sprintf("k%d", writes), "v"), "%s: a write through node%d", when, m.Index)
		}
	}
	throughEach("all older")
	// The key travels as it did.
	w.record(true)
	throughEach("all older, recorded")
	assert.Contains(t, w.String(), clustertest.Key)
	w.record(false)

	upgradeEach(c, &mu, older, throughEach)
	// Every member's record says it signs: each node's rules rise.
	require.Eventually(t, func() bool {
		for _, m := range c.Nodes {
			if m.Node.Status().Rules < cluster.SignedOnlyRules {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond, "the members' rules reach signed requests")

	w.record(true)
	throughEach("all signing, recorded")
	sent := w.String()
	w.record(false)
	assert.Contains(t, sent, cluster.ClusterAuthHeader, "the forwarded writes were recorded")
	assert.NotContains(t, sent, clustertest.Key, "the cluster key is on no connection")

	// A request with the key in the clear is refused now.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Nodes[1].HTTPAddr+"/internal/v1/status", nil)
	require.NoError(t, err)
	req.Header.Set(cluster.ClusterKeyHeader, clustertest.Key)
	code, body := doInternal(t, req)
	assert.Equal(t, http.StatusForbidden, code)
	assert.Contains(t, body, "cluster key in the clear and no signature")
}

// A signed request is taken once: played again, changed on its way, signed
// with another key, or signed too far from the receiver's clock, it is
// refused, and the error says which.
func TestSignedNodeToNodeRequestsCannotBePlayedAgain(t *testing.T) {
	c := clustertest.New(t, 1, clustertest.Options{Setup: kv})
	addr := c.Nodes[0].HTTPAddr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	signed := func(key, path string, body []byte, at time.Time) *http.Request {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, addr+path, bytes.NewReader(body))
		require.NoError(t, err)
		cluster.SignInternal(key, req, body, at)
		return req
	}
	again := func(req *http.Request, body []byte) *http.Request {
		r2 := req.Clone(ctx)
		r2.Body = io.NopCloser(bytes.NewReader(body))
		return r2
	}

	req := signed(clustertest.Key, "/internal/v1/read-index", nil, time.Now())
	code, body := doInternal(t, again(req, nil))
	require.Equal(t, http.StatusOK, code, body)
	code, body = doInternal(t, again(req, nil))
	assert.Equal(t, http.StatusForbidden, code)
	assert.Contains(t, body, "played again")

	join := []byte(`{"id":"intruder","raft_addr":"127.0.0.1:1"}`)
	req = signed(clustertest.Key, "/internal/v1/join", join, time.Now())
	code, body = doInternal(t, again(req, bytes.Replace(join, []byte("127.0.0.1:1"), []byte("127.0.0.1:2"), 1)))
	assert.Equal(t, http.StatusForbidden, code)
	assert.Contains(t, body, "signature does not match")

	code, body = doInternal(t, signed("another-key", "/internal/v1/read-index", nil, time.Now()))
	assert.Equal(t, http.StatusForbidden, code)
	assert.Contains(t, body, "signed with another cluster key")

	code, body = doInternal(t, signed(clustertest.Key, "/internal/v1/read-index", nil, time.Now().Add(-5*time.Minute)))
	assert.Equal(t, http.StatusForbidden, code)
	assert.Contains(t, body, "from this node's clock")
	assert.Contains(t, body, "(NTP)")

	assert.Len(t, c.Nodes[0].Node.Status().Servers, 1, "nobody joined")
}

func doInternal(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, strings.TrimSpace(string(b))
}
