package cluster

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// ClockHeader carries, on every answer to a node-to-node request (a
// refusal too), the answering node's clock, signed with the cluster key
// over the request's nonce:
//
//	X-Muster-Clock: t=<unix ms>,s=<HMAC-SHA256 hex>
//
// The asking node learns from it how far the other's clock is from its own
// even when the two are so far apart that the request itself is refused
// (internalAuthWindow), and nobody on the way can forge or replay it.
const ClockHeader = "X-Muster-Clock"

// DefaultClockTolerance is how far a node's clock may be from those of
// the majority of its cluster's members before it stops leading and
// stamping commands (Config.ClockTolerance): well inside the window in
// which the members take each other's requests (internalAuthWindow).
const DefaultClockTolerance = 10 * time.Second

// clockEvery is how often every node measures the other members' clocks.
const clockEvery = 3 * time.Second

// clockFresh is how old a measurement may be to be shown, or to count a
// member as one whose clock agrees to hand leadership to: three rounds and
// the last one's timeout. For judging this node's own clock, a member's
// last measurement counts however old (clocks do not drift apart in
// hours): a member that went down still tells whether this node's clock
// agrees with the cluster's, so that a node whose clock is off is not
// taken for right because a member fewer answers.
const clockFresh = 3*clockEvery + roomTimeout

// clockLogEvery is how often a node whose clock is off says so at ERROR.
const clockLogEvery = time.Minute

// clockFirstEvery is how often a node measures the other members' clocks
// while it has not yet measured a majority's since it started (notMeasured):
// a cluster whose members all start at once has a leader within moments.
const clockFirstEvery = 250 * time.Millisecond

// clockGuardRules are the rules from which every member answers with its
// clock (ClockHeader), so that a node that has measured no majority's
// clock since it started holds (notMeasured): under older rules a member
// runs a muster that does not say its clock, and the node would hold for
// good.
const clockGuardRules = 13

// notMeasured is why a node does not act on its clock while it has not
// measured, since it started, the clocks of a majority of the cluster's
// voters (itself counted) agreeing with its own: its clock could be off
// with nothing yet to show it (a member whose clock is off, restarted
// while another is down, could be elected by the one member it disagrees
// with, which cannot tell which of the two is off). A node measured a
// majority once goes by clockVerdict from then on.
const notMeasured = "this node has not yet measured, since it started, the clocks of a majority of the cluster's voters agreeing with its own: " +
	"until it has, it does not lead, stamp commands or run the leader's services (call-ups, escalations, approval deadlines, drills); " +
	"a member down or unreachable, or whose clock is off, keeps it so"

// clockSample is one measurement of a member's clock against this node's.
type clockSample struct {
	offset time.Duration // the member's clock minus this node's, at the middle of the exchange
	rtt    time.Duration // the exchange's round trip by this node's clock: offset is within ±rtt/2
	at     time.Time     // when it was taken (monotonic, for its age)
	ok     bool
}

// newClockSample is the measurement of an exchange this node sent at sent
// and had answered at recv (both by its clock), in which the member's clock
// read theirs.
func newClockSample(sent, recv, theirs time.Time) clockSample {
	rtt := max(recv.Sub(sent), 0)
	return clockSample{offset: theirs.Sub(sent.Add(rtt / 2)), rtt: rtt, at: time.Now(), ok: true}
}

// beyond reports whether the member's clock is surely more than tol from
// this node's: even at the edge of the measurement's error.
func (s clockSample) beyond(tol time.Duration) bool {
	return s.ok && s.offset.Abs() > tol+s.rtt/2
}

// clocks holds this node's last measurement of each member's clock and
// its verdict on its own.
type clocks struct {
	mu      sync.Mutex
	samples map[string]clockSample // member ID → last measurement
	off     string                 // why this node's clock is off; "" when it agrees
	logged  time.Time              // when off was last logged at ERROR
	stuck   time.Time              // when handOver last logged that no voter to hand over to answers
	// measured is set once this node has measured, since it started, the
	// clocks of a majority of the voters agreeing with its own
	// (notMeasured).
	measured bool
	// moved is signalled when off changes, and every round while a node
	// whose clock is off leads: watchLeadership looks again.
	moved chan struct{}
}

