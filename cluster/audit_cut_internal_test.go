package cluster

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
)

// ruledLog is a raft entry of a command under rules, stamped at at.
func ruledLog(t *testing.T, idx uint64, c muster.Command, rules int, at time.Time) *raft.Log {
	t.Helper()
	c.ID, c.Rules, c.Time = fmt.Sprint(idx), rules, at
	b, err := c.MarshalBinary()
	require.NoError(t, err)
	return &raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: b}
}

// A cut without a max removes at most AuditCutMax entries a command: a
// chain of 25,000 entries is cut in three commands, each one bbolt
// transaction, and the chain left verifies from the checkpoint.
func TestAuditCutIsBoundedPerCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 25,000 audit entries")
	}
	f := testFSM(t)
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	const entries = 25000
	idx := uint64(0)
	for idx < entries {
		batch := make([]*raft.Log, 0, 1000)
		for range 1000 {
			idx++
			batch = append(batch, ruledLog(t, idx, muster.Command{Type: "kv.put", Actor: "test", Payload: fmt.Appendf(nil, `["k%d","v"]`, idx)}, AuditCutRules, at))
		}
		for _, r := range f.ApplyBatch(batch) {
			require.NoError(t, r.(result).err)
		}
	}
	var through AuditEntry
	require.NoError(t, f.View(func(tx *bolt.Tx) error {
		e, ok, err := auditEntryAt(tx.Bucket(auditBucket), entries)
		require.True(t, ok)
		through = e
		return err
	}))

	req, err := json.Marshal(AuditCutRequest{From: 1, Through: entries, Hash: through.Hash, Reason: "archived"})
	require.NoError(t, err)
	var removed []uint64
	for i := range 4 {
		idx++
		start := time.Now()
		r := f.ApplyBatch([]*raft.Log{ruledLog(t, idx, muster.Command{Type: CmdAuditCut, Actor: "auditor", Ignorable: true, Payload: req}, AuditCutRules, at)})[0].(result)
		require.NoError(t, r.err)
		res := r.value.(AuditCutResult)
		t.Logf("cut command %d: %d entries removed in %v", i+1, res.Removed, time.Since(start))
		removed = append(removed, res.Removed)
		if res.Remaining == 0 {
			break
		}
	}
	assert.Equal(t, []uint64{AuditCutMax, AuditCutMax, entries - 2*AuditCutMax}, removed)

	require.NoError(t, f.View(func(tx *bolt.Tx) error {
		cp, err := readAuditCheckpoint(tx.Bucket(metaBucket))
		require.NoError(t, err)
		assert.Equal(t, AuditCheckpoint{Seq: entries, Hash: through.Hash, Time: at, Actor: "auditor", Reason: "archived"}, cp)
		var left []AuditEntry
		err = tx.Bucket(auditBucket).ForEach(func(_, v []byte) error {
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			left = append(left, e)
			return nil
		})
		require.NoError(t, err)
		require.Len(t, left, 3, "the cut's own three entries")
		for _, e := range left {
			assert.Equal(t, CmdAuditCut, e.Type)
		}
		_, err = VerifyAudit(cp.Before(), left)
		return err
	}))
}
