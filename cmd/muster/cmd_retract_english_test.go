package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
)

// muster retract --message-en sends what English speakers are told with
// the preview and the retraction, and the preview shows how many of the
// people reached read English and what they read; without it nothing is
// sent in its place (the server chooses), and a preview with no English
// speakers says nothing of them.
func TestRetractTellsEnglishSpeakersInEnglish(t *testing.T) {
	const zh = "【示例市应急】【更正】关于3月5日11:07「示例市防汛应急预案Ⅳ级响应（示例市）」的通知：误发，请忽略。"
	const en = `【示例市应急】Correction to the call-up "Flood plan" level IV (Example City) of Mar 5 11:07: Sent in error: disregard it. No reply needed.`
	newAPI := func(english int) *retractAPI {
		return &retractAPI{
			preview: notify.RetractPreview{Activation: notify.Activation{ID: "A000002", PlanTitle: "示例市防汛应急预案", Level: "IV"},
				Recipients: 120, Text: zh, English: english, TextEN: en, Standing: []notify.StandingCallUp{}},
			result: notify.RetractResult{
				Retracted:  notify.Activation{ID: "A000002", Retraction: &notify.Retraction{Correction: "A000004", Recipients: 120}},
				Correction: notify.Activation{ID: "A000004", Retracts: "A000002", Recipients: 120},
			},
		}
	}

	api := newAPI(7)
	out, errOut, err := runOnFake(t, api, "retract", "A000002", "--message", "误发，请忽略。", "--message-en", "Sent in error: disregard it.")
	require.NoError(t, err, errOut)
	require.Len(t, api.bodies, 2, "a preview, then the retraction")
	for i, b := range api.bodies {
		assert.Equal(t, "Sent in error: disregard it.", b["message_en"], "body %d", i)
	}
	assert.Contains(t, errOut, "goes to 120 people:\n  "+zh+"\n7 people whose language is English read:\n  "+en+"\n")
	assert.Contains(t, out, "activation A000002 retracted")

	api = newAPI(1)
	out, _, err = runOnFake(t, api, "retract", "A000002", "--message", "误发，请忽略。", "--dry-run")
	require.NoError(t, err)
	require.Len(t, api.bodies, 1)
	assert.NotContains(t, api.bodies[0], "message_en", "none given: the server chooses what English speakers read")
	assert.Contains(t, out, "1 person whose language is English reads:\n  "+en+"\n")

	api = newAPI(0)
	out, _, err = runOnFake(t, api, "retract", "A000002", "--message", "误发，请忽略。", "--dry-run")
	require.NoError(t, err)
	assert.NotContains(t, out, "English", "no English speaker reached")

	out, _, err = runOnFake(t, newAPI(0), "retract", "--help")
	require.NoError(t, err)
	assert.Contains(t, out, "--message-en")
	assert.Contains(t, out, notify.CorrectionTextEN, "the help says what English speakers read without it")
}
