package notify

import (
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// A drill started by hand (an EXERCISE or TEST activation) follows the
// rules a drill's run follows: it does not overlap another drill's
// call-up over the same people, and it waits for a region's recovery
// (恢复) after a live emergency. Both are checked where a person asks for
// the activation (preview and activate), on the state as read then, as a
// LIVE repeat is (notAgain); the state machine does not check them, so no
// entry replays otherwise.

// OpenDrills lists the active drill call-ups (EXERCISE and TEST; not the
// corrections or end notices sent for a call-up) over, above or under
// regions, in activation ID order: those started by hand and drills' runs
// alike.
func OpenDrills(tx *bolt.Tx, regions []plans.RegionCode) ([]Activation, error) {
	open, err := overlappingOpen(tx, regions)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(open, func(a Activation) bool { return !a.Purpose.Drill() }), nil
}

// notOverDrill refuses (EConflict), unless repeat is set, an EXERCISE or
// TEST request over, above or under the regions of a drill call-up still
// active (演练重叠): one started by hand, or a drill's run. Its people would
// be drilled twice at once, and each person's reply answers one call-up
// only (a second reply is told 以第一次回复为准), so both drills' counts and
// times to answer would partly be the other's: what keeps a drill's runs
// from overlapping. A request whose idempotency key is recorded is let
// through: it returns the activation it created.
func notOverDrill(tx *bolt.Tx, actor string, cr activationCreate, repeat bool) error {
	if repeat || !cr.Purpose.Drill() || keyUsed(tx, actor, cr.Key) {
		return nil
	}
	open, err := OpenDrills(tx, cr.Regions)
	if err != nil || len(open) == 0 {
		return err
	}
	o := open[0]
	return muster.Errorf(muster.EConflict, "演练重叠 (drills overlap): %s activation %s (%s, level %s, over %s: %s, started by %s) is still drilling the same people; "+
		"a second drill over them at once calls each of them again, and a reply answers one call-up only, so neither drill measures its own; "+
		"stand it down first, or ask again with repeat to drill them twice at once",
		o.Purpose, o.ID, o.Plan, o.Level, plans.JoinCodes(o.Regions, ","), o.Reason, o.CreatedBy)
}

// DrillRecoveries names, for a person, each region among, above or below
// regions that is in recovery (恢复) after a live emergency, or goes back
// to it once the warnings holding it are lifted, with the call-up the
// recovery came after: a drill's run waits through such a recovery.
func DrillRecoveries(tx *bolt.Tx, regions []plans.RegionCode) ([]string, error) {
	modes, err := plans.Modes(tx)
	if err != nil {
		return nil, err
	}
	rr := plans.NewRegionReader(tx)
	var out []string
	for _, m := range modes {
		if m.Mode == plans.ModeEmergency || (m.Mode != plans.ModeRecovery && m.Recovery == nil) {
			continue
		}
		if !slices.ContainsFunc(regions, func(r plans.RegionCode) bool { return rr.Within(m.Region, r) || rr.Within(r, m.Region) }) {
			continue // also a record for a region no longer in the tree
		}
		path, err := rr.Path(m.Region)
		if err != nil {
			continue
		}
		after := ""
		if m.Recovery != nil && m.Recovery.Activation != "" {
			after = " after " + string(m.Recovery.Activation)
		}
		out = append(out, fmt.Sprintf("%s is in recovery (恢复)%s", path[0].Label(), after))
	}
	return out, nil
}

// notDuringRecovery refuses (EConflict), unless duringRecovery is set, an
// EXERCISE or TEST request over, above or under a region in recovery after
// a live emergency (DrillRecoveries), as a drill's run by hand is refused
// then and its due time postponed: the region's people may still be at
// work on the emergency. A request whose idempotency key is recorded is
// let through.
func notDuringRecovery(tx *bolt.Tx, actor string, cr activationCreate, duringRecovery bool) error {
	if duringRecovery || !cr.Purpose.Drill() || keyUsed(tx, actor, cr.Key) {
		return nil
	}
	rec, err := DrillRecoveries(tx, cr.Regions)
	if err != nil || len(rec) == 0 {
		return err
	}
	return muster.Errorf(muster.EConflict, "no %s call-up during a recovery: %s: the region is recovering from a live emergency until a commander ends its recovery "+
		"(muster end-recovery), and its people may still be at work on it; a drill's runs wait until then; to drill its people during the recovery all the same, "+
		"ask again with --during-recovery (API: \"during_recovery\": true)", cr.Purpose, strings.Join(rec, "; "))
}

// duringRecoveryWarnings are, for a drill asked for with during_recovery,
// the preview's warnings naming each region in recovery it drills.
func duringRecoveryWarnings(tx *bolt.Tx, cr activationCreate) ([]string, error) {
	if !cr.Purpose.Drill() {
		return nil, nil
	}
	rec, err := DrillRecoveries(tx, cr.Regions)
	for i, r := range rec {
		rec[i] = r + ": this drill runs during its recovery (--during-recovery), calling people who may still be at work on the live emergency"
	}
	return rec, err
}
