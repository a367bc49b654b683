package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"muster/notify"
)

// muster status says of a backup standing in for someone who answered 到
// after all that they did (the node then tells the backup), so the duty
// office does not read the person as silent; one still silent is named as
// before.
func TestStatusSaysThePersonStoodInForAnsweredAfterAll(t *testing.T) {
	st := notify.ActivationStatus{
		Activation: notify.Activation{ID: "A000004", PlanTitle: "快速防汛预案", Level: "IV", Purpose: notify.PurposeExercise, Status: notify.StatusActive, Recipients: 60},
		Counters:   notify.Counters{Total: 60, ByState: map[notify.State]int{notify.StateAcked: 49, notify.StateEscalated: 11}},
		StandIns: &notify.StandIns{Count: 2, First: []notify.StandBy{
			{Backup: "P00001584", Name: "田德", State: notify.StateAcked, ForState: notify.StateAcked,
				For: notify.StandIn{Person: "P00000131", Name: "朱明", Grid: "990101001008", GridName: "春晖里社区第8网格"}},
			{Backup: "P00001590", Name: "李秀英", State: notify.StateDelivered, ForState: notify.StateEscalated,
				For: notify.StandIn{Person: "P00000138", Name: "赵磊", Grid: "990101001009"}},
		}},
	}
	api := fakeAPI{"GET /api/v1/activations/A000004": st, "GET /api/v1/activations/A000004/escalation": map[string]any{}}
	out := mustRunOnFake(t, api, "status", "A000004")
	assert.Contains(t, out, "\nSTAND-INS 2 backups stand in for people silent to the escalation: 田德 [acked] for 朱明 (春晖里社区第8网格), 朱明 answered 到 after all; "+
		"李秀英 [delivered] for 赵磊 (990101001009)\n")
}
