package drills_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"muster"
	"muster/cluster/clustertest"
	"muster/drills"
	"muster/notify"
	"muster/plans"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./drills -run TestReportGolden -update to create it")
	if !bytes.Equal(want, got) {
		assert.Fail(t, "output differs from "+path, "run go test ./drills -run TestReportGolden -update and review the diff\n%s", firstDiff(want, got))
	}
}

// firstDiff shows where two outputs part, line by line.
func firstDiff(want, got []byte) string {
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + "\nwant: " + w + "\ngot:  " + g
		}
	}
	return ""
}

func render(t *testing.T, rep drills.Report, f drills.ReportFormat, lang plans.Language) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, drills.WriteReport(&buf, rep, f, drills.ReportOptions{Lang: lang}))
	return buf.Bytes()
}

// TestReportGolden renders the report of the fixture's second run in every
// format and language and holds it to testdata/; the state is on a fixed
// clock and roster seed, so the files are the same on every run.
func TestReportGolden(t *testing.T) {
	e, runs, asOf := drillFixture(t)
	rep, err := e.drills.Report(testCtx(t), muster.Default, runs[1].ID, asOf)
	require.NoError(t, err)
	require.Len(t, rep.Trend, 2)
	require.Len(t, rep.People, runs[1].Participants)
	assert.Equal(t, "Asia/Shanghai", rep.TimeZone)

	for _, tc := range []struct {
		file string
		f    drills.ReportFormat
		lang plans.Language
	}{
		{"report_zh.html", drills.FormatHTML, plans.LangZH},
		{"report_en.html", drills.FormatHTML, plans.LangEN},
		{"report_zh.csv", drills.FormatCSV, plans.LangZH},
		{"report_en.csv", drills.FormatCSV, plans.LangEN},
		{"report.json", drills.FormatJSON, plans.LangZH},
	} {
		t.Run(tc.file, func(t *testing.T) {
			out := render(t, rep, tc.f, tc.lang)
			golden(t, tc.file, out)
			switch tc.f {
			case drills.FormatHTML:
				checkHTML(t, out, tc.lang, rep)
			case drills.FormatCSV:
				checkCSV(t, out, rep)
			case drills.FormatJSON:
				var m drills.Metrics
				require.NoError(t, json.Unmarshal(out, &m))
				assert.Equal(t, rep.Metrics.Total, m.Total)
				assert.Equal(t, rep.Metrics.NoAnswer, m.NoAnswer)
			}
		})
	}

	// The same report rendered twice is the same, byte for byte.
	again, err := e.drills.Report(testCtx(t), muster.Default, runs[1].ID, asOf)
	require.NoError(t, err)
	assert.Equal(t, render(t, rep, drills.FormatHTML, plans.LangZH), render(t, again, drills.FormatHTML, plans.LangZH))

	_, err = drills.ParseReportFormat("pdf")
	assert.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
	assert.Error(t, drills.WriteReport(io.Discard, rep, drills.FormatHTML, drills.ReportOptions{Lang: "fr"}))
}

