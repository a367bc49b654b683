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

// ModeRecord is the mode a region was explicitly switched to. Only such
// regions have a record; every other region inherits the record of its
// nearest ancestor that has one, and is normal when none has.
type ModeRecord struct {
	Region RegionCode `json:"region"`
	Mode   Mode       `json:"mode"`
	Level  LevelCode  `json:"level,omitempty"` // in emergency: the most severe level held
	Since  time.Time  `json:"since"`
	By     string     `json:"by"`
	Reason string     `json:"reason,omitempty"`
	Holds  []Hold     `json:"holds,omitempty"` // activations holding it in emergency, by ID
}

// RegionMode is a region's mode and where it comes from.
type RegionMode struct {
	Region RegionCode `json:"region"`
	Mode   Mode       `json:"mode"`
	Level  LevelCode  `json:"level,omitempty"`
	// From is the region whose record gives the mode: Region itself, an
	// ancestor, or empty when no region on the path has a record (normal).
	From RegionCode `json:"from,omitempty"`
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
}

// Audit actions.
const (
	AuditHold    = "mode.hold"    // an activation put or kept a region in emergency
	AuditRelease = "mode.release" // an activation stopped holding a region
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

// EffectiveMode returns the mode of region: its own record or the nearest
// ancestor's, normal when there is none. An unknown region is EInvalid.
func EffectiveMode(tx *bolt.Tx, region RegionCode) (RegionMode, error) {
	path, err := RegionPath(tx, region)
	if err != nil {
		return RegionMode{}, err
	}
	for _, r := range path {
		m, ok, err := getModeRecord(tx, r.Code)
		if err != nil {
			return RegionMode{}, err
		}
		if ok {
			return RegionMode{Region: region, Mode: m.Mode, Level: m.Level, From: r.Code}, nil
		}
	}
	return RegionMode{Region: region, Mode: ModeNormal}, nil
}

// Modes lists every region's mode record, in region code order.
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

// HoldEmergency records that activation act holds region in emergency at
// level: the region's record becomes emergency at the most severe level held,
// and the switch is appended to the audit trail. Holding a region the same
// activation already holds changes nothing. It must run inside an apply
// function: t is the command's time.
func HoldEmergency(tx *bolt.Tx, region RegionCode, level LevelCode, act ActivationID, t time.Time, actor, reason string) error {
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
		m = ModeRecord{Region: region, Mode: ModeEmergency, Since: t, By: actor, Reason: reason}
	}
	m.Holds = append(m.Holds, Hold{Activation: act, Level: level})
	slices.SortFunc(m.Holds, func(a, b Hold) int { return strings.Compare(string(a.Activation), string(b.Activation)) })
	m.Level = mostSevere(m.Holds)
	if err := putJSON(bucket(tx, bModes), string(region), m); err != nil {
		return err
	}
	return appendAudit(tx, AuditRecord{Time: t, Actor: actor, Action: AuditHold, Region: region,
		From: before.Mode, To: ModeEmergency, Level: m.Level, Reason: reason, Activation: act})
}

// ReleaseEmergency records that activation act no longer holds region. When
// no other activation holds it, the region's record is removed, so it is back
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
	if len(m.Holds) == 0 {
		err = b.Delete([]byte(region))
	} else {
		m.Level = mostSevere(m.Holds)
		err = putJSON(b, string(region), m)
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
