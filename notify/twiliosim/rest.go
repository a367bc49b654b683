package twiliosim

import (
	"crypto/subtle"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"muster/plans"
)

const maxBody = 1600

// Handler serves the REST API under /2010-04-01/Accounts/{AccountSid}/ and
// the simulator's own /_sim/stats, /_sim/messages?to= and /_sim/calls?to=.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /2010-04-01/Accounts/{AccountSid}/Messages.json", s.api(s.createMessage))
	mux.Handle("GET /2010-04-01/Accounts/{AccountSid}/Messages/{file}", s.api(s.fetchMessage))
	mux.Handle("POST /2010-04-01/Accounts/{AccountSid}/Messages/{file}", s.api(s.updateMessage))
	mux.Handle("POST /2010-04-01/Accounts/{AccountSid}/Calls.json", s.api(s.createCall))
	mux.Handle("GET /2010-04-01/Accounts/{AccountSid}/Calls/{file}", s.api(s.fetchCall))
	mux.Handle("POST /2010-04-01/Accounts/{AccountSid}/Calls/{file}", s.api(s.updateCall))
	mux.HandleFunc("GET /_sim/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	mux.HandleFunc("GET /_sim/messages", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Messages(r.URL.Query().Get("to")))
	})
	mux.HandleFunc("GET /_sim/calls", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Calls(r.URL.Query().Get("to")))
	})
	mux.HandleFunc("/", notFound)
	return mux
}

// api wraps an API handler with faults and Basic auth.
func (s *Server) api(h func(http.ResponseWriter, *http.Request, *account)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := s.authenticate(r)
		if f := s.activeFault(); f != FaultNone {
			if a != nil {
				a.c.faults.Add(1)
			}
			if !s.serveFault(w, r, f) {
				return
			}
		}
		if a == nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
			writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
			return
		}
		h(w, r, a)
	})
}

// serveFault answers r as fault f; it reports whether the request should
// still be served normally afterwards (FaultSlow).
func (s *Server) serveFault(w http.ResponseWriter, r *http.Request, f Fault) bool {
	switch f {
	case Fault500:
		writeError(w, http.StatusInternalServerError, 20500, "Internal Server Error")
	case Fault503HTML:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("<html><body><h1>503 Service Unavailable</h1></body></html>"))
	case FaultSlow:
		t := time.NewTimer(s.cfg.SlowResponse)
		defer t.Stop()
		select {
		case <-t.C:
			return true // like Twilio, go on and create even if the client gave up
		case <-s.ctx.Done():
			writeError(w, http.StatusServiceUnavailable, 20503, "Service Unavailable")
		}
	case FaultDrop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				if tc, ok := conn.(*net.TCPConn); ok {
					_ = tc.SetLinger(0)
				}
				conn.Close()
				return false
			}
		}
		panic(http.ErrAbortHandler)
	}
	return false
}

// authenticate returns the account named by Basic auth if its token matches
// and it is the account of the path.
func (s *Server) authenticate(r *http.Request) *account {
	user, pass, ok := r.BasicAuth()
	a := s.accounts[user]
	if !ok || a == nil {
		s.anonUnauthorized.Add(1)
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(pass), []byte(a.AuthToken)) != 1 || r.PathValue("AccountSid") != user {
		a.c.unauthorized.Add(1)
		return nil
	}
	return a
}

// apiError is Twilio's error body, as client.TwilioRestError decodes it.
type apiError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, apiError{Code: code, Message: msg, MoreInfo: "https://www.twilio.com/docs/errors/" + strconv.Itoa(code), Status: status})
}

// writeJSON writes v with a Content-Length and no trailing newline, so a
// client that decodes one value and closes still sees EOF and keeps the
// connection.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/json; charset=utf-8"}
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// notFound answers 404/20404 naming r's path, as Twilio answers for a
// resource it does not have.
func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
}

// parseForm parses r's form body. It answers 400/20001 itself, and reports
// whether the request goes on.
func parseForm(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "Bad form body: "+err.Error())
		return false
	}
	return true
}

// rejectMessages are the texts of create-time errors the simulator returns.
var rejectMessages = map[int]string{
	21211: "Invalid 'To' Phone Number",
	21602: "Message body is required.",
	21603: "A 'From' phone number is required.",
	21604: "A 'To' phone number is required.",
	21609: "Invalid StatusCallback url",
	21610: "Attempt to send to unsubscribed recipient",
	21612: "The 'To' phone number is not currently reachable via SMS",
	21614: "'To' number is not a valid mobile number",
	21617: "The concatenated message body exceeds the 1600 character limit.",
}

