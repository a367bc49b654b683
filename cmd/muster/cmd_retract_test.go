package main

import (
	"cmp"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/notify"
)

// retractAPI answers POST /activations/A000002/retract as a node does: with
// the preview when the body asks for a dry run (or, old, refuses the
// field), else with the retraction; it records each body.
type retractAPI struct {
	old     bool   // a server from before retraction previews
	path    string // where it takes retractions; default A000002's
	preview notify.RetractPreview
	result  notify.RetractResult
	bodies  []map[string]any
}

func (a *retractAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	b, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(b, &body)
	a.bodies = append(a.bodies, body)
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost || r.URL.Path != cmp.Or(a.path, "/api/v1/activations/A000002/retract") {
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]any{"error": muster.Error{Code: muster.ENotFound, Message: r.URL.Path + " is not faked"}})
		return
	}
	switch {
	case body["dry_run"] == true && a.old:
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"error": muster.Error{Code: muster.EInvalid, Message: `request body: json: unknown field "dry_run"`}})
	case body["dry_run"] == true:
		json.NewEncoder(w).Encode(a.preview)
	default:
		json.NewEncoder(w).Encode(a.result)
	}
}

// muster retract shows, before the retraction commits, the correction's
// text and, for a call-up in force that called some of the same people,
// that it stays in force and what those people read; --dry-run shows that
// and retracts nothing; a server with no previews is retracted on at once.
func TestRetractWarnsOfTheCallUpThatStands(t *testing.T) {
	started := time.Date(2026, 3, 5, 3, 7, 0, 0, time.UTC)
	const text = "【示例市应急】【更正】关于3月5日11:07「示例市防汛应急预案Ⅳ级响应（示例市）」的通知：误发，请忽略。"
	const note = "3月5日11:20「示例市防汛应急预案Ⅲ级响应（东湖区）」的通知仍然有效。"
	newAPI := func(old bool) *retractAPI {
		return &retractAPI{old: old,
			preview: notify.RetractPreview{
				Activation: notify.Activation{ID: "A000002", PlanTitle: "示例市防汛应急预案", Level: "IV", StartedAt: started},
				Recipients: 120, Text: text,
				Standing: []notify.StandingCallUp{{ID: "A000003", PlanTitle: "示例市防汛应急预案", Level: "III", RegionNames: "东湖区",
					Purpose: notify.PurposeLive, StartedAt: started.Add(13 * time.Minute), People: 80, Text: text + note}},
			},
			result: notify.RetractResult{
				Retracted:  notify.Activation{ID: "A000002", Retraction: &notify.Retraction{Correction: "A000004", Recipients: 120}},
				Correction: notify.Activation{ID: "A000004", Retracts: "A000002", Recipients: 120},
			},
		}
	}
	args := []string{"retract", "A000002", "--message", "误发，请忽略。"}

	api := newAPI(false)
	out, errOut, err := runOnFake(t, api, args...)
	require.NoError(t, err, errOut)
	require.Len(t, api.bodies, 2, "a preview, then the retraction")
	assert.Equal(t, true, api.bodies[0]["dry_run"])
	assert.Nil(t, api.bodies[1]["dry_run"], "the retraction itself")
	assert.Equal(t, "误发，请忽略。", api.bodies[1]["message"])
	assert.Contains(t, errOut, "correction of A000002 (示例市防汛应急预案, level IV, started at "+showTime(started, time.Local, secondLayout)+") goes to 120 people:\n  "+text+"\n")
	assert.Contains(t, errOut, "NOTE: 80 of the people this correction reaches were also called by A000003 (示例市防汛应急预案, level III, started at "+
		showTime(started.Add(13*time.Minute), time.Local, secondLayout)+"), which stays in force; the correction names only A000002. They read:\n  "+text+note+"\n")
	assert.Contains(t, out, "activation A000002 retracted")
	assert.NotContains(t, out, "NOTE", "the warning goes to standard error, before the retraction")

	api = newAPI(false)
	out, _, err = runOnFake(t, api, append(args, "--dry-run")...)
	require.NoError(t, err)
	require.Len(t, api.bodies, 1, "a dry run retracts nothing")
	assert.Contains(t, out, "NOTE: 80 of the people this correction reaches were also called by A000003")
	assert.NotContains(t, out, "retracted")

	api = newAPI(true)
	out, errOut, err = runOnFake(t, api, args...)
	require.NoError(t, err, errOut)
	require.Len(t, api.bodies, 2)
	assert.Contains(t, errOut, "shows no preview of a retraction: retracting now")
	assert.Contains(t, out, "activation A000002 retracted", "an old server's retraction is not held up")

	api = newAPI(true)
	_, _, err = runOnFake(t, api, append(args, "--dry-run")...)
	require.Error(t, err, "nothing to show: the dry run fails rather than retract")
	require.Len(t, api.bodies, 1)
	assert.True(t, strings.Contains(err.Error(), "dry_run"), "%v", err)

	// A trainer retracts a drill run's call-up the same way, by the run.
	api = newAPI(false)
	api.path = "/api/v1/drill-runs/R000003/retract"
	out, errOut, err = runOnFake(t, api, "drill", "retract", "R000003", "--message", "演练通知发错，请忽略。")
	require.NoError(t, err, errOut)
	require.Len(t, api.bodies, 2, "a preview, then the retraction")
	assert.Equal(t, "演练通知发错，请忽略。", api.bodies[1]["message"])
	assert.Contains(t, errOut, "goes to 120 people:\n  "+text+"\n")
	assert.Contains(t, out, "activation A000002 retracted")
	_, _, err = runOnFake(t, api, "drill", "retract", "R000003")
	assert.Equal(t, exitUsage, exitCode(err), "%v", err)
}

// retract's help says what --correct sends: a correction like any other,
// to everyone the call-up may have reached, ending 本短信无需回复 and
// taking no answers, and that who must come changes only with a new
// activation. It said only "a corrected call-up, not only a cancellation",
// which read as if it called people up again.
func TestRetractHelpSaysACorrectionTakesNoAnswers(t *testing.T) {
	for _, args := range [][]string{{"retract", "--help"}, {"drill", "retract", "--help"}} {
		out := mustRunOnFake(t, fakeAPI{}, args...)
		assert.Contains(t, out, "本短信无需回复", args)
		assert.Contains(t, out, "takes no answers", args)
		assert.Contains(t, out, "everyone the", args)
	}
	out := mustRunOnFake(t, fakeAPI{}, "retract", "--help")
	assert.Contains(t, out, "cannot change who must come: for other regions, another level or other\npeople, or for answers (到) to count, start a new activation")
	assert.Contains(t, out, "to change who must come, start a new activation", "--correct's own line")
}
