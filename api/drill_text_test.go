package api_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster/clustertest"
	"muster/examples"
	"muster/notify"
	"muster/plans"
)

// drillTextFixture is a one-node cluster on a test clock (so that it
// serves drills) with the demo regions, plan and a small roster, and its
// handler.
func drillTextFixture(t *testing.T) (*fixture, http.Handler) {
	t.Helper()
	f := newFixtureWith(t, 1, clustertest.NewClock(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)), "")
	h := f.handler(f.c.Nodes[0])
	withDemo(t, f, h)
	regions, err := examples.Regions()
	require.NoError(t, err)
	var roster bytes.Buffer
	require.NoError(t, examples.GenerateRoster(&roster, 300, 3, examples.Grids(regions)))
	res := do(t, h, request{method: "POST", path: "/api/v1/roster/import", token: f.root, body: bytes.NewReader(roster.Bytes())})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	return f, h
}

// An EXERCISE whose reason says it is not a drill, or that it is real, is
// refused, previewed or not, and starts nothing: its messages say the
// reason (every voice call reads it out, the CAP description carries it),
// and its people would hear a drill telling them it is real. A drill's
// schedule title, each run's reason, is refused the same way.
func TestADrillThatSaysItIsRealIsRefusedThroughTheAPI(t *testing.T) {
	f, h := drillTextFixture(t)
	for _, reason := range []string{"【非演练】真实撤离", "这不是演练 THIS IS NOT A DRILL 真实险情"} {
		for _, dry := range []bool{true, false} {
			req := map[string]any{"plan_id": "flood-control", "regions": []string{"990102"}, "level": "IV", "purpose": "EXERCISE", "reason": reason, "dry_run": dry}
			res := do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(req)})
			require.Equal(t, http.StatusBadRequest, res.Code, "%s (dry run %v): %s", reason, dry, res.Body)
			msg := res.errorBody(t).Message
			assert.Contains(t, msg, "a drill must never say it is real or not a drill", reason)
		}
	}
	req := map[string]any{"plan_id": "flood-control", "regions": []string{"990102"}, "level": "IV", "purpose": "EXERCISE", "reason": "这不是演练 THIS IS NOT A DRILL 真实险情"}
	res := do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(req)})
	assert.Contains(t, res.errorBody(t).Message, `says "不是演练", "NOT A DRILL"`)

	res = do(t, h, request{method: "GET", path: "/api/v1/activations?consistency=linearizable", token: f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var list plans.List[notify.Activation]
	res.decode(t, &list)
	assert.Empty(t, list.Items, "nothing started")

	drill := map[string]any{"plan_id": "flood-control", "regions": []string{"990104"}, "level": "IV", "type": "notification",
		"title": "【非演练】THIS IS NOT A DRILL", "cron": "0 9 * * 1", "time_zone": "Asia/Shanghai"}
	res = do(t, h, request{method: "POST", path: "/api/v1/drills", token: f.root, body: jsonBody(drill)})
	require.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
	assert.Contains(t, res.errorBody(t).Message, `title "【非演练】THIS IS NOT A DRILL" says "非演练", "NOT A DRILL"`)

	// The drill says what it is, and starts.
	req["reason"] = "防汛通讯演练"
	res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(req)})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	drill["title"] = "防汛通讯演练"
	res = do(t, h, request{method: "POST", path: "/api/v1/drills", token: f.root, body: jsonBody(drill)})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
}

// A LIVE call-up's correction goes out as a LIVE message: its text, like
// a LIVE reason, may not carry the drill mark or a drill word, previewed
// or not; a drill's correction may not say the drill was real. Each
// retracts with a text that says neither.
func TestARetractionsTextIsCheckedForItsPurposeThroughTheAPI(t *testing.T) {
	f, h := drillTextFixture(t)
	start := func(purpose, reason, region string) notify.Activation {
		t.Helper()
		req := map[string]any{"plan_id": "flood-control", "regions": []string{region}, "level": "IV", "purpose": purpose, "reason": reason}
		res := do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(req)})
		require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
		var a notify.Activation
		res.decode(t, &a)
		return a
	}
	retract := func(id plans.ActivationID, message string, dry bool) response {
		return do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(id) + "/retract", token: f.root,
			body: jsonBody(map[string]any{"message": message, "dry_run": dry})})
	}

	live := start("LIVE", "暴雨", "990105")
	for _, message := range []string{"【演练】前一条为演练信息，请忽略", "前一条为测试信息", "previous message was a drill"} {
		for _, dry := range []bool{true, false} {
			res := retract(live.ID, message, dry)
			require.Equal(t, http.StatusBadRequest, res.Code, "%s (dry run %v): %s", message, dry, res.Body)
			assert.Contains(t, res.errorBody(t).Message, "but the call-up retracted is LIVE", message)
		}
	}

	drill := start("EXERCISE", "防汛通讯演练", "990106")
	for _, dry := range []bool{true, false} {
		res := retract(drill.ID, "更正：这不是演练，是真实事件", dry)
		require.Equal(t, http.StatusBadRequest, res.Code, "dry run %v: %s", dry, res.Body)
		assert.Contains(t, res.errorBody(t).Message, `says "不是演练", "真实事件"`)
	}

	res := retract(live.ID, "前一条信息为误发，请忽略", true)
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	res = retract(live.ID, "前一条信息为误发，请忽略", false)
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	res = retract(drill.ID, "前一条演练信息有误，请忽略", false)
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
}