func (s *Server) reject(w http.ResponseWriter, a *account, code int) {
	a.c.rejected.add(code)
	msg, ok := rejectMessages[code]
	if !ok {
		msg = "Message rejected (simulated error " + strconv.Itoa(code) + ")"
	}
	writeError(w, http.StatusBadRequest, code, msg)
}

// admit applies the account's create rate (MPS, shared by messages and
// calls) and the configured latency. It answers 429 itself, and reports
// whether the create goes on.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, a *account) bool {
	if ok, wait := a.take(time.Now(), s.cfg.MPS); !ok {
		a.c.throttled.Add(1)
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int((wait+time.Second-1)/time.Second))))
		writeError(w, http.StatusTooManyRequests, 20429, "Too Many Requests")
		return false
	}
	if s.cfg.Latency > 0 {
		t := time.NewTimer(s.cfg.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return false
		}
	}
	return true
}

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request, a *account) {
	now := time.Now()
	if !s.admit(w, r, a) || !parseForm(w, r) {
		return
	}
	f := r.PostForm
	to, from, service, body, cb := f.Get("To"), f.Get("From"), f.Get("MessagingServiceSid"), f.Get("Body"), f.Get("StatusCallback")
	switch {
	case to == "":
		s.reject(w, a, 21604)
		return
	case !isE164(to):
		s.reject(w, a, 21211)
		return
	case from == "" && service == "":
		s.reject(w, a, 21603)
		return
	case body == "" && len(f["MediaUrl"]) == 0 && f.Get("ContentSid") == "":
		s.reject(w, a, 21602)
		return
	case utf8Len(body) > maxBody:
		s.reject(w, a, 21617)
		return
	case cb != "" && !validCallback(cb):
		s.reject(w, a, 21609)
		return
	}
	rule := s.match(to)
	if rule != nil && rule.Outcome == OutcomeReject {
		s.reject(w, a, rule.Code)
		return
	}

	m := &message{rule: rule, Message: Message{
		AccountSID: a.SID, MessagingServiceSID: service, Direction: "outbound-api",
		From: from, To: to, Body: body, Status: StatusQueued, Segments: segments(body),
		StatusCallback: cb, Created: now, Updated: now,
	}}
	if service != "" && from == "" {
		m.Status = StatusAccepted
	}
	s.mu.Lock()
	if a.optOut[to] {
		s.mu.Unlock()
		s.reject(w, a, 21610)
		return
	}
	m.SID = s.newSID("SM")
	s.store(m)
	view := resource(&m.Message)
	s.mu.Unlock()
	a.c.created.Add(1)
	s.sched.add(&event{at: now.Add(s.cfg.scale(s.cfg.SentDelay)), kind: evAdvance, sid: m.SID})
	writeJSON(w, http.StatusCreated, view)
}

// lookupRecord finds the record the path names ({Sid}.json) in recs when
// it belongs to account a, and otherwise answers 404. Caller holds s.mu.
func lookupRecord[R record](w http.ResponseWriter, r *http.Request, a *account, recs map[string]R) (R, bool) {
	sid, ok := strings.CutSuffix(r.PathValue("file"), ".json")
	rec, found := recs[sid]
	if !ok || !found || rec.owner() != a.SID {
		notFound(w, r)
		var none R
		return none, false
	}
	return rec, true
}

// fetchRecord answers a GET of the record the path names in recs, which
// must be one of s's maps, with its resource.
func fetchRecord[R record](s *Server, w http.ResponseWriter, r *http.Request, a *account, recs map[string]R) {
	s.mu.Lock()
	rec, ok := lookupRecord(w, r, a, recs)
	if !ok {
		s.mu.Unlock()
		return
	}
	view := rec.view()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, view)
}

func (s *Server) fetchMessage(w http.ResponseWriter, r *http.Request, a *account) {
	fetchRecord(s, w, r, a, s.msgs)
}

