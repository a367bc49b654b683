package twiliosim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"muster/notify/twiml"
)

// fast makes a minute of simulated call time take 60ms.
const fast = 0.001

const callee = "+8613800138000"

func zh(texts ...string) []Said {
	out := make([]Said, len(texts))
	for i, t := range texts {
		out[i] = Said{Text: t, Language: "cmn-CN", Voice: "Polly.Zhiyu"}
	}
	return out
}

func TestCallAcceptedByKey(t *testing.T) {
	r := startSim(t, Config{TimeScale: fast, CallScripts: []CallScript{{Prefix: callee, Keys: []string{"1"}}}})
	vh := newVoiceHook(t, testToken)

	c, err := r.client(t).Api.CreateCall(vh.call(callee, "A1"))
	require.NoError(t, err)
	require.NotNil(t, c.Sid)
	assert.Regexp(t, `^CA[0-9a-f]{32}$`, *c.Sid)
	assert.Equal(t, "queued", *c.Status)
	assert.Equal(t, callee, *c.To)
	assert.Equal(t, fromNum, *c.From)
	assert.Equal(t, testSID, *c.AccountSid)
	assert.Equal(t, "outbound-api", *c.Direction)
	assert.Nil(t, c.Duration)
	assert.Nil(t, c.AnsweredBy)
	_, err = time.Parse(time.RFC1123Z, *c.DateCreated)
	require.NoError(t, err)

	got := r.settled(t, *c.Sid)
	assert.Equal(t, StatusCompleted, got.Status)
	assert.Equal(t, AnsweredByHuman, got.AnsweredBy)
	assert.Equal(t, []string{"1"}, got.Keys)
	assert.Equal(t, zh(callUpText, callUpText, "已确认到岗，谢谢。"), got.Said)
	assert.Equal(t, 2, got.Documents)
	assert.Empty(t, got.Errors)
	assert.Equal(t, 4, got.Callbacks)
	assert.Positive(t, got.Duration)

	// Status callbacks: every event asked for, in order, signed, numbered.
	cbs := vh.requests("A1", "status")
	require.Len(t, cbs, 4)
	assert.Equal(t, []string{"initiated", "ringing", "in-progress", "completed"}, vh.statuses("A1"))
	for i, h := range cbs {
		assert.True(t, h.Valid, "signature of %v", h.Params)
		assert.Equal(t, http.MethodPost, h.Method)
		assert.Equal(t, strconv.Itoa(i), h.Params["SequenceNumber"])
		assert.Equal(t, *c.Sid, h.Params["CallSid"])
		assert.Equal(t, testSID, h.Params["AccountSid"])
		assert.Equal(t, "outbound-api", h.Params["Direction"])
		assert.Equal(t, "call-progress-events", h.Params["CallbackSource"])
		assert.Equal(t, "2010-04-01", h.Params["ApiVersion"])
		assert.Equal(t, "A1", h.Params["attempt"])
		_, err := time.Parse(time.RFC1123Z, h.Params["Timestamp"])
		assert.NoError(t, err)
	}
	assert.NotContains(t, cbs[0].Params, "AnsweredBy")
	assert.Equal(t, "human", cbs[2].Params["AnsweredBy"])
	assert.Equal(t, "human", cbs[3].Params["AnsweredBy"])
	assert.Equal(t, strconv.Itoa(got.Duration), cbs[3].Params["CallDuration"])
	assert.NotContains(t, cbs[2].Params, "CallDuration")

	// The TwiML Url, then the key posted to the Gather action, both signed.
	fetches := vh.requests("A1", "twiml")
	require.Len(t, fetches, 1)
	f := fetches[0]
	assert.True(t, f.Valid)
	assert.Equal(t, http.MethodPost, f.Method)
	for k, want := range map[string]string{
		"CallSid": *c.Sid, "AccountSid": testSID, "From": fromNum, "To": callee,
		"CallStatus": "in-progress", "Direction": "outbound-api", "AnsweredBy": "human",
	} {
		assert.Equal(t, want, f.Params[k], k)
	}
	assert.NotContains(t, f.Params, "Digits")
	gathers := vh.requests("A1", "gather")
	require.Len(t, gathers, 1)
	assert.True(t, gathers[0].Valid)
	assert.Equal(t, "1", gathers[0].Params["Digits"])
	assert.Equal(t, *c.Sid, gathers[0].Params["CallSid"])

	fc, err := r.client(t).Api.FetchCall(*c.Sid, &api.FetchCallParams{})
	require.NoError(t, err)
	assert.Equal(t, "completed", *fc.Status)
	require.NotNil(t, fc.Duration)
	assert.Equal(t, strconv.Itoa(got.Duration), *fc.Duration)
	assert.Equal(t, "human", *fc.AnsweredBy)
	require.NotNil(t, fc.StartTime)
	require.NotNil(t, fc.EndTime)
	require.NotNil(t, fc.Price)

	st := r.sim.Stats()
	assert.Equal(t, int64(0), st.Created, "messages are counted apart")
	cs := st.Calls
	assert.EqualValues(t, 1, cs.Created)
	assert.EqualValues(t, 1, cs.Answered)
	assert.EqualValues(t, 0, cs.Machine)
	assert.EqualValues(t, 1, cs.Completed)
	assert.Equal(t, map[string]int64{"1": 1}, cs.Digits)
	assert.EqualValues(t, 2, cs.TwiMLFetches)
	assert.EqualValues(t, 0, cs.TwiMLErrors)
	assert.Positive(t, cs.TwiMLLatencyP50)
	assert.GreaterOrEqual(t, cs.TwiMLLatencyP99, cs.TwiMLLatencyP50)
	assert.EqualValues(t, 4, st.CallbacksSent)
	assert.Equal(t, cs, st.Accounts[testSID].Calls)
	assert.Equal(t, 1, st.StoredCalls)

	// The same over /_sim.
	resp, err := http.Get(r.ts.URL + "/_sim/stats")
	require.NoError(t, err)
	defer resp.Body.Close()
	var js Stats
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&js))
	assert.EqualValues(t, 1, js.Calls.Completed)
	assert.EqualValues(t, 1, js.Calls.Digits["1"])
	resp2, err := http.Get(r.ts.URL + "/_sim/calls?to=%2B8613800138000")
	require.NoError(t, err)
	defer resp2.Body.Close()
	var calls []Call
	require.NoError(t, json.NewDecoder(resp2.Body).Decode(&calls))
	require.Len(t, calls, 1)
	assert.Equal(t, []string{"1"}, calls[0].Keys)
}

