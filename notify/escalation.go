package notify

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// Escalation (叫应): each level's chain of steps, each After the call-up
// started, for every recipient who has not answered by then. Firing a step
// is a replicated command stamped with the step's index, so the leader-only
// escalator that proposes it, and any leader after it, fires each step
// exactly once. What a step sends is queued in the activation's escalation
// bucket and sent by the escalator with claims and results like the
// dispatcher's.

// Commands of the escalation engine.
const (
	CmdEscalationFire    = "escalation.fire"
	CmdEscalationCatchUp = "escalation.catchup"
	CmdEscalationClaim   = "escalation.claim"
	CmdEscalationResult  = "escalation.result"
)

// GridLeaderTag marks the grid leader (网格长), the superior a grid's silent
// recipients are reported to.
const GridLeaderTag = "网格长"

// Buckets under an activation's data bucket.
var (
	bEscFired = []byte("esc_fired") // step index (2 bytes) → 8-byte unix nanos it fired at
	// step index (2 bytes) + person [+ 0 + 4-byte Seq when Seq > 0] → EscalationItem (JSON)
	bEscQueue = []byte("esc_queue")
)

// Channels an escalation item goes out on.
const (
	ChannelSMS   = "sms"
	ChannelVoice = "voice"
)

// Counters of an activation's escalation items waiting to be claimed and
// in flight, kept so the escalator reads a queue only when it has work.
const (
	escQueuedCounter  = "esc_queued"
	escSendingCounter = "esc_sending"
)

// escMove notes an item's state change in its activation's counters.
func escMove(at *actTx, from, to string) {
	escCount(at, from, -1)
	escCount(at, to, +1)
}

func escCount(at *actTx, state string, d int64) {
	switch state {
	case EscQueued:
		at.count(escQueuedCounter, d)
	case EscSending:
		at.count(escSendingCounter, d)
	}
}

// Escalation item states.
const (
	EscQueued  = "queued"
	EscSending = "sending"
	EscSent    = "sent"   // the provider accepted the message or placed the call
	EscFailed  = "failed" // permanently, or the retry budget is spent
	EscSkipped = "skipped"
)

// EscalationItem is one message or call an escalation step queued: to the
// silent recipient itself (sms, voice), or to a superior listing the silent
// people of a grid (superior).
type EscalationItem struct {
	Step    int                    `json:"step"`
	Action  plans.EscalationAction `json:"action"`
	Channel string                 `json:"channel"`
	Person  plans.PersonID         `json:"person"` // who is messaged or called
	// Seq tells apart the reports of one step to one superior: the step's
	// own (0), then those for people on their own clocks (1, 2, …).
	Seq      int              `json:"seq,omitempty"`
	Name     string           `json:"name"`
	Phone    string           `json:"phone"`
	Language plans.Language   `json:"language,omitempty"`
	About    []plans.PersonID `json:"about,omitempty"` // superior: the silent people reported
	Text     string           `json:"text,omitempty"`  // superior: the report's text
	State    string           `json:"state"`
	N        int              `json:"n"`
	SID      string           `json:"sid,omitempty"`
	Code     int              `json:"code,omitempty"`
	Error    string           `json:"error,omitempty"`
	Call     string           `json:"call,omitempty"` // voice: the last call status reported
	// Restored is the state's restore era when attempt N was claimed
	// (rulesRestoredAttempts; restoreEra): its ID carries it, and a call's
	// progress counts only when reported for it. 0 before any restore.
	Restored int       `json:"restored,omitempty"`
	Updated  time.Time `json:"updated"`
	// NextTry is when a queued item whose last attempt failed for now is
	// tried again (rulesEscalationBackoff); zero: as soon as it is taken.
	NextTry time.Time `json:"next_try,omitzero"`
}

// mustAckRepeats is how many times silence under 叫应 (must_ack) is
// reported to the superior by the implied steps.
const mustAckRepeats = 3

// EscalationSteps is a level's escalation chain as the escalator runs it:
// the plan's steps, then, when a role slot is under 叫应 (must_ack), implied
// superior steps for those recipients only, so their superior is told again
// until they answer: every ack deadline after the chain's own superior step
// (or from the first ack deadline when the chain has none), mustAckRepeats
// reports in all.
func EscalationSteps(l *plans.Level, slots []RoleSlot) []plans.EscalationStep {
	steps := slices.Clone(l.Escalation)
	if !slices.ContainsFunc(slots, func(s RoleSlot) bool { return s.MustAck }) || l.AckDeadline <= 0 {
		return steps
	}
	every := l.AckDeadline
	next, reports := every, 0
	for _, s := range steps {
		if s.Do == plans.EscalateSuperior {
			next, reports = s.After+every, reports+1
		}
	}
	if n := len(steps); n > 0 && next <= steps[n-1].After {
		next = steps[n-1].After + every // implied steps come after the chain, in order
	}
	for ; reports < mustAckRepeats; reports++ {
		steps = append(steps, plans.EscalationStep{After: next, Do: plans.EscalateSuperior})
		next += every
	}
	return steps
}

type escalationFire struct {
	Activation plans.ActivationID `json:"a"`
	Step       int                `json:"step"`
	// Limit bounds the recipients this command looks at, and After goes
	// on with a step begun by an earlier one, from the recipient after it
	// (rulesFireInChunks; 0 and "": the whole step at once).
	Limit int            `json:"limit,omitempty"`
	After plans.PersonID `json:"after,omitempty"`
}

// FireResult says what firing a step did.
type FireResult struct {
	Already bool `json:"already,omitempty"` // fired before: nothing done
	Stopped bool `json:"stopped,omitempty"` // the activation is not active
	Silent  int  `json:"silent"`            // recipients without an answer it applied to
	Queued  int  `json:"queued"`            // messages and calls queued
	Added   int  `json:"added,omitempty"`   // backups called up as new recipients
	Ended   int  `json:"ended,omitempty"`   // catch-up: clocks ended (chain done, or answered)
	Clocked int  `json:"clocked,omitempty"` // first step: recipients reached too recently for it, put on clocks of their own
	Older   bool `json:"older,omitempty"`   // catch-up: the cluster's rules predate catch-ups; nothing done
	Spared  int  `json:"spared,omitempty"`  // a drill's: passed over, called up for real by a LIVE call-up
	Waiting int  `json:"waiting,omitempty"` // catch-up: left to wait for their SMS to be sent (again)
	// Unreached counts the silent people a backup or superior step reached
	// no one for: no backup to call, no superior to report to
	// (rulesEscalationReachesSomeone). They were not escalated.
	Unreached int `json:"unreached,omitempty"`
	// Next is set when the step is not done: the next chunk goes on after
	// this recipient, or this person or superior of a superior step's
	// reports (rulesFireInChunks).
	Next plans.PersonID `json:"next,omitempty"`
	// Looked counts the people a chunk looked at: recipients, the roster's
	// people read to find superiors, and the people its reports name
	// (rulesFireInChunks; about the limit at most).
	Looked int `json:"looked,omitempty"`
}

func escStepKey(step int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(step)) }

func escItemKey(step int, person plans.PersonID, seq int) []byte {
	k := append(escStepKey(step), person...)
	if seq > 0 {
		k = binary.BigEndian.AppendUint32(append(k, 0), uint32(seq))
	}
	return k
}

func (it EscalationItem) key() []byte { return escItemKey(it.Step, it.Person, it.Seq) }
func (r EscalationRef) key() []byte   { return escItemKey(r.Step, r.Person, r.Seq) }

// nextSeq is the first Seq free for an item of step to person.
func nextSeq(q *bolt.Bucket, step int, person plans.PersonID) int {
	if q.Get(escItemKey(step, person, 0)) == nil {
		return 0
	}
	prefix := append(escItemKey(step, person, 0), 0)
	seq := 1
	c := q.Cursor()
	for k, _ := c.Seek(prefix); bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) == len(prefix)+4 {
			seq = max(seq, int(binary.BigEndian.Uint32(k[len(prefix):]))+1)
		}
	}
	return seq
}

// silent reports whether a recipient in state s is still waiting for an
// answer after its call-up went out.
func silent(s State) bool {
	return s == StateSent || s == StateDelivered || s == StateEscalated
}

// awaitsAnswer reports whether a recipient in state s is escalated when
// silent: its call-up went out and it has not answered, or the call-up
// could not reach it by SMS (failed: a landline still takes a call, and a
// backup or the superior can still be told).
func awaitsAnswer(s State) bool { return silent(s) || s == StateFailed }

// rulesEscalationClocks is the state-machine behaviour (muster.Rules)
// from which escalation reaches those the SMS could not (failed) and
// recipients sent after the chain began get clocks of their own. Under
// older rules, steps are for the silent only and no clock starts.
const rulesEscalationClocks = 2

// rulesRecentOnOwnClock is the behaviour from which the chain's first step
// leaves out the recipients reached too recently for it and starts their
// clocks at the moment they were reached (see recentlyReached).
const rulesRecentOnOwnClock = 3

// rulesUnreachedEscalated is the behaviour (muster.Rules) from which
// escalation takes a recipient whose SMS the carrier could not deliver to
// the handset (UnreachableCode), and which is being sent again, as one the
// SMS could not reach (failed) while the retries go on: the call, backup
// and superior steps are for them (the SMS again is not: their SMS is
// being sent again), and their record stays pending for the retry. Under
// older rules every step passed them over until the retries ended, some
// 3 minutes; the steps fired meanwhile never came to them.
const rulesUnreachedEscalated = 9

// unreachedBySMS reports whether the recipient k of at, pending or being
// sent (state s), waits for its SMS to be sent again because the carrier
// could not reach the handset.
func (at *actTx) unreachedBySMS(k []byte, s State) (bool, error) {
	if s != StatePending && s != StateSending {
		return false, nil
	}
	ok, err := unreachableAttempt(get(at.ac, k))
	if err != nil {
		return false, fmt.Errorf("attempt record of %s in %s: %w", k, at.a.ID, err)
	}
	return ok, nil
}

