package plans

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"muster"
)

// WarningID identifies a warning (W000001, ...).
type WarningID string

// WarningLevel is the colour of a warning (预警级别): red (一级) is the most
// severe, blue (四级) the least.
type WarningLevel string

// Warning levels, most severe first.
const (
	WarningRed    WarningLevel = "red"    // 红色 一级
	WarningOrange WarningLevel = "orange" // 橙色 二级
	WarningYellow WarningLevel = "yellow" // 黄色 三级
	WarningBlue   WarningLevel = "blue"   // 蓝色 四级
)

// WarningLevels lists the warning levels, most severe first.
func WarningLevels() []WarningLevel {
	return []WarningLevel{WarningRed, WarningOrange, WarningYellow, WarningBlue}
}

var warningLevelNames = map[string]WarningLevel{
	"red": WarningRed, "红": WarningRed, "红色": WarningRed, "红色预警": WarningRed,
	"orange": WarningOrange, "橙": WarningOrange, "橙色": WarningOrange, "橙色预警": WarningOrange,
	"yellow": WarningYellow, "黄": WarningYellow, "黄色": WarningYellow, "黄色预警": WarningYellow,
	"blue": WarningBlue, "蓝": WarningBlue, "蓝色": WarningBlue, "蓝色预警": WarningBlue,
}

// ParseWarningLevel accepts red, orange, yellow or blue in any letter case,
// or 红, 橙, 黄, 蓝 (also 红色, 红色预警 ...), and returns the canonical level.
// Numbers (一级 ...) are refused: they read too easily as response levels.
// Anything else is an EInvalid error.
func ParseWarningLevel(s string) (WarningLevel, error) {
	if l, ok := warningLevelNames[strings.ToLower(strings.TrimSpace(s))]; ok {
		return l, nil
	}
	return "", muster.Errorf(muster.EInvalid, "warning level %q: want red, orange, yellow or blue (红, 橙, 黄, 蓝)", s)
}

// Rank is 1 for red (most severe) to 4 for blue, and 0 for an unknown level.
func (l WarningLevel) Rank() int {
	if i := slices.Index(WarningLevels(), l); i >= 0 {
		return i + 1
	}
	return 0
}

// Valid reports whether l is one of red, orange, yellow, blue.
func (l WarningLevel) Valid() bool { return l.Rank() > 0 }

// ChineseName is the level's colour in Chinese: 红色, 橙色, 黄色 or 蓝色.
func (l WarningLevel) ChineseName() string {
	return [...]string{"", "红色", "橙色", "黄色", "蓝色"}[l.Rank()]
}

// CAPSeverity is the CAP 1.2 severity for the level: Extreme, Severe,
// Moderate or Minor ("Unknown" for an unknown level).
func (l WarningLevel) CAPSeverity() string {
	return [...]string{"Unknown", "Extreme", "Severe", "Moderate", "Minor"}[l.Rank()]
}

// WarningLevelOfSeverity is the level for a CAP 1.2 severity, the inverse of
// CAPSeverity: Extreme red, Severe orange, Moderate yellow, Minor blue. Any
// other severity (Unknown included) is an EInvalid error: muster cannot
// choose a colour for it.
func WarningLevelOfSeverity(severity string) (WarningLevel, error) {
	for _, l := range WarningLevels() {
		if l.CAPSeverity() == severity {
			return l, nil
		}
	}
	return "", muster.Errorf(muster.EInvalid, "severity %q: want Extreme, Severe, Moderate or Minor to choose the warning colour (red, orange, yellow, blue)", severity)
}

// ResponseLevel is the response level a warning of this level suggests:
// red → I, orange → II, yellow → III, blue → IV ("" for an unknown level).
func (l WarningLevel) ResponseLevel() LevelCode {
	if !l.Valid() {
		return ""
	}
	return LevelCodes()[l.Rank()-1]
}

// NeedsResponse reports whether a warning of this level must be answered by
// an activation in time (orange and red): otherwise the commander is
// prompted (the warning-without-response failure).
func (l WarningLevel) NeedsResponse() bool { return l == WarningRed || l == WarningOrange }

// WarningPurpose says whether a warning is real. Warnings issued in muster
// are LIVE; one imported from an upstream CAP alert takes the alert's
// status (Actual LIVE, Exercise EXERCISE, Test TEST). It maps back to the
// status of the warning's own CAP alert.
type WarningPurpose string

// Warning purposes.
const (
	WarningLive     WarningPurpose = "LIVE"
	WarningExercise WarningPurpose = "EXERCISE"
	WarningTest     WarningPurpose = "TEST"
)

// Valid reports whether p is LIVE, EXERCISE or TEST.
func (p WarningPurpose) Valid() bool {
	return p == WarningLive || p == WarningExercise || p == WarningTest
}

// WarningStatus is where a warning is in its life.
type WarningStatus string

// Warning statuses.
const (
	WarningActive  WarningStatus = "active"  // in force: its regions are in standby
	WarningLifted  WarningStatus = "lifted"  // lifted by a person (解除)
	WarningExpired WarningStatus = "expired" // its expiry time passed
)

// DefaultWarningResponseTimeout is how long an orange or red warning may go
// without an activation over its regions before the commander is prompted.
const DefaultWarningResponseTimeout = 30 * time.Minute

// Limits on a warning's text.
const (
	MaxWarningEvent       = 100  // characters
	MaxWarningHeadline    = 200  // characters
	MaxWarningDescription = 4000 // characters
)

// Command types of warnings.
const (
	CmdWarningIssue = "warning.issue"
	CmdWarningLift  = "warning.lift"
)

// Buckets of warnings.
var (
	bWarnings       = []byte("warnings")        // warning ID → Warning
	bWarningsActive = []byte("warnings_active") // warning ID → nil, for warnings in force
	// bWarningsUpstream maps an imported alert, by UpstreamRef.key, to the
	// warning it became: importing it again finds that warning.
	bWarningsUpstream = []byte("warnings_upstream")
	// bWarningsSuperseded maps an upstream alert that a later Update or
	// Cancel of its sender referenced, by UpstreamRef.key, to what that
	// message did (a Supersession), whether or not the alert itself ever
	// arrived (rulesCAPOutOfOrder).
	bWarningsSuperseded = []byte("warnings_superseded")
	// bWarningsSupersededAt indexes bWarningsSuperseded by the time of
	// the command that wrote each record, so records past
	// SupersessionRetention are dropped oldest first
	// (rulesCAPSupersessionsBounded).
	bWarningsSupersededAt = []byte("warnings_superseded_at")
)

// Warning is a warning (预警) as issued: it puts its regions, and everything
// under them, into standby (临战) until it is lifted or expires, suggests the
// plans and level to activate, and, at orange and red, expects an activation
// over its regions by RespondBy. It carries what a CAP 1.2 alert needs:
// event, headline, description, severity (Level), areas (Areas: each
// region's code and name), sent (IssuedAt), expires and the sender (Source).
type Warning struct {
	ID          WarningID     `json:"id"`
	Regions     []RegionCode  `json:"regions"` // sorted, without duplicates
	Areas       []WarningArea `json:"areas"`   // Regions with their names, in the same order
	Level       WarningLevel  `json:"level"`
	Event       string        `json:"event"`    // what is happening: 暴雨, 台风 (CAP event)
	Headline    string        `json:"headline"` // one line for people (CAP headline)
	Description string        `json:"description,omitempty"`
	// EventEN, HeadlineEN and DescriptionEN are the warning's texts in
	// English, for English readers (its CAP alert's en-US block, see
	// TextEN): as given with it, or an imported alert's en-US block's
	// (rules 13). Empty when none was given.
	EventEN       string `json:"event_en,omitempty"`
	HeadlineEN    string `json:"headline_en,omitempty"`
	DescriptionEN string `json:"description_en,omitempty"`
	// AreaNamesEN are the English names of Areas as issued, in the same
	// order, "" for a region without one; absent for a warning stored
	// before rules 13, which has no English text (TextEN).
	AreaNamesEN []string    `json:"area_names_en,omitempty"`
	Category    Hazard      `json:"category,omitempty"`     // hazard category; narrows the suggested plans
	CAPCategory CAPCategory `json:"cap_category,omitempty"` // for CAP export (Met, Geo ...)
	// Source says where the warning came from: "cli", "api", or for an
	// imported CAP alert "cap:" and the alert's sender,identifier,sent.
	Source   string    `json:"source"`
	Expires  time.Time `json:"expires,omitzero"` // zero: in force until lifted
	IssuedAt time.Time `json:"issued_at"`
	IssuedBy string    `json:"issued_by"`
	Command  string    `json:"command"` // ID of the command that issued it

	// Purpose is LIVE, EXERCISE or TEST; empty in warnings stored before
	// purposes were recorded, which were all LIVE (see PurposeOrLive).
	Purpose WarningPurpose `json:"purpose,omitempty"`

	Status     WarningStatus `json:"status"`
	LiftedAt   time.Time     `json:"lifted_at,omitzero"`
	LiftedBy   string        `json:"lifted_by,omitempty"`
	LiftReason string        `json:"lift_reason,omitempty"`

	// SuggestedLevel is the response level the warning's level maps to;
	// Suggestions are the plans that cover every region of the warning (and
	// match its category when it has one), each at the level to activate.
	SuggestedLevel LevelCode    `json:"suggested_level"`
	Suggestions    []Suggestion `json:"suggestions"`

	// RespondBy is when an activation over the regions is due (orange and
	// red only): the time of issue plus the response timeout, or, for an
	// upstream update, the earlier RespondBy of a warning it replaced that
	// was still awaiting a response (rules 7). Responses are the
	// activations that started over any of the regions (the region itself,
	// above or below it) while the warning was in force, or were already
	// holding one when it was issued: LIVE call-ups for a LIVE warning,
	// drills (EXERCISE or TEST) for a drill's, which an update of it takes
	// over from the warning it replaces (rules 9; before, LIVE call-ups for
	// any warning).
	RespondBy time.Time         `json:"respond_by,omitzero"`
	Responses []WarningResponse `json:"responses,omitempty"`

	// IgnoredGeocodes are the region codes of the upstream alert the
	// warning was imported from, as the alert gave them, that name no
	// region of muster: those areas are not warned. SupersededBy is, for
	// an alert that arrived after a Cancel of it, that Cancel: the
	// warning was created lifted. Both are kept from
	// rulesCAPSupersessionsBounded on.
	IgnoredGeocodes []RegionCode  `json:"ignored_geocodes,omitempty"`
	SupersededBy    *Supersession `json:"superseded_by,omitempty"`
	// ReplacedBy is, for a warning an upstream Update lifted, the warning
	// the Update became (rulesCancelFollowsUpdates): a Cancel that names
	// this one's alert ends that one too.
	ReplacedBy WarningID `json:"replaced_by,omitempty"`
	// Replaces is, for the warning of an upstream Update, the warnings in
	// force that the Update lifted (rulesCancelFollowsUpdates), each of
	// which names it in ReplacedBy: the earlier warnings of its thread,
	// which its own CAP alert updates.
	Replaces []WarningID `json:"replaces,omitempty"`
	// CancelledBy is, for a warning an upstream Cancel lifted, that Cancel
	// (rulesCancelFollowsUpdates): an Update of its thread that comes
	// later is created lifted.
	CancelledBy *Supersession `json:"cancelled_by,omitempty"`
	// Prompted is, for a LIVE warning that went unanswered past
	// RespondBy, the 叫应 of it (rules 13): the leader listed the
	// commanders with a phone, and texted them, once, that it awaits
	// their response. Nil until then, and for a warning answered in time.
	Prompted *WarningPrompted `json:"prompted,omitempty"`
	// FirstIssuedAt is, for the warning of an upstream Update that kept
	// the RespondBy of a warning it replaced (rules 7), when the first
	// warning of the thread still awaiting a response was issued, which
	// RespondBy counts from; from rulesUpdateKeepsPrompt it keeps that
	// warning's Prompted and Escalated too. Zero otherwise: IssuedAt is
	// the first.
	FirstIssuedAt time.Time `json:"first_issued_at,omitzero"`
	// Escalated is, for a warning whose commanders were called on
	// (Prompted) and which still went unanswered until
	// Prompted.EscalateBy, the 叫应 escalated to their superiors (rules
	// 13): the leader listed the holders of an approver token with a
	// phone, and texted them, once, that the commanders were called on
	// and nothing started. Nil until then.
	Escalated *WarningPrompted `json:"escalated,omitempty"`

	// Prompt is set on reads, never stored: the warning is in force, needs
	// a response, RespondBy has passed and no activation answered it.
	// PromptSince is then RespondBy.
	Prompt      bool      `json:"prompt"`
	PromptSince time.Time `json:"prompt_since,omitzero"`
	// EscalatesAt is set on reads, never stored, while the warning is
	// prompted and its commanders were called on but not yet its
	// superiors: when it goes on to them if still unanswered (EscalateAt:
	// Prompted.EscalateBy, or later after a response was retracted). Zero
	// once a commander acknowledged the call (no escalation follows).
	EscalatesAt time.Time `json:"escalates_at,omitzero"`
	// UnansweredUntil is set on reads, never stored, for a warning no
	// longer in force (expired or lifted) that needed a response and went
	// without one from RespondBy: when it ended (LiftedAt, or Expires for
	// one past its expiry the leader has not lifted yet). It keeps the NO
	// RESPONSE mark of an after-action review once Prompt is gone.
	UnansweredUntil time.Time `json:"unanswered_until,omitzero"`
}

