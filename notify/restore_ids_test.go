package notify_test

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/plans"
)

// The cluster a backup was taken of goes on after it: here it makes a
// call-up (A000002) whose SMS carry attempt IDs and answer links with its
// ID. The cluster restored from the backup numbers its own call-ups apart
// (A1000002), so the old call-up's answer link, opened or answered on the
// restored cluster, finds no call-up there, and the old call-up's delivery
// reports change nothing of the new one. Before, the restored cluster made
// A000002 again: the old link opened the new call-up's page and answered
// it for that person, though they had been called up to another.
func TestActivationsAfterARestoreAreNumberedApart(t *testing.T) {
	r := newCallRig(t, rigOptions{nodes: 1, people: 6})
	first := r.activate(t, "live")
	r.waitSettled(t, first.ID, 30*time.Second)
	m := r.c.Nodes[0]
	var backup bytes.Buffer
	_, err := m.Node.FSM().Backup(&backup)
	require.NoError(t, err)

	// The old cluster goes on: a call-up after the backup.
	r.standDown(t, first.ID)
	old := r.activate(t, "live")
	r.waitSettled(t, old.ID, 30*time.Second)
	r.waitSimIdle(t, 10*time.Second)
	oldRecs := r.recipientsOf(t, old.ID)
	require.NotEmpty(t, oldRecs)
	byPhone := map[string]plans.PersonID{}
	for _, rc := range oldRecs {
		byPhone[rc.Phone] = rc.Person
	}
	links, reports := map[plans.PersonID]string{}, map[plans.PersonID]url.Values{}
	for _, msg := range r.sim.Messages("") {
		person, ok := byPhone[msg.To]
		if msg.Direction != "outbound-api" || !ok {
			continue
		}
		u, err := url.Parse(msg.StatusCallback)
		require.NoError(t, err)
		if attempt := u.Query().Get("attempt"); strings.HasPrefix(attempt, string(old.ID)+".") {
			reports[person] = url.Values{"attempt": {attempt}, "sid": {msg.SID}}
			if mm := linkRE.FindStringSubmatch(msg.Body); mm != nil {
				links[person] = mm[2]
			}
		}
	}
	require.Len(t, links, len(oldRecs), "every old recipient got a link")

	r.c.Stop(m)
	r.c.Restore(m, backup.Bytes())
	r.standDown(t, first.ID)
	again := r.activate(t, "live")
	assert.NotEqual(t, old.ID, again.ID, "the restored cluster's call-up has an ID of its own")
	assert.True(t, strings.HasPrefix(string(again.ID), "A1"), "numbered after the restore: %s", again.ID)
	assert.True(t, strings.HasSuffix(string(again.ID), strings.TrimPrefix(string(old.ID), "A0")), "the old numbering goes on below: %s", again.ID)
	r.waitSettled(t, again.ID, 30*time.Second)

	for person, tok := range links {
		p := openPage(t, r.front.URL, tok)
		assert.Equal(t, http.StatusNotFound, p.code, "the old call-up's link opens no call-up of the restored cluster (%s): %s", person, p.body)
		p = postAnswer(t, r.front.URL, tok, url.Values{"answer": {"2"}, "reason": {"旧链接"}, "f": {"AAAAAAAAAAAAAAAAAAAAAA"}}, nil)
		assert.Equal(t, http.StatusNotFound, p.code, "an answer through the old link answers nothing (%s)", person)
	}
	for person, rep := range reports {
		got, body := r.postHook(t, m.HTTPAddr, "/hooks/twilio/sms-status?attempt="+url.QueryEscape(rep.Get("attempt")),
			url.Values{"AccountSid": {liveAcct.SID}, "MessageSid": {rep.Get("sid")}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}}, liveAcct.AuthToken)
		require.Less(t, got, 300, "%s: %s", person, body)
	}
	for _, rc := range r.recipientsOf(t, again.ID) {
		assert.Equal(t, "delivered", string(rc.State), "%s: the old call-up's link and reports change nothing of the new one", rc.Person)
	}
}
