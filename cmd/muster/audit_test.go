package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/api"
	"muster/cluster"
)

// muster audit list shows who did what on a real dev node, and muster
// audit verify checks its chain and prints the head.
func TestAuditListAndVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	require.GreaterOrEqual(t, muster.Rules, cluster.AuditRules, "this muster keeps the audit chain")
	_, _, env := statusDev(t)
	r := runCLI(t, env, "activate", "flood-control", "--region", "990101", "--level", "IV", "--purpose", "exercise", "--reason", "防汛通讯演练", "--yes", "-o", "json")
	require.Zero(t, r.code, r.stderr)

	r = runCLI(t, env, "audit", "list", "--all")
	require.Zero(t, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	assert.Equal(t, []string{"SEQ", "INDEX", "TIME", "COMMAND", "BY"}, strings.Fields(lines[0]))
	var created []string
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 0 && f[len(f)-2] == "activation.create" {
			created = append(created, l)
		}
	}
	require.Len(t, created, 1, r.stdout)
	assert.Equal(t, "bootstrap-admin", strings.Fields(created[0])[len(strings.Fields(created[0]))-1])

	r = runCLI(t, env, "audit", "list", "--limit", "1000", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var page api.AuditPage
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &page))
	require.NotEmpty(t, page.Items)
	_, err := cluster.VerifyAudit("", page.Items)
	assert.NoError(t, err)

	// The leader's services may still write (results of the exercise's
	// sends): verify reads a chain that can grow while it reads, and says so.
	require.Eventually(t, func() bool {
		r = runCLI(t, env, "audit", "verify")
		require.Zero(t, r.code, r.stderr)
		return strings.Contains(r.stdout, "entries, intact\nhead: entry ")
	}, 30*time.Second, 200*time.Millisecond, "verify: %s", r.stdout)
	assert.Regexp(t, `^audit chain of the node at http://\S+: \d+ entries, intact\nhead: entry \d+ \(raft index \d+\) [0-9a-f]{64}\n$`, r.stdout)
}

// verify names the entry where a chain was changed, and exits 1.
func TestAuditVerifyFindsAChangedEntry(t *testing.T) {
	chain := make([]cluster.AuditEntry, 4)
	prev := ""
	for i := range chain {
		e := cluster.AuditEntry{Seq: uint64(i + 1), Index: uint64(10 + i), ID: "c" + string(rune('a'+i)), Type: "token.create", Actor: "bootstrap-admin",
			Time: time.Date(2026, 12, 6, 8, 0, i, 0, time.UTC), Rules: 12, Payload: strings.Repeat("0", 64), Prev: prev}
		e.Hash = e.Sum()
		chain[i], prev = e, e.Hash
	}
	head := cluster.AuditHead{Seq: 4, Index: 13, Hash: prev}
	out := mustRunOnFake(t, fakeAPI{"GET /api/v1/audit": api.AuditPage{Items: chain, Head: head}}, "audit", "verify")
	assert.Contains(t, out, "4 entries, intact\nhead: entry 4 (raft index 13) "+prev)

	changed := append([]cluster.AuditEntry(nil), chain...)
	changed[2].Actor = "值班员"
	_, _, err := runOnFake(t, fakeAPI{"GET /api/v1/audit": api.AuditPage{Items: changed, Head: head}}, "audit", "verify")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is broken after 2 good entries: audit entry 3 (token.create by 值班员 at 2026-12-06T08:00:02Z) was changed")

	// The last entry taken out, the head left: the head no longer matches.
	_, _, err = runOnFake(t, fakeAPI{"GET /api/v1/audit": api.AuditPage{Items: chain[:3], Head: head}}, "audit", "verify")
	require.NoError(t, err, "a head further on is a chain that grew while it was read")
	_, _, err = runOnFake(t, fakeAPI{"GET /api/v1/audit": api.AuditPage{Items: chain[:3], Head: cluster.AuditHead{Seq: 3, Index: 12, Hash: prev}}}, "audit", "verify")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "its head says entry 3 with hash "+prev)
}
