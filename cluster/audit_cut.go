package cluster

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
)

// AuditCutRules are the rules from which the oldest entries of the audit
// chain can be cut (CmdAuditCut). Under earlier rules the command is
// refused, by the leader before it proposes it and by every replica that
// applies it, so that replicas of two versions hold the same chain.
const AuditCutRules = 13

// CmdAuditCut removes the oldest entries of the audit chain, up to an entry
// whose hash the operator holds in an export (muster audit export), and
// keeps where the chain now starts (AuditCheckpoint). It is ignorable: a
// member whose muster predates it skips it, as under its rules every
// replica refuses it.
const CmdAuditCut = "audit.cut"

// AuditCutMax is the most entries one CmdAuditCut removes: a cut of a
// million entries is a hundred raft entries, each a bounded bbolt
// transaction, so that the cluster applies other commands between them.
const AuditCutMax = 10000

// auditCheckpointKey, in the meta bucket, is the AuditCheckpoint of the
// chain once it was cut; absent before.
var auditCheckpointKey = []byte("audit_checkpoint")

// AuditCheckpoint is where a cut audit chain starts: the last entry cut
// (entries 1 to Seq are gone; entry Seq+1 names Hash as its prev), and the
// cut that took it, when, by whom and why. It is zero for a chain never
// cut. An auditor checks the chain from it, and the export that holds the
// entries cut ends with an entry of this number and hash.
type AuditCheckpoint struct {
	Seq    uint64    `json:"seq"`
	Hash   string    `json:"hash"`
	Time   time.Time `json:"time"`  // the time the leader stamped into the cut
	Actor  string    `json:"actor"` // who asked for the cut
	Reason string    `json:"reason"`
}

// String says where the chain starts, for a person: "entries before 1,234
// were cut on … by … (reason); the chain starts from hash …".
func (cp AuditCheckpoint) String() string {
	return fmt.Sprintf("entries before %s were cut on %s by %s (%s); the chain starts from hash %s",
		groupDigits(cp.Seq+1), cp.Time.UTC().Format(time.RFC3339), cp.Actor, cp.Reason, cp.Hash)
}

// AuditCutRequest is the payload of CmdAuditCut: an export of the chain
// holds entries From to Through, the last with hash Hash. Nothing is cut
// unless the chain's own entry Through has that hash and the export holds
// every entry still in the chain up to it.
type AuditCutRequest struct {
	From    uint64 `json:"from"`
	Through uint64 `json:"through"`
	Hash    string `json:"hash"`
	Reason  string `json:"reason"`
	// Max is the most entries this command removes, 1 to AuditCutMax (0:
	// AuditCutMax); the rest up to Through is left for the next.
	Max int `json:"max,omitempty"`
}

// AuditCutResult is what one CmdAuditCut did: how many entries it removed,
// how many up to Through are still in the chain (another cut with the same
// request goes on with them), and the checkpoint after it.
type AuditCutResult struct {
	Removed    uint64          `json:"removed"`
	Remaining  uint64          `json:"remaining"`
	Checkpoint AuditCheckpoint `json:"checkpoint"`
}

// CutAudit proposes one CmdAuditCut for actor and returns what it did. It
// is refused (conflict) while the cluster's rules are below AuditCutRules,
// before anything is proposed.
func (n *Node) CutAudit(ctx context.Context, actor string, req AuditCutRequest) (AuditCutResult, error) {
	var out AuditCutResult
	if r := n.rules(); r < AuditCutRules {
		return out, muster.Errorf(muster.EConflict, "cutting the audit chain needs every member's rules at %d, and the cluster's are %d: upgrade every member's muster first",
			AuditCutRules, r)
	}
	b, err := json.Marshal(req)
	if err != nil {
		return out, err
	}
	err = n.Apply(ctx, &muster.Command{Type: CmdAuditCut, Actor: actor, Ignorable: true, Payload: b}, &out)
	return out, err
}

