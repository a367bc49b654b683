// Package notify turns an activated plan into a call-up: it derives the
// recipients from the pinned plan version and the roster inside the FSM,
// switches the activated regions to emergency, keeps per-recipient delivery
// state with counters, and renders the messages. Sending (dispatcher,
// providers) builds on the state written here.
package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/access"
	"muster/plans"
)

// Purpose says whether an activation is real. It is fixed at creation and
// maps to CAP status Actual, Exercise and Test.
type Purpose string

// Purposes.
const (
	PurposeLive     Purpose = "LIVE"
	PurposeExercise Purpose = "EXERCISE"
	PurposeTest     Purpose = "TEST"
)

// ParsePurpose accepts LIVE, EXERCISE or TEST in any case.
func ParsePurpose(s string) (Purpose, error) {
	p := Purpose(strings.ToUpper(strings.TrimSpace(s)))
	switch p {
	case PurposeLive, PurposeExercise, PurposeTest:
		return p, nil
	}
	return "", invalidf("purpose %q: want LIVE, EXERCISE or TEST", s)
}

// Drill reports whether messages of this purpose carry plans.ExerciseMark.
func (p Purpose) Drill() bool { return p != PurposeLive }

// CAPStatus is the CAP 1.2 status for the purpose.
func (p Purpose) CAPStatus() string {
	switch p {
	case PurposeLive:
		return "Actual"
	case PurposeExercise:
		return "Exercise"
	}
	return "Test"
}

// Status is where an activation is in its life.
type Status string

// Activation statuses.
const (
	StatusPendingApproval Status = "pending_approval" // LIVE at a level that needs more people's approval
	StatusActive          Status = "active"           // recipients are being called up
	StatusStoodDown       Status = "stood_down"       // no more sends; its regions released
	StatusRejected        Status = "rejected"         // an approver refused it; nothing was sent
	// StatusApprovalExpired is never stored: reads show it for a pending
	// activation whose approval window has passed.
	StatusApprovalExpired Status = "approval_expired"
)

// Statuses are the statuses an activation is shown in.
func Statuses() []Status {
	return []Status{StatusPendingApproval, StatusActive, StatusStoodDown, StatusRejected, StatusApprovalExpired}
}

// ParseStatus reads an activation status as the API shows it.
func ParseStatus(s string) (Status, error) {
	for _, st := range Statuses() {
		if string(st) == strings.TrimSpace(s) {
			return st, nil
		}
	}
	names := make([]string, 0, 5)
	for _, st := range Statuses() {
		names = append(names, string(st))
	}
	return "", invalidf("status %q: want one of %s", s, strings.Join(names, ", "))
}

// Command types owned by notify.
const (
	CmdActivationCreate    = "activation.create"
	CmdActivationStandDown = "activation.standdown"
	CmdActivationDecide    = "activation.decide" // approve or reject a pending activation
)

// Activation is one activation of a pinned plan version at a level over some
// regions, as applied. The plan's title, sender and region names are copied
// so messages render the same whatever happens to the plan later.
type Activation struct {
	ID          plans.ActivationID `json:"id"`
	Plan        plans.PlanID       `json:"plan"`
	PlanVersion int                `json:"plan_version"`
	PlanTitle   string             `json:"plan_title"`
	PlanTitleEN string             `json:"plan_title_en,omitempty"`
	Sender      string             `json:"sender,omitempty"`
	Level       plans.LevelCode    `json:"level"`
	LevelName   string             `json:"level_name"`
	Regions     []plans.RegionCode `json:"regions"`
	RegionNames string             `json:"region_names"` // joined by 、 for messages
	// RegionNamesEN are the regions' English names joined by ", " (a
	// region without one says its Chinese name), for English speakers'
	// messages; empty when none of the regions has one.
	RegionNamesEN string  `json:"region_names_en,omitempty"`
	Purpose       Purpose `json:"purpose"`
	Reason        string  `json:"reason"`
	// ConfirmedScope is the confirmation the request gave for a scope wider
	// than the plan expects (see ScopeGuard).
	ConfirmedScope string     `json:"confirmed_scope,omitempty"`
	Status         Status     `json:"status"`
	Roles          []RoleSlot `json:"roles"`
	Recipients     int        `json:"recipients"`
	CreatedAt      time.Time  `json:"created_at"`
	CreatedBy      string     `json:"created_by"`
	Command        string     `json:"command"` // ID of the command that created it
	Index          uint64     `json:"index"`   // raft index it was applied at

	// StartedAt is when the call-up started: CreatedAt, or the last approval.
	StartedAt time.Time `json:"started_at,omitzero"`
	// ApprovalsRequired counts the people who must agree to a LIVE activation,
	// its requester included; ApprovalDeadline ends the wait for them.
	ApprovalsRequired int        `json:"approvals_required,omitempty"`
	ApprovalDeadline  time.Time  `json:"approval_deadline,omitzero"`
	Decisions         []Decision `json:"decisions,omitempty"` // approvals and a rejection, in order
	// RequesterLineage is, on a request that waits for approval (rules 13),
	// the lineage of the token it was requested with, as it stood then:
	// approvals are weighed against it, and its holder is the requester,
	// though the token be revoked and its name given to another since.
	RequesterLineage access.Lineage `json:"requester_lineage,omitempty"`
	// ApproversNotified are, on a request that waits for approval (rules
	// 12), the texts telling the people who may approve it that it does:
	// one to each holder of an approver or commander token with a phone,
	// the requester aside, each with its outcome. NoApproverPhone says no
	// such token has a phone: nobody is texted, the requester tells them.
	ApproversNotified []ApproverNotice `json:"approvers_notified,omitempty"`
	NoApproverPhone   bool             `json:"no_approver_phone,omitempty"`
	// DecisionNotices are, once such a request waits no more (rules 13),
	// the texts telling its requester and the approvers texted about it
	// what became of it (decisionNoticesFor); empty when none has a phone.
	DecisionNotices []ApproverNotice `json:"decision_notices,omitzero"`

	// Retraction is set on an activation that was retracted; Retracts and
	// Message on the correction sent for it, which carries Message as its
	// text instead of the level's template and holds no region.
	Retraction *Retraction        `json:"retraction,omitempty"`
	Retracts   plans.ActivationID `json:"retracts,omitempty"`
	Message    string             `json:"message,omitempty"`
	// MessageEN is, on a correction (rules 13), what it says to English
	// speakers in place of Message (correctionTextEN); empty: Message.
	MessageEN string `json:"message_en,omitempty"`
	// Restored is set, when read for its status or a list, on a call-up
	// that was open in a backup restored since: the people not yet sent
	// to in it were sent to again (RestoredCallUp). Kept in its data
	// bucket, never in the activation's record.
	Restored *RestoredCallUp `json:"restored,omitempty"`
	// retractedAt is, on a correction read from the store, when the
	// call-up it withdraws started (its text names it); never stored.
	retractedAt time.Time
	// standing is, on a correction rendered for one of its people, the
	// call-ups still in force that also call them (standingFor): its text
	// says they stand. Read at send time, never stored.
	standing []Activation
	// answer is, on the end of a LIVE call-up rendered for one of its
	// people, their state in the call-up it ends (endedAnswer): its text
	// says what fits it (liveEndWords). Read at send time, never stored.
	answer State

	StoodDownAt     time.Time `json:"stood_down_at,omitzero"`
	StoodDownBy     string    `json:"stood_down_by,omitempty"`
	StandDownReason string    `json:"stand_down_reason,omitempty"`
	// Forced is set on a correction stood down with force (rules 10): it
	// was wrong, and a call of it answered afterwards reads nothing.
	Forced bool `json:"forced,omitempty"`

	// StoppedDrills lists the drills a LIVE activation stood down when it
	// started (rulesLiveStopsDrills); on a preview, those it would.
	StoppedDrills []plans.ActivationID `json:"stopped_drills,omitempty"`
	// StoppedBy is, on a drill, the LIVE activation that stood it down: the
	// drill was cut short, not held.
	StoppedBy plans.ActivationID `json:"stopped_by,omitempty"`
	// Simulated is set (rules 13) once the leader claimed some of the
	// call-up's messages on the built-in Twilio simulator's account (a
	// muster agent started without an EXERCISE account, or muster dev):
	// they reached no phone (模拟器发送，未到达任何手机), so its delivered,
	// answered and silent counts say nothing of the people. A drill's run
	// so sent is not a drill held.
	Simulated bool `json:"simulated,omitempty"`
	// EndNotice is, on a drill stood down (rulesDrillEndNotice) or a
	// LIVE call-up stood down (rulesLiveEndNotice), the activation that
	// tells the people it reached that it has ended; set only when there
	// was someone to tell. EndsDrill marks that activation of a drill,
	// EndsCallUp that of a LIVE call-up: Retracts names the call-up, which
	// was stood down, not retracted, and its SMS says it has ended
	// (DrillEndText, LiveEndText).
	EndNotice  plans.ActivationID `json:"end_notice,omitempty"`
	EndsDrill  bool               `json:"ends_drill,omitempty"`
	EndsCallUp bool               `json:"ends_call_up,omitempty"`
	// LeftOut counts, on a drill, the people it does not drill because a
	// LIVE call-up called them up for real (rulesDrillSparesLive): left out
	// when it started, or spared when the LIVE call-up started.
	LeftOut int `json:"left_out,omitempty"`
	// SparedFrom lists, on a LIVE activation, the drills running elsewhere
	// that it took its people off when it started.
	SparedFrom []plans.ActivationID `json:"spared_from,omitempty"`
}

