package twiliosim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify/twiml"
)

// A Say whose voice does not speak its language is read as Twilio may (an
// invalid pair fails the Say): not at all, flagged on the call and counted
// in twiml_errors. Twilio's default voice, man, speaks no Chinese; the
// call-up documents muster renders name a voice that does.
func TestCallSayVoiceMustSpeakItsLanguage(t *testing.T) {
	r := startSim(t, Config{TimeScale: fast, CallScripts: []CallScript{{Prefix: "+86139", Keys: []string{"1"}}}})
	vh := newVoiceHook(t, testToken)
	vh.docs["V1"] = twiml.Response{Verbs: []twiml.Verb{twiml.Say{Text: "防汛Ⅳ级响应，请到岗。", Language: twiml.ZhCN}, twiml.Hangup{}}}
	vh.docs["V2"] = twiml.Response{Verbs: []twiml.Verb{twiml.Say{Text: "防汛Ⅳ级响应，请到岗。", Voice: "Polly.Joanna", Language: twiml.CmnCN}, twiml.Hangup{}}}
	c := r.client(t)
	run := func(attempt string) Call {
		got, err := c.Api.CreateCall(vh.call("+8613900000001", attempt))
		require.NoError(t, err)
		return r.settled(t, *got.Sid)
	}
	for _, attempt := range []string{"V1", "V2"} {
		call := run(attempt)
		require.Len(t, call.Said, 1, attempt)
		assert.Contains(t, call.Said[0].Error, "13511", "%s: %+v", attempt, call.Said[0])
	}
	assert.EqualValues(t, 2, r.sim.Stats().Calls.TwiMLErrors)

	prompt := run("P1") // twiml.Prompt with no voice configured: the default Mandarin one
	require.NotEmpty(t, prompt.Said)
	for _, s := range prompt.Said {
		assert.Empty(t, s.Error, "%+v", s)
		assert.Equal(t, "Polly.Zhiyu", s.Voice)
		assert.Equal(t, "cmn-CN", s.Language)
	}
	assert.EqualValues(t, 2, r.sim.Stats().Calls.TwiMLErrors, "muster's own documents are read")
}

// An English Say holding Chinese text is taken by Twilio but not read: an
// English voice cannot say Han characters, and the callee hears noise or
// nothing at the Chinese words (the commander's reason, a street). The
// simulator flags it as it flags a voice that does not speak its
// language; an English call-up muster renders says its Chinese in a
// Mandarin voice, in a Say of its own, and is read whole.
func TestCallEnglishSayMustNotHoldChinese(t *testing.T) {
	r := startSim(t, Config{TimeScale: fast, CallScripts: []CallScript{{Prefix: "+86139", Keys: []string{"1"}}}})
	vh := newVoiceHook(t, testToken)
	const text = "Zheng Jing, a level I flood response is active in Jiangbei District: 特大暴雨. Please report now. Press 1 if you are coming."
	vh.docs["E1"] = twiml.Response{Verbs: []twiml.Verb{twiml.Say{Text: text, Voice: "Polly.Joanna", Language: twiml.EnUS}, twiml.Hangup{}}}
	vh.docs["E2"] = twiml.Response{Verbs: []twiml.Verb{twiml.Say{Text: "Report to 白沙街道.", Voice: "alice"}, twiml.Hangup{}}} // no language: en-US
	english := twiml.CallUp{Text: text, Language: twiml.EnUS, Action: vh.ts.URL + "/voice/E3/gather"}
	vh.docs["E3"] = twiml.Prompt(english)
	c := r.client(t)
	run := func(attempt string) Call {
		got, err := c.Api.CreateCall(vh.call("+8613900000002", attempt))
		require.NoError(t, err)
		return r.settled(t, *got.Sid)
	}
	for _, attempt := range []string{"E1", "E2"} {
		call := run(attempt)
		require.Len(t, call.Said, 1, attempt)
		assert.Contains(t, call.Said[0].Error, "Chinese text in an en-US Say", "%s: %+v", attempt, call.Said[0])
	}
	assert.EqualValues(t, 2, r.sim.Stats().Calls.TwiMLErrors)

	prompt := run("E3")
	var zh []string
	for _, s := range prompt.Said {
		assert.Empty(t, s.Error, "%+v", s)
		if twiml.HasChinese(s.Text) {
			assert.Equal(t, "Polly.Zhiyu", s.Voice, "%+v", s)
			zh = append(zh, s.Text)
		} else {
			assert.Equal(t, "Polly.Joanna", s.Voice, "%+v", s)
		}
	}
	require.NotEmpty(t, zh)
	assert.Equal(t, "特大暴雨", zh[0], "the reason, in the Mandarin voice")
	assert.EqualValues(t, 2, r.sim.Stats().Calls.TwiMLErrors, "muster's English call-up is read whole")
}
