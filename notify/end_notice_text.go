package notify

import (
	"strings"

	bolt "go.etcd.io/bbolt"

	"muster/plans"
)

// What the end of a LIVE call-up (EndsCallUp) tells one of its people,
// after naming the call-up, by their answer to it (liveEndWords):
// LiveEndText to whoever answered 到, who may be at their post;
// LiveEndDeclinedText to whoever answered that they cannot come, who never
// came and has no post to leave; LiveEndUnansweredText to whoever never
// answered, who may have come without answering, be on the way, or not
// have set out. Each with its English words (…EN). None speaks of drills:
// a LIVE text never does.
const (
	LiveEndDeclinedText     = "应急响应已结束，无需回复。"
	LiveEndDeclinedTextEN   = "has ended, and no reply is needed."
	LiveEndUnansweredText   = "应急响应已结束，无需到岗；已到岗的可按单位安排离岗，无需回复。"
	LiveEndUnansweredTextEN = "has ended: you need not come; if at your post, you may leave it as your unit directs. No reply is needed."
)

// liveEndWords is what the end of a LIVE call-up says, in Chinese and in
// English, to a person whose answer to the call-up it ends was answer
// (their state in it; "" when not known: as to one who answered 到).
func liveEndWords(answer State) (zh, en string) {
	switch answer {
	case "", StateAcked:
		return LiveEndText, LiveEndTextEN
	case StateDeclined:
		return LiveEndDeclinedText, LiveEndDeclinedTextEN
	}
	return LiveEndUnansweredText, LiveEndUnansweredTextEN
}

// endedAnswer is, for a, the end of a LIVE call-up (EndsCallUp), person's
// state in the call-up it ends as tx has it at the time of the send: the
// call-up was stood down, so their answer no longer changes. "" for
// anything else, or when it cannot be read. It decides nothing in the
// FSM: only which words the end's SMS says (liveEndWords).
func endedAnswer(tx *bolt.Tx, a Activation, person plans.PersonID) State {
	if !a.EndsCallUp || a.Retracts == "" {
		return ""
	}
	ad := activationData(tx, a.Retracts)
	if ad == nil {
		return ""
	}
	rb := ad.Bucket(bRecipients)
	if rb == nil {
		return ""
	}
	v := rb.Get([]byte(person))
	if len(v) < 2 {
		return ""
	}
	return stateOf(v[1])
}

// twinsOf splits the call-ups in force that the end a, rendered for one of
// its people, says stand (a.standing) into those of the same name as the
// call-up it ends (the plan, level, regions and minute its text names it
// by, in Chinese or in English: two drills of one plan started in the
// same minute) and the others.
func twinsOf(a Activation) (twins, others []Activation) {
	zh, en := callUpName(a, a.retractedAt, plans.LangZH), callUpName(a, a.retractedAt, plans.LangEN)
	for _, s := range a.standing {
		at := startedAt(s)
		if callUpName(s, at, plans.LangZH) == zh || callUpName(s, at, plans.LangEN) == en {
			twins = append(twins, s)
		} else {
			others = append(others, s)
		}
	}
	return twins, others
}

// endNumber is what the end a says after naming the call-up it ends when
// one of the same name stands beside it (twinsOf): its number (（编号
// A000002）, " (no. A000002)"), so that the two are told apart; "" when
// none does.
func endNumber(a Activation, lang plans.Language) string {
	if twins, _ := twinsOf(a); len(twins) == 0 {
		return ""
	}
	if lang == plans.LangEN {
		return " (no. " + string(a.Retracts) + ")"
	}
	return "（编号" + string(a.Retracts) + "）"
}

// endStandingNote is what the end a says after its words about the
// call-ups in force that also call the person (a.standing): those of the
// same name as the one it ends (twinsOf), by their numbers, stand (同时发出
// 的同名通知（编号A000003）仍然有效。), and the others as standingNote says
// them.
func endStandingNote(a Activation, lang plans.Language) string {
	twins, others := twinsOf(a)
	if len(twins) == 0 {
		return standingNote(a.standing, lang)
	}
	ids := make([]string, len(twins))
	for i, s := range twins {
		ids[i] = string(s.ID)
	}
	note := "同时发出的同名通知（编号" + strings.Join(ids, "、") + "）仍然有效。"
	if lang == plans.LangEN {
		switch len(ids) {
		case 1:
			note = " The other call-up of the same name and time (no. " + ids[0] + ") still stands."
		default:
			note = " The other call-ups of the same name and time (nos. " + strings.Join(ids, ", ") + ") still stand."
		}
	}
	return note + standingNote(others, lang)
}
