package notify

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// Replicated state of sending and answers. The dispatcher claims recipients
// (dispatch.claim) before it calls the provider and proposes the outcomes
// after (dispatch.result); webhooks propose delivery reports and replies
// (inbound.batch). Each command carries hundreds of items. Everything here
// runs inside the FSM: times come from the command, never the clock.

// Command types of sending and answers.
const (
	CmdDispatchClaim  = "dispatch.claim"
	CmdDispatchResult = "dispatch.result"
	CmdInbound        = "inbound.batch"
)

// Buckets: per activation (under activation_data/<id>) the attempt records,
// the retry queue and the notes; globally the open activations, the inbound
// message SIDs already applied, and the audit of inbound messages that
// matched no open call-up.
var (
	bAttempts       = []byte("attempts")         // person → attempt record (binary, attempt_record.go)
	bRetry          = []byte("retry")            // 8-byte unix nanos + person → nothing
	bNotes          = []byte("notes")            // sequence → Note (JSON)
	bOpen           = []byte("activations_open") // activation ID → nothing, while it may send
	bInboundSeen    = []byte("inbound_seen")     // inbound MessageSid → outcome
	bInboundAudit   = []byte("inbound_audit")    // sequence → InboundRecord (JSON)
	dispatchCounter = "dispatch/"
	ackByCounter    = "ackby/"
)

// Board checkpoints: acknowledgements are counted per grid by how soon after
// the activation they came.
var ackCheckpoints = []time.Duration{5 * time.Minute, 15 * time.Minute, 30 * time.Minute}

// Attempt is what sending has done for one recipient: how many provider
// attempts were claimed, the latest one's provider ID and error, the retry
// scheduled, and the answer.
type Attempt struct {
	N        int       `json:"n"`                 // attempts claimed; the current one is N
	Resent   int       `json:"resent,omitempty"`  // re-sends of claims whose outcome a failover lost
	SID      string    `json:"sid,omitempty"`     // provider message ID of the latest accepted send
	Code     int       `json:"code,omitempty"`    // last provider error code
	Error    string    `json:"error,omitempty"`   // last error, as the provider said it
	NextTry  time.Time `json:"next_try,omitzero"` // when a retry is due; zero when none is queued
	Updated  time.Time `json:"updated,omitzero"`  // last change
	Answered time.Time `json:"answered,omitzero"` // when the recipient accepted or declined
	// Reached is when the call-up first reached the recipient: the first
	// delivery report, or the answer when no report came before it.
	Reached  time.Time `json:"reached,omitzero"`
	Reason   string    `json:"reason,omitempty"`    // a decline's reason
	Replies  int       `json:"replies,omitempty"`   // SMS replies received, answers and notes
	LastBody string    `json:"last_body,omitempty"` // the latest reply's text
	// Restored is the state's restore era (restoreEra: the restore's
	// number and tag) when attempt N was claimed (rulesRestoredAttempts):
	// 0 before any restore. Its ID carries it (attemptIDOf).
	Restored int `json:"restored,omitempty"`
	// FailedPhones are the person's numbers the call-up SMS failed at for
	// good, in the order tried, once it went on from one to their next
	// mobile (rulesPhoneFallback); the recipient's phone is the number it
	// uses now. Empty when it never went on.
	FailedPhones []PhoneFailure `json:"failed_phones,omitempty"`
}

// AttemptID names attempt n to one recipient: activation, person and n,
// joined by dots. It goes into the StatusCallback URL, so a delivery report
// finds its recipient even when it beats the send's result.
func AttemptID(act plans.ActivationID, person plans.PersonID, n int) string {
	return string(act) + "." + string(person) + "." + strconv.Itoa(n)
}

// ParseAttemptID splits an AttemptID, also one made after a restore
// (attemptIDOf: the restore's era after N), which it leaves out.
func ParseAttemptID(s string) (plans.ActivationID, plans.PersonID, int, error) {
	act, person, n, _, err := parseAttempt(s)
	return act, person, n, err
}

// rank orders delivery progress: a report never moves a recipient back.
func rank(s State) int {
	switch s {
	case StatePending:
		return 0
	case StateSending, StateExpired: // expired: in flight when the activation was stood down
		return 1
	case StateSent:
		return 2
	case StateDelivered:
		return 3
	}
	return 4 // acked, declined, failed, escalated: settled
}

// Answered reports whether the recipient has accepted or declined.
func (s State) Answered() bool { return s == StateAcked || s == StateDeclined }

// actTx is one activation's buckets in a write transaction, with the
// activation decoded once per command.
type actTx struct {
	a        Activation
	rb, cb   *bolt.Bucket
	attempts *bolt.Bucket
	// rc and ac read recipients and attempt records: one cursor each,
	// sought again for every read (a Get makes a new cursor each time).
	rc, ac *bolt.Cursor
	retry  *bolt.Bucket
	ad     *bolt.Bucket
	// deltas accumulates counter changes; flush writes them once per
	// command instead of once per recipient, and builds each key once.
	deltas map[counterID]int64
	// late lists the recipients whose call-up went out, or failed, after
	// the activation's escalation chain began, answered those who answered
	// since: flush starts the escalation clocks of the first (escalation.go)
	// and ends those of the others. chain caches whether the chain began:
	// 0 not read yet, 1 no, 2 yes.
	late, answered []plans.PersonID
	chain          int8
}

// counterID names a counter of an activation without building its key:
// transitions note their changes by ID, flush turns each into its key.
type counterID struct {
	kind  byte   // 's' state, 'g' grid, 'r' role, 'd' dispatch count, 'k' a key as it is
	name  string // the grid, the dispatch count's name, or the whole key for 'k'
	role  int
	state State
}

func (c counterID) key() []byte {
	switch c.kind {
	case 's':
		return stateKey(c.state)
	case 'g':
		return gridKey(plans.RegionCode(c.name), c.state)
	case 'r':
		return roleKey(c.role, c.state)
	case 'd':
		return []byte(dispatchCounter + c.name)
	}
	return []byte(c.name)
}

// tally adds d to the counters of state s for a recipient in grid with roles.
func (at *actTx) tally(grid plans.RegionCode, roles []int, s State, d int64) {
	at.deltas[counterID{kind: 's', state: s}] += d
	at.deltas[counterID{kind: 'g', name: string(grid), state: s}] += d
	for _, i := range roles {
		at.deltas[counterID{kind: 'r', role: i, state: s}] += d
	}
}

// bump adds d to the counter whose key is k.
func (at *actTx) bump(k string, d int64) { at.deltas[counterID{kind: 'k', name: k}] += d }

// actCache opens activations for one apply, each at most once.
type actCache map[plans.ActivationID]*actTx

func (m actCache) get(tx *bolt.Tx, id plans.ActivationID) (*actTx, error) {
	if at, ok := m[id]; ok {
		if at == nil {
			return nil, muster.Errorf(muster.ENotFound, "activation %s does not exist", id)
		}
		return at, nil
	}
	a, err := getActivation(tx, id)
	if err != nil {
		m[id] = nil
		return nil, err
	}
	ad := activationData(tx, id)
	if ad == nil {
		// Waiting for approval, or rejected: nobody was called, so nothing
		// can be reported or answered for it. Not found for what arrives
		// naming it (audited as unknown), not a fault failing its batch.
		m[id] = nil
		return nil, muster.Errorf(muster.ENotFound, "activation %s has no recipients (%s)", id, a.Status)
	}
	at := &actTx{a: a, ad: ad, rb: ad.Bucket(bRecipients), cb: ad.Bucket(bCounters), deltas: map[counterID]int64{}}
	if at.attempts, err = ad.CreateBucketIfNotExists(bAttempts); err != nil {
		return nil, err
	}
	at.rc, at.ac = at.rb.Cursor(), at.attempts.Cursor()
	if at.retry, err = ad.CreateBucketIfNotExists(bRetry); err != nil {
		return nil, err
	}
	m[id] = at
	return at, nil
}

