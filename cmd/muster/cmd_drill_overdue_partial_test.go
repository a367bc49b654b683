package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"muster/drills"
	"muster/plans"
)

// drill overdue says of a region whose last drill called up only a part
// of it (one district of a city-wide plan) which regions that drill was
// over, so the city does not read as drilled whole.
func TestDrillOverdueSaysARunOverAPartOfTheRegion(t *testing.T) {
	at := time.Date(2026, 12, 7, 7, 15, 0, 0, time.UTC)
	rep := drills.OverdueReport{Now: at, Regions: []drills.RegionDrills{{
		Plan: "hazmat-fire", Region: "990100", RegionName: "示例市", Overdue: true,
		Full: drills.DrillDue{Interval: plans.Period{Years: 3}, Never: true, Overdue: true},
		Notification: drills.DrillDue{Interval: plans.Period{Years: 1}, LastRun: "R000005", LastType: drills.Notification, LastAt: at,
			NextDue: at.AddDate(1, 0, 0), LastRegions: []plans.RegionCode{"990106"}, Partial: true},
	}}}
	out := mustRunOnFake(t, fakeAPI{"GET /api/v1/drills/overdue": rep}, "drill", "overdue")
	assert.Contains(t, out, "(last R000005 over 990106 only)")
	rep.Regions[0].Notification.Partial = false
	out = mustRunOnFake(t, fakeAPI{"GET /api/v1/drills/overdue": rep}, "drill", "overdue")
	assert.Contains(t, out, "(last R000005)")
}
