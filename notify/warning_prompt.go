package notify

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/access"
	"muster/plans"
)

// rulesWarningPrompt is the behaviour (muster.Rules) from which the
// leader's warning.prompt lists, on a LIVE orange or red warning that
// went unanswered past its RespondBy, the commanders to text about it
// (plans.Warning.Prompted) and claims their texts, and warning.prompted
// records what became of them; and warning.escalate lists, on one still
// unanswered at Prompted.EscalateBy, their superiors (Warning.Escalated),
// and warning.escalated records theirs. Under older rules the four
// commands do nothing, and an unanswered warning is only marked
// (Warning.Prompt).
const rulesWarningPrompt = 13

// Command types of the 叫应 of an unanswered warning.
const (
	// CmdWarningPrompt lists, the first time, the commanders to text
	// about a warning past its response time, and claims, on the leader,
	// their texts that are due, each with its attempt ID, before they
	// are sent.
	CmdWarningPrompt = "warning.prompt"
	// CmdWarningPrompted records what became of the texts claimed.
	CmdWarningPrompted = "warning.prompted"
	// CmdWarningEscalate lists, the first time, the superiors (holders of
	// an approver token) to text about a warning its commanders were
	// called on about and left unanswered until Prompted.EscalateBy, and
	// claims their texts as warning.prompt does the commanders'.
	CmdWarningEscalate = "warning.escalate"
	// CmdWarningEscalated records what became of the texts claimed.
	CmdWarningEscalated = "warning.escalated"
)

// PromptAttemptID is the ID of the n-th send of the i-th text (from 0) of
// the 叫应 of warning w; one claimed in a restored state carries the
// restore after it, as the approver texts' do (restoredNoticeID).
func PromptAttemptID(w plans.WarningID, i, n int) string {
	return fmt.Sprintf("%s.prompt-%d.%d", w, i+1, n)
}

// WarningEscalationAttemptID is the ID of the n-th send of the i-th text (from
// 0) of the escalation of warning w's 叫应 to the superiors, restored as
// PromptAttemptID's.
func WarningEscalationAttemptID(w plans.WarningID, i, n int) string {
	return fmt.Sprintf("%s.escalate-%d.%d", w, i+1, n)
}

// commandersToPrompt lists the people to text about warning w that went
// unanswered, as the state has them: every holder of a commander token
// that carries a phone (holdersToText). The commander is who activates a
// plan (指挥长/值班领导); an admin, who may too, keeps the system (tokens,
// members, backups) and is not the official a warning calls on, as
// approvals do not text them.
func commandersToPrompt(tx *bolt.Tx, w *plans.Warning) ([]plans.TextNotice, error) {
	return holdersToText(tx, access.Commander)
}

// superiorsToEscalate lists the people to text about warning w, whose
// commanders left it unanswered: every holder of an approver token
// (值班领导, who approve level I–II call-ups) that carries a phone
// (holdersToText). One its 叫应 texted as a commander already (a text of
// w.Prompted sent, or being sent, to the same phone or to a holder of the
// same name folded: calledAsCommander) is listed as skipped
// (CalledAsCommanderError; rules 13, as the escalation): they were called
// on, and a text to them as their own superior is noise.
func superiorsToEscalate(tx *bolt.Tx, w *plans.Warning) ([]plans.TextNotice, error) {
	texts, err := holdersToText(tx, access.Approver)
	if err != nil {
		return nil, err
	}
	for i := range texts {
		if calledAsCommander(w.Prompted, texts[i]) {
			texts[i].State, texts[i].Error = plans.NoticeSkipped, CalledAsCommanderError
		}
	}
	return texts, nil
}

// CalledAsCommanderError is why the escalation of a warning's 叫应 did not
// text one of its superiors (叫应升级): the 叫应 had texted them as a
// commander already.
const CalledAsCommanderError = "未发送：已作为指挥长叫应 (not sent: already texted as a commander)"

