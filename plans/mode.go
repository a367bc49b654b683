package plans

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
)

// Mode is the state a region is in (平战状态).
type Mode string

// Modes, in the order a region normally moves through them.
const (
	ModeNormal    Mode = "normal"    // 平时
	ModeStandby   Mode = "standby"   // 临战: a warning is in force
	ModeEmergency Mode = "emergency" // 战时: a response level is active
	ModeRecovery  Mode = "recovery"  // 恢复
)

// ChineseName is the mode's name in Chinese: 平时, 临战, 战时 or 恢复.
func (m Mode) ChineseName() string {
	switch m {
	case ModeNormal:
		return "平时"
	case ModeStandby:
		return "临战"
	case ModeEmergency:
		return "战时"
	case ModeRecovery:
		return "恢复"
	}
	return string(m)
}

// ActivationID identifies an activation of a plan (A000001, ...).
type ActivationID string

// Hold is one activation keeping a region in emergency, at its level.
type Hold struct {
	Activation ActivationID `json:"activation"`
	Level      LevelCode    `json:"level"`
	// Since, By and Reason are the hold's own (from rules 13): the
	// record's By and Reason are those of the hold that sets its level
	// (governingHold), where they were the first hold's for as long as the
	// region stayed in emergency.
	Since  time.Time `json:"since,omitzero"`
	By     string    `json:"by,omitempty"`
	Reason string    `json:"reason,omitempty"`
	// ApprovedBy is, for an activation that waited for approval, who
	// approved it (the switch's actor), By being who asked for it: the
	// commander who activated, not the approver, is the one who switched
	// the region (rules 13).
	ApprovedBy string `json:"approved_by,omitempty"`
}

// rulesHoldsSayWho is the behaviour (muster.Rules) from which each hold
// keeps its time, actor and reason, and a region in emergency says who
// switched it, and why, as its governing hold does (governingHold): a
// level raised by another activation, or the first activation stood down
// while another still holds the region, no longer leaves the first one's
// official and words on the region.
const rulesHoldsSayWho = 13

// governingHold returns the hold that sets a region's level: the most
// severe, and of those the first to hold it. ok is false when there is
// none, or it was written before holds kept their own actor and reason.
func governingHold(holds []Hold) (Hold, bool) {
	var g Hold
	for _, h := range holds {
		switch {
		case g.Activation == "":
		case h.Level.Rank() == 0 || (g.Level.Rank() > 0 && h.Level.Rank() > g.Level.Rank()):
			continue
		case h.Level == g.Level && !h.Since.Before(g.Since):
			continue
		}
		g = h
	}
	return g, g.By != ""
}

// sayWho gives m, in emergency, its governing hold's actor, approver and
// reason.
func sayWho(m *ModeRecord) {
	if g, ok := governingHold(m.Holds); ok {
		m.By, m.ApprovedBy, m.Reason = g.By, g.ApprovedBy, g.Reason
	}
}

// WarningHold is one warning keeping a region in standby, at its level.
type WarningHold struct {
	Warning WarningID    `json:"warning"`
	Level   WarningLevel `json:"level"`
	// Headline is the warning's, filled in on reads (Modes, EffectiveMode)
	// and never stored, so that a reader can say why a region is in
	// standby without looking the warning up.
	Headline string `json:"headline,omitempty"`
}

// Reason says why h holds a region, as the audit trail does: the level,
// the warning's ID and its headline (橙色预警 W000001: 暴雨橙色预警).
func (h WarningHold) Reason() string {
	return fmt.Sprintf("%s预警 %s: %s", h.Level.ChineseName(), h.Warning, h.Headline)
}

// withHeadlines returns holds with each warning's headline filled in (left
// empty for a warning not found: a read never fails for it).
func withHeadlines(tx *bolt.Tx, holds []WarningHold) ([]WarningHold, error) {
	out := slices.Clone(holds)
	for i := range out {
		w, err := getWarning(tx, out[i].Warning)
		switch {
		case muster.IsCode(err, muster.ENotFound):
			continue
		case err != nil:
			return nil, fmt.Errorf("warning holding a region: %w", err)
		}
		out[i].Headline = w.Headline
	}
	return out, nil
}

