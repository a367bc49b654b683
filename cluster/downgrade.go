package cluster

import (
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"muster"
)

// ErrNewerState is wrapped by the error of a node whose state was written
// under newer state-machine rules than its muster implements (the rules
// of the last command applied): the node was downgraded. It is refused at its start (New), since the state may
// hold what only the newer rules read, and a command stamped with the
// newer rules would be applied under the older ones' logic, its state
// drifting from the other replicas' without a word. Started again on the
// same data dir with the same muster it is refused again (muster agent
// exits so that its service manager does not restart it).
var ErrNewerState = errors.New("state written by a newer muster")

// stateRules is the state-machine rules the last command applied to the
// state in tx was stamped with, as its latest audit entry records them,
// and what says so. (Not this node's member record: a canary upgraded
// and rolled back before the cluster's rules rose records newer rules
// than any entry was stamped with, and its state is fine for the older
// muster.)
func stateRules(tx *bolt.Tx) (rules int, what string) {
	b := tx.Bucket(auditBucket)
	if b == nil {
		return 0, ""
	}
	_, v := b.Cursor().Last()
	var e AuditEntry
	if v == nil || json.Unmarshal(v, &e) != nil {
		return 0, ""
	}
	return e.Rules, fmt.Sprintf("its latest audit entry, %d (raft index %d, %s), was applied under rules %d", e.Seq, e.Index, e.Type, e.Rules)
}

// checkNotDowngraded refuses, with an error wrapping ErrNewerState, a
// state written under newer rules than this muster implements
// (muster.Rules).
func (f *FSM) checkNotDowngraded() error {
	var rules int
	var what string
	if err := f.View(func(tx *bolt.Tx) error {
		rules, what = stateRules(tx)
		return nil
	}); err != nil {
		return err
	}
	if rules <= muster.Rules {
		return nil
	}
	return fmt.Errorf("cluster: %w: the state in %s was written under state-machine rules %d (%s), and this muster implements rules up to %d. "+
		"A muster does not run on a newer one's state (downgrading is not supported): run a muster with rules %d or newer on this node",
		ErrNewerState, f.path, rules, what, muster.Rules, rules)
}

// newerRules is what the FSM logs when it stops at raft entry index,
// stamped under rules newer than this muster's: it cannot apply it as the
// leader meant.
func newerRules(index uint64, rules int) string {
	return fmt.Sprintf("cluster: raft entry %d was stamped under state-machine rules %d, and this muster implements rules up to %d: "+
		"it is older than the cluster (downgraded, or left out when the others were upgraded) and would apply the entry under older logic than the other replicas. "+
		"It stops instead: run a muster with rules %d or newer on this node, and it applies the entry from its files",
		index, rules, muster.Rules, rules)
}
