package notify

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/access"
	"muster/plans"
)

// DefaultApprovalWindow is how long a LIVE activation waits for its approvals
// unless the service is configured otherwise. After it, the activation can
// no longer be approved and must be requested again.
const DefaultApprovalWindow = 30 * time.Minute

// Decision is one person's approval or rejection of a pending activation.
// Recipients is the count the person was shown and agreed to.
type Decision struct {
	By         string    `json:"by"`
	At         time.Time `json:"at"`
	Approve    bool      `json:"approve"`
	Reason     string    `json:"reason,omitempty"`
	Recipients int       `json:"recipients"`
	// Lineage is the lineage of the approver's token when they approved
	// (rules 13): a later approver is refused against it even if those
	// tokens have been revoked since.
	Lineage access.Lineage `json:"lineage,omitempty"`
	// Holder is the person who held the token By when they decided, when
	// another than the token's name (rules 13): a token named as a revoked
	// one was is told apart from it.
	Holder string `json:"holder,omitempty"`
}

// activationDecide is the payload of activation.decide.
type activationDecide struct {
	Activation plans.ActivationID `json:"activation"`
	Approve    bool               `json:"approve"`
	Reason     string             `json:"reason,omitempty"`
	// Recipients is the count in the preview the approver saw. An approval
	// stands only if the call-up still reaches exactly that many people.
	Recipients int `json:"recipients"`
}

// Approvals counts the approvals a holds, its requester's included.
func (a *Activation) Approvals() int {
	n := 1
	for _, d := range a.Decisions {
		if d.Approve {
			n++
		}
	}
	return n
}

// shown is a as a reader at now sees it: a pending activation whose approval
// window has passed shows as approval_expired. The stored status is not
// changed; approving it is refused by the FSM at the same boundary.
func (a Activation) shown(now time.Time) Activation {
	if a.Status == StatusPendingApproval && !now.Before(a.ApprovalDeadline) {
		a.Status = StatusApprovalExpired
	}
	return a
}

// anotherPerson refuses a decision by the requester of a, or by someone
// who has decided on it already. Under rules 9 and later people are told
// apart by who holds their tokens (access.Token.Holder): a second token of
// the requester's is the requester; before, by the tokens' names. Under
// rules 13 holders' names are compared folded (access.SameHolder), and the
// requester is the holder kept with the request.
func anotherPerson(tx *bolt.Tx, c *muster.Command, a Activation) error {
	person := func(token string) (string, error) { return token, nil }
	if c.Rules >= 9 {
		person = func(token string) (string, error) { return access.HolderOf(tx, token) }
	}
	me, err := person(c.Actor)
	if err != nil {
		return err
	}
	requester, err := person(a.CreatedBy)
	if err != nil {
		return err
	}
	same := func(a, b string) bool { return a == b }
	if c.RulesAtLeast(13) {
		same = access.SameHolder
		if len(a.RequesterLineage) > 0 {
			requester = a.RequesterLineage[0].Holder
		}
	}
	if same(me, requester) {
		if c.Actor != a.CreatedBy {
			return muster.Errorf(muster.EForbidden, "activation %s was requested by %s with the token %q; %q is theirs too: another person must decide on it", a.ID, requester, a.CreatedBy, c.Actor)
		}
		return muster.Errorf(muster.EForbidden, "activation %s was requested by %s; another person must decide on it", a.ID, c.Actor)
	}
	for _, d := range a.Decisions {
		by, err := person(d.By)
		if err != nil {
			return err
		}
		switch {
		case d.By == c.Actor:
			return muster.Errorf(muster.EConflict, "%s has already decided on activation %s", c.Actor, a.ID)
		case same(by, me):
			return muster.Errorf(muster.EConflict, "%s has already decided on activation %s, with the token %q", me, a.ID, d.By)
		}
	}
	return nil
}

