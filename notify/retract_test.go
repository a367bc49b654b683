package notify_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/notify"
	"muster/notify/twiliosim"
	"muster/plans"
)

const correctionText = "撤销：前一条启动通知系误发，请忽略，无需到岗。"

// correctionSaid matches what a correction retracting with correctionText
// says: the words, or, to English speakers (rules 13), the standard
// English text.
var correctionSaid = regexp.MustCompile(regexp.QuoteMeta(correctionText) + "|" + regexp.QuoteMeta(notify.CorrectionTextEN))

// saysCorrection reports whether text says a correction retracting with
// correctionText.
func saysCorrection(text string) bool { return correctionSaid.MatchString(text) }

// originalAndCorrection splits the outbound messages the simulator accepted
// into the original call-up's and the correction's, as numbers → count.
func originalAndCorrection(sim *twiliosim.Server) (orig, corr map[string]int) {
	orig, corr = map[string]int{}, map[string]int{}
	for _, m := range sim.Messages("") {
		if m.Direction != "outbound-api" {
			continue
		}
		if saysCorrection(m.Body) {
			corr[m.To]++
		} else {
			orig[m.To]++
		}
	}
	return orig, corr
}

// A retraction in the middle of a rate-limited call-up: once it commits the
// dispatcher starts no further send of the original (only the calls already
// on the wire may still land), the original stops and releases its regions,
// and the correction reaches every number the simulator accepted an
// original message for, once.
func TestRetractionStopsSendsAndCorrectsTheReached(t *testing.T) {
	const people, workers = 3000, 16
	r := newCallRig(t, rigOptions{nodes: 3, people: people, perSecond: 500, disp: notify.DispatcherConfig{Workers: workers}})
	a := r.activate(t, "exercise")
	require.Equal(t, people, a.Recipients)

	// Let a few hundred go out at the simulator's pace, with a full window
	// of claimed sends queued behind them.
	deadline := time.Now().Add(60 * time.Second)
	for r.sim.Stats().Accounts[drillAcct.SID].Created < 300 {
		require.True(t, time.Now().Before(deadline), "dispatch did not start")
		time.Sleep(5 * time.Millisecond)
	}
	n := r.c.WaitLeader(15 * time.Second).Node
	svc := notify.NewService(n, n, senders)
	res, err := svc.Retract(testCtx(t), "commander", a.ID, notify.RetractRequest{Message: correctionText})
	require.NoError(t, err)
	before, _ := originalAndCorrection(r.sim)
	atCommit := 0
	for _, c := range before {
		atCommit += c
	}

	assert.Equal(t, notify.StatusStoodDown, res.Retracted.Status)
	require.NotNil(t, res.Retracted.Retraction)
	assert.Equal(t, res.Correction.ID, res.Retracted.Retraction.Correction)
	assert.Equal(t, a.ID, res.Correction.Retracts)
	b, err := svc.Board(testCtx(t), muster.Default, a.ID)
	require.NoError(t, err)
	require.NotNil(t, b.Retraction, "the board says it was retracted")
	assert.Equal(t, res.Correction.ID, b.Retraction.Correction)
	assert.Equal(t, notify.PurposeExercise, res.Correction.Purpose, "a drill's correction is a drill too")
	assert.Less(t, res.Correction.Recipients, people, "retracted mid-dispatch")
	m, err := svc.Mode(testCtx(t), muster.Default, city)
	require.NoError(t, err)
	assert.Equal(t, plans.ModeNormal, m.Mode, "the retracted activation released its regions")

	st := r.waitSettled(t, res.Correction.ID, 60*time.Second)
	r.waitSimIdle(t, 30*time.Second)
	orig, corr := originalAndCorrection(r.sim)
	total := 0
	for to, c := range orig {
		total += c
		assert.Equal(t, 1, corr[to], "%s got the original and exactly one correction", to)
	}
	t.Logf("originals accepted by the retraction's commit %d, after it %d; corrections %d", atCommit, total-atCommit, len(corr))
	assert.LessOrEqual(t, total-atCommit, workers, "after the commit only sends already on the wire land")
	assert.Equal(t, st.Recipients, st.Counters.Total, "sends dropped at the retraction were taken off the correction")
	orig0 := r.status(t, a.ID)
	require.NotNil(t, orig0.Retraction)
	assert.Equal(t, st.Recipients, orig0.Retraction.Recipients)
	assert.Equal(t, len(corr), st.Counters.ByState[notify.StateDelivered], "every correction delivered, once")
	ds := r.dispatcherStats()
	t.Logf("claimed sends dropped at the retraction %d; dispatcher terms %d", ds.Dropped, ds.Runs)
	assert.Positive(t, ds.Dropped, "the queued sends were dropped, not made")
	if ds.Runs == 1 {
		// The correction waited for the result of every send in flight
		// at the retraction: a dropped one took its recipient off it.
		assert.Equal(t, len(orig), len(corr), "a correction only to those the original reached")
	} else {
		// A new leader has no result to wait for of the sends the old one
		// left in flight (their outcome is unknown): those get it too.
		assert.LessOrEqual(t, len(corr)-len(orig), 1024*int(ds.Runs-1), "MaxInFlight per term; leader changed %d times", ds.Runs-1)
	}
	for _, msg := range r.sim.Messages("") {
		if saysCorrection(msg.Body) {
			assert.True(t, strings.HasPrefix(msg.Body, plans.ExerciseMark), "a drill's correction carries the mark: %q", msg.Body)
		}
	}
	assert.Zero(t, r.sim.Stats().Accounts[liveAcct.SID].Created)

	// Once is enough; a correction is not itself retracted.
	_, err = svc.Retract(testCtx(t), "commander", a.ID, notify.RetractRequest{Message: "again"})
	require.True(t, muster.IsCode(err, muster.EConflict), "got %v", err)
	_, err = svc.Retract(testCtx(t), "commander", res.Correction.ID, notify.RetractRequest{Message: "again"})
	require.True(t, muster.IsCode(err, muster.EConflict), "got %v", err)
}

// dispatcherStats sums the counters of every node's dispatcher.
func (r *callRig) dispatcherStats() notify.DispatcherStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s notify.DispatcherStats
	for _, d := range r.disp {
		x := d.Stats()
		s.Claimed += x.Claimed
		s.Sent += x.Sent
		s.Dropped += x.Dropped
		s.Resent += x.Resent
		s.Failovers += x.Failovers
		s.Runs += x.Runs
		s.OnFallback = append(s.OnFallback, x.OnFallback...)
	}
	return s
}

// TestCorrectionReachesEveryoneWithinAMinute: 10,000 people reached (1,000
// under -race; the full size runs without it in .ci/run), then the
// activation is retracted; the correction must be accepted by the
// simulator for every one of them within 60 s of the retraction.
func TestCorrectionReachesEveryoneWithinAMinute(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 recipients on three nodes")
	}
	people := 10_000
	if raceDetector {
		people = 1_000
	}
	r := newCallRig(t, rigOptions{nodes: 3, people: people})
	t0 := time.Now()
	a := r.activate(t, "exercise")
	r.waitSettled(t, a.ID, 120*time.Second)
	t.Logf("call-up of %d settled in %v", people, time.Since(t0).Round(time.Millisecond))
	r.waitSimIdle(t, 60*time.Second)
	n := r.c.WaitLeader(15 * time.Second).Node
	svc := notify.NewService(n, n, senders)

	start := time.Now()
	res, err := svc.Retract(testCtx(t), "commander", a.ID, notify.RetractRequest{Message: correctionText})
	require.NoError(t, err)
	committed := time.Since(start)
	require.Equal(t, people, res.Correction.Recipients, "everyone was reached")
	deadline := start.Add(60 * time.Second)
	for {
		// People reached, not messages: a send whose outcome was lost
		// goes again (see below), and its first may have landed.
		_, corr := originalAndCorrection(r.sim)
		if len(corr) == people {
			break
		}
		require.True(t, time.Now().Before(deadline), "after 60 s the correction was accepted for only %d of %d people (%d messages)", len(corr), people, total(corr))
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(start)
	t.Logf("retraction committed in %v; corrections to all %d people accepted by the simulator %v after the retraction (%.0f/s)",
		committed.Round(time.Millisecond), people, took.Round(time.Millisecond), float64(people)/took.Seconds())

	// A person gets the correction twice only from two attempts the
	// dispatcher claimed: a send whose outcome it never learnt (a timeout
	// whose first attempt landed; the claims a leader left in flight) is
	// claimed and sent again as a new attempt. One attempt never goes out
	// twice.
	r.waitSettled(t, res.Correction.ID, 60*time.Second)
	r.waitSimIdle(t, 30*time.Second)
	attempts := map[string]int{}
	for _, m := range r.sim.Messages("") {
		if m.Direction != "outbound-api" || !saysCorrection(m.Body) {
			continue
		}
		u, err := url.Parse(m.StatusCallback)
		require.NoError(t, err)
		attempts[u.Query().Get("attempt")]++
	}
	retried := 0
	for _, rc := range r.recipientsOf(t, res.Correction.ID) {
		retried += rc.Attempt.N - 1
	}
	orig, corr := originalAndCorrection(r.sim)
	for to := range corr {
		assert.Positive(t, orig[to], "%s: a correction only to those the call-up reached", to)
	}
	ds := r.dispatcherStats()
	t.Logf("correction messages %d to %d people; attempts claimed again %d (re-sends after a lost outcome %d); dispatcher terms %d",
		total(corr), len(corr), retried, ds.Resent, ds.Runs)
	for id, n := range attempts {
		require.NotEmpty(t, id, "every correction carries its attempt in its status callback")
		assert.Equal(t, 1, n, "attempt %s was sent %d times", id, n)
	}
	assert.LessOrEqual(t, total(corr)-people, retried, "a second correction to someone comes only from an attempt claimed again")
}

