package notify_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/notify"
	"muster/plans"
)

// waitDecisionNoticed polls until the texts telling what became of
// request id are listed and none is due or being sent.
func (r *approverRig) waitDecisionNoticed(t *testing.T, id plans.ActivationID) notify.ActivationStatus {
	t.Helper()
	return r.waitTexts(t, id, func(st notify.ActivationStatus) ([]notify.ApproverNotice, bool) {
		return st.DecisionNotices, st.DecisionNotices != nil
	})
}

// texts are the bodies of the texts to phone about request id.
func (r *approverRig) texts(phone string, id plans.ActivationID) []string {
	var out []string
	for _, m := range r.sim.Messages(phone) {
		if strings.Contains(m.Body, string(id)+" ") {
			out = append(out, m.Body)
		}
	}
	return out
}

// resultLead is how the text of what became of a level I flood request
// over region begins.
func resultLead(id plans.ActivationID, region string) string {
	return "【示例市应急】【审批结果】" + string(id) + " 示例市防汛应急预案特别重大（Ⅰ级）响应（" + region + "）"
}

// Once a request waits no more, its requester (at one phone) and every
// approver its text reached are told what became of it, once each, on the
// LIVE account: rejected, with the reason; approved, with when its
// call-up started and how many it calls; withdrawn; expired. Not the
// person who decided, nor anyone the text of the wait did not reach.
func TestTheRequesterAndTheApproversTextedAreToldWhatBecameOfARequest(t *testing.T) {
	clock := clustertest.NewClock(time.Now().UTC())
	r := newApproverRig(t, rigOptions{nodes: 1, people: 300, clock: clock})
	for _, tok := range approverTokens {
		r.tokens(t, tok)
		clock.Add(time.Second) // made one after the other
	}
	n := r.c.WaitLeader(15 * time.Second).Node
	svc := notify.NewService(n, n, senders)
	svc.Clock = clock
	ctx := testCtx(t)
	zone := time.FixedZone("CST", 8*60*60)
	sent := func(t *testing.T, st notify.ActivationStatus, want ...notify.ApproverNotice) {
		t.Helper()
		require.Len(t, st.DecisionNotices, len(want))
		for i, x := range st.DecisionNotices {
			assert.Equal(t, want[i].Holder, x.Holder)
			assert.Equal(t, want[i].Phone, x.Phone)
			assert.Equal(t, notify.NoticeSent, x.State, x.Error)
			assert.Equal(t, notify.DecisionAttemptID(st.ID, i, 1), x.Attempt)
			assert.Equal(t, 1, x.Sends)
			msgs := r.sim.Messages(x.Phone)
			require.NotEmpty(t, msgs)
			m := msgs[len(msgs)-1]
			assert.Equal(t, x.SID, m.SID)
			assert.Equal(t, liveAcct.SID, m.AccountSID, "approvals are LIVE: the LIVE account")
		}
	}
	requester := notify.ApproverNotice{Holder: "张三", Phone: zhangAppPhone} // the phone of their token made last
	li, qian := notify.ApproverNotice{Holder: "李四", Phone: liPhone}, notify.ApproverNotice{Holder: "钱七", Phone: qianPhone}
	once := func(t *testing.T, id plans.ActivationID, want string, to ...string) {
		t.Helper()
		for _, phone := range to {
			assert.Equal(t, []string{want}, r.texts(phone, id)[1:], phone)
		}
		_, _, segments := plans.SMSSegments(want)
		assert.LessOrEqual(t, segments, 2, want)
	}

	t.Run("rejected", func(t *testing.T) {
		a := r.request(t, "zhang", district)
		r.waitNoticed(t, a.ID)
		_, err := svc.Decide(ctx, "li", a.ID, notify.DecisionRequest{Reason: "信息不实，先核实"})
		require.NoError(t, err)
		st := r.waitDecisionNoticed(t, a.ID)
		sent(t, st, requester, qian)
		want := resultLead(a.ID, "东湖区") + "已被李四驳回：信息不实，先核实。本短信无需回复。"
		assert.Equal(t, []string{want}, r.texts(zhangAppPhone, a.ID), "the requester, once")
		once(t, a.ID, want, qianPhone)
		assert.Len(t, r.texts(liPhone, a.ID), 1, "who rejected it is not told")
		assert.Empty(t, r.sim.Messages(zhangPhone), "the requester is texted at one phone")
		assert.Empty(t, r.sim.Messages(zhaoPhone))
	})

	t.Run("approved", func(t *testing.T) {
		b := r.request(t, "zhang", other)
		r.waitNoticed(t, b.ID)
		p, err := svc.ApprovalPreview(ctx, b.ID)
		require.NoError(t, err)
		started, err := svc.Decide(ctx, "qian", b.ID, notify.DecisionRequest{Approve: true, Recipients: p.Total})
		require.NoError(t, err)
		require.Equal(t, notify.StatusActive, started.Status)
		st := r.waitDecisionNoticed(t, b.ID)
		sent(t, st, requester, li)
		want := resultLead(b.ID, "江北区") + "已由钱七批准，" + started.StartedAt.In(zone).Format("15:04") + "开始通知" + strconv.Itoa(started.Recipients) + "人。本短信无需回复。"
		assert.Equal(t, []string{want}, r.texts(zhangAppPhone, b.ID))
		once(t, b.ID, want, liPhone)
		assert.Len(t, r.texts(qianPhone, b.ID), 1, "who approved it is not told")
		_, err = svc.StandDown(ctx, "zhang", b.ID, "测试结束")
		require.NoError(t, err)
	})

	t.Run("withdrawn", func(t *testing.T) {
		c := r.request(t, "zhang", district)
		r.waitNoticed(t, c.ID)
		_, err := svc.StandDown(ctx, "zhang-approver", c.ID, "重复申请。")
		require.NoError(t, err)
		st := r.waitDecisionNoticed(t, c.ID)
		sent(t, st, li, qian)
		once(t, c.ID, resultLead(c.ID, "东湖区")+"已由张三撤回：重复申请，未发送。本短信无需回复。", liPhone, qianPhone)
		assert.Empty(t, r.texts(zhangAppPhone, c.ID), "the requester withdrew it, with another token of theirs: they are not told")
	})

	t.Run("expired", func(t *testing.T) {
		d := r.request(t, "zhang", district)
		r.waitNoticed(t, d.ID)
		clock.Add(notify.DefaultApprovalWindow)
		st := r.waitDecisionNoticed(t, d.ID)
		sent(t, st, requester, li, qian)
		want := resultLead(d.ID, "东湖区") + "审批已过期，未发送。本短信无需回复。"
		assert.Equal(t, []string{want}, r.texts(zhangAppPhone, d.ID))
		once(t, d.ID, want, liPhone, qianPhone)
	})
	assert.Zero(t, r.sim.Stats().Accounts[drillAcct.SID].Created, "nothing on the exercise account")
}

