package access_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/access"
	"muster/cluster/clustertest"
)

// laggingView is a node's view as a follower that has not applied the
// latest entries sees it: its own state (stale reads) is a copy of the
// state taken earlier, and default reads are the cluster's.
type laggingView struct {
	own     *bolt.DB
	cluster access.StateViewer
}

func (v laggingView) View(ctx context.Context, level muster.Consistency, fn func(tx *bolt.Tx) error) error {
	if level == muster.Stale {
		return v.own.View(fn)
	}
	return v.cluster.View(ctx, level, fn)
}

// A revoked token takes no write on a node that has not applied the
// revoke yet: a write looks the token up at default consistency, where
// it read the node's own state first and took writes under a revoked
// commander's token for as long as the follower lagged (exploratory
// finding A1: a LIVE call-up created 36 ms after its token's revoke). A
// read still goes by the node's own state.
func TestARevokedTokenTakesNoWriteOnALaggingNode(t *testing.T) {
	c := clustertest.New(t, 1, clustertest.Options{Setup: register})
	n := c.Nodes[0].Node
	svc := access.NewService(n, n)
	ctx := testContext(t)
	root, _, err := svc.Bootstrap(ctx, "")
	require.NoError(t, err)
	secret, tok, err := svc.Create(ctx, access.BootstrapTokenName, "指挥乙", "", access.Commander)
	require.NoError(t, err)

	// The follower's state as it was before the revoke.
	var before bytes.Buffer
	_, err = n.FSM().Backup(&before)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "lagging.db")
	require.NoError(t, os.WriteFile(path, before.Bytes(), 0o600))
	own, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = own.Close() })
	lagging := access.NewService(n, laggingView{own: own, cluster: n})

	require.NoError(t, svc.Revoke(ctx, access.BootstrapTokenName, tok.ID))
	_, err = lagging.Authenticate(access.ForWrite(ctx), secret)
	assertCode(t, muster.EUnauthorized, err)
	who, err := lagging.Authenticate(ctx, secret)
	require.NoError(t, err, "a read goes by the node's own state")
	assert.Equal(t, "指挥乙", who.Name)
	admin, err := lagging.Authenticate(access.ForWrite(ctx), root)
	require.NoError(t, err, "a token not revoked writes")
	assert.Equal(t, access.Admin, admin.Role)
}
