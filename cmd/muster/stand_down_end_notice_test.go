package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
)

// muster stand-down says that the end notice goes to the people the
// call-up reached, and how many, or that --no-notice told nobody.
func TestStandDownSaysWhomTheEndNoticeTells(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.Method + " " + r.URL.Path {
		case "POST /api/v1/activations/A000005/stand-down":
			var body map[string]any
			require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
			a := map[string]any{"id": "A000005", "status": "stood_down", "purpose": "live"}
			if body["notice"] != false {
				a["end_notice"] = "A000007"
			}
			json.NewEncoder(w).Encode(a)
		case "GET /api/v1/activations/A000007":
			json.NewEncoder(w).Encode(map[string]any{"id": "A000007", "status": "active", "recipients": 219, "retracts": "A000005", "ends_call_up": true})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)

	out, err := exec.Command(musterBin, "--addr", srv.URL, "--token", "mst_x", "stand-down", "A000005", "--reason", "解除").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "activation A000005 stood down\n")
	assert.Contains(t, string(out), "end notice A000007 goes to 219 people (muster status A000007)")

	out, err = exec.Command(musterBin, "--addr", srv.URL, "--token", "mst_x", "stand-down", "A000005", "--reason", "解除", "--no-notice").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "nobody is told that it ended (--no-notice)")
	assert.NotContains(t, string(out), "end notice A000007")
}

// An end notice is listed as the end notice of the call-up it ends, not as
// a correction of it, which reads as a retraction.
func TestStatusLabelOfAnEndNotice(t *testing.T) {
	assert.Equal(t, "stood_down (end notice of A000001)",
		statusLabel(notify.Activation{Status: notify.StatusStoodDown, Retracts: "A000001", EndsCallUp: true}))
	assert.Equal(t, "active (end notice of A000004)",
		statusLabel(notify.Activation{Status: notify.StatusActive, Retracts: "A000004", EndsDrill: true}))
	assert.Equal(t, "active (correction of A000003)", statusLabel(notify.Activation{Status: notify.StatusActive, Retracts: "A000003"}))
}
