package notify

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SMS is one text to one recipient: a single send attempt.
type SMS struct {
	AttemptID      string // muster's ID of this attempt; put it in StatusCallback too, a report may beat the send's result
	To             string // E.164
	From           string // sender; empty lets the provider choose (its pool or messaging service)
	Body           string
	StatusCallback string // URL for delivery reports; empty for none
}

// Sent is the provider's acceptance of an SMS.
type Sent struct {
	ProviderID string // the provider's message ID (Twilio SID)
	Status     string // the provider's initial status, e.g. queued or accepted
	Segments   int    // parts billed; 0 when the provider does not know yet
}

// Provider sends SMS. SendSMS either returns the provider's acceptance or an
// error; errors from a provider are *SendError so the dispatcher can tell a
// retry from a give-up.
type Provider interface {
	SendSMS(ctx context.Context, m SMS) (Sent, error)
}

// Report is a message's delivery status as the provider knows it: Twilio's
// status names (queued, sent, delivered, undelivered, failed...) and error code.
type Report struct {
	Status string
	Code   int
}

// StatusFetcher is a Provider that can be asked for a message's status, for
// sends whose delivery report never arrived.
type StatusFetcher interface {
	FetchSMS(ctx context.Context, providerID string) (Report, error)
}

// SendError classifies a failed send. Temporary errors (throttling, provider
// outages, timeouts, broken connections) may succeed when retried with
// backoff; after a timeout or a 5xx the message may nevertheless have been
// accepted, so a retry can duplicate it. Permanent errors (invalid, landline,
// unsubscribed or unroutable numbers, bad credentials) will fail again.
type SendError struct {
	Code       int           // provider error code (Twilio 21211, 20429...); 0 if none was given
	HTTPStatus int           // 0 when no HTTP answer came back
	Temporary  bool          // retrying later may succeed
	Message    string        // the provider's words, or what went wrong on the way
	RetryAfter time.Duration // the provider's Retry-After, 0 if none
	Err        error         // underlying error (network, context), if any
	// Account says the provider refused the account, not the message:
	// wrong credentials, a token rotated, an account suspended or closed
	// (HTTP 401; Twilio 20003, 20005, 10001). It is Temporary (fixed, it
	// sends again) and an outage of the account: it counts towards a
	// failover to the fallback account.
	Account bool
}

func (e *SendError) Error() string {
	kind := "permanent"
	if e.Temporary {
		kind = "temporary"
	}
	switch {
	case e.Code != 0:
		return fmt.Sprintf("send sms: %s error %d (HTTP %d): %s", kind, e.Code, e.HTTPStatus, e.Message)
	case e.HTTPStatus != 0:
		return fmt.Sprintf("send sms: %s error (HTTP %d): %s", kind, e.HTTPStatus, e.Message)
	default:
		return fmt.Sprintf("send sms: %s error: %s", kind, e.Message)
	}
}

func (e *SendError) Unwrap() error { return e.Err }

// IsTemporary reports whether err is a *SendError worth retrying.
func IsTemporary(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Temporary
}

// TemporaryCode reports whether a Twilio error code, from a create answer or
// a status callback's ErrorCode, may succeed when the send is retried later:
// throttling (20429), provider failures (20500, 20503), full queues (21611,
// 30001), an unreachable handset (30003), unknown delivery errors (30008)
// and provider timeouts (30410). Every other code is permanent.
func TemporaryCode(code int) bool {
	switch code {
	case 20429, 20500, 20503, 21611, 30001, 30003, 30008, 30410:
		return true
	}
	return false
}

// AccountCode reports whether a provider's answer refuses the account
// itself rather than one message: HTTP 401 (bad credentials), Twilio 20003
// (authenticate: a wrong or rotated auth token), 20005 and 10001 (account
// not active: suspended or closed).
func AccountCode(httpStatus, code int) bool {
	return httpStatus == 401 || code == 20003 || code == 20005 || code == 10001
}

// UnreachableCode reports whether a carrier's error code says the handset
// could not be reached for now (30003: switched off, out of coverage). Such
// an SMS is sent again later (TemporaryCode), and until it arrives its
// person has not been reached: escalation does not wait for the retries.
func UnreachableCode(code int) bool { return code == 30003 }
