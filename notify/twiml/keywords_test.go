package twiml

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// levelIVText asks for 收到, not 到岗, as a level IV call-up does.
const levelIVText = "【演练】这里是示例市防汛抗旱指挥部。张三同志，长青园社区已启动防汛四级（IV级）应急响应。请您以防汛抢险队员身份做好巡查值守。收到请按1，不能参加请按2，重听请按9。"

// A call answers keys in the words its call-up asked with: a level that
// asks 收到 is told 已收到, not 已确认到岗, and its key help repeats its own
// words; one that says nothing of its keys gets the usual words.
func TestCallAnswersInTheCallUpsOwnWords(t *testing.T) {
	iv := CallUp{Text: levelIVText, Language: ZhCN, Action: "https://m.example.cn/g"}
	assert.Equal(t, "已收到，谢谢。", sayText(Reply(iv, "1").Verbs[0]))
	assert.Equal(t, "已记录您不能参加，谢谢。", sayText(Reply(iv, "2").Verbs[0]))
	help := Reply(iv, "5").Verbs[0].(Gather).Verbs[0]
	assert.Equal(t, "按键无效。收到请按1，不能参加请按2，重听请按9。", sayText(help))

	plain := CallUp{Text: "请立即到岗。", Language: ZhCN}
	assert.Equal(t, "已确认到岗，谢谢。", sayText(Reply(plain, "1").Verbs[0]))
	assert.Equal(t, "已记录您不能到岗，谢谢。", sayText(Reply(plain, "2").Verbs[0]))
}

// In a drill every fixed phrase of a call is marked, as its script is:
// the key help and the no-key goodbye (and the no-key note before a
// Redirect) too; an English drill's with the English mark it begins with,
// which is how an English voice says 【演练】 (SpokenEN).
func TestDrillCallMarksItsFixedPhrases(t *testing.T) {
	drill := CallUp{Text: levelIVText, Language: ZhCN, Action: "https://m.example.cn/g", Mark: "【演练】"}
	help := Reply(drill, "5")
	assert.Equal(t, "【演练】按键无效。收到请按1，不能参加请按2，重听请按9。", sayText(help.Verbs[0].(Gather).Verbs[0]))
	assert.Equal(t, "【演练】未收到按键。请回复短信：1 收到，2 不能参加。再见。", sayText(help.Verbs[1]))
	assert.Equal(t, "【演练】未收到按键。请回复短信：1 收到，2 不能参加。再见。", sayText(Prompt(drill).Verbs[1]))
	redirect := drill
	redirect.NoInput = "https://m.example.cn/next"
	assert.Equal(t, "【演练】未收到按键。", sayText(Prompt(redirect).Verbs[1]))

	live := drill
	live.Mark = ""
	assert.Equal(t, "未收到按键。请回复短信：1 收到，2 不能参加。再见。", sayText(Prompt(live).Verbs[1]), "a LIVE call is not marked")

	en := CallUp{Text: "【演练】[EXERCISE] Press 1 if you are coming, 2 if you cannot, 9 to repeat.", Language: EnUS, Mark: "【演练】[EXERCISE] "}
	assert.Equal(t, "[EXERCISE] That key is not valid. Press 1 if you are coming, 2 if you cannot, 9 to repeat.", sayText(Reply(en, "5").Verbs[0].(Gather).Verbs[0]))
	assert.Equal(t, "[EXERCISE] No key was pressed. Please reply to the text message: 1 if you are coming, 2 if you cannot. Goodbye.", sayText(Prompt(en).Verbs[1]))
}

// Someone who answered before the call was picked up is told so in the
// call-up's words, thanked, and the call ends without asking for a key.
func TestAlreadyAnsweredCall(t *testing.T) {
	iv := CallUp{Text: levelIVText, Language: ZhCN, Mark: "【演练】"}
	assertSaysAndHangsUp(t, "【演练】您已回复：收到。无需再按键，谢谢。", AlreadyAnswered(iv, true))
	assertSaysAndHangsUp(t, "【演练】您已回复：不能参加。如有变化，请与值班人员联系。谢谢。", AlreadyAnswered(iv, false))
	en := CallUp{Text: "Press 1 if you are coming.", Language: EnUS}
	assertSaysAndHangsUp(t, "You have already answered that you are coming. No key is needed. Thank you.", AlreadyAnswered(en, true))
}

// sayText is the text of v, a Say ("" for any other verb): the voice is
// not what these tests are about.
func sayText(v Verb) string {
	s, _ := v.(Say)
	return s.Text
}

func assertSaysAndHangsUp(t *testing.T, text string, r Response) {
	t.Helper()
	if assert.Len(t, r.Verbs, 2) {
		assert.Equal(t, text, sayText(r.Verbs[0]))
		assert.Equal(t, Hangup{}, r.Verbs[1])
	}
}
