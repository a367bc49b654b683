package notify_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"os/exec"
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
	"muster/notify"
	"muster/plans"
)

// The commanders of the 叫应 tests.
const (
	commanderPhone = "+8613900000021" // 周一, commander
	approverPhone  = "+8613900000022" // 吴二, approver: may not activate
	adminPhone     = "+8613900000023" // 郑三, admin: keeps the system
)

// promptTokens are the tokens of the 叫应 tests: one commander with a
// phone, one without, and an approver and an admin with phones.
var promptTokens = []access.NewToken{
	{Name: "zhou", Holder: "周一", Phone: commanderPhone, Role: access.Commander},
	{Name: "feng", Holder: "冯四", Role: access.Commander},
	{Name: "wu", Holder: "吴二", Phone: approverPhone, Role: access.Approver},
	{Name: "zheng", Holder: "郑三", Phone: adminPhone, Role: access.Admin},
}

// promptTimeout is the response time of the warnings in these tests.
const promptTimeout = 10 * time.Minute

// promptRig is a call rig on a clock the test moves, whose nodes keep
// tokens and run a WarningPrompter on their LIVE route as a leader
// service, escalating promptTimeout after the commanders are listed,
// logging to starts (which counts the warnings that began to prompt),
// noPhone (those with nobody to text) and escalations (those that began
// to text the superiors).
type promptRig struct {
	*callRig
	clock                        *clustertest.Clock
	starts, noPhone, escalations *countingHandler
}

func newPromptRig(t *testing.T, nodes int) *promptRig {
	t.Helper()
	return newPromptRigWith(t, rigOptions{nodes: nodes, people: 300})
}

// newPromptRigWith is newPromptRig with the options o (its clock is the
// rig's).
func newPromptRigWith(t *testing.T, o rigOptions) *promptRig {
	t.Helper()
	r := &promptRig{clock: clustertest.NewClock(time.Date(2026, 7, 20, 1, 0, 0, 0, time.UTC)),
		starts: &countingHandler{match: "warning unanswered past its response time"}, noPhone: &countingHandler{match: "no commander has a phone on record"},
		escalations: &countingHandler{match: "escalating to their superiors (叫应升级)"}}
	o.clock = r.clock
	o.leaderServices = func(i int, n *cluster.Node, cfg notify.DispatcherConfig) {
		access.Register(n)
		p, err := notify.NewWarningPrompter(n, n, notify.WarningPrompterConfig{Live: cfg.Live, EscalateAfter: promptTimeout, Tick: 20 * time.Millisecond, Clock: r.clock,
			Logger: slog.New(teeHandler{r.starts, r.noPhone, r.escalations})})
		require.NoError(t, err)
		n.OnLeader(p.Run)
	}
	r.callRig = newCallRig(t, o)
	return r
}

// teeHandler hands each record to every handler.
type teeHandler []*countingHandler

func (h teeHandler) Enabled(ctx context.Context, l slog.Level) bool { return true }
func (h teeHandler) Handle(ctx context.Context, r slog.Record) error {
	for _, x := range h {
		_ = x.Handle(ctx, r)
	}
	return nil
}
func (h teeHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h teeHandler) WithGroup(string) slog.Handler      { return h }

// warnings is a warning service on the leader, on the rig's clock.
func (r *promptRig) warnings() *plans.WarningService {
	n := r.c.WaitLeader(15 * time.Second).Node
	return plans.NewWarningService(n, n, plans.WarningConfig{Clock: r.clock, ResponseTimeout: promptTimeout})
}

// issue issues a LIVE red rainstorm warning over region.
func (r *promptRig) issue(t *testing.T, region plans.RegionCode) plans.Warning {
	t.Helper()
	w, err := r.warnings().Issue(testCtx(t), "zhou", plans.WarningInput{Regions: []plans.RegionCode{region}, Level: "red", Event: "暴雨", Headline: "示例市气象台发布暴雨红色预警"})
	require.NoError(t, err)
	require.Equal(t, w.IssuedAt.Add(promptTimeout), w.RespondBy)
	return w
}

// warning reads warning id on the leader.
func (r *promptRig) warning(t *testing.T, id plans.WarningID) plans.Warning {
	t.Helper()
	w, err := r.warnings().Warning(testCtx(t), muster.Default, id)
	require.NoError(t, err)
	return w
}

// waitPrompted polls until warning id has listed its commanders and none
// of their texts is due or being sent.
func (r *promptRig) waitPrompted(t *testing.T, id plans.WarningID) plans.Warning {
	t.Helper()
	return r.waitStage(t, id, "prompted", func(w plans.Warning) *plans.WarningPrompted { return w.Prompted })
}

// waitEscalated polls until warning id has listed its superiors and none
// of their texts is due or being sent.
func (r *promptRig) waitEscalated(t *testing.T, id plans.WarningID) plans.Warning {
	t.Helper()
	return r.waitStage(t, id, "escalated", func(w plans.Warning) *plans.WarningPrompted { return w.Escalated })
}