// flush writes the counter changes of every activation opened, in key
// order (the map's order must not reach the state), relieves the backups
// reached after the person they stand in for reported (relieveLate), and
// starts or ends the escalation clocks of the recipients that need it, at
// c's time.
func (m actCache) flush(c *muster.Command) error {
	ids := make([]string, 0, len(m))
	for id, at := range m {
		if at != nil {
			ids = append(ids, string(id))
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		at := m[plans.ActivationID(id)]
		if err := at.relieveLate(c); err != nil {
			return fmt.Errorf("activation %s: %w", id, err)
		}
		if err := at.updateClocks(c); err != nil {
			return fmt.Errorf("activation %s: %w", id, err)
		}
		type change struct {
			k []byte
			d int64
		}
		changes := make([]change, 0, len(at.deltas))
		for c, d := range at.deltas {
			if d != 0 {
				changes = append(changes, change{c.key(), d})
			}
		}
		slices.SortFunc(changes, func(a, b change) int { return bytes.Compare(a.k, b.k) })
		for _, c := range changes {
			if err := addCounter(at.cb, c.k, c.d); err != nil {
				return fmt.Errorf("activation %s: %w", id, err)
			}
		}
		clear(at.deltas)
	}
	return nil
}

// recipient reads one recipient and its attempt record (zero if none).
func (at *actTx) recipient(person plans.PersonID) (Recipient, Attempt, error) {
	var att Attempt
	v := get(at.rc, []byte(person))
	if v == nil {
		return Recipient{}, att, muster.Errorf(muster.ENotFound, "person %s is not a recipient of activation %s", person, at.a.ID)
	}
	r, err := decodeRecipient([]byte(person), v)
	if err != nil {
		return r, att, fmt.Errorf("recipient %s of %s: %w", person, at.a.ID, err)
	}
	if data := get(at.ac, []byte(person)); data != nil {
		if err := decodeAttempt(data, &att); err != nil {
			return r, att, fmt.Errorf("attempt record of %s in %s: %w", person, at.a.ID, err)
		}
	}
	return r, att, nil
}

// get is Bucket.Get through c: the value of key k, nil if there is none.
// Sought afresh, c may have been moved or the bucket changed since.
func get(c *bolt.Cursor, k []byte) []byte {
	ck, v := c.Seek(k)
	if !bytes.Equal(ck, k) {
		return nil
	}
	return v
}

func (at *actTx) putAttempt(person plans.PersonID, att Attempt) error {
	// bbolt keeps the value until the transaction ends: a fresh slice each time.
	return at.attempts.Put([]byte(person), appendAttempt(make([]byte, 0, 64), &att))
}

func retryKey(t time.Time, person plans.PersonID) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(person)), uint64(t.UnixNano()))
	return append(k, person...)
}

// schedule queues a retry of r at t (replacing any queued one) and puts r
// back to pending.
func (at *actTx) schedule(r Recipient, att *Attempt, t time.Time) error {
	if err := at.unschedule(r.Person, att); err != nil {
		return err
	}
	att.NextTry = t
	if err := at.retry.Put(retryKey(t, r.Person), nil); err != nil {
		return err
	}
	return at.move(r, StatePending)
}

func (at *actTx) unschedule(person plans.PersonID, att *Attempt) error {
	if att.NextTry.IsZero() {
		return nil
	}
	err := at.retry.Delete(retryKey(att.NextTry, person))
	att.NextTry = time.Time{}
	return err
}

// move sets r's state, rewriting the one state byte of its record, and
// notes the counter changes for flush.
func (at *actTx) move(r Recipient, to State) error {
	if r.State == to {
		return nil
	}
	code, ok := to.code()
	if !ok {
		return invalidf("state %q is unknown", to)
	}
	v := get(at.rc, []byte(r.Person))
	if len(v) < 2 {
		return fmt.Errorf("recipient %s of %s: %w", r.Person, at.a.ID, errBadRecord)
	}
	nv := slices.Clone(v) // bbolt keeps the value until the transaction ends
	nv[1] = code
	if err := at.rb.Put([]byte(r.Person), nv); err != nil {
		return err
	}
	at.tally(r.Grid, r.Roles, r.State, -1)
	at.tally(r.Grid, r.Roles, to, +1)
	if at.a.Status == StatusActive && at.chainBegun() {
		if awaitsAnswer(to) && !awaitsAnswer(r.State) {
			at.late = append(at.late, r.Person)
		} else if to.Answered() {
			at.answered = append(at.answered, r.Person)
		}
	}
	return nil
}

// count adds n to the dispatch counter name.
func (at *actTx) count(name string, n int64) { at.deltas[counterID{kind: 'd', name: name}] += n }

// ---- dispatch.claim ----

// ClaimItem asks to send attempt N+1 to a recipient whose current attempt is
// N. A fresh or retried recipient must be pending; Resend claims one left in
// sending by a leader that died before its result was committed.
type ClaimItem struct {
	Person plans.PersonID `json:"p"`
	N      int            `json:"n"`
	Resend bool           `json:"r,omitempty"`
	// Restored, in a claim's result, is the restore era the attempt was
	// claimed under (Attempt.Restored): its ID carries it.
	Restored int `json:"g,omitempty"`
}

type dispatchClaim struct {
	Activation plans.ActivationID `json:"a"`
	Items      []ClaimItem        `json:"i"`
	// Simulated says the leader sends these claims through the built-in
	// simulator (Route.Simulated): they reach no phone.
	Simulated bool `json:"sim,omitempty"`
}

// ClaimResult lists the recipients claimed, each with its new attempt
// number. Stopped is set when the activation no longer sends (stood down):
// nothing was claimed.
type ClaimResult struct {
	Claimed []ClaimItem `json:"claimed"`
	Stopped bool        `json:"stopped,omitempty"`
	// Taken counts items another claim got to first: their attempt number
	// moved on, or they are in sending and this was no re-send. (Items
	// answered or reported since the dispatcher looked are not counted.)
	Taken int `json:"taken,omitempty"`
	// Release says the claim was applied under rules that take a dropped
	// result of an active call-up's send as a release (rulesReleaseClaims):
	// a dispatcher that stops may hand back the claims it did not send.
	Release bool `json:"release,omitempty"`
	// NotNeeded says the claim was applied under rules that take a dropped
	// result of a backup's send, made once the person they stand in for
	// answered 到, off the call-up (rulesStandInInFlight): a dispatcher
	// drops such a send instead of making it.
	NotNeeded bool `json:"not_needed,omitempty"`
}

