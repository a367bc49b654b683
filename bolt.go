package muster

import (
	"bytes"
	"iter"

	bolt "go.etcd.io/bbolt"
)

// Backward yields b's keys and values from the last to the first.
//
// Use it instead of Cursor.Last and Cursor.Prev. A key deleted in a
// transaction leaves its leaf node in place until the commit, and the FSM
// applies many raft entries in one transaction, so a bucket read there can
// hold empty leaves. bbolt's Last loops forever when every leaf is empty,
// and Prev returns nil at the first empty leaf as if the bucket began there.
// Backward steps over empty leaves: a nil from Prev ends the walk only when
// no key sorts before the last one yielded. fn may delete the keys it is
// given.
func Backward(b *bolt.Bucket) iter.Seq2[[]byte, []byte] {
	return func(yield func(k, v []byte) bool) {
		if first, _ := b.Cursor().First(); first == nil {
			return // empty: Last would not return
		}
		c := b.Cursor()
		k, v := c.Last() // returns: some leaf holds a key
		var last []byte
		for {
			if k == nil {
				first, _ := b.Cursor().First()
				if first == nil || last == nil || bytes.Compare(first, last) >= 0 {
					return
				}
				k, v = c.Prev() // an empty leaf, not the beginning
				continue
			}
			last = append(last[:0], k...)
			if !yield(k, v) {
				return
			}
			k, v = c.Prev()
		}
	}
}

// LastKey is the last key in b, nil when b is empty (see Backward).
func LastKey(b *bolt.Bucket) []byte {
	for k := range Backward(b) {
		return k
	}
	return nil
}
