package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/notify"
	"muster/notify/twiliosim"
	"muster/plans"
)

// Numbers of the people whose first phone cannot take SMS, and what the
// simulator does with each: "" delivers.
var fallbackNumbers = []struct {
	phone   string
	outcome twiliosim.Outcome
	code    int
}{
	{"+8613900000111", twiliosim.OutcomeUndelivered, 30006}, // carrier: landline or unreachable
	{"+8613900000112", "", 0},
	{"+8613900000121", twiliosim.OutcomeReject, 21211}, // refused at the send: not a valid number
	{"+8613900000122", "", 0},
	{"+8613900000131", twiliosim.OutcomeReject, 21211},
	{"+8613900000141", twiliosim.OutcomeUndelivered, 30006},
	{"+8613900000142", twiliosim.OutcomeReject, 21610},      // the owner sent STOP
	{"+8613900000143", twiliosim.OutcomeUndelivered, 30005}, // unknown destination: no such number
	{"+8613900000151", twiliosim.OutcomeReject, 21614},      // not a mobile
	{"+862161234551", "", 0},                                // a landline: takes no SMS, never sent one
}

// The people of the fallback tests, by the phones the roster gives them.
var (
	secondTakes   = []string{"+8613900000111", "+8613900000112"}                   // the first undelivered (30006)
	firstRefused  = []string{"+8613900000121", "+8613900000122"}                   // the first refused at the send (21211)
	onlyOne       = []string{"+8613900000131"}                                     // one phone, refused
	noneTakes     = []string{"+8613900000141", "+8613900000142", "+8613900000143"} // every one fails
	landlineAfter = []string{"+8613900000151", "+862161234551"}                    // the next is a landline
)

// sendCounter counts the SMS its provider is asked to send, by number.
type sendCounter struct {
	mu sync.Mutex
	to map[string]int
}

func (c *sendCounter) wrap(p notify.Provider) notify.Provider { return &countedSends{p, c} }

func (c *sendCounter) sends() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.to {
		out[k] = v
	}
	return out
}

type countedSends struct {
	notify.Provider
	c *sendCounter
}

func (s *countedSends) SendSMS(ctx context.Context, m notify.SMS) (notify.Sent, error) {
	s.c.mu.Lock()
	s.c.to[m.To]++
	s.c.mu.Unlock()
	return s.Provider.SendSMS(ctx, m)
}

func (s *countedSends) FetchSMS(ctx context.Context, id string) (notify.Report, error) {
	return s.Provider.(notify.StatusFetcher).FetchSMS(ctx, id)
}

// fallbackRules are the simulator's rules for fallbackNumbers.
func fallbackRules() []twiliosim.Rule {
	var out []twiliosim.Rule
	for _, n := range fallbackNumbers {
		if n.outcome != "" {
			out = append(out, twiliosim.Rule{Match: regexp.MustCompile("^" + regexp.QuoteMeta(n.phone) + "$"), Outcome: n.outcome, Code: n.code})
		}
	}
	return out
}

// givePhones gives the first five people of r's roster, in ID order, the
// phones of the fallback tests (secondTakes, firstRefused, onlyOne,
// noneTakes, landlineAfter), and category when it is set, and returns
// their IDs in that order.
func givePhones(t *testing.T, r *callRig, category string) []plans.PersonID {
	t.Helper()
	ctx := testCtx(t)
	people, err := r.plans.People(ctx, muster.Default, plans.PeopleFilter{}, plans.Page{Limit: 5})
	require.NoError(t, err)
	require.Len(t, people.Items, 5)
	var ids []plans.PersonID
	for i, phones := range [][]string{secondTakes, firstRefused, onlyOne, noneTakes, landlineAfter} {
		p := people.Items[i]
		in := inputOf(p)
		in.Phones = phones
		if category != "" {
			in.Category = category
		}
		_, err := r.plans.UpdatePerson(ctx, "admin", p.ID, in)
		require.NoError(t, err, "person %d", i)
		ids = append(ids, p.ID)
	}
	return ids
}

// inputOf is what updates person p to itself.
func inputOf(p plans.Person) plans.PersonInput {
	return plans.PersonInput{ExternalID: p.ExternalID, Name: p.Name, Phones: p.Phones, Grid: string(p.Grid), Category: string(p.Category),
		Tags: p.Tags, Teams: p.Teams, Backup: string(p.Backup), Language: string(p.Language)}
}

