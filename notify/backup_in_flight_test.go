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
	"muster/plans"
)

// standInInFlight is a provider that, while hold is set, holds every SMS
// calling up a backup in someone's place (standsInSaid) on the wire until
// gate closes, telling in whose number it took, and then answers it with
// fail when set, else sends it.
type standInInFlight struct {
	notify.Provider
	hold    *atomic.Bool
	entered chan string
	gate    chan struct{}
	fail    *notify.SendError
}

func (p standInInFlight) SendSMS(ctx context.Context, m notify.SMS) (notify.Sent, error) {
	if p.hold.Load() && standsInSaid(m.Body) {
		select {
		case p.entered <- m.To:
		default:
		}
		select {
		case <-p.gate:
		case <-ctx.Done():
			return notify.Sent{}, ctx.Err()
		}
		if p.fail != nil {
			return notify.Sent{}, p.fail
		}
	}
	return p.Provider.SendSMS(ctx, m)
}

func (p standInInFlight) PlaceCall(ctx context.Context, c notify.Call) (notify.Placed, error) {
	return p.Provider.(notify.Caller).PlaceCall(ctx, c)
}

// reliefSaid reports whether an SMS tells a backup that the person they
// stand in for reported.
func reliefSaid(body string) bool {
	return strings.Contains(body, "已回复到岗，您无需替补") || strings.Contains(body, "you need not stand in for them")
}

// inFlightRig is a drill of 300 on one node whose first escalation step,
// at T+5, calls up a backup for everyone silent, with every backup's SMS
// held (p) once the step fires until released.
type inFlightRig struct {
	*callRig
	p        standInInFlight
	hold     *atomic.Bool
	clock    *clustertest.Clock
	a        notify.Activation
	released bool
}

// newInFlightRig starts the drill; fail answers the held sends (nil:
// sent); workers bounds the exercise route's concurrent sends (0: the
// default).
func newInFlightRig(t *testing.T, fail *notify.SendError, workers int) *inFlightRig {
	f := &inFlightRig{hold: new(atomic.Bool), clock: clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))}
	f.p = standInInFlight{hold: f.hold, entered: make(chan string, 1), gate: make(chan struct{}), fail: fail}
	f.callRig = newCallRig(t, rigOptions{nodes: 1, people: 300, clock: f.clock,
		disp: notify.DispatcherConfig{Clock: f.clock, Workers: workers}, // the retries wait for the clock
		wrap: func(_ bool, pr notify.Provider) notify.Provider { p := f.p; p.Provider = pr; return p }})
	t.Cleanup(f.release)
	plan := strings.Replace(string(escalatePlan()), "      - {after: 5m, do: sms}\n      - {after: 10m, do: superior}\n      - {after: 15m, do: backup}\n",
		"      - {after: 5m, do: backup}\n", 1)
	require.Contains(t, plan, "{after: 5m, do: backup}")
	f.a = escalateDrillOf(t, f.callRig, []byte(plan))
	return f
}

// fire holds the backups' SMS and lets the step fire; it returns the
// number the first held SMS went to.
func (f *inFlightRig) fire(t *testing.T) string {
	f.hold.Store(true)
	f.clock.Add(5 * time.Minute)
	select {
	case phone := <-f.p.entered:
		return phone
	case <-time.After(30 * time.Second):
		require.FailNow(t, "no backup's call-up went on the wire")
	}
	return ""
}

// release lets the held sends go on (once).
func (f *inFlightRig) release() {
	if !f.released {
		f.released = true
		close(f.p.gate)
	}
}

// recs reads the drill's recipients by person.
func (f *inFlightRig) recs(t *testing.T) map[plans.PersonID]notify.Recipient {
	out := map[plans.PersonID]notify.Recipient{}
	for _, rc := range f.recipientsOf(t, f.a.ID) {
		out[rc.Person] = rc
	}
	return out
}