// WarningArea is a region a warning covers, with its name as issued.
type WarningArea struct {
	Code RegionCode `json:"code"`
	Name string     `json:"name"`
}

// RegionNames joins the names of w's regions with 、, for messages.
func (w *Warning) RegionNames() string {
	names := make([]string, len(w.Areas))
	for i, a := range w.Areas {
		names[i] = a.Name
	}
	return strings.Join(names, "、")
}

// SuggestedReason is the reason to give the activations suggested for w:
// its headline; for a LIVE warning whose headline has a drill word (演练,
// 测试, test ...), which a LIVE call-up's reason may not, its event and
// colour (暴雨橙色预警), or "" when the event has one too: the person who
// activates must write the reason.
func (w *Warning) SuggestedReason() string {
	if !w.HoldsRegions() || len(DrillWordsIn(w.Headline)) == 0 {
		return w.Headline
	}
	if r := w.Event + w.Level.ChineseName() + "预警"; len(DrillWordsIn(r)) == 0 {
		return r
	}
	return ""
}

// ShellWord is s as one word of a POSIX shell command line, so a suggested
// command (muster warning show's, a 叫应 text's) runs as printed whatever
// an upstream headline or event holds ($, `, ", \, '): s in single quotes,
// a quote in it closed, escaped and reopened.
func ShellWord(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// rulesDrillWarningsHoldNoRegion is the behaviour (muster.Rules) from
// which an EXERCISE or TEST warning (an upstream drill's CAP alert) puts no
// region in standby: the modes are the city's real state, and a drill
// must not change what officials see of it. Under older rules it did.
const rulesDrillWarningsHoldNoRegion = 5

// HoldsRegions reports whether w is LIVE: only a LIVE warning puts its
// regions in standby and counts for operators (under rules before
// rulesDrillWarningsHoldNoRegion an EXERCISE or TEST one held them too).
func (w *Warning) HoldsRegions() bool { return w.PurposeOrLive() == WarningLive }

// PurposeOrLive is w's purpose, LIVE for a warning stored without one.
func (w *Warning) PurposeOrLive() WarningPurpose {
	if w.Purpose == "" {
		return WarningLive
	}
	return w.Purpose
}

// Suggestion is a plan to activate for a warning, at a level the plan has.
type Suggestion struct {
	Plan      PlanID    `json:"plan"`
	Version   int       `json:"version"`
	Title     string    `json:"title"`
	Hazard    Hazard    `json:"hazard"`
	Level     LevelCode `json:"level"`
	LevelName string    `json:"level_name"`
}

// WarningResponse is an activation that answered a warning.
type WarningResponse struct {
	Activation ActivationID `json:"activation"`
	Region     RegionCode   `json:"region"` // the activated region that met the warning's
	Level      LevelCode    `json:"level"`
	At         time.Time    `json:"at"`
	// Retracted is when the activation was retracted (sent in error): it
	// is kept for the record and answers the warning no more.
	Retracted time.Time `json:"retracted,omitzero"`
}

// Answered reports whether an activation that still stands answered w: a
// retracted one does not.
func (w *Warning) Answered() bool {
	return slices.ContainsFunc(w.Responses, func(r WarningResponse) bool { return r.Retracted.IsZero() })
}

// At returns w as it stands at now, by the reader's clock: an active warning
// whose expiry has passed shows as expired (the leader lifts it shortly, see
// WarningService.RunExpiry), and Prompt and PromptSince say whether the
// commander must be prompted for a response; for one no longer in force,
// UnansweredUntil says when it ended if it went unanswered past RespondBy.
func (w Warning) At(now time.Time) Warning {
	if w.Status == WarningActive && !w.Expires.IsZero() && !now.Before(w.Expires) {
		w.Status = WarningExpired
	}
	w.Prompt, w.PromptSince, w.UnansweredUntil, w.EscalatesAt = false, time.Time{}, time.Time{}, time.Time{}
	if !w.Level.NeedsResponse() || w.Answered() || w.RespondBy.IsZero() {
		return w
	}
	if w.Status == WarningActive {
		if !now.Before(w.RespondBy) {
			w.Prompt, w.PromptSince = true, w.RespondBy
			if w.Prompted != nil && w.Escalated == nil && len(w.Prompted.Acks()) == 0 {
				w.EscalatesAt = w.EscalateAt()
			}
		}
		return w
	}
	end := w.LiftedAt
	if end.IsZero() {
		end = w.Expires
	}
	if end.After(w.RespondBy) {
		w.UnansweredUntil = end
	}
	return w
}

// Overlaps reports whether region is one of w's regions, lies under one or
// contains one (RegionUnder): what an activation must hold to answer w.
func (w *Warning) Overlaps(region RegionCode) bool {
	return slices.ContainsFunc(w.Regions, func(r RegionCode) bool { return RegionUnder(region, r) || RegionUnder(r, region) })
}

// warningIssue is the payload of warning.issue. Expires and ResponseTimeout
// are resolved before proposing; apply checks Expires against the command's
// time.
type warningIssue struct {
	Regions     []RegionCode `json:"regions"`
	Level       WarningLevel `json:"level"`
	Event       string       `json:"event"`
	Headline    string       `json:"headline"`
	Description string       `json:"description,omitempty"`
	// EventEN, HeadlineEN and DescriptionEN are kept from
	// rulesWarningEnglish on; older rules ignore them.
	EventEN         string      `json:"event_en,omitempty"`
	HeadlineEN      string      `json:"headline_en,omitempty"`
	DescriptionEN   string      `json:"description_en,omitempty"`
	Category        Hazard      `json:"category,omitempty"`
	CAPCategory     CAPCategory `json:"cap_category,omitempty"`
	Source          string      `json:"source"`
	Expires         time.Time   `json:"expires,omitzero"`
	ResponseTimeout Duration    `json:"response_timeout,omitempty"`
	// Purpose is LIVE when empty.
	Purpose WarningPurpose `json:"purpose,omitempty"`
	// Upstream is set when the warning is imported from an upstream alert:
	// apply returns the warning that alert already became, if any, and
	// otherwise records the new one under it and lifts the warnings of the
	// alerts in Replaces. Such a command returns a WarningImport.
	Upstream *UpstreamRef  `json:"upstream,omitempty"`
	Replaces []UpstreamRef `json:"replaces,omitempty"`
	// Ignored are the alert's region codes that name no region, kept in
	// the warning (rulesCAPSupersessionsBounded): at most
	// MaxIgnoredGeocodes, each at most MaxUpstreamRef bytes.
	Ignored []RegionCode `json:"ignored,omitempty"`
}

// MaxIgnoredGeocodes bounds the unknown region codes a warning keeps of
// its upstream alert; an answer to the import lists them all.
const MaxIgnoredGeocodes = 50

// UpstreamRef names an upstream alert by its sender and identifier, which
// together are unique (CAP 1.2 requires identifiers unique per sender).
type UpstreamRef struct {
	Sender     string `json:"sender"`
	Identifier string `json:"identifier"`
}

// CAPSourcePrefix starts the Source of a warning imported from a CAP
// alert, followed by the alert's sender,identifier,sent.
const CAPSourcePrefix = "cap:"

// UpstreamAlert is the upstream alert w was imported from, as its Source
// names it; ok is false for a warning issued in muster.
func (w *Warning) UpstreamAlert() (ref UpstreamRef, ok bool) {
	rest, ok := strings.CutPrefix(w.Source, CAPSourcePrefix)
	if !ok {
		return ref, false
	}
	parts := strings.Split(rest, ",")
	if len(parts) < 2 {
		return ref, false
	}
	return UpstreamRef{Sender: parts[0], Identifier: parts[1]}, true
}

// key is the ref's key in bWarningsUpstream. CAP forbids commas in both
// parts, so the comma separates them unambiguously.
func (r UpstreamRef) key() []byte { return []byte(r.Sender + "," + r.Identifier) }

// MaxUpstreamRef bounds an upstream alert's sender and identifier, in
// bytes: they are stored as a key.
const MaxUpstreamRef = 512

func (r UpstreamRef) check() error {
	for _, f := range []struct{ name, value string }{{"sender", r.Sender}, {"identifier", r.Identifier}} {
		switch {
		case len(f.value) > MaxUpstreamRef:
			return muster.Errorf(muster.EInvalid, "upstream alert %s: %d bytes, at most %d", f.name, len(f.value), MaxUpstreamRef)
		case strings.TrimSpace(f.value) == "" || strings.ContainsAny(f.value, ", \t\r\n"):
			return muster.Errorf(muster.EInvalid, "upstream alert %s %q: want a CAP %s without spaces or commas", f.name, f.value, f.name)
		}
	}
	return nil
}

// upstreamWarning returns the warning the alert ref became, if any.
func upstreamWarning(tx *bolt.Tx, ref UpstreamRef) (Warning, bool, error) {
	b := tx.Bucket(bWarningsUpstream)
	if b == nil {
		return Warning{}, false, nil
	}
	id := b.Get(ref.key())
	if id == nil {
		return Warning{}, false, nil
	}
	w, err := getWarning(tx, WarningID(id))
	return w, err == nil, err
}

// WarningImport is the outcome of importing an upstream alert.
type WarningImport struct {
	Warning Warning `json:"warning"`
	// Created is false when the alert had been imported before: Warning is
	// the one it became then, as it stands now.
	Created bool `json:"created"`
	// Replaced lists the warnings of earlier alerts this one updates, which
	// were lifted as it was imported.
	Replaced []WarningID `json:"replaced,omitempty"`
	// Ignored lists the alert's region codes that do not exist in muster.
	Ignored []RegionCode `json:"ignored,omitempty"`
	// Covered lists the alert's region codes left out because they lie
	// within another of its regions, which the warning names instead.
	Covered []RegionCode `json:"covered,omitempty"`
	// SupersededBy is set when a later Update or Cancel of the sender had
	// already referenced the alert before it arrived (rulesCAPOutOfOrder):
	// updated, nothing was created and Warning is the one that update
	// became, as it stands now; cancelled, Warning was created lifted and
	// never put a region in standby.
	SupersededBy *Supersession `json:"superseded_by,omitempty"`
}

// warningLift is the payload of warning.lift. Expired asks to lift it
// because its expiry passed: apply refuses if, by the command's time, it
// has not.
type warningLift struct {
	Warning WarningID `json:"warning"`
	Reason  string    `json:"reason"`
	Expired bool      `json:"expired,omitempty"`
	// Purpose is set when an upstream alert's cancellation asks for the
	// lift: the cancellation's purpose. Empty for a lift by a person or by
	// expiry, which may lift a warning of any purpose.
	Purpose WarningPurpose `json:"purpose,omitempty"`
	// Cancel is set, and Warning empty, for an upstream cancellation
	// applied as one step (rulesCAPOutOfOrder): every alert it names is
	// remembered as cancelled, and the warnings they became are lifted.
	// Under older rules such a command is refused as naming no warning
	// (ENotFound) and changes nothing; the service then lifts warning by
	// warning as before.
	Cancel *upstreamCancel `json:"cancel,omitempty"`
}

// upstreamCancel is the upstream part of a cancellation's warning.lift.
type upstreamCancel struct {
	By   UpstreamRef   `json:"by,omitzero"` // the Cancel message; zero when not known
	Refs []UpstreamRef `json:"refs"`        // the alerts it cancels
}

func warningKey(seq uint64) WarningID { return WarningID(fmt.Sprintf("W%06d", seq)) }

func getWarning(tx *bolt.Tx, id WarningID) (Warning, error) {
	var w Warning
	ok, err := getJSON(tx.Bucket(bWarnings), string(id), &w)
	if err == nil && !ok {
		err = muster.Errorf(muster.ENotFound, "warning %s does not exist", id)
	}
	return w, err
}

// check validates the payload on its own; regions are checked against the
// state by apply.
func (p *warningIssue) check() error {
	if !p.Level.Valid() {
		return muster.Errorf(muster.EInvalid, "level %q: want red, orange, yellow or blue", p.Level)
	}
	if len(p.Regions) == 0 {
		return muster.Errorf(muster.EInvalid, "regions: name at least one region the warning covers")
	}
	for _, f := range []struct {
		name, value string
		max         int
		required    bool
	}{
		{"event", p.Event, MaxWarningEvent, true},
		{"headline", p.Headline, MaxWarningHeadline, true},
		{"description", p.Description, MaxWarningDescription, false},
	} {
		if f.required && strings.TrimSpace(f.value) == "" {
			return muster.Errorf(muster.EInvalid, "%s: required", f.name)
		}
		if n := utf8.RuneCountInString(f.value); n > f.max {
			return muster.Errorf(muster.EInvalid, "%s: %d characters, at most %d", f.name, n, f.max)
		}
	}
	if p.Category != "" && !slices.Contains(Hazards(), p.Category) {
		return muster.Errorf(muster.EInvalid, "category %q: want 自然灾害, 事故灾难, 公共卫生 or 社会安全", p.Category)
	}
	if p.CAPCategory != "" && !slices.Contains(CAPCategories(), p.CAPCategory) {
		return muster.Errorf(muster.EInvalid, "cap_category %q: want one of %s", p.CAPCategory, joinStrings(CAPCategories(), ", "))
	}
	if p.Purpose != "" && !p.Purpose.Valid() {
		return muster.Errorf(muster.EInvalid, "purpose %q: want LIVE, EXERCISE or TEST", p.Purpose)
	}
	if p.Upstream != nil {
		if err := p.Upstream.check(); err != nil {
			return err
		}
	}
	for _, r := range p.Replaces {
		if err := r.check(); err != nil {
			return err
		}
	}
	return nil
}

func applyWarningIssue(tx *bolt.Tx, c *muster.Command) (any, error) {
	var p warningIssue
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		return nil, muster.Errorf(muster.EInvalid, "warning: %v", err)
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	var cancelledBefore *Supersession
	if p.Upstream != nil {
		// The same alert again, however often and whatever it says now,
		// is the warning it became the first time.
		w, ok, err := upstreamWarning(tx, *p.Upstream)
		if err != nil || ok {
			return WarningImport{Warning: w}, err
		}
		if c.RulesAtLeast(rulesCAPOutOfOrder) {
			sup, ok, err := supersession(tx, *p.Upstream)
			switch {
			case err != nil:
				return nil, err
			case ok && sup.Purpose != "" && sup.Purpose != cmp.Or(p.Purpose, WarningLive):
				// A message of another purpose (a Test cancel naming an
				// Actual alert) ends nothing of it.
			case ok && sup.Action == SupersededUpdated:
				return lateUpdatedAlert(tx, c, &p, sup)
			case ok:
				cancelledBefore = &sup
			}
		}
	}
	if cancelledBefore == nil && p.Upstream != nil && c.RulesAtLeast(rulesCancelFollowsUpdates) {
		var err error
		if cancelledBefore, err = threadCancelled(tx, &p); err != nil {
			return nil, err
		}
	}
	if !p.Expires.IsZero() && !p.Expires.After(c.Time) {
		return nil, muster.Errorf(muster.EInvalid, "expires %s is not after the time of issue %s", p.Expires.Format(time.RFC3339), c.Time.Format(time.RFC3339))
	}
	replaced, err := replacedWarnings(tx, &p)
	if err != nil {
		return nil, err
	}
	if c.RulesAtLeast(rulesUpstreamOwnPurpose) {
		for _, old := range replaced {
			if err := samePurpose(&old, cmp.Or(p.Purpose, WarningLive), "upstream alert "+p.Upstream.Identifier); err != nil {
				return nil, err
			}
		}
	}
	w := Warning{Level: p.Level, Purpose: cmp.Or(p.Purpose, WarningLive), Event: strings.TrimSpace(p.Event), Headline: strings.TrimSpace(p.Headline),
		Description: strings.TrimSpace(p.Description), Category: p.Category, CAPCategory: p.CAPCategory,
		Source: p.Source, Expires: p.Expires, IssuedAt: c.Time, IssuedBy: c.Actor, Command: c.ID,
		Status: WarningActive, SuggestedLevel: p.Level.ResponseLevel(), Suggestions: []Suggestion{}}
	var areaNamesEN []string
	codes := slices.Clone(p.Regions)
	slices.Sort(codes)
	codes = slices.Compact(codes)
	if c.RulesAtLeast(rulesWarningOutermostRegions) {
		codes, _ = outermostRegions(NewRegionReader(tx), codes)
	}
	for _, code := range codes {
		r, ok, err := getRegion(tx, code)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, muster.Errorf(muster.EInvalid, "regions: %s does not exist", code)
		}
		w.Regions = append(w.Regions, r.Code)
		w.Areas = append(w.Areas, WarningArea{Code: r.Code, Name: r.Name})
		areaNamesEN = append(areaNamesEN, r.NameEN)
	}
	if err := w.setEnglish(c, &p, areaNamesEN); err != nil {
		return nil, err
	}
	if p.Level.NeedsResponse() {
		timeout := p.ResponseTimeout.Std()
		if timeout <= 0 {
			timeout = DefaultWarningResponseTimeout
		}
		w.RespondBy = c.Time.Add(timeout)
		if c.RulesAtLeast(rulesUpdateKeepsRespondBy) {
			var kept *Warning
			for i, old := range replaced {
				if old.awaitsResponse(c.Time) && old.RespondBy.Before(w.RespondBy) {
					w.RespondBy = old.RespondBy
					kept = &replaced[i]
				}
			}
			if kept != nil && c.RulesAtLeast(rulesUpdateKeepsPrompt) {
				// The commanders were called on about the thread
				// (or are about to be): not again for each update.
				w.FirstIssuedAt = cmp.Or(kept.FirstIssuedAt, kept.IssuedAt)
				w.Prompted, w.Escalated = kept.Prompted, kept.Escalated
			}
		}
	}
	if w.Suggestions, err = suggestPlans(tx, &w); err != nil {
		return nil, fmt.Errorf("suggest plans: %w", err)
	}
	if !w.HoldsRegions() && c.RulesAtLeast(rulesDrillAnswersDrillWarnings) {
		// A drill's warning is answered by drills, not by the LIVE
		// call-ups holding its regions.
		w.Responses = drillResponses(replaced)
	} else if w.Responses, err = heldResponses(tx, &w, c.Time); err != nil {
		return nil, err
	}
	wb := bucket(tx, bWarnings)
	seq, err := wb.NextSequence()
	if err != nil {
		return nil, err
	}
	w.ID = warningKey(seq)
	if cancelledBefore != nil {
		// Cancelled upstream before it arrived: it is born lifted and
		// never puts a region in standby.
		w.Status, w.LiftedAt, w.LiftedBy = WarningLifted, c.Time, c.Actor
		w.LiftReason = cancelledBeforeReason(c, cancelledBefore, *p.Upstream)
	}
	if c.RulesAtLeast(rulesCAPSupersessionsBounded) {
		// The record of the Cancel is dropped as the alert arrives
		// (importedWarning): the warning keeps it.
		w.SupersededBy = cancelledBefore
		if len(p.Ignored) > MaxIgnoredGeocodes || slices.ContainsFunc(p.Ignored, func(r RegionCode) bool { return len(r) > MaxUpstreamRef }) {
			return nil, muster.Errorf(muster.EInvalid, "ignored: at most %d codes of at most %d bytes", MaxIgnoredGeocodes, MaxUpstreamRef)
		}
		w.IgnoredGeocodes = p.Ignored
	}
	reason := fmt.Sprintf("%s预警 %s: %s", w.Level.ChineseName(), w.ID, w.Headline)
	for _, r := range w.Regions {
		if (!w.HoldsRegions() && c.RulesAtLeast(rulesDrillWarningsHoldNoRegion)) || cancelledBefore != nil {
			break
		}
		if err := holdStandby(tx, c, r, w.ID, w.Level, reason); err != nil {
			return nil, fmt.Errorf("switch %s to standby: %w", r, err)
		}
	}
	if cancelledBefore == nil {
		if err := bucket(tx, bWarningsActive).Put([]byte(w.ID), nil); err != nil {
			return nil, err
		}
	}
	if err := putJSON(wb, string(w.ID), w); err != nil {
		return nil, err
	}
	if p.Upstream == nil {
		return w, nil
	}
	out, err := importedWarning(tx, c, &p, w)
	out.SupersededBy = cancelledBefore
	return out, err
}

