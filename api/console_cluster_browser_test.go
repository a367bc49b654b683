package api_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readClusterRows is the cluster panel's members as the page shows them:
// node ID to [role, heard].
const readClusterRows = `Object.fromEntries([...document.querySelectorAll('#cluster-rows tr[data-node]')].map(tr => [tr.dataset.node, [tr.dataset.role, tr.dataset.heard]]))`

// The console shows the cluster on every page: its members, who leads,
// and, on the leader's page, that each answers; a member stopped is said
// not heard from, in red on the line every page shows. Before, the
// console showed nothing of the cluster: a member down went unseen until
// a request was refused. A follower's page names the leader to ask.
func TestConsoleClusterShowsItsMembersInBrowser(t *testing.T) {
	exe := chromium(t)
	f := newFixture(t, 3)
	leader := f.c.WaitLeader(10 * time.Second)
	id := leader.Node.ID()

	p := newBrowserPage(t, exe) // after the cluster: the browser closes first
	p.do("open the console on the leader and the cluster panel", 30*time.Second,
		append(logInAt(leader.HTTPAddr+"/#/modes", f.root),
			chromedp.WaitReady(chromedp.CSS(`#cluster[data-state="ok"][data-leader="`+id+`"]`)),
			chromedp.Click(chromedp.CSS("#cluster-summary")),
			chromedp.WaitVisible(chromedp.CSS("#cluster-rows")))...,
	)
	rows := browserRun(p, chromedp.Evaluate[map[string][]string](readClusterRows))
	require.Len(t, rows, 3, "the three members: %v", rows)
	var down string
	for _, m := range f.c.Nodes {
		role := "follower"
		if m == leader {
			role = "leader"
		} else if down == "" {
			down = m.Node.ID()
		}
		assert.Equal(t, []string{role, "true"}, rows[m.Node.ID()], "%s", m.Node.ID())
	}
	assert.Equal(t, "集群 3 个节点 · 主节点 "+id+" · 均正常", p.text("#cluster-summary"))
	assert.Equal(t, "主节点", p.text(`#cluster-rows tr[data-node="`+id+`"] td.role`))
	assert.False(t, browserRun(p, chromedp.Evaluate[bool](`!!document.querySelector('#cluster-live-sms:not([hidden])')`)), "the leader has a LIVE SMS account")

	var stopped = f.c.Nodes[0]
	for _, m := range f.c.Nodes {
		if m.Node.ID() == down {
			stopped = m
		}
	}
	f.c.Kill(stopped)
	p.waitFor("the member stopped said not heard", `#cluster-rows tr[data-node="`+down+`"][data-heard="false"].down`, 30*time.Second)
	assert.Regexp(t, `^已 \d+ 秒未联络$`, p.text(`#cluster-rows tr[data-node="`+down+`"] td.contact`))
	p.waitFor("the line every page shows names it", `#cluster.problem[data-state="problem"]`, 10*time.Second)
	assert.Regexp(t, `^集群 3 个节点 · 主节点 `+id+` · `+down+` 已 \d+ 秒未联络`, p.text("#cluster-summary"))
	rows = browserRun(p, chromedp.Evaluate[map[string][]string](readClusterRows))
	assert.Equal(t, []string{"leader", "true"}, rows[id], "the leader still leads")

	// A follower cannot know who answers: its page names the leader.
	var follower string
	for _, m := range f.c.Nodes {
		if m != leader && m != stopped {
			follower = m.HTTPAddr
		}
	}
	p.do("open the console on the other follower", 30*time.Second,
		append(logInAt(follower+"/#/modes", f.root),
			chromedp.WaitReady(chromedp.CSS(`#cluster[data-leader="`+id+`"]`)),
			chromedp.Click(chromedp.CSS("#cluster-summary")),
			chromedp.WaitVisible(chromedp.CSS("#cluster-ask-leader")))...,
	)
	assert.Contains(t, p.text("#cluster-ask-leader"), "请看主节点 "+id+" 的控制台")
	assert.Equal(t, "集群 3 个节点 · 主节点 "+id+" · 各节点联络情况只有主节点知道", p.text("#cluster-summary"))
	assert.Empty(t, p.scriptErrors(), "the console ran without script errors or policy violations")
}

// A leader without a LIVE SMS account is said on every page, before any
// LIVE call-up is refused: LIVE 通知将被拒绝.
func TestConsoleClusterSaysTheLeaderHasNoLiveAccountInBrowser(t *testing.T) {
	exe := chromium(t)
	f := newFixture(t, 1)
	m := f.c.Nodes[0]
	f.noLiveSMS.Store(true)
	f.c.Stop(m)
	f.c.Restart(m)
	f.c.WaitLeader(15 * time.Second)

	p := newBrowserPage(t, exe) // after the cluster: the browser closes first
	p.do("open the console", 30*time.Second,
		append(logInAt(m.HTTPAddr+"/#/activations", f.root),
			chromedp.WaitVisible(chromedp.CSS("#cluster-live-sms")))...,
	)
	assert.Equal(t, "主节点 "+m.Node.ID()+" 未配置真实短信账号：LIVE 通知将被拒绝（409），演练和测试不受影响。请为该节点配置真实短信账号（--twilio-account-sid 等）后重启。",
		p.text("#cluster-live-sms"))
	p.do("open the cluster panel", 10*time.Second,
		chromedp.Click(chromedp.CSS("#cluster-summary")),
		chromedp.WaitVisible(chromedp.CSS(`#cluster-rows tr[data-node="`+m.Node.ID()+`"][data-no-live-sms="true"]`)),
	)
	assert.Equal(t, "无（LIVE 通知将被拒绝）", p.text(`#cluster-rows tr[data-node="`+m.Node.ID()+`"] td.sms`))
	assert.Empty(t, p.scriptErrors(), "the console ran without script errors or policy violations")
}
