package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
)

// A preview whose scope needs confirming and that the command's
// --confirm-scope does not confirm stops the command: it does not ask for
// the region codes (typing them could not start it), posts nothing more,
// and says to run it again with the flag. With the flag the preview says
// the scope is confirmed, the codes typed start it, and the flag reaches
// the API as confirm_scope.
func TestActivateAsksForCodesOnlyWhenTheScopeIsConfirmed(t *testing.T) {
	guard := notify.ScopeGuard{Recipients: 33415, Confirm: "990100",
		Reasons: []string{"示例市 (990100) is the whole city, and plan flood-control gives level IV, which one person starts alone, no expected count to tell a usual call-up from one that wide"}}
	var bodies []map[string]any
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			DryRun       bool   `json:"dry_run"`
			ConfirmScope string `json:"confirm_scope"`
		}
		var body map[string]any
		raw, _ := io.ReadAll(r.Body)
		if json.Unmarshal(raw, &body) != nil || json.Unmarshal(raw, &req) != nil {
			http.Error(w, "not JSON", http.StatusBadRequest)
			return
		}
		bodies = append(bodies, body)
		w.Header().Set("Content-Type", "application/json")
		if req.DryRun {
			json.NewEncoder(w).Encode(notify.Preview{Activation: notify.Activation{Plan: "flood-control", Level: "IV", Purpose: notify.PurposeLive, ConfirmedScope: req.ConfirmScope},
				Total: guard.Recipients, Guard: guard})
			return
		}
		if strings.ReplaceAll(req.ConfirmScope, " ", "") != guard.Confirm { // as the node refuses it
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "invalid", "message": "scope not confirmed: " + guard.Reasons[0]}})
			return
		}
		json.NewEncoder(w).Encode(notify.Activation{ID: "A000001", Plan: "flood-control", Level: "IV", Purpose: notify.PurposeLive, Status: notify.StatusActive, Recipients: guard.Recipients})
	})
	args := []string{"activate", "flood-control", "--region", "990100", "--level", "IV", "--purpose", "live", "--reason", "暴雨"}

	_, stderr, err := runOnFakeWithInput(t, api, "990100\n", args...)
	require.Error(t, err)
	assert.Equal(t, 1, exitCode(err))
	assert.Equal(t, "nothing was activated: it reaches wider than plan flood-control expects (SCOPE WARNING above); if that is meant, run the same command with --confirm-scope 990100", err.Error())
	assert.Contains(t, stderr, "SCOPE WARNING")
	assert.Contains(t, stderr, "It starts only with --confirm-scope 990100.")
	assert.NotContains(t, stderr, "Type the region codes", "nobody is asked for codes that cannot start it")
	require.Len(t, bodies, 1, "the preview only")

	bodies = nil
	out, stderr, err := runOnFakeWithInput(t, api, "990100\n", append(args, "--confirm-scope", "990100")...)
	require.NoError(t, err, stderr)
	assert.Contains(t, stderr, "Its scope is confirmed (--confirm-scope 990100).")
	assert.NotContains(t, stderr, "It starts only with")
	assert.Contains(t, stderr, "Type the region codes (990100) to activate")
	assert.Contains(t, out, "A000001")
	require.Len(t, bodies, 2)
	assert.Equal(t, "990100", bodies[1]["confirm_scope"])
	assert.NotEqual(t, true, bodies[1]["dry_run"])

	// A --confirm-scope naming other codes is no confirmation either.
	bodies = nil
	_, stderr, err = runOnFakeWithInput(t, api, "990100\n", append(args, "--confirm-scope", "990101")...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "run the same command with --confirm-scope 990100")
	assert.NotContains(t, stderr, "Type the region codes")
	require.Len(t, bodies, 1)
}
