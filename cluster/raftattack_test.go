package cluster_test

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
)

// attack sends one AppendEntries to the raft transport at target from a raw
// hashicorp/raft transport, as anyone who reaches the port can: a leader
// "intruder" one term above the node's, whose one entry follows the node's
// last (index and term as /metrics shows them) and is committed at once.
func attack(t *testing.T, target string, term, last uint64, entry []byte) (raft.AppendEntriesResponse, error) {
	t.Helper()
	tr, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, 5*time.Second, io.Discard)
	require.NoError(t, err)
	defer tr.Close()
	req := &raft.AppendEntriesRequest{
		RPCHeader:         raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("intruder"), Addr: []byte(tr.LocalAddr())},
		Term:              term + 1,
		PrevLogEntry:      last,
		PrevLogTerm:       term,
		Entries:           []*raft.Log{{Index: last + 1, Term: term + 1, Type: raft.LogCommand, Data: entry, AppendedAt: time.Now()}},
		LeaderCommitIndex: last + 1,
	}
	var resp raft.AppendEntriesResponse
	err = tr.AppendEntries("target", raft.ServerAddress(target), req, &resp)
	return resp, err
}

// intruderEntry is a raft entry writing the key "intruder".
func intruderEntry(t *testing.T) []byte {
	payload, _ := json.Marshal(map[string]string{"K": "intruder", "V": "was here"})
	cmd := &muster.Command{Type: "kv.put", ID: "cafebabe", Time: time.Now().UTC(), Actor: "cluster", Rules: muster.Rules, Payload: payload}
	entry, err := cmd.MarshalBinary()
	require.NoError(t, err)
	return entry
}

// An AppendEntries from someone without the cluster key, posing as a leader
// with a higher term, changes nothing: the node keeps its term and
// leadership and never applies the entry. (Before the raft handshake the
// node took it: it applied the entry and followed the intruder.)
func TestAnAppendEntriesWithoutTheClusterKeyIsRefused(t *testing.T) {
	c := clustertest.New(t, 1, clustertest.Options{Setup: kv})
	n := c.Leader().Node
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, put(ctx, n, "before", "1"))
	before := n.Status()

	resp, err := attack(t, n.RaftAddr(), before.Term, before.LastLogIndex, intruderEntry(t))
	assert.Error(t, err, "the connection is closed without an answer")
	assert.False(t, resp.Success)

	after := n.Status()
	assert.Equal(t, before.Term, after.Term, "term: raft took no entry from a higher term")
	assert.True(t, n.IsLeader(), "still leads")
	_, found, err := lookup(n, muster.Stale, "intruder")
	require.NoError(t, err)
	assert.False(t, found, "the intruder's entry is not applied")
	require.NoError(t, put(ctx, n, "after", "2"), "the node takes writes as before")
	_, found, err = lookup(n, muster.Stale, "intruder")
	require.NoError(t, err)
	assert.False(t, found, "the intruder's entry is not applied")
}

// In transition mode a node takes raft without the handshake only while a
// member may need it: once every member encrypts (each has the
// handshake), the intruder's AppendEntries is refused as in required mode.
// Before, transition mode took it for as long as the flag stayed.
func TestTransitionModeRefusesRaftWithoutTheHandshakeOnceEveryMemberEncrypts(t *testing.T) {
	c := clustertest.New(t, 1, clustertest.Options{Setup: kv, Config: func(_ int, cfg *cluster.Config) { cfg.RaftAuth = cluster.RaftAuthTransition }})
	n := c.Leader().Node
	require.Eventually(t, func() bool { return n.Status().Encrypted }, 10*time.Second, 20*time.Millisecond, "a node alone encrypts")
	before := n.Status()
	_, err := attack(t, n.RaftAddr(), before.Term, before.LastLogIndex, intruderEntry(t))
	assert.Error(t, err)
	assert.True(t, n.IsLeader())
	assert.Equal(t, before.Term, n.Status().Term)
	_, there, err := lookup(n, muster.Stale, "intruder")
	require.NoError(t, err)
	assert.False(t, there)
}
