package cap

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// cst is China Standard Time; a fixed zone keeps the tests independent of
// the machine's time zone database.
var cst = time.FixedZone("CST", 8*60*60)

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, cst)
	if err != nil {
		panic(err)
	}
	return t
}

const sender = "muster.990100.example.cn"

var (
	donghu   = Region{Code: "990101", Name: "东湖区", NameEN: "Donghu District"}
	jiangbei = Region{Code: "990102", Name: "江北区", NameEN: "Jiangbei District"}
	xingfuli = Region{Code: "990101001001", Name: "幸福里社区"}
)

func liveActivation() Activation {
	return Activation{
		Header: Header{
			Identifier: "act-20261123-0001",
			Sender:     sender,
			Sent:       at("2026-11-23 09:00:00").Add(345 * time.Millisecond),
			Purpose:    PurposeLive,
		},
		Level:    LevelI,
		Category: CategoryMet,
		Regions:  []Region{donghu, jiangbei, xingfuli},
		Expires:  at("2026-11-24 09:00:00"),
		ZH: Text{
			Event:       "防汛Ⅰ级应急响应",
			Headline:    "示例市启动防汛特别重大（Ⅰ级）应急响应",
			Description: "受持续强降雨影响，东湖区、江北区出现严重内涝。\n示例市防汛抗旱指挥部决定启动Ⅰ级应急响应。",
			Instruction: "相关人员请立即到岗，并在15分钟内回复：1到岗，2不能到岗并说明原因。",
			SenderName:  "示例市防汛抗旱指挥部",
		},
		EN: Text{
			Event:       "Level I flood response",
			Headline:    "Example City activates its level I flood response",
			Description: "Continuous heavy rain has flooded Donghu and Jiangbei districts.",
			Instruction: "Report to your post now and reply within 15 minutes: 1 coming, 2 cannot (why).",
			SenderName:  "Example City Flood Control Headquarters",
		},
	}
}

func exerciseActivation() Activation {
	return Activation{
		Header: Header{
			Identifier: "act-20261120-0007",
			Sender:     sender,
			Sent:       at("2026-11-20 14:30:00"),
			Purpose:    PurposeExercise,
			Note:       "2026年冬季危化品火灾通讯演练",
		},
		Level:    LevelIII,
		Category: CategoryCBRNE,
		Regions:  []Region{jiangbei},
		Forecast: true,
		ZH: Text{
			Event:       "危化品火灾Ⅲ级应急响应",
			Description: "江北区某化工园区储罐起火（演练情景）。",
			Instruction: "请回复1确认收到。",
		},
	}
}

func orangeWarning() Warning {
	return Warning{
		Header: Header{
			Identifier: "warn-20261123-0003",
			Sender:     sender,
			Sent:       at("2026-11-23 08:58:00"),
			Purpose:    PurposeLive,
		},
		Colour:    ColourOrange,
		Category:  CategoryMet,
		Regions:   []Region{donghu, jiangbei},
		Onset:     at("2026-11-23 10:00:00"),
		Expires:   at("2026-11-23 20:00:00"),
		Responses: []ResponseType{ResponsePrepare, ResponseAvoid},
		ZH: Text{
			Event:       "暴雨",
			Headline:    "暴雨橙色预警",
			Description: "预计未来3小时内东湖区、江北区降雨量将达50毫米以上。",
			Instruction: "停止户外作业，远离低洼地带和地下空间。",
			SenderName:  "示例市应急管理局",
		},
		EN: Text{
			Event:    "Rainstorm",
			Headline: "Orange rainstorm warning",
		},
	}
}

func levelUpdate(orig *Alert) Activation {
	a := liveActivation()
	a.Identifier = "act-20261123-0002"
	a.Sent = at("2026-11-23 11:00:00")
	a.Level = LevelII
	a.Updates = []Reference{orig.Reference()}
	a.ZH.Event, a.ZH.Headline = "防汛Ⅱ级应急响应", "示例市防汛应急响应调整为重大（Ⅱ级）"
	a.EN = Text{}
	return a
}

func cancelOf(orig *Alert) Cancel {
	return Cancel{
		Header: Header{
			Identifier: "act-20261123-0001-cancel",
			Sender:     sender,
			Sent:       at("2026-11-23 09:01:30"),
			Purpose:    PurposeLive,
			Scope:      orig.Scope,
			Note:       "误发，撤销。Sent in error; cancelled.",
		},
		Cancels: []Reference{orig.Reference()},
	}
}

