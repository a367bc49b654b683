package notify_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/notify"
	"muster/plans"
)

// correctionBodies is what the correction of a, sent to the people of a
// (by phone), said to each of them, without its purpose mark.
func correctionBodies(t *testing.T, r *callRig, since int, people map[string]notify.Recipient) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range r.sim.Messages("")[since:] {
		if m.Direction != "outbound-api" {
			continue
		}
		if _, ok := people[m.To]; !ok {
			continue
		}
		body, ok := strings.CutPrefix(m.Body, plans.ExerciseMark)
		require.True(t, ok, "a drill's correction is marked: %q", m.Body)
		out[m.To] = strings.TrimPrefix(body, plans.ExerciseMarkEN)
	}
	return out
}

// People whose language is English read their call-up in English, and
// read its correction in English too (rules 13): the official's English
// words (message_en) when given; without them, a cancellation written in
// Chinese tells them the standard English text, and a corrected call-up
// written in Chinese only is refused, saying how many English speakers it
// would reach. Under rules 12 they were sent the Chinese words.
func TestCorrectionToEnglishSpeakersIsInEnglish(t *testing.T) {
	for _, rules := range []int{muster.Rules, 12} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) { correctionToEnglish(t, rules) })
	}
}

func correctionToEnglish(t *testing.T, rules int) {
	r := newCallRig(t, rigOptions{nodes: 1, people: 120, config: func(_ int, c *cluster.Config) { c.Rules = rules }})
	n := r.c.WaitLeader(15 * time.Second).Node
	svc := notify.NewService(n, n, senders)
	const zh = "前一条启动通知系误发，请忽略。"

	// retract runs a call-up to its end, retracts it with req, and
	// returns what its correction said to each person (by phone), with
	// who they are.
	retract := func(req notify.RetractRequest) (map[string]string, map[string]notify.Recipient, notify.Activation) {
		t.Helper()
		a := r.activate(t, "exercise")
		r.waitSettled(t, a.ID, 60*time.Second)
		r.waitSimIdle(t, 30*time.Second)
		since := len(r.sim.Messages(""))
		people := map[string]notify.Recipient{}
		for _, rc := range r.recipientsOf(t, a.ID) {
			people[rc.Phone] = rc
		}
		res, err := svc.Retract(testCtx(t), "trainer", a.ID, req)
		require.NoError(t, err)
		r.waitSettled(t, res.Correction.ID, 60*time.Second)
		r.waitSimIdle(t, 30*time.Second)
		got := correctionBodies(t, r, since, people)
		assert.Len(t, got, res.Correction.Recipients, "every recipient got the correction")
		return got, people, res.Retracted
	}
	english := func(people map[string]notify.Recipient) int {
		n := 0
		for _, rc := range people {
			if rc.Language == plans.LangEN {
				n++
			}
		}
		return n
	}

	// A cancellation in Chinese only.
	a := r.activate(t, "exercise")
	r.waitSettled(t, a.ID, 60*time.Second)
	r.waitSimIdle(t, 30*time.Second)
	p, err := svc.RetractPreview(testCtx(t), a.ID, notify.RetractRequest{Message: zh})
	require.NoError(t, err)
	require.Positive(t, p.English, "the call-up reached English speakers")
	assert.Contains(t, p.TextEN, notify.CorrectionTextEN, "the preview shows what they read")
	_, err = svc.RetractPreview(testCtx(t), a.ID, notify.RetractRequest{Message: zh, Correct: true})
	require.True(t, muster.IsCode(err, muster.EInvalid), "a corrected call-up in Chinese only is refused: %v", err)
	assert.Contains(t, err.Error(), fmt.Sprintf("would reach %d people whose language is English", p.English))
	_, err = svc.Retract(testCtx(t), "trainer", a.ID, notify.RetractRequest{Message: zh, Correct: true})
	require.True(t, muster.IsCode(err, muster.EInvalid), "and so is its retraction: %v", err)
	assert.Nil(t, r.status(t, a.ID).Retraction, "nothing was retracted")
	res, err := svc.Retract(testCtx(t), "trainer", a.ID, notify.RetractRequest{Message: zh})
	require.NoError(t, err)
	r.waitSettled(t, res.Correction.ID, 60*time.Second)
	r.waitSimIdle(t, 30*time.Second)

	got, people, ret := retract(notify.RetractRequest{Message: zh})
	require.Positive(t, english(people))
	for phone, body := range got {
		rc := people[phone]
		switch {
		case rc.Language == plans.LangEN && rules >= 13:
			assert.True(t, strings.HasPrefix(body, ret.Sender+`Correction to the call-up "`), "%s: %q", rc.Person, body)
			assert.True(t, strings.HasSuffix(body, ": "+notify.CorrectionTextEN+" No reply needed."), "%s (English) read %q", rc.Person, body)
			assert.NotContains(t, body, zh, rc.Person)
		default:
			assert.True(t, strings.HasPrefix(body, ret.Sender+"【更正】关于"), "%s: %q", rc.Person, body)
			assert.True(t, strings.HasSuffix(body, zh+"本短信无需回复。"), "%s (%s) read %q", rc.Person, rc.Language, body)
		}
	}
	if rules >= 13 {
		assert.Equal(t, notify.CorrectionTextEN, ret.Retraction.MessageEN, "the retraction keeps what English speakers read")
	} else {
		assert.Empty(t, ret.Retraction.MessageEN)
	}

	// A corrected call-up with its English words.
	const zhFix = "集合地点改为东湖区应急中心。"
	const enFix = "Report to the Donghu District emergency centre instead."
	got, people, ret = retract(notify.RetractRequest{Message: zhFix, MessageEN: enFix, Correct: true})
	for phone, body := range got {
		rc := people[phone]
		if rc.Language == plans.LangEN && rules >= 13 {
			assert.True(t, strings.HasSuffix(body, ": "+enFix+" No reply needed."), "%s (English) read %q", rc.Person, body)
		} else {
			assert.True(t, strings.HasSuffix(body, zhFix+"本短信无需回复。"), "%s (%s) read %q", rc.Person, rc.Language, body)
		}
	}
	if rules >= 13 {
		assert.Equal(t, enFix, ret.Retraction.MessageEN)
	}
}

