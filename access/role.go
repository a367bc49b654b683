// Package access says who may do what: bearer tokens, stored as hashes in the
// replicated state, each carrying one role, and the table of actions each
// role may take. It knows nothing of HTTP; api asks it to authenticate a
// secret and to check an action.
package access

import (
	"strings"

	"muster"
)

// Role is what a token holder is in the command system. Each token has
// exactly one.
type Role string

// Roles, from most to least powerful.
const (
	Admin     Role = "admin"     // tokens, cluster membership, backups, and everything else
	Commander Role = "commander" // 指挥长/值班领导: activates, approves, stands down
	Approver  Role = "approver"  // the second person who approves level I–II activations
	Operator  Role = "operator"  // 值班员: keeps plans, regions and rosters
	Trainer   Role = "trainer"   // 演练组织者: schedules and runs drills
	Viewer    Role = "viewer"    // reads everything but tokens
	// Feed is a machine relaying upstream CAP warnings (a met service's
	// feed): it may post them and nothing else, so the token a relay in a
	// DMZ holds cannot start, stand down or retract a call-up. Tokens of
	// this role are made from rules 11 (rulesFeedRole).
	Feed Role = "feed"
)

// Roles lists every role in the order above.
func Roles() []Role { return []Role{Admin, Commander, Approver, Operator, Trainer, Viewer, Feed} }

// ParseRole maps a role name, in any letter case, to its Role. Anything else
// is an invalid error that lists the roles.
func ParseRole(s string) (Role, error) {
	if r := Role(strings.ToLower(strings.TrimSpace(s))); r.Valid() {
		return r, nil
	}
	names := make([]string, 0, len(Roles()))
	for _, known := range Roles() {
		names = append(names, string(known))
	}
	return "", muster.Errorf(muster.EInvalid, "role %q: want one of %s", s, strings.Join(names, ", "))
}

// Valid reports whether r is one of the roles above, spelled exactly.
func (r Role) Valid() bool {
	for _, known := range Roles() {
		if r == known {
			return true
		}
	}
	return false
}

// Action is a kind of request that a role may or may not make.
type Action string

// Actions checked by api before a handler runs.
const (
	ActRead       Action = "read"        // read any state except tokens
	ActEditRoster Action = "edit_roster" // regions, grids, people, roster imports
	ActEditPlans  Action = "edit_plans"  // plans and their versions
	ActActivate   Action = "activate"    // activate, stand down, retract
	ActApprove    Action = "approve"     // approve a level I–II activation
	ActDrill      Action = "drill"       // schedule and run drills, record findings
	ActAdmin      Action = "admin"       // tokens, cluster membership, backups
	ActImportCAP  Action = "import_cap"  // post upstream CAP warnings (POST /api/v1/cap)
)

// grants is the permission table: each role and the actions it may take.
// Admin is not listed; it may take every action.
var grants = map[Role][]Action{
	Commander: {ActRead, ActEditRoster, ActEditPlans, ActActivate, ActApprove, ActImportCAP},
	Approver:  {ActRead, ActApprove},
	Operator:  {ActRead, ActEditRoster, ActEditPlans},
	Trainer:   {ActRead, ActDrill},
	Viewer:    {ActRead},
	Feed:      {ActImportCAP},
}

// Allowed reports whether role r may take action a. Unknown roles and
// unknown actions are never allowed, except that admin may do anything.
func Allowed(r Role, a Action) bool {
	if r == Admin {
		return true
	}
	for _, g := range grants[r] {
		if g == a {
			return true
		}
	}
	return false
}
