package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/plans"
)

// muster mode names what holds each region: a region in standby shows the
// warnings in force holding it (HELD BY, and REASON with their headlines),
// not "-" and the reason of the switch that left it there (a retraction, a
// warning since replaced); one in emergency shows its activations, then
// the warnings it goes back to standby for. --region names them too.
func TestModeNamesTheWarningsHoldingARegion(t *testing.T) {
	at := time.Date(2026, 12, 6, 5, 23, 0, 0, time.UTC)
	api := fakeAPI{
		"GET /api/v1/modes": map[string]any{"items": []plans.ModeRecord{
			{Region: "990102", Mode: plans.ModeEmergency, Level: "III", Since: at, By: "commander1", Reason: "内涝",
				Holds:    []plans.Hold{{Activation: "A000030", Level: "III"}},
				Warnings: []plans.WarningHold{{Warning: "W000003", Level: plans.WarningYellow, Headline: "江北区大风黄色预警"}}},
			{Region: "990103", Mode: plans.ModeStandby, Since: at, By: "commander3", Reason: "retracted: 误发，请忽略",
				WarningLevel: plans.WarningOrange, Warnings: []plans.WarningHold{{Warning: "W000001", Level: plans.WarningOrange, Headline: "暴雨橙色预警"}}},
		}, "next": ""},
	}
	out := mustRunOnFake(t, api, "mode")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	assert.Regexp(t, `^990102 +emergency 战时 +III .* commander1 +A000030,W000003 +内涝$`, lines[1])
	assert.Regexp(t, `^990103 +standby 临战 +- .* commander3 +W000001 +橙色预警 W000001: 暴雨橙色预警$`, lines[2])
	assert.NotContains(t, out, "retracted")

	api["GET /api/v1/modes"] = plans.RegionMode{Region: "990103001", Mode: plans.ModeStandby, From: "990103", WarningLevel: plans.WarningOrange,
		Warnings: []plans.WarningHold{{Warning: "W000001", Level: plans.WarningOrange, Headline: "暴雨橙色预警"}}}
	out = mustRunOnFake(t, api, "mode", "--region", "990103001")
	assert.Contains(t, out, "990103001: standby (临战)  (from 990103)\nheld in standby by 橙色预警 W000001: 暴雨橙色预警\n")
}

// muster mode names, for a region switched by an approval, the commander
// who asked for the activation and who approved it, not the approver
// alone.
func TestModeNamesTheRequesterAndTheApprover(t *testing.T) {
	at := time.Date(2026, 12, 6, 5, 23, 0, 0, time.UTC)
	api := fakeAPI{
		"GET /api/v1/modes": map[string]any{"items": []plans.ModeRecord{
			{Region: "990102", Mode: plans.ModeEmergency, Level: "II", Since: at, By: "带班领导", ApprovedBy: "值班领导", Reason: "内涝升级",
				Holds: []plans.Hold{{Activation: "A000002", Level: "II", Since: at, By: "带班领导", ApprovedBy: "值班领导", Reason: "内涝升级"}}},
		}, "next": ""},
	}
	out := mustRunOnFake(t, api, "mode")
	assert.Regexp(t, `\n990102 +emergency 战时 +II .* 带班领导 \(approved by 值班领导\) +A000002 +内涝升级\n`, out)
}

