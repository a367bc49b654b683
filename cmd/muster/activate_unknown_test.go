package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestActivateAsksAgainWithItsKeyWhenTheOutcomeIsUnknown: muster activate
// sends every activation with an idempotency key, its own unless given.
// When the node answers that the outcome is unknown (503: the leader was
// lost while it handled it), it asks once more with the same key, which
// cannot start a second call-up; when that too is unknown it says how to
// try again with the key.
func TestActivateAsksAgainWithItsKeyWhenTheOutcomeIsUnknown(t *testing.T) {
	for _, tc := range []struct {
		name    string
		unknown int // commits answered 503 before one is answered
		given   string
	}{
		{"once", 1, ""},
		{"twice", 2, ""},
		{"given key", 1, "drill-2026-12-07"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var keys []string
			api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				body, _ := io.ReadAll(r.Body)
				var req struct {
					DryRun bool `json:"dry_run"`
				}
				require.NoError(t, json.Unmarshal(body, &req))
				if req.DryRun {
					json.NewEncoder(w).Encode(map[string]any{"recipients": 3})
					return
				}
				mu.Lock()
				keys = append(keys, r.Header.Get("Idempotency-Key"))
				n := len(keys)
				mu.Unlock()
				if n <= tc.unknown {
					w.WriteHeader(http.StatusServiceUnavailable)
					json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "unavailable",
						"message": "the leader n1 was replaced while it handled this request: it may or may not have been applied; look before trying again"}})
					return
				}
				w.WriteHeader(http.StatusCreated)
				json.NewEncoder(w).Encode(map[string]any{"id": "A000007", "status": "active", "purpose": "EXERCISE"})
			})
			args := []string{"activate", "flood-control", "--region", "990101", "--level", "IV", "--purpose", "exercise", "--reason", "演练", "--yes"}
			if tc.given != "" {
				args = append(args, "--idempotency-key", tc.given)
			}
			out, errOut, err := runOnFake(t, api, args...)
			require.Len(t, keys, min(tc.unknown+1, 2), "asked at most twice")
			assert.NotEmpty(t, keys[0])
			assert.Equal(t, keys[0], keys[1], "asked again with the same key")
			if tc.given != "" {
				assert.Equal(t, tc.given, keys[0])
			}
			assert.Contains(t, errOut, "asking again with the same idempotency key "+keys[0])
			if tc.unknown < 2 {
				require.NoError(t, err, "stderr: %s", errOut)
				assert.Contains(t, out, "A000007")
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "may or may not have been activated")
			assert.Contains(t, err.Error(), "--idempotency-key "+keys[0])
			assert.False(t, strings.Contains(err.Error(), "\n"), "one line")
		})
	}
}
