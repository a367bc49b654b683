package api

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"muster"
	"muster/notify"
	twimlpkg "muster/notify/twiml"
	"muster/plans"
)

// Webhooks is what api needs to take provider webhooks: the auth token of
// each provider account (to check X-Twilio-Signature) and a way to apply a
// verified item (notify.Inbound).
type Webhooks interface {
	AuthToken(accountSID string) (string, bool)
	Submit(ctx context.Context, it notify.InboundItem) (notify.InboundResult, error)
	VoiceScript(ctx context.Context, attempt string) (notify.VoiceScript, error)
}

// webhookMaxBody bounds a webhook's form; Twilio's are a few hundred bytes.
const webhookMaxBody = 64 << 10

// Webhook paths, under Config.PublicURL.
const (
	hookSMSStatus  = "/hooks/twilio/sms-status"
	hookSMSInbound = "/hooks/twilio/sms-inbound"
)

// verifiedForm reads a webhook's form and checks its X-Twilio-Signature
// against the auth token of the account it names, over the URL the
// provider was given (Config.PublicURL, this route's path and the query).
// It answers 403 itself and returns nil when the request is not genuine.
func (s *Server) verifiedForm(c *gin.Context, path string) map[string][]string {
	if s.deps.Webhooks == nil {
		s.writeError(c, muster.Errorf(muster.EUnavailable, "this node takes no provider webhooks"))
		return nil
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, webhookMaxBody)
	if err := c.Request.ParseForm(); err != nil {
		s.writeError(c, muster.Errorf(muster.EInvalid, "webhook form: %v", err))
		return nil
	}
	form := c.Request.PostForm
	sig := c.GetHeader("X-Twilio-Signature")
	token, ok := s.deps.Webhooks.AuthToken(form.Get("AccountSid"))
	if sig == "" || !ok || !notify.ValidateSignature(token, s.webhookURL(c, path), form, sig) {
		reason := "bad X-Twilio-Signature"
		repeated := repeatedField(form)
		switch {
		case sig == "":
			reason = "no X-Twilio-Signature"
		case repeated != "":
			reason = "field " + strconv.Quote(repeated) + " given more than once"
		case !ok:
			reason = "unknown account " + strconv.Quote(form.Get("AccountSid"))
		}
		s.logger.Warn("webhook refused", "path", path, "reason", reason, "client", c.ClientIP())
		s.writeError(c, muster.Errorf(muster.EForbidden, "webhook refused: %s", reason))
		return nil
	}
	return form
}

// webhookRetryAfter is the Retry-After of a genuine webhook that was not
// recorded (writeUnrecorded): long enough for a new leader to be elected or
// a member's clock to be put right.
const webhookRetryAfter = "10"

// writeUnrecorded answers a genuine webhook (its signature checked) that
// could not be recorded, err saying why, with 503 and a Retry-After: a
// provider takes a 4xx as final and drops the callback (a person's reply,
// a delivery report), and posts one answered 5xx again later. Whatever
// err's code (the leader refused this node's request, no leader, a
// timeout, a batch the state machine would not take), the item was not
// recorded, so it is to be posted again; only a webhook that is not
// genuine is refused with a 4xx (verifiedForm), and one naming no attempt
// muster makes.
func (s *Server) writeUnrecorded(c *gin.Context, err error) {
	s.logger.Warn("webhook not recorded: the provider is asked to post it again", "request_id", requestID(c),
		"path", c.Request.URL.Path, "err", err)
	msg := "webhook not recorded; post it again later"
	var e *muster.Error
	if errors.As(err, &e) && e.Code != muster.EInternal {
		msg += ": " + err.Error()
	} else {
		msg += "; the server log has the details under request id " + requestID(c)
	}
	c.Header("Retry-After", webhookRetryAfter)
	c.AbortWithStatusJSON(http.StatusServiceUnavailable, errorBody{Error: muster.Error{Code: muster.EUnavailable, Message: msg}})
}

