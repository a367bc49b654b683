package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/time/rate"

	"muster"
	"muster/plans"
)

// Caller places voice calls (Twilio implements it).
type Caller interface {
	PlaceCall(ctx context.Context, c Call) (Placed, error)
}

// CallEnder ends calls placed earlier (Twilio implements it): a
// retraction's correction ends the original's calls before it calls.
type CallEnder interface {
	EndCall(ctx context.Context, providerID string, last CallStatus) (CallEnd, error)
}

// CallEnd is what a call ended by CallEnder is at the provider: its status
// after the update, and whether it had been dialled (it has a start time),
// which its status reports may not have told yet.
type CallEnd struct {
	Status  CallStatus
	Dialled bool
}

// VoiceRoute is how the calls of one purpose go out: the provider account
// that places them and its rate.
type VoiceRoute struct {
	Name      string
	Account   string
	Caller    Caller
	PerSecond float64
	Exercise  bool // the EXERCISE/TEST account: only drill calls may use it, and drill calls only it
}

// EscalatorConfig configures the escalation service.
type EscalatorConfig struct {
	Clock muster.Clock
	// Tick is how often due steps and queued items are looked for.
	Tick time.Duration
	// SMS routes (the dispatcher's) and voice routes, per purpose. A
	// missing voice route leaves voice items queued, and says so in the log.
	Live, Exercise           *Route
	LiveVoice, ExerciseVoice *VoiceRoute
	// PublicURL is the base of the voice webhooks Twilio calls back on and
	// of the answer links in the call-up SMS it sends again (as the
	// dispatcher's); empty, those messages carry no link.
	PublicURL string
	// Zone is the time zone of the clock times a reminder (the sms step)
	// names; default Asia/Shanghai, as corrections and approval notices.
	Zone *time.Location
	// Batch bounds the items claimed per activation per tick; Workers the
	// sends in flight, for LIVE activations and for drills each.
	Batch, Workers int
	// FireChunk bounds the people one escalation.fire looks at (a raft
	// entry; rulesFireInChunks): recipients, and for a superior step the
	// roster's people read to find superiors and the people its reports
	// name. Default FireChunk.
	FireChunk int
	// ReportEvery is how often, at most, a superior step is caught up for
	// the recipients on escalation clocks of their own (sent after the
	// chain began): their silence is gathered into one report per superior
	// and round instead of one for every person. Default 1 minute.
	ReportEvery time.Duration
	// CorrectionWait bounds how long a correction's call to someone waits
	// for the retracted call-up's calls to them to end (the escalator ends
	// them first: see Escalator); after it the correction call goes
	// whatever became of them. Default 2 minutes.
	CorrectionWait time.Duration
	// Backoff and MaxBackoff space the attempts of a message or call that
	// failed for now, as the dispatcher's (DispatcherConfig): attempt n+1
	// waits Backoff·2ⁿ⁻¹, at most MaxBackoff, with jitter (or the
	// provider's Retry-After when longer). An item has 3 attempts, or
	// MaxOutageAttempts when its last failed for an outage of the provider
	// account (5xx, no answer, the account refused): a reminder or 叫应
	// report outlives an incident of some minutes (rulesEscalationBackoff;
	// under older rules it is queued again at once and has 3 attempts
	// whatever failed). Defaults as the dispatcher's: 2s, 5m and 12,
	// about 12 to 23 minutes from the first attempt.
	Backoff, MaxBackoff time.Duration
	MaxOutageAttempts   int
	Logger              *slog.Logger
}

