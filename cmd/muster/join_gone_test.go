package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A member restarted unchanged, its --join URL naming a node gone for
// good (the docs' layout: n2, n3 --join n1; n1 removed), is a member: it
// stops trying to join once it is a voter of a cluster with a leader,
// saying so once, instead of "join failed, retrying" every 5 s for ever
// (exploratory finding Z9).
func TestRestartedMemberWithAGoneJoinURLStopsJoining(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	agents := startAgents(t, "--log-level", "info")
	c := newAPI(t, testAdminToken)
	n1, n2, n3 := agents[0], agents[1], agents[2]
	n1.kill()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	next := leaderOf(t, c, []*agent{n2, n3})
	code, body := c.call(ctx, http.MethodPost, next.http+"/api/v1/cluster/remove", mustJSON(map[string]string{"id": n1.id}), "application/json")
	require.Equal(t, http.StatusOK, code, "%s", body)

	require.NoError(t, n3.terminate(20*time.Second))
	n3.start() // the same flags: --join n1's URL among them
	n3.waitOutput("this node is already a voter of the cluster, whose leader is ", 60*time.Second)
	c.waitStatus(n3.http+"/readyz", http.StatusOK, 30*time.Second)
	failed := strings.Count(n3.out.String(), "join failed, retrying")
	// The next attempt would have come within 5 s: none comes.
	deadline := time.Now().Add(7 * time.Second)
	for time.Now().Before(deadline) {
		require.Equal(t, failed, strings.Count(n3.out.String(), "join failed, retrying"), "n3 tries to join again:\n%s", n3.out.String())
		select {
		case <-n3.done:
			t.Fatalf("n3 stopped:\n%s", n3.out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	assert.Equal(t, 1, strings.Count(n3.out.String(), "nothing to do, no more join attempts"))
}