func newClocks() *clocks {
	return &clocks{samples: map[string]clockSample{}, moved: make(chan struct{}, 1)}
}

func (c *clocks) record(id string, s clockSample) {
	c.mu.Lock()
	c.samples[id] = s
	c.mu.Unlock()
}

// sample is the member's last measurement, if it is no older than maxAge
// (0: however old).
func (c *clocks) sample(id string, maxAge time.Duration) (clockSample, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.samples[id]
	if !ok || (maxAge > 0 && time.Since(s.at) > maxAge) {
		return clockSample{}, false
	}
	return s, true
}

func (c *clocks) signal() {
	select {
	case c.moved <- struct{}{}:
	default:
	}
}

// clockTolerance is Config.ClockTolerance with its default; 0 when the
// clocks are not compared.
func (n *Node) clockTolerance() time.Duration {
	switch {
	case n.cfg.ClockTolerance < 0:
		return 0
	case n.cfg.ClockTolerance == 0:
		return DefaultClockTolerance
	}
	return n.cfg.ClockTolerance
}

// ClockOff says why this node's clock is not to be acted on: it is further
// than the clock tolerance from the clocks of a majority of the cluster's
// members or, on a follower, from the leader's, as last measured
// (clockVerdict); "" when it is not. While it is
// off, the node is not ready, does not stamp commands, hands leadership to
// a member whose clock agrees, and runs no leader services. A leader that
// has not measured, since it restarted, the clocks of a majority agreeing
// with its own is held the same way (notMeasured); a follower stamps
// nothing, and is not held for it.
func (n *Node) ClockOff() string {
	n.clocks.mu.Lock()
	off := n.clocks.off
	n.clocks.mu.Unlock()
	if off == notMeasured && !n.IsLeader() {
		return "" // a follower stamps nothing: it is ready as before
	}
	return off
}

// watchClocks measures the other members' clocks every clockEvery (every
// clockFirstEvery until it has measured a majority's: notMeasured), from
// the node-to-node status exchange (ClockHeader), and judges this node's
// own (judgeClock), until the node stops. It judges once before it
// measures: a node that has measured nothing holds from the start.
func (n *Node) watchClocks() {
	defer n.wg.Done()
	n.clocks.mu.Lock()
	n.clocks.measured = !n.restartedAmongOthers()
	n.clocks.mu.Unlock()
	n.judgeClock()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		n.measureClocks()
		n.judgeClock()
		if n.waitingToMeasure() {
			t.Reset(clockFirstEvery)
		} else {
			t.Reset(clockEvery)
		}
	}
}

// measureClocks asks every other member of the configuration for its
// status at once, and records the clock each answer carries, a refusal's
// too.
func (n *Node) measureClocks() {
	servers, err := n.servers()
	if err != nil || n.cfg.ClusterKey == "" || n.clockTolerance() == 0 {
		return
	}
	var wg sync.WaitGroup
	for _, s := range servers {
		if s.ID == raft.ServerID(n.cfg.NodeID) {
			continue
		}
		p := peerAddr{id: string(s.ID), raftAddr: string(s.Address)}
		if info, ok := n.nodeInfo(p.id); ok {
			p.httpAddr = info.HTTPAddr
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(n.closing, roomTimeout)
			defer cancel()
			if st, _ := n.peerStatus(ctx, p); st.clock.ok {
				n.clocks.record(p.id, st.clock)
			}
		})
	}
	wg.Wait()
}

