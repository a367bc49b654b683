package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"

	"muster"
)

// Config configures a Node. Zero durations and counts take the defaults noted.
type Config struct {
	NodeID        string // unique and stable for the life of the node
	DataDir       string // holds state.db, raft.db and snapshots/
	RaftBind      string // host:port the raft transport listens on
	RaftAdvertise string // host:port peers dial, by IP or by name (looked up at every dial); defaults to the bound address
	HTTPAddr      string // base URL peers use to forward to this node, e.g. http://10.0.0.1:8080
	PublicURL     string // base URL of the providers' webhooks and the answer links (--public-url), kept in the member record; empty: not said
	Bootstrap     bool   // form a new single-voter cluster if the data dir is empty
	// NoLiveSMS says this node has no LIVE SMS account (muster agent
	// without --twilio-account-sid): kept in its member record, so that
	// every member can refuse a LIVE call-up while it leads
	// (LeaderWithoutLiveSMS) and cluster status names it.
	NoLiveSMS bool
	// InitialCluster, when set, lists every voter of a new cluster by ID
	// and raft address. A listed node that starts on an empty data dir
	// bootstraps with exactly this configuration, as every other listed node
	// does: nodes started alike (a StatefulSet's pods) form one cluster
	// without one of them going first. A node not listed does not bootstrap.
	InitialCluster []NodeInfo
	ClusterKey     string // shared secret for node-to-node HTTP and raft; empty disables both (single node)
	// RaftAuth says which raft connections the node takes: zero means
	// RaftAuthRequired, only those that prove they hold ClusterKey.
	RaftAuth RaftAuth
	// VoteWithoutLog lets a node with no raft log vote for any candidate,
	// as raft does (voteGuard withholds it): the way out when the members
	// that kept their data cannot elect a leader without this one's vote
	// and no other member will come back; writes only the lost members
	// held are lost.
	VoteWithoutLog bool
	// Join marks a node started to join a cluster (muster agent --join).
	// Start refuses raft state that shows this node was removed from its
	// cluster, or that is of a cluster it was never a member of: such a
	// node must not join again by itself with that state.
	Join bool
	// Rules is the newest state-machine behaviour this node implements;
	// zero means muster.Rules. Tests set a lower one to stand for an older
	// muster in a rolling upgrade.
	Rules int
	// DiskReserve is the free disk space this node keeps for call-ups: an
	// import that would leave less on it is refused (CheckRoom). Zero means
	// DefaultDiskReserve; negative, none.
	DiskReserve int64
	// DiskFree, when set, reads the free space of the data directory's
	// file system instead of statfs (tests stand in a small disk with it).
	DiskFree func(dir string) (int64, error)
	// ClockTolerance is how far this node's clock (Clock) may be from the
	// clocks of a majority of the cluster's members, as it measures them
	// every few seconds, before it stops acting on it: then it is not
	// ready, stamps no command, hands leadership to a member whose clock
	// agrees and runs no leader service (ClockOff). Zero means
	// DefaultClockTolerance; negative, the clocks are not compared.
	ClockTolerance time.Duration

	Logger    *slog.Logger
	RaftLog   io.Writer // raft's own log; nil means stderr
	RaftLevel string    // raft log level: trace, debug, info, warn (default), error
	Clock     muster.Clock

	HeartbeatTimeout   time.Duration // zero means raft's 1s; muster agent and dev use DefaultHeartbeatTimeout
	ElectionTimeout    time.Duration // zero means raft's 1s; muster agent and dev use DefaultElectionTimeout
	LeaderLeaseTimeout time.Duration // default 500ms, at most HeartbeatTimeout
	SnapshotInterval   time.Duration // default 2m
	SnapshotThreshold  uint64        // default 8192 entries
	TrailingLogs       uint64        // default 10240 entries
	ApplyTimeout       time.Duration // used when the caller's context has no deadline; default 30s

	// Dial, when set, opens every connection this node makes to its peers:
	// raft's and the HTTP forwarding to the leader. Tests route them
	// through fault-injecting proxies; nil dials directly.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	// legacyRaft makes the node speak raft without the handshake, as a
	// muster before it did (tests of a rolling upgrade set it).
	legacyRaft bool
	// legacyInternalAuth makes the node send and take node-to-node requests
	// with the cluster key in the clear and no signature, as a muster
	// before signed requests did (tests of a rolling upgrade set it).
	legacyInternalAuth bool
	// unsealed makes the node refuse encrypted raft connections and
	// node-to-node requests on its raft port, as a muster before them did
	// (tests of a rolling upgrade set it, with rules before sealedRules).
	unsealed bool
	// clockedAuth makes the node sign and check node-to-node requests by
	// Clock instead of the system clock (tests of a node whose clock is
	// off set it).
	clockedAuth bool
}

// Raft timing the server commands default to: a follower that hears nothing
// from the leader for 1–2× the heartbeat timeout starts an election, so a
// killed leader is replaced in about a second.
const (
	DefaultHeartbeatTimeout = 500 * time.Millisecond
	DefaultElectionTimeout  = 500 * time.Millisecond
)

