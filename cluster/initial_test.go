package cluster_test

import (
	"bytes"
	"context"
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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
)

// freePorts reserves n loopback ports and frees them for the caller.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
		defer ln.Close()
	}
	return ports
}

// nameNode makes a node that advertises raft as localhost:port (a name, as
// a StatefulSet's pods do) and serves its internal API.
func nameNode(t *testing.T, id, dir string, raftPort int, initial []cluster.NodeInfo) *cluster.Node {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	n, err := cluster.New(cluster.Config{
		NodeID: id, DataDir: dir,
		RaftBind:         "127.0.0.1:" + strconv.Itoa(raftPort),
		RaftAdvertise:    "localhost:" + strconv.Itoa(raftPort),
		HTTPAddr:         "http://" + ln.Addr().String(),
		InitialCluster:   initial,
		ClusterKey:       clustertest.Key,
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		RaftLog:          io.Discard,
		HeartbeatTimeout: time.Second, ElectionTimeout: time.Second, LeaderLeaseTimeout: 500 * time.Millisecond,
	})
	require.NoError(t, err)
	kv(0, n)
	srv := &http.Server{Handler: n.InternalHandler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		n.Close()
	})
	return n
}

// Three nodes started alike, each listing all three by name, form one
// cluster with no node going first and no join: the configuration holds
// the names. A fourth node, not listed, does not bootstrap a cluster of its
// own and joins the first.
func TestInitialClusterByName(t *testing.T) {
	ports := freePorts(t, 4)
	var initial []cluster.NodeInfo
	for i := range 3 {
		initial = append(initial, cluster.NodeInfo{ID: "m" + strconv.Itoa(i), RaftAddr: "localhost:" + strconv.Itoa(ports[i])})
	}
	dir := t.TempDir()
	nodes := make([]*cluster.Node, 3)
	for i := range nodes {
		nodes[i] = nameNode(t, initial[i].ID, filepath.Join(dir, initial[i].ID), ports[i], initial)
	}
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() { assert.NoError(t, n.Start()) })
	}
	wg.Wait()
	leader := waitForLeader(t, nodes, 15*time.Second)
	st := leader.Status()
	require.Len(t, st.Servers, 3)
	for i, s := range st.Servers {
		assert.Equal(t, initial[i].ID, s.ID)
		assert.Equal(t, initial[i].RaftAddr, s.RaftAddr, "the configuration keeps the name")
		assert.Equal(t, "Voter", s.Suffrage)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, n := range nodes { // through every node: followers forward to the leader
		require.NoError(t, put(ctx, n, "k-"+n.ID(), "v"))
	}

	extra := nameNode(t, "m3", filepath.Join(dir, "m3"), ports[3], initial)
	require.NoError(t, extra.Start())
	require.NoError(t, nodes[0].Join(ctx, cluster.NodeInfo{ID: "m3", RaftAddr: "localhost:" + strconv.Itoa(ports[3])}))
	require.Eventually(t, func() bool {
		v, ok, err := lookup(extra, muster.Stale, "k-m2")
		return err == nil && ok && v == "v"
	}, 15*time.Second, 20*time.Millisecond, "the joined node follows")
	assert.Len(t, leaderOf(nodes).Status().Servers, 4)
}

func TestInitialClusterRefusesAWrongOwnAddress(t *testing.T) {
	ports := freePorts(t, 1)
	initial := []cluster.NodeInfo{{ID: "m0", RaftAddr: "other-host:" + strconv.Itoa(ports[0])}}
	n := nameNode(t, "m0", t.TempDir(), ports[0], initial)
	err := n.Start()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "lists m0 at other-host")
}

func waitForLeader(t *testing.T, nodes []*cluster.Node, timeout time.Duration) *cluster.Node {
	t.Helper()
	var l *cluster.Node
	require.Eventually(t, func() bool { l = leaderOf(nodes); return l != nil }, timeout, 20*time.Millisecond, "no leader")
	return l
}

func leaderOf(nodes []*cluster.Node) *cluster.Node {
	for _, n := range nodes {
		if n.IsLeader() {
			return n
		}
	}
	return nil
}

// A restored backup starts a cluster of one node: under an initial cluster
// its state would be the snapshot of one member while the others bootstrap
// empty, and the two would agree on a log and differ in their state.
func TestInitialClusterRefusesARestoredBackup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	src := clustertest.New(t, 1, clustertest.Options{Setup: kv})
	require.NoError(t, put(ctx, src.Leader().Node, "k", "v"))
	var backup bytes.Buffer
	_, err := src.Leader().Node.FSM().Backup(&backup)
	require.NoError(t, err)

	ports := freePorts(t, 2)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "state.db"), backup.Bytes(), 0o600))
	initial := []cluster.NodeInfo{{ID: "m0", RaftAddr: "localhost:" + strconv.Itoa(ports[0])}, {ID: "m1", RaftAddr: "localhost:" + strconv.Itoa(ports[1])}}
	n := nameNode(t, "m0", dir, ports[0], initial)
	err = n.Start()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "start it with --bootstrap, then join the others")
}

// A node with no leader waits for one, whether or not it has a cluster key
// to forward with, and says at its deadline that no leader could be
// reached: a single node just started, or one that cannot write its raft
// log, is not missing a key.
func TestNoLeaderIsSaidAsSuch(t *testing.T) {
	ports := freePorts(t, 1)
	n, err := cluster.New(cluster.Config{NodeID: "lone", DataDir: t.TempDir(), RaftBind: "127.0.0.1:" + strconv.Itoa(ports[0]),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RaftLog: io.Discard})
	require.NoError(t, err)
	kv(0, n)
	require.NoError(t, n.Start())
	t.Cleanup(func() { n.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err = put(ctx, n, "k", "v")
	require.Error(t, err)
	assert.True(t, muster.IsCode(err, muster.ETimeout), "%v", err)
	assert.Contains(t, err.Error(), "no leader reachable")
}
