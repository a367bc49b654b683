package api_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
)

// A commander stands a call-up down and retracts another from their
// boards: the stand-down only with a reason and a second click; the
// retraction previewed first (how many people, the text they get), then
// sent, and the board links the correction.
func TestConsoleStandsDownAndRetractsInBrowser(t *testing.T) {
	exe := chromium(t)
	c := newConsoleCallUps(t)
	h, commander := c.h, c.commander
	activate := func(region string) notify.Activation {
		t.Helper()
		a := c.activate(t, region, "IV", "暴雨黄色预警")
		require.Equal(t, notify.StatusActive, a.Status)
		return a
	}
	status := func(id string) notify.Activation { return c.status(t, id) }
	wrong, ended := activate("990104"), activate("990106")
	const message = "刚才的防汛通知发错了区域，请忽略。"
	res := do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(wrong.ID) + "/retract", token: commander,
		body: jsonBody(map[string]any{"message": message, "dry_run": true})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var preview notify.RetractPreview
	res.decode(t, &preview)

	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	p := newBrowserPage(t, exe) // after the server: the browser closes first
	p.do("log in as the commander and open the wrong call-up", 20*time.Second,
		append(logInAt(srv.URL+"/#/board/"+string(wrong.ID), commander), chromedp.WaitVisible(chromedp.CSS(`#command`)))...,
	)
	p.do("preview a retraction without a message", 20*time.Second,
		chromedp.Click(chromedp.CSS("#retract-preview")),
		chromedp.WaitVisible(chromedp.CSS("#command-msg.error")),
	)
	assert.Equal(t, "撤回须写明说明或更正后的通知。", p.text("#command-msg"))
	p.do("preview the retraction", 20*time.Second,
		chromedp.SendKeys(chromedp.CSS("#retract-message"), message),
		chromedp.Click(chromedp.CSS("#retract-preview")),
		chromedp.WaitVisible(chromedp.CSS("#retract-total")),
	)
	assert.Equal(t, preview.Text, p.text("#retract-text"), "the text the API's preview gives")
	total := browserRun(p, chromedp.Evaluate[string](`document.getElementById('retract-total').dataset.total`))
	assert.Equal(t, "发送撤回给 "+total+" 人", p.text("#retract-send"))
	assert.Empty(t, status(string(wrong.ID)).Retraction, "a preview retracts nothing")

	p.do("send the retraction", 20*time.Second,
		chromedp.Click(chromedp.CSS("#retract-send")),
		chromedp.WaitReady(chromedp.CSS("#correction-link")),
	)
	retracted := status(string(wrong.ID))
	require.NotNil(t, retracted.Retraction)
	assert.Equal(t, message, retracted.Retraction.Message)
	assert.Equal(t, "指挥长", retracted.Retraction.By)
	assert.Equal(t, "更正 "+string(retracted.Retraction.Correction), p.text("#correction-link"))
	n, err := strconv.Atoi(total)
	require.NoError(t, err)
	assert.Equal(t, wrong.ID, status(string(retracted.Retraction.Correction)).Retracts, "the link is the correction of this call-up")
	assert.LessOrEqual(t, n, wrong.Recipients, "the preview counts at most everyone called")
	p.waitFor("the panel gone from a retracted call-up", `#command[hidden]`, 10*time.Second)

	p.do("open the other call-up and stand it down without a reason", 20*time.Second,
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/board/`+string(ended.ID)+`'`),
		chromedp.WaitVisible(chromedp.CSS(`#command`)),
		chromedp.Click(chromedp.CSS("#standdown")),
		chromedp.WaitVisible(chromedp.CSS("#command-msg.error")),
	)
	assert.Equal(t, "解除须写明理由。", p.text("#command-msg"))
	p.do("give a reason: a second click is asked for", 20*time.Second,
		chromedp.SendKeys(chromedp.CSS("#standdown-reason"), "雨势减弱，解除四级响应"),
		chromedp.Click(chromedp.CSS("#standdown")),
		chromedp.WaitVisible(chromedp.CSS("#standdown-confirm")),
	)
	assert.Equal(t, notify.StatusActive, status(string(ended.ID)).Status, "nothing stood down before the second click")
	p.do("confirm", 20*time.Second,
		chromedp.Click(chromedp.CSS("#standdown-confirm")),
		chromedp.WaitReady(chromedp.CSS("#command-msg.done")),
	)
	assert.Equal(t, "已解除响应。", p.text("#command-msg"))
	st := status(string(ended.ID))
	assert.Equal(t, notify.StatusStoodDown, st.Status)
	assert.Equal(t, "雨势减弱，解除四级响应", st.StandDownReason)
	p.waitFor("the panel gone from a stood-down call-up", `#command[hidden]`, 10*time.Second)
	assert.Empty(t, p.scriptErrors(), "the console ran without script errors or policy violations")
}
