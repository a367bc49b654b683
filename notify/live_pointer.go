package notify

import (
	"encoding/binary"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// rulesLiveWaiting is the behaviour (muster.Rules) from which the result
// of an SMS reply counted on a drill (open or ended) says whether a LIVE
// call-up that is active calls up its sender and waits for their answer
// (InboundResult.LiveWaiting), so that what is said back points them to
// it. The reply records nothing on the LIVE call-up: a drill's number
// takes no real answer. Before, only a reply to a drill that very LIVE
// call-up stood down was pointed to it (EndedForLive), and a reply past
// the bound on answers got no answer at all. A reply on a drill's number
// from someone no drill called up lately (InboundNoCallUp) is pointed to
// the LIVE call-up too, at most maxLivePointers times per call-up and
// person, counted in its data (bDrillPointers): before, it got no answer
// at all while the real call-up waited. So is a key (1 or 2) pressed on a
// drill's call that no drill takes (the drill ended: InboundNoCallUp),
// counted with them: before, the call said only that the drill had ended.
const rulesLiveWaiting = 13

// bDrillPointers holds, in a LIVE call-up's data, how many replies on a
// drill's number that no drill took were pointed to it: person → 8-byte
// count (rulesLiveWaiting).
var bDrillPointers = []byte("drill_pointers")

// liveWaits reports whether res, what an SMS reply or a key it did, is a
// reply on a drill's number, counted on a drill or taken by none, or a key
// on a drill's call no drill takes, whose sender an active LIVE call-up
// (not a correction) calls up and waits for: they have not answered it,
// nor were they taken off it (rulesLiveWaiting); res.LiveCallUp names it.
// For a reply no drill took and such a key, it counts the pointer in the
// LIVE call-up's data and sets res.Replies to that count (what is said
// back is bounded by it) and res.Language to the person's on the LIVE
// call-up.
func liveWaits(tx *bolt.Tx, c *muster.Command, it InboundItem, res *InboundResult) (bool, error) {
	if !it.Exercise || res.Person == "" || !c.RulesAtLeast(rulesLiveWaiting) {
		return false, nil
	}
	untaken := res.Outcome == InboundNoCallUp && (res.Activation == "" || it.Kind == InboundDigits)
	if !untaken && (res.Activation == "" || it.Kind == InboundDigits) { // a key a drill took answered it
		return false, nil
	}
	person := []byte(res.Person)
	for _, id := range openActivations(tx) {
		ad := activationData(tx, id)
		if ad == nil {
			continue
		}
		v := ad.Bucket(bRecipients).Get(person)
		if v == nil {
			continue
		}
		a, err := getActivation(tx, id)
		if err != nil {
			return false, err
		}
		if a.Purpose.Drill() || a.Retracts != "" || a.Status != StatusActive {
			continue
		}
		r, err := decodeRecipient(person, v)
		if err != nil {
			return false, err
		}
		if r.State.Answered() || r.State == StateCancelled {
			continue
		}
		if untaken {
			n, err := countDrillPointer(ad, res.Person)
			if err != nil {
				return false, err
			}
			res.Replies, res.Language = n, r.Language
		}
		res.LiveCallUp = id
		return true, nil
	}
	return false, nil
}

// countDrillPointer adds one to the replies on a drill's number pointed to
// the LIVE call-up whose data ad is, from person, and returns the count.
func countDrillPointer(ad *bolt.Bucket, person plans.PersonID) (int, error) {
	b, err := ad.CreateBucketIfNotExists(bDrillPointers)
	if err != nil {
		return 0, err
	}
	var n uint64
	if v := b.Get([]byte(person)); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	n++
	return int(n), b.Put([]byte(person), binary.BigEndian.AppendUint64(nil, n))
}

// LiveCallUpWaitsByVoice follows what a drill's call says to a key no
// drill takes (the drill ended) when a LIVE call-up waits for the person
// (InboundResult.LiveWaiting): a real call-up waits for their answer,
// keys on this call do not answer it, and how to answer it, by its SMS
// from the other number, in its words (words, the LIVE call-up's
// ReplyWordsOf) in Chinese. A Chinese call says the mark in words: it is
// read, not shown.
func LiveCallUpWaitsByVoice(lang plans.Language, words ReplyWords) string {
	if lang == plans.LangEN {
		return "A REAL call-up is waiting for your answer. Keys on this drill's call do not answer it: reply to its message from the other number, " +
			"the one not marked exercise: reply 1 to report for duty, or 2 and a reason if you cannot come."
	}
	accept, decline := words.words()
	return "另有真实召集等待您的回复，本次演练电话的按键不计入真实召集。请回复另一号码发来、不带演练标记的召集短信：" +
		accept + "请回复1，" + decline + "请回复2并说明原因。"
}
