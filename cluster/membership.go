package cluster

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"

	"muster"
)

// Command types owned by cluster.
const (
	cmdNodePut    = "cluster.node.put"
	cmdNodeDelete = "cluster.node.delete"
)

var nodesBucket = []byte("cluster_nodes")

// NodeInfo is what the cluster records about a member besides raft's own
// configuration: where to reach its HTTP API, and the newest state-machine
// behaviour its muster implements (muster.Rules; 0 from a muster that
// predates rules, or a request that does not say: the record keeps the one
// it has).
type NodeInfo struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
	Rules    int    `json:"rules,omitempty"`
	// PublicURL is the base URL the member gives the providers for their
	// webhooks and people in answer links (Config.PublicURL); empty in a
	// record of a muster before it, or of a join by hand.
	PublicURL string `json:"public_url,omitempty"`
	// NoLiveSMS says the member has no LIVE SMS account (Config.NoLiveSMS):
	// while it leads, no LIVE call-up's message goes out. False in a record
	// of a muster before it, which does not say.
	NoLiveSMS bool `json:"no_live_sms,omitempty"`
}

func (n *Node) registerMembership() {
	n.registerBackupAudit()
	n.registerRestoreAudit()
	n.fsm.Handle(cmdNodePut, func(tx *bolt.Tx, c *muster.Command) (any, error) {
		var info NodeInfo
		if err := json.Unmarshal(c.Payload, &info); err != nil {
			return nil, muster.Errorf(muster.EInvalid, "node record: %v", err)
		}
		b, err := tx.CreateBucketIfNotExists(nodesBucket)
		if err != nil {
			return nil, err
		}
		// The leader reads the members' rules again (a cache, not state)
		// once the record is there to read: a read before the commit
		// would cache the old rules.
		tx.OnCommit(n.forgetRules)
		return nil, b.Put([]byte(info.ID), c.Payload)
	})
	n.fsm.Handle(cmdNodeDelete, func(tx *bolt.Tx, c *muster.Command) (any, error) {
		b := tx.Bucket(nodesBucket)
		if b == nil {
			return nil, nil
		}
		tx.OnCommit(n.forgetRules)
		return nil, b.Delete(c.Payload)
	})
}

// nodeInfo reads a member's record from the local state.
func (n *Node) nodeInfo(id string) (NodeInfo, bool) {
	var info NodeInfo
	found := false
	_ = n.fsm.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(nodesBucket)
		if b == nil {
			return nil
		}
		if v := b.Get([]byte(id)); v != nil {
			found = json.Unmarshal(v, &info) == nil
		}
		return nil
	})
	return info, found
}

// registerSelf records this leader's own addresses if the state does not
// already hold them (a bootstrapped node, or one whose address changed).
func (n *Node) registerSelf(ctx context.Context) {
	self := NodeInfo{ID: n.cfg.NodeID, RaftAddr: n.RaftAddr(), HTTPAddr: n.cfg.HTTPAddr, Rules: n.cfg.Rules, PublicURL: n.cfg.PublicURL, NoLiveSMS: n.cfg.NoLiveSMS}
	if info, ok := n.nodeInfo(self.ID); ok && info == self {
		return
	}
	if err := n.putNode(ctx, clusterActor, self); err != nil && ctx.Err() == nil {
		n.logger.Warn("recording own address failed", "err", err)
	}
}

// clusterActor is the actor of the membership commands no person asked
// for: a node's own record, and a node that joins by itself (--join).
const clusterActor = "cluster"

// putNode records info, as actor asked.
func (n *Node) putNode(ctx context.Context, actor string, info NodeInfo) error {
	b, _ := json.Marshal(info)
	return n.Apply(ctx, &muster.Command{Type: cmdNodePut, Actor: actor, Payload: b}, nil)
}

// JoinRequest is what a node that joins asks for: to be added with its ID
// and addresses, and what its own state holds, for the leader to judge
// whether that state may join.
type JoinRequest struct {
	NodeInfo
	// State is the joining node's own state; nil in a request made by
	// hand (muster cluster join) or by an older muster.
	State *JoinState `json:"state,omitempty"`
	// ByHand marks a request made by hand (muster cluster join): the
	// leader adds the node only when it answers, at the HTTP address
	// given, as that node at that raft address (see JoinByHand).
	ByHand bool `json:"by_hand,omitempty"`
	// Actor is who asked, by hand (a token's name): the audit chain
	// records the node's record as written by them. Empty: the node
	// itself (clusterActor).
	Actor string `json:"actor,omitempty"`
}

// JoinState is a joining node's own state as it reports it.
type JoinState struct {
	// Member reports that its raft state lists it as a member.
	Member bool `json:"member"`
	// AppliedIndex is the raft index its state file reflects.
	AppliedIndex uint64 `json:"applied_index"`
}

// OwnState is this node's state as a join request reports it.
func (n *Node) OwnState() *JoinState {
	st := &JoinState{AppliedIndex: n.fsm.AppliedIndex()}
	if n.hadState {
		if servers, err := n.servers(); err == nil {
			st.Member = slices.ContainsFunc(servers, func(s raft.Server) bool { return s.ID == raft.ServerID(n.cfg.NodeID) })
		}
	}
	return st
}

// Join adds a voter with the given ID and addresses. It is idempotent: a
// member already known with the same addresses is left as it is. One known
// under the same ID at another raft address is replaced only when it is gone
// from there (it moved); while it still answers there the join is a conflict:
// two nodes under one ID, and taking the live one out could cost the quorum.
// On a follower the request is forwarded to the leader.
func (n *Node) Join(ctx context.Context, info NodeInfo) error {
	return n.join(ctx, JoinRequest{NodeInfo: info})
}

