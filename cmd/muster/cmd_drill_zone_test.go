package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/drills"
)

// drill runs and drill trend show every run's time in one zone: the
// schedules' when the runs share one, otherwise the machine's, so that two
// runs started two seconds apart by schedules in New York and Shanghai do
// not read as ten hours and a day apart.
func TestDrillTablesShowOneZone(t *testing.T) {
	local := time.Local
	t.Cleanup(func() { time.Local = local })
	time.Local = time.UTC
	at := time.Date(2026, 12, 7, 15, 6, 41, 0, time.UTC)
	runs := []drills.Run{
		{ID: "R000001", Schedule: "D000004", Plan: "flood-control", Type: drills.Notification, Status: drills.RunStarted, At: at, Activation: "A000005", TimeZone: "America/New_York"},
		{ID: "R000002", Schedule: "D000002", Plan: "flood-control", Type: drills.Notification, Status: drills.RunStarted, At: at.Add(2 * time.Second), Activation: "A000006", TimeZone: "Asia/Shanghai"},
	}
	out := mustRunOnFake(t, fakeAPI{"GET /api/v1/drill-runs": map[string]any{"items": runs}}, "drill", "runs")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	assert.Contains(t, lines[1], "2026-12-07 15:06 +00:00", "mixed zones: the machine's")
	assert.Contains(t, lines[2], "2026-12-07 15:06 +00:00", "mixed zones: the machine's")

	// Runs that share a zone keep it.
	runs[0].TimeZone = "Asia/Shanghai"
	out = mustRunOnFake(t, fakeAPI{"GET /api/v1/drill-runs": map[string]any{"items": runs}}, "drill", "runs")
	assert.Equal(t, 2, strings.Count(out, "2026-12-07 23:06 +08:00"), out)

	var b bytes.Buffer
	printTrend(&b, []drills.TrendRow{
		{Run: "R000001", Start: at, Type: drills.Notification, TimeZone: "America/New_York"},
		{Run: "R000002", Start: at.Add(2 * time.Second), Type: drills.Notification, TimeZone: "Asia/Shanghai"},
	})
	assert.Equal(t, 2, strings.Count(b.String(), "2026-12-07 15:06 +00:00"), b.String())
}