func total(m map[string]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}

// TestDispatchFailsOverToTheSecondAccount stops the primary account's
// simulator in the middle of a call-up: after FailoverAfter outage errors
// the route moves to its fallback account on the second simulator, nobody
// is marked failed, every recipient is delivered, and the sends that went
// the other way are counted on the activation. Under -race the call-up
// is of 1,000 people, not 2,000: the primary is stopped after its 300th
// message either way, and the rest go through the fallback.
func TestDispatchFailsOverToTheSecondAccount(t *testing.T) {
	people := 2000
	if raceDetector {
		people = 1000
	}
	r := newCallRig(t, rigOptions{nodes: 1, people: people, perSecond: 400, fallback: true,
		disp: notify.DispatcherConfig{FailoverAfter: 5, FailoverFor: time.Hour, Backoff: 50 * time.Millisecond}})
	a := r.activate(t, "exercise")
	deadline := time.Now().Add(60 * time.Second)
	for r.sim.Stats().Accounts[drillAcct.SID].Created < 300 {
		require.True(t, time.Now().Before(deadline), "dispatch did not start")
		time.Sleep(5 * time.Millisecond)
	}
	r.simServer.Close() // the primary provider is gone
	st := r.waitSettled(t, a.ID, 90*time.Second)
	r.waitSimIdle(t, 30*time.Second)
	st = r.status(t, a.ID)
	primary := r.sim.Stats().Accounts[drillAcct.SID].Created
	secondary := r.fbSim.Stats().Accounts[drillFallbackAcct.SID].Created
	ds := r.dispatcherStats()
	t.Logf("primary accepted %d, fallback %d; counted on the fallback %d; failovers %d; on fallback now %v",
		primary, secondary, st.Counters.Dispatch["fallback"], ds.Failovers, ds.OnFallback)
	assert.Equal(t, map[notify.State]int{notify.StateDelivered: people}, st.Counters.ByState, "nobody failed for the outage")
	assert.Positive(t, secondary)
	assert.EqualValues(t, secondary, st.Counters.Dispatch["fallback"])
	assert.GreaterOrEqual(t, primary+secondary, int64(people))
	assert.EqualValues(t, 1, ds.Failovers)
	assert.Equal(t, []string{"exercise"}, ds.OnFallback)
	assert.Zero(t, r.sim.Stats().Accounts[liveAcct.SID].Created+r.fbSim.Stats().Accounts[liveFallbackAcct.SID].Created, "drills never touch a live account")
	for _, m := range r.fbSim.Messages("") {
		if m.Direction == "outbound-api" {
			require.True(t, strings.HasPrefix(m.Body, plans.ExerciseMark), "%q", m.Body)
		}
	}
}

// Only a call-up that started can be retracted: a LIVE request withdrawn
// (stood down) before its approval sent nothing, so its retraction is a
// conflict, on a fresh cluster (no call-up ever started) as on one that
// has call-ups, and the cluster goes on. One whose approval window passed
// is still pending in the state and refused as such.
func TestRetractionOfARequestThatNeverStartedIsAConflict(t *testing.T) {
	e, clock, req := approvalEnv(t)
	ctx := testCtx(t)
	retract := func(id plans.ActivationID) error {
		_, err := e.svc.Retract(ctx, "commander", id, notify.RetractRequest{Message: "请忽略上条通知"})
		return err
	}

	withdrawn, err := e.svc.Activate(ctx, "commander", req)
	require.NoError(t, err)
	_, err = e.svc.StandDown(ctx, "commander", withdrawn.ID, "改为三级响应")
	require.NoError(t, err)
	err = retract(withdrawn.ID)
	require.True(t, muster.IsCode(err, muster.EConflict), "got %v", err)
	assert.Contains(t, err.Error(), "never started")

	expired, err := e.svc.Activate(ctx, "commander", req)
	require.NoError(t, err)
	clock.Add(10 * time.Minute)
	p, err := e.svc.ApprovalPreview(ctx, expired.ID)
	require.NoError(t, err)
	_, err = e.svc.Decide(ctx, "approver", expired.ID, notify.DecisionRequest{Approve: true, Recipients: p.Total})
	require.True(t, muster.IsCode(err, muster.EConflict), "got %v", err)

	// A call-up that did start: the cluster has activation data now.
	started, err := e.svc.Activate(ctx, "trainer", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "IV", Purpose: "EXERCISE", Reason: "演练"})
	require.NoError(t, err)
	for _, id := range []plans.ActivationID{withdrawn.ID, expired.ID} {
		err = retract(id)
		require.True(t, muster.IsCode(err, muster.EConflict), "%s: got %v", id, err)
		assert.Contains(t, err.Error(), "nothing was sent", "%s", id)
		a, err := e.svc.Activation(ctx, muster.Default, id)
		require.NoError(t, err)
		assert.Nil(t, a.Retraction, "%s: no correction opened", id)
	}
	res, err := e.svc.Retract(ctx, "trainer", started.ID, notify.RetractRequest{Message: "演练取消"})
	require.NoError(t, err, "the cluster goes on")
	assert.Equal(t, started.ID, res.Correction.Retracts)
}

// Under rules 3 (a member not upgraded yet) such a retraction opens an
// empty correction, as it did, and no longer stops the node on a fresh
// cluster, which has no activation data yet.
func TestRules3RetractionOfAWithdrawnRequestOpensAnEmptyCorrection(t *testing.T) {
	e := newEnvWith(t, 1, 300, clustertest.Options{Setup: setup, Config: func(_ int, c *cluster.Config) { c.Rules = 3 }}, testCtx(t))
	ctx := testCtx(t)
	a, err := e.svc.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "II", Purpose: "LIVE", Reason: "暴雨橙色预警"})
	require.NoError(t, err)
	_, err = e.svc.StandDown(ctx, "commander", a.ID, "改为三级响应")
	require.NoError(t, err)
	res, err := e.svc.Retract(ctx, "commander", a.ID, notify.RetractRequest{Message: "请忽略上条通知"})
	require.NoError(t, err)
	assert.Zero(t, res.Correction.Recipients)
	assert.Equal(t, 3, e.c.Leader().Node.Status().Rules)
}

