package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// muster stand-down --no-notice asks the node to tell nobody that the
// call-up ended ("notice": false): another call-up replaces it. Without
// it the request leaves notice out, and the people reached are told.
func TestStandDownNoNoticeIsSent(t *testing.T) {
	var bodies []map[string]any
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
		bodies = append(bodies, body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"id": "A000007", "status": "stood_down", "purpose": "live"})
	})
	assert.Equal(t, "activation A000007 stood down\nnobody is told that it ended (--no-notice)\n", mustRunOnFake(t, api, "stand-down", "A000007", "--reason", "由Ⅲ级响应取代", "--no-notice"))
	mustRunOnFake(t, api, "stand-down", "A000007", "--reason", "积水退去")
	require.Len(t, bodies, 2)
	assert.Equal(t, map[string]any{"reason": "由Ⅲ级响应取代", "notice": false}, bodies[0])
	assert.Equal(t, map[string]any{"reason": "积水退去"}, bodies[1])
	help := mustRunOnFake(t, api, "stand-down", "--help")
	assert.Contains(t, help, "--no-notice")
	assert.Contains(t, help, "应急响应已结束")
}
