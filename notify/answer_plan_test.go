package notify_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/examples"
	"muster/notify"
	"muster/plans"
)

// Two LIVE call-ups of different plans (two incidents, two duties) reach
// the same people. From rules 13 an SMS answer counts for the newest that
// still waits for it; the sender is told which call-up took it and that
// the next reply answers the other, and the next does. Under rules 12 one
// "1" counted 到 for both, and the sender was told nothing.
func TestAnAnswerCountsForOnePlanAtATime(t *testing.T) {
	for _, rules := range []int{0, 12} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			r := smallRig(t, rules)
			epidemicPlan := bytes.Replace(examples.EveryonePlan, []byte("id: everyone"), []byte("id: epidemic"), 1)
			epidemicPlan = bytes.Replace(epidemicPlan, []byte("title: 全员动员演示预案"), []byte("title: 聚集性疫情演示预案"), 1)
			_, err := r.plans.ApplyPlan(testCtx(t), "test", "epidemic.yaml", epidemicPlan)
			require.NoError(t, err)
			flood := r.activateIn(t, "live", district)
			n := r.c.WaitLeader(15 * time.Second).Node
			epidemic, err := notify.NewService(n, n, senders).Activate(testCtx(t), "commander",
				notify.ActivationRequest{Plan: "epidemic", Regions: []plans.RegionCode{district}, Level: "IV", Purpose: "live", Reason: "聚集性疫情"})
			require.NoError(t, err)
			r.waitSettled(t, flood.ID, 30*time.Second)
			r.waitSettled(t, epidemic.ID, 30*time.Second)
			who := r.recipientsOf(t, flood.ID)[0]
			require.Equal(t, plans.LangZH, who.Language)
			post := func(sid, body string) string { return r.smsReply(t, liveAcct, sid, who.Phone, body) }
			stateIn := func(id plans.ActivationID) notify.Recipient {
				t.Helper()
				for _, rc := range r.recipientsOf(t, id) {
					if rc.Person == who.Person {
						return rc
					}
				}
				t.Fatalf("%s is not called up by %s", who.Person, id)
				return notify.Recipient{}
			}

			answer := post("SMplan1", "1")
			assert.Equal(t, notify.StateAcked, stateIn(epidemic.ID).State, "the newest takes the answer")
			if rules == 12 {
				assert.Equal(t, notify.StateAcked, stateIn(flood.ID).State, "rules 12: and so did the other plan's")
				return
			}
			assert.Equal(t, notify.StateDelivered, stateIn(flood.ID).State, "another plan's call-up still waits for its own answer")
			assert.Contains(t, answer, "<Message>已记录您对「聚集性疫情演示预案Ⅳ级响应", "the sender is told which call-up took it")
			assert.Contains(t, answer, "的回复：到岗报到。您另有「全员动员演示预案Ⅳ级响应", "and which still waits")
			assert.Contains(t, answer, "的召集尚未回复：到岗请再回复1，不能到岗请回复2并说明原因。</Message>")

			answer = post("SMplan2", "2 在医院陪护")
			got := stateIn(flood.ID)
			assert.Equal(t, notify.StateDeclined, got.State, "the next reply answers the other call-up")
			assert.Equal(t, "在医院陪护", got.Attempt.Reason)
			assert.Equal(t, notify.StateAcked, stateIn(epidemic.ID).State, "the first answer stands")
			assert.Contains(t, answer, "<Message>已记录您对「全员动员演示预案Ⅳ级响应")
			assert.Contains(t, answer, "的回复：不能到岗。</Message>", "nothing waits any more")

			answer = post("SMplan3", "1")
			assert.Contains(t, answer, "<Message>"+notify.FirstAnswerStands(plans.LangZH, false)+"</Message>", "both answered: the first answers stand")
			assert.Equal(t, notify.StateDeclined, stateIn(flood.ID).State)
		})
	}
}
