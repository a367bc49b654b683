package notify_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster/clustertest"
	"muster/notify"
	"muster/notify/twiliosim"
)

// The provider takes 10 messages a second from the drill account and
// answers 429 with Retry-After above it. The reminders of the SMS-again
// step, many more than ten, are not lost to it (they were: 53 of 67
// failed at their third 429 within a second): a throttled reminder is
// tried again with the long budget of an outage, throttling being no
// fault of the person's number, and while the route is held for the
// provider's Retry-After the escalator claims none of its items, so no
// attempt is spent without a request.
func TestEscalationWaitsOutThrottling(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock, sim: twiliosim.Config{MPS: 10}})
	a := escalateDrill(t, r)
	silent := r.status(t, a.ID).Counters.ByState[notify.StateDelivered]
	require.Greater(t, silent, 30, "far more reminders than the provider takes in a second")
	before := r.sim.Stats()

	clock.Add(5 * time.Minute) // the SMS-again step fires
	var st notify.EscalationStepStatus
	// The provider's rate runs on the wall clock and the escalation's
	// backoff on the test's: move the test's a second each poll, so the
	// retries come due as they would in a throttled minute or two.
	for deadline := time.Now().Add(2 * time.Minute); ; clock.Add(time.Second) {
		st = r.escalation(t, a.ID)[0]
		if !st.FiredAt.IsZero() && st.Items[notify.EscQueued]+st.Items[notify.EscSending] == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the reminders did not get out: %+v", st)
		time.Sleep(50 * time.Millisecond)
	}
	throttled := r.sim.Stats().Throttled - before.Throttled
	attempts, most := 0, 0
	for _, it := range r.escalationQueue(t, a.ID) {
		if it.Step == 0 {
			attempts += it.N
			most = max(most, it.N)
		}
	}
	t.Logf("%d reminders at 10/s: %v; the provider answered 429 %d times; %d attempts, at most %d for one", silent, st.Items, throttled, attempts, most)
	assert.Equal(t, map[string]int{notify.EscSent: silent}, st.Items, "no reminder lost to throttling")
	assert.Positive(t, throttled, "the provider throttled")
	assert.EqualValues(t, attempts, int64(silent)+throttled, "one request an attempt: no attempt spent while the route was held")
}
