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
