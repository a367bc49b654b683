package drills_test

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster/clustertest"
	"muster/drills"
	"muster/plans"
)

// BenchmarkDrillReport measures metrics and reports of a 100,000-recipient
// drill run on a real single-node cluster: a real EXERCISE activation of the
// everyone plan over a generated roster of 100,000, its recipients moved
// through the test script by claim, result and inbound commands in batches
// (about 55% acknowledged over 40 minutes, 9% declined, 18% failed, the rest
// silent). The setup runs once; each sub-benchmark times one step.
//
//	go test ./drills -run '^$' -bench BenchmarkDrillReport -benchtime 5x
func BenchmarkDrillReport(b *testing.B) {
	const people = 100_000
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(b, err)
	clk := clustertest.NewClock(time.Date(2026, 12, 7, 9, 0, 0, 0, loc))
	e := newEnvAt(b, people, clk)
	ctx := testCtx(b)
	sc, err := e.drills.Schedule(ctx, "trainer", drills.ScheduleInput{Plan: "everyone", Regions: []plans.RegionCode{city}, Level: "IV",
		Type: "notification", Title: "全员通讯演练", Cron: "0 9 1 * *"})
	require.NoError(b, err)
	r, err := e.drills.RunNow(ctx, "trainer", sc.ID)
	require.NoError(b, err)
	require.Equal(b, people, r.Participants)
	drive(b, e, r, 1)
	asOf := clk.Now()

	b.Run("metrics", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.drills.Metrics(ctx, muster.Default, r.ID, asOf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("report", func(b *testing.B) { // metrics, every outcome and the trend, in one read
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.drills.Report(ctx, muster.Default, r.ID, asOf); err != nil {
				b.Fatal(err)
			}
		}
	})
	rep, err := e.drills.Report(ctx, muster.Default, r.ID, asOf)
	require.NoError(b, err)
	for _, f := range []drills.ReportFormat{drills.FormatHTML, drills.FormatCSV, drills.FormatJSON} {
		b.Run(string(f), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := drills.WriteReport(io.Discard, rep, f, drills.ReportOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
