package cluster_test

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
)

// TestAMemberBackWithoutItsDataElectsNoLaggard: of three voters, one is
// down (it lags) while a write is acknowledged by the other two; then the
// leader crashes and the other's disk is lost. The lagging member and the
// one back on an empty data dir are a majority, but the empty one no
// longer holds the write it acknowledged: its vote would elect the
// laggard, and the write would be lost for good (the old leader, back,
// would be made to drop it). It withholds its vote; no leader is elected
// until the old leader is back, which is then elected with the write, and
// the empty member catches up to it.
func TestAMemberBackWithoutItsDataElectsNoLaggard(t *testing.T) {
	c := clustertest.New(t, 3, clustertest.Options{Setup: kv})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	leader := c.WaitLeader(10 * time.Second)
	followers := c.Followers()
	require.Len(t, followers, 2)
	lagging, lost := followers[0], followers[1]
	require.NoError(t, put(ctx, leader.Node, "before", "1"))
	c.Stop(lagging)
	require.NoError(t, put(ctx, leader.Node, "acknowledged", "by two of three"))

	c.Kill(leader)
	c.Kill(lost)
	require.NoError(t, os.RemoveAll(lost.DataDir))
	c.Restart(lagging)
	c.Restart(lost)
	// The laggard campaigns; the empty member withholds its vote, again
	// at each of its attempts, and no one leads.
	withheldWithNoLeader(t, c, lost, 3)

	c.Restart(leader)
	back := c.WaitLeader(30 * time.Second)
	assert.Equal(t, leader.Node.ID(), back.Node.ID(), "only the member with the write can be elected")
	require.NoError(t, put(ctx, back.Node, "after", "1"))
	for _, m := range c.Nodes {
		waitFor(t, 20*time.Second, func() bool { _, ok, _ := lookup(m.Node, muster.Stale, "after"); return ok })
		v, ok := get(t, m.Node, muster.Stale, "acknowledged")
		assert.True(t, ok, "%s lost the acknowledged write", m.Node.ID())
		assert.Equal(t, "by two of three", v)
	}
}

// TestVoteWithoutLogIsTheWayOut: the member that kept its data needs the
// vote of one back without its data, and the third will not come back.
// Withheld, no leader is ever elected; the empty member restarted with
// VoteWithoutLog (muster agent --vote-without-log) votes, and the member
// with the data is elected with its writes.
func TestVoteWithoutLogIsTheWayOut(t *testing.T) {
	var allowed atomic.Int64
	allowed.Store(-1)
	c := clustertest.New(t, 3, clustertest.Options{Setup: kv, Config: func(i int, cfg *cluster.Config) {
		cfg.VoteWithoutLog = int64(i) == allowed.Load()
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	leader := c.WaitLeader(10 * time.Second)
	followers := c.Followers()
	gone, lost := followers[0], followers[1]
	require.NoError(t, put(ctx, leader.Node, "kept", "1"))
	c.Kill(gone)
	c.Kill(leader)
	c.Kill(lost)
	require.NoError(t, os.RemoveAll(lost.DataDir))
	c.Restart(leader)
	c.Restart(lost)
	withheldWithNoLeader(t, c, lost, 2)

	c.Kill(lost)
	allowed.Store(int64(lost.Index))
	c.Restart(lost)
	back := c.WaitLeader(30 * time.Second)
	assert.Equal(t, leader.Node.ID(), back.Node.ID())
	waitFor(t, 20*time.Second, func() bool { _, ok, _ := lookup(lost.Node, muster.Stale, "kept"); return ok })
	assert.Zero(t, lost.Node.VotesWithheld())
}

// withheldWithNoLeader waits until the empty member has withheld its vote
// n times, no member leading meanwhile.
func withheldWithNoLeader(t *testing.T, c *clustertest.Cluster, empty *clustertest.Member, n uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for empty.Node.VotesWithheld() < n {
		require.True(t, time.Now().Before(deadline), "the empty member was not asked for its vote %d times", n)
		require.Nil(t, c.Leader(), "elected without the empty member's vote")
		time.Sleep(10 * time.Millisecond)
	}
	assert.Nil(t, c.Leader(), "elected without the empty member's vote")
}