func applyDispatchClaim(tx *bolt.Tx, c *muster.Command) (any, error) {
	var req dispatchClaim
	if err := json.Unmarshal(c.Payload, &req); err != nil {
		return nil, invalidf("claim: %v", err)
	}
	acts := actCache{}
	at, err := acts.get(tx, req.Activation)
	if err != nil {
		return nil, err
	}
	out := ClaimResult{Claimed: []ClaimItem{}, Release: c.RulesAtLeast(rulesReleaseClaims), NotNeeded: c.RulesAtLeast(rulesStandInInFlight)}
	restored := 0
	if c.RulesAtLeast(rulesRestoredAttempts) {
		restored = restoreEra(tx)
	}
	if at.a.Status != StatusActive {
		out.Stopped = true
		return out, nil
	}
	for _, it := range req.Items {
		r, att, err := at.recipient(it.Person)
		if muster.IsCode(err, muster.ENotFound) {
			continue // taken off a correction: the original never reached them
		}
		if err != nil {
			return nil, err
		}
		ok := att.N == it.N && (r.State == StatePending || (it.Resend && r.State == StateSending))
		if !ok {
			if att.N != it.N || r.State == StateSending {
				out.Taken++
			}
			continue // answered, reported or claimed since the dispatcher looked
		}
		if err := at.unschedule(it.Person, &att); err != nil {
			return nil, err
		}
		att.N++
		att.Updated = c.Time
		if c.RulesAtLeast(rulesRestoredAttempts) {
			att.Restored = restored
		}
		if it.Resend {
			att.Resent++
			at.count("resent", 1)
		}
		at.count("claimed", 1)
		if err := at.putAttempt(it.Person, att); err != nil {
			return nil, err
		}
		if err := at.move(r, StateSending); err != nil {
			return nil, err
		}
		out.Claimed = append(out.Claimed, ClaimItem{Person: it.Person, N: att.N, Resend: it.Resend, Restored: att.Restored})
	}
	if req.Simulated && len(out.Claimed) > 0 && c.RulesAtLeast(rulesSimulatedSends) {
		at.count(SimulatedCounter, int64(len(out.Claimed)))
		if !at.a.Simulated {
			at.a.Simulated = true
			if err := putActivation(tx, at.a); err != nil {
				return nil, err
			}
		}
	}
	return out, acts.flush(c)
}

// SimulatedCounter counts, in an activation's dispatch counters, the
// claims of its SMS sent through the built-in simulator (rules 13).
const SimulatedCounter = "simulated"

// rulesSimulatedSends is the behaviour (muster.Rules) from which a claim
// sent through the built-in simulator (dispatchClaim.Simulated) marks its
// call-up simulated (Activation.Simulated): its messages reached no phone,
// and a drill's run so sent is not a drill held. Before 13 nothing
// recorded it.
const rulesSimulatedSends = 13

// ---- dispatch.result ----

// Outcome is what became of one send attempt.
type Outcome string

// Send outcomes.
const (
	OutcomeSent   Outcome = "sent"   // the provider accepted it
	OutcomeRetry  Outcome = "retry"  // a temporary failure; try again at NextTry
	OutcomeFailed Outcome = "failed" // a permanent failure, or the retry budget is spent
	// OutcomeDropped: the send was never made because the activation was
	// stood down or retracted after the claim.
	OutcomeDropped Outcome = "dropped"
)

// ResultItem is the outcome of attempt N to one recipient.
type ResultItem struct {
	Activation plans.ActivationID `json:"a"`
	Person     plans.PersonID     `json:"p"`
	N          int                `json:"n"`
	Outcome    Outcome            `json:"o"`
	SID        string             `json:"sid,omitempty"`
	Code       int                `json:"code,omitempty"`
	Error      string             `json:"err,omitempty"`
	NextTry    time.Time          `json:"next,omitzero"`
	Fallback   bool               `json:"fb,omitempty"` // sent on the route's fallback account
	// To is the number the message went to when it is not the recipient
	// record's: their phone was corrected since the call-up began.
	To string `json:"to,omitempty"`
}

type dispatchResult struct {
	Items []ResultItem `json:"i"`
}

// ResultSummary counts how a batch of results was applied: Stale results
// belonged to an attempt that was superseded or already reported.
type ResultSummary struct {
	Applied int `json:"applied"`
	Stale   int `json:"stale"`
}

func applyDispatchResult(tx *bolt.Tx, c *muster.Command) (any, error) {
	var req dispatchResult
	if err := json.Unmarshal(c.Payload, &req); err != nil {
		return nil, invalidf("result: %v", err)
	}
	acts := actCache{}
	var out ResultSummary
	for _, it := range req.Items {
		at, err := acts.get(tx, it.Activation)
		if err != nil {
			return nil, err
		}
		r, att, err := at.recipient(it.Person)
		if err != nil {
			return nil, err
		}
		if att.N != it.N {
			out.Stale++
			continue
		}
		if it.Outcome == OutcomeDropped && r.State == StateSending && at.a.Status == StatusActive && c.RulesAtLeast(rulesReleaseClaims) {
			if err := at.release(r, &att, c.Time); err != nil {
				return nil, err
			}
			// A backup whose claim was handed back, or dropped, once the
			// person they stand in for answered 到: not sent at all.
			if _, err := at.offIfNotNeeded(c, r.Person, &att); err != nil {
				return nil, err
			}
			out.Applied++
			continue
		}
		att.Updated = c.Time
		if it.SID != "" {
			att.SID = it.SID
		}
		if it.Outcome == OutcomeSent && it.To != "" && c.RulesAtLeast(rulesSendsFollowTheRoster) &&
			!(c.RulesAtLeast(rulesPhoneFallback) && att.failedAt(it.To)) {
			// whatever a report or an answer did meanwhile: the message went
			// there, unless its report came first and said the number cannot
			// take it (the call-up went on to another: rulesPhoneFallback)
			if err := at.readdress(it.Person, it.To); err != nil {
				return nil, err
			}
		}
		if it.Outcome == OutcomeSent && it.Fallback { // counted whatever a report did meanwhile
			at.count("fallback", 1)
		}
		if it.Outcome != OutcomeSent {
			att.Code, att.Error = it.Code, truncate(it.Error, 200)
		}
		if it.Outcome == OutcomeDropped {
			if r.State == StateExpired || r.State == StateSending {
				if err := notReached(tx, acts, at, r, StatePending); err != nil {
					return nil, err
				}
				out.Applied++
			} else {
				out.Stale++
			}
		} else if r.State == StateExpired && it.Outcome == OutcomeSent {
			// Stood down while this send was in flight: it went out after all.
			if err := at.move(r, StateSent); err != nil {
				return nil, err
			}
			out.Applied++
		} else if r.State == StateExpired {
			// Stood down while this send was in flight, and it did not go
			// out: failed for good, or refused for now (no retry follows a
			// stand-down). Not reached, so no correction goes to them.
			to := StateFailed
			if it.Outcome == OutcomeRetry {
				to = StatePending
			}
			if err := notReached(tx, acts, at, r, to); err != nil {
				return nil, err
			}
			out.Applied++
		} else if r.State == StateSending {
			switch it.Outcome {
			case OutcomeSent:
				err = at.move(r, StateSent)
			case OutcomeRetry:
				if it.NextTry.IsZero() {
					return nil, invalidf("result for %s: a retry needs a time", AttemptID(it.Activation, it.Person, it.N))
				}
				var off bool
				if err = at.schedule(r, &att, it.NextTry); err == nil {
					off, err = at.offIfNotNeeded(c, r.Person, &att) // a backup no longer needed: not retried
				}
				if err == nil && !off {
					at.count("retried", 1)
				}
			case OutcomeFailed:
				var moved bool
				if moved, err = at.fallBack(tx, c, r, &att, cmp.Or(it.To, r.Phone), it.Code); err == nil && !moved {
					err = at.move(r, StateFailed)
				} else if err == nil {
					_, err = at.offIfNotNeeded(c, r.Person, &att) // a backup no longer needed: not sent on to another number
				}
			default:
				return nil, invalidf("result outcome %q: want sent, retry or failed", it.Outcome)
			}
			if err != nil {
				return nil, err
			}
			out.Applied++
		} else {
			out.Stale++ // a delivery report or an answer got there first
		}
		if err := at.putAttempt(it.Person, att); err != nil {
			return nil, err
		}
	}
	return out, acts.flush(c)
}

// rulesReleaseClaims is the behaviour (muster.Rules) from which a dropped
// result for a recipient in sending of an active call-up releases the
// claim: a dispatcher stopping with its node hands back the sends it
// claimed and never made. Under older rules such a result put the
// recipient back to pending with its attempt spent and no retry queued,
// where no dispatcher looked for them again.
const rulesReleaseClaims = 10

