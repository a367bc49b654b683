package notify_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
)

// A voice step says how its calls went, not only that they were placed:
// answered by a person, by an answering machine, or not at all. "sent"
// read the same for a voicemail and a phone that never picked up
// (exploratory finding V1).
func TestAVoiceStepSaysHowItsCallsWent(t *testing.T) {
	r, _, a, v := voiceCalledDrill(t, 0) // numbers ending 5 do not answer, 3 an answering machine
	steps := r.escalation(t, a.ID)
	require.NotEmpty(t, steps)
	calls := steps[0].Calls
	t.Logf("items %v, calls %v", steps[0].Items, calls)
	assert.Positive(t, calls["answered"])
	assert.Positive(t, calls["machine"])
	assert.Equal(t, len(v.notReached), calls["no-answer"], "those whose call was not answered")
	total := 0
	for _, n := range calls {
		total += n
	}
	assert.Equal(t, steps[0].Items[notify.EscSent], total, "every call placed says how it went")
}
