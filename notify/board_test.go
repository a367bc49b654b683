package notify_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/notify"
	"muster/plans"
)

// boardWant is what the board must say of one grid, computed by the test
// from the answers it sent.
type boardWant struct {
	notify.StatusCounts
	ackBy map[int]int
}

// submitReplies sends each recipient's reply to a LIVE call-up as a real
// inbound SMS on the live account, from a few goroutines so they batch as
// webhooks do.
func submitReplies(t *testing.T, in *notify.Inbound, rs []notify.Recipient, body string, sid *int) {
	t.Helper()
	items := make(chan notify.InboundItem)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for range 8 {
		wg.Go(func() {
			for it := range items {
				res, err := in.Submit(testCtx(t), it)
				if err == nil && res.Outcome != notify.InboundApplied {
					err = fmt.Errorf("reply from %s: outcome %s", it.From, res.Outcome)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, r := range rs {
		*sid++
		items <- notify.InboundItem{Kind: notify.InboundReply, SID: fmt.Sprintf("SMboard%06d", *sid), From: r.Phone, To: senders.Live.Sender, Body: body, Account: senders.Live.Account}
	}
	close(items)
	wg.Wait()
	require.Empty(t, errs)
}

func TestBoardCountsReportsByCheckpoint(t *testing.T) {
	t0 := time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)
	clk := clustertest.NewClock(t0)
	e := newEnvWith(t, 1, 1500, clustertest.Options{Setup: setup, Config: func(_ int, c *cluster.Config) { c.Clock = clk }}, testCtx(t))
	ctx := testCtx(t)
	a, err := e.svc.Activate(ctx, "commander", floodIV(district))
	require.NoError(t, err)
	require.Equal(t, t0, a.CreatedAt)
	recs := allRecipients(t, e, a.ID, notify.RecipientFilter{})
	require.Greater(t, len(recs), 70, "enough recipients for every kind of answer")

	// Recipients take turns: reported at T+2m, T+10m, T+20m, T+40m, declined
	// at T+3m, failed, or silent.
	phases := make([][]notify.Recipient, 7)
	want := map[plans.RegionCode]*boardWant{}
	for i, r := range recs {
		k := i % 7
		phases[k] = append(phases[k], r)
		w := want[r.Grid]
		if w == nil {
			w = &boardWant{ackBy: map[int]int{}}
			want[r.Grid] = w
		}
		w.Recipients++
		switch k {
		case 0, 1, 2, 3:
			w.Acked++
			for _, cp := range []int{5, 15, 30} {
				if []int{2, 10, 20, 40}[k] <= cp {
					w.ackBy[cp]++
				}
			}
		case 4:
			w.Declined++
		case 5:
			w.Failed++
		case 6:
			w.Pending++
		}
	}
	in := notify.NewInbound(e.c.Leader().Node, notify.InboundConfig{})
	t.Cleanup(in.Close)
	sid := 0
	for _, step := range []struct {
		at    time.Duration
		phase int
		body  string
	}{
		{2 * time.Minute, 0, "1"},
		{3 * time.Minute, 4, "2 家中有事"},
		{10 * time.Minute, 1, "收到"},
		{20 * time.Minute, 2, "１"},
		{40 * time.Minute, 3, "到"},
	} {
		clk.Set(t0.Add(step.at))
		submitReplies(t, in, phases[step.phase], step.body, &sid)
	}
	for _, r := range phases[5] {
		body, _ := json.Marshal(map[string]any{"Activation": a.ID, "Person": r.Person, "State": notify.StateFailed})
		require.NoError(t, e.c.Leader().Node.Apply(ctx, &muster.Command{Type: cmdSetState, Actor: "test", Payload: body}, nil))
	}

	b, err := e.svc.Board(ctx, muster.Default, a.ID)
	require.NoError(t, err)
	assert.Equal(t, a.ID, b.Activation)
	assert.Equal(t, notify.StatusActive, b.Status)
	assert.Equal(t, []int{5, 15, 30}, b.Checkpoints)
	assert.True(t, b.AsOf.IsZero(), "the service reads no clock")

	// Every grid says what the test did to its people.
	require.Len(t, b.Grids, len(want))
	for i, row := range b.Grids {
		if i > 0 {
			assert.Less(t, b.Grids[i-1].Code, row.Code, "grids by code")
		}
		w := want[row.Code]
		require.NotNil(t, w, "grid %s has no recipients", row.Code)
		assert.Equal(t, w.Recipients, row.Recipients, row.Code)
		assert.Equal(t, w.Acked, row.Acked, row.Code)
		assert.Equal(t, w.Declined, row.Declined, row.Code)
		assert.Equal(t, w.Failed, row.Failed, row.Code)
		assert.Equal(t, w.Pending, row.Pending, row.Code)
		assert.Equal(t, w.Pending, row.Unanswered, row.Code)
		assert.Equal(t, notify.Percent(w.Acked, w.Recipients), row.AckedPct, row.Code)
		require.Len(t, row.AckBy, 3)
		for _, ab := range row.AckBy {
			assert.Equal(t, w.ackBy[ab.Minutes], ab.Acked, "%s T+%d", row.Code, ab.Minutes)
			assert.Equal(t, notify.Percent(w.ackBy[ab.Minutes], w.Recipients), ab.Pct)
		}
		assert.Equal(t, plans.KindGrid, row.Kind)
		assert.NotEmpty(t, row.Name, row.Code)
	}
	// Names and paths come from the region tree.
	g := b.Grids[0]
	grid, err := e.plans.Region(ctx, muster.Default, g.Code)
	require.NoError(t, err)
	community, err := e.plans.Region(ctx, muster.Default, grid.Parent)
	require.NoError(t, err)
	street, err := e.plans.Region(ctx, muster.Default, community.Parent)
	require.NoError(t, err)
	dist, err := e.plans.Region(ctx, muster.Default, street.Parent)
	require.NoError(t, err)
	assert.Equal(t, grid.Name, g.Name)
	assert.Equal(t, dist.Name+" / "+street.Name+" / "+community.Name, g.Path)

	// The total is the sum, and T+5/15/30 are cumulative.
	tot := b.Total
	assert.Equal(t, a.Recipients, tot.Recipients)
	assert.Equal(t, len(phases[0])+len(phases[1])+len(phases[2])+len(phases[3]), tot.Acked)
	assert.Equal(t, len(phases[4]), tot.Declined)
	assert.Equal(t, len(phases[5]), tot.Failed)
	assert.Equal(t, len(phases[6]), tot.Unanswered)
	assert.Equal(t, []int{len(phases[0]), len(phases[0]) + len(phases[1]), len(phases[0]) + len(phases[1]) + len(phases[2])},
		[]int{tot.AckBy[0].Acked, tot.AckBy[1].Acked, tot.AckBy[2].Acked})
	assert.Equal(t, notify.Percent(tot.Acked, tot.Recipients), tot.AckedPct)

	// Regions roll the grids up to the streets of the district; people
	// drawn from elsewhere by plan-wide roles roll up to their streets,
	// marked outside.
	sum, outside := 0, 0
	for _, r := range b.Regions {
		assert.Equal(t, plans.KindStreet, r.Kind, r.Code)
		assert.Equal(t, !strings.HasPrefix(string(r.Code), string(district)), r.Outside, r.Code)
		if r.Outside {
			outside += r.Recipients
		}
		var w notify.StatusCounts
		ack5 := 0
		for _, g := range b.Grids {
			if strings.HasPrefix(string(g.Code), string(r.Code)) {
				w.Recipients += g.Recipients
				w.Acked += g.Acked
				ack5 += g.AckBy[0].Acked
			}
		}
		assert.Equal(t, w.Recipients, r.Recipients, r.Code)
		assert.Equal(t, w.Acked, r.Acked, r.Code)
		assert.Equal(t, ack5, r.AckBy[0].Acked, r.Code)
		assert.NotEmpty(t, r.Path, "a street's path names its district")
		sum += r.Recipients
	}
	assert.Equal(t, tot.Recipients, sum, "the regions cover every recipient")
	assert.Positive(t, outside, "值班领导 reach the whole plan")

	// At stamps the time: checkpoints pass as the call-up ages.
	at := b.At(t0.Add(12 * time.Minute))
	assert.Equal(t, 12*time.Minute, at.Elapsed)
	assert.Equal(t, []bool{true, false, false}, []bool{at.Total.AckBy[0].Reached, at.Total.AckBy[1].Reached, at.Total.AckBy[2].Reached})
	assert.True(t, at.Grids[0].AckBy[0].Reached)
	assert.False(t, at.Regions[0].AckBy[2].Reached)
	assert.False(t, b.Total.AckBy[0].Reached, "At changes a copy")
	assert.Equal(t, time.Duration(0), b.At(t0.Add(-time.Minute)).Elapsed, "a clock behind the activation gives zero")

	// The summary of the counters agrees with the board.
	st, err := e.svc.Activation(ctx, muster.Default, a.ID)
	require.NoError(t, err)
	sm := st.Summary()
	assert.Equal(t, tot.StatusCounts, sm.Counts)
	require.Len(t, sm.Roles, len(a.Roles))
	for i, r := range sm.Roles {
		assert.Equal(t, a.Roles[i].Name, r.Name)
	}
	require.Len(t, sm.Grids, len(b.Grids))
	for i, g := range sm.Grids {
		assert.Equal(t, b.Grids[i].Code, g.Grid)
		assert.Equal(t, b.Grids[i].StatusCounts, g.StatusCounts)
	}
	assert.False(t, st.Settled(), "silent people may still answer")

	// Stood down with nothing in flight, the counts stop moving.
	_, err = e.svc.StandDown(ctx, "commander", a.ID, "演练结束")
	require.NoError(t, err)
	st, err = e.svc.Activation(ctx, muster.Default, a.ID)
	require.NoError(t, err)
	assert.True(t, st.Settled())
	b, err = e.svc.Board(ctx, muster.Default, a.ID)
	require.NoError(t, err)
	assert.Equal(t, notify.StatusStoodDown, b.Status)
	assert.Equal(t, t0.Add(40*time.Minute), b.StoodDownAt)

	_, err = e.svc.Board(ctx, muster.Default, "A999999")
	assert.True(t, muster.IsCode(err, muster.ENotFound), "%v", err)
}

// TestBoardRollsUpBelowTheActivatedRegions checks the rollup level for
// activations of a city and of a single grid.
func TestBoardRollsUpBelowTheActivatedRegions(t *testing.T) {
	e := newEnv(t, 1, 1500)
	ctx := testCtx(t)
	for _, tc := range []struct {
		name   string
		region plans.RegionCode
		kind   plans.RegionKind
	}{
		{"city: districts", city, plans.KindDistrict},
		{"street: communities", street, plans.KindCommunity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The whole city is more than level IV usually calls: confirmed.
			a, err := e.svc.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{tc.region}, Level: "IV", Purpose: "EXERCISE", Reason: "通讯演练",
				ConfirmScope: string(tc.region), Repeat: true})
			require.NoError(t, err)
			b, err := e.svc.Board(ctx, muster.Default, a.ID)
			require.NoError(t, err)
			require.NotEmpty(t, b.Regions)
			sum := 0
			for _, r := range b.Regions {
				if !r.Outside {
					assert.Equal(t, tc.kind, r.Kind, r.Code)
					assert.True(t, strings.HasPrefix(string(r.Code), plans.RegionPrefix(plans.Region{Code: tc.region, Kind: regionKindOf(tc.region)})), r.Code)
				}
				sum += r.Recipients
			}
			assert.Equal(t, a.Recipients, sum)
			assert.Equal(t, a.Recipients, b.Total.Recipients)
			assert.Equal(t, a.Recipients, b.Total.Pending)
			assert.Zero(t, b.Total.AckedPct)
		})
	}
	// A grid activated on its own is its own rollup.
	grids, err := e.plans.Regions(ctx, muster.Default, plans.RegionFilter{Kind: plans.KindGrid}, plans.Page{Limit: 1})
	require.NoError(t, err)
	require.Len(t, grids.Items, 1)
	g := grids.Items[0]
	st, err := e.svc.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{g.Code}, Level: "IV", Purpose: "TEST", Reason: "测试", Repeat: true})
	require.NoError(t, err)
	b, err := e.svc.Board(ctx, muster.Default, st.ID)
	require.NoError(t, err)
	for _, r := range b.Regions {
		assert.Equal(t, plans.KindGrid, r.Kind)
		assert.Equal(t, r.Code != g.Code, r.Outside, r.Code)
	}
}