// JoinByHand is Join of a node that actor (a token's name, which the audit
// chain records) adds by hand (muster cluster join): the
// leader first asks the node, at the HTTP address given, for its
// node-to-node status, and adds it only if it answers as that node at that
// raft address. A voter added where no such muster listens (another
// program's port, the simulator's) would count towards the quorum, and one
// named by a member's raft address pasted for a new node would take that
// member out; either can leave the cluster without a leader for good.
//
// info.HTTPAddr may be HOST:PORT, as muster agent --http-addr takes it: it
// is recorded as http://HOST:PORT. Anything else that is not an http or
// https base URL is refused (invalid).
func (n *Node) JoinByHand(ctx context.Context, actor string, info NodeInfo) error {
	if info.HTTPAddr != "" {
		base, err := httpBase(info.HTTPAddr)
		if err != nil {
			return err
		}
		info.HTTPAddr = base
	}
	return n.join(ctx, JoinRequest{NodeInfo: info, ByHand: true, Actor: actor})
}

// httpBase is addr, a node's HTTP address as given by hand, as a base URL:
// HOST:PORT (as muster agent --http-addr takes it) becomes http://HOST:PORT;
// a URL must be http or https with a host and no path, query or fragment.
func httpBase(addr string) (string, error) {
	bad := func(why string) error {
		return muster.Errorf(muster.EInvalid, "join: http address %q %s: give the node's HTTP address as HOST:PORT (as its muster agent --http-addr) "+
			"or as a URL such as http://10.0.0.4:8080", addr, why)
	}
	base := addr
	if !strings.Contains(addr, "://") {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return "", bad(fmt.Sprintf("is neither HOST:PORT nor a URL (%v)", err))
		}
		base = "http://" + addr
	}
	u, err := url.Parse(base)
	switch {
	case err != nil:
		return "", bad(fmt.Sprintf("is not a URL (%v)", err))
	case u.Scheme != "http" && u.Scheme != "https":
		return "", bad(fmt.Sprintf("has scheme %q, not http or https", u.Scheme))
	case u.Host == "" || u.Hostname() == "":
		return "", bad("names no host")
	case strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return "", bad("has more than a scheme, host and port")
	}
	return u.Scheme + "://" + u.Host, nil
}

// join is Join of a request that may say what the joining node's state
// holds: a node whose state shows it was a member, while the configuration
// no longer lists it, was removed and is refused; so is one whose state is
// beyond this cluster's log (of another cluster).
func (n *Node) join(ctx context.Context, req JoinRequest) error {
	info := req.NodeInfo
	if info.ID == "" || info.RaftAddr == "" {
		return muster.Errorf(muster.EInvalid, "join: node id and raft address are required")
	}
	ctx, cancel := withDeadline(ctx, n.cfg.ApplyTimeout)
	defer cancel()
	if forwarded, err := n.forwardUnlessLeader(ctx, "/internal/v1/join", req); forwarded {
		return err
	}
	servers, err := n.servers()
	if err != nil {
		return err
	}
	present := slices.ContainsFunc(servers, func(s raft.Server) bool {
		return s.ID == raft.ServerID(info.ID) && s.Address == raft.ServerAddress(info.RaftAddr)
	})
	// A node that does not say what its state holds (added by hand, or an
	// older muster) is asked at its HTTP address, unless it is a member at
	// that raft address already. Added by hand, it must answer as itself;
	// an older muster that does not is taken on its word.
	if req.State == nil && !present {
		st, err := n.askJoiner(ctx, info)
		switch {
		case err == nil:
			req.State = &st
		case req.ByHand:
			return err
		}
	}
	if err := n.checkJoinState(req, servers); err != nil {
		return err
	}
	if !present {
		if err := reachable(ctx, info.RaftAddr); err != nil {
			return muster.Errorf(muster.EUnavailable, "join: nothing answers at raft address %s of %s (%v): start the node first; "+
				"a voter that cannot be reached would count towards the quorum and could stop the cluster", info.RaftAddr, info.ID, err)
		}
	}
	for _, s := range servers {
		if s.ID == raft.ServerID(info.ID) && s.Address != raft.ServerAddress(info.RaftAddr) {
			if err := n.checkMoved(ctx, s); err != nil {
				return err
			}
		}
	}
	for _, s := range servers {
		same := s.ID == raft.ServerID(info.ID) && s.Address == raft.ServerAddress(info.RaftAddr)
		if !same && (s.ID == raft.ServerID(info.ID) || s.Address == raft.ServerAddress(info.RaftAddr)) {
			if err := n.raft.RemoveServer(s.ID, 0, 0).Error(); err != nil {
				return muster.Errorf(muster.EUnavailable, "join: replace %s: %v", s.ID, err)
			}
		}
	}
	old, ok := n.nodeInfo(info.ID)
	if ok && info.Rules == 0 && old.RaftAddr == info.RaftAddr {
		info.Rules = old.Rules // the same member: what it recorded stands
	}
	if ok && info.PublicURL == "" && old.RaftAddr == info.RaftAddr {
		info.PublicURL = old.PublicURL
	}
	if ok && req.ByHand && old.RaftAddr == info.RaftAddr {
		info.NoLiveSMS = old.NoLiveSMS // what the member said of itself stands
	}
	// The record before the voter: a member without one counts as rules 1,
	// and the leader would stamp that in between.
	if !ok || old != info {
		if err := n.putNode(ctx, cmp.Or(req.Actor, clusterActor), info); err != nil {
			return err
		}
	}
	if !present {
		deadline, _ := ctx.Deadline()
		if err := n.raft.AddVoter(raft.ServerID(info.ID), raft.ServerAddress(info.RaftAddr), 0, time.Until(deadline)).Error(); err != nil {
			return muster.Errorf(muster.EUnavailable, "join: add voter %s: %v", info.ID, err)
		}
		n.logger.Info("node joined", "id", info.ID, "raft", info.RaftAddr, "http", info.HTTPAddr, "by", cmp.Or(req.Actor, clusterActor))
		n.forgetRules() // the configuration changed
	}
	return nil
}

