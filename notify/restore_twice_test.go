package notify_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
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

// restoreSuffix is what the attempt IDs made after m's last restore carry:
// its number and tag (".r1-k3f9q").
func restoreSuffix(t testing.TB, m *clustertest.Member) string {
	t.Helper()
	r, ok := m.Node.FSM().Restored()
	require.True(t, ok, "the node was restored")
	require.Len(t, r.Tag, 5, "a restore has a tag")
	return fmt.Sprintf(".r%d-%s", r.Count, r.Tag)
}

// sentReport is what a delivery report of one SMS names.
type sentReport struct{ attempt, sid string }

// sentOf reads from the simulator the call-up SMS of act whose attempt IDs
// end with suffix (those of one restore: two restores of one backup number
// their call-ups alike): each person's answer link (token) and the report
// of their message.
func sentOf(t *testing.T, r *callRig, act plans.ActivationID, suffix string) (map[plans.PersonID]string, map[plans.PersonID]sentReport) {
	t.Helper()
	byPhone := map[string]plans.PersonID{}
	for _, rc := range r.recipientsOf(t, act) {
		byPhone[rc.Phone] = rc.Person
	}
	links, reports := map[plans.PersonID]string{}, map[plans.PersonID]sentReport{}
	for _, msg := range r.sim.Messages("") {
		person, ok := byPhone[msg.To]
		if msg.Direction != "outbound-api" || !ok {
			continue
		}
		u, err := url.Parse(msg.StatusCallback)
		require.NoError(t, err)
		if attempt := u.Query().Get("attempt"); strings.HasPrefix(attempt, string(act)+".") && strings.HasSuffix(attempt, suffix) {
			reports[person] = sentReport{attempt, msg.SID}
			if mm := linkRE.FindStringSubmatch(msg.Body); mm != nil {
				links[person] = mm[2]
			}
		}
	}
	require.Len(t, links, len(byPhone), "every recipient of %s got a link", act)
	return links, reports
}

