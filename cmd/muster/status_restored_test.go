package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"muster/notify"
)

// A call-up that was open in a restored backup says so, in its status
// and in the list: when the backup was taken, at which raft index, and
// how many of its people were not yet sent to in it, sent again by the
// restored cluster (they may have had it from the cluster before). The
// line of re-sends after a leader change is a different one and stays.
func TestStatusSaysACallUpWasRestored(t *testing.T) {
	st := sampleStatus()
	st.Counters.Dispatch = map[string]int{"resent": 20}
	taken := time.Date(2026, 12, 7, 2, 14, 6, 0, time.UTC)
	restored := map[string]any{"restore": 1, "backup_index": 3644, "backup_time": taken, "restored_at": taken.Add(20 * time.Minute), "not_sent": 186, "sending": 20}
	api := fakeAPI{
		"GET /api/v1/activations/A000007": struct {
			notify.ActivationStatus
			Board    notify.Board   `json:"board"`
			Restored map[string]any `json:"restored"`
		}{st, sampleBoard(), restored},
		"GET /api/v1/activations/A000007/escalation": map[string]any{"items": []notify.EscalationStepStatus{}},
		"GET /api/v1/activations": map[string]any{"items": []any{struct {
			notify.Activation
			Restored map[string]any `json:"restored"`
		}{st.Activation, restored}}},
	}
	out := mustRunOnFake(t, api, "status", "A000007")
	assert.Contains(t, out, "RESTORED from a backup taken at "+showTime(taken, time.Local, secondLayout)+" (raft index 3644 of the cluster it was taken of)", out)
	assert.Contains(t, out, "186 people not yet sent to in it were sent again, and may have had it from the cluster before the restore")
	assert.Contains(t, out, "sent again after a leader change, the first attempt's outcome lost (some may have got both): 20 SMS")

	out = mustRunOnFake(t, api, "status")
	var row string
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, "A000007") {
			row = line
		}
	}
	assert.Contains(t, row, "RESTORED (186 sent again)", out)

	// One whose people had all been sent to in the backup: none is sent
	// again, and the list does not say they were.
	restored["not_sent"], restored["sending"] = 0, 0
	out = mustRunOnFake(t, api, "status")
	assert.Contains(t, out, "RESTORED (none sent again)", out)
	assert.NotContains(t, out, "RESTORED (sent again)", out)
}
