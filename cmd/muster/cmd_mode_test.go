package main

import (
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
