package drills

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"muster"
)

// DefaultTick is how often a Scheduler's Run passes over the schedules
// unless configured otherwise: a due drill starts at most this late.
const DefaultTick = 5 * time.Second

// DefaultPostponeRetry is how long a postponed drill (by a live emergency,
// or a region's recovery after one) waits between looks unless configured
// otherwise: it starts at most this long after the emergency stands down,
// or the region's recovery ends. Each look is one raft entry.
const DefaultPostponeRetry = time.Minute

// OneOffPostponeLimit is how long a one-off drill waits out a live
// emergency (and a region's recovery after one) before it is given up and
// recorded missed. A recurring drill
// gives up at its next due time; a one-off has none, and a drill that
// starts days late, just after the real thing, helps no one.
const OneOffPostponeLimit = 24 * time.Hour

// MaxMissedRecorded bounds the due times one fire records as missed runs one
// by one, when the cluster was down through many of them; the rest are
// counted on the schedule (Fire.MissedMore) and in the TickReport.
const MaxMissedRecorded = 1000

// maxMissedCounted bounds the walk through due times that passed unseen;
// beyond it the scheduler jumps to the present and the count it reports is a
// lower bound (only a cron firing every minute for months gets there).
const maxMissedCounted = 100_000

// SchedulerActor is the actor every command of the scheduler carries, so
// its runs and stand-downs are told apart from a person's in the audit.
const SchedulerActor = "scheduler"

// SchedulerConfig tunes a Scheduler. Zero fields take the defaults noted.
type SchedulerConfig struct {
	// Tick is how often Run looks for due drills and runs whose length is
	// over (default 5s).
	Tick time.Duration
	// PostponeRetry is how long a postponed drill (by a live emergency, or a
	// region's recovery after one) waits before the scheduler looks again (default 5m); never past the
	// schedule's next due time.
	PostponeRetry time.Duration
	// Logger receives what each pass did (default slog.Default()).
	Logger *slog.Logger
}

// Scheduler is the leader-only drill scheduler: it starts the runs that come
// due, records the due times that cannot run, and stands each run down when
// its length is over. It keeps nothing in memory between passes; every
// decision is read from the replicated state and stamped into a command
// (Fire, close) that claims the due time, so any number of schedulers —
// an old leader's and a new one's — start each due time at most once.
type Scheduler struct {
	svc  *Service
	view Viewer
	cfg  SchedulerConfig
	log  *slog.Logger
}

// NewScheduler returns a scheduler that reads the state through v (the
// node's local state: it runs on the leader, after its Barrier) and proposes
// through svc, whose clock it reads.
func NewScheduler(svc *Service, v Viewer, cfg SchedulerConfig) *Scheduler {
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultTick
	}
	if cfg.PostponeRetry <= 0 {
		cfg.PostponeRetry = DefaultPostponeRetry
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Scheduler{svc: svc, view: v, cfg: cfg, log: cfg.Logger.With("service", "drill-scheduler")}
}

// Run passes over the schedules every Tick until ctx is done, logging what
// each pass did; it returns when ctx is cancelled and leaves no goroutine
// behind. A cluster node runs it with OnLeader, so it starts after the new
// leader's Barrier and stops when leadership is lost.
func (s *Scheduler) Run(ctx context.Context) {
	s.log.Info("drill scheduler started", "tick", s.cfg.Tick, "postpone_retry", s.cfg.PostponeRetry)
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		rep, err := s.Tick(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("drill scheduler pass failed in part; the rest is retried next pass", append(rep.LogAttrs(), "err", err)...)
		case !rep.Idle():
			s.log.Info("drill scheduler pass", rep.LogAttrs()...)
		}
		select {
		case <-ctx.Done():
			s.log.Info("drill scheduler stopped")
			return
		case <-t.C:
		}
	}
}

