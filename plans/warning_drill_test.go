package plans_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/plans"
)

// An upstream exercise's warning is answered by a drill over its regions
// (an EXERCISE or TEST activation), never by a LIVE call-up: the commander
// is not left with a real call-up as the only way to answer a drill. A
// LIVE warning is answered by LIVE call-ups only. An update of the drill's
// warning is answered by the drills that answered the one it replaces.
func TestDrillWarningIsAnsweredByDrills(t *testing.T) {
	e := newWarnEnv(t)
	drill := e.importAlert(t, "QX-EX1", plans.WarningExercise, plans.WarningRed)
	live := e.issue(t, rain("orange", wDistrict))
	e.clk.Add(10 * time.Minute)
	assert.ElementsMatch(t, []plans.WarningID{drill.ID, live.ID}, e.unanswered(t))

	// A LIVE call-up over a street of the district answers the LIVE
	// warning only.
	e.hold(t, testHold{Region: wStreet, Level: plans.LevelII, Act: "A000001"})
	assert.Equal(t, []plans.WarningID{drill.ID}, e.unanswered(t), "a LIVE call-up answers no drill's warning")
	assert.Empty(t, e.warning(t, drill.ID).Responses)

	// A drill over the district answers the drill's warning only.
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelI, Act: "A000002", Drill: true})
	assert.Empty(t, e.unanswered(t))
	assert.Equal(t, []plans.WarningResponse{{Activation: "A000002", Region: wDistrict, Level: plans.LevelI, At: e.clk.Now()}},
		e.warning(t, drill.ID).Responses)
	got := e.warning(t, live.ID)
	require.Len(t, got.Responses, 1)
	assert.Equal(t, plans.ActivationID("A000001"), got.Responses[0].Activation, "a drill answers no LIVE warning")

	// The exercise's update is answered by the drill that answered it, not
	// by the LIVE call-up holding the street.
	upd := e.importAlert(t, "QX-EX2", plans.WarningExercise, plans.WarningRed, "QX-EX1")
	require.Len(t, upd.Responses, 1)
	assert.Equal(t, plans.ActivationID("A000002"), upd.Responses[0].Activation)
	e.clk.Add(time.Hour)
	assert.Empty(t, e.unanswered(t))

	// A drill that is retracted answers it no more.
	e.hold(t, testHold{Region: wDistrict, Act: "A000002", Retract: true})
	assert.Equal(t, []plans.WarningID{upd.ID}, e.unanswered(t))

	t.Run("rules 8", func(t *testing.T) {
		e := newWarnEnvUnder(t, 8)
		drill := e.importAlert(t, "QX-EX1", plans.WarningExercise, plans.WarningRed)
		e.clk.Add(10 * time.Minute)
		e.hold(t, testHold{Region: wDistrict, Level: plans.LevelI, Act: "A000001", Drill: true})
		assert.Equal(t, []plans.WarningID{drill.ID}, e.unanswered(t), "under rules 8 a drill answered no warning")
		e.hold(t, testHold{Region: wStreet, Level: plans.LevelII, Act: "A000002"})
		assert.Empty(t, e.unanswered(t), "under rules 8 a LIVE call-up answered a drill's warning")
	})
}
