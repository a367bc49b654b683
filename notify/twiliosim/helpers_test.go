package twiliosim

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"muster/notify/twiml"
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

// voiceHook stands in for muster's voice webhooks. POST /voice/{attempt}
// answers with the call-up prompt of package twiml (or, for a machine,
// with Voicemail when voicemail is set), POST /voice/{attempt}/gather with
// twiml.Reply for the Digits, and /status takes call status callbacks. It
// records every request, its signature checked with twilio-go's
// RequestValidator over the URL it was sent to.
type voiceHook struct {
	ts        *httptest.Server
	token     string
	voicemail bool                      // answer AnsweredBy machine_* with twiml.Voicemail
	docs      map[string]twiml.Response // attempt → document served instead of the prompt
	fail      map[string]int            // attempt → HTTP status served instead of the prompt

	mu    sync.Mutex
	hooks []voiceRequest
}

// voiceRequest is one request a voiceHook received.
type voiceRequest struct {
	Method  string
	Path    string // /voice/A1, /voice/A1/gather, /status
	Attempt string
	Params  map[string]string // query and form
	Valid   bool
}

const callUpText = "防汛Ⅳ级响应，请到岗。确认请按1，不能请按2，重听请按9。"

func newVoiceHook(t testing.TB, token string) *voiceHook {
	vh := &voiceHook{token: token, docs: map[string]twiml.Response{}, fail: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/voice/{attempt}", func(w http.ResponseWriter, r *http.Request) {
		attempt := r.PathValue("attempt")
		p := vh.record(t, r, attempt)
		vh.mu.Lock()
		doc, custom := vh.docs[attempt]
		status := vh.fail[attempt]
		vh.mu.Unlock()
		switch {
		case status != 0:
			w.WriteHeader(status)
			return
		case custom:
		case vh.voicemail && strings.HasPrefix(p["AnsweredBy"], "machine_"):
			doc = twiml.Voicemail(vh.callUp(attempt))
		default:
			doc = twiml.Prompt(vh.callUp(attempt))
		}
		vh.write(w, doc)
	})
	mux.HandleFunc("/voice/{attempt}/gather", func(w http.ResponseWriter, r *http.Request) {
		attempt := r.PathValue("attempt")
		p := vh.record(t, r, attempt)
		vh.write(w, twiml.Reply(vh.callUp(attempt), p["Digits"]))
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		vh.record(t, r, r.URL.Query().Get("attempt"))
		w.WriteHeader(http.StatusNoContent)
	})
	vh.ts = httptest.NewServer(mux)
	t.Cleanup(vh.ts.Close)
	return vh
}

func (vh *voiceHook) callUp(attempt string) twiml.CallUp {
	return twiml.CallUp{Text: callUpText, Language: twiml.ZhCN, Action: vh.ts.URL + "/voice/" + attempt + "/gather"}
}

func (vh *voiceHook) record(t testing.TB, r *http.Request, attempt string) map[string]string {
	require.NoError(t, r.ParseForm())
	full := "http://" + r.Host + r.URL.RequestURI()
	signed := map[string]string{} // form POST: the body's parameters; GET: none, the URL carries them
	for k, v := range r.PostForm {
		signed[k] = v[0]
	}
	params := map[string]string{}
	for k, v := range r.Form {
		params[k] = v[0]
	}
	v := client.NewRequestValidator(vh.token)
	valid := v.Validate(full, signed, r.Header.Get("X-Twilio-Signature"))
	vh.mu.Lock()
	vh.hooks = append(vh.hooks, voiceRequest{Method: r.Method, Path: r.URL.Path, Attempt: attempt, Params: params, Valid: valid})
	vh.mu.Unlock()
	return params
}

func (vh *voiceHook) write(w http.ResponseWriter, doc twiml.Response) {
	w.Header().Set("Content-Type", twiml.ContentType)
	_, _ = w.Write(doc.Render())
}

// requests lists the requests for attempt to paths ending in suffix
// ("" for the TwiML Url, "/gather", or "status"), in arrival order.
func (vh *voiceHook) requests(attempt, kind string) []voiceRequest {
	vh.mu.Lock()
	defer vh.mu.Unlock()
	var out []voiceRequest
	for _, h := range vh.hooks {
		if h.Attempt != attempt {
			continue
		}
		switch {
		case kind == "status" && h.Path == "/status",
			kind == "gather" && strings.HasSuffix(h.Path, "/gather"),
			kind == "twiml" && h.Path == "/voice/"+attempt:
			out = append(out, h)
		}
	}
	return out
}

func (vh *voiceHook) all() []voiceRequest {
	vh.mu.Lock()
	defer vh.mu.Unlock()
	return append([]voiceRequest(nil), vh.hooks...)
}

// statuses lists the CallStatus of attempt's status callbacks in arrival order.
func (vh *voiceHook) statuses(attempt string) []string {
	var out []string
	for _, h := range vh.requests(attempt, "status") {
		out = append(out, h.Params["CallStatus"])
	}
	return out
}

// digits lists the Digits posted to attempt's Gather action.
func (vh *voiceHook) digits(attempt string) []string {
	var out []string
	for _, h := range vh.requests(attempt, "gather") {
		out = append(out, h.Params["Digits"])
	}
	return out
}

// call is a call-up call to to for attempt, with every status event and
// answering-machine detection, as muster places it.
func (vh *voiceHook) call(to, attempt string) *api.CreateCallParams {
	p := &api.CreateCallParams{}
	p.SetTo(to).SetFrom(fromNum).SetUrl(vh.ts.URL + "/voice/" + attempt).
		SetStatusCallback(vh.ts.URL + "/status?attempt=" + attempt).
		SetStatusCallbackEvent([]string{"initiated", "ringing", "answered", "completed"}).
		SetMachineDetection("Enable")
	return p
}

// settled waits until the call is final and every webhook about it is done.
func (r *rig) settled(t testing.TB, sid string) Call {
	t.Helper()
	eventually(t, "call "+sid+" ends and the scheduler drains", func() bool {
		c, ok := r.sim.Call(sid)
		return ok && callFinal(c.Status) && r.sim.Stats().Pending == 0
	})
	c, _ := r.sim.Call(sid)
	return c
}

// parseCase is one spec given to a Parse function: the value it should
// give, the error it should give, or, for a "re:" pattern, a number the
// result matches (hit) and one it does not (miss).
type parseCase[T any] struct {
	spec      string
	want      T
	wantErr   string
	hit, miss string
}

// testParse runs parse on each case, as a subtest named by the spec.
func testParse[T any](t *testing.T, parse func(string) (T, error), matches func(*T, string) bool, tests []parseCase[T]) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := parse(tc.spec)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			if tc.hit != "" {
				assert.True(t, matches(&got, tc.hit))
				assert.False(t, matches(&got, tc.miss))
				return
			}
			assert.Equal(t, tc.want, got)
		})
	}
}
