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