// waitStage polls until the stage of(w) of warning id is listed and none
// of its texts is due or being sent.
func (r *promptRig) waitStage(t *testing.T, id plans.WarningID, what string, of func(plans.Warning) *plans.WarningPrompted) plans.Warning {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		w := r.warning(t, id)
		if p := of(w); p != nil && !strings.Contains(mustMarshal(t, p.Texts), `"state":"due"`) &&
			!strings.Contains(mustMarshal(t, p.Texts), `"state":"sending"`) {
			return w
		}
		require.True(t, time.Now().Before(deadline), "warning %s not %s: %+v", id, what, of(w))
		time.Sleep(20 * time.Millisecond)
	}
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// A LIVE red warning that no activation answers within its response time
// calls on the commanders (叫应): the commander with a phone is texted,
// once, on the LIVE account, which warning it is, that no response
// started in time and what to activate; nobody else (a commander without
// a phone, an approver, an admin). The warning records it, and the
// leader logs that it began to prompt. Neither the next ticks nor a new
// leader texts about it again.
func TestAnUnansweredRedWarningTextsItsCommanderOnce(t *testing.T) {
	r := newPromptRig(t, 3)
	createTokens(t, r.c.WaitLeader(15*time.Second).Node, promptTokens...)
	w := r.issue(t, district)
	assert.Nil(t, w.Prompted, "not due before its response time")

	r.clock.Add(promptTimeout)
	got := r.waitPrompted(t, w.ID)
	msgs := r.sim.Messages(commanderPhone)
	require.Len(t, msgs, 1)
	m := msgs[0]
	assert.Equal(t, liveAcct.SID, m.AccountSID, "the 叫应 of a LIVE warning is LIVE: the LIVE account")
	assert.True(t, strings.HasPrefix(m.Body, "【示例市应急】【叫应】暴雨红色预警"+string(w.ID)+"（东湖区）09:00发布，至09:10未启动响应。"), m.Body)
	require.NotEmpty(t, w.Suggestions)
	assert.True(t, strings.HasSuffix(m.Body, "收到请回复1，并立即在控制台启动响应，或执行：muster activate flood-control --region "+string(district)+" --level I --purpose live --reason '暴雨红色预警'"),
		"the suggestion at red's level, I, with a reason, last: %s", m.Body)
	for _, other := range []string{approverPhone, adminPhone} {
		assert.Empty(t, r.sim.Messages(other), other)
	}
	assert.EqualValues(t, 1, r.sim.Stats().Accounts[liveAcct.SID].Created, "one text in all")
	assert.Zero(t, r.sim.Stats().Accounts[drillAcct.SID].Created)

	require.NotNil(t, got.Prompted)
	assert.Equal(t, r.clock.Now(), got.Prompted.At)
	assert.False(t, got.Prompted.NoPhone)
	require.Len(t, got.Prompted.Texts, 1)
	x := got.Prompted.Texts[0]
	assert.Equal(t, "周一", x.Holder)
	assert.Equal(t, plans.NoticeSent, x.State)
	assert.Equal(t, m.SID, x.SID)
	assert.Equal(t, notify.PromptAttemptID(w.ID, 0, 1), x.Attempt)
	assert.Equal(t, 1, x.Sends)
	assert.True(t, got.Prompt, "still marked NO RESPONSE")
	assert.EqualValues(t, 1, r.starts.n.Load(), "one log line as it began to prompt")

	// The leader hands over; the new one prompts for a warning that goes
	// unanswered after it took over, and not again for the first.
	old := r.c.WaitLeader(15 * time.Second)
	r.c.Stop(old)
	require.NotEqual(t, old.Node.ID(), r.c.WaitLeader(15*time.Second).Node.ID())
	v := r.issue(t, other)
	r.clock.Add(promptTimeout)
	r.waitPrompted(t, v.ID)
	msgs = r.sim.Messages(commanderPhone)
	require.Len(t, msgs, 2)
	assert.Contains(t, msgs[1].Body, string(v.ID))
	assert.NotContains(t, msgs[1].Body, string(w.ID))
	assert.Equal(t, got.Prompted, r.warning(t, w.ID).Prompted, "the first warning's text stands as the first leader recorded it")
	assert.EqualValues(t, 2, r.starts.n.Load())
}

// A leader that dies while it texts the commander leaves the text claimed
// with no outcome: the next leader sends it, once, as a second attempt,
// and lists nobody again.
func TestANewLeaderSendsTheWarningTextItsPredecessorDidNotFinish(t *testing.T) {
	held, entered := &atomic.Bool{}, make(chan struct{})
	r := newPromptRigWith(t, rigOptions{nodes: 3, people: 300, wrap: func(exercise bool, p notify.Provider) notify.Provider {
		if exercise {
			return p
		}
		return holdingCaller{holdFirstText{Provider: p, phone: commanderPhone, held: held, entered: entered}, p.(notify.Caller)}
	}})
	createTokens(t, r.c.WaitLeader(15*time.Second).Node, promptTokens...)
	w := r.issue(t, district)
	r.clock.Add(promptTimeout)
	(&approverRig{callRig: r.callRig}).killHolder(t, entered)

	got := r.waitPrompted(t, w.ID)
	require.Len(t, got.Prompted.Texts, 1)
	x := got.Prompted.Texts[0]
	assert.Equal(t, plans.NoticeSent, x.State)
	assert.Equal(t, 2, x.Sends)
	assert.Equal(t, notify.PromptAttemptID(w.ID, 0, 2), x.Attempt)
	msgs := r.sim.Messages(commanderPhone)
	require.Len(t, msgs, 1, "the dead leader's send never reached the provider")
	assert.Equal(t, x.SID, msgs[0].SID)
	assert.EqualValues(t, 1, r.starts.n.Load(), "the commanders were listed once")
}

// holdingCaller is a holdFirstText that places calls too, as the rig's
// voice routes need on a clock.
type holdingCaller struct {
	holdFirstText
	notify.Caller
}

// A warning an activation answers within its response time prompts
// nobody, even as its response time passes.
func TestAWarningAnsweredInTimeTextsNobody(t *testing.T) {
	r := newPromptRig(t, 1)
	n := r.c.WaitLeader(15 * time.Second).Node
	createTokens(t, n, promptTokens...)
	w := r.issue(t, district)
	_, err := notify.NewService(n, n, senders).Activate(testCtx(t), "zhou", floodIV(district))
	require.NoError(t, err)
	answered := r.warning(t, w.ID)
	require.True(t, answered.Answered())
	// Another warning, unanswered, tells when the prompter has looked.
	v := r.issue(t, other)

	r.clock.Add(promptTimeout)
	r.waitPrompted(t, v.ID)
	msgs := r.sim.Messages(commanderPhone)
	require.Len(t, msgs, 1, "the unanswered warning's text only")
	assert.Contains(t, msgs[0].Body, string(v.ID))
	got := r.warning(t, w.ID)
	assert.Nil(t, got.Prompted)
	assert.False(t, got.Prompt)
}

