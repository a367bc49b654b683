package plans

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
)

// updateGolden reports whether -update was given: golden files are rewritten
// instead of compared. The flag is shared with any other test file of the
// package that defines it, which is why it is looked up in init (which runs
// after every package-level flag.Bool) rather than defined unconditionally.
var updateGolden func() bool

func init() {
	f := flag.Lookup("update")
	if f == nil {
		flag.Bool("update", false, "rewrite golden files under testdata/")
		f = flag.Lookup("update")
	}
	updateGolden = func() bool {
		g, ok := f.Value.(flag.Getter)
		return ok && g.Get() == true
	}
}

// The tags and teams of the demo roster (examples/city).
var (
	demoTags  = []string{"网格长", "网格员", "指挥长", "值班领导", "防汛", "医疗", "消防", "危化品", "驾驶员", "无人机", "心理疏导", "翻译"}
	demoTeams = []string{"防汛抢险队", "医疗救护队", "消防救援队", "危化品处置队", "志愿服务队", "物资保障队"}
)

func loadExample(t *testing.T, name string) (*Plan, []byte) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "examples", "plans", name))
	require.NoError(t, err)
	p, err := DecodePlan(name, src)
	require.NoError(t, err, "%v", problemDetails(err))
	return p, src
}

func problemDetails(err error) string {
	var b strings.Builder
	if e, ok := err.(*muster.Error); ok {
		if ps, ok := e.Details.([]Problem); ok {
			for _, p := range ps {
				b.WriteString("\n  " + p.String())
			}
		}
	}
	return b.String()
}

func TestExamplePlans(t *testing.T) {
	tests := []struct {
		file   string
		id     PlanID
		title  string
		hazard Hazard
		cap    CAPCategory
	}{
		{"flood.yaml", "flood-control", "示例市防汛应急预案", HazardNatural, CAPMet},
		{"public-health.yaml", "public-health", "示例市突发公共卫生事件应急预案", HazardPublicHealth, CAPHealth},
		{"hazmat-fire.yaml", "hazmat-fire", "示例市危险化学品火灾事故应急预案", HazardAccident, CAPCBRNE},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p, src := loadExample(t, tt.file)
			assert.Equal(t, tt.id, p.ID)
			assert.Equal(t, tt.title, p.Title)
			assert.Equal(t, tt.hazard, p.Hazard)
			assert.Equal(t, tt.cap, p.CAPCategory)
			assert.Equal(t, []RegionCode{"990100"}, p.Scope)
			assert.Empty(t, p.CheckReferences(tt.file, src, func(c RegionCode) bool { return c == "990100" }))

			var codes []LevelCode
			for _, l := range p.Levels {
				codes = append(codes, l.Code)
			}
			require.Equal(t, LevelCodes(), codes, "all four levels, in order")

			for i := range p.Levels {
				l := &p.Levels[i]
				assert.Equal(t, l.Code.DefaultName(), l.Name)
				assert.GreaterOrEqual(t, l.Approvals, l.Code.DefaultApprovals())
				assert.NotEmpty(t, l.Checklist, "level %s has a checklist", l.Code)
				assert.NotEmpty(t, l.Escalation, "level %s escalates", l.Code)
				assert.NotEmpty(t, l.Voice, "level %s has a voice template", l.Code)
				assert.NotEmpty(t, l.SMSEN, "level %s has an English SMS", l.Code)
				assert.NotEmpty(t, l.VoiceEN, "level %s has an English voice template", l.Code)
				if l.Code == LevelI || l.Code == LevelII {
					assert.True(t, slices.ContainsFunc(l.Escalation, func(s EscalationStep) bool { return s.Do == EscalateSuperior }),
						"level %s escalates to superiors (叫应)", l.Code)
				}
				for _, g := range l.Groups {
					for _, r := range g.Roles {
						for _, tag := range r.Select.Tags {
							assert.Contains(t, demoTags, tag, "role %s uses a demo roster tag", r.Name)
						}
						for _, team := range r.Select.Teams {
							assert.Contains(t, demoTeams, team, "role %s uses a demo roster team", r.Name)
						}
					}
				}

				for _, lang := range []Language{LangZH, LangEN} {
					d := SampleMessageData(p, l, lang)
					sms, err := RenderMessage(l.SMSTemplate(lang), d)
					require.NoError(t, err)
					assert.Contains(t, sms, d.Name)
					assert.True(t, strings.HasPrefix(sms, p.Sender), "%q starts with the sender", sms)
					assert.Empty(t, DrillWords(sms))

					// Three segments at most in either language, with the
					// longest mark the system puts in front (an English
					// speaker's drill: 【演练】[EXERCISE] ). The sender 【示例市应急】
					// makes every text UCS-2 (67 characters a part).
					enc, _, segs := SMSSegments(sms)
					assert.Equal(t, EncodingUCS2, enc)
					assert.GreaterOrEqual(t, segs, 2, "level %s %s SMS: %q", l.Code, lang, sms)
					assert.LessOrEqual(t, segs, 3, "level %s %s SMS: %q", l.Code, lang, sms)
					mark := ExerciseMark
					if lang == LangEN {
						mark += ExerciseMarkEN
					}
					_, chars, exSegs := SMSSegments(mark + sms)
					assert.LessOrEqual(t, exSegs, 3, "level %s %s exercise SMS (%d characters): %q", l.Code, lang, chars, mark+sms)
					_, _, notDrill := SMSSegments(NotADrillMark(lang) + sms)
					assert.LessOrEqual(t, notDrill, 3, "level %s %s SMS marked not a drill", l.Code, lang)
					if lang == LangEN {
						// The English words force no UCS-2 (no Chinese
						// punctuation, no curly quotes): under a Latin sender
						// the text would be GSM-7.
						latin := d
						latin.Sender = "[Example City EM]"
						text, err := RenderMessage(l.SMSTemplate(lang), latin)
						require.NoError(t, err)
						enc, _, _ := SMSSegments(text)
						assert.Equal(t, EncodingGSM7, enc, "level %s English SMS: %q", l.Code, text)
					}

					voice, err := RenderMessage(l.VoiceTemplate(lang), d)
					require.NoError(t, err)
					assert.Contains(t, voice, d.Name)
					assert.Contains(t, voice, "1")
				}
			}
		})
	}
}

