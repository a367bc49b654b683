// Package cluster replicates muster's state with hashicorp/raft. The state
// itself lives in one bbolt file owned by the FSM; the raft log and stable
// store live in another (raft-boltdb). Domain packages register an ApplyFunc
// per command type; the FSM decodes commands and dispatches, nothing more.
package cluster

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"

	"muster"
)

var (
	metaBucket = []byte("_meta")
	appliedKey = []byte("applied_index")
)

// result is what the FSM returns for one log entry.
type result struct {
	value any
	err   error
}

// FSM is muster's raft state machine. All of its state is one bbolt file; a
// batch of committed entries is applied in one bbolt transaction together with
// the index of the last entry, so after a crash the node knows exactly which
// entries its state already contains and skips them (no snapshot replay).
type FSM struct {
	path   string
	logger *slog.Logger

	mu sync.RWMutex // guards db against the swap in Restore
	db *bolt.DB

	handlers map[string]muster.ApplyFunc
	applied  atomic.Uint64

	moved   signal        // broadcast whenever applied moves
	applies atomic.Uint64 // commands applied since open, for tests and metrics

	observeBatch func(entries int, d time.Duration)

	// release holds the command types after which the FSM hands freed
	// memory back to the operating system (see ReleaseMemoryAfter).
	release map[string]bool

	// onRestore run when a restored backup becomes the state (startOver).
	onRestore []muster.RestoreFunc

	// cannotApply ends the process when a committed entry cannot be
	// applied (see OnCannotApply); nil: a panic does.
	cannotApply func(msg string)
}

// OnCannotApply sets what ends the process when the FSM cannot apply
// committed entries for a reason the operator must fix on this node (its
// data disk full): stop is called, on the goroutine that applies them,
// with the message saying what to do, which the FSM has just logged at
// ERROR, and must not return (cmd/muster exits with a code of its own).
// raft's FSM cannot refuse an entry, and the node must not apply the
// entries after it nor answer as if it had applied it, so if stop returns,
// or none is set, the FSM panics with the message. Call it before the
// node starts.
func (f *FSM) OnCannotApply(stop func(msg string)) { f.cannotApply = stop }

// stopApplying ends the process over msg (see OnCannotApply); it does not
// return.
func (f *FSM) stopApplying(msg string) {
	f.logger.Error(msg)
	if f.cannotApply != nil {
		f.cannotApply(msg)
	}
	panic(msg)
}

// ReleaseMemoryAfter names command types whose apply builds so much that
// the garbage it leaves should go back to the operating system at once
// (collected, then runtime/debug.FreeOSMemory) instead of staying mapped
// until the scavenger gets to it, and that the next heap goal should be set
// from what the node holds afterwards: a million-row roster import commit
// leaves a gigabyte of garbage, which would otherwise sit under the next
// call-up. Call it before the node starts.
func (f *FSM) ReleaseMemoryAfter(types ...string) {
	if f.release == nil {
		f.release = map[string]bool{}
	}
	for _, t := range types {
		f.release[t] = true
	}
}

// releaseMemory collects twice, then returns the free memory to the
// operating system. bbolt keeps every one-page write buffer of a commit in
// a sync.Pool, which survives one collection in its victim cache: after a
// million-row import commit that is ~300 MiB, so a single collection
// (debug.FreeOSMemory alone) would mark it live and set the next heap goal
// to twice that, and the next large apply (a call-up) would grow the heap
// that far, and keep it resident, before the collector ran again. The
// second collection drops the pool, leaving the goal at twice what the node
// really holds (a few MiB), as on a node that has just started.
func releaseMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}

// OpenFSM opens (or creates) the state file at path.
func OpenFSM(path string, logger *slog.Logger) (*FSM, error) {
	if logger == nil {
		logger = slog.Default()
	}
	// The FSM's own command: cutting the audit chain it keeps.
	f := &FSM{path: path, logger: logger, handlers: map[string]muster.ApplyFunc{CmdAuditCut: applyAuditCut}}
	if err := f.open(); err != nil {
		return nil, err
	}
	return f, nil
}

