package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster/clustertest"
	"muster/notify"
	"muster/notify/twiliosim"
	"muster/notify/twiml"
	"muster/plans"
)

// englishVoicePlan is voiceEscalatePlan with an English voice text that,
// like the demo plans', says the commander's reason, the regions and the
// person's name: Chinese words in an English call (the test city's regions
// and people have Chinese names only).
func englishVoicePlan() []byte {
	return []byte(strings.Replace(string(voiceEscalatePlan()), "    escalation:\n",
		`    voice_en: "This is the Example City headquarters. {{.Name}}, a level {{.Level}} response is active in {{.Region}}: {{.Reason}}. Report as {{.Roles}}. Press 1 if you are coming, 2 if you cannot, 9 to repeat."
    escalation:
`, 1))
}

// An English speaker's call says the Chinese in its script (the
// commander's reason, a region or name with no English one) in the Chinese
// voice, in Says of their own, and everything else in the English voice:
// the simulator, which refuses an English Say holding Han characters as
// Twilio's English voices cannot read them, reads every call whole. A
// drill's call says its mark to English speakers as [EXERCISE], never
// the bracketed 【演练】, after saying in English that it is a drill. Before, the whole script went to Polly.Joanna and
// the reason, the place and the name were noise.
func TestEnglishCallsSayChineseInAChineseVoice(t *testing.T) {
	for _, purpose := range []string{"LIVE", "EXERCISE"} {
		t.Run(purpose, func(t *testing.T) {
			clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
			r := newCallRig(t, rigOptions{nodes: 1, people: 200, clock: clock,
				sim: twiliosim.Config{TimeScale: 0.002, Voice: twiliosim.VoiceProfile{AnswerRate: 1, Digits: twiliosim.DigitMix{Accept: 1}}}})
			_, err := r.plans.ApplyPlan(testCtx(t), "test", "escalate.yaml", englishVoicePlan())
			require.NoError(t, err)
			n := r.c.WaitLeader(15 * time.Second).Node
			svc := notify.NewService(n, n, senders)
			a, err := svc.Activate(testCtx(t), "commander", notify.ActivationRequest{Plan: "escalate", Regions: []plans.RegionCode{city},
				Level: "IV", Purpose: purpose, Reason: "特大暴雨"})
			require.NoError(t, err)
			r.waitSettled(t, a.ID, 60*time.Second)
			r.waitSimIdle(t, 30*time.Second)
			clock.Add(5 * time.Minute)
			r.waitFired(t, a.ID, 0)
			r.waitSimIdle(t, 60*time.Second)

			language := map[string]plans.Language{}
			for _, rc := range r.recipientsOf(t, a.ID) {
				language[rc.Phone] = rc.Language
			}
			english := 0
			for _, c := range r.sim.Calls("") {
				require.NotEmpty(t, c.Said, "%s: the call was read", c.To)
				for _, s := range c.Said {
					assert.Empty(t, s.Error, "%s: %+v", c.To, s)
				}
				if language[c.To] != plans.LangEN {
					continue
				}
				english++
				var reason bool
				for _, s := range c.Said {
					if twiml.HasChinese(s.Text) {
						assert.Equal(t, "Polly.Zhiyu", s.Voice, "%s: %+v", c.To, s)
						assert.Equal(t, "cmn-CN", s.Language, "%s: %+v", c.To, s)
						reason = reason || strings.Contains(s.Text, "特大暴雨")
					} else {
						assert.Equal(t, "Polly.Joanna", s.Voice, "%s: %+v", c.To, s)
						assert.Equal(t, "en-US", s.Language, "%s: %+v", c.To, s)
					}
					assert.NotContains(t, s.Text, plans.ExerciseMark, "%s: the mark is said in English", c.To)
				}
				assert.True(t, reason, "%s heard the reason in the Chinese voice: %+v", c.To, c.Said)
				script := c.Said
				if purpose == "EXERCISE" {
					assert.Equal(t, "This is a drill, not a real emergency.", script[0].Text, "%s: a drill's call says so first", c.To)
					require.Greater(t, len(script), 1, "%s", c.To)
					script = script[1:]
					assert.True(t, strings.HasPrefix(script[0].Text, plans.ExerciseMarkEN), "%s: %q", c.To, script[0].Text)
				}
				assert.Contains(t, script[0].Text, "This is the Example City headquarters.", "%s", c.To)
			}
			require.Positive(t, english, "English speakers were called")
			assert.Zero(t, r.sim.Stats().Calls.TwiMLErrors)
		})
	}
}
