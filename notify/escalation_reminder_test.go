package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster/clustertest"
	"muster/examples"
	"muster/notify"
	"muster/notify/twiliosim"
	"muster/plans"
)

// reminderPlan is the everyone plan (ack deadline 30m) with one escalation
// step: the SMS again at T+10 to everyone still silent.
func reminderPlan() []byte {
	src := strings.Replace(string(examples.EveryonePlan), "id: everyone", "id: remind", 1)
	src += "    escalation:\n      - {after: 10m, do: sms}\n"
	return []byte(src)
}

// The sms step's message is a reminder, not a second copy of the call-up:
// after the sender it says so (【提醒】, "Reminder:" to an English speaker),
// that the person has not replied and the clock time to reply by in China
// Standard Time (the call-up started at 09:00 with 30 minutes to answer:
// 09:30), and the template's time to answer is what is left when it is
// sent (20 minutes at T+10, not 30 again). It keeps the person's answer
// link, a drill's 【演练】 first, and the plan's segment limit.
func TestEscalationSMSIsAReminder(t *testing.T) {
	for _, purpose := range []string{"LIVE", "EXERCISE"} {
		t.Run(purpose, func(t *testing.T) {
			// 01:00 UTC is 09:00 in Asia/Shanghai.
			clock := clustertest.NewClock(time.Date(2026, 7, 20, 1, 0, 0, 0, time.UTC))
			r := newCallRig(t, rigOptions{nodes: 1, people: 200, clock: clock})
			_, err := r.plans.ApplyPlan(testCtx(t), "test", "remind.yaml", reminderPlan())
			require.NoError(t, err)
			n := r.c.WaitLeader(15 * time.Second).Node
			a, err := notify.NewService(n, n, senders).Activate(testCtx(t), "commander",
				notify.ActivationRequest{Plan: "remind", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: purpose, Reason: "通讯检查"})
			require.NoError(t, err)
			require.Equal(t, clock.Now(), a.Start())
			r.waitSettled(t, a.ID, 60*time.Second)
			r.waitSimIdle(t, 30*time.Second)

			byPhone := map[string]notify.Recipient{}
			for _, rc := range r.recipientsOf(t, a.ID) {
				byPhone[rc.Phone] = rc
			}
			callUp := map[string]string{} // phone → the call-up SMS
			for _, m := range r.sim.Messages("") {
				if m.Direction == "outbound-api" {
					callUp[m.To] = m.Body
				}
			}
			require.Len(t, callUp, len(byPhone), "one call-up SMS each")

			clock.Add(10 * time.Minute)
			st := r.waitFired(t, a.ID, 0)
			require.Equal(t, map[string]int{notify.EscSent: len(byPhone)}, st.Items, "nobody answered: everyone is reminded")
			r.waitSimIdle(t, 30*time.Second)

			mark := ""
			if purpose == "EXERCISE" {
				mark = plans.ExerciseMark
			}
			reminded, english := 0, 0
			for _, m := range r.sim.Messages("") {
				if m.Direction != "outbound-api" || m.Body == callUp[m.To] {
					continue
				}
				rc, ok := byPhone[m.To]
				require.True(t, ok, "a reminder to a recipient: %s", m.To)
				reminded++
				if reminded == 1 || (rc.Language == plans.LangEN && english == 0) {
					t.Logf("call-up:  %s\nreminder: %s", callUp[m.To], m.Body)
				}
				first := callUp[m.To]
				link := linkRE.FindStringSubmatch(first)
				require.NotNil(t, link, "the call-up SMS carries the link: %q", first)
				assert.True(t, strings.HasSuffix(m.Body, link[0]), "the reminder keeps the person's link: %q", m.Body)
				assert.LessOrEqual(t, m.Segments, plans.MaxSMSSegments, m.Body)
				if rc.Language == plans.LangEN {
					english++
					if purpose == "EXERCISE" {
						mark = plans.ExerciseMark + plans.ExerciseMarkEN
					}
					assert.True(t, strings.HasPrefix(m.Body, mark+"【示例市应急】Reminder: you have not replied. Reply by 09:30. Call-up level IV"), "%q", m.Body)
					assert.Contains(t, m.Body, "Reply in 20 min: 1=yes 2=no.", "the time left, not the call-up's 30 min")
					assert.Contains(t, first, "Reply in 30 min:")
				} else {
					if purpose == "EXERCISE" {
						mark = plans.ExerciseMark
					}
					assert.True(t, strings.HasPrefix(m.Body, mark+"【示例市应急】【提醒】您尚未回复，请于09:30前回复。全员动员演示预案"), "%q", m.Body)
					assert.Contains(t, m.Body, "20分钟内回复", "the time left, not the call-up's 30 minutes")
					assert.NotContains(t, m.Body, "30分钟")
					assert.Contains(t, first, "30分钟内回复")
				}
			}
			assert.Equal(t, len(byPhone), reminded, "every silent person got a reminder that is not the call-up again")
			assert.Positive(t, english, "the roster has English speakers")
		})
	}
}