// joinStateOf is what a node's status says of its state.
func joinStateOf(st Status) JoinState {
	return JoinState{
		Member:       slices.ContainsFunc(st.Servers, func(s ServerStatus) bool { return s.ID == st.NodeID }),
		AppliedIndex: st.AppliedIndex,
	}
}

// askJoiner asks a node added by hand for its status at info.HTTPAddr and
// refuses it (EInvalid, EConflict) unless it answers as info.ID with raft
// address info.RaftAddr; otherwise it returns what its state holds.
func (n *Node) askJoiner(ctx context.Context, info NodeInfo) (JoinState, error) {
	if info.HTTPAddr == "" {
		return JoinState{}, muster.Errorf(muster.EInvalid, "join: give the node's --http-addr: the leader asks the node there whether it is %s at raft address %s before it makes it a voter", info.ID, info.RaftAddr)
	}
	if n.cfg.ClusterKey == "" {
		return JoinState{}, muster.Errorf(muster.EInvalid, "join: this cluster has no cluster key, so it takes no other members: start every node with the same --cluster-key")
	}
	ctx, cancel := context.WithTimeout(ctx, roomTimeout)
	defer cancel()
	st, err := n.statusAt(ctx, info.HTTPAddr)
	var unreached *url.Error
	switch {
	case errors.As(err, &unreached):
		return JoinState{}, muster.Errorf(muster.EConflict, "join: no muster node answers at %s (%v): start %s first (muster agent --node-id %s --raft-addr %s --http-addr … with this cluster's key), and check --http-addr; "+
			"nothing was changed", info.HTTPAddr, unreached.Err, info.ID, info.ID, info.RaftAddr)
	case err != nil:
		return JoinState{}, muster.Errorf(muster.EConflict, "join: what answers at %s is not a muster node of this cluster (%v): check --http-addr (the node's own, as its muster agent --http-addr) "+
			"and that %s runs with this cluster's key; nothing was changed", info.HTTPAddr, err, info.ID)
	}
	if st.NodeID != info.ID {
		return JoinState{}, muster.Errorf(muster.EConflict, "join: the node at %s is %s, not %s: check --node-id and --http-addr; nothing was changed", info.HTTPAddr, st.NodeID, info.ID)
	}
	if st.RaftAddr != "" && st.RaftAddr != info.RaftAddr {
		return JoinState{}, muster.Errorf(muster.EConflict, "join: node %s listens for raft at %s, not %s: give --raft-addr %s; nothing was changed", info.ID, st.RaftAddr, info.RaftAddr, st.RaftAddr)
	}
	return joinStateOf(st), nil
}

// statusAt is the node-to-node status of the node at base (its HTTP
// address).
func (n *Node) statusAt(ctx context.Context, base string) (Status, error) {
	return n.statusVia(ctx, n.client, base)
}

// statusVia is the node-to-node status of the node at base, asked with
// client: n.client at a node's HTTP address, n.sealed at its raft address.
func (n *Node) statusVia(ctx context.Context, client *http.Client, base string) (Status, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/internal/v1/status", nil)
	if err != nil {
		return Status{}, err
	}
	n.internal.sign(req, nil)
	sent := n.clock.Now()
	res, err := client.Do(req)
	if err != nil {
		return Status{}, err
	}
	defer res.Body.Close()
	var st Status
	if theirs, ok := n.internal.answerClock(req, res.Header); ok {
		st.clock = newClockSample(sent, n.clock.Now(), theirs)
	}
	if res.StatusCode != http.StatusOK {
		return st, fmt.Errorf("HTTP %d", res.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&st); err != nil {
		return Status{}, fmt.Errorf("not a muster status: %v", err)
	}
	return st, nil
}

// checkJoinState refuses a joining node whose own state shows it must not
// join with that state (see join).
func (n *Node) checkJoinState(req JoinRequest, servers []raft.Server) error {
	st := req.State
	if st == nil {
		return nil
	}
	if last := n.raft.LastIndex(); st.AppliedIndex > last {
		return muster.Errorf(muster.EConflict, "join: node %s holds state up to raft index %d, beyond this cluster's log (last index %d, commit index %d): "+
			"its data dir holds the state of another cluster (or of this one from before a restore). To join as a new member, empty its --data-dir (or start it with a new one)",
			req.ID, st.AppliedIndex, last, n.raft.CommitIndex())
	}
	listed := slices.ContainsFunc(servers, func(s raft.Server) bool { return s.ID == raft.ServerID(req.ID) })
	if st.Member && !listed {
		return muster.Errorf(muster.EConflict, "join: node %s holds the raft state of a member, but this cluster's configuration (commit index %d) does not list it: "+
			"it was removed (or its data dir is of another cluster) and does not join again by itself. To join as a new member, empty its --data-dir (or start it with a new one)",
			req.ID, n.raft.CommitIndex())
	}
	return nil
}

// ErrNotAMember is wrapped by the error of a node whose raft state shows
// that it is no member of the cluster it was started for (it was removed,
// or the state is of another cluster): started again on the same data dir
// it is refused again (muster agent exits so that its service manager does
// not restart it).
var ErrNotAMember = errors.New("not a member of its cluster")

// notAMember is an error that wraps ErrNotAMember and reads as msg.
type notAMember struct{ msg string }

func (e *notAMember) Error() string        { return e.msg }
func (e *notAMember) Is(target error) bool { return target == ErrNotAMember }

// checkRejoin refuses the raft state of a node started to join
// (Config.Join), to bootstrap or as listed in an initial cluster, when its
// latest configuration does not list it: it was
// removed (an earlier configuration in its log or snapshots lists it), or
// the state is of a cluster it never was a member of.
func (n *Node) checkRejoin(logs raft.LogStore, snaps raft.SnapshotStore) error {
	cf := n.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return fmt.Errorf("cluster: read the configuration in its raft state: %w", err)
	}
	self := raft.ServerID(n.cfg.NodeID)
	if lists(cf.Configuration(), self) {
		return nil
	}
	at, was, err := removal(logs, snaps, self)
	if err != nil {
		return err
	}
	if was {
		return &notAMember{fmt.Sprintf("cluster: this node (%s) was removed from its cluster at raft index %d (the configuration from there on does not list it), "+
			"and a removed node does not join again by itself: to join as a new member, empty its data dir %s (or start it with a new --data-dir)",
			self, at, n.cfg.DataDir)}
	}
	var ids []string
	for _, s := range cf.Configuration().Servers {
		ids = append(ids, string(s.ID))
	}
	return &notAMember{fmt.Sprintf("cluster: the raft state in %s is of a cluster this node (%s) was never a member of (its members: %s): "+
		"to join, empty the data dir (or start it with a new --data-dir)", n.cfg.DataDir, self, strings.Join(ids, ", "))}
}

