package notify_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"muster/notify"
)

// Someone who answered 到 and then texts that they cannot come after all
// is still counted 到 (the first answer stands), but from rules 13 the
// call-up counts them (declined_after_ack, once a person however often
// they write), and they are told it was shown
// to the duty office rather than only that their first answer stands
// (exploratory finding P2: the commander's board counted them present
// with nothing to see). Under rules 12 it is a note like any other.
func TestADeclineAfterAnAcceptIsFlagged(t *testing.T) {
	for _, rules := range []int{0, 12} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			r := smallRig(t, rules)
			a := r.activateIn(t, "live", district)
			r.waitSettled(t, a.ID, 30*time.Second)
			who := r.recipientsOf(t, a.ID)[0]
			post := func(sid, body string) string { return r.smsReply(t, liveAcct, sid, who.Phone, body) }
			post("SMack", "1")
			first := post("SMdecl1", "2 家里有事")
			second := post("SMdecl2", "2 孩子病了，去不了")
			var got notify.Recipient
			for _, rc := range r.recipientsOf(t, a.ID) {
				if rc.Person == who.Person {
					got = rc
				}
			}
			assert.Equal(t, notify.StateAcked, got.State, "the first answer stands")
			n := r.status(t, a.ID).Counters.Dispatch[notify.DeclinedAfterAckCounter]
			if rules == 12 {
				assert.Contains(t, first, notify.FirstAnswerStands(who.Language, false))
				assert.Zero(t, n)
				return
			}
			for _, answer := range []string{first, second} {
				assert.Contains(t, answer, "<Message>"+notify.DeclineAfterAckNoted(who.Language, false, notify.ReplyWords{})+"</Message>")
			}
			assert.Equal(t, 1, n, "counted once a person")
		})
	}
}
