package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"muster"
	"muster/notify"
	"muster/plans"
)

// Responders is what the responder page needs: the call-up an answer link
// names, read on this node, and the way answers are taken, the same batched
// inbound path as SMS replies. notify.Inbound implements it; a node serves
// the page when its Deps.Webhooks does.
type Responders interface {
	AnswerPage(ctx context.Context, level muster.Consistency, token string) (notify.AnswerPage, error)
	Submit(ctx context.Context, it notify.InboundItem) (notify.InboundResult, error)
}

// responderFiles are the responder page's templates and style sheet. The
// page needs no script and loads nothing from elsewhere, so it works on a
// basic phone browser.
//
//go:embed responder
var responderFiles embed.FS

// Limits of the responder page: a form is a few hundred bytes; each link
// may post a few answers in a burst and one every answerEvery after that;
// the limiter remembers at most answerLimitsMax links (then starts afresh).
const (
	responderMaxBody = 8 << 10
	answerBurst      = 5
	answerEvery      = 10 * time.Second
	answerLimitsMax  = 100_000
)

// responderHeaders go on every responder response besides pageHeaders:
// the page is never cached or indexed (its URL is the responder's
// credential).
var responderHeaders = map[string]string{
	"Cache-Control": "no-store",
	"X-Robots-Tag":  "noindex, nofollow",
}

// responder serves the responder page: the templates, the style sheet and
// the per-link answer limits.
type responder struct {
	page, message *template.Template
	css           []byte
	cssVersion    string
	zone          *time.Location

	mu     sync.Mutex
	limits map[string]*rate.Limiter // by link token
}

// newResponder parses the embedded files once. It panics if they are not
// what the build embedded, which a test of the package catches.
func newResponder(zone *time.Location) *responder {
	css, err := responderFiles.ReadFile("responder/page.css")
	if err != nil {
		panic("embedded responder page: " + err.Error())
	}
	sum := sha256.Sum256(css)
	return &responder{
		page:       template.Must(template.ParseFS(responderFiles, "responder/page.html")),
		message:    template.Must(template.ParseFS(responderFiles, "responder/message.html")),
		css:        css,
		cssVersion: hex.EncodeToString(sum[:6]),
		zone:       zone,
		limits:     map[string]*rate.Limiter{},
	}
}

// allow reports whether the link may post an answer now.
func (rp *responder) allow(token string) bool {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	l := rp.limits[token]
	if l == nil {
		if len(rp.limits) >= answerLimitsMax {
			clear(rp.limits)
		}
		l = rate.NewLimiter(rate.Every(answerEvery), answerBurst)
		rp.limits[token] = l
	}
	return l.Allow()
}

// responderText is the page's wording in one language.
type responderText struct {
	Lang, Title, Drill, NotADrill        string
	Level, Regions, Name, Roles          string
	Ask, Yes, No, ReasonLabel            string
	AnsweredYes, AnsweredNo, ReasonIs    string
	FirstStands, SMSHint                 string
	StoodDown, Retracted, NotOpen        string
	Corrected, NoticeIs                  string
	GotYes, GotNo, GotAgain, GotNote     string
	NotRecorded, TimeFormat, LevelFormat string
}

