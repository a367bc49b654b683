package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"

	"muster/notify"
)

// The status of the notice that a LIVE call-up (or a drill) ended says it
// takes no answers as an end notice, not as a correction: it withdraws
// nothing of the call-up it names.
func TestEndNoticeStatusSaysItTakesNoAnswers(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  func(*notify.Activation)
		want string
	}{
		{"end of a LIVE call-up", func(a *notify.Activation) { a.EndsCallUp = true }, "报到 无需回复 (an end notice takes no answers)\n"},
		{"end of a drill", func(a *notify.Activation) { a.EndsDrill = true }, "报到 无需回复 (an end notice takes no answers)\n"},
		{"correction", func(*notify.Activation) {}, "报到 无需回复 (a correction takes no answers)\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := notify.ActivationStatus{Activation: notify.Activation{ID: "A000003", Status: notify.StatusStoodDown, Retracts: "A000002", Purpose: notify.PurposeLive}}
			st.Counters.ByState = map[notify.State]int{notify.StateDelivered: 4}
			st.Counters.Total = 4
			tt.set(&st.Activation)
			var b bytes.Buffer
			printStatus(&b, st, sampleBoard(), 10)
			assert.Contains(t, b.String(), tt.want)
			assert.NotContains(t, b.String(), "T+5", "no checkpoints")
		})
	}
}
