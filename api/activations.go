package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"muster"
	"muster/access"
	"muster/notify"
	"muster/plans"
)

// Activations is what api needs of plan activations and region modes
// (notify.Service).
type Activations interface {
	Preview(ctx context.Context, req notify.ActivationRequest) (notify.Preview, error)
	Activate(ctx context.Context, actor string, req notify.ActivationRequest) (notify.Activation, error)
	StandDown(ctx context.Context, actor string, id plans.ActivationID, reason string) (notify.Activation, error)
	ForceStandDown(ctx context.Context, actor string, id plans.ActivationID, reason string) (notify.Activation, error)
	StandDownWith(ctx context.Context, actor string, id plans.ActivationID, req notify.StandDownRequest) (notify.Activation, error)
	ApprovalPreview(ctx context.Context, id plans.ActivationID) (notify.Preview, error)
	Retract(ctx context.Context, actor string, id plans.ActivationID, req notify.RetractRequest) (notify.RetractResult, error)
	RetractPreview(ctx context.Context, id plans.ActivationID, req notify.RetractRequest) (notify.RetractPreview, error)
	Escalation(ctx context.Context, level muster.Consistency, id plans.ActivationID) ([]notify.EscalationStepStatus, error)
	Decide(ctx context.Context, actor string, id plans.ActivationID, req notify.DecisionRequest) (notify.Activation, error)
	Activation(ctx context.Context, level muster.Consistency, id plans.ActivationID) (notify.ActivationStatus, error)
	Activations(ctx context.Context, level muster.Consistency, page plans.Page, statuses ...notify.Status) (plans.List[notify.Activation], error)
	Recipients(ctx context.Context, level muster.Consistency, id plans.ActivationID, f notify.RecipientFilter, page plans.Page) (plans.List[notify.Recipient], error)
	StatusAndBoard(ctx context.Context, level muster.Consistency, id plans.ActivationID) (notify.ActivationStatus, notify.Board, error)
	Notes(ctx context.Context, level muster.Consistency, id plans.ActivationID) ([]notify.Note, error)
	InboundAudit(ctx context.Context, level muster.Consistency, after uint64, limit int) ([]notify.InboundRecord, error)
	Modes(ctx context.Context, level muster.Consistency) ([]plans.ModeRecord, error)
	Mode(ctx context.Context, level muster.Consistency, region plans.RegionCode) (plans.RegionMode, error)
	EndRecovery(ctx context.Context, actor string, regions []plans.RegionCode, reason string) ([]plans.RegionMode, error)
	CancelRecipient(ctx context.Context, actor string, id plans.ActivationID, person plans.PersonID, reason string) (notify.Cancellation, error)
	CallUpsOf(ctx context.Context, level muster.Consistency, person plans.PersonID) ([]notify.PersonCallUp, error)
}

// activationRequest is the body of POST /activations: the activation, and
// dry_run to get the preview instead.
type activationRequest struct {
	notify.ActivationRequest
	DryRun bool `json:"dry_run"`
}

func (s *Server) createActivation(c *gin.Context) {
	var req activationRequest
	if err := decodeJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	if req.DryRun {
		p, err := s.deps.Activations.Preview(c.Request.Context(), req.ActivationRequest)
		s.reply(c, http.StatusOK, p, err)
		return
	}
	// A client that retries (a timeout, a lost answer) sends the same
	// Idempotency-Key: it gets the activation its first request created.
	req.Key = c.GetHeader("Idempotency-Key")
	a, err := s.deps.Activations.Activate(c.Request.Context(), identity(c).Name, req.ActivationRequest)
	if err == nil {
		c.Header("Location", "/api/v1/activations/"+string(a.ID))
	}
	s.reply(c, http.StatusCreated, a, err)
}

func (s *Server) listActivations(c *gin.Context) {
	p, err := planPage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	// status=pending_approval,… lists only the activations in those
	// statuses: the console asks every few seconds for the requests that
	// wait for an approver.
	var statuses []notify.Status
	if v := c.Query("status"); v != "" {
		for _, f := range strings.Split(v, ",") {
			st, err := notify.ParseStatus(f)
			if err != nil {
				s.writeError(c, err)
				return
			}
			statuses = append(statuses, st)
		}
	}
	out, err := s.deps.Activations.Activations(c.Request.Context(), consistency(c), p, statuses...)
	s.reply(c, http.StatusOK, out, err)
}

