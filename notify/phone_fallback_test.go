package notify_test

import (
	"context"
	"encoding/json"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
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
	{"+862161234551", "", 0},                                // a landline: takes no SMS, never tried
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

// fallbackDrill runs a drill of everyone on a one-node rig under rules
// (0: the newest) whose simulator refuses or fails the numbers of
// fallbackNumbers, with five people given the phones above, and waits
// until every send has its outcome. It returns the rig, the drill, the
// five people's recipients (in the order above) and the SMS asked for by
// number.
func fallbackDrill(t *testing.T, rules int) (*callRig, notify.Activation, []notify.Recipient, map[string]int) {
	t.Helper()
	var simRules []twiliosim.Rule
	for _, n := range fallbackNumbers {
		if n.outcome != "" {
			simRules = append(simRules, twiliosim.Rule{Match: regexp.MustCompile("^" + regexp.QuoteMeta(n.phone) + "$"), Outcome: n.outcome, Code: n.code})
		}
	}
	counter := &sendCounter{to: map[string]int{}}
	r := newCallRig(t, rigOptions{nodes: 1, people: 20, sim: twiliosim.Config{Rules: simRules},
		config: func(_ int, c *cluster.Config) { c.Rules = rules },
		wrap:   func(_ bool, p notify.Provider) notify.Provider { return counter.wrap(p) }})
	ctx := testCtx(t)
	people, err := r.plans.People(ctx, muster.Default, plans.PeopleFilter{}, plans.Page{Limit: 5})
	require.NoError(t, err)
	require.Len(t, people.Items, 5)
	ids := map[plans.PersonID]int{}
	for i, phones := range [][]string{secondTakes, firstRefused, onlyOne, noneTakes, landlineAfter} {
		p := people.Items[i]
		_, err := r.plans.UpdatePerson(ctx, "admin", p.ID, plans.PersonInput{ExternalID: p.ExternalID, Name: p.Name, Phones: phones,
			Grid: string(p.Grid), Category: string(p.Category), Tags: p.Tags, Teams: p.Teams, Backup: string(p.Backup), Language: string(p.Language)})
		require.NoError(t, err, "person %d", i)
		ids[p.ID] = i
	}
	a := r.activate(t, "exercise")
	require.Equal(t, 20, a.Recipients)
	r.waitSettled(t, a.ID, 30*time.Second)
	r.waitSimIdle(t, 30*time.Second)
	recs := make([]notify.Recipient, 5)
	for _, rc := range r.recipientsOf(t, a.ID) {
		if i, ok := ids[rc.Person]; ok {
			recs[i] = rc
		}
	}
	return r, a, recs, counter.sends()
}

// A person whose first phone cannot take the call-up SMS (the carrier
// says landline or unreachable, 30006; the provider refuses the number,
// 21211) gets it on their next mobile, once, and answers from there; the
// recipient shows the number used and the one that failed. Someone with
// one phone, or whose next phone is a landline, fails as before; someone
// whose every number fails has each tried once and fails, their record
// keeping a number a voice call reaches (the last did not exist).
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
	assert.Equal(t, []notify.PhoneFailure{{Phone: secondTakes[0], Code: 30006}}, second.Attempt.FailedPhones)
	assert.Equal(t, 2, second.Attempt.N, "an attempt to each number")

	assert.Equal(t, notify.StateDelivered, refused.State)
	assert.Equal(t, firstRefused[1], refused.Phone)
	require.NotNil(t, refused.Attempt)
	assert.Equal(t, []notify.PhoneFailure{{Phone: firstRefused[0], Code: 21211}}, refused.Attempt.FailedPhones)

	assert.Equal(t, notify.StateFailed, one.State, "one phone: failed as before")
	assert.Equal(t, onlyOne[0], one.Phone)
	assert.Equal(t, 21211, one.Attempt.Code)
	assert.Empty(t, one.Attempt.FailedPhones)

	assert.Equal(t, notify.StateFailed, none.State, "every number tried once, and failed")
	assert.Equal(t, []notify.PhoneFailure{{Phone: noneTakes[0], Code: 30006}, {Phone: noneTakes[1], Code: 21610}, {Phone: noneTakes[2], Code: 30005}},
		none.Attempt.FailedPhones)
	assert.Equal(t, 30005, none.Attempt.Code)
	assert.Equal(t, noneTakes[0], none.Phone, "the last number does not exist: the first, which does, is the one to call")

	assert.Equal(t, notify.StateFailed, landline.State, "a landline takes no SMS: not tried")
	assert.Equal(t, landlineAfter[0], landline.Phone)
	assert.Empty(t, landline.Attempt.FailedPhones)

	st := r.status(t, a.ID)
	assert.Equal(t, 4, st.Counters.Dispatch["phone_fallback"], "1 + 1 + 2 times on to a next phone")
	assert.Equal(t, 3, st.Counters.ByState[notify.StateFailed])
	assert.Equal(t, 17, st.Counters.ByState[notify.StateDelivered])

	// The recipients API says where the call-up went and what failed.
	js, err := json.Marshal(second)
	require.NoError(t, err)
	assert.Contains(t, string(js), `"phone":"`+secondTakes[1]+`"`)
	assert.Contains(t, string(js), `"failed_phones":[{"phone":"`+secondTakes[0]+`","code":30006}]`)

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
