package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
)

// AuditRules are the rules from which every applied command leaves an
// entry in the audit chain. Commands applied under earlier rules have none:
// older replicas do not write it, and all replicas of an entry must agree.
const AuditRules = 12

// auditBucket holds the audit chain: the entry's sequence number (8 bytes,
// big endian) → AuditEntry as JSON. Entries are numbered, not keyed by raft
// index: a cluster started over a restored backup counts its raft index
// from 1 again, and its chain goes on. auditHeadKey, in the meta bucket, is
// the last entry's number, index and hash.
var (
	auditBucket  = []byte("audit_chain")
	auditHeadKey = []byte("audit_head")
)

// AuditEntry records one applied command: who did what when, under which
// rules, and the SHA-256 of its payload, not the payload itself (people's
// phones stay in their records). Each entry's Hash covers its fields and
// the previous entry's Hash, so an entry changed, taken out or put in
// breaks the chain from there on, and two replicas with the same head hold
// the same history. Rejected commands leave no entry, as they leave no
// trace in the state.
type AuditEntry struct {
	Seq     uint64    `json:"seq"`   // its place in the chain, from 1
	Index   uint64    `json:"index"` // the raft entry of the command
	ID      string    `json:"id"`
	Type    string    `json:"type"`
	Actor   string    `json:"actor"`
	Time    time.Time `json:"time"`
	Rules   int       `json:"rules"`
	Payload string    `json:"payload_sha256"`
	Prev    string    `json:"prev"` // the previous entry's Hash; empty for the first
	Hash    string    `json:"hash"`
	// Shown is the payload itself, for the commands whose payload names
	// no one and is what the entry records (shownInAudit: a restore's
	// backup, CmdRestored); absent for the others. Its SHA-256 is
	// Payload, so the chain covers it without hashing it twice.
	Shown json.RawMessage `json:"payload,omitempty"`
}

// shownInAudit are the command types whose audit entry shows the payload
// (AuditEntry.Shown).
var shownInAudit = map[string]bool{CmdRestored: true}

// Sum is the hash e should carry: SHA-256 over its fields and Prev. An
// auditor recomputes it for every entry (muster audit verify).
func (e AuditEntry) Sum() string {
	h := sha256.New()
	fmt.Fprintf(h, "muster-audit-v1\n%d\n%d\n%s\n%s\n%s\n%s\n%d\n%s\n%s", e.Seq, e.Index, e.ID, e.Type, e.Actor,
		e.Time.UTC().Format(time.RFC3339Nano), e.Rules, e.Payload, e.Prev)
	return hex.EncodeToString(h.Sum(nil))
}

// AuditHead is the last entry of the chain: its number, index and hash.
// Read with the chain (Node.Audit), it also carries the chain's checkpoint
// once the chain was cut (zero, and left out of JSON, before): where the
// entries the node still holds start.
type AuditHead struct {
	Seq        uint64          `json:"seq"`
	Index      uint64          `json:"index"`
	Hash       string          `json:"hash"`
	Checkpoint AuditCheckpoint `json:"checkpoint,omitzero"`
}

// appendAudit adds c, just applied in tx, to the chain. Everything in it
// comes from the command: replicas write the same bytes.
func appendAudit(tx *bolt.Tx, c *muster.Command) error {
	meta := tx.Bucket(metaBucket)
	var head AuditHead
	if v := meta.Get(auditHeadKey); v != nil {
		if err := json.Unmarshal(v, &head); err != nil {
			return fmt.Errorf("audit head: %w", err)
		}
	}
	sum := sha256.Sum256(c.Payload)
	e := AuditEntry{Seq: head.Seq + 1, Index: c.Index, ID: c.ID, Type: c.Type, Actor: c.Actor, Time: c.Time.UTC(), Rules: c.Rules,
		Payload: hex.EncodeToString(sum[:]), Prev: head.Hash}
	if shownInAudit[c.Type] {
		e.Shown = json.RawMessage(c.Payload)
	}
	e.Hash = e.Sum()
	b, err := tx.CreateBucketIfNotExists(auditBucket)
	if err != nil {
		return err
	}
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := b.Put(binary.BigEndian.AppendUint64(nil, e.Seq), data); err != nil {
		return err
	}
	data, err = json.Marshal(AuditHead{Seq: e.Seq, Index: e.Index, Hash: e.Hash})
	if err != nil {
		return err
	}
	return meta.Put(auditHeadKey, data)
}

