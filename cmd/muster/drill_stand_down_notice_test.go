package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// muster drill stand-down --no-notice asks the node to tell nobody that the
// drill ended ("notice": false), as muster stand-down --no-notice does for
// a call-up another replaces, and says so; without it the answer names the
// end notice and whom it goes to.
func TestDrillStandDownNoNotice(t *testing.T) {
	var bodies []map[string]any
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.Method + " " + r.URL.Path {
		case "POST /api/v1/drill-runs/R000003/stand-down":
			var body map[string]any
			require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
			bodies = append(bodies, body)
			a := map[string]any{"id": "A000009", "status": "stood_down", "purpose": "exercise"}
			if body["notice"] != false {
				a["end_notice"] = "A000010"
			}
			json.NewEncoder(w).Encode(a)
		case "GET /api/v1/activations/A000010":
			json.NewEncoder(w).Encode(map[string]any{"id": "A000010", "status": "active", "recipients": 42, "retracts": "A000009", "ends_drill": true})
		default:
			http.NotFound(w, r)
		}
	})
	out := mustRunOnFake(t, api, "drill", "stand-down", "R000003", "--reason", "由实战召集取代", "--no-notice")
	assert.Equal(t, "drill run R000003 stood down (activation A000009)\nnobody is told that it ended (--no-notice)\n", out)
	out = mustRunOnFake(t, api, "drill", "stand-down", "R000003", "--reason", "演练结束")
	assert.Contains(t, out, "end notice A000010 goes to 42 people (muster status A000010)")
	require.Len(t, bodies, 2)
	assert.Equal(t, map[string]any{"reason": "由实战召集取代", "notice": false}, bodies[0])
	assert.Equal(t, map[string]any{"reason": "演练结束"}, bodies[1])
	help := mustRunOnFake(t, api, "drill", "stand-down", "--help")
	assert.Contains(t, help, "--no-notice")
}

// drill schedule and update take the window of an unannounced drill as
// --unannounced; --no-notice, its old name, still works, deprecated and
// hidden from --help, and the two together are refused.
func TestDrillUnannouncedWindowFlag(t *testing.T) {
	var bodies []map[string]any
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
		bodies = append(bodies, body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"id": "D000001", "plan_id": "flood-control", "regions": []string{"990101"}, "level": "IV",
			"type": "notification", "title": "防汛通讯演练", "cron": "0 9 * * 1", "time_zone": "Asia/Shanghai", "no_notice": map[string]int{"start": 540, "end": 1020}})
	})
	schedule := []string{"drill", "schedule", "flood-control", "--region", "990101", "--level", "IV", "--cron", "0 9 * * 1"}
	mustRunOnFake(t, api, append(schedule, "--unannounced", "09:00-17:00")...)
	// The old name says it is deprecated on standard error, and nothing
	// more goes to standard output (-o json stays JSON).
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	var stdout, stderr bytes.Buffer
	old := exec.Command(musterBin, append([]string{"--addr", srv.URL, "--token", "mst_x", "-o", "json"}, append(schedule, "--no-notice", "09:00-17:00")...)...)
	old.Stdout, old.Stderr = &stdout, &stderr
	require.NoError(t, old.Run(), "%s", stderr.String())
	assert.Contains(t, stderr.String(), "--no-notice has been deprecated, use --unannounced")
	assert.True(t, json.Valid(stdout.Bytes()), "%s", stdout.String())
	mustRunOnFake(t, api, "drill", "update", "D000001", "--unannounced", "10:00-12:00")
	mustRunOnFake(t, api, "drill", "update", "D000001", "--no-notice", "")
	require.Len(t, bodies, 4)
	assert.Equal(t, "09:00-17:00", bodies[0]["no_notice"])
	assert.Equal(t, "09:00-17:00", bodies[1]["no_notice"])
	assert.Equal(t, map[string]any{"no_notice": "10:00-12:00"}, bodies[2])
	assert.Equal(t, map[string]any{"no_notice": ""}, bodies[3], "an empty window makes it announced")

	_, _, err := runOnFake(t, api, append(schedule, "--unannounced", "09:00-17:00", "--no-notice", "09:00-17:00")...)
	require.Error(t, err)
	assert.Equal(t, exitUsage, exitCode(err))
	assert.Contains(t, err.Error(), "--no-notice is the old name of --unannounced")
	assert.Len(t, bodies, 4, "refused before any request")

	for _, cmd := range []string{"schedule", "update"} {
		help := mustRunOnFake(t, api, "drill", cmd, "--help")
		assert.Contains(t, help, "--unannounced", cmd)
		assert.False(t, strings.Contains(help, "--no-notice HH") || strings.Contains(help, "--no-notice string"), "%s --help lists the old name: %s", cmd, help)
	}
}
