package plans_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/plans"
)

// lastAudit is the last record of e's audit trail, without its sequence
// number and time.
func (e *warnEnv) lastAudit(t *testing.T) plans.AuditRecord {
	t.Helper()
	trail := e.audit(t)
	require.NotEmpty(t, trail)
	last := trail[len(trail)-1]
	last.Seq, last.Time = 0, time.Time{}
	return last
}

// Each stand-down's recovery is kept (rules 13): a newer call-up's
// stand-down shows its own recovery, and retracting it (it was sent in
// error) brings back the recovery of the call-up stood down before it,
// with that one's time, actor and reason, instead of normal. Retracting
// the older one first leaves the newer's recovery, and retracting the
// newer then leaves nothing.
func TestRetractingANewerCallUpBringsBackTheOlderRecovery(t *testing.T) {
	e := newWarnEnv(t)
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelII, Act: "A000001"})
	t1 := e.clk.Now()
	e.hold(t, testHold{Region: wDistrict, Act: "A000001", StandDown: true})
	rec1 := plans.Recovery{Since: t1, By: "commander", Reason: "雨情缓解", Activation: "A000001"}
	e.clk.Add(time.Hour)
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelIII, Act: "A000002"})
	e.clk.Add(time.Hour)
	t2 := e.clk.Now()
	e.hold(t, testHold{Region: wDistrict, Act: "A000002", StandDown: true})
	rec2 := plans.Recovery{Since: t2, By: "commander", Reason: "雨情缓解", Activation: "A000002"}
	assert.Equal(t, plans.RegionMode{Region: wDistrict, Mode: plans.ModeRecovery, From: wDistrict, Recovery: &rec2}, e.mode(t, wDistrict))
	assert.Equal(t, []plans.ModeRecord{{Region: wDistrict, Mode: plans.ModeRecovery, Since: t2, By: "commander", Reason: "雨情缓解",
		Recovery: &rec2, EarlierRecoveries: []plans.Recovery{rec1}}}, e.modeRecords(t))

	e.clk.Add(time.Hour)
	e.hold(t, testHold{Region: wDistrict, Act: "A000002", StandDown: true, Retract: true})
	assert.Equal(t, plans.RegionMode{Region: wDistrict, Mode: plans.ModeRecovery, From: wDistrict, Recovery: &rec1}, e.mode(t, wDistrict),
		"back to the recovery of the call-up stood down before")
	assert.Equal(t, []plans.ModeRecord{{Region: wDistrict, Mode: plans.ModeRecovery, Since: t1, By: "commander", Reason: "雨情缓解",
		Recovery: &rec1}}, e.modeRecords(t))
	assert.Equal(t, plans.AuditRecord{Actor: "commander", Action: plans.AuditRelease, Region: wDistrict,
		From: plans.ModeRecovery, To: plans.ModeRecovery, Reason: "误发撤回", Activation: "A000002"}, e.lastAudit(t))
	e.hold(t, testHold{Region: wDistrict, Act: "A000001", StandDown: true, Retract: true})
	assert.Equal(t, plans.RegionMode{Region: wDistrict, Mode: plans.ModeNormal}, e.mode(t, wDistrict))

	// Two call-ups at once, the first stood down while the second held the
	// region: retracting the second brings back the first's recovery.
	e.hold(t, testHold{Region: wOther, Level: plans.LevelIV, Act: "A000003"})
	e.hold(t, testHold{Region: wOther, Level: plans.LevelIII, Act: "A000004"})
	t3 := e.clk.Now()
	e.hold(t, testHold{Region: wOther, Act: "A000003", StandDown: true})
	e.clk.Add(time.Hour)
	e.hold(t, testHold{Region: wOther, Act: "A000004", StandDown: true})
	e.hold(t, testHold{Region: wOther, Act: "A000004", StandDown: true, Retract: true})
	rec3 := plans.Recovery{Since: t3, By: "commander", Reason: "雨情缓解", Activation: "A000003"}
	assert.Equal(t, plans.RegionMode{Region: wOther, Mode: plans.ModeRecovery, From: wOther, Recovery: &rec3}, e.mode(t, wOther))

	// The older retracted first: the newer's recovery stays, alone.
	e.hold(t, testHold{Region: wOther, Level: plans.LevelIV, Act: "A000005"})
	e.clk.Add(time.Hour)
	t5 := e.clk.Now()
	e.hold(t, testHold{Region: wOther, Act: "A000005", StandDown: true})
	e.hold(t, testHold{Region: wOther, Act: "A000003", StandDown: true, Retract: true})
	rec5 := plans.Recovery{Since: t5, By: "commander", Reason: "雨情缓解", Activation: "A000005"}
	assert.Equal(t, []plans.ModeRecord{{Region: wOther, Mode: plans.ModeRecovery, Since: t5, By: "commander", Reason: "雨情缓解",
		Recovery: &rec5}}, e.modeRecords(t))
	assert.Equal(t, plans.AuditRecord{Actor: "commander", Action: plans.AuditRelease, Region: wOther,
		From: plans.ModeRecovery, To: plans.ModeRecovery, Reason: "误发撤回", Activation: "A000003"}, e.lastAudit(t),
		"taking back a recovery under another is audited too")
	e.hold(t, testHold{Region: wOther, Act: "A000005", StandDown: true, Retract: true})
	assert.Equal(t, plans.RegionMode{Region: wOther, Mode: plans.ModeNormal}, e.mode(t, wOther))
	assert.Empty(t, e.modeRecords(t))
}

