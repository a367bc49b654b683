package notify_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/notify"
	"muster/notify/twiliosim"
	"muster/plans"
)

// escalatePlan calls up volunteers and grid leaders at level IV and
// escalates silence: the SMS again at T+5, the grid leader (叫应) at T+10,
// the backup person at T+15.
func escalatePlan() []byte {
	src := strings.Replace(string(examples.EveryonePlan), "id: everyone", "id: escalate", 1)
	src = strings.Replace(src, "select: {categories: [党员, 人大代表, 政协委员, 团员, 社区干部, 下沉干部, 居民骨干, 物业, 志愿者, 应急队伍, 网格员, 领导干部]}",
		"select: {categories: [志愿者]}", 1)
	src += `    voice: "{{.Name}}同志，{{.Plan}}响应已启动，请到岗。确认到岗请按1，不能到岗请按2，重听请按9。"
    escalation:
      - {after: 5m, do: sms}
      - {after: 10m, do: superior}
      - {after: 15m, do: backup}
`
	return []byte(src)
}

// voiceEscalatePlan is escalatePlan with one step: a voice call to
// everyone still silent at T+5.
func voiceEscalatePlan() []byte {
	return []byte(strings.Replace(string(escalatePlan()), "      - {after: 5m, do: sms}\n      - {after: 10m, do: superior}\n      - {after: 15m, do: backup}\n",
		"      - {after: 5m, do: voice}\n", 1))
}

// stepStatus reads an activation's escalation chain from the leader.
func (r *callRig) escalation(t testing.TB, id plans.ActivationID) []notify.EscalationStepStatus {
	t.Helper()
	n := r.c.WaitLeader(15 * time.Second).Node
	steps, err := notify.NewService(n, n, senders).Escalation(testCtx(t), muster.Default, id)
	require.NoError(t, err)
	return steps
}

// waitFired polls until step has fired and its items are all out.
func (r *callRig) waitFired(t testing.TB, id plans.ActivationID, step int) notify.EscalationStepStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		steps := r.escalation(t, id)
		st := steps[step]
		if !st.FiredAt.IsZero() && st.Items[notify.EscQueued]+st.Items[notify.EscSending] == 0 {
			return st
		}
		require.True(t, time.Now().Before(deadline), "step %d did not fire and send: %+v", step, st)
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *callRig) escalatorsFired() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for _, e := range r.esc {
		n += e.Stats().Fired
	}
	return n
}

func simBodies(sim *twiliosim.Server, contains string) int {
	n := 0
	for _, m := range sim.Messages("") {
		if m.Direction == "outbound-api" && strings.Contains(m.Body, contains) {
			n++
		}
	}
	return n
}

