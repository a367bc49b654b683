package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
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

// landline makes the simulator's carrier report every message to a number
// ending in 0 or 5 undelivered with 30006 (landline or unreachable): a
// permanent failure of the SMS. Such a number still takes calls.
var landline = twiliosim.Rule{Match: regexp.MustCompile(`[05]$`), Outcome: twiliosim.OutcomeUndelivered, Code: 30006}

// Someone the call-up SMS could not reach is not silent by choice: a voice
// step calls them as well as the silent (a landline takes calls), and their
// keys answer the call-up.
func TestVoiceEscalationCallsThoseTheSMSCouldNotReach(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock, sim: twiliosim.Config{
		TimeScale: 0.002, Rules: []twiliosim.Rule{landline},
		Voice: twiliosim.VoiceProfile{AnswerRate: 1, Digits: twiliosim.DigitMix{Accept: 1}},
	}})
	_, a, silent := voiceDrill(t, r, "EXERCISE")
	failed := r.status(t, a.ID).Counters.ByState[notify.StateFailed]
	require.Positive(t, failed, "some numbers are landlines")
	require.Positive(t, silent)

	clock.Add(5 * time.Minute)
	s0 := r.waitFired(t, a.ID, 0)
	assert.Equal(t, map[string]int{notify.EscSent: silent + failed}, s0.Items, "one call per silent or unreached recipient")
	sim := r.waitSimIdle(t, 60*time.Second)
	assert.EqualValues(t, silent+failed, sim.Accounts[drillAcct.SID].Calls.Created)
	st := r.status(t, a.ID)
	t.Logf("silent %d, SMS failed %d, calls %d, acked %d", silent, failed, sim.Accounts[drillAcct.SID].Calls.Created, st.Counters.ByState[notify.StateAcked])
	assert.Equal(t, silent+failed, st.Counters.ByState[notify.StateAcked], "everyone called pressed 1, landlines too")
	assert.Zero(t, st.Counters.ByState[notify.StateFailed])
}

// The other steps treat someone the SMS could not reach as they should: the
// SMS again skips them (it failed for good), their superior is told, marked
// 短信未送达, and their backup is called up. They stay failed.
func TestEscalationTellsTheSuperiorOfThoseTheSMSCouldNotReach(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock, sim: twiliosim.Config{Rules: []twiliosim.Rule{landline}}})
	a := escalateDrill(t, r)
	st := r.status(t, a.ID)
	silent, failed := st.Counters.ByState[notify.StateDelivered], st.Counters.ByState[notify.StateFailed]
	require.Positive(t, failed, "some numbers are landlines")

	clock.Add(5 * time.Minute)
	s0 := r.waitFired(t, a.ID, 0)
	assert.Equal(t, map[string]int{notify.EscSent: silent}, s0.Items, "the SMS again goes to the silent only")

	clock.Add(5 * time.Minute)
	r.waitFired(t, a.ID, 1)
	r.waitSimIdle(t, 30*time.Second)
	failedNames := map[string]bool{}
	for _, rc := range r.recipientsOf(t, a.ID) {
		if rc.State == notify.StateFailed {
			failedNames[rc.Name] = true
		}
	}
	marked := map[string]bool{}
	mark := regexp.MustCompile(`([^：、 ]+)(?: [0-9+]+)?（短信未送达）`) // the name, then from rules 10 the number
	for _, m := range r.sim.Messages("") {
		if m.Direction == "outbound-api" && strings.Contains(m.Body, "叫应：") {
			for _, x := range mark.FindAllStringSubmatch(m.Body, -1) {
				marked[x[1]] = true
			}
		}
	}
	st = r.status(t, a.ID)
	assert.Equal(t, silent, st.Counters.ByState[notify.StateEscalated], "the silent are escalated")
	assert.Equal(t, failed, st.Counters.ByState[notify.StateFailed], "the unreached stay failed")
	assert.NotEmpty(t, marked, "reports name the unreached as such")
	for name := range marked {
		assert.True(t, failedNames[name], "%s is marked unreached, but their SMS did not fail", name)
	}
	t.Logf("silent %d, SMS failed %d, named unreached in reports %d", silent, failed, len(marked))

	// T+15: the backups of the silent and of the unreached are called up.
	recs := r.recipientsOf(t, a.ID)
	called := map[plans.PersonID]bool{}
	for _, rc := range recs {
		called[rc.Person] = true
	}
	backups, ofUnreached := map[plans.PersonID]bool{}, 0
	for _, rc := range recs {
		if (rc.State == notify.StateEscalated || rc.State == notify.StateFailed) && rc.Backup != "" && !called[rc.Backup] && !backups[rc.Backup] {
			backups[rc.Backup] = true
			if rc.State == notify.StateFailed {
				ofUnreached++
			}
		}
	}
	require.Positive(t, ofUnreached, "some unreached have a backup not called up yet")
	clock.Add(5 * time.Minute)
	r.waitFired(t, a.ID, 2)
	assert.Equal(t, len(recs)+len(backups), r.status(t, a.ID).Recipients, "backups of the unreached join the call-up too")
}