// Node is one member of a muster cluster: a raft instance, the FSM holding
// the state, and the plumbing that lets any node accept any request.
type Node struct {
	cfg    Config
	logger *slog.Logger
	clock  muster.Clock

	fsm       *FSM
	raft      *raft.Raft
	logStore  *raftboltdb.BoltStore
	logCache  *boundedLogCache // raft's log store: the cache over logStore
	transport *raft.NetworkTransport
	votes     *voteGuard // the transport as raft sees it
	hadState  bool       // the data dir held raft state when the node started
	snaps     raft.SnapshotStore

	// confMu guards the index of the latest configuration as last read
	// (configIndex): confIndex is that of confServers.
	confMu      sync.Mutex
	confServers []raft.Server
	confIndex   uint64

	// refused is closed when this node, running, learns that it is no
	// member (refuse); refusedErr says so.
	refused    chan struct{}
	refusedErr error
	refuseOnce sync.Once
	// stillMemberAsked counts the times this node asked the members
	// whether it still is one (watchStillMember).
	stillMemberAsked atomic.Uint64

	notifyCh   chan bool
	observerCh chan raft.Observation
	observer   *raft.Observer
	leaderMove signal // broadcast when the known leader changes

	services    []func(ctx context.Context)
	leaderReady atomic.Bool // this node leads and its Barrier has completed
	// closing is the parent of the leader services' contexts: Close ends it
	// with muster.ErrClosing, and asks (finish) that they be stopped and
	// waited for, before it hands leadership over (finishLeaderServices).
	closing       context.Context
	closeServices context.CancelCauseFunc
	finish        chan chan struct{}
	// watching is set once watchLeadership runs, the only reader of
	// finish: a node whose Start failed before it (a removed node refusing
	// to join again) has no leader services to wait for when it closes.
	watching atomic.Bool
	// started is set when Start has raft running and every field it sets
	// written. The node-to-node server listens from the transport's
	// creation, before raft: until then it answers that the node is
	// starting (a restarted node is asked at once by its peers).
	started atomic.Bool

	client *http.Client
	// sealed sends node-to-node requests to the leader's raft port, over
	// TLS (sealedRules); nil on a node without a cluster key.
	sealed   *http.Client
	metrics  *nodeMetrics
	contacts *contacts     // when peers last answered over raft, and their applied index
	repeats  *repeats      // raft's repeated errors about a peer, logged once per repeatEvery
	auth     *raftAuth     // authenticates raft connections with the cluster key
	internal *internalAuth // signs and checks node-to-node requests
	clocks   *clocks       // the other members' clocks as measured, and whether this node's is off

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once

	// votesWithheld counts the vote requests this node, holding no raft
	// log, answered not granted (voteGuard).
	votesWithheld atomic.Uint64

	rulesMu    sync.Mutex
	rulesAt    time.Time // when rulesV was read from the members' records
	rulesV     int
	rulesStale atomic.Bool // a record or the configuration changed since
	// rulesHeld is the older members' rules this node last logged the
	// cluster held at (noteRules); empty while none holds it.
	rulesHeld string
}

