package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"muster/drills"
	"muster/notify"
	"muster/plans"
)

// drill run says when the run is stood down in its schedule's zone, as
// drill runs and the schedule show its times, with the zone as an offset:
// not in the zone of the machine the CLI runs on.
func TestDrillRunShowsTheSchedulesZone(t *testing.T) {
	ends := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	run := drills.Run{ID: "R000002", Schedule: "D000001", Status: drills.RunStarted, Activation: "A000012", Participants: 40,
		EndsAt: ends, TimeZone: "America/New_York"}
	api := fakeAPI{"POST /api/v1/drills/D000001/run": run}
	out := mustRunOnFake(t, api, "drill", "run", "D000001")
	assert.Contains(t, out, "it is stood down at 2026-12-04 22:00 -05:00\n")

	// A run recorded before runs kept their schedule's zone: the machine's.
	var b bytes.Buffer
	run.TimeZone = ""
	printRun(&b, run)
	require.Contains(t, b.String(), "stood down at "+localTime(ends))
}

// How long a live emergency held a run up is shown to the second, for
// people: "waited 5m0s", not "waited 5m0.000893858s".
func TestDrillRunsRoundTheWait(t *testing.T) {
	run := drills.Run{ID: "R000003", Schedule: "D000001", Plan: "flood-control", Type: drills.Notification, Status: drills.RunStarted,
		Due: time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC), At: time.Date(2026, 12, 5, 1, 5, 0, 893858, time.UTC),
		Activation: "A000013", Participants: 40, Waited: plans.Duration(5*time.Minute + 893858*time.Nanosecond), TimeZone: "Asia/Shanghai"}
	api := fakeAPI{"GET /api/v1/drill-runs": map[string]any{"items": []drills.Run{run}}}
	out := mustRunOnFake(t, api, "drill", "runs")
	assert.Contains(t, out, "waited 5m0s for a live emergency")
	assert.NotContains(t, out, "0.000893858")
}

// The runs list says how a run's call-up ended when not by its length: a
// LIVE call-up stood it down, or it was retracted.
func TestDrillRunsSayHowARunEnded(t *testing.T) {
	at := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	runs := []drills.Run{
		{ID: "R000002", Schedule: "D000001", Plan: "flood-control", Type: drills.Notification, Status: drills.RunStarted, At: at, Activation: "A000003", StoppedBy: "A000004"},
		{ID: "R000005", Schedule: "D000001", Plan: "flood-control", Type: drills.Notification, Status: drills.RunStarted, At: at, Activation: "A000006", Manual: true, Retracted: true},
	}
	out := mustRunOnFake(t, fakeAPI{"GET /api/v1/drill-runs": map[string]any{"items": runs}}, "drill", "runs")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	assert.True(t, strings.HasSuffix(lines[1], "stopped by LIVE A000004"), lines[1])
	assert.True(t, strings.HasSuffix(lines[2], "by hand retracted"), lines[2])
}

// drill stand-down ends a run early through the run (a trainer may), and
// needs a reason.
func TestDrillStandDown(t *testing.T) {
	api := fakeAPI{"POST /api/v1/drill-runs/R000002/stand-down": map[string]any{"id": "A000012", "status": "stood_down"}}
	out := mustRunOnFake(t, api, "drill", "stand-down", "R000002", "--reason", "演练结束")
	assert.Equal(t, "drill run R000002 stood down (activation A000012)\n", out)
	_, _, err := runOnFake(t, api, "drill", "stand-down", "R000002")
	require.Error(t, err)
	assert.Equal(t, exitUsage, exitCode(err), "%v", err)
}

