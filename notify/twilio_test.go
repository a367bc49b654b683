package notify_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/notify"
	"muster/notify/twiliosim"
	"muster/notify/twiml"
)

const (
	simSID   = "AC00000000000000000000000000000001"
	simToken = "simtoken123"
)

// startTwilioSim runs the simulator over real HTTP for the test.
func startTwilioSim(t testing.TB, cfg twiliosim.Config) (*twiliosim.Server, string) {
	t.Helper()
	if cfg.Accounts == nil {
		cfg.Accounts = []twiliosim.Account{{SID: simSID, AuthToken: simToken}}
	}
	if cfg.SentDelay == 0 {
		cfg.SentDelay, cfg.DeliveredDelay = 5*time.Millisecond, 10*time.Millisecond
	}
	sim := twiliosim.New(cfg)
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(func() {
		sim.Close()
		ts.Close()
	})
	return sim, ts.URL
}

func newTwilio(t testing.TB, cfg notify.TwilioConfig) *notify.Twilio {
	t.Helper()
	if cfg.AccountSID == "" {
		cfg.AccountSID, cfg.AuthToken = simSID, simToken
	}
	if cfg.From == nil && cfg.MessagingServiceSID == "" {
		cfg.From = []string{"+15005550006"}
	}
	tw, err := notify.NewTwilio(cfg)
	require.NoError(t, err)
	t.Cleanup(tw.Close)
	return tw
}

func TestTwilioSendsThroughSimulator(t *testing.T) {
	var mu sync.Mutex
	var reports []url.Values
	attempts := map[string]int{}
	var bad int
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		defer mu.Unlock()
		if notify.ValidateSignature(simToken, "http://"+r.Host+r.URL.RequestURI(), r.PostForm, r.Header.Get("X-Twilio-Signature")) {
			reports = append(reports, r.PostForm)
			attempts[r.URL.Query().Get("attempt")]++
		} else {
			bad++
		}
	}))
	t.Cleanup(hooks.Close)
	sim, api := startTwilioSim(t, twiliosim.Config{})
	tw := newTwilio(t, notify.TwilioConfig{APIURL: api, From: []string{"+15005550001", "+15005550002"}})

	var sids []string
	for i := range 4 {
		sent, err := tw.SendSMS(t.Context(), notify.SMS{
			AttemptID: "A" + string(rune('1'+i)), To: "+8613800138000", Body: "【演练】防汛Ⅳ级响应，请回复1报到",
			StatusCallback: hooks.URL + "/hooks/twilio/sms-status?attempt=A" + string(rune('1'+i)),
		})
		require.NoError(t, err)
		assert.Regexp(t, `^SM[0-9a-f]{32}$`, sent.ProviderID)
		assert.Equal(t, "queued", sent.Status)
		assert.Equal(t, 1, sent.Segments)
		sids = append(sids, sent.ProviderID)
	}
	var froms []string
	for _, sid := range sids {
		m, ok := sim.Message(sid)
		require.True(t, ok)
		froms = append(froms, m.From)
	}
	assert.Equal(t, []string{"+15005550001", "+15005550002", "+15005550001", "+15005550002"}, froms)

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(reports) == 8
	}, 10*time.Second, 5*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.Zero(t, bad)
	assert.Equal(t, map[string]int{"A1": 2, "A2": 2, "A3": 2, "A4": 2}, attempts) // sent and delivered
}

func TestTwilioMessagingService(t *testing.T) {
	_, api := startTwilioSim(t, twiliosim.Config{})
	tw := newTwilio(t, notify.TwilioConfig{APIURL: api, MessagingServiceSID: "MG00000000000000000000000000000001"})
	sent, err := tw.SendSMS(t.Context(), notify.SMS{To: "+8613800138000", Body: "1"})
	require.NoError(t, err)
	assert.Equal(t, "accepted", sent.Status)
	assert.Equal(t, 0, sent.Segments)
}

