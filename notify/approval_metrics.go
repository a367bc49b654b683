package notify

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"muster"
)

// approvalCollector exposes the LIVE requests that wait for a second
// person's approval, read from this node's local state at each scrape.
type approvalCollector struct {
	s                 *Service
	awaiting, expired *prometheus.Desc
}

// ApprovalCollector returns a Prometheus collector of the LIVE activation
// requests at a level that needs more approvals:
// muster_activations_awaiting_approval counts those whose approval window is
// open (nothing is sent until someone approves: alert on it, as no one is
// told otherwise), muster_activations_approval_expired those whose window
// passed unapproved and that were not withdrawn (the call-up was never
// sent: an increase is worth an alert too).
func (s *Service) ApprovalCollector() prometheus.Collector {
	return &approvalCollector{s: s,
		awaiting: prometheus.NewDesc("muster_activations_awaiting_approval", "LIVE activation requests waiting for a second person's approval, their window open: nothing is sent until approved.", nil, nil),
		expired:  prometheus.NewDesc("muster_activations_approval_expired", "LIVE activation requests whose approval window passed unapproved (never sent), not withdrawn.", nil, nil),
	}
}

func (c *approvalCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.awaiting
	ch <- c.expired
}

func (c *approvalCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := c.s.now()
	var awaiting, expired int
	err := c.s.view.View(ctx, muster.Stale, func(tx *bolt.Tx) error {
		var err error
		awaiting, expired, err = countWaiting(tx, now)
		return err
	})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.awaiting, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.awaiting, prometheus.GaugeValue, float64(awaiting))
	ch <- prometheus.MustNewConstMetric(c.expired, prometheus.GaugeValue, float64(expired))
}
