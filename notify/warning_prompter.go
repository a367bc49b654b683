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
	// text the primary account fails to send.
	Live *Route
	// Zone is the time zone of the times the texts name; default
	// Asia/Shanghai.
	Zone *time.Location
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
type WarningPrompter struct {
	apply Applier
	view  Viewer
	cfg   WarningPrompterConfig
	live  *routeState
}

// NewWarningPrompter returns a prompter over a replicated state, sending
// on cfg.Live, which must be a LIVE route.
func NewWarningPrompter(a Applier, v Viewer, cfg WarningPrompterConfig) (*WarningPrompter, error) {
	if cfg.Live == nil || cfg.Live.Provider == nil {
		return nil, muster.Errorf(muster.EInvalid, "warning prompter: needs the LIVE provider route")
	}
	if cfg.Live.Exercise {
		return nil, muster.Errorf(muster.EInvalid, "warning prompter: the route %s is for exercise traffic; the 叫应 of a warning is LIVE", cfg.Live.Name)
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
	return &WarningPrompter{apply: a, view: v, cfg: cfg, live: newRouteState(cfg.Live)}, nil
}

// promptTerm is what one term's run keeps between ticks.
type promptTerm struct {
	resend bool // as noticeTerm's
	// unrecorded are outcomes whose warning.prompted failed: proposed
	// again at the next tick.
	unrecorded []promptResults
	// olderUntil: the cluster's rules were below rulesWarningPrompt;
	// nothing is claimed before then.
	olderUntil time.Time
	// warned are the warnings with no commander to text whose warning
	// this leader logged.
	warned map[plans.WarningID]bool
}

// Run prompts until ctx ends (leadership lost or node closing).
func (p *WarningPrompter) Run(ctx context.Context) {
	term := &promptTerm{warned: map[plans.WarningID]bool{}}
	runNoticeTicks(ctx, p.cfg.Tick, p.cfg.Logger, "warning prompter", func(ctx context.Context, resend bool) error {
		term.resend = resend
		return p.tick(ctx, term)
	})
}

// tick records the outcomes held over, then lists, claims and sends what
// is due.
func (p *WarningPrompter) tick(ctx context.Context, term *promptTerm) error {
	for len(term.unrecorded) > 0 {
		if err := p.record(ctx, term.unrecorded[0]); err != nil {
			return err
		}
		term.unrecorded = term.unrecorded[1:]
	}
	now := p.cfg.Clock.Now()
	if now.Before(term.olderUntil) {
		return nil
	}
	var due []plans.Warning
	err := p.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		ws, err := plans.WarningsInForce(tx)
		for _, w := range ws {
			switch {
			case !w.HoldsRegions():
				// A drill's warning: nothing about it goes out on the
				// LIVE account (PromptDue is false for it too).
			case w.Prompted == nil:
				if w.PromptDue(now) {
					due = append(due, w)
				}
			case w.Prompted.NoPhone:
				if !term.warned[w.ID] && w.PromptDue(now) {
					p.warnNoPhone(w)
					term.warned[w.ID] = true
				}
			case slices.ContainsFunc(w.Prompted.Texts, func(x plans.TextNotice) bool { return x.Claimable(term.resend) }):
				due = append(due, w)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, w := range due {
		if err := p.prompt(ctx, term, w.ID); err != nil {
			if ctx.Err() != nil || muster.IsCode(err, muster.ENotLeader) {
				return err
			}
			errs = append(errs, fmt.Errorf("warning %s: %w", w.ID, err))
		}
	}
	return errors.Join(errs...)
}

// warnNoPhone logs that nobody is texted about w, which prompts.
func (p *WarningPrompter) warnNoPhone(w plans.Warning) {
	p.cfg.Logger.Warn("no commander has a phone on record: nobody is texted about the warning left unanswered; call the commanders (give their tokens a phone: muster token create --phone)",
		"warning", w.ID, "level", w.Level, "regions", plans.JoinCodes(w.Regions, ","), "respond_by", w.RespondBy)
}

// prompt claims the texts of warning id that are due (listing the
// commanders the first time), sends them the text and records their
// outcomes.
func (p *WarningPrompter) prompt(ctx context.Context, term *promptTerm, id plans.WarningID) error {
	b, err := json.Marshal(promptClaim{Warning: id, Resend: term.resend})
	if err != nil {
		return err
	}
	var claimed promptClaimed
	// Leader only: a claim that reached a later leader after it had
	// looked would stay in flight, never sent.
	err = p.apply.Apply(muster.LeaderOnly(ctx), &muster.Command{Type: CmdWarningPrompt, Actor: WarningPrompterActor, Payload: b, Ignorable: true}, &claimed)
	if err != nil {
		return fmt.Errorf("claim warning texts: %w", err)
	}
	if claimed.Older {
		term.olderUntil = p.cfg.Clock.Now().Add(time.Minute) // not before the cluster's rules rise
		return nil
	}
	w := claimed.Warning
	if claimed.Started {
		p.cfg.Logger.Warn("warning unanswered past its response time: prompting the commanders (叫应)",
			"warning", w.ID, "level", w.Level, "event", w.Event, "regions", plans.JoinCodes(w.Regions, ","),
			"issued_at", w.IssuedAt, "respond_by", w.RespondBy, "commanders", len(w.Prompted.Texts))
		if w.Prompted.NoPhone && !term.warned[w.ID] {
			p.warnNoPhone(w)
			term.warned[w.ID] = true
		}
	}
	if len(claimed.Claimed) == 0 {
		return nil
	}
	text, err := p.text(ctx, w)
	if err != nil {
		return err // the failed tick makes the next one claim them again (resend)
	}
	res := promptResults{Warning: w.ID}
	for _, i := range claimed.Claimed {
		x := w.Prompted.Texts[i]
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
			p.cfg.Logger.Info("commander texted about a warning left unanswered", "warning", w.ID, "holder", x.Holder, "attempt", x.Attempt, "sid", sid)
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
	if err := p.record(rctx, res); err != nil {
		term.unrecorded = append(term.unrecorded, res)
		return err
	}
	return ctx.Err()
}

// text is the text about w, with the sender prefix of the plan it names
// (promptSuggestion; of any plan when it suggests none).
func (p *WarningPrompter) text(ctx context.Context, w plans.Warning) (string, error) {
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
	return WarningPromptText(w, sender, p.cfg.Zone), nil
}

// record proposes the outcomes of sends.
func (p *WarningPrompter) record(ctx context.Context, res promptResults) error {
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	if err := p.apply.Apply(ctx, &muster.Command{Type: CmdWarningPrompted, Actor: WarningPrompterActor, Payload: b, Ignorable: true}, nil); err != nil {
		return fmt.Errorf("record warning texts of %s: %w", res.Warning, err)
	}
	return nil
}
