package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/api"
	"muster/cluster"
)

// audit list shows, beside the token an entry names (BY), the person who
// held it then where another than its name (HOLDER), from the page's
// holders, and says on stderr that the column comes from the token
// records, not from the chain; - where the holder is the name or unknown.
// -o json passes the holders on.
func TestAuditListShowsTheHolder(t *testing.T) {
	chain := auditChain(3, 0)
	page := api.AuditPage{Items: chain, Head: cluster.AuditHead{Seq: 3, Index: 12, Hash: chain[2].Hash},
		Holders: map[string]string{"1": "bootstrap-admin", "2": "李四"}}
	out, stderr, err := runOnFake(t, fakeAPI{"GET /api/v1/audit": page}, "audit", "list")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4, out)
	assert.Equal(t, []string{"SEQ", "INDEX", "TIME", "COMMAND", "BY", "HOLDER"}, strings.Fields(lines[0]))
	for i, want := range []string{"-", "李四", "-"} {
		f := strings.Fields(lines[i+1])
		assert.Equal(t, []string{"bootstrap-admin", want}, f[len(f)-2:], "entry %d", i+1)
	}
	assert.Contains(t, stderr, "HOLDER: who held the token named in BY then, from the token records as they are now, not from the chain")

	out, _, err = runOnFake(t, fakeAPI{"GET /api/v1/audit": page}, "audit", "list", "-o", "json")
	require.NoError(t, err)
	var got api.AuditPage
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, page.Holders, got.Holders)
	_, err = cluster.VerifyAudit(cluster.AuditHead{}, got.Items)
	assert.NoError(t, err)
}
