package main

import (
	"bufio"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// settings reads the Key=Value settings of a systemd unit or environment
// file (the last of each key wins, as for these keys in systemd).
func settings(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "%s: %q is no setting", path, line)
		out[k] = v
	}
	require.NoError(t, sc.Err())
	return out
}

// TestSystemdUnit runs deploy/systemd/muster.service's ExecStart with the
// settings of deploy/systemd/muster.env, as systemd would, on this host's
// loopback: the node bootstraps, serves, and on SIGTERM stops within the
// unit's TimeoutStopSec with status 0 (so Restart=on-failure leaves it
// stopped). Every MUSTER_ name in the example file, set or commented out,
// is a flag of muster agent, and the data directory lies in the unit's
// state directory, the one place its sandbox lets it write.
func TestSystemdUnit(t *testing.T) {
	unit := settings(t, filepath.Join("..", "..", "deploy", "systemd", "muster.service"))
	exec := strings.Fields(unit["ExecStart"])
	require.GreaterOrEqual(t, len(exec), 2, "ExecStart: %q", unit["ExecStart"])
	assert.Equal(t, "/usr/local/bin/muster", exec[0])
	assert.Equal(t, "/etc/muster/muster.env", strings.TrimPrefix(unit["EnvironmentFile"], "-"))
	assert.Equal(t, "on-failure", unit["Restart"])
	assert.Equal(t, "strict", unit["ProtectSystem"], "the sandbox the data directory check below assumes")
	stop, err := time.ParseDuration(unit["TimeoutStopSec"])
	require.NoError(t, err)

	envFile := filepath.Join("..", "..", "deploy", "systemd", "muster.env")
	data, err := os.ReadFile(envFile)
	require.NoError(t, err)
	agent, _, err := newRoot().Find([]string{"agent"})
	require.NoError(t, err)
	var documented []string
	for _, m := range regexp.MustCompile(`(?m)^#?(MUSTER_[A-Z0-9_]+)=`).FindAllStringSubmatch(string(data), -1) {
		documented = append(documented, m[1]+"=x")
	}
	require.NotEmpty(t, documented)
	assert.Empty(t, unknownEnv(agent.Flags(), documented), "names in muster.env that are no flag of muster agent")

	env := settings(t, envFile)
	names := slices.Sorted(maps.Keys(env))
	assert.True(t, strings.HasPrefix(env["MUSTER_DATA_DIR"], "/var/lib/"+unit["StateDirectory"]+"/"),
		"MUSTER_DATA_DIR %s outside the state directory", env["MUSTER_DATA_DIR"])

	// This host's stand-ins for the addresses and directory the file names.
	dir := t.TempDir()
	env["MUSTER_DATA_DIR"] = filepath.Join(dir, filepath.Base(env["MUSTER_DATA_DIR"]))
	env["MUSTER_RAFT_ADDR"], env["MUSTER_HTTP_ADDR"] = freePort(t), freePort(t)
	var list []string
	for _, k := range names {
		list = append(list, k+"="+env[k])
	}
	p := startProc(t, "muster.service", list, exec[1:]...)
	assert.NotEmpty(t, p.waitOutput("first admin token (shown once):", 30*time.Second))
	newAPI(t, "").waitStatus("http://"+env["MUSTER_HTTP_ADDR"]+"/readyz", http.StatusOK, 30*time.Second)
	assert.FileExists(t, filepath.Join(env["MUSTER_DATA_DIR"], "state.db"))

	require.NoError(t, p.terminate(stop))
	assert.Equal(t, 0, p.cmd.ProcessState.ExitCode(), "exit status on SIGTERM:\n%s", p.out.String())
	for _, k := range names {
		assert.NotContains(t, p.out.String(), k+" is set but is no flag", "every setting of muster.env is taken")
	}
}

// TestStrayEnvIsReported: a MUSTER_ variable that sets no flag (misspelt,
// say) is named in the node's log at start instead of being ignored
// without a word.
func TestStrayEnvIsReported(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, "agent", []string{"MUSTER_EXCERCISE_TWILIO_ACCOUNT_SID=AC11111111111111111111111111111111"},
		"agent", "--node-id", "n1", "--data-dir", dir, "--raft-addr", freePort(t), "--http-addr", freePort(t), "--bootstrap")
	assert.Contains(t, p.waitOutput("MUSTER_EXCERCISE_TWILIO_ACCOUNT_SID is set", 30*time.Second), "no flag of this command")
	require.NoError(t, p.terminate(30*time.Second))
}