// New opens the node's state and prepares it; command handlers and leader
// services are registered before Start.
func New(cfg Config) (*Node, error) {
	if cfg.NodeID == "" || cfg.DataDir == "" || cfg.RaftBind == "" {
		return nil, errors.New("cluster: node id, data dir and raft address are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = muster.SystemClock{}
	}
	if cfg.ApplyTimeout == 0 {
		cfg.ApplyTimeout = 30 * time.Second
	}
	if cfg.Rules <= 0 {
		cfg.Rules = muster.Rules
	}
	mode, err := ParseRaftAuth(string(cfg.RaftAuth))
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if mode == RaftAuthTransition && cfg.ClusterKey == "" {
		return nil, errors.New("cluster: raft auth transition is for a cluster upgraded from a muster without the raft handshake, whose nodes share a cluster key: this node has none")
	}
	cfg.RaftAuth = mode
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "snapshots"), 0o700); err != nil {
		return nil, fmt.Errorf("cluster: data dir: %w", err)
	}
	logger := cfg.Logger.With("node", cfg.NodeID)
	fsm, err := OpenFSM(filepath.Join(cfg.DataDir, "state.db"), logger)
	if err != nil {
		return nil, err
	}
	if err := fsm.checkNotDowngraded(); err != nil {
		fsm.Close()
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 512
	tr.MaxIdleConns = 1024
	if cfg.Dial != nil {
		tr.DialContext = cfg.Dial
	}
	n := &Node{
		cfg:        cfg,
		logger:     logger,
		clock:      cfg.Clock,
		fsm:        fsm,
		notifyCh:   make(chan bool, 16),
		observerCh: make(chan raft.Observation, 16),
		client:     &http.Client{Transport: tr},
		contacts:   newContacts(),
		clocks:     newClocks(),
		repeats:    newRepeats(repeatEvery, time.Now),
		stop:       make(chan struct{}),
		finish:     make(chan chan struct{}),
		refused:    make(chan struct{}),
	}
	if n.auth, err = newRaftAuth(cfg.ClusterKey, mode, logger); err != nil {
		fsm.Close()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	n.auth.unsealed = cfg.unsealed
	n.internal = newInternalAuth(cfg.ClusterKey, cfg.legacyInternalAuth, func() bool { return n.rules() >= signedOnlyRules })
	if cfg.clockedAuth {
		n.internal.now = cfg.Clock.Now
	}
	if mode == RaftAuthTransition {
		logger.Warn("raft takes connections without the cluster key too (--raft-auth=transition): once every node runs this muster, restart each with --raft-auth=required")
	}
	n.closing, n.closeServices = context.WithCancelCause(context.Background())
	n.metrics = newNodeMetrics(n)
	fsm.observeBatch = n.metrics.observeBatch
	n.registerMembership()
	return n, nil
}

// Handle registers the apply function for a command type. Call before Start.
func (n *Node) Handle(t string, fn muster.ApplyFunc) { n.fsm.Handle(t, fn) }

// OnRestore registers fn to record what a restored backup means for a
// domain's state, when this node starts a new cluster over one (see
// muster.RestoreFunc). Call before Start.
func (n *Node) OnRestore(fn muster.RestoreFunc) { n.fsm.OnRestore(fn) }

// OnLeader registers a leader-only service. While this node leads, fn runs
// with a context that is cancelled as soon as leadership is lost or the node
// closes; it starts only after the new leader's Barrier, so it sees every
// entry committed by earlier leaders. fn must return when ctx is done.
func (n *Node) OnLeader(fn func(ctx context.Context)) { n.services = append(n.services, fn) }

// FSM gives access to the node's state machine (applied index, backups).
func (n *Node) FSM() *FSM { return n.fsm }

// Changed returns a channel that is closed when the next committed entry
// is applied to this node's state: a service that waits for work can wake
// at once instead of polling.
func (n *Node) Changed() <-chan struct{} { return n.fsm.moved.wait() }

// ID is the node's raft server ID.
func (n *Node) ID() string { return n.cfg.NodeID }

func (n *Node) raftConfig() *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(n.cfg.NodeID)
	c.NotifyCh = n.notifyCh
	c.NoSnapshotRestoreOnStart = true // the state file is durable and knows its own index
	c.BatchApplyCh = true
	c.MaxAppendEntries = 256
	c.Logger = n.hclogger("raft")
	if n.cfg.HeartbeatTimeout > 0 {
		c.HeartbeatTimeout = n.cfg.HeartbeatTimeout
	}
	if n.cfg.ElectionTimeout > 0 {
		c.ElectionTimeout = n.cfg.ElectionTimeout
	}
	if n.cfg.LeaderLeaseTimeout > 0 {
		c.LeaderLeaseTimeout = n.cfg.LeaderLeaseTimeout
	}
	if c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		c.LeaderLeaseTimeout = c.HeartbeatTimeout
	}
	if n.cfg.SnapshotInterval > 0 {
		c.SnapshotInterval = n.cfg.SnapshotInterval
	}
	if n.cfg.SnapshotThreshold > 0 {
		c.SnapshotThreshold = n.cfg.SnapshotThreshold
	}
	if n.cfg.TrailingLogs > 0 {
		c.TrailingLogs = n.cfg.TrailingLogs
	}
	return c
}

func (n *Node) hclogger(name string) hclog.Logger {
	out := n.cfg.RaftLog
	if out == nil {
		out = os.Stderr
	}
	level := hclog.LevelFromString(n.cfg.RaftLevel)
	if level == hclog.NoLevel {
		level = hclog.Warn
	}
	return quietLogger{hclog.New(&hclog.LoggerOptions{Name: name + "[" + n.cfg.NodeID + "]", Level: level, Output: out}), n.repeats}
}

