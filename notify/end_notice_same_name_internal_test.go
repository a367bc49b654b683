package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"muster/plans"
)

// The end of a call-up names it by its plan, level, regions and the
// minute it started, and says which call-up in force that also calls the
// person stands. When one of those has the same name (two drills of one
// plan started in the same minute, two LIVE call-ups), "11:07「X」 has
// ended" beside "11:07「X」 still stands" reads as if both were one: both
// are then named by their numbers too, and the text says the other one of
// the same name stands, so that nobody stands down from it (finding N8).
// Named apart, nothing changes.
func TestAnEndNamesACallUpOfTheSameNameApart(t *testing.T) {
	cst := time.FixedZone("CST", 8*60*60)
	at := time.Date(2026, 3, 5, 11, 7, 0, 0, cst)
	end := Activation{ID: "A000005", Retracts: "A000002", Purpose: PurposeExercise, EndsDrill: true, Sender: "【示例市应急】", PlanTitle: "防汛预案",
		PlanTitleEN: "Flood plan", Level: "IV", Regions: []plans.RegionCode{"990101"}, RegionNames: "东湖区", RegionNamesEN: "Donghu District", retractedAt: at}
	twin := Activation{ID: "A000003", Purpose: PurposeExercise, Status: StatusActive, PlanTitle: "防汛预案", PlanTitleEN: "Flood plan", Level: "IV",
		Regions: []plans.RegionCode{"990101"}, RegionNames: "东湖区", RegionNamesEN: "Donghu District", StartedAt: at.Add(20 * time.Second)}
	later := twin
	later.ID, later.StartedAt = "A000004", at.Add(time.Minute)

	for _, tt := range []struct {
		name     string
		a        Activation
		lang     plans.Language
		short    string
		standing []Activation
		want     string
	}{
		{"drill, a twin stands", end, plans.LangZH, "", []Activation{twin},
			"【示例市应急】关于3月5日11:07「防汛预案Ⅳ级响应（东湖区）」（编号A000002）的通知：" + DrillEndText +
				"同时发出的同名通知（编号A000003）仍然有效。"},
		{"drill, a twin and another stand", end, plans.LangZH, "", []Activation{twin, later},
			"【示例市应急】关于3月5日11:07「防汛预案Ⅳ级响应（东湖区）」（编号A000002）的通知：" + DrillEndText +
				"同时发出的同名通知（编号A000003）仍然有效。3月5日11:08「防汛预案Ⅳ级响应（东湖区）」的通知仍然有效。"},
		{"drill, in English", end, plans.LangEN, "Flood level IV, Donghu District", []Activation{twin},
			`【示例市应急】The drill "Flood level IV, Donghu District" of Mar 5 11:07 (no. A000002) ` + DrillEndTextEN +
				" The other call-up of the same name and time (no. A000003) still stands."},
		{"drill, named apart", end, plans.LangZH, "", []Activation{later},
			"【示例市应急】关于3月5日11:07「防汛预案Ⅳ级响应（东湖区）」的通知：" + DrillEndText + "3月5日11:08「防汛预案Ⅳ级响应（东湖区）」的通知仍然有效。"},
		{"drill, none stands", end, plans.LangZH, "", nil,
			"【示例市应急】关于3月5日11:07「防汛预案Ⅳ级响应（东湖区）」的通知：" + DrillEndText},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.a
			a.standing = tt.standing
			assert.Equal(t, tt.want, endSMS(a, tt.lang, tt.short))
		})
	}

	t.Run("LIVE", func(t *testing.T) {
		a := end
		a.Purpose, a.EndsDrill, a.EndsCallUp, a.answer = PurposeLive, false, true, StateAcked
		tw := twin
		tw.Purpose = PurposeLive
		a.standing = []Activation{tw}
		got := endSMS(a, plans.LangZH, "")
		assert.Equal(t, "【示例市应急】关于3月5日11:07「防汛预案Ⅳ级响应（东湖区）」（编号A000002）的通知："+LiveEndText+"同时发出的同名通知（编号A000003）仍然有效。", got)
		assert.Empty(t, plans.ReasonDrillWords(got))
		en := endSMS(a, plans.LangEN, "")
		assert.True(t, strings.HasSuffix(en, "(no. A000003) still stands."), en)
	})
}
