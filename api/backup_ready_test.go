package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/api"
)

// A backup says whether the node that served it was ready, and which
// leader to ask instead: a node cut off from the others serves its own,
// possibly old, copy (exploratory finding Z11: it said nothing).
func TestBackupSaysWhetherTheNodeIsReady(t *testing.T) {
	f := newFixture(t, 3)
	leader := f.c.WaitLeader(10 * time.Second)
	follower := f.c.Followers()[0]
	h := f.handler(follower)

	res := do(t, h, request{method: "GET", path: "/api/v1/backup", token: f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	assert.Equal(t, "true", res.Header().Get(api.ReadyHeader))
	assert.Empty(t, res.Header().Get(api.NotReadyHeader))
	assert.Equal(t, leader.Node.ID(), res.Header().Get(api.LeaderHeader))
	assert.Equal(t, leader.HTTPAddr, res.Header().Get(api.LeaderHTTPHeader))
	assert.NotEmpty(t, res.Header().Get(api.CommitIndexHeader))

	// The others gone, the follower knows no leader and says so.
	for _, m := range f.c.Nodes {
		if m != follower {
			f.c.Kill(m)
		}
	}
	// Until it knows no leader: a lag of an entry made Ready(0) false a
	// moment while the dead leader was still known (CI served "true").
	deadline := time.Now().Add(20 * time.Second)
	for _, why := follower.Node.Ready(0); !strings.Contains(why, "no known leader"); _, why = follower.Node.Ready(0) {
		require.True(t, time.Now().Before(deadline), "the follower still has a leader (%s)", why)
		time.Sleep(50 * time.Millisecond)
	}
	res = do(t, h, request{method: "GET", path: "/api/v1/backup", token: f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	assert.Equal(t, "false", res.Header().Get(api.ReadyHeader))
	assert.Contains(t, res.Header().Get(api.NotReadyHeader), "no known leader")
	assert.Empty(t, res.Header().Get(api.LeaderHeader))
	assert.NotZero(t, res.Body.Len(), "the copy is still served: the CLI decides")
}