func utcTestWarning() Warning {
	return Warning{
		Header: Header{
			Identifier: "warn-test-0001",
			Sender:     sender,
			Sent:       time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC),
			Purpose:    PurposeTest,
			Scope:      ScopePrivate,
			Addresses:  "duty-officer@990100.example.cn",
		},
		Colour:   ColourBlue,
		Category: CategoryOther,
		Regions:  []Region{{Code: "990100", Name: "示例市", NameEN: "Example City"}},
		Expires:  time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC),
		Observed: true,
		ZH:       Text{Event: "系统测试"},
		EN:       Text{Event: "System test"},
	}
}

// goldenCase is one alert the package produces in tests, with its golden file.
type goldenCase struct {
	name  string // testdata/<name>.xml
	build func(t *testing.T) *Alert
}

// builder is what Activation, Warning and Cancel have in common.
type builder interface{ Alert() (*Alert, error) }

func mustBuild(t *testing.T, b builder) *Alert {
	t.Helper()
	a, err := b.Alert()
	require.NoError(t, err)
	return a
}

func goldenCases() []goldenCase {
	live := func(t *testing.T) *Alert { return mustBuild(t, liveActivation()) }
	return []goldenCase{
		{"activation-live", live},
		{"activation-exercise", func(t *testing.T) *Alert { return mustBuild(t, exerciseActivation()) }},
		{"activation-update", func(t *testing.T) *Alert { return mustBuild(t, levelUpdate(live(t))) }},
		{"warning-orange", func(t *testing.T) *Alert { return mustBuild(t, orangeWarning()) }},
		{"warning-test-utc", func(t *testing.T) *Alert { return mustBuild(t, utcTestWarning()) }},
		{"cancel", func(t *testing.T) *Alert { return mustBuild(t, cancelOf(live(t))) }},
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.build(t).Marshal()
			require.NoError(t, err)
			path := filepath.Join("testdata", tc.name+".xml")
			if *update {
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./cap -run TestGolden -update to create it")
			assert.Equal(t, string(want), string(got))
		})
	}
}

// TestGoldenFilesAreAllProduced keeps testdata/ free of golden files no
// case writes any more.
func TestGoldenFilesAreAllProduced(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.xml"))
	require.NoError(t, err)
	var names []string
	for _, tc := range goldenCases() {
		names = append(names, filepath.Join("testdata", tc.name+".xml"))
	}
	assert.ElementsMatch(t, names, files)
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			built := tc.build(t)
			doc, err := built.Marshal()
			require.NoError(t, err)
			parsed, err := Parse(doc)
			require.NoError(t, err)
			assert.Equal(t, inUTC(built), inUTC(parsed))
			again, err := parsed.Marshal()
			require.NoError(t, err)
			assert.Equal(t, string(doc), string(again))
		})
	}
}

// inUTC copies a with its times in UTC and no XMLName, so that alerts built
// in a named zone compare equal to the same alerts parsed from XML.
func inUTC(a *Alert) *Alert {
	c := *a
	c.XMLName.Space, c.XMLName.Local = "", ""
	c.Sent = Time{c.Sent.UTC()}
	c.Infos = append([]Info(nil), a.Infos...)
	for i := range c.Infos {
		in := &c.Infos[i]
		for _, tm := range []*Time{&in.Effective, &in.Onset, &in.Expires} {
			if !tm.IsZero() {
				tm.Time = tm.UTC()
			}
		}
	}
	return &c
}

