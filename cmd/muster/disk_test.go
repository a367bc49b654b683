package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster/clustertest"
	"muster/examples"
)

// A node on a 48 MiB disk: a roster whose import would fill it is refused
// before anything is staged, with the node and its free space named, and
// the node goes on serving; a roster that fits is imported.
func TestAnImportLargerThanTheDiskIsRefused(t *testing.T) {
	dataDir := clustertest.SmallDisk(t, "48m")
	httpAddr, raftAddr := freePort(t), freePort(t)
	node := startProc(t, "n1", nil, "agent", "--node-id", "n1", "--data-dir", dataDir,
		"--raft-addr", raftAddr, "--http-addr", httpAddr, "--bootstrap", "--bootstrap-token", testAdminToken,
		"--disk-reserve", "8MiB", "--log-level", "warn")
	node.waitOutput("cluster bootstrapped", 30*time.Second)
	base := "http://" + httpAddr
	c := newAPI(t, testAdminToken)
	c.waitStatus(base+"/readyz", 200, 30*time.Second)
	env := []string{"MUSTER_ADDR=" + base, "MUSTER_TOKEN=" + testAdminToken}
	dir := t.TempDir()
	regions := filepath.Join(dir, "regions.csv")
	require.NoError(t, os.WriteFile(regions, examples.RegionsCSV(), 0o600))
	r := runCLI(t, env, "region", "import", "-f", regions)
	require.Zero(t, r.code, r.stderr)

	roster := func(name string, people int) string {
		all, err := examples.Regions()
		require.NoError(t, err)
		var buf bytes.Buffer
		require.NoError(t, examples.GenerateRoster(&buf, people, 3, examples.Grids(all)))
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
		return path
	}
	// 100,000 rows take more than the disk holds: without the check the node
	// stops, full, in the middle of the import.
	r = runCLI(t, env, "roster", "import", "-f", roster("big.csv", 100000))
	assert.Equal(t, 1, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	assert.Regexp(t, `not enough disk for this import of 100000 rows, .*: n1 has [0-9.]+ MiB free and needs [0-9.]+ MiB \([0-9.]+ MiB for it, [0-9.]+ KiB for a snapshot, the call-up reserve [0-9.]+ MiB\) on its data disk\. .*lower that node's --disk-reserve`, r.stderr)
	t.Log(r.stderr)
	c.waitStatus(base+"/readyz", 200, 5*time.Second)
	r = runCLI(t, env, "person", "list", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"items": []`, "nobody was imported")

	r = runCLI(t, env, "roster", "import", "-f", roster("small.csv", 2000))
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "created 2000,")
	r = runCLI(t, env, "cluster", "status")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "kept for call-ups")
}