// A leader that dies while it tells the requester what became of a
// request leaves those texts claimed with no outcome: the next leader
// sends them once more, each once, as second attempts.
func TestANewLeaderSendsTheOutcomeTextsItsPredecessorDidNotFinish(t *testing.T) {
	r, entered := newHoldingRig(t, zhangAppPhone)
	r.tokens(t, approverTokens[0], approverTokens[1], approverTokens[2], approverTokens[5])
	a := r.request(t, "zhang", district)
	r.waitNoticed(t, a.ID)
	n := r.c.WaitLeader(15 * time.Second).Node
	_, err := notify.NewService(n, n, senders).Decide(testCtx(t), "li", a.ID, notify.DecisionRequest{Reason: "信息不实，先核实"})
	require.NoError(t, err)
	r.killHolder(t, entered)

	st := r.waitDecisionNoticed(t, a.ID)
	require.Len(t, st.DecisionNotices, 2)
	for i, x := range st.DecisionNotices {
		assert.Equal(t, notify.NoticeSent, x.State, x.Holder)
		assert.Equal(t, 2, x.Sends, x.Holder)
		assert.Equal(t, notify.DecisionAttemptID(a.ID, i, 2), x.Attempt)
		msgs := r.texts(x.Phone, a.ID)
		if x.Phone == qianPhone {
			msgs = msgs[1:] // the text of the wait
		}
		assert.Len(t, msgs, 1, "%s: the dead leader's send never reached the provider; the next sent it once", x.Holder)
	}
	assert.Empty(t, r.sim.Messages(zhangPhone))
	assert.Len(t, r.texts(liPhone, a.ID), 1, "who rejected it is not told")
}

