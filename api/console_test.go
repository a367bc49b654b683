package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
	"muster/api"
	"muster/notify"
	"muster/plans"
)

// consoleDir holds the console's files as the package embeds them.
const consoleDir = "console"

// consoleFiles lists the embedded console files by name (embed leaves out
// names starting with . or _).
func consoleFiles(t *testing.T) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(consoleDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			rel, err := filepath.Rel(consoleDir, p)
			names = append(names, filepath.ToSlash(rel))
			return err
		}
		return nil
	})
	require.NoError(t, err)
	require.Contains(t, names, "index.html")
	return names
}

// consoleURL is where the console serves a file: the page at /, the rest
// under /console/.
func consoleURL(name string) string {
	if name == "index.html" {
		return "/"
	}
	return "/console/" + name
}

func TestConsoleServed(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])

	tests := []struct {
		name, path, contentType, contains string
	}{
		{"page", "/", "text/html; charset=utf-8", `<html lang="zh-CN">`},
		{"script", "/console/app.js", "text/javascript; charset=utf-8", "Authorization"},
		{"style", "/console/app.css", "text/css; charset=utf-8", "@media"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, h, request{method: "GET", path: tt.path}) // no token
			require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
			hd := res.Header()
			assert.Equal(t, tt.contentType, hd.Get("Content-Type"))
			csp := hd.Get("Content-Security-Policy")
			assert.Contains(t, csp, "default-src 'self'")
			assert.Contains(t, csp, "frame-ancestors 'none'")
			assert.NotContains(t, csp, "unsafe-inline")
			assert.NotContains(t, csp, "unsafe-eval")
			assert.Equal(t, "nosniff", hd.Get("X-Content-Type-Options"))
			assert.Equal(t, "no-cache", hd.Get("Cache-Control"))
			assert.NotEmpty(t, hd.Get(api.RequestIDHeader))
			assert.Contains(t, res.Body.String(), tt.contains)

			// A browser that has the file revalidates it for nothing.
			etag := hd.Get("ETag")
			require.NotEmpty(t, etag)
			again := do(t, h, request{method: "GET", path: tt.path, header: map[string]string{"If-None-Match": etag}})
			assert.Equal(t, http.StatusNotModified, again.Code)
			assert.Empty(t, again.Body.String())
		})
	}

	notFound := []struct{ name, path string }{
		{"unknown asset", "/console/nothing.js"},
		{"the page under /console", "/console/index.html"},
		{"the console folder", "/console/"},
		{"a nested name", "/console/js/app.js"},
	}
	for _, tt := range notFound {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, h, request{method: "GET", path: tt.path})
			require.Equal(t, http.StatusNotFound, res.Code, "%s", res.Body)
			assert.Equal(t, "application/json; charset=utf-8", res.Header().Get("Content-Type"))
			assert.Equal(t, muster.ENotFound, res.errorBody(t).Code)
		})
	}

	res := do(t, h, request{method: "POST", path: "/", body: strings.NewReader("{}")})
	assert.Equal(t, http.StatusMethodNotAllowed, res.Code, "the console is read-only")
}

func TestConsoleFilesAreSelfContained(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	for _, name := range consoleFiles(t) {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(consoleDir, filepath.FromSlash(name)))
			require.NoError(t, err)
			res := do(t, h, request{method: "GET", path: consoleURL(name)})
			require.Equal(t, http.StatusOK, res.Code, "every embedded file is served: %s", res.Body)
			assert.Equal(t, string(want), res.Body.String())

			// Works offline: nothing is loaded or linked from elsewhere.
			text := strings.ToLower(string(want))
			for _, scheme := range []string{"http://", "https://"} {
				assert.NotContains(t, text, scheme, "%s names an external URL", name)
			}
			assert.NotContains(t, text, "//cdn", "%s", name)
		})
	}

	// The page loads its script and style from /console/, and has no inline
	// script or style for the policy to refuse.
	page := do(t, h, request{method: "GET", path: "/"}).Body.String()
	assert.Contains(t, page, `<script src="/console/app.js" defer></script>`)
	assert.Contains(t, page, `<link rel="stylesheet" href="/console/app.css">`)
	assert.NotContains(t, page, "<style")
	assert.NotContains(t, page, " style=")
	assert.NotRegexp(t, `\son[a-z]+\s*=`, page, "no inline event handlers")
	assert.Equal(t, 1, strings.Count(page, "<script"), "one script, loaded from /console/")
}

