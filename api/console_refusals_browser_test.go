package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/access"
	"muster/notify"
)

// The requester of a LIVE request is not offered to approve or reject it
// (the server refuses them): one line says another person must decide.
// A refusal of the server is said in Chinese, its English message after
// it as 详情: an approver whose request was rejected meanwhile is told it
// waits for approval no more.
func TestConsoleRefusalsInChineseInBrowser(t *testing.T) {
	exe := chromium(t)
	c := newConsoleCallUps(t)
	approver, _ := createToken(t, c.h, c.f.root, "值班领导", access.Approver)
	other, _ := createToken(t, c.h, c.f.root, "副指挥长", access.Approver)
	req := c.activate(t, "990104", "I", "特大暴雨，水库超汛限")
	require.Equal(t, notify.StatusPendingApproval, req.Status)

	// Event streams refused: the board polls its figures and reads the
	// request once, so its panel stays while the request is rejected
	// behind the approver's back.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/events") {
			http.Error(w, "no streams in this test", http.StatusServiceUnavailable)
			return
		}
		c.h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p := newBrowserPage(t, exe) // after the server: the browser closes first
	p.do("open the request as its requester", 20*time.Second,
		append(logInAt(srv.URL+"/#/board/"+string(req.ID), c.commander),
			chromedp.WaitReady(chromedp.CSS(`#approval[data-status="pending_approval"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#decide-own`)))...,
	)
	assert.Equal(t, "您是 "+string(req.ID)+" 的申请人，不能审批或驳回：须由另一人在其看板审批或驳回（或 muster approve "+string(req.ID)+"）。", p.text("#decide-own"))
	assert.True(t, browserRun(p, chromedp.Evaluate[bool](`document.getElementById('decide-controls').hidden`)), "nothing to decide with")
	assert.False(t, browserRun(p, chromedp.Evaluate[bool](`!!document.getElementById('decide-preview')?.offsetParent`)))

	p.do("log in as an approver", 20*time.Second,
		chromedp.Click(chromedp.CSS("#logout")),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), approver),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#decide-preview`)),
		chromedp.Click(chromedp.CSS("#decide-preview")),
		chromedp.WaitVisible(chromedp.CSS("#decide-approve")),
	)
	assert.True(t, browserRun(p, chromedp.Evaluate[bool](`document.getElementById('decide-own').hidden`)))
	res := do(t, c.h, request{method: "POST", path: "/api/v1/activations/" + string(req.ID) + "/reject", token: other,
		body: jsonBody(map[string]any{"reason": "雨情已缓解"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	p.do("approve what was rejected meanwhile", 20*time.Second,
		chromedp.Click(chromedp.CSS("#decide-approve")),
		chromedp.WaitVisible(chromedp.CSS("#decide-msg.error")),
	)
	assert.Regexp(t, `^与当前状态冲突：`+string(req.ID)+` 已不在等待审批（现为已驳回），无需再审批。（详情：activation `+string(req.ID)+` is rejected`, p.text("#decide-msg"))
	assert.Empty(t, p.scriptErrors(), "the console ran without script errors or policy violations")
}
