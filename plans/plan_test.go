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

					enc, _, segs := SMSSegments(sms)
					assert.Equal(t, EncodingUCS2, enc)
					assert.GreaterOrEqual(t, segs, 2, "level %s %s SMS: %q", l.Code, lang, sms)
					assert.LessOrEqual(t, segs, 3, "level %s %s SMS: %q", l.Code, lang, sms)
					_, _, exSegs := SMSSegments(ExerciseMark + sms)
					assert.LessOrEqual(t, exSegs, 3, "level %s %s exercise SMS", l.Code, lang)

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