// fallbackDrill runs a drill of everyone on a one-node rig under rules
// (0: the newest) whose simulator refuses or fails the numbers of
// fallbackNumbers, with five people given the phones above, and waits
// until every send has its outcome. It returns the rig, the drill, the
// five people's recipients (in the order above) and the SMS asked for by
// number.
func fallbackDrill(t *testing.T, rules int) (*callRig, notify.Activation, []notify.Recipient, map[string]int) {
	t.Helper()
	counter := &sendCounter{to: map[string]int{}}
	r := newCallRig(t, rigOptions{nodes: 1, people: 20, sim: twiliosim.Config{Rules: fallbackRules()},
		config: func(_ int, c *cluster.Config) { c.Rules = rules },
		wrap:   func(_ bool, p notify.Provider) notify.Provider { return counter.wrap(p) }})
	ids := givePhones(t, r, "")
	a := r.activate(t, "exercise")
	require.Equal(t, 20, a.Recipients)
	r.waitSettled(t, a.ID, 30*time.Second)
	r.waitSimIdle(t, 30*time.Second)
	return r, a, fiveOf(t, r, a.ID, ids), counter.sends()
}

// fiveOf is the recipients of activation id who are the people ids, in
// that order.
func fiveOf(t *testing.T, r *callRig, id plans.ActivationID, ids []plans.PersonID) []notify.Recipient {
	t.Helper()
	recs := make([]notify.Recipient, len(ids))
	for _, rc := range r.recipientsOf(t, id) {
		if i := slices.Index(ids, rc.Person); i >= 0 {
			recs[i] = rc
		}
	}
	for i, rc := range recs {
		require.Equal(t, ids[i], rc.Person, "person %d is a recipient", i)
	}
	return recs
}

// A person whose first phone cannot take the call-up SMS (the carrier
// says landline or unreachable, 30006; the provider refuses the number,
// 21211) gets it on their next mobile, once, and answers from there; the
// recipient shows the number used and the one that failed. Someone with
// one phone fails as before; someone whose next phone is a landline gets
// no SMS there (the dispatcher reports it refused as not a mobile, 21614,
// without a send) and fails, their record keeping the landline for the
// voice call; someone whose every number fails has each tried once and
// fails, their record keeping a number a voice call reaches (the last did
// not exist).
func TestCallUpGoesOnToTheNextPhone(t *testing.T) {
	r, a, recs, sends := fallbackDrill(t, 0)
	second, refused, one, none, landline := recs[0], recs[1], recs[2], recs[3], recs[4]

	for _, n := range fallbackNumbers {
		want := 1
		if n.phone == landlineAfter[1] {
			want = 0
		}
		assert.Equal(t, want, sends[n.phone], "SMS asked for to %s", n.phone)
	}

	assert.Equal(t, notify.StateDelivered, second.State)
	assert.Equal(t, secondTakes[1], second.Phone, "the number the call-up uses now")
	require.NotNil(t, second.Attempt)
	assert.Equal(t, []notify.PhoneFailure{{Phone: secondTakes[0], Code: 30006, Attempt: 1}}, second.Attempt.FailedPhones)
	assert.Equal(t, 2, second.Attempt.N, "an attempt to each number")

	assert.Equal(t, notify.StateDelivered, refused.State)
	assert.Equal(t, firstRefused[1], refused.Phone)
	require.NotNil(t, refused.Attempt)
	assert.Equal(t, []notify.PhoneFailure{{Phone: firstRefused[0], Code: 21211, Attempt: 1}}, refused.Attempt.FailedPhones)

	assert.Equal(t, notify.StateFailed, one.State, "one phone: failed as before")
	assert.Equal(t, onlyOne[0], one.Phone)
	assert.Equal(t, 21211, one.Attempt.Code)
	assert.Empty(t, one.Attempt.FailedPhones)

	assert.Equal(t, notify.StateFailed, none.State, "every number tried once, and failed")
	assert.Equal(t, []notify.PhoneFailure{{Phone: noneTakes[0], Code: 30006, Attempt: 1}, {Phone: noneTakes[1], Code: 21610, Attempt: 2}, {Phone: noneTakes[2], Code: 30005, Attempt: 3}},
		none.Attempt.FailedPhones)
	assert.Equal(t, 30005, none.Attempt.Code)
	assert.Equal(t, noneTakes[0], none.Phone, "the last number does not exist: the first, which does, is the one to call")

	assert.Equal(t, notify.StateFailed, landline.State, "a landline takes no SMS: not sent one")
	assert.Equal(t, landlineAfter[1], landline.Phone, "the landline, which a voice call reaches")
	assert.Equal(t, []notify.PhoneFailure{{Phone: landlineAfter[0], Code: 21614, Attempt: 1}, {Phone: landlineAfter[1], Code: 21614, Attempt: 2}},
		landline.Attempt.FailedPhones)
	assert.Contains(t, landline.Attempt.Error, "is a landline, which takes no SMS")

	st := r.status(t, a.ID)
	assert.Equal(t, 5, st.Counters.Dispatch["phone_fallback"], "1 + 1 + 2 + 1 times on to a next phone")
	assert.Equal(t, 3, st.Counters.ByState[notify.StateFailed])
	assert.Equal(t, 17, st.Counters.ByState[notify.StateDelivered])

	// The recipients API says where the call-up went and what failed.
	js, err := json.Marshal(second)
	require.NoError(t, err)
	assert.Contains(t, string(js), `"phone":"`+secondTakes[1]+`"`)
	assert.Contains(t, string(js), `"failed_phones":[{"phone":"`+secondTakes[0]+`","code":30006,"attempt":1}]`)

	// A reply from the second number answers the call-up.
	r.drillReply(t, "SMnextphone", secondTakes[1], "1")
	assert.Equal(t, map[plans.PersonID]bool{second.Person: true}, r.acked(t, a.ID))
}