// drill stand-down of a run before it was held (15 minutes, whatever its
// length) says it is recorded as cut short, not as a drill held, and
// for which regions; a stand-down after that says nothing more. Its help
// says so too.
func TestDrillStandDownSaysARunCutShort(t *testing.T) {
	started := time.Date(2026, 12, 6, 21, 54, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		length, at time.Duration
		want       string
	}{
		{"after a minute", time.Hour, 72 * time.Second, "R000002 ran 1m12s (< 15m): recorded as cut short, not as a drill held; it does not count as a drill of 990101,990102 (muster drill overdue)\n"},
		{"after 20 minutes", time.Hour, 20 * time.Minute, ""},
		{"before a 10-minute length was over", 10 * time.Minute, 5 * time.Minute, "R000002 ran 5m0s (< 15m): recorded as cut short"},
		// A length under 15 minutes (stored before lengths had that floor)
		// does not make a shorter run held.
		{"after a 10-minute length", 10 * time.Minute, 12 * time.Minute, "R000002 ran 12m0s (< 15m): recorded as cut short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := drills.Run{ID: "R000002", Schedule: "D000001", Status: drills.RunStarted, Activation: "A000012", Regions: []plans.RegionCode{"990101", "990102"},
				At: started, EndsAt: started.Add(tc.length), TimeZone: "Asia/Shanghai"}
			api := fakeAPI{
				"POST /api/v1/drill-runs/R000002/stand-down": map[string]any{"id": "A000012", "status": "stood_down", "started_at": started, "stood_down_at": started.Add(tc.at)},
				"GET /api/v1/drill-runs/R000002":             run,
			}
			out := mustRunOnFake(t, api, "drill", "stand-down", "R000002", "--reason", "结束")
			assert.True(t, strings.HasPrefix(out, "drill run R000002 stood down (activation A000012)\n"), out)
			if tc.want == "" {
				assert.NotContains(t, out, "cut short")
				return
			}
			assert.Contains(t, out, tc.want)
		})
	}
	help := mustRunOnFake(t, fakeAPI{}, "drill", "stand-down", "--help")
	assert.Contains(t, help, "less than 15m after it started")
	assert.Contains(t, help, "cut short, not as a")
}

// drill trend marks the runs cut short rather than held (retracted,
// stopped by a LIVE call-up, stood down by hand after seconds) and shows the
// checkpoints of a run that is over as final: * when the call-up stood down
// before them, … only while a run is under way; a line explains each mark.
func TestDrillTrendMarksRunsCutShort(t *testing.T) {
	start := time.Date(2026, 12, 6, 5, 22, 0, 0, time.UTC)
	cp := func(final bool, cut ...bool) []drills.Checkpoint {
		out := make([]drills.Checkpoint, 3)
		for i, m := range []int{5, 15, 30} {
			out[i] = drills.Checkpoint{Minutes: m, Passed: final || cut[i], Cut: cut[i], AckedPct: 24.6}
		}
		return out
	}
	row := func(id string, tot []drills.Checkpoint) drills.TrendRow {
		return drills.TrendRow{Run: drills.RunID(id), Start: start, Type: drills.Notification, Level: "III", Participants: 259,
			Total: drills.Tally{ReachedPct: 100, AckedPct: 24.6, Checkpoints: tot}}
	}
	byHand := row("R000001", cp(false, true, true, true))
	byHand.CutShort, byHand.StoodDownAt = true, start.Add(50*time.Second)
	retracted := row("R000002", cp(false, true, true, true))
	retracted.Retracted, retracted.CutShort, retracted.StoodDownAt = true, true, start.Add(8*time.Second)
	stopped := row("R000004", cp(false, false, true, true))
	stopped.StoppedBy, stopped.CutShort, stopped.StoodDownAt = "A000018", true, start.Add(6*time.Minute)
	stopped.Total.Checkpoints[0].Passed = true
	held := row("R000005", cp(true, false, false, false))
	held.StoodDownAt = start.Add(time.Hour)
	open := row("R000006", cp(false, false, false, false))
	open.Total.Checkpoints[0].Passed = true
	api := fakeAPI{"GET /api/v1/drills/trend": map[string]any{"items": []drills.TrendRow{byHand, retracted, stopped, held, open}}}
	out := mustRunOnFake(t, api, "drill", "trend", "flood-control")
	lines := strings.Split(out, "\n")
	require.GreaterOrEqual(t, len(lines), 9, out)
	assert.Regexp(t, `NOTE$`, lines[0])
	assert.Regexp(t, `^R000001 .* 24\.6%\*\s+24\.6%\*\s+24\.6%\*\s+.*stood down at T\+50s$`, lines[1])
	assert.Regexp(t, `^R000002 .* 24\.6%\*\s+24\.6%\*\s+24\.6%\*\s+.*retracted$`, lines[2])
	assert.Regexp(t, `^R000004 .* 24\.6%\s+24\.6%\*\s+24\.6%\*\s+.*stopped by A000018$`, lines[3])
	assert.Regexp(t, `^R000005 .* 24\.6%\s+24\.6%\s+24\.6%\s+.*\s-$`, lines[4])
	assert.Regexp(t, `^R000006 .* 24\.6%\s+24\.6%…\s+24\.6%…\s+.*\s-$`, lines[5])
	assert.Contains(t, out, "\nNOTE: a run retracted, stopped by a LIVE call-up or stood down within 15m of its start was cut short, not held")
	assert.Contains(t, out, "\n* the call-up stood down before this checkpoint: the share is final and counts the answers until the stand-down\n")
	assert.Contains(t, out, "\n… the run is under way and this checkpoint has not come: the share is still counting\n")

	// Without a run cut short or under way, no line explains marks not used.
	api["GET /api/v1/drills/trend"] = map[string]any{"items": []drills.TrendRow{held}}
	out = mustRunOnFake(t, api, "drill", "trend", "flood-control")
	assert.NotContains(t, out, "NOTE:")
	assert.NotContains(t, out, "…")
	assert.NotContains(t, out, "*")
}

