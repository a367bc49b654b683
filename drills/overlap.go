package drills

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster/notify"
)

// Runs of one schedule do not overlap: they call up the same people, and
// replies go to the newest call-up, so an earlier run still open would be
// measured wrong. A run is open while its call-up is active and its length
// is not over (once it is over, the scheduler stands it down on its next
// pass). Both the service (a run by hand) and the scheduler (a due time)
// check this before they propose, on their clock; the FSM checks a run by
// hand again at its command's time (rulesManualRunOpen), so that two
// requests at once start one run.

// openRun is the run of schedule id still open at now; ok is false when
// none is. It reads the index of runs whose call-up the scheduler has yet
// to close, which holds only the runs of the last length or so.
func openRun(tx *bolt.Tx, id ScheduleID, now time.Time) (Run, bool, error) {
	b := tx.Bucket(bEnds)
	if b == nil {
		return Run{}, false, nil
	}
	c := b.Cursor()
	for k, _ := c.Seek(key8(now.Add(time.Nanosecond), "")); k != nil && len(k) > 8; k, _ = c.Next() {
		r, err := getRun(tx, RunID(k[8:]))
		if err != nil {
			return Run{}, false, err
		}
		if r.Schedule != id || r.Activation == "" {
			continue
		}
		a, err := notify.GetActivation(tx, r.Activation)
		if err != nil {
			return Run{}, false, fmt.Errorf("drill run %s: %w", r.ID, err)
		}
		if a.Status == notify.StatusActive {
			return r, true, nil
		}
	}
	return Run{}, false, nil
}

// describeOpen names an open run for a person: the run, its activation and
// when its length is over, in the run's time zone.
func describeOpen(r Run) string {
	loc, err := loadZone(r.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	return fmt.Sprintf("its run %s (activation %s) is still calling the same people up until %s",
		r.ID, r.Activation, r.EndsAt.In(loc).Format("2006-01-02 15:04 -07:00"))
}