// unreachableAttempt reports whether the attempt record data (nil: none)
// says the carrier could not reach the handset (UnreachableCode).
func unreachableAttempt(data []byte) (bool, error) {
	if data == nil {
		return false, nil
	}
	var att Attempt
	if err := decodeAttempt(data, &att); err != nil {
		return false, err
	}
	return UnreachableCode(att.Code), nil
}

// escChain is an activation's escalation chain as its steps are applied.
type escChain struct {
	level   *plans.Level
	steps   []plans.EscalationStep
	mustAck map[int]bool // role slots under 叫应
	// clocks: the command's rules have escalation clocks and escalate the
	// unreached (rulesEscalationClocks).
	clocks bool
	// recent: the first step puts those reached too recently for it on
	// clocks of their own (rulesRecentOnOwnClock).
	recent bool
	// unreached: those whose SMS is sent again after the handset could not
	// be reached are escalated meanwhile (rulesUnreachedEscalated).
	unreached bool
}

func chainOf(tx *bolt.Tx, c *muster.Command, a Activation) (escChain, error) {
	pv, err := plans.GetPlanVersion(tx, a.Plan, a.PlanVersion)
	if err != nil {
		return escChain{}, err
	}
	ch := escChain{level: pv.Plan.Level(a.Level), mustAck: map[int]bool{}, clocks: c.RulesAtLeast(rulesEscalationClocks),
		recent: c.RulesAtLeast(rulesRecentOnOwnClock), unreached: c.RulesAtLeast(rulesUnreachedEscalated)}
	if ch.level == nil {
		return ch, fmt.Errorf("activation %s: level %s is gone from its plan version", a.ID, a.Level)
	}
	ch.steps = EscalationSteps(ch.level, a.Roles)
	for _, s := range a.Roles {
		if s.MustAck {
			ch.mustAck[s.Index] = true
		}
	}
	return ch, nil
}

// applies reports whether step i is for r: the SMS again only to someone it
// reached who is silent; a call, a backup and the superior's report also
// for someone the SMS could not reach; the implied 叫应 steps only for
// must_ack recipients.
func (ch escChain) applies(i int, r Recipient) bool {
	if i >= len(ch.level.Escalation) && !slices.ContainsFunc(r.Roles, func(x int) bool { return ch.mustAck[x] }) {
		return false
	}
	if ch.steps[i].Do == plans.EscalateSMS || !ch.clocks {
		return silent(r.State)
	}
	return awaitsAnswer(r.State)
}

// rulesSparedNotEscalated is the behaviour (muster.Rules) from which a
// drill's escalation steps pass over its recipients that an active LIVE
// call-up calls up for real: the drill stopped chasing them when the LIVE
// call-up started (rulesDrillSparesLive), and a step fired after that
// reminded, called and reported them all the same.
const rulesSparedNotEscalated = 8

// stepper applies escalation steps to recipients within one command.
// Superior reports are gathered by step and written by finish, one SMS per
// superior per step and command.
type stepper struct {
	tx      *bolt.Tx
	c       *muster.Command
	at      *actTx
	ch      escChain
	queue   *bolt.Bucket
	reports map[int][]Recipient
	out     *FireResult
	live    []*bolt.Bucket // see liveRecipients
	// reach: a backup or superior step escalates only those it reached
	// someone for (rulesEscalationReachesSomeone); escalated are those
	// finish moved to escalated.
	reach     bool
	escalated map[plans.PersonID]bool
}

func newStepper(tx *bolt.Tx, c *muster.Command, at *actTx, ch escChain, out *FireResult) (*stepper, error) {
	q, err := at.ad.CreateBucketIfNotExists(bEscQueue)
	if err != nil {
		return nil, err
	}
	return &stepper{tx: tx, c: c, at: at, ch: ch, queue: q, reports: map[int][]Recipient{}, out: out,
		reach: c.RulesAtLeast(rulesEscalationReachesSomeone), escalated: map[plans.PersonID]bool{}}, nil
}

// liveRecipients returns, for a drill under rulesDrillSparesLive, the
// recipients of the active LIVE call-ups, read once per command: a backup
// called up for real is not drilled.
func (s *stepper) liveRecipients() ([]*bolt.Bucket, error) {
	if s.live == nil && s.at.a.Purpose.Drill() && s.c.RulesAtLeast(rulesDrillSparesLive) {
		live, err := liveRecipients(s.tx)
		if err != nil {
			return nil, err
		}
		s.live = append(make([]*bolt.Bucket, 0, len(live)), live...) // not nil: read
	}
	return s.live, nil
}

func (s *stepper) put(it EscalationItem) error {
	it.State, it.Updated = EscQueued, s.c.Time
	s.out.Queued++
	escMove(s.at, "", EscQueued)
	return putEscItem(s.queue, it)
}

// apply does step i for r, which it applies to, and moves r on as the
// step does (r is updated: a later step in the same command sees it). A
// drill's step passes over those a LIVE call-up has called up for real
// since (rulesSparedNotEscalated).
func (s *stepper) apply(i int, r *Recipient) error {
	if s.c.RulesAtLeast(rulesSparedNotEscalated) {
		live, err := s.liveRecipients()
		if err != nil {
			return err
		}
		if inAny(live, []byte(r.Person)) {
			s.out.Spared++
			return nil
		}
	}
	step := s.ch.steps[i]
	deferred := false // not moved to escalated here
	switch step.Do {
	case plans.EscalateSMS, plans.EscalateVoice:
		if s.queue.Get(escItemKey(i, r.Person, 0)) != nil {
			return nil // it had this step before its clock started again
		}
		channel := ChannelSMS
		if step.Do == plans.EscalateVoice {
			channel = ChannelVoice
		}
		if err := s.put(EscalationItem{Step: i, Action: step.Do, Channel: channel, Person: r.Person, Name: r.Name, Phone: r.Phone, Language: r.Language}); err != nil {
			return err
		}
	case plans.EscalateBackup:
		live, err := s.liveRecipients()
		if err != nil {
			return err
		}
		if s.c.RulesAtLeast(rulesBackupAsTheRosterSays) {
			if err := currentBackup(s.tx, r); err != nil {
				return err
			}
		}
		added, err := callUpBackup(s.tx, s.at, *r, live, s.c.RulesAtLeast(rulesBackupAsTheRosterSays), s.c.RulesAtLeast(rulesBackupStandsIn))
		if err != nil {
			return err
		}
		if added {
			s.out.Added++
		}
		if s.reach {
			// Reached: the backup is called up now, or was already.
			if added || (r.Backup != "" && s.at.rb.Get([]byte(r.Backup)) != nil) {
				err = s.reachedFor(r.Person)
			} else {
				deferred = true // not escalated: no one was called in their stead
				err = s.reachedNoOne(i, r.Person)
			}
			if err != nil {
				return err
			}
		}
	case plans.EscalateSuperior:
		s.reports[i] = append(s.reports[i], *r)
		deferred = s.reach // finish escalates those the reports name
	default:
		return invalidf("escalation step %d: unknown action %q", i, step.Do)
	}
	if (step.Do == plans.EscalateBackup || step.Do == plans.EscalateSuperior) && r.State != StateFailed && !deferred {
		if err := s.at.move(*r, StateEscalated); err != nil {
			return err
		}
		r.State = StateEscalated
	}
	s.out.Silent++
	s.at.count(fmt.Sprintf("escalation_step_%d", i), 1)
	return nil
}

// finish queues the superior reports the steps gathered, each part of a
// report an item of its own (Seq 0, 1, … for one superior and step).
// Under rulesEscalationReachesSomeone it then moves to escalated those a
// report names, and notes those none names as reached by no one.
func (s *stepper) finish() error {
	steps := slices.Sorted(maps.Keys(s.reports))
	for _, i := range steps {
		reports, err := superiorReports(s.tx, s.at.a, s.reports[i], s.reportRules())
		if err != nil {
			return err
		}
		told := map[plans.PersonID]bool{}
		for _, it := range reports {
			for _, p := range it.About {
				told[p] = true
			}
			it.Step, it.Action, it.Channel = i, plans.EscalateSuperior, ChannelSMS
			it.Seq = nextSeq(s.queue, i, it.Person)
			if err := s.put(it); err != nil {
				return err
			}
		}
		if !s.reach {
			continue
		}
		for _, r := range s.reports[i] {
			if !told[r.Person] {
				if err := s.reachedNoOne(i, r.Person); err != nil {
					return err
				}
				continue
			}
			if err := s.reachedFor(r.Person); err != nil {
				return err
			}
			if r.State == StateFailed || s.escalated[r.Person] {
				continue // the SMS did not reach them: they stay failed
			}
			// As it is now: a step before this one in the command may
			// have escalated them already.
			cur, _, err := s.at.recipient(r.Person)
			if err != nil {
				return err
			}
			if silent(cur.State) {
				if err := s.at.move(cur, StateEscalated); err != nil {
					return err
				}
				s.escalated[r.Person] = true
			}
		}
	}
	return nil
}

// reportRules are the rules the command's 叫应 reports are written under.
func (s *stepper) reportRules() reportRules {
	return reportRules{everyone: s.c.RulesAtLeast(rulesReportNamesEveryone), upTree: s.reach,
		noReply: s.c.RulesAtLeast(rulesReportsTakeNoReply), english: s.c.RulesAtLeast(rulesEnglishReports)}
}

// rulesEscalationReachesSomeone is the behaviour (muster.Rules) from which
// a backup or superior (叫应) step escalates a silent person only when it
// reached someone for them: a backup called up (now or before), or a
// superior's report naming them — the grid's 网格长, else the command slot,
// else (new) the nearest region above the grid with a 网格长 of its
// community or a 值班领导 (DutyLeaderTag) of its community, street or
// district. A person it reached no one for stays as they were (not
// escalated, so later steps still apply to them), is counted
// (EscalationUnreachedCounter) until a later step reaches someone for
// them, and FireResult.Unreached tells the escalator, which warns. Under
// older rules such a person was marked escalated as if someone had been
// told, and nothing said otherwise.
const rulesEscalationReachesSomeone = 11

