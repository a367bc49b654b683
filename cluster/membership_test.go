package cluster_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
)

// newcomer makes a node outside a clustertest cluster (a node started by
// hand to join one), on loopback ports of its own, serving its internal
// API. It is not started; cfg adjusts its configuration.
func newcomer(t *testing.T, id, dir string, cfg func(*cluster.Config)) (*cluster.Node, cluster.NodeInfo) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c := cluster.Config{
		NodeID: id, DataDir: dir, RaftBind: "127.0.0.1:0",
		HTTPAddr:   "http://" + ln.Addr().String(),
		ClusterKey: clustertest.Key,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		RaftLog:    io.Discard,
		// As clustertest's nodes: raft's default timing.
		HeartbeatTimeout: time.Second, ElectionTimeout: time.Second, LeaderLeaseTimeout: 500 * time.Millisecond,
	}
	if cfg != nil {
		cfg(&c)
	}
	n, err := cluster.New(c)
	require.NoError(t, err)
	kv(0, n)
	srv := &http.Server{Handler: n.InternalHandler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		n.Close()
	})
	return n, cluster.NodeInfo{ID: id, HTTPAddr: c.HTTPAddr}
}

// serverAt is the member with id in st, or false.
func serverAt(st cluster.Status, id string) (cluster.ServerStatus, bool) {
	for _, s := range st.Servers {
		if s.ID == id {
			return s, true
		}
	}
	return cluster.ServerStatus{}, false
}

// A node that joins under the ID of a member that is alive at another
// raft address (a copied service file) is refused, and the member stays:
// replacing it took a live, caught-up voter out, and with one other voter
// down the cluster lost its quorum at once. A member that moved (dead at
// its old address) is still replaced by the node that joins under its ID.
func TestJoinUnderTheIDOfALiveMemberIsRefused(t *testing.T) {
	c := clustertest.New(t, 3, clustertest.Options{Setup: kv})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leader := c.Leader()
	victim := c.Followers()[0]
	id := victim.Node.ID()

	dup, info := newcomer(t, id, t.TempDir(), nil)
	require.NoError(t, dup.Start())
	info.RaftAddr = dup.RaftAddr()
	for _, via := range []*cluster.Node{leader.Node, c.Followers()[1].Node} { // a follower forwards the join
		err := via.Join(ctx, info)
		require.Error(t, err)
		assert.True(t, muster.IsCode(err, muster.EConflict), "got %v", err)
		assert.Contains(t, err.Error(), "node "+id+" is already a member at "+victim.RaftAddr+" and answered this leader over raft")
		assert.Contains(t, err.Error(), "muster cluster remove "+id)
	}
	// Through the node-to-node endpoint a joining agent uses, the code
	// survives (the agent stops instead of retrying).
	err := cluster.RequestJoin(ctx, leader.HTTPAddr, clustertest.Key, cluster.JoinRequest{NodeInfo: info})
	assert.True(t, muster.IsCode(err, muster.EConflict), "got %v", err)
	st := leader.Node.Status()
	require.Len(t, st.Servers, 3, "nothing was taken out")
	s, ok := serverAt(st, id)
	require.True(t, ok)
	assert.Equal(t, victim.RaftAddr, s.RaftAddr, "the live member stays at its address")
	require.NoError(t, put(ctx, victim.Node, "after-refusal", "v"), "and takes part in writes")

	// Nor can a node take the leader's ID.
	lead, linfo := newcomer(t, leader.Node.ID(), t.TempDir(), nil)
	require.NoError(t, lead.Start())
	linfo.RaftAddr = lead.RaftAddr()
	err = leader.Node.Join(ctx, linfo)
	assert.True(t, muster.IsCode(err, muster.EConflict), "got %v", err)
	assert.Contains(t, err.Error(), "leads the cluster")

	// The member dies; a node that takes its ID at a new address (a host
	// come back at another IP) replaces it.
	c.Kill(victim)
	require.NoError(t, leader.Node.Join(ctx, info))
	s, ok = serverAt(leader.Node.Status(), id)
	require.True(t, ok)
	assert.Equal(t, info.RaftAddr, s.RaftAddr, "the member that moved is replaced")
	assert.Len(t, leader.Node.Status().Servers, 3)
	require.Eventually(t, func() bool {
		v, ok, err := lookup(dup, muster.Stale, "after-refusal")
		return err == nil && ok && v == "v"
	}, 15*time.Second, 20*time.Millisecond, "the replacement follows")
	require.NoError(t, put(ctx, dup, "after-replace", "v"))
}