// escalateDrill starts an exercise of escalatePlan over the city and waits
// until its call-up has settled.
func escalateDrill(t *testing.T, r *callRig) notify.Activation {
	t.Helper()
	return escalateDrillOf(t, r, escalatePlan())
}

// escalateDrillOf is escalateDrill with another version of escalatePlan.
func escalateDrillOf(t *testing.T, r *callRig, plan []byte) notify.Activation {
	t.Helper()
	_, err := r.plans.ApplyPlan(testCtx(t), "test", "escalate.yaml", plan)
	require.NoError(t, err)
	n := r.c.WaitLeader(15 * time.Second).Node
	a, err := notify.NewService(n, n, senders).Activate(testCtx(t), "trainer", notify.ActivationRequest{Plan: "escalate", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "EXERCISE", Reason: "叫应演练"})
	require.NoError(t, err)
	r.waitSettled(t, a.ID, 60*time.Second)
	r.waitSimIdle(t, 30*time.Second)
	return a
}

// holdingProvider holds every send (SMS or call) to a number hold matches
// until released, except SMS whose text except matches (when set).
type holdingProvider struct {
	notify.Provider
	hold    *regexp.Regexp
	except  *regexp.Regexp
	release chan struct{}
}

func (p *holdingProvider) wait(ctx context.Context, to string) error {
	if !p.hold.MatchString(to) {
		return nil
	}
	select {
	case <-p.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *holdingProvider) SendSMS(ctx context.Context, m notify.SMS) (notify.Sent, error) {
	if p.except != nil && p.except.MatchString(m.Body) {
		return p.Provider.SendSMS(ctx, m)
	}
	if err := p.wait(ctx, m.To); err != nil {
		return notify.Sent{}, err
	}
	return p.Provider.SendSMS(ctx, m)
}

func (p *holdingProvider) PlaceCall(ctx context.Context, c notify.Call) (notify.Placed, error) {
	if err := p.wait(ctx, c.To); err != nil {
		return notify.Placed{}, err
	}
	return p.Provider.(notify.Caller).PlaceCall(ctx, c)
}

// releaseAll lets the held sends go and waits until the call-up has settled
// and the simulator has taken everything.
func (h *holdingProvider) releaseAll(t *testing.T, r *callRig, id plans.ActivationID) {
	t.Helper()
	close(h.release)
	r.waitSettled(t, id, 30*time.Second)
	r.waitSimIdle(t, 30*time.Second)
}

// heldCallUp starts an exercise of escalatePlan over the city on a rig of
// one node under the given rules (0: this muster's), with the sends to
// numbers ending odd held until held.release is closed. It returns once
// the others are delivered: early, and the held ones: later.
func heldCallUp(t *testing.T, clock *clustertest.Clock, rules int) (r *callRig, held *holdingProvider, a notify.Activation, early, later []notify.Recipient) {
	t.Helper()
	held = &holdingProvider{hold: regexp.MustCompile(`[13579]$`), release: make(chan struct{})}
	r = newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock, config: func(_ int, c *cluster.Config) { c.Rules = rules },
		wrap: func(exercise bool, p notify.Provider) notify.Provider {
			if !exercise {
				return p
			}
			held.Provider = p
			return held
		}})
	_, err := r.plans.ApplyPlan(testCtx(t), "test", "escalate.yaml", escalatePlan())
	require.NoError(t, err)
	n := r.c.WaitLeader(15 * time.Second).Node
	a, err = notify.NewService(n, n, senders).Activate(testCtx(t), "trainer", notify.ActivationRequest{Plan: "escalate", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "EXERCISE", Reason: "叫应演练"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		early, later = nil, nil
		for _, rc := range r.recipientsOf(t, a.ID) {
			switch {
			case held.hold.MatchString(rc.Phone):
				later = append(later, rc)
			case rc.State == notify.StateDelivered:
				early = append(early, rc)
			}
		}
		return len(early)+len(later) == a.Recipients
	}, 30*time.Second, 20*time.Millisecond)
	require.NotEmpty(t, later)
	require.NotEmpty(t, early)
	return r, held, a, early, later
}

