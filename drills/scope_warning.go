package drills

import (
	"context"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// ScopeWarnings says, of a plan about to be stored with scope, which of its
// active drill schedules (not paused, with a next due time) run in regions
// that scope no longer covers without a confirmation for them (the
// schedule's ConfirmScope): the scope guard refuses each one's next run.
// Each warning names the schedule, its regions outside the scope, its next
// due time in the schedule's zone and what to do. Plan apply gives them as
// warnings: the plan is stored all the same. Regions that no longer exist
// are left to the run to report.
func (s *Service) ScopeWarnings(ctx context.Context, level muster.Consistency, plan plans.PlanID, scope []plans.RegionCode) ([]string, error) {
	var out []string
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		return forEachRecord(tx, bSchedules, "drill schedule", func(sc Schedule) error {
			if sc.Plan != plan || sc.Paused || sc.Due.IsZero() {
				return nil
			}
			var outside []string
			for _, code := range sc.Regions {
				path, err := plans.RegionPath(tx, code)
				if err != nil {
					continue
				}
				if !slices.ContainsFunc(path, func(r plans.Region) bool { return slices.Contains(scope, r.Code) }) {
					outside = append(outside, path[0].Label())
				}
			}
			confirm := scopeConfirmation(sc)
			if len(outside) == 0 || strings.ReplaceAll(strings.TrimSpace(sc.ConfirmScope), " ", "") == confirm {
				return nil
			}
			due := sc.Due.String()
			if loc, err := sc.Location(); err == nil {
				due = sc.Due.In(loc).Format("2006-01-02 15:04 -07:00") + " (" + loc.String() + ")"
			}
			out = append(out, fmt.Sprintf("drill schedule %s %q runs in %s, outside plan %s's new scope (%s): its next run, due %s, will be refused; "+
				"if that is meant, confirm it in place (muster drill update %s --confirm-scope %s: it keeps its ID, runs and findings), or keep its regions in the plan's scope",
				sc.ID, sc.Title, strings.Join(outside, ", "), plan, plans.JoinCodes(scope, ", "), due, sc.ID, confirm))
			return nil
		})
	})
	return out, err
}

// scopeConfirmation is the --confirm-scope a run of sc needs when the scope
// guard stops it: its regions, each once, in code order.
func scopeConfirmation(sc Schedule) string {
	codes := make([]string, 0, len(sc.Regions))
	for _, r := range sc.Regions {
		codes = append(codes, string(r))
	}
	slices.Sort(codes)
	return strings.Join(slices.Compact(codes), ",")
}
