package api

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"muster"
	"muster/plans"
)

// sharedReads shares reads of one kind about activations (their status,
// their board) among the requests that may take the same read. A read
// serves a request when it started no earlier than the request allows
// (notBefore): the request's arrival for an ordinary read, so what it
// returns holds every write acknowledged before the request came; for an
// event stream's poll, the last read it showed or the poll's window. A
// hundred officials following one call-up then cost the node a few reads
// of every grid's counters each time, not a hundred.
type sharedReads[V any] struct {
	read func(ctx context.Context, level muster.Consistency, id plans.ActivationID) (V, error)
	// waiting counts the requests and streams waiting for a read now: how
	// many share one shows on /metrics when the consoles crowd in.
	waiting prometheus.Gauge
	mu      sync.Mutex
	last    map[readKey]*sharedRead[V]
}

type readKey struct {
	id    plans.ActivationID
	level muster.Consistency
}

// sharedRead is one read, shared by everyone who waits for it.
type sharedRead[V any] struct {
	start time.Time
	end   time.Time // when it was done: a read of this node's state started later sees at least as much
	done  chan struct{}
	v     V
	err   error
}

// forgetReads is how old a read is before it is dropped, with its value,
// once another read starts.
const forgetReads = 10 * time.Second

func newSharedReads[V any](read func(context.Context, muster.Consistency, plans.ActivationID) (V, error), waiting prometheus.Gauge) *sharedReads[V] {
	return &sharedReads[V]{read: read, waiting: waiting, last: map[readKey]*sharedRead[V]{}}
}

// get returns a read of activation id at level that started at notBefore
// or later: the latest one, under way or done, if it did; else a new one.
// A read under way that started too early is waited out first: the next
// one then serves everyone who waited.
func (s *sharedReads[V]) get(ctx context.Context, level muster.Consistency, id plans.ActivationID, notBefore time.Time) (*sharedRead[V], error) {
	k := readKey{id, level}
	s.waiting.Inc()
	defer s.waiting.Dec()
	for {
		s.mu.Lock()
		r := s.last[k]
		if r == nil || (r.finished() && r.start.Before(notBefore)) {
			now := time.Now()
			r = &sharedRead[V]{start: now, done: make(chan struct{})}
			s.last[k] = r
			for o, old := range s.last {
				if now.Sub(old.start) > forgetReads {
					delete(s.last, o)
				}
			}
			// The read serves everyone who waits for it: it must not fail
			// for the others when the client that started it goes away.
			go r.fill(context.WithoutCancel(ctx), s.read, level, id)
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-r.done:
		}
		if !r.start.Before(notBefore) {
			return r, r.err
		}
	}
}

func (r *sharedRead[V]) finished() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// fill makes the read. It runs on its own goroutine, out of reach of the
// handlers' recovery: a panic in the read becomes its error (with the
// stack, for the log), as it would have in a handler, instead of ending
// the node.
func (r *sharedRead[V]) fill(ctx context.Context, read func(context.Context, muster.Consistency, plans.ActivationID) (V, error), level muster.Consistency, id plans.ActivationID) {
	defer func() {
		if v := recover(); v != nil {
			r.err = fmt.Errorf("panic reading activation %s: %v\n%s", id, v, debug.Stack())
		}
		r.end = time.Now()
		close(r.done)
	}()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r.v, r.err = read(ctx, level, id)
}
