package notify_test

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/notify"
	"muster/notify/twiliosim"
	"muster/plans"
)

// The provider answers every request 503 from the moment the SMS-again
// step fires (T+5) until after the 叫应 reports of T+10 are written: six
// minutes, where the three attempts an escalation item had used to be
// spent in well under a second. Every reminder and every report waits
// out the outage, tried again with the dispatcher's backoff (one request
// an attempt, the attempts spaced out: a handful each in six minutes, not
// a loop), none fails, and all go out once the provider is back.
func TestEscalationRidesOutAProviderOutage(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 1, people: 200, clock: clock})
	a := escalateDrill(t, r)
	silent := r.status(t, a.ID).Counters.ByState[notify.StateDelivered]
	require.Positive(t, silent)
	before := r.sim.Stats()

	r.sim.SetFault(twiliosim.Fault503HTML, time.Hour) // until it is cleared below
	clock.Add(5 * time.Minute)
	q := r.rideOut(t, clock, a.ID, 6*time.Minute) // to T+11
	requests := r.sim.Stats().Faults - before.Faults
	reports, attempts, most := 0, 0, 0
	for _, it := range q {
		attempts += it.N
		most = max(most, it.N)
		if it.Step == 1 {
			reports++
		}
		assert.Equal(t, notify.EscQueued, it.State, "step %d to %s waits for the provider: %s", it.Step, it.Person, it.Error)
	}
	t.Logf("silent %d, reports %d; in 6 minutes of outage: %d requests, %d attempts, at most %d for an item", silent, reports, requests, attempts, most)
	require.Positive(t, reports, "the 叫应 reports were written during the outage")
	assert.Len(t, q, silent+reports)
	assert.EqualValues(t, attempts, requests, "one request an attempt")
	assert.Greater(t, most, 3, "an outage gets more than 3 attempts")
	// Attempt n+1 waits at least half of 2s·2ⁿ⁻¹ (at most 5m): in six
	// minutes no item can have had more than 9.
	assert.LessOrEqual(t, most, 9, "the attempts are spaced out")
	assert.Zero(t, r.sim.Stats().Accounts[drillAcct.SID].Created-before.Accounts[drillAcct.SID].Created, "nothing went out during the outage")
	steps := r.escalation(t, a.ID)
	assert.Equal(t, silent, steps[0].Items[notify.EscQueued], "the waiting reminders read queued")
	assert.Equal(t, silent, steps[0].Retrying)
	assert.Equal(t, reports, steps[1].Retrying)

	r.sim.SetFault(twiliosim.FaultNone, 0)
	clock.Add(5 * time.Minute) // the longest backoff: every item is due
	s0, s1 := r.waitFired(t, a.ID, 0), r.waitFired(t, a.ID, 1)
	r.waitSimIdle(t, 30*time.Second)
	assert.Equal(t, map[string]int{notify.EscSent: silent}, s0.Items, "every reminder sent after the outage")
	assert.Equal(t, map[string]int{notify.EscSent: reports}, s1.Items, "every 叫应 report sent after the outage")
	assert.Equal(t, reports, simBodies(r.sim, "叫应："))
}

// Under rules 12 an escalation item that fails for now is queued again at
// once and fails at its third attempt, whatever failed: the same 503
// burns every reminder in three requests each without the clock moving.
func TestRules12EscalationKeepsThreeQuickAttempts(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 1, people: 200, clock: clock, config: func(_ int, c *cluster.Config) { c.Rules = 12 }})
	require.Equal(t, 12, r.c.WaitLeader(15*time.Second).Node.Status().Rules)
	a := escalateDrill(t, r)
	silent := r.status(t, a.ID).Counters.ByState[notify.StateDelivered]
	require.Positive(t, silent)
	before := r.sim.Stats().Faults

	r.sim.SetFault(twiliosim.Fault503HTML, time.Hour)
	clock.Add(5 * time.Minute)
	s0 := r.waitFired(t, a.ID, 0)
	assert.Equal(t, map[string]int{notify.EscFailed: silent}, s0.Items)
	assert.Zero(t, s0.Retrying)
	assert.EqualValues(t, 3*silent, r.sim.Stats().Faults-before, "three requests each")
	for _, it := range r.escalationQueue(t, a.ID) {
		assert.Equal(t, 3, it.N, "%s", it.Person)
		assert.True(t, retryAt(t, it).IsZero(), "no retry time under rules 12")
	}
}

