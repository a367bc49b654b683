package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
)

// The status says how many silent people a backup or 叫应 step could take
// to no one (they are not counted as escalated), and nothing of it when
// there are none.
func TestStatusSaysWhoTheChainTookToNoOne(t *testing.T) {
	render := func(st notify.ActivationStatus) string {
		var out bytes.Buffer
		w := newTable(&out)
		printStatus(w, st, sampleBoard(), 1)
		require.NoError(t, w.Flush())
		return out.String()
	}
	st := sampleStatus()
	assert.NotContains(t, render(st), "no one to escalate to")
	st.Counters.Dispatch = map[string]int{notify.EscalationUnreachedCounter: 1}
	assert.Contains(t, render(st), "1 person silent with no one to escalate to by the last backup or superior step (a backup step: no backup named for them; "+
		"a superior step: no 网格长 in their grid, no one in the command slot, no 网格长 or 值班领导 above them): not counted as escalated\n")
	st.Counters.Dispatch = map[string]int{notify.EscalationUnreachedCounter: 3}
	assert.Contains(t, render(st), "3 people silent with no one to escalate to")
}
