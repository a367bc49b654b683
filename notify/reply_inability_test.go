package notify

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// An accept followed by a clear inability, with no but before it (1，我生
// 病了; 1 在住院; 收到 人在外地回不来; 1 I'm sick), is a note from rules 13,
// as an accept followed by a but and an excuse is: whoever wrote it says
// they cannot come and must not be counted as reported; the help text asks
// them to answer 1 or 2 and the escalation asks again. Under rules 12
// those without a refusal word were accepts. Plain accepts, and accepts
// that say how or when the sender comes, stay accepts.
func TestAnAcceptWithAnInabilityIsANote(t *testing.T) {
	for _, body := range []string{"1，我生病了", "1 在住院", "1，病了", "1，发烧了", "收到，我在住院", "1，腿受伤了", "1 人在外地",
		"好的，在外地出差", "1 I'm sick", "1, I am ill", "yes, in hospital", "1 out of town", "ok I'm abroad", "1 sick"} {
		assert.Equal(t, Reply{Kind: ReplyNote, Reason: body}, ParseReply(body), "%q", body)
		assert.Equal(t, ReplyAccept, parseReply(body, replyRulesAt(12)).Kind, "%q under rules 12", body)
	}
	for _, body := range []string{"收到 人在外地回不来", "1，来不了", "1 去不了", "1 到不了", "1，不能来", "1 can't come", "1 cannot come"} { // refusals, as before
		assert.Equal(t, ReplyNote, ParseReply(body).Kind, "%q", body)
		assert.Equal(t, ReplyNote, parseReply(body, replyRulesAt(12)).Kind, "%q under rules 12", body)
	}
	for _, body := range []string{"1", "1 收到", "1，马上到", "1 on my way", "1，晚20分钟", "收到，马上出发", "1，从外地往回赶",
		"1 I'll be there", "1, right away", "1 will be 20 min late", "1，到医院集合", "好的，马上到"} {
		assert.Equal(t, Reply{Kind: ReplyAccept}, ParseReply(body), "%q", body)
	}
}