func TestCallKeysAtSuccessiveGathers(t *testing.T) {
	help := "按键无效。确认到岗请按1，不能到岗请按2，重听请按9。"
	tests := []struct {
		name     string
		keys     []string
		posted   []string
		said     []Said
		digits   map[string]int64
		noKey    int64
		docs     int
		lastWord string
	}{
		{name: "9 repeats, then 2 declines", keys: []string{"9", "2"}, posted: []string{"9", "2"},
			said:   zh(callUpText, callUpText, callUpText, callUpText, "已记录您不能到岗，谢谢。"),
			digits: map[string]int64{"9": 1, "2": 1}, docs: 3},
		{name: "another key gets the help, then no key hangs up", keys: []string{"5", ""}, posted: []string{"5"},
			said:   zh(callUpText, callUpText, help, callUpText, callUpText, "未收到按键。请回复短信：1 确认到岗，2 不能到岗。再见。"),
			digits: map[string]int64{"5": 1}, noKey: 1, docs: 2},
		{name: "no key at all", keys: nil, posted: nil,
			said:   zh(callUpText, callUpText, "未收到按键。请回复短信：1 确认到岗，2 不能到岗。再见。"),
			digits: map[string]int64{}, noKey: 1, docs: 1},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			to := fmt.Sprintf("+86138000000%02d", i)
			r := startSim(t, Config{TimeScale: fast, CallScripts: []CallScript{{Prefix: to, Keys: tc.keys}}})
			vh := newVoiceHook(t, testToken)
			c, err := r.client(t).Api.CreateCall(vh.call(to, "A1"))
			require.NoError(t, err)
			got := r.settled(t, *c.Sid)

			assert.Equal(t, StatusCompleted, got.Status)
			assert.Equal(t, tc.posted, vh.digits("A1"))
			assert.Equal(t, tc.posted, got.Keys)
			for _, h := range vh.requests("A1", "gather") {
				assert.True(t, h.Valid)
			}
			assert.Equal(t, tc.said, got.Said)
			assert.Equal(t, tc.docs, got.Documents)
			assert.Equal(t, []string{"initiated", "ringing", "in-progress", "completed"}, vh.statuses("A1"))
			cs := r.sim.Stats().Calls
			assert.Equal(t, tc.digits, cs.Digits)
			assert.Equal(t, tc.noKey, cs.NoKey)
			assert.EqualValues(t, tc.docs, cs.TwiMLFetches)
		})
	}
}

