package cluster_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster"
	"muster/cluster/clustertest"
)

// A backup placed as state.db and started with none of --bootstrap, --join
// or an initial cluster is refused at start, saying to restore it with
// --bootstrap: started, it waited for ever to be added, saying its data dir
// held no cluster state, and a cluster refuses a node whose state is beyond
// its log. Bootstrapped, the same file starts a cluster of its own.
func TestABackupStartedWithoutBootstrapSaysHowToRestoreIt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	src := clustertest.New(t, 1, clustertest.Options{Setup: kv})
	require.NoError(t, put(ctx, src.Leader().Node, "k", "v"))
	var backup bytes.Buffer
	_, err := src.Leader().Node.FSM().Backup(&backup)
	require.NoError(t, err)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "state.db"), backup.Bytes(), 0o600))
	n, _ := newcomer(t, "r1", dir, nil)
	err = n.Start()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "holds a state file with data (up to raft index")
	assert.Contains(t, err.Error(), "is restored by starting the node with --bootstrap")
	n.Close()

	b, _ := newcomer(t, "r1", dir, func(cfg *cluster.Config) { cfg.Bootstrap = true })
	require.NoError(t, b.Start())
	t.Cleanup(func() { b.Close() })
	require.Eventually(t, func() bool { id, _ := b.Leader(); return id == "r1" }, 15*time.Second, 20*time.Millisecond)
}
