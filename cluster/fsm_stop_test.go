package cluster_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
)

// stopped is what a test's OnCannotApply ends the apply with, in place
// of the process exit cmd/muster makes of it.
type stopped struct{ msg string }

// A full disk ends the node through OnCannotApply, with the message
// logged at ERROR first, and the entry is not applied; a stop that
// returns does not let the node go on: the FSM panics with the message
// (exploratory finding Z18: a panic's stack was all an operator saw).
func TestAFullDiskStopsThroughOnCannotApply(t *testing.T) {
	for _, returns := range []bool{false, true} {
		t.Run(fmt.Sprintf("stop returns %v", returns), func(t *testing.T) {
			dir := clustertest.SmallDisk(t, "2m")
			path := filepath.Join(dir, "state.db")
			var logs bytes.Buffer
			f, err := cluster.OpenFSM(path, slog.New(slog.NewTextHandler(&logs, nil)))
			require.NoError(t, err)
			defer f.Close()
			f.Handle("kv.put", func(tx *bolt.Tx, c *muster.Command) (any, error) {
				b, err := tx.CreateBucketIfNotExists([]byte("kv"))
				if err != nil {
					return nil, err
				}
				return nil, b.Put(c.Payload, bytes.Repeat([]byte("x"), 256<<10))
			})
			var calls []string
			f.OnCannotApply(func(msg string) {
				calls = append(calls, msg)
				if !returns {
					panic(stopped{msg})
				}
			})
			var ended any
			var idx uint64
			for idx = 1; idx < 20 && ended == nil; idx++ {
				func() {
					defer func() { ended = recover() }()
					f.ApplyBatch([]*raft.Log{bigPut(t, idx)})
				}()
			}
			idx--
			require.NotNil(t, ended, "2 MiB hold no 20 values of 256 KiB")
			require.Len(t, calls, 1)
			assert.Contains(t, calls[0], "the disk holding "+path+" is full, so raft entries up to "+strconv.FormatUint(idx, 10)+" cannot be applied: free space there or grow the disk")
			if returns {
				assert.Equal(t, calls[0], ended, "the FSM panics when stop returns")
			} else {
				assert.Equal(t, stopped{calls[0]}, ended, "stop ends the apply")
			}
			assert.Contains(t, logs.String(), "level=ERROR msg=\"cluster: the disk holding "+path+" is full")
			assert.Equal(t, idx-1, f.AppliedIndex(), "entry %d is not applied", idx)
		})
	}
}
