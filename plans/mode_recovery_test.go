package plans_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/plans"
)

// endRecovery proposes mode.recovery_end for regions, as a commander.
func (e *warnEnv) endRecovery(t *testing.T, reason string, regions ...plans.RegionCode) ([]plans.RegionMode, error) {
	t.Helper()
	b, err := json.Marshal(plans.RecoveryEnd{Regions: regions, Reason: reason})
	require.NoError(t, err)
	var out []plans.RegionMode
	err = e.node.Apply(testCtx(t), &muster.Command{Type: plans.CmdRecoveryEnd, Actor: "commander2", Payload: b, Ignorable: true}, &out)
	return out, err
}

// A LIVE call-up that stands down leaves its region in recovery (恢复),
// not normal, with the stand-down's time, actor, reason and activation:
// a warning over it puts it in standby and its lifting brings the
// recovery back; a new call-up puts it in emergency and its stand-down in
// a new recovery; a commander's decision ends it. Every switch is audited.
func TestStandDownLeavesRecoveryUntilEnded(t *testing.T) {
	e := newWarnEnv(t)
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelII, Act: "A000001"})
	e.clk.Add(time.Hour)
	t1 := e.clk.Now()
	e.hold(t, testHold{Region: wDistrict, Act: "A000001", StandDown: true})

	rec1 := &plans.Recovery{Since: t1, By: "commander", Reason: "雨情缓解", Activation: "A000001"}
	assert.Equal(t, plans.RegionMode{Region: wDistrict, Mode: plans.ModeRecovery, From: wDistrict, Recovery: rec1}, e.mode(t, wDistrict))
	assert.Equal(t, plans.RegionMode{Region: wGrid, Mode: plans.ModeRecovery, From: wDistrict, Recovery: rec1}, e.mode(t, wGrid), "children inherit recovery")
	assert.Equal(t, plans.ModeNormal, e.mode(t, wCity).Mode)
	assert.Equal(t, plans.ModeNormal, e.mode(t, wOther).Mode)
	assert.Equal(t, []plans.ModeRecord{{Region: wDistrict, Mode: plans.ModeRecovery, Since: t1, By: "commander", Reason: "雨情缓解", Recovery: rec1}}, e.modeRecords(t))

	// A warning outranks recovery; lifting it brings the recovery back.
	e.clk.Add(time.Hour)
	t2 := e.clk.Now()
	w := e.issue(t, rain("yellow", wDistrict))
	assert.Equal(t, plans.RegionMode{Region: wDistrict, Mode: plans.ModeStandby, From: wDistrict, WarningLevel: plans.WarningYellow,
		Warnings: holding(w), Recovery: rec1}, e.mode(t, wDistrict), "in standby, and back to recovery after")
	recs := e.modeRecords(t)
	require.Len(t, recs, 1)
	assert.Equal(t, plans.ModeStandby, recs[0].Mode)
	assert.Equal(t, t2, recs[0].Since)
	assert.Equal(t, "duty", recs[0].By)
	e.clk.Add(time.Hour)
	e.lift(t, w.ID)
	assert.Equal(t, plans.RegionMode{Region: wDistrict, Mode: plans.ModeRecovery, From: wDistrict, Recovery: rec1}, e.mode(t, wDistrict))
	assert.Equal(t, []plans.ModeRecord{{Region: wDistrict, Mode: plans.ModeRecovery, Since: t1, By: "commander", Reason: "雨情缓解", Recovery: rec1}}, e.modeRecords(t))

	// A new LIVE call-up: emergency; its stand-down: a new recovery.
	e.clk.Add(time.Hour)
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelI, Act: "A000002"})
	assert.Equal(t, plans.RegionMode{Region: wDistrict, Mode: plans.ModeEmergency, Level: plans.LevelI, From: wDistrict}, e.mode(t, wDistrict))
	_, err := e.endRecovery(t, "恢复完毕", wDistrict)
	assert.ErrorContains(t, err, "990101 is in emergency (战时), not in recovery (恢复)")
	e.clk.Add(time.Hour)
	t3 := e.clk.Now()
	e.hold(t, testHold{Region: wDistrict, Act: "A000002", StandDown: true})
	rec2 := &plans.Recovery{Since: t3, By: "commander", Reason: "雨情缓解", Activation: "A000002"}
	assert.Equal(t, plans.RegionMode{Region: wDistrict, Mode: plans.ModeRecovery, From: wDistrict, Recovery: rec2}, e.mode(t, wDistrict))

	// Recovery is ended where it is, by a decision with a reason.
	_, err = e.endRecovery(t, "恢复完毕", wGrid)
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	assert.ErrorContains(t, err, "990101001001001 is in recovery (恢复) through 990101, the region above it: end the recovery there (--region 990101)")
	_, err = e.endRecovery(t, " ", wDistrict)
	assert.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
	_, err = e.endRecovery(t, "恢复完毕")
	assert.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
	_, err = e.endRecovery(t, "恢复完毕", wDistrict, wOther)
	assert.ErrorContains(t, err, "990102 is normal (平时), not in recovery (恢复): there is no recovery to end")
	assert.Equal(t, plans.ModeRecovery, e.mode(t, wDistrict).Mode, "a refused command ends no recovery, not even those that could end")
	_, err = e.endRecovery(t, "恢复完毕", "990199")
	assert.True(t, muster.IsCode(err, muster.EInvalid), "an unknown region: %v", err)
	e.clk.Add(time.Hour)
	t4 := e.clk.Now()
	out, err := e.endRecovery(t, "灾后恢复完毕", wDistrict, wDistrict)
	require.NoError(t, err)
	assert.Equal(t, []plans.RegionMode{{Region: wDistrict, Mode: plans.ModeNormal}}, out)
	assert.Equal(t, plans.ModeNormal, e.mode(t, wGrid).Mode)
	assert.Empty(t, e.modeRecords(t))
	_, err = e.endRecovery(t, "again", wDistrict)
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)

	type sw struct {
		Action   string
		From, To plans.Mode
		Act      plans.ActivationID
		Warning  plans.WarningID
		Actor    string
		Reason   string
	}
	var got []sw
	for _, r := range e.audit(t) {
		assert.Equal(t, wDistrict, r.Region)
		got = append(got, sw{r.Action, r.From, r.To, r.Activation, r.Warning, r.Actor, r.Reason})
	}
	assert.Equal(t, []sw{
		{plans.AuditHold, plans.ModeNormal, plans.ModeEmergency, "A000001", "", "commander", "启动响应"},
		{plans.AuditRelease, plans.ModeEmergency, plans.ModeRecovery, "A000001", "", "commander", "雨情缓解"},
		{plans.AuditWarningHold, plans.ModeRecovery, plans.ModeStandby, "", w.ID, "duty", holding(w)[0].Reason()},
		{plans.AuditWarningRelease, plans.ModeStandby, plans.ModeRecovery, "", w.ID, "duty", "预警解除"},
		{plans.AuditHold, plans.ModeRecovery, plans.ModeEmergency, "A000002", "", "commander", "启动响应"},
		{plans.AuditRelease, plans.ModeEmergency, plans.ModeRecovery, "A000002", "", "commander", "雨情缓解"},
		{plans.AuditRecoveryEnd, plans.ModeRecovery, plans.ModeNormal, "A000002", "", "commander2", "灾后恢复完毕"},
	}, got)
	assert.Equal(t, t4, e.audit(t)[6].Time)
}