// Escalation runs on the clock the test moves: nothing fires before a
// step is due; each step fires once, on whichever node leads when it comes
// due — across a leader change — and does what it says: the SMS again to
// the silent, a 叫应 report to grid leaders, the backups called up.
func TestEscalationFiresEachStepOnceAcrossLeaderChange(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 3, people: 600, clock: clock, sim: twiliosim.Config{
		Replies: []twiliosim.ReplyRule{{Share: 0.5, Body: "1", Within: 20 * time.Millisecond}},
	}})
	_, err := r.plans.ApplyPlan(testCtx(t), "test", "escalate.yaml", escalatePlan())
	require.NoError(t, err)
	n := r.c.WaitLeader(15 * time.Second).Node
	svc := notify.NewService(n, n, senders)
	a, err := svc.Activate(testCtx(t), "trainer", notify.ActivationRequest{Plan: "escalate", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "EXERCISE", Reason: "叫应演练"})
	require.NoError(t, err)
	r.waitSettled(t, a.ID, 60*time.Second)
	r.waitSimIdle(t, 30*time.Second)
	steps := r.escalation(t, a.ID)
	require.Len(t, steps, 3)
	assert.Equal(t, a.Start().Add(5*time.Minute), steps[0].Due)
	for _, s := range steps {
		assert.True(t, s.FiredAt.IsZero(), "nothing is due yet")
	}
	silent := r.status(t, a.ID).Counters.ByState[notify.StateDelivered]
	require.Positive(t, silent)
	sent0 := r.sim.Stats().Accounts[drillAcct.SID].Created

	// T+5: the SMS again to everyone still silent.
	clock.Add(5 * time.Minute)
	s0 := r.waitFired(t, a.ID, 0)
	assert.Equal(t, clock.Now(), s0.FiredAt)
	assert.Equal(t, map[string]int{notify.EscSent: silent}, s0.Items)
	r.waitSimIdle(t, 30*time.Second)
	assert.EqualValues(t, sent0+int64(silent), r.sim.Stats().Accounts[drillAcct.SID].Created, "one escalation SMS per silent recipient")
	key, err := notify.ReadAnswerKey(testCtx(t), r.c.WaitLeader(15*time.Second).Node, muster.Default)
	require.NoError(t, err)
	assert.Len(t, callUpLinks(t, r, key, a.ID, r.recipientsOf(t, a.ID)), a.Recipients, "the call-up and the SMS again carry the recipient's link")
	assert.True(t, r.escalation(t, a.ID)[1].FiredAt.IsZero())

	// The leader dies; the next one fires T+10 once: a 叫应 report per grid leader.
	old := r.c.Leader()
	r.c.Kill(old)
	require.NotEqual(t, old.Node.ID(), r.c.WaitLeader(15*time.Second).Node.ID())
	st := r.status(t, a.ID)
	silent = st.Counters.ByState[notify.StateDelivered]
	require.Positive(t, silent, "some stay silent after the second SMS")
	clock.Add(5 * time.Minute)
	s1 := r.waitFired(t, a.ID, 1)
	r.waitSimIdle(t, 30*time.Second)
	reports := s1.Items[notify.EscSent]
	assert.Positive(t, reports)
	assert.Equal(t, map[string]int{notify.EscSent: reports}, s1.Items)
	assert.Equal(t, reports, simBodies(r.sim, "叫应："), "one report per superior")
	st = r.status(t, a.ID)
	assert.Equal(t, silent, st.Counters.ByState[notify.StateEscalated], "the silent are escalated")

	// T+15: every escalated recipient's backup who is not called up yet is.
	recs := r.recipientsOf(t, a.ID)
	called := map[plans.PersonID]bool{}
	for _, rc := range recs {
		called[rc.Person] = true
	}
	backups := map[plans.PersonID]bool{}
	for _, rc := range recs {
		if rc.State == notify.StateEscalated && rc.Backup != "" && !called[rc.Backup] {
			backups[rc.Backup] = true
		}
	}
	t.Logf("recipients %d, silent after T+5 %d, 叫应 reports %d, backups to call %d", len(recs), silent, reports, len(backups))
	require.NotEmpty(t, backups, "the generated roster names backups")
	clock.Add(5 * time.Minute)
	r.waitFired(t, a.ID, 2)
	after := r.status(t, a.ID)
	assert.Equal(t, len(recs)+len(backups), after.Recipients, "backups join the call-up")
	assert.Equal(t, len(recs)+len(backups), after.Counters.Total)

	// Each step fired exactly once, whoever led: every step has its time,
	// and no escalator saw a step fire twice. (An escalator whose fire
	// committed while its own answer was lost to the leader change finds the
	// step already fired next time and does not count it, so the sum may be
	// lower, never higher.)
	fired := r.escalatorsFired()
	assert.LessOrEqual(t, fired, int64(3), "no step fires twice")
	assert.Positive(t, fired)
	for i, s := range r.escalation(t, a.ID) {
		assert.False(t, s.FiredAt.IsZero(), "step %d fired", i)
	}
	assert.Zero(t, r.sim.Stats().Accounts[liveAcct.SID].Created, "a drill's escalation stays on the exercise account")
	for _, m := range r.sim.Messages("") {
		if m.Direction == "outbound-api" {
			assert.True(t, strings.HasPrefix(m.Body, plans.ExerciseMark), "%q", m.Body)
		}
	}
}