// A request nobody can be texted about is logged once by the leader,
// though it stays in the notifier's list while it waits, and its
// requester is told what became of it.
func TestTheRequesterOfARequestNobodyIsTextedAboutIsToldWhatBecameOfIt(t *testing.T) {
	r := newApproverRig(t, rigOptions{nodes: 1, people: 300})
	r.tokens(t, approverTokens[0], approverTokens[3])
	warned := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for r.logs.n.Load() < n {
			require.True(t, time.Now().Before(deadline), "warnings: %d, want %d", r.logs.n.Load(), n)
			time.Sleep(20 * time.Millisecond)
		}
	}
	a := r.request(t, "zhang", district)
	require.True(t, a.NoApproverPhone)
	warned(1)
	// The tick that warns of the second request looks at the first too.
	b := r.request(t, "zhang", other)
	require.True(t, b.NoApproverPhone)
	warned(2)
	n := r.c.WaitLeader(15 * time.Second).Node
	_, err := notify.NewService(n, n, senders).Decide(testCtx(t), "wang", a.ID, notify.DecisionRequest{Reason: "信息不实，先核实"})
	require.NoError(t, err)
	st := r.waitDecisionNoticed(t, a.ID)
	require.Len(t, st.DecisionNotices, 1)
	assert.Equal(t, zhangPhone, st.DecisionNotices[0].Phone)
	assert.Equal(t, []string{resultLead(a.ID, "东湖区") + "已被王五驳回：信息不实，先核实。本短信无需回复。"}, r.texts(zhangPhone, a.ID))
	assert.EqualValues(t, 2, r.logs.n.Load(), "each request is warned of once")
}

// Under rules 12 (a member runs an older muster) nobody is told what
// became of a request: nothing is listed, nothing sent.
func TestNobodyIsToldWhatBecameOfARequestUnderRules12(t *testing.T) {
	r := newApproverRig(t, rigOptions{nodes: 1, people: 300, config: func(_ int, c *cluster.Config) { c.Rules = 12 }})
	n := r.c.WaitLeader(15 * time.Second).Node
	require.Eventually(t, func() bool { return n.Status().Rules == 12 }, 10*time.Second, 10*time.Millisecond)
	r.tokens(t, approverTokens...)
	a := r.request(t, "zhang", district)
	r.waitNoticed(t, a.ID)
	_, err := notify.NewService(n, n, senders).Decide(testCtx(t), "li", a.ID, notify.DecisionRequest{Reason: "信息不实，先核实"})
	require.NoError(t, err)
	// A request made after the rejection is texted about: the notifier
	// looked at the state since, in index order.
	b := r.request(t, "zhang", other)
	r.waitNoticed(t, b.ID)
	assert.Nil(t, r.status(t, a.ID).DecisionNotices)
	assert.Empty(t, r.sim.Messages(zhangPhone))
	assert.Empty(t, r.sim.Messages(zhangAppPhone))
	assert.Len(t, r.texts(qianPhone, a.ID), 1, "the text of the wait only")
}

