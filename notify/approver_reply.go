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
// one on the roster has, and a roster person's first one after the text
// when their open call-up was running before it went out (the text is the
// newest in the thread of the account's number). Under older rules the
// first was an unknown number's, audited and answered with nothing, and the
// second answered the person's call-up: a duty leader who answered 1 or 同意
// believed the request approved, or was counted 到 (2 不同意: declined).
const rulesApproverReplies = 13

// approverReply finds, for a reply from number from, the newest LIVE
// request still waiting for approval whose text went to that number, and
// counts the reply on that text's notice (the answers said back are
// bounded by it). For a roster person (person set), only a first reply
// counts, to a text that went out after their call-up began (since). ok
// is false when there is none. It runs in the inbound command's apply
// function, at c's time.
func approverReply(tx *bolt.Tx, c *muster.Command, from string, person plans.PersonID, since time.Time) (res InboundResult, ok bool, err error) {
	wb := tx.Bucket(bWaiting)
	if wb == nil || from == "" {
		return InboundResult{}, false, nil
	}
	ab := tx.Bucket(bActivations)
	if ab == nil {
		return InboundResult{}, false, nil
	}
	for k := range muster.Backward(wb) {
		// Every reply of a call-up comes this way while a request waits:
		// one whose record does not hold the number is not decoded.
		if raw := ab.Get(k); raw == nil || !bytes.Contains(raw, []byte(from)) {
			continue
		}
		a, err := getActivation(tx, plans.ActivationID(k))
		if err != nil {
			return InboundResult{}, false, err
		}
		if a.Status != StatusPendingApproval || !c.Time.Before(a.ApprovalDeadline) {
			continue
		}
		for i := range a.ApproversNotified {
			n := &a.ApproversNotified[i]
			if n.Phone != from || (n.State != NoticeSent && n.State != NoticeSending) {
				continue
			}
			if person != "" && (n.Replies > 0 || !n.At.After(since)) {
				return InboundResult{}, false, nil // their call-up's answer
			}
			n.Replies++
			if err := putActivation(tx, a); err != nil {
				return InboundResult{}, false, err
			}
			return InboundResult{Outcome: InboundApproval, Activation: a.ID, Person: person, Replies: n.Replies}, true, nil
		}
	}
	return InboundResult{}, false, nil
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
