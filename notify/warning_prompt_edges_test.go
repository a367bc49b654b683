package notify_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/access"
	"muster/notify"
	"muster/plans"
)

// Phones of the people who hold a commander token and an approver token.
const (
	chenPhone         = "+8613900000024" // 陈五's commander token
	chenApproverPhone = "+8613900000025" // 陈五's approver token
)

// A person who holds a commander token and an approver token is called on
// once, as a commander (叫应): the escalation to the superiors (叫应升级)
// texts the other approvers, and lists them as skipped, already called on
// as a commander, whether their approver token has the same phone (周一)
// or another (陈五, told apart by their name).
func TestACommanderWhoIsAlsoAnApproverIsNotTextedAsTheirOwnSuperior(t *testing.T) {
	r := newPromptRig(t, 1)
	createTokens(t, r.c.WaitLeader(15*time.Second).Node, append(promptTokens,
		access.NewToken{Name: "zhou-approver", Holder: "周一", Phone: commanderPhone, Role: access.Approver},
		access.NewToken{Name: "chen", Holder: "陈五", Phone: chenPhone, Role: access.Commander},
		access.NewToken{Name: "chen-approver", Holder: "陈 五", Phone: chenApproverPhone, Role: access.Approver})...)
	w := r.issue(t, district)
	r.clock.Add(promptTimeout)
	prompted := r.waitPrompted(t, w.ID)
	require.Len(t, prompted.Prompted.Texts, 2, "周一 and 陈五: %+v", prompted.Prompted.Texts)
	r.clock.Add(promptTimeout)
	got := r.waitEscalated(t, w.ID)

	assert.Len(t, r.sim.Messages(commanderPhone), 1, "周一 is texted as a commander only")
	assert.Len(t, r.sim.Messages(chenPhone), 1, "陈五 is texted as a commander only")
	assert.Empty(t, r.sim.Messages(chenApproverPhone), "nor at their approver token's phone")
	msgs := r.sim.Messages(approverPhone)
	require.Len(t, msgs, 1, "the approver who is no commander is texted")
	assert.Contains(t, msgs[0].Body, "【叫应升级】")
	assert.EqualValues(t, 3, r.sim.Stats().Accounts[liveAcct.SID].Created)

	require.NotNil(t, got.Escalated)
	assert.False(t, got.Escalated.NoPhone)
	states := map[string]plans.TextNotice{}
	for _, n := range got.Escalated.Texts {
		states[n.Phone] = n
	}
	require.Len(t, states, 3, "%+v", got.Escalated.Texts)
	assert.Equal(t, plans.NoticeSent, states[approverPhone].State)
	for _, p := range []string{commanderPhone, chenApproverPhone} {
		assert.Equal(t, plans.NoticeSkipped, states[p].State, p)
		assert.Equal(t, notify.CalledAsCommanderError, states[p].Error, p)
		assert.Zero(t, states[p].Sends, p)
	}
	assert.EqualValues(t, 1, r.escalations.n.Load())
}
