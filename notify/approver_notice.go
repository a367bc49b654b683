package notify

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/access"
	"muster/plans"
)

// rulesApproverNotice is the behaviour (muster.Rules) from which a LIVE
// request that waits for approval lists the people to text about it
// (Activation.ApproversNotified, or NoApproverPhone), and the leader's
// approval.notice and approval.noticed record the texts. Under older
// rules nobody is listed, and both commands do nothing.
const rulesApproverNotice = 12

// Command types of the texts that tell approvers a request waits for them.
const (
	// CmdApprovalNotice claims, on the leader, the texts of a request
	// that are due, each with its attempt ID, before they are sent.
	CmdApprovalNotice = "approval.notice"
	// CmdApprovalNoticed records what became of the texts claimed.
	CmdApprovalNoticed = "approval.noticed"
)

// NoticeState is where the text to one approver is (plans.NoticeState,
// which the texts of a warning's 叫应 share).
type NoticeState = plans.NoticeState

// Notice states.
const (
	NoticeDue     = plans.NoticeDue     // listed with the request; not sent yet
	NoticeSending = plans.NoticeSending // claimed by the leader; its outcome not recorded yet
	NoticeSent    = plans.NoticeSent    // accepted by the provider
	NoticeFailed  = plans.NoticeFailed  // the provider refused it, or it could not be sent
	NoticeSkipped = plans.NoticeSkipped // not sent: the request, or the person, no longer waited for it (Error says why)
)

// ApproverNotice is the SMS telling one person who may approve a LIVE
// request (a token of theirs has the approver or commander role and a
// phone) that it waits for them: a plans.TextNotice, claimed and recorded
// as the texts of a warning's 叫应 are.
type ApproverNotice = plans.TextNotice

// maxApproverSends bounds the claims of one notice across leader changes.
const maxApproverSends = plans.MaxNoticeSends

// ApproverAttemptID is the ID of the n-th send of the i-th notice (from 0)
// of activation act; one claimed in a restored state carries the restore
// after it (restoredNoticeID).
func ApproverAttemptID(act plans.ActivationID, i, n int) string {
	return fmt.Sprintf("%s.approver-%d.%d", act, i+1, n)
}

// restoredNoticeID is id, the ID of a send of an approver or decision
// notice (ApproverAttemptID, DecisionAttemptID), claimed in the state's
// restore era (restoreEra): with the era after it once the state was
// restored ("A000001.approver-1.1.r1-k3f9q"), as the call-up's attempts
// (attemptIDOf) and the escalation's (escalationAttemptIDOf): the cluster
// the backup was taken of may have sent a notice of the same request
// number with the same ID after the backup, and so may another cluster
// restored from the same backup.
func restoredNoticeID(id string, era int) string {
	return id + eraSuffix(era)
}

// rulesHolderFold is the behaviour (muster.Rules) from which the people
// texted about a request are told apart by their holders' names folded
// (access.HolderKey), as the approval rule tells them; under older rules
// as written.
const rulesHolderFold = 13

// bApproverNotices indexes the requests the approval notifier has work
// for: activation ID → nothing. A request is in it from its creation while
// it waits and a notice of it may still be claimed (or, with no one to
// text, until the leader has said so in its log).
var bApproverNotices = []byte("approver_notices")

