package notify_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster/clustertest"
	"muster/notify"
)

// A drill whose account's auth token is wrong (rotated under muster, say):
// the provider refuses the account itself (401, 20003) for every message.
// Every recipient was marked failed at once, for good, with the fallback
// account configured for such a day idle (exploratory finding F1). The
// refusal is now an outage of the account: retried, counted towards the
// failover, and everyone is sent on the fallback account.
func TestARefusedAccountFailsOverLikeAnOutage(t *testing.T) {
	const people = 60
	r := newCallRig(t, rigOptions{nodes: 1, people: people, fallback: true, wrongDrillToken: true,
		disp: notify.DispatcherConfig{Backoff: 50 * time.Millisecond, FailoverFor: time.Hour}})
	a := r.activate(t, "exercise")
	r.waitSettled(t, a.ID, 60*time.Second)
	r.waitSimIdle(t, 30*time.Second)
	st := r.status(t, a.ID)
	sim, fb := r.sim.Stats(), r.fbSim.Stats()
	t.Logf("refused by the first account %d, sent on the fallback %d, failovers %d", sim.Unauthorized, fb.Accounts[drillFallbackAcct.SID].Created, r.dispatcherStats().Failovers)
	assert.Equal(t, map[notify.State]int{notify.StateDelivered: people}, st.Counters.ByState, "nobody failed for the account's refusal")
	assert.Positive(t, sim.Unauthorized, "the first account was refused")
	assert.Zero(t, sim.Accounts[drillAcct.SID].Created)
	assert.EqualValues(t, people, fb.Accounts[drillFallbackAcct.SID].Created, "everyone sent on the fallback")
	assert.EqualValues(t, people, st.Counters.Dispatch["fallback"])
	assert.EqualValues(t, 1, r.dispatcherStats().Failovers)
}

// The escalation's messages go out on the fallback account while the
// call-up's do: they used the first account always, and with it down or
// refusing its token every reminder failed and the board read "escalated"
// with nothing said (exploratory finding F3).
func TestEscalationMessagesFailOverWithTheCallUp(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock, fallback: true, wrongDrillToken: true,
		disp: notify.DispatcherConfig{Backoff: 50 * time.Millisecond, FailoverFor: time.Hour}})
	a := escalateDrill(t, r)
	silent := r.status(t, a.ID).Counters.ByState[notify.StateDelivered]
	require.Positive(t, silent)
	require.Positive(t, r.dispatcherStats().Failovers, "the call-up went out on the fallback")
	before := r.fbSim.Stats().Accounts[drillFallbackAcct.SID].Created

	clock.Add(5 * time.Minute)
	s0 := r.waitFired(t, a.ID, 0)
	assert.Equal(t, map[string]int{notify.EscSent: silent}, s0.Items, "every reminder sent")
	assert.EqualValues(t, silent, r.fbSim.Stats().Accounts[drillFallbackAcct.SID].Created-before, "on the fallback account")
	assert.Zero(t, r.sim.Stats().Accounts[drillAcct.SID].Created, "nothing taken by the refused account")
}
