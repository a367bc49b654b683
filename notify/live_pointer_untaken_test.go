package notify_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster"
	"muster/notify"
	"muster/plans"
)

// A reply on the drill's number from someone no drill called up, whom a
// LIVE call-up waits for (they answer the wrong number: the one a drill
// texted them from months ago), is pointed to the real call-up from rules
// 13, in their language, up to 10 replies; it records nothing on the LIVE
// call-up, and someone it no longer waits for gets no answer. Under rules
// 12 nobody got any answer: the reply reached no call-up and was only
// audited, while the real one waited.
func TestADrillNumberReplyNoDrillTookPointsToALiveCallUpWaiting(t *testing.T) {
	for _, rules := range []int{0, 12} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			r := newCallRig(t, rigOptions{nodes: 1, people: 50, config: func(_ int, c *cluster.Config) { c.Rules = rules }})
			en := withEnglishSpeaker(t, r, district)
			live := r.activateIn(t, "live", district)
			r.waitSettled(t, live.ID, 30*time.Second)
			var zh []notify.Recipient
			for _, rc := range r.recipientsOf(t, live.ID) {
				if rc.Language != plans.LangEN {
					zh = append(zh, rc)
				}
			}
			require.GreaterOrEqual(t, len(zh), 2)
			chatty, answers := zh[0], zh[1]
			sid := 0
			reply := func(acct, from, body string) string {
				sid++
				a := drillAcct
				if acct == "live" {
					a = liveAcct
				}
				return r.smsReply(t, a, fmt.Sprintf("SMuntaken%d", sid), from, body)
			}
			toEN := reply("drill", en, "1")
			var toChatty []string
			for range 11 {
				toChatty = append(toChatty, reply("drill", chatty.Phone, "1"))
			}
			require.Contains(t, reply("live", answers.Phone, "1"), "<Message>")
			toAnswered := reply("drill", answers.Phone, "1")

			states := map[string]notify.State{}
			for _, rc := range r.recipientsOf(t, live.ID) {
				states[rc.Phone] = rc.State
			}
			for _, phone := range []string{chatty.Phone, en} {
				assert.Equal(t, notify.StateDelivered, states[phone], "%s: the drill's number records nothing on the LIVE call-up", phone)
			}
			assert.Equal(t, notify.StateAcked, states[answers.Phone])
			assert.NotContains(t, toAnswered, "<Message>", "they answered the LIVE call-up: nothing to point to")
			if rules == 12 {
				assert.NotContains(t, toEN, "<Message>")
				for i, body := range toChatty {
					assert.NotContains(t, body, "<Message>", "reply %d", i+1)
				}
				return
			}
			assert.Contains(t, toEN, "<Message>"+notify.LiveCallUpWaits(plans.LangEN, true, true)+"</Message>")
			for i, body := range toChatty[:10] {
				assert.Contains(t, body, "<Message>"+notify.LiveCallUpWaits(plans.LangZH, true, true)+"</Message>", "reply %d", i+1)
			}
			assert.NotContains(t, toChatty[10], "<Message>", "reply 11: the pointer's own bound")
		})
	}
}
