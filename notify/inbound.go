package notify

import (
	"context"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
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
	batch    *batcher[InboundItem, InboundResult]
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
	in := &Inbound{apply: a, tokens: cfg.Tokens, exercise: map[string]bool{}, view: cfg.View}
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
	return res, err
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
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var out []InboundResult
	err = in.apply.Apply(ctx, &muster.Command{Type: CmdInbound, Actor: "webhook", Payload: payload}, &out)
	return out, err
}
