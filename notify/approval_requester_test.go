package notify_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/notify"
	"muster/plans"
)

// A request that waits for approval keeps the lineage of the token it was
// made with (rules 13). Revoked, and its name given to another person's
// token, that token no longer stands for the request: the requester cannot
// approve their own request as if someone else had made it, nor can anyone;
// it can only be rejected.
func TestARequestKeepsTheTokenItWasMadeWith(t *testing.T) {
	e := newEnvWith(t, 1, 300, clustertest.Options{Setup: func(i int, n *cluster.Node) { setup(i, n); access.Register(n) }}, testCtx(t))
	ctx := testCtx(t)
	n := e.c.Leader().Node
	tokens := access.NewService(n, n)
	made := map[string]access.Token{}
	for _, tok := range []struct {
		name, holder string
		role         access.Role
	}{
		{"值班", "张三", access.Commander}, {"张三审批", "张三", access.Approver}, {"王五", "", access.Approver},
	} {
		var err error
		_, made[tok.name], err = tokens.Create(ctx, "admin", tok.name, tok.holder, tok.role)
		require.NoError(t, err, tok.name)
	}

	req := notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "II", Purpose: "LIVE", Reason: "特大暴雨"}
	p, err := e.svc.Preview(ctx, req)
	require.NoError(t, err)
	a, err := e.svc.Activate(ctx, "值班", req)
	require.NoError(t, err)
	require.Equal(t, notify.StatusPendingApproval, a.Status)
	assert.Equal(t, access.Lineage{{ID: made["值班"].ID, Name: "值班", Holder: "张三"}, {Name: "admin", Holder: "admin"}}, a.RequesterLineage)

	require.NoError(t, tokens.Revoke(ctx, "admin", made["值班"].ID))
	_, again, err := tokens.CreateToken(ctx, "admin", access.NewToken{Name: "值班", Holder: "李四", Role: access.Commander, ReuseName: true})
	require.NoError(t, err)
	require.NotEqual(t, made["值班"].ID, again.ID)

	approve := notify.DecisionRequest{Approve: true, Recipients: p.Total}
	_, err = e.svc.Decide(ctx, "张三审批", a.ID, approve)
	require.Error(t, err, "the requester approves their own request under another token")
	assert.True(t, muster.IsCode(err, muster.EForbidden), "%v", err)
	assert.Contains(t, err.Error(), `was requested by 张三 with the token "值班"; "张三审批" is theirs too`)
	_, err = e.svc.Decide(ctx, "王五", a.ID, approve)
	require.Error(t, err, "an approval of a request whose token was revoked")
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	assert.Contains(t, err.Error(), `张三, who requested activation `+string(a.ID)+` with the token "值班", holds it no more (revoked)`)
	got, err := e.svc.Decide(ctx, "王五", a.ID, notify.DecisionRequest{Reason: "申请人的令牌已吊销"})
	require.NoError(t, err, "it may be rejected")
	assert.Equal(t, notify.StatusRejected, got.Status)
}
