package notify

import (
	bolt "go.etcd.io/bbolt"

	"muster"
)

// rulesLiveWaiting is the behaviour (muster.Rules) from which the result
// of an SMS reply counted on a drill (open or ended) says whether a LIVE
// call-up that is active calls up its sender and waits for their answer
// (InboundResult.LiveWaiting), so that what is said back points them to
// it. The reply records nothing on the LIVE call-up: a drill's number
// takes no real answer. Before, only a reply to a drill that very LIVE
// call-up stood down was pointed to it (EndedForLive), and a reply past
// the bound on answers got no answer at all.
const rulesLiveWaiting = 13

// liveWaits reports whether res, what an SMS reply it did, is a reply
// counted on a drill whose sender an active LIVE call-up (not a
// correction) calls up and waits for: they have not answered it, nor
// were they taken off it (rulesLiveWaiting). It reads the state only.
func liveWaits(tx *bolt.Tx, c *muster.Command, it InboundItem, res InboundResult) (bool, error) {
	if !it.Exercise || res.Activation == "" || res.Person == "" || !c.RulesAtLeast(rulesLiveWaiting) {
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
		if !r.State.Answered() && r.State != StateCancelled {
			return true, nil
		}
	}
	return false, nil
}
