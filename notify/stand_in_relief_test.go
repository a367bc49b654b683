package notify_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
	"muster/plans"
)

// A silent person who answers 到 after the chain called up their backup
// is shown in the status as having answered after all, and the backup,
// whom the call-up reached, is told by SMS, marked as a drill's, that the
// person they stand in for reported. Under rules 12 the backup was told
// nothing and two people went to one post.
func TestTheBackupIsToldThePersonTheyStandInForReported(t *testing.T) {
	for _, rules := range []int{12, 0} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			r, clock, plan := newBackupRig(t, rules)
			a := escalateDrillOf(t, r, []byte(plan))
			clock.Add(5 * time.Minute)
			r.waitFired(t, a.ID, 0)
			r.waitSettled(t, a.ID, 60*time.Second)
			r.waitSimIdle(t, 30*time.Second)

			recs := map[plans.PersonID]notify.Recipient{}
			for _, rc := range r.recipientsOf(t, a.ID) {
				recs[rc.Person] = rc
			}
			var backup, silent notify.Recipient
			for _, rc := range recs {
				if rc.BackupFor != nil && wasReached(rc.State) && (backup.Person == "" || rc.Person < backup.Person) {
					backup, silent = rc, recs[rc.BackupFor.Person]
				}
			}
			if rules == 12 { // nothing recorded: a backup called up by the step
				for _, rc := range recs {
					if b, ok := recs[rc.Backup]; ok && rc.State == notify.StateEscalated && wasReached(b.State) && (backup.Person == "" || b.Person < backup.Person) {
						backup, silent = b, rc
					}
				}
			}
			require.NotEmpty(t, backup.Person, "the step called up a backup the call-up reached")
			require.Equal(t, notify.StateEscalated, silent.State)
			before := len(r.sim.Messages(backup.Phone))

			r.drillReply(t, "SMrelief0001", silent.Phone, "1 刚看到")
			require.Eventually(t, func() bool { return r.acked(t, a.ID)[silent.Person] }, 10*time.Second, 20*time.Millisecond)
			if rules == 12 {
				r.waitSimIdle(t, 10*time.Second)
				assert.Len(t, r.sim.Messages(backup.Phone), before, "under rules 12 the backup is told nothing")
				return
			}
			st := r.status(t, a.ID)
			require.NotNil(t, st.StandIns)
			var shown *notify.StandBy
			for i, sb := range st.StandIns.First {
				if sb.Backup == backup.Person {
					shown = &st.StandIns.First[i]
				}
			}
			require.NotNil(t, shown, "the status names the backup: %+v", st.StandIns.First)
			assert.Equal(t, notify.StateAcked, shown.ForState, "the person stood in for answered after all")

			var relief []string
			require.Eventually(t, func() bool {
				relief = relief[:0]
				for _, m := range r.sim.Messages(backup.Phone) {
					if m.Direction == "outbound-api" && (strings.Contains(m.Body, "已回复到岗") || strings.Contains(m.Body, "has answered that they are coming")) {
						relief = append(relief, m.Body)
					}
				}
				return len(relief) > 0
			}, 20*time.Second, 20*time.Millisecond, "the backup is told")
			r.waitSimIdle(t, 10*time.Second)
			require.Len(t, relief, 1)
			body := relief[0]
			t.Logf("%s (%s), backup of %s: %s", backup.Name, backup.Language, silent.Name, body)
			assert.True(t, strings.HasPrefix(body, plans.ExerciseMark), "a drill's: %q", body)
			assert.Contains(t, body, silent.Name)
			if backup.Language == plans.LangEN {
				assert.Contains(t, body, "you need not stand in for them")
			} else {
				assert.Contains(t, body, "已回复到岗，您无需替补其岗位。")
			}
			for _, m := range r.sim.Messages(backup.Phone) {
				if m.Body == body {
					assert.Equal(t, drillAcct.SID, m.AccountSID, "on the drill's account")
				}
			}
		})
	}
}
