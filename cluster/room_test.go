package cluster_test

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	c.WaitApplied(leader.Node.Status().LastLogIndex, 10*time.Second) // both know both addresses
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
