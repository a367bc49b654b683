package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The first node, removed while it was down and started again as its
// service definition says (--bootstrap), has a raft state that still lists
// it: nothing refuses it at its start. It learns from the leader that it
// is no member, says so and what to do, and exits with exitRefused, which
// the systemd unit does not restart. It used to wait 30 s for a leader that
// never came and exit 1, to be started again every 2 s for ever.
func TestAgentRemovedWhileDownStopsWhenItComesBack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	agents := startAgents(t)
	c := newAPI(t, testAdminToken)
	first := agents[0] // the one started with --bootstrap
	first.kill()
	leader := leaderOf(t, c, othersThan(agents, first))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code, body := c.call(ctx, http.MethodPost, leader.http+"/api/v1/cluster/remove", mustJSON(map[string]string{"id": first.id}), "application/json")
	require.Equal(t, http.StatusOK, code, "%s", body)

	first.start() // the same flags: --bootstrap among them
	start := time.Now()
	select {
	case <-first.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s, removed while it was down, still runs 20 s after it started again:\n%s", first.id, first.out.String())
	}
	t.Logf("%s exited %v after it started again", first.id, time.Since(start).Round(time.Millisecond))
	assert.Equal(t, exitRefused, first.cmd.ProcessState.ExitCode(), "%s stops with the exit code the systemd unit does not restart:\n%s", first.id, first.out.String())
	out := first.out.String()
	assert.Contains(t, out, "was removed from its cluster")
	assert.Contains(t, out, "empty its data dir")
}
