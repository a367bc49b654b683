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
	return newEnvWith(t, envOptions{nodes: nodes, people: people})
}

// envOptions shape an env: nodes and people; the clock (default: one at
// start); with stamp the cluster stamps commands with it (deterministic
// times for golden files); with everyone the "everyone" plan is applied too.
type envOptions struct {
	nodes, people   int
	rules           int // the cluster's rules (0: this muster's)
	clock           *clustertest.Clock
	stamp, everyone bool
	// leader, when set, is called on each node before it starts (to
	// register leader services on the clock).
	leader func(n *cluster.Node, clk *clustertest.Clock)
}

func newEnvWith(t testing.TB, o envOptions) *env {
	ctx := testCtx(t)
	clk := o.clock
	if clk == nil {
		clk = clustertest.NewClock(start)
	}
	opts := clustertest.Options{Setup: func(i int, n *cluster.Node) {
		setup(i, n)
		if o.leader != nil {
			o.leader(n, clk)
		}
	}}
	opts.Config = func(_ int, cfg *cluster.Config) {
		if o.nodes == 1 {
			// A lone node elects itself only once its heartbeat timeout
			// has passed, 1 – 2 s with clustertest's; with no peer to
			// lose touch with, a short one makes nothing flaky.
			cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 100*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond
		}
		if o.stamp {
			cfg.Clock = clk
		}
		cfg.Rules = o.rules
	}
	c := clustertest.New(t, o.nodes, opts)
	n := c.Leader().Node
	e := &env{c: c, clock: clk, plans: plans.NewService(n, n), notify: notify.NewService(n, n, senders), drills: drills.NewService(n, n, clk)}
	e.drills.Rules = func() int { return n.Status().Rules } // as muster serve wires it
	_, err := e.plans.ImportRegions(ctx, "test", bytes.NewReader(examples.RegionsCSV()))
	require.NoError(t, err)
	regions, err := examples.Regions()
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, examples.GenerateRoster(&buf, o.people, 7, examples.Grids(regions)))
	res, err := e.plans.ImportRoster(ctx, "test", &buf, plans.ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, o.people, res.Created)
	files, err := examples.Plans()
	require.NoError(t, err)
	if o.everyone {
		files = append(files, examples.PlanFile{Name: "everyone.yaml", Data: examples.EveryonePlan})
	}
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