// A temporary error of the number, not of the provider (refused for now
// with HTTP 400, 30001), keeps its three attempts, spaced with backoff
// now: the voice step's calls to the numbers refused are tried once at
// T+5, again only as the clock moves on, and fail at the third; the
// others are placed.
func TestEscalationKeepsThreeAttemptsForANumbersOwnError(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	refused := regexp.MustCompile(`[05]$`)
	r := newCallRig(t, rigOptions{nodes: 1, people: 200, clock: clock,
		disp: notify.DispatcherConfig{Backoff: 10 * time.Millisecond, MaxAttempts: 2}, // the call-up gives them up soon
		sim:  twiliosim.Config{TimeScale: 0.002, Rules: []twiliosim.Rule{{Match: refused, Outcome: twiliosim.OutcomeReject, Code: 30001}}}})
	_, a, _ := voiceDrill(t, r, "EXERCISE")
	failed := r.status(t, a.ID).Counters.ByState[notify.StateFailed]
	require.Positive(t, failed, "the call-up's SMS to the refused numbers failed")

	clock.Add(5 * time.Minute)
	first := r.waitTried(t, clock.Now(), a.ID)
	calls := 0
	for _, it := range first {
		if refused.MatchString(it.Phone) {
			calls++
			assert.Equal(t, notify.EscQueued, it.State, "%s: tried again later, not at once", it.Person)
			assert.Equal(t, 1, it.N, "%s", it.Person)
			assert.True(t, retryAt(t, it).After(clock.Now()), "%s", it.Person)
		}
	}
	require.Equal(t, failed, calls, "a call to each")

	for _, it := range r.rideOut(t, clock, a.ID, time.Minute) {
		if refused.MatchString(it.Phone) {
			assert.Equal(t, notify.EscFailed, it.State, "%s", it.Person)
			assert.Equal(t, 3, it.N, "%s: three attempts, as before", it.Person)
		} else {
			assert.Equal(t, notify.EscSent, it.State, "%s", it.Person)
		}
	}
}

