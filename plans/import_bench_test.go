package plans_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/plans"
)

// BenchmarkImportRoster imports a generated roster into a fresh single-node
// cluster through plans.Service (no HTTP), reporting rows/s, the peak of the
// Go memory the process added during the import (parse, staging and the
// commit transaction together; sampled every 10 ms), the size of the state
// file afterwards, and the disk the import took per row in the node's data
// directory once a snapshot was taken (disk_B/row: state, raft log and
// snapshots; what the disk check before an import counts on, at most 2 KiB).
//
//	go test ./plans -run '^$' -bench 'ImportRoster/rows=100000$' -benchtime 1x
//	go test ./plans -run '^$' -bench 'ImportRoster/rows=1000000$' -benchtime 1x
func BenchmarkImportRoster(b *testing.B) {
	for _, rows := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			regions, err := examples.Regions()
			require.NoError(b, err)
			var file bytes.Buffer
			require.NoError(b, examples.GenerateRoster(&file, rows, 1, examples.Grids(regions)))
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				c := clustertest.New(b, 1, clustertest.Options{Setup: func(i int, n *cluster.Node) { plans.Register(n) }})
				svc := plans.NewService(c.Nodes[0].Node, c.Nodes[0].Node)
				_, err := svc.ImportRegions(b.Context(), "bench", bytes.NewReader(examples.RegionsCSV()))
				require.NoError(b, err)
				require.NoError(b, c.Nodes[0].Node.Snapshot())
				used := diskUsed(c.Nodes[0].DataDir)
				runtime.GC()
				peak := sampleGoMemory()
				b.StartTimer()
				start := time.Now()
				res, err := svc.ImportRoster(b.Context(), "bench", bytes.NewReader(file.Bytes()), plans.ImportOptions{})
				b.StopTimer()
				took := time.Since(start)
				require.NoError(b, err)
				require.Equal(b, rows, res.Created)
				b.ReportMetric(float64(rows)/took.Seconds(), "rows/s")
				b.ReportMetric(peak()/(1<<20), "peak_go_MiB")
				st, err := os.Stat(filepath.Join(c.Nodes[0].DataDir, "state.db"))
				require.NoError(b, err)
				b.ReportMetric(float64(st.Size())/(1<<20), "state_MiB")
				require.NoError(b, c.Nodes[0].Node.Snapshot())
				b.ReportMetric(float64(diskUsed(c.Nodes[0].DataDir)-used)/float64(rows), "disk_B/row")
				c.Close()
			}
		})
	}
}

// sampleGoMemory samples the Go memory the process holds from the system
// (mapped, less what was returned) every 10 ms. The returned func stops it
// and returns the peak, less what was held at the start, in bytes.
func sampleGoMemory() func() float64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	read := func() float64 {
		metrics.Read(s)
		return float64(s[0].Value.Uint64() - s[1].Value.Uint64())
	}
	base, peak := read(), 0.0
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, read())
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	return func() float64 {
		once.Do(func() { close(stop); <-done })
		return peak - base
	}
}