// Start opens the raft log, the transport and raft itself, bootstrapping a
// new cluster when configured to and the data dir holds no raft state.
func (n *Node) Start() error {
	adv, err := advertiseAddr(n.cfg.RaftAdvertise)
	if err != nil {
		return err
	}
	transport, err := n.raftTransport(adv)
	if err != nil {
		return fmt.Errorf("cluster: raft transport on %s: %w", n.cfg.RaftBind, err)
	}
	logStore, err := raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(n.cfg.DataDir, "raft.db"),
		BoltOptions: &bolt.Options{Timeout: 2 * time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType},
	})
	if err != nil {
		transport.Close()
		return fmt.Errorf("cluster: open raft log: %w", err)
	}
	n.transport, n.logStore = transport, logStore
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(n.cfg.DataDir, "snapshots"), 2, n.hclogger("snapshots"))
	if err != nil {
		return fmt.Errorf("cluster: snapshot store: %w", err)
	}
	n.snaps = snaps
	cache, err := newBoundedLogCache(1024, logStore, filepath.Join(n.cfg.DataDir, "raft.db"))
	if err != nil {
		return err
	}
	conf := n.raftConfig()
	n.logCache = cache
	hasState, err := raft.HasExistingState(cache, logStore, snaps)
	if err != nil {
		return fmt.Errorf("cluster: inspect raft state: %w", err)
	}
	servers, err := n.bootstrapServers()
	if err != nil {
		return err
	}
	if servers == nil && !n.cfg.Join && !hasState && n.fsm.AppliedIndex() > 0 {
		// Neither a new cluster nor a member: a state file with no raft log
		// beside it is a backup placed as state.db (or a member's log
		// lost). Waited with, it would wait for ever to be added, and a
		// cluster refuses a node whose state is beyond its log.
		return fmt.Errorf("cluster: %s holds a state file with data (up to raft index %d) and no raft log beside it: "+
			"a backup placed as state.db is restored by starting the node with --bootstrap (docs/operations.md, Restore); "+
			"a node to be added to a cluster starts with an empty data dir", n.cfg.DataDir, n.fsm.AppliedIndex())
	}
	seeded := false
	if servers != nil && !hasState {
		// A new cluster over a state file that reflects another log (a
		// backup placed as state.db). Its log starts over, so the state
		// starts counting over, or every entry up to the old index would be
		// skipped as applied (writes acknowledged and lost, the node's own
		// member record among them). And the state is the cluster's first
		// snapshot, at index 1 with the cluster's configuration, in place of
		// a bootstrap entry: a node that joins installs it, where it would
		// replay a log from 1 onto an empty state and hold only what was
		// written since the restore.
		if n.fsm.AppliedIndex() > 0 && len(servers) > 1 {
			return errors.New("cluster: a restored backup (a state file with data) starts a cluster of one node: start it with --bootstrap, then join the others")
		}
		restore, err := n.fsm.startOver(restoreIndex, n.clock.Now())
		if err != nil {
			return err
		}
		if restore.Count > 0 {
			if err := n.seedSnapshot(snaps, servers); err != nil {
				return err
			}
			seeded = true
			taken := "unknown (the backup's state has no audit chain)"
			if !restore.BackupTime.IsZero() {
				taken = restore.BackupTime.Format(time.RFC3339)
			}
			n.logger.Warn("bootstrapping a new cluster over an existing state file (a restored backup): its raft index starts over, and nodes that join install it; the call-ups open in the backup resume, and their people not yet sent to in it are sent again (they may have had it from the cluster the backup was taken of)",
				"backup_applied_index", restore.BackupIndex, "backup_taken", taken, "restore", restore.Count)
		}
	}
	votes := newVoteGuard(n.transport, n)
	n.votes = votes
	n.raft, err = raft.NewRaft(conf, n.fsm, cache, logStore, snaps, votes)
	if err != nil {
		return fmt.Errorf("cluster: start raft: %w", err)
	}
	n.wg.Add(1)
	go votes.run()
	n.observer = raft.NewObserver(n.observerCh, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	n.raft.RegisterObserver(n.observer)
	n.hadState = hasState
	// Started to join, to bootstrap or as listed in an initial cluster, as
	// a service definition keeps them: a node whose own state shows that
	// it was removed (or is of another cluster) says so and stops, where
	// with --bootstrap it campaigned for ever (a node started with none of
	// them only waits).
	if hasState && (n.cfg.Join || servers != nil) {
		if err := n.checkRejoin(logStore, snaps); err != nil {
			return err
		}
	}
	if servers != nil && !hasState && !seeded {
		f := n.raft.BootstrapCluster(raft.Configuration{Servers: servers})
		if err := f.Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return fmt.Errorf("cluster: bootstrap: %w", err)
		}
		n.logger.Info("bootstrapped a new cluster", "voters", len(servers))
	}
	n.campaignAlone(conf)
	n.wg.Add(6)
	go n.watchClocks()
	go n.watchSealing()
	n.watching.Store(true)
	go n.watchLeadership()
	go n.watchObservations()
	go n.publishRules()
	go n.watchStillMember(conf.ElectionTimeout)
	n.started.Store(true)
	return nil
}

// campaignAlone starts the node's election at once when it is the only
// voter of its configuration (a new cluster of one, or a cluster of one
// restarted): no other node can lead it, so waiting out a heartbeat timeout
// (1–2× HeartbeatTimeout) for a leader's word only delays its first write.
// A raft follower checks for its leader at once when its heartbeat timeout
// is lowered; the timeout is set back as configured straight after (the
// check already due still finds no leader ever heard and campaigns). It can
// be lowered only to the leader lease timeout, so a node whose two timeouts
// are equal waits as before.
func (n *Node) campaignAlone(conf *raft.Config) {
	if conf.LeaderLeaseTimeout >= conf.HeartbeatTimeout {
		return
	}
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return
	}
	voters := 0
	self := false
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters++
			self = self || s.ID == conf.LocalID
		}
	}
	if voters != 1 || !self {
		return
	}
	rc := n.raft.ReloadableConfig()
	fast := rc
	fast.HeartbeatTimeout = conf.LeaderLeaseTimeout
	if err := n.raft.ReloadConfig(fast); err != nil {
		return
	}
	if err := n.raft.ReloadConfig(rc); err != nil {
		n.logger.Warn("heartbeat timeout not set back after the election of a lone voter", "err", err)
	}
}

// restoreIndex is the raft index and term of the snapshot a restored
// backup becomes (seedSnapshot): that of the entry a bootstrap writes.
const restoreIndex = 1

// seedSnapshot makes the state the snapshot store's first snapshot, at
// restoreIndex with configuration servers, before raft starts: raft then
// starts from it as from any snapshot, and sends it to the nodes that join.
func (n *Node) seedSnapshot(snaps raft.SnapshotStore, servers []raft.Server) error {
	snap, err := n.fsm.Snapshot()
	if err != nil {
		return fmt.Errorf("cluster: snapshot of the restored state: %w", err)
	}
	defer snap.Release()
	sink, err := snaps.Create(raft.SnapshotVersionMax, restoreIndex, restoreIndex, raft.Configuration{Servers: servers}, restoreIndex, n.transport)
	if err != nil {
		return fmt.Errorf("cluster: snapshot of the restored state: %w", err)
	}
	if err := snap.Persist(sink); err != nil {
		return fmt.Errorf("cluster: snapshot of the restored state: %w", err)
	}
	return nil
}