// A node that was removed does not join again by itself with its old
// state, wherever its state learnt of the removal: a service definition
// keeps --join, and the old box coming back made a fourth voter of a
// three-node cluster. A member restarted with --join is still just a
// member.
func TestRemovedNodeDoesNotRejoinByItself(t *testing.T) {
	c := clustertest.New(t, 3, clustertest.Options{Setup: kv, Config: func(i int, cfg *cluster.Config) {
		cfg.Join = i > 0 // as muster agent --join sets it
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leader := c.Leader()
	require.NoError(t, put(ctx, leader.Node, "k", "v"))

	// A member restarted with --join: the same member, and joining again
	// with its own state is a no-op.
	member := c.Followers()[0]
	c.Stop(member)
	c.Restart(member)
	require.NoError(t, cluster.RequestJoin(ctx, leader.HTTPAddr, clustertest.Key,
		cluster.JoinRequest{NodeInfo: cluster.NodeInfo{ID: member.Node.ID(), RaftAddr: member.RaftAddr, HTTPAddr: member.HTTPAddr}, State: member.Node.OwnState()}))
	require.Len(t, leader.Node.Status().Servers, 3)

	// Removed while it runs: its own log holds the configuration without it
	// (raft sends a removed follower the entries up to its removal, as a
	// best effort: the follower not restarted, whose connection is not
	// stale, takes them).
	removed := removeWhileItRuns(ctx, t, c, leader, member)
	again, _ := newcomer(t, removed.Node.ID(), removed.DataDir, func(cfg *cluster.Config) { cfg.Join = true })
	err := again.Start()
	require.Error(t, err)
	assert.Regexp(t, `this node \(`+removed.Node.ID()+`\) was removed from its cluster at raft index [1-9]\d*`, err.Error())
	assert.Contains(t, err.Error(), "empty its data dir "+removed.DataDir)
	// It closes at once: it never ran leader services, so there are none to
	// wait for (it used to wait their whole grace of 15 s, and muster agent
	// took that long to say it was refused).
	closing := time.Now()
	again.Close()
	assert.Less(t, time.Since(closing), 5*time.Second, "a node refused at its start closes without waiting for leader services")

	// Removed while it is down: its own state still lists it, the leader's
	// configuration does not.
	down := c.Followers()[0]
	c.Stop(down)
	require.NoError(t, leader.Node.Remove(ctx, down.Node.ID()))
	back, info := newcomer(t, down.Node.ID(), down.DataDir, func(cfg *cluster.Config) { cfg.Join = true })
	require.NoError(t, back.Start(), "its state lists it: only the cluster knows")
	info.RaftAddr = back.RaftAddr()
	require.True(t, back.OwnState().Member)
	err = cluster.RequestJoin(ctx, leader.HTTPAddr, clustertest.Key, cluster.JoinRequest{NodeInfo: info, State: back.OwnState()})
	require.Error(t, err)
	assert.True(t, muster.IsCode(err, muster.EConflict), "got %v", err)
	assert.Contains(t, err.Error(), "node "+down.Node.ID()+" holds the raft state of a member, but this cluster's configuration")
	assert.Contains(t, err.Error(), "empty its --data-dir")

	st := leader.Node.Status()
	assert.Len(t, st.Servers, 1, "neither came back as a voter")
	require.NoError(t, put(ctx, leader.Node, "after", "v"))
}

// A node asked to join with a data dir that holds another cluster's state
// is refused: with raft state of a cluster it was never a member of, at
// its start; with a state file beyond the cluster's log, by the leader.
// And a node whose state is beyond the commit index it knows is not ready.
func TestJoinWithStateOfAnotherClusterIsRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old := clustertest.New(t, 1, clustertest.Options{Setup: kv})
	for i := range 50 {
		require.NoError(t, put(ctx, old.Leader().Node, fmt.Sprintf("k%d", i), "old"))
	}
	oldApplied := old.Leader().Node.FSM().AppliedIndex()
	old.Stop(old.Nodes[0])

	fresh := clustertest.New(t, 1, clustertest.Options{Setup: kv})
	leader := fresh.Leader()
	require.NoError(t, put(ctx, leader.Node, "new", "v"))
	require.Less(t, leader.Node.Status().LastLogIndex, oldApplied)

	// The whole data dir of the old cluster's node.
	copied := t.TempDir()
	require.NoError(t, os.CopyFS(copied, os.DirFS(old.Nodes[0].DataDir)))
	n, _ := newcomer(t, "r2", copied, func(cfg *cluster.Config) { cfg.Join = true })
	err := n.Start()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is of a cluster this node (r2) was never a member of (its members: node0)")

	// Only its state file: no raft state, but a state beyond the log.
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(old.Nodes[0].DataDir, "state.db"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "state.db"), data, 0o600))
	r3, info := newcomer(t, "r3", dir, func(cfg *cluster.Config) { cfg.Join = true })
	require.NoError(t, r3.Start())
	info.RaftAddr = r3.RaftAddr()
	err = cluster.RequestJoin(ctx, leader.HTTPAddr, clustertest.Key, cluster.JoinRequest{NodeInfo: info, State: r3.OwnState()})
	require.Error(t, err)
	assert.True(t, muster.IsCode(err, muster.EConflict), "got %v", err)
	assert.Contains(t, err.Error(), fmt.Sprintf("node r3 holds state up to raft index %d, beyond this cluster's log", oldApplied))
	require.Len(t, leader.Node.Status().Servers, 1)

	// Added by hand (muster cluster join: the request says nothing of its
	// state), the leader asks the node for its status, and refuses it too.
	err = leader.Node.Join(ctx, info)
	assert.True(t, muster.IsCode(err, muster.EConflict), "got %v", err)
	assert.Contains(t, err.Error(), fmt.Sprintf("node r3 holds state up to raft index %d, beyond this cluster's log", oldApplied))
	require.Len(t, leader.Node.Status().Servers, 1)

	// Added all the same (without an HTTP address to ask, as an older muster
	// could), it is not ready: its state is beyond the commit index.
	require.NoError(t, leader.Node.Join(ctx, cluster.NodeInfo{ID: info.ID, RaftAddr: info.RaftAddr}))
	require.Eventually(t, func() bool {
		id, _ := r3.Leader()
		return id == leader.Node.ID() && r3.Status().CommitIndex > 0
	}, 15*time.Second, 20*time.Millisecond, "it follows the leader")
	ok, why := r3.Ready(1000)
	assert.False(t, ok)
	assert.Contains(t, why, fmt.Sprintf("applied index %d is beyond the commit index", oldApplied))
}

