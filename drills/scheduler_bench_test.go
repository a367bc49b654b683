package drills_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"muster/drills"
)

// BenchmarkScheduler measures the scheduler's overhead on a real
// single-node cluster: one pass when nothing is due, with no schedules and
// with 10,000; one pass when 100 of the 10,000 are due (100 fires, each
// creating its EXERCISE activation); and one Prometheus scrape.
//
//	go test ./drills/ -run '^$' -bench BenchmarkScheduler -benchtime 200x
func BenchmarkScheduler(b *testing.B) {
	const schedules, batch = 10_000, 100
	e := newClockedEnv(b, 1, 100, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	_, _, sched := e.on(e.c.Leader(), drills.SchedulerConfig{})

	idle := func(b *testing.B) {
		e.clock.Set(start) // Monday 08:00 in Shanghai: nothing is due before 09:00
		for b.Loop() {
			rep, err := sched.Tick(ctx)
			if err != nil || !rep.Idle() {
				b.Fatalf("idle pass: %+v, %v", rep, err)
			}
		}
	}
	b.Run("idle/0-schedules", idle)

	// Schedule i is due on Mondays at 09:00 + (i mod 100) minutes in
	// Shanghai: each of the 100 minutes from 09:00 has 100 schedules due.
	began := time.Now()
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		errs = make(chan error, 16)
	)
	for range 16 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < schedules; i = next.Add(1) - 1 {
				m := int(i % batch)
				in := weekly(district)
				in.Cron = fmt.Sprintf("%d %d * * 1", m%60, 9+m/60)
				in.Length = "24h" // no run ends during the benchmark (at most 100 minutes of due times)
				if _, err := e.drills.Schedule(ctx, "trainer", in); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.Logf("created %d schedules in %s", schedules, time.Since(began).Round(time.Millisecond))

	b.Run("idle/10000-schedules", idle)

	monday := start.Add(time.Hour) // 09:00 in Shanghai
	k := 0
	b.Run("100-due/10000-schedules", func(b *testing.B) {
		fires := 0
		for b.Loop() {
			b.StopTimer()
			e.clock.Set(monday.Add(time.Duration(k/batch)*7*24*time.Hour + time.Duration(k%batch)*time.Minute))
			k++
			b.StartTimer()
			rep, err := sched.Tick(ctx)
			if err != nil || len(rep.Started) != batch {
				b.Fatalf("due pass %d: started %d, %v", k, len(rep.Started), err)
			}
			fires += len(rep.Started)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(fires), "ns/fire")
	})

	c := sched.Collector()
	b.Run("collect/10000-schedules", func(b *testing.B) {
		for b.Loop() {
			ch := make(chan prometheus.Metric, 16)
			go func() { c.Collect(ch); close(ch) }()
			n := 0
			for range ch {
				n++
			}
			if n != 5 {
				b.Fatalf("collected %d metrics, want 5", n)
			}
		}
	})
}