// drill trend shows when each run started in its schedule's zone, as
// drill runs does, not in the zone of the machine the CLI runs on; a run
// recorded before runs kept their zone, in the same zone as the table's
// other rows.
func TestDrillTrendShowsTheSchedulesZone(t *testing.T) {
	start := time.Date(2026, 12, 6, 21, 54, 0, 0, time.UTC)
	row := func(id, zone string) map[string]any {
		return map[string]any{"run": id, "start": start, "type": "notification", "level": "IV", "participants": 9, "time_zone": zone, "total": map[string]any{}}
	}
	api := fakeAPI{"GET /api/v1/drills/trend": map[string]any{"items": []any{row("R000000", ""), row("R000001", "Asia/Shanghai")}}}
	out := mustRunOnFake(t, api, "drill", "trend", "flood-control")
	assert.Regexp(t, `\nR000001\s+2026-12-07 05:54 \+08:00\s`, out)
	assert.Regexp(t, `\nR000000\s+2026-12-07 05:54 \+08:00\s`, out)
	runs := fakeAPI{"GET /api/v1/drill-runs": map[string]any{"items": []drills.Run{{ID: "R000001", Schedule: "D000001", Status: drills.RunStarted,
		At: start, TimeZone: "Asia/Shanghai"}}}}
	assert.Contains(t, mustRunOnFake(t, runs, "drill", "runs"), "2026-12-07 05:54 +08:00", "drill runs shows the same time")
}

