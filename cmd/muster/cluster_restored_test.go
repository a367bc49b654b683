package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
)

// muster cluster status of a cluster started over a restored backup says
// so (RESTORED: the restore's number, when the backup was taken, its raft
// index), and names the public URL each member gives the providers for
// their webhooks and people in answer links, in the table and in JSON:
// here a load balancer's on the restored node, and its own address on the
// node that joined without --public-url. The audit chain records the
// restore. Before, the status said neither, and an operator could learn
// the public URLs only from each node's start-up log.
func TestClusterStatusShowsTheRestoreAndThePublicURLs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	const publicURL = "https://hooks.example.org/muster"
	dir := t.TempDir()
	env := []string{"MUSTER_CLUSTER_KEY=" + testClusterKey}
	agentArgs := func(id, dataDir, httpAddr string, extra ...string) []string {
		return append([]string{"agent", "--node-id", id, "--data-dir", dataDir, "--raft-addr", freePort(t), "--http-addr", httpAddr, "--log-level", "warn"}, extra...)
	}
	c := newAPI(t, testAdminToken)
	httpAddr := freePort(t)
	old := startProc(t, "old", env, agentArgs("n1", filepath.Join(dir, "old"), httpAddr, "--bootstrap", "--bootstrap-token", testAdminToken, "--public-url", publicURL)...)
	old.waitOutput("cluster bootstrapped", 30*time.Second)
	c.waitStatus("http://"+httpAddr+"/readyz", http.StatusOK, 30*time.Second)
	cli := []string{"MUSTER_ADDR=http://" + httpAddr, "MUSTER_TOKEN=" + testAdminToken}
	// A backup taken once the node applies rules 13 is in the audit
	// chain: the next backup's state says when its last command was.
	var r cliResult
	waitUntil(t, 15*time.Second, func() bool {
		r = runCLI(t, cli, "cluster", "status", "-o", "json")
		var st struct{ Rules int }
		return r.code == 0 && json.Unmarshal([]byte(r.stdout), &st) == nil && st.Rules == muster.Rules
	})
	backup := filepath.Join(dir, "backup.db")
	for _, f := range []string{filepath.Join(dir, "first.db"), backup} {
		r = runCLI(t, cli, "backup", "-f", f)
		require.Zero(t, r.code, r.stderr)
	}
	require.NoError(t, old.terminate(20*time.Second))

	// Restored as docs/operations.md says: the backup as state.db of an
	// empty data dir, the node started with --bootstrap.
	data := filepath.Join(dir, "restored")
	require.NoError(t, os.MkdirAll(data, 0o700))
	b, err := os.ReadFile(backup)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(data, "state.db"), b, 0o600))
	restoredAt := time.Now()
	startProc(t, "n1", env, agentArgs("n1", data, httpAddr, "--bootstrap", "--public-url", publicURL)...)
	c.waitStatus("http://"+httpAddr+"/readyz", http.StatusOK, 30*time.Second)
	joinAddr := freePort(t)
	startProc(t, "n2", env, agentArgs("n2", filepath.Join(dir, "n2"), joinAddr, "--join", "http://"+httpAddr)...)

	type status struct {
		Servers []struct {
			ID        string `json:"id"`
			PublicURL string `json:"public_url"`
		} `json:"servers"`
		Restored *struct {
			Count       int       `json:"count"`
			BackupIndex uint64    `json:"backup_index"`
			BackupTime  time.Time `json:"backup_time"`
			RestoredAt  time.Time `json:"restored_at"`
		} `json:"restored"`
	}
	var st status
	urls := map[string]string{}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = runCLI(t, []string{"MUSTER_ADDR=http://" + joinAddr, "MUSTER_TOKEN=" + testAdminToken}, "cluster", "status", "-o", "json")
		if r.code == 0 {
			st = status{}
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &st), r.stdout)
			clear(urls)
			for _, s := range st.Servers {
				urls[s.ID] = s.PublicURL
			}
			if len(urls) == 2 && urls["n2"] != "" {
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "n2 joined and its public URL is recorded: %s%s", r.stdout, r.stderr)
		time.Sleep(100 * time.Millisecond)
	}
	assert.Equal(t, map[string]string{"n1": publicURL, "n2": "http://" + joinAddr}, urls, "every member's public URL, as the member that joined sees it")
	if assert.NotNil(t, st.Restored, "the status says the cluster was restored: %s", r.stdout) {
		assert.Equal(t, 1, st.Restored.Count)
		assert.Positive(t, st.Restored.BackupIndex)
		assert.False(t, st.Restored.BackupTime.IsZero())
		assert.WithinDuration(t, restoredAt, st.Restored.RestoredAt, 30*time.Second)
	}

	r = runCLI(t, cli, "cluster", "status")
	require.Zero(t, r.code, r.stderr)
	if st.Restored != nil {
		assert.Contains(t, r.stdout, "RESTORED: restore 1, over a backup taken at "+showTime(st.Restored.BackupTime, time.Local, secondLayout), r.stdout)
	}
	assert.Contains(t, r.stdout, "public URL (the providers' webhooks, answer links), by member: n1 "+publicURL+"; n2 http://"+joinAddr+" (its own address)\n", r.stdout)

	r = runCLI(t, cli, "audit", "list", "--all")
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, 1, strings.Count(r.stdout, "cluster.restored: RESTORED, restore 1, over a backup"), r.stdout)
}