// callUpTexts counts the call-up SMS (first or again, not the superior
// reports) the simulator took per number.
func callUpTexts(r *callRig) map[string]int {
	perNumber := map[string]int{}
	for _, m := range r.sim.Messages("") {
		if m.Direction == "outbound-api" && !strings.Contains(m.Body, "叫应：") {
			perNumber[m.To]++
		}
	}
	return perNumber
}

// A call-up that takes a while to send reaches some recipients shortly
// before its first step: the step would text, call or report them minutes
// after their SMS. Those it would come to more than a tenth of its after
// early get a clock of their own, started when they were reached.
func TestRecipientsReachedJustBeforeTheFirstStepWaitForTheirOwnClock(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r, held, a, early, later := heldCallUp(t, clock, 0)

	// T+4: the held ones go out, a minute before the first step (the SMS
	// again at T+5).
	clock.Add(4 * time.Minute)
	held.releaseAll(t, r, a.ID)

	clock.Add(time.Minute)
	s0 := r.waitFired(t, a.ID, 0)
	assert.Equal(t, map[string]int{notify.EscSent: len(early)}, s0.Items, "the SMS again to those reached at the start only")
	assert.Equal(t, len(later), s0.Waiting, "those reached a minute ago wait for it on their own clocks")
	r.waitSimIdle(t, 30*time.Second)
	texts := callUpTexts(r)
	for _, rc := range later {
		assert.Equal(t, 1, texts[rc.Phone], "%s: reached a minute ago, not texted again yet", rc.Person)
	}

	// T+9, five minutes after they were reached: their SMS again.
	clock.Add(4 * time.Minute)
	require.Eventually(t, func() bool {
		s := r.escalation(t, a.ID)
		return s[0].Waiting == 0 && s[1].Waiting == len(later) && s[0].Items[notify.EscSent] == len(early)+len(later)
	}, 30*time.Second, 20*time.Millisecond, "the SMS again on their own clock")
	assert.True(t, r.escalation(t, a.ID)[1].FiredAt.IsZero(), "the activation's second step is not due before T+10")
	r.waitSimIdle(t, 30*time.Second)
	texts = callUpTexts(r)
	for _, rc := range slices.Concat(early, later) {
		assert.Equal(t, 2, texts[rc.Phone], "%s: the call-up and the SMS again, once each", rc.Person)
	}
}

// Under rules 2 (a member not upgraded yet) the first step goes to all who
// were reached, however recently, as it did.
func TestRules2FireTheFirstStepForAllReached(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r, held, a, early, later := heldCallUp(t, clock, 2)
	clock.Add(4 * time.Minute)
	held.releaseAll(t, r, a.ID)
	clock.Add(time.Minute)
	s0 := r.waitFired(t, a.ID, 0)
	assert.Equal(t, map[string]int{notify.EscSent: len(early) + len(later)}, s0.Items)
	assert.Zero(t, s0.Waiting)
}