// The state lists whom to tell what became of a request once it waits no
// more (its requester unless they ended the wait, the approvers whose
// text was sent or left in flight, not who decided), claims each once (a
// new leader's look again, at most three claims in all), and counts an
// outcome for the attempt it is of; a request whose requester and
// approvers have no phone lists nobody.
func TestDecisionTextsAreClaimedOnceTheRequestWaitsNoMore(t *testing.T) {
	e := newEnvWith(t, 1, 300, clustertest.Options{Setup: func(i int, n *cluster.Node) { setup(i, n); access.Register(n) }}, testCtx(t))
	ctx := testCtx(t)
	n := e.c.Leader().Node
	createTokens(t, n, access.NewToken{Name: "li", Holder: "李四", Phone: liPhone, Role: access.Approver}, access.NewToken{Name: "qian", Holder: "钱七", Phone: qianPhone, Role: access.Commander})
	results := func(id plans.ActivationID, rs ...map[string]any) {
		t.Helper()
		b, err := json.Marshal(map[string]any{"activation": id, "decision": true, "results": rs})
		require.NoError(t, err)
		applyJSON(t, n, notify.CmdApprovalNoticed, string(b), nil)
	}
	request := func(region plans.RegionCode) notify.Activation {
		t.Helper()
		a, err := e.svc.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{region}, Level: "I", Purpose: "LIVE", Reason: "暴雨预警"})
		require.NoError(t, err)
		return a
	}

	// 李四's text was sent, 钱七's is in flight; 李四 rejects.
	a := request(district)
	require.Len(t, a.ApproversNotified, 2)
	assert.Equal(t, []int{0, 1}, claimNotices(t, n, a.ID, false).Claimed)
	b, err := json.Marshal(map[string]any{"activation": a.ID, "results": []map[string]any{{"index": 0, "attempt": notify.ApproverAttemptID(a.ID, 0, 1), "sid": "SM1"}}})
	require.NoError(t, err)
	applyJSON(t, n, notify.CmdApprovalNoticed, string(b), nil)
	got := claimNotices(t, n, a.ID, false)
	assert.Empty(t, got.Decided, "nothing to tell while it waits")
	assert.Nil(t, got.Activation.DecisionNotices)
	_, err = e.svc.Decide(ctx, "li", a.ID, notify.DecisionRequest{Reason: "未达启动条件"})
	require.NoError(t, err)

	got = claimNotices(t, n, a.ID, false)
	assert.Empty(t, got.Claimed)
	assert.Equal(t, []int{0}, got.Decided)
	require.Len(t, got.Activation.DecisionNotices, 1, "the requester has no phone; 李四 decided")
	x := got.Activation.DecisionNotices[0]
	assert.Equal(t, notify.ApproverNotice{Holder: "钱七", Phone: qianPhone, State: notify.NoticeSending, Attempt: notify.DecisionAttemptID(a.ID, 0, 1),
		At: x.At, Sends: 1}, x, "钱七's text of the wait may have reached them")
	assert.Empty(t, claimNotices(t, n, a.ID, false).Decided, "claimed once")
	for i := 2; i <= 3; i++ {
		got = claimNotices(t, n, a.ID, true)
		assert.Equal(t, []int{0}, got.Decided, "a new leader claims again what was left in flight")
		assert.Equal(t, notify.DecisionAttemptID(a.ID, 0, i), got.Activation.DecisionNotices[0].Attempt)
	}
	assert.Empty(t, claimNotices(t, n, a.ID, true).Decided, "three claims at most")
	results(a.ID, map[string]any{"index": 0, "attempt": notify.DecisionAttemptID(a.ID, 0, 2), "sid": "SMold"})
	results(a.ID, map[string]any{"index": 0, "attempt": notify.DecisionAttemptID(a.ID, 0, 3), "sid": "SMnew"})
	st, err := e.svc.Activation(ctx, muster.Default, a.ID)
	require.NoError(t, err)
	assert.Equal(t, notify.NoticeSent, st.DecisionNotices[0].State)
	assert.Equal(t, "SMnew", st.DecisionNotices[0].SID, "the outcome of an earlier attempt counts for nothing")
	assert.Equal(t, notify.NoticeSent, st.ApproversNotified[0].State, "the texts of the wait stand")

	// The requester, with a phone, withdraws before anyone was texted:
	// nobody is told, and the request says so with an empty list.
	createTokens(t, n, access.NewToken{Name: "commander-phone", Holder: "commander", Phone: "+8613900000010", Role: access.Viewer})
	c := request(other)
	_, err = e.svc.StandDown(ctx, "commander", c.ID, "重复申请")
	require.NoError(t, err)
	got = claimNotices(t, n, c.ID, false)
	assert.Empty(t, got.Claimed)
	assert.Empty(t, got.Decided)
	assert.NotNil(t, got.Activation.DecisionNotices)
	assert.Empty(t, got.Activation.DecisionNotices)
	for _, x := range got.Activation.ApproversNotified {
		assert.Equal(t, notify.NoticeSkipped, x.State)
	}
}

