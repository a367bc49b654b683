package notify

import (
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