func TestCallAnsweredByMachine(t *testing.T) {
	const smsReply = "请回复短信：1 确认到岗，2 不能到岗。" // a recording cannot press a key
	tests := []struct {
		name       string
		amd        string
		voicemail  bool
		answeredBy string
		said       []Said
		noKey      int64
	}{
		{"voicemail left", "Enable", true, "machine_start", zh("防汛Ⅳ级响应，请到岗。", smsReply, "再播一遍。", "防汛Ⅳ级响应，请到岗。", smsReply), 0},
		{"prompt played to the machine", "DetectMessageEnd", false, "machine_end_beep", zh(callUpText, callUpText, "未收到按键。请回复短信：1 确认到岗，2 不能到岗。再见。"), 1},
		{"no detection asked", "", true, "", zh(callUpText, callUpText, "未收到按键。请回复短信：1 确认到岗，2 不能到岗。再见。"), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := startSim(t, Config{TimeScale: fast, CallScripts: []CallScript{{Prefix: callee, Outcome: CallMachine}}})
			vh := newVoiceHook(t, testToken)
			vh.voicemail = tc.voicemail
			p := vh.call(callee, "M1")
			if tc.amd == "" {
				p.MachineDetection = nil
			} else {
				p.SetMachineDetection(tc.amd)
			}
			c, err := r.client(t).Api.CreateCall(p)
			require.NoError(t, err)
			got := r.settled(t, *c.Sid)

			assert.Equal(t, StatusCompleted, got.Status)
			assert.Equal(t, tc.answeredBy, got.AnsweredBy)
			assert.Empty(t, vh.digits("M1"), "a machine never presses a key")
			assert.Empty(t, got.Keys)
			assert.Equal(t, tc.said, got.Said)
			cbs := vh.requests("M1", "status")
			require.Len(t, cbs, 4)
			for _, h := range append(cbs, vh.requests("M1", "twiml")...) {
				assert.True(t, h.Valid)
				if h.Params["CallStatus"] == "in-progress" || h.Params["CallStatus"] == "completed" {
					assert.Equal(t, tc.answeredBy, h.Params["AnsweredBy"], "%s %v", h.Path, h.Params)
				}
			}
			fc, err := r.client(t).Api.FetchCall(*c.Sid, nil)
			require.NoError(t, err)
			if tc.answeredBy == "" {
				assert.Nil(t, fc.AnsweredBy)
			} else {
				assert.Equal(t, tc.answeredBy, *fc.AnsweredBy)
			}
			cs := r.sim.Stats().Calls
			assert.EqualValues(t, 1, cs.Answered)
			assert.EqualValues(t, 1, cs.Machine)
			assert.EqualValues(t, tc.noKey, cs.NoKey)
			assert.Empty(t, cs.Digits)
		})
	}
}

