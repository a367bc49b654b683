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
			var hold atomic.Bool
			p := standInInFlight{hold: &hold, entered: make(chan string, 1), gate: make(chan struct{}), fail: tc.fail}
			clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
			r := newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock,
				disp: notify.DispatcherConfig{Clock: clock}, // the retries wait for the clock
				wrap: func(_ bool, pr notify.Provider) notify.Provider { p := p; p.Provider = pr; return p }})
			released := false
			t.Cleanup(func() {
				if !released {
					close(p.gate)
				}
			})
			plan := strings.Replace(string(escalatePlan()), "      - {after: 5m, do: sms}\n      - {after: 10m, do: superior}\n      - {after: 15m, do: backup}\n",
				"      - {after: 5m, do: backup}\n", 1)
			require.Contains(t, plan, "{after: 5m, do: backup}")
			a := escalateDrillOf(t, r, []byte(plan))

			hold.Store(true)
			clock.Add(5 * time.Minute)
			r.waitFired(t, a.ID, 0)
			var phone string
			select {
			case phone = <-p.entered:
			case <-time.After(30 * time.Second):
				require.FailNow(t, "no backup's call-up went on the wire")
			}
			recs := func() map[plans.PersonID]notify.Recipient {
				out := map[plans.PersonID]notify.Recipient{}
				for _, rc := range r.recipientsOf(t, a.ID) {
					out[rc.Person] = rc
				}
				return out
			}
			var backup notify.Recipient
			for _, rc := range recs() {
				if rc.Phone == phone && rc.BackupFor != nil {
					backup = rc
				}
			}
			require.NotEmpty(t, backup.Person, "the SMS on the wire calls up a backup: %s", phone)
			require.Equal(t, notify.StateSending, backup.State, "claimed, the provider not yet answered")
			silent := recs()[backup.BackupFor.Person]
			require.Equal(t, notify.StateEscalated, silent.State, "the person they stand in for was silent")

			r.drillReply(t, "SMinflight0001", silent.Phone, "1")
			require.Eventually(t, func() bool { return r.acked(t, a.ID)[silent.Person] }, 10*time.Second, 20*time.Millisecond)
			require.Equal(t, notify.StateSending, recs()[backup.Person].State, "too late to be taken off: on the wire")

			close(p.gate)
			released = true
			var b notify.Recipient
			require.Eventually(t, func() bool {
				b = recs()[backup.Person]
				return b.State != notify.StateSending
			}, 30*time.Second, 20*time.Millisecond, "the send's result is recorded")
			hold.Store(false)
			clock.Add(time.Hour) // retries come due, and the backups' escalation would go on
			require.Eventually(t, func() bool {
				b = recs()[backup.Person]
				return b.State != notify.StatePending && b.State != notify.StateSending
			}, 30*time.Second, 20*time.Millisecond, "a retry waiting is made")
			r.waitSimIdle(t, 30*time.Second)
			if tc.name == "sent" {
				require.Eventually(t, func() bool {
					for _, m := range r.sim.Messages(backup.Phone) {
						if m.Direction == "outbound-api" && reliefSaid(m.Body) {
							return true
						}
					}
					return false
				}, 20*time.Second, 20*time.Millisecond, "the backup %s, reached, is told %s reported", backup.Person, silent.Person)
				r.waitSimIdle(t, 10*time.Second)
			}
			b = recs()[backup.Person]
			var calls, reliefs []string
			for _, m := range r.sim.Messages(backup.Phone) {
				switch {
				case m.Direction != "outbound-api":
				case standsInSaid(m.Body):
					calls = append(calls, m.Body)
				case reliefSaid(m.Body):
					reliefs = append(reliefs, m.Body)
				}
			}
			t.Logf("backup %s of %s: %s; call-ups %q; reliefs %q", b.Person, silent.Person, b.State, calls, reliefs)
			st := r.status(t, a.ID)
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
			for _, rc := range recs() {
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
			n := 0
			for _, c := range st.Counters.ByState {
				n += c
			}
			assert.Equal(t, st.Counters.Total, n, "every recipient counted once: %v", st.Counters.ByState)
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
	var hold atomic.Bool
	p := standInInFlight{hold: &hold, entered: make(chan string, 1), gate: make(chan struct{})}
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock,
		disp: notify.DispatcherConfig{Clock: clock, Workers: 1}, // one send at a time: the others wait, claimed
		wrap: func(_ bool, pr notify.Provider) notify.Provider { p := p; p.Provider = pr; return p }})
	released := false
	t.Cleanup(func() {
		if !released {
			close(p.gate)
		}
	})
	plan := strings.Replace(string(escalatePlan()), "      - {after: 5m, do: sms}\n      - {after: 10m, do: superior}\n      - {after: 15m, do: backup}\n",
		"      - {after: 5m, do: backup}\n", 1)
	require.Contains(t, plan, "{after: 5m, do: backup}")
	a := escalateDrillOf(t, r, []byte(plan))

	hold.Store(true)
	clock.Add(5 * time.Minute)
	var onWire string
	select {
	case onWire = <-p.entered:
	case <-time.After(30 * time.Second):
		require.FailNow(t, "no backup's call-up went on the wire")
	}
	recs := func() map[plans.PersonID]notify.Recipient {
		out := map[plans.PersonID]notify.Recipient{}
		for _, rc := range r.recipientsOf(t, a.ID) {
			out[rc.Person] = rc
		}
		return out
	}
	// A backup claimed (sending) whose send waits behind the one held.
	var backup notify.Recipient
	require.Eventually(t, func() bool {
		for _, rc := range recs() {
			if rc.BackupFor != nil && rc.State == notify.StateSending && rc.Phone != onWire {
				backup = rc
				return true
			}
		}
		return false
	}, 30*time.Second, 20*time.Millisecond, "a second backup's call-up is claimed behind the one on the wire")
	silent := recs()[backup.BackupFor.Person]
	require.Equal(t, notify.StateEscalated, silent.State, "the person they stand in for was silent")

	r.drillReply(t, "SMclaimed00001", silent.Phone, "1")
	require.Eventually(t, func() bool { return r.acked(t, a.ID)[silent.Person] }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, notify.StateSending, recs()[backup.Person].State, "claimed: left to the dispatcher")

	close(p.gate)
	released = true
	var b notify.Recipient
	require.Eventually(t, func() bool {
		b = recs()[backup.Person]
		return b.State != notify.StateSending
	}, 30*time.Second, 20*time.Millisecond, "the claim is settled")
	hold.Store(false)
	clock.Add(time.Hour) // a retry would come due, and the backups' escalation would go on
	r.waitSimIdle(t, 30*time.Second)
	b = recs()[backup.Person]
	var calls, reliefs []string
	for _, m := range r.sim.Messages(backup.Phone) {
		switch {
		case m.Direction != "outbound-api":
		case standsInSaid(m.Body):
			calls = append(calls, m.Body)
		case reliefSaid(m.Body):
			reliefs = append(reliefs, m.Body)
		}
	}
	t.Logf("backup %s of %s: %s; call-ups %q; reliefs %q", b.Person, silent.Person, b.State, calls, reliefs)
	assert.Equal(t, notify.StateCancelled, b.State, "not sent: not needed")
	require.NotNil(t, b.BackupFor)
	assert.True(t, b.BackupFor.NotSent, "their stand-in record says the person reported first")
	assert.Empty(t, calls, "their call-up never went out")
	assert.Empty(t, reliefs, "nothing reached them to take back")
	st := r.status(t, a.ID)
	assert.EqualValues(t, 1, st.Counters.Dispatch[notify.StandInNotSentCounter])
	n := 0
	for _, c := range st.Counters.ByState {
		n += c
	}
	assert.Equal(t, st.Counters.Total, n, "every recipient counted once: %v", st.Counters.ByState)
}