// A retraction after the escalation reported silence to the grid leaders:
// they were told of a call-up that is withdrawn, so the correction goes to
// every number a 叫应 report went to, as well as to the recipients reached,
// once each. Under rules 3 it went to the recipients only.
func TestCorrectionReachesTheSuperiorsTheEscalationReported(t *testing.T) {
	for _, rules := range []int{0, 3} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
			// Enough people that every grid has its leader (the roster lists
			// them first).
			r := newCallRig(t, rigOptions{nodes: 1, people: 1600, clock: clock, config: func(_ int, c *cluster.Config) { c.Rules = rules }})
			// The grid leaders are not called up: only the volunteers.
			plan := strings.Replace(string(escalatePlan()), "          - name: 网格长\n            name_en: Grid Leader\n            select: {tags: [网格长]}\n", "", 1)
			require.NotEqual(t, string(escalatePlan()), plan)
			a := escalateDrillOf(t, r, []byte(plan))
			clock.Add(10 * time.Minute)
			r.waitFired(t, a.ID, 1)
			r.waitSimIdle(t, 30*time.Second)
			reported := map[string]bool{}
			for _, m := range r.sim.Messages("") {
				if m.Direction == "outbound-api" && strings.Contains(m.Body, "叫应：") {
					reported[m.To] = true
				}
			}
			require.NotEmpty(t, reported)
			recipients := map[string]bool{}
			for _, rc := range r.recipientsOf(t, a.ID) {
				recipients[rc.Phone] = true
			}
			outside := 0
			for to := range reported {
				if !recipients[to] {
					outside++
				}
			}
			require.Positive(t, outside, "some grid leaders are not called up themselves: %d reported, %d recipients", len(reported), len(recipients))

			n := r.c.WaitLeader(15 * time.Second).Node
			p, err := notify.NewService(n, n, senders).RetractPreview(testCtx(t), a.ID, notify.RetractRequest{Message: correctionText})
			require.NoError(t, err)
			res, err := notify.NewService(n, n, senders).Retract(testCtx(t), "trainer", a.ID, notify.RetractRequest{Message: correctionText})
			require.NoError(t, err)
			if rules == 0 {
				assert.Equal(t, res.Correction.Recipients, p.Recipients, "the preview counts the superiors reported to")
			}
			r.waitSettled(t, res.Correction.ID, 30*time.Second)
			r.waitSimIdle(t, 30*time.Second)
			_, corr := originalAndCorrection(r.sim)
			missed := 0
			for to := range reported {
				if corr[to] == 0 {
					missed++
				}
			}
			for to, c := range corr {
				assert.Equal(t, 1, c, "%s: one correction", to)
			}
			t.Logf("rules %d: superiors reported %d (%d not called up), correction recipients %d, reported and not corrected %d", rules, len(reported), outside, res.Correction.Recipients, missed)
			if rules == 3 {
				assert.Equal(t, outside, missed, "rules 3 corrects the recipients only")
				return
			}
			assert.Zero(t, missed, "every superior told of the call-up is told of its retraction")
		})
	}
}

// A retraction while some original sends are on the wire: those recipients
// are expired (the outcome is unknown) and in the correction. Their
// correction waits for the original's result: if the send went out the
// correction follows it, if it failed they were not reached and get none.
// Nobody is told to ignore a message that never came.
func TestCorrectionWaitsForTheOriginalSendsInFlight(t *testing.T) {
	const people = 300
	held := &holdingProvider{hold: regexp.MustCompile(`7$`), except: correctionSaid, release: make(chan struct{})}
	invalid := twiliosim.Rule{Match: regexp.MustCompile(`[05]7$`), Outcome: twiliosim.OutcomeReject, Code: 21211}
	r := newCallRig(t, rigOptions{nodes: 1, people: people, sim: twiliosim.Config{Rules: []twiliosim.Rule{invalid}},
		wrap: func(exercise bool, p notify.Provider) notify.Provider {
			if !exercise {
				return p
			}
			held.Provider = p
			return held
		}})
	a := r.activate(t, "exercise")
	var onWire, fails []notify.Recipient
	require.Eventually(t, func() bool {
		onWire, fails = nil, nil
		delivered := 0
		for _, rc := range r.recipientsOf(t, a.ID) {
			switch {
			case held.hold.MatchString(rc.Phone) && rc.State == notify.StateSending:
				onWire = append(onWire, rc)
				if invalid.Match.MatchString(rc.Phone) {
					fails = append(fails, rc)
				}
			case rc.State == notify.StateDelivered:
				delivered++
			}
		}
		return delivered+len(onWire) == people
	}, 30*time.Second, 20*time.Millisecond, "every send delivered but those held on the wire")
	require.NotEmpty(t, fails)
	require.Greater(t, len(onWire), len(fails))

	n := r.c.WaitLeader(15 * time.Second).Node
	svc := notify.NewService(n, n, senders)
	res, err := svc.Retract(testCtx(t), "commander", a.ID, notify.RetractRequest{Message: correctionText})
	require.NoError(t, err)
	require.Equal(t, people, res.Correction.Recipients, "the sends on the wire may have reached them")

	// Everyone else is corrected; those whose original is on the wire wait.
	require.Eventually(t, func() bool {
		_, corr := originalAndCorrection(r.sim)
		return len(corr) >= people-len(onWire)
	}, 30*time.Second, 20*time.Millisecond)
	_, corr := originalAndCorrection(r.sim)
	for _, rc := range onWire {
		assert.Zero(t, corr[rc.Phone], "%s: corrected before its original went out", rc.Phone)
	}
	inCorrection := map[plans.PersonID]notify.State{}
	for _, rc := range r.recipientsOf(t, res.Correction.ID) {
		inCorrection[rc.Person] = rc.State
	}
	for _, rc := range onWire {
		assert.Equal(t, notify.StatePending, inCorrection[rc.Person], "%s: claimed before its original's result", rc.Person)
	}

	close(held.release)
	st := r.waitSettled(t, res.Correction.ID, 30*time.Second)
	r.waitSimIdle(t, 30*time.Second)
	orig, corr := originalAndCorrection(r.sim)
	assert.Len(t, orig, people-len(fails), "the held sends went out, but to the invalid numbers")
	for to := range orig {
		assert.Equal(t, 1, corr[to], "%s got the original and one correction", to)
	}
	for _, rc := range fails {
		assert.Zero(t, corr[rc.Phone], "%s: the original failed, so no correction", rc.Phone)
	}
	assert.Len(t, corr, people-len(fails))
	assert.Equal(t, people-len(fails), st.Recipients, "the failed sends were taken off the correction")
	assert.Equal(t, people-len(fails), st.Counters.ByState[notify.StateDelivered])
	// Each correction came after its original.
	seen := map[string]bool{}
	for _, m := range r.sim.Messages("") {
		if m.Direction != "outbound-api" {
			continue
		}
		if saysCorrection(m.Body) {
			assert.True(t, seen[m.To], "%s: the correction came before the original", m.To)
		} else {
			seen[m.To] = true
		}
	}
	t.Logf("%d on the wire at the retraction (%d of them then failed); correction: %d recipients, %d delivered",
		len(onWire), len(fails), st.Recipients, st.Counters.ByState[notify.StateDelivered])
}

// Someone the call-up reached only by a voice call (their SMS failed: a
// landline) heard it, so a retraction must tell them too: the correction
// calls everyone a voice escalation call may have reached, reading the
// retraction's text twice with no keys to press. Those whose call was not
// answered, and whose SMS failed, are told nothing: nothing reached them.
func TestCorrectionCallsThoseTheVoiceEscalationReached(t *testing.T) {
	// Under rules 5 those heard only by voice were sent the correction SMS
	// as well; it failed as their call-up's had.
	for _, rules := range []int{0, 5} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) { correctionCalls(t, rules) })
	}
}