// A drill's warning (an upstream EXERCISE alert) that no drill answers is
// marked, but prompts nobody: nothing about it goes out on the LIVE
// account, nor on the exercise one.
func TestADrillWarningNeverTextsOnTheLiveAccount(t *testing.T) {
	r := newPromptRig(t, 1)
	createTokens(t, r.c.WaitLeader(15*time.Second).Node, promptTokens...)
	imp, err := r.warnings().Import(testCtx(t), "feed", plans.UpstreamWarning{Alert: plans.UpstreamRef{Sender: "cma.example", Identifier: "EX-1"},
		Source: "cap:cma.example,EX-1,2026-07-20T09:00:00+08:00", Purpose: plans.WarningExercise, Regions: []plans.RegionCode{district},
		Level: plans.WarningRed, Event: "暴雨", Headline: "演练：暴雨红色预警"})
	require.NoError(t, err)
	w := imp.Warning
	v := r.issue(t, other)

	r.clock.Add(promptTimeout)
	r.waitPrompted(t, v.ID)
	got := r.warning(t, w.ID)
	assert.True(t, got.Prompt, "marked: no drill answered it")
	assert.Nil(t, got.Prompted)
	msgs := r.sim.Messages(commanderPhone)
	require.Len(t, msgs, 1, "the LIVE warning's text only")
	assert.Contains(t, msgs[0].Body, string(v.ID))
	assert.EqualValues(t, 1, r.sim.Stats().Accounts[liveAcct.SID].Created)
	assert.Zero(t, r.sim.Stats().Accounts[drillAcct.SID].Created)

	// The commander's reply acknowledges the LIVE warning's text; the
	// drill's warning, which texted nobody, takes no acknowledgement.
	assert.Contains(t, r.replyAndWait(t, commanderPhone, "1"), "已记录您对"+string(v.ID)+"叫应的应答。")
	assert.Len(t, r.warning(t, v.ID).Prompted.Acks(), 1)
	got = r.warning(t, w.ID)
	assert.Nil(t, got.Prompted)
	assert.True(t, got.Prompt)
}

// An upstream Update of a red warning whose commanders were called on
// keeps its 叫应 (rules 13): the commander, texted once about the thread,
// is not texted again about the update, which keeps the time its
// commanders were called on and escalates when the first would have; the
// superior's text names when the thread was first issued and updated, so
// no time it names comes before the warning's issue.
func TestAnUpdatedWarningKeepsItsPromptAndTextsNobodyAgain(t *testing.T) {
	r := newPromptRig(t, 1)
	createTokens(t, r.c.WaitLeader(15*time.Second).Node, promptTokens...)
	alert := func(id string, replaces ...plans.UpstreamRef) plans.Warning {
		imp, err := r.warnings().Import(testCtx(t), "feed", plans.UpstreamWarning{Alert: plans.UpstreamRef{Sender: "cma.example", Identifier: id},
			Source: "cap:cma.example," + id + ",2026-07-20T09:00:00+08:00", Replaces: replaces, Regions: []plans.RegionCode{district},
			Level: plans.WarningRed, Event: "暴雨", Headline: "示例市气象台发布暴雨红色预警"})
		require.NoError(t, err)
		require.True(t, imp.Created)
		return imp.Warning
	}
	first := alert("MET-1") // 09:00, respond by 09:10
	r.clock.Add(promptTimeout)
	prompted := r.waitPrompted(t, first.ID).Prompted
	require.Len(t, r.sim.Messages(commanderPhone), 1)

	r.clock.Add(5 * time.Minute) // 09:15
	update := alert("MET-2", plans.UpstreamRef{Sender: "cma.example", Identifier: "MET-1"})
	assert.Equal(t, first.RespondBy, update.RespondBy, "rules 7")
	assert.Equal(t, first.IssuedAt, update.FirstIssuedAt)
	require.NotNil(t, update.Prompted, "the commanders were called on about the thread")
	assert.Equal(t, prompted, update.Prompted)
	assert.Equal(t, notify.PromptAttemptID(first.ID, 0, 1), update.Prompted.Texts[0].Attempt)

	// Another warning, left unanswered, tells when the prompter has looked
	// again; by then the thread is due its escalation (09:20).
	v := r.issue(t, other)
	r.clock.Add(promptTimeout) // 09:25
	r.waitPrompted(t, v.ID)
	got := r.waitEscalated(t, update.ID)
	msgs := r.sim.Messages(commanderPhone)
	require.Len(t, msgs, 2, "the first warning's and the other's; none about the update")
	assert.Contains(t, msgs[1].Body, string(v.ID))
	assert.Equal(t, prompted, got.Prompted)
	esc := r.sim.Messages(approverPhone)
	require.Len(t, esc, 1)
	assert.Contains(t, esc[0].Body, "暴雨红色预警"+string(update.ID)+"（东湖区）09:00首发、09:15更新，09:10已短信叫应指挥长周一，至09:20仍未启动响应。")
	assert.EqualValues(t, 2, r.starts.n.Load(), "the first warning and the other began to prompt; the update did not")
}

// An Update that arrives while the commander's text about the warning it
// replaces is on the wire keeps the text in flight, and the outcome
// recorded for it is the update's too: it is not left sending, to be sent
// again by the next leader.
func TestAnUpdateArrivingWhileItsPromptIsSentGetsItsOutcome(t *testing.T) {
	held, entered, release := &atomic.Bool{}, make(chan struct{}), make(chan struct{})
	r := newPromptRigWith(t, rigOptions{nodes: 1, people: 300, wrap: func(exercise bool, p notify.Provider) notify.Provider {
		if exercise {
			return p
		}
		return releasingCaller{releaseFirstText{Provider: p, phone: commanderPhone, held: held, entered: entered, release: release}, p.(notify.Caller)}
	}})
	createTokens(t, r.c.WaitLeader(15*time.Second).Node, promptTokens...)
	alert := func(id string, replaces ...plans.UpstreamRef) plans.Warning {
		imp, err := r.warnings().Import(testCtx(t), "feed", plans.UpstreamWarning{Alert: plans.UpstreamRef{Sender: "cma.example", Identifier: id},
			Source: "cap:cma.example," + id + ",2026-07-20T09:00:00+08:00", Replaces: replaces, Regions: []plans.RegionCode{district},
			Level: plans.WarningRed, Event: "暴雨", Headline: "示例市气象台发布暴雨红色预警"})
		require.NoError(t, err)
		return imp.Warning
	}
	first := alert("MET-1")
	r.clock.Add(promptTimeout)
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the commander's text was not sent")
	}
	update := alert("MET-2", plans.UpstreamRef{Sender: "cma.example", Identifier: "MET-1"})
	require.NotNil(t, update.Prompted)
	require.Equal(t, plans.NoticeSending, update.Prompted.Texts[0].State, "kept in flight")
	close(release)

	r.waitPrompted(t, first.ID)
	got := r.waitPrompted(t, update.ID)
	msgs := r.sim.Messages(commanderPhone)
	require.Len(t, msgs, 1)
	x := got.Prompted.Texts[0]
	assert.Equal(t, plans.NoticeSent, x.State)
	assert.Equal(t, msgs[0].SID, x.SID)
	assert.Equal(t, notify.PromptAttemptID(first.ID, 0, 1), x.Attempt)
}

