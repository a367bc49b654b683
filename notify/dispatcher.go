package notify

import (
	"cmp"
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/time/rate"

	"muster"
	"muster/plans"
)

// Route is how the messages of one purpose go out: a provider account, its
// sender pool and rate limits.
type Route struct {
	Name     string   // for logs and metrics: "live", "exercise"
	Account  string   // the provider account (Twilio Account SID)
	Provider Provider //
	// Senders is the pool of sender numbers, used in turn; empty lets the
	// provider choose (a Twilio Messaging Service).
	Senders   []string
	PerSecond float64 // account-wide sends per second; 0: unlimited
	PerSender float64 // sends per second of each sender; 0: unlimited
	// Exercise marks the route for EXERCISE and TEST traffic. The dispatcher
	// sends drills only on an exercise route and LIVE only on the other.
	Exercise bool
	// Simulated marks an account of the built-in Twilio simulator: what is
	// sent on it reaches no phone. The claims of a call-up sent on it say
	// so, and from rules 13 the call-up records it (Activation.Simulated).
	Simulated bool
	// Fallback is a second account of the same purpose that takes the
	// route's sends while this account is failing (see
	// DispatcherConfig.FailoverAfter).
	Fallback *Route

	// limits are the account's limiters, made once and shared by all that
	// send on the route (the dispatcher's call-ups and the escalator's
	// reminders), so that together they keep to PerSecond.
	limits     *routeLimits
	limitsOnce sync.Once
}

// routeLimits are a route's limiters: the account's, each sender's, and the
// turn of the one send waiting for them. The turn lets one send at a time
// wait for the limiters: the others wait for the turn, holding no
// reservation, so a send that stops waiting (its activation closed) leaves
// the limiters as they were (see routeState.take).
type routeLimits struct {
	acct    *rate.Limiter
	senders []*rate.Limiter
	turn    chan struct{}

	// The account's failover to the route's Fallback, shared like the
	// limiters by the dispatcher's call-ups and the escalator's messages,
	// so that an outage seen by either moves both (routeState.outcome).
	outages     atomic.Int64 // outage errors in a row on this account
	failedUntil atomic.Int64 // unix nanos until which sends go to the fallback
	// probation is set when the route fails over and cleared by a send
	// the account takes: until then one outage error on it fails over
	// again, so the few sends that come after the fallback's minute (a
	// backup called up, a retry) do not spend their attempts on an
	// account that is still down while they wait for ten in a row.
	probation atomic.Bool
	// refusedLogged is when the account's refusal of its credentials was
	// last logged (unix nanos), to log it once a minute.
	refusedLogged atomic.Int64
}

// limitsOf returns r's limiters, made on first use.
func (r *Route) limitsOf() *routeLimits {
	r.limitsOnce.Do(func() {
		l := &routeLimits{acct: limiter(r.PerSecond)}
		for range r.Senders {
			l.senders = append(l.senders, limiter(r.PerSender))
		}
		if r.PerSecond > 0 || (len(r.Senders) > 0 && r.PerSender > 0) {
			l.turn = make(chan struct{}, 1)
		}
		r.limits = l
	})
	return r.limits
}

// DispatcherConfig configures a Dispatcher. Zero fields take the defaults.
type DispatcherConfig struct {
	Live     *Route // nil: LIVE activations stay pending, with a warning
	Exercise *Route // required: drills never fall back to Live
	// PublicURL is the base URL the provider reaches this cluster's webhooks
	// at; delivery reports go to PublicURL/hooks/twilio/sms-status, and each
	// message's {{.Link}} is the recipient's answer link,
	// PublicURL/r/{token}. Empty: no delivery reports are asked for and
	// messages carry no link.
	PublicURL string

	// Workers and MaxInFlight are per route (LIVE and EXERCISE each have
	// their own): a slow or throttled route never holds up the other.
	Workers    int // concurrent provider calls; default 64
	ClaimBatch int // recipients claimed per raft entry; default 256
	// MaxInFlight is the most recipients claimed without a committed
	// result; default 1024. A rate-limited route also keeps no more than
	// two seconds of its sends (claimHorizon) claimed and waiting for the
	// rate: what a crashed leader leaves to be sent again is about what it
	// was sending, not a window of claims queued behind the rate.
	MaxInFlight int
	ResultBatch int // results per raft entry; default 256
	// ResultDelay is the longest a send's result waits for its batch;
	// default 50ms. Only the in-flight window waits on results, and at high
	// rates a longer wait fills entries (20,000 sends: ~80 result entries
	// instead of ~600 at 5ms, and a third more sends per second on two cores).
	// When the last queued send is done, its batch goes without waiting.
	ResultDelay time.Duration
	MaxAttempts int // attempts per recipient for temporary failures; default 6
	// MaxOutageAttempts is the attempts per recipient when the last one
	// failed for an outage of the account (5xx, no answer, a refused
	// account: outage), not of the number; default 12, with the default
	// backoff about 12 to 23 minutes from the first attempt. Six attempts,
	// about a minute, ended a whole call-up opened during a provider
	// incident of a minute failed for good.
	MaxOutageAttempts int
	Backoff           time.Duration // first retry delay; doubles per attempt, with jitter; default 2s
	MaxBackoff        time.Duration // default 5m
	Poll              time.Duration // how often to look for new work when idle; default 100ms
	// ReportTimeout is how long a sent message may go without a delivery
	// report before the dispatcher asks the provider for its status (a
	// report can be lost: the webhook failed, the cluster was electing);
	// default 10m.
	ReportTimeout time.Duration
	// FailoverAfter is how many provider outage errors in a row (5xx,
	// timeouts, refused connections) move a route's sends to its Fallback,
	// for FailoverFor; then the primary account is tried again. Defaults 10
	// and 1m.
	FailoverAfter int
	FailoverFor   time.Duration

	Clock  muster.Clock
	Logger *slog.Logger
}

// The default failover of a route to its fallback: after this many outage
// errors in a row, for this long (DispatcherConfig.FailoverAfter and
// FailoverFor; the escalator's messages keep to them too).
const (
	defaultFailoverAfter = 10
	defaultFailoverFor   = time.Minute
)

// The default retries of a send that failed for now (DispatcherConfig's
// Backoff, MaxBackoff and MaxOutageAttempts; the escalator's messages and
// calls keep to them too).
const (
	defaultBackoff        = 2 * time.Second
	defaultMaxBackoff     = 5 * time.Minute
	defaultOutageAttempts = 12
)

func (c *DispatcherConfig) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Workers, 64)
	def(&c.ClaimBatch, 256)
	def(&c.MaxInFlight, 1024)
	def(&c.ResultBatch, 256)
	def(&c.MaxAttempts, 6)
	def(&c.MaxOutageAttempts, defaultOutageAttempts)
	c.MaxOutageAttempts = max(c.MaxOutageAttempts, c.MaxAttempts)
	def(&c.FailoverAfter, defaultFailoverAfter)
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defd(&c.ResultDelay, 50*time.Millisecond)
	defd(&c.Backoff, defaultBackoff)
	defd(&c.MaxBackoff, defaultMaxBackoff)
	defd(&c.Poll, 100*time.Millisecond)
	defd(&c.ReportTimeout, 10*time.Minute)
	defd(&c.FailoverFor, defaultFailoverFor)
	if c.Clock == nil {
		c.Clock = muster.SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.ClaimBatch = min(c.ClaimBatch, c.MaxInFlight)
}

// DispatcherStats counts what a dispatcher did since it was made.
type DispatcherStats struct {
	Claimed   int64 `json:"claimed"`   // attempts claimed
	Sent      int64 `json:"sent"`      // accepted by the provider
	Retried   int64 `json:"retried"`   // temporary failures queued for retry
	Failed    int64 `json:"failed"`    // permanent failures and spent budgets
	Resent    int64 `json:"resent"`    // re-sends of claims whose outcome a failover lost
	Throttled int64 `json:"throttled"` // provider throttling answers (HTTP 429)
	Fetched   int64 `json:"fetched"`   // statuses asked of the provider for sends whose report was overdue
	// LookupsFailed counts the statuses asked for that the provider could
	// not give (an error, e.g. a message it does not know): those sends
	// stay sent, their outcome unknown, and are asked about again.
	LookupsFailed int64 `json:"lookups_failed"`
	Runs          int64 `json:"runs"`      // terms as leader
	Dropped       int64 `json:"dropped"`   // claimed sends not made because the activation was stood down or retracted first
	Failovers     int64 `json:"failovers"` // times a route moved to its fallback account
	// Released counts claimed sends not made because this node closed
	// while it led: handed back, for the next leader to send once.
	Released int64 `json:"released"`
	// OnFallback lists the routes sending on their fallback account now.
	OnFallback []string `json:"on_fallback,omitempty"`
}