// chromium finds the browser for TestConsoleInBrowser. Without one the test
// is skipped, unless MUSTER_REQUIRE_CHROMIUM is set (CI), when it fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("MUSTER_REQUIRE_CHROMIUM") != "" {
		t.Fatal("chromium is not on PATH and MUSTER_REQUIRE_CHROMIUM is set: install it (Debian: apt-get install chromium)")
	}
	t.Skip("chromium is not on PATH: skipping the console's browser test (install chromium, or set MUSTER_REQUIRE_CHROMIUM to make its absence a failure)")
	return ""
}

// browserPage drives one headless chromium tab. Every wait is bounded by
// its own deadline within the test's.
type browserPage struct {
	t   *testing.T
	ctx context.Context

	mu     sync.Mutex
	errors []string // script exceptions and console errors other than failed requests
}

func newBrowserPage(t *testing.T, exe string) *browserPage {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("lang", "zh-CN"),
	)
	// The whole browser lives within the deadline; each step has its own
	// within it. The first action runs on the tab's own context: the tab
	// lives as long as the context it was opened with.
	bounded, cancelBounded := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancelBounded)
	alloc, cancelAlloc := chromedp.NewExecAllocator(bounded, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)

	p := &browserPage{t: t, ctx: ctx}
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")), "start chromium")
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg = fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, d.Text)
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
		case *log.EventEntryAdded:
			// Failed requests (the bad token's 401, a refused stream) are
			// expected; anything else logged as an error is not, such as a
			// content security policy violation.
			if ev.Entry.Level != log.EntryLevelError || ev.Entry.Source == log.EntrySourceNetwork {
				return
			}
			msg = fmt.Sprintf("console %s: %s", ev.Entry.Source, ev.Entry.Text)
		default:
			return
		}
		p.mu.Lock()
		p.errors = append(p.errors, msg)
		p.mu.Unlock()
	}))
	return p
}

// do runs steps within timeout.
func (p *browserPage) do(what string, timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	require.NoError(p.t, chromedp.Do(ctx, steps...), what)
}

// waitFor waits (bounded) until an element matches the CSS selector.
func (p *browserPage) waitFor(what, selector string, timeout time.Duration) {
	p.t.Helper()
	p.do(what+" ("+selector+")", timeout, chromedp.WaitReady(chromedp.CSS(selector)))
}

// text is the text of the element the CSS selector matches, read in one
// step: the page redraws its tables while the test reads them.
func (p *browserPage) text(selector string) string {
	p.t.Helper()
	sel, err := json.Marshal(selector)
	require.NoError(p.t, err)
	s := browserRun(p, chromedp.Evaluate[*string](`document.querySelector(`+string(sel)+`)?.innerText ?? null`))
	require.NotNil(p.t, s, "no element matches %s", selector)
	return *s
}

// browserRun runs one action that returns a value, within 10 seconds.
func browserRun[T any](p *browserPage, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	require.NoError(p.t, err)
	return v
}

func (p *browserPage) scriptErrors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errors...)
}

// boardRowOnPage is a row of the board as the page shows it.
type boardRowOnPage struct {
	Code       string `json:"code"`
	Acked      int    `json:"acked"`
	Recipients int    `json:"recipients"`
}