func TestActivationMapping(t *testing.T) {
	a := mustBuild(t, liveActivation())
	assert.Equal(t, StatusActual, a.Status)
	assert.Equal(t, MsgTypeAlert, a.MsgType)
	assert.Equal(t, ScopeRestricted, a.Scope)
	assert.Equal(t, DefaultRestriction, a.Restriction)
	assert.Empty(t, a.References)
	assert.Equal(t, "2026-11-23T09:00:00+08:00", FormatTime(a.Sent.Time), "fractional seconds dropped")
	require.Len(t, a.Infos, 2)
	for i, lang := range []string{"zh-CN", "en-US"} {
		in := a.Infos[i]
		assert.Equal(t, lang, in.Language)
		assert.Equal(t, []Category{CategoryMet}, in.Categories)
		assert.Equal(t, SeverityExtreme, in.Severity)
		assert.Equal(t, UrgencyImmediate, in.Urgency)
		assert.Equal(t, CertaintyObserved, in.Certainty)
		assert.Equal(t, []ResponseType{ResponseExecute}, in.ResponseTypes)
		require.Len(t, in.Areas, 1)
		assert.Equal(t, []NamedValue{
			{GeocodeGBT2260, "990101"}, {GeocodeGBT2260, "990102"}, {GeocodeRegion, "990101001001"},
		}, in.Areas[0].Geocodes)
	}
	assert.Equal(t, "东湖区、江北区、幸福里社区", a.Infos[0].Areas[0].Desc)
	assert.Equal(t, "Donghu District, Jiangbei District, 幸福里社区", a.Infos[1].Areas[0].Desc, "a region without an English name keeps its Chinese one")
	assert.Equal(t, "示例市启动防汛特别重大（Ⅰ级）应急响应", a.Infos[0].Headline, "LIVE headlines carry no exercise mark")

	ex := mustBuild(t, exerciseActivation())
	assert.Equal(t, StatusExercise, ex.Status)
	require.Len(t, ex.Infos, 1, "no English text, no en-US block")
	assert.Equal(t, SeverityModerate, ex.Infos[0].Severity)
	assert.Equal(t, CertaintyLikely, ex.Infos[0].Certainty, "forecast")
	assert.Equal(t, "【演练】危化品火灾Ⅲ级应急响应", ex.Infos[0].Headline, "an exercise without a headline gets the mark and the event")

	upd := mustBuild(t, levelUpdate(a))
	assert.Equal(t, MsgTypeUpdate, upd.MsgType)
	assert.Equal(t, sender+",act-20261123-0001,2026-11-23T09:00:00+08:00", upd.References)
	assert.Equal(t, SeveritySevere, upd.Infos[0].Severity)
}

func TestWarningMapping(t *testing.T) {
	w := mustBuild(t, orangeWarning())
	assert.Equal(t, ScopePublic, w.Scope)
	assert.Empty(t, w.Restriction)
	require.Len(t, w.Infos, 2)
	for _, in := range w.Infos {
		assert.Equal(t, SeveritySevere, in.Severity)
		assert.Equal(t, UrgencyExpected, in.Urgency)
		assert.Equal(t, CertaintyLikely, in.Certainty)
		assert.Equal(t, "2026-11-23T10:00:00+08:00", FormatTime(in.Onset.Time))
		assert.Equal(t, "2026-11-23T20:00:00+08:00", FormatTime(in.Expires.Time))
	}

	in := orangeWarning()
	in.Observed, in.Responses, in.Purpose = true, nil, PurposeTest
	in.EN.Headline = ExerciseMarkEN + "Rainstorm drill"
	o := mustBuild(t, in)
	assert.Equal(t, StatusTest, o.Status)
	assert.Equal(t, UrgencyImmediate, o.Infos[0].Urgency)
	assert.Equal(t, CertaintyObserved, o.Infos[0].Certainty)
	assert.Equal(t, []ResponseType{ResponsePrepare}, o.Infos[0].ResponseTypes)
	assert.Equal(t, "【演练】暴雨橙色预警", o.Infos[0].Headline)
	assert.Equal(t, "[EXERCISE] Rainstorm drill", o.Infos[1].Headline, "a mark already there is not doubled")

	u := mustBuild(t, utcTestWarning())
	doc, err := u.Marshal()
	require.NoError(t, err)
	assert.Contains(t, string(doc), "<sent>2026-11-23T01:00:00-00:00</sent>")
	assert.NotContains(t, string(doc), "+00:00")
}

func TestCancel(t *testing.T) {
	live := mustBuild(t, liveActivation())
	w := mustBuild(t, orangeWarning())
	in := cancelOf(live)
	in.Cancels = append(in.Cancels, w.Reference())
	c := mustBuild(t, in)
	assert.Equal(t, MsgTypeCancel, c.MsgType)
	assert.Equal(t, ScopeRestricted, c.Scope)
	assert.Empty(t, c.Infos)
	assert.Equal(t, sender+",act-20261123-0001,2026-11-23T09:00:00+08:00 "+sender+",warn-20261123-0003,2026-11-23T08:58:00+08:00", c.References)
	refs, err := ParseReferences(c.References)
	require.NoError(t, err)
	require.Len(t, refs, 2)
	assert.Equal(t, live.Reference().String(), refs[0].String())
	assert.True(t, refs[1].Sent.Equal(w.Sent.Time))
}