func TestTwilioErrorsFromSimulator(t *testing.T) {
	rules := []twiliosim.Rule{
		{Prefix: "+8617000", Outcome: twiliosim.OutcomeReject, Code: 21614},
		{Prefix: "+8617001", Outcome: twiliosim.OutcomeReject, Code: 21610},
	}
	_, api := startTwilioSim(t, twiliosim.Config{Rules: rules, MPS: 1})
	tw := newTwilio(t, notify.TwilioConfig{APIURL: api, Timeout: 300 * time.Millisecond})
	send := func(ctx context.Context, to string) *notify.SendError {
		t.Helper()
		_, err := tw.SendSMS(ctx, notify.SMS{To: to, Body: "x"})
		require.Error(t, err)
		var se *notify.SendError
		require.ErrorAs(t, err, &se)
		return se
	}
	ctx := t.Context()

	// The 1/s bucket starts full: one invalid number spends it, the next send is throttled.
	se := send(ctx, "12345")
	assert.Equal(t, notify.SendError{Code: 21211, HTTPStatus: 400, Message: se.Message}, *se)
	se = send(ctx, "+8613800138000")
	assert.Equal(t, 20429, se.Code)
	assert.Equal(t, 429, se.HTTPStatus)
	assert.True(t, se.Temporary)
	assert.Equal(t, time.Second, se.RetryAfter)

	sim2, api2 := startTwilioSim(t, twiliosim.Config{Rules: rules, SlowResponse: 2 * time.Second})
	tw = newTwilio(t, notify.TwilioConfig{APIURL: api2, Timeout: 300 * time.Millisecond})
	for _, tc := range []struct {
		to   string
		code int
	}{{"+8617000000001", 21614}, {"+8617001000001", 21610}} {
		se := send(ctx, tc.to)
		assert.Equal(t, tc.code, se.Code)
		assert.False(t, se.Temporary)
	}

	sim2.SetFault(twiliosim.Fault500, time.Minute)
	se = send(ctx, "+8613800138000")
	assert.True(t, se.Temporary)
	assert.Equal(t, 500, se.HTTPStatus)

	sim2.SetFault(twiliosim.Fault503HTML, time.Minute)
	se = send(ctx, "+8613800138000")
	assert.True(t, se.Temporary)
	assert.Equal(t, 503, se.HTTPStatus)
	assert.Zero(t, se.Code)

	sim2.SetFault(twiliosim.FaultDrop, time.Minute)
	se = send(ctx, "+8613800138000")
	assert.True(t, se.Temporary)
	assert.Zero(t, se.HTTPStatus)

	sim2.SetFault(twiliosim.FaultSlow, time.Minute)
	se = send(ctx, "+8613800138000")
	assert.True(t, se.Temporary)
	assert.ErrorIs(t, se, context.DeadlineExceeded)

	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(20*time.Millisecond, cancel)
	se = send(cctx, "+8613800138000")
	assert.True(t, se.Temporary)
	assert.ErrorIs(t, se, context.Canceled)
	se = send(cctx, "+8613800138000") // already canceled: nothing sent
	assert.ErrorIs(t, se, context.Canceled)

	sim2.SetFault(twiliosim.FaultNone, 0)
	bad := newTwilio(t, notify.TwilioConfig{APIURL: api2, AccountSID: simSID, AuthToken: "wrong1"})
	_, err := bad.SendSMS(ctx, notify.SMS{To: "+8613800138000", Body: "x"})
	var be *notify.SendError
	require.True(t, errors.As(err, &be))
	assert.Equal(t, 20003, be.Code)
	assert.Equal(t, 401, be.HTTPStatus)
	assert.True(t, be.Account, "the account refused, not the message")
	assert.True(t, be.Temporary, "retried, and an outage of the account: its token put right, it sends")
}

