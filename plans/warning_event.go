package plans

import "strings"

// eventHazards are the hazards a warning's event names plainly, with the
// CAP category each exports as: the meteorological warning signals
// (台风, 暴雨, 暴雪, 寒潮, 大风, 沙尘暴, 高温, 干旱, 雷电, 冰雹, 霜冻, 大雾, 霾,
// 道路结冰), floods, geological hazards and forest and grassland fires —
// natural disasters under the Emergency Response Law. Matched as
// substrings of the event, lower-cased, in this order.
var eventHazards = []struct {
	words []string
	cap   CAPCategory
}{
	{[]string{"地震", "地质灾害", "滑坡", "泥石流", "崩塌", "地面塌陷", "earthquake", "landslide", "mudslide", "debris flow"}, CAPGeo},
	{[]string{"森林火险", "森林火灾", "草原火险", "草原火灾", "森林草原火", "wildfire", "forest fire", "bushfire"}, CAPFire},
	{[]string{"台风", "暴雨", "暴雪", "寒潮", "大风", "沙尘暴", "高温", "干旱", "雷电", "雷暴", "冰雹", "霜冻", "大雾", "霾",
		"道路结冰", "洪水", "洪涝", "内涝", "山洪", "汛", "强降雨", "强对流",
		"typhoon", "rainstorm", "heavy rain", "snowstorm", "blizzard", "cold wave", "gale", "strong wind", "sandstorm", "dust storm",
		"heat wave", "heatwave", "drought", "thunderstorm", "lightning", "hail", "frost", "fog", "haze", "icy road", "flood"}, CAPMet},
}

// hazardOfEvent is the hazard category and CAP category a warning's event
// names plainly (暴雨: 自然灾害, Met), or "" and "" when it names none
// known: then every plan is suggested, as without a category.
func hazardOfEvent(event string) (Hazard, CAPCategory) {
	e := strings.ToLower(event)
	for _, h := range eventHazards {
		for _, w := range h.words {
			if strings.Contains(e, w) {
				return HazardNatural, h.cap
			}
		}
	}
	return "", ""
}
