package api_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
)

// A board served by a node that loses its leader (the other two of three
// gone) says so over the figures, stops its clock and no longer says
// 实时更新; it said 实时更新 over frozen figures, its clock running. A
// stand-down tried then says, in words a duty officer can act on, that it
// was not carried out. When the others are back the board is live again.
func TestConsoleBoardSaysItsNodeHasNoLeaderInBrowser(t *testing.T) {
	exe := chromium(t)
	f := newFixture(t, 3)
	leader := f.c.WaitLeader(10 * time.Second)
	h := f.handler(leader)
	a := boardCallUp(t, f, h, 100, "990101")

	p := newBrowserPage(t, exe) // after the cluster: the browser closes first
	p.do("open the board on the leader", 30*time.Second,
		append(logInAt(leader.HTTPAddr+"/#/board/"+string(a.ID), f.root),
			chromedp.WaitReady(chromedp.CSS(`#live[data-live="stream"]`)),
			chromedp.WaitReady(chromedp.CSS(`#as-of[data-as-of]`)),
			chromedp.WaitReady(chromedp.CSS(`#elapsed[data-running="true"]`)))...,
	)
	assert.Equal(t, "实时更新", p.text("#live"))
	assert.False(t, browserRun(p, chromedp.Evaluate[bool](`!!document.querySelector('#cut-off:not([hidden])')`)), "no banner while the node has a leader")

	for _, m := range f.c.Nodes {
		if m != leader {
			f.c.Kill(m)
		}
	}
	p.waitFor("the board no longer says 实时更新", `#live:not([data-live="stream"])`, 20*time.Second)
	p.waitFor("the banner", `#cut-off:not([hidden])`, 5*time.Second)
	banner := p.text("#cut-off")
	assert.Regexp(t, `^本节点（`+leader.Node.ID()+`）已与集群失联 \d+ 秒，以下数字可能不是最新；请打开其他节点的控制台（同一令牌可用）。$`, banner)
	assert.Equal(t, "本节点已与集群失联，数据未更新", p.text("#live"))
	p.waitFor("the clock stopped", `#elapsed[data-running="false"]`, 5*time.Second)
	assert.Contains(t, p.text("#elapsed"), "已停止计时")
	assert.Contains(t, p.text("#stale"), "秒未更新")

	// A stand-down finds no leader: not carried out, and the page says so.
	p.do("stand the call-up down", 45*time.Second,
		chromedp.SendKeys(chromedp.CSS("#standdown-reason"), "演练结束"),
		chromedp.Click(chromedp.CSS("#standdown")),
		chromedp.WaitVisible(chromedp.CSS("#standdown-confirm")),
		chromedp.Click(chromedp.CSS("#standdown-confirm")),
		chromedp.WaitVisible(chromedp.CSS("#command-msg.error")),
	)
	msg := p.text("#command-msg")
	assert.Regexp(t, `^未执行：集群当前没有主节点（多数节点失联）。请检查各节点后重试，或打开其他节点的控制台；详情：.*no leader reachable`, msg)

	// The others back, a leader elected: the board is live again.
	for _, m := range f.c.Nodes {
		if m != leader {
			f.c.Restart(m)
		}
	}
	back := f.c.WaitLeader(20 * time.Second)
	p.waitFor("the banner gone", `#cut-off[hidden]`, 30*time.Second)
	p.waitFor("live again", `#live[data-live="stream"]`, 5*time.Second)
	p.waitFor("the clock running", `#elapsed[data-running="true"]`, 10*time.Second)
	assert.Equal(t, "实时更新", p.text("#live"))

	st := do(t, f.handler(back), request{method: "GET", path: "/api/v1/activations/" + string(a.ID), token: f.root})
	var got notify.Activation
	st.decode(t, &got)
	require.Equal(t, notify.StatusActive, got.Status, "the stand-down said not carried out was not")
	assert.Empty(t, p.scriptErrors(), "the console ran without script errors or policy violations")
}
