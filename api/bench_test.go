package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
	"muster/api"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/notify"
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

// BenchmarkActivationEvents measures what watching a call-up costs the node
// that serves the watchers: streams clients hold GET
// /api/v1/activations/{id}/events open on one city-wide call-up (the demo
// city's 1,200 grids, 12,000 people) for five seconds. With board=false
// nothing changes meanwhile: the cost is the streams' polling. With
// board=true, 20 answers a second come in, and each client follows the
// stream with the board (events?board=true), as the console does. It
// reports the process's CPU time per second of watching (the answers' own
// cost included), the status and board events received per second, what
// each stream received per second, and the size of the whole board and
// status (GET .../board and GET /activations/{id}).
//
//	go test ./api -run '^$' -bench ActivationEvents -benchtime 1x
func BenchmarkActivationEvents(b *testing.B) {
	const watch = 5 * time.Second
	for _, board := range []bool{false, true} {
		for _, streams := range []int{1, 10, 100} {
			b.Run(fmt.Sprintf("board=%v/streams=%d", board, streams), func(b *testing.B) {
				f := newFixture(b, 1)
				h := f.handler(f.c.Nodes[0])
				a := boardCallUp(b, f, h, 12_000, string(examples.CityCode))
				srv := httptest.NewServer(h)
				defer srv.Close()
				tr := http.DefaultTransport.(*http.Transport).Clone()
				tr.MaxIdleConnsPerHost = 2 * streams
				defer tr.CloseIdleConnections()
				hc := &http.Client{Transport: tr}
				get := func(ctx context.Context, path string) (*http.Response, error) {
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/activations/"+string(a.ID)+path, nil)
					req.Header.Set("Authorization", "Bearer "+f.root)
					return hc.Do(req)
				}
				answers := answerer(b, f, a.ID)
				size := func(path string) float64 { // KiB of one answer to GET path
					res, err := get(context.Background(), path)
					require.NoError(b, err)
					defer res.Body.Close()
					n, err := io.Copy(io.Discard, res.Body)
					require.NoError(b, err)
					return float64(n) / 1024
				}
				boardKiB, statusKiB := size("/board"), size("")
				b.ResetTimer()
				for range b.N {
					ctx, cancel := context.WithCancel(context.Background())
					var wg sync.WaitGroup
					var events, boards, received atomic.Int64
					first := make(chan error, streams)
					for range streams {
						wg.Go(func() {
							path := "/events"
							if board {
								path += "?board=true"
							}
							res, err := get(ctx, path)
							if err != nil {
								first <- err
								return
							}
							defer res.Body.Close()
							// Lines are looked at without copying: a board's data
							// line is hundreds of KB, and reading it is the
							// client's cost, not the node's.
							r := bufio.NewReaderSize(res.Body, 64<<10)
							// The stream has started once its first event is
							// all in: the status, and with board=true the
							// whole board that follows it.
							started, lineStart, firstData := false, true, false
							for {
								chunk, err := r.ReadSlice('\n')
								if err != nil && err != bufio.ErrBufferFull {
									if !started {
										first <- err
									}
									return
								}
								received.Add(int64(len(chunk)))
								line := string(chunk[:min(len(chunk), 16)])
								atStart := lineStart
								lineStart = err == nil // the next chunk starts a line
								switch {
								case !started && (firstData || !atStart):
									if firstData && err == nil { // the end of the first event's last data line
										started = true
										first <- nil
									}
								case !started:
									firstData = line == "event: board\n" || (!board && line == "event: status\n")
								case !atStart:
								case line == "event: status\n":
									events.Add(1)
								case line == "event: board\n":
									boards.Add(1)
								}
							}
						})
					}
					deadline := time.After(30 * time.Second)
					for range streams {
						select {
						case err := <-first:
							require.NoError(b, err)
						case <-deadline:
							b.Fatal("streams did not start within 30s")
						}
					}
					stopAnswers := func() {}
					if board {
						stopAnswers = answers(ctx, 20)
					}
					cpu0, bytes0 := cpuTime(), received.Load()
					time.Sleep(watch) // the span measured, not a wait for an event
					cpu, got := cpuTime()-cpu0, received.Load()-bytes0
					stopAnswers()
					cancel()
					wg.Wait()
					b.ReportMetric(float64(cpu.Microseconds())/1000/watch.Seconds(), "cpu-ms/s")
					b.ReportMetric(float64(events.Load())/watch.Seconds(), "events/s")
					b.ReportMetric(float64(boards.Load())/watch.Seconds(), "boards/s")
					b.ReportMetric(float64(got)/1024/float64(streams)/watch.Seconds(), "KiB/s/stream")
					b.ReportMetric(boardKiB, "board-KiB")
					b.ReportMetric(statusKiB, "status-KiB")
				}
			})
		}
	}
}

// answerer returns a function that starts answering activation id ("1",
// accepted) perSecond times a second through the inbound path, as the
// provider's webhooks would, until the returned stop is called.
func answerer(b *testing.B, f *fixture, id plans.ActivationID) func(ctx context.Context, perSecond int) (stop func()) {
	n := f.c.Leader().Node
	svc := notify.NewService(n, n, testSenders)
	l, err := svc.Recipients(context.Background(), muster.Default, id, notify.RecipientFilter{State: notify.StatePending}, plans.Page{Limit: plans.MaxPageLimit})
	require.NoError(b, err)
	acct := testSenders.Exercise.Account
	in := notify.NewInbound(n, notify.InboundConfig{Exercise: []string{acct}})
	b.Cleanup(in.Close)
	next := 0
	return func(ctx context.Context, perSecond int) func() {
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(time.Second / time.Duration(perSecond))
			defer t.Stop()
			for next < len(l.Items) {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				p := l.Items[next]
				next++
				_, _ = in.Submit(ctx, notify.InboundItem{Kind: notify.InboundReply, SID: "SMbench" + string(p.Person), From: p.Phone, Body: "1", Account: acct})
			}
		}()
		return func() {
			cancel()
			<-done
		}
	}
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
