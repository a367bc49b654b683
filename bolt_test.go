package muster

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// backwardKeys walks b with Backward on another goroutine and fails the test
// if the walk does not end within a deadline (bbolt's own Last loops forever
// on a bucket whose leaves were all emptied in the transaction).
func backwardKeys(t *testing.T, b *bolt.Bucket) []string {
	t.Helper()
	done := make(chan []string, 1)
	go func() {
		var keys []string
		for k := range Backward(b) {
			keys = append(keys, string(k))
		}
		done <- keys
	}()
	select {
	case keys := <-done:
		return keys
	case <-time.After(10 * time.Second):
		t.Fatal("Backward did not end within 10 s")
		return nil
	}
}

func TestBackwardStepsOverLeavesEmptiedInTheTransaction(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	const n = 3000 // many leaf pages
	key := func(i int) []byte { return fmt.Appendf(nil, "key%06d", i) }
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("b"))
		if err != nil {
			return err
		}
		for i := range n {
			if err := b.Put(key(i), []byte("value of some length")); err != nil {
				return err
			}
		}
		return nil
	}))

	tests := []struct {
		name string
		keep func(i int) bool
	}{
		{"every key deleted", func(int) bool { return false }},
		{"a middle run deleted", func(i int) bool { return i < 100 || i >= 2900 }},
		{"all but the first", func(i int) bool { return i == 0 }},
		{"all but the last", func(i int) bool { return i == n-1 }},
		{"only the front deleted", func(i int) bool { return i >= 2000 }},
		{"nothing deleted", func(int) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Rolled back: each case starts from the committed n keys.
			_ = db.Update(func(tx *bolt.Tx) error {
				b := tx.Bucket([]byte("b"))
				var want []string
				for i := n - 1; i >= 0; i-- {
					if tt.keep(i) {
						want = append(want, string(key(i)))
					} else {
						require.NoError(t, b.Delete(key(i)))
					}
				}
				assert.Equal(t, want, backwardKeys(t, b))
				if len(want) == 0 {
					assert.Nil(t, LastKey(b))
				} else {
					assert.Equal(t, want[0], string(LastKey(b)))
				}
				return fmt.Errorf("roll back")
			})
		})
	}
}

func TestBackwardLetsTheWalkDeleteWhatItIsGiven(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("b"))
		if err != nil {
			return err
		}
		for i := range 2000 {
			if err := b.Put(fmt.Appendf(nil, "k%05d", i), []byte("v")); err != nil {
				return err
			}
		}
		seen := 0
		for k := range Backward(b) {
			seen++
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		assert.Equal(t, 2000, seen)
		assert.Nil(t, LastKey(b))
		return nil
	}))
}
