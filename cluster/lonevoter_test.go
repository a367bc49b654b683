package cluster_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster"
	"muster/cluster/clustertest"
)

// A node that is the only voter of its cluster, new or restarted, leads at
// once: no other node can lead it, so it does not wait out a heartbeat
// timeout (here 10 s, so 10–20 s) for a leader's word. Its heartbeat
// timeout is as configured afterwards.
func TestALoneVoterLeadsAtOnce(t *testing.T) {
	dir := t.TempDir()
	const heartbeat = 10 * time.Second
	start := func() *cluster.Node {
		n, err := cluster.New(cluster.Config{
			NodeID: "solo", DataDir: dir, RaftBind: "127.0.0.1:0", HTTPAddr: "http://127.0.0.1:1",
			Bootstrap:  true,
			ClusterKey: clustertest.Key,
			Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
			RaftLog:    io.Discard,
			// The lease is below the heartbeat timeout, as raft's
			// defaults and clustertest have it.
			HeartbeatTimeout: heartbeat, ElectionTimeout: heartbeat, LeaderLeaseTimeout: 500 * time.Millisecond,
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = n.Close() })
		kv(0, n)
		began := time.Now()
		require.NoError(t, n.Start())
		require.Eventually(t, n.IsLeader, 5*time.Second, 5*time.Millisecond, "a lone voter leads within 5 s, not after its 10 s heartbeat timeout")
		t.Logf("led %v after Start", time.Since(began).Round(time.Millisecond))
		assert.Equal(t, heartbeat, n.HeartbeatTimeout(), "the heartbeat timeout is set back as configured")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, put(ctx, n, "k", "v"), "it takes writes")
		return n
	}
	n := start()
	require.NoError(t, n.Close())
	start() // restarted over its state: no bootstrap, still the only voter
}
