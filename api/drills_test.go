package api_test

import (
	"bytes"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/access"
	"muster/cluster/clustertest"
	"muster/drills"
	"muster/examples"
	"muster/notify"
	"muster/plans"
)

func TestDrillsThroughTheAPI(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	clk := clustertest.NewClock(time.Date(2026, 12, 7, 7, 0, 0, 0, shanghai).UTC()) // a Monday
	f := newFixtureWith(t, 1, clk, "")
	h := f.handler(f.c.Leader())
	withDemo(t, f, h)
	regions, err := examples.Regions()
	require.NoError(t, err)
	var roster bytes.Buffer
	require.NoError(t, examples.GenerateRoster(&roster, 1500, 3, examples.Grids(regions)))
	res := do(t, h, request{method: "POST", path: "/api/v1/roster/import", token: f.root, body: bytes.NewReader(roster.Bytes())})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	trainer, _ := createToken(t, h, f.root, "演练组织者", access.Trainer)
	viewer, _ := createToken(t, h, f.root, "viewer", access.Viewer)

	weekly := map[string]any{"plan_id": "flood-control", "regions": []string{"990101"}, "level": "IV", "type": "notification",
		"title": "防汛通讯演练", "cron": "0 9 * * 1", "time_zone": "Asia/Shanghai", "no_notice": "09:00-17:00"}
	res = do(t, h, request{method: "POST", path: "/api/v1/drills", token: viewer, body: jsonBody(weekly)})
	assert.Equal(t, http.StatusForbidden, res.Code, "a viewer may not schedule drills")
	res = do(t, h, request{method: "POST", path: "/api/v1/drills", token: trainer, body: jsonBody(weekly)})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var s drills.Schedule
	res.decode(t, &s)
	assert.Equal(t, "/api/v1/drills/"+string(s.ID), res.Header().Get("Location"))
	assert.True(t, s.Due.Equal(time.Date(2026, 12, 7, 9, 0, 0, 0, shanghai)), "due %s", s.Due)
	assert.True(t, s.RunAt.IsZero(), "a trainer is not told when a no-notice drill starts")

	// Only an admin sees the picked time, the same on every read.
	res = do(t, h, request{method: "GET", path: "/api/v1/drills/" + string(s.ID), token: f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var seen drills.Schedule
	res.decode(t, &seen)
	lo, hi := time.Date(2026, 12, 7, 9, 0, 0, 0, shanghai), time.Date(2026, 12, 7, 17, 0, 0, 0, shanghai)
	assert.False(t, seen.RunAt.Before(lo) || !seen.RunAt.Before(hi), "picked %s inside the window", seen.RunAt)
	for _, tok := range []string{trainer, viewer} {
		res = do(t, h, request{method: "GET", path: "/api/v1/drills", token: tok})
		require.Equal(t, http.StatusOK, res.Code)
		var list plans.List[drills.Schedule]
		res.decode(t, &list)
		require.Len(t, list.Items, 1)
		assert.True(t, list.Items[0].RunAt.IsZero())
	}

	bad := []map[string]any{
		{"plan_id": "flood-control", "regions": []string{"990101"}, "level": "IV", "title": "x", "cron": "0 9 * *"},
		{"plan_id": "flood-control", "regions": []string{"990101"}, "level": "IV", "title": "x", "cron": "0 9 * * 1", "time_zone": "Mars/Base"},
		{"plan_id": "flood-control", "regions": []string{"990101"}, "level": "IV", "title": "x", "at": "2026-12-01 09:00"},
		{"plan_id": "flood-control", "regions": []string{"990101"}, "level": "IV", "title": "x", "cron": "0 9 * * 1", "no_notice": "17:00-09:00"},
		{"plan_id": "flood-control", "regions": []string{"990101"}, "level": "IV", "title": "x", "cron": "0 9 * * 1", "type": "party"},
		{"plan_id": "flood-control", "regions": []string{"990101"}, "level": "V", "title": "x", "cron": "0 9 * * 1"},
		{"plan_id": "flood-control", "regions": []string{"990101"}, "cron": "0 9 * * 1"},
		{"plan_id": "flood-control", "regions": []string{"990101"}, "level": "IV", "title": "x", "cron": "* * * * *"},                      // a new hour-long run every minute
		{"plan_id": "flood-control", "regions": []string{"990101"}, "level": "IV", "title": strings.Repeat("题", 201), "cron": "0 9 * * 1"}, // each run's reason
		{"plan_id": "flood-control", "regions": []string{"990101"}, "level": "IV", "title": "演练\x1b[31m", "cron": "0 9 * * 1"},
		{"plan_id": "flood-control", "regions": []string{"990101"}, "level": "IV", "title": "x", "cron": "0 9 * * 1", "units": []string{"区应急局\n区水务局"}},
	}
	for _, b := range bad {
		res = do(t, h, request{method: "POST", path: "/api/v1/drills", token: trainer, body: jsonBody(b)})
		assert.Equal(t, http.StatusBadRequest, res.Code, "%v: %s", b, res.Body)
	}
	res = do(t, h, request{method: "POST", path: "/api/v1/drills", token: trainer, body: jsonBody(map[string]any{
		"plan_id": "no-such-plan", "regions": []string{"990101"}, "level": "IV", "cron": "0 9 * * 1"})})
	assert.Equal(t, http.StatusNotFound, res.Code, "%s", res.Body)
	// Without a title the drill is named for its plan and type.
	res = do(t, h, request{method: "POST", path: "/api/v1/drills", token: trainer, body: jsonBody(map[string]any{
		"plan_id": "flood-control", "regions": []string{"990102"}, "level": "IV", "type": "tabletop", "at": "2027-05-20 14:30"})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var untitled drills.Schedule
	res.decode(t, &untitled)
	assert.Equal(t, "示例市防汛应急预案桌面推演", untitled.Title)
	assert.True(t, untitled.Due.Equal(time.Date(2027, 5, 20, 14, 30, 0, 0, shanghai)), "at is read in the schedule's zone: %s", untitled.Due)
	res = do(t, h, request{method: "DELETE", path: "/api/v1/drills/" + string(untitled.ID), token: trainer})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)

	// Run now: an EXERCISE activation that switches no region.
	res = do(t, h, request{method: "POST", path: "/api/v1/drills/" + string(s.ID) + "/run", token: trainer})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var run drills.Run
	res.decode(t, &run)
	assert.Equal(t, drills.RunStarted, run.Status)
	assert.True(t, run.Manual)
	assert.Positive(t, run.Participants)
	res = do(t, h, request{method: "GET", path: "/api/v1/activations/" + string(run.Activation), token: viewer})
	require.Equal(t, http.StatusOK, res.Code)
	var a notify.ActivationStatus
	res.decode(t, &a)
	assert.Equal(t, notify.PurposeExercise, a.Purpose)
	assert.Equal(t, "normal", modeOf(t, f, h, "990101"))
	res = do(t, h, request{method: "GET", path: "/api/v1/drill-runs?schedule=" + string(s.ID), token: viewer})
	require.Equal(t, http.StatusOK, res.Code)
	var runs plans.List[drills.Run]
	res.decode(t, &runs)
	require.Len(t, runs.Items, 1)
	assert.Equal(t, run.ID, runs.Items[0].ID)
	res = do(t, h, request{method: "GET", path: "/api/v1/drill-runs?status=late", token: viewer})
	assert.Equal(t, http.StatusBadRequest, res.Code)
	res = do(t, h, request{method: "GET", path: "/api/v1/drill-runs/R999999", token: viewer})
	assert.Equal(t, http.StatusNotFound, res.Code)

	// Metrics, the report in every format and language, the plan's trend.
	res = do(t, h, request{method: "GET", path: "/api/v1/drill-runs/" + string(run.ID) + "/metrics", token: viewer})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var m drills.Metrics
	res.decode(t, &m)
	assert.Equal(t, run.Participants, m.Total.Recipients)
	assert.Equal(t, notify.PurposeExercise, m.Purpose)
	report := "/api/v1/drill-runs/" + string(run.ID) + "/report"
	for _, tc := range []struct{ query, ctype, has string }{
		{"", "text/html; charset=utf-8", "【演练】"},
		{"?lang=en", "text/html; charset=utf-8", "EXERCISE"},
		{"?format=csv", "text/csv; charset=utf-8", "\ufeff"},
		{"?format=json", "application/json; charset=utf-8", `"participants": ` + strconv.Itoa(run.Participants)},
	} {
		res = do(t, h, request{method: "GET", path: report + tc.query, token: viewer})
		require.Equal(t, http.StatusOK, res.Code, "%s: %s", tc.query, res.Body)
		assert.Equal(t, tc.ctype, res.Header().Get("Content-Type"), tc.query)
		assert.Contains(t, res.Body.String(), tc.has, tc.query)
	}
	for _, q := range []string{"?format=pdf", "?lang=fr"} {
		res = do(t, h, request{method: "GET", path: report + q, token: viewer})
		assert.Equal(t, http.StatusBadRequest, res.Code, q)
	}
	res = do(t, h, request{method: "GET", path: "/api/v1/drills/trend?plan=flood-control", token: viewer})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var trend plans.List[drills.TrendRow]
	res.decode(t, &trend)
	require.Len(t, trend.Items, 1)
	assert.Equal(t, run.ID, trend.Items[0].Run)

	// The trainer ends the drill early: its call-up stands down. Standing
	// down an activation as such stays with those who may activate.
	standDown := "/api/v1/drill-runs/" + string(run.ID) + "/stand-down"
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(run.Activation) + "/stand-down", token: trainer, body: jsonBody(map[string]any{"reason": "演练结束"})})
	assert.Equal(t, http.StatusForbidden, res.Code, "%s", res.Body)
	assert.Contains(t, res.errorBody(t).Message, "lacks the activate permission this request needs: a trainer ends a drill with muster drill stand-down RUN", "the refusal says what a trainer does instead")
	res = do(t, h, request{method: "POST", path: standDown, token: viewer, body: jsonBody(map[string]any{"reason": "演练结束"})})
	assert.Equal(t, http.StatusForbidden, res.Code, "%s", res.Body)
	assert.NotContains(t, res.errorBody(t).Message, "a trainer", "a viewer is told no trainer's way")
	res = do(t, h, request{method: "POST", path: "/api/v1/drill-runs/R999999/stand-down", token: trainer, body: jsonBody(map[string]any{"reason": "演练结束"})})
	assert.Equal(t, http.StatusNotFound, res.Code, "%s", res.Body)
	res = do(t, h, request{method: "POST", path: standDown, token: trainer, body: jsonBody(map[string]any{"reason": "演练结束"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var stood notify.Activation
	res.decode(t, &stood)
	assert.Equal(t, run.Activation, stood.ID)
	assert.Equal(t, notify.StatusStoodDown, stood.Status)
	assert.Equal(t, "演练结束", stood.StandDownReason)
	res = do(t, h, request{method: "POST", path: standDown, token: trainer, body: jsonBody(map[string]any{"reason": "演练结束"})})
	assert.Equal(t, http.StatusConflict, res.Code, "already stood down: %s", res.Body)

	// A wrong drill message is corrected by the trainer who sent it: the
	// run's call-up is retracted, its correction a drill's. Retracting an
	// activation as such stays with those who may activate.
	retract := "/api/v1/drill-runs/" + string(run.ID) + "/retract"
	wrong := map[string]any{"message": "演练通知发错，请忽略。"}
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(run.Activation) + "/retract", token: trainer, body: jsonBody(wrong)})
	assert.Equal(t, http.StatusForbidden, res.Code, "%s", res.Body)
	assert.Contains(t, res.errorBody(t).Message, ": a trainer retracts a drill with muster drill retract RUN", "the refusal says what a trainer does instead")
	res = do(t, h, request{method: "POST", path: retract, token: viewer, body: jsonBody(wrong)})
	assert.Equal(t, http.StatusForbidden, res.Code, "%s", res.Body)
	res = do(t, h, request{method: "POST", path: retract, token: trainer, body: jsonBody(map[string]any{"message": "演练通知发错，请忽略。", "dry_run": true})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var rp notify.RetractPreview
	res.decode(t, &rp)
	assert.Contains(t, rp.Text, "【演练】")
	res = do(t, h, request{method: "POST", path: retract, token: trainer, body: jsonBody(wrong)})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var retracted notify.RetractResult
	res.decode(t, &retracted)
	assert.Equal(t, run.Activation, retracted.Retracted.ID)
	require.NotNil(t, retracted.Retracted.Retraction)
	assert.Equal(t, notify.PurposeExercise, retracted.Correction.Purpose, "a drill's correction is a drill's")
	assert.Equal(t, "演练组织者", retracted.Retracted.Retraction.By, "the trainer, audited")

	// After-action: a finding with its improvement item, edited, listed
	// per run and as the plan's open items.
	findings := "/api/v1/drill-runs/" + string(run.ID) + "/findings"
	res = do(t, h, request{method: "POST", path: findings, token: trainer, body: jsonBody(map[string]any{
		"what": "3 个网格员号码为空号", "change": "每季度核对网格员号码", "owner": "区应急局", "due": "2026-12-31"})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var fnd drills.Finding
	res.decode(t, &fnd)
	assert.Equal(t, "/api/v1/drill-findings/"+string(fnd.ID), res.Header().Get("Location"))
	assert.Equal(t, plans.PlanID("flood-control"), fnd.Plan)
	assert.Equal(t, drills.FindingOpen, fnd.Status)
	res = do(t, h, request{method: "POST", path: findings, token: viewer, body: jsonBody(map[string]any{"what": "x", "change": "y"})})
	assert.Equal(t, http.StatusForbidden, res.Code)
	res = do(t, h, request{method: "POST", path: findings, token: trainer, body: jsonBody(map[string]any{"what": "x", "change": "y", "due": "31/12/2026"})})
	assert.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
	res = do(t, h, request{method: "POST", path: "/api/v1/drill-runs/R999999/findings", token: trainer, body: jsonBody(map[string]any{"what": "x", "change": "y"})})
	assert.Equal(t, http.StatusNotFound, res.Code, "%s", res.Body)
	res = do(t, h, request{method: "PATCH", path: "/api/v1/drill-findings/" + string(fnd.ID), token: trainer, body: jsonBody(map[string]any{"status": "in_progress"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	res.decode(t, &fnd)
	assert.Equal(t, drills.FindingInProgress, fnd.Status)
	assert.Equal(t, "区应急局", fnd.Owner, "fields not given are kept")
	res = do(t, h, request{method: "GET", path: findings, token: viewer})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var flist plans.List[drills.Finding]
	res.decode(t, &flist)
	require.Len(t, flist.Items, 1)
	res = do(t, h, request{method: "GET", path: "/api/v1/drill-findings/open?plan=flood-control", token: viewer})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var open plans.List[drills.PlanFindings]
	res.decode(t, &open)
	require.Len(t, open.Items, 1)
	require.Len(t, open.Items[0].Items, 1)
	assert.Equal(t, fnd.ID, open.Items[0].Items[0].ID)
	// IDs muster numbers are found however their letter is typed.
	for path, want := range map[string]string{
		"/api/v1/activations/" + lower(run.Activation):            string(run.Activation),
		"/api/v1/drills/" + lower(s.ID):                           string(s.ID),
		"/api/v1/drill-runs/" + lower(run.ID):                     string(run.ID),
		"/api/v1/drill-runs/" + lower(run.ID) + "/metrics":        string(run.ID),
		"/api/v1/drill-runs/" + lower(run.ID) + "/findings":       string(fnd.ID),
		"/api/v1/drill-runs?schedule=" + lower(s.ID):              string(run.ID),
		"/api/v1/drill-findings/" + lower(fnd.ID):                 string(fnd.ID),
		"/api/v1/drill-findings?run=" + lower(run.ID):             string(fnd.ID),
		"/api/v1/activations/" + lower(run.Activation) + "/board": string(run.Activation),
	} {
		res = do(t, h, request{method: "GET", path: path, token: viewer})
		require.Equal(t, http.StatusOK, res.Code, "%s: %s", path, res.Body)
		assert.Contains(t, res.Body.String(), `"`+want+`"`, path)
	}
	res = do(t, h, request{method: "GET", path: "/api/v1/drills/overdue", token: viewer})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var overdue drills.OverdueReport
	res.decode(t, &overdue)
	require.NotEmpty(t, overdue.Regions)
	for _, r := range overdue.Regions {
		if r.Plan == "flood-control" {
			assert.True(t, r.Full.Overdue && r.Full.Never, "no full exercise yet: %+v", r)
		}
	}

	// A live emergency over the region refuses a drill by hand.
	live := map[string]any{"plan_id": "flood-control", "regions": []string{"990101"}, "level": "IV", "purpose": "LIVE", "reason": "暴雨"}
	res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(live)})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	res = do(t, h, request{method: "POST", path: "/api/v1/drills/" + string(s.ID) + "/run", token: trainer})
	assert.Equal(t, http.StatusConflict, res.Code, "%s", res.Body)
	assert.Contains(t, res.Body.String(), "emergency")

	for _, step := range []struct {
		method, path string
		code         int
	}{
		{"POST", "/pause", http.StatusOK}, {"POST", "/pause", http.StatusConflict},
		{"POST", "/resume", http.StatusOK}, {"POST", "/resume", http.StatusConflict},
		{"DELETE", "", http.StatusOK}, {"GET", "", http.StatusNotFound},
	} {
		res = do(t, h, request{method: step.method, path: "/api/v1/drills/" + string(s.ID) + step.path, token: trainer})
		assert.Equal(t, step.code, res.Code, "%s %s: %s", step.method, step.path, res.Body)
	}
	res = do(t, h, request{method: "GET", path: "/api/v1/drill-runs/" + string(run.ID), token: viewer})
	assert.Equal(t, http.StatusOK, res.Code, "a deleted schedule's runs stay")
}

// A filter naming a plan, schedule or run that does not exist is 404, not
// an empty list that reads as "never drilled"; a plan that exists but was
// never drilled lists empty.
func TestDrillFiltersNameWhatExists(t *testing.T) {
	f := newFixtureWith(t, 1, clustertest.NewClock(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)), "")
	h := f.handler(f.c.Leader())
	withDemo(t, f, h)
	for _, tc := range []struct{ path, want string }{
		{"/api/v1/drills/trend?plan=nope", "plan nope does not exist"},
		{"/api/v1/drill-runs?plan=nope", "plan nope does not exist"},
		{"/api/v1/drill-runs?schedule=D999", "drill schedule D999 does not exist"},
		{"/api/v1/drill-findings?run=R999", "drill run R999 does not exist"},
		{"/api/v1/drill-findings?plan=nope", "plan nope does not exist"},
		{"/api/v1/drill-findings/open?plan=nope", "plan nope does not exist"},
	} {
		res := do(t, h, request{method: "GET", path: tc.path, token: f.root})
		assert.Equal(t, http.StatusNotFound, res.Code, "%s: %s", tc.path, res.Body)
		assert.Contains(t, res.Body.String(), tc.want, tc.path)
	}
	for _, path := range []string{"/api/v1/drills/trend?plan=flood-control", "/api/v1/drill-runs?plan=flood-control",
		"/api/v1/drill-findings?plan=flood-control", "/api/v1/drill-findings/open?plan=flood-control"} {
		res := do(t, h, request{method: "GET", path: path, token: f.root})
		assert.Equal(t, http.StatusOK, res.Code, "%s: %s", path, res.Body)
		assert.Contains(t, res.Body.String(), `"items":[]`, path)
	}
}

func TestDrillsUnavailableWithoutService(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Leader())
	res := do(t, h, request{method: "GET", path: "/api/v1/drills", token: f.root})
	assert.Equal(t, http.StatusServiceUnavailable, res.Code, "%s", res.Body)
}

// lower is an ID as someone might type it, in lower case.
func lower[T ~string](id T) string { return strings.ToLower(string(id)) }

// A plan file that drops a level a drill schedule uses is refused (409,
// naming the schedule and the --force flag): the schedule would fail at its
// next due time. With force it is applied, and the answer says the
// schedule is broken; a file keeping the level goes through as before.
func TestPlanApplyKeepsTheLevelsDrillsUse(t *testing.T) {
	f, h, floodFile := floodFixture(t)
	flood := string(floodFile)
	cut := strings.Index(flood, "\n  IV:\n")
	require.Positive(t, cut, "level IV is the file's last level")
	withoutIV := []byte(flood[:cut+1])

	res := do(t, h, request{method: "POST", path: "/api/v1/drills", token: f.root, body: jsonBody(map[string]any{
		"plan_id": "flood-control", "regions": []string{"990101"}, "level": "IV", "type": "notification",
		"title": "防汛通讯演练", "cron": "0 9 * * 1", "time_zone": "Asia/Shanghai"})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var s drills.Schedule
	res.decode(t, &s)

	res = do(t, h, request{method: "POST", path: "/api/v1/plans?filename=flood.yaml", token: f.root, body: bytes.NewReader(withoutIV)})
	require.Equal(t, http.StatusConflict, res.Code, "%s", res.Body)
	assert.Contains(t, res.Body.String(), string(s.ID)+` \"防汛通讯演练\" (level IV)`)
	assert.Contains(t, res.Body.String(), "apply anyway with --force (force=true in the API)", "names the flag")
	res = do(t, h, request{method: "GET", path: "/api/v1/plans/flood-control", token: f.root})
	require.Equal(t, http.StatusOK, res.Code)
	var pv plans.PlanVersion
	res.decode(t, &pv)
	assert.Equal(t, 1, pv.Version, "nothing applied")

	res = do(t, h, request{method: "POST", path: "/api/v1/plans?filename=flood.yaml&force=true", token: f.root, body: bytes.NewReader(withoutIV)})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var forced plans.PlanApplyResult
	res.decode(t, &forced)
	assert.Contains(t, forced.Warnings, "drill schedule "+string(s.ID)+` "防汛通讯演练" (level IV): this version has no such level, so the schedule fails at its next due time: change its level (muster drill update) or delete it`,
		"stored by force, the broken schedule is said again")
	res = do(t, h, request{method: "POST", path: "/api/v1/plans?filename=flood.yaml", token: f.root, body: bytes.NewReader(floodFile)})
	require.Equal(t, http.StatusCreated, res.Code, "the level back: %s", res.Body)
}

// A plan version whose scope no longer covers a region an active drill
// schedule of the plan runs in is stored all the same, with a warning
// naming the schedule, its regions outside the scope, its next due time and
// what to do: the schedule's next run would be refused by the scope guard.
// A schedule inside the new scope, a paused one, and one whose scope was
// confirmed when it was scheduled get none.
func TestPlanApplyWarnsOfDrillSchedulesOutsideANarrowedScope(t *testing.T) {
	f, h, floodFile := floodFixture(t)
	flood := string(floodFile)
	require.Contains(t, flood, `scope: ["990100"]`)
	narrowed := []byte(strings.Replace(flood, `scope: ["990100"]`, `scope: ["990101"]`, 1))

	schedule := func(title string, body map[string]any) drills.Schedule {
		t.Helper()
		in := map[string]any{"plan_id": "flood-control", "level": "IV", "type": "notification", "title": title, "cron": "0 9 * * 1", "time_zone": "Asia/Shanghai"}
		maps.Copy(in, body)
		res := do(t, h, request{method: "POST", path: "/api/v1/drills", token: f.root, body: jsonBody(in)})
		require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
		var s drills.Schedule
		res.decode(t, &s)
		return s
	}
	outside := schedule("江北区通讯演练", map[string]any{"regions": []string{"990101", "990102"}})
	inside := schedule("东湖区通讯演练", map[string]any{"regions": []string{"990101"}})
	paused := schedule("暂停的演练", map[string]any{"regions": []string{"990102"}, "cron": "0 10 * * 2"})
	confirmed := schedule("已确认范围的演练", map[string]any{"regions": []string{"990103"}, "cron": "0 11 * * 3", "confirm_scope": "990103"})
	res := do(t, h, request{method: "POST", path: "/api/v1/drills/" + string(paused.ID) + "/pause", token: f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)

	res = do(t, h, request{method: "POST", path: "/api/v1/plans?filename=flood.yaml", token: f.root, body: bytes.NewReader(narrowed)})
	require.Equal(t, http.StatusCreated, res.Code, "stored all the same: %s", res.Body)
	var r plans.PlanApplyResult
	res.decode(t, &r)
	assert.Equal(t, 2, r.Version)
	var ours []string
	for _, w := range r.Warnings {
		if strings.HasPrefix(w, "drill schedule ") {
			ours = append(ours, w)
		}
	}
	require.Len(t, ours, 1, "%q", r.Warnings)
	assert.Equal(t, "drill schedule "+string(outside.ID)+` "江北区通讯演练" runs in 江北区 (990102), outside plan flood-control's new scope (990101): `+
		"its next run, due 2026-12-14 09:00 +08:00 (Asia/Shanghai), will be refused; if that is meant, confirm it in place (muster drill update "+string(outside.ID)+
		" --confirm-scope 990101,990102: it keeps its ID, runs and findings), or keep its regions in the plan's scope", ours[0])
	for _, s := range []drills.Schedule{inside, paused, confirmed} {
		assert.NotContains(t, strings.Join(r.Warnings, "\n"), string(s.ID), "%s", s.Title)
	}

	// What the warning says to do: the run by hand is refused, as it says.
	res = do(t, h, request{method: "POST", path: "/api/v1/drills/" + string(outside.ID) + "/run", token: f.root})
	assert.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
	res = do(t, h, request{method: "POST", path: "/api/v1/drills/" + string(confirmed.ID) + "/run", token: f.root})
	assert.Equal(t, http.StatusCreated, res.Code, "confirmed when scheduled: %s", res.Body)
}

// floodFixture is a one-node fixture on a test clock with the demo data,
// its handler, and the flood plan's file as the demo applied it.
func floodFixture(t *testing.T) (*fixture, http.Handler, []byte) {
	t.Helper()
	clk := clustertest.NewClock(time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC))
	f := newFixtureWith(t, 1, clk, "")
	h := f.handler(f.c.Leader())
	withDemo(t, f, h)
	files, err := examples.Plans()
	require.NoError(t, err)
	require.Equal(t, "flood.yaml", files[0].Name)
	return f, h, files[0].Data
}
