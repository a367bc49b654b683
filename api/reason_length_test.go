package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/access"
	"muster/notify"
)

// A stand-down's, a rejection's and an end of recovery's reason is a short
// statement, as an activation's is: one of more than 200 characters is
// refused (it would fill every region's mode, the CAP Cancel and the
// console's banner), and nothing changes.
func TestDecisionReasonsAreShort(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	drill := boardCallUp(t, f, h, 50, "990101")
	long := strings.Repeat("雨", notify.MaxReasonChars+1)
	post := func(path, token string, body map[string]any) response {
		t.Helper()
		return do(t, h, request{method: "POST", path: path, token: token, body: jsonBody(body)})
	}
	res := post("/api/v1/activations/"+string(drill.ID)+"/stand-down", f.root, map[string]any{"reason": long})
	assert.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
	assert.Contains(t, res.Body.String(), "201 characters; at most 200")

	res = post("/api/v1/activations", f.root, map[string]any{"plan_id": "flood-control", "regions": []string{"990104"}, "level": "I", "purpose": "LIVE", "reason": "特大暴雨"})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var pending notify.Activation
	res.decode(t, &pending)
	approver, _ := createToken(t, h, f.root, "值班领导", access.Approver)
	res = post("/api/v1/activations/"+string(pending.ID)+"/reject", approver, map[string]any{"reason": long})
	assert.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
	assert.Contains(t, res.Body.String(), "at most 200")

	res = post("/api/v1/modes/990101/end-recovery", f.root, map[string]any{"reason": long})
	assert.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
	assert.Contains(t, res.Body.String(), "at most 200")

	for _, id := range []string{string(drill.ID), string(pending.ID)} {
		res = do(t, h, request{method: "GET", path: "/api/v1/activations/" + id, token: f.root})
		require.Equal(t, http.StatusOK, res.Code)
		var a notify.Activation
		res.decode(t, &a)
		assert.Contains(t, []notify.Status{notify.StatusActive, notify.StatusPendingApproval}, a.Status, "%s unchanged", id)
	}
	res = post("/api/v1/activations/"+string(drill.ID)+"/stand-down", f.root, map[string]any{"reason": strings.Repeat("雨", notify.MaxReasonChars)})
	assert.Equal(t, http.StatusOK, res.Code, "200 characters are taken: %s", res.Body)
	// Rejected, a request has nothing to retract and nothing to withdraw,
	// and the refusal says so rather than pointing to a stand-down.
	res = post("/api/v1/activations/"+string(pending.ID)+"/reject", approver, map[string]any{"reason": "未达启动条件"})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	res = post("/api/v1/activations/"+string(pending.ID)+"/retract", f.root, map[string]any{"message": "请忽略"})
	assert.Equal(t, http.StatusConflict, res.Code, "%s", res.Body)
	assert.Contains(t, res.Body.String(), "was rejected: nothing was sent and nothing will be")
	assert.NotContains(t, res.Body.String(), "stand it down")
}
