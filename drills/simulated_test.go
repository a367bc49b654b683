package drills_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/drills"
	"muster/notify"
	"muster/plans"
)

// simulatedSend claims attempt 1 to each person as a leader whose
// exercise route is the built-in simulator does (the claim says sim), and
// commits it sent.
func simulatedSend(t *testing.T, e *env, act plans.ActivationID, people ...plans.PersonID) {
	t.Helper()
	var claims []notify.ClaimItem
	var sent []notify.ResultItem
	for _, p := range people {
		claims = append(claims, notify.ClaimItem{Person: p})
		sent = append(sent, notify.ResultItem{Activation: act, Person: p, N: 1, Outcome: notify.OutcomeSent, SID: "SMsim" + string(act) + string(p)})
	}
	var claimed notify.ClaimResult
	overdueApply(t, e, notify.CmdDispatchClaim, map[string]any{"a": act, "i": claims, "sim": true}, &claimed)
	require.Len(t, claimed.Claimed, len(people))
	var sum notify.ResultSummary
	overdueApply(t, e, notify.CmdDispatchResult, map[string]any{"i": sent}, &sum)
	require.Equal(t, len(people), sum.Applied)
}

// A drill whose call-up the leader sent through the built-in simulator (an
// agent without an EXERCISE account) reached no phone: the call-up, the
// run and its report say so (模拟器发送，未到达任何手机), it is not the
// region's last drill held, and the people silent in it and in the drill
// held before are not listed to chase.
func TestADrillSentThroughTheSimulatorIsNotADrillHeld(t *testing.T) {
	e := newEnvWith(t, envOptions{nodes: 1, people: 400, stamp: true})
	ctx := testCtx(t)
	s, err := e.drills.Schedule(ctx, "trainer", drillInput("flood-control", drills.Notification, district))
	require.NoError(t, err)

	// Run 1, held: sent on a real exercise account; everyone but p0 answers.
	run1, err := e.drills.RunNow(ctx, "trainer", s.ID)
	require.NoError(t, err)
	rs := overdueRecipients(t, e, run1.Activation)
	require.GreaterOrEqual(t, len(rs), 3)
	sendTo(t, e, run1.Activation, peopleBut(rs)...)
	var acks []notify.InboundItem
	for _, r := range rs[1:] {
		acks = append(acks, reply(run1.Activation, r, "1"))
	}
	overdueInbound(t, e, acks...)
	e.clock.Set(run1.EndsAt)
	_, err = e.drills.Close(ctx, "trainer", run1.ID, "")
	require.NoError(t, err)

	// Run 2: sent through the simulator, everyone "delivered" and silent.
	run2, err := e.drills.RunNow(ctx, "trainer", s.ID)
	require.NoError(t, err)
	rs2 := overdueRecipients(t, e, run2.Activation)
	require.Len(t, rs2, len(rs))
	simulatedSend(t, e, run2.Activation, peopleBut(rs2)...)

	st, err := e.notify.Activation(ctx, muster.Default, run2.Activation)
	require.NoError(t, err)
	assert.True(t, st.Simulated, "the call-up records that it went to the simulator")
	assert.EqualValues(t, len(rs2), st.Counters.Dispatch[notify.SimulatedCounter], "every claim counted")
	first, err := e.notify.Activation(ctx, muster.Default, run1.Activation)
	require.NoError(t, err)
	assert.False(t, first.Simulated, "a call-up sent on an account is not marked")

	running, err := e.drills.GetRun(ctx, muster.Default, run2.ID)
	require.NoError(t, err)
	assert.True(t, running.Simulated, "said while it runs")
	assert.Equal(t, drills.OutcomeRunning, running.Outcome)

	e.clock.Set(run2.EndsAt)
	_, err = e.drills.Close(ctx, "trainer", run2.ID, "")
	require.NoError(t, err)
	got, err := e.drills.GetRun(ctx, muster.Default, run2.ID)
	require.NoError(t, err)
	assert.Equal(t, drills.OutcomeSimulated, got.Outcome, "not held, though it ran its length")
	held, err := e.drills.GetRun(ctx, muster.Default, run1.ID)
	require.NoError(t, err)
	assert.Equal(t, drills.OutcomeHeld, held.Outcome)
	list, err := e.drills.Runs(ctx, muster.Default, drills.RunFilter{}, plans.Page{})
	require.NoError(t, err)
	require.Len(t, list.Items, 2)
	assert.True(t, list.Items[1].Simulated)
	assert.Equal(t, drills.OutcomeSimulated, list.Items[1].Outcome)

	// The overdue report: run 1 is the last drill held, and p0, silent in
	// both runs, is not someone two drills failed to reach.
	rep, err := e.drills.Overdue(ctx, muster.Default, run2.EndsAt.Add(24*time.Hour))
	require.NoError(t, err)
	flood := findRegion(t, rep, "flood-control", city)
	assert.Equal(t, run1.ID, flood.Notification.LastRun, "the simulated run is not the last drill held")
	for _, f := range rep.Roster {
		assert.NotContains(t, f.Runs, run2.ID, "nobody silent in the simulated run is chased: %+v", f)
	}

	// The report says so, in both languages and in JSON.
	r, err := e.drills.Report(ctx, muster.Default, run2.ID, run2.EndsAt.Add(time.Second))
	require.NoError(t, err)
	assert.True(t, r.Metrics.Simulated)
	require.Len(t, r.Trend, 2)
	assert.True(t, r.Trend[1].Simulated)
	assert.False(t, r.Trend[0].Simulated)
	var zh, en, js bytes.Buffer
	require.NoError(t, drills.WriteReport(&zh, r, drills.FormatHTML, drills.ReportOptions{Lang: plans.LangZH}))
	require.NoError(t, drills.WriteReport(&en, r, drills.FormatHTML, drills.ReportOptions{Lang: plans.LangEN}))
	require.NoError(t, drills.WriteReport(&js, r, drills.FormatJSON, drills.ReportOptions{}))
	assert.Contains(t, zh.String(), "模拟器发送，未到达任何手机")
	assert.Contains(t, zh.String(), "不计为已开展的演练")
	assert.Contains(t, en.String(), "sent through the built-in simulator: no phone was reached")
	assert.Contains(t, en.String(), "It does not count as a drill held.")
	assert.Contains(t, js.String(), `"simulated": true`)

	r1, err := e.drills.Report(ctx, muster.Default, run1.ID, run2.EndsAt.Add(time.Second))
	require.NoError(t, err)
	zh.Reset()
	require.NoError(t, drills.WriteReport(&zh, r1, drills.FormatHTML, drills.ReportOptions{Lang: plans.LangZH}))
	assert.NotContains(t, zh.String(), "未到达任何手机", "the held run's report says nothing of it")
}
