package plans

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"muster"
)

// PlanID identifies an emergency plan (应急预案). It is chosen by the plan's
// author, matches [a-z0-9-]{2,64} and stays the same across versions.
type PlanID string

// planIDPattern is the accepted shape of a PlanID.
var planIDPattern = regexp.MustCompile(`^[a-z0-9-]{2,64}$`)

// Valid reports whether id has the accepted shape.
func (id PlanID) Valid() bool { return planIDPattern.MatchString(string(id)) }

// Hazard is the category of emergency a plan responds to (突发事件类别).
// Canonical values are the Chinese names below.
type Hazard string

// Hazard categories of the Emergency Response Law.
const (
	HazardNatural        Hazard = "自然灾害" // natural disaster
	HazardAccident       Hazard = "事故灾难" // accident
	HazardPublicHealth   Hazard = "公共卫生" // public health event
	HazardSocialSecurity Hazard = "社会安全" // social security event
)

// Hazards lists the canonical hazard categories in the order the law gives them.
func Hazards() []Hazard {
	return []Hazard{HazardNatural, HazardAccident, HazardPublicHealth, HazardSocialSecurity}
}

var hazardNames = map[string]Hazard{
	"自然灾害": HazardNatural, "natural": HazardNatural, "natural_disaster": HazardNatural,
	"事故灾难": HazardAccident, "accident": HazardAccident,
	"公共卫生": HazardPublicHealth, "公共卫生事件": HazardPublicHealth, "public_health": HazardPublicHealth,
	"社会安全": HazardSocialSecurity, "社会安全事件": HazardSocialSecurity, "social_security": HazardSocialSecurity,
}

// ParseHazard accepts a hazard category in Chinese (自然灾害, 事故灾难, 公共卫生,
// 社会安全, with or without 事件) or English (natural, accident, public_health,
// social_security) and returns the canonical Chinese value. Anything else is
// an EInvalid error.
func ParseHazard(s string) (Hazard, error) {
	if h, ok := hazardNames[strings.ToLower(strings.TrimSpace(s))]; ok {
		return h, nil
	}
	return "", muster.Errorf(muster.EInvalid, "hazard %q: want 自然灾害, 事故灾难, 公共卫生 or 社会安全 (natural, accident, public_health, social_security)", s)
}

// CAPCategory is a CAP 1.2 <category> value.
type CAPCategory string

// CAP 1.2 categories.
const (
	CAPGeo       CAPCategory = "Geo"
	CAPMet       CAPCategory = "Met"
	CAPSafety    CAPCategory = "Safety"
	CAPSecurity  CAPCategory = "Security"
	CAPRescue    CAPCategory = "Rescue"
	CAPFire      CAPCategory = "Fire"
	CAPHealth    CAPCategory = "Health"
	CAPEnv       CAPCategory = "Env"
	CAPTransport CAPCategory = "Transport"
	CAPInfra     CAPCategory = "Infra"
	CAPCBRNE     CAPCategory = "CBRNE"
	CAPOther     CAPCategory = "Other"
)

// CAPCategories lists the CAP 1.2 categories in the order the standard gives them.
func CAPCategories() []CAPCategory {
	return []CAPCategory{CAPGeo, CAPMet, CAPSafety, CAPSecurity, CAPRescue, CAPFire,
		CAPHealth, CAPEnv, CAPTransport, CAPInfra, CAPCBRNE, CAPOther}
}

// ParseCAPCategory accepts a CAP 1.2 category in any letter case and returns
// its canonical spelling (Met, CBRNE, ...). Anything else is an EInvalid error.
func ParseCAPCategory(s string) (CAPCategory, error) {
	t := strings.TrimSpace(s)
	for _, c := range CAPCategories() {
		if strings.EqualFold(t, string(c)) {
			return c, nil
		}
	}
	return "", muster.Errorf(muster.EInvalid, "cap_category %q: want one of %s", s, joinStrings(CAPCategories(), ", "))
}

// LevelCode is a response level (响应级别): I is the most severe (特别重大),
// IV the least (一般). Canonical values are the ASCII numerals I, II, III, IV.
type LevelCode string

// Response levels, most severe first.
const (
	LevelI   LevelCode = "I"
	LevelII  LevelCode = "II"
	LevelIII LevelCode = "III"
	LevelIV  LevelCode = "IV"
)

// LevelCodes lists the response levels, most severe first.
func LevelCodes() []LevelCode { return []LevelCode{LevelI, LevelII, LevelIII, LevelIV} }

var levelNames = map[string]LevelCode{
	"i": LevelI, "ⅰ": LevelI, "Ⅰ": LevelI, "1": LevelI, "一": LevelI, "一级": LevelI, "ⅰ级": LevelI, "Ⅰ级": LevelI, "i级": LevelI,
	"ii": LevelII, "ⅱ": LevelII, "Ⅱ": LevelII, "2": LevelII, "二": LevelII, "二级": LevelII, "ⅱ级": LevelII, "Ⅱ级": LevelII, "ii级": LevelII,
	"iii": LevelIII, "ⅲ": LevelIII, "Ⅲ": LevelIII, "3": LevelIII, "三": LevelIII, "三级": LevelIII, "ⅲ级": LevelIII, "Ⅲ级": LevelIII, "iii级": LevelIII,
	"iv": LevelIV, "ⅳ": LevelIV, "Ⅳ": LevelIV, "4": LevelIV, "四": LevelIV, "四级": LevelIV, "ⅳ级": LevelIV, "Ⅳ级": LevelIV, "iv级": LevelIV,
}