func correctionCalls(t *testing.T, rules int) {
	r, svc, a, v := voiceCalledDrill(t, rules)
	silent, smsReached, heardOnly, notReached := v.silent, v.smsReached, v.heardOnly, v.notReached
	callsBefore := len(r.sim.Calls(""))

	p, err := svc.RetractPreview(testCtx(t), a.ID, notify.RetractRequest{Message: correctionText})
	require.NoError(t, err)
	res, err := svc.Retract(testCtx(t), "trainer", a.ID, notify.RetractRequest{Message: correctionText})
	require.NoError(t, err)
	assert.Equal(t, len(smsReached)+len(heardOnly), res.Correction.Recipients, "SMS-reached and heard by voice")
	if rules == 0 {
		assert.Equal(t, res.Correction.Recipients, p.Recipients, "the preview counts those heard only by voice")
	}
	assert.Equal(t, silent+len(heardOnly), res.Retracted.Retraction.Calls, "everyone whose call was answered is called again")

	st := r.waitSettled(t, res.Correction.ID, 30*time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for {
		steps := r.escalation(t, res.Correction.ID)
		require.Len(t, steps, 1)
		if steps[0].Items[notify.EscQueued]+steps[0].Items[notify.EscSending] == 0 {
			assert.Equal(t, map[string]int{notify.EscSent: silent + len(heardOnly)}, steps[0].Items)
			break
		}
		require.True(t, time.Now().Before(deadline), "the correction's calls were not placed: %v", steps[0].Items)
		time.Sleep(20 * time.Millisecond)
	}
	r.waitSimIdle(t, 60*time.Second)

	language := map[string]plans.Language{}
	for _, rc := range r.recipientsOf(t, a.ID) {
		language[rc.Phone] = rc.Language
	}
	called, english := map[string]int{}, 0
	for _, c := range r.sim.Calls("")[callsBefore:] {
		called[c.To]++
		if language[c.To] == plans.LangEN {
			english++
		}
		if language[c.To] == plans.LangEN && rules == 0 {
			// From rules 13 an English speaker's correction is in
			// English: the standard English text, read twice, after
			// saying in English that it is a drill.
			all := ""
			for _, s := range c.Said {
				all += s.Text + "\n"
			}
			require.NotEmpty(t, c.Said, c.To)
			assert.Equal(t, "This is a drill, not a real emergency.", c.Said[0].Text, "%s: a drill's correction says it is a drill", c.To)
			assert.Equal(t, 2, strings.Count(all, notify.CorrectionTextEN), "%s: the correction read twice: %q", c.To, all)
			assert.NotContains(t, all, correctionText, c.To)
			assert.Empty(t, c.Keys, "%s: a correction takes no keys", c.To)
			continue
		}
		var said []string
		for _, s := range c.Said {
			said = append(said, s.Text)
			assert.Equal(t, "cmn-CN", s.Language, "%s (%s): the retraction's Chinese words, in a Chinese voice", c.To, language[c.To])
		}
		require.Len(t, said, 6, "%s: the correction read twice, each reading between the drill's sentences, and nothing else: %q", c.To, said)
		for i := 0; i < len(said); i += 3 {
			assert.Equal(t, "这是一次演练，不是真实事件。", said[i], "%s: a drill's correction says it is a drill", c.To)
			assert.True(t, strings.HasPrefix(said[i+1], plans.ExerciseMark) && strings.Contains(said[i+1], correctionText), "%s heard %q", c.To, said[i+1])
			assert.Equal(t, "以上为演练内容。", said[i+2], "%s: and again after it", c.To)
		}
		assert.Empty(t, c.Keys, "%s: a correction takes no keys", c.To)
	}
	for _, rc := range heardOnly {
		assert.Equal(t, 1, called[rc.Phone], "%s heard the call-up only by voice", rc.Phone)
	}
	for _, rc := range notReached {
		assert.Zero(t, called[rc.Phone], "%s: nothing reached them", rc.Phone)
	}
	assert.Len(t, called, silent+len(heardOnly))
	require.Positive(t, english, "English speakers are among those called")
	_, corr := originalAndCorrection(r.sim)
	for _, rc := range notReached {
		assert.Zero(t, corr[rc.Phone], "%s: nothing reached them", rc.Phone)
	}
	smsToHeardOnly := 0
	if rules == 5 {
		smsToHeardOnly = 1
	}
	for _, rc := range heardOnly {
		assert.Equal(t, smsToHeardOnly, corr[rc.Phone], "%s: the correction SMS to a number SMS could not reach", rc.Phone)
	}
	for _, rc := range smsReached {
		assert.Equal(t, 1, corr[rc.Phone], "%s: the SMS reached them, so does the correction's", rc.Phone)
	}
	if rules == 0 {
		assert.EqualValues(t, len(heardOnly), st.Counters.ByState[notify.StateFailed], "those only called show no SMS")
		failed := map[plans.PersonID]bool{}
		for _, rc := range r.recipientsOf(t, res.Correction.ID) {
			if rc.State == notify.StateFailed {
				failed[rc.Person] = true
				assert.Contains(t, rc.Attempt.Error, "the correction is made by voice call", rc.Person)
				assert.Zero(t, rc.Attempt.N, "%s: no SMS was claimed", rc.Person)
			}
		}
		for _, rc := range heardOnly {
			assert.True(t, failed[rc.Person], "%s", rc.Person)
		}
	}
	t.Logf("SMS-reached %d (of them called %d), heard only by voice %d, not reached %d; correction: %d recipients, %d calls, SMS by state %v",
		len(smsReached), silent, len(heardOnly), len(notReached), st.Recipients, len(called), st.Counters.ByState)
}

// Under rules 4 a correction is SMS only: those reached only by a voice
// call are not in it, and nobody is called.
func TestRules4CorrectionCallsNobody(t *testing.T) {
	r, svc, a, v := voiceCalledDrill(t, 4)
	callsBefore := len(r.sim.Calls(""))
	res, err := svc.Retract(testCtx(t), "trainer", a.ID, notify.RetractRequest{Message: correctionText})
	require.NoError(t, err)
	assert.Equal(t, len(v.smsReached), res.Correction.Recipients)
	assert.Zero(t, res.Retracted.Retraction.Calls)
	r.waitSettled(t, res.Correction.ID, 30*time.Second)
	r.waitSimIdle(t, 30*time.Second)
	assert.Len(t, r.sim.Calls(""), callsBefore)
	assert.Empty(t, r.escalation(t, res.Correction.ID))
}

// voiceCalled sorts the recipients of a voice drill after its voice step.
type voiceCalled struct {
	silent int // SMS delivered, no answer before the call (all press 1 on it)
	// smsReached are those the SMS reached; heardOnly those whose SMS
	// failed and who answered the call without a key; notReached those
	// whose SMS failed and whose call was not answered.
	smsReached, heardOnly, notReached []notify.Recipient
}

// voiceCalledDrill runs a voice drill of 300 on one node under the given
// rules (0: this muster's) up to its voice step's calls: numbers ending in
// 0 or 5 are landlines (SMS undelivered); on those, 0 answers and presses
// nothing, 5 does not answer; everyone else answers and presses 1.
func voiceCalledDrill(t *testing.T, rules int) (*callRig, *notify.Service, notify.Activation, voiceCalled) {
	t.Helper()
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	heard, unanswered, machine := regexp.MustCompile(`0$`), regexp.MustCompile(`5$`), regexp.MustCompile(`3$`)
	r := newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock, config: func(_ int, c *cluster.Config) { c.Rules = rules },
		sim: twiliosim.Config{
			TimeScale: 0.002, Rules: []twiliosim.Rule{landline},
			Voice: twiliosim.VoiceProfile{AnswerRate: 1, Digits: twiliosim.DigitMix{Accept: 1}},
			CallScripts: []twiliosim.CallScript{
				{Match: heard, Outcome: twiliosim.CallHuman, Keys: []string{""}},
				{Match: unanswered, Outcome: twiliosim.CallNoAnswer},
				// An answering machine takes the call-up's call and the
				// correction's: the correction is read to it as to a
				// person, twice, without asking for an answer.
				{Match: machine, Outcome: twiliosim.CallMachine},
			},
		}})
	svc, a, silent := voiceDrill(t, r, "EXERCISE")
	require.Positive(t, silent)
	clock.Add(5 * time.Minute)
	r.waitFired(t, a.ID, 0)
	r.waitSimIdle(t, 60*time.Second)
	// The plan has no English voice text: English speakers hear the
	// Chinese in a Chinese voice, as everyone does.
	for _, c := range r.sim.Calls("") {
		for _, s := range c.Said {
			assert.Equal(t, "cmn-CN", s.Language, "%s: %s", c.To, s.Text)
		}
	}
	v := voiceCalled{silent: silent}
	for _, rc := range r.recipientsOf(t, a.ID) {
		switch {
		case rc.State != notify.StateFailed:
			v.smsReached = append(v.smsReached, rc)
		case heard.MatchString(rc.Phone):
			v.heardOnly = append(v.heardOnly, rc)
		default:
			require.Regexp(t, unanswered, rc.Phone)
			v.notReached = append(v.notReached, rc)
		}
	}
	require.NotEmpty(t, v.heardOnly)
	require.NotEmpty(t, v.notReached)
	return r, svc, a, v
}