// Under rules 10 the first number's failure is final: nobody is sent to
// another phone, and nothing records one.
func TestCallUpStaysOnTheFirstPhoneUnderRules10(t *testing.T) {
	r, a, recs, sends := fallbackDrill(t, 10)
	for i, rc := range recs {
		assert.Equal(t, notify.StateFailed, rc.State, "person %d", i)
		require.NotNil(t, rc.Attempt)
		assert.Empty(t, rc.Attempt.FailedPhones, "person %d", i)
		assert.Equal(t, 1, rc.Attempt.N, "person %d", i)
	}
	assert.Equal(t, secondTakes[0], recs[0].Phone)
	assert.Equal(t, noneTakes[0], recs[3].Phone)
	for _, n := range fallbackNumbers {
		want := 0
		for _, first := range []string{secondTakes[0], firstRefused[0], onlyOne[0], noneTakes[0], landlineAfter[0]} {
			if n.phone == first {
				want = 1
			}
		}
		assert.Equal(t, want, sends[n.phone], "SMS asked for to %s", n.phone)
	}
	st := r.status(t, a.ID)
	assert.Zero(t, st.Counters.Dispatch["phone_fallback"])
	assert.Equal(t, 5, st.Counters.ByState[notify.StateFailed])
}

// The voice escalation calls the number the SMS reached: the next phone
// of those whose first could not take it, not the first. Someone whose
// every number failed is called at the first one that exists (a landline
// that refused the SMS with 30006), not at the last, which does not;
// someone whose next phone is a landline is called there.
func TestVoiceEscalationCallsTheNumberTheSMSReached(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 1, people: 20, clock: clock, sim: twiliosim.Config{
		TimeScale: 0.002, Rules: fallbackRules(),
		Voice: twiliosim.VoiceProfile{AnswerRate: 1, Digits: twiliosim.DigitMix{Accept: 1}},
	}})
	ids := givePhones(t, r, "志愿者") // the escalate plan calls up volunteers
	_, a, _ := voiceDrill(t, r, "EXERCISE")
	clock.Add(5 * time.Minute)
	r.waitFired(t, a.ID, 0)
	r.waitSimIdle(t, 60*time.Second)

	calls := map[string]int{}
	for _, c := range r.sim.Calls("") {
		calls[c.To]++
	}
	assert.Equal(t, 1, calls[secondTakes[1]], "the number the SMS reached")
	assert.Equal(t, 1, calls[firstRefused[1]], "the number the SMS reached")
	assert.Equal(t, 1, calls[noneTakes[0]], "the first number, which exists")
	assert.Equal(t, 1, calls[landlineAfter[1]], "the landline, which takes calls")
	for _, n := range []string{secondTakes[0], firstRefused[0], noneTakes[1], noneTakes[2], landlineAfter[0]} {
		assert.Zero(t, calls[n], "no call to %s", n)
	}
	recs := fiveOf(t, r, a.ID, ids)
	for _, i := range []int{0, 1, 3, 4} {
		assert.Equal(t, notify.StateAcked, recs[i].State, "person %d pressed 1", i)
	}
}