// rulesWarningOutermostRegions is the behaviour (muster.Rules) from which a
// warning keeps, of the regions it is issued over, only those that lie
// within no other of them, as an activation must name them: its suggested
// activations are then accepted as printed. Under older rules it kept them
// all (990103 with 990103001), and the activation it suggested was refused.
const rulesWarningOutermostRegions = 9

// WithinAnother returns a region of codes that lies within another of
// them in the region tree, and that one; ok is false when none does. A
// call-up or a warning names only the larger (it covers everything under
// it).
func WithinAnother(rr *RegionReader, codes []RegionCode) (r, above RegionCode, ok bool) {
	for _, r := range codes {
		for _, above := range codes {
			if above != r && rr.Within(r, above) {
				return r, above, true
			}
		}
	}
	return "", "", false
}

// outermostRegions returns codes without those that lie within another of
// them in the region tree, in the same order, and those left out.
func outermostRegions(rr *RegionReader, codes []RegionCode) (kept, within []RegionCode) {
	for _, r := range codes {
		if slices.ContainsFunc(codes, func(above RegionCode) bool { return above != r && rr.Within(r, above) }) {
			within = append(within, r)
		} else {
			kept = append(kept, r)
		}
	}
	return kept, within
}

// rulesUpstreamOwnPurpose is the behaviour (muster.Rules) from which an
// upstream alert updates or cancels only alerts of its own purpose: an
// import whose Replaces name a warning of another purpose, or a lift asked
// by a cancellation of another purpose, is refused (EConflict), so a CAP
// Test or Exercise message cannot lift a LIVE warning. Under older rules
// it lifted it.
const rulesUpstreamOwnPurpose = 7