const readGridRows = `[...document.querySelectorAll('#grid-rows tr[data-code]')].map(tr => ({code: tr.dataset.code, acked: +tr.dataset.acked, recipients: +tr.dataset.recipients}))`

const readTotals = `Object.fromEntries([...document.querySelectorAll('#totals [data-key]')].map(e => [e.dataset.key, +e.dataset.value]))`

const readCheckpoints = `Object.fromEntries([...document.querySelectorAll('#checkpoints [data-minutes]')].map(e => [e.dataset.minutes, +e.dataset.value]))`

func TestConsoleInBrowser(t *testing.T) {
	exe := chromium(t)
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	drill := boardCallUp(t, f, h, 400, "990101")
	res := do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(map[string]any{
		"plan_id": "flood-control", "regions": []string{"990102"}, "level": "IV", "purpose": "LIVE", "reason": "暴雨",
	})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var live notify.Activation
	res.decode(t, &live)
	viewer, viewerToken := createToken(t, h, f.root, "指挥大屏", access.Viewer)

	// The real handler over real HTTP; the test can refuse event streams
	// to make the board fall back to polling.
	var refuseStreams atomic.Bool
	var boardGets sync.Map // activation ID → *atomic.Int64: GET .../board requests
	boardGetsOf := func(id plans.ActivationID) int64 {
		n, _ := boardGets.LoadOrStore(string(id), new(atomic.Int64))
		return n.(*atomic.Int64).Load()
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1/activations/"), "/board"); ok {
			n, _ := boardGets.LoadOrStore(id, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
		}
		if refuseStreams.Load() && strings.HasSuffix(r.URL.Path, "/events") {
			http.Error(w, "event streams refused by the test", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	// Registered after the server, so the browser closes first and its
	// open event stream ends before the server waits for it.
	p := newBrowserPage(t, exe)

	// A bad token stays on the login form, with the reason.
	p.do("open the console", 20*time.Second,
		chromedp.Navigate(srv.URL+"/#/activations"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), "mst_"+strings.Repeat("A", 43)),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#login-error")),
	)
	assert.Contains(t, p.text("#login-error"), "令牌无效")
	assert.Empty(t, browserRun(p, chromedp.Evaluate[string](`sessionStorage.getItem('muster.token') || ''`)))

	// Typed in, a good token opens the page the address asked for.
	p.do("log in", 20*time.Second,
		chromedp.Evaluate[chromedp.Void](`document.getElementById('token').value = ''`),
		chromedp.SendKeys(chromedp.CSS("#token"), viewer),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#activation-rows tr[data-id="`+string(drill.ID)+`"]`)),
	)
	assert.True(t, browserRun(p, chromedp.Evaluate[bool](`document.getElementById('login').hidden`)))

	// The list marks the drill, and the header counts the region the LIVE
	// call-up put in emergency.
	assert.Equal(t, "【演练】", p.text(`#activation-rows tr[data-id="`+string(drill.ID)+`"] .badge`))
	assert.Equal(t, "实战", p.text(`#activation-rows tr[data-id="`+string(live.ID)+`"] .badge`))
	assert.Equal(t, fmt.Sprint(drill.Recipients), p.text(`#activation-rows tr[data-id="`+string(drill.ID)+`"] td:last-child`))
	p.waitFor("header counts regions in emergency", `#mode-summary[data-emergency="1"]`, 15*time.Second)
	assert.Contains(t, p.text("#mode-summary"), "战时 1")

	// A click on its row opens the drill's board, followed live. (Clicked
	// from the page: the list redraws every 10 s, and a click by node could
	// miss a row just redrawn.)
	p.do("open the board", 20*time.Second,
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#activation-rows tr[data-id="`+string(drill.ID)+`"] td:nth-child(3)').click()`),
		chromedp.WaitReady(chromedp.CSS(`#live[data-live="stream"]`)),
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#totals [data-key="recipients"][data-value="%d"]`, drill.Recipients))),
	)
	assert.Equal(t, "#/board/"+string(drill.ID), browserRun(p, chromedp.Evaluate[string](`location.hash`)))
	assert.Equal(t, "【演练】", p.text("#board-purpose .badge"))
	assert.Contains(t, p.text("#as-of"), "更新于")

	board := readBoard(t, h, viewer, drill.ID)
	assertBoardShown(t, p, board)

	// Nothing changes, so no event comes; the time since the activation
	// still runs on.
	was := p.text("#elapsed")
	require.Regexp(t, `^T\+\d+:\d\d$`, was)
	for deadline := time.Now().Add(5 * time.Second); p.text("#elapsed") == was; {
		require.True(t, time.Now().Before(deadline), "the elapsed time stayed at %s", was)
		time.Sleep(100 * time.Millisecond) // polling the page, bounded by the deadline
	}

	// A reply through the provider's inbound path shows up without a reload.
	browserRun(p, chromedp.Evaluate[string](`window.musterMark = 'not reloaded'`))
	who := boardReply(t, f, h, drill.ID, "1")
	p.waitFor("the new 报到 shows", `#totals [data-key="acked"][data-value="1"]`, 15*time.Second)
	p.waitFor("in its grid", fmt.Sprintf(`#grid-rows tr[data-code="%s"][data-acked="1"]`, who.Grid), 15*time.Second)
	assert.Equal(t, "not reloaded", browserRun(p, chromedp.Evaluate[string](`window.musterMark`)))
	assert.Equal(t, "stream", browserRun(p, chromedp.Evaluate[string](`document.getElementById('live').dataset.live`)))
	board = readBoard(t, h, viewer, drill.ID)
	require.Equal(t, 1, board.Total.Acked)
	assertBoardShown(t, p, board)
	// 已发送 counts everyone a message went out to, the one who answered too.
	require.Zero(t, board.Total.Sent, "no one is in the state sent")
	assert.Equal(t, "1", p.text(`#totals [data-key="out"] .value`))
	assert.Equal(t, "已发送", p.text(`#totals [data-key="out"] .label`))
	// The board came with the status events, from the same read: the page
	// asked for it only once, when it opened.
	assert.LessOrEqual(t, boardGetsOf(drill.ID), int64(1), "board requests while following the stream")

	// Stood down with nothing in flight, the stream ends and the page says so.
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(drill.ID) + "/stand-down", token: f.root, body: jsonBody(map[string]string{"reason": "演练结束"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	p.waitFor("the board ends", `#live[data-live="ended"]`, 15*time.Second)
	assert.Equal(t, "未发送", p.text(`#totals [data-key="pending"] .label`), "those still pending are never sent")
	// Stood down within seconds: every checkpoint's count ends there, and
	// the page says so rather than "T+30 reached".
	p.waitFor("the checkpoints are cut short", `#checkpoints [data-minutes="30"].cut`, 5*time.Second)
	assert.Contains(t, p.text(`#checkpoints [data-minutes="5"] .label`), "T+5 分钟内报到（已解除，计至解除时）")
	assert.Zero(t, browserRun(p, chromedp.Evaluate[int](`document.querySelectorAll('#checkpoints .counting, #grid-rows td.counting').length`)), "nothing reads as still counting")

	// Retracted, the drill's correction goes to the one it reached. Its
	// board takes no answers: no 报到 rate, no 未回复, nothing in alarm
	// colours, and says so.
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(drill.ID) + "/retract", token: f.root,
		body: jsonBody(notify.RetractRequest{Message: "演练通知发错，请忽略。"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var retracted notify.RetractResult
	res.decode(t, &retracted)
	correction := retracted.Correction
	require.Positive(t, correction.Recipients)
	p.do("open the correction's board", 20*time.Second,
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/board/`+string(correction.ID)+`'`),
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#totals [data-key="recipients"][data-value="%d"]`, correction.Recipients))),
		chromedp.WaitReady(chromedp.CSS(`#totals [data-key="answers"]`)),
	)
	assert.Contains(t, p.text(`#board-sub`), "更正 "+string(drill.ID))
	assert.Equal(t, "更正内容：演练通知发错，请忽略。", p.text("#correction-message"), "what the correction tells them")
	assert.Contains(t, p.text(`#totals [data-key="answers"]`), "无需回复")
	shownKeys := browserRun(p, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#totals [data-key]')].map(e => e.dataset.key)`))
	assert.Equal(t, []string{"recipients", "out", "delivered", "failed", "escalated", "sending", "pending", "answers"}, shownKeys)
	assert.Zero(t, browserRun(p, chromedp.Evaluate[int](`document.querySelectorAll('.bar, #checkpoints [data-minutes]').length`)),
		"no 报到 rate bars or checkpoints")
	assert.NotContains(t, p.text("#grid-rows"), "0.0%")
	assert.Contains(t, p.text("#grid-rows"), "无需回复")

	// A warning over another district puts it in standby: the modes page
	// says which warning holds it, with its headline.
	// Of two warnings over it, the first is lifted: the region stays in
	// standby for the second, though its last switch was the first's.
	n := f.c.Nodes[0].Node
	ws := plans.NewWarningService(n, n, plans.WarningConfig{})
	first, err := ws.Issue(ctx(t), "test", plans.WarningInput{
		Regions: []plans.RegionCode{"990105"}, Level: "橙", Event: "暴雨", Headline: "南屏区暴雨橙色预警", ExpiresIn: plans.Duration(6 * time.Hour)})
	require.NoError(t, err)
	warned, err := ws.Issue(ctx(t), "test", plans.WarningInput{
		Regions: []plans.RegionCode{"990105"}, Level: "黄", Event: "大风", Headline: "南屏区大风黄色预警", ExpiresIn: plans.Duration(6 * time.Hour)})
	require.NoError(t, err)
	_, err = ws.Lift(ctx(t), "test", first.ID, "雨停")
	require.NoError(t, err)

	// The modes page lists the region in emergency, held by the LIVE call-up.
	p.do("open the modes page", 15*time.Second,
		chromedp.Click(chromedp.CSS(`#nav a[data-route="modes"]`)),
		chromedp.WaitReady(chromedp.CSS(`#modes-rows tr[data-region="990102"][data-mode="emergency"]`)),
	)
	row := p.text(`#modes-rows tr[data-region="990102"]`)
	assert.Contains(t, row, "战时")
	assert.Contains(t, row, "IV级（", "written as the CLI and the messages write it")
	assert.Contains(t, row, string(live.ID))
	assert.Contains(t, row, "暴雨")
	p.waitFor("the region in standby", `#modes-rows tr[data-region="990105"][data-mode="standby"]`, 15*time.Second)
	standby := p.text(`#modes-rows tr[data-region="990105"]`)
	assert.Contains(t, standby, "黄色预警 "+string(warned.ID)+": 南屏区大风黄色预警", "the warning that holds it")
	assert.NotContains(t, standby, string(first.ID), "not the lifted one")

	// A request that will never start (rejected) has no clock and no
	// checkpoints, and its stream ends, saying so.
	res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(map[string]any{
		"plan_id": "flood-control", "regions": []string{"990104"}, "level": "I", "purpose": "LIVE", "reason": "特大暴雨",
	})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var asked notify.Activation
	res.decode(t, &asked)
	require.Equal(t, notify.StatusPendingApproval, asked.Status)
	approver, _ := createToken(t, h, f.root, "值班领导", access.Approver)
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(asked.ID) + "/reject", token: approver, body: jsonBody(map[string]any{"reason": "未达启动条件"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	p.do("open a rejected request's board", 20*time.Second,
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/board/`+string(asked.ID)+`'`),
		chromedp.WaitReady(chromedp.CSS(`#live[data-live="never"]`)),
	)
	assert.Contains(t, p.text("#live"), "未启动")
	assert.Empty(t, p.text("#elapsed"), "no clock runs for it")
	assert.Zero(t, browserRun(p, chromedp.Evaluate[int](`document.querySelectorAll('#checkpoints [data-minutes]').length`)), "nor checkpoints")
	assert.Zero(t, readBoard(t, h, viewer, asked.ID).StartedAt, "the board has no start")

	// Without its event stream, a board polls, says so, and still updates.
	refuseStreams.Store(true)
	polled := boardActivate(t, f, h, "990103")
	p.do("open a board without a stream", 20*time.Second,
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/board/`+string(polled.ID)+`'`),
		chromedp.WaitReady(chromedp.CSS(`#live[data-live="polling"]`)),
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#totals [data-key="recipients"][data-value="%d"]`, polled.Recipients))),
	)
	assert.Contains(t, p.text("#live"), "轮询")
	boardReply(t, f, h, polled.ID, "1")
	p.waitFor("a polled board updates", `#totals [data-key="acked"][data-value="1"]`, 20*time.Second)

	// A revoked token sends the console back to the login form, saying why.
	res = do(t, h, request{method: "DELETE", path: "/api/v1/tokens/" + string(viewerToken.ID), token: f.root})
	require.Equal(t, http.StatusNoContent, res.Code, "%s", res.Body)
	p.do("signed out", 20*time.Second, chromedp.WaitVisible(chromedp.CSS("#login-error")))
	assert.Contains(t, p.text("#login-error"), "登录已失效")
	assert.Empty(t, browserRun(p, chromedp.Evaluate[string](`sessionStorage.getItem('muster.token') || ''`)))

	assert.Empty(t, p.scriptErrors(), "the console ran without script errors or policy violations")
}

// readBoard is the board as the API serves it.
func readBoard(t *testing.T, h http.Handler, token string, id plans.ActivationID) notify.Board {
	t.Helper()
	res := do(t, h, request{method: "GET", path: "/api/v1/activations/" + string(id) + "/board", token: token})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var b notify.Board
	res.decode(t, &b)
	return b
}

// assertBoardShown checks the page shows b's totals, checkpoints and grids.
func assertBoardShown(t *testing.T, p *browserPage, b notify.Board) {
	t.Helper()
	tot := b.Total
	totals := map[string]int{
		"recipients": tot.Recipients, "out": tot.Out(), "delivered": tot.Delivered, "acked": tot.Acked,
		"declined": tot.Declined, "failed": tot.Failed, "escalated": tot.Escalated, "sending": tot.Sending,
		"pending": tot.Pending, "unanswered": tot.Unanswered,
	}
	if tot.Expired > 0 {
		totals["expired"] = tot.Expired
	}
	shown := browserRun(p, chromedp.Evaluate[map[string]int](readTotals))
	assert.Equal(t, totals, shown)
	// Everyone is in one box: sent to (out), being sent, waiting, failed,
	// or in flight when the call-up was stood down.
	assert.Equal(t, shown["recipients"], shown["out"]+shown["sending"]+shown["pending"]+shown["failed"]+shown["expired"], "the boxes add up: %v", shown)

	checkpoints := map[string]int{}
	for _, a := range tot.AckBy {
		checkpoints[fmt.Sprint(a.Minutes)] = a.Acked
	}
	assert.Equal(t, checkpoints, browserRun(p, chromedp.Evaluate[map[string]int](readCheckpoints)))

	var want []boardRowOnPage
	for _, g := range b.Grids {
		want = append(want, boardRowOnPage{Code: string(g.Code), Acked: g.Acked, Recipients: g.Recipients})
	}
	require.NotEmpty(t, want)
	assert.Equal(t, want, browserRun(p, chromedp.Evaluate[[]boardRowOnPage](readGridRows)))
}