// release undoes the claim of r's current attempt, which was never sent:
// r is pending again, their attempt number back to what it was, and due
// at once (t) when that is a retry or a re-send (they were tried before,
// so only the retry queue finds them). It is counted as released; a
// re-send it undoes stays counted as resent, since the next claim sends
// it again.
func (at *actTx) release(r Recipient, att *Attempt, t time.Time) error {
	att.N--
	att.Updated = t
	at.count("released", 1)
	if att.N > 0 {
		if err := at.schedule(r, att, t); err != nil {
			return err
		}
	} else if err := at.move(r, StatePending); err != nil {
		return err
	}
	return at.putAttempt(r.Person, *att)
}

// rulesSendsFollowTheRoster is the behaviour (muster.Rules) from which a
// send to a number other than the recipient record's (their phone was
// corrected while the call-up ran, and the dispatcher sent to the roster's
// number) rewrites the record's phone to it, and an escalation message or
// call sent to another number than its item's puts that number in the
// item: the call-up knows where its messages went, so a reply from the new
// number answers it and one from the old does not (calledAt). Under older
// rules the record keeps the number the call-up began with.
const rulesSendsFollowTheRoster = 9

// readdress sets the phone in person's recipient record: the number their
// message went to.
func (at *actTx) readdress(person plans.PersonID, phone string) error {
	nv, err := withPhone(get(at.rc, []byte(person)), phone)
	if err != nil {
		return fmt.Errorf("recipient %s of %s: %w", person, at.a.ID, err)
	}
	return at.rb.Put([]byte(person), nv)
}

// notReached moves r, whose claimed send did not go out, to state to:
// pending when the send was never made (or refused for now), failed when it
// failed for good. If its activation was retracted, r is taken off the
// correction too, unless the correction has already claimed it or calls
// them (a voice call of the original reached them); so are they off the
// end of a drill stood down (Activation.EndNotice).
func notReached(tx *bolt.Tx, acts actCache, at *actTx, r Recipient, to State) error {
	if err := at.move(r, to); err != nil {
		return err
	}
	follow := at.a.EndNotice
	if ret := at.a.Retraction; ret != nil {
		follow = ret.Correction
	}
	if follow == "" {
		return nil
	}
	ct, err := acts.get(tx, follow)
	if err != nil {
		return err
	}
	cr, catt, err := ct.recipient(r.Person)
	if muster.IsCode(err, muster.ENotFound) {
		return nil
	}
	if err != nil || cr.State != StatePending || catt.N != 0 {
		return err
	}
	if q := ct.ad.Bucket(bEscQueue); q != nil && q.Get(escItemKey(CorrectionCallStep, r.Person, 0)) != nil {
		return nil // a voice call reached them: the correction calls them (rulesCorrectByVoice)
	}
	return offCorrection(tx, at, ct, cr)
}

