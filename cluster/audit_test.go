package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
)

// Every command applied under the audit rules leaves one entry in a hash
// chain, the same on every replica; a rejected one leaves none; changing,
// taking out or putting in an entry is found by VerifyAudit, which names
// the entry.
func TestAuditChainIsTheSameOnEveryReplica(t *testing.T) {
	c := clustertest.New(t, 3, clustertest.Options{Setup: kv, Config: func(_ int, cfg *cluster.Config) { cfg.Rules = cluster.AuditRules }})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	leader := c.WaitLeader(15 * time.Second)
	require.Eventually(t, func() bool { return leader.Node.Status().Rules >= cluster.AuditRules }, 20*time.Second, 20*time.Millisecond)
	for i := range 30 {
		require.NoError(t, put(ctx, c.Nodes[i%3].Node, fmt.Sprintf("k%d", i), "v"))
	}
	require.Error(t, leader.Node.Apply(ctx, &muster.Command{Type: "kv.put", Actor: "test", Payload: []byte(`{"K":""}`)}, nil), "rejected")
	require.NoError(t, put(ctx, leader.Node, "last", "v"))
	c.WaitApplied(leader.Node.FSM().AppliedIndex(), 20*time.Second)

	chains := make([][]cluster.AuditEntry, 3)
	heads := make([]cluster.AuditHead, 3)
	for i, m := range c.Nodes {
		var err error
		chains[i], heads[i], err = m.Node.Audit(ctx, muster.Stale, 0, 10000)
		require.NoError(t, err)
		last, err := cluster.VerifyAudit(cluster.AuditHead{}, chains[i])
		require.NoError(t, err, "node%d", i)
		assert.Equal(t, heads[i], last, "node%d: the head is the last entry", i)
	}
	assert.Equal(t, heads[0], heads[1])
	assert.Equal(t, heads[0], heads[2])
	assert.Equal(t, chains[0], chains[1])
	assert.Equal(t, chains[0], chains[2])

	puts := 0
	for i, e := range chains[0] {
		assert.Equal(t, uint64(i+1), e.Seq)
		assert.GreaterOrEqual(t, e.Rules, cluster.AuditRules)
		assert.Len(t, e.Payload, 64)
		if e.Type == "kv.put" {
			puts++
			assert.Equal(t, "test", e.Actor)
			assert.NotEmpty(t, e.ID)
			assert.False(t, e.Time.IsZero())
		}
	}
	assert.Equal(t, 31, puts, "every put, and not the rejected one")

	// Paged: the next page goes on from the last entry's hash.
	first, _, err := leader.Node.Audit(ctx, muster.Stale, 0, 10)
	require.NoError(t, err)
	rest, _, err := leader.Node.Audit(ctx, muster.Stale, first[len(first)-1].Seq, 10000)
	require.NoError(t, err)
	prev, err := cluster.VerifyAudit(cluster.AuditHead{}, first)
	require.NoError(t, err)
	_, err = cluster.VerifyAudit(prev, rest)
	require.NoError(t, err)
	assert.Len(t, rest, len(chains[0])-10)

	// Tampering is found, at the entry where it was done: a put's (the
	// members' own records may come between the puts).
	chain := chains[0]
	k := slices.IndexFunc(chain, func(e cluster.AuditEntry) bool { return e.Type == "kv.put" })
	require.True(t, k >= 0 && k+2 < len(chain), "a put with two entries after it")
	changed := append([]cluster.AuditEntry(nil), chain...)
	changed[k].Actor = "someone else"
	_, err = cluster.VerifyAudit(cluster.AuditHead{}, changed)
	assert.ErrorContains(t, err, fmt.Sprintf("audit entry %d (kv.put by someone else", changed[k].Seq))
	assert.ErrorContains(t, err, "was changed")
	rehashed := append([]cluster.AuditEntry(nil), changed...)
	rehashed[k].Hash = rehashed[k].Sum() // and its hash made to match: the next one no longer does
	_, err = cluster.VerifyAudit(cluster.AuditHead{}, rehashed)
	assert.ErrorContains(t, err, fmt.Sprintf("audit entry %d ", chain[k+1].Seq))
	assert.ErrorContains(t, err, "was taken out, put in or changed before it")
	removed := append(append([]cluster.AuditEntry(nil), chain[:k+1]...), chain[k+2:]...)
	_, err = cluster.VerifyAudit(cluster.AuditHead{}, removed)
	assert.ErrorContains(t, err, fmt.Sprintf("audit entry %d ", chain[k+2].Seq))
}

// Under rules before the audit's, nothing is written: an older replica
// would not write it, and replicas must hold the same state.
func TestNoAuditChainUnderOlderRules(t *testing.T) {
	c := clustertest.New(t, 1, clustertest.Options{Setup: kv, Config: func(_ int, cfg *cluster.Config) { cfg.Rules = cluster.AuditRules - 1 }})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := c.WaitLeader(15 * time.Second).Node
	require.NoError(t, put(ctx, n, "k", "v"))
	entries, head, err := n.Audit(ctx, muster.Default, 0, 100)
	require.NoError(t, err)
	assert.Empty(t, entries)
	assert.Zero(t, head)
}