// webhookURL is the URL the provider signed: the public URL when one is
// configured, else the one this request came to.
func (s *Server) webhookURL(c *gin.Context, path string) string {
	base := strings.TrimRight(s.cfg.PublicURL, "/")
	if base == "" {
		scheme := "http"
		if c.Request.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + c.Request.Host
	}
	u := base + path
	if q := c.Request.URL.RawQuery; q != "" {
		u += "?" + q
	}
	return u
}

func (s *Server) smsStatus(c *gin.Context) {
	form := s.verifiedForm(c, hookSMSStatus)
	if form == nil {
		return
	}
	get := func(k string) string { return strings.Join(form[k], "") }
	it := notify.InboundItem{Kind: notify.InboundStatus, Attempt: c.Query("attempt"), SID: get("MessageSid"),
		Status: get("MessageStatus"), Account: get("AccountSid"), To: get("To"), From: get("From")}
	if it.Status == "" {
		it.Status = get("SmsStatus")
	}
	it.Code, _ = strconv.Atoi(get("ErrorCode"))
	if _, _, _, err := notify.ParseAttemptID(it.Attempt); err != nil {
		s.writeError(c, err)
		return
	}
	if _, err := s.deps.Webhooks.Submit(c.Request.Context(), it); err != nil {
		s.writeUnrecorded(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// twiml is a messaging TwiML answer: an optional reply to the sender.
type twiml struct {
	XMLName xml.Name `xml:"Response"`
	Message string   `xml:"Message,omitempty"`
}

func (s *Server) smsInbound(c *gin.Context) {
	form := s.verifiedForm(c, hookSMSInbound)
	if form == nil {
		return
	}
	get := func(k string) string { return strings.Join(form[k], "") }
	it := notify.InboundItem{Kind: notify.InboundReply, SID: get("MessageSid"), From: senderNumber(get("From")), To: get("To"),
		Body: get("Body"), Account: get("AccountSid")}
	if it.SID == "" {
		it.SID = get("SmsSid")
	}
	res, err := s.deps.Webhooks.Submit(c.Request.Context(), it)
	if err != nil {
		s.writeUnrecorded(c, err)
		return
	}
	var answer twiml
	switch {
	case res.Replies > maxSMSAnswers:
	case res.ReasonKept: // the reason of a decline that gave none
		answer.Message = notify.ReasonRecorded(res.Language, res.Exercise, res.Words)
	case res.Outcome == notify.InboundNote && res.ToReport: // a reply to a 叫应 report sent to them
		answer.Message = notify.ReportTakesNoReply(res.Language, res.Exercise)
	case res.Outcome == notify.InboundNote && res.DeclinedAfterAck: // they accepted, and cannot come after all: flagged
		answer.Message = notify.DeclineAfterAckNoted(res.Language, res.Exercise, res.Words)
	case res.Outcome == notify.InboundNote && res.State.Answered(): // their first answer stands: say so, not "reply 1"
		answer.Message = notify.FirstAnswerStands(res.Language, res.Exercise)
	case res.Outcome == notify.InboundNote && res.Reply == notify.ReplyNote && notify.OptOut(it.Body): // STOP, 退订: not to be told to report
		answer.Message = notify.OptOutText(res.Language, res.Exercise, res.Words)
	case res.Outcome == notify.InboundNote && res.Reply == notify.ReplyNote:
		answer.Message = notify.HelpText(res.Language, res.Exercise, res.Words)
	case res.Outcome == notify.InboundApplied && res.Reply != notify.ReplyNote: // an answer recorded: say so, and which call-ups still wait
		answer.Message = notify.AnswerRecorded(res.Language, res.Exercise, res.Words, res.Reply, res.Named, res.Waiting, res.WaitingWords)
		if res.AskReason { // a bare 2: the call-up asked for the reason
			answer.Message += notify.ReasonWanted(res.Language)
		}
	case res.Outcome == notify.InboundNoCallUp && res.Ended != "": // their call-up ended: nothing was recorded
		answer.Message = notify.CallUpEnded(res.Language, res.Exercise, res.Ended)
	case res.Outcome == notify.InboundApproval: // an approver answered the text of a request waiting for them
		answer.Message = notify.ApprovalTakesNoReply(res.Activation, res.Person != "")
	case res.Outcome == notify.InboundWarningAck: // a commander (or superior) answered a 叫应 text: recorded, starts nothing
		answer.Message = notify.WarningAckRecorded(res.Warning, res.Superior, res.Start, res.Person != "")
	}
	// A reply on a drill's number from someone a real call-up waits for:
	// they are pointed to it, past the bound on answers too, up to its own.
	switch {
	case !res.LiveWaiting || res.Replies > maxLivePointers:
	case res.Ended == notify.EndedForLive: // the drill stopped for it: says so
		answer.Message = notify.CallUpEnded(res.Language, res.Exercise, res.Ended)
	case res.Replies > maxSMSAnswers || answer.Message == "":
		answer.Message = notify.LiveCallUpWaits(res.Language, res.Exercise, true)
	default:
		answer.Message += notify.LiveCallUpWaits(res.Language, res.Exercise, false)
	}
	c.XML(http.StatusOK, answer)
}

// maxSMSAnswers bounds the replies to one recipient of a call-up that get
// an SMS back, those after it ended included: a phone that answers every
// SMS automatically must not keep muster writing to it.
const maxSMSAnswers = 3

// maxLivePointers bounds, in the same count, the replies to a drill that
// get an SMS back when a LIVE call-up waits for their sender
// (InboundResult.LiveWaiting): past maxSMSAnswers they get the pointer to
// it alone, a real call-up being worth more than the bound, up to this.
const maxLivePointers = 10

// hangup ends a call whose TwiML cannot be given.
var hangup = twimlpkg.Response{Verbs: []twimlpkg.Verb{twimlpkg.Hangup{}}}

func writeTwiML(c *gin.Context, r twimlpkg.Response) {
	c.Data(http.StatusOK, "text/xml; charset=utf-8", r.Render())
}

// voiceCallUp is the spoken call-up of a voice attempt, its keys posted to
// gatherPath (the attempt's TwiML path + "/gather").
func (s *Server) voiceCallUp(c *gin.Context, script notify.VoiceScript, gatherPath string) twimlpkg.CallUp {
	call := twimlpkg.CallUp{Text: script.Text, Language: twimlpkg.LanguageFor(script.Language), Action: s.webhookURL(c, gatherPath)}
	call.Voice = s.cfg.Voices[call.Language]   // none: twiml.DefaultVoice
	call.Chinese = s.cfg.Voices[twimlpkg.ZhCN] // says the Chinese in an English call
	if script.Drill {
		call.Mark = plans.ExerciseMark
		if call.Language == twimlpkg.EnUS { // said as the English script begins
			call.Mark += plans.ExerciseMarkEN
		}
	}
	return call
}

// voiceTwiML answers Twilio's request for a call's TwiML when the call is
// answered: the call-up read twice inside a one-key Gather, or, for an
// answering machine, twice without one and with how to answer by SMS (a
// machine never acknowledges); a correction twice with no keys, to either.
// A call picked up after its call-up no longer runs says why (withdrawn,
// with the retraction's message, corrected, ended) and hangs up; one
// picked up by someone who answered already says so, thanks them and hangs
// up.
func (s *Server) voiceTwiML(c *gin.Context) {
	form := s.verifiedForm(c, c.Request.URL.EscapedPath())
	if form == nil {
		return
	}
	// Answered from this node's state without a raft round trip: the
	// person is listening. The call's progress, AnsweredBy included, is
	// recorded from its status callbacks.
	attempt := c.Param("attempt")
	script, err := s.deps.Webhooks.VoiceScript(c.Request.Context(), attempt)
	if err != nil {
		s.logger.Warn("voice call-up without a script", "attempt", attempt, "err", err)
		writeTwiML(c, hangup)
		return
	}
	call := s.voiceCallUp(c, script, c.Request.URL.EscapedPath()+"/gather")
	if !script.Live {
		act, _, _, _, err := notify.ParseEscalationAttemptID(attempt)
		if err != nil || script.Notice { // a correction stopped with force reads nothing: it was wrong
			writeTwiML(c, hangup)
			return
		}
		writeTwiML(c, s.voiceClosed(c.Request.Context(), call, act, muster.Stale, false))
		return
	}
	switch {
	case script.Answered != "" && !script.Notice:
		writeTwiML(c, twimlpkg.AlreadyAnswered(call, script.Answered == notify.StateAcked))
	case script.Notice:
		// A correction takes no answer, so an answering machine gets it as
		// a person does: read twice, no keys. Its voicemail asked the
		// listener to reply 1 to come, after "ignore the call-up".
		writeTwiML(c, twimlpkg.Notice(call))
	case notify.MachineAnswered(strings.Join(form["AnsweredBy"], "")):
		writeTwiML(c, twimlpkg.Voicemail(call))
	default:
		writeTwiML(c, twimlpkg.Prompt(call))
	}
}

// voiceGather takes the key pressed on a call-up: 1 and 2 are applied as
// answers, 9 reads the call-up again, anything else gets the key help.
// The call says an answer was taken only when it was recorded: once the
// call-up no longer takes answers (retracted, stood down) every key is
// answered with what became of it, the retraction's message included, and
// the call ends; a key after a first answer says the first one stands.
// A 1 or 2 on a drill's call that no drill takes is recorded too (it
// answers nothing), so that a LIVE call-up waiting for the person is said
// after the drill's end (withLivePointer).
func (s *Server) voiceGather(c *gin.Context) {
	form := s.verifiedForm(c, c.Request.URL.EscapedPath())
	if form == nil {
		return
	}
	get := func(k string) string { return strings.Join(form[k], "") }
	ctx := c.Request.Context()
	attempt := c.Param("attempt")
	digits := get("Digits")
	script, err := s.deps.Webhooks.VoiceScript(ctx, attempt)
	if err != nil || script.Notice { // a notice takes no keys
		writeTwiML(c, hangup)
		return
	}
	act, _, _, _, err := notify.ParseEscalationAttemptID(attempt)
	if err != nil {
		writeTwiML(c, hangup)
		return
	}
	call := s.voiceCallUp(c, script, c.Request.URL.EscapedPath()) // this request came to the gather URL
	answer := twimlpkg.ParseAnswer(digits)
	it := notify.InboundItem{Kind: notify.InboundDigits, Attempt: attempt, SID: get("CallSid"), Body: digits,
		AnsweredBy: get("AnsweredBy"), Account: get("AccountSid"), To: get("To"), From: get("From")}
	if !script.Live {
		closed := s.voiceClosed(ctx, call, act, muster.Stale, true)
		if script.Drill && (answer == twimlpkg.AnswerAccept || answer == twimlpkg.AnswerDecline) {
			// Nothing to lose here: a key not recorded gets the drill's
			// end without the pointer, not a retry.
			res, err := s.deps.Webhooks.Submit(ctx, it)
			if err != nil {
				s.logger.Warn("voice key on an ended drill not recorded", "attempt", attempt, "err", err)
			}
			closed = withLivePointer(call, closed, res)
		}
		writeTwiML(c, closed)
		return
	}
	switch answer {
	case twimlpkg.AnswerAccept, twimlpkg.AnswerDecline:
		res, err := s.deps.Webhooks.Submit(ctx, it)
		if err != nil {
			s.writeUnrecorded(c, err) // Twilio retries; the answer is not lost
			return
		}
		switch res.Outcome {
		case notify.InboundApplied, notify.InboundDuplicate:
			// Recorded now, or by the same key on this call posted before
			// (Twilio retries a gather whose answer did not reach it).
		case notify.InboundNoCallUp:
			// Closed after this node read the script: ask the leader why.
			writeTwiML(c, withLivePointer(call, s.voiceClosed(ctx, call, act, muster.Default, true), res))
			return
		case notify.InboundNote:
			writeTwiML(c, voiceFirstStands(call, res))
			return
		default: // a machine's keys, an attempt the state does not match
			s.logger.Warn("voice key not recorded", "attempt", attempt, "outcome", res.Outcome)
			writeTwiML(c, voiceSay(call, voiceTextFor(call).notRecorded))
			return
		}
	}
	writeTwiML(c, twimlpkg.Reply(call, digits))
}

// withLivePointer is r, what a drill's call says to a key no drill took,
// with what a LIVE call-up waiting for the person (res.LiveWaiting) asks
// of them said before its Hangup, in the call's language and the LIVE
// call-up's words (notify.LiveCallUpWaitsByVoice); up to maxLivePointers
// of their keys and replies on the drill's number are pointed to it.
func withLivePointer(call twimlpkg.CallUp, r twimlpkg.Response, res notify.InboundResult) twimlpkg.Response {
	n := len(r.Verbs) - 1
	if !res.LiveWaiting || res.Replies > maxLivePointers || n < 0 {
		return r
	}
	if _, ok := r.Verbs[n].(twimlpkg.Hangup); !ok {
		return r
	}
	lang := plans.LangZH
	if call.Language == twimlpkg.EnUS {
		lang = plans.LangEN
	}
	verbs := append(append([]twimlpkg.Verb{}, r.Verbs[:n]...), call.Speak(notify.LiveCallUpWaitsByVoice(lang, res.LiveWords))...)
	return twimlpkg.Response{Verbs: append(verbs, twimlpkg.Hangup{})}
}

// voiceText is what a call says to a key that is not taken as an answer,
// and (the …Call ones) to a call picked up after its call-up stopped.
type voiceText struct {
	withdrawn, corrected, ended, notOpen, noticeIs       string
	notRecorded                                          string
	withdrawnCall, correctedCall, endedCall, notOpenCall string
	// drillEnded and drillEndedCall are ended and endedCall of a drill,
	// as its SMS says it (notify.CallUpEnded).
	drillEnded, drillEndedCall string
}

var voiceTexts = map[twimlpkg.Language]voiceText{
	twimlpkg.ZhCN: {
		withdrawn:   "本次召集已撤回，您的按键未记录。",
		corrected:   "本次召集已更正，请以更正通知为准，您的按键未记录。",
		ended:       "本次召集已结束，您的按键未记录。",
		notOpen:     "本次召集未在进行，您的按键未记录。",
		noticeIs:    "通知：",
		notRecorded: "您的按键未能记录，请回复短信或与值班人员联系。",

		withdrawnCall: "本次召集已撤回。",
		correctedCall: "本次召集已更正，请以更正通知为准。",
		endedCall:     "本次召集已结束，无需回复。",
		notOpenCall:   "本次召集未在进行，无需回复。",

		drillEnded:     "本次演练已结束，您的按键未记录。",
		drillEndedCall: "本次演练已结束，无需回复。",
	},
	twimlpkg.EnUS: {
		withdrawn:   "This call-up was withdrawn. Your key was not recorded.",
		corrected:   "This call-up was corrected: follow the correction. Your key was not recorded.",
		ended:       "This call-up has ended. Your key was not recorded.",
		notOpen:     "This call-up is not under way. Your key was not recorded.",
		noticeIs:    "Notice: ",
		notRecorded: "Your key could not be recorded. Reply to the SMS or call the duty office.",

		withdrawnCall: "This call-up was withdrawn.",
		correctedCall: "This call-up was corrected: follow the correction.",
		endedCall:     "This call-up has ended. No answer is needed.",
		notOpenCall:   "This call-up is not under way. No answer is needed.",

		drillEnded:     "This drill has ended. Your key was not recorded.",
		drillEndedCall: "This drill has ended. No answer is needed.",
	},
}

func voiceTextFor(call twimlpkg.CallUp) voiceText {
	if t, ok := voiceTexts[call.Language]; ok {
		return t
	}
	return voiceTexts[twimlpkg.ZhCN]
}

// voiceSay is a document that says each text in the call's language and
// hangs up; a drill's call says its mark first.
func voiceSay(call twimlpkg.CallUp, texts ...string) twimlpkg.Response {
	var r twimlpkg.Response
	for i, t := range texts {
		if i == 0 {
			t = call.Marked(t)
		}
		r.Verbs = append(r.Verbs, call.Speak(t)...)
	}
	r.Verbs = append(r.Verbs, twimlpkg.Hangup{})
	return r
}

// voiceClosed is the answer to a key (key) or a call picked up on a
// call-up that no longer takes answers: withdrawn, with what the
// retraction said, corrected, ended (stood down) or otherwise not under
// way, read at level; then Hangup. To a key it adds that the key was not
// recorded.
func (s *Server) voiceClosed(ctx context.Context, call twimlpkg.CallUp, act plans.ActivationID, level muster.Consistency, key bool) twimlpkg.Response {
	vt := voiceTextFor(call)
	if call.Mark != "" { // a drill's call: as its SMS says it
		vt.ended, vt.endedCall = vt.drillEnded, vt.drillEndedCall
	}
	if !key {
		vt.withdrawn, vt.corrected, vt.ended, vt.notOpen = vt.withdrawnCall, vt.correctedCall, vt.endedCall, vt.notOpenCall
	}
	if s.deps.Activations == nil {
		return voiceSay(call, vt.notOpen)
	}
	st, err := s.deps.Activations.Activation(ctx, level, act)
	if err != nil {
		s.logger.Warn("voice key on a closed call-up", "activation", act, "err", err)
		return voiceSay(call, vt.notOpen)
	}
	switch ret := st.Retraction; {
	case ret != nil && ret.Correct:
		return voiceSay(call, vt.corrected, vt.noticeIs+retractionSaid(call, ret))
	case ret != nil:
		return voiceSay(call, vt.withdrawn, vt.noticeIs+retractionSaid(call, ret))
	case st.Status == notify.StatusStoodDown:
		return voiceSay(call, vt.ended)
	}
	return voiceSay(call, vt.notOpen)
}

// retractionSaid is what the correction of ret says to the person of call:
// its English words (rules 13) on an English call, else its message.
func retractionSaid(call twimlpkg.CallUp, ret *notify.Retraction) string {
	if call.Language == twimlpkg.EnUS && ret.MessageEN != "" {
		return ret.MessageEN
	}
	return ret.Message
}

// voiceFirstStands answers a key pressed after the person had answered
// (the key was kept as a note, res): their first answer stands, in the
// call-up's own words (twiml.FirstAnswerStands), and a 2 after an accept
// is flagged to the duty office, as the SMS says, in them too
// (twiml.DeclinedAfterAck).
func voiceFirstStands(call twimlpkg.CallUp, res notify.InboundResult) twimlpkg.Response {
	vt := voiceTextFor(call)
	if res.DeclinedAfterAck {
		return twimlpkg.DeclinedAfterAck(call)
	}
	switch res.State {
	case notify.StateAcked:
		return twimlpkg.FirstAnswerStands(call, true)
	case notify.StateDeclined:
		return twimlpkg.FirstAnswerStands(call, false)
	}
	return voiceSay(call, vt.notRecorded)
}

// voiceStatus takes a call's progress callbacks.
func (s *Server) voiceStatus(c *gin.Context) {
	form := s.verifiedForm(c, notify.HookVoiceStatus)
	if form == nil {
		return
	}
	get := func(k string) string { return strings.Join(form[k], "") }
	it := notify.InboundItem{Kind: notify.InboundCall, Attempt: c.Query("attempt"), SID: get("CallSid"), Status: get("CallStatus"),
		AnsweredBy: get("AnsweredBy"), Account: get("AccountSid"), To: get("To"), From: get("From")}
	if _, _, _, _, err := notify.ParseEscalationAttemptID(it.Attempt); err != nil {
		s.writeError(c, err)
		return
	}
	if _, err := s.deps.Webhooks.Submit(c.Request.Context(), it); err != nil {
		s.writeUnrecorded(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// senderNumber is the From of an inbound SMS as the roster writes numbers
// (plans.NormalizePhone: E.164, a number without a country code read in
// plans.PhoneRegion), so that a reply an SMS gateway in front of the
// provider passes on as 13474601328, 8613474601328 or 008613474601328
// finds its sender as +8613474601328 does. A From that is no phone number
// (a short code, a name) is kept as it came. The signature was checked
// over the form as posted.
func senderNumber(from string) string {
	if n, err := plans.NormalizePhone(from); err == nil {
		return n
	}
	return from
}

// repeatedField is a field the form gives more than once, or "".
func repeatedField(form url.Values) string {
	for k, v := range form {
		if len(v) > 1 {
			return k
		}
	}
	return ""
}
