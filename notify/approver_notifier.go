package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/access"
	"muster/plans"
)

// ApproverNotifierActor is the actor the notifier's commands are written
// under (access.ServiceActors: no token takes the name).
const ApproverNotifierActor = "approval-notifier"

// ApproverNotifierConfig configures an ApproverNotifier.
type ApproverNotifierConfig struct {
	// Live is the LIVE route (the dispatcher's, whose rate it shares):
	// only LIVE requests wait for approval. Its Fallback, if any, takes a
	// text the primary account fails to send.
	Live *Route
	// Zone is the time zone of the times the texts name; default
	// Asia/Shanghai.
	Zone *time.Location
	// Tick is how often requests awaiting approval are looked for;
	// default 1 second.
	Tick   time.Duration
	Clock  muster.Clock
	Logger *slog.Logger
}

// ApproverNotifier texts the people who may approve a LIVE request that
// waits for approval (Activation.ApproversNotified) that it does, and,
// once it waits no more (rulesDecisionNotice), its requester and those
// texted what became of it (Activation.DecisionNotices). It is a
// leader-only service (cluster.Node.OnLeader: it starts after the new
// leader's Barrier and stops when leadership is lost): each tick it reads
// the requests with texts due, claims them in the state (approval.notice,
// applied only while this node leads) before it sends, and records each
// outcome (approval.noticed). A new leader sends no text its predecessor
// recorded an outcome for; one claimed and left without an outcome (the
// leader died while sending) is sent again, so a person may get two. A
// failed text is logged and recorded, not retried. A request with nobody
// to text about its wait is logged once by each leader, as a warning.
type ApproverNotifier struct {
	apply Applier
	view  Viewer
	cfg   ApproverNotifierConfig
	live  *routeState
}