// Under rules 12 a stand-down's recovery replaces the one before, and
// retracting the newer call-up leaves its region normal, as musters of
// those rules apply it.
func TestRetractingANewerCallUpUnderRules12LeavesNormal(t *testing.T) {
	e := newWarnEnvUnder(t, 12)
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelII, Act: "A000001"})
	e.hold(t, testHold{Region: wDistrict, Act: "A000001", StandDown: true})
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelIII, Act: "A000002"})
	e.hold(t, testHold{Region: wDistrict, Act: "A000002", StandDown: true})
	recs := e.modeRecords(t)
	require.Len(t, recs, 1)
	assert.Nil(t, recs[0].EarlierRecoveries)
	e.hold(t, testHold{Region: wDistrict, Act: "A000002", StandDown: true, Retract: true})
	assert.Equal(t, plans.RegionMode{Region: wDistrict, Mode: plans.ModeNormal}, e.mode(t, wDistrict))
	assert.Empty(t, e.modeRecords(t))
}

// A region shows the newest recovery on its path, its own or one of a
// region above it: a district whose own recovery is older than the city's
// (a city-wide call-up came after, and stood down) is in the city's, as
// is a street under it in standby once the warning is lifted. The
// district's own recovery, hidden under the city's, can still be ended,
// and the district stays in the city's; ending the city's leaves
// everything normal. A district whose own recovery is the newer shows it.
func TestTheNewestRecoveryOnThePathIsShown(t *testing.T) {
	e := newWarnEnv(t)
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelII, Act: "A000001"})
	e.hold(t, testHold{Region: wDistrict, Act: "A000001", StandDown: true})
	e.clk.Add(time.Hour)
	e.hold(t, testHold{Region: wCity, Level: plans.LevelI, Act: "A000002"})
	assert.Equal(t, plans.RegionMode{Region: wDistrict, Mode: plans.ModeEmergency, Level: plans.LevelI, From: wCity}, e.mode(t, wDistrict))
	e.clk.Add(time.Hour)
	t2 := e.clk.Now()
	e.hold(t, testHold{Region: wCity, Act: "A000002", StandDown: true})
	rec2 := &plans.Recovery{Since: t2, By: "commander", Reason: "雨情缓解", Activation: "A000002"}
	for _, r := range []plans.RegionCode{wDistrict, wGrid, wOther} {
		assert.Equal(t, plans.RegionMode{Region: r, Mode: plans.ModeRecovery, From: wCity, Recovery: rec2}, e.mode(t, r), "%s", r)
	}

	w := e.issue(t, rain("blue", wStreet))
	assert.Equal(t, plans.RegionMode{Region: wGrid, Mode: plans.ModeStandby, From: wStreet, WarningLevel: plans.WarningBlue,
		Warnings: holding(w), Recovery: rec2}, e.mode(t, wGrid), "back to the newest recovery when the warning is lifted")
	e.lift(t, w.ID)
	assert.Equal(t, plans.RegionMode{Region: wGrid, Mode: plans.ModeRecovery, From: wCity, Recovery: rec2}, e.mode(t, wGrid))

	out, err := e.endRecovery(t, "恢复完毕", wDistrict)
	require.NoError(t, err)
	assert.Equal(t, []plans.RegionMode{{Region: wDistrict, Mode: plans.ModeRecovery, From: wCity, Recovery: rec2}}, out,
		"its own recovery ended, it is in the city's")
	assert.Equal(t, plans.AuditRecord{Actor: "commander2", Action: plans.AuditRecoveryEnd, Region: wDistrict,
		From: plans.ModeRecovery, To: plans.ModeRecovery, Reason: "恢复完毕", Activation: "A000001"}, e.lastAudit(t))
	recs := e.modeRecords(t)
	require.Len(t, recs, 1)
	assert.Equal(t, wCity, recs[0].Region)
	out, err = e.endRecovery(t, "恢复完毕", wCity)
	require.NoError(t, err)
	assert.Equal(t, []plans.RegionMode{{Region: wCity, Mode: plans.ModeNormal}}, out)
	assert.Equal(t, plans.ModeNormal, e.mode(t, wDistrict).Mode)

	// The district's own recovery is the newer: it shows its own.
	e.hold(t, testHold{Region: wCity, Level: plans.LevelI, Act: "A000003"})
	e.hold(t, testHold{Region: wCity, Act: "A000003", StandDown: true})
	e.clk.Add(time.Hour)
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelII, Act: "A000004"})
	t4 := e.clk.Now()
	e.hold(t, testHold{Region: wDistrict, Act: "A000004", StandDown: true})
	rec4 := &plans.Recovery{Since: t4, By: "commander", Reason: "雨情缓解", Activation: "A000004"}
	assert.Equal(t, plans.RegionMode{Region: wGrid, Mode: plans.ModeRecovery, From: wDistrict, Recovery: rec4}, e.mode(t, wGrid))
	assert.Equal(t, wCity, e.mode(t, wOther).From)
}

