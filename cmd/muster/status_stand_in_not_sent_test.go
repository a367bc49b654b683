package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"muster/notify"
)

// muster status says plainly of a backup whose call-up was never sent,
// because the person they stand in for answered 到 first, that it was not
// sent and why, and counts such backups, rather than showing them only as
// cancelled, as if an operator had taken them off.
func TestStatusSaysABackupWasNotSentBecauseThePersonReported(t *testing.T) {
	st := notify.ActivationStatus{
		Activation: notify.Activation{ID: "A000004", PlanTitle: "快速防汛预案", Level: "IV", Purpose: notify.PurposeExercise, Status: notify.StatusActive, Recipients: 61},
		Counters: notify.Counters{Total: 61, ByState: map[notify.State]int{notify.StateAcked: 49, notify.StateEscalated: 11, notify.StateCancelled: 1},
			Dispatch: map[string]int{notify.StandInNotSentCounter: 1}},
		StandIns: &notify.StandIns{Count: 2, First: []notify.StandBy{
			{Backup: "P00001584", Name: "田德", State: notify.StateCancelled, ForState: notify.StateAcked,
				For: notify.StandIn{Person: "P00000131", Name: "朱明", Grid: "990101001008", GridName: "春晖里社区第8网格", NotSent: true}},
			{Backup: "P00001590", Name: "李秀英", State: notify.StateDelivered, ForState: notify.StateEscalated,
				For: notify.StandIn{Person: "P00000138", Name: "赵磊", Grid: "990101001009"}},
		}},
	}
	api := fakeAPI{"GET /api/v1/activations/A000004": st, "GET /api/v1/activations/A000004/escalation": map[string]any{}}
	out := mustRunOnFake(t, api, "status", "A000004")
	assert.Contains(t, out, "\nSTAND-INS 2 backups stand in for people silent to the escalation: 田德 [not sent] for 朱明 (春晖里社区第8网格): 朱明 answered 到 before the backup's call-up went out; "+
		"李秀英 [delivered] for 赵磊 (990101001009)\n")
	assert.Contains(t, out, "\nNOT SENT to 1 backup: the person they stand in for answered 到 before their call-up went out (counted cancelled, not waited for)\n")
}
