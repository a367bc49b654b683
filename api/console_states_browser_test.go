package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/access"
	"muster/cluster/clustertest"
	"muster/notify"
	"muster/plans"
)

// modeListed is an item of GET /modes: a region's own record and, when an
// ancestor outranks it, the mode it is in through that ancestor.
type modeListed struct {
	plans.ModeRecord
	Effective *plans.RegionMode `json:"effective"`
}

// TestConsoleStatesInBrowser drives the console through the states a wall
// screen must not misread: a warning nobody responded to, a street in
// emergency through its district, a request waiting for approval, a
// correction, a mistyped activation and a node that went away.
func TestConsoleStatesInBrowser(t *testing.T) {
	exe := chromium(t)
	// The cluster's clock starts 11 minutes back, so that a warning issued
	// then is past its 10 minutes to respond by the browser's clock too.
	clk := clustertest.NewClock(time.Now().Add(-11 * time.Minute).Truncate(time.Second))
	f := newFixtureWith(t, 1, clk, "")
	h := f.handler(f.c.Nodes[0])
	drill := boardCallUp(t, f, h, 300, "990101")
	viewer, _ := createToken(t, h, f.root, "指挥大屏", access.Viewer)

	warn := func(region, level, headline string) plans.Warning {
		t.Helper()
		res := do(t, h, request{method: "POST", path: "/api/v1/warnings", token: f.root, body: jsonBody(map[string]any{
			"regions": []string{region}, "level": level, "event": "暴雨", "headline": headline, "expires_in": "6h",
		})})
		require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
		var w plans.Warning
		res.decode(t, &w)
		return w
	}
	activate := func(region, level string) notify.Activation {
		t.Helper()
		res := do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(map[string]any{
			"plan_id": "flood-control", "regions": []string{region}, "level": level, "purpose": "LIVE", "reason": "暴雨",
		})})
		require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
		var a notify.Activation
		res.decode(t, &a)
		return a
	}

	// An orange warning over 临江区 that nothing answered in time.
	unanswered := warn("990103", "橙", "临江区暴雨橙色预警")
	clk.Add(11 * time.Minute)

	// 南屏区 in emergency; a blue warning puts one of its streets in
	// standby of its own, while it is in emergency through its district.
	// A drill over 南屏区, which the LIVE call-up stands down.
	overRun := boardActivate(t, f, h, "990105")
	district := activate("990105", "IV")
	require.Equal(t, notify.StatusActive, district.Status)
	require.Equal(t, []plans.ActivationID{overRun.ID}, district.StoppedDrills)
	warn("990105001", "蓝", "南屏街道暴雨蓝色预警")
	res := do(t, h, request{method: "GET", path: "/api/v1/modes", token: viewer})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var listed struct{ Items []modeListed }
	res.decode(t, &listed)
	byRegion := map[plans.RegionCode]modeListed{}
	for _, m := range listed.Items {
		byRegion[m.Region] = m
	}
	require.Contains(t, byRegion, plans.RegionCode("990105001"))
	street := byRegion["990105001"]
	assert.Equal(t, plans.ModeStandby, street.Mode, "its own record")
	if assert.NotNil(t, street.Effective, "the street lists the mode it is in through 南屏区") {
		assert.Equal(t, plans.ModeEmergency, street.Effective.Mode)
		assert.Equal(t, plans.RegionCode("990105"), street.Effective.From)
		assert.Equal(t, plans.LevelIV, street.Effective.Level)
	}
	assert.Nil(t, byRegion["990105"].Effective, "a region in its own mode has none")

	// A level I LIVE request waits for a second person.
	pending := activate("990104", "I")
	require.Equal(t, notify.StatusPendingApproval, pending.Status)
	require.False(t, pending.ApprovalDeadline.IsZero())

	// Another, rejected.
	rejected := activate("990106", "I")
	require.Equal(t, notify.StatusPendingApproval, rejected.Status)
	approver, _ := createToken(t, h, f.root, "值班领导", access.Approver)
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(rejected.ID) + "/reject", token: approver,
		body: jsonBody(map[string]any{"reason": "未达启动条件"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)

	// A drill retracted once it reached someone: its correction.
	second := boardActivate(t, f, h, "990102")
	boardReply(t, f, h, second.ID, "1") // reached: the correction goes to them
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(second.ID) + "/retract", token: f.root,
		body: jsonBody(notify.RetractRequest{Message: "演练通知发错，请忽略。"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var retracted notify.RetractResult
	res.decode(t, &retracted)
	correction := retracted.Correction
	require.NotEmpty(t, correction.ID)

	const unknown = "A999999"
	var unknownReads atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, unknown) {
			unknownReads.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p := newBrowserPage(t, exe) // after the server: the browser closes first

	p.do("log in", 20*time.Second,
		chromedp.Navigate(srv.URL+"/#/modes"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), viewer),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitReady(chromedp.CSS(`#modes-rows tr[data-region]`)),
	)

	// C15: the warning nobody answered is in the header, on every page, and
	// on the modes page with how long it has gone unanswered.
	p.waitFor("the NO RESPONSE prompt", `#warning-prompt:not([hidden]) [data-warning="`+string(unanswered.ID)+`"]`, 10*time.Second)
	assert.Regexp(t, `^橙色预警 `+string(unanswered.ID)+` 已 \d+ 分钟无响应：建议启动 \S+ II级$`, p.text("#warning-prompt"))
	// The LIVE request that waits for a second person is on every page
	// too, with its deadline and how to approve it; the rejected one is not.
	p.waitFor("the waiting-approval prompt", `#approval-prompt:not([hidden]) [data-activation="`+string(pending.ID)+`"]`, 10*time.Second)
	assert.Equal(t, "1", browserRun(p, chromedp.Evaluate[string](`document.getElementById('approval-prompt').dataset.count`)))
	waiting := p.text("#approval-prompt")
	assert.Regexp(t, `^`+string(pending.ID)+` 等待审批：.+ I级（特别重大） .+申请，`+pending.ApprovalDeadline.Local().Format("15:04")+
		` 前须另一人审批（在其看板审批，或 muster approve `+string(pending.ID)+`）$`, waiting)
	assert.NotContains(t, waiting, string(rejected.ID))
	p.waitFor("the warning on the modes page", `#warning-rows tr[data-warning="`+string(unanswered.ID)+`"].prompt`, 10*time.Second)
	assert.Regexp(t, `^已超时 \d+ 分钟，未响应`, p.text(`#warning-rows tr[data-warning="`+string(unanswered.ID)+`"] .respond-by`))

	// C17: the street reads 战时 from its district, its own 临战 behind.
	p.waitFor("the street in emergency through its district",
		`#modes-rows tr[data-region="990105001"][data-mode="emergency"][data-own-mode="standby"][data-from="990105"]`, 10*time.Second)
	row := p.text(`#modes-rows tr[data-region="990105001"] td:nth-child(2)`)
	assert.Regexp(t, `^战时\n上级 \S+ 战时\n本级：临战$`, row)
	assert.Contains(t, p.text(`#modes-rows tr[data-region="990105001"]`), "IV级（", "the level it is called up at")

	// C12: a request waiting for approval says so, with its deadline and
	// how many it will call, and shows no board of zeros.
	p.do("open the pending request's board", 20*time.Second,
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/board/`+string(pending.ID)+`'`),
		chromedp.WaitReady(chromedp.CSS(`#approval[data-status="pending_approval"]`)),
	)
	want := "等待第二人审批（截止 " + pending.ApprovalDeadline.Local().Format("15:04") + "），尚未发送"
	if pending.Recipients > 0 {
		want += fmt.Sprintf("，预计通知 %d 人", pending.Recipients)
	}
	assert.Equal(t, want+"。", p.text("#approval"))
	assert.True(t, browserRun(p, chromedp.Evaluate[bool](`getComputedStyle(document.getElementById('totals')).display === 'none'`)),
		"no tiles of zeros")
	assert.Contains(t, p.text("#warning-prompt"), string(unanswered.ID), "the prompt stays on every page")
	assert.Contains(t, p.text("#approval-prompt"), string(pending.ID), "so does the waiting request")
	// A wall screen's viewer token may look, not decide: it is offered
	// nothing to decide with, and one line says so (whoami).
	p.waitFor("the line in place of the approval panel", `#decide-readonly:not([hidden])`, 10*time.Second)
	assert.Equal(t, "该令牌只能查看，不能审批或指挥操作。", p.text("#decide-readonly"))
	assert.Zero(t, browserRun(p, chromedp.Evaluate[int](`document.querySelectorAll('#decide-preview, #decide-reject').length`)))
	p.do("open the rejected request's board", 20*time.Second,
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/board/`+string(rejected.ID)+`'`),
		chromedp.WaitReady(chromedp.CSS(`#approval[data-status="rejected"]`)),
	)
	assert.Equal(t, "审批已驳回（值班领导：未达启动条件），未发送，无人被通知。", p.text("#approval"))

	// C6: a correction's delivered people are just 已送达.
	p.do("open the correction's board", 20*time.Second,
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/board/`+string(correction.ID)+`'`),
		chromedp.WaitReady(chromedp.CSS(`#totals [data-key="answers"]`)),
	)
	assert.Equal(t, "已送达", p.text(`#totals [data-key="delivered"] .label`))
	assert.NotContains(t, p.text("#totals"), "待回复")

	// C5: a mistyped activation says it does not exist, and the page stops
	// asking.
	p.do("open an unknown board", 20*time.Second,
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/board/`+unknown+`'`),
		chromedp.WaitReady(chromedp.CSS(`#board-missing`)),
	)
	assert.Contains(t, p.text("#board-missing"), "没有这个启动记录 "+unknown)
	assert.Zero(t, browserRun(p, chromedp.Evaluate[int](`document.querySelectorAll('#live').length`)), "no word of a live connection")
	reads := unknownReads.Load()
	// Watched for longer than the page's polling interval (5 s).
	for until := time.Now().Add(6 * time.Second); time.Now().Before(until); {
		require.Equal(t, reads, unknownReads.Load(), "the page asked again about %s", unknown)
		time.Sleep(100 * time.Millisecond) // watching the server, bounded
	}

	// A drill a LIVE call-up stood down says so, as muster status does.
	p.do("open the board of the drill the LIVE call-up stopped", 20*time.Second,
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/board/`+string(overRun.ID)+`'`),
		chromedp.WaitReady(chromedp.CSS(`#live[data-live="ended"]`)),
	)
	assert.Contains(t, p.text("#board-sub"), "已解除（被实战启动 "+string(district.ID)+" 中止）")

	// C10: the node goes away under a running board: the clock stops, the
	// figures are marked stale, and the page says to use another node.
	p.do("open the drill's board", 20*time.Second,
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/board/`+string(drill.ID)+`'`),
		chromedp.WaitReady(chromedp.CSS(`#live[data-live="stream"]`)),
		chromedp.WaitReady(chromedp.CSS(`#elapsed[data-running="true"]`)),
	)
	srv.Listener.Close()
	srv.CloseClientConnections()
	p.waitFor("the figures marked stale", `#stale:not([hidden])`, 10*time.Second)
	p.waitFor("the clock stopped", `#elapsed[data-running="false"]`, 5*time.Second)
	stopped := p.text("#elapsed")
	assert.Regexp(t, `^T\+\d+:\d\d（已停止计时）$`, stopped)
	p.waitFor("the reason", `#board-error[data-reason="unreachable"]`, 5*time.Second)
	assert.Contains(t, p.text("#board-error"), "无法连接本节点")
	assert.Contains(t, p.text("#board-error"), "另一个节点的控制台")
	assert.NotContains(t, p.text("#checkpoints"), "计数中")
	staleFor := regexp.MustCompile(`^数据已 (\d+) 秒未更新$`)
	for deadline := time.Now().Add(5 * time.Second); ; {
		m := staleFor.FindStringSubmatch(p.text("#stale"))
		require.NotNil(t, m, "stale note %q", p.text("#stale"))
		if n, err := strconv.Atoi(m[1]); err == nil && n >= 2 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the stale note does not count: %q", m[0])
		time.Sleep(100 * time.Millisecond) // polling the page, bounded by the deadline
	}
	assert.Equal(t, stopped, p.text("#elapsed"), "the clock stays stopped")

	assert.Empty(t, p.scriptErrors(), "the console ran without script errors or policy violations")
}