func TestBuildErrors(t *testing.T) {
	live := mustBuild(t, liveActivation())
	tests := []struct {
		name    string
		build   func() (*Alert, error)
		element string // of one of the problems
		message string // in that problem
	}{
		{"identifier with space", func() (*Alert, error) { a := liveActivation(); a.Identifier = "act 1"; return a.Alert() }, "identifier", "white space"},
		{"identifier with comma", func() (*Alert, error) { a := liveActivation(); a.Identifier = "act,1"; return a.Alert() }, "identifier", "comma"},
		{"identifier with <", func() (*Alert, error) { a := liveActivation(); a.Identifier = "act<1"; return a.Alert() }, "identifier", "restricts < and &"},
		{"identifier with &", func() (*Alert, error) { a := orangeWarning(); a.Identifier = "w&1"; return a.Alert() }, "identifier", "restricts < and &"},
		{"identifier with ideographic space", func() (*Alert, error) { a := liveActivation(); a.Identifier = "act　1"; return a.Alert() }, "identifier", "white space"},
		{"no identifier", func() (*Alert, error) { a := liveActivation(); a.Identifier = ""; return a.Alert() }, "identifier", "missing"},
		{"sender with space", func() (*Alert, error) { a := liveActivation(); a.Sender = "示例市 应急"; return a.Alert() }, "sender", "white space"},
		{"no sent", func() (*Alert, error) { a := liveActivation(); a.Sent = time.Time{}; return a.Alert() }, "sent", "missing"},
		{"offset with seconds", func() (*Alert, error) {
			a := liveActivation()
			a.Sent = time.Date(2026, 11, 23, 9, 0, 0, 0, time.FixedZone("LMT", 8*3600+343))
			return a.Alert()
		}, "sent", "whole minutes"},
		{"year 10000", func() (*Alert, error) { a := liveActivation(); a.Sent = a.Sent.AddDate(8000, 0, 0); return a.Alert() }, "sent", "year 10026"},
		{"bad purpose", func() (*Alert, error) { a := liveActivation(); a.Purpose = "live"; return a.Alert() }, "purpose", "LIVE, EXERCISE or TEST"},
		{"bad level", func() (*Alert, error) { a := liveActivation(); a.Level = "Ⅰ"; return a.Alert() }, "level", "I, II, III or IV"},
		{"bad colour", func() (*Alert, error) { w := orangeWarning(); w.Colour = "橙色"; return w.Alert() }, "colour", "red, orange, yellow or blue"},
		{"no category", func() (*Alert, error) { a := liveActivation(); a.Category = ""; return a.Alert() }, "category", "DefaultCategory"},
		{"bad category", func() (*Alert, error) { a := liveActivation(); a.Category = "met"; return a.Alert() }, "category", "Geo, Met"},
		{"bad response", func() (*Alert, error) { w := orangeWarning(); w.Responses = []ResponseType{"Run"}; return w.Alert() }, "responses[0]", "Shelter"},
		{"bad scope", func() (*Alert, error) { a := liveActivation(); a.Scope = "Internal"; return a.Alert() }, "scope", "Public, Restricted or Private"},
		{"private without addresses", func() (*Alert, error) { a := liveActivation(); a.Scope = ScopePrivate; return a.Alert() }, "addresses", "names its recipients"},
		{"no regions", func() (*Alert, error) { a := liveActivation(); a.Regions = nil; return a.Alert() }, "regions", "at least one"},
		{"region code not digits", func() (*Alert, error) {
			a := liveActivation()
			a.Regions = []Region{{Code: "99010X", Name: "东湖区"}}
			return a.Alert()
		}, "regions[0].code", "6 (city, district)"},
		{"region code too short", func() (*Alert, error) {
			w := orangeWarning()
			w.Regions = []Region{donghu, {Code: "9901", Name: "东湖"}}
			return w.Alert()
		}, "regions[1].code", "digits"},
		{"region twice", func() (*Alert, error) { a := liveActivation(); a.Regions = []Region{donghu, donghu}; return a.Alert() }, "regions[1].code", "more than once"},
		{"region without name", func() (*Alert, error) {
			a := liveActivation()
			a.Regions = []Region{{Code: "990101"}}
			return a.Alert()
		}, "regions[0].name", "missing"},
		{"no zh event", func() (*Alert, error) { a := liveActivation(); a.ZH.Event = " "; return a.Alert() }, "zh.event", "missing"},
		{"live headline with exercise mark", func() (*Alert, error) {
			a := liveActivation()
			a.ZH.Headline = "【演练】" + a.ZH.Headline
			return a.Alert()
		}, "zh.headline", "must not look like a drill"},
		{"live english event with exercise mark", func() (*Alert, error) { w := orangeWarning(); w.EN.Event = "[EXERCISE] Rainstorm"; return w.Alert() }, "en.event", "must not look like a drill"},
		{"en text without event", func() (*Alert, error) { w := orangeWarning(); w.EN.Event = ""; return w.Alert() }, "en.event", "missing"},
		{"expires before sent", func() (*Alert, error) { a := liveActivation(); a.Expires = at("2026-11-23 08:00:00"); return a.Alert() }, "expires", "not after sent"},
		{"expires before onset", func() (*Alert, error) { w := orangeWarning(); w.Onset = at("2026-11-23 21:00:00"); return w.Alert() }, "expires", "not after onset"},
		{"update of itself", func() (*Alert, error) {
			a := liveActivation()
			a.Updates = []Reference{live.Reference()}
			return a.Alert()
		}, "updates[0]", "itself"},
		{"update with bad reference", func() (*Alert, error) {
			a := levelUpdate(live)
			a.Updates[0].Identifier = "a,b"
			return a.Alert()
		}, "updates[0].identifier", "comma"},
		{"cancel without references", func() (*Alert, error) { c := cancelOf(live); c.Cancels = nil; return c.Alert() }, "cancels", "missing"},
		{"cancel without scope", func() (*Alert, error) { c := cancelOf(live); c.Scope = ""; return c.Alert() }, "scope", "scope of the alerts cancelled"},
		{"cancel reference without sent", func() (*Alert, error) {
			c := cancelOf(live)
			c.Cancels[0].Sent = time.Time{}
			return c.Alert()
		}, "cancels[0].sent", "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := tt.build()
			require.Error(t, err)
			assert.Nil(t, a)
			assert.True(t, muster.IsCode(err, muster.EInvalid), "code %s", muster.ErrorCode(err))
			assertProblem(t, err, tt.element, tt.message)
		})
	}
}

