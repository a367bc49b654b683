// Package twiliosim is a Twilio-compatible SMS and voice simulator. It
// serves the Messages and Calls parts of Twilio's 2010-04-01 REST API well
// enough that the real github.com/twilio/twilio-go client works against it
// unchanged. It moves each message through queued → sent → delivered (or a
// failure chosen by number pattern) on its own scheduler, posts signed
// status callbacks and, by profile or script, signed inbound replies. It
// dials each call at the account's calls per second, rings it, and, by
// profile or script, has it busy, unanswered, failed, or answered by a
// person or a machine; an answered call fetches its TwiML with signed
// requests, listens to it and presses keys. Trainers use it for drills that
// cost nothing; tests use it as muster's provider double.
package twiliosim

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Message statuses used by the simulator.
const (
	StatusAccepted    = "accepted"
	StatusQueued      = "queued"
	StatusSent        = "sent"
	StatusDelivered   = "delivered"
	StatusUndelivered = "undelivered"
	StatusFailed      = "failed"
	StatusCanceled    = "canceled"
	StatusReceived    = "received"
)

const (
	apiVersion    = "2010-04-01"
	defaultNumber = "+15005550006"
)

// Fault is a misbehaviour of the REST API switched on at run time with SetFault.
type Fault int

// Faults for retry tests.
const (
	FaultNone    Fault = iota
	Fault500           // every API request answers 500 with a JSON error 20500
	Fault503HTML       // every API request answers 503 with an HTML body (twilio-go cannot decode it)
	FaultSlow          // every API request is held Config.SlowResponse, then served (a create still happens)
	FaultDrop          // every API request has its connection closed without an answer
)

// Message is the simulator's record of one message, outbound or inbound.
type Message struct {
	SID                 string    `json:"sid"`
	AccountSID          string    `json:"account_sid"`
	MessagingServiceSID string    `json:"messaging_service_sid,omitempty"`
	Direction           string    `json:"direction"`
	From                string    `json:"from"`
	To                  string    `json:"to"`
	Body                string    `json:"body"`
	Status              string    `json:"status"`
	ErrorCode           int       `json:"error_code,omitempty"`
	Segments            int       `json:"segments"`
	StatusCallback      string    `json:"status_callback,omitempty"`
	Created             time.Time `json:"created"`
	Updated             time.Time `json:"updated"`
	Sent                time.Time `json:"sent,omitzero"`
	Callbacks           int       `json:"callbacks"` // status callbacks posted with a 2xx answer
}

type message struct {
	Message
	rule *Rule
}

// record is a kept message or call, as the REST API and the listings see it.
type record interface {
	owner() string     // the SID of the account it belongs to
	recipient() string // its To
	view() any         // its REST resource; caller holds Server.mu
}

func (m *message) owner() string     { return m.AccountSID }
func (m *message) recipient() string { return m.To }
func (m *message) view() any         { return resource(&m.Message) }

// sidRing holds the SIDs of kept records in creation order, up to a bound.
type sidRing struct {
	sids []string
	head int // the oldest, once full
}

// push adds sid. Once the ring holds limit SIDs it returns the oldest,
// which sid replaces and its record should be forgotten; before, "".
func (r *sidRing) push(sid string, limit int) string {
	if len(r.sids) < limit {
		r.sids = append(r.sids, sid)
		return ""
	}
	old := r.sids[r.head]
	r.sids[r.head] = sid
	r.head = (r.head + 1) % len(r.sids)
	return old
}

// listRecords returns snap of each record in recs, which must be one of
// s's maps, to the number to (every one when to is empty), oldest first.
func listRecords[R record, V any](s *Server, recs map[string]R, to string, snap func(R) V) []V {
	type entry struct {
		sid string
		v   V
	}
	var found []entry
	s.mu.Lock()
	for sid, rec := range recs {
		if to == "" || rec.recipient() == to {
			found = append(found, entry{sid, snap(rec)})
		}
	}
	s.mu.Unlock()
	slices.SortFunc(found, func(x, y entry) int { return strings.Compare(x.sid, y.sid) })
	out := make([]V, len(found))
	for i, e := range found {
		out[i] = e.v
	}
	return out
}

