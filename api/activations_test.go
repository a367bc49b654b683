package api_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/access"
	"muster/examples"
	"muster/notify"
	"muster/plans"
)

var testSenders = notify.Senders{
	Live:     notify.SendInfo{Account: "AC-live", Sender: "+15005550006", PerSecond: 100},
	Exercise: notify.SendInfo{Account: "AC-exercise", Sender: "+15005550007", PerSecond: 100},
}

func TestActivationsThroughTheAPI(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	withDemo(t, f, h)
	regions, err := examples.Regions()
	require.NoError(t, err)
	var roster bytes.Buffer
	require.NoError(t, examples.GenerateRoster(&roster, 2000, 3, examples.Grids(regions)))
	res := do(t, h, request{method: "POST", path: "/api/v1/roster/import", token: f.root, body: bytes.NewReader(roster.Bytes())})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	viewer, _ := createToken(t, h, f.root, "viewer", access.Viewer)

	req := map[string]any{"plan_id": "flood-control", "regions": []string{"990101"}, "level": "IV", "purpose": "EXERCISE", "reason": "防汛通讯演练", "dry_run": true}
	res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(req)})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var preview notify.Preview
	res.decode(t, &preview)
	require.Positive(t, preview.Total)
	require.NotNil(t, preview.Sample)
	assert.Contains(t, preview.Sample.Text, "【演练】")
	assert.Equal(t, "AC-exercise", preview.Send.Account, "drills use their own account")
	assert.Equal(t, "normal", modeOf(t, f, h, "990101"), "a preview switches nothing")

	req["dry_run"] = false
	res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: viewer, body: jsonBody(req)})
	assert.Equal(t, http.StatusForbidden, res.Code, "a viewer may not activate")
	res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(req)})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var a notify.Activation
	res.decode(t, &a)
	assert.Equal(t, preview.Total, a.Recipients)
	assert.Equal(t, "/api/v1/activations/"+string(a.ID), res.Header().Get("Location"))

	res = do(t, h, request{method: "GET", path: "/api/v1/activations/" + string(a.ID), token: viewer})
	require.Equal(t, http.StatusOK, res.Code)
	var st notify.ActivationStatus
	res.decode(t, &st)
	assert.Equal(t, preview.Total, st.Counters.ByState[notify.StatePending])
	res = do(t, h, request{method: "GET", path: "/api/v1/activations/" + string(a.ID) + "/recipients?limit=1000&state=pending", token: viewer})
	require.Equal(t, http.StatusOK, res.Code)
	var recips plans.List[notify.Recipient]
	res.decode(t, &recips)
	assert.Len(t, recips.Items, preview.Total)
	assert.Equal(t, "normal", modeOf(t, f, h, "990101001"), "a drill runs in peacetime: it switches no region")
	assert.Equal(t, "normal", modeOf(t, f, h, "990102"))

	// A LIVE level I activation waits for a second person: nothing switched
	// until someone else, with the approver role, approves the preview.
	// The requester is the duty office's admin; the second person's token
	// is made by another admin. No token that comes from the requester's,
	// made before the request or after it, directly or through tokens made
	// for the purpose, counts as another person.
	office, _ := createToken(t, h, f.root, "值班主任", access.Admin)
	approver, _ := createToken(t, h, f.root, "second", access.Approver)
	beforehand, _ := createToken(t, h, office, "提前做的", access.Approver)
	robot, _ := createToken(t, h, office, "ops-robot", access.Admin)
	nightBefore, _ := createToken(t, h, robot, "night-approver", access.Approver) // two hops, before the request
	rootDesk, _ := createToken(t, h, f.root, "值班台", access.Admin, "值班主任")         // the requester's second token
	live := map[string]any{"plan_id": "flood-control", "regions": []string{"990102"}, "level": "I", "purpose": "LIVE", "reason": "特大暴雨"}
	res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: office, body: jsonBody(live)})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var pending notify.Activation
	res.decode(t, &pending)
	assert.Equal(t, notify.StatusPendingApproval, pending.Status)
	assert.Equal(t, "normal", modeOf(t, f, h, "990102"))
	// The list can be asked for the requests that wait for an approver
	// (the console's banner on every page), or any other statuses.
	listed := func(query string) []plans.ActivationID {
		t.Helper()
		res := do(t, h, request{method: "GET", path: "/api/v1/activations?" + query, token: viewer})
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		var l plans.List[notify.Activation]
		res.decode(t, &l)
		ids := []plans.ActivationID{}
		for _, it := range l.Items {
			ids = append(ids, it.ID)
		}
		return ids
	}
	assert.Equal(t, []plans.ActivationID{pending.ID}, listed("status=pending_approval"))
	assert.Equal(t, []plans.ActivationID{a.ID}, listed("status=active"))
	assert.Equal(t, []plans.ActivationID{a.ID, pending.ID}, listed("status=active,%20pending_approval"))
	assert.Equal(t, []plans.ActivationID{a.ID, pending.ID}, listed(""))
	res = do(t, h, request{method: "GET", path: "/api/v1/activations?status=waiting", token: viewer})
	assert.Equal(t, http.StatusBadRequest, res.Code)
	assert.Contains(t, res.errorBody(t).Message, `status "waiting": want one of pending_approval, active, stood_down, rejected, approval_expired`)
	approve := "/api/v1/activations/" + string(pending.ID) + "/approve"
	for _, body := range []map[string]any{{"recipients": 1}, {"dry_run": true}} {
		res = do(t, h, request{method: "POST", path: approve, token: office, body: jsonBody(body)})
		assert.Equal(t, http.StatusForbidden, res.Code, "the requester cannot approve, nor look at it as its approver: %s", res.Body)
		assert.Contains(t, res.errorBody(t).Message, "another person must decide on it")
	}
	res = do(t, h, request{method: "POST", path: approve, token: viewer, body: jsonBody(map[string]any{"dry_run": true})})
	assert.Equal(t, http.StatusForbidden, res.Code, "a viewer may not approve")
	// Nor with a token the requester makes for it now, directly or through
	// another token made for the purpose.
	self, _ := createToken(t, h, office, "自己", access.Approver)
	deputy, _ := createToken(t, h, office, "副手", access.Admin)
	viaDeputy, _ := createToken(t, h, deputy, "副手的审批", access.Approver)
	// Revoking the token in between does not hide where the approver's
	// came from.
	middle, middleToken := createToken(t, h, office, "中间人", access.Admin)
	viaGone, _ := createToken(t, h, middle, "来历不明", access.Approver)
	res = do(t, h, request{method: "DELETE", path: "/api/v1/tokens/" + string(middleToken.ID), token: f.root})
	require.Equal(t, http.StatusNoContent, res.Code, "%s", res.Body)
	for _, tok := range []string{viaDeputy, viaGone, nightBefore} {
		res = do(t, h, request{method: "POST", path: approve, token: tok, body: jsonBody(map[string]any{"recipients": 1})})
		assert.Equal(t, http.StatusForbidden, res.Code, "a token that comes from the requester's: %s", res.Body)
		assert.Contains(t, res.errorBody(t).Message, "comes from a token of theirs")
	}
	for _, tok := range []string{self, beforehand} {
		res = do(t, h, request{method: "POST", path: approve, token: tok, body: jsonBody(map[string]any{"recipients": 1})})
		assert.Equal(t, http.StatusForbidden, res.Code, "a token the requester made, before or after: %s", res.Body)
		assert.Contains(t, res.errorBody(t).Message, "a second person approves with a token someone else made")
	}
	// Nor with one made by another token the requester holds, whoever
	// issued that one.
	viaDesk, _ := createToken(t, h, rootDesk, "值班台的审批", access.Approver)
	res = do(t, h, request{method: "POST", path: approve, token: viaDesk, body: jsonBody(map[string]any{"recipients": 1})})
	assert.Equal(t, http.StatusForbidden, res.Code, "%s", res.Body)
	assert.Contains(t, res.errorBody(t).Message, `whose token "值班台" made the token "值班台的审批"`)
	res = do(t, h, request{method: "POST", path: approve, token: rootDesk, body: jsonBody(map[string]any{"dry_run": true})})
	assert.Equal(t, http.StatusForbidden, res.Code, "%s", res.Body)
	assert.Contains(t, res.errorBody(t).Message, `requested by 值班主任 with the token "值班主任"; "值班台" is theirs too`)
	res = do(t, h, request{method: "POST", path: approve, token: approver, body: jsonBody(map[string]any{"reason": "ok"})})
	assert.Equal(t, http.StatusBadRequest, res.Code, "an approval names the preview's count: %s", res.Body)
	res = do(t, h, request{method: "POST", path: approve, token: approver, body: jsonBody(map[string]any{"dry_run": true})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var seen notify.Preview
	res.decode(t, &seen)
	require.Positive(t, seen.Total)
	assert.Equal(t, "AC-live", seen.Send.Account)
	res = do(t, h, request{method: "POST", path: approve, token: approver, body: jsonBody(map[string]any{"reason": "会商确认", "recipients": seen.Total})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var started notify.Activation
	res.decode(t, &started)
	assert.Equal(t, notify.StatusActive, started.Status)
	assert.Equal(t, seen.Total, started.Recipients)
	assert.Empty(t, listed("status=pending_approval"), "approved: it waits no more")
	require.Len(t, started.Decisions, 1)
	assert.Equal(t, "second", started.Decisions[0].By)
	assert.Equal(t, "emergency", modeOf(t, f, h, "990102"))
	res = do(t, h, request{method: "POST", path: approve, token: approver, body: jsonBody(map[string]any{"dry_run": true})})
	assert.Equal(t, http.StatusConflict, res.Code, "a started call-up has no approval preview: %s", res.Body)
	assert.Contains(t, res.errorBody(t).Message, "is active, not waiting for approval")
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(pending.ID) + "/reject", token: approver, body: jsonBody(map[string]any{"reason": "late"})})
	assert.Equal(t, http.StatusConflict, res.Code, "%s", res.Body)
	for _, path := range []string{"/stand-down", "/reject"} {
		res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(pending.ID) + path, token: f.root,
			body: jsonBody(map[string]any{"reason": "第一行\n\x1b[8m第二行"})})
		assert.Equal(t, http.StatusBadRequest, res.Code, "%s: %s", path, res.Body)
	}
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(pending.ID) + "/retract", token: f.root,
		body: jsonBody(map[string]any{"message": "撤销\x1b]0;pwned\a"})})
	assert.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)

	// A request whose requester lost their token no longer stands: it can
	// be rejected, not approved.
	commander, commanderToken := createToken(t, h, f.root, "值班领导", access.Commander)
	res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: commander, body: jsonBody(map[string]any{
		"plan_id": "flood-control", "regions": []string{"990103"}, "level": "I", "purpose": "LIVE", "reason": "特大暴雨"})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var orphan notify.Activation
	res.decode(t, &orphan)
	res = do(t, h, request{method: "DELETE", path: "/api/v1/tokens/" + string(commanderToken.ID), token: f.root})
	require.Equal(t, http.StatusNoContent, res.Code, "%s", res.Body)
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(orphan.ID) + "/approve", token: approver, body: jsonBody(map[string]any{"recipients": 1})})
	assert.Equal(t, http.StatusConflict, res.Code, "%s", res.Body)
	assert.Contains(t, res.errorBody(t).Message, "holds no token any more")
	assert.Equal(t, "normal", modeOf(t, f, h, "990103"))
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(orphan.ID) + "/reject", token: approver, body: jsonBody(map[string]any{"reason": "requester gone"})})
	assert.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	bad := map[string]any{"plan_id": "flood-control", "regions": []string{"990101"}, "level": "V", "purpose": "LIVE", "reason": "x"}
	res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(bad)})
	assert.Equal(t, http.StatusBadRequest, res.Code)
	for _, dry := range []bool{true, false} {
		blank := map[string]any{"plan_id": "flood-control", "regions": []string{"990101", " "}, "level": "IV", "purpose": "EXERCISE", "reason": "x", "dry_run": dry}
		res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(blank)})
		require.Equal(t, http.StatusBadRequest, res.Code, "a blank region code (dry run %v): %s", dry, res.Body)
		assert.Contains(t, res.errorBody(t).Message, "blank")
		// A reason is read out twice on every voice call-up: a short one.
		long := map[string]any{"plan_id": "flood-control", "regions": []string{"990101"}, "level": "IV", "purpose": "EXERCISE",
			"reason": strings.Repeat("雨", notify.MaxReasonChars+1), "dry_run": dry}
		res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(long)})
		require.Equal(t, http.StatusBadRequest, res.Code, "a long reason (dry run %v): %s", dry, res.Body)
		assert.Contains(t, res.errorBody(t).Message, "at most 200")
		// A reason reaches every operator's terminal: no escapes, one line.
		long["reason"] = "暴雨\x1b[2J\x1b[31m全部撤离"
		res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(long)})
		require.Equal(t, http.StatusBadRequest, res.Code, "an escape in the reason (dry run %v): %s", dry, res.Body)
		assert.Contains(t, res.errorBody(t).Message, "control character U+001B")
	}
	// A key given twice is refused, not read as its last: the second
	// dry_run would otherwise start the call-up.
	res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: strings.NewReader(
		`{"plan_id":"flood-control","regions":["990103"],"level":"IV","purpose":"EXERCISE","reason":"x","dry_run":true,"DRY_RUN":false}`)})
	require.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
	assert.Contains(t, res.errorBody(t).Message, `key "DRY_RUN" is given twice`)
	// Names match case-folded: "ſ" (long s) is "s" to the decoder.
	res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: strings.NewReader(
		`{"plan_id":"flood-control","regions":["990103"],"level":"IV","purpose":"EXERCISE","reason":"x","dry_run":true,"confirm_scope":"990103","confirm_ſcope":"x"}`)})
	require.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
	assert.Contains(t, res.errorBody(t).Message, "is given twice")
	res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: strings.NewReader(`[]`)})
	require.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
	assert.Equal(t, "request body: want a JSON object, got an array", res.errorBody(t).Message)
	// A retried request with the same Idempotency-Key gets the activation
	// the first one created; another key, another activation; the same key
	// for another request is a conflict. (repeat: another key drills the
	// people the first still drills.)
	keyed := func(key string, region string) (int, notify.Activation) {
		res := do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, header: map[string]string{"Idempotency-Key": key},
			body: jsonBody(map[string]any{"plan_id": "flood-control", "regions": []string{region}, "level": "IV", "purpose": "EXERCISE", "reason": "重试", "repeat": true})})
		var a notify.Activation
		if res.Code == http.StatusCreated {
			res.decode(t, &a)
		}
		return res.Code, a
	}
	code, first := keyed("req-1", "990105")
	require.Equal(t, http.StatusCreated, code)
	code, again := keyed("req-1", "990105")
	require.Equal(t, http.StatusCreated, code)
	assert.Equal(t, first.ID, again.ID, "the retry got the first activation")
	code, other := keyed("req-2", "990105")
	require.Equal(t, http.StatusCreated, code)
	assert.NotEqual(t, first.ID, other.ID)
	code, _ = keyed("req-1", "990106")
	assert.Equal(t, http.StatusConflict, code, "the key was used for another request")
	atLimit := map[string]any{"plan_id": "flood-control", "regions": []string{"990101"}, "level": "IV", "purpose": "EXERCISE",
		"reason": strings.Repeat("雨", notify.MaxReasonChars), "dry_run": true}
	res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(atLimit)})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)

	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(a.ID) + "/stand-down", token: f.root, body: jsonBody(map[string]string{"reason": "演练结束"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	assert.Equal(t, "normal", modeOf(t, f, h, "990101"))
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(a.ID) + "/stand-down", token: f.root, body: jsonBody(map[string]string{"reason": "again"})})
	assert.Equal(t, http.StatusConflict, res.Code)
}

func modeOf(t *testing.T, f *fixture, h http.Handler, region string) string {
	t.Helper()
	res := do(t, h, request{method: "GET", path: "/api/v1/modes?region=" + region, token: f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var m plans.RegionMode
	res.decode(t, &m)
	return string(m.Mode)
}
