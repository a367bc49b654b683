package plans_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/plans"
)

// A warning names its regions as an activation must, none within another,
// so that the activation it suggests is accepted as printed: issued by a
// person, a region named with one it lies within is refused; imported from
// an upstream alert, the larger is kept; and the state machine keeps only
// the larger whoever proposes it (rules 9; under rules 8 it kept both).
func TestWarningRegionsLieWithinNoOther(t *testing.T) {
	e := newWarnEnv(t)
	_, err := e.svc.Issue(testCtx(t), "duty", rain("orange", wStreet, wDistrict))
	require.Error(t, err)
	assert.True(t, muster.IsCode(err, muster.EInvalid), err)
	assert.Contains(t, err.Error(), "regions: 990101001 lies within 990101, also named: name only 990101")

	res, err := e.svc.Import(testCtx(t), "feed", upstreamRain(e, "QX-N1", wStreet, wDistrict, wGrid, wOther))
	require.NoError(t, err)
	assert.Equal(t, []plans.RegionCode{wDistrict, wOther}, res.Warning.Regions)
	assert.Equal(t, []plans.WarningArea{{Code: wDistrict, Name: "东湖区"}, {Code: wOther, Name: "江北区"}}, res.Warning.Areas)
	assert.Empty(t, res.Ignored, "they exist: covered, not unknown")
	assert.Equal(t, []plans.RegionCode{wStreet, wGrid}, res.Covered, "left out for the district, and said so")

	issue := func(e *warnEnv) plans.Warning {
		t.Helper()
		b, err := json.Marshal(map[string]any{"regions": []plans.RegionCode{wStreet, wDistrict}, "level": "orange",
			"event": "暴雨", "headline": "暴雨橙色预警", "source": "test"})
		require.NoError(t, err)
		var w plans.Warning
		require.NoError(t, e.node.Apply(testCtx(t), &muster.Command{Type: plans.CmdWarningIssue, Actor: "duty", Payload: b}, &w))
		return w
	}
	assert.Equal(t, []plans.RegionCode{wDistrict}, issue(e).Regions, "the state machine keeps the larger")
	assert.Equal(t, []plans.RegionCode{wDistrict, wStreet}, issue(newWarnEnvUnder(t, 8)).Regions, "under rules 8 it kept both")
}

// The reason a LIVE warning's suggested activation gets says no drill word,
// which a LIVE call-up's reason may not: the headline, else the event and
// colour, else none (the person writes it). A drill's warning suggests
// drills, whose reason may say one.
func TestWarningSuggestedReason(t *testing.T) {
	tests := []struct {
		name            string
		purpose         plans.WarningPurpose
		event, headline string
		want            string
	}{
		{"headline", plans.WarningLive, "暴雨", "东湖区暴雨橙色预警", "东湖区暴雨橙色预警"},
		{"drill word in the headline", plans.WarningLive, "暴雨", "测试预警QX-N1", "暴雨橙色预警"},
		{"english drill word", plans.WarningLive, "Rainstorm", "Rainstorm test alert", "Rainstorm橙色预警"},
		{"drill word in both", plans.WarningLive, "演练", "演练预警", ""},
		{"stored before purposes: LIVE", "", "暴雨", "测试预警", "暴雨橙色预警"},
		{"a drill's warning", plans.WarningExercise, "暴雨", "测试预警QX-EX1", "测试预警QX-EX1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := plans.Warning{Purpose: tt.purpose, Level: plans.WarningOrange, Event: tt.event, Headline: tt.headline}
			assert.Equal(t, tt.want, w.SuggestedReason())
		})
	}
}