// Server is a running simulator. Create it with New, serve Handler, and Close it.
type Server struct {
	cfg      Config
	accounts map[string]*account
	client   *http.Client
	sidBase  string // per-instance prefix of generated SIDs
	sidSeq   atomic.Uint64
	fault    atomic.Pointer[faultState]
	sched    *scheduler
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closing  sync.Once

	anonUnauthorized atomic.Int64 // 401s naming no known account

	mu     sync.Mutex
	msgs   map[string]*message
	ring   sidRing           // message SIDs, for eviction
	lastTo map[string]string // number → SID of the latest message to it

	calls    map[string]*call
	callRing sidRing        // call SIDs, for eviction
	callsTo  map[string]int // number → calls to it kept
}

type faultState struct {
	fault Fault
	until time.Time
}

type account struct {
	Account
	bucketMu sync.Mutex
	tokens   float64
	last     time.Time
	optOut   map[string]bool // guarded by Server.mu
	c        counters
	calls    callCounters
	dialMu   sync.Mutex
	nextDial time.Time // the account's next free dial slot (Config.CPS)
}

type counters struct {
	created, throttled, unauthorized, faults        atomic.Int64
	delivered, undelivered, failed                  atomic.Int64
	callbacksSent, callbacksFailed, callbackRetries atomic.Int64
	repliesSent, repliesFailed, twimlReplies        atomic.Int64
	rejected                                        tally[int]
}

// snapshot returns the message counters (Calls left zero).
func (c *counters) snapshot() AccountStats {
	return AccountStats{
		Created: c.created.Load(), Throttled: c.throttled.Load(), Unauthorized: c.unauthorized.Load(),
		Faults: c.faults.Load(), Delivered: c.delivered.Load(), Undelivered: c.undelivered.Load(),
		Failed: c.failed.Load(), CallbacksSent: c.callbacksSent.Load(), CallbacksFailed: c.callbacksFailed.Load(),
		CallbackRetries: c.callbackRetries.Load(), RepliesSent: c.repliesSent.Load(), RepliesFailed: c.repliesFailed.Load(),
		TwiMLReplies: c.twimlReplies.Load(), Rejected: c.rejected.snapshot(),
	}
}

// tally counts occurrences by key; its zero value is ready and it is safe
// for concurrent use.
type tally[K comparable] struct {
	mu sync.Mutex
	n  map[K]int64
}

func (t *tally[K]) add(k K) {
	t.mu.Lock()
	if t.n == nil {
		t.n = map[K]int64{}
	}
	t.n[k]++
	t.mu.Unlock()
}

// snapshot returns a copy of the counts, never nil.
func (t *tally[K]) snapshot() map[K]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[K]int64, len(t.n))
	addCounts(out, t.n)
	return out
}

// addCounts adds the counts in src to dst's.
func addCounts[K comparable](dst, src map[K]int64) {
	for k, v := range src {
		dst[k] += v
	}
}

// New starts a simulator: its scheduler and workers run until Close.
func New(cfg Config) *Server {
	cfg.setDefaults()
	var b [8]byte
	_, _ = rand.Read(b[:])
	s := &Server{
		cfg:      cfg,
		accounts: make(map[string]*account, len(cfg.Accounts)),
		sidBase:  hex.EncodeToString(b[:]),
		msgs:     make(map[string]*message),
		ring:     sidRing{sids: make([]string, 0, min(cfg.MaxMessages, 1<<16))},
		lastTo:   make(map[string]string),
		calls:    make(map[string]*call),
		callRing: sidRing{sids: make([]string, 0, min(cfg.MaxCalls, 1<<16))},
		callsTo:  make(map[string]int),
		client:   cfg.HTTPClient,
	}
	for _, a := range cfg.Accounts {
		if a.Number == "" {
			a.Number = defaultNumber
		}
		s.accounts[a.SID] = &account{Account: a, optOut: map[string]bool{}}
	}
	if s.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = cfg.Workers * 2
		s.client = &http.Client{Timeout: cfg.CallbackTimeout, Transport: tr}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.sched = newScheduler(cfg.Workers, s.runEvent)
	s.sched.start(s.ctx, &s.wg, cfg.Workers)
	return s
}