// bootstrapServers is the configuration this node bootstraps a new cluster
// with: itself alone (Bootstrap), every node of InitialCluster in ID order,
// the same on each of them, or nil when it bootstraps none.
func (n *Node) bootstrapServers() ([]raft.Server, error) {
	self := raft.Server{ID: raft.ServerID(n.cfg.NodeID), Address: n.transport.LocalAddr(), Suffrage: raft.Voter}
	if len(n.cfg.InitialCluster) == 0 {
		if n.cfg.Bootstrap {
			return []raft.Server{self}, nil
		}
		return nil, nil
	}
	if n.cfg.Bootstrap {
		return nil, errors.New("cluster: bootstrap alone and an initial cluster exclude each other")
	}
	var servers []raft.Server
	listed := false
	for _, m := range n.cfg.InitialCluster {
		s := raft.Server{ID: raft.ServerID(m.ID), Address: raft.ServerAddress(m.RaftAddr), Suffrage: raft.Voter}
		if s.ID == self.ID {
			if s.Address != self.Address {
				return nil, fmt.Errorf("cluster: the initial cluster lists %s at %s, but it advertises %s", s.ID, s.Address, self.Address)
			}
			listed = true
		}
		servers = append(servers, s)
	}
	if !listed {
		return nil, nil
	}
	slices.SortFunc(servers, func(a, b raft.Server) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return servers, nil
}

// advertiseAddr is the raft address peers are told to dial: an IP address
// as it is, or a host name kept as a name (nil: the bound address). A name
// is looked up again at every dial, so a node that comes back at a new IP
// under the same name (a rescheduled pod) stays reachable at the address
// the cluster configuration holds.
func advertiseAddr(s string) (net.Addr, error) {
	if s == "" {
		return nil, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil || host == "" {
		return nil, fmt.Errorf("cluster: raft advertise address %q: want HOST:PORT", s)
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsUnspecified() {
			return nil, fmt.Errorf("cluster: raft advertise address %q: peers cannot dial an unspecified address", s)
		}
		return net.ResolveTCPAddr("tcp", s)
	}
	return hostAddr(s), nil
}

// hostAddr is a raft address by host name.
type hostAddr string

func (hostAddr) Network() string  { return "tcp" }
func (a hostAddr) String() string { return string(a) }

// raftTransport listens on RaftBind and advertises adv (nil: the bound
// address), dialling peers through Config.Dial when it is set.
func (n *Node) raftTransport(adv net.Addr) (*raft.NetworkTransport, error) {
	const pool, timeout = 5, 10 * time.Second
	ln, err := net.Listen("tcp", n.cfg.RaftBind)
	if err != nil {
		return nil, err
	}
	if adv == nil {
		if a, ok := ln.Addr().(*net.TCPAddr); ok && a.IP.IsUnspecified() {
			ln.Close()
			return nil, errors.New("it listens on all interfaces: give the address peers should dial (RaftAdvertise)")
		}
		adv = ln.Addr()
	}
	dial := n.cfg.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	stream := &dialStream{Listener: ln, adv: adv, dial: dial, auth: n.auth, track: n.contacts.wrap}
	if n.cfg.legacyRaft {
		stream.auth = nil
	}
	if stream.auth != nil && stream.auth.key != nil {
		q := newConnQueue(adv)
		stream.auth.internal = q
		stream.internal = sealedServer(q, n.InternalHandler())
		n.sealed = &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				return n.auth.dialSealed(ctx, dial, addr, purposeHTTP)
			},
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 512,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: stream, MaxPool: pool, Timeout: timeout, Logger: n.hclogger("transport")}), nil
}

// dialStream is raft's stream layer over TCP: connections are opened by
// Config.Dial, or by a plain dialer that looks names up at every dial.
// Every connection, dialled or accepted, carries the raft handshake
// (raftauth.go) before raft reads or writes a byte of it.
type dialStream struct {
	net.Listener
	adv   net.Addr
	dial  func(ctx context.Context, network, addr string) (net.Conn, error)
	auth  *raftAuth                              // nil: no handshake (legacyRaft)
	track func(c net.Conn, addr string) net.Conn // notes each answer of the peer (contacts)
	// internal serves the node-to-node requests that come to the raft
	// port (purposeHTTP); nil without a key.
	internal *http.Server
}

func (s *dialStream) Addr() net.Addr { return s.adv }

// Close stops the listener and the node-to-node requests served on it.
func (s *dialStream) Close() error {
	if s.internal != nil {
		s.internal.Close()
	}
	return s.Listener.Close()
}

// Accept returns the next connection, which runs the listener's side of
// the handshake when raft first reads from it.
func (s *dialStream) Accept() (net.Conn, error) {
	c, err := s.Listener.Accept()
	if err != nil || s.auth == nil {
		return c, err
	}
	return s.auth.accepted(c), nil
}

// Dial connects to a peer and authenticates the connection, within timeout.
func (s *dialStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var c net.Conn
	var err error
	if s.auth == nil {
		c, err = s.dial(ctx, "tcp", string(addr))
	} else {
		c, err = s.auth.dial(ctx, s.dial, string(addr))
	}
	if err != nil {
		return nil, err
	}
	return s.track(c, string(addr)), nil
}

// RaftAddr is the address peers reach this node's raft transport on.
func (n *Node) RaftAddr() string { return string(n.transport.LocalAddr()) }