// A retraction while the voice step's calls are being placed (at the
// exercise account's pace): the calls in flight may have reached their
// people, so the correction queues a call for each; those the step then
// never placed (dropped: the original had stopped) are taken off it. The
// correction calls exactly the people an original call went to. Those on
// landlines (their SMS failed) were in the correction only for its call:
// when their call is dropped they leave it; under rules 6 they stayed,
// failed, and counted among its recipients.
func TestCorrectionCallsOnlyThoseAnInFlightCallReached(t *testing.T) {
	for _, rules := range []int{0, 6} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) { correctionCallsInFlight(t, rules) })
	}
}

func correctionCallsInFlight(t *testing.T, rules int) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	// Four escalation workers: those waiting for the rate when the
	// original stops are let go at its pace (with the default 32, some
	// thirty waited, 6 s at five a second).
	r := newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock, drillCallRate: 5, config: func(_ int, c *cluster.Config) { c.Rules = rules },
		sim: twiliosim.Config{
			TimeScale: 0.002, Rules: []twiliosim.Rule{landline}, Voice: twiliosim.VoiceProfile{AnswerRate: 1, Digits: twiliosim.DigitMix{None: 1}},
		},
		escalator: func(c *notify.EscalatorConfig) { c.Workers = 4 }})
	svc, a, silent := voiceDrill(t, r, "EXERCISE")
	require.Greater(t, silent, 20)
	landlines := r.status(t, a.ID).Counters.ByState[notify.StateFailed]
	require.Positive(t, landlines)
	clock.Add(5 * time.Minute)
	deadline := time.Now().Add(30 * time.Second)
	for len(r.sim.Calls("")) < 5 {
		require.True(t, time.Now().Before(deadline), "the step's calls did not start")
		time.Sleep(5 * time.Millisecond)
	}
	res, err := svc.Retract(testCtx(t), "trainer", a.ID, notify.RetractRequest{Message: correctionText})
	require.NoError(t, err)
	queued := res.Retracted.Retraction.Calls
	original := map[string]bool{}
	for _, c := range r.sim.Calls("") {
		original[c.To] = true
	}
	require.Less(t, len(original), silent, "retracted while calls were still to be placed")

	// The step's batch ends (the rest dropped), then the correction calls.
	r.waitSettled(t, res.Correction.ID, 30*time.Second)
	deadline = time.Now().Add(30 * time.Second)
	var steps []notify.EscalationStepStatus
	for {
		steps = r.escalation(t, res.Correction.ID)
		require.Len(t, steps, 1)
		if steps[0].Items[notify.EscQueued]+steps[0].Items[notify.EscSending] == 0 && r.escalation(t, a.ID)[0].Items[notify.EscSending] == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the calls did not settle: %v", steps[0].Items)
		time.Sleep(20 * time.Millisecond)
	}
	r.waitSimIdle(t, 30*time.Second)
	placed, corrected := map[string]bool{}, map[string]int{}
	for _, c := range r.sim.Calls("") {
		said := ""
		for _, s := range c.Said {
			said += s.Text
		}
		if saysCorrection(said) {
			corrected[c.To]++
		} else {
			placed[c.To] = true
		}
	}
	t.Logf("silent %d, landlines %d; calls placed by the retraction %d, in all %d; correction calls queued %d, placed %d",
		silent, landlines, len(original), len(placed), queued, len(corrected))
	assert.Equal(t, silent+landlines, queued, "every call of the step was in flight: a correction call each")
	assert.Equal(t, len(placed), len(corrected), "a correction call per original call placed")
	for to := range placed {
		assert.Equal(t, 1, corrected[to], "%s heard the call-up", to)
	}
	assert.Equal(t, map[string]int{notify.EscSent: len(placed)}, steps[0].Items)
	st := r.status(t, a.ID)
	require.NotNil(t, st.Retraction)
	assert.Equal(t, len(placed), st.Retraction.Calls, "the dropped calls came off the count")

	// The correction goes to those the SMS reached and those a call was
	// placed to; a landline whose call was dropped heard nothing.
	reached, dropped := map[plans.PersonID]bool{}, map[plans.PersonID]bool{}
	for _, rc := range r.recipientsOf(t, a.ID) {
		switch {
		case rc.State != notify.StateFailed || placed[rc.Phone]:
			reached[rc.Person] = true
		default:
			dropped[rc.Person] = true
		}
	}
	require.NotEmpty(t, dropped, "some landline's call was dropped")
	inCorrection := map[plans.PersonID]notify.State{}
	for _, rc := range r.recipientsOf(t, res.Correction.ID) {
		inCorrection[rc.Person] = rc.State
	}
	cs := r.status(t, res.Correction.ID)
	for p := range reached {
		assert.Contains(t, inCorrection, p)
	}
	if rules == 6 {
		for p := range dropped {
			assert.Equal(t, notify.StateFailed, inCorrection[p], "under rules 6 %s stayed", p)
		}
		assert.Equal(t, len(reached)+len(dropped), cs.Recipients)
		return
	}
	for p := range dropped {
		assert.NotContains(t, inCorrection, p, "nothing reached them")
	}
	assert.Len(t, inCorrection, len(reached))
	assert.Equal(t, len(reached), cs.Recipients)
	assert.Equal(t, len(reached), st.Retraction.Recipients)
	assert.Equal(t, len(reached), cs.Counters.ByState[notify.StateDelivered]+cs.Counters.ByState[notify.StateFailed], "the counters follow")
}

// A gather the provider posts again (our answer did not reach it) is the
// same key on the same call: under rules 6 it changes nothing; under rules
// 5 the second "1" was kept as a note and counted as a reply.
func TestAKeyPressedIsAppliedOncePerCall(t *testing.T) {
	for _, tc := range []struct {
		rules    int
		newNotes int
	}{{0, 0}, {5, 1}} {
		t.Run(fmt.Sprintf("rules %d", tc.rules), func(t *testing.T) {
			r, svc, a, _ := voiceCalledDrill(t, tc.rules)
			var pressed twiliosim.Call
			for _, c := range r.sim.Calls("") {
				if slices.Contains(c.Keys, "1") {
					pressed = c
					break
				}
			}
			require.NotEmpty(t, pressed.SID, "someone pressed 1")
			notes, err := svc.Notes(testCtx(t), muster.Default, a.ID)
			require.NoError(t, err)
			path := strings.TrimPrefix(pressed.URL, r.front.URL) + "/gather"
			form := url.Values{"AccountSid": {drillAcct.SID}, "CallSid": {pressed.SID}, "Digits": {"1"},
				"From": {pressed.From}, "To": {pressed.To}, "CallStatus": {"in-progress"}}
			code, body := r.postHook(t, r.c.Nodes[0].HTTPAddr, path, form, drillAcct.AuthToken)
			require.Equal(t, http.StatusOK, code, body)
			assert.Contains(t, body, "<Response>", "the caller still hears the reply")

			after, err := svc.Notes(testCtx(t), muster.Default, a.ID)
			require.NoError(t, err)
			assert.Len(t, after, len(notes)+tc.newNotes)
			// Another key on the same call is not a replay: it is kept.
			form.Set("Digits", "2")
			code, body = r.postHook(t, r.c.Nodes[0].HTTPAddr, path, form, drillAcct.AuthToken)
			require.Equal(t, http.StatusOK, code, body)
			after, err = svc.Notes(testCtx(t), muster.Default, a.ID)
			require.NoError(t, err)
			assert.Len(t, after, len(notes)+tc.newNotes+1, "a 2 after the 1 is a note")
		})
	}
}