// Close stops the scheduler and workers, abandons pending status changes and
// webhooks, and waits for its goroutines. Requests in FaultSlow return at once.
func (s *Server) Close() {
	s.closing.Do(func() {
		s.cancel()
		s.wg.Wait()
		s.client.CloseIdleConnections()
	})
}

// SetFault makes every REST API request misbehave as f for d (FaultNone or
// d ≤ 0 clears it). The /_sim endpoints are never affected.
func (s *Server) SetFault(f Fault, d time.Duration) {
	if f == FaultNone || d <= 0 {
		s.fault.Store(nil)
		return
	}
	s.fault.Store(&faultState{fault: f, until: time.Now().Add(d)})
}

func (s *Server) activeFault() Fault {
	fs := s.fault.Load()
	if fs == nil || time.Now().After(fs.until) {
		return FaultNone
	}
	return fs.fault
}

func (s *Server) newSID(prefix string) string {
	return prefix + s.sidBase + fmt.Sprintf("%016x", s.sidSeq.Add(1))
}

// take reports whether the account may create a message now and, if not,
// how long until it may.
func (a *account) take(now time.Time, rate float64) (bool, time.Duration) {
	if rate <= 0 {
		return true, 0
	}
	burst := math.Max(1, rate)
	a.bucketMu.Lock()
	defer a.bucketMu.Unlock()
	if a.last.IsZero() {
		a.tokens = burst
	} else {
		a.tokens = math.Min(burst, a.tokens+now.Sub(a.last).Seconds()*rate)
	}
	a.last = now
	if a.tokens >= 1 {
		a.tokens--
		return true, 0
	}
	return false, time.Duration((1 - a.tokens) / rate * float64(time.Second))
}

// store keeps m, forgetting the oldest message beyond MaxMessages. Caller holds s.mu.
func (s *Server) store(m *message) {
	if old := s.ring.push(m.SID, s.cfg.MaxMessages); old != "" {
		if o, ok := s.msgs[old]; ok {
			delete(s.msgs, old)
			if s.lastTo[o.To] == old {
				delete(s.lastTo, o.To)
			}
		}
	}
	s.msgs[m.SID] = m
	if m.Direction != "inbound" {
		s.lastTo[m.To] = m.SID
	}
}

// Messages returns the messages kept, to the given number when to is not
// empty, oldest first.
func (s *Server) Messages(to string) []Message {
	return listRecords(s, s.msgs, to, func(m *message) Message { return m.Message })
}

// Message returns the message with the given SID.
func (s *Server) Message(sid string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.msgs[sid]
	if !ok {
		return Message{}, false
	}
	return m.Message, true
}

// AccountStats counts what happened on one account.
type AccountStats struct {
	Created         int64         `json:"created"`
	Rejected        map[int]int64 `json:"rejected"`  // create-time errors by Twilio code
	Throttled       int64         `json:"throttled"` // 429 answers
	Unauthorized    int64         `json:"unauthorized"`
	Faults          int64         `json:"faults"` // requests answered by an injected fault
	Delivered       int64         `json:"delivered"`
	Undelivered     int64         `json:"undelivered"`
	Failed          int64         `json:"failed"`
	CallbacksSent   int64         `json:"callbacks_sent"`   // webhook POSTs answered 2xx
	CallbacksFailed int64         `json:"callbacks_failed"` // webhooks given up after every attempt
	CallbackRetries int64         `json:"callback_retries"`
	RepliesSent     int64         `json:"replies_sent"`
	RepliesFailed   int64         `json:"replies_failed"`
	// TwiMLReplies counts the SMS sent back to people who texted, as the
	// TwiML answers of the inbound webhook asked (outbound-reply messages;
	// not in Created, which counts the REST API's creates).
	TwiMLReplies int64 `json:"twiml_replies"`
	// Calls counts voice calls; the counters above are messages' (Created,
	// Rejected, Delivered...) or shared by both (Throttled, Unauthorized,
	// Faults, and Callbacks*, which count the status callbacks of both).
	Calls CallStats `json:"calls"`
}