func (n *Node) watchObservations() {
	defer n.wg.Done()
	for {
		select {
		case <-n.observerCh:
			n.leaderMove.broadcast()
		case <-n.stop:
			return
		}
	}
}

// watchLeadership starts leader-only services after Barrier when this node
// becomes leader and stops them when it stops leading. While this node's
// clock is off (ClockOff) it starts none, stops those it runs, and hands
// leadership over (handOver): raft has no way to keep a voter from
// standing for election without also keeping it from voting, so a node
// whose clock is off may still be elected, and steps down at once.
func (n *Node) watchLeadership() {
	defer n.wg.Done()
	var (
		cancel context.CancelFunc
		svcWG  sync.WaitGroup
	)
	stopServices := func() {
		if cancel != nil {
			cancel()
			svcWG.Wait()
			cancel = nil
			n.logger.Info("leader services stopped")
		}
	}
	defer stopServices()
	for {
		select {
		case <-n.stop:
			return
		case done := <-n.finish:
			n.leaderReady.Store(false)
			stopServices()
			close(done)
			continue
		case leader := <-n.notifyCh:
			if !leader {
				n.leaderReady.Store(false)
				stopServices()
				continue
			}
		case <-n.clocks.moved:
			if !n.IsLeader() || n.closing.Err() != nil {
				continue
			}
		}
		if !n.leaderReady.Load() {
			bctx, bcancel := context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
			err := n.await(bctx, n.raft.Barrier(n.cfg.ApplyTimeout))
			bcancel()
			if err != nil {
				n.logger.Warn("barrier after election failed; not starting leader services", "err", err)
				continue
			}
			if n.raft.State() != raft.Leader {
				continue
			}
			n.leaderReady.Store(true)
		}
		n.judgeClock() // its verdict as a leader: no other leader to disagree with
		if why := n.ClockOff(); why != "" {
			if cancel != nil {
				n.logger.Error("stopping the leader services: this node's clock is off")
			}
			stopServices()
			n.handOver()
			continue
		}
		if cancel != nil {
			continue
		}
		ctx, stopCtx := context.WithCancel(n.closing)
		cancel = stopCtx
		n.logger.Info("leading: starting leader services", "services", len(n.services), "term", n.raft.CurrentTerm())
		svcWG.Add(1)
		go func() { defer svcWG.Done(); n.registerSelf(ctx) }()
		svcWG.Add(1)
		go func() { defer svcWG.Done(); n.watchMembers(ctx) }()
		for _, fn := range n.services {
			svcWG.Add(1)
			go func() { defer svcWG.Done(); fn(ctx) }()
		}
	}
}

// IsLeader reports whether this node currently leads.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader returns the current leader's ID and raft address, or empty strings.
func (n *Node) Leader() (id, raftAddr string) {
	a, i := n.raft.LeaderWithID()
	return string(i), string(a)
}

// Apply replicates c and returns once it is applied on the leader. On the
// leader the command is stamped with a fresh ID and the time and proposed to
// raft; on a follower it is forwarded to the leader, waiting (until ctx is
// done) for one to be elected. The apply function's result is decoded into
// out when out is non-nil. Errors keep their muster code; an error with code
// unavailable after the command was proposed means its outcome is unknown.
// With a ctx marked by muster.LeaderOnly, a node that does not lead fails
// with not_leader at once: nothing is forwarded or waited for. With a ctx
// marked by muster.Idempotent, a command whose outcome is unknown is
// proposed again once there is a leader, until ctx is done.
func (n *Node) Apply(ctx context.Context, c *muster.Command, out any) error {
	start := time.Now()
	forwarded := false
	defer func() { n.metrics.observeApply(forwarded, time.Since(start)) }()
	ctx, cancel := withDeadline(ctx, n.cfg.ApplyTimeout)
	defer cancel()
	leaderOnly := muster.IsLeaderOnly(ctx)
	for {
		var err error
		switch {
		case n.IsLeader():
			err = n.applyLocal(ctx, c, out)
		case leaderOnly:
			err = errRetry
		default:
			forwarded = true
			err = n.forwardApply(ctx, c, out, muster.IsIdempotent(ctx))
		}
		if errors.Is(err, errRetry) && leaderOnly {
			return muster.Errorf(muster.ENotLeader, "apply %s: this node does not lead, and the command is not to be forwarded", c.Type)
		}
		if !errors.Is(err, errRetry) {
			return err
		}
		if err := n.waitLeaderChange(ctx); err != nil {
			if why := n.ClockOff(); why != "" && n.IsLeader() {
				return muster.Errorf(muster.EUnavailable, "apply %s: this node leads, and %s", c.Type, why)
			}
			return err
		}
	}
}

// errRetry marks failures that happened before the command reached a leader's
// log, so trying again cannot apply it twice.
var errRetry = errors.New("retry on the current leader")

