package notify_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster/clustertest"
	"muster/notify/twiliosim"
)

// A stand-down while the voice step's calls still ring: the escalator
// cancels them (Status=canceled through twilio-go), as a retraction's
// correction does, so nobody picks up a call of a call-up that has ended
// only to hear that it has. Before, they rang on until the ring timeout.
func TestAStandDownCancelsItsRingingCalls(t *testing.T) {
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
	for {
		rings := 0
		for _, c := range r.sim.Calls("") {
			if ringing.MatchString(c.To) && c.Status == twiliosim.StatusRinging {
				rings++
			}
		}
		if rings > 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the voice step's calls did not ring")
		time.Sleep(5 * time.Millisecond)
	}
	_, err := svc.StandDown(testCtx(t), "commander", a.ID, "险情解除")
	require.NoError(t, err)
	stoodDown := time.Now()
	atStandDown := map[string]string{} // number → status of its call at the stand-down
	for _, c := range r.sim.Calls("") {
		atStandDown[c.To] = c.Status
	}
	sim := r.waitSimIdle(t, 60*time.Second)

	canceled, rangOut, late := 0, 0, 0
	for _, c := range r.sim.Calls("") {
		if !ringing.MatchString(c.To) {
			continue
		}
		switch st := atStandDown[c.To]; {
		case st == twiliosim.StatusQueued || st == twiliosim.StatusRinging || st == twiliosim.StatusInitiated:
		default:
			continue // over before the stand-down, or placed after it
		}
		switch c.Status {
		case twiliosim.StatusCanceled:
			canceled++
		case twiliosim.StatusNoAnswer:
			rangOut++
		}
		if c.Ended.After(stoodDown.Add(5 * time.Second)) {
			late++
		}
	}
	t.Logf("silent %d; calls ringing at the stand-down canceled %d, rang out %d, still ringing 5 s (33 s unscaled) after it %d; account %+v",
		silent, canceled, rangOut, late, sim.Accounts[liveAcct.SID].Calls)
	assert.Positive(t, canceled, "the calls still ringing were canceled")
	assert.Zero(t, rangOut, "no call of the stood-down call-up rang on until nobody answered")
	assert.Zero(t, late, "every call ringing at the stand-down ended soon after it")
}
