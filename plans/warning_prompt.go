package plans

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// WarningPrompted is the 叫应 of a LIVE orange or red warning that went
// unanswered past its RespondBy: the commanders who have a phone, listed
// by the leader's first look after RespondBy (notify's warning.prompt),
// each texted once that the warning awaits their response.
type WarningPrompted struct {
	// At is when the leader listed them (its clock): the warning began
	// to prompt them.
	At time.Time `json:"at"`
	// NoPhone says that no commander had a phone on record: nobody was
	// texted, and the leader logs it as a warning.
	NoPhone bool `json:"no_phone,omitempty"`
	// Texts are the texts to the commanders, ordered by holder.
	Texts []TextNotice `json:"texts"`
}

// PromptDue reports whether w, at t, is a LIVE warning in force past its
// RespondBy with no response that stands: its commanders are to be
// prompted (叫应). A drill's warning (EXERCISE or TEST) never is: nothing
// about it may go out on the LIVE account.
func (w *Warning) PromptDue(t time.Time) bool {
	return w.HoldsRegions() && w.awaitsResponse(t) && !t.Before(w.RespondBy)
}

// WarningsInForce returns the warnings in force in tx, in ID order (one
// whose expiry has passed is among them until the leader lifts it).
func WarningsInForce(tx *bolt.Tx) ([]Warning, error) {
	ab := tx.Bucket(bWarningsActive)
	if ab == nil {
		return nil, nil
	}
	var out []Warning
	err := ab.ForEach(func(k, _ []byte) error {
		w, err := getWarning(tx, WarningID(k))
		if err != nil {
			return err
		}
		out = append(out, w)
		return nil
	})
	return out, err
}

// ChangeWarning calls change with warning id as tx has it and stores it
// if change reports a change; it returns the warning as it then stands.
// A warning that does not exist is ENotFound. It runs inside an apply.
func ChangeWarning(tx *bolt.Tx, id WarningID, change func(w *Warning) (bool, error)) (Warning, error) {
	w, err := getWarning(tx, id)
	if err != nil {
		return Warning{}, err
	}
	changed, err := change(&w)
	if err != nil || !changed {
		return w, err
	}
	return w, putJSON(bucket(tx, bWarnings), string(w.ID), w)
}
