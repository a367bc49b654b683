package notify

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// An accept followed by 不过 (but) and coming late is an accept (from rules
// 13), as one followed by 但 or 可能 is: its 不 refuses nothing, and whoever
// wrote "1，不过要晚半小时" is coming, late. Under rules 12 it was a note
// whose sender was sent the help text and escalated as silent. A refusal
// after the 不过, and 不过来 / 不过去 (cannot come over), still make a note,
// and so does a but before anything other than coming late (1，不过我生病了):
// whether the sender comes cannot be told, and the escalation asks again.
func TestAnAcceptWithButAccepts(t *testing.T) {
	for _, body := range []string{"1，不过要晚半小时", "到，不过晚一点", "收到，不过要半小时后", "1不过晚点到", "1 不过可能晚到",
		"好的，不过要晚点", "明白，不过路上堵车", "1，只不过要晚一点", "收到，不过要先把孩子送回家"} {
		assert.Equal(t, Reply{Kind: ReplyAccept}, ParseReply(body), "%q", body)
		assert.Equal(t, Reply{Kind: ReplyNote, Reason: body}, parseReply(body, replyRulesAt(12)), "%q under rules 12", body)
	}
	for _, body := range []string{"1，但是要晚十分钟", "收到，但晚点到", "1 可能要晚到", "1 but I will be 20 min late", "1 but running late"} { // as before
		assert.Equal(t, Reply{Kind: ReplyAccept}, ParseReply(body), "%q", body)
	}
	// A but before an excuse: accepted under rules 12 if it said no
	// refusal word (the 不 of 不过 aside), a note from rules 13.
	for _, body := range []string{"1，不过我生病了", "1,不过在住院", "1，不过腿受伤了", "收到，不过人在北京", "收到，不过家里有事",
		"1，但是我生病了", "到，可是我在外地", "收到，只是人在北京", "1 but I am sick", "yes, however I'm abroad"} {
		assert.Equal(t, ReplyNote, ParseReply(body).Kind, "%q", body)
	}
	for _, body := range []string{"1，但是我生病了", "到，可是我在外地", "1 but I am sick"} {
		assert.Equal(t, ReplyAccept, parseReply(body, replyRulesAt(12)).Kind, "%q under rules 12", body)
	}
	for _, body := range []string{"1不能去", "到不了", "去不了", "不过去了", "不过来了", "1，不过去不了", "1，不过来了", "收到，不过来不了",
		"1，不过 去了", "收到，不过没车", "到，不过不一定能到", "收到，不过过不去", "好的，不过我去不了", "1，不过无法到岗", "收到，但去不了",
		"1 but cannot come"} {
		assert.Equal(t, ReplyNote, ParseReply(body).Kind, "%q", body)
	}
}
