package notify_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/access"
	"muster/cluster/clustertest"
	"muster/notify"
)

// The requester of a request that waits no more is told what became of it
// at the phone of a token of theirs whose holder is their name written
// another way ("zhang  san" for "Zhang San"), as the approval rule tells
// people apart; it was looked up as written, and the requester was not
// told.
func TestTheRequesterIsToldAtATokenOfTheirsWrittenAnotherWay(t *testing.T) {
	clock := clustertest.NewClock(time.Now().UTC())
	r := newApproverRig(t, rigOptions{nodes: 1, people: 300, clock: clock})
	for _, tok := range []access.NewToken{
		{Name: "zhang", Holder: "Zhang San", Role: access.Commander},
		{Name: "zhang-phone", Holder: "zhang  san", Phone: "139 0000 0004", Role: access.Approver},
		{Name: "li", Holder: "李四", Phone: "13900000002", Role: access.Approver},
	} {
		r.tokens(t, tok)
		clock.Add(time.Second)
	}
	n := r.c.WaitLeader(15 * time.Second).Node
	svc := notify.NewService(n, n, senders)
	svc.Clock = clock
	a := r.request(t, "zhang", district)
	st := r.waitNoticed(t, a.ID)
	require.Len(t, st.ApproversNotified, 1)
	assert.Equal(t, "李四", st.ApproversNotified[0].Holder, "the requester's own token is not texted to approve")

	_, err := svc.Decide(testCtx(t), "li", a.ID, notify.DecisionRequest{Reason: "信息不实，先核实"})
	require.NoError(t, err)
	st = r.waitDecisionNoticed(t, a.ID)
	require.Len(t, st.DecisionNotices, 1, "%+v", st.DecisionNotices)
	assert.Equal(t, "Zhang San", st.DecisionNotices[0].Holder)
	assert.Equal(t, zhangAppPhone, st.DecisionNotices[0].Phone)
	assert.Equal(t, notify.NoticeSent, st.DecisionNotices[0].State, st.DecisionNotices[0].Error)
	want := resultLead(a.ID, "东湖区") + "已被李四驳回：信息不实，先核实。本短信无需回复。"
	assert.Equal(t, []string{want}, r.texts(zhangAppPhone, a.ID))
}