var responderTexts = map[plans.Language]*responderText{
	plans.LangZH: {
		Lang: "zh-CN", Title: "应急召集", Drill: plans.ExerciseMark + "本次为演练，不是真实事件",
		NotADrill: plans.NotADrillMark(plans.LangZH) + "本次为真实召集，请按要求回复",
		Level:     "级别", Regions: "区域", Name: "姓名", Roles: "身份",
		Ask: "请确认能否到岗：", Yes: "到", No: "不能到", ReasonLabel: "不能到的原因（选填）：",
		AnsweredYes: "您已回复：到", AnsweredNo: "您已回复：不能到", ReasonIs: "原因：",
		FirstStands: "以第一次回复为准。如有变化，请与值班人员联系。",
		SMSHint:     "也可直接回复短信：1 到岗，2 不能到岗并说明原因。",
		StoodDown:   "本次召集已结束，无需回复。", Retracted: "本次召集已撤回，无需回复。", NotOpen: "本次召集未在进行，无需回复。",
		Corrected: "本次召集已更正，请以更正通知为准，此页不再接收回复。", NoticeIs: "通知：",
		GotYes: "已收到：到。谢谢！", GotNo: "已收到：不能到。", GotAgain: "已收到。",
		GotNote:     "您之前已回复，以第一次回复为准；本次内容已记录，值班人员可以看到。",
		NotRecorded: "本次召集已结束，您的回复未记录。",
		TimeFormat:  "（1月2日 15:04）", LevelFormat: "%s级（%s）",
	},
	plans.LangEN: {
		Lang: "en", Title: "Call-up", Drill: plans.ExerciseMark + " DRILL: this is an exercise, not a real emergency.",
		NotADrill: plans.NotADrillMark(plans.LangEN) + " This is a real call-up: please answer.",
		Level:     "Level", Regions: "Regions", Name: "Name", Roles: "Role",
		Ask: "Can you report for duty?", Yes: "Coming", No: "Cannot come", ReasonLabel: "Why you cannot come (optional):",
		AnsweredYes: "You answered: coming", AnsweredNo: "You answered: cannot come", ReasonIs: "Reason: ",
		FirstStands: "Your first answer stands. If anything changes, call the duty office.",
		SMSHint:     "You can also reply to the SMS: 1 coming, 2 cannot come and why.",
		StoodDown:   "This call-up has ended; no answer is needed.", Retracted: "This call-up was withdrawn; no answer is needed.",
		Corrected: "This call-up was corrected: follow the correction; this page takes no more answers.", NoticeIs: "Notice: ",
		NotOpen: "This call-up is not under way; no answer is needed.",
		GotYes:  "Received: coming. Thank you!", GotNo: "Received: cannot come.", GotAgain: "Received.",
		GotNote:     "You had answered before and your first answer stands; this one is kept for the duty office to see.",
		NotRecorded: "This call-up has ended; your answer was not recorded.",
		TimeFormat:  " (Jan 2, 15:04)", LevelFormat: "%s (%s)",
	},
}

func textFor(lang plans.Language) *responderText {
	if t, ok := responderTexts[lang]; ok {
		return t
	}
	return responderTexts[plans.LangZH]
}

// responderResult is what became of a posted answer, shown above the page.
type responderResult struct {
	Class, Text string // Class: ok or warn
}

// responderView is the page's data.
type responderView struct {
	Lang       string
	T          *responderText
	P          notify.AnswerPage
	Drill      bool
	NotADrill  bool // a LIVE call-up whose SMS said 【非演练】 (notify.AnswerPage.NotADrill)
	Level      string
	Answer     string // the answer given, if any
	Closed     string // why no answer is taken, if none is; set, the page shows no form and no SMS hint
	Notice     string // the retraction's message, shown under Closed
	Form       bool   // the answer buttons are shown
	Nonce      string
	MaxReason  int
	CSSVersion string
	Result     *responderResult
}

func (rp *responder) view(p notify.AnswerPage, res *responderResult) responderView {
	t := textFor(p.Language)
	v := responderView{Lang: t.Lang, T: t, P: p, Drill: p.Purpose.Drill(), NotADrill: p.NotADrill && !p.Purpose.Drill(), MaxReason: notify.MaxWebReason, CSSVersion: rp.cssVersion, Result: res,
		Level: fmt.Sprintf(t.LevelFormat, p.Level, p.LevelName)}
	when := ""
	if !p.Answered.IsZero() {
		when = p.Answered.In(rp.zone).Format(t.TimeFormat)
	}
	switch p.State {
	case notify.StateAcked:
		v.Answer = t.AnsweredYes + when
	case notify.StateDeclined:
		v.Answer = t.AnsweredNo + when
		if p.Reason != "" {
			v.Answer += " " + t.ReasonIs + p.Reason
		}
	}
	switch {
	case p.Open:
		v.Form = !p.State.Answered()
	case p.Retracted && p.Corrected:
		v.Closed = t.Corrected
	case p.Retracted:
		v.Closed = t.Retracted
	case p.Status == notify.StatusStoodDown:
		v.Closed = t.StoodDown
	default:
		v.Closed = t.NotOpen
	}
	if p.Retracted && p.Notice != "" {
		v.Notice = t.NoticeIs + p.Notice
	}
	if v.Form {
		v.Nonce = newNonce()
	}
	return v
}

