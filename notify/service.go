package notify

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// Applier replicates a command and decodes its result into out
// (cluster.Node implements it).
type Applier interface {
	Apply(ctx context.Context, c *muster.Command, out any) error
}

// Viewer reads the state at a consistency level (cluster.Node implements it).
type Viewer interface {
	View(ctx context.Context, level muster.Consistency, fn func(tx *bolt.Tx) error) error
}

// SendInfo is how messages of one purpose go out: the provider account, the
// sender (number or ID) and the rate the account may send at.
type SendInfo struct {
	Account   string  `json:"account"`
	Sender    string  `json:"sender"`
	PerSecond float64 `json:"per_second"`
	// Leader, in a preview made on a member that does not lead, names the
	// leader, which sends every call-up: Account, Sender and PerSecond are
	// then this member's and hold for the leader as far as it runs the
	// same provider flags (as every member should), or say that the leader
	// has no LIVE account, or that this member has none to show. Empty
	// when the preview was made on the leader, or no leader is known.
	Leader string `json:"leader,omitempty"`
}

// Senders holds the SendInfo for LIVE traffic and for EXERCISE and TEST
// traffic, which always uses its own account and sender.
type Senders struct {
	Live     SendInfo
	Exercise SendInfo
	// NoLive says this node has no LIVE SMS account: Live only says so.
	NoLive bool
}

// For returns the SendInfo messages of purpose p use.
func (s Senders) For(p Purpose) SendInfo {
	if p.Drill() {
		return s.Exercise
	}
	return s.Live
}

// Service activates plans, previews activations, stands them down and reads
// their state. It holds no state of its own.
type Service struct {
	apply   Applier
	view    Viewer
	senders Senders

	// ApprovalWindow is how long LIVE activations that need approval wait
	// for it (DefaultApprovalWindow when zero). Set it before use.
	ApprovalWindow time.Duration
	// PublicURL is the dispatcher's (DispatcherConfig.PublicURL): previews
	// render {{.Link}} as a link of the length the real one will have, so
	// their segment count is the sent message's. Empty: no link, as the
	// dispatcher sends none. Set it before use.
	PublicURL string
	// Clock is what reads take as now: a request waiting for approval
	// shows as approval_expired once its window has passed by it
	// (muster.SystemClock when nil). Set it before use.
	Clock muster.Clock
	// LeaderWithoutLiveSMS, when set, names the leader, which sends every
	// call-up's messages, when it has no LIVE SMS account, and returns ""
	// when it has one or is not known (cluster.Node's): LIVE activations
	// and approvals are refused while it names one, and previews say so,
	// for their messages would stay pending and nobody would be called.
	// Nil: not checked. Set it before use.
	LeaderWithoutLiveSMS func() string
	// Leader, when set, names the leader and says whether this node is
	// it (cluster.Node's), so that a preview made on a follower describes
	// how the leader sends, not this node (SendInfo.Leader). Nil: previews
	// show this node's senders. Set it before use.
	Leader func() (id string, here bool)
}

// leaderSend is what a preview of a call-up of purpose p says of how it
// is sent: this node's senders when it leads (or no leader is known),
// else the leader's as far as this node can tell (SendInfo.Leader), so
// that a preview made on a follower does not describe an account the
// call-up will not be sent with. noLive: the leader has no LIVE account.
func (s *Service) leaderSend(p Purpose, noLive bool) SendInfo {
	info := s.senders.For(p)
	if s.Leader == nil {
		return info
	}
	id, here := s.Leader()
	if id == "" || here {
		return info
	}
	switch {
	case noLive:
		return SendInfo{Account: fmt.Sprintf("(none: the leader %s, which sends every call-up, has no LIVE SMS account)", id), Leader: id}
	case !p.Drill() && s.senders.NoLive:
		return SendInfo{Account: fmt.Sprintf("(the LIVE account of the leader %s, which sends every call-up; this node has none, so its account and rate are not known here)", id), Leader: id}
	}
	info.Leader = id
	return info
}

// liveSMS refuses (EConflict) a LIVE call-up while the leader has no LIVE
// SMS account (Service.LeaderWithoutLiveSMS): it would be recorded, and
// its messages would stay pending with nobody called, which the official
// who started it would learn only when nobody came.
func (s *Service) liveSMS() error {
	if s.LeaderWithoutLiveSMS == nil {
		return nil
	}
	leader := s.LeaderWithoutLiveSMS()
	if leader == "" {
		return nil
	}
	return muster.Errorf(muster.EConflict, "no LIVE SMS account: node %s, which leads the cluster and sends every call-up, was started without one, "+
		"so a LIVE call-up would call nobody (主节点 %s 未配置真实短信账号，真实召集发不出去): start it with its LIVE account, "+
		"--twilio-account-sid, --twilio-auth-token and --twilio-from (or --twilio-messaging-service-sid), as every member should run; "+
		"muster cluster status names the members without one. EXERCISE and TEST activations are not affected", leader, leader)
}

// keyUsed reports whether actor's idempotency key created an activation
// already: the request is a retry, answered with what it created.
func keyUsed(tx *bolt.Tx, actor, key string) bool {
	if key == "" {
		return false
	}
	b := tx.Bucket(bActivationKeys)
	return b != nil && b.Get(idempotencyKey(actor, key)) != nil
}

