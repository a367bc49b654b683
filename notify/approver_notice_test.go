package notify_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/notify"
	"muster/notify/twiliosim"
	"muster/plans"
)

// The people of the approval tests and their phones.
const (
	zhangPhone    = "+8613900000001" // 张三's commander token, which requests
	zhangAppPhone = "+8613900000004" // 张三's approver token
	liPhone       = "+8613900000002" // 李四, approver
	zhaoPhone     = "+8613900000003" // 赵六, a viewer: may not approve
	qianPhone     = "+8613900000009" // 钱七, approver, whose number the provider refuses
)

// approverTokens are the tokens of the approval tests: the requester 张三
// holds two with phones, 李四 and 钱七 one each, 王五 has none with a
// phone, and 赵六's phone is on a token that may not approve.
var approverTokens = []access.NewToken{
	{Name: "zhang", Holder: "张三", Phone: zhangPhone, Role: access.Commander},
	{Name: "zhang-approver", Holder: "张三", Phone: "139 0000 0004", Role: access.Approver},
	{Name: "li", Holder: "李四", Phone: "13900000002", Role: access.Approver},
	{Name: "wang", Holder: "王五", Role: access.Approver},
	{Name: "zhao", Holder: "赵六", Phone: zhaoPhone, Role: access.Viewer},
	{Name: "qian", Holder: "钱七", Phone: qianPhone, Role: access.Commander},
}

// approverRig is a call rig whose nodes keep tokens and run an
// ApproverNotifier on their LIVE route as a leader service, on the rig's
// clock if it has one, logging to logs (which counts the warnings about
// requests nobody is texted about).
type approverRig struct {
	*callRig
	logs *countingHandler
}

func newApproverRig(t *testing.T, o rigOptions) *approverRig {
	t.Helper()
	r := &approverRig{logs: &countingHandler{match: "no approver has a phone on record"}}
	o.leaderServices = func(i int, n *cluster.Node, cfg notify.DispatcherConfig) {
		access.Register(n)
		an, err := notify.NewApproverNotifier(n, n, notify.ApproverNotifierConfig{Live: cfg.Live, Tick: 20 * time.Millisecond, Clock: o.clock, Logger: slog.New(r.logs)})
		require.NoError(t, err)
		n.OnLeader(an.Run)
	}
	r.callRig = newCallRig(t, o)
	return r
}

// tokens makes tokens, as an admin would, through the leader.
func (r *approverRig) tokens(t *testing.T, toks ...access.NewToken) {
	t.Helper()
	createTokens(t, r.c.WaitLeader(15*time.Second).Node, toks...)
}

// createTokens makes tokens on n, as an admin would.
func createTokens(t *testing.T, n *cluster.Node, toks ...access.NewToken) {
	t.Helper()
	for _, tok := range toks {
		_, _, err := access.NewService(n, n).CreateToken(testCtx(t), "admin", tok)
		require.NoError(t, err, tok.Name)
	}
}

// request asks, as actor, for the flood plan's level I over region, LIVE:
// it waits for a second person's approval.
func (r *approverRig) request(t *testing.T, actor string, region plans.RegionCode) notify.Activation {
	t.Helper()
	n := r.c.WaitLeader(15 * time.Second).Node
	a, err := notify.NewService(n, n, senders).Activate(testCtx(t), actor, notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{region}, Level: "I", Purpose: "LIVE", Reason: "暴雨红色预警"})
	require.NoError(t, err)
	require.Equal(t, notify.StatusPendingApproval, a.Status)
	return a
}

// waitNoticed polls until no text of id's approvers is due or being sent.
func (r *approverRig) waitNoticed(t *testing.T, id plans.ActivationID) notify.ActivationStatus {
	t.Helper()
	return r.waitTexts(t, id, func(st notify.ActivationStatus) ([]notify.ApproverNotice, bool) { return st.ApproversNotified, true })
}

// waitTexts polls until the texts of id that list picks are listed (its
// second result) and none is due or being sent.
func (r *approverRig) waitTexts(t *testing.T, id plans.ActivationID, list func(notify.ActivationStatus) ([]notify.ApproverNotice, bool)) notify.ActivationStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := r.status(t, id)
		texts, open := list(st)
		open = !open
		for _, n := range texts {
			open = open || n.State == notify.NoticeDue || n.State == notify.NoticeSending
		}
		if !open {
			return st
		}
		require.True(t, time.Now().Before(deadline), "texts of %s still open: %+v", id, texts)
		time.Sleep(20 * time.Millisecond)
	}
}

