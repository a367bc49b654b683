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

// postReply posts an inbound SMS to the sms-inbound webhook as the
// provider does, signed with the LIVE account's token over the form as
// posted, and returns the answer.
func (r *voiceRig) postReply(t *testing.T, sid, from, body string) *httptest.ResponseRecorder {
	t.Helper()
	const path = "/hooks/twilio/sms-inbound"
	form := url.Values{"AccountSid": {testSenders.Live.Account}, "MessageSid": {sid}, "From": {from},
		"To": {testSenders.Live.Sender}, "Body": {body}}
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliosim.Signature(voiceLiveToken, voicePublic+path, form))
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req.WithContext(ctx(t)))
	return rec
}

// A reply whose From an SMS gateway wrote in a national or international
// form without the plus (008613474601328, 8613474601328, 13474601328)
// answers the call-up as the E.164 one does: the webhook reads it as the
// roster does. A From that is no phone number is kept as it came: the
// inbound audit shows it. A replay of the same MessageSid, in another form,
// is a replay still.
func TestInboundSMSFromNationalForms(t *testing.T) {
	r := newVoiceRig(t)
	a, recs := r.activate(t, "990101")
	var mobiles []notify.Recipient
	for _, rc := range recs {
		if strings.HasPrefix(rc.Phone, "+861") && len(rc.Phone) == 14 {
			mobiles = append(mobiles, rc)
		}
	}
	require.GreaterOrEqual(t, len(mobiles), 3)
	forms := []struct{ name, prefix string }{{"0086", "0086"}, {"86", "86"}, {"national", ""}}
	for i, f := range forms {
		rc := mobiles[i]
		from := f.prefix + strings.TrimPrefix(rc.Phone, "+86")
		res := r.postReply(t, "SMform"+f.name, from, "1")
		require.Equal(t, http.StatusOK, res.Code, "%s: %s", f.name, res.Body)
		assert.Equal(t, notify.StateAcked, r.stateOf(t, a.ID, rc.Person), "%s: a reply from %s answers for %s", f.name, from, rc.Phone)
	}
	// The same message posted again with the E.164 From changes nothing.
	res := r.postReply(t, "SMformnational", mobiles[2].Phone, "2 在外地")
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	assert.Equal(t, notify.StateAcked, r.stateOf(t, a.ID, mobiles[2].Person), "a replay is applied once")

	res = r.postReply(t, "SMshort", "10086", "1")
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	got := do(t, r.main, request{method: "GET", path: "/api/v1/inbound/audit", token: r.f.root})
	require.Equal(t, http.StatusOK, got.Code, "%s", got.Body)
	var audit struct{ Items []notify.InboundRecord }
	got.decode(t, &audit)
	require.Len(t, audit.Items, 1, "only the short code reached nobody")
	assert.Equal(t, notify.InboundUnknown, audit.Items[0].Outcome)
	assert.Equal(t, "10086", audit.Items[0].From, "kept as it came")
	assert.Equal(t, plans.PersonID(""), audit.Items[0].Person)
}