// A key posted for a drill's call under the LIVE account is rejected, and
// the rejection is not remembered: the genuine post of the same key on the
// same call that follows is applied. Under rules 7 it was taken for a
// duplicate of a recorded answer: the caller heard their answer was taken,
// and nothing was recorded.
func TestARejectedKeyDoesNotHideTheGenuineOne(t *testing.T) {
	for _, rules := range []int{0, 7} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			r, _, a, v := voiceCalledDrill(t, rules)
			who := v.heardOnly[0]
			var call twiliosim.Call
			for _, c := range r.sim.Calls("") {
				if c.To == who.Phone {
					call = c
				}
			}
			require.NotEmpty(t, call.SID, "%s was called", who.Person)
			path := strings.TrimPrefix(call.URL, r.front.URL) + "/gather"
			form := url.Values{"CallSid": {call.SID}, "Digits": {"2"}, "From": {call.From}, "To": {call.To}, "CallStatus": {"in-progress"}}
			form.Set("AccountSid", liveAcct.SID)
			code, body := r.postHook(t, r.c.Nodes[0].HTTPAddr, path, form, liveAcct.AuthToken)
			require.Equal(t, http.StatusOK, code, body)
			form.Set("AccountSid", drillAcct.SID)
			code, body = r.postHook(t, r.c.Nodes[0].HTTPAddr, path, form, drillAcct.AuthToken)
			require.Equal(t, http.StatusOK, code, body)
			var state notify.State
			for _, rc := range r.recipientsOf(t, a.ID) {
				if rc.Person == who.Person {
					state = rc.State
				}
			}
			if rules == 0 {
				assert.Equal(t, notify.StateDeclined, state, "the genuine key is recorded")
			} else {
				assert.NotEqual(t, notify.StateDeclined, state, "rules 7: taken for a duplicate")
			}
		})
	}
}

// Whatever a drill's call says besides its script is marked as a drill's
// too: the thanks for a key, as the script and its SMS are.
func TestADrillCallMarksWhatItSays(t *testing.T) {
	r, _, _, _ := voiceCalledDrill(t, 0)
	thanked := 0
	for _, c := range r.sim.Calls("") {
		if !slices.Contains(c.Keys, "1") {
			continue
		}
		for _, s := range c.Said {
			if strings.Contains(s.Text, "已确认到岗") || strings.Contains(s.Text, "confirmed as coming") {
				thanked++
				assert.True(t, strings.HasPrefix(s.Text, plans.ExerciseMark), "%s: %q", c.To, s.Text)
			}
		}
	}
	assert.Positive(t, thanked, "someone pressed 1 and was thanked")
}

// A retraction while the voice step's calls still ring or talk: the
// correction's call to each of those people is placed only once the
// original call is over, never while it may still ring (they could take
// the old call and hear the call-up). The escalator cancels the calls
// still ringing and hangs up those in progress rather than wait for them.
func TestCorrectionCallsWaitForTheOriginalCallsToEnd(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	ringing, talking := regexp.MustCompile(`1$`), regexp.MustCompile(`2$`)
	again := slices.Repeat([]string{"9"}, 6) // has the call-up read again, and again
	r := newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock, sim: twiliosim.Config{
		TimeScale: 0.05, CPS: -1, // a call rings 60 s unanswered: 3 s here
		Voice: twiliosim.VoiceProfile{AnswerRate: 1, Digits: twiliosim.DigitMix{Accept: 1}},
		CallScripts: []twiliosim.CallScript{
			{Match: ringing, Outcome: twiliosim.CallNoAnswer},
			{Match: talking, Outcome: twiliosim.CallHuman, Keys: again},
		},
	}})
	svc, a, silent := voiceDrill(t, r, "EXERCISE")
	require.Positive(t, silent)
	clock.Add(5 * time.Minute)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var rings, talks bool
		for _, c := range r.sim.Calls("") {
			rings = rings || (ringing.MatchString(c.To) && c.Status == twiliosim.StatusRinging)
			talks = talks || (talking.MatchString(c.To) && c.Status == twiliosim.StatusInProgress)
		}
		if rings && talks {
			break
		}
		require.True(t, time.Now().Before(deadline), "the step's calls did not ring and talk")
		time.Sleep(5 * time.Millisecond)
	}
	res, err := svc.Retract(testCtx(t), "trainer", a.ID, notify.RetractRequest{Message: correctionText})
	require.NoError(t, err)
	require.Positive(t, res.Retracted.Retraction.Calls)
	live := map[string]string{} // number → status of the original call at the retraction
	for _, c := range r.sim.Calls("") {
		if !strings.HasPrefix(c.Status, "c") && c.Status != twiliosim.StatusNoAnswer { // not completed or canceled
			live[c.To] = c.Status
		}
	}

	r.waitCorrectionCalls(t, res.Correction.ID)
	sim := r.waitSimIdle(t, 60*time.Second)

	corrMark := "/" + string(res.Correction.ID) + "."
	original, correction := map[string][]twiliosim.Call{}, map[string][]twiliosim.Call{}
	for _, c := range r.sim.Calls("") {
		if strings.Contains(c.URL, corrMark) {
			correction[c.To] = append(correction[c.To], c)
		} else {
			original[c.To] = append(original[c.To], c)
		}
	}
	overlaps, hungUp := 0, 0
	for to, cc := range correction {
		require.Len(t, cc, 1, "%s: one correction call", to)
		for _, o := range original[to] {
			if o.Ended.IsZero() || o.Ended.After(cc[0].Created) {
				overlaps++
				t.Logf("%s: the correction call was placed at %s while the call-up's call (%s at the retraction) went on until %s",
					to, cc[0].Created.Format("15:04:05.000"), live[to], o.Ended.Format("15:04:05.000"))
			}
		}
	}
	for to, status := range live {
		for _, o := range original[to] {
			if talking.MatchString(to) && status == twiliosim.StatusInProgress && o.Status == twiliosim.StatusCompleted && len(o.Keys) < len(again) {
				hungUp++ // hung up before its person had pressed all their keys
			}
		}
	}
	calls := sim.Accounts[drillAcct.SID].Calls
	t.Logf("silent %d; original calls live at the retraction %d; correction calls %d, placed over a live original call %d; original calls canceled %d, hung up while talking %d",
		silent, len(live), len(correction), overlaps, calls.Canceled, hungUp)
	require.NotEmpty(t, live)
	assert.Len(t, correction, res.Retracted.Retraction.Calls, "every correction call was placed")
	assert.Zero(t, overlaps, "no correction call rang while the call-up's call to the same person went on")
	assert.Positive(t, calls.Canceled, "the calls still ringing were canceled")
	assert.Positive(t, hungUp, "the calls in progress were hung up")
}

// heldCorrections is a provider that holds every SMS carrying the
// correction's text until release is closed; calls go through.
type heldCorrections struct {
	notify.Provider
	release <-chan struct{}
}

func (h heldCorrections) SendSMS(ctx context.Context, m notify.SMS) (notify.Sent, error) {
	if saysCorrection(m.Body) {
		select {
		case <-h.release:
		case <-ctx.Done():
			return notify.Sent{}, &notify.SendError{Temporary: true, Message: ctx.Err().Error()}
		}
	}
	return h.Provider.SendSMS(ctx, m)
}

func (h heldCorrections) PlaceCall(ctx context.Context, c notify.Call) (notify.Placed, error) {
	return h.Provider.(notify.Caller).PlaceCall(ctx, c)
}

func (h heldCorrections) EndCall(ctx context.Context, sid string, last notify.CallStatus) (notify.CallEnd, error) {
	return h.Provider.(notify.CallEnder).EndCall(ctx, sid, last)
}

