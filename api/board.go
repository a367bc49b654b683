package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"muster"
	"muster/notify"
	"muster/plans"
)

// Timing of the activation event stream.
const (
	// eventPoll is how often a stream reads the node's state for changes.
	eventPoll = 500 * time.Millisecond
	// eventHeartbeat is how long a stream stays silent before it sends a
	// comment, so proxies and clients see it is alive.
	eventHeartbeat = 15 * time.Second
)

func (s *Server) getBoard(c *gin.Context) {
	b, err := s.deps.Activations.Board(c.Request.Context(), consistency(c), plans.ActivationID(c.Param("id")))
	if err != nil {
		s.writeError(c, err)
		return
	}
	// Stamped when served, like the Date header (Config has no clock).
	c.JSON(http.StatusOK, b.At(time.Now()))
}

// activationEvents streams an activation's status as Server-Sent Events: a
// `status` event with the ActivationStatus at once, read at the request's
// consistency, then a new one whenever the status read from this node's
// state changes (at most every eventPoll), and a comment after
// eventHeartbeat of silence. It ends when the client goes away, or after
// the event that shows the activation stood down with nothing in flight.
// Errors before the stream starts are answered in the usual error shape;
// after, as an `error` event that ends the stream.
func (s *Server) activationEvents(c *gin.Context) {
	ctx := c.Request.Context()
	id := plans.ActivationID(c.Param("id"))
	st, err := s.deps.Activations.Activation(ctx, consistency(c), id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)

	seen := time.Now() // later reads must not be older than this one
	var last []byte
	send := func(data []byte) (bool, error) {
		if bytes.Equal(data, last) {
			return false, nil
		}
		last = data
		if _, err := fmt.Fprintf(c.Writer, "event: status\ndata: %s\n\n", data); err != nil {
			return false, err
		}
		c.Writer.Flush()
		return true, nil
	}
	data, err := json.Marshal(st)
	if err != nil {
		s.streamError(c, err)
		return
	}
	if _, err := send(data); err != nil {
		return
	}
	poll := time.NewTicker(eventPoll)
	defer poll.Stop()
	quiet := time.NewTimer(eventHeartbeat)
	defer quiet.Stop()
	for {
		if st.Status == notify.StatusStoodDown && st.Settled() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-quiet.C:
			if _, err := fmt.Fprint(c.Writer, ": heartbeat\n\n"); err != nil {
				return
			}
			c.Writer.Flush()
			quiet.Reset(eventHeartbeat)
		case <-poll.C:
			r, err := s.statuses.get(ctx, id, seen)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				s.streamError(c, err)
				return
			}
			st, seen = r.st, r.start
			sent, err := send(r.data)
			if err != nil {
				return
			}
			if sent {
				quiet.Reset(eventHeartbeat)
			}
		}
	}
}

// statusReads shares the reads of an activation's status among the event
// streams of it on this node. Each stream looks every eventPoll; a read
// started less than statusShare ago, or still under way, serves every
// stream that looks meanwhile, JSON included. A hundred officials watching
// one call-up then cost the node about what one does, instead of a hundred
// reads of every grid's counters each poll. A stream is never given a read
// that started before the one it last showed, so its counts never go back.
type statusReads struct {
	read func(ctx context.Context, level muster.Consistency, id plans.ActivationID) (notify.ActivationStatus, error)
	mu   sync.Mutex
	last map[plans.ActivationID]*statusRead
}

// statusShare is how long a read of an activation's status serves the
// streams that look after it started.
const statusShare = eventPoll / 2

// statusRead is one shared read of an activation's status.
type statusRead struct {
	start time.Time
	done  chan struct{}
	st    notify.ActivationStatus
	data  []byte // st as JSON
	err   error
}

func newStatusReads(read func(context.Context, muster.Consistency, plans.ActivationID) (notify.ActivationStatus, error)) *statusReads {
	return &statusReads{read: read, last: map[plans.ActivationID]*statusRead{}}
}

// get returns a read of activation id's status (at Stale: this node's
// state) that started no earlier than notBefore: the latest one if it is
// recent enough or still under way, else a new one.
func (s *statusReads) get(ctx context.Context, id plans.ActivationID, notBefore time.Time) (*statusRead, error) {
	now := time.Now()
	s.mu.Lock()
	r := s.last[id]
	if r == nil || r.start.Before(notBefore) || (now.Sub(r.start) >= statusShare && r.finished()) {
		r = &statusRead{start: now, done: make(chan struct{})}
		s.last[id] = r
		for k, o := range s.last { // forget the reads of activations no longer watched
			if now.Sub(o.start) > 20*eventPoll {
				delete(s.last, k)
			}
		}
		// The read is the streams', not the asker's: it must not fail for
		// the others when the asker's client goes away.
		go r.fill(context.WithoutCancel(ctx), s.read, id)
	}
	s.mu.Unlock()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-r.done:
		return r, r.err
	}
}

func (r *statusRead) finished() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

func (r *statusRead) fill(ctx context.Context, read func(context.Context, muster.Consistency, plans.ActivationID) (notify.ActivationStatus, error), id plans.ActivationID) {
	defer close(r.done)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if r.st, r.err = read(ctx, muster.Stale, id); r.err == nil {
		r.data, r.err = json.Marshal(r.st)
	}
}

// streamError ends an event stream with an `error` event carrying the one
// error shape; internal details go to the log only, as writeError does.
func (s *Server) streamError(c *gin.Context, err error) {
	e := muster.Error{Code: muster.ErrorCode(err), Message: err.Error()}
	if statusOf(e.Code) == http.StatusInternalServerError {
		s.logger.Error("event stream failed", "request_id", requestID(c), "path", c.Request.URL.Path, "err", err.Error())
		e = muster.Error{Code: muster.EInternal, Message: "internal error; the server log has the details under request id " + requestID(c)}
	}
	data, _ := json.Marshal(errorBody{Error: e})
	fmt.Fprintf(c.Writer, "event: error\ndata: %s\n\n", data)
	c.Writer.Flush()
}