// releaseFirstText holds the first text to phone until release is closed
// (entered is closed as it does), then sends it.
type releaseFirstText struct {
	notify.Provider
	phone            string
	held             *atomic.Bool
	entered, release chan struct{}
}

func (h releaseFirstText) SendSMS(ctx context.Context, m notify.SMS) (notify.Sent, error) {
	if m.To == h.phone && h.held.CompareAndSwap(false, true) {
		close(h.entered)
		select {
		case <-h.release:
		case <-ctx.Done():
			return notify.Sent{}, ctx.Err()
		}
	}
	return h.Provider.SendSMS(ctx, m)
}

// releasingCaller is a releaseFirstText that places calls too.
type releasingCaller struct {
	releaseFirstText
	notify.Caller
}

// While a leader without a LIVE account leads, an unanswered red warning
// records its commanders' texts as not sent for that reason (未能叫应)
// and the leader logs it as a warning, where nothing was recorded or
// logged; a leader with a LIVE account that takes over sends them, once.
func TestALeaderWithoutALiveAccountRecordsItCouldNotPrompt(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 1, 0, 0, 0, time.UTC))
	noLiveLog := &countingHandler{match: "no LIVE SMS account on this node, which leads"}
	var noLive atomic.Bool
	noLive.Store(true)
	rig := newCallRig(t, rigOptions{nodes: 3, people: 300, clock: clock, leaderServices: func(i int, n *cluster.Node, cfg notify.DispatcherConfig) {
		access.Register(n)
		var runs [2]*notify.WarningPrompter
		for j, live := range []*notify.Route{nil, cfg.Live} {
			p, err := notify.NewWarningPrompter(n, n, notify.WarningPrompterConfig{Live: live, EscalateAfter: promptTimeout, Tick: 20 * time.Millisecond, Clock: clock,
				Logger: slog.New(noLiveLog)})
			require.NoError(t, err)
			runs[j] = p
		}
		n.OnLeader(func(ctx context.Context) {
			if noLive.Load() {
				runs[0].Run(ctx)
			} else {
				runs[1].Run(ctx)
			}
		})
	}})
	r := &promptRig{callRig: rig, clock: clock}
	createTokens(t, r.c.WaitLeader(15*time.Second).Node, promptTokens...)
	w := r.issue(t, district)
	clock.Add(promptTimeout)

	deadline := time.Now().Add(30 * time.Second)
	var got plans.Warning
	for got = r.warning(t, w.ID); got.Prompted == nil || got.Prompted.Texts[0].State != plans.NoticeFailed; got = r.warning(t, w.ID) {
		require.True(t, time.Now().Before(deadline), "not recorded: %+v", got.Prompted)
		time.Sleep(20 * time.Millisecond)
	}
	require.Len(t, got.Prompted.Texts, 1)
	assert.Equal(t, notify.NoLiveAccountError, got.Prompted.Texts[0].Error)
	assert.EqualValues(t, 1, noLiveLog.n.Load(), "logged as a warning")
	assert.Empty(t, r.sim.Messages(commanderPhone))
	assert.Zero(t, r.sim.Stats().Accounts[liveAcct.SID].Created)

	// A leader with a LIVE account takes over: it sends the text, once.
	noLive.Store(false)
	old := r.c.WaitLeader(15 * time.Second)
	r.c.Stop(old)
	require.NotEqual(t, old.Node.ID(), r.c.WaitLeader(15*time.Second).Node.ID())
	got = r.waitPrompted(t, w.ID)
	for ; got.Prompted.Texts[0].State != plans.NoticeSent; got = r.waitPrompted(t, w.ID) {
		require.True(t, time.Now().Before(deadline.Add(30*time.Second)), "not sent: %+v", got.Prompted)
		time.Sleep(20 * time.Millisecond)
	}
	x := got.Prompted.Texts[0]
	assert.Equal(t, 2, x.Sends)
	assert.Equal(t, notify.PromptAttemptID(w.ID, 0, 2), x.Attempt)
	msgs := r.sim.Messages(commanderPhone)
	require.Len(t, msgs, 1)
	assert.Equal(t, x.SID, msgs[0].SID)
}

// With no commander's phone on record, the warning says so and the
// leader logs it as a warning: nothing is sent.
func TestAWarningNobodyCanBeTextedAboutSaysSo(t *testing.T) {
	r := newPromptRig(t, 1)
	createTokens(t, r.c.WaitLeader(15*time.Second).Node, promptTokens[1:]...)
	w := r.issue(t, district)
	r.clock.Add(promptTimeout)
	got := r.waitPrompted(t, w.ID)
	assert.True(t, got.Prompted.NoPhone)
	assert.Empty(t, got.Prompted.Texts)
	deadline := time.Now().Add(30 * time.Second)
	for r.noPhone.n.Load() == 0 {
		require.True(t, time.Now().Before(deadline), "no warning logged")
		time.Sleep(20 * time.Millisecond)
	}
	assert.Zero(t, r.sim.Stats().Accounts[liveAcct.SID].Created)

	// Unanswered for as long again, it goes on to the approver, saying
	// no commander could be texted.
	r.clock.Add(promptTimeout)
	got = r.waitEscalated(t, w.ID)
	require.Len(t, got.Escalated.Texts, 1)
	assert.Equal(t, "吴二", got.Escalated.Texts[0].Holder)
	msgs := r.sim.Messages(approverPhone)
	require.Len(t, msgs, 1)
	assert.Contains(t, msgs[0].Body, "09:10起叫应指挥长，但指挥长均无手机号，未能短信叫应，至09:20仍未启动响应。")
}