// A drill whose call-up was retracted went out by mistake and was cut
// short: its report says so at the top, with who retracted it, when, what
// the correction said and which activation carried it, and the trend of
// its plan marks it.
func TestReportSaysTheDrillWasRetracted(t *testing.T) {
	e, ctx, clk, sc := weeklyStreetDrill(t)
	run, err := e.drills.RunNow(ctx, "trainer", sc.ID)
	require.NoError(t, err)
	clk.Add(30 * time.Second)
	ret, err := e.notify.Retract(ctx, "commander", run.Activation, notify.RetractRequest{Message: "误发，请忽略"})
	require.NoError(t, err)
	clk.Add(time.Hour)
	again, err := e.drills.RunNow(ctx, "trainer", sc.ID)
	require.NoError(t, err)

	rep, err := e.drills.Report(ctx, muster.Default, run.ID, clk.Now())
	require.NoError(t, err)
	require.NotNil(t, rep.Metrics.Retraction, "the metrics carry the retraction")
	corr := rep.Metrics.Retraction.Correction
	require.NotEmpty(t, corr)
	t.Logf("retraction result: %+v", ret)

	zh := string(render(t, rep, drills.FormatHTML, plans.LangZH))
	checkHTML(t, []byte(zh), plans.LangZH, rep)
	body := zh[strings.Index(zh, "<body>"):strings.Index(zh, "<h1>")]
	assert.Contains(t, body, "本次演练的启动已撤回（误发）", "said under the exercise banner")
	assert.Contains(t, body, "commander")
	assert.Contains(t, body, string(corr))
	assert.Contains(t, body, "不计为已开展的演练")
	assert.Contains(t, zh, "<td class=\"k\">已撤回</td><td>2026-12-07 09:00:30 由 commander 撤回：误发，请忽略（更正通知 "+string(corr)+"）</td>")

	en := string(render(t, rep, drills.FormatHTML, plans.LangEN))
	checkHTML(t, []byte(en), plans.LangEN, rep)
	body = en[strings.Index(en, "<body>"):strings.Index(en, "<h1>")]
	assert.Contains(t, body, "This drill&#39;s call-up was retracted as a mistake at 2026-12-07 09:00:30 by commander")
	assert.Contains(t, body, "correction "+string(corr))
	assert.Contains(t, en, "<td class=\"k\">Retracted</td>")

	var m map[string]any
	require.NoError(t, json.Unmarshal(render(t, rep, drills.FormatJSON, plans.LangZH), &m))
	assert.Contains(t, m, "retraction")

	// The plan's trend, in the next run's report, marks the retracted run.
	next, err := e.drills.Report(ctx, muster.Default, again.ID, clk.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, next.Trend, 2)
	assert.True(t, next.Trend[0].Retracted)
	assert.False(t, next.Trend[1].Retracted)
	assert.Nil(t, next.Metrics.Retraction)
	en = string(render(t, next, drills.FormatHTML, plans.LangEN))
	assert.Contains(t, en, string(run.ID)+" (retracted)")
	assert.NotContains(t, en[:strings.Index(en, "<h1>")], "retracted", "the run itself was not retracted")
}

var (
	externalRef = regexp.MustCompile(`(?i)(https?:|ftp:|//[a-z0-9.-]+\.[a-z]{2,}|url\(|@import|<link|<script|<img|<iframe|<object|<embed|src=)`)
	svgBlock    = regexp.MustCompile(`(?s)<svg.*?</svg>`)
	curvePath   = regexp.MustCompile(`<path d="([^"]*)"`)
	xTick       = regexp.MustCompile(`<text x="[^"]*" y="259" text-anchor="middle">([^<]*)</text>`)
	curveMark   = regexp.MustCompile(`<text x="([^"]*)" y="12" text-anchor="middle" fill="#b71c1c">([^<]*)</text>`)
)