// rulesUpdateKeepsRespondBy is the behaviour (muster.Rules) from which an
// upstream update of a warning still awaiting a response keeps the earlier
// RespondBy, so a warning the met service keeps updating is marked NO
// RESPONSE in time and a prompt already raised stays raised. Under older
// rules every update restarted the clock.
const rulesUpdateKeepsRespondBy = 7

// rulesUpdateKeepsPrompt is the behaviour (muster.Rules) from which the
// warning of an upstream Update that keeps the RespondBy of one it
// replaced keeps that warning's 叫应 too (Prompted, Escalated: whom it
// texted, and when it escalates) and the time its thread was first issued
// (FirstIssuedAt), so the commanders, called on once, are not texted
// again for each update, nor told that a response was due before the
// warning was issued. Under older rules the update started with neither.
const rulesUpdateKeepsPrompt = 13

// replacedWarnings returns the warnings of the alerts p replaces, whatever
// their status, each once; none when p is not an upstream alert.
func replacedWarnings(tx *bolt.Tx, p *warningIssue) ([]Warning, error) {
	if p.Upstream == nil {
		return nil, nil
	}
	var out []Warning
	for _, r := range p.Replaces {
		old, ok, err := upstreamWarning(tx, r)
		if err != nil {
			return nil, err
		}
		if ok && !slices.ContainsFunc(out, func(w Warning) bool { return w.ID == old.ID }) {
			out = append(out, old)
		}
	}
	return out, nil
}

// samePurpose returns an EConflict error unless w is of purpose, the purpose
// of the upstream alert (by) that would update or cancel it.
func samePurpose(w *Warning, purpose WarningPurpose, by string) error {
	if w.PurposeOrLive() == purpose {
		return nil
	}
	return muster.Errorf(muster.EConflict, "%s is %s but warning %s (%s) is %s: an upstream alert updates or cancels only alerts of its own CAP status (Actual LIVE, Exercise EXERCISE, Test TEST)",
		by, purpose, w.ID, w.Source, w.PurposeOrLive())
}

// awaitsResponse reports whether w, at t, is in force, needs a response by
// RespondBy and has no response that stands.
func (w *Warning) awaitsResponse(t time.Time) bool {
	return w.Status == WarningActive && (w.Expires.IsZero() || t.Before(w.Expires)) &&
		w.Level.NeedsResponse() && !w.RespondBy.IsZero() && !w.Answered()
}

// importedWarning records w as the warning of the upstream alert p names and
// lifts the warnings in force of the alerts it replaces.
func importedWarning(tx *bolt.Tx, c *muster.Command, p *warningIssue, w Warning) (WarningImport, error) {
	if err := bucket(tx, bWarningsUpstream).Put(p.Upstream.key(), []byte(w.ID)); err != nil {
		return WarningImport{}, err
	}
	if c.RulesAtLeast(rulesCAPSupersessionsBounded) {
		// Arrived, the alert is its warning from now on: what a message
		// did to it before is not read again.
		if sup, ok, err := supersession(tx, *p.Upstream); err != nil {
			return WarningImport{}, err
		} else if ok {
			if err := dropSupersession(tx, sup); err != nil {
				return WarningImport{}, err
			}
		}
	}
	replaced, err := supersedeReplaced(tx, c, p, w.ID)
	if err != nil {
		return WarningImport{}, err
	}
	if len(replaced) > 0 && c.RulesAtLeast(rulesCancelFollowsUpdates) {
		if w, err = getWarning(tx, w.ID); err != nil { // with Replaces
			return WarningImport{}, err
		}
	}
	return WarningImport{Warning: w, Created: true, Replaced: replaced}, nil
}

// supersedeReplaced lifts the warnings in force of the alerts p replaces,
// as updated by p's alert, which became (or, arriving late, was overtaken
// by) warning by, and returns them. From rulesCAPOutOfOrder it also
// remembers each replaced alert as updated, whether or not it has arrived;
// from rulesCancelFollowsUpdates each lifted warning names by (ReplacedBy)
// and by names them (Replaces).
func supersedeReplaced(tx *bolt.Tx, c *muster.Command, p *warningIssue, by WarningID) ([]WarningID, error) {
	var lifted []WarningID
	for _, r := range p.Replaces {
		if c.RulesAtLeast(rulesCAPOutOfOrder) && r != *p.Upstream {
			sup := Supersession{Alert: r, By: *p.Upstream, Action: SupersededUpdated, Warning: by, Purpose: cmp.Or(p.Purpose, WarningLive), At: c.Time}
			if err := noteSupersession(tx, c, sup); err != nil {
				return nil, err
			}
		}
		old, ok, err := upstreamWarning(tx, r)
		if err != nil {
			return nil, err
		}
		if !ok || old.Status != WarningActive || old.ID == by || slices.Contains(lifted, old.ID) {
			continue
		}
		reason := updatedReason(c, p.Upstream.Identifier, by)
		if c.RulesAtLeast(rulesCancelFollowsUpdates) {
			old.ReplacedBy = by
		}
		if err := liftWarning(tx, &old, WarningLifted, c.Time, c.Actor, reason); err != nil {
			return nil, fmt.Errorf("lift %s: %w", old.ID, err)
		}
		lifted = append(lifted, old.ID)
	}
	if len(lifted) > 0 && c.RulesAtLeast(rulesCancelFollowsUpdates) {
		w, err := getWarning(tx, by)
		if err != nil {
			return nil, err
		}
		for _, id := range lifted {
			if !slices.Contains(w.Replaces, id) {
				w.Replaces = append(w.Replaces, id)
			}
		}
		if err := putJSON(bucket(tx, bWarnings), string(by), w); err != nil {
			return nil, err
		}
	}
	return lifted, nil
}

// rulesChineseLiftReasons is the behaviour (muster.Rules) from which the
// reasons the state machine writes itself when it lifts a warning (an
// upstream Update replaced it, its alert or the one it updates was
// cancelled upstream before it arrived, it expired) are Chinese with the
// English in brackets, as muster's other reasons for people are: they
// are the note of the CAP Cancel receivers get, and the reason the
// console, the CLI and the audit trail show. Under older rules they were
// English only.
const rulesChineseLiftReasons = 13

// updatedReason is the lift reason of a warning the upstream alert update
// (an Update) replaced with warning by.
func updatedReason(c *muster.Command, update string, by WarningID) string {
	if !c.RulesAtLeast(rulesChineseLiftReasons) {
		return fmt.Sprintf("updated by upstream alert %s (warning %s)", update, by)
	}
	return fmt.Sprintf("已由上游预警 %s 更新，现为预警 %s (updated by upstream alert %s, now warning %s)", update, by, update, by)
}

// cancelledBeforeReason is the lift reason of the warning of the upstream
// alert ref, created lifted because sup, a Cancel of it or of an alert it
// updates, came first; the Cancel's own reason ends it.
func cancelledBeforeReason(c *muster.Command, sup *Supersession, ref UpstreamRef) string {
	chinese := c.RulesAtLeast(rulesChineseLiftReasons)
	switch {
	case sup.Alert == ref && chinese:
		return "上游在本预警到达前已将其取消 (cancelled before this alert arrived): " + sup.Reason
	case sup.Alert == ref:
		return "cancelled before this alert arrived: " + sup.Reason
	case chinese:
		return fmt.Sprintf("本预警所更新的上游预警 %s 在本预警到达前已被取消 (upstream alert %s, which this one updates, was cancelled before this alert arrived): %s",
			sup.Alert.Identifier, sup.Alert.Identifier, sup.Reason)
	}
	return fmt.Sprintf("upstream alert %s, which this one updates, was cancelled before this alert arrived: %s", sup.Alert.Identifier, sup.Reason)
}

// expiredReason is the lift reason of a warning lifted because its expiry
// passed, when the lift gives none.
func expiredReason(c *muster.Command) string {
	if !c.RulesAtLeast(rulesChineseLiftReasons) {
		return "expired"
	}
	return "已过期 (expired)"
}

// rulesCancelFollowsUpdates is the behaviour from which a warning an
// upstream Update lifted keeps the warning the Update became (ReplacedBy),
// which keeps it in turn (Replaces), and an upstream Cancel that names an alert whose warning an Update
// replaced lifts the warning in force at the end of that chain too: feeds
// cancel a thread by its latest message, or by its first. Under older
// rules a Cancel of the first message left the Update's warning in force.
const rulesCancelFollowsUpdates = 13

// threadCancelled returns, for an upstream Update (p), the Cancel of an
// alert it updates that came before it, if any: an alert of the same
// purpose that was cancelled before it arrived (its record), that arrived
// after its Cancel (created lifted), or whose warning a Cancel lifted.
// The Update is then created lifted too: the Cancel ended the thread.
func threadCancelled(tx *bolt.Tx, p *warningIssue) (*Supersession, error) {
	purpose := cmp.Or(p.Purpose, WarningLive)
	for _, r := range p.Replaces {
		if r == *p.Upstream {
			continue
		}
		var by *Supersession
		if sup, ok, err := supersession(tx, r); err != nil {
			return nil, err
		} else if ok && sup.Action == SupersededCancelled && (sup.Purpose == "" || sup.Purpose == purpose) {
			by = &sup
		}
		if w, ok, err := upstreamWarning(tx, r); err != nil {
			return nil, err
		} else if ok && by == nil && w.PurposeOrLive() == purpose {
			if w.SupersededBy != nil && w.SupersededBy.Action == SupersededCancelled {
				by = w.SupersededBy
			} else if w.CancelledBy != nil {
				by = w.CancelledBy
			}
		}
		if by != nil {
			out := *by
			out.Alert = r // the alert of the thread that was cancelled
			return &out, nil
		}
	}
	return nil, nil
}

// maxReplacements bounds how many Updates a Cancel follows from the alert
// it names (a thread of a met service's alert has a few).
const maxReplacements = 64

// latestReplacement follows w's ReplacedBy to the warning in force at the
// end of its chain of Updates, if w was replaced; ok is false when w was
// not replaced (or under older rules no link was kept).
func latestReplacement(tx *bolt.Tx, w Warning) (last Warning, ok bool, err error) {
	for range maxReplacements {
		if w.ReplacedBy == "" {
			return w, ok, nil
		}
		if w, err = getWarning(tx, w.ReplacedBy); err != nil {
			return Warning{}, false, err
		}
		ok = true
	}
	return w, ok, nil
}

// rulesCAPOutOfOrder is the behaviour (muster.Rules) from which the state
// remembers every upstream alert a later Update or Cancel of its sender
// referenced, and what that message did, even when the alert itself has
// not arrived (feeds, relays and retries deliver out of order): an alert
// arriving after an Update that replaced it creates nothing and answers
// with the update's warning, and one arriving after a Cancel of it is
// created lifted. Under older rules a reference to an alert not yet seen
// was dropped, a Cancel of one was refused (ENotFound) and forgotten, and
// the late alert became a warning in force that nothing lifted.
const rulesCAPOutOfOrder = 11

// SupersedeAction is what a later upstream message did to an alert it
// referenced.
type SupersedeAction string

// Supersede actions.
const (
	SupersededUpdated   SupersedeAction = "updated"   // an Update replaced it
	SupersededCancelled SupersedeAction = "cancelled" // a Cancel ended it
)

// Supersession records that a later Update or Cancel of an upstream alert's
// sender referenced it (rulesCAPOutOfOrder). A Cancel overrides an Update's
// record, and a later Update another Update's; nothing overrides a Cancel.
type Supersession struct {
	Alert UpstreamRef `json:"alert"` // the alert referenced
	// By is the Update or Cancel that referenced it; zero for a
	// cancellation asked without its own identifier (LiftUpstream).
	By      UpstreamRef     `json:"by,omitzero"`
	Action  SupersedeAction `json:"action"`
	Warning WarningID       `json:"warning,omitempty"` // the warning the Update became; "" for a Cancel
	Reason  string          `json:"reason,omitempty"`  // the Cancel's reason
	// Purpose is the purpose of the message (its CAP status); "" for a
	// cancellation whose purpose was not given. A late alert of another
	// purpose is not superseded by it.
	Purpose WarningPurpose `json:"purpose,omitempty"`
	At      time.Time      `json:"at"` // the time of the command that recorded it
}