func boltOptions() *bolt.Options {
	return &bolt.Options{
		Timeout:         2 * time.Second, // another process holding the file is an error, not a hang
		NoFreelistSync:  true,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: 1 << 30, // virtual only; avoids remaps that would wait for long snapshot reads
	}
}

func (f *FSM) open() error {
	db, err := bolt.Open(f.path, 0o600, boltOptions())
	if err != nil {
		return fmt.Errorf("open state %s: %w", f.path, err)
	}
	var idx uint64
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		if v := b.Get(appliedKey); len(v) == 8 {
			idx = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return fmt.Errorf("read state %s: %w", f.path, err)
	}
	// bbolt rebuilt its freelist by reading every page of the file
	// (NoFreelistSync), so the whole file is resident in this process; drop
	// it, and let the pages that are used come back as they are read.
	if st, err := os.Stat(f.path); err == nil {
		if err := dropMappedPages(db.Info().Data, st.Size()); err != nil {
			f.logger.Debug("could not drop the state file's pages read at open", "err", err)
		}
	}
	f.db = db
	f.setApplied(idx)
	return nil
}

// Handle registers fn for commands of type t. It must be called before the
// node starts; registering a type twice panics (a wiring bug).
func (f *FSM) Handle(t string, fn muster.ApplyFunc) {
	if _, dup := f.handlers[t]; dup {
		panic("cluster: command type registered twice: " + t)
	}
	f.handlers[t] = fn
}

// restoreKey, in the meta bucket, is the state's last restore
// (muster.Restore as JSON): written by startOver, absent in a state that
// was never restored.
var restoreKey = []byte("restore")

// OnRestore registers fn to run in the transaction that makes a restored
// backup the state of a new cluster (see muster.RestoreFunc). Call it
// before the node starts.
func (f *FSM) OnRestore(fn muster.RestoreFunc) { f.onRestore = append(f.onRestore, fn) }

// startOver makes the state's applied index at and returns what the
// restore was, changing nothing when the state is new (its applied index
// 0): the state came from another cluster's log (a backup placed as
// state.db), and the new cluster's log, which starts after at, must apply
// in full. In the same transaction it records the restore (restoreKey:
// the backup's index and time, one more restore than the backup had been
// through, a random tag of its own, now as RestoredAt) and runs the
// OnRestore functions. A state
// already started over at at and not yet snapshotted (the node stopped
// in between) is the same restore: it is returned as recorded, and
// nothing is written again. Called only before raft starts.
func (f *FSM) startOver(at uint64, now time.Time) (muster.Restore, error) {
	was := f.applied.Load()
	if was == 0 {
		return muster.Restore{}, nil
	}
	var r muster.Restore
	err := f.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		var last muster.Restore
		if v := meta.Get(restoreKey); v != nil {
			if err := json.Unmarshal(v, &last); err != nil {
				return fmt.Errorf("restore record: %w", err)
			}
			if was == at {
				r = last
				return nil
			}
		}
		tag, err := muster.NewRestoreTag()
		if err != nil {
			return fmt.Errorf("restore tag: %w", err)
		}
		r = muster.Restore{Count: last.Count + 1, Tag: tag, BackupIndex: was, BackupTime: lastAppliedTime(tx), RestoredAt: now.UTC()}
		data, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if err := meta.Put(restoreKey, data); err != nil {
			return err
		}
		for _, fn := range f.onRestore {
			if err := fn(tx, r); err != nil {
				return err
			}
		}
		return meta.Put(appliedKey, binary.BigEndian.AppendUint64(nil, at))
	})
	if err != nil {
		return r, fmt.Errorf("start %s over as a restored backup: %w", f.path, err)
	}
	f.setApplied(at)
	return r, nil
}

