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
	"muster/plans"
)

// WarningPrompterActor is the actor the prompter's commands are written
// under (access.ServiceActors: no token takes the name).
const WarningPrompterActor = "warning-prompter"

// WarningPrompterConfig configures a WarningPrompter.
type WarningPrompterConfig struct {
	// Live is the LIVE route (the dispatcher's, whose rate it shares):
	// only LIVE warnings prompt anyone. Its Fallback, if any, takes a
	// text the primary account fails to send. Nil on a node without a
	// LIVE account: while it leads, each text due is recorded as not sent
	// (NoLiveAccountError, 未能叫应) and logged as a warning, and a leader
	// with a LIVE account sends it later.
	Live *Route
	// Zone is the time zone of the times the texts name; default
	// Asia/Shanghai.
	Zone *time.Location
	// EscalateAfter is how long a warning whose commanders were called on
	// may go on unanswered before their superiors are texted (叫应升级),
	// stamped into the warning as its commanders are listed
	// (Prompted.EscalateBy); default plans.DefaultWarningResponseTimeout,
	// the wiring gives it the warnings' response timeout.
	EscalateAfter time.Duration
	// Tick is how often warnings past their response time are looked
	// for; default 1 second.
	Tick   time.Duration
	Clock  muster.Clock
	Logger *slog.Logger
}

// WarningPrompter calls on the commanders (叫应) when a LIVE orange or red
// warning goes unanswered past its response time (plans.Warning.PromptDue):
// it texts every holder of a commander token with a phone, once, which
// warning it is, that no response started in time and what to activate
// (WarningPromptText), and logs a warning as the warning begins to prompt.
// It is a leader-only service (cluster.Node.OnLeader), as the
// ApproverNotifier is, whose machinery it shares: each tick it reads the
// warnings in force, lists the commanders and claims their texts in the
// state (warning.prompt, applied only while this node leads) before it
// sends, and records each outcome (warning.prompted), in the warning
// (plans.Warning.Prompted). A new leader sends no text its predecessor
// recorded an outcome for, and lists nobody again for a warning listed
// before; one claimed and left without an outcome (the leader died while
// sending) is sent again, so a commander may get two. A failed text is
// logged and recorded, not retried. A warning with no commander to text
// is logged once by each leader, as a warning. A drill's warning
// (EXERCISE or TEST) prompts nobody: the prompter sends on the LIVE
// account only, and a drill's warning is answered by a drill, which its
// organisers watch for (muster warning list marks it).
//
// One given a phone (a token with one) after a stage listed its people,
// while the stage is still due and none of them acknowledged it, and,
// for the commanders, before the warning escalated, is texted as the
// others were, once (rulesLateTexts).
//
// A warning still unanswered and in force EscalateAfter after its
// commanders were listed, none of whom acknowledged it by replying to the
// text (已应, rulesWarningAcks; plans.Warning.EscalationDue), is escalated to
// their superiors (叫应升级) the same way: every holder of an approver token
// with a phone (值班领导) is texted once that the commanders were called on
// and nothing started (WarningEscalationText), but one texted as a
// commander already (CalledAsCommanderError), claimed and recorded in
// the warning (warning.escalate, warning.escalated;
// plans.Warning.Escalated), and the leader logs a warning as it begins.
type WarningPrompter struct {
	apply Applier
	view  Viewer
	cfg   WarningPrompterConfig
	live  *routeState // nil: no LIVE account
}

