package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
	"muster/plans"
)

// The answer page of a LIVE call-up that stood down a drill where it
// started says it is no drill, as its SMS did (【非演练】, 【NOT A DRILL】):
// the same people just had the drill's page. The drill's own page keeps
// its drill banner.
func TestResponderPageOfALiveCallUpThatStoppedADrillSaysItIsNoDrill(t *testing.T) {
	r := newResponderRig(t)
	zh, en := r.recipient(t, plans.LangZH), r.recipient(t, plans.LangEN)
	main := r.f.handler(r.f.c.Nodes[0])
	res := do(t, main, request{method: "POST", path: "/api/v1/activations", token: r.f.root, body: jsonBody(map[string]any{"plan_id": "flood-control",
		"regions": []string{"990100"}, "level": "IV", "purpose": "LIVE", "reason": "暴雨黄色预警", "confirm_scope": "990100"})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var live notify.Activation
	res.decode(t, &live)
	require.Contains(t, live.StoppedDrills, r.drill.ID, "the LIVE call-up stands the drill down")

	res = do(t, r.h, request{method: "GET", path: "/r/" + r.token(t, live.ID, zh.Person)})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	body := res.Body.String()
	assert.Contains(t, body, `<p class="live" id="not-a-drill">`+plans.NotADrillMark(plans.LangZH))
	assert.NotContains(t, body, `id="drill"`)
	assert.NotContains(t, body, plans.ExerciseMark)
	assert.Contains(t, body, `id="yes"`)

	res = do(t, r.h, request{method: "GET", path: "/r/" + r.token(t, live.ID, en.Person)})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	assert.Contains(t, res.Body.String(), `id="not-a-drill">`+plans.NotADrillMark(plans.LangEN))

	res = do(t, r.h, request{method: "GET", path: "/r/" + r.token(t, r.drill.ID, zh.Person)})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	assert.Contains(t, res.Body.String(), `id="drill"`)
	assert.NotContains(t, res.Body.String(), `id="not-a-drill"`)
}