// ParseLevelCode accepts I–IV in ASCII or Roman-numeral characters (Ⅰ–Ⅳ), the
// digits 1–4 or 一级–四级, and returns the canonical code. Anything else is an
// EInvalid error.
func ParseLevelCode(s string) (LevelCode, error) {
	t := strings.TrimSpace(s)
	if c, ok := levelNames[t]; ok {
		return c, nil
	}
	if c, ok := levelNames[strings.ToLower(t)]; ok {
		return c, nil
	}
	return "", muster.Errorf(muster.EInvalid, "level %q: want I, II, III or IV (Ⅰ–Ⅳ, 1–4)", s)
}

// Rank is 1 for I (most severe) to 4 for IV, and 0 for an unknown code.
func (c LevelCode) Rank() int {
	if i := slices.Index(LevelCodes(), c); i >= 0 {
		return i + 1
	}
	return 0
}

// Valid reports whether c is one of I, II, III, IV.
func (c LevelCode) Valid() bool { return c.Rank() > 0 }

// DefaultName is the level's statutory name: 特别重大, 重大, 较大 or 一般.
func (c LevelCode) DefaultName() string {
	return [...]string{"", "特别重大", "重大", "较大", "一般"}[c.Rank()]
}

// EnglishName is the level's name in English, for English messages.
func (c LevelCode) EnglishName() string {
	return [...]string{"", "especially serious", "serious", "relatively serious", "general"}[c.Rank()]
}

// Numeral is the level as a Roman-numeral character (Ⅰ–Ⅳ) for Chinese text,
// or as ASCII (I–IV) for English text, which keeps English SMS in GSM-7.
func (c LevelCode) Numeral(lang Language) string {
	if lang == LangEN || !c.Valid() {
		return string(c)
	}
	return [...]string{"", "Ⅰ", "Ⅱ", "Ⅲ", "Ⅳ"}[c.Rank()]
}

// CAPSeverity is the CAP 1.2 severity for the level: Extreme, Severe,
// Moderate or Minor ("Unknown" for an unknown code).
func (c LevelCode) CAPSeverity() string {
	return [...]string{"Unknown", "Extreme", "Severe", "Moderate", "Minor"}[c.Rank()]
}

// DefaultApprovals is how many people must approve a LIVE activation at this
// level when the plan does not say: 2 for I and II (the person who starts it
// and a second one), 1 for III and IV.
func (c LevelCode) DefaultApprovals() int {
	if c == LevelI || c == LevelII {
		return 2
	}
	return 1
}

// MaxApprovals bounds Level.Approvals.
const MaxApprovals = 5

// EscalationAction is what an escalation step does for a recipient who has
// not acknowledged yet.
type EscalationAction string

// Escalation actions.
const (
	EscalateSMS      EscalationAction = "sms"      // send the SMS again
	EscalateVoice    EscalationAction = "voice"    // place a voice call with the voice template
	EscalateBackup   EscalationAction = "backup"   // call up the person's backup (Person.Backup)
	EscalateSuperior EscalationAction = "superior" // call the superior / grid leader (叫应 escalation)
)

// EscalationActions lists the known actions.
func EscalationActions() []EscalationAction {
	return []EscalationAction{EscalateSMS, EscalateVoice, EscalateBackup, EscalateSuperior}
}

// Reach says whose grids a role slot draws from when a plan is activated.
type Reach string

// Reaches.
const (
	// ReachActivation (the default) draws only from people whose grid lies in
	// the regions the activation covers: grid workers, local teams.
	ReachActivation Reach = "activation"
	// ReachPlan draws from the whole plan scope whatever regions are
	// activated: city headquarters, city-wide teams.
	ReachPlan Reach = "plan"
)