// lists reports whether c has a server with id.
func lists(c raft.Configuration, id raft.ServerID) bool {
	return slices.ContainsFunc(c.Servers, func(s raft.Server) bool { return s.ID == id })
}

// removal finds, in the raft log and the snapshots, the configuration
// that no longer lists id (the newest, which raft uses): its index at, and
// whether an earlier one lists id (was). The log is read backwards from its
// end, up to the first configuration that lists id. (raft's own
// GetConfiguration does not tell the index.)
func removal(logs raft.LogStore, snaps raft.SnapshotStore, id raft.ServerID) (at uint64, was bool, err error) {
	err = configurations(logs, snaps, func(i uint64, c raft.Configuration) bool {
		if lists(c, id) {
			was = true
			return true
		}
		if at == 0 {
			at = i
		}
		return false
	})
	return at, was, err
}

// configurations calls visit with each configuration in the raft log and
// then in the snapshots, newest first, with its raft index, until visit
// returns true.
func configurations(logs raft.LogStore, snaps raft.SnapshotStore, visit func(index uint64, c raft.Configuration) (stop bool)) error {
	first, err := logs.FirstIndex()
	if err != nil {
		return fmt.Errorf("cluster: read the raft log: %w", err)
	}
	last, err := logs.LastIndex()
	if err != nil {
		return fmt.Errorf("cluster: read the raft log: %w", err)
	}
	for i := last; i >= first && i > 0; i-- {
		var l raft.Log
		if err := logs.GetLog(i, &l); err != nil {
			if errors.Is(err, raft.ErrLogNotFound) {
				continue
			}
			return fmt.Errorf("cluster: read raft log entry %d: %w", i, err)
		}
		if l.Type == raft.LogConfiguration && visit(i, raft.DecodeConfiguration(l.Data)) {
			return nil
		}
	}
	metas, err := snaps.List() // newest first
	if err != nil {
		return fmt.Errorf("cluster: list snapshots: %w", err)
	}
	for _, m := range metas {
		if visit(m.ConfigurationIndex, m.Configuration) {
			return nil
		}
	}
	return nil
}

// checkMoved refuses, with a conflict, to replace member s by a node that
// joins under its ID at another raft address while s is alive: it answered
// this leader over raft within three heartbeat timeouts, or it answers the
// node-to-node status call as s, at s's raft address (or, with no HTTP
// address on record, something accepts connections at that raft address).
// A member that moved (a host or pod at a new IP) answers at neither.
func (n *Node) checkMoved(ctx context.Context, s raft.Server) error {
	alive := false
	how := ""
	last, heard := n.stillHeard(ctx, s.Address)
	ctx, cancel := context.WithTimeout(ctx, roomTimeout)
	defer cancel()
	if heard {
		alive, how = true, "answered this leader over raft "+time.Since(last).Round(time.Millisecond).String()+" ago"
	} else if info, ok := n.nodeInfo(string(s.ID)); (ok && info.HTTPAddr != "") || s.ID == raft.ServerID(n.cfg.NodeID) {
		st, err := n.statusOf(ctx, string(s.ID))
		alive = err == nil && st.NodeID == string(s.ID) && st.RaftAddr == string(s.Address)
		how = "answers there"
		if alive && s.ID == raft.ServerID(n.cfg.NodeID) {
			how = "leads the cluster"
		}
	} else if reachable(ctx, string(s.Address)) == nil {
		alive, how = true, "something answers at that raft address"
	}
	if !alive {
		return nil
	}
	return muster.Errorf(muster.EConflict, "join: node %s is already a member at %s and %s: give the new node another --node-id, "+
		"or, if it is to take that member's place, stop the member and take it out first (muster cluster remove %s)", s.ID, s.Address, how, s.ID)
}

// stillHeard reports whether this leader keeps hearing from addr over raft:
// heard from within the reach window, and again once the window has passed
// since this call (a member that has just died was heard from a moment
// ago). last is when it was last heard from.
func (n *Node) stillHeard(ctx context.Context, addr raft.ServerAddress) (last time.Time, heard bool) {
	window := n.reachWindow()
	start := time.Now()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		// One reading of the clock for both: heard within the window of
		// a time at least the window past the start is heard since the
		// start (read twice, a pause between them passed a member heard
		// only before it died).
		now := time.Now()
		last = n.contacts.lastHeard(string(addr))
		if last.IsZero() || now.Sub(last) > window {
			return last, false
		}
		if now.Sub(start) >= window {
			return last, true
		}
		select {
		case <-ctx.Done():
			return last, true
		case <-t.C:
		}
	}
}

// joinDialTimeout bounds the check that a joining node's raft address
// answers.
const joinDialTimeout = 3 * time.Second

