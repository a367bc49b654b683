package api_test

import (
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The board's subtitle names the plan, level, regions, status and who
// started the call-up, and nothing after: a call-up that is no correction
// has no correction text to add.
func TestConsoleBoardSubtitleInBrowser(t *testing.T) {
	exe := chromium(t)
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	a := boardCallUp(t, f, h, 100, "990101")
	require.NotEmpty(t, a.CreatedBy)

	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	p := newBrowserPage(t, exe) // after the server: the browser closes first
	p.do("open the board", 20*time.Second,
		append(logInAt(srv.URL+"/#/board/"+string(a.ID), f.root), chromedp.WaitReady(chromedp.CSS(`#as-of[data-as-of]`)))...,
	)
	sub := p.text("#board-sub")
	assert.Contains(t, sub, a.PlanTitle)
	assert.Contains(t, sub, a.RegionNames)
	assert.Regexp(t, "· 发起："+regexp.QuoteMeta(a.CreatedBy)+"$", sub, "the subtitle ends with who started the call-up")
	assert.Empty(t, p.scriptErrors(), "the console ran without script errors or policy violations")
}