// NewWarningPrompter returns a prompter over a replicated state, sending
// on cfg.Live, which must be a LIVE route.
func NewWarningPrompter(a Applier, v Viewer, cfg WarningPrompterConfig) (*WarningPrompter, error) {
	if cfg.Live != nil && cfg.Live.Provider == nil {
		return nil, muster.Errorf(muster.EInvalid, "warning prompter: the LIVE route has no provider")
	}
	if cfg.Live != nil && cfg.Live.Exercise {
		return nil, muster.Errorf(muster.EInvalid, "warning prompter: the route %s is for exercise traffic; the 叫应 of a warning is LIVE", cfg.Live.Name)
	}
	if cfg.Zone == nil {
		cfg.Zone = correctionZone()
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.EscalateAfter <= 0 {
		cfg.EscalateAfter = plans.DefaultWarningResponseTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = muster.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &WarningPrompter{apply: a, view: v, cfg: cfg}
	if cfg.Live != nil {
		p.live = newRouteState(cfg.Live)
	}
	return p, nil
}

// promptTerm is what one term's run keeps between ticks.
type promptTerm struct {
	resend bool // as noticeTerm's
	// unrecorded are outcomes whose warning.prompted (or escalated) failed: proposed
	// again at the next tick.
	unrecorded []stageResults
	// olderUntil: the cluster's rules were below rulesWarningPrompt;
	// nothing is claimed before then.
	olderUntil time.Time
	// warned are the warnings with nobody to text at a stage (the
	// stage's claim command) whose warning this leader logged.
	warned map[warnedKey]bool
}

// stageResults are outcomes of sends of a stage.
type stageResults struct {
	st  prompterStage
	res promptResults
}

// warnedKey is a warning at a stage of its 叫应.
type warnedKey struct {
	stage string
	id    plans.WarningID
}

// prompterStage is a stage of a warning's 叫应 as the prompter sends it:
// the commanders' texts (prompting) or their superiors' (escalating).
type prompterStage struct {
	textStage
	claim, record string // the command types
	// started is the warning logged as the stage begins, texted the line
	// logged for each text sent, noPhone the warning logged with nobody
	// to text.
	started, texted, noPhone string
	// text is the SMS, with the sender prefix given.
	text func(w plans.Warning, sender string, zone *time.Location) string
}

var (
	prompting = prompterStage{textStage: promptStage, claim: CmdWarningPrompt, record: CmdWarningPrompted,
		started: "warning unanswered past its response time: prompting the commanders (叫应)",
		texted:  "commander texted about a warning left unanswered",
		noPhone: "no commander has a phone on record: nobody is texted about the warning left unanswered; call the commanders (give their tokens a phone: muster token create --phone)",
		text:    WarningPromptText}
	escalating = prompterStage{textStage: escalationStage, claim: CmdWarningEscalate, record: CmdWarningEscalated,
		started: "warning still unanswered after its commanders were called on: escalating to their superiors (叫应升级)",
		texted:  "superior texted about a warning its commanders left unanswered",
		noPhone: "no approver has a phone on record: nobody is texted about the warning its commanders left unanswered; call the duty leaders (give their tokens a phone: muster token create --phone)",
		text:    WarningEscalationText}
)

// need says what stage st of w needs at now, as tx has it: claim, to
// list or claim its texts (one to someone given a phone since it listed
// them too: late); warn, nobody had a phone and it is still due (log it
// once).
func (st prompterStage) need(tx *bolt.Tx, w plans.Warning, now time.Time, resend, retry bool) (claim, warn bool, err error) {
	rec := *st.of(&w)
	if rec == nil {
		return st.due(&w, now), false, nil
	}
	late, err := st.late(tx, &w, now)
	switch {
	case err != nil:
		return false, false, err
	case len(late) > 0:
		return true, false, nil
	case rec.NoPhone:
		return false, st.due(&w, now), nil
	default:
		return slices.ContainsFunc(rec.Texts, func(x plans.TextNotice) bool {
			return x.Claimable(resend) || (retry && retryable(x) && st.due(&w, now))
		}), false, nil
	}
}

// Run prompts until ctx ends (leadership lost or node closing).
func (p *WarningPrompter) Run(ctx context.Context) {
	term := &promptTerm{warned: map[warnedKey]bool{}}
	runNoticeTicks(ctx, p.cfg.Tick, p.cfg.Logger, "warning prompter", func(ctx context.Context, resend bool) error {
		term.resend = resend
		return p.tick(ctx, term)
	})
}

// tick records the outcomes held over, then lists, claims and sends what
// is due.
func (p *WarningPrompter) tick(ctx context.Context, term *promptTerm) error {
	for len(term.unrecorded) > 0 {
		if err := p.record(ctx, term.unrecorded[0].st, term.unrecorded[0].res); err != nil {
			return err
		}
		term.unrecorded = term.unrecorded[1:]
	}
	now := p.cfg.Clock.Now()
	if now.Before(term.olderUntil) {
		return nil
	}
	type stageDue struct {
		st prompterStage
		id plans.WarningID
	}
	var due []stageDue
	err := p.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		ws, err := plans.WarningsInForce(tx)
		for _, w := range ws {
			if !w.HoldsRegions() {
				// A drill's warning: nothing about it goes out on the
				// LIVE account (PromptDue is false for it too).
				continue
			}
			for _, st := range []prompterStage{prompting, escalating} {
				claim, warn, err := st.need(tx, w, now, term.resend, p.live != nil)
				if err != nil {
					return err
				}
				if claim {
					due = append(due, stageDue{st, w.ID})
				}
				if k := (warnedKey{st.claim, w.ID}); warn && !term.warned[k] {
					p.warnNoPhone(st, w)
					term.warned[k] = true
				}
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range due {
		if err := p.prompt(ctx, term, d.st, d.id); err != nil {
			if ctx.Err() != nil || muster.IsCode(err, muster.ENotLeader) {
				return err
			}
			errs = append(errs, fmt.Errorf("warning %s: %w", d.id, err))
		}
	}
	return errors.Join(errs...)
}

// warnNoPhone logs that nobody is texted about w at stage st, which is
// due.
func (p *WarningPrompter) warnNoPhone(st prompterStage, w plans.Warning) {
	args := []any{"warning", w.ID, "level", w.Level, "regions", plans.JoinCodes(w.Regions, ","), "respond_by", w.RespondBy}
	if st.claim == CmdWarningEscalate {
		args = append(args, "prompted_at", w.Prompted.At, "escalate_by", w.Prompted.EscalateBy)
	}
	p.cfg.Logger.Warn(st.noPhone, args...)
}

// prompt claims the texts of stage st of warning id that are due (listing
// the commanders, or superiors, the first time), sends them the text and
// records their outcomes.
func (p *WarningPrompter) prompt(ctx context.Context, term *promptTerm, st prompterStage, id plans.WarningID) error {
	req := promptClaim{Warning: id, Resend: term.resend, Retry: p.live != nil}
	if st.escalates {
		req.EscalateAfter = plans.Duration(p.cfg.EscalateAfter)
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	var claimed promptClaimed
	// Leader only: a claim that reached a later leader after it had
	// looked would stay in flight, never sent.
	err = p.apply.Apply(muster.LeaderOnly(ctx), &muster.Command{Type: st.claim, Actor: WarningPrompterActor, Payload: b, Ignorable: true}, &claimed)
	if err != nil {
		return fmt.Errorf("claim warning texts: %w", err)
	}
	if claimed.Older {
		term.olderUntil = p.cfg.Clock.Now().Add(time.Minute) // not before the cluster's rules rise
		return nil
	}
	w := claimed.Warning
	rec := *st.of(&w)
	if claimed.Started {
		args := []any{"warning", w.ID, "level", w.Level, "event", w.Event, "regions", plans.JoinCodes(w.Regions, ","),
			"issued_at", w.IssuedAt, "respond_by", w.RespondBy}
		if st.escalates {
			args = append(args, "commanders", len(rec.Texts), "escalate_by", rec.EscalateBy)
		} else {
			args = append(args, "prompted_at", w.Prompted.At, "superiors", len(rec.Texts))
		}
		p.cfg.Logger.Warn(st.started, args...)
		if k := (warnedKey{st.claim, w.ID}); rec.NoPhone && !term.warned[k] {
			p.warnNoPhone(st, w)
			term.warned[k] = true
		}
	}
	if len(claimed.Claimed) == 0 {
		return nil
	}
	if p.live == nil {
		return p.recordNoLiveAccount(ctx, term, st, w, rec, claimed.Claimed)
	}
	text, err := p.text(ctx, st, w)
	if err != nil {
		return err // the failed tick makes the next one claim them again (resend)
	}
	res := promptResults{Warning: w.ID}
	for _, i := range claimed.Claimed {
		x := rec.Texts[i]
		sid, err := sendNotice(ctx, p.live, p.cfg.Clock, SMS{AttemptID: x.Attempt, To: x.Phone, Body: text})
		if err != nil && ctx.Err() != nil {
			// Stopped while sending (leadership lost, or closing): the
			// outcome stays unknown, and the next leader sends it again.
			break
		}
		out := approverSent{Index: i, Attempt: x.Attempt, SID: sid}
		if err != nil {
			out.Error = err.Error()
			p.cfg.Logger.Warn("warning prompter: text failed", "warning", w.ID, "holder", x.Holder, "attempt", x.Attempt, "err", err)
		} else {
			p.cfg.Logger.Info(st.texted, "warning", w.ID, "holder", x.Holder, "attempt", x.Attempt, "sid", sid)
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
	if err := p.record(rctx, st, res); err != nil {
		term.unrecorded = append(term.unrecorded, stageResults{st, res})
		return err
	}
	return ctx.Err()
}

// recordNoLiveAccount records the texts claimed of stage st of w as not
// sent, this leader having no LIVE account (未能叫应), and logs it as a
// warning: the people are to be called, or a node with a LIVE account
// made leader, which sends them.
func (p *WarningPrompter) recordNoLiveAccount(ctx context.Context, term *promptTerm, st prompterStage, w plans.Warning, rec *plans.WarningPrompted, claimed []int) error {
	res := promptResults{Warning: w.ID}
	var holders []string
	for _, i := range claimed {
		res.Results = append(res.Results, approverSent{Index: i, Attempt: rec.Texts[i].Attempt, Error: NoLiveAccountError})
		holders = append(holders, rec.Texts[i].Holder)
	}
	p.cfg.Logger.Warn("no LIVE SMS account on this node, which leads: nobody is texted about the warning (未能叫应); call them, or have a node with a LIVE account lead (--twilio-account-sid), which texts them",
		"warning", w.ID, "stage", st.claim, "level", w.Level, "regions", plans.JoinCodes(w.Regions, ","), "respond_by", w.RespondBy, "holders", holders)
	if err := p.record(ctx, st, res); err != nil {
		term.unrecorded = append(term.unrecorded, stageResults{st, res})
		return err
	}
	return nil
}

// text is stage st's text about w, with the sender prefix of the plan it
// names (promptSuggestion; of any plan when it suggests none).
func (p *WarningPrompter) text(ctx context.Context, st prompterStage, w plans.Warning) (string, error) {
	var sender string
	err := p.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		if s, ok := promptSuggestion(w); ok {
			pv, err := plans.GetPlanVersion(tx, s.Plan, s.Version)
			if err != nil {
				return err
			}
			sender = pv.Plan.Sender
			return nil
		}
		return plans.ForEachPlan(tx, func(pv plans.PlanVersion) error {
			if sender == "" {
				sender = pv.Plan.Sender
			}
			return nil
		})
	})
	if err != nil {
		return "", fmt.Errorf("text of warning %s: %w", w.ID, err)
	}
	return st.text(w, sender, p.cfg.Zone), nil
}

// record proposes the outcomes of sends of stage st.
func (p *WarningPrompter) record(ctx context.Context, st prompterStage, res promptResults) error {
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	if err := p.apply.Apply(ctx, &muster.Command{Type: st.record, Actor: WarningPrompterActor, Payload: b, Ignorable: true}, nil); err != nil {
		return fmt.Errorf("record warning texts of %s: %w", res.Warning, err)
	}
	return nil
}
