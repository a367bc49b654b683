package plans

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"

	"muster"
)

// decodeProblems decodes a testdata plan that must fail and returns its problems.
func decodeProblems(t *testing.T, name string) (*muster.Error, []Problem) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "plans", name))
	require.NoError(t, err)
	p, err := DecodePlan(name, src)
	require.Error(t, err)
	assert.Nil(t, p)
	var merr *muster.Error
	require.True(t, errors.As(err, &merr), "error %T is not a *muster.Error", err)
	require.Equal(t, muster.EInvalid, merr.Code)
	problems, ok := merr.Details.([]Problem)
	require.True(t, ok, "Details is %T, want []Problem", merr.Details)
	require.NotEmpty(t, problems)
	return merr, problems
}

func TestDecodePlanBad(t *testing.T) {
	type want struct {
		line  int
		field string
		msg   string // a substring of the message
	}
	tests := []struct {
		name  string
		file  string
		first want   // the first problem, which the error message names
		also  []want // further problems that must be listed
		count int    // number of problems, when it matters
	}{
		{name: "unknown fields, every one listed", file: "bad-unknown-field.yaml",
			first: want{4, "owner", `unknown field "owner"`},
			also:  []want{{17, "levels.IV.groups[0].roles[0].select.tegs", `did you mean "tags"`}}, count: 2},
		{name: "empty levels", file: "bad-empty-levels.yaml",
			first: want{6, "levels", "at least one of the levels"}, count: 1},
		{name: "missing id title hazard scope", file: "bad-missing-fields.yaml",
			first: want{2, "id", "missing"},
			also: []want{{2, "title", "missing"}, {2, "hazard", "missing"}, {2, "scope", "missing"},
				{4, "levels.I.ack_deadline", "missing"}, {4, "levels.I.groups", "missing"}, {4, "levels.I.sms", "missing"}},
			count: 7},
		{name: "bad id, unknown hazard and cap category", file: "bad-id-hazard-cap.yaml",
			first: want{1, "id", "Flood_Control"},
			also:  []want{{3, "hazard", `unknown "地震"`}, {4, "cap_category", `unknown "Weather"`}}, count: 3},
		{name: "unknown level key", file: "bad-level-key.yaml",
			first: want{7, "levels.V", `unknown level "V"`}, count: 1},
		{name: "level given twice in two spellings", file: "bad-duplicate-level.yaml",
			first: want{7, "levels.IV.ack_deadline", "missing"},
			also:  []want{{9, "levels.IV", `"Ⅳ" means the same as the key at line 7`}}},
		{name: "empty level", file: "bad-empty-level.yaml",
			first: want{10, "levels.IV.groups", "at least one group"}, count: 1},
		{name: "duplicate group and role names", file: "bad-duplicates.yaml",
			first: want{17, "levels.IV.groups[0].roles[1].name", `role "网格员" is already defined at levels.IV.groups[0].roles[0]`},
			also:  []want{{19, "levels.IV.groups[1].name", `group "网格力量" is already defined`}}, count: 2},
		{name: "empty selector, negative count, unknown category, bad region code", file: "bad-selector.yaml",
			first: want{14, "levels.IV.groups[0].roles[0].select", "empty"},
			also: []want{{15, "levels.IV.groups[0].roles[0].count", "-1"},
				{17, "levels.IV.groups[0].roles[1].select.categories[0]", `unknown category "村民"`},
				{17, "levels.IV.groups[0].roles[1].select.regions[0]", `region code "99010"`}},
			count: 4},
		{name: "ack deadline missing and unparsable duration", file: "bad-ack-deadline.yaml",
			first: want{7, "levels.IV.ack_deadline", "missing"},
			also:  []want{{18, "levels.IV.escalation[0].after", `"10 minutes": want a duration`}}, count: 2},
		{name: "ack deadline zero", file: "bad-ack-zero.yaml",
			first: want{9, "levels.IV.ack_deadline", "not positive"}, count: 1},
		{name: "escalation out of order and unknown action", file: "bad-escalation.yaml",
			first: want{21, "levels.IV.escalation[1].after", "strictly increasing"},
			also:  []want{{24, "levels.IV.escalation[2].do", `unknown "email"`}}, count: 2},
		{name: "voice step without voice template", file: "bad-voice-missing.yaml",
			first: want{7, "levels.IV.voice", "uses voice"}, count: 1},
		{name: "template does not parse", file: "bad-template-parse.yaml",
			first: want{17, "levels.IV.sms", "does not parse"}, count: 1},
		{name: "template refers to an unknown field", file: "bad-template-field.yaml",
			first: want{17, "levels.IV.sms", "Nmae"}, count: 1},
		{name: "template uses range", file: "bad-template-range.yaml",
			first: want{18, "levels.IV.sms_en", "range"}, count: 1},
		{name: "drill words in live templates", file: "bad-drill-word.yaml",
			first: want{17, "levels.IV.sms", `drill word "演练"`},
			also:  []want{{18, "levels.IV.sms_en", `drill word "TEST"`}}, count: 2},
		{name: "drill words in the names LIVE messages say", file: "bad-drill-word-names.yaml",
			first: want{2, "title", `"防汛测试预案" says "测试": it goes into LIVE messages`},
			also: []want{{3, "sender", `"【演练】" says "演练"`}, {9, "levels.IV.name", `"演习级" says "演习"`},
				{15, "levels.IV.groups[0].roles[0].name", `"Drill crew" says "Drill"`}},
			count: 4},
		{name: "drill words hidden as a phone would show them", file: "bad-hidden-drill-word.yaml",
			first: want{2, "title", `"防汛演練预案" says "演练"`},
			also: []want{{6, "sender", `says "演练"`}, {18, "levels.IV.sms", "invisible formatting character U+200B"},
				{18, "levels.IV.sms", `drill word "演练"`}, {19, "levels.IV.sms_en", `drill word "TEST"`}},
			count: 5},
		{name: "SMS longer than 10 segments", file: "bad-sms-too-long.yaml",
			first: want{17, "levels.IV.sms", "13 SMS segments"}, count: 1},
		{name: "approvals below two at level II", file: "bad-approvals.yaml",
			first: want{9, "levels.II.approvals", "at least 2"}, count: 1},
		{name: "values of the wrong type", file: "bad-wrong-type.yaml",
			first: want{5, "scope", "want a list"},
			also: []want{{17, "levels.IV.groups[0].roles[0].count", "whole number"},
				{18, "levels.IV.groups[0].roles[0].must_ack", "true or false"}},
			count: 3},
		{name: "custom tag", file: "bad-tag.yaml",
			first: want{5, "scope", "tag !regions"}, count: 1},
		{name: "alias to no anchor", file: "bad-alias.yaml",
			first: want{16, "levels.IV.groups[0].roles[0].select.tags", "*missing"}, count: 1},
		{name: "malformed flow mapping", file: "bad-malformed.yaml",
			first: want{15, "", "'}'"}, count: 1},
		{name: "bad indentation", file: "bad-indent.yaml",
			first: want{9, "", "not allowed"}, count: 1},
		{name: "a tab indents", file: "bad-tab.yaml",
			first: want{9, "", "a tab: YAML indents with spaces"}, count: 1},
		{name: "two documents", file: "bad-two-documents.yaml",
			first: want{22, "", "one YAML document"}, count: 1},
		{name: "empty file", file: "bad-empty.yaml",
			first: want{1, "", "empty file"}, count: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			merr, problems := decodeProblems(t, tt.file)
			first := problems[0]
			assert.Equal(t, tt.first.line, first.Line, "first problem: %+v", first)
			assert.Equal(t, tt.first.field, first.Field, "first problem: %+v", first)
			assert.Contains(t, first.Message, tt.first.msg)
			assert.Equal(t, tt.file, first.File)

			prefix := tt.file + ":" + strconv.Itoa(tt.first.line) + ": "
			if tt.first.field != "" {
				prefix += tt.first.field + ": "
			}
			assert.True(t, strings.HasPrefix(merr.Message, "invalid plan: "+prefix), "message %q does not start with %q", merr.Message, prefix)

			for _, w := range tt.also {
				assert.True(t, hasProblem(problems, w.line, w.field, w.msg), "missing problem %d %s %q in %+v", w.line, w.field, w.msg, problems)
			}
			if tt.count > 0 {
				assert.Len(t, problems, tt.count, "%+v", problems)
			}
			for _, p := range problems {
				assert.Positive(t, p.Line, "every problem has a line: %+v", p)
			}
		})
	}
}