// assertProblem checks that err lists a problem at element whose message
// contains message.
func assertProblem(t *testing.T, err error, element, message string) {
	t.Helper()
	var e *muster.Error
	require.ErrorAs(t, err, &e)
	problems, ok := e.Details.([]Problem)
	require.True(t, ok, "details %T", e.Details)
	for _, p := range problems {
		if p.Element == element && strings.Contains(p.Message, message) {
			return
		}
	}
	t.Errorf("no problem %s: …%s… in %q", element, message, problems)
}

func TestMarshalRefusesInvalidAlert(t *testing.T) {
	a := mustBuild(t, orangeWarning())
	a.Infos[0].Severity = "High"
	a.Infos[1].Categories = nil
	doc, err := a.Marshal()
	assert.Nil(t, doc)
	require.True(t, muster.IsCode(err, muster.EInvalid))
	assert.Contains(t, err.Error(), `info[0].severity: "High": want Extreme, Severe, Moderate, Minor or Unknown (and 1 more problem)`)
	assertProblem(t, err, "info[1].category", "missing")
}

func TestPurposeStatus(t *testing.T) {
	for p, want := range map[Purpose]Status{PurposeLive: StatusActual, PurposeExercise: StatusExercise, PurposeTest: StatusTest} {
		got, err := p.Status()
		require.NoError(t, err)
		assert.Equal(t, want, got, p)
	}
	_, err := Purpose("DRILL").Status()
	assert.True(t, muster.IsCode(err, muster.EInvalid))
}

func TestSeverities(t *testing.T) {
	levels := []Level{LevelI, LevelII, LevelIII, LevelIV}
	colours := []Colour{ColourRed, ColourOrange, ColourYellow, ColourBlue}
	want := []Severity{SeverityExtreme, SeveritySevere, SeverityModerate, SeverityMinor}
	for i := range want {
		got, err := levels[i].Severity()
		require.NoError(t, err)
		assert.Equal(t, want[i], got, levels[i])
		got, err = colours[i].Severity()
		require.NoError(t, err)
		assert.Equal(t, want[i], got, colours[i])
	}
	_, err := Level("V").Severity()
	assert.True(t, muster.IsCode(err, muster.EInvalid))
	_, err = Colour("Red").Severity()
	assert.True(t, muster.IsCode(err, muster.EInvalid))
}

