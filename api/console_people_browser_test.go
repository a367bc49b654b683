package api_test

import (
	"bytes"
	"cmp"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/access"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/notify"
	"muster/notify/twiliosim"
	"muster/plans"
)

// The board shows the duty office what the counts do not: how many people
// answered 到 and then that they cannot come after all (still counted 到),
// and which backups the escalation called up stand in for whom, as muster
// status says them. An approver deciding on another plan over the same
// people reads, in its preview, how many of them a LIVE call-up has called
// up already, and by which.
//
// The call-up is real: a dispatcher sends it through the twilio-go client
// to the simulator, two people answer 1 and then 2 through the inbound
// path, and an escalator on the cluster's clock fires the plan's steps
// (the backup step last) once the clock is moved past them.
func TestConsoleShowsTheDeclinedAfterAcceptingAndTheStandInsInBrowser(t *testing.T) {
	exe := chromium(t)
	clk := clustertest.NewClock(time.Now().Truncate(time.Second))
	f := newFixtureWith(t, 1, clk, "")
	h := f.handler(f.c.Nodes[0])
	withDemo(t, f, h)
	files, err := examples.Plans()
	require.NoError(t, err)
	for _, pf := range files {
		if pf.Name == "public-health.yaml" {
			res := do(t, h, request{method: "POST", path: "/api/v1/plans?filename=" + pf.Name, token: f.root, body: bytes.NewReader(pf.Data)})
			require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
		}
	}
	rs, err := examples.Regions()
	require.NoError(t, err)
	var roster bytes.Buffer
	require.NoError(t, examples.GenerateRoster(&roster, 600, 5, examples.Grids(rs)))
	res := do(t, h, request{method: "POST", path: "/api/v1/roster/import", token: f.root, body: bytes.NewReader(roster.Bytes())})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	commander, _ := createToken(t, h, f.root, "指挥长", access.Commander)
	approver, _ := createToken(t, h, f.root, "值班领导", access.Approver)

	// The provider: the simulator, reached through the real client; the
	// leader sends and escalates.
	acct := twiliosim.Account{SID: "AC00000000000000000000000000000108", AuthToken: "livetoken108", Number: "+15005550006"}
	drillAcct := twiliosim.Account{SID: "AC00000000000000000000000000000109", AuthToken: "drilltoken109", Number: "+15005550007"}
	sim := twiliosim.New(twiliosim.Config{Accounts: []twiliosim.Account{acct, drillAcct}, SentDelay: 5 * time.Millisecond, DeliveredDelay: 10 * time.Millisecond})
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() {
		sim.Close()
		simSrv.Close()
	})
	route := func(a twiliosim.Account, name string, exercise bool) *notify.Route {
		tw, err := notify.NewTwilio(notify.TwilioConfig{AccountSID: a.SID, AuthToken: a.AuthToken, APIURL: simSrv.URL, From: []string{a.Number}})
		require.NoError(t, err)
		t.Cleanup(tw.Close)
		return &notify.Route{Name: name, Account: a.SID, Provider: tw, Senders: []string{a.Number}, Exercise: exercise}
	}
	live, exercise := route(acct, "live", false), route(drillAcct, "exercise", true)
	n := f.c.Leader().Node
	d, err := notify.NewDispatcher(n, n, notify.DispatcherConfig{Live: live, Exercise: exercise, Clock: clk})
	require.NoError(t, err)
	e := notify.NewEscalator(n, n, notify.EscalatorConfig{Clock: clk, Tick: 50 * time.Millisecond, Live: live, Exercise: exercise})
	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { d.Run(runCtx) })
	wg.Go(func() { e.Run(runCtx) })
	t.Cleanup(func() { // before the cluster closes
		stop()
		wg.Wait()
	})

	res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: commander, body: jsonBody(map[string]any{
		"plan_id": "flood-control", "regions": []string{"990104", "990106"}, "level": "IV", "purpose": "LIVE", "reason": "暴雨黄色预警",
	})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var flood notify.Activation
	res.decode(t, &flood)
	require.Equal(t, notify.StatusActive, flood.Status)
	status := func() notify.ActivationStatus {
		t.Helper()
		res := do(t, h, request{method: "GET", path: "/api/v1/activations/" + string(flood.ID), token: f.root})
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		var st notify.ActivationStatus
		res.decode(t, &st)
		return st
	}
	recipients := func() []notify.Recipient {
		t.Helper()
		var out []notify.Recipient
		after := ""
		for {
			res := do(t, h, request{method: "GET", path: "/api/v1/activations/" + string(flood.ID) + "/recipients?limit=1000&after=" + url.QueryEscape(after), token: f.root})
			require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
			var l plans.List[notify.Recipient]
			res.decode(t, &l)
			out = append(out, l.Items...)
			if l.Next == "" {
				return out
			}
			after = l.Next
		}
	}
	sentOut := func() bool {
		c := status().Counters.ByState
		return c[notify.StatePending]+c[notify.StateSending] == 0
	}
	waitFor(t, 30*time.Second, sentOut)

	// Two people answer 到, then that they cannot come.
	in := notify.NewInbound(n, notify.InboundConfig{View: n})
	t.Cleanup(in.Close)
	var answered []notify.Recipient
	for _, r := range recipients() {
		if len(answered) == 2 {
			break
		}
		if r.State != notify.StateSent && r.State != notify.StateDelivered {
			continue
		}
		for i, body := range []string{"1", "2 家里有事，去不了"} {
			out, err := in.Submit(ctx(t), notify.InboundItem{Kind: notify.InboundReply, SID: "SM108" + string(r.Person) + strconv.Itoa(i), From: r.Phone, To: acct.Number, Body: body, Account: acct.SID})
			require.NoError(t, err)
			if i == 0 {
				require.Equal(t, notify.InboundApplied, out.Outcome, "%+v", out)
			} else {
				require.True(t, out.DeclinedAfterAck, "%+v", out)
			}
		}
		answered = append(answered, r)
	}
	require.Len(t, answered, 2)
	require.Equal(t, 2, status().Counters.Dispatch[notify.DeclinedAfterAckCounter])

	// The chain runs: past its last step (the backup, at 45 minutes) the
	// backups of the silent are called up and sent to.
	clk.Add(46 * time.Minute)
	var standIns []notify.Recipient
	waitFor(t, 60*time.Second, func() bool {
		res := do(t, h, request{method: "GET", path: "/api/v1/activations/" + string(flood.ID) + "/escalation", token: f.root})
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		var steps struct{ Items []notify.EscalationStepStatus }
		res.decode(t, &steps)
		require.NotEmpty(t, steps.Items)
		last := steps.Items[len(steps.Items)-1]
		require.Equal(t, plans.EscalationAction("backup"), last.Do)
		if last.FiredAt.IsZero() || !sentOut() {
			return false
		}
		standIns = standIns[:0]
		for _, r := range recipients() {
			if r.BackupFor != nil {
				standIns = append(standIns, r)
			}
		}
		st := status()
		return st.StandIns != nil && st.StandIns.Count == len(standIns)
	})
	t.Logf("%d recipients, %d backups stand in", flood.Recipients, len(standIns))
	require.Greater(t, len(standIns), notify.StandInsShown, "more backups than the board names")

	// The epidemic plan over the city, at level I: it waits for approval.
	res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: commander, body: jsonBody(map[string]any{
		"plan_id": "public-health", "regions": []string{"990100"}, "level": "I", "purpose": "LIVE", "reason": "暴雨后疫情暴发",
	})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var health notify.Activation
	res.decode(t, &health)
	require.Equal(t, notify.StatusPendingApproval, health.Status)
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(health.ID) + "/approve", token: approver, body: jsonBody(map[string]any{"dry_run": true})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var preview notify.Preview
	res.decode(t, &preview)
	require.Positive(t, preview.AlreadyCalledUp)
	require.Len(t, preview.CalledUpBy, 1)
	require.Equal(t, flood.ID, preview.CalledUpBy[0].ID)

	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	p := newBrowserPage(t, exe) // after the server: the browser closes first
	p.do("log in and open the flood's board", 20*time.Second,
		append(logInAt(srv.URL+"/#/board/"+string(flood.ID), commander),
			chromedp.WaitReady(chromedp.CSS(`#live[data-live="stream"]`)))...,
	)
	p.waitFor("the flag of those who cannot come after all", `#declined-after-ack:not([hidden])[data-count="2"]`, 10*time.Second)
	assert.Equal(t, "2 人先回复到岗，后又表示不能到岗：仍计为已报到（以第一次回复为准），请与其核实。", p.text("#declined-after-ack"))

	p.waitFor("the backups standing in", `#stand-ins:not([hidden]) li[data-backup]`, 10*time.Second)
	assert.Equal(t, "替补人员（"+strconv.Itoa(len(standIns))+" 人）", p.text("#stand-ins h2"))
	standIns = standIns[:0] // their states as they are now
	for _, r := range recipients() {
		if r.BackupFor != nil {
			standIns = append(standIns, r)
		}
	}
	names := browserRun(p, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#stand-ins li[data-backup]')].map((li) => li.dataset.backup + '|' + li.textContent)`))
	require.Len(t, names, notify.StandInsShown, "the first the status names")
	for i, r := range standIns[:notify.StandInsShown] { // person ID order, as the status names them
		grid := r.BackupFor.GridName
		if grid == "" {
			grid = string(r.BackupFor.Grid)
		}
		assert.Equal(t, string(r.Person)+"|"+r.Name+" 替补 "+r.BackupFor.Name+"（"+grid+"）"+" · "+stateWords[r.State], names[i])
	}
	assert.Contains(t, p.text("#stand-ins"), "另有 "+strconv.Itoa(len(standIns)-notify.StandInsShown)+" 人未列出")

	// The approver of the epidemic plan reads who is called up already.
	p.do("log out, and in as the approver on the epidemic plan's request", 20*time.Second,
		append([]chromedp.Action[chromedp.Void]{chromedp.Click(chromedp.CSS("#logout"))},
			append(logInAt(srv.URL+"/#/board/"+string(health.ID), approver),
				chromedp.WaitVisible(chromedp.CSS(`#decide-preview`)),
				chromedp.Click(chromedp.CSS("#decide-preview")),
				chromedp.WaitVisible(chromedp.CSS("#decide-total")))...)...,
	)
	by := preview.CalledUpBy[0]
	assert.Equal(t, "已被其他实战响应召集：将通知的 "+strconv.Itoa(preview.Total)+" 人中有 "+strconv.Itoa(preview.AlreadyCalledUp)+" 人正被"+
		string(flood.ID)+"（"+flood.PlanTitle+" IV级（"+cmp.Or(by.LevelName, "一般")+"） "+flood.RegionNames+"，"+strconv.Itoa(by.People)+" 人）召集，批准后他们还会收到本次通知。",
		p.text(`#decide-warnings [data-warning="called-up"]`))
	assert.Empty(t, p.scriptErrors(), "the console ran without script errors or policy violations")
}

// stateWords are the console's words for a recipient's state.
var stateWords = map[notify.State]string{
	notify.StatePending: "待发送", notify.StateSending: "发送中", notify.StateSent: "已发送", notify.StateDelivered: "已送达待回复",
	notify.StateAcked: "已报到", notify.StateDeclined: "不能到", notify.StateFailed: "发送失败", notify.StateEscalated: "已升级",
	notify.StateExpired: "发送中解除", notify.StateCancelled: "已取消召集",
}