// A recovery under a standby can be ended (rules 13): the region stays in
// standby while the warning holds it, and is normal, not in recovery, when
// the warning is lifted. So can one under a warning over the region above;
// one under an emergency cannot (its stand-down starts a new recovery).
func TestEndRecoveryUnderAStandby(t *testing.T) {
	e := newWarnEnv(t)
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelII, Act: "A000001"})
	e.hold(t, testHold{Region: wDistrict, Act: "A000001", StandDown: true})
	e.clk.Add(time.Hour)
	t2 := e.clk.Now()
	w := e.issue(t, rain("yellow", wDistrict))
	out, err := e.endRecovery(t, "恢复完毕", wDistrict)
	require.NoError(t, err)
	assert.Equal(t, []plans.RegionMode{{Region: wDistrict, Mode: plans.ModeStandby, From: wDistrict, WarningLevel: plans.WarningYellow,
		Warnings: holding(w)}}, out, "still in standby, with no recovery under it")
	assert.Equal(t, []plans.ModeRecord{{Region: wDistrict, Mode: plans.ModeStandby, Since: t2, By: "duty", Reason: holding(w)[0].Reason(),
		WarningLevel: plans.WarningYellow, Warnings: holding(w)}}, e.modeRecords(t))
	assert.Equal(t, plans.AuditRecord{Actor: "commander2", Action: plans.AuditRecoveryEnd, Region: wDistrict,
		From: plans.ModeStandby, To: plans.ModeStandby, Reason: "恢复完毕", Activation: "A000001"}, e.lastAudit(t))
	e.lift(t, w.ID)
	assert.Equal(t, plans.RegionMode{Region: wDistrict, Mode: plans.ModeNormal}, e.mode(t, wDistrict), "normal, not recovery")
	assert.Empty(t, e.modeRecords(t))

	// Under a warning over the city above.
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelII, Act: "A000002"})
	e.hold(t, testHold{Region: wDistrict, Act: "A000002", StandDown: true})
	w2 := e.issue(t, rain("orange", wCity))
	require.Equal(t, plans.ModeStandby, e.mode(t, wDistrict).Mode)
	out, err = e.endRecovery(t, "恢复完毕", wDistrict)
	require.NoError(t, err)
	assert.Equal(t, []plans.RegionMode{{Region: wDistrict, Mode: plans.ModeStandby, From: wCity, WarningLevel: plans.WarningOrange,
		Warnings: holding(w2)}}, out)
	e.lift(t, w2.ID)
	assert.Equal(t, plans.ModeNormal, e.mode(t, wGrid).Mode)
	assert.Empty(t, e.modeRecords(t))

	// A region in standby with no recovery of its own, over none or over
	// the recovery of the region above, or one under an emergency:
	// refused, saying why.
	w3 := e.issue(t, rain("blue", wOther))
	_, err = e.endRecovery(t, "恢复完毕", wOther)
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	assert.EqualError(t, err, "990102 is in standby (临战), not in recovery (恢复)")
	e.lift(t, w3.ID)
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelII, Act: "A000005"})
	e.hold(t, testHold{Region: wDistrict, Act: "A000005", StandDown: true})
	w4 := e.issue(t, rain("blue", wStreet))
	_, err = e.endRecovery(t, "恢复完毕", wStreet)
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	assert.EqualError(t, err, "990101001 is in standby (临战), not in recovery (恢复): it goes back to the recovery of 990101, "+
		"the region above it, from A000005 when its warnings are lifted; end the recovery there (--region 990101)")
	e.lift(t, w4.ID)
	_, err = e.endRecovery(t, "恢复完毕", wDistrict)
	require.NoError(t, err)
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelII, Act: "A000003"})
	e.hold(t, testHold{Region: wDistrict, Act: "A000003", StandDown: true})
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelIII, Act: "A000004"})
	_, err = e.endRecovery(t, "恢复完毕", wDistrict)
	assert.ErrorContains(t, err, "990101 is in emergency (战时), not in recovery (恢复): when the emergency stands down it is in recovery again, the stand-down's (or, if the call-up is retracted, its own from A000003)")
}

