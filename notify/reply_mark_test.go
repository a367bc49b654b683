package notify_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
	"muster/plans"
)

// What an English speaker's replies to a drill get back begins with the
// mark their call-up began with, 【演练】[EXERCISE], where it had only
// 【演练】; a Chinese speaker's with 【演练】 alone, as before. And an
// accept with 不过 (but) and more is recorded as 到 and said to be,
// where the sender was sent the help text and left silent.
func TestDrillAnswersCarryTheCallUpsMark(t *testing.T) {
	r := smallRig(t, 0)
	en := withEnglishSpeaker(t, r, district)
	a := r.activateIn(t, "exercise", district)
	r.waitSettled(t, a.ID, 30*time.Second)
	var zh notify.Recipient
	for _, rc := range r.recipientsOf(t, a.ID) {
		if rc.Language != plans.LangEN {
			zh = rc
			break
		}
	}
	require.NotEmpty(t, zh.Phone)
	mark := plans.ExerciseMark + plans.ExerciseMarkEN
	assert.Contains(t, r.smsReply(t, drillAcct, "SMmark1", en, "1"), "<Message>"+mark+"Recorded: you will report for duty.</Message>")
	assert.Contains(t, r.smsReply(t, drillAcct, "SMmark2", en, "2 sick"), "<Message>"+mark+"You had answered that you are coming.")
	assert.Contains(t, r.smsReply(t, drillAcct, "SMmark3", en, "hello"), "<Message>"+mark+"You had answered before")

	assert.Contains(t, r.smsReply(t, drillAcct, "SMmark4", zh.Phone, "1，不过要晚半小时"), "<Message>"+plans.ExerciseMark+"已记录：到岗报到。</Message>")
	for _, rc := range r.recipientsOf(t, a.ID) {
		if rc.Person == zh.Person {
			assert.Equal(t, notify.StateAcked, rc.State, "1，不过要晚半小时 is 到")
		}
	}
}