// Dispatcher sends the SMS of open activations. It runs on the leader only
// (Run is a cluster leader service): it claims recipients in batches before
// calling the provider, so after a failover the next leader knows which
// sends were in flight, and proposes the outcomes in batches. Sends are
// rate-limited per account and per sender, at most Workers at once.
// Temporary failures are retried with exponential backoff and jitter up to
// MaxAttempts; permanent ones are not.
type Dispatcher struct {
	apply Applier
	view  Viewer
	cfg   DispatcherConfig
	live  *routeState
	drill *routeState

	claimed, sent, retried, failed, resent, throttled, fetched, runs, dropped, failovers atomic.Int64
	lookupsFailed, released                                                              atomic.Int64
}

// NewDispatcher checks cfg. EXERCISE and TEST traffic must have its own
// route, on a different account from LIVE.
func NewDispatcher(a Applier, v Viewer, cfg DispatcherConfig) (*Dispatcher, error) {
	cfg.setDefaults()
	if cfg.Exercise == nil || cfg.Exercise.Provider == nil {
		return nil, muster.Errorf(muster.EInvalid, "dispatcher: EXERCISE and TEST traffic needs its own provider route")
	}
	if !cfg.Exercise.Exercise {
		return nil, muster.Errorf(muster.EInvalid, "dispatcher: the exercise route %s is not marked for exercise traffic", cfg.Exercise.Name)
	}
	if cfg.Live != nil {
		if cfg.Live.Exercise {
			return nil, muster.Errorf(muster.EInvalid, "dispatcher: the live route %s is marked for exercise traffic", cfg.Live.Name)
		}
		if cfg.Live.Account == cfg.Exercise.Account || cfg.Live.Provider == cfg.Exercise.Provider {
			return nil, muster.Errorf(muster.EInvalid, "dispatcher: live and exercise traffic must use different provider accounts (both are %s)", cfg.Live.Account)
		}
	}
	if cfg.PublicURL != "" {
		if u, err := url.Parse(cfg.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, muster.Errorf(muster.EInvalid, "public URL %q: want http(s)://host[:port][/path]", cfg.PublicURL)
		}
	}
	for _, r := range []*Route{cfg.Live, cfg.Exercise} {
		if r == nil || r.Fallback == nil {
			continue
		}
		fb := r.Fallback
		switch {
		case fb.Provider == nil:
			return nil, muster.Errorf(muster.EInvalid, "dispatcher: the fallback of route %s has no provider", r.Name)
		case fb.Exercise != r.Exercise:
			return nil, muster.Errorf(muster.EInvalid, "dispatcher: the fallback of route %s must carry the same purpose", r.Name)
		case fb.Account == r.Account:
			return nil, muster.Errorf(muster.EInvalid, "dispatcher: the fallback of route %s is the same account %s", r.Name, r.Account)
		case fb.Fallback != nil:
			return nil, muster.Errorf(muster.EInvalid, "dispatcher: the fallback of route %s has a fallback of its own", r.Name)
		}
		if other := cfg.Live; r.Exercise && other != nil && (other.Account == fb.Account || (other.Fallback != nil && other.Fallback.Account == fb.Account)) {
			return nil, muster.Errorf(muster.EInvalid, "dispatcher: the exercise fallback account %s is a live account", fb.Account)
		}
		if !r.Exercise && fb.Account == cfg.Exercise.Account {
			return nil, muster.Errorf(muster.EInvalid, "dispatcher: the live fallback account %s is the exercise account", fb.Account)
		}
	}
	d := &Dispatcher{apply: a, view: v, cfg: cfg, drill: newRouteState(cfg.Exercise)}
	if cfg.Live != nil {
		d.live = newRouteState(cfg.Live)
	}
	return d, nil
}

// Stats returns the dispatcher's counters.
func (d *Dispatcher) Stats() DispatcherStats {
	return DispatcherStats{Claimed: d.claimed.Load(), Sent: d.sent.Load(), Retried: d.retried.Load(), Failed: d.failed.Load(),
		Resent: d.resent.Load(), Throttled: d.throttled.Load(), Fetched: d.fetched.Load(), LookupsFailed: d.lookupsFailed.Load(), Runs: d.runs.Load(), Dropped: d.dropped.Load(), Released: d.released.Load(), Failovers: d.failovers.Load(), OnFallback: d.onFallback()}
}

// onFallback names the routes sending on their fallback account now.
func (d *Dispatcher) onFallback() []string {
	var out []string
	now := d.cfg.Clock.Now()
	for _, rs := range []*routeState{d.live, d.drill} {
		if rs != nil && rs.fallback != nil && rs.failedOver(now) {
			out = append(out, rs.Name)
		}
	}
	return out
}

// routeState is a route with its limiters.
type routeState struct {
	*Route
	*routeLimits // shared with everything else that sends on the route
	rr           atomic.Uint64
	hold         // the provider throttling or failing holds every send on the route

	fallback *routeState // the Fallback route's state, nil without one
}

func newRouteState(r *Route) *routeState {
	rs := &routeState{Route: r, routeLimits: r.limitsOf()}
	if r.Fallback != nil {
		rs.fallback = newRouteState(r.Fallback)
	}
	return rs
}

// failedOver reports whether the route's sends go to its fallback now.
func (r *routeState) failedOver(now time.Time) bool {
	return r.fallback != nil && now.UnixNano() < r.failedUntil.Load()
}

// current is the route state sends should use now: the fallback while the
// primary account is failed over, else the route itself.
func (r *routeState) current(now time.Time) *routeState {
	if r.failedOver(now) {
		return r.fallback
	}
	return r
}

// outcome records the result of a send on r (the primary): an outage error
// counts towards a failover (after errors in a row, or one while on
// probation since the last failover), anything else resets the count and
// ends the probation. It reports whether this error moved the route to its
// fallback.
func (r *routeState) outcome(now time.Time, outage bool, after int, hold time.Duration) bool {
	if r.fallback == nil {
		return false
	}
	if !outage {
		r.outages.Store(0)
		if r.probation.Load() {
			r.probation.Store(false)
		}
		return false
	}
	if n := r.outages.Add(1); (n < int64(after) && !r.probation.Load()) || r.failedOver(now) {
		return false
	}
	r.outages.Store(0)
	r.probation.Store(true)
	r.failedUntil.Store(now.Add(hold).UnixNano())
	return true
}

// fallbackOutcome records the result of a send on r's fallback while r is
// failed over: after `after` outage errors in a row there (a fallback down
// too, or refusing a stale token) the failover ends at once, since the
// first account may be back and the fallback is no better; the probation
// stays, so the first account's next outage moves the sends back. It
// reports whether this error ended the failover.
func (r *routeState) fallbackOutcome(now time.Time, outage bool, after int) bool {
	f := r.fallback
	if f == nil {
		return false
	}
	if !outage {
		f.outages.Store(0)
		return false
	}
	if f.outages.Add(1) < int64(after) || !r.failedOver(now) {
		return false
	}
	f.outages.Store(0)
	r.failedUntil.Store(now.UnixNano())
	return true
}

// perSecond is the most sends a second the route's limits let through:
// the account's rate, or its senders' together when that is lower; 0 when
// the route is unlimited.
func (r *routeState) perSecond() float64 {
	rate := r.PerSecond
	if len(r.Senders) > 0 && r.PerSender > 0 {
		if s := r.PerSender * float64(len(r.Senders)); rate <= 0 || s < rate {
			rate = s
		}
	}
	return max(rate, 0)
}

// limiter allows perSecond with a burst of 50ms worth (at least one).
func limiter(perSecond float64) *rate.Limiter {
	if perSecond <= 0 {
		return rate.NewLimiter(rate.Inf, 1)
	}
	return rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond/20)))
}

// take waits for the route's pause, its turn and its rate (the account's
// and one sender's), and returns the sender to use ("" to let the provider
// choose).
func (r *routeState) take(ctx context.Context, clock muster.Clock) (string, error) {
	if err := r.wait(ctx, clock); err != nil {
		return "", err
	}
	defer r.done()
	return r.pace(ctx)
}

