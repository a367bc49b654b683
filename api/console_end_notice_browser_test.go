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
	"muster/plans"
)

// The notice that a LIVE call-up ended (its stand-down's end notice) is
// shown as such, not as a correction: an official reading 更正 A000002
// would take the call-up for one sent in error.
func TestConsoleShowsEndNoticeInBrowser(t *testing.T) {
	exe := chromium(t)
	c := newConsoleCallUps(t)
	viewer, _ := createToken(t, c.h, c.f.root, "指挥大屏", access.Viewer)
	live, end := standDownWithEndNotice(t, c, "雨势减弱，解除四级响应")

	srv := httptest.NewServer(c.h)
	t.Cleanup(srv.Close)
	p := newBrowserPage(t, exe) // after the server: the browser closes first
	row := `#activation-rows tr[data-id="` + string(end.ID) + `"]`
	p.do("open the list", 20*time.Second,
		append(logInAt(srv.URL+"/#/activations", viewer), chromedp.WaitReady(chromedp.CSS(row)))...,
	)
	status := p.text(row + " td:nth-child(6)")
	assert.Regexp(t, `^结束通知（`+string(live.ID)+` 已解除）`, status)
	assert.NotContains(t, status, "更正")

	p.do("open the end notice's board", 20*time.Second,
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/board/`+string(end.ID)+`'`),
		chromedp.WaitReady(chromedp.CSS(`#totals [data-key="answers"]`)),
		chromedp.WaitReady(chromedp.CSS(`#correction-message`)),
	)
	sub := p.text("#board-sub")
	assert.Contains(t, sub, "结束通知（"+string(live.ID)+" 已解除）")
	assert.Contains(t, sub, "通知内容："+end.Message)
	assert.NotContains(t, sub, "更正")
	assert.Equal(t, "结束通知，不接收回复", p.text(`#totals [data-key="answers"] .sub`))
	assert.Empty(t, p.scriptErrors(), "the console ran without script errors or policy violations")
}

// standDownWithEndNotice starts a LIVE level IV call-up over 990104,
// which reaches someone (they answer 到), stands it down for reason, and
// returns it and its end notice.
func standDownWithEndNotice(t *testing.T, c *consoleCallUps, reason string) (live, end notify.Activation) {
	t.Helper()
	live = c.activate(t, "990104", "IV", "内涝")
	require.Equal(t, notify.StatusActive, live.Status)
	liveReply(t, c, live.ID, "1") // someone it reached: they are told it ended
	res := do(t, c.h, request{method: "POST", path: "/api/v1/activations/" + string(live.ID) + "/stand-down", token: c.commander,
		body: jsonBody(map[string]any{"reason": reason})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	ended := c.status(t, string(live.ID))
	require.NotEmpty(t, ended.EndNotice)
	end = c.status(t, string(ended.EndNotice))
	require.True(t, end.EndsCallUp)
	require.Equal(t, live.ID, end.Retracts)
	return live, end
}

// liveReply sends one pending recipient's SMS answer to LIVE call-up id
// through the real inbound path, on the LIVE account, as the provider's
// webhook would.
func liveReply(t *testing.T, c *consoleCallUps, id plans.ActivationID, body string) notify.Recipient {
	t.Helper()
	res := do(t, c.h, request{method: "GET", path: "/api/v1/activations/" + string(id) + "/recipients?limit=1&state=pending", token: c.f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var l plans.List[notify.Recipient]
	res.decode(t, &l)
	require.NotEmpty(t, l.Items)
	in := notify.NewInbound(c.f.c.Leader().Node, notify.InboundConfig{Exercise: []string{testSenders.Exercise.Account}})
	defer in.Close()
	out, err := in.Submit(ctx(t), notify.InboundItem{Kind: notify.InboundReply, SID: "SM" + string(l.Items[0].Person) + body,
		From: l.Items[0].Phone, Body: body, Account: testSenders.Live.Account})
	require.NoError(t, err)
	require.Equal(t, notify.InboundApplied, out.Outcome)
	return l.Items[0]
}
