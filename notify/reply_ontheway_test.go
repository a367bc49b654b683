package notify

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Someone who went straight to their post, or is on the way, says so
// (已到岗, 马上到, 在路上, On my way), and 可以 or 没问题 is a yes: from rules 13
// these answer as 到, where they were notes whose senders were told to
// reply 1 and escalated as silent if they did not (exploratory finding
// P10). A refusal after them still makes a note, and words that only
// start alike are notes still.
func TestPeopleAtTheirPostOrOnTheWayAnswer(t *testing.T) {
	accepted := []string{"已到岗", "已到岗了", "已经到岗", "已到", "已经到了", "马上到", "马上到！", "在路上", "在路上了", "在路上，10分钟到",
		"可以", "可以的", "没问题", "没问题！", "On my way", "on my way!", "OMW"}
	for _, body := range accepted {
		assert.Equal(t, Reply{Kind: ReplyAccept}, ParseReply(body), "%q", body)
		assert.Equal(t, ReplyNote, parseReply(body, replyRulesAt(12)).Kind, "%q under rules 12", body)
	}
	for _, body := range []string{"已到，但是没带装备", "可以不去吗", "在路上堵车了，来不了", "马上到不了", "明天到", "on my way home, cannot come", "可以吗"} {
		assert.Equal(t, Reply{Kind: ReplyNote, Reason: body}, ParseReply(body), "%q", body)
	}
}
