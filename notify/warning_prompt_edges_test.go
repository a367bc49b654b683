package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/access"
	"muster/notify"
	"muster/plans"
)

// Phones of the people who hold a commander token and an approver token.
const (
	chenPhone         = "+8613900000024" // 陈五's commander token
	chenApproverPhone = "+8613900000025" // 陈五's approver token
)

// A person who holds a commander token and an approver token is called on
// once, as a commander (叫应): the escalation to the superiors (叫应升级)
// texts the other approvers, and lists them as skipped, already called on
// as a commander, whether their approver token has the same phone (周一)
// or another (陈五, told apart by their name).
func TestACommanderWhoIsAlsoAnApproverIsNotTextedAsTheirOwnSuperior(t *testing.T) {
	r := newPromptRig(t, 1)
	createTokens(t, r.c.WaitLeader(15*time.Second).Node, append(promptTokens,
		access.NewToken{Name: "zhou-approver", Holder: "周一", Phone: commanderPhone, Role: access.Approver},
		access.NewToken{Name: "chen", Holder: "陈五", Phone: chenPhone, Role: access.Commander},
		access.NewToken{Name: "chen-approver", Holder: "陈 五", Phone: chenApproverPhone, Role: access.Approver})...)
	w := r.issue(t, district)
	r.clock.Add(promptTimeout)
	prompted := r.waitPrompted(t, w.ID)
	require.Len(t, prompted.Prompted.Texts, 2, "周一 and 陈五: %+v", prompted.Prompted.Texts)
	r.clock.Add(promptTimeout)
	got := r.waitEscalated(t, w.ID)

	assert.Len(t, r.sim.Messages(commanderPhone), 1, "周一 is texted as a commander only")
	assert.Len(t, r.sim.Messages(chenPhone), 1, "陈五 is texted as a commander only")
	assert.Empty(t, r.sim.Messages(chenApproverPhone), "nor at their approver token's phone")
	msgs := r.sim.Messages(approverPhone)
	require.Len(t, msgs, 1, "the approver who is no commander is texted")
	assert.Contains(t, msgs[0].Body, "【叫应升级】")
	assert.EqualValues(t, 3, r.sim.Stats().Accounts[liveAcct.SID].Created)

	require.NotNil(t, got.Escalated)
	assert.False(t, got.Escalated.NoPhone)
	states := map[string]plans.TextNotice{}
	for _, n := range got.Escalated.Texts {
		states[n.Phone] = n
	}
	require.Len(t, states, 3, "%+v", got.Escalated.Texts)
	assert.Equal(t, plans.NoticeSent, states[approverPhone].State)
	for _, p := range []string{commanderPhone, chenApproverPhone} {
		assert.Equal(t, plans.NoticeSkipped, states[p].State, p)
		assert.Equal(t, notify.CalledAsCommanderError, states[p].Error, p)
		assert.Zero(t, states[p].Sends, p)
	}
	assert.EqualValues(t, 1, r.escalations.n.Load())
}