// report makes the person a backup stands in for answer 1, and checks
// that the backup's send is still claimed then.
func (f *inFlightRig) report(t *testing.T, sid string, backup notify.Recipient) notify.Recipient {
	silent := f.recs(t)[backup.BackupFor.Person]
	require.Equal(t, notify.StateEscalated, silent.State, "the person they stand in for was silent")
	f.drillReply(t, sid, silent.Phone, "1")
	require.Eventually(t, func() bool { return f.acked(t, f.a.ID)[silent.Person] }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, notify.StateSending, f.recs(t)[backup.Person].State, "too late to be taken off: claimed")
	return silent
}

// settle releases the held sends and waits until the backup's claim is
// settled; then no send is held, and an hour passes (retries come due,
// and the backups' escalation would go on).
func (f *inFlightRig) settle(t *testing.T, backup notify.Recipient) {
	f.release()
	require.Eventually(t, func() bool {
		return f.recs(t)[backup.Person].State != notify.StateSending
	}, 30*time.Second, 20*time.Millisecond, "the send's result is recorded")
	f.hold.Store(false)
	f.clock.Add(time.Hour)
}

// sent lists the call-ups and the relief SMS that went to phone.
func (f *inFlightRig) sent(phone string) (calls, reliefs []string) {
	for _, m := range f.sim.Messages(phone) {
		switch {
		case m.Direction != "outbound-api":
		case standsInSaid(m.Body):
			calls = append(calls, m.Body)
		case reliefSaid(m.Body):
			reliefs = append(reliefs, m.Body)
		}
	}
	return calls, reliefs
}

// countedOnce checks that st counts every recipient once.
func countedOnce(t *testing.T, st notify.ActivationStatus) {
	n := 0
	for _, c := range st.Counters.ByState {
		n += c
	}
	assert.Equal(t, st.Counters.Total, n, "every recipient counted once: %v", st.Counters.ByState)
}

// A backup whose call-up is on the wire (sending: claimed, the provider
// not yet answered) when the person they stand in for answers 到 is too
// late to be taken off, and was not yet reached to be relieved. From rules
// 13, once that send's result is recorded: sent, they get the relief SMS
// a backup reached gets, once, and their escalation does not start; it
// failed for good, they get nothing more; refused for now, it is not tried
// again (not_sent, cancelled, as a backup whose call-up waited). Before,
// the sent backup was told nothing, and came in for a person who had
// reported; the refused one got their call-up on its retry.
func TestABackupInFlightWhenThePersonReports(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail *notify.SendError
	}{
		{name: "sent"},
		{name: "failed", fail: &notify.SendError{HTTPStatus: 400, Code: 21612, Message: "failed by the test"}},
		{name: "refused for now", fail: &notify.SendError{Temporary: true, HTTPStatus: 400, Code: 21611, Message: "refused for now by the test"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newInFlightRig(t, tc.fail, 0)
			phone := f.fire(t)
			f.waitFired(t, f.a.ID, 0)
			var backup notify.Recipient
			for _, rc := range f.recs(t) {
				if rc.Phone == phone && rc.BackupFor != nil {
					backup = rc
				}
			}
			require.NotEmpty(t, backup.Person, "the SMS on the wire calls up a backup: %s", phone)
			require.Equal(t, notify.StateSending, backup.State, "claimed, the provider not yet answered")
			silent := f.report(t, "SMinflight0001", backup)

			f.settle(t, backup)
			var b notify.Recipient
			require.Eventually(t, func() bool {
				b = f.recs(t)[backup.Person]
				return b.State != notify.StatePending && b.State != notify.StateSending
			}, 30*time.Second, 20*time.Millisecond, "a retry waiting is made")
			f.waitSimIdle(t, 30*time.Second)
			if tc.name == "sent" {
				require.Eventually(t, func() bool {
					_, reliefs := f.sent(backup.Phone)
					return len(reliefs) > 0
				}, 20*time.Second, 20*time.Millisecond, "the backup %s, reached, is told %s reported", backup.Person, silent.Person)
				f.waitSimIdle(t, 10*time.Second)
			}
			b = f.recs(t)[backup.Person]
			calls, reliefs := f.sent(backup.Phone)
			t.Logf("backup %s of %s: %s; call-ups %q; reliefs %q", b.Person, silent.Person, b.State, calls, reliefs)
			st := f.status(t, f.a.ID)
			switch tc.name {
			case "sent":
				assert.Contains(t, []notify.State{notify.StateSent, notify.StateDelivered}, b.State, "reached, not escalated: they need not come")
				assert.Len(t, calls, 1)
				require.Len(t, reliefs, 1, "told once")
				assert.True(t, strings.HasPrefix(reliefs[0], plans.ExerciseMark), "a drill's: %q", reliefs[0])
				assert.Contains(t, reliefs[0], silent.Name)
				assert.Zero(t, st.Counters.Dispatch[notify.StandInNotSentCounter])
			case "failed":
				assert.Equal(t, notify.StateFailed, b.State)
				assert.Empty(t, calls)
				assert.Empty(t, reliefs, "not reached: nothing to take back")
				assert.Zero(t, st.Counters.Dispatch[notify.StandInNotSentCounter])
			default:
				assert.Equal(t, notify.StateCancelled, b.State, "not tried again: not needed")
				require.NotNil(t, b.BackupFor)
				assert.True(t, b.BackupFor.NotSent)
				assert.Empty(t, calls, "their call-up is not sent on a retry")
				assert.Empty(t, reliefs)
				assert.EqualValues(t, 1, st.Counters.Dispatch[notify.StandInNotSentCounter])
			}
			standIns := 0
			for _, rc := range f.recs(t) {
				if rc.BackupFor != nil && rc.BackupFor.Person == silent.Person {
					standIns++
				}
			}
			assert.Equal(t, 1, standIns, "no one else called up for %s, who reported", silent.Person)
			require.NotNil(t, st.StandIns)
			for _, sb := range st.StandIns.First {
				if sb.Backup == b.Person {
					assert.Equal(t, b.State, sb.State)
					assert.Equal(t, notify.StateAcked, sb.ForState)
				}
			}
			countedOnce(t, st)
		})
	}
}

