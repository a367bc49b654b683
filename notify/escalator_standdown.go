package notify

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// CallCanceler cancels a call placed earlier that is still queued or
// ringing and leaves one that was picked up (Twilio implements it): a
// stand-down cancels its call-up's calls nobody has answered yet.
type CallCanceler interface {
	CancelCall(ctx context.Context, providerID string) (CallEnd, error)
}

// stoppedCalls is what one escalation loop has left to do for a call-up
// stood down (not retracted: its correction ends the calls it may have
// reached): cancel its voice escalation calls still queued or ringing, as
// a retraction's correction does (endCalls), so nobody picks up a call of
// a call-up that has ended only to hear that it has. A call picked up is
// left to talk: it says the call-up has ended.
type stoppedCalls struct {
	until time.Time // StoodDownAt + CorrectionWait: looked at no longer
	read  bool      // the queue was read whole
	// keys are the queue keys of its voice items whose calls may still be
	// queued or ringing: being placed, or placed with no final status.
	keys [][]byte
}

// watchStopped adds to loop the call-ups of its purpose stood down at most
// CorrectionWait before now: those open at the last look and closed now,
// or, at a term's first look (nothing looked at before), every one stood
// down since then. It runs in look's read transaction; open are the
// call-ups open now.
func (e *Escalator) watchStopped(tx *bolt.Tx, loop *escLoop, open []plans.ActivationID, now time.Time) error {
	watch := func(a Activation) {
		if a.Status != StatusStoodDown || a.Retraction != nil || a.Purpose.Drill() != loop.drill {
			return
		}
		if until := a.StoodDownAt.Add(e.cfg.CorrectionWait); now.Before(until) && loop.stopped[a.ID] == nil {
			loop.stopped[a.ID] = &stoppedCalls{until: until}
		}
	}
	first := loop.open == nil
	if first {
		loop.open, loop.stopped = map[plans.ActivationID]bool{}, map[plans.ActivationID]*stoppedCalls{}
		if ab := tx.Bucket(bActivations); ab != nil {
			if err := ab.ForEach(func(_, v []byte) error {
				var a Activation
				if err := json.Unmarshal(v, &a); err != nil {
					return err
				}
				watch(a)
				return nil
			}); err != nil {
				return err
			}
		}
	}
	isOpen := map[plans.ActivationID]bool{}
	for _, id := range open {
		isOpen[id] = true
	}
	for id := range loop.open {
		if isOpen[id] {
			continue
		}
		a, err := getActivation(tx, id)
		if err != nil {
			if muster.IsCode(err, muster.ENotFound) {
				continue
			}
			return err
		}
		watch(a)
	}
	loop.open = isOpen
	return nil
}

// cancelStopped cancels the calls of loop's stood-down call-ups that may
// still be queued or ringing. A call being placed is looked at again next
// tick; one Twilio cannot cancel for now is tried again; after
// CorrectionWait from the stand-down the call-up is no longer looked at.
func (e *Escalator) cancelStopped(ctx context.Context, loop *escLoop) error {
	now := e.cfg.Clock.Now()
	for id, s := range loop.stopped {
		if !now.Before(s.until) {
			delete(loop.stopped, id)
		}
	}
	if len(loop.stopped) == 0 {
		return nil
	}
	var canceler CallCanceler
	if v := e.voice[loop.drill]; v != nil {
		canceler, _ = v.Caller.(CallCanceler)
	}
	if canceler == nil {
		clear(loop.stopped) // no call was placed here, or none can be canceled
		return nil
	}
	type ringing struct {
		a   plans.ActivationID
		key []byte
		sid string
	}
	var calls []ringing
	err := e.view.View(ctx, muster.Stale, func(tx *bolt.Tx) error {
		for id, s := range loop.stopped {
			var q *bolt.Bucket
			if ad := activationData(tx, id); ad != nil {
				q = ad.Bucket(bEscQueue)
			}
			if q == nil {
				delete(loop.stopped, id)
				continue
			}
			var keys [][]byte
			look := func(k []byte, it EscalationItem) {
				c, live := notEnded(it)
				switch {
				case !live || c.Status == CallInProgress: // over, or picked up: it says the call-up has ended
				case c.SID == "":
					keys = append(keys, k) // being placed: its SID comes with its result
				default:
					keys = append(keys, k)
					calls = append(calls, ringing{a: id, key: k, sid: c.SID})
				}
			}
			if !s.read {
				if err := q.ForEach(func(k, v []byte) error {
					var it EscalationItem
					if err := json.Unmarshal(v, &it); err != nil {
						return err
					}
					look(append([]byte(nil), k...), it)
					return nil
				}); err != nil {
					return err
				}
				s.read = true
			} else {
				for _, k := range s.keys {
					it, ok, err := getEscItem(q, k)
					if err != nil {
						return err
					}
					if ok {
						look(k, it)
					}
				}
			}
			s.keys = keys
			if len(keys) == 0 {
				delete(loop.stopped, id)
			}
		}
		return nil
	})
	if err != nil || len(calls) == 0 {
		return err
	}
	done := make([]bool, len(calls))
	ends := make([]CallEnd, len(calls))
	sem := make(chan struct{}, e.cfg.Workers)
	var wg sync.WaitGroup
	for i, c := range calls {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			end, err := canceler.CancelCall(ctx, c.sid)
			switch {
			case err != nil && IsTemporary(err):
				e.cfg.Logger.Warn("escalator: could not cancel a call of a stood-down call-up; tried again", "activation", c.a, "call", c.sid, "err", err)
			case err != nil:
				e.cfg.Logger.Warn("escalator: a call of a stood-down call-up cannot be canceled", "activation", c.a, "call", c.sid, "err", err)
				done[i] = true
			default:
				done[i], ends[i] = true, end
			}
		})
	}
	wg.Wait()
	canceled, answered := map[plans.ActivationID]int{}, map[plans.ActivationID]int{}
	over := map[plans.ActivationID]map[string]bool{}
	for i, c := range calls {
		if !done[i] {
			continue
		}
		switch ends[i].Status {
		case CallCanceled:
			canceled[c.a]++
		case CallInProgress:
			answered[c.a]++
		}
		if over[c.a] == nil {
			over[c.a] = map[string]bool{}
		}
		over[c.a][string(c.key)] = true
	}
	for id, keys := range over {
		if s := loop.stopped[id]; s != nil {
			s.keys = slices.DeleteFunc(s.keys, func(k []byte) bool { return keys[string(k)] })
			if len(s.keys) == 0 {
				delete(loop.stopped, id)
			}
		}
	}
	for id, n := range canceled {
		e.cfg.Logger.Info("escalator: calls of a stood-down call-up canceled before they were answered", "activation", id, "calls", n, "answered_meanwhile", answered[id])
	}
	return nil
}
