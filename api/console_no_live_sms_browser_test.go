package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/access"
	"muster/notify"
)

// A node restarted without its LIVE SMS account refuses a LIVE call-up
// (409), and the console tells the approver of a request that waits, in
// Chinese, before and when they approve: the leader has no LIVE account,
// so approving would call nobody. Before, the approval started a call-up
// whose messages stayed pending, and the console said 已批准，开始通知。
func TestConsoleSaysTheLeaderHasNoLiveAccountInBrowser(t *testing.T) {
	exe := chromium(t)
	c := newConsoleCallUps(t)
	approver, _ := createToken(t, c.h, c.f.root, "值班领导", access.Approver)
	waiting := c.activate(t, "990104", "I", "特大暴雨，水库超汛限")
	require.Equal(t, notify.StatusPendingApproval, waiting.Status)

	c.f.noLiveSMS.Store(true)
	m := c.f.c.Nodes[0]
	c.f.c.Stop(m)
	c.f.c.Restart(m)
	c.f.c.WaitLeader(15 * time.Second)
	c.h = c.f.handler(m)
	res := do(t, c.h, request{method: "POST", path: "/api/v1/activations", token: c.commander, body: jsonBody(map[string]any{
		"plan_id": "flood-control", "regions": []string{"990106"}, "level": "IV", "purpose": "LIVE", "reason": "内涝",
	})})
	require.Equal(t, http.StatusConflict, res.Code, "%s", res.Body)
	assert.Contains(t, res.Body.String(), "no LIVE SMS account: node "+m.Node.ID()+", which leads the cluster")

	srv := httptest.NewServer(c.h)
	t.Cleanup(srv.Close)
	p := newBrowserPage(t, exe) // after the server: the browser closes first
	p.do("log in as the approver and see what is approved", 20*time.Second,
		append(logInAt(srv.URL+"/#/board/"+string(waiting.ID), approver),
			chromedp.WaitReady(chromedp.CSS(`#approval[data-status="pending_approval"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#decide-preview`)),
			chromedp.Click(chromedp.CSS("#decide-preview")),
			chromedp.WaitVisible(chromedp.CSS("#decide-total")))...,
	)
	assert.Contains(t, p.text(`#decide-warnings [data-warning="no-live-sms"]`), "将被拒绝：主节点未配置真实短信账号，批准后没有人会收到通知。")
	p.do("approve", 20*time.Second,
		chromedp.Click(chromedp.CSS("#decide-approve")),
		chromedp.WaitVisible(chromedp.CSS("#decide-msg.error")),
	)
	assert.Contains(t, p.text("#decide-msg"), "主节点 "+m.Node.ID()+" 未配置真实短信账号，真实召集发不出去，已拒绝")
	assert.Equal(t, notify.StatusPendingApproval, c.status(t, string(waiting.ID)).Status, "nothing started")
	assert.Empty(t, p.scriptErrors(), "the console ran without script errors or policy violations")
}