// applyAuditCut removes the entries of the chain from its start up to the
// request's Through, at most Max of them, if the chain's entry Through has
// the request's hash and the export the request names starts no later
// than the chain does; it moves the checkpoint to the last entry removed.
// The command then leaves its own entry, as every command does.
func applyAuditCut(tx *bolt.Tx, c *muster.Command) (any, error) {
	if !c.RulesAtLeast(AuditCutRules) {
		return nil, muster.Errorf(muster.EConflict, "cutting the audit chain needs state-machine rules %d and the cluster applies %d: upgrade every member's muster first",
			AuditCutRules, max(c.Rules, 1))
	}
	var req AuditCutRequest
	if err := json.Unmarshal(c.Payload, &req); err != nil {
		return nil, muster.Errorf(muster.EInvalid, "audit cut: %v", err)
	}
	reason := strings.TrimSpace(req.Reason)
	switch {
	case reason == "":
		return nil, muster.Errorf(muster.EInvalid, "reason: say why the entries are cut (where the export is kept, the retention rule)")
	case req.Through == 0 || req.Hash == "":
		return nil, muster.Errorf(muster.EInvalid, "through and hash: the number and hash of the export's last entry are required")
	case req.From == 0 || req.From > req.Through:
		return nil, muster.Errorf(muster.EInvalid, "from: the number of the export's first entry, 1 to %d, is required", req.Through)
	case req.Max < 0 || req.Max > AuditCutMax:
		return nil, muster.Errorf(muster.EInvalid, "max: at most %d entries are cut by one command", AuditCutMax)
	}
	limit := uint64(req.Max)
	if limit == 0 {
		limit = AuditCutMax
	}
	meta := tx.Bucket(metaBucket)
	cp, err := readAuditCheckpoint(meta)
	if err != nil {
		return nil, err
	}
	if req.Through <= cp.Seq {
		if req.Through == cp.Seq && req.Hash == cp.Hash {
			return nil, muster.Errorf(muster.EConflict, "the audit chain was cut through entry %d already: %s", req.Through, cp)
		}
		return nil, muster.Errorf(muster.EConflict, "entries up to %d are no longer in the audit chain: %s", req.Through, cp)
	}
	if req.From > cp.Seq+1 {
		return nil, muster.Errorf(muster.EConflict, "the export starts at entry %d, but the chain still holds the entries from %d: export from there (muster audit export --from %d) and cut with that file",
			req.From, cp.Seq+1, cp.Seq+1)
	}
	b := tx.Bucket(auditBucket)
	through, ok, err := auditEntryAt(b, req.Through)
	if err != nil {
		return nil, err
	}
	if !ok {
		var head AuditHead
		if v := meta.Get(auditHeadKey); v != nil {
			if err := json.Unmarshal(v, &head); err != nil {
				return nil, fmt.Errorf("audit head: %w", err)
			}
		}
		return nil, muster.Errorf(muster.EConflict, "the audit chain has no entry %d (its last is %d): the export is not of this chain", req.Through, head.Seq)
	}
	if through.Hash != req.Hash {
		return nil, muster.Errorf(muster.EConflict, "the audit chain's entry %d has hash %s and the export's has %s: the export is not of this chain, or one of them was changed; nothing was cut",
			req.Through, short(through.Hash), short(req.Hash))
	}
	end := min(req.Through, cp.Seq+limit)
	last := through
	if end != req.Through {
		if last, ok, err = auditEntryAt(b, end); err != nil || !ok {
			return nil, fmt.Errorf("audit entry %d, between the checkpoint and entry %d, is missing (%v)", end, req.Through, err)
		}
	}
	for seq := cp.Seq + 1; seq <= end; seq++ {
		if err := b.Delete(binary.BigEndian.AppendUint64(nil, seq)); err != nil {
			return nil, err
		}
	}
	res := AuditCutResult{Removed: end - cp.Seq, Remaining: req.Through - end,
		Checkpoint: AuditCheckpoint{Seq: end, Hash: last.Hash, Time: c.Time.UTC(), Actor: c.Actor, Reason: reason}}
	data, err := json.Marshal(res.Checkpoint)
	if err != nil {
		return nil, err
	}
	return res, meta.Put(auditCheckpointKey, data)
}

// readAuditCheckpoint reads the chain's checkpoint from meta; zero for a
// chain never cut.
func readAuditCheckpoint(meta *bolt.Bucket) (AuditCheckpoint, error) {
	var cp AuditCheckpoint
	if v := meta.Get(auditCheckpointKey); v != nil {
		if err := json.Unmarshal(v, &cp); err != nil {
			return cp, fmt.Errorf("audit checkpoint: %w", err)
		}
	}
	return cp, nil
}

// auditEntryAt reads entry seq of the chain b (nil: no chain yet).
func auditEntryAt(b *bolt.Bucket, seq uint64) (AuditEntry, bool, error) {
	var e AuditEntry
	if b == nil {
		return e, false, nil
	}
	v := b.Get(binary.BigEndian.AppendUint64(nil, seq))
	if v == nil {
		return e, false, nil
	}
	if err := json.Unmarshal(v, &e); err != nil {
		return e, false, fmt.Errorf("audit entry %d: %w", seq, err)
	}
	return e, true, nil
}

// groupDigits writes n with a comma every three digits (1,234).
func groupDigits(n uint64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Before is the entry before the first the chain holds after the cut, as
// VerifyAudit takes it.
func (cp AuditCheckpoint) Before() AuditHead { return AuditHead{Seq: cp.Seq, Hash: cp.Hash} }