// The English words are checked as the message is: a LIVE correction
// never speaks of drills, and they are at most MaxRetractionChars long.
func TestCorrectionEnglishWordsAreChecked(t *testing.T) {
	l := &plans.Level{Code: "IV", SMS: "{{.Name}}同志，请到岗。"}
	a := notify.Activation{Purpose: notify.PurposeLive, Retracts: "A000002", Sender: "【示例市应急】", PlanTitle: "防汛预案", PlanTitleEN: "Flood plan",
		Level: "IV", Regions: []plans.RegionCode{"990103"}, RegionNames: "西林区", RegionNamesEN: "Xilin District",
		Message: "误发，请忽略。", MessageEN: "Sent in error: disregard it."}
	en := notify.Recipient{Person: "P2", Name: "Li", Language: plans.LangEN}
	zh := notify.Recipient{Person: "P1", Name: "张三", Language: plans.LangZH}
	got, err := notify.RenderSMS(a, l, en, "")
	require.NoError(t, err)
	assert.Equal(t, `【示例市应急】Correction to the call-up "Flood plan" level IV (Xilin District): Sent in error: disregard it. No reply needed.`, got)
	got, err = notify.RenderSMS(a, l, zh, "")
	require.NoError(t, err)
	assert.Equal(t, "【示例市应急】【更正】关于「防汛预案Ⅳ级响应（西林区）」的通知：误发，请忽略。本短信无需回复。", got)

	e := newEnv(t, 1, 20)
	svc := e.svc
	act, err := svc.Activate(testCtx(t), "commander", floodIV("990102"))
	require.NoError(t, err)
	_, err = svc.RetractPreview(testCtx(t), act.ID, notify.RetractRequest{Message: "误发，请忽略。", MessageEN: "The drill message was wrong."})
	assert.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
	assert.ErrorContains(t, err, "message_en")
	_, err = svc.Retract(testCtx(t), "commander", act.ID, notify.RetractRequest{Message: "误发，请忽略。", MessageEN: strings.Repeat("x", notify.MaxRetractionChars+1)})
	assert.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
	assert.ErrorContains(t, err, "message_en")
}
