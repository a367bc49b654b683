package notify

import (
	"encoding/json"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"muster/plans"
)

// rulesFireInChunks is the behaviour (muster.Rules) from which an
// escalation step is fired in chunks: an escalation.fire that carries a
// limit looks at most at that many recipients, keeps where it stopped
// (bEscFiring) and answers it (FireResult.Next), and the escalator fires
// the next chunk from there until the step is done; a new leader's
// escalator goes on from the kept place. A superior step's silent people
// are gathered chunk by chunk (bEscGather) and the reports are written by
// the last chunk, one per superior as before, leaving out those who
// answered meanwhile. Under older rules the limit is not looked at: the
// step is one entry however many it is for, and while a million
// recipients' step was applied (seconds) no reply or result was.
const rulesFireInChunks = 13

// FireChunk is the most recipients one escalation.fire looks at.
const FireChunk = 20000

var (
	// step index (2 bytes) → fireProgress (JSON): a step begun and not
	// done.
	bEscFiring = []byte("esc_firing")
	// step index (2 bytes) + person → 1 when the step took them as not
	// reached by SMS (failed), 0 otherwise: a superior step's silent
	// people, gathered until its last chunk writes the reports.
	bEscGather = []byte("esc_gather")
)

// fireProgress is where a step being fired in chunks goes on.
type fireProgress struct {
	After plans.PersonID `json:"after"` // the last recipient looked at
	// Recent: the step is the chain's first to fire, which leaves out
	// those reached too recently for it (recentlyReached).
	Recent bool `json:"recent,omitempty"`
}

// firing is the progress of step in ad, if it is being fired in chunks.
func firing(ad *bolt.Bucket, step int) (fireProgress, bool, error) {
	var p fireProgress
	b := ad.Bucket(bEscFiring)
	if b == nil {
		return p, false, nil
	}
	v := b.Get(escStepKey(step))
	if v == nil {
		return p, false, nil
	}
	if err := json.Unmarshal(v, &p); err != nil {
		return p, false, fmt.Errorf("escalation step %d progress: %w", step, err)
	}
	return p, true, nil
}

// firingSteps lists the steps of ad being fired in chunks, with the
// recipient each goes on after.
func firingSteps(ad *bolt.Bucket) map[int]plans.PersonID {
	out := map[int]plans.PersonID{}
	if b := ad.Bucket(bEscFiring); b != nil {
		_ = b.ForEach(func(k, v []byte) error {
			var p fireProgress
			if len(k) == 2 && json.Unmarshal(v, &p) == nil {
				out[int(k[0])<<8|int(k[1])] = p.After
			}
			return nil
		})
	}
	return out
}

// keepFiring records that step goes on after p.After, or, when done, that
// it is fired: the progress and the gathered people are dropped.
func keepFiring(ad *bolt.Bucket, step int, p fireProgress, done bool) error {
	if done {
		if b := ad.Bucket(bEscFiring); b != nil {
			if err := b.Delete(escStepKey(step)); err != nil {
				return err
			}
		}
		return nil
	}
	b, err := ad.CreateBucketIfNotExists(bEscFiring)
	if err != nil {
		return err
	}
	v, _ := json.Marshal(p)
	return b.Put(escStepKey(step), v)
}

// gather keeps the silent people a superior step took in this chunk for
// its last chunk's reports; failed marks those taken as not reached by
// SMS.
func gather(ad *bolt.Bucket, step int, people []Recipient, failed map[plans.PersonID]bool) error {
	if len(people) == 0 {
		return nil
	}
	b, err := ad.CreateBucketIfNotExists(bEscGather)
	if err != nil {
		return err
	}
	for _, r := range people {
		flag := []byte{0}
		if failed[r.Person] {
			flag[0] = 1
		}
		if err := b.Put(append(escStepKey(step), r.Person...), flag); err != nil {
			return err
		}
	}
	return nil
}

// gathered returns, before those of the last chunk, the silent people the
// earlier chunks of a superior step took, as they are now, and drops them
// from the bucket. Those who answered meanwhile are left out; those taken
// as not reached by SMS stay failed for the report.
func gathered(at *actTx, step int) ([]Recipient, error) {
	b := at.ad.Bucket(bEscGather)
	if b == nil {
		return nil, nil
	}
	prefix := escStepKey(step)
	var out []Recipient
	var keys [][]byte
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && len(k) >= 2 && k[0] == prefix[0] && k[1] == prefix[1]; k, v = c.Next() {
		keys = append(keys, slices.Clone(k))
		r, _, err := at.recipient(plans.PersonID(k[2:]))
		if err != nil {
			return nil, err
		}
		if r.State == StateAcked || r.State == StateDeclined {
			continue
		}
		if len(v) == 1 && v[0] == 1 {
			r.State = StateFailed
		}
		out = append(out, r)
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return nil, err
		}
	}
	return out, nil
}