func regionKindOf(code plans.RegionCode) plans.RegionKind {
	switch {
	case code == city:
		return plans.KindCity
	case len(code) == 6:
		return plans.KindDistrict
	case len(code) == 9:
		return plans.KindStreet
	case len(code) == 12:
		return plans.KindCommunity
	}
	return plans.KindGrid
}

func TestStatusCountsAndSettled(t *testing.T) {
	counts := notify.CountStates(map[notify.State]int{
		notify.StatePending: 1, notify.StateSending: 2, notify.StateSent: 3, notify.StateDelivered: 4, notify.StateAcked: 5,
		notify.StateDeclined: 6, notify.StateFailed: 7, notify.StateEscalated: 8, notify.StateExpired: 9,
	})
	assert.Equal(t, notify.StatusCounts{Recipients: 45, Pending: 1, Sending: 2, Sent: 3, Delivered: 4, Acked: 5, Declined: 6, Failed: 7, Escalated: 8, Expired: 9}, counts)
	assert.Equal(t, 3+4+5+6+8, counts.Out())
	assert.Equal(t, 5, counts.InFlight())
	assert.Equal(t, 45-5-6-7, counts.Unanswered())
	assert.Equal(t, 33.3, notify.Percent(1, 3))
	assert.Equal(t, 66.7, notify.Percent(2, 3))
	assert.Zero(t, notify.Percent(1, 0))

	status := func(s notify.Status, by map[notify.State]int) notify.ActivationStatus {
		return notify.ActivationStatus{Activation: notify.Activation{Status: s}, Counters: notify.Counters{ByState: by}}
	}
	tests := []struct {
		name string
		st   notify.ActivationStatus
		want bool
	}{
		{"active, pending", status(notify.StatusActive, map[notify.State]int{notify.StatePending: 3}), false},
		{"active, delivered and silent", status(notify.StatusActive, map[notify.State]int{notify.StateDelivered: 1, notify.StateAcked: 2}), false},
		{"active, everyone has an outcome", status(notify.StatusActive, map[notify.State]int{notify.StateAcked: 1, notify.StateDeclined: 1, notify.StateFailed: 1, notify.StateExpired: 1}), true},
		{"stood down, sends in flight", status(notify.StatusStoodDown, map[notify.State]int{notify.StateSent: 1, notify.StatePending: 4}), false},
		{"stood down, nothing in flight", status(notify.StatusStoodDown, map[notify.State]int{notify.StatePending: 4, notify.StateDelivered: 2}), true},
		{"no recipients", status(notify.StatusActive, map[notify.State]int{}), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.st.Settled())
		})
	}
}

