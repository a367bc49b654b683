package api_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/api"
	"muster/examples"
	"muster/notify"
	"muster/notify/twiliosim"
	"muster/plans"
)

// voiceRig is a one-node fixture with the demo city and a roster, and a
// handler that takes the LIVE account's voice webhooks through the real
// inbound path, as Twilio posts them (signed with the account's token).
type voiceRig struct {
	f    *fixture
	main http.Handler // the fixture's API
	h    http.Handler // the webhooks
}

const (
	voicePublic     = "https://m.example.cn"
	voiceLiveToken  = "livetoken"
	voiceCallSIDPfx = "CAvoice"
)

func newVoiceRig(t *testing.T) *voiceRig {
	t.Helper()
	f := newFixture(t, 1)
	main := f.handler(f.c.Nodes[0])
	withDemo(t, f, main)
	regions, err := examples.Regions()
	require.NoError(t, err)
	var roster bytes.Buffer
	require.NoError(t, examples.GenerateRoster(&roster, 300, 3, examples.Grids(regions)))
	res := do(t, main, request{method: "POST", path: "/api/v1/roster/import", token: f.root, body: bytes.NewReader(roster.Bytes())})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	n := f.c.Leader().Node
	in := notify.NewInbound(n, notify.InboundConfig{View: n, Tokens: map[string]string{testSenders.Live.Account: voiceLiveToken}})
	t.Cleanup(in.Close)
	h := api.New(api.Config{Logger: slog.New(slog.NewTextHandler(&syncBuffer{}, nil)), PublicURL: voicePublic},
		api.Deps{Cluster: n, Activations: notify.NewService(n, n, testSenders), Webhooks: in}).Handler()
	return &voiceRig{f: f, main: main, h: h}
}

// activate starts a LIVE level IV call-up over region and returns it with
// its recipients.
func (r *voiceRig) activate(t *testing.T, region string) (notify.Activation, []notify.Recipient) {
	t.Helper()
	return r.activateAs(t, region, "LIVE")
}