// muster mode shows a region in recovery (恢复) with the activation whose
// stand-down left it there and why; --region says so, and how to end it,
// or, for a region in standby over a recovery, that it goes back to it.
func TestModeShowsRecovery(t *testing.T) {
	at := time.Date(2026, 12, 6, 5, 23, 0, 0, time.UTC)
	rec := &plans.Recovery{Since: at, By: "指挥长", Reason: "雨情缓解", Activation: "A000007"}
	api := fakeAPI{
		"GET /api/v1/modes": map[string]any{"items": []plans.ModeRecord{
			{Region: "990102", Mode: plans.ModeRecovery, Since: at, By: "指挥长", Reason: "雨情缓解", Recovery: rec},
		}, "next": ""},
	}
	out := mustRunOnFake(t, api, "mode")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2, out)
	assert.Regexp(t, `^990102 +recovery 恢复 +- .* 指挥长 +- +A000007 stood down: 雨情缓解$`, lines[1])

	api["GET /api/v1/modes"] = plans.RegionMode{Region: "990102001", Mode: plans.ModeRecovery, From: "990102", Recovery: rec}
	out = mustRunOnFake(t, api, "mode", "--region", "990102001")
	assert.Contains(t, out, "990102001: recovery (恢复)  (from 990102)\nin recovery since ")
	assert.Contains(t, out, "(指挥长): A000007 stood down: 雨情缓解; end it with muster end-recovery --region 990102\n")

	api["GET /api/v1/modes"] = plans.RegionMode{Region: "990102", Mode: plans.ModeStandby, From: "990102", WarningLevel: plans.WarningBlue,
		Warnings: []plans.WarningHold{{Warning: "W000002", Level: plans.WarningBlue, Headline: "大风蓝色预警"}}, Recovery: rec}
	out = mustRunOnFake(t, api, "mode", "--region", "990102")
	assert.Contains(t, out, "held in standby by 蓝色预警 W000002: 大风蓝色预警\nback to recovery when the warnings are lifted: A000007 stood down: 雨情缓解\n")
}

// Against a real muster dev: a LIVE call-up stood down leaves its region
// in recovery, which muster mode shows; muster end-recovery ends it
// for a commander, and refuses a viewer, a region not in recovery (none
// of the regions named ends) and a call without a reason.
func TestModeEndRecoveryOnDev(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	addr := freePort(t)
	dev := startProc(t, "dev", nil, "dev", "--data-dir", filepath.Join(t.TempDir(), "data"), "--http-addr", addr, "--people", "500", "--log-level", "warn")
	token := strings.Fields(dev.waitOutput("admin token:", 60*time.Second))[0]
	env := []string{"MUSTER_ADDR=http://" + addr, "MUSTER_TOKEN=" + token}

	r := runCLI(t, env, "activate", "flood-control", "--region", "990102", "--level", "IV", "--purpose", "live", "--reason", "内涝", "--yes", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var a struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &a))
	r = runCLI(t, env, "mode", "--region", "990102")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "emergency (战时) IV")
	r = runCLI(t, env, "stand-down", a.ID, "--reason", "雨情缓解")
	require.Zero(t, r.code, r.stderr)

	r = runCLI(t, env, "mode")
	require.Zero(t, r.code, r.stderr)
	assert.Regexp(t, `\n990102 +recovery 恢复 +- .* +- +`+a.ID+` stood down: 雨情缓解\n`, r.stdout)
	assert.NotContains(t, r.stdout, "every region is normal")
	r = runCLI(t, env, "mode", "--region", "990102001")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "990102001: recovery (恢复)  (from 990102)\n")
	assert.Contains(t, r.stdout, "end it with muster end-recovery --region 990102")

	var viewer struct {
		Secret string `json:"secret"`
	}
	r = runCLI(t, env, "token", "create", "--role", "viewer", "--name", "观察员", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &viewer))
	viewerEnv := []string{"MUSTER_ADDR=http://" + addr, "MUSTER_TOKEN=" + viewer.Secret}
	oneLineError(t, runCLI(t, viewerEnv, "end-recovery", "--region", "990102", "--reason", "恢复完毕"), 1, "lacks the activate permission")
	oneLineError(t, runCLI(t, env, "end-recovery", "--region", "990102"), 2, "--region and --reason are required")
	oneLineError(t, runCLI(t, env, "end-recovery", "--region", "990102,990103", "--reason", "恢复完毕"), 1,
		"990103 is normal (平时), not in recovery (恢复): there is no recovery to end")
	r = runCLI(t, env, "mode", "--region", "990102")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "recovery (恢复)", "a refused command ends none")

	r = runCLI(t, env, "end-recovery", "--region", "990102", "--reason", "灾后恢复重建完成")
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, "990102: recovery ended (恢复结束); now normal (平时)\n", r.stdout)
	r = runCLI(t, env, "mode")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "every region is normal")
	oneLineError(t, runCLI(t, env, "end-recovery", "--region", "990102", "--reason", "again"), 1, "not in recovery")
}

