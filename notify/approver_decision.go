package notify

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"muster/access"
	"muster/plans"
)

// rulesDecisionNotice is the behaviour (muster.Rules) from which a LIVE
// request that waited for approval tells, once it waits no more, its
// requester and the approvers texted about it what became of it
// (Activation.DecisionNotices): the leader's approval.notice lists and
// claims those texts, and approval.noticed records them, as it does the
// texts of the wait. The request stays in the notifier's index until they
// are recorded. Under older rules nobody is told, and a request leaves
// the index once the texts of the wait are recorded.
const rulesDecisionNotice = 13

// DecisionAttemptID is the ID of the n-th send of the i-th decision
// notice (from 0) of activation act; one claimed in a restored state
// carries the restore after it (restoredNoticeID).
func DecisionAttemptID(act plans.ActivationID, i, n int) string {
	return fmt.Sprintf("%s.decision-%d.%d", act, i+1, n)
}

// waitEnd is how a request's wait for approval ended.
type waitEnd int

const (
	waitApproved  waitEnd = iota // the last approval needed started the call-up
	waitRejected                 // an approver rejected it
	waitWithdrawn                // stood down before its window passed
	waitExpired                  // its window passed first
)

// ended says how the wait of a, a request that waits no more, ended, and
// the token of who ended it ("" when its window passed). A request stood
// down after its window passed had expired first; one approved stays
// approved, whatever became of its call-up since.
func (a Activation) ended() (waitEnd, string) {
	last := ""
	if len(a.Decisions) > 0 {
		last = a.Decisions[len(a.Decisions)-1].By
	}
	switch {
	case !a.StartedAt.IsZero():
		return waitApproved, last
	case a.Status == StatusRejected:
		return waitRejected, last
	case a.Status == StatusStoodDown && a.StoodDownAt.Before(a.ApprovalDeadline):
		return waitWithdrawn, a.StoodDownBy
	}
	return waitExpired, ""
}

// decisionNoticesFor lists the people to tell what became of a, a request
// that waits no more, as the state has them: its requester, at the phone
// of their token created last that has one (as approversToTell chooses),
// then every approver whose text about the wait was sent or was left in
// flight (it may have reached them), at the phone it went to, except the
// person who ended the wait (people are told apart by holder, as
// access.SameHolder compares names: a token of the requester's under
// another way of writing their name is theirs). A phone is texted once
// (its Holder names everyone it tells).
func decisionNoticesFor(tx *bolt.Tx, a Activation) ([]ApproverNotice, error) {
	_, by := a.ended()
	decider := ""
	if by != "" {
		var err error
		if decider, err = access.HolderOf(tx, by); err != nil {
			return nil, err
		}
	}
	requester, err := a.requester(tx)
	if err != nil {
		return nil, err
	}
	out := []ApproverNotice{}
	add := func(holder, phone string) {
		if i := slices.IndexFunc(out, func(n ApproverNotice) bool { return n.Phone == phone }); i >= 0 {
			out[i].Holder += "、" + holder
			return
		}
		out = append(out, ApproverNotice{Holder: holder, Phone: phone, State: NoticeDue})
	}
	if !access.SameHolder(requester, decider) {
		toks, err := access.ListTokens(tx)
		if err != nil {
			return nil, err
		}
		mine := func(t access.Token) bool { return access.SameHolder(t.HeldBy(), requester) }
		if t, ok := newestWithPhoneBy(toks, mine, access.HolderKey)[access.HolderKey(requester)]; ok {
			add(requester, t.Phone)
		}
	}
	for _, n := range a.ApproversNotified {
		if (n.State == NoticeSent || n.State == NoticeSending) && !slices.ContainsFunc(strings.Split(n.Holder, "、"), func(h string) bool { return access.SameHolder(h, decider) }) {
			add(n.Holder, n.Phone)
		}
	}
	return out, nil
}

// maxDecisionReason is how much of a reason a decision text quotes, in
// characters, its cut included: the whole is in the activation's record.
const maxDecisionReason = 32

// DecisionNoticeText is the SMS telling the requester of a, a LIVE request
// that waited for approval and waits no more, and the approvers texted
// about it, what became of it, naming it as ApproverNoticeText does, with
// by the person who ended the wait (none when its window passed) and
// times in zone:
//
//	【示例市应急】【审批结果】A000022 示例市防汛应急预案重大（Ⅱ级）响应（江北区）已被李四驳回：信息不实，先核实。本短信无需回复。
//	【示例市应急】【审批结果】A000022 示例市防汛应急预案重大（Ⅱ级）响应（江北区）已由李四批准，09:12开始通知287人。本短信无需回复。
//	【示例市应急】【审批结果】A000022 示例市防汛应急预案重大（Ⅱ级）响应（江北区）已由张三撤回：重复申请，未发送。本短信无需回复。
//	【示例市应急】【审批结果】A000022 示例市防汛应急预案重大（Ⅱ级）响应（江北区）审批已过期，未发送。本短信无需回复。
//
// It ends 本短信无需回复。 as a 叫应 report does: an approver on the roster
// whom the approved call-up calls gets its own message to answer. A reason
// is quoted up to maxDecisionReason characters, so the text keeps to two
// UCS-2 segments for the usual plan titles.
func DecisionNoticeText(a Activation, by string, zone *time.Location) string {
	sender, callUp := requestSaid(a)
	text := sender + "【审批结果】" + string(a.ID) + " " + callUp
	end, _ := a.ended()
	switch end {
	case waitApproved:
		return text + "已由" + by + "批准，" + clockSaid(a.StartedAt, a.CreatedAt, zone) + "开始通知" + strconv.Itoa(a.Recipients) + "人。" + reportNeedsNoReply
	case waitRejected:
		reason := ""
		if len(a.Decisions) > 0 {
			reason = a.Decisions[len(a.Decisions)-1].Reason
		}
		return text + "已被" + by + "驳回：" + quotedReason(reason) + "。" + reportNeedsNoReply
	case waitWithdrawn:
		return text + "已由" + by + "撤回：" + quotedReason(a.StandDownReason) + "，未发送。" + reportNeedsNoReply
	}
	return text + "审批已过期，未发送。" + reportNeedsNoReply
}

// quotedReason is reason as a decision text quotes it: without the full
// stop it may end with, and cut to maxDecisionReason characters.
func quotedReason(reason string) string {
	reason = strings.TrimRight(strings.TrimSpace(reason), "。.！!；;，,")
	if utf8.RuneCountInString(reason) <= maxDecisionReason {
		return reason
	}
	return string([]rune(reason)[:maxDecisionReason-1]) + "…"
}
