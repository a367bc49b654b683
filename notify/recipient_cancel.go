package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// Taking one person off an open call-up. A call-up keeps its own copy of
// the people it calls up, so someone deleted from the roster (left the
// job, wrong number, deceased) is still reminded, called and reported as
// silent by the call-ups already running. recipient.cancel ends that for
// one person and one call-up, as a stand-down ends it for everyone.

// CmdRecipientCancel takes one recipient off an open call-up (rules 13).
const CmdRecipientCancel = "recipient.cancel"

// rulesRecipientCancel is the behaviour (muster.Rules) from which
// recipient.cancel takes a recipient off an open call-up. Under older
// rules it is refused: a member on an older muster would not know the
// state it writes.
const rulesRecipientCancel = 13

// bCancelled, under an activation's data bucket, keeps who took each
// cancelled recipient off the call-up, when and why.
var bCancelled = []byte("cancelled") // person → Cancellation (JSON)

// recipientCancel is the payload of recipient.cancel.
type recipientCancel struct {
	Activation plans.ActivationID `json:"activation"`
	Person     plans.PersonID     `json:"person"`
	Reason     string             `json:"reason"`
}

// Cancellation is one person taken off an open call-up: the state they
// were in, who took them off, when and why, and how many reminders and
// calls queued to them were skipped.
type Cancellation struct {
	Activation plans.ActivationID `json:"activation"`
	Person     plans.PersonID     `json:"person"`
	Name       string             `json:"name"`
	Phone      string             `json:"phone"`
	From       State              `json:"from"`
	At         time.Time          `json:"at"`
	By         string             `json:"by"`
	Reason     string             `json:"reason"`
	Skipped    int                `json:"skipped"`
}

// CancelRecipient takes person off open call-up id: no SMS, reminder or
// call of it goes to them any more, their escalation ends (no backup is
// called up and no superior told of their silence from then on), and they
// count as cancelled, nowhere as silent. A send or call already in flight
// cannot be called back; an answer they give afterwards is kept as a note.
// A call-up that is not running, a correction, a person who is not its
// recipient, who answered or was taken off already is refused, and so is
// every cancel under rules older than 13.
func (s *Service) CancelRecipient(ctx context.Context, actor string, id plans.ActivationID, person plans.PersonID, reason string) (Cancellation, error) {
	var out Cancellation
	if strings.TrimSpace(reason) == "" {
		return out, invalidf("reason: say why %s is taken off the call-up (kept in the audit trail)", person)
	}
	if err := CheckReason("reason", reason, "say briefly why they are taken off"); err != nil {
		return out, err
	}
	b, err := json.Marshal(recipientCancel{Activation: id, Person: person, Reason: strings.TrimSpace(reason)})
	if err != nil {
		return out, err
	}
	err = s.apply.Apply(ctx, &muster.Command{Type: CmdRecipientCancel, Actor: actor, Payload: b}, &out)
	return out, err
}

func applyRecipientCancel(tx *bolt.Tx, c *muster.Command) (any, error) {
	var req recipientCancel
	if err := json.Unmarshal(c.Payload, &req); err != nil {
		return nil, invalidf("recipient cancel: %v", err)
	}
	if !c.RulesAtLeast(rulesRecipientCancel) {
		return nil, muster.Errorf(muster.EConflict, "taking %s off call-up %s needs state-machine rules %d and the cluster applies %d: upgrade every member's muster first "+
			"(until then the call-up goes on calling them; standing it down stops it for everyone)", req.Person, req.Activation, rulesRecipientCancel, max(c.Rules, 1))
	}
	if strings.TrimSpace(req.Reason) == "" {
		return nil, invalidf("reason: say why %s is taken off the call-up", req.Person)
	}
	a, err := getActivation(tx, req.Activation)
	if err != nil {
		return nil, err
	}
	switch {
	case a.Retraction != nil:
		return nil, muster.Errorf(muster.EConflict, "activation %s was retracted: nothing more of it is sent", a.ID)
	case a.Retracts != "":
		return nil, muster.Errorf(muster.EConflict, "activation %s is the correction of %s: it is sent to everyone the call-up may have reached, and ends once sent", a.ID, a.Retracts)
	case a.Status != StatusActive:
		return nil, muster.Errorf(muster.EConflict, "activation %s is %s, not running: it calls nobody up", a.ID, strings.ReplaceAll(string(a.Status), "_", " "))
	}
	acts := actCache{}
	at, err := acts.get(tx, req.Activation)
	if err != nil {
		return nil, err
	}
	r, att, err := at.recipient(req.Person)
	if err != nil {
		return nil, err
	}
	switch {
	case r.State == StateCancelled:
		if was, ok := cancellationOf(at.ad, req.Person); ok {
			return nil, muster.Errorf(muster.EConflict, "%s was taken off call-up %s at %s by %s", req.Person, a.ID, was.At.Format(time.RFC3339), was.By)
		}
		return nil, muster.Errorf(muster.EConflict, "%s was taken off call-up %s already", req.Person, a.ID)
	case r.State.Answered():
		return nil, muster.Errorf(muster.EConflict, "%s answered call-up %s (%s): nothing more of it is sent to them", req.Person, a.ID, r.State)
	case !stillCalled(r.State):
		return nil, muster.Errorf(muster.EConflict, "%s is %s on call-up %s: nothing more of it is sent to them", req.Person, r.State, a.ID)
	}
	if !att.NextTry.IsZero() { // a retry queued: it is not sent
		if err := at.unschedule(req.Person, &att); err != nil {
			return nil, err
		}
		att.Updated = c.Time
		if err := at.putAttempt(req.Person, att); err != nil {
			return nil, err
		}
	}
	if err := at.move(r, StateCancelled); err != nil {
		return nil, err
	}
	why := fmt.Sprintf("taken off the call-up by %s: %s", c.Actor, strings.TrimSpace(req.Reason))
	skipped, err := at.endEscalationOf(req.Person, why)
	if err != nil {
		return nil, err
	}
	out := Cancellation{Activation: a.ID, Person: req.Person, Name: r.Name, Phone: r.Phone, From: r.State,
		At: c.Time, By: c.Actor, Reason: strings.TrimSpace(req.Reason), Skipped: skipped}
	b, err := at.ad.CreateBucketIfNotExists(bCancelled)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	if err := b.Put([]byte(req.Person), data); err != nil {
		return nil, err
	}
	return out, acts.flush(c)
}