// calledAsCommander reports whether n, a text to a superior, would go to
// someone p, the commanders' 叫应, texted (sent, or being sent): at the
// same phone, or a holder of the same name folded (access.HolderKey) at
// another.
func calledAsCommander(p *plans.WarningPrompted, n plans.TextNotice) bool {
	if p == nil {
		return false
	}
	return slices.ContainsFunc(p.Texts, func(x plans.TextNotice) bool {
		return (x.State == plans.NoticeSent || x.State == plans.NoticeSending) && (x.Phone == n.Phone || sameHolder(x, n))
	})
}

// sameHolder reports whether texts a and b name a holder in common (the
// names of people sharing a phone are joined with 、), told apart by
// their names folded (access.HolderKey).
func sameHolder(a, b plans.TextNotice) bool {
	names := map[string]bool{}
	for _, h := range strings.Split(a.Holder, "、") {
		names[access.HolderKey(h)] = true
	}
	return slices.ContainsFunc(strings.Split(b.Holder, "、"), func(h string) bool { return names[access.HolderKey(h)] })
}

// rulesLateTexts is the behaviour (muster.Rules) from which a stage of a
// warning's 叫应 listed before (warning.prompt, warning.escalate) texts
// the people given a phone since (late): the claim appends them to the
// stage's texts (no_phone no longer) and claims them as it does the
// others. Under older rules (the 叫应 is 13's) they were never texted.
const rulesLateTexts = 13

// late lists the people of stage st of w, as tx has them, whom its record
// (listed before) has no text for, to text at t: those with a phone on
// record now that have no text to that phone, nor one to a holder of the
// same name folded that did not fail for good (a commander given a token
// with a phone, or a phone in place of one that failed). None unless the
// stage is still due, none of its people acknowledged it (应), and, for
// the commanders' (escalates), the warning did not go on to the
// superiors yet. Ordered by holder.
func (st textStage) late(tx *bolt.Tx, w *plans.Warning, t time.Time) ([]plans.TextNotice, error) {
	rec := *st.of(w)
	if rec == nil || !st.due(w, t) || len(rec.Acks()) > 0 || (st.escalates && w.Escalated != nil) {
		return nil, nil
	}
	listed, err := st.list(tx, w)
	if err != nil {
		return nil, err
	}
	var out []plans.TextNotice
	for _, n := range listed {
		if n.State != plans.NoticeDue { // skipped as it was listed (called as a commander)
			continue
		}
		if !slices.ContainsFunc(rec.Texts, func(x plans.TextNotice) bool {
			return x.Phone == n.Phone || sameHolder(x, n) && !(x.State == plans.NoticeFailed && !retryable(x))
		}) {
			out = append(out, n)
		}
	}
	return out, nil
}

// holdersToText lists, as the state has them, the holders of a token of
// role that carries a phone, told apart by their names folded
// (access.HolderKey), each at the phone of their token created last;
// holders sharing a phone get one text (its Holder names them all).
// Ordered by holder.
func holdersToText(tx *bolt.Tx, role access.Role) ([]plans.TextNotice, error) {
	toks, err := access.ListTokens(tx)
	if err != nil {
		return nil, err
	}
	newest := newestWithPhoneBy(toks, func(t access.Token) bool { return t.Role == role }, access.HolderKey)
	out := []plans.TextNotice{}
	for _, k := range slices.Sorted(maps.Keys(newest)) {
		holder, phone := newest[k].HeldBy(), newest[k].Phone
		if i := slices.IndexFunc(out, func(n plans.TextNotice) bool { return n.Phone == phone }); i >= 0 {
			out[i].Holder += "、" + holder
			continue
		}
		out = append(out, plans.TextNotice{Holder: holder, Phone: phone, State: plans.NoticeDue})
	}
	return out, nil
}

