package main

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster/clustertest"
	"muster/examples"
)

// A node whose data disk fills while it applies a call-up stops with the
// instruction logged at ERROR and exit code exitCannotApply, not a Go
// panic and its goroutine stack (exploratory finding Z18).
func TestAFullDiskStopsTheAgentWithAnErrorNotAPanic(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	disk := clustertest.SmallDisk(t, "48m")
	dataDir := filepath.Join(disk, "data")
	httpAddr, raftAddr := freePort(t), freePort(t)
	node := startProc(t, "n1", nil, "agent", "--node-id", "n1", "--data-dir", dataDir,
		"--raft-addr", raftAddr, "--http-addr", httpAddr, "--bootstrap", "--bootstrap-token", testAdminToken,
		"--disk-reserve", "0", "--log-level", "warn")
	node.waitOutput("cluster bootstrapped", 30*time.Second)
	base := "http://" + httpAddr
	newAPI(t, testAdminToken).waitStatus(base+"/readyz", 200, 30*time.Second)
	env := []string{"MUSTER_ADDR=" + base, "MUSTER_TOKEN=" + testAdminToken}
	dir := t.TempDir()
	regions, roster, plan := filepath.Join(dir, "regions.csv"), filepath.Join(dir, "roster.csv"), filepath.Join(dir, "everyone.yaml")
	require.NoError(t, os.WriteFile(regions, examples.RegionsCSV(), 0o600))
	all, err := examples.Regions()
	require.NoError(t, err)
	f, err := os.Create(roster)
	require.NoError(t, err)
	require.NoError(t, examples.GenerateRoster(f, 5000, 1, examples.Grids(all)))
	require.NoError(t, f.Close())
	require.NoError(t, os.WriteFile(plan, examples.EveryonePlan, 0o600))
	for _, args := range [][]string{{"region", "import", "-f", regions}, {"roster", "import", "-f", roster}, {"plan", "apply", "-f", plan}} {
		r := runCLI(t, env, args...)
		require.Zero(t, r.code, "%v: %s", args, r.stderr)
	}

	// Fill the disk but for 256 KiB: room for the call-up's raft entry,
	// not for its 5,000 recipients.
	filler, err := os.Create(filepath.Join(disk, "filler"))
	require.NoError(t, err)
	chunk := make([]byte, 64<<10)
	for {
		if _, err := filler.Write(chunk); err != nil {
			require.True(t, errors.Is(err, syscall.ENOSPC), "%v", err)
			break
		}
	}
	st, err := filler.Stat()
	require.NoError(t, err)
	require.NoError(t, filler.Truncate(st.Size()-256<<10))
	require.NoError(t, filler.Close())

	r := runCLI(t, env, "activate", "everyone", "--region", string(examples.CityCode), "--level", "IV", "--purpose", "exercise", "--reason", "演练", "--yes")
	t.Logf("activate: code %d\n%s%s", r.code, r.stdout, r.stderr)
	select {
	case <-node.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("the node did not stop on its full disk:\n%s", node.out.String())
	}
	out := node.out.String()
	assert.Equal(t, exitCannotApply, node.cmd.ProcessState.ExitCode(), out)
	assert.Regexp(t, `level=ERROR msg="cluster: the disk holding \S+state\.db is full, so raft entries up to [0-9]+ cannot be applied: free space there or grow the disk, then start the node again`, out)
	assert.NotContains(t, out, "panic:")
	assert.NotContains(t, out, "goroutine ")
}
