package notify_test

import (
	"fmt"
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

// The people texted that a LIVE request waits for approval are told apart
// by their holders' names folded (rules 13), as the approval rule tells
// them: a token of the requester's written "ｚｈａｎｇ　ｓａｎ" is the
// requester's, and is not texted about their own request; "Li Si" and
// "li  si" are one person, texted once, at the phone of the token made
// last. Under rules 12 holders are compared as written, as before.
func TestApproverTextsTellOnePersonByTheirFoldedName(t *testing.T) {
	for _, rules := range []int{muster.Rules, 12} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			opts := clustertest.Options{Setup: func(i int, n *cluster.Node) { setup(i, n); access.Register(n) }}
			if rules < muster.Rules {
				opts.Config = func(_ int, cfg *cluster.Config) { cfg.Rules = rules }
			}
			e := newEnvWith(t, 1, 300, opts, testCtx(t))
			ctx := testCtx(t)
			n := e.c.Leader().Node
			createTokens(t, n,
				access.NewToken{Name: "带班领导", Holder: "Zhang San", Role: access.Commander},
				access.NewToken{Name: "审批员", Holder: "ｚｈａｎｇ　ｓａｎ", Phone: "13900000004", Role: access.Approver},
				access.NewToken{Name: "li-desk", Holder: "Li Si", Phone: "13900000002", Role: access.Approver},
				access.NewToken{Name: "li-phone", Holder: "li  si", Phone: "13900000005", Role: access.Approver},
			)
			a, err := e.svc.Activate(ctx, "带班领导", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "II", Purpose: "LIVE", Reason: "特大暴雨"})
			require.NoError(t, err)
			require.Equal(t, notify.StatusPendingApproval, a.Status)
			texted := map[string]string{}
			for _, n := range a.ApproversNotified {
				texted[n.Holder] = n.Phone
			}
			if rules < 13 {
				assert.Equal(t, map[string]string{"ｚｈａｎｇ　ｓａｎ": "+8613900000004", "Li Si": "+8613900000002", "li  si": "+8613900000005"}, texted, "holders as written")
				return
			}
			assert.Equal(t, map[string]string{"li  si": "+8613900000005"}, texted, "the requester's other token is theirs; Li Si once, at the newest phone")
		})
	}
}
