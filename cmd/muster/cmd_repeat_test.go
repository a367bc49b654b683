package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
	"muster/plans"
)

// asked records what the CLI sent: each request's query and JSON body.
type asked struct {
	fakeAPI
	queries []string
	bodies  []map[string]any
}

func (a *asked) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.queries = append(a.queries, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	var body map[string]any
	if b, _ := io.ReadAll(r.Body); json.Unmarshal(b, &body) == nil {
		a.bodies = append(a.bodies, body)
	}
	a.fakeAPI.ServeHTTP(w, r)
}

// approve --repeat asks the API to approve although the same LIVE call-up
// started meanwhile; plan apply --force stores a file that drops a level a
// drill schedule uses. Without the flags neither is asked for.
func TestRepeatAndForceFlagsReachTheAPI(t *testing.T) {
	api := &asked{fakeAPI: fakeAPI{
		"POST /api/v1/activations/A000009/approve": notify.Preview{Activation: notify.Activation{ID: "A000009", CreatedBy: "值班员"}, Total: 5},
		"POST /api/v1/plans":                       plans.PlanApplyResult{PlanID: "flood-control", Version: 2, Changed: true},
	}}
	mustRunOnFake(t, api, "approve", "A000009", "--yes")
	mustRunOnFake(t, api, "approve", "A000009", "--yes", "--repeat")
	require.Len(t, api.bodies, 4, "a preview and an approval each")
	assert.Equal(t, false, api.bodies[1]["repeat"])
	assert.Equal(t, true, api.bodies[3]["repeat"])
	assert.EqualValues(t, 5, api.bodies[3]["recipients"])

	file := filepath.Join(t.TempDir(), "flood.yaml")
	require.NoError(t, os.WriteFile(file, []byte("id: flood-control\n"), 0o600))
	api.queries = nil
	mustRunOnFake(t, api, "plan", "apply", "-f", file)
	mustRunOnFake(t, api, "plan", "apply", "-f", file, "--force")
	require.Len(t, api.queries, 2)
	assert.NotContains(t, api.queries[0], "force")
	assert.Contains(t, api.queries[1], "force=true")
}

// The status of a call-up that stopped before everyone was sent says those
// left are never sent, instead of counting them pending; a drill says whom
// it leaves to a LIVE call-up, and the LIVE call-up which drills it took
// its people off; what a failover sent again is counted.
func TestStatusSaysWhoIsNotSentOrLeftOut(t *testing.T) {
	st := sampleStatus()
	st.Status, st.LeftOut, st.SparedFrom = notify.StatusStoodDown, 3, []plans.ActivationID{"A000004"}
	st.Counters.Dispatch = map[string]int{"resent": 2, "escalation_resent": 1}
	api := fakeAPI{
		"GET /api/v1/activations/A000007": struct {
			notify.ActivationStatus
			Board notify.Board `json:"board"`
		}{st, sampleBoard()},
		"GET /api/v1/activations/A000007/escalation": map[string]any{"items": []notify.EscalationStepStatus{}},
	}
	out := mustRunOnFake(t, api, "status", "A000007")
	pending := st.Summary().Counts.Pending
	require.Positive(t, pending)
	assert.Contains(t, out, count(pending, "recipient", "recipients")+" not sent: the call-up was stood down before their turn")
	assert.Contains(t, out, "NOT SENT")
	assert.NotContains(t, out, "PENDING")
	assert.Contains(t, out, "LEFT OUT 3 people called up for real by a LIVE call-up")
	assert.Contains(t, out, "taken off the drills running elsewhere: A000004")
	assert.Contains(t, out, "sent again after a leader change, the first attempt's outcome lost (some may have got both): 2 SMS, 1 escalation message or call")

	st.Status = notify.StatusActive
	api["GET /api/v1/activations/A000007"] = struct {
		notify.ActivationStatus
		Board notify.Board `json:"board"`
	}{st, sampleBoard()}
	out = mustRunOnFake(t, api, "status", "A000007")
	assert.Contains(t, out, "PENDING", "an active call-up still sends them")
	assert.False(t, strings.Contains(out, "not sent"), out)
}

// A preview that says the activation would be refused as a repeat stops
// the command: it asks nobody to confirm, posts nothing more, exits 1 and
// says to add --repeat; the refusal names the flag, not the API's field.
// With --yes the refusal is one line, the error's (as docs/cli.md says of
// every failure), where the preview's REFUSED AS A REPEAT line came above
// it as well.
func TestActivateStopsAtARefusedRepeat(t *testing.T) {
	again := "activation A000003 (flood-control, level IV, LIVE) is already active over the same regions, started by 值班员: " +
		"its people have been called; stand it down first, or ask again with repeat to call them a second time"
	preview := notify.Preview{Activation: notify.Activation{Plan: "flood-control", Level: "IV", Purpose: "LIVE"}, Total: 5, Again: again}
	for _, yes := range []bool{false, true} {
		api := &asked{fakeAPI: fakeAPI{"POST /api/v1/activations": preview}}
		args := []string{"activate", "flood-control", "--region", "990101", "--level", "IV", "--purpose", "live", "--reason", "暴雨"}
		if yes {
			args = append(args, "--yes")
		}
		_, stderr, err := runOnFake(t, api, args...)
		require.Error(t, err, "yes=%v", yes)
		assert.Equal(t, 1, exitCode(err))
		assert.NotContains(t, stderr, "Type the region codes", "yes=%v: nobody is asked to confirm", yes)
		assert.NotContains(t, stderr+err.Error(), "with repeat")
		if yes {
			assert.Empty(t, stderr, "the error line says it all")
			assert.Equal(t, "nothing was activated: REFUSED AS A REPEAT — "+strings.ReplaceAll(again, "with repeat", "with --repeat"), err.Error())
		} else {
			assert.Contains(t, err.Error(), "nothing was activated")
			assert.Contains(t, err.Error(), "add --repeat if a repeat is meant")
			assert.Contains(t, stderr, "REFUSED AS A REPEAT — activation A000003")
			assert.Contains(t, stderr, "or ask again with --repeat to call them a second time")
		}
		require.Len(t, api.bodies, 1, "yes=%v: the preview only", yes)
		assert.Equal(t, true, api.bodies[0]["dry_run"])
	}
}

// An API refusal that says "with repeat" names the CLI's flag.
func TestRepeatRefusalNamesTheFlag(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/approve") && !strings.Contains(readAll(r), "dry_run") {
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, `{"error":{"code":"conflict","message":"activation A000004 (flood-control, level II, LIVE) over the same regions was started by 值班员 at 2026-12-05T10:00:00+08:00, after this request: its people have been called; reject this request, or approve with repeat to call them a second time"}}`)
			return
		}
		json.NewEncoder(w).Encode(notify.Preview{Activation: notify.Activation{ID: "A000009"}, Total: 5})
	})
	_, _, err := runOnFake(t, api, "approve", "A000009", "--yes")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "or approve with --repeat to call them a second time")
}

func readAll(r *http.Request) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}