// NewService returns a Service over a replicated state.
func NewService(a Applier, v Viewer, senders Senders) *Service {
	return &Service{apply: a, view: v, senders: senders}
}

func (s *Service) now() time.Time {
	if s.Clock == nil {
		return time.Now()
	}
	return s.Clock.Now()
}

// ActivationRequest asks for a plan to be activated. PlanVersion 0 means the
// latest version, which the service resolves and pins before proposing.
type ActivationRequest struct {
	Plan        plans.PlanID       `json:"plan_id"`
	PlanVersion int                `json:"plan_version,omitempty"`
	Regions     []plans.RegionCode `json:"regions"`
	Level       string             `json:"level"`
	Purpose     string             `json:"purpose"`
	Reason      string             `json:"reason"`
	// ConfirmScope confirms a scope wider than the plan expects by naming the
	// activation's regions (the preview's Guard.Confirm).
	ConfirmScope string `json:"confirm_scope,omitempty"`
	// Key, when set, makes the request idempotent for its actor: asked
	// again with the same key, the activation it created is returned and
	// no other is created (the API's Idempotency-Key header).
	Key string `json:"-"`
	// Repeat asks for a LIVE call-up that repeats one still open (same
	// plan, level and regions): without it, such a request is refused, so
	// that a command typed twice does not page everyone twice.
	Repeat bool `json:"repeat,omitempty"`
	// DuringRecovery asks for an EXERCISE or TEST call-up over a region in
	// recovery (恢复) after a live emergency: without it, such a request is
	// refused, as a drill's run by hand is (notDuringRecovery). Repeat
	// likewise lets an EXERCISE or TEST request drill people another drill
	// call-up still drills (演练重叠, notOverDrill).
	DuringRecovery bool `json:"during_recovery,omitempty"`
}

// MaxKeyChars bounds an activation request's idempotency key.
const MaxKeyChars = 128

// MaxReasonChars bounds an activation's reason, which its voice call-ups
// read out twice (and SMS templates may carry): a short statement of why.
const MaxReasonChars = 200

// CheckReason refuses a reason (field names it: a drill's title is its
// runs' reason) of more than MaxReasonChars characters, with hint said on
// how to keep it short, or with control characters.
func CheckReason(field, reason, hint string) error {
	if n := utf8.RuneCountInString(strings.TrimSpace(reason)); n > MaxReasonChars {
		return invalidf("%s: %d characters; at most %d (%s)", field, n, MaxReasonChars, hint)
	}
	return muster.CheckPlainText(field, reason, false)
}

// CheckDrillText refuses text that a drill's messages say (field names
// it: an EXERCISE or TEST call-up's reason, a drill's title, a drill's
// retraction text) when it says the drill is not one or is real
// (plans.RealClaimsIn: 非演练, 真实事件, "this is not a drill", …): under
// plans.ExerciseMark or not, its people may take such a drill for a real
// emergency. The error names the words found.
func CheckDrillText(field, text string) error {
	words := plans.RealClaimsIn(text)
	if len(words) == 0 {
		return nil
	}
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = strconv.Quote(w)
	}
	return invalidf("%s %q says %s: it goes into a drill's messages, and a drill must never say it is real or not a drill, "+
		"or its people may take it for a real emergency; say what is drilled (a real call-up is started with purpose LIVE)", field, text, strings.Join(quoted, ", "))
}

// checkAsked refuses a reason longer than MaxReasonChars, a negative plan
// version (0 is the latest) and an idempotency key too long or with
// surrounding spaces. It is checked where a person asks for
// an activation (preview and activate), before the request is proposed;
// the state machine does not check it, so entries from before the limit
// replay as they applied.
func checkAsked(req ActivationRequest) error {
	if err := CheckReason("reason", req.Reason, "say briefly why the plan is activated"); err != nil {
		return err
	}
	// A LIVE call-up says its reason (voice, CAP, templates with .Reason):
	// a drill word there is a drill started as LIVE by mistake, or a real
	// message that reads as a drill.
	if p, err := ParsePurpose(req.Purpose); err == nil && p == PurposeLive {
		if words := plans.ReasonDrillWords(req.Reason); len(words) > 0 {
			return invalidf("reason %q says %q, but the purpose is LIVE: a drill is started with purpose EXERCISE (or TEST); "+
				"a real call-up's reason, which its messages say, must not read as a drill", req.Reason, words[0])
		}
	} else if err == nil {
		// A drill says its reason too: never that it is real.
		if err := CheckDrillText("reason", req.Reason); err != nil {
			return err
		}
	}
	if req.PlanVersion < 0 {
		return invalidf("plan_version %d: name a version, or leave it out for the latest", req.PlanVersion)
	}
	if len(req.Key) > MaxKeyChars || strings.TrimSpace(req.Key) != req.Key {
		return invalidf("idempotency key: at most %d bytes, without surrounding spaces", MaxKeyChars)
	}
	return nil
}

// liveSaysNoDrill refuses a LIVE activation of a plan version whose own
// texts that every message says (sender, titles, level and role names)
// carry a drill word: plan validation refuses such a plan now, but a
// version stored before it did may still say 【演练】 in front of a real
// call-up.
func liveSaysNoDrill(p *prepared) error {
	if p.req.Purpose != PurposeLive {
		return nil
	}
	if field, text, word := p.version.Plan.LiveDrillWord(); field != "" {
		return invalidf("plan %s version %d: its %s %q says %q, and a LIVE call-up's messages would say it: fix the plan and apply it again "+
			"(a drill is started with purpose EXERCISE, whose messages get %s from the system)", p.version.PlanID, p.version.Version, field, text, word, plans.ExerciseMark)
	}
	return nil
}