// Under rules 12 (a member runs an older muster) the claim lists nobody
// and says so; the warning is only marked, as before.
func TestWarningPromptDoesNothingUnderRules12(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 1, 0, 0, 0, time.UTC))
	e := newEnvWith(t, 1, 300, clustertest.Options{Setup: func(i int, n *cluster.Node) { setup(i, n); access.Register(n) },
		Config: func(_ int, c *cluster.Config) { c.Rules, c.Clock = 12, clock }}, testCtx(t))
	n := e.c.Leader().Node
	require.Eventually(t, func() bool { return n.Status().Rules == 12 }, 10*time.Second, 10*time.Millisecond)
	createTokens(t, n, promptTokens[0])
	ws := plans.NewWarningService(n, n, plans.WarningConfig{Clock: clock, ResponseTimeout: promptTimeout})
	w, err := ws.Issue(testCtx(t), "zhou", plans.WarningInput{Regions: []plans.RegionCode{district}, Level: "red", Event: "暴雨", Headline: "暴雨红色预警"})
	require.NoError(t, err)
	clock.Add(promptTimeout)
	var out struct {
		Older bool `json:"older"`
	}
	applyJSON(t, n, notify.CmdWarningPrompt, `{"warning":"`+string(w.ID)+`","escalate_after":"10m"}`, &out)
	assert.True(t, out.Older)
	clock.Add(promptTimeout)
	out.Older = false
	applyJSON(t, n, notify.CmdWarningEscalate, `{"warning":"`+string(w.ID)+`"}`, &out)
	assert.True(t, out.Older)
	got, err := ws.Warning(testCtx(t), muster.Default, w.ID)
	require.NoError(t, err)
	assert.True(t, got.Prompt)
	assert.Nil(t, got.Prompted)
	assert.Nil(t, got.Escalated)
}

// The text names the warning (event, colour, ID, regions, when issued),
// says no response started by its due time, and gives the activation it
// suggests first, or, with none, where to look.
func TestWarningPromptText(t *testing.T) {
	zone := time.FixedZone("CST", 8*60*60)
	issued := time.Date(2026, 7, 20, 1, 5, 0, 0, time.UTC) // 09:05 in China
	w := plans.Warning{ID: "W000003", Level: plans.WarningOrange, Event: "暴雨", Regions: []plans.RegionCode{"990101"},
		Areas: []plans.WarningArea{{Code: "990101", Name: "东湖区"}}, IssuedAt: issued, RespondBy: issued.Add(30 * time.Minute),
		SuggestedLevel: plans.LevelII, Suggestions: []plans.Suggestion{{Plan: "everyone", Level: plans.LevelIV}, {Plan: "flood-control", Level: plans.LevelII}}}
	text := notify.WarningPromptText(w, "【示例市应急】", zone)
	assert.Equal(t, "【示例市应急】【叫应】暴雨橙色预警W000003（东湖区）09:05发布，至09:35未启动响应。收到请回复1，并立即在控制台启动响应，或执行：muster activate flood-control --region 990101 --level II --purpose live --reason '暴雨橙色预警'", text)
	assert.Equal(t, []string{"muster", "activate", "flood-control", "--region", "990101", "--level", "II", "--purpose", "live", "--reason", "暴雨橙色预警"},
		shellWords(t, text[strings.Index(text, "muster activate"):]), "the command runs as texted, copied to its end")
	// An upstream event a shell would read, and one with a word a LIVE
	// call-up's reason may not have (the headline is given instead).
	w.Event = `城市"内涝" $HOME 'x'`
	text = notify.WarningPromptText(w, "", zone)
	assert.Equal(t, []string{"muster", "activate", "flood-control", "--region", "990101", "--level", "II", "--purpose", "live", "--reason", w.Event + "橙色预警"},
		shellWords(t, text[strings.Index(text, "muster activate"):]))
	w.Event, w.Headline = "演练暴雨", "东湖区暴雨橙色预警"
	assert.True(t, strings.HasSuffix(notify.WarningPromptText(w, "", zone), "--purpose live --reason '东湖区暴雨橙色预警'"))
	w.Headline = "演练"
	assert.True(t, strings.HasSuffix(notify.WarningPromptText(w, "", zone), "收到请回复1，并立即在控制台或用 muster warning show W000003 查看并启动响应。"), "no reason to give: no command")
	w.Event, w.Headline = "暴雨", ""
	// An update (09:25) of a thread first issued at 09:05 keeps its
	// response time: it says both, never a response due before issue.
	u := w
	u.IssuedAt, u.FirstIssuedAt = issued.Add(20*time.Minute), issued
	assert.True(t, strings.HasPrefix(notify.WarningPromptText(u, "", zone), "【叫应】暴雨橙色预警W000003（东湖区）09:05首发、09:25更新，至09:35未启动响应。"))
	w.Suggestions = nil
	w.RespondBy = issued.Add(16 * time.Hour)
	assert.Equal(t, "【叫应】暴雨橙色预警W000003（东湖区）09:05发布，至7月21日01:05未启动响应。收到请回复1，并立即在控制台或用 muster warning show W000003 查看并启动响应。",
		notify.WarningPromptText(w, "", zone))
}