func (n *Node) applyLocal(ctx context.Context, c *muster.Command, out any) error {
	if n.ClockOff() != "" {
		// Its time stamped into the command would be off: the deadlines,
		// escalation steps and reports computed from it with it. The
		// next leader, whose clock agrees, stamps it (handOver).
		return errRetry
	}
	c.ID = newID()
	c.Time = n.clock.Now().UTC()
	c.Rules = n.rules()
	b, err := c.MarshalBinary()
	if err != nil {
		return err
	}
	deadline, _ := ctx.Deadline()
	f := n.raft.Apply(b, time.Until(deadline))
	if err := n.await(ctx, f); err != nil {
		switch {
		case errors.Is(err, errAbandoned) && ctx.Err() != nil:
			return muster.Errorf(muster.ETimeout, "apply %s: no result before the deadline (it may or may not have been applied)", c.Type)
		case errors.Is(err, raft.ErrNotLeader):
			return errRetry
		case muster.IsIdempotent(ctx) && !errors.Is(err, raft.ErrEnqueueTimeout):
			return errRetry // asked again of the next leader: a second application changes nothing
		case errors.Is(err, errAbandoned):
			return muster.Errorf(muster.EUnavailable, "apply %s: node is shutting down (it may or may not have been applied)", c.Type)
		case errors.Is(err, raft.ErrEnqueueTimeout):
			return muster.Errorf(muster.ETimeout, "apply %s: timed out waiting for the raft log", c.Type)
		case errors.Is(err, raft.ErrRaftShutdown):
			return muster.Errorf(muster.EUnavailable, "apply %s: node is shutting down", c.Type)
		default: // ErrLeadershipLost and friends: the entry may or may not commit
			return muster.Errorf(muster.EUnavailable, "apply %s: %v (it may or may not have been applied)", c.Type, err)
		}
	}
	res, _ := f.Response().(result)
	if res.err != nil {
		return res.err
	}
	return decodeInto(res.value, out)
}

// decodeInto stores v in *out: directly when the types fit, through JSON
// otherwise (the same path a forwarded result takes).
func decodeInto(v any, out any) error {
	if out == nil || v == nil {
		return nil
	}
	ov := reflect.ValueOf(out)
	if ov.Kind() != reflect.Pointer || ov.IsNil() {
		return fmt.Errorf("cluster: result target must be a non-nil pointer, got %T", out)
	}
	vv := reflect.ValueOf(v)
	if vv.Type().AssignableTo(ov.Elem().Type()) {
		ov.Elem().Set(vv)
		return nil
	}
	if vv.Kind() == reflect.Pointer && !vv.IsNil() && vv.Elem().Type().AssignableTo(ov.Elem().Type()) {
		ov.Elem().Set(vv.Elem())
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("cluster: encode result: %w", err)
	}
	return json.Unmarshal(b, out)
}

func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// waitLeaderChange waits for the next leader observation, a short pause, or
// ctx, whichever comes first: the pause covers a leader that is known but has
// not yet published its HTTP address.
func (n *Node) waitLeaderChange(ctx context.Context) error {
	t := time.NewTimer(50 * time.Millisecond)
	defer t.Stop()
	select {
	case <-n.leaderMove.wait():
		return nil
	case <-t.C:
		return nil
	case <-n.stop:
		return muster.Errorf(muster.EUnavailable, "node is shutting down")
	case <-ctx.Done():
		return muster.Errorf(muster.ETimeout, "no leader reachable before the deadline (%v): an election is under way, or too few voters are up, reachable or able to write their raft log (see their logs)", ctx.Err())
	}
}

// View runs fn on this node's state once it is as fresh as level requires:
// stale reads at once; default first catches up with the leader's commit
// index; linearizable also has the leader confirm its leadership with a
// quorum first. Reads are always served from the local state file.
func (n *Node) View(ctx context.Context, level muster.Consistency, fn func(tx *bolt.Tx) error) error {
	if level != muster.Stale {
		ctx, cancel := withDeadline(ctx, 10*time.Second)
		defer cancel()
		if err := n.catchUp(ctx, level == muster.Linearizable); err != nil {
			return err
		}
	}
	return n.fsm.View(fn)
}

func (n *Node) catchUp(ctx context.Context, verify bool) error {
	for {
		leader := n.IsLeader()
		var (
			idx uint64
			err error
		)
		if leader {
			_, err = n.readIndex(ctx, verify)
		} else {
			idx, err = n.remoteReadIndex(ctx, verify)
		}
		if errors.Is(err, errRetry) {
			if err := n.waitLeaderChange(ctx); err != nil {
				return err
			}
			continue
		}
		if err != nil || leader {
			return err // the leader's own state is the read index
		}
		if !n.fsm.WaitApplied(ctx.Done(), idx) {
			if why := n.logFailing(); why != "" {
				return muster.Errorf(muster.EStorage, "this node did not catch up to index %d before the deadline: %s; ask another node", idx, why)
			}
			return muster.Errorf(muster.ETimeout, "this node did not catch up to index %d before the deadline", idx)
		}
		return nil
	}
}

// readIndex is the leader's side of a read: the index its state has reached,
// which holds every acknowledged write because a write is acknowledged only
// after the leader applied it. It waits for the Barrier that follows an
// election (so entries committed by earlier leaders are applied too), and
// with verify first confirms with a quorum that this node still leads. The
// index is always that of an entry the FSM sees (a command or configuration
// change), never a raft no-op, so a follower's state is sure to reach it.
func (n *Node) readIndex(ctx context.Context, verify bool) (uint64, error) {
	for {
		if n.raft.State() != raft.Leader {
			return 0, errRetry
		}
		if n.leaderReady.Load() {
			break
		}
		if err := n.waitLeaderChange(ctx); err != nil {
			return 0, err
		}
	}
	if verify {
		if err := n.await(ctx, n.raft.VerifyLeader()); err != nil {
			return 0, errRetry
		}
	}
	return n.fsm.AppliedIndex(), nil
}