func (c *EscalatorConfig) setDefaults() {
	if c.Clock == nil {
		c.Clock = muster.SystemClock{}
	}
	if c.Tick <= 0 {
		c.Tick = time.Second
	}
	if c.Zone == nil {
		c.Zone = correctionZone()
	}
	if c.Batch <= 0 {
		c.Batch = 256
	}
	if c.Workers <= 0 {
		c.Workers = 32
	}
	if c.FireChunk <= 0 {
		c.FireChunk = FireChunk
	}
	if c.ReportEvery <= 0 {
		c.ReportEvery = time.Minute
	}
	if c.CorrectionWait <= 0 {
		c.CorrectionWait = 2 * time.Minute
	}
	if c.Backoff <= 0 {
		c.Backoff = defaultBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = defaultMaxBackoff
	}
	if c.MaxOutageAttempts <= 0 {
		c.MaxOutageAttempts = defaultOutageAttempts
	}
	c.MaxOutageAttempts = max(c.MaxOutageAttempts, escalationAttempts)
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// EscalatorStats counts what the escalator did on this node.
type EscalatorStats struct {
	Fired int64 `json:"fired"` // steps this node's escalator fired (not those found already fired)
	// CaughtUp counts the steps done for recipients on clocks of their own
	// (sent after the chain began) by this node's catch-ups.
	CaughtUp int64 `json:"caught_up"`
	Sent     int64 `json:"sent"`   // messages accepted and calls placed
	Failed   int64 `json:"failed"` // attempts that failed
	Runs     int64 `json:"runs"`   // terms as leader
	// FireChunks counts the escalation.fire commands this node's escalator
	// proposed: one per chunk of a step (rulesFireInChunks).
	FireChunks int64 `json:"fire_chunks"`
	// LongestFireMillis is the longest one of them took to commit and
	// apply, in milliseconds: while a chunk is applied no other entry is.
	LongestFireMillis int64 `json:"longest_fire_ms"`
	// Calls counts the voice calls the provider accepted to place (in
	// Sent too); CallsNotPlaced the attempts to place one it refused or
	// failed (in Failed too; a temporary failure is tried again).
	Calls          int64 `json:"calls"`
	CallsNotPlaced int64 `json:"calls_not_placed"`
}

// Escalator fires due escalation steps and sends what they queue. It is a
// leader-only service: each tick it reads the replicated state, proposes
// escalation.fire for every step that is due and has not fired (the FSM
// makes firing a step twice a no-op, so a new leader fires exactly the
// steps still due), then claims queued items, sends them and commits their
// results. Items a dead leader left in sending are sent again in the next
// term's first tick.
//
// A correction's call to someone never rings while a call of the call-up
// it retracts may still ring or talk to them: the escalator first ends
// those calls (cancels the queued and ringing, hangs up those in
// progress) and places the correction call once Twilio says they are
// over. A call it cannot end (still being placed, or Twilio refusing for
// now) holds the correction call, queued, until its end is reported or
// CorrectionWait has passed since the retraction. When every such call it
// ended was canceled before it was dialled (nothing but its being queued
// reported), or the calls ended busy or failed, the call-up's call never
// reached the person: it asks the state to take the correction call off
// (correction.uncall) instead.
// Once a correction has nothing more to get out, the escalator ends it
// (correction.end).
//
// A call-up stood down (not retracted) has its calls still queued or
// ringing canceled, for CorrectionWait after the stand-down: a call picked
// up is left to say the call-up has ended (watchStopped, cancelStopped).
type Escalator struct {
	apply     Applier
	view      Viewer
	cfg       EscalatorConfig
	sms       map[bool]*routeState // by Exercise
	voice     map[bool]*VoiceRoute
	voiceLim  map[bool]*rate.Limiter
	voiceHold map[bool]*hold // the voice account throttled

	fired, caughtUp, sent, failed, runs, fireChunks atomic.Int64
	calls, callsNotPlaced                           atomic.Int64
	longestFire                                     atomic.Int64 // ns
	key                                             answerKeyCache
	noRoute                                         activationLog // queued escalations without a provider
	sendFails                                       activationLog // escalation messages and calls that failed
}

// activationLogEvery is how often the escalator warns, per activation,
// of one thing: that queued escalations have no provider to go out on
// (met on every pass, about each second, for as long as the call-up is
// open: on a node restored without a LIVE account, docs/operations.md,
// that was a warning a second), or that its messages or calls fail.
const activationLogEvery = time.Minute

// activationLog lets a warning of each activation through at most once
// per activationLogEvery and counts those held back since.
type activationLog struct {
	mu   sync.Mutex
	next map[plans.ActivationID]time.Time
	held map[plans.ActivationID]int
}

// allow reports whether to warn about activation id at now, and how many
// passes were held back since the last warning.
func (l *activationLog) allow(id plans.ActivationID, now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.next == nil {
		l.next, l.held = map[plans.ActivationID]time.Time{}, map[plans.ActivationID]int{}
	}
	if now.Before(l.next[id]) {
		l.held[id]++
		return false, 0
	}
	l.next[id] = now.Add(activationLogEvery)
	held := l.held[id]
	delete(l.held, id)
	return true, held
}

// NewEscalator returns an escalator over a replicated state.
func NewEscalator(a Applier, v Viewer, cfg EscalatorConfig) *Escalator {
	cfg.setDefaults()
	e := &Escalator{apply: a, view: v, cfg: cfg, sms: map[bool]*routeState{}, voice: map[bool]*VoiceRoute{}, voiceLim: map[bool]*rate.Limiter{}, voiceHold: map[bool]*hold{}}
	if cfg.Live != nil {
		e.sms[false] = newRouteState(cfg.Live)
	}
	if cfg.Exercise != nil {
		e.sms[true] = newRouteState(cfg.Exercise)
	}
	for drill, v := range map[bool]*VoiceRoute{false: cfg.LiveVoice, true: cfg.ExerciseVoice} {
		if v != nil {
			e.voice[drill], e.voiceLim[drill], e.voiceHold[drill] = v, limiter(v.PerSecond), &hold{}
		}
	}
	return e
}

// Stats returns the escalator's counters.
func (e *Escalator) Stats() EscalatorStats {
	return EscalatorStats{Fired: e.fired.Load(), CaughtUp: e.caughtUp.Load(), Sent: e.sent.Load(), Failed: e.failed.Load(), Runs: e.runs.Load(),
		FireChunks: e.fireChunks.Load(), LongestFireMillis: time.Duration(e.longestFire.Load()).Milliseconds(),
		Calls: e.calls.Load(), CallsNotPlaced: e.callsNotPlaced.Load()}
}

// Run escalates until ctx ends (leadership lost or node closing). LIVE
// activations and drills escalate in loops of their own: a drill's calls
// waiting on its exercise account's limit never hold up a LIVE
// escalation.
func (e *Escalator) Run(ctx context.Context) {
	e.runs.Add(1)
	var wg sync.WaitGroup
	for _, drill := range []bool{false, true} {
		wg.Go(func() { e.run(ctx, drill) })
	}
	wg.Wait()
}

// run escalates the drills (drill) or the LIVE activations until ctx ends.
func (e *Escalator) run(ctx context.Context, drill bool) {
	// The first tick of a term re-sends what an earlier leader left in flight.
	loop := &escLoop{drill: drill, orphans: true, clocks: map[plans.ActivationID]*clockScan{}, cursors: map[plans.ActivationID][]byte{}}
	t := time.NewTicker(e.cfg.Tick)
	defer t.Stop()
	for {
		more, err := e.tick(ctx, loop)
		if err != nil {
			if ctx.Err() != nil || muster.IsCode(err, muster.ENotLeader) {
				return
			}
			e.cfg.Logger.Warn("escalator: tick failed", "err", err)
		} else if !more {
			loop.orphans = false // every queue was read to its end
		}
		if more && err == nil && ctx.Err() == nil {
			continue // a full batch went out: the next one goes now, not at the next tick
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// escLoop is what one escalation loop, for the drills or for the LIVE
// activations, keeps between its ticks in one term.
type escLoop struct {
	drill   bool
	orphans bool // re-send items left in sending
	clocks  map[plans.ActivationID]*clockScan
	// cursors is where each activation's next read of its queued items
	// starts (escalationWork): after the last item it took.
	cursors map[plans.ActivationID][]byte
	// endAfter is when a correction with nothing left to get out is next
	// proposed for correction.end, after the cluster's rules were found to
	// predate it.
	endAfter time.Time
	// unchunked are the steps begun in chunks that the cluster, its rules
	// now before rulesFireInChunks (a member of an older muster joined),
	// takes as fired, with when to propose them again: every
	// unchunkedRetry, not every tick, which would be an entry a tick for
	// nothing; once the rules are back the step goes on.
	unchunked map[escStep]time.Time
	// open are the call-ups open at the last look (nil before the term's
	// first), stopped those stood down whose calls it cancels
	// (watchStopped, cancelStopped).
	open    map[plans.ActivationID]bool
	stopped map[plans.ActivationID]*stoppedCalls
}

// unchunkedRetry is how often a step begun in chunks that the cluster's
// rules took as fired is proposed again.
const unchunkedRetry = time.Minute

// escStep is one step of one activation's chain.
type escStep struct {
	a    plans.ActivationID
	step int
}

// clockScan is what the last read of an activation's escalation clocks
// found: the clocks running then and when the next one is due. The clocks
// are read again when their number changed or that time came.
type clockScan struct {
	n        int64
	next     time.Time
	reported time.Time // when a superior step was last caught up
}

// escWork is one activation's due steps, due catch-ups and claimable items.
type escWork struct {
	a       Activation
	level   *plans.Level
	due     []int
	after   map[int]plans.PersonID // a due step begun in chunks: the recipient it goes on after
	catchUp []plans.PersonID       // on clocks of their own, with a step due
	reports bool                   // a superior step is among those caught up
	refs    []EscalationRef
	next    []byte                    // where the next read of the queue starts (escalationWork)
	items   map[string]EscalationItem // by item key
	recs    map[plans.PersonID]Recipient
	// reached is, for the people of queued reminders (the sms step), when
	// the call-up SMS reached them, where a report said so: the time they
	// were asked to answer by counts from it (answerBy).
	reached map[plans.PersonID]time.Time
	// live lists, for a correction, the calls of the call-up it retracts
	// that may not have ended, to the people of its queued calls.
	live map[plans.PersonID][]liveCall
	// unrung lists, for a correction, the SIDs of the calls of the call-up
	// it retracts that ended busy or failed, to the people of its queued
	// calls whose other calls are over and neither may have reached them
	// nor rang after the retraction (rangSince).
	unrung map[plans.PersonID][]string
	// done is set on a correction with nothing left to get out: every SMS
	// has its delivery outcome and every call is over.
	done bool
}

// liveCall is a call of a retracted call-up that may not have ended: its
// SID ("" while it is being placed) and the status last reported of it.
type liveCall struct {
	SID    string
	Status CallStatus
}

// notEnded reports whether a voice escalation item's call may not have
// ended: it is being placed, or it was placed and no final status came.
func notEnded(it EscalationItem) (liveCall, bool) {
	st := callStatus(it)
	switch {
	case it.Channel != ChannelVoice:
	case it.State == EscSending:
		return liveCall{}, true
	case it.State == EscSent && !st.Final():
		return liveCall{SID: it.SID, Status: st}, true
	}
	return liveCall{}, false
}

// liveOriginalCalls fills w.live and w.unrung for w, a correction: the
// calls of the call-up it retracts, to the people of its queued calls,
// that may not have ended, and those that ended busy or failed when
// nothing else of it rang them.
func liveOriginalCalls(tx *bolt.Tx, w *escWork) error {
	od := activationData(tx, w.a.Retracts)
	if od == nil || od.Bucket(bEscQueue) == nil {
		return nil
	}
	q := od.Bucket(bEscQueue)
	steps := len(EscalationSteps(w.level, w.a.Roles)) // the original's: same plan version, level and slots
	for _, it := range w.items {
		if it.Step != CorrectionCallStep || it.State != EscQueued {
			continue
		}
		var ended []string
		rang := false
		for i := range steps {
			orig, ok, err := getEscItem(q, escItemKey(i, it.Person, 0))
			if err != nil || !ok || orig.Channel != ChannelVoice {
				if err != nil {
					return err
				}
				continue
			}
			if c, live := notEnded(orig); live {
				w.live[it.Person] = append(w.live[it.Person], c)
				continue
			}
			switch {
			case orig.State == EscSent && endedUnrung(callStatus(orig)):
				ended = append(ended, orig.SID)
			case rangSince(orig, w.a.StartedAt):
				rang = true
			}
		}
		if len(ended) > 0 && !rang && len(w.live[it.Person]) == 0 {
			w.unrung[it.Person] = ended
		}
	}
	return nil
}

// catchUpBatch bounds the recipients of one escalation.catchup.
const catchUpBatch = 512

// tick does one round for the drills or the LIVE activations, the most
// severe level first: fire due steps, then catch up the recipients on
// clocks of their own, then send queued items, a batch per activation.
// more is set when an activation's queue was not read to its end (a full
// batch was taken) and that batch went out: the next round should come at
// once.
func (e *Escalator) tick(ctx context.Context, loop *escLoop) (more bool, err error) {
	work, err := e.look(ctx, loop)
	if err != nil {
		return false, err
	}
	if err := e.cancelStopped(ctx, loop); err != nil {
		return false, err
	}
	for _, w := range work {
		// The activation's steps first: they leave out those on clocks of
		// their own, and a catch-up may end a clock (its last step done)
		// that a step fired after it would then count in again.
		for _, step := range w.due {
			res, err := e.fire(ctx, w, step)
			if err != nil {
				return false, err
			}
			if _, begun := w.after[step]; begun && res.Already {
				if loop.unchunked == nil {
					loop.unchunked = map[escStep]time.Time{}
				}
				loop.unchunked[escStep{w.a.ID, step}] = e.cfg.Clock.Now().Add(unchunkedRetry)
				e.cfg.Logger.Warn("escalation step begun in chunks cannot go on: a member runs a muster whose rules predate chunks and takes the step as fired, so the recipients after its last chunk are not escalated by it; upgrade that member (muster cluster status shows each member's rules); the step is tried again every minute",
					"activation", w.a.ID, "step", step, "after", w.after[step])
			}
			if !res.Already {
				delete(loop.unchunked, escStep{w.a.ID, step}) // going on, the rules back
			}
			if !res.Already && !res.Stopped {
				e.fired.Add(1)
				e.cfg.Logger.Info("escalation step fired", "activation", w.a.ID, "step", step, "silent", res.Silent, "queued", res.Queued, "backups", res.Added, "on_own_clock", res.Clocked)
				if res.Unreached > 0 {
					why := "no 网格长 in their grid, no one in the command slot, no 网格长 or 值班领导 above them"
					if w.level == nil {
						// no level read: the cause is said for both kinds
						why = "no backup, or no 网格长, command slot or 值班领导 above them"
					} else if steps := EscalationSteps(w.level, w.a.Roles); step < len(steps) && steps[step].Do == plans.EscalateBackup {
						why = "no backup named for them"
					}
					e.cfg.Logger.Warn("escalation step reached no one for silent people: "+why+"; they are not escalated",
						"activation", w.a.ID, "step", step, "people", res.Unreached)
				}
			}
		}
		if err := e.catchUp(ctx, loop, w); err != nil {
			return false, err
		}
	}
	if len(work) > 0 && anyDue(work) {
		// What the steps queued is read on the next look.
		if work, err = e.look(ctx, loop); err != nil {
			return false, err
		}
	}
	for _, w := range work {
		if w.done {
			if err := e.endCorrection(ctx, loop, w); err != nil {
				return false, err
			}
			continue
		}
		sent, err := e.send(ctx, w)
		if err != nil {
			return false, err
		}
		loop.cursors[w.a.ID] = w.next
		// Only a batch that went out calls for the next at once: one of
		// items that cannot go (no route, the provider refusing for now)
		// waits for the tick, as does the end of the queue.
		more = more || (w.next != nil && sent > 0)
	}
	return more, nil
}

// fire fires step of w's activation in chunks of FireChunk recipients,
// each its own raft entry (rulesFireInChunks: under older rules the first
// is the whole step), from where an earlier leader left it, and sums what
// they did.
func (e *Escalator) fire(ctx context.Context, w *escWork, step int) (FireResult, error) {
	var all FireResult
	after := w.after[step]
	for chunk := 0; ; chunk++ {
		var res FireResult
		p, _ := json.Marshal(escalationFire{Activation: w.a.ID, Step: step, Limit: e.cfg.FireChunk, After: after})
		start := time.Now()
		if err := e.apply.Apply(ctx, &muster.Command{Type: CmdEscalationFire, Actor: "escalator", Payload: p}, &res); err != nil {
			return all, fmt.Errorf("fire step %d of %s (chunk %d): %w", step, w.a.ID, chunk+1, err)
		}
		took := int64(time.Since(start))
		for old := e.longestFire.Load(); took > old && !e.longestFire.CompareAndSwap(old, took); old = e.longestFire.Load() {
		}
		e.fireChunks.Add(1)
		if chunk == 0 {
			all.Already = res.Already
		}
		all.Stopped = res.Stopped
		all.Silent, all.Queued, all.Added, all.Clocked = all.Silent+res.Silent, all.Queued+res.Queued, all.Added+res.Added, all.Clocked+res.Clocked
		all.Spared, all.Unreached = all.Spared+res.Spared, all.Unreached+res.Unreached
		if res.Next == "" || res.Stopped || res.Already || ctx.Err() != nil {
			return all, ctx.Err()
		}
		after = res.Next
	}
}

func anyDue(work []*escWork) bool {
	for _, w := range work {
		if len(w.due) > 0 || len(w.catchUp) > 0 {
			return true
		}
	}
	return false
}

// catchUp does the due steps of w's recipients on clocks of their own.
func (e *Escalator) catchUp(ctx context.Context, loop *escLoop, w *escWork) error {
	if len(w.catchUp) == 0 {
		return nil
	}
	var all FireResult
	for people := range slices.Chunk(w.catchUp, catchUpBatch) {
		var res FireResult
		p, _ := json.Marshal(escalationCatchUp{Activation: w.a.ID, People: people})
		// Ignorable: a member whose muster predates catch-ups skips it, as
		// the others do under the older rules the leader then stamps.
		if err := e.apply.Apply(ctx, &muster.Command{Type: CmdEscalationCatchUp, Actor: "escalator", Payload: p, Ignorable: true}, &res); err != nil {
			return fmt.Errorf("catch up escalation of %s: %w", w.a.ID, err)
		}
		if res.Older {
			loop.clocks[w.a.ID].next = e.cfg.Clock.Now().Add(time.Minute) // not before the cluster's rules rise
			return nil
		}
		all.Silent, all.Queued, all.Added, all.Ended = all.Silent+res.Silent, all.Queued+res.Queued, all.Added+res.Added, all.Ended+res.Ended
		all.Waiting += res.Waiting
		all.Unreached += res.Unreached
	}
	cs := loop.clocks[w.a.ID]
	cs.next = time.Time{} // read them again: their next steps are due later
	if all.Waiting > 0 {
		cs.next = e.cfg.Clock.Now().Add(5 * time.Second) // their SMS is sent again first
	}
	if w.reports {
		cs.reported = e.cfg.Clock.Now()
	}
	e.caughtUp.Add(int64(all.Silent))
	if all.Silent > 0 {
		e.cfg.Logger.Info("escalation caught up", "activation", w.a.ID, "people", len(w.catchUp), "steps", all.Silent, "queued", all.Queued, "backups", all.Added, "clocks_ended", all.Ended)
	}
	if all.Unreached > 0 {
		e.cfg.Logger.Warn("escalation steps caught up reached no one for silent people (a backup step: no backup named for them; a superior step: no 网格长 in their grid, no one in the command slot, no 网格长 or 值班领导 above them); they are not escalated",
			"activation", w.a.ID, "people", all.Unreached)
	}
	return nil
}

// look reads the due steps, due catch-ups and queued items of every open
// drill or LIVE activation (as loop is for), most severe level first, then
// in ID order. A correction has only queued items: the calls its
// retraction queued.
func (e *Escalator) look(ctx context.Context, loop *escLoop) ([]*escWork, error) {
	drill, orphans := loop.drill, loop.orphans
	now := e.cfg.Clock.Now()
	var out []*escWork
	looked := map[plans.ActivationID]bool{} // whose clocks were read
	open := map[plans.ActivationID]bool{}
	err := e.view.View(ctx, muster.Stale, func(tx *bolt.Tx) error {
		ids := openActivations(tx)
		if err := e.watchStopped(tx, loop, ids, now); err != nil {
			return err
		}
		for _, id := range ids {
			a, err := getActivation(tx, id)
			if err != nil {
				return err
			}
			if a.Status != StatusActive || a.Purpose.Drill() != drill {
				continue
			}
			pv, err := plans.GetPlanVersion(tx, a.Plan, a.PlanVersion)
			if err != nil {
				return err
			}
			w := &escWork{a: a, level: pv.Plan.Level(a.Level), items: map[string]EscalationItem{}, recs: map[plans.PersonID]Recipient{},
				reached: map[plans.PersonID]time.Time{}, live: map[plans.PersonID][]liveCall{}, unrung: map[plans.PersonID][]string{}, after: map[int]plans.PersonID{}}
			if w.level == nil {
				continue
			}
			ad := activationData(tx, id)
			if a.Retracts == "" { // a correction has no chain, only the calls its retraction queued
				fired, begun := firedSteps(ad), firingSteps(ad)
				steps := EscalationSteps(w.level, a.Roles)
				for i, s := range steps {
					if after, ok := begun[i]; ok {
						if until, ok := loop.unchunked[escStep{id, i}]; !ok || !now.Before(until) {
							w.due = append(w.due, i) // begun in chunks, not done: it goes on
							w.after[i] = after
						}
					} else if _, ok := fired[i]; !ok && !now.Before(a.Start().Add(time.Duration(s.After))) {
						w.due = append(w.due, i)
					}
				}
				looked[id] = true
				e.dueClocks(loop, ad, w, steps, now)
			}
			refs, items, next, err := escalationWork(ad, id, orphans, e.cfg.Batch, loop.cursors[id], now)
			if err != nil {
				return err
			}
			w.refs, w.next = refs, next
			open[id] = true
			for _, it := range items {
				w.items[string(it.key())] = it
				if it.Action == plans.EscalateSMS || it.Action == plans.EscalateVoice {
					if v := ad.Bucket(bRecipients).Get([]byte(it.Person)); v != nil {
						r, err := decodeRecipient([]byte(it.Person), v)
						if err != nil {
							return err
						}
						// A backup's reminder says whom they stand in for,
						// as their call-up did (renderCallUp).
						if r.BackupFor, err = standInOf(ad, it.Person); err != nil {
							return err
						}
						w.recs[it.Person] = r
					}
					if it.Action == plans.EscalateSMS && it.Text == "" {
						att, _, err := readAttempt(ad, []byte(it.Person))
						if err != nil {
							return fmt.Errorf("attempt record of %s in %s: %w", it.Person, id, err)
						}
						w.reached[it.Person] = att.Reached
					}
				}
			}
			if a.Retracts != "" && len(w.refs) > 0 {
				if err := liveOriginalCalls(tx, w); err != nil {
					return err
				}
			}
			if a.Retracts != "" && len(w.refs) == 0 && !now.Before(loop.endAfter) {
				sms, calls, err := correctionToGo(ad, now, true)
				if err != nil {
					return err
				}
				w.done = sms+calls == 0
			}
			if len(w.due) > 0 || len(w.catchUp) > 0 || len(w.refs) > 0 || w.done {
				out = append(out, w)
			}
		}
		return nil
	})
	if err == nil {
		maps.DeleteFunc(loop.clocks, func(id plans.ActivationID, _ *clockScan) bool { return !looked[id] }) // stopped since
		maps.DeleteFunc(loop.cursors, func(id plans.ActivationID, _ []byte) bool { return !open[id] })
	}
	slices.SortFunc(out, func(x, y *escWork) int { return severity(x.a, y.a) })
	return out, err
}

// dueClocks lists in w the recipients of w's activation on clocks of their
// own whose next step is due at now, when the clocks' number changed since
// the last read, one was due by then, or a clock started since could be.
// A superior step waits for its report round (ReportEvery after the last);
// a recipient whose SMS is being sent again waits for it.
func (e *Escalator) dueClocks(loop *escLoop, ad *bolt.Bucket, w *escWork, steps []plans.EscalationStep, now time.Time) {
	n := counterValue(ad.Bucket(bCounters), dispatchCounter+escClockCounter)
	cs := loop.clocks[w.a.ID]
	if cs == nil {
		cs = &clockScan{}
		loop.clocks[w.a.ID] = cs
	}
	if n == 0 || len(steps) == 0 || (n == cs.n && !cs.next.IsZero() && now.Before(cs.next)) {
		cs.n = n
		return
	}
	cs.n, cs.next = n, now.Add(time.Hour)
	soon := func(t time.Time) {
		if t.Before(cs.next) {
			cs.next = t
		}
	}
	// The number can stay as it was when clocks end and as many start in
	// one command. A clock started after this read is due no sooner than
	// a tenth of the first step's after from now (a clock started late,
	// at the first step's full after; one started at the first step, for
	// someone reached just before it, by more than a tenth of it): read
	// them again by then.
	first := time.Duration(steps[0].After)
	for _, st := range steps {
		first = min(first, time.Duration(st.After))
	}
	soon(now.Add(first / 10))
	clocks, rb := ad.Bucket(bEscClock), ad.Bucket(bRecipients)
	if clocks == nil {
		return
	}
	reportAt := time.Time{}
	if !cs.reported.IsZero() {
		reportAt = cs.reported.Add(e.cfg.ReportEvery)
	}
	c := clocks.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		start, next, ok := readClock(v)
		if !ok {
			continue
		}
		if next < len(steps) {
			due := start.Add(time.Duration(steps[next].After))
			report := steps[next].Do == plans.EscalateSuperior
			if report && due.Before(reportAt) {
				due = reportAt
			}
			if now.Before(due) {
				soon(due)
				continue
			}
			if r := rb.Get(k); len(r) > 1 && (stateOf(r[1]) == StatePending || stateOf(r[1]) == StateSending) && !unreachable(ad, k) {
				soon(now.Add(5 * time.Second)) // its SMS is sent again first
				continue
			}
			w.reports = w.reports || report
		}
		w.catchUp = append(w.catchUp, plans.PersonID(k))
		if len(w.catchUp) >= 4*catchUpBatch {
			cs.next = time.Time{} // more next tick
			return
		}
	}
}

// unreachable reports whether the recipient k of the activation whose data
// bucket is ad has its SMS sent again because the carrier could not reach
// the handset: its due steps are not held for the retry
// (rulesUnreachedEscalated; under older rules the catch-up leaves it to
// wait, and says so).
func unreachable(ad *bolt.Bucket, k []byte) bool {
	b := ad.Bucket(bAttempts)
	if b == nil {
		return false
	}
	ok, err := unreachableAttempt(b.Get(k))
	return err == nil && ok
}

// send claims w's queued items and sends the claimed ones.
func (e *Escalator) send(ctx context.Context, w *escWork) (sent int, err error) {
	if len(w.refs) == 0 {
		return 0, nil
	}
	drill := w.a.Purpose.Drill()
	var (
		refs, held []EscalationRef
		unrung     []UnrungCalls // ended busy or failed
		byWhom     = map[plans.PersonID]EscalationRef{}
	)
	now := e.cfg.Clock.Now()
	for _, ref := range w.refs {
		it := w.items[string(ref.key())]
		if it.Channel == ChannelVoice && e.voice[drill] == nil || it.Channel == ChannelSMS && e.sms[drill] == nil {
			continue // no route: stays queued
		}
		if e.throttledAt(drill, it.Channel, now) {
			continue // stays queued, its attempts unspent, until the provider's Retry-After
		}
		if ref.Step == CorrectionCallStep {
			if len(w.live[ref.Person]) > 0 {
				held = append(held, ref)
				continue
			}
			if sids := w.unrung[ref.Person]; len(sids) > 0 {
				unrung = append(unrung, UnrungCalls{Person: ref.Person, SIDs: sids})
				byWhom[ref.Person] = ref
				continue
			}
		}
		refs = append(refs, ref)
	}
	if n := len(w.refs) - len(refs) - len(held) - len(unrung); n > 0 {
		const msg = "escalator: no provider for some queued escalations; they stay queued"
		if ok, unlogged := e.noRoute.allow(w.a.ID, e.cfg.Clock.Now()); ok {
			e.cfg.Logger.Warn(msg+" (said at most once a minute per activation)", "activation", w.a.ID, "waiting", n, "unlogged", unlogged)
		} else {
			e.cfg.Logger.Debug(msg, "activation", w.a.ID, "waiting", n)
		}
	}
	ended, canceled, err := e.endOriginalCalls(ctx, w, held, byWhom)
	if err != nil {
		return 0, err
	}
	kept, err := e.uncall(ctx, w, append(unrung, canceled...), byWhom)
	if err != nil {
		return 0, err
	}
	refs = append(append(refs, ended...), kept...)
	if len(refs) == 0 {
		return 0, nil
	}
	key, err := e.answerKey(ctx, w, refs)
	if err != nil {
		return 0, err
	}
	p, err := json.Marshal(escalationClaim{Items: refs})
	if err != nil {
		return 0, err
	}
	var claimed EscalationClaimResult
	if err := e.apply.Apply(ctx, &muster.Command{Type: CmdEscalationClaim, Actor: "escalator", Payload: p}, &claimed); err != nil {
		return 0, err
	}
	results := make([]EscalationOutcome, len(claimed.Claimed))
	sem := make(chan struct{}, e.cfg.Workers)
	var wg sync.WaitGroup
	for i, ref := range claimed.Claimed {
		it := w.items[string(ref.key())]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = e.sendOne(ctx, w, ref, it, key)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return 0, ctx.Err() // outcomes unknown: the next leader re-sends
	}
	for _, r := range results {
		if r.Outcome == OutcomeSent {
			sent++
		}
	}
	p, err = json.Marshal(escalationResult{Items: results})
	if err != nil {
		return 0, err
	}
	return sent, e.apply.Apply(ctx, &muster.Command{Type: CmdEscalationResult, Actor: "escalator", Payload: p}, nil)
}

// endCorrection ends w, a correction with nothing left to get out.
func (e *Escalator) endCorrection(ctx context.Context, loop *escLoop, w *escWork) error {
	var res CorrectionEndResult
	p, _ := json.Marshal(correctionEnd{Activation: w.a.ID})
	if err := e.apply.Apply(ctx, &muster.Command{Type: CmdCorrectionEnd, Actor: "escalator", Payload: p, Ignorable: true}, &res); err != nil {
		return fmt.Errorf("end correction %s: %w", w.a.ID, err)
	}
	switch {
	case res.Older:
		loop.endAfter = e.cfg.Clock.Now().Add(time.Minute) // not before the cluster's rules rise
	case res.Ended:
		e.cfg.Logger.Info("correction complete: stood down", "activation", w.a.ID, "retracted", w.a.Retracts)
	}
	return nil
}

// endOriginalCalls ends the calls of the retracted call-up that may still
// ring or talk to the people of held, calls of the correction w, and
// returns those of held whose people it now calls: every such call is
// over, or CorrectionWait has passed since the retraction. A person whose
// calls it ended were all canceled before they rang is not called yet:
// they are returned in unrung, their call in byWhom, for the state to be
// asked to take it off (uncall). The others stay queued; the next tick
// tries again.
func (e *Escalator) endOriginalCalls(ctx context.Context, w *escWork, held []EscalationRef, byWhom map[plans.PersonID]EscalationRef) (out []EscalationRef, unrung []UnrungCalls, err error) {
	if len(held) == 0 {
		return nil, nil, nil
	}
	if !e.cfg.Clock.Now().Before(w.a.StartedAt.Add(e.cfg.CorrectionWait)) {
		e.cfg.Logger.Warn("escalator: correction calls go while calls of the retracted call-up may not have ended",
			"activation", w.a.ID, "retracted", w.a.Retracts, "calls", len(held), "waited", e.cfg.CorrectionWait)
		return held, nil, nil
	}
	ender, _ := e.voice[w.a.Purpose.Drill()].Caller.(CallEnder)
	ends := make([]callsEnded, len(held))
	sem := make(chan struct{}, e.cfg.Workers)
	var wg sync.WaitGroup
	for i, ref := range held {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ends[i] = e.endCalls(ctx, w, ender, ref.Person)
		})
	}
	wg.Wait()
	for i, ref := range held {
		switch {
		case !ends[i].over:
		case len(ends[i].unrung) > 0:
			unrung = append(unrung, UnrungCalls{Person: ref.Person, SIDs: ends[i].unrung})
			byWhom[ref.Person] = ref
		default:
			out = append(out, ref)
		}
	}
	if waiting := len(held) - len(out) - len(unrung); waiting > 0 {
		e.cfg.Logger.Info("escalator: correction calls wait for calls of the retracted call-up to end",
			"activation", w.a.ID, "retracted", w.a.Retracts, "waiting", waiting)
	}
	return out, unrung, nil
}

// uncall asks the state to take off the correction w the calls (byWhom)
// of the people in unrung, whose calls of the retracted call-up never rang
// them (correction.uncall), and returns those it keeps, to be placed: a
// call of theirs rang, or the cluster's rules predate taking it off.
func (e *Escalator) uncall(ctx context.Context, w *escWork, unrung []UnrungCalls, byWhom map[plans.PersonID]EscalationRef) ([]EscalationRef, error) {
	if len(unrung) == 0 {
		return nil, nil
	}
	var res UncallResult
	p, _ := json.Marshal(correctionUncall{Activation: w.a.ID, Calls: unrung})
	if err := e.apply.Apply(ctx, &muster.Command{Type: CmdCorrectionUncall, Actor: "escalator", Payload: p, Ignorable: true}, &res); err != nil {
		return nil, fmt.Errorf("take correction calls of %s off: %w", w.a.ID, err)
	}
	dropped := map[plans.PersonID]bool{}
	for _, p := range res.Dropped {
		dropped[p] = true
	}
	var kept []EscalationRef
	for _, uc := range unrung {
		if !dropped[uc.Person] {
			kept = append(kept, byWhom[uc.Person])
		}
	}
	if len(res.Dropped) > 0 {
		e.cfg.Logger.Info("escalator: correction calls taken off: the retracted call-up's calls to them never rang (canceled before they were dialled, busy or failed)",
			"activation", w.a.ID, "retracted", w.a.Retracts, "calls", len(res.Dropped))
	}
	return kept, nil
}

// callsEnded is what ending the calls of a retracted call-up to one
// person found: whether they all are over, and, when every one was
// canceled before it rang, their SIDs.
type callsEnded struct {
	over   bool
	unrung []string
}

// endCalls ends the calls of w's retracted call-up to person that may not
// have ended. A call being placed (no SID yet), or one ender is nil for, is
// waited for: its end comes in its status callbacks. One Twilio cannot end
// for good (it knows no such call) counts as over. A call Twilio canceled
// before it dialled it (no start time) whose last reported status was none
// or queued never rang: Twilio reports a call initiated when it dials it,
// and ringing before it rings, and neither had come; the start time tells
// of a dialling whose report is still on its way. A call found ended busy
// or failed is waited for too: once its report is in, the state takes the
// correction call off (see liveOriginalCalls).
func (e *Escalator) endCalls(ctx context.Context, w *escWork, ender CallEnder, person plans.PersonID) callsEnded {
	out := callsEnded{over: true}
	rang := false
	for _, c := range w.live[person] {
		if c.SID == "" || ender == nil {
			out.over = false
			continue
		}
		st, err := ender.EndCall(ctx, c.SID, c.Status)
		switch {
		case err != nil && IsTemporary(err):
			e.cfg.Logger.Warn("escalator: could not end a call of a retracted call-up; its correction call waits", "activation", w.a.Retracts, "call", c.SID, "err", err)
			out.over = false
		case err != nil:
			e.cfg.Logger.Warn("escalator: a call of a retracted call-up cannot be ended", "activation", w.a.Retracts, "call", c.SID, "err", err)
			rang = true
		case !st.Status.Final():
			out.over = false
		case endedUnrung(st.Status):
			// It had ended busy or failed before the update: its report,
			// on its way, lets the state take the correction call off.
			out.over = false
		case st.Status == CallCanceled && !st.Dialled && unrung(c.Status):
			out.unrung = append(out.unrung, c.SID)
		default:
			rang = true
		}
	}
	if rang || !out.over {
		out.unrung = nil
	}
	return out
}

// answerKey reads the answer-link key, creating it if the state has none,
// when one of refs is the call-up SMS again and a public URL is set: the
// message carries the recipient's link. It is nil when none is needed.
func (e *Escalator) answerKey(ctx context.Context, w *escWork, refs []EscalationRef) (AnswerKey, error) {
	if e.cfg.PublicURL == "" || w.a.Retracts != "" {
		return nil, nil
	}
	for _, ref := range refs {
		if it := w.items[string(ref.key())]; it.Channel == ChannelSMS && it.Text == "" {
			return e.key.ensure(ctx, e.apply, e.view, "escalator")
		}
	}
	return nil, nil
}

// sendOne makes one escalation attempt: an SMS or a voice call.
func (e *Escalator) sendOne(ctx context.Context, w *escWork, ref EscalationRef, it EscalationItem, key AnswerKey) EscalationOutcome {
	out := EscalationOutcome{EscalationRef: ref}
	if !isOpen(ctx, e.view, w.a.ID) {
		return dropped(out) // stood down before its turn: no wait for the route either
	}
	id := escalationAttemptIDOf(w.a.ID, ref.Person, ref.Step, ref.N, ref.Restored)
	drill := w.a.Purpose.Drill()
	var err error
	switch it.Channel {
	case ChannelVoice:
		route := e.voice[drill]
		if route.Exercise != drill {
			err = &SendError{Message: fmt.Sprintf("refused: %s calls may not use the %s route", w.a.Purpose, route.Name)}
			break
		}
		if err = e.voiceHold[drill].waitOut(ctx, e.cfg.Clock); err != nil {
			break
		}
		if err = e.voiceLim[drill].Wait(ctx); err != nil {
			break
		}
		if !e.openTo(ctx, w, &it, &out) {
			return dropped(out)
		}
		hooks := VoiceHooksFor(e.cfg.PublicURL, id)
		var placed Placed
		placed, err = route.Caller.PlaceCall(ctx, Call{AttemptID: id, To: it.Phone, URL: hooks.TwiML, StatusCallback: hooks.Status})
		out.SID = placed.ProviderID
		switch {
		case err == nil:
			e.calls.Add(1)
		case ctx.Err() == nil: // not a call cut short by the end of the term: it may have been placed
			e.callsNotPlaced.Add(1)
		}
		e.holdIfThrottled(e.voiceHold[drill], err)
	default:
		// On the fallback account while the first one is failed over, as
		// the call-up's own messages are.
		primary := e.sms[drill]
		route := primary.current(e.cfg.Clock.Now())
		var body string
		if body, err = e.smsText(w, it, key); err != nil {
			break
		}
		if route.Exercise != drill || (drill && !strings.HasPrefix(body, plans.ExerciseMark)) {
			err = &SendError{Message: fmt.Sprintf("refused: a %s message on the %s route", w.a.Purpose, route.Name)}
			break
		}
		var from string
		if from, err = route.take(ctx, e.cfg.Clock); err != nil {
			break
		}
		if !e.openTo(ctx, w, &it, &out) {
			return dropped(out)
		}
		var sent Sent
		sent, err = route.Provider.SendSMS(ctx, SMS{AttemptID: id, To: it.Phone, From: from, Body: body})
		out.SID = sent.ProviderID
		e.holdIfThrottled(&route.hold, err)
		if ctx.Err() == nil {
			move := primary.recordSend(e.cfg.Clock.Now(), route, err, defaultFailoverAfter, defaultFailoverFor)
			logFailover(e.cfg.Logger, "escalator", primary, move, defaultFailoverFor, err)
		}
	}
	if err == nil {
		e.sent.Add(1)
		out.Outcome = OutcomeSent
		return out
	}
	e.failed.Add(1)
	var se *SendError
	if !errors.As(err, &se) {
		se = &SendError{Temporary: true, Message: err.Error()}
	}
	out.Code, out.Error, out.Outcome = se.Code, se.Message, OutcomeFailed
	now := e.cfg.Clock.Now()
	if se.Temporary && ref.N < attemptsFor(se, escalationAttempts, e.cfg.MaxOutageAttempts) {
		// Not at once: an outage would burn every attempt in seconds.
		out.Outcome = OutcomeRetry
		out.NextTry = now.Add(max(backoff(e.cfg.Backoff, e.cfg.MaxBackoff, ref.N), se.RetryAfter))
	}
	// A step whose messages all fail (the provider account down, its token
	// wrong) read "escalated" on the board with nothing said.
	if ok, unlogged := e.sendFails.allow(w.a.ID, now); ok {
		e.cfg.Logger.Warn("escalator: an escalation message or call failed (said at most once a minute per activation; muster status shows each step's queued and failed)",
			"activation", w.a.ID, "step", ref.Step, "person", ref.Person, "channel", it.Channel, "code", se.Code, "error", se.Message,
			"attempt", ref.N, "retried", out.Outcome == OutcomeRetry, "unlogged", unlogged)
	}
	return out
}

// holdIfThrottled holds every send on h for the provider's Retry-After
// when err is its throttling (HTTP 429, 20429): the sends of the same
// batch wait it out in the route's wait, and the escalator claims no more
// of the route's items until it is over (throttledAt), where each used to
// meet the throttle and spend one of its three attempts on it. An outage
// (5xx) holds nothing here: each item backs off on its own, as
// rulesEscalationBackoff has it.
func (e *Escalator) holdIfThrottled(h *hold, err error) {
	var se *SendError
	if errors.As(err, &se) && throttled(se) {
		h.pause(e.cfg.Clock.Now().Add(holdFor(se, e.cfg.Backoff)))
	}
}

// throttledAt reports whether the route the drill's (or LIVE) items of
// channel go out on is held for the provider's throttling at now.
func (e *Escalator) throttledAt(drill bool, channel string, now time.Time) bool {
	if channel == ChannelVoice {
		return e.voiceHold[drill] != nil && e.voiceHold[drill].heldAt(now)
	}
	return e.sms[drill] != nil && e.sms[drill].current(now).heldAt(now)
}

// openTo reports, in one read just before the call, whether w's activation
// is still open, and points it at its person's number now (currentPhone):
// a phone corrected since the item was queued gets the message or call,
// and out.To says so.
func (e *Escalator) openTo(ctx context.Context, w *escWork, it *EscalationItem, out *EscalationOutcome) bool {
	open, _, to := sendable(ctx, e.view, w.a.ID, it.Person, it.Phone, false)
	if to != it.Phone {
		it.Phone, out.To = to, to
	}
	return open
}

// dropped is out for an escalation send not made because the call-up was
// stood down or retracted while it waited for its route: checked right
// before each call or SMS, as the dispatcher checks its sends.
func dropped(out EscalationOutcome) EscalationOutcome {
	out.Outcome, out.Error = OutcomeDropped, "not sent: the call-up was stood down"
	return out
}

// smsText is an escalation SMS: the superior's report, or the call-up
// again as a reminder with the recipient's answer link (none without key),
// saying the time to answer by as it is when it is sent (RenderReminder).
func (e *Escalator) smsText(w *escWork, it EscalationItem, key AnswerKey) (string, error) {
	if it.Text != "" {
		return it.Text, nil
	}
	r, ok := w.recs[it.Person]
	if !ok {
		return "", &SendError{Message: "the recipient record is missing"}
	}
	link := e.key.link(key, e.cfg.PublicURL, w.a.ID, r.Person, e.cfg.Logger)
	return RenderReminder(w.a, w.level, r, link, w.reached[it.Person], e.cfg.Clock.Now(), e.cfg.Zone)
}
