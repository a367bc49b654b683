package twiliosim

import (
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Account is one simulated Twilio account.
type Account struct {
	// SID is "AC" followed by 32 hex digits; it is the Basic-auth user.
	SID string
	// AuthToken is the Basic-auth password and the key that signs webhooks.
	// twilio-go only sends letters and digits.
	AuthToken string
	// InboundURL receives the account's inbound SMS (replies), signed. Empty:
	// replies are recorded but not posted.
	InboundURL string
	// Number is the sender chosen for messages sent through a Messaging
	// Service and the To of replies to them; default +15005550006.
	Number string
}

// Outcome is what happens to a message whose To matches a Rule.
type Outcome string

// Outcomes of a Rule.
const (
	// OutcomeReject refuses the create with HTTP 400 and the rule's Code
	// (21211, 21610, 21612, 21614...); no message is created.
	OutcomeReject Outcome = "reject"
	// OutcomeUndelivered: the message is sent, then the carrier reports it
	// undelivered with the rule's Code (30003, 30005, 30006, 30008...).
	OutcomeUndelivered Outcome = "undelivered"
	// OutcomeFailed: the message is never sent; it goes from queued to failed
	// with the rule's Code.
	OutcomeFailed Outcome = "failed"
	// OutcomeSilent: the message reaches sent and no delivery report follows.
	OutcomeSilent Outcome = "silent"
	// OutcomeSlow: delivered, but the report comes Delay after sent.
	OutcomeSlow Outcome = "slow"
)

// Rule selects messages by their To number (Prefix, or Match when set) and
// gives them an Outcome. The first matching rule wins.
type Rule struct {
	Prefix  string
	Match   *regexp.Regexp
	Outcome Outcome
	Code    int           // Twilio error code for reject, undelivered and failed
	Delay   time.Duration // OutcomeSlow: time from sent to delivered (scaled)
}

func (r *Rule) matches(to string) bool { return matchNumber(r.Prefix, r.Match, to) }

// matchNumber reports whether to matches a number pattern: re when it is
// set, else prefix.
func matchNumber(prefix string, re *regexp.Regexp, to string) bool {
	if re != nil {
		return re.MatchString(to)
	}
	return strings.HasPrefix(to, prefix)
}

// cutPattern splits spec, written PATTERN=REST, into its number pattern (a
// prefix, or after "re:" a regular expression) and REST. Its errors name
// the spec as what and say REST should read as form.
func cutPattern(what, spec, form string) (prefix string, re *regexp.Regexp, rest string, err error) {
	pat, rest, ok := strings.Cut(spec, "=")
	if !ok || pat == "" {
		return "", nil, "", fmt.Errorf("%s %q: want PATTERN=%s", what, spec, form)
	}
	if expr, isRe := strings.CutPrefix(pat, "re:"); isRe {
		if re, err = regexp.Compile(expr); err != nil {
			return "", nil, "", fmt.Errorf("%s %q: %w", what, spec, err)
		}
		return "", re, rest, nil
	}
	return pat, nil, rest, nil
}

// ParseRule reads a rule written as PATTERN=OUTCOME[:ARG], where PATTERN is a
// number prefix or "re:" and a regular expression, and ARG is the error code
// (reject, undelivered, failed) or the delay (slow, e.g. "30s"). Examples:
// "+8617000=reject:21614", "re:^\+86170[0-4]=undelivered:30003",
// "+8617099=silent", "+8617098=slow:45s".
func ParseRule(spec string) (Rule, error) {
	prefix, re, out, err := cutPattern("rule", spec, "OUTCOME[:ARG]")
	if err != nil {
		return Rule{}, err
	}
	r := Rule{Prefix: prefix, Match: re}
	kind, arg, _ := strings.Cut(out, ":")
	r.Outcome = Outcome(kind)
	switch r.Outcome {
	case OutcomeReject, OutcomeUndelivered, OutcomeFailed:
		code, err := strconv.Atoi(arg)
		if err != nil || code <= 0 {
			return Rule{}, fmt.Errorf("rule %q: %s needs a Twilio error code, e.g. %s:30003", spec, kind, kind)
		}
		r.Code = code
	case OutcomeSilent:
	case OutcomeSlow:
		d, err := time.ParseDuration(arg)
		if err != nil || d <= 0 {
			return Rule{}, fmt.Errorf("rule %q: slow needs a delay, e.g. slow:30s", spec)
		}
		r.Delay = d
	default:
		return Rule{}, fmt.Errorf("rule %q: outcome %q is not one of reject, undelivered, failed, silent, slow", spec, kind)
	}
	return r, nil
}

// ReplyRule makes a share of the recipients of delivered messages reply.
type ReplyRule struct {
	Share  float64       // fraction of delivered messages, 0..1; shares add up to at most 1
	Body   string        // reply text, e.g. "1" or "2 家中有事"
	Within time.Duration // the reply comes a uniformly drawn time after delivery, below Within (scaled)
}

// Config configures a Server. The zero value of each field means its default.
type Config struct {
	Accounts []Account
	// PublicURL is the simulator's own base URL, for logs and uri fields of
	// callers who care; callers never need it.
	PublicURL string

	// MPS caps accepted creates per second per account (token bucket with a
	// burst of one second); above it the answer is 429/20429 with
	// Retry-After. 0: unlimited.
	MPS float64
	// Latency is added to every create response.
	Latency time.Duration
	// SentDelay is queued→sent (default 200ms); DeliveredDelay is
	// sent→delivered (default 500ms). Both are multiplied by TimeScale.
	SentDelay      time.Duration
	DeliveredDelay time.Duration
	// TimeScale multiplies every simulated delay (status, slow rules,
	// replies, call progress, speech and key presses); 0 means 1.
	TimeScale float64

	Rules   []Rule
	Replies []ReplyRule
	// Seed makes rule-free randomness (who replies, when; how calls go)
	// repeatable: the same seed and number give the same decision.
	Seed int64

	// MaxMessages bounds the messages kept (oldest forgotten first); default 100,000.
	MaxMessages int

	// CPS is how many calls each account dials per second (Twilio's
	// default is 1); later calls wait queued. The spacing is scaled by
	// TimeScale. 0 means 1; negative: no pacing.
	CPS float64
	// Voice is how the people called behave; the zero value is
	// DefaultVoiceProfile.
	Voice VoiceProfile
	// CallScripts fix the behaviour of calls to matching numbers in place
	// of Voice; the first match wins. Rules with OutcomeReject refuse calls
	// too, except for SMS-only codes (21408, 21610, 21611, 21612, 21614,
	// 21617): a landline takes calls.
	CallScripts []CallScript
	// MaxCalls bounds the calls kept (oldest forgotten first); default 100,000.
	MaxCalls int
	// Workers bounds the goroutines that advance messages and calls, post
	// webhooks and fetch TwiML; default 8.
	Workers int
	// CallbackAttempts is how many times a status callback or reply is
	// tried (default 3; TwiML requests are tried once, as Twilio does), the
	// n-th retry after CallbackRetryDelay·2ⁿ⁻¹ (default 250ms).
	CallbackAttempts   int
	CallbackRetryDelay time.Duration
	// TwilioRetries retries webhooks as Twilio does by default: once, and
	// only when the connection could not be made; an answer of any status,
	// or none in time, is final (CallbackAttempts is then not looked at).
	// A webhook answered 5xx is lost, as it is with Twilio.
	TwilioRetries bool
	// CallbackTimeout bounds one webhook request, TwiML fetches included; default 5s.
	CallbackTimeout time.Duration
	// DuplicateCallbacks posts every status callback twice, the copy a
	// moment later, for idempotency tests.
	DuplicateCallbacks bool
	// SlowResponse is how long FaultSlow holds a request; default 15s (past
	// twilio-go's 10s timeout).
	SlowResponse time.Duration

	// HTTPClient posts webhooks; default a client with CallbackTimeout.
	HTTPClient *http.Client
	Logger     *slog.Logger
}

func (c *Config) setDefaults() {
	if c.SentDelay == 0 {
		c.SentDelay = 200 * time.Millisecond
	}
	if c.DeliveredDelay == 0 {
		c.DeliveredDelay = 500 * time.Millisecond
	}
	if c.TimeScale <= 0 {
		c.TimeScale = 1
	}
	if c.MaxMessages <= 0 {
		c.MaxMessages = 100_000
	}
	if c.CPS == 0 {
		c.CPS = 1
	}
	c.Voice.setDefaults()
	if c.MaxCalls <= 0 {
		c.MaxCalls = 100_000
	}
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.CallbackAttempts <= 0 {
		c.CallbackAttempts = 3
	}
	if c.CallbackRetryDelay <= 0 {
		c.CallbackRetryDelay = 250 * time.Millisecond
	}
	if c.CallbackTimeout <= 0 {
		c.CallbackTimeout = 5 * time.Second
	}
	if c.SlowResponse <= 0 {
		c.SlowResponse = 15 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func (c *Config) scale(d time.Duration) time.Duration {
	return time.Duration(float64(d) * c.TimeScale)
}