// The rendered messages of the example plans, as a person would read them.
// Run with -update to rewrite testdata/golden/*.txt after changing a plan.
func TestExamplePlansGolden(t *testing.T) {
	for _, file := range []string{"flood.yaml", "public-health.yaml", "hazmat-fire.yaml"} {
		t.Run(file, func(t *testing.T) {
			p, _ := loadExample(t, file)
			var b strings.Builder
			fmt.Fprintf(&b, "# %s (%s) — rendered with SampleMessageData\n", p.Title, p.ID)
			for i := range p.Levels {
				l := &p.Levels[i]
				for _, lang := range []Language{LangZH, LangEN} {
					d := SampleMessageData(p, l, lang)
					sms, err := RenderMessage(l.SMSTemplate(lang), d)
					require.NoError(t, err)
					voice, err := RenderMessage(l.VoiceTemplate(lang), d)
					require.NoError(t, err)
					enc, chars, segs := SMSSegments(sms)
					fmt.Fprintf(&b, "\n## %s %s\nsms (%s, %d chars, %d segments):\n%s\nvoice:\n%s\n", l.Code, lang, enc, chars, segs, sms, voice)
				}
			}
			golden := filepath.Join("testdata", "golden", strings.TrimSuffix(file, ".yaml")+".txt")
			if updateGolden() {
				require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
				require.NoError(t, os.WriteFile(golden, []byte(b.String()), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test ./plans -run TestExamplePlansGolden -update to create it")
			assert.Equal(t, string(want), b.String())
		})
	}
}

func TestPlanJSON(t *testing.T) {
	p, _ := loadExample(t, "flood.yaml")
	b, err := json.Marshal(p)
	require.NoError(t, err)
	s := string(b)
	for _, key := range []string{`"cap_category":"Met"`, `"ack_deadline":"15m"`, `"must_ack":true`, `"sms_en":`, `"code":"I"`, `"after":"3m"`, `"do":"voice"`, `"reach":"plan"`} {
		assert.Contains(t, s, key)
	}
	var back Plan
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, p, &back)
	assert.Equal(t, p.Hash(), back.Hash())
	assert.Empty(t, back.Validate())
}

// A plan built in code (as from the console's JSON) is validated without lines.
func TestValidateBuiltPlan(t *testing.T) {
	p := &Plan{
		ID: "x", Title: "预案", Hazard: "公共卫生事件", CAPCategory: "health", Scope: []RegionCode{"990100"},
		Levels: []Level{{Code: "Ⅲ", Criteria: "较大", AckDeadline: Duration(600e9),
			Groups: []Group{{Name: "组", Roles: []Role{{Name: "员", Select: Selector{Tags: []string{"医疗"}}}}}},
			SMS:    "{{.Name}}请回复1", Escalation: []EscalationStep{{After: Duration(300e9), Do: "VOICE"}}}},
	}
	p.Normalize()
	assert.Equal(t, HazardPublicHealth, p.Hazard)
	assert.Equal(t, CAPHealth, p.CAPCategory)
	assert.Equal(t, LevelIII, p.Levels[0].Code)
	problems := p.Validate()
	require.Len(t, problems, 2)
	assert.Equal(t, Problem{Field: "id", Message: `"x": want 2 to 64 of a-z, 0-9 and -`}, problems[0])
	assert.Equal(t, "levels.III.voice", problems[1].Field)
}

func TestParseLevelCode(t *testing.T) {
	tests := []struct {
		in   string
		want LevelCode
	}{
		{"I", LevelI}, {"i", LevelI}, {"Ⅰ", LevelI}, {"1", LevelI}, {"一级", LevelI},
		{"II", LevelII}, {"Ⅱ", LevelII}, {"2", LevelII},
		{"III", LevelIII}, {"Ⅲ", LevelIII}, {" 3 ", LevelIII},
		{"IV", LevelIV}, {"Ⅳ", LevelIV}, {"4", LevelIV}, {"四级", LevelIV},
		{"V", ""}, {"5", ""}, {"", ""}, {"IIII", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLevelCode(tt.in)
			if tt.want == "" {
				assert.True(t, muster.IsCode(err, muster.EInvalid))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	assert.Equal(t, "Ⅱ", LevelII.Numeral(LangZH))
	assert.Equal(t, "II", LevelII.Numeral(LangEN))
	assert.Equal(t, "Extreme", LevelI.CAPSeverity())
	assert.Equal(t, "Minor", LevelIV.CAPSeverity())
	assert.Equal(t, "较大", LevelIII.DefaultName())
}

func TestParseHazardAndCAP(t *testing.T) {
	hazards := []struct {
		in   string
		want Hazard
	}{
		{"自然灾害", HazardNatural}, {"natural", HazardNatural}, {"Natural", HazardNatural},
		{"事故灾难", HazardAccident}, {"accident", HazardAccident},
		{"公共卫生", HazardPublicHealth}, {"公共卫生事件", HazardPublicHealth}, {"public_health", HazardPublicHealth},
		{"社会安全", HazardSocialSecurity}, {"social_security", HazardSocialSecurity},
		{"地震", ""},
	}
	for _, tt := range hazards {
		t.Run("hazard "+tt.in, func(t *testing.T) {
			got, err := ParseHazard(tt.in)
			if tt.want == "" {
				assert.True(t, muster.IsCode(err, muster.EInvalid))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	caps := []struct {
		in   string
		want CAPCategory
	}{
		{"Met", CAPMet}, {"met", CAPMet}, {"CBRNE", CAPCBRNE}, {"cbrne", CAPCBRNE}, {"Health", CAPHealth}, {"Weather", ""},
	}
	for _, tt := range caps {
		t.Run("cap "+tt.in, func(t *testing.T) {
			got, err := ParseCAPCategory(tt.in)
			if tt.want == "" {
				assert.True(t, muster.IsCode(err, muster.EInvalid))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParsePeriod(t *testing.T) {
	tests := []struct {
		in   string
		want Period
		err  string // a substring of the error; "" for none
	}{
		{in: "3y", want: Period{Years: 3}},
		{in: "18mo", want: Period{Months: 18}},
		{in: "90d", want: Period{Days: 90}},
		{in: "1y6mo", want: Period{Years: 1, Months: 6}},
		{in: " 1Y 6MO 10D ", want: Period{Years: 1, Months: 6, Days: 10}},
		{in: "2 years", want: Period{Years: 2}},
		{in: "3年", want: Period{Years: 3}},
		{in: "6个月", want: Period{Months: 6}},
		{in: "90天", want: Period{Days: 90}},
		{in: "", err: "empty"},
		{in: "3", err: "3 has no unit"},
		{in: "6m", err: "write mo for months"},
		{in: "2w", err: `unknown unit "w"`},
		{in: "y", err: "a number must come before each unit"},
		{in: "-1y", err: "a number must come before each unit"},
		{in: "1y2y", err: "each unit may be given once"},
		{in: "0y", err: "zero"},
		{in: "99999y", err: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePeriod(tt.in)
			if tt.err != "" {
				require.Error(t, err)
				assert.True(t, muster.IsCode(err, muster.EInvalid))
				assert.Contains(t, err.Error(), tt.err)
				assert.Contains(t, err.Error(), "want a period such as 3y, 18mo or 90d")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			again, err := ParsePeriod(got.String())
			require.NoError(t, err, "String is read back")
			assert.Equal(t, got, again)
		})
	}
}

func TestPeriodAddToAndJSON(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	at := time.Date(2024, 2, 29, 9, 30, 0, 0, loc)
	assert.Equal(t, time.Date(2027, 3, 1, 9, 30, 0, 0, loc), Period{Years: 3}.AddTo(at), "29 February plus 3y is 1 March")
	assert.Equal(t, time.Date(2025, 8, 29, 9, 30, 0, 0, loc), Period{Years: 1, Months: 6}.AddTo(at))
	assert.Equal(t, Period{Months: 18}.AddTo(at), Period{Months: 18}.canonical().AddTo(at), "folding months into years adds the same")
	assert.Equal(t, Period{Years: 1, Months: 6}, Period{Months: 18}.canonical())

	b, err := json.Marshal(DrillIntervals{Full: Period{Years: 2}, Notification: Period{Months: 6}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"full":"2y","notification":"6mo"}`, string(b))
	var back DrillIntervals
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, DrillIntervals{Full: Period{Years: 2}, Notification: Period{Months: 6}}, back)
	assert.Error(t, json.Unmarshal([]byte(`{"full":"2 weeks"}`), &back))
}

// The flood example shows the field: notification drills twice a year.
func TestExamplePlanDrillIntervals(t *testing.T) {
	p, _ := loadExample(t, "flood.yaml")
	assert.Equal(t, DrillIntervals{Full: Period{Years: 3}, Notification: Period{Months: 6}}, p.Drills)
	assert.Empty(t, p.Validate())
}

// A plan that says nothing about drills gets the defaults, and its JSON
// (and so its hash) is what it was before plans had drill intervals.
func TestPlanDrillIntervalDefaults(t *testing.T) {
	p, _ := loadExample(t, "hazmat-fire.yaml")
	assert.True(t, p.Drills.Full.IsZero())
	assert.Equal(t, Period{Years: 3}, p.FullDrillInterval())
	assert.Equal(t, Period{Years: 1}, p.NotificationDrillInterval())
	b, err := json.Marshal(p)
	require.NoError(t, err)
	assert.NotContains(t, string(b), `"drills"`)

	p.Drills = DrillIntervals{Notification: Period{Months: 6}}
	assert.Equal(t, Period{Years: 3}, p.FullDrillInterval(), "a field left out keeps its default")
	assert.Equal(t, Period{Months: 6}, p.NotificationDrillInterval())
	b, err = json.Marshal(p)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"drills":{"notification":"6mo"}`)
}