// Buckets of the state file owned by notify.
var (
	bActivations = []byte("activations")     // activation ID → Activation (JSON)
	bActData     = []byte("activation_data") // activation ID → {recipients, counters}
	bRecipients  = []byte("recipients")      // person ID → recipient record (binary)
	bCounters    = []byte("counters")        // counter key → 8-byte count
)

// Registrar is where notify registers its apply functions (cluster.Node).
type Registrar interface {
	Handle(cmdType string, fn muster.ApplyFunc)
}

// Register installs every notify command in the FSM.
func Register(r Registrar) {
	r.Handle(CmdActivationCreate, indexWaiting(applyActivationCreate))
	r.Handle(CmdActivationStandDown, indexWaiting(applyActivationStandDown))
	r.Handle(CmdActivationDecide, indexWaiting(applyActivationDecide))
	r.Handle(CmdActivationRetract, indexWaiting(applyActivationRetract))
	r.Handle(CmdEscalationFire, indexWaiting(applyEscalationFire))
	r.Handle(CmdEscalationCatchUp, indexWaiting(applyEscalationCatchUp))
	r.Handle(CmdEscalationClaim, indexWaiting(applyEscalationClaim))
	r.Handle(CmdEscalationResult, indexWaiting(applyEscalationResult))
	r.Handle(CmdDispatchClaim, indexWaiting(applyDispatchClaim))
	r.Handle(CmdDispatchResult, indexWaiting(applyDispatchResult))
	r.Handle(CmdInbound, indexWaiting(applyInbound))
	r.Handle(CmdAnswerKey, indexWaiting(applyAnswerKey))
	r.Handle(CmdCorrectionEnd, indexWaiting(applyCorrectionEnd))
	r.Handle(CmdCorrectionUncall, indexWaiting(applyCorrectionUncall))
	r.Handle(CmdApprovalNotice, indexWaiting(applyApprovalNotice))
	r.Handle(CmdApprovalNoticed, indexWaiting(applyApprovalNoticed))
	r.Handle(CmdWarningPrompt, indexWaiting(applyWarningPrompt))
	r.Handle(CmdWarningPrompted, indexWaiting(applyWarningPrompted))
	r.Handle(CmdWarningEscalate, indexWaiting(applyWarningEscalate))
	r.Handle(CmdWarningEscalated, indexWaiting(applyWarningEscalated))
	r.Handle(CmdRecipientCancel, indexWaiting(applyRecipientCancel))
}

func invalidf(format string, args ...any) error {
	return muster.Errorf(muster.EInvalid, format, args...)
}

// activationCreate is the payload of activation.create. The plan version is
// resolved before proposing, so the command pins it.
type activationCreate struct {
	Plan        plans.PlanID       `json:"plan_id"`
	PlanVersion int                `json:"plan_version"`
	Regions     []plans.RegionCode `json:"regions"`
	Level       plans.LevelCode    `json:"level"`
	Purpose     Purpose            `json:"purpose"`
	Reason      string             `json:"reason"`
	// ConfirmScope names the activation's regions when the scope guard
	// asks for it (see ScopeGuard).
	ConfirmScope string `json:"confirm_scope,omitempty"`
	// ApprovalWindow is how long a LIVE activation that needs approval waits
	// for it; the service stamps its configured window (DefaultApprovalWindow).
	ApprovalWindow time.Duration `json:"approval_window,omitempty"`
	// Key is the request's idempotency key (ActivationRequest.Key).
	Key string `json:"key,omitempty"`
}

