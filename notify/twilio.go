package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"muster"
)

// TwilioConfig configures a Twilio provider.
type TwilioConfig struct {
	AccountSID string // AC + 32 hex digits
	AuthToken  string // letters and digits
	// From is the sender pool, used round-robin when an SMS names no sender.
	// MessagingServiceSID (MG…) lets Twilio choose instead; one of the two is needed.
	From                []string
	MessagingServiceSID string
	// APIURL replaces scheme and host of https://api.twilio.com, e.g. a
	// simulator's http://127.0.0.1:9099. Empty: real Twilio.
	APIURL string
	// Timeout bounds one send, connection to decoded answer; default 10s.
	Timeout time.Duration
	// MaxIdleConnsPerHost of the default transport; default 256.
	MaxIdleConnsPerHost int
	// Transport replaces the default transport (tests).
	Transport http.RoundTripper
}

// Twilio sends SMS through github.com/twilio/twilio-go. It is safe for
// concurrent use.
type Twilio struct {
	cfg   TwilioConfig
	creds *client.Credentials
	base  *url.URL // nil for real Twilio
	next  http.RoundTripper
	rr    atomic.Uint64
}

var (
	accountSIDPattern = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	serviceSIDPattern = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
	tokenPattern      = regexp.MustCompile(`^[A-Za-z0-9]+$`)
)

// NewTwilio checks cfg and returns a provider; it makes no request.
func NewTwilio(cfg TwilioConfig) (*Twilio, error) {
	switch {
	case !accountSIDPattern.MatchString(cfg.AccountSID):
		return nil, muster.Errorf(muster.EInvalid, "twilio account SID %q: want AC followed by 32 hex digits", cfg.AccountSID)
	case !tokenPattern.MatchString(cfg.AuthToken):
		return nil, muster.Errorf(muster.EInvalid, "twilio auth token: want letters and digits only (twilio-go refuses others)")
	case len(cfg.From) == 0 && cfg.MessagingServiceSID == "":
		return nil, muster.Errorf(muster.EInvalid, "twilio: give sender numbers (From) or a messaging service SID")
	case cfg.MessagingServiceSID != "" && !serviceSIDPattern.MatchString(cfg.MessagingServiceSID):
		return nil, muster.Errorf(muster.EInvalid, "twilio messaging service SID %q: want MG followed by 32 hex digits", cfg.MessagingServiceSID)
	}
	for i, f := range cfg.From {
		if strings.TrimSpace(f) == "" {
			return nil, muster.Errorf(muster.EInvalid, "twilio sender %d is empty", i+1)
		}
	}
	t := &Twilio{cfg: cfg, creds: client.NewCredentials(cfg.AccountSID, cfg.AuthToken), next: cfg.Transport}
	if cfg.APIURL != "" {
		u, err := url.Parse(cfg.APIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, muster.Errorf(muster.EInvalid, "twilio API URL %q: want http(s)://host[:port]", cfg.APIURL)
		}
		t.base = u
	}
	if t.cfg.Timeout <= 0 {
		t.cfg.Timeout = 10 * time.Second
	}
	if t.next == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = cfg.MaxIdleConnsPerHost
		if tr.MaxIdleConnsPerHost <= 0 {
			tr.MaxIdleConnsPerHost = 256
		}
		tr.MaxIdleConns = max(tr.MaxIdleConns, tr.MaxIdleConnsPerHost)
		t.next = tr
	}
	return t, nil
}