func TestNewTwilioChecksConfig(t *testing.T) {
	ok := notify.TwilioConfig{AccountSID: simSID, AuthToken: simToken, From: []string{"+15005550006"}}
	tests := []struct {
		name   string
		change func(*notify.TwilioConfig)
		want   string
	}{
		{"short SID", func(c *notify.TwilioConfig) { c.AccountSID = "AC123" }, "account SID"},
		{"token with symbols", func(c *notify.TwilioConfig) { c.AuthToken = "abc-def" }, "letters and digits"},
		{"no sender", func(c *notify.TwilioConfig) { c.From = nil }, "sender numbers"},
		{"empty sender", func(c *notify.TwilioConfig) { c.From = []string{" "} }, "sender 1 is empty"},
		{"bad service", func(c *notify.TwilioConfig) { c.MessagingServiceSID = "MG1" }, "messaging service SID"},
		{"bad API URL", func(c *notify.TwilioConfig) { c.APIURL = "127.0.0.1:9099" }, "API URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.change(&cfg)
			_, err := notify.NewTwilio(cfg)
			require.Error(t, err)
			assert.True(t, muster.IsCode(err, muster.EInvalid))
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := notify.NewTwilio(ok)
	require.NoError(t, err)
}

func TestValidateSignature(t *testing.T) {
	params := url.Values{
		"AccountSid": {simSID}, "ApiVersion": {"2010-04-01"}, "From": {"+15005550006"},
		"MessageSid": {"SM00000000000000000000000000000001"}, "MessageStatus": {"delivered"},
		"SmsSid": {"SM00000000000000000000000000000001"}, "SmsStatus": {"delivered"}, "To": {"+8613800138000"},
	}
	u := "https://muster.example.com/hooks/twilio/sms-status?attempt=A1"
	assert.True(t, notify.ValidateSignature(simToken, u, params, "lSghLoPvHd7bKSfhQpXrzQNF1ls="))
	assert.True(t, notify.ValidateSignature(simToken, "https://muster.example.com:443/hooks/twilio/sms-status?attempt=A1", params, "lSghLoPvHd7bKSfhQpXrzQNF1ls="))
	assert.False(t, notify.ValidateSignature("othertoken", u, params, "lSghLoPvHd7bKSfhQpXrzQNF1ls="))
	params.Set("MessageStatus", "failed")
	assert.False(t, notify.ValidateSignature(simToken, u, params, "lSghLoPvHd7bKSfhQpXrzQNF1ls="))
}

// voiceHooks stands in for muster's voice webhooks at /hooks/twilio/...:
// the call-up TwiML from package twiml (Voicemail for a machine), Reply for
// the pressed key, and call status callbacks, each checked with
// notify.ValidateSignature before it counts.
type voiceHooks struct {
	ts       *httptest.Server
	mu       sync.Mutex
	statuses map[string][]url.Values // attempt → status callbacks in arrival order
	digits   map[string][]string     // attempt → keys posted
	fetches  map[string][]url.Values // attempt → TwiML requests
	bad      int                     // requests with a bad signature
}

func newVoiceHooks(t *testing.T) *voiceHooks {
	vh := &voiceHooks{statuses: map[string][]url.Values{}, digits: map[string][]string{}, fetches: map[string][]url.Values{}}
	callUp := func(attempt string) twiml.CallUp {
		return twiml.CallUp{Text: "【演练】防汛Ⅳ级响应，请到岗。确认请按1，不能请按2，重听请按9。", Language: twiml.ZhCN,
			Action: notify.VoiceHooksFor(vh.ts.URL, attempt).Gather}
	}
	verified := func(r *http.Request) bool {
		_ = r.ParseForm()
		ok := notify.ValidateSignature(simToken, "http://"+r.Host+r.URL.RequestURI(), r.PostForm, r.Header.Get("X-Twilio-Signature"))
		if !ok {
			vh.mu.Lock()
			vh.bad++
			vh.mu.Unlock()
		}
		return ok
	}
	answer := func(w http.ResponseWriter, doc twiml.Response) {
		w.Header().Set("Content-Type", twiml.ContentType)
		_, _ = w.Write(doc.Render())
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /hooks/twilio/voice/{attempt}", func(w http.ResponseWriter, r *http.Request) {
		if !verified(r) {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		attempt := r.PathValue("attempt")
		vh.mu.Lock()
		vh.fetches[attempt] = append(vh.fetches[attempt], r.PostForm)
		vh.mu.Unlock()
		if notify.MachineAnswered(r.PostForm.Get("AnsweredBy")) {
			answer(w, twiml.Voicemail(callUp(attempt)))
			return
		}
		answer(w, twiml.Prompt(callUp(attempt)))
	})
	mux.HandleFunc("POST /hooks/twilio/voice/{attempt}/gather", func(w http.ResponseWriter, r *http.Request) {
		if !verified(r) {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		attempt := r.PathValue("attempt")
		vh.mu.Lock()
		vh.digits[attempt] = append(vh.digits[attempt], r.PostForm.Get("Digits"))
		vh.mu.Unlock()
		answer(w, twiml.Reply(callUp(attempt), r.PostForm.Get("Digits")))
	})
	mux.HandleFunc("POST /hooks/twilio/voice-status", func(w http.ResponseWriter, r *http.Request) {
		if !verified(r) {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		attempt := r.URL.Query().Get("attempt")
		vh.mu.Lock()
		vh.statuses[attempt] = append(vh.statuses[attempt], r.PostForm)
		vh.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	vh.ts = httptest.NewServer(mux)
	t.Cleanup(vh.ts.Close)
	return vh
}

// final is the attempt's final status callback, once it has come.
func (vh *voiceHooks) final(attempt string) (url.Values, bool) {
	vh.mu.Lock()
	defer vh.mu.Unlock()
	cbs := vh.statuses[attempt]
	if len(cbs) == 0 || !notify.CallStatus(cbs[len(cbs)-1].Get("CallStatus")).Final() {
		return nil, false
	}
	return cbs[len(cbs)-1], true
}

func TestTwilioPlacesCallThroughSimulator(t *testing.T) {
	sim, apiURL := startTwilioSim(t, twiliosim.Config{TimeScale: 0.001, CallScripts: []twiliosim.CallScript{
		{Prefix: "+8613800138000", Keys: []string{"9", "1"}},
		{Prefix: "+8613800138001", Outcome: twiliosim.CallMachine},
		{Prefix: "+8613800138002", Outcome: twiliosim.CallBusy},
	}})
	vh := newVoiceHooks(t)
	tw := newTwilio(t, notify.TwilioConfig{APIURL: apiURL, From: []string{"+15005550001", "+15005550002"}})

	place := func(attempt, to string) notify.Placed {
		t.Helper()
		hooks := notify.VoiceHooksFor(vh.ts.URL, attempt)
		placed, err := tw.PlaceCall(t.Context(), notify.Call{AttemptID: attempt, To: to, URL: hooks.TwiML, StatusCallback: hooks.Status, Ring: 25 * time.Second})
		require.NoError(t, err)
		assert.Regexp(t, `^CA[0-9a-f]{32}$`, placed.ProviderID)
		assert.Equal(t, notify.CallQueued, placed.Status)
		return placed
	}
	human, machine, busy := place("A1", "+8613800138000"), place("A2", "+8613800138001"), place("A3", "+8613800138002")

	c, ok := sim.Call(human.ProviderID)
	require.True(t, ok)
	assert.Equal(t, "+15005550001", c.From)
	assert.Equal(t, "DetectMessageEnd", c.MachineDetection)
	assert.Equal(t, []string{"initiated", "ringing", "answered", "completed"}, c.Events)
	assert.Equal(t, 25, c.Timeout)
	assert.Equal(t, "POST", c.Method)
	c, _ = sim.Call(machine.ProviderID)
	assert.Equal(t, "+15005550002", c.From)

	require.Eventually(t, func() bool {
		_, a := vh.final("A1")
		_, b := vh.final("A2")
		_, c := vh.final("A3")
		return a && b && c
	}, 10*time.Second, 5*time.Millisecond)

	vh.mu.Lock()
	defer vh.mu.Unlock()
	assert.Zero(t, vh.bad)
	seq := func(attempt string) []string {
		var out []string
		for _, f := range vh.statuses[attempt] {
			out = append(out, f.Get("CallStatus"))
		}
		return out
	}
	assert.Equal(t, []string{"initiated", "ringing", "in-progress", "completed"}, seq("A1"))
	assert.Equal(t, []string{"9", "1"}, vh.digits["A1"], "9 hears it again, 1 accepts")
	assert.Equal(t, "human", vh.statuses["A1"][3].Get("AnsweredBy"))
	assert.False(t, notify.MachineAnswered(vh.statuses["A1"][3].Get("AnsweredBy")))

	assert.Equal(t, []string{"initiated", "ringing", "in-progress", "completed"}, seq("A2"))
	assert.Equal(t, "machine_end_beep", vh.fetches["A2"][0].Get("AnsweredBy"), "DetectMessageEnd: spoken to after the greeting's beep")
	assert.True(t, notify.MachineAnswered(vh.statuses["A2"][3].Get("AnsweredBy")))
	assert.Empty(t, vh.digits["A2"], "a machine never answers the keypad")

	assert.Equal(t, []string{"initiated", "ringing", "busy"}, seq("A3"))
	assert.Empty(t, vh.fetches["A3"])

	r, err := tw.FetchCall(t.Context(), human.ProviderID)
	require.NoError(t, err)
	assert.Equal(t, notify.CallCompleted, r.Status)
	assert.Equal(t, "human", r.AnsweredBy)
	assert.Positive(t, r.Duration)
	assert.Equal(t, vh.statuses["A1"][3].Get("CallDuration"), strconv.Itoa(int(r.Duration/time.Second)))
	r, err = tw.FetchCall(t.Context(), busy.ProviderID)
	require.NoError(t, err)
	assert.Equal(t, notify.CallBusy, r.Status)
	assert.Zero(t, r.Duration)
}

func TestTwilioCallErrorsFromSimulator(t *testing.T) {
	rules := []twiliosim.Rule{
		{Prefix: "+8617000", Outcome: twiliosim.OutcomeReject, Code: 21614}, // landline: no SMS, calls fine
		{Prefix: "+8617002", Outcome: twiliosim.OutcomeReject, Code: 21216}, // calls to it blocked
	}
	sim, apiURL := startTwilioSim(t, twiliosim.Config{Rules: rules, MPS: 1, TimeScale: 0.001})
	tw := newTwilio(t, notify.TwilioConfig{APIURL: apiURL, Timeout: 300 * time.Millisecond})
	ctx := t.Context()
	call := func(ctx context.Context, to string) (notify.Placed, error) {
		hooks := notify.VoiceHooksFor("http://127.0.0.1:1", "A1")
		return tw.PlaceCall(ctx, notify.Call{AttemptID: "A1", To: to, URL: hooks.TwiML, StatusCallback: hooks.Status})
	}
	fail := func(ctx context.Context, to string) *notify.SendError {
		t.Helper()
		_, err := call(ctx, to)
		var se *notify.SendError
		require.ErrorAs(t, err, &se)
		return se
	}

	// The 1/s bucket starts full: an invalid number spends it, the next call is throttled.
	se := fail(ctx, "12345")
	assert.Equal(t, notify.SendError{Code: 21211, HTTPStatus: 400, Message: se.Message}, *se)
	se = fail(ctx, "+8613800138000")
	assert.Equal(t, 20429, se.Code)
	assert.True(t, se.Temporary)
	assert.Equal(t, time.Second, se.RetryAfter)

	_, apiURL2 := startTwilioSim(t, twiliosim.Config{Rules: rules, TimeScale: 0.001})
	tw = newTwilio(t, notify.TwilioConfig{APIURL: apiURL2, Timeout: 300 * time.Millisecond})
	placed, err := call(ctx, "+8617000000001")
	require.NoError(t, err, "a landline takes calls")
	assert.NotEmpty(t, placed.ProviderID)
	se = fail(ctx, "+8617002000001")
	assert.Equal(t, 21216, se.Code)
	assert.False(t, se.Temporary)

	sim.SetFault(twiliosim.Fault500, time.Minute)
	tw = newTwilio(t, notify.TwilioConfig{APIURL: apiURL, Timeout: 300 * time.Millisecond})
	se = fail(ctx, "+8613800138000")
	assert.True(t, se.Temporary)
	assert.Equal(t, 500, se.HTTPStatus)
	sim.SetFault(twiliosim.FaultNone, 0)

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	se = fail(canceled, "+8613800138000")
	assert.True(t, se.Temporary)
	assert.ErrorIs(t, se, context.Canceled)

	svcOnly := newTwilio(t, notify.TwilioConfig{APIURL: apiURL2, MessagingServiceSID: "MG00000000000000000000000000000001"})
	_, err = svcOnly.PlaceCall(ctx, notify.Call{To: "+8613800138000", URL: "http://127.0.0.1:1/x"})
	var se2 *notify.SendError
	require.ErrorAs(t, err, &se2)
	assert.False(t, se2.Temporary)
	assert.Contains(t, se2.Message, "From numbers")

	bad := newTwilio(t, notify.TwilioConfig{APIURL: apiURL2, AccountSID: simSID, AuthToken: "wrong1"})
	_, err = bad.PlaceCall(ctx, notify.Call{To: "+8613800138000", URL: "http://127.0.0.1:1/x"})
	require.ErrorAs(t, err, &se2)
	assert.Equal(t, 20003, se2.Code)
	assert.True(t, se2.Account, "the account refused, not the call")
	assert.True(t, se2.Temporary)

	_, err = tw.FetchCall(ctx, "CA00000000000000000000000000000000")
	require.ErrorAs(t, err, &se2)
	assert.Equal(t, 20404, se2.Code)
	assert.False(t, se2.Temporary)
}

func TestVoiceHooksFor(t *testing.T) {
	h := notify.VoiceHooksFor("https://muster.example.com/", "act 1/r&2")
	assert.Equal(t, notify.VoiceHooks{
		TwiML:  "https://muster.example.com/hooks/twilio/voice/act%201%2Fr&2",
		Gather: "https://muster.example.com/hooks/twilio/voice/act%201%2Fr&2/gather",
		Status: "https://muster.example.com/hooks/twilio/voice-status?attempt=act+1%2Fr%262",
	}, h)
}

func TestCallStatusAndMachine(t *testing.T) {
	for _, s := range []notify.CallStatus{notify.CallCompleted, notify.CallBusy, notify.CallNoAnswer, notify.CallFailed, notify.CallCanceled} {
		assert.True(t, s.Final(), s)
	}
	for _, s := range []notify.CallStatus{notify.CallQueued, notify.CallInitiated, notify.CallRinging, notify.CallInProgress, ""} {
		assert.False(t, s.Final(), s)
	}
	for ab, want := range map[string]bool{
		"machine_start": true, "machine_end_beep": true, "machine_end_silence": true, "machine_end_other": true, "fax": true,
		"human": false, "unknown": false, "": false,
	} {
		assert.Equal(t, want, notify.MachineAnswered(ab), ab)
	}
}

// EndCall through twilio-go: a call still queued is canceled undialled, one
// ringing is canceled dialled (Twilio gave it a start time, whatever its
// status reports have said so far), and one that had ended is looked up.
func TestTwilioEndsCallsAndSaysWhetherTheyWereDialled(t *testing.T) {
	sim, apiURL := startTwilioSim(t, twiliosim.Config{TimeScale: 0.01, CPS: 0.001, CallScripts: []twiliosim.CallScript{
		{Prefix: "+8613900000001", Ring: time.Hour}, // rings for the whole timeout
		{Prefix: "+8613900000002"},                  // queued behind it: one call per 1000 s, scaled to 10 s
	}})
	vh := newVoiceHooks(t)
	tw := newTwilio(t, notify.TwilioConfig{APIURL: apiURL, From: []string{"+15005550001"}})
	place := func(attempt, to string) string {
		t.Helper()
		hooks := notify.VoiceHooksFor(vh.ts.URL, attempt)
		placed, err := tw.PlaceCall(t.Context(), notify.Call{AttemptID: attempt, To: to, URL: hooks.TwiML, StatusCallback: hooks.Status, Ring: 600 * time.Second})
		require.NoError(t, err)
		return placed.ProviderID
	}
	ringing, queued := place("A1", "+8613900000001"), place("A2", "+8613900000002")
	require.Eventually(t, func() bool { c, _ := sim.Call(ringing); return c.Status == twiliosim.StatusRinging }, 10*time.Second, 5*time.Millisecond)

	end, err := tw.EndCall(t.Context(), queued, notify.CallQueued)
	require.NoError(t, err)
	assert.Equal(t, notify.CallEnd{Status: notify.CallCanceled, Dialled: false}, end, "never dialled")
	end, err = tw.EndCall(t.Context(), ringing, notify.CallQueued) // its reports may lag: the start time tells
	require.NoError(t, err)
	assert.Equal(t, notify.CallEnd{Status: notify.CallCanceled, Dialled: true}, end)
	end, err = tw.EndCall(t.Context(), ringing, notify.CallRinging)
	require.NoError(t, err)
	assert.Equal(t, notify.CallEnd{Status: notify.CallCanceled, Dialled: true}, end, "ended already: looked up")
}
