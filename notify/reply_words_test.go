package notify_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/examples"
	"muster/notify"
	"muster/plans"
)

// A call-up whose SMS asks "回复：1收到，2不能参加" (a level that asks people
// to stand by, not to report) answers SMS replies in those words, where it
// always said 到岗: the confirmation of a 1 or a 2, the help text, the
// answer to a decline after an accept and to STOP; a drill's keeps its
// mark. English speakers are answered as before.
func TestSMSAnswersUseTheCallUpsWords(t *testing.T) {
	r := smallRig(t, 0)
	r.applyStandbyPlan(t)
	for _, purpose := range []string{"exercise", "live"} {
		region := district
		acct := liveAcct
		if purpose == "exercise" {
			region, acct = drillDistrict, drillAcct
		}
		a := r.standbyCallUp(t, purpose, region)
		var zh []notify.Recipient
		for _, rc := range r.recipientsOf(t, a.ID) {
			if rc.Language != plans.LangEN {
				zh = append(zh, rc)
			}
		}
		require.GreaterOrEqual(t, len(zh), 4)
		mark := ""
		if purpose == "exercise" {
			mark = plans.ExerciseMark
		}
		post := func(i int, sid, body string) string { return r.smsReply(t, acct, purpose+sid, zh[i].Phone, body) }
		assert.Equal(t, "<Response><Message>"+mark+"已记录：收到。</Message></Response>", post(0, "a1", "1"), purpose)
		assert.Equal(t, "<Response><Message>"+mark+"您之前已回复收到。本条（不能参加）已记录，并已提示值班人员；如有急事，请直接联系值班人员。</Message></Response>",
			post(0, "a2", "2 家里有事"), purpose)
		assert.Equal(t, "<Response><Message>"+mark+"已记录：不能参加。</Message></Response>", post(1, "d1", "2 在外地"), purpose)
		assert.Equal(t, "<Response><Message>"+mark+"回复1表示收到；不能参加请回复2并说明原因。</Message></Response>", post(2, "h1", "在哪集合？"), purpose)
		assert.Contains(t, post(3, "s1", "退订"), "本次召集：收到请回复1，不能参加请回复2并说明原因。</Message>", purpose)
	}
}

func TestReplyWordsOf(t *testing.T) {
	for _, tc := range []struct {
		template string
		want     notify.ReplyWords
	}{
		{"…{{.AckDeadline}}内回复：1收到，2不能参加并说明原因。{{.Link}}", notify.ReplyWords{Accept: "收到", Decline: "不能参加"}},
		{"…{{.AckDeadline}}内回复：1到岗，2不能到岗并说明原因。", notify.ReplyWords{}},
		{"…内回复1到岗，2不能到岗。", notify.ReplyWords{}},
		{"…请回复确认。", notify.ReplyWords{}},
		{"Reply 1 to report", notify.ReplyWords{}},
	} {
		assert.Equal(t, tc.want, notify.ReplyWordsOf(tc.template), tc.template)
	}
}

// applyStandbyPlan stores the standby plan: the everyone plan whose level
// IV SMS asks "回复：1收到，2不能参加并说明原因" (people to stand by, not to
// report), so that its answers are said in those words.
func (r *callRig) applyStandbyPlan(t *testing.T) {
	t.Helper()
	standby := bytes.Replace(examples.EveryonePlan, []byte("id: everyone"), []byte("id: standby"), 1)
	require.Contains(t, string(standby), "回复1到岗，2不能到岗。")
	standby = bytes.Replace(standby, []byte("回复1到岗，2不能到岗。"), []byte("回复：1收到，2不能参加并说明原因。"), 1)
	_, err := r.plans.ApplyPlan(testCtx(t), "test", "standby.yaml", standby)
	require.NoError(t, err)
}

// standbyCallUp starts a call-up of the standby plan (applyStandbyPlan)
// at level IV over region for purpose, and waits until it has settled.
func (r *callRig) standbyCallUp(t *testing.T, purpose string, region plans.RegionCode) notify.Activation {
	t.Helper()
	n := r.c.WaitLeader(15 * time.Second).Node
	a, err := notify.NewService(n, n, senders).Activate(testCtx(t), "commander",
		notify.ActivationRequest{Plan: "standby", Regions: []plans.RegionCode{region}, Level: "IV", Purpose: purpose, Reason: "巡查值守"})
	require.NoError(t, err)
	r.waitSettled(t, a.ID, 30*time.Second)
	return a
}