// promptClaim is the payload of warning.prompt and warning.escalate.
type promptClaim struct {
	Warning plans.WarningID `json:"warning"`
	// Resend claims again the texts an earlier leader claimed and left
	// without an outcome (up to plans.MaxNoticeSends claims each): a new
	// leader's first look.
	Resend bool `json:"resend,omitempty"`
	// EscalateAfter is, in warning.prompt, the leader's response timeout:
	// listing the commanders stamps Prompted.EscalateBy, the command's
	// time plus it. Zero: the warning never escalates.
	EscalateAfter plans.Duration `json:"escalate_after,omitempty"`
	// Retry, from a leader with a LIVE account, claims again the texts a
	// leader without one recorded as not sent (NoLiveAccountError), up to
	// plans.MaxNoticeSends claims each, while the warning is still due.
	Retry bool `json:"retry,omitempty"`
}

// NoLiveAccountError is the outcome a leader without a LIVE SMS account
// records for a 叫应 text it could not send (未能叫应); a leader with one
// sends it later (promptClaim.Retry).
const NoLiveAccountError = "未发出：主节点未配置真实短信账号 (not sent: the leader has no LIVE SMS account)"

// retryable reports whether n, a text of a warning's 叫应, was not sent
// for want of a LIVE account on the leader and may be claimed again.
func retryable(n plans.TextNotice) bool {
	return n.State == plans.NoticeFailed && n.Error == NoLiveAccountError && n.Sends < plans.MaxNoticeSends
}

// promptClaimed is the result of warning.prompt.
type promptClaimed struct {
	// Older is set under rules before rulesWarningPrompt: nothing was
	// listed or claimed, and nothing may be sent.
	Older bool `json:"older,omitempty"`
	// Started says this claim listed the commanders (or superiors): the
	// warning began to prompt them just now.
	Started bool `json:"started,omitempty"`
	// Claimed are the indexes in Warning.Prompted.Texts (Escalated.Texts)
	// of the texts to send now, each with its attempt ID.
	Claimed []int         `json:"claimed,omitempty"`
	Warning plans.Warning `json:"warning"`
}

// promptResults is the payload of warning.prompted and warning.escalated.
type promptResults struct {
	Warning plans.WarningID `json:"warning"`
	Results []approverSent  `json:"results"`
}

// textStage is a stage of a warning's 叫应 as its commands apply it: the
// commanders texted past RespondBy (promptStage), or their superiors
// texted past Prompted.EscalateBy (escalationStage).
type textStage struct {
	name string // in errors
	// due reports whether w, at t, is due this stage.
	due func(w *plans.Warning, t time.Time) bool
	// of is the stage's record in w.
	of func(w *plans.Warning) **plans.WarningPrompted
	// list lists the people to text about w, as tx has them.
	list      func(tx *bolt.Tx, w *plans.Warning) ([]plans.TextNotice, error)
	attemptID func(w plans.WarningID, i, n int) string
	// escalates: listing stamps the record's EscalateBy (the commanders').
	escalates bool
}

var (
	promptStage = textStage{name: "warning prompt", due: (*plans.Warning).PromptDue,
		of: func(w *plans.Warning) **plans.WarningPrompted { return &w.Prompted }, list: commandersToPrompt, attemptID: PromptAttemptID, escalates: true}
	escalationStage = textStage{name: "warning escalate", due: (*plans.Warning).EscalationDue,
		of: func(w *plans.Warning) **plans.WarningPrompted { return &w.Escalated }, list: superiorsToEscalate, attemptID: WarningEscalationAttemptID}
)

// applyWarningPrompt lists, on a LIVE warning due a prompt at the
// command's time (plans.Warning.PromptDue) and not listed yet, the
// commanders to text (Prompted, stamped with the command's time, and
// EscalateBy with it plus EscalateAfter), and claims their texts that are
// due (and, with Resend, those claimed before and left without an
// outcome) while the warning is still due a prompt; once it is not
// (answered, lifted, expired), a text still due is skipped, saying why.
// Listed before, it adds the texts of commanders given a phone since, while
// the warning is still due a prompt (textStage.late, rulesLateTexts), and
// claims them. A warning never due a prompt is left as it is.
func applyWarningPrompt(tx *bolt.Tx, c *muster.Command) (any, error) {
	return applyTextStage(tx, c, promptStage)
}

