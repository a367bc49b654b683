package notify

import (
	"encoding/binary"
	"errors"
	"time"
)

// attemptVersion is the first byte of a stored attempt record. Version 1
// records (without Reached) are still read. A record with failed phones
// (rulesPhoneFallback) is version attemptPhonesVersion, every other one
// version 2 as before, so a record is written byte for byte as it was
// unless a call-up went on to another number.
// A record of an attempt claimed after a restore (Restored set) is version
// attemptRestoredVersion: version 3's layout, its count of failed phones
// possibly 0, then Restored as a varint.
const (
	attemptVersion         byte = 2
	attemptPhonesVersion   byte = 3
	attemptRestoredVersion byte = 4
)

var errBadAttempt = errors.New("attempt record is truncated or of an unknown version")

// appendAttempt encodes an attempt record: the version, then N, Resent,
// Code and Replies as varints, the four times as varint unix nanoseconds
// (0 for none), and SID, Error, Reason and LastBody as length-prefixed
// strings; in version 3, then the count of FailedPhones and each as its
// phone, length-prefixed, and its code and attempt as varints. It is read
// and rewritten for every report, so it is compact and cheap to decode.
func appendAttempt(b []byte, a *Attempt) []byte {
	switch {
	case a.Restored > 0:
		b = append(b, attemptRestoredVersion)
	case len(a.FailedPhones) > 0:
		b = append(b, attemptPhonesVersion)
	default:
		b = append(b, attemptVersion)
	}
	for _, v := range [...]int64{int64(a.N), int64(a.Resent), int64(a.Code), int64(a.Replies), nanos(a.NextTry), nanos(a.Updated), nanos(a.Answered), nanos(a.Reached)} {
		b = binary.AppendVarint(b, v)
	}
	for _, s := range [...]string{a.SID, a.Error, a.Reason, a.LastBody} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	if len(a.FailedPhones) > 0 || a.Restored > 0 {
		b = binary.AppendUvarint(b, uint64(len(a.FailedPhones)))
		for _, f := range a.FailedPhones {
			b = appendField(b, f.Phone)
			b = binary.AppendVarint(b, int64(f.Code))
			b = binary.AppendVarint(b, int64(f.Attempt))
		}
	}
	if a.Restored > 0 {
		b = binary.AppendVarint(b, int64(a.Restored))
	}
	return b
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func decodeAttempt(b []byte, a *Attempt) error {
	*a = Attempt{}
	if len(b) < 1 || b[0] < 1 || b[0] > attemptRestoredVersion {
		return errBadAttempt
	}
	fields := 8
	if b[0] == 1 {
		fields = 7
	}
	phones, restored := b[0] >= attemptPhonesVersion, b[0] == attemptRestoredVersion
	b = b[1:]
	var v [8]int64
	for i := range v[:fields] {
		x, k := binary.Varint(b)
		if k <= 0 {
			return errBadAttempt
		}
		v[i], b = x, b[k:]
	}
	var s [4]string
	for i := range s {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return errBadAttempt
		}
		s[i], b = string(b[k:k+int(l)]), b[k+int(l):]
	}
	a.N, a.Resent, a.Code, a.Replies = int(v[0]), int(v[1]), int(v[2]), int(v[3])
	a.NextTry, a.Updated, a.Answered, a.Reached = fromNanos(v[4]), fromNanos(v[5]), fromNanos(v[6]), fromNanos(v[7])
	a.SID, a.Error, a.Reason, a.LastBody = s[0], s[1], s[2], s[3]
	if !phones {
		return nil
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || (n == 0 && !restored) || n > uint64(len(b)) {
		return errBadAttempt
	}
	b = b[k:]
	if n > 0 {
		a.FailedPhones = make([]PhoneFailure, n)
	}
	for i := range a.FailedPhones {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return errBadAttempt
		}
		a.FailedPhones[i].Phone, b = string(b[k:k+int(l)]), b[k+int(l):]
		for _, v := range [...]*int{&a.FailedPhones[i].Code, &a.FailedPhones[i].Attempt} {
			x, k := binary.Varint(b)
			if k <= 0 {
				return errBadAttempt
			}
			*v, b = int(x), b[k:]
		}
	}
	if restored {
		x, k := binary.Varint(b)
		if k <= 0 || x <= 0 {
			return errBadAttempt
		}
		a.Restored = int(x)
	}
	return nil
}
