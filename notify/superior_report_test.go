package notify_test

import (
	"fmt"
	"slices"
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

// A grid of 40 silent volunteers and two grid leaders: at the superior
// step each leader gets SMS naming every one of the 40 with the number to
// call, each SMS within plans.MaxSMSSegments. Under rules 9 the first
// leader alone got one SMS naming 20, "等" for the rest.
func TestSuperiorReportNamesEverySilentPersonToEveryGridLeader(t *testing.T) {
	regions, err := examples.Regions()
	require.NoError(t, err)
	grids := examples.Grids(regions)
	grid := grids[len(grids)-1] // the generated person is in the first
	const silent = 40
	var roster strings.Builder
	roster.WriteString(examples.RosterHeader + "\n")
	volunteers := map[string]string{} // name → number as the report gives it
	for i := range silent {
		name, phone := fmt.Sprintf("队员%02d", i+1), fmt.Sprintf("139555500%02d", i+1)
		volunteers[name] = phone
		fmt.Fprintf(&roster, "X%03d,%s,%s,%s,志愿者,,,,zh\n", i+1, name, phone, grid)
	}
	leaders := map[string]string{"+8618168249274": "蔡春", "+8618168249275": "周林"}
	roster.WriteString("L001,蔡春,18168249274," + string(grid) + ",社区干部,网格长,,,zh\n")
	roster.WriteString("L002,周林,18168249275," + string(grid) + ",社区干部,网格长,,,zh\n")

	for _, rules := range []int{9, 10} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			clock := clustertest.NewClock(time.Date(2026, 7, 20, 3, 0, 0, 0, time.UTC))
			r := newCallRig(t, rigOptions{nodes: 1, people: 1, clock: clock, config: func(_ int, c *cluster.Config) { c.Rules = rules }})
			_, err := r.plans.ImportRoster(testCtx(t), "test", strings.NewReader(roster.String()), plans.ImportOptions{})
			require.NoError(t, err)
			_, err = r.plans.ApplyPlan(testCtx(t), "test", "escalate.yaml", escalatePlan())
			require.NoError(t, err)
			n := r.c.WaitLeader(15 * time.Second).Node
			a, err := notify.NewService(n, n, senders).Activate(testCtx(t), "trainer", notify.ActivationRequest{Plan: "escalate",
				Regions: []plans.RegionCode{grid}, Level: "IV", Purpose: "EXERCISE", Reason: "叫应演练"})
			require.NoError(t, err)
			require.Equal(t, silent+len(leaders), a.Recipients)
			r.waitSettled(t, a.ID, 60*time.Second)
			r.waitSimIdle(t, 30*time.Second)

			clock.Add(10 * time.Minute) // the SMS again, then the superior step
			r.waitFired(t, a.ID, 1)
			r.waitSimIdle(t, 30*time.Second)

			got := map[string][]string{} // leader's number → report bodies
			for _, m := range r.sim.Messages("") {
				if m.Direction == "outbound-api" && strings.Contains(m.Body, "叫应") && leaders[m.To] != "" {
					got[m.To] = append(got[m.To], m.Body)
				}
			}
			if rules < 10 {
				require.Len(t, got, 1, "the first grid leader only")
				bodies := got["+8618168249274"]
				require.Len(t, bodies, 1)
				assert.True(t, strings.HasSuffix(bodies[0], "等。请立即联系。"), "%s", bodies[0])
				t.Logf("rules %d: %s", rules, bodies[0])
				return
			}
			require.Len(t, got, len(leaders), "every grid leader of the grid is told")
			for to, bodies := range got {
				slices.Sort(bodies)
				named := map[string]bool{}
				for _, b := range bodies {
					_, _, segs := plans.SMSSegments(b)
					assert.LessOrEqual(t, segs, plans.MaxSMSSegments, "%s", b)
					assert.True(t, strings.HasPrefix(b, plans.ExerciseMark), "%s", b)
					assert.Contains(t, b, fmt.Sprintf("以下%d人至今未回复", silent))
					assert.NotContains(t, b, "等。")
					if len(bodies) > 1 {
						assert.Contains(t, b, fmt.Sprintf("/%d）：", len(bodies)), "parts are numbered")
					}
					for name, phone := range volunteers {
						if strings.Contains(b, name+" "+phone) {
							named[name] = true
						}
					}
				}
				assert.Len(t, named, silent, "%s (%s) is given every silent volunteer with their number: %q", leaders[to], to, bodies)
				t.Logf("rules %d: %s gets %d SMS: %q", rules, leaders[to], len(bodies), bodies)
			}
		})
	}
}
