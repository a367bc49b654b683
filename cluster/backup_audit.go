package cluster

import (
	"context"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"muster"
)

// CmdBackupTaken records that someone took a copy of a node's state (GET
// /api/v1/backup): it changes no state, and its audit entry names who, when,
// and (in its payload's hash) which node's copy at which raft index.
const CmdBackupTaken = "cluster.backup.taken"

// BackupAuditRules are the state-machine rules from which a backup taken
// is recorded (CmdBackupTaken). Under earlier rules the command is refused,
// by the node before it proposes it and by every replica that applies it,
// so that replicas of two versions hold the same chain (an older one skips
// it: it is ignorable).
const BackupAuditRules = 13

// backupTaken is the payload of CmdBackupTaken.
type backupTaken struct {
	Node         string `json:"node"`
	AppliedIndex uint64 `json:"applied_index"`
}

func (n *Node) registerBackupAudit() {
	n.fsm.Handle(CmdBackupTaken, func(tx *bolt.Tx, c *muster.Command) (any, error) {
		if !c.RulesAtLeast(BackupAuditRules) {
			return nil, muster.Errorf(muster.EConflict, "recording a backup needs state-machine rules %d and the cluster applies %d", BackupAuditRules, max(c.Rules, 1))
		}
		return nil, nil // the audit entry is the record
	})
}

// RecordBackup records in the audit chain that actor (a token's name) took
// a copy of this node's state at raft index applied. It is refused
// (conflict) while the cluster's rules are below BackupAuditRules, and
// fails like any write while there is no leader.
func (n *Node) RecordBackup(ctx context.Context, actor string, applied uint64) error {
	if r := n.rules(); r < BackupAuditRules {
		return muster.Errorf(muster.EConflict, "recording a backup needs every member's rules at %d, and the cluster's are %d", BackupAuditRules, r)
	}
	b, err := json.Marshal(backupTaken{Node: n.cfg.NodeID, AppliedIndex: applied})
	if err != nil {
		return err
	}
	return n.Apply(ctx, &muster.Command{Type: CmdBackupTaken, Actor: actor, Ignorable: true, Payload: b}, nil)
}
