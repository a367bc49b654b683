package notify

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
)

// A restore's era reads back from the IDs made in it, and only from the
// form eraSuffix writes: two restores of one backup (same number, another
// tag) are two eras, and one by an earlier build (no tag) is its number.
func TestRestoreErasRoundTrip(t *testing.T) {
	for name, tc := range map[string]struct {
		r      muster.Restore
		suffix string
	}{
		"first restore":       {muster.Restore{Count: 1, Tag: "k3f9q"}, ".r1-k3f9q"},
		"same backup again":   {muster.Restore{Count: 1, Tag: "007xz"}, ".r1-007xz"},
		"restored again":      {muster.Restore{Count: 2, Tag: "zzzzz"}, ".r2-zzzzz"},
		"lowest tag":          {muster.Restore{Count: 3, Tag: "00000"}, ".r3-00000"},
		"by an earlier build": {muster.Restore{Count: 1}, ".r1"},
	} {
		t.Run(name, func(t *testing.T) {
			era := eraOf(tc.r)
			assert.Equal(t, tc.suffix, eraSuffix(era))
			assert.Equal(t, tc.r.Count, eraNumber(era))
			got, ok := parseEra(tc.suffix[1:])
			assert.True(t, ok)
			assert.Equal(t, era, got)
			id := attemptIDOf("A1000002", "P00000001", 2, era)
			act, person, n, restore, err := parseAttempt(id)
			if assert.NoError(t, err, id) {
				assert.Equal(t, []any{"A1000002", "P00000001", 2, era}, []any{string(act), string(person), n, restore})
			}
		})
	}
	assert.NotEqual(t, eraOf(muster.Restore{Count: 1, Tag: "k3f9q"}), eraOf(muster.Restore{Count: 1, Tag: "k3f9r"}))
	assert.Empty(t, eraSuffix(0), "no restore, no suffix")
	for _, bad := range []string{"r0", "r1-", "r1-K3F9Q", "r1-k3f9", "r1-k3f9qq", "r01-k3f9q", "r1-k3f9q-x", "1-k3f9q", "r-k3f9q", "r1-k3_9q", "r+1"} {
		_, ok := parseEra(bad)
		assert.False(t, ok, bad)
	}
}

// A backup restored, a backup of that restored again, and the first backup
// restored a second time, in real state files: a report of an era counts
// as older only in a state that descends from it (the sibling restore of
// the same backup is none of its), and an answer link opens only on a
// state whose key, or a key it retired for the activations the backup
// held, made it.
func TestRestoresDescendAndKeyTheirLinks(t *testing.T) {
	dir := t.TempDir()
	open := func(name string) *bolt.DB {
		db, err := bolt.Open(filepath.Join(dir, name), 0o600, nil)
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		return db
	}
	backupOf := func(db *bolt.DB, name string) *bolt.DB {
		var b bytes.Buffer
		require.NoError(t, db.View(func(tx *bolt.Tx) error { _, err := tx.WriteTo(&b); return err }))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o600))
		return open(name)
	}
	restore := func(db *bolt.DB, r muster.Restore) {
		require.NoError(t, db.Update(func(tx *bolt.Tx) error { return MarkRestored(tx, r) }))
	}
	var key AnswerKey = bytes.Repeat([]byte{7}, AnswerKeySize)
	orig := open("orig.db")
	require.NoError(t, orig.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bAnswerLinks)
		if err != nil {
			return err
		}
		if err := b.Put(answerKeyName, key); err != nil {
			return err
		}
		ab, err := tx.CreateBucketIfNotExists(bActivations)
		if err != nil {
			return err
		}
		return ab.SetSequence(7) // A000001…A000007
	}))
	oldLink, err := key.Token("A000007", "P00000001")
	require.NoError(t, err)
	laterLink, err := key.Token("A000008", "P00000001") // the old cluster's, after the backup
	require.NoError(t, err)

	x1 := backupOf(orig, "x1.db")
	restore(x1, muster.Restore{Count: 1, Tag: "aaaaa"})
	y1 := backupOf(orig, "y1.db")
	restore(y1, muster.Restore{Count: 1, Tag: "bbbbb"})
	keyIn := func(db *bolt.DB) (k AnswerKey) {
		_ = db.View(func(tx *bolt.Tx) error { k = answerKeyIn(tx); return nil })
		return k
	}
	x1Key, y1Key := keyIn(x1), keyIn(y1)
	require.NotNil(t, x1Key)
	assert.NotEqual(t, key, x1Key, "a restore makes its links with a key of its own")
	assert.NotEqual(t, x1Key, y1Key, "each restore of one backup has its own")
	x1Link, err := x1Key.Token("A1000008", "P00000001")
	require.NoError(t, err)
	x1Old, err := x1Key.Token("A000007", "P00000001") // resent by x1
	require.NoError(t, err)
	require.NoError(t, x1.Update(func(tx *bolt.Tx) error {
		_, err := tx.Bucket(bActivations).NextSequence() // A1000008, made by x1
		return err
	}))
	x2 := backupOf(x1, "x2.db")
	restore(x2, muster.Restore{Count: 2, Tag: "ccccc"})

	opens := func(db *bolt.DB, token string) bool {
		var err error
		_ = db.View(func(tx *bolt.Tx) error {
			_, _, err = checkAnswerLink(tx, answerKeyIn(tx), token)
			return nil
		})
		return err == nil
	}
	for name, tc := range map[string]struct {
		db   *bolt.DB
		want map[string]bool
	}{
		"x1": {x1, map[string]bool{"old": true, "later": false, "x1": true, "x1 old": true}},
		"y1": {y1, map[string]bool{"old": true, "later": false, "x1": false, "x1 old": false}},
		"x2": {x2, map[string]bool{"old": true, "later": false, "x1": true, "x1 old": true}},
	} {
		links := map[string]string{"old": oldLink, "later": laterLink, "x1": x1Link, "x1 old": x1Old}
		for link, want := range tc.want {
			assert.Equal(t, want, opens(tc.db, links[link]), "%s opens the %s link", name, link)
		}
	}

	eraX1, eraY1 := eraOf(muster.Restore{Count: 1, Tag: "aaaaa"}), eraOf(muster.Restore{Count: 1, Tag: "bbbbb"})
	require.NoError(t, x2.View(func(tx *bolt.Tx) error {
		assert.Equal(t, eraOf(muster.Restore{Count: 2, Tag: "ccccc"}), restoreEra(tx))
		assert.True(t, earlierEra(tx, 0, 2), "before any restore")
		assert.True(t, earlierEra(tx, eraX1, 2), "the restore x2's backup came from")
		assert.False(t, earlierEra(tx, eraY1, 2), "another restore of the first backup")
		assert.False(t, earlierEra(tx, restoreEra(tx), 2), "its own")
		return nil
	}))
	require.NoError(t, y1.View(func(tx *bolt.Tx) error {
		assert.True(t, earlierEra(tx, 0, 1))
		assert.False(t, earlierEra(tx, eraX1, 1), "its sibling")
		return nil
	}))
}
