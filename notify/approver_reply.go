package notify

import (
	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// rulesApproverReplies is the behaviour (muster.Rules) from which a reply
// from a number no one on the roster has, to which the text of a request
// still waiting for approval went (its ApproverNotice), is taken for the
// approver's answer to that text: it approves nothing (an SMS carries no
// approval), and the sender is told how to approve. Under older rules it
// was an unknown number's, audited and answered with nothing, so a duty
// leader who answered 1 to the 【待审批】 text, as every call-up teaches,
// believed the request approved.
const rulesApproverReplies = 13

// approverReply finds, for a reply from number from that no roster
// person has, the newest LIVE request still waiting for approval whose
// text went to that number, and counts the reply on that text's notice
// (the answers said back are bounded by it). ok is false when there is
// none. It runs in the inbound command's apply function, at c's time.
func approverReply(tx *bolt.Tx, c *muster.Command, from string) (res InboundResult, ok bool, err error) {
	wb := tx.Bucket(bWaiting)
	if wb == nil || from == "" {
		return InboundResult{}, false, nil
	}
	for k := range muster.Backward(wb) {
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
			n.Replies++
			if err := putActivation(tx, a); err != nil {
				return InboundResult{}, false, err
			}
			return InboundResult{Outcome: InboundUnknown, Activation: a.ID, Approval: true, Replies: n.Replies}, true, nil
		}
	}
	return InboundResult{}, false, nil
}

// ApprovalTakesNoReply answers an approver's SMS reply to the text of
// request act (InboundResult.Approval): nothing was approved, and how to.
func ApprovalTakesNoReply(act plans.ActivationID) string {
	return "短信回复不能审批，" + string(act) + " 仍在等待审批：请在控制台或用 muster approve " + string(act) + " 审批。"
}