// askedFor checks, where a person asks for an activation, what the state
// machine leaves alone: no region named lies within another named one
// (its people are called once anyway, but the preview would count them
// twice and messages would name both), and no drill goes where a LIVE
// call-up is (the state machine refuses that too, under
// rulesLiveStopsDrills).
func askedFor(tx *bolt.Tx, cr activationCreate) error {
	if r, above, ok := plans.WithinAnother(plans.NewRegionReader(tx), cr.Regions); ok {
		return invalidf("regions: %s lies within %s, also named: name only %s", r, above, above)
	}
	if cr.Purpose.Drill() {
		return noDrillWhereLive(tx, cr.Regions)
	}
	return nil
}

// notExpired refuses what (stand down, retract) for a request whose
// approval window has passed: it never started and is approval_expired as
// every read shows it, which a stand-down would overwrite. The stored
// status stays pending_approval (reads show the expiry), so the state
// machine alone would take it for a request still waiting.
func (s *Service) notExpired(ctx context.Context, id plans.ActivationID, what string) error {
	return s.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		a, err := getActivation(tx, id)
		if err != nil || a.shown(s.now()).Status != StatusApprovalExpired {
			return err // an unknown ID is the command's to report
		}
		return muster.Errorf(muster.EConflict, "activation %s is approval_expired: nobody approved it by %s, so it never started and nothing was sent; nothing to %s (ask again for a new activation)",
			id, a.ApprovalDeadline.Format(time.RFC3339), what)
	})
}

// notAgain refuses, unless repeat is set, a LIVE request that repeats a
// LIVE call-up still open (active, or awaiting approval within its window
// at now) of the same plan at the same level over the same regions: the
// same command run twice would page everyone twice, and two identical
// requests approved would too. A request whose idempotency key is
// recorded is let through: it returns the activation it created.
func notAgain(tx *bolt.Tx, actor string, cr activationCreate, repeat bool, now time.Time) error {
	if repeat || cr.Purpose != PurposeLive {
		return nil
	}
	if keyUsed(tx, actor, cr.Key) {
		return nil
	}
	same := sameLive(cr)
	if o, err := activeAgain(tx, same); err != nil || o != nil {
		if o != nil {
			err = muster.Errorf(muster.EConflict, "activation %s (%s, level %s, %s) is already active over the same regions, started by %s: "+
				"its people have been called; stand it down first, or ask again with repeat to call them a second time",
				o.ID, o.Plan, o.Level, o.Purpose, o.CreatedBy)
		}
		return err
	}
	// Requests awaiting approval are not among the open ones (nothing was
	// started): look through the latest activations, newest first.
	b := tx.Bucket(bActivations)
	if b == nil {
		return nil
	}
	n := 0
	for k, v := range muster.Backward(b) {
		if n++; n > pendingLookback {
			break
		}
		var o Activation
		if err := json.Unmarshal(v, &o); err != nil {
			return fmt.Errorf("activation %s: %w", k, err)
		}
		if o.shown(now).Status == StatusPendingApproval && same(o) {
			return muster.Errorf(muster.EConflict, "activation %s (%s, level %s, %s) over the same regions, requested by %s, awaits approval until %s: "+
				"have it approved or rejected rather than asking again, or ask again with repeat",
				o.ID, o.Plan, o.Level, o.Purpose, o.CreatedBy, o.ApprovalDeadline.Format(time.RFC3339))
		}
	}
	return nil
}

// sameLive returns whether an activation is a LIVE call-up (not a
// correction) of cr's plan at cr's level over cr's regions.
func sameLive(cr activationCreate) func(o Activation) bool {
	want := slices.Compact(slices.Sorted(slices.Values(cr.Regions)))
	return func(o Activation) bool {
		return o.Retracts == "" && o.Purpose == PurposeLive && o.Plan == cr.Plan && o.Level == cr.Level &&
			slices.Equal(slices.Compact(slices.Sorted(slices.Values(o.Regions))), want)
	}
}

// activeAgain returns the active call-up that same matches, nil if none.
func activeAgain(tx *bolt.Tx, same func(Activation) bool) (*Activation, error) {
	for _, id := range openActivations(tx) {
		o, err := getActivation(tx, id)
		if err != nil {
			return nil, err
		}
		if o.Status == StatusActive && same(o) {
			return &o, nil
		}
	}
	return nil, nil
}

// pendingLookback bounds how many of the latest activations notAgain reads
// for requests awaiting approval: far more than a city makes within an
// approval window.
const pendingLookback = 1000

// normalize checks the request's own fields and resolves the plan version.
func (req ActivationRequest) normalize(tx *bolt.Tx) (activationCreate, error) {
	var out activationCreate
	lvl, err := plans.ParseLevelCode(req.Level)
	if err != nil {
		return out, err
	}
	purpose, err := ParsePurpose(req.Purpose)
	if err != nil {
		return out, err
	}
	out = activationCreate{Plan: plans.PlanID(strings.TrimSpace(string(req.Plan))), PlanVersion: req.PlanVersion, Level: lvl, Purpose: purpose, Reason: strings.TrimSpace(req.Reason),
		ConfirmScope: strings.TrimSpace(req.ConfirmScope), Key: req.Key}
	for _, r := range req.Regions {
		out.Regions = append(out.Regions, plans.RegionCode(strings.TrimSpace(string(r))))
	}
	if out.PlanVersion <= 0 {
		v, err := plans.LatestPlanVersion(tx, out.Plan)
		if err != nil {
			return out, err
		}
		out.PlanVersion = v
	}
	return out, nil
}

