package cluster_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
)

// A cut removes the oldest entries of the chain, up to an entry whose hash
// the export holds, in commands of at most Max entries; every replica
// holds the same chain after it, starting from the same checkpoint, and
// each of the cut's commands leaves its own entry. A cut whose hash is not
// the chain's, or whose export starts after the chain does, cuts nothing.
func TestAuditCutIsTheSameOnEveryReplica(t *testing.T) {
	c := clustertest.New(t, 3, clustertest.Options{Setup: kv, Config: func(_ int, cfg *cluster.Config) { cfg.Rules = cluster.AuditCutRules }})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	leader := c.WaitLeader(15 * time.Second)
	require.Eventually(t, func() bool { return leader.Node.Status().Rules >= cluster.AuditCutRules }, 20*time.Second, 20*time.Millisecond)
	for i := range 30 {
		require.NoError(t, put(ctx, c.Nodes[i%3].Node, fmt.Sprintf("k%d", i), "v"))
	}
	export, head, err := leader.Node.Audit(ctx, muster.Default, 0, 10000)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(export), 30)
	assert.Zero(t, head.Checkpoint, "never cut")
	through := export[19]
	follower := c.Followers()[0].Node

	// The export's last hash is not the chain's: refused, nothing cut.
	_, err = follower.CutAudit(ctx, "auditor", cluster.AuditCutRequest{From: 1, Through: through.Seq, Hash: strings.Repeat("0", 64), Reason: "kept on the archive share"})
	require.Error(t, err)
	assert.Equal(t, muster.EConflict, muster.ErrorCode(err), "%v", err)
	assert.ErrorContains(t, err, fmt.Sprintf("the audit chain's entry %d has hash %s", through.Seq, through.Hash[:12]))
	assert.ErrorContains(t, err, "nothing was cut")
	// An export that starts after the chain does: refused too.
	_, err = leader.Node.CutAudit(ctx, "auditor", cluster.AuditCutRequest{From: 2, Through: through.Seq, Hash: through.Hash, Reason: "kept on the archive share"})
	assert.ErrorContains(t, err, "the export starts at entry 2, but the chain still holds the entries from 1")
	now, nowHead, err := leader.Node.Audit(ctx, muster.Default, 0, 10000)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), now[0].Seq, "nothing cut")
	assert.Zero(t, nowHead.Checkpoint)

	// Cut through entry 20, at most 7 entries a command: three commands.
	req := cluster.AuditCutRequest{From: 1, Through: through.Seq, Hash: through.Hash, Reason: "kept on the archive share", Max: 7}
	var removed []uint64
	for {
		res, err := follower.CutAudit(ctx, "auditor", req)
		require.NoError(t, err)
		removed = append(removed, res.Removed)
		assert.Equal(t, through.Seq-res.Checkpoint.Seq, res.Remaining)
		if res.Remaining == 0 {
			assert.Equal(t, through.Hash, res.Checkpoint.Hash)
			break
		}
		assert.Equal(t, export[res.Checkpoint.Seq-1].Hash, res.Checkpoint.Hash, "the checkpoint is the last entry cut")
		require.Less(t, len(removed), 10, "the cut goes on")
	}
	assert.Equal(t, []uint64{7, 7, 6}, removed)
	_, err = leader.Node.CutAudit(ctx, "auditor", req)
	assert.ErrorContains(t, err, fmt.Sprintf("the audit chain was cut through entry %d already: entries before 21 were cut on ", through.Seq))

	require.NoError(t, put(ctx, leader.Node, "last", "v"))
	c.WaitApplied(leader.Node.FSM().AppliedIndex(), 20*time.Second)
	chains := make([][]cluster.AuditEntry, 3)
	heads := make([]cluster.AuditHead, 3)
	for i, m := range c.Nodes {
		chains[i], heads[i], err = m.Node.Audit(ctx, muster.Stale, 0, 10000)
		require.NoError(t, err)
		cp := heads[i].Checkpoint
		assert.Equal(t, through.Seq, cp.Seq, "node%d", i)
		assert.Equal(t, through.Hash, cp.Hash, "node%d", i)
		assert.Equal(t, "auditor", cp.Actor)
		assert.Equal(t, "kept on the archive share", cp.Reason)
		assert.False(t, cp.Time.IsZero())
		require.NotEmpty(t, chains[i])
		assert.Equal(t, through.Seq+1, chains[i][0].Seq, "node%d: the chain starts after the checkpoint", i)
		last, err := cluster.VerifyAudit(cp.Before(), chains[i])
		require.NoError(t, err, "node%d: verified from the checkpoint", i)
		assert.Equal(t, heads[i].Seq, last.Seq)
		assert.Equal(t, heads[i].Hash, last.Hash)
		_, err = cluster.VerifyAudit(cluster.AuditHead{}, chains[i])
		assert.Error(t, err, "node%d: not from the chain's start", i)
	}
	assert.Equal(t, heads[0], heads[1])
	assert.Equal(t, heads[0], heads[2])
	assert.Equal(t, chains[0], chains[1])
	assert.Equal(t, chains[0], chains[2])

	var cuts []cluster.AuditEntry
	for _, e := range chains[0] {
		if e.Type == cluster.CmdAuditCut {
			cuts = append(cuts, e)
		}
	}
	require.Len(t, cuts, 3, "each command of the cut leaves an entry; the refused ones none")
	for _, e := range cuts {
		assert.Equal(t, "auditor", e.Actor)
		assert.GreaterOrEqual(t, e.Rules, cluster.AuditCutRules)
	}
	assert.Equal(t, export[len(export)-1].Hash, chains[0][len(export)-20-1].Hash, "the entries after the cut are those exported")
}

