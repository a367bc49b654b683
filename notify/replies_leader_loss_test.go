package notify_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
	"muster/notify/twiliosim"
)

// TestRepliesOutliveTheLeader kills the leader of three nodes while
// everyone's "1" comes in, and the simulator posts each webhook once and
// never again (Twilio posts one again only when it cannot connect, not
// when it is answered with an error). Every reply is recorded: a node
// whose forwarded batch was in the dead leader's hands asks the next
// leader, where it answered 503 and the reply was lost (exploratory
// finding Z15).
func TestRepliesOutliveTheLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("three nodes and a leader killed")
	}
	people := 1_000
	if raceDetector {
		people = 400
	}
	r := newCallRig(t, rigOptions{nodes: 3, people: people, sim: twiliosim.Config{
		CallbackAttempts: 1,
		Replies:          []twiliosim.ReplyRule{{Share: 1, Body: "1", Within: 3 * time.Second}},
	}})
	a := r.activate(t, "exercise")
	require.Equal(t, people, a.Recipients)

	old := r.c.Leader()
	deadline := time.Now().Add(60 * time.Second)
	for r.status(t, a.ID).Counters.ByState[notify.StateAcked] < people/10 {
		require.True(t, time.Now().Before(deadline), "replies did not start")
		time.Sleep(10 * time.Millisecond)
	}
	r.c.Kill(old)
	require.NotEqual(t, old.Node.ID(), r.c.WaitLeader(15*time.Second).Node.ID())

	sim := r.waitSimIdle(t, 60*time.Second)
	st := r.status(t, a.ID)
	t.Logf("replies posted %d, failed %d; acked %d of %d", sim.RepliesSent, sim.RepliesFailed, st.Counters.ByState[notify.StateAcked], people)
	assert.Zero(t, sim.RepliesFailed, "no reply answered with an error")
	assert.GreaterOrEqual(t, sim.RepliesSent, int64(people), "everyone replied (some twice: re-sent messages)")
	assert.Equal(t, people, st.Counters.ByState[notify.StateAcked], "every reply recorded")
}
