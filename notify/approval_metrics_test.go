package notify_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// The approval gauges count the LIVE requests waiting for a second person
// while their window is open, then as expired once it passed unapproved;
// a request approved, rejected or withdrawn is in neither.
func TestApprovalGauges(t *testing.T) {
	e, clock, req := approvalEnv(t)
	ctx := testCtx(t)
	gauges := func(awaiting, expired int) {
		t.Helper()
		want := "# HELP muster_activations_approval_expired LIVE activation requests whose approval window passed unapproved (never sent), not withdrawn.\n" +
			"# TYPE muster_activations_approval_expired gauge\n" +
			"muster_activations_approval_expired " + strconv.Itoa(expired) + "\n" +
			"# HELP muster_activations_awaiting_approval LIVE activation requests waiting for a second person's approval, their window open: nothing is sent until approved.\n" +
			"# TYPE muster_activations_awaiting_approval gauge\n" +
			"muster_activations_awaiting_approval " + strconv.Itoa(awaiting) + "\n"
		require.NoError(t, testutil.CollectAndCompare(e.svc.ApprovalCollector(), strings.NewReader(want)))
	}
	gauges(0, 0)
	a, err := e.svc.Activate(ctx, "commander", req)
	require.NoError(t, err)
	gauges(1, 0)
	clock.Add(10 * time.Minute)
	gauges(0, 1)

	b, err := e.svc.Activate(ctx, "commander", req)
	require.NoError(t, err)
	gauges(1, 1)
	_, err = e.svc.StandDown(ctx, "commander", b.ID, "改为三级响应")
	require.NoError(t, err)
	gauges(0, 1)
	require.NotEqual(t, a.ID, b.ID)
}
