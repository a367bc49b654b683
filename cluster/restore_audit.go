package cluster

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
)

// CmdRestored records in the audit chain that the cluster was started over
// a restored backup: its payload is the restore as the state records it
// (muster.Restore: the backup's raft index and time, the restore's number,
// when it was restored), which the entry shows (AuditEntry.Shown). The
// first leader after a restore proposes it once the cluster's rules allow;
// it is applied once per restore, however many leaders propose it, and
// changes nothing but the mark that the restore is in the chain.
const CmdRestored = "cluster.restored"

// RestoreAuditRules are the state-machine rules from which a restore is
// recorded in the audit chain (CmdRestored). Under earlier rules the
// command is refused, by the leader before it proposes it and by every
// replica that applies it (an older one skips it: it is ignorable).
const RestoreAuditRules = 13

// restoreAuditedKey, in the meta bucket, is the number (muster.Restore.Count,
// 8 bytes, big endian) of the last restore recorded in the audit chain.
var restoreAuditedKey = []byte("restore_audited")

func (n *Node) registerRestoreAudit() {
	n.fsm.Handle(CmdRestored, applyRestored)
	n.OnLeader(n.auditRestore)
}

// applyRestored marks the state's restore as recorded in the audit chain.
// The payload must be the state's restore record as it is: a restore
// already recorded, or a record that is not the state's, is refused and
// leaves no entry.
func applyRestored(tx *bolt.Tx, c *muster.Command) (any, error) {
	if !c.RulesAtLeast(RestoreAuditRules) {
		return nil, muster.Errorf(muster.EConflict, "recording a restore needs state-machine rules %d and the cluster applies %d", RestoreAuditRules, max(c.Rules, 1))
	}
	meta := tx.Bucket(metaBucket)
	rec, audited := restoreRecord(meta)
	if rec == nil || !bytes.Equal(rec, c.Payload) {
		return nil, muster.Errorf(muster.EConflict, "the restore to record is not the state's last restore")
	}
	r, err := decodeRestore(rec)
	if err != nil {
		return nil, err
	}
	if audited >= r.Count {
		return nil, muster.Errorf(muster.EConflict, "restore %d is already in the audit chain", r.Count)
	}
	return nil, meta.Put(restoreAuditedKey, binary.BigEndian.AppendUint64(nil, uint64(r.Count)))
}

// restoreRecord is the state's last restore as its audit entry shows it
// (canonicalJSON of the record; nil: never restored) and the number of
// the last restore recorded in the audit chain.
func restoreRecord(meta *bolt.Bucket) ([]byte, int) {
	audited := 0
	if v := meta.Get(restoreAuditedKey); len(v) == 8 {
		audited = int(binary.BigEndian.Uint64(v))
	}
	v := meta.Get(restoreKey)
	if v == nil {
		return nil, audited
	}
	rec, err := canonicalJSON(v)
	if err != nil {
		return nil, audited
	}
	return rec, audited
}

// canonicalJSON writes the JSON value v compact, with the keys of its
// objects in order and its numbers as they are: the form a payload shown
// in the audit chain (AuditEntry.Shown) keeps when a reader decodes and
// encodes it again (muster audit list -o json), so that its hash still
// holds.
func canonicalJSON(v []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return nil, err
	}
	return json.Marshal(x)
}

// auditRestore, a leader service, records the state's last restore in the
// audit chain when it is not there yet, as soon as every member's rules
// allow (RestoreAuditRules). It returns once the restore is recorded (by
// this leader or an earlier one), or when the state was never restored.
func (n *Node) auditRestore(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		changed := n.Changed()
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-t.C:
			t.Reset(rulesRetry)
		}
		var rec []byte
		var count, audited int
		err := n.fsm.View(func(tx *bolt.Tx) error {
			rec, audited = restoreRecord(tx.Bucket(metaBucket))
			if rec == nil {
				return nil
			}
			r, err := decodeRestore(rec)
			count = r.Count
			return err
		})
		if err != nil || rec == nil || audited >= count {
			return
		}
		if n.rules() < RestoreAuditRules {
			continue // a member runs an older muster: wait for its upgrade
		}
		err = n.Apply(muster.LeaderOnly(ctx), &muster.Command{Type: CmdRestored, Actor: clusterActor, Ignorable: true, Payload: rec}, nil)
		switch {
		case err == nil:
			n.logger.Info("restore recorded in the audit chain", "restore", count)
			return
		case muster.ErrorCode(err) == muster.EConflict:
			return // recorded by an earlier leader's command
		case ctx.Err() == nil:
			n.logger.Warn("recording the restore in the audit chain failed; trying again", "restore", count, "err", err)
		}
	}
}
