package drills_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/drills"
)

// A run by hand of one schedule while another drill's run is open over the
// same regions, or a region above or below them, is refused (409) naming
// that run and its activation, as a due time then is recorded missed: the
// same people are not called up twice at once. A drill of another district
// runs, and so does the refused one once the open run stands down.
func TestARunByHandOverAnotherDrillsOpenRunIsRefused(t *testing.T) {
	e := newClockedEnv(t, 1, 300, nil)
	ctx := testCtx(t)
	week := scheduledAs(t, e, district, "", "")
	days := scheduledAs(t, e, street, "0 9 * * 1-5", "街道通讯演练")
	away := scheduledAs(t, e, other, "", "江北通讯演练")

	first, err := e.drills.RunNow(ctx, "trainer", week.ID)
	require.NoError(t, err)
	_, err = e.drills.RunNow(ctx, "trainer", days.ID)
	require.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	assert.ErrorContains(t, err, string(first.ID))
	assert.ErrorContains(t, err, string(first.Activation))
	assert.ErrorContains(t, err, "stand it down first")

	// Proposed past the service's check (two requests at once), the FSM
	// refuses it as it applies.
	var out drills.FireResult
	err = e.drills.Fire(ctx, "trainer", drills.Fire{Schedule: days.ID, Manual: true}, &out)
	require.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	assert.ErrorContains(t, err, string(first.ID))
	assert.Equal(t, 1, activeDrills(t, e), "one call-up of the district's people")

	_, err = e.drills.RunNow(ctx, "trainer", away.ID)
	require.NoError(t, err, "another district's drill runs")

	_, err = e.notify.StandDown(ctx, "trainer", first.Activation, "演练结束")
	require.NoError(t, err)
	r, err := e.drills.RunNow(ctx, "trainer", days.ID)
	require.NoError(t, err)
	assert.Equal(t, drills.RunStarted, r.Status)
}

// Under rules 12 the FSM started a run by hand over another drill's open
// run (only the service, which checks before it proposes, refuses it).
func TestARunByHandOverAnotherDrillsOpenRunUnderRules12(t *testing.T) {
	e := newEnvWith(t, envOptions{nodes: 1, people: 300, stamp: true, rules: 12})
	ctx := testCtx(t)
	week := scheduledAs(t, e, district, "", "")
	days := scheduledAs(t, e, street, "0 9 * * 1-5", "街道通讯演练")
	_, err := e.drills.RunNow(ctx, "trainer", week.ID)
	require.NoError(t, err)
	var out drills.FireResult
	require.NoError(t, e.drills.Fire(ctx, "trainer", drills.Fire{Schedule: days.ID, Manual: true}, &out))
	require.NotNil(t, out.Run)
	assert.Equal(t, drills.RunStarted, out.Run.Status)
	assert.Equal(t, 2, activeDrills(t, e))
}
