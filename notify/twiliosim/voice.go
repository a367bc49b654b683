package twiliosim

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"muster/notify/twiml"
)

// Call statuses (StatusQueued, StatusFailed and StatusCanceled are shared
// with messages). StatusInitiated only appears in status callbacks: the
// call resource stays queued until it rings.
const (
	StatusInitiated  = "initiated"
	StatusRinging    = "ringing"
	StatusInProgress = "in-progress"
	StatusCompleted  = "completed"
	StatusBusy       = "busy"
	StatusNoAnswer   = "no-answer"
)

// AnsweredBy values reported when the call asked for MachineDetection.
const (
	AnsweredByHuman          = "human"
	AnsweredByMachineStart   = "machine_start"    // MachineDetection=Enable
	AnsweredByMachineEndBeep = "machine_end_beep" // MachineDetection=DetectMessageEnd
)

// Simulated durations of a call's progress (all scaled by TimeScale).
const (
	dialTime    = 100 * time.Millisecond // dial slot → initiated
	setupTime   = time.Second            // initiated → ringing, or → failed
	scriptRing  = 2 * time.Second        // ringing before a scripted answer or busy, when CallScript.Ring is 0
	gatherWait  = 5 * time.Second        // a Gather's timeout when it gives none
	pauseLength = time.Second            // a Pause's length when it gives none
)

const (
	defaultCallTimeout = 60  // ring seconds when the create gives no Timeout
	maxCallTimeout     = 600 // Twilio's upper bound
	maxDocuments       = 20  // TwiML documents one call runs before the simulator hangs up
	maxTrail           = 64  // Said and Keys entries kept per call
	maxCallErrors      = 8   // Errors kept per call
	latencySamples     = 1024
	maxInlineTwiML     = 4000
)

// smsOnlyCodes are create-time refusals that concern text messages only;
// a Rule rejecting with one of them does not stop calls.
var smsOnlyCodes = map[int]bool{21408: true, 21610: true, 21611: true, 21612: true, 21614: true, 21617: true}

// Said is one text read to the callee.
type Said struct {
	Text     string `json:"text"`
	Language string `json:"language,omitempty"`
	Voice    string `json:"voice,omitempty"`
	// Error is set on a Say Twilio would not read: its voice (Twilio's
	// default "man" when none is named) does not speak its language
	// (13511), or its language is English and its text has Han
	// characters, which an English voice cannot say; the callee hears
	// nothing of it, and the account's twiml_errors counts it.
	Error string `json:"error,omitempty"`
}

// Call is the simulator's record of one voice call.
type Call struct {
	SID                  string      `json:"sid"`
	AccountSID           string      `json:"account_sid"`
	Direction            string      `json:"direction"`
	From                 string      `json:"from"`
	To                   string      `json:"to"`
	Status               string      `json:"status"`
	AnsweredBy           string      `json:"answered_by,omitempty"` // set only when MachineDetection was asked
	Outcome              CallOutcome `json:"outcome"`               // what the simulator decided would happen
	URL                  string      `json:"url,omitempty"`
	Method               string      `json:"method"`
	StatusCallback       string      `json:"status_callback,omitempty"`
	StatusCallbackMethod string      `json:"status_callback_method"`
	Events               []string    `json:"events,omitempty"` // StatusCallbackEvent asked for
	MachineDetection     string      `json:"machine_detection,omitempty"`
	Timeout              int         `json:"timeout"` // seconds it may ring
	Created              time.Time   `json:"created"`
	Updated              time.Time   `json:"updated"`
	Started              time.Time   `json:"started,omitzero"` // dialled (initiated)
	Answered             time.Time   `json:"answered,omitzero"`
	Ended                time.Time   `json:"ended,omitzero"`
	Duration             int         `json:"duration"` // simulated seconds from answer to hang-up
	Said                 []Said      `json:"said,omitempty"`
	// Keys are the Digits posted to Gather actions, in order; "" is an
	// empty result posted because of actionOnEmptyResult.
	Keys      []string `json:"keys,omitempty"`
	Documents int      `json:"documents"`        // TwiML documents run
	Errors    []string `json:"errors,omitempty"` // TwiML that could not be fetched or parsed
	Callbacks int      `json:"callbacks"`        // status callbacks answered 2xx
}

func (c *Call) clone() Call {
	out := *c
	out.Events = slices.Clone(c.Events)
	out.Said = slices.Clone(c.Said)
	out.Keys = slices.Clone(c.Keys)
	out.Errors = slices.Clone(c.Errors)
	return out
}

