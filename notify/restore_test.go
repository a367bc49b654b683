package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
	"muster/notify/twiliosim"
	"muster/plans"
)

// heldSends holds every send while hold is set, until it is cleared (or
// the send's context ends).
type heldSends struct {
	notify.Provider
	hold *atomic.Pointer[chan struct{}]
}

func (h heldSends) SendSMS(ctx context.Context, m notify.SMS) (notify.Sent, error) {
	if ch := h.hold.Load(); ch != nil {
		select {
		case <-*ch:
		case <-ctx.Done():
			return notify.Sent{}, ctx.Err()
		}
	}
	return h.Provider.SendSMS(ctx, m)
}

// TestRestoredBackupSaysSoAndSendsUnderNewAttemptIDs takes a backup in the
// middle of a LIVE call-up sent at 10 SMS/s, lets the cluster finish it
// (every number gets it once), stops it and restores the backup as a new
// cluster, as docs/operations.md says. The restored call-up says that it
// was restored, from which backup, and how many of its people were not yet
// sent to in it: exactly the messages the restored cluster sends. Those
// carry attempt IDs of their own (the restore's number), so the provider's
// records never show one attempt ID twice across the two clusters. A
// delivery report of the old cluster's attempt that arrives after the
// restore proves its person was reached. Before, the call-up did not say
// it was restored, and the restored cluster sent attempt 1 of every person
// the backup had not sent to under the ID the old cluster had used.
func TestRestoredBackupSaysSoAndSendsUnderNewAttemptIDs(t *testing.T) {
	const people = 60
	var hold atomic.Pointer[chan struct{}]
	r := newCallRig(t, rigOptions{nodes: 1, people: people, perSecond: 10, disp: notify.DispatcherConfig{MaxInFlight: 4},
		wrap: func(_ bool, p notify.Provider) notify.Provider { return heldSends{p, &hold} }})
	a := r.activate(t, "live")
	require.Equal(t, people, a.Recipients)
	m := r.c.Nodes[0]

	deadline := time.Now().Add(30 * time.Second)
	for r.status(t, a.ID).Counters.Dispatch["claimed"] < people/4 {
		require.True(t, time.Now().Before(deadline), "dispatch did not start")
		time.Sleep(20 * time.Millisecond)
	}
	var backup bytes.Buffer
	_, err := m.Node.FSM().Backup(&backup)
	require.NoError(t, err)
	r.waitSettled(t, a.ID, 60*time.Second)
	r.waitSimIdle(t, 30*time.Second)
	old := outboundAttempts(t, r.sim)
	require.Len(t, old, people, "the old cluster sent to every number once")

	// Restored, its sends held: what it resumes is claimed, not sent.
	held := make(chan struct{})
	hold.Store(&held)
	r.c.Stop(m)
	r.c.Restore(m, backup.Bytes())
	var st notify.ActivationStatus
	deadline = time.Now().Add(30 * time.Second)
	for st = r.status(t, a.ID); st.Counters.ByState[notify.StateSending] == 0; st = r.status(t, a.ID) {
		require.True(t, time.Now().Before(deadline), "the restored cluster did not resume the call-up: %v", st.Counters.ByState)
		time.Sleep(20 * time.Millisecond)
	}
	var shown struct {
		Restored *struct {
			Restore     int       `json:"restore"`
			BackupIndex uint64    `json:"backup_index"`
			BackupTime  time.Time `json:"backup_time"`
			NotSent     int       `json:"not_sent"`
		} `json:"restored"`
	}
	raw, err := json.Marshal(st)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &shown))
	notSent := -1
	if assert.NotNil(t, shown.Restored, "the call-up says it was restored: %s", raw) {
		assert.Equal(t, 1, shown.Restored.Restore)
		assert.Positive(t, shown.Restored.BackupIndex)
		assert.True(t, shown.Restored.BackupTime.After(a.CreatedAt), "the backup's time is its last command's")
		assert.WithinDuration(t, a.CreatedAt, shown.Restored.BackupTime, 30*time.Second, "the backup's time is its last command's")
		notSent = shown.Restored.NotSent
		assert.Positive(t, notSent)
		assert.Less(t, notSent, people, "those sent before the backup are not counted")
	}

	// Reports of the old cluster's attempts to two of those in sending,
	// arriving now (their numbers are those of the restored cluster's
	// attempts in flight): delivered proves its person was reached; a
	// failure says nothing of the attempt in flight.
	var inFlight []plans.PersonID
	for _, rc := range r.recipientsOf(t, a.ID) {
		if rc.State == notify.StateSending {
			inFlight = append(inFlight, rc.Person)
		}
	}
	require.GreaterOrEqual(t, len(inFlight), 2)
	reached, failed := inFlight[0], inFlight[1]
	oldReport := func(person plans.PersonID, status, code string) {
		t.Helper()
		var oldID string
		for id := range old {
			if strings.HasPrefix(id, string(a.ID)+"."+string(person)+".") {
				oldID = id
			}
		}
		require.NotEmpty(t, oldID)
		report := url.Values{"AccountSid": {liveAcct.SID}, "MessageSid": {old[oldID]}, "MessageStatus": {status}}
		if code != "" {
			report.Set("ErrorCode", code)
		}
		got, body := r.postHook(t, m.HTTPAddr, "/hooks/twilio/sms-status?attempt="+url.QueryEscape(oldID), report, liveAcct.AuthToken)
		require.Less(t, got, 300, body)
	}
	oldReport(reached, "delivered", "")
	oldReport(failed, "undelivered", "30003")
	for _, rc := range r.recipientsOf(t, a.ID) {
		switch rc.Person {
		case reached:
			assert.Equal(t, notify.StateDelivered, rc.State, "the old cluster's delivered report proves %s was reached", reached)
		case failed:
			assert.Equal(t, notify.StateSending, rc.State, "the old cluster's failure says nothing of the attempt in flight to %s", failed)
		}
	}

	hold.Store(nil)
	close(held)
	st = r.waitSettled(t, a.ID, 60*time.Second)
	r.waitSimIdle(t, 30*time.Second)
	assert.Equal(t, map[notify.State]int{notify.StateDelivered: people}, st.Counters.ByState)

	all := outboundAttempts(t, r.sim) // fails on an attempt ID sent twice
	again := len(all) - len(old)
	assert.Equal(t, notSent, again, "the restored cluster sent to exactly the people the status counts")
	suffix := restoreSuffix(t, m)
	for id := range all {
		if _, before := old[id]; !before {
			assert.True(t, strings.HasSuffix(id, suffix), "an attempt after the restore carries its number and tag: %s", id)
		}
	}
}

// outboundAttempts maps the attempt ID of every outbound message the
// simulator took (from its status callback) to its SID, failing the test
// on an attempt ID it took twice.
func outboundAttempts(t *testing.T, sim *twiliosim.Server) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range sim.Messages("") {
		if m.Direction != "outbound-api" {
			continue
		}
		u, err := url.Parse(m.StatusCallback)
		require.NoError(t, err)
		id := u.Query().Get("attempt")
		require.NotEmpty(t, id, m.StatusCallback)
		if prev, dup := out[id]; dup {
			assert.Failf(t, "an attempt ID sent twice", "%s: %s and %s", id, prev, m.SID)
		}
		out[id] = m.SID
	}
	return out
}