// updateMessage supports Status=canceled (queued or accepted messages only)
// and Body="" (redaction).
func (s *Server) updateMessage(w http.ResponseWriter, r *http.Request, a *account) {
	if !parseForm(w, r) {
		return
	}
	s.mu.Lock()
	m, ok := lookupRecord(w, r, a, s.msgs)
	if !ok {
		s.mu.Unlock()
		return
	}
	if st := r.PostForm.Get("Status"); st != "" {
		if st != StatusCanceled || (m.Status != StatusQueued && m.Status != StatusAccepted) {
			s.mu.Unlock()
			writeError(w, http.StatusBadRequest, 30409, "Message cannot be canceled in status "+m.Status)
			return
		}
		m.Status = StatusCanceled
	}
	if _, ok := r.PostForm["Body"]; ok {
		m.Body = ""
	}
	m.Updated = time.Now()
	view := resource(&m.Message)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, view)
}

func (s *Server) match(to string) *Rule {
	for i := range s.cfg.Rules {
		if s.cfg.Rules[i].matches(to) {
			return &s.cfg.Rules[i]
		}
	}
	return nil
}

// messageJSON is the Message resource with the JSON types twilio-go's
// ApiV2010Message decodes: strings for counts and price, int for error_code,
// RFC 2822 dates.
type messageJSON struct {
	AccountSid          string            `json:"account_sid"`
	APIVersion          string            `json:"api_version"`
	Body                string            `json:"body"`
	DateCreated         string            `json:"date_created"`
	DateSent            *string           `json:"date_sent"`
	DateUpdated         string            `json:"date_updated"`
	Direction           string            `json:"direction"`
	ErrorCode           *int              `json:"error_code"`
	ErrorMessage        *string           `json:"error_message"`
	From                *string           `json:"from"`
	MessagingServiceSid *string           `json:"messaging_service_sid"`
	NumMedia            string            `json:"num_media"`
	NumSegments         string            `json:"num_segments"`
	Price               *string           `json:"price"`
	PriceUnit           string            `json:"price_unit"`
	Sid                 string            `json:"sid"`
	Status              string            `json:"status"`
	SubresourceUris     map[string]string `json:"subresource_uris"`
	To                  string            `json:"to"`
	URI                 string            `json:"uri"`
}

func rfc2822(t time.Time) string { return t.UTC().Format(time.RFC1123Z) }

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// resource renders m. Caller holds s.mu.
func resource(m *Message) messageJSON {
	uri := "/2010-04-01/Accounts/" + m.AccountSID + "/Messages/" + m.SID
	v := messageJSON{
		AccountSid: m.AccountSID, APIVersion: apiVersion, Body: m.Body,
		DateCreated: rfc2822(m.Created), DateUpdated: rfc2822(m.Updated),
		Direction: m.Direction, From: strPtr(m.From), MessagingServiceSid: strPtr(m.MessagingServiceSID),
		NumMedia: "0", NumSegments: strconv.Itoa(m.Segments), PriceUnit: "USD",
		Sid: m.SID, Status: m.Status, To: m.To, URI: uri + ".json",
		SubresourceUris: map[string]string{"media": uri + "/Media.json", "feedback": uri + "/Feedback.json"},
	}
	if m.Status == StatusAccepted {
		v.NumSegments = "0"
	}
	if !m.Sent.IsZero() {
		v.DateSent = strPtr(rfc2822(m.Sent))
		v.Price = strPtr("-" + strconv.FormatFloat(0.0075*float64(m.Segments), 'f', 4, 64))
	}
	if m.ErrorCode != 0 {
		code := m.ErrorCode
		v.ErrorCode = &code
		v.ErrorMessage = strPtr("Simulated delivery error " + strconv.Itoa(code))
	}
	return v
}

// isE164 reports whether to is "+" and 8 to 15 digits, the first not 0.
func isE164(to string) bool {
	if len(to) < 9 || len(to) > 16 || to[0] != '+' || to[1] == '0' {
		return false
	}
	for i := 1; i < len(to); i++ {
		if to[i] < '0' || to[i] > '9' {
			return false
		}
	}
	return true
}

// validCallback reports whether u is an absolute http(s) URL whose host has
// no underscore, as Twilio requires.
func validCallback(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Hostname() != "" &&
		!strings.Contains(p.Hostname(), "_")
}

func utf8Len(s string) int {
	n := 0
	for range s {
		n++
	}
	return n
}

func segments(body string) int {
	_, _, n := plans.SMSSegments(body)
	return n
}
