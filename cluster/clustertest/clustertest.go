// Package clustertest runs real muster clusters inside a test: real raft over
// loopback TCP, real bbolt files in t.TempDir(), and the node-to-node HTTP
// endpoints on real loopback listeners.
package clustertest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"muster/cluster"
)

// logTo takes the nodes' logs and raft's: nothing, unless
// MUSTER_TEST_LOG=1 sends them to the test process's stderr (to read what
// the nodes did in a failing run).
var logTo io.Writer = io.Discard

func init() {
	if os.Getenv("MUSTER_TEST_LOG") == "1" {
		logTo = os.Stderr
	}
}

// Key is the cluster key test clusters share.
const Key = "clustertest-key"

// Options tune a test cluster.
type Options struct {
	// Setup registers command handlers and leader services on each node
	// before it starts (also on restarts and on nodes added later).
	Setup func(i int, n *cluster.Node)
	// Config adjusts each node's configuration before it is created.
	Config func(i int, c *cluster.Config)
	// Handler wraps the node's HTTP surface; nil serves only the internal API.
	Handler func(i int, n *cluster.Node) http.Handler
}

// Cluster is a set of nodes under test.
type Cluster struct {
	t     testing.TB
	opts  Options
	mu    sync.Mutex
	Nodes []*Member
}

// Member is one node with its HTTP listener and files.
type Member struct {
	Index    int
	Node     *cluster.Node
	DataDir  string
	RaftAddr string // fixed across restarts
	HTTPAddr string // http://127.0.0.1:port, fixed across restarts
	srv      *http.Server
	alive    bool
}

// New starts n nodes: the first bootstraps, the others join through it, and
// it returns once all n are voters with a leader elected.
func New(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	c := &Cluster{t: t, opts: opts}
	t.Cleanup(c.Close)
	for i := 0; i < n; i++ {
		c.Add()
	}
	c.WaitLeader(10 * time.Second)
	return c
}

// Add starts a new node (bootstrapping if it is the first) and joins it.
func (c *Cluster) Add() *Member {
	c.t.Helper()
	c.mu.Lock()
	i := len(c.Nodes)
	m := &Member{Index: i, DataDir: filepath.Join(c.t.TempDir(), "node"+strconv.Itoa(i))}
	c.Nodes = append(c.Nodes, m)
	c.mu.Unlock()
	c.start(m, i == 0)
	if i > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		require.NoError(c.t, c.Nodes[0].Node.Join(ctx, cluster.NodeInfo{ID: m.Node.ID(), RaftAddr: m.RaftAddr, HTTPAddr: m.HTTPAddr, Rules: m.Node.Status().NodeRules}))
	}
	return m
}

func (c *Cluster) start(m *Member, bootstrap bool) {
	c.t.Helper()
	raftBind := "127.0.0.1:0"
	if m.RaftAddr != "" {
		raftBind = m.RaftAddr
	}
	httpBind := "127.0.0.1:0"
	if m.HTTPAddr != "" {
		httpBind = m.HTTPAddr[len("http://"):]
	}
	ln, err := listenRetry(httpBind)
	require.NoError(c.t, err)
	m.HTTPAddr = "http://" + ln.Addr().String()
	cfg := cluster.Config{
		NodeID:     "node" + strconv.Itoa(m.Index),
		DataDir:    m.DataDir,
		RaftBind:   raftBind,
		HTTPAddr:   m.HTTPAddr,
		Bootstrap:  bootstrap,
		ClusterKey: Key,
		Logger:     slog.New(slog.NewTextHandler(logTo, nil)).With("node", m.Index),
		RaftLog:    logTo,
		// Raft's defaults, twice muster's (cluster.DefaultHeartbeatTimeout):
		// tests share 2 cores with -race, and shorter timeouts let a starved
		// leader step down in the middle of a test's setup. Tests that
		// measure failover set muster's own through Options.Config.
		HeartbeatTimeout:   time.Second,
		ElectionTimeout:    time.Second,
		LeaderLeaseTimeout: 500 * time.Millisecond,
	}
	if c.opts.Config != nil {
		c.opts.Config(m.Index, &cfg)
	}
	node, err := cluster.New(cfg)
	require.NoError(c.t, err)
	if c.opts.Setup != nil {
		c.opts.Setup(m.Index, node)
	}
	require.NoError(c.t, startRetry(node))
	m.Node = node
	m.RaftAddr = node.RaftAddr()
	var h http.Handler = node.InternalHandler()
	if c.opts.Handler != nil {
		h = c.opts.Handler(m.Index, node)
	}
	m.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go m.srv.Serve(ln)
	m.alive = true
}

