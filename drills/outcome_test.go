package drills_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/drills"
	"muster/notify"
	"muster/plans"
)

// A started run says what became of it — running, then held, cut_short,
// stopped_by_live or retracted — and the collector counts the runs over by
// that outcome, so that a dashboard counts the drills actually held; the
// runs counter by status still counts every one started.
func TestRunOutcomesAreReadAndCounted(t *testing.T) {
	e := newClockedEnv(t, 1, 300, nil)
	ctx := testCtx(t)
	_, _, sched := e.on(e.c.Leader(), drills.SchedulerConfig{})
	c := sched.Collector()
	// Due on New Year's Day: nothing is due while the test runs them by hand.
	week := scheduledAs(t, e, district, "0 9 1 1 *", "")
	away := scheduledAs(t, e, other, "0 9 1 1 *", "江北通讯演练")
	outcome := func(id drills.RunID) string {
		t.Helper()
		r, err := e.drills.GetRun(ctx, muster.Default, id)
		require.NoError(t, err)
		return r.Outcome
	}
	ended := func(cut, held, retracted, stopped int) string {
		return strings.NewReplacer("{C}", itoa(cut), "{H}", itoa(held), "{R}", itoa(retracted), "{S}", itoa(stopped)).Replace(`
# HELP muster_drill_runs_ended_total Started drill runs whose call-up is over, by outcome (held, cut_short, stopped_by_live, retracted); only held ones count as drills.
# TYPE muster_drill_runs_ended_total counter
muster_drill_runs_ended_total{outcome="cut_short"} {C}
muster_drill_runs_ended_total{outcome="held"} {H}
muster_drill_runs_ended_total{outcome="retracted"} {R}
muster_drill_runs_ended_total{outcome="stopped_by_live"} {S}
`)
	}

	early, err := e.drills.RunNow(ctx, "trainer", week.ID)
	require.NoError(t, err)
	assert.Equal(t, drills.OutcomeRunning, outcome(early.ID))
	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(ended(0, 0, 0, 0)), "muster_drill_runs_ended_total"))
	e.clock.Add(time.Minute)
	_, err = e.notify.StandDown(ctx, "trainer", early.Activation, "提前结束")
	require.NoError(t, err)
	assert.Equal(t, drills.OutcomeCutShort, outcome(early.ID))

	held, err := e.drills.RunNow(ctx, "trainer", week.ID)
	require.NoError(t, err)
	e.clock.Set(held.EndsAt)
	rep, err := sched.Tick(ctx)
	require.NoError(t, err)
	require.Contains(t, rep.Closed, held.ID)
	assert.Equal(t, drills.OutcomeHeld, outcome(held.ID))

	stopped, err := e.drills.RunNow(ctx, "trainer", away.ID)
	require.NoError(t, err)
	_, err = e.notify.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{other}, Level: "IV", Purpose: "LIVE", Reason: "暴雨"})
	require.NoError(t, err)
	assert.Equal(t, drills.OutcomeStopped, outcome(stopped.ID))

	retracted, err := e.drills.RunNow(ctx, "trainer", week.ID)
	require.NoError(t, err)
	_, err = e.notify.Retract(ctx, "trainer", retracted.Activation, notify.RetractRequest{Message: "误发，请忽略"})
	require.NoError(t, err)
	assert.Equal(t, drills.OutcomeRetracted, outcome(retracted.ID))

	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(ended(1, 1, 1, 1)), "muster_drill_runs_ended_total"),
		"runs seen running at the scrape before are counted once over")
	runs, err := e.drills.Runs(ctx, muster.Default, drills.RunFilter{}, plans.Page{})
	require.NoError(t, err)
	for _, r := range runs.Items {
		assert.Equal(t, drills.RunStarted, r.Status, "%s keeps its status", r.ID)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