// judgeClock decides whether this node's clock is off (clockVerdict),
// keeps the verdict for ClockOff, logs it when it changes and at ERROR
// every clockLogEvery while off, and has watchLeadership look again when
// it changes or while a node whose clock is off leads.
func (n *Node) judgeClock() {
	off := n.clockVerdict()
	if off == "" && !n.measuredMajority() {
		off = notMeasured
	}
	n.clocks.mu.Lock()
	was := n.clocks.off
	n.clocks.off = off
	// Not measured yet is said by a leader that cannot hand over
	// (handOver), not here: every node restarted waits a moment.
	logNow := off != "" && off != notMeasured && (was == "" || was == notMeasured || time.Since(n.clocks.logged) >= clockLogEvery)
	if logNow {
		n.clocks.logged = time.Now()
	}
	n.clocks.mu.Unlock()
	if logNow {
		n.logger.Error(off)
	}
	if was != "" && was != notMeasured && off == "" {
		n.logger.Info("this node's clock agrees with the cluster's again", "tolerance", n.clockTolerance())
	}
	if was != off || (off != "" && n.IsLeader()) {
		n.clocks.signal()
	}
}

// clockVerdict says why this node's clock is off, or "" when it is not
// known to be: it is further than the tolerance (beyond the measurements'
// error) from the clocks of as many other members as make a majority of
// the configuration, or, on a node that does not lead, from the leader's.
// With fewer measured it cannot tell, and its clock counts as agreeing.
func (n *Node) clockVerdict() string {
	tol := n.clockTolerance()
	servers, err := n.servers()
	if err != nil || tol == 0 {
		return ""
	}
	_, leader := n.raft.LeaderWithID()
	self := raft.ServerID(n.cfg.NodeID)
	var others int
	var apart []time.Duration // how far this node's clock is from each member's it disagrees with
	var names []string
	var bound time.Duration
	leaderOff := false
	for _, s := range servers {
		if s.ID == self {
			continue
		}
		others++
		if smp, ok := n.clocks.sample(string(s.ID), 0); ok && smp.beyond(tol) {
			apart = append(apart, -smp.offset)
			names = append(names, string(s.ID))
			bound = max(bound, smp.rtt/2)
			leaderOff = leaderOff || (s.ID == leader && leader != self)
		}
	}
	var whose, who string
	switch {
	case len(apart) > 0 && len(apart) >= (others+1)/2+1:
		sort.Strings(names)
		whose, who = "the clocks of "+strings.Join(names, ", "), "a majority of the cluster's members"
	case leaderOff:
		smp, _ := n.clocks.sample(string(leader), 0)
		whose, who = "the clock of "+string(leader), "the leader"
		apart, bound = []time.Duration{-smp.offset}, smp.rtt/2
	default:
		return ""
	}
	slices.Sort(apart)
	d := apart[len(apart)/2]
	way := "ahead of"
	if d < 0 {
		way, d = "behind", -d
	}
	if d >= 10*time.Second {
		d = d.Round(time.Second) // a measure within milliseconds
	}
	return fmt.Sprintf("this node's clock is %s %s %s (%s; measured within ±%s), beyond the %s the cluster tolerates: "+
		"fix its time (NTP); until then it does not lead, stamp commands or run the leader's services (call-ups, escalations, approval deadlines, drills)",
		d.Round(time.Millisecond), way, whose, who, bound.Round(time.Millisecond), tol)
}

// waitingToMeasure reports whether this node holds for want of measures
// (notMeasured), leading or not.
func (n *Node) waitingToMeasure() bool {
	n.clocks.mu.Lock()
	defer n.clocks.mu.Unlock()
	return n.clocks.off == notMeasured
}

// restartedAmongOthers reports whether this node, starting, is a voter of
// a configuration of more than one voter that it kept: it was a member
// before, and the others' clocks are to be measured before it acts on its
// own (notMeasured). A node that bootstraps a cluster, or starts with no
// state to join one, has none to measure yet: while it is alone, or new,
// it is not the one to be elected with a clock nobody checked.
func (n *Node) restartedAmongOthers() bool {
	servers, err := n.servers()
	if err != nil {
		return false
	}
	voters, self := 0, false
	for _, s := range servers {
		if s.Suffrage == raft.Voter {
			voters++
			self = self || s.ID == raft.ServerID(n.cfg.NodeID)
		}
	}
	return self && voters > 1
}