// reachableGauge is muster_raft_voters_reachable as n reports it, or false
// when it reports none.
func reachableGauge(t *testing.T, n *cluster.Node) (float64, bool) {
	t.Helper()
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(n.Collector()))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "muster_raft_voters_reachable" {
			return mf.GetMetric()[0].GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// The leader says which members answer it and how far their state is; a
// dead voter is no longer listed like a healthy one. A follower, which
// cannot know, says nothing of it.
func TestStatusShowsWhichMembersAnswerTheLeader(t *testing.T) {
	c := clustertest.New(t, 3, clustertest.Options{Setup: kv})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leader := c.Leader()
	require.NoError(t, put(ctx, leader.Node, "k", "v"))
	require.Eventually(t, func() bool {
		for _, s := range leader.Node.Status().Servers {
			if s.Reachable == nil || !*s.Reachable || s.AppliedIndex == 0 {
				return false
			}
			if s.ID != leader.Node.ID() && s.LastContact == "" {
				return false
			}
		}
		return true
	}, 15*time.Second, 50*time.Millisecond, "the leader hears from every member: %+v", leader.Node.Status().Servers)
	v, ok := reachableGauge(t, leader.Node)
	require.True(t, ok)
	assert.Equal(t, 3.0, v)

	follower := c.Followers()[0]
	for _, s := range follower.Node.Status().Servers {
		assert.Nil(t, s.Reachable, "a follower cannot know whether %s answers", s.ID)
		assert.Empty(t, s.LastContact)
		assert.Zero(t, s.AppliedIndex)
	}
	_, ok = reachableGauge(t, follower.Node)
	assert.False(t, ok, "only the leader reports reachable voters")

	dead := c.Followers()[1]
	c.Kill(dead)
	var s cluster.ServerStatus
	require.Eventually(t, func() bool {
		s, _ = serverAt(leader.Node.Status(), dead.Node.ID())
		return s.Reachable != nil && !*s.Reachable
	}, 15*time.Second, 50*time.Millisecond, "the leader sees the dead member")
	d, err := time.ParseDuration(s.LastContact)
	require.NoError(t, err)
	// LastContact is to the millisecond: one just past the window reads 3s.
	assert.GreaterOrEqual(t, d, 3*time.Second, "last heard from three heartbeat timeouts ago or more")
	v, _ = reachableGauge(t, leader.Node)
	assert.Equal(t, 2.0, v)
	live, _ := serverAt(leader.Node.Status(), follower.Node.ID())
	require.NotNil(t, live.Reachable)
	assert.True(t, *live.Reachable, "the live one still answers")
}

// threeWithAWrite is a three-node cluster that has committed a write: the
// cluster, a context for the test's minute, its leader and its two
// followers.
func threeWithAWrite(t *testing.T) (c *clustertest.Cluster, ctx context.Context, leader, a, b *clustertest.Member) {
	t.Helper()
	c = clustertest.New(t, 3, clustertest.Options{Setup: kv})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	leader = c.Leader()
	require.NoError(t, put(ctx, leader.Node, "k", "v"))
	return c, ctx, leader, c.Followers()[0], c.Followers()[1]
}

// deadTo waits until leader no longer hears from m (killed): the CONTACT of
// muster cluster status says LOST.
func deadTo(t *testing.T, leader *cluster.Node, m *clustertest.Member) {
	t.Helper()
	require.Eventually(t, func() bool {
		s, _ := serverAt(leader.Status(), m.Node.ID())
		return s.Reachable != nil && !*s.Reachable
	}, 15*time.Second, 50*time.Millisecond, "the leader sees %s dead", m.Node.ID())
}

// A voter killed a moment before a removal is asked still counted: the
// leader had heard from it within three heartbeat timeouts (CONTACT still
// said it answered), and taking the other live voter out was let through,
// leaving no quorum (exploratory finding Z14, the part left). The check
// counts only the voters heard from since it began: refused.
func TestRemoveRightAfterAVoterDiedIsRefused(t *testing.T) {
	c, ctx, leader, live, dead := threeWithAWrite(t)
	c.Kill(dead)
	// Silent for more than a heartbeat timeout (a second), and still
	// within the three of CONTACT: no answer of its that was on the way
	// when it died is left to be read.
	require.Eventually(t, func() bool {
		s, _ := serverAt(leader.Node.Status(), dead.Node.ID())
		d, err := time.ParseDuration(s.LastContact)
		return err == nil && d >= 1200*time.Millisecond && s.Reachable != nil && *s.Reachable
	}, 10*time.Second, 10*time.Millisecond, "CONTACT still counts %s, silent for more than a second", dead.Node.ID())

	start := time.Now()
	err := leader.Node.Remove(ctx, live.Node.ID())
	require.Error(t, err)
	assert.True(t, muster.IsCode(err, muster.EConflict), "got %v", err)
	assert.Regexp(t, dead.Node.ID()+` has not answered for [0-9.]+m?s`, err.Error())
	assert.Less(t, time.Since(start), 5*time.Second, "refused within about a heartbeat timeout")
	assert.Len(t, leader.Node.Status().Servers, 3, "nothing was changed")
	require.NoError(t, put(ctx, leader.Node, "after-refusal", "v"), "the quorum stands")
}

// Taking a live voter out while another voter is down would leave a
// configuration whose reachable voters are no majority: the cluster had no
// leader, and no call-up could be written, until the dead one came back
// (exploratory finding Z14). It is refused, on the leader and through a
// follower, and changes nothing; taking the dead one out is not.
func TestRemoveThatWouldCostTheQuorumIsRefused(t *testing.T) {
	c, ctx, leader, live, dead := threeWithAWrite(t)
	c.Kill(dead)
	deadTo(t, leader.Node, dead)

	for name, via := range map[string]*cluster.Node{"leader": leader.Node, "follower": live.Node} {
		err := via.Remove(ctx, live.Node.ID())
		require.Error(t, err, name)
		assert.True(t, muster.IsCode(err, muster.EConflict), "%s: got %v", name, err)
		assert.Contains(t, err.Error(), "taking "+live.Node.ID()+" out would leave", name)
		assert.Regexp(t, dead.Node.ID()+` has not answered for [0-9.]+m?s`, err.Error(), name)
		assert.Contains(t, err.Error(), "Bring "+dead.Node.ID()+" back, or remove "+dead.Node.ID()+" first", name)
		assert.Len(t, leader.Node.Status().Servers, 3, "%s: nothing was changed", name)
	}
	// The leader itself is a voter that would go too.
	err := leader.Node.Remove(ctx, leader.Node.ID())
	assert.True(t, muster.IsCode(err, muster.EConflict), "got %v", err)
	require.True(t, leader.Node.IsLeader())
	require.NoError(t, put(ctx, leader.Node, "after-refusal", "v"))

	// The dead member itself goes: the two that remain answer.
	require.NoError(t, leader.Node.Remove(ctx, dead.Node.ID()))
	assert.Len(t, leader.Node.Status().Servers, 2)
	require.NoError(t, put(ctx, live.Node, "after-remove", "v"))
}

// --force takes the live voter out all the same (the operator knows the
// dead one comes back); the error then says that the configuration no
// longer lists it, not "remove it again", and the cluster goes on once the
// dead one is back, without it.
func TestForcedRemoveSaysWhatBecameOfTheMember(t *testing.T) {
	c, ctx, leader, live, dead := threeWithAWrite(t)
	c.Kill(dead)
	deadTo(t, leader.Node, dead)

	err := leader.Node.RemoveMember(ctx, cluster.RemoveRequest{ID: live.Node.ID(), Force: true})
	require.Error(t, err, "the configuration left cannot commit without the dead member")
	assert.Contains(t, err.Error(), "this node's latest configuration no longer lists it (members: "+leader.Node.ID()+", "+dead.Node.ID()+")")
	assert.NotContains(t, err.Error(), "remove it again")

	c.Restart(dead)
	require.Eventually(t, func() bool {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return put(pctx, dead.Node, "after-force", "v") == nil
	}, 30*time.Second, 100*time.Millisecond, "the two left elect a leader once the dead one is back")
	var ids []string
	for _, s := range dead.Node.Status().Servers {
		ids = append(ids, s.ID)
	}
	assert.ElementsMatch(t, []string{leader.Node.ID(), dead.Node.ID()}, ids, "%s is out", live.Node.ID())
}

// A membership change made by hand is recorded in the audit chain as by
// whoever asked (a token's name), also through a follower, where it was
// recorded as by "cluster" (exploratory finding Z1); a node that joins by
// itself stays the cluster's. A backup taken is recorded too.
//
// Everything is done once every member's record says its rules: the
// members' first records are written before the rules reach the audit
// chain's, and are not in it (CI saw neither "cluster" record).
func TestMembershipChangesAreRecordedAsByWhoAsked(t *testing.T) {
	c := clustertest.New(t, 2, clustertest.Options{Setup: kv})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leader, follower := c.Leader(), c.Followers()[0]
	rulesReached := func(why string) {
		t.Helper()
		require.Eventually(t, func() bool {
			return leader.Node.Status().Rules >= cluster.BackupAuditRules && follower.Node.Status().Rules >= cluster.BackupAuditRules
		}, 15*time.Second, 20*time.Millisecond, why)
	}
	rulesReached("every member's record says its rules")

	n, info := newcomer(t, "joiner", t.TempDir(), nil)
	require.NoError(t, n.Start())
	info.RaftAddr = n.RaftAddr()
	require.NoError(t, follower.Node.JoinByHand(ctx, "duty-admin", info))
	require.NoError(t, follower.Node.RemoveMember(ctx, cluster.RemoveRequest{ID: "joiner", Actor: "night-admin"}))
	rulesReached("the joiner's record is gone with it")
	require.NoError(t, follower.Node.RecordBackup(ctx, "auditor", 42))

	self, selfInfo := newcomer(t, "self-joiner", t.TempDir(), nil)
	require.NoError(t, self.Start())
	selfInfo.RaftAddr = self.RaftAddr()
	require.NoError(t, follower.Node.Join(ctx, selfInfo), "a node that joins by itself (--join)")

	entries, _, err := leader.Node.Audit(ctx, muster.Linearizable, 0, 1000)
	require.NoError(t, err)
	by := map[string][]string{} // type → actors
	for _, e := range entries {
		by[e.Type] = append(by[e.Type], e.Actor)
	}
	assert.Contains(t, by["cluster.node.put"], "duty-admin", "the join by hand")
	assert.Contains(t, by["cluster.node.put"], "cluster", "the join by the node itself")
	assert.Equal(t, []string{"night-admin"}, by["cluster.node.delete"])
	assert.Equal(t, []string{"auditor"}, by[cluster.CmdBackupTaken])
}

// cluster join takes the node's HTTP address as HOST:PORT, as muster agent
// --http-addr takes it, and records it as a URL; one that is neither is
// refused as invalid, saying what form is wanted, where it was answered
// "start the node first" with a raw URL parse error (exploratory finding
// Z2). "Start it first" stays for an address nothing answers at.
func TestJoinByHandTakesHostPort(t *testing.T) {
	c := clustertest.New(t, 1, clustertest.Options{Setup: kv})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leader := c.Leader().Node
	n, info := newcomer(t, "hp", t.TempDir(), nil)
	require.NoError(t, n.Start())
	info.RaftAddr = n.RaftAddr()
	url := info.HTTPAddr
	hostPort := strings.TrimPrefix(url, "http://")

	for _, bad := range []string{"ftp://" + hostPort, "127.0.0.1", url + "/internal", "http://:8080"} {
		err := leader.JoinByHand(ctx, "admin", cluster.NodeInfo{ID: info.ID, RaftAddr: info.RaftAddr, HTTPAddr: bad})
		assert.True(t, muster.IsCode(err, muster.EInvalid), "%s: got %v", bad, err)
		assert.ErrorContains(t, err, "give the node's HTTP address as HOST:PORT (as its muster agent --http-addr) or as a URL such as http://", bad)
	}
	err := leader.JoinByHand(ctx, "admin", cluster.NodeInfo{ID: info.ID, RaftAddr: info.RaftAddr, HTTPAddr: "127.0.0.1:1"})
	assert.True(t, muster.IsCode(err, muster.EConflict), "got %v", err)
	assert.ErrorContains(t, err, "no muster node answers at http://127.0.0.1:1 (")
	assert.NotContains(t, err.Error(), "first path segment")
	require.Len(t, leader.Status().Servers, 1, "nothing was changed")

	require.NoError(t, leader.JoinByHand(ctx, "admin", cluster.NodeInfo{ID: info.ID, RaftAddr: info.RaftAddr, HTTPAddr: hostPort}))
	s, ok := serverAt(leader.Status(), info.ID)
	require.True(t, ok)
	assert.Equal(t, url, s.HTTPAddr, "recorded as a URL")
}

// A member removed while it ran, started again on its data dir with the
// --bootstrap its service definition keeps, says that it was removed and
// stops, where it campaigned for ever with no word of why (exploratory
// finding Z4). The bootstrapped first node restarted with --bootstrap is
// still just a member.
func TestRemovedNodeStartedWithBootstrapSaysSo(t *testing.T) {
	c := clustertest.New(t, 3, clustertest.Options{Setup: kv, Config: func(i int, cfg *cluster.Config) {
		cfg.Bootstrap = i == 0 // kept in its service definition
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first := c.Nodes[0]
	require.NoError(t, put(ctx, first.Node, "k", "v"))
	c.Stop(first)
	c.Restart(first)
	require.Eventually(t, func() bool {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return put(pctx, first.Node, "after-restart", "v") == nil
	}, 20*time.Second, 100*time.Millisecond, "the first node restarted with --bootstrap is a member")

	leader := c.WaitLeader(10 * time.Second)
	removed := removeWhileItRuns(ctx, t, c, leader, first)
	again, _ := newcomer(t, removed.Node.ID(), removed.DataDir, func(cfg *cluster.Config) { cfg.Bootstrap = true })
	err := again.Start()
	require.Error(t, err)
	assert.ErrorIs(t, err, cluster.ErrNotAMember)
	assert.Regexp(t, `this node \(`+removed.Node.ID()+`\) was removed from its cluster at raft index [1-9]\d*`, err.Error())
	assert.Contains(t, err.Error(), "empty its data dir "+removed.DataDir)
}

// removeWhileItRuns removes a follower other than keep through leader,
// waits until it has learnt of its removal, and stops it.
func removeWhileItRuns(ctx context.Context, t *testing.T, c *clustertest.Cluster, leader, keep *clustertest.Member) *clustertest.Member {
	t.Helper()
	var removed *clustertest.Member
	for _, m := range c.Followers() {
		if m != keep {
			removed = m
		}
	}
	require.NotNil(t, removed)
	require.NoError(t, leader.Node.Remove(ctx, removed.Node.ID()))
	require.Eventually(t, func() bool {
		_, listed := serverAt(removed.Node.Status(), removed.Node.ID())
		return !listed
	}, 10*time.Second, 20*time.Millisecond, "the removed node learns of its removal")
	c.Stop(removed)
	return removed
}
