package cluster

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// maxCachedEntry is the largest raft entry kept in the in-memory log cache.
// Replication and the FSM read recent entries from the cache; staged
// roster batches (hundreds of kilobytes each, hundreds per import) are read
// once, and caching them would keep a few hundred megabytes alive on every
// node until a thousand later entries pushed them out — right under the
// first call-up after an import.
const maxCachedEntry = 64 << 10

// boundedLogCache is raft.LogCache for entries up to maxCachedEntry bytes:
// a batch holding a larger entry goes to the store alone. Reads of an
// uncached index find a different index in its ring slot and go to the
// store; deletes clear the whole ring, so no stale entry can answer for an
// index that was rewritten.
type boundedLogCache struct {
	*raft.LogCache
	store raft.LogStore
	path  string // the store's file, for what failing says
	// failing is set while the entries sent to this node cannot be
	// stored (its disk full): raft only logs that and asks again, so the
	// node would look ready and answer reads it cannot catch up for.
	failing atomic.Pointer[logStoreFailure]
	// refuse, when set (tests: a disk that stays full), is what StoreLogs
	// fails with instead of storing.
	refuse atomic.Pointer[error]
}

// logStoreFailure is a failure to store raft entries, and since when.
type logStoreFailure struct {
	first uint64 // the first index of the batch
	since time.Time
	err   error
}

// Failing says why entries cannot be stored now, or "" when the last
// batch was.
func (c *boundedLogCache) Failing() string {
	f := c.failing.Load()
	if f == nil {
		return ""
	}
	return fmt.Sprintf("the raft log %s cannot store entries from index %d on (since %s: %v): free space there or grow the disk; the node catches up once it can",
		c.path, f.first, f.since.UTC().Format(time.RFC3339), f.err)
}

// note keeps whether storing logs failed.
func (c *boundedLogCache) note(logs []*raft.Log, err error) error {
	switch {
	case err == nil:
		if c.failing.Load() != nil {
			c.failing.Store(nil)
		}
	case len(logs) > 0:
		if f := c.failing.Load(); f == nil || f.first != logs[0].Index {
			c.failing.Store(&logStoreFailure{first: logs[0].Index, since: time.Now(), err: err})
		}
	}
	return err
}

func newBoundedLogCache(capacity int, store raft.LogStore, path string) (*boundedLogCache, error) {
	c, err := raft.NewLogCache(capacity, store)
	if err != nil {
		return nil, err
	}
	return &boundedLogCache{LogCache: c, store: store, path: path}, nil
}

// StoreLog stores one entry, cached if it is small.
func (c *boundedLogCache) StoreLog(l *raft.Log) error { return c.StoreLogs([]*raft.Log{l}) }

// StoreLogs stores a batch, cached unless it holds an entry larger than
// maxCachedEntry.
func (c *boundedLogCache) StoreLogs(logs []*raft.Log) error {
	if err := c.refuse.Load(); err != nil {
		return c.note(logs, *err)
	}
	for _, l := range logs {
		if len(l.Data) > maxCachedEntry {
			return c.note(logs, c.store.StoreLogs(logs))
		}
	}
	return c.note(logs, c.LogCache.StoreLogs(logs))
}