// RegionCount is how many recipients lie under one activated region.
type RegionCount struct {
	Region     plans.RegionCode `json:"region"`
	Name       string           `json:"name"`
	Recipients int              `json:"recipients"`
}

// RoleCount is how many people fill one role slot, and how many are missing
// against the slot's count.
type RoleCount struct {
	RoleSlot
	Matched   int `json:"matched"`
	Shortfall int `json:"shortfall"`
}

// SampleSMS is the message one real recipient would get. Its answer link
// has the real one's length but not its token, which only the send makes.
type SampleSMS struct {
	Person   plans.PersonID `json:"person"`
	Name     string         `json:"name"`
	Text     string         `json:"text"`
	Encoding string         `json:"encoding"`
	Chars    int            `json:"chars"`
	Segments int            `json:"segments"`
}

// Preview is what an activation would do, computed by the same code that
// applies it, without writing anything.
type Preview struct {
	Activation Activation    `json:"activation"` // as it would be created (no ID yet)
	Regions    []RegionCount `json:"regions"`
	// OutsideRegions counts recipients drawn from the rest of the plan's scope
	// by roles that reach the whole plan.
	OutsideRegions int         `json:"outside_regions"`
	Roles          []RoleCount `json:"roles"`
	Total          int         `json:"total"`  // distinct people
	Merged         int         `json:"merged"` // people in more than one role, called once
	Sample         *SampleSMS  `json:"sample,omitempty"`
	Send           SendInfo    `json:"send"`
	// EstimatedSend is how long sending one SMS to everyone takes at Send.PerSecond.
	EstimatedSend time.Duration `json:"estimated_send"`
	// Guard says whether the activation must confirm its scope.
	Guard ScopeGuard `json:"guard"`
	// AlreadyOpen lists the open call-ups of the same plan and purpose over,
	// above or under these regions: starting this one calls their people
	// again.
	AlreadyOpen []plans.ActivationID `json:"already_open,omitempty"`
	// LeftOut counts, for a drill, the people it leaves out because an
	// active LIVE call-up has called them up for real (not in Total).
	LeftOut int `json:"left_out,omitempty"`
	// AlreadyCalledUp counts, for a LIVE call-up, the people of Total whom
	// an active LIVE call-up (of any plan: another incident over the same
	// people) has called up already, each once; CalledUpBy says which
	// call-ups and how many of them each. Starting it calls them again, for
	// this incident too: it is not refused.
	AlreadyCalledUp int          `json:"already_called_up,omitempty"`
	CalledUpBy      []OpenCallUp `json:"called_up_by,omitempty"`
	// Again says why starting it would be refused as a repeat of a LIVE
	// call-up still open or awaiting approval (ask with repeat to start it
	// all the same); empty when it would not be.
	Again string `json:"again,omitempty"`
	// DrillOverlap says why starting this EXERCISE or TEST call-up would be
	// refused: another drill call-up, started by hand or a drill's run, is
	// still drilling its people (演练重叠; ask with repeat to start it all
	// the same); empty when it would not be.
	DrillOverlap string `json:"drill_overlap,omitempty"`
	// Recovery says why starting this EXERCISE or TEST call-up would be
	// refused: a region among, above or below its regions is in recovery
	// (恢复) after a live emergency (ask with during_recovery to start it
	// all the same, which Warnings then say); empty when it would not be.
	Recovery string `json:"recovery,omitempty"`
	// NoLiveSMS says why starting or approving this LIVE call-up would be
	// refused: the leader, which sends its messages, has no LIVE SMS
	// account (Service.LeaderWithoutLiveSMS); empty when it has one.
	NoLiveSMS string `json:"no_live_sms,omitempty"`
	// Warnings says what the preview found that starting it does not
	// refuse but someone should read first: a sample SMS of more than
	// plans.MaxSMSSegments segments (each billed; over 1,600 characters
	// Twilio refuses it).
	Warnings []string `json:"warnings,omitempty"`
}

// OpenCallUp is an active LIVE call-up that has called up some of the
// people a preview would call.
type OpenCallUp struct {
	ID          plans.ActivationID `json:"id"`
	Plan        plans.PlanID       `json:"plan"`
	PlanTitle   string             `json:"plan_title"`
	Level       plans.LevelCode    `json:"level"`
	LevelName   string             `json:"level_name"`
	RegionNames string             `json:"region_names"`
	StartedAt   time.Time          `json:"started_at"`
	// People counts the preview's people it has called up.
	People int `json:"people"`
}

