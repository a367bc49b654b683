package notify_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
	"muster/plans"
)

// A LIVE call-up that stood down drills, or took its people off drills
// running elsewhere, tells its people, in their language, that it is not
// the drill: they may just have had the drill's words. A drill is marked 【演练】; a LIVE call-up that stopped nothing,
// and a correction, carry no mark.
func TestMessagesSayWhetherItIsADrill(t *testing.T) {
	l := &plans.Level{Code: "IV", SMS: "{{.Name}}同志，请到岗。", SMSEN: "{{.Name}}, report for duty."}
	zh := notify.Recipient{Person: "P1", Name: "张三", Language: plans.LangZH}
	en := notify.Recipient{Person: "P2", Name: "Li", Language: plans.LangEN}
	for _, tc := range []struct {
		name   string
		a      notify.Activation
		zh, en string
	}{
		{"LIVE", notify.Activation{Purpose: notify.PurposeLive}, "张三同志，请到岗。", "Li, report for duty."},
		{"LIVE that stood down drills", notify.Activation{Purpose: notify.PurposeLive, StoppedDrills: []plans.ActivationID{"A000001"}},
			"【非演练】张三同志，请到岗。", "【NOT A DRILL】Li, report for duty."},
		{"LIVE that took people off drills elsewhere", notify.Activation{Purpose: notify.PurposeLive, SparedFrom: []plans.ActivationID{"A000001"}},
			"【非演练】张三同志，请到岗。", "【NOT A DRILL】Li, report for duty."},
		{"EXERCISE", notify.Activation{Purpose: notify.PurposeExercise}, "【演练】张三同志，请到岗。", "【演练】[EXERCISE] Li, report for duty."},
		{"correction of a LIVE that stood down drills", notify.Activation{Purpose: notify.PurposeLive, Retracts: "A000002",
			Message: "误发，请忽略。", StoppedDrills: []plans.ActivationID{"A000001"}, PlanTitle: "防汛预案", Level: "IV"},
			"【更正】关于「防汛预案Ⅳ级响应」的通知：误发，请忽略。本短信无需回复。", "【更正】关于「防汛预案Ⅳ级响应」的通知：误发，请忽略。本短信无需回复。"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := notify.RenderSMS(tc.a, l, zh, "")
			require.NoError(t, err)
			assert.Equal(t, tc.zh, got)
			got, err = notify.RenderSMS(tc.a, l, en, "")
			require.NoError(t, err)
			assert.Equal(t, tc.en, got)
		})
	}
}

// An English speaker whose level has no English SMS gets the Chinese text
// with the Chinese names in it (plan, level, regions, roles), as a Chinese
// speaker does, not English names among Chinese words; the drill mark
// stays theirs.
func TestTheChineseTemplateHasChineseNamesForEveryone(t *testing.T) {
	l := &plans.Level{Code: "IV", SMS: "{{.Plan}}{{.LevelName}}（{{.Level}}级）响应，{{.Region}}：{{.Name}}请以{{.Roles}}身份到岗。"}
	a := notify.Activation{Purpose: notify.PurposeExercise, PlanTitle: "防汛预案", PlanTitleEN: "Flood plan", Level: "IV", LevelName: "一般",
		RegionNames: "东湖区", RegionNamesEN: "Donghu District", Roles: []notify.RoleSlot{{Name: "网格长", NameEN: "Grid Leader"}}}
	zh := notify.Recipient{Person: "P1", Name: "张三", Language: plans.LangZH, Roles: []int{0}}
	en := zh
	en.Person, en.Name, en.Language = "P2", "Li", plans.LangEN
	got, err := notify.RenderSMS(a, l, zh, "")
	require.NoError(t, err)
	assert.Equal(t, "【演练】防汛预案一般（Ⅳ级）响应，东湖区：张三请以网格长身份到岗。", got)
	got, err = notify.RenderSMS(a, l, en, "")
	require.NoError(t, err)
	assert.Equal(t, "【演练】[EXERCISE] 防汛预案一般（Ⅳ级）响应，东湖区：Li请以网格长身份到岗。", got)
}