// checkHTML checks a rendered report is well-formed (every element closed
// in order, every SVG well-formed XML), self-contained (nothing fetched or
// linked), marked as an exercise at the top, and in English entirely
// translated: any Chinese left comes from the state (names) or is the
// exercise mark.
func checkHTML(t *testing.T, out []byte, lang plans.Language, rep drills.Report) {
	t.Helper()
	s := string(out)
	assert.Empty(t, externalRef.FindAllString(s, -1), "the report refers to nothing outside itself")
	assert.Contains(t, s, "@page { size: A4;")
	assert.Contains(t, s, "break-inside: avoid")

	// Balanced elements.
	void := map[string]bool{"meta": true, "br": true, "hr": true, "img": true, "input": true, "link": true, "col": true, "area": true, "base": true, "wbr": true, "source": true}
	var stack []string
	z := html.NewTokenizer(bytes.NewReader(out))
	var texts []string
	inStyle := false
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			require.ErrorIs(t, z.Err(), io.EOF)
			break
		}
		tok := z.Token()
		switch tt {
		case html.StartTagToken:
			if !void[tok.Data] {
				stack = append(stack, tok.Data)
			}
			inStyle = tok.Data == "style"
			for _, a := range tok.Attr {
				assert.NotContains(t, []string{"href", "src", "xlink:href", "action", "srcset"}, a.Key, "attribute %s=%q", a.Key, a.Val)
			}
		case html.EndTagToken:
			require.NotEmpty(t, stack, "</%s> closes nothing", tok.Data)
			require.Equal(t, stack[len(stack)-1], tok.Data, "</%s> closes <%s>", tok.Data, stack[len(stack)-1])
			stack = stack[:len(stack)-1]
			inStyle = false
		case html.SelfClosingTagToken:
		case html.TextToken:
			if !inStyle && strings.TrimSpace(tok.Data) != "" {
				texts = append(texts, tok.Data)
			}
		}
	}
	assert.Empty(t, stack, "elements left open")
	doc, err := html.Parse(bytes.NewReader(out))
	require.NoError(t, err)
	require.NotNil(t, doc)

	svgs := svgBlock.FindAllString(s, -1)
	require.Len(t, svgs, 2, "the ack curve and the grid bars")
	for _, svg := range svgs {
		d := xml.NewDecoder(strings.NewReader(svg))
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			require.NoError(t, err, "svg is not well-formed XML")
		}
	}
	// The ack curve is drawn as steps from T+0: across to each point, then
	// up to its count, never a slope between two points.
	paths := curvePath.FindAllStringSubmatch(svgs[0], -1)
	require.Len(t, paths, 3, "reached, declined and acknowledged")
	for _, p := range paths {
		assert.Regexp(t, `^M48,244( H[0-9.]+( V[0-9.]+)?)*$`, p[1])
	}
	assert.NotContains(t, svgs[0], "<polyline")

	// Marked as an exercise before anything else in the body.
	body := s[strings.Index(s, "<body>"):]
	banner := body[:strings.Index(body, "</div>")]
	assert.Contains(t, banner, "【演练】")
	assert.Contains(t, banner, "EXERCISE")
	assert.Contains(t, s, "<title>【演练】EXERCISE")

	m := rep.Metrics
	if lang == plans.LangZH {
		assert.Contains(t, s, `<html lang="zh-CN">`)
		assert.Contains(t, s, m.PlanTitle)
		assert.Contains(t, s, "确认到岗")
		assert.Contains(t, s, "2026-12-07 09:00:00", "times are in Asia/Shanghai")
		return
	}
	assert.Contains(t, s, `<html lang="en">`)
	assert.Contains(t, s, m.PlanTitleEN)
	// Chinese may remain only where it comes from the state.
	var data []string
	add := func(ss ...string) {
		for _, x := range ss {
			if x != "" {
				data = append(data, x)
			}
		}
	}
	add("【演练】", m.Title, m.RegionNames)
	if m.Retraction != nil {
		add(m.Retraction.Message)
	}
	add(m.Units...)
	for _, rows := range [][]drills.Tally{m.ByRegion, m.ByGrid, m.ByRole} {
		for _, r := range rows {
			add(r.Name, r.Group)
			add(strings.Split(r.Path, " / ")...)
		}
	}
	for _, p := range rep.People {
		add(p.Name, p.GridName, p.Region, p.Reason)
		add(p.Roles...)
	}
	// Longest first, so a name is not cut by a shorter one inside it.
	slices.SortStableFunc(data, func(a, b string) int { return len(b) - len(a) })
	for _, txt := range texts {
		rest := txt
		for _, d := range data {
			rest = strings.ReplaceAll(rest, d, "")
		}
		for _, r := range rest {
			if unicode.Is(unicode.Han, r) || (r >= 0x3000 && r <= 0x303f) || (r >= 0xff00 && r <= 0xffef) {
				assert.Failf(t, "untranslated text in the English report", "%q (left: %q)", txt, rest)
				break
			}
		}
	}
}