// Duration is a time.Duration that reads and writes as Go duration text
// ("15m", "1h30m") in JSON.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d like time.Duration without trailing zero units: 15m, 1h, 1h30m, 90s.
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string ("15m") or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		n, err2 := strconv.ParseInt(string(b), 10, 64)
		if err2 != nil {
			return fmt.Errorf("duration: want text like \"15m\": %w", err)
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// Period is a calendar span of whole years, months and days: how often a
// plan must be drilled. It reads and writes as text such as 3y, 18mo, 90d
// or 1y6mo, and adds to a time by the calendar (AddTo), so 1y after
// 2026-03-15 is 2027-03-15 whatever the leap years.
type Period struct {
	Years  int
	Months int
	Days   int
}

// Default drill intervals: at least one exercise of the full plan every
// three years (2013 预案管理办法 Art. 22) and a notification drill every year.
var (
	DefaultFullDrillInterval         = Period{Years: 3}
	DefaultNotificationDrillInterval = Period{Years: 1}
)

// MaxDrillInterval bounds a plan's drill intervals.
var MaxDrillInterval = Period{Years: 10}

// periodUnits are the unit words ParsePeriod accepts, longest first within
// each unit so that "months" is not read as "mo" followed by "nths".
var periodUnits = []struct {
	word string
	unit int // 0 years, 1 months, 2 days
}{
	{"years", 0}, {"year", 0}, {"yr", 0}, {"y", 0}, {"年", 0},
	{"months", 1}, {"month", 1}, {"mo", 1}, {"个月", 1}, {"月", 1},
	{"days", 2}, {"day", 2}, {"d", 2}, {"天", 2}, {"日", 2},
}

// ParsePeriod reads a period: one or more of a whole number followed by y
// (years), mo (months) or d (days), each unit at most once, such as 3y,
// 18mo, 90d or 1y6mo (also 3年, 6个月, 90天). A period of zero, a bare
// number and "m" (minutes or months?) are refused with an EInvalid error
// that says what to write instead.
func ParsePeriod(s string) (Period, error) {
	p, reason := parsePeriod(s)
	if reason != "" {
		return Period{}, muster.Errorf(muster.EInvalid, "period %q: %s", s, reason)
	}
	return p, nil
}

const periodHint = "want a period such as 3y, 18mo or 90d (y years, mo months, d days)"

// parsePeriod is ParsePeriod with the reason for a refusal as text.
func parsePeriod(s string) (Period, string) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return Period{}, "empty: " + periodHint
	}
	var v [3]int
	var given [3]bool
	for t != "" {
		i := 0
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		if i == 0 {
			return Period{}, "a number must come before each unit: " + periodHint
		}
		n, err := strconv.Atoi(t[:i])
		if err != nil || n > 10000 {
			return Period{}, fmt.Sprintf("%s is too large: %s", t[:i], periodHint)
		}
		t = strings.TrimLeft(t[i:], " ")
		unit := -1
		for _, u := range periodUnits {
			if rest, ok := strings.CutPrefix(t, u.word); ok {
				unit, t = u.unit, strings.TrimLeft(rest, " ")
				break
			}
		}
		switch {
		case unit < 0 && t == "":
			return Period{}, fmt.Sprintf("%d has no unit: %s", n, periodHint)
		case unit < 0 && t[0] == 'm':
			return Period{}, "write mo for months (m could be minutes): " + periodHint
		case unit < 0:
			return Period{}, fmt.Sprintf("unknown unit %q: %s", strings.Fields(t)[0], periodHint)
		case given[unit]:
			return Period{}, "each unit may be given once: " + periodHint
		}
		v[unit], given[unit] = n, true
	}
	p := Period{Years: v[0], Months: v[1], Days: v[2]}
	if p.IsZero() {
		return Period{}, "zero: a period must be longer than that; " + periodHint
	}
	return p, ""
}

// IsZero reports whether p is no span at all (also: not set).
func (p Period) IsZero() bool { return p == Period{} }

// String writes p as ParsePeriod reads it, largest unit first (1y6mo, 90d);
// the zero period is "".
func (p Period) String() string {
	var b strings.Builder
	for _, part := range []struct {
		n    int
		unit string
	}{{p.Years, "y"}, {p.Months, "mo"}, {p.Days, "d"}} {
		if part.n != 0 {
			b.WriteString(strconv.Itoa(part.n))
			b.WriteString(part.unit)
		}
	}
	return b.String()
}

// AddTo returns t plus p by the calendar in t's location (time.AddDate):
// the same time of day, years and months first, then days. Like AddDate it
// normalizes a day the month lacks (1mo after 31 January is 3 March in a
// common year).
func (p Period) AddTo(t time.Time) time.Time { return t.AddDate(p.Years, p.Months, p.Days) }

// canonical folds whole years out of months (18mo is 1y6mo), which adds
// to any time exactly as before.
func (p Period) canonical() Period {
	if p.Months >= 12 {
		p.Years += p.Months / 12
		p.Months %= 12
	}
	return p
}

