package access_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/access"
	"muster/cluster"
	"muster/cluster/clustertest"
)

// rulesCluster is a one-node cluster whose commands are stamped with rules,
// waited for: the node's status can say the new rules a moment before the
// leader stamps them.
func rulesCluster(t *testing.T, rules int) (*cluster.Node, *access.Service) {
	t.Helper()
	const probe = "test.rules"
	c := clustertest.New(t, 1, clustertest.Options{
		Setup: func(i int, n *cluster.Node) {
			register(i, n)
			n.Handle(probe, func(_ *bolt.Tx, c *muster.Command) (any, error) { return c.Rules, nil })
		},
		Config: func(_ int, cfg *cluster.Config) { cfg.Rules = rules },
	})
	n := c.Nodes[0].Node
	ctx := testContext(t)
	want := rules
	if want == 0 {
		want = muster.Rules
	}
	require.Eventually(t, func() bool {
		var stamped int
		return n.Apply(ctx, &muster.Command{Type: probe}, &stamped) == nil && stamped == want
	}, 10*time.Second, 10*time.Millisecond)
	return n, access.NewService(n, n)
}

// A token's name, once the token is revoked, is not given to a new token
// unless asked for on purpose (rules 13): the audit trail names tokens by
// name, and "approved by 张三" would read as the revoked token's holder. The
// refusal says whose token it was, when and by whom it was revoked, and a
// free name; the state keeps every revoked token of the name. Under rules
// 12 the name is free again, as before, and nothing is kept.
func TestARevokedTokensNameIsRefusedUnlessReused(t *testing.T) {
	for _, rules := range []int{muster.Rules, 12} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			n, svc := rulesCluster(t, rules)
			ctx := testContext(t)
			_, first, err := svc.Create(ctx, "admin", "张三", "张三丰", access.Approver)
			require.NoError(t, err)
			require.NoError(t, svc.Revoke(ctx, "管理员甲", first.ID))

			_, again, err := svc.Create(ctx, "admin", "张三", "李四", access.Approver)
			if rules < 13 {
				require.NoError(t, err, "before rules 13 a revoked token's name is free")
				assert.Equal(t, "李四", again.Holder)
				gone := revoked(t, n)
				assert.Empty(t, gone, "nothing is kept of a token revoked under rules 12")
				return
			}
			require.Error(t, err)
			assertCode(t, muster.EConflict, err)
			for _, says := range []string{
				`token name "张三" was the name of the token ` + string(first.ID) + ` held by 张三丰, revoked at `,
				" by 管理员甲", `"张三-2" is free`, "--reuse-name",
			} {
				assert.Contains(t, err.Error(), says)
			}
			toks, err := svc.List(ctx, muster.Default)
			require.NoError(t, err)
			assert.Empty(t, toks, "nothing was made")

			// The name suggested is one no token, live or revoked, has.
			_, second, err := svc.Create(ctx, "admin", "张三-2", "", access.Viewer)
			require.NoError(t, err)
			_, _, err = svc.Create(ctx, "admin", "张三", "李四", access.Approver)
			require.Error(t, err)
			assert.Contains(t, err.Error(), `"张三-3" is free`)
			require.NoError(t, svc.Revoke(ctx, "admin", second.ID))
			_, _, err = svc.Create(ctx, "admin", "张三-2", "", access.Viewer)
			assertCode(t, muster.EConflict, err)

			// Reused on purpose, it is made; revoked again, both are kept.
			_, third, err := svc.CreateToken(ctx, "admin", access.NewToken{Name: "张三", Holder: "李四", Role: access.Approver, ReuseName: true})
			require.NoError(t, err)
			assert.Equal(t, "李四", third.Holder)
			require.NoError(t, svc.Revoke(ctx, "admin", third.ID))
			gone := revoked(t, n)
			require.Len(t, gone, 3)
			assert.Equal(t, []access.TokenID{first.ID, third.ID, second.ID}, []access.TokenID{gone[0].ID, gone[1].ID, gone[2].ID}, "by name, each name's oldest first")
			assert.Equal(t, "管理员甲", gone[0].RevokedBy)
			assert.Equal(t, "张三丰", gone[0].Holder)
			assert.False(t, gone[0].RevokedAt.IsZero())
			assert.False(t, gone[1].RevokedAt.Before(gone[0].RevokedAt))
		})
	}
}

// Two creates of a revoked token's name at once, one reusing it: the
// state machine checks the name as it applies each, so the one that does
// not reuse it is refused whichever comes first, and at most one is made.
func TestRevokedNameIsCheckedWhereCreatesMeet(t *testing.T) {
	_, svc := rulesCluster(t, 0)
	ctx := testContext(t)
	_, first, err := svc.Create(ctx, "admin", "值班", "", access.Commander)
	require.NoError(t, err)
	require.NoError(t, svc.Revoke(ctx, "admin", first.ID))

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, reuse := range []bool{false, true} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = svc.CreateToken(ctx, "admin", access.NewToken{Name: "值班", Role: access.Commander, ReuseName: reuse})
		}()
	}
	wg.Wait()
	require.Error(t, errs[0], "not reused: refused, whether the reuse came first or not")
	assertCode(t, muster.EConflict, errs[0])
	assert.NoError(t, errs[1])
	toks, err := svc.List(ctx, muster.Default)
	require.NoError(t, err)
	require.Len(t, toks, 1)
	assert.Equal(t, "值班", toks[0].Name)
}

// revoked reads the revoked tokens the node's state keeps.
func revoked(t *testing.T, n *cluster.Node) []access.RevokedToken {
	t.Helper()
	var out []access.RevokedToken
	require.NoError(t, n.View(context.Background(), muster.Default, func(tx *bolt.Tx) error {
		var err error
		out, err = access.RevokedTokens(tx)
		return err
	}))
	return out
}