// add adds o's counts to st's, its calls' included but for the latency
// percentiles.
func (st *AccountStats) add(o AccountStats) {
	st.Created += o.Created
	addCounts(st.Rejected, o.Rejected)
	st.Throttled += o.Throttled
	st.Unauthorized += o.Unauthorized
	st.Faults += o.Faults
	st.Delivered += o.Delivered
	st.Undelivered += o.Undelivered
	st.Failed += o.Failed
	st.CallbacksSent += o.CallbacksSent
	st.CallbacksFailed += o.CallbacksFailed
	st.CallbackRetries += o.CallbackRetries
	st.RepliesSent += o.RepliesSent
	st.RepliesFailed += o.RepliesFailed
	st.TwiMLReplies += o.TwiMLReplies
	st.Calls.add(o.Calls)
}

// Stats is a snapshot of the simulator's counters: totals, then per account.
type Stats struct {
	AccountStats
	Unauthorized int64                   `json:"unauthorized"` // requests with unknown credentials
	Stored       int                     `json:"stored"`       // messages kept now
	StoredCalls  int                     `json:"stored_calls"` // calls kept now
	Pending      int                     `json:"pending"`      // scheduled status changes and webhooks
	Accounts     map[string]AccountStats `json:"accounts"`
}

// Stats returns the current counters. Pending is read first: work still
// scheduled or running is counted in it, and work done by then in the
// counters read after it, so a Stats whose Pending is 0 holds every count
// of the work done (read last, a reply finished between the counters and
// it was counted in neither, and a test waiting for the simulator to be
// idle saw fewer replies than the state had taken).
func (s *Server) Stats() Stats {
	pending := s.sched.pending()
	st := Stats{AccountStats: AccountStats{Rejected: map[int]int64{}, Calls: CallStats{Rejected: map[int]int64{}, Digits: map[string]int64{}}},
		Accounts: map[string]AccountStats{}}
	var latency []time.Duration
	for sid, a := range s.accounts {
		as := a.c.snapshot()
		var lat []time.Duration
		as.Calls, lat = a.calls.snapshot()
		latency = append(latency, lat...)
		st.Accounts[sid] = as
		st.AccountStats.add(as)
	}
	st.Calls.setLatency(latency)
	st.Unauthorized = st.AccountStats.Unauthorized + s.anonUnauthorized.Load()
	s.mu.Lock()
	st.Stored = len(s.msgs)
	st.StoredCalls = len(s.calls)
	s.mu.Unlock()
	st.Pending = pending
	return st
}

// runEvent is the workers' entry point.
func (s *Server) runEvent(ctx context.Context, e *event) {
	switch e.kind {
	case evAdvance:
		s.advance(e.sid)
	case evCallback, evReply:
		s.post(ctx, e)
	case evCall:
		s.callStep(ctx, e.sid)
	}
}

// advance moves a message one step along its lifecycle and posts the
// callback for the new status.
func (s *Server) advance(sid string) {
	now := time.Now()
	s.mu.Lock()
	m, ok := s.msgs[sid]
	if !ok {
		s.mu.Unlock()
		return // forgotten (MaxMessages) or never existed
	}
	a := s.accounts[m.AccountSID]
	var next time.Duration = -1
	switch m.Status {
	case StatusQueued, StatusAccepted:
		if m.From == "" {
			m.From = a.Number
		}
		if m.rule != nil && m.rule.Outcome == OutcomeFailed {
			m.Status, m.ErrorCode = StatusFailed, m.rule.Code
			a.c.failed.Add(1)
			break
		}
		m.Status, m.Sent = StatusSent, now
		switch {
		case m.rule != nil && m.rule.Outcome == OutcomeSilent:
		case m.rule != nil && m.rule.Outcome == OutcomeSlow:
			next = s.cfg.scale(m.rule.Delay)
		default:
			next = s.cfg.scale(s.cfg.DeliveredDelay)
		}
	case StatusSent:
		if m.rule != nil && m.rule.Outcome == OutcomeUndelivered {
			m.Status, m.ErrorCode = StatusUndelivered, m.rule.Code
			a.c.undelivered.Add(1)
		} else {
			m.Status = StatusDelivered
			a.c.delivered.Add(1)
			s.scheduleReply(a, m, now)
		}
	default:
		s.mu.Unlock()
		return // final or canceled
	}
	m.Updated = now
	var form url.Values
	if m.StatusCallback != "" {
		form = statusForm(&m.Message)
	}
	cb := m.StatusCallback
	s.mu.Unlock()

	// The next status is scheduled before this one's callback is posted: a
	// slow or failing webhook never holds a message's progress back (a
	// failed post is retried later), so callbacks may arrive out of order,
	// as Twilio's may.
	if next >= 0 {
		s.sched.add(&event{at: now.Add(next), kind: evAdvance, sid: sid})
	}
	if form != nil {
		e := &event{kind: evCallback, sid: sid, account: a.SID, url: cb, form: form}
		s.post(s.ctx, e)
		if s.cfg.DuplicateCallbacks {
			s.sched.add(&event{at: now.Add(s.cfg.scale(20 * time.Millisecond)), kind: evCallback, sid: sid, account: a.SID, url: cb, form: form})
		}
	}
}

