package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
)

// A cluster started over a restored backup knows it: the backup's raft
// index, the time of the last command it holds (from its audit chain), and
// how many restores the state has been through, also once restored again
// from a backup of the restored cluster. The functions registered with
// OnRestore run once, in the restore, and see the same.
func TestARestoredClusterKnowsItsBackup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var seen []muster.Restore
	setup := func(i int, n *cluster.Node) {
		kv(i, n)
		n.OnRestore(func(tx *bolt.Tx, r muster.Restore) error {
			seen = append(seen, r)
			return nil
		})
	}
	src := clustertest.New(t, 1, clustertest.Options{Setup: setup})
	_, ok := src.Leader().Node.FSM().Restored()
	assert.False(t, ok, "a new cluster was never restored")
	require.Eventually(t, func() bool { return src.Leader().Node.Status().Rules == muster.Rules }, 10*time.Second, 20*time.Millisecond)
	for i := range 5 {
		require.NoError(t, put(ctx, src.Leader().Node, fmt.Sprintf("k%d", i), "v"))
	}
	lastWrite := time.Now()
	var backup bytes.Buffer
	idx, err := src.Leader().Node.FSM().Backup(&backup)
	require.NoError(t, err)

	restoreOf := func(c *clustertest.Cluster, b []byte) *cluster.Node {
		m := c.Nodes[0]
		c.Stop(m)
		c.Restore(m, b)
		return c.WaitLeader(10 * time.Second).Node
	}
	start := time.Now()
	n := restoreOf(src, backup.Bytes())
	r, ok := n.FSM().Restored()
	require.True(t, ok, "the restored cluster knows it")
	assert.Equal(t, 1, r.Count)
	assert.Equal(t, idx, r.BackupIndex)
	assert.WithinDuration(t, lastWrite, r.BackupTime, 2*time.Second, "the backup's last command's time")
	assert.False(t, r.RestoredAt.Before(start.Add(-time.Second)))
	assert.Equal(t, []muster.Restore{r}, seen, "OnRestore ran once, with the restore")

	// Restarted, it is the same restore.
	src.Stop(src.Nodes[0])
	src.Restart(src.Nodes[0])
	n = src.WaitLeader(10 * time.Second).Node
	again, _ := n.FSM().Restored()
	assert.Equal(t, r, again)
	assert.Len(t, seen, 1)

	// A backup of the restored cluster, restored: the second restore.
	require.NoError(t, put(ctx, n, "after", "restore"))
	backup.Reset()
	idx2, err := n.FSM().Backup(&backup)
	require.NoError(t, err)
	n = restoreOf(src, backup.Bytes())
	r2, ok := n.FSM().Restored()
	require.True(t, ok)
	assert.Equal(t, 2, r2.Count)
	assert.Equal(t, idx2, r2.BackupIndex)
	assert.Len(t, seen, 2)
}
