package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
	"muster/plans"
)

// Pressing 1 on a call after answering 1 by SMS says that the first answer
// stands in the call-up's own words: the level IV call-up asks 收到请按1,
// and its people heard "您之前已确认到岗" for a call-up that asked no one
// to come.
func TestVoiceRepeatAcceptSaysTheCallUpsWords(t *testing.T) {
	r := newVoiceRig(t)
	a, recs := r.activate(t, "990102")
	zh := firstIn(t, recs, plans.LangZH)
	res := r.postReply(t, "SMack"+string(zh.Person), zh.Phone, "1")
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	require.Equal(t, notify.StateAcked, r.stateOf(t, a.ID, zh.Person))
	body := r.press(t, a.ID, zh, "1")
	assert.Contains(t, body, "您之前已回复：收到，以第一次回复为准。")
	assert.NotContains(t, body, "确认到岗")
	assert.Contains(t, body, "<Hangup/>")
	assert.Equal(t, notify.StateAcked, r.stateOf(t, a.ID, zh.Person))
}
