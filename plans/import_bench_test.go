package plans_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/plans"
)

// BenchmarkImportRoster imports a generated roster into a fresh single-node
// cluster through plans.Service (no HTTP), reporting rows/s.
//
//	go test ./plans -run '^$' -bench ImportRoster -benchtime 1x
func BenchmarkImportRoster(b *testing.B) {
	for _, rows := range []int{100_000} {
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
				b.StartTimer()
				start := time.Now()
				res, err := svc.ImportRoster(b.Context(), "bench", bytes.NewReader(file.Bytes()), plans.ImportOptions{})
				b.StopTimer()
				require.NoError(b, err)
				require.Equal(b, rows, res.Created)
				b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
				c.Close()
			}
		})
	}
}