// statusForm builds the status callback parameters of m's current status.
func statusForm(m *Message) url.Values {
	f := url.Values{
		"AccountSid":    {m.AccountSID},
		"ApiVersion":    {apiVersion},
		"From":          {m.From},
		"To":            {m.To},
		"MessageSid":    {m.SID},
		"SmsSid":        {m.SID},
		"MessageStatus": {m.Status},
		"SmsStatus":     {m.Status},
	}
	if m.MessagingServiceSID != "" {
		f["MessagingServiceSid"] = []string{m.MessagingServiceSID}
	}
	if m.ErrorCode != 0 {
		f["ErrorCode"] = []string{strconv.Itoa(m.ErrorCode)}
	}
	if m.Status == StatusDelivered || m.Status == StatusUndelivered {
		f["RawDlrDoneDate"] = []string{m.Updated.UTC().Format("0601021504")}
	}
	return f
}

// decide draws a repeatable number in [0,1) from the seed, a number and a salt.
func (s *Server) decide(number string, salt byte) float64 {
	h := fnv.New64a()
	var b [9]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(s.cfg.Seed))
	b[8] = salt
	h.Write(b[:])
	h.Write([]byte(number))
	x := h.Sum64()
	// splitmix64 finaliser spreads FNV's weak low bits.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// scheduleReply applies the reply profile to a delivered message. Caller holds s.mu.
func (s *Server) scheduleReply(a *account, m *message, now time.Time) {
	if len(s.cfg.Replies) == 0 {
		return
	}
	r := s.decide(m.To, 'r')
	for _, rr := range s.cfg.Replies {
		if r < rr.Share {
			delay := time.Duration(s.decide(m.To, 'd') * float64(s.cfg.scale(rr.Within)))
			s.sched.add(&event{at: now.Add(delay), kind: evReply, account: a.SID,
				form: s.inbound(a, m.To, m.From, rr.Body, m.MessagingServiceSID, now)})
			return
		}
		r -= rr.Share
	}
}

// optOutWords are replies that unsubscribe the sender from the account.
var optOutWords = map[string]bool{"STOP": true, "STOPALL": true, "UNSUBSCRIBE": true, "CANCEL": true, "END": true, "QUIT": true, "TD": true, "退订": true}

// inbound records an inbound SMS and returns its webhook parameters. Caller holds s.mu.
func (s *Server) inbound(a *account, from, to, body, service string, now time.Time) url.Values {
	sid := s.newSID("SM")
	segs := segments(body)
	s.store(&message{Message: Message{
		SID: sid, AccountSID: a.SID, MessagingServiceSID: service, Direction: "inbound",
		From: from, To: to, Body: body, Status: StatusReceived, Segments: segs, Created: now, Updated: now,
	}})
	if optOutWords[strings.ToUpper(strings.TrimSpace(body))] {
		a.optOut[from] = true
	}
	f := url.Values{
		"MessageSid": {sid}, "SmsSid": {sid}, "SmsMessageSid": {sid},
		"AccountSid": {a.SID}, "From": {from}, "To": {to}, "Body": {body},
		"NumMedia": {"0"}, "NumSegments": {strconv.Itoa(segs)},
		"SmsStatus": {StatusReceived}, "ApiVersion": {apiVersion},
	}
	if service != "" {
		f["MessagingServiceSid"] = []string{service}
	}
	return f
}

