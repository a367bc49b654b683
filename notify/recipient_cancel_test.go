package notify_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster/clustertest"
	"muster/notify"
	"muster/notify/twiliosim"
	"muster/plans"
)

// outboundTo counts the SMS the simulator took for phone.
func outboundTo(sim *twiliosim.Server, phone string) int {
	n := 0
	for _, m := range sim.Messages(phone) {
		if m.Direction == "outbound-api" {
			n++
		}
	}
	return n
}

// Someone deleted from the roster while silent on a running call-up is
// still called up by it: the call-ups that do are named, an operator takes
// them off one, and from then on the escalation's reminder no longer
// reaches their number (it still reaches the others' at the same step),
// they count as cancelled, the counts still add up to the recipients, a
// reply from them changes nothing, and the audit names who did it.
func TestCancelledRecipientIsCalledNoMore(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock})
	ctx := testCtx(t)
	_, err := r.plans.ApplyPlan(ctx, "test", "escalate.yaml", escalatePlan())
	require.NoError(t, err)
	n := r.c.WaitLeader(15 * time.Second).Node
	svc := notify.NewService(n, n, senders)
	a, err := svc.Activate(ctx, "trainer", notify.ActivationRequest{Plan: "escalate", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "EXERCISE", Reason: "叫应演练"})
	require.NoError(t, err)
	r.waitSettled(t, a.ID, 60*time.Second)
	r.waitSimIdle(t, 30*time.Second)
	var silent []notify.Recipient
	for _, rc := range r.recipientsOf(t, a.ID) {
		if rc.State == notify.StateDelivered {
			silent = append(silent, rc)
		}
	}
	require.GreaterOrEqual(t, len(silent), 2, "nobody answers in this test")
	gone, other := silent[0], silent[1]

	// Deleted from the roster, they are still called up, and the call-up
	// that does is named with what it will still do.
	require.NoError(t, r.plans.DeletePerson(ctx, "keeper", gone.Person))
	ups, err := svc.CallUpsOf(ctx, muster.Default, gone.Person)
	require.NoError(t, err)
	require.Len(t, ups, 1)
	assert.Equal(t, a.ID, ups[0].Activation)
	assert.Equal(t, notify.StateDelivered, ups[0].State)
	assert.Equal(t, gone.Phone, ups[0].Phone)
	assert.Contains(t, ups[0].Still, "reminders and calls go on")

	// Taken off it.
	x, err := svc.CancelRecipient(ctx, "值班员", a.ID, gone.Person, "已离职，号码停用")
	require.NoError(t, err)
	assert.Equal(t, notify.StateDelivered, x.From)
	assert.Equal(t, "值班员", x.By)
	assert.Equal(t, clock.Now(), x.At)
	ups, err = svc.CallUpsOf(ctx, muster.Default, gone.Person)
	require.NoError(t, err)
	assert.Empty(t, ups, "no call-up calls them up any more")
	_, err = svc.CancelRecipient(ctx, "值班员", a.ID, gone.Person, "again")
	assert.True(t, muster.IsCode(err, muster.EConflict), "taken off twice: %v", err)
	assert.ErrorContains(t, err, "值班员")

	// The SMS step at T+5 reminds the silent, but not them.
	goneBefore, otherBefore := outboundTo(r.sim, gone.Phone), outboundTo(r.sim, other.Phone)
	clock.Add(5 * time.Minute)
	r.waitFired(t, a.ID, 0)
	r.waitSimIdle(t, 30*time.Second)
	assert.Equal(t, otherBefore+1, outboundTo(r.sim, other.Phone), "the others are reminded")
	assert.Equal(t, goneBefore, outboundTo(r.sim, gone.Phone), "nothing more reaches the number of someone taken off")

	// A 1 from them afterwards is a note: they stay off the call-up.
	r.drillReply(t, "SMcancelled0000000000000000000001", gone.Phone, "1")
	st := r.status(t, a.ID)
	c := st.Summary().Counts
	assert.Equal(t, 1, c.Cancelled)
	assert.Equal(t, 1, st.Counters.ByState[notify.StateCancelled])
	assert.Equal(t, a.Recipients, c.Pending+c.Sending+c.Sent+c.Delivered+c.Acked+c.Declined+c.Failed+c.Escalated+c.Expired+c.Cancelled,
		"the boxes add up to the recipients")
	assert.Equal(t, a.Recipients-1, c.Unanswered(), "someone taken off is not waited for")
	for _, rc := range r.recipientsOf(t, a.ID) {
		if rc.Person == gone.Person {
			assert.Equal(t, notify.StateCancelled, rc.State)
		}
	}
	b, err := svc.Board(ctx, muster.Default, a.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, b.Total.Cancelled, "the board counts them too")
	assert.Equal(t, a.Recipients-1, b.Total.Unanswered)

	// The audit names who took them off.
	entries, _, err := n.Audit(ctx, muster.Default, 0, 10000)
	require.NoError(t, err)
	var by []string
	for _, e := range entries {
		if e.Type == notify.CmdRecipientCancel {
			by = append(by, e.Actor)
		}
	}
	assert.Equal(t, []string{"值班员"}, by, "the one cancel applied is audited with its actor")
}

// Under rules 12 nobody can be taken off a call-up: the cancel is refused,
// saying what it needs, and the recipient stays as they were.
func TestCancelRecipientIsRefusedUnderRules12(t *testing.T) {
	r, a, recs := settledDrill(t, 12)
	n := r.c.WaitLeader(15 * time.Second).Node
	svc := notify.NewService(n, n, senders)
	_, err := svc.CancelRecipient(testCtx(t), "值班员", a.ID, recs[0].Person, "已离职")
	require.Error(t, err)
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	assert.ErrorContains(t, err, "rules 13")
	assert.Zero(t, r.status(t, a.ID).Counters.ByState[notify.StateCancelled])
	assert.Equal(t, recs[0].State, r.recipientsOf(t, a.ID)[0].State)
}
