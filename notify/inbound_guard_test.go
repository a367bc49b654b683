package notify_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster/clustertest"
	"muster/notify"
	"muster/notify/twiliosim"
)

// The signature covers one value per form field. A form that repeats a
// field is refused, so an unsigned second value cannot ride along: with it,
// the exercise account's token could forge a LIVE answer (AccountSid=[the
// exercise SID, "x"] was checked against the exercise token, then read as
// an unknown, so LIVE, account), and a captured reply could be applied again
// under a new MessageSid.
func TestWebhookWithARepeatedFieldIsRefused(t *testing.T) {
	r := newCallRig(t, rigOptions{nodes: 1, people: 50})
	live := r.activate(t, "live")
	r.waitSettled(t, live.ID, 30*time.Second)
	r.waitSimIdle(t, 10*time.Second)
	recs := r.recipientsOf(t, live.ID)
	p, q := recs[0], recs[1]
	node := r.nodes[0]

	forged := url.Values{"AccountSid": {drillAcct.SID, "x"}, "MessageSid": {"SMforged1"}, "From": {p.Phone}, "To": {liveAcct.Number}, "Body": {"1"}}
	code, body := r.postHook(t, node, "/hooks/twilio/sms-inbound", forged, drillAcct.AuthToken)
	assert.Equal(t, http.StatusForbidden, code, "%s", body)
	assert.Contains(t, body, `field \"AccountSid\" given more than once`)
	assert.Zero(t, r.status(t, live.ID).Counters.ByState[notify.StateAcked])

	genuine := url.Values{"AccountSid": {liveAcct.SID}, "MessageSid": {"SMgenuine"}, "From": {q.Phone}, "To": {liveAcct.Number}, "Body": {"在哪集合？"}}
	code, _ = r.postHook(t, node, "/hooks/twilio/sms-inbound", genuine, liveAcct.AuthToken)
	require.Equal(t, http.StatusOK, code)
	replay := url.Values{"AccountSid": {liveAcct.SID}, "MessageSid": {"SMgenuine", "-again"}, "From": {q.Phone}, "To": {liveAcct.Number}, "Body": {"在哪集合？"}}
	code, _ = r.postHook(t, node, "/hooks/twilio/sms-inbound", replay, liveAcct.AuthToken)
	assert.Equal(t, http.StatusForbidden, code)
	n := r.c.WaitLeader(15 * time.Second).Node
	notes, err := notify.NewService(n, n, senders).Notes(testCtx(t), muster.Default, live.ID)
	require.NoError(t, err)
	assert.Len(t, notes, 1, "the genuine reply, once")
}

// Escalation calls claimed before a stand-down and still waiting for the
// voice rate are not placed after it: the escalator checks that the call-up
// is open right before each call, as the dispatcher does before each SMS.
func TestEscalationStopsAtStandDown(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	// Four workers: three calls wait for the rate at the stand-down, each
	// let go at the rate's pace (with the default 32, some thirty waited,
	// 15 s at two a second).
	r := newCallRig(t, rigOptions{nodes: 1, people: 400, clock: clock, drillCallRate: 2, sim: twiliosim.Config{TimeScale: 0.002},
		escalator: func(c *notify.EscalatorConfig) { c.Workers = 4 }})
	svc, a, silent := voiceDrill(t, r, "EXERCISE")
	require.GreaterOrEqual(t, silent, 10)

	clock.Add(5 * time.Minute)
	calls := func() int64 { return r.sim.Stats().Accounts[drillAcct.SID].Calls.Created }
	require.Eventually(t, func() bool { return calls() >= 2 }, 20*time.Second, 10*time.Millisecond, "no call placed")
	_, err := svc.StandDown(testCtx(t), "commander", a.ID, "演练取消")
	require.NoError(t, err)
	before := calls()
	// The claimed calls are resulted: placed before the stand-down, or not
	// placed at all.
	var step notify.EscalationStepStatus
	require.Eventually(t, func() bool {
		step = r.escalation(t, a.ID)[0]
		return step.Items["sending"] == 0
	}, 20*time.Second, 10*time.Millisecond)
	after := calls()
	t.Logf("silent %d; calls before the stand-down %d, after it %d; items %v", silent, before, after-before, step.Items)
	assert.LessOrEqual(t, after-before, int64(1), "at most a call past its check as the stand-down applied")
	assert.Positive(t, step.Items["failed"], "the rest were not placed")
}

// A reply goes to the older call-up whose SMS the person got, not to a
// newer one that has only claimed its send to them.
func TestReplyDoesNotAnswerACallUpStillInFlight(t *testing.T) {
	e := newEnv(t, 1, 50)
	n := e.c.Leader().Node
	a1, first := floodDrill(t, e, 1)
	a2, _ := floodDrill(t, e, 1)
	p := first[0]
	apply := func(typ, payload string, out any) { t.Helper(); applyJSON(t, n, typ, payload, out) }
	var claim notify.ClaimResult
	var sum notify.ResultSummary
	apply(notify.CmdDispatchClaim, `{"a":"`+string(a1.ID)+`","i":[{"p":"`+string(p.Person)+`","n":0}]}`, &claim)
	apply(notify.CmdDispatchResult, `{"i":[{"a":"`+string(a1.ID)+`","p":"`+string(p.Person)+`","n":1,"o":"sent","sid":"SM1"}]}`, &sum)
	apply(notify.CmdDispatchClaim, `{"a":"`+string(a2.ID)+`","i":[{"p":"`+string(p.Person)+`","n":0}]}`, &claim)
	require.Len(t, claim.Claimed, 1, "a2's send to them is claimed, not yet made")
	var res []notify.InboundResult
	apply(notify.CmdInbound, `{"i":[{"k":"reply","sid":"SMr1","from":"`+p.Phone+`","body":"1","ex":true}]}`, &res)
	assert.Equal(t, a1.ID, res[0].Activation)
	assert.Equal(t, notify.InboundApplied, res[0].Outcome)
}

