package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	twilio "github.com/twilio/twilio-go"
	twclient "github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// hostRewriter sends twilio-go's requests to the simulator.
type hostRewriter struct{ base *url.URL }

func (h hostRewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = h.base.Scheme, h.base.Host, h.base.Host
	return http.DefaultTransport.RoundTrip(r)
}

func TestTwilioSimProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real process")
	}
	const sid, token = "AC00000000000000000000000000000001", "simtoken123"
	var (
		mu        sync.Mutex
		callbacks []url.Values
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		validator := twclient.NewRequestValidator(token)
		valid := validator.Validate("http://"+r.Host+r.URL.String(), flatten(r.PostForm), r.Header.Get("X-Twilio-Signature"))
		mu.Lock()
		if valid {
			callbacks = append(callbacks, r.PostForm)
		}
		mu.Unlock()
	}))
	defer receiver.Close()

	addr := freePort(t)
	sim := startProc(t, "twilio-sim", nil, "twilio-sim", "--listen", addr, "--account-sid", sid, "--auth-token", token,
		"--rule", "+8617000=reject:21614", "--sent-delay", "20ms", "--delivered-delay", "20ms", "--log-level", "warn")
	sim.waitOutput("twilio simulator listening", 10*time.Second)

	base, _ := url.Parse("http://" + addr)
	c := &twclient.Client{Credentials: twclient.NewCredentials(sid, token), HTTPClient: &http.Client{Timeout: 5 * time.Second, Transport: hostRewriter{base}}}
	c.SetAccountSid(sid)
	tw := twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})

	p := &openapi.CreateMessageParams{}
	p.SetTo("+8613800138000").SetFrom("+15005550006").SetBody("【演练】示例市防汛应急演练，请回复1").SetStatusCallback(receiver.URL + "/hooks/twilio/sms-status?attempt=A1")
	m, err := tw.Api.CreateMessage(p)
	require.NoError(t, err)
	require.NotNil(t, m.Sid)
	assert.Equal(t, "queued", *m.Status)

	p.SetTo("+8617000000001")
	_, err = tw.Api.CreateMessage(p)
	var te *twclient.TwilioRestError
	require.True(t, errors.As(err, &te), "%v", err)
	assert.Equal(t, 21614, te.Code)

	// Signed callbacks follow: sent, then delivered.
	waitUntil(t, 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(callbacks) >= 2
	})
	mu.Lock()
	assert.Equal(t, "sent", callbacks[0].Get("MessageStatus"))
	assert.Equal(t, "delivered", callbacks[len(callbacks)-1].Get("MessageStatus"))
	assert.Equal(t, *m.Sid, callbacks[0].Get("MessageSid"))
	mu.Unlock()

	var stats struct {
		Created  int64            `json:"created"`
		Rejected map[string]int64 `json:"rejected"`
	}
	require.Equal(t, http.StatusOK, newAPI(t, "").getJSON("http://"+addr+"/_sim/stats", &stats))
	assert.Equal(t, int64(1), stats.Created, "one message accepted")
	assert.Equal(t, int64(1), stats.Rejected["21614"], "one refused by the rule")
	require.NoError(t, sim.terminate(10*time.Second))
	assert.Zero(t, sim.cmd.ProcessState.ExitCode())
}

func flatten(v url.Values) map[string]string {
	out := map[string]string{}
	for k := range v {
		out[k] = v.Get(k)
	}
	return out
}

func TestTwilioSimFlagErrors(t *testing.T) {
	oneLineError(t, runCLI(t, nil, "twilio-sim"), 2, "--account-sid")
	oneLineError(t, runCLI(t, nil, "twilio-sim", "--account-sid", "AC1", "--auth-token", "t", "--rule", "+86=explode"), 2, "outcome")
	oneLineError(t, runCLI(t, nil, "twilio-sim", "--account-sid", "AC1", "--auth-token", "t", "--reply", "2:30s:1"), 2, "share")
}