// TickReport is what one pass of the scheduler did.
type TickReport struct {
	At  time.Time `json:"at"`  // the service clock's time the pass went by
	Due int       `json:"due"` // schedules found due
	// Started are the runs whose EXERCISE activation was created.
	Started []RunID `json:"started,omitempty"`
	// Postponed are the schedules whose occurrence waits for a live
	// emergency in its regions, or a region's recovery after one, to end.
	Postponed []ScheduleID `json:"postponed,omitempty"`
	// Missed are the runs recorded missed: due times that passed while the
	// cluster was down, or that a live emergency (or the recovery after
	// it) held until the next one.
	Missed []RunID `json:"missed,omitempty"`
	// MissedUnrecorded counts missed due times beyond MaxMissedRecorded per
	// fire, added to their schedule's missed count without a run each.
	MissedUnrecorded int `json:"missed_unrecorded,omitempty"`
	// Failed are the runs whose activation could not be created.
	Failed []RunID `json:"failed,omitempty"`
	// Closed are the runs whose length was over: their activation stood down.
	Closed []RunID `json:"closed,omitempty"`
	// Conflicts counts due times and runs another scheduler (an old leader's)
	// had already handled; nothing was done for them.
	Conflicts int `json:"conflicts,omitempty"`
}

// Idle reports whether the pass found nothing to do.
func (r TickReport) Idle() bool {
	return r.Due == 0 && len(r.Closed) == 0 && r.Conflicts == 0
}

// LogAttrs are the report's counts and IDs as slog key-value pairs.
func (r TickReport) LogAttrs() []any {
	return []any{"at", r.At, "due", r.Due, "started", len(r.Started), "postponed", len(r.Postponed),
		"missed", len(r.Missed) + r.MissedUnrecorded, "failed", len(r.Failed), "closed", len(r.Closed), "conflicts", r.Conflicts,
		"started_runs", r.Started, "postponed_schedules", r.Postponed, "missed_runs", r.Missed, "failed_runs", r.Failed, "closed_runs", r.Closed}
}

// Tick is one pass at the service clock's time: every run whose length is
// over is closed (its activation stood down), then every schedule whose
// occurrence is due gets one Fire, which starts, postpones or records it.
// Its cost follows what is due, not how many schedules exist. An error from
// one schedule or run does not stop the others; the errors are joined and
// the report says what was done. A due time another scheduler handled first
// is counted in Conflicts, not an error. A pass has at most 8 commands in
// flight at once, and returns when all have returned.
func (s *Scheduler) Tick(ctx context.Context) (TickReport, error) {
	now := s.svc.Now()
	rep := TickReport{At: now}
	ended, due, err := s.read(ctx, now)
	if err != nil {
		return rep, fmt.Errorf("drill scheduler: read due drills: %w", err)
	}
	rep.Due = len(due)
	// Runs whose length is over are closed before any due time is fired:
	// a schedule's next run never starts while its run before is open.
	closes := make([]func(*TickReport) error, 0, len(ended))
	for _, id := range ended {
		closes = append(closes, func(rep *TickReport) error { return s.close(ctx, id, rep) })
	}
	fires := make([]func(*TickReport) error, 0, len(due))
	for _, sc := range due {
		fires = append(fires, func(rep *TickReport) error { return s.fire(ctx, sc, now, rep) })
	}
	errs := s.do(ctx, closes, &rep)
	if ctx.Err() == nil {
		errs = append(errs, s.do(ctx, fires, &rep)...)
	}
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	rep.sort()
	return rep, errors.Join(errs...)
}

