package notify_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/notify"
	"muster/plans"
)

// The whole-city rule looks at what a LIVE request covers, not only at the
// codes it names: every district of the city — or every street of a
// district the request leaves out — is the whole city and needs its scope
// confirmed with the codes named, as the city's own code does. A request
// leaving one street out is not the whole city; under rules 12 each starts
// unconfirmed (a preview follows the newest rules).
func TestEveryDistrictNamedIsTheWholeCity(t *testing.T) {
	districts := []plans.RegionCode{"990101", "990102", "990103", "990104", "990105", "990106"}
	streets := []plans.RegionCode{"990106001", "990106002", "990106003", "990106004"}
	for _, rules := range []int{muster.Rules, 12} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			e := newBareFloodEnv(t, rules)
			ctx := testCtx(t)
			live := func(regions ...plans.RegionCode) notify.ActivationRequest {
				return notify.ActivationRequest{Plan: "flood-bare", Regions: regions, Level: "IV", Purpose: "LIVE", Reason: "暴雨黄色预警"}
			}
			start := func(req notify.ActivationRequest) {
				t.Helper()
				a, err := e.svc.Activate(ctx, "commander", req)
				require.NoError(t, err, "%v", req.Regions)
				assert.Equal(t, notify.StatusActive, a.Status)
				_, err = e.svc.StandDown(ctx, "commander", a.ID, "测试结束")
				require.NoError(t, err)
			}
			whole, err := e.svc.Preview(ctx, live(city))
			require.NoError(t, err)

			// Named in any order and twice over, the districts are the city.
			all := live(append(cloneCodes(districts[3:]), append(cloneCodes(districts[:3]), "990102")...)...)
			p, err := e.svc.Preview(ctx, all)
			require.NoError(t, err)
			assert.Equal(t, whole.Total, p.Total, "every person of the city")
			if rules >= 13 {
				require.True(t, p.Guard.Needed(), "%d people", p.Total)
				assert.Equal(t, "990101,990102,990103,990104,990105,990106", p.Guard.Confirm)
				assert.Equal(t, []string{"990101, 990102, 990103, 990104, 990105, 990106 together cover the whole city, 示例市 (990100), and plan flood-bare gives level IV, which one person starts alone, no expected count to tell a usual call-up from one that wide"}, p.Guard.Reasons)
				_, err = e.svc.Activate(ctx, "commander", all)
				require.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
				assert.Contains(t, err.Error(), "scope not confirmed: 990101, 990102, 990103, 990104, 990105, 990106 together cover the whole city")
				assert.Contains(t, err.Error(), "--confirm-scope 990101,990102,990103,990104,990105,990106")
				all.ConfirmScope = "990101,990102,990103,990104,990105,990106"
			}
			start(all)

			// The sixth district by its streets is the sixth district.
			byStreets := live(append(cloneCodes(districts[:5]), streets...)...)
			p, err = e.svc.Preview(ctx, byStreets)
			require.NoError(t, err)
			assert.Equal(t, whole.Total, p.Total)
			if rules >= 13 {
				require.True(t, p.Guard.Needed())
				assert.Contains(t, p.Guard.Reasons[0], "990101, 990102, 990103, 990104, 990105, 990106001, 990106002, 990106003, 990106004 together cover the whole city, 示例市 (990100)")
				_, err = e.svc.Activate(ctx, "commander", byStreets)
				require.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
				byStreets.ConfirmScope = p.Guard.Confirm
			}
			start(byStreets)

			// One street left out is not the whole city.
			short := live(append(cloneCodes(districts[:5]), streets[:3]...)...)
			p, err = e.svc.Preview(ctx, short)
			require.NoError(t, err)
			assert.False(t, p.Guard.Needed(), "%q", p.Guard.Reasons)
			start(short)
		})
	}
}

func cloneCodes(codes []plans.RegionCode) []plans.RegionCode {
	return append([]plans.RegionCode{}, codes...)
}