func callFinal(status string) bool {
	switch status {
	case StatusCompleted, StatusBusy, StatusNoAnswer, StatusFailed, StatusCanceled:
		return true
	}
	return false
}

type callPhase uint8

const (
	phaseQueued  callPhase = iota // waiting for its dial slot
	phaseDialled                  // initiated: ringing or failing next
	phaseRinging                  // the outcome next
	phaseTalking                  // answered: running TwiML
)

// call is a Call with the simulator's plan and progress. The exported part
// and talked change under Server.mu; the TwiML state after it belongs to
// the call's single pending step (one scheduled evCall at a time).
type call struct {
	Call
	events map[string]bool
	inline string        // Twiml given at create, run when there is no Url
	key    string        // decision key: number and how many kept calls to it came before
	script *CallScript   // nil: the VoiceProfile decides
	ring   time.Duration // simulated ringing before the outcome
	seq    int           // next SequenceNumber
	phase  callPhase
	talked time.Duration // simulated time since answer

	doc     []twiml.Verb
	docURL  string
	pc      int
	next    *fetchReq
	wait    *keyWait
	gathers int
}

// fetchReq is a TwiML document to get before the call goes on.
type fetchReq struct {
	url, method string
	digits      *string // a Gather's result, posted as Digits
	inline      bool    // the create's Twiml: parsed, not fetched
}

// keyWait is a Gather whose prompt the callee has heard: key is what they
// press ("" for none) when the step wakes.
type keyWait struct {
	g   twiml.Gather
	key string
}

// callCounters count one account's calls.
type callCounters struct {
	created, answered, machine, completed   atomic.Int64
	busy, noAnswer, failed, canceled, noKey atomic.Int64
	fetches, twimlErrors                    atomic.Int64
	rejected                                tally[int]
	digits                                  tally[string]
	mu                                      sync.Mutex
	lat                                     []time.Duration // ring of the last latencySamples TwiML fetch times
	latNext                                 int
}

func (c *callCounters) latency(d time.Duration) {
	c.mu.Lock()
	if len(c.lat) < latencySamples {
		c.lat = append(c.lat, d)
	} else {
		c.lat[c.latNext] = d
		c.latNext = (c.latNext + 1) % latencySamples
	}
	c.mu.Unlock()
}

// CallStats counts what happened to calls.
type CallStats struct {
	Created   int64         `json:"created"`
	Rejected  map[int]int64 `json:"rejected"` // create-time errors by Twilio code
	Answered  int64         `json:"answered"` // picked up, by a person or a machine
	Machine   int64         `json:"machine"`  // picked up by an answering machine
	Completed int64         `json:"completed"`
	Busy      int64         `json:"busy"`
	NoAnswer  int64         `json:"no_answer"`
	Failed    int64         `json:"failed"`
	Canceled  int64         `json:"canceled"`
	// Digits counts the keys posted to Gather actions, by key.
	Digits map[string]int64 `json:"digits"`
	// NoKey counts Gathers that ended without a key.
	NoKey int64 `json:"no_key"`
	// TwiMLFetches counts requests for TwiML: the Url, Gather actions and
	// Redirects. TwiMLErrors counts those that failed, answered other than
	// 2xx, or returned a document the simulator could not parse.
	TwiMLFetches int64 `json:"twiml_fetches"`
	TwiMLErrors  int64 `json:"twiml_errors"`
	// TwiML fetch latency percentiles over the last fetches (up to 1,024
	// per account), in milliseconds of real time.
	TwiMLLatencyP50 float64 `json:"twiml_latency_p50_ms"`
	TwiMLLatencyP99 float64 `json:"twiml_latency_p99_ms"`
}

// snapshot returns the counters and a copy of the latency samples.
func (c *callCounters) snapshot() (CallStats, []time.Duration) {
	st := CallStats{
		Created: c.created.Load(), Answered: c.answered.Load(), Machine: c.machine.Load(),
		Completed: c.completed.Load(), Busy: c.busy.Load(), NoAnswer: c.noAnswer.Load(),
		Failed: c.failed.Load(), Canceled: c.canceled.Load(), NoKey: c.noKey.Load(),
		TwiMLFetches: c.fetches.Load(), TwiMLErrors: c.twimlErrors.Load(),
		Rejected: c.rejected.snapshot(), Digits: c.digits.snapshot(),
	}
	c.mu.Lock()
	lat := slices.Clone(c.lat)
	c.mu.Unlock()
	st.setLatency(lat)
	return st, lat
}