// applyWarningEscalate is applyWarningPrompt for the escalation to the
// superiors: on a warning due it at the command's time
// (plans.Warning.EscalationDue: its commanders were called on, it is
// still unanswered and in force, EscalateBy has passed) and not listed
// yet, it lists the holders of an approver token with a phone
// (Escalated), and claims their texts while it stays due.
func applyWarningEscalate(tx *bolt.Tx, c *muster.Command) (any, error) {
	return applyTextStage(tx, c, escalationStage)
}

// applyTextStage lists and claims the texts of stage st of a warning's
// 叫应 (applyWarningPrompt, applyWarningEscalate).
func applyTextStage(tx *bolt.Tx, c *muster.Command, st textStage) (any, error) {
	var req promptClaim
	if err := json.Unmarshal(c.Payload, &req); err != nil {
		return nil, invalidf("%s: %v", st.name, err)
	}
	if !c.RulesAtLeast(rulesWarningPrompt) {
		return promptClaimed{Older: true}, nil // an older member does not know the command: it is ignorable
	}
	out := promptClaimed{}
	w, err := plans.ChangeWarning(tx, req.Warning, func(w *plans.Warning) (bool, error) {
		due := st.due(w, c.Time)
		rec := st.of(w)
		if *rec == nil {
			if !due {
				return false, nil
			}
			texts, err := st.list(tx, w)
			if err != nil {
				return false, err
			}
			*rec = &plans.WarningPrompted{At: c.Time, NoPhone: len(texts) == 0, Texts: texts}
			if st.escalates && req.EscalateAfter > 0 {
				(*rec).EscalateBy = c.Time.Add(req.EscalateAfter.Std())
			}
			out.Started = true
		}
		changed := out.Started
		if !out.Started && c.RulesAtLeast(rulesLateTexts) {
			late, err := st.late(tx, w, c.Time)
			if err != nil {
				return false, err
			}
			if len(late) > 0 {
				(*rec).Texts = append((*rec).Texts, late...)
				(*rec).NoPhone, changed = false, true
			}
		}
		restore := restoreEra(tx)
		for i := range (*rec).Texts {
			n := &(*rec).Texts[i]
			switch {
			case !n.Claimable(req.Resend) && !(req.Retry && retryable(*n)):
			case !due:
				if n.State == plans.NoticeDue {
					n.State, n.Error = plans.NoticeSkipped, "not sent: the warning was answered, lifted or expired first"
					changed = true
				}
			default:
				n.Claim(restoredNoticeID(st.attemptID(w.ID, i, n.Sends+1), restore), c.Time)
				out.Claimed = append(out.Claimed, i)
				changed = true
			}
		}
		return changed, nil
	})
	if err != nil {
		return nil, err
	}
	out.Warning = w
	return out, nil
}

// applyWarningPrompted records the outcomes of claimed texts of a
// warning's 叫应, and in the warnings of the upstream Updates that
// replaced it (plans.Warning.ReplacedBy), which kept its 叫应 with the
// texts in flight (rulesUpdateKeepsPrompt in plans). An outcome for
// another attempt than the text's current one changes nothing.
func applyWarningPrompted(tx *bolt.Tx, c *muster.Command) (any, error) {
	return applyTextStageResults(tx, c, promptStage)
}

// applyWarningEscalated records the outcomes of claimed texts of the
// escalation of a warning's 叫应, as applyWarningPrompted does.
func applyWarningEscalated(tx *bolt.Tx, c *muster.Command) (any, error) {
	return applyTextStageResults(tx, c, escalationStage)
}

// applyTextStageResults records the outcomes of claimed texts of stage st.
func applyTextStageResults(tx *bolt.Tx, c *muster.Command, st textStage) (any, error) {
	var req promptResults
	if err := json.Unmarshal(c.Payload, &req); err != nil {
		return nil, invalidf("%s: %v", st.name, err)
	}
	if !c.RulesAtLeast(rulesWarningPrompt) {
		return nil, nil
	}
	id, seen := req.Warning, map[plans.WarningID]bool{}
	for id != "" && !seen[id] {
		seen[id] = true
		w, err := plans.ChangeWarning(tx, id, func(w *plans.Warning) (bool, error) {
			rec := *st.of(w)
			if rec == nil {
				return false, nil
			}
			for _, r := range req.Results {
				if r.Index >= 0 && r.Index < len(rec.Texts) {
					rec.Texts[r.Index].Record(r.Attempt, r.SID, r.Error)
				}
			}
			return true, nil
		})
		if err != nil {
			return nil, err
		}
		id = w.ReplacedBy
	}
	return nil, nil
}