// reachable reports whether something accepts TCP connections at addr: a
// node joining runs its raft transport before it asks to join.
func reachable(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, joinDialTimeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return conn.Close()
}

// RemoveRequest asks the leader to take a member out of the cluster.
type RemoveRequest struct {
	ID string `json:"id"`
	// Force removes the member even when the voters that would remain do
	// not answer the leader in a majority (see RemoveMember).
	Force bool `json:"force,omitempty"`
	// Actor is who asked (a token's name): the audit chain records the
	// member's record as dropped by them. Empty: clusterActor.
	Actor string `json:"actor,omitempty"`
}

// Remove takes a member out of the cluster: RemoveMember without force.
func (n *Node) Remove(ctx context.Context, id string) error {
	return n.RemoveMember(ctx, RemoveRequest{ID: id})
}

// RemoveMember takes a member out of the cluster. Removing an unknown ID is
// a not_found error; removing the only voter is a conflict; removing the
// leader itself makes it step down. Unless req.Force, it is a conflict too
// when the voters that would remain would not hold a quorum among those
// that answer the leader (another voter is down: the cluster would be left
// without a leader until it is back); removing a voter that does not answer
// is never refused so. After a failed configuration change the error says
// whether this node's configuration still lists the member.
func (n *Node) RemoveMember(ctx context.Context, req RemoveRequest) error {
	id := req.ID
	ctx, cancel := withDeadline(ctx, n.cfg.ApplyTimeout)
	defer cancel()
	if forwarded, err := n.forwardUnlessLeader(ctx, "/internal/v1/remove", req); forwarded {
		return err
	}
	servers, err := n.servers()
	if err != nil {
		return err
	}
	var target *raft.Server
	voters := 0
	for i, s := range servers {
		if s.ID == raft.ServerID(id) {
			target = &servers[i]
		}
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	if target == nil {
		return muster.Errorf(muster.ENotFound, "remove: no member with id %q", id)
	}
	if target.Suffrage == raft.Voter && voters == 1 {
		return muster.Errorf(muster.EConflict, "node %s is the only voter: without it the cluster could elect no leader; add another node first", id)
	}
	if target.Suffrage == raft.Voter && !req.Force {
		if err := n.checkQuorumWithout(ctx, servers, target.ID); err != nil {
			return err
		}
	}
	remove := func() error {
		// Waited for within ctx: a configuration change raft never answers
		// (a leader removing itself: awaitOwnRemoval) must not hold the
		// request, and the node's membership calls, for good.
		f := n.raft.RemoveServer(raft.ServerID(id), 0, 0)
		wait := n.await
		if id == n.cfg.NodeID {
			wait = n.awaitOwnRemoval
		}
		if err := wait(ctx, f); err != nil {
			return n.removeFailed(id, err)
		}
		return nil
	}
	actor := cmp.Or(req.Actor, clusterActor)
	drop := func() error {
		return n.Apply(ctx, &muster.Command{Type: cmdNodeDelete, Actor: actor, Payload: []byte(id)}, nil)
	}
	if id != n.cfg.NodeID {
		// Out of the configuration first: a record left behind by a
		// failed drop names no member, and nothing reads it.
		if err := remove(); err != nil {
			return err
		}
		if err := drop(); err != nil {
			n.logger.Warn("node removed, its record stays", "id", id, "err", err)
		}
	} else {
		// A leader removing itself can apply nothing afterwards: its record
		// goes first, and comes back if it stays a member.
		info, had := n.nodeInfo(id)
		if err := drop(); err != nil {
			return err
		}
		if err := remove(); err != nil {
			if had {
				if perr := n.putNode(ctx, actor, info); perr != nil {
					n.logger.Warn("restoring own record failed", "err", perr)
				}
			}
			return err
		}
	}
	n.logger.Info("node removed", "id", id, "forced", req.Force, "by", actor)
	n.forgetRules() // the configuration changed
	return nil
}

// quorumGrace is how long a leader about to refuse a removal waits for the
// voters that would remain to be heard from (it heartbeats each every tenth
// of a heartbeat timeout): a leader just elected may not have heard from a
// live one yet.
func (n *Node) quorumGrace() time.Duration { return n.reachWindow() / reachFactor }

// checkQuorumWithout refuses, with a conflict, to take voter id out of
// servers when the voters that would remain would not be a majority of
// themselves among those that help this leader commit: able to store raft
// entries and heard from over raft since the check began. The leader hears
// from a live voter ten times a heartbeat timeout, so it waits up to one
// (quorumGrace) for them; one that died a second ago still counted in the
// reach window of CONTACT (exploratory finding Z14).
func (n *Node) checkQuorumWithout(ctx context.Context, servers []raft.Server, id raft.ServerID) error {
	type silent struct {
		id      raft.ServerID
		last    time.Time
		failing string
	}
	start := time.Now()
	var remain []string
	var quiet []silent
	count := func() int {
		remain, quiet = remain[:0], quiet[:0]
		heard := 0
		for _, s := range servers {
			if s.Suffrage != raft.Voter || s.ID == id {
				continue
			}
			remain = append(remain, string(s.ID))
			if last, ok := n.votingSince(s.ID, s.Address, start); ok {
				heard++
			} else {
				quiet = append(quiet, silent{s.ID, last, n.logFailingOf(string(s.ID))})
			}
		}
		return heard
	}
	deadline := start.Add(n.quorumGrace())
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		heard := count()
		if 2*heard > len(remain) {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	sort.Strings(remain)
	var says, names []string
	for _, q := range quiet {
		names = append(names, string(q.id))
		switch {
		case q.failing != "":
			says = append(says, fmt.Sprintf("%s answers but cannot store raft entries (%s)", q.id, q.failing))
		case q.last.IsZero():
			says = append(says, fmt.Sprintf("%s has not answered this leader since it was elected", q.id))
		default:
			says = append(says, fmt.Sprintf("%s has not answered for %s", q.id, time.Since(q.last).Round(100*time.Millisecond)))
		}
	}
	need := len(remain)/2 + 1
	return muster.Errorf(muster.EConflict, "remove: taking %s out would leave %s, of which %s: %d of them must answer for the cluster to have a quorum, "+
		"so it would be left without a leader (no call-up, stand-down or warning could be written) until they are back. "+
		"Bring %s back, or remove %s first; --force (\"force\": true) removes %s all the same; nothing was changed",
		id, strings.Join(remain, ", "), strings.Join(says, ", "), need,
		strings.Join(names, " and "), strings.Join(names, " and "), id)
}

// removeFailed is the error of a configuration change taking id out that
// failed with err: it says whether this node's latest configuration still
// lists id.
// awaitOwnRemoval waits, as await, for the change that removes this node,
// the leader, from the configuration. Raft, once it commits a configuration
// without itself, hands the entry to its FSM loop and shuts down at once
// (ShutdownOnRemove); the loop can see the shutdown first and end without
// answering the change, which then waits for ever. A raft that shut down
// while the node did not (Close and Kill close n.stop first) committed the
// removal.
func (n *Node) awaitOwnRemoval(ctx context.Context, f raft.Future) error {
	return n.awaitUnless(ctx, f, func() bool { return n.raft.State() == raft.Shutdown })
}

func (n *Node) removeFailed(id string, err error) error {
	servers, cerr := n.servers()
	if cerr != nil {
		return muster.Errorf(muster.EUnavailable, "remove %s failed (%v), and this node's configuration cannot be read (%v): see muster cluster status", id, err, cerr)
	}
	var ids []string
	for _, s := range servers {
		ids = append(ids, string(s.ID))
	}
	sort.Strings(ids)
	if slices.Contains(ids, id) {
		return muster.Errorf(muster.EUnavailable, "node %s was not removed (%v): the configuration still lists it (members: %s); remove it again once there is a leader (muster cluster status)",
			id, err, strings.Join(ids, ", "))
	}
	return muster.Errorf(muster.EUnavailable, "removing node %s was not confirmed (%v): this node's latest configuration no longer lists it (members: %s), "+
		"so it is out once a leader commits that; until the members it lists answer there is no leader (muster cluster status)",
		id, err, strings.Join(ids, ", "))
}

// ServerStatus is one member as the cluster configuration lists it.
type ServerStatus struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr,omitempty"`
	// PublicURL is the base URL the member gives the providers for their
	// webhooks and people in answer links, as its record says; absent when
	// it says none (a muster before it).
	PublicURL string `json:"public_url,omitempty"`
	// NoLiveSMS says the member's record says it has no LIVE SMS account:
	// while it leads, LIVE call-ups are refused and no LIVE message goes out.
	NoLiveSMS bool   `json:"no_live_sms,omitempty"`
	Suffrage  string `json:"suffrage"`
	Leader    bool   `json:"leader"`
	Rules     int    `json:"rules"` // as its record says; 1 when it says none
	// Reachable, on the leader, says whether the member answered it over
	// raft within three heartbeat timeouts (the leader itself: true).
	// Absent on a node that does not lead: it cannot know.
	Reachable *bool `json:"reachable,omitempty"`
	// LastContact, on the leader, is how long ago the member last answered
	// it over raft ("35ms"); absent for the leader itself, on a follower,
	// and for a member never heard from.
	LastContact string `json:"last_contact,omitempty"`
	// AppliedIndex, on the leader, is the index the member's state had
	// reached when it last answered the leader's status call (every 2 s);
	// absent (0) when unknown.
	AppliedIndex uint64 `json:"applied_index,omitempty"`
	// LogFailing, on the leader, is why the member cannot store the raft
	// entries it is sent (its log disk full, say), as it said in its last
	// answer to the status call. Such a member is not Reachable: it answers
	// heartbeats but cannot help commit.
	LogFailing string `json:"log_failing,omitempty"`
	// ClockOffsetMs is how far the member's clock is from the answering
	// node's (positive: ahead), in milliseconds, as measured in the last
	// few seconds (0 for the answering node itself), within ±ClockErrorMs;
	// absent when not measured lately (the member does not answer, or
	// runs a muster that does not say its time).
	ClockOffsetMs *int64 `json:"clock_offset_ms,omitempty"`
	ClockErrorMs  int64  `json:"clock_error_ms,omitempty"`
	// ClockSkewed marks the clock not to act on: the answering node's own
	// when it disagrees with a majority of the members (Status.ClockOff),
	// or, when the answering node's agrees, the member's that is further
	// from it than the clock tolerance.
	ClockSkewed bool `json:"clock_skewed,omitempty"`
}

// Status is a node's view of the cluster.
type Status struct {
	NodeID            string `json:"node_id"`
	RaftAddr          string `json:"raft_addr,omitempty"` // where this node's raft transport is reached
	State             string `json:"state"`               // Leader, Follower, Candidate, Shutdown
	Term              uint64 `json:"term"`
	LeaderID          string `json:"leader_id"`
	LeaderAddr        string `json:"leader_raft_addr"`
	CommitIndex       uint64 `json:"commit_index"`
	AppliedIndex      uint64 `json:"applied_index"`
	LastLogIndex      uint64 `json:"last_log_index"`
	LastSnapshotIndex uint64 `json:"last_snapshot_index"`
	LastContact       string `json:"last_contact,omitempty"`
	// Rules is the state-machine behaviour commands are applied under: the
	// newest every member implements, as the leader stamps it into the next
	// command (Node.rules, read again when a member's record changes). NodeRules
	// is this node's own.
	Rules     int `json:"rules"`
	NodeRules int `json:"node_rules"`
	// Encrypted says that this node encrypts what it says to the others
	// (every member does: sealedRules); before, raft and node-to-node
	// requests are authenticated but readable on the network.
	Encrypted bool           `json:"encrypted"`
	Servers   []ServerStatus `json:"servers"`
	// ConfigIndex is the raft index of the configuration Servers lists
	// (this node's latest; committed once CommitIndex reaches it); absent
	// (0) when it cannot be read.
	ConfigIndex uint64 `json:"config_index,omitempty"`
	// Disk is this node's data-directory disk; absent where its free space
	// cannot be read.
	Disk *Disk `json:"disk,omitempty"`
	// LogFailing is why this node cannot store the raft entries it is sent
	// now; absent when it can.
	LogFailing string `json:"log_failing,omitempty"`
	// Restored is the state's last restore, when the cluster was started
	// over a restored backup (muster.Restore: its number, the backup's raft
	// index and time, when it was restored); absent when it never was.
	Restored *muster.Restore `json:"restored,omitempty"`
	// ClockTolerance is how far this node's clock may be from those of a
	// majority of the members ("10s"); absent when clocks are not compared.
	ClockTolerance string `json:"clock_tolerance,omitempty"`
	// ClockOff says why this node's clock is not acted on (Node.ClockOff);
	// absent when it agrees with the cluster's.
	ClockOff string `json:"clock_off,omitempty"`

	// clock is the answering node's clock against the asking node's,
	// measured by statusVia from the answer's ClockHeader (a refusal's
	// too).
	clock clockSample
}

// Status reports this node's view of the cluster from local state.
func (n *Node) Status() Status {
	leaderAddr, leaderID := n.raft.LeaderWithID()
	stats := n.raft.Stats()
	st := Status{
		NodeID:       n.cfg.NodeID,
		RaftAddr:     n.RaftAddr(),
		State:        n.raft.State().String(),
		Term:         n.raft.CurrentTerm(),
		LeaderID:     string(leaderID),
		LeaderAddr:   string(leaderAddr),
		CommitIndex:  n.raft.CommitIndex(),
		AppliedIndex: n.fsm.AppliedIndex(),
		LastLogIndex: n.raft.LastIndex(),
		LastContact:  stats["last_contact"],
		Rules:        n.rules(),
		NodeRules:    n.cfg.Rules,
		Encrypted:    n.auth.sealedNow(),
		LogFailing:   n.logFailing(),
	}
	fmt.Sscan(stats["last_snapshot_index"], &st.LastSnapshotIndex)
	if r, ok := n.fsm.Restored(); ok {
		st.Restored = &r
	}
	if tol := n.clockTolerance(); tol > 0 {
		st.ClockTolerance, st.ClockOff = tol.String(), n.ClockOff()
	}
	if d, ok := n.disk(); ok {
		st.Disk = &d
	}
	if servers, err := n.servers(); err == nil {
		st.ConfigIndex = n.configIndex(servers)
		for _, s := range servers {
			ss := ServerStatus{ID: string(s.ID), RaftAddr: string(s.Address), Suffrage: s.Suffrage.String(), Leader: s.ID == leaderID}
			ss.Rules = 1
			if info, ok := n.nodeInfo(string(s.ID)); ok {
				ss.HTTPAddr, ss.PublicURL, ss.NoLiveSMS = info.HTTPAddr, info.PublicURL, info.NoLiveSMS
				ss.Rules = max(info.Rules, 1)
			}
			n.memberContact(&ss, s.Address)
			n.memberClock(&ss, st.ClockOff != "")
			st.Servers = append(st.Servers, ss)
		}
	}
	sort.Slice(st.Servers, func(i, j int) bool { return st.Servers[i].ID < st.Servers[j].ID })
	return st
}

// Ready reports whether this node can serve: it knows a leader and its state
// is within maxLag entries of the commit index it has heard of, and not
// beyond it (a state file of another cluster, which skips the entries it
// is given up to its own index).
func (n *Node) Ready(maxLag uint64) (bool, string) {
	if why := n.ClockOff(); why != "" {
		return false, why
	}
	_, id := n.raft.LeaderWithID()
	if id == "" {
		if servers, err := n.servers(); err == nil && len(servers) == 0 {
			return false, "a member of no cluster: its data dir holds no cluster state; it waits to be added (muster cluster join), " +
				"or, if it is a member restarted, --data-dir is not the one it used"
		}
		if m := n.auth.peerMismatch(); m != nil {
			return false, "no known leader: " + m.String() + ": set the cluster's --cluster-key (MUSTER_CLUSTER_KEY) on the node that is wrong and restart it"
		}
		return false, "no known leader"
	}
	if why := n.logFailing(); why != "" {
		// Its commit index stops where its log does: within maxLag of
		// it, it would look ready while thousands of entries behind.
		return false, why
	}
	commit, applied := n.raft.CommitIndex(), n.fsm.AppliedIndex()
	if commit == 0 && !n.IsLeader() {
		return false, "not yet heard from the leader"
	}
	if applied > commit {
		return false, fmt.Sprintf("applied index %d is beyond the commit index %d: waiting for the leader's; "+
			"if it stays so, the data dir holds the state of another cluster (empty it to join as a new member)", applied, commit)
	}
	if applied+maxLag < commit {
		return false, fmt.Sprintf("catching up: applied %d of %d", applied, commit)
	}
	return true, "ok"
}

// forwardUnlessLeader sends a membership request on to the leader unless this
// node leads, waiting (until ctx is done) while there is none. forwarded
// reports whether it did; then err is the leader's answer.
func (n *Node) forwardUnlessLeader(ctx context.Context, path string, body any) (forwarded bool, err error) {
	for !n.IsLeader() {
		err := n.forwardJSON(ctx, path, body, nil)
		if err != errRetry {
			return true, err
		}
		if err := n.waitLeaderChange(ctx); err != nil {
			return true, err
		}
	}
	return false, nil
}

// servers reads the latest raft configuration.
func (n *Node) servers() ([]raft.Server, error) {
	cf := n.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return nil, muster.Errorf(muster.EUnavailable, "read cluster configuration: %v", err)
	}
	return cf.Configuration().Servers, nil
}

