package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster"
	"muster/examples"
)

const (
	testClusterKey = "test-cluster-key"
	testAdminToken = "mst_testadmintoken0123456789abcdefghijklmnop"
)

// agent is one `muster agent` process of a test cluster.
type agent struct {
	*proc
	id   string
	http string // base URL
}

// startAgents starts three real agent processes on loopback: the first
// bootstraps, the others join through it. extra flags go to every agent.
func startAgents(t testing.TB, extra ...string) []*agent {
	t.Helper()
	dir := t.TempDir()
	var agents []*agent
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("n%d", i)
		httpAddr, raftAddr := freePort(t), freePort(t)
		args := []string{"agent", "--node-id", id, "--data-dir", filepath.Join(dir, id),
			"--raft-addr", raftAddr, "--http-addr", httpAddr, "--log-level", "warn"}
		args = append(args, extra...)
		if i == 1 {
			args = append(args, "--bootstrap", "--bootstrap-token", testAdminToken)
		} else {
			args = append(args, "--join", agents[0].http)
		}
		a := &agent{id: id, http: "http://" + httpAddr}
		a.proc = startProc(t, id, []string{"MUSTER_CLUSTER_KEY=" + testClusterKey}, args...)
		agents = append(agents, a)
		if i == 1 {
			a.waitOutput("cluster bootstrapped", 30*time.Second)
		}
	}
	c := newAPI(t, testAdminToken)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st cluster.Status
		if c.getJSON(agents[0].http+"/api/v1/cluster/status", &st) == http.StatusOK && len(st.Servers) == 3 {
			break
		}
		require.True(t, time.Now().Before(deadline), "three voters within 30 s")
		time.Sleep(50 * time.Millisecond)
	}
	for _, a := range agents {
		c.waitStatus(a.http+"/readyz", http.StatusOK, 30*time.Second)
	}
	return agents
}

func leaderOf(t testing.TB, c *apiClient, agents []*agent) *agent {
	t.Helper()
	var urls []string
	for _, a := range agents {
		urls = append(urls, a.http)
	}
	return agents[leaderAmong(t, c, urls)]
}

// othersThan is agents without a.
func othersThan(agents []*agent, a *agent) []*agent {
	var others []*agent
	for _, b := range agents {
		if b != a {
			others = append(others, b)
		}
	}
	return others
}

// leaderAmong polls the nodes at urls until one says it leads and returns
// its index.
func leaderAmong(t testing.TB, c *apiClient, urls []string) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for i, u := range urls {
			var st cluster.Status
			if c.getJSON(u+"/api/v1/cluster/status?consistency=stale", &st) == http.StatusOK && st.State == "Leader" {
				return i
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no leader within 20 s")
	return -1
}

func TestAgentsSurviveKillNineOfTheLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	agents := startAgents(t)
	c := newAPI(t, testAdminToken)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code, body := c.call(ctx, http.MethodPost, agents[1].http+"/api/v1/regions/import", examples.RegionsCSV(), "text/csv")
	require.Equal(t, http.StatusOK, code, "%s", body)
	regions, err := examples.Regions()
	require.NoError(t, err)
	grids := examples.Grids(regions)

	leader := leaderOf(t, c, agents)
	var (
		mu       sync.Mutex
		acked    = map[string]string{} // person id → phone
		killed   atomic.Int64
		firstNew atomic.Int64
		n        atomic.Int64
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				target := agents[(w+i)%3]
				if target == leader && killed.Load() != 0 {
					continue
				}
				phone := fmt.Sprintf("+86139%02d%06d", w, i)
				body, _ := json.Marshal(map[string]any{"name": fmt.Sprintf("队员%d-%d", w, i), "phones": []string{phone},
					"grid": grids[(w*7919+i)%len(grids)], "category": "志愿者"})
				began := time.Now().UnixNano()
				rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
				code, resp := c.call(rctx, http.MethodPost, target.http+"/api/v1/people", body, "application/json")
				rcancel()
				if code != http.StatusCreated {
					continue
				}
				var p struct{ ID string }
				if json.Unmarshal(resp, &p) != nil || p.ID == "" {
					continue
				}
				if k := killed.Load(); k != 0 && began > k {
					firstNew.CompareAndSwap(0, time.Now().UnixNano())
				}
				mu.Lock()
				acked[p.ID] = phone
				mu.Unlock()
				n.Add(1)
			}
		}()
	}
	waitUntil(t, 30*time.Second, func() bool { return n.Load() >= 200 })
	killed.Store(time.Now().UnixNano())
	leader.kill() // SIGKILL: no leadership transfer, no flush
	waitUntil(t, 15*time.Second, func() bool { return firstNew.Load() != 0 })
	before := n.Load()
	waitUntil(t, 30*time.Second, func() bool { return n.Load() >= before+200 })
	close(stop)
	wg.Wait()
	t.Logf("kill -9 of leader %s → first acknowledged write after it: %v (%d writes acknowledged)",
		leader.id, time.Duration(firstNew.Load()-killed.Load()), len(acked))

	check := func(a *agent, consistency string) {
		t.Helper()
		got := map[string]string{}
		after := ""
		for {
			var page struct {
				Items []struct {
					ID     string   `json:"id"`
					Phones []string `json:"phones"`
				} `json:"items"`
				Next string `json:"next"`
			}
			url := fmt.Sprintf("%s/api/v1/people?limit=1000&consistency=%s&after=%s", a.http, consistency, after)
			require.Equal(t, http.StatusOK, c.getJSON(url, &page))
			for _, p := range page.Items {
				got[p.ID] = p.Phones[0]
			}
			if page.Next == "" {
				break
			}
			after = page.Next
		}
		missing := 0
		for id, phone := range acked {
			if got[id] != phone {
				missing++
			}
		}
		assert.Zero(t, missing, "%s is missing %d of %d acknowledged people", a.id, missing, len(acked))
	}
	for _, a := range agents {
		if a != leader {
			check(a, "linearizable")
		}
	}
	// The killed node restarts from its files (no --bootstrap, no --join) and
	// catches up; a default read on it waits until it has.
	leader.args = removeFlag(leader.args, "--bootstrap", "--bootstrap-token")
	leader.start()
	c.waitStatus(leader.http+"/readyz", http.StatusOK, 30*time.Second)
	check(leader, "default")
}

