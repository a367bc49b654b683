package notify

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// The escalator reads the clocks again when their number changes; when
// one ends and another starts in the same command the number stays, and
// the new clock's step is still found when it falls due, not only when the
// clocks read before are next due.
func TestDueClocksFindAClockStartedAsAnotherEnded(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "clocks.db"), 0o600, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	t0 := time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC)
	d := func(m int) plans.Duration { return plans.Duration(time.Duration(m) * time.Minute) }
	steps := []plans.EscalationStep{{After: d(5), Do: plans.EscalateSMS}, {After: d(10), Do: plans.EscalateVoice}}
	setClocks := func(clocks map[string][]byte) {
		require.NoError(t, db.Update(func(tx *bolt.Tx) error {
			ad, err := tx.CreateBucketIfNotExists([]byte("ad"))
			require.NoError(t, err)
			_, err = ad.CreateBucketIfNotExists(bRecipients)
			require.NoError(t, err)
			_ = ad.DeleteBucket(bEscClock)
			cb, err := ad.CreateBucket(bEscClock)
			require.NoError(t, err)
			for p, v := range clocks {
				require.NoError(t, cb.Put([]byte(p), v))
			}
			counters, err := ad.CreateBucketIfNotExists(bCounters)
			require.NoError(t, err)
			return counters.Put([]byte(dispatchCounter+escClockCounter), binary.BigEndian.AppendUint64(nil, uint64(len(clocks))))
		}))
	}
	e := &Escalator{cfg: EscalatorConfig{ReportEvery: time.Minute}}
	loop := &escLoop{clocks: map[plans.ActivationID]*clockScan{}}
	due := func(now time.Time) []plans.PersonID {
		w := &escWork{a: Activation{ID: "A000001"}}
		require.NoError(t, db.View(func(tx *bolt.Tx) error {
			e.dueClocks(loop, tx.Bucket([]byte("ad")), w, steps, now)
			return nil
		}))
		return w.catchUp
	}

	// Two clocks at their second step, due at T+10.
	setClocks(map[string][]byte{"P1": clockValue(t0, 1), "P2": clockValue(t0, 1)})
	assert.Empty(t, due(t0.Add(time.Minute)))
	// P1 answers as P3 is sent late: P3's first step is due at T+6.
	setClocks(map[string][]byte{"P2": clockValue(t0, 1), "P3": clockValue(t0.Add(time.Minute), 0)})
	assert.Empty(t, due(t0.Add(90*time.Second)))
	assert.Equal(t, []plans.PersonID{"P3"}, due(t0.Add(6*time.Minute)), "P3's first step is due")
	assert.Equal(t, []plans.PersonID{"P2", "P3"}, due(t0.Add(10*time.Minute)))
}

type boltView struct{ db *bolt.DB }

func (v boltView) View(_ context.Context, _ muster.Consistency, fn func(tx *bolt.Tx) error) error {
	return v.db.View(fn)
}

// What the escalator keeps of an activation's clocks between its rounds
// goes once the activation is no longer open: a long term does not gather
// every call-up it ever escalated.
func TestEscalatorForgetsTheClocksOfStoppedActivations(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), 0o600, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	e := NewEscalator(nil, boltView{db}, EscalatorConfig{})
	loop := &escLoop{clocks: map[plans.ActivationID]*clockScan{"A000009": {n: 3}}}
	work, err := e.look(context.Background(), loop)
	require.NoError(t, err)
	assert.Empty(t, work)
	assert.Empty(t, loop.clocks, "A000009 is not open")
}