// A LIVE red warning still unanswered a response time after its
// commanders were texted goes on to their superiors (叫应升级): the
// approver with a phone is texted, once, on the LIVE account, which
// warning it is, that the commander was texted and when, that nothing
// started, and to have the commanders respond; the commander is not
// texted again, nor the admin. The warning records it and the leader logs
// it. Neither the next ticks nor a new leader texts the approver about it
// again.
func TestAnUnansweredWarningEscalatesToTheApproverOnce(t *testing.T) {
	r := newPromptRig(t, 3)
	createTokens(t, r.c.WaitLeader(15*time.Second).Node, promptTokens...)
	w := r.issue(t, district)
	r.clock.Add(promptTimeout)
	prompted := r.waitPrompted(t, w.ID)
	assert.Equal(t, prompted.Prompted.At.Add(promptTimeout), prompted.Prompted.EscalateBy, "stamped as the commanders were listed")
	require.Len(t, r.sim.Messages(commanderPhone), 1)
	assert.Empty(t, r.sim.Messages(approverPhone), "not before the second span")
	assert.Nil(t, prompted.Escalated)

	r.clock.Add(promptTimeout)
	got := r.waitEscalated(t, w.ID)
	msgs := r.sim.Messages(approverPhone)
	require.Len(t, msgs, 1)
	m := msgs[0]
	assert.Equal(t, liveAcct.SID, m.AccountSID)
	assert.Equal(t, "【示例市应急】【叫应升级】暴雨红色预警"+string(w.ID)+"（东湖区）09:00发布，09:10已短信叫应指挥长周一，至09:20仍未启动响应。"+
		"收到请回复1，并立即督促指挥长启动响应（建议 flood-control I级），详见控制台或 muster warning show "+string(w.ID)+"。", m.Body)
	assert.Len(t, r.sim.Messages(commanderPhone), 1, "the commander is not texted again")
	assert.Empty(t, r.sim.Messages(adminPhone))
	assert.EqualValues(t, 2, r.sim.Stats().Accounts[liveAcct.SID].Created, "one text to the commander, one to the approver")
	assert.Zero(t, r.sim.Stats().Accounts[drillAcct.SID].Created)

	require.NotNil(t, got.Escalated)
	assert.Equal(t, r.clock.Now(), got.Escalated.At)
	assert.False(t, got.Escalated.NoPhone)
	require.Len(t, got.Escalated.Texts, 1)
	x := got.Escalated.Texts[0]
	assert.Equal(t, "吴二", x.Holder)
	assert.Equal(t, plans.NoticeSent, x.State)
	assert.Equal(t, m.SID, x.SID)
	assert.Equal(t, notify.WarningEscalationAttemptID(w.ID, 0, 1), x.Attempt)
	assert.Equal(t, prompted.Prompted, got.Prompted, "the commanders' record stands")
	assert.True(t, got.Prompt, "still marked NO RESPONSE")
	assert.EqualValues(t, 1, r.escalations.n.Load(), "one log line as it escalated")

	// The leader hands over; the new one escalates a warning that goes
	// unanswered after it took over, and not the first again.
	old := r.c.WaitLeader(15 * time.Second)
	r.c.Stop(old)
	require.NotEqual(t, old.Node.ID(), r.c.WaitLeader(15*time.Second).Node.ID())
	v := r.issue(t, other)
	r.clock.Add(promptTimeout)
	r.waitPrompted(t, v.ID)
	r.clock.Add(promptTimeout)
	r.waitEscalated(t, v.ID)
	msgs = r.sim.Messages(approverPhone)
	require.Len(t, msgs, 2)
	assert.Contains(t, msgs[1].Body, string(v.ID))
	assert.NotContains(t, msgs[1].Body, string(w.ID))
	assert.Len(t, r.sim.Messages(commanderPhone), 2, "one text per warning")
	assert.Equal(t, got.Escalated, r.warning(t, w.ID).Escalated, "the first warning's escalation stands as the first leader recorded it")
	assert.EqualValues(t, 2, r.escalations.n.Load())
}

// A warning answered after its commanders were texted, before the second
// span ends, escalates to nobody.
func TestAWarningAnsweredAfterItsCommandersWereTextedEscalatesToNobody(t *testing.T) {
	r := newPromptRig(t, 1)
	n := r.c.WaitLeader(15 * time.Second).Node
	createTokens(t, n, promptTokens...)
	w := r.issue(t, district)
	// Another warning, left unanswered, tells when the prompter has
	// looked.
	v := r.issue(t, other)
	r.clock.Add(promptTimeout)
	r.waitPrompted(t, w.ID)
	r.waitPrompted(t, v.ID)
	require.Len(t, r.sim.Messages(commanderPhone), 2)

	_, err := notify.NewService(n, n, senders).Activate(testCtx(t), "zhou", floodIV(district))
	require.NoError(t, err)
	answered := r.warning(t, w.ID)
	require.True(t, answered.Answered())
	r.clock.Add(promptTimeout)
	r.waitEscalated(t, v.ID)
	msgs := r.sim.Messages(approverPhone)
	require.Len(t, msgs, 1, "the unanswered warning's escalation only")
	assert.Contains(t, msgs[0].Body, string(v.ID))
	got := r.warning(t, w.ID)
	assert.Nil(t, got.Escalated)
	assert.NotNil(t, got.Prompted, "its commander was texted")
	assert.EqualValues(t, 1, r.escalations.n.Load())
}

// A drill's warning that no drill answers escalates to nobody, however
// long it waits: nothing about it goes out on either account.
func TestADrillWarningNeverEscalates(t *testing.T) {
	r := newPromptRig(t, 1)
	createTokens(t, r.c.WaitLeader(15*time.Second).Node, promptTokens...)
	imp, err := r.warnings().Import(testCtx(t), "feed", plans.UpstreamWarning{Alert: plans.UpstreamRef{Sender: "cma.example", Identifier: "EX-2"},
		Source: "cap:cma.example,EX-2,2026-07-20T09:00:00+08:00", Purpose: plans.WarningExercise, Regions: []plans.RegionCode{district},
		Level: plans.WarningRed, Event: "暴雨", Headline: "演练：暴雨红色预警"})
	require.NoError(t, err)
	w := imp.Warning
	v := r.issue(t, other)

	r.clock.Add(promptTimeout)
	r.waitPrompted(t, v.ID)
	r.clock.Add(promptTimeout)
	r.waitEscalated(t, v.ID)
	got := r.warning(t, w.ID)
	assert.True(t, got.Prompt)
	assert.Nil(t, got.Prompted)
	assert.Nil(t, got.Escalated)
	msgs := r.sim.Messages(approverPhone)
	require.Len(t, msgs, 1, "the LIVE warning's escalation only")
	assert.Contains(t, msgs[0].Body, string(v.ID))
	assert.EqualValues(t, 2, r.sim.Stats().Accounts[liveAcct.SID].Created)
	assert.Zero(t, r.sim.Stats().Accounts[drillAcct.SID].Created)
}

