package cluster

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// memberWatchEvery is how often a leader asks the other members for their
// status (their applied index) while it leads.
const memberWatchEvery = 2 * time.Second

// reachFactor times the heartbeat timeout is how recently a leader must have
// heard from a member over raft to count it reachable: the leader sends
// heartbeats ten times per heartbeat timeout, so a member silent for three
// timeouts is down or cut off.
const reachFactor = 3

// contacts records when this node last heard from each peer over the raft
// connections it dialled (a leader dials every follower and reads their
// answers to appends and heartbeats), and what the peers last said of
// their applied index. hashicorp/raft v1.7 keeps each follower's last
// contact and match index to itself; it only reports failed heartbeats,
// and only once the dial or the RPC has failed (10 s for a peer that does
// not answer at all).
type contacts struct {
	mu      sync.Mutex
	heard   map[string]time.Time // raft address → last bytes read from it
	applied map[string]applied   // member ID → its answer to the status call
}

type applied struct {
	index   uint64
	failing string // why it cannot store raft entries, as it said; "" when it can
	at      time.Time
}

func newContacts() *contacts {
	return &contacts{heard: map[string]time.Time{}, applied: map[string]applied{}}
}

// wrap makes conn, a connection dialled to the peer at addr, record on
// each read that the peer answered.
func (c *contacts) wrap(conn net.Conn, addr string) net.Conn {
	return &trackedConn{Conn: conn, addr: addr, c: c}
}

func (c *contacts) heardFrom(addr string) {
	now := time.Now()
	c.mu.Lock()
	c.heard[addr] = now
	c.mu.Unlock()
}

// lastHeard is when addr last answered over raft; zero if never.
func (c *contacts) lastHeard(addr string) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.heard[addr]
}

func (c *contacts) setApplied(id string, index uint64, failing string) {
	c.mu.Lock()
	c.applied[id] = applied{index: index, failing: failing, at: time.Now()}
	c.mu.Unlock()
}

// appliedOf is what member id last reported to the status call, if it did
// within maxAge.
func (c *contacts) appliedOf(id string, maxAge time.Duration) (applied, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.applied[id]
	if !ok || time.Since(a.at) > maxAge {
		return applied{}, false
	}
	return a, true
}

// reportMaxAge is how old a member's answer to the status call may be to
// be told (memberWatchEvery, twice, and the call's own timeout).
const reportMaxAge = 2*memberWatchEvery + roomTimeout

type trackedConn struct {
	net.Conn
	addr string
	c    *contacts
}

func (t *trackedConn) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	if n > 0 {
		t.c.heardFrom(t.addr)
	}
	return n, err
}

// reachWindow is how recently the leader must have heard from a member to
// count it reachable.
func (n *Node) reachWindow() time.Duration {
	hb := n.cfg.HeartbeatTimeout
	if hb <= 0 {
		hb = raft.DefaultConfig().HeartbeatTimeout
	}
	return reachFactor * hb
}

// heard reports whether this leader heard from the member at addr over raft
// within the reach window, and when it last did (zero: not since it was
// elected).
func (n *Node) heard(addr raft.ServerAddress) (last time.Time, ok bool) {
	last = n.contacts.lastHeard(string(addr))
	return last, !last.IsZero() && time.Since(last) <= n.reachWindow()
}

// logFailingOf is why member id (this node or another) cannot store raft
// entries, as it last said to this leader's status call; "" when it can or
// has not said lately.
func (n *Node) logFailingOf(id string) string {
	if id == n.cfg.NodeID {
		return n.logFailing()
	}
	a, _ := n.contacts.appliedOf(id, reportMaxAge)
	return a.failing
}

// voting reports whether the voter id at addr helps this leader commit:
// heard from within the reach window (this node itself needs no hearing),
// and not saying that it cannot store raft entries. A voter whose log disk
// is full still answers heartbeats, but no entry it is sent counts.
func (n *Node) voting(id raft.ServerID, addr raft.ServerAddress) (last time.Time, ok bool) {
	return n.votingSince(id, addr, time.Now().Add(-n.reachWindow()))
}

// votingSince is voting with the member heard from since t.
func (n *Node) votingSince(id raft.ServerID, addr raft.ServerAddress, t time.Time) (last time.Time, ok bool) {
	if id == raft.ServerID(n.cfg.NodeID) {
		return time.Time{}, n.logFailing() == ""
	}
	last = n.contacts.lastHeard(string(addr))
	return last, !last.IsZero() && !last.Before(t) && n.logFailingOf(string(id)) == ""
}

// memberContact fills in s (a member of the configuration) as this node
// knows it when it leads: whether the member answered raft within the reach
// window, how long ago, its applied index as it last reported it, and why
// it cannot store raft entries if it said so (then it is not reachable:
// it cannot help commit). A node that does not lead leaves s as it is: it
// does not know.
func (n *Node) memberContact(s *ServerStatus, addr raft.ServerAddress) {
	if !n.IsLeader() {
		return
	}
	s.LogFailing = n.logFailingOf(s.ID)
	if s.ID == n.cfg.NodeID {
		reachable := s.LogFailing == ""
		s.Reachable = &reachable
		s.AppliedIndex = n.fsm.AppliedIndex()
		return
	}
	last, reachable := n.voting(raft.ServerID(s.ID), addr)
	s.Reachable = &reachable
	if !last.IsZero() {
		s.LastContact = time.Since(last).Round(time.Millisecond).String()
	}
	if a, ok := n.contacts.appliedOf(s.ID, reportMaxAge); ok {
		s.AppliedIndex = a.index
	}
}

// watchMembers asks every other member for its status while this node
// leads (until ctx ends), recording the applied index each reports.
func (n *Node) watchMembers(ctx context.Context) {
	t := time.NewTicker(memberWatchEvery)
	defer t.Stop()
	for {
		servers, err := n.servers()
		if err == nil {
			var wg sync.WaitGroup
			for _, s := range servers {
				if s.ID == raft.ServerID(n.cfg.NodeID) {
					continue
				}
				wg.Go(func() {
					sctx, cancel := context.WithTimeout(ctx, roomTimeout)
					defer cancel()
					if st, err := n.statusOf(sctx, string(s.ID)); err == nil && st.NodeID == string(s.ID) {
						n.contacts.setApplied(string(s.ID), st.AppliedIndex, st.LogFailing)
					}
				})
			}
			wg.Wait()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reachableVoters counts the voters that help this leader commit (voting),
// itself included; false when it does not lead.
func (n *Node) reachableVoters() (int, bool) {
	if !n.IsLeader() {
		return 0, false
	}
	servers, err := n.servers()
	if err != nil {
		return 0, false
	}
	count := 0
	for _, s := range servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		if _, ok := n.voting(s.ID, s.Address); ok {
			count++
		}
	}
	return count, true
}
