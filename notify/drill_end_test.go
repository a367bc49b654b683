package notify_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster"
	"muster/notify"
	"muster/notify/twiliosim"
	"muster/plans"
)

// A drill stood down tells each person it reached (sent, delivered,
// answered) that it has ended, once, on the drill's account, marked
// 【演练】: someone who answered 到 may be on the way to a drill post. When
// a LIVE call-up stands it down, the people that call-up calls get nothing
// more of the drill, and the others' SMS does not speak of it; people the
// drill never reached are not told. A trainer's stand-down tells everyone
// it reached. Under rules 12 nobody was told (exploratory finding P11).
func TestAStoppedDrillTellsThePeopleItReachedThatItEnded(t *testing.T) {
	for _, rules := range []int{12, 0} {
		t.Run(fmt.Sprintf("stopped by LIVE, rules %d", rules), func(t *testing.T) {
			r := newCallRig(t, rigOptions{nodes: 1, people: 60, drillRate: 15, config: func(_ int, c *cluster.Config) { c.Rules = rules },
				sim: twiliosim.Config{Replies: []twiliosim.ReplyRule{
					{Share: 0.3, Body: "1", Within: 30 * time.Millisecond},
					{Share: 0.1, Body: "2 在外地", Within: 30 * time.Millisecond},
				}}})
			drill := r.activate(t, "exercise")
			require.Eventually(t, func() bool {
				c := r.status(t, drill.ID).Counters.ByState
				return c[notify.StateDelivered]+c[notify.StateAcked]+c[notify.StateDeclined] >= 30
			}, 20*time.Second, 10*time.Millisecond, "a part of the drill reached its people")
			live := r.activateIn(t, "live", district)
			require.Contains(t, live.StoppedDrills, drill.ID, "the LIVE call-up stands the drill down")
			r.waitSettled(t, live.ID, 30*time.Second)
			st := r.status(t, drill.ID)
			if rules == 12 {
				assert.Empty(t, st.EndNotice)
				r.waitSimIdle(t, 10*time.Second)
				assert.Empty(t, drillEnds(r.sim), "under rules 12 nobody is told")
				return
			}
			require.NotEmpty(t, st.EndNotice, "the drill tells the people it reached")
			r.waitSettled(t, st.EndNotice, 30*time.Second)
			r.waitSimIdle(t, 10*time.Second)

			called := map[plans.PersonID]bool{}
			for _, rc := range r.recipientsOf(t, live.ID) {
				called[rc.Person] = true
			}
			want := map[string]bool{}
			var unreached, spared int
			for _, rc := range r.recipientsOf(t, drill.ID) {
				switch {
				case !wasReached(rc.State):
					unreached++
				case called[rc.Person]:
					spared++
				default:
					want[rc.Phone] = true
				}
			}
			require.Positive(t, unreached, "some of the drill's people were never reached")
			require.Positive(t, spared, "some of those it reached are called up for real")
			require.NotEmpty(t, want, "some of those it reached are not")
			got := map[string]int{}
			for _, m := range drillEnds(r.sim) {
				got[m.To]++
				assert.Equal(t, drillAcct.SID, m.AccountSID, "on the drill's account: %q", m.Body)
				assert.True(t, strings.HasPrefix(m.Body, plans.ExerciseMark), "marked as a drill's: %q", m.Body)
				for _, lang := range []plans.Language{plans.LangZH, plans.LangEN} {
					assert.NotContains(t, m.Body, plans.NotADrillMark(lang), "nothing of the real call-up")
				}
				assert.NotContains(t, m.Body, string(live.ID))
			}
			for phone := range want {
				assert.Equal(t, 1, got[phone], "%s: one drill-end SMS", phone)
			}
			for phone, n := range got {
				assert.True(t, want[phone], "%s got %d drill-end SMS: not reached by the drill, or called up for real", phone, n)
			}
			t.Logf("drill %s: %d told it ended, %d called up for real, %d never reached; the LIVE call-up calls %d", drill.ID, len(want), spared, unreached, live.Recipients)
		})
	}
	for _, rules := range []int{12, 0} {
		t.Run(fmt.Sprintf("stood down by a trainer, rules %d", rules), func(t *testing.T) {
			r := newCallRig(t, rigOptions{nodes: 1, people: 30, config: func(_ int, c *cluster.Config) { c.Rules = rules },
				sim: twiliosim.Config{Replies: []twiliosim.ReplyRule{{Share: 0.5, Body: "1", Within: 30 * time.Millisecond}}}})
			drill := r.activate(t, "exercise")
			r.waitSettled(t, drill.ID, 30*time.Second)
			r.waitSimIdle(t, 10*time.Second)
			r.standDown(t, drill.ID)
			st := r.status(t, drill.ID)
			if rules == 12 {
				assert.Empty(t, st.EndNotice)
				assert.Empty(t, drillEnds(r.sim), "under rules 12 nobody is told")
				return
			}
			require.NotEmpty(t, st.EndNotice)
			end := r.waitSettled(t, st.EndNotice, 30*time.Second)
			assert.True(t, end.EndsDrill)
			assert.Equal(t, drill.ID, end.Retracts)
			r.waitSimIdle(t, 10*time.Second)
			got := map[string]int{}
			for _, m := range drillEnds(r.sim) {
				got[m.To]++
				assert.Equal(t, drillAcct.SID, m.AccountSID)
				if strings.Contains(m.Body, notify.DrillEndText) { // it names the drill as a correction names its call-up
					assert.Regexp(t, `^`+plans.ExerciseMark+`【示例市应急】关于\d+月\d+日\d\d:\d\d「全员动员演示预案Ⅳ级响应（示例市）」的通知：`+notify.DrillEndText+`$`, m.Body)
				} else {
					// Named as its English call-up SMS named it, not by
					// the plan's long English title: 3 segments, not 5.
					assert.Regexp(t, `^`+plans.ExerciseMark+`\[EXERCISE\] 【示例市应急】The drill "Call-up level IV, Example City" of \w+ \d+ \d\d:\d\d `+notify.DrillEndTextEN+`$`, m.Body)
					_, _, segs := plans.SMSSegments(m.Body)
					assert.LessOrEqual(t, segs, 3, m.Body)
				}
			}
			recs := r.recipientsOf(t, drill.ID)
			require.Len(t, recs, drill.Recipients)
			for _, rc := range recs {
				require.True(t, wasReached(rc.State), "%s: %s", rc.Person, rc.State)
				assert.Equal(t, 1, got[rc.Phone], "%s (%s): one drill-end SMS", rc.Person, rc.State)
			}
			assert.Len(t, got, len(recs), "nobody else is told")
		})
	}
}

// drillEndsOf waits until the end of drill id has gone out, if it tells
// anyone (rulesDrillEndNotice), and returns how many drill-end SMS the
// simulator took.
func (r *callRig) drillEndsOf(t testing.TB, id plans.ActivationID) int {
	t.Helper()
	if end := r.status(t, id).EndNotice; end != "" {
		r.waitSettled(t, end, 30*time.Second)
		r.waitSimIdle(t, 10*time.Second)
	}
	return len(drillEnds(r.sim))
}

// drillEnds are the SMS the simulator took from muster that tell of a
// drill's end, on either account.
func drillEnds(sim *twiliosim.Server) []twiliosim.Message {
	var out []twiliosim.Message
	for _, m := range sim.Messages("") {
		if m.Direction == "outbound-api" && (strings.Contains(m.Body, notify.DrillEndText) || strings.Contains(m.Body, notify.DrillEndTextEN)) {
			out = append(out, m)
		}
	}
	return out
}

// wasReached reports whether a recipient in state s was reached by their
// call-up: the provider took its SMS, or they answered.
func wasReached(s notify.State) bool {
	switch s {
	case notify.StateSent, notify.StateDelivered, notify.StateAcked, notify.StateDeclined, notify.StateEscalated:
		return true
	}
	return false
}
