package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
	"muster/notify/twiliosim"
	"muster/plans"
)

// The end of a LIVE call-up tells each person what fits their answer to
// it: whoever answered 到 may leave their post as their unit directs;
// whoever declined never came, and is only told it ended (before, they
// too were told they might leave their post); whoever never answered need
// not come, and may leave if they came without answering. In Chinese and
// in English, none of it reading as a drill (finding N7).
func TestALiveEndSaysWhatFitsEachAnswer(t *testing.T) {
	r := newCallRig(t, rigOptions{nodes: 1, people: 40, sim: twiliosim.Config{Replies: []twiliosim.ReplyRule{
		{Share: 0.3, Body: "1", Within: 30 * time.Millisecond},
		{Share: 0.25, Body: "2 在外地", Within: 30 * time.Millisecond},
	}}})
	live := r.activate(t, "live")
	r.waitSettled(t, live.ID, 30*time.Second)
	r.waitSimIdle(t, 10*time.Second)
	r.standDown(t, live.ID)
	end := r.status(t, live.ID).EndNotice
	require.NotEmpty(t, end)
	r.waitSettled(t, end, 30*time.Second)
	r.waitSimIdle(t, 10*time.Second)

	words := map[notify.State][2]string{
		notify.StateAcked:    {notify.LiveEndText, notify.LiveEndTextEN},
		notify.StateDeclined: {notify.LiveEndDeclinedText, notify.LiveEndDeclinedTextEN},
		"":                   {notify.LiveEndUnansweredText, notify.LiveEndUnansweredTextEN},
	}
	body := map[string]string{}
	for _, m := range r.sim.Messages("") {
		if m.Direction == "outbound-api" && m.AccountSID == liveAcct.SID && (strings.Contains(m.Body, "应急响应已结束") || strings.Contains(m.Body, " has ended")) {
			assert.Empty(t, body[m.To], "one end SMS to %s", m.To)
			body[m.To] = m.Body
		}
	}
	told := map[notify.State]map[plans.Language]int{}
	for _, rc := range r.recipientsOf(t, live.ID) {
		b, ok := body[rc.Phone]
		require.True(t, ok, "%s (%s) is told", rc.Person, rc.State)
		answer := rc.State
		if answer != notify.StateAcked && answer != notify.StateDeclined {
			answer = ""
		}
		w := words[answer][0]
		if rc.Language == plans.LangEN {
			w = words[answer][1]
		}
		assert.True(t, strings.HasSuffix(b, w), "%s (%s, %s): %q", rc.Person, rc.State, rc.Language, b)
		assert.Empty(t, plans.ReasonDrillWords(b), b)
		if answer == notify.StateDeclined {
			assert.NotContains(t, b, "离岗", "one who declined has no post to leave: %q", b)
			assert.NotContains(t, b, "leave", b)
		}
		if told[answer] == nil {
			told[answer] = map[plans.Language]int{}
		}
		told[answer][rc.Language]++
	}
	for _, answer := range []notify.State{notify.StateAcked, notify.StateDeclined, ""} {
		require.Positive(t, told[answer][plans.LangZH]+told[answer][plans.LangEN], "someone of answer %q", answer)
	}
	t.Logf("told: %v", told)
}