func (st *CallStats) add(o CallStats) {
	st.Created += o.Created
	st.Answered += o.Answered
	st.Machine += o.Machine
	st.Completed += o.Completed
	st.Busy += o.Busy
	st.NoAnswer += o.NoAnswer
	st.Failed += o.Failed
	st.Canceled += o.Canceled
	st.NoKey += o.NoKey
	st.TwiMLFetches += o.TwiMLFetches
	st.TwiMLErrors += o.TwiMLErrors
	addCounts(st.Rejected, o.Rejected)
	addCounts(st.Digits, o.Digits)
}

// setLatency fills the percentiles from samples, which it sorts.
func (st *CallStats) setLatency(samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	pct := func(p float64) float64 {
		i := max(0, int(math.Ceil(p*float64(len(samples))))-1)
		return float64(samples[i]) / float64(time.Millisecond)
	}
	st.TwiMLLatencyP50, st.TwiMLLatencyP99 = pct(0.50), pct(0.99)
}

// dialSlot is when a call created now is dialled: calls leave the
// account's queue gap apart.
func (a *account) dialSlot(now time.Time, gap time.Duration) time.Time {
	a.dialMu.Lock()
	defer a.dialMu.Unlock()
	slot := now
	if a.nextDial.After(slot) {
		slot = a.nextDial
	}
	a.nextDial = slot.Add(gap)
	return slot
}

// callRejectMessages are the texts of create-time call errors.
var callRejectMessages = map[int]string{
	20001: "Invalid parameter",
	21201: "No 'To' number is specified",
	21205: "Url is not a valid URL",
	21211: "Invalid 'To' Phone Number",
	21213: "No 'From' number is specified",
	21609: "Invalid StatusCallback url",
}

func (s *Server) rejectCall(w http.ResponseWriter, a *account, code int, msg string) {
	a.calls.rejected.add(code)
	if msg == "" {
		msg = callRejectMessages[code]
	}
	if msg == "" {
		msg = "Call rejected (simulated error " + strconv.Itoa(code) + ")"
	}
	writeError(w, http.StatusBadRequest, code, msg)
}

// createCall serves POST Calls.json: it validates like Twilio, decides how
// the call will go, queues it for its dial slot and answers 201 queued.
func (s *Server) createCall(w http.ResponseWriter, r *http.Request, a *account) {
	now := time.Now()
	if !s.admit(w, r, a) || !parseForm(w, r) {
		return
	}
	f := r.PostForm
	to, from, u, inline, cb := f.Get("To"), f.Get("From"), f.Get("Url"), f.Get("Twiml"), f.Get("StatusCallback")
	method, okMethod := webhookMethod(f.Get("Method"))
	cbMethod, okCbMethod := webhookMethod(f.Get("StatusCallbackMethod"))
	timeout, okTimeout := callTimeout(f.Get("Timeout"))
	amd := f.Get("MachineDetection")
	switch {
	case to == "":
		s.rejectCall(w, a, 21201, "")
		return
	case from == "":
		s.rejectCall(w, a, 21213, "")
		return
	case !isE164(to):
		s.rejectCall(w, a, 21211, "")
		return
	case u == "" && inline == "":
		s.rejectCall(w, a, 21205, "Url or Twiml is required (the simulator runs no applications)")
		return
	case u != "" && !validCallback(u):
		s.rejectCall(w, a, 21205, "")
		return
	case u == "" && utf8Len(inline) > maxInlineTwiML:
		s.rejectCall(w, a, 20001, "Twiml is longer than 4000 characters")
		return
	case cb != "" && !validCallback(cb):
		s.rejectCall(w, a, 21609, "")
		return
	case !okMethod || !okCbMethod:
		s.rejectCall(w, a, 20001, "Method and StatusCallbackMethod must be GET or POST")
		return
	case !okTimeout:
		s.rejectCall(w, a, 20001, "Timeout must be a whole number of seconds")
		return
	case amd != "" && amd != "Enable" && amd != "DetectMessageEnd":
		s.rejectCall(w, a, 20001, "MachineDetection must be Enable or DetectMessageEnd")
		return
	}
	if rule := s.matchCallReject(to); rule != nil {
		s.rejectCall(w, a, rule.Code, "")
		return
	}

	c := &call{Call: Call{
		AccountSID: a.SID, Direction: "outbound-api", From: from, To: to, Status: StatusQueued,
		URL: u, Method: method, StatusCallback: cb, StatusCallbackMethod: cbMethod,
		MachineDetection: amd, Timeout: timeout, Created: now, Updated: now,
	}, events: map[string]bool{}}
	if u == "" {
		c.inline = inline
	}
	for _, v := range f["StatusCallbackEvent"] {
		for _, ev := range strings.Fields(v) {
			if !c.events[ev] {
				c.events[ev] = true
				c.Events = append(c.Events, ev)
			}
		}
	}
	s.mu.Lock()
	c.SID = s.newSID("CA")
	c.key = to + "#" + strconv.Itoa(s.callsTo[to])
	s.planCall(c)
	s.storeCall(c)
	view := callResource(&c.Call)
	s.mu.Unlock()
	a.calls.created.Add(1)

	var gap time.Duration
	if s.cfg.CPS > 0 {
		gap = s.cfg.scale(time.Duration(float64(time.Second) / s.cfg.CPS))
	}
	slot := a.dialSlot(now, gap)
	s.sched.add(&event{at: slot.Add(s.cfg.scale(dialTime)), kind: evCall, sid: c.SID})
	writeJSON(w, http.StatusCreated, view)
}

