package cluster

import (
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// repeatEvery is how often raft's same error about one peer is logged
// (quietLogger).
const repeatEvery = 30 * time.Second

// quietLogger is raft's logger with its repeated errors about one peer
// (a member down or not yet started: "failed to heartbeat to", "failed to
// appendEntries to", several a second with raft's backoff) logged at most
// once per repeatEvery, saying how many were left out since. Errors that
// name no peer, and everything below error, are logged as they come.
type quietLogger struct {
	hclog.Logger
	r *repeats
}

// repeats counts, by message and peer, the errors quietLogger left out.
type repeats struct {
	mu    sync.Mutex
	every time.Duration
	now   func() time.Time
	seen  map[string]*repeat
}

type repeat struct {
	last time.Time // when it was last logged
	left int       // left out since
}

func newRepeats(every time.Duration, now func() time.Time) *repeats {
	return &repeats{every: every, now: now, seen: map[string]*repeat{}}
}

// pass reports whether msg about peer is to be logged now, and how many
// like it were left out before it.
func (r *repeats) pass(msg, peer string) (left int, ok bool) {
	key := msg + "\x00" + peer
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.seen[key]
	if p == nil {
		r.seen[key] = &repeat{last: now}
		return 0, true
	}
	if now.Sub(p.last) < r.every {
		p.left++
		return 0, false
	}
	left, p.last, p.left = p.left, now, 0
	return left, true
}

// peerOf is the value of the "peer" argument of a log call, "" if none.
func peerOf(args []any) string {
	for i := 0; i+1 < len(args); i += 2 {
		if k, _ := args[i].(string); k == "peer" {
			return fmt.Sprint(args[i+1])
		}
	}
	return ""
}

func (q quietLogger) Error(msg string, args ...any) {
	q.Log(hclog.Error, msg, args...)
}

func (q quietLogger) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Error {
		if peer := peerOf(args); peer != "" {
			left, ok := q.r.pass(msg, peer)
			if !ok {
				return
			}
			if left > 0 {
				args = append(args, "same_error_left_out", left, "within", q.r.every.String())
			}
		}
	}
	q.Logger.Log(level, msg, args...)
}

func (q quietLogger) Named(name string) hclog.Logger {
	return quietLogger{q.Logger.Named(name), q.r}
}

func (q quietLogger) ResetNamed(name string) hclog.Logger {
	return quietLogger{q.Logger.ResetNamed(name), q.r}
}

func (q quietLogger) With(args ...any) hclog.Logger {
	return quietLogger{q.Logger.With(args...), q.r}
}