// MarshalText writes p as String does.
func (p Period) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads what ParsePeriod reads; empty text is the zero period.
func (p *Period) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*p = Period{}
		return nil
	}
	v, err := ParsePeriod(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// DrillIntervals is how often a plan must be exercised (plan file field
// drills). A zero field takes its default.
type DrillIntervals struct {
	// Full is the longest a plan may go without an exercise of the full
	// plan: a tabletop, functional or full-scale drill.
	Full Period `json:"full,omitzero"`
	// Notification is the longest a plan may go without a notification
	// drill (通讯演练) that calls its people up.
	Notification Period `json:"notification,omitzero"`
}

// FullDrillInterval is the longest the plan may go without an exercise of
// the full plan: its drills.full, or DefaultFullDrillInterval.
func (p *Plan) FullDrillInterval() Period {
	if !p.Drills.Full.IsZero() {
		return p.Drills.Full
	}
	return DefaultFullDrillInterval
}

// NotificationDrillInterval is the longest the plan may go without a
// notification drill: its drills.notification, or
// DefaultNotificationDrillInterval.
func (p *Plan) NotificationDrillInterval() Period {
	if !p.Drills.Notification.IsZero() {
		return p.Drills.Notification
	}
	return DefaultNotificationDrillInterval
}

// Plan is one version of an emergency plan (应急预案): what it covers and, for
// each response level, who is called up, with which messages, how silence is
// escalated and what must be done. A Plan returned by DecodePlan is
// normalized and valid.
type Plan struct {
	ID          PlanID       `json:"id"`
	Title       string       `json:"title"`
	TitleEN     string       `json:"title_en,omitempty"` // used in English messages when set
	Hazard      Hazard       `json:"hazard"`
	CAPCategory CAPCategory  `json:"cap_category"`
	Scope       []RegionCode `json:"scope"`            // regions the plan covers; activations stay inside them
	Sender      string       `json:"sender,omitempty"` // SMS sender prefix such as 【示例市应急】
	Levels      []Level      `json:"levels"`           // ordered I..IV after Normalize
	// GuardFactor is how far over a level's Expected count an activation
	// may reach before it needs the scope confirmed (DefaultGuardFactor).
	GuardFactor float64 `json:"guard_factor,omitempty"`
	// Drills says how often the plan must be exercised; what it leaves out
	// takes the defaults (see FullDrillInterval, NotificationDrillInterval).
	Drills DrillIntervals `json:"drills,omitzero"`
}

// DefaultGuardFactor is a plan's GuardFactor unless it says otherwise.
const DefaultGuardFactor = 1.5

// Guard returns the plan's guard factor, its default when unset.
func (p *Plan) Guard() float64 {
	if p.GuardFactor > 0 {
		return p.GuardFactor
	}
	return DefaultGuardFactor
}

// GuardWarnings says, for each level of p that gives no Expected count,
// that the scope guard cannot count its call-ups: a LIVE activation at that
// level reaching far more people than usual (the whole city at level IV)
// starts without anyone confirming its scope, unless it reaches the whole
// city — naming the top of the region tree, each region under it, or a
// district by all its streets — at a level one person starts alone, which
// needs confirming from rules 13. A plan with such levels is valid
// and stored all the same; plan validate, plan apply and the API say so.
func (p *Plan) GuardWarnings() []string {
	var out []string
	for _, l := range p.Levels {
		if l.Expected > 0 {
			continue
		}
		msg := fmt.Sprintf("levels.%s.expected: not set, so the scope guard cannot count level %s call-ups: a LIVE one calling far more people than usual starts without anyone confirming its scope", l.Code, l.Code)
		if l.Approvals < 2 {
			msg += " (only one reaching the whole city, naming it, each of its districts or a district by all its streets, is asked to)"
		}
		out = append(out, msg+"; give the number of people a usual activation at this level calls")
	}
	return out
}

// Level is what a plan does at one response level.
type Level struct {
	Code        LevelCode        `json:"code"`
	Name        string           `json:"name"`                 // 特别重大 etc. unless the plan says otherwise
	Criteria    string           `json:"criteria"`             // when this level applies (启动条件)
	Approvals   int              `json:"approvals"`            // people needed to start a LIVE activation
	Expected    int              `json:"expected,omitempty"`   // recipients a usual activation calls; far more needs the scope confirmed (GuardWarnings when unset)
	AckDeadline Duration         `json:"ack_deadline"`         // time a recipient has to answer
	Groups      []Group          `json:"groups"`               // who is called up
	SMS         string           `json:"sms"`                  // text/template over MessageData
	Voice       string           `json:"voice,omitempty"`      // text/template over MessageData, read by TTS
	SMSEN       string           `json:"sms_en,omitempty"`     // for people whose language is en
	VoiceEN     string           `json:"voice_en,omitempty"`   // for people whose language is en
	Escalation  []EscalationStep `json:"escalation,omitempty"` // strictly increasing After
	Checklist   []string         `json:"checklist,omitempty"`  // actions for the command post, in order
}

// Group is a named set of role slots within a level (指挥部, 专项工作组, 应急队伍, 网格力量 ...).
type Group struct {
	Name  string `json:"name"`
	Roles []Role `json:"roles"`
}

// Role is a slot in a level: the people its selector matches are called up.
type Role struct {
	Name string `json:"name"`
	// NameEN is the role's name in English speakers' messages; they read
	// Name when it is empty.
	NameEN  string   `json:"name_en,omitempty"`
	Select  Selector `json:"select"`
	Reach   Reach    `json:"reach"`              // ReachActivation or ReachPlan
	Count   int      `json:"count"`              // minimum people needed; a shortfall is shown in previews
	MustAck bool     `json:"must_ack,omitempty"` // 叫应: silence is escalated to the superior
}

// EscalationStep is done After the first message to every recipient who has
// not answered by then.
type EscalationStep struct {
	After Duration         `json:"after"`
	Do    EscalationAction `json:"do"`
}

// Level returns the plan's level with the given code, or nil if the plan has none.
func (p *Plan) Level(code LevelCode) *Level {
	for i := range p.Levels {
		if p.Levels[i].Code == code {
			return &p.Levels[i]
		}
	}
	return nil
}

// SMSTemplate is the SMS template for a person speaking lang: SMSEN for
// English when the level has one, SMS otherwise.
func (l *Level) SMSTemplate(lang Language) string {
	if lang == LangEN && l.SMSEN != "" {
		return l.SMSEN
	}
	return l.SMS
}

// VoiceTemplate is the voice template for a person speaking lang: VoiceEN for
// English when the level has one, Voice otherwise.
func (l *Level) VoiceTemplate(lang Language) string {
	if lang == LangEN && l.VoiceEN != "" {
		return l.VoiceEN
	}
	return l.Voice
}

// Normalize puts p in canonical form so that two plans meaning the same thing
// are equal and hash the same: text is trimmed, hazard, CAP category, level
// codes and categories take their canonical spelling where they parse, levels
// are ordered I..IV, missing level names and approvals get their defaults,
// an empty reach becomes ReachActivation, and the set-like lists (scope and
// selector fields) are sorted without duplicates. Order that carries meaning
// (groups, roles, escalation, checklist) is kept. Normalize never fails and
// is idempotent; Validate reports what is still wrong.
func (p *Plan) Normalize() {
	p.canonicalize()
	p.sortSets()
}

// canonicalize is the part of Normalize that keeps every list in its order,
// so that problems found afterwards still point at the right list element.
func (p *Plan) canonicalize() {
	p.ID = PlanID(strings.TrimSpace(string(p.ID)))
	p.Title = strings.TrimSpace(p.Title)
	p.TitleEN = strings.TrimSpace(p.TitleEN)
	if h, err := ParseHazard(string(p.Hazard)); err == nil {
		p.Hazard = h
	} else {
		p.Hazard = Hazard(strings.TrimSpace(string(p.Hazard)))
	}
	if c, err := ParseCAPCategory(string(p.CAPCategory)); err == nil {
		p.CAPCategory = c
	} else {
		p.CAPCategory = CAPCategory(strings.TrimSpace(string(p.CAPCategory)))
	}
	p.Scope = trimAll(p.Scope)
	p.Sender = strings.TrimSpace(p.Sender)
	p.Drills.Full = p.Drills.Full.canonical()
	p.Drills.Notification = p.Drills.Notification.canonical()
	for i := range p.Levels {
		p.Levels[i].canonicalize()
	}
	if len(p.Levels) == 0 {
		p.Levels = nil
	}
}

// sortSets is the part of Normalize that orders levels and set-like lists.
func (p *Plan) sortSets() {
	p.Scope = sortedSet(p.Scope)
	slices.SortStableFunc(p.Levels, func(a, b Level) int {
		ra, rb := a.Code.Rank(), b.Code.Rank()
		if ra == 0 {
			ra = 99 // unknown codes last, in their original order
		}
		if rb == 0 {
			rb = 99
		}
		return cmp.Compare(ra, rb)
	})
	for i := range p.Levels {
		for j := range p.Levels[i].Groups {
			for k := range p.Levels[i].Groups[j].Roles {
				p.Levels[i].Groups[j].Roles[k].Select.sortSets()
			}
		}
	}
}

func (l *Level) canonicalize() {
	if c, err := ParseLevelCode(string(l.Code)); err == nil {
		l.Code = c
	}
	l.Name = strings.TrimSpace(l.Name)
	if l.Name == "" {
		l.Name = l.Code.DefaultName()
	}
	l.Criteria = strings.TrimSpace(l.Criteria)
	if l.Approvals == 0 {
		l.Approvals = l.Code.DefaultApprovals()
	}
	for i := range l.Groups {
		g := &l.Groups[i]
		g.Name = strings.TrimSpace(g.Name)
		for j := range g.Roles {
			g.Roles[j].canonicalize()
		}
		if len(g.Roles) == 0 {
			g.Roles = nil
		}
	}
	if len(l.Groups) == 0 {
		l.Groups = nil
	}
	l.SMS = strings.TrimSpace(l.SMS)
	l.Voice = strings.TrimSpace(l.Voice)
	l.SMSEN = strings.TrimSpace(l.SMSEN)
	l.VoiceEN = strings.TrimSpace(l.VoiceEN)
	for i := range l.Escalation {
		l.Escalation[i].Do = EscalationAction(strings.ToLower(strings.TrimSpace(string(l.Escalation[i].Do))))
	}
	if len(l.Escalation) == 0 {
		l.Escalation = nil
	}
	l.Checklist = trimAll(l.Checklist)
}

func (r *Role) canonicalize() {
	r.Name = strings.TrimSpace(r.Name)
	r.NameEN = strings.TrimSpace(r.NameEN)
	r.Reach = Reach(strings.ToLower(strings.TrimSpace(string(r.Reach))))
	if r.Reach == "" {
		r.Reach = ReachActivation
	}
	r.Select.canonicalize()
}

// trimAll trims every element in place; it returns nil for an empty list.
func trimAll[S ~[]E, E ~string](s S) S {
	if len(s) == 0 {
		return nil
	}
	for i, v := range s {
		s[i] = E(strings.TrimSpace(string(v)))
	}
	return s
}

// sortedSet sorts and deduplicates a list whose order carries no meaning; it
// returns nil for an empty list.
func sortedSet[S ~[]E, E ~string](s S) S {
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	return slices.Compact(s)
}

// Hash identifies the plan's content: the hex SHA-256 of the canonical JSON of
// a normalized copy. Two plans that mean the same thing have the same hash, so
// an unchanged file can be recognised and no new version made. p is not
// modified.
func (p *Plan) Hash() string {
	c := p.Clone()
	c.Normalize()
	b, err := json.Marshal(c)
	if err != nil {
		// A Plan holds only strings, numbers and slices: Marshal cannot fail.
		panic(fmt.Sprintf("plans: marshal plan: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Clone returns a deep copy of p.
func (p *Plan) Clone() *Plan {
	c := *p
	c.Scope = slices.Clone(p.Scope)
	c.Levels = slices.Clone(p.Levels)
	for i := range c.Levels {
		l := &c.Levels[i]
		l.Groups = slices.Clone(l.Groups)
		for j := range l.Groups {
			g := &l.Groups[j]
			g.Roles = slices.Clone(g.Roles)
			for k := range g.Roles {
				g.Roles[k].Select = g.Roles[k].Select.clone()
			}
		}
		l.Escalation = slices.Clone(l.Escalation)
		l.Checklist = slices.Clone(l.Checklist)
	}
	return &c
}

// Problem is one thing wrong with a plan, located in its file when it came
// from one (Line and Column are 1-based; 0 when unknown). Field is the path
// of the offending value, such as levels.I.groups[0].roles[1].select.tags.
type Problem struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// String formats the problem as file:line: field: message, leaving out the
// parts that are unknown.
func (pr Problem) String() string {
	var b strings.Builder
	if pr.File != "" {
		b.WriteString(pr.File)
		b.WriteString(":")
	}
	if pr.Line > 0 {
		b.WriteString(strconv.Itoa(pr.Line))
		b.WriteString(":")
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if pr.Field != "" {
		b.WriteString(pr.Field)
		b.WriteString(": ")
	}
	b.WriteString(pr.Message)
	return b.String()
}

// ProblemsError wraps problems in the *muster.Error that DecodePlan returns:
// Code EInvalid, a Message naming the first problem (and how many more there
// are) and Details holding all of them. It returns nil for no problems.
func ProblemsError(problems []Problem) error {
	if len(problems) == 0 {
		return nil
	}
	msg := "invalid plan: " + problems[0].String()
	if n := len(problems) - 1; n == 1 {
		msg += " (and 1 more problem)"
	} else if n > 1 {
		msg += fmt.Sprintf(" (and %d more problems)", n)
	}
	return &muster.Error{Code: muster.EInvalid, Message: msg, Details: problems}
}

// Limits on a plan's content.
const (
	MaxSMSSegments = 10   // a rendered SMS, with the exercise mark, may take at most this many segments
	maxTextLen     = 4000 // bytes in any single text field other than templates
	maxTemplateLen = 4000 // bytes in a template
	maxSenderRunes = 20   // runes in the sender prefix
)

// Validate reports everything wrong with a normalized plan, in field order.
// Problems carry Field and Message; File and Line are left for DecodePlan to
// fill in. A nil result means the plan can be stored: identity and scope are
// present and well formed, every level has criteria, a positive ack deadline,
// uniquely named groups and roles with non-empty selectors, a strictly
// increasing escalation chain whose actions are known and whose voice steps
// have a voice template, and templates that render sample data without
// error, without drill words and within MaxSMSSegments.
// Whether scope and selector regions exist is CheckReferences' job.
func (p *Plan) Validate() []Problem {
	var v validator
	if p.ID == "" {
		v.add("id", "missing: give the plan a stable id such as flood-control")
	} else if !p.ID.Valid() {
		v.add("id", "%q: want 2 to 64 of a-z, 0-9 and -", p.ID)
	}
	if p.Title == "" {
		v.add("title", "missing: give the plan its official title")
	} else {
		v.text("title", p.Title)
	}
	v.text("title_en", p.TitleEN)
	if p.Hazard == "" {
		v.add("hazard", "missing: want 自然灾害, 事故灾难, 公共卫生 or 社会安全")
	} else if _, err := ParseHazard(string(p.Hazard)); err != nil {
		v.add("hazard", "unknown %q: want 自然灾害, 事故灾难, 公共卫生 or 社会安全 (natural, accident, public_health, social_security)", p.Hazard)
	}
	if p.CAPCategory == "" {
		v.add("cap_category", "missing: want one of %s", joinStrings(CAPCategories(), ", "))
	} else if _, err := ParseCAPCategory(string(p.CAPCategory)); err != nil {
		v.add("cap_category", "unknown %q: want one of %s", p.CAPCategory, joinStrings(CAPCategories(), ", "))
	}
	if len(p.Scope) == 0 {
		v.add("scope", "missing: list the region codes the plan covers, e.g. [\"990100\"]")
	}
	for i, c := range p.Scope {
		v.regionCode(fmt.Sprintf("scope[%d]", i), c)
	}
	if n := len([]rune(p.Sender)); n > maxSenderRunes {
		v.add("sender", "%d characters: keep the SMS sender prefix within %d", n, maxSenderRunes)
	}
	for _, t := range p.liveTexts() {
		if words := DrillWordsIn(t.text); len(words) > 0 {
			v.add(t.field, "%q says %q: it goes into LIVE messages, which never mention drills; exercise messages get %s from the system. %s", t.text, words[0], ExerciseMark, DrillWordAdvice(t.text, words[0]))
		} else if words := RealClaimsIn(t.text); len(words) > 0 {
			v.add(t.field, "%q says %q: it goes into drill messages too, and a drill must never say it is real or not a drill", t.text, words[0])
		}
	}
	if p.GuardFactor != 0 && (p.GuardFactor < 1 || p.GuardFactor > 100) {
		v.add("guard_factor", "%g: want 1 to 100 (how many times a level's expected count an activation may reach unconfirmed), or leave it out for %g", p.GuardFactor, DefaultGuardFactor)
	}
	v.drillInterval("drills.full", p.Drills.Full, DefaultFullDrillInterval)
	v.drillInterval("drills.notification", p.Drills.Notification, DefaultNotificationDrillInterval)
	if len(p.Levels) == 0 {
		v.add("levels", "missing: give at least one of the levels I, II, III, IV")
	}
	seen := map[LevelCode]bool{}
	for i := range p.Levels {
		l := &p.Levels[i]
		path := "levels." + string(l.Code)
		if !l.Code.Valid() {
			v.add(path, "unknown level %q: want I, II, III or IV (Ⅰ–Ⅳ, 1–4)", l.Code)
			continue
		}
		if seen[l.Code] {
			v.add(path, "level %s is given more than once", l.Code)
			continue
		}
		seen[l.Code] = true
		v.level(p, l, path)
	}
	return v.problems
}

// validator collects problems.
// liveText is a text of the plan's own that its messages say besides the
// templates' words, named by its field.
type liveText struct{ field, text string }

// liveTexts are the sender prefix, the titles and the level and role names
// (English ones too): every LIVE message of the plan says some of them.
func (p *Plan) liveTexts() []liveText {
	out := []liveText{{"sender", p.Sender}, {"title", p.Title}, {"title_en", p.TitleEN}}
	for _, l := range p.Levels {
		path := "levels." + string(l.Code)
		out = append(out, liveText{path + ".name", l.Name})
		for gi, g := range l.Groups {
			for ri, r := range g.Roles {
				rp := fmt.Sprintf("%s.groups[%d].roles[%d]", path, gi, ri)
				out = append(out, liveText{rp + ".name", r.Name}, liveText{rp + ".name_en", r.NameEN})
			}
		}
	}
	return out
}

// LiveDrillWord returns the first of the plan's own texts that LIVE
// messages say (liveTexts) with a drill word in it, its field and the word;
// empty when there is none. Validate refuses such a plan; a version stored
// before it did is refused for LIVE activations.
func (p *Plan) LiveDrillWord() (field, text, word string) {
	for _, t := range p.liveTexts() {
		if words := DrillWordsIn(t.text); len(words) > 0 {
			return t.field, t.text, words[0]
		}
	}
	return "", "", ""
}

type validator struct{ problems []Problem }

func (v *validator) add(field, format string, args ...any) {
	v.problems = append(v.problems, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) text(field, s string) {
	if len(s) > maxTextLen {
		v.add(field, "%d bytes: keep it within %d", len(s), maxTextLen)
	}
}

// drillInterval checks a drill interval: unset (the default applies), or
// positive and at most MaxDrillInterval.
func (v *validator) drillInterval(field string, p, def Period) {
	base := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	switch {
	case p.IsZero():
	case p.Years < 0 || p.Months < 0 || p.Days < 0:
		v.add(field, "%d years, %d months, %d days: want a positive period such as %s, or leave it out for %s", p.Years, p.Months, p.Days, def, def)
	case p.AddTo(base).After(MaxDrillInterval.AddTo(base)):
		v.add(field, "%s: a plan must be drilled at least every %s", p, MaxDrillInterval)
	}
}

func (v *validator) regionCode(field string, c RegionCode) {
	switch {
	case c == "":
		v.add(field, "empty region code")
	case !allDigits(string(c)) || !slices.Contains([]int{6, 9, 12, 15}, len(c)):
		v.add(field, "region code %q: want 6 (city, district), 9 (street), 12 (community) or 15 (grid) digits", c)
	}
}

func (v *validator) level(p *Plan, l *Level, path string) {
	if l.Criteria == "" {
		v.add(path+".criteria", "missing: say when this level applies (启动条件)")
	} else {
		v.text(path+".criteria", l.Criteria)
	}
	v.text(path+".name", l.Name)
	switch {
	case l.Approvals < 1 || l.Approvals > MaxApprovals:
		v.add(path+".approvals", "%d: want 1 to %d", l.Approvals, MaxApprovals)
	case l.Approvals < 2 && (l.Code == LevelI || l.Code == LevelII):
		v.add(path+".approvals", "%d: level %s needs at least 2 (the person who starts it and a second one)", l.Approvals, l.Code)
	}
	if l.AckDeadline <= 0 {
		v.add(path+".ack_deadline", "missing or not positive: say how long people have to answer, e.g. 15m")
	}
	if len(l.Groups) == 0 {
		v.add(path+".groups", "missing: a level needs at least one group with at least one role")
	}
	groups, roles := map[string]string{}, map[string]string{}
	for gi := range l.Groups {
		g := &l.Groups[gi]
		gp := fmt.Sprintf("%s.groups[%d]", path, gi)
		if g.Name == "" {
			v.add(gp+".name", "missing: name the group, e.g. 指挥部")
		} else if prev, dup := groups[g.Name]; dup {
			v.add(gp+".name", "group %q is already defined at %s", g.Name, prev)
		} else {
			groups[g.Name] = gp
		}
		v.text(gp+".name", g.Name)
		if len(g.Roles) == 0 {
			v.add(gp+".roles", "missing: a group needs at least one role")
		}
		for ri := range g.Roles {
			r := &g.Roles[ri]
			rp := fmt.Sprintf("%s.roles[%d]", gp, ri)
			if r.Name == "" {
				v.add(rp+".name", "missing: name the role, e.g. 总指挥")
			} else if prev, dup := roles[r.Name]; dup {
				v.add(rp+".name", "role %q is already defined at %s", r.Name, prev)
			} else {
				roles[r.Name] = rp
			}
			v.text(rp+".name", r.Name)
			v.text(rp+".name_en", r.NameEN)
			if msg := roleNameENProblem(r.NameEN); msg != "" {
				v.add(rp+".name_en", "%s", msg)
			}
			v.selector(rp+".select", r.Select)
			if r.Reach != ReachActivation && r.Reach != ReachPlan {
				v.add(rp+".reach", "unknown %q: want activation or plan", r.Reach)
			}
			if r.Count < 0 {
				v.add(rp+".count", "%d: want 0 or more", r.Count)
			}
		}
	}
	voice := false
	for i, s := range l.Escalation {
		sp := fmt.Sprintf("%s.escalation[%d]", path, i)
		if s.After <= 0 {
			v.add(sp+".after", "missing or not positive: say when the step runs, e.g. 5m")
		} else if i > 0 && s.After <= l.Escalation[i-1].After {
			v.add(sp+".after", "%s is not after the previous step's %s: steps must be in strictly increasing order", s.After, l.Escalation[i-1].After)
		}
		if !slices.Contains(EscalationActions(), s.Do) {
			if s.Do == "" {
				v.add(sp+".do", "missing: want voice, sms, backup or superior")
			} else {
				v.add(sp+".do", "unknown %q: want voice, sms, backup or superior", s.Do)
			}
		}
		voice = voice || s.Do == EscalateVoice
	}
	for i, c := range l.Checklist {
		if c == "" {
			v.add(fmt.Sprintf("%s.checklist[%d]", path, i), "empty item")
		}
		v.text(fmt.Sprintf("%s.checklist[%d]", path, i), c)
	}
	if l.SMS == "" {
		v.add(path+".sms", "missing: give the call-up SMS template")
	}
	if voice && l.Voice == "" {
		v.add(path+".voice", "missing: an escalation step uses voice, so the level needs a voice template")
	}
	for _, t := range []struct {
		field string
		tmpl  string
		lang  Language
		sms   bool
	}{
		{"sms", l.SMS, LangZH, true},
		{"voice", l.Voice, LangZH, false},
		{"sms_en", l.SMSEN, LangEN, true},
		{"voice_en", l.VoiceEN, LangEN, false},
	} {
		if t.tmpl == "" {
			continue
		}
		for _, msg := range checkTemplate(t.tmpl, SampleMessageData(p, l, t.lang), t.sms) {
			v.add(path+"."+t.field, "%s", msg)
		}
	}
}

func (v *validator) selector(path string, s Selector) {
	if s.IsEmpty() {
		v.add(path, "empty: give at least one of categories, tags, teams, regions")
		return
	}
	for i, c := range s.Categories {
		if _, err := ParseCategory(string(c)); err != nil {
			v.add(fmt.Sprintf("%s.categories[%d]", path, i), "unknown category %q: want one of %s", c, strings.Join(categoryList(), "/"))
		}
	}
	for i, t := range s.Tags {
		if t == "" {
			v.add(fmt.Sprintf("%s.tags[%d]", path, i), "empty tag")
		}
	}
	for i, t := range s.Teams {
		if t == "" {
			v.add(fmt.Sprintf("%s.teams[%d]", path, i), "empty team")
		}
	}
	for i, c := range s.Regions {
		v.regionCode(fmt.Sprintf("%s.regions[%d]", path, i), c)
	}
}

func joinStrings[S ~[]E, E ~string](s S, sep string) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = string(v)
	}
	return strings.Join(parts, sep)
}