// drill schedule prints each warning the server gives (another schedule
// over the same regions whose runs can be open at once) on its own line
// after the schedule: the schedule is made, and the command succeeds.
func TestDrillSchedulePrintsWarnings(t *testing.T) {
	warn := "drill D000001 (防汛通讯演练, over 990101) can be calling the same people up when this one runs: it is due 2026-12-14 09:00 +08:00 and this one 2026-12-14 08:30 +08:00; " +
		"a due time that comes while another drill's run is open over the same regions is recorded missed"
	s := drills.Schedule{ID: "D000002", Plan: "flood-control", Title: "街道通讯演练", Level: "IV", Type: drills.Notification, Regions: []plans.RegionCode{"990101001"},
		Cron: "30 8 * * 1-5", TimeZone: "Asia/Shanghai", Due: time.Date(2026, 12, 8, 0, 30, 0, 0, time.UTC), RunAt: time.Date(2026, 12, 8, 0, 30, 0, 0, time.UTC),
		Warnings: []string{warn}}
	api := fakeAPI{"POST /api/v1/drills": s}
	out := mustRunOnFake(t, api, "drill", "schedule", "flood-control", "--region", "990101001", "--level", "IV", "--cron", "30 8 * * 1-5", "--title", "街道通讯演练")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 3, out)
	assert.Equal(t, "warning: "+warn, lines[2])
	s.Warnings = nil
	api["POST /api/v1/drills"] = s
	out = mustRunOnFake(t, api, "drill", "schedule", "flood-control", "--region", "990101001", "--level", "IV", "--cron", "30 8 * * 1-5", "--title", "街道通讯演练")
	assert.NotContains(t, out, "warning")
}

// drill show gives the catch-up window only for catch-up once: skip has
// none (it showed "skip 0s").
func TestDrillShowCatchUp(t *testing.T) {
	s := drills.Schedule{ID: "D000001", Plan: "flood-control", Title: "防汛通讯演练", Cron: "0 9 * * 1", TimeZone: "Asia/Shanghai", CatchUp: drills.CatchUpSkip}
	api := fakeAPI{"GET /api/v1/drills/D000001": s}
	out := mustRunOnFake(t, api, "drill", "show", "D000001")
	assert.Regexp(t, `\ncatch-up:\s+skip\n`, out)
	s.CatchUp, s.CatchUpWithin = drills.CatchUpOnce, plans.Duration(4*time.Hour)
	api["GET /api/v1/drills/D000001"] = s
	out = mustRunOnFake(t, api, "drill", "show", "D000001")
	assert.Regexp(t, `\ncatch-up:\s+once, within `+regexp.QuoteMeta(s.CatchUpWithin.String())+`\n`, out)
}

// drill report --out report.csv writes CSV: the file's name says the
// format when --format does not, and a name for another format than
// --format's is refused before anything is asked or written.
func TestDrillReportFormatFromTheFileName(t *testing.T) {
	asked := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "format=%s", r.URL.Query().Get("format"))
	})
	dir := t.TempDir()
	for _, tc := range []struct{ file, format, want string }{
		{"report.csv", "", "format=csv"},
		{"report.JSON", "", "format=json"},
		{"report.htm", "", "format=html"},
		{"report", "", "format=html"},
		{"report.csv", "csv", "format=csv"},
		{"report.csv", "CSV", "format=CSV"},
	} {
		path := filepath.Join(dir, tc.file)
		args := []string{"drill", "report", "R000001", "--out", path}
		if tc.format != "" {
			args = append(args, "--format", tc.format)
		}
		mustRunOnFake(t, asked, args...)
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, tc.want, string(b), "%s --format %q", tc.file, tc.format)
	}
	path := filepath.Join(dir, "wrong.csv")
	_, _, err := runOnFake(t, asked, "drill", "report", "R000001", "--out", path, "--format", "html")
	require.Error(t, err)
	assert.Equal(t, exitUsage, exitCode(err), "%v", err)
	assert.Contains(t, err.Error(), "--out "+path+" names a CSV file but --format is html")
	assert.NoFileExists(t, path)

	// A name for no format muster writes is refused, not written as HTML.
	for _, name := range []string{"report.txt", "report.xls", "report.pdf"} {
		path := filepath.Join(dir, name)
		_, _, err := runOnFake(t, asked, "drill", "report", "R000001", "--out", path)
		require.Error(t, err, name)
		assert.Equal(t, exitUsage, exitCode(err), "%v", err)
		assert.Contains(t, err.Error(), "--out "+path+": muster writes no "+filepath.Ext(name)+" report; name the file .html, .csv, .json or .xlsx")
		assert.NoFileExists(t, path)
	}
}