// getActivation serves an activation with its counters; with board=true,
// its board too, from the same read, under "board". Requests for one
// activation that come while it is being read share the next read, as
// boards do (getBoard): when a call-up starts, every console opening it
// asks at once.
func (s *Server) getActivation(c *gin.Context) {
	reads, withBoard, err := s.statusReads(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	r, err := reads.get(c.Request.Context(), consistency(c), plans.ActivationID(idParam(c)), time.Now())
	if err != nil {
		s.writeError(c, err)
		return
	}
	if !withBoard {
		c.Data(http.StatusOK, "application/json; charset=utf-8", r.v.data)
		return
	}
	c.JSON(http.StatusOK, struct {
		notify.ActivationStatus
		Board json.RawMessage `json:"board"`
	}{r.v.st, r.v.board.whole})
}

// statusReads returns the shared reads of activation status a request
// asks for: with the board when its board parameter is true.
func (s *Server) statusReads(c *gin.Context) (reads *sharedReads[streamStatus], withBoard bool, err error) {
	if v := c.Query("board"); v != "" {
		if withBoard, err = strconv.ParseBool(v); err != nil {
			return nil, false, muster.Errorf(muster.EInvalid, "board %q: want true or false", v)
		}
	}
	if withBoard {
		return s.watches, true, nil
	}
	return s.statuses, false, nil
}

func (s *Server) listRecipients(c *gin.Context) {
	p, err := planPage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	f := notify.RecipientFilter{Grid: plans.RegionCode(c.Query("grid")), Role: c.Query("role")}
	if v := c.Query("state"); v != "" {
		if f.State, err = notify.ParseState(v); err != nil {
			s.writeError(c, err)
			return
		}
	}
	out, err := s.deps.Activations.Recipients(c.Request.Context(), consistency(c), plans.ActivationID(idParam(c)), f, p)
	s.reply(c, http.StatusOK, out, err)
}

func (s *Server) standDown(c *gin.Context) {
	var req struct {
		Reason string `json:"reason"`
		Force  bool   `json:"force"` // a correction with messages still to go, too
		// Notice false tells nobody the call-up ended: another replaces it.
		Notice *bool `json:"notice"`
	}
	if err := decodeJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	a, err := s.deps.Activations.StandDownWith(c.Request.Context(), identity(c).Name, plans.ActivationID(idParam(c)),
		notify.StandDownRequest{Reason: req.Reason, Force: req.Force, NoNotice: req.Notice != nil && !*req.Notice})
	s.reply(c, http.StatusOK, a, err)
}

// cancelRecipient takes one person off an open call-up (POST
// /activations/{id}/recipients/{person}/cancel, with a reason): nothing
// more of it is sent to them and their escalation ends. Permission
// activate, as a stand-down.
func (s *Server) cancelRecipient(c *gin.Context) {
	var req struct {
		Reason string `json:"reason"`
	}
	if err := decodeJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	out, err := s.deps.Activations.CancelRecipient(c.Request.Context(), identity(c).Name, plans.ActivationID(idParam(c)), plans.PersonID(c.Param("person")), req.Reason)
	s.reply(c, http.StatusOK, out, err)
}

// approveActivation approves a pending activation, or with dry_run returns
// the preview the approver must look at first. The approval names the
// recipient count of that preview; it is refused if the call-up would now
// reach a different number of people.
func (s *Server) approveActivation(c *gin.Context) {
	var req struct {
		DryRun     bool   `json:"dry_run"`
		Reason     string `json:"reason"`
		Recipients *int   `json:"recipients"`
		Repeat     bool   `json:"repeat"`
	}
	if err := decodeJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	id := plans.ActivationID(idParam(c))
	if req.DryRun {
		// What the approval would be refused for is said before the
		// preview: an approver is not shown "nothing has been sent yet"
		// for a call-up that started, nor asked to confirm what they may
		// not approve.
		if err := s.secondPerson(c.Request.Context(), identity(c), id); err != nil {
			s.writeError(c, err)
			return
		}
		p, err := s.deps.Activations.ApprovalPreview(c.Request.Context(), id)
		if err == nil && p.Activation.Status != notify.StatusPendingApproval {
			err = muster.Errorf(muster.EConflict, "activation %s is %s, not waiting for approval", id, p.Activation.Status)
		}
		s.reply(c, http.StatusOK, p, err)
		return
	}
	if req.Recipients == nil {
		s.writeError(c, muster.Errorf(muster.EInvalid, "recipients: give the recipient count of the preview you approve (POST with \"dry_run\": true to see it)"))
		return
	}
	if err := s.secondPerson(c.Request.Context(), identity(c), id); err != nil {
		s.writeError(c, err)
		return
	}
	a, err := s.deps.Activations.Decide(c.Request.Context(), identity(c).Name, id, notify.DecisionRequest{Approve: true, Reason: req.Reason, Recipients: *req.Recipients, Repeat: req.Repeat})
	s.reply(c, http.StatusOK, a, err)
}

// secondPerson refuses an approval that the requester of activation id
// could have given alone:
//   - by a token of the requester's: with their name, or held by them (the
//     FSM refuses these too);
//   - by a token the requester made, whenever: the requester could hold it
//     as well as their own;
//   - by a token that comes from the requester's through tokens made from
//     them, whenever any of them was minted (an admin who mints a second
//     admin token mints approvers with it as their own), or a token minted
//     after the request through someone who holds no token any more since
//     (so that revoking a token in between does not hide where it came
//     from): an approver must hold a token that does not come from the
//     requester's. So a request of the first admin token, from which every
//     token comes, is approved by no one: officials request with tokens of
//     their own;
//   - of a request whose requester holds no token any more (revoked since):
//     the request no longer stands, and may only be rejected;
//   - by a token revoked since it was authenticated;
//   - by anyone not independent of the requester, or of an earlier approver
//     (access.Apart, the rule the FSM decides by under rules 13): whose
//     holder holds a token up the other's lineage — the admin who made the
//     requester's token, or a token up its chain, the first admin's
//     included — or whose lineage holds a token of the other's holder.
//     Lineages recorded when tokens were made, and with decisions, keep
//     revoked links; a link of an older token that is gone refuses.
//
// Tokens of people independent of the requester and of every earlier
// approver approve: two approvers an admin made for two people, say.
func (s *Server) secondPerson(ctx context.Context, who access.Identity, id plans.ActivationID) error {
	st, err := s.deps.Activations.Activation(ctx, muster.Default, id)
	if err != nil || st.Status != notify.StatusPendingApproval {
		return err // what else is wrong the decision says
	}
	tokens, err := s.deps.Tokens.List(ctx, muster.Default)
	if err != nil {
		return err
	}
	byName := map[string][]access.Token{}
	var own access.Token
	for _, t := range tokens {
		byName[t.Name] = append(byName[t.Name], t)
		if t.ID == who.TokenID {
			own = t
		}
	}
	requester := st.CreatedBy
	stands := len(byName[requester]) > 0
	if l := st.RequesterLineage; len(l) > 0 && l[0].ID != "" {
		// The very token it was requested with (rules 13): its name may
		// have been given to another token since it was revoked.
		stands = slices.ContainsFunc(byName[requester], func(t access.Token) bool { return t.ID == l[0].ID })
	}
	if !stands {
		return muster.Errorf(muster.EConflict, "%s, who requested activation %s, holds no token any more (revoked): the request no longer stands; reject it", requester, id)
	}
	// The requester's tokens: theirs by name, and any other held by the
	// same person (access.Token.Holder).
	holder := byName[requester][0].HeldBy()
	requesters := func(name string) bool {
		return name == requester || len(byName[name]) > 0 && access.SameHolder(byName[name][0].HeldBy(), holder)
	}
	if own.ID == "" {
		// Revoked since it was checked: what it approves the FSM refuses
		// too, and nothing here may be skipped for it.
		return muster.Errorf(muster.EUnauthorized, "the token %q (%s) was revoked just now: approve with a token that stands", who.Name, who.TokenID)
	}
	if requesters(own.Name) {
		if own.Name == requester {
			return muster.Errorf(muster.EForbidden, "activation %s was requested by %s; another person must decide on it", id, requester)
		}
		return muster.Errorf(muster.EForbidden, "activation %s was requested by %s with the token %q; %q is theirs too: another person must decide on it", id, holder, requester, own.Name)
	}
	if requesters(own.CreatedBy) {
		return muster.Errorf(muster.EForbidden, "activation %s was requested by %s, whose token %q made the token %q (%s): the requester could approve with it themselves; "+
			"a second person approves with a token someone else made", id, holder, own.CreatedBy, own.Name, own.ID)
	}
	seen := map[access.TokenID]bool{}
	var fromRequester func(t access.Token) bool
	fromRequester = func(t access.Token) bool {
		if seen[t.ID] {
			return false
		}
		seen[t.ID] = true
		if requesters(t.CreatedBy) {
			return true
		}
		makers := byName[t.CreatedBy]
		if len(makers) == 0 {
			// Made by someone whose tokens are gone since: after the
			// request, not traceable to another person; before it, as old
			// as the request's history (the first admin's maker, too).
			return t.CreatedAt.After(st.CreatedAt)
		}
		return slices.ContainsFunc(makers, fromRequester)
	}
	if fromRequester(own) {
		hint := ""
		if requester == access.BootstrapTokenName {
			hint = " (every token comes from the first admin token: no one can approve its requests; officials request with tokens of their own)"
		}
		return muster.Errorf(muster.EForbidden, "activation %s was requested by %s, and the token %q (%s) comes from a token of theirs, through tokens made from it: "+
			"the requester could have made it; a second person approves with a token that does not come from the requester's%s", id, requester, own.Name, own.ID, hint)
	}
	// The rule the FSM decides by (notify, rules 13): independent of the
	// requester, and of every approver before, up and down both chains.
	mine := access.LineageOf(tokens, own.Name)
	theirs := st.RequesterLineage
	if len(theirs) == 0 {
		theirs = access.LineageOf(tokens, requester)
	}
	if err := access.Apart(mine, theirs, fmt.Sprintf("activation %s was requested by %s", id, holder)); err != nil {
		return err
	}
	for _, d := range st.Decisions {
		theirs := d.Lineage
		if len(theirs) == 0 {
			theirs = access.LineageOf(tokens, d.By)
		}
		if theirs[0].Holder == mine[0].Holder {
			continue // deciding twice: the decision says so (conflict)
		}
		if err := access.Apart(mine, theirs, fmt.Sprintf("activation %s was approved already by %s", id, theirs[0].Holder)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) rejectActivation(c *gin.Context) {
	var req struct {
		Reason string `json:"reason"`
	}
	if err := decodeJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	a, err := s.deps.Activations.Decide(c.Request.Context(), identity(c).Name, plans.ActivationID(idParam(c)), notify.DecisionRequest{Reason: req.Reason})
	s.reply(c, http.StatusOK, a, err)
}

func (s *Server) getEscalation(c *gin.Context) {
	steps, err := s.deps.Activations.Escalation(c.Request.Context(), consistency(c), plans.ActivationID(idParam(c)))
	s.reply(c, http.StatusOK, listResponse[notify.EscalationStepStatus]{Items: steps}, err)
}

// retractRequest is the body of POST /activations/:id/retract: the
// retraction, and dry_run to get its preview instead (notify.RetractPreview:
// whom the correction would reach, its text, and the call-ups in force that
// also called some of them), with nothing committed.
type retractRequest struct {
	notify.RetractRequest
	DryRun bool `json:"dry_run"`
}

// retractActivation stops an activation at once and sends its correction to
// everyone it may have reached, or with dry_run says what it would do.
func (s *Server) retractActivation(c *gin.Context) {
	s.retract(c, plans.ActivationID(idParam(c)))
}

// retract retracts activation id with the request's body, or previews it.
func (s *Server) retract(c *gin.Context, id plans.ActivationID) {
	var req retractRequest
	if err := decodeJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	if req.DryRun {
		p, err := s.deps.Activations.RetractPreview(c.Request.Context(), id, req.RetractRequest)
		s.reply(c, http.StatusOK, p, err)
		return
	}
	out, err := s.deps.Activations.Retract(c.Request.Context(), identity(c).Name, id, req.RetractRequest)
	s.reply(c, http.StatusOK, out, err)
}

func (s *Server) listModes(c *gin.Context) {
	if r := c.Query("region"); r != "" {
		m, err := s.deps.Activations.Mode(c.Request.Context(), consistency(c), plans.RegionCode(r))
		s.reply(c, http.StatusOK, m, err)
		return
	}
	modes, err := s.deps.Activations.Modes(c.Request.Context(), consistency(c))
	if err != nil {
		s.writeError(c, err)
		return
	}
	items := make([]modeListItem, len(modes))
	for i, m := range modes {
		items[i].ModeRecord = m
		// The list was read at the level asked for; the local state read
		// now is at least as new, so a stale read adds no round trip.
		em, err := s.deps.Activations.Mode(c.Request.Context(), muster.Stale, m.Region)
		if muster.IsCode(err, muster.EInvalid) {
			continue // a record of a region no longer in the tree: listed as it is
		}
		if err != nil {
			s.writeError(c, err)
			return
		}
		if em.From != "" && em.From != m.Region {
			items[i].Effective = &em
		}
	}
	s.reply(c, http.StatusOK, listResponse[modeListItem]{Items: items}, nil)
}

// endRecoveryRequest is the body of POST /modes/{region}/end-recovery.
type endRecoveryRequest struct {
	Reason string `json:"reason"`
}

// endRecovery ends the recovery (恢复) of the region in the path, or of
// each of several separated by commas (all or none): a commander's decision.
func (s *Server) endRecovery(c *gin.Context) {
	var req endRecoveryRequest
	if err := decodeJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	var regions []plans.RegionCode
	for r := range strings.SplitSeq(c.Param("region"), ",") {
		if r = strings.TrimSpace(r); r != "" {
			regions = append(regions, plans.RegionCode(r))
		}
	}
	out, err := s.deps.Activations.EndRecovery(c.Request.Context(), identity(c).Name, regions, req.Reason)
	s.reply(c, http.StatusOK, listResponse[plans.RegionMode]{Items: out}, err)
}

// modeListItem is a region's own mode record as GET /modes lists it, with
// Effective set when the region is in another mode through an ancestor (a
// street in standby whose district is in emergency is in emergency): the
// mode people there are called up under.
type modeListItem struct {
	plans.ModeRecord
	Effective *plans.RegionMode `json:"effective,omitempty"`
}