// wait waits for the route's pause, then for its turn: the one send at a
// time that waits for the route's limiters (a route without limits has no
// turn). done gives the turn back.
func (r *routeState) wait(ctx context.Context, clock muster.Clock) error {
	if err := r.waitOut(ctx, clock); err != nil {
		return err
	}
	if r.turn == nil {
		return nil
	}
	select {
	case r.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// done gives back the turn wait took.
func (r *routeState) done() {
	if r.turn != nil {
		<-r.turn
	}
}

// pace waits, with the turn held, for the account's rate and one sender's,
// and returns the sender to use ("" to let the provider choose). A wait
// that ctx ends leaves the limiters as they were.
func (r *routeState) pace(ctx context.Context) (string, error) {
	if err := r.acct.Wait(ctx); err != nil {
		return "", err
	}
	if len(r.Senders) == 0 {
		return "", nil
	}
	i := int((r.rr.Add(1) - 1) % uint64(len(r.Senders)))
	if err := r.senders[i].Wait(ctx); err != nil {
		return "", err
	}
	return r.Senders[i], nil
}

// hold is a time until which every send on a route waits: the provider
// throttling its account (HTTP 429) or failing (5xx, timeouts).
type hold struct {
	until atomic.Int64 // unix nanos
}

// pause holds every send until t (later pauses extend it).
func (h *hold) pause(t time.Time) {
	for {
		cur := h.until.Load()
		if t.UnixNano() <= cur || h.until.CompareAndSwap(cur, t.UnixNano()) {
			return
		}
	}
}

// heldAt reports whether sends wait at now.
func (h *hold) heldAt(now time.Time) bool { return now.UnixNano() < h.until.Load() }

// waitOut waits until the hold is over by clock.
func (h *hold) waitOut(ctx context.Context, clock muster.Clock) error {
	for {
		wait := time.Duration(h.until.Load() - clock.Now().UnixNano())
		if wait <= 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// holdFor is how long a send that failed with se holds its whole route:
// the provider's Retry-After (a second without one) when it throttles,
// half the first backoff when it fails for now (5xx, a timeout, a
// dropped connection), nothing when it refused only this number for now
// (e.g. 21611 queue full) or for good.
func holdFor(se *SendError, firstBackoff time.Duration) time.Duration {
	switch {
	case throttled(se):
		return cmp.Or(max(se.RetryAfter, 0), time.Second)
	case se.Temporary && se.Code != 0 && TemporaryCode(se.Code) && se.HTTPStatus < 500:
		return 0
	case se.Temporary:
		return firstBackoff / 2
	}
	return 0
}

// throttled reports whether the provider refused a send for the
// account's rate (HTTP 429, error 20429).
func throttled(se *SendError) bool { return se.HTTPStatus == 429 || se.Code == 20429 }

// job is one claimed attempt for a worker.
type job struct {
	act *actRun
	rec Recipient
	n   int
	seq uint64 // claim order in its lane
	// restored is the restore era the attempt was claimed under
	// (Attempt.Restored: the restore's number and tag, 0 before any
	// restore): its ID carries it (".r1-k3f9q").
	restored int
	// notNeeded is set when the claim was applied under rules that take a
	// backup no longer needed off the call-up when their send is dropped
	// (ClaimResult.NotNeeded).
	notNeeded bool
}

// actRun is what one leadership term knows about an open activation.
type actRun struct {
	a       Activation
	level   *plans.Level
	sms     *smsRenderer
	route   *routeState
	cursor  []byte           // fresh recipients are scanned after this key
	fresh   bool             // recipients never attempted may remain after cursor
	total   int              // recipients when the scan began: more (backups added) start it again
	orphans []plans.PersonID // left in sending, by an earlier leader or a claim of ours that failed; re-sent first
	// waiting, on a correction, are recipients behind the cursor whose
	// original send this run still holds: claimed before the retraction
	// and without a committed result (see candidates).
	waiting []plans.PersonID
	skip    bool // no route: nothing is claimed
	// closed is set once a send finds the activation stood down or
	// retracted, or refresh no longer finds it open; its remaining queued
	// sends are dropped without a look. ctx ends then too: the sends
	// waiting for the route's rate stop waiting and give their turn back,
	// so the next call-up (a correction, say) does not wait behind them.
	closed atomic.Bool
	ctx    context.Context
	stop   context.CancelFunc
}

// close marks ar closed (see actRun.closed).
func (ar *actRun) close() {
	ar.closed.Store(true)
	ar.stop()
}

// lane is one route's queue of claimed sends, with its own workers and its
// own in-flight window: a route that sends slowly (its account's rate, a
// provider asking it to wait) holds back only its own traffic, never the
// other route's. A LIVE call-up started during a drill does not wait
// behind the drill's claimed backlog. Within the lane the most severe
// activation's sends go first (severity), each activation's in the order
// they were claimed. A worker takes its job from the queue only once the
// route may send (sendFirst), not before it waits for the route's rate: a
// level II call-up's messages claimed while the window is full of level
// IV ones go next, not behind the level IV sends of every worker waiting
// for its turn.
type lane struct {
	route    *routeState // the primary route: its sends go on it or its fallback
	mu       sync.Mutex
	queue    jobQueue
	seq      uint64
	ready    chan struct{} // a token per queued job: its holder takes one job
	inFlight atomic.Int64
	busy     atomic.Int64 // workers in a send
}

func newLane(route *routeState, window int) *lane {
	return &lane{route: route, ready: make(chan struct{}, window)}
}

// push queues j. It never blocks: at most a window of jobs is queued.
func (l *lane) push(j job) {
	l.mu.Lock()
	l.seq++
	j.seq = l.seq
	heap.Push(&l.queue, j)
	l.mu.Unlock()
	l.ready <- struct{}{}
}

// pop takes the first job, after its token was received from ready.
func (l *lane) pop() job {
	l.mu.Lock()
	defer l.mu.Unlock()
	return heap.Pop(&l.queue).(job)
}

// first returns the first job without taking it, after a token was
// received from ready (so there is one).
func (l *lane) first() job {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.queue[0]
}

// take takes j, which first returned, if it is still the first job, and
// reports whether it was.
func (l *lane) take(j job) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) == 0 || l.queue[0].seq != j.seq {
		return false
	}
	heap.Pop(&l.queue)
	return true
}

// putBack queues j again, in its place: a job taken but not sent.
func (l *lane) putBack(j job) {
	l.mu.Lock()
	heap.Push(&l.queue, j)
	l.mu.Unlock()
	l.ready <- struct{}{}
}

// takeAll takes every queued job, once no worker takes jobs any more.
func (l *lane) takeAll() []job {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.queue)
	l.queue = l.queue[:0]
	for range len(l.ready) {
		<-l.ready
	}
	return out
}

// queued is how many jobs wait for a worker.
func (l *lane) queued() int { return len(l.ready) }

// unsent is how many claimed jobs no worker has handed to the provider
// yet: those queued and those a worker waits for the route's rate with.
func (l *lane) unsent() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)
}

// jobQueue is a heap of jobs: most severe activation first, then in claim
// order.
type jobQueue []job

func (q jobQueue) Len() int           { return len(q) }
func (q jobQueue) Less(i, j int) bool { return before(q[i], q[j]) }

// before reports whether job a goes before job b.
func before(a, b job) bool {
	if a.act != b.act {
		return severity(a.act.a, b.act.a) < 0
	}
	return a.seq < b.seq
}
func (q jobQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *jobQueue) Push(x any)   { *q = append(*q, x.(job)) }
func (q *jobQueue) Pop() any {
	old := *q
	j := old[len(old)-1]
	old[len(old)-1] = job{}
	*q = old[:len(old)-1]
	return j
}

// dispatchRun is one term of the dispatcher as leader.
type dispatchRun struct {
	d *Dispatcher
	// taking ends when the run takes no more work: no claim, no send
	// starts after it. ctx ends when what is under way stops too (provider
	// calls, results): at once when leadership is lost, after the sends on
	// the wire when the node closes (see Run).
	taking  context.Context
	ctx     context.Context
	lanes   map[*routeState]*lane // by primary route: LIVE and EXERCISE
	results *batcher[ResultItem, ResultSummary]
	freed   chan struct{}
	// resultErrs counts results that could not be committed; the first is logged.
	resultErrs atomic.Int64
	acts       map[plans.ActivationID]*actRun
	rng        *rand.Rand
	rngMu      sync.Mutex
	// key is the answer-link key, read (or created) before the first claim
	// of a message that carries a link; nil until then.
	key answerKeyCache

	// held is every recipient this run has claimed and not yet committed a
	// result for. A claim that failed, or claimed fewer than asked, may
	// have left recipients in sending that no worker holds (an apply that
	// timed out may still commit) or pending behind the scan's cursor:
	// rescan is set then, and the next fill looks again (rescanOrphans).
	heldMu     sync.Mutex
	held       map[plans.ActivationID]map[plans.PersonID]bool
	rescan     atomic.Bool
	lastRescan time.Time
	looked     bool // refresh has looked at the open activations once
	// releasable is set when the claims are applied under rules that let
	// a stopping dispatcher hand back the ones it did not send
	// (ClaimResult.Release).
	releasable atomic.Bool
}

// closeGrace is how long a dispatcher whose node closes lets its sends on
// the wire run before it gives up on them (their outcome then unknown, the
// next leader sends them again): a provider call's usual time, well under
// its timeout.
const closeGrace = 5 * time.Second

