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
// at all while the real call-up waited.
const rulesLiveWaiting = 13

// bDrillPointers holds, in a LIVE call-up's data, how many replies on a
// drill's number that no drill took were pointed to it: person → 8-byte
// count (rulesLiveWaiting).
var bDrillPointers = []byte("drill_pointers")

// liveWaits reports whether res, what an SMS reply it did, is a reply on
// a drill's number, counted on a drill or taken by none, whose sender an
// active LIVE call-up (not a correction) calls up and waits for: they have
// not answered it, nor were they taken off it (rulesLiveWaiting). For a
// reply no drill took, it counts the pointer in the LIVE call-up's data
// and sets res.Replies to that count (what is said back is bounded by it)
// and res.Language to the person's on the LIVE call-up.
func liveWaits(tx *bolt.Tx, c *muster.Command, it InboundItem, res *InboundResult) (bool, error) {
	if !it.Exercise || res.Person == "" || !c.RulesAtLeast(rulesLiveWaiting) {
		return false, nil
	}
	untaken := res.Activation == "" && res.Outcome == InboundNoCallUp
	if res.Activation == "" && !untaken {
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
