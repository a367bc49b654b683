package api_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/access"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/notify"
	"muster/plans"
)

// An approver decides on a waiting LIVE request from its board, as the
// text that tells them of it says they may: they see what they approve
// (the reason, the regions, how many people, the text), approve it with
// the count they saw and the call-up starts; another request they reject,
// and only with a reason.
func TestConsoleApprovesAndRejectsInBrowser(t *testing.T) {
	exe := chromium(t)
	// The requester and the approver are two people, each with a token
	// the administrator made.
	c := newConsoleCallUps(t)
	approver, _ := createToken(t, c.h, c.f.root, "值班领导", access.Approver)
	activate := func(region string) notify.Activation {
		t.Helper()
		a := c.activate(t, region, "I", "特大暴雨，水库超汛限")
		require.Equal(t, notify.StatusPendingApproval, a.Status)
		return a
	}
	status := func(id string) notify.Activation { return c.status(t, id) }
	h := c.h
	// A level III call-up of the same plan already calls up 990104's people.
	running := c.activate(t, "990104", "III", "内涝")
	require.Equal(t, notify.StatusActive, running.Status)
	first, second := activate("990104"), activate("990106")
	res := do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(first.ID) + "/approve", token: approver,
		body: jsonBody(map[string]any{"dry_run": true})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var preview notify.Preview
	res.decode(t, &preview)
	require.Positive(t, preview.Total)

	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	p := newBrowserPage(t, exe) // after the server: the browser closes first
	p.do("log in as the approver and open the first request", 20*time.Second,
		append(logInAt(srv.URL+"/#/board/"+string(first.ID), approver),
			chromedp.WaitReady(chromedp.CSS(`#approval[data-status="pending_approval"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#decide-preview`)))...,
	)
	assert.False(t, browserRun(p, chromedp.Evaluate[bool](`!document.getElementById('decide-approve').hidden`)),
		"nothing to approve before the preview is seen")
	p.do("see what is approved", 20*time.Second,
		chromedp.Click(chromedp.CSS("#decide-preview")),
		chromedp.WaitVisible(chromedp.CSS("#decide-total")),
	)
	assert.Equal(t, strconv.Itoa(preview.Total), browserRun(p, chromedp.Evaluate[string](`document.getElementById('decide-total').dataset.total`)))
	detail := p.text("#decide-detail")
	assert.Contains(t, detail, "事由：特大暴雨，水库超汛限")
	assert.Contains(t, detail, "共通知 "+strconv.Itoa(preview.Total)+" 人")
	require.NotNil(t, preview.Sample)
	assert.Contains(t, p.text("#decide-sample"), preview.Sample.Text[:len(preview.Sample.Text)/2], "the text the call-up sends")
	assert.Equal(t, "批准，通知 "+strconv.Itoa(preview.Total)+" 人", p.text("#decide-approve"))
	// What muster approve's preview warns of, the console says too.
	require.Equal(t, []plans.ActivationID{running.ID}, preview.AlreadyOpen)
	assert.Contains(t, p.text(`#decide-warnings [data-warning="already-open"]`), "已在通知：本预案正以相同用途通知这些区域（"+string(running.ID)+"）")
	require.NotEmpty(t, preview.Roles)
	assert.Contains(t, p.text("#decide-roles"), preview.Roles[0].Name+" "+strconv.Itoa(preview.Roles[0].Matched)+" 人")
	assert.Contains(t, p.text("#decide-send"), "发送账号："+preview.Send.Account)
	assert.Equal(t, notify.StatusPendingApproval, status(string(first.ID)).Status, "seeing the preview decides nothing")

	p.do("approve", 20*time.Second,
		chromedp.Click(chromedp.CSS("#decide-approve")),
		chromedp.WaitReady(chromedp.CSS("#decide-msg.done")),
	)
	assert.Equal(t, "已批准，开始通知。", p.text("#decide-msg"))
	started := status(string(first.ID))
	assert.Equal(t, notify.StatusActive, started.Status)
	require.NotEmpty(t, started.Decisions)
	assert.Equal(t, "值班领导", started.Decisions[len(started.Decisions)-1].By)
	assert.Equal(t, preview.Total, started.Recipients)
	p.waitFor("the board of the started call-up", `#approval[hidden]`, 10*time.Second)
	p.waitFor("the approval part gone", `#decide[hidden]`, 10*time.Second)

	p.do("open the second request", 20*time.Second,
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/board/`+string(second.ID)+`'`),
		chromedp.WaitReady(chromedp.CSS(`#approval[data-status="pending_approval"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#decide-reject`)),
		chromedp.Click(chromedp.CSS("#decide-reject")),
		chromedp.WaitVisible(chromedp.CSS("#decide-msg.error")),
	)
	assert.Equal(t, "驳回须写明理由。", p.text("#decide-msg"))
	assert.Equal(t, notify.StatusPendingApproval, status(string(second.ID)).Status, "no reason, no rejection")
	p.do("reject with a reason", 20*time.Second,
		chromedp.SendKeys(chromedp.CSS("#decide-reason"), "雨情已缓解，维持三级响应"),
		chromedp.Click(chromedp.CSS("#decide-reject")),
		chromedp.WaitReady(chromedp.CSS(`#approval[data-status="rejected"]`)),
	)
	assert.Equal(t, "审批已驳回（值班领导：雨情已缓解，维持三级响应），未发送，无人被通知。", p.text("#approval"))
	assert.Equal(t, notify.StatusRejected, status(string(second.ID)).Status)
	assert.Empty(t, p.scriptErrors(), "the console ran without script errors or policy violations")
}

// consoleCallUps is a node with the demo city's plans and a roster of 300,
// and a commander's token the administrator made, for the console's
// browser tests that act on call-ups.
type consoleCallUps struct {
	f         *fixture
	h         http.Handler
	commander string
}

func newConsoleCallUps(t *testing.T) *consoleCallUps {
	t.Helper()
	f := newFixtureWith(t, 1, clustertest.NewClock(time.Now().Truncate(time.Second)), "")
	h := f.handler(f.c.Nodes[0])
	withDemo(t, f, h)
	rs, err := examples.Regions()
	require.NoError(t, err)
	var roster bytes.Buffer
	require.NoError(t, examples.GenerateRoster(&roster, 300, 5, examples.Grids(rs)))
	res := do(t, h, request{method: "POST", path: "/api/v1/roster/import", token: f.root, body: bytes.NewReader(roster.Bytes())})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	commander, _ := createToken(t, h, f.root, "指挥长", access.Commander)
	return &consoleCallUps{f: f, h: h, commander: commander}
}

// activate asks for a LIVE flood call-up over region at level, as the
// commander.
func (c *consoleCallUps) activate(t *testing.T, region, level, reason string) notify.Activation {
	t.Helper()
	res := do(t, c.h, request{method: "POST", path: "/api/v1/activations", token: c.commander, body: jsonBody(map[string]any{
		"plan_id": "flood-control", "regions": []string{region}, "level": level, "purpose": "LIVE", "reason": reason,
	})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var a notify.Activation
	res.decode(t, &a)
	return a
}

// status reads activation id as the API gives it now.
func (c *consoleCallUps) status(t *testing.T, id string) notify.Activation {
	t.Helper()
	res := do(t, c.h, request{method: "GET", path: "/api/v1/activations/" + id, token: c.f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var a notify.Activation
	res.decode(t, &a)
	return a
}

// logInAt opens the console at url and logs in with token.
func logInAt(url, token string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#login-submit")),
	}
}
