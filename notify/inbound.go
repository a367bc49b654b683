package notify

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// Inbound takes verified provider webhooks (delivery reports and SMS
// replies) on any node and proposes them in batches: many concurrent
// webhooks become a few raft entries. Submit returns once the item's batch
// is committed, so a webhook is answered 2xx only when it is durable and the
// provider retries anything else.
type Inbound struct {
	apply    Applier
	tokens   map[string]string
	exercise map[string]bool
	view     Viewer
	clock    muster.Clock
	batch    *batcher[InboundItem, InboundResult]
	voice    voiceCounts // what this node's voice webhooks recorded (VoiceCollector)
	// words holds the reply words of each call-up an SMS reply was
	// answered on (replyWords): activation ID → ReplyWords. A call-up's
	// plan version and level never change, so neither do its words, and a
	// reply is answered without reading and decoding its plan again.
	words sync.Map
}

// InboundConfig tunes the batching; zero fields take the defaults.
type InboundConfig struct {
	Batch    int           // items per raft entry; default 500
	Delay    time.Duration // longest an item waits for its batch; default 2ms
	Parallel int           // batches in flight at once; default 4
	// Tokens maps each provider account SID whose webhooks are taken to its
	// auth token, which signs them.
	Tokens map[string]string
	// View, when set, reads this node's own state so reports that cannot
	// change anything (a recipient already as far or further: the usual
	// "sent" after the send's result, replays) are answered without a raft
	// entry. States never move back, so a stale read is safe for this.
	View Viewer
	// Exercise lists the accounts of EXERCISE and TEST traffic: what comes
	// in on them concerns drills only, and what comes in on the others LIVE
	// call-ups only.
	Exercise []string
	// Clock tells a voice escalation call's script (VoiceScript) how long
	// is left to answer; default the system clock.
	Clock muster.Clock
}

// NewInbound starts an Inbound; Close stops it.
func NewInbound(a Applier, cfg InboundConfig) *Inbound {
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.Delay <= 0 {
		cfg.Delay = 2 * time.Millisecond
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 4
	}
	if cfg.Clock == nil {
		cfg.Clock = muster.SystemClock{}
	}
	in := &Inbound{apply: a, tokens: cfg.Tokens, exercise: map[string]bool{}, view: cfg.View, clock: cfg.Clock}
	for _, sid := range cfg.Exercise {
		in.exercise[sid] = true
	}
	in.batch = newBatcher(cfg.Batch, cfg.Delay, cfg.Parallel, in.flush)
	return in
}

// Submit applies one webhook item and returns what it did.
func (in *Inbound) Submit(ctx context.Context, it InboundItem) (InboundResult, error) {
	it.Exercise = in.exercise[it.Account]
	if res, ok := in.redundant(ctx, it); ok {
		return res, nil
	}
	res, err := in.batch.Do(ctx, it)
	res.Exercise = it.Exercise
	if err == nil {
		in.voice.count(it, res)
		if it.Kind == InboundReply {
			res.Words = in.replyWords(ctx, res.Activation, res.Language)
			if res.WaitingFirst != "" {
				res.WaitingWords = in.replyWords(ctx, res.WaitingFirst, res.Language)
			}
		}
		if it.Kind == InboundDigits && res.LiveWaiting {
			res.LiveWords = in.replyWords(ctx, res.LiveCallUp, res.Language)
		}
	}
	return res, err
}

// replyWords are the words the Chinese SMS of call-up act asks to be
// answered with (ReplyWordsOf its level's template), read from this
// node's state: zero for an English speaker (lang), without a call-up, or
// when it cannot be read.
func (in *Inbound) replyWords(ctx context.Context, act plans.ActivationID, lang plans.Language) ReplyWords {
	var w ReplyWords
	if in.view == nil || act == "" || lang == plans.LangEN {
		return w
	}
	if v, ok := in.words.Load(act); ok {
		return v.(ReplyWords)
	}
	_ = in.view.View(ctx, muster.Stale, func(tx *bolt.Tx) error {
		a, err := getActivation(tx, act)
		if err != nil {
			return nil
		}
		pv, err := plans.GetPlanVersion(tx, a.Plan, a.PlanVersion)
		if err != nil {
			return nil
		}
		if l := pv.Plan.Level(a.Level); l != nil {
			w = ReplyWordsOf(l.SMSTemplate(plans.LangZH))
		}
		in.words.Store(act, w) // read: kept (not when it could not be)
		return nil
	})
	return w
}

