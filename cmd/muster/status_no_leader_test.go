package main

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/examples"
	"muster/notify"
)

// A watch of a call-up on a node that loses its leader (the other two of
// three killed: no quorum) says so, with the time it last heard from one:
// the figures it shows stand still and are not the cluster's. It said
// nothing and looked like a stalled call-up. A one-off read with
// --consistency stale says the figures are the node's own copy and that
// the node has no leader.
func TestWatchSaysItsNodeHasNoLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	agents := startAgents(t)
	c := newAPI(t, testAdminToken)
	env := []string{"MUSTER_ADDR=" + agents[1].http, "MUSTER_TOKEN=" + testAdminToken}
	loadEveryone(t, c, agents[1].http, env, 200)
	id, recipients := activateCLI(t, env, "everyone", string(examples.CityCode))
	require.Positive(t, recipients)

	watched := leaderOf(t, c, agents)
	watch := startProc(t, "watch", []string{"MUSTER_TOKEN=" + testAdminToken}, "status", id, "--watch", "--addr", watched.http)
	watch.waitOutput("status=active", 20*time.Second)
	for _, a := range othersThan(agents, watched) {
		a.kill()
	}
	lost := time.Now()
	line := watch.waitOutput("node "+watched.id+" has no leader", 20*time.Second)
	t.Logf("the watch said: %s", line)
	assert.Less(t, time.Since(lost), 15*time.Second, "said within a poll of losing the quorum, not at a heartbeat")
	assert.True(t, strings.HasPrefix(line, ": the figures are its own copy as of "), line)
	assert.Contains(t, line, "when it last heard from one")
	assert.Contains(t, line, "watch another node with --addr")

	r := runCLI(t, []string{"MUSTER_ADDR=" + watched.http, "MUSTER_TOKEN=" + testAdminToken}, "status", id, "--consistency", "stale")
	require.Zero(t, r.code, r.stderr)
	t.Logf("the stale read noted: %s", r.stderr)
	assert.Contains(t, r.stdout, id)
	assert.Contains(t, r.stderr, "note: --consistency stale: these figures are the node's own copy")
	assert.Contains(t, r.stderr, "the node is not ready: no known leader, so they may be old")
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line of note: %s", r.stderr)
	// So do the board and the list of activations.
	for _, args := range [][]string{{"board", id}, {"status"}} {
		r := runCLI(t, []string{"MUSTER_ADDR=" + watched.http, "MUSTER_TOKEN=" + testAdminToken}, append(args, "--consistency", "stale")...)
		require.Zero(t, r.code, r.stderr)
		assert.Contains(t, r.stderr, "the node is not ready: no known leader, so they may be old", args)
	}
}

// On a terminal, the screen of a node without a leader says NOT LIVE and
// its clock stops where the figures stand: when the node last heard from
// a leader. It runs on again once the node has one.
func TestWatchScreenStopsWithoutALeader(t *testing.T) {
	now := statusT0.Add(10 * time.Minute)
	var st notify.ActivationStatus
	require.NoError(t, json.Unmarshal([]byte(statusJSON(t, notify.StatusActive, map[notify.State]int{notify.StatePending: 40})), &st))
	w := &watcher{out: io.Discard, now: func() time.Time { return now }, tty: true}
	w.update(st, nil)
	running := w.frame(now)
	assert.NotContains(t, running, "NOT LIVE")

	age := 90.0 // seconds before the event that the node last heard from a leader
	w.nodeUpdate(streamNode{Node: "n1", NotReady: "no known leader", LeaderContactAge: &age})
	lost := now.Add(-90 * time.Second)
	now = now.Add(30 * time.Second)
	stale := w.frame(now)
	head, _, _ := strings.Cut(stale, "\n")
	assert.Contains(t, head, "T+"+roundElapsed(lost.Sub(st.Start())), "the clock stopped at the last contact")
	assert.NotContains(t, head, "T+"+roundElapsed(now.Sub(st.Start())))
	assert.Contains(t, stale, "NOT LIVE: node n1 has no leader: the figures are its own copy as of ")
	assert.Contains(t, stale, "2m0s ago")

	w.nodeUpdate(streamNode{Node: "n1", Ready: true, Leader: "n3"})
	assert.NotContains(t, w.frame(now), "NOT LIVE")
	assert.Contains(t, w.frame(now), "T+"+roundElapsed(now.Sub(st.Start())))
}