func TestCallNotAnswered(t *testing.T) {
	tests := []struct {
		name     string
		script   CallScript
		timeout  int
		statuses []string
		count    func(CallStats) int64
	}{
		{"busy", CallScript{Outcome: CallBusy}, 0, []string{"initiated", "ringing", "busy"}, func(s CallStats) int64 { return s.Busy }},
		{"no answer", CallScript{Outcome: CallNoAnswer}, 20, []string{"initiated", "ringing", "no-answer"}, func(s CallStats) int64 { return s.NoAnswer }},
		{"rings past the timeout", CallScript{Ring: 30 * time.Second, Keys: []string{"1"}}, 15, []string{"initiated", "ringing", "no-answer"}, func(s CallStats) int64 { return s.NoAnswer }},
		{"failed", CallScript{Outcome: CallFailed}, 0, []string{"initiated", "failed"}, func(s CallStats) int64 { return s.Failed }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.script.Prefix = callee
			r := startSim(t, Config{TimeScale: fast, CallScripts: []CallScript{tc.script}})
			vh := newVoiceHook(t, testToken)
			p := vh.call(callee, "B1")
			if tc.timeout > 0 {
				p.SetTimeout(tc.timeout)
			}
			c, err := r.client(t).Api.CreateCall(p)
			require.NoError(t, err)
			got := r.settled(t, *c.Sid)

			final := tc.statuses[len(tc.statuses)-1]
			assert.Equal(t, final, got.Status)
			assert.Equal(t, tc.statuses, vh.statuses("B1"))
			for _, h := range vh.requests("B1", "status") {
				assert.True(t, h.Valid)
				assert.NotContains(t, h.Params, "AnsweredBy")
				assert.NotContains(t, h.Params, "CallDuration")
			}
			assert.Empty(t, vh.requests("B1", "twiml"), "an unanswered call fetches no TwiML")
			fc, err := r.client(t).Api.FetchCall(*c.Sid, nil)
			require.NoError(t, err)
			assert.Equal(t, final, *fc.Status)
			assert.Nil(t, fc.Duration)
			assert.Nil(t, fc.Price)
			cs := r.sim.Stats().Calls
			assert.EqualValues(t, 1, tc.count(cs))
			assert.Zero(t, cs.Answered)
			assert.Zero(t, cs.TwiMLFetches)
		})
	}
}

func TestCallCreateErrors(t *testing.T) {
	rules := []Rule{
		{Prefix: "+8617000", Outcome: OutcomeReject, Code: 21614}, // not a mobile: calls go through
		{Prefix: "+8617001", Outcome: OutcomeReject, Code: 21610}, // opted out of SMS: calls go through
		{Match: regexp.MustCompile(`^\+8617002`), Outcome: OutcomeReject, Code: 21217},
		{Prefix: "+8617003", Outcome: OutcomeUndelivered, Code: 30003}, // SMS only
	}
	r := startSim(t, Config{Rules: rules, TimeScale: fast})
	vh := newVoiceHook(t, testToken)
	c := r.client(t)
	base := func(to string) *api.CreateCallParams { return vh.call(to, "E1") }
	tests := []struct {
		name string
		p    *api.CreateCallParams
		code int
	}{
		{"not E.164", base("13800138000"), 21211},
		{"no To", (&api.CreateCallParams{}).SetFrom(fromNum).SetUrl(vh.ts.URL), 21201},
		{"no From", (&api.CreateCallParams{}).SetTo(callee).SetUrl(vh.ts.URL), 21213},
		{"no Url or Twiml", (&api.CreateCallParams{}).SetTo(callee).SetFrom(fromNum), 21205},
		{"relative Url", base(callee).SetUrl("/voice/E1"), 21205},
		{"underscore in callback host", base(callee).SetStatusCallback("http://bad_host.example/status"), 21609},
		{"unknown machine detection", base(callee).SetMachineDetection("Maybe"), 20001},
		{"bad method", base(callee).SetMethod("PUT"), 20001},
		{"rule with a voice code", base("+8617002000001"), 21217},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Api.CreateCall(tc.p)
			var te *client.TwilioRestError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, tc.code, te.Code)
			assert.Equal(t, 400, te.Status)
		})
	}
	for _, to := range []string{"+8617000000001", "+8617001000001", "+8617003000001"} {
		_, err := c.Api.CreateCall(base(to))
		assert.NoError(t, err, "SMS-only rule for %s does not stop a call", to)
	}
	_, err := c.Api.CreateMessage(sms("+8617000000001", "x", ""))
	require.Error(t, err, "while the SMS is refused")

	st := r.sim.Stats()
	assert.EqualValues(t, 3, st.Calls.Created)
	assert.EqualValues(t, 1, st.Calls.Rejected[21211])
	assert.EqualValues(t, 1, st.Calls.Rejected[21217])
	assert.EqualValues(t, 1, st.Rejected[21614], "the SMS refusal is a message's")
	assert.Zero(t, st.Rejected[21211])

	_, err = r.twilioClient(testSID, "wrongtoken1", 5*time.Second).Api.CreateCall(base(callee))
	var te *client.TwilioRestError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, 20003, te.Code)
	_, err = c.Api.FetchCall("CA00000000000000000000000000000000", nil)
	require.ErrorAs(t, err, &te)
	assert.Equal(t, 20404, te.Code)
}