// AuthToken returns the auth token of a provider account whose webhooks
// are taken.
func (in *Inbound) AuthToken(accountSID string) (string, bool) {
	t, ok := in.tokens[accountSID]
	return t, ok && t != ""
}

// redundant reports whether a delivery report is already reflected in this
// node's state: the recipient's current attempt is at least as far along.
func (in *Inbound) redundant(ctx context.Context, it InboundItem) (InboundResult, bool) {
	if in.view == nil || it.Kind != InboundStatus {
		return InboundResult{}, false
	}
	to, progress := reportedProgress(it.Status)
	if !progress {
		return InboundResult{}, false
	}
	act, person, n, err := ParseAttemptID(it.Attempt)
	if err != nil {
		return InboundResult{}, false
	}
	var res InboundResult
	ok := false
	_ = in.view.View(ctx, muster.Stale, func(tx *bolt.Tx) error {
		ad := activationData(tx, act)
		if ad == nil {
			return nil
		}
		v := ad.Bucket(bRecipients).Get([]byte(person))
		if len(v) < 2 {
			return nil
		}
		st := stateOf(v[1])
		att, _, err := readAttempt(ad, []byte(person))
		if err != nil || n > att.N || rank(st) < rank(to) || st == StatePending {
			return nil
		}
		res, ok = InboundResult{Outcome: InboundUnchanged, Activation: act, Person: person, State: st}, true
		return nil
	})
	return res, ok
}

// Close applies what was submitted and stops.
func (in *Inbound) Close() { in.batch.Close() }

func (in *Inbound) flush(ctx context.Context, items []InboundItem) ([]InboundResult, error) {
	payload, err := json.Marshal(inboundBatch{Items: items})
	if err != nil {
		return nil, err
	}
	// A batch applied twice changes nothing the first time did not (each
	// reply is remembered by its SID, reports move states only forward),
	// so when the leader that took it is lost with it in hand the batch is
	// asked of the next one: answered with a failure, the provider would
	// not post it again by default, and a reply or result would be lost.
	// The deadline leaves the answer inside the provider's 15 s.
	ctx, cancel := context.WithTimeout(muster.Idempotent(ctx), inboundApplyTimeout)
	defer cancel()
	var out []InboundResult
	err = in.apply.Apply(ctx, &muster.Command{Type: CmdInbound, Actor: "webhook", Payload: payload}, &out)
	return out, err
}

// inboundApplyTimeout bounds the apply of a batch of webhooks: Twilio
// waits 15 s for an answer (its read timeout), and a webhook answered
// after that is taken as not answered.
const inboundApplyTimeout = 12 * time.Second

// Ending says how a call-up that no longer takes answers closed, for what
// is said back to a reply to it.
type Ending string

// Endings of a call-up.
const (
	EndedStoodDown Ending = "stood_down" // stood down: over
	EndedWithdrawn Ending = "withdrawn"  // retracted: sent in error
	EndedCorrected Ending = "corrected"  // retracted with a correction to follow
	// EndedForLive: a drill a LIVE call-up stood down that calls up the
	// sender too and is still active (rulesEndedForLive).
	EndedForLive Ending = "stopped_for_live"
)

// rulesEndedForLive is the behaviour (muster.Rules) from which a reply to
// a drill that a LIVE call-up stood down, from someone that LIVE call-up
// calls up and that is still active, is told so (EndedForLive): the drill
// stopped for a real call-up, which they answer on its own messages. Before,
// they were told the call-up had ended, minutes into a real emergency, and
// nothing of the real one waiting for their answer.
const rulesEndedForLive = 13