// activateAs starts a level IV call-up of purpose (LIVE, EXERCISE) over
// region and returns it with its recipients.
func (r *voiceRig) activateAs(t *testing.T, region, purpose string) (notify.Activation, []notify.Recipient) {
	t.Helper()
	res := do(t, r.main, request{method: "POST", path: "/api/v1/activations", token: r.f.root, body: jsonBody(map[string]any{
		"plan_id": "flood-control", "regions": []string{region}, "level": "IV", "purpose": purpose, "reason": "暴雨内涝"})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var a notify.Activation
	res.decode(t, &a)
	require.Equal(t, notify.StatusActive, a.Status)
	res = do(t, r.main, request{method: "GET", path: "/api/v1/activations/" + string(a.ID) + "/recipients?limit=1000", token: r.f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var l plans.List[notify.Recipient]
	res.decode(t, &l)
	require.GreaterOrEqual(t, len(l.Items), 3)
	return a, l.Items
}

// press posts the key pressed on the voice escalation call to rc as
// Twilio does, and returns the TwiML answer.
func (r *voiceRig) press(t *testing.T, act plans.ActivationID, rc notify.Recipient, digits string) string {
	t.Helper()
	path := "/hooks/twilio/voice/" + notify.EscalationAttemptID(act, rc.Person, 0, 1) + "/gather"
	form := url.Values{"AccountSid": {testSenders.Live.Account}, "CallSid": {voiceCallSIDPfx + string(rc.Person)}, "CallStatus": {"in-progress"},
		"Digits": {digits}, "To": {rc.Phone}, "From": {testSenders.Live.Sender}}
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliosim.Signature(voiceLiveToken, voicePublic+path, form))
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req.WithContext(ctx(t)))
	require.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
	return rec.Body.String()
}

// stateOf is a recipient's state, read through the leader.
func (r *voiceRig) stateOf(t *testing.T, act plans.ActivationID, p plans.PersonID) notify.State {
	t.Helper()
	n := r.f.c.Leader().Node
	l, err := notify.NewService(n, n, testSenders).Recipients(ctx(t), muster.Default, act, notify.RecipientFilter{}, plans.Page{Limit: 1000})
	require.NoError(t, err)
	for _, rc := range l.Items {
		if rc.Person == p {
			return rc.State
		}
	}
	require.FailNow(t, "no recipient "+string(p))
	return ""
}

func firstIn(t *testing.T, recs []notify.Recipient, lang plans.Language, not ...plans.PersonID) notify.Recipient {
	t.Helper()
	for _, rc := range recs {
		if rc.Language == lang && !containsPerson(not, rc.Person) {
			return rc
		}
	}
	require.FailNow(t, "no recipient speaks "+string(lang))
	return notify.Recipient{}
}

func containsPerson(ps []plans.PersonID, p plans.PersonID) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

// TestVoiceKeysAfterTheCallUpEnded: a person still on a call when the
// call-up is retracted or stood down who presses 1 is not told they are
// confirmed (nothing is recorded), and 9 does not read the withdrawn
// call-up again: the call says it was withdrawn (with the retraction's
// message) or ended, and hangs up. While it runs, keys work as before,
// and a 2 after a 1 says it was kept and flagged to the duty office.
func TestVoiceKeysAfterTheCallUpEnded(t *testing.T) {
	r := newVoiceRig(t)
	a, recs := r.activate(t, "990102")
	zh := firstIn(t, recs, plans.LangZH)
	other := firstIn(t, recs, plans.LangZH, zh.Person)
	en := firstIn(t, recs, plans.LangEN)

	// While the call-up runs: 9 reads it again, 1 is recorded and confirmed.
	body := r.press(t, a.ID, zh, "9")
	assert.Contains(t, body, "<Gather", "9 reads the call-up again")
	body = r.press(t, a.ID, zh, "1")
	assert.Contains(t, body, "已收到，谢谢", "level IV asks for 收到")
	assert.Equal(t, notify.StateAcked, r.stateOf(t, a.ID, zh.Person))
	// Another key on the same call after the answer: the first stands, and
	// the call does not say the refusal was recorded as the answer, but
	// that it was kept and shown to the duty office.
	body = r.press(t, a.ID, zh, "2")
	assert.NotContains(t, body, "已记录您不能参加", "the 2 was kept as a note, not recorded as the answer")
	assert.Contains(t, body, "您之前已回复：收到。本次按键（不能参加）已记录，并已提示值班人员", "in the words level IV asks for")
	assert.Contains(t, body, "<Hangup/>")
	assert.Equal(t, notify.StateAcked, r.stateOf(t, a.ID, zh.Person))

	// Retracted while others are still on their calls.
	const message = "暴雨召集误发，请勿前往，以后续通知为准。"
	res := do(t, r.main, request{method: "POST", path: "/api/v1/activations/" + string(a.ID) + "/retract", token: r.f.root,
		body: jsonBody(notify.RetractRequest{Message: message})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	before := r.stateOf(t, a.ID, other.Person)
	for _, key := range []string{"1", "9", "2", "5"} {
		body := r.press(t, a.ID, other, key)
		assert.NotContains(t, body, "已确认到岗", "key %s after the retraction", key)
		assert.NotContains(t, body, "已记录您不能到岗", "key %s after the retraction", key)
		assert.NotContains(t, body, "<Gather", "key %s: the withdrawn call-up is not read again", key)
		assert.Contains(t, body, "本次召集已撤回", "key %s", key)
		assert.Contains(t, body, message, "key %s: what the retraction said", key)
		assert.True(t, strings.HasSuffix(strings.TrimSpace(body), "<Hangup/></Response>"), "key %s: the call ends: %s", key, body)
	}
	assert.Equal(t, before, r.stateOf(t, a.ID, other.Person), "nothing was recorded")
	body = r.press(t, a.ID, en, "1")
	assert.NotContains(t, body, "confirmed")
	assert.Contains(t, body, "withdrawn")
	assert.Contains(t, body, `language="en-US"`)

	// Stood down: the call-up has ended.
	b, recs := r.activate(t, "990103")
	late := firstIn(t, recs, plans.LangZH)
	res = do(t, r.main, request{method: "POST", path: "/api/v1/activations/" + string(b.ID) + "/stand-down", token: r.f.root,
		body: jsonBody(map[string]string{"reason": "雨情减弱"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	for _, key := range []string{"1", "9"} {
		body := r.press(t, b.ID, late, key)
		assert.NotContains(t, body, "已确认到岗", "key %s after the stand-down", key)
		assert.NotContains(t, body, "<Gather", "key %s after the stand-down", key)
		assert.Contains(t, body, "本次召集已结束", "key %s", key)
		assert.Contains(t, body, "<Hangup/>", "key %s", key)
	}
	assert.NotEqual(t, notify.StateAcked, r.stateOf(t, b.ID, late.Person))
}
