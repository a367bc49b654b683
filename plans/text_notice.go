package plans

import "time"

// NoticeState is where a leader's text to one person is: a text telling
// an approver that a request waits for them (notify.ApproverNotice), or
// telling a commander that a warning went unanswered (WarningPrompted).
type NoticeState string

// Notice states.
const (
	NoticeDue     NoticeState = "due"     // listed; not sent yet
	NoticeSending NoticeState = "sending" // claimed by the leader; its outcome not recorded yet
	NoticeSent    NoticeState = "sent"    // accepted by the provider
	NoticeFailed  NoticeState = "failed"  // the provider refused it, or it could not be sent
	NoticeSkipped NoticeState = "skipped" // not sent: what it was about changed first (Error says why)
)

// TextNotice is one SMS a leader-side notifier sends one person, claimed
// in the state before it is sent and its outcome recorded after, so that
// a new leader does not send again one with a recorded outcome.
type TextNotice struct {
	Holder string      `json:"holder"` // the person (access.Token.HeldBy)
	Phone  string      `json:"phone"`  // E.164, from their token
	State  NoticeState `json:"state"`
	// Attempt identifies the send, and At is when the leader claimed it
	// (its clock), once claimed.
	Attempt string    `json:"attempt,omitempty"`
	At      time.Time `json:"at,omitzero"`
	SID     string    `json:"sid,omitempty"`   // the provider's message ID, once accepted
	Error   string    `json:"error,omitempty"` // why it failed or was skipped
	// Sends counts its claims: a leader that took over from one that
	// claimed it and recorded no outcome sends it again.
	Sends int `json:"sends,omitempty"`
	// Replies counts, on a text to an approver, the SMS replies from
	// Phone while the request waited (rulesApproverReplies in notify):
	// they approve nothing, and are answered how to approve, a few times
	// at most; on a 叫应 text (WarningPrompted), those taken for its
	// acknowledgement while the warning awaited a response
	// (rulesWarningAcks in notify), answered a few times at most too.
	Replies int `json:"replies,omitempty"`
	// AckedAt is, on a 叫应 text, when the first SMS reply from Phone
	// taken for it acknowledged it (应: the person answered the call; it
	// starts no response), at the inbound command's time; AckBody is that
	// reply, trimmed and bounded. Zero: not acknowledged.
	AckedAt time.Time `json:"acked_at,omitzero"`
	AckBody string    `json:"ack_body,omitempty"`
}

// Acked reports whether n, a 叫应 text, was acknowledged (AckedAt).
func (n TextNotice) Acked() bool { return !n.AckedAt.IsZero() }

// MaxNoticeSends bounds the claims of one notice across leader changes.
const MaxNoticeSends = 3

// Claimable reports whether n may be claimed: it is due, or (resend, a
// new leader's look) it was claimed and left without an outcome, fewer
// than MaxNoticeSends times.
func (n TextNotice) Claimable(resend bool) bool {
	return n.State == NoticeDue || (resend && n.State == NoticeSending && n.Sends < MaxNoticeSends)
}

// Claim claims n for a send with ID attempt, at the command's time.
func (n *TextNotice) Claim(attempt string, at time.Time) {
	n.Sends++
	n.State, n.Attempt, n.At, n.SID, n.Error = NoticeSending, attempt, at, "", ""
}

// Record records the outcome of a send of n (the provider's message ID,
// or why it failed), if it is of n's current attempt; an outcome of
// another attempt changes nothing.
func (n *TextNotice) Record(attempt, sid, failure string) {
	if n.Attempt != attempt || n.State != NoticeSending {
		return
	}
	n.State, n.SID, n.Error = NoticeSent, sid, failure
	if failure != "" {
		n.State = NoticeFailed
	}
}
