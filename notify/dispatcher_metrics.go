package notify

import "github.com/prometheus/client_golang/prometheus"

// dispatcherCollector exposes a Dispatcher's Stats as Prometheus counters.
type dispatcherCollector struct {
	d          *Dispatcher
	counters   []dispatcherCounter
	onFallback *prometheus.Desc
}

type dispatcherCounter struct {
	desc  *prometheus.Desc
	value func(DispatcherStats) int64
}

// Collector returns a Prometheus collector of the dispatcher's counters on
// this node since the process started: muster_dispatch_claimed_total,
// _sent_total, _retried_total, _failed_total, _resent_total,
// _throttled_total, _lookups_failed_total, and
// muster_dispatch_leader_terms_total. They count only what this node did
// while it led; the cluster-wide figures of a call-up are in its
// activation's counters.
func (d *Dispatcher) Collector() prometheus.Collector {
	c := func(name, help string, value func(DispatcherStats) int64) dispatcherCounter {
		return dispatcherCounter{desc: prometheus.NewDesc("muster_dispatch_"+name+"_total", help, nil, nil), value: value}
	}
	return &dispatcherCollector{d: d, counters: []dispatcherCounter{
		c("claimed", "Send attempts this node claimed as leader.", func(s DispatcherStats) int64 { return s.Claimed }),
		c("sent", "SMS the provider accepted from this node.", func(s DispatcherStats) int64 { return s.Sent }),
		c("retried", "Temporary send failures queued for a retry.", func(s DispatcherStats) int64 { return s.Retried }),
		c("failed", "Permanent send failures and spent retry budgets.", func(s DispatcherStats) int64 { return s.Failed }),
		c("resent", "Claims an earlier leader left unresolved, sent again (possible duplicates).", func(s DispatcherStats) int64 { return s.Resent }),
		c("throttled", "Provider throttling answers (HTTP 429 / 20429).", func(s DispatcherStats) int64 { return s.Throttled }),
		c("lookups_failed", "Statuses of sends with an overdue delivery report that the provider could not give (outcome unknown).", func(s DispatcherStats) int64 { return s.LookupsFailed }),
		c("leader_terms", "Terms this node's dispatcher ran as leader.", func(s DispatcherStats) int64 { return s.Runs }),
		c("dropped", "Claimed sends not made because the activation was stood down or retracted first.", func(s DispatcherStats) int64 { return s.Dropped }),
		c("failovers", "Times a route moved its sends to its fallback provider account.", func(s DispatcherStats) int64 { return s.Failovers }),
		c("released", "Claimed sends not made because this node closed while it led, handed back for the next leader to send once.", func(s DispatcherStats) int64 { return s.Released }),
	}, onFallback: prometheus.NewDesc("muster_dispatch_route_on_fallback", "1 while the route sends on its fallback account.", []string{"route"}, nil)}
}

func (c *dispatcherCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.counters {
		ch <- d.desc
	}
	ch <- c.onFallback
}

func (c *dispatcherCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.d.Stats()
	for _, d := range c.counters {
		ch <- prometheus.MustNewConstMetric(d.desc, prometheus.CounterValue, float64(d.value(st)))
	}
	for _, r := range st.OnFallback {
		ch <- prometheus.MustNewConstMetric(c.onFallback, prometheus.GaugeValue, 1, r)
	}
}
