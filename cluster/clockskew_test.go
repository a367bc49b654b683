package cluster_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
)

// skewClock is a node's clock: the system's, off by what the test sets.
type skewClock struct{ off atomic.Int64 }

func (c *skewClock) Now() time.Time { return time.Now().Add(time.Duration(c.off.Load())) }

// stamps registers "clock.stamp", whose result is the time its leader
// stamped into it, and a leader service that counts its starts on node i.
func stamps(starts []atomic.Int64) func(i int, n *cluster.Node) {
	return func(i int, n *cluster.Node) {
		n.Handle("clock.stamp", func(tx *bolt.Tx, c *muster.Command) (any, error) {
			return map[string]time.Time{"time": c.Time}, nil
		})
		n.OnLeader(func(ctx context.Context) {
			starts[i].Add(1)
			<-ctx.Done()
		})
	}
}

// stampVia applies a clock.stamp through n and returns the time stamped.
func stampVia(n *cluster.Node) (time.Time, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var out struct{ Time time.Time }
	err := n.Apply(ctx, &muster.Command{Type: "clock.stamp", Actor: "test", Payload: json.RawMessage(`{}`)}, &out)
	return out.Time, err
}

// assertStampedRight checks that a command taken by n is stamped with
// the time of a clock that agrees with the system's, or, from the node
// whose clock is off, refused by the leader for the time it signed it at.
func assertStampedRight(t *testing.T, n *cluster.Node, off bool) {
	t.Helper()
	at, err := stampVia(n)
	if off && err != nil {
		assert.ErrorContains(t, err, "nodes of a cluster must keep their clocks within")
		return
	}
	require.NoError(t, err, "through %s", n.ID())
	assert.WithinDuration(t, time.Now(), at, 5*time.Second, "stamped through %s", n.ID())
}

// A leader whose clock goes 30 minutes ahead of the other members' (its
// node-to-node requests refused by theirs, and theirs by it) finds out
// from the clocks its peers' answers carry: it says it is not ready and
// why, stops its leader services and hands leadership to a member whose
// clock agrees. No command is stamped with its time, and when it is
// elected again it steps down again without starting them.
func TestClockOffLeaderHandsOverAndStampsNothing(t *testing.T) {
	clocks := make([]*skewClock, 3)
	for i := range clocks {
		clocks[i] = &skewClock{}
	}
	starts := make([]atomic.Int64, 3)
	c := clustertest.New(t, 3, clustertest.Options{
		Setup: stamps(starts),
		Config: func(i int, cfg *cluster.Config) {
			cfg.Clock = clocks[i]
			cluster.ClockedAuth(cfg)
		},
	})
	off := c.WaitLeader(10 * time.Second)
	require.Eventually(t, func() bool { return starts[off.Index].Load() == 1 }, 10*time.Second, 20*time.Millisecond)
	for _, m := range c.Nodes {
		require.Eventually(t, func() bool { ok, _ := m.Node.Ready(100); return ok }, 10*time.Second, 20*time.Millisecond, "%s ready before its clock is moved", m.Node.ID())
	}

	clocks[off.Index].off.Store(int64(30 * time.Minute))
	var why string
	require.Eventually(t, func() bool {
		var ok bool
		ok, why = off.Node.Ready(100)
		l := c.Leader()
		return !ok && l != nil && l != off
	}, 20*time.Second, 20*time.Millisecond, "the node whose clock is off still leads, or says it is ready")
	assert.Regexp(t, `^this node's clock is 30m0s ahead of the clocks of node\d, node\d \(a majority of the cluster's members; measured within ±[0-9.]+[mµn]?s\).*fix its time \(NTP\)`, why)
	assert.Equal(t, why, off.Node.ClockOff())
	leader := c.WaitLeader(10 * time.Second)
	require.Eventually(t, func() bool { return starts[leader.Index].Load() == 1 }, 10*time.Second, 20*time.Millisecond)

	// What the leader says of the members' clocks, and what the node
	// whose clock is off says of its own.
	require.Eventually(t, func() bool {
		for _, s := range leader.Node.Status().Servers {
			if s.ID == off.Node.ID() {
				return s.ClockSkewed && s.ClockOffsetMs != nil
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond)
	for _, s := range leader.Node.Status().Servers {
		require.NotNil(t, s.ClockOffsetMs, s.ID)
		if s.ID == off.Node.ID() {
			assert.InDelta(t, (30 * time.Minute).Milliseconds(), *s.ClockOffsetMs, 1000, "the leader's measure of %s's clock", s.ID)
			continue
		}
		assert.False(t, s.ClockSkewed, s.ID)
		assert.InDelta(t, 0, *s.ClockOffsetMs, 1000, s.ID)
	}
	st := off.Node.Status()
	assert.Equal(t, why, st.ClockOff)
	assert.Equal(t, "10s", st.ClockTolerance)
	for _, s := range st.Servers {
		assert.Equal(t, s.ID == off.Node.ID(), s.ClockSkewed, s.ID)
	}

	// Commands are stamped by the clock that agrees, whichever node takes
	// them.
	for _, m := range c.Nodes {
		assertStampedRight(t, m.Node, m == off)
	}

	// The leader goes: the node whose clock is off may win the election,
	// and then hands leadership on at once, its services never started.
	before := starts[off.Index].Load()
	c.Kill(leader)
	var third *clustertest.Member
	for _, m := range c.Nodes {
		if m != off && m != leader {
			third = m
		}
	}
	led := false
	deadline := time.Now().Add(20 * time.Second)
	for !third.Node.IsLeader() && time.Now().Before(deadline) {
		led = led || off.Node.IsLeader()
		time.Sleep(5 * time.Millisecond)
	}
	require.True(t, third.Node.IsLeader(), "the member whose clock agrees leads")
	t.Logf("the node whose clock is off led in between: %v", led)
	assertStampedRight(t, third.Node, false)
	assertStampedRight(t, off.Node, true)
	assert.Equal(t, before, starts[off.Index].Load(), "leader services started on the node whose clock is off")
	ok, _ := off.Node.Ready(100)
	assert.False(t, ok)

	// Its clock set right, it is ready again.
	clocks[off.Index].off.Store(0)
	require.Eventually(t, func() bool { ok, _ := off.Node.Ready(100); return ok }, 15*time.Second, 20*time.Millisecond)
	assert.Empty(t, off.Node.ClockOff())
}
