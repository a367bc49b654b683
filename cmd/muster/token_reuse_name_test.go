package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// token create --reuse-name asks for a revoked token's name on purpose
// (reuse_name); without it the request does not, and the node's refusal,
// which says when the name's token was revoked, is what the user reads.
func TestTokenCreateReuseName(t *testing.T) {
	var sent map[string]any
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent = nil
		require.NoError(t, json.Unmarshal([]byte(readAll(r)), &sent))
		if sent["reuse_name"] != true {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "conflict",
				"message": `token name "张三" was the name of the token T1 held by 张三, revoked at 2026-12-07T09:00:00Z by admin: choose another name ("张三-2" is free), or reuse it on purpose (muster token create --reuse-name; reuse_name in the API)`}})
			return
		}
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"id": "T2", "name": "张三", "holder": "李四", "role": "approver", "secret": "mst_secret"})
	})
	_, _, err := runOnFake(t, api, "token", "create", "--role", "approver", "--name", "张三", "--holder", "李四")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `token name "张三" was the name of the token T1 held by 张三, revoked at 2026-12-07 `)
	assert.Contains(t, err.Error(), " by admin: choose another name")
	assert.NotContains(t, sent, "reuse_name")

	out, _, err := runOnFake(t, api, "token", "create", "--role", "approver", "--name", "张三", "--holder", "李四", "--reuse-name")
	require.NoError(t, err)
	assert.Equal(t, true, sent["reuse_name"])
	assert.Contains(t, out, "token T2 (张三, held by 李四, role approver)")
}