// approversToTell lists the people to text about a, a request awaiting
// approval, as the state has them: every holder of a token of the
// approver or commander role that carries a phone, except the requester
// and those who have decided on a (people are told apart by holder, as
// anotherPerson does). A holder with several such tokens is texted at the
// phone of the one created last; holders sharing a phone get one text
// (its Holder names them all). Ordered by holder. With fold (a request
// made under rules 13, rulesHolderFold) holders are told apart by their
// names folded (access.HolderKey), as the approval rule tells them:
// "ｚｈａｎｇ　ｓａｎ" is the requester "Zhang San", and "Li Si" and
// "li  si" are one person, named as on the token created last.
func approversToTell(tx *bolt.Tx, a Activation, fold bool) ([]ApproverNotice, error) {
	toks, err := access.ListTokens(tx)
	if err != nil {
		return nil, err
	}
	heldBy := func(name string) string {
		for _, t := range toks {
			if t.Name == name {
				return t.HeldBy()
			}
		}
		return name // as access.HolderOf: no such token (any more)
	}
	key := func(holder string) string { return holder }
	if fold {
		key = access.HolderKey
	}
	skip := map[string]bool{key(heldBy(a.CreatedBy)): true}
	if len(a.RequesterLineage) > 0 {
		skip = map[string]bool{key(a.RequesterLineage[0].Holder): true}
	}
	for _, d := range a.Decisions {
		skip[key(heldBy(d.By))] = true
	}
	newest := newestWithPhoneBy(toks, func(t access.Token) bool {
		return (t.Role == access.Approver || t.Role == access.Commander) && !skip[key(t.HeldBy())]
	}, key)
	var out []ApproverNotice
	for _, k := range slices.Sorted(maps.Keys(newest)) {
		holder, phone := newest[k].HeldBy(), newest[k].Phone
		if i := slices.IndexFunc(out, func(n ApproverNotice) bool { return n.Phone == phone }); i >= 0 {
			out[i].Holder += "、" + holder
			continue
		}
		out = append(out, ApproverNotice{Holder: holder, Phone: phone, State: NoticeDue})
	}
	return out, nil
}

// newestWithPhoneBy is, for each holder of a token of toks that keep
// takes and that has a phone, the one of those created last, holders told
// apart by key (their names as written, or access.HolderKey): the map is
// by key.
func newestWithPhoneBy(toks []access.Token, keep func(access.Token) bool, key func(string) string) map[string]access.Token {
	newest := map[string]access.Token{}
	for _, t := range toks {
		if t.Phone == "" || !keep(t) {
			continue
		}
		k := key(t.HeldBy())
		if o, ok := newest[k]; !ok || t.CreatedAt.After(o.CreatedAt) || (t.CreatedAt.Equal(o.CreatedAt) && t.ID > o.ID) {
			newest[k] = t
		}
	}
	return newest
}

// listApprovers lists, on a request a just created to wait for approval,
// the people to text about it, or says there is no one (NoApproverPhone),
// and puts it in the notifier's index.
func listApprovers(tx *bolt.Tx, a *Activation) error {
	var err error
	// A request made under rules 13 carries its requester's lineage.
	if a.ApproversNotified, err = approversToTell(tx, *a, len(a.RequesterLineage) > 0); err != nil {
		return err
	}
	a.NoApproverPhone = len(a.ApproversNotified) == 0
	b, err := tx.CreateBucketIfNotExists(bApproverNotices)
	if err != nil {
		return err
	}
	return b.Put([]byte(a.ID), nil)
}

// approverClaim is the payload of approval.notice.
type approverClaim struct {
	Activation plans.ActivationID `json:"activation"`
	// Resend claims again the notices an earlier leader claimed and left
	// without an outcome (up to maxApproverSends claims each): a new
	// leader's first look.
	Resend bool `json:"resend,omitempty"`
}

// approverClaimed is the result of approval.notice.
type approverClaimed struct {
	// Older is set under rules before rulesApproverNotice: nothing was
	// claimed, and nothing may be sent.
	Older bool `json:"older,omitempty"`
	// Claimed are the indexes in Activation.ApproversNotified of the
	// notices to send now, each with its attempt ID.
	Claimed []int `json:"claimed,omitempty"`
	// Decided are, on a request that waits no more (rulesDecisionNotice),
	// the indexes in Activation.DecisionNotices of those to send now.
	Decided    []int      `json:"decided,omitempty"`
	Activation Activation `json:"activation"`
}

// approverSent is one outcome in approval.noticed.
type approverSent struct {
	Index   int    `json:"index"`
	Attempt string `json:"attempt"`
	SID     string `json:"sid,omitempty"`
	Error   string `json:"error,omitempty"` // empty: accepted
}