// Audit returns up to limit entries of the chain after number after, oldest
// first, and the chain's head with its checkpoint (where a cut chain
// starts), as this node's state has them at level
// (muster.Stale: this node's own copy, which is what an auditor checks on
// each node).
func (n *Node) Audit(ctx context.Context, level muster.Consistency, after uint64, limit int) ([]AuditEntry, AuditHead, error) {
	out := []AuditEntry{}
	var head AuditHead
	err := n.View(ctx, level, func(tx *bolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		if v := meta.Get(auditHeadKey); v != nil {
			if err := json.Unmarshal(v, &head); err != nil {
				return fmt.Errorf("audit head: %w", err)
			}
		}
		var err error
		if head.Checkpoint, err = readAuditCheckpoint(meta); err != nil {
			return err
		}
		b := tx.Bucket(auditBucket)
		if b == nil {
			return nil
		}
		cur := b.Cursor()
		for k, v := cur.Seek(binary.BigEndian.AppendUint64(nil, after+1)); k != nil && len(out) < limit; k, v = cur.Next() {
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("audit entry %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, head, err
}

// VerifyAudit checks entries, which continue the chain after before (the
// entry before the first: zero at the start of the chain, the checkpoint
// after a cut, see AuditCheckpoint.Before): each entry's number follows
// the one before, its hash is its Sum and names the one before. It returns
// the last entry's number, index and hash, to go on with the next page, or
// an error naming the first entry that does not hold.
func VerifyAudit(before AuditHead, entries []AuditEntry) (AuditHead, error) {
	for _, e := range entries {
		if e.Prev != before.Hash {
			return before, fmt.Errorf("audit entry %d (%s by %s at %s) names %s as the entry before it, but that one's hash is %s: an entry was taken out, put in or changed before it",
				e.Seq, e.Type, e.Actor, e.Time.Format(time.RFC3339), short(e.Prev), short(before.Hash))
		}
		if s := e.Sum(); s != e.Hash {
			return before, fmt.Errorf("audit entry %d (%s by %s at %s) was changed: its fields hash to %s, it says %s",
				e.Seq, e.Type, e.Actor, e.Time.Format(time.RFC3339), short(s), short(e.Hash))
		}
		if s := shownSum(e.Shown); len(e.Shown) > 0 && s != e.Payload {
			return before, fmt.Errorf("audit entry %d (%s by %s at %s) was changed: the payload it shows hashes to %s, its payload_sha256 says %s",
				e.Seq, e.Type, e.Actor, e.Time.Format(time.RFC3339), short(s), short(e.Payload))
		}
		if e.Seq != before.Seq+1 {
			return before, fmt.Errorf("audit entry %d (%s by %s at %s) follows entry %d: the chain was numbered again, with entries taken out or put in",
				e.Seq, e.Type, e.Actor, e.Time.Format(time.RFC3339), before.Seq)
		}
		before = AuditHead{Seq: e.Seq, Index: e.Index, Hash: e.Hash}
	}
	return before, nil
}

// shownSum is the SHA-256 of a payload an entry shows, in its canonical
// form (canonicalJSON: as the leader proposed it), which a reader that
// decoded and encoded it again (indented, keys in order) still has.
func shownSum(shown json.RawMessage) string {
	v, err := canonicalJSON(shown)
	if err != nil {
		return "not JSON"
	}
	sum := sha256.Sum256(v)
	return hex.EncodeToString(sum[:])
}

func short(h string) string {
	if h == "" {
		return strconv.Quote("")
	}
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