// rulesActivationKeys is the behaviour (muster.Rules) from which an
// activation request with an idempotency key creates at most one
// activation per actor and key (bActivationKeys).
const rulesActivationKeys = 5

// bActivationKeys maps actor, 0, idempotency key → the activation the
// request created.
var bActivationKeys = []byte("activation_keys")

// idempotencyKey is the bActivationKeys key of actor's idempotency key.
func idempotencyKey(actor, key string) []byte { return append(append([]byte(actor), 0), key...) }

type activationStandDown struct {
	Activation plans.ActivationID `json:"activation"`
	Reason     string             `json:"reason"`
	// Force stands a correction down although it has messages to go (a
	// wrong correction): those it has not reached are not told. Rules 9.
	Force bool `json:"force,omitempty"`
	// NoNotice tells nobody that the call-up ended (rulesLiveEndNotice):
	// another call-up replaces it and tells its people what stands.
	NoNotice bool `json:"no_notice,omitempty"`
}

// prepared is an activation request checked against the state.
type prepared struct {
	req     activationCreate
	version plans.PlanVersion
	level   *plans.Level
	regions []plans.Region // as requested, sorted, without duplicates
	wider   []plans.Region // those outside the plan's scope
	slots   []RoleSlot
	// cities are the cities the regions cover whole (wholeCities), read
	// only for an activation the whole-city rule looks at (asksWholeCity).
	cities []coveredCity
	// under is the command applying the activation, whose rules the scope
	// guard follows; nil for a read (a preview), which follows the newest.
	under *muster.Command
}

