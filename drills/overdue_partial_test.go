package drills_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/drills"
	"muster/plans"
)

// A district's drill counts for a city-wide plan's scope, but the overdue
// report says it drilled only that district: its last run's regions and
// that it covered a part of the scope region. A city-wide run covers it
// whole.
func TestOverdueSaysARunDrilledOnlyAPartOfTheRegion(t *testing.T) {
	e := newEnvWith(t, envOptions{nodes: 1, people: 300, stamp: true})
	ctx := testCtx(t)
	districtRun := overdueRun(t, e, drillInput("hazmat-fire", drills.Notification, district))
	rep, err := e.drills.Overdue(ctx, muster.Default, districtRun.At.Add(time.Hour))
	require.NoError(t, err)
	hazmat := findRegion(t, rep, "hazmat-fire", city)
	assert.Equal(t, districtRun.ID, hazmat.Notification.LastRun)
	assert.Equal(t, []plans.RegionCode{district}, hazmat.Notification.LastRegions)
	assert.True(t, hazmat.Notification.Partial, "one district of the city")
	assert.NotEmpty(t, hazmat.Notification.NeverDrilled, "the city's other districts were never drilled")
	assert.NotContains(t, hazmat.Notification.NeverDrilled, district)
	assert.Contains(t, hazmat.Notification.NeverDrilled, other)

	e.clock.Add(drills.DefaultLength)
	cityIn := drillInput("hazmat-fire", drills.Notification, city)
	cityIn.ConfirmScope = string(city)
	cityRun := overdueRun(t, e, cityIn)
	rep, err = e.drills.Overdue(ctx, muster.Default, cityRun.At.Add(time.Hour))
	require.NoError(t, err)
	hazmat = findRegion(t, rep, "hazmat-fire", city)
	assert.Equal(t, cityRun.ID, hazmat.Notification.LastRun)
	assert.False(t, hazmat.Notification.Partial, "the whole city")
	assert.Empty(t, hazmat.Notification.NeverDrilled)
}