// measuredMajority reports whether this node has measured, since it
// restarted among others (restartedAmongOthers), the clocks of a majority
// of the configuration's voters (itself counted) within the tolerance of
// its own, or need not (clocks not compared, no cluster key to measure
// with, a member under older rules that does not say its clock, this node
// no voter): notMeasured. Once it has, it stays so.
func (n *Node) measuredMajority() bool {
	n.clocks.mu.Lock()
	done := n.clocks.measured
	n.clocks.mu.Unlock()
	if done {
		return true
	}
	tol := n.clockTolerance()
	servers, err := n.servers()
	if err != nil || tol == 0 || n.cfg.ClusterKey == "" || n.rules() < clockGuardRules {
		return true
	}
	self := raft.ServerID(n.cfg.NodeID)
	voters, agree, voter := 0, 0, false
	for _, s := range servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		voters++
		if s.ID == self {
			voter = true
			agree++
		} else if smp, ok := n.clocks.sample(string(s.ID), 0); ok && !smp.beyond(tol) {
			agree++
		}
	}
	if !voter {
		return true // it leads no one: judged once it is a voter
	}
	if agree < voters/2+1 {
		return false
	}
	n.clocks.mu.Lock()
	n.clocks.measured = true
	n.clocks.mu.Unlock()
	return true
}

// clockAgrees reports whether member id's clock was measured lately within
// the tolerance of this node's.
func (n *Node) clockAgrees(id string) bool {
	tol := n.clockTolerance()
	s, ok := n.clocks.sample(id, clockFresh)
	return tol == 0 || (ok && !s.beyond(tol))
}

// agreeingVoter is a voter other than this node whose clock agrees with
// this node's (clockAgrees) and that answers this leader, if there is one.
func (n *Node) agreeingVoter() (raft.Server, bool) {
	servers, err := n.servers()
	if err != nil {
		return raft.Server{}, false
	}
	for _, s := range servers {
		if s.ID == raft.ServerID(n.cfg.NodeID) || s.Suffrage != raft.Voter || !n.clockAgrees(string(s.ID)) {
			continue
		}
		if _, ok := n.voting(s.ID, s.Address); ok {
			return s, true
		}
	}
	return raft.Server{}, false
}

// voterClockOff reports whether some other voter's clock was measured
// lately beyond the tolerance from this node's.
func (n *Node) voterClockOff() bool {
	servers, err := n.servers()
	tol := n.clockTolerance()
	if err != nil || tol == 0 {
		return false
	}
	return slices.ContainsFunc(servers, func(s raft.Server) bool {
		smp, ok := n.clocks.sample(string(s.ID), clockFresh)
		return s.Suffrage == raft.Voter && ok && smp.beyond(tol)
	})
}

