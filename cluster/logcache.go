package cluster

import "github.com/hashicorp/raft"

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
}

func newBoundedLogCache(capacity int, store raft.LogStore) (*boundedLogCache, error) {
	c, err := raft.NewLogCache(capacity, store)
	if err != nil {
		return nil, err
	}
	return &boundedLogCache{LogCache: c, store: store}, nil
}

// StoreLog stores one entry, cached if it is small.
func (c *boundedLogCache) StoreLog(l *raft.Log) error { return c.StoreLogs([]*raft.Log{l}) }

// StoreLogs stores a batch, cached unless it holds an entry larger than
// maxCachedEntry.
func (c *boundedLogCache) StoreLogs(logs []*raft.Log) error {
	for _, l := range logs {
		if len(l.Data) > maxCachedEntry {
			return c.store.StoreLogs(logs)
		}
	}
	return c.LogCache.StoreLogs(logs)
}
