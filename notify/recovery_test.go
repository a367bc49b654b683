package notify_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/notify"
	"muster/plans"
)

// A LIVE call-up's stand-down leaves its regions in recovery (恢复) with
// the stand-down's actor, reason and time and the call-up it came from; a
// drill switches nothing; a retracted call-up (sent in error) leaves no
// recovery, whether retracted while it ran or after it stood down, and
// one retracted over a region in recovery leaves that recovery as it was;
// a commander ends a recovery.
func TestStandDownRecoveryAndRetraction(t *testing.T) {
	e := newEnv(t, 1, 300)
	ctx := testCtx(t)

	live, err := e.svc.Activate(ctx, "commander", floodIV(district))
	require.NoError(t, err)
	drill, err := e.svc.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{other}, Level: "IV", Purpose: "EXERCISE", Reason: "通讯演练"})
	require.NoError(t, err)
	assert.Equal(t, plans.ModeEmergency, mode(t, e, district))
	assert.Equal(t, plans.ModeNormal, mode(t, e, other), "a drill runs in peacetime")
	_, err = e.svc.StandDown(ctx, "commander", drill.ID, "演练结束")
	require.NoError(t, err)
	assert.Equal(t, plans.ModeNormal, mode(t, e, other), "nor does its end switch anything")

	sd, err := e.svc.StandDown(ctx, "指挥长", live.ID, "雨情缓解")
	require.NoError(t, err)
	rec := &plans.Recovery{Since: sd.StoodDownAt, By: "指挥长", Reason: "雨情缓解", Activation: live.ID}
	m, err := e.svc.Mode(ctx, muster.Default, "990101001001001")
	require.NoError(t, err)
	assert.Equal(t, plans.RegionMode{Region: "990101001001001", Mode: plans.ModeRecovery, From: district, Recovery: rec}, m)

	// A second call-up over the district, retracted: back to the recovery
	// of the first, not to normal and not to a recovery of its own.
	wrong, err := e.svc.Activate(ctx, "commander", floodIV(district))
	require.NoError(t, err)
	assert.Equal(t, plans.ModeEmergency, mode(t, e, district))
	_, err = e.svc.Retract(ctx, "commander", wrong.ID, notify.RetractRequest{Message: "前一条通知系误发，请忽略。"})
	require.NoError(t, err)
	m, err = e.svc.Mode(ctx, muster.Default, district)
	require.NoError(t, err)
	assert.Equal(t, rec, m.Recovery)
	assert.Equal(t, plans.ModeRecovery, m.Mode)

	// A call-up retracted while it runs leaves its region normal; one
	// retracted after its stand-down takes its recovery back.
	a, err := e.svc.Activate(ctx, "commander", floodIV(other))
	require.NoError(t, err)
	_, err = e.svc.Retract(ctx, "commander", a.ID, notify.RetractRequest{Message: "误发，请忽略。"})
	require.NoError(t, err)
	assert.Equal(t, plans.ModeNormal, mode(t, e, other))
	b, err := e.svc.Activate(ctx, "commander", floodIV(other))
	require.NoError(t, err)
	_, err = e.svc.StandDown(ctx, "commander", b.ID, "雨停")
	require.NoError(t, err)
	assert.Equal(t, plans.ModeRecovery, mode(t, e, other))
	_, err = e.svc.Retract(ctx, "commander", b.ID, notify.RetractRequest{Message: "误发，请忽略。"})
	require.NoError(t, err)
	assert.Equal(t, plans.ModeNormal, mode(t, e, other))

	_, err = e.svc.EndRecovery(ctx, "commander", []plans.RegionCode{other}, "恢复完毕")
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	_, err = e.svc.EndRecovery(ctx, "commander", []plans.RegionCode{district}, "恢复\x1b[2J")
	assert.True(t, muster.IsCode(err, muster.EInvalid), "a reason with a terminal escape: %v", err)
	out, err := e.svc.EndRecovery(ctx, "commander", []plans.RegionCode{district}, "灾后恢复重建完成")
	require.NoError(t, err)
	assert.Equal(t, []plans.RegionMode{{Region: district, Mode: plans.ModeNormal}}, out)
	modes, err := e.svc.Modes(ctx, muster.Default)
	require.NoError(t, err)
	assert.Empty(t, modes)

	audit, err := e.svc.Audit(ctx, muster.Default, 0, 100)
	require.NoError(t, err)
	type sw struct {
		Action   string
		Region   plans.RegionCode
		From, To plans.Mode
		Act      plans.ActivationID
	}
	var sws []sw
	for _, r := range audit {
		sws = append(sws, sw{r.Action, r.Region, r.From, r.To, r.Activation})
	}
	assert.Equal(t, []sw{
		{plans.AuditHold, district, plans.ModeNormal, plans.ModeEmergency, live.ID},
		{plans.AuditRelease, district, plans.ModeEmergency, plans.ModeRecovery, live.ID},
		{plans.AuditHold, district, plans.ModeRecovery, plans.ModeEmergency, wrong.ID},
		{plans.AuditRelease, district, plans.ModeEmergency, plans.ModeRecovery, wrong.ID},
		{plans.AuditHold, other, plans.ModeNormal, plans.ModeEmergency, a.ID},
		{plans.AuditRelease, other, plans.ModeEmergency, plans.ModeNormal, a.ID},
		{plans.AuditHold, other, plans.ModeNormal, plans.ModeEmergency, b.ID},
		{plans.AuditRelease, other, plans.ModeEmergency, plans.ModeRecovery, b.ID},
		{plans.AuditRelease, other, plans.ModeRecovery, plans.ModeNormal, b.ID},
		{plans.AuditRecoveryEnd, district, plans.ModeRecovery, plans.ModeNormal, live.ID},
	}, sws)
	assert.Equal(t, "雨情缓解", audit[1].Reason)
	assert.Equal(t, "指挥长", audit[1].Actor)
	assert.Equal(t, "retracted: 误发，请忽略。", audit[8].Reason)
}

