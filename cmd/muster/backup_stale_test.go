package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/api"
)

// staleNode serves a backup as a node that is not ready does (api's
// backup handler): the copy, with why it may be behind and whom to ask.
func staleNode(headers map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write([]byte(strings.Repeat("x", 4096)))
	})
}

// muster backup from a node that is not ready (no known leader, catching
// up, removed) writes nothing and fails, saying how far behind and which
// node to ask, unless --allow-stale, which writes it with a warning
// (exploratory finding Z11: the old copy was written without a word).
func TestBackupFromANodeNotReady(t *testing.T) {
	catchingUp := staleNode(map[string]string{
		api.AppliedIndexHeader: "2269", api.ReadyHeader: "false", api.NotReadyHeader: "catching up: applied 2269 of 4573",
		api.CommitIndexHeader: "4573", api.LeaderHeader: "n3", api.LeaderHTTPHeader: "http://10.0.0.3:8080",
		"Content-Disposition": `attachment; filename="muster-n1-2269.db"`,
	})
	file := filepath.Join(t.TempDir(), "b.db")
	_, errOut, err := runOnFake(t, catchingUp, "backup", "-f", file)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "node n1 is not ready (catching up: applied 2269 of 4573): its copy, at raft index 2269, may be behind the cluster, 2304 entries behind the commit index 4573 it knows; ask the leader n3 instead (--addr http://10.0.0.3:8080)", errOut)
	assert.Contains(t, err.Error(), "the copy is not written")
	assert.NoFileExists(t, file)
	assert.NoFileExists(t, file+".partial")

	out, errOut, err := runOnFake(t, catchingUp, "backup", "-f", file, "--allow-stale")
	require.NoError(t, err, errOut)
	assert.Contains(t, errOut, "warning: node n1 is not ready (catching up: applied 2269 of 4573)")
	assert.Contains(t, errOut, "written as --allow-stale says")
	assert.Contains(t, out, "backup of node n1 at raft index 2269 written to")
	st, err := os.Stat(file)
	require.NoError(t, err)
	assert.Equal(t, int64(4096), st.Size())

	noLeader := staleNode(map[string]string{
		api.AppliedIndexHeader: "19400", api.ReadyHeader: "false", api.NotReadyHeader: "no known leader",
		api.CommitIndexHeader: "19400", "Content-Disposition": `attachment; filename="muster-n4-19400.db"`,
	})
	_, _, err = runOnFake(t, noLeader, "backup", "-f", filepath.Join(t.TempDir(), "n4.db"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "node n4 is not ready (no known leader): its copy, at raft index 19400, may be behind the cluster; it knows no leader: ask a member whose /readyz answers ready")

	ready := staleNode(map[string]string{api.AppliedIndexHeader: "7", api.ReadyHeader: "true", "Content-Disposition": `attachment; filename="muster-n2-7.db"`})
	out, errOut, err = runOnFake(t, ready, "backup", "-f", filepath.Join(t.TempDir(), "n2.db"))
	require.NoError(t, err, errOut)
	assert.Empty(t, errOut)
	assert.Contains(t, out, "backup of node n2 at raft index 7 written to")
}
