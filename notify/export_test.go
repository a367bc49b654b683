package notify

import (
	bolt "go.etcd.io/bbolt"

	"muster/plans"
)

// EscalationQueue lists the escalation items of activation id in key
// order, as the state holds them.
func EscalationQueue(tx *bolt.Tx, id plans.ActivationID) ([]EscalationItem, error) {
	ad := activationData(tx, id)
	if ad == nil || ad.Bucket(bEscQueue) == nil {
		return nil, nil
	}
	var out []EscalationItem
	err := ad.Bucket(bEscQueue).ForEach(func(k, _ []byte) error {
		it, _, err := getEscItem(ad.Bucket(bEscQueue), k)
		out = append(out, it)
		return err
	})
	return out, err
}

// PromptCommand is the command a 叫应 text about w ends with ("" when it
// suggests none).
var PromptCommand = promptCommand
