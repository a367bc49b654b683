package cluster_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster"
	"muster/cluster/clustertest"
)

// A member whose clock is 30 minutes off, restarted while another member
// is down, has measured only the one member up, which disagrees with it:
// it cannot tell which of the two clocks is off, and the member it
// disagrees with cannot either. Elected (here handed leadership by that
// member), it runs no leader service and stamps nothing, and hands
// leadership back. When every member starts at once, with clocks that
// agree, one leads within seconds.
func TestARestartedNodeLeadsOnlyOnceItHasMeasuredAMajority(t *testing.T) {
	clocks := []*skewClock{{}, {}, {}}
	starts := make([]atomic.Int64, 3)
	c := clustertest.New(t, 3, clustertest.Options{
		Setup: stamps(starts),
		Config: func(i int, cfg *cluster.Config) {
			cfg.Clock = clocks[i]
			cluster.ClockedAuth(cfg)
		},
	})
	right := c.WaitLeader(10 * time.Second)
	for _, m := range c.Nodes {
		require.Eventually(t, func() bool { ok, _ := m.Node.Ready(100); return ok }, 10*time.Second, 20*time.Millisecond, "%s ready", m.Node.ID())
	}
	fs := c.Followers()
	off, down := fs[0], fs[1]
	c.Kill(down)
	c.Stop(off)
	clocks[off.Index].off.Store(int64(30 * time.Minute))
	c.Restart(off)
	require.Same(t, right, c.WaitLeader(10*time.Second))
	before, rightBefore := starts[off.Index].Load(), starts[right.Index].Load()

	require.NoError(t, right.Node.TransferLeadershipTo(off.Node.ID(), off.RaftAddr))
	require.Eventually(t, func() bool {
		return right.Node.IsLeader() && starts[right.Index].Load() > rightBefore
	}, 20*time.Second, 20*time.Millisecond, "leadership did not come back to the member whose clock agrees with the cluster's")
	assert.Equal(t, before, starts[off.Index].Load(), "leader services started on the restarted member whose clock is off")
	require.Eventually(t, func() bool {
		ok, why := off.Node.Ready(100)
		return !ok && strings.Contains(why, "this node's clock is 30m0s ahead of the clock of "+right.Node.ID()+" (the leader")
	}, 10*time.Second, 20*time.Millisecond, "the restarted member whose clock is off says it is ready, or not why")
	assertStampedRight(t, right.Node, false)
	assertStampedRight(t, off.Node, true)

	// Every member stops, and all start again at once: they measure one
	// another, and one leads.
	clocks[off.Index].off.Store(0)
	c.Stop(off)
	c.Stop(right)
	started := func() (n int64) {
		for i := range starts {
			n += starts[i].Load()
		}
		return n
	}
	total := started()
	for _, m := range c.Nodes {
		c.Restart(m)
	}
	leader := c.WaitLeader(15 * time.Second)
	require.Eventually(t, func() bool {
		l := c.Leader()
		return l != nil && l.Node.ClockOff() == "" && started() > total
	}, 10*time.Second, 20*time.Millisecond, "no leader services after every member started at once")
	for _, m := range c.Nodes {
		assertStampedRight(t, m.Node, false)
	}
	t.Logf("%s leads after the restart of all", leader.Node.ID())
}