// The escalation text names the warning, whom of the commanders it texted
// and when (at most three by name), that nothing started by EscalateBy,
// and what the superior does: have the commanders respond.
func TestWarningEscalationText(t *testing.T) {
	zone := time.FixedZone("CST", 8*60*60)
	issued := time.Date(2026, 7, 20, 1, 5, 0, 0, time.UTC) // 09:05 in China
	at := issued.Add(30 * time.Minute)
	w := plans.Warning{ID: "W000003", Level: plans.WarningOrange, Event: "暴雨", Regions: []plans.RegionCode{"990101"},
		Areas: []plans.WarningArea{{Code: "990101", Name: "东湖区"}}, IssuedAt: issued, RespondBy: at,
		SuggestedLevel: plans.LevelII, Suggestions: []plans.Suggestion{{Plan: "flood-control", Level: plans.LevelII}},
		Prompted: &plans.WarningPrompted{At: at, EscalateBy: at.Add(30 * time.Minute), Texts: []plans.TextNotice{
			{Holder: "周一", State: plans.NoticeSent}, {Holder: "冯四", State: plans.NoticeFailed}}}}
	assert.Equal(t, "【示例市应急】【叫应升级】暴雨橙色预警W000003（东湖区）09:05发布，09:35已短信叫应指挥长周一，至10:05仍未启动响应。收到请回复1，并立即督促指挥长启动响应（建议 flood-control II级），详见控制台或 muster warning show W000003。",
		notify.WarningEscalationText(w, "【示例市应急】", zone))
	w.Prompted.Texts = []plans.TextNotice{{Holder: "a", State: plans.NoticeSent}, {Holder: "b", State: plans.NoticeSent}, {Holder: "c", State: plans.NoticeSent}, {Holder: "d", State: plans.NoticeSent}}
	assert.Contains(t, notify.WarningEscalationText(w, "", zone), "09:35已短信叫应指挥长a、b、c等4人，")
	w.Prompted.Texts[0].State, w.Prompted.Texts[1].State, w.Prompted.Texts[2].State, w.Prompted.Texts[3].State = plans.NoticeFailed, plans.NoticeFailed, plans.NoticeSkipped, plans.NoticeFailed
	w.Suggestions = nil
	assert.Equal(t, "【叫应升级】暴雨橙色预警W000003（东湖区）09:05发布，09:35起叫应指挥长，但短信未能发出，至10:05仍未启动响应。收到请回复1，并立即督促指挥长启动响应，详见控制台或 muster warning show W000003。",
		notify.WarningEscalationText(w, "", zone))
}

// shellWords is how a POSIX shell splits line into words.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	out, err := exec.Command("sh", "-c", `eval "set -- $1"; printf '%s\n' "$@"`, "sh", line).Output()
	require.NoError(t, err, line)
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// replyAndWait has the person at from reply body to the LIVE number, as
// the simulator posts it, and waits (up to 30 s) for what muster said
// back: the newest outbound-reply message to from, beyond the seen ones.
func (r *promptRig) replyAndWait(t *testing.T, from, body string) string {
	t.Helper()
	seen := len(r.sim.Messages(from))
	require.NoError(t, r.sim.Reply(from, liveAcct.Number, body))
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, m := range r.sim.Messages(from)[seen:] {
			if m.Direction == "outbound-reply" {
				return m.Body
			}
		}
		require.True(t, time.Now().Before(deadline), "no answer to %s's %q", from, body)
		time.Sleep(20 * time.Millisecond)
	}
}

// inboundAudit reads the audited inbound messages on the leader.
func (r *promptRig) inboundAudit(t *testing.T) []notify.InboundRecord {
	t.Helper()
	n := r.c.WaitLeader(15 * time.Second).Node
	audit, err := notify.NewService(n, n, senders).InboundAudit(testCtx(t), muster.Default, 0, 100)
	require.NoError(t, err)
	return audit
}

