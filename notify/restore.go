package notify

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// A cluster started over a restored backup goes on with the call-ups that
// were open in the backup: their people the backup shows as not yet sent
// to (pending, or claimed with no outcome recorded) are sent to, although
// the cluster the backup was taken of most likely went on sending after
// it. MarkRestored records that on each such call-up, so that its status
// says it; and the attempts made after a restore carry the restore's era
// in their IDs (attemptIDOf: its number and tag, ".r1-k3f9q"), so that the
// provider's records tell them from the old cluster's attempts of the same
// number, and from those of another cluster restored from the same backup.
// The activations made after a restore are numbered apart
// (restoredActivations), so that their IDs, in the attempt IDs and answer
// links, are not those of the activations the old cluster made after the
// backup; and the answer links made after it are made with a key of the
// restore's own (restoreAnswerKey), so that a link one restored cluster
// sent opens nothing on another restored from the same backup, whose
// activations are numbered alike.

var (
	// restoredKey, in an activation's data bucket, is its RestoredCallUp
	// (JSON), written once by MarkRestored.
	restoredKey = []byte("restored")
	// bRestores holds restoresKey: the era of the state's last restore
	// (restoreEra; 8 bytes, big endian), which claims stamp on their
	// attempts; and erasBeforeKey: the eras of the restores before it, in
	// order (8 bytes each), the states this one descends from. Absent in
	// a state never restored.
	bRestores     = []byte("restores")
	restoresKey   = []byte("count")
	erasBeforeKey = []byte("before")
)

// RestoredCallUp says that a call-up was open in a backup that was
// restored: the new cluster resumed it, sending to the people the backup
// shows as not yet sent to, who may have had it from the old cluster.
type RestoredCallUp struct {
	// Restore numbers the restore (muster.Restore.Count); attempts made
	// after it carry the number and the restore's tag (".r1-k3f9q").
	Restore int `json:"restore"`
	// BackupIndex is the raft index the backup reflected in the old
	// cluster's log; BackupTime when its last command was applied (zero
	// when the backup's state does not say): the backup was taken then
	// or shortly after.
	BackupIndex uint64    `json:"backup_index"`
	BackupTime  time.Time `json:"backup_time,omitzero"`
	RestoredAt  time.Time `json:"restored_at"`
	// NotSent counts the recipients the backup shows as not yet sent to:
	// pending (never sent, or waiting for a retry) or in sending (claimed
	// with no outcome recorded). They are sent to again, and may have had
	// the call-up from the old cluster after the backup was taken.
	NotSent int `json:"not_sent"`
	// Sending counts those of NotSent that were in sending.
	Sending int `json:"sending,omitempty"`
}

