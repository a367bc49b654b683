package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
)

// muster cluster status and muster audit list name a restore's tag, as
// their JSON does: two restores of one backup (a rehearsal and the real
// one) have the same number, and the tag ends the attempt IDs the
// provider's records show. A restore by an earlier build has none and
// shows none.
func TestRestoreTagIsShown(t *testing.T) {
	taken := time.Date(2026, 12, 7, 2, 14, 6, 0, time.UTC)
	r := muster.Restore{Count: 2, Tag: "k3f9q", BackupIndex: 3644, BackupTime: taken, RestoredAt: taken.Add(20 * time.Minute)}
	const tagged = ", tag k3f9q (attempt IDs since end in .r2-k3f9q)"

	st := cluster.Status{NodeID: "n1", State: "Leader", LeaderID: "n1", Rules: muster.Rules, NodeRules: muster.Rules, Restored: &r}
	out := mustRunOnFake(t, fakeAPI{"GET /api/v1/cluster/status": st}, "cluster", "status")
	assert.Contains(t, out, "RESTORED: restore 2, over a backup taken at "+showTime(taken, time.Local, secondLayout)+
		" (raft index 3644 of the cluster it was taken of), restored "+showTime(r.RestoredAt, time.Local, secondLayout)+tagged+"\n", out)

	payload, err := json.Marshal(r)
	require.NoError(t, err)
	sum := sha256.Sum256(payload)
	e := cluster.AuditEntry{Seq: 1, Index: 3, ID: "c1", Type: "cluster.restored", Actor: "cluster", Time: r.RestoredAt.Add(time.Second), Rules: 13, Payload: hex.EncodeToString(sum[:])}
	e.Hash = e.Sum()
	item := map[string]any{}
	raw, err := json.Marshal(e)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &item))
	item["payload"] = json.RawMessage(payload)
	page := map[string]any{"items": []any{item}, "next": "", "head": cluster.AuditHead{Seq: 1, Index: 3, Hash: e.Hash}}
	out = mustRunOnFake(t, fakeAPI{"GET /api/v1/audit": page}, "audit", "list")
	assert.Contains(t, out, "cluster.restored: RESTORED, restore 2, over a backup taken at ", out)
	assert.Contains(t, out, tagged, out)

	r.Tag = ""
	out = mustRunOnFake(t, fakeAPI{"GET /api/v1/cluster/status": st}, "cluster", "status")
	assert.Contains(t, out, "restored "+showTime(r.RestoredAt, time.Local, secondLayout)+"\n", out)
	assert.NotContains(t, out, "tag", out)
}