// rulesRepliesToEndedCallUps is the behaviour (muster.Rules) from which an
// SMS reply from a person with no open call-up is counted on their most
// recent call-up of the same account when that one closed (stood down or
// retracted) within endedReplyWindow of the reply: the result names it and
// how it ended, so the sender is told their reply was not recorded. Under
// older rules such a reply got no answer at all, which for the sender looks
// the same as an accepted 1.
const rulesRepliesToEndedCallUps = 10

// endedReplyWindow is how long after a call-up closed a reply to it is
// still answered with the call-up's end; endedLookBack is how many of the
// newest activations are looked through for it.
const (
	endedReplyWindow = 24 * time.Hour
	endedLookBack    = 32
)

// endedCallUp finds the call-up a reply from person, who has no open one
// on the account (exercise), was meant for: the newest of the endedLookBack
// newest activations that called them up with that account's messages
// (corrections aside). It returns nil when there is none, or when it closed
// longer than endedReplyWindow before now, or is still open. It reads at
// most endedLookBack activations, whatever the history holds.
func endedCallUp(tx *bolt.Tx, acts actCache, person plans.PersonID, exercise bool, now time.Time, forLive bool) (*actTx, Ending, error) {
	ab := tx.Bucket(bActivations)
	if ab == nil {
		return nil, "", nil
	}
	looked := 0
	for k := range muster.Backward(ab) {
		if looked++; looked > endedLookBack {
			break
		}
		id := plans.ActivationID(k)
		ad := activationData(tx, id)
		if ad == nil || ad.Bucket(bRecipients).Get([]byte(person)) == nil {
			continue
		}
		at, err := acts.get(tx, id)
		if err != nil {
			return nil, "", err
		}
		if at.a.Purpose.Drill() != exercise || at.a.Retracts != "" {
			continue
		}
		a := at.a
		closed, how := a.StoodDownAt, EndedStoodDown
		if ret := a.Retraction; ret != nil {
			closed, how = ret.At, EndedWithdrawn
			if ret.Correct {
				how = EndedCorrected
			}
		}
		if a.Status != StatusStoodDown && a.Retraction == nil || closed.IsZero() || now.Sub(closed) > endedReplyWindow {
			return nil, "", nil // their latest call-up is not one that just ended
		}
		if forLive && how == EndedStoodDown && a.StoppedBy != "" {
			live, err := acts.get(tx, a.StoppedBy)
			if err != nil && !muster.IsCode(err, muster.ENotFound) {
				return nil, "", err
			}
			if err == nil && live.a.Status == StatusActive && live.rb.Get([]byte(person)) != nil {
				how = EndedForLive
			}
		}
		return at, how, nil
	}
	return nil, "", nil
}

// rulesDeclineReasonAsked is the behaviour (muster.Rules) from which an
// SMS decline without a reason (a bare 2) is answered with a request for
// it (InboundResult.AskReason), and the sender's next SMS to the same
// call-up that says something is kept as that decline's reason
// (lateReason), not as a note. Before, the call-up asked for the reason,
// the answer did not, and a reason sent after it arrived as a note: the
// decline showed none.
const rulesDeclineReasonAsked = 13

// asksReason reports whether res, what reply did to a call-up, recorded a
// decline that gave no reason (rulesDeclineReasonAsked): its sender is
// asked for one.
func asksReason(c *muster.Command, res InboundResult, reply Reply) bool {
	return c.RulesAtLeast(rulesDeclineReasonAsked) && res.Outcome == InboundApplied && reply.Kind == ReplyDecline &&
		strings.TrimSpace(reply.Reason) == ""
}