// An activation retracted (sent in error) was never a response: the
// warning it answered is unanswered again. One answered in time and
// retracted past its response time calls on its commanders at once (叫应,
// once). One answered after its commanders were texted is not texted
// about again, and goes on to the superiors (叫应升级) a response timeout
// after the retraction, not at once: the commanders, who acted, have the
// time they had after the 叫应 to start the right response; the
// superior's text says what was retracted and when. An activation stood
// down did respond: the warning stays answered.
func TestAWarningWhoseAnswerIsRetractedIsUnansweredAgain(t *testing.T) {
	r := newPromptRig(t, 1)
	n := r.c.WaitLeader(15 * time.Second).Node
	createTokens(t, n, promptTokens...)
	svc := notify.NewService(n, n, senders)
	retract := func(id plans.ActivationID) {
		t.Helper()
		_, err := svc.Retract(testCtx(t), "zhou", id, notify.RetractRequest{Message: "前一条通知为误发，请忽略。"})
		require.NoError(t, err)
	}
	const (
		inTime   = plans.RegionCode("990103")
		stoodBy  = plans.RegionCode("990104")
		lateMark = plans.RegionCode("990105")
	)
	w := r.issue(t, district) // 09:00: texted at 09:10, answered at 09:15, retracted at 09:25
	x := r.issue(t, inTime)   // 09:00: answered at once, retracted at 09:25
	y := r.issue(t, stoodBy)  // 09:00: answered at once, stood down at 09:25
	v := r.issue(t, other)    // 09:00: never answered
	early, err := svc.Activate(testCtx(t), "zhou", floodIV(inTime))
	require.NoError(t, err)
	stood, err := svc.Activate(testCtx(t), "zhou", floodIV(stoodBy))
	require.NoError(t, err)

	r.clock.Add(promptTimeout) // 09:10
	r.waitPrompted(t, w.ID)
	r.waitPrompted(t, v.ID)
	require.Len(t, r.sim.Messages(commanderPhone), 2)
	r.clock.Add(5 * time.Minute) // 09:15
	wrong, err := svc.Activate(testCtx(t), "zhou", floodIV(district))
	require.NoError(t, err)
	answered := r.warning(t, w.ID)
	require.True(t, answered.Answered())
	u := r.issue(t, lateMark) // 09:15: texted at 09:25, which tells the prompter has looked

	r.clock.Add(10 * time.Minute) // 09:25
	r.waitEscalated(t, v.ID)
	require.Nil(t, r.warning(t, w.ID).Escalated, "answered at 09:15")
	retract(wrong.ID)
	retract(early.ID)
	_, err = svc.StandDown(testCtx(t), "zhou", stood.ID, "解除")
	require.NoError(t, err)
	r.waitPrompted(t, u.ID)

	// x, answered in time, is unanswered again: its commander is texted now.
	gotX := r.waitPrompted(t, x.ID)
	assert.True(t, gotX.Prompt)
	assert.Equal(t, r.clock.Now(), gotX.Prompted.At)
	require.Len(t, gotX.Prompted.Texts, 1)
	assert.Equal(t, plans.NoticeSent, gotX.Prompted.Texts[0].State)
	// w is unanswered again, and its commander was texted already: not
	// again, and not yet on to the approver.
	gotW := r.warning(t, w.ID)
	assert.True(t, gotW.Prompt)
	assert.Nil(t, gotW.Escalated, "the commanders have a response timeout after the retraction")
	assert.Equal(t, r.clock.Now().Add(promptTimeout), gotW.EscalateAt())
	assert.Equal(t, gotW.EscalateAt(), gotW.EscalatesAt, "as a read says it (escalates_at: the console's time)")
	assert.True(t, gotW.EscalatesAt.After(gotW.Prompted.EscalateBy), "later than escalate_by")
	assert.Equal(t, 1, gotW.Prompted.Texts[0].Sends)
	// y, whose response stood down, stays answered.
	gotY := r.warning(t, y.ID)
	assert.True(t, gotY.Answered())
	assert.False(t, gotY.Prompt)
	assert.Nil(t, gotY.Prompted)
	about := func(phone string, id plans.WarningID) int {
		c := 0
		for _, m := range r.sim.Messages(phone) {
			if strings.Contains(m.Body, string(id)+"（") {
				c++
			}
		}
		return c
	}
	for id, want := range map[plans.WarningID]int{w.ID: 1, v.ID: 1, u.ID: 1, x.ID: 1, y.ID: 0} {
		assert.Equal(t, want, about(commanderPhone, id), "the commander's texts about %s", id)
	}

	r.clock.Add(promptTimeout) // 09:35
	gotW = r.waitEscalated(t, w.ID)
	assert.Equal(t, r.clock.Now(), gotW.Escalated.At)
	assert.True(t, gotW.EscalatesAt.IsZero(), "escalated: nothing more to come")
	assert.Equal(t, 1, about(commanderPhone, w.ID), "the commander is not texted again")
	var esc []string
	for _, m := range r.sim.Messages(approverPhone) {
		if strings.Contains(m.Body, string(w.ID)+"（") {
			esc = append(esc, m.Body)
		}
	}
	require.Len(t, esc, 1)
	assert.Contains(t, esc[0], "09:10已短信叫应指挥长周一，09:25撤回误发的"+string(wrong.ID)+"，至09:35仍未启动响应。")
}