// newNonce is a fresh form nonce: it names one showing of the page, so
// the same form posted twice (a double tap, a reload) is applied once.
func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func validNonce(s string) bool {
	if len(s) != 22 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// plainMessage is a page without a call-up: a bad link, a refused or
// failed request. Its language is unknown, so it says it in both.
type plainMessage struct {
	Title, Text, TitleEN, TextEN string
	CSSVersion                   string
}

var (
	msgNotFound = plainMessage{Title: "链接无效", Text: "请核对短信中的链接，或直接回复短信：1 到岗，2 不能到岗。",
		TitleEN: "This link is not valid", TextEN: "Check the link in your SMS, or reply to the SMS: 1 coming, 2 cannot come."}
	msgForbidden = plainMessage{Title: "请求被拒绝", Text: "请从短信中的链接打开本页后再回复。",
		TitleEN: "Request refused", TextEN: "Open this page from the link in your SMS and answer there."}
	msgTooMany = plainMessage{Title: "操作过于频繁", Text: "请稍后再试，或直接回复短信。",
		TitleEN: "Too many attempts", TextEN: "Try again in a minute, or reply to the SMS."}
	msgUnavailable = plainMessage{Title: "暂时无法处理", Text: "请稍后再试，或直接回复短信：1 到岗，2 不能到岗。",
		TitleEN: "Temporarily unavailable", TextEN: "Try again shortly, or reply to the SMS: 1 coming, 2 cannot come."}
	msgBadForm = plainMessage{Title: "请求无效", Text: "请重新打开短信中的链接，选择“到”或“不能到”。",
		TitleEN: "Bad request", TextEN: "Open the link in your SMS again and choose coming or cannot come."}
	msgTooLarge = plainMessage{Title: "内容过长", Text: "请缩短原因后再试。",
		TitleEN: "Too long", TextEN: "Shorten the reason and try again."}
)

func (rp *responder) render(c *gin.Context, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		panic("responder page: " + err.Error()) // the templates are fixed: a test catches this
	}
	setPageHeaders(c, responderHeaders)
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
	c.Abort()
}

func (rp *responder) plain(c *gin.Context, status int, m plainMessage) {
	m.CSSVersion = rp.cssVersion
	rp.render(c, status, rp.message, m)
}

// redactToken returns the link token of the request and keeps it out of
// the access log, which logs the request's path after the handler ran:
// the token is the responder's credential, so only its first characters
// are logged.
func redactToken(c *gin.Context) string {
	token := c.Param("token")
	c.Request.URL.Path = notify.AnswerLinkPath + token[:min(4, len(token))] + "*"
	c.Request.URL.RawPath = ""
	return token
}

// responders is the node's Responders, if it serves the page.
func (s *Server) responders() (Responders, bool) {
	r, ok := s.deps.Webhooks.(Responders)
	return r, ok
}

// responderFailed answers a request whose link could not be read or whose
// answer could not be taken: 404 for a link no call-up has, 503 when the
// cluster cannot answer now (the responder may try again or reply by SMS).
func (s *Server) responderFailed(c *gin.Context, rp *responder, err error) {
	switch code := muster.ErrorCode(err); {
	case code == muster.ENotFound:
		rp.plain(c, http.StatusNotFound, msgNotFound)
	case code == muster.EInvalid:
		rp.plain(c, http.StatusBadRequest, msgBadForm)
	default:
		level := slog.LevelWarn
		if code == muster.EInternal && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			level = slog.LevelError
		}
		s.logger.LogAttrs(c.Request.Context(), level, "responder page failed", slog.String("request_id", requestID(c)),
			slog.String("method", c.Request.Method), slog.String("err", err.Error()))
		rp.plain(c, http.StatusServiceUnavailable, msgUnavailable)
	}
}

// responderStyle serves the page's style sheet. Its URL carries a version,
// so it may be cached.
func (s *Server) responderStyle(rp *responder) gin.HandlerFunc {
	return func(c *gin.Context) {
		setPageHeaders(c, responderHeaders)
		h := c.Writer.Header()
		h.Set("Cache-Control", "public, max-age=86400")
		h.Set("Content-Type", "text/css; charset=utf-8")
		h.Set("ETag", `"`+rp.cssVersion+`"`)
		http.ServeContent(c.Writer, c.Request, "page.css", time.Time{}, bytes.NewReader(rp.css))
	}
}

// responderPage serves GET /r/{token}: the call-up the link names, with
// the 到 / 不能到 buttons while an answer is wanted.
func (s *Server) responderPage(rp *responder) gin.HandlerFunc {
	return func(c *gin.Context) {
		token := redactToken(c)
		rs, ok := s.responders()
		if !ok {
			rp.plain(c, http.StatusServiceUnavailable, msgUnavailable)
			return
		}
		page, err := rs.AnswerPage(c.Request.Context(), muster.Stale, token)
		if err != nil {
			s.responderFailed(c, rp, err)
			return
		}
		rp.render(c, http.StatusOK, rp.page, rp.view(page, nil))
	}
}

