package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
	"muster/plans"
)

// An English speaker who presses a key on a call of a retracted call-up,
// or opens its answer page, is told what their correction says (rules
// 13): the English words, never the Chinese ones read by an English voice.
func TestRetractionSaysItsEnglishWordsToEnglishSpeakers(t *testing.T) {
	const message = "暴雨召集误发，请勿前往，以后续通知为准。"
	t.Run("a key on the call", func(t *testing.T) {
		r := newVoiceRig(t)
		a, recs := r.activate(t, "990102")
		zh, en := firstIn(t, recs, plans.LangZH), firstIn(t, recs, plans.LangEN)
		res := do(t, r.main, request{method: "POST", path: "/api/v1/activations/" + string(a.ID) + "/retract", token: r.f.root,
			body: jsonBody(notify.RetractRequest{Message: message})})
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		body := r.press(t, a.ID, en, "1")
		assert.Contains(t, body, "withdrawn")
		assert.Contains(t, body, notify.CorrectionTextEN, "the standard English text: no English words were given")
		assert.NotContains(t, body, message)
		body = r.press(t, a.ID, zh, "1")
		assert.Contains(t, body, message, "a Chinese speaker hears the Chinese words")
	})
	t.Run("the answer page", func(t *testing.T) {
		r := newResponderRig(t)
		main := r.f.handler(r.f.c.Nodes[0])
		zh, en := r.recipient(t, plans.LangZH), r.recipient(t, plans.LangEN)
		const wordsEN = "The drill call-up was sent in error: disregard it."
		res := do(t, main, request{method: "POST", path: "/api/v1/activations/" + string(r.drill.ID) + "/retract", token: r.f.root,
			body: jsonBody(notify.RetractRequest{Message: "演练通知发错，请忽略。", MessageEN: wordsEN})})
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		page := func(p plans.PersonID) string {
			t.Helper()
			res := do(t, r.h, request{method: "GET", path: "/r/" + r.token(t, r.drill.ID, p)})
			require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
			return res.Body.String()
		}
		assert.Contains(t, page(en.Person), "Notice: "+wordsEN)
		assert.Contains(t, page(zh.Person), "通知：演练通知发错，请忽略。")
	})
}
