package notify

import (
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// rulesWarningAcks is the behaviour (muster.Rules) from which an SMS
// reply to a 叫应 text (the commanders', or the superiors' 叫应升级) of a
// LIVE warning still in force and awaiting a response is taken for the
// sender's acknowledgement (应) of it (InboundWarningAck): recorded on the
// text (plans.TextNotice.AckedAt, AckBody), audited, and answered that it
// was recorded and that it starts no response, with how to start one
// (WarningAckRecorded). A commander's acknowledgement stops the escalation
// to the superiors (plans.Warning.EscalationDue); the warning stays
// unanswered (NO RESPONSE) until an activation answers it. Which replies
// are taken follows the approvers' texts (rulesApproverReplies,
// textTakesReply): any from a number no roster person has, or a roster
// person without an open call-up, and a roster person's first one after
// the text when their call-up began before it went out. Under older rules
// such a reply was an unknown number's (audited, answered with nothing),
// or answered the person's call-up.
const rulesWarningAcks = 13

// InboundWarningAck is a reply taken for the acknowledgement (应) of a
// 叫应 text of a LIVE warning awaiting a response (rulesWarningAcks): it
// is recorded on the text, starts no response, and is audited.
const InboundWarningAck InboundOutcome = "warning_ack"

// maxAckBody bounds, in bytes, the reply kept as an acknowledgement.
const maxAckBody = 200

// warningAckText finds, for a reply (body) from number from, the 叫应 text
// of a LIVE warning in force and still awaiting a response
// (plans.Warning.PromptDue) that went to that number (textTakesReply: for
// a roster person whose open call-up began at since, person set, only
// their first reply to a text that went out after it), the newest of
// those not acknowledged yet, else the newest, and returns it with how to
// record the reply on it: the first reply to a text acknowledges it, at
// c's time; each is counted (what is said back is bounded by it). It
// returns nil when there is none. It runs in the inbound command's apply
// function.
func warningAckText(tx *bolt.Tx, c *muster.Command, from, body string, person plans.PersonID, since time.Time) (*textReply, error) {
	if from == "" {
		return nil, nil
	}
	ws, err := plans.WarningsInForceHolding(tx, from)
	if err != nil {
		return nil, err
	}
	type found struct {
		w     plans.WarningID
		st    textStage
		i     int
		acked bool
		textReply
	}
	var best *found
	for _, w := range ws {
		if !w.PromptDue(c.Time) {
			continue // a drill's, answered, or expired: the text asks nothing any more
		}
		for _, st := range []textStage{promptStage, escalationStage} {
			rec := *st.of(&w)
			if rec == nil {
				continue
			}
			for i, n := range rec.Texts {
				mine, taken := textTakesReply(n, from, person, since)
				if !mine {
					continue
				}
				f := &found{w: w.ID, st: st, i: i, acked: n.Acked(), textReply: textReply{at: n.At, taken: taken}}
				if best == nil || (best.acked && !f.acked) || (best.acked == f.acked && f.at.After(best.at)) {
					best = f
				}
			}
		}
	}
	if best == nil {
		return nil, nil
	}
	best.take = func() (InboundResult, error) {
		res := InboundResult{Outcome: InboundWarningAck, Person: person, Warning: best.w, Superior: best.st.name == escalationStage.name}
		_, err := plans.ChangeWarning(tx, best.w, func(w *plans.Warning) (bool, error) {
			n := &(*best.st.of(w)).Texts[best.i]
			n.Replies++
			if !n.Acked() {
				n.AckedAt, n.AckBody = c.Time, truncate(strings.TrimSpace(body), maxAckBody)
			}
			res.Replies, res.Start = n.Replies, promptCommand(*w)
			return true, nil
		})
		return res, err
	}
	return &best.textReply, nil
}

// WarningAckRecorded answers a reply taken for the acknowledgement (应) of
// a 叫应 text of warning w (InboundWarningAck): it was recorded, and it
// starts no response; a commander (superior false) is given the command
// that starts the one the text suggested (start, as the text ends with
// it) or where to look, a superior (叫应升级) to have the commanders start
// it. One with a call-up of their own open (callUp) is told that their
// next reply answers it. The command, when given, ends the text.
func WarningAckRecorded(w plans.WarningID, superior bool, start string, callUp bool) string {
	var b strings.Builder
	if superior {
		b.WriteString("已记录您对" + string(w) + "升级叫应的应答。")
	} else {
		b.WriteString("已记录您对" + string(w) + "叫应的应答。")
	}
	if callUp {
		b.WriteString("如需对通知报到，请再回复1或2。")
	}
	b.WriteString("应答不会启动响应：")
	switch {
	case superior:
		b.WriteString("请立即督促指挥长启动响应，详见控制台或 muster warning show " + string(w) + "。")
	case start != "":
		b.WriteString("请立即在控制台启动响应，或执行：" + start)
	default:
		b.WriteString("请立即在控制台或用 muster warning show " + string(w) + " 查看并启动响应。")
	}
	return b.String()
}
