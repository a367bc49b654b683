package notify_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/notify"
	"muster/notify/twiliosim"
	"muster/plans"
)

// An SMS reply to a call-up that was stood down (or retracted) is answered
// with the call-up's end, in the sender's language and with a drill's
// mark, at most 3 times; the reply changes nothing and is audited as
// before. A reply on the other account, from an unknown number, or a day
// after the end gets no answer. Under rules 9 none was answered.
func TestReplyToAnEndedCallUpIsToldItEnded(t *testing.T) {
	regions, err := examples.Regions()
	require.NoError(t, err)
	grids := examples.Grids(regions)
	const english = "+8613955559001"
	roster := examples.RosterHeader + "\nE001,Alice Wang,13955559001," + string(grids[0]) + ",志愿者,,,,en\n"
	for _, rules := range []int{9, 10} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			clock := clustertest.NewClock(time.Date(2026, 7, 20, 3, 0, 0, 0, time.UTC))
			r := newCallRig(t, rigOptions{nodes: 1, people: 40, clock: clock, config: func(_ int, c *cluster.Config) { c.Rules = rules }})
			_, err := r.plans.ImportRoster(testCtx(t), "test", strings.NewReader(roster), plans.ImportOptions{})
			require.NoError(t, err)
			n := r.c.WaitLeader(15 * time.Second).Node
			svc := notify.NewService(n, n, senders)
			a := r.activate(t, "exercise")
			r.waitSettled(t, a.ID, 30*time.Second)
			r.waitSimIdle(t, 10*time.Second)
			recs := r.recipientsOf(t, a.ID)
			var zh []notify.Recipient
			for _, rc := range recs {
				if rc.Language != plans.LangEN {
					zh = append(zh, rc)
				}
			}
			require.GreaterOrEqual(t, len(zh), 4)
			_, err = svc.StandDown(testCtx(t), "commander", a.ID, "演练结束")
			require.NoError(t, err)

			sid := 0
			reply := func(acct twiliosim.Account, from, body string) string {
				sid++
				code, out := r.postHook(t, r.nodes[0], "/hooks/twilio/sms-inbound", url.Values{"AccountSid": {acct.SID}, "MessageSid": {fmt.Sprintf("SMend%d", sid)},
					"From": {from}, "To": {acct.Number}, "Body": {body}}, acct.AuthToken)
				require.Equal(t, http.StatusOK, code, out)
				return out
			}
			ended := "<Message>" + plans.ExerciseMark + "本次演练已结束，您的回复未记录。</Message>"
			answered := []string{
				reply(drillAcct, zh[0].Phone, "1"),
				reply(drillAcct, zh[0].Phone, "2 在外地"),
				reply(drillAcct, zh[0].Phone, "收到"),
				reply(drillAcct, zh[0].Phone, "自动回复：我正在开会"),
			}
			en := reply(drillAcct, english, "1")
			otherAccount := reply(liveAcct, zh[1].Phone, "1")
			unknown := reply(drillAcct, "+8613900000000", "1")

			st := r.status(t, a.ID)
			assert.Zero(t, st.Counters.ByState[notify.StateAcked]+st.Counters.ByState[notify.StateDeclined], "nothing is recorded")
			audit, err := svc.InboundAudit(testCtx(t), muster.Default, 0, 20)
			require.NoError(t, err)
			assert.Len(t, audit, 7, "every reply is audited as before")
			t.Logf("rules %d: %q", rules, answered[0])
			assert.NotContains(t, otherAccount, "<Message>", "no call-up on the LIVE account")
			assert.NotContains(t, unknown, "<Message>", "unknown numbers stay unanswered")
			if rules < 10 {
				for _, body := range append(answered, en) {
					assert.NotContains(t, body, "<Message>")
				}
				return
			}
			for i, body := range answered[:3] {
				assert.Contains(t, body, ended, "reply %d", i+1)
			}
			assert.NotContains(t, answered[3], "<Message>", "no more than 3 replies get an SMS back")
			assert.Contains(t, en, "<Message>"+plans.ExerciseMark+plans.ExerciseMarkEN+"This drill has ended. Your reply was not recorded.</Message>")
			for _, rc := range r.recipientsOf(t, a.ID) {
				if rc.Person == zh[0].Person {
					assert.Equal(t, 4, rc.Attempt.Replies, "counted on the ended call-up")
					assert.Equal(t, notify.StateDelivered, rc.State)
				}
			}

			// A retracted call-up: told it was withdrawn.
			b := r.activate(t, "exercise")
			r.waitSettled(t, b.ID, 30*time.Second)
			_, err = svc.Retract(testCtx(t), "commander", b.ID, notify.RetractRequest{Message: correctionText})
			require.NoError(t, err)
			assert.Contains(t, reply(drillAcct, zh[2].Phone, "1"), "<Message>"+plans.ExerciseMark+"本次召集已撤回，无需到岗，也无需回复。</Message>")

			// A day after the end: no longer answered.
			clock.Add(24*time.Hour + time.Minute)
			assert.NotContains(t, reply(drillAcct, zh[3].Phone, "1"), "<Message>", "a day later")
		})
	}
}

// A reply on the drill's number to a drill that a LIVE call-up stood down,
// from someone that call-up calls up too, is told the drill stopped for a
// real call-up sent to them, which they answer on its own message; the
// reply answers neither. Under rules 12 they were told the call-up had
// ended, minutes into a real emergency.
func TestReplyToADrillStoppedForALiveCallUpPointsToIt(t *testing.T) {
	for _, rules := range []int{12, 0} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			r := newCallRig(t, rigOptions{nodes: 1, people: 40, config: func(_ int, c *cluster.Config) { c.Rules = rules }})
			drill := r.activate(t, "exercise")
			r.waitSettled(t, drill.ID, 30*time.Second)
			live := r.activate(t, "live")
			require.Contains(t, live.StoppedDrills, drill.ID, "the LIVE call-up stands the drill down")
			r.waitSettled(t, live.ID, 30*time.Second)
			var zh notify.Recipient
			for _, rc := range r.recipientsOf(t, live.ID) {
				if rc.Language != plans.LangEN {
					zh = rc
					break
				}
			}
			require.NotEmpty(t, zh.Phone)
			code, out := r.postHook(t, r.nodes[0], "/hooks/twilio/sms-inbound", url.Values{"AccountSid": {drillAcct.SID}, "MessageSid": {"SMforlive"},
				"From": {zh.Phone}, "To": {drillAcct.Number}, "Body": {"1"}}, drillAcct.AuthToken)
			require.Equal(t, http.StatusOK, code, out)
			if rules == 12 {
				assert.Contains(t, out, "<Message>"+plans.ExerciseMark+"本次演练已结束，您的回复未记录。</Message>")
			} else {
				assert.Contains(t, out, "<Message>"+plans.ExerciseMark+"本次演练已因真实召集停止，真实召集已另发给您：请回复那条标有【非演练】的短信。您的这条回复未记录。</Message>")
			}
			for _, id := range []plans.ActivationID{drill.ID, live.ID} {
				st := r.status(t, id)
				assert.Zero(t, st.Counters.ByState[notify.StateAcked], "%s: nothing is recorded", id)
			}
		})
	}
}
