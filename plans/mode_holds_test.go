package plans_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/plans"
)

// A region in emergency says who switched it and why as the activation
// that sets its level does: a more severe level raised by another official
// names them, and the first activation stood down (or retracted) while
// another holds the region no longer leaves its official and words there.
// Of two at the same level, the first to hold the region speaks.
func TestARegionInEmergencySaysWhoHoldsItsLevel(t *testing.T) {
	e := newWarnEnv(t)
	t0 := e.clk.Now()
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelIV, Act: "A000001", Actor: "另一领导", Reason: "小范围积水"})
	e.clk.Add(time.Minute)
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelIV, Act: "A000002", Actor: "第三领导", Reason: "同级响应"})
	rec := e.modeRecords(t)
	require.Len(t, rec, 1)
	assert.Equal(t, [3]any{t0, "另一领导", "小范围积水"}, [3]any{rec[0].Since, rec[0].By, rec[0].Reason}, "the same level: the first speaks")

	e.clk.Add(time.Minute)
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelII, Act: "A000003", Actor: "带班领导", Reason: "内涝升级"})
	rec = e.modeRecords(t)
	require.Len(t, rec, 1)
	assert.Equal(t, plans.LevelII, rec[0].Level)
	assert.Equal(t, [3]any{t0, "带班领导", "内涝升级"}, [3]any{rec[0].Since, rec[0].By, rec[0].Reason}, "a level raised: its official and reason; since: the emergency's start")

	e.clk.Add(time.Minute)
	e.hold(t, testHold{Region: wDistrict, Act: "A000003", StandDown: true})
	rec = e.modeRecords(t)
	require.Len(t, rec, 1)
	assert.Equal(t, plans.LevelIV, rec[0].Level)
	assert.Equal(t, [2]string{"另一领导", "小范围积水"}, [2]string{rec[0].By, rec[0].Reason}, "back to level IV: the first level IV hold")

	e.clk.Add(time.Minute)
	e.hold(t, testHold{Region: wDistrict, Act: "A000001", Retract: true})
	rec = e.modeRecords(t)
	require.Len(t, rec, 1)
	assert.Equal(t, plans.ModeEmergency, rec[0].Mode)
	assert.Equal(t, [2]string{"第三领导", "同级响应"}, [2]string{rec[0].By, rec[0].Reason}, "the one left holds it")
	assert.Equal(t, []plans.ActivationID{"A000002"}, activations(rec[0].Holds))
}

// Under rules 12 the record keeps the first activation's official and
// reason for as long as the region stays in emergency, as it did.
func TestARegionInEmergencyUnderRules12SaysWhoSwitchedItFirst(t *testing.T) {
	e := newWarnEnvUnder(t, 12)
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelIV, Act: "A000001", Actor: "另一领导", Reason: "小范围积水"})
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelII, Act: "A000002", Actor: "带班领导", Reason: "内涝升级"})
	e.hold(t, testHold{Region: wDistrict, Act: "A000001", StandDown: true})
	rec := e.modeRecords(t)
	require.Len(t, rec, 1)
	assert.Equal(t, plans.LevelII, rec[0].Level)
	assert.Equal(t, [2]string{"另一领导", "小范围积水"}, [2]string{rec[0].By, rec[0].Reason})
	assert.Equal(t, []plans.Hold{{Activation: "A000002", Level: plans.LevelII}}, rec[0].Holds, "holds keep no actor or reason")
}

// A region switched by an approval says who asked for the activation, not
// the approver who let it start, and who approved it; the recovery after
// its stand-down is the stand-down's alone. Under rules 12 the approver is
// the one named, as before.
func TestARegionSwitchedByAnApprovalNamesItsRequester(t *testing.T) {
	e := newWarnEnv(t)
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelII, Act: "A000001", Actor: "值班领导", Requester: "带班领导", Reason: "内涝升级"})
	rec := e.modeRecords(t)
	require.Len(t, rec, 1)
	assert.Equal(t, [3]string{"带班领导", "值班领导", "内涝升级"}, [3]string{rec[0].By, rec[0].ApprovedBy, rec[0].Reason})
	require.Len(t, rec[0].Holds, 1)
	assert.Equal(t, [2]string{"带班领导", "值班领导"}, [2]string{rec[0].Holds[0].By, rec[0].Holds[0].ApprovedBy})

	// A direct activation over it at a more severe level speaks, approved
	// by nobody.
	e.clk.Add(time.Minute)
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelI, Act: "A000002", Actor: "总指挥", Requester: "总指挥", Reason: "特大暴雨"})
	rec = e.modeRecords(t)
	require.Len(t, rec, 1)
	assert.Equal(t, [3]string{"总指挥", "", "特大暴雨"}, [3]string{rec[0].By, rec[0].ApprovedBy, rec[0].Reason})
	e.clk.Add(time.Minute)
	e.hold(t, testHold{Region: wDistrict, Act: "A000002", StandDown: true})
	rec = e.modeRecords(t)
	assert.Equal(t, [2]string{"带班领导", "值班领导"}, [2]string{rec[0].By, rec[0].ApprovedBy}, "back to the approved one")

	e.clk.Add(time.Minute)
	e.hold(t, testHold{Region: wDistrict, Act: "A000001", StandDown: true})
	rec = e.modeRecords(t)
	require.Len(t, rec, 1)
	assert.Equal(t, plans.ModeRecovery, rec[0].Mode)
	assert.Empty(t, rec[0].ApprovedBy, "a recovery is the stand-down's")

	old := newWarnEnvUnder(t, 12)
	old.hold(t, testHold{Region: wDistrict, Level: plans.LevelII, Act: "A000001", Actor: "值班领导", Requester: "带班领导", Reason: "内涝升级"})
	rec = old.modeRecords(t)
	require.Len(t, rec, 1)
	assert.Equal(t, [2]string{"值班领导", ""}, [2]string{rec[0].By, rec[0].ApprovedBy})
}

func activations(holds []plans.Hold) []plans.ActivationID {
	var out []plans.ActivationID
	for _, h := range holds {
		out = append(out, h.Activation)
	}
	return out
}