// A voice step calls everyone still silent through the real twilio-go
// client; the simulator answers, fetches the call-up TwiML from the
// cluster's webhook (signed), and presses keys by its profile. Keys 1 and
// 2 become answers exactly as the simulator pressed them, 9 reads the
// call-up again, and calls an answering machine took never acknowledge.
func TestVoiceEscalationAnswersByKeypad(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 1, people: 400, clock: clock, sim: twiliosim.Config{
		TimeScale: 0.002,
		Voice: twiliosim.VoiceProfile{AnswerRate: 1, MachineRate: 0.2,
			Digits: twiliosim.DigitMix{Accept: 0.6, Decline: 0.2, Repeat: 0.2}},
	}})
	_, a, silent := voiceDrill(t, r, "EXERCISE")
	require.Equal(t, a.Recipients, silent, "nobody answers SMS in this test")

	clock.Add(5 * time.Minute)
	s0 := r.waitFired(t, a.ID, 0)
	assert.Equal(t, map[string]int{notify.EscSent: silent}, s0.Items, "one call per silent recipient")
	sim := r.waitSimIdle(t, 60*time.Second)
	calls := sim.Accounts[drillAcct.SID].Calls
	t.Logf("calls %d, answered %d (machine %d), keys %v, TwiML fetches %d (errors %d), p50 %.1f ms p99 %.1f ms",
		calls.Created, calls.Answered, calls.Machine, calls.Digits, calls.TwiMLFetches, calls.TwiMLErrors, calls.TwiMLLatencyP50, calls.TwiMLLatencyP99)
	assert.EqualValues(t, silent, calls.Created)
	assert.Zero(t, calls.TwiMLErrors, "every TwiML request was signed, answered and parsed")
	assert.Positive(t, calls.Machine)
	assert.Positive(t, calls.Digits["9"], "some asked to hear it again")
	st := r.status(t, a.ID)
	c := st.Counters.ByState
	assert.EqualValues(t, calls.Digits["1"], c[notify.StateAcked], "every 1 pressed is an acknowledgement")
	assert.EqualValues(t, calls.Digits["2"], c[notify.StateDeclined], "every 2 pressed is a decline")
	assert.EqualValues(t, calls.Machine, c[notify.StateDelivered], "machines never acknowledge")
	assert.Zero(t, sim.Accounts[liveAcct.SID].Calls.Created, "a drill's calls stay on the exercise account")
}

// TestLiveEscalationIsNotHeldBehindADrill escalates a drill in one
// district and a LIVE call-up in the next at the same moment, both by
// voice; the drill's exercise account places 2 calls a second. The LIVE
// calls all go out while the drill's are still being placed at their pace:
// a drill's escalation never holds up a LIVE one, though the drill is
// older.
func TestLiveEscalationIsNotHeldBehindADrill(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 1, people: 1200, clock: clock, drillCallRate: 2, sim: twiliosim.Config{TimeScale: 0.002}})
	_, err := r.plans.ApplyPlan(testCtx(t), "test", "escalate.yaml", voiceEscalatePlan())
	require.NoError(t, err)
	n := r.c.WaitLeader(15 * time.Second).Node
	svc := notify.NewService(n, n, senders)
	var acts []notify.Activation
	for _, p := range []struct {
		purpose string
		region  plans.RegionCode
	}{{"EXERCISE", drillDistrict}, {"LIVE", district}} {
		a, err := svc.Activate(testCtx(t), "commander", notify.ActivationRequest{Plan: "escalate", Regions: []plans.RegionCode{p.region}, Level: "IV", Purpose: p.purpose, Reason: "电话叫应"})
		require.NoError(t, err)
		r.waitSettled(t, a.ID, 60*time.Second)
		acts = append(acts, a)
	}
	drill, live := acts[0], acts[1]
	r.waitSimIdle(t, 30*time.Second)
	silent := r.status(t, live.ID).Counters.ByState[notify.StateDelivered]
	require.GreaterOrEqual(t, r.status(t, drill.ID).Counters.ByState[notify.StateDelivered], 20, "the drill has calls to place for 10 s or more")

	clock.Add(5 * time.Minute)
	start := time.Now()
	s0 := r.waitFired(t, live.ID, 0)
	took := time.Since(start)
	assert.Equal(t, map[string]int{notify.EscSent: silent}, s0.Items, "one LIVE call per silent recipient")
	d := r.escalation(t, drill.ID)[0]
	assert.False(t, d.FiredAt.IsZero(), "the drill's step fired too")
	assert.Positive(t, d.Items[notify.EscQueued]+d.Items[notify.EscSending], "the drill's calls are still being placed: %v", d.Items)
	t.Logf("%d LIVE calls placed in %v; the drill's step meanwhile: %v", silent, took, d.Items)
	r.standDown(t, drill.ID)
}

