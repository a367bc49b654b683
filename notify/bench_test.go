package notify_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/examples"

	"muster/notify"
	"muster/plans"
)

// BenchmarkActivationCommit measures committing one activation on a 3-node
// loopback cluster: from Activate until every node's FSM has applied it,
// recipient lists written on all three. The three nodes share this process,
// so the memory figures are for all three together.
//
//	go test ./notify -run '^$' -bench ActivationCommit -benchtime 1x -timeout 30m
func BenchmarkActivationCommit(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("recipients=%d", n), func(b *testing.B) {
			// Three nodes importing a million rows on a small machine starve
			// raft's timers; longer timeouts keep one leader through the setup.
			ctx, cancel := context.WithTimeout(b.Context(), 20*time.Minute)
			defer cancel()
			e := newEnvWith(b, 3, n, clustertest.Options{Setup: setup, Config: func(i int, c *cluster.Config) {
				c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = 3*time.Second, 3*time.Second, 1500*time.Millisecond
				c.ApplyTimeout = 5 * time.Minute
			}}, ctx)
			_, err := e.plans.ApplyPlan(ctx, "bench", "everyone.yaml", examples.EveryonePlan)
			require.NoError(b, err)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				runtime.GC()
				debug.FreeOSMemory()
				resetPeakRSS()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				var peakHeap atomic.Uint64
				stop := make(chan struct{})
				done := make(chan struct{})
				go func() { // sample the heap while the three nodes apply
					defer close(done)
					t := time.NewTicker(20 * time.Millisecond)
					defer t.Stop()
					for {
						var m runtime.MemStats
						runtime.ReadMemStats(&m)
						if m.HeapInuse > peakHeap.Load() {
							peakHeap.Store(m.HeapInuse)
						}
						select {
						case <-stop:
							return
						case <-t.C:
						}
					}
				}()
				if path := os.Getenv("ACTIVATION_CPUPROFILE"); path != "" { // the activation alone, not the roster import
					f, err := os.Create(path)
					require.NoError(b, err)
					require.NoError(b, pprof.StartCPUProfile(f))
					defer f.Close()
				}
				cpu0 := cpuTime()
				b.StartTimer()
				start := time.Now()
				a, err := e.svc.Activate(ctx, "bench", notify.ActivationRequest{Plan: "everyone", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "EXERCISE", Reason: "bench"})
				require.NoError(b, err)
				leader := time.Since(start)
				e.c.WaitApplied(a.Index, 5*time.Minute)
				all := time.Since(start)
				b.StopTimer()
				cpu := cpuTime() - cpu0
				pprof.StopCPUProfile()
				close(stop)
				<-done
				require.Equal(b, n, a.Recipients)
				b.ReportMetric(leader.Seconds(), "s-leader")
				b.ReportMetric(all.Seconds(), "s-all-nodes")
				b.ReportMetric(cpu.Seconds(), "s-cpu-3-nodes")
				b.ReportMetric(float64(peakHeap.Load())/(1<<20), "MiB-peak-heap-3-nodes")
				b.ReportMetric(float64(before.HeapInuse)/(1<<20), "MiB-heap-before")
				if hwm := peakRSS(); hwm > 0 {
					b.ReportMetric(float64(hwm)/(1<<20), "MiB-VmHWM-3-nodes")
				}
				_, err = e.svc.StandDown(ctx, "bench", a.ID, "bench")
				require.NoError(b, err)
			}
		})
	}
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS resets VmHWM to the current RSS (Linux ≥ 4.0), so the peak
// measured is the activation's, not the roster import's.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS reads VmHWM from /proc/self/status in bytes (0 if unavailable).
func peakRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkActivationAfterImport measures what returning an import's memory
// to the OS (cluster.FSM.ReleaseMemoryAfter, as muster agent sets it) costs
// the next call-up: one node imports a million rows, then one activation
// calls every one of them up; the collections the activation ran and its
// time, with the release and without it.
//
//	go test ./notify -run '^$' -bench ActivationAfterImport -benchtime 1x -count 2 -timeout 20m
func BenchmarkActivationAfterImport(b *testing.B) {
	regions, err := examples.Regions()
	require.NoError(b, err)
	var file strings.Builder
	require.NoError(b, examples.GenerateRoster(&file, 1_000_000, 1, examples.Grids(regions)))
	roster := file.String()
	for _, release := range []bool{true, false} {
		b.Run(fmt.Sprintf("release=%v", release), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				c := clustertest.New(b, 1, clustertest.Options{Setup: func(_ int, n *cluster.Node) {
					plans.Register(n)
					notify.Register(n)
					if release {
						n.FSM().ReleaseMemoryAfter(plans.CmdImportCommit)
					}
				}})
				n := c.Nodes[0].Node
				ps := plans.NewService(n, n)
				_, err := ps.ImportRegions(b.Context(), "bench", strings.NewReader(string(examples.RegionsCSV())))
				require.NoError(b, err)
				_, err = ps.ImportRoster(b.Context(), "bench", strings.NewReader(roster), plans.ImportOptions{})
				require.NoError(b, err)
				_, err = ps.ApplyPlan(b.Context(), "bench", "everyone.yaml", examples.EveryonePlan)
				require.NoError(b, err)
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				b.StartTimer()
				a, err := notify.NewService(n, n, senders).Activate(b.Context(), "bench",
					notify.ActivationRequest{Plan: "everyone", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "EXERCISE", Reason: "bench"})
				b.StopTimer()
				require.NoError(b, err)
				require.Equal(b, 1_000_000, a.Recipients)
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.NumGC-before.NumGC), "collections")
				b.ReportMetric(float64(before.NextGC>>20), "heap_goal_before_MiB")
				c.Close()
			}
		})
	}
}