func hasProblem(problems []Problem, line int, field, msg string) bool {
	for _, p := range problems {
		if p.Line == line && p.Field == field && strings.Contains(p.Message, msg) {
			return true
		}
	}
	return false
}

func TestDecodePlanMinimal(t *testing.T) {
	src, err := os.ReadFile("testdata/plans/good-minimal.yaml")
	require.NoError(t, err)
	p, err := DecodePlan("good-minimal.yaml", src)
	require.NoError(t, err)

	assert.Equal(t, PlanID("minimal"), p.ID)
	assert.Equal(t, HazardNatural, p.Hazard, "natural is canonicalised")
	assert.Equal(t, CAPMet, p.CAPCategory, "met is canonicalised")
	assert.Equal(t, []RegionCode{"990100"}, p.Scope)
	require.Len(t, p.Levels, 1)
	l := p.Levels[0]
	assert.Equal(t, LevelIV, l.Code, "Ⅳ is canonicalised")
	assert.Equal(t, "一般", l.Name, "default name")
	assert.Equal(t, 1, l.Approvals, "default approvals for IV")
	assert.Equal(t, 30*time.Minute, l.AckDeadline.Std())
	require.Len(t, l.Groups, 1)
	require.Len(t, l.Groups[0].Roles, 1)
	r := l.Groups[0].Roles[0]
	assert.Equal(t, Selector{Categories: []Category{CatGridWorker}, Tags: []string{"网格员"}}, r.Select)
	assert.Equal(t, 1, r.Count, "default count")
	assert.Equal(t, ReachActivation, r.Reach, "default reach")
	assert.Equal(t, []EscalationStep{{After: Duration(10 * time.Minute), Do: EscalateSMS}}, l.Escalation)
	assert.Empty(t, p.Validate())
	assert.Same(t, &p.Levels[0], p.Level(LevelIV))
	assert.Nil(t, p.Level(LevelI))
}

