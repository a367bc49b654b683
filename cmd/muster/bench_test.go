package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"muster/examples"
)

// peakRSS reads a process's peak resident set (VmHWM) in MiB.
func peakRSS(pid int) float64 { return procStatus(pid, "VmHWM:") }

// procStatus reads one kB figure of /proc/PID/status in MiB (0 if missing).
func procStatus(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field) {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// resetPeakRSS sets a process's VmHWM back to its current RSS (Linux ≥ 4.0).
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// cpuTime reads the CPU time (user and system) a process has used.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: utime and stime are fields 14 and 15 of the line, in
	// clock ticks of 1/100 s (USER_HZ).
	rest := string(b[bytes.LastIndexByte(b, ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
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

// BenchmarkActivationCLI commits one activation calling up the whole roster
// on three real agent processes. The roster is imported with `muster roster
// import`, then POST /api/v1/activations goes to the leader and the clock
// runs until every node's applied index has reached the activation's entry
// (its recipient list written and committed there). Reported per node: when
// it had applied, its peak RSS during the activation (VmHWM, reset just
// before) with the peaks of its anonymous and file-backed parts (sampled
// every 10 ms), its RSS just before, and the CPU time it used. The
// nodes=imported run also reports the time from the start of the import
// until every node had applied it, each node's CPU time for it, and its
// peak RSS during the import (VmHWM since the node started, which the
// import dominates) with the peaks of its anonymous and file-backed parts.
//
// It runs twice on the same roster: nodes=imported right after the import,
// in the processes that did it (their RSS still holds what the import
// left), and nodes=restarted after every agent has been restarted from its
// files, as a node that has run for a while would be. The leader's
// dispatcher starts sending the drill to the built-in simulator as soon as
// the leader has applied, as it would in service.
//
//	go test ./cmd/muster -run '^$' -bench ActivationCLI -benchtime 1x -timeout 30m
func BenchmarkActivationCLI(b *testing.B) {
	for _, rows := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("recipients=%d", rows), func(b *testing.B) {
			dir := b.TempDir()
			roster, planFile := filepath.Join(dir, "roster.csv"), filepath.Join(dir, "everyone.yaml")
			f, err := os.Create(roster)
			require.NoError(b, err)
			regions, err := examples.Regions()
			require.NoError(b, err)
			require.NoError(b, examples.GenerateRoster(f, rows, 1, examples.Grids(regions)))
			require.NoError(b, f.Close())
			require.NoError(b, os.WriteFile(planFile, examples.EveryonePlan, 0o600))

			agents := startAgents(b)
			c := newAPI(b, testAdminToken)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			code, body := c.call(ctx, http.MethodPost, agents[0].http+"/api/v1/regions/import", examples.RegionsCSV(), "text/csv")
			cancel()
			require.Equal(b, http.StatusOK, code, "%s", body)
			pids := make([]int, len(agents))
			for j, a := range agents {
				pids[j] = a.cmd.Process.Pid
			}
			mem := sampleMem(pids)
			imported := importMem{cpu: make([]float64, len(pids))}
			for j, pid := range pids {
				imported.cpu[j] = -cpuTime(pid).Seconds()
			}
			start := time.Now()
			for _, args := range [][]string{{"roster", "import", "-f", roster}, {"plan", "apply", "-f", planFile}} {
				cmd := exec.Command(musterBin, args...)
				cmd.Env = append(os.Environ(), "MUSTER_ADDR="+agents[1].http, "MUSTER_TOKEN="+testAdminToken)
				out, err := cmd.CombinedOutput()
				require.NoError(b, err, "%s", out)
				// Every node commits the import on its own; wait for the
				// slowest before going on.
				var st struct {
					AppliedIndex uint64 `json:"applied_index"`
				}
				require.Equal(b, http.StatusOK, c.getJSON(leaderOf(b, c, agents).http+"/api/v1/cluster/status?consistency=stale", &st))
				waitApplied(b, c, agents, st.AppliedIndex, 10*time.Minute)
				if imported.took == 0 {
					imported.took = time.Since(start)
					for j, pid := range pids {
						imported.cpu[j] += cpuTime(pid).Seconds()
					}
				}
			}
			mem.Stop()
			imported.anon, imported.file = mem.anon, mem.file
			for _, pid := range pids {
				imported.peak = append(imported.peak, peakRSS(pid))
			}
			b.Run("nodes=imported", func(b *testing.B) {
				imported.report(b, agents)
				benchActivation(b, c, agents, rows)
			})
			for _, a := range agents {
				require.NoError(b, a.terminate(30*time.Second))
				a.args = withoutFlags(a.args, "--bootstrap", "--bootstrap-token", "--join")
				a.start()
			}
			for _, a := range agents {
				c.waitStatus(a.http+"/readyz", http.StatusOK, 2*time.Minute)
			}
			b.Run("nodes=restarted", func(b *testing.B) { benchActivation(b, c, agents, rows) })
		})
	}
}

// importMem is how long the roster import took, until every node had
// applied it, the CPU time each node used for it, and what each node held
// meanwhile: its peak RSS since it started (VmHWM) and the peaks of its
// anonymous and file-backed parts, in MiB.
type importMem struct {
	took             time.Duration // until every node had applied the import
	cpu              []float64     // CPU seconds each node used for it
	peak, anon, file []float64
}

func (m importMem) report(b *testing.B, agents []*agent) {
	b.ReportMetric(m.took.Seconds(), "s_import_all_nodes")
	for j, a := range agents {
		b.ReportMetric(m.cpu[j], "cpu_import_s_"+a.id)
		b.ReportMetric(m.peak[j], "rss_import_MiB_"+a.id)
		b.ReportMetric(m.anon[j], "rss_import_anon_MiB_"+a.id)
		b.ReportMetric(m.file[j], "rss_import_file_MiB_"+a.id)
	}
}

// benchActivation activates the everyone plan over the city b.N times,
// standing each activation down after measuring it.
func benchActivation(b *testing.B, c *apiClient, agents []*agent, rows int) {
	leader := leaderOf(b, c, agents)
	for i := 0; i < b.N; i++ {
		activateOnce(b, c, leader, agents, rows)
	}
	b.ReportMetric(0, "ns/op")
}

func activateOnce(b *testing.B, c *apiClient, leader *agent, agents []*agent, rows int) {
	b.StopTimer()
	var st struct {
		AppliedIndex uint64 `json:"applied_index"`
	}
	require.Equal(b, http.StatusOK, c.getJSON(leader.http+"/api/v1/cluster/status?consistency=stale", &st))
	waitApplied(b, c, agents, st.AppliedIndex, 2*time.Minute)
	rssBefore := make([]float64, len(agents))
	cpuBefore := make([]time.Duration, len(agents))
	pids := make([]int, len(agents))
	for j, a := range agents {
		pids[j] = a.cmd.Process.Pid
		require.NoError(b, resetPeakRSS(pids[j]))
		rssBefore[j], cpuBefore[j] = procStatus(pids[j], "VmRSS:"), cpuTime(pids[j])
	}
	mem := sampleMem(pids)
	defer mem.Stop()
	watch := watchApplied(c, agents)
	defer watch.close()
	req, err := json.Marshal(map[string]any{"plan_id": "everyone", "regions": []string{string(examples.CityCode)},
		"level": "IV", "purpose": "EXERCISE", "reason": "bench"})
	require.NoError(b, err)
	// The context bounds the request, not the client's 10 s: on a loaded
	// machine a million recipients can take longer than that.
	patient := &apiClient{t: c.t, token: c.token, http: &http.Client{}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	b.StartTimer()
	start := time.Now()
	code, body := patient.call(ctx, http.MethodPost, leader.http+"/api/v1/activations", req, "application/json")
	answered := time.Since(start)
	cancel()
	require.Equal(b, http.StatusCreated, code, "%s", body)
	var a struct {
		ID         string `json:"id"`
		Index      uint64 `json:"index"`
		Recipients int    `json:"recipients"`
	}
	require.NoError(b, json.Unmarshal(body, &a))
	require.Equal(b, rows, a.Recipients)
	applied := watch.until(b, a.Index, 5*time.Minute)
	all := time.Since(start)
	b.StopTimer()
	mem.Stop()
	b.ReportMetric(answered.Seconds(), "s_leader_answered")
	b.ReportMetric(all.Seconds(), "s_all_nodes")
	for j, ag := range agents {
		pid := ag.cmd.Process.Pid
		b.ReportMetric(applied[j].Sub(start).Seconds(), fmt.Sprintf("s_applied_%s", ag.id))
		b.ReportMetric(peakRSS(pid), fmt.Sprintf("rss_MiB_%s", ag.id))
		b.ReportMetric(rssBefore[j], fmt.Sprintf("rss_before_MiB_%s", ag.id))
		b.ReportMetric(mem.anon[j], fmt.Sprintf("rss_anon_MiB_%s", ag.id))
		b.ReportMetric(mem.file[j], fmt.Sprintf("rss_file_MiB_%s", ag.id))
		b.ReportMetric((cpuTime(pid) - cpuBefore[j]).Seconds(), fmt.Sprintf("cpu_s_%s", ag.id))
	}
	b.Logf("leader %s; activation %s at index %d", leader.id, a.ID, a.Index)
	stop, err := json.Marshal(map[string]string{"reason": "bench"})
	require.NoError(b, err)
	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	code, body = c.call(ctx, http.MethodPost, leader.http+"/api/v1/activations/"+a.ID+"/stand-down", stop, "application/json")
	cancel()
	require.Equal(b, http.StatusOK, code, "%s", body)
}

// withoutFlags drops the named flags, and the value after each, from args.
func withoutFlags(args []string, names ...string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if slices.Contains(names, args[i]) {
			if args[i] != "--bootstrap" {
				i++ // takes a value
			}
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// waitApplied polls every agent until its applied index reaches index and
// returns when each got there.
func waitApplied(b *testing.B, c *apiClient, agents []*agent, index uint64, timeout time.Duration) []time.Time {
	b.Helper()
	w := watchApplied(c, agents)
	defer w.close()
	return w.until(b, index, timeout)
}

// applyWatch polls every agent's applied index, each from its own goroutine
// every 5 ms, from before the index to wait for is known: a follower may
// apply an entry before the leader has answered for it.
type applyWatch struct {
	target   atomic.Uint64 // 0 until known
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{} // closed when every poller has returned
	at       []time.Time   // per agent: first poll that saw the target applied
	errs     []error
}

func watchApplied(c *apiClient, agents []*agent) *applyWatch {
	w := &applyWatch{stop: make(chan struct{}), done: make(chan struct{}), at: make([]time.Time, len(agents)), errs: make([]error, len(agents))}
	var wg sync.WaitGroup
	for j, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			type sample struct {
				at    time.Time
				index uint64
			}
			var seen []sample // each applied index seen, first time
			for {
				var st struct {
					AppliedIndex uint64 `json:"applied_index"`
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				code, body := c.call(ctx, http.MethodGet, a.http+"/api/v1/cluster/status?consistency=stale", nil, "")
				cancel()
				now := time.Now()
				if code == http.StatusOK && json.Unmarshal(body, &st) == nil && (len(seen) == 0 || st.AppliedIndex > seen[len(seen)-1].index) {
					seen = append(seen, sample{now, st.AppliedIndex})
				}
				if t := w.target.Load(); t > 0 && len(seen) > 0 && seen[len(seen)-1].index >= t {
					for _, s := range seen {
						if s.index >= t {
							w.at[j] = s.at
							return
						}
					}
				}
				select {
				case <-w.stop:
					w.errs[j] = fmt.Errorf("%s did not apply index %d in time (applied indexes seen: %v)", a.id, w.target.Load(), seen)
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		}()
	}
	go func() { wg.Wait(); close(w.done) }()
	return w
}

// until sets the index to wait for and waits until every agent has applied
// it, or fails the benchmark after timeout.
func (w *applyWatch) until(b *testing.B, index uint64, timeout time.Duration) []time.Time {
	b.Helper()
	w.target.Store(index)
	select {
	case <-w.done:
	case <-time.After(timeout):
		w.close()
	}
	require.NoError(b, errors.Join(w.errs...))
	return w.at
}

// close stops the pollers and waits for them.
func (w *applyWatch) close() {
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.done
}

// memSampler records the largest anonymous and file-backed resident sets
// of some processes, read from /proc every 10 ms until stopped.
type memSampler struct {
	stopOnce   sync.Once
	stop       chan struct{}
	done       chan struct{}
	anon, file []float64 // MiB, per process
}

func sampleMem(pids []int) *memSampler {
	m := &memSampler{stop: make(chan struct{}), done: make(chan struct{}), anon: make([]float64, len(pids)), file: make([]float64, len(pids))}
	go func() {
		defer close(m.done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			for i, pid := range pids {
				m.anon[i] = max(m.anon[i], procStatus(pid, "RssAnon:"))
				m.file[i] = max(m.file[i], procStatus(pid, "RssFile:"))
			}
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

// Stop stops sampling; the peaks are final after it returns.
func (m *memSampler) Stop() {
	m.stopOnce.Do(func() { close(m.stop) })
	<-m.done
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
		others := othersThan(agents, leader)
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
