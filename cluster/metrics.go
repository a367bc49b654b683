package cluster

import (
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// nodeMetrics are the node's Prometheus metrics: apply latency and FSM batch
// sizes observed as they happen, raft state read at scrape time.
type nodeMetrics struct {
	n            *Node
	applySeconds *prometheus.HistogramVec
	batchEntries prometheus.Histogram
	batchSeconds prometheus.Histogram

	state, term, commit, applied, lastLog, lastContact, servers, reachable *prometheus.Desc
	diskFree, diskReserve, stateBytes                                      *prometheus.Desc
	raftRefused, votesWithheld                                             *prometheus.Desc
}

func newNodeMetrics(n *Node) *nodeMetrics {
	return &nodeMetrics{
		n: n,
		applySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "muster_apply_seconds",
			Help:    "Time from proposing a command to its result, by path (local on the leader, or forwarded).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"path"}),
		batchEntries: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "muster_fsm_batch_entries",
			Help:    "Raft log entries applied per bbolt transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "muster_fsm_batch_seconds",
			Help:    "Time to apply and commit one batch of entries to the state file.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}),
		state:         prometheus.NewDesc("muster_raft_state", "1 for this node's current raft state.", []string{"state"}, nil),
		term:          prometheus.NewDesc("muster_raft_term", "Current raft term.", nil, nil),
		commit:        prometheus.NewDesc("muster_raft_commit_index", "Highest log index known to be committed.", nil, nil),
		applied:       prometheus.NewDesc("muster_raft_applied_index", "Highest log index reflected in the state file.", nil, nil),
		lastLog:       prometheus.NewDesc("muster_raft_last_log_index", "Last index in the raft log.", nil, nil),
		lastContact:   prometheus.NewDesc("muster_raft_last_contact_seconds", "Seconds since a follower last heard from the leader (0 on the leader).", nil, nil),
		servers:       prometheus.NewDesc("muster_raft_servers", "Members in the raft configuration.", nil, nil),
		reachable:     prometheus.NewDesc("muster_raft_voters_reachable", "Voters the leader heard from over raft within three heartbeat timeouts that can store raft entries, itself included (only the leader reports it): below a majority of the voters, the cluster can take no write.", nil, nil),
		diskFree:      prometheus.NewDesc("muster_disk_free_bytes", "Free space on the data directory's file system (alert well above muster_disk_reserve_bytes: an import that would go below it is refused, and a full disk stops the node).", nil, nil),
		diskReserve:   prometheus.NewDesc("muster_disk_reserve_bytes", "Free disk this node keeps for call-ups (--disk-reserve).", nil, nil),
		stateBytes:    prometheus.NewDesc("muster_state_bytes", "Size of the state, which each snapshot copies.", nil, nil),
		votesWithheld: prometheus.NewDesc("muster_raft_votes_withheld_total", "Vote requests this node answered not granted because it holds no raft log (its data was lost, or it was just added) and the candidate has one: it could elect a member lacking acknowledged writes.", nil, nil),
		raftRefused:   prometheus.NewDesc("muster_raft_connections_refused_total", "Raft connections this node refused: without the cluster handshake, with another cluster key, or all on a node without a key (those closed without a byte are not counted).", nil, nil),
	}
}

func (m *nodeMetrics) observeApply(forwarded bool, d time.Duration) {
	path := "local"
	if forwarded {
		path = "forwarded"
	}
	m.applySeconds.WithLabelValues(path).Observe(d.Seconds())
}

func (m *nodeMetrics) observeBatch(entries int, d time.Duration) {
	m.batchEntries.Observe(float64(entries))
	m.batchSeconds.Observe(d.Seconds())
}

// Describe implements prometheus.Collector.
func (m *nodeMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.applySeconds.Describe(ch)
	m.batchEntries.Describe(ch)
	m.batchSeconds.Describe(ch)
	for _, d := range []*prometheus.Desc{m.state, m.term, m.commit, m.applied, m.lastLog, m.lastContact, m.servers, m.reachable, m.diskFree, m.diskReserve, m.stateBytes, m.raftRefused, m.votesWithheld} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *nodeMetrics) Collect(ch chan<- prometheus.Metric) {
	m.applySeconds.Collect(ch)
	m.batchEntries.Collect(ch)
	m.batchSeconds.Collect(ch)
	r := m.n.raft
	if r == nil {
		return
	}
	cur := r.State()
	for _, s := range []raft.RaftState{raft.Follower, raft.Candidate, raft.Leader, raft.Shutdown} {
		v := 0.0
		if s == cur {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(m.state, prometheus.GaugeValue, v, s.String())
	}
	ch <- prometheus.MustNewConstMetric(m.term, prometheus.GaugeValue, float64(r.CurrentTerm()))
	ch <- prometheus.MustNewConstMetric(m.commit, prometheus.GaugeValue, float64(r.CommitIndex()))
	ch <- prometheus.MustNewConstMetric(m.applied, prometheus.GaugeValue, float64(m.n.fsm.AppliedIndex()))
	ch <- prometheus.MustNewConstMetric(m.lastLog, prometheus.GaugeValue, float64(r.LastIndex()))
	ch <- prometheus.MustNewConstMetric(m.raftRefused, prometheus.CounterValue, float64(m.n.auth.refused.Load()))
	ch <- prometheus.MustNewConstMetric(m.votesWithheld, prometheus.CounterValue, float64(m.n.votesWithheld.Load()))
	contact := 0.0
	if cur != raft.Leader {
		if t := r.LastContact(); !t.IsZero() {
			contact = time.Since(t).Seconds()
		}
	}
	ch <- prometheus.MustNewConstMetric(m.lastContact, prometheus.GaugeValue, contact)
	if cf := r.GetConfiguration(); cf.Error() == nil {
		ch <- prometheus.MustNewConstMetric(m.servers, prometheus.GaugeValue, float64(len(cf.Configuration().Servers)))
	}
	if v, ok := m.n.reachableVoters(); ok {
		ch <- prometheus.MustNewConstMetric(m.reachable, prometheus.GaugeValue, float64(v))
	}
	if d, ok := m.n.disk(); ok {
		ch <- prometheus.MustNewConstMetric(m.diskFree, prometheus.GaugeValue, float64(d.Free))
		ch <- prometheus.MustNewConstMetric(m.diskReserve, prometheus.GaugeValue, float64(d.Reserve))
		ch <- prometheus.MustNewConstMetric(m.stateBytes, prometheus.GaugeValue, float64(d.State))
	}
}

// Collector exposes the node's metrics for registration in a Prometheus
// registry owned by the caller.
func (n *Node) Collector() prometheus.Collector { return n.metrics }