// Preview dry-runs an activation: who would be called, per region and role,
// and what the first recipient's SMS would say. Nothing is written.
func (s *Service) Preview(ctx context.Context, req ActivationRequest) (Preview, error) {
	var out Preview
	if err := checkAsked(req); err != nil {
		return out, err
	}
	err := s.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		cr, err := req.normalize(tx)
		if err != nil {
			return err
		}
		p, err := prepare(tx, cr)
		if err != nil {
			return err
		}
		if err := liveSaysNoDrill(p); err != nil {
			return err
		}
		if err := askedFor(tx, cr); err != nil {
			return err
		}
		if out, err = s.preview(tx, p); err != nil || cr.Key != "" {
			return err // a keyed request may be the retry of one it created
		}
		if err := notAgain(tx, "", cr, req.Repeat, s.now()); muster.IsCode(err, muster.EConflict) {
			out.Again = err.Error()
		} else if err != nil {
			return err
		}
		if err := notOverDrill(tx, "", cr, req.Repeat); muster.IsCode(err, muster.EConflict) {
			out.DrillOverlap = err.Error()
		} else if err != nil {
			return err
		}
		if err := notDuringRecovery(tx, "", cr, req.DuringRecovery); muster.IsCode(err, muster.EConflict) {
			out.Recovery = err.Error()
		} else if err != nil {
			return err
		}
		if req.DuringRecovery {
			w, err := duringRecoveryWarnings(tx, cr)
			out.Warnings = append(out.Warnings, w...)
			return err
		}
		return nil
	})
	return out, err
}