// DutyLeaderTag marks a duty leader (值班领导): the superior a silence is
// reported to, under rulesEscalationReachesSomeone, when the grid has no
// 网格长 and the command slot no one, by the nearest region above the grid
// that has one.
const DutyLeaderTag = "值班领导"

// EscalationUnreachedCounter is the activation's dispatch counter of the
// silent people the last backup or superior step applied to them reached
// no one for (rulesEscalationReachesSomeone).
const EscalationUnreachedCounter = "escalation_unreached"

// bEscUnreached holds the people counted in EscalationUnreachedCounter:
// person → 2-byte index of the step that reached no one for them.
var bEscUnreached = []byte("esc_unreached")

// reachedNoOne notes that step i reached no one for person: counted once
// while it stays so.
func (s *stepper) reachedNoOne(i int, person plans.PersonID) error {
	s.out.Unreached++
	b, err := s.at.ad.CreateBucketIfNotExists(bEscUnreached)
	if err != nil {
		return err
	}
	if b.Get([]byte(person)) == nil {
		s.at.count(EscalationUnreachedCounter, 1)
	}
	return b.Put([]byte(person), escStepKey(i))
}

// reachedFor notes that a step reached someone for person, who is no
// longer counted as reached by no one.
func (s *stepper) reachedFor(person plans.PersonID) error {
	b := s.at.ad.Bucket(bEscUnreached)
	if b == nil || b.Get([]byte(person)) == nil {
		return nil
	}
	s.at.count(EscalationUnreachedCounter, -1)
	return b.Delete([]byte(person))
}

func applyEscalationFire(tx *bolt.Tx, c *muster.Command) (any, error) {
	var req escalationFire
	if err := json.Unmarshal(c.Payload, &req); err != nil {
		return nil, invalidf("escalation: %v", err)
	}
	acts := actCache{}
	at, err := acts.get(tx, req.Activation)
	if err != nil {
		return nil, err
	}
	var out FireResult
	if at.a.Status != StatusActive || at.a.Retracts != "" {
		out.Stopped = true
		return out, nil
	}
	ch, err := chainOf(tx, c, at.a)
	if err != nil {
		return nil, err
	}
	if req.Step < 0 || req.Step >= len(ch.steps) {
		return nil, invalidf("escalation step %d: the activation's level has %d", req.Step, len(ch.steps))
	}
	chunked := req.Limit > 0 && c.RulesAtLeast(rulesFireInChunks)
	progress, begun, err := firing(at.ad, req.Step)
	if err != nil {
		return nil, err
	}
	if !chunked || !begun {
		if due := at.a.Start().Add(time.Duration(ch.steps[req.Step].After)); c.Time.Before(due) {
			return nil, invalidf("escalation step %d is due at %s, not yet", req.Step, due.Format(time.RFC3339))
		}
		fired, err := at.ad.CreateBucketIfNotExists(bEscFired)
		if err != nil {
			return nil, err
		}
		if fired.Get(escStepKey(req.Step)) != nil {
			out.Already = true
			return out, nil
		}
		first, _ := fired.Cursor().First()
		if err := fired.Put(escStepKey(req.Step), binary.BigEndian.AppendUint64(nil, uint64(c.Time.UnixNano()))); err != nil {
			return nil, err
		}
		progress = fireProgress{Recent: first == nil}
	} else if req.After != progress.After {
		// Not where the step goes on (a chunk proposed twice, or a step
		// begun again from its start): nothing done; go on from there.
		out.Next = progress.After
		return out, nil
	}
	superior := chunked && ch.steps[req.Step].Do == plans.EscalateSuperior
	if superior && progress.Phase != "" {
		// Every recipient looked at: the reports are written.
		st, err := newStepper(tx, c, at, ch, &out)
		if err != nil {
			return nil, err
		}
		done, err := st.reportChunk(req.Step, &progress, req.Limit)
		if err != nil {
			return nil, err
		}
		if !done {
			out.Next = progress.After
		}
		if err := keepFiring(at.ad, req.Step, progress, done); err != nil {
			return nil, err
		}
		return out, acts.flush(c)
	}
	// The first step to fire leaves out those reached too recently for it.
	var recent *recentlyReached
	if ch.recent && progress.Recent {
		recent = &recentlyReached{at: at, after: time.Duration(ch.steps[req.Step].After), now: c.Time, out: &out}
	}
	// Everyone the step is for, but those on an escalation clock of their
	// own: their call-up went out after the chain began, or just before.
	clocks := at.ad.Bucket(bEscClock)
	var targets []Recipient
	unreached := map[plans.PersonID]bool{}
	cur := at.rb.Cursor()
	k, v := cur.First()
	if chunked && progress.After != "" {
		if k, v = cur.Seek([]byte(progress.After)); k != nil && string(k) == string(progress.After) {
			k, v = cur.Next()
		}
	}
	// A superior step's chunks find the superiors of the people they take
	// (the grids' 网格长 read once a step), which counts towards the limit.
	var book *reportBook
	if superior {
		if book, err = openReportBook(tx, at, req.Step); err != nil {
			return nil, err
		}
	}
	looked := 0
	take := func(r Recipient) error {
		if !ch.applies(req.Step, r) {
			return nil
		}
		targets = append(targets, r)
		if superior {
			seen := book.Looked
			if _, err := book.gridLeaders(r.Grid); err != nil {
				return err
			}
			looked += book.Looked - seen
		}
		return nil
	}
	for ; k != nil; k, v = cur.Next() {
		if chunked && looked >= req.Limit {
			out.Next = progress.After // more to come: the next chunk goes on after the last looked at
			break
		}
		looked++
		progress.After = plans.PersonID(k)
		if superior {
			if err := progress.commandCandidate(k, v); err != nil {
				return nil, err
			}
		}
		if len(v) < 2 || (ch.clocks && clocks != nil && clocks.Get(k) != nil) {
			continue
		}
		if !awaitsAnswer(stateOf(v[1])) {
			if !ch.unreached {
				continue
			}
			if ok, err := at.unreachedBySMS(k, stateOf(v[1])); err != nil || !ok {
				if err != nil {
					return nil, err
				}
				continue
			}
			r, err := decodeRecipient(k, v)
			if err != nil {
				return nil, err
			}
			// Not reached, as if failed; not put on a clock for being
			// reached recently either: they were not.
			unreached[r.Person], r.State = true, StateFailed
			if err := take(r); err != nil {
				return nil, err
			}
			continue
		}
		if recent != nil {
			if later, err := recent.own(k); err != nil || later {
				if err != nil {
					return nil, err
				}
				continue
			}
		}
		r, err := decodeRecipient(k, v)
		if err != nil {
			return nil, err
		}
		if err := take(r); err != nil {
			return nil, err
		}
	}
	scanned := 0 // the roster's people the loop read, in looked
	if superior {
		scanned = book.Looked
	}
	st, err := newStepper(tx, c, at, ch, &out)
	if err != nil {
		return nil, err
	}
	for i := range targets {
		if err := st.apply(req.Step, &targets[i]); err != nil {
			return nil, err
		}
		if unreached[targets[i].Person] {
			if err := chainClock(at, targets[i].Person, req.Step+1, len(ch.steps)); err != nil {
				return nil, err
			}
		}
	}
	if chunked {
		done := out.Next == ""
		out.Looked = looked
		if superior {
			out.Looked += book.Looked - scanned
			// Each silent person is kept in the reports of their superiors
			// (or waits for the command slot); once every recipient is
			// looked at, the reports are written, as many as the limit
			// leaves room for in this entry.
			for _, r := range st.reports[req.Step] {
				noOne := func() error { return st.reachedNoOne(req.Step, r.Person) }
				told, err := book.take(r, unreached[r.Person], progress.Command, done, noOne)
				if err != nil {
					return nil, err
				}
				if told {
					if err := st.escalate(r, unreached[r.Person]); err != nil {
						return nil, err
					}
				}
			}
			delete(st.reports, req.Step)
			if done {
				progress.Phase = phaseAssign
				if done, err = st.reportChunk(req.Step, &progress, req.Limit-looked-(book.Looked-scanned)); err != nil {
					return nil, err
				}
				if !done {
					out.Next = progress.After
				}
			}
		}
		if err := keepFiring(at.ad, req.Step, progress, done); err != nil {
			return nil, err
		}
	}
	if err := st.finish(); err != nil {
		return nil, err
	}
	return out, acts.flush(c)
}

// chainClock gives person, escalated by the chain's step next-1 while its
// SMS is sent again (rulesUnreachedEscalated), a clock of its own that
// keeps to the chain's times: started at the activation's start, next step
// next. When their SMS arrives or fails for good, their clock runs on as
// the chain would have, instead of a clock starting then and taking them
// through the steps again. After the chain's last step it needs none.
func chainClock(at *actTx, person plans.PersonID, next, steps int) error {
	if next >= steps {
		return nil
	}
	b, err := at.ad.CreateBucketIfNotExists(bEscClock)
	if err != nil {
		return err
	}
	if b.Get([]byte(person)) != nil {
		return nil
	}
	at.count(escClockCounter, 1)
	return b.Put([]byte(person), clockValue(at.a.Start(), next))
}

// Escalation clocks. A recipient whose call-up goes out (or fails) after
// the first step of the chain fired has missed the steps fired so far and
// would miss every step fired before it was sent. Such a recipient gets a
// clock of its own in bEscClock, started when its state is applied: its
// steps are due each After that start, not the activation's, and the
// escalator catches them up with escalation.catchup. The steps fired for
// the activation leave it out.
var bEscClock = []byte("esc_clock") // person → 8-byte unix nanos the clock started, 2-byte next step

// escClockCounter counts the clocks running in an activation, so the
// escalator reads them only when there are some.
const escClockCounter = "esc_clocks"

func clockValue(start time.Time, next int) []byte {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 10), uint64(start.UnixNano()))
	return binary.BigEndian.AppendUint16(v, uint16(next))
}

