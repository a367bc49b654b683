package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"muster/access"
	"muster/api"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/plans"
)

// BenchmarkReplicatedWrites measures person.create writes on a 3-node
// loopback cluster, through the Go API (plans.Service on the leader) and
// through HTTP (POST /api/v1/people on the leader's real listener), at
// several numbers of concurrent clients. It reports writes/s and the p50 and
// p99 latency of one write.
//
//	go test ./api -run '^$' -bench ReplicatedWrites -benchtime 20000x
func BenchmarkReplicatedWrites(b *testing.B) {
	for _, via := range []string{"go", "http"} {
		for _, clients := range []int{1, 16, 64, 256} {
			b.Run(fmt.Sprintf("via=%s/clients=%d", via, clients), func(b *testing.B) {
				benchWrites(b, via, clients)
			})
		}
	}
}

func benchWrites(b *testing.B, via string, clients int) {
	c := clustertest.New(b, 3, clustertest.Options{
		Setup: func(_ int, n *cluster.Node) { access.Register(n); plans.Register(n) },
		Config: func(_ int, cfg *cluster.Config) {
			// Production timeouts: the benchmark must not trip elections.
			cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 500*time.Millisecond, 500*time.Millisecond, 250*time.Millisecond
		},
		Handler: func(_ int, n *cluster.Node) http.Handler {
			return api.New(api.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: prometheus.NewRegistry()},
				api.Deps{Cluster: n, Backup: n.FSM(), Tokens: access.NewService(n, n), Plans: plans.NewService(n, n)}).Handler()
		},
	})
	leader := c.Leader()
	ctx := context.Background()
	svc := plans.NewService(leader.Node, leader.Node)
	_, err := svc.ImportRegions(ctx, "bench", bytes.NewReader(examples.RegionsCSV()))
	require.NoError(b, err)
	token, _, err := access.NewService(leader.Node, leader.Node).Bootstrap(ctx, "")
	require.NoError(b, err)
	regions, err := examples.Regions()
	require.NoError(b, err)
	grids := examples.Grids(regions)

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = clients
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()

	write := func(i int) error {
		in := plans.PersonInput{Name: "压测", Phones: []string{fmt.Sprintf("+86138%08d", i)}, Grid: string(grids[i%len(grids)]), Category: "志愿者"}
		if via == "go" {
			_, err := svc.CreatePerson(ctx, "bench", in)
			return err
		}
		body, _ := json.Marshal(in)
		req, _ := http.NewRequest(http.MethodPost, leader.HTTPAddr+"/api/v1/people", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := hc.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			return fmt.Errorf("HTTP %d", res.StatusCode)
		}
		return nil
	}

	var (
		next    atomic.Int64
		failed  atomic.Int64
		mu      sync.Mutex
		latency = make([]time.Duration, 0, b.N)
		wg      sync.WaitGroup
	)
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, b.N/clients+1)
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					break
				}
				t0 := time.Now()
				if err := write(i); err != nil {
					failed.Add(1)
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			latency = append(latency, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	require.Zero(b, failed.Load(), "writes failed")
	slices.Sort(latency)
	pct := func(p float64) float64 {
		return float64(latency[int(p*float64(len(latency)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(len(latency))/elapsed.Seconds(), "writes/s")
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
	b.ReportMetric(0, "ns/op") // the figures above are the point, not time per iteration
}
