package notify_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster/clustertest"
	"muster/notify"
)

// standInHeld is a provider that, while hold is set, refuses for now
// every SMS that calls up a backup in someone's place (its text says
// whom they stand in for): such a backup's call-up stays pending, not
// sent, as behind a long queue, until its retry comes due on the clock.
type standInHeld struct {
	notify.Provider
	hold *atomic.Bool
}

func (p standInHeld) SendSMS(ctx context.Context, m notify.SMS) (notify.Sent, error) {
	if p.hold.Load() && standsInSaid(m.Body) {
		return notify.Sent{}, &notify.SendError{Temporary: true, HTTPStatus: 400, Code: 21611, Message: "held by the test"}
	}
	return p.Provider.SendSMS(ctx, m)
}

func (p standInHeld) PlaceCall(ctx context.Context, c notify.Call) (notify.Placed, error) {
	return p.Provider.(notify.Caller).PlaceCall(ctx, c)
}

// standsInSaid reports whether an SMS calls up a backup in someone's place.
func standsInSaid(body string) bool {
	return strings.Contains(body, "未能联系，请您替补") || strings.Contains(body, "you stand in for them")
}

// A backup whose call-up has not been sent yet when the person they stand
// in for answers 到 is not sent it (rules 13): they leave the call-up as
// cancelled, their stand-in record and the status say that the person
// reported first (not_sent, stand_in_not_sent), and nothing of the
// call-up ever reaches them, even once their send could be tried again.
// Before, their call-up went out, asking them to stand in for someone who
// had reported, and nothing told them otherwise.
func TestABackupNotYetSentIsNotSentOnceThePersonReports(t *testing.T) {
	var hold atomic.Bool
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock,
		disp: notify.DispatcherConfig{Clock: clock}, // the retries wait for the clock
		wrap: func(_ bool, p notify.Provider) notify.Provider { return standInHeld{Provider: p, hold: &hold} }})
	plan := strings.Replace(string(escalatePlan()), "      - {after: 5m, do: sms}\n      - {after: 10m, do: superior}\n      - {after: 15m, do: backup}\n",
		"      - {after: 5m, do: backup}\n", 1)
	require.Contains(t, plan, "{after: 5m, do: backup}")
	a := escalateDrillOf(t, r, []byte(plan))

	hold.Store(true)
	clock.Add(5 * time.Minute)
	r.waitFired(t, a.ID, 0)
	// A backup whose call-up was tried, refused for now, and waits for
	// its retry: pending, not sent.
	var backup notify.Recipient
	require.Eventually(t, func() bool {
		for _, rc := range r.recipientsOf(t, a.ID) {
			if rc.BackupFor != nil && rc.State == notify.StatePending && rc.Attempt != nil && !rc.Attempt.NextTry.IsZero() &&
				(backup.Person == "" || rc.Person < backup.Person) {
				backup = rc
			}
		}
		return backup.Person != ""
	}, 30*time.Second, 20*time.Millisecond, "a backup's call-up waits, not sent")
	var silent notify.Recipient
	for _, rc := range r.recipientsOf(t, a.ID) {
		if rc.Person == backup.BackupFor.Person {
			silent = rc
		}
	}
	require.Equal(t, notify.StateEscalated, silent.State, "the person they stand in for was silent")

	r.drillReply(t, "SMnotsent0001", silent.Phone, "1")
	require.Eventually(t, func() bool { return r.acked(t, a.ID)[silent.Person] }, 10*time.Second, 20*time.Millisecond)

	var b notify.Recipient
	for _, rc := range r.recipientsOf(t, a.ID) {
		if rc.Person == backup.Person {
			b = rc
		}
	}
	assert.Equal(t, notify.StateCancelled, b.State, "the backup %s is not needed: taken off the call-up", b.Person)
	require.NotNil(t, b.BackupFor)
	assert.True(t, b.BackupFor.NotSent, "their stand-in record says the person reported before their call-up was sent")
	st := r.status(t, a.ID)
	assert.EqualValues(t, 1, st.Counters.Dispatch[notify.StandInNotSentCounter], "counted")
	assert.Positive(t, st.Counters.ByState[notify.StateCancelled])
	require.NotNil(t, st.StandIns)
	for _, sb := range st.StandIns.First {
		if sb.Backup == b.Person {
			assert.Equal(t, notify.StateCancelled, sb.State)
			assert.True(t, sb.For.NotSent)
			assert.Equal(t, notify.StateAcked, sb.ForState)
		}
	}

	// The sends go through again and the retries come due: every other
	// backup gets their call-up, this one nothing.
	hold.Store(false)
	clock.Add(time.Hour)
	r.waitSettled(t, a.ID, 60*time.Second)
	r.waitSimIdle(t, 30*time.Second)
	others := 0
	for _, m := range r.sim.Messages("") {
		if m.Direction != "outbound-api" || !standsInSaid(m.Body) {
			continue
		}
		assert.NotEqual(t, b.Phone, m.To, "no call-up to the backup not needed: %q", m.Body)
		others++
	}
	t.Logf("backup %s of %s not sent; %d other backups' call-ups sent", b.Person, silent.Person, others)
	assert.Positive(t, others, "the other backups' call-ups went out once the sends went through")
}
