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
	// From is the sender pool, used round-robin when an SMS or a call names
	// no sender. MessagingServiceSID (MG…) lets Twilio choose an SMS sender
	// instead; one of the two is needed, and calls need From.
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

// Twilio sends SMS and places voice calls through
// github.com/twilio/twilio-go. It is safe for concurrent use.
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

// Call is one voice call-up to one recipient: a single call attempt.
type Call struct {
	AttemptID string // muster's ID of this attempt; it is in URL and StatusCallback too
	To        string // E.164
	From      string // caller ID; empty: the configured From pool, round-robin
	// URL is where Twilio fetches the call's TwiML once it is answered
	// (POST, signed): VoiceHooksFor(...).TwiML.
	URL string
	// StatusCallback receives the call's progress, signed: initiated,
	// ringing, in-progress (answered) and the final status. Empty for none.
	StatusCallback string
	// Ring is how long the phone may ring, in whole seconds up to 10
	// minutes; 0: Twilio's 60 s.
	Ring time.Duration
}

// Placed is Twilio's acceptance of a call.
type Placed struct {
	ProviderID string     // the call SID (CA…)
	Status     CallStatus // the initial status, normally queued
}

// CallStatus is a call's status as Twilio's call resource and call status
// callbacks name it.
type CallStatus string

// Call statuses. CallInitiated only comes in status callbacks; the
// resource stays queued until the phone rings.
const (
	CallQueued     CallStatus = "queued"
	CallInitiated  CallStatus = "initiated"
	CallRinging    CallStatus = "ringing"
	CallInProgress CallStatus = "in-progress" // answered, by a person or a machine (see MachineAnswered)
	CallCompleted  CallStatus = "completed"
	CallBusy       CallStatus = "busy"
	CallNoAnswer   CallStatus = "no-answer"
	CallFailed     CallStatus = "failed"
	CallCanceled   CallStatus = "canceled"
)

// Final reports whether the status ends the call: completed, busy,
// no-answer, failed or canceled.
func (s CallStatus) Final() bool {
	switch s {
	case CallCompleted, CallBusy, CallNoAnswer, CallFailed, CallCanceled:
		return true
	}
	return false
}

// MachineAnswered reports whether a call's AnsweredBy (set by answering
// machine detection) says a machine or a fax took it: machine_start,
// machine_end_beep, machine_end_silence, machine_end_other or fax. Such a
// call never counts as an acknowledgement, whatever reached its Gather.
// "human", "unknown" and "" (no detection) are not machines.
func MachineAnswered(answeredBy string) bool {
	return strings.HasPrefix(answeredBy, "machine_") || answeredBy == "fax"
}

// Voice webhook paths, under the public URL providers post to.
const (
	HookVoice       = "/hooks/twilio/voice/"       // + attempt ID: the call's TwiML; + "/gather": the pressed key
	HookVoiceStatus = "/hooks/twilio/voice-status" // ?attempt=ID: call progress
)

// VoiceHooks are the webhook URLs of one voice call attempt.
type VoiceHooks struct {
	TwiML  string // PUBLIC/hooks/twilio/voice/{attempt}: Call.URL, answered with the call-up TwiML
	Gather string // PUBLIC/hooks/twilio/voice/{attempt}/gather: the call-up's Gather action
	Status string // PUBLIC/hooks/twilio/voice-status?attempt={attempt}: Call.StatusCallback
}

// VoiceHooksFor returns the webhook URLs of attempt under publicURL, the
// attempt ID escaped for a path segment and a query value.
func VoiceHooksFor(publicURL, attemptID string) VoiceHooks {
	base := strings.TrimRight(publicURL, "/")
	twimlURL := base + HookVoice + url.PathEscape(attemptID)
	return VoiceHooks{
		TwiML:  twimlURL,
		Gather: twimlURL + "/gather",
		Status: base + HookVoiceStatus + "?attempt=" + url.QueryEscape(attemptID),
	}
}

// callEvents are the progress events asked for every call.
var callEvents = []string{"initiated", "ringing", "answered", "completed"}

