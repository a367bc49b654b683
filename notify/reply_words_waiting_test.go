package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
	"muster/plans"
)

// The confirmation of an SMS answer that names another open call-up still
// waiting for the sender asks them to answer that one in its words, and
// the reason kept after a bare 2 is said in the call-up's words: a level
// IV call-up whose SMS asks "回复：1收到，2不能参加", left waiting while the
// sender's 1 went to a newer call-up of another plan, was asked for with
// "到岗请再回复1，不能到岗请回复2", and its reason recorded as 不能到岗's.
func TestTheCallUpStillWaitingIsAskedForInItsWords(t *testing.T) {
	r := smallRig(t, 0)
	r.applyStandbyPlan(t)
	older := r.standbyCallUp(t, "live", district)
	var zhOlder []notify.Recipient
	for _, rc := range r.recipientsOf(t, older.ID) {
		if rc.Language != plans.LangEN {
			zhOlder = append(zhOlder, rc)
		}
	}
	require.GreaterOrEqual(t, len(zhOlder), 2)
	// A bare 2, then the reason: recorded as 不能参加's.
	declining := zhOlder[len(zhOlder)-1]
	assert.Equal(t, "<Response><Message>已记录：不能参加。请回复原因，便于调度。</Message></Response>", r.smsReply(t, liveAcct, "r1", declining.Phone, "2"))
	assert.Equal(t, "<Response><Message>已记录不能参加的原因，值班人员可以看到。</Message></Response>", r.smsReply(t, liveAcct, "r2", declining.Phone, "家里有人生病"))

	newer := r.activateIn(t, "live", district)
	r.waitSettled(t, newer.ID, 30*time.Second)
	inOlder := map[plans.PersonID]bool{}
	for _, rc := range r.recipientsOf(t, older.ID) {
		inOlder[rc.Person] = true
	}
	var zh notify.Recipient
	for _, rc := range r.recipientsOf(t, newer.ID) {
		if rc.Language != plans.LangEN && inOlder[rc.Person] && rc.Person != declining.Person {
			zh = rc
			break
		}
	}
	require.NotEmpty(t, zh.Person, "a Chinese speaker both call up")

	// 1 answers the newer call-up (到岗); the older one waits, in its words.
	answer := r.smsReply(t, liveAcct, "w1", zh.Phone, "1")
	assert.True(t, strings.HasSuffix(answer, "的召集尚未回复：收到请再回复1，不能参加请回复2并说明原因。</Message></Response>"), answer)
	assert.Contains(t, answer, "的回复：到岗报到。", "the newer call-up's own words")
	// Their next reply answers the older one, in its words.
	answer = r.smsReply(t, liveAcct, "w2", zh.Phone, "2 在外地")
	assert.Contains(t, answer, "的回复：不能参加。</Message>", answer)
}
