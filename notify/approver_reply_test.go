package notify_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
	"muster/cluster"
	"muster/notify"
	"muster/notify/twiliosim"
)

// An approver who answers the 【待审批】 text by SMS ("1", as every call-up
// teaches) approves nothing: the reply is taken for an answer to that
// text (InboundApproval: the request still waits, and is named), counted
// on its notice so that what is said back is bounded, and audited. A number whose text the
// provider refused, a stranger's, and one on the drill account are
// unknown numbers as before; so is every reply under rules 12.
func TestAnApproversReplyToTheTextApprovesNothing(t *testing.T) {
	for _, rules := range []int{0, 12} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			r := newApproverRig(t, rigOptions{nodes: 1, people: 50,
				sim:    twiliosim.Config{Rules: []twiliosim.Rule{{Prefix: qianPhone, Outcome: twiliosim.OutcomeReject, Code: 21211}}},
				config: func(_ int, c *cluster.Config) { c.Rules = rules }})
			r.tokens(t, approverTokens...)
			a := r.request(t, "zhang", district)
			r.waitNoticed(t, a.ID)
			n := r.c.Leader().Node
			in := notify.NewInbound(n, notify.InboundConfig{Exercise: []string{drillAcct.SID}})
			t.Cleanup(in.Close)
			seq := 0
			reply := func(from string, acct twiliosim.Account) notify.InboundResult {
				t.Helper()
				seq++
				res, err := in.Submit(testCtx(t), notify.InboundItem{Kind: notify.InboundReply, SID: fmt.Sprintf("SMapprover%d", seq),
					From: from, To: acct.Number, Body: "1", Account: acct.SID, Exercise: acct.SID == drillAcct.SID})
				require.NoError(t, err)
				return res
			}

			first := reply(liPhone, liveAcct)
			second := reply(liPhone, liveAcct)
			for _, res := range []notify.InboundResult{reply(qianPhone, liveAcct), reply("+8613700000077", liveAcct), reply(liPhone, drillAcct)} {
				res.Exercise = false // the drill account's reply says so
				assert.Equal(t, notify.InboundResult{Outcome: notify.InboundUnknown}, res, "not an answer to a text of a request still waiting")
			}
			// As the provider posts it: the TwiML says what to do, a few times at most.
			hook := func(sid string) string {
				t.Helper()
				code, body := r.postHook(t, r.c.Leader().HTTPAddr, "/hooks/twilio/sms-inbound", url.Values{"AccountSid": {liveAcct.SID}, "MessageSid": {sid},
					"From": {liPhone}, "To": {liveAcct.Number}, "Body": {"1"}}, liveAcct.AuthToken)
				require.Equal(t, http.StatusOK, code, body)
				return body
			}
			third := hook("SMhook3")
			st := r.status(t, a.ID)
			assert.Equal(t, notify.StatusPendingApproval, st.Status, "an SMS approves nothing")
			if rules == 12 {
				assert.Equal(t, notify.InboundResult{Outcome: notify.InboundUnknown}, first)
				assert.Zero(t, st.ApproversNotified[0].Replies)
				assert.NotContains(t, third, "<Message>")
				return
			}
			assert.Equal(t, notify.InboundResult{Outcome: notify.InboundApproval, Activation: a.ID, Replies: 1}, first)
			assert.Equal(t, 2, second.Replies)
			assert.Contains(t, third, "<Message>"+notify.ApprovalTakesNoReply(a.ID, false)+"</Message>")
			assert.NotContains(t, hook("SMhook4"), "<Message>", "a phone that answers every SMS is answered a few times at most")
			st = r.status(t, a.ID)
			assert.Equal(t, 4, st.ApproversNotified[0].Replies)
			assert.Zero(t, st.ApproversNotified[1].Replies, "钱七's text was refused")
			assert.Contains(t, notify.ApprovalTakesNoReply(a.ID, false), "muster approve "+string(a.ID))

			// Once decided, a reply is an unknown number's again.
			p, err := notify.NewService(n, n, senders).ApprovalPreview(testCtx(t), a.ID)
			require.NoError(t, err)
			_, err = notify.NewService(n, n, senders).Decide(testCtx(t), "li", a.ID, notify.DecisionRequest{Approve: true, Recipients: p.Total})
			require.NoError(t, err)
			assert.Equal(t, notify.InboundResult{Outcome: notify.InboundUnknown}, reply(liPhone, liveAcct))

			var audit []notify.InboundRecord
			audit, err = notify.NewService(n, n, senders).InboundAudit(testCtx(t), muster.Default, 0, 100)
			require.NoError(t, err)
			require.Len(t, audit, 8, "every reply is audited")
			assert.Equal(t, a.ID, audit[0].Activation)
		})
	}
}

// An approver who is also on the roster, with a call-up of theirs running
// when the 【待审批】 text came (the newest in the thread of the LIVE
// number): their first reply after it answers the text, approving nothing
// and recording nothing on the call-up, and is told that the next reply
// answers the call-up; the next one does. Under rules 12 the first one
// answered the call-up.
func TestARosterApproversFirstReplyAfterTheTextAnswersIt(t *testing.T) {
	for _, rules := range []int{0, 12} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			r := newApproverRig(t, rigOptions{nodes: 1, people: 50, config: func(_ int, c *cluster.Config) { c.Rules = rules }})
			r.tokens(t, approverTokens...)
			callUp := r.activateIn(t, "LIVE", district)
			r.waitSettled(t, callUp.ID, 30*time.Second)
			cao := r.recipientsOf(t, callUp.ID)[0]
			r.tokens(t, access.NewToken{Name: "cao", Holder: "曹倩", Phone: cao.Phone, Role: access.Approver})
			a := r.request(t, "zhang", other)
			st := r.waitNoticed(t, a.ID)
			require.True(t, slices.ContainsFunc(st.ApproversNotified, func(n notify.ApproverNotice) bool { return n.Phone == cao.Phone && n.State == notify.NoticeSent }),
				"曹倩 is texted: %+v", st.ApproversNotified)

			reply := func(sid, body string) string {
				t.Helper()
				code, out := r.postHook(t, r.c.Leader().HTTPAddr, "/hooks/twilio/sms-inbound", url.Values{"AccountSid": {liveAcct.SID}, "MessageSid": {sid},
					"From": {cao.Phone}, "To": {liveAcct.Number}, "Body": {body}}, liveAcct.AuthToken)
				require.Equal(t, http.StatusOK, code, out)
				return out
			}
			first := reply("SMcao1", "1")
			if rules == 12 {
				assert.True(t, r.acked(t, callUp.ID)[cao.Person], "under rules 12 the first reply answered the call-up")
				return
			}
			assert.Contains(t, first, "<Message>"+notify.ApprovalTakesNoReply(a.ID, true)+"</Message>")
			assert.False(t, r.acked(t, callUp.ID)[cao.Person], "nothing recorded on the call-up")
			assert.Equal(t, notify.StatusPendingApproval, r.status(t, a.ID).Status)

			assert.NotContains(t, reply("SMcao2", "1"), "审批", "the next reply answers the call-up")
			assert.True(t, r.acked(t, callUp.ID)[cao.Person])
			assert.Equal(t, notify.StatusPendingApproval, r.status(t, a.ID).Status)
		})
	}
}
