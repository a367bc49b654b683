package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// muster drill run --during-recovery asks to run the drill although a
// region of it is in recovery ("during_recovery": true); without it the
// request has no body, as before. The answer's warnings are printed.
func TestDrillRunDuringRecovery(t *testing.T) {
	var bodies []string
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		bodies = append(bodies, string(b))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"id": "R000004", "schedule": "D000001", "status": "started", "activation": "A000009",
			"participants": 40, "manual": true, "during_recovery": true, "ends_at": "2026-12-07T10:00:00Z",
			"warnings": []string{"东湖区 (990101) is in recovery (恢复) after A000007: this drill runs during its recovery (--during-recovery), calling people who may still be at work on the live emergency"}})
	})
	out := mustRunOnFake(t, api, "drill", "run", "D000001", "--during-recovery")
	assert.Contains(t, out, "drill run R000004 started")
	assert.Contains(t, out, "warning: 东湖区 (990101) is in recovery (恢复) after A000007: this drill runs during its recovery")
	mustRunOnFake(t, api, "drill", "run", "D000001")
	require.Len(t, bodies, 2)
	assert.JSONEq(t, `{"during_recovery": true}`, bodies[0])
	assert.Empty(t, bodies[1])
	assert.Contains(t, mustRunOnFake(t, api, "drill", "run", "--help"), "--during-recovery")
}

// muster drill runs says what a run waited for: a live emergency, the
// region's recovery after one, or both (a run recorded before rules 13
// says none: a live emergency), and notes a run by hand during a recovery.
func TestDrillRunsSayWhatARunWaitedFor(t *testing.T) {
	run := func(id string, extra map[string]any) map[string]any {
		r := map[string]any{"id": id, "schedule": "D000001", "plan": "flood-control", "type": "notification", "status": "started",
			"at": "2026-12-07T09:00:00Z", "activation": "A000001", "participants": 40, "outcome": "held", "time_zone": "Asia/Shanghai"}
		for k, v := range extra {
			r[k] = v
		}
		return r
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"items": []any{
			run("R000001", map[string]any{"waited": "2h0m0s"}),
			run("R000002", map[string]any{"waited": "2h0m0s", "waited_for": "emergency"}),
			run("R000003", map[string]any{"waited": "26h0m0s", "waited_for": "recovery"}),
			run("R000004", map[string]any{"waited": "30h0m0s", "waited_for": "emergency_and_recovery"}),
			run("R000005", map[string]any{"manual": true, "during_recovery": true}),
		}})
	})
	out := mustRunOnFake(t, api, "drill", "runs")
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if len(l) > 7 {
			lines[l[:7]] = l
		}
	}
	assert.Contains(t, lines["R000001"], "waited 2h0m0s for a live emergency")
	assert.Contains(t, lines["R000002"], "waited 2h0m0s for a live emergency")
	assert.Contains(t, lines["R000003"], "waited 26h0m0s for the region's recovery after a live emergency")
	assert.NotContains(t, lines["R000003"], "for a live emergency")
	assert.Contains(t, lines["R000004"], "waited 30h0m0s for a live emergency and the region's recovery after it")
	assert.Contains(t, lines["R000005"], "by hand during recovery")
}
