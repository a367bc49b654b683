package plans_test

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"muster/examples"
	"muster/plans"
)

// generatedRoster returns a demo-city roster of n rows from the examples
// generator, as the bytes of a UTF-8 CSV file.
func generatedRoster(b *testing.B, n int) []byte {
	regions, err := examples.Regions()
	require.NoError(b, err)
	var buf bytes.Buffer
	require.NoError(b, examples.GenerateRoster(&buf, n, 1, examples.Grids(regions)))
	return buf.Bytes()
}

// BenchmarkParseRoster parses 100,000 generated rows (about 7 MB) and
// 1,000,000 (about 70 MB; select with -bench 'ParseRoster/rows=1000000').
func BenchmarkParseRoster(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run("rows="+strconv.Itoa(n), func(b *testing.B) {
			data := generatedRoster(b, n)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				ro, err := plans.ParseRoster(bytes.NewReader(data))
				if err != nil || len(ro.Rows) != n || len(ro.Errors) != 0 {
					b.Fatalf("rows %d, errors %d, err %v", len(ro.Rows), len(ro.Errors), err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