func webhookMethod(m string) (string, bool) {
	switch strings.ToUpper(m) {
	case "", http.MethodPost:
		return http.MethodPost, true
	case http.MethodGet:
		return http.MethodGet, true
	}
	return "", false
}

func callTimeout(s string) (int, bool) {
	if s == "" {
		return defaultCallTimeout, true
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, false
	}
	return min(max(n, 1), maxCallTimeout), true
}

// matchCallReject returns the first rule refusing calls to to: a reject
// rule whose code is not an SMS-only one.
func (s *Server) matchCallReject(to string) *Rule {
	for i := range s.cfg.Rules {
		r := &s.cfg.Rules[i]
		if r.Outcome == OutcomeReject && !smsOnlyCodes[r.Code] && r.matches(to) {
			return r
		}
	}
	return nil
}

// planCall decides the call's outcome and ringing time from its script or
// the profile. Caller holds s.mu.
func (s *Server) planCall(c *call) {
	p := &s.cfg.Voice
	for i := range s.cfg.CallScripts {
		if sc := &s.cfg.CallScripts[i]; sc.matches(c.To) {
			c.script = sc
			break
		}
	}
	if sc := c.script; sc != nil {
		c.Outcome = sc.Outcome
		if c.Outcome == "" {
			c.Outcome = CallHuman
		}
		c.ring = sc.Ring
		if c.ring <= 0 {
			c.ring = scriptRing
		}
	} else {
		c.Outcome = p.outcome(s.decide(c.key, 'o'))
		if c.Outcome == CallHuman && s.decide(c.key, 'm') < p.MachineRate {
			c.Outcome = CallMachine
		}
		c.ring = time.Duration((0.25 + 0.75*s.decide(c.key, 'R')) * float64(p.RingTime))
		if c.Outcome == CallBusy {
			c.ring = scriptRing
		}
	}
	timeout := time.Duration(c.Timeout) * time.Second
	switch {
	case c.Outcome == CallNoAnswer:
		c.ring = timeout
	case c.Outcome.answered() && c.ring >= timeout:
		c.Outcome, c.ring = CallNoAnswer, timeout
	}
}

// storeCall keeps c, forgetting the oldest call beyond MaxCalls. Caller holds s.mu.
func (s *Server) storeCall(c *call) {
	if old := s.callRing.push(c.SID, s.cfg.MaxCalls); old != "" {
		if o, ok := s.calls[old]; ok {
			delete(s.calls, old)
			if s.callsTo[o.To]--; s.callsTo[o.To] <= 0 {
				delete(s.callsTo, o.To)
			}
		}
	}
	s.calls[c.SID] = c
	s.callsTo[c.To]++
}

// Calls returns the calls kept, to the given number when to is not empty,
// oldest first.
func (s *Server) Calls(to string) []Call {
	return listRecords(s, s.calls, to, func(c *call) Call { return c.clone() })
}

// Call returns the call with the given SID.
func (s *Server) Call(sid string) (Call, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.calls[sid]
	if !ok {
		return Call{}, false
	}
	return c.clone(), true
}

