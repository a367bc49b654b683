package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
)

// logBuffer collects a node's log; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A node without a cluster key (muster dev) takes no raft connection at all,
// and says so once however many come. (The entry sent does not decode: had
// raft taken it, the node would have stopped at applying it.)
func TestANodeWithoutAClusterKeyTakesNoRaftConnection(t *testing.T) {
	var logs logBuffer
	c := clustertest.New(t, 1, clustertest.Options{Setup: kv, Config: func(i int, cfg *cluster.Config) {
		cfg.ClusterKey = ""
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	}})
	n := c.Leader().Node
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, put(ctx, n, "before", "1"))
	before := n.Status()
	for range 2 {
		_, err := attack(t, n.RaftAddr(), before.Term, before.LastLogIndex, []byte{0xff, 0x00})
		assert.Error(t, err)
	}
	after := n.Status()
	assert.Equal(t, before.Term, after.Term, "term: raft took no entry from a higher term")
	assert.True(t, n.IsLeader())
	require.NoError(t, put(ctx, n, "after", "2"))
	assert.Equal(t, 1, strings.Count(logs.String(), "this node has no cluster key, so it takes no raft connections"), logs.String())
	assert.Equal(t, 2.0, refusedCounter(t, n), "muster_raft_connections_refused_total")
}

// refusedCounter reads muster_raft_connections_refused_total of n.
func refusedCounter(t *testing.T, n *cluster.Node) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(n.Collector()))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "muster_raft_connections_refused_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no muster_raft_connections_refused_total")
	return 0
}

// A node restarted with another cluster key can neither follow nor disturb
// the others: their raft handshakes fail both ways, so it misses the writes
// the two others commit, knows no leader, leaves the leader's term as it
// was, and is not ready, naming the key. Both ends log why. With
// the right key again it catches up.
func TestANodeWithAnotherClusterKeyCannotFollow(t *testing.T) {
	o := newOddOneOut(t, func(cfg *cluster.Config) { cfg.ClusterKey = "a-mistyped-key" })
	c := o.c
	leader := c.Leader()
	term := leader.Node.Status().Term
	m := c.Followers()[0]
	o.restart(m, true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, put(ctx, leader.Node, "while-wrong", "1"))
	idx := leader.Node.FSM().AppliedIndex()

	var why string
	require.Eventually(t, func() bool {
		var ok bool
		ok, why = m.Node.Ready(100)
		return !ok && strings.Contains(why, "another cluster key than this node")
	}, 20*time.Second, 50*time.Millisecond)
	assert.Contains(t, why, "set the cluster's --cluster-key (MUSTER_CLUSTER_KEY)")
	id, _ := m.Node.Leader()
	assert.Empty(t, id, "it knows no leader")
	assert.Less(t, m.Node.FSM().AppliedIndex(), idx, "it does not get the write")
	assert.True(t, leader.Node.IsLeader(), "the leader still leads")
	assert.Equal(t, term, leader.Node.Status().Term, "at the same term")
	ok, _ := leader.Node.Ready(100)
	assert.True(t, ok, "the leader stays ready")
	// The node with the wrong key may learn it first from its own dial
	// (it measures the members' clocks at once): the leader's raft dials
	// it again within its backoff.
	assert.Eventually(t, func() bool {
		return strings.Contains(o.log(leader), "the peer does not hold this node's cluster key")
	}, 20*time.Second, 50*time.Millisecond, "the leader's log:\n%s", o.log(leader))
	assert.Contains(t, o.log(m), "the peer does not hold this node's cluster key")

	// With the key set right again, it catches up and is ready.
	o.restart(m, false)
	c.WaitApplied(idx, 20*time.Second)
	require.Eventually(t, func() bool { ok, _ = m.Node.Ready(100); return ok }, 20*time.Second, 50*time.Millisecond)
}

