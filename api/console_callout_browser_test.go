package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/access"
	"muster/cluster/clustertest"
	"muster/notify"
	"muster/notify/twiliosim"
	"muster/plans"
)

// A LIVE red warning nobody answers shows whom its 叫应 reached: its row
// on the modes page and its line in the NO RESPONSE prompt name the
// commander the leader texted, and when it goes on to the approver (值班领导)
// if still unanswered; once it has, the approver texted too. The texts
// go through the real prompter, on the simulator through the real
// twilio-go client.
func TestConsoleShowsWhomAWarningCalledOnInBrowser(t *testing.T) {
	exe := chromium(t)
	// The cluster's clock starts 21 minutes back: the warning is issued
	// then, its commander texted at its response time (10 minutes), and
	// its approver 10 minutes later, about now by the browser's clock.
	clk := clustertest.NewClock(time.Now().Add(-21 * time.Minute).Truncate(time.Second))
	f := newFixtureWith(t, 1, clk, "")
	h := f.handler(f.c.Nodes[0])
	withDemo(t, f, h)
	viewer, _ := createToken(t, h, f.root, "指挥大屏", access.Viewer)
	const commanderPhone, approverPhone = "+8613900000031", "+8613900000032"
	for _, tok := range []map[string]string{
		{"name": "zhou", "holder": "周一", "role": string(access.Commander), "phone": commanderPhone},
		{"name": "wu", "holder": "吴二", "role": string(access.Approver), "phone": approverPhone},
	} {
		res := do(t, h, request{method: "POST", path: "/api/v1/tokens", token: f.root, body: jsonBody(tok)})
		require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	}

	acct := twiliosim.Account{SID: "AC00000000000000000000000000000135", AuthToken: "livetoken135", Number: "+15005550006"}
	sim := twiliosim.New(twiliosim.Config{Accounts: []twiliosim.Account{acct}})
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() {
		sim.Close()
		simSrv.Close()
	})
	tw, err := notify.NewTwilio(notify.TwilioConfig{AccountSID: acct.SID, AuthToken: acct.AuthToken, APIURL: simSrv.URL, From: []string{acct.Number}})
	require.NoError(t, err)
	t.Cleanup(tw.Close)
	n := f.c.Leader().Node
	prompter, err := notify.NewWarningPrompter(n, n, notify.WarningPrompterConfig{
		Live:  &notify.Route{Name: "live", Account: acct.SID, Provider: tw, Senders: []string{acct.Number}},
		Clock: clk, Tick: 50 * time.Millisecond, EscalateAfter: 10 * time.Minute})
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { prompter.Run(runCtx) })
	t.Cleanup(func() { // before the cluster closes
		stop()
		wg.Wait()
	})

	res := do(t, h, request{method: "POST", path: "/api/v1/warnings", token: f.root, body: jsonBody(map[string]any{
		"regions": []string{"990103"}, "level": "红", "event": "暴雨", "headline": "临江区暴雨红色预警", "expires_in": "6h",
	})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var w plans.Warning
	res.decode(t, &w)
	// sent waits until the stage of(w) has its one text sent.
	sent := func(what string, of func(plans.Warning) *plans.WarningPrompted) {
		t.Helper()
		require.Eventually(t, func() bool {
			res := do(t, h, request{method: "GET", path: "/api/v1/warnings/" + string(w.ID), token: f.root})
			var got plans.Warning
			res.decode(t, &got)
			s := of(got)
			return s != nil && len(s.Texts) == 1 && s.Texts[0].State == plans.NoticeSent
		}, 20*time.Second, 20*time.Millisecond, "%s not texted", what)
	}
	clk.Add(11 * time.Minute)
	sent("the commander", func(w plans.Warning) *plans.WarningPrompted { return w.Prompted })
	require.Len(t, sim.Messages(commanderPhone), 1)

	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	p := newBrowserPage(t, exe) // after the server: the browser closes first
	row := `#warning-rows tr[data-warning="` + string(w.ID) + `"]`
	p.do("log in", 20*time.Second, append(logInAt(srv.URL+"/#/modes", viewer), chromedp.WaitReady(chromedp.CSS(row+" td.callout")))...)
	assert.Equal(t, "叫应", p.text(`#warnings thead th:last-child`))
	assert.Regexp(t, `^\d\d:\d\d 已叫应指挥长 周一（已发出）；\d\d:\d\d 仍无响应将升级叫应值班领导$`, p.text(row+" td.callout"))
	line := `#warning-prompt [data-warning="` + string(w.ID) + `"]`
	assert.Regexp(t, `^红色预警 `+string(w.ID)+` 已 \d+ 分钟无响应：建议启动 \S+ I级（\d\d:\d\d 已叫应指挥长 周一（已发出）；\d\d:\d\d 仍无响应将升级叫应值班领导）$`, p.text(line))

	// Unanswered for as long again: the approver is texted, and the page,
	// at its next refresh, says so.
	clk.Add(10 * time.Minute)
	sent("the approver", func(w plans.Warning) *plans.WarningPrompted { return w.Escalated })
	require.Len(t, sim.Messages(approverPhone), 1)
	assert.Len(t, sim.Messages(commanderPhone), 1)
	p.waitFor("the escalation", row+` td.callout[data-escalated]`, 15*time.Second)
	assert.Regexp(t, `^\d\d:\d\d 已叫应指挥长 周一（已发出）；\d\d:\d\d 已升级叫应值班领导 吴二（已发出）$`, p.text(row+" td.callout"))
	assert.Regexp(t, `（\d\d:\d\d 已叫应指挥长 周一（已发出）；\d\d:\d\d 已升级叫应值班领导 吴二（已发出））$`, p.text(line))
	assert.Empty(t, p.scriptErrors(), "the console ran without script errors or policy violations")
}
