package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/drills"
	"muster/plans"
)

// drill overdue lists, after the part of the region its last drill was
// over, the regions under it no such drill ever covered, in the table and
// in JSON (never_drilled).
func TestDrillOverdueListsTheDistrictsNeverDrilled(t *testing.T) {
	at := time.Date(2026, 12, 7, 7, 15, 0, 0, time.UTC)
	rep := drills.OverdueReport{Now: at, Regions: []drills.RegionDrills{{
		Plan: "hazmat-fire", Region: "990100", RegionName: "示例市", Overdue: true,
		Full: drills.DrillDue{Interval: plans.Period{Years: 3}, Never: true, Overdue: true},
		Notification: drills.DrillDue{Interval: plans.Period{Years: 1}, LastRun: "R000005", LastType: drills.Notification, LastAt: at,
			NextDue: at.AddDate(1, 0, 0), LastRegions: []plans.RegionCode{"990106"}, Partial: true, NeverDrilled: []plans.RegionCode{"990102", "990103"}},
	}}}
	out := mustRunOnFake(t, fakeAPI{"GET /api/v1/drills/overdue": rep}, "drill", "overdue")
	assert.Contains(t, out, "(last R000005 over 990106 only; never drilled: 990102,990103)")
	js := mustRunOnFake(t, fakeAPI{"GET /api/v1/drills/overdue": rep}, "drill", "overdue", "-o", "json")
	var back drills.OverdueReport
	require.NoError(t, json.Unmarshal([]byte(js), &back), js)
	assert.Equal(t, []plans.RegionCode{"990102", "990103"}, back.Regions[0].Notification.NeverDrilled)
}
