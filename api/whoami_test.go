package api_test

import (
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
	"muster/api"
	"muster/notify"
)

// whoami says, for a token of every role, what the routes' own checks do:
// each operation it says the token may not make, the real endpoint refuses
// with 403; each it says the token may make, the endpoint takes past its
// permission check and answers what the request itself earns.
func TestWhoamiSaysWhatTheEndpointsAllow(t *testing.T) {
	c := newConsoleCallUps(t)
	h, root := c.h, c.f.root
	// A request made with a token of its own, so that every token below
	// is a second person who may be shown what it would approve.
	requester, _ := createToken(t, h, root, "请求人", access.Commander)
	res := do(t, h, request{method: "POST", path: "/api/v1/activations", token: requester, body: jsonBody(map[string]any{
		"plan_id": "flood-control", "regions": []string{"990104"}, "level": "I", "purpose": "LIVE", "reason": "特大暴雨，水库超汛限",
	})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var pending notify.Activation
	res.decode(t, &pending)
	require.Equal(t, notify.StatusPendingApproval, pending.Status)
	active := c.activate(t, "990106", "IV", "暴雨黄色预警")
	require.Equal(t, notify.StatusActive, active.Status)

	// probes are the real requests of whoami's operations, each one that
	// changes nothing, with the status it gets past the permission check:
	// previews, and decisions on an activation that does not exist.
	const missing = "/api/v1/activations/A999999"
	probes := map[string]struct {
		path    string
		body    map[string]any
		allowed int
	}{
		"activate": {"/api/v1/activations", map[string]any{
			"plan_id": "flood-control", "regions": []string{"990101"}, "level": "IV", "purpose": "LIVE", "reason": "暴雨", "dry_run": true,
		}, http.StatusOK},
		"approve":    {"/api/v1/activations/" + string(pending.ID) + "/approve", map[string]any{"dry_run": true}, http.StatusOK},
		"reject":     {missing + "/reject", map[string]any{"reason": "雨情已缓解"}, http.StatusNotFound},
		"stand_down": {missing + "/stand-down", map[string]any{"reason": "雨势减弱"}, http.StatusNotFound},
		"retract":    {"/api/v1/activations/" + string(active.ID) + "/retract", map[string]any{"message": "刚才的通知发错了，请忽略。", "dry_run": true}, http.StatusOK},
	}
	all := func(v bool) map[string]bool {
		m := map[string]bool{}
		for op := range probes {
			m[op] = v
		}
		return m
	}
	// What the permission table gives the roles a console is used with.
	want := map[access.Role]map[string]bool{
		access.Admin:     all(true),
		access.Commander: all(true),
		access.Viewer:    all(false),
	}
	// A feed relay's token may read nothing, and is still told who it is.
	wantPermissions := map[access.Role][]access.Action{
		access.Viewer: {access.ActRead},
		access.Feed:   {access.ActImportCAP},
	}

	for _, role := range access.Roles() {
		t.Run(string(role), func(t *testing.T) {
			// Not the first admin token for the admin: it made the
			// requester's, so it approves nothing of theirs.
			secret, tok := createToken(t, h, root, "令牌-"+string(role), role, "持有人-"+string(role))
			res := do(t, h, request{method: "GET", path: "/api/v1/whoami", token: secret})
			require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
			var got api.Whoami
			res.decode(t, &got)
			assert.Equal(t, role, got.Role)
			assert.Equal(t, tok.Name, got.Name)
			assert.Equal(t, tok.HeldBy(), got.Holder)
			assert.Equal(t, tok.ID, got.TokenID)
			for _, p := range got.Permissions {
				assert.True(t, access.Allowed(role, p), "%s is granted %s", role, p)
			}
			assert.True(t, slices.IsSorted(got.Permissions))
			if w, ok := wantPermissions[role]; ok {
				assert.Equal(t, w, got.Permissions)
			}
			if w, ok := want[role]; ok {
				assert.Equal(t, w, got.May)
			}

			require.ElementsMatch(t, slices.Collect(maps.Keys(probes)), slices.Collect(maps.Keys(got.May)), "an operation for every probe")
			for op, may := range got.May {
				p := probes[op]
				res := do(t, h, request{method: "POST", path: p.path, token: secret, body: jsonBody(p.body)})
				if !may {
					require.Equal(t, http.StatusForbidden, res.Code, "%s: whoami says no: %s", op, res.Body)
					assert.Equal(t, muster.EForbidden, res.errorBody(t).Code)
					continue
				}
				assert.Equal(t, p.allowed, res.Code, "%s: whoami says yes: %s", op, res.Body)
			}
		})
	}

}

// Without a valid token whoami answers 401 as every authenticated route
// does.
func TestWhoamiNeedsAToken(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	for name, token := range map[string]string{
		"no token":      "",
		"unknown token": "mst_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"malformed":     "hunter2",
	} {
		t.Run(name, func(t *testing.T) {
			res := do(t, h, request{method: "GET", path: "/api/v1/whoami", token: token})
			assert.Equal(t, http.StatusUnauthorized, res.Code)
			assert.Equal(t, muster.EUnauthorized, res.errorBody(t).Code)
			assert.Equal(t, `Bearer realm="muster"`, res.Header().Get("WWW-Authenticate"))
		})
	}
}
