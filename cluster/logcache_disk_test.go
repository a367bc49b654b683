package cluster_test

import (
	"bytes"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
)

// TestAFullLogDiskIsSaid: entries sent to a node whose raft log's disk is
// full cannot be stored; raft only logs it and asks again. The log store
// keeps the failure, saying which file, from which index and why, until a
// batch is stored again once the disk has room.
func TestAFullLogDiskIsSaid(t *testing.T) {
	dir := clustertest.SmallDisk(t, "2m")
	path := filepath.Join(dir, "raft.db")
	store, err := raftboltdb.New(raftboltdb.Options{Path: path,
		BoltOptions: &bolt.Options{Timeout: 2 * time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType}})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	c, err := cluster.NewBoundedLogCache(64, store, path)
	require.NoError(t, err)

	entry := func(i uint64) *raft.Log {
		return &raft.Log{Index: i, Term: 1, Data: bytes.Repeat([]byte{byte(i)}, 256<<10)}
	}
	var failed uint64
	for i := uint64(1); i <= 20 && failed == 0; i++ {
		if err := c.StoreLogs([]*raft.Log{entry(i)}); err != nil {
			failed = i
		}
	}
	require.NotZero(t, failed, "2 MiB hold no 20 entries of 256 KiB")
	why := c.Failing()
	assert.Contains(t, why, "the raft log "+path+" cannot store entries from index ")
	assert.Contains(t, why, "no space left on device")
	assert.Contains(t, why, "free space there or grow the disk")

	clustertest.GrowDisk(t, dir, "16m")
	require.NoError(t, c.StoreLogs([]*raft.Log{entry(failed)}))
	assert.Empty(t, c.Failing(), "stored again: nothing to say")
	var l raft.Log
	require.NoError(t, c.GetLog(failed, &l))
	assert.Len(t, l.Data, 256<<10)
}

// TestANodeWhoseLogCannotBeStoredIsNotReady: a node whose raft log cannot
// store what it is sent stops where its log does, within the readiness
// margin of its own commit index: it says it is not ready, and why, until
// a batch is stored again.
func TestANodeWhoseLogCannotBeStoredIsNotReady(t *testing.T) {
	c := clustertest.New(t, 1, clustertest.Options{})
	n := c.Nodes[0].Node
	deadline := time.Now().Add(10 * time.Second)
	for ok, why := n.Ready(1000); !ok; ok, why = n.Ready(1000) {
		require.True(t, time.Now().Before(deadline), "not ready: %s", why)
		time.Sleep(10 * time.Millisecond)
	}
	n.LogStoreFailed(42, syscall.ENOSPC)
	ok, why := n.Ready(1000)
	assert.False(t, ok)
	assert.Contains(t, why, "cannot store entries from index 42 on")
	assert.Contains(t, why, "no space left on device")
	n.LogStoreFailed(43, nil)
	ok, why = n.Ready(1000)
	assert.True(t, ok, why)
}

// TestAVoterWhoseLogCannotBeStoredDoesNotCount: a voter whose raft log
// cannot store what it is sent still answers heartbeats, and the leader
// counted it reachable (exploratory finding Z7): muster cluster status
// said nothing, and removing another voter was let through though no
// quorum would be left to commit. The leader now takes what the member
// says to its status call: such a voter is not reachable, its status says
// why, and removing the only other voter that can commit is refused
// naming it. Once it stores again it counts again.
func TestAVoterWhoseLogCannotBeStoredDoesNotCount(t *testing.T) {
	_, ctx, leader, stuck, other := threeWithAWrite(t)

	stuck.Node.RefuseLogStores(syscall.ENOSPC)
	require.NoError(t, put(ctx, leader.Node, "k2", "v"), "the leader and the other commit")
	var s cluster.ServerStatus
	require.Eventually(t, func() bool {
		s, _ = serverAt(leader.Node.Status(), stuck.Node.ID())
		return s.LogFailing != ""
	}, 15*time.Second, 50*time.Millisecond, "the leader hears from the member's status call that its log is failing")
	assert.Contains(t, s.LogFailing, "no space left on device")
	require.NotNil(t, s.Reachable)
	assert.False(t, *s.Reachable, "a voter that cannot store entries is not counted")
	assert.Contains(t, stuck.Node.Status().LogFailing, "cannot store entries from index", "its own status says so too")

	err := leader.Node.RemoveMember(ctx, cluster.RemoveRequest{ID: other.Node.ID()})
	require.Error(t, err)
	assert.True(t, muster.IsCode(err, muster.EConflict), "got %v", err)
	assert.Contains(t, err.Error(), stuck.Node.ID()+" answers but cannot store raft entries (")

	stuck.Node.RefuseLogStores(nil)
	require.NoError(t, put(ctx, leader.Node, "k3", "v"))
	require.Eventually(t, func() bool {
		s, _ = serverAt(leader.Node.Status(), stuck.Node.ID())
		return s.LogFailing == "" && s.Reachable != nil && *s.Reachable
	}, 15*time.Second, 50*time.Millisecond, "stored again: counted again")
}