// A request awaiting approval, or withdrawn before it, never started: its
// board shows T+0 and no checkpoint passed (the time since the zero time
// overflowed to the longest duration).
func TestBoardOfAnActivationThatNeverStarted(t *testing.T) {
	b := notify.Board{Total: notify.BoardRow{AckBy: []notify.AckBy{{Minutes: 5}, {Minutes: 30}}}}
	now := time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC)
	got := b.At(now)
	assert.Zero(t, got.Elapsed)
	assert.Equal(t, now, got.AsOf)
	for _, c := range got.Total.AckBy {
		assert.False(t, c.Reached, "T+%d", c.Minutes)
	}
	b.StartedAt = now.Add(-10 * time.Minute)
	got = b.At(now)
	assert.Equal(t, 10*time.Minute, got.Elapsed)
	assert.True(t, got.Total.AckBy[0].Reached)
	assert.False(t, got.Total.AckBy[1].Reached)
}

// A call-up's clock stops at its stand-down, and its counts are final:
// every checkpoint reads as reached, and those after the stand-down as cut
// short by it (their counts end at the stand-down, not at T+N).
func TestBoardOfAStoodDownActivationStopsItsClock(t *testing.T) {
	now := time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC)
	b := notify.Board{StartedAt: now.Add(-time.Hour), StoodDownAt: now.Add(-57 * time.Minute),
		Total: notify.BoardRow{AckBy: []notify.AckBy{{Minutes: 2}, {Minutes: 5}, {Minutes: 30}}}}
	got := b.At(now)
	assert.Equal(t, 3*time.Minute, got.Elapsed)
	for _, c := range got.Total.AckBy {
		assert.True(t, c.Reached, "T+%d: no more answers count", c.Minutes)
	}
	assert.Equal(t, []bool{false, true, true}, []bool{got.Total.AckBy[0].Cut, got.Total.AckBy[1].Cut, got.Total.AckBy[2].Cut},
		"T+2 passed before the stand-down at T+3; T+5 and T+30 did not")
	assert.False(t, b.At(now.Add(-58 * time.Minute)).Total.AckBy[1].Cut, "before the stand-down nothing is cut")
	assert.Equal(t, 3*time.Minute, b.At(now.Add(time.Hour)).Elapsed, "an hour later, the same")
}