// drill report --out report.xlsx writes an Excel workbook: the server's
// CSV table (written here by the drills package, as the server does) as
// one sheet, every row and cell as in the CSV, plain decimals as numbers,
// times as date cells (the time zone column names their zone),
// codes made of digits as text, and the CSV's formula guard taken off.
func TestDrillReportAsXLSX(t *testing.T) {
	start := time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)
	rep := drills.Report{TimeZone: "Asia/Shanghai", People: []drills.Outcome{
		{Person: "P00000001", ExternalID: "Z001", Name: "张伟", Phone: "+8613800000001", Grid: "990101001001001", GridName: "幸福里社区第1网格", Region: "青山街道", Roles: []string{"网格长", "网格员"},
			Category: "社区干部", State: notify.StateAcked, Reached: start.Add(20 * time.Second), Answered: start.Add(95 * time.Second), ToAck: plans.Duration(95 * time.Second)},
		{Person: "P00000002", Name: "=HYPERLINK(\"x\")", Grid: "990101001001002", Roles: []string{"网格员"}, Category: "志愿者",
			State: notify.StateDeclined, Reason: "-在外地", Answered: start.Add(3 * time.Minute)},
		{Person: "P00000003", Name: "李娜", Grid: "990101001001002", Roles: []string{"网格员"}, Category: "党员", State: notify.StateFailed, Code: 30003, Error: "Unreachable destination handset"},
	}}
	var csvBody bytes.Buffer
	require.NoError(t, drills.WriteReport(&csvBody, rep, drills.FormatCSV, drills.ReportOptions{Lang: plans.LangZH}))
	want, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(csvBody.Bytes(), []byte("\ufeff")))).ReadAll()
	require.NoError(t, err)
	require.Len(t, want, 4)

	var asked []string
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.Query().Get("format"))
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Write(csvBody.Bytes())
	})
	path := filepath.Join(t.TempDir(), "rep.xlsx")
	_, stderr, err := runOnFake(t, api, "drill", "report", "R000001", "--out", path)
	require.NoError(t, err)
	assert.Equal(t, []string{"csv"}, asked, "the workbook is made of the CSV")
	assert.Contains(t, stderr, "report of R000001 written to "+path)

	f, err := excelize.OpenFile(path)
	require.NoError(t, err, "a real workbook")
	defer f.Close()
	assert.Equal(t, []string{"R000001"}, f.GetSheetList())
	rows, err := f.GetRows("R000001")
	require.NoError(t, err)
	require.Len(t, rows, len(want))
	assert.Equal(t, want[0], rows[0], "the CSV's header row")
	for i := 1; i < len(want); i++ {
		for j, w := range want[i] {
			got := ""
			if j < len(rows[i]) {
				got = rows[i][j]
			}
			if strings.HasPrefix(w, "'") {
				w = w[1:] // text in a workbook is never a formula
			}
			assert.Equal(t, w, got, "row %d column %d (%s)", i+1, j+1, want[0][j])
		}
	}
	text := func(cell string) bool {
		ct, err := f.GetCellType("R000001", cell)
		require.NoError(t, err)
		return ct == excelize.CellTypeSharedString || ct == excelize.CellTypeInlineString
	}
	col := func(header string) string {
		j := slices.Index(want[0], header)
		require.GreaterOrEqual(t, j, 0, "column %s", header)
		name, err := excelize.ColumnNumberToName(j + 1)
		require.NoError(t, err)
		return name
	}
	assert.False(t, text(col("确认用时（秒）")+"2"), "seconds to ack is a number")
	raw, err := f.GetCellValue("R000001", col("确认用时（秒）")+"2", excelize.Options{RawCellValue: true})
	require.NoError(t, err)
	assert.Equal(t, "95", raw)
	assert.False(t, text(col("错误码")+"4"), "the provider's error code is a number")
	assert.False(t, text(col("送达时间")+"2"), "a time is a date cell")
	raw, err = f.GetCellValue("R000001", col("送达时间")+"2", excelize.Options{RawCellValue: true})
	require.NoError(t, err)
	serial, err := strconv.ParseFloat(raw, 64)
	require.NoError(t, err, "a date cell holds a day number: %s", raw)
	day := time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC).Add(time.Duration(serial * float64(24*time.Hour))).Round(time.Second)
	assert.Equal(t, "2026-12-06 10:00:20", day.Format(time.DateTime), "the time as the CSV wrote it, in the report's zone")
	assert.Equal(t, "Asia/Shanghai (UTC+08:00)", rows[1][slices.Index(want[0], "时区")], "the zone the dates are in")
	assert.True(t, text(col("时区")+"2"))
	assert.True(t, text(col("网格编码")+"2"), "a 15-digit grid code stays text")
	assert.True(t, text(col("系统编号")+"2"))
	assert.True(t, text(col("手机")+"2"), "a phone stays text")
	assert.Equal(t, "+8613800000001", rows[1][slices.Index(want[0], "手机")], "as written, without the CSV's formula guard")
	assert.Equal(t, "Z001", rows[1][slices.Index(want[0], "编号")], "the roster's 编号")
	assert.Equal(t, "990101001001001", rows[1][slices.Index(want[0], "网格编码")])
	assert.Equal(t, `=HYPERLINK("x")`, rows[2][slices.Index(want[0], "姓名")], "the name as written")
	formula, err := f.GetCellFormula("R000001", col("姓名")+"3")
	require.NoError(t, err)
	assert.Empty(t, formula, "and not a formula")

	// --format xlsx to standard output that is not a terminal: the workbook.
	out, _, err := runOnFake(t, api, "drill", "report", "R000001", "--format", "XLSX")
	require.NoError(t, err)
	_, err = excelize.OpenReader(strings.NewReader(out))
	assert.NoError(t, err)
}

