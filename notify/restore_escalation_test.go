package notify_test

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster/clustertest"
	"muster/notify"
	"muster/notify/twiliosim"
)

// voiceAttempts maps the attempt ID of every call the simulator took (from
// its status callback) to the call, failing the test on an attempt ID it
// took twice.
func voiceAttempts(t *testing.T, sim *twiliosim.Server) map[string]twiliosim.Call {
	t.Helper()
	out := map[string]twiliosim.Call{}
	for _, c := range sim.Calls("") {
		u, err := url.Parse(c.StatusCallback)
		require.NoError(t, err)
		id := u.Query().Get("attempt")
		require.NotEmpty(t, id, c.StatusCallback)
		if prev, dup := out[id]; dup {
			assert.Failf(t, "an attempt ID called twice", "%s: %s and %s", id, prev.SID, c.SID)
		}
		out[id] = c
	}
	return out
}

// A backup is taken while a call-up waits for its voice escalation step;
// the cluster it was taken of calls everyone silent when the step comes,
// and so does the cluster restored from it. The restored cluster's calls
// carry the restore's number in their attempt IDs, so the provider's
// records never show one attempt ID twice across the two clusters, and the
// progress of an old call, reported to the restored cluster, does not
// land on its call of the same number. Before, the restored cluster placed
// attempt 1 of every item under the old cluster's ID, and the old call's
// progress was taken for the new one's.
func TestEscalationAttemptsAfterARestoreAreTheirOwn(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 1, people: 60, clock: clock, sim: twiliosim.Config{TimeScale: 0.002}})
	_, a, silent := voiceDrill(t, r, "EXERCISE")
	require.Positive(t, silent)
	m := r.c.Nodes[0]
	var backup bytes.Buffer
	_, err := m.Node.FSM().Backup(&backup)
	require.NoError(t, err)

	// The old cluster's calls.
	clock.Add(5 * time.Minute)
	r.waitFired(t, a.ID, 0)
	r.waitSimIdle(t, 60*time.Second)
	old := voiceAttempts(t, r.sim)
	require.Len(t, old, silent)

	// The restored cluster's, of the same step.
	r.c.Stop(m)
	r.c.Restore(m, backup.Bytes())
	clock.Add(time.Second)
	r.waitFired(t, a.ID, 0)
	sim := r.waitSimIdle(t, 60*time.Second)
	all := voiceAttempts(t, r.sim) // fails on an attempt ID called twice
	require.Len(t, all, 2*silent)
	said := 0
	suffix := restoreSuffix(t, m)
	for id, c := range all {
		if _, before := old[id]; !before {
			assert.True(t, strings.HasSuffix(id, suffix), "a call after the restore carries its number and tag: %s", id)
			if len(c.Said) > 0 {
				said++
			}
		}
	}
	assert.Positive(t, said, "the restored cluster's calls read their script (TwiML fetched under the new IDs)")
	assert.Zero(t, sim.Accounts[drillAcct.SID].Calls.TwiMLErrors, "every TwiML request was answered")

	// An old call's progress, reported now, changes nothing of the item.
	var oldID string
	var oldCall twiliosim.Call
	for id, c := range old {
		oldID, oldCall = id, c
		break
	}
	_, person, _, _, err := notify.ParseEscalationAttemptID(oldID)
	require.NoError(t, err)
	itemOf := func() notify.EscalationItem {
		for _, it := range r.escalationQueue(t, a.ID) {
			if it.Person == person && it.Step == 0 {
				return it
			}
		}
		require.Failf(t, "no escalation item", "%s", person)
		return notify.EscalationItem{}
	}
	before := itemOf()
	require.NotEmpty(t, before.Call)
	form := url.Values{"AccountSid": {drillAcct.SID}, "CallSid": {oldCall.SID}, "CallStatus": {"in-progress"}, "To": {oldCall.To}, "From": {oldCall.From}}
	got, body := r.postHook(t, m.HTTPAddr, notify.HookVoiceStatus+"?attempt="+url.QueryEscape(oldID), form, drillAcct.AuthToken)
	require.Less(t, got, 300, body)
	after := itemOf()
	assert.Equal(t, before.Call, after.Call, "the old call's progress is not the restored cluster's call's")
	assert.Equal(t, before.SID, after.SID)
}