func TestDefaultCategory(t *testing.T) {
	tests := []struct {
		hazard Hazard
		want   Category
	}{
		{HazardNatural, CategoryMet},
		{HazardAccident, CategorySafety},
		{HazardPublicHealth, CategoryHealth},
		{"公共卫生事件", CategoryHealth},
		{HazardSocialSecurity, CategorySecurity},
		{"社会安全事件", CategorySecurity},
		{"地震", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.hazard), func(t *testing.T) {
			got, err := DefaultCategory(tt.hazard)
			if tt.want == "" {
				assert.True(t, muster.IsCode(err, muster.EInvalid))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.True(t, got.Valid())
		})
	}
}

func TestFormatTime(t *testing.T) {
	assert.Equal(t, "2026-11-23T09:00:00+08:00", FormatTime(at("2026-11-23 09:00:00").Add(999*time.Millisecond)))
	assert.Equal(t, "2026-11-23T01:00:00-00:00", FormatTime(time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)), "CAP writes UTC as -00:00")
	assert.Equal(t, "2026-11-23T01:00:00-05:00", FormatTime(time.Date(2026, 11, 23, 1, 0, 0, 0, time.FixedZone("EST", -5*3600))))
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in      string
		want    string // RFC 3339 in UTC; "" for an error
		wantErr string
	}{
		{in: "2026-11-23T09:00:00+08:00", want: "2026-11-23T01:00:00Z"},
		{in: "2026-11-23T01:00:00-00:00", want: "2026-11-23T01:00:00Z"},
		{in: "2026-11-23T01:00:00+00:00", want: "2026-11-23T01:00:00Z"},
		{in: "2026-11-23T01:00:00-14:00", want: "2026-11-23T15:00:00Z"},
		{in: "2026-11-23T01:00:00Z", wantErr: "no Z"},
		{in: "2026-11-23T09:00:00.5+08:00", wantErr: "whole seconds"},
		{in: "2026-11-23 09:00:00+08:00", wantErr: "want a timestamp like"},
		{in: "2026-11-23T09:00:00", wantErr: "numeric offset"},
		{in: "2026-11-23T09:00+08:00", wantErr: "want a timestamp like"},
		{in: "2026-02-30T09:00:00+08:00", wantErr: "not a real date"},
		{in: "2026-11-23T25:00:00+08:00", wantErr: "not a real date"},
		{in: "2026-11-23T09:00:00+14:30", wantErr: "within ±14:00"},
		{in: "0000-11-23T09:00:00+08:00", wantErr: "year 0"},
		{in: "", wantErr: "want a timestamp like"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTime(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.UTC().Format(time.RFC3339))
		})
	}
}

func TestParseReferences(t *testing.T) {
	refs, err := ParseReferences(" a.example,id-1,2026-11-23T09:00:00+08:00\n\tb.example,id-2,2026-11-23T01:00:00-00:00 ")
	require.NoError(t, err)
	require.Len(t, refs, 2)
	assert.Equal(t, "a.example,id-1,2026-11-23T09:00:00+08:00", refs[0].String())
	assert.Equal(t, "b.example", refs[1].Sender)
	assert.Equal(t, "id-2", refs[1].Identifier)
	assert.Equal(t, "b.example,id-2,2026-11-23T01:00:00-00:00", refs[1].String())

	refs, err = ParseReferences("")
	require.NoError(t, err)
	assert.Empty(t, refs)

	for in, want := range map[string]string{
		"a.example,id-1": "want sender,identifier,sent",
		"a.example,id-1,2026-11-23T09:00:00+08:00,extra":  "want sender,identifier,sent",
		"a.example,id-1,2026-11-23":                       "sent",
		",id-1,2026-11-23T09:00:00+08:00":                 "sender missing",
		"a.example,id<1,2026-11-23T09:00:00+08:00":        "identifier",
		"ok,id,2026-11-23T09:00:00+08:00 a.example,id-2,": "reference 2",
	} {
		_, err := ParseReferences(in)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), want, in)
	}
}