// endEscalationOf ends person's escalation in at: their escalation clock,
// if they run on one of their own, stops, and the SMS and calls queued to
// them are skipped with why. It returns how many were skipped. A send in
// flight cannot be called back.
func (at *actTx) endEscalationOf(person plans.PersonID, why string) (int, error) {
	if b := at.ad.Bucket(bEscClock); b != nil && b.Get([]byte(person)) != nil {
		if err := b.Delete([]byte(person)); err != nil {
			return 0, err
		}
		at.count(escClockCounter, -1)
	}
	q := at.ad.Bucket(bEscQueue)
	if q == nil {
		return 0, nil
	}
	var skip []EscalationItem
	err := q.ForEach(func(_, v []byte) error {
		var it EscalationItem
		if err := json.Unmarshal(v, &it); err != nil {
			return err
		}
		if it.Person == person && it.State == EscQueued && (it.Action == plans.EscalateSMS || it.Action == plans.EscalateVoice) {
			skip = append(skip, it)
		}
		return nil
	})
	for _, it := range skip {
		if err != nil {
			break
		}
		it.State, it.Error = EscSkipped, why
		escMove(at, EscQueued, EscSkipped)
		err = putEscItem(q, it)
	}
	return len(skip), err
}

// cancellationOf reads who took person off the call-up whose data is ad.
func cancellationOf(ad *bolt.Bucket, person plans.PersonID) (Cancellation, bool) {
	var out Cancellation
	b := ad.Bucket(bCancelled)
	if b == nil {
		return out, false
	}
	data := b.Get([]byte(person))
	return out, data != nil && json.Unmarshal(data, &out) == nil
}

// stillCalled reports whether a recipient in state s of an active call-up
// is still sent to or escalated: not yet sent, being sent, sent and
// silent, escalated, or not reached by SMS (a call, a backup or their
// superior still follow).
func stillCalled(s State) bool {
	return s == StatePending || s == StateSending || awaitsAnswer(s)
}

// PersonCallUp is an open call-up that still calls a person up: what it
// is, the person's state in it, the number it sends to and what it will
// still do.
type PersonCallUp struct {
	Activation plans.ActivationID `json:"activation"`
	Purpose    Purpose            `json:"purpose"`
	Plan       plans.PlanID       `json:"plan"`
	PlanTitle  string             `json:"plan_title"`
	Level      plans.LevelCode    `json:"level"`
	State      State              `json:"state"`
	Phone      string             `json:"phone"`
	// Still says what the call-up will still do to them, in words.
	Still string `json:"still"`
}

// CallUpsOf lists the open call-ups that still call person up (those
// waiting for their SMS, sending it, or waiting for their answer),
// oldest first: a call-up keeps its own copy of its people, so deleting
// someone from the roster does not stop it. It looks person up in each
// open call-up's recipients by key, whatever their size.
func (s *Service) CallUpsOf(ctx context.Context, level muster.Consistency, person plans.PersonID) ([]PersonCallUp, error) {
	out := []PersonCallUp{}
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		var err error
		out, err = callUpsOf(tx, person)
		return err
	})
	return out, err
}

func callUpsOf(tx *bolt.Tx, person plans.PersonID) ([]PersonCallUp, error) {
	out := []PersonCallUp{}
	for _, id := range openActivations(tx) {
		ad := activationData(tx, id)
		if ad == nil {
			continue
		}
		v := ad.Bucket(bRecipients).Get([]byte(person))
		if v == nil {
			continue
		}
		r, err := decodeRecipient([]byte(person), v)
		if err != nil {
			return nil, fmt.Errorf("recipient %s of %s: %w", person, id, err)
		}
		if !stillCalled(r.State) {
			continue
		}
		a, err := getActivation(tx, id)
		if err != nil {
			return nil, err
		}
		if a.Status != StatusActive || a.Retracts != "" { // a correction withdraws: it calls nobody up
			continue
		}
		out = append(out, PersonCallUp{Activation: a.ID, Purpose: a.Purpose, Plan: a.Plan, PlanTitle: a.PlanTitle, Level: a.Level,
			State: r.State, Phone: r.Phone, Still: stillDoes(r.State)})
	}
	return out, nil
}

// stillDoes says in words what an open call-up will still do to a
// recipient in state s.
func stillDoes(s State) string {
	switch s {
	case StatePending:
		return "the call-up SMS is still to be sent, then reminders and calls if they stay silent"
	case StateSending:
		return "the call-up SMS is being sent, then reminders and calls if they stay silent"
	case StateFailed:
		return "the SMS did not reach them: calls, their backup and their superior still follow"
	}
	return "silent: reminders and calls go on, and their superior is told"
}

// RecipientCancelHint is the command that takes person off call-up id,
// as the CLI spells it.
func RecipientCancelHint(id plans.ActivationID, person plans.PersonID) string {
	return fmt.Sprintf("muster recipient cancel %s %s --reason TEXT", id, person)
}