// Someone whose call-up goes out after the chain began (a large call-up
// at a slow rate, a send held up) is escalated on a clock of their own:
// each step comes its After from their own send, in order, once. The steps
// fired for the activation leave them out, and their superior hears of
// their silence in a report of its own.
func TestRecipientsSentAfterTheChainBeganAreEscalatedOnTheirOwnClock(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r, held, a, early, later := heldCallUp(t, clock, 0)

	// T+5: the first step fires for those sent; then the held ones go out.
	clock.Add(5 * time.Minute)
	s0 := r.waitFired(t, a.ID, 0)
	assert.Equal(t, map[string]int{notify.EscSent: len(early)}, s0.Items, "the SMS again to those sent before the step")
	held.releaseAll(t, r, a.ID)
	steps := r.escalation(t, a.ID)
	assert.Equal(t, len(later), steps[0].Waiting, "those sent later wait for the first step on their own clocks")

	// T+10: the activation's second step (the superior) for the early ones;
	// the first step (the SMS again) for the later ones, 5 minutes after
	// their own send.
	clock.Add(5 * time.Minute)
	r.waitFired(t, a.ID, 1)
	require.Eventually(t, func() bool {
		s := r.escalation(t, a.ID)
		return s[1].Waiting == len(later) && s[0].Items[notify.EscSent] == len(early)+len(later)
	}, 30*time.Second, 20*time.Millisecond, "the later ones are caught up on the first step")
	// A catch-up proposed again (a new leader repeating one whose answer it
	// lost) does nothing: each step once.
	people := make([]plans.PersonID, len(later))
	for i, rc := range later {
		people[i] = rc.Person
	}
	payload, err := json.Marshal(map[string]any{"a": a.ID, "p": people})
	require.NoError(t, err)
	var again notify.FireResult
	require.NoError(t, r.c.WaitLeader(15*time.Second).Node.Apply(testCtx(t), &muster.Command{Type: notify.CmdEscalationCatchUp, Actor: "test", Payload: payload}, &again))
	assert.Zero(t, again.Silent, "nothing is due twice")
	assert.Zero(t, again.Queued)
	r.waitSimIdle(t, 30*time.Second)
	perNumber := callUpTexts(r)
	for _, rc := range slices.Concat(early, later) {
		assert.Equal(t, 2, perNumber[rc.Phone], "%s: the call-up and the SMS again, once each", rc.Person)
	}
	st := r.status(t, a.ID)
	assert.Equal(t, len(early), st.Counters.ByState[notify.StateEscalated], "only the early ones are reported yet")
	reportsAtT10 := simBodies(r.sim, "叫应：")
	require.Positive(t, reportsAtT10)

	// One of the later ones answers: their clock ends there. (One sent no
	// report: from rules 13 the first reply after a report is taken for it.)
	i := slices.IndexFunc(later, func(rc notify.Recipient) bool {
		return !slices.ContainsFunc(r.sim.Messages(rc.Phone), func(m twiliosim.Message) bool { return strings.Contains(m.Body, "叫应：") })
	})
	require.GreaterOrEqual(t, i, 0, "a later one was sent no report")
	res := reply(t, r.c.WaitLeader(15*time.Second).Node, later[i].Phone, "1")
	require.Equal(t, notify.StateAcked, res.State)
	assert.Equal(t, len(later)-1, r.escalation(t, a.ID)[1].Waiting, "an answer ends the clock")
	later = slices.Delete(later, i, i+1)

	// T+15: the backups of the early ones; the later ones' superior report.
	clock.Add(5 * time.Minute)
	r.waitFired(t, a.ID, 2)
	require.Eventually(t, func() bool {
		s := r.escalation(t, a.ID)
		return s[2].Waiting == len(later) && s[1].Items[notify.EscQueued]+s[1].Items[notify.EscSending] == 0 && s[1].Waiting == 0
	}, 30*time.Second, 20*time.Millisecond, "the later ones are caught up on the superior step")
	r.waitSimIdle(t, 30*time.Second)
	assert.Greater(t, simBodies(r.sim, "叫应："), reportsAtT10, "their superiors are told")
	for _, rc := range r.recipientsOf(t, a.ID) {
		if slices.ContainsFunc(later, func(l notify.Recipient) bool { return l.Person == rc.Person }) {
			assert.Equal(t, notify.StateEscalated, rc.State, "%s is reported on their own clock", rc.Person)
		}
	}

	// T+20: the later ones' backups are called up, and their clocks end.
	before := r.status(t, a.ID).Recipients
	clock.Add(5 * time.Minute)
	require.Eventually(t, func() bool {
		return r.escalation(t, a.ID)[2].Waiting == 0
	}, 30*time.Second, 20*time.Millisecond, "the later ones are caught up on the backup step")
	assert.Greater(t, r.status(t, a.ID).Recipients, before, "the later ones' backups join the call-up")
	assert.LessOrEqual(t, r.escalatorsFired(), int64(3), "each of the activation's steps fired once")
	// The escalator counts a catch-up once its command is applied, after
	// the state shows it.
	var caught int64
	assert.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		caught = 0
		for _, e := range r.esc {
			caught += e.Stats().CaughtUp
		}
		return caught >= int64(3*len(later))
	}, 10*time.Second, 20*time.Millisecond, "three steps each for the later ones: %d caught up", &caught)
}