func TestCallThrottledWithMessages(t *testing.T) {
	r := startSim(t, Config{MPS: 1, TimeScale: fast})
	vh := newVoiceHook(t, testToken)
	c := r.client(t)
	_, err := c.Api.CreateMessage(sms(callee, "x", ""))
	require.NoError(t, err)
	_, err = c.Api.CreateCall(vh.call(callee, "T1"))
	var te *client.TwilioRestError
	require.ErrorAs(t, err, &te, "the bucket is the account's, messages and calls alike")
	assert.Equal(t, 20429, te.Code)
	assert.Equal(t, 429, te.Status)
	assert.EqualValues(t, 1, r.sim.Stats().Throttled)
	assert.Zero(t, r.sim.Stats().Calls.Created)
}

func TestCallCancelAndHangUp(t *testing.T) {
	r := startSim(t, Config{TimeScale: 0.01, CPS: 0.001, CallScripts: []CallScript{
		{Prefix: "+8613900000001", Ring: time.Hour}, // rings for the whole Timeout
		{Prefix: "+8613900000002"},                  // queued behind it (one call per 1000 s, scaled to 10 s)
	}})
	vh := newVoiceHook(t, testToken)
	vh.docs["H1"] = twiml.Response{Verbs: []twiml.Verb{twiml.Pause{Length: 600}}}
	c := r.client(t)

	ringing, err := c.Api.CreateCall(vh.call("+8613900000001", "R1").SetTimeout(600))
	require.NoError(t, err)
	queued, err := c.Api.CreateCall(vh.call("+8613900000002", "Q1"))
	require.NoError(t, err)
	// Rings, and its ringing callback arrived: callbacks are posted as
	// they come, each on its own, so a cancel's could overtake it.
	eventually(t, "first call rings", func() bool {
		got, _ := r.sim.Call(*ringing.Sid)
		return got.Status == StatusRinging && slices.Contains(vh.statuses("R1"), "ringing")
	})

	u, err := c.Api.UpdateCall(*queued.Sid, (&api.UpdateCallParams{}).SetStatus("canceled"))
	require.NoError(t, err)
	assert.Equal(t, "canceled", *u.Status)
	u, err = c.Api.UpdateCall(*ringing.Sid, (&api.UpdateCallParams{}).SetStatus("completed"))
	require.NoError(t, err)
	assert.Equal(t, "canceled", *u.Status, "hanging up a call not yet answered cancels it")
	// The steps they had scheduled stay in the queue until due, so wait
	// for the callbacks rather than for the scheduler to drain.
	eventually(t, "final callbacks", func() bool { return len(vh.statuses("Q1")) == 1 && len(vh.statuses("R1")) == 3 })
	assert.Equal(t, []string{"canceled"}, vh.statuses("Q1"), "never dialled")
	assert.Equal(t, []string{"initiated", "ringing", "canceled"}, vh.statuses("R1"))

	r2 := startSim(t, Config{TimeScale: 0.01, CallScripts: []CallScript{{Prefix: "+8613900000003", Ring: time.Second / 2}}})
	held, err := r2.client(t).Api.CreateCall(vh.call("+8613900000003", "H1"))
	require.NoError(t, err)
	eventually(t, "answered call holds on a long pause", func() bool {
		got, _ := r2.sim.Call(*held.Sid)
		return got.Status == StatusInProgress && got.Documents == 1
	})
	u, err = r2.client(t).Api.UpdateCall(*held.Sid, (&api.UpdateCallParams{}).SetStatus("canceled"))
	require.NoError(t, err, "a cancel leaves an answered call as it is, as Twilio's does")
	assert.Equal(t, "in-progress", *u.Status)
	u, err = r2.client(t).Api.UpdateCall(*held.Sid, (&api.UpdateCallParams{}).SetStatus("completed"))
	require.NoError(t, err)
	assert.Equal(t, "completed", *u.Status)
	_, err = r2.client(t).Api.UpdateCall(*held.Sid, (&api.UpdateCallParams{}).SetStatus("completed"))
	var te *client.TwilioRestError
	require.ErrorAs(t, err, &te, "a call that ended cannot be updated")
	assert.Equal(t, 21220, te.Code)
	eventually(t, "completed callback", func() bool { return len(vh.statuses("H1")) == 4 })
	assert.Equal(t, []string{"initiated", "ringing", "in-progress", "completed"}, vh.statuses("H1"))
	got, _ := r2.sim.Call(*held.Sid)
	assert.Equal(t, StatusCompleted, got.Status)
	assert.Positive(t, got.Duration)
	cs := r.sim.Stats().Calls
	assert.EqualValues(t, 2, cs.Canceled)
	assert.EqualValues(t, 1, r2.sim.Stats().Calls.Completed)
}

