package api_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nodeEvent is an event stream's `node` event.
type nodeEvent struct {
	Node             string   `json:"node"`
	Ready            bool     `json:"ready"`
	NotReady         string   `json:"not_ready"`
	Leader           string   `json:"leader"`
	LeaderContactAge *float64 `json:"leader_contact_age_s"`
	AppliedIndex     uint64   `json:"applied_index"`
	CommitIndex      uint64   `json:"commit_index"`
}

// nextNamed waits (bounded) for the next event named name, passing over
// the others, and decodes its data into out.
func nextNamed(t *testing.T, events <-chan sseEvent, name string, timeout time.Duration, out any) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-events:
			require.True(t, ok, "the stream ended before a %s event", name)
			if ev.name != name {
				continue
			}
			require.NoError(t, json.Unmarshal([]byte(ev.data), out), ev.data)
			return
		case <-deadline:
			t.Fatalf("no %s event within %v", name, timeout)
		}
	}
}

// nextNode waits (bounded) for the next node event.
func nextNode(t *testing.T, events <-chan sseEvent, timeout time.Duration) nodeEvent {
	t.Helper()
	var n nodeEvent
	nextNamed(t, events, "node", timeout, &n)
	return n
}

// A board's event stream on a node that loses its leader (the others of
// three gone: it has no quorum) says so within a poll, and its heartbeats
// go on saying so with the time since it last heard from a leader: the
// figures it goes on sending are the node's own copy, frozen, not the
// cluster's. A stream opened there then (reading the node's own copy) says
// so after its first status. When the others are back the streams say the
// node has a leader again.
func TestActivationEventsSayWhenTheNodeLosesItsLeader(t *testing.T) {
	f := newFixture(t, 3)
	leader := f.c.WaitLeader(10 * time.Second)
	h := f.handler(leader)
	a := boardCallUp(t, f, h, 200, "990101")
	c, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	url := leader.HTTPAddr + "/api/v1/activations/" + string(a.ID) + "/events?board=true"

	_, events := openEvents(t, c, url, f.root)
	assert.Equal(t, a.ID, nextStatus(t, events, 5*time.Second).ID)

	// The followers gone, the leader loses its quorum and steps down.
	lost := time.Now()
	for _, m := range f.c.Nodes {
		if m != leader {
			f.c.Kill(m)
		}
	}
	n := nextNode(t, events, 15*time.Second)
	assert.Less(t, time.Since(lost), 10*time.Second, "said within a poll of stepping down")
	assert.Equal(t, leader.Node.ID(), n.Node)
	assert.False(t, n.Ready, "%+v", n)
	assert.Contains(t, n.NotReady, "no known leader", "%+v", n)
	assert.Empty(t, n.Leader, "%+v", n)
	require.NotNil(t, n.LeaderContactAge, "how long ago it last led")
	assert.Less(t, *n.LeaderContactAge, time.Since(lost).Seconds()+1)
	assert.Positive(t, n.AppliedIndex)

	// A stream opened now reads the node's own copy, and says whose.
	_, late := openEvents(t, c, url+"&consistency=stale", f.root)
	assert.Equal(t, a.ID, nextStatus(t, late, 5*time.Second).ID)
	assert.False(t, nextNode(t, late, 5*time.Second).Ready, "said after the first status")

	// With nothing changing, the heartbeat is a node event saying the same,
	// the time since the leader grown.
	first := *n.LeaderContactAge
	n = nextNode(t, events, 20*time.Second)
	assert.False(t, n.Ready, "%+v", n)
	require.NotNil(t, n.LeaderContactAge)
	assert.Greater(t, *n.LeaderContactAge, first+10, "a heartbeat later")

	// The others back: a leader is elected and the streams say so.
	for _, m := range f.c.Nodes {
		if m != leader {
			f.c.Restart(m)
		}
	}
	back := f.c.WaitLeader(20 * time.Second)
	for _, events := range []<-chan sseEvent{events, late} {
		// Passing over the heartbeats that said it had none, until then.
		deadline := time.Now().Add(20 * time.Second)
		for n = nextNode(t, events, 20*time.Second); !n.Ready && time.Now().Before(deadline); {
			n = nextNode(t, events, time.Until(deadline))
		}
		assert.True(t, n.Ready, "%+v", n)
		assert.Empty(t, n.NotReady)
		assert.Equal(t, back.Node.ID(), n.Leader)
		if back == leader {
			assert.Nil(t, n.LeaderContactAge, "a leader hears from no leader")
		}
	}
}