// Under rules 11 a LIVE call-up's stand-down leaves its region normal, as
// before recovery existed.
func TestStandDownUnderRules11LeavesNormal(t *testing.T) {
	e := newEnvWith(t, 1, 100, clustertest.Options{Setup: setup, Config: func(_ int, c *cluster.Config) { c.Rules = 11 }}, testCtx(t))
	ctx := testCtx(t)
	a, err := e.svc.Activate(ctx, "commander", floodIV(district))
	require.NoError(t, err)
	assert.Equal(t, plans.ModeEmergency, mode(t, e, district))
	_, err = e.svc.StandDown(ctx, "commander", a.ID, "雨停")
	require.NoError(t, err)
	assert.Equal(t, plans.ModeNormal, mode(t, e, district))
	modes, err := e.svc.Modes(ctx, muster.Default)
	require.NoError(t, err)
	assert.Empty(t, modes)
	_, err = e.svc.EndRecovery(ctx, "commander", []plans.RegionCode{district}, "恢复完毕")
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
}

// A second LIVE call-up over a district in recovery, stood down and then
// retracted (it was sent in error), takes the district back to the first
// call-up's recovery, with its stand-down's time, actor and reason, not to
// normal (rules 13).
func TestRetractAfterStandDownBringsBackTheEarlierRecovery(t *testing.T) {
	e := newEnv(t, 1, 300)
	ctx := testCtx(t)
	first, err := e.svc.Activate(ctx, "commander", floodIV(district))
	require.NoError(t, err)
	sd, err := e.svc.StandDown(ctx, "指挥长", first.ID, "雨情缓解")
	require.NoError(t, err)
	rec := &plans.Recovery{Since: sd.StoodDownAt, By: "指挥长", Reason: "雨情缓解", Activation: first.ID}

	second, err := e.svc.Activate(ctx, "commander", floodIV(district))
	require.NoError(t, err)
	_, err = e.svc.StandDown(ctx, "commander", second.ID, "雨停")
	require.NoError(t, err)
	m, err := e.svc.Mode(ctx, muster.Default, district)
	require.NoError(t, err)
	require.NotNil(t, m.Recovery)
	assert.Equal(t, second.ID, m.Recovery.Activation)

	_, err = e.svc.Retract(ctx, "commander", second.ID, notify.RetractRequest{Message: "前一条通知系误发，请忽略。"})
	require.NoError(t, err)
	m, err = e.svc.Mode(ctx, muster.Default, "990101001001001")
	require.NoError(t, err)
	assert.Equal(t, plans.RegionMode{Region: "990101001001001", Mode: plans.ModeRecovery, From: district, Recovery: rec}, m)
	modes, err := e.svc.Modes(ctx, muster.Default)
	require.NoError(t, err)
	require.Len(t, modes, 1)
	assert.Empty(t, modes[0].EarlierRecoveries)
}
