package cluster

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
)

// Raft's same error about a peer that is down comes several times a
// second: it is logged once per window, the next one saying how many were
// left out; another peer's, and errors naming no peer, come as they are.
func TestRaftsRepeatedErrorsAboutAPeerAreQuiet(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	q := quietLogger{hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Info}), newRepeats(30*time.Second, func() time.Time { return now })}
	log := q.Named("raft")
	for range 10 {
		log.Error("failed to heartbeat to", "peer", "10.0.0.3:7000", "error", "dial tcp: connection refused")
		now = now.Add(300 * time.Millisecond)
	}
	log.Error("failed to heartbeat to", "peer", "10.0.0.4:7000", "error", "dial tcp: connection refused")
	log.Error("failed to take snapshot", "error", "disk full")
	log.Error("failed to take snapshot", "error", "disk full")
	log.Warn("heartbeat timeout reached", "peer", "10.0.0.3:7000")
	log.Warn("heartbeat timeout reached", "peer", "10.0.0.3:7000")
	now = now.Add(30 * time.Second)
	log.With("x", 1).Error("failed to heartbeat to", "peer", "10.0.0.3:7000", "error", "dial tcp: connection refused")

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	count := func(s string) int {
		n := 0
		for _, l := range lines {
			if strings.Contains(l, s) {
				n++
			}
		}
		return n
	}
	assert.Equal(t, 2, count("peer=10.0.0.3:7000 error"), "the first and the one after the window:\n%s", out.String())
	assert.Equal(t, 1, count("same_error_left_out=9 within=30s"), "nine left out in between")
	assert.Equal(t, 1, count("peer=10.0.0.4:7000"), "another peer's comes as it is")
	assert.Equal(t, 2, count("failed to take snapshot"), "an error naming no peer comes every time")
	assert.Equal(t, 2, count("heartbeat timeout reached"), "below error: every time")
	assert.Len(t, lines, 7)
}