func readClock(v []byte) (start time.Time, next int, ok bool) {
	if len(v) != 10 {
		return time.Time{}, 0, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC(), int(binary.BigEndian.Uint16(v[8:])), true
}

// recentlyReached sorts out, at the first step of a chain, the recipients
// reached too recently for it: a call-up that takes a while to send (a
// large one at a slow rate, a send retried) reaches its last recipients
// shortly before the step, and the step would call or report them minutes,
// or seconds, after their SMS. A recipient for whom the step would come
// more than a tenth of its after early, counted from when it was reached
// (its SMS first reported delivered, else its last send result or
// report), gets a clock of its own started then, as the recipients sent
// after the chain began do: each step comes its after from then.
type recentlyReached struct {
	at    *actTx
	after time.Duration
	now   time.Time
	out   *FireResult
	b     *bolt.Bucket
}

// own starts person k's clock if it was reached too recently for the step,
// and reports whether it did.
func (rr *recentlyReached) own(k []byte) (bool, error) {
	data := get(rr.at.ac, k)
	if data == nil {
		return false, nil
	}
	var att Attempt
	if err := decodeAttempt(data, &att); err != nil {
		return false, fmt.Errorf("attempt record of %s in %s: %w", k, rr.at.a.ID, err)
	}
	reached := att.Reached
	if reached.IsZero() {
		reached = att.Updated
	}
	// Due at reached+after on its own clock; the step now would be early
	// by more than a tenth of after.
	if !reached.Add(rr.after - rr.after/10).After(rr.now) {
		return false, nil
	}
	if rr.b == nil {
		var err error
		if rr.b, err = rr.at.ad.CreateBucketIfNotExists(bEscClock); err != nil {
			return false, err
		}
	}
	if err := rr.b.Put(slices.Clone(k), clockValue(reached, 0)); err != nil {
		return false, err
	}
	rr.at.count(escClockCounter, 1)
	rr.out.Clocked++
	return true, nil
}

// chainBegun reports whether a step of at's chain has fired.
func (at *actTx) chainBegun() bool {
	if at.chain == 0 {
		at.chain = 1
		if b := at.ad.Bucket(bEscFired); b != nil {
			if k, _ := b.Cursor().First(); k != nil {
				at.chain = 2
			}
		}
	}
	return at.chain == 2
}

// updateClocks starts at c's time the clocks of the recipients move found
// late (one already running goes on), then ends those of the recipients
// that answered. Under rules before rulesEscalationClocks there are none.
func (at *actTx) updateClocks(c *muster.Command) error {
	if !c.RulesAtLeast(rulesEscalationClocks) {
		at.late, at.answered = at.late[:0], at.answered[:0]
		return nil
	}
	now := c.Time
	b := at.ad.Bucket(bEscClock)
	if len(at.late) > 0 && b == nil {
		var err error
		if b, err = at.ad.CreateBucketIfNotExists(bEscClock); err != nil {
			return err
		}
	}
	if b == nil {
		at.answered = at.answered[:0]
		return nil
	}
	for _, p := range at.late {
		if b.Get([]byte(p)) != nil {
			continue
		}
		if err := b.Put([]byte(p), clockValue(now, 0)); err != nil {
			return err
		}
		at.count(escClockCounter, 1)
	}
	for _, p := range at.answered {
		if b.Get([]byte(p)) == nil {
			continue
		}
		if err := b.Delete([]byte(p)); err != nil {
			return err
		}
		at.count(escClockCounter, -1)
	}
	at.late, at.answered = at.late[:0], at.answered[:0]
	return nil
}

type escalationCatchUp struct {
	Activation plans.ActivationID `json:"a"`
	People     []plans.PersonID   `json:"p"`
}

func applyEscalationCatchUp(tx *bolt.Tx, c *muster.Command) (any, error) {
	var req escalationCatchUp
	if err := json.Unmarshal(c.Payload, &req); err != nil {
		return nil, invalidf("escalation catch-up: %v", err)
	}
	acts := actCache{}
	at, err := acts.get(tx, req.Activation)
	if err != nil {
		return nil, err
	}
	var out FireResult
	if !c.RulesAtLeast(rulesEscalationClocks) {
		out.Older = true // an older member would not know the command: it is ignorable, and does nothing here either
		return out, nil
	}
	clocks := at.ad.Bucket(bEscClock)
	if at.a.Status != StatusActive || at.a.Retracts != "" || clocks == nil {
		out.Stopped = at.a.Status != StatusActive || at.a.Retracts != ""
		return out, nil
	}
	ch, err := chainOf(tx, c, at.a)
	if err != nil {
		return nil, err
	}
	st, err := newStepper(tx, c, at, ch, &out)
	if err != nil {
		return nil, err
	}
	for _, p := range req.People {
		start, next, ok := readClock(clocks.Get([]byte(p)))
		if !ok {
			continue // caught up, or its clock ended, before
		}
		r, _, err := at.recipient(p)
		if err != nil {
			return nil, err
		}
		if ch.unreached {
			if ok, err := at.unreachedBySMS([]byte(p), r.State); err != nil {
				return nil, err
			} else if ok {
				r.State = StateFailed // not reached while its SMS is sent again; its record stays as it is
			}
		}
		if !awaitsAnswer(r.State) && r.State != StatePending && r.State != StateSending {
			next = len(ch.steps) // answered: its clock ends
		}
		if r.State == StatePending || r.State == StateSending {
			out.Waiting++
		}
		if awaitsAnswer(r.State) { // pending or sending: it waits for its send
			for ; next < len(ch.steps) && !c.Time.Before(start.Add(time.Duration(ch.steps[next].After))); next++ {
				if ch.applies(next, r) {
					if err := st.apply(next, &r); err != nil {
						return nil, err
					}
				}
			}
		}
		if next < len(ch.steps) {
			err = clocks.Put([]byte(p), clockValue(start, next))
		} else {
			out.Ended++
			at.count(escClockCounter, -1)
			err = clocks.Delete([]byte(p))
		}
		if err != nil {
			return nil, err
		}
	}
	if err := st.finish(); err != nil {
		return nil, err
	}
	return out, acts.flush(c)
}

// rulesBackupAsTheRosterSays is the behaviour (muster.Rules) from which the
// backup step calls the backup the roster names now, not the one it named
// when the call-up started: a backup deleted since (or deleted and imported
// again, under a new ID) was called by no one, and the silent person was
// marked escalated all the same. A backup that names no one in the roster
// is counted (backup_missing).
const rulesBackupAsTheRosterSays = 8

// currentBackup sets r.Backup to the backup the roster names for r's person
// now (r keeps its own when the person left the roster).
func currentBackup(tx *bolt.Tx, r *Recipient) error {
	p, ok, err := plans.GetPerson(tx, r.Person)
	if ok {
		r.Backup = p.Backup
	}
	return err
}

// callUpBackup adds r's backup person to the activation as a new pending
// recipient in r's role slots, unless they have no backup or the backup is
// called up already, or is among the recipients of live (for a drill: the
// LIVE call-ups; they are called up for real). The dispatcher sends them the
// call-up like anyone else. A backup no longer in the roster is counted
// (backup_missing) with countMissing. With standIn the activation records
// that the backup stands in for r (putStandIn), and their call-up says so.
func callUpBackup(tx *bolt.Tx, at *actTx, r Recipient, live []*bolt.Bucket, countMissing, standIn bool) (bool, error) {
	if r.Backup == "" || at.rb.Get([]byte(r.Backup)) != nil {
		return false, nil
	}
	if inAny(live, []byte(r.Backup)) {
		return false, nil
	}
	p, ok, err := plans.GetPerson(tx, r.Backup)
	if err != nil || !ok {
		if err == nil && countMissing {
			at.count("backup_missing", 1) // no one in the roster now
		}
		return false, err
	}
	rec := plans.PersonRecord{ID: []byte(p.ID), Name: []byte(p.Name), Backup: []byte(p.Backup), Grid: p.Grid, Language: p.Language}
	if len(p.Phones) > 0 {
		rec.Phone = []byte(p.Phones[0])
	}
	roles := make([]uint16, len(r.Roles))
	for i, x := range r.Roles {
		roles[i] = uint16(x)
	}
	pending, _ := StatePending.code()
	if err := at.rb.Put([]byte(p.ID), appendRecord(nil, pending, roles, &rec)); err != nil {
		return false, err
	}
	if standIn {
		if err := putStandIn(tx, at, p.ID, r); err != nil {
			return false, err
		}
	}
	at.tally(p.Grid, r.Roles, StatePending, +1)
	at.a.Recipients++
	return true, putActivation(tx, at.a)
}

// unreachedMark follows the name of someone the call-up SMS could not
// reach in a superior's report.
const unreachedMark = "（短信未送达）"

// unreachedMarkEN is unreachedMark in an English report.
const unreachedMarkEN = " (SMS not delivered)"

// reportRules are the rules a 叫应 report is written under (see
// superiorReports).
type reportRules struct {
	everyone, upTree, noReply, english bool
}

// rulesEnglishReports is the behaviour (muster.Rules) from which a 叫应
// report to a superior whose language is English is in English (the
// plan's and regions' English names, English marks; the silent people's
// names as the roster has them). Before, every report was in Chinese.
const rulesEnglishReports = 13

// maxCommandReports bounds the people of the first role slot a silence
// without a grid leader is reported to, and (rulesReportNamesEveryone) the
// grid leaders of one grid told of its silent people.
const maxCommandReports = 3

// rulesReportNamesEveryone is the behaviour (muster.Rules) from which a
// superior's 叫应 report names every silent person it is about, each with
// the number the call-up went to, in as many SMS as that takes (each within
// plans.MaxSMSSegments, numbered 1/N), and goes to every grid leader of the
// grid (up to maxCommandReports, by ID), not the first alone. Under older
// rules the one SMS named the first 20 and ended in 等: in a grid of 37
// silent people 17 were reported to no one, and a grid's second leader
// heard nothing.
const rulesReportNamesEveryone = 10

// superiorReports groups silent recipients by their superior — the grid
// leader (网格长) of their grid (every one of the grid's, up to
// maxCommandReports, when everyone is true); a grid leader's own silence,
// or a grid without one, goes to the first maxCommandReports people (by
// ID) of the activation's first role slot (the command, e.g. 总指挥) — and
// writes each superior the SMS naming them: one naming at most 20 (more
// elided with 等), or, when everyone is true, as many as it takes to name
// them all with their numbers (reportParts).
//
// With upTree (rulesEscalationReachesSomeone), a silence the grid and the
// command slot have no one for goes to the nearest region above the grid
// that has someone: the 网格长 or 值班领导 of the grid's community, else
// the 值班领导 of its street, else of its district (up to
// maxCommandReports, in the roster's order: by grid, then ID). A silent
// person reported to no one is in no item's About. With noReply
// (rulesReportsTakeNoReply) each SMS of a report says it needs no reply;
// with english (rulesEnglishReports) a report to an English speaker is in
// English.
func superiorReports(tx *bolt.Tx, a Activation, silentOnes []Recipient, rules reportRules) ([]EscalationItem, error) {
	everyone, upTree := rules.everyone, rules.upTree
	leaders := map[plans.RegionCode][]superior{}
	most := 1
	if everyone {
		most = maxCommandReports
	}
	leadersOf := func(grid plans.RegionCode) ([]superior, error) {
		if ps, ok := leaders[grid]; ok {
			return ps, nil
		}
		found, _, err := gridLeaders(tx, grid, most)
		leaders[grid] = found
		return found, err
	}
	var command []Recipient // the first role slot's recipients, read lazily
	commandRead := false
	ups := map[plans.RegionCode][]superior{} // leadersAbove's, by region
	regionPeople := func(reg plans.Region) ([]superior, error) {
		ps, ok := ups[reg.Code]
		if !ok {
			var err error
			if ps, _, err = regionLeaders(tx, reg); err != nil {
				return nil, err
			}
			ups[reg.Code] = ps
		}
		return ps, nil
	}
	byBoss := map[plans.PersonID]*EscalationItem{}
	named := map[plans.PersonID][]string{} // by superior: who, as the report names them
	var order []plans.PersonID
	add := func(boss plans.PersonID, name, phone string, lang plans.Language, r Recipient) {
		it := byBoss[boss]
		if it == nil {
			it = &EscalationItem{Person: boss, Name: name, Phone: phone, Language: lang}
			byBoss[boss] = it
			order = append(order, boss)
		}
		it.About = append(it.About, r.Person)
		who := reportName(r, rules, lang)
		if everyone {
			named[boss] = append(named[boss], who)
			return
		}
		it.Text = appendName(it.Text, who)
	}
	for _, r := range silentOnes {
		bosses, err := leadersOf(r.Grid)
		if err != nil {
			return nil, err
		}
		if len(bosses) > 0 && !slices.ContainsFunc(bosses, func(p superior) bool { return p.ID == r.Person }) {
			for _, boss := range bosses {
				add(boss.ID, boss.Name, boss.Phone, boss.Language, r)
			}
			continue
		}
		if !commandRead {
			commandRead = true
			ad := activationData(tx, a.ID)
			cur := ad.Bucket(bRecipients).Cursor()
			for k, v := cur.First(); k != nil; k, v = cur.Next() {
				c, err := decodeRecipient(k, v)
				if err != nil {
					return nil, err
				}
				if slices.Contains(c.Roles, 0) && c.Phone != "" && len(command) < maxCommandReports {
					command = append(command, c)
				}
			}
		}
		told := false
		for _, c := range command {
			if c.Person != r.Person {
				add(c.Person, c.Name, c.Phone, c.Language, r)
				told = true
			}
		}
		if told || !upTree {
			continue
		}
		above, err := leadersAbove(tx, r.Grid, r.Person, regionPeople)
		if err != nil {
			return nil, err
		}
		for _, boss := range above {
			add(boss.ID, boss.Name, boss.Phone, boss.Language, r)
		}
	}
	out := make([]EscalationItem, 0, len(order))
	for _, id := range order {
		it := byBoss[id]
		if everyone {
			out = append(out, reportParts(a, *it, named[id], rules.noReply, rules.english && it.Language == plans.LangEN)...)
			continue
		}
		it.Text = fmt.Sprintf("%s叫应：%s（%s）以下%d人至今未回复：%s。请立即联系。", a.Sender, a.PlanTitle, a.RegionNames, len(it.About), it.Text)
		if a.Purpose.Drill() {
			it.Text = plans.ExerciseMark + it.Text
		}
		out = append(out, *it)
	}
	return out, nil
}

// leadersAbove is who a silence in grid goes to when the grid and the
// command slot have no one (see superiorReports): the first
// maxCommandReports people with a phone, other than person, of the nearest
// region above the grid that has any — tagged 网格长 or 值班领导 in the
// grid's community, 值班领导 in its street or district. people gives a
// region's (regionLeaders, person included), from a cache.
func leadersAbove(tx *bolt.Tx, grid plans.RegionCode, person plans.PersonID, people func(plans.Region) ([]superior, error)) ([]superior, error) {
	reg, ok, err := plans.GetRegion(tx, grid)
	if err != nil || !ok {
		return nil, err
	}
	for code := reg.Parent; code != ""; code = reg.Parent {
		if reg, ok, err = plans.GetRegion(tx, code); err != nil || !ok || reg.Kind == plans.KindCity {
			return nil, err
		}
		ps, err := people(reg)
		if err != nil {
			return nil, err
		}
		var out []superior
		for _, p := range ps {
			if p.ID != person && len(out) < maxCommandReports {
				out = append(out, p)
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	return nil, nil
}

// superior is someone a 叫应 report goes to, as the report needs them.
type superior struct {
	ID       plans.PersonID `json:"id"`
	Name     string         `json:"name"`
	Phone    string         `json:"phone"`
	Language plans.Language `json:"lang,omitempty"`
}

func superiorOf(p *plans.Person) superior {
	return superior{ID: p.ID, Name: p.Name, Phone: p.Phones[0], Language: p.Language}
}

// errEnough stops a scan of the roster that found all it looks for.
var errEnough = errors.New("enough")

// gridLeaders returns the first most people (by ID) of grid tagged 网格长
// with a phone, and how many of the grid's people it looked at.
func gridLeaders(tx *bolt.Tx, grid plans.RegionCode, most int) ([]superior, int, error) {
	reg, ok, err := plans.GetRegion(tx, grid)
	if err != nil || !ok {
		return nil, 0, err
	}
	var found []superior
	n := 0
	err = plans.ForEachPersonUnder(tx, reg, func(p *plans.Person) error {
		n++
		if p.Grid == grid && p.HasTag(GridLeaderTag) && len(p.Phones) > 0 {
			if found = append(found, superiorOf(p)); len(found) == most {
				return errEnough
			}
		}
		return nil
	})
	if errors.Is(err, errEnough) {
		err = nil
	}
	return found, n, err
}

// regionLeaders returns the people of reg, a region above a grid, that a
// silence there can go to (leadersAbove): the first maxCommandReports+1
// with a phone tagged 值班领导, or in a community 网格长 (one more than a
// report needs: the silent person may be among them), and how many of the
// region's people it looked at.
func regionLeaders(tx *bolt.Tx, reg plans.Region) ([]superior, int, error) {
	var found []superior
	n := 0
	err := plans.ForEachPersonUnder(tx, reg, func(p *plans.Person) error {
		n++
		if len(p.Phones) > 0 && (p.HasTag(DutyLeaderTag) || (reg.Kind == plans.KindCommunity && p.HasTag(GridLeaderTag))) {
			if found = append(found, superiorOf(p)); len(found) > maxCommandReports {
				return errEnough
			}
		}
		return nil
	})
	if errors.Is(err, errEnough) {
		err = nil
	}
	return found, n, err
}

// reportName is how a 叫应 report to a superior speaking lang names r:
// the name, with the number the call-up went to when the report names
// everyone, marked when the SMS did not reach them (r failed).
func reportName(r Recipient, rules reportRules, lang plans.Language) string {
	who := r.Name
	if rules.everyone && r.Phone != "" {
		who += " " + dialable(r.Phone)
	}
	if r.State == StateFailed {
		if rules.english && lang == plans.LangEN {
			who += unreachedMarkEN
		} else {
			who += unreachedMark
		}
	}
	return who
}

// reportParts writes the 叫应 report it (About set, in the order of names)
// as SMS naming every one of names, each "name number": as few as it
// takes, each within plans.MaxSMSSegments with the drill mark, and, when
// more than one, numbered (1/N) so the superior knows when they have them
// all. A name too long to share a part with the heading still gets one
// part of its own. With noReply each part ends saying it needs no reply
// (reportNeedsNoReply). With english it is in English.
func reportParts(a Activation, it EscalationItem, names []string, noReply, english bool) []EscalationItem {
	mark := ""
	if a.Purpose.Drill() {
		mark = plans.ExerciseMark
	}
	head := func(part, parts int) string {
		n := ""
		if parts > 1 {
			n = fmt.Sprintf("（%d/%d）", part, parts)
		}
		return fmt.Sprintf("%s%s叫应：%s（%s）以下%d人至今未回复，请立即联系%s：", mark, a.Sender, a.PlanTitle, a.RegionNames, len(names), n)
	}
	sep, tail := "、", "。"
	if noReply {
		tail += reportNeedsNoReply
	}
	if english {
		plan, regions := cmp.Or(a.PlanTitleEN, a.PlanTitle), cmp.Or(a.RegionNamesEN, a.RegionNames)
		if a.Purpose.Drill() {
			mark += plans.ExerciseMarkEN
		}
		head = func(part, parts int) string {
			n := ""
			if parts > 1 {
				n = fmt.Sprintf(" (%d/%d)", part, parts)
			}
			return fmt.Sprintf("%s%sCall-back: %s (%s): %s not answered yet, contact them now%s: ", mark, a.Sender, plan, regions,
				muster.Count(len(names), "person has", "people have"), n)
		}
		sep, tail = ", ", "."
		if noReply {
			tail += " " + reportNeedsNoReplyEN
		}
	}
	// Split with a heading as long as any part's can be (the part numbers
	// at their widest), then number the parts. A part's length is kept as
	// it grows (a report can name thousands): measured again whole for
	// each name, the last chunk of a superior step spent seconds on it.
	wide := head(len(names), len(names))
	var groups [][]int // indexes into names, per part
	text := ""
	var length plans.SMSLength // of text
	for i, name := range names {
		if len(groups) > 0 {
			with := length
			with.Add(sep)
			with.Add(name)
			with.Add(tail)
			if with.Fits(plans.MaxSMSSegments, func() string { return text + sep + name + tail }) {
				groups[len(groups)-1] = append(groups[len(groups)-1], i)
				text += sep + name
				length.Add(sep)
				length.Add(name)
				continue
			}
		}
		groups = append(groups, []int{i})
		text = wide + name
		length = plans.SMSLength{}
		length.Add(text)
	}
	out := make([]EscalationItem, 0, len(groups))
	for g, idx := range groups {
		part := it
		part.About = make([]plans.PersonID, 0, len(idx))
		list := make([]string, 0, len(idx))
		for _, i := range idx {
			part.About = append(part.About, it.About[i])
			list = append(list, names[i])
		}
		part.Text = head(g+1, len(groups)) + strings.Join(list, sep) + tail
		out = append(out, part)
	}
	return out
}

// dialable is an E.164 number as a person dials it at home: a Chinese
// mobile without +86, a Chinese landline with its trunk 0; others as they
// are.
func dialable(phone string) string {
	rest, ok := strings.CutPrefix(phone, "+86")
	switch {
	case !ok || rest == "":
		return phone
	case rest[0] == '1':
		return rest
	}
	return "0" + rest
}

// appendName adds a name to a 、-separated list, eliding after 20 names.
func appendName(list, name string) string {
	switch {
	case list == "":
		return name
	case strings.HasSuffix(list, "等"):
		return list
	case strings.Count(list, "、") == 19:
		return list + "等"
	}
	return list + "、" + name
}

// EscalationAttemptID names attempt n of the escalation item of step for
// person in activation act: "A000001.P000042.e2-1". Voice webhooks carry it.
func EscalationAttemptID(act plans.ActivationID, person plans.PersonID, step, n int) string {
	return fmt.Sprintf("%s.%s.e%d-%d", act, person, step, n)
}

// ParseEscalationAttemptID is the inverse of EscalationAttemptID, also of
// an ID made after a restore (escalationAttemptIDOf), whose restore era
// (the restore's number and tag) it leaves out.
func ParseEscalationAttemptID(s string) (act plans.ActivationID, person plans.PersonID, step, n int, err error) {
	act, person, step, n, _, err = parseEscalationAttempt(s)
	return act, person, step, n, err
}

// escalationAttemptIDOf names attempt n of an escalation item made in
// the state's restore era (restoreEra): EscalationAttemptID, with the era
// after it once the state was restored ("A000001.P000042.e2-1.r1-k3f9q"),
// as the call-up's attempts (attemptIDOf).
func escalationAttemptIDOf(act plans.ActivationID, person plans.PersonID, step, n, era int) string {
	return EscalationAttemptID(act, person, step, n) + eraSuffix(era)
}

// parseEscalationAttempt splits an ID of escalationAttemptIDOf: the era
// is 0 for an ID without one.
func parseEscalationAttempt(s string) (act plans.ActivationID, person plans.PersonID, step, n, restore int, err error) {
	parts := strings.Split(s, ".")
	if len(parts) == 4 {
		r, ok := parseEra(parts[3])
		if !ok {
			return "", "", 0, 0, 0, invalidf("escalation attempt %q: want ACTIVATION.PERSON.eSTEP-N or ACTIVATION.PERSON.eSTEP-N.rRESTORE-TAG", s)
		}
		restore, parts = r, parts[:3]
	}
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return "", "", 0, 0, 0, invalidf("escalation attempt %q: want ACTIVATION.PERSON.eSTEP-N", s)
	}
	if _, err := fmt.Sscanf(parts[2], "e%d-%d", &step, &n); err != nil || step < 0 || n < 1 {
		return "", "", 0, 0, 0, invalidf("escalation attempt %q: want ACTIVATION.PERSON.eSTEP-N", s)
	}
	return plans.ActivationID(parts[0]), plans.PersonID(parts[1]), step, n, restore, nil
}

// EscalationRef names one queued escalation item and the attempt it is at.
type EscalationRef struct {
	Activation plans.ActivationID `json:"a"`
	Step       int                `json:"s"`
	Person     plans.PersonID     `json:"p"`
	Seq        int                `json:"q,omitempty"`
	N          int                `json:"n"`
	Resend     bool               `json:"r,omitempty"` // left in sending by an earlier leader
	// Restored, in a claim's result, is the state's restore era when
	// attempt N was claimed (rulesRestoredAttempts): its ID carries it
	// (escalationAttemptIDOf).
	Restored int `json:"rs,omitempty"`
}

type escalationClaim struct {
	Items []EscalationRef `json:"i"`
}

// EscalationClaimResult lists the items claimed with their new attempt
// numbers; items no longer wanted (answered since, activation stopped) are
// marked skipped and left out.
type EscalationClaimResult struct {
	Claimed []EscalationRef `json:"claimed"`
}

// escQueue opens an activation and its escalation queue in a write
// transaction.
func escQueue(tx *bolt.Tx, acts actCache, id plans.ActivationID) (*actTx, *bolt.Bucket, error) {
	at, err := acts.get(tx, id)
	if err != nil {
		return nil, nil, err
	}
	return at, at.ad.Bucket(bEscQueue), nil
}

func getEscItem(q *bolt.Bucket, k []byte) (EscalationItem, bool, error) {
	var it EscalationItem
	if q == nil {
		return it, false, nil
	}
	data := q.Get(k)
	if data == nil {
		return it, false, nil
	}
	return it, true, json.Unmarshal(data, &it)
}

func putEscItem(q *bolt.Bucket, it EscalationItem) error {
	data, err := json.Marshal(it)
	if err != nil {
		return err
	}
	return q.Put(it.key(), data)
}

// wanted reports whether an escalation item should still go out: its
// activation is active and, for a message to the silent person itself,
// that person has not answered since nor been taken off the call-up.
func wanted(at *actTx, it EscalationItem) bool {
	if at.a.Status != StatusActive {
		return false
	}
	if it.Action != plans.EscalateSMS && it.Action != plans.EscalateVoice {
		return true
	}
	v := at.rb.Get([]byte(it.Person))
	return v != nil && len(v) > 1 && !stateOf(v[1]).Answered() && stateOf(v[1]) != StateCancelled
}

// rulesEscalationResent is the behaviour (muster.Rules) from which an
// escalation item claimed again after an earlier leader left it in sending
// (its message or call may have gone out) is counted, as the dispatcher's
// re-sends are: escResentCounter. Under older rules nothing showed that a
// failover had called people twice.
const rulesEscalationResent = 7

// escResentCounter counts the escalation attempts made again after a
// failover lost the outcome of the one before (possible duplicates).
const escResentCounter = "escalation_resent"

func applyEscalationClaim(tx *bolt.Tx, c *muster.Command) (any, error) {
	var req escalationClaim
	if err := json.Unmarshal(c.Payload, &req); err != nil {
		return nil, invalidf("escalation claim: %v", err)
	}
	acts := actCache{}
	out := EscalationClaimResult{Claimed: []EscalationRef{}}
	for _, ref := range req.Items {
		at, q, err := escQueue(tx, acts, ref.Activation)
		if err != nil {
			return nil, err
		}
		it, ok, err := getEscItem(q, ref.key())
		if err != nil || !ok {
			return nil, err
		}
		if it.N != ref.N || !(it.State == EscQueued || (ref.Resend && it.State == EscSending)) {
			continue
		}
		it.Updated, it.NextTry = c.Time, time.Time{}
		from := it.State
		if !wanted(at, it) {
			it.State = EscSkipped
		} else {
			if from == EscSending && c.RulesAtLeast(rulesEscalationResent) {
				at.count(escResentCounter, 1) // an earlier leader's attempt may have gone out
			}
			it.State, it.N = EscSending, it.N+1
			if c.RulesAtLeast(rulesRestoredAttempts) {
				it.Restored = restoreEra(tx)
			}
			claimed := ref
			claimed.N, claimed.Restored = it.N, it.Restored
			out.Claimed = append(out.Claimed, claimed)
		}
		if from != it.State {
			escMove(at, from, it.State)
		}
		if err := putEscItem(q, it); err != nil {
			return nil, err
		}
	}
	return out, acts.flush(c)
}

// EscalationOutcome is the result of one escalation attempt.
type EscalationOutcome struct {
	EscalationRef
	Outcome Outcome `json:"o"` // sent, retry (queued again) or failed
	SID     string  `json:"sid,omitempty"`
	Code    int     `json:"code,omitempty"`
	Error   string  `json:"err,omitempty"`
	To      string  `json:"to,omitempty"` // the number used, when not the item's (corrected since)
	// NextTry is when a retry is to be made, stamped by the leader with
	// its backoff (rulesEscalationBackoff).
	NextTry time.Time `json:"next,omitzero"`
}

type escalationResult struct {
	Items []EscalationOutcome `json:"i"`
}

// escalationAttempts bounds the attempts of one escalation item, unless
// its last failed for an outage of the provider account
// (rulesEscalationBackoff: EscalatorConfig.MaxOutageAttempts).
const escalationAttempts = 3

// rulesEscalationBackoff is the behaviour (muster.Rules) from which an
// escalation item that failed for now waits to be tried again until the
// time the leader stamps in its outcome (its backoff: EscalatorConfig),
// and is failed when the leader says its attempts are spent: 3, or those
// of an outage when the provider account was failing. Under older rules
// it was queued again at once and failed at its third attempt, so a
// provider outage of a minute burnt every reminder and 叫应 report in
// seconds.
const rulesEscalationBackoff = 13

func applyEscalationResult(tx *bolt.Tx, c *muster.Command) (any, error) {
	var req escalationResult
	if err := json.Unmarshal(c.Payload, &req); err != nil {
		return nil, invalidf("escalation result: %v", err)
	}
	acts := actCache{}
	var out ResultSummary
	for _, r := range req.Items {
		at, q, err := escQueue(tx, acts, r.Activation)
		if err != nil {
			return nil, err
		}
		it, ok, err := getEscItem(q, r.key())
		if err != nil {
			return nil, err
		}
		if !ok || it.N != r.N || it.State != EscSending {
			out.Stale++
			continue
		}
		it.Updated, it.SID, it.Code, it.Error = c.Time, r.SID, r.Code, truncate(r.Error, 200)
		if r.Outcome == OutcomeSent && r.To != "" && c.RulesAtLeast(rulesSendsFollowTheRoster) {
			it.Phone = r.To
		}
		switch r.Outcome {
		case OutcomeSent:
			it.State = EscSent
			if c.RulesAtLeast(rulesReportsTakeNoReply) {
				if err := noteReportSent(at, it, c.Time); err != nil {
					return nil, err
				}
			}
		case OutcomeRetry:
			it.State = EscQueued
			if c.RulesAtLeast(rulesEscalationBackoff) {
				it.NextTry = r.NextTry
			} else if it.N >= escalationAttempts {
				it.State = EscFailed
			}
		case OutcomeFailed, OutcomeDropped:
			it.State = EscFailed
		default:
			return nil, invalidf("escalation outcome %q: want sent, retry or failed", r.Outcome)
		}
		if it.State != EscSent && it.Channel == ChannelVoice && c.RulesAtLeast(rulesCorrectByVoice) {
			// Not placed (or to be placed again, which a retraction stops):
			// a correction call queued for it while it was in flight goes.
			if err := dropCorrectionCall(tx, c, acts, at, it.Person); err != nil {
				return nil, err
			}
		}
		escMove(at, EscSending, it.State)
		if err := putEscItem(q, it); err != nil {
			return nil, err
		}
		out.Applied++
	}
	return out, acts.flush(c)
}

// firedSteps returns the steps of an activation that have fired.
func firedSteps(ad *bolt.Bucket) map[int]time.Time {
	out := map[int]time.Time{}
	if b := ad.Bucket(bEscFired); b != nil {
		_ = b.ForEach(func(k, v []byte) error {
			if len(k) == 2 && len(v) == 8 {
				out[int(binary.BigEndian.Uint16(k))] = time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
			}
			return nil
		})
	}
	return out
}

// escalationWork lists up to limit queued items of an activation due at
// now (those waiting for a retry until their NextTry are not), and those
// in sending, as resends, when orphans is set, in key order from the key
// after `after` (the start when nil), wrapping around to the start: items
// queued again behind it are found in the same pass. next is where the
// next call goes on: the last key taken when limit was reached, nil when
// the pass went all the way round.
func escalationWork(ad *bolt.Bucket, id plans.ActivationID, orphans bool, limit int, after []byte, now time.Time) (refs []EscalationRef, items []EscalationItem, next []byte, err error) {
	q := ad.Bucket(bEscQueue)
	cb := ad.Bucket(bCounters)
	waiting := cb.Get([]byte(dispatchCounter+escQueuedCounter)) != nil ||
		(orphans && cb.Get([]byte(dispatchCounter+escSendingCounter)) != nil)
	if q == nil || !waiting { // counters at zero are deleted
		return nil, nil, nil, nil
	}
	take := func(k, v []byte) (bool, error) {
		var it EscalationItem
		if err := json.Unmarshal(v, &it); err != nil {
			return false, err
		}
		if (it.State == EscQueued && !now.Before(it.NextTry)) || (orphans && it.State == EscSending) {
			refs = append(refs, EscalationRef{Activation: id, Step: it.Step, Person: it.Person, Seq: it.Seq, N: it.N, Resend: it.State == EscSending})
			items = append(items, it)
			if len(refs) >= limit {
				next = bytes.Clone(k)
				return true, nil
			}
		}
		return false, nil
	}
	c := q.Cursor()
	k, v := c.First()
	if after != nil {
		if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
			k, v = c.Next()
		}
	}
	for ; k != nil; k, v = c.Next() {
		if full, err := take(k, v); full || err != nil {
			return refs, items, next, err
		}
	}
	if after == nil {
		return refs, items, nil, nil
	}
	for k, v = c.First(); k != nil && bytes.Compare(k, after) <= 0; k, v = c.Next() {
		if full, err := take(k, v); full || err != nil {
			return refs, items, next, err
		}
	}
	return refs, items, nil, nil
}

// EscalationStepStatus is one step of an activation's escalation chain:
// when it is due, when it fired, and its queued items by state.
type EscalationStepStatus struct {
	Index   int                    `json:"index"`
	After   plans.Duration         `json:"after"`
	Do      plans.EscalationAction `json:"do"`
	Due     time.Time              `json:"due,omitzero"`
	FiredAt time.Time              `json:"fired_at,omitzero"`
	Items   map[string]int         `json:"items"` // by state: queued, sending, sent, failed, skipped
	// Retrying counts the queued items whose last attempt failed for now
	// (the provider down or refusing for now) and that wait to be tried
	// again (rulesEscalationBackoff).
	Retrying int `json:"retrying,omitempty"`
	// Waiting counts the recipients on clocks of their own (sent after the
	// chain began, or reached too recently for its first step) for whom
	// this step is next.
	Waiting int `json:"waiting,omitempty"`
	// Calls counts a voice step's calls placed by how each went, as their
	// last status report says: answered (by a person), machine (an
	// answering machine took it), no-answer, busy, failed, canceled, or
	// ringing while under way. "sent" said only that the call was placed,
	// the same for a voicemail and a phone that never picked up.
	Calls map[string]int `json:"calls,omitempty"`
}

// callOutcome is how a call went, for EscalationStepStatus.Calls, from an
// item's last call status ("completed (machine)", "no-answer", …); ""
// when none was reported.
func callOutcome(call string) string {
	status, machine := strings.CutSuffix(call, " (machine)")
	switch {
	case status == "":
		return ""
	case machine:
		return "machine"
	case status == "in-progress" || status == "completed":
		return "answered"
	case status == "queued" || status == "initiated" || status == "ringing":
		return "ringing"
	}
	return status
}

// Escalation returns an activation's escalation chain with what each step
// did so far.
func (s *Service) Escalation(ctx context.Context, level muster.Consistency, id plans.ActivationID) ([]EscalationStepStatus, error) {
	out := []EscalationStepStatus{}
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		a, err := getActivation(tx, id)
		if err != nil {
			return err
		}
		pv, err := plans.GetPlanVersion(tx, a.Plan, a.PlanVersion)
		if err != nil {
			return err
		}
		l := pv.Plan.Level(a.Level)
		if l == nil {
			return nil
		}
		ad := activationData(tx, id)
		if a.Retracts != "" {
			// A correction has no chain: only the calls its retraction
			// queued (rulesCorrectByVoice), shown as one step.
			if ad == nil || ad.Bucket(bEscQueue) == nil {
				return nil
			}
			out = append(out, EscalationStepStatus{Index: CorrectionCallStep, Do: plans.EscalateVoice, Due: a.StartedAt, FiredAt: a.StartedAt, Items: map[string]int{}})
			return ad.Bucket(bEscQueue).ForEach(func(_, v []byte) error {
				var it EscalationItem
				if err := json.Unmarshal(v, &it); err != nil {
					return err
				}
				out[0].Items[it.State]++
				countRetry(&out[0], it)
				countCall(&out[0], it)
				return nil
			})
		}
		var fired map[int]time.Time
		if ad != nil {
			fired = firedSteps(ad)
		}
		for i, st := range EscalationSteps(l, a.Roles) {
			ss := EscalationStepStatus{Index: i, After: st.After, Do: st.Do, FiredAt: fired[i], Items: map[string]int{}}
			if start := a.Start(); !start.IsZero() {
				ss.Due = start.Add(time.Duration(st.After))
			}
			out = append(out, ss)
		}
		if ad == nil {
			return nil
		}
		if b := ad.Bucket(bEscClock); b != nil && a.Status == StatusActive { // a stop ends them (rulesStopEndsClocks)
			_ = b.ForEach(func(_, v []byte) error {
				if _, next, ok := readClock(v); ok && next < len(out) {
					out[next].Waiting++
				}
				return nil
			})
		}
		if ad.Bucket(bEscQueue) == nil {
			return nil
		}
		return ad.Bucket(bEscQueue).ForEach(func(_, v []byte) error {
			var it EscalationItem
			if err := json.Unmarshal(v, &it); err != nil {
				return err
			}
			if it.Step < len(out) {
				out[it.Step].Items[it.State]++
				countRetry(&out[it.Step], it)
				countCall(&out[it.Step], it)
			}
			return nil
		})
	})
	return out, err
}