// offCorrection takes cr, whom nothing of at's activation reached and whom
// its correction ct has not claimed, off the correction.
func offCorrection(tx *bolt.Tx, at, ct *actTx, cr Recipient) error {
	if err := ct.rb.Delete([]byte(cr.Person)); err != nil {
		return err
	}
	if err := ct.attempts.Delete([]byte(cr.Person)); err != nil {
		return err
	}
	ct.tally(cr.Grid, cr.Roles, cr.State, -1)
	ct.a.Recipients--
	if at.a.Retraction != nil {
		at.a.Retraction.Recipients--
	}
	if err := putActivation(tx, ct.a); err != nil {
		return err
	}
	return putActivation(tx, at.a)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// ---- inbound.batch ----

// InboundKind says what an inbound webhook carried.
type InboundKind string

// Inbound kinds.
const (
	InboundStatus InboundKind = "status" // a delivery report for one attempt
	InboundReply  InboundKind = "reply"  // an SMS from a recipient
	InboundDigits InboundKind = "digits" // keys pressed on a voice call-up (Attempt: the escalation attempt)
	InboundCall   InboundKind = "call"   // a voice call's progress (Attempt: the escalation attempt)
	// InboundWeb is an answer given on the responder page: Activation and
	// Person name the call-up (the answer link did), Answer is accept or
	// decline and Body a decline's reason.
	InboundWeb InboundKind = "web"
)

// InboundItem is one verified webhook.
type InboundItem struct {
	Kind    InboundKind `json:"k"`
	Attempt string      `json:"at,omitempty"` // status: the attempt ID from the callback URL
	SID     string      `json:"sid"`          // MessageSid
	Status  string      `json:"st,omitempty"` // status: MessageStatus
	Code    int         `json:"code,omitempty"`
	From    string      `json:"from,omitempty"`
	To      string      `json:"to,omitempty"`
	Body    string      `json:"body,omitempty"`
	Account string      `json:"acct,omitempty"`
	// AnsweredBy is a voice call's answering-machine detection result.
	AnsweredBy string `json:"ab,omitempty"`
	// Exercise is set when Account is the EXERCISE/TEST account: its replies
	// and reports only ever concern drill call-ups, and the live account's
	// only LIVE ones.
	Exercise bool `json:"ex,omitempty"`
	// Activation, Person and Answer are a web answer's (InboundWeb).
	Activation plans.ActivationID `json:"a,omitempty"`
	Person     plans.PersonID     `json:"p,omitempty"`
	Answer     ReplyKind          `json:"ans,omitempty"`
}

type inboundBatch struct {
	Items []InboundItem `json:"i"`
}

// InboundOutcome is what an inbound item did.
type InboundOutcome string

// Inbound outcomes.
const (
	InboundApplied   InboundOutcome = "applied"   // a recipient's state or answer changed
	InboundUnchanged InboundOutcome = "unchanged" // valid, but nothing to change: a replay, an out-of-order or superseded report
	InboundNote      InboundOutcome = "note"      // a reply that was not an answer, kept as a note
	InboundUnknown   InboundOutcome = "unknown"   // no recipient: unknown number or attempt; audited
	InboundNoCallUp  InboundOutcome = "no_callup" // a known person with no open call-up; audited
	InboundDuplicate InboundOutcome = "duplicate" // this MessageSid was applied before
	InboundRejected  InboundOutcome = "rejected"  // malformed; audited
	// InboundApproval is a reply to the text of a request waiting for
	// approval (rulesApproverReplies): it approves nothing; audited.
	InboundApproval InboundOutcome = "approval"
)

// InboundResult is the outcome of one inbound item, in the order given.
type InboundResult struct {
	Outcome    InboundOutcome     `json:"outcome"`
	Activation plans.ActivationID `json:"activation,omitempty"`
	Person     plans.PersonID     `json:"person,omitempty"`
	State      State              `json:"state,omitempty"`
	Reply      ReplyKind          `json:"reply,omitempty"`
	Language   plans.Language     `json:"language,omitempty"`
	// Exercise is set (by Submit, not in the state) when the item came in
	// on an exercise account: anything said back to its sender is a drill's.
	Exercise bool `json:"exercise,omitempty"`
	// Words, set by Submit (not in the state) for an SMS reply on a call-up
	// (Activation) whose Chinese SMS asks for other words than 到岗 / 不能到岗
	// (ReplyWordsOf), are those words: what is said back uses them.
	Words ReplyWords `json:"words,omitzero"`
	// Replies counts the recipient's replies to the call-up, this one
	// included (an SMS or a key): what is said back is bounded by it.
	Replies int `json:"replies,omitempty"`
	// Ended says, for a reply from a person with no open call-up, how
	// their latest call-up (Activation) ended, when it did so recently
	// (rulesRepliesToEndedCallUps): the sender is told so.
	Ended Ending `json:"ended,omitempty"`
	// ToReport says that the reply was taken for a 叫应 report sent to the
	// person (rulesReportsTakeNoReply): kept as a note on their call-up;
	// the sender is told the report needs no reply, and how to answer.
	ToReport bool `json:"to_report,omitempty"`
	// Named names the call-up an SMS answer was recorded on when the
	// sender has other open call-ups that reached them, and Waiting those
	// of them that still wait for their answer (of other plans), the one
	// the next reply answers first (rulesAnswerSamePlan): the sender is
	// told.
	Named   string   `json:"named,omitempty"`
	Waiting []string `json:"waiting,omitempty"`
	// WaitingFirst is the call-up of Waiting's first, which the sender's
	// next reply answers, and WaitingWords, set by Submit (not in the
	// state), the words its Chinese SMS asks for (ReplyWordsOf): the
	// sender is asked to answer it in them.
	WaitingFirst plans.ActivationID `json:"waiting_first,omitempty"`
	WaitingWords ReplyWords         `json:"waiting_words,omitzero"`
	// DeclinedAfterAck says that the reply, kept as a note, declines after
	// the sender had accepted (rulesDeclinedAfterAck): they are told it is
	// flagged to the duty office, not only that their first answer stands.
	DeclinedAfterAck bool `json:"declined_after_ack,omitempty"`
	// AskReason says that the reply declined without the reason the
	// call-up asks for, and nothing else waits for the sender's answer
	// (rulesDeclineReasonAsked): they are asked for it. ReasonKept says
	// that the reply was kept as the reason of such a decline.
	AskReason  bool `json:"ask_reason,omitempty"`
	ReasonKept bool `json:"reason_kept,omitempty"`
	// LiveWaiting says that the reply, on a drill's number and counted on
	// a drill or taken by none, or the key on a drill's call no drill
	// took, came from someone an active LIVE call-up waits for
	// (rulesLiveWaiting): they are pointed to its message. LiveCallUp
	// names that call-up, and LiveWords, set by Submit for a key (not in
	// the state), are the words its Chinese SMS asks for (ReplyWordsOf):
	// the call says how to answer it in them.
	LiveWaiting bool               `json:"live_waiting,omitempty"`
	LiveCallUp  plans.ActivationID `json:"live_callup,omitempty"`
	LiveWords   ReplyWords         `json:"live_words,omitzero"`
	// Warning names, for a reply taken for the acknowledgement (应) of a
	// 叫应 text (InboundWarningAck), the warning; Superior says the text
	// was its 叫应升级 (to an approver); Start is the command that starts
	// the response the text suggested ("" with none). Person is set then
	// when a call-up of theirs is open (their next reply answers it).
	Warning  plans.WarningID `json:"warning,omitempty"`
	Superior bool            `json:"superior,omitempty"`
	Start    string          `json:"start,omitempty"`
}

// rulesDeclinedAfterAck is the behaviour (muster.Rules) from which a
// decline from someone who had accepted (an SMS "2 …" or key 2 after "1")
// is flagged, though the first answer still stands: the activation keeps
// when it first came (bDeclinedAfterAck) and counts the people
// (DeclinedAfterAckCounter), so that muster status shows that some
// counted 到 may not come. Before, it was a note like any other, and the
// commander's board counted them present with nothing to see.
const rulesDeclinedAfterAck = 13

// bDeclinedAfterAck holds, in an activation's data, the people who
// declined after they had accepted: person → unix nanoseconds of the first
// such reply (rulesDeclinedAfterAck).
var bDeclinedAfterAck = []byte("declined_after_ack")

// DeclinedAfterAckCounter counts, in an activation's counters, the people
// who accepted and then said they cannot come (rulesDeclinedAfterAck).
const DeclinedAfterAckCounter = "declined_after_ack"

// InboundRecord is an audited inbound message that reached no open call-up.
type InboundRecord struct {
	Seq     uint64         `json:"seq"`
	Time    time.Time      `json:"time"`
	Outcome InboundOutcome `json:"outcome"`
	Kind    InboundKind    `json:"kind"`
	SID     string         `json:"sid"`
	From    string         `json:"from,omitempty"`
	To      string         `json:"to,omitempty"`
	Body    string         `json:"body,omitempty"`
	Attempt string         `json:"attempt,omitempty"`
	Person  plans.PersonID `json:"person,omitempty"`
	// Activation is the call-up the item concerned, when it named one.
	Activation plans.ActivationID `json:"activation,omitempty"`
	// Warning is, for a reply taken for the acknowledgement of a 叫应
	// text (InboundWarningAck), the warning.
	Warning plans.WarningID `json:"warning,omitempty"`
}

// Note is a reply kept because it was not an answer (or came after one).
type Note struct {
	Person plans.PersonID `json:"person"`
	Time   time.Time      `json:"time"`
	Body   string         `json:"body"`
}

func applyInbound(tx *bolt.Tx, c *muster.Command) (any, error) {
	var req inboundBatch
	if err := json.Unmarshal(c.Payload, &req); err != nil {
		return nil, invalidf("inbound: %v", err)
	}
	seen, err := tx.CreateBucketIfNotExists(bInboundSeen)
	if err != nil {
		return nil, err
	}
	acts := actCache{}
	out := make([]InboundResult, len(req.Items))
	for i, it := range req.Items {
		var res InboundResult
		key := seenKey(c, it)
		if key != nil && seen.Get(key) != nil {
			out[i] = InboundResult{Outcome: InboundDuplicate}
			continue
		}
		switch it.Kind {
		case InboundStatus:
			res, err = applyStatus(tx, acts, c, it)
		case InboundDigits:
			res, err = applyDigits(tx, acts, c, it)
			if err == nil {
				res.LiveWaiting, err = liveWaits(tx, c, it, &res)
			}
		case InboundCall:
			res, err = applyCall(tx, acts, c, it)
		case InboundReply:
			res, err = applyReply(tx, acts, c, it)
			if err == nil {
				res.LiveWaiting, err = liveWaits(tx, c, it, &res)
			}
		case InboundWeb:
			res, err = applyWebAnswer(tx, acts, c, it)
		default:
			res = InboundResult{Outcome: InboundRejected}
		}
		if err == nil && key != nil && (res.Outcome != InboundRejected || !c.RulesAtLeast(rulesRejectedNotSeen)) {
			err = seen.Put(key, []byte(res.Outcome))
		}
		if err != nil {
			return nil, err
		}
		if res.Outcome == InboundUnknown || res.Outcome == InboundNoCallUp || res.Outcome == InboundRejected || res.Outcome == InboundApproval ||
			res.Outcome == InboundWarningAck {
			if err := auditInbound(tx, c, it, res); err != nil {
				return nil, err
			}
		}
		out[i] = res
	}
	return out, acts.flush(c)
}

// rulesRejectedNotSeen is the behaviour (muster.Rules) from which an
// inbound item that was rejected (a key posted for an attempt of another
// account's purpose, say) is not remembered as seen: the genuine post of
// the same call and key that follows is applied, not taken for a duplicate
// and answered as recorded.
const rulesRejectedNotSeen = 8

// rulesDigitsOnce is the behaviour (muster.Rules) from which a key pressed
// on a voice call is applied once: the provider posts the gather again when
// our answer did not reach it, and a second "1" was kept as a note.
const rulesDigitsOnce = 6

// seenKey is the key under which inbound item it is remembered as applied,
// nil for an item applied again whenever it comes (delivery reports and
// call progress, which are idempotent by state): a reply or a web answer
// by its SID, a key pressed on a call (rulesDigitsOnce) by the call and
// the key, so a retried gather is a duplicate and another key on the same
// call is not. Call SIDs (CA…) never equal a message SID (SM…).
func seenKey(c *muster.Command, it InboundItem) []byte {
	switch {
	case it.SID == "":
		return nil
	case it.Kind == InboundReply || it.Kind == InboundWeb:
		return []byte(it.SID)
	case it.Kind == InboundDigits && c.RulesAtLeast(rulesDigitsOnce):
		return []byte(it.SID + "/" + it.Body)
	}
	return nil
}

func auditInbound(tx *bolt.Tx, c *muster.Command, it InboundItem, res InboundResult) error {
	b, err := tx.CreateBucketIfNotExists(bInboundAudit)
	if err != nil {
		return err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	rec := InboundRecord{Seq: seq, Time: c.Time, Outcome: res.Outcome, Kind: it.Kind, SID: it.SID, From: it.From, To: it.To,
		Body: truncate(it.Body, 500), Attempt: it.Attempt, Person: res.Person, Activation: res.Activation, Warning: res.Warning}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return b.Put(binary.BigEndian.AppendUint64(nil, seq), data)
}

// Carrier-reported temporary failures (handset unreachable and the like) are
// retried inside the FSM on a fixed schedule: 1, 2, 4… minutes, at most
// carrierAttempts attempts in all.
const (
	carrierAttempts = 3
	carrierBackoff  = time.Minute
)

// carrierRetryAt is when to retry attempt n after a carrier's temporary
// failure reported at t: carrierBackoff·2ⁿ⁻¹, spread by up to a quarter with
// a jitter drawn from the attempt ID, so every node computes the same time.
func carrierRetryAt(t time.Time, id string, n int) time.Time {
	d := carrierBackoff << min(n-1, 10)
	h := fnv.New32a()
	h.Write([]byte(id))
	return t.Add(d + time.Duration(uint64(h.Sum32())%uint64(d/4+1)))
}

func applyStatus(tx *bolt.Tx, acts actCache, c *muster.Command, it InboundItem) (InboundResult, error) {
	act, person, n, restore, err := parseAttempt(it.Attempt)
	if err != nil {
		return InboundResult{Outcome: InboundRejected}, nil
	}
	at, err := acts.get(tx, act)
	if muster.IsCode(err, muster.ENotFound) {
		return InboundResult{Outcome: InboundUnknown}, nil
	} else if err != nil {
		return InboundResult{}, err
	}
	if at.a.Purpose.Drill() != it.Exercise {
		return InboundResult{Outcome: InboundRejected, Activation: act, Person: person}, nil // another account's report
	}
	r, att, err := at.recipient(person)
	// older: the report is of an attempt the cluster a restored backup was
	// taken of made, of a call-up open in the backup (rulesRestoredAttempts):
	// one of an era the state descends from, not another restore's.
	current, older := n == att.N, false
	if err == nil && c.RulesAtLeast(rulesRestoredAttempts) && (restore != att.Restored || n > att.N) {
		mark := restoredCallUp(at.ad)
		current, older = false, mark != nil && earlierEra(tx, restore, mark.Restore)
		if !older {
			return InboundResult{Outcome: InboundUnknown, Activation: act}, nil
		}
	}
	if muster.IsCode(err, muster.ENotFound) || (err == nil && n > att.N && !older) {
		return InboundResult{Outcome: InboundUnknown, Activation: act}, nil
	} else if err != nil {
		return InboundResult{}, err
	}
	res := InboundResult{Outcome: InboundUnchanged, Activation: act, Person: person, State: r.State}
	to, progress := reportedProgress(it.Status)
	switch {
	case older && to != StateDelivered:
		// Only its delivery tells: the person had the call-up from the old
		// cluster. That it was sent, or failed, says nothing of ours.
		return res, nil
	case progress:
	case failureReport(it.Status):
		// A failure counts only for the current attempt, and only before the
		// recipient got further by an earlier attempt or an answer.
		if !current || rank(r.State) > rank(StateSent) || r.State == StatePending {
			return res, nil
		}
		att.Code, att.Updated, att.SID = it.Code, c.Time, it.SID
		att.Error = "carrier reported " + it.Status
		if tries := att.onNumber(n); TemporaryCode(it.Code) && tries < carrierAttempts && r.State != StateExpired {
			err = at.schedule(r, &att, carrierRetryAt(c.Time, it.Attempt, tries))
			res.State = StatePending
			var off bool
			if err == nil {
				off, err = at.offIfNotNeeded(c, person, &att) // a backup no longer needed: not retried
			}
			if off {
				res.State = StateCancelled
			}
		} else {
			var moved bool
			if r.State != StateExpired {
				// the report names the number the message went to, which may
				// be newer than the record's when it beats the send's result
				moved, err = at.fallBack(tx, c, r, &att, cmp.Or(it.To, r.Phone), it.Code)
			}
			if res.State = StatePending; err == nil && !moved {
				err = at.move(r, StateFailed)
				res.State = StateFailed
			} else if err == nil { // gone on to another number
				var off bool
				if off, err = at.offIfNotNeeded(c, person, &att); off { // a backup no longer needed: not sent there
					res.State = StateCancelled
				}
			}
		}
		if err == nil {
			err = at.putAttempt(person, att)
		}
		res.Outcome = InboundApplied
		return res, err
	default:
		return res, nil // queued, accepted, sending, scheduled: nothing to record
	}
	if rank(to) <= rank(r.State) {
		return res, nil
	}
	if current && r.State == StatePending {
		// This attempt failed at the carrier and waits for its retry: a
		// report of its progress that comes late ("sent" after
		// "undelivered": reports arrive in any order) must not undo that.
		return res, nil
	}
	if n < att.N && c.RulesAtLeast(rulesLeftNumberReports) && att.leftAfter(n) {
		return res, nil // a message to a number the call-up went on from
	}
	// Any attempt's report counts: after a failover the first attempt may be
	// delivered while its re-send is still in flight. A queued retry is moot.
	if err := at.unschedule(person, &att); err != nil {
		return res, err
	}
	if att.SID == "" || current {
		att.SID = it.SID
	}
	att.Updated = c.Time
	if to == StateDelivered && att.Reached.IsZero() {
		att.Reached = c.Time
	}
	if err := at.putAttempt(person, att); err != nil {
		return res, err
	}
	res.Outcome, res.State = InboundApplied, to
	return res, at.move(r, to)
}

// reportedProgress maps a provider status that proves progress to the
// state it proves: sent, or delivered (read counts as delivered).
func reportedProgress(status string) (State, bool) {
	switch status {
	case "sent":
		return StateSent, true
	case "delivered", "read":
		return StateDelivered, true
	}
	return "", false
}

// failureReport reports whether a provider status says the message will
// not arrive.
func failureReport(status string) bool { return status == "undelivered" || status == "failed" }

// openCallUp finds the call-up a reply from person answers: the most
// recent open activation that called person up with messages from the
// live account (exercise false) or the exercise one and has sent them a
// message (the provider took it: reached); if none has yet, the most
// recent that calls them up at all (they heard of it otherwise). A reply
// cannot answer a message not yet sent: while a newer call-up still queues
// them, it answers the older one they got.
//
// With unansweredFirst (rulesAnswerSamePlan) the most recent of those the
// person has not answered yet comes first: a reply answers one call-up at a
// time when they are of different plans, the newest first, and the next
// reply the next.
func openCallUp(tx *bolt.Tx, acts actCache, person plans.PersonID, exercise, unansweredFirst bool) (*actTx, error) {
	ob := tx.Bucket(bOpen)
	if ob == nil {
		return nil, nil
	}
	var unsent, answered *actTx
	for k := range muster.Backward(ob) {
		ad := activationData(tx, plans.ActivationID(k))
		if ad == nil || ad.Bucket(bRecipients).Get([]byte(person)) == nil {
			continue
		}
		at, err := acts.get(tx, plans.ActivationID(k))
		if err != nil {
			return nil, err
		}
		if at.a.Purpose.Drill() != exercise || at.a.Retracts != "" { // corrections take no answers
			continue
		}
		r, _, err := at.recipient(person)
		if err != nil {
			return nil, err
		}
		switch {
		case !reached(r.State): // the provider took no message of it to them yet (claimed is not enough)
			if unsent == nil {
				unsent = at
			}
		case !unansweredFirst || !r.State.Answered():
			return at, nil
		case answered == nil:
			answered = at
		}
	}
	if answered != nil {
		return answered, nil
	}
	return unsent, nil
}

func applyReply(tx *bolt.Tx, acts actCache, c *muster.Command, it InboundItem) (InboundResult, error) {
	samePlan := c.RulesAtLeast(rulesAnswerSamePlan)
	person := plans.PersonByPhone(tx, it.From)
	var at *actTx
	if person != "" {
		var err error
		if at, err = openCallUp(tx, acts, person, it.Exercise, samePlan); err != nil {
			return InboundResult{}, err
		}
	}
	if at == nil && c.RulesAtLeast(rulesRepliesFromFormerPhones) || at != nil && c.RulesAtLeast(rulesReplyFollowsTheNumber) && !calledAt(at, person, it.From) {
		// The number left the roster (changed, or its person deleted) while
		// a call-up to it was open: the reply still answers that call-up.
		// So it does when the number went to someone else meanwhile whose
		// call-up went to another number: the handset answers the message
		// it got.
		if former := plans.FormerPersonByPhone(tx, it.From); former != "" && former != person {
			fat, err := openCallUp(tx, acts, former, it.Exercise, samePlan)
			if err != nil {
				return InboundResult{}, err
			}
			if fat != nil && calledAt(fat, former, it.From) {
				person, at = former, fat
			}
		}
	}
	if !it.Exercise && c.RulesAtLeast(rulesApproverReplies) {
		// A number no one on the roster has, or a roster person with no
		// call-up open, answers the text of a request waiting for
		// approval, or a 叫应 text (rulesWarningAcks); so does a person's
		// first reply after it, when the call-up they have was running
		// when it went out.
		if res, ok, err := leaderTextReply(tx, c, it, person, at); err != nil || ok {
			return res, err
		}
	}
	if person == "" {
		return InboundResult{Outcome: InboundUnknown}, nil
	}
	if at == nil && c.RulesAtLeast(rulesRepliesToEndedCallUps) {
		ended, how, err := endedCallUp(tx, acts, person, it.Exercise, c.Time, c.RulesAtLeast(rulesEndedForLive))
		if err != nil {
			return InboundResult{}, err
		}
		if ended != nil {
			return countEndedReply(ended, c, person, how)
		}
	}
	if at == nil {
		return InboundResult{Outcome: InboundNoCallUp, Person: person}, nil
	}
	r, att, err := at.recipient(person)
	if err != nil {
		return InboundResult{}, err
	}
	reply, toReport, err := readReply(tx, acts, c, at, person, it)
	if err != nil {
		return InboundResult{}, err
	}
	if r.State.Answered() && c.RulesAtLeast(rulesReasonToItsDecline) {
		// After a bare 2 to an older call-up of another plan, the reply
		// reaches the newest they answered: the reason goes to the 2.
		asker, ar, aatt, err := reasonAsker(tx, acts, at, person, it.Exercise)
		if err != nil {
			return InboundResult{}, err
		}
		if asker != nil {
			if reason, ok := lateReason(c, ar, aatt, reply, toReport, it.Body); ok {
				return keepReason(asker, c, ar, aatt, reason, it.Body)
			}
		}
	}
	if reason, ok := lateReason(c, r, att, reply, toReport, it.Body); ok {
		return keepReason(at, c, r, att, reason, it.Body)
	}
	res, err := recordAnswer(at, c, r, att, reply, it.Body)
	res.ToReport = toReport
	res.AskReason = asksReason(c, res, reply)
	if err != nil || reply.Kind == ReplyNote || !c.RulesAtLeast(rulesAnswerEveryCallUp) {
		return res, err
	}
	if err := answerTheOthers(tx, acts, c, at, person, it.Exercise, samePlan, reply, it.Body); err != nil || !samePlan || res.Outcome == InboundNote {
		return res, err
	}
	// With other call-ups of theirs open, the sender is told which one
	// took the answer, and which still wait for theirs.
	others, err := otherCallUps(tx, acts, at, person, it.Exercise)
	if err != nil || len(others) == 0 {
		return res, err
	}
	res.Named = callUpName(at.a, time.Time{}, r.Language)
	for _, o := range others {
		if !o.answered {
			if len(res.Waiting) == 0 {
				res.WaitingFirst = o.at.a.ID
			}
			res.Waiting = append(res.Waiting, callUpName(o.at.a, time.Time{}, r.Language))
		}
	}
	res.AskReason = res.AskReason && len(res.Waiting) == 0 // their next reply answers another call-up
	return res, nil
}

// otherCallUp is another open call-up of a person's, and whether they
// answered it.
type otherCallUp struct {
	at       *actTx
	answered bool
}

// otherCallUps are person's open call-ups but at (of the same purpose:
// drills or not; not corrections) whose message reached them, the most
// recent first, as openCallUp takes them.
func otherCallUps(tx *bolt.Tx, acts actCache, at *actTx, person plans.PersonID, exercise bool) ([]otherCallUp, error) {
	var out []otherCallUp
	for _, id := range openActivations(tx) {
		ad := activationData(tx, id)
		if id == at.a.ID || ad == nil || ad.Bucket(bRecipients).Get([]byte(person)) == nil {
			continue
		}
		o, err := acts.get(tx, id)
		if err != nil {
			return nil, err
		}
		if o.a.Purpose.Drill() != exercise || o.a.Retracts != "" || o.a.Status != StatusActive {
			continue
		}
		r, _, err := o.recipient(person)
		if err != nil {
			return nil, err
		}
		if reached(r.State) {
			out = append(out, otherCallUp{at: o, answered: r.State.Answered()})
		}
	}
	slices.Reverse(out)
	return out, nil
}

// rulesAnswerEveryCallUp is the behaviour (muster.Rules) from which an SMS
// answer (到 or a decline) also answers the person's other open call-ups of
// the same purpose that still wait for it: an SMS names no call-up, and
// two over nested regions (a street's, then its district's) call the same
// people. Before, only the newest took it, and the older one reminded,
// called, escalated and reported as silent people who had answered.
const rulesAnswerEveryCallUp = 8

// rulesAnswerSamePlan is the behaviour (muster.Rules) from which an SMS
// answer answers the person's other open call-ups only when they are of
// the same plan (over nested regions: the same duty), and a reply goes to
// the most recent call-up that reached them and still waits for their
// answer: two call-ups of different plans (a flood and an epidemic) are
// two duties, and a "1" for one is no 到 for the other. The sender is told
// which call-up took their answer and which still wait (InboundResult's
// Named and Waiting), so that the next reply answers the next. Before, one
// answer counted for every open call-up of the same purpose, and nobody
// was told.
const rulesAnswerSamePlan = 13

// answerTheOthers records reply, which person gave to at, on their other
// open call-ups (corrections aside) with messages from the same account
// (exercise) that have no answer from them yet.
func answerTheOthers(tx *bolt.Tx, acts actCache, c *muster.Command, at *actTx, person plans.PersonID, exercise, samePlan bool, reply Reply, body string) error {
	for _, id := range openActivations(tx) {
		ad := activationData(tx, id)
		if id == at.a.ID || ad == nil || ad.Bucket(bRecipients).Get([]byte(person)) == nil {
			continue
		}
		o, err := acts.get(tx, id)
		if err != nil {
			return err
		}
		if o.a.Purpose.Drill() != exercise || o.a.Retracts != "" || o.a.Status != StatusActive || samePlan && o.a.Plan != at.a.Plan {
			continue
		}
		r, att, err := o.recipient(person)
		if err != nil {
			return err
		}
		if r.State.Answered() {
			continue
		}
		if _, err := recordAnswer(o, c, r, att, reply, body); err != nil {
			return err
		}
	}
	return nil
}

// calledAt reports whether at's message to person went to phone.
func calledAt(at *actTx, person plans.PersonID, phone string) bool {
	r, _, err := at.recipient(person)
	return err == nil && r.Phone == phone
}

// rulesReplyFollowsTheNumber is the behaviour (muster.Rules) from which a
// reply from a number its owner's open call-up did not go to answers the
// open call-up that went to it, of the person who had the number before
// (plans.FormerPersonByPhone), when there is one: a number handed on
// while a call-up runs. Under older rules it answered the new owner's.
const rulesReplyFollowsTheNumber = 8

// rulesRepliesFromFormerPhones is the behaviour (muster.Rules) from which
// an SMS reply from a number no one in the roster has any more answers the
// open call-up that went to it, of the person who had it
// (plans.FormerPersonByPhone). Under older rules it was unknown.
const rulesRepliesFromFormerPhones = 5

// recordAnswer records what recipient r answered (an SMS reply or a key
// pressed on a voice call-up): the first accept or decline stands and
// moves r; anything after it, and anything that is not an answer, is kept
// as a note.
func recordAnswer(at *actTx, c *muster.Command, r Recipient, att Attempt, reply Reply, body string) (InboundResult, error) {
	person := r.Person
	att.Replies++
	res := InboundResult{Activation: at.a.ID, Person: person, Reply: reply.Kind, Language: r.Language, State: r.State, Replies: att.Replies}
	att.LastBody = truncate(body, 500)
	att.Updated = c.Time
	// A reply proves the call-up reached them, once it was sent; an answer
	// to one not yet sent means they heard of it otherwise, a note does not.
	if att.Reached.IsZero() && (att.N > 0 || reply.Kind != ReplyNote) {
		att.Reached = c.Time
	}
	// The first answer stands; what comes after it is kept as a note, and
	// so is an answer from someone taken off the call-up (rules 13).
	if reply.Kind == ReplyNote || r.State.Answered() || r.State == StateCancelled {
		res.Outcome = InboundNote
		if err := addNote(at, Note{Person: person, Time: c.Time, Body: truncate(body, 500)}); err != nil {
			return res, err
		}
		if r.State == StateAcked && reply.Kind == ReplyDecline && c.RulesAtLeast(rulesDeclinedAfterAck) {
			// They are still counted 到, as the first answer stands; the
			// commander is shown that someone counted may not come.
			res.DeclinedAfterAck = true
			b, err := at.ad.CreateBucketIfNotExists(bDeclinedAfterAck)
			if err != nil {
				return res, err
			}
			if b.Get([]byte(person)) == nil { // counted once a person
				if err := b.Put([]byte(person), binary.AppendVarint(nil, c.Time.UnixNano())); err != nil {
					return res, err
				}
				at.count(DeclinedAfterAckCounter, 1)
			}
		}
		return res, at.putAttempt(person, att)
	}
	to := StateAcked
	if reply.Kind == ReplyDecline {
		to = StateDeclined
		att.Reason = truncate(reply.Reason, 500)
	} else {
		countAckBy(at, r.Grid, c.Time.Sub(at.a.Start()))
	}
	att.Answered = c.Time
	if err := at.unschedule(person, &att); err != nil {
		return res, err
	}
	if err := at.putAttempt(person, att); err != nil {
		return res, err
	}
	res.Outcome, res.State = InboundApplied, to
	if err := at.move(r, to); err != nil {
		return res, err
	}
	if to == StateAcked && c.RulesAtLeast(rulesStandInRelieved) {
		return res, relieveStandIns(at, c, person)
	}
	return res, nil
}

func addNote(at *actTx, n Note) error {
	b, err := at.ad.CreateBucketIfNotExists(bNotes)
	if err != nil {
		return err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	data, err := json.Marshal(n)
	if err != nil {
		return err
	}
	return b.Put(binary.BigEndian.AppendUint64(nil, seq), data)
}

// ackByKey is the counter of acknowledgements in grid within checkpoint
// minutes of the activation.
func ackByKey(grid plans.RegionCode, minutes int) []byte {
	return fmt.Appendf(nil, "%s%s/%02d", ackByCounter, grid, minutes)
}

// countAckBy counts an acknowledgement that came after the activation's
// start in grid, at every checkpoint (T+5/15/30) it is within.
func countAckBy(at *actTx, grid plans.RegionCode, after time.Duration) {
	for _, cp := range ackCheckpoints {
		if after <= cp {
			at.bump(string(ackByKey(grid, int(cp/time.Minute))), 1)
		}
	}
}

// ---- reads for the dispatcher ----

// openActivations lists the activations that may still send, oldest first.
func openActivations(tx *bolt.Tx) []plans.ActivationID {
	var out []plans.ActivationID
	if b := tx.Bucket(bOpen); b != nil {
		_ = b.ForEach(func(k, _ []byte) error {
			out = append(out, plans.ActivationID(k))
			return nil
		})
	}
	return out
}

// readAttempt reads one recipient's attempt record from a read transaction.
func readAttempt(ad *bolt.Bucket, person []byte) (Attempt, bool, error) {
	var att Attempt
	b := ad.Bucket(bAttempts)
	if b == nil {
		return att, false, nil
	}
	data := b.Get(person)
	if data == nil {
		return att, false, nil
	}
	return att, true, decodeAttempt(data, &att)
}

// attempted reports whether the attempt record of person in attempts (nil:
// none yet) says a send was claimed for them: N > 0. A record with N = 0
// holds only what they answered before any send (a note, say).
func attempted(attempts *bolt.Bucket, person []byte) (bool, error) {
	if attempts == nil {
		return false, nil
	}
	data := attempts.Get(person)
	if data == nil {
		return false, nil
	}
	var att Attempt
	if err := decodeAttempt(data, &att); err != nil {
		return false, err
	}
	return att.N > 0, nil
}

// recipientTotal is how many recipients the activation whose data is ad
// has: the sum of its state counters.
func recipientTotal(ad *bolt.Bucket) int {
	total := 0
	prefix := []byte("state/")
	cb := ad.Bucket(bCounters)
	if cb == nil {
		return 0
	}
	cur := cb.Cursor()
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
		if len(v) == 8 {
			total += int(binary.BigEndian.Uint64(v))
		}
	}
	return total
}

// dueRetries returns up to limit recipients whose retry is due at now.
func dueRetries(ad *bolt.Bucket, now time.Time, limit int) []plans.PersonID {
	b := ad.Bucket(bRetry)
	if b == nil {
		return nil
	}
	var out []plans.PersonID
	cur := b.Cursor()
	for k, _ := cur.First(); k != nil && len(out) < limit; k, _ = cur.Next() {
		if len(k) < 8 || int64(binary.BigEndian.Uint64(k[:8])) > now.UnixNano() {
			break
		}
		out = append(out, plans.PersonID(bytes.Clone(k[8:])))
	}
	return out
}

// nextRetry is when the earliest queued retry is due; zero if none is.
func nextRetry(ad *bolt.Bucket) time.Time {
	b := ad.Bucket(bRetry)
	if b == nil {
		return time.Time{}
	}
	k, _ := b.Cursor().First()
	if len(k) < 8 {
		return time.Time{}
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(k[:8])))
}
