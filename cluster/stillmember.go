package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// stillMemberAfter is how many election timeouts a node whose
// configuration lists it among others goes without knowing a leader before
// it asks those others whether it is still a member (checkStillMember), and
// again after as many more while it still knows none.
const stillMemberAfter = 3

// watchStillMember stops this node when it learns that it is no member of
// its cluster: above all one removed while it was down, whose own raft
// state never saw the removal and still lists it, so that it would
// campaign for ever, its elections refused and no leader ever heard from.
// Every stillMemberAfter election timeouts without a leader it asks the
// members (checkStillMember); when a leader answers that it is no member,
// it asks again an election timeout later, and on the same answer logs so
// at ERROR once, shuts raft down and closes Refused. No answer, or none
// from a leader, changes nothing: a member cut off by the network stays
// one. It runs until the node stops.
func (n *Node) watchStillMember(election time.Duration) {
	defer n.wg.Done()
	t := time.NewTicker(election)
	defer t.Stop()
	quiet := 0
	suspect := false // the last answer said it is no member
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		if _, id := n.raft.LeaderWithID(); id != "" || n.raft.State() == raft.Shutdown {
			quiet, suspect = 0, false
			continue
		}
		if quiet++; quiet < stillMemberAfter && !suspect {
			continue
		}
		quiet = 0
		n.stillMemberAsked.Add(1)
		ctx, cancel := context.WithTimeout(n.closing, roomTimeout)
		_, err := n.checkStillMember(ctx)
		cancel()
		switch {
		case err != nil && suspect:
			n.refuse(err)
			return
		case err != nil:
			suspect = true
		default:
			suspect = false
		}
	}
}

// refuse stops this node, running, over err (which wraps ErrNotAMember):
// it logs err at ERROR, shuts raft down (the node is no member: it has no
// election to run), and closes Refused. Only the first call does anything.
func (n *Node) refuse(err error) {
	n.refuseOnce.Do(func() {
		n.logger.Error(err.Error())
		n.refusedErr = err
		_ = n.raft.Shutdown().Error()
		close(n.refused)
	})
}

// Refused returns a channel that is closed when this node, while it runs,
// learns that its cluster no longer has it as a member: it was removed
// while it was down, and a leader of the cluster says so
// (watchStillMember). Its raft has stopped then; what runs the node should
// stop it as a node refused at its start (ErrNotAMember).
func (n *Node) Refused() <-chan struct{} { return n.refused }

// RefusedErr is why the node was refused once Refused is closed, an error
// wrapping ErrNotAMember that says what to do; nil before.
func (n *Node) RefusedErr() error {
	select {
	case <-n.refused:
		return n.refusedErr
	default:
		return nil
	}
}

// peerAddr is where a member is asked for its status: at its raft address
// (encrypted, once every member encrypts) or its HTTP address.
type peerAddr struct {
	id, raftAddr, httpAddr string
}

// checkStillMember asks the members this node's latest configuration lists,
// and a leader one of them names that it does not list (elected while this
// node was down), for their node-to-node status. It returns an error
// wrapping ErrNotAMember only when a member that leads, by its own status,
// answers with a committed configuration (its commit index at or past the
// configuration's) at least as new as this node's that does not list this
// node. Anything else (no answer, no leader among them, a leader whose
// configuration lists it, one from a muster that does not say its
// configuration's index) is no such answer: leader reports whether a
// leader answered at all. A node whose configuration lists no other member
// (a new node waiting to join, the only voter) asks no one.
func (n *Node) checkStillMember(ctx context.Context) (leader bool, err error) {
	servers, err := n.servers()
	self := raft.ServerID(n.cfg.NodeID)
	others := slices.ContainsFunc(servers, func(s raft.Server) bool { return s.ID != self })
	if err != nil || n.cfg.ClusterKey == "" || !others {
		return false, nil
	}
	own := n.configIndex(servers)
	listed := slices.ContainsFunc(servers, func(s raft.Server) bool { return s.ID == self })
	asked := map[string]bool{n.cfg.NodeID: true}
	var peers []peerAddr
	for _, s := range servers {
		if asked[string(s.ID)] {
			continue
		}
		asked[string(s.ID)] = true
		p := peerAddr{id: string(s.ID), raftAddr: string(s.Address)}
		if info, ok := n.nodeInfo(p.id); ok {
			p.httpAddr = info.HTTPAddr
		}
		peers = append(peers, p)
	}
	answers := n.askPeers(ctx, peers)
	var more []peerAddr
	for _, st := range answers {
		if st.LeaderID == "" || asked[st.LeaderID] {
			continue
		}
		asked[st.LeaderID] = true
		p := peerAddr{id: st.LeaderID, raftAddr: st.LeaderAddr}
		for _, s := range st.Servers {
			if s.ID == st.LeaderID {
				p.httpAddr = s.HTTPAddr
			}
		}
		more = append(more, p)
	}
	answers = append(answers, n.askPeers(ctx, more)...)
	for _, st := range answers {
		if st.State != raft.Leader.String() || st.LeaderID != st.NodeID {
			continue
		}
		leader = true
		if removedBy(st, n.cfg.NodeID, own) {
			return true, n.removedWhileDown(st, own, listed)
		}
	}
	return leader, nil
}

