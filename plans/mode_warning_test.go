package plans_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/plans"
)

// A region's mode names the warnings in force that hold it in standby, with
// their headlines, however it came to be in standby: after the call-up
// over it was retracted (the record's reason is the retraction), or after
// the warning that first put it there was replaced by an upstream update
// (the record's reason names the replaced one). The effective mode of a
// region under it names them too.
func TestModeNamesTheWarningsHoldingARegion(t *testing.T) {
	e := newWarnEnv(t)
	w := e.issue(t, rain("orange", wDistrict))
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelII, Act: "A000001"})
	e.hold(t, testHold{Region: wDistrict, Act: "A000001", Retract: true})

	first := e.importAlert(t, "QX-1", plans.WarningLive, plans.WarningRed)
	update := e.importAlert(t, "QX-5", plans.WarningLive, plans.WarningYellow, "QX-1")
	assert.Equal(t, plans.WarningLifted, e.warning(t, first.ID).Status)

	recs := e.modeRecords(t)
	require.Len(t, recs, 1)
	rec := recs[0]
	assert.Equal(t, wDistrict, rec.Region)
	assert.Equal(t, plans.ModeStandby, rec.Mode)
	assert.Equal(t, "误发撤回", rec.Reason, "the last switch's reason stays the record's")
	assert.Equal(t, []plans.WarningHold{
		{Warning: w.ID, Level: plans.WarningOrange, Headline: "东湖区暴雨orange预警"},
		{Warning: update.ID, Level: plans.WarningYellow, Headline: update.Headline},
	}, rec.Warnings)
	assert.Equal(t, "橙色预警 "+string(w.ID)+": 东湖区暴雨orange预警", rec.Warnings[0].Reason())

	m := e.mode(t, wGrid)
	assert.Equal(t, plans.ModeStandby, m.Mode)
	assert.Equal(t, wDistrict, m.From)
	assert.Equal(t, plans.WarningOrange, m.WarningLevel)
	assert.Equal(t, rec.Warnings, m.Warnings)

	e.lift(t, w.ID)
	e.lift(t, update.ID)
	assert.Empty(t, e.mode(t, wGrid).Warnings)
	assert.Empty(t, e.modeRecords(t))
}
