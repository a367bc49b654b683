package notify_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/notify"
	"muster/plans"
)

// The state machine itself refuses an approval from anyone not independent
// of the requester and of the approvers before (rules 13), whatever asked
// for it: the admin who made the requester's token (S1), an approver's
// second approval through a token they made (S2), and an approver whose
// token came from the requester's through a token revoked before the
// request (S3). Tokens an admin made for other people approve.
func TestTheStateMachineRefusesApprovalsOfOnePerson(t *testing.T) {
	e := newEnvWith(t, 1, 300, clustertest.Options{Setup: func(i int, n *cluster.Node) { setup(i, n); access.Register(n) }}, testCtx(t))
	ctx := testCtx(t)
	n := e.c.Leader().Node
	files, err := examples.Plans()
	require.NoError(t, err)
	for _, f := range files {
		if f.Name == "flood.yaml" { // level I needs three people
			_, err := e.plans.ApplyPlan(ctx, "test", f.Name, []byte(strings.Replace(string(f.Data), "approvals: 2", "approvals: 3", 1)))
			require.NoError(t, err)
		}
	}
	tokens := access.NewService(n, n)
	made := map[string]access.Token{}
	for _, tok := range []struct {
		maker, name string
		role        access.Role
	}{
		{"admin", "甲", access.Admin}, {"甲", "傀儡", access.Commander}, {"甲", "甲造的审批员", access.Approver},
		{"admin", "李四", access.Approver}, {"admin", "王五", access.Approver},
		{"甲", "临时", access.Admin}, {"临时", "影子", access.Approver},
	} {
		_, made[tok.name], err = tokens.Create(ctx, tok.maker, tok.name, "", tok.role)
		require.NoError(t, err, tok.name)
	}
	require.NoError(t, tokens.Revoke(ctx, "甲", made["临时"].ID))

	request := func(actor, level string, region plans.RegionCode) (notify.Activation, notify.DecisionRequest) {
		t.Helper()
		req := notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{region}, Level: level, Purpose: "LIVE", Reason: "特大暴雨"}
		p, err := e.svc.Preview(ctx, req)
		require.NoError(t, err)
		require.Positive(t, p.Total)
		a, err := e.svc.Activate(ctx, actor, req)
		require.NoError(t, err)
		require.Equal(t, notify.StatusPendingApproval, a.Status)
		return a, notify.DecisionRequest{Approve: true, Recipients: p.Total}
	}
	refused := func(actor string, a notify.Activation, approve notify.DecisionRequest, why string) {
		t.Helper()
		_, err := e.svc.Decide(ctx, actor, a.ID, approve)
		require.Error(t, err, "%s approves %s", actor, a.ID)
		assert.True(t, muster.IsCode(err, muster.EForbidden), "%v", err)
		assert.Contains(t, err.Error(), why)
	}

	// S1: 甲 made 傀儡's token and was shown its secret.
	s1, approve := request("傀儡", "II", district)
	// A token revoked after the API checked it approves nothing either.
	_, err = e.svc.Decide(ctx, "临时", s1.ID, approve)
	require.Error(t, err)
	assert.True(t, muster.IsCode(err, muster.EUnauthorized), "%v", err)
	assert.Contains(t, err.Error(), "临时 holds no token any more (revoked)")
	refused("甲", s1, approve, `甲, who holds the token "甲", made the token "傀儡"`)
	got, err := e.svc.Decide(ctx, "甲造的审批员", s1.ID, approve)
	require.NoError(t, err, "another token 甲 made, for someone else")
	assert.Equal(t, notify.StatusActive, got.Status)

	// S3: 临时, which made 影子, was revoked before 甲's request.
	s3, approve := request("甲", "II", "990102")
	refused("影子", s3, approve, `甲, who holds the token "甲", made the token "影子" through "临时"`)
	got, err = e.svc.Decide(ctx, "王五", s3.ID, approve)
	require.NoError(t, err)
	assert.Equal(t, notify.StatusActive, got.Status)

	// S2: 甲 approves, then 甲's own approver token may not approve again.
	s2, approve := request("李四", "I", "990103")
	got, err = e.svc.Decide(ctx, "甲", s2.ID, approve)
	require.NoError(t, err)
	require.Equal(t, notify.StatusPendingApproval, got.Status, "three people: one more")
	refused("甲造的审批员", s2, approve, "activation "+string(s2.ID)+" was approved already by 甲")
	got, err = e.svc.Decide(ctx, "王五", s2.ID, approve)
	require.NoError(t, err)
	assert.Equal(t, notify.StatusActive, got.Status)
	require.Len(t, got.Decisions, 2)
	assert.Equal(t, access.Lineage{{ID: made["甲"].ID, Name: "甲", Holder: "甲"}, {Name: "admin", Holder: "admin"}}, got.Decisions[0].Lineage)
}