// BenchmarkVoiceCallUp measures a voice escalation step on a 3-node
// loopback cluster against the simulator over HTTP, its dialling pace
// lifted: calls placed per second (from the moment the step is due until
// the simulator has created every call), and the latency of the TwiML the
// cluster serves when the calls are answered and keys pressed, as the
// simulator measured it.
//
//	go test ./notify -run '^$' -bench VoiceCallUp -benchtime 1x -timeout 20m
func BenchmarkVoiceCallUp(b *testing.B) {
	const people = 3000
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r := newCallRig(b, rigOptions{nodes: 3, people: people, clock: clock, sim: twiliosim.Config{
		TimeScale: 0.001, CPS: -1, MaxCalls: 4 * people,
		Voice: twiliosim.VoiceProfile{AnswerRate: 1, MachineRate: 0.1, Digits: twiliosim.DigitMix{Accept: 0.8, Decline: 0.1, Repeat: 0.1}},
	}})
	src := strings.Replace(string(voiceEscalatePlan()), "select: {categories: [志愿者]}",
		"select: {categories: [党员, 人大代表, 政协委员, 团员, 社区干部, 下沉干部, 居民骨干, 物业, 志愿者, 应急队伍, 网格员, 领导干部]}", 1)
	_, err := r.plans.ApplyPlan(testCtx(b), "test", "escalate.yaml", []byte(src))
	require.NoError(b, err)
	for i := 0; i < b.N; i++ {
		n := r.c.WaitLeader(15 * time.Second).Node
		a, err := notify.NewService(n, n, senders).Activate(testCtx(b), "trainer", notify.ActivationRequest{Plan: "escalate", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "EXERCISE", Reason: "bench"})
		require.NoError(b, err)
		r.waitSettled(b, a.ID, 5*time.Minute)
		r.waitSimIdle(b, 5*time.Minute)
		before := r.sim.Stats().Accounts[drillAcct.SID].Calls.Created
		b.ResetTimer()
		start := time.Now()
		clock.Add(5 * time.Minute)
		deadline := start.Add(5 * time.Minute)
		for r.sim.Stats().Accounts[drillAcct.SID].Calls.Created-before < int64(a.Recipients) {
			require.True(b, time.Now().Before(deadline), "calls not placed")
			time.Sleep(5 * time.Millisecond)
		}
		took := time.Since(start)
		b.StopTimer()
		sim := r.waitSimIdle(b, 5*time.Minute)
		calls := sim.Accounts[drillAcct.SID].Calls
		require.Zero(b, calls.TwiMLErrors)
		b.ReportMetric(float64(a.Recipients)/took.Seconds(), "calls/s")
		b.ReportMetric(calls.TwiMLLatencyP50, "twiml_p50_ms")
		b.ReportMetric(calls.TwiMLLatencyP99, "twiml_p99_ms")
		b.Logf("%d calls placed in %v; %d TwiML requests, p50 %.1f ms, p99 %.1f ms", a.Recipients, took.Round(time.Millisecond), calls.TwiMLFetches, calls.TwiMLLatencyP50, calls.TwiMLLatencyP99)
	}
}