// countRetry counts in its step's Retrying an item queued to be tried
// again.
func countRetry(ss *EscalationStepStatus, it EscalationItem) {
	if it.State == EscQueued && !it.NextTry.IsZero() {
		ss.Retrying++
	}
}

// countCall counts a voice item's call in its step's Calls.
func countCall(ss *EscalationStepStatus, it EscalationItem) {
	if it.Channel != ChannelVoice {
		return
	}
	if o := callOutcome(it.Call); o != "" {
		if ss.Calls == nil {
			ss.Calls = map[string]int{}
		}
		ss.Calls[o]++
	}
}

// voiceAttempt finds the activation and recipient of a voice attempt, nil
// when the attempt names nothing known or the account's purpose does not
// match the activation's.
func voiceAttempt(tx *bolt.Tx, acts actCache, it InboundItem) (at *actTx, r Recipient, att Attempt, step, n, restore int, err error) {
	act, person, step, n, restore, err := parseEscalationAttempt(it.Attempt)
	if err != nil {
		return nil, Recipient{}, Attempt{}, 0, 0, 0, nil
	}
	at, err = acts.get(tx, act)
	if muster.IsCode(err, muster.ENotFound) {
		return nil, Recipient{}, Attempt{}, 0, 0, 0, nil
	}
	if err != nil {
		return nil, Recipient{}, Attempt{}, 0, 0, 0, err
	}
	if at.a.Purpose.Drill() != it.Exercise {
		return nil, Recipient{}, Attempt{}, 0, 0, 0, nil
	}
	r, att, err = at.recipient(person)
	if muster.IsCode(err, muster.ENotFound) {
		return nil, Recipient{}, Attempt{}, 0, 0, 0, nil
	}
	return at, r, att, step, n, restore, err
}

