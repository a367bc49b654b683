package notify_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster"
	"muster/notify"
	"muster/plans"
)

// A key (1 or 2) pressed on a drill's call after the drill ended, by
// someone a LIVE call-up waits for, is answered from rules 13 with the
// drill's end and a pointer to the real call-up: it waits, keys on the
// drill's call do not answer it, and how to answer its SMS, in its words
// (a standby level that asks 收到 / 不能参加), in the call's language; up
// to 10 keys (drill_pointers, as a reply on the drill's number no drill
// takes). It records nothing on the LIVE call-up, and someone who answered
// it hears no pointer. Under rules 12 the call said only that the drill had
// ended, while the real call-up waited.
func TestADrillCallKeyNoDrillTakesPointsToALiveCallUpWaiting(t *testing.T) {
	for _, rules := range []int{0, 12} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			r := newCallRig(t, rigOptions{nodes: 1, people: 50, config: func(_ int, c *cluster.Config) { c.Rules = rules }})
			r.applyStandbyPlan(t)
			enPhone := withEnglishSpeaker(t, r, district)
			drill := r.activateIn(t, "exercise", district)
			r.waitSettled(t, drill.ID, 30*time.Second)
			r.standDown(t, drill.ID)
			live := r.standbyCallUp(t, "live", district)

			var zh []notify.Recipient
			var en notify.Recipient
			for _, rc := range r.recipientsOf(t, drill.ID) {
				switch {
				case rc.Phone == enPhone:
					en = rc
				case rc.Language != plans.LangEN:
					zh = append(zh, rc)
				}
			}
			require.NotEmpty(t, en.Person)
			require.GreaterOrEqual(t, len(zh), 2)
			keyed, answers := zh[0], zh[1]
			sid := 0
			press := func(who notify.Recipient, key string) string {
				t.Helper()
				sid++
				path := "/hooks/twilio/voice/" + notify.EscalationAttemptID(drill.ID, who.Person, 0, 1) + "/gather"
				form := url.Values{"AccountSid": {drillAcct.SID}, "CallSid": {fmt.Sprintf("CAdrillkey%d", sid)}, "Digits": {key},
					"From": {drillAcct.Number}, "To": {who.Phone}, "CallStatus": {"in-progress"}}
				code, body := r.postHook(t, r.nodes[0], path, form, drillAcct.AuthToken)
				require.Equal(t, http.StatusOK, code, body)
				return body
			}
			var toKeyed []string
			for i := range 11 {
				toKeyed = append(toKeyed, press(keyed, []string{"1", "2"}[i%2]))
			}
			toEN := press(en, "1")
			require.Contains(t, r.smsReply(t, liveAcct, "SMkeyanswers", answers.Phone, "1"), "<Message>")
			toAnswered := press(answers, "1")

			states := map[plans.PersonID]notify.State{}
			for _, rc := range r.recipientsOf(t, live.ID) {
				states[rc.Person] = rc.State
			}
			for _, p := range []plans.PersonID{keyed.Person, en.Person} {
				assert.Equal(t, notify.StateDelivered, states[p], "%s: a drill's key records nothing on the LIVE call-up", p)
			}
			assert.Equal(t, notify.StateAcked, states[answers.Person])
			const ended = "您的按键未记录。" // the rig's API reads no call-ups: 本次召集未在进行
			pointer := notify.LiveCallUpWaitsByVoice(plans.LangZH, notify.ReplyWords{Accept: "收到", Decline: "不能参加"})
			assert.Contains(t, pointer, "收到请回复1，不能参加请回复2并说明原因。", "the LIVE call-up's words")
			assert.Contains(t, toAnswered, ended)
			assert.NotContains(t, toAnswered, "另有真实召集", "they answered the LIVE call-up: nothing to point to")
			for i, body := range toKeyed {
				assert.Contains(t, body, ended, "key %d", i+1)
				assert.Contains(t, body, "<Hangup/>", "key %d", i+1)
			}
			assert.Contains(t, toEN, "Your key was not recorded.")
			if rules == 12 {
				for i, body := range toKeyed {
					assert.NotContains(t, body, "另有真实召集", "key %d", i+1)
				}
				assert.NotContains(t, toEN, "REAL call-up")
				return
			}
			for i, body := range toKeyed[:10] {
				assert.Contains(t, body, pointer, "key %d", i+1)
			}
			assert.NotContains(t, toKeyed[10], "另有真实召集", "key 11: the pointer's own bound")
			assert.Contains(t, toEN, "A REAL call-up is waiting for your answer. Keys on this drill")
		})
	}
}
