package plans

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A drill's text never says it is not a drill or that it is real: read as
// a phone shows it and a voice reads it (case, full-width letters, spaces,
// traditional characters, Cyrillic look-alikes), while a drill's own words
// stay free.
func TestRealClaimsIn(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"the system's LIVE mark", "【非演练】真实撤离", []string{"非演练"}},
		{"Chinese and English denial", "这不是演练 THIS IS NOT A DRILL 真实险情", []string{"不是演练", "NOT A DRILL", "真实险情"}},
		{"drill title", "【非演练】THIS IS NOT A DRILL", []string{"非演练", "NOT A DRILL"}},
		{"template branch text", "此为真实事件，请立即撤离。", []string{"真实事件"}},
		{"并非 taken whole", "本次并非演练", []string{"并非演练"}},
		{"不属于", "不属于演习", []string{"不属于演习"}},
		{"a drill that simulates the real thing", "模拟真实事件，按真实情况处置", nil},
		{"这是真的", "这是真的，快跑", []string{"这是真的"}},
		{"spaced out", "非 演 练", []string{"非 演 练"}},
		{"full-width", "ＮＯＴ　Ａ　ＤＲＩＬＬ", []string{"NOT A DRILL"}},
		{"no spaces", "notadrill", []string{"notadrill"}},
		{"traditional", "真實事件，這是真的", []string{"真实事件", "这是真的"}},
		{"Cyrillic look-alikes", "nоt а drill", []string{"not a drill"}},
		{"this is real", "This is real.", []string{"This is real"}},
		{"practising for a real emergency", "practise for a REAL emergency", nil},
		{"no drill", "no drill today", []string{"no drill"}},
		{"not a test", "this is not a test", []string{"not a test"}},
		{"a drill's own words", "防汛通讯演练，请按演练方案回复", nil},
		{"a drill saying it is no real event", "这是一次演练，不是真实事件。", nil},
		{"in English too", "This is a drill, not a real emergency.", nil},
		{"denial does not hide a claim after it", "不是真实事件？不，这是真的", []string{"这是真的"}},
		{"real inside a longer word", "this is reality, not a drilling rig", nil},
		{"no drilling", "no drilling here", nil},
		// Found by an exploratory round (Y12): said of the event, not of
		// what the drill rehearses.
		{"这次是真的", "这次是真的，请立即撤离", []string{"是真的"}},
		{"real danger", "真实险情", []string{"真实险情"}},
		{"traditional 真實險情", "真實險情", []string{"真实险情"}},
		{"REAL EMERGENCY", "REAL EMERGENCY, evacuate now", []string{"REAL EMERGENCY"}},
		{"this is a real emergency", "This is a real emergency", []string{"This is a real emergency"}},
		{"it is a real emergency", "It is a real emergency.", []string{"is a real emergency"}},
		{"as if real", "请像是真的一样行动", nil},
		{"not real", "这不是真的，是演练", nil},
		{"a simulated danger", "模拟真实险情，按预案处置", nil},
		{"an exercise, not a real emergency", "this is an exercise, not a real emergency.", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, RealClaimsIn(tt.text))
		})
	}
}

// English drill words are whole words: "Drilling rig" and "testing site"
// are real wording; a drill word glued to digits, _ or Chinese, or written
// with a Cyrillic letter, is still one; 拉练 and 预演 are drill words.
func TestDrillWordsAreWords(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"drilling rig", "Drilling rig fire at the port", nil},
		{"testing site", "核酸 testing site overwhelmed", nil},
		{"drilling platform", "Drilling Platform Fire", nil},
		{"testing station", "testing station", nil},
		{"testimony", "Testimony", nil},
		{"contest and latest", "the latest contest", nil},
		{"after digits", "2026Drill", []string{"Drill"}},
		{"after an underscore", "flood_drill", []string{"drill"}},
		{"after Chinese", "应急drill开始", []string{"drill"}},
		{"Cyrillic е", "tеst", []string{"test"}},
		{"Greek Τ and Ε", "ΤΕST", []string{"TEST"}},
		{"plural", "drills and tests", []string{"drills", "tests"}},
		{"exercise", "EXERCISE", []string{"EXERCISE"}},
		{"拉练", "应急拉练", []string{"拉练"}},
		{"预演", "预演", []string{"预演"}},
		{"traditional 預演 and 拉練", "預演、拉練", []string{"预演", "拉练"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, DrillWordsIn(tt.text), "DrillWordsIn")
			assert.Equal(t, tt.want, ReasonDrillWords(tt.text), "ReasonDrillWords")
			assert.Equal(t, tt.want, DrillWords(tt.text), "DrillWords")
		})
	}
	assert.Equal(t, []string{"预 演", "拉·练"}, DrillWords("预 演，拉·练"), "a template's words with marks inside")
}

// A template branch that only drills render may not tell people the drill
// is real; a branch only LIVE messages render may.
func TestCheckTemplateRefusesAnExerciseThatSaysItIsReal(t *testing.T) {
	sample := MessageData{Name: "张三", Plan: "防汛预案", Level: "Ⅳ", Sender: "【示例市应急】"}
	msgs := checkTemplate("{{.Sender}}{{if .Exercise}}此为真实事件，请立即撤离。{{end}}{{.Plan}}{{.Name}}请到岗。", sample, true)
	require.Len(t, msgs, 1, "%q", msgs)
	assert.Contains(t, msgs[0], `renders an EXERCISE message that says "真实事件" (某此为真实事件，请立即撤离。某某请到岗。): a drill must never say it is real`)
	msgs = checkTemplate("{{.Name}}{{if .Exercise}}，THIS IS NOT {{\"A DRILL\"}}{{end}}", sample, true)
	require.Len(t, msgs, 2, "%q", msgs) // the literal drill word, and the claim
	assert.Contains(t, msgs[1], `"NOT A DRILL"`)
	assert.Empty(t, checkTemplate("{{.Name}}请到岗{{if not .Exercise}}，这是真实事件{{end}}。", sample, true))
}

// The flood plan with a branch that only drills say, telling people it is
// real, is not a valid plan; its plain text stays valid.
func TestPlanValidateRefusesAnExerciseBranchThatSaysItIsReal(t *testing.T) {
	_, src := loadExample(t, "flood.yaml")
	const at = `sms: "{{.Sender}}{{.Plan}}`
	require.Contains(t, string(src), at)
	bad := strings.Replace(string(src), at, `sms: "{{.Sender}}{{if .Exercise}}此为真实事件，请立即撤离。{{end}}{{.Plan}}`, 1)
	_, err := DecodePlan("p8.yaml", []byte(bad))
	require.Error(t, err)
	details := problemDetails(err)
	assert.Contains(t, details, `says "真实事件"`)
	assert.Contains(t, details, "a drill must never say it is real")

	title := strings.Replace(string(src), "\ntitle: ", "\ntitle: 真实事件", 1)
	require.NotEqual(t, string(src), title)
	_, err = DecodePlan("title.yaml", []byte(title))
	require.Error(t, err)
	assert.Contains(t, problemDetails(err), `title: "真实事件`, fmt.Sprint(err))
}
