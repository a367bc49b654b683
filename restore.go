package muster

import (
	"crypto/rand"
	"encoding/binary"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Restore describes a cluster started over a restored backup: a state file
// taken from another cluster (muster backup) placed as a new node's
// state.db and bootstrapped. It is written into the state once, before
// raft starts, and that state becomes the new cluster's first snapshot,
// which every node that joins installs: all of them know it alike.
type Restore struct {
	// Count numbers the restores this state has been through, this one
	// included: 1 for the first, 2 for a backup of a restored cluster
	// restored again. Attempt IDs made after a restore carry it, and Tag.
	Count int `json:"count"`
	// Tag tells this restore from any other of the same backup (a
	// rehearsal and the real one, or a restore done again): random, drawn
	// by the restoring node (NewRestoreTag). Attempt IDs made after the
	// restore carry it after Count (".r1-k3f9q"), and the answer links of
	// its call-ups are made with a key of its own, so that what one
	// restored cluster sent is never taken by another. Empty in a state
	// restored by an earlier build.
	Tag string `json:"tag,omitempty"`
	// BackupIndex is the raft index of the old cluster's log that the
	// backup reflected.
	BackupIndex uint64 `json:"backup_index"`
	// BackupTime is when the last command the backup holds was applied (the
	// leader's stamp, from the audit chain): the backup was taken at or
	// shortly after it, and the old cluster may have gone on from there.
	// Zero when the state does not say (a backup from before the audit
	// chain, rules 12).
	BackupTime time.Time `json:"backup_time,omitzero"`
	// RestoredAt is the restoring node's clock when it started the new
	// cluster.
	RestoredAt time.Time `json:"restored_at"`
}

// RestoreFunc is run once in the transaction that makes a restored backup
// the state of a new cluster, before raft starts, so that a domain package
// records in its own state what the restore means for it (the call-ups
// open in the backup). Whatever it writes is part of the new cluster's
// first snapshot; it must not depend on anything but tx and r. A returned
// error stops the node's start, and nothing of the restore is written.
type RestoreFunc func(tx *bolt.Tx, r Restore) error

// RestoreTags is how many tags there are (Restore.Tag): five lowercase
// base-36 digits, so two restores of one backup draw the same tag once in
// 60 million.
const RestoreTags = 36 * 36 * 36 * 36 * 36

// NewRestoreTag draws a restore's tag (Restore.Tag): five random base-36
// digits ("k3f9q", "007xz").
func NewRestoreTag() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	s := strconv.FormatUint(binary.BigEndian.Uint64(b[:])%RestoreTags, 36)
	return strings.Repeat("0", 5-len(s)) + s, nil
}
