package notify_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/notify"
	"muster/plans"
)

// The backup the chain calls up in place of a silent person is told, in
// their call-up SMS, whom they stand in for and where: the silent person's
// name and grid (by its name, not the backup's own grid) and the post.
// A voice call to them says it first too. Under rules 12 the backup got
// the ordinary call-up, which names neither.
func TestTheBackupIsToldWhomTheyStandInFor(t *testing.T) {
	for _, rules := range []int{12, 13} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			r, clock, plan := newBackupRig(t, rules)
			ctx := testCtx(t)
			a := escalateDrillOf(t, r, []byte(plan))
			n := r.c.WaitLeader(15 * time.Second).Node

			// The silent people (no one answers) whose backup is called up
			// by the step: one each, so whom they stand in for is certain.
			recs := r.recipientsOf(t, a.ID)
			called := map[plans.PersonID]bool{}
			backing := map[plans.PersonID][]notify.Recipient{}
			for _, rc := range recs {
				called[rc.Person] = true
			}
			for _, rc := range recs {
				if rc.Backup != "" && !called[rc.Backup] && !rc.State.Answered() {
					backing[rc.Backup] = append(backing[rc.Backup], rc)
				}
			}
			clock.Add(5 * time.Minute)
			r.waitFired(t, a.ID, 0)
			r.waitSettled(t, a.ID, 60*time.Second)
			r.waitSimIdle(t, 30*time.Second)

			in := notify.NewInbound(n, notify.InboundConfig{View: n})
			t.Cleanup(in.Close)
			checked := 0
			for _, b := range r.recipientsOf(t, a.ID) {
				silent := backing[b.Person]
				if len(silent) != 1 {
					continue
				}
				s := silent[0]
				grid, err := r.plans.Region(ctx, muster.Default, s.Grid)
				require.NoError(t, err)
				require.NotEmpty(t, grid.Name)
				var bodies []string
				for _, m := range r.sim.Messages("") {
					if m.Direction == "outbound-api" && m.To == b.Phone {
						bodies = append(bodies, m.Body)
					}
				}
				require.Len(t, bodies, 1, "the backup %s gets the call-up", b.Person)
				body := bodies[0]
				if checked == 0 {
					t.Logf("%s, backup of %s: %s", b.Name, s.Name, body)
				}
				assert.True(t, strings.HasPrefix(body, plans.ExerciseMark), "the drill mark first: %q", body)
				assert.Contains(t, body, "/r/", "the answer link: %q", body)
				want := "因" + s.Name + "（" + grid.Name + "）未能联系，请您替补其"
				// A voice call of the chain to the backup says it too.
				script, err := in.VoiceScript(ctx, notify.EscalationAttemptID(a.ID, b.Person, 0, 1))
				require.NoError(t, err)
				if rules >= 13 {
					assert.Equal(t, &notify.StandIn{Person: s.Person, Name: s.Name, Grid: s.Grid, GridName: grid.Name, GridNameEN: grid.NameEN}, b.BackupFor,
						"the recipients list says whom the backup stands in for")
					assert.Contains(t, body, want, "the backup is told whom they stand in for")
					_, _, segs := plans.SMSSegments(body)
					assert.LessOrEqual(t, segs, plans.MaxSMSSegments)
					assert.Contains(t, script.Text, want, "the call says whom they stand in for")
				} else {
					assert.Nil(t, b.BackupFor, "rules 12: nothing recorded")
					assert.NotContains(t, body, "未能联系", "rules 12: the ordinary call-up")
					assert.NotContains(t, script.Text, "未能联系", "rules 12: the ordinary call")
				}
				checked++
			}
			t.Logf("rules %d: %d backups checked", rules, checked)
			require.Positive(t, checked, "the step called up backups")
		})
	}
}

// A reminder (the chain's sms step) to a backup still silent says whom
// they stand in for, as their call-up did: the reminder renders the
// call-up again, and the escalator's record of the backup carries the
// stand-in.
func TestABackupsReminderSaysWhomTheyStandInFor(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock})
	plan := strings.Replace(string(escalatePlan()), "      - {after: 5m, do: sms}\n      - {after: 10m, do: superior}\n      - {after: 15m, do: backup}\n",
		"      - {after: 5m, do: backup}\n      - {after: 10m, do: sms}\n", 1)
	require.Contains(t, plan, "{after: 10m, do: sms}")
	a := escalateDrillOf(t, r, []byte(plan))
	clock.Add(5 * time.Minute)
	r.waitFired(t, a.ID, 0)
	r.waitSettled(t, a.ID, 60*time.Second)
	clock.Add(5 * time.Minute)
	r.waitFired(t, a.ID, 1)
	// The backups are on clocks of their own, from their call-up: their
	// reminder is due five minutes after it, from when the escalator
	// looks. The clock goes on by 10 s a look until none waits.
	clock.Add(5 * time.Minute)
	require.Eventually(t, func() bool {
		st := r.escalation(t, a.ID)[1]
		if st.Waiting > 0 {
			clock.Add(10 * time.Second)
		}
		return st.Waiting == 0 && st.Items[notify.EscQueued]+st.Items[notify.EscSending] == 0
	}, 60*time.Second, 100*time.Millisecond, "the backups' reminders go out")
	r.waitSimIdle(t, 30*time.Second)

	checked := 0
	for _, b := range r.recipientsOf(t, a.ID) {
		if b.BackupFor == nil || b.State.Answered() {
			continue
		}
		var reminders []string
		for _, m := range r.sim.Messages("") {
			if m.Direction == "outbound-api" && m.To == b.Phone && strings.Contains(m.Body, "【提醒】") {
				reminders = append(reminders, m.Body)
			}
		}
		if len(reminders) == 0 {
			continue // also on the call-up as themselves: reminded as that
		}
		if checked == 0 {
			t.Logf("reminder to %s, backup of %s: %s", b.Name, b.BackupFor.Name, reminders[0])
		}
		for _, body := range reminders {
			assert.Contains(t, body, "因"+b.BackupFor.Name, "the reminder to backup %s says whom they stand in for", b.Person)
		}
		checked++
	}
	t.Logf("%d backups' reminders checked", checked)
	require.Positive(t, checked, "backups were reminded")
}

// newBackupRig is a one-node rig under rules, its clock at a fixed time,
// and the escalation plan whose chain calls up the backup 5 minutes in,
// its first step.
func newBackupRig(t *testing.T, rules int) (*callRig, *clustertest.Clock, string) {
	t.Helper()
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	r := newCallRig(t, rigOptions{nodes: 1, people: 300, clock: clock, config: func(_ int, c *cluster.Config) { c.Rules = rules }})
	plan := strings.Replace(string(escalatePlan()), "      - {after: 5m, do: sms}\n      - {after: 10m, do: superior}\n      - {after: 15m, do: backup}\n",
		"      - {after: 5m, do: backup}\n", 1)
	require.Contains(t, plan, "{after: 5m, do: backup}")
	return r, clock, plan
}
