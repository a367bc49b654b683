package twiml

import "testing"

// A 2 pressed after an accept is answered in the call-up's words, after a
// drill's mark: a level that asks 收到 / 不能参加 does not hear 到岗; a call
// that says no words of its own gets the usual ones; English as before.
func TestDeclinedAfterAckInTheCallUpsOwnWords(t *testing.T) {
	iv := CallUp{Text: levelIVText, Language: ZhCN, Mark: "【演练】"}
	assertSaysAndHangsUp(t, "【演练】您之前已回复：收到。本次按键（不能参加）已记录，并已提示值班人员；如有急事，请直接联系值班人员。", DeclinedAfterAck(iv))
	live := CallUp{Text: "请立即到岗。确认请按1，不能请按2。", Language: ZhCN}
	assertSaysAndHangsUp(t, "您之前已回复：确认到岗。本次按键（不能到岗）已记录，并已提示值班人员；如有急事，请直接联系值班人员。", DeclinedAfterAck(live))
	en := CallUp{Text: "Press 1 if you are coming.", Language: EnUS}
	assertSaysAndHangsUp(t, "You had answered that you are coming. This key, cannot come, is recorded and shown to the duty office; if it is urgent, call the duty office.", DeclinedAfterAck(en))
}