// approverResults is the payload of approval.noticed.
type approverResults struct {
	Activation plans.ActivationID `json:"activation"`
	// Decision says the results are of Activation.DecisionNotices.
	Decision bool           `json:"decision,omitempty"`
	Results  []approverSent `json:"results"`
}

// applyApprovalNotice claims the notices of a request that are due (and,
// with Resend, those claimed before and left without an outcome), while
// the request waits at the command's time and their people still may
// approve it and have not decided: others are skipped, saying why. Once
// the request waits no more (rulesDecisionNotice), it lists the people to
// tell what became of it, the first time, and claims their notices the
// same way. The request leaves the index once no notice of it may be
// claimed again.
func applyApprovalNotice(tx *bolt.Tx, c *muster.Command) (any, error) {
	var req approverClaim
	if err := json.Unmarshal(c.Payload, &req); err != nil {
		return nil, invalidf("approval notice: %v", err)
	}
	if !c.RulesAtLeast(rulesApproverNotice) {
		return approverClaimed{Older: true}, nil // an older member does not know the command: it is ignorable
	}
	a, err := getActivation(tx, req.Activation)
	if err != nil {
		return nil, err
	}
	shown := a.shown(c.Time).Status
	waits := shown == StatusPendingApproval
	var still []ApproverNotice
	if waits {
		// Folded as when the request listed them (listApprovers).
		if still, err = approversToTell(tx, a, c.RulesAtLeast(rulesHolderFold) && len(a.RequesterLineage) > 0); err != nil {
			return nil, err
		}
	}
	restore := 0 // the notices' IDs carry the state's restore (rulesRestoredAttempts)
	if c.RulesAtLeast(rulesRestoredAttempts) {
		restore = restoreEra(tx)
	}
	out := approverClaimed{}
	for i := range a.ApproversNotified {
		n := &a.ApproversNotified[i]
		if !n.Claimable(req.Resend) {
			continue
		}
		switch {
		case !waits:
			if n.State == NoticeDue {
				n.State, n.Error = NoticeSkipped, "not sent: "+noLongerWaiting(shown)+" first"
			}
		case !slices.ContainsFunc(still, func(o ApproverNotice) bool { return o.Phone == n.Phone && o.Holder == n.Holder }):
			if n.State == NoticeDue {
				n.State, n.Error = NoticeSkipped, "not sent: decided on the request first, or holds no approver or commander token with this phone any more"
			}
		default:
			n.Claim(restoredNoticeID(ApproverAttemptID(a.ID, i, n.Sends+1), restore), c.Time)
			out.Claimed = append(out.Claimed, i)
		}
	}
	done := !waits || !a.noticesOpen()
	if c.RulesAtLeast(rulesDecisionNotice) {
		if !waits && a.DecisionNotices == nil {
			if a.DecisionNotices, err = decisionNoticesFor(tx, a); err != nil {
				return nil, err
			}
		}
		for i := range a.DecisionNotices {
			if n := &a.DecisionNotices[i]; n.Claimable(req.Resend) {
				n.Claim(restoredNoticeID(DecisionAttemptID(a.ID, i, n.Sends+1), restore), c.Time)
				out.Decided = append(out.Decided, i)
			}
		}
		done = a.decisionNoticesDone()
	}
	if done {
		if err := unindexNotices(tx, a.ID); err != nil {
			return nil, err
		}
	}
	out.Activation = a
	return out, putActivation(tx, a)
}

