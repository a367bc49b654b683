package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster/clustertest"
	"muster/notify"
	"muster/plans"
)

// Two drills of the same plan over the same regions started in the same
// minute: the end of the first, to the people both reached, names it by
// its number and says the other one of the same name, by its number,
// still stands. Before, it said 11:07「X」 has ended and 11:07「X」 still
// stands, which reads as one call-up, and whoever read it could stand
// down from the one still running (finding N8).
func TestADrillEndTellsApartADrillOfTheSameNameThatStands(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 1, people: 20, clock: clock})
	first := r.activate(t, "exercise")
	n := r.c.WaitLeader(15 * time.Second).Node
	second, err := notify.NewService(n, n, senders).Activate(testCtx(t), "commander", notify.ActivationRequest{Plan: "everyone",
		Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "exercise", Reason: "通讯检查", Repeat: true}) // the same drill again, meant
	require.NoError(t, err)
	require.Equal(t, first.StartedAt, second.StartedAt, "started in the same minute")
	r.waitSettled(t, first.ID, 30*time.Second)
	r.waitSettled(t, second.ID, 30*time.Second)
	r.waitSimIdle(t, 10*time.Second)
	before := len(drillEnds(r.sim))
	r.standDown(t, first.ID)
	require.Positive(t, r.drillEndsOf(t, first.ID)-before, "the first drill's end goes out")

	ends := drillEnds(r.sim)[before:]
	var zh, en int
	for _, m := range ends {
		require.True(t, strings.HasPrefix(m.Body, plans.ExerciseMark), m.Body)
		if strings.Contains(m.Body, "同名") {
			zh++
			assert.Contains(t, m.Body, "」（编号"+string(first.ID)+"）的通知：", "the drill ended, by its number")
			assert.Contains(t, m.Body, "同时发出的同名通知（编号"+string(second.ID)+"）仍然有效。", "the one that stands, by its number")
			continue
		}
		en++
		assert.Contains(t, m.Body, " (no. "+string(first.ID)+") has ended", m.Body)
		assert.Contains(t, m.Body, "The other call-up of the same name and time (no. "+string(second.ID)+") still stands.", m.Body)
		_, _, segs := plans.SMSSegments(m.Body)
		assert.LessOrEqual(t, segs, 4, m.Body)
	}
	require.Positive(t, zh, "some read Chinese")
	t.Logf("%d told in Chinese, %d in English; e.g. %q", zh, en, ends[0].Body)
}