// supersession returns what a later message did to the alert ref, if any
// referenced it.
func supersession(tx *bolt.Tx, ref UpstreamRef) (Supersession, bool, error) {
	var s Supersession
	ok, err := getJSON(tx.Bucket(bWarningsSuperseded), string(ref.key()), &s)
	return s, ok, err
}

// noteSupersession records s unless a record it may not override is there
// (see Supersession), or the same message's. From
// rulesCAPSupersessionsBounded it records nothing for an alert that has
// arrived (its warning is what a later message acts on), a message of
// another purpose than the record's overrides it only if it is LIVE, and
// records older than SupersessionRetention are dropped.
func noteSupersession(tx *bolt.Tx, c *muster.Command, s Supersession) error {
	bounded := c.RulesAtLeast(rulesCAPSupersessionsBounded)
	if bounded {
		if _, arrived, err := upstreamWarning(tx, s.Alert); err != nil || arrived {
			return err
		}
	}
	old, ok, err := supersession(tx, s.Alert)
	if err != nil {
		return err
	}
	switch {
	case !ok:
	case bounded && old.Purpose != "" && s.Purpose != "" && old.Purpose != s.Purpose:
		// A late alert is superseded only by a message of its own
		// purpose, so a Test or Exercise message naming an Actual alert
		// must not wipe out what an Actual one said of it; an Actual
		// message is believed over a drill's.
		if s.Purpose != WarningLive {
			return nil
		}
	case old.Action == SupersededCancelled || old.By == s.By && old.Action == s.Action:
		return nil
	}
	if !bounded {
		return putJSON(bucket(tx, bWarningsSuperseded), string(s.Alert.key()), s)
	}
	if err := indexSupersessions(tx); err != nil {
		return err
	}
	if ok {
		if err := dropSupersession(tx, old); err != nil {
			return err
		}
	}
	if err := putJSON(bucket(tx, bWarningsSuperseded), string(s.Alert.key()), s); err != nil {
		return err
	}
	if err := bucket(tx, bWarningsSupersededAt).Put(supersessionIndexKey(s), nil); err != nil {
		return err
	}
	return pruneSupersessions(tx, c.Time)
}

// rulesCAPSupersessionsBounded is the behaviour (muster.Rules) from which
// the records of rulesCAPOutOfOrder are kept only while they can matter:
// none is written for an alert that has arrived, an alert's record is
// dropped when it arrives (a warning created lifted keeps its Cancel in
// SupersededBy), and every record is dropped SupersessionRetention after
// the message that wrote it. A Test or Exercise message no longer
// overrides what an Actual message recorded of an alert (nor the other
// way round, except that an Actual message overrides a drill's record),
// and a warning imported from an upstream alert keeps the alert's
// ignored geocodes. Under rules 11 every record was kept for ever, and a
// Test Cancel of an alert an Actual Update had replaced made the late
// Actual alert a second warning in force.
const rulesCAPSupersessionsBounded = 12

// SupersessionRetention is how long the state remembers what an Update or
// Cancel did to an alert that has not arrived (rulesCAPSupersessionsBounded):
// feeds deliver out of order by minutes or hours, and an alert that comes
// later than this is taken as it comes.
const SupersessionRetention = 30 * 24 * time.Hour

// supersessionIndexKey is s's key in bWarningsSupersededAt: the time of the
// command that recorded it, fixed-width so keys sort by time, then the
// alert's key.
func supersessionIndexKey(s Supersession) []byte {
	return append([]byte(s.At.UTC().Format(supersessionTimeLayout)+" "), s.Alert.key()...)
}

const supersessionTimeLayout = "2006-01-02T15:04:05.000000000Z"

// indexSupersessions indexes by time the records written before
// rulesCAPSupersessionsBounded, once: the index bucket does not exist
// until then.
func indexSupersessions(tx *bolt.Tx) error {
	rb := tx.Bucket(bWarningsSuperseded)
	if tx.Bucket(bWarningsSupersededAt) != nil || rb == nil {
		return nil
	}
	idx := bucket(tx, bWarningsSupersededAt)
	return rb.ForEach(func(k, v []byte) error {
		var s Supersession
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("decode supersession %s: %w", k, err)
		}
		return idx.Put(append([]byte(s.At.UTC().Format(supersessionTimeLayout)+" "), k...), nil)
	})
}

// dropSupersession deletes the record s and its index entry.
func dropSupersession(tx *bolt.Tx, s Supersession) error {
	if err := indexSupersessions(tx); err != nil { // before the index bucket exists
		return err
	}
	if err := bucket(tx, bWarningsSupersededAt).Delete(supersessionIndexKey(s)); err != nil {
		return err
	}
	return bucket(tx, bWarningsSuperseded).Delete(s.Alert.key())
}

// pruneSupersessions drops the records written more than
// SupersessionRetention before now, oldest first.
func pruneSupersessions(tx *bolt.Tx, now time.Time) error {
	idx := tx.Bucket(bWarningsSupersededAt)
	if idx == nil {
		return nil
	}
	cutoff := []byte(now.Add(-SupersessionRetention).UTC().Format(supersessionTimeLayout))
	var due [][]byte
	cur := idx.Cursor()
	for k, _ := cur.First(); k != nil && bytes.Compare(k, cutoff) < 0; k, _ = cur.Next() {
		due = append(due, bytes.Clone(k))
	}
	rb := bucket(tx, bWarningsSuperseded)
	for _, k := range due {
		_, alert, _ := bytes.Cut(k, []byte(" "))
		if err := idx.Delete(k); err != nil {
			return err
		}
		if err := rb.Delete(alert); err != nil {
			return err
		}
	}
	return nil
}

// lateUpdatedAlert answers an upstream alert that arrives after an Update
// replaced it (sup): it creates no warning and returns the warning the
// Update became, as it stands. The alerts the late one replaces are
// replaced still: remembered as updated and their warnings in force lifted.
func lateUpdatedAlert(tx *bolt.Tx, c *muster.Command, p *warningIssue, sup Supersession) (WarningImport, error) {
	w, err := getWarning(tx, sup.Warning)
	if err != nil {
		return WarningImport{}, err
	}
	if c.RulesAtLeast(rulesUpstreamOwnPurpose) {
		old, err := replacedWarnings(tx, p)
		if err != nil {
			return WarningImport{}, err
		}
		for _, o := range old {
			if err := samePurpose(&o, cmp.Or(p.Purpose, WarningLive), "upstream alert "+p.Upstream.Identifier); err != nil {
				return WarningImport{}, err
			}
		}
	}
	replaced, err := supersedeReplaced(tx, c, p, w.ID)
	if err != nil {
		return WarningImport{}, err
	}
	if len(replaced) > 0 { // changed just now (Replaces, from rulesCancelFollowsUpdates): read it again
		if w, err = getWarning(tx, w.ID); err != nil {
			return WarningImport{}, err
		}
	}
	return WarningImport{Warning: w, Replaced: replaced, SupersededBy: &sup}, nil
}

// UpstreamCancel is the outcome of an upstream cancellation.
type UpstreamCancel struct {
	// Lifted lists the warnings the cancelled alerts became, each once,
	// as they stand now: lifted by this cancellation or before it.
	Lifted []Warning `json:"lifted"`
	// Awaited lists the cancelled alerts that have not arrived: they are
	// remembered, and each is created lifted if it comes
	// (rulesCAPOutOfOrder).
	Awaited []UpstreamRef `json:"awaited,omitempty"`
}

// applyUpstreamCancel applies an upstream cancellation as one step
// (rulesCAPOutOfOrder): if an alert it names became a warning of another
// purpose than p.Purpose (when given), nothing changes and it is
// EConflict; otherwise every alert is remembered as cancelled and the
// warnings in force they became are lifted.
func applyUpstreamCancel(tx *bolt.Tx, c *muster.Command, p *warningLift) (UpstreamCancel, error) {
	reason := strings.TrimSpace(p.Reason)
	if reason == "" {
		return UpstreamCancel{}, muster.Errorf(muster.EInvalid, "reason: say why the warning is lifted")
	}
	if len(p.Cancel.Refs) == 0 {
		return UpstreamCancel{}, muster.Errorf(muster.EInvalid, "cancel: name at least one upstream alert")
	}
	for _, r := range p.Cancel.Refs {
		if err := r.check(); err != nil {
			return UpstreamCancel{}, err
		}
		w, ok, err := upstreamWarning(tx, r)
		if err != nil {
			return UpstreamCancel{}, err
		}
		if ok && p.Purpose != "" {
			if err := samePurpose(&w, p.Purpose, "the cancellation"); err != nil {
				return UpstreamCancel{}, err // nothing changed
			}
			if c.RulesAtLeast(rulesCancelFollowsUpdates) {
				last, replaced, err := latestReplacement(tx, w)
				if err != nil {
					return UpstreamCancel{}, err
				}
				if replaced {
					if err := samePurpose(&last, p.Purpose, "the cancellation"); err != nil {
						return UpstreamCancel{}, err // nothing changed
					}
				}
			}
		}
	}
	out := UpstreamCancel{Lifted: []Warning{}}
	for _, r := range p.Cancel.Refs {
		sup := Supersession{Alert: r, By: p.Cancel.By, Action: SupersededCancelled, Reason: reason, Purpose: p.Purpose, At: c.Time}
		if err := noteSupersession(tx, c, sup); err != nil {
			return UpstreamCancel{}, err
		}
		w, ok, err := upstreamWarning(tx, r)
		if err != nil {
			return UpstreamCancel{}, err
		}
		if !ok {
			if !slices.Contains(out.Awaited, r) {
				out.Awaited = append(out.Awaited, r)
			}
			continue
		}
		chain := []Warning{w}
		if c.RulesAtLeast(rulesCancelFollowsUpdates) {
			last, replaced, err := latestReplacement(tx, w)
			if err != nil {
				return UpstreamCancel{}, err
			}
			if replaced {
				chain = append(chain, last)
			}
		}
		for _, w := range chain {
			if slices.ContainsFunc(out.Lifted, func(l Warning) bool { return l.ID == w.ID }) {
				continue
			}
			if w.Status == WarningActive {
				if c.RulesAtLeast(rulesCancelFollowsUpdates) {
					w.CancelledBy = &Supersession{Alert: r, By: p.Cancel.By, Action: SupersededCancelled, Reason: reason, Purpose: p.Purpose, At: c.Time}
				}
				if err := liftWarning(tx, &w, WarningLifted, c.Time, c.Actor, reason); err != nil {
					return UpstreamCancel{}, fmt.Errorf("lift %s: %w", w.ID, err)
				}
			}
			out.Lifted = append(out.Lifted, w)
		}
	}
	return out, nil
}

func applyWarningLift(tx *bolt.Tx, c *muster.Command) (any, error) {
	var p warningLift
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		return nil, muster.Errorf(muster.EInvalid, "lift warning: %v", err)
	}
	if p.Cancel != nil && p.Warning == "" && c.RulesAtLeast(rulesCAPOutOfOrder) {
		return applyUpstreamCancel(tx, c, &p)
	}
	w, err := getWarning(tx, p.Warning)
	if err != nil {
		return nil, err
	}
	if p.Purpose != "" && c.RulesAtLeast(rulesUpstreamOwnPurpose) {
		if err := samePurpose(&w, p.Purpose, "the cancellation"); err != nil {
			return nil, err
		}
	}
	if w.Status != WarningActive {
		return nil, muster.Errorf(muster.EConflict, "warning %s is already %s (at %s by %s)", w.ID, w.Status, w.LiftedAt.Format(time.RFC3339), w.LiftedBy)
	}
	reason := strings.TrimSpace(p.Reason)
	w.Status = WarningLifted
	if p.Expired {
		if w.Expires.IsZero() || c.Time.Before(w.Expires) {
			return nil, muster.Errorf(muster.EConflict, "warning %s has not expired (expires %s)", w.ID, formatExpires(w.Expires))
		}
		w.Status = WarningExpired
		if reason == "" {
			reason = expiredReason(c)
		}
	}
	if reason == "" {
		return nil, muster.Errorf(muster.EInvalid, "reason: say why the warning is lifted")
	}
	if err := liftWarning(tx, &w, w.Status, c.Time, c.Actor, reason); err != nil {
		return nil, err
	}
	return w, nil
}