// Reply makes the person at from answer to with body: an inbound SMS posted,
// signed, to the InboundURL of the account that last messaged from (or the
// only account, when there is one). It returns once the webhook is
// scheduled; STOP-like bodies opt from out of later sends (21610).
func (s *Server) Reply(from, to, body string) error {
	now := time.Now()
	s.mu.Lock()
	var a *account
	service := ""
	if sid, ok := s.lastTo[from]; ok {
		m := s.msgs[sid]
		a, service = s.accounts[m.AccountSID], m.MessagingServiceSID
	} else if len(s.accounts) == 1 {
		for _, x := range s.accounts {
			a = x
		}
	}
	if a == nil {
		s.mu.Unlock()
		return fmt.Errorf("reply from %s: no message was sent to that number and there are %d accounts", from, len(s.accounts))
	}
	form := s.inbound(a, from, to, body, service, now)
	s.mu.Unlock()
	s.sched.add(&event{at: now, kind: evReply, account: a.SID, form: form})
	return nil
}

// post sends one webhook and schedules its retry on failure.
func (s *Server) post(ctx context.Context, e *event) {
	a := s.accounts[e.account]
	target := e.url
	if e.kind == evReply {
		target = a.InboundURL
		if target == "" {
			return
		}
	}
	var err error
	if e.kind == evReply {
		err = s.sendInbound(ctx, a, target, e.form)
	} else {
		err = s.sendSigned(ctx, a.AuthToken, e.method, target, e.form)
	}
	if err == nil {
		if e.kind == evReply {
			a.c.repliesSent.Add(1)
			return
		}
		a.c.callbacksSent.Add(1)
		s.mu.Lock()
		if m, ok := s.msgs[e.sid]; ok {
			m.Callbacks++
		} else if c, ok := s.calls[e.sid]; ok {
			c.Callbacks++
		}
		s.mu.Unlock()
		return
	}
	if ctx.Err() != nil {
		return
	}
	e.attempt++
	attempts := s.cfg.CallbackAttempts
	if s.cfg.TwilioRetries {
		attempts = 1
		if isDialError(err) {
			attempts = 2
		}
	}
	if e.attempt >= attempts {
		s.cfg.Logger.Warn("twiliosim: webhook given up", "url", target, "attempts", e.attempt, "err", err)
		if e.kind == evReply {
			a.c.repliesFailed.Add(1)
		} else {
			a.c.callbacksFailed.Add(1)
		}
		return
	}
	a.c.callbackRetries.Add(1)
	e.at = time.Now().Add(s.cfg.CallbackRetryDelay << (e.attempt - 1))
	s.sched.add(e)
}

// sendSigned sends one webhook and wants a 2xx answer, whose body it ignores.
func (s *Server) sendSigned(ctx context.Context, token, method, target string, form url.Values) error {
	status, _, err := s.request(ctx, token, method, target, form, 0)
	if err != nil {
		return err
	}
	if status < 200 || status > 299 {
		return fmt.Errorf("webhook %s: HTTP %d", target, status)
	}
	return nil
}

// request sends a webhook signed as Twilio signs it: a form POST (method
// empty or POST), or a GET with the parameters appended to the URL's query
// and the whole URL signed. It returns the answer's status and up to limit
// bytes of its body, and reads a little past them so the connection can be
// reused.
func (s *Server) request(ctx context.Context, token, method, target string, form url.Values, limit int64) (int, []byte, error) {
	var body io.Reader
	signed, params := target, form
	if method == http.MethodGet {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		if q := form.Encode(); q != "" {
			signed = target + sep + q
		}
		params = nil
	} else {
		method = http.MethodPost
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, signed, body)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("X-Twilio-Signature", Signature(token, signed, params))
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var b []byte
	if limit > 0 {
		if b, err = io.ReadAll(io.LimitReader(resp.Body, limit)); err != nil {
			return resp.StatusCode, nil, err
		}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, b, nil
}

// isDialError reports whether err is a failure to connect: what Twilio
// posts a webhook again for by default (TwilioRetries).
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
