package twiml

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/plans"
)

func TestSplitChinese(t *testing.T) {
	tests := []struct {
		name, text string
		want       []Run
	}{
		{"english only", "No key was pressed. Goodbye.", []Run{{"No key was pressed. Goodbye.", false}}},
		{"chinese only", "请忽略上一条通知。", []Run{{"请忽略上一条通知。", true}}},
		{"a reason in an english sentence",
			"Zheng Jing, a level I flood response is active in Jiangbei District: 特大暴雨. Please report now.",
			[]Run{{"Zheng Jing, a level I flood response is active in Jiangbei District:", false}, {"特大暴雨", true}, {". Please report now.", false}}},
		{"numbers, codes and punctuation among chinese stay with it",
			"in 金桥街道: 英语演练（通讯演练 D000003，手动启动）. Report as Grid Leader.",
			[]Run{{"in", false}, {"金桥街道: 英语演练（通讯演练 D000003，手动启动）", true}, {". Report as Grid Leader.", false}}},
		{"a full stop after the chinese goes with it", "Notice: 特大暴雨.", []Run{{"Notice:", false}, {"特大暴雨.", true}}},
		{"english words between chinese are english", "王芳 and 李强", []Run{{"王芳", true}, {"and", false}, {"李强", true}}},
		{"chinese punctuation alone is no chinese", "Zheng Jing，report now", []Run{{"Zheng Jing，report now", false}}},
		{"empty", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, SplitChinese(tc.text))
		})
	}
}

func TestSpokenEN(t *testing.T) {
	assert.Equal(t, "[EXERCISE] Zheng Jing, report now.", SpokenEN(plans.ExerciseMark+plans.ExerciseMarkEN+"Zheng Jing, report now."))
	assert.Equal(t, "[EXERCISE] Once more.", SpokenEN(plans.ExerciseMark+"Once more."))
	assert.Equal(t, "[NOT A DRILL] This is the flood headquarters.", SpokenEN(plans.NotADrillMark(plans.LangEN)+"This is the flood headquarters."))
	assert.Equal(t, "Report now.", SpokenEN("Report now."))
}

// englishSays checks every Say of verbs (Gathers' included): no English Say
// holds a Han character, each Chinese one is said by zh; it returns the
// texts said, in order.
func englishSays(t *testing.T, verbs []Verb, zh Voice) []string {
	t.Helper()
	var said []string
	for _, v := range verbs {
		switch v := v.(type) {
		case Gather:
			said = append(said, englishSays(t, v.Verbs, zh)...)
		case Say:
			if HasChinese(v.Text) {
				assert.Equal(t, zh.Name, v.Voice, "%+v", v)
				assert.Equal(t, zh.Language, v.Language, "%+v", v)
			} else {
				assert.Equal(t, "Polly.Joanna", v.Voice, "%+v", v)
				assert.Equal(t, EnUS, v.Language, "%+v", v)
			}
			assert.NotContains(t, v.Text, "【", "no bracket of a mark is read")
			said = append(said, v.Text)
		}
	}
	return said
}

// An English call-up says the Chinese in it (the commander's reason, a
// street with no English name, a drill's Chinese title) in the Chinese
// voice, in Says of their own, and the rest in the English voice; a
// drill's 【演练】 is said as [EXERCISE], and the sentences saying it is a
// drill in English. Everything the call says is said: nothing of the text
// is lost.
func TestEnglishCallSaysChineseInAChineseVoice(t *testing.T) {
	text := plans.ExerciseMark + plans.ExerciseMarkEN + "曾强, level IV response in 金桥街道: 英语演练（通讯演练 D000003，手动启动）. Report as Grid Leader. Press 1 if you are coming, 2 if you cannot, 9 to repeat."
	c := enCallUp()
	c.Text, c.Mark = text, plans.ExerciseMark+plans.ExerciseMarkEN
	google := Voice{Name: "Google.cmn-CN-Wavenet-A", Language: CmnCN}
	for _, zh := range []Voice{{}, google} {
		c.Chinese = zh
		if zh.Name == "" {
			zh = DefaultVoice(ZhCN)
		}
		t.Run(zh.Name, func(t *testing.T) {
			script := []string{"This is a drill, not a real emergency.", "[EXERCISE]", "曾强", ", level IV response in", "金桥街道: 英语演练（通讯演练 D000003，手动启动）",
				". Report as Grid Leader. Press 1 if you are coming, 2 if you cannot, 9 to repeat.", "This was a drill."}
			twice := append(append([]string{}, script...), script...)
			assert.Equal(t, append(twice, "[EXERCISE] No key was pressed. Please reply to the text message: 1 if you are coming, 2 if you cannot. Goodbye."), englishSays(t, Prompt(c).Verbs, zh))
			assert.Equal(t, []string{"[EXERCISE] You are confirmed as coming. Thank you."}, englishSays(t, Reply(c, "1").Verbs, zh))
			help := englishSays(t, Reply(c, "5").Verbs, zh)
			assert.Equal(t, "[EXERCISE] That key is not valid. Press 1 if you are coming, 2 if you cannot, 9 to repeat.", help[0])
			assert.Equal(t, twice, help[1:len(help)-1], "the gather prompt reads the call-up again, split alike")
			assert.Equal(t, twice, englishSays(t, Notice(c).Verbs, zh))
			assert.Len(t, englishSays(t, Voicemail(c).Verbs, zh), 2*(len(script)-0)+3)
			assert.Equal(t, []string{"[EXERCISE] You have already answered that you are coming. No key is needed. Thank you."},
				englishSays(t, AlreadyAnswered(c, true).Verbs, zh))
			assert.Equal(t, []Verb{Say{Text: "Notice:", Voice: "Polly.Joanna", Language: EnUS}, Say{Text: "请忽略上一条通知。", Voice: zh.Name, Language: zh.Language}},
				c.Speak("Notice: 请忽略上一条通知。"))

			doc := Prompt(c).Render()
			back, err := Parse(doc)
			require.NoError(t, err)
			assert.Equal(t, Prompt(c), back, "rendered document parses back to itself")
		})
	}

	// A Chinese call is one Say per text, as before, marks and all.
	zhc := zhCallUp()
	zhc.Text = plans.ExerciseMark + zhText
	p := Prompt(zhc)
	g := p.Verbs[0].(Gather)
	require.Len(t, g.Verbs, 3)
	assert.Equal(t, Say{Text: zhc.Text, Voice: "Polly.Zhiyu", Language: CmnCN}, g.Verbs[0])
	assert.True(t, strings.HasPrefix(zhc.Text, plans.ExerciseMark))
}
