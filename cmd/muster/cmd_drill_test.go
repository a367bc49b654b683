package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/drills"
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
		{"report.txt", "", "format=html"},
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
}
