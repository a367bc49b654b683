package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"muster/notify"
)

// muster status of a call-up where people answered 到 and then that they
// cannot come after all says how many, flagged, as they are still counted
// 到 (exploratory finding P2).
func TestStatusFlagsPeopleWhoDeclinedAfterAccepting(t *testing.T) {
	st := notify.ActivationStatus{
		Activation: notify.Activation{ID: "A000003", PlanTitle: "示例市防汛应急预案", Level: "III", Purpose: notify.PurposeLive, Status: notify.StatusActive, Recipients: 17},
		Counters: notify.Counters{Total: 17, ByState: map[notify.State]int{notify.StateAcked: 8, notify.StateDelivered: 9},
			Dispatch: map[string]int{notify.DeclinedAfterAckCounter: 2}},
	}
	api := fakeAPI{"GET /api/v1/activations/A000003": st, "GET /api/v1/activations/A000003/escalation": map[string]any{}}
	out := mustRunOnFake(t, api, "status", "A000003")
	assert.Contains(t, out, "\n!! 2 people answered 到, then that they cannot come after all: still counted 到 (the first answer stands); their replies are in the notes\n")

	st.Counters.Dispatch = map[string]int{}
	api["GET /api/v1/activations/A000003"] = st
	out = mustRunOnFake(t, api, "status", "A000003")
	assert.NotContains(t, out, "cannot come after all")
}