// drill report -o json prints JSON, as every command does: the report's
// metrics (--format json) unless --format or --out names a format; another
// format printed to standard output with -o json is refused before any
// request, and --out FILE.csv still writes CSV.
func TestDrillReportWithOutputJSON(t *testing.T) {
	var asked []string
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := r.URL.Query().Get("format")
		asked = append(asked, f)
		if f == "json" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"run": "R000001", "acked": 3, "activation": "A000001"}`)
			return
		}
		fmt.Fprintf(w, "format=%s", f)
	})
	out := mustRunOnFake(t, api, "drill", "report", "R000001", "-o", "json")
	assert.Equal(t, []string{"json"}, asked)
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &v), "JSON on standard output: %s", out)
	assert.Equal(t, "R000001", v["run"])
	assert.Less(t, strings.Index(out, `"acked"`), strings.Index(out, `"activation"`), "keys sorted, as -o json prints")
	assert.Less(t, strings.Index(out, `"activation"`), strings.Index(out, `"run"`))

	asked = nil
	for _, format := range []string{"csv", "html", "xlsx"} {
		_, _, err := runOnFake(t, api, "drill", "report", "R000001", "-o", "json", "--format", format)
		require.Error(t, err, format)
		assert.Equal(t, exitUsage, exitCode(err), "%v", err)
		assert.Contains(t, err.Error(), "-o json prints the report's metrics as JSON (--format json), and --format "+format)
	}
	assert.Empty(t, asked, "refused before any request")

	path := filepath.Join(t.TempDir(), "r.csv")
	mustRunOnFake(t, api, "drill", "report", "R000001", "-o", "json", "--out", path)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "format=csv", string(b), "a file named .csv is CSV")
}
