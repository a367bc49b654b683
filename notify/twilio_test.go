package notify_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/notify"
	"muster/notify/twiliosim"
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
	assert.False(t, be.Temporary)
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