// callStep moves a call one step along its lifecycle: initiated, ringing,
// the outcome, then its TwiML until it hangs up.
func (s *Server) callStep(ctx context.Context, sid string) {
	now := time.Now()
	s.mu.Lock()
	c, ok := s.calls[sid]
	if !ok || callFinal(c.Status) {
		s.mu.Unlock()
		return // forgotten (MaxCalls), canceled or hung up by an update
	}
	a := s.accounts[c.AccountSID]
	var cb *event
	var next time.Duration = -1 // simulated time to the next step; -1: none
	talk := false
	switch c.phase {
	case phaseQueued:
		c.phase, c.Started, c.Updated = phaseDialled, now, now
		cb = s.callCallback(c, StatusInitiated, now)
		next = setupTime
	case phaseDialled:
		if c.Outcome == CallFailed {
			cb = s.endCall(a, c, StatusFailed, now)
			break
		}
		c.phase, c.Status, c.Updated = phaseRinging, StatusRinging, now
		cb = s.callCallback(c, StatusRinging, now)
		next = c.ring
	case phaseRinging:
		switch c.Outcome {
		case CallBusy:
			cb = s.endCall(a, c, StatusBusy, now)
		case CallNoAnswer:
			cb = s.endCall(a, c, StatusNoAnswer, now)
		default:
			c.phase, c.Status, c.Answered, c.Updated = phaseTalking, StatusInProgress, now, now
			c.AnsweredBy = answeredBy(c.MachineDetection, c.Outcome)
			a.calls.answered.Add(1)
			if c.Outcome == CallMachine {
				a.calls.machine.Add(1)
			}
			cb = s.callCallback(c, StatusInProgress, now)
			c.next = &fetchReq{url: c.URL, method: c.Method, inline: c.URL == ""}
			talk = true
		}
	case phaseTalking:
		talk = true
	}
	s.mu.Unlock()
	// The callback goes out before the next step is scheduled, so the
	// call's callbacks leave in order (a failed one is retried later).
	s.deliver(cb)
	if next >= 0 {
		s.sched.add(&event{at: now.Add(s.cfg.scale(next)), kind: evCall, sid: sid})
	}
	if talk {
		s.talk(ctx, a, c)
	}
}

func answeredBy(amd string, o CallOutcome) string {
	switch {
	case amd == "":
		return ""
	case o != CallMachine:
		return AnsweredByHuman
	case amd == "DetectMessageEnd":
		return AnsweredByMachineEndBeep
	}
	return AnsweredByMachineStart
}

// talk runs the answered call's TwiML from where it stands until a verb
// takes time (it then schedules the next step) or the call ends.
func (s *Server) talk(ctx context.Context, a *account, c *call) {
	for ctx.Err() == nil {
		if w := c.wait; w != nil {
			c.wait = nil
			s.mu.Lock()
			if w.key == "" {
				a.calls.noKey.Add(1)
			} else {
				a.calls.digits.add(w.key)
			}
			post := w.key != "" || w.g.ActionOnEmptyResult
			if post && len(c.Keys) < maxTrail {
				c.Keys = append(c.Keys, w.key)
			}
			s.mu.Unlock()
			if post {
				target := resolveURL(c.docURL, w.g.Action)
				if target == "" {
					s.hangUp(a, c, "a Gather in inline Twiml has no action")
					return
				}
				key := w.key
				c.next = &fetchReq{url: target, method: w.g.Method, digits: &key}
			}
		}
		if f := c.next; f != nil {
			c.next = nil
			s.mu.Lock()
			runs := c.Documents
			s.mu.Unlock()
			if runs >= maxDocuments {
				s.hangUp(a, c, fmt.Sprintf("more than %d TwiML documents in one call", maxDocuments))
				return
			}
			doc, err := s.document(ctx, a, c, f)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				s.hangUp(a, c, err.Error())
				return
			}
			s.mu.Lock()
			ended := callFinal(c.Status)
			if !ended {
				c.Documents++
			}
			s.mu.Unlock()
			if ended {
				return // hung up by an update while the document was fetched
			}
			c.doc, c.pc = doc.Verbs, 0
			if !f.inline {
				c.docURL = f.url
			}
		}
		if c.pc >= len(c.doc) {
			s.hangUp(a, c, "") // end of the document
			return
		}
		v := c.doc[c.pc]
		c.pc++
		switch v := v.(type) {
		case twiml.Say, twiml.Pause:
			s.after(c, s.hear(a, c, v))
			return
		case twiml.Gather:
			var d time.Duration
			for _, n := range v.Verbs {
				d += s.hear(a, c, n)
			}
			key, think := s.press(c)
			timeout := time.Duration(v.Timeout) * time.Second
			if timeout <= 0 {
				timeout = gatherWait
			}
			if key == "" || think >= timeout {
				key, think = "", timeout
			}
			c.wait = &keyWait{g: v, key: key}
			s.after(c, d+think)
			return
		case twiml.Redirect:
			target := resolveURL(c.docURL, v.URL)
			if target == "" {
				s.hangUp(a, c, "a Redirect in inline Twiml is not absolute")
				return
			}
			c.next = &fetchReq{url: target, method: v.Method}
		case twiml.Hangup:
			s.hangUp(a, c, "")
			return
		}
	}
}