// A voice step's call to someone the call-up SMS reached and who has not
// answered says first that it reminds them of it (in the voice's
// language), and the time to answer its script names is what is left when
// the call is answered (20 minutes at T+10), not the call-up's 30 again;
// a drill's call says first that it is a drill, and its script is marked.
func TestEscalationCallIsAReminder(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 1, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 1, people: 120, clock: clock, sim: twiliosim.Config{
		TimeScale: 0.002,
		Voice:     twiliosim.VoiceProfile{AnswerRate: 1, Digits: twiliosim.DigitMix{None: 1}},
	}})
	src := strings.Replace(string(examples.EveryonePlan), "id: everyone", "id: remind-call", 1)
	src += `    voice: "{{.Name}}同志，{{.Plan}}响应已启动，请{{.AckDeadline}}内到岗。确认到岗请按1，不能到岗请按2，重听请按9。"
    voice_en: "{{.Name}}, a level {{.Level}} call-up is on. Report within {{.AckDeadline}}. Press 1 if you are coming, 2 if you cannot, 9 to repeat."
    escalation:
      - {after: 10m, do: voice}
`
	_, err := r.plans.ApplyPlan(testCtx(t), "test", "remind-call.yaml", []byte(src))
	require.NoError(t, err)
	n := r.c.WaitLeader(15 * time.Second).Node
	a, err := notify.NewService(n, n, senders).Activate(testCtx(t), "trainer",
		notify.ActivationRequest{Plan: "remind-call", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "EXERCISE", Reason: "电话叫应检查"})
	require.NoError(t, err)
	r.waitSettled(t, a.ID, 60*time.Second)
	r.waitSimIdle(t, 30*time.Second)
	recs := r.recipientsOf(t, a.ID)

	clock.Add(10 * time.Minute)
	st := r.waitFired(t, a.ID, 0)
	require.Equal(t, map[string]int{notify.EscSent: len(recs)}, st.Items, "nobody answered: everyone is called")
	r.waitSimIdle(t, 60*time.Second)

	called, english := 0, 0
	for _, rc := range recs {
		for _, c := range r.sim.Calls(rc.Phone) {
			var said []string
			for _, s := range c.Said {
				said = append(said, s.Text)
			}
			script := strings.Join(said, " ")
			if !assert.NotEmpty(t, said, "the call to %s read its script", rc.Phone) {
				continue
			}
			called++
			if called == 1 || (rc.Language == plans.LangEN && english == 0) {
				t.Logf("%s", script)
			}
			if rc.Language == plans.LangEN {
				english++
				assert.Equal(t, "This is a drill, not a real emergency.", said[0], "a drill's call says first that it is one")
				if assert.Greater(t, len(said), 1) {
					assert.Contains(t, said[1], "EXERCISE", "then its script, marked")
				}
				assert.Contains(t, script, "Reminder: you have not answered the call-up.")
				assert.Contains(t, script, "Report within 20 min.", "the time left, not the call-up's 30 min")
				assert.NotContains(t, script, "30 min")
			} else {
				assert.True(t, strings.HasPrefix(script, "这是一次演练，不是真实事件。 "+plans.ExerciseMark+"提醒：您尚未回复召集通知。"), "%q", script)
				assert.Contains(t, script, "请20分钟内到岗", "the time left, not the call-up's 30 minutes")
				assert.NotContains(t, script, "30分钟")
			}
		}
	}
	assert.Equal(t, len(recs), called, "every silent person was called")
	assert.Positive(t, english, "the roster has English speakers")
}