// responderAnswer takes POST /r/{token}: answer=1 (到) or answer=2 (不能到)
// with an optional reason, and f, the nonce of the page it came from. The
// answer is submitted as a web answer of exactly the call-up and person
// the link names, on the batched inbound path SMS replies take; the FSM
// applies the same rules (the first answer stands, a later one becomes a
// note; a call-up no longer active takes none, and that is audited).
func (s *Server) responderAnswer(rp *responder) gin.HandlerFunc {
	return func(c *gin.Context) {
		token := redactToken(c)
		if !sameOrigin(c.Request, s.cfg.PublicURL) {
			s.logger.Warn("responder answer refused: posted from another site", "request_id", requestID(c), "client", c.ClientIP(),
				"origin", c.GetHeader("Origin"), "sec_fetch_site", c.GetHeader("Sec-Fetch-Site"))
			rp.plain(c, http.StatusForbidden, msgForbidden)
			return
		}
		rs, ok := s.responders()
		if !ok {
			rp.plain(c, http.StatusServiceUnavailable, msgUnavailable)
			return
		}
		if c.Request.ContentLength > responderMaxBody {
			rp.plain(c, http.StatusRequestEntityTooLarge, msgTooLarge)
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, responderMaxBody)
		if err := c.Request.ParseForm(); err != nil {
			if _, big := errors.AsType[*http.MaxBytesError](err); big {
				rp.plain(c, http.StatusRequestEntityTooLarge, msgTooLarge)
				return
			}
			rp.plain(c, http.StatusBadRequest, msgBadForm)
			return
		}
		ctx := c.Request.Context()
		page, err := rs.AnswerPage(ctx, muster.Stale, token)
		if err != nil {
			s.responderFailed(c, rp, err)
			return
		}
		if !rp.allow(token) {
			rp.plain(c, http.StatusTooManyRequests, msgTooMany)
			return
		}
		form := c.Request.PostForm
		var kind notify.ReplyKind
		switch form.Get("answer") {
		case "1":
			kind = notify.ReplyAccept
		case "2":
			kind = notify.ReplyDecline
		}
		nonce := form.Get("f")
		if kind == "" || !validNonce(nonce) {
			rp.plain(c, http.StatusBadRequest, msgBadForm)
			return
		}
		it := notify.InboundItem{Kind: notify.InboundWeb, Activation: page.Activation, Person: page.Person, Answer: kind,
			SID: "web:" + string(page.Activation) + "." + string(page.Person) + ":" + nonce}
		if kind == notify.ReplyDecline {
			it.Body = strings.TrimSpace(form.Get("reason"))
		}
		res, err := rs.Submit(ctx, it)
		if err != nil {
			s.responderFailed(c, rp, err)
			return
		}
		s.logger.Info("responder answered on the web", "request_id", requestID(c), "activation", page.Activation, "person", page.Person,
			"answer", kind, "outcome", res.Outcome, "client", c.ClientIP())
		// What stands now, as the leader has it (this node may not have
		// applied the answer yet).
		if fresh, err := rs.AnswerPage(ctx, muster.Default, token); err == nil {
			page = fresh
		} else if res.State != "" {
			page.State = res.State
		}
		t := textFor(page.Language)
		status, result := http.StatusOK, &responderResult{Class: "ok"}
		switch res.Outcome {
		case notify.InboundApplied:
			result.Text = t.GotYes
			if res.State == notify.StateDeclined {
				result.Text = t.GotNo
			}
		case notify.InboundDuplicate:
			result.Text = t.GotAgain
		case notify.InboundNote:
			result.Class, result.Text = "warn", t.GotNote
		case notify.InboundNoCallUp:
			status, result.Class, result.Text = http.StatusConflict, "warn", t.NotRecorded
			page.Open = false
		case notify.InboundUnknown:
			rp.plain(c, http.StatusNotFound, msgNotFound)
			return
		default:
			rp.plain(c, http.StatusBadRequest, msgBadForm)
			return
		}
		rp.render(c, status, rp.page, rp.view(page, result))
	}
}

// sameOrigin reports whether a POST may come from the responder page
// itself rather than another site's form. Browsers that send
// Sec-Fetch-Site say so directly; otherwise an Origin naming another host
// than the request's or the public URL's is refused. A request with
// neither, or with Origin "null" (what a same-origin post sends under the
// page's no-referrer policy), is taken: the link's token in the path is
// the credential, and a forger would need it.
func sameOrigin(r *http.Request, publicURL string) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default: // same-site, cross-site
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	pu, err := url.Parse(publicURL)
	return err == nil && pu.Host != "" && strings.EqualFold(u.Host, pu.Host)
}