// Under rules before the cut's, the leader refuses to propose it, and a
// replica that is given it refuses to apply it: the chain stays whole.
func TestAuditCutRefusedUnderOlderRules(t *testing.T) {
	c := clustertest.New(t, 1, clustertest.Options{Setup: kv, Config: func(_ int, cfg *cluster.Config) { cfg.Rules = cluster.AuditCutRules - 1 }})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := c.WaitLeader(15 * time.Second).Node
	require.Eventually(t, func() bool { return n.Status().Rules >= cluster.AuditRules }, 20*time.Second, 20*time.Millisecond)
	for i := range 5 {
		require.NoError(t, put(ctx, n, fmt.Sprintf("k%d", i), "v"))
	}
	entries, head, err := n.Audit(ctx, muster.Default, 0, 100)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	req := cluster.AuditCutRequest{From: 1, Through: head.Seq, Hash: head.Hash, Reason: "archived"}

	_, err = n.CutAudit(ctx, "auditor", req)
	assert.Equal(t, muster.EConflict, muster.ErrorCode(err), "%v", err)
	assert.ErrorContains(t, err, fmt.Sprintf("needs every member's rules at %d, and the cluster's are %d", cluster.AuditCutRules, cluster.AuditCutRules-1))

	// Proposed anyway (as a leader of an older muster would never do): the
	// state machine refuses it under these rules.
	err = n.Apply(ctx, &muster.Command{Type: cluster.CmdAuditCut, Actor: "auditor", Ignorable: true, Payload: []byte(
		fmt.Sprintf(`{"from":1,"through":%d,"hash":%q,"reason":"archived"}`, head.Seq, head.Hash))}, nil)
	assert.ErrorContains(t, err, fmt.Sprintf("cutting the audit chain needs state-machine rules %d", cluster.AuditCutRules))

	after, afterHead, err := n.Audit(ctx, muster.Default, 0, 100)
	require.NoError(t, err)
	assert.Equal(t, entries, after, "nothing cut, and no entry for the refused cut")
	assert.Equal(t, head, afterHead)
}

// An entry taken out and the chain after it numbered and hashed again
// from there would verify hash by hash: the numbers tell.
func TestVerifyAuditChecksTheNumbers(t *testing.T) {
	chain := make([]cluster.AuditEntry, 5)
	prev := ""
	for i := range chain {
		e := cluster.AuditEntry{Seq: uint64(i + 1), Index: uint64(20 + i), ID: fmt.Sprint(i), Type: "kv.put", Actor: "test",
			Time: time.Date(2026, 12, 6, 9, 0, i, 0, time.UTC), Rules: cluster.AuditCutRules, Payload: strings.Repeat("0", 64), Prev: prev}
		e.Hash = e.Sum()
		chain[i], prev = e, e.Hash
	}
	last, err := cluster.VerifyAudit(cluster.AuditHead{}, chain)
	require.NoError(t, err)
	assert.Equal(t, cluster.AuditHead{Seq: 5, Index: 24, Hash: prev}, last)

	// Entry 3 taken out, entries 4 and 5 hashed again onto entry 2.
	forged := append(append([]cluster.AuditEntry(nil), chain[:2]...), chain[3:]...)
	for i := 2; i < len(forged); i++ {
		forged[i].Prev = forged[i-1].Hash
		forged[i].Hash = forged[i].Sum()
	}
	_, err = cluster.VerifyAudit(cluster.AuditHead{}, forged)
	assert.ErrorContains(t, err, "audit entry 4 (kv.put by test at 2026-12-06T09:00:03Z) follows entry 2: the chain was numbered again")

	// From a checkpoint: the entry after it, and no other.
	_, err = cluster.VerifyAudit(cluster.AuditCheckpoint{Seq: 2, Hash: chain[1].Hash}.Before(), chain[2:])
	assert.NoError(t, err)
	_, err = cluster.VerifyAudit(cluster.AuditCheckpoint{Seq: 2, Hash: chain[1].Hash}.Before(), chain[3:])
	assert.ErrorContains(t, err, "audit entry 4 ")
}
