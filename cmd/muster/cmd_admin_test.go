package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The token tables show what -o json has: the new token's ID, name, holder,
// phone and role, and each token's creation time and creator.
func TestTokenTables(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	addr := freePort(t)
	dev := startProc(t, "dev", nil, "dev", "--data-dir", filepath.Join(t.TempDir(), "data"), "--http-addr", addr, "--people", "100", "--log-level", "warn")
	token := strings.Fields(dev.waitOutput("admin token:", 60*time.Second))[0]
	env := []string{"MUSTER_ADDR=http://" + addr, "MUSTER_TOKEN=" + token}

	r := runCLI(t, env, "token", "create", "--role", "approver", "--name", "值班领导", "--holder", "李明", "--phone", "139 0000 0002")
	require.Zero(t, r.code, r.stderr)
	m := regexp.MustCompile(`^token ([0-9a-f]+) \(值班领导, held by 李明, phone \+8613900000002, role approver\):\n(mst_\S+)\n$`).FindStringSubmatch(r.stdout)
	require.NotNil(t, m, "the ID, name, holder, phone (in E.164) and role, then the secret: %q", r.stdout)
	id := m[1]
	r = runCLI(t, env, "token", "create", "--role", "approver", "--name", "座机", "--phone", "010-12345678")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "landline", "a phone for texts is a mobile")

	r = runCLI(t, env, "token", "list", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var l struct {
		Items []struct {
			ID        string    `json:"id"`
			Name      string    `json:"name"`
			Holder    string    `json:"holder"`
			Phone     string    `json:"phone"`
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
	assert.Equal(t, []string{"ID", "NAME", "HOLDER", "PHONE", "ROLE", "CREATED"}, strings.Fields(lines[0]))
	assert.NotContains(t, r.stdout, "0001-01-01")
	found := false
	for i, tok := range l.Items {
		require.NotEmpty(t, tok.CreatedBy, "json has the creator")
		holder, phone := tok.Holder, tok.Phone
		if tok.ID == id {
			assert.Equal(t, "李明", holder)
			assert.Equal(t, "+8613900000002", phone)
		} else {
			assert.Empty(t, holder, "the admin token was issued without a holder")
			holder = tok.Name // its name stands for the holder
			assert.Empty(t, phone)
			phone = "-"
		}
		want := []string{tok.ID, tok.Name, holder, phone, tok.Role, tok.CreatedAt.Local().Format("2006-01-02"), tok.CreatedAt.Local().Format("15:04"), tok.CreatedAt.Local().Format("-07:00"), "by", tok.CreatedBy}
		assert.Equal(t, want, strings.Fields(lines[i+1]))
		found = found || tok.ID == id
	}
	assert.True(t, found, "the new token %s is listed", id)
}

// token create sends the phone only when one is given (a node before
// phones on tokens refuses a request that names a field it does not know),
// and says it as the node stored it.
func TestTokenCreateSendsThePhone(t *testing.T) {
	var bodies []map[string]string
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b map[string]string
		require.NoError(t, json.NewDecoder(r.Body).Decode(&b))
		bodies = append(bodies, b)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		tok := map[string]string{"id": "0123456789abcdef", "name": b["name"], "role": b["role"], "secret": "mst_x"}
		if b["phone"] != "" {
			tok["phone"] = "+8613900000002"
		}
		json.NewEncoder(w).Encode(tok)
	})
	out := mustRunOnFake(t, api, "token", "create", "--role", "approver", "--name", "李四-手机", "--phone", "139 0000 0002")
	assert.Equal(t, "token 0123456789abcdef (李四-手机, held by 李四-手机, phone +8613900000002, role approver):\nmst_x\n", out)
	out = mustRunOnFake(t, api, "token", "create", "--role", "viewer")
	assert.Equal(t, "token 0123456789abcdef (viewer, held by viewer, role viewer):\nmst_x\n", out)
	require.Len(t, bodies, 2)
	assert.Equal(t, map[string]string{"name": "李四-手机", "holder": "", "role": "approver", "phone": "139 0000 0002"}, bodies[0])
	assert.NotContains(t, bodies[1], "phone")
}