// checkCSV checks the CSV opens as one table: a byte order mark, a header,
// then one row per recipient, every row as wide as the header.
func checkCSV(t *testing.T, out []byte, rep drills.Report) {
	t.Helper()
	require.True(t, bytes.HasPrefix(out, []byte("\xef\xbb\xbf")), "UTF-8 with a byte order mark, for Excel")
	rows, err := csv.NewReader(bytes.NewReader(out[3:])).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1+len(rep.People))
	assert.Contains(t, []string{"系统编号", "muster ID"}, rows[0][0])
	external := 0
	for i, p := range rep.People {
		assert.Equal(t, string(p.Person), rows[i+1][0])
		assert.Equal(t, p.ExternalID, rows[i+1][1], "the roster's 编号")
		assert.Equal(t, p.Phone, strings.TrimPrefix(rows[i+1][3], "'"), "the number the call-up went to")
		assert.NotEmpty(t, p.Phone)
		assert.Equal(t, string(p.Grid), rows[i+1][4])
		if p.ExternalID != "" {
			external++
		}
	}
	assert.Positive(t, external, "the generated roster gives people a 编号")
}

// A drill that left people out because a LIVE call-up had called them up
// for real says so in its report: they were not drilled, which a trainer
// reading the figures needs to know.
func TestReportSaysWhoTheDrillLeftOut(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	clk := clustertest.NewClock(time.Date(2026, 12, 7, 9, 0, 0, 0, loc))
	e := newEnvAt(t, 2000, clk)
	ctx := testCtx(t)
	_, err = e.notify.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "IV", Purpose: "LIVE", Reason: "暴雨"})
	require.NoError(t, err)
	sc, err := e.drills.Schedule(ctx, "trainer", weekly(other))
	require.NoError(t, err)
	run, err := e.drills.RunNow(ctx, "trainer", sc.ID)
	require.NoError(t, err)
	a, err := e.notify.Activation(ctx, muster.Default, run.Activation)
	require.NoError(t, err)
	require.Positive(t, a.LeftOut, "值班领导 are called up over either region")

	clk.Add(10 * time.Minute)
	rep, err := e.drills.Report(ctx, muster.Default, run.ID, clk.Now())
	require.NoError(t, err)
	assert.Equal(t, a.LeftOut, rep.Metrics.LeftOut)
	zh := string(render(t, rep, drills.FormatHTML, plans.LangZH))
	checkHTML(t, []byte(zh), plans.LangZH, rep)
	assert.Contains(t, zh, "<td class=\"k\">未参演（已被真实启动召集）</td><td>"+strconv.Itoa(a.LeftOut)+" 人：")
	en := string(render(t, rep, drills.FormatHTML, plans.LangEN))
	checkHTML(t, []byte(en), plans.LangEN, rep)
	assert.Contains(t, en, "<td class=\"k\">Left out (called up for real)</td><td>"+strconv.Itoa(a.LeftOut)+": called up for real")
	var m map[string]any
	require.NoError(t, json.Unmarshal(render(t, rep, drills.FormatJSON, plans.LangZH), &m))
	assert.EqualValues(t, a.LeftOut, m["left_out"])
}

