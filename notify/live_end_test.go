package notify_test

import (
	"fmt"
	"slices"
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

// A LIVE call-up stood down tells each person it reached that the
// emergency response has ended, once, on the LIVE account, in their
// language, in words that never read as a drill: someone who answered 到
// may be on the way or at their post. A stand-down that says another
// call-up replaces it tells nobody. Under rules 12 nobody was told.
func TestALiveStandDownTellsThePeopleItReachedThatItEnded(t *testing.T) {
	for _, rules := range []int{12, 0} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			r := newCallRig(t, rigOptions{nodes: 1, people: 30, config: func(_ int, c *cluster.Config) { c.Rules = rules },
				sim: twiliosim.Config{Replies: []twiliosim.ReplyRule{{Share: 0.5, Body: "1", Within: 30 * time.Millisecond}}}})
			live := r.activate(t, "live")
			r.waitSettled(t, live.ID, 30*time.Second)
			r.waitSimIdle(t, 10*time.Second)
			require.NotEmpty(t, r.acked(t, live.ID), "some answered 到")
			r.standDown(t, live.ID)
			st := r.status(t, live.ID)
			if rules == 12 {
				assert.Empty(t, st.EndNotice)
				r.waitSimIdle(t, 10*time.Second)
				assert.Empty(t, liveEnds(r.sim), "under rules 12 nobody is told")
				return
			}
			require.NotEmpty(t, st.EndNotice, "the people it reached are told it ended")
			end := r.waitSettled(t, st.EndNotice, 30*time.Second)
			assert.True(t, end.EndsCallUp)
			assert.False(t, end.EndsDrill)
			assert.Equal(t, live.ID, end.Retracts)
			assert.Equal(t, notify.PurposeLive, end.Purpose)
			r.waitSimIdle(t, 10*time.Second)
			got := map[string]int{}
			var en int
			for _, m := range liveEnds(r.sim) {
				got[m.To]++
				assert.Equal(t, liveAcct.SID, m.AccountSID, "on the LIVE account: %q", m.Body)
				assert.Empty(t, plans.ReasonDrillWords(m.Body), "a LIVE text never reads as a drill: %q", m.Body)
				assert.False(t, strings.HasPrefix(m.Body, plans.ExerciseMark), m.Body)
				// Its words fit the answer (TestALiveEndSaysWhatFitsEachAnswer):
				// here 到 or none.
				if strings.Contains(m.Body, "应急响应已结束") {
					assert.Regexp(t, `^【示例市应急】关于\d+月\d+日\d\d:\d\d「全员动员演示预案Ⅳ级响应（示例市）」的通知：(`+notify.LiveEndText+`|`+notify.LiveEndUnansweredText+`)$`, m.Body)
				} else {
					en++
					assert.Regexp(t, `^【示例市应急】The call-up "Call-up level IV, Example City" of \w+ \d+ \d\d:\d\d (`+notify.LiveEndTextEN+`|`+notify.LiveEndUnansweredTextEN+`)$`, m.Body)
					_, _, segs := plans.SMSSegments(m.Body)
					assert.LessOrEqual(t, segs, 3, m.Body)
				}
			}
			recs := r.recipientsOf(t, live.ID)
			require.Len(t, recs, live.Recipients)
			for _, rc := range recs {
				require.True(t, wasReached(rc.State), "%s: %s", rc.Person, rc.State)
				assert.Equal(t, 1, got[rc.Phone], "%s (%s): one end SMS", rc.Person, rc.State)
			}
			assert.Len(t, got, len(recs), "nobody else is told")
			t.Logf("%d told the call-up ended, %d in English", len(got), en)
		})
	}
	t.Run("replaced by another call-up", func(t *testing.T) {
		r := newCallRig(t, rigOptions{nodes: 1, people: 20})
		live := r.activate(t, "live")
		r.waitSettled(t, live.ID, 30*time.Second)
		r.waitSimIdle(t, 10*time.Second)
		n := r.c.WaitLeader(15 * time.Second).Node
		a, err := notify.NewService(n, n, senders).StandDownWith(testCtx(t), "commander", live.ID, notify.StandDownRequest{Reason: "由新的启动取代", NoNotice: true})
		require.NoError(t, err)
		assert.Equal(t, notify.StatusStoodDown, a.Status)
		assert.Empty(t, a.EndNotice, "nobody is told")
		r.waitSimIdle(t, 10*time.Second)
		assert.Empty(t, liveEnds(r.sim))
	})
	t.Run("retracted while its end goes out", func(t *testing.T) {
		r := newCallRig(t, rigOptions{nodes: 1, people: 30, perSecond: 10})
		live := r.activate(t, "live")
		r.waitSettled(t, live.ID, 30*time.Second)
		r.standDown(t, live.ID)
		end := r.status(t, live.ID).EndNotice
		require.NotEmpty(t, end)
		n := r.c.WaitLeader(15 * time.Second).Node
		svc := notify.NewService(n, n, senders)
		res, err := svc.Retract(testCtx(t), "commander", live.ID, notify.RetractRequest{Message: "前一条信息为误发，请忽略。"})
		require.NoError(t, err)
		assert.Equal(t, notify.StatusStoodDown, r.status(t, end).Status, "the correction tells them: the end stops")
		r.waitSettled(t, res.Correction.ID, 30*time.Second)
		r.waitSimIdle(t, 10*time.Second)
		assert.Less(t, len(liveEnds(r.sim)), live.Recipients, "those the end had not reached get only the correction")
	})
}

// liveEnds are the SMS the simulator took from muster that tell of a LIVE
// call-up's end.
func liveEnds(sim *twiliosim.Server) []twiliosim.Message {
	var out []twiliosim.Message
	for _, m := range sim.Messages("") {
		if m.Direction == "outbound-api" && slices.ContainsFunc([]string{notify.LiveEndText, notify.LiveEndTextEN, notify.LiveEndDeclinedText, notify.LiveEndDeclinedTextEN,
			notify.LiveEndUnansweredText, notify.LiveEndUnansweredTextEN}, func(w string) bool { return strings.Contains(m.Body, w) }) {
			out = append(out, m)
		}
	}
	return out
}
