package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
	"muster/plans"
)

// muster status names the backups the escalation called up in place of
// silent people: how many, and whom the first the status gives stand in
// for (their own state, the silent person, the grid), then how many more;
// -o json has them as the node gave them (stand_ins).
func TestStatusNamesTheBackupsStandingIn(t *testing.T) {
	st := notify.ActivationStatus{
		Activation: notify.Activation{ID: "A000007", PlanTitle: "示例市防汛应急预案", Level: "IV", Purpose: notify.PurposeLive, Status: notify.StatusActive, Recipients: 40},
		Counters:   notify.Counters{Total: 40, ByState: map[notify.State]int{notify.StateAcked: 30, notify.StateEscalated: 7, notify.StatePending: 3}},
		StandIns: &notify.StandIns{Count: 7, First: []notify.StandBy{
			{Backup: "P00000012", Name: "王建国", State: notify.StateAcked, For: notify.StandIn{Person: "P00000003", Name: "沈福敏", Grid: "990104001007", GridName: "明珠里社区第7网格"}},
			{Backup: "P00000019", Name: "李秀英", State: notify.StatePending, For: notify.StandIn{Person: "P00000008", Name: "赵磊", Grid: "990104002001"}},
		}},
	}
	api := fakeAPI{"GET /api/v1/activations/A000007": st, "GET /api/v1/activations/A000007/escalation": map[string]any{}}
	out := mustRunOnFake(t, api, "status", "A000007")
	assert.Contains(t, out, "\nSTAND-INS 7 backups stand in for people silent to the escalation: 王建国 [acked] for 沈福敏 (明珠里社区第7网格); "+
		"李秀英 [pending] for 赵磊 (990104002001); and 5 more (backup_for in GET /api/v1/activations/A000007/recipients)\n")

	raw := mustRunOnFake(t, api, "status", "A000007", "-o", "json")
	var got struct {
		StandIns notify.StandIns `json:"stand_ins"`
	}
	require.NoError(t, json.Unmarshal([]byte(raw), &got), raw)
	assert.Equal(t, *st.StandIns, got.StandIns)

	// Every one named: no "more".
	one := *st.StandIns
	one.Count, one.First = 1, one.First[:1]
	st.StandIns = &one
	api["GET /api/v1/activations/A000007"] = st
	out = mustRunOnFake(t, api, "status", "A000007")
	assert.Contains(t, out, "\nSTAND-INS 1 backup stands in for people silent to the escalation: 王建国 [acked] for 沈福敏 (明珠里社区第7网格)\n")

	st.StandIns = nil
	api["GET /api/v1/activations/A000007"] = st
	out = mustRunOnFake(t, api, "status", "A000007")
	assert.NotContains(t, out, "STAND-INS")
}

// The preview muster activate and muster approve show says how many of
// its people other active LIVE call-ups have called up already, and which
// call-ups how many each; it does not stop the approval.
func TestThePreviewSaysWhoIsCalledUpAlready(t *testing.T) {
	p := notify.Preview{
		Activation: notify.Activation{ID: "A000009", Plan: "public-health", PlanTitle: "示例市突发公共卫生事件应急预案", Level: "III", Purpose: notify.PurposeLive,
			Status: notify.StatusPendingApproval, CreatedBy: "疾控值班", Reason: "暴雨后疫情防控"},
		Total:           1338,
		AlreadyCalledUp: 435,
		CalledUpBy: []notify.OpenCallUp{
			{ID: "A000001", Plan: "flood-control", PlanTitle: "示例市防汛应急预案", Level: plans.LevelIV, RegionNames: "临江区", People: 221},
			{ID: "A000002", Plan: "flood-control", PlanTitle: "示例市防汛应急预案", Level: plans.LevelIV, RegionNames: "南屏区", People: 220},
		},
	}
	api := fakeAPI{"POST /api/v1/activations/A000009/approve": p}
	_, stderr, err := runOnFake(t, api, "approve", "A000009")
	require.Error(t, err, "nothing typed: cancelled")
	assert.Contains(t, stderr, "\nALREADY CALLED UP — 435 of these 1338 people are called up already by active LIVE call-ups: "+
		"A000001 (示例市防汛应急预案 IV级 in 临江区: 221 people), A000002 (示例市防汛应急预案 IV级 in 南屏区: 220 people). Starting this one calls them for it too.\n")

	p.AlreadyCalledUp, p.CalledUpBy = 0, nil
	api["POST /api/v1/activations/A000009/approve"] = p
	_, stderr, _ = runOnFake(t, api, "approve", "A000009")
	assert.NotContains(t, stderr, "ALREADY CALLED UP", "nobody is called up already")
}