func TestCallGETWebhooksAndInlineTwiml(t *testing.T) {
	r := startSim(t, Config{TimeScale: fast, CallScripts: []CallScript{{Prefix: callee, Keys: []string{"1"}}}})
	vh := newVoiceHook(t, testToken)
	c := r.client(t)

	p := vh.call(callee, "G1").SetMethod("GET").SetStatusCallbackMethod("GET").
		SetStatusCallbackEvent([]string{"answered"})
	got, err := c.Api.CreateCall(p)
	require.NoError(t, err)
	r.settled(t, *got.Sid)
	assert.Equal(t, []string{"in-progress", "completed"}, vh.statuses("G1"), "only the events asked for, and the final one")
	for _, h := range append(vh.requests("G1", "status"), vh.requests("G1", "twiml")...) {
		assert.Equal(t, http.MethodGet, h.Method)
		assert.True(t, h.Valid, "GET signed over the URL with its query: %v", h.Params)
		assert.Equal(t, *got.Sid, h.Params["CallSid"])
	}
	assert.Equal(t, []string{"1"}, vh.digits("G1"), "the Gather's own method (POST) is used for the key")

	doc := twiml.Prompt(twiml.CallUp{Text: callUpText, Action: vh.ts.URL + "/voice/I1/gather"}).String()
	inline := (&api.CreateCallParams{}).SetTo(callee).SetFrom(fromNum).SetTwiml(doc).
		SetStatusCallback(vh.ts.URL + "/status?attempt=I1")
	got, err = c.Api.CreateCall(inline)
	require.NoError(t, err)
	call := r.settled(t, *got.Sid)
	assert.Empty(t, vh.requests("I1", "twiml"), "inline Twiml is not fetched")
	assert.Equal(t, []string{"1"}, vh.digits("I1"))
	assert.Equal(t, []string{"completed"}, vh.statuses("I1"), "no events asked: only the final status")
	assert.Equal(t, 2, call.Documents)
}