// lastAppliedTime is the time the leader stamped on the last command the
// state reflects, from the head of the audit chain; zero without one.
func lastAppliedTime(tx *bolt.Tx) time.Time {
	var head AuditHead
	if v := tx.Bucket(metaBucket).Get(auditHeadKey); v == nil || json.Unmarshal(v, &head) != nil {
		return time.Time{}
	}
	b := tx.Bucket(auditBucket)
	if b == nil {
		return time.Time{}
	}
	var e AuditEntry
	if v := b.Get(binary.BigEndian.AppendUint64(nil, head.Seq)); v == nil || json.Unmarshal(v, &e) != nil {
		return time.Time{}
	}
	return e.Time
}

// Restored returns the state's last restore, and false when it was never
// restored from a backup.
func (f *FSM) Restored() (muster.Restore, bool) {
	var r muster.Restore
	ok := false
	_ = f.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(metaBucket).Get(restoreKey); v != nil {
			var err error
			r, err = decodeRestore(v)
			ok = err == nil
		}
		return nil
	})
	return r, ok
}

// decodeRestore reads a restore record (restoreKey).
func decodeRestore(v []byte) (muster.Restore, error) {
	var r muster.Restore
	if err := json.Unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("restore record: %w", err)
	}
	return r, nil
}

// AppliedIndex is the raft index of the last entry reflected in the state.
func (f *FSM) AppliedIndex() uint64 { return f.applied.Load() }

// Applies counts commands applied (not skipped) since the FSM was opened.
func (f *FSM) Applies() uint64 { return f.applies.Load() }

func (f *FSM) setApplied(idx uint64) {
	f.applied.Store(idx)
	f.moved.broadcast()
}

// WaitApplied blocks until the state reflects index idx or done is closed.
func (f *FSM) WaitApplied(done <-chan struct{}, idx uint64) bool {
	for {
		ch := f.moved.wait()
		if f.applied.Load() >= idx {
			return true
		}
		select {
		case <-ch:
		case <-done:
			return f.applied.Load() >= idx
		}
	}
}

// View runs fn in a read transaction on the local state.
func (f *FSM) View(fn func(tx *bolt.Tx) error) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.db.View(fn)
}

// Apply applies a single entry; raft calls ApplyBatch instead, this exists to
// satisfy raft.FSM.
func (f *FSM) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch applies committed entries in one bbolt transaction. A command
// whose ApplyFunc returns an error is rejected: the transaction is rolled
// back and the batch re-run without it, so a rejected command leaves no trace
// while the others in the batch still apply. Because apply is deterministic,
// the outcome does not depend on how entries happen to be batched.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	start := time.Now()
	out := make([]any, len(logs))
	applied := f.applied.Load()
	cmds := make([]*muster.Command, len(logs))
	last := applied
	for i, l := range logs {
		if l.Index <= applied {
			// Already in the state: written before a restart, when nobody
			// waits for the result. Whoever does is told it was not applied.
			out[i] = result{err: muster.Errorf(muster.EInternal, "raft entry %d is already in the state (applied index %d): not applied again", l.Index, applied)}
			continue
		}
		last = l.Index
		if l.Type != raft.LogCommand {
			continue
		}
		c := &muster.Command{}
		if err := c.UnmarshalBinary(l.Data); err != nil {
			panic(fmt.Sprintf("cluster: log entry %d does not decode: %v", l.Index, err))
		}
		c.Index = l.Index
		if c.Rules > muster.Rules {
			f.stopApplying(newerRules(l.Index, c.Rules))
		}
		if _, ok := f.handlers[c.Type]; !ok {
			if !c.Ignorable {
				panic(fmt.Sprintf("cluster: log entry %d has unknown command type %q: this node is older than the cluster, upgrade it", l.Index, c.Type))
			}
			f.logger.Warn("skipping ignorable command of unknown type", "type", c.Type, "index", l.Index)
			continue
		}
		cmds[i] = c
	}
	if last == applied {
		return out
	}

	rejected := map[int]error{}
	f.mu.RLock()
	defer f.mu.RUnlock()
	for {
		tx, err := f.db.Begin(true)
		if err != nil {
			panic(fmt.Sprintf("cluster: begin state transaction: %v", err))
		}
		failed := -1
		for i, c := range cmds {
			if c == nil {
				continue
			}
			if err, ok := rejected[i]; ok {
				out[i] = result{err: err}
				continue
			}
			v, err := f.handlers[c.Type](tx, c)
			if err != nil {
				if muster.ErrorCode(err) == muster.EInternal {
					f.logger.Error("command failed", "type", c.Type, "index", c.Index, "err", err)
				}
				rejected[i] = err
				failed = i
				break
			}
			out[i] = result{value: v}
			if c.Rules >= AuditRules {
				if err := appendAudit(tx, c); err != nil {
					panic(fmt.Sprintf("cluster: audit entry of raft entry %d: %v", c.Index, err))
				}
			}
		}
		if failed >= 0 {
			_ = tx.Rollback()
			continue
		}
		var buf [8]byte
		binary.BigEndian.PutUint64(buf[:], last)
		if err := tx.Bucket(metaBucket).Put(appliedKey, buf[:]); err != nil {
			panic(fmt.Sprintf("cluster: write applied index: %v", err))
		}
		if err := tx.Commit(); err != nil {
			// The state on disk no longer matches the log: stop rather than diverge.
			if errors.Is(err, syscall.ENOSPC) {
				f.stopApplying(fmt.Sprintf("cluster: the disk holding %s is full, so raft entries up to %d cannot be applied: free space there or grow the disk, then start the node again and it applies them (%v)", f.db.Path(), last, err))
			}
			panic(fmt.Sprintf("cluster: commit state transaction: %v", err))
		}
		break
	}
	n := 0
	for _, c := range cmds {
		if c != nil {
			n++
		}
	}
	f.applies.Add(uint64(n - len(rejected)))
	f.setApplied(last)
	for i, c := range cmds {
		if _, bad := rejected[i]; c != nil && !bad && f.release[c.Type] {
			t := time.Now()
			releaseMemory()
			f.logger.Debug("returned memory to the OS", "after", c.Type, "index", c.Index, "took", time.Since(t))
			break
		}
	}
	if f.observeBatch != nil {
		f.observeBatch(len(logs), time.Since(start))
	}
	return out
}

