// Package muster holds the types every part of muster shares: the error type
// with its codes, the replicated command envelope, read consistency levels and
// the clock. Domain packages (plans, notify, drills, access) build on it;
// cluster replicates its commands; api maps its errors to HTTP.
package muster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Error codes. api maps each to one HTTP status; nothing else should.
const (
	EInvalid      = "invalid"              // bad input: 400
	EUnauthorized = "unauthorized"         // missing or wrong credentials: 401
	EForbidden    = "forbidden"            // authenticated but not allowed: 403
	ENotFound     = "not_found"            // 404
	EConflict     = "conflict"             // state forbids it (duplicate, version clash): 409
	EPrecondition = "precondition_failed"  // the data changed since the version the request names (If-Match): 412
	ETooLarge     = "too_large"            // request body over its limit: 413
	ENotLeader    = "not_leader"           // this node cannot serve it and could not forward: 503
	EUnavailable  = "unavailable"          // cluster has no leader or is shutting down: 503
	ETimeout      = "timeout"              // deadline passed waiting for the cluster: 503
	EStorage      = "insufficient_storage" // a node's disk has no room for the write: 507
	EInternal     = "internal"             // a bug or an I/O failure: 500
)

// Error is muster's one error type. Code is one of the E* constants; Message is
// written for the person who has to act on it; Details optionally carries
// structured context such as the list of bad roster rows.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details,omitempty"`
}

func (e *Error) Error() string { return e.Message }

// OrList writes values for a message as "a, b or c".
func OrList[S ~string](values []S) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = string(v)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// Count is n with the noun that agrees with it, for messages: "1 problem",
// "3 problems".
func Count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal for
// any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// IsCode reports whether err carries the given code.
func IsCode(err error, code string) bool { return ErrorCode(err) == code }

// Clock tells the time. Everything outside the FSM that needs the time takes a
// Clock so tests can move it; code inside the FSM reads Command.Time instead.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

type leaderOnlyKey struct{}

// LeaderOnly marks ctx so that a command applied with it is proposed only
// by a node that leads at that moment: elsewhere the apply fails with
// ENotLeader instead of being forwarded to the leader, or retried there
// once leadership moves. A leader-only service's command that must not
// outlive its term (a dispatcher's claim: the next leader cannot know of a
// claim that reaches it after it has started) is applied so.
func LeaderOnly(ctx context.Context) context.Context {
	return context.WithValue(ctx, leaderOnlyKey{}, true)
}

// IsLeaderOnly reports whether ctx was marked by LeaderOnly.
func IsLeaderOnly(ctx context.Context) bool {
	v, _ := ctx.Value(leaderOnlyKey{}).(bool)
	return v
}

type idempotentKey struct{}

// Idempotent marks ctx so that a command applied with it is proposed
// again, on the next leader, when its outcome on the leader it went to is
// unknown (the leader lost its leadership or closed while it held the
// command, or was replaced, killed or cut off with a forwarded command in
// hand) instead of failing as "it may or may not have been applied". Only
// a command whose second application changes nothing its first did may be
// marked: a batch of provider webhooks, each remembered by the provider's
// ID once applied. Such a batch, answered with a failure, is lost unless
// the provider tries again, and Twilio by default does not on an answer.
func Idempotent(ctx context.Context) context.Context {
	return context.WithValue(ctx, idempotentKey{}, true)
}

// IsIdempotent reports whether ctx was marked by Idempotent.
func IsIdempotent(ctx context.Context) bool {
	v, _ := ctx.Value(idempotentKey{}).(bool)
	return v
}

// ErrClosing is the cause (context.Cause) with which a node that closes
// gracefully, while it still leads, ends its leader services' context. A
// service may then finish what it has under way, within a few seconds:
// the node still leads, and its commands still commit, until every
// service has returned. Any other end (leadership lost) means stop now.
var ErrClosing = errors.New("the node is closing")

// Room is the disk a write is expected to take on every node that applies
// it: its state, its raft log entries and the snapshots that copy them.
type Room struct {
	What  string // the write, for the message: "this import of 1,000 rows"
	Bytes int64  // expected growth of each node's data directory
	// Reserve asks that each node keep room to snapshot its state and its
	// disk reserve free as well. An import does; a call-up does not: the
	// reserve is kept for call-ups, their replies and their results.
	Reserve bool
}

// RoomChecker is implemented by appliers that can see every node's disk
// (cluster.Node). A node whose disk fills while it applies a committed
// entry cannot go on, and every node applies every entry: a write that
// would fill one node's disk has to be refused before it is proposed.
type RoomChecker interface {
	CheckRoom(ctx context.Context, r Room) error
}

// CheckRoom asks a, when it can tell, whether every node has room for r:
// an EStorage error names the nodes that do not. Appliers that cannot
// tell (a test's fake) pass every write.
func CheckRoom(ctx context.Context, a any, r Room) error {
	if rc, ok := a.(RoomChecker); ok {
		return rc.CheckRoom(ctx, r)
	}
	return nil
}

// CheckPlainText refuses text a person typed for others to read (a reason,
// a message) that carries control characters or is not valid UTF-8: a
// terminal escape in a reason would reach every operator's screen through
// `muster mode` and the logs, and a line break would break tables. A line
// break (and a tab, and the \r of a \r\n) is allowed where lines says so
// (a message's or a description's own text). Invisible formatting
// characters are refused too (a zero-width space, a right-to-left
// override, a byte order mark: Unicode's Cf but the zero-width joiners
// emoji are made with): they hide or reorder what people read, and a
// zero-width space inside 演练 hid it from the drill-word check.
func CheckPlainText(field, s string, lines bool) error {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			return Errorf(EInvalid, "%s: not valid UTF-8 at byte %d", field, i)
		case lines && (r == '\n' || r == '\t' || r == '\r' && strings.HasPrefix(s[i+1:], "\n")):
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			return Errorf(EInvalid, "%s: control character %U at byte %d: write plain text on one line", field, r, i)
		case unicode.Is(unicode.Cf, r) && r != '\u200C' && r != '\u200D':
			return Errorf(EInvalid, "%s: invisible formatting character %U at byte %d: it hides or reorders what people read; remove it", field, r, i)
		}
	}
	return nil
}