// A correction takes no answers: it has settled once its SMS have their
// delivery outcome and its calls are placed, where a call-up waits for
// answers.
func TestACorrectionSettlesWhenEverythingWentOut(t *testing.T) {
	st := func(retracts plans.ActivationID, byState map[notify.State]int, dispatch map[string]int) notify.ActivationStatus {
		return notify.ActivationStatus{Activation: notify.Activation{Status: notify.StatusActive, Retracts: retracts},
			Counters: notify.Counters{ByState: byState, Dispatch: dispatch}}
	}
	delivered := map[notify.State]int{notify.StateDelivered: 3, notify.StateFailed: 1}
	assert.True(t, st("A000001", delivered, nil).Settled())
	assert.False(t, st("", delivered, nil).Settled(), "a call-up waits for answers")
	assert.False(t, st("A000001", delivered, map[string]int{"esc_queued": 1}).Settled(), "a call still to be placed")
	assert.False(t, st("A000001", delivered, map[string]int{"esc_sending": 1}).Settled(), "a call being placed")
	assert.False(t, st("A000001", map[notify.State]int{notify.StateDelivered: 3, notify.StateSent: 1}, nil).Settled(), "an SMS without its report")
	assert.False(t, st("A000001", map[notify.State]int{notify.StateDelivered: 3, notify.StatePending: 1}, nil).Settled())
}
