package main

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster"
)

// The first admin token is printed only when muster generated it: one the
// operator gave (--bootstrap-token, MUSTER_BOOTSTRAP_TOKEN: from a secret
// store) is known to them and stays out of the log, where anyone who reads
// the journal or kubectl logs would find an admin credential.
func TestBootstrapPrintsOnlyAGeneratedFirstToken(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	const supplied = "mst_fromthesecretstore0123456789abcdefghijklmn"
	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{name: "flag", args: []string{"--bootstrap-token", supplied}},
		{name: "environment", env: []string{"MUSTER_BOOTSTRAP_TOKEN=" + supplied}},
		{name: "generated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			httpAddr := freePort(t)
			args := append([]string{"agent", "--node-id", "n1", "--data-dir", filepath.Join(t.TempDir(), "n1"),
				"--raft-addr", freePort(t), "--http-addr", httpAddr, "--log-level", "warn", "--bootstrap"}, tc.args...)
			p := startProc(t, tc.name, append([]string{"MUSTER_CLUSTER_KEY=" + testClusterKey}, tc.env...), args...)
			said := p.waitOutput("cluster bootstrapped;", 30*time.Second)
			token := supplied
			if tc.name == "generated" {
				token = strings.TrimSpace(strings.TrimPrefix(said, "first admin token (shown once):"))
				require.True(t, strings.HasPrefix(token, "mst_"), "the generated token is printed: %q", said)
			} else {
				assert.Equal(t, "first admin token: the one given by --bootstrap-token (MUSTER_BOOTSTRAP_TOKEN)", said)
				assert.NotContains(t, p.out.String(), supplied, "the supplied token is nowhere in the output")
			}
			c := newAPI(t, token)
			c.waitStatus("http://"+httpAddr+"/readyz", http.StatusOK, 30*time.Second)
			assert.Equal(t, http.StatusOK, c.getJSON("http://"+httpAddr+"/api/v1/tokens", nil), "the first admin token works")
		})
	}
}

// A removed node whose service definition still says --join does not join
// again when it comes back with its data dir: whether it learnt of its
// removal (removed while it ran) or not (removed while it was down), it
// stops saying so. It used to join again as a voter, and the cluster
// counted a node its operator had taken out towards its quorum.
func TestRemovedAgentDoesNotRejoin(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	// It runs beside TestDispatchFailoverAcrossProcesses, with its own
	// processes, ports and data dirs.
	t.Parallel()
	agents := startAgents(t)
	c := newAPI(t, testAdminToken)
	leader := leaderOf(t, c, agents)
	others := othersThan(agents, leader)
	remove := func(id string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		code, body := c.call(ctx, http.MethodPost, leader.http+"/api/v1/cluster/remove", mustJSON(map[string]string{"id": id}), "application/json")
		require.Equal(t, http.StatusOK, code, "%s", body)
	}
	voters := func() []string {
		var st cluster.Status
		require.Equal(t, http.StatusOK, c.getJSON(leader.http+"/api/v1/cluster/status", &st))
		var ids []string
		for _, s := range st.Servers {
			ids = append(ids, s.ID)
		}
		return ids
	}
	refused := func(a *agent) string {
		t.Helper()
		a.start() // the same flags: --join among them
		// It says so at once: a node refused at its start used to wait 15 s
		// for leader services it never ran before it exited.
		select {
		case <-a.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s still runs 10 s after it started again:\n%s", a.id, a.out.String())
		}
		assert.Equal(t, exitRefused, a.cmd.ProcessState.ExitCode(), "%s stops with the exit code the systemd unit does not restart", a.id)
		assert.NotContains(t, a.out.String(), "joined the cluster")
		return a.out.String()
	}

	// Removed while it runs, then restarted.
	running := others[0]
	remove(running.id)
	require.NoError(t, running.terminate(20*time.Second))
	out := refused(running)
	assert.Regexp(t, "was removed from its cluster at raft index [1-9]|holds the raft state of a member, but this cluster's configuration", out)
	assert.Contains(t, out, "data")
	assert.NotContains(t, voters(), running.id)

	// Removed while it is down, then started.
	down := others[1]
	down.kill()
	remove(down.id)
	out = refused(down)
	assert.Contains(t, out, "node "+down.id+" holds the raft state of a member, but this cluster's configuration")
	assert.Equal(t, []string{leader.id}, voters(), "neither came back")
}