// Recovery inherits as the other modes do, below emergency and standby:
// a street with a warning of its own under a district in recovery is in
// standby, and goes back to the district's recovery when it is lifted; a
// call-up over the city above puts the district in emergency and, when it
// is retracted, back in its recovery. A call-up stood down while another
// still holds the region leaves the recovery for when that one goes;
// a call-up retracted after it stood down takes back its recovery.
func TestRecoveryPrecedenceAndRetraction(t *testing.T) {
	e := newWarnEnv(t)
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelII, Act: "A000001"})
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelIII, Act: "A000002"})
	t1 := e.clk.Now()
	e.hold(t, testHold{Region: wDistrict, Act: "A000001", StandDown: true})
	assert.Equal(t, plans.RegionMode{Region: wDistrict, Mode: plans.ModeEmergency, Level: plans.LevelIII, From: wDistrict}, e.mode(t, wDistrict),
		"another call-up still holds it")
	e.clk.Add(time.Minute)
	e.hold(t, testHold{Region: wDistrict, Act: "A000002", Retract: true})
	rec1 := &plans.Recovery{Since: t1, By: "commander", Reason: "雨情缓解", Activation: "A000001"}
	assert.Equal(t, plans.RegionMode{Region: wDistrict, Mode: plans.ModeRecovery, From: wDistrict, Recovery: rec1}, e.mode(t, wDistrict),
		"the retracted call-up leaves the recovery of the one stood down")

	w := e.issue(t, rain("blue", wStreet))
	assert.Equal(t, plans.RegionMode{Region: wGrid, Mode: plans.ModeStandby, From: wStreet, WarningLevel: plans.WarningBlue, Warnings: holding(w), Recovery: rec1},
		e.mode(t, wGrid), "standby outranks the district's recovery")
	assert.Equal(t, plans.ModeRecovery, e.mode(t, "990101002").Mode, "another street of the district")
	e.lift(t, w.ID)
	assert.Equal(t, plans.RegionMode{Region: wGrid, Mode: plans.ModeRecovery, From: wDistrict, Recovery: rec1}, e.mode(t, wGrid))

	e.hold(t, testHold{Region: wCity, Level: plans.LevelI, Act: "A000003"})
	assert.Equal(t, plans.RegionMode{Region: wDistrict, Mode: plans.ModeEmergency, Level: plans.LevelI, From: wCity}, e.mode(t, wDistrict))
	_, err := e.endRecovery(t, "恢复完毕", wDistrict)
	assert.ErrorContains(t, err, "990101 is in emergency (战时) through 990100, not in recovery (恢复): when the emergency stands down it is in recovery again, the stand-down's (or, if the call-up is retracted, its own from A000001)")
	e.hold(t, testHold{Region: wCity, Act: "A000003", Retract: true})
	assert.Equal(t, plans.RegionMode{Region: wDistrict, Mode: plans.ModeRecovery, From: wDistrict, Recovery: rec1}, e.mode(t, wDistrict))
	assert.Equal(t, plans.ModeNormal, e.mode(t, wCity).Mode, "a retracted call-up leaves no recovery")

	// Stood down, then retracted (it was sent in error): no recovery.
	e.hold(t, testHold{Region: wOther, Level: plans.LevelIV, Act: "A000004"})
	e.hold(t, testHold{Region: wOther, Act: "A000004", StandDown: true})
	assert.Equal(t, plans.ModeRecovery, e.mode(t, wOther).Mode)
	e.hold(t, testHold{Region: wDistrict, Act: "A000004", StandDown: true, Retract: true})
	assert.Equal(t, plans.ModeRecovery, e.mode(t, wDistrict).Mode, "a recovery from another call-up stays")
	e.hold(t, testHold{Region: wOther, Act: "A000004", StandDown: true, Retract: true})
	assert.Equal(t, plans.RegionMode{Region: wOther, Mode: plans.ModeNormal}, e.mode(t, wOther))
	last := e.audit(t)[len(e.audit(t))-1]
	assert.Equal(t, plans.AuditRecord{Seq: last.Seq, Time: last.Time, Actor: "commander", Action: plans.AuditRelease, Region: wOther,
		From: plans.ModeRecovery, To: plans.ModeNormal, Reason: "误发撤回", Activation: "A000004"}, last)

	out, err := e.endRecovery(t, "恢复完毕", wDistrict)
	require.NoError(t, err)
	assert.Equal(t, plans.ModeNormal, out[0].Mode)
	assert.Empty(t, e.modeRecords(t))
}

// Under rules before 12 a stand-down leaves its region normal, as before
// recovery, and ending a recovery is refused.
func TestStandDownUnderRules11LeavesNormal(t *testing.T) {
	e := newWarnEnvUnder(t, 11)
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelII, Act: "A000001"})
	e.hold(t, testHold{Region: wDistrict, Act: "A000001", StandDown: true})
	assert.Equal(t, plans.RegionMode{Region: wDistrict, Mode: plans.ModeNormal}, e.mode(t, wDistrict))
	assert.Empty(t, e.modeRecords(t))
	trail := e.audit(t)
	require.Len(t, trail, 2)
	assert.Equal(t, plans.ModeNormal, trail[1].To)
	_, err := e.endRecovery(t, "恢复完毕", wDistrict)
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	assert.ErrorContains(t, err, "needs state-machine rules 12 and the cluster applies 11")
}
