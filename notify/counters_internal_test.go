package notify

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster/plans"
)

// countersDB writes the counters of a call-up over grids grids and 12
// role slots into a real bbolt file.
func countersDB(t testing.TB, grids int) *bolt.DB {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "counters.db"), 0o600, nil)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bCounters)
		if err != nil {
			return err
		}
		add := func(k string, n int64) {
			require.NoError(t, addCounter(b, []byte(k), n))
		}
		for g := range grids {
			grid := fmt.Sprintf("110101%06d", g)
			add("grid/"+grid+"/delivered", int64(g+1))
			add("grid/"+grid+"/acked", 2)
			add("ackby/"+grid+"/5", 1)
			add("ackby/"+grid+"/30", 2)
		}
		for r := range 12 {
			add(fmt.Sprintf("role/%d/acked", r), int64(r+1))
		}
		add("state/delivered", 7)
		add("state/acked", 3)
		add("dispatch/claimed", 10)
		return nil
	}))
	return db
}

func TestReadCountersSplitsEveryKind(t *testing.T) {
	db := countersDB(t, 3)
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		c, err := readCounters(tx.Bucket(bCounters))
		require.NoError(t, err)
		assert.Equal(t, 10, c.Total)
		assert.Equal(t, map[State]int{StateDelivered: 7, StateAcked: 3}, c.ByState)
		assert.Equal(t, map[State]int{StateDelivered: 3, StateAcked: 2}, c.ByGrid[plans.RegionCode("110101000002")])
		assert.Len(t, c.ByGrid, 3)
		assert.Equal(t, map[State]int{StateAcked: 12}, c.ByRole[11])
		assert.Equal(t, map[int]int{5: 1, 30: 2}, c.AckBy[plans.RegionCode("110101000000")])
		assert.Equal(t, map[string]int{"claimed": 10}, c.Dispatch)
		return nil
	}))
	for _, bad := range []string{"state", "grid", "state/acked/x", "grid/110101/acked/x", "role/x/acked", "ackby/110101/x", "colour/red"} {
		require.NoError(t, db.Update(func(tx *bolt.Tx) error {
			require.NoError(t, tx.Bucket(bCounters).Put([]byte(bad), make([]byte, 8)))
			_, err := readCounters(tx.Bucket(bCounters))
			assert.Error(t, err, bad)
			return tx.Bucket(bCounters).Delete([]byte(bad))
		}))
	}
}

// TestCounterIDsBuildTheStoredKeys checks that the keys flush builds from
// counter IDs are the ones the counters were always stored under.
func TestCounterIDsBuildTheStoredKeys(t *testing.T) {
	for _, i := range []int{0, 7, 10, 99, 100, 999, 1000, 9999, 10000, 123456} {
		assert.Equal(t, fmt.Sprintf("role/%04d/acked", i), string(counterID{kind: 'r', role: i, state: StateAcked}.key()))
	}
	assert.Equal(t, "state/sending", string(counterID{kind: 's', state: StateSending}.key()))
	assert.Equal(t, "grid/110101000002/sent", string(counterID{kind: 'g', name: "110101000002", state: StateSent}.key()))
	assert.Equal(t, "dispatch/claimed", string(counterID{kind: 'd', name: "claimed"}.key()))
	assert.Equal(t, "ackby/110101000002/05", string(counterID{kind: 'k', name: string(ackByKey("110101000002", 5))}.key()))
}

// BenchmarkReadCounters reads the counters of a call-up over 1,000 grids,
// as every status, board and live-event poll does.
//
//	go test ./notify -run '^$' -bench ReadCounters
func BenchmarkReadCounters(b *testing.B) {
	db := countersDB(b, 1000)
	b.ReportAllocs()
	for b.Loop() {
		_ = db.View(func(tx *bolt.Tx) error {
			_, err := readCounters(tx.Bucket(bCounters))
			return err
		})
	}
}