func (s *Service) preview(tx *bolt.Tx, p *prepared) (Preview, error) {
	out := Preview{Activation: p.activation("", nil)}
	out.Activation.CreatedAt = time.Time{}
	if p.req.Purpose == PurposeLive {
		if err := s.liveSMS(); err != nil {
			out.NoLiveSMS = err.Error()
		}
	}
	out.Send = s.leaderSend(p.req.Purpose, out.NoLiveSMS != "")
	prefixes := make([]string, len(p.regions))
	for i, r := range p.regions {
		prefixes[i] = plans.RegionPrefix(r)
		out.Regions = append(out.Regions, RegionCount{Region: r.Code, Name: r.Name})
	}
	for _, sl := range p.slots {
		out.Roles = append(out.Roles, RoleCount{RoleSlot: sl})
	}
	var (
		first *Recipient
		live  []*bolt.Bucket
		err   error
	)
	var called *calledUp
	if p.req.Purpose.Drill() {
		if live, err = liveRecipients(tx); err != nil {
			return out, err
		}
	} else if called, err = openLiveCallUps(tx); err != nil {
		return out, err
	}
	err = derive(tx, p.version.Plan, p.slots, p.regions, func(person *plans.PersonRecord, roles []uint16) error {
		if inAny(live, person.ID) { // rulesDrillSparesLive
			out.LeftOut++
			return nil
		}
		out.Total++
		if called.met(person.ID) {
			out.AlreadyCalledUp++
		}
		if len(roles) > 1 {
			out.Merged++
		}
		for _, r := range roles {
			out.Roles[r].Matched++
		}
		inside := false
		for i, pre := range prefixes {
			if strings.HasPrefix(string(person.Grid), pre) {
				out.Regions[i].Recipients++
				inside = true
			}
		}
		if !inside {
			out.OutsideRegions++
		}
		if first == nil { // people come in ID order
			r, err := decodeRecipient(person.ID, appendRecord(nil, 0, roles, person))
			if err != nil {
				return err
			}
			first = &r
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	for i := range out.Roles {
		out.Roles[i].Shortfall = max(0, out.Roles[i].Count-out.Roles[i].Matched)
	}
	out.Activation.Recipients = out.Total
	out.CalledUpBy = called.calls()
	out.Guard = p.guard(out.Total)
	open, err := overlappingOpen(tx, p.req.Regions)
	if err != nil {
		return out, err
	}
	for _, o := range open {
		switch {
		case p.req.Purpose == PurposeLive && o.Purpose.Drill():
			out.Activation.StoppedDrills = append(out.Activation.StoppedDrills, o.ID) // rulesLiveStopsDrills
		case o.Plan == p.req.Plan && o.Purpose == p.req.Purpose:
			out.AlreadyOpen = append(out.AlreadyOpen, o.ID)
		}
	}
	if first != nil {
		text, err := RenderSMS(out.Activation, p.level, *first, sampleAnswerLink(tx, s.PublicURL, first.Person))
		if err != nil {
			return out, err
		}
		enc, chars, segs := plans.SMSSegments(text)
		out.Sample = &SampleSMS{Person: first.Person, Name: first.Name, Text: text, Encoding: enc, Chars: chars, Segments: segs}
		if w := longSMSWarning(*out.Sample); w != "" {
			out.Warnings = append(out.Warnings, w)
		}
	}
	if out.Send.PerSecond > 0 {
		out.EstimatedSend = time.Duration(float64(out.Total) / out.Send.PerSecond * float64(time.Second))
	}
	return out, nil
}

// calledUp finds, for a preview, the people the active LIVE call-ups have
// called up already: each call-up's recipients (their key is the person)
// are read with a cursor that the people of the preview, met in person ID
// order as derive gives them, move forward, so a preview looks each
// person up in each call-up once, in the preview's read transaction.
// Someone an operator took off a call-up (cancelled) is not called up by
// it. A nil calledUp finds no one.
type calledUp struct {
	open []*openCursor
}

// openCursor is one active LIVE call-up and where its recipients were read
// to.
type openCursor struct {
	a    Activation
	cur  *bolt.Cursor
	k, v []byte
	seen int
}

// openLiveCallUps opens a calledUp over the active LIVE call-ups
// (corrections aside) in tx.
func openLiveCallUps(tx *bolt.Tx) (*calledUp, error) {
	c := &calledUp{}
	err := eachLiveCallUp(tx, func(a Activation, recipients *bolt.Bucket) {
		o := &openCursor{a: a, cur: recipients.Cursor()}
		o.k, o.v = o.cur.First()
		c.open = append(c.open, o)
	})
	return c, err
}

// met counts person, the next person of the preview (in ID order, after
// the last), with every call-up that has called them up, and reports
// whether any has.
func (c *calledUp) met(person []byte) bool {
	if c == nil {
		return false
	}
	found := false
	cancelled, _ := StateCancelled.code()
	for _, o := range c.open {
		// The next key is most often the person's or close before it: a
		// few steps, then a seek over a call-up the preview shares little
		// with.
		for step := 0; o.k != nil && bytes.Compare(o.k, person) < 0; step++ {
			if step == 8 {
				o.k, o.v = o.cur.Seek(person)
				break
			}
			o.k, o.v = o.cur.Next()
		}
		if o.k != nil && bytes.Equal(o.k, person) && len(o.v) > 1 && o.v[1] != cancelled {
			o.seen++
			found = true
		}
	}
	return found
}

// calls lists the call-ups that have called up some of the people met,
// in the order they were opened (activation ID).
func (c *calledUp) calls() []OpenCallUp {
	if c == nil {
		return nil
	}
	var out []OpenCallUp
	for _, o := range c.open {
		if o.seen == 0 {
			continue
		}
		a := o.a
		out = append(out, OpenCallUp{ID: a.ID, Plan: a.Plan, PlanTitle: a.PlanTitle, Level: a.Level, LevelName: a.LevelName,
			RegionNames: a.RegionNames, StartedAt: startedAt(a), People: o.seen})
	}
	return out
}

// activationTimeout bounds an activation when the caller set no deadline:
// deriving a million recipients on every node takes seconds.
const activationTimeout = 2 * time.Minute

// Activate creates an activation: the plan version is pinned, the recipients
// are derived and written and the regions switched to emergency, all in one
// raft entry. Bad requests are EInvalid (or ENotFound for an unknown plan)
// and change nothing. A LIVE request repeating a LIVE call-up still open,
// and an EXERCISE or TEST one over another drill call-up still active
// (演练重叠), are EConflict unless req.Repeat; an EXERCISE or TEST one over a
// region in recovery (恢复) is EConflict unless req.DuringRecovery.
func (s *Service) Activate(ctx context.Context, actor string, req ActivationRequest) (Activation, error) {
	var out Activation
	var cr activationCreate
	if err := checkAsked(req); err != nil {
		return out, err
	}
	err := s.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		var err error
		if cr, err = req.normalize(tx); err != nil {
			return err
		}
		p, err := prepare(tx, cr) // fail early; apply checks again
		if err != nil {
			return err
		}
		if err := liveSaysNoDrill(p); err != nil {
			return err
		}
		if err := askedFor(tx, cr); err != nil {
			return err
		}
		if err := notAgain(tx, actor, cr, req.Repeat, s.now()); err != nil {
			return err
		}
		if err := notOverDrill(tx, actor, cr, req.Repeat); err != nil {
			return err
		}
		if err := notDuringRecovery(tx, actor, cr, req.DuringRecovery); err != nil {
			return err
		}
		if cr.Purpose == PurposeLive && !keyUsed(tx, actor, cr.Key) {
			return s.liveSMS()
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	cr.ApprovalWindow = s.ApprovalWindow
	b, err := json.Marshal(cr)
	if err != nil {
		return out, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, activationTimeout)
		defer cancel()
	}
	err = s.apply.Apply(ctx, &muster.Command{Type: CmdActivationCreate, Actor: actor, Payload: b}, &out)
	return out, err
}

// StandDown stops an activation: no more sends, and its regions go back to
// normal unless another activation holds them (from rules 12 a LIVE one's
// go to recovery, 恢复, until EndRecovery). Standing down twice is a
// conflict.
func (s *Service) StandDown(ctx context.Context, actor string, id plans.ActivationID, reason string) (Activation, error) {
	return s.standDown(ctx, actor, activationStandDown{Activation: id, Reason: reason})
}

// ForceStandDown is StandDown, also for a correction that still has
// messages to go, which StandDown refuses: a wrong correction is stopped,
// and those it has not reached are not told (the reason recorded says how
// many).
func (s *Service) ForceStandDown(ctx context.Context, actor string, id plans.ActivationID, reason string) (Activation, error) {
	return s.standDown(ctx, actor, activationStandDown{Activation: id, Reason: reason, Force: true})
}

// StandDownRequest is a stand-down: why, and how.
type StandDownRequest struct {
	Reason string
	// Force stands down also a correction that still has messages to go
	// (ForceStandDown).
	Force bool
	// NoNotice tells nobody that the call-up ended: another call-up
	// replaces it. Otherwise, from rules 13, the people a LIVE call-up or
	// a drill reached are told (its end_notice).
	NoNotice bool
}

// StandDownWith is StandDown (ForceStandDown with req.Force), telling the
// people the call-up reached that it has ended unless req.NoNotice.
func (s *Service) StandDownWith(ctx context.Context, actor string, id plans.ActivationID, req StandDownRequest) (Activation, error) {
	return s.standDown(ctx, actor, activationStandDown{Activation: id, Reason: req.Reason, Force: req.Force, NoNotice: req.NoNotice})
}

func (s *Service) standDown(ctx context.Context, actor string, req activationStandDown) (Activation, error) {
	var out Activation
	if err := CheckReason("reason", req.Reason, "say briefly why; the regions' modes and the CAP Cancel carry it"); err != nil {
		return out, err
	}
	if err := s.notExpired(ctx, req.Activation, "stand down"); err != nil {
		return out, err
	}
	b, err := json.Marshal(req)
	if err != nil {
		return out, err
	}
	err = s.apply.Apply(ctx, &muster.Command{Type: CmdActivationStandDown, Actor: actor, Payload: b}, &out)
	return out, err
}

// ActivationStatus is an activation with its recipient counters.
type ActivationStatus struct {
	Activation
	Counters Counters `json:"counters"`
	// StandIns says which backups the escalation called up stand in for
	// someone (rules 13); nil when none does.
	StandIns *StandIns `json:"stand_ins,omitempty"`
}

// StandInsShown is how many stand-ins an activation's status names.
const StandInsShown = 5

// StandIns are the backups an activation's escalation called up in place
// of silent people: how many, and the first StandInsShown of them in
// person ID order of the backups.
type StandIns struct {
	Count int       `json:"count"`
	First []StandBy `json:"first"`
}

// StandBy is a backup called up in place of someone: the backup, their
// state in the call-up, and whom they stand in for.
type StandBy struct {
	Backup plans.PersonID `json:"backup"`
	Name   string         `json:"name"`
	State  State          `json:"state"`
	For    StandIn        `json:"for"`
	// ForState is the state in the call-up of the person they stand in
	// for: acked when that person answered 到 after all (the backup is
	// then told, rules 13).
	ForState State `json:"for_state,omitempty"`
}

// readStandIns reads the stand-ins of the activation whose data bucket is
// ad (nil: none). It counts the keys of its stand_ins bucket and decodes
// only the first StandInsShown.
func readStandIns(ad *bolt.Bucket) (*StandIns, error) {
	if ad == nil || ad.Bucket(bStandIns) == nil {
		return nil, nil
	}
	out := &StandIns{First: []StandBy{}}
	rb := ad.Bucket(bRecipients)
	cur := ad.Bucket(bStandIns).Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		out.Count++
		if len(out.First) == StandInsShown {
			continue
		}
		sb := StandBy{Backup: plans.PersonID(k)}
		if err := json.Unmarshal(v, &sb.For); err != nil {
			return nil, fmt.Errorf("stand-in record of %s: %w", k, err)
		}
		if rb != nil {
			if rv := rb.Get(k); rv != nil {
				r, err := decodeRecipient(k, rv)
				if err != nil {
					return nil, err
				}
				sb.Name, sb.State = r.Name, r.State
			}
			if fv := rb.Get([]byte(sb.For.Person)); fv != nil {
				f, err := decodeRecipient([]byte(sb.For.Person), fv)
				if err != nil {
					return nil, err
				}
				sb.ForState = f.State
			}
		}
		out.First = append(out.First, sb)
	}
	if out.Count == 0 {
		return nil, nil
	}
	return out, nil
}

// Activation returns one activation with its counters.
func (s *Service) Activation(ctx context.Context, level muster.Consistency, id plans.ActivationID) (ActivationStatus, error) {
	var out ActivationStatus
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		var err error
		out, err = activationStatus(tx, id)
		out.Activation = out.Activation.shown(s.now())
		return err
	})
	return out, err
}

