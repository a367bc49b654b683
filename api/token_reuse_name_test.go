package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
)

// POST /tokens refuses the name of a revoked token (409, saying whose
// token it was and when it was revoked) unless reuse_name takes it on
// purpose: "approved by 张三" must not read as the revoked token's holder.
func TestCreatingARevokedTokensNameIsAConflict(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	_, first := createToken(t, h, f.root, "张三", access.Approver, "张三")
	res := do(t, h, request{method: "DELETE", path: "/api/v1/tokens/" + string(first.ID), token: f.root})
	require.Equal(t, http.StatusNoContent, res.Code, "%s", res.Body)

	body := map[string]any{"name": "张三", "holder": "李四", "role": "approver"}
	res = do(t, h, request{method: "POST", path: "/api/v1/tokens", token: f.root, body: jsonBody(body)})
	require.Equal(t, http.StatusConflict, res.Code, "%s", res.Body)
	e := res.errorBody(t)
	assert.Equal(t, muster.EConflict, e.Code)
	assert.Contains(t, e.Message, `token name "张三" was the name of the token `+string(first.ID)+" held by 张三, revoked at ")
	assert.Contains(t, e.Message, `"张三-2" is free`)
	before := f.tokenCount()

	body["reuse_name"] = true
	res = do(t, h, request{method: "POST", path: "/api/v1/tokens", token: f.root, body: jsonBody(body)})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var got access.Token
	res.decode(t, &got)
	assert.Equal(t, "李四", got.Holder)
	assert.NotEqual(t, first.ID, got.ID)
	assert.Equal(t, before+1, f.tokenCount())
}
