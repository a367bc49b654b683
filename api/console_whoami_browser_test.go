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

// A viewer's token is not offered what the server would refuse it (the
// console asks whoami): a waiting request's board shows it no 审批
// buttons, a call-up in force no 指挥操作, and one line says it may only
// look. The commander, logged in after it in the same tab, is offered both.
// A node too old to say what a token may do offers the viewer the panels,
// as before, and its refusal tells them.
func TestConsoleOffersAViewerNoDecisionsInBrowser(t *testing.T) {
	exe := chromium(t)
	c := newConsoleCallUps(t)
	viewer, _ := createToken(t, c.h, c.f.root, "指挥大屏", access.Viewer)
	pending := c.activate(t, "990104", "I", "特大暴雨，水库超汛限")
	require.Equal(t, notify.StatusPendingApproval, pending.Status)
	active := c.activate(t, "990106", "IV", "暴雨黄色预警")
	require.Equal(t, notify.StatusActive, active.Status)

	srv := httptest.NewServer(c.h)
	t.Cleanup(srv.Close)
	// older is a node from before whoami: it does not know the route.
	older := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/whoami" {
			http.NotFound(w, r)
			return
		}
		c.h.ServeHTTP(w, r)
	}))
	t.Cleanup(older.Close)
	p := newBrowserPage(t, exe) // after the server: the browser closes first
	board := func(a notify.Activation) string { return "#/board/" + string(a.ID) }
	open := func(a notify.Activation) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](`location.hash = '` + board(a) + `'`)
	}
	// controls counts the buttons and fields of the two panels on the page.
	controls := func() int {
		return browserRun(p, chromedp.Evaluate[int](`document.querySelectorAll(`+
			`'#decide-preview, #decide-approve, #decide-reason, #decide-reject, #standdown-reason, #standdown, #standdown-confirm, #retract-message, #retract-preview, #retract-send').length`))
	}
	present := func(selector string) bool {
		return browserRun(p, chromedp.Evaluate[bool](`document.querySelector('`+selector+`') !== null`))
	}

	p.do("log in as the viewer and open the waiting request", 20*time.Second,
		append(logInAt(srv.URL+"/"+board(pending), viewer),
			chromedp.WaitReady(chromedp.CSS(`#approval[data-status="pending_approval"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#decide-readonly`)))...,
	)
	assert.Equal(t, "该令牌只能查看，不能审批或指挥操作。", p.text("#decide-readonly"))
	assert.Zero(t, controls(), "no 审批 buttons for a viewer")
	assert.False(t, present("#decide"), "no 审批 panel")

	p.do("open the call-up in force", 20*time.Second,
		open(active),
		chromedp.WaitVisible(chromedp.CSS(`#command-readonly`)),
	)
	assert.Equal(t, "该令牌只能查看，不能审批或指挥操作。", p.text("#command-readonly"))
	assert.Zero(t, controls(), "no 指挥操作 buttons for a viewer")
	assert.False(t, present("#command"), "no 指挥操作 panel")

	p.do("log out, and in as the commander on the same board", 20*time.Second,
		append([]chromedp.Action[chromedp.Void]{chromedp.Click(chromedp.CSS("#logout"))},
			append(logInAt(srv.URL+"/"+board(active), c.commander), chromedp.WaitVisible(chromedp.CSS(`#standdown`)))...)...,
	)
	assert.True(t, present("#retract-preview"), "the commander may retract")
	assert.False(t, present("#command-readonly"), "nothing said of what the commander may not do")
	// The commander requested it: the panel tells them another person
	// must decide, and offers them nothing to decide with.
	p.do("open the waiting request", 20*time.Second,
		open(pending),
		chromedp.WaitVisible(chromedp.CSS(`#decide-own`)),
	)
	assert.True(t, present("#decide-preview"), "the commander's role may approve")
	assert.True(t, browserRun(p, chromedp.Evaluate[bool](`document.getElementById('decide-controls').hidden`)), "not their own request")
	assert.False(t, present("#decide-readonly"), "nothing said of what the commander may not do")

	p.do("log in as the viewer on a node from before whoami", 20*time.Second,
		append(logInAt(older.URL+"/"+board(pending), viewer), chromedp.WaitVisible(chromedp.CSS(`#decide-preview`)))...,
	)
	assert.False(t, present("#decide-readonly"), "no line without an answer from whoami")
	assert.Empty(t, p.scriptErrors(), "the console ran without script errors or policy violations")
}
