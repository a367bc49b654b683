package twiliosim

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

const (
	testSID   = "AC00000000000000000000000000000001"
	testToken = "simtoken123"
	otherSID  = "AC00000000000000000000000000000002"
	otherTok  = "othertoken456"
	fromNum   = "+15005550006"
)

// hostRewriter sends twilio-go's requests for api.twilio.com to the simulator.
type hostRewriter struct {
	base *url.URL
	next http.RoundTripper
}

func (h hostRewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = h.base.Scheme, h.base.Host, h.base.Host
	return h.next.RoundTrip(r)
}

type rig struct {
	sim *Server
	ts  *httptest.Server
}

// startSim runs a simulator on an httptest server; both stop with the test.
func startSim(t testing.TB, cfg Config) *rig {
	t.Helper()
	if cfg.Accounts == nil {
		cfg.Accounts = []Account{{SID: testSID, AuthToken: testToken}, {SID: otherSID, AuthToken: otherTok}}
	}
	if cfg.SentDelay == 0 {
		cfg.SentDelay = 5 * time.Millisecond
	}
	if cfg.DeliveredDelay == 0 {
		cfg.DeliveredDelay = 10 * time.Millisecond
	}
	if cfg.CallbackRetryDelay == 0 {
		cfg.CallbackRetryDelay = 10 * time.Millisecond
	}
	sim := New(cfg)
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(func() {
		sim.Close() // first: releases requests held by FaultSlow
		ts.Close()
	})
	return &rig{sim: sim, ts: ts}
}

// twilioClient is the real twilio-go client pointed at the simulator.
func (r *rig) twilioClient(sid, token string, timeout time.Duration) *twilio.RestClient {
	base, _ := url.Parse(r.ts.URL)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	c := &client.Client{
		Credentials: client.NewCredentials(sid, token),
		HTTPClient: &http.Client{
			Timeout:       timeout,
			Transport:     hostRewriter{base: base, next: tr},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.SetAccountSid(sid)
	return twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})
}

func (r *rig) client(t testing.TB) *twilio.RestClient {
	return r.twilioClient(testSID, testToken, 5*time.Second)
}

func sms(to, body, callback string) *api.CreateMessageParams {
	p := &api.CreateMessageParams{}
	p.SetTo(to).SetFrom(fromNum).SetBody(body)
	if callback != "" {
		p.SetStatusCallback(callback)
	}
	return p
}

// hook is one webhook received by a receiver.
type hook struct {
	URL    string
	Params map[string]string
	Valid  bool // X-Twilio-Signature checked with twilio-go's RequestValidator
}

// receiver records the webhooks posted to it and checks their signatures.
type receiver struct {
	ts    *httptest.Server
	token string
	mu    sync.Mutex
	hooks []hook
	fail  int // answer this many requests with 500 first
}

func newReceiver(t testing.TB, token string) *receiver {
	rc := &receiver{token: token}
	rc.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.fail > 0 {
			rc.fail--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		full := "http://" + r.Host + r.URL.RequestURI()
		params := map[string]string{}
		for k, v := range r.PostForm {
			params[k] = v[0]
		}
		v := client.NewRequestValidator(rc.token)
		rc.hooks = append(rc.hooks, hook{URL: full, Params: params, Valid: v.Validate(full, params, r.Header.Get("X-Twilio-Signature"))})
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.ts.Close)
	return rc
}

func (rc *receiver) all() []hook {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hook(nil), rc.hooks...)
}

// statuses lists the MessageStatus of the callbacks for sid, in arrival order.
func (rc *receiver) statuses(sid string) []string {
	var out []string
	for _, h := range rc.all() {
		if h.Params["MessageSid"] == sid {
			out = append(out, h.Params["MessageStatus"])
		}
	}
	return out
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, 5*time.Millisecond, what)
}