// A level I LIVE request texts every other person who may approve it
// and has a phone on a token that may: once, on the LIVE account, naming
// the request. Not the requester, through any token of theirs; not a
// holder of a token that may not approve; a number the provider refuses
// is recorded as failed. A new leader texts about the requests that come
// after it took over, and not again about one texted before.
func TestApproversAreTextedAboutARequestOnce(t *testing.T) {
	r := newApproverRig(t, rigOptions{nodes: 3, people: 300,
		sim: twiliosim.Config{Rules: []twiliosim.Rule{{Prefix: qianPhone, Outcome: twiliosim.OutcomeReject, Code: 21211}}}})
	r.tokens(t, approverTokens...)

	a := r.request(t, "zhang", district)
	assert.False(t, a.NoApproverPhone)
	assert.Equal(t, []notify.ApproverNotice{
		{Holder: "李四", Phone: liPhone, State: notify.NoticeDue},
		{Holder: "钱七", Phone: qianPhone, State: notify.NoticeDue},
	}, a.ApproversNotified, "the requester answers for the request: neither of their tokens is texted")

	st := r.waitNoticed(t, a.ID)
	msgs := r.sim.Messages(liPhone)
	require.Len(t, msgs, 1)
	m := msgs[0]
	assert.Equal(t, liveAcct.SID, m.AccountSID, "approvals are LIVE: the LIVE account")
	assert.Equal(t, liveAcct.Number, m.From)
	assert.True(t, strings.HasPrefix(m.Body, "【示例市应急】【待审批】示例市防汛应急预案特别重大（Ⅰ级）响应"), m.Body)
	assert.Contains(t, m.Body, "张三申请于", "the requester is named as the person, not the token")
	assert.Contains(t, m.Body, "muster approve "+string(a.ID)+" 审批")
	_, _, segments := plans.SMSSegments(m.Body)
	assert.LessOrEqual(t, segments, 2, m.Body)
	for _, other := range []string{zhangPhone, zhangAppPhone, zhaoPhone, qianPhone} {
		assert.Empty(t, r.sim.Messages(other), other)
	}
	assert.EqualValues(t, 1, r.sim.Stats().Accounts[liveAcct.SID].Created, "one text in all")
	assert.Zero(t, r.sim.Stats().Accounts[drillAcct.SID].Created)

	require.Len(t, st.ApproversNotified, 2)
	li, qian := st.ApproversNotified[0], st.ApproversNotified[1]
	assert.Equal(t, notify.NoticeSent, li.State)
	assert.Equal(t, m.SID, li.SID)
	assert.Equal(t, notify.ApproverAttemptID(a.ID, 0, 1), li.Attempt)
	assert.Equal(t, 1, li.Sends)
	assert.False(t, li.At.Before(a.CreatedAt))
	assert.Equal(t, notify.NoticeFailed, qian.State)
	assert.Contains(t, qian.Error, "21211")

	// The leader hands over; the new one texts about a new request, and
	// not about the first again.
	old := r.c.WaitLeader(15 * time.Second)
	r.c.Stop(old)
	require.NotEqual(t, old.Node.ID(), r.c.WaitLeader(15*time.Second).Node.ID())
	b := r.request(t, "zhang", other)
	r.waitNoticed(t, b.ID)
	msgs = r.sim.Messages(liPhone)
	require.Len(t, msgs, 2)
	assert.Contains(t, msgs[1].Body, string(b.ID))
	assert.NotContains(t, msgs[1].Body, string(a.ID))
	assert.Equal(t, li, r.status(t, a.ID).ApproversNotified[0], "the first request's text stands as the first leader recorded it")
}

// holdFirstText holds the first text to phone until its send is given
// up (its leader died), and sends the others.
type holdFirstText struct {
	notify.Provider
	phone   string
	held    *atomic.Bool
	entered chan struct{}
}