// independent refuses (forbidden) an approval of a that does not come from
// a person independent of its requester and of each earlier approver, and
// returns the approver's lineage to keep with the decision. Two people are
// independent when neither one's token lineage holds the other: the
// approver does not hold the other's token, nor one that made it or a
// token up its chain (as the admin who made the requester's token was
// shown its secret), nor one made from it. An earlier approver's lineage
// is the one kept with their decision; one decided before it was kept, and
// any token made before rules 13, is followed through the tokens as they
// are, and refused when a link of it is gone (access.Apart). Where tokens
// exist, an approver with none (revoked since it was checked) is refused.
func independent(tx *bolt.Tx, c *muster.Command, a Activation) (access.Lineage, error) {
	toks, err := access.ListTokens(tx)
	if err != nil {
		return nil, err
	}
	mine := access.LineageOf(toks, c.Actor)
	if len(toks) > 0 && mine[0].ID == "" {
		// Its token was revoked after it was checked, before this entry.
		return nil, muster.Errorf(muster.EUnauthorized, "%s holds no token any more (revoked): an approval comes from a token that stands", c.Actor)
	}
	theirs := a.requesterLineage(toks)
	if id := theirs[0].ID; id != "" && !slices.ContainsFunc(toks, func(t access.Token) bool { return t.ID == id }) {
		return nil, muster.Errorf(muster.EConflict, "%s, who requested activation %s with the token %q, holds it no more (revoked): the request no longer stands; reject it",
			theirs[0].Holder, a.ID, theirs[0].Name)
	}
	if err := access.Apart(mine, theirs, "activation "+string(a.ID)+" was requested by "+theirs[0].Holder); err != nil {
		return nil, err
	}
	for _, d := range a.Decisions {
		theirs := d.Lineage
		if len(theirs) == 0 {
			theirs = access.LineageOf(toks, d.By)
		}
		if err := access.Apart(mine, theirs, "activation "+string(a.ID)+" was approved already by "+theirs[0].Holder); err != nil {
			return nil, err
		}
	}
	return mine, nil
}

// requesterLineage is the lineage of the token a was requested with: the
// one kept with a (rules 13), else that of the token of its name among toks.
func (a Activation) requesterLineage(toks []access.Token) access.Lineage {
	if len(a.RequesterLineage) > 0 {
		return a.RequesterLineage
	}
	return access.LineageOf(toks, a.CreatedBy)
}

// requester is the person who requested a: the holder kept with it (rules
// 13), else the one of its requester's token as the state under tx has it.
func (a Activation) requester(tx *bolt.Tx) (string, error) {
	if len(a.RequesterLineage) > 0 {
		return a.RequesterLineage[0].Holder, nil
	}
	return access.HolderOf(tx, a.CreatedBy)
}

func applyActivationDecide(tx *bolt.Tx, c *muster.Command) (any, error) {
	var req activationDecide
	if err := json.Unmarshal(c.Payload, &req); err != nil {
		return nil, invalidf("decision: %v", err)
	}
	req.Reason = strings.TrimSpace(req.Reason)
	a, err := getActivation(tx, req.Activation)
	if err != nil {
		return nil, err
	}
	if a.Status != StatusPendingApproval {
		return nil, muster.Errorf(muster.EConflict, "activation %s is %s, not waiting for approval", a.ID, a.Status)
	}
	if !c.Time.Before(a.ApprovalDeadline) {
		return nil, muster.Errorf(muster.EConflict, "activation %s waited for approval until %s; request it again",
			a.ID, a.ApprovalDeadline.Format(time.RFC3339))
	}
	if err := anotherPerson(tx, c, a); err != nil {
		return nil, err
	}
	if !req.Approve && req.Reason == "" {
		return nil, invalidf("reason: say why activation %s is rejected", a.ID)
	}
	if req.Approve && req.Recipients <= 0 {
		return nil, invalidf("recipients: an approval names the recipient count of the preview it agrees to")
	}
	d := Decision{By: c.Actor, At: c.Time, Approve: req.Approve, Reason: req.Reason, Recipients: req.Recipients}
	if req.Approve && c.RulesAtLeast(13) {
		if d.Lineage, err = independent(tx, c, a); err != nil {
			return nil, err
		}
	}
	if c.RulesAtLeast(13) {
		holder, err := access.HolderOf(tx, c.Actor)
		if err != nil {
			return nil, err
		}
		if !access.SameHolder(holder, c.Actor) {
			d.Holder = holder
		}
	}
	a.Decisions = append(a.Decisions, d)
	if !req.Approve {
		a.Status = StatusRejected
		return a, putActivation(tx, a)
	}
	p, err := prepare(tx, a.request())
	if err != nil {
		return nil, err
	}
	if a.Approvals() < a.ApprovalsRequired {
		n, err := countRecipients(tx, p)
		if err != nil {
			return nil, err
		}
		if n != req.Recipients {
			return nil, changedSincePreview(a.ID, req.Recipients, n)
		}
		return a, putActivation(tx, a)
	}
	// The last approval starts the call-up, at its own time.
	if err := start(tx, p, &a, c); err != nil {
		return nil, err
	}
	if a.Recipients != req.Recipients {
		return nil, changedSincePreview(a.ID, req.Recipients, a.Recipients)
	}
	return a, nil
}

