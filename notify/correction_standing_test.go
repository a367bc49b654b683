package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/notify"
	"muster/plans"
)

// A wrong call-up over the city, then the right one over a district: the
// retraction of the wrong one is previewed first (nothing committed), and
// the preview says how many of the people its correction reaches the
// right call-up called too, which stays in force. The correction's text to
// those people, and only to them, says that the right call-up stands, so
// that nobody stands down from it by mistake.
func TestCorrectionSaysTheCallUpInForceStands(t *testing.T) {
	r := newCallRig(t, rigOptions{nodes: 1, people: 400})
	wrong := r.activateIn(t, "exercise", city)
	r.waitSettled(t, wrong.ID, 60*time.Second)
	n := r.c.WaitLeader(15 * time.Second).Node
	svc := notify.NewService(n, n, senders)
	// The wrong one still drills the district's people: the right one
	// drills them again on purpose (repeat).
	right, err := svc.Activate(testCtx(t), "commander", notify.ActivationRequest{Plan: "everyone", Regions: []plans.RegionCode{district}, Level: "IV",
		Purpose: "exercise", Reason: "通讯检查", Repeat: true})
	require.NoError(t, err)
	r.waitSettled(t, right.ID, 60*time.Second)
	const words = "前一条启动通知系误发，请忽略。"

	// Who the correction reaches and who of them the right call-up calls,
	// worked out from the recipient lists.
	byPhone := map[string]plans.PersonID{}
	reached := map[plans.PersonID]bool{}
	lang := map[plans.PersonID]plans.Language{}
	for _, rc := range r.recipientsOf(t, wrong.ID) {
		byPhone[rc.Phone], lang[rc.Person] = rc.Person, rc.Language
		switch rc.State {
		case notify.StateSent, notify.StateDelivered, notify.StateAcked, notify.StateDeclined, notify.StateEscalated, notify.StateExpired:
			reached[rc.Person] = true
		}
	}
	inRight := map[plans.PersonID]bool{}
	overlap := 0
	for _, rc := range r.recipientsOf(t, right.ID) {
		inRight[rc.Person] = true
		if reached[rc.Person] {
			overlap++
		}
	}
	require.Positive(t, overlap)
	require.Less(t, overlap, len(reached), "some of the people reached are not the right call-up's")

	cst := time.FixedZone("CST", 8*60*60)
	at := func(a notify.Activation) string {
		if a.StartedAt.IsZero() {
			return a.CreatedAt.In(cst).Format("1月2日15:04")
		}
		return a.StartedAt.In(cst).Format("1月2日15:04")
	}
	base := wrong.Sender + "【更正】关于" + at(wrong) + "「" + wrong.PlanTitle + "Ⅳ级响应（" + wrong.RegionNames + "）」的通知：" + words
	note := at(right) + "「" + right.PlanTitle + "Ⅳ级响应（" + right.RegionNames + "）」的通知仍然有效。"
	const noReply = "本短信无需回复。" // every correction ends so: it takes no answer

	p, err := svc.RetractPreview(testCtx(t), wrong.ID, notify.RetractRequest{Message: words})
	require.NoError(t, err)
	assert.Equal(t, wrong.ID, p.Activation.ID)
	assert.Equal(t, len(reached), p.Recipients)
	assert.Equal(t, plans.ExerciseMark+base+noReply, p.Text)
	require.Len(t, p.Standing, 1, "the right call-up stays in force")
	s := p.Standing[0]
	assert.Equal(t, right.ID, s.ID)
	assert.Equal(t, overlap, s.People)
	assert.Equal(t, right.PlanTitle, s.PlanTitle)
	assert.Equal(t, right.RegionNames, s.RegionNames)
	assert.Equal(t, plans.ExerciseMark+base+note+noReply, s.Text)
	st := r.status(t, wrong.ID)
	assert.Nil(t, st.Retraction, "a preview commits nothing")
	assert.Equal(t, notify.StatusActive, st.Status)

	res, err := svc.Retract(testCtx(t), "commander", wrong.ID, notify.RetractRequest{Message: words})
	require.NoError(t, err)
	assert.Equal(t, p.Recipients, res.Correction.Recipients, "the preview counted the people the correction goes to")
	r.waitSettled(t, res.Correction.ID, 60*time.Second)
	r.waitSimIdle(t, 30*time.Second)

	seen, told := 0, 0
	for _, m := range r.sim.Messages("") {
		if m.Direction != "outbound-api" || !(strings.Contains(m.Body, words) || strings.Contains(m.Body, notify.CorrectionTextEN)) {
			continue
		}
		seen++
		body, ok := strings.CutPrefix(m.Body, plans.ExerciseMark)
		require.True(t, ok, "a drill's correction is marked: %q", m.Body)
		body = strings.TrimPrefix(body, plans.ExerciseMarkEN) // an English speaker's
		person, ok := byPhone[m.To]
		require.True(t, ok, "the correction went to %s, whom the wrong call-up did not call", m.To)
		if lang[person] == plans.LangEN {
			// In English (rules 13): the standard English text, and the
			// note in English.
			assert.Contains(t, body, notify.CorrectionTextEN, person)
			if inRight[person] {
				told++
				assert.True(t, strings.HasSuffix(body, " still stands. No reply needed."), "to %s, whom the right call-up called too: %q", person, body)
			} else {
				assert.True(t, strings.HasSuffix(body, notify.CorrectionTextEN+" No reply needed."), "to %s, whom only the wrong call-up called: %q", person, body)
			}
			continue
		}
		if inRight[person] {
			told++
			assert.Equal(t, base+note+noReply, body, "to %s, whom the right call-up called too", person)
		} else {
			assert.Equal(t, base+noReply, body, "to %s, whom only the wrong call-up called", person)
		}
	}
	assert.Equal(t, res.Correction.Recipients, seen, "every recipient got the correction")
	assert.Equal(t, overlap, told, "the people both call-ups called are told the right one stands")
	t.Logf("correction to %d people, %d of them told: %s", seen, told, base+note)

	// A correction call reads the same words: with the note to someone
	// the right call-up called, without to someone it did not.
	in := notify.NewInbound(n, notify.InboundConfig{View: n})
	t.Cleanup(in.Close)
	var bothCalled, onlyWrong plans.PersonID
	for person := range reached {
		if lang[person] == plans.LangEN {
			continue // a drill's text to them is marked [EXERCISE] too
		}
		if inRight[person] && bothCalled == "" {
			bothCalled = person
		}
		if !inRight[person] && onlyWrong == "" {
			onlyWrong = person
		}
	}
	require.NotEmpty(t, bothCalled)
	require.NotEmpty(t, onlyWrong)
	for person, want := range map[plans.PersonID]string{bothCalled: base + note, onlyWrong: base} {
		script, err := in.VoiceScript(testCtx(t), notify.EscalationAttemptID(res.Correction.ID, person, notify.CorrectionCallStep, 1))
		require.NoError(t, err)
		assert.True(t, script.Notice)
		assert.Equal(t, plans.ExerciseMark+want, script.Text, "the call to %s: the SMS's words, without its 本短信无需回复", person)
	}

	// A preview of what cannot be retracted is refused as the retraction is.
	_, err = svc.RetractPreview(testCtx(t), wrong.ID, notify.RetractRequest{Message: words})
	assert.True(t, muster.IsCode(err, muster.EConflict), "already retracted: %v", err)
	_, err = svc.RetractPreview(testCtx(t), right.ID, notify.RetractRequest{Message: " "})
	assert.True(t, muster.IsCode(err, muster.EInvalid), "no words: %v", err)
}
