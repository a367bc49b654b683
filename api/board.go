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

	var last []byte
	send := func(st notify.ActivationStatus) (bool, error) {
		data, err := json.Marshal(st)
		if err != nil {
			return false, err
		}
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
	if _, err := send(st); err != nil {
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
			next, err := s.deps.Activations.Activation(ctx, muster.Stale, id)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				s.streamError(c, err)
				return
			}
			st = next
			sent, err := send(st)
			if err != nil {
				return
			}
			if sent {
				quiet.Reset(eventHeartbeat)
			}
		}
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
