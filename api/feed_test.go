package api_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
	"muster/cluster"
	"muster/cluster/clustertest"
)

// A feed token, the one a machine relaying a meteorological service's CAP
// feed holds, posts upstream alerts and can do nothing else: not read, not
// activate, not stand down; a commander still posts them too.
func TestAFeedTokenOnlyPostsCAP(t *testing.T) {
	clk := clustertest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, shanghai).UTC())
	f := newCAPFixture(t, clk)
	h := f.handler(f.c.Nodes[0])
	withDemo(t, f, h)
	feed, tok := createToken(t, h, f.root, "气象台转发", access.Feed)
	assert.Equal(t, access.Feed, tok.Role)
	sample, err := os.ReadFile(filepath.Join(upstreamDir, "rainstorm-orange.xml"))
	require.NoError(t, err)

	res := do(t, h, request{method: "POST", path: "/api/v1/cap", token: feed, body: bytes.NewReader(sample),
		header: map[string]string{"Content-Type": "application/cap+xml"}})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	for _, r := range []request{
		{method: "GET", path: "/api/v1/warnings"},
		{method: "GET", path: "/api/v1/people"},
		{method: "POST", path: "/api/v1/activations", body: jsonBody(map[string]any{"plan": "flood-control", "regions": []string{"990101"}, "level": "IV", "purpose": "LIVE", "reason": "内涝"})},
		{method: "POST", path: "/api/v1/warnings", body: jsonBody(map[string]any{"regions": []string{"990101"}, "level": "blue", "event": "大风", "headline": "大风蓝色预警"})},
		{method: "GET", path: "/api/v1/tokens"},
	} {
		r.token = feed
		res = do(t, h, r)
		assert.Equal(t, http.StatusForbidden, res.Code, "%s %s: %s", r.method, r.path, res.Body)
	}
}

// Under rules 10 no feed token is made: an older muster in the cluster
// knows no such role.
func TestNoFeedTokenUnderRules10(t *testing.T) {
	c := clustertest.New(t, 1, clustertest.Options{Setup: func(_ int, n *cluster.Node) { access.Register(n) },
		Config: func(_ int, cfg *cluster.Config) { cfg.Rules = 10 }})
	n := c.Nodes[0].Node
	svc := access.NewService(n, n)
	_, _, err := svc.Create(ctx(t), "admin", "气象台转发", "", access.Feed)
	require.Error(t, err)
	assert.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
	assert.Contains(t, err.Error(), `unknown role "feed"`)
	_, _, err = svc.Create(ctx(t), "admin", "值班员", "", access.Viewer)
	require.NoError(t, err, "other roles as before")
}
