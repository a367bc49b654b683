package api

import (
	"context"
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"muster"
	"muster/notify"
)

// Webhooks is what api needs to take provider webhooks: the auth token of
// each provider account (to check X-Twilio-Signature) and a way to apply a
// verified item (notify.Inbound).
type Webhooks interface {
	AuthToken(accountSID string) (string, bool)
	Submit(ctx context.Context, it notify.InboundItem) (notify.InboundResult, error)
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
		switch {
		case sig == "":
			reason = "no X-Twilio-Signature"
		case !ok:
			reason = "unknown account " + strconv.Quote(form.Get("AccountSid"))
		}
		s.logger.Warn("webhook refused", "path", path, "reason", reason, "client", c.ClientIP())
		s.writeError(c, muster.Errorf(muster.EForbidden, "webhook refused: %s", reason))
		return nil
	}
	return form
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
		s.writeError(c, err)
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
	it := notify.InboundItem{Kind: notify.InboundReply, SID: get("MessageSid"), From: get("From"), To: get("To"),
		Body: get("Body"), Account: get("AccountSid")}
	if it.SID == "" {
		it.SID = get("SmsSid")
	}
	res, err := s.deps.Webhooks.Submit(c.Request.Context(), it)
	if err != nil {
		s.writeError(c, err)
		return
	}
	var answer twiml
	if res.Outcome == notify.InboundNote && res.Reply == notify.ReplyNote {
		answer.Message = notify.HelpText(res.Language)
	}
	c.XML(http.StatusOK, answer)
}
