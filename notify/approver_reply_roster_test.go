package notify_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
	"muster/notify"
	"muster/plans"
)

// An approver who is on the roster with no call-up of theirs open answers
// the 【待审批】 text by SMS as one whose number no roster person has: the
// reply is taken for an answer to the text (InboundApproval), approves
// nothing, is audited naming the request, and is told how to approve,
// where it was a reply from a person with no call-up, audited and
// answered with nothing.
func TestARosterApproverWithNoCallUpRepliesToTheText(t *testing.T) {
	r := newApproverRig(t, rigOptions{nodes: 1, people: 50})
	r.tokens(t, approverTokens...)
	people, err := r.plans.People(testCtx(t), muster.Default, plans.PeopleFilter{}, plans.Page{Limit: 1})
	require.NoError(t, err)
	require.Len(t, people.Items, 1)
	cao := people.Items[0]
	require.NotEmpty(t, cao.Phones)
	r.tokens(t, access.NewToken{Name: "cao", Holder: cao.Name, Phone: cao.Phones[0], Role: access.Approver})
	a := r.request(t, "zhang", district)
	st := r.waitNoticed(t, a.ID)
	texted := false
	for _, n := range st.ApproversNotified {
		texted = texted || n.Phone == cao.Phones[0] && n.State == notify.NoticeSent
	}
	require.True(t, texted, "%s is texted: %+v", cao.Name, st.ApproversNotified)

	code, out := r.postHook(t, r.c.Leader().HTTPAddr, "/hooks/twilio/sms-inbound", url.Values{"AccountSid": {liveAcct.SID}, "MessageSid": {"SMcao1"},
		"From": {cao.Phones[0]}, "To": {liveAcct.Number}, "Body": {"1"}}, liveAcct.AuthToken)
	require.Equal(t, http.StatusOK, code, out)
	assert.Contains(t, out, "<Message>"+notify.ApprovalTakesNoReply(a.ID, false)+"</Message>")
	st = r.status(t, a.ID)
	assert.Equal(t, notify.StatusPendingApproval, st.Status, "an SMS approves nothing")
	for _, n := range st.ApproversNotified {
		if n.Phone == cao.Phones[0] {
			assert.Equal(t, 1, n.Replies)
		}
	}
	n := r.c.Leader().Node
	audit, err := notify.NewService(n, n, senders).InboundAudit(testCtx(t), muster.Default, 0, 100)
	require.NoError(t, err)
	require.Len(t, audit, 1)
	assert.Equal(t, notify.InboundApproval, audit[0].Outcome)
	assert.Equal(t, a.ID, audit[0].Activation)
}