// rulesTTL is how long the leader stamps the rules it last read from the
// members' records before it reads them again.
const rulesTTL = time.Second

// rules is the state-machine behaviour the leader stamps into commands:
// the newest every member implements (muster.Command.Rules).
func (n *Node) rules() int {
	n.rulesMu.Lock()
	defer n.rulesMu.Unlock()
	if n.rulesStale.Swap(false) || n.rulesV == 0 || time.Since(n.rulesAt) >= rulesTTL {
		var older []string
		var recorded bool
		n.rulesV, older, recorded = n.clusterRules()
		n.rulesAt = time.Now()
		if recorded {
			n.noteRules(older)
		}
	}
	return n.rulesV
}

// noteRules logs, once each time it changes, that members whose records
// name older rules than this node's muster hold the cluster at theirs
// (older: "n2 (12)", each such member), and once they no longer do, that
// the cluster applies this muster's rules: an operator upgrading node by
// node reads in the journal where the upgrade stands, as muster cluster
// status shows it. It is called only once every member has a record: one
// without (just joined, or this node before its own is written) holds the
// rules at 1 for a moment, which is no news. Called with rulesMu held.
func (n *Node) noteRules(older []string) {
	held := strings.Join(older, ", ")
	switch {
	case held == n.rulesHeld:
	case held != "":
		n.logger.Info(fmt.Sprintf("the cluster applies state-machine rules %d, older than this muster's %d: members %s run an older muster; "+
			"newer behaviour waits until every member is upgraded (muster cluster status)", n.rulesV, n.cfg.Rules, held))
	default:
		n.logger.Info(fmt.Sprintf("every member runs a muster with state-machine rules %d: the cluster applies them from now on", n.rulesV))
	}
	n.rulesHeld = held
}

