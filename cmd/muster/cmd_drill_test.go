package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/drills"
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