// applyDigits records the key a person pressed on a voice call-up: 1
// accepts, 2 declines, like the SMS replies. A call an answering machine
// took never answers, and keys for an activation no longer active are
// audited, not applied. Keys pressed on a call of another restore's era
// (another cluster restored from the same backup, which numbers its
// call-ups alike) are unknown (rulesRestoredAttempts; knownEra).
func applyDigits(tx *bolt.Tx, acts actCache, c *muster.Command, it InboundItem) (InboundResult, error) {
	at, r, att, _, _, era, err := voiceAttempt(tx, acts, it)
	if err != nil || at == nil {
		return InboundResult{Outcome: InboundRejected}, err
	}
	if c.RulesAtLeast(rulesRestoredAttempts) && !knownEra(tx, era) {
		return InboundResult{Outcome: InboundUnknown, Activation: at.a.ID}, nil
	}
	if at.a.Status != StatusActive || (at.a.Retracts != "" && c.RulesAtLeast(rulesCorrectByVoice)) { // a correction's call takes no keys
		return InboundResult{Outcome: InboundNoCallUp, Activation: at.a.ID, Person: r.Person}, nil
	}
	if MachineAnswered(it.AnsweredBy) {
		return InboundResult{Outcome: InboundUnchanged, Activation: at.a.ID, Person: r.Person, State: r.State}, nil
	}
	reply := Reply{Kind: ReplyNote}
	switch strings.TrimSpace(it.Body) {
	case "1":
		reply.Kind = ReplyAccept
	case "2":
		reply.Kind, reply.Reason = ReplyDecline, "电话按键2"
	}
	return recordAnswer(at, c, r, att, reply, "voice:"+it.Body)
}

