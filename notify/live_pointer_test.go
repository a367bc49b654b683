package notify_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster"
	"muster/examples"
	"muster/notify"
	"muster/plans"
)

// withEnglishSpeaker adds to r's roster one person who speaks English, in
// a grid of region, and returns their phone.
func withEnglishSpeaker(t *testing.T, r *callRig, region plans.RegionCode) string {
	t.Helper()
	regions, err := examples.Regions()
	require.NoError(t, err)
	for _, g := range examples.Grids(regions) {
		if strings.HasPrefix(string(g), string(region)) {
			roster := examples.RosterHeader + "\nE001,Alice Wang,13955559001," + string(g) + ",志愿者,,,,en\n"
			_, err := r.plans.ImportRoster(testCtx(t), "test", strings.NewReader(roster), plans.ImportOptions{})
			require.NoError(t, err)
			return "+8613955559001"
		}
	}
	require.FailNow(t, "no grid in "+string(region))
	return ""
}

// A reply on the drill's number from someone a LIVE call-up waits for is
// answered, from rules 13, with what it would get and a pointer to the
// real call-up's message on the other number, in their language, whatever
// drill it was meant for: not only when the LIVE call-up stopped that
// drill. The pointer gets past the bound on answers (3), up to 10 replies;
// it records nothing on the LIVE call-up, and once they have answered it
// the pointer is gone. Under rules 12 they were told only that the drill
// had ended, and after 3 replies nothing.
func TestADrillReplyPointsToALiveCallUpWaiting(t *testing.T) {
	for _, rules := range []int{0, 12} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			r := newCallRig(t, rigOptions{nodes: 1, people: 50, config: func(_ int, c *cluster.Config) { c.Rules = rules }})
			en := withEnglishSpeaker(t, r, district)
			drill := r.activateIn(t, "exercise", district)
			r.waitSettled(t, drill.ID, 30*time.Second)
			var zh []notify.Recipient
			for _, rc := range r.recipientsOf(t, drill.ID) {
				if rc.Language != plans.LangEN {
					zh = append(zh, rc)
				}
			}
			require.GreaterOrEqual(t, len(zh), 3)
			quiet, chatty, answers := zh[0], zh[1], zh[2]
			sid := 0
			reply := func(acct, from, body string) string {
				sid++
				a := drillAcct
				if acct == "live" {
					a = liveAcct
				}
				return r.smsReply(t, a, fmt.Sprintf("SMlive%d", sid), from, body)
			}
			for _, body := range []string{"1", "收到", "好的"} { // the drill's 3 answers
				require.Contains(t, reply("drill", chatty.Phone, body), "<Message>")
			}
			r.standDown(t, drill.ID)
			live := r.activateIn(t, "live", district)
			require.NotContains(t, live.StoppedDrills, drill.ID, "the drill had ended before")
			r.waitSettled(t, live.ID, 30*time.Second)

			ended := notify.CallUpEnded(plans.LangZH, true, notify.EndedStoodDown)
			endedEN := notify.CallUpEnded(plans.LangEN, true, notify.EndedStoodDown)
			pointer := notify.LiveCallUpWaits(plans.LangZH, true, false)
			// The LIVE call-up stopped no drill: its SMS carry no 【非演练】,
			// and the pointer does not say they do.
			assert.NotContains(t, pointer, plans.NotADrillMark(plans.LangZH))
			assert.NotContains(t, notify.LiveCallUpWaits(plans.LangEN, true, true), plans.NotADrillMark(plans.LangEN))
			toQuiet := reply("drill", quiet.Phone, "1")
			toEN := reply("drill", en, "1")
			var toChatty []string
			for range 8 { // replies 4 to 11
				toChatty = append(toChatty, reply("drill", chatty.Phone, "1"))
			}
			reply("live", answers.Phone, "1")
			toAnswered := reply("drill", answers.Phone, "1")
			t.Logf("rules %d: %s / %s / %s", rules, toQuiet, toEN, toChatty[0])

			states := map[string]notify.State{}
			for _, rc := range r.recipientsOf(t, live.ID) {
				states[rc.Phone] = rc.State
			}
			for _, phone := range []string{quiet.Phone, chatty.Phone, en} {
				assert.Equal(t, notify.StateDelivered, states[phone], "%s: the drill's number records nothing on the LIVE call-up", phone)
			}
			assert.Equal(t, notify.StateAcked, states[answers.Phone])
			assert.Contains(t, toAnswered, "<Message>"+ended+"</Message>", "they answered the LIVE call-up: nothing to point to")
			if rules == 12 {
				assert.Contains(t, toQuiet, "<Message>"+ended+"</Message>")
				assert.Contains(t, toEN, "<Message>"+endedEN+"</Message>")
				for i, body := range toChatty {
					assert.NotContains(t, body, "<Message>", "reply %d", i+4)
				}
				return
			}
			assert.Contains(t, toQuiet, "<Message>"+ended+pointer+"</Message>")
			assert.Contains(t, pointer, "不带"+plans.ExerciseMark+"的召集短信")
			assert.Contains(t, toEN, "<Message>"+endedEN+" A REAL call-up is waiting for your answer: reply to its message from the other number, the one not marked [EXERCISE]")
			for i, body := range toChatty[:7] {
				assert.Contains(t, body, "<Message>"+notify.LiveCallUpWaits(plans.LangZH, true, true)+"</Message>", "reply %d: past the bound on answers", i+4)
			}
			assert.True(t, strings.HasPrefix(notify.LiveCallUpWaits(plans.LangZH, true, true), plans.ExerciseMark+"另有真实召集"))
			assert.NotContains(t, toChatty[7], "<Message>", "reply 11: the pointer's own bound")
		})
	}
}