// document gets the TwiML f names: the create's Twiml, or a signed
// request to f.url with the call's parameters (and Digits).
func (s *Server) document(ctx context.Context, a *account, c *call, f *fetchReq) (twiml.Response, error) {
	if f.inline {
		doc, err := twiml.Parse([]byte(c.inline))
		if err != nil {
			return doc, fmt.Errorf("inline Twiml: %w", err)
		}
		return doc, nil
	}
	s.mu.Lock()
	form := callParams(&c.Call)
	s.mu.Unlock()
	if f.digits != nil {
		form.Set("Digits", *f.digits)
	}
	method, _ := webhookMethod(f.method)
	start := time.Now()
	status, body, err := s.request(ctx, a.AuthToken, method, f.url, form, twiml.MaxDocument+1)
	a.calls.fetches.Add(1)
	if err != nil {
		return twiml.Response{}, fmt.Errorf("TwiML %s %s: %w", method, f.url, err)
	}
	a.calls.latency(time.Since(start))
	if status < 200 || status > 299 {
		return twiml.Response{}, fmt.Errorf("TwiML %s %s: HTTP %d", method, f.url, status)
	}
	doc, err := twiml.Parse(body)
	if err != nil {
		return doc, fmt.Errorf("TwiML %s %s: %w", method, f.url, err)
	}
	return doc, nil
}

// resolveURL is ref read against the document at base: ref itself when
// absolute, base when empty, "" when it cannot be resolved.
func resolveURL(base, ref string) string {
	if ref == "" {
		return base
	}
	u, err := url.Parse(ref)
	if err != nil {
		return ""
	}
	if u.IsAbs() {
		return ref // as given: it is what Twilio requests and signs
	}
	b, err := url.Parse(base)
	if err != nil || base == "" {
		return ""
	}
	return b.ResolveReference(u).String()
}

// hear records what a Say reads and returns how long the callee listens
// to a Say or Pause (simulated). A Say whose voice does not speak its
// language, or an English Say with Chinese text, is read as Twilio may:
// not at all (an error on the account).
func (s *Server) hear(a *account, c *call, v twiml.Verb) time.Duration {
	switch v := v.(type) {
	case twiml.Pause:
		if v.Length > 0 {
			return time.Duration(v.Length) * time.Second
		}
		return pauseLength
	case twiml.Say:
		said := Said{Text: v.Text, Language: string(v.Language), Voice: v.Voice}
		switch lang := cmp.Or(string(v.Language), "en-US"); {
		case !twiml.Reads(v.Voice, v.Language):
			said.Error = "13511 Say: voice " + strconv.Quote(cmp.Or(v.Voice, "man")) + " does not speak " + strconv.Quote(lang)
			a.calls.twimlErrors.Add(1)
		case strings.HasPrefix(strings.ToLower(lang), "en") && twiml.HasChinese(v.Text):
			// Twilio takes it, but the English voice cannot say the Han
			// characters: the callee hears noise or nothing where the
			// Chinese was (often the reason or the place).
			said.Error = "Say: Chinese text in an " + lang + " Say (voice " + strconv.Quote(cmp.Or(v.Voice, "man")) + ") is not read; say it in a Say with a Mandarin voice and cmn-CN"
			a.calls.twimlErrors.Add(1)
		}
		s.mu.Lock()
		if len(c.Said) < maxTrail {
			c.Said = append(c.Said, said)
		}
		s.mu.Unlock()
		if said.Error != "" {
			return 0
		}
		return speechTime(v.Text) * time.Duration(max(1, v.Loop))
	}
	return 0
}

// speechTime is how long text takes to read: a quarter second per Chinese
// character, 60ms per other letter or digit, 30ms per space or mark.
func speechTime(text string) time.Duration {
	var d time.Duration
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Han, r):
			d += 250 * time.Millisecond
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			d += 60 * time.Millisecond
		default:
			d += 30 * time.Millisecond
		}
	}
	return d
}

// press is the key the callee presses at the call's next Gather ("" for
// none) and how long after the prompt.
func (s *Server) press(c *call) (string, time.Duration) {
	i := c.gathers
	c.gathers++
	if c.Outcome == CallMachine {
		return "", 0
	}
	at := c.key + "/" + strconv.Itoa(i)
	think := time.Duration(s.decide(at, 't') * float64(s.cfg.Voice.ThinkTime))
	if sc := c.script; sc != nil {
		if i < len(sc.Keys) {
			return sc.Keys[i], think
		}
		return "", think
	}
	return s.cfg.Voice.Digits.key(s.decide(at, 'k')), think
}

