package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
)

// restoreEntries reads n's own audit chain, checks it, and returns its
// entries that record a restore, as the API shows them (JSON), and the
// chain's head.
func restoreEntries(t *testing.T, n *cluster.Node) ([]map[string]any, cluster.AuditHead) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	entries, head, err := n.Audit(ctx, muster.Stale, 0, 100000)
	require.NoError(t, err)
	_, err = cluster.VerifyAudit(cluster.AuditHead{}, entries)
	require.NoError(t, err, "%s's audit chain holds", n.ID())
	var out []map[string]any
	for _, e := range entries {
		if e.Type != "cluster.restored" {
			continue
		}
		raw, err := json.Marshal(e)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		out = append(out, m)
	}
	return out, head
}

// A cluster started over a restored backup says so in its audit chain: one
// entry, proposed by its first leader, that shows the restore (its number,
// the backup's raft index and time, when it was restored) and is covered by
// the chain's hashes. The members that join later hold the same entry, a
// new leader after a failover and a member restarted add none, and the
// same restore proposed again is refused and leaves no entry. Before, the
// restore left no trace in the chain: an auditor could not tell that the
// history went on from a backup.
func TestARestoreIsRecordedInTheAuditChainOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := clustertest.New(t, 1, clustertest.Options{Setup: kv})
	require.Eventually(t, func() bool { return c.Leader().Node.Status().Rules == muster.Rules }, 10*time.Second, 20*time.Millisecond)
	for i := range 3 {
		require.NoError(t, put(ctx, c.Leader().Node, fmt.Sprintf("k%d", i), "v"))
	}
	var backup bytes.Buffer
	idx, err := c.Leader().Node.FSM().Backup(&backup)
	require.NoError(t, err)
	before, _ := restoreEntries(t, c.Leader().Node)
	require.Empty(t, before)

	m := c.Nodes[0]
	c.Stop(m)
	c.Restore(m, backup.Bytes())
	n := c.WaitLeader(10 * time.Second).Node
	r, ok := n.FSM().Restored()
	require.True(t, ok)

	var got []map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for got, _ = restoreEntries(t, n); len(got) == 0; got, _ = restoreEntries(t, n) {
		require.True(t, time.Now().Before(deadline), "the restore is not in the audit chain")
		time.Sleep(20 * time.Millisecond)
	}
	require.Len(t, got, 1)
	e := got[0]
	assert.Equal(t, "cluster", e["actor"])
	assert.EqualValues(t, muster.Rules, e["rules"])
	shown, _ := json.Marshal(e["payload"])
	var said muster.Restore
	require.NoError(t, json.Unmarshal(shown, &said), "the entry shows the restore: %v", e)
	assert.Equal(t, 1, said.Count)
	assert.Equal(t, idx, said.BackupIndex)
	assert.True(t, said.BackupTime.Equal(r.BackupTime) && !said.BackupTime.IsZero(), "the backup's time: %v", said.BackupTime)
	assert.True(t, said.RestoredAt.Equal(r.RestoredAt), "when it was restored: %v", said.RestoredAt)

	// The payload shown is covered by the chain, also as a reader that
	// decoded and encoded the entries again has it (muster audit list -o
	// json); changed, it breaks the chain.
	entries, _, err := n.Audit(ctx, muster.Stale, 0, 100000)
	require.NoError(t, err)
	var loose any
	raw, err := json.Marshal(entries)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &loose))
	raw, err = json.MarshalIndent(loose, "", "  ")
	require.NoError(t, err)
	var again []cluster.AuditEntry
	require.NoError(t, json.Unmarshal(raw, &again))
	_, err = cluster.VerifyAudit(cluster.AuditHead{}, again)
	assert.NoError(t, err)
	for _, e := range loose.([]any) {
		if e := e.(map[string]any); e["type"] == "cluster.restored" {
			e["payload"].(map[string]any)["backup_index"] = idx + 1
		}
	}
	raw, err = json.Marshal(loose)
	require.NoError(t, err)
	again = nil
	require.NoError(t, json.Unmarshal(raw, &again))
	_, err = cluster.VerifyAudit(cluster.AuditHead{}, again)
	assert.ErrorContains(t, err, "the payload it shows hashes to")

	// The same restore proposed again is refused: no second entry.
	rec, _ := json.Marshal(r)
	err = n.Apply(ctx, &muster.Command{Type: "cluster.restored", Actor: "test", Ignorable: true, Payload: rec}, nil)
	assert.Equal(t, muster.EConflict, muster.ErrorCode(err), "%v", err)

	// Members that join hold the same entry; a failover and a restart
	// add none.
	c.Add()
	c.Add()
	require.NoError(t, put(ctx, n, "joined", "v"))
	old := c.WaitLeader(10 * time.Second)
	c.Stop(old)
	lead := c.WaitLeader(20 * time.Second)
	require.NoError(t, put(ctx, lead.Node, "failover", "v"))
	c.Restart(old)
	c.WaitLeader(20 * time.Second)
	require.NoError(t, put(ctx, c.Leader().Node, "restart", "v"))
	c.WaitApplied(c.Leader().Node.FSM().AppliedIndex(), 20*time.Second)
	// Every member comes to hold the same chain: an audited write of the
	// members' own (a member record put as a node starts) may still be on
	// its way to some when the write above was applied on all. A chain that
	// forked would never agree.
	var heads []cluster.AuditHead
	require.Eventually(t, func() bool {
		heads = heads[:0]
		for _, mm := range c.Nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, head, err := mm.Node.Audit(ctx, muster.Stale, 0, 100000)
			cancel()
			if err != nil {
				return false
			}
			heads = append(heads, head)
		}
		for _, h := range heads[1:] {
			if !assert.ObjectsAreEqual(heads[0], h) {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond, "every member holds the same chain")
	for _, mm := range c.Nodes {
		got, _ := restoreEntries(t, mm.Node)
		assert.Len(t, got, 1, "%s holds one restore entry", mm.Node.ID())
	}
}
