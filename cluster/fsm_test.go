package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
)

func testFSM(t *testing.T) *FSM {
	t.Helper()
	f, err := OpenFSM(filepath.Join(t.TempDir(), "state.db"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	f.Handle("kv.put", func(tx *bolt.Tx, c *muster.Command) (any, error) {
		b, err := tx.CreateBucketIfNotExists([]byte("kv"))
		if err != nil {
			return nil, err
		}
		var kv [2]string
		if err := json.Unmarshal(c.Payload, &kv); err != nil {
			return nil, muster.Errorf(muster.EInvalid, "bad payload")
		}
		if err := b.Put([]byte(kv[0]), []byte(kv[1])); err != nil {
			return nil, err
		}
		if kv[1] == "reject-after-write" {
			return nil, muster.Errorf(muster.EConflict, "rejected after writing")
		}
		return c.Index, nil
	})
	return f
}

func kvLog(t *testing.T, idx uint64, typ, k, v string, ignorable bool) *raft.Log {
	t.Helper()
	p, _ := json.Marshal([2]string{k, v})
	b, err := (&muster.Command{Type: typ, ID: "id", Payload: p, Ignorable: ignorable}).MarshalBinary()
	require.NoError(t, err)
	return &raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: b}
}

func kvGet(t *testing.T, f *FSM, k string) (string, bool) {
	t.Helper()
	var v []byte
	require.NoError(t, f.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("kv")); b != nil {
			v = b.Get([]byte(k))
		}
		return nil
	}))
	return string(v), v != nil
}

func TestApplyBatchRejectsOneCommandWithoutTrace(t *testing.T) {
	f := testFSM(t)
	out := f.ApplyBatch([]*raft.Log{
		kvLog(t, 1, "kv.put", "a", "1", false),
		kvLog(t, 2, "kv.put", "b", "reject-after-write", false),
		kvLog(t, 3, "kv.put", "c", "3", false),
		{Index: 4, Term: 1, Type: raft.LogConfiguration},
	})
	require.Len(t, out, 4)
	assert.NoError(t, out[0].(result).err)
	assert.Equal(t, uint64(1), out[0].(result).value)
	assert.True(t, muster.IsCode(out[1].(result).err, muster.EConflict))
	assert.Equal(t, uint64(3), out[2].(result).value)
	for k, want := range map[string]bool{"a": true, "b": false, "c": true} {
		_, ok := kvGet(t, f, k)
		assert.Equal(t, want, ok, "key %s", k)
	}
	assert.Equal(t, uint64(4), f.AppliedIndex(), "configuration entries advance the applied index too")
	assert.Equal(t, uint64(2), f.Applies())
}

func TestApplyBatchSkipsEntriesAlreadyApplied(t *testing.T) {
	f := testFSM(t)
	f.ApplyBatch([]*raft.Log{kvLog(t, 1, "kv.put", "a", "first", false), kvLog(t, 2, "kv.put", "b", "x", false)})
	// A replay after restart delivers old entries again, with a new one.
	f.ApplyBatch([]*raft.Log{kvLog(t, 2, "kv.put", "b", "replayed", false), kvLog(t, 3, "kv.put", "c", "y", false)})
	v, _ := kvGet(t, f, "b")
	assert.Equal(t, "x", v)
	assert.Equal(t, uint64(3), f.Applies())
	assert.Equal(t, uint64(3), f.AppliedIndex())
}

func TestAppliedIndexSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	f, err := OpenFSM(path, nil)
	require.NoError(t, err)
	f.Handle("kv.put", func(tx *bolt.Tx, c *muster.Command) (any, error) { return nil, nil })
	f.ApplyBatch([]*raft.Log{kvLog(t, 7, "kv.put", "a", "1", false)})
	require.NoError(t, f.Close())
	g, err := OpenFSM(path, nil)
	require.NoError(t, err)
	defer g.Close()
	assert.Equal(t, uint64(7), g.AppliedIndex())
}

func TestUnknownCommandTypes(t *testing.T) {
	f := testFSM(t)
	f.ApplyBatch([]*raft.Log{kvLog(t, 1, "from.the.future", "a", "1", true)})
	assert.Equal(t, uint64(1), f.AppliedIndex(), "ignorable unknown command is skipped")
	assert.Panics(t, func() { f.ApplyBatch([]*raft.Log{kvLog(t, 2, "from.the.future", "a", "1", false)}) })
	assert.Equal(t, uint64(1), f.AppliedIndex())
}

type bufferSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *bufferSink) ID() string    { return "test" }
func (s *bufferSink) Cancel() error { s.cancelled = true; return nil }
func (s *bufferSink) Close() error  { return nil }

func TestSnapshotRestoreSwapsState(t *testing.T) {
	src := testFSM(t)
	src.ApplyBatch([]*raft.Log{kvLog(t, 1, "kv.put", "a", "1", false), kvLog(t, 2, "kv.put", "b", "2", false)})
	snap, err := src.Snapshot()
	require.NoError(t, err)
	// Writes after the snapshot point are not in it.
	src.ApplyBatch([]*raft.Log{kvLog(t, 3, "kv.put", "c", "3", false)})
	var sink bufferSink
	require.NoError(t, snap.Persist(&sink))
	snap.Release()
	require.False(t, sink.cancelled)

	dst := testFSM(t)
	dst.ApplyBatch([]*raft.Log{kvLog(t, 1, "kv.put", "old", "gone", false)})
	require.NoError(t, dst.Restore(io.NopCloser(&sink)))
	assert.Equal(t, uint64(2), dst.AppliedIndex())
	for k, want := range map[string]bool{"a": true, "b": true, "c": false, "old": false} {
		_, ok := kvGet(t, dst, k)
		assert.Equal(t, want, ok, "key %s", k)
	}
	// The restored state keeps applying.
	dst.ApplyBatch([]*raft.Log{kvLog(t, 3, "kv.put", "c", "3", false)})
	v, ok := kvGet(t, dst, "c")
	assert.True(t, ok)
	assert.Equal(t, "3", v)
}