// Delivery reports arrive in any order. After a temporary carrier failure
// has put the recipient back to pending with a retry queued, a late "sent"
// for the same attempt leaves it so; it used to move them to sent and drop
// the retry, so the message that did not arrive was never sent again.
func TestLateSentReportKeepsTheCarrierRetry(t *testing.T) {
	e := newEnv(t, 1, 50)
	n := e.c.Leader().Node
	a, first := floodDrill(t, e, 1)
	p := first[0].Person
	apply := func(typ, payload string, out any) { t.Helper(); applyJSON(t, n, typ, payload, out) }
	var claim notify.ClaimResult
	apply(notify.CmdDispatchClaim, `{"a":"`+string(a.ID)+`","i":[{"p":"`+string(p)+`","n":0}]}`, &claim)
	require.Len(t, claim.Claimed, 1)
	var sum notify.ResultSummary
	apply(notify.CmdDispatchResult, `{"i":[{"a":"`+string(a.ID)+`","p":"`+string(p)+`","n":1,"o":"sent","sid":"SM1"}]}`, &sum)
	att := notify.AttemptID(a.ID, p, 1)
	var res []notify.InboundResult
	apply(notify.CmdInbound, `{"i":[{"k":"status","at":"`+att+`","sid":"SM1","st":"undelivered","code":30003,"ex":true}]}`, &res)
	require.Equal(t, notify.StatePending, res[0].State, "a temporary carrier failure: pending, retry queued")
	apply(notify.CmdInbound, `{"i":[{"k":"status","at":"`+att+`","sid":"SM1","st":"sent","ex":true}]}`, &res)
	assert.Equal(t, notify.InboundUnchanged, res[0].Outcome)
	r := recipientOf(t, e, a.ID, p)
	assert.Equal(t, notify.StatePending, r.State)
	assert.False(t, r.Attempt.NextTry.IsZero(), "the carrier retry is still queued")
}

// A late "sent" for an attempt to a number the call-up went on from (its
// "undelivered" came first) leaves the recipient pending on the next
// number. Here the first number is a landline (30006), the second refused
// at the send (21610) and the third waits for its send when the first
// number's "sent" comes. It used to move them back to sent and drop the
// send queued to the third number; the overdue-report sweep then asked for
// the first message's status and failed the third number with the first
// number's 30006, never sent there (a flake of
// TestCallUpGoesOnToTheNextPhone).
func TestLateSentReportOfALeftNumberKeepsTheNextNumber(t *testing.T) {
	e := newEnv(t, 1, 50)
	n := e.c.Leader().Node
	a, first := floodDrill(t, e, 1)
	p := first[0].Person
	person, err := e.plans.Person(testCtx(t), muster.Default, p)
	require.NoError(t, err)
	third := "+8613900009992"
	in := inputOf(person)
	in.Phones = []string{first[0].Phone, "+8613900009991", third}
	_, err = e.plans.UpdatePerson(testCtx(t), "admin", p, in)
	require.NoError(t, err)

	apply := func(typ, payload string, out any) { t.Helper(); applyJSON(t, n, typ, payload, out) }
	claim := func(n int) {
		t.Helper()
		var claim notify.ClaimResult
		apply(notify.CmdDispatchClaim, fmt.Sprintf(`{"a":"%s","i":[{"p":"%s","n":%d}]}`, a.ID, p, n), &claim)
		require.Len(t, claim.Claimed, 1, "attempt %d goes out", n+1)
	}
	var sum notify.ResultSummary
	claim(0)
	apply(notify.CmdDispatchResult, `{"i":[{"a":"`+string(a.ID)+`","p":"`+string(p)+`","n":1,"o":"sent","sid":"SM1"}]}`, &sum)
	att := notify.AttemptID(a.ID, p, 1)
	var res []notify.InboundResult
	apply(notify.CmdInbound, `{"i":[{"k":"status","at":"`+att+`","sid":"SM1","st":"undelivered","code":30006,"to":"`+first[0].Phone+`","ex":true}]}`, &res)
	require.Equal(t, notify.StatePending, res[0].State, "a landline: on to the next number")
	claim(1)
	apply(notify.CmdDispatchResult, `{"i":[{"a":"`+string(a.ID)+`","p":"`+string(p)+`","n":2,"o":"failed","code":21610,"err":"unsubscribed"}]}`, &sum)
	require.Equal(t, third, recipientOf(t, e, a.ID, p).Phone)

	apply(notify.CmdInbound, `{"i":[{"k":"status","at":"`+att+`","sid":"SM1","st":"sent","to":"`+first[0].Phone+`","ex":true}]}`, &res)
	assert.Equal(t, notify.InboundUnchanged, res[0].Outcome)
	r := recipientOf(t, e, a.ID, p)
	assert.Equal(t, notify.StatePending, r.State)
	assert.Equal(t, third, r.Phone)
	assert.False(t, r.Attempt.NextTry.IsZero(), "the send to the third number is still queued")
	claim(2)
}