// liftWarning ends w, which is in force, with status (lifted or expired) at
// t: its regions leave standby unless something else holds them.
func liftWarning(tx *bolt.Tx, w *Warning, status WarningStatus, t time.Time, actor, reason string) error {
	w.Status = status
	w.LiftedAt, w.LiftedBy, w.LiftReason = t, actor, reason
	for _, r := range w.Regions {
		if err := releaseStandby(tx, r, w.ID, t, actor, reason); err != nil {
			return fmt.Errorf("release %s: %w", r, err)
		}
	}
	if err := bucket(tx, bWarningsActive).Delete([]byte(w.ID)); err != nil {
		return err
	}
	return putJSON(bucket(tx, bWarnings), string(w.ID), *w)
}

func formatExpires(t time.Time) string {
	if t.IsZero() {
		return "never: it is in force until lifted"
	}
	return t.Format(time.RFC3339)
}

// suggestPlans lists, in plan ID order, the latest version of every plan
// whose scope covers all of w's regions and whose hazard is w's category
// when w has one, each at the level w's level maps to, or the nearest level
// the plan has (the more severe one on a tie).
func suggestPlans(tx *bolt.Tx, w *Warning) ([]Suggestion, error) {
	out := []Suggestion{}
	b := tx.Bucket(bPlans)
	if b == nil {
		return out, nil
	}
	var sums []PlanSummary
	err := b.ForEach(func(k, v []byte) error {
		var s PlanSummary
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("decode plan %s: %w", k, err)
		}
		sums = append(sums, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, s := range sums {
		if w.Category != "" && s.Hazard != w.Category {
			continue
		}
		covered := true
		for _, r := range w.Regions {
			if !slices.ContainsFunc(s.Scope, func(sc RegionCode) bool { return RegionUnder(r, sc) }) {
				covered = false
				break
			}
		}
		if !covered {
			continue
		}
		pv, err := getPlanVersion(tx, s.ID, s.Version)
		if err != nil {
			return nil, err
		}
		lvl := nearestLevel(pv.Plan, w.SuggestedLevel)
		if lvl == nil {
			continue
		}
		out = append(out, Suggestion{Plan: s.ID, Version: s.Version, Title: pv.Plan.Title, Hazard: pv.Plan.Hazard, Level: lvl.Code, LevelName: lvl.Name})
	}
	return out, nil
}

// nearestLevel returns p's level want, or the level of p nearest to it, the
// more severe one on a tie; nil if p has no levels.
func nearestLevel(p *Plan, want LevelCode) *Level {
	var best *Level
	dist := func(l *Level) int { return max(l.Code.Rank()-want.Rank(), want.Rank()-l.Code.Rank()) }
	for i := range p.Levels {
		l := &p.Levels[i]
		if best == nil || dist(l) < dist(best) || (dist(l) == dist(best) && l.Code.Rank() < best.Code.Rank()) {
			best = l
		}
	}
	return best
}

// heldResponses lists the activations already holding one of w's regions
// (or a region above or below one) in emergency when w is issued: the
// warning is answered from the start.
func heldResponses(tx *bolt.Tx, w *Warning, t time.Time) ([]WarningResponse, error) {
	var out []WarningResponse
	b := tx.Bucket(bModes)
	if b == nil {
		return out, nil
	}
	err := b.ForEach(func(k, v []byte) error {
		if !w.Overlaps(RegionCode(k)) {
			return nil
		}
		var m ModeRecord
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("decode mode of %s: %w", k, err)
		}
		for _, h := range m.Holds {
			if !slices.ContainsFunc(out, func(r WarningResponse) bool { return r.Activation == h.Activation }) {
				out = append(out, WarningResponse{Activation: h.Activation, Region: m.Region, Level: h.Level, At: t})
			}
		}
		return nil
	})
	slices.SortStableFunc(out, func(a, b WarningResponse) int { return strings.Compare(string(a.Activation), string(b.Activation)) })
	return out, err
}

// noteResponse records LIVE activation act, which has just started holding
// region at level, as a response to every LIVE warning in force that
// overlaps region, and to the EXERCISE and TEST ones too when anyPurpose
// (rules before rulesDrillAnswersDrillWarnings). It runs inside
// HoldEmergency.
func noteResponse(tx *bolt.Tx, region RegionCode, act ActivationID, level LevelCode, t time.Time, anyPurpose bool) error {
	return changeWarningsInForce(tx, func(w *Warning) bool {
		if !w.Overlaps(region) || (!anyPurpose && !w.HoldsRegions()) ||
			slices.ContainsFunc(w.Responses, func(r WarningResponse) bool { return r.Activation == act }) {
			return false
		}
		w.Responses = append(w.Responses, WarningResponse{Activation: act, Region: region, Level: level, At: t})
		return true
	})
}

// rulesDrillAnswersDrillWarnings is the behaviour (muster.Rules) from which
// an EXERCISE or TEST warning (an upstream drill's alert) is answered by a
// drill, an EXERCISE or TEST activation that starts over its regions, and
// not by a LIVE call-up; a LIVE warning is still answered by LIVE call-ups
// only. Under older rules only LIVE call-ups answered any warning, so an
// upstream exercise was marked NO RESPONSE until someone called people up
// for real.
const rulesDrillAnswersDrillWarnings = 9

// AnswerDrillWarnings records drill activation act (EXERCISE or TEST), which
// has just started over regions at level, as a response to every EXERCISE
// or TEST warning in force over, above or below one of them. A drill holds
// no region, so this is all its start does for warnings. It runs inside the
// activation's apply, c; under rules before rulesDrillAnswersDrillWarnings
// it does nothing (a drill answered no warning).
func AnswerDrillWarnings(tx *bolt.Tx, c *muster.Command, regions []RegionCode, act ActivationID, level LevelCode) error {
	if !c.RulesAtLeast(rulesDrillAnswersDrillWarnings) {
		return nil
	}
	return changeWarningsInForce(tx, func(w *Warning) bool {
		if w.HoldsRegions() || slices.ContainsFunc(w.Responses, func(r WarningResponse) bool { return r.Activation == act }) {
			return false
		}
		i := slices.IndexFunc(regions, w.Overlaps)
		if i < 0 {
			return false
		}
		w.Responses = append(w.Responses, WarningResponse{Activation: act, Region: regions[i], Level: level, At: c.Time})
		return true
	})
}

// drillResponses lists the responses that stand of the drill warnings an
// upstream update replaces, each activation once: the drills that answered
// them answer the update (rulesDrillAnswersDrillWarnings). Which drills are
// still running is notify's to know, so, unlike a LIVE call-up, a drill
// that has stood down is carried over too.
func drillResponses(replaced []Warning) []WarningResponse {
	var out []WarningResponse
	for _, old := range replaced {
		for _, r := range old.Responses {
			if r.Retracted.IsZero() && !slices.ContainsFunc(out, func(o WarningResponse) bool { return o.Activation == r.Activation }) {
				out = append(out, r)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b WarningResponse) int { return strings.Compare(string(a.Activation), string(b.Activation)) })
	return out
}

// RetractResponses marks activation act, retracted at t as sent in error,
// as no answer to the warnings in force it answered: those with no other
// response go back to awaiting one (and prompt the commander once their
// RespondBy has passed). It runs inside the retraction's apply.
func RetractResponses(tx *bolt.Tx, act ActivationID, t time.Time) error {
	return changeWarningsInForce(tx, func(w *Warning) bool {
		i := slices.IndexFunc(w.Responses, func(r WarningResponse) bool { return r.Activation == act })
		if i < 0 || !w.Responses[i].Retracted.IsZero() {
			return false
		}
		w.Responses[i].Retracted = t
		return true
	})
}

// changeWarningsInForce calls change with each warning in force, in ID
// order, and stores those it changed.
func changeWarningsInForce(tx *bolt.Tx, change func(w *Warning) bool) error {
	ab := tx.Bucket(bWarningsActive)
	if ab == nil {
		return nil
	}
	var ids []WarningID
	if err := ab.ForEach(func(k, _ []byte) error { ids = append(ids, WarningID(k)); return nil }); err != nil {
		return err
	}
	for _, id := range ids {
		w, err := getWarning(tx, id)
		if err != nil {
			return err
		}
		if !change(&w) {
			continue
		}
		if err := putJSON(bucket(tx, bWarnings), string(w.ID), w); err != nil {
			return err
		}
	}
	return nil
}

// ----- service -----

// WarningConfig configures a WarningService. Zero values take the defaults.
type WarningConfig struct {
	Clock muster.Clock // default muster.SystemClock
	// ResponseTimeout is how long an orange or red warning issued through
	// this service may go without an activation before the commander is
	// prompted (default DefaultWarningResponseTimeout). It is stamped into
	// each warning when issued, so every node agrees on its deadline.
	ResponseTimeout time.Duration
}

// WarningService issues, lifts, lists and expires warnings, and tells which
// ones went unanswered. It holds no state of its own.
type WarningService struct {
	apply   Applier
	view    Viewer
	clock   muster.Clock
	timeout time.Duration
}

// NewWarningService returns a WarningService over a replicated state.
func NewWarningService(a Applier, v Viewer, cfg WarningConfig) *WarningService {
	if cfg.Clock == nil {
		cfg.Clock = muster.SystemClock{}
	}
	if cfg.ResponseTimeout <= 0 {
		cfg.ResponseTimeout = DefaultWarningResponseTimeout
	}
	return &WarningService{apply: a, view: v, clock: cfg.Clock, timeout: cfg.ResponseTimeout}
}

// WarningInput is a warning as a client sends it. Level takes red, orange,
// yellow, blue or 红/橙/黄/蓝; Category a hazard category in Chinese or
// English. Expires (an absolute time) or ExpiresIn (from now, by the
// server's clock) may be given, not both; without either the warning is in
// force until lifted.
type WarningInput struct {
	Regions     []RegionCode `json:"regions"`
	Level       string       `json:"level"`
	Event       string       `json:"event"`
	Headline    string       `json:"headline"`
	Description string       `json:"description,omitempty"`
	// EventEN, HeadlineEN and DescriptionEN are the texts for English
	// readers, optional; a headline or description needs an English
	// event unless the event names a meteorological warning signal.
	EventEN       string    `json:"event_en,omitempty"`
	HeadlineEN    string    `json:"headline_en,omitempty"`
	DescriptionEN string    `json:"description_en,omitempty"`
	Category      string    `json:"category,omitempty"`
	CAPCategory   string    `json:"cap_category,omitempty"`
	Source        string    `json:"source,omitempty"` // default "api"
	Expires       time.Time `json:"expires,omitzero"`
	ExpiresIn     Duration  `json:"expires_in,omitempty"`
}

// Issue checks in and issues the warning: its regions go into standby
// (those in emergency stay there), and the result carries the suggested
// plans and level. Without a category, the warning takes the one its CAP
// category or event names (hazardOfEvent), and the CAP category its event
// names. A bad level, region, category or an expiry not in the
// future is EInvalid, and so is a region named with one it lies within
// (name only the larger, as for an activation), and an event or headline
// (Chinese or English) with an exercise mark (checkLiveMarks): the warning
// is LIVE.
func (s *WarningService) Issue(ctx context.Context, actor string, in WarningInput) (Warning, error) {
	now := s.clock.Now()
	p := warningIssue{Event: in.Event, Headline: in.Headline, Description: in.Description,
		EventEN: in.EventEN, HeadlineEN: in.HeadlineEN, DescriptionEN: in.DescriptionEN,
		Source: strings.TrimSpace(in.Source), ResponseTimeout: Duration(s.timeout)}
	if err := in.checkEnglishInput(); err != nil {
		return Warning{}, err
	}
	for _, f := range []struct {
		field, text string
		lines       bool
	}{{"event", in.Event, false}, {"headline", in.Headline, false}, {"description", in.Description, true}} {
		if err := muster.CheckPlainText(f.field, f.text, f.lines); err != nil {
			return Warning{}, err
		}
	}
	if err := checkLiveMarks("", markedText{"event", in.Event}, markedText{"headline", in.Headline},
		markedText{"event_en", in.EventEN}, markedText{"headline_en", in.HeadlineEN}); err != nil {
		return Warning{}, err
	}
	var err error
	if p.Level, err = ParseWarningLevel(in.Level); err != nil {
		return Warning{}, err
	}
	for _, r := range in.Regions {
		if r = RegionCode(strings.TrimSpace(string(r))); r != "" {
			p.Regions = append(p.Regions, r)
		}
	}
	if strings.TrimSpace(in.Category) != "" {
		if p.Category, err = ParseHazard(in.Category); err != nil {
			return Warning{}, err
		}
	}
	if strings.TrimSpace(in.CAPCategory) != "" {
		if p.CAPCategory, err = ParseCAPCategory(in.CAPCategory); err != nil {
			return Warning{}, err
		}
	}
	// Without a category, the one its CAP category or its event names
	// (暴雨: 自然灾害, Met): a rainstorm must not suggest the hazmat plan.
	if p.Category == "" {
		p.Category = hazardOfCAPCategory(p.CAPCategory)
	}
	if h, capCat := hazardOfEvent(in.Event); h != "" {
		if p.Category == "" {
			p.Category = h
		}
		if p.CAPCategory == "" && p.Category == h {
			p.CAPCategory = capCat
		}
	}
	if p.Source == "" {
		p.Source = "api"
	}
	// Named with a region that contains it, a region would make the
	// suggested activation one that is refused.
	err = s.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		if r, above, ok := WithinAnother(NewRegionReader(tx), p.Regions); ok {
			return muster.Errorf(muster.EInvalid, "regions: %s lies within %s, also named: name only %s (a warning covers everything under its regions)", r, above, above)
		}
		return nil
	})
	if err != nil {
		return Warning{}, err
	}
	switch {
	case !in.Expires.IsZero() && in.ExpiresIn != 0:
		return Warning{}, muster.Errorf(muster.EInvalid, "expires and expires_in: give one, not both")
	case in.ExpiresIn < 0:
		return Warning{}, muster.Errorf(muster.EInvalid, "expires_in %s: want a positive duration such as 6h", in.ExpiresIn)
	case in.ExpiresIn > 0:
		p.Expires = now.Add(in.ExpiresIn.Std()).UTC().Truncate(time.Second)
	case !in.Expires.IsZero():
		if !in.Expires.After(now) {
			return Warning{}, muster.Errorf(muster.EInvalid, "expires %s is in the past (server time %s): give a later time or a duration such as 6h",
				in.Expires.Format(time.RFC3339), now.Format(time.RFC3339))
		}
		p.Expires = in.Expires.UTC()
	}
	if err := p.check(); err != nil {
		return Warning{}, err
	}
	if err := p.checkEnglish(); err != nil {
		return Warning{}, err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return Warning{}, err
	}
	var w Warning
	if err := s.apply.Apply(ctx, &muster.Command{Type: CmdWarningIssue, Actor: actor, Payload: b}, &w); err != nil {
		return Warning{}, err
	}
	return w.At(s.clock.Now()), nil
}

