package api_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
	"muster/notify/twiliosim"
	"muster/plans"
)

// pickUp posts Twilio's request for the TwiML of voice attempt n to rc,
// as when the call is answered by a person, and returns the answer.
func (r *voiceRig) pickUp(t *testing.T, act plans.ActivationID, rc notify.Recipient, n int) string {
	t.Helper()
	path := "/hooks/twilio/voice/" + notify.EscalationAttemptID(act, rc.Person, 0, n)
	form := url.Values{"AccountSid": {testSenders.Live.Account}, "CallSid": {voiceCallSIDPfx + string(rc.Person)}, "CallStatus": {"in-progress"},
		"AnsweredBy": {"human"}, "To": {rc.Phone}, "From": {testSenders.Live.Sender}}
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliosim.Signature(voiceLiveToken, voicePublic+path, form))
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req.WithContext(ctx(t)))
	require.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
	return rec.Body.String()
}

// A call picked up after its call-up was retracted says it was withdrawn
// and what the retraction said, and one picked up after a stand-down says
// the call-up ended and no answer is needed, in the person's language,
// then hangs up; it asks for no key (nothing is said of a key not
// recorded). Before, both were a bare <Hangup/>.
func TestVoiceCallPickedUpAfterTheCallUpStoppedSaysWhy(t *testing.T) {
	r := newVoiceRig(t)
	a, recs := r.activate(t, "990102")
	zh := firstIn(t, recs, plans.LangZH)
	en := firstIn(t, recs, plans.LangEN)
	const message = "暴雨召集误发，请勿前往，以后续通知为准。"
	res := do(t, r.main, request{method: "POST", path: "/api/v1/activations/" + string(a.ID) + "/retract", token: r.f.root,
		body: jsonBody(notify.RetractRequest{Message: message})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)

	body := r.pickUp(t, a.ID, zh, 1)
	assert.Contains(t, body, "本次召集已撤回。")
	assert.Contains(t, body, message)
	assert.NotContains(t, body, "按键", "no key was pressed")
	assert.NotContains(t, body, "<Gather")
	assert.True(t, strings.HasSuffix(strings.TrimSpace(body), "<Hangup/></Response>"), "%s", body)
	body = r.pickUp(t, a.ID, en, 1)
	assert.Contains(t, body, "This call-up was withdrawn.")
	assert.Contains(t, body, `language="en-US"`)

	b, recs := r.activate(t, "990103")
	late := firstIn(t, recs, plans.LangZH)
	res = do(t, r.main, request{method: "POST", path: "/api/v1/activations/" + string(b.ID) + "/stand-down", token: r.f.root,
		body: jsonBody(map[string]string{"reason": "雨情减弱"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	body = r.pickUp(t, b.ID, late, 1)
	assert.Contains(t, body, "本次召集已结束，无需回复。")
	assert.NotContains(t, body, "<Gather")
	assert.Contains(t, body, "<Hangup/>")
	assert.NotContains(t, body, plans.ExerciseMark, "a LIVE call-up's call is not marked")
}

// A call picked up by someone who already answered (here on an earlier
// call) does not read the call-up again nor ask for keys: it says they
// answered, in the level's words (level IV asks for 收到), thanks them and
// hangs up. Someone who has not answered hears the call-up.
func TestVoiceCallPickedUpAfterAnAnswerSaysSo(t *testing.T) {
	r := newVoiceRig(t)
	a, recs := r.activate(t, "990102")
	yes := firstIn(t, recs, plans.LangZH)
	no := firstIn(t, recs, plans.LangZH, yes.Person)
	silent := firstIn(t, recs, plans.LangZH, yes.Person, no.Person)
	r.press(t, a.ID, yes, "1")
	r.press(t, a.ID, no, "2")
	require.Equal(t, notify.StateAcked, r.stateOf(t, a.ID, yes.Person))
	require.Equal(t, notify.StateDeclined, r.stateOf(t, a.ID, no.Person))

	body := r.pickUp(t, a.ID, yes, 2)
	assert.Contains(t, body, "您已回复：收到。无需再按键，谢谢。")
	assert.NotContains(t, body, "<Gather", "the call-up is not read again")
	assert.True(t, strings.HasSuffix(strings.TrimSpace(body), "<Hangup/></Response>"), "%s", body)
	body = r.pickUp(t, a.ID, no, 2)
	assert.Contains(t, body, "您已回复：不能参加。")
	assert.NotContains(t, body, "<Gather")

	body = r.pickUp(t, a.ID, silent, 2)
	assert.Contains(t, body, "<Gather", "someone who has not answered hears the call-up")
}

// A drill's call picked up after the drill was stood down says so marked
// 【演练】, as everything a drill's call says, and that the drill (本次演练)
// has ended, as its SMS says.
func TestDrillCallPickedUpAfterItsStandDownIsMarked(t *testing.T) {
	r := newVoiceRig(t)
	res := do(t, r.main, request{method: "POST", path: "/api/v1/activations", token: r.f.root, body: jsonBody(map[string]any{
		"plan_id": "flood-control", "regions": []string{"990103"}, "level": "IV", "purpose": "EXERCISE", "reason": "防汛演练"})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var a notify.Activation
	res.decode(t, &a)
	res = do(t, r.main, request{method: "GET", path: "/api/v1/activations/" + string(a.ID) + "/recipients?limit=1000", token: r.f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var l plans.List[notify.Recipient]
	res.decode(t, &l)
	zh := firstIn(t, l.Items, plans.LangZH)
	res = do(t, r.main, request{method: "POST", path: "/api/v1/activations/" + string(a.ID) + "/stand-down", token: r.f.root,
		body: jsonBody(map[string]string{"reason": "演练结束"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	body := r.pickUp(t, a.ID, zh, 1)
	assert.Contains(t, body, plans.ExerciseMark+"本次演练已结束，无需回复。", "as the drill's SMS says it")
	assert.Contains(t, body, "<Hangup/>")
}

// A drill's call picked up by a person says in a full sentence, in the
// person's language and voice, that it is a drill before each reading of
// the call-up and again after it; a LIVE call-up's call says neither.
// Before, the drill's only word of it was the 【演练】 read first, while
// whoever picked up was still saying 喂, before a call-up that sounded live.
func TestDrillCallSaysItIsADrill(t *testing.T) {
	r := newVoiceRig(t)
	a, recs := r.activateAs(t, "990102", "EXERCISE")
	zh := firstIn(t, recs, plans.LangZH)
	en := firstIn(t, recs, plans.LangEN)
	for _, tc := range []struct {
		rc                notify.Recipient
		open, close, mark string
		voice             string
	}{
		{zh, "这是一次演练，不是真实事件。", "以上为演练内容。", plans.ExerciseMark + "这里是", `voice="Polly.Zhiyu" language="cmn-CN"`},
		{en, "This is a drill, not a real emergency.", "This was a drill.", plans.ExerciseMarkEN + "This is the Example City", `voice="Polly.Joanna" language="en-US"`},
	} {
		body := r.pickUp(t, a.ID, tc.rc, 1)
		opening, closing := "<Say "+tc.voice+">"+tc.open+"</Say>", "<Say "+tc.voice+">"+tc.close+"</Say>"
		assert.Equal(t, 2, strings.Count(body, opening), "%s: the drill sentence opens each reading: %s", tc.rc.Language, body)
		assert.Equal(t, 2, strings.Count(body, closing), "%s: and ends it: %s", tc.rc.Language, body)
		rest := body
		for reading := 1; reading <= 2; reading++ {
			o, m := strings.Index(rest, opening), strings.Index(rest, tc.mark)
			require.True(t, o >= 0 && m > o, "%s, reading %d: the drill sentence before the call-up: %s", tc.rc.Language, reading, body)
			assert.NotContains(t, rest[o:m], "<Pause", "%s, reading %d: right before it", tc.rc.Language, reading)
			rest = rest[m:]
			c := strings.Index(rest, closing)
			require.Positive(t, c, "%s, reading %d: the closing drill sentence after the call-up: %s", tc.rc.Language, reading, body)
			assert.NotContains(t, rest[:c], "<Pause", "%s, reading %d: in the same reading", tc.rc.Language, reading)
			rest = rest[c:]
		}
	}

	live, recs := r.activate(t, "990103")
	body := r.pickUp(t, live.ID, firstIn(t, recs, plans.LangZH), 1)
	assert.Contains(t, body, "<Gather", "the LIVE call-up is read")
	assert.NotContains(t, body, "演练", "a LIVE call-up's call says no drill sentence")
}