// A plan file as a Windows editor saves it reads as the same plan: with a
// UTF-8 byte order mark (Notepad's "UTF-8 with BOM"), in UTF-16, or in GBK
// ("ANSI" on Chinese Windows). Before, the mark made "\ufeffid" an unknown
// field, and GBK text was stored as U+FFFD, which LIVE SMS would have said.
// A file in none of them is refused, saying how to save it.
func TestDecodePlanAsAnEditorSavedIt(t *testing.T) {
	src, err := os.ReadFile("testdata/plans/good-minimal.yaml")
	require.NoError(t, err)
	want, err := DecodePlan("good-minimal.yaml", src)
	require.NoError(t, err)
	require.True(t, strings.ContainsFunc(string(src), func(r rune) bool { return r > 0x2e80 }), "the plan has Chinese text")
	gbk, err := simplifiedchinese.GBK.NewEncoder().Bytes(src)
	require.NoError(t, err)
	utf16, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes(src)
	require.NoError(t, err)
	for name, saved := range map[string][]byte{"bom": append([]byte("\ufeff"), src...), "utf-16": utf16, "gbk": gbk} {
		t.Run(name, func(t *testing.T) {
			p, err := DecodePlan("saved.yaml", saved)
			require.NoError(t, err)
			assert.Equal(t, want, p)
			text, err := PlanText("saved.yaml", saved)
			require.NoError(t, err)
			assert.Equal(t, string(src), string(text))
		})
	}
	_, err = DecodePlan("latin1.yaml", []byte("id: x\ntitle: Jos\xe9\xff\xfe\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "latin1.yaml:1: plan file is neither UTF-8 nor GBK")
	assert.Contains(t, err.Error(), "save it as UTF-8")
}

func TestDecodePlanTooLarge(t *testing.T) {
	src := make([]byte, MaxPlanFileSize+1)
	_, err := DecodePlan("big.yaml", src)
	require.Error(t, err)
	assert.True(t, muster.IsCode(err, muster.EInvalid))
	assert.Contains(t, err.Error(), "big.yaml:1: file is")
}

// Inputs that would make the YAML parser or the alias expansion slow are
// refused early with a located problem.
func TestDecodePlanPathological(t *testing.T) {
	// 1000 groups of 1000 roles of 1000 tags, in 12 KB.
	many := func(alias string) string { return strings.Repeat(", *"+alias, 999) }
	bomb := "levels:\n  I:\n    criteria: x\n    groups: [&g {name: a, roles: [&r {name: b, select: {tags: [&t x" + many("t") +
		"]}}" + many("r") + "]}" + many("g") + "]\n"
	tests := []struct {
		name string
		src  string
		line int
		msg  string
	}{
		{"deep unclosed flow", "id: " + strings.Repeat("[", 200_000), 1, "nested [ ]"},
		{"deep flow mappings", "levels: " + strings.Repeat("{a: ", 60_000), 1, "nested [ ]"},
		{"deep block sequences", "id: x\n" + strings.Repeat("- ", 120_000) + "x", 2, "beyond column"},
		{"deep indentation", "id: x\nlevels:\n" + strings.Repeat(" ", 300) + "I: {}\n", 3, "beyond column"},
		{"alias bomb", bomb, 4, "more than 100000 values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodePlan("bad.yaml", []byte(tt.src))
			require.Error(t, err)
			var merr *muster.Error
			require.True(t, errors.As(err, &merr))
			problems := merr.Details.([]Problem)
			require.NotEmpty(t, problems)
			assert.Equal(t, tt.line, problems[0].Line, "%+v", problems[0])
			assert.True(t, hasProblem(problems, problems[0].Line, problems[0].Field, tt.msg), "%+v", problems)
		})
	}
}

// Two files that mean the same thing decode to equal plans with equal hashes.
func TestNormalizeAndHash(t *testing.T) {
	a := `id: same
title: 同一预案
hazard: 自然灾害
cap_category: Met
scope: ["990101", "990102"]
levels:
  IV:
    name: 一般
    criteria: 局部积水
    approvals: 1
    ack_deadline: 30m
    groups:
      - name: 网格力量
        roles:
          - name: 网格员
            select: {categories: [网格员], tags: [防汛, 网格员]}
            reach: activation
            count: 1
    sms: "{{.Plan}}启动{{.LevelName}}响应，请{{.Name}}回复1到岗。"
`
	b := `# the same plan, spelled differently
levels:
  4:
    criteria: "  局部积水  "
    ack_deadline: 1800s
    groups:
      - name: 网格力量
        roles:
          - name: 网格员
            select: {tags: [网格员, 防汛, 网格员], categories: [grid_worker]}
    sms: |
      {{.Plan}}启动{{.LevelName}}响应，请{{.Name}}回复1到岗。
scope: ["990102", "990101", "990101"]
cap_category: met
hazard: natural
title: 同一预案
id: same
`
	pa, err := DecodePlan("a.yaml", []byte(a))
	require.NoError(t, err)
	pb, err := DecodePlan("b.yaml", []byte(b))
	require.NoError(t, err)
	assert.Equal(t, pa, pb)
	assert.Equal(t, pa.Hash(), pb.Hash())
	assert.Len(t, pa.Hash(), 64)

	c := pa.Clone()
	c.Levels[0].Groups[0].Roles[0].Count = 2
	assert.NotEqual(t, pa.Hash(), c.Hash(), "a real change changes the hash")
	assert.Equal(t, 1, pa.Levels[0].Groups[0].Roles[0].Count, "Clone is deep")

	before := pa.Hash()
	pa.Normalize()
	assert.Equal(t, before, pa.Hash(), "Normalize is idempotent")
}

func TestCheckReferences(t *testing.T) {
	src := []byte(`id: refs
title: 区域引用检查
hazard: 事故灾难
cap_category: Fire
scope: ["990199", "990100"]
levels:
  III:
    criteria: 较大事故
    ack_deadline: 20m
    groups:
      - name: 网格力量
        roles:
          - name: 网格员
            select:
              categories: [网格员]
              regions: ["990101", "990188001"]
    sms: "{{.Plan}}启动{{.LevelName}}响应，请{{.Name}}回复1到岗。"
`)
	p, err := DecodePlan("refs.yaml", src)
	require.NoError(t, err)
	exists := func(c RegionCode) bool { return c == "990100" || c == "990101" }

	problems := p.CheckReferences("refs.yaml", src, exists)
	require.Len(t, problems, 2)
	assert.Equal(t, Problem{File: "refs.yaml", Line: 5, Column: 9, Field: "scope[0]",
		Message: "region 990199 does not exist: add it to the region tree or correct the code"}, problems[0])
	assert.Equal(t, 16, problems[1].Line)
	assert.Equal(t, "levels.III.groups[0].roles[0].select.regions[1]", problems[1].Field)
	assert.Contains(t, problems[1].Message, "990188001")

	// Without the source the problems are still reported, without lines.
	problems = p.CheckReferences("", nil, exists)
	require.Len(t, problems, 2)
	assert.Zero(t, problems[0].Line)
	assert.Equal(t, "scope[1]", problems[0].Field, "index in the normalized (sorted) scope")

	assert.Empty(t, p.CheckReferences("refs.yaml", src, func(RegionCode) bool { return true }))
}

func TestDecodePlanAnchorsAndMerge(t *testing.T) {
	src := []byte(`id: anchors
title: 锚点复用
hazard: 社会安全
cap_category: Security
scope: ["990100"]
levels:
  III:
    criteria: 较大事件
    ack_deadline: 20m
    groups: &groups
      - name: 网格力量
        roles:
          - name: 网格员
            select: &grid {categories: [网格员]}
    sms: &sms "{{.Plan}}启动{{.LevelName}}响应，请{{.Name}}回复1到岗。"
  IV:
    <<: {criteria: 一般事件, ack_deadline: 30m}
    groups: *groups
    sms: *sms
`)
	p, err := DecodePlan("anchors.yaml", src)
	require.NoError(t, err)
	require.Len(t, p.Levels, 2)
	assert.Equal(t, p.Levels[0].Groups, p.Levels[1].Groups)
	assert.Equal(t, "一般事件", p.Levels[1].Criteria)
	assert.Equal(t, p.Levels[0].SMS, p.Levels[1].SMS)
}

func TestProblemString(t *testing.T) {
	assert.Equal(t, "a.yaml:7: levels.I: bad", Problem{File: "a.yaml", Line: 7, Field: "levels.I", Message: "bad"}.String())
	assert.Equal(t, "levels.I: bad", Problem{Field: "levels.I", Message: "bad"}.String())
	assert.Equal(t, "a.yaml:1: bad", Problem{File: "a.yaml", Line: 1, Message: "bad"}.String())
	assert.NoError(t, ProblemsError(nil))
	err := ProblemsError([]Problem{{Message: "one"}, {Message: "two"}, {Message: "three"}})
	assert.Equal(t, "invalid plan: one (and 2 more problems)", err.Error())
}

// fuzzSeeds returns the example plans and every testdata plan.
func fuzzSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, pattern := range []string{"../examples/plans/*.yaml", "testdata/plans/*.yaml"} {
		files, err := filepath.Glob(pattern)
		require.NoError(t, err)
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			seeds = append(seeds, b)
		}
	}
	return seeds
}