// A commander who replies 1 to the 叫应 text acknowledges the warning (应,
// rules 13): the reply is recorded on their text (when, by the command's
// time; what they said), audited naming the warning, and answered that it
// was recorded and starts no response, ending with the command that does,
// as the text did. The warning stays unanswered (NO RESPONSE), but the
// call is answered: it does not go on to the approver. A reply from a
// number no 叫应 text went to is still an unknown number's.
func TestACommandersReplyToThePromptAcknowledgesTheWarning(t *testing.T) {
	r := newPromptRig(t, 1)
	n := r.c.WaitLeader(15 * time.Second).Node
	createTokens(t, n, promptTokens...)
	w := r.issue(t, district) // 09:00, texted at 09:10
	r.clock.Add(time.Minute)
	v := r.issue(t, other) // 09:01, texted at 09:11
	r.clock.Add(promptTimeout - time.Minute)
	prompted := r.waitPrompted(t, w.ID)
	r.clock.Add(time.Minute)
	r.waitPrompted(t, v.ID)
	texts := r.sim.Messages(commanderPhone)
	require.Len(t, texts, 2)
	assert.Contains(t, texts[0].Body, "未启动响应。收到请回复1，并立即在控制台启动响应，或执行：muster activate ", "the text asks for the reply")

	r.clock.Add(2 * time.Minute) // 09:13
	answer := r.replyAndWait(t, commanderPhone, " 1 ")
	start := notify.PromptCommand(r.warning(t, v.ID))
	require.True(t, strings.HasPrefix(start, "muster activate "), start)
	assert.True(t, strings.HasSuffix(texts[1].Body, start), texts[1].Body)
	assert.Equal(t, notify.WarningAckRecorded(v.ID, false, start, false), answer, "the newest text (%s's) is acknowledged", v.ID)
	assert.Equal(t, "已记录您对"+string(v.ID)+"叫应的应答。应答不会启动响应：请立即在控制台启动响应，或执行："+start, answer)
	got := r.warning(t, v.ID)
	x := got.Prompted.Texts[0]
	assert.Equal(t, r.clock.Now(), x.AckedAt, "the command's time")
	assert.Equal(t, "1", x.AckBody, "trimmed")
	assert.Equal(t, 1, x.Replies)
	assert.True(t, got.Prompt, "still NO RESPONSE: an acknowledgement starts nothing")
	assert.False(t, got.Answered())

	// The next reply acknowledges the other text, not yet acknowledged.
	answer = r.replyAndWait(t, commanderPhone, "收到")
	assert.Contains(t, answer, "已记录您对"+string(w.ID)+"叫应的应答。")
	got = r.warning(t, w.ID)
	require.Len(t, got.Prompted.Texts, 1)
	assert.Equal(t, "收到", got.Prompted.Texts[0].AckBody)
	assert.Equal(t, prompted.Prompted.Texts[0].SID, got.Prompted.Texts[0].SID)
	assert.Len(t, got.Prompted.Acks(), 1)

	// A stranger's reply is an unknown number's: audited, answered with
	// nothing.
	code, body := r.postHook(t, r.c.Leader().HTTPAddr, "/hooks/twilio/sms-inbound", url.Values{"AccountSid": {liveAcct.SID}, "MessageSid": {"SMstranger"},
		"From": {"+8613700000077"}, "To": {liveAcct.Number}, "Body": {"1"}}, liveAcct.AuthToken)
	require.Equal(t, http.StatusOK, code, body)
	assert.NotContains(t, body, "<Message>")
	audit := r.inboundAudit(t)
	require.Len(t, audit, 3)
	for i, id := range []plans.WarningID{v.ID, w.ID} {
		assert.Equal(t, notify.InboundWarningAck, audit[i].Outcome)
		assert.Equal(t, id, audit[i].Warning)
		assert.Equal(t, commanderPhone, audit[i].From)
	}
	assert.Equal(t, notify.InboundUnknown, audit[2].Outcome)
	assert.Empty(t, audit[2].Warning)

	// Unanswered past its escalation time, neither acknowledged warning
	// goes on to the approver; the other one would have: an unanswered
	// third, issued now, tells when the prompter has looked.
	u := r.issue(t, plans.RegionCode("990103"))
	r.clock.Add(promptTimeout)
	r.waitPrompted(t, u.ID)
	r.clock.Add(promptTimeout)
	r.waitEscalated(t, u.ID)
	for _, id := range []plans.WarningID{w.ID, v.ID} {
		got := r.warning(t, id)
		assert.Nil(t, got.Escalated, "%s: its commander answered the call", id)
		assert.False(t, got.EscalationDue(r.clock.Now()))
		assert.True(t, got.Prompt)
	}
	msgs := r.sim.Messages(approverPhone)
	require.Len(t, msgs, 1, "the unacknowledged warning's escalation only")
	assert.Contains(t, msgs[0].Body, string(u.ID))
	assert.Contains(t, msgs[0].Body, "收到请回复1，并立即督促指挥长启动响应")

	// The approver acknowledges it: recorded on their text as the
	// superior's, told to have the commanders respond.
	answer = r.replyAndWait(t, approverPhone, "好")
	assert.Equal(t, notify.WarningAckRecorded(u.ID, true, "", false), answer)
	assert.Contains(t, answer, "升级叫应的应答。应答不会启动响应：请立即督促指挥长启动响应")
	got = r.warning(t, u.ID)
	require.Len(t, got.Escalated.Acks(), 1)
	assert.Equal(t, "吴二", got.Escalated.Acks()[0].Holder)
	assert.Empty(t, got.Prompted.Acks())
}

// A commander on the roster whose LIVE call-up began before the 叫应 text
// went out: their first reply after it acknowledges the warning (the text
// is the newest in the thread of the LIVE number), records nothing on the
// call-up, and says that the next reply answers it; the next one does, and
// nothing more on the warning.
func TestARosterCommandersFirstReplyAfterThePromptAcknowledgesIt(t *testing.T) {
	r := newPromptRig(t, 1)
	n := r.c.WaitLeader(15 * time.Second).Node
	createTokens(t, n, promptTokens...)
	callUp := r.activateIn(t, "LIVE", other)
	r.waitSettled(t, callUp.ID, 30*time.Second)
	cao := r.recipientsOf(t, callUp.ID)[0]
	createTokens(t, n, access.NewToken{Name: "cao", Holder: "曹倩", Phone: cao.Phone, Role: access.Commander})
	w := r.issue(t, district)
	r.clock.Add(promptTimeout)
	got := r.waitPrompted(t, w.ID)
	require.Len(t, got.Prompted.Texts, 2, "周一 and 曹倩: %+v", got.Prompted.Texts)

	first := r.replyAndWait(t, cao.Phone, "1")
	assert.Equal(t, notify.WarningAckRecorded(w.ID, false, notify.PromptCommand(got), true), first)
	assert.Contains(t, first, "如需对通知报到，请再回复1或2。")
	assert.False(t, r.acked(t, callUp.ID)[cao.Person], "nothing recorded on the call-up")
	acks := r.warning(t, w.ID).Prompted.Acks()
	require.Len(t, acks, 1)
	assert.Equal(t, "曹倩", acks[0].Holder)

	second := r.replyAndWait(t, cao.Phone, "1")
	assert.NotContains(t, second, "叫应", "the next reply answers the call-up")
	assert.True(t, r.acked(t, callUp.ID)[cao.Person])
	again := r.warning(t, w.ID).Prompted.Acks()
	require.Len(t, again, 1)
	assert.Equal(t, 1, again[0].Replies)
}