// listenRetry binds addr, retrying briefly when a just-closed port is still held.
func listenRetry(addr string) (net.Listener, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			return ln, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func startRetry(n *cluster.Node) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := n.Start()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Leader returns the member that leads now, or nil.
func (c *Cluster) Leader() *Member {
	for _, m := range c.Nodes {
		if m.alive && m.Node.IsLeader() {
			return m
		}
	}
	return nil
}

// Followers returns the live members that do not lead.
func (c *Cluster) Followers() []*Member {
	var out []*Member
	for _, m := range c.Nodes {
		if m.alive && !m.Node.IsLeader() {
			out = append(out, m)
		}
	}
	return out
}

// WaitLeader polls until a live member leads and every live member knows it.
func (c *Cluster) WaitLeader(timeout time.Duration) *Member {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if l := c.Leader(); l != nil {
			agreed := true
			for _, m := range c.Nodes {
				if m.alive {
					if id, _ := m.Node.Leader(); id != l.Node.ID() {
						agreed = false
					}
				}
			}
			if agreed {
				return l
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("no leader agreed on within %v", timeout)
	return nil
}

// Kill stops a member abruptly (no leadership transfer), keeping its files.
func (c *Cluster) Kill(m *Member) {
	m.srv.Close()
	m.Node.Kill()
	m.alive = false
}

// Stop shuts a member down gracefully, keeping its files.
func (c *Cluster) Stop(m *Member) {
	m.srv.Close()
	require.NoError(c.t, m.Node.Close())
	m.alive = false
}

// Restart starts a stopped member again from its files, at the same addresses.
func (c *Cluster) Restart(m *Member) {
	c.t.Helper()
	c.start(m, false)
}

// Restore starts a stopped member again as a new cluster of one over
// backup (a copy of a state file: Node.FSM().Backup), as an operator
// restores one: its data dir emptied, the backup placed as its state.db,
// and the node started with Bootstrap, at the same addresses.
func (c *Cluster) Restore(m *Member, backup []byte) {
	c.t.Helper()
	require.False(c.t, m.alive, "restore over a stopped member")
	require.NoError(c.t, os.RemoveAll(m.DataDir))
	require.NoError(c.t, os.MkdirAll(m.DataDir, 0o700))
	require.NoError(c.t, os.WriteFile(filepath.Join(m.DataDir, "state.db"), backup, 0o600))
	c.start(m, true)
}

// WaitApplied polls until every live member has applied index idx.
func (c *Cluster) WaitApplied(idx uint64, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		all := true
		for _, m := range c.Nodes {
			if m.alive && m.Node.FSM().AppliedIndex() < idx {
				all = false
			}
		}
		if all {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatalf("not every node applied index %d within %v", idx, timeout)
}

// Close stops every live member.
func (c *Cluster) Close() {
	for _, m := range c.Nodes {
		if m.alive {
			m.srv.Close()
			if err := m.Node.Close(); err != nil && !errors.Is(err, cluster.ErrShutdown) {
				c.t.Logf("close %s: %v", m.Node.ID(), err)
			}
			m.alive = false
		}
	}
}

// Clock is a clock a test moves by hand: give it to cluster.Config.Clock
// so the leader stamps commands with it, and to the services and leader
// services that read the time. Safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}