// The trend marks every run cut short rather than held — stood down by
// hand after seconds, stopped by a LIVE call-up (a retracted one: above) —
// and a run that is over has final checkpoints: one the call-up stood down
// before is cut (counted to the stand-down), not still counting, in the
// trend and in the report, which says 已解除，计至解除时 instead of 尚未到达.
func TestTrendMarksRunsCutShortAndTheirCheckpointsFinal(t *testing.T) {
	e, ctx, clk, sc := weeklyStreetDrill(t)

	early, err := e.drills.RunNow(ctx, "trainer", sc.ID)
	require.NoError(t, err)
	clk.Add(50 * time.Second)
	_, err = e.notify.StandDown(ctx, "trainer", early.Activation, "提前结束")
	require.NoError(t, err)

	clk.Add(time.Hour)
	held, err := e.drills.RunNow(ctx, "trainer", sc.ID)
	require.NoError(t, err)
	clk.Add(20 * time.Minute)
	_, err = e.notify.StandDown(ctx, "trainer", held.Activation, "演练结束")
	require.NoError(t, err)

	clk.Add(time.Hour)
	stopped, err := e.drills.RunNow(ctx, "trainer", sc.ID)
	require.NoError(t, err)
	clk.Add(6 * time.Minute)
	live, err := e.notify.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{street}, Level: "IV", Purpose: "LIVE", Reason: "内涝"})
	require.NoError(t, err)
	_, err = e.notify.StandDown(ctx, "commander", live.ID, "内涝解除")
	require.NoError(t, err)

	clk.Add(time.Hour)
	open, err := e.drills.RunNow(ctx, "trainer", sc.ID)
	require.NoError(t, err)
	clk.Add(10 * time.Minute)

	trend, err := e.drills.Trend(ctx, muster.Default, "flood-control")
	require.NoError(t, err)
	require.Len(t, trend, 4)
	type cp struct{ Passed, Cut bool }
	cps := func(r drills.TrendRow) []cp {
		var out []cp
		for _, c := range r.Total.Checkpoints {
			out = append(out, cp{c.Passed, c.Cut})
		}
		return out
	}
	byRun := map[drills.RunID]drills.TrendRow{}
	for _, r := range trend {
		byRun[r.Run] = r
	}
	r := byRun[early.ID]
	assert.True(t, r.CutShort, "stood down after 50s")
	assert.Equal(t, 50*time.Second, r.StoodDownAt.Sub(r.Start))
	assert.Equal(t, []cp{{true, true}, {true, true}, {true, true}}, cps(r), "final, counted to the stand-down")
	r = byRun[held.ID]
	assert.False(t, r.CutShort, "stood down after 20 minutes: held")
	assert.Equal(t, []cp{{true, false}, {true, false}, {true, true}}, cps(r))
	r = byRun[stopped.ID]
	assert.True(t, r.CutShort)
	assert.Equal(t, live.ID, r.StoppedBy)
	assert.Equal(t, []cp{{true, false}, {true, true}, {true, true}}, cps(r))
	r = byRun[open.ID]
	assert.False(t, r.CutShort)
	assert.True(t, r.StoodDownAt.IsZero(), "still open")
	assert.Equal(t, []cp{{true, false}, {false, false}, {false, false}}, cps(r), "still counting")

	rep, err := e.drills.Report(ctx, muster.Default, early.ID, clk.Now())
	require.NoError(t, err)
	zh := string(render(t, rep, drills.FormatHTML, plans.LangZH))
	checkHTML(t, []byte(zh), plans.LangZH, rep)
	assert.Contains(t, zh, "T&#43;30<small>已解除，计至解除时</small>")
	assert.NotContains(t, zh, "<small>尚未到达</small>", "nothing more will count")
	assert.Contains(t, zh, string(early.ID)+"（提前解除）（本次）")
	assert.Contains(t, zh, string(stopped.ID)+"（被真实启动中止）")
	en := string(render(t, rep, drills.FormatHTML, plans.LangEN))
	checkHTML(t, []byte(en), plans.LangEN, rep)
	assert.Contains(t, en, "T&#43;5<small>stood down before it: counted to the stand-down</small>")
	assert.Contains(t, en, string(stopped.ID)+" (stopped by a LIVE call-up)")
	assert.NotContains(t, en, string(held.ID)+" (")
}

// weeklyStreetDrill is an env of 300 people on a test clock at 9:00 on 7
// December 2026 in Shanghai, with a weekly drill of street scheduled by a
// trainer.
func weeklyStreetDrill(t *testing.T) (*env, context.Context, *clustertest.Clock, drills.Schedule) {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	clk := clustertest.NewClock(time.Date(2026, 12, 7, 9, 0, 0, 0, loc))
	e := newEnvAt(t, 300, clk)
	ctx := testCtx(t)
	sc, err := e.drills.Schedule(ctx, "trainer", weekly(street))
	require.NoError(t, err)
	return e, ctx, clk, sc
}