func (h holdFirstText) SendSMS(ctx context.Context, m notify.SMS) (notify.Sent, error) {
	if m.To == h.phone && h.held.CompareAndSwap(false, true) {
		close(h.entered)
		<-ctx.Done()
		return notify.Sent{}, ctx.Err()
	}
	return h.Provider.SendSMS(ctx, m)
}

// newHoldingRig is an approver rig of three nodes whose LIVE route holds
// the first text to phone until its leader dies (holdFirstText); entered
// is closed when it does.
func newHoldingRig(t *testing.T, phone string) (r *approverRig, entered chan struct{}) {
	held, entered := &atomic.Bool{}, make(chan struct{})
	r = newApproverRig(t, rigOptions{nodes: 3, people: 300, wrap: func(exercise bool, p notify.Provider) notify.Provider {
		if exercise {
			return p
		}
		return holdFirstText{Provider: p, phone: phone, held: held, entered: entered}
	}})
	return r, entered
}

// killHolder waits until the leader holds the text (entered) and kills
// it, then waits for the next leader.
func (r *approverRig) killHolder(t *testing.T, entered chan struct{}) {
	t.Helper()
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		require.FailNow(t, "the leader did not send the text")
	}
	old := r.c.WaitLeader(15 * time.Second)
	r.c.Kill(old)
	require.NotEqual(t, old.Node.ID(), r.c.WaitLeader(15*time.Second).Node.ID())
}

// A leader that dies while it texts an approver leaves the text claimed
// with no outcome: the next leader sends it, once, as a second attempt.
func TestANewLeaderSendsTheTextItsPredecessorDidNotFinish(t *testing.T) {
	r, entered := newHoldingRig(t, liPhone)
	r.tokens(t, approverTokens[0], approverTokens[2])
	a := r.request(t, "zhang", district)
	r.killHolder(t, entered)

	st := r.waitNoticed(t, a.ID)
	require.Len(t, st.ApproversNotified, 1)
	li := st.ApproversNotified[0]
	assert.Equal(t, notify.NoticeSent, li.State)
	assert.Equal(t, 2, li.Sends)
	assert.Equal(t, notify.ApproverAttemptID(a.ID, 0, 2), li.Attempt)
	msgs := r.sim.Messages(liPhone)
	require.Len(t, msgs, 1, "the dead leader's send never reached the provider")
	assert.Equal(t, li.SID, msgs[0].SID)
}

// With no one to text (no approver or commander token but the requester's
// has a phone), the request says so, which the requester reads in its
// answer, and the leader logs it as a warning: nothing is sent.
func TestARequestNobodyCanBeTextedAboutSaysSo(t *testing.T) {
	r := newApproverRig(t, rigOptions{nodes: 1, people: 300})
	r.tokens(t, approverTokens[0], approverTokens[1], approverTokens[3], approverTokens[4])
	a := r.request(t, "zhang", district)
	assert.True(t, a.NoApproverPhone)
	assert.Empty(t, a.ApproversNotified)
	deadline := time.Now().Add(30 * time.Second)
	for r.logs.n.Load() == 0 {
		require.True(t, time.Now().Before(deadline), "no warning logged")
		time.Sleep(20 * time.Millisecond)
	}
	assert.True(t, r.status(t, a.ID).NoApproverPhone)
	assert.Zero(t, r.sim.Stats().Accounts[liveAcct.SID].Created)
}

// claimed is what approval.notice answers.
type claimed struct {
	Older      bool              `json:"older"`
	Claimed    []int             `json:"claimed"`
	Decided    []int             `json:"decided"`
	Activation notify.Activation `json:"activation"`
}

// claimNotices applies, on n, the claim of request id's texts that the
// notifier makes (with resend, a new leader's), and returns its answer.
func claimNotices(t *testing.T, n *cluster.Node, id plans.ActivationID, resend bool) claimed {
	t.Helper()
	b, err := json.Marshal(map[string]any{"activation": id, "resend": resend})
	require.NoError(t, err)
	var out claimed
	applyJSON(t, n, notify.CmdApprovalNotice, string(b), &out)
	return out
}