// promptSuggestion is the activation the 叫应 of w names: the first of
// its suggestions at the level its colour maps to (red I, orange II),
// else its first; ok is false when it suggests none.
func promptSuggestion(w plans.Warning) (s plans.Suggestion, ok bool) {
	if len(w.Suggestions) == 0 {
		return s, false
	}
	if i := slices.IndexFunc(w.Suggestions, func(s plans.Suggestion) bool { return s.Level == w.SuggestedLevel }); i >= 0 {
		return w.Suggestions[i], true
	}
	return w.Suggestions[0], true
}

// WarningPromptText is the SMS that tells a commander that w, a LIVE
// warning, went unanswered past its response time (叫应), in Chinese,
// times in zone: which warning (its event, colour, ID and regions, when
// it was issued, from the thread's first issue: issuedSaid), that no
// response started by RespondBy, and what to do: reply 1 to acknowledge
// it (应, rulesWarningAcks: any reply does, and starts no response), and
// start the activation it suggests at the level its colour maps to
// (promptSuggestion: the plan, regions and level muster warning show
// gives, with a reason, promptReason, so it runs as texted), or, with
// none, to look at it. The command ends the text: a phone's copy of it
// takes no punctuation along. sender is the SMS sender prefix (the
// suggested plan's).
//
//	【示例市应急】【叫应】暴雨红色预警W000001（西林区）09:05发布，至09:35未启动响应。收到请回复1，并立即在控制台启动响应，或执行：muster activate flood-control --region 990105 --level I --purpose live --reason '暴雨红色预警'
func WarningPromptText(w plans.Warning, sender string, zone *time.Location) string {
	var b strings.Builder
	b.WriteString(sender + "【叫应】" + w.Event + w.Level.ChineseName() + "预警" + string(w.ID))
	if r := shortRegions(w.RegionNames()); r != "" {
		b.WriteString("（" + r + "）")
	}
	b.WriteString(issuedSaid(w, zone) + "，至" + clockSaid(w.RespondBy, firstIssued(w), zone) + "未启动响应。")
	if start := promptCommand(w); start != "" {
		b.WriteString("收到请回复1，并立即在控制台启动响应，或执行：" + start)
	} else {
		b.WriteString("收到请回复1，并立即在控制台或用 muster warning show " + string(w.ID) + " 查看并启动响应。")
	}
	return b.String()
}

// promptCommand is the command that starts the activation the 叫应 of w
// suggests (promptSuggestion), with its reason (promptReason), as texted:
// "muster activate flood-control --region 990105 --level I --purpose live
// --reason '暴雨红色预警'"; "" when it suggests none, or has no reason to
// give (the command would be refused).
func promptCommand(w plans.Warning) string {
	s, ok := promptSuggestion(w)
	reason := promptReason(w)
	if !ok || reason == "" {
		return ""
	}
	return "muster activate " + string(s.Plan) + " --region " + plans.JoinCodes(w.Regions, ",") +
		" --level " + string(s.Level) + " --purpose live --reason " + plans.ShellWord(reason)
}

// firstIssued is when w's thread was first issued: the first warning still
// awaiting a response that w, an upstream update, replaced
// (plans.Warning.FirstIssuedAt), else w's time of issue.
func firstIssued(w plans.Warning) time.Time {
	if !w.FirstIssuedAt.IsZero() && w.FirstIssuedAt.Before(w.IssuedAt) {
		return w.FirstIssuedAt
	}
	return w.IssuedAt
}

