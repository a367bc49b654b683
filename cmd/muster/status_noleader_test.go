package main

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
)

// muster cluster status on a node that knows no leader says so, and what
// it may mean, instead of "ask -" (exploratory finding Z5).
func TestClusterStatusWithoutALeaderSaysSo(t *testing.T) {
	st := cluster.Status{NodeID: "n2", State: "Candidate", Term: 8, Rules: 13, NodeRules: 13,
		Servers: []cluster.ServerStatus{{ID: "n1", RaftAddr: "10.0.0.1:7000", Suffrage: "Voter"}, {ID: "n2", RaftAddr: "10.0.0.2:7000", Suffrage: "Voter"}}}
	out := mustRunOnFake(t, fakeAPI{"GET /api/v1/cluster/status": st}, "cluster", "status")
	assert.NotContains(t, out, "ask -")
	assert.Contains(t, out, "no leader is known now: an election is under way, or the cluster has lost its quorum (check that a majority of the voters run and reach each other)")

	st.State, st.LeaderID = "Follower", "n1"
	out = mustRunOnFake(t, fakeAPI{"GET /api/v1/cluster/status": st}, "cluster", "status")
	assert.Contains(t, out, "only the leader knows: ask n1")
}

// A read that finds no leader (503: an election, or the quorum lost) says
// that this node's own copy still answers with --consistency stale: a
// commander watching a call-up through an outage needs the board
// (exploratory finding O3). A stale read that fails says nothing of it,
// nor does a write.
func TestAReadWithoutALeaderPointsToTheStaleRead(t *testing.T) {
	noLeader := refusal(http.StatusServiceUnavailable, muster.Error{Code: muster.ETimeout, Message: "no leader reachable before the deadline"})
	_, _, err := runOnFake(t, noLeader, "status", "A000004")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no leader reachable before the deadline; this node's own copy, which may be behind, answers without a leader: add --consistency stale")

	var asked []url.Values
	staleFails := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" { // asked for the stale read's note
			asked = append(asked, r.URL.Query())
		}
		noLeader.ServeHTTP(w, r)
	})
	_, _, err = runOnFake(t, staleFails, "--consistency", "stale", "status", "A000004")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "--consistency stale")
	require.Len(t, asked, 1)
	assert.Equal(t, url.Values{"board": {"true"}, "consistency": {"stale"}}, asked[0], "status ACT asks for the stale read (its board query had swallowed it)")

	_, _, err = runOnFake(t, noLeader, "stand-down", "A000004", "--reason", "结束")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no leader reachable")
	assert.NotContains(t, err.Error(), "--consistency stale", "a write needs the leader")
}