// minRescan is the least time between two rescans of every open
// activation after failed claims: each reads all their recipients.
const minRescan = time.Second

func (r *dispatchRun) hold(id plans.ActivationID, person plans.PersonID, held bool) {
	r.heldMu.Lock()
	defer r.heldMu.Unlock()
	m := r.held[id]
	if held {
		if m == nil {
			m = map[plans.PersonID]bool{}
			r.held[id] = m
		}
		m[person] = true
		return
	}
	delete(m, person)
}

func (r *dispatchRun) holds(id plans.ActivationID, person plans.PersonID) bool {
	r.heldMu.Lock()
	defer r.heldMu.Unlock()
	return r.held[id][person]
}

// Run dispatches until ctx ends. When leadership is lost, sends in flight
// are abandoned without a result: the next leader finds them claimed and
// sends them again. When the node closes (ctx ends with muster.ErrClosing)
// it takes no more work, lets the sends on the wire finish (closeGrace at
// most) and commits their results, and releases the claims it has not
// sent, before it returns: the next leader sends those once, as never
// sent, instead of again as possible duplicates.
func (d *Dispatcher) Run(ctx context.Context) {
	d.runs.Add(1)
	taking, stopTaking := context.WithCancel(ctx)
	defer stopTaking()
	runCtx, end := context.WithCancel(context.WithoutCancel(ctx))
	defer end()
	closing := func() bool { return errors.Is(context.Cause(ctx), muster.ErrClosing) }
	defer context.AfterFunc(taking, func() {
		if closing() {
			time.AfterFunc(closeGrace, end)
		} else {
			end()
		}
	})()
	r := &dispatchRun{d: d, taking: taking, ctx: runCtx, lanes: map[*routeState]*lane{}, freed: make(chan struct{}, 1),
		acts: map[plans.ActivationID]*actRun{}, held: map[plans.ActivationID]map[plans.PersonID]bool{}}
	r.results = newBatcher(d.cfg.ResultBatch, d.cfg.ResultDelay, 4, r.flushResults)
	var wg sync.WaitGroup
	for _, route := range []*routeState{d.live, d.drill} {
		if route == nil {
			continue
		}
		l := newLane(route, d.cfg.MaxInFlight)
		r.lanes[route] = l
		for range d.cfg.Workers {
			wg.Go(func() {
				for {
					select {
					case <-taking.Done():
						return
					case <-l.ready:
						l.busy.Add(1)
						r.send(l)
						// The last send of a burst: its batch of results need
						// not wait out ResultDelay for more.
						if l.busy.Add(-1) == 0 && l.queued() == 0 {
							r.results.Due()
						}
					}
				}
			})
		}
	}
	for route := range r.lanes {
		wg.Go(func() { r.sweepLoop(route) })
	}
	d.cfg.Logger.Info("dispatcher started")
	r.loop()
	stopTaking()
	wg.Wait()
	if closing() {
		r.releaseUnsent()
	}
	r.results.Close()
	d.cfg.Logger.Info("dispatcher stopped")
}

// releaseUnsent, as the node closes, proposes every claimed send still
// queued as dropped, which releases it (rulesReleaseClaims): the
// recipient is pending again, due at once, and the next leader sends
// them as never sent. Under older rules, or once closeGrace has passed,
// the claims stay for the next leader to send again, as before.
func (r *dispatchRun) releaseUnsent() {
	var n int
	for _, l := range r.lanes {
		jobs := l.takeAll()
		if len(jobs) == 0 {
			continue
		}
		if r.ctx.Err() != nil || !r.releasable.Load() {
			r.d.cfg.Logger.Info("dispatcher: closing; claimed sends not made are left for the next leader to send again",
				"route", l.route.Name, "recipients", len(jobs), "rules", r.releasable.Load())
			continue
		}
		for _, j := range jobs {
			r.submitResult(l, ResultItem{Activation: j.act.a.ID, Person: j.rec.Person, N: j.n, Outcome: OutcomeDropped})
		}
		n += len(jobs)
	}
	if n > 0 {
		r.d.released.Add(int64(n))
		r.d.cfg.Logger.Info("dispatcher: closing; claimed sends not made are handed back, for the next leader to send once", "recipients", n)
	}
}

