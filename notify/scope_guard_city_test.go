package notify_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/notify"
	"muster/plans"
)

// The demo plans give each level the people a usual activation calls, so
// one commander's LIVE level IV call-up of the whole city — no second
// approver — needs the scope confirmed; one of a district does not.
func TestTheDemoPlansGuardALiveCallUpOfTheWholeCity(t *testing.T) {
	e := newEnv(t, 1, 2000)
	ctx := testCtx(t)
	for _, plan := range []plans.PlanID{"flood-control", "public-health", "hazmat-fire"} {
		t.Run(string(plan), func(t *testing.T) {
			req := notify.ActivationRequest{Plan: plan, Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "LIVE", Reason: "暴雨黄色预警"}
			p, err := e.svc.Preview(ctx, req)
			require.NoError(t, err)
			require.True(t, p.Guard.Needed(), "%d people at level IV", p.Total)
			assert.Equal(t, "990100", p.Guard.Confirm)
			assert.Contains(t, p.Guard.Reasons[0], "more than 1.5 × the")
			_, err = e.svc.Activate(ctx, "commander", req)
			require.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
			assert.Contains(t, err.Error(), "scope not confirmed")

			one := req
			one.Regions = []plans.RegionCode{other}
			p, err = e.svc.Preview(ctx, one)
			require.NoError(t, err)
			assert.False(t, p.Guard.Needed(), "one district, %d people: %q", p.Total, p.Guard.Reasons)
		})
	}
}

// A LIVE activation of the whole city at a level one person starts alone,
// of a plan that gives that level no expected count, needs the scope
// confirmed from rules 13: nothing else would ask anyone. A drill of the
// whole city, a district, a level with a second approver and any of them
// under rules 12 start as before.
func TestAWholeCityLiveCallUpWithoutAnExpectedCountIsConfirmed(t *testing.T) {
	for _, rules := range []int{muster.Rules, 12} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			e := newBareFloodEnv(t, rules)
			ctx := testCtx(t)
			live := notify.ActivationRequest{Plan: "flood-bare", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "LIVE", Reason: "暴雨黄色预警"}
			if rules >= 13 {
				p, err := e.svc.Preview(ctx, live)
				require.NoError(t, err)
				require.True(t, p.Guard.Needed())
				assert.Equal(t, "990100", p.Guard.Confirm)
				assert.Equal(t, []string{"示例市 (990100) is the whole city, and plan flood-bare gives level IV, which one person starts alone, no expected count to tell a usual call-up from one that wide"}, p.Guard.Reasons)
				_, err = e.svc.Activate(ctx, "commander", live)
				require.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
				assert.Contains(t, err.Error(), "scope not confirmed: 示例市 (990100) is the whole city")
				assert.Contains(t, err.Error(), "--confirm-scope 990100")
				live.ConfirmScope = "990100"
			}
			a, err := e.svc.Activate(ctx, "commander", live)
			require.NoError(t, err)
			assert.Equal(t, notify.StatusActive, a.Status)
			_, err = e.svc.StandDown(ctx, "commander", a.ID, "测试结束")
			require.NoError(t, err)

			for _, req := range []notify.ActivationRequest{
				{Plan: "flood-bare", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "EXERCISE", Reason: "全市通讯演练", DuringRecovery: true},
				{Plan: "flood-bare", Regions: []plans.RegionCode{other}, Level: "IV", Purpose: "LIVE", Reason: "暴雨黄色预警"},
				{Plan: "flood-bare", Regions: []plans.RegionCode{city}, Level: "II", Purpose: "LIVE", Reason: "暴雨红色预警"},
			} {
				p, err := e.svc.Preview(ctx, req)
				require.NoError(t, err)
				assert.False(t, p.Guard.Needed(), "%s %s over %v: %q", req.Purpose, req.Level, req.Regions, p.Guard.Reasons)
				a, err := e.svc.Activate(ctx, "commander", req)
				require.NoError(t, err, "%s %s over %v", req.Purpose, req.Level, req.Regions)
				_, err = e.svc.StandDown(ctx, "commander", a.ID, "测试结束")
				require.NoError(t, err)
			}
		})
	}
}

// newBareFloodEnv is a one-node env under rules whose plan flood-bare is
// the demo flood plan without its levels' expected counts, which plan
// apply warns of.
func newBareFloodEnv(t *testing.T, rules int) *env {
	t.Helper()
	e := newEnvWith(t, 1, 300, clustertest.Options{Setup: setup, Config: func(_ int, c *cluster.Config) { c.Rules = rules }}, testCtx(t))
	files, err := examples.Plans()
	require.NoError(t, err)
	for _, f := range files {
		if f.Name == "flood.yaml" {
			src := regexp.MustCompile(`(?m)^    expected: \d+\n`).ReplaceAllString(string(f.Data), "")
			src = strings.Replace(src, "id: flood-control", "id: flood-bare", 1)
			res, err := e.plans.ApplyPlan(testCtx(t), "test", "flood-bare.yaml", []byte(src))
			require.NoError(t, err)
			require.NotEmpty(t, res.Warnings)
			return e
		}
	}
	t.Fatal("no flood.yaml among the demo plans")
	return nil
}
