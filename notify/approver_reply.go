package notify

import (
	"bytes"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// rulesApproverReplies is the behaviour (muster.Rules) from which an SMS
// reply to the text of a request still waiting for approval (its
// ApproverNotice) is taken for the approver's answer to that text
// (InboundApproval): it approves nothing (an SMS carries no approval), and
// the sender is told how to approve. Such a reply is any from a number no
// one on the roster has or a roster person without an open call-up, and a
// roster person's first one after the text when their open call-up was
// running before it went out (the text is the
// newest in the thread of the account's number: textTakesReply, which the
// acknowledgements of 叫应 texts share, leaderTextReply). Under older rules the
// first was an unknown number's, audited and answered with nothing, and the
// second answered the person's call-up: a duty leader who answered 1 or 同意
// believed the request approved, or was counted 到 (2 不同意: declined).
const rulesApproverReplies = 13

// approverText finds, for a reply from number from, the newest LIVE
// request still waiting for approval whose text went to that number
// (textTakesReply), and returns it with how to count the reply on that
// text's notice (the answers said back are bounded by it). For a roster
// person whose open call-up began at since (person set), only a first
// reply counts, to a text that went out after it; taken is false when
// that text is their call-up's to answer. It returns nil when there is
// none. It runs in the inbound command's apply function, at c's time.
func approverText(tx *bolt.Tx, c *muster.Command, from string, person plans.PersonID, since time.Time) (*textReply, error) {
	wb := tx.Bucket(bWaiting)
	if wb == nil || from == "" {
		return nil, nil
	}
	ab := tx.Bucket(bActivations)
	if ab == nil {
		return nil, nil
	}
	for k := range muster.Backward(wb) {
		// Every reply of a call-up comes this way while a request waits:
		// one whose record does not hold the number is not decoded.
		if raw := ab.Get(k); raw == nil || !bytes.Contains(raw, []byte(from)) {
			continue
		}
		a, err := getActivation(tx, plans.ActivationID(k))
		if err != nil {
			return nil, err
		}
		if a.Status != StatusPendingApproval || !c.Time.Before(a.ApprovalDeadline) {
			continue
		}
		for i := range a.ApproversNotified {
			n := &a.ApproversNotified[i]
			mine, taken := textTakesReply(*n, from, person, since)
			if !mine {
				continue
			}
			return &textReply{at: n.At, taken: taken, take: func() (InboundResult, error) {
				n.Replies++
				if err := putActivation(tx, a); err != nil {
					return InboundResult{}, err
				}
				return InboundResult{Outcome: InboundApproval, Activation: a.ID, Person: person, Replies: n.Replies}, nil
			}}, nil
		}
	}
	return nil, nil
}

// textReply is a leader's text to a person (an approver's 【待审批】, a
// 叫应) that an SMS reply from its number may answer: at is when it went
// out (claimed); taken is false when the reply is the sender's call-up's
// to answer instead (textTakesReply); take counts the reply on the text
// and says what it did.
type textReply struct {
	at    time.Time
	taken bool
	take  func() (InboundResult, error)
}

// textTakesReply reports whether n, a leader's text, went to number from
// and was sent (or is being sent): mine; and whether a reply from it
// answers n: taken. A reply from a number no roster person has, or from
// one whose call-up is not open (person empty), answers it; a roster
// person's with an open call-up that began at since only when it is their
// first reply to n and n went out after since: the text is then the
// newest in the thread of the account's number. Otherwise the reply
// answers their call-up.
func textTakesReply(n plans.TextNotice, from string, person plans.PersonID, since time.Time) (mine, taken bool) {
	if n.Phone != from || (n.State != NoticeSent && n.State != NoticeSending) {
		return false, false
	}
	return true, person == "" || (n.Replies == 0 && n.At.After(since))
}

// leaderTextReply takes an SMS reply from number from (it.From) for an
// answer to a leader's text that went to that number, when one does
// (textTakesReply): the text of a LIVE request still waiting for approval
// (approverText, InboundApproval) or, from rulesWarningAcks, a
// 叫应 text of a LIVE warning still awaiting a response (warningAckText,
// InboundWarningAck), the one that went out last of them. person is the
// roster person the number is, callUp their open call-up (nil: none).
// ok is false when the reply is not such an answer.
func leaderTextReply(tx *bolt.Tx, c *muster.Command, it InboundItem, person plans.PersonID, callUp *actTx) (res InboundResult, ok bool, err error) {
	var since time.Time
	var waiting plans.PersonID // the person, when a call-up of theirs is open
	if callUp != nil {
		since, waiting = callUp.a.CreatedAt, person
	}
	// A roster person without an open call-up is taken as a number no
	// roster person has (waiting empty): their reply has nothing else to
	// answer.
	t, err := approverText(tx, c, it.From, waiting, since)
	if err != nil {
		return InboundResult{}, false, err
	}
	found := []*textReply{t}
	if c.RulesAtLeast(rulesWarningAcks) {
		t, err := warningAckText(tx, c, it.From, it.Body, waiting, since)
		if err != nil {
			return InboundResult{}, false, err
		}
		found = append(found, t)
	}
	var newest *textReply
	for _, t := range found {
		if t != nil && (newest == nil || t.at.After(newest.at)) {
			newest = t
		}
	}
	if newest == nil || !newest.taken {
		return InboundResult{}, false, nil // none, or their call-up's answer
	}
	res, err = newest.take()
	return res, err == nil, err
}

// ApprovalTakesNoReply answers an approver's SMS reply to the text of
// request act (InboundApproval): nothing was approved, and how to; one
// with a call-up of their own open (callUp) is told that their next reply
// answers it.
func ApprovalTakesNoReply(act plans.ActivationID, callUp bool) string {
	s := "短信回复不能审批，" + string(act) + " 仍在等待审批：请在控制台或用 muster approve " + string(act) + " 审批。"
	if callUp {
		s += "如需对通知报到，请再回复1或2。"
	}
	return s
}
