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

// ModeRecord is the mode a region was explicitly switched to. Only such
// regions have a record; every other region inherits from the regions
// above it (see EffectiveMode), and is normal when none has one. A region
// with a record is in emergency while an activation holds it, otherwise in
// standby while a warning holds it; when nothing holds it the record goes.
type ModeRecord struct {
	Region RegionCode `json:"region"`
	Mode   Mode       `json:"mode"`
	Level  LevelCode  `json:"level,omitempty"` // in emergency: the most severe level held
	Since  time.Time  `json:"since"`
	By     string     `json:"by"`
	Reason string     `json:"reason,omitempty"`
	Holds  []Hold     `json:"holds,omitempty"` // activations holding it in emergency, by ID
	// WarningLevel is the most severe level of the warnings in Warnings.
	WarningLevel WarningLevel  `json:"warning_level,omitempty"`
	Warnings     []WarningHold `json:"warnings,omitempty"` // warnings holding it in standby, by ID
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
}

// AuditRecord is one entry of the audit trail of mode switches.
type AuditRecord struct {
	Seq        uint64       `json:"seq"`
	Time       time.Time    `json:"time"`
	Actor      string       `json:"actor"`
	Action     string       `json:"action"` // AuditHold or AuditRelease
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

// EffectiveMode returns the mode of region from its own record and its
// ancestors': emergency outranks standby, so the nearest record in
// emergency gives the mode (and level) if there is one, else the nearest
// record of any mode; normal when there is none. An unknown region is
// EInvalid.
func EffectiveMode(tx *bolt.Tx, region RegionCode) (RegionMode, error) {
	path, err := RegionPath(tx, region)
	if err != nil {
		return RegionMode{}, err
	}
	out := RegionMode{Region: region, Mode: ModeNormal}
	var nearest *ModeRecord
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
		if m.Mode == ModeEmergency && (nearest == nil || nearest.Mode != ModeEmergency) {
			nearest = &m
		} else if nearest == nil {
			nearest = &m
		}
	}
	if nearest != nil {
		out.Mode, out.Level, out.From = nearest.Mode, nearest.Level, nearest.Region
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
// time, actor and rules it takes.
func HoldEmergency(tx *bolt.Tx, c *muster.Command, region RegionCode, level LevelCode, act ActivationID, reason string) error {
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
		// Warnings holding it in standby keep holding it under the emergency.
		m = ModeRecord{Region: region, Mode: ModeEmergency, Since: t, By: actor, Reason: reason,
			WarningLevel: m.WarningLevel, Warnings: m.Warnings}
	}
	m.Holds = append(m.Holds, Hold{Activation: act, Level: level})
	slices.SortFunc(m.Holds, func(a, b Hold) int { return strings.Compare(string(a.Activation), string(b.Activation)) })
	m.Level = mostSevere(m.Holds)
	if err := putJSON(bucket(tx, bModes), string(region), m); err != nil {
		return err
	}
	if err := noteResponse(tx, region, act, level, t, !c.RulesAtLeast(rulesDrillAnswersDrillWarnings)); err != nil {
		return err
	}
	return appendAudit(tx, AuditRecord{Time: t, Actor: actor, Action: AuditHold, Region: region,
		From: before.Mode, To: ModeEmergency, Level: m.Level, Reason: reason, Activation: act})
}

// ReleaseEmergency records that activation act no longer holds region. When
// no other activation holds it, the region goes back to standby (临战) if a
// warning still holds it, and otherwise its record is removed, so it is back
// to normal, or to whatever an ancestor's record says (children inherit).
// The switch is appended to the audit trail. Releasing a region act does not
// hold changes nothing.
func ReleaseEmergency(tx *bolt.Tx, region RegionCode, act ActivationID, t time.Time, actor, reason string) error {
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
	b := bucket(tx, bModes)
	switch {
	case len(m.Holds) > 0:
		m.Level = mostSevere(m.Holds)
		err = putJSON(b, string(region), m)
	case len(m.Warnings) > 0:
		m.Mode, m.Level, m.Holds, m.Since, m.By, m.Reason = ModeStandby, "", nil, t, actor, reason
		err = putJSON(b, string(region), m)
	default:
		err = b.Delete([]byte(region))
	}
	if err != nil {
		return err
	}
	after, err := EffectiveMode(tx, region)
	if err != nil {
		return err
	}
	return appendAudit(tx, AuditRecord{Time: t, Actor: actor, Action: AuditRelease, Region: region,
		From: before.Mode, To: after.Mode, Level: after.Level, Reason: reason, Activation: act})
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
// region without a record gets one in standby; a region in emergency stays
// in emergency, with the warning noted so that it goes back to standby, not
// normal, when its last activation stands down. The switch is appended to
// the audit trail. Holding a region w already holds changes nothing. It runs
// inside an apply function: t is the command's time.
func holdStandby(tx *bolt.Tx, region RegionCode, w WarningID, level WarningLevel, t time.Time, actor, reason string) error {
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
	if !ok {
		m = ModeRecord{Region: region, Mode: ModeStandby, Since: t, By: actor, Reason: reason}
	}
	m.Warnings = append(m.Warnings, WarningHold{Warning: w, Level: level})
	slices.SortFunc(m.Warnings, func(a, b WarningHold) int { return strings.Compare(string(a.Warning), string(b.Warning)) })
	m.WarningLevel = mostSevereWarning(m.Warnings)
	if err := putJSON(bucket(tx, bModes), string(region), m); err != nil {
		return err
	}
	after, err := EffectiveMode(tx, region)
	if err != nil {
		return err
	}
	return appendAudit(tx, AuditRecord{Time: t, Actor: actor, Action: AuditWarningHold, Region: region,
		From: before.Mode, To: after.Mode, Level: after.Level, Reason: reason, Warning: w, WarningLevel: level})
}

// releaseStandby records that warning w no longer holds region. A region
// that nothing holds any more loses its record (back to normal, or to what
// an ancestor's record says); one still in emergency stays there. The switch
// is appended to the audit trail. Releasing a region w does not hold changes
// nothing.
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
	if len(m.Warnings) == 0 && len(m.Holds) == 0 {
		err = b.Delete([]byte(region))
	} else {
		if len(m.Warnings) == 0 {
			m.Warnings = nil
		}
		err = putJSON(b, string(region), m)
	}
	if err != nil {
		return err
	}
	after, err := EffectiveMode(tx, region)
	if err != nil {
		return err
	}
	return appendAudit(tx, AuditRecord{Time: t, Actor: actor, Action: AuditWarningRelease, Region: region,
		From: before.Mode, To: after.Mode, Level: after.Level, Reason: reason, Warning: w, WarningLevel: level})
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