func TestCallTwiMLProblems(t *testing.T) {
	r := startSim(t, Config{TimeScale: fast, CallScripts: []CallScript{{Prefix: "+86139", Keys: []string{"1"}}}})
	vh := newVoiceHook(t, testToken)
	vh.fail["X1"] = http.StatusInternalServerError
	vh.docs["X2"] = twiml.Response{Verbs: []twiml.Verb{twiml.Redirect{URL: "/voice/X2"}}}
	vh.docs["X3"] = twiml.Response{}
	c := r.client(t)
	run := func(attempt string) Call {
		got, err := c.Api.CreateCall(vh.call("+8613900000001", attempt))
		require.NoError(t, err)
		return r.settled(t, *got.Sid)
	}

	failed := run("X1")
	assert.Equal(t, StatusCompleted, failed.Status, "an answered call with broken TwiML still completes")
	require.Len(t, failed.Errors, 1)
	assert.Contains(t, failed.Errors[0], "HTTP 500")

	loop := run("X2")
	assert.Equal(t, StatusCompleted, loop.Status)
	assert.Equal(t, maxDocuments, loop.Documents)
	require.Len(t, loop.Errors, 1)
	assert.Contains(t, loop.Errors[0], "TwiML documents")
	for _, h := range vh.requests("X2", "twiml") {
		assert.True(t, h.Valid, "a relative Redirect is resolved and signed")
	}

	empty := run("X3")
	assert.Equal(t, StatusCompleted, empty.Status)
	assert.Empty(t, empty.Errors)
	assert.Equal(t, 1, empty.Duration)

	cs := r.sim.Stats().Calls
	assert.EqualValues(t, 2, cs.TwiMLErrors)
	assert.EqualValues(t, 1+maxDocuments+1, cs.TwiMLFetches)
}

func TestVoiceProfile(t *testing.T) {
	const n = 300
	r := startSim(t, Config{TimeScale: fast, CPS: -1, Seed: 7})
	vh := newVoiceHook(t, testToken)
	vh.voicemail = true
	c := r.client(t)
	number := func(i int) string { return fmt.Sprintf("+86139%08d", i) }

	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				_, err := c.Api.CreateCall(vh.call(number(i), "P"+strconv.Itoa(i)))
				assert.NoError(t, err)
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	eventually(t, "every call ended", func() bool {
		cs := r.sim.Stats().Calls
		return cs.Completed+cs.Busy+cs.NoAnswer+cs.Failed == n && r.sim.Stats().Pending == 0
	})

	// How each call goes depends only on seed and number: replay the draws.
	want := CallStats{Digits: map[string]int64{}}
	outcomes := map[CallOutcome]int64{}
	for i := range n {
		pc := &call{Call: Call{To: number(i), Timeout: defaultCallTimeout}, key: number(i) + "#0"}
		r.sim.planCall(pc)
		outcomes[pc.Outcome]++
		if pc.Outcome != CallHuman {
			continue
		}
		for {
			key, _ := r.sim.press(pc)
			if key == "" {
				want.NoKey++
				break
			}
			want.Digits[key]++
			if key == "1" || key == "2" {
				break
			}
		}
	}
	cs := r.sim.Stats().Calls
	assert.EqualValues(t, n, cs.Created)
	assert.Equal(t, outcomes[CallBusy], cs.Busy)
	assert.Equal(t, outcomes[CallNoAnswer], cs.NoAnswer)
	assert.Equal(t, outcomes[CallFailed], cs.Failed)
	assert.Equal(t, outcomes[CallHuman]+outcomes[CallMachine], cs.Answered)
	assert.Equal(t, outcomes[CallMachine], cs.Machine)
	assert.Equal(t, want.Digits, cs.Digits)
	assert.Equal(t, want.NoKey, cs.NoKey)

	// And the draws follow DefaultVoiceProfile's shares.
	assert.InDelta(t, 0.80*n, cs.Answered, 0.08*n)
	assert.InDelta(t, 0.80*0.10*n, cs.Machine, 0.05*n)
	assert.InDelta(t, 0.05*n, cs.Busy, 0.04*n)
	assert.InDelta(t, 0.12*n, cs.NoAnswer, 0.05*n)
	humans := float64(outcomes[CallHuman])
	assert.InDelta(t, 0.75*humans, cs.Digits["1"], 0.1*humans)

	for _, call := range r.sim.Calls("") {
		switch call.Outcome {
		case CallHuman:
			assert.Equal(t, "human", call.AnsweredBy)
		case CallMachine:
			assert.Equal(t, "machine_start", call.AnsweredBy)
			assert.Empty(t, call.Keys)
		}
	}
	for _, h := range vh.all() {
		assert.True(t, h.Valid, "%s %v", h.Path, h.Params)
	}
}

