package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
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
// eventHeartbeat of silence. With board=true each status event is followed
// by a `board` event, the Board from the same read: a console following
// the call-up needs no request of its own for it. It ends when the client
// goes away, or after the event that shows the activation stood down with
// nothing in flight. Errors before the stream starts are answered in the
// usual error shape; after, as an `error` event that ends the stream.
func (s *Server) activationEvents(c *gin.Context) {
	ctx := c.Request.Context()
	id := plans.ActivationID(c.Param("id"))
	withBoard := false
	if v := c.Query("board"); v != "" {
		var err error
		if withBoard, err = strconv.ParseBool(v); err != nil {
			s.writeError(c, muster.Errorf(muster.EInvalid, "board %q: want true or false", v))
			return
		}
	}
	reads := s.statuses
	if withBoard {
		reads = s.watches
	}
	first, err := reads.read(ctx, consistency(c), id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	st := first.st
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)

	seen := time.Now() // later reads must not be older than this one
	var last []byte
	send := func(v streamStatus) (bool, error) {
		if bytes.Equal(v.data, last) {
			return false, nil
		}
		last = v.data
		if _, err := fmt.Fprintf(c.Writer, "event: status\ndata: %s\n\n", v.data); err != nil {
			return false, err
		}
		if v.board != nil {
			if _, err := fmt.Fprintf(c.Writer, "event: board\ndata: %s\n\n", v.board); err != nil {
				return false, err
			}
		}
		c.Writer.Flush()
		return true, nil
	}
	if _, err := send(first); err != nil {
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
			r, err := reads.get(ctx, muster.Stale, id, notBefore)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				s.streamError(c, err)
				return
			}
			st, seen = r.v.st, r.start
			sent, err := send(r.v)
			if err != nil {
				return
			}
			if sent {
				quiet.Reset(eventHeartbeat)
			}
		}
	}
}

// streamStatus is an activation's status as an event stream shows it, and
// the board from the same read when the stream shows it too.
type streamStatus struct {
	st    notify.ActivationStatus
	data  []byte // st as JSON
	board []byte // the Board as JSON; nil unless asked for
}

// readStatus reads an activation's status for an event stream; with board,
// its board too, in the same read.
func (s *Server) readStatus(board bool) func(context.Context, muster.Consistency, plans.ActivationID) (streamStatus, error) {
	return func(ctx context.Context, level muster.Consistency, id plans.ActivationID) (streamStatus, error) {
		var v streamStatus
		var b notify.Board
		var err error
		if board {
			v.st, b, err = s.deps.Activations.StatusAndBoard(ctx, level, id)
		} else {
			v.st, err = s.deps.Activations.Activation(ctx, level, id)
		}
		if err != nil {
			return v, err
		}
		if v.data, err = json.Marshal(v.st); err != nil || !board {
			return v, err
		}
		v.board, err = json.Marshal(b.At(time.Now()))
		return v, err
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