// do does jobs, at most tickWorkers at once, adding what each did to rep,
// and returns when all have returned (or ctx is done), with their errors.
// Closes and fires of different runs and schedules are independent: a few
// in flight at once share the raft log's batches and fsyncs.
func (s *Scheduler) do(ctx context.Context, jobs []func(*TickReport) error, rep *TickReport) []error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		work = make(chan func(*TickReport) error)
	)
	for range min(tickWorkers, len(jobs)) {
		wg.Go(func() {
			for job := range work {
				var part TickReport
				err := job(&part)
				mu.Lock()
				rep.add(part)
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		})
	}
feed:
	for _, job := range jobs {
		select {
		case work <- job:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	return errs
}

// close stands run id down: its length is over.
func (s *Scheduler) close(ctx context.Context, id RunID, rep *TickReport) error {
	r, err := s.svc.Close(ctx, SchedulerActor, id, "演练结束")
	switch {
	case muster.IsCode(err, muster.EConflict) || muster.IsCode(err, muster.ENotFound):
		rep.Conflicts++ // another scheduler closed it first
		return nil
	case err != nil:
		return fmt.Errorf("close drill run %s: %w", id, err)
	}
	rep.Closed = append(rep.Closed, id)
	s.log.Info("drill run over: call-up stood down", "run", id, "schedule", r.Schedule, "activation", r.Activation)
	return nil
}

// tickWorkers bounds the commands one pass has in flight at once.
const tickWorkers = 8

// add counts what part did into r.
func (r *TickReport) add(part TickReport) {
	r.Started = append(r.Started, part.Started...)
	r.Postponed = append(r.Postponed, part.Postponed...)
	r.Missed = append(r.Missed, part.Missed...)
	r.MissedUnrecorded += part.MissedUnrecorded
	r.Failed = append(r.Failed, part.Failed...)
	r.Closed = append(r.Closed, part.Closed...)
	r.Conflicts += part.Conflicts
}

// sort orders the report's IDs, which concurrent fires append in any order.
func (r *TickReport) sort() {
	slices.Sort(r.Started)
	slices.Sort(r.Postponed)
	slices.Sort(r.Missed)
	slices.Sort(r.Failed)
	slices.Sort(r.Closed)
}

// read lists, from the local state, the runs whose length is over and the
// schedules whose occurrence is due at now, each from its time index. The
// local state is enough: the scheduler runs on the leader after its Barrier,
// and every Fire and close is checked again as it applies, so a read that
// is behind costs a conflict, never a second run.
func (s *Scheduler) read(ctx context.Context, now time.Time) ([]RunID, []Schedule, error) {
	var (
		ended []RunID
		due   []Schedule
	)
	err := s.view.View(ctx, muster.Stale, func(tx *bolt.Tx) error {
		ended, due = nil, nil
		for _, id := range upTo(tx.Bucket(bEnds), now) {
			ended = append(ended, RunID(id))
		}
		for _, id := range upTo(tx.Bucket(bDue), now) {
			sc, err := getSchedule(tx, ScheduleID(id))
			if err != nil {
				return err
			}
			due = append(due, sc)
		}
		return nil
	})
	return ended, due, err
}

// upTo lists the IDs of a time index (8-byte big-endian unix nanos + ID)
// whose time is at or before now, oldest first.
func upTo(b *bolt.Bucket, now time.Time) []string {
	if b == nil {
		return nil
	}
	var ids []string
	limit := uint64(now.UnixNano())
	c := b.Cursor()
	for k, _ := c.First(); k != nil && len(k) >= 8 && binary.BigEndian.Uint64(k[:8]) <= limit; k, _ = c.Next() {
		ids = append(ids, string(k[8:]))
	}
	return ids
}

// fire proposes the Fire that answers sc's due occurrence, and again for
// the occurrence after it while that one is due too (a due time within
// Grace of now when the cluster comes back, say).
func (s *Scheduler) fire(ctx context.Context, sc Schedule, now time.Time, rep *TickReport) error {
	for range 4 {
		f, err := s.decide(&sc, now)
		if err != nil {
			return fmt.Errorf("drill schedule %s: %w", sc.ID, err)
		}
		if !f.Skip {
			// The schedule's run before still open when this occurrence
			// was to start (one run by hand, or one that started late
			// after a postponement) would be overlapped: the due time is
			// recorded missed with why, as a postponed one is. A run
			// whose length is over was closed earlier in the pass; one
			// whose length ends a little after, having started as late
			// after its own due time, is stood down by this fire.
			last, end, isOpen, err := s.dueOpen(ctx, &sc, f, now)
			if err != nil {
				return fmt.Errorf("drill schedule %s: %w", sc.ID, err)
			}
			if isOpen {
				f.Skip, f.RetryAt = true, time.Time{}
				f.Reason = "not started: " + describeOpenAt(last, end) + " (runs of a schedule do not overlap)"
			} else if other, isOpen, err := s.otherOpen(ctx, &sc, f, now); err != nil {
				return fmt.Errorf("drill schedule %s: %w", sc.ID, err)
			} else if isOpen {
				// Nor another drill's run over the same people (a
				// second schedule of the district, a run by hand): the
				// due time is recorded missed the same way.
				f.Skip, f.RetryAt = true, time.Time{}
				f.Reason = "not started: " + describeOther(other)
			}
		}
		var res FireResult
		err = s.svc.Fire(ctx, SchedulerActor, f, &res)
		switch {
		case muster.IsCode(err, muster.EConflict) || muster.IsCode(err, muster.ENotFound):
			// Another scheduler (an old leader's, or one ticking alongside)
			// handled this due time, or the schedule was paused or deleted.
			rep.Conflicts++
			s.log.Debug("drill due time already handled", "schedule", sc.ID, "due", f.Due, "err", err)
			return nil
		case err != nil:
			return fmt.Errorf("fire drill schedule %s due %s: %w", sc.ID, f.Due.Format(time.RFC3339), err)
		}
		s.note(&sc, f, &res, rep)
		sc = res.Schedule
		if sc.Paused || sc.Postponed != nil || sc.RunAt.IsZero() || sc.RunAt.After(now) {
			return nil
		}
	}
	return nil
}

// dueOpen reads whether sc's last run overlaps the occurrence f answers
// (see dueTimeOpen), judged at now.
func (s *Scheduler) dueOpen(ctx context.Context, sc *Schedule, f Fire, now time.Time) (Run, time.Time, bool, error) {
	var (
		r    Run
		end  time.Time
		open bool
	)
	err := s.view.View(ctx, muster.Stale, func(tx *bolt.Tx) error {
		var err error
		r, end, open, _, err = dueTimeOpen(tx, sc, occurrenceStart(sc, f, now), now)
		return err
	})
	return r, end, open, err
}

// otherOpen reads whether another drill's run is open over sc's regions
// at the occurrence f answers (see otherRunOpen), judged at now.
func (s *Scheduler) otherOpen(ctx context.Context, sc *Schedule, f Fire, now time.Time) (Run, bool, error) {
	var (
		r    Run
		open bool
	)
	err := s.view.View(ctx, muster.Stale, func(tx *bolt.Tx) error {
		var err error
		r, open, _, err = otherRunOpen(tx, sc, occurrenceStart(sc, f, now), now)
		return err
	})
	return r, open, err
}

// note adds what a fire did to the report and the log.
func (s *Scheduler) note(sc *Schedule, f Fire, res *FireResult, rep *TickReport) {
	for _, r := range res.Missed {
		rep.Missed = append(rep.Missed, r.ID)
		s.log.Warn("drill due time missed", "schedule", sc.ID, "plan", sc.Plan, "due", r.Due, "run", r.ID, "reason", r.Error)
	}
	if f.MissedMore > 0 {
		rep.MissedUnrecorded += f.MissedMore
		s.log.Warn("drill due times missed, too many to record one by one", "schedule", sc.ID, "plan", sc.Plan, "count", f.MissedMore)
	}
	if p := res.Postponed; p != nil {
		rep.Postponed = append(rep.Postponed, sc.ID)
		s.log.Info("drill postponed", "by", WaitedWhat(p.waitedFor()), "schedule", sc.ID, "plan", sc.Plan, "due", p.Due,
			"regions", p.Regions, "reason", p.Reason, "checks", p.Checks, "retry_at", res.Schedule.RunAt)
	}
	r := res.Run
	if r == nil {
		return
	}
	switch r.Status {
	case RunStarted:
		rep.Started = append(rep.Started, r.ID)
		s.log.Info("drill started", "schedule", sc.ID, "plan", sc.Plan, "due", r.Due, "run", r.ID,
			"activation", r.Activation, "participants", r.Participants, "waited", r.Waited.Std(), "ends_at", r.EndsAt)
	case RunMissed:
		rep.Missed = append(rep.Missed, r.ID)
		s.log.Warn("drill due time missed", "schedule", sc.ID, "plan", sc.Plan, "due", r.Due, "run", r.ID, "reason", r.Error)
	case RunFailed:
		rep.Failed = append(rep.Failed, r.ID)
		s.log.Warn("drill failed to start", "schedule", sc.ID, "plan", sc.Plan, "due", r.Due, "run", r.ID, "err", r.Error)
	}
}

// decide stamps the Fire that answers sc's occurrence at now:
//   - a postponed occurrence is tried again (and given up once the next due
//     time has come);
//   - an occurrence on time (its start no more than Grace ago) is run;
//   - an occurrence late because the whole cluster was down, with any due
//     times after it that passed unseen, follows the catch-up policy: skip
//     records them all missed; once runs the latest of them if it is no
//     older than CatchUpWithin and the next due time cannot start before
//     that run's length is over, and records the others missed. So a
//     catch-up starts at most one run, never alongside or just before the
//     next due time's.
//
// Next is always the first due time not yet passed, its start picked by the
// service (inside the window for a no-notice drill).
func (s *Scheduler) decide(sc *Schedule, now time.Time) (Fire, error) {
	f := Fire{Schedule: sc.ID, Due: sc.Due}
	loc, err := sc.Location()
	if err != nil {
		return f, err
	}
	w, err := walkUnseen(sc, now, loc)
	if err != nil {
		return f, err
	}
	if !w.next.IsZero() {
		if f.NextRunAt, err = s.svc.pick(sc, w.next, now); err != nil {
			return f, err
		}
	}
	f.Next = w.next
	retry := func() time.Time {
		t := now.Add(s.cfg.PostponeRetry)
		if !f.Next.IsZero() && f.Next.Before(t) {
			t = f.Next // look again at the next due time, and give it up then
		}
		return t
	}
	passed := len(w.overdue) > 0 // due times after sc.Due passed unseen
	switch {
	case sc.Postponed != nil && !passed && f.Next.IsZero() && now.Sub(sc.Postponed.Since) >= OneOffPostponeLimit:
		f.Skip = true
		f.Reason = fmt.Sprintf("postponed by %s for %s, the most a one-off drill waits: %s", WaitedWhat(sc.Postponed.waitedFor()), OneOffPostponeLimit, sc.Postponed.Reason)
	case sc.Postponed != nil && !passed && (f.Next.IsZero() || f.Next.After(now)):
		f.RetryAt = retry()
	case sc.Postponed != nil && !passed:
		f.Skip = true
		f.Reason = "postponed by " + WaitedWhat(sc.Postponed.waitedFor()) + " until its next due time: " + sc.Postponed.Reason
	case sc.Postponed == nil && !passed && now.Sub(sc.RunAt) <= Grace:
		f.RetryAt = retry()
	default:
		// Late: the cluster was down at sc.Due, and perhaps at later ones.
		latest, start := sc.Due, sc.RunAt
		if passed {
			latest = w.last
			start = latestStart(sc, latest, loc)
			f.RunDue = latest
			f.Missed = w.overdue
			if f.Missed[len(f.Missed)-1].Equal(latest) {
				f.Missed = f.Missed[:len(f.Missed)-1]
			} else {
				w.more-- // latest is counted among the unlisted; it is answered
			}
			f.MissedMore = w.more
		}
		late := now.Sub(start)
		// A catch-up run starts now and calls the same people up for a
		// length: a next due time that can start before it is over would
		// be recorded missed for it, or run on its heels. The due time on
		// schedule runs; the late one is given up.
		crowded := !f.Next.IsZero() && earliestStart(sc, f.Next, loc).Before(now.Add(sc.RunLength()))
		switch {
		case sc.CatchUp == CatchUpOnce && late <= sc.CatchUpWithin.Std() && crowded:
			f.Skip = true
			f.Reason = fmt.Sprintf("the cluster was down at its due time; not caught up, as its next due time (%s) comes before a catch-up run of %s would be over",
				f.Next.In(loc).Format("2006-01-02 15:04 -07:00"), shortDuration(sc.RunLength()))
		case sc.CatchUp == CatchUpOnce && late <= sc.CatchUpWithin.Std():
			f.RetryAt = retry()
		case sc.CatchUp == CatchUpOnce:
			f.Skip = true
			f.Reason = fmt.Sprintf("the cluster was down at its due time, %s ago: more than the catch-up window of %s", late.Round(time.Minute), sc.CatchUpWithin.Std())
		default:
			f.Skip = true
			f.Reason = "the cluster was down at its due time (catch-up policy skip)"
		}
	}
	return f, nil
}

// unseen is the walk through the due times after a schedule's occurrence
// that passed unseen.
type unseen struct {
	overdue []time.Time // the first MaxMissedRecorded of them, oldest first
	more    int         // how many more passed
	last    time.Time   // the latest of them
	next    time.Time   // the first due time not yet passed (zero: none)
}

// walkUnseen walks sc's due times after sc.Due up to now. A due time has
// passed when its latest start (the due time, or the end of a no-notice
// window) is more than Grace ago; a later one is the next occurrence, to be
// run on time. The walk is bounded: past maxMissedCounted it jumps to the
// present.
func walkUnseen(sc *Schedule, now time.Time, loc *time.Location) (unseen, error) {
	var w unseen
	next, err := sc.dueTimes()
	if err != nil {
		return w, err
	}
	t := sc.Due
	for n := 0; ; n++ {
		if n == maxMissedCounted {
			// Due times over two days old have passed whatever their
			// window: skip them uncounted (MissedMore is then a lower bound).
			if jump := now.Add(-Grace - 48*time.Hour); jump.After(t) {
				t = jump
			}
		}
		d, ok := next(t)
		if !ok {
			return w, nil
		}
		if now.Sub(latestStart(sc, d, loc)) <= Grace {
			w.next = d
			return w, nil
		}
		if len(w.overdue) < MaxMissedRecorded {
			w.overdue = append(w.overdue, d)
		} else {
			w.more++
		}
		w.last = d
		t = d
	}
}

// latestStart is the latest a due time's run would have started: the due
// time itself, or for a no-notice drill the end of its window that day.
func latestStart(sc *Schedule, due time.Time, loc *time.Location) time.Time {
	if sc.NoNotice == nil {
		return due
	}
	_, end := sc.NoNotice.On(due, loc)
	return end
}

// Collector returns a Prometheus collector read from this node's local
// state at each scrape (every node reports the same numbers once it has
// caught up, leader or not):
//
//   - muster_drill_schedules: schedules that exist, paused ones included;
//   - muster_drill_schedules_postponed: schedules whose occurrence waits for
//     a live emergency, or (rules 13) a region's recovery after one, to
//     end, as Service.Get shows them at the scrape (not paused, and a
//     region still in emergency or recovery);
//   - muster_drill_runs_total{status}: runs recorded, by status (started,
//     missed, failed);
//   - muster_drill_runs_ended_total{outcome}: started runs whose call-up
//     is over, by what became of it (Run.Outcome): held, cut_short,
//     stopped_by_live, retracted. Only held ones are drills of their
//     regions; started minus these is the runs still running.
//
// A scrape reads every schedule, the runs recorded since the last scrape
// and the started runs still running at the last. Nothing registers it;
// the caller does.
func (s *Scheduler) Collector() prometheus.Collector {
	return &scheduleCollector{
		view:      s.view,
		now:       s.svc.Now,
		recovery:  s.svc.recoveryPostpones,
		schedules: prometheus.NewDesc("muster_drill_schedules", "Drill schedules, paused ones included.", nil, nil),
		postponed: prometheus.NewDesc("muster_drill_schedules_postponed", "Drill schedules whose occurrence is postponed by a live emergency over their regions, or (rules 13) by a region's recovery after one.", nil, nil),
		runs:      prometheus.NewDesc("muster_drill_runs_total", "Drill runs recorded, by status (started, missed, failed).", []string{"status"}, nil),
		ended: prometheus.NewDesc("muster_drill_runs_ended_total",
			"Started drill runs whose call-up is over, by outcome (held, cut_short, stopped_by_live, retracted); only held ones count as drills.", []string{"outcome"}, nil),
		byStatus:  map[RunStatus]float64{RunStarted: 0, RunMissed: 0, RunFailed: 0},
		byOutcome: map[string]float64{OutcomeHeld: 0, OutcomeCutShort: 0, OutcomeStopped: 0, OutcomeRetracted: 0},
		running:   map[RunID]bool{},
	}
}

type scheduleCollector struct {
	view                       Viewer
	now                        func() time.Time
	recovery                   func() bool // whether recoveries postpone (Service.recoveryPostpones)
	schedules, postponed, runs *prometheus.Desc
	ended                      *prometheus.Desc

	mu        sync.Mutex // guards the run counts between scrapes
	runsSeen  uint64     // the last run sequence counted
	byStatus  map[RunStatus]float64
	byOutcome map[string]float64
	running   map[RunID]bool // started runs not yet counted as ended
}

func (c *scheduleCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.schedules
	ch <- c.postponed
	ch <- c.runs
	ch <- c.ended
}

func (c *scheduleCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var schedules, postponed int
	seen, counts, outcomes, running := c.runsSeen, maps.Clone(c.byStatus), maps.Clone(c.byOutcome), maps.Clone(c.running)
	now, recovery := c.now(), c.recovery()
	err := c.view.View(ctx, muster.Stale, func(tx *bolt.Tx) error {
		schedules, postponed = 0, 0
		if b := tx.Bucket(bSchedules); b != nil {
			err := b.ForEach(func(k, v []byte) error {
				schedules++
				// Postponed is the only field named so and is left out when
				// nil; inside a JSON string its quotes would be escaped.
				// Only those schedules are decoded, to be counted as a
				// reader sees them.
				if !bytes.Contains(v, []byte(`"postponed":`)) {
					return nil
				}
				var sc Schedule
				if err := json.Unmarshal(v, &sc); err != nil {
					return fmt.Errorf("decode drill schedule %s: %w", k, err)
				}
				if err := asSeen(tx, &sc, now, recovery); err != nil {
					return err
				}
				if sc.Postponed != nil {
					postponed++
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		b := tx.Bucket(bRuns)
		if b == nil {
			return nil
		}
		// Run IDs are R%06d of the bucket's sequence and a run's status
		// never changes, so the runs since the last scrape are those above
		// the sequence seen then.
		for seq := b.Sequence(); seen < seq; {
			seen++
			v := b.Get([]byte(fmt.Sprintf("R%06d", seen)))
			if v == nil {
				continue
			}
			var r struct {
				Status RunStatus `json:"status"`
			}
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode drill run R%06d: %w", seen, err)
			}
			counts[r.Status]++
			if r.Status == RunStarted {
				running[RunID(fmt.Sprintf("R%06d", seen))] = true
			}
		}
		for _, id := range slices.Sorted(maps.Keys(running)) {
			r, err := getRun(tx, id)
			if err != nil {
				return err
			}
			if o := outcome(tx, &r); o != OutcomeRunning {
				if o != "" {
					outcomes[o]++
				}
				delete(running, id)
			}
		}
		return nil
	})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.schedules, fmt.Errorf("read drill schedules: %w", err))
		return
	}
	c.runsSeen, c.byStatus, c.byOutcome, c.running = seen, counts, outcomes, running
	ch <- prometheus.MustNewConstMetric(c.schedules, prometheus.GaugeValue, float64(schedules))
	ch <- prometheus.MustNewConstMetric(c.postponed, prometheus.GaugeValue, float64(postponed))
	for _, st := range slices.Sorted(maps.Keys(counts)) {
		ch <- prometheus.MustNewConstMetric(c.runs, prometheus.CounterValue, counts[st], string(st))
	}
	for _, o := range slices.Sorted(maps.Keys(outcomes)) {
		ch <- prometheus.MustNewConstMetric(c.ended, prometheus.CounterValue, outcomes[o], o)
	}
}