// Snapshot captures the state as of the last applied entry: a read
// transaction, streamed to the snapshot sink by Persist while applies go on.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	tx, err := f.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return &fsmSnapshot{tx: tx}, nil
}

type fsmSnapshot struct{ tx *bolt.Tx }

// Persist streams the bbolt file as of the snapshot's transaction.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.tx.WriteTo(sink); err != nil {
		sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release ends the snapshot's read transaction.
func (s *fsmSnapshot) Release() { _ = s.tx.Rollback() }

// Backup streams a consistent copy of the state file to w. It returns the
// applied index the copy reflects.
func (f *FSM) Backup(w io.Writer) (uint64, error) {
	var idx uint64
	err := f.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(metaBucket).Get(appliedKey); len(v) == 8 {
			idx = binary.BigEndian.Uint64(v)
		}
		_, err := tx.WriteTo(w)
		return err
	})
	return idx, err
}

// Restore replaces the state with a snapshot: the stream is written to a new
// file beside the current one, checked to open as bbolt, and swapped in.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	tmp := f.path + ".restore"
	if err := writeFileSync(tmp, rc); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	check, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore: snapshot is not a state file: %w", err)
	}
	check.Close()

	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.db.Close(); err != nil {
		return fmt.Errorf("restore: close state: %w", err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return fmt.Errorf("restore: swap state: %w", err)
	}
	if err := syncDir(f.path); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := f.open(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	f.logger.Info("state restored from snapshot", "applied_index", f.applied.Load())
	return nil
}

// Close closes the state file.
func (f *FSM) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.db.Close()
}

func writeFileSync(path string, r io.Reader) error {
	out, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		os.Remove(path)
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncDir(file string) error {
	d, err := os.Open(filepath.Dir(file))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ErrShutdown is returned by operations on a node that is closing.
var ErrShutdown = errors.New("node is shutting down")

// signal is a broadcast: wait returns a channel that is closed at the next
// broadcast.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *signal) broadcast() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}