// Under the rules of an older muster (a rolling upgrade not yet done),
// escalation does what that muster does, so every member applies it alike:
// the unreached are not called, and no clock starts.
func TestOlderRulesKeepTheOlderEscalation(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock, config: func(_ int, c *cluster.Config) { c.Rules = 1 },
		sim: twiliosim.Config{TimeScale: 0.002, Rules: []twiliosim.Rule{landline},
			Voice: twiliosim.VoiceProfile{AnswerRate: 1, Digits: twiliosim.DigitMix{Accept: 1}}}})
	_, a, silent := voiceDrill(t, r, "EXERCISE")
	require.Positive(t, r.status(t, a.ID).Counters.ByState[notify.StateFailed])
	clock.Add(5 * time.Minute)
	s0 := r.waitFired(t, a.ID, 0)
	assert.Equal(t, map[string]int{notify.EscSent: silent}, s0.Items, "the silent only, as before rules 2")
	assert.Equal(t, 1, r.c.WaitLeader(15*time.Second).Node.Status().Rules)
}

// A voice call's progress counts for the escalation item's current attempt
// only: a report of an earlier call (one whose placing timed out, was
// placed again, and went through after all) neither shows on the item nor
// counts a second end.
func TestCallReportOfAnotherAttemptChangesNothing(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock, sim: twiliosim.Config{
		TimeScale: 0.002, Voice: twiliosim.VoiceProfile{AnswerRate: 1, Digits: twiliosim.DigitMix{Accept: 1}},
	}})
	_, a, silent := voiceDrill(t, r, "EXERCISE")
	require.Positive(t, silent)
	var called notify.Recipient
	for _, rc := range r.recipientsOf(t, a.ID) {
		if rc.State == notify.StateDelivered {
			called = rc
			break
		}
	}
	clock.Add(5 * time.Minute)
	r.waitFired(t, a.ID, 0)
	r.waitSimIdle(t, 30*time.Second)
	n := r.c.WaitLeader(15 * time.Second).Node
	callReport := func(attempt int, status string) notify.InboundResult {
		t.Helper()
		payload, err := json.Marshal(map[string]any{"i": []notify.InboundItem{{Kind: notify.InboundCall, SID: "CAreport", Status: status, Exercise: true,
			Attempt: notify.EscalationAttemptID(a.ID, called.Person, 0, attempt)}}})
		require.NoError(t, err)
		var out []notify.InboundResult
		require.NoError(t, n.Apply(testCtx(t), &muster.Command{Type: notify.CmdInbound, Actor: "test", Payload: payload}, &out))
		require.Len(t, out, 1)
		return out[0]
	}
	before := r.status(t, a.ID).Counters.Dispatch
	require.Positive(t, before["voice_completed"])
	assert.Equal(t, notify.InboundUnchanged, callReport(2, "busy").Outcome, "attempt 2 was never placed")
	assert.Equal(t, before, r.status(t, a.ID).Counters.Dispatch, "nothing counted")
	assert.Equal(t, notify.InboundApplied, callReport(1, "busy").Outcome, "the current attempt's report is taken")
	assert.Equal(t, before["voice_busy"]+1, r.status(t, a.ID).Counters.Dispatch["voice_busy"])
}