// NewApproverNotifier returns a notifier over a replicated state, sending
// on cfg.Live, which must be a LIVE route.
func NewApproverNotifier(a Applier, v Viewer, cfg ApproverNotifierConfig) (*ApproverNotifier, error) {
	if cfg.Live == nil || cfg.Live.Provider == nil {
		return nil, muster.Errorf(muster.EInvalid, "approver notifier: needs the LIVE provider route")
	}
	if cfg.Live.Exercise {
		return nil, muster.Errorf(muster.EInvalid, "approver notifier: the route %s is for exercise traffic; approvals are LIVE", cfg.Live.Name)
	}
	if cfg.Zone == nil {
		cfg.Zone = correctionZone()
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = muster.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &ApproverNotifier{apply: a, view: v, cfg: cfg, live: newRouteState(cfg.Live)}, nil
}

// noticeTerm is what one term's run keeps between ticks.
type noticeTerm struct {
	// resend claims again what is in flight: on the term's first look
	// (an earlier leader may have left it unsent), and after a failed
	// tick (a claim that failed may have been applied). A tick that
	// succeeds ends it.
	resend bool
	// unrecorded are outcomes whose approval.noticed failed: proposed
	// again at the next tick.
	unrecorded []approverResults
	// olderUntil: the cluster's rules were below rulesApproverNotice;
	// nothing is claimed before then.
	olderUntil time.Time
	// warned are the waiting requests with nobody to text about it whose
	// warning was logged and claim made (under older rules the claim
	// takes them out of the index; from rulesDecisionNotice they stay
	// there until they wait no more).
	warned map[plans.ActivationID]bool
}

// Run notifies until ctx ends (leadership lost or node closing).
func (n *ApproverNotifier) Run(ctx context.Context) {
	term := &noticeTerm{warned: map[plans.ActivationID]bool{}}
	runNoticeTicks(ctx, n.cfg.Tick, n.cfg.Logger, "approver notifier", func(ctx context.Context, resend bool) error {
		term.resend = resend
		return n.tick(ctx, term)
	})
}

// runNoticeTicks calls tick every interval until ctx ends (leadership
// lost or node closing), or a tick finds this node leads no more, for a
// leader-only notifier that claims its texts in the state before it
// sends them. resend is true on the term's first tick (an earlier leader
// may have left texts claimed and unsent) and after a failed one (a
// claim that failed may have been applied): claim again what is in
// flight. A failed tick is logged under name.
func runNoticeTicks(ctx context.Context, interval time.Duration, logger *slog.Logger, name string, tick func(ctx context.Context, resend bool) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	resend := true
	for {
		if err := tick(ctx, resend); err != nil {
			if ctx.Err() != nil || muster.IsCode(err, muster.ENotLeader) {
				return
			}
			logger.Warn(name+": tick failed", "err", err)
			resend = true
		} else {
			resend = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// noticeWork is a request in the index and what to do for it now.
type noticeWork struct {
	a     Activation
	claim bool   // claim its notices that are due (or leave the index)
	warn  bool   // say that nobody is texted about its wait
	text  string // the text to send, when it still waits for approval
}

// tick records the outcomes held over, then claims and sends what is due.
func (n *ApproverNotifier) tick(ctx context.Context, term *noticeTerm) error {
	for len(term.unrecorded) > 0 {
		if err := n.record(ctx, term.unrecorded[0]); err != nil {
			return err
		}
		term.unrecorded = term.unrecorded[1:]
	}
	now := n.cfg.Clock.Now()
	if now.Before(term.olderUntil) {
		return nil
	}
	var work []noticeWork
	err := n.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		b := tx.Bucket(bApproverNotices)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			a, err := getActivation(tx, plans.ActivationID(k))
			if err != nil {
				return err
			}
			w := noticeWork{a: a}
			switch {
			case a.shown(now).Status != StatusPendingApproval:
				// To skip what is left of its wait, and tell what became
				// of it (or, under older rules, to leave the index).
				w.claim = a.DecisionNotices == nil || slices.ContainsFunc(a.DecisionNotices, func(x ApproverNotice) bool { return x.Claimable(term.resend) })
			case a.NoApproverPhone:
				w.claim, w.warn = !term.warned[a.ID], !term.warned[a.ID]
			default:
				w.claim = slices.ContainsFunc(a.ApproversNotified, func(x ApproverNotice) bool { return x.Claimable(term.resend) })
				if w.claim {
					if w.text, err = n.text(tx, a); err != nil {
						return fmt.Errorf("activation %s: %w", a.ID, err)
					}
				}
			}
			work = append(work, w)
			return nil
		})
	})
	if err != nil {
		return err
	}
	var errs []error
	warned := map[plans.ActivationID]bool{}
	for _, w := range work {
		if w.warn {
			n.cfg.Logger.Warn("no approver has a phone on record: nobody is texted about the request awaiting approval; its requester must tell them",
				"activation", w.a.ID, "requester", w.a.CreatedBy)
		}
		if term.warned[w.a.ID] {
			warned[w.a.ID] = true // still in the index, told once
		}
		if !w.claim {
			continue
		}
		if err := n.notify(ctx, term, w.a.ID, w.text); err != nil {
			if ctx.Err() != nil || muster.IsCode(err, muster.ENotLeader) {
				return err
			}
			errs = append(errs, fmt.Errorf("activation %s: %w", w.a.ID, err))
			continue
		}
		if w.warn {
			warned[w.a.ID] = true
		}
	}
	term.warned = warned
	return errors.Join(errs...)
}

// text is the text telling approvers that a waits for them, as the
// state in tx has it.
func (n *ApproverNotifier) text(tx *bolt.Tx, a Activation) (string, error) {
	p, err := prepare(tx, a.request())
	if err != nil {
		return "", err
	}
	recipients, err := countRecipients(tx, p)
	if err != nil {
		return "", err
	}
	requester, err := a.requester(tx)
	if err != nil {
		return "", err
	}
	return ApproverNoticeText(a, recipients, requester, n.cfg.Zone), nil
}