// Phones given to people after a warning listed them.
const (
	fengPhone  = "+8613900000026" // 冯四, a commander with no phone at first
	qianPhone2 = "+8613900000027" // 钱八, an approver made after the escalation
	suPhone    = "+8613900000028" // 苏九, a commander made after the escalation
)

// A commander given a phone (a token with one) after the warning listed
// its commanders, while it is still unanswered and not escalated, is
// texted then, once, as the others were, and recorded with them: one
// listed when no commander had a phone (no_phone) too. Once the warning
// went on to the superiors, a commander given a phone is not texted; an
// approver given one then gets the superiors' text.
func TestACommanderGivenAPhoneAfterTheWarningListedThemIsTexted(t *testing.T) {
	r := newPromptRig(t, 1)
	n := r.c.WaitLeader(15 * time.Second).Node
	createTokens(t, n, promptTokens[1:]...) // 冯四 (no phone), 吴二, 郑三
	w := r.issue(t, district)
	r.clock.Add(promptTimeout) // 09:10
	got := r.waitPrompted(t, w.ID)
	require.True(t, got.Prompted.NoPhone)
	require.Empty(t, got.Prompted.Texts)
	listed := got.Prompted.At

	waitText := func(phone string, want int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for len(r.sim.Messages(phone)) < want {
			require.True(t, time.Now().Before(deadline), "no text to %s", phone)
			time.Sleep(20 * time.Millisecond)
		}
	}
	r.clock.Add(2 * time.Minute)        // 09:12
	createTokens(t, n, promptTokens[0]) // 周一, with a phone
	waitText(commanderPhone, 1)
	createTokens(t, n, access.NewToken{Name: "feng-phone", Holder: "冯四", Phone: fengPhone, Role: access.Commander})
	waitText(fengPhone, 1)
	got = r.waitPrompted(t, w.ID)
	assert.False(t, got.Prompted.NoPhone)
	assert.Equal(t, listed, got.Prompted.At, "listed once")
	assert.Equal(t, listed.Add(promptTimeout), got.Prompted.EscalateBy)
	require.Len(t, got.Prompted.Texts, 2, "%+v", got.Prompted.Texts)
	for i, holder := range []string{"周一", "冯四"} {
		x := got.Prompted.Texts[i]
		assert.Equal(t, holder, x.Holder)
		assert.Equal(t, plans.NoticeSent, x.State)
		assert.Equal(t, notify.PromptAttemptID(w.ID, i, 1), x.Attempt)
		assert.Equal(t, r.clock.Now(), x.At)
	}
	assert.Contains(t, r.sim.Messages(fengPhone)[0].Body, "【叫应】暴雨红色预警"+string(w.ID))
	assert.EqualValues(t, 1, r.starts.n.Load(), "one log line as it began to prompt")

	r.clock.Add(promptTimeout) // 09:22
	got = r.waitEscalated(t, w.ID)
	require.Len(t, r.sim.Messages(approverPhone), 1)
	assert.Contains(t, r.sim.Messages(approverPhone)[0].Body, "已短信叫应指挥长周一、冯四")
	createTokens(t, n, access.NewToken{Name: "su", Holder: "苏九", Phone: suPhone, Role: access.Commander},
		access.NewToken{Name: "qian", Holder: "钱八", Phone: qianPhone2, Role: access.Approver})
	waitText(qianPhone2, 1)
	got = r.waitEscalated(t, w.ID)
	require.Len(t, got.Escalated.Texts, 2)
	assert.Equal(t, "钱八", got.Escalated.Texts[1].Holder)
	assert.Equal(t, notify.WarningEscalationAttemptID(w.ID, 1, 1), got.Escalated.Texts[1].Attempt)
	assert.Contains(t, r.sim.Messages(qianPhone2)[0].Body, "【叫应升级】")
	assert.Len(t, got.Prompted.Texts, 2, "no commander is added once it escalated")
	assert.Empty(t, r.sim.Messages(suPhone))
	for _, p := range []string{commanderPhone, fengPhone, approverPhone} {
		assert.Len(t, r.sim.Messages(p), 1, p)
	}
	assert.EqualValues(t, 4, r.sim.Stats().Accounts[liveAcct.SID].Created)
}
