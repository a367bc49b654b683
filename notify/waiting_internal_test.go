package notify

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// storedActivation is an activation record of the size muster writes: a
// flood plan's twelve role slots over two districts.
func storedActivation(seq uint64, status Status, deadline time.Time) Activation {
	a := Activation{
		ID: activationKey(seq), Plan: "flood-control", PlanVersion: 3, PlanTitle: "防汛应急预案",
		Level: "II", LevelName: "重大", Regions: []plans.RegionCode{"990102", "990103"}, RegionNames: "东湖区、西山区",
		Purpose: PurposeLive, Reason: "暴雨橙色预警，东湖水位超警戒", Status: status, Recipients: 1200,
		CreatedAt: deadline.Add(-30 * time.Minute), CreatedBy: "commander", Command: fmt.Sprintf("cmd-%d", seq), Index: seq * 7,
	}
	for i := range 12 {
		a.Roles = append(a.Roles, RoleSlot{Index: i, Group: "工作组", Name: fmt.Sprintf("网格员%d", i), Count: 100})
	}
	if status == StatusPendingApproval {
		a.ApprovalsRequired, a.ApprovalDeadline = 2, deadline
	}
	return a
}

func waitingIDs(t testing.TB, tx *bolt.Tx, now time.Time, page plans.Page, limit int, statuses ...Status) []plans.ActivationID {
	l, err := listActivations(tx, page, limit, now, statuses)
	require.NoError(t, err)
	var ids []plans.ActivationID
	for _, a := range l.Items {
		ids = append(ids, a.ID)
	}
	return ids
}

// The index of waiting requests is built by the first notify command
// applied under rules 13, from the activations stored before (a request
// made under rules 12 among them), and kept as requests are decided; every
// list and count through it is what reading every activation gives.
func TestWaitingIndexIsBuiltAndKept(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	statuses := []Status{StatusActive, StatusPendingApproval, StatusPendingApproval, StatusRejected, StatusStoodDown, StatusPendingApproval}
	deadlines := []time.Time{{}, now.Add(10 * time.Minute), now.Add(-time.Minute), {}, {}, now.Add(20 * time.Minute)}
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		for i, st := range statuses {
			if err := putActivation(tx, storedActivation(uint64(i+1), st, deadlines[i])); err != nil {
				return err
			}
		}
		return nil
	}))
	A := func(seq int) plans.ActivationID { return activationKey(uint64(seq)) }
	type reads struct {
		waiting, expired, both []plans.ActivationID
		awaiting, expiredN     int
	}
	read := func(tx *bolt.Tx) reads {
		var r reads
		r.waiting = waitingIDs(t, tx, now, plans.Page{}, 100, StatusPendingApproval)
		r.expired = waitingIDs(t, tx, now, plans.Page{}, 100, StatusApprovalExpired)
		r.both = waitingIDs(t, tx, now, plans.Page{}, 100, StatusPendingApproval, StatusApprovalExpired)
		var err error
		r.awaiting, r.expiredN, err = countWaiting(tx, now)
		require.NoError(t, err)
		return r
	}
	want := reads{waiting: []plans.ActivationID{A(2), A(6)}, expired: []plans.ActivationID{A(3)}, both: []plans.ActivationID{A(2), A(3), A(6)}, awaiting: 2, expiredN: 1}
	apply := func(rules int) {
		t.Helper()
		fn := indexWaiting(func(*bolt.Tx, *muster.Command) (any, error) { return nil, nil })
		require.NoError(t, db.Update(func(tx *bolt.Tx) error {
			_, err := fn(tx, &muster.Command{Type: CmdDispatchResult, Rules: rules, Time: now})
			return err
		}))
	}

	// Under rules 12 nothing is built: reads go through every activation.
	apply(12)
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		assert.Nil(t, tx.Bucket(bWaiting), "no index under rules 12")
		assert.Equal(t, want, read(tx))
		return nil
	}))

	// The first command under rules 13 builds it; reads then use it.
	apply(13)
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		wb := tx.Bucket(bWaiting)
		require.NotNil(t, wb, "built under rules 13")
		assert.Equal(t, 3, wb.Stats().KeyN, "the three requests stored as waiting, the one past its window among them")
		assert.Equal(t, want, read(tx))
		// Paging goes on after the last one shown.
		assert.Equal(t, []plans.ActivationID{A(2)}, waitingIDs(t, tx, now, plans.Page{}, 1, StatusPendingApproval))
		assert.Equal(t, []plans.ActivationID{A(6)}, waitingIDs(t, tx, now, plans.Page{After: string(A(2))}, 1, StatusPendingApproval))
		// Another status is read from every activation, as before.
		assert.Equal(t, []plans.ActivationID{A(1)}, waitingIDs(t, tx, now, plans.Page{}, 100, StatusActive))
		return nil
	}))

	// Decided, a request leaves the index; a new one enters it.
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		started := storedActivation(2, StatusActive, time.Time{})
		if err := putActivation(tx, started); err != nil {
			return err
		}
		return putActivation(tx, storedActivation(7, StatusPendingApproval, now.Add(30*time.Minute)))
	}))
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		assert.Equal(t, 3, tx.Bucket(bWaiting).Stats().KeyN)
		r := read(tx)
		assert.Equal(t, []plans.ActivationID{A(6), A(7)}, r.waiting)
		assert.Equal(t, 2, r.awaiting)
		assert.Equal(t, []plans.ActivationID{A(1), A(2)}, waitingIDs(t, tx, now, plans.Page{}, 100, StatusActive))
		return nil
	}))
}

// BenchmarkWaitingActivations lists the waiting requests among 10,000
// activations, three of them waiting, as the console does every 5 s on
// every page: through the index, and by reading every activation (the
// state before rules 13).
func BenchmarkWaitingActivations(b *testing.B) {
	for _, indexed := range []bool{false, true} {
		b.Run(fmt.Sprintf("indexed=%v", indexed), func(b *testing.B) {
			db, err := bolt.Open(filepath.Join(b.TempDir(), "state.db"), 0o600, nil)
			require.NoError(b, err)
			defer db.Close()
			now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
			require.NoError(b, db.Update(func(tx *bolt.Tx) error {
				if indexed {
					if err := buildWaitingIndex(tx); err != nil {
						return err
					}
				}
				for i := range 10_000 {
					st, deadline := StatusStoodDown, time.Time{}
					if i%3_333 == 0 {
						st, deadline = StatusPendingApproval, now.Add(time.Duration(i+1)*time.Second)
					}
					if err := putActivation(tx, storedActivation(uint64(i+1), st, deadline)); err != nil {
						return err
					}
				}
				return nil
			}))
			b.ResetTimer()
			for b.Loop() {
				require.NoError(b, db.View(func(tx *bolt.Tx) error {
					if got := waitingIDs(b, tx, now, plans.Page{}, plans.DefaultPageLimit, StatusPendingApproval); len(got) != 4 {
						return fmt.Errorf("%d waiting, want 4", len(got))
					}
					return nil
				}))
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/list")
		})
	}
}
