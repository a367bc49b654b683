package twiml

import "testing"

// A key pressed after a first answer is answered in the call-up's words,
// after a drill's mark: a level that asks 收到 does not hear 已确认到岗.
func TestFirstAnswerStandsInTheCallUpsOwnWords(t *testing.T) {
	iv := CallUp{Text: levelIVText, Language: ZhCN, Mark: "【演练】"}
	assertSaysAndHangsUp(t, "【演练】您之前已回复：收到，以第一次回复为准。", FirstAnswerStands(iv, true))
	assertSaysAndHangsUp(t, "【演练】您之前已回复：不能参加，以第一次回复为准。如有变化，请与值班人员联系。", FirstAnswerStands(iv, false))
	live := CallUp{Text: "请立即到岗。确认请按1，不能请按2。", Language: ZhCN}
	assertSaysAndHangsUp(t, "您之前已回复：确认到岗，以第一次回复为准。", FirstAnswerStands(live, true)) // bare verbs: the usual words
	en := CallUp{Text: "Press 1 if you are coming.", Language: EnUS}
	assertSaysAndHangsUp(t, "You had already said you are coming; your first answer stands.", FirstAnswerStands(en, true))
}
