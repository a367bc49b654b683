package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster"
)

// muster audit list shows what a restore's entry records: the restore's
// number, the backup's time and raft index, and when it was restored; and
// muster audit verify checks the payload the entry shows against its hash,
// also once a reader has it indented (-o json). Before, the entry's
// command was all the list said.
func TestAuditListShowsARestore(t *testing.T) {
	taken := time.Date(2026, 12, 7, 2, 14, 6, 0, time.UTC)
	restored := taken.Add(20 * time.Minute)
	payload := `{"backup_index":3644,"backup_time":"2026-12-07T02:14:06Z","count":1,"restored_at":"2026-12-07T02:34:06Z"}`
	sum := sha256.Sum256([]byte(payload))
	e := cluster.AuditEntry{Seq: 1, Index: 3, ID: "c1", Type: "cluster.restored", Actor: "cluster", Time: restored.Add(time.Second), Rules: 13, Payload: hex.EncodeToString(sum[:])}
	e.Hash = e.Sum()
	item := map[string]any{}
	raw, err := json.Marshal(e)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &item))
	item["payload"] = json.RawMessage(payload)
	page := map[string]any{"items": []any{item}, "next": "", "head": cluster.AuditHead{Seq: 1, Index: 3, Hash: e.Hash}}

	out := mustRunOnFake(t, fakeAPI{"GET /api/v1/audit": page}, "audit", "list")
	assert.Contains(t, out, "cluster.restored: RESTORED, restore 1, over a backup taken at "+showTime(taken, time.Local, secondLayout)+
		" (raft index 3644 of the cluster it was taken of), restored "+showTime(restored, time.Local, secondLayout), out)
	out = mustRunOnFake(t, fakeAPI{"GET /api/v1/audit": page}, "audit", "verify")
	assert.Contains(t, out, "1 entry, intact", out)

	item["payload"] = json.RawMessage(`{"backup_index":3645,"backup_time":"2026-12-07T02:14:06Z","count":1,"restored_at":"2026-12-07T02:34:06Z"}`)
	_, _, err = runOnFake(t, fakeAPI{"GET /api/v1/audit": page}, "audit", "verify")
	assert.ErrorContains(t, err, "the payload it shows hashes to")
}