func removeFlag(args []string, names ...string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		skip := false
		for _, n := range names {
			if args[i] == n {
				skip = true
				if n == "--bootstrap-token" {
					i++ // takes a value
				}
			}
		}
		if !skip {
			out = append(out, args[i])
		}
	}
	return out
}

func waitUntil(t testing.TB, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLeaderHandsOverOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	agents := startAgents(t, "--log-level", "info")
	c := newAPI(t, testAdminToken)
	leader := leaderOf(t, c, agents)
	rest := othersThan(agents, leader)
	start := time.Now()
	require.NoError(t, leader.terminate(15*time.Second))
	assert.Zero(t, leader.cmd.ProcessState.ExitCode(), "a clean exit")
	assert.Contains(t, leader.out.String(), "leadership transferred before shutdown")
	next := leaderOf(t, c, rest)
	t.Logf("SIGTERM to %s → %s leads after %v", leader.id, next.id, time.Since(start))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, body := c.call(ctx, http.MethodPost, rest[0].http+"/api/v1/regions/import", examples.RegionsCSV(), "text/csv")
	assert.Equal(t, http.StatusOK, code, "%s", body)
}

// TestAgentsFormAnInitialCluster starts three agents alike, as a
// StatefulSet's pods start: each lists all three in --initial-cluster by
// name (localhost here), none goes first and none joins. Two of them elect
// a leader before the third is even started; the third follows. Exactly one
// of them creates and prints the first admin token; every member's HTTP
// address is recorded; a restarted member, given the same flags, comes back
// as the same member.
func TestAgentsFormAnInitialCluster(t *testing.T) {
	dir := t.TempDir()
	var members []string
	type spec struct{ id, http, raft string }
	var specs []spec
	for i := 1; i <= 3; i++ {
		_, port, _ := net.SplitHostPort(freePort(t))
		s := spec{id: fmt.Sprintf("n%d", i), http: freePort(t), raft: "localhost:" + port}
		specs = append(specs, s)
		members = append(members, s.id+"="+s.raft)
	}
	var agents []*agent
	start := func(s spec) *agent {
		_, port, _ := net.SplitHostPort(s.raft)
		a := &agent{id: s.id, http: "http://" + s.http}
		a.proc = startProc(t, s.id, []string{"MUSTER_CLUSTER_KEY=" + testClusterKey, "MUSTER_INITIAL_CLUSTER=" + strings.Join(members, ",")},
			"agent", "--node-id", s.id, "--data-dir", filepath.Join(dir, s.id), "--raft-addr", "127.0.0.1:"+port,
			"--raft-advertise", s.raft, "--http-addr", s.http, "--log-level", "warn")
		return a
	}
	agents = append(agents, start(specs[0]), start(specs[1]))
	for _, a := range agents { // two of three: a quorum, so a leader
		newAPI(t, "").waitStatus(a.http+"/readyz", http.StatusOK, 30*time.Second)
	}
	agents = append(agents, start(specs[2]))

	const printed = "first admin token (shown once):"
	var token string
	waitUntil(t, 30*time.Second, func() bool {
		for _, a := range agents {
			if strings.Contains(a.out.String(), printed) {
				token = a.waitOutput(printed, time.Second)
				return true
			}
		}
		return false
	})
	c := newAPI(t, token)
	for _, a := range agents {
		c.waitStatus(a.http+"/readyz", http.StatusOK, 30*time.Second)
	}
	var st cluster.Status
	waitUntil(t, 30*time.Second, func() bool {
		if c.getJSON(agents[2].http+"/api/v1/cluster/status", &st) != http.StatusOK || len(st.Servers) != 3 {
			return false
		}
		for _, s := range st.Servers {
			if s.HTTPAddr == "" {
				return false
			}
		}
		return true
	})
	for i, s := range st.Servers {
		assert.Equal(t, specs[i].id, s.ID)
		assert.Equal(t, specs[i].raft, s.RaftAddr)
		assert.Equal(t, "http://"+specs[i].http, s.HTTPAddr)
		assert.Equal(t, "Voter", s.Suffrage)
	}
	n := 0
	for _, a := range agents {
		n += strings.Count(a.out.String(), printed)
	}
	assert.Equal(t, 1, n, "the first admin token is created and printed once")

	// A member restarted with the same flags (its data dir kept) is the
	// same member: no second cluster, no second token.
	restarted := agents[0]
	require.NoError(t, restarted.terminate(20*time.Second))
	restarted.start()
	c.waitStatus(restarted.http+"/readyz", http.StatusOK, 30*time.Second)
	require.Equal(t, http.StatusOK, c.getJSON(restarted.http+"/api/v1/cluster/status", &st))
	assert.Len(t, st.Servers, 3)
	assert.NotContains(t, restarted.out.String(), printed)
}
