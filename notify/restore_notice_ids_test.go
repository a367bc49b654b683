package notify_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
)

// In a state restored from a backup, the texts telling approvers that a
// request waits, and what became of it, have attempt IDs that carry the
// restore's number and tag as the call-up's and the escalation's do
// (A000002.approver-1.1.r1-k3f9q, A000002.decision-1.1.r1-k3f9q): the cluster the
// backup was taken of may go on to send the texts of a request of the same
// number with the same IDs. Before the restore they carry none.
func TestApproverTextsAfterARestoreCarryTheRestore(t *testing.T) {
	r := newApproverRig(t, rigOptions{nodes: 1, people: 300})
	r.tokens(t, approverTokens...)
	m := r.c.Nodes[0]
	before := r.request(t, "zhang", district)
	st := r.waitNoticed(t, before.ID)
	require.NotEmpty(t, st.ApproversNotified)
	for i, x := range st.ApproversNotified {
		if x.State == notify.NoticeSent {
			assert.Equal(t, notify.ApproverAttemptID(before.ID, i, 1), x.Attempt, "no restore yet")
		}
	}
	var backup bytes.Buffer
	_, err := m.Node.FSM().Backup(&backup)
	require.NoError(t, err)
	r.c.Stop(m)
	r.c.Restore(m, backup.Bytes())
	restored, ok := r.c.WaitLeader(15 * time.Second).Node.FSM().Restored()
	require.True(t, ok)
	require.Equal(t, 1, restored.Count)

	a := r.request(t, "zhang", other)
	st = r.waitNoticed(t, a.ID)
	sent := 0
	for i, x := range st.ApproversNotified {
		if x.Sends == 0 {
			continue // not claimed
		}
		sent++
		want := notify.ApproverAttemptID(a.ID, i, 1) + restoreSuffix(t, m)
		assert.Equal(t, want, x.Attempt, "%s's text", x.Holder)
	}
	require.NotZero(t, sent)

	n := r.c.WaitLeader(15 * time.Second).Node
	_, err = notify.NewService(n, n, senders).Decide(testCtx(t), "li", a.ID, notify.DecisionRequest{Reason: "信息不实，先核实"})
	require.NoError(t, err)
	st = r.waitDecisionNoticed(t, a.ID)
	require.NotEmpty(t, st.DecisionNotices)
	for i, x := range st.DecisionNotices {
		want := notify.DecisionAttemptID(a.ID, i, 1) + restoreSuffix(t, m)
		assert.Equal(t, want, x.Attempt, "%s's text of the decision", x.Holder)
	}
}
