package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/drills"
	"muster/notify"
)

// A drill run's stand-down takes "notice": false as an activation's does:
// nobody is told that the drill ended (another call-up tells them what
// stands). Without it the people the drill reached are told (end_notice).
func TestDrillRunStandDownWithoutNotice(t *testing.T) {
	f, h, trainer, _ := changeFixture(t, 0)
	s := scheduleWeekly(t, h, trainer)
	run := func(answer string) drills.Run {
		t.Helper()
		res := do(t, h, request{method: "POST", path: "/api/v1/drills/" + string(s.ID) + "/run", token: trainer})
		require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
		var r drills.Run
		res.decode(t, &r)
		require.Equal(t, drills.RunStarted, r.Status)
		boardReply(t, f, h, r.Activation, answer) // someone it reached answered
		return r
	}
	standDown := func(r drills.Run, body map[string]any) notify.Activation {
		t.Helper()
		res := do(t, h, request{method: "POST", path: "/api/v1/drill-runs/" + string(r.ID) + "/stand-down", token: trainer, body: jsonBody(body)})
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		var a notify.Activation
		res.decode(t, &a)
		require.Equal(t, notify.StatusStoodDown, a.Status)
		return a
	}
	told := standDown(run("1"), map[string]any{"reason": "演练结束"})
	assert.NotEmpty(t, told.EndNotice, "the people it reached are told it ended")

	quiet := standDown(run("到"), map[string]any{"reason": "由实战召集取代", "notice": false})
	assert.Empty(t, quiet.EndNotice, "notice false tells nobody")
}

// POST /drills/{id}/run takes {"during_recovery": true} to run a drill
// although a region of it is in recovery after a live emergency, which
// refuses it otherwise (409, rules 13); an empty body runs it as before.
func TestDrillRunDuringRecoveryThroughTheAPI(t *testing.T) {
	f, h, trainer, _ := changeFixture(t, 0)
	s := scheduleWeekly(t, h, trainer)
	res := do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(map[string]any{
		"plan_id": "flood-control", "regions": []string{"990101"}, "level": "IV", "purpose": "live", "reason": "暴雨"})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var live notify.Activation
	res.decode(t, &live)
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(live.ID) + "/stand-down", token: f.root, body: jsonBody(map[string]any{"reason": "雨停"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)

	path := "/api/v1/drills/" + string(s.ID) + "/run"
	res = do(t, h, request{method: "POST", path: path, token: trainer})
	require.Equal(t, http.StatusConflict, res.Code, "%s", res.Body)
	assert.Contains(t, res.errorBody(t).Message, "recovering from a live emergency")
	res = do(t, h, request{method: "POST", path: path, token: trainer, body: jsonBody(map[string]any{"during_recovery": "yes"})})
	assert.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
	res = do(t, h, request{method: "POST", path: path, token: trainer, body: jsonBody(map[string]any{"during_recovery": true})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var r drills.Run
	res.decode(t, &r)
	assert.True(t, r.DuringRecovery)
	assert.NotEmpty(t, r.Warnings)
}