// A correction whose SMS have not gone out yet is not stood down: its
// people would never be told the call-up was withdrawn (409, saying how
// many). Once everything went out it ends by itself. Under rules 8 the
// stand-down was accepted at once and the correction never went out to
// those still pending.
func TestACorrectionIsNotStoodDownBeforeItHasGoneOut(t *testing.T) {
	for _, rules := range []int{0, 8} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			r, svc, a, res, open := heldCorrection(t, rules)
			people := res.Correction.Recipients
			_, err := svc.StandDown(testCtx(t), "trainer", res.Correction.ID, "清理")
			if rules == 8 {
				require.NoError(t, err, "rules 8: accepted")
				open()
				assert.Equal(t, "trainer", r.status(t, res.Correction.ID).StoodDownBy)
				return
			}
			require.Error(t, err)
			assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
			assert.Contains(t, err.Error(), fmt.Sprintf("still has %d SMS not yet sent: stood down now, the correction would not reach them", people))
			assert.Equal(t, notify.StatusActive, r.status(t, res.Correction.ID).Status)

			open()
			deadline := time.Now().Add(30 * time.Second)
			var st notify.ActivationStatus
			for {
				if st = r.status(t, res.Correction.ID); st.Status == notify.StatusStoodDown {
					break
				}
				require.True(t, time.Now().Before(deadline), "the correction did not end by itself: %v", st.Counters.ByState)
				time.Sleep(20 * time.Millisecond)
			}
			assert.Equal(t, "escalator", st.StoodDownBy)
			assert.Equal(t, notify.CorrectionEndReason, st.StandDownReason)
			assert.Equal(t, people, st.Counters.ByState[notify.StateDelivered], "everyone got it before it ended")
			_, corr := originalAndCorrection(r.sim)
			assert.Len(t, corr, people)
			_, err = svc.StandDown(testCtx(t), "trainer", a.ID, "again")
			require.Error(t, err)
			assert.Contains(t, err.Error(), "was retracted at", "a retracted call-up is said to be retracted")
		})
	}
}

// waitCorrectionCalls waits until correction id has no call queued or
// being placed.
func (r *callRig) waitCorrectionCalls(t *testing.T, id plans.ActivationID) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := r.escalation(t, id)[0].Items
		if st[notify.EscQueued]+st[notify.EscSending] == 0 {
			return
		}
		require.True(t, time.Now().Before(deadline), "the correction's calls did not go: %v", st)
		time.Sleep(20 * time.Millisecond)
	}
}

// heldCorrection is a drill of 50, settled and retracted under rules,
// whose correction SMS the provider holds back until open is called.
func heldCorrection(t *testing.T, rules int) (r *callRig, svc *notify.Service, a notify.Activation, res notify.RetractResult, open func()) {
	t.Helper()
	release := make(chan struct{})
	var once sync.Once
	open = func() { once.Do(func() { close(release) }) }
	t.Cleanup(open)
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r = newCallRig(t, rigOptions{nodes: 1, people: 50, clock: clock, config: func(_ int, c *cluster.Config) { c.Rules = rules },
		wrap: func(_ bool, p notify.Provider) notify.Provider { return heldCorrections{Provider: p, release: release} }})
	a = r.activate(t, "exercise")
	r.waitSettled(t, a.ID, 30*time.Second)
	n := r.c.WaitLeader(15 * time.Second).Node
	svc = notify.NewService(n, n, senders)
	res, err := svc.Retract(testCtx(t), "trainer", a.ID, notify.RetractRequest{Message: correctionText})
	require.NoError(t, err)
	require.Positive(t, res.Correction.Recipients)
	return r, svc, a, res, open
}

// A wrong correction can still be stopped, on purpose: forced, the
// stand-down goes through and its recorded reason says who was not told.
func TestAWrongCorrectionIsStoppedOnlyWhenForced(t *testing.T) {
	r, svc, _, res, open := heldCorrection(t, 0)
	people := res.Correction.Recipients
	_, err := svc.StandDown(testCtx(t), "trainer", res.Correction.ID, "更正内容有误")
	require.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	assert.Contains(t, err.Error(), "stand it down with --force")
	a, err := svc.ForceStandDown(testCtx(t), "trainer", res.Correction.ID, "更正内容有误")
	require.NoError(t, err)
	assert.Equal(t, notify.StatusStoodDown, a.Status)
	assert.Equal(t, fmt.Sprintf("更正内容有误 (stood down with %d SMS not yet sent: they were not told)", people), a.StandDownReason)
	open()
	st := r.status(t, res.Correction.ID)
	assert.Equal(t, "trainer", st.StoodDownBy, "it stays stood down by the trainer")
	assert.Equal(t, notify.StatusStoodDown, st.Status)
}

// A retraction while the voice step's calls wait at the provider to be
// dialled (one a second per account): the escalator cancels them before it
// places the correction calls, and a call canceled before it rang (only
// its cancel reported, never dialled) was never placed: its person gets no
// correction call (they keep the correction SMS). A call that rang still
// gets one.
func TestACallCanceledBeforeItRangGetsNoCorrectionCall(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	ringing := regexp.MustCompile(`[13579]$`)
	r := newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock, sim: twiliosim.Config{
		TimeScale: 0.05, CPS: 1, // a call dialled every 50 ms here; one rings 60 s unanswered: 3 s
		Voice:       twiliosim.VoiceProfile{AnswerRate: 1, Digits: twiliosim.DigitMix{Accept: 1}},
		CallScripts: []twiliosim.CallScript{{Match: ringing, Outcome: twiliosim.CallNoAnswer}},
	}})
	svc, a, silent := voiceDrill(t, r, "EXERCISE")
	require.Greater(t, silent, 20)
	clock.Add(5 * time.Minute)
	// Wait for calls ringing that were dialled a second or more before:
	// the state has had their dialling reported. They ring 3 s here, so
	// they still ring at the retraction.
	deadline := time.Now().Add(30 * time.Second)
	rangAt := map[string]bool{}
	for len(rangAt) < 2 {
		clear(rangAt)
		for _, c := range r.sim.Calls("") {
			if c.Status == twiliosim.StatusRinging && time.Since(c.Started) > time.Second {
				rangAt[c.To] = true
			}
		}
		require.True(t, time.Now().Before(deadline), "the step's calls did not ring")
		time.Sleep(5 * time.Millisecond)
	}
	res, err := svc.Retract(testCtx(t), "trainer", a.ID, notify.RetractRequest{Message: correctionText})
	require.NoError(t, err)

	r.waitCorrectionCalls(t, res.Correction.ID)
	r.waitSimIdle(t, 60*time.Second)

	original, correction := r.callsAndCorrectionCalls(res.Correction.ID)
	neverDialled, calledAnyway, rangUncalled := 0, 0, 0
	for to, c := range original {
		switch {
		case c.Status == twiliosim.StatusCanceled && c.Started.IsZero():
			neverDialled++
			if correction[to] > 0 {
				calledAnyway++
			}
		case rangAt[to] && correction[to] == 0:
			rangUncalled++
		}
	}
	t.Logf("silent %d; calls in flight at the retraction %d, never dialled %d (called anyway %d), ringing %d; correction calls %d",
		silent, res.Retracted.Retraction.Calls, neverDialled, calledAnyway, len(rangAt), len(correction))
	require.Positive(t, neverDialled, "some calls were canceled while they waited to be dialled")
	require.NotEmpty(t, rangAt)
	assert.Zero(t, calledAnyway, "a call canceled before it was dialled was never placed: no correction call")
	assert.Zero(t, rangUncalled, "a call that rang gets its correction call")
	st := r.status(t, a.ID)
	assert.Equal(t, len(correction), st.Retraction.Calls, "the calls taken off came off the count")
	inCorrection := map[string]notify.State{}
	for _, rc := range r.recipientsOf(t, res.Correction.ID) {
		inCorrection[rc.Phone] = rc.State
	}
	for to, c := range original {
		if c.Status == twiliosim.StatusCanceled && c.Started.IsZero() {
			assert.Equal(t, notify.StateDelivered, inCorrection[to], "%s keeps the correction SMS", to)
		}
	}
}

// lateAnswers is a provider whose answer to the creation of a call of the
// retracted call-up comes late: the calls wait to be placed until release
// is closed, and Twilio answers each only once it is over, so the
// escalator knows no SID of them while they ring.
type lateAnswers struct {
	notify.Provider
	sim     func() *twiliosim.Server
	release <-chan struct{}
	waiting *atomic.Int64
}