// Close releases idle connections.
func (t *Twilio) Close() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// SendSMS creates the message at Twilio. It returns when Twilio has accepted
// it (Sent) or refused it, or when ctx ends or the configured timeout passes
// (a temporary *SendError). All errors are *SendError.
func (t *Twilio) SendSMS(ctx context.Context, m SMS) (Sent, error) {
	if err := ctx.Err(); err != nil {
		return Sent{}, &SendError{Temporary: true, Message: "not sent: " + err.Error(), Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()

	p := &api.CreateMessageParams{}
	p.SetTo(m.To).SetBody(m.Body)
	switch {
	case m.From != "":
		p.SetFrom(m.From)
	case t.cfg.MessagingServiceSID != "":
		p.SetMessagingServiceSid(t.cfg.MessagingServiceSID)
	default:
		p.SetFrom(t.cfg.From[(t.rr.Add(1)-1)%uint64(len(t.cfg.From))])
	}
	if m.StatusCallback != "" {
		p.SetStatusCallback(m.StatusCallback)
	}

	// twilio-go sends with context.Background and keeps no response on
	// errors; a per-call client whose transport carries ctx and records the
	// answer gives both back. Building it costs a few small allocations.
	svc, call := t.service(ctx)
	msg, err := svc.CreateMessage(p)
	if err != nil {
		return Sent{}, classifyTwilio(ctx, err, call)
	}
	if msg.Sid == nil {
		return Sent{}, &SendError{HTTPStatus: call.status, Temporary: true, Message: "twilio answered without a message SID"}
	}
	sent := Sent{ProviderID: *msg.Sid}
	if msg.Status != nil {
		sent.Status = *msg.Status
	}
	if msg.NumSegments != nil {
		sent.Segments, _ = strconv.Atoi(*msg.NumSegments)
	}
	return sent, nil
}

// service returns a twilio-go API service for one call: its transport
// carries ctx and records the HTTP answer.
func (t *Twilio) service(ctx context.Context) (*api.ApiService, *twilioCall) {
	call := &twilioCall{ctx: ctx, base: t.base, next: t.next}
	c := &client.Client{
		Credentials: t.creds,
		HTTPClient: &http.Client{
			Transport:     call,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.SetAccountSid(t.cfg.AccountSID)
	return api.NewApiServiceWithClient(c), call
}

// FetchSMS looks up a message's current status at Twilio. Errors are
// *SendError, classified as for sends.
func (t *Twilio) FetchSMS(ctx context.Context, providerID string) (Report, error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	svc, call := t.service(ctx)
	msg, err := svc.FetchMessage(providerID, &api.FetchMessageParams{})
	if err != nil {
		return Report{}, classifyTwilio(ctx, err, call)
	}
	var r Report
	if msg.Status != nil {
		r.Status = *msg.Status
	}
	if msg.ErrorCode != nil {
		r.Code = *msg.ErrorCode
	}
	return r, nil
}

// twilioCall is the transport of one send: it points the request at the
// configured host, attaches the caller's context, and reads the whole answer
// so the connection is reused even when twilio-go leaves an error body unread.
type twilioCall struct {
	ctx        context.Context
	base       *url.URL
	next       http.RoundTripper
	status     int
	retryAfter string
}

func (c *twilioCall) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.WithContext(c.ctx)
	if c.base != nil {
		u := *r.URL
		u.Scheme, u.Host = c.base.Scheme, c.base.Host
		r2.URL, r2.Host = &u, c.base.Host
	}
	resp, err := c.next.RoundTrip(r2)
	if err != nil {
		return nil, err
	}
	c.status, c.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// classifyTwilio turns a twilio-go error into a *SendError.
func classifyTwilio(ctx context.Context, err error, call *twilioCall) *SendError {
	se := &SendError{HTTPStatus: call.status, Message: err.Error()}
	if secs, perr := strconv.Atoi(call.retryAfter); perr == nil && secs > 0 {
		se.RetryAfter = time.Duration(secs) * time.Second
	}
	var te *client.TwilioRestError
	var ne net.Error
	switch {
	case errors.As(err, &te):
		se.Code, se.Message = te.Code, te.Message
		if se.HTTPStatus == 0 {
			se.HTTPStatus = te.Status // refused by twilio-go before any HTTP (bad credentials)
		}
		se.Temporary = temporaryHTTP(se.HTTPStatus) || TemporaryCode(te.Code)
	case call.status >= 400:
		// An error answer twilio-go could not decode, e.g. an HTML 503 from a proxy.
		se.Temporary = temporaryHTTP(call.status)
	case ctx.Err() != nil:
		se.Temporary, se.Err = true, ctx.Err()
		se.Message = "no answer from twilio: " + ctx.Err().Error()
	case errors.As(err, &ne):
		se.Temporary, se.Err = true, err // refused, reset, DNS, timeout
	case call.status >= 200 && call.status < 300:
		// Accepted but unreadable: it was probably created; a retry may duplicate.
		se.Temporary, se.Err = true, err
		se.Message = fmt.Sprintf("undecodable twilio answer (HTTP %d): %v", call.status, err)
	default:
		se.Temporary, se.Err = true, err // connection closed without an answer and the like
	}
	return se
}

func temporaryHTTP(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// ValidateSignature reports whether signature is Twilio's X-Twilio-Signature
// for a form POST of params to fullURL (the public URL Twilio was given,
// query included), signed with authToken. It accepts signatures made with or
// without the URL's port, as Twilio's own validator does.
func ValidateSignature(authToken, fullURL string, params url.Values, signature string) bool {
	m := make(map[string]string, len(params))
	for k, v := range params {
		if len(v) > 0 {
			m[k] = v[0]
		}
	}
	v := client.NewRequestValidator(authToken)
	return v.Validate(fullURL, m, signature)
}
