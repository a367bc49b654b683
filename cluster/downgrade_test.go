package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
)

// A node whose state a newer muster wrote (a downgrade: the last command
// applied to it was stamped under newer rules than its muster has) is
// refused at its start with what to do, and an error cmd/muster exits on
// without a restart; it used to start, campaign for ever, and be told to
// upgrade with --raft-auth=transition (exploratory finding U1). The same
// state under a muster that has its rules starts, and so does one whose
// member record alone names newer rules (a canary rolled back before the
// cluster's rules rose).
func TestADowngradedNodeIsRefusedAtItsStart(t *testing.T) {
	c := clustertest.New(t, 1, clustertest.Options{Setup: kv})
	m := c.Nodes[0]
	id := m.Node.ID()
	require.Eventually(t, func() bool { return m.Node.Status().Rules == muster.Rules }, 20*time.Second, 10*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, put(ctx, m.Node, "k", "v")) // audited under muster.Rules
	c.Stop(m)

	path := filepath.Join(m.DataDir, "state.db")
	// set sets the "rules" of the last record of bucket (key: that record's,
	// or the last one's).
	set := func(bucket, key string, rules int) {
		db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
		require.NoError(t, err)
		defer db.Close()
		require.NoError(t, db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte(bucket))
			k, v := b.Cursor().Last()
			if key != "" {
				k, v = []byte(key), b.Get([]byte(key))
			}
			var rec map[string]any
			require.NoError(t, json.Unmarshal(v, &rec))
			rec["rules"] = rules
			v, err := json.Marshal(rec)
			require.NoError(t, err)
			return b.Put(k, v)
		}))
	}
	start := func() (*cluster.Node, error) {
		return cluster.New(cluster.Config{NodeID: id, DataDir: m.DataDir, RaftBind: "127.0.0.1:0", ClusterKey: clustertest.Key,
			Logger: slog.New(slog.DiscardHandler)})
	}

	set("audit_chain", "", muster.Rules+1)
	_, err := start()
	require.ErrorIs(t, err, cluster.ErrNewerState)
	newer := strconv.Itoa(muster.Rules + 1)
	assert.Contains(t, err.Error(), "the state in "+path+" was written under state-machine rules "+newer+" (its latest audit entry, ")
	assert.Contains(t, err.Error(), "was applied under rules "+newer+"), and this muster implements rules up to "+strconv.Itoa(muster.Rules))
	assert.Contains(t, err.Error(), "downgrading is not supported): run a muster with rules "+newer+" or newer on this node")

	set("audit_chain", "", muster.Rules)
	set("cluster_nodes", id, muster.Rules+1)
	n, err := start()
	require.NoError(t, err, "the state of a muster with these rules")
	require.NoError(t, n.Close())
}

// A committed entry stamped under newer rules than this muster's stops
// the FSM before it applies it, through OnCannotApply, where it used to
// be applied under the older logic without a word: its state would drift
// from the replicas that apply it as the leader meant.
func TestAnEntryOfNewerRulesStopsTheFSM(t *testing.T) {
	var logs bytes.Buffer
	f, err := cluster.OpenFSM(filepath.Join(t.TempDir(), "state.db"), slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	defer f.Close()
	var put []string
	f.Handle("kv.put", func(tx *bolt.Tx, c *muster.Command) (any, error) {
		put = append(put, string(c.Payload))
		return nil, nil
	})
	var calls []string
	f.OnCannotApply(func(msg string) {
		calls = append(calls, msg)
		panic(stopped{msg})
	})
	entry := func(idx uint64, rules int) *raft.Log {
		b, err := (&muster.Command{Type: "kv.put", ID: "id", Rules: rules, Payload: []byte(strconv.FormatUint(idx, 10))}).MarshalBinary()
		require.NoError(t, err)
		return &raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: b}
	}
	f.ApplyBatch([]*raft.Log{entry(1, muster.Rules)})
	var ended any
	func() {
		defer func() { ended = recover() }()
		f.ApplyBatch([]*raft.Log{entry(2, muster.Rules+1)})
	}()
	require.Len(t, calls, 1)
	assert.Equal(t, stopped{calls[0]}, ended)
	assert.Contains(t, calls[0], "raft entry 2 was stamped under state-machine rules "+strconv.Itoa(muster.Rules+1)+
		", and this muster implements rules up to "+strconv.Itoa(muster.Rules))
	assert.Contains(t, logs.String(), "level=ERROR")
	assert.Equal(t, []string{"1"}, put, "entry 2 is not applied")
	assert.EqualValues(t, 1, f.AppliedIndex())
}