// after schedules the call's next step d (simulated) from now.
func (s *Server) after(c *call, d time.Duration) {
	s.mu.Lock()
	c.talked += d
	s.mu.Unlock()
	s.sched.add(&event{at: time.Now().Add(s.cfg.scale(d)), kind: evCall, sid: c.SID})
}

// hangUp ends an answered call as completed, recording why when the TwiML
// failed.
func (s *Server) hangUp(a *account, c *call, problem string) {
	now := time.Now()
	s.mu.Lock()
	if callFinal(c.Status) {
		s.mu.Unlock()
		return
	}
	if problem != "" {
		a.calls.twimlErrors.Add(1)
		if len(c.Errors) < maxCallErrors {
			c.Errors = append(c.Errors, problem)
		}
		s.cfg.Logger.Warn("twiliosim: call hung up on a TwiML error", "call", c.SID, "err", problem)
	}
	cb := s.endCall(a, c, StatusCompleted, now)
	s.mu.Unlock()
	s.deliver(cb)
}

// endCall gives c its final status and returns the status callback to
// post, if any. Caller holds s.mu.
func (s *Server) endCall(a *account, c *call, status string, now time.Time) *event {
	c.Status, c.Ended, c.Updated = status, now, now
	switch status {
	case StatusCompleted:
		c.Duration = max(1, int(math.Ceil(c.talked.Seconds())))
		a.calls.completed.Add(1)
	case StatusBusy:
		a.calls.busy.Add(1)
	case StatusNoAnswer:
		a.calls.noAnswer.Add(1)
	case StatusFailed:
		a.calls.failed.Add(1)
	case StatusCanceled:
		a.calls.canceled.Add(1)
	}
	return s.callCallback(c, status, now)
}

// callParams are the parameters of every request about c: TwiML fetches
// and status callbacks. Caller holds s.mu.
func callParams(c *Call) url.Values {
	f := url.Values{
		"AccountSid": {c.AccountSID}, "ApiVersion": {apiVersion}, "CallSid": {c.SID},
		"CallStatus": {c.Status}, "Direction": {c.Direction},
		"From": {c.From}, "To": {c.To}, "Caller": {c.From}, "Called": {c.To},
	}
	if c.AnsweredBy != "" {
		f["AnsweredBy"] = []string{c.AnsweredBy}
	}
	return f
}

// callCallback is the status callback for c reaching status, when the
// call has a StatusCallback and asked for that event (the final status is
// always sent). Caller holds s.mu.
func (s *Server) callCallback(c *call, status string, now time.Time) *event {
	if c.StatusCallback == "" {
		return nil
	}
	switch status {
	case StatusInitiated, StatusRinging:
		if !c.events[status] {
			return nil
		}
	case StatusInProgress:
		if !c.events["answered"] {
			return nil
		}
	}
	f := callParams(&c.Call)
	f.Set("CallStatus", status)
	f.Set("CallbackSource", "call-progress-events")
	f.Set("SequenceNumber", strconv.Itoa(c.seq))
	f.Set("Timestamp", rfc2822(now))
	c.seq++
	if status == StatusCompleted {
		f.Set("CallDuration", strconv.Itoa(c.Duration))
		f.Set("Duration", strconv.Itoa((c.Duration+59)/60))
	}
	return &event{kind: evCallback, sid: c.SID, account: c.AccountSID, url: c.StatusCallback, method: c.StatusCallbackMethod, form: f}
}

// deliver posts a call's status callback now, in order with the call's
// other callbacks (a failed post is retried later), and schedules its
// copy when callbacks are duplicated.
func (s *Server) deliver(e *event) {
	if e == nil {
		return
	}
	if s.cfg.DuplicateCallbacks {
		dup := *e
		dup.at = time.Now().Add(s.cfg.scale(20 * time.Millisecond))
		s.sched.add(&dup)
	}
	s.post(s.ctx, e)
}

func (c *call) owner() string     { return c.AccountSID }
func (c *call) recipient() string { return c.To }
func (c *call) view() any         { return callResource(&c.Call) }

func (s *Server) fetchCall(w http.ResponseWriter, r *http.Request, a *account) {
	fetchRecord(s, w, r, a, s.calls)
}

