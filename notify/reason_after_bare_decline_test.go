package notify_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/notify"
	"muster/plans"
)

// Someone with two open call-ups of different plans answers 1 to the newer
// (the reply answers it first), then a bare 2, which answers the older and
// is asked for the reason; the reason they send then is kept as that
// decline's reason, on the older call-up, and answered in its words
// (已记录不能参加的原因), from rules 13. Before, a reply after both were
// answered reached the newer one: the reason was a note on it, they were
// told 以第一次回复为准, and the decline showed none. What follows is a
// note on the newer one again. (Before rules 13 the 1 answered both
// call-ups, and no bare 2 reached the older one.)
func TestAReasonAfterABareDeclineGoesToTheCallUpDeclined(t *testing.T) {
	r := smallRig(t, 0)
	r.applyStandbyPlan(t)
	older := r.standbyCallUp(t, "live", district)
	newer := r.activateIn(t, "live", district)
	r.waitSettled(t, newer.ID, 30*time.Second)
	inOlder := map[plans.PersonID]bool{}
	for _, rc := range r.recipientsOf(t, older.ID) {
		inOlder[rc.Person] = true
	}
	var zh notify.Recipient
	for _, rc := range r.recipientsOf(t, newer.ID) {
		if rc.Language != plans.LangEN && inOlder[rc.Person] {
			zh = rc
			break
		}
	}
	require.NotEmpty(t, zh.Person, "a Chinese speaker both call up")
	recipient := func(act plans.ActivationID) notify.Recipient {
		t.Helper()
		for _, rc := range r.recipientsOf(t, act) {
			if rc.Person == zh.Person {
				return rc
			}
		}
		t.Fatalf("%s is not called up by %s", zh.Person, act)
		return notify.Recipient{}
	}
	notesOf := func(act plans.ActivationID) []string {
		t.Helper()
		n := r.c.WaitLeader(15 * time.Second).Node
		notes, err := notify.NewService(n, n, senders).Notes(testCtx(t), muster.Default, act)
		require.NoError(t, err)
		var out []string
		for _, nt := range notes {
			if nt.Person == zh.Person {
				out = append(out, nt.Body)
			}
		}
		return out
	}
	msg := func(text string) string { return "<Message>" + text + "</Message>" }
	stands := msg(notify.FirstAnswerStands(plans.LangZH, false))

	require.Contains(t, r.smsReply(t, liveAcct, "SMbare1", zh.Phone, "1"), "的召集尚未回复：收到请再回复1")
	declined := r.smsReply(t, liveAcct, "SMbare2", zh.Phone, "2")
	require.Contains(t, declined, "的回复：不能参加。", "the bare 2 answers the older call-up")
	require.Equal(t, notify.StateAcked, recipient(newer.ID).State)
	require.Equal(t, notify.StateDeclined, recipient(older.ID).State)
	const reason = "家里老人住院，去不了"
	toReason := r.smsReply(t, liveAcct, "SMbare3", zh.Phone, reason)
	assert.Contains(t, declined, "不能参加。请回复原因，便于调度。", "asked for the reason")
	assert.Equal(t, "<Response>"+msg(notify.ReasonRecorded(plans.LangZH, false, notify.ReplyWords{Accept: "收到", Decline: "不能参加"}))+"</Response>", toReason)
	assert.Contains(t, toReason, "已记录不能参加的原因", "in the declined call-up's words")
	assert.Equal(t, reason, recipient(older.ID).Attempt.Reason, "kept as the decline's reason")
	assert.Equal(t, notify.StateDeclined, recipient(older.ID).State)
	assert.Equal(t, notify.StateAcked, recipient(newer.ID).State, "the newer call-up's answer stands")
	assert.Empty(t, notesOf(newer.ID), "no note on the newer call-up")

	assert.Contains(t, r.smsReply(t, liveAcct, "SMbare4", zh.Phone, "路上注意安全"), stands, "what follows is a note")
	assert.Equal(t, []string{"路上注意安全"}, notesOf(newer.ID))
	assert.Equal(t, reason, recipient(older.ID).Attempt.Reason)
}