func (r *dispatchRun) loop() {
	notifier, _ := r.d.view.(changeNotifier)
	for r.taking.Err() == nil {
		var changed <-chan struct{}
		if notifier != nil {
			changed = notifier.Changed() // before looking: nothing applied after the look is missed
		}
		claimed, err := r.fill()
		if err != nil {
			if r.taking.Err() == nil {
				r.d.cfg.Logger.Warn("dispatcher: claiming failed", "err", err)
			}
			if muster.IsCode(err, muster.ENotLeader) {
				return
			}
		}
		if claimed > 0 && err == nil {
			continue
		}
		// With nothing open, the next activation is looked for as soon as
		// an entry is applied here (its recipients are written by then),
		// not at the next poll: the first message goes out at once.
		if len(r.acts) > 0 || err != nil {
			changed = nil // busy (results and retries wake it) or failing: the poll
		}
		t := time.NewTimer(r.d.cfg.Poll)
		select {
		case <-r.taking.Done():
		case <-r.freed:
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// changeNotifier is a Viewer that says when its state has moved
// (cluster.Node does).
type changeNotifier interface {
	Changed() <-chan struct{}
}

// claimHorizon is how far ahead of a rate-limited route's sends its
// claims go: the claims that wait for the rate are about what the route
// sends in this time. A leader that crashes leaves its claims to be sent
// again, counted as possible duplicates (dispatch.resent): this bounds
// them by what it was about to send, not by MaxInFlight. At 100 a second,
// 200 claims wait at most, where 1,024 (ten seconds of sends) did.
const claimHorizon = 2 * time.Second

// ahead is how many claims on l may wait for the route's rate: claimHorizon
// of sends at the rate of the account sending now (its fallback while it
// is failed over), at least one; MaxInFlight when the route is unlimited
// or so fast that the window is the lower bound.
func (r *dispatchRun) ahead(l *lane) int {
	rate := l.route.current(r.d.cfg.Clock.Now()).perSecond()
	if limit := float64(r.d.cfg.MaxInFlight); rate <= 0 || rate*claimHorizon.Seconds() >= limit {
		return r.d.cfg.MaxInFlight
	}
	return max(1, int(math.Ceil(rate*claimHorizon.Seconds())))
}

// free is how many more recipients may be claimed on l now: room in the
// in-flight window and, on a rate-limited route, in ahead. As before, the
// places that free as sends go out are claimed again at once (the loop
// wakes on each committed batch of results), so the rate never waits for
// a claim, and a more severe call-up opened meanwhile claims them first.
func (r *dispatchRun) free(l *lane) int {
	room := r.d.cfg.MaxInFlight - int(l.inFlight.Load())
	if ahead := r.ahead(l); ahead < r.d.cfg.MaxInFlight {
		room = min(room, ahead-l.unsent())
	}
	return room
}

func (r *dispatchRun) release(l *lane, n int) {
	l.inFlight.Add(int64(-n))
	select {
	case r.freed <- struct{}{}:
	default:
	}
}

// fill claims work for every open activation while there is room in its
// route's in-flight window, and returns how many recipients it claimed.
// The most severe activations claim first (level I before IV, then the
// oldest): when a level I call-up opens while a level IV one fills the
// window, every place that frees goes to level I until it has claimed all
// its recipients.
func (r *dispatchRun) fill() (int, error) {
	if err := r.refresh(); err != nil {
		return 0, err
	}
	if err := r.ensureKey(); err != nil {
		return 0, err
	}
	if err := r.rescanOrphans(); err != nil {
		return 0, err
	}
	total := 0
	for _, ar := range r.bySeverity() {
		for !ar.skip && r.taking.Err() == nil {
			room := min(r.free(r.lanes[ar.route]), r.d.cfg.ClaimBatch)
			if room <= 0 {
				break // this route's window is full; another route's may not be
			}
			items, recs, err := r.candidates(ar, room)
			if err != nil {
				return total, err
			}
			if len(items) == 0 {
				break
			}
			n, err := r.claim(ar, items, recs)
			total += n
			if err != nil {
				// It may commit yet (a timeout), or not at all: look at
				// every recipient again (rescanOrphans).
				r.rescan.Store(true)
			}
			if err != nil {
				return total, err
			}
			if n == 0 {
				break // all taken since we looked; look again next round
			}
		}
	}
	return total, nil
}

// bySeverity lists the open activations in the order they claim: see
// severity.
func (r *dispatchRun) bySeverity() []*actRun {
	out := slices.Collect(maps.Values(r.acts))
	slices.SortFunc(out, func(a, b *actRun) int { return severity(a.a, b.a) })
	return out
}

// severity orders activations for sending: the most severe level first
// (I before IV), then the oldest (by ID).
func severity(a, b Activation) int {
	return cmp.Or(cmp.Compare(a.Level.Rank(), b.Level.Rank()), cmp.Compare(a.ID, b.ID))
}

// ensureKey reads the answer-link key, creating it if the state has none,
// once an open activation's messages need links (a public URL is set and
// the activation is not a correction, whose text carries none). Nothing
// is claimed for such an activation before the key exists.
func (r *dispatchRun) ensureKey() error {
	if r.d.cfg.PublicURL == "" || r.key.load() != nil {
		return nil
	}
	need := false
	for _, ar := range r.acts {
		need = need || (!ar.skip && ar.a.Retracts == "")
	}
	if !need {
		return nil
	}
	_, err := r.key.ensure(r.ctx, r.d.apply, r.d.view, "dispatcher")
	return err
}

// link is rec's answer link in an activation's messages: "" without a
// public URL or for a correction, whose text carries none.
func (r *dispatchRun) link(a Activation, rec Recipient) string {
	if a.Retracts != "" {
		return ""
	}
	return r.key.link(r.key.load(), r.d.cfg.PublicURL, a.ID, rec.Person, r.d.cfg.Logger)
}

// refresh loads newly opened activations and forgets closed ones.
func (r *dispatchRun) refresh() error {
	err := r.d.view.View(r.ctx, muster.Stale, func(tx *bolt.Tx) error {
		open := openActivations(tx)
		keep := map[plans.ActivationID]bool{}
		for _, id := range open {
			keep[id] = true
			if r.acts[id] != nil {
				continue
			}
			ar, err := r.load(tx, id)
			if err != nil {
				return err
			}
			r.acts[id] = ar
		}
		for id, ar := range r.acts {
			if !keep[id] {
				ar.close()
				delete(r.acts, id)
			}
		}
		return nil
	})
	if err == nil && !r.looked {
		r.looked = true
		r.announce()
	}
	return err
}

// announce names the call-ups the term found open at its first look: their
// sending resumes now. In the node's first term since it started (a
// restart, a restored backup) it is a warning: an operator who restored a
// backup taken during a call-up learns that its messages go out again.
// LIVE call-ups this node has no account for are not among them: nothing
// of theirs is sent (load warns of each).
func (r *dispatchRun) announce() {
	var ids []plans.ActivationID
	for _, id := range slices.Sorted(maps.Keys(r.acts)) {
		if !r.acts[id].skip {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return
	}
	level := slog.LevelInfo
	if r.d.runs.Load() == 1 {
		level = slog.LevelWarn
	}
	r.d.cfg.Logger.Log(r.ctx, level, "dispatcher: open call-ups found; sending them resumes now (muster stand-down ACTIVATION stops one)", "activations", ids)
}

func (r *dispatchRun) load(tx *bolt.Tx, id plans.ActivationID) (*actRun, error) {
	a, err := getActivation(tx, id)
	if err != nil {
		return nil, err
	}
	pv, err := plans.GetPlanVersion(tx, a.Plan, a.PlanVersion)
	if err != nil {
		return nil, fmt.Errorf("activation %s: %w", id, err)
	}
	ar := &actRun{a: a, level: pv.Plan.Level(a.Level), fresh: true}
	ar.ctx, ar.stop = context.WithCancel(r.taking)
	if ar.level == nil {
		ar.stop()
		return nil, fmt.Errorf("activation %s: plan %s version %d has no level %s", id, a.Plan, a.PlanVersion, a.Level)
	}
	ar.sms = newSMSRenderer(a, ar.level)
	ar.sms.standing = standingReader(ar.ctx, r.d.view, a)
	switch {
	case a.Purpose.Drill():
		ar.route = r.d.drill
	case r.d.live != nil:
		ar.route = r.d.live
	default:
		ar.skip = true
		r.d.cfg.Logger.Warn("no LIVE SMS account on this node (--twilio-account-sid): nothing of this LIVE call-up is sent while it leads; "+
			"its messages not sent yet stay pending until a leader with one takes over", "activation", id)
		return ar, nil
	}
	// Whatever is in sending now was claimed by an earlier leader (this
	// term has claimed nothing for this activation yet).
	if err := r.findOrphans(tx, ar); err != nil {
		return nil, err
	}
	if m := restoredCallUp(activationData(tx, id)); m != nil {
		r.d.cfg.Logger.Warn("dispatcher: call-up restored from a backup; the people not yet sent to in the backup are being sent again, and may have had it from the cluster the backup was taken of",
			"activation", id, "backup_taken", restoredWhen(m.BackupTime), "backup_index", m.BackupIndex, "not_sent", m.NotSent, "restore", m.Restore)
	}
	if len(ar.orphans) > 0 {
		r.d.cfg.Logger.Info("dispatcher: re-sending claims an earlier leader left unresolved", "activation", id, "recipients", len(ar.orphans))
	}
	return ar, nil
}

// findOrphans lists ar's recipients in sending that this run does not hold:
// claimed by an earlier leader, or by a claim of this run whose answer was
// lost. They are re-sent first.
func (r *dispatchRun) findOrphans(tx *bolt.Tx, ar *actRun) error {
	ad := activationData(tx, ar.a.ID)
	if ad == nil {
		return fmt.Errorf("activation %s has no recipient data", ar.a.ID)
	}
	ar.orphans = ar.orphans[:0]
	sending, _ := StateSending.code()
	cur := ad.Bucket(bRecipients).Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if len(v) > 1 && v[1] == sending && !r.holds(ar.a.ID, plans.PersonID(k)) {
			ar.orphans = append(ar.orphans, plans.PersonID(k))
		}
	}
	return nil
}

// rescanOrphans, after a claim failed or fell short (rescan), looks at
// every open activation's recipients again: those in sending that no
// worker holds are re-sent, and the scan for recipients never attempted
// starts over. At most once per minRescan.
func (r *dispatchRun) rescanOrphans() error {
	if !r.rescan.Load() || time.Since(r.lastRescan) < minRescan {
		return nil
	}
	r.rescan.Store(false)
	r.lastRescan = time.Now()
	return r.d.view.View(r.ctx, muster.Stale, func(tx *bolt.Tx) error {
		for _, ar := range r.acts {
			if ar.skip {
				continue
			}
			if err := r.findOrphans(tx, ar); err != nil {
				return err
			}
			ar.fresh, ar.cursor = true, nil
			if len(ar.orphans) > 0 {
				r.d.cfg.Logger.Info("dispatcher: re-sending claims whose outcome was lost", "activation", ar.a.ID, "recipients", len(ar.orphans))
			}
		}
		return nil
	})
}

// candidates picks up to limit recipients to claim: due retries, then
// orphans, then recipients never attempted, in key order.
func (r *dispatchRun) candidates(ar *actRun, limit int) ([]ClaimItem, map[plans.PersonID]Recipient, error) {
	var items []ClaimItem
	recs := map[plans.PersonID]Recipient{}
	now := r.d.cfg.Clock.Now()
	err := r.d.view.View(r.ctx, muster.Stale, func(tx *bolt.Tx) error {
		ad := activationData(tx, ar.a.ID)
		if ad == nil {
			return nil
		}
		rb := ad.Bucket(bRecipients)
		// Recipients added since the scan began (the escalation's backups)
		// are pending and never attempted: the scan starts over for them.
		if t := recipientTotal(ad); t != ar.total {
			ar.total, ar.fresh, ar.cursor = t, true, nil
		}
		add := func(person plans.PersonID, want State, resend bool) error {
			v := rb.Get([]byte(person))
			if v == nil {
				return nil
			}
			rec, err := decodeRecipient([]byte(person), v)
			if err != nil || rec.State != want {
				return err
			}
			att, _, err := readAttempt(ad, []byte(person))
			if err != nil {
				return err
			}
			if len(att.FailedPhones) > 0 {
				rec.Attempt = &att // the numbers it left: its retries and the log of its send
			}
			items = append(items, ClaimItem{Person: person, N: att.N, Resend: resend})
			recs[person] = rec
			return nil
		}
		for _, p := range dueRetries(ad, now, limit) {
			if err := add(p, StatePending, false); err != nil {
				return err
			}
		}
		for len(items) < limit && len(ar.orphans) > 0 {
			p := ar.orphans[0]
			ar.orphans = ar.orphans[1:]
			if err := add(p, StateSending, true); err != nil {
				return err
			}
		}
		if ar.fresh && ar.cursor == nil {
			ar.waiting = nil // the scan starts over and finds them again
		}
		for i := 0; i < len(ar.waiting) && len(items) < limit; {
			if p := ar.waiting[i]; r.originalHolds(ar, p) {
				i++
			} else {
				ar.waiting = slices.Delete(ar.waiting, i, i+1)
				if err := add(p, StatePending, false); err != nil {
					return err
				}
			}
		}
		if !ar.fresh || len(items) >= limit {
			return nil
		}
		pending, _ := StatePending.code()
		att := ad.Bucket(bAttempts)
		cur := rb.Cursor()
		k, v := cur.Seek(ar.cursor)
		if k != nil && ar.cursor != nil && string(k) == string(ar.cursor) {
			k, v = cur.Next()
		}
		for ; k != nil; k, v = cur.Next() {
			if len(items) >= limit {
				return nil
			}
			ar.cursor = append(ar.cursor[:0], k...)
			if len(v) < 2 || v[1] != pending {
				continue
			}
			if tried, err := attempted(att, k); err != nil || tried {
				if err != nil {
					return err
				}
				continue // a retry: queued with its time (dueRetries)
			}
			rec, err := decodeRecipient(k, v)
			if err != nil {
				return err
			}
			if r.originalHolds(ar, rec.Person) {
				ar.waiting = append(ar.waiting, rec.Person)
				continue
			}
			items = append(items, ClaimItem{Person: rec.Person, N: 0})
			recs[rec.Person] = rec
		}
		ar.fresh = false
		return nil
	})
	return items, recs, err
}

// originalHolds reports whether ar is a correction and this run holds the
// retracted original's send to person: claimed before the retraction, with
// no result committed yet. The correction's message to them waits for that
// result. If the send is dropped or fails, they were not reached and the
// result takes them off the correction; if it went out, the correction
// follows it. Sends an earlier leader left in flight have no result to
// wait for: their outcome is unknown and the correction goes out.
func (r *dispatchRun) originalHolds(ar *actRun, person plans.PersonID) bool {
	return ar.a.Retracts != "" && r.holds(ar.a.Retracts, person)
}

// claim commits a claim for items and hands the claimed ones to workers.
func (r *dispatchRun) claim(ar *actRun, items []ClaimItem, recs map[plans.PersonID]Recipient) (int, error) {
	payload, err := json.Marshal(dispatchClaim{Activation: ar.a.ID, Items: items, Simulated: ar.route.Simulated})
	if err != nil {
		return 0, err
	}
	l := r.lanes[ar.route]
	l.inFlight.Add(int64(len(items)))
	var res ClaimResult
	// Never forwarded: a claim that reached the next leader after its
	// dispatcher had looked for what earlier leaders left in sending
	// would leave its recipients there, sent by no one.
	if err := r.d.apply.Apply(muster.LeaderOnly(r.ctx), &muster.Command{Type: CmdDispatchClaim, Actor: "dispatcher", Payload: payload}, &res); err != nil {
		r.release(l, len(items))
		return 0, err
	}
	r.release(l, len(items)-len(res.Claimed))
	r.releasable.Store(res.Release)
	if res.Taken > 0 {
		// Another claim got some first: an earlier claim of ours whose apply
		// timed out and committed after all. Look at every recipient again.
		r.rescan.Store(true)
	}
	if res.Stopped {
		ar.skip = true
		return 0, nil
	}
	r.d.claimed.Add(int64(len(res.Claimed)))
	for _, c := range res.Claimed {
		r.hold(ar.a.ID, c.Person, true)
		if c.Resend {
			r.d.resent.Add(1)
		}
		l.push(job{act: ar, rec: recs[c.Person], n: c.N, restored: c.Restored, notNeeded: res.NotNeeded})
	}
	return len(res.Claimed), nil
}

// send makes lane l's next provider call (sendFirst) and queues its
// result.
func (r *dispatchRun) send(l *lane) {
	d := r.d
	item, ok := r.sendFirst(l)
	if !ok {
		return // leadership lost while waiting: the claims stay for the next leader
	}
	switch item.Outcome {
	case OutcomeSent:
		d.sent.Add(1)
	case OutcomeRetry:
		d.retried.Add(1)
	case OutcomeFailed:
		d.failed.Add(1)
		d.cfg.Logger.Debug("send failed", "attempt", AttemptID(item.Activation, item.Person, item.N), "code", item.Code, "err", item.Error)
	case OutcomeDropped:
		d.dropped.Add(1)
	}
	r.submitResult(l, item)
}

// sendFirst waits until lane l's route may send (its pause, its turn, its
// rate), then sends the job that goes first at that moment: a more severe
// call-up's send claimed while it waited goes before the sends claimed
// earlier. A job not to be sent (its activation closed, its message
// refused) is settled without waiting for the rate, and so is one whose
// activation closes while it waits. ok is false when the run took no
// more work meanwhile: a job taken but not sent then goes back to the
// queue (the node closing releases it), and when it ended while the
// provider call was made, whose outcome is then unknown.
func (r *dispatchRun) sendFirst(l *lane) (_ ResultItem, ok bool) {
	rs := l.route.current(r.d.cfg.Clock.Now())
	if r.taking.Err() != nil || rs.wait(r.taking, r.d.cfg.Clock) != nil {
		return ResultItem{}, false
	}
	j, from, item, body, send, taken := r.next(l, rs)
	rs.done()
	switch {
	case !taken:
		return ResultItem{}, false
	case !send:
		return item, r.ctx.Err() == nil
	case r.taking.Err() != nil:
		l.putBack(j)
		return ResultItem{}, false
	}
	return r.call(j, rs, from, item, body)
}

// next takes lane l's first job, with rs's turn held (see sendFirst), and
// prepares it; when it is to be sent, it first waits for rs's rate and
// takes the job that is first then. send is false for a job not to be
// sent; taken is false when the run took no more work first (nothing
// taken).
func (r *dispatchRun) next(l *lane, rs *routeState) (j job, from string, item ResultItem, body string, send, taken bool) {
	if rs.turn == nil { // no rate to wait for: the first job now
		j = l.pop()
		if item, body, send = r.prepare(j); send {
			from, _ = rs.pace(r.ctx) // unlimited: picks the sender, never waits
		}
		return j, from, item, body, send, true
	}
	for r.taking.Err() == nil {
		j = l.first()
		if item, body, send = r.prepare(j); !send {
			if l.take(j) {
				return j, "", item, "", false, true
			}
			continue // taken meanwhile (on the fallback's turn)
		}
		var err error
		if from, err = rs.pace(j.act.ctx); err != nil {
			continue // the run took no more work, or j's activation closed while it waited
		}
		if k := l.pop(); k.seq != j.seq { // claimed while it waited, more severe
			j = k
			item, body, send = r.prepare(j)
		}
		return j, from, item, body, send, true
	}
	return job{}, "", ResultItem{}, "", false, false
}

// resultRetryDelay is how long a result whose batch failed to commit waits
// before it is submitted again.
const resultRetryDelay = time.Second

// submitResult queues item's result for a batch. If the batch fails to
// commit while this node still leads, the result is submitted again after
// resultRetryDelay rather than given up: the provider took the send, and
// a result committed twice is stale the second time, where a recipient
// left in sending would be sent again. The recipient holds its place in
// the window until its result is committed.
func (r *dispatchRun) submitResult(l *lane, item ResultItem) {
	done := func() {
		r.hold(item.Activation, item.Person, false)
		r.release(l, 1)
	}
	err := r.results.Submit(r.ctx, item, func(_ ResultSummary, err error) {
		if err == nil || r.ctx.Err() != nil {
			done() // committed, or this term is over: the next leader re-sends what has no result
			return
		}
		if r.resultErrs.Add(1) == 1 {
			r.d.cfg.Logger.Warn("dispatcher: committing results failed; submitting them again", "err", err, "in", resultRetryDelay)
		}
		time.AfterFunc(resultRetryDelay, func() { r.submitResult(l, item) })
	})
	if err != nil {
		done()
	}
}

// call sends j's message, body, on rs from sender from (the route's turn
// and rate were waited for) and returns the outcome. ok is false when the
// run ended meanwhile.
func (r *dispatchRun) call(j job, rs *routeState, from string, item ResultItem, body string) (_ ResultItem, ok bool) {
	d := r.d
	// Stood down or retracted since the claim: nothing more goes out.
	// Answered while the send waited (they heard of it otherwise): a
	// call-up SMS asking them to reply would only ask again, and the
	// result changes nothing of their answer.
	// A backup whose person answered 到 since the claim: not needed, and
	// the dropped send takes them off the call-up (rulesStandInInFlight).
	// A phone corrected since the call-up began: the message goes to the
	// new number, and the result says so.
	open, answered, to := sendable(r.ctx, r.d.view, j.act.a.ID, j.rec.Person, j.rec.Phone, j.notNeeded)
	if !open {
		j.act.close()
	}
	if !open || answered {
		item.Outcome = OutcomeDropped
		return item, true
	}
	if to != j.rec.Phone {
		item.To = to
	}
	if fallingBack := j.rec.Attempt != nil && len(j.rec.Attempt.FailedPhones) > 0; fallingBack && plans.Landline(to) {
		// A next phone that is a landline takes no SMS and the provider
		// would refuse it: it is reported refused as not a mobile (21614)
		// without a send, and the call-up goes on again (rulesPhoneFallback).
		// First phones are not looked at here (parsing a number costs more
		// than the rest of a send's bookkeeping): the roster refuses a
		// landline before a mobile, and the provider refuses one alone.
		item.Outcome, item.Code, item.Error = OutcomeFailed, codeNotAMobile, "not sent: "+to+" is a landline, which takes no SMS"
		return item, true
	}
	id := attemptIDOf(item.Activation, item.Person, item.N, j.restored)
	sms := SMS{AttemptID: id, To: to, From: from, Body: body}
	if d.cfg.PublicURL != "" {
		sms.StatusCallback = strings.TrimRight(d.cfg.PublicURL, "/") + "/hooks/twilio/sms-status?attempt=" + url.QueryEscape(id)
	}
	sent, err := rs.Provider.SendSMS(r.ctx, sms)
	if r.ctx.Err() != nil {
		return item, false // the outcome is unknown; the next leader re-sends
	}
	item.Fallback = rs != j.act.route
	d.failover(j.act.route, rs, err)
	r.classify(j, rs, &item, sent, err)
	d.refused(j.act.route, rs, err)
	if item.Outcome == OutcomeSent && j.rec.Attempt != nil && len(j.rec.Attempt.FailedPhones) > 0 {
		left := j.rec.Attempt.FailedPhones
		d.cfg.Logger.Info("dispatcher: call-up SMS sent to the person's next phone; the one before cannot take SMS",
			"activation", item.Activation, "recipient", item.Person, "attempt", id, "to", to,
			"failed", left[len(left)-1].Phone, "code", left[len(left)-1].Code, "numbers_failed", len(left))
	}
	return item, true
}

// prepare renders j's message. ok is false when no send is to be made,
// with item's outcome saying why: the message breaks a safety rule, the
// roster has no phone, or the activation was found closed.
func (r *dispatchRun) prepare(j job) (item ResultItem, body string, ok bool) {
	item = ResultItem{Activation: j.act.a.ID, Person: j.rec.Person, N: j.n}
	if j.act.closed.Load() {
		item.Outcome = OutcomeDropped // see call
		return item, "", false
	}
	body, err := r.message(j)
	switch {
	case err != nil:
		item.Outcome, item.Error = OutcomeFailed, err.Error()
	case j.rec.Phone == "":
		item.Outcome, item.Error = OutcomeFailed, "the roster has no phone number for this person"
	default:
		return item, body, true
	}
	return item, "", false
}

// isOpen reports whether activation id is open in view's local state. The
// dispatcher and the escalator read it just before each provider call:
// once a stand-down or a retraction is applied here, no further send of it
// starts.
func isOpen(ctx context.Context, view Viewer, id plans.ActivationID) bool {
	open, _, _ := sendable(ctx, view, id, "", "", false)
	return open
}

// sendable reports, from view's local state, whether activation id is open
// and, with person set, whether they have answered it already and the
// number a message to them goes to now (currentPhone of phone, the number
// the call-up has for them), in one read. With backups set, a backup
// whose person they stand in for has answered 到 reads as answered: their
// call-up is no longer needed (rulesStandInInFlight).
func sendable(ctx context.Context, view Viewer, id plans.ActivationID, person plans.PersonID, phone string, backups bool) (open, answered bool, to string) {
	to = phone
	err := view.View(ctx, muster.Stale, func(tx *bolt.Tx) error {
		ob := tx.Bucket(bOpen)
		open = ob != nil && ob.Get([]byte(id)) != nil
		if !open || person == "" {
			return nil
		}
		if ad := activationData(tx, id); ad != nil {
			rb := ad.Bucket(bRecipients)
			v := rb.Get([]byte(person))
			answered = len(v) >= 2 && stateOf(v[1]).Answered()
			if !answered && backups {
				s, err := standInOf(ad, person)
				if err != nil {
					return err
				}
				if s != nil {
					v := rb.Get([]byte(s.Person))
					answered = len(v) >= 2 && stateOf(v[1]) == StateAcked
				}
			}
		}
		to = currentPhone(tx, person, phone)
		return nil
	})
	return err == nil && open, answered, to
}

// currentPhone is the number a message to person goes to now: phone, the
// number the call-up has for them, while the roster still gives it to
// them; else their first phone in the roster (corrected since the call-up
// began). Someone no longer in the roster keeps phone. A number that is
// still theirs is kept even when another was put before it. The roster
// keeps who last had each number it dropped (rules 5): a number that no
// one ever dropped is still theirs, which one read of that small index
// says; the phone index, and the person's record when the number left
// them, are read only for the others.
func currentPhone(tx *bolt.Tx, person plans.PersonID, phone string) string {
	if phone != "" && (plans.FormerPersonByPhone(tx, phone) == "" || plans.PersonByPhone(tx, phone) == person) {
		return phone
	}
	p, ok, err := plans.GetPerson(tx, person)
	if err != nil || !ok || len(p.Phones) == 0 {
		return phone
	}
	return p.Phones[0]
}

// message renders the SMS and checks the safety rules again at the last
// moment: drills only on the exercise route and always marked, LIVE never
// on the exercise route.
func (r *dispatchRun) message(j job) (string, error) {
	a := j.act.a
	if a.Purpose.Drill() != j.act.route.Exercise {
		return "", fmt.Errorf("refused: %s traffic may not use the %s route", a.Purpose, j.act.route.Name)
	}
	body, err := j.act.sms.render(j.rec, r.link(a, j.rec))
	if err != nil {
		return "", err
	}
	if a.Purpose.Drill() && !strings.HasPrefix(body, plans.ExerciseMark) {
		return "", fmt.Errorf("refused: a %s message without %s", a.Purpose, plans.ExerciseMark)
	}
	return body, nil
}

// outage reports whether err says the provider account is unreachable,
// failing (5xx, timeouts, broken connections) or refused (SendError.Account:
// its credentials, a suspended account), not that one message was refused
// or throttled.
func outage(err error) bool {
	var se *SendError
	if err == nil || !errors.As(err, &se) {
		return err != nil
	}
	return se.Account || se.Temporary && !throttled(se) && (se.HTTPStatus >= 500 || se.HTTPStatus == 0)
}

// failover records a send's result on route, made on used (the route or
// its fallback), and logs a move of its sends; the dispatcher counts a
// failover.
func (d *Dispatcher) failover(route, used *routeState, err error) {
	if logFailover(d.cfg.Logger, "dispatcher", route, route.recordSend(d.cfg.Clock.Now(), used, err, d.cfg.FailoverAfter, d.cfg.FailoverFor), d.cfg.FailoverFor, err) == failoverAway {
		d.failovers.Add(1)
	}
}

// failoverMove is what a send's result did to its route's failover.
type failoverMove int

const (
	failoverNone failoverMove = iota
	failoverAway              // the sends moved to the fallback
	failoverBack              // the fallback failing too, they moved back
)

// recordSend records the result of a send made on used (r or its
// fallback) towards moving r's sends to the fallback (outcome) or back
// (fallbackOutcome), and reports a move. The dispatcher and the escalator
// send on the same routes and record alike.
func (r *routeState) recordSend(now time.Time, used *routeState, err error, after int, hold time.Duration) failoverMove {
	switch {
	case used == r && r.outcome(now, outage(err), after, hold):
		return failoverAway
	case used != r && r.fallbackOutcome(now, outage(err), after):
		return failoverBack
	}
	return failoverNone
}

// logFailover logs move of route's sends, as who (dispatcher, escalator)
// saw it, and returns move.
func logFailover(l *slog.Logger, who string, route *routeState, move failoverMove, hold time.Duration, err error) failoverMove {
	switch move {
	case failoverAway:
		l.Warn(who+": provider account failing; sends move to the fallback account",
			"route", route.Name, "account", route.Account, "fallback", route.fallback.Account, "for", hold)
	case failoverBack:
		l.Warn(who+": the fallback provider account is failing too; sends go back to the first account",
			"route", route.Name, "account", route.Account, "fallback", route.fallback.Account, "error", err)
	}
	return move
}

// refused logs, at most once a minute per route, that the provider refused
// the account of rs (primary's, or its fallback's) itself
// (SendError.Account): until its credentials are put right every send on
// it fails, and only the other account of the route sends.
func (d *Dispatcher) refused(primary, rs *routeState, err error) {
	var se *SendError
	if !errors.As(err, &se) || !se.Account {
		return
	}
	now := d.cfg.Clock.Now()
	last := rs.refusedLogged.Load()
	if last != 0 && now.Sub(time.Unix(0, last)) < time.Minute || !rs.refusedLogged.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	fallback := "no fallback account: sends are retried with backoff and fail once their attempts are spent"
	switch after := strconv.Itoa(d.cfg.FailoverAfter); {
	case rs != primary: // the fallback refuses
		fallback = "this is the fallback of " + primary.Account + ": sends go back to it after " + after + " refusals in a row"
	case rs.fallback != nil:
		fallback = "sends move to the fallback account " + rs.fallback.Account + " after " + after + " refusals in a row"
	}
	d.cfg.Logger.Error("dispatcher: the provider refuses the account itself, not a message: check its account SID and auth token (a rotated token, a suspended account)",
		"route", rs.Name, "account", rs.Account, "http", se.HTTPStatus, "code", se.Code, "error", se.Message, "then", fallback)
}

func (r *dispatchRun) classify(j job, route *routeState, item *ResultItem, sent Sent, err error) {
	d := r.d
	if err == nil {
		item.Outcome, item.SID = OutcomeSent, sent.ProviderID
		return
	}
	var se *SendError
	if !errors.As(err, &se) {
		se = &SendError{Temporary: true, Message: err.Error()}
	}
	item.Code, item.Error = se.Code, se.Message
	// The provider is throttling or failing: hold the whole route, not just
	// this recipient, so an outage costs a few requests per pause instead of
	// one per recipient.
	if throttled(se) {
		d.throttled.Add(1)
	}
	if h := holdFor(se, d.cfg.Backoff); h > 0 {
		route.pause(d.cfg.Clock.Now().Add(h))
	}
	tries := j.n // to this number: a call-up that went on to another counts from there
	if j.rec.Attempt != nil {
		tries = j.rec.Attempt.onNumber(j.n)
	}
	if !se.Temporary || tries >= attemptsFor(se, d.cfg.MaxAttempts, d.cfg.MaxOutageAttempts) {
		item.Outcome = OutcomeFailed
		if se.Temporary {
			item.Error = fmt.Sprintf("gave up after %d attempts: %s", tries, se.Message)
		}
		return
	}
	item.Outcome = OutcomeRetry
	item.NextTry = d.cfg.Clock.Now().Add(max(backoff(d.cfg.Backoff, d.cfg.MaxBackoff, tries), se.RetryAfter))
}

// attemptsFor is how many attempts a send has when its last failed with
// se: outageAttempts for an outage of the provider account (outage: it
// may last minutes, and every send meets it) and for the provider
// throttling it (no fault of the number's: it lasts while the account
// sends more than the provider takes, and burnt a step's reminders in
// three quick refusals), attempts for anything else.
func attemptsFor(se *SendError, attempts, outageAttempts int) int {
	if outage(se) || throttled(se) {
		return outageAttempts
	}
	return attempts
}

// backoff is the delay before attempt n+1: first·2ⁿ⁻¹ capped at most, of
// which a random half ("equal jitter"), so a storm's failures do not come
// back at once.
func backoff(first, most time.Duration, n int) time.Duration {
	d := min(first<<min(n-1, 20), most)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// flushResults proposes a batch of results as one raft entry.
func (r *dispatchRun) flushResults(ctx context.Context, items []ResultItem) ([]ResultSummary, error) {
	payload, err := json.Marshal(dispatchResult{Items: items})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var sum ResultSummary
	if err := r.d.apply.Apply(ctx, &muster.Command{Type: CmdDispatchResult, Actor: "dispatcher", Payload: payload}, &sum); err != nil {
		return nil, err
	}
	out := make([]ResultSummary, len(items))
	for i := range out {
		out[i] = sum
	}
	return out, nil
}

// sweepLoop asks route's provider for the status of its sends whose
// delivery report is overdue, every quarter of ReportTimeout (at most every
// 30s), until the run ends. Each route has its own loop: a slow exercise
// account does not hold up the LIVE sweep.
func (r *dispatchRun) sweepLoop(route *routeState) {
	every := min(r.d.cfg.ReportTimeout/4, 30*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	fetched := map[string]time.Time{} // attempt ID → when last asked
	for {
		select {
		case <-r.taking.Done():
			return
		case <-t.C:
		}
		var open []plans.ActivationID
		err := r.d.view.View(r.ctx, muster.Stale, func(tx *bolt.Tx) error {
			open = openActivations(tx)
			return nil
		})
		if err != nil {
			continue
		}
		for _, id := range open {
			if err := r.sweep(id, route, fetched); err != nil && r.ctx.Err() == nil {
				r.d.cfg.Logger.Warn("dispatcher: checking overdue delivery reports failed", "activation", id, "route", route.Name, "err", err)
			}
		}
	}
}

// sweepLimit bounds the statuses asked for per activation per sweep.
const sweepLimit = 2000

// sweep asks route's provider for the status of up to sweepLimit messages
// of one activation that were sent more than ReportTimeout ago and have no
// delivery report, and proposes the final ones as delivery reports. An
// activation of the other route is left to that route's sweep.
func (r *dispatchRun) sweep(id plans.ActivationID, route *routeState, fetched map[string]time.Time) error {
	now := r.d.cfg.Clock.Now()
	type overdue struct{ attempt, sid string }
	var due []overdue
	err := r.d.view.View(r.ctx, muster.Stale, func(tx *bolt.Tx) error {
		a, err := getActivation(tx, id)
		if err != nil {
			return err
		}
		if (route == r.d.drill) != a.Purpose.Drill() {
			return nil
		}
		ad := activationData(tx, id)
		if ad == nil {
			return nil
		}
		if c := ad.Bucket(bCounters).Get(stateKey(StateSent)); c == nil {
			return nil // nothing is waiting for a report
		}
		sent, _ := StateSent.code()
		cur := ad.Bucket(bRecipients).Cursor()
		for k, v := cur.First(); k != nil && len(due) < sweepLimit; k, v = cur.Next() {
			if len(v) < 2 || v[1] != sent {
				continue
			}
			att, ok, err := readAttempt(ad, k)
			if err != nil {
				return err
			}
			if !ok || att.SID == "" || now.Sub(att.Updated) < r.d.cfg.ReportTimeout {
				continue
			}
			aid := attemptIDOf(id, plans.PersonID(k), att.N, att.Restored)
			if last, ok := fetched[aid]; ok && now.Sub(last) < r.d.cfg.ReportTimeout {
				continue
			}
			due = append(due, overdue{aid, att.SID})
		}
		return nil
	})
	if err != nil || len(due) == 0 {
		return err
	}
	f, ok := route.Provider.(StatusFetcher)
	if !ok {
		return nil
	}
	items := make([]InboundItem, 0, len(due))
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		failed   int
		firstErr error
	)
	next := atomic.Int64{}
	for range min(8, len(due)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(due) || r.ctx.Err() != nil {
					return
				}
				rep, err := f.FetchSMS(r.ctx, due[i].sid)
				if err != nil && route.fallback != nil { // it may have gone out on the fallback account
					if ff, ok := route.fallback.Provider.(StatusFetcher); ok {
						rep, err = ff.FetchSMS(r.ctx, due[i].sid)
					}
				}
				r.d.fetched.Add(1)
				mu.Lock()
				fetched[due[i].attempt] = now
				if err != nil && r.ctx.Err() == nil {
					if failed++; firstErr == nil {
						firstErr = fmt.Errorf("%s (%s): %w", due[i].attempt, due[i].sid, err)
					}
				}
				if to, _ := reportedProgress(rep.Status); err == nil && (to == StateDelivered || failureReport(rep.Status)) {
					items = append(items, InboundItem{Kind: InboundStatus, Attempt: due[i].attempt, SID: due[i].sid, Status: rep.Status, Code: rep.Code,
						Account: route.Account, Exercise: route.Exercise})
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failed > 0 {
		// Their outcome stays unknown (sent): say so rather than ask again in
		// silence. A node's built-in simulator does not know what another
		// node's sent before a failover, for one.
		r.d.lookupsFailed.Add(int64(failed))
		r.d.cfg.Logger.Warn("dispatcher: the provider could not give the status of sends whose delivery report is overdue; they stay sent, outcome unknown",
			"activation", id, "route", route.Name, "failed", failed, "asked", len(due), "first", firstErr)
	}
	for len(items) > 0 && r.ctx.Err() == nil {
		n := min(len(items), 500)
		payload, err := json.Marshal(inboundBatch{Items: items[:n]})
		if err != nil {
			return err
		}
		var out []InboundResult
		if err := r.d.apply.Apply(r.ctx, &muster.Command{Type: CmdInbound, Actor: "dispatcher", Payload: payload}, &out); err != nil {
			return err
		}
		items = items[n:]
	}
	// Forget what is long past: the map holds at most a few sweeps' worth.
	for k, t := range fetched {
		if now.Sub(t) > 4*r.d.cfg.ReportTimeout {
			delete(fetched, k)
		}
	}
	return nil
}