// handOver hands leadership, held by this node while its clock is off (or
// not yet measured against a majority's: notMeasured), to a voter whose
// clock agrees with the majority's: one that disagrees with this node's.
// With none that answers, it stays leader without leader services and
// without stamping, and is asked again at the next round.
func (n *Node) handOver() {
	servers, err := n.servers()
	if err != nil {
		return
	}
	var to *raft.Server
	for _, s := range servers {
		if s.ID == raft.ServerID(n.cfg.NodeID) || s.Suffrage != raft.Voter {
			continue
		}
		smp, ok := n.clocks.sample(string(s.ID), clockFresh)
		if _, heard := n.voting(s.ID, s.Address); ok && heard && smp.beyond(n.clockTolerance()) {
			to = &s
			break
		}
	}
	if to == nil {
		n.clocks.mu.Lock()
		logNow := time.Since(n.clocks.stuck) >= clockLogEvery
		if logNow {
			n.clocks.stuck = time.Now()
		}
		n.clocks.mu.Unlock()
		if !logNow {
			return
		}
		if n.ClockOff() == notMeasured {
			n.logger.Error("this node leads and has not yet measured the clocks of a majority of the cluster's voters agreeing with its own, and no voter whose clock disagrees with its own answers it: it keeps leadership but stamps no command and runs no leader service until it has measured them or one answers")
			return
		}
		n.logger.Error("this node leads with a clock that is off, and no voter whose clock agrees with the cluster's answers it: it keeps leadership but stamps no command and runs no leader service until its clock is fixed or one answers")
		return
	}
	ctx, cancel := context.WithTimeout(n.closing, 2*n.raft.ReloadableConfig().ElectionTimeout+time.Second)
	defer cancel()
	if err := n.await(ctx, n.raft.LeadershipTransferToServer(to.ID, to.Address)); err != nil {
		n.logger.Warn("handing leadership over from a node whose clock is off failed; trying again at the next round", "to", to.ID, "err", err)
		return
	}
	n.logger.Warn("leadership handed over: this node's clock is off", "to", to.ID)
}

// memberClock fills in s with member s.ID's clock as this node measured
// it: its offset, the measurement's error, and whether it is the clock not
// to act on (this node's own while ClockOff, or a member's beyond the
// tolerance from this node's when this one agrees with the cluster).
func (n *Node) memberClock(s *ServerStatus, selfOff bool) {
	if n.clockTolerance() == 0 {
		return
	}
	if s.ID == n.cfg.NodeID {
		var zero int64
		s.ClockOffsetMs, s.ClockSkewed = &zero, selfOff
		return
	}
	smp, ok := n.clocks.sample(s.ID, clockFresh)
	if !ok {
		return
	}
	off := smp.offset.Milliseconds()
	s.ClockOffsetMs, s.ClockErrorMs = &off, (smp.rtt / 2).Milliseconds()
	s.ClockSkewed = !selfOff && smp.beyond(n.clockTolerance())
}

// clockString is what a ClockHeader's MAC covers.
func clockString(nonce, t string) []byte {
	return fmt.Appendf(nil, "muster-clock-v1\n%s\n%s", nonce, t)
}

// authFields reads the fields of a ClusterAuthHeader or ClockHeader.
func authFields(h string) (t, nonce, mac string) {
	for _, f := range strings.Split(h, ",") {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "t":
			t = v
		case "n":
			nonce = v
		case "s":
			mac = v
		}
	}
	return t, nonce, mac
}

// stampClock sets the ClockHeader of the answer to r, a signed
// node-to-node request, to now.
func (a *internalAuth) stampClock(h http.Header, r *http.Request, now time.Time) {
	_, nonce, _ := authFields(r.Header.Get(ClusterAuthHeader))
	if len(a.key) == 0 || a.keyOnly || nonce == "" {
		return
	}
	t := strconv.FormatInt(now.UnixMilli(), 10)
	h.Set(ClockHeader, "t="+t+",s="+hex.EncodeToString(a.mac(clockString(nonce, t))))
}

// answerClock is the clock the answer (its header h) to req, a request this
// node signed, carries, if it carries one signed with the cluster key over
// req's nonce.
func (a *internalAuth) answerClock(req *http.Request, h http.Header) (time.Time, bool) {
	_, nonce, _ := authFields(req.Header.Get(ClusterAuthHeader))
	t, _, mac := authFields(h.Get(ClockHeader))
	ms, err := strconv.ParseInt(t, 10, 64)
	got, herr := hex.DecodeString(mac)
	if nonce == "" || err != nil || herr != nil || len(a.key) == 0 || !hmac.Equal(got, a.mac(clockString(nonce, t))) {
		return time.Time{}, false
	}
	return time.UnixMilli(ms), true
}