// prepare checks a request against tx: the plan version exists, the level is
// one of its levels, every region exists and lies within the plan's scope.
// It is the one validation both preview and apply use.
func prepare(tx *bolt.Tx, req activationCreate) (*prepared, error) {
	if _, err := ParsePurpose(string(req.Purpose)); err != nil || req.Purpose != Purpose(strings.ToUpper(string(req.Purpose))) {
		return nil, invalidf("purpose %q: want LIVE, EXERCISE or TEST", req.Purpose)
	}
	if !req.Level.Valid() {
		return nil, invalidf("level %q: want I, II, III or IV", req.Level)
	}
	if strings.TrimSpace(req.Reason) == "" {
		return nil, invalidf("reason: say why the plan is activated")
	}
	if len(req.Regions) == 0 {
		return nil, invalidf("regions: name at least one region to activate")
	}
	if req.PlanVersion <= 0 {
		return nil, invalidf("plan_version: an activation pins a version (got %d)", req.PlanVersion)
	}
	pv, err := plans.GetPlanVersion(tx, req.Plan, req.PlanVersion)
	if err != nil {
		return nil, err
	}
	lvl := pv.Plan.Level(req.Level)
	if lvl == nil {
		var have []string
		for _, l := range pv.Plan.Levels {
			have = append(have, string(l.Code))
		}
		return nil, invalidf("plan %s version %d has no level %s (it has %s)", req.Plan, req.PlanVersion, req.Level, strings.Join(have, ", "))
	}
	p := &prepared{req: req, version: pv, level: lvl, slots: RoleSlots(lvl)}
	codes := slices.Clone(req.Regions)
	slices.Sort(codes)
	codes = slices.Compact(codes)
	for _, code := range codes {
		if strings.TrimSpace(string(code)) == "" {
			return nil, invalidf("regions: a region code is blank")
		}
		path, err := plans.RegionPath(tx, code)
		if err != nil {
			return nil, invalidf("regions: %s does not exist", code)
		}
		inScope := false
		for _, a := range path {
			if slices.Contains(pv.Plan.Scope, a.Code) {
				inScope = true
				break
			}
		}
		if !inScope {
			p.wider = append(p.wider, path[0])
		}
		p.regions = append(p.regions, path[0])
	}
	if p.asksWholeCity() {
		if p.cities, err = wholeCities(tx, p.regions); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// ScopeGuard says whether an activation reaches further than its plan
// expects: regions outside the plan's scope, or more recipients than the
// level's expected count times the plan's guard factor, or — a LIVE one at
// a level that one person starts alone and that gives no expected count
// (rulesWholeCityGuard) — the whole city (a region without a parent, or
// every region under it, as wholeCities counts). Such
// an activation starts only if the request confirms the scope by naming
// its regions (Confirm) — the guard against alerting a far wider area than
// meant.
type ScopeGuard struct {
	Wider      []plans.RegionCode `json:"wider,omitempty"`    // requested regions outside the plan's scope
	Expected   int                `json:"expected,omitempty"` // the level's expected recipients (0: not set)
	Factor     float64            `json:"factor,omitempty"`
	Recipients int                `json:"recipients"`
	// Confirm is what confirm_scope must say when confirmation is needed:
	// the activation's region codes, comma-separated, in order.
	Confirm string   `json:"confirm,omitempty"`
	Reasons []string `json:"reasons,omitempty"`
}

// Needed reports whether the activation needs its scope confirmed.
func (g ScopeGuard) Needed() bool { return len(g.Reasons) > 0 }

// ConfirmedBy reports whether confirm (confirm_scope, spaces ignored)
// confirms the scope: it names exactly the activation's regions, in order.
func (g ScopeGuard) ConfirmedBy(confirm string) bool {
	return g.Confirm != "" && strings.ReplaceAll(strings.TrimSpace(confirm), " ", "") == g.Confirm
}

// rulesWholeCityGuard is the behaviour (muster.Rules) from which a LIVE
// activation reaching the whole city (naming a region without a parent, or
// every region under it), at a level
// that one person starts alone (approvals 1) and that gives no expected
// count, needs its scope confirmed: nothing else would ask anyone before
// the whole city is called up. Under older rules it starts unconfirmed.
const rulesWholeCityGuard = 13

// guard computes p's scope guard for an activation calling recipients.
func (p *prepared) guard(recipients int) ScopeGuard {
	g := ScopeGuard{Expected: p.level.Expected, Factor: p.version.Plan.Guard(), Recipients: recipients}
	for _, r := range p.wider {
		g.Wider = append(g.Wider, r.Code)
		g.Reasons = append(g.Reasons, fmt.Sprintf("%s is outside the scope of plan %s (%s)", r.Label(), p.req.Plan, plans.JoinCodes(p.version.Plan.Scope, ", ")))
	}
	if g.Expected > 0 && float64(recipients) > float64(g.Expected)*g.Factor {
		g.Reasons = append(g.Reasons, fmt.Sprintf("%s is more than %g × the %d level %s usually calls", muster.Count(recipients, "recipient", "recipients"), g.Factor, g.Expected, p.level.Code))
	}
	if p.asksWholeCity() && (p.under == nil || p.under.RulesAtLeast(rulesWholeCityGuard)) {
		for _, c := range p.cities {
			what := c.city.Label() + " is the whole city"
			if len(c.by) > 1 {
				what = fmt.Sprintf("%s together cover the whole city, %s", plans.JoinCodes(c.by, ", "), c.city.Label())
			} else if c.by[0] != c.city.Code {
				what = fmt.Sprintf("%s covers the whole city, %s", c.by[0], c.city.Label())
			}
			g.Reasons = append(g.Reasons, fmt.Sprintf("%s, and plan %s gives level %s, which one person starts alone, no expected count to tell a usual call-up from one that wide", what, p.req.Plan, p.level.Code))
		}
	}
	if g.Needed() {
		codes := make([]string, len(p.regions))
		for i, r := range p.regions {
			codes[i] = string(r.Code)
		}
		g.Confirm = strings.Join(codes, ",")
	}
	return g
}

// checkGuard refuses an activation that needs its scope confirmed unless
// the request confirmed exactly its regions.
func (p *prepared) checkGuard(recipients int) error {
	g := p.guard(recipients)
	if !g.Needed() {
		return nil
	}
	if g.ConfirmedBy(p.req.ConfirmScope) {
		return nil
	}
	return invalidf("scope not confirmed: %s; if that is meant, confirm it by naming the regions: --confirm-scope %s (API: \"confirm_scope\": %q)",
		strings.Join(g.Reasons, "; "), g.Confirm, g.Confirm)
}

func (p *prepared) activation(id plans.ActivationID, c *muster.Command) Activation {
	a := Activation{ID: id, Plan: p.req.Plan, PlanVersion: p.req.PlanVersion, PlanTitle: p.version.Plan.Title,
		PlanTitleEN: p.version.Plan.TitleEN, Sender: p.version.Plan.Sender, Level: p.level.Code, LevelName: p.level.Name,
		Purpose: p.req.Purpose, Reason: strings.TrimSpace(p.req.Reason), Status: StatusActive, Roles: p.slots,
		ConfirmedScope: strings.TrimSpace(p.req.ConfirmScope)}
	names := make([]string, len(p.regions))
	for i, r := range p.regions {
		a.Regions = append(a.Regions, r.Code)
		names[i] = r.Name
	}
	a.RegionNames = strings.Join(names, "、")
	if c == nil || c.RulesAtLeast(rulesEnglishNames) {
		a.RegionNamesEN = regionNamesEN(p.regions)
	} else {
		a.Roles = withoutNamesEN(a.Roles)
	}
	if c != nil {
		a.CreatedAt, a.CreatedBy, a.Command, a.Index = c.Time, c.Actor, c.ID, c.Index
	}
	return a
}

func activationKey(seq uint64) plans.ActivationID {
	return plans.ActivationID(fmt.Sprintf("A%06d", seq))
}

func applyActivationCreate(tx *bolt.Tx, c *muster.Command) (any, error) {
	var req activationCreate
	if err := json.Unmarshal(c.Payload, &req); err != nil {
		return nil, invalidf("activation: %v", err)
	}
	return createActivation(tx, c, req)
}

// CreateActivation creates an activation of req inside another command's
// apply function, at c's time and by c's actor, exactly as activation.create
// would: it is how a drill run claims its due time and starts its EXERCISE
// activation in one raft entry. The plan version is resolved in tx when req
// names none, which is deterministic: every node holds the same plans.
func CreateActivation(tx *bolt.Tx, c *muster.Command, req ActivationRequest) (Activation, error) {
	cr, err := req.normalize(tx)
	if err != nil {
		return Activation{}, err
	}
	return createActivation(tx, c, cr)
}

// TryActivation is CreateActivation for a caller that records a request
// that cannot start instead of failing its own command (a drill run): a
// request the plan, level, regions, purpose or scope guard refuse comes back
// as refused, with nothing written; err is a failure of the transaction.
// The checks are made once, before anything is written.
func TryActivation(tx *bolt.Tx, c *muster.Command, req ActivationRequest) (a Activation, refused, err error) {
	p, err := checked(tx, req)
	if muster.IsCode(err, muster.EInvalid) || muster.IsCode(err, muster.ENotFound) {
		return a, err, nil
	} else if err != nil {
		return a, nil, err
	}
	a, err = createPrepared(tx, c, p)
	return a, nil, err
}

func createActivation(tx *bolt.Tx, c *muster.Command, req activationCreate) (Activation, error) {
	var key []byte
	if req.Key != "" && c.RulesAtLeast(rulesActivationKeys) {
		key = idempotencyKey(c.Actor, req.Key)
		if b := tx.Bucket(bActivationKeys); b != nil {
			if id := b.Get(key); id != nil {
				return sameRequest(tx, plans.ActivationID(id), req)
			}
		}
	}
	p, err := prepare(tx, req)
	if err != nil {
		return Activation{}, err
	}
	if req.Purpose.Drill() && c.RulesAtLeast(rulesLiveStopsDrills) {
		if err := noDrillWhereLive(tx, req.Regions); err != nil {
			return Activation{}, err
		}
	}
	a, err := createPrepared(tx, c, p)
	if err != nil || key == nil {
		return a, err
	}
	b, err := tx.CreateBucketIfNotExists(bActivationKeys)
	if err != nil {
		return a, err
	}
	return a, b.Put(key, []byte(a.ID))
}

// sameRequest returns activation id, which an earlier request with the
// same idempotency key created, if req asks for the same activation
// (plan, level, purpose, regions); another request reusing the key is a
// conflict.
func sameRequest(tx *bolt.Tx, id plans.ActivationID, req activationCreate) (Activation, error) {
	a, err := getActivation(tx, id)
	if err != nil {
		return a, err
	}
	regions := slices.Clone(req.Regions)
	slices.Sort(regions)
	regions = slices.Compact(regions)
	if a.Plan != req.Plan || a.Level != req.Level || a.Purpose != req.Purpose || !slices.Equal(a.Regions, regions) ||
		(req.PlanVersion > 0 && a.PlanVersion != req.PlanVersion) {
		return Activation{}, muster.Errorf(muster.EConflict, "idempotency key %q was used for activation %s (%s level %s %s over %v): use a new key for another request",
			req.Key, a.ID, a.Plan, a.Level, a.Purpose, a.Regions)
	}
	return a, nil
}

// noDrillWhereLive refuses a drill over, above or under the regions of an
// active LIVE call-up (EConflict): the LIVE one would have stood it down
// (rulesLiveStopsDrills), and its people are called up for real.
func noDrillWhereLive(tx *bolt.Tx, regions []plans.RegionCode) error {
	open, err := overlappingOpen(tx, regions)
	if err != nil {
		return err
	}
	for _, o := range open {
		if o.Purpose == PurposeLive {
			return muster.Errorf(muster.EConflict, "LIVE activation %s is calling up %s for real: no drill there until it is stood down", o.ID, o.RegionNames)
		}
	}
	return nil
}

// createPrepared creates the activation p was prepared for.
func createPrepared(tx *bolt.Tx, c *muster.Command, p *prepared) (Activation, error) {
	req := p.req
	p.under = c
	ab, err := tx.CreateBucketIfNotExists(bActivations)
	if err != nil {
		return Activation{}, err
	}
	seq, err := ab.NextSequence()
	if err != nil {
		return Activation{}, err
	}
	a := p.activation(activationKey(seq), c)
	// A LIVE activation at a level that needs more than one person's word
	// (level I and II by default) waits for the others: nothing is derived,
	// switched or sent until the last approval.
	if req.Purpose == PurposeLive && p.level.Approvals > 1 {
		window := req.ApprovalWindow
		if window <= 0 {
			window = DefaultApprovalWindow
		}
		n, err := countRecipients(tx, p)
		if err != nil {
			return Activation{}, err
		}
		if err := p.checkGuard(n); err != nil {
			return Activation{}, err
		}
		a.Status, a.StartedAt = StatusPendingApproval, time.Time{}
		a.ApprovalsRequired, a.ApprovalDeadline = p.level.Approvals, c.Time.Add(window)
		if c.RulesAtLeast(13) {
			toks, err := access.ListTokens(tx)
			if err != nil {
				return Activation{}, err
			}
			a.RequesterLineage = access.LineageOf(toks, c.Actor)
		}
		if c.RulesAtLeast(rulesApproverNotice) {
			if err := listApprovers(tx, &a); err != nil {
				return Activation{}, err
			}
		}
		return a, putActivation(tx, a)
	}
	if err := start(tx, p, &a, c); err != nil {
		return Activation{}, err
	}
	return a, nil
}

// start derives and writes a's recipients and counters, switches its regions
// to emergency when it is LIVE and opens it for the dispatcher, at c's time.
func start(tx *bolt.Tx, p *prepared, a *Activation, c *muster.Command) error {
	id := a.ID
	p.under = c
	a.Status, a.StartedAt = StatusActive, c.Time
	db, err := tx.CreateBucketIfNotExists(bActData)
	if err != nil {
		return err
	}
	ad, err := db.CreateBucket([]byte(id))
	if err != nil {
		return fmt.Errorf("activation %s: %w", id, err)
	}
	rb, err := ad.CreateBucket(bRecipients)
	if err != nil {
		return err
	}
	// Records are only ever rewritten in place (same length), so pages can
	// be filled.
	rb.FillPercent = recipientsFill
	grids := map[plans.RegionCode]int64{}
	roles := make([]int64, len(p.slots))
	var live []*bolt.Bucket
	if a.Purpose.Drill() && c.RulesAtLeast(rulesDrillSparesLive) {
		if live, err = liveRecipients(tx); err != nil {
			return err
		}
	}
	if a.Recipients, a.LeftOut, err = writeRecipients(tx, p, rb, grids, roles, live); err != nil {
		return fmt.Errorf("derive recipients of %s: %w", id, err)
	}
	if err := p.checkGuard(a.Recipients); err != nil {
		return err
	}
	if err := writePendingCounters(ad, a.Recipients, grids, roles); err != nil {
		return err
	}
	// Only a LIVE call-up switches regions to emergency (战时): a drill runs
	// in peacetime and holds no region; it answers only a drill's warning
	// (EXERCISE or TEST, from rules 9), as a LIVE call-up answers LIVE ones.
	if a.Purpose.Drill() {
		if err := plans.AnswerDrillWarnings(tx, c, a.Regions, id, a.Level); err != nil {
			return err
		}
	}
	if a.Purpose == PurposeLive {
		for _, r := range a.Regions {
			if err := plans.HoldEmergency(tx, c, r, a.Level, id, a.Reason, a.CreatedBy); err != nil {
				return fmt.Errorf("switch %s to emergency: %w", r, err)
			}
		}
		if c.RulesAtLeast(rulesLiveStopsDrills) {
			if err := standDownDrills(tx, a, c, rb); err != nil {
				return err
			}
		}
		if c.RulesAtLeast(rulesDrillSparesLive) {
			if err := spareFromDrills(tx, a, c, rb); err != nil {
				return err
			}
		}
	}
	ob, err := tx.CreateBucketIfNotExists(bOpen)
	if err != nil {
		return err
	}
	if err := ob.Put([]byte(id), nil); err != nil {
		return err
	}
	return putActivation(tx, *a)
}

// rulesLiveStopsDrills is the behaviour (muster.Rules) from which a LIVE
// call-up that starts stands down the drills running over, above or under
// its regions: people called up for real are not also drilled, and drill
// traffic (【演练】 texts, calls, 叫应 reports) stops where the real thing
// is. Under older rules the drills ran on.
const rulesLiveStopsDrills = 5

// standDownDrills stands down the open drills (EXERCISE and TEST call-ups;
// not corrections, which tell people to ignore a drill's message) whose
// regions overlap a's, and lists them in a.StoppedDrills. From
// rulesDrillEndNotice each tells the people it reached that it has ended,
// but those a (its recipients live) and the other LIVE call-ups call up.
func standDownDrills(tx *bolt.Tx, a *Activation, c *muster.Command, live *bolt.Bucket) error {
	open, err := overlappingOpen(tx, a.Regions)
	if err != nil {
		return err
	}
	for _, d := range open {
		if !d.Purpose.Drill() {
			continue
		}
		if err := standDown(tx, &d, c, fmt.Sprintf("LIVE activation %s started over %s: the drill stops", a.ID, a.RegionNames), false); err != nil {
			return fmt.Errorf("stand down drill %s: %w", d.ID, err)
		}
		d.StoppedBy = a.ID
		if c.RulesAtLeast(rulesDrillEndNotice) {
			if err := tellEnded(tx, c, &d, live); err != nil {
				return err
			}
		}
		if err := putActivation(tx, d); err != nil {
			return err
		}
		a.StoppedDrills = append(a.StoppedDrills, d.ID)
	}
	return nil
}

// rulesDrillSparesLive is the behaviour (muster.Rules) from which people
// called up for real are not drilled anywhere: a drill leaves out the
// recipients of the active LIVE call-ups, and a LIVE call-up that starts
// takes its people off the drills it does not stand down (drills of other
// districts reach some of them through roles drawn from the whole plan).
// Under older rules those drills went on calling them.
const rulesDrillSparesLive = 7

// liveRecipients returns the recipients buckets of the active LIVE
// call-ups (corrections aside).
func liveRecipients(tx *bolt.Tx) ([]*bolt.Bucket, error) {
	var out []*bolt.Bucket
	err := eachLiveCallUp(tx, func(_ Activation, recipients *bolt.Bucket) {
		out = append(out, recipients)
	})
	return out, err
}

// eachLiveCallUp calls fn with each active LIVE call-up (corrections
// aside) that has recipients, and its recipients bucket, in ID order.
func eachLiveCallUp(tx *bolt.Tx, fn func(a Activation, recipients *bolt.Bucket)) error {
	for _, id := range openActivations(tx) {
		a, err := getActivation(tx, id)
		if err != nil {
			return err
		}
		if a.Purpose != PurposeLive || a.Status != StatusActive || a.Retracts != "" {
			continue
		}
		if ad := activationData(tx, id); ad != nil && ad.Bucket(bRecipients) != nil {
			fn(a, ad.Bucket(bRecipients))
		}
	}
	return nil
}

// inAny reports whether person is a key of one of buckets.
func inAny(buckets []*bolt.Bucket, person []byte) bool {
	return slices.ContainsFunc(buckets, func(b *bolt.Bucket) bool { return b.Get(person) != nil })
}

// spareFromDrills takes the people of the LIVE call-up a (its recipients
// live) off the drills still running after it stood down those over its
// regions. A drill's recipient it has not sent to yet leaves the drill; for
// one it has sent to, the drill's escalation clock ends and the calls and
// messages queued to them are skipped, so nothing marked 【演练】 follows the
// real call-up. Each drill counts them in LeftOut (once: those another LIVE
// call-up spared before are not counted again); a lists the drills.
func spareFromDrills(tx *bolt.Tx, a *Activation, c *muster.Command, live *bolt.Bucket) error {
	// The LIVE call-ups active before a spared their people already (a is
	// not open yet): those are not counted again.
	before, err := liveRecipients(tx)
	if err != nil {
		return err
	}
	acts := actCache{}
	for _, id := range openActivations(tx) {
		d, err := getActivation(tx, id)
		if err != nil {
			return err
		}
		if !d.Purpose.Drill() || d.Status != StatusActive || d.Retracts != "" || activationData(tx, id) == nil {
			continue
		}
		at, err := acts.get(tx, id)
		if err != nil {
			return err
		}
		var shared []plans.PersonID
		err = at.rb.ForEach(func(k, _ []byte) error {
			if live.Get(k) != nil && !inAny(before, k) {
				shared = append(shared, plans.PersonID(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(shared) == 0 {
			continue
		}
		for _, p := range shared {
			if err := at.spare(p, fmt.Sprintf("called up for real by LIVE activation %s", a.ID)); err != nil {
				return fmt.Errorf("drill %s: %w", id, err)
			}
		}
		at.a.LeftOut += len(shared)
		if err := putActivation(tx, at.a); err != nil {
			return err
		}
		a.SparedFrom = append(a.SparedFrom, id)
	}
	return acts.flush(c)
}

// spare stops at's drill for person, whom a LIVE call-up called up (why):
// not sent to yet, they leave it; otherwise their escalation clock ends
// and the SMS and calls queued to them are skipped. A send in flight
// cannot be called back.
func (at *actTx) spare(person plans.PersonID, why string) error {
	r, att, err := at.recipient(person)
	if err != nil {
		return err
	}
	if r.State == StatePending {
		if err := at.unschedule(person, &att); err != nil {
			return err
		}
		if err := at.rb.Delete([]byte(person)); err != nil {
			return err
		}
		if err := at.attempts.Delete([]byte(person)); err != nil {
			return err
		}
		at.tally(r.Grid, r.Roles, StatePending, -1)
		at.a.Recipients--
	}
	_, err = at.endEscalationOf(person, why)
	return err
}

// overlappingOpen lists the active call-ups, corrections aside, with a
// region that is one of regions, or lies above or under one of them.
func overlappingOpen(tx *bolt.Tx, regions []plans.RegionCode) ([]Activation, error) {
	rr := plans.NewRegionReader(tx)
	var out []Activation
	for _, id := range openActivations(tx) {
		d, err := getActivation(tx, id)
		if err != nil {
			return nil, err
		}
		if d.Status != StatusActive || d.Retracts != "" {
			continue
		}
		if slices.ContainsFunc(d.Regions, func(dr plans.RegionCode) bool {
			return slices.ContainsFunc(regions, func(r plans.RegionCode) bool { return rr.Within(dr, r) || rr.Within(r, dr) })
		}) {
			out = append(out, d)
		}
	}
	return out, nil
}

// Start is when a's call-up started (zero while it waits for approval).
func (a *Activation) Start() time.Time {
	if a.StartedAt.IsZero() && a.Status == StatusActive {
		return a.CreatedAt
	}
	return a.StartedAt
}

// writePendingCounters creates the counters of an activation whose total
// recipients are all pending, grids and roles counting them per grid and
// role slot.
func writePendingCounters(ad *bolt.Bucket, total int, grids map[plans.RegionCode]int64, roles []int64) error {
	cb, err := ad.CreateBucket(bCounters)
	if err != nil {
		return err
	}
	counts := map[string]int64{string(stateKey(StatePending)): int64(total)}
	for g, n := range grids {
		counts[string(gridKey(g, StatePending))] = n
	}
	for i, n := range roles {
		counts[string(roleKey(i, StatePending))] = n
	}
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		if n := counts[k]; n > 0 {
			if err := cb.Put([]byte(k), appendCount(nil, n)); err != nil {
				return err
			}
		}
	}
	return nil
}

// putActivation stores a's record.
func putActivation(tx *bolt.Tx, a Activation) error {
	a.Restored = nil // its own record (restoredKey)
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	ab, err := tx.CreateBucketIfNotExists(bActivations)
	if err != nil {
		return err
	}
	if err := ab.Put([]byte(a.ID), data); err != nil {
		return err
	}
	return noteWaiting(tx, a)
}

// recipientsFill is the fill of a recipients bucket's pages. The bucket is
// written once, in key order, and its records never grow.
const recipientsFill = 1.0

// Records are encoded into chunks of recordChunk bytes; a new chunk is
// started when less than recordSlack is left.
const (
	recordChunk = 1 << 20
	recordSlack = 4 << 10
)

// writeRecipients derives the recipients of p and puts them into rb as it
// goes, in person ID order, which is bbolt's cheap order: each key lands at
// the end of the bucket's one growing node. It counts them per grid and role
// slot into grids and roles and returns how many there are, and how many it
// left out because they are recipients of a call-up in live (for a drill:
// they are called up for real). bbolt keeps the values it is given until the
// transaction commits, so records are encoded into chunks that are never
// reused or moved.
func writeRecipients(tx *bolt.Tx, p *prepared, rb *bolt.Bucket, grids map[plans.RegionCode]int64, roles []int64, live []*bolt.Bucket) (n, left int, err error) {
	pending, _ := StatePending.code()
	var chunk, last []byte
	err = derive(tx, p.version.Plan, p.slots, p.regions, func(r *plans.PersonRecord, rs []uint16) error {
		if (n > 0 || left > 0) && bytes.Compare(r.ID, last) <= 0 { // a broken roster, not a bad request
			return fmt.Errorf("person %s read after %s: the roster is out of order or names someone twice", r.ID, last)
		}
		last = append(last[:0], r.ID...)
		if inAny(live, r.ID) {
			left++
			return nil
		}
		if cap(chunk)-len(chunk) < recordSlack {
			chunk = make([]byte, 0, recordChunk)
		}
		start := len(chunk)
		chunk = appendRecord(chunk, pending, rs, r)
		if err := rb.Put(r.ID, chunk[start:len(chunk):len(chunk)]); err != nil {
			return err
		}
		n++
		grids[r.Grid]++
		for _, i := range rs {
			roles[i]++
		}
		return nil
	})
	return n, left, err
}

func appendCount(b []byte, n int64) []byte {
	return append(b, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func getActivation(tx *bolt.Tx, id plans.ActivationID) (Activation, error) {
	var a Activation
	b := tx.Bucket(bActivations)
	var data []byte
	if b != nil {
		data = b.Get([]byte(id))
	}
	if data == nil {
		return a, muster.Errorf(muster.ENotFound, "activation %s does not exist", id)
	}
	if err := json.Unmarshal(data, &a); err != nil {
		return a, fmt.Errorf("decode activation %s: %w", id, err)
	}
	withRetracted(tx, &a)
	return a, nil
}

func applyActivationStandDown(tx *bolt.Tx, c *muster.Command) (any, error) {
	var req activationStandDown
	if err := json.Unmarshal(c.Payload, &req); err != nil {
		return nil, invalidf("stand down: %v", err)
	}
	a, err := standDownActivation(tx, c, req.Activation, req.Reason, req.Force)
	if err != nil {
		return a, err
	}
	return a, toldEnded(tx, c, &a, req.NoNotice)
}

// toldEnded tells the people call-up a, just stood down, reached that it
// has ended, as one a LIVE call-up makes of a drill does (from
// rulesDrillEndNotice): a drill's always (before rulesLiveEndNotice), a
// LIVE call-up's from rulesLiveEndNotice, and neither when noNotice says
// another call-up replaces it (from rulesLiveEndNotice) or a is a
// correction. It stores a when it opened an end notice.
func toldEnded(tx *bolt.Tx, c *muster.Command, a *Activation, noNotice bool) error {
	if a.Retracts != "" || !c.RulesAtLeast(rulesDrillEndNotice) {
		return nil
	}
	if c.RulesAtLeast(rulesLiveEndNotice) {
		if noNotice {
			return nil
		}
	} else if !a.Purpose.Drill() {
		return nil
	}
	if err := tellEnded(tx, c, a, nil); err != nil || a.EndNotice == "" {
		return err
	}
	return putActivation(tx, *a)
}

// StandDownActivation stands activation id down inside another command's
// apply function, at c's time and by c's actor, exactly as
// activation.standdown would (a drill run ending does it): from
// rulesRunEndNotice the people it reached are told it has ended
// (toldEnded). Standing down an activation that is no longer running is a
// conflict, and so (rules 9) is standing down a correction that still has
// SMS to send or calls to make: it ends by itself once they went out.
func StandDownActivation(tx *bolt.Tx, c *muster.Command, id plans.ActivationID, reason string) (Activation, error) {
	a, err := standDownActivation(tx, c, id, reason, false)
	if err != nil || !c.RulesAtLeast(rulesRunEndNotice) {
		return a, err
	}
	return a, toldEnded(tx, c, &a, false)
}

// rulesRunEndNotice is the behaviour (muster.Rules) from which a drill
// run's call-up stood down by the drill (its length is over, or the next
// run of a schedule starts after it) tells the people it reached that the
// drill has ended, as a trainer's stand-down does (rulesDrillEndNotice):
// someone who answered 到 to a full-scale drill may be at a drill post.
// Under older rules such a run ended telling nobody.
const rulesRunEndNotice = 13

// standDownActivation is StandDownActivation; force stands a correction
// down although it has messages to go, saying how many in the reason.
func standDownActivation(tx *bolt.Tx, c *muster.Command, id plans.ActivationID, reason string, force bool) (Activation, error) {
	if strings.TrimSpace(reason) == "" {
		return Activation{}, invalidf("reason: say why the activation is stood down")
	}
	a, err := getActivation(tx, id)
	if err != nil {
		return a, err
	}
	switch {
	case a.Retraction != nil:
		return a, muster.Errorf(muster.EConflict, "activation %s was retracted at %s by %s: nothing more of it is sent (its correction is %s)",
			a.ID, a.Retraction.At.Format(time.RFC3339), a.Retraction.By, a.Retraction.Correction)
	case a.Status == StatusStoodDown:
		return a, muster.Errorf(muster.EConflict, "activation %s was already stood down at %s by %s", a.ID, a.StoodDownAt.Format(time.RFC3339), a.StoodDownBy)
	case a.Status == StatusRejected:
		return a, muster.Errorf(muster.EConflict, "activation %s was rejected; nothing was sent", a.ID)
	case a.Retracts != "" && a.Status == StatusActive:
		left, err := correctionMayStop(tx, a, c)
		switch {
		case err != nil && force && left != "":
			reason += " (stood down with " + left + notToldNote
		case err != nil:
			return a, err
		}
		a.Forced = force && c.RulesAtLeast(rulesForcedRecorded)
	}
	if err := standDown(tx, &a, c, reason, false); err != nil {
		return a, err
	}
	return a, putActivation(tx, a)
}

// notToldNote ends the stand-down reason of a correction stood down with
// force while it still had SMS or calls to go.
const notToldNote = ": they were not told)"

// rulesForcedRecorded is the behaviour (muster.Rules) from which a
// correction stood down with force records it (Activation.Forced): its
// calls answered afterwards read nothing, while those of a correction that
// ended otherwise still read it. Under older rules only the reason of one
// stood down with SMS or calls to go said so.
const rulesForcedRecorded = 10

// stoppedWrong reports whether a, a correction, was stood down with force
// (it was wrong): as recorded, or, before rulesForcedRecorded, as its
// reason says.
func stoppedWrong(a Activation) bool {
	return a.Forced || strings.HasSuffix(a.StandDownReason, notToldNote)
}

// GetActivation reads activation id from tx (ENotFound when there is none).
func GetActivation(tx *bolt.Tx, id plans.ActivationID) (Activation, error) {
	return getActivation(tx, id)
}

// CheckActivation runs every check creating req would, without writing:
// the plan version, level, regions and purpose, and the scope guard
// (counting the recipients only when the guard could stop it). Checking a
// drill schedule uses it before any run is due.
func CheckActivation(tx *bolt.Tx, req ActivationRequest) error {
	_, err := checked(tx, req)
	return err
}

// checked is req normalized, prepared and past its scope guard.
func checked(tx *bolt.Tx, req ActivationRequest) (*prepared, error) {
	cr, err := req.normalize(tx)
	if err != nil {
		return nil, err
	}
	p, err := prepare(tx, cr)
	if err != nil {
		return nil, err
	}
	if len(p.wider) == 0 && p.level.Expected <= 0 {
		return p, nil
	}
	n, err := countRecipients(tx, p)
	if err != nil {
		return nil, err
	}
	return p, p.checkGuard(n)
}

// standDown stops a: it is closed to the dispatcher, its regions are
// released, and recipients whose send was in flight are expired. A pending
// activation is withdrawn: it switched nothing and sent nothing. From
// rules 12 the regions a LIVE activation held are then in recovery (恢复)
// unless retracted (it was sent in error: there was no emergency, and its
// regions go back to what they were in). The caller stores a.
func standDown(tx *bolt.Tx, a *Activation, c *muster.Command, reason string, retracted bool) error {
	pending := a.Status == StatusPendingApproval
	a.Status, a.StoodDownAt, a.StoodDownBy, a.StandDownReason = StatusStoodDown, c.Time, c.Actor, strings.TrimSpace(reason)
	if pending {
		return nil
	}
	if a.Retracts == "" { // a correction holds no region
		for _, r := range a.Regions {
			var err error
			if retracted {
				err = plans.ReleaseEmergency(tx, r, a.ID, c.Time, c.Actor, a.StandDownReason)
			} else {
				err = plans.StandDownEmergency(tx, c, r, a.ID, a.StandDownReason)
			}
			if err != nil {
				return fmt.Errorf("release %s: %w", r, err)
			}
		}
	}
	if ob := tx.Bucket(bOpen); ob != nil {
		if err := ob.Delete([]byte(a.ID)); err != nil {
			return err
		}
	}
	if err := expireInFlight(tx, c, a.ID); err != nil {
		return err
	}
	if c.RulesAtLeast(rulesStopEndsClocks) {
		return endClocks(tx, a.ID)
	}
	return nil
}

// rulesStopEndsClocks is the behaviour (muster.Rules) from which a
// stand-down or retraction ends the activation's escalation clocks: no
// step is due any more. Under older rules they stayed, and showed as
// waiting.
const rulesStopEndsClocks = 4

// endClocks removes activation id's escalation clocks and their count.
func endClocks(tx *bolt.Tx, id plans.ActivationID) error {
	ad := activationData(tx, id)
	if ad == nil || ad.Bucket(bEscClock) == nil {
		return nil
	}
	if err := ad.DeleteBucket(bEscClock); err != nil {
		return err
	}
	return ad.Bucket(bCounters).Delete([]byte(dispatchCounter + escClockCounter))
}

// SetRecipientState moves one recipient of an activation to state to and
// updates the counters in the same transaction, as the dispatcher's and the
// webhooks' apply functions do: O(1) in the size of the call-up, within the
// command c. It returns the state the recipient was in.
func SetRecipientState(tx *bolt.Tx, c *muster.Command, id plans.ActivationID, person plans.PersonID, to State) (State, error) {
	if _, ok := to.code(); !ok {
		return "", invalidf("state %q is unknown", to)
	}
	acts := actCache{}
	at, err := acts.get(tx, id)
	if err != nil {
		return "", err
	}
	r, _, err := at.recipient(person)
	if err != nil {
		return "", err
	}
	if err := at.move(r, to); err != nil {
		return "", err
	}
	return r.State, acts.flush(c)
}

// activationData is the bucket holding an activation's recipients and
// counters, nil if there is none.
func activationData(tx *bolt.Tx, id plans.ActivationID) *bolt.Bucket {
	db := tx.Bucket(bActData)
	if db == nil {
		return nil
	}
	return db.Bucket([]byte(id))
}

// expireInFlight moves the recipients of a stood-down activation that are
// still in sending to expired: no leader will claim them again, and the
// outcome of a send a dead leader left in flight is unknown. A result or a
// delivery report that still arrives moves them on to sent or delivered.
func expireInFlight(tx *bolt.Tx, c *muster.Command, id plans.ActivationID) error {
	ad := activationData(tx, id)
	if ad == nil || ad.Bucket(bCounters).Get(stateKey(StateSending)) == nil {
		return nil
	}
	sending, _ := StateSending.code()
	var people []plans.PersonID
	cur := ad.Bucket(bRecipients).Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if len(v) > 1 && v[1] == sending {
			people = append(people, plans.PersonID(k))
		}
	}
	acts := actCache{}
	at, err := acts.get(tx, id)
	if err != nil {
		return err
	}
	for _, p := range people {
		r, _, err := at.recipient(p)
		if err != nil {
			return err
		}
		if err := at.move(r, StateExpired); err != nil {
			return err
		}
	}
	return acts.flush(c)
}