// The state claims the texts of a request while it waits, each once
// (again only for a new leader's look at those left in flight, with a new
// attempt ID), for the people who still may approve and have not
// decided; an outcome counts for the attempt it is of. Texts of a request
// that stopped waiting (decided, expired) are skipped, saying why.
func TestApproverTextsAreClaimedWhileTheRequestWaits(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	e := newEnvWith(t, 1, 300, clustertest.Options{Setup: func(i int, n *cluster.Node) { setup(i, n); access.Register(n) },
		Config: func(_ int, c *cluster.Config) { c.Clock = clock }}, testCtx(t))
	e.svc.ApprovalWindow, e.svc.Clock = 10*time.Minute, clock
	ctx := testCtx(t)
	n := e.c.Leader().Node
	// Level I needs two more people here.
	files, err := examples.Plans()
	require.NoError(t, err)
	for _, f := range files {
		if f.Name == "flood.yaml" {
			_, err := e.plans.ApplyPlan(ctx, "test", f.Name, []byte(strings.Replace(string(f.Data), "approvals: 2", "approvals: 3", 1)))
			require.NoError(t, err)
		}
	}
	createTokens(t, n, access.NewToken{Name: "li", Holder: "李四", Phone: liPhone, Role: access.Approver}, access.NewToken{Name: "qian", Holder: "钱七", Phone: qianPhone, Role: access.Commander})
	claim := func(id plans.ActivationID, resend bool) claimed {
		t.Helper()
		return claimNotices(t, n, id, resend)
	}
	level := func(code string, region plans.RegionCode) notify.ActivationRequest {
		return notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{region}, Level: code, Purpose: "LIVE", Reason: "暴雨预警"}
	}

	a, err := e.svc.Activate(ctx, "zhang", level("I", district))
	require.NoError(t, err)
	require.Len(t, a.ApproversNotified, 2)
	got := claim(a.ID, false)
	assert.Equal(t, []int{0, 1}, got.Claimed)
	for i, x := range got.Activation.ApproversNotified {
		assert.Equal(t, notify.NoticeSending, x.State)
		assert.Equal(t, notify.ApproverAttemptID(a.ID, i, 1), x.Attempt)
		assert.Equal(t, clock.Now(), x.At)
	}
	assert.Empty(t, claim(a.ID, false).Claimed, "claimed once")
	got = claim(a.ID, true)
	assert.Equal(t, []int{0, 1}, got.Claimed, "a new leader claims again what was left in flight")
	assert.Equal(t, notify.ApproverAttemptID(a.ID, 0, 2), got.Activation.ApproversNotified[0].Attempt)

	results := func(id plans.ActivationID, rs ...map[string]any) {
		b, err := json.Marshal(map[string]any{"activation": id, "results": rs})
		require.NoError(t, err)
		applyJSON(t, n, notify.CmdApprovalNoticed, string(b), nil)
	}
	results(a.ID,
		map[string]any{"index": 0, "attempt": notify.ApproverAttemptID(a.ID, 0, 1), "sid": "SMold"},
		map[string]any{"index": 0, "attempt": notify.ApproverAttemptID(a.ID, 0, 2), "sid": "SMnew"},
		map[string]any{"index": 1, "attempt": notify.ApproverAttemptID(a.ID, 1, 2), "error": "send sms: permanent error 21211"})
	st, err := e.svc.Activation(ctx, muster.Default, a.ID)
	require.NoError(t, err)
	assert.Equal(t, notify.NoticeSent, st.ApproversNotified[0].State)
	assert.Equal(t, "SMnew", st.ApproversNotified[0].SID, "the outcome of the earlier attempt counts for nothing")
	assert.Equal(t, notify.NoticeFailed, st.ApproversNotified[1].State)
	assert.Empty(t, claim(a.ID, true).Claimed, "texts with an outcome are not sent again")

	// 李四 approves the next request before being texted: only 钱七 is.
	b, err := e.svc.Activate(ctx, "zhang", level("I", other))
	require.NoError(t, err)
	p, err := e.svc.ApprovalPreview(ctx, b.ID)
	require.NoError(t, err)
	_, err = e.svc.Decide(ctx, "li", b.ID, notify.DecisionRequest{Approve: true, Recipients: p.Total})
	require.NoError(t, err)
	got = claim(b.ID, false)
	assert.Equal(t, []int{1}, got.Claimed)
	assert.Equal(t, notify.NoticeSkipped, got.Activation.ApproversNotified[0].State)
	assert.Contains(t, got.Activation.ApproversNotified[0].Error, "decided on the request first")

	// A request rejected, or one whose window passed, texts nobody.
	c, err := e.svc.Activate(ctx, "zhang", level("II", district))
	require.NoError(t, err)
	_, err = e.svc.Decide(ctx, "li", c.ID, notify.DecisionRequest{Reason: "未达启动条件"})
	require.NoError(t, err)
	got = claim(c.ID, false)
	assert.Empty(t, got.Claimed)
	for _, x := range got.Activation.ApproversNotified {
		assert.Equal(t, notify.NoticeSkipped, x.State)
		assert.Equal(t, "not sent: the request was rejected first", x.Error)
	}
	d, err := e.svc.Activate(ctx, "zhang", level("II", other))
	require.NoError(t, err)
	clock.Add(10 * time.Minute)
	got = claim(d.ID, false)
	assert.Empty(t, got.Claimed)
	assert.Equal(t, "not sent: the request's approval window passed first", got.Activation.ApproversNotified[0].Error)
}