// A backup whose call-up is claimed but not yet on the wire (waiting for
// a worker: the route has one, held by another backup's send) when the
// person they stand in for answers 到 is not sent it (rules 13): the
// dispatcher drops the send when its turn comes, and the dropped claim
// takes them off the call-up as one never claimed (not_sent, cancelled);
// a claim handed back by a stopping dispatcher is released the same way.
// Before, the send went out when its turn came, and the relief SMS after
// it.
func TestABackupClaimedButNotSentWhenThePersonReportsIsNotSent(t *testing.T) {
	f := newInFlightRig(t, nil, 1) // one send at a time: the others wait, claimed
	onWire := f.fire(t)
	// A backup claimed (sending) whose send waits behind the one held.
	var backup notify.Recipient
	require.Eventually(t, func() bool {
		for _, rc := range f.recs(t) {
			if rc.BackupFor != nil && rc.State == notify.StateSending && rc.Phone != onWire {
				backup = rc
				return true
			}
		}
		return false
	}, 30*time.Second, 20*time.Millisecond, "a second backup's call-up is claimed behind the one on the wire")
	silent := f.report(t, "SMclaimed00001", backup)

	f.settle(t, backup)
	f.waitSimIdle(t, 30*time.Second)
	b := f.recs(t)[backup.Person]
	calls, reliefs := f.sent(backup.Phone)
	t.Logf("backup %s of %s: %s; call-ups %q; reliefs %q", b.Person, silent.Person, b.State, calls, reliefs)
	assert.Equal(t, notify.StateCancelled, b.State, "not sent: not needed")
	require.NotNil(t, b.BackupFor)
	assert.True(t, b.BackupFor.NotSent, "their stand-in record says the person reported first")
	assert.Empty(t, calls, "their call-up never went out")
	assert.Empty(t, reliefs, "nothing reached them to take back")
	st := f.status(t, f.a.ID)
	assert.EqualValues(t, 1, st.Counters.Dispatch[notify.StandInNotSentCounter])
	countedOnce(t, st)
}
