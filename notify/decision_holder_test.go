package notify_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/access"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/notify"
	"muster/plans"
)

// A decision records the person who held the deciding token (rules 13):
// a token named as the requester's revoked one was, held by another
// person, rejects the request as that person, not as the requester.
func TestADecisionRecordsTheHolderOfItsToken(t *testing.T) {
	e := newEnvWith(t, 1, 300, clustertest.Options{Setup: func(i int, n *cluster.Node) { setup(i, n); access.Register(n) }}, testCtx(t))
	ctx := testCtx(t)
	n := e.c.Leader().Node
	tokens := access.NewService(n, n)
	_, first, err := tokens.Create(ctx, "admin", "张三", "", access.Commander)
	require.NoError(t, err)

	req := notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "II", Purpose: "LIVE", Reason: "特大暴雨"}
	a, err := e.svc.Activate(ctx, "张三", req)
	require.NoError(t, err)
	require.Equal(t, notify.StatusPendingApproval, a.Status)

	require.NoError(t, tokens.Revoke(ctx, "admin", first.ID))
	_, _, err = tokens.CreateToken(ctx, "admin", access.NewToken{Name: "张三", Holder: "李四", Role: access.Approver, ReuseName: true})
	require.NoError(t, err)
	got, err := e.svc.Decide(ctx, "张三", a.ID, notify.DecisionRequest{Reason: "撤回"})
	require.NoError(t, err)
	assert.Equal(t, notify.StatusRejected, got.Status)
	require.Len(t, got.Decisions, 1)
	assert.Equal(t, "张三", got.Decisions[0].By)
	assert.Equal(t, "李四", got.Decisions[0].Holder, "the person who decided, not the requester")
}