// The text of what became of a request names it as the text of its wait
// does, who ended the wait, and for an approval when its call-up started
// (with the date when that was another day than the request) and how many
// it calls; a long reason is cut. Two UCS-2 segments at most.
func TestDecisionNoticeText(t *testing.T) {
	zone := time.FixedZone("CST", 8*60*60)
	created := time.Date(2026, 7, 20, 1, 5, 0, 0, time.UTC) // 09:05 in China
	base := notify.Activation{ID: "A000022", Sender: "【示例市应急】", PlanTitle: "示例市防汛应急预案", Level: plans.LevelII, LevelName: "重大",
		RegionNames: "江北区", Purpose: notify.PurposeLive, CreatedAt: created, CreatedBy: "zhang", ApprovalDeadline: created.Add(30 * time.Minute),
		Status: notify.StatusPendingApproval}
	lead := "【示例市应急】【审批结果】A000022 示例市防汛应急预案重大（Ⅱ级）响应（江北区）"
	long := strings.Repeat("气象部门未发布预警", 10)
	for _, tt := range []struct {
		name string
		edit func(*notify.Activation)
		by   string
		want string
	}{
		{"rejected", func(a *notify.Activation) {
			a.Status, a.Decisions = notify.StatusRejected, []notify.Decision{{By: "li", At: created.Add(7 * time.Minute), Reason: "信息不实，先核实"}}
		}, "李四", lead + "已被李四驳回：信息不实，先核实。本短信无需回复。"},
		{"rejected at length", func(a *notify.Activation) {
			a.Status, a.Decisions = notify.StatusRejected, []notify.Decision{{By: "li", Reason: long}}
		}, "李四", lead + "已被李四驳回：" + string([]rune(long)[:31]) + "…。本短信无需回复。"},
		{"approved", func(a *notify.Activation) {
			a.Status, a.StartedAt, a.Recipients = notify.StatusActive, created.Add(7*time.Minute), 287
			a.Decisions = []notify.Decision{{By: "li", Approve: true, Recipients: 287}}
		}, "李四", lead + "已由李四批准，09:12开始通知287人。本短信无需回复。"},
		{"approved the next day, since stood down", func(a *notify.Activation) {
			a.Status, a.StartedAt, a.Recipients = notify.StatusStoodDown, created.Add(15*time.Hour), 287
			a.StoodDownAt, a.StoodDownBy = created.Add(16*time.Hour), "zhang"
			a.Decisions = []notify.Decision{{By: "li", Approve: true, Recipients: 287}}
		}, "李四", lead + "已由李四批准，7月21日00:05开始通知287人。本短信无需回复。"},
		{"withdrawn", func(a *notify.Activation) {
			a.Status, a.StoodDownAt, a.StoodDownBy, a.StandDownReason = notify.StatusStoodDown, created.Add(time.Minute), "zhang", "重复申请"
		}, "张三", lead + "已由张三撤回：重复申请，未发送。本短信无需回复。"},
		{"expired", func(*notify.Activation) {}, "", lead + "审批已过期，未发送。本短信无需回复。"},
		{"stood down once expired", func(a *notify.Activation) {
			a.Status, a.StoodDownAt, a.StoodDownBy, a.StandDownReason = notify.StatusStoodDown, created.Add(time.Hour), "zhang", "过期清理"
		}, "", lead + "审批已过期，未发送。本短信无需回复。"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := base
			tt.edit(&a)
			got := notify.DecisionNoticeText(a, tt.by, zone)
			assert.Equal(t, tt.want, got)
			_, _, segments := plans.SMSSegments(got)
			assert.LessOrEqual(t, segments, 2)
		})
	}
}
