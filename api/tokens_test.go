package api_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
	"muster/examples"
	"muster/notify"
)

// A token may carry its holder's mobile, which the API stores in E.164 and
// lists; a number that is none is refused, naming the phone. A LIVE
// request that waits for approval answers whom it texts about it, or that
// no approver has a phone on record.
func TestATokensPhoneAndWhoIsTextedAboutARequest(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])

	res := do(t, h, request{method: "POST", path: "/api/v1/tokens", token: f.root, body: jsonBody(map[string]string{"name": "bad", "role": "approver", "phone": "12345"})})
	require.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
	e := res.errorBody(t)
	assert.Equal(t, muster.EInvalid, e.Code)
	assert.Contains(t, e.Message, `phone "12345"`)

	withDemo(t, f, h)
	regions, err := examples.Regions()
	require.NoError(t, err)
	var roster bytes.Buffer
	require.NoError(t, examples.GenerateRoster(&roster, 200, 3, examples.Grids(regions)))
	res = do(t, h, request{method: "POST", path: "/api/v1/roster/import", token: f.root, body: bytes.NewReader(roster.Bytes())})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	commander, _ := createToken(t, h, f.root, "值班领导", access.Commander, "张三")
	live := map[string]any{"plan_id": "flood-control", "regions": []string{"990101"}, "level": "I", "purpose": "LIVE", "reason": "特大暴雨"}

	res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: commander, body: jsonBody(live)})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var a notify.Activation
	res.decode(t, &a)
	require.Equal(t, notify.StatusPendingApproval, a.Status)
	assert.True(t, a.NoApproverPhone, "no approver has a phone on record: the requester tells them")
	assert.Empty(t, a.ApproversNotified)

	res = do(t, h, request{method: "POST", path: "/api/v1/tokens", token: f.root, body: jsonBody(map[string]string{"name": "李四-手机", "holder": "李四", "role": "approver", "phone": "139 0000 0002"})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var tok access.Token
	res.decode(t, &tok)
	assert.Equal(t, "+8613900000002", tok.Phone)
	res = do(t, h, request{method: "GET", path: "/api/v1/tokens", token: f.root})
	require.Equal(t, http.StatusOK, res.Code)
	assert.Contains(t, res.Body.String(), `"phone":"+8613900000002"`)

	live["regions"] = []string{"990102"}
	res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: commander, body: jsonBody(live)})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	a = notify.Activation{}
	res.decode(t, &a)
	assert.False(t, a.NoApproverPhone)
	assert.Equal(t, []notify.ApproverNotice{{Holder: "李四", Phone: "+8613900000002", State: notify.NoticeDue}}, a.ApproversNotified)
}