// Recovery is the post-emergency phase (恢复, 事后恢复与重建) a region
// entered when a LIVE activation holding it in emergency stood down (rules
// 12): the stand-down's time, actor and reason, and the activation. It
// lasts until a commander ends it (mode.recovery_end).
type Recovery struct {
	Since      time.Time    `json:"since"`
	By         string       `json:"by"`
	Reason     string       `json:"reason,omitempty"`
	Activation ActivationID `json:"activation"`
}

// ModeRecord is the mode a region was explicitly switched to. Only such
// regions have a record; every other region inherits from the regions
// above it (see EffectiveMode), and is normal when none has one. A region
// with a record is in emergency while an activation holds it, otherwise in
// standby while a warning holds it, otherwise in recovery while it has
// one; when nothing holds it and it has no recovery the record goes.
type ModeRecord struct {
	Region RegionCode `json:"region"`
	Mode   Mode       `json:"mode"`
	Level  LevelCode  `json:"level,omitempty"` // in emergency: the most severe level held
	Since  time.Time  `json:"since"`
	By     string     `json:"by"`
	// ApprovedBy is, in emergency, the approver of the governing hold's
	// activation when it waited for approval (Hold.ApprovedBy).
	ApprovedBy string `json:"approved_by,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Holds      []Hold `json:"holds,omitempty"` // activations holding it in emergency, by ID
	// WarningLevel is the most severe level of the warnings in Warnings.
	WarningLevel WarningLevel  `json:"warning_level,omitempty"`
	Warnings     []WarningHold `json:"warnings,omitempty"` // warnings holding it in standby, by ID
	// Recovery is the recovery the region is in, or goes back to when the
	// activations and warnings holding it are gone (rules 12). In recovery,
	// Since, By and Reason are its own.
	Recovery *Recovery `json:"recovery,omitempty"`
	// EarlierRecoveries are the recoveries Recovery replaced, oldest
	// first, one per LIVE activation stood down before (rules 13): when
	// Recovery's activation is retracted the region goes back to the
	// newest of them. Ending the recovery ends them all.
	EarlierRecoveries []Recovery `json:"earlier_recoveries,omitempty"`
}

// RegionMode is a region's mode and where it comes from.
type RegionMode struct {
	Region RegionCode `json:"region"`
	Mode   Mode       `json:"mode"`
	Level  LevelCode  `json:"level,omitempty"`
	// From is the region whose record gives the mode: Region itself, an
	// ancestor, or empty when no region on the path has a record (normal).
	From RegionCode `json:"from,omitempty"`
	// WarningLevel is the most severe warning in force on the region or
	// any region above it, whatever the mode.
	WarningLevel WarningLevel `json:"warning_level,omitempty"`
	// Warnings are those warnings, by ID, with their headlines: what holds
	// the region in standby, or in it again once no activation holds it.
	Warnings []WarningHold `json:"warnings,omitempty"`
	// Recovery is, in recovery, the recovery of the region From; in
	// standby, the recovery it goes back to once the warnings are lifted.
	// Either is the newest recovery (by its stand-down's time) of the
	// records on the region's path, its own or a region's above it: a
	// city-wide call-up stood down after a district's shows in the
	// district, whose own older recovery shows again when the city's ends.
	Recovery *Recovery `json:"recovery,omitempty"`
}

// AuditRecord is one entry of the audit trail of mode switches.
type AuditRecord struct {
	Seq        uint64       `json:"seq"`
	Time       time.Time    `json:"time"`
	Actor      string       `json:"actor"`
	Action     string       `json:"action"` // AuditHold, AuditRelease, …
	Region     RegionCode   `json:"region"`
	From       Mode         `json:"from"`
	To         Mode         `json:"to"`
	Level      LevelCode    `json:"level,omitempty"`
	Reason     string       `json:"reason,omitempty"`
	Activation ActivationID `json:"activation,omitempty"`
	Warning    WarningID    `json:"warning,omitempty"`
	// WarningLevel is the level of Warning, on warning actions.
	WarningLevel WarningLevel `json:"warning_level,omitempty"`
}

// Audit actions.
const (
	AuditHold           = "mode.hold"            // an activation put or kept a region in emergency
	AuditRelease        = "mode.release"         // an activation stopped holding a region
	AuditWarningHold    = "mode.warning_hold"    // a warning put a region in standby (or added to emergency)
	AuditWarningRelease = "mode.warning_release" // a warning stopped holding a region
	AuditRecoveryEnd    = "mode.recovery_end"    // a commander ended a region's recovery
)

var (
	bModes = []byte("modes") // region code → ModeRecord
	bAudit = []byte("audit") // 8-byte big-endian sequence → AuditRecord
)

func getModeRecord(tx *bolt.Tx, code RegionCode) (ModeRecord, bool, error) {
	var m ModeRecord
	ok, err := getJSON(tx.Bucket(bModes), string(code), &m)
	return m, ok, err
}

// rank orders the modes by precedence: emergency outranks standby, which
// outranks recovery, which outranks normal.
func (m Mode) rank() int {
	switch m {
	case ModeEmergency:
		return 3
	case ModeStandby:
		return 2
	case ModeRecovery:
		return 1
	}
	return 0
}

// EffectiveMode returns the mode of region from its own record and its
// ancestors': emergency outranks standby, which outranks recovery, so the
// nearest record in emergency gives the mode (and level) if there is one,
// else the nearest in standby, else the one in recovery whose recovery is
// the newest (by its stand-down's time; the nearest on a tie); normal when
// there is none. An unknown region is EInvalid.
func EffectiveMode(tx *bolt.Tx, region RegionCode) (RegionMode, error) {
	path, err := RegionPath(tx, region)
	if err != nil {
		return RegionMode{}, err
	}
	out := RegionMode{Region: region, Mode: ModeNormal}
	var nearest, recovery *ModeRecord
	for _, r := range path {
		m, ok, err := getModeRecord(tx, r.Code)
		if err != nil {
			return RegionMode{}, err
		}
		if !ok {
			continue
		}
		if out.WarningLevel == "" || (m.WarningLevel.Valid() && m.WarningLevel.Rank() < out.WarningLevel.Rank()) {
			out.WarningLevel = m.WarningLevel
		}
		for _, h := range m.Warnings {
			if !slices.ContainsFunc(out.Warnings, func(o WarningHold) bool { return o.Warning == h.Warning }) {
				out.Warnings = append(out.Warnings, h)
			}
		}
		if nearest == nil || m.Mode.rank() > nearest.Mode.rank() {
			nearest = &m
		}
		if m.Recovery != nil && (recovery == nil || m.Recovery.Since.After(recovery.Recovery.Since)) {
			recovery = &m
		}
	}
	if nearest != nil {
		out.Mode, out.Level, out.From = nearest.Mode, nearest.Level, nearest.Region
		switch {
		case recovery == nil:
		case out.Mode == ModeRecovery:
			// Every record on the path with a recovery is in recovery.
			out.From, out.Recovery = recovery.Region, recovery.Recovery
		case out.Mode == ModeStandby:
			out.Recovery = recovery.Recovery
		}
	}
	slices.SortFunc(out.Warnings, func(a, b WarningHold) int { return strings.Compare(string(a.Warning), string(b.Warning)) })
	if out.Warnings, err = withHeadlines(tx, out.Warnings); err != nil {
		return RegionMode{}, err
	}
	if len(out.Warnings) == 0 {
		out.Warnings = nil
	}
	return out, nil
}

// Modes lists every region's mode record, in region code order, with the
// headlines of the warnings holding each (WarningHold.Headline).
func Modes(tx *bolt.Tx) ([]ModeRecord, error) {
	out := []ModeRecord{}
	b := tx.Bucket(bModes)
	if b == nil {
		return out, nil
	}
	err := b.ForEach(func(k, v []byte) error {
		var m ModeRecord
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("decode mode of %s: %w", k, err)
		}
		var err error
		if m.Warnings, err = withHeadlines(tx, m.Warnings); err != nil {
			return fmt.Errorf("mode of %s: %w", k, err)
		}
		out = append(out, m)
		return nil
	})
	return out, err
}

// mostSevere returns the most severe level among holds.
func mostSevere(holds []Hold) LevelCode {
	var best LevelCode
	for _, h := range holds {
		if best == "" || (h.Level.Rank() > 0 && h.Level.Rank() < best.Rank()) {
			best = h.Level
		}
	}
	return best
}

// HoldEmergency records that LIVE activation act holds region in emergency
// at level: the region's record becomes emergency at the most severe level
// held, the activation answers the warnings in force over the region (under
// rules 9 the LIVE ones only: see AnswerDrillWarnings), and the switch is
// appended to the audit trail. Holding a region the same activation already
// holds changes nothing. It must run inside the apply function of c, whose
// time, actor and rules it takes. requester is who asked for the
// activation: when another than c's actor (an approver, whose approval
// starts it), the hold is by the requester and approved by the actor
// (rules 13).
func HoldEmergency(tx *bolt.Tx, c *muster.Command, region RegionCode, level LevelCode, act ActivationID, reason, requester string) error {
	t, actor := c.Time, c.Actor
	if !level.Valid() {
		return muster.Errorf(muster.EInvalid, "level %q: want I, II, III or IV", level)
	}
	before, err := EffectiveMode(tx, region)
	if err != nil {
		return err
	}
	m, ok, err := getModeRecord(tx, region)
	if err != nil {
		return err
	}
	if ok && slices.ContainsFunc(m.Holds, func(h Hold) bool { return h.Activation == act }) {
		return nil
	}
	if !ok || m.Mode != ModeEmergency {
		// Warnings holding it in standby keep holding it under the
		// emergency, and a recovery is kept under it too (with the earlier
		// ones, rules 13): the region goes back to it if the activation is
		// retracted (it was sent in error).
		prev := m
		m = ModeRecord{Region: region, Mode: ModeEmergency, Since: t, By: actor, Reason: reason,
			WarningLevel: prev.WarningLevel, Warnings: prev.Warnings, Recovery: prev.Recovery}
		if c.RulesAtLeast(rulesRecoveryPerActivation) {
			m.EarlierRecoveries = prev.EarlierRecoveries
		}
	}
	h := Hold{Activation: act, Level: level}
	if c.RulesAtLeast(rulesHoldsSayWho) {
		h.Since, h.By, h.Reason = t, actor, reason
		if requester != "" && requester != actor {
			h.By, h.ApprovedBy = requester, actor
		}
	}
	m.Holds = append(m.Holds, h)
	slices.SortFunc(m.Holds, func(a, b Hold) int { return strings.Compare(string(a.Activation), string(b.Activation)) })
	m.Level = mostSevere(m.Holds)
	sayWho(&m)
	if err := putJSON(bucket(tx, bModes), string(region), m); err != nil {
		return err
	}
	if err := noteResponse(tx, region, act, level, t, !c.RulesAtLeast(rulesDrillAnswersDrillWarnings)); err != nil {
		return err
	}
	return appendAudit(tx, AuditRecord{Time: t, Actor: actor, Action: AuditHold, Region: region,
		From: before.Mode, To: ModeEmergency, Level: m.Level, Reason: reason, Activation: act})
}

// rulesRecovery is the behaviour (muster.Rules) from which a LIVE
// activation's stand-down leaves the regions it held in recovery (恢复)
// rather than normal, until a commander ends it (mode.recovery_end).
// Under older rules they went back to normal (or standby) at once.
const rulesRecovery = 12

// rulesRecoveryPerActivation is the behaviour (muster.Rules) from which a
// region keeps the recovery of each LIVE activation stood down over it
// (ModeRecord.EarlierRecoveries), so that retracting the newest brings
// back the one before. Under rules 12 a stand-down's recovery replaced
// the one before, and retracting it left the region normal.
const rulesRecoveryPerActivation = 13

// rulesEndRecoveryUnderStandby is the behaviour (muster.Rules) from which
// a commander can end a region's own recovery while it is in standby (the
// region stays in standby, and is normal when the warnings are lifted), or
// while it is in recovery through a region above it whose recovery is
// newer. Under rules 12 only a region whose own record was in recovery
// could end it.
const rulesEndRecoveryUnderStandby = 13

// ReleaseEmergency records that activation act no longer holds region, as
// a retraction does (the activation was sent in error: there was no
// emergency). When no other activation holds it, the region goes back to
// standby (临战) if a warning still holds it, else to the recovery it had
// before act held it, if any; otherwise its record is removed, so it is
// back to normal, or to whatever an ancestor's record says (children
// inherit). The switch is appended to the audit trail. Releasing a region
// act does not hold changes nothing.
func ReleaseEmergency(tx *bolt.Tx, region RegionCode, act ActivationID, t time.Time, actor, reason string) error {
	return release(tx, region, act, t, actor, reason, false, false)
}

// StandDownEmergency records that LIVE activation act, stood down by a
// person or at its end, no longer holds region. Under rules 12 the region
// is then in recovery (恢复) from act, with the stand-down's time, actor
// and reason, once nothing holds it: when no other activation holds it and
// no warning does (a warning's standby outranks recovery, which comes back
// when the warning is lifted). From rules 13 the recovery it had before,
// if any, is kept under it (EarlierRecoveries), for when act is retracted.
// Under older rules it is ReleaseEmergency. It must run inside the apply
// function of c, whose time, actor and rules it takes.
func StandDownEmergency(tx *bolt.Tx, c *muster.Command, region RegionCode, act ActivationID, reason string) error {
	return release(tx, region, act, c.Time, c.Actor, reason, c.RulesAtLeast(rulesRecovery), c.RulesAtLeast(rulesRecoveryPerActivation))
}

// release is ReleaseEmergency, and StandDownEmergency when recovers;
// keepsEarlier keeps the recovery a stand-down replaces.
func release(tx *bolt.Tx, region RegionCode, act ActivationID, t time.Time, actor, reason string, recovers, keepsEarlier bool) error {
	m, ok, err := getModeRecord(tx, region)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(m.Holds, func(h Hold) bool { return h.Activation == act })
	if !ok || i < 0 {
		return nil
	}
	before, err := EffectiveMode(tx, region)
	if err != nil {
		return err
	}
	m.Holds = slices.Delete(m.Holds, i, i+1)
	if recovers {
		// Noted even while another activation still holds the region: it
		// comes when that one stands down, or is retracted.
		if m.Recovery != nil && keepsEarlier {
			m.EarlierRecoveries = append(m.EarlierRecoveries, *m.Recovery)
		}
		m.Recovery = &Recovery{Since: t, By: actor, Reason: reason, Activation: act}
	}
	b := bucket(tx, bModes)
	switch {
	case len(m.Holds) > 0:
		m.Level = mostSevere(m.Holds)
		sayWho(&m) // holds written from rules 13 only
		err = putJSON(b, string(region), m)
	case len(m.Warnings) > 0:
		m.Mode, m.Level, m.Holds, m.Since, m.By, m.Reason = ModeStandby, "", nil, t, actor, reason
		m.ApprovedBy = ""
		err = putJSON(b, string(region), m)
	case m.Recovery != nil:
		m.Level, m.Holds = "", nil
		inRecovery(&m)
		err = putJSON(b, string(region), m)
	default:
		err = b.Delete([]byte(region))
	}
	if err != nil {
		return err
	}
	return auditSwitch(tx, before, AuditRecord{Time: t, Actor: actor, Action: AuditRelease, Region: region,
		Reason: reason, Activation: act})
}

// inRecovery puts m, which nothing holds any more, in its recovery.
func inRecovery(m *ModeRecord) {
	r := m.Recovery
	m.Mode, m.Since, m.By, m.Reason = ModeRecovery, r.Since, r.By, r.Reason
	m.ApprovedBy = ""
}

// mostSevereWarning returns the most severe level among warning holds.
func mostSevereWarning(holds []WarningHold) WarningLevel {
	var best WarningLevel
	for _, h := range holds {
		if best == "" || (h.Level.Valid() && h.Level.Rank() < best.Rank()) {
			best = h.Level
		}
	}
	return best
}

// holdStandby records that warning w holds region in standby at level: a
// region without a record gets one in standby, and so does one in recovery
// (it goes back to recovery when the warning is lifted; under rules before
// 12, which know no recovery, its record keeps its mode); a region in
// emergency stays in emergency, with the warning noted so that it goes back
// to standby, not normal, when its last activation stands down. The switch
// is appended to the audit trail. Holding a region w already holds changes
// nothing. It must run inside the apply function of c, whose time, actor
// and rules it takes.
func holdStandby(tx *bolt.Tx, c *muster.Command, region RegionCode, w WarningID, level WarningLevel, reason string) error {
	t, actor := c.Time, c.Actor
	before, err := EffectiveMode(tx, region)
	if err != nil {
		return err
	}
	m, ok, err := getModeRecord(tx, region)
	if err != nil {
		return err
	}
	if ok && slices.ContainsFunc(m.Warnings, func(h WarningHold) bool { return h.Warning == w }) {
		return nil
	}
	switch {
	case !ok:
		m = ModeRecord{Region: region, Mode: ModeStandby, Since: t, By: actor, Reason: reason}
	case m.Mode == ModeRecovery && c.RulesAtLeast(rulesRecovery):
		m.Mode, m.Since, m.By, m.Reason = ModeStandby, t, actor, reason
	}
	m.Warnings = append(m.Warnings, WarningHold{Warning: w, Level: level})
	slices.SortFunc(m.Warnings, func(a, b WarningHold) int { return strings.Compare(string(a.Warning), string(b.Warning)) })
	m.WarningLevel = mostSevereWarning(m.Warnings)
	if err := putJSON(bucket(tx, bModes), string(region), m); err != nil {
		return err
	}
	return auditSwitch(tx, before, AuditRecord{Time: t, Actor: actor, Action: AuditWarningHold, Region: region,
		Reason: reason, Warning: w, WarningLevel: level})
}

// releaseStandby records that warning w no longer holds region. A region
// that nothing holds any more goes back to its recovery if it has one, and
// otherwise loses its record (back to normal, or to what an ancestor's
// record says); one still in emergency stays there. The switch is appended
// to the audit trail. Releasing a region w does not hold changes nothing.
func releaseStandby(tx *bolt.Tx, region RegionCode, w WarningID, t time.Time, actor, reason string) error {
	m, ok, err := getModeRecord(tx, region)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(m.Warnings, func(h WarningHold) bool { return h.Warning == w })
	if !ok || i < 0 {
		return nil
	}
	level := m.Warnings[i].Level
	before, err := EffectiveMode(tx, region)
	if err != nil {
		return err
	}
	m.Warnings = slices.Delete(m.Warnings, i, i+1)
	m.WarningLevel = mostSevereWarning(m.Warnings)
	b := bucket(tx, bModes)
	if len(m.Warnings) == 0 && len(m.Holds) == 0 && m.Recovery == nil {
		err = b.Delete([]byte(region))
	} else {
		if len(m.Warnings) == 0 {
			m.Warnings = nil
			if len(m.Holds) == 0 {
				inRecovery(&m)
			}
		}
		err = putJSON(b, string(region), m)
	}
	if err != nil {
		return err
	}
	return auditSwitch(tx, before, AuditRecord{Time: t, Actor: actor, Action: AuditWarningRelease, Region: region,
		Reason: reason, Warning: w, WarningLevel: level})
}

// RetractRecovery takes region out of the recovery that LIVE activation
// act left it in when it stood down, act being retracted since (it was
// sent in error: there was no emergency to recover from). The region goes
// back to what still holds it, else (rules 13) to the recovery of the
// activation stood down over it before act, else to normal; a recovery of
// act's kept under a newer one (rules 13) is dropped, and the region stays
// as it is. The change is appended to the audit trail. A region with no
// recovery of act's changes nothing, and so does everything under rules
// before 12; under rules 12 only the region's current recovery is act's.
// It must run inside the apply function of c, whose time, actor and rules
// it takes.
func RetractRecovery(tx *bolt.Tx, c *muster.Command, region RegionCode, act ActivationID, reason string) error {
	if !c.RulesAtLeast(rulesRecovery) {
		return nil
	}
	perActivation := c.RulesAtLeast(rulesRecoveryPerActivation)
	m, ok, err := getModeRecord(tx, region)
	if err != nil || !ok {
		return err
	}
	current := m.Recovery != nil && m.Recovery.Activation == act
	earlier := slices.IndexFunc(m.EarlierRecoveries, func(r Recovery) bool { return r.Activation == act })
	if !current && (!perActivation || earlier < 0) {
		return nil
	}
	before, err := EffectiveMode(tx, region)
	if err != nil {
		return err
	}
	switch n := len(m.EarlierRecoveries); {
	case !current:
		m.EarlierRecoveries = slices.Delete(m.EarlierRecoveries, earlier, earlier+1)
	case perActivation && n > 0:
		r := m.EarlierRecoveries[n-1]
		m.Recovery, m.EarlierRecoveries = &r, m.EarlierRecoveries[:n-1]
	default:
		m.Recovery = nil
	}
	b := bucket(tx, bModes)
	switch {
	case len(m.Holds) > 0 || len(m.Warnings) > 0:
		err = putJSON(b, string(region), m)
	case m.Recovery != nil:
		inRecovery(&m)
		err = putJSON(b, string(region), m)
	default:
		err = b.Delete([]byte(region))
	}
	if err != nil {
		return err
	}
	return auditSwitch(tx, before, AuditRecord{Time: c.Time, Actor: c.Actor, Action: AuditRelease, Region: region,
		Reason: reason, Activation: act})
}

// CmdRecoveryEnd ends the recovery (恢复) of regions: a commander decides
// that the post-emergency phase is over and the regions are back to
// normal (平时). It is ignorable: a member whose muster predates recovery
// skips it, and under rules before 12, when no region is in recovery, it
// is refused, so that every member applies it alike.
const CmdRecoveryEnd = "mode.recovery_end"

// RecoveryEnd is the payload of CmdRecoveryEnd: the regions whose recovery
// ends (all of them or, if one is not in recovery, none) and why.
type RecoveryEnd struct {
	Regions []RegionCode `json:"regions"`
	Reason  string       `json:"reason"`
}

// applyRecoveryEnd ends the recovery of every region of the payload, each
// of which must have a recovery of its own and not be in emergency (under
// rules 12: be in recovery of its own, not through a region above it, nor
// under a warning); it returns their modes after.
func applyRecoveryEnd(tx *bolt.Tx, c *muster.Command) (any, error) {
	if !c.RulesAtLeast(rulesRecovery) {
		return nil, muster.Errorf(muster.EConflict, "ending recovery needs state-machine rules %d and the cluster applies %d: upgrade every member's muster first",
			rulesRecovery, max(c.Rules, 1))
	}
	var req RecoveryEnd
	if err := json.Unmarshal(c.Payload, &req); err != nil {
		return nil, muster.Errorf(muster.EInvalid, "end recovery: %v", err)
	}
	reason := strings.TrimSpace(req.Reason)
	if reason == "" {
		return nil, muster.Errorf(muster.EInvalid, "reason: say why the recovery is over (恢复结束的原因)")
	}
	if len(req.Regions) == 0 {
		return nil, muster.Errorf(muster.EInvalid, "regions: name at least one region in recovery")
	}
	var regions []RegionCode
	for _, r := range req.Regions {
		if !slices.Contains(regions, r) {
			regions = append(regions, r)
		}
	}
	for _, r := range regions {
		if err := endRecovery(tx, c, r, reason); err != nil {
			return nil, err
		}
	}
	out := make([]RegionMode, len(regions))
	for i, r := range regions {
		var err error
		if out[i], err = EffectiveMode(tx, r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// endRecovery ends region's own recovery, with the earlier ones kept under
// it, or says why it cannot (conflict). From rules 13 that is whenever the
// region has one and is not in emergency: a region in standby stays in
// standby (and is normal, not in recovery, when its warnings are lifted),
// and one whose own recovery is older than a region's above it stays in
// that one. Under rules 12 the region's own record must be in recovery.
func endRecovery(tx *bolt.Tx, c *muster.Command, region RegionCode, reason string) error {
	before, err := EffectiveMode(tx, region)
	if err != nil {
		return err
	}
	m, ok, err := getModeRecord(tx, region)
	if err != nil {
		return err
	}
	underStandby := c.RulesAtLeast(rulesEndRecoveryUnderStandby)
	ends := ok && m.Recovery != nil && before.Mode == ModeRecovery && m.Mode == ModeRecovery
	if underStandby {
		ends = ok && m.Recovery != nil && (before.Mode == ModeRecovery || before.Mode == ModeStandby)
	}
	if !ends {
		var under RegionCode
		if before.Mode == ModeStandby && before.Recovery != nil && m.Recovery == nil {
			if under, err = recoveryRegion(tx, region, *before.Recovery); err != nil {
				return err
			}
		}
		return notInRecovery(region, before, m, under)
	}
	act := m.Recovery.Activation
	b := bucket(tx, bModes)
	if underStandby && (len(m.Holds) > 0 || len(m.Warnings) > 0) {
		m.Recovery, m.EarlierRecoveries = nil, nil
		err = putJSON(b, string(region), m)
	} else {
		err = b.Delete([]byte(region))
	}
	if err != nil {
		return err
	}
	return auditSwitch(tx, before, AuditRecord{Time: c.Time, Actor: c.Actor, Action: AuditRecoveryEnd, Region: region,
		Reason: reason, Activation: act})
}

// recoveryRegion is the region on region's path whose record has recovery
// rec (empty if none has).
func recoveryRegion(tx *bolt.Tx, region RegionCode, rec Recovery) (RegionCode, error) {
	path, err := RegionPath(tx, region)
	if err != nil {
		return "", err
	}
	for _, r := range path {
		m, ok, err := getModeRecord(tx, r.Code)
		if err != nil {
			return "", err
		}
		if ok && m.Recovery != nil && m.Recovery.Activation == rec.Activation && m.Recovery.Since.Equal(rec.Since) {
			return r.Code, nil
		}
	}
	return "", nil
}

// notInRecovery is the conflict of ending the recovery of region, which is
// in mode before and has record m (a zero one when it has none); under is,
// for a region in standby over the recovery of a region above it, that
// region.
func notInRecovery(region RegionCode, before RegionMode, m ModeRecord, under RegionCode) error {
	switch before.Mode {
	case ModeRecovery:
		return muster.Errorf(muster.EConflict, "%s is in recovery (恢复) through %s, the region above it: end the recovery there (--region %s)",
			region, before.From, before.From)
	case ModeNormal:
		return muster.Errorf(muster.EConflict, "%s is normal (平时), not in recovery (恢复): there is no recovery to end", region)
	}
	msg := fmt.Sprintf("%s is in %s (%s), not in recovery (恢复)", region, before.Mode, before.Mode.ChineseName())
	if before.From != region {
		msg = fmt.Sprintf("%s is in %s (%s) through %s, not in recovery (恢复)", region, before.Mode, before.Mode.ChineseName(), before.From)
	}
	if m.Recovery != nil && before.Mode == ModeEmergency {
		// A LIVE stand-down starts a recovery of its own (the one from
		// before kept under it); a retraction takes it back to this one.
		msg += fmt.Sprintf(": when the emergency stands down it is in recovery again, the stand-down's (or, if the call-up is retracted, its own from %s); end the recovery then", m.Recovery.Activation)
	} else if m.Recovery != nil {
		msg += fmt.Sprintf(": it goes back to its recovery from %s when its warnings are lifted; end the recovery then", m.Recovery.Activation)
	} else if under != "" {
		msg += fmt.Sprintf(": it goes back to the recovery of %s, the region above it, from %s when its warnings are lifted; end the recovery there (--region %s)",
			under, before.Recovery.Activation, under)
	}
	return muster.Errorf(muster.EConflict, "%s", msg)
}

// auditSwitch appends rec, a switch of rec.Region that was in mode before,
// to the audit trail, with the mode (and level) the region is in now.
func auditSwitch(tx *bolt.Tx, before RegionMode, rec AuditRecord) error {
	after, err := EffectiveMode(tx, rec.Region)
	if err != nil {
		return err
	}
	rec.From, rec.To, rec.Level = before.Mode, after.Mode, after.Level
	return appendAudit(tx, rec)
}

func appendAudit(tx *bolt.Tx, rec AuditRecord) error {
	b := bucket(tx, bAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	rec.Seq = seq
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return b.Put(k[:], data)
}

// AuditTrail returns up to limit audit records after sequence after, oldest
// first.
func AuditTrail(tx *bolt.Tx, after uint64, limit int) ([]AuditRecord, error) {
	out := []AuditRecord{}
	b := tx.Bucket(bAudit)
	if b == nil {
		return out, nil
	}
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], after+1)
	cur := b.Cursor()
	for key, v := cur.Seek(k[:]); key != nil && len(out) < limit; key, v = cur.Next() {
		var rec AuditRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return nil, fmt.Errorf("decode audit record: %w", err)
		}
		out = append(out, rec)
	}
	return out, nil
}