func (l *lateAnswers) PlaceCall(ctx context.Context, c notify.Call) (notify.Placed, error) {
	_, _, step, _, err := notify.ParseEscalationAttemptID(c.AttemptID)
	if err != nil || step == notify.CorrectionCallStep {
		return l.Provider.(notify.Caller).PlaceCall(ctx, c)
	}
	l.waiting.Add(1)
	select {
	case <-l.release:
	case <-ctx.Done():
		return notify.Placed{}, &notify.SendError{Temporary: true, Message: ctx.Err().Error()}
	}
	placed, err := l.Provider.(notify.Caller).PlaceCall(ctx, c)
	if err != nil {
		return placed, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if sc, ok := l.sim().Call(placed.ProviderID); !ok || !sc.Ended.IsZero() {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return placed, nil
}

func (l *lateAnswers) EndCall(ctx context.Context, sid string, last notify.CallStatus) (notify.CallEnd, error) {
	return l.Provider.(notify.CallEnder).EndCall(ctx, sid, last)
}

// A retraction while the voice step's calls are being placed: each
// correction call waits for the original call to the same person, and
// those calls then end busy (numbers ending 3 or 5) or failed (4): the
// phone never rang with the call-up, so, as for a call canceled before it
// was dialled, the person gets no correction call. One whose SMS reached
// them keeps the correction SMS; a landline (5), in the correction only
// for the call, leaves it. A call that rang unanswered (0, 1) or was
// answered still gets its correction call. Under rules 9 every one of
// them got it.
func TestACallThatEndedBusyOrFailedGetsNoCorrectionCall(t *testing.T) {
	for _, rules := range []int{0, 9} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) { busyOrFailedUncalled(t, rules) })
	}
}

func busyOrFailedUncalled(t *testing.T, rules int) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	busy, failed, unanswered := regexp.MustCompile(`[35]$`), regexp.MustCompile(`4$`), regexp.MustCompile(`[01]$`)
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	t.Cleanup(open)
	var waiting atomic.Int64
	var r *callRig
	r = newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock, config: func(_ int, c *cluster.Config) { c.Rules = rules },
		escalator: func(c *notify.EscalatorConfig) { c.Workers, c.Batch = 512, 512 }, // every call of the step placed at once
		wrap: func(_ bool, p notify.Provider) notify.Provider {
			return &lateAnswers{Provider: p, sim: func() *twiliosim.Server { return r.sim }, release: release, waiting: &waiting}
		},
		sim: twiliosim.Config{
			TimeScale: 0.002, Rules: []twiliosim.Rule{landline},
			Voice: twiliosim.VoiceProfile{AnswerRate: 1, Digits: twiliosim.DigitMix{Accept: 1}},
			CallScripts: []twiliosim.CallScript{
				{Match: busy, Outcome: twiliosim.CallBusy},
				{Match: failed, Outcome: twiliosim.CallFailed},
				{Match: unanswered, Outcome: twiliosim.CallNoAnswer},
			},
		}})
	svc, a, silent := voiceDrill(t, r, "EXERCISE")
	require.Greater(t, silent, 20)
	landlines := r.status(t, a.ID).Counters.ByState[notify.StateFailed]
	clock.Add(5 * time.Minute)
	deadline := time.Now().Add(30 * time.Second)
	for waiting.Load() < int64(silent+landlines) {
		require.True(t, time.Now().Before(deadline), "the step's calls were not all being placed: %d of %d", waiting.Load(), silent+landlines)
		time.Sleep(5 * time.Millisecond)
	}
	res, err := svc.Retract(testCtx(t), "trainer", a.ID, notify.RetractRequest{Message: correctionText})
	require.NoError(t, err)
	require.Equal(t, silent+landlines, res.Retracted.Retraction.Calls, "every call in flight may have reached its person")
	open()

	r.waitCorrectionCalls(t, res.Correction.ID)
	r.waitSimIdle(t, 60*time.Second)
	original, correction := r.callsAndCorrectionCalls(res.Correction.ID)
	require.Len(t, original, silent+landlines, "every call of the step was placed after the retraction")
	var unrung, calledAnyway, rang, rangUncalled int
	for to, c := range original {
		switch c.Status {
		case twiliosim.StatusBusy, twiliosim.StatusFailed:
			unrung++
			calledAnyway += correction[to]
		default:
			rang++
			if correction[to] != 1 {
				rangUncalled++
			}
		}
	}
	st := r.status(t, a.ID)
	t.Logf("silent %d, landlines %d; original calls busy or failed %d (called anyway %d), rang %d; correction calls %d, retraction.calls %d",
		silent, landlines, unrung, calledAnyway, rang, len(correction), st.Retraction.Calls)
	require.Positive(t, unrung)
	require.Positive(t, rang)
	assert.Zero(t, rangUncalled, "a call that rang (unanswered, or answered) gets one correction call")
	if rules == 9 {
		assert.Equal(t, unrung, calledAnyway, "rules 9: a call that ended busy or failed kept its correction call")
		return
	}
	assert.Zero(t, calledAnyway, "a call that ended busy or failed never rang with the call-up: no correction call")
	assert.Equal(t, len(correction), st.Retraction.Calls, "the calls taken off came off the count")

	inCorrection := map[string]notify.State{}
	for _, rc := range r.recipientsOf(t, res.Correction.ID) {
		inCorrection[rc.Phone] = rc.State
	}
	var kept, left int
	for to, c := range original {
		if c.Status != twiliosim.StatusBusy && c.Status != twiliosim.StatusFailed {
			continue
		}
		if landline.Match.MatchString(to) {
			left++
			assert.NotContains(t, inCorrection, to, "%s: in the correction only for the call, which never rang", to)
		} else {
			kept++
			assert.Equal(t, notify.StateDelivered, inCorrection[to], "%s keeps the correction SMS", to)
		}
	}
	require.Positive(t, kept)
	require.Positive(t, left)
}

// A correction's call answered after the correction ended still reads
// it, twice: the call-up is still withdrawn, and the call was placed to
// tell them. One answered after a correction stood down with force (it
// was wrong) reads nothing and hangs up; under rules 9 the force shows
// only in the reason, which says so too. Before, both read nothing.
func TestACorrectionCallAnsweredAfterItEndedStillReadsIt(t *testing.T) {
	answer := func(t *testing.T, r *callRig, corr plans.ActivationID) string {
		t.Helper()
		rc := r.recipientsOf(t, corr)[0]
		hooks := notify.VoiceHooksFor(r.front.URL, notify.EscalationAttemptID(corr, rc.Person, notify.CorrectionCallStep, 1))
		form := url.Values{"AccountSid": {drillAcct.SID}, "CallSid": {"CA" + strings.Repeat("7", 32)}, "From": {drillAcct.Number},
			"To": {rc.Phone}, "CallStatus": {"in-progress"}}
		code, body := r.postHook(t, r.c.Nodes[0].HTTPAddr, strings.TrimPrefix(hooks.TwiML, r.front.URL), form, drillAcct.AuthToken)
		require.Equal(t, http.StatusOK, code, body)
		require.Contains(t, body, "<Hangup")
		return body
	}
	t.Run("ended", func(t *testing.T) {
		r, _, _, res, open := heldCorrection(t, 0)
		open()
		deadline := time.Now().Add(30 * time.Second)
		for r.status(t, res.Correction.ID).Status != notify.StatusStoodDown {
			require.True(t, time.Now().Before(deadline), "the correction did not end by itself")
			time.Sleep(20 * time.Millisecond)
		}
		body := answer(t, r, res.Correction.ID)
		assert.Len(t, correctionSaid.FindAllString(body, -1), 2, "the correction read twice: %s", body)
	})
	for _, rules := range []int{0, 9} {
		t.Run(fmt.Sprintf("forced, rules %d", rules), func(t *testing.T) {
			r, svc, _, res, open := heldCorrection(t, rules)
			a, err := svc.ForceStandDown(testCtx(t), "trainer", res.Correction.ID, "更正内容有误")
			require.NoError(t, err)
			assert.Equal(t, rules == 0, a.Forced, "recorded from rules 10")
			open()
			body := answer(t, r, res.Correction.ID)
			assert.False(t, saysCorrection(body), "a wrong correction reads nothing: %s", body)
			assert.NotContains(t, body, "<Say", "a wrong correction reads nothing")
		})
	}
}

// callsAndCorrectionCalls is, by number, the last call of the original the
// simulator saw and how many calls correction (a call-up's correction)
// placed.
func (r *callRig) callsAndCorrectionCalls(correction plans.ActivationID) (original map[string]twiliosim.Call, corrections map[string]int) {
	mark := "/" + string(correction) + "."
	original, corrections = map[string]twiliosim.Call{}, map[string]int{}
	for _, c := range r.sim.Calls("") {
		if strings.Contains(c.URL, mark) {
			corrections[c.To]++
		} else {
			original[c.To] = c
		}
	}
	return original, corrections
}
