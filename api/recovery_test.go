package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/access"
	"muster/notify"
	"muster/plans"
)

// A LIVE call-up stood down through the API leaves its region in recovery
// (恢复), which GET /modes shows with the stand-down's actor, reason and
// activation; a commander ends it with POST /modes/{region}/end-recovery
// and a reason; a viewer may not, and a region not in recovery is a
// conflict that says so.
func TestEndRecoveryThroughTheAPI(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	withDemo(t, f, h)
	viewer, _ := createToken(t, h, f.root, "viewer", access.Viewer)
	commander, _ := createToken(t, h, f.root, "指挥长", access.Commander)

	res := do(t, h, request{method: "POST", path: "/api/v1/activations", token: commander,
		body: jsonBody(map[string]any{"plan_id": "flood-control", "regions": []string{"990102"}, "level": "IV", "purpose": "LIVE", "reason": "内涝"})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var a notify.Activation
	res.decode(t, &a)
	assert.Equal(t, "emergency", modeOf(t, f, h, "990102"))
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(a.ID) + "/stand-down", token: commander, body: jsonBody(map[string]string{"reason": "雨情缓解"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)

	res = do(t, h, request{method: "GET", path: "/api/v1/modes", token: viewer})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var list struct {
		Items []plans.ModeRecord `json:"items"`
	}
	res.decode(t, &list)
	require.Len(t, list.Items, 1)
	got := list.Items[0]
	assert.Equal(t, plans.ModeRecovery, got.Mode)
	require.NotNil(t, got.Recovery)
	assert.Equal(t, plans.Recovery{Since: got.Since, By: "指挥长", Reason: "雨情缓解", Activation: a.ID}, *got.Recovery)
	assert.Equal(t, "recovery", modeOf(t, f, h, "990102001"), "its streets inherit it")

	end := func(token, region string, body any) response {
		return do(t, h, request{method: "POST", path: "/api/v1/modes/" + region + "/end-recovery", token: token, body: jsonBody(body)})
	}
	assert.Equal(t, http.StatusForbidden, end(viewer, "990102", map[string]string{"reason": "恢复完毕"}).Code)
	assert.Equal(t, http.StatusBadRequest, end(commander, "990102", map[string]string{"reason": " "}).Code)
	assert.Equal(t, http.StatusBadRequest, end(commander, "990102", map[string]string{"reason": "恢复完毕", "force": "yes"}).Code)
	res = end(commander, "990102001", map[string]string{"reason": "恢复完毕"})
	assert.Equal(t, http.StatusConflict, res.Code)
	assert.Contains(t, res.Body.String(), "end the recovery there (--region 990102)")
	res = end(commander, "990102,990103", map[string]string{"reason": "恢复完毕"})
	assert.Equal(t, http.StatusConflict, res.Code)
	assert.Contains(t, res.Body.String(), "990103 is normal (平时), not in recovery")
	assert.Equal(t, "recovery", modeOf(t, f, h, "990102"), "all or none")

	res = end(commander, "990102", map[string]string{"reason": "灾后恢复重建完成"})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var out struct {
		Items []plans.RegionMode `json:"items"`
	}
	res.decode(t, &out)
	assert.Equal(t, []plans.RegionMode{{Region: "990102", Mode: plans.ModeNormal}}, out.Items)
	assert.Equal(t, "normal", modeOf(t, f, h, "990102001"))
	assert.Equal(t, http.StatusConflict, end(commander, "990102", map[string]string{"reason": "again"}).Code)
}
