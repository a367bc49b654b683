package api_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
	"muster/cluster/clustertest"
	"muster/drills"
	"muster/examples"
	"muster/plans"
)

// changeFixture is a one-node fixture implementing rules (0: this
// muster's) on a clock at 07:00 on a Monday in Shanghai, with the demo
// city, a roster and the flood plan; its handler and a trainer's token.
func changeFixture(t *testing.T, rules int) (*fixture, http.Handler, string, *time.Location) {
	t.Helper()
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	clk := clustertest.NewClock(time.Date(2026, 12, 7, 7, 0, 0, 0, shanghai).UTC())
	f := newFixtureRules(t, 1, clk, "", rules)
	h := f.handler(f.c.Leader())
	withDemo(t, f, h)
	regions, err := examples.Regions()
	require.NoError(t, err)
	var roster bytes.Buffer
	require.NoError(t, examples.GenerateRoster(&roster, 200, 3, examples.Grids(regions)))
	res := do(t, h, request{method: "POST", path: "/api/v1/roster/import", token: f.root, body: bytes.NewReader(roster.Bytes())})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	trainer, _ := createToken(t, h, f.root, "演练组织者", access.Trainer)
	return f, h, trainer, shanghai
}

// scheduleWeekly schedules the weekly flood drill of 990101 at 09:00 on
// Mondays as the trainer.
func scheduleWeekly(t *testing.T, h http.Handler, trainer string) drills.Schedule {
	t.Helper()
	res := do(t, h, request{method: "POST", path: "/api/v1/drills", token: trainer, body: jsonBody(map[string]any{
		"plan_id": "flood-control", "regions": []string{"990101"}, "level": "IV", "type": "notification",
		"title": "防汛通讯演练", "cron": "0 9 * * 1", "time_zone": "Asia/Shanghai", "units": []string{"区应急局"}})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var s drills.Schedule
	res.decode(t, &s)
	return s
}

// A trainer changes a schedule in place (PATCH /api/v1/drills/{id}): the
// fields given change, the rest stay, and the schedule keeps its ID, its
// runs and when it was made. New due times start from the command's time;
// the run open now goes on and the answer says the change applies from
// the next run. Bad input is 400 in the error shape and leaves the
// schedule as it was; an unknown schedule is 404; a viewer may not.
func TestDrillScheduleChangeThroughTheAPI(t *testing.T) {
	f, h, trainer, shanghai := changeFixture(t, 0)
	viewer, _ := createToken(t, h, f.root, "viewer", access.Viewer)
	s := scheduleWeekly(t, h, trainer)
	path := "/api/v1/drills/" + string(s.ID)
	res := do(t, h, request{method: "POST", path: path + "/run", token: trainer})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var run drills.Run
	res.decode(t, &run)
	require.Equal(t, drills.RunStarted, run.Status)

	res = do(t, h, request{method: "PATCH", path: path, token: viewer, body: jsonBody(map[string]any{"title": "x"})})
	assert.Equal(t, http.StatusForbidden, res.Code, "%s", res.Body)
	res = do(t, h, request{method: "PATCH", path: "/api/v1/drills/D999999", token: trainer, body: jsonBody(map[string]any{"cron": "0 10 * * 1"})})
	require.Equal(t, http.StatusNotFound, res.Code, "%s", res.Body)
	assert.Equal(t, muster.ENotFound, res.errorBody(t).Code)

	for _, tc := range []struct {
		name string
		body map[string]any
		want string
	}{
		{"bad cron", map[string]any{"cron": "0 9 * *"}, `cron "0 9 * *"`},
		{"cron and at", map[string]any{"cron": "0 9 * * 2", "at": "2027-01-04 09:00"}, "not both"},
		{"neither cron nor at", map[string]any{"cron": ""}, "give --cron"},
		{"runs closer than their length", map[string]any{"cron": "*/30 * * * *"}, "less than a run's length"},
		{"length over the limit", map[string]any{"length": "48h"}, "at most 24h"},
		{"length the cron cannot hold", map[string]any{"cron": "0 9,12 * * 1", "length": "4h"}, "less than a run's length of 4h"},
		{"a one-off in the past", map[string]any{"at": "2026-12-01 09:00"}, "the time has passed"},
		{"no level", map[string]any{"level": "V"}, "level"},
		{"no region", map[string]any{"regions": []string{}}, "regions"},
		{"nothing", map[string]any{}, "nothing to change"},
		{"unknown field", map[string]any{"note": "x"}, "note"},
	} {
		res = do(t, h, request{method: "PATCH", path: path, token: trainer, body: jsonBody(tc.body)})
		require.Equal(t, http.StatusBadRequest, res.Code, "%s: %s", tc.name, res.Body)
		e := res.errorBody(t)
		assert.Equal(t, muster.EInvalid, e.Code, tc.name)
		assert.Contains(t, e.Message, tc.want, tc.name)
	}
	res = do(t, h, request{method: "GET", path: path, token: trainer})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var kept drills.Schedule
	res.decode(t, &kept)
	assert.Equal(t, s.Cron, kept.Cron, "refused changes change nothing")
	assert.True(t, kept.Due.Equal(s.Due))
	assert.Equal(t, s.UpdatedAt, kept.UpdatedAt)

	// Workdays at 07:30 for two hours: the next due time is 07:30 today,
	// from the command's time (07:00), while the run by hand is open.
	res = do(t, h, request{method: "PATCH", path: path, token: trainer, body: jsonBody(map[string]any{
		"cron": "30 7 * * 1-5", "length": "2h", "title": "防汛通讯演练（工作日）"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var changed drills.Schedule
	res.decode(t, &changed)
	assert.Equal(t, s.ID, changed.ID, "the schedule keeps its ID")
	assert.Equal(t, "30 7 * * 1-5", changed.Cron)
	assert.Equal(t, plans.Duration(2*time.Hour), changed.Length)
	assert.Equal(t, "防汛通讯演练（工作日）", changed.Title)
	assert.Equal(t, s.Regions, changed.Regions, "fields not given are kept")
	assert.Equal(t, s.Units, changed.Units)
	assert.True(t, changed.Due.Equal(time.Date(2026, 12, 7, 7, 30, 0, 0, shanghai)), "due %s", changed.Due.In(shanghai))
	assert.Equal(t, 1, changed.Runs)
	assert.Equal(t, run.ID, changed.LastRun)
	assert.True(t, changed.CreatedAt.Equal(s.CreatedAt))
	assert.Equal(t, "演练组织者", changed.UpdatedBy)
	if assert.Len(t, changed.Warnings, 1, "%v", changed.Warnings) {
		assert.Contains(t, changed.Warnings[0], string(run.ID))
		assert.Contains(t, changed.Warnings[0], "the change applies from the next run")
		assert.Contains(t, changed.Warnings[0], "the next due time, 2026-12-07 07:30 +08:00, comes while it is open and will be recorded missed")
	}

	// Read back: the same; the run stays the schedule's and still runs.
	res = do(t, h, request{method: "GET", path: path, token: viewer})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var read drills.Schedule
	res.decode(t, &read)
	assert.Equal(t, changed.Cron, read.Cron)
	assert.True(t, read.Due.Equal(changed.Due))
	assert.Empty(t, read.Warnings, "warnings are the answer's, not stored")
	res = do(t, h, request{method: "GET", path: "/api/v1/drill-runs?schedule=" + string(s.ID), token: viewer})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var runs plans.List[drills.Run]
	res.decode(t, &runs)
	if assert.Len(t, runs.Items, 1) {
		assert.Equal(t, run.ID, runs.Items[0].ID)
		assert.Equal(t, "防汛通讯演练", runs.Items[0].Title, "a run keeps what it ran as")
	}
	res = do(t, h, request{method: "GET", path: "/api/v1/activations/" + string(run.Activation), token: viewer})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	assert.Contains(t, res.Body.String(), `"status":"active"`, "the open run goes on")

	// A change of the title only keeps the due times; a time makes the
	// drill a one-off.
	res = do(t, h, request{method: "PATCH", path: path, token: trainer, body: jsonBody(map[string]any{"title": "防汛通讯演练"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var retitled drills.Schedule
	res.decode(t, &retitled)
	assert.Equal(t, "30 7 * * 1-5", retitled.Cron)
	assert.True(t, retitled.Due.Equal(read.Due), "due %s", retitled.Due)
	res = do(t, h, request{method: "PATCH", path: path, token: trainer, body: jsonBody(map[string]any{"at": "2027-01-04 09:00", "units": []string{}})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var once drills.Schedule
	res.decode(t, &once)
	assert.Empty(t, once.Cron)
	assert.Empty(t, once.Units)
	assert.True(t, once.Due.Equal(time.Date(2027, 1, 4, 9, 0, 0, 0, shanghai)), "due %s", once.Due)
	assert.Equal(t, s.ID, once.ID)
	assert.Equal(t, 1, once.Runs)
}

// A cluster whose members implement rules 12 refuses the change (409,
// saying why and what to do) and the schedule stays as it was; pausing
// it works as before.
func TestDrillScheduleChangeRefusedUnderRules12(t *testing.T) {
	_, h, trainer, _ := changeFixture(t, 12)
	s := scheduleWeekly(t, h, trainer)
	path := "/api/v1/drills/" + string(s.ID)
	res := do(t, h, request{method: "PATCH", path: path, token: trainer, body: jsonBody(map[string]any{"cron": "0 10 * * 1"})})
	require.Equal(t, http.StatusConflict, res.Code, "%s", res.Body)
	e := res.errorBody(t)
	assert.Equal(t, muster.EConflict, e.Code)
	assert.Contains(t, e.Message, "needs state-machine rules 13 and the cluster applies 12")
	res = do(t, h, request{method: "GET", path: path, token: trainer})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var kept drills.Schedule
	res.decode(t, &kept)
	assert.Equal(t, "0 9 * * 1", kept.Cron)
	assert.True(t, kept.Due.Equal(s.Due))
	res = do(t, h, request{method: "POST", path: path + "/pause", token: trainer})
	assert.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
}