// One backup restored twice (a rehearsal and the real restore, or a
// restore done again after a failed first one), behind one public URL and
// one provider account. Both number their call-ups alike (A1000003), but
// each restore has a tag of its own: the attempt IDs of the first
// (".r1-<tag>") are not the second's, a delivery report of the first's
// attempt or a key pressed on its call is unknown to the second, and an
// answer link the first sent opens nothing on the second (each restore
// makes its links with a key of its own). The call-up open in the backup
// takes its old links, reports and keys in both. Before, both restores
// were ".r1" with the backup's key: the first's report was taken for the
// second's attempt of the same ID, a key pressed on the first's call
// answered the second's call-up, and so did the first's link.
func TestABackupRestoredTwiceKeepsItsRestoresApart(t *testing.T) {
	var hold atomic.Pointer[chan struct{}]
	r := newCallRig(t, rigOptions{nodes: 1, people: 6,
		wrap: func(_ bool, p notify.Provider) notify.Provider { return heldSends{p, &hold} }})
	ctx := testCtx(t)
	open := r.activate(t, "live")
	r.waitSettled(t, open.ID, 30*time.Second)
	r.waitSimIdle(t, 10*time.Second)
	oldLinks, oldReports := sentOf(t, r, open.ID, "")
	var answerer, presser plans.PersonID // answer through an old link, and on an old call
	for person := range oldLinks {
		if answerer == "" {
			answerer = person
		} else if presser == "" {
			presser = person
		}
	}
	m := r.c.Nodes[0]
	var backup bytes.Buffer
	_, err := m.Node.FSM().Backup(&backup)
	require.NoError(t, err)

	// restore starts the backup as a new cluster; the call-up open in it
	// takes its old reports and answer links, then is stood down for a
	// call-up of the restore's own.
	restore := func(era string) notify.Activation {
		t.Helper()
		r.c.Stop(m)
		r.c.Restore(m, backup.Bytes())
		n := r.c.WaitLeader(15 * time.Second).Node
		in := notify.NewInbound(n, notify.InboundConfig{Tokens: map[string]string{liveAcct.SID: liveAcct.AuthToken}})
		defer in.Close()
		for person, rep := range oldReports {
			res, err := in.Submit(ctx, notify.InboundItem{Kind: notify.InboundStatus, Account: liveAcct.SID, Attempt: rep.attempt, SID: rep.sid, Status: "delivered"})
			require.NoError(t, err)
			assert.Equal(t, notify.InboundUnchanged, res.Outcome, "%s: the report of %s before the backup is %s's", era, person, open.ID)
		}
		res, err := in.Submit(ctx, notify.InboundItem{Kind: notify.InboundDigits, Account: liveAcct.SID, SID: "CAold" + string(presser), Body: "1",
			Attempt: notify.EscalationAttemptID(open.ID, presser, 0, 1)})
		require.NoError(t, err)
		assert.Equal(t, notify.InboundApplied, res.Outcome, "%s: a key pressed on a call before the backup answers %s", era, open.ID)
		p := openPage(t, r.front.URL, oldLinks[answerer])
		require.Equal(t, http.StatusOK, p.code, "%s: the old link opens the call-up open in the backup: %s", era, p.body)
		p = postAnswer(t, r.front.URL, oldLinks[answerer], url.Values{"answer": {"1"}, "f": {p.nonce(t)}}, nil)
		require.Equal(t, http.StatusOK, p.code, p.body)
		for _, rc := range r.recipientsOf(t, open.ID) {
			if rc.Person == answerer || rc.Person == presser {
				assert.Equal(t, notify.StateAcked, rc.State, "%s: the answer through the old link, or on the old call, counts (%s)", era, rc.Person)
			}
		}
		r.standDown(t, open.ID)
		return r.activate(t, "live")
	}

	first := restore("the first restore")
	firstSuffix := restoreSuffix(t, m)
	r.waitSettled(t, first.ID, 30*time.Second)
	r.waitSimIdle(t, 10*time.Second)
	firstLinks, firstReports := sentOf(t, r, first.ID, firstSuffix)

	// The second restore, its sends held: its attempts stay in sending.
	held := make(chan struct{})
	hold.Store(&held)
	second := restore("the second restore")
	secondSuffix := restoreSuffix(t, m)
	assert.NotEqual(t, firstSuffix, secondSuffix, "each restore has a tag of its own")
	require.Equal(t, first.ID, second.ID, "the two restores number their call-ups alike")
	deadline := time.Now().Add(30 * time.Second)
	for st := r.status(t, second.ID); st.Counters.ByState[notify.StateSending] < second.Recipients; st = r.status(t, second.ID) {
		require.True(t, time.Now().Before(deadline), "the second restore did not claim its call-up: %v", st.Counters.ByState)
		time.Sleep(20 * time.Millisecond)
	}

	n := r.c.WaitLeader(15 * time.Second).Node
	in := notify.NewInbound(n, notify.InboundConfig{Tokens: map[string]string{liveAcct.SID: liveAcct.AuthToken}})
	defer in.Close()
	for person, rep := range firstReports {
		res, err := in.Submit(ctx, notify.InboundItem{Kind: notify.InboundStatus, Account: liveAcct.SID, Attempt: rep.attempt, SID: rep.sid, Status: "delivered"})
		require.NoError(t, err)
		assert.Equal(t, notify.InboundUnknown, res.Outcome, "the first restore's report to %s is unknown to the second", person)
	}
	for person := range firstReports {
		res, err := in.Submit(ctx, notify.InboundItem{Kind: notify.InboundDigits, Account: liveAcct.SID, SID: "CAfirst" + string(person), Body: "1",
			Attempt: notify.EscalationAttemptID(first.ID, person, 0, 1) + firstSuffix})
		require.NoError(t, err)
		assert.Equal(t, notify.InboundUnknown, res.Outcome, "a key %s pressed on the first restore's call is unknown to the second", person)
	}
	for person, tok := range firstLinks {
		p := openPage(t, r.front.URL, tok)
		assert.Equal(t, http.StatusNotFound, p.code, "the first restore's link to %s opens nothing on the second: %s", person, p.body)
		p = postAnswer(t, r.front.URL, tok, url.Values{"answer": {"1"}, "f": {"AAAAAAAAAAAAAAAAAAAAAA"}}, nil)
		assert.Equal(t, http.StatusNotFound, p.code, "an answer through the first restore's link to %s answers nothing", person)
	}
	for _, rc := range r.recipientsOf(t, second.ID) {
		assert.Equal(t, notify.StateSending, rc.State, "%s: nothing of the first restore lands on the second's call-up", rc.Person)
	}

	hold.Store(nil)
	close(held)
	r.waitSettled(t, second.ID, 30*time.Second)
	r.waitSimIdle(t, 10*time.Second)
	outboundAttempts(t, r.sim) // fails on an attempt ID sent twice
	secondLinks, secondReports := sentOf(t, r, second.ID, secondSuffix)
	for person, rep := range secondReports {
		assert.NotEqual(t, firstReports[person].attempt, rep.attempt, "%s", person)
	}
	p := openPage(t, r.front.URL, secondLinks[answerer])
	assert.Equal(t, http.StatusOK, p.code, "the second restore's own link opens its call-up: %s", p.body)
}