// activationStatus reads one activation and its counters from tx.
func activationStatus(tx *bolt.Tx, id plans.ActivationID) (ActivationStatus, error) {
	a, err := getActivation(tx, id)
	if err != nil {
		return ActivationStatus{}, err
	}
	var cb *bolt.Bucket
	ad := activationData(tx, id)
	if ad != nil {
		cb = ad.Bucket(bCounters)
	}
	c, err := readCounters(cb)
	if err != nil {
		return ActivationStatus{}, err
	}
	withRestored(tx, &a)
	st := ActivationStatus{Activation: a, Counters: c}
	st.StandIns, err = readStandIns(ad)
	return st, err
}

// Activations lists activations in ID order (oldest first); with
// statuses, only those shown in one of them (a pending request past its
// approval window shows as approval_expired).
func (s *Service) Activations(ctx context.Context, level muster.Consistency, page plans.Page, statuses ...Status) (plans.List[Activation], error) {
	var out plans.List[Activation]
	now := s.now()
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		var err error
		out, err = listActivations(tx, page, pageLimit(page), now, statuses)
		return err
	})
	return out, err
}

func pageLimit(p plans.Page) int {
	switch {
	case p.Limit <= 0:
		return plans.DefaultPageLimit
	case p.Limit > plans.MaxPageLimit:
		return plans.MaxPageLimit
	}
	return p.Limit
}

// RecipientFilter narrows a recipient list. Grid keeps recipients whose grid
// code starts with it (a grid, or any region below the city); Role keeps
// those filling a role slot of that name.
type RecipientFilter struct {
	State State
	Grid  plans.RegionCode
	Role  string
}

