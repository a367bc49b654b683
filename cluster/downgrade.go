package cluster

import (
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"muster"
)

// ErrNewerState is wrapped by the error of a node whose state was written
// under newer state-machine rules than its muster implements: the node
// was downgraded. It is refused at its start (New), since the state may
// hold what only the newer rules read, and a command stamped with the
// newer rules would be applied under the older ones' logic, its state
// drifting from the other replicas' without a word. Started again on the
// same data dir with the same muster it is refused again (muster agent
// exits so that its service manager does not restart it).
var ErrNewerState = errors.New("state written by a newer muster")

// stateRules is the newest state-machine rules the state in tx shows it
// was run under: those of its latest audit entry (the rules the last
// command applied was stamped with) and those this node's own member
// record says its muster implemented (self). what says which it is.
func stateRules(tx *bolt.Tx, self string) (rules int, what string) {
	if b := tx.Bucket(auditBucket); b != nil {
		if _, v := b.Cursor().Last(); v != nil {
			var e AuditEntry
			if json.Unmarshal(v, &e) == nil && e.Rules > rules {
				rules, what = e.Rules, fmt.Sprintf("its latest audit entry (%d, raft index %d, %s) was applied under rules %d", e.Seq, e.Index, e.Type, e.Rules)
			}
		}
	}
	if b := tx.Bucket(nodesBucket); b != nil {
		var info NodeInfo
		if v := b.Get([]byte(self)); v != nil && json.Unmarshal(v, &info) == nil && info.Rules > rules {
			rules, what = info.Rules, fmt.Sprintf("this node's member record says the muster it ran implemented rules %d", info.Rules)
		}
	}
	return rules, what
}

// checkNotDowngraded refuses, with an error wrapping ErrNewerState, a
// state written under newer rules than this muster implements
// (muster.Rules).
func (f *FSM) checkNotDowngraded(self string) error {
	var rules int
	var what string
	if err := f.View(func(tx *bolt.Tx) error {
		rules, what = stateRules(tx, self)
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