// UpstreamWarning is an alert of an upstream service, such as a
// meteorological bureau's CAP feed, read into muster's terms to become a
// warning.
type UpstreamWarning struct {
	Alert    UpstreamRef    // the same sender and identifier again is the same warning
	Source   string         // the warning's Source, such as "cap:sender,identifier,sent"
	Purpose  WarningPurpose // LIVE, EXERCISE or TEST; "" is LIVE
	Replaces []UpstreamRef  // earlier alerts this one updates, of its purpose: their warnings in force are lifted
	Regions  []RegionCode   // the alert's region codes (statistical codes padded with 000 too); those muster does not have are left out
	Level    WarningLevel
	// Texts longer than MaxWarningEvent, MaxWarningHeadline and
	// MaxWarningDescription are cut; Headline defaults to Event.
	Event, Headline, Description string
	// EventEN, HeadlineEN and DescriptionEN are the alert's en-US
	// block's texts, when it has one; cut as the Chinese ones.
	EventEN, HeadlineEN, DescriptionEN string

	CAPCategory CAPCategory // optional; also picks the hazard category that narrows the suggested plans
	Expires     time.Time   // zero: in force until lifted or cancelled
}

// Import turns an upstream alert into a warning, as Issue does, once: an
// alert with the same sender and identifier as one imported before returns
// the warning it became (Created false) whatever it says now, which the
// state machine decides, so concurrent imports of one alert agree. An alert
// that updates earlier ones (Replaces) lifts their warnings in force in the
// same step, and keeps the earlier RespondBy of one still awaiting a
// response; if it names a warning of another purpose (a TEST alert updating
// a LIVE one) nothing is imported and it is EConflict. A region code
// muster does not have names the region it has without trailing groups of
// 000 (a padded statistical code: 990105000000 is 990105); codes that name
// none are left out and listed in Ignored as given, and so are those within
// another of the alert's regions, which covers them, listed in Covered; none
// left, an unknown level, an expiry already passed or a LIVE alert whose
// event or headline carries an exercise mark (checkLiveMarks) is EInvalid.
//
// From rulesCAPOutOfOrder an Update remembers every alert it replaces,
// arrived or not, and CancelUpstreamAlert every alert it cancels: an alert
// that arrives after an Update replaced it creates no warning and returns
// the Update's warning as it stands (Created false, SupersededBy set), and
// one that arrives after a Cancel of it is created lifted, putting no
// region in standby (Created true, SupersededBy set).
func (s *WarningService) Import(ctx context.Context, actor string, in UpstreamWarning) (WarningImport, error) {
	now := s.clock.Now()
	if err := in.Alert.check(); err != nil {
		return WarningImport{}, err
	}
	var (
		out   WarningImport
		found bool
		known []RegionCode
	)
	err := s.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		w, ok, err := upstreamWarning(tx, in.Alert)
		if err != nil || ok {
			out.Warning, found = w, ok
			return err
		}
		given := map[RegionCode][]RegionCode{} // a region's codes as the alert gave them
		for _, r := range in.Regions {
			if r = RegionCode(strings.TrimSpace(string(r))); r == "" {
				continue
			}
			code, ok, err := paddedRegion(tx, r)
			if err != nil {
				return err
			}
			if ok {
				known = append(known, code)
				given[code] = append(given[code], r)
			} else {
				out.Ignored = append(out.Ignored, r)
			}
		}
		// A geocode within another of the alert's is covered by it: the
		// warning names the larger, as an activation must. Covered
		// lists the codes as given, as Ignored does.
		slices.Sort(known)
		var covered []RegionCode
		known, covered = outermostRegions(NewRegionReader(tx), slices.Compact(known))
		for _, c := range covered {
			out.Covered = append(out.Covered, given[c]...)
		}
		slices.Sort(out.Covered)
		out.Covered = slices.Compact(out.Covered)
		return nil
	})
	if err != nil {
		return WarningImport{}, err
	}
	if found {
		out.Warning = out.Warning.At(now)
		return out, nil
	}
	slices.Sort(out.Ignored)
	out.Ignored = slices.Compact(out.Ignored)
	if len(known) == 0 && len(out.Ignored) == 0 {
		return WarningImport{}, muster.Errorf(muster.EInvalid, "regions: the alert names no region code: muster needs at least one of its regions")
	}
	if len(known) == 0 {
		return WarningImport{}, muster.Errorf(muster.EInvalid, "regions: none of the alert's region codes (%s) exists in muster: check the feed's geocodes against the region tree",
			joinStrings(out.Ignored, ", "))
	}
	if !in.Level.Valid() {
		return WarningImport{}, muster.Errorf(muster.EInvalid, "level %q: want red, orange, yellow or blue", in.Level)
	}
	event := strings.TrimSpace(in.Event)
	p := warningIssue{Regions: known, Level: in.Level, Event: clipText(event, MaxWarningEvent),
		Headline:      clipText(cmp.Or(strings.TrimSpace(in.Headline), event), MaxWarningHeadline),
		Description:   clipText(strings.TrimSpace(in.Description), MaxWarningDescription),
		EventEN:       clipText(strings.TrimSpace(in.EventEN), MaxWarningEvent),
		HeadlineEN:    clipText(strings.TrimSpace(in.HeadlineEN), MaxWarningHeadline),
		DescriptionEN: clipText(strings.TrimSpace(in.DescriptionEN), MaxWarningDescription),
		CAPCategory:   in.CAPCategory, Category: hazardOfCAPCategory(in.CAPCategory), Source: in.Source,
		ResponseTimeout: Duration(s.timeout), Purpose: cmp.Or(in.Purpose, WarningLive),
		Upstream: &in.Alert, Replaces: in.Replaces}
	for _, r := range out.Ignored {
		if len(p.Ignored) < MaxIgnoredGeocodes && len(r) <= MaxUpstreamRef {
			p.Ignored = append(p.Ignored, r)
		}
	}
	if !in.Expires.IsZero() {
		if !in.Expires.After(now) {
			return WarningImport{}, muster.Errorf(muster.EInvalid, "expires %s has passed (server time %s): the alert is no longer in force",
				in.Expires.Format(time.RFC3339), now.Format(time.RFC3339))
		}
		p.Expires = in.Expires.UTC()
	}
	if err := p.check(); err != nil {
		return WarningImport{}, err
	}
	if p.Purpose == WarningLive {
		if err := checkLiveMarks("but the alert's status is Actual", markedText{"event", p.Event}, markedText{"headline", p.Headline},
			markedText{"en-US event", p.EventEN}, markedText{"en-US headline", p.HeadlineEN}); err != nil {
			return WarningImport{}, err
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return WarningImport{}, err
	}
	var res WarningImport
	if err := s.apply.Apply(ctx, &muster.Command{Type: CmdWarningIssue, Actor: actor, Payload: b}, &res); err != nil {
		return WarningImport{}, err
	}
	res.Warning = res.Warning.At(s.clock.Now())
	if res.Created {
		res.Ignored, res.Covered = out.Ignored, out.Covered
	}
	return res, nil
}

// paddedRegion returns the region code names: itself if muster has it, or
// else the code without trailing groups of 000, as a statistical division
// code (统计用区划代码: 6 digits of county, 3 of street, 3 of community)
// pads a district or a street to 12 digits, or to 15: 990105000000 is
// district 990105, 990105004000 street 990105004. ok is false when neither
// exists.
func paddedRegion(tx *bolt.Tx, code RegionCode) (RegionCode, bool, error) {
	for c := code; ; c = c[:len(c)-3] {
		_, ok, err := getRegion(tx, c)
		if err != nil || ok {
			return c, ok, err
		}
		if len(c) <= 6 || len(c)%3 != 0 || !strings.HasSuffix(string(c), "000") {
			return code, false, nil
		}
	}
}

