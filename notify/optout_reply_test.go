package notify_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
)

// A person who answers a call-up with STOP, 退订 or TD is told that call-up
// messages cannot be unsubscribed and whom to ask, not to report for duty
// (exploratory finding P4); the reply is a note, as before, and they stay
// called up. Other notes still get the help text.
func TestAnOptOutReplyIsToldCallUpsCannotBeUnsubscribed(t *testing.T) {
	r := smallRig(t, 0)
	a := r.activateIn(t, "live", district)
	r.waitSettled(t, a.ID, 30*time.Second)
	recs := r.recipientsOf(t, a.ID)
	require.GreaterOrEqual(t, len(recs), 5)
	for i, tc := range []struct{ body, want string }{
		{"STOP", notify.OptOutText(recs[0].Language, false, notify.ReplyWords{})},
		{"退订", notify.OptOutText(recs[1].Language, false, notify.ReplyWords{})},
		{" td ", notify.OptOutText(recs[2].Language, false, notify.ReplyWords{})},
		{"Unsubscribe!", notify.OptOutText(recs[3].Language, false, notify.ReplyWords{})},
		{"stop the car", notify.HelpText(recs[4].Language, false, notify.ReplyWords{})},
	} {
		answer := r.smsReply(t, liveAcct, fmt.Sprintf("SMstop%d", i), recs[i].Phone, tc.body)
		assert.Equal(t, "<Response><Message>"+tc.want+"</Message></Response>", answer, "%q", tc.body)
	}
	for i, rc := range r.recipientsOf(t, a.ID)[:5] {
		assert.Equal(t, recs[i].State, rc.State, "%s stays called up", rc.Person)
		assert.Equal(t, 1, rc.Attempt.Replies)
	}
}
