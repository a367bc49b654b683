package plans

import (
	"bytes"
	"time"

	bolt "go.etcd.io/bbolt"
)

// WarningPrompted is a stage of the 叫应 of a LIVE orange or red warning
// that went unanswered: as Warning.Prompted, the commanders who have a
// phone, listed by the leader's first look after RespondBy (notify's
// warning.prompt); as Warning.Escalated, their superiors (the holders of
// an approver token, 值班领导) who have a phone, listed by its first look
// after EscalateBy (warning.escalate). Each is texted once that the
// warning awaits a response.
type WarningPrompted struct {
	// At is when the leader listed them (its clock): the warning began
	// to prompt them.
	At time.Time `json:"at"`
	// EscalateBy is, in Warning.Prompted, when the warning, still
	// unanswered, goes on to the superiors: At plus the leader's response
	// timeout, stamped as it listed the commanders (zero in one listed
	// by a muster before escalation, which never escalates).
	EscalateBy time.Time `json:"escalate_by,omitzero"`
	// NoPhone says that nobody of the stage had a phone on record: nobody
	// was texted, and the leader logs it as a warning (until someone is
	// given a phone while the stage is due: notify texts them then).
	NoPhone bool `json:"no_phone,omitempty"`
	// Texts are the texts to the people listed, ordered by holder, then
	// those to people given a phone after they were listed, while the
	// stage was still due (rules 13 in notify), in the order they were
	// added.
	Texts []TextNotice `json:"texts"`
}

// PromptDue reports whether w, at t, is a LIVE warning in force past its
// RespondBy with no response that stands: its commanders are to be
// prompted (叫应). A drill's warning (EXERCISE or TEST) never is: nothing
// about it may go out on the LIVE account.
func (w *Warning) PromptDue(t time.Time) bool {
	return w.HoldsRegions() && w.awaitsResponse(t) && !t.Before(w.RespondBy)
}

// EscalationDue reports whether w, at t, is due its escalation to the
// superiors (叫应升级): its commanders were called on (Prompted), none of
// them acknowledged it (应: Prompted.Acks), it is still due a prompt
// (PromptDue: LIVE, in force, unanswered) and its escalation time
// (EscalateAt) has passed. A commander's acknowledgement answers the
// call, not the warning: it stays unanswered (NO RESPONSE) until a
// response starts.
func (w *Warning) EscalationDue(t time.Time) bool {
	at := w.EscalateAt()
	return !at.IsZero() && !t.Before(at) && w.PromptDue(t) && len(w.Prompted.Acks()) == 0
}

// EscalateAt is when w, whose commanders were called on (Prompted), goes
// on to the superiors if it is still unanswered (叫应升级):
// Prompted.EscalateBy, or, for a warning answered after its commanders
// were called on by an activation since retracted (sent in error, no
// response: RetractResponses), as long after that retraction (Retraction)
// as the commanders had after the 叫应, when that is later: the
// commanders, who acted, have the same time to start the right response
// before their superiors are told they did not. Zero when it never
// escalates (no Prompted, or one without EscalateBy).
func (w *Warning) EscalateAt() time.Time {
	p := w.Prompted
	if p == nil || p.EscalateBy.IsZero() {
		return time.Time{}
	}
	at := p.EscalateBy
	if r, ok := w.Retraction(); ok {
		if again := r.Retracted.Add(p.EscalateBy.Sub(p.At)); again.After(at) {
			at = again
		}
	}
	return at
}

// Retraction is the response of w retracted last after its commanders
// were called on (Prompted.At), while no other response stands: the
// activation whose retraction left w unanswered again. ok is false when
// there is none (a response stands, or none was retracted since).
func (w *Warning) Retraction() (r WarningResponse, ok bool) {
	if w.Prompted == nil || w.Answered() {
		return r, false
	}
	for _, x := range w.Responses {
		if x.Retracted.After(w.Prompted.At) && (!ok || x.Retracted.After(r.Retracted)) {
			r, ok = x, true
		}
	}
	return r, ok
}

// Acks are the texts of p that their people acknowledged (应: a reply
// to the text while the warning awaited a response,
// TextNotice.AckedAt), in the order of p's texts; none for a nil p.
func (p *WarningPrompted) Acks() []TextNotice {
	if p == nil {
		return nil
	}
	var out []TextNotice
	for _, n := range p.Texts {
		if n.Acked() {
			out = append(out, n)
		}
	}
	return out
}

// WarningsInForce returns the warnings in force in tx, in ID order (one
// whose expiry has passed is among them until the leader lifts it).
func WarningsInForce(tx *bolt.Tx) ([]Warning, error) {
	return WarningsInForceHolding(tx, "")
}

// WarningsInForceHolding is WarningsInForce, of those whose stored record
// holds s (a phone number a 叫应 text went to): the others are not
// decoded.
func WarningsInForceHolding(tx *bolt.Tx, s string) ([]Warning, error) {
	ab, wb := tx.Bucket(bWarningsActive), tx.Bucket(bWarnings)
	if ab == nil || wb == nil {
		return nil, nil
	}
	var out []Warning
	err := ab.ForEach(func(k, _ []byte) error {
		if s != "" {
			if raw := wb.Get(k); raw == nil || !bytes.Contains(raw, []byte(s)) {
				return nil
			}
		}
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