// LiftUpstream is CancelUpstream for a cancellation whose purpose is not
// known: it lifts the warnings refs became whatever their purpose. Callers
// that have the cancellation's CAP status should use CancelUpstream, which
// keeps a test or exercise cancellation off a LIVE warning.
func (s *WarningService) LiftUpstream(ctx context.Context, actor string, refs []UpstreamRef, reason string) ([]Warning, error) {
	out, err := s.cancelUpstream(ctx, actor, "", UpstreamRef{}, refs, reason)
	return out.Lifted, err
}

// CancelUpstream lifts the warnings that the upstream alerts refs became, as
// their sender's cancellation of the given purpose (its CAP status: Actual
// LIVE, Exercise EXERCISE, Test TEST) asks, each with reason. A warning
// already lifted or expired is returned as it stands, so a cancellation
// received twice gets the same answer. From rulesCAPOutOfOrder, alerts that
// never became a warning are remembered as cancelled (see
// CancelUpstreamAlert) and the list may be empty; under older rules they
// are skipped, and if none became a warning it is ENotFound. If any of them
// became a warning of another purpose (a test cancellation naming a LIVE
// warning), nothing is lifted and it is EConflict; an invalid purpose is
// EInvalid.
func (s *WarningService) CancelUpstream(ctx context.Context, actor string, purpose WarningPurpose, refs []UpstreamRef, reason string) ([]Warning, error) {
	out, err := s.CancelUpstreamAlert(ctx, actor, purpose, UpstreamRef{}, refs, reason)
	return out.Lifted, err
}

// CancelUpstreamAlert is CancelUpstream for the Cancel message by (zero
// when not known), returning the alerts not yet arrived as well: from
// rulesCAPOutOfOrder every alert of refs is remembered as cancelled by it,
// in the same step that lifts the warnings they became, so one that arrives
// later is created lifted and puts no region in standby (Awaited lists
// them).
func (s *WarningService) CancelUpstreamAlert(ctx context.Context, actor string, purpose WarningPurpose, by UpstreamRef, refs []UpstreamRef, reason string) (UpstreamCancel, error) {
	if !purpose.Valid() {
		return UpstreamCancel{}, muster.Errorf(muster.EInvalid, "purpose %q: want LIVE, EXERCISE or TEST", purpose)
	}
	return s.cancelUpstream(ctx, actor, purpose, by, refs, reason)
}

func (s *WarningService) cancelUpstream(ctx context.Context, actor string, purpose WarningPurpose, by UpstreamRef, refs []UpstreamRef, reason string) (UpstreamCancel, error) {
	// A reason no lift takes is said so here: left to the lifts, a
	// cancellation of alerts not yet arrived would answer ENotFound and
	// be forgotten.
	if strings.TrimSpace(reason) == "" {
		return UpstreamCancel{}, muster.Errorf(muster.EInvalid, "reason: say why the warning is lifted")
	}
	if err := muster.CheckPlainText("reason", reason, false); err != nil {
		return UpstreamCancel{}, err
	}
	if len(refs) > 0 {
		b, err := json.Marshal(warningLift{Reason: reason, Purpose: purpose, Cancel: &upstreamCancel{By: by, Refs: refs}})
		if err != nil {
			return UpstreamCancel{}, err
		}
		var out UpstreamCancel
		err = s.apply.Apply(ctx, &muster.Command{Type: CmdWarningLift, Actor: actor, Payload: b}, &out)
		if err == nil {
			now := s.clock.Now()
			for i := range out.Lifted {
				out.Lifted[i] = out.Lifted[i].At(now)
			}
			return out, nil
		}
		if !muster.IsCode(err, muster.ENotFound) {
			return UpstreamCancel{}, err
		}
		// Under rules before rulesCAPOutOfOrder the state machine takes
		// no cancellation as one step: lift warning by warning.
	}
	lifted, err := s.liftUpstreamEach(ctx, actor, purpose, refs, reason)
	return UpstreamCancel{Lifted: lifted}, err
}

// liftUpstreamEach is the cancellation under rules before
// rulesCAPOutOfOrder: one lift per warning refs became, ENotFound if none.
func (s *WarningService) liftUpstreamEach(ctx context.Context, actor string, purpose WarningPurpose, refs []UpstreamRef, reason string) ([]Warning, error) {
	var ids []WarningID
	err := s.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		for _, r := range refs {
			w, ok, err := upstreamWarning(tx, r)
			if err != nil {
				return err
			}
			if !ok || slices.Contains(ids, w.ID) {
				continue
			}
			if purpose != "" {
				if err := samePurpose(&w, purpose, "the cancellation"); err != nil {
					return err // nothing lifted
				}
			}
			ids = append(ids, w.ID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		names := make([]string, len(refs))
		for i, r := range refs {
			names[i] = r.Sender + "," + r.Identifier
		}
		return nil, muster.Errorf(muster.ENotFound, "no warning was imported from %s: nothing to lift", strings.Join(names, " "))
	}
	out := make([]Warning, 0, len(ids))
	for _, id := range ids {
		w, err := s.lift(ctx, actor, warningLift{Warning: id, Reason: reason, Purpose: purpose})
		if muster.IsCode(err, muster.EConflict) { // lifted or expired already, or of another purpose
			if now, rerr := s.Warning(ctx, muster.Default, id); rerr == nil && now.Status != WarningActive && (purpose == "" || now.PurposeOrLive() == purpose) {
				w, err = now, nil
			}
		}
		if err != nil {
			return out, err
		}
		out = append(out, w)
	}
	return out, nil
}

// hazardOfCAPCategory is the hazard category an upstream alert's CAP
// category stands for, or "" when it could be more than one (Safety,
// Rescue, Env, Other): then no plan is left out of the suggestions.
func hazardOfCAPCategory(c CAPCategory) Hazard {
	switch c {
	case CAPMet, CAPGeo:
		return HazardNatural
	case CAPFire, CAPCBRNE, CAPTransport, CAPInfra:
		return HazardAccident
	case CAPHealth:
		return HazardPublicHealth
	case CAPSecurity:
		return HazardSocialSecurity
	}
	return ""
}

// clipText cuts s to at most max characters, ending it with … when cut.
func clipText(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return truncate(s, max-1)
}

// Lift lifts a warning in force: its regions leave standby unless another
// warning or an activation holds them. A lifted or expired warning is
// EConflict; an empty reason EInvalid.
func (s *WarningService) Lift(ctx context.Context, actor string, id WarningID, reason string) (Warning, error) {
	return s.lift(ctx, actor, warningLift{Warning: id, Reason: reason})
}

// lift checks p's reason and applies p.
func (s *WarningService) lift(ctx context.Context, actor string, p warningLift) (Warning, error) {
	if strings.TrimSpace(p.Reason) == "" {
		return Warning{}, muster.Errorf(muster.EInvalid, "reason: say why the warning is lifted")
	}
	if err := muster.CheckPlainText("reason", p.Reason, false); err != nil {
		return Warning{}, err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return Warning{}, err
	}
	var w Warning
	if err := s.apply.Apply(ctx, &muster.Command{Type: CmdWarningLift, Actor: actor, Payload: b}, &w); err != nil {
		return Warning{}, err
	}
	return w.At(s.clock.Now()), nil
}

// Warning returns one warning as it stands now.
func (s *WarningService) Warning(ctx context.Context, level muster.Consistency, id WarningID) (Warning, error) {
	var w Warning
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		var err error
		w, err = getWarning(tx, id)
		return err
	})
	return w.At(s.clock.Now()), err
}

// WarningFilter narrows a warning list. Active keeps warnings in force
// now; Unanswered keeps those that prompt the commander (see Warning.At).
type WarningFilter struct {
	Active     bool
	Unanswered bool
}

// Warnings lists warnings in ID order (oldest first) as they stand now.
func (s *WarningService) Warnings(ctx context.Context, level muster.Consistency, f WarningFilter, page Page) (List[Warning], error) {
	out := List[Warning]{Items: []Warning{}}
	limit := page.limit()
	now := s.clock.Now()
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		index := bWarnings
		if f.Active || f.Unanswered {
			index = bWarningsActive
		}
		b := tx.Bucket(index)
		if b == nil {
			return nil
		}
		cur := b.Cursor()
		for k, _ := cur.Seek([]byte(page.After)); k != nil; k, _ = cur.Next() {
			if string(k) == page.After {
				continue
			}
			w, err := getWarning(tx, WarningID(k))
			if err != nil {
				return err
			}
			w = w.At(now)
			if (f.Active && w.Status != WarningActive) || (f.Unanswered && !w.Prompt) {
				continue
			}
			if len(out.Items) == limit {
				out.Next = string(out.Items[limit-1].ID)
				break
			}
			out.Items = append(out.Items, w)
		}
		return nil
	})
	return out, err
}

// ExpireDue lifts, as expired, every warning in force whose expiry has
// passed by the service's clock, and returns how many it lifted. The lift
// command is refused if by the leader's stamped time the warning has not
// expired, so a node with a fast clock cannot expire one early.
func (s *WarningService) ExpireDue(ctx context.Context) (int, error) {
	now := s.clock.Now()
	var due []WarningID
	err := s.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		ab := tx.Bucket(bWarningsActive)
		if ab == nil {
			return nil
		}
		return ab.ForEach(func(k, _ []byte) error {
			w, err := getWarning(tx, WarningID(k))
			if err != nil {
				return err
			}
			if !w.Expires.IsZero() && !now.Before(w.Expires) {
				due = append(due, w.ID)
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range due {
		// No reason: the state machine writes the expiry's own
		// (expiredReason), under the rules of the command.
		b, _ := json.Marshal(warningLift{Warning: id, Expired: true})
		err := s.apply.Apply(ctx, &muster.Command{Type: CmdWarningLift, Actor: "warning-expiry", Payload: b}, nil)
		switch {
		case err == nil:
			n++
		case muster.IsCode(err, muster.EConflict): // lifted meanwhile, or not yet due by the leader's clock
		default:
			return n, err
		}
	}
	return n, nil
}

// RunExpiry calls ExpireDue every interval until ctx is done. It is a
// leader-only service: run it from the node's leader hook.
func (s *WarningService) RunExpiry(ctx context.Context, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := s.ExpireDue(ctx)
			if err != nil && ctx.Err() == nil {
				logger.Warn("expiring warnings failed", "err", err)
			}
			if n > 0 {
				logger.Info("expired warnings lifted", "count", n)
			}
		}
	}
}

// warningCollector exposes the warnings in force on this node's state.
type warningCollector struct {
	s                  *WarningService
	active, unanswered *prometheus.Desc
}

// Collector returns a Prometheus collector read from this node's local
// state at each scrape: muster_warnings_active{level} counts the LIVE
// warnings in force, and muster_warnings_unanswered the LIVE orange and
// red warnings whose response time has passed with no activation over
// their regions (the warning-without-response prompt). EXERCISE and TEST
// warnings are not counted.
func (s *WarningService) Collector() prometheus.Collector {
	return &warningCollector{s: s,
		active:     prometheus.NewDesc("muster_warnings_active", "LIVE warnings in force, by level.", []string{"level"}, nil),
		unanswered: prometheus.NewDesc("muster_warnings_unanswered", "LIVE orange and red warnings past their response time with no activation over their regions.", nil, nil),
	}
}

func (c *warningCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.active
	ch <- c.unanswered
}

func (c *warningCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	byLevel := map[WarningLevel]int{}
	unanswered := 0
	page := Page{Limit: MaxPageLimit}
	for {
		l, err := c.s.Warnings(ctx, muster.Stale, WarningFilter{Active: true}, page)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(c.active, err)
			return
		}
		for _, w := range l.Items {
			if !w.HoldsRegions() {
				continue // a drill's warning: nothing for operators to answer
			}
			byLevel[w.Level]++
			if w.Prompt {
				unanswered++
			}
		}
		if l.Next == "" {
			break
		}
		page.After = l.Next
	}
	for _, level := range WarningLevels() {
		ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(byLevel[level]), string(level))
	}
	ch <- prometheus.MustNewConstMetric(c.unanswered, prometheus.GaugeValue, float64(unanswered))
}