// BenchmarkEscalationFire measures the first escalation step of a call-up
// whose recipients are all silent: one raft entry, escalation.fire, in
// which the state machine queues an item for each of them. fire-s is from
// the step falling due (the test moves the clock) until that entry is
// applied and answered on the leader; out-s until the escalator has sent
// every item (to a provider that answers at once). While the entry is
// applied no other entry is: replies and results wait behind it. The peak
// RSS is the whole process's (every node) during the step.
//
//	go test ./notify -run '^$' -bench EscalationFire -benchtime 1x -timeout 30m
//
// MUSTER_BENCH_PEOPLE sets the roster size (default 100,000; the plan
// calls up everyone). MUSTER_BENCH_STEP=superior makes the first step a
// superior (叫应) step instead of an SMS to everyone: its chunks find
// the silent people's superiors, then write one report per superior a
// chunk of superiors at a time; out-s is then until every report is sent.
func BenchmarkEscalationFire(b *testing.B) {
	people := 100_000
	if s := os.Getenv("MUSTER_BENCH_PEOPLE"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(b, err)
		people = n
	}
	for _, nodes := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
			r := newCallRig(b, rigOptions{nodes: nodes, people: people, clock: clock, noCallbacks: true,
				provider: func(bool) notify.Provider { return &instantProvider{} },
				disp:     notify.DispatcherConfig{Workers: 64, ReportTimeout: time.Hour}})
			everyone := strings.Replace(string(escalatePlan()), "select: {categories: [志愿者]}",
				"select: {categories: [党员, 人大代表, 政协委员, 团员, 社区干部, 下沉干部, 居民骨干, 物业, 志愿者, 应急队伍, 网格员, 领导干部]}", 1)
			superior := os.Getenv("MUSTER_BENCH_STEP") == "superior"
			if superior {
				everyone = strings.Replace(everyone, "      - {after: 5m, do: sms}\n      - {after: 10m, do: superior}\n", "      - {after: 5m, do: superior}\n", 1)
			}
			_, err := r.plans.ApplyPlan(testCtx(b), "test", "escalate.yaml", []byte(everyone))
			require.NoError(b, err)
			for range b.N {
				n := r.c.WaitLeader(15 * time.Second).Node
				a, err := notify.NewService(n, n, senders).Activate(testCtx(b), "trainer", notify.ActivationRequest{Plan: "escalate", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "EXERCISE", Reason: "bench"})
				require.NoError(b, err)
				st := r.waitDispatched(b, a.ID, 10*time.Minute)
				silent := st.Counters.ByState[notify.StateSent]
				require.Equal(b, a.Recipients, silent)
				before := r.escalatorStats()
				runtime.GC()
				resetPeakRSS()
				start := time.Now()
				clock.Add(5 * time.Minute)
				deadline := start.Add(10 * time.Minute)
				for r.escalatorStats().Fired == before.Fired {
					require.True(b, time.Now().Before(deadline), "the step did not fire")
					time.Sleep(time.Millisecond)
				}
				fired := time.Since(start)
				items := silent // an SMS step: one to each
				if superior {
					// A report to each superior: how many the step queued.
					step := r.escalation(b, a.ID)[0]
					require.Equal(b, plans.EscalateSuperior, step.Do)
					items = 0
					for _, n := range step.Items {
						items += n
					}
					require.Positive(b, items, "the superior step queued no report")
				}
				for r.escalatorStats().Sent-before.Sent < int64(items) {
					require.True(b, time.Now().Before(deadline), "sent %d of %d", r.escalatorStats().Sent-before.Sent, items)
					time.Sleep(5 * time.Millisecond)
				}
				out := time.Since(start)
				hwm := peakRSS()
				after := r.escalatorStats()
				b.ReportMetric(fired.Seconds(), "fire-s")
				b.ReportMetric(float64(after.FireChunks-before.FireChunks), "fire-entries")
				b.ReportMetric(float64(after.LongestFireMillis)/1000, "longest-entry-s")
				b.ReportMetric(out.Seconds(), "out-s")
				b.ReportMetric(float64(items)/out.Seconds(), "items/s")
				b.ReportMetric(float64(hwm)/(1<<20), "MiB-VmHWM")
				b.ReportMetric(0, "ns/op")
				b.Logf("%d silent: step fired in %v, its %d items all sent %v after it fell due; peak RSS %d MiB",
					silent, fired.Round(time.Millisecond), items, out.Round(time.Millisecond), hwm>>20)
				r.standDown(b, a.ID)
			}
		})
	}
}

// escalatorStats sums the counters of every node's escalator.
func (r *callRig) escalatorStats() notify.EscalatorStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s notify.EscalatorStats
	for _, e := range r.esc {
		x := e.Stats()
		s.Fired += x.Fired
		s.Sent += x.Sent
		s.Failed += x.Failed
		s.FireChunks += x.FireChunks
		s.LongestFireMillis = max(s.LongestFireMillis, x.LongestFireMillis)
	}
	return s
}

// countingHandler counts the log records whose message contains match.
type countingHandler struct {
	match string
	n     atomic.Int64
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.match) {
		h.n.Add(1)
	}
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

// Escalation calls with no voice route to place them stay queued. A queue
// of more than a batch of them must not keep the escalator reading it
// round and round without a pause: a full batch calls for the next one at
// once only when it went out. Without that the loop read the queue (and
// logged) tens of thousands of times a second.
func TestUnsendableEscalationsWaitForTheTick(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	warns := &countingHandler{match: "no provider for some queued escalations"}
	r := newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock, sim: twiliosim.Config{TimeScale: 0.002},
		escalator: func(c *notify.EscalatorConfig) {
			c.ExerciseVoice, c.Batch, c.Logger = nil, 4, slog.New(warns)
		}})
	_, a, silent := voiceDrill(t, r, "EXERCISE")
	require.Greater(t, silent, 8, "more than two batches")
	clock.Add(5 * time.Minute)
	require.Eventually(t, func() bool { return warns.n.Load() > 0 }, 10*time.Second, 10*time.Millisecond, "the step fired and its calls wait")
	n0, start := warns.n.Load(), time.Now()
	time.Sleep(time.Second) // a measured interval, not a wait for something to happen
	n, took := warns.n.Load()-n0, time.Since(start)
	ticks := took / (20 * time.Millisecond)
	t.Logf("%d reads of the queue in %v (%d ticks)", n, took.Round(time.Millisecond), ticks)
	assert.LessOrEqual(t, n, int64(2*ticks+2), "at most a read per tick (and loop)")
	assert.Equal(t, map[string]int{notify.EscQueued: silent}, r.escalation(t, a.ID)[0].Items, "they stay queued")
}
