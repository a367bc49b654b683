package main

import (
	"bytes"
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
