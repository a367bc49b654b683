package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/drills"
)

// drill runs says in its OUTCOME column what became of each started run —
// held, cut short, stopped by a LIVE call-up, retracted, still running —
// next to its STATUS (started for all of them); a missed run has none, nor
// a run from a node that does not say.
func TestDrillRunsSayWhetherARunWasHeld(t *testing.T) {
	at := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	run := func(id, outcome string, status drills.RunStatus) drills.Run {
		return drills.Run{ID: drills.RunID(id), Schedule: "D000001", Plan: "flood-control", Type: drills.Notification, Status: status,
			At: at, Activation: "A000003", Outcome: outcome, TimeZone: "Asia/Shanghai"}
	}
	runs := []drills.Run{
		run("R000001", drills.OutcomeHeld, drills.RunStarted),
		run("R000002", drills.OutcomeCutShort, drills.RunStarted),
		run("R000003", drills.OutcomeStopped, drills.RunStarted),
		run("R000004", drills.OutcomeRetracted, drills.RunStarted),
		run("R000005", drills.OutcomeRunning, drills.RunStarted),
		run("R000006", "", drills.RunMissed),
		run("R000007", "", drills.RunStarted),
	}
	out := mustRunOnFake(t, fakeAPI{"GET /api/v1/drill-runs": map[string]any{"items": runs}}, "drill", "runs")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 8, out)
	assert.Equal(t, "OUTCOME", strings.Fields(lines[0])[9], lines[0])
	for i, want := range []string{"held", "cut_short", "stopped_by_live", "retracted", "running", "-", "-"} {
		fields := strings.Fields(lines[i+1])
		assert.Equal(t, string(runs[i].Status), fields[4], lines[i+1])
		assert.Equal(t, want, fields[11], lines[i+1]) // AT is a date, a time and a zone
	}
	help := mustRunOnFake(t, fakeAPI{}, "drill", "runs", "--help")
	assert.Contains(t, help, "Only a run held")
}
