package notify_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster/clustertest"
	"muster/notify/twiliosim"
)

// /metrics counts a voice step's calls as the simulator saw them: placed,
// how each ended (answered by a person or a machine, not answered, busy,
// failed) and the answers keyed in on them. Only the SMS had counters: a
// voice step whose calls all went unanswered showed nothing.
func TestVoiceCallsAreCountedInMetrics(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock, sim: twiliosim.Config{
		TimeScale: 0.002,
		Voice:     twiliosim.VoiceProfile{AnswerRate: 1, Digits: twiliosim.DigitMix{Accept: 0.6, Decline: 0.4}},
		CallScripts: []twiliosim.CallScript{
			{Match: regexp.MustCompile(`3$`), Outcome: twiliosim.CallMachine},
			{Match: regexp.MustCompile(`5$`), Outcome: twiliosim.CallNoAnswer},
			{Match: regexp.MustCompile(`7$`), Outcome: twiliosim.CallBusy},
			{Match: regexp.MustCompile(`9$`), Outcome: twiliosim.CallFailed},
		},
	}})
	_, a, silent := voiceDrill(t, r, "EXERCISE")
	require.Positive(t, silent)
	clock.Add(5 * time.Minute)
	r.waitFired(t, a.ID, 0)
	calls := r.waitSimIdle(t, 60*time.Second).Accounts[drillAcct.SID].Calls
	t.Logf("calls %+v", calls)
	for name, n := range map[string]int64{"answered": calls.Answered - calls.Machine, "machine": calls.Machine, "no-answer": calls.NoAnswer,
		"busy": calls.Busy, "failed": calls.Failed, "1": calls.Digits["1"], "2": calls.Digits["2"]} {
		require.Positive(t, n, "the simulator's %s", name)
	}

	r.mu.Lock()
	esc, in := r.esc[0], r.in[0]
	r.mu.Unlock()
	assert.NoError(t, testutil.CollectAndCompare(esc.Collector(), strings.NewReader(fmt.Sprintf(`
# HELP muster_voice_calls_not_placed_total Attempts to place a voice call the provider refused or failed (a temporary failure is tried again).
# TYPE muster_voice_calls_not_placed_total counter
muster_voice_calls_not_placed_total 0
# HELP muster_voice_calls_placed_total Voice calls (escalation and correction calls) the provider accepted to place from this node.
# TYPE muster_voice_calls_placed_total counter
muster_voice_calls_placed_total %d
`, calls.Created))))
	ended := fmt.Sprintf(`
# HELP muster_voice_calls_ended_total Voice calls whose end this node's webhooks recorded, by outcome: answered (by a person), machine (an answering machine took it), no_answer, busy, failed (never rang), canceled (ended before it was answered).
# TYPE muster_voice_calls_ended_total counter
muster_voice_calls_ended_total{outcome="answered"} %d
muster_voice_calls_ended_total{outcome="busy"} %d
muster_voice_calls_ended_total{outcome="canceled"} %d
muster_voice_calls_ended_total{outcome="failed"} %d
muster_voice_calls_ended_total{outcome="machine"} %d
muster_voice_calls_ended_total{outcome="no_answer"} %d
`, calls.Answered-calls.Machine, calls.Busy, calls.Canceled, calls.Failed, calls.Machine, calls.NoAnswer)
	keys := fmt.Sprintf(`
# HELP muster_voice_keys_total Answers this node recorded from a key pressed on a voice call-up, by answer: accept (1), decline (2).
# TYPE muster_voice_keys_total counter
muster_voice_keys_total{answer="accept"} %d
muster_voice_keys_total{answer="decline"} %d
`, calls.Digits["1"], calls.Digits["2"])
	assert.NoError(t, testutil.CollectAndCompare(in.VoiceCollector(), strings.NewReader(ended+keys)))
}

// Calls a stand-down cancels while they ring are counted as canceled.
func TestCanceledVoiceCallsAreCountedInMetrics(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	ringing := regexp.MustCompile(`[13579]$`)
	r := newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock, sim: twiliosim.Config{
		TimeScale: 0.15, CPS: -1, // a call rings 60 s unanswered: 9 s here
		Voice:       twiliosim.VoiceProfile{AnswerRate: 1, Digits: twiliosim.DigitMix{Accept: 1}},
		CallScripts: []twiliosim.CallScript{{Match: ringing, Outcome: twiliosim.CallNoAnswer}},
	}})
	svc, a, silent := voiceDrill(t, r, "LIVE")
	require.Positive(t, silent)
	clock.Add(5 * time.Minute)
	deadline := time.Now().Add(30 * time.Second)
	for !slices.ContainsFunc(r.sim.Calls(""), func(c twiliosim.Call) bool { return ringing.MatchString(c.To) && c.Status == twiliosim.StatusRinging }) {
		require.True(t, time.Now().Before(deadline), "the voice step's calls did not ring")
		time.Sleep(5 * time.Millisecond)
	}
	_, err := svc.StandDown(testCtx(t), "commander", a.ID, "险情解除")
	require.NoError(t, err)
	calls := r.waitSimIdle(t, 60*time.Second).Accounts[liveAcct.SID].Calls
	t.Logf("calls %+v", calls)
	require.Positive(t, calls.Canceled)

	r.mu.Lock()
	in := r.in[0]
	r.mu.Unlock()
	assert.NoError(t, testutil.CollectAndCompare(in.VoiceCollector(), strings.NewReader(fmt.Sprintf(`
# HELP muster_voice_calls_ended_total Voice calls whose end this node's webhooks recorded, by outcome: answered (by a person), machine (an answering machine took it), no_answer, busy, failed (never rang), canceled (ended before it was answered).
# TYPE muster_voice_calls_ended_total counter
muster_voice_calls_ended_total{outcome="answered"} %d
muster_voice_calls_ended_total{outcome="busy"} 0
muster_voice_calls_ended_total{outcome="canceled"} %d
muster_voice_calls_ended_total{outcome="failed"} 0
muster_voice_calls_ended_total{outcome="machine"} 0
muster_voice_calls_ended_total{outcome="no_answer"} %d
`, calls.Answered, calls.Canceled, calls.NoAnswer)), "muster_voice_calls_ended_total"))
}
