package drills_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster/clustertest"
	"muster/drills"
	"muster/notify"
	"muster/plans"
)

// A backup the escalation called up in place of a silent person is
// reported as standing in for them: counted in that person's grid (the
// post they took), named in the report's 替补 column with their own
// grid, and their time to acknowledge counts from when their own call-up
// reached them, not from the drill's start. Before, they were an ordinary
// recipient of their own grid, 45 minutes slow.
func TestTheReportCountsAStandInInTheGridTheyCovered(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	clk := clustertest.NewClock(time.Date(2026, 12, 7, 9, 0, 0, 0, loc))
	e := newEnvWith(t, envOptions{nodes: 1, people: 1500, clock: clk, stamp: true})
	ctx := testCtx(t)
	sc, err := e.drills.Schedule(ctx, "trainer", weekly(district))
	require.NoError(t, err)
	run, err := e.drills.RunNow(ctx, "trainer", sc.ID)
	require.NoError(t, err)
	start := clk.Now()

	deliver := func(recs []notify.Recipient) {
		var items []notify.ClaimItem
		for _, rc := range recs {
			items = append(items, notify.ClaimItem{Person: rc.Person})
		}
		var claim notify.ClaimResult
		e.apply(t, notify.CmdDispatchClaim, map[string]any{"a": run.Activation, "i": items}, &claim)
		require.Len(t, claim.Claimed, len(items))
		var results []notify.ResultItem
		var status []notify.InboundItem
		for _, rc := range recs {
			sid := "SM" + string(run.Activation) + string(rc.Person)
			results = append(results, notify.ResultItem{Activation: run.Activation, Person: rc.Person, N: 1, Outcome: notify.OutcomeSent, SID: sid})
			status = append(status, notify.InboundItem{Kind: notify.InboundStatus, Attempt: notify.AttemptID(run.Activation, rc.Person, 1),
				SID: sid, Status: "delivered", Account: senders.Exercise.Account, Exercise: true})
		}
		var sum notify.ResultSummary
		e.apply(t, notify.CmdDispatchResult, map[string]any{"i": results}, &sum)
		require.Equal(t, len(results), sum.Applied)
		var res []notify.InboundResult
		e.apply(t, notify.CmdInbound, map[string]any{"i": status}, &res)
	}
	clk.Set(start.Add(30 * time.Second))
	first := e.recipients(t, run.Activation)
	deliver(first)

	// Nobody answers; at T+45m the backup step (level IV: sms, voice,
	// backup) calls up the silent people's backups.
	clk.Set(start.Add(45 * time.Minute))
	var fire notify.FireResult
	e.apply(t, notify.CmdEscalationFire, map[string]any{"a": run.Activation, "step": 2}, &fire)
	require.Positive(t, fire.Added, "the backup step called up backups: %+v", fire)
	var backups []notify.Recipient
	for _, rc := range e.recipients(t, run.Activation) {
		if rc.BackupFor != nil {
			backups = append(backups, rc)
		}
	}
	require.NotEmpty(t, backups)
	var b notify.Recipient
	for _, rc := range backups {
		if rc.Grid != rc.BackupFor.Grid {
			b = rc
			break
		}
	}
	require.NotEmpty(t, b.Person, "a backup from another grid than the person they stand in for")
	clk.Set(start.Add(46 * time.Minute))
	deliver([]notify.Recipient{b})
	clk.Set(start.Add(46*time.Minute + 20*time.Second))
	var res []notify.InboundResult
	e.apply(t, notify.CmdInbound, map[string]any{"i": []notify.InboundItem{{Kind: notify.InboundReply, SID: "SMstandin1", From: b.Phone,
		To: senders.Exercise.Sender, Body: "1", Account: senders.Exercise.Account, Exercise: true}}}, &res)
	require.Equal(t, notify.InboundApplied, res[0].Outcome)
	_, err = e.drills.Close(ctx, "scheduler", run.ID, "演练结束")
	require.NoError(t, err)

	rep, err := e.drills.Report(ctx, muster.Default, run.ID, clk.Now())
	require.NoError(t, err)
	var got *drills.Outcome
	for i := range rep.People {
		if rep.People[i].Person == b.Person {
			got = &rep.People[i]
		}
	}
	require.NotNil(t, got)
	require.NotNil(t, got.BackupFor, "the report says whom they stand in for")
	assert.Equal(t, b.BackupFor.Person, got.BackupFor.Person)
	assert.Equal(t, b.BackupFor.Grid, got.Grid, "counted in the grid they covered")
	assert.Equal(t, b.Grid, got.OwnGrid)
	assert.Equal(t, notify.StateAcked, got.State)
	assert.Equal(t, 20*time.Second, got.ToAck.Std(), "from their own SMS, not the drill's start")

	var covered, own *drills.Tally
	for i := range rep.Metrics.ByGrid {
		switch plans.RegionCode(rep.Metrics.ByGrid[i].Key) {
		case b.BackupFor.Grid:
			covered = &rep.Metrics.ByGrid[i]
		case b.Grid:
			own = &rep.Metrics.ByGrid[i]
		}
	}
	require.NotNil(t, covered)
	assert.Positive(t, covered.Acked, "the covered grid counts the stand-in's 到")
	if own != nil {
		assert.Zero(t, own.Acked, "their own grid does not: %+v", own)
	}

	var buf bytes.Buffer
	require.NoError(t, drills.WriteReport(&buf, rep, drills.FormatCSV, drills.ReportOptions{}))
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(buf.Bytes(), []byte("\ufeff")))).ReadAll()
	require.NoError(t, err)
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	require.Contains(t, col, "替补")
	found := false
	for _, r := range rows[1:] {
		if r[0] != string(b.Person) {
			continue
		}
		found = true
		assert.Equal(t, string(b.BackupFor.Grid), r[col["网格编码"]])
		assert.Contains(t, r[col["替补"]], b.BackupFor.Name)
		assert.Contains(t, r[col["替补"]], fmt.Sprintf("本人网格 %s", b.Grid))
		assert.Equal(t, "20.0", r[col["确认用时（秒）"]])
	}
	assert.True(t, found)
}