func TestCallDecisionsDifferPerCallToTheSameNumber(t *testing.T) {
	r := startSim(t, Config{Seed: 3, CPS: 0.001}) // dialled 1000 s apart: they stay queued
	vh := newVoiceHook(t, testToken)
	c := r.client(t)
	seen := map[CallOutcome]bool{}
	for i := range 40 {
		got, err := c.Api.CreateCall(vh.call(callee, "D"+strconv.Itoa(i)))
		require.NoError(t, err)
		call, _ := r.sim.Call(*got.Sid)
		seen[call.Outcome] = true
	}
	assert.Greater(t, len(seen), 1, "a second call to the same person is drawn anew")
}

func TestParseCallScript(t *testing.T) {
	testParse(t, ParseCallScript, (*CallScript).matches, []parseCase[CallScript]{
		{spec: "+8613800138000=human:9,1", want: CallScript{Prefix: "+8613800138000", Outcome: CallHuman, Keys: []string{"9", "1"}}},
		{spec: "+86138=human:-,2", want: CallScript{Prefix: "+86138", Outcome: CallHuman, Keys: []string{"", "2"}}},
		{spec: "+8617010=busy", want: CallScript{Prefix: "+8617010", Outcome: CallBusy}},
		{spec: "+8617011=no-answer", want: CallScript{Prefix: "+8617011", Outcome: CallNoAnswer}},
		{spec: "+8617012=failed", want: CallScript{Prefix: "+8617012", Outcome: CallFailed}},
		{spec: "+8617013=machine", want: CallScript{Prefix: "+8617013", Outcome: CallMachine}},
		{spec: `re:^\+86170[2-4]=machine`, hit: "+8617031234567", miss: "+8617051234567"},
		{spec: "+86=machine:1", wantErr: "only human answers press keys"},
		{spec: "+86=human:1,x", wantErr: `key "x"`},
		{spec: "+86=voicemail", wantErr: "is not one of"},
		{spec: "re:([=busy", wantErr: "missing closing"},
		{spec: "nothing", wantErr: "want PATTERN"},
	})
}

func TestParseVoiceProfile(t *testing.T) {
	p, err := ParseVoiceProfile("")
	require.NoError(t, err)
	assert.Equal(t, DefaultVoiceProfile, p)

	p, err = ParseVoiceProfile("answer=0.7, busy=0.1,no-answer=0.2,machine=0.05,keys=1:0.8/2:0.1/none:0.1,ring=5s,think=1s")
	require.NoError(t, err)
	assert.Equal(t, VoiceProfile{
		AnswerRate: 0.7, BusyRate: 0.1, NoAnswerRate: 0.2, MachineRate: 0.05,
		Digits:   DigitMix{Accept: 0.8, Decline: 0.1, None: 0.1},
		RingTime: 5 * time.Second, ThinkTime: time.Second,
	}, p)

	for spec, want := range map[string]string{
		"answer=2":         "between 0 and 1",
		"answer=0,busy=0":  "add up to 0",
		"keys=1:0.5/7:0.5": `key "7"`,
		"keys=1":           "want KEY:SHARE",
		"ring=soon":        `ring="soon"`,
		"think=-1s":        "positive",
		"loud=1":           "is not one of",
		"answer":           "want NAME=VALUE",
	} {
		_, err := ParseVoiceProfile(spec)
		assert.ErrorContains(t, err, want, spec)
	}
}

func TestVoiceProfileZeroFields(t *testing.T) {
	p := VoiceProfile{BusyRate: 1}
	p.setDefaults()
	assert.Equal(t, CallBusy, p.outcome(0.99), "giving one rate keeps the others at 0")
	assert.Zero(t, p.MachineRate)
	assert.Equal(t, DefaultVoiceProfile.Digits, p.Digits)

	var z VoiceProfile
	z.setDefaults()
	assert.Equal(t, DefaultVoiceProfile, z)
	assert.Equal(t, "1", z.Digits.key(0))
	assert.Equal(t, "", z.Digits.key(0.999))
}
