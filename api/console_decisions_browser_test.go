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

	"muster/access"
	"muster/notify"
)

// A call-up's board says what was decided on it: who asked for it and
// why, who approved it, who stood it down, when and why, and the end
// notice sent, linked; a retracted one who retracted it, with what
// message, and its correction, linked; the end notice the call-up it
// follows. The stand-down button says whom the end notice goes to.
func TestConsoleBoardShowsDecisionsInBrowser(t *testing.T) {
	exe := chromium(t)
	c := newConsoleCallUps(t)
	approver, _ := createToken(t, c.h, c.f.root, "值班领导", access.Approver)
	big := c.activate(t, "990104", "I", "特大暴雨，水库超汛限")
	require.Equal(t, notify.StatusPendingApproval, big.Status)
	path := "/api/v1/activations/" + string(big.ID)
	res := do(t, c.h, request{method: "POST", path: path + "/approve", token: approver, body: jsonBody(map[string]any{"dry_run": true})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var preview notify.Preview
	res.decode(t, &preview)
	res = do(t, c.h, request{method: "POST", path: path + "/approve", token: approver, body: jsonBody(map[string]any{"recipients": preview.Total})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	require.Equal(t, notify.StatusActive, c.status(t, string(big.ID)).Status)
	liveReply(t, c, big.ID, "1") // someone it reached: an end notice tells them

	wrong := c.activate(t, "990106", "IV", "暴雨黄色预警")
	liveReply(t, c, wrong.ID, "1")
	const message = "刚才的防汛通知发错了区域，请忽略。"
	res = do(t, c.h, request{method: "POST", path: "/api/v1/activations/" + string(wrong.ID) + "/retract", token: c.commander,
		body: jsonBody(map[string]any{"message": message})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	retracted := c.status(t, string(wrong.ID))
	require.NotNil(t, retracted.Retraction)

	srv := httptest.NewServer(c.h)
	t.Cleanup(srv.Close)
	p := newBrowserPage(t, exe) // after the server: the browser closes first
	p.do("open the approved call-up as the commander", 20*time.Second,
		append(logInAt(srv.URL+"/#/board/"+string(big.ID), c.commander),
			chromedp.WaitReady(chromedp.CSS(`#decisions [data-kind="approved"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#command`)))...,
	)
	assert.Regexp(t, `^发起：指挥长，\S+ \S+；事由：特大暴雨，水库超汛限$`, p.text(`#decisions [data-kind="requested"]`))
	assert.Regexp(t, `^批准：值班领导，`, p.text(`#decisions [data-kind="approved"]`))

	p.do("stand it down", 20*time.Second,
		chromedp.SendKeys(chromedp.CSS("#standdown-reason"), "雨势减弱，解除Ⅰ级响应"),
		chromedp.Click(chromedp.CSS("#standdown")),
		chromedp.WaitVisible(chromedp.CSS("#standdown-confirm")),
		chromedp.Click(chromedp.CSS("#standdown-confirm")),
		chromedp.WaitReady(chromedp.CSS("#command-msg.done #end-notice-link")),
	)
	ended := c.status(t, string(big.ID))
	require.NotEmpty(t, ended.EndNotice)
	end := c.status(t, string(ended.EndNotice))
	require.Positive(t, end.Recipients)
	assert.Equal(t, "已解除响应。结束通知 "+string(end.ID)+" 发给 "+strconv.Itoa(end.Recipients)+" 人，告知响应已结束。", p.text("#command-msg"))
	p.waitFor("the stand-down among the decisions", `#decisions [data-kind="stood-down"]`, 10*time.Second)
	assert.Regexp(t, `^解除：指挥长，\S+ \S+；理由：雨势减弱，解除Ⅰ级响应$`, p.text(`#decisions [data-kind="stood-down"]`))
	p.waitFor("the end notice among the decisions", `#decisions [data-kind="end-notice"] a[href="#/board/`+string(end.ID)+`"]`, 10*time.Second)

	p.do("open the end notice", 20*time.Second,
		chromedp.Click(chromedp.CSS(`#decisions [data-kind="end-notice"] a`)),
		chromedp.WaitReady(chromedp.CSS(`#decisions [data-kind="follows"] a[href="#/board/`+string(big.ID)+`"]`)),
	)
	follows := p.text(`#decisions [data-kind="follows"]`)
	assert.Regexp(t, `^结束通知：`+string(big.ID)+` 已解除`, follows)
	assert.NotContains(t, follows, "end of call-up", "said in the console's language")

	p.do("open the retracted call-up", 20*time.Second,
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/board/`+string(wrong.ID)+`'`),
		chromedp.WaitReady(chromedp.CSS(`#decisions [data-kind="retracted"] a[href="#/board/`+string(retracted.Retraction.Correction)+`"]`)),
	)
	assert.Regexp(t, `^撤回：指挥长，\S+ \S+；说明：`+message+`；撤回通知 `+string(retracted.Retraction.Correction)+`，发给 \d+ 人$`,
		p.text(`#decisions [data-kind="retracted"]`))
	assert.Empty(t, p.scriptErrors(), "the console ran without script errors or policy violations")
}