// forgetRules makes the next command read the members' rules again (a
// record or the configuration changed). The FSM calls it: it only marks.
func (n *Node) forgetRules() { n.rulesStale.Store(true) }

// clusterRules is the newest behaviour every member of the configuration
// implements, as their records in the state say, and never newer than this
// node's own. A member without a record, or whose muster predates rules
// (its record has none), counts as 1. older names the members whose
// records name older rules than this node's ("n2 (12)"; one whose record
// names none reads 1); recorded is false when a member has no record yet,
// or the configuration cannot be read.
func (n *Node) clusterRules() (v int, older []string, recorded bool) {
	v = n.cfg.Rules
	servers, err := n.servers()
	if err != nil {
		return 1, nil, false
	}
	recorded = true
	for _, s := range servers {
		r := 1
		info, ok := n.nodeInfo(string(s.ID))
		if ok && info.Rules > 0 {
			r = info.Rules
		}
		if ok && r < n.cfg.Rules {
			older = append(older, fmt.Sprintf("%s (%d)", s.ID, r))
		}
		recorded = recorded && ok
		v = min(v, r)
	}
	return max(v, 1), older, recorded
}

// publishRules keeps the rules this follower implements in its member
// record: whenever the record (in this node's state) says otherwise and a
// leader is known, it records them (forwarded to the leader), so that the
// leader stamps newer rules once every member runs a muster that has them.
// It looks every rulesRetry, and at once when the leader changes, until the
// node stops.
func (n *Node) publishRules() {
	defer n.wg.Done()
	t := time.NewTicker(rulesRetry)
	defer t.Stop()
	for {
		moved := n.leaderMove.wait() // a new leader: look at once
		info, ok := n.nodeInfo(n.cfg.NodeID)
		if !ok {
			info = NodeInfo{ID: n.cfg.NodeID, RaftAddr: n.RaftAddr(), HTTPAddr: n.cfg.HTTPAddr}
		}
		_, leader := n.raft.LeaderWithID()
		// A leader records its own with its addresses (registerSelf), after
		// its barrier; the others forward theirs.
		stale := !ok || info.Rules != n.cfg.Rules || info.PublicURL != n.cfg.PublicURL || info.NoLiveSMS != n.cfg.NoLiveSMS
		if stale && leader != "" && !n.IsLeader() && n.cfg.ClusterKey != "" {
			info.Rules, info.PublicURL, info.NoLiveSMS = n.cfg.Rules, n.cfg.PublicURL, n.cfg.NoLiveSMS
			ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
			if err := n.putNode(ctx, clusterActor, info); err != nil {
				n.logger.Debug("recording this node's rules failed; trying again", "err", err)
			}
			cancel()
		}
		select {
		case <-n.stop:
			return
		case <-moved:
		case <-t.C:
		}
	}
}

// LeaderWithoutLiveSMS returns the ID of the leader when it has no LIVE
// SMS account, which would leave every LIVE call-up's messages pending:
// this node's own Config.NoLiveSMS when it leads, else what the leader's
// member record says. It returns "" when the leader has one, when its
// record does not say (a muster before it), and when no leader is known.
func (n *Node) LeaderWithoutLiveSMS() string {
	_, id := n.raft.LeaderWithID()
	switch {
	case id == "":
		return ""
	case string(id) == n.cfg.NodeID:
		if n.cfg.NoLiveSMS {
			return n.cfg.NodeID
		}
		return ""
	}
	if info, ok := n.nodeInfo(string(id)); ok && info.NoLiveSMS {
		return string(id)
	}
	return ""
}

// rulesRetry is how often publishRules tries.
const rulesRetry = 2 * time.Second