// Under rules 12 a recovery under a standby is not ended: the conflict
// says the region goes back to it when the warnings are lifted.
func TestEndRecoveryUnderAStandbyUnderRules12IsRefused(t *testing.T) {
	e := newWarnEnvUnder(t, 12)
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelII, Act: "A000001"})
	e.hold(t, testHold{Region: wDistrict, Act: "A000001", StandDown: true})
	e.issue(t, rain("yellow", wDistrict))
	_, err := e.endRecovery(t, "恢复完毕", wDistrict)
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	assert.ErrorContains(t, err, "990101 is in standby (临战), not in recovery (恢复): it goes back to its recovery from A000001 when its warnings are lifted")
	recs := e.modeRecords(t)
	require.Len(t, recs, 1)
	assert.NotNil(t, recs[0].Recovery)
}

// A warning over a region in recovery, applied under rules before 12 (a
// member whose muster predates recovery joined), keeps the region's record
// in the mode it has, as that muster does: only from rules 12 does it
// switch to standby.
func TestWarningOverARecoveryUnderRules11KeepsTheMode(t *testing.T) {
	e := newWarnEnv(t)
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelII, Act: "A000001"})
	t1 := e.clk.Now()
	e.hold(t, testHold{Region: wDistrict, Act: "A000001", StandDown: true})
	e.clk.Add(time.Hour)
	e.under.Store(11)
	w := e.issue(t, rain("yellow", wDistrict))
	recs := e.modeRecords(t)
	require.Len(t, recs, 1)
	assert.Equal(t, plans.ModeRecovery, recs[0].Mode)
	assert.Equal(t, t1, recs[0].Since)
	assert.Equal(t, "雨情缓解", recs[0].Reason)
	assert.Equal(t, holding(w), recs[0].Warnings)

	e.under.Store(12)
	e.hold(t, testHold{Region: wOther, Level: plans.LevelIV, Act: "A000002"})
	e.hold(t, testHold{Region: wOther, Act: "A000002", StandDown: true})
	e.clk.Add(time.Hour)
	t3 := e.clk.Now()
	e.issue(t, rain("orange", wOther))
	m := e.mode(t, wOther)
	assert.Equal(t, plans.ModeStandby, m.Mode, "under rules 12 it switches")
	recs = e.modeRecords(t)
	require.Len(t, recs, 2)
	assert.Equal(t, t3, recs[1].Since)
}

// The recoveries kept under a region's newest survive a new call-up over
// it: retracting that one while it runs, then the newest stood down, leaves
// the region in the recovery of the call-up before (rules 13).
func TestEarlierRecoveriesOutlastANewCallUp(t *testing.T) {
	e := newWarnEnv(t)
	t1 := e.clk.Now()
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelII, Act: "A000001"})
	e.hold(t, testHold{Region: wDistrict, Act: "A000001", StandDown: true})
	e.clk.Add(time.Hour)
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelII, Act: "A000002"})
	e.hold(t, testHold{Region: wDistrict, Act: "A000002", StandDown: true})
	e.clk.Add(time.Hour)
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelI, Act: "A000003"})
	e.hold(t, testHold{Region: wDistrict, Act: "A000003", Retract: true})
	assert.Equal(t, plans.ActivationID("A000002"), e.mode(t, wDistrict).Recovery.Activation)
	e.hold(t, testHold{Region: wDistrict, Act: "A000002", StandDown: true, Retract: true})
	assert.Equal(t, plans.RegionMode{Region: wDistrict, Mode: plans.ModeRecovery, From: wDistrict,
		Recovery: &plans.Recovery{Since: t1, By: "commander", Reason: "雨情缓解", Activation: "A000001"}}, e.mode(t, wDistrict))
}
