package twiliosim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twilio/twilio-go/client"
)

// The answer muster gives an inbound SMS (a TwiML <Response> with a
// <Message>, as api/hooks.go writes it) is sent back to the person, as
// Twilio sends it: kept as an outbound-reply message from the number they
// texted, listed by /_sim/messages and counted in /_sim/stats
// twiml_replies, not in created. An empty <Response> or an answer that is
// not TwiML sends nothing; a person who texted STOP gets nothing (21610).
func TestTwiMLAnswerToAnInboundSMSIsSent(t *testing.T) {
	const person, other = "+8613800138000", "+8613900139000"
	answers := map[string]string{
		"1":    `<?xml version="1.0" encoding="UTF-8"?><Response><Message>【演练】本次召集已结束，您的回复未记录。</Message></Response>`,
		"2":    `<Response></Response>`,
		"好":    `<Response><Message><Body>first answer stands</Body></Message><Message to="` + other + `">FYI</Message></Response>`,
		"junk": `ok`,
		"STOP": `<Response><Message>已退订</Message></Response>`,
	}
	var mu sync.Mutex
	valid := true
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		params := map[string]string{}
		for k, v := range r.PostForm {
			params[k] = v[0]
		}
		v := client.NewRequestValidator(testToken)
		mu.Lock()
		valid = valid && v.Validate("http://"+r.Host+r.URL.RequestURI(), params, r.Header.Get("X-Twilio-Signature"))
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.Write([]byte(answers[r.PostForm.Get("Body")]))
	}))
	t.Cleanup(hook.Close)
	r := startSim(t, Config{Accounts: []Account{{SID: testSID, AuthToken: testToken, InboundURL: hook.URL + "/hooks/twilio/sms-inbound"}}})
	_, err := r.client(t).Api.CreateMessage(sms(person, "【演练】请回复1", ""))
	require.NoError(t, err)

	replies := func(to string) []Message {
		var out []Message
		for _, m := range r.sim.Messages(to) {
			if m.Direction == "outbound-reply" {
				out = append(out, m)
			}
		}
		return out
	}
	reply := func(body string, want int64) {
		t.Helper()
		require.NoError(t, r.sim.Reply(person, fromNum, body))
		eventually(t, "the webhook of "+body, func() bool {
			st := r.sim.Stats()
			return st.RepliesSent == st.RepliesFailed+int64(len(r.sim.Messages(fromNum))) && st.TwiMLReplies == want
		})
	}

	reply("1", 1)
	got := replies(person)
	require.Len(t, got, 1)
	assert.Equal(t, Message{SID: got[0].SID, AccountSID: testSID, Direction: "outbound-reply", From: fromNum, To: person,
		Body: "【演练】本次召集已结束，您的回复未记录。", Status: StatusDelivered, Segments: 1,
		Created: got[0].Created, Updated: got[0].Updated, Sent: got[0].Sent}, got[0])
	assert.False(t, got[0].Sent.IsZero())

	reply("2", 1)    // an empty <Response>: nothing sent
	reply("junk", 1) // not TwiML: nothing sent
	reply("好", 3)    // two <Message>s, one to another number
	got = replies(person)
	require.Len(t, got, 2)
	assert.Equal(t, "first answer stands", got[1].Body)
	if fyi := replies(other); assert.Len(t, fyi, 1) {
		assert.Equal(t, fromNum, fyi[0].From)
		assert.Equal(t, "FYI", fyi[0].Body)
	}
	reply("STOP", 4)
	got = replies(person)
	require.Len(t, got, 3)
	assert.Equal(t, StatusFailed, got[2].Status, "an opted-out number gets nothing")
	assert.Equal(t, 21610, got[2].ErrorCode)

	// /_sim/stats: twiml_replies, total and per account; created counts
	// the REST API's one create only.
	resp, err := http.Get(r.ts.URL + "/_sim/stats")
	require.NoError(t, err)
	defer resp.Body.Close()
	var raw map[string]json.RawMessage
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&raw))
	assert.JSONEq(t, "4", string(raw["twiml_replies"]))
	assert.JSONEq(t, "1", string(raw["created"]))
	var st Stats
	b, _ := json.Marshal(raw)
	require.NoError(t, json.Unmarshal(b, &st))
	assert.EqualValues(t, 4, st.Accounts[testSID].TwiMLReplies)
	assert.EqualValues(t, 5, st.RepliesSent)

	// /_sim/messages lists them to the person, after the call-up SMS.
	resp2, err := http.Get(r.ts.URL + "/_sim/messages?to=%2B8613800138000")
	require.NoError(t, err)
	defer resp2.Body.Close()
	var ms []Message
	require.NoError(t, json.NewDecoder(resp2.Body).Decode(&ms))
	var dirs []string
	for _, m := range ms {
		dirs = append(dirs, m.Direction+" "+m.Body)
	}
	assert.Equal(t, []string{"outbound-api 【演练】请回复1", "outbound-reply 【演练】本次召集已结束，您的回复未记录。", "outbound-reply first answer stands", "outbound-reply 已退订"}, dirs)
	mu.Lock()
	assert.True(t, valid, "every webhook signed")
	mu.Unlock()
	assert.False(t, strings.Contains(strings.Join(dirs, ""), "FYI"))
}
