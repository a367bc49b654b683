package api_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/notify"
	"muster/plans"
)

// newWarningFixture is a single node on a moving clock serving warnings;
// sender, when not empty, is the CAP sender the API is configured with.
func newWarningFixture(t *testing.T, clk muster.Clock, sender string) *fixture {
	t.Helper()
	return newFixtureWith(t, 1, clk, sender)
}

func TestWarningsThroughTheAPI(t *testing.T) {
	clk := clustertest.NewClock(time.Date(2026, 7, 20, 0, 0, 0, 0, time.UTC))
	f := newWarningFixture(t, clk, "")
	h := f.handler(f.c.Nodes[0])
	withDemo(t, f, h)
	viewer, _ := createToken(t, h, f.root, "viewer", access.Viewer)
	commander, _ := createToken(t, h, f.root, "commander", access.Commander)
	operator, _ := createToken(t, h, f.root, "operator", access.Operator)

	good := map[string]any{"regions": []string{"990101"}, "level": "红", "event": "暴雨", "headline": "东湖区暴雨红色预警",
		"category": "natural", "expires_in": "6h", "source": "test"}
	// with returns good with the given keys set to the values that follow
	// them (nil: removed).
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range good {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	past := clk.Now().Add(-time.Hour).Format(time.RFC3339)
	bad := []struct {
		name string
		body any
		msg  string
	}{
		{"unknown level", with("level", "purple"), "warning level"},
		{"unknown region", with("regions", []string{"990199"}), "990199 does not exist"},
		{"no regions", with("regions", []string{}), "regions"},
		{"no headline", with("headline", nil), "headline"},
		{"expiry in the past", with("expires_in", nil, "expires", past), "in the past"},
		{"both expiries", with("expires", clk.Now().Add(time.Hour).Format(time.RFC3339)), "not both"},
		{"expiry not a time", with("expires", "tomorrow"), "RFC 3339"},
		{"expiry not a duration", with("expires_in", "soon"), "expires_in"},
		{"unknown field", with("colour", "red"), "colour"},
		{"bad category", with("category", "weather"), "hazard"},
		{"escape in the headline", with("headline", "暴雨\x1b[31m红色预警"), "control character U+001B"},
		{"line break in the event", with("event", "暴雨\n台风"), "control character U+000A"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, h, request{method: "POST", path: "/api/v1/warnings", token: commander, body: jsonBody(tt.body)})
			require.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
			e := res.errorBody(t)
			assert.Equal(t, muster.EInvalid, e.Code)
			assert.Contains(t, e.Message, tt.msg)
		})
	}
	for _, tok := range []string{viewer, operator} {
		res := do(t, h, request{method: "POST", path: "/api/v1/warnings", token: tok, body: jsonBody(good)})
		assert.Equal(t, http.StatusForbidden, res.Code, "issuing needs the activate permission: %s", res.Body)
	}
	res := do(t, h, request{method: "GET", path: "/api/v1/warnings", token: viewer})
	require.Equal(t, http.StatusOK, res.Code)
	assert.JSONEq(t, `{"items":[],"next":""}`, res.Body.String(), "nothing was issued")
	assert.Equal(t, "normal", modeOf(t, f, h, "990101"))

	// Issue: standby, suggestions, a response due in 10 minutes.
	res = do(t, h, request{method: "POST", path: "/api/v1/warnings", token: commander, body: jsonBody(good)})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var w plans.Warning
	res.decode(t, &w)
	assert.Equal(t, "/api/v1/warnings/"+string(w.ID), res.Header().Get("Location"))
	assert.Equal(t, plans.WarningRed, w.Level)
	assert.Equal(t, plans.HazardNatural, w.Category)
	assert.Equal(t, "commander", w.IssuedBy)
	assert.Equal(t, clk.Now().Add(6*time.Hour), w.Expires)
	assert.Equal(t, clk.Now().Add(10*time.Minute), w.RespondBy)
	assert.Equal(t, plans.LevelI, w.SuggestedLevel)
	require.Len(t, w.Suggestions, 1, "only the flood plan is loaded")
	assert.Equal(t, plans.PlanID("flood-control"), w.Suggestions[0].Plan)
	assert.Equal(t, plans.LevelI, w.Suggestions[0].Level)
	assert.False(t, w.Prompt)
	assert.Equal(t, "standby", modeOf(t, f, h, "990101001"))

	// After the response time with no activation: prompted, and counted.
	clk.Add(10 * time.Minute)
	res = do(t, h, request{method: "GET", path: "/api/v1/warnings?unanswered=true", token: viewer})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var list plans.List[plans.Warning]
	res.decode(t, &list)
	require.Len(t, list.Items, 1)
	assert.True(t, list.Items[0].Prompt)
	assert.Equal(t, w.RespondBy, list.Items[0].PromptSince)
	res = do(t, h, request{method: "GET", path: "/metrics"})
	require.Equal(t, http.StatusOK, res.Code)
	assert.Contains(t, res.Body.String(), "muster_warnings_unanswered 1")
	assert.Contains(t, res.Body.String(), `muster_warnings_active{level="red"} 1`)

	res = do(t, h, request{method: "GET", path: "/api/v1/warnings/" + string(w.ID), token: viewer})
	require.Equal(t, http.StatusOK, res.Code)
	var got plans.Warning
	res.decode(t, &got)
	assert.True(t, got.Prompt)
	assert.Equal(t, http.StatusNotFound, do(t, h, request{method: "GET", path: "/api/v1/warnings/W999999", token: viewer}).Code)
	assert.Equal(t, http.StatusBadRequest, do(t, h, request{method: "GET", path: "/api/v1/warnings?active=maybe", token: viewer}).Code)

	// Lift: roles, a reason, once.
	lift := "/api/v1/warnings/" + string(w.ID) + "/lift"
	assert.Equal(t, http.StatusForbidden, do(t, h, request{method: "POST", path: lift, token: viewer, body: jsonBody(map[string]string{"reason": "x"})}).Code)
	res = do(t, h, request{method: "POST", path: lift, token: commander, body: jsonBody(map[string]string{"reason": ""})})
	assert.Equal(t, http.StatusBadRequest, res.Code)
	res = do(t, h, request{method: "POST", path: lift, token: commander, body: jsonBody(map[string]string{"reason": "雨势减弱"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	res.decode(t, &got)
	assert.Equal(t, plans.WarningLifted, got.Status)
	assert.Equal(t, "雨势减弱", got.LiftReason)
	assert.False(t, got.Prompt)
	assert.Equal(t, "normal", modeOf(t, f, h, "990101"))
	res = do(t, h, request{method: "POST", path: lift, token: commander, body: jsonBody(map[string]string{"reason": "again"})})
	assert.Equal(t, http.StatusConflict, res.Code)
	res = do(t, h, request{method: "GET", path: "/api/v1/warnings?active=true", token: viewer})
	require.Equal(t, http.StatusOK, res.Code)
	assert.JSONEq(t, `{"items":[],"next":""}`, res.Body.String())
	res = do(t, h, request{method: "GET", path: "/metrics"})
	assert.Contains(t, res.Body.String(), "muster_warnings_unanswered 0")
}

func TestWarningsWithoutTheService(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	res := do(t, h, request{method: "GET", path: "/api/v1/warnings", token: f.root})
	assert.Equal(t, http.StatusServiceUnavailable, res.Code)
	assert.True(t, strings.Contains(res.errorBody(t).Message, "warnings"))
}

// A LIVE call-up retracted as sent in error answers no warning: the red
// warning it met goes back to awaiting a response and prompts the
// commander once its response time has passed; a call-up that stands
// answers it again.
func TestARetractedCallUpAnswersNoWarning(t *testing.T) {
	clk := clustertest.NewClock(time.Date(2026, 7, 20, 0, 0, 0, 0, time.UTC))
	f := newWarningFixture(t, clk, "")
	h := f.handler(f.c.Nodes[0])
	withDemo(t, f, h)
	regions, err := examples.Regions()
	require.NoError(t, err)
	var roster bytes.Buffer
	require.NoError(t, examples.GenerateRoster(&roster, 600, 3, examples.Grids(regions)))
	res := do(t, h, request{method: "POST", path: "/api/v1/roster/import", token: f.root, body: bytes.NewReader(roster.Bytes())})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)

	res = do(t, h, request{method: "POST", path: "/api/v1/warnings", token: f.root, body: jsonBody(map[string]any{
		"regions": []string{"990101"}, "level": "红", "event": "暴雨", "headline": "东湖区暴雨红色预警", "category": "natural", "expires_in": "6h"})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var w plans.Warning
	res.decode(t, &w)
	warning := func() plans.Warning { return readWarning(t, h, f.root, w.ID) }
	activate := func() plans.ActivationID {
		t.Helper()
		res := do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(map[string]any{
			"plan_id": "flood-control", "regions": []string{"990101001"}, "level": "IV", "purpose": "LIVE", "reason": "暴雨"})})
		require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
		var a notify.Activation
		res.decode(t, &a)
		require.Equal(t, notify.StatusActive, a.Status)
		return a.ID
	}

	mistaken := activate()
	require.Len(t, warning().Responses, 1)
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(mistaken) + "/retract", token: f.root,
		body: jsonBody(map[string]any{"message": "误发，请忽略"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	got := warning()
	require.Len(t, got.Responses, 1, "kept for the record")
	assert.Equal(t, mistaken, got.Responses[0].Activation)
	assert.Equal(t, clk.Now(), got.Responses[0].Retracted)
	assert.False(t, got.Answered())
	assert.False(t, got.Prompt, "not yet due")

	clk.Add(10 * time.Minute)
	got = warning()
	assert.True(t, got.Prompt, "due, and what answered it was retracted")
	res = do(t, h, request{method: "GET", path: "/metrics"})
	assert.Contains(t, res.Body.String(), "muster_warnings_unanswered 1")

	standing := activate()
	got = warning()
	assert.True(t, got.Answered())
	assert.False(t, got.Prompt)
	require.Len(t, got.Responses, 2)
	assert.Equal(t, standing, got.Responses[1].Activation)
	assert.True(t, got.Responses[1].Retracted.IsZero())
}

// An upstream exercise's warning is answered by the drill started over its
// regions, as its suggestion asks, and not by a LIVE call-up; the metric
// counts it in neither case.
func TestADrillAnswersAnExerciseWarning(t *testing.T) {
	clk, f, h, _ := capCallUpFixture(t, 600)
	sample, err := os.ReadFile(filepath.Join(upstreamDir, "rainstorm-orange.xml"))
	require.NoError(t, err)
	exercise := strings.Replace(string(sample), "<cap:status>Actual</cap:status>", "<cap:status>Exercise</cap:status>", 1)
	res := do(t, h, request{method: "POST", path: "/api/v1/cap", token: f.root, body: strings.NewReader(exercise)})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var w plans.Warning
	res.decode(t, &w)
	require.Equal(t, plans.WarningExercise, w.Purpose)
	require.Equal(t, []plans.RegionCode{"990101", "990102"}, w.Regions)
	warning := func() plans.Warning { return readWarning(t, h, f.root, w.ID) }
	activate := func(region, purpose, reason string) plans.ActivationID {
		t.Helper()
		res := do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(map[string]any{
			"plan_id": "flood-control", "regions": []string{region}, "level": "III", "purpose": purpose, "reason": reason})})
		require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
		var a notify.Activation
		res.decode(t, &a)
		require.Equal(t, notify.StatusActive, a.Status)
		return a.ID
	}

	live := activate("990102", "LIVE", "暴雨")
	clk.Add(time.Hour)
	got := warning()
	assert.Empty(t, got.Responses, "a LIVE call-up (%s) answers no exercise", live)
	assert.True(t, got.Prompt, "due, and no drill answered it")

	drill := activate("990101001", "EXERCISE", "暴雨橙色预警演练")
	got = warning()
	require.Len(t, got.Responses, 1)
	assert.Equal(t, drill, got.Responses[0].Activation)
	assert.Equal(t, plans.RegionCode("990101001"), got.Responses[0].Region)
	assert.False(t, got.Prompt)
	res = do(t, h, request{method: "GET", path: "/metrics"})
	assert.Contains(t, res.Body.String(), "muster_warnings_unanswered 0")
}

// readWarning is warning id as the API serves it.
func readWarning(t *testing.T, h http.Handler, token string, id plans.WarningID) plans.Warning {
	t.Helper()
	res := do(t, h, request{method: "GET", path: "/api/v1/warnings/" + string(id), token: token})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var got plans.Warning
	res.decode(t, &got)
	return got
}
