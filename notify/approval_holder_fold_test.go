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

// The state machine takes one person's name written in another case, with
// other spaces or in full-width letters for that person (rules 13): a token
// issued to "ｚｈａｎｇ　ｓａｎ" does not approve the request of "Zhang San".
func TestTheStateMachineTellsOnePersonByTheirFoldedName(t *testing.T) {
	e := newEnvWith(t, 1, 300, clustertest.Options{Setup: func(i int, n *cluster.Node) { setup(i, n); access.Register(n) }}, testCtx(t))
	ctx := testCtx(t)
	n := e.c.Leader().Node
	tokens := access.NewService(n, n)
	for _, tok := range []access.NewToken{
		{Name: "带班领导", Holder: "Zhang San", Role: access.Commander},
		{Name: "审批员", Holder: "ｚｈａｎｇ　ｓａｎ", Role: access.Approver},
		{Name: "值班领导", Holder: "zhang  SAN", Role: access.Approver},
		{Name: "李四", Role: access.Approver},
	} {
		_, _, err := tokens.CreateToken(ctx, "admin", tok)
		require.NoError(t, err, tok.Name)
	}
	req := notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "II", Purpose: "LIVE", Reason: "特大暴雨"}
	p, err := e.svc.Preview(ctx, req)
	require.NoError(t, err)
	a, err := e.svc.Activate(ctx, "带班领导", req)
	require.NoError(t, err)
	require.Equal(t, notify.StatusPendingApproval, a.Status)
	// Nor does it reject it: the requester withdraws a request by standing
	// it down.
	_, err = e.svc.Decide(ctx, "值班领导", a.ID, notify.DecisionRequest{Reason: "不必了"})
	require.Error(t, err, "zhang  SAN rejects the request of Zhang San")
	assert.True(t, muster.IsCode(err, muster.EForbidden), "%v", err)
	assert.Contains(t, err.Error(), `activation `+string(a.ID)+` was requested by Zhang San with the token "带班领导"; "值班领导" is theirs too`)
	approve := notify.DecisionRequest{Approve: true, Recipients: p.Total}
	for _, by := range []string{"审批员", "值班领导"} {
		_, err = e.svc.Decide(ctx, by, a.ID, approve)
		require.Error(t, err, "%s holds a token of Zhang San's", by)
		assert.True(t, muster.IsCode(err, muster.EForbidden), "%v", err)
		assert.Contains(t, err.Error(), `activation `+string(a.ID)+` was requested by Zhang San with the token "带班领导"`)
		assert.Contains(t, err.Error(), "another person must decide on it")
	}
	got, err := e.svc.Decide(ctx, "李四", a.ID, approve)
	require.NoError(t, err)
	assert.Equal(t, notify.StatusActive, got.Status)
}