// issuedSaid says, in zone, when w was issued: 09:00发布, or, for an update
// of a thread first issued earlier, 09:00首发、09:20更新, so the response
// time named after it never comes before it.
func issuedSaid(w plans.Warning, zone *time.Location) string {
	first := firstIssued(w)
	if first.Equal(w.IssuedAt) {
		return w.IssuedAt.In(zone).Format("15:04") + "发布"
	}
	return first.In(zone).Format("15:04") + "首发、" + clockSaid(w.IssuedAt, first, zone) + "更新"
}

// promptReason is the reason the activation a 叫应 suggests gives: the
// warning's event and colour (暴雨红色预警), short where an upstream
// headline may run long, or its headline (plans.Warning.SuggestedReason)
// when the event has a word a LIVE call-up's reason may not; "" with
// neither (the text then suggests no command, which would be refused).
func promptReason(w plans.Warning) string {
	if r := w.Event + w.Level.ChineseName() + "预警"; len(plans.ReasonDrillWords(r)) == 0 {
		return r
	}
	if r := w.SuggestedReason(); len(plans.ReasonDrillWords(r)) == 0 {
		return r
	}
	return ""
}

// WarningEscalationText is the SMS that tells a superior (the holder of an
// approver token, 值班领导) that w, a LIVE warning whose commanders were
// called on (叫应), is still unanswered (叫应升级), in Chinese, times in
// zone: which warning (its event, colour, ID and regions, when it was
// issued: issuedSaid), whom of the commanders it texted and when (or that none could
// be texted), that an activation that answered it after was retracted and
// when (Retraction), that no response started by its escalation time
// (EscalateAt), and what to
// do: reply 1 to acknowledge it (应, rulesWarningAcks), have the
// commanders start the response it suggests (an approver cannot
// activate), and where to see it. sender is the SMS sender prefix.
//
//	【示例市应急】【叫应升级】暴雨红色预警W000001（东湖区）09:00发布，09:10已短信叫应指挥长周一，至09:20仍未启动响应。收到请回复1，并立即督促指挥长启动响应（建议 flood-control I级），详见控制台或 muster warning show W000001。
func WarningEscalationText(w plans.Warning, sender string, zone *time.Location) string {
	var b strings.Builder
	b.WriteString(sender + "【叫应升级】" + w.Event + w.Level.ChineseName() + "预警" + string(w.ID))
	if r := shortRegions(w.RegionNames()); r != "" {
		b.WriteString("（" + r + "）")
	}
	b.WriteString(issuedSaid(w, zone) + "，")
	until := w.RespondBy
	if p := w.Prompted; p != nil {
		at := clockSaid(p.At, firstIssued(w), zone)
		var sent []string
		for _, n := range p.Texts {
			if n.State == plans.NoticeSent {
				sent = append(sent, n.Holder)
			}
		}
		switch {
		case len(sent) > 3:
			b.WriteString(at + "已短信叫应指挥长" + strings.Join(sent[:3], "、") + fmt.Sprintf("等%d人", len(sent)))
		case len(sent) > 0:
			b.WriteString(at + "已短信叫应指挥长" + strings.Join(sent, "、"))
		case p.NoPhone:
			b.WriteString(at + "起叫应指挥长，但指挥长均无手机号，未能短信叫应")
		default:
			b.WriteString(at + "起叫应指挥长，但短信未能发出")
		}
		b.WriteString("，")
		if r, ok := w.Retraction(); ok {
			b.WriteString(clockSaid(r.Retracted, firstIssued(w), zone) + "撤回误发的" + string(r.Activation) + "，")
		}
		if at := w.EscalateAt(); !at.IsZero() {
			until = at
		}
	}
	b.WriteString("至" + clockSaid(until, firstIssued(w), zone) + "仍未启动响应。")
	if s, ok := promptSuggestion(w); ok {
		b.WriteString("收到请回复1，并立即督促指挥长启动响应（建议 " + string(s.Plan) + " " + string(s.Level) + "级），")
	} else {
		b.WriteString("收到请回复1，并立即督促指挥长启动响应，")
	}
	b.WriteString("详见控制台或 muster warning show " + string(w.ID) + "。")
	return b.String()
}