// muster cluster status on the leader tells a dead voter from a live one
// (CONTACT, APPLIED); on a follower, which cannot know, it says so and
// shows "-".
func TestClusterStatusShowsALostMember(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	agents := startAgents(t)
	c := newAPI(t, testAdminToken)
	leader := leaderOf(t, c, agents)
	others := othersThan(agents, leader)
	dead, live := others[0], others[1]
	// Every member runs this muster: what they say to each other is
	// encrypted, as each says.
	for _, a := range agents {
		waitUntil(t, 15*time.Second, func() bool {
			r := runCLI(t, []string{"MUSTER_ADDR=" + a.http, "MUSTER_TOKEN=" + testAdminToken}, "cluster", "status")
			return r.code == 0 && strings.Contains(r.stdout, "node-to-node traffic encrypted (TLS 1.3")
		})
	}
	// Their audit chains check out, each, and hold the same history.
	r := runCLI(t, []string{"MUSTER_ADDR=" + leader.http, "MUSTER_TOKEN=" + testAdminToken}, "audit", "verify", "--every-node")
	require.Zero(t, r.code, "%s%s", r.stdout, r.stderr)
	assert.Regexp(t, `every member checked \(\S+, \S+, \S+\) holds entry \d+ with hash [0-9a-f]{64}: the same history up to there`, r.stdout)
	dead.kill()
	row := func(out, id string) []string {
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] == id {
				return f
			}
		}
		return nil
	}
	var out string
	waitUntil(t, 30*time.Second, func() bool {
		r := runCLI(t, []string{"MUSTER_ADDR=" + leader.http, "MUSTER_TOKEN=" + testAdminToken}, "cluster", "status")
		out = r.stdout
		f, l := row(out, dead.id), row(out, live.id)
		return r.code == 0 && len(f) > 0 && strings.Contains(strings.Join(f, " "), "LOST") &&
			len(l) > 0 && l[len(l)-1] != "-" // its applied index, once the leader asked
	})
	assert.Equal(t, []string{"ID", "RAFT", "HTTP", "SUFFRAGE", "RULES", "LEADER", "CLOCK", "CONTACT", "APPLIED"}, row(out, "ID"), "the header names the columns")
	f := row(out, live.id)
	require.NotEmpty(t, f, out)
	assert.Regexp(t, `^[0-9.]+(ms|µs|s) ago [1-9][0-9]*$`, strings.Join(f[len(f)-3:], " "), "a live member: contact and applied index\n%s", out)
	assert.Regexp(t, `LOST [0-9.]+(ms|s) ago`, strings.Join(row(out, dead.id), " "), out)

	r = runCLI(t, []string{"MUSTER_ADDR=" + live.http, "MUSTER_TOKEN=" + testAdminToken}, "cluster", "status")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "only the leader knows: ask "+leader.id)
	f = row(r.stdout, dead.id)
	require.NotEmpty(t, f, r.stdout)
	assert.Equal(t, []string{"-", "-"}, f[len(f)-2:], "a follower does not know\n%s", r.stdout)

	var metrics string
	waitUntil(t, 10*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		code, body := c.call(ctx, http.MethodGet, leader.http+"/metrics", nil, "")
		metrics = string(body)
		return code == http.StatusOK
	})
	assert.Contains(t, metrics, "\nmuster_raft_voters_reachable 2\n")
}

// muster cluster remove refuses to take a live voter out while another is
// down: the two left would have no quorum, and no call-up could be written
// until the dead one was back (exploratory finding Z14). The refusal says
// what to do; --force removes it all the same, and the cluster goes on,
// without it, once the dead one is back.
func TestClusterRemoveRefusesToTakeTheQuorum(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	agents := startAgents(t)
	c := newAPI(t, testAdminToken)
	leader := leaderOf(t, c, agents)
	others := othersThan(agents, leader)
	dead, live := others[0], others[1]
	env := []string{"MUSTER_ADDR=" + leader.http, "MUSTER_TOKEN=" + testAdminToken}
	status := func() cluster.Status {
		var st cluster.Status
		require.Equal(t, http.StatusOK, c.getJSON(leader.http+"/api/v1/cluster/status", &st))
		return st
	}
	dead.kill()
	waitUntil(t, 30*time.Second, func() bool {
		for _, s := range status().Servers {
			if s.ID == dead.id {
				return s.Reachable != nil && !*s.Reachable
			}
		}
		return false
	})

	r := runCLI(t, env, "cluster", "remove", live.id)
	oneLineError(t, r, 1, "Bring "+dead.id+" back, or remove "+dead.id+" first")
	assert.Contains(t, r.stderr, "taking "+live.id+" out would leave")
	assert.Len(t, status().Servers, 3, "nothing was changed")

	r = runCLI(t, env, "cluster", "remove", live.id, "--force")
	assert.NotZero(t, r.code, "the configuration left cannot commit while %s is down", dead.id)
	assert.Contains(t, r.stderr, "no longer lists it")

	dead.start()
	var st cluster.Status
	waitUntil(t, 60*time.Second, func() bool {
		if c.getJSON(leader.http+"/api/v1/cluster/status?consistency=stale", &st) != http.StatusOK || st.LeaderID == "" {
			return false
		}
		var ids []string
		for _, s := range st.Servers {
			ids = append(ids, s.ID)
		}
		return len(ids) == 2 && !slices.Contains(ids, live.id)
	})
}