// Under rules 11 (a member runs an older muster) a request lists nobody
// to text and says nothing of phones, as that member would store it; the
// claim does nothing, and says so.
func TestRequestsListNoApproversUnderRules11(t *testing.T) {
	e := newEnvWith(t, 1, 300, clustertest.Options{Setup: func(i int, n *cluster.Node) { setup(i, n); access.Register(n) },
		Config: func(_ int, c *cluster.Config) { c.Rules = 11 }}, testCtx(t))
	n := e.c.Leader().Node
	require.Eventually(t, func() bool { return n.Status().Rules == 11 }, 10*time.Second, 10*time.Millisecond)
	a, err := e.svc.Activate(testCtx(t), "zhang", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "II", Purpose: "LIVE", Reason: "暴雨橙色预警"})
	require.NoError(t, err)
	require.Equal(t, notify.StatusPendingApproval, a.Status)
	assert.Empty(t, a.ApproversNotified)
	assert.False(t, a.NoApproverPhone)
	var out claimed
	applyJSON(t, n, notify.CmdApprovalNotice, `{"activation":"`+string(a.ID)+`"}`, &out)
	assert.True(t, out.Older)
}

// The text names the plan and level as the call-up's own messages do, the
// regions as a correction names them, the count, the requester, and the
// times in China's zone (the deadline with its date when that is another
// day), within two UCS-2 segments.
func TestApproverNoticeText(t *testing.T) {
	zone := time.FixedZone("CST", 8*60*60)
	created := time.Date(2026, 7, 20, 1, 5, 0, 0, time.UTC) // 09:05 in China
	a := notify.Activation{ID: "A000012", Sender: "【示例市应急】", PlanTitle: "示例市防汛应急预案", Level: plans.LevelI, LevelName: "特别重大",
		RegionNames: "西林区", Purpose: notify.PurposeLive, CreatedAt: created, CreatedBy: "zhang", ApprovalDeadline: created.Add(30 * time.Minute)}
	for _, tt := range []struct {
		name  string
		edit  func(*notify.Activation)
		want  string
		segms int
	}{
		{"one region", func(*notify.Activation) {},
			"【示例市应急】【待审批】示例市防汛应急预案特别重大（Ⅰ级）响应（西林区），1234人，张三申请于09:05，请在09:35前在控制台或用 muster approve A000012 审批。", 2},
		{"many regions", func(a *notify.Activation) { a.RegionNames = "西林区、东湖区、南山区、北河区" },
			"【示例市应急】【待审批】示例市防汛应急预案特别重大（Ⅰ级）响应（西林区、东湖区等4个区域），1234人，张三申请于09:05，请在09:35前在控制台或用 muster approve A000012 审批。", 2},
		{"until the next day", func(a *notify.Activation) { a.ApprovalDeadline = created.Add(15 * time.Hour) },
			"【示例市应急】【待审批】示例市防汛应急预案特别重大（Ⅰ级）响应（西林区），1234人，张三申请于09:05，请在7月21日00:05前在控制台或用 muster approve A000012 审批。", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := a
			tt.edit(&a)
			got := notify.ApproverNoticeText(a, 1234, "张三", zone)
			assert.Equal(t, tt.want, got)
			_, _, segments := plans.SMSSegments(got)
			assert.Equal(t, tt.segms, segments)
		})
	}
}
