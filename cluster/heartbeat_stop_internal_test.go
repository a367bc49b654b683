package cluster

import (
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStopHeartbeatsWaitsForTheOneInHandAndRefusesLaterOnes: a heartbeat
// reaches raft on the transport's connection goroutine, which raft's
// shutdown does not wait for; one in hand when a node closed set a term in
// a closed log store and raft panicked ("failed to save current term:
// database not open", a CI run on f56dbe8). stopHeartbeats, called between
// the shutdown and the closing of the store, waits for the heartbeat in
// hand and keeps later ones from raft, unanswered until the transport
// closes (an answer, even an error, counts as the member answering: the
// leader refused a node joining in place of a member just killed). Real
// TCP transports.
func TestStopHeartbeatsWaitsForTheOneInHandAndLeavesLaterOnesUnanswered(t *testing.T) {
	server, err := raft.NewTCPTransport("127.0.0.1:0", nil, 2, 5*time.Second, io.Discard)
	require.NoError(t, err)
	defer server.Close()
	client, err := raft.NewTCPTransport("127.0.0.1:0", nil, 2, 5*time.Second, io.Discard)
	require.NoError(t, err)
	defer client.Close()

	g := newVoteGuard(server, nil)
	entered := make(chan struct{}, 4)
	release := make(chan struct{})
	var handled atomic.Int32
	g.SetHeartbeatHandler(func(rpc raft.RPC) {
		handled.Add(1)
		entered <- struct{}{}
		<-release
		rpc.Respond(&raft.AppendEntriesResponse{Term: 2, Success: true}, nil)
	})

	heartbeat := func() error {
		req := &raft.AppendEntriesRequest{
			RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("leader"), Addr: []byte(client.LocalAddr())},
			Term:      2,
		}
		var resp raft.AppendEntriesResponse
		return client.AppendEntries("follower", server.LocalAddr(), req, &resp)
	}
	first := make(chan error, 1)
	go func() { first <- heartbeat() }()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the heartbeat never reached the handler")
	}

	stopped := make(chan struct{})
	go func() { g.stopHeartbeats(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("stopHeartbeats returned while a heartbeat was in raft's hands")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("stopHeartbeats did not return once the heartbeat in hand was answered")
	}
	select {
	case err := <-first:
		require.NoError(t, err, "the heartbeat in hand is answered as raft answered it")
	case <-time.After(10 * time.Second):
		t.Fatal("the first heartbeat got no answer")
	}

	later := make(chan error, 1)
	go func() { later <- heartbeat() }()
	select {
	case err := <-later:
		t.Fatalf("a heartbeat after the stop was answered (%v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	require.NoError(t, server.Close())
	select {
	case err := <-later:
		require.Error(t, err, "the closed transport drops the heartbeat it held")
	case <-time.After(10 * time.Second):
		t.Fatal("the heartbeat held was not dropped when the transport closed")
	}
	assert.Equal(t, int32(1), handled.Load(), "no heartbeat reaches raft after the stop")
}
