package twiml

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A call asks to be answered by SMS in the words its call-up asks with,
// as the SMS of that call-up does: a level IV call-up whose SMS asks
// "1收到，2不能参加" and whose call asks "收到请按1，不能参加请按2" leaves a
// message on an answering machine, and says when no key came, "请回复短信：
// 1 收到，2 不能参加", not 1 确认到岗, 2 不能到岗 (finding R9). One that says
// nothing of its keys, and an English one, keep the usual words.
func TestVoicemailAsksForTheSMSReplyInTheCallUpsWords(t *testing.T) {
	said := func(r Response) string {
		var b strings.Builder
		for _, v := range r.Verbs {
			b.WriteString(sayText(v))
			if g, ok := v.(Gather); ok {
				for _, w := range g.Verbs {
					b.WriteString(sayText(w))
				}
			}
		}
		return b.String()
	}
	for _, mark := range []string{"", "【演练】"} {
		iv := CallUp{Text: mark + strings.TrimPrefix(levelIVText, "【演练】"), Language: ZhCN, Action: "https://m.example.cn/g", Mark: mark}
		vm := said(Voicemail(iv))
		assert.Equal(t, 2, strings.Count(vm, mark+"请回复短信：1 收到，2 不能参加。"), "asked twice, in the call-up's words: %s", vm)
		assert.NotContains(t, vm, "确认到岗", vm)
		assert.NotContains(t, vm, "不能到岗", vm)
		assert.Equal(t, mark+"未收到按键。请回复短信：1 收到，2 不能参加。再见。", sayText(Prompt(iv).Verbs[1]))
	}

	plain := CallUp{Text: "请立即到岗。", Language: ZhCN}
	assert.Contains(t, said(Voicemail(plain)), "请回复短信：1 确认到岗，2 不能到岗。")
	assert.Equal(t, "未收到按键。请回复短信：1 确认到岗，2 不能到岗。再见。", sayText(Prompt(plain).Verbs[1]))

	bare := CallUp{Text: "确认请按1，不能请按2。", Language: ZhCN}
	assert.Contains(t, said(Voicemail(bare)), "请回复短信：1 确认到岗，2 不能到岗。", "bare verbs: the usual words")

	en := enCallUp()
	assert.Contains(t, said(Voicemail(en)), "Please reply to the text message: 1 if you are coming, 2 if you cannot.")
}
