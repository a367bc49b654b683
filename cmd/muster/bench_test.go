package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"muster/examples"
)

// peakRSS reads a process's peak resident set (VmHWM) in MiB.
func peakRSS(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkRosterImportCLI imports a generated roster with `muster roster
// import` into three real agent processes and reports the wall time of the
// CLI command and the peak RSS of each node.
//
//	go test ./cmd/muster -run '^$' -bench RosterImportCLI -benchtime 1x -timeout 30m
func BenchmarkRosterImportCLI(b *testing.B) {
	for _, rows := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			dir := b.TempDir()
			file := filepath.Join(dir, "roster.csv")
			f, err := os.Create(file)
			require.NoError(b, err)
			regions, err := examples.Regions()
			require.NoError(b, err)
			require.NoError(b, examples.GenerateRoster(f, rows, 1, examples.Grids(regions)))
			require.NoError(b, f.Close())
			st, _ := os.Stat(file)
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				agents := startAgents(b)
				c := newAPI(b, testAdminToken)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				code, body := c.call(ctx, http.MethodPost, agents[0].http+"/api/v1/regions/import", examples.RegionsCSV(), "text/csv")
				cancel()
				require.Equal(b, http.StatusOK, code, "%s", body)
				cmd := exec.Command(musterBin, "roster", "import", "-f", file, "-o", "json")
				cmd.Env = append(os.Environ(), "MUSTER_ADDR="+agents[1].http, "MUSTER_TOKEN="+testAdminToken)
				var out, errOut bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errOut
				b.StartTimer()
				start := time.Now()
				err := cmd.Run()
				took := time.Since(start)
				b.StopTimer()
				require.NoError(b, err, "%s", errOut.String())
				var res struct{ Created, Batches int }
				require.NoError(b, json.Unmarshal(out.Bytes(), &res))
				require.Equal(b, rows, res.Created)
				b.ReportMetric(took.Seconds(), "s/import")
				b.ReportMetric(float64(rows)/took.Seconds(), "rows/s")
				b.ReportMetric(float64(st.Size())/1e6, "file_MB")
				b.ReportMetric(float64(res.Batches), "raft_batches")
				for j, a := range agents {
					b.ReportMetric(peakRSS(a.cmd.Process.Pid), fmt.Sprintf("rss_MiB_n%d", j+1))
				}
				for _, a := range agents {
					a.kill()
				}
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkFailover kills -9 the leader of three real agents while a client
// writes, and reports the time from the kill to the first write acknowledged
// by the new leader.
//
//	go test ./cmd/muster -run '^$' -bench Failover -benchtime 5x
func BenchmarkFailover(b *testing.B) {
	var worst, total time.Duration
	for i := 0; i < b.N; i++ {
		agents := startAgents(b)
		c := newAPI(b, testAdminToken)
		leader := leaderOf(b, c, agents)
		var others []*agent
		for _, a := range agents {
			if a != leader {
				others = append(others, a)
			}
		}
		code, body := c.call(context.Background(), http.MethodPost, others[0].http+"/api/v1/regions/import", examples.RegionsCSV(), "text/csv")
		require.Equal(b, http.StatusOK, code, "%s", body)
		killed := time.Now()
		leader.kill()
		var took time.Duration
		for n := 0; ; n++ {
			body, _ := json.Marshal(map[string]any{"name": "切换", "phones": []string{fmt.Sprintf("+86137%08d", i*100000+n)}, "grid": "990101001001001", "category": "志愿者"})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			code, _ := c.call(ctx, http.MethodPost, others[n%2].http+"/api/v1/people", body, "application/json")
			cancel()
			if code == http.StatusCreated {
				took = time.Since(killed)
				break
			}
			require.Less(b, time.Since(killed), 30*time.Second, "no write accepted within 30 s of the kill")
		}
		total += took
		worst = max(worst, took)
		for _, a := range agents {
			a.kill()
		}
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s_mean")
	b.ReportMetric(worst.Seconds(), "s_max")
	b.ReportMetric(0, "ns/op")
}
