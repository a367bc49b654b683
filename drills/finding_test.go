package drills_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/drills"
	"muster/plans"
)

// findingRun starts one notification drill of flood-control in the
// district and returns its run.
func findingRun(t *testing.T, e *env) drills.Run {
	t.Helper()
	ctx := testCtx(t)
	s, err := e.drills.Schedule(ctx, "trainer", weekly(district))
	require.NoError(t, err)
	r, err := e.drills.RunNow(ctx, "trainer", s.ID)
	require.NoError(t, err)
	require.Equal(t, drills.RunStarted, r.Status, "%s", r.Error)
	return r
}

func strp(s string) *string { return &s }

func TestFindingValidation(t *testing.T) {
	e := newEnv(t, 1, 300)
	ctx := testCtx(t)
	run := findingRun(t, e)
	good := drills.FindingInput{Run: run.ID, What: "3名网格员号码错误", Change: "核对并更正网格员号码", Owner: "街道应急办", Due: "2027-01-31"}
	tests := []struct {
		name string
		edit func(in *drills.FindingInput)
		code string
		msg  string // a substring of the error
	}{
		{"unknown run", func(in *drills.FindingInput) { in.Run = "R999999" }, muster.ENotFound, "drill run R999999 does not exist"},
		{"no run", func(in *drills.FindingInput) { in.Run = " " }, muster.EInvalid, "run: name the drill run"},
		{"empty what", func(in *drills.FindingInput) { in.What = "  " }, muster.EInvalid, "what: say what happened"},
		{"empty change", func(in *drills.FindingInput) { in.Change = "" }, muster.EInvalid, "change: say what should change"},
		{"bad status", func(in *drills.FindingInput) { in.Status = "finished" }, muster.EInvalid, "want one of open, in_progress, done, dropped"},
		{"due not a date", func(in *drills.FindingInput) { in.Due = "31/01/2027" }, muster.EInvalid, "want a date written 2006-01-02"},
		{"due not a day", func(in *drills.FindingInput) { in.Due = "2027-02-30" }, muster.EInvalid, "want a date written 2006-01-02"},
		{"due in the past", func(in *drills.FindingInput) { in.Due = "2026-12-06" }, muster.EInvalid, "due 2026-12-06 is in the past (today is 2026-12-07)"},
		{"owner too long", func(in *drills.FindingInput) { in.Owner = strings.Repeat("长", 101) }, muster.EInvalid, "owner: 101 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := good
			tt.edit(&in)
			_, err := e.drills.AddFinding(ctx, "trainer", in)
			require.Error(t, err)
			assert.Equal(t, tt.code, muster.ErrorCode(err), "%v", err)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}

	// The FSM checks on its own, whoever proposes the command.
	b, err := json.Marshal(map[string]any{"input": drills.FindingInput{Run: run.ID, What: "x", Change: " "}})
	require.NoError(t, err)
	err = e.c.Leader().Node.Apply(ctx, &muster.Command{Type: drills.CmdFindingAdd, Actor: "x", Payload: b}, nil)
	assert.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)

	f, err := e.drills.AddFinding(ctx, "trainer", drills.FindingInput{Run: run.ID, What: " 回复率低 ", Change: "增加语音呼叫", Status: "进行中", Due: " 2027-01-31 "})
	require.NoError(t, err)
	assert.Equal(t, drills.FindingInProgress, f.Status, "statuses are read in Chinese too")
	assert.Equal(t, drills.Date("2027-01-31"), f.Due)
	assert.Equal(t, "回复率低", f.What, "text is trimmed")

	updates := []struct {
		name string
		u    drills.FindingUpdate
		msg  string
	}{
		{"nothing given", drills.FindingUpdate{}, "nothing to change"},
		{"what emptied", drills.FindingUpdate{What: strp("")}, "what: say what happened"},
		{"bad status", drills.FindingUpdate{Status: strp("closed-ish")}, "want one of open, in_progress, done, dropped"},
		{"bad due", drills.FindingUpdate{Due: strp("next week")}, "2006-01-02"},
		{"due in the past", drills.FindingUpdate{Due: strp("2025-12-31")}, "due 2025-12-31 is in the past"},
	}
	for _, tt := range updates {
		t.Run("update "+tt.name, func(t *testing.T) {
			_, err := e.drills.UpdateFinding(ctx, "trainer", f.ID, tt.u)
			assert.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
	_, err = e.drills.UpdateFinding(ctx, "trainer", "F999999", drills.FindingUpdate{Owner: strp("x")})
	assert.True(t, muster.IsCode(err, muster.ENotFound), "%v", err)
	_, err = e.drills.Findings(ctx, muster.Default, drills.FindingFilter{Status: "closed"}, plans.Page{})
	assert.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
}

func TestFindingStatusTransitions(t *testing.T) {
	e := newEnv(t, 1, 300)
	ctx := testCtx(t)
	run := findingRun(t, e)
	tests := []struct {
		from, to drills.FindingStatus
		ok       bool
		closed   bool // ClosedAt is set afterwards
	}{
		{drills.FindingOpen, drills.FindingInProgress, true, false},
		{drills.FindingOpen, drills.FindingDone, true, true},
		{drills.FindingOpen, drills.FindingDropped, true, true},
		{drills.FindingInProgress, drills.FindingOpen, true, false},
		{drills.FindingInProgress, drills.FindingDone, true, true},
		{drills.FindingInProgress, drills.FindingDropped, true, true},
		{drills.FindingDone, drills.FindingOpen, true, false},
		{drills.FindingDone, drills.FindingInProgress, true, false},
		{drills.FindingDone, drills.FindingDropped, false, true},
		{drills.FindingDropped, drills.FindingOpen, true, false},
		{drills.FindingDropped, drills.FindingDone, false, true},
		{drills.FindingDone, drills.FindingDone, true, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.from)+" to "+string(tt.to), func(t *testing.T) {
			f, err := e.drills.AddFinding(ctx, "trainer", drills.FindingInput{Run: run.ID, What: "w", Change: "c", Status: string(tt.from)})
			require.NoError(t, err)
			assert.Equal(t, tt.from.Closed(), !f.ClosedAt.IsZero(), "a finding recorded closed is stamped closed")
			got, err := e.drills.UpdateFinding(ctx, "lead", f.ID, drills.FindingUpdate{Status: strp(string(tt.to))})
			if !tt.ok {
				assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
				assert.Contains(t, err.Error(), "reopen it (status open)")
				stored, err := e.drills.Finding(ctx, muster.Default, f.ID)
				require.NoError(t, err)
				assert.Equal(t, f, stored, "a refused move changes nothing")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.to, got.Status)
			assert.Equal(t, tt.closed, !got.ClosedAt.IsZero())
			if tt.from == tt.to {
				assert.Equal(t, f, got, "a move to the same status changes nothing")
			} else {
				assert.Equal(t, "lead", got.UpdatedBy)
			}
		})
	}
}

func TestFindingsThroughCluster(t *testing.T) {
	e := newEnv(t, 3, 300)
	ctx := testCtx(t)
	run := findingRun(t, e)
	// Over the same district: the first stands down before the second
	// runs, which would call the same people up again.
	_, err := e.notify.StandDown(ctx, "trainer", run.Activation, "演练结束")
	require.NoError(t, err)
	other := findingRun(t, e)

	a, err := e.drills.AddFinding(ctx, "trainer", drills.FindingInput{Run: run.ID, What: "12%的人未回复", Change: "对未回复人员增加语音呼叫", Owner: "市应急局", Due: "2027-01-10"})
	require.NoError(t, err)
	assert.Equal(t, drills.FindingID("F000001"), a.ID)
	assert.Equal(t, drills.FindingOpen, a.Status, "open by default")
	assert.Equal(t, plans.PlanID("flood-control"), a.Plan, "the plan is copied from the run")
	assert.Equal(t, "trainer", a.CreatedBy)
	assert.False(t, a.CreatedAt.IsZero())
	assert.True(t, a.ClosedAt.IsZero())
	b, err := e.drills.AddFinding(ctx, "trainer", drills.FindingInput{Run: run.ID, What: "两名网格员号码为座机", Change: "更正为手机号", Owner: "东城街道", Due: "2026-12-08"})
	require.NoError(t, err)
	c, err := e.drills.AddFinding(ctx, "trainer", drills.FindingInput{Run: other.ID, What: "值班表过期", Change: "每月更新值班表"})
	require.NoError(t, err)
	d, err := e.drills.AddFinding(ctx, "trainer", drills.FindingInput{Run: other.ID, What: "短信模板过长", Change: "精简模板", Status: "done"})
	require.NoError(t, err)

	// Only the fields given change.
	got, err := e.drills.UpdateFinding(ctx, "lead", a.ID, drills.FindingUpdate{Owner: strp("区应急局")})
	require.NoError(t, err)
	want := a
	want.Owner, want.UpdatedBy, want.UpdatedAt = "区应急局", "lead", got.UpdatedAt
	assert.Equal(t, want, got)
	assert.False(t, got.UpdatedAt.Before(a.UpdatedAt))
	got, err = e.drills.UpdateFinding(ctx, "lead", a.ID, drills.FindingUpdate{Status: strp("in-progress"), Due: strp("")})
	require.NoError(t, err)
	assert.Equal(t, drills.FindingInProgress, got.Status)
	assert.Empty(t, got.Due, "an empty due date clears it")
	assert.Equal(t, "区应急局", got.Owner)
	assert.Equal(t, a.What, got.What)
	a = got

	// Every node applied the same thing.
	for _, m := range e.c.Nodes {
		svc := drills.NewService(m.Node, m.Node, e.clock)
		require.Eventually(t, func() bool {
			f, err := svc.Finding(ctx, muster.Stale, a.ID)
			return err == nil && f == a
		}, 10*time.Second, 20*time.Millisecond, "node %d", m.Index)
	}

	list := func(f drills.FindingFilter) []drills.FindingID {
		t.Helper()
		var ids []drills.FindingID
		page := plans.Page{Limit: 1}
		for {
			l, err := e.drills.Findings(ctx, muster.Default, f, page)
			require.NoError(t, err)
			for _, x := range l.Items {
				ids = append(ids, x.ID)
			}
			if l.Next == "" {
				return ids
			}
			page.After = l.Next
		}
	}
	assert.Equal(t, []drills.FindingID{a.ID, b.ID, c.ID, d.ID}, list(drills.FindingFilter{}))
	assert.Equal(t, []drills.FindingID{a.ID, b.ID}, list(drills.FindingFilter{Run: run.ID}))
	assert.Equal(t, []drills.FindingID{a.ID, b.ID, c.ID, d.ID}, list(drills.FindingFilter{Plan: "flood-control"}))
	assert.Empty(t, list(drills.FindingFilter{Plan: "hazmat-fire"}))
	assert.Equal(t, []drills.FindingID{d.ID}, list(drills.FindingFilter{Status: drills.FindingDone}))
	assert.Equal(t, []drills.FindingID{a.ID, b.ID, c.ID}, list(drills.FindingFilter{OpenOnly: true}))
	assert.Equal(t, []drills.FindingID{c.ID}, list(drills.FindingFilter{Run: other.ID, OpenOnly: true}))

	// Open items per plan: earliest due first, no due date last, and the
	// ones due before today flagged.
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	_, err = e.drills.UpdateFinding(ctx, "lead", a.ID, drills.FindingUpdate{Due: strp("2027-01-10")})
	require.NoError(t, err)
	now := time.Date(2026, 12, 27, 23, 30, 0, 0, loc)
	open, err := e.drills.OpenFindings(ctx, muster.Default, "", now)
	require.NoError(t, err)
	require.Len(t, open, 1)
	assert.Equal(t, plans.PlanID("flood-control"), open[0].Plan)
	assert.Equal(t, 1, open[0].Overdue)
	var order []drills.FindingID
	for _, it := range open[0].Items {
		order = append(order, it.ID)
	}
	assert.Equal(t, []drills.FindingID{b.ID, a.ID, c.ID}, order)
	assert.True(t, open[0].Items[0].Overdue)
	assert.Equal(t, 19, open[0].Items[0].DaysOverdue)
	assert.False(t, open[0].Items[1].Overdue)
	assert.False(t, open[0].Items[2].Overdue, "no due date, never overdue")

	// On the due day itself an item is not yet overdue; the day is the
	// Shanghai day (16:30 UTC on 8 December is already 9 December there).
	onDay, err := e.drills.OpenFindings(ctx, muster.Default, "flood-control", time.Date(2026, 12, 8, 15, 59, 0, 0, time.UTC))
	require.NoError(t, err)
	assert.Zero(t, onDay[0].Overdue)
	nextDay, err := e.drills.OpenFindings(ctx, muster.Default, "flood-control", time.Date(2026, 12, 8, 16, 30, 0, 0, time.UTC))
	require.NoError(t, err)
	assert.Equal(t, 1, nextDay[0].Overdue)
	none, err := e.drills.OpenFindings(ctx, muster.Default, "hazmat-fire", now)
	require.NoError(t, err)
	assert.Empty(t, none)
}

// A filter naming a plan, schedule or run that does not exist is
// ENotFound, not an empty list: a typo must not read as "never drilled".
// Plans that exist but were never drilled, and a deleted schedule whose
// runs stay, still list.
func TestFiltersRefuseWhatDoesNotExist(t *testing.T) {
	e := newEnv(t, 1, 200)
	ctx := testCtx(t)
	r := findingRun(t, e)
	notFound := func(err error, what string) {
		t.Helper()
		require.True(t, muster.IsCode(err, muster.ENotFound), "%v", err)
		assert.ErrorContains(t, err, what)
	}

	_, err := e.drills.Trend(ctx, muster.Default, "nope")
	notFound(err, "plan nope does not exist")
	_, err = e.drills.Runs(ctx, muster.Default, drills.RunFilter{Plan: "nope"}, plans.Page{})
	notFound(err, "plan nope does not exist")
	_, err = e.drills.Runs(ctx, muster.Default, drills.RunFilter{Schedule: "D000999"}, plans.Page{})
	notFound(err, "D000999 does not exist")
	_, err = e.drills.Findings(ctx, muster.Default, drills.FindingFilter{Run: "R000999"}, plans.Page{})
	notFound(err, "drill run R000999 does not exist")
	_, err = e.drills.Findings(ctx, muster.Default, drills.FindingFilter{Plan: "nope"}, plans.Page{})
	notFound(err, "plan nope does not exist")
	_, err = e.drills.OpenFindings(ctx, muster.Default, "nope", e.clock.Now())
	notFound(err, "plan nope does not exist")

	// Known but empty: lists, not errors.
	tr, err := e.drills.Trend(ctx, muster.Default, "hazmat-fire")
	require.NoError(t, err)
	assert.Empty(t, tr)
	runs, err := e.drills.Runs(ctx, muster.Default, drills.RunFilter{Plan: "hazmat-fire"}, plans.Page{})
	require.NoError(t, err)
	assert.Empty(t, runs.Items)
	fs, err := e.drills.Findings(ctx, muster.Default, drills.FindingFilter{Run: r.ID, Plan: r.Plan}, plans.Page{})
	require.NoError(t, err)
	assert.Empty(t, fs.Items)
	open, err := e.drills.OpenFindings(ctx, muster.Default, r.Plan, e.clock.Now())
	require.NoError(t, err)
	assert.Empty(t, open)
	_, err = e.drills.Delete(ctx, "trainer", r.Schedule)
	require.NoError(t, err)
	runs, err = e.drills.Runs(ctx, muster.Default, drills.RunFilter{Schedule: r.Schedule}, plans.Page{})
	require.NoError(t, err, "a deleted schedule's runs stay")
	require.Len(t, runs.Items, 1)
	assert.Equal(t, r.ID, runs.Items[0].ID)
}
