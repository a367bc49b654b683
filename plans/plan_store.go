package plans

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
)

// PlanVersion is one immutable version of a plan: the file as applied and
// the plan decoded from it. Versions count up from 1 and are never changed
// or removed, so an activation can pin one.
type PlanVersion struct {
	PlanID    PlanID    `json:"plan_id"`
	Version   int       `json:"version"`
	Hash      string    `json:"hash"`     // of the canonical plan; equal hashes mean equal plans
	Filename  string    `json:"filename"` // as given when applied
	Source    string    `json:"source"`   // the YAML file as applied
	Plan      *Plan     `json:"plan"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

// PlanSummary is the plan list entry: the latest version's headline.
type PlanSummary struct {
	ID        PlanID       `json:"id"`
	Title     string       `json:"title"`
	Hazard    Hazard       `json:"hazard"`
	Levels    []LevelCode  `json:"levels"`
	Scope     []RegionCode `json:"scope"`
	Version   int          `json:"version"` // latest
	UpdatedAt time.Time    `json:"updated_at"`
	UpdatedBy string       `json:"updated_by"`
}

// PlanApplyResult tells whether applying a file made a new version.
type PlanApplyResult struct {
	PlanID  PlanID `json:"plan_id"`
	Version int    `json:"version"`
	Changed bool   `json:"changed"` // false: identical to the latest version, nothing written
	// Warnings name the tags, teams and categories the plan selects by
	// that no one in the roster has (unmatchedSelectors), and, added by the
	// API, which knows the drills, the drill schedules the plan's scope
	// leaves out: stored all the same. Never set by the state machine.
	Warnings []string `json:"warnings,omitempty"`
}

type planPut struct {
	Filename string `json:"filename"`
	Source   string `json:"source"`
	Plan     *Plan  `json:"plan"`
}

func versionKey(id PlanID, v int) string { return fmt.Sprintf("%s/%08d", id, v) }

// planRegionRefs lists every region code a plan names: its scope and the
// regions in role selectors.
func planRegionRefs(p *Plan) []RegionCode {
	refs := append([]RegionCode(nil), p.Scope...)
	for _, l := range p.Levels {
		for _, g := range l.Groups {
			for _, r := range g.Roles {
				refs = append(refs, r.Select.Regions...)
			}
		}
	}
	return refs
}

func applyPlanPut(tx *bolt.Tx, c *muster.Command) (any, error) {
	var p planPut
	if err := json.Unmarshal(c.Payload, &p); err != nil || p.Plan == nil {
		return nil, muster.Errorf(muster.EInvalid, "plan: undecodable payload")
	}
	if !c.RulesAtLeast(rulesEnglishNames) {
		p.Plan.withoutRoleNamesEN()
	}
	var missing []string
	for _, code := range planRegionRefs(p.Plan) {
		if _, ok, err := getRegion(tx, code); err != nil {
			return nil, err
		} else if !ok {
			missing = append(missing, string(code))
		}
	}
	if len(missing) > 0 {
		return nil, muster.Errorf(muster.EInvalid, "%s: plan %s names regions that do not exist: %s", p.Filename, p.Plan.ID, strings.Join(missing, ", "))
	}
	hash := p.Plan.Hash()
	sb := bucket(tx, bPlans)
	var sum PlanSummary
	exists, err := getJSON(sb, string(p.Plan.ID), &sum)
	if err != nil {
		return nil, err
	}
	if exists {
		var latest PlanVersion
		if _, err := getJSON(tx.Bucket(bPlanVersions), versionKey(sum.ID, sum.Version), &latest); err != nil {
			return nil, err
		}
		if latest.Hash == hash {
			return PlanApplyResult{PlanID: sum.ID, Version: sum.Version}, nil
		}
	}
	v := PlanVersion{PlanID: p.Plan.ID, Version: sum.Version + 1, Hash: hash, Filename: p.Filename, Source: p.Source,
		Plan: p.Plan, CreatedAt: c.Time, CreatedBy: c.Actor}
	if err := putJSON(bucket(tx, bPlanVersions), versionKey(v.PlanID, v.Version), v); err != nil {
		return nil, err
	}
	sum = PlanSummary{ID: v.PlanID, Title: p.Plan.Title, Hazard: p.Plan.Hazard, Scope: p.Plan.Scope, Version: v.Version, UpdatedAt: c.Time, UpdatedBy: c.Actor}
	for _, l := range p.Plan.Levels {
		sum.Levels = append(sum.Levels, l.Code)
	}
	if err := putJSON(sb, string(v.PlanID), sum); err != nil {
		return nil, err
	}
	return PlanApplyResult{PlanID: v.PlanID, Version: v.Version, Changed: true}, nil
}

// getPlanVersion reads version v of a plan; v ≤ 0 means the latest.
func getPlanVersion(tx *bolt.Tx, id PlanID, v int) (PlanVersion, error) {
	var pv PlanVersion
	if v <= 0 {
		latest, err := LatestPlanVersion(tx, id)
		if err != nil {
			return pv, err
		}
		v = latest
	}
	ok, err := getJSON(tx.Bucket(bPlanVersions), versionKey(id, v), &pv)
	if err != nil {
		return pv, err
	}
	if !ok {
		return pv, muster.Errorf(muster.ENotFound, "plan %s has no version %d", id, v)
	}
	return pv, nil
}

// planVersions lists a plan's versions, oldest first, without their sources.
func planVersions(tx *bolt.Tx, id PlanID) ([]PlanVersion, error) {
	b := tx.Bucket(bPlanVersions)
	if b == nil {
		return nil, muster.Errorf(muster.ENotFound, "plan %s does not exist", id)
	}
	var out []PlanVersion
	prefix := []byte(string(id) + "/")
	cur := b.Cursor()
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
		var pv PlanVersion
		if err := json.Unmarshal(v, &pv); err != nil {
			return nil, err
		}
		pv.Source, pv.Plan = "", nil
		out = append(out, pv)
	}
	if len(out) == 0 {
		return nil, muster.Errorf(muster.ENotFound, "plan %s does not exist", id)
	}
	return out, nil
}