// muster end-recovery says what each region is in once its own recovery
// has ended: normal; still in standby under a warning, and normal (or the
// recovery of a region above) once it is lifted; or still in the newer
// recovery of a region above, and how to end that one.
func TestEndRecoverySaysWhatTheRegionIsInNow(t *testing.T) {
	at := time.Date(2026, 12, 6, 5, 23, 0, 0, time.UTC)
	city := &plans.Recovery{Since: at, By: "指挥长", Reason: "全市解除", Activation: "A000009"}
	blue := []plans.WarningHold{{Warning: "W000002", Level: plans.WarningBlue, Headline: "大风蓝色预警"}}
	api := fakeAPI{
		"POST /api/v1/modes/990101,990102,990103,990104/end-recovery": map[string]any{"items": []plans.RegionMode{
			{Region: "990101", Mode: plans.ModeNormal},
			{Region: "990102", Mode: plans.ModeStandby, From: "990102", WarningLevel: plans.WarningBlue, Warnings: blue},
			{Region: "990103", Mode: plans.ModeStandby, From: "990103", WarningLevel: plans.WarningBlue, Warnings: blue, Recovery: city},
			{Region: "990104", Mode: plans.ModeRecovery, From: "990100", Recovery: city},
		}},
	}
	out := mustRunOnFake(t, api, "end-recovery", "--region", "990101,990102,990103,990104", "--reason", "恢复完毕")
	assert.Equal(t, "990101: recovery ended (恢复结束); now normal (平时)\n"+
		"990102: recovery ended (恢复结束); still in standby (临战) from 990102, held by 蓝色预警 W000002: 大风蓝色预警; once they are lifted, normal (平时)\n"+
		"990103: recovery ended (恢复结束); still in standby (临战) from 990103, held by 蓝色预警 W000002: 大风蓝色预警; once they are lifted, recovery (恢复): A000009 stood down: 全市解除\n"+
		"990104: recovery ended (恢复结束); still in recovery (恢复) from 990100: A000009 stood down: 全市解除; end it with muster end-recovery --region 990100\n", out)
}

// Ending a district's recovery does not end a street's own, older one
// below it (a call-up over the street stood down before the district's):
// end-recovery names it, and how to end it.
func TestEndRecoveryNamesTheRecoveriesBelow(t *testing.T) {
	at := time.Date(2026, 12, 6, 5, 23, 0, 0, time.UTC)
	street := &plans.Recovery{Since: at, By: "指挥长", Reason: "街道解除", Activation: "A000024"}
	api := fakeAPI{
		"POST /api/v1/modes/990104/end-recovery": map[string]any{"items": []plans.RegionMode{{Region: "990104", Mode: plans.ModeNormal}}},
		"GET /api/v1/modes": map[string]any{"items": []plans.ModeRecord{
			{Region: "990104002", Mode: plans.ModeRecovery, Since: at, By: "指挥长", Reason: "街道解除", Recovery: street},
			{Region: "990105001", Mode: plans.ModeRecovery, Since: at, By: "指挥长", Reason: "别处", Recovery: &plans.Recovery{Since: at, By: "指挥长", Reason: "别处", Activation: "A000030"}},
		}},
	}
	for code, parent := range map[string]string{"990104002": "990104", "990104": "990100", "990105001": "990105", "990105": "990100", "990100": ""} {
		api["GET /api/v1/regions/"+code] = plans.Region{Code: plans.RegionCode(code), Parent: plans.RegionCode(parent)}
	}
	out := mustRunOnFake(t, api, "end-recovery", "--region", "990104", "--reason", "恢复完毕")
	assert.Equal(t, "990104: recovery ended (恢复结束); now normal (平时)\n"+
		"990104002, below it, is still in its own recovery: A000024 stood down: 街道解除; end it with muster end-recovery --region 990104002\n", out)

	// Below the city is every region, whose codes do not start with the
	// city's (990100, 990104002).
	api["POST /api/v1/modes/990100/end-recovery"] = map[string]any{"items": []plans.RegionMode{{Region: "990100", Mode: plans.ModeNormal}}}
	out = mustRunOnFake(t, api, "end-recovery", "--region", "990100", "--reason", "恢复完毕")
	assert.Contains(t, out, "990104002, below it, is still in its own recovery")
	assert.Contains(t, out, "990105001, below it, is still in its own recovery")
}
