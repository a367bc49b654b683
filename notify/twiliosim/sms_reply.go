package twiliosim

import (
	"bytes"
	"cmp"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// maxReplyTwiML bounds the answer to an inbound SMS webhook that is read
// for a TwiML reply; a reply is one short SMS.
const maxReplyTwiML = 64 << 10

// twimlReply is one <Message> of a messaging TwiML answer: what Twilio
// sends back to the person who texted. To and From are the verb's
// attributes, empty when absent.
type twimlReply struct {
	To, From, Body string
}

// parseReplyTwiML reads the answer to an inbound SMS webhook as Twilio
// does: an empty body sends nothing; otherwise it must be a <Response>
// whose <Message> verbs (text directly or in <Body>) are each sent. Other
// verbs (<Redirect>) are not simulated and are skipped.
func parseReplyTwiML(doc []byte) ([]twimlReply, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, nil
	}
	var r struct {
		XMLName  xml.Name `xml:"Response"`
		Messages []struct {
			To     string   `xml:"to,attr"`
			From   string   `xml:"from,attr"`
			Text   string   `xml:",chardata"`
			Bodies []string `xml:"Body"`
		} `xml:"Message"`
	}
	if err := xml.Unmarshal(doc, &r); err != nil {
		return nil, fmt.Errorf("not a TwiML <Response>: %w", err)
	}
	out := make([]twimlReply, 0, len(r.Messages))
	for _, m := range r.Messages {
		body := strings.TrimSpace(m.Text)
		if len(m.Bodies) > 0 {
			body = strings.TrimSpace(strings.Join(m.Bodies, ""))
		}
		if body == "" {
			return nil, errors.New("a <Message> with no body")
		}
		out = append(out, twimlReply{To: strings.TrimSpace(m.To), From: strings.TrimSpace(m.From), Body: body})
	}
	return out, nil
}

// sendInbound posts an inbound SMS webhook (form) to target and, as Twilio
// does, sends the <Message> replies its answer holds: each is kept as an
// outbound-reply message from the number the person texted to the person
// (unless the verb names others), counted in twiml_replies, so the
// listings show what people were told ("first answer stands", help text,
// "the call-up has ended"). A reply's fate is decided at once, without
// status callbacks or a reply of its own: failed when the number opted out
// (21610) or a rule makes its messages fail or be refused, undelivered or
// sent (silent) when a rule says so, else delivered. An answer that is not
// TwiML sends nothing and is logged (Twilio's error 12100).
func (s *Server) sendInbound(ctx context.Context, a *account, target string, form url.Values) error {
	status, body, err := s.request(ctx, a.AuthToken, "", target, form, maxReplyTwiML)
	if err != nil {
		return err
	}
	if status < 200 || status > 299 {
		return fmt.Errorf("webhook %s: HTTP %d", target, status)
	}
	replies, err := parseReplyTwiML(body)
	if err != nil {
		s.cfg.Logger.Warn("twiliosim: the answer to an inbound SMS is not TwiML; no reply sent (Twilio error 12100)", "url", target, "err", err)
		return nil
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range replies {
		m := &message{Message: Message{
			SID: s.newSID("SM"), AccountSID: a.SID, MessagingServiceSID: form.Get("MessagingServiceSid"), Direction: "outbound-reply",
			From: cmp.Or(r.From, form.Get("To")), To: cmp.Or(r.To, form.Get("From")), Body: r.Body, Segments: segments(r.Body),
			Created: now, Updated: now,
		}}
		s.replyFate(a, &m.Message, now)
		s.store(m)
		a.c.twimlReplies.Add(1)
	}
	return nil
}

// replyFate sets the final status of a TwiML reply m, sent at now. Caller
// holds s.mu.
func (s *Server) replyFate(a *account, m *Message, now time.Time) {
	if a.optOut[m.To] {
		m.Status, m.ErrorCode = StatusFailed, 21610
		return
	}
	rule := s.match(m.To)
	switch {
	case rule == nil || rule.Outcome == OutcomeSlow:
		m.Status, m.Sent = StatusDelivered, now
	case rule.Outcome == OutcomeReject || rule.Outcome == OutcomeFailed:
		m.Status, m.ErrorCode = StatusFailed, rule.Code
	case rule.Outcome == OutcomeUndelivered:
		m.Status, m.ErrorCode, m.Sent = StatusUndelivered, rule.Code, now
	default: // silent: sent, no report
		m.Status, m.Sent = StatusSent, now
	}
}