// Close leaves the cluster gracefully: a leader first lets its leader
// services finish what they have under way (finishLeaderServices), then
// hands leadership to another voter, then raft shuts down and the files
// are closed.
func (n *Node) Close() error {
	var err error
	n.closeOnce.Do(func() {
		if n.raft != nil {
			n.finishLeaderServices()
			if n.IsLeader() && n.voters() > 1 {
				var f raft.Future
				if to, ok := n.agreeingVoter(); ok && n.ClockOff() == "" && n.voterClockOff() {
					// Not to a member whose clock is off: it would only
					// hand leadership on again.
					f = n.raft.LeadershipTransferToServer(to.ID, to.Address)
				} else {
					f = n.raft.LeadershipTransfer()
				}
				if terr := f.Error(); terr != nil {
					n.logger.Warn("leadership transfer before shutdown failed", "err", terr)
				} else {
					n.logger.Info("leadership transferred before shutdown")
				}
			}
			close(n.stop)
			if serr := n.raft.Shutdown().Error(); serr != nil {
				err = serr
			}
			n.raft.DeregisterObserver(n.observer)
			n.wg.Wait()
			n.votes.stopHeartbeats()
			if n.transport != nil {
				n.transport.Close()
			}
			if n.logStore != nil {
				n.logStore.Close()
			}
		} else {
			close(n.stop)
			// A start refused after it opened them (a backup started
			// without --bootstrap): their files and port are let go.
			if n.transport != nil {
				n.transport.Close()
			}
			if n.logStore != nil {
				n.logStore.Close()
			}
		}
		if ferr := n.fsm.Close(); ferr != nil && err == nil {
			err = ferr
		}
		n.client.CloseIdleConnections()
		if n.sealed != nil {
			n.sealed.CloseIdleConnections()
		}
	})
	return err
}

// leaderServicesGrace bounds how long a closing node waits for its leader
// services to return before it hands leadership over all the same.
const leaderServicesGrace = 15 * time.Second

// finishLeaderServices ends the leader services' context with
// muster.ErrClosing and waits until they have returned, at most
// leaderServicesGrace. While they finish, this node still leads: the
// dispatcher commits the results of the sends it had on the wire and
// releases the claims it never sent, so the next leader sends those once
// instead of sending every claim again as a possible duplicate.
func (n *Node) finishLeaderServices() {
	n.closeServices(muster.ErrClosing)
	if !n.watching.Load() {
		return // no leader services ever ran; nobody reads finish
	}
	t := time.NewTimer(leaderServicesGrace)
	defer t.Stop()
	done := make(chan struct{})
	select {
	case n.finish <- done:
	case <-t.C:
		n.logger.Warn("leader services still busy at shutdown; closing without waiting for them", "waited", leaderServicesGrace)
		return
	}
	select {
	case <-done:
	case <-t.C:
		n.logger.Warn("leader services did not finish before shutdown; closing without waiting for them", "waited", leaderServicesGrace)
	}
}

// Kill stops the node abruptly, as a crash would: no leadership transfer.
// Only tests use it; the files stay as they are on disk.
func (n *Node) Kill() {
	n.closeOnce.Do(func() {
		close(n.stop)
		_ = n.raft.Shutdown().Error()
		n.raft.DeregisterObserver(n.observer)
		n.wg.Wait()
		n.votes.stopHeartbeats()
		n.transport.Close()
		n.logStore.Close()
		n.fsm.Close()
		n.client.CloseIdleConnections()
		if n.sealed != nil {
			n.sealed.CloseIdleConnections()
		}
	})
}

func (n *Node) voters() int {
	servers, err := n.servers()
	if err != nil {
		return 0
	}
	c := 0
	for _, s := range servers {
		if s.Suffrage == raft.Voter {
			c++
		}
	}
	return c
}

// Snapshot asks raft to take a snapshot now (admin and tests).
func (n *Node) Snapshot() error { return n.raft.Snapshot().Error() }

// withDeadline gives ctx a deadline d from now unless it already has one.
func withDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// errAbandoned reports that waiting for a raft future was given up; the
// operation may still complete.
var errAbandoned = errors.New("stopped waiting for raft")

// await waits for a raft future, but no longer than ctx or the node's life.
// raft resolves a future only if its loops pick it up: one enqueued in the
// buffered apply channel just before shutdown would otherwise block forever.
// An abandoned wait leaves one goroutine behind until raft answers, if ever.
func (n *Node) await(ctx context.Context, f raft.Future) error {
	return n.awaitUnless(ctx, f, nil)
}

// awaitUnless is await that also ends, with nil, once settled (when not
// nil), looked at every 50 ms, says that the future's work is done.
func (n *Node) awaitUnless(ctx context.Context, f raft.Future, settled func() bool) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	var tick <-chan time.Time
	if settled != nil {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case err := <-done:
			return err
		case <-n.stop:
			return fmt.Errorf("%w: %w", errAbandoned, raft.ErrRaftShutdown)
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", errAbandoned, ctx.Err())
		case <-tick:
			if settled() {
				return nil
			}
		}
	}
}

// logFailing says why this node cannot store the raft entries the leader
// sends it (its disk full), or "" when it can.
func (n *Node) logFailing() string {
	if n.logCache == nil {
		return ""
	}
	return n.logCache.Failing()
}
