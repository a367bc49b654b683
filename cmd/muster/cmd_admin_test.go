package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The token tables show what -o json has: the new token's ID, name, holder
// and role, and each token's creation time and creator.
func TestTokenTables(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	addr := freePort(t)
	dev := startProc(t, "dev", nil, "dev", "--data-dir", filepath.Join(t.TempDir(), "data"), "--http-addr", addr, "--people", "100", "--log-level", "warn")
	token := strings.Fields(dev.waitOutput("admin token:", 60*time.Second))[0]
	env := []string{"MUSTER_ADDR=http://" + addr, "MUSTER_TOKEN=" + token}

	r := runCLI(t, env, "token", "create", "--role", "approver", "--name", "值班领导", "--holder", "李明")
	require.Zero(t, r.code, r.stderr)
	m := regexp.MustCompile(`^token ([0-9a-f]+) \(值班领导, held by 李明, role approver\):\n(mst_\S+)\n$`).FindStringSubmatch(r.stdout)
	require.NotNil(t, m, "the ID, name, holder and role, then the secret: %q", r.stdout)
	id := m[1]

	r = runCLI(t, env, "token", "list", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var l struct {
		Items []struct {
			ID        string    `json:"id"`
			Name      string    `json:"name"`
			Holder    string    `json:"holder"`
			Role      string    `json:"role"`
			CreatedAt time.Time `json:"created_at"`
			CreatedBy string    `json:"created_by"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &l), r.stdout)
	require.Len(t, l.Items, 2, "the admin token and the new one")

	r = runCLI(t, env, "token", "list")
	require.Zero(t, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 3, r.stdout)
	assert.Equal(t, []string{"ID", "NAME", "HOLDER", "ROLE", "CREATED"}, strings.Fields(lines[0]))
	assert.NotContains(t, r.stdout, "0001-01-01")
	found := false
	for i, tok := range l.Items {
		require.NotEmpty(t, tok.CreatedBy, "json has the creator")
		holder := tok.Holder
		if tok.ID == id {
			assert.Equal(t, "李明", holder)
		} else {
			assert.Empty(t, holder, "the admin token was issued without a holder")
			holder = tok.Name // its name stands for the holder
		}
		want := []string{tok.ID, tok.Name, holder, tok.Role, tok.CreatedAt.Local().Format("2006-01-02"), tok.CreatedAt.Local().Format("15:04"), tok.CreatedAt.Local().Format("-07:00"), "by", tok.CreatedBy}
		assert.Equal(t, want, strings.Fields(lines[i+1]))
		found = found || tok.ID == id
	}
	assert.True(t, found, "the new token %s is listed", id)
}