// A number the call-up went on to has the carrier's retries of a
// temporary failure (30003, switched off) that the first had: they count
// from its first attempt. Under rules 10 the call-up stays on the first
// number and has those retries there.
func TestTheNextPhoneHasItsOwnCarrierRetries(t *testing.T) {
	for _, rules := range []int{0, 10} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			ctx := testCtx(t)
			e := newEnvWith(t, 1, 20, clustertest.Options{Setup: setup, Config: func(_ int, c *cluster.Config) { c.Rules = rules }}, ctx)
			_, err := e.plans.ApplyPlan(ctx, "test", "everyone.yaml", examples.EveryonePlan)
			require.NoError(t, err)
			var r callRig // for givePhones
			r.env = e
			ids := givePhones(t, &r, "")
			person := ids[1] // firstRefused
			a, err := e.svc.Activate(ctx, "trainer", notify.ActivationRequest{Plan: "everyone", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "EXERCISE", Reason: "演练"})
			require.NoError(t, err)
			n := e.c.Leader().Node
			apply := func(typ, payload string, out any) { t.Helper(); applyJSON(t, n, typ, payload, out) }
			state := func() notify.Recipient {
				t.Helper()
				l, err := e.svc.Recipients(ctx, muster.Default, a.ID, notify.RecipientFilter{}, plans.Page{Limit: plans.MaxPageLimit})
				require.NoError(t, err)
				i := slices.IndexFunc(l.Items, func(rc notify.Recipient) bool { return rc.Person == person })
				require.GreaterOrEqual(t, i, 0)
				return l.Items[i]
			}
			claim := func(n int) {
				t.Helper()
				var res notify.ClaimResult
				apply(notify.CmdDispatchClaim, fmt.Sprintf(`{"a":%q,"i":[{"p":%q,"n":%d}]}`, a.ID, person, n), &res)
				require.Len(t, res.Claimed, 1, "claim of attempt %d", n+1)
			}
			result := func(n int, outcome notify.Outcome, code int) {
				t.Helper()
				var sum notify.ResultSummary
				apply(notify.CmdDispatchResult, fmt.Sprintf(`{"i":[{"a":%q,"p":%q,"n":%d,"o":%q,"sid":"SM%d","code":%d}]}`, a.ID, person, n, outcome, n, code), &sum)
				require.Equal(t, 1, sum.Applied, "result of attempt %d", n)
			}
			switchedOff := func(n int) notify.State {
				t.Helper()
				var res []notify.InboundResult
				apply(notify.CmdInbound, fmt.Sprintf(`{"i":[{"k":"status","at":%q,"sid":"SM%d","st":"undelivered","code":30003,"ex":true}]}`,
					notify.AttemptID(a.ID, person, n), n), &res)
				require.Len(t, res, 1)
				return res[0].State
			}

			claim(0)
			result(1, notify.OutcomeFailed, 21211)
			want, first := notify.StatePending, 2 // the next phone's first attempt
			if rules == 10 {
				want, first = notify.StateFailed, 1
			}
			require.Equal(t, want, state().State, "after the first number's 21211")
			if rules == 10 {
				assert.Equal(t, firstRefused[0], state().Phone)
				return
			}
			assert.Equal(t, firstRefused[1], state().Phone)
			for n := first; n < first+2; n++ { // 30003 twice: retried both times
				claim(n - 1)
				result(n, notify.OutcomeSent, 0)
				assert.Equal(t, notify.StatePending, switchedOff(n), "attempt %d (the number's %d.) is retried", n, n-first+1)
			}
			claim(first + 1)
			result(first+2, notify.OutcomeSent, 0)
			assert.Equal(t, notify.StateFailed, switchedOff(first+2), "the number's third attempt is its last")
			rc := state()
			assert.Equal(t, firstRefused[1], rc.Phone)
			assert.Equal(t, 4, rc.Attempt.N)
			assert.Equal(t, []notify.PhoneFailure{{Phone: firstRefused[0], Code: 21211, Attempt: 1}}, rc.Attempt.FailedPhones)
		})
	}
}
