package notify

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"muster/plans"
)

// A correction's text to a person a call-up in force also called names the
// latest of those call-ups as the lead names the one withdrawn, says it
// stands (and how many others do), in the language of the official's
// words, after a full stop the words may lack.
func TestCorrectionTextSaysWhichCallUpStands(t *testing.T) {
	cst := time.FixedZone("CST", 8*60*60)
	corr := Activation{ID: "A000005", Retracts: "A000002", Purpose: PurposeLive, Sender: "【示例市应急】", PlanTitle: "防汛预案", PlanTitleEN: "Flood plan",
		Level: "IV", Regions: []plans.RegionCode{"990101"}, RegionNames: "东湖区", RegionNamesEN: "Donghu District",
		retractedAt: time.Date(2026, 3, 5, 11, 7, 0, 0, cst)}
	right := Activation{ID: "A000003", Purpose: PurposeLive, Status: StatusActive, PlanTitle: "防汛预案", PlanTitleEN: "Flood plan", Level: "III",
		Regions: []plans.RegionCode{"990103"}, RegionNames: "西林区", RegionNamesEN: "Xilin District", StartedAt: time.Date(2026, 3, 5, 11, 20, 0, 0, cst)}
	other := Activation{ID: "A000004", Purpose: PurposeLive, Status: StatusActive, PlanTitle: "城市内涝预案", Level: "IV",
		RegionNames: "江北区", StartedAt: time.Date(2026, 3, 5, 11, 9, 0, 0, cst)}

	tests := []struct {
		name     string
		message  string
		lang     plans.Language
		standing []Activation
		want     string
	}{
		{"none stands", "误发，请忽略。", plans.LangZH, nil,
			"【示例市应急】【更正】关于3月5日11:07「防汛预案Ⅳ级响应（东湖区）」的通知：误发，请忽略。" + reportNeedsNoReply},
		{"one stands", "误发，请忽略。", plans.LangZH, []Activation{right},
			"【示例市应急】【更正】关于3月5日11:07「防汛预案Ⅳ级响应（东湖区）」的通知：误发，请忽略。3月5日11:20「防汛预案Ⅲ级响应（西林区）」的通知仍然有效。" + reportNeedsNoReply},
		{"words without a full stop get one", "误发，请忽略", plans.LangZH, []Activation{right},
			"【示例市应急】【更正】关于3月5日11:07「防汛预案Ⅳ级响应（东湖区）」的通知：误发，请忽略。3月5日11:20「防汛预案Ⅲ级响应（西林区）」的通知仍然有效。" + reportNeedsNoReply},
		{"two stand: the latest is named", "误发，请忽略！", plans.LangZH, []Activation{other, right},
			"【示例市应急】【更正】关于3月5日11:07「防汛预案Ⅳ级响应（东湖区）」的通知：误发，请忽略！3月5日11:20「防汛预案Ⅲ级响应（西林区）」等2次启动通知仍然有效。" + reportNeedsNoReply},
		{"Chinese words to an English speaker: Chinese", "误发，请忽略。", plans.LangEN, []Activation{right},
			"【示例市应急】【更正】关于3月5日11:07「防汛预案Ⅳ级响应（东湖区）」的通知：误发，请忽略。3月5日11:20「防汛预案Ⅲ级响应（西林区）」的通知仍然有效。" + reportNeedsNoReply},
		{"English", "Sent in error, please ignore", plans.LangEN, []Activation{right},
			`【示例市应急】Correction to the call-up "Flood plan" level IV (Donghu District) of Mar 5 11:07: Sent in error, please ignore. The call-up "Flood plan" level III (Xilin District) of Mar 5 11:20 still stands.` + " " + reportNeedsNoReplyEN},
		{"English, two stand", "Sent in error.", plans.LangEN, []Activation{other, right},
			`【示例市应急】Correction to the call-up "Flood plan" level IV (Donghu District) of Mar 5 11:07: Sent in error. The call-up "Flood plan" level III (Xilin District) of Mar 5 11:20 and 1 other call-up still stand.` + " " + reportNeedsNoReplyEN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := corr
			a.Message, a.standing = tt.message, tt.standing
			assert.Equal(t, tt.want, correctionSMS(a, tt.lang))
		})
	}
}

// Which open activations a correction's text says stand: call-ups in
// force, not the one withdrawn nor a correction nor one stopped; a drill's
// correction counts LIVE call-ups and drills, a LIVE one LIVE call-ups
// only.
func TestStandsBeside(t *testing.T) {
	drillCorr := Activation{ID: "A000009", Retracts: "A000001", Purpose: PurposeExercise}
	liveCorr := Activation{ID: "A000009", Retracts: "A000001", Purpose: PurposeLive}
	live := Activation{ID: "A000002", Purpose: PurposeLive, Status: StatusActive}
	drill := Activation{ID: "A000003", Purpose: PurposeExercise, Status: StatusActive}
	test := Activation{ID: "A000003", Purpose: PurposeTest, Status: StatusActive}
	stopped := live
	stopped.Status = StatusStoodDown
	otherCorr := live
	otherCorr.Retracts = "A000000"
	retracted := live
	retracted.Retraction = &Retraction{Correction: "A000010"}
	withdrawn := live
	withdrawn.ID = "A000001"
	itself := live
	itself.ID = "A000009"

	for _, tt := range []struct {
		name       string
		corr, o    Activation
		wantStands bool
	}{
		{"LIVE call-up beside a drill's correction", drillCorr, live, true},
		{"drill beside a drill's correction", drillCorr, drill, true},
		{"test beside a drill's correction", drillCorr, test, true},
		{"LIVE call-up beside a LIVE correction", liveCorr, live, true},
		{"drill beside a LIVE correction", liveCorr, drill, false},
		{"stood down", drillCorr, stopped, false},
		{"another correction", drillCorr, otherCorr, false},
		{"retracted", drillCorr, retracted, false},
		{"the call-up withdrawn", drillCorr, withdrawn, false},
		{"the correction itself", drillCorr, itself, false},
	} {
		assert.Equal(t, tt.wantStands, standsBeside(tt.corr, tt.o), tt.name)
	}
}