// An English report names the roles in English where the plan gives them
// an English name (name_en, which English speakers' messages say): in the
// by-role table and the list of those who did not answer, in HTML and CSV;
// the JSON carries both. A Chinese report keeps the Chinese names. Before,
// the English report listed 网格长 for Grid Leader.
func TestEnglishReportNamesRolesInEnglish(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	clk := clustertest.NewClock(time.Date(2026, 12, 7, 9, 0, 0, 0, loc))
	e := newEnvWith(t, envOptions{nodes: 1, people: 2000, clock: clk, stamp: true}) // this muster's rules: roles keep their English names
	n := e.c.Leader().Node
	require.Eventually(t, func() bool { return n.Status().Rules == muster.Rules }, 10*time.Second, 10*time.Millisecond, "the node's rules are published")
	ctx := testCtx(t)
	sc, err := e.drills.Schedule(ctx, "trainer", weekly(street))
	require.NoError(t, err)
	run, err := e.drills.RunNow(ctx, "trainer", sc.ID)
	require.NoError(t, err)
	clk.Add(10 * time.Minute)
	rep, err := e.drills.Report(ctx, muster.Default, run.ID, clk.Now())
	require.NoError(t, err)

	var leader *drills.Tally
	for i, g := range rep.Metrics.ByRole {
		if g.Name == "网格长" {
			leader = &rep.Metrics.ByRole[i]
		}
	}
	require.NotNil(t, leader)
	assert.Equal(t, "Grid Leader", leader.NameEN)
	require.Positive(t, leader.Recipients)
	leaders := 0
	for _, p := range rep.Metrics.NoAnswer {
		if slices.Contains(p.Roles, "网格长") {
			leaders++
		}
	}
	require.Positive(t, leaders, "grid leaders are among those who did not answer")

	en := string(render(t, rep, drills.FormatHTML, plans.LangEN))
	checkHTML(t, []byte(en), plans.LangEN, rep)
	assert.NotContains(t, en, ">网格长<")
	assert.NotContains(t, en, ">网格员<")
	assert.Equal(t, 1+leaders, strings.Count(en, "Grid Leader"), "the by-role row and each grid leader who did not answer")
	csvEN := string(render(t, rep, drills.FormatCSV, plans.LangEN))
	assert.NotContains(t, csvEN, "网格长")
	assert.Contains(t, csvEN, "Grid Leader")

	zh := string(render(t, rep, drills.FormatHTML, plans.LangZH))
	assert.Contains(t, zh, ">网格长<")
	assert.NotContains(t, zh, "Grid Leader")
	assert.Contains(t, string(render(t, rep, drills.FormatCSV, plans.LangZH)), "网格长")
	var m drills.Metrics
	require.NoError(t, json.Unmarshal(render(t, rep, drills.FormatJSON, plans.LangZH), &m))
	assert.Equal(t, rep.Metrics.ByRole, m.ByRole)
}

// The CSV's times say their zone: a column names the report's zone and its
// offset at each row's times (summer or winter time), since the times
// themselves are written as a spreadsheet reads a date and time, without
// one. A row with no time gets the offset at the run's start.
func TestReportCSVNamesTheTimesZone(t *testing.T) {
	summer := time.Date(2026, 7, 1, 13, 0, 0, 0, time.UTC)
	winter := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	rep := drills.Report{TimeZone: "America/New_York", Metrics: drills.Metrics{Run: "R000001", Start: summer}, People: []drills.Outcome{
		{Person: "P00000001", Grid: "990101001001001", State: notify.StateAcked, Reached: summer.Add(time.Minute), Answered: summer.Add(2 * time.Minute), ToAck: plans.Duration(2 * time.Minute)},
		{Person: "P00000002", Grid: "990101001001001", State: notify.StateDelivered, Reached: winter},
		{Person: "P00000003", Grid: "990101001001001", State: notify.StateFailed},
	}}
	for _, lang := range []plans.Language{plans.LangZH, plans.LangEN} {
		out := render(t, rep, drills.FormatCSV, lang)
		rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(out, []byte("\ufeff")))).ReadAll()
		require.NoError(t, err)
		require.Len(t, rows, 4)
		tz := slices.IndexFunc(rows[0], func(h string) bool { return h == "时区" || h == "time zone" })
		require.Positive(t, tz, "a time zone column: %v", rows[0])
		reached := tz - 2
		assert.Equal(t, []string{"2026-07-01 09:01:00", "America/New_York (UTC-04:00)"}, []string{rows[1][reached], rows[1][tz]})
		assert.Equal(t, []string{"2026-12-01 09:00:00", "America/New_York (UTC-05:00)"}, []string{rows[2][reached], rows[2][tz]})
		assert.Equal(t, []string{"", "America/New_York (UTC-04:00)"}, []string{rows[3][reached], rows[3][tz]})
	}
}

