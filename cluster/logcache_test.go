package cluster

import (
	"bytes"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingStore counts reads that reach the store behind the cache.
type countingStore struct {
	*raft.InmemStore
	reads int
}

func (s *countingStore) GetLog(idx uint64, l *raft.Log) error {
	s.reads++
	return s.InmemStore.GetLog(idx, l)
}

func TestBoundedLogCacheKeepsOnlySmallEntries(t *testing.T) {
	store := &countingStore{InmemStore: raft.NewInmemStore()}
	c, err := newBoundedLogCache(8, store, "raft.db")
	require.NoError(t, err)
	small := func(i uint64) *raft.Log { return &raft.Log{Index: i, Term: 1, Data: []byte{byte(i)}} }
	big := func(i uint64, b byte) *raft.Log {
		return &raft.Log{Index: i, Term: 1, Data: bytes.Repeat([]byte{b}, maxCachedEntry+1)}
	}
	require.NoError(t, c.StoreLogs([]*raft.Log{small(1), small(2)}))
	require.NoError(t, c.StoreLog(big(3, 'a')))
	require.NoError(t, c.StoreLogs([]*raft.Log{small(4), big(5, 'b')}))
	require.NoError(t, c.StoreLog(small(6)))

	var l raft.Log
	for _, i := range []uint64{1, 2, 6} {
		require.NoError(t, c.GetLog(i, &l))
		assert.Equal(t, []byte{byte(i)}, l.Data)
	}
	assert.Zero(t, store.reads, "small entries are read from the cache")
	require.NoError(t, c.GetLog(3, &l))
	assert.Len(t, l.Data, maxCachedEntry+1)
	require.NoError(t, c.GetLog(4, &l))
	assert.Equal(t, []byte{4}, l.Data, "a batch with a big entry is stored whole, uncached")
	require.NoError(t, c.GetLog(5, &l))
	assert.Equal(t, byte('b'), l.Data[0])
	assert.Equal(t, 3, store.reads)

	// An index rewritten after a conflict never answers with its old entry.
	require.NoError(t, c.DeleteRange(6, 6))
	require.NoError(t, c.StoreLog(big(6, 'c')))
	require.NoError(t, c.GetLog(6, &l))
	assert.Equal(t, byte('c'), l.Data[0])
	// Nor does an older entry sharing its ring slot (15 ≡ 7 mod 8).
	require.NoError(t, c.StoreLog(small(7)))
	require.NoError(t, c.StoreLog(big(15, 'd')))
	require.NoError(t, c.GetLog(15, &l))
	assert.Equal(t, byte('d'), l.Data[0])
	require.NoError(t, c.GetLog(7, &l))
	assert.Equal(t, []byte{7}, l.Data)
}
