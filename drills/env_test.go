package drills_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/drills"
	"muster/examples"
	"muster/notify"
	"muster/plans"
)

const (
	city     = plans.RegionCode("990100")
	district = plans.RegionCode("990101")
	street   = plans.RegionCode("990101001")
	other    = plans.RegionCode("990102")
)

var senders = notify.Senders{
	Live:     notify.SendInfo{Account: "AC-live", Sender: "+8610690000", PerSecond: 100},
	Exercise: notify.SendInfo{Account: "AC-drill", Sender: "+8610690001", PerSecond: 50},
}

// env is a real cluster with the demo city, a generated roster and the
// example plans, and the services drills tests use, all on one hand-moved
// clock.
type env struct {
	c      *clustertest.Cluster
	clock  *clustertest.Clock
	plans  *plans.Service
	notify *notify.Service
	drills *drills.Service
}

func setup(_ int, n *cluster.Node) {
	plans.Register(n)
	notify.Register(n)
	drills.Register(n)
}

// start is a Monday morning in Shanghai.
var start = time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC).Add(-8 * time.Hour)

func newEnv(t testing.TB, nodes, people int) *env {
	ctx := testCtx(t)
	c := clustertest.New(t, nodes, clustertest.Options{Setup: setup})
	n := c.Leader().Node
	clk := clustertest.NewClock(start)
	e := &env{c: c, clock: clk, plans: plans.NewService(n, n), notify: notify.NewService(n, n, senders), drills: drills.NewService(n, n, clk)}
	_, err := e.plans.ImportRegions(ctx, "test", bytes.NewReader(examples.RegionsCSV()))
	require.NoError(t, err)
	regions, err := examples.Regions()
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, examples.GenerateRoster(&buf, people, 7, examples.Grids(regions)))
	res, err := e.plans.ImportRoster(ctx, "test", &buf, plans.ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, people, res.Created)
	files, err := examples.Plans()
	require.NoError(t, err)
	for _, f := range files {
		_, err := e.plans.ApplyPlan(ctx, "test", f.Name, f.Data)
		require.NoError(t, err)
	}
	return e
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
