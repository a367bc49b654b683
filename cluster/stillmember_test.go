package cluster_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster"
	"muster/cluster/clustertest"
)

// removedWhileDown is what the ERROR line of a node that learns it was
// removed while it was down says. (" while it was down" follows when its
// own state still lists it; the leader may also have handed it its
// removal as it came back, which raft does on its way to stop sending to
// it: then its own state shows it too.)
const removedWhileDown = "was removed from its cluster"

// A member removed while it was down, started again on its data dir with
// no flag that makes it check its state (as a restarted member runs), has
// a configuration that still lists it: nothing tells it of its removal,
// the leader sends it nothing and the others refuse its elections. It
// asks the members, learns from the leader that it is no member, says so
// at ERROR once with what to do, and stops (ErrNotAMember), where it used
// to campaign for ever without a word of why.
func TestMemberRemovedWhileDownStopsWhenItComesBack(t *testing.T) {
	logs := make([]*logBuffer, 3)
	for i := range logs {
		logs[i] = &logBuffer{}
	}
	c := clustertest.New(t, 3, clustertest.Options{Setup: kv, Config: func(i int, cfg *cluster.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(logs[i], nil))
	}})
	down := c.Followers()[0]
	c.Stop(down)
	leader := c.WaitLeader(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, leader.Node.Remove(ctx, down.Node.ID()))
	require.NoError(t, put(ctx, leader.Node, "after", "removal"))

	c.Restart(down)
	start := time.Now()
	select {
	case <-down.Node.Refused():
	case <-time.After(30 * time.Second):
		t.Fatalf("%s, removed while it was down, still runs 30 s after it started again (state %s, asked %d times)",
			down.Node.ID(), down.Node.Status().State, down.Node.StillMemberAsked())
	}
	t.Logf("%s stopped %v after it started again", down.Node.ID(), time.Since(start).Round(time.Millisecond))
	err := down.Node.RefusedErr()
	require.Error(t, err)
	assert.True(t, errors.Is(err, cluster.ErrNotAMember), "%v", err)
	assert.Contains(t, err.Error(), removedWhileDown)
	assert.Contains(t, err.Error(), "its leader "+leader.Node.ID())
	assert.Contains(t, err.Error(), "empty its data dir "+down.DataDir)
	assert.Equal(t, "Shutdown", down.Node.Status().State, "its raft stopped")
	out := logs[down.Index].String()
	assert.Equal(t, 1, strings.Count(out, removedWhileDown), "one line says so:\n%s", out)
	assert.Contains(t, out, "level=ERROR msg=\"cluster: this node ("+down.Node.ID()+") "+removedWhileDown)
	if strings.Contains(err.Error(), "still lists it") {
		assert.Contains(t, err.Error(), removedWhileDown+" while it was down")
	}

	// The others carry on without it.
	require.NoError(t, put(ctx, leader.Node, "still", "writing"))
	ids := []string{}
	for _, s := range leader.Node.Status().Servers {
		ids = append(ids, s.ID)
	}
	assert.NotContains(t, ids, down.Node.ID())
	for _, m := range c.Nodes {
		if m != down {
			assert.NotContains(t, logs[m.Index].String(), removedWhileDown, "%s stays", m.Node.ID())
		}
	}
}

// A member restarted while it still is one asks, and the leader's answer
// lists it: it stays and serves.
func TestMemberRestartedStaysAMember(t *testing.T) {
	c := clustertest.New(t, 3, clustertest.Options{Setup: kv})
	m := c.Followers()[0]
	c.Stop(m)
	leader := c.WaitLeader(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, put(ctx, leader.Node, "while", "down"))
	c.Restart(m)
	leader = c.WaitLeader(10 * time.Second)

	// Asked directly: it is answered by the leader, which lists it.
	deadline := time.Now().Add(15 * time.Second)
	for {
		answered, err := m.Node.CheckStillMember(ctx)
		require.NoError(t, err, "a member the leader lists is never told it was removed")
		if answered {
			break
		}
		require.True(t, time.Now().Before(deadline), "no leader answered %s within 15 s", m.Node.ID())
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, put(ctx, leader.Node, "after", "restart"))
	c.WaitApplied(leader.Node.Status().CommitIndex, 10*time.Second)
	select {
	case <-m.Node.Refused():
		t.Fatalf("%s, a member, stopped: %v", m.Node.ID(), m.Node.RefusedErr())
	default:
	}
	ok, why := m.Node.Ready(0)
	assert.True(t, ok, "%s serves again: %s", m.Node.ID(), why)
}

// A member cut off by the network knows no leader and asks the others
// whether it is still a member, again and again: no one answers, and it
// stays. Healed, it catches up.
func TestPartitionedMemberStaysAndCatchesUp(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test")
	}
	fn, c := faultCluster(t)
	cut := c.Followers()[0]
	asked := cut.Node.StillMemberAsked()
	fn.partition(cut.Index, "close")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	deadline := time.Now().Add(30 * time.Second)
	for cut.Node.StillMemberAsked() < asked+2 {
		require.True(t, time.Now().Before(deadline), "%s, cut off, did not ask whether it is still a member twice within 30 s", cut.Node.ID())
		time.Sleep(50 * time.Millisecond)
	}
	// The others still have a quorum and write on.
	leader := c.Leader()
	for leader == nil || leader == cut {
		require.True(t, time.Now().Before(deadline), "no leader among the others")
		time.Sleep(20 * time.Millisecond)
		leader = c.Leader()
	}
	require.NoError(t, put(ctx, leader.Node, "while", "cut"))
	fn.heal()
	c.WaitLeader(15 * time.Second)
	c.WaitApplied(c.Leader().Node.Status().CommitIndex, 15*time.Second)
	select {
	case <-cut.Node.Refused():
		t.Fatalf("%s, a member cut off, stopped: %v", cut.Node.ID(), cut.Node.RefusedErr())
	default:
	}
	assert.Equal(t, "Follower", cut.Node.Status().State)
}

// A follower removed while it runs learns of its removal from the leader,
// which then sends it nothing more: raft stops only a leader it removes,
// so the follower sat idle for good, never ready. It stops as one removed
// while it was down does.
func TestFollowerRemovedWhileItRunsStops(t *testing.T) {
	var logs logBuffer
	c := clustertest.New(t, 3, clustertest.Options{Setup: kv, Config: func(i int, cfg *cluster.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil)).With("member", i)
	}})
	leader := c.Leader()
	removed := c.Followers()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, leader.Node.Remove(ctx, removed.Node.ID()))
	select {
	case <-removed.Node.Refused():
	case <-time.After(30 * time.Second):
		t.Fatalf("%s, removed, still runs 30 s later (state %s)", removed.Node.ID(), removed.Node.Status().State)
	}
	err := removed.Node.RefusedErr()
	assert.True(t, errors.Is(err, cluster.ErrNotAMember), "%v", err)
	assert.Contains(t, err.Error(), "this node ("+removed.Node.ID()+") "+removedWhileDown+": its leader "+leader.Node.ID())
	assert.Contains(t, err.Error(), "as this node's own state shows")
	assert.Equal(t, 1, strings.Count(logs.String(), removedWhileDown), "one line says so")
	require.NoError(t, put(ctx, leader.Node, "after", "removal"), "the others carry on")
}
