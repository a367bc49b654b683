package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

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
