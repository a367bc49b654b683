package plans_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/plans"
)

func TestWarningKeepsEnglishTexts(t *testing.T) {
	e := newWarnEnv(t)

	// Given English texts are kept, with the regions' English names as
	// issued (a region without one is "").
	given := e.issue(t, plans.WarningInput{Regions: []plans.RegionCode{wStreet, wOther}, Level: "red", Event: "城市内涝",
		Headline: "青山街道、江北区城市内涝红色预警", Description: "低洼路段积水。",
		EventEN: " Urban flooding ", HeadlineEN: "Red urban flooding warning for Qingshan and Jiangbei", DescriptionEN: "Low roads are under water."})
	assert.Equal(t, "Urban flooding", given.EventEN)
	assert.Equal(t, "Red urban flooding warning for Qingshan and Jiangbei", given.HeadlineEN)
	assert.Equal(t, "Low roads are under water.", given.DescriptionEN)
	assert.Equal(t, []string{"", "Jiangbei District"}, given.AreaNamesEN)
	en, ok := given.TextEN()
	require.True(t, ok)
	assert.Equal(t, plans.WarningTextEN{Event: "Urban flooding", Headline: "Red urban flooding warning for Qingshan and Jiangbei",
		Description: "Low roads are under water."}, en)

	// An event naming a warning signal needs no English: the signal's
	// official English name, a headline naming colour and regions.
	rain := e.issue(t, plans.WarningInput{Regions: []plans.RegionCode{wStreet, wOther}, Level: "红", Event: "暴雨",
		Headline: "青山街道、江北区暴雨红色预警", Description: "预计3小时内降雨量将达100毫米以上。"})
	assert.Empty(t, rain.EventEN)
	en, ok = rain.TextEN()
	require.True(t, ok)
	assert.Equal(t, plans.WarningTextEN{Event: "Rainstorm", Headline: "Red rainstorm warning for 青山街道, Jiangbei District",
		Description: "The details are given in Chinese, in the zh-CN block of this alert."}, en)

	// Neither: no English.
	none := e.issue(t, plans.WarningInput{Regions: []plans.RegionCode{wDistrict}, Level: "orange", Event: "城市内涝", Headline: "东湖区城市内涝橙色预警"})
	_, ok = none.TextEN()
	assert.False(t, ok)

	// An English headline needs an English event to go with it.
	_, err := e.svc.Issue(testCtx(t), "duty", plans.WarningInput{Regions: []plans.RegionCode{wDistrict}, Level: "orange", Event: "城市内涝",
		Headline: "东湖区城市内涝橙色预警", HeadlineEN: "Orange urban flooding warning"})
	require.Error(t, err)
	assert.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
	assert.Contains(t, err.Error(), "event_en")
}

func TestWarningSignalEN(t *testing.T) {
	for event, want := range map[string]string{
		"暴雨": "Rainstorm", "暴雨红色预警": "Rainstorm", "台风": "Typhoon", "暴雪": "Snowstorm", "寒潮": "Cold Wave", "大风": "Gale",
		"沙尘暴": "Sandstorm", "高温": "Heat Wave", "干旱": "Drought", "雷电": "Lightning", "冰雹": "Hail", "霜冻": "Frost",
		"大雾": "Heavy Fog", "霾": "Haze", "道路结冰": "Road Icing", "雷电大风": "Lightning and Gale", "城市内涝": "", "地震": "",
	} {
		assert.Equal(t, want, plans.WarningSignalEN(event), event)
	}
}

func TestWarningEnglishIgnoredUnderRules12(t *testing.T) {
	e := newWarnEnvUnder(t, 12)
	w := e.issue(t, plans.WarningInput{Regions: []plans.RegionCode{wDistrict}, Level: "red", Event: "城市内涝", Headline: "东湖区城市内涝红色预警",
		EventEN: "Urban flooding", HeadlineEN: "Red urban flooding warning for Donghu", DescriptionEN: "Low roads are under water."})
	assert.Empty(t, w.EventEN)
	assert.Empty(t, w.HeadlineEN)
	assert.Empty(t, w.DescriptionEN)
	assert.Empty(t, w.AreaNamesEN)
	_, ok := w.TextEN()
	assert.False(t, ok, "an older muster's warning has no English")
	// Nor one whose event names a warning signal: its alert, served by an
	// older muster with a zh-CN block only, says the same under the same
	// identifier after an upgrade.
	rain := e.issue(t, plans.WarningInput{Regions: []plans.RegionCode{wDistrict}, Level: "red", Event: "暴雨", Headline: "东湖区暴雨红色预警"})
	_, ok = rain.TextEN()
	assert.False(t, ok, "an older muster's rainstorm warning has no English either")
}