// updateCall supports Status=canceled and Status=completed as Twilio
// does: canceled ends a call queued or ringing and leaves one in progress
// as it is (200, status in-progress); completed hangs up an answered call
// and cancels one not yet answered. A call that has ended cannot be
// updated (400, 21220). The final status callback is scheduled, not
// awaited.
func (s *Server) updateCall(w http.ResponseWriter, r *http.Request, a *account) {
	if !parseForm(w, r) {
		return
	}
	st := r.PostForm.Get("Status")
	if st == "" {
		writeError(w, http.StatusBadRequest, 20001, "The simulator updates calls by Status=canceled or Status=completed only")
		return
	}
	if st != StatusCanceled && st != StatusCompleted {
		writeError(w, http.StatusBadRequest, 20001, "Status must be canceled or completed")
		return
	}
	now := time.Now()
	s.mu.Lock()
	c, ok := lookupRecord(w, r, a, s.calls)
	if !ok {
		s.mu.Unlock()
		return
	}
	var cb *event
	refused := ""
	switch {
	case callFinal(c.Status):
		refused = "the call is already " + c.Status
	case c.phase == phaseTalking && st == StatusCanceled:
		// Twilio: canceled "will not affect calls already in progress".
	case c.phase == phaseTalking:
		cb = s.endCall(a, c, StatusCompleted, now)
	default:
		cb = s.endCall(a, c, StatusCanceled, now)
	}
	view := callResource(&c.Call)
	s.mu.Unlock()
	if refused != "" {
		writeError(w, http.StatusBadRequest, 21220, "Invalid call state for update: "+refused)
		return
	}
	if cb != nil {
		cb.at = now
		s.sched.add(cb)
	}
	writeJSON(w, http.StatusOK, view)
}

// callJSON is the Call resource with the JSON types twilio-go's
// ApiV2010Call decodes: strings for duration, price and queue_time, RFC
// 2822 dates.
type callJSON struct {
	AccountSid      string            `json:"account_sid"`
	AnsweredBy      *string           `json:"answered_by"`
	APIVersion      string            `json:"api_version"`
	CallerName      *string           `json:"caller_name"`
	DateCreated     string            `json:"date_created"`
	DateUpdated     string            `json:"date_updated"`
	Direction       string            `json:"direction"`
	Duration        *string           `json:"duration"`
	EndTime         *string           `json:"end_time"`
	ForwardedFrom   *string           `json:"forwarded_from"`
	From            string            `json:"from"`
	FromFormatted   string            `json:"from_formatted"`
	GroupSid        *string           `json:"group_sid"`
	ParentCallSid   *string           `json:"parent_call_sid"`
	PhoneNumberSid  *string           `json:"phone_number_sid"`
	Price           *string           `json:"price"`
	PriceUnit       string            `json:"price_unit"`
	QueueTime       string            `json:"queue_time"`
	Sid             string            `json:"sid"`
	StartTime       *string           `json:"start_time"`
	Status          string            `json:"status"`
	SubresourceUris map[string]string `json:"subresource_uris"`
	To              string            `json:"to"`
	ToFormatted     string            `json:"to_formatted"`
	TrunkSid        *string           `json:"trunk_sid"`
	URI             string            `json:"uri"`
}

// callResource renders c. Caller holds s.mu.
func callResource(c *Call) callJSON {
	uri := "/2010-04-01/Accounts/" + c.AccountSID + "/Calls/" + c.SID
	v := callJSON{
		AccountSid: c.AccountSID, AnsweredBy: strPtr(c.AnsweredBy), APIVersion: apiVersion,
		DateCreated: rfc2822(c.Created), DateUpdated: rfc2822(c.Updated), Direction: c.Direction,
		From: c.From, FromFormatted: c.From, PriceUnit: "USD", QueueTime: "0",
		Sid: c.SID, Status: c.Status, To: c.To, ToFormatted: c.To, URI: uri + ".json",
		SubresourceUris: map[string]string{
			"notifications": uri + "/Notifications.json", "recordings": uri + "/Recordings.json",
			"events": uri + "/Events.json", "payments": uri + "/Payments.json",
		},
	}
	if !c.Started.IsZero() {
		v.StartTime = strPtr(rfc2822(c.Started))
	}
	if !c.Ended.IsZero() {
		v.EndTime = strPtr(rfc2822(c.Ended))
	}
	if c.Status == StatusCompleted {
		v.Duration = strPtr(strconv.Itoa(c.Duration))
		v.Price = strPtr("-" + strconv.FormatFloat(0.014*float64((c.Duration+59)/60), 'f', 5, 64))
	}
	return v
}