// request is the activation request a was created from.
func (a *Activation) request() activationCreate {
	return activationCreate{Plan: a.Plan, PlanVersion: a.PlanVersion, Regions: a.Regions, Level: a.Level, Purpose: a.Purpose, Reason: a.Reason,
		ConfirmScope: a.ConfirmedScope}
}

func changedSincePreview(id plans.ActivationID, seen, now int) error {
	return muster.Errorf(muster.EConflict, "activation %s would now call %s, not the %d given: the roster changed since the preview, or the count is not the preview's; look at the preview again",
		id, muster.Count(now, "person", "people"), seen)
}

// countRecipients counts the people p calls up, without writing anything.
func countRecipients(tx *bolt.Tx, p *prepared) (int, error) {
	n := 0
	err := derive(tx, p.version.Plan, p.slots, p.regions, func(*plans.PersonRecord, []uint16) error {
		n++
		return nil
	})
	return n, err
}

// notStartedSince refuses the approval of request id (EConflict) if the
// same LIVE call-up it asks for (plan, level, regions) was started by
// someone else while it waited: approving would page its people twice.
// The request itself was checked when it was made (notAgain).
func (s *Service) notStartedSince(ctx context.Context, id plans.ActivationID) error {
	return s.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		a, err := getActivation(tx, id)
		if err != nil || a.Status != StatusPendingApproval {
			return nil // the command reports an unknown or decided request
		}
		o, err := activeAgain(tx, sameLive(a.request()))
		if err != nil || o == nil {
			return err
		}
		return muster.Errorf(muster.EConflict, "activation %s (%s, level %s, LIVE) over the same regions was started by %s at %s, after this request: "+
			"its people have been called; reject this request, or approve with repeat to call them a second time",
			o.ID, o.Plan, o.Level, o.CreatedBy, o.Start().Format(time.RFC3339))
	})
}

// DecisionRequest approves or rejects a pending activation. Recipients is
// the recipient count of the preview the decider saw (required to approve).
type DecisionRequest struct {
	Approve    bool   `json:"approve"`
	Reason     string `json:"reason,omitempty"`
	Recipients int    `json:"recipients"`
	// Repeat approves even though the same LIVE call-up (plan, level,
	// regions) started while this request waited: its people are called a
	// second time.
	Repeat bool `json:"repeat,omitempty"`
}

// ApprovalPreview is the preview an approver looks at before deciding on a
// pending activation: the same computation as the requester's preview, over
// the roster as it is now.
func (s *Service) ApprovalPreview(ctx context.Context, id plans.ActivationID) (Preview, error) {
	var out Preview
	err := s.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		a, err := getActivation(tx, id)
		if err != nil {
			return err
		}
		p, err := prepare(tx, a.request())
		if err != nil {
			return err
		}
		if out, err = s.preview(tx, p); err != nil {
			return err
		}
		a.Recipients, a.StoppedDrills = out.Total, out.Activation.StoppedDrills // the approval is what stops them
		out.Activation = a.shown(s.now())
		return nil
	})
	return out, err
}

// Decide records actor's approval or rejection of a pending activation. The
// last approval needed starts the call-up in the same raft entry.
func (s *Service) Decide(ctx context.Context, actor string, id plans.ActivationID, req DecisionRequest) (Activation, error) {
	var out Activation
	if err := CheckReason("reason", req.Reason, "say briefly why; the whole of it goes into the audit trail and the console"); err != nil {
		return out, err
	}
	if req.Approve {
		// The approval starts the call-up: not while nobody would be called.
		if err := s.liveSMS(); err != nil {
			return out, err
		}
	}
	if req.Approve && !req.Repeat {
		if err := s.notStartedSince(ctx, id); err != nil {
			return out, err
		}
	}
	b, err := json.Marshal(activationDecide{Activation: id, Approve: req.Approve, Reason: req.Reason, Recipients: req.Recipients})
	if err != nil {
		return out, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, activationTimeout)
		defer cancel()
	}
	err = s.apply.Apply(ctx, &muster.Command{Type: CmdActivationDecide, Actor: actor, Payload: b}, &out)
	return out, err
}