func FuzzDecodePlan(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := DecodePlan("fuzz.yaml", src)
		if err != nil {
			require.Nil(t, p)
			var merr *muster.Error
			require.True(t, errors.As(err, &merr), "error %T %v", err, err)
			require.Equal(t, muster.EInvalid, merr.Code)
			problems, ok := merr.Details.([]Problem)
			require.True(t, ok)
			require.NotEmpty(t, problems)
			for _, pr := range problems {
				require.Positive(t, pr.Line, "%+v", pr)
				require.NotEmpty(t, pr.Message)
			}
			return
		}
		require.NotNil(t, p)
		require.Empty(t, p.Validate())
		h := p.Hash()
		c := p.Clone()
		c.Normalize()
		require.Equal(t, h, c.Hash())
		for i := range p.Levels {
			l := &p.Levels[i]
			for _, lang := range []Language{LangZH, LangEN} {
				for _, tmpl := range []string{l.SMSTemplate(lang), l.VoiceTemplate(lang)} {
					if tmpl == "" {
						continue
					}
					_, err := RenderMessage(tmpl, SampleMessageData(p, l, lang))
					require.NoError(t, err)
				}
			}
		}
		p.CheckReferences("fuzz.yaml", src, func(RegionCode) bool { return false })
	})
}