// removedBy reports whether st, the status of a member that leads, shows
// node self removed: its configuration is committed, at least as new as
// self's own (at index own) and does not list self. (A committed entry is
// the same in every log that holds its index: self's own, at that index,
// lists self only if it is not committed and is to be replaced.)
func removedBy(st Status, self string, own uint64) bool {
	return len(st.Servers) > 0 && st.ConfigIndex > 0 && st.ConfigIndex >= own && st.CommitIndex >= st.ConfigIndex &&
		!slices.ContainsFunc(st.Servers, func(s ServerStatus) bool { return s.ID == self })
}

// removedWhileDown is the error of this node, removed from its cluster, as
// leader's status st shows (removedBy); listed says whether its own
// configuration, at index own, still lists it (it was down at its
// removal, and its state never saw it), or not (it learnt of its removal
// from the leader, running or just started again, but raft stops only a
// leader that it removes).
func (n *Node) removedWhileDown(st Status, own uint64, listed bool) error {
	var ids []string
	for _, s := range st.Servers {
		ids = append(ids, s.ID)
	}
	sort.Strings(ids)
	when, what := " while it was down", fmt.Sprintf("where this node's own state, at index %d, still lists it", own)
	if !listed {
		when, what = "", fmt.Sprintf("as this node's own state shows from index %d on", own)
	}
	return &notAMember{fmt.Sprintf("cluster: this node (%s) was removed from its cluster%s: its leader %s (term %d) lists it in no configuration from raft index %d on "+
		"(members: %s), %s. It stops, and a removed node does not join again by itself: "+
		"to add it again as a new member, empty its data dir %s (or start it with a new --data-dir)",
		n.cfg.NodeID, when, st.NodeID, st.Term, st.ConfigIndex, strings.Join(ids, ", "), what, n.cfg.DataDir)}
}

// askPeers asks each of peers for its status at once, within ctx, and
// returns the answers of those that answer as themselves.
func (n *Node) askPeers(ctx context.Context, peers []peerAddr) []Status {
	var (
		mu  sync.Mutex
		out []Status
		wg  sync.WaitGroup
	)
	for _, p := range peers {
		wg.Go(func() {
			st, err := n.peerStatus(ctx, p)
			if err != nil || st.NodeID != p.id {
				return
			}
			mu.Lock()
			out = append(out, st)
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// peerStatus asks p for its node-to-node status: encrypted at its raft
// address once every member encrypts, else (or when that fails) at its
// HTTP address. With an error, the Status holds nothing but the measure of
// p's clock its refusal may carry.
func (n *Node) peerStatus(ctx context.Context, p peerAddr) (Status, error) {
	err := errors.New("no address to ask at")
	var st Status
	if n.sealed != nil && n.auth.sealedNow() && p.raftAddr != "" {
		if st, err = n.statusVia(ctx, n.sealed, "http://"+p.raftAddr); err == nil {
			return st, nil
		}
	}
	if p.httpAddr == "" {
		return Status{clock: st.clock}, err
	}
	viaHTTP, err := n.statusVia(ctx, n.client, p.httpAddr)
	if err != nil && !viaHTTP.clock.ok {
		viaHTTP.clock = st.clock
	}
	return viaHTTP, err
}

// configIndex is the raft index of this node's latest configuration,
// servers: that of the newest configuration entry in its raft log, or,
// with none there, of the configuration in its newest snapshot. Raft does
// not tell it. It is read again only when the configuration is another;
// 0 when it cannot be read.
func (n *Node) configIndex(servers []raft.Server) uint64 {
	n.confMu.Lock()
	defer n.confMu.Unlock()
	if n.confIndex != 0 && slices.Equal(n.confServers, servers) {
		return n.confIndex
	}
	idx, err := latestConfigIndex(n.logStore, n.snaps)
	if err != nil || idx == 0 {
		return 0
	}
	n.confServers, n.confIndex = slices.Clone(servers), idx
	return idx
}

// latestConfigIndex is the index of the newest configuration in the raft
// log or, with none there, in the snapshots (configurations).
func latestConfigIndex(logs raft.LogStore, snaps raft.SnapshotStore) (idx uint64, err error) {
	if logs == nil || snaps == nil {
		return 0, errors.New("no raft state open")
	}
	err = configurations(logs, snaps, func(i uint64, _ raft.Configuration) bool {
		idx = i
		return true
	})
	return idx, err
}