// rulesCallAttempts is the behaviour from which a call's progress is
// recorded only for the item's current attempt.
const rulesCallAttempts = 3

// applyCall records a voice call's progress on its escalation item. A
// report of an earlier attempt (a call whose placing timed out and was
// placed again, and went through after all) changes nothing: the item
// shows its current call, and each call's end is counted once.
func applyCall(tx *bolt.Tx, acts actCache, c *muster.Command, it InboundItem) (InboundResult, error) {
	at, r, _, step, n, restore, err := voiceAttempt(tx, acts, it)
	if err != nil || at == nil {
		return InboundResult{Outcome: InboundRejected}, err
	}
	q := at.ad.Bucket(bEscQueue)
	item, ok, err := getEscItem(q, escItemKey(step, r.Person, 0))
	if err != nil || !ok {
		return InboundResult{Outcome: InboundRejected}, err
	}
	if (n != item.N && c.RulesAtLeast(rulesCallAttempts)) || (restore != item.Restored && c.RulesAtLeast(rulesRestoredAttempts)) {
		// Also a call of another cluster's attempt of the same number:
		// the one a backup was taken of, which went on calling after it.
		return InboundResult{Outcome: InboundUnchanged, Activation: at.a.ID, Person: r.Person, State: r.State}, nil
	}
	call := it.Status
	if MachineAnswered(it.AnsweredBy) {
		call += " (machine)"
	}
	if item.Call == call {
		return InboundResult{Outcome: InboundUnchanged, Activation: at.a.ID, Person: r.Person, State: r.State}, nil
	}
	item.Call, item.Updated = call, c.Time
	if item.SID == "" {
		item.SID = it.SID
	}
	if CallStatus(it.Status).Final() {
		at.count("voice_"+strings.ReplaceAll(it.Status, "-", "_"), 1)
	}
	return InboundResult{Outcome: InboundApplied, Activation: at.a.ID, Person: r.Person, State: r.State}, putEscItem(q, item)
}