// MarkRestored records on every call-up open in a restored backup that it
// was restored (RestoredCallUp, with the recipients not yet sent to
// counted), the restore's era for the claims after it (restoreEra), and
// the answer-link key of the restore (restoreAnswerKey). It is the notify
// part of a restore (cluster.Node.OnRestore), run before raft starts.
func MarkRestored(tx *bolt.Tx, r muster.Restore) error {
	b, err := tx.CreateBucketIfNotExists(bRestores)
	if err != nil {
		return err
	}
	era := eraOf(r)
	if before := restoreEra(tx); before > 0 {
		eras := append(bytes.Clone(b.Get(erasBeforeKey)), binary.BigEndian.AppendUint64(nil, uint64(before))...)
		if err := b.Put(erasBeforeKey, eras); err != nil {
			return err
		}
	}
	if err := b.Put(restoresKey, binary.BigEndian.AppendUint64(nil, uint64(era))); err != nil {
		return err
	}
	if err := restoreAnswerKey(tx, era); err != nil {
		return err
	}
	if err := numberApart(tx, r.Count); err != nil {
		return err
	}
	for _, id := range openActivations(tx) {
		a, err := getActivation(tx, id)
		if err != nil {
			return err
		}
		ad := activationData(tx, id)
		if a.Status != StatusActive || ad == nil {
			continue // waiting for approval: nothing was sent
		}
		mark := RestoredCallUp{Restore: r.Count, BackupIndex: r.BackupIndex, BackupTime: r.BackupTime, RestoredAt: r.RestoredAt}
		if rb := ad.Bucket(bRecipients); rb != nil {
			err := rb.ForEach(func(_, v []byte) error {
				if len(v) < 2 {
					return nil
				}
				switch stateOf(v[1]) {
				case StateSending:
					mark.Sending++
					mark.NotSent++
				case StatePending:
					mark.NotSent++
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		data, err := json.Marshal(mark)
		if err != nil {
			return err
		}
		if err := ad.Put(restoredKey, data); err != nil {
			return fmt.Errorf("mark %s restored: %w", id, err)
		}
	}
	return nil
}

// restoredActivations sets the numbers of the activations apart by
// restore: those made after restore n are numbered from n times it on,
// the old numbering going on in the digits below (A000007, then A1000008
// after the first restore). The cluster a backup was taken of may have
// made activations after it, whose IDs reached the providers (attempt IDs
// in their callbacks) and people (answer links, which the restored
// cluster takes: the key is in the backup): the restored cluster's own
// must not take their numbers, or an old link or callback would land on
// a call-up of its own. It would take the old cluster a million
// activations after the backup to reach them.
const restoredActivations = 1_000_000

// numberApart moves the activations' sequence to restore's numbers
// (restoredActivations), in the restore's transaction: the state every
// node starts from, so they all number alike.
func numberApart(tx *bolt.Tx, restore int) error {
	ab, err := tx.CreateBucketIfNotExists(bActivations)
	if err != nil {
		return err
	}
	seq := ab.Sequence()
	if next := uint64(restore)*restoredActivations + seq%restoredActivations; next > seq {
		return ab.SetSequence(next)
	}
	return nil
}

// A restore's era names it in the attempt IDs made after it: its number
// (muster.Restore.Count) and its tag, as one number, the restore's number
// times muster.RestoreTags plus the tag read in base 36. Two restores of
// one backup have the same number but (in all likelihood) not the same
// tag, so their attempts are told apart. 0 is the era before any
// restore; a restore without a tag (by an earlier build) has its number
// as its era.

// eraOf is the era restore r starts.
func eraOf(r muster.Restore) int {
	tag, err := strconv.ParseUint(r.Tag, 36, 64)
	if err != nil || len(r.Tag) != 5 || strings.ToLower(r.Tag) != r.Tag || tag >= muster.RestoreTags {
		return r.Count
	}
	return r.Count*muster.RestoreTags + int(tag)
}

// eraNumber is the number of the restore that started era.
func eraNumber(era int) int {
	if era < muster.RestoreTags {
		return era
	}
	return era / muster.RestoreTags
}

// eraSuffix is what an ID made in era carries after it: nothing before a
// restore, ".r1-k3f9q" after one (".r1" after one without a tag).
func eraSuffix(era int) string {
	switch {
	case era <= 0:
		return ""
	case era < muster.RestoreTags:
		return ".r" + strconv.Itoa(era)
	}
	tag := strconv.FormatUint(uint64(era%muster.RestoreTags), 36)
	return ".r" + strconv.Itoa(era/muster.RestoreTags) + "-" + strings.Repeat("0", 5-len(tag)) + tag
}

// parseEra reads the era of an ID's last part as eraSuffix writes it
// (without the dot: "r1-k3f9q", or "r1"); only that exact form is one.
func parseEra(s string) (int, bool) {
	num, tag, tagged := strings.Cut(strings.TrimPrefix(s, "r"), "-")
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 || n >= math.MaxInt32 {
		return 0, false
	}
	era := eraOf(muster.Restore{Count: n, Tag: tag})
	if tagged && era == n {
		return 0, false
	}
	return era, "."+s == eraSuffix(era)
}

// restoreEra is the era of the state's last restore (0: never restored),
// which the attempts claimed in it carry.
func restoreEra(tx *bolt.Tx) int {
	b := tx.Bucket(bRestores)
	if b == nil {
		return 0
	}
	v := b.Get(restoresKey)
	if len(v) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(v))
}

// knownEra reports whether an ID of era was made by this state's cluster
// or one it descends from: the state's own era, or an earlier one
// (earlierEra).
func knownEra(tx *bolt.Tx, era int) bool {
	own := restoreEra(tx)
	return era == own || earlierEra(tx, era, eraNumber(own)+1)
}

// earlierEra reports whether era is one the state descends from, started
// before restore number restore: the era before any restore, or that of a
// restore of the backups it came from. Another cluster restored from the
// same backup (a sibling) is of none of them.
func earlierEra(tx *bolt.Tx, era, restore int) bool {
	if era == 0 {
		return restore > 0
	}
	if eraNumber(era) >= restore {
		return false
	}
	b := tx.Bucket(bRestores)
	if b == nil {
		return false
	}
	v := b.Get(erasBeforeKey)
	for ; len(v) >= 8; v = v[8:] {
		if int(binary.BigEndian.Uint64(v)) == era {
			return true
		}
	}
	return false
}

// restoredCallUp reads an activation's restore mark; nil when it was not
// open in a restored backup.
func restoredCallUp(ad *bolt.Bucket) *RestoredCallUp {
	if ad == nil {
		return nil
	}
	v := ad.Get(restoredKey)
	if v == nil {
		return nil
	}
	var m RestoredCallUp
	if json.Unmarshal(v, &m) != nil {
		return nil
	}
	return &m
}

// withRestored sets a.Restored from its data bucket (read paths only).
func withRestored(tx *bolt.Tx, a *Activation) {
	a.Restored = restoredCallUp(activationData(tx, a.ID))
}

// rulesRestoredAttempts is the behaviour (muster.Rules) from which a claim
// in a state restored from a backup records the restore's era on the
// attempt (Attempt.Restored, and the claim's result: its ID carries it),
// and a delivery report matches a recipient's current attempt only when
// it names the attempt's era too: the cluster the backup was taken of
// may have made an attempt of the same number after the backup, and so
// may another cluster restored from the same backup. Such a report of an
// earlier era the state descends from (earlierEra), for a call-up open in
// the backup, proves the person was reached when it says delivered
// (whatever its attempt number); a failure it reports changes nothing. A
// report of any other era (another restore's) is unknown.
const rulesRestoredAttempts = 13

// attemptIDOf names attempt n to person of act made in the state's
// restore era (restoreEra): AttemptID, with the era after it once the
// state was restored (eraSuffix: "A000002.P00000386.1.r1-k3f9q").
func attemptIDOf(act plans.ActivationID, person plans.PersonID, n, era int) string {
	return AttemptID(act, person, n) + eraSuffix(era)
}

// parseAttempt splits an attempt ID of attemptIDOf: the era is 0 for an
// ID without one.
func parseAttempt(s string) (act plans.ActivationID, person plans.PersonID, n, restore int, err error) {
	parts := strings.Split(s, ".")
	if len(parts) == 4 {
		r, ok := parseEra(parts[3])
		if !ok {
			return "", "", 0, 0, invalidf("attempt %q: want ACTIVATION.PERSON.N or ACTIVATION.PERSON.N.rRESTORE-TAG", s)
		}
		restore, parts = r, parts[:3]
	}
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return "", "", 0, 0, invalidf("attempt %q: want ACTIVATION.PERSON.N", s)
	}
	n, err = strconv.Atoi(parts[2])
	if err != nil || n <= 0 {
		return "", "", 0, 0, invalidf("attempt %q: N must be a positive number", s)
	}
	return plans.ActivationID(parts[0]), plans.PersonID(parts[1]), n, restore, nil
}

// restoredWhen says when a backup was taken, for a log: its time, or that
// its state does not say.
func restoredWhen(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}