// The ack curve is true to its points. Read 40 seconds into a drill whose
// three answers came 5, 12 and 38 seconds after the start, it is marked in
// seconds (0 5 … 40, "seconds after the start") and each answer shows as a
// rise at the first point that counts it, flat before: where it was marked
// 0 1 in minutes with a straight line from nobody at minute 0 to all three
// at minute 1. Read 50 minutes in, it is marked in minutes, with T+5, T+15
// and T+30 where they fall.
func TestReportDrawsTheCurveAsStepsInSeconds(t *testing.T) {
	e, r, start := quickDrill(t)
	rep, err := e.drills.Report(testCtx(t), muster.Default, r.ID, start.Add(40*time.Second))
	require.NoError(t, err)
	n := rep.Metrics.Total.Recipients
	require.Positive(t, n)
	y := func(k int) string {
		return strconv.FormatFloat(math.Round((244-228*float64(k)/float64(n))*100)/100, 'g', -1, 64)
	}
	caption := func(out []byte) string { // the curve's: the first
		m := regexp.MustCompile(`<p class="caption">([^<]*)</p>`).FindSubmatch(out)
		require.NotNil(t, m, "a caption")
		return string(m[1])
	}
	ticks := func(svg string) []string {
		var out []string
		for _, m := range xTick.FindAllStringSubmatch(svg, -1) {
			out = append(out, m[1])
		}
		return out
	}
	for _, lang := range []plans.Language{plans.LangEN, plans.LangZH} {
		out := render(t, rep, drills.FormatHTML, lang)
		checkHTML(t, out, lang, rep)
		curve := svgBlock.FindString(string(out))
		// Points every 5 s over 616 px: 5 s is at 125, 15 s at 279.
		assert.Contains(t, curve, `<path d="M48,244 H125 V`+y(1)+` H279 V`+y(2)+` H664 V`+y(3)+`" fill="none" stroke="#2e7d32"`, "acknowledged")
		assert.Equal(t, []string{"0", "5", "10", "15", "20", "25", "30", "35", "40"}, ticks(curve))
		assert.Empty(t, curveMark.FindAllString(curve, -1), "no checkpoint within 40 s")
		if lang == plans.LangEN {
			assert.Contains(t, curve, ">seconds after the start</text>")
			assert.Contains(t, caption(out), "Counted every 5 s;")
		} else {
			assert.Contains(t, curve, ">启动后秒数</text>")
			assert.Contains(t, caption(out), "每 5 秒统计一次")
		}
	}

	rep, err = e.drills.Report(testCtx(t), muster.Default, r.ID, start.Add(50*time.Minute))
	require.NoError(t, err)
	out := render(t, rep, drills.FormatHTML, plans.LangEN)
	checkHTML(t, out, plans.LangEN, rep)
	curve := svgBlock.FindString(string(out))
	assert.Equal(t, []string{"0", "5", "10", "15", "20", "25", "30", "35", "40", "45", "50"}, ticks(curve))
	assert.Contains(t, curve, ">minutes after the start</text>")
	var marks [][2]string
	for _, m := range curveMark.FindAllStringSubmatch(curve, -1) {
		marks = append(marks, [2]string{m[2], m[1]})
	}
	assert.Equal(t, [][2]string{{"T&#43;5", "109.6"}, {"T&#43;15", "232.8"}, {"T&#43;30", "417.6"}}, marks, "a tenth, 3/10 and 6/10 of 50 minutes")
	// Points every 30 s: the 5 s and 12 s answers rise at 30 s, the 38 s
	// one at 60 s.
	assert.Contains(t, curve, `<path d="M48,244 H54.16 V`+y(2)+` H60.32 V`+y(3)+` H664" fill="none" stroke="#2e7d32"`)
	assert.Contains(t, caption(out), "Counted every 30 s;")
}