// After a pause (the escalator's leader was down, or busy, for a while) the
// activation's steps and the recipients' own clocks fall due in one tick:
// each step still comes once to each recipient. The steps fired for the
// activation leave out those on clocks of their own, so they fire before
// the clocks are caught up (and end).
func TestAfterAPauseEachStepComesOnceToEachRecipient(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r, held, a, early, later := heldCallUp(t, clock, 0)
	clock.Add(5 * time.Minute)
	r.waitFired(t, a.ID, 0)
	held.releaseAll(t, r, a.ID)
	require.Equal(t, len(later), r.escalation(t, a.ID)[0].Waiting)

	// Twenty minutes pass at once: the activation's superior and backup
	// steps are due, and every step of the later ones' clocks.
	clock.Add(20 * time.Minute)
	r.waitFired(t, a.ID, 2)
	// (The backups called up at T+25 are sent after the chain began: they
	// wait on clocks of their own.)
	var d map[string]int
	require.Eventually(t, func() bool {
		s := r.escalation(t, a.ID)
		d = r.status(t, a.ID).Counters.Dispatch
		return d["escalation_step_2"] >= len(early)+len(later) && s[1].Items[notify.EscQueued]+s[1].Items[notify.EscSending] == 0
	}, 30*time.Second, 20*time.Millisecond, "the later ones are caught up: %v", &d)
	r.waitSimIdle(t, 30*time.Second)
	d = r.status(t, a.ID).Counters.Dispatch
	t.Logf("early %d, later %d, steps applied %d / %d / %d", len(early), len(later), d["escalation_step_0"], d["escalation_step_1"], d["escalation_step_2"])
	for i := range 3 {
		assert.EqualValues(t, len(early)+len(later), d[fmt.Sprintf("escalation_step_%d", i)], "step %d once for each", i)
	}
	texts := callUpTexts(r)
	for _, rc := range slices.Concat(early, later) {
		assert.Equal(t, 2, texts[rc.Phone], "%s: the call-up and the SMS again, once each", rc.Person)
	}
}

// A stand-down ends the escalation clocks with everything else: none shows
// as waiting, and the count of running clocks is gone. Under rules 3 the
// clocks stay in the state (as that muster left them), but a stopped
// activation shows none waiting either.
func TestStandDownEndsTheEscalationClocks(t *testing.T) {
	for _, rules := range []int{0, 3} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
			r, held, a, _, later := heldCallUp(t, clock, rules)
			clock.Add(5 * time.Minute)
			r.waitFired(t, a.ID, 0)
			held.releaseAll(t, r, a.ID)
			require.Equal(t, len(later), r.escalation(t, a.ID)[0].Waiting)
			require.Equal(t, len(later), r.status(t, a.ID).Counters.Dispatch["esc_clocks"])

			n := r.c.WaitLeader(15 * time.Second).Node
			_, err := notify.NewService(n, n, senders).StandDown(testCtx(t), "trainer", a.ID, "演练结束")
			require.NoError(t, err)
			for _, s := range r.escalation(t, a.ID) {
				assert.Zero(t, s.Waiting, "step %d", s.Index)
			}
			left := r.status(t, a.ID).Counters.Dispatch["esc_clocks"]
			if rules == 3 {
				assert.Equal(t, len(later), left, "rules 3 left the clocks")
			} else {
				assert.Zero(t, left, "no clock runs")
			}
		})
	}
}

// Someone whose phone is off (the carrier reports the SMS undelivered,
// 30003) has their SMS sent again at 1, 2… minutes; meanwhile a voice step
// comes due. Under rules 9 the step calls them as it calls those the SMS
// could not reach, and the SMS is still sent again; under rules 8 every
// step passed them over while the retries went on.
func TestEscalationCallsThoseTheCarrierCannotReachWhileTheSMSIsRetried(t *testing.T) {
	for _, rules := range []int{9, 8} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) { unreachableEscalated(t, rules) })
	}
}

