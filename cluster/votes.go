package cluster

import (
	"sync"

	"github.com/hashicorp/raft"
)

// A member that comes back with no raft state (its disk lost, a pod's
// volume gone, a data dir emptied) must not vote for a candidate that has
// a history: it no longer holds the entries it once acknowledged, so its
// vote could elect a member that lags (was down while they were written)
// and the cluster would lose writes it had acknowledged. Raft assumes a
// voter keeps its log; hashicorp/raft grants a vote from an empty log to
// any candidate. voteGuard sits between the transport and raft and answers
// such vote and pre-vote requests itself, not granted, while this node's
// log and snapshots end at or below freshIndex (nothing, or only the
// configuration a bootstrap writes). A candidate as new as it (a cluster's
// first election, every member at the bootstrap entry) is answered by raft
// as before. Once a leader, elected by members that kept their state, has
// sent this node the log, it votes as any member.
//
// It also keeps raft's heartbeat fast path away from a closed raft log: the
// transport calls raft on a connection's own goroutine, which
// raft.Shutdown does not wait for, so a heartbeat taken in just before the
// shutdown could set a new term in the log store after Close had closed it
// (raft panics, "failed to save current term: database not open").
// stopHeartbeats waits for the heartbeats in hand and leaves later ones
// unanswered, as a raft that has shut down does: an answer, even an error,
// would tell the leader this member still answers over raft (it would
// refuse a node that joins in its place).
type voteGuard struct {
	*raft.NetworkTransport
	n   *Node
	out chan raft.RPC

	beats   sync.RWMutex
	stopped bool
}

// freshIndex is the last index of a node with no history: the bootstrap
// configuration's entry, or a restored backup's seeded snapshot.
const freshIndex = restoreIndex

func newVoteGuard(t *raft.NetworkTransport, n *Node) *voteGuard {
	return &voteGuard{NetworkTransport: t, n: n, out: make(chan raft.RPC)}
}

// Consumer is what raft reads requests from: the transport's, less the
// votes withheld.
func (g *voteGuard) Consumer() <-chan raft.RPC { return g.out }

// run passes the transport's requests on to raft until the node stops.
// Raft must be started.
func (g *voteGuard) run() {
	defer g.n.wg.Done()
	in := g.NetworkTransport.Consumer()
	for {
		select {
		case rpc := <-in:
			if g.withhold(rpc) {
				continue
			}
			select {
			case g.out <- rpc:
			case <-g.n.stop:
				return
			}
		case <-g.n.stop:
			return
		}
	}
}

// withhold answers rpc, not granted, when it asks this node with no
// history for its vote (or pre-vote) for a candidate with one.
func (g *voteGuard) withhold(rpc raft.RPC) bool {
	var candidateLast uint64
	var from []byte
	var pre bool
	switch req := rpc.Command.(type) {
	case *raft.RequestVoteRequest:
		candidateLast, from = req.LastLogIndex, req.ID
	case *raft.RequestPreVoteRequest:
		candidateLast, from, pre = req.LastLogIndex, req.ID, true
	default:
		return false
	}
	r := g.n.raft
	last := r.LastIndex()
	if g.n.cfg.VoteWithoutLog || last > freshIndex || candidateLast <= freshIndex {
		return false
	}
	header := raft.RPCHeader{
		ProtocolVersion: raft.ProtocolVersionMax,
		ID:              []byte(g.n.cfg.NodeID),
		Addr:            g.EncodePeer(raft.ServerID(g.n.cfg.NodeID), g.LocalAddr()),
	}
	if pre {
		rpc.Respond(&raft.RequestPreVoteResponse{RPCHeader: header, Term: r.CurrentTerm()}, nil)
	} else {
		rpc.Respond(&raft.RequestVoteResponse{RPCHeader: header, Term: r.CurrentTerm()}, nil)
	}
	if g.n.votesWithheld.Add(1) == 1 || g.n.votesWithheld.Load()%100 == 0 {
		g.n.logger.Warn("vote withheld: this node holds no raft log (a member whose data was lost, or one just added) and a candidate with one asks for its vote; it could elect a member that lacks acknowledged writes. It votes once a leader elected by the others has sent it the log; if those that kept their data cannot elect one without it and none other will come back, restart it once with --vote-without-log (writes only the lost members held are lost)",
			"candidate", string(from), "candidate_last_index", candidateLast, "own_last_index", last, "withheld", g.n.votesWithheld.Load())
	}
	return true
}

// SetHeartbeatHandler hands the transport raft's heartbeat handler, held
// off once stopHeartbeats has been called.
func (g *voteGuard) SetHeartbeatHandler(cb func(rpc raft.RPC)) {
	if cb == nil {
		g.NetworkTransport.SetHeartbeatHandler(nil)
		return
	}
	g.NetworkTransport.SetHeartbeatHandler(func(rpc raft.RPC) {
		g.beats.RLock()
		defer g.beats.RUnlock()
		if g.stopped {
			return // unanswered: the transport drops it when it closes
		}
		cb(rpc)
	})
}

// stopHeartbeats returns once no heartbeat is in raft's hands and none
// will be: after raft has shut down, before its log store is closed.
func (g *voteGuard) stopHeartbeats() {
	g.beats.Lock()
	g.stopped = true
	g.beats.Unlock()
}
