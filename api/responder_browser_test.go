package api_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
	"muster/plans"
)

// The responder page in a real browser (headless chromium, found as the
// console's browser test finds it): the link opens the page, its style
// sheet applies under the page's content security policy, tapping 到 shows
// the confirmation and records the answer; a reason typed and sent with
// Enter declines (it never submits 到).
func TestResponderPageInBrowser(t *testing.T) {
	exe := chromium(t)
	r := newResponderRig(t)
	var zh []notify.Recipient
	for _, rc := range r.recs {
		if rc.Language == plans.LangZH {
			zh = append(zh, rc)
		}
	}
	require.GreaterOrEqual(t, len(zh), 2)
	srv := httptest.NewServer(r.h)
	t.Cleanup(srv.Close)
	p := newBrowserPage(t, exe) // after the server: the browser closes first

	link, err := r.key.Link(srv.URL, r.drill.ID, zh[0].Person)
	require.NoError(t, err)
	p.do("open the link", 20*time.Second, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#yes")))
	assert.Contains(t, p.text("#drill"), plans.ExerciseMark)
	assert.Equal(t, zh[0].Name, p.text("#name"))
	assert.Equal(t, "rgb(46, 125, 50)", browserRun(p, chromedp.Evaluate[string](`getComputedStyle(document.getElementById('yes')).backgroundColor`)),
		"the style sheet loaded")

	p.do("tap 到", 20*time.Second, chromedp.Click(chromedp.CSS("#yes")), chromedp.WaitVisible(chromedp.CSS("#result")))
	assert.Contains(t, p.text("#result"), "已收到：到")
	assert.Contains(t, p.text("#answer"), "您已回复：到")
	assert.Equal(t, notify.StateAcked, r.stateOf(t, zh[0].Person).State)

	link, err = r.key.Link(srv.URL, r.drill.ID, zh[1].Person)
	require.NoError(t, err)
	p.do("decline with a reason", 20*time.Second,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS("#reason")),
		chromedp.SendKeys(chromedp.CSS("#reason"), "在外地出差\r"),
		chromedp.WaitVisible(chromedp.CSS("#result")),
	)
	assert.Contains(t, p.text("#result"), "已收到：不能到")
	got := r.stateOf(t, zh[1].Person)
	assert.Equal(t, notify.StateDeclined, got.State)
	assert.Equal(t, "在外地出差", got.Attempt.Reason)
	assert.Empty(t, p.scriptErrors(), "no content security policy violation or other console error")
}
