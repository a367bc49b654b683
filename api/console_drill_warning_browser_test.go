package api_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/access"
	"muster/cluster/clustertest"
	"muster/plans"
)

// An upstream drill's red warning (a CAP alert of status Exercise) that
// nobody answered is never shown as a LIVE one: its prompt and its row are
// marked 【演练】, suggest a drill, not a LIVE response, and come after the
// LIVE warning's, set apart from its red alarm (the Hawaii failure: a
// drill's alert presented as real).
func TestConsoleMarksDrillWarningsInBrowser(t *testing.T) {
	exe := chromium(t)
	// The cluster's clock starts 11 minutes back, so that both warnings
	// are past their 10 minutes to respond by the browser's clock too.
	clk := clustertest.NewClock(time.Now().Add(-11 * time.Minute).Truncate(time.Second))
	f := newFixtureWith(t, 1, clk, "")
	h := f.handler(f.c.Nodes[0])
	withDemo(t, f, h)
	viewer, _ := createToken(t, h, f.root, "指挥大屏", access.Viewer)

	// The drill's alert: red (Extreme), its headline without a drill word.
	sample, err := os.ReadFile(filepath.Join(upstreamDir, "rainstorm-orange.xml"))
	require.NoError(t, err)
	sent := clk.Now().In(shanghai)
	alert := strings.NewReplacer(
		"<cap:status>Actual</cap:status>", "<cap:status>Exercise</cap:status>",
		"<cap:severity>Severe</cap:severity>", "<cap:severity>Extreme</cap:severity>",
		"2026-11-23T08:55:00+08:00", sent.Format(time.RFC3339),
		"2026-11-23T20:00:00+08:00", sent.Add(6*time.Hour).Format(time.RFC3339),
		"示例市气象台发布暴雨橙色预警信号", "暴雨红色预警",
	).Replace(string(sample))
	res := do(t, h, request{method: "POST", path: "/api/v1/cap", token: f.root, body: strings.NewReader(alert)})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var drill plans.Warning
	res.decode(t, &drill)
	require.Equal(t, plans.WarningExercise, drill.Purpose)
	require.Equal(t, plans.WarningRed, drill.Level)

	// A LIVE red warning over 临江区, issued after it.
	res = do(t, h, request{method: "POST", path: "/api/v1/warnings", token: f.root, body: jsonBody(map[string]any{
		"regions": []string{"990103"}, "level": "红", "event": "暴雨", "headline": "临江区暴雨红色预警", "expires_in": "6h",
	})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var live plans.Warning
	res.decode(t, &live)
	clk.Add(11 * time.Minute)

	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	p := newBrowserPage(t, exe) // after the server: the browser closes first
	p.do("log in", 20*time.Second,
		append(logInAt(srv.URL+"/#/modes", viewer),
			chromedp.WaitReady(chromedp.CSS(`#warning-prompt:not([hidden]) [data-warning="`+string(live.ID)+`"]`)),
			chromedp.WaitReady(chromedp.CSS(`#warning-prompt [data-warning="`+string(drill.ID)+`"]`)))...,
	)
	liveLine := p.text(`#warning-prompt [data-warning="` + string(live.ID) + `"]`)
	assert.Regexp(t, `^红色预警 `+string(live.ID)+` 已 \d+ 分钟无响应：建议启动 \S+ I级$`, liveLine)
	drillLine := p.text(`#warning-prompt [data-warning="` + string(drill.ID) + `"]`)
	assert.Regexp(t, `^【演练】红色预警 `+string(drill.ID)+` 已 \d+ 分钟无演练响应：建议启动演练 \S+ I级`, drillLine)
	assert.NotRegexp(t, `建议启动 \S+ I级`, drillLine, "a drill's warning suggests no LIVE response")
	// The LIVE line first; the drill's after it, in a part of its own,
	// not in the LIVE alarm's colours.
	assert.Regexp(t, `^`+regexp.QuoteMeta(liveLine)+`\s*`+regexp.QuoteMeta(drillLine)+`$`, p.text("#warning-prompt"))
	apart := browserRun(p, chromedp.Evaluate[map[string]any](`(() => {
		const box = document.getElementById('warning-prompt');
		const d = box.querySelector('[data-warning="`+string(drill.ID)+`"]').closest('.drills');
		const live = box.querySelector('[data-warning="`+string(live.ID)+`"]');
		return {inDrills: !!d, liveInDrills: !!live.closest('.drills'),
			drillBg: d ? getComputedStyle(d).backgroundColor : '', boxBg: getComputedStyle(box).backgroundColor,
			drillColor: d ? getComputedStyle(d).color : '', liveColor: getComputedStyle(live).color};
	})()`))
	assert.Equal(t, true, apart["inDrills"], "the drill's line stands in a part of its own")
	assert.Equal(t, false, apart["liveInDrills"])
	assert.NotEqual(t, apart["boxBg"], apart["drillBg"], "the drill's part is not on the LIVE alarm's background")
	assert.NotEqual(t, apart["liveColor"], apart["drillColor"])

	// The modes page's table: the LIVE row first, the drill's marked.
	p.waitFor("the drill's row", `#warning-rows tr[data-warning="`+string(drill.ID)+`"][data-purpose="EXERCISE"].drill`, 10*time.Second)
	order := browserRun(p, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#warning-rows tr[data-warning]')].map(tr => tr.dataset.warning)`))
	assert.Equal(t, []string{string(live.ID), string(drill.ID)}, order)
	row := `#warning-rows tr[data-warning="` + string(drill.ID) + `"]`
	assert.Equal(t, "【演练】红色预警", p.text(row+" td:nth-child(2)"))
	assert.Regexp(t, `^已超时 \d+ 分钟，未演练响应：建议启动演练 \S+ I级`, p.text(row+" .respond-by"))
	assert.Regexp(t, `^已超时 \d+ 分钟，未响应：建议启动 \S+ I级$`, p.text(`#warning-rows tr[data-warning="`+string(live.ID)+`"] .respond-by`))
	assert.Equal(t, "红色预警", p.text(`#warning-rows tr[data-warning="`+string(live.ID)+`"] td:nth-child(2)`))
	assert.Empty(t, p.scriptErrors(), "the console ran without script errors or policy violations")
}
