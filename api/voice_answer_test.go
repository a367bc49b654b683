package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/notify"
	"muster/plans"
)

// Pressing 2 on a call after answering 到 by SMS is kept, the first
// answer standing, and flagged to the duty office; the call says so, as
// the SMS says to a 2 by SMS, in the person's language, where it said
// only that the first answer stands (heard as: your 2 was ignored). It is
// said in the call-up's words: the level IV call-up asks 收到请按1，不能参加
// 请按2, where the call said 您之前已回复到岗。本次按键（不能到岗）….
func TestVoiceDeclineAfterAnSMSAcceptSaysItIsFlagged(t *testing.T) {
	r := newVoiceRig(t)
	a, recs := r.activate(t, "990102")
	zh := firstIn(t, recs, plans.LangZH)
	en := firstIn(t, recs, plans.LangEN)
	for i, rc := range []notify.Recipient{zh, en} {
		res := r.postReply(t, "SMack"+string(rc.Person), rc.Phone, "1")
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		require.Equal(t, notify.StateAcked, r.stateOf(t, a.ID, rc.Person), "%d", i)
	}
	body := r.press(t, a.ID, zh, "2")
	assert.Contains(t, body, "您之前已回复：收到。本次按键（不能参加）已记录，并已提示值班人员；如有急事，请直接联系值班人员。")
	assert.NotContains(t, body, "到岗")
	assert.Contains(t, body, "<Hangup/>")
	body = r.press(t, a.ID, en, "2")
	assert.Contains(t, body, "This key, cannot come, is recorded and shown to the duty office")
	assert.Contains(t, body, `language="en-US"`)
	for _, rc := range []notify.Recipient{zh, en} {
		assert.Equal(t, notify.StateAcked, r.stateOf(t, a.ID, rc.Person), "the first answer stands")
	}
	n := r.f.c.Leader().Node
	st, err := notify.NewService(n, n, testSenders).Activation(ctx(t), muster.Default, a.ID)
	require.NoError(t, err)
	assert.Equal(t, 2, st.Counters.Dispatch[notify.DeclinedAfterAckCounter], "both flagged to the duty office")
}

// A key pressed on a drill's call after the drill was stood down says the
// drill has ended, as its SMS says to a reply (本次演练已结束), where it said
// the call-up had ended.
func TestDrillKeyAfterItsStandDownSaysTheDrillEnded(t *testing.T) {
	r := newVoiceRig(t)
	a, recs := r.activateAs(t, "990103", "EXERCISE")
	zh := firstIn(t, recs, plans.LangZH)
	en := firstIn(t, recs, plans.LangEN)
	res := do(t, r.main, request{method: "POST", path: "/api/v1/activations/" + string(a.ID) + "/stand-down", token: r.f.root,
		body: jsonBody(map[string]string{"reason": "演练结束"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	assert.Contains(t, r.press(t, a.ID, zh, "1"), plans.ExerciseMark+"本次演练已结束，您的按键未记录。")
	assert.Contains(t, r.press(t, a.ID, en, "1"), "This drill has ended. Your key was not recorded.")
	assert.NotEqual(t, notify.StateAcked, r.stateOf(t, a.ID, zh.Person))
}