// A drill stood down while its reminders wait out an outage sends none of
// them when the provider is back, as it sends nothing queued; another
// drill's, waiting beside them, all go.
func TestStandDownStopsEscalationWaitingOutAnOutage(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock})
	_, err := r.plans.ApplyPlan(testCtx(t), "test", "escalate.yaml", escalatePlan())
	require.NoError(t, err)
	n := r.c.WaitLeader(15 * time.Second).Node
	svc := notify.NewService(n, n, senders)
	var drills []notify.Activation
	for _, region := range []plans.RegionCode{district, drillDistrict} {
		a, err := svc.Activate(testCtx(t), "trainer", notify.ActivationRequest{Plan: "escalate", Regions: []plans.RegionCode{region}, Level: "IV", Purpose: "EXERCISE", Reason: "叫应演练"})
		require.NoError(t, err)
		r.waitSettled(t, a.ID, 60*time.Second)
		drills = append(drills, a)
	}
	r.waitSimIdle(t, 30*time.Second)
	stopped, going := drills[0], drills[1]
	silent := r.status(t, going.ID).Counters.ByState[notify.StateDelivered]
	require.Positive(t, silent)
	require.Positive(t, r.status(t, stopped.ID).Counters.ByState[notify.StateDelivered])

	r.sim.SetFault(twiliosim.Fault503HTML, time.Hour)
	clock.Add(5 * time.Minute)
	for _, a := range drills {
		for _, it := range r.rideOut(t, clock, a.ID, 30*time.Second) {
			require.Equal(t, notify.EscQueued, it.State, "%s waits for the provider", it.Person)
		}
	}
	_, err = svc.StandDown(testCtx(t), "trainer", stopped.ID, "演练结束")
	require.NoError(t, err)
	created := r.sim.Stats().Accounts[drillAcct.SID].Created

	r.sim.SetFault(twiliosim.FaultNone, 0)
	clock.Add(3 * time.Minute) // every reminder due (a minute of outage: 64s at most), the reports of T+10 not
	s0 := r.waitFired(t, going.ID, 0)
	assert.Equal(t, map[string]int{notify.EscSent: silent}, s0.Items, "the drill still on sends its reminders")
	r.waitSimIdle(t, 30*time.Second)
	ends := r.drillEndsOf(t, stopped.ID) // the stood-down drill tells its people it has ended (rules 13)
	assert.EqualValues(t, silent, r.sim.Stats().Accounts[drillAcct.SID].Created-created-int64(ends), "none of the stood-down drill's")
	q := r.escalationQueue(t, stopped.ID)
	require.NotEmpty(t, q)
	for _, it := range q {
		// Left as it was when the drill stopped; or skipped, when the
		// escalator's claim of it, proposed before the stand-down, was
		// applied after it (a busy machine): never sent.
		assert.Contains(t, []string{notify.EscQueued, notify.EscSkipped}, it.State, "%s: not sent after the drill stopped", it.Person)
	}
	t.Logf("reminders sent after the outage %d; left queued by the stand-down %d", silent, len(q))
}

// rideOut moves the clock on by d in steps of 5 seconds, waiting after each
// for the escalator to have tried every item of activation id due by then,
// and returns the activation's items.
func (r *callRig) rideOut(t *testing.T, clock *clustertest.Clock, id plans.ActivationID, d time.Duration) []notify.EscalationItem {
	t.Helper()
	const step = 5 * time.Second
	var q []notify.EscalationItem
	for end := clock.Now().Add(d); ; clock.Add(step) {
		q = r.waitTried(t, clock.Now(), id)
		if !clock.Now().Before(end) {
			return q
		}
	}
}

// waitTried polls until every escalation step of activation id due at now
// has fired and none of its items is in flight or queued and due at now
// (waiting for a retry after now is not due), and returns its items.
func (r *callRig) waitTried(t *testing.T, now time.Time, id plans.ActivationID) []notify.EscalationItem {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		fired := true
		for _, s := range r.escalation(t, id) {
			fired = fired && (s.FiredAt.IsZero() == now.Before(s.Due))
		}
		q := r.escalationQueue(t, id)
		due := 0
		for _, it := range q {
			if it.State == notify.EscSending || it.State == notify.EscQueued && !now.Before(retryAt(t, it)) {
				due++
			}
		}
		if fired && due == 0 {
			return q
		}
		require.True(t, time.Now().Before(deadline), "escalation of %s not tried by %v: fired %v, %d items due", id, now, fired, due)
		time.Sleep(10 * time.Millisecond)
	}
}

// escalationQueue reads the escalation items of activation id on the leader.
func (r *callRig) escalationQueue(t testing.TB, id plans.ActivationID) (q []notify.EscalationItem) {
	t.Helper()
	require.NoError(t, r.c.WaitLeader(15*time.Second).Node.View(testCtx(t), muster.Default, func(tx *bolt.Tx) (err error) {
		q, err = notify.EscalationQueue(tx, id)
		return err
	}))
	return q
}

// retryAt is when a queued item is to be tried again, as the state
// stores it (zero: at once).
func retryAt(t testing.TB, it notify.EscalationItem) time.Time {
	t.Helper()
	data, err := json.Marshal(it)
	require.NoError(t, err)
	var v struct {
		NextTry time.Time `json:"next_try"`
	}
	require.NoError(t, json.Unmarshal(data, &v), "%s", data)
	return v.NextTry
}
