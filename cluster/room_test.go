package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
)

// Each node reports its data disk as the file system has it, and a room
// check reads this node's and asks the others: a write bigger than the
// free space is refused with every member named, a small one passes.
func TestRoomIsCheckedOnEveryMembersDisk(t *testing.T) {
	c := clustertest.New(t, 2, clustertest.Options{Setup: kv})
	leader := c.Leader()
	// Both know both addresses: the leader records its own after its
	// election's barrier, which the last index read at once may precede.
	require.Eventually(t, func() bool {
		for _, m := range c.Nodes {
			servers := m.Node.Status().Servers
			if len(servers) != len(c.Nodes) {
				return false // a node that has no configuration yet lists no member
			}
			for _, s := range servers {
				if s.HTTPAddr == "" {
					return false
				}
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "every node knows every member's HTTP address")
	st := leader.Node.Status()
	require.NotNil(t, st.Disk)
	out, err := exec.Command("df", "-B1", "--output=avail", leader.DataDir).Output()
	require.NoError(t, err)
	lines := strings.Fields(string(out))
	df, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	require.NoError(t, err)
	assert.InDelta(t, df, st.Disk.Free, 256<<20, "df says %d bytes available", df)
	assert.Equal(t, int64(cluster.DefaultDiskReserve), st.Disk.Reserve)
	assert.Positive(t, st.Disk.State)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, m := range c.Nodes {
		require.NoError(t, m.Node.CheckRoom(ctx, muster.Room{What: "a small write", Bytes: 1 << 20, Reserve: true}))
		err := m.Node.CheckRoom(ctx, muster.Room{What: "a write bigger than the disk", Bytes: st.Disk.Free * 4})
		require.Error(t, err)
		assert.True(t, muster.IsCode(err, muster.EStorage), "%v", err)
		for _, other := range c.Nodes {
			assert.Contains(t, err.Error(), other.Node.ID()+" has ")
		}
	}
}

// A state whose disk fills while a batch is applied cannot go on: the node
// stops with a message that says so and what to do, and once the disk has
// room the same entries apply.
func TestAFullDiskStopsTheNodeWithWhatToDo(t *testing.T) {
	dir := clustertest.SmallDisk(t, "2m")
	path := filepath.Join(dir, "state.db")
	open := func() *cluster.FSM {
		f, err := cluster.OpenFSM(path, slog.New(slog.NewTextHandler(io.Discard, nil)))
		require.NoError(t, err)
		f.Handle("kv.put", func(tx *bolt.Tx, c *muster.Command) (any, error) {
			b, err := tx.CreateBucketIfNotExists([]byte("kv"))
			if err != nil {
				return nil, err
			}
			return nil, b.Put(c.Payload, bytes.Repeat([]byte("x"), 256<<10))
		})
		return f
	}
	f := open()
	var stopped string
	var idx uint64
	for idx = 1; idx < 20 && stopped == ""; idx++ {
		func() {
			defer func() {
				if r := recover(); r != nil {
					stopped = fmt.Sprint(r)
				}
			}()
			f.ApplyBatch([]*raft.Log{bigPut(t, idx)})
		}()
	}
	idx--
	require.NotEmpty(t, stopped, "2 MiB hold no 20 values of 256 KiB")
	assert.Contains(t, stopped, "the disk holding "+path+" is full, so raft entries up to "+strconv.FormatUint(idx, 10)+" cannot be applied: free space there or grow the disk")
	assert.Contains(t, stopped, "no space left on device")
	require.NoError(t, f.Close())

	clustertest.GrowDisk(t, dir, "16m")
	f = open()
	defer f.Close()
	f.ApplyBatch([]*raft.Log{bigPut(t, idx)})
	require.NoError(t, f.View(func(tx *bolt.Tx) error {
		assert.Len(t, tx.Bucket([]byte("kv")).Get([]byte(strconv.FormatUint(idx, 10))), 256<<10, "entry %d applies once the disk has room", idx)
		return nil
	}))
	assert.Equal(t, idx, f.AppliedIndex())
}

// bigPut is raft entry idx putting 256 KiB under the key idx.
func bigPut(t *testing.T, idx uint64) *raft.Log {
	t.Helper()
	b, err := (&muster.Command{Type: "kv.put", ID: "id", Payload: []byte(strconv.FormatUint(idx, 10))}).MarshalBinary()
	require.NoError(t, err)
	return &raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: b}
}
