package notify_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/notify"
	"muster/plans"
)

// nobodyRig is a one-node call rig under rules with the escalate plan
// (SMS again T+5, superior T+10, backup T+15) and roster: the people of
// the demo roster's first row plus rows (examples.RosterHeader's columns).
func nobodyRig(t *testing.T, rules int, rows ...string) (*callRig, *clustertest.Clock) {
	t.Helper()
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 3, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 1, people: 1, clock: clock, config: func(_ int, c *cluster.Config) { c.Rules = rules }})
	roster := examples.RosterHeader + "\n" + strings.Join(rows, "\n") + "\n"
	_, err := r.plans.ImportRoster(testCtx(t), "test", strings.NewReader(roster), plans.ImportOptions{})
	require.NoError(t, err)
	_, err = r.plans.ApplyPlan(testCtx(t), "test", "escalate.yaml", escalatePlan())
	require.NoError(t, err)
	return r, clock
}

// stateOf is the state in activation id of the recipient named name.
func (r *callRig) stateOf(t *testing.T, id plans.ActivationID, name string) notify.State {
	t.Helper()
	for _, x := range r.recipientsOf(t, id) {
		if x.Name == name {
			return x.State
		}
	}
	require.FailNowf(t, "not a recipient", "%s of %s: %+v", name, id, r.recipientsOf(t, id))
	return ""
}

// A lone silent volunteer with no backup in a grid without a 网格长, in a
// community, street and district without a 值班领导, who is the command
// slot's only person: the superior step and the backup step reach no one
// for them. Under rules 11 they stay 已送达 (not 已升级), are counted
// (escalation_unreached, once) and no 叫应 SMS goes out; under rules 10
// the superior step marked them escalated as if someone had been told.
func TestSilenceTheChainTakesToNoOneIsNotEscalated(t *testing.T) {
	regions, err := examples.Regions()
	require.NoError(t, err)
	grids := examples.Grids(regions)
	grid := grids[len(grids)-1] // the generated person is in the first

	for _, rules := range []int{10, 11} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			r, clock := nobodyRig(t, rules, fmt.Sprintf("X001,孤雁,13955550001,%s,志愿者,,,,zh", grid))
			n := r.c.WaitLeader(15 * time.Second).Node
			a, err := notify.NewService(n, n, senders).Activate(testCtx(t), "trainer", notify.ActivationRequest{Plan: "escalate",
				Regions: []plans.RegionCode{grid}, Level: "IV", Purpose: "EXERCISE", Reason: "叫应演练"})
			require.NoError(t, err)
			require.Equal(t, 1, a.Recipients)
			r.waitSettled(t, a.ID, 60*time.Second)
			r.waitSimIdle(t, 30*time.Second)
			require.Equal(t, notify.StateDelivered, r.stateOf(t, a.ID, "孤雁"))

			clock.Add(10 * time.Minute) // the SMS again, then the superior step
			r.waitFired(t, a.ID, 1)
			r.waitSimIdle(t, 30*time.Second)
			assert.Zero(t, simBodies(r.sim, "叫应"), "there is no one to report to")
			st := r.status(t, a.ID)
			if rules < 11 {
				assert.Equal(t, notify.StateEscalated, r.stateOf(t, a.ID, "孤雁"), "rules 10: escalated to no one")
				assert.Zero(t, st.Counters.Dispatch[notify.EscalationUnreachedCounter])
				return
			}
			assert.Equal(t, notify.StateDelivered, r.stateOf(t, a.ID, "孤雁"), "not escalated: no one was told")
			assert.Equal(t, 1, st.Counters.Dispatch[notify.EscalationUnreachedCounter])
			assert.Zero(t, st.Counters.ByState[notify.StateEscalated])

			clock.Add(5 * time.Minute) // the backup step: they have none
			r.waitFired(t, a.ID, 2)
			assert.Equal(t, notify.StateDelivered, r.stateOf(t, a.ID, "孤雁"))
			st = r.status(t, a.ID)
			assert.Equal(t, 1, st.Counters.Dispatch[notify.EscalationUnreachedCounter], "one person, counted once")
			assert.Zero(t, st.Counters.ByState[notify.StateEscalated])
		})
	}
}

// The same lone volunteer, with a 值班领导 living in another community of
// the grid's street and a 网格长 of that other community: under rules 11
// the 叫应 report goes up the region tree to the street's 值班领导 (not to
// the other community's 网格长, who does not know the grid), and the
// volunteer is escalated. Under rules 10 no one was told.
func TestSilenceGoesUpTheRegionTreeToADutyLeader(t *testing.T) {
	regions, err := examples.Regions()
	require.NoError(t, err)
	parent := map[plans.RegionCode]plans.RegionCode{}
	for _, g := range regions {
		parent[g.Code] = g.Parent
	}
	grids := examples.Grids(regions)
	grid := grids[len(grids)-1]
	community, street := parent[grid], parent[parent[grid]]
	var elsewhere plans.RegionCode // a grid of another community of the street
	for _, g := range grids {
		if parent[g] != community && parent[parent[g]] == street {
			elsewhere = g
			break
		}
	}
	require.NotEmpty(t, elsewhere)
	rows := []string{
		fmt.Sprintf("X001,孤雁,13955550001,%s,志愿者,,,,zh", grid),
		fmt.Sprintf("D001,值班王,13955550002,%s,领导干部,值班领导,,,zh", elsewhere),
		fmt.Sprintf("W001,网格李,13955550003,%s,社区干部,网格长,,,zh", elsewhere),
	}

	for _, rules := range []int{10, 11} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			r, clock := nobodyRig(t, rules, rows...)
			n := r.c.WaitLeader(15 * time.Second).Node
			a, err := notify.NewService(n, n, senders).Activate(testCtx(t), "trainer", notify.ActivationRequest{Plan: "escalate",
				Regions: []plans.RegionCode{grid}, Level: "IV", Purpose: "EXERCISE", Reason: "叫应演练"})
			require.NoError(t, err)
			require.Equal(t, 1, a.Recipients)
			r.waitSettled(t, a.ID, 60*time.Second)
			r.waitSimIdle(t, 30*time.Second)

			clock.Add(10 * time.Minute)
			r.waitFired(t, a.ID, 1)
			r.waitSimIdle(t, 30*time.Second)
			reports := map[string][]string{}
			for _, m := range r.sim.Messages("") {
				if m.Direction == "outbound-api" && strings.Contains(m.Body, "叫应") {
					reports[m.To] = append(reports[m.To], m.Body)
				}
			}
			assert.Equal(t, notify.StateEscalated, r.stateOf(t, a.ID, "孤雁"))
			if rules < 11 {
				assert.Empty(t, reports, "rules 10: no one above the grid is looked for")
				return
			}
			require.Len(t, reports, 1, "the street's 值班领导 only: %q", reports)
			require.Len(t, reports["+8613955550002"], 1, "%q", reports)
			body := reports["+8613955550002"][0]
			assert.Contains(t, body, "孤雁")
			assert.True(t, strings.HasPrefix(body, plans.ExerciseMark), "%s", body)
			assert.Zero(t, r.status(t, a.ID).Counters.Dispatch[notify.EscalationUnreachedCounter])
		})
	}
}