// notify claims the notices of activation id that are due, sends them
// the text and records their outcomes. A request no longer waiting is
// claimed for, with no text, to skip its notices and to list and claim
// those telling what became of it (sent the text of that), or to leave
// the index.
func (n *ApproverNotifier) notify(ctx context.Context, term *noticeTerm, id plans.ActivationID, text string) error {
	p, err := json.Marshal(approverClaim{Activation: id, Resend: term.resend})
	if err != nil {
		return err
	}
	var claimed approverClaimed
	// Leader only: a claim that reached a later leader after it had
	// looked would stay in flight, never sent.
	err = n.apply.Apply(muster.LeaderOnly(ctx), &muster.Command{Type: CmdApprovalNotice, Actor: ApproverNotifierActor, Payload: p, Ignorable: true}, &claimed)
	if err != nil {
		return fmt.Errorf("claim approver texts: %w", err)
	}
	if claimed.Older {
		term.olderUntil = n.cfg.Clock.Now().Add(time.Minute) // not before the cluster's rules rise
		return nil
	}
	a := claimed.Activation
	// A claim is of the texts of the wait while the request waits, of
	// those of what became of it after: never both.
	list, claims, about := a.ApproversNotified, claimed.Claimed, "approver texted about a request awaiting approval"
	if len(claimed.Decided) > 0 {
		list, claims, about = a.DecisionNotices, claimed.Decided, "told what became of a request that waited for approval"
		if text, err = n.decisionText(ctx, a); err != nil {
			return err // the failed tick makes the next one claim them again (resend)
		}
	}
	if len(claims) == 0 {
		return nil
	}
	if text == "" {
		// Read as no longer waiting, yet claimed as waiting (the read's
		// clock and the command's disagree): the failed tick makes the
		// next one claim them again (resend).
		return fmt.Errorf("claimed texts of %s without their text", a.ID)
	}
	res := approverResults{Activation: a.ID, Decision: len(claimed.Decided) > 0}
	for _, i := range claims {
		x := list[i]
		sid, err := n.send(ctx, SMS{AttemptID: x.Attempt, To: x.Phone, Body: text})
		if err != nil && ctx.Err() != nil {
			// Stopped while sending (leadership lost, or closing): the
			// outcome stays unknown, and the next leader sends it again.
			break
		}
		out := approverSent{Index: i, Attempt: x.Attempt, SID: sid}
		if err != nil {
			out.Error = err.Error()
			n.cfg.Logger.Warn("approver notifier: text failed", "activation", a.ID, "holder", x.Holder, "attempt", x.Attempt, "err", err)
		} else {
			n.cfg.Logger.Info(about, "activation", a.ID, "holder", x.Holder, "attempt", x.Attempt, "sid", sid)
		}
		res.Results = append(res.Results, out)
	}
	if len(res.Results) == 0 {
		return ctx.Err()
	}
	// What was sent is recorded even as this node stops leading: the
	// record then goes through the next leader.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := n.record(rctx, res); err != nil {
		term.unrecorded = append(term.unrecorded, res)
		return err
	}
	return ctx.Err()
}

// decisionText is the text telling what became of a, a request that
// waits no more, naming as the state has them the person who ended the
// wait.
func (n *ApproverNotifier) decisionText(ctx context.Context, a Activation) (string, error) {
	var by string
	err := n.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		_, token := a.ended()
		if token == "" {
			return nil
		}
		var err error
		by, err = access.HolderOf(tx, token)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("text of what became of %s: %w", a.ID, err)
	}
	return DecisionNoticeText(a, by, n.cfg.Zone), nil
}

// record proposes the outcomes of sends.
func (n *ApproverNotifier) record(ctx context.Context, res approverResults) error {
	p, err := json.Marshal(res)
	if err != nil {
		return err
	}
	if err := n.apply.Apply(ctx, &muster.Command{Type: CmdApprovalNoticed, Actor: ApproverNotifierActor, Payload: p, Ignorable: true}, nil); err != nil {
		return fmt.Errorf("record approver texts of %s: %w", res.Activation, err)
	}
	return nil
}

// send sends m on the LIVE route at its rate, and on its fallback account
// when the primary fails. It returns the provider's message ID.
func (n *ApproverNotifier) send(ctx context.Context, m SMS) (string, error) {
	return sendNotice(ctx, n.live, n.cfg.Clock, m)
}

// sendNotice sends m, a leader's notice to one person, on route live at
// its rate (shared with everything else that sends on it), and on its
// fallback account when the primary fails. It returns the provider's
// message ID.
func sendNotice(ctx context.Context, live *routeState, clock muster.Clock, m SMS) (string, error) {
	var errs []error
	for rs := live; rs != nil; rs = rs.fallback {
		from, err := rs.take(ctx, clock)
		if err != nil {
			return "", err
		}
		m.From = from
		sent, err := rs.Provider.SendSMS(ctx, m)
		if err == nil {
			return sent.ProviderID, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", rs.Name, err))
		if ctx.Err() != nil {
			break
		}
	}
	return "", errors.Join(errs...)
}