// PlaceCall creates the call at Twilio, its TwiML fetched from c.URL, with
// answering-machine detection (MachineDetection=DetectMessageEnd, so the
// TwiML request and callbacks carry AnsweredBy, and a machine's TwiML is
// asked for after its greeting's beep: the message is recorded whole;
// a person is told apart as soon as with Enable) and every progress event sent to
// c.StatusCallback. It returns when Twilio has queued the call (Placed) or
// refused it, or when ctx ends or the configured timeout passes. All
// errors are *SendError, classified as for SendSMS; a provider configured
// with a messaging service and no From numbers gets a permanent one.
func (t *Twilio) PlaceCall(ctx context.Context, c Call) (Placed, error) {
	if err := ctx.Err(); err != nil {
		return Placed{}, &SendError{Temporary: true, Message: "call not placed: " + err.Error(), Err: err}
	}
	from := c.From
	if from == "" {
		if len(t.cfg.From) == 0 {
			return Placed{}, &SendError{Message: "no caller number: voice calls need From numbers (a messaging service cannot call)"}
		}
		from = t.cfg.From[(t.rr.Add(1)-1)%uint64(len(t.cfg.From))]
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()

	p := &api.CreateCallParams{}
	p.SetTo(c.To).SetFrom(from).SetUrl(c.URL).SetMethod(http.MethodPost).SetMachineDetection("DetectMessageEnd")
	if c.StatusCallback != "" {
		p.SetStatusCallback(c.StatusCallback).SetStatusCallbackMethod(http.MethodPost).SetStatusCallbackEvent(callEvents)
	}
	if c.Ring > 0 {
		p.SetTimeout(min(int((c.Ring+time.Second-1)/time.Second), 600))
	}
	svc, call := t.service(ctx)
	res, err := svc.CreateCall(p)
	if err != nil {
		return Placed{}, classifyTwilio(ctx, err, call)
	}
	if res.Sid == nil {
		return Placed{}, &SendError{HTTPStatus: call.status, Temporary: true, Message: "twilio answered without a call SID"}
	}
	placed := Placed{ProviderID: *res.Sid}
	if res.Status != nil {
		placed.Status = CallStatus(*res.Status)
	}
	return placed, nil
}

// CallReport is a call's state as Twilio knows it.
type CallReport struct {
	Status     CallStatus
	AnsweredBy string        // with answering-machine detection: human, machine_start...
	Duration   time.Duration // time connected, for completed calls
}

// FetchCall looks up a call's current status at Twilio, for calls whose
// final callback never arrived. Errors are *SendError, classified as for
// sends.
func (t *Twilio) FetchCall(ctx context.Context, providerID string) (CallReport, error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	svc, call := t.service(ctx)
	res, err := svc.FetchCall(providerID, &api.FetchCallParams{})
	if err != nil {
		return CallReport{}, classifyTwilio(ctx, err, call)
	}
	var r CallReport
	if res.Status != nil {
		r.Status = CallStatus(*res.Status)
	}
	if res.AnsweredBy != nil {
		r.AnsweredBy = *res.AnsweredBy
	}
	if res.Duration != nil {
		if secs, err := strconv.Atoi(*res.Duration); err == nil {
			r.Duration = time.Duration(secs) * time.Second
		}
	}
	return r, nil
}

// EndCall ends a call at Twilio unless it has ended: a call queued or
// ringing is canceled (Status=canceled), one in progress is hung up
// (Status=completed). last is the status the call was last reported in,
// "" if none: in progress, the call is hung up at once; otherwise it is
// canceled first, and hung up when Twilio answers that it was picked up
// meanwhile (a cancel leaves an answered call as it is). It returns the
// call's status after the update, final once the call is over, and whether
// Twilio had dialled it (the call has a start time); a call that had ended
// already (Twilio's 21220) is looked up, its final status returned and
// taken as dialled. Errors are *SendError, classified as for sends.
func (t *Twilio) EndCall(ctx context.Context, providerID string, last CallStatus) (CallEnd, error) {
	return t.endCall(ctx, providerID, last, true)
}

// CancelCall cancels a call at Twilio that is still queued or ringing
// (Status=canceled) and leaves one that was picked up talking: it is
// EndCall without the hang-up. It returns the call's status after the
// update (in-progress for one picked up) and whether Twilio had dialled it;
// a call that had ended already is looked up as by EndCall.
func (t *Twilio) CancelCall(ctx context.Context, providerID string) (CallEnd, error) {
	return t.endCall(ctx, providerID, "", false)
}

// endCall is EndCall, hanging up a call in progress only when hangUp is set.
func (t *Twilio) endCall(ctx context.Context, providerID string, last CallStatus, hangUp bool) (CallEnd, error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	update := func(to CallStatus) (CallEnd, error) {
		svc, call := t.service(ctx)
		res, err := svc.UpdateCall(providerID, (&api.UpdateCallParams{}).SetStatus(string(to)))
		if err != nil {
			return CallEnd{}, classifyTwilio(ctx, err, call)
		}
		if res.Status == nil {
			return CallEnd{}, &SendError{HTTPStatus: call.status, Temporary: true, Message: "twilio answered a call update without a status"}
		}
		return CallEnd{Status: CallStatus(*res.Status), Dialled: res.StartTime != nil && *res.StartTime != ""}, nil
	}
	st, err := CallEnd{}, error(nil)
	if last != CallInProgress {
		st, err = update(CallCanceled)
	}
	if hangUp && err == nil && (last == CallInProgress || st.Status == CallInProgress) {
		st, err = update(CallCompleted)
	}
	var se *SendError
	if errors.As(err, &se) && se.Code == callStateCode {
		r, ferr := t.FetchCall(ctx, providerID)
		if ferr != nil {
			return CallEnd{}, ferr
		}
		return CallEnd{Status: r.Status, Dialled: true}, nil // it had ended: taken as dialled, which keeps a correction call
	}
	return st, err
}

// callStateCode is Twilio's "invalid call state": the call cannot be
// updated, having ended.
const callStateCode = 21220

// twilioCall is the transport of one request: it points the request at the
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
	// twilio-go names the URL it built (api.twilio.com); the request went
	// to the configured API URL (--twilio-api-url), and the error says so.
	var ue *url.Error
	if call.base != nil && errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && u.Host != call.base.Host {
			sent := ue.URL
			u.Scheme, u.Host = call.base.Scheme, call.base.Host
			se.Message = strings.Replace(se.Message, sent, u.String(), 1)
		}
	}
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
		se.Account = AccountCode(se.HTTPStatus, te.Code)
		se.Temporary = temporaryHTTP(se.HTTPStatus) || TemporaryCode(te.Code) || se.Account
	case call.status >= 400:
		// An error answer twilio-go could not decode, e.g. an HTML 503 from a proxy.
		se.Account = AccountCode(call.status, 0)
		se.Temporary = temporaryHTTP(call.status) || se.Account
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
// without the URL's port, as Twilio's own validator does. A form with a
// field given more than once is refused: the signature covers one value
// per field, and a second value, unsigned, could change what the request
// means to whoever reads all of them (Twilio never repeats a field).
func ValidateSignature(authToken, fullURL string, params url.Values, signature string) bool {
	m := make(map[string]string, len(params))
	for k, v := range params {
		if len(v) != 1 {
			return false
		}
		m[k] = v[0]
	}
	v := client.NewRequestValidator(authToken)
	return v.Validate(fullURL, m, signature)
}
