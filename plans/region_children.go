package plans

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// RegionChildren lists the codes of the regions whose parent is code, in
// code order, reading only tx (deterministic inside an ApplyFunc as in a
// read). A region without children, or one that does not exist, has none.
func RegionChildren(tx *bolt.Tx, code RegionCode) ([]RegionCode, error) {
	cb := tx.Bucket(bRegionChildren)
	if cb == nil {
		return nil, nil
	}
	var out []RegionCode
	prefix := []byte(string(code) + "/")
	cur := cb.Cursor()
	for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
		out = append(out, RegionCode(k[len(prefix):]))
	}
	return out, nil
}