// A rolling upgrade from a muster without the raft handshake: three nodes
// that speak raft as it did, then each restarted with the handshake in
// transition mode, then each in required mode, one at a time with writes
// through every node between. Every node has every write at each step,
// whichever leads: old and transition nodes hear each other both ways.
func TestRollingUpgradeToTheRaftHandshake(t *testing.T) {
	var mu sync.Mutex
	legacy := map[int]bool{0: true, 1: true, 2: true}
	mode := map[int]cluster.RaftAuth{}
	var logs logBuffer
	c := clustertest.New(t, 3, clustertest.Options{Setup: kv, Config: func(i int, cfg *cluster.Config) {
		mu.Lock()
		defer mu.Unlock()
		if legacy[i] {
			cluster.SpeakLegacyRaft(cfg)
		}
		cfg.RaftAuth = mode[i]
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	}})
	step := 0
	writeEverywhere := func(stage string) {
		t.Helper()
		c.WaitLeader(20 * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for _, m := range c.Nodes {
			step++
			k := fmt.Sprintf("%s-%d", stage, step)
			require.NoError(t, put(ctx, m.Node, k, stage), "%s: write through %s", stage, m.Node.ID())
		}
		c.WaitApplied(c.Leader().Node.FSM().AppliedIndex(), 20*time.Second)
		for _, m := range c.Nodes {
			v, ok, err := lookup(m.Node, muster.Stale, fmt.Sprintf("%s-%d", stage, step))
			require.NoError(t, err)
			assert.True(t, ok && v == stage, "%s: %s has the write", stage, m.Node.ID())
		}
	}
	writeEverywhere("legacy")
	// Upgrade the leader first and last in turn: each restart hands
	// leadership to another node, old or new.
	restart := func(m *clustertest.Member, set func()) {
		c.Stop(m)
		mu.Lock()
		set()
		mu.Unlock()
		c.Restart(m)
	}
	for _, m := range c.Nodes {
		restart(m, func() { legacy[m.Index] = false; mode[m.Index] = cluster.RaftAuthTransition })
		writeEverywhere("transition-" + m.Node.ID())
	}
	// Transition nodes took connections without the handshake, and dialled
	// old nodes without it.
	assert.Contains(t, logs.String(), "raft connection without the handshake taken")
	assert.Contains(t, logs.String(), "raft peer without the handshake: dialled without it")
	for _, m := range c.Nodes {
		restart(m, func() { mode[m.Index] = cluster.RaftAuthRequired })
		writeEverywhere("required-" + m.Node.ID())
	}
	// Upgraded, the cluster refuses raft without the handshake.
	n := c.Leader().Node
	st := n.Status()
	_, err := attack(t, n.RaftAddr(), st.Term, st.LastLogIndex, []byte{0xff, 0x00})
	assert.Error(t, err)
	assert.Equal(t, st.Term, n.Status().Term)
}

// In required mode a node and a muster without the handshake do not talk:
// an old node among new ones gets no writes and disturbs no one, and both
// sides of each failed connection say why.
func TestRequiredModeRefusesALegacyPeer(t *testing.T) {
	o := newOddOneOut(t, cluster.SpeakLegacyRaft)
	c := o.c
	leader := c.Leader()
	term := leader.Node.Status().Term
	old := c.Followers()[0]
	o.restart(old, true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, put(ctx, leader.Node, "new-only", "1"))
	idx := leader.Node.FSM().AppliedIndex()
	var leaderLog, otherLog string
	other := c.Followers()[0]
	if other == old {
		other = c.Followers()[1]
	}
	require.Eventually(t, func() bool {
		leaderLog, otherLog = o.log(leader), o.log(other)
		return strings.Contains(leaderLog, "it runs a muster without the handshake") &&
			strings.Contains(leaderLog+otherLog, "it did not open with muster's raft handshake")
	}, 20*time.Second, 50*time.Millisecond, "leader:\n%s\nother:\n%s", leaderLog, otherLog)
	id, _ := old.Node.Leader()
	assert.Empty(t, id, "the old node knows no leader")
	assert.Less(t, old.Node.FSM().AppliedIndex(), idx, "the old node does not get the write")
	assert.True(t, leader.Node.IsLeader(), "the leader still leads")
	assert.Equal(t, term, leader.Node.Status().Term, "at the same term")
}

// oddOneOut is a 3-node cluster with the kv commands whose members each log
// into a buffer and can be restarted with a configuration of their own
// (odd: another key, raft as an older muster speaks it).
type oddOneOut struct {
	c    *clustertest.Cluster
	mu   sync.Mutex
	odd  map[int]bool
	logs map[int]*logBuffer
}

func newOddOneOut(t *testing.T, odd func(cfg *cluster.Config)) *oddOneOut {
	o := &oddOneOut{odd: map[int]bool{}, logs: map[int]*logBuffer{}}
	o.c = clustertest.New(t, 3, clustertest.Options{Setup: kv, Config: func(i int, cfg *cluster.Config) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.odd[i] {
			odd(cfg)
		}
		o.logs[i] = &logBuffer{}
		cfg.Logger = slog.New(slog.NewTextHandler(o.logs[i], nil))
	}})
	return o
}

// restart stops m and starts it again, odd or not.
func (o *oddOneOut) restart(m *clustertest.Member, odd bool) {
	o.c.Stop(m)
	o.mu.Lock()
	o.odd[m.Index] = odd
	o.mu.Unlock()
	o.c.Restart(m)
}

// log is what m has logged since it last started.
func (o *oddOneOut) log(m *clustertest.Member) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.logs[m.Index].String()
}