func TestDecodePlanDrillIntervals(t *testing.T) {
	const head = `id: drilled
title: 周期预案
hazard: natural
cap_category: met
scope: ["990100"]
`
	const levels = `levels:
  IV:
    criteria: 局部积水
    ack_deadline: 30m
    groups:
      - name: 网格力量
        roles:
          - name: 网格员
            select: {tags: [网格员]}
    sms: "{{.Plan}}启动{{.LevelName}}响应，请{{.Name}}回复1到岗。"
`
	tests := []struct {
		name         string
		drills       string // lines from line 6 on
		full, notify Period // the intervals in force
		stored       DrillIntervals
		line         int // of the first problem; 0 when the plan is good
		field, msg   string
	}{
		{name: "left out: defaults", full: Period{Years: 3}, notify: Period{Years: 1}},
		{name: "both given", drills: "drills: {full: 2y, notification: 6mo}\n",
			full: Period{Years: 2}, notify: Period{Months: 6}, stored: DrillIntervals{Full: Period{Years: 2}, Notification: Period{Months: 6}}},
		{name: "one given", drills: "drills:\n  notification: 90d\n",
			full: Period{Years: 3}, notify: Period{Days: 90}, stored: DrillIntervals{Notification: Period{Days: 90}}},
		{name: "months folded into years", drills: "drills: {full: 30mo}\n",
			full: Period{Years: 2, Months: 6}, notify: Period{Years: 1}, stored: DrillIntervals{Full: Period{Years: 2, Months: 6}}},
		{name: "unknown unit", drills: "drills:\n  full: 3x\n", line: 7, field: "drills.full", msg: `"3x": unknown unit "x"`},
		{name: "m is ambiguous", drills: "drills:\n  full: 3y\n  notification: 6m\n", line: 8, field: "drills.notification", msg: "write mo for months"},
		{name: "bare number", drills: "drills:\n  full: 3\n", line: 7, field: "drills.full", msg: "3 has no unit"},
		{name: "zero", drills: "drills:\n  notification: 0d\n", line: 7, field: "drills.notification", msg: "zero"},
		{name: "longer than ten years", drills: "drills:\n  full: 11y\n", line: 7, field: "drills.full", msg: "at least every 10y"},
		{name: "unknown kind", drills: "drills:\n  tabletop: 1y\n", line: 7, field: "drills.tabletop", msg: "want one of full, notification"},
		{name: "not a mapping", drills: "drills: 3y\n", line: 6, field: "drills", msg: "want a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := DecodePlan("drilled.yaml", []byte(head+tt.drills+levels))
			if tt.line == 0 {
				require.NoError(t, err, "%v", problemDetails(err))
				assert.Equal(t, tt.stored, p.Drills)
				assert.Equal(t, tt.full, p.FullDrillInterval())
				assert.Equal(t, tt.notify, p.NotificationDrillInterval())
				return
			}
			require.Error(t, err)
			var merr *muster.Error
			require.True(t, errors.As(err, &merr))
			problems, ok := merr.Details.([]Problem)
			require.True(t, ok)
			assert.True(t, hasProblem(problems, tt.line, tt.field, tt.msg), "want %d %s %q in %+v", tt.line, tt.field, tt.msg, problems)
			assert.Len(t, problems, 1, "%+v", problems)
		})
	}
}

// A plan built in code is held to the same drill intervals as a file.
func TestValidateDrillIntervals(t *testing.T) {
	p, _ := loadExample(t, "flood.yaml")
	p.Drills = DrillIntervals{Full: Period{Years: -1}, Notification: Period{Years: 10, Days: 1}}
	problems := p.Validate()
	require.Len(t, problems, 2, "%+v", problems)
	assert.Equal(t, "drills.full", problems[0].Field)
	assert.Contains(t, problems[0].Message, "want a positive period")
	assert.Equal(t, "drills.notification", problems[1].Field)
	assert.Contains(t, problems[1].Message, "10y1d")
}