// lateReason is the reason an SMS reply (reply, parsed from body) gives
// for r's decline, which gave none (rulesDeclineReasonAsked): a note's
// whole text, or a decline's reason (2 and the reason, sent again). ok is
// false for anything else: r did not decline, or gave a reason already;
// the reply says nothing (an MMS with only a picture), asks to
// unsubscribe, accepts, or was taken for a 叫应 report.
func lateReason(c *muster.Command, r Recipient, att Attempt, reply Reply, toReport bool, body string) (reason string, ok bool) {
	if !c.RulesAtLeast(rulesDeclineReasonAsked) || r.State != StateDeclined || strings.TrimSpace(att.Reason) != "" || toReport || OptOut(body) {
		return "", false
	}
	switch reply.Kind {
	case ReplyNote, ReplyDecline:
		reason = strings.TrimSpace(reply.Reason)
	}
	return reason, reason != ""
}

// rulesReasonToItsDecline is the behaviour (muster.Rules) from which a
// reason that follows a bare 2 goes to the call-up declined, which asked
// for it (reasonAsker), when the reply reaches another of the sender's
// call-ups: someone who answered 1 to a newer call-up, then a bare 2 to an
// older one of another plan, sends the reason, and a reply after all their
// call-ups were answered reaches the newest. Before, the reason was kept as
// a note on the newer call-up, its sender told 以第一次回复为准, and the
// decline showed none. The window is lateReason's: the decline has no
// reason yet and is still open.
const rulesReasonToItsDecline = 13

// reasonAsker finds, for a reply from person that reached at, a call-up
// they answered, the call-up that asked them for a reason: among their
// open call-ups of at's purpose whose message reached them (at and
// otherCallUps), the one whose answer came last, when it is not at and
// that answer is a decline with no reason (asksReason: when they declined
// it, no other call-up of theirs waited for an answer). It returns nil
// otherwise, also when one of them still waits for their answer.
func reasonAsker(tx *bolt.Tx, acts actCache, at *actTx, person plans.PersonID, exercise bool) (*actTx, Recipient, Attempt, error) {
	_, att, err := at.recipient(person)
	if err != nil {
		return nil, Recipient{}, Attempt{}, err
	}
	others, err := otherCallUps(tx, acts, at, person, exercise)
	if err != nil {
		return nil, Recipient{}, Attempt{}, err
	}
	latest := att.Answered
	var asker *actTx
	var ar Recipient
	var aatt Attempt
	for _, o := range others {
		if !o.answered {
			return nil, Recipient{}, Attempt{}, nil
		}
		r, att, err := o.at.recipient(person)
		if err != nil {
			return nil, Recipient{}, Attempt{}, err
		}
		if att.Answered.After(latest) {
			latest, asker, ar, aatt = att.Answered, o.at, r, att
		}
	}
	if asker == nil || ar.State != StateDeclined || strings.TrimSpace(aatt.Reason) != "" {
		return nil, Recipient{}, Attempt{}, nil
	}
	return asker, ar, aatt, nil
}

// keepReason keeps reason, from the SMS reply body, as the reason of r's
// decline of at: counted among their replies to it (what is said back
// stays bounded), not kept as a note.
func keepReason(at *actTx, c *muster.Command, r Recipient, att Attempt, reason, body string) (InboundResult, error) {
	att.Replies++
	att.LastBody = truncate(body, 500)
	att.Updated = c.Time
	att.Reason = truncate(reason, 500)
	res := InboundResult{Outcome: InboundApplied, Activation: at.a.ID, Person: r.Person, Reply: ReplyNote, Language: r.Language,
		State: r.State, Replies: att.Replies, ReasonKept: true}
	return res, at.putAttempt(r.Person, att)
}

// countEndedReply counts a reply from person to at, a call-up that has
// ended (endedCallUp), in their attempt record, so what is said back is
// bounded as for an open call-up's replies, and returns the outcome: no
// open call-up, naming at and how it ended.
func countEndedReply(at *actTx, c *muster.Command, person plans.PersonID, how Ending) (InboundResult, error) {
	r, att, err := at.recipient(person)
	if err != nil {
		return InboundResult{}, err
	}
	att.Replies++
	res := InboundResult{Outcome: InboundNoCallUp, Activation: at.a.ID, Person: person, Language: r.Language, State: r.State,
		Replies: att.Replies, Ended: how}
	return res, at.putAttempt(person, att)
}