func unreachableEscalated(t *testing.T, rules int) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	off := twiliosim.Rule{Match: regexp.MustCompile(`3$`), Outcome: twiliosim.OutcomeUndelivered, Code: 30003}
	r := newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock, config: func(_ int, c *cluster.Config) { c.Rules = rules },
		disp: notify.DispatcherConfig{Clock: clock}, // the retries wait for the clock
		sim: twiliosim.Config{TimeScale: 0.002, Rules: []twiliosim.Rule{off},
			Voice: twiliosim.VoiceProfile{AnswerRate: 1, Digits: twiliosim.DigitMix{None: 1}}}})
	plan := strings.Replace(string(voiceEscalatePlan()), "{after: 5m, do: voice}", "{after: 30s, do: voice}", 1)
	require.Contains(t, plan, "{after: 30s, do: voice}")
	_, err := r.plans.ApplyPlan(testCtx(t), "test", "escalate.yaml", []byte(plan))
	require.NoError(t, err)
	n := r.c.WaitLeader(15 * time.Second).Node
	a, err := notify.NewService(n, n, senders).Activate(testCtx(t), "trainer", notify.ActivationRequest{Plan: "escalate", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "EXERCISE", Reason: "电话叫应检查"})
	require.NoError(t, err)

	// Everyone's SMS is delivered, or undelivered with 30003 and to be
	// sent again a minute or more later (the clock stands still).
	unreached, delivered := map[string]plans.PersonID{}, 0
	deadline := time.Now().Add(60 * time.Second)
	for {
		clear(unreached)
		delivered = 0
		settled := true
		states := map[notify.State]int{}
		for _, rc := range r.recipientsOf(t, a.ID) {
			states[rc.State]++
			switch {
			case rc.State == notify.StateDelivered:
				delivered++
			case rc.State == notify.StatePending && rc.Attempt != nil && rc.Attempt.Code == 30003 && !rc.Attempt.NextTry.IsZero():
				unreached[rc.Phone] = rc.Person
			default:
				settled = false
			}
		}
		if settled {
			break
		}
		require.True(t, time.Now().Before(deadline), "the call-up SMS did not settle: %v", states)
		time.Sleep(50 * time.Millisecond)
	}
	r.waitSimIdle(t, 30*time.Second)
	require.NotEmpty(t, unreached, "some handsets are off")
	require.Positive(t, delivered)

	clock.Add(30 * time.Second) // the voice step is due; the SMS retries are not
	s0 := r.waitFired(t, a.ID, 0)
	r.waitSimIdle(t, 30*time.Second)
	called := map[string]bool{}
	for _, c := range r.sim.Calls("") {
		called[c.To] = true
	}
	calledOff := 0
	for phone := range unreached {
		if called[phone] {
			calledOff++
		}
	}
	t.Logf("rules %d: delivered %d, handset unreachable %d; the voice step called %d, of them unreachable %d",
		rules, delivered, len(unreached), len(called), calledOff)
	if rules < 9 {
		assert.Zero(t, calledOff, "rules 8: the step passed over those whose SMS was being retried")
		assert.Equal(t, map[string]int{notify.EscSent: delivered}, s0.Items)
		return
	}
	assert.Equal(t, len(unreached), calledOff, "the voice step called everyone whose handset the SMS could not reach")
	assert.Equal(t, map[string]int{notify.EscSent: delivered + len(unreached)}, s0.Items, "one call each: the silent and the unreachable")
	for _, rc := range r.recipientsOf(t, a.ID) {
		if _, ok := unreached[rc.Phone]; ok {
			assert.Equal(t, notify.StatePending, rc.State, "%s: their SMS is still to be sent again", rc.Person)
			require.NotNil(t, rc.Attempt)
			assert.False(t, rc.Attempt.NextTry.IsZero(), "%s: the retry stays scheduled", rc.Person)
		}
	}

	// The retries go on: a minute later each gets the SMS again.
	clock.Add(90 * time.Second)
	deadline = time.Now().Add(30 * time.Second)
	for {
		again := 0
		for phone := range unreached {
			if len(r.sim.Messages(phone)) >= 2 {
				again++
			}
		}
		if again == len(unreached) {
			break
		}
		require.True(t, time.Now().Before(deadline), "the SMS was sent again to %d of %d", again, len(unreached))
		time.Sleep(20 * time.Millisecond)
	}
}