// VoiceScript is what a voice call-up says: the level's voice template
// rendered for the person called, in their language; drill calls start
// with plans.ExerciseMark.
type VoiceScript struct {
	Text string
	// Language is the language Text is written in, which the call is read
	// in: a person's own, unless the level has no text in it.
	Language plans.Language
	// Live is false when the call's activation is no longer active: the
	// call should just end. A correction's call is live after the
	// correction ended too (its people are still to be told), unless it
	// was stood down with force (it was wrong).
	Live bool
	// Drill is set on a drill's call: whatever else it says is marked.
	Drill bool
	// Notice is set on a correction's call: the text is read and the call
	// ends; it takes no keys.
	Notice bool
	// Answered is the person's answer to the call-up (StateAcked,
	// StateDeclined) when they gave one before the call was picked up
	// (by SMS, the answer page, another call); empty when they have not.
	Answered State
}

// VoiceScript renders the script of a voice escalation attempt from this
// node's state (calls are answered within seconds of being placed; a
// follower that lags by a few entries still has the activation).
func (in *Inbound) VoiceScript(ctx context.Context, attempt string) (VoiceScript, error) {
	var out VoiceScript
	act, person, _, _, err := ParseEscalationAttemptID(attempt)
	if err != nil {
		return out, err
	}
	if in.view == nil {
		return out, muster.Errorf(muster.EUnavailable, "this node cannot read call-ups")
	}
	err = in.view.View(ctx, muster.Stale, func(tx *bolt.Tx) error {
		a, err := getActivation(tx, act)
		if err != nil {
			return err
		}
		ad := activationData(tx, act)
		if ad == nil {
			return muster.Errorf(muster.ENotFound, "activation %s has no recipients", act)
		}
		v := ad.Bucket(bRecipients).Get([]byte(person))
		if v == nil {
			return muster.Errorf(muster.ENotFound, "person %s is not a recipient of %s", person, act)
		}
		r, err := decodeRecipient([]byte(person), v)
		if err != nil {
			return err
		}
		pv, err := plans.GetPlanVersion(tx, a.Plan, a.PlanVersion)
		if err != nil {
			return err
		}
		l := pv.Plan.Level(a.Level)
		if l == nil {
			return fmt.Errorf("activation %s: no level %s", act, a.Level)
		}
		out.Live, out.Drill = a.Status == StatusActive, a.Purpose.Drill()
		if r.State.Answered() {
			out.Answered = r.State
		}
		if a.Retracts != "" { // the retraction's own words, as its SMS
			// A call placed before the correction ended is answered
			// after it: the call-up is still withdrawn.
			out.Notice = true
			out.Live = out.Live || (a.Status == StatusStoodDown && !stoppedWrong(a))
			_, out.Language = correctionMessage(a, r.Language)
			a.standing = standingFor(tx, a, r.Person, nil)
			out.Text = markPurpose(a, r.Language, correctionWords(a, r.Language))
			return nil
		}
		var tmpl string
		tmpl, out.Language = voiceTemplate(l, r.Language)
		t, err := plans.CompileMessage(tmpl)
		if err != nil {
			return err
		}
		// The script's names are in the language it is written in: a
		// Chinese voice reads the Chinese ones, whoever it calls.
		spoken := r
		spoken.Language = out.Language
		d := MessageData(a, spoken, "")
		d.AckDeadline = plans.DeadlineText(l.AckDeadline, out.Language)
		lead := ""
		if reminded(r.State) {
			// The call-up SMS reached them and they have not answered:
			// the call says it is about that call-up, and how long is
			// left to answer it (RenderReminder), not the whole deadline.
			att, _, err := readAttempt(ad, []byte(person))
			if err != nil {
				return fmt.Errorf("attempt record of %s in %s: %w", person, act, err)
			}
			lead = reminderVoiceLead(out.Language)
			d.AckDeadline = plans.DeadlineText(timeLeft(answerBy(a, l, att.Reached), in.clock.Now()), out.Language)
		}
		if out.Text, err = t.Render(d); err != nil {
			return err
		}
		// A backup the chain called up hears whom they stand in for,
		// where and as what, as their SMS says it (rulesBackupStandsIn).
		standIn, err := standInOf(ad, r.Person)
		if err != nil {
			return err
		}
		if standIn != nil {
			lead += standInSentence(standIn, d.Roles, out.Language, false)
		}
		out.Text = markPurpose(a, r.Language, lead+out.Text)
		return nil
	})
	return out, err
}

// voiceTemplate is the template a call to someone speaking lang reads, and
// the language it is written in: the level's English voice text for an
// English speaker (or its English SMS when it has no voice text at all),
// the Chinese otherwise. A call reads Chinese text with a Chinese voice,
// whoever it goes to: an English voice cannot say it.
func voiceTemplate(l *plans.Level, lang plans.Language) (string, plans.Language) {
	if lang == plans.LangEN {
		if l.VoiceEN != "" {
			return l.VoiceEN, plans.LangEN
		}
		if l.Voice == "" && l.SMSEN != "" {
			return l.SMSEN, plans.LangEN
		}
	}
	if l.Voice != "" {
		return l.Voice, plans.LangZH
	}
	return l.SMS, plans.LangZH
}

// writtenIn is the language of text someone wrote (a retraction's
// message): Chinese if it has Chinese characters, else lang.
func writtenIn(text string, lang plans.Language) plans.Language {
	if strings.ContainsFunc(text, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
		return plans.LangZH
	}
	return lang
}
