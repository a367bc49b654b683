package drills

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// asSeen brings a stored schedule's postponement up to now for a reader.
// The stored postponement is the scheduler's last look (it looks again every
// PostponeRetry, and at the next due time at the latest); since then the
// emergency may have stood down or changed, the schedule may have been
// paused, or the next due time may have come. A reader sees:
//
//   - no postponement on a paused schedule: resuming starts at the next due
//     time and does not owe the postponed occurrence;
//   - once the next due time has come, that occurrence (the postponed one is
//     given up at the scheduler's next look), postponed from its due time if
//     a region still blocks it;
//   - the regions and activations that block the occurrence now (in
//     emergency, or, with recovery, in recovery after one: the rules the
//     cluster applies now postpone for it), and no postponement once none
//     does: the run starts at the scheduler's next look (RunAt).
//
// It reads the state and changes nothing; the scheduler's commands still
// decide what happens.
func asSeen(tx *bolt.Tx, sc *Schedule, now time.Time, recovery bool) error {
	p := sc.Postponed
	if p == nil {
		return nil
	}
	if sc.Paused {
		sc.Postponed = nil
		return nil
	}
	seen := *p
	if next, ok, err := sc.NextDue(p.Due); err == nil && ok && !next.After(now) {
		sc.Due, sc.RunAt = next, next
		if sc.NoNotice != nil {
			sc.RunAt = time.Time{} // picked by the scheduler when it moves on
		}
		seen = Postponement{Due: next, Since: next}
	}
	blocked, why, err := liveEmergency(tx, sc.Regions, recovery)
	if err != nil {
		return err
	}
	if len(blocked) == 0 {
		sc.Postponed = nil
		return nil
	}
	seen.Regions, seen.Reason = blocked, why
	sc.Postponed = &seen
	return nil
}