// applyApprovalNoticed records the outcomes of claimed notices, of the
// wait or (Decision) of what became of the request. An outcome for
// another attempt than the notice's current one changes nothing.
func applyApprovalNoticed(tx *bolt.Tx, c *muster.Command) (any, error) {
	var req approverResults
	if err := json.Unmarshal(c.Payload, &req); err != nil {
		return nil, invalidf("approval noticed: %v", err)
	}
	if !c.RulesAtLeast(rulesApproverNotice) {
		return nil, nil
	}
	a, err := getActivation(tx, req.Activation)
	if err != nil {
		return nil, err
	}
	list := a.ApproversNotified
	if req.Decision {
		list = a.DecisionNotices // none under older rules
	}
	for _, r := range req.Results {
		if r.Index >= 0 && r.Index < len(list) {
			list[r.Index].Record(r.Attempt, r.SID, r.Error)
		}
	}
	done := !a.noticesOpen()
	if c.RulesAtLeast(rulesDecisionNotice) {
		done = a.decisionNoticesDone()
	}
	if done {
		if err := unindexNotices(tx, a.ID); err != nil {
			return nil, err
		}
	}
	return nil, putActivation(tx, a)
}

// decisionNoticesDone reports whether a, under rulesDecisionNotice, has
// nothing more for the notifier: it waits no more, its decision notices
// are listed, and none may be claimed again.
func (a *Activation) decisionNoticesDone() bool {
	return a.DecisionNotices != nil && !slices.ContainsFunc(a.DecisionNotices, func(n ApproverNotice) bool { return n.Claimable(true) })
}

// noLongerWaiting says why a request shown as status waits no more.
func noLongerWaiting(status Status) string {
	switch status {
	case StatusActive:
		return "the request was approved"
	case StatusRejected:
		return "the request was rejected"
	case StatusStoodDown:
		return "the request was withdrawn"
	case StatusApprovalExpired:
		return "the request's approval window passed"
	}
	return "the request became " + string(status)
}

// noticesOpen reports whether a notice of a is due or being sent.
func (a *Activation) noticesOpen() bool {
	return slices.ContainsFunc(a.ApproversNotified, func(n ApproverNotice) bool { return n.State == NoticeDue || n.State == NoticeSending })
}

func unindexNotices(tx *bolt.Tx, id plans.ActivationID) error {
	if b := tx.Bucket(bApproverNotices); b != nil {
		return b.Delete([]byte(id))
	}
	return nil
}

// ApproverNoticeText is the SMS that tells a person who may approve a, a
// LIVE request calling up recipients people that requester (the person,
// not the token) made, that it waits for them and until when, in Chinese
// with the names the call-up's own messages use (MessageData), times in
// zone:
//
//	【示例市应急】【待审批】示例市防汛应急预案特别重大（Ⅰ级）响应（西林区），120人，张三申请于09:05，请在09:35前在控制台或用 muster approve A000001 审批。
//
// Many regions are named as corrections name them (shortRegions), so the
// text keeps to two UCS-2 segments for the usual plan titles.
func ApproverNoticeText(a Activation, recipients int, requester string, zone *time.Location) string {
	sender, callUp := requestSaid(a)
	return sender + "【待审批】" + callUp + "，" + strconv.Itoa(recipients) + "人，" + cmp.Or(requester, a.CreatedBy) + "申请于" +
		a.CreatedAt.In(zone).Format("15:04") + "，请在" + clockSaid(a.ApprovalDeadline, a.CreatedAt, zone) + "前在控制台或用 muster approve " + string(a.ID) + " 审批。"
}

// requestSaid is the sender of the texts about request a and the call-up
// it asks for, in Chinese with the names the call-up's own messages use
// (MessageData), its regions as corrections name many (shortRegions):
// 示例市防汛应急预案特别重大（Ⅰ级）响应（西林区）.
func requestSaid(a Activation) (sender, callUp string) {
	d := MessageData(a, Recipient{Language: plans.LangZH}, "")
	callUp = d.Plan + d.LevelName + "（" + d.Level + "级）响应"
	if r := shortRegions(d.Region); r != "" {
		callUp += "（" + r + "）"
	}
	return d.Sender, callUp
}

// clockSaid is t in zone as the texts about a request say it: its time of
// day, with its date (7月21日00:05) when that is another day than since's.
func clockSaid(t, since time.Time, zone *time.Location) string {
	t, since = t.In(zone), since.In(zone)
	if t.YearDay() != since.YearDay() || t.Year() != since.Year() {
		return t.Format("1月2日15:04")
	}
	return t.Format("15:04")
}