// Recipients lists an activation's recipients in person ID order, each
// with whom it stands in for when the escalation called it up as a backup.
func (s *Service) Recipients(ctx context.Context, level muster.Consistency, id plans.ActivationID, f RecipientFilter, page plans.Page) (plans.List[Recipient], error) {
	out := plans.List[Recipient]{Items: []Recipient{}}
	limit := pageLimit(page)
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		a, err := getActivation(tx, id)
		if err != nil {
			return err
		}
		var roles []int
		if f.Role != "" {
			for _, r := range a.Roles {
				if r.Name == f.Role {
					roles = append(roles, r.Index)
				}
			}
			if len(roles) == 0 {
				return invalidf("role %q: activation %s has no role of that name", f.Role, id)
			}
		}
		ad := activationData(tx, id)
		if ad == nil {
			return nil
		}
		cur := ad.Bucket(bRecipients).Cursor()
		for k, v := cur.Seek([]byte(page.After)); k != nil; k, v = cur.Next() {
			if page.After != "" && bytes.Equal(k, []byte(page.After)) {
				continue
			}
			r, err := decodeRecipient(k, v)
			if err != nil {
				return err
			}
			if (f.State != "" && r.State != f.State) || !strings.HasPrefix(string(r.Grid), string(f.Grid)) {
				continue
			}
			if roles != nil && !hasAny(r.Roles, roles) {
				continue
			}
			if len(out.Items) == limit {
				out.Next = string(out.Items[limit-1].Person)
				break
			}
			att, ok, err := readAttempt(ad, k)
			if err != nil {
				return err
			}
			if ok {
				r.Attempt = &att
			}
			if r.BackupFor, err = standInOf(ad, r.Person); err != nil {
				return err
			}
			out.Items = append(out.Items, r)
		}
		return nil
	})
	return out, err
}

func hasAny(a, b []int) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// Modes lists every region's mode record (regions without one inherit their
// nearest ancestor's and are otherwise normal).
func (s *Service) Modes(ctx context.Context, level muster.Consistency) ([]plans.ModeRecord, error) {
	var out []plans.ModeRecord
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		var err error
		out, err = plans.Modes(tx)
		return err
	})
	return out, err
}

// Mode returns one region's effective mode.
func (s *Service) Mode(ctx context.Context, level muster.Consistency, region plans.RegionCode) (plans.RegionMode, error) {
	var out plans.RegionMode
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		var err error
		out, err = plans.EffectiveMode(tx, region)
		return err
	})
	return out, err
}

// EndRecovery ends the recovery (恢复) of regions, a commander's decision
// with a reason: their recoveries go and they are normal (平时), or
// whatever a region above or a warning says. Each must have a recovery of
// its own and not be in emergency (from rules 13 one in standby ends it
// and stays in standby; before, it had to be in recovery of its own, not
// under a warning), or none ends: a conflict says why. It returns their
// modes after.
func (s *Service) EndRecovery(ctx context.Context, actor string, regions []plans.RegionCode, reason string) ([]plans.RegionMode, error) {
	if err := CheckReason("reason", reason, "say briefly why the recovery is over"); err != nil {
		return nil, err
	}
	b, err := json.Marshal(plans.RecoveryEnd{Regions: regions, Reason: reason})
	if err != nil {
		return nil, err
	}
	var out []plans.RegionMode
	// Ignorable: a member too old to know it skips it, and the cluster
	// refuses it until every member applies rules 12.
	err = s.apply.Apply(ctx, &muster.Command{Type: plans.CmdRecoveryEnd, Actor: actor, Payload: b, Ignorable: true}, &out)
	return out, err
}

// Audit returns up to limit mode-switch audit records after sequence after.
func (s *Service) Audit(ctx context.Context, level muster.Consistency, after uint64, limit int) ([]plans.AuditRecord, error) {
	var out []plans.AuditRecord
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		var err error
		out, err = plans.AuditTrail(tx, after, limit)
		return err
	})
	return out, err
}

// InboundAudit returns up to limit audited inbound messages (replies from
// unknown numbers or people with no open call-up, reports for unknown
// attempts) after sequence after, oldest first.
func (s *Service) InboundAudit(ctx context.Context, level muster.Consistency, after uint64, limit int) ([]InboundRecord, error) {
	out := []InboundRecord{}
	limit = pageLimit(plans.Page{Limit: limit})
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		b := tx.Bucket(bInboundAudit)
		if b == nil {
			return nil
		}
		cur := b.Cursor()
		for k, v := cur.Seek(binary.BigEndian.AppendUint64(nil, after+1)); k != nil && len(out) < limit; k, v = cur.Next() {
			var rec InboundRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			out = append(out, rec)
		}
		return nil
	})
	return out, err
}

// Notes returns an activation's notes (replies that were not answers),
// oldest first.
func (s *Service) Notes(ctx context.Context, level muster.Consistency, id plans.ActivationID) ([]Note, error) {
	out := []Note{}
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		if _, err := getActivation(tx, id); err != nil {
			return err
		}
		ad := activationData(tx, id)
		if ad == nil || ad.Bucket(bNotes) == nil {
			return nil
		}
		return ad.Bucket(bNotes).ForEach(func(_, v []byte) error {
			var n Note
			if err := json.Unmarshal(v, &n); err != nil {
				return err
			}
			out = append(out, n)
			return nil
		})
	})
	return out, err
}