func TestRestoreRejectsGarbage(t *testing.T) {
	f := testFSM(t)
	f.ApplyBatch([]*raft.Log{kvLog(t, 1, "kv.put", "a", "1", false)})
	err := f.Restore(io.NopCloser(bytes.NewReader([]byte("not a bbolt file"))))
	require.Error(t, err)
	v, ok := kvGet(t, f, "a")
	assert.True(t, ok, "state untouched after a failed restore")
	assert.Equal(t, "1", v)
}

// chanFuture resolves only when its channel delivers, like a raft future
// whose entry was enqueued just before shutdown and never picked up.
type chanFuture chan error

func (f chanFuture) Error() error { return <-f }

func TestAwaitGivesUpOnDeadlineAndShutdown(t *testing.T) {
	n := &Node{stop: make(chan struct{})}
	never := make(chanFuture)
	t.Cleanup(func() { close(never) })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := n.await(ctx, never)
	assert.ErrorIs(t, err, errAbandoned)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	close(n.stop)
	err = n.await(context.Background(), never)
	assert.ErrorIs(t, err, errAbandoned)
	assert.ErrorIs(t, err, raft.ErrRaftShutdown)

	done := make(chanFuture, 1)
	done <- nil
	assert.NoError(t, (&Node{stop: make(chan struct{})}).await(context.Background(), done))
}

func TestReopenedStateReadsBackAfterItsPagesAreDropped(t *testing.T) {
	// Values of a few KiB put the state over many pages, every one of which
	// bbolt reads at open and the FSM then drops from the process.
	path := filepath.Join(t.TempDir(), "state.db")
	f, err := OpenFSM(path, nil)
	require.NoError(t, err)
	f.Handle("kv.put", func(tx *bolt.Tx, c *muster.Command) (any, error) {
		var kv [2]string
		if err := json.Unmarshal(c.Payload, &kv); err != nil {
			return nil, err
		}
		b, err := tx.CreateBucketIfNotExists([]byte("kv"))
		if err != nil {
			return nil, err
		}
		return nil, b.Put([]byte(kv[0]), []byte(kv[1]))
	})
	value := func(i int) string { return strings.Repeat(strconv.Itoa(i%10), 3000+i) }
	var logs []*raft.Log
	for i := range 300 {
		logs = append(logs, kvLog(t, uint64(i+1), "kv.put", fmt.Sprintf("k%03d", i), value(i), false))
	}
	f.ApplyBatch(logs)
	require.NoError(t, f.Close())

	g, err := OpenFSM(path, nil)
	require.NoError(t, err)
	defer g.Close()
	g.Handle("kv.put", f.handlers["kv.put"])
	for i := range 300 {
		v, ok := kvGet(t, g, fmt.Sprintf("k%03d", i))
		require.True(t, ok, "k%03d", i)
		require.Equal(t, value(i), v, "k%03d", i)
	}
	g.ApplyBatch([]*raft.Log{kvLog(t, 301, "kv.put", "k000", "rewritten", false)})
	v, _ := kvGet(t, g, "k000")
	assert.Equal(t, "rewritten", v)
}

func TestReleaseMemoryLeavesNoGoalForPooledBuffers(t *testing.T) {
	// bbolt returns a commit's page buffers to a sync.Pool; one collection
	// keeps them (victim cache) and would set the heap goal from them.
	const pooled = 128 << 20
	var pool sync.Pool
	gcPercent := debug.SetGCPercent(-1) // no collection empties the pool while it fills
	for range pooled / 4096 {
		pool.Put(make([]byte, 4096))
	}
	debug.SetGCPercent(gcPercent)
	releaseMemory()
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	assert.Less(t, s[0].Value.Uint64(), uint64(pooled), "heap goal after releaseMemory")
	runtime.KeepAlive(&pool)
}

func TestFSMReleasesMemoryOnlyAfterTheNamedCommands(t *testing.T) {
	f, err := OpenFSM(filepath.Join(t.TempDir(), "state.db"), nil)
	require.NoError(t, err)
	defer f.Close()
	put := func(tx *bolt.Tx, c *muster.Command) (any, error) {
		b, err := tx.CreateBucketIfNotExists([]byte("kv"))
		if err != nil {
			return nil, err
		}
		return nil, b.Put([]byte(c.ID), c.Payload)
	}
	f.Handle("kv.put", put)
	f.Handle("kv.import", put)
	f.ReleaseMemoryAfter("kv.import")
	// With the collector off, only an explicit collection counts.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	collections := func() uint32 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.NumGC
	}
	before := collections()
	f.ApplyBatch([]*raft.Log{kvLog(t, 1, "kv.put", "a", "1", false)})
	assert.Equal(t, before, collections(), "an ordinary command collects nothing")
	f.ApplyBatch([]*raft.Log{kvLog(t, 2, "kv.import", "b", "2", false)})
	assert.GreaterOrEqual(t, collections()-before, uint32(2), "a named command is followed by two collections")
}
