package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
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
	// statusShare is how long a read of an activation's status serves the
	// streams of it that look after it started.
	statusShare = eventPoll / 2
	// eventHeartbeat is how long a stream stays silent before it sends a
	// comment, so proxies and clients see it is alive.
	eventHeartbeat = 15 * time.Second
)

// getBoard serves an activation's board. Boards of one activation asked
// for at once share a read started after each of them arrived, and its
// JSON: every console following a call-up reads the board on each status
// event, all at about the same moment. A shared read is never older than
// the request, so the board a console reads on an event is at least as new
// as the event, whichever node serves it. as_of is when it was read.
func (s *Server) getBoard(c *gin.Context) {
	r, err := s.boards.get(c.Request.Context(), consistency(c), plans.ActivationID(c.Param("id")), time.Now())
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", r.v)
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
			// A read another stream of this activation started within
			// statusShare serves this one too, if it is not older than
			// what this stream has shown.
			notBefore := time.Now().Add(-statusShare)
			if seen.After(notBefore) {
				notBefore = seen
			}
			r, err := s.statuses.get(ctx, muster.Stale, id, notBefore)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				s.streamError(c, err)
				return
			}
			st, seen = r.v.st, r.start
			sent, err := send(r.v.data)
			if err != nil {
				return
			}
			if sent {
				quiet.Reset(eventHeartbeat)
			}
		}
	}
}

// streamStatus is an activation's status as an event stream shows it.
type streamStatus struct {
	st   notify.ActivationStatus
	data []byte // st as JSON
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
