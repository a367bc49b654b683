package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"muster"
	"muster/access"
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
	// eventAuthCheck is how often a stream checks that the token it was
	// opened with is still valid: a revoked token's streams end within it.
	eventAuthCheck = 2 * time.Second
)

// getBoard serves an activation's board. Boards of one activation asked
// for at once (a wall of screens refreshing together, scripts polling)
// share a read started after each of them arrived, and its JSON, with the
// status requests and streams that ask for the board too: a shared read is
// never older than the request, so every answer holds what was
// acknowledged before it was asked. as_of is when it was read.
func (s *Server) getBoard(c *gin.Context) {
	r, err := s.watches.get(c.Request.Context(), consistency(c), plans.ActivationID(idParam(c)), time.Now())
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", r.v.board.whole)
}

// activationEvents streams an activation's status as Server-Sent Events: a
// `status` event with the ActivationStatus at once, read at the request's
// consistency, then a new one whenever the status read from this node's
// state changes (at most every eventPoll). With board=true each status
// event is followed by a `board` event, the Board from the same read: a
// console following the call-up needs no request of its own for it. A
// `node` event (streamNode) follows the first status when this node is not
// ready, says within eventPoll when it loses its leader or gets one again,
// and takes the place of a heartbeat after eventHeartbeat of silence: the
// later reads are of this node's own copy, which stops following the
// cluster's while it knows no leader, and a client must not show those
// figures as live. It ends when the client goes away, after the event that
// shows the activation stood down with nothing in flight or a request that
// will not start (rejected, expired), or within eventAuthCheck of the
// revocation of the token that opened it. Errors before the stream starts are answered in the
// usual error shape; after, as an `error` event that ends the stream (a
// revoked token's is unauthorized).
func (s *Server) activationEvents(c *gin.Context) {
	ctx := c.Request.Context()
	id := plans.ActivationID(idParam(c))
	reads, _, err := s.statusReads(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	// The first read is at the request's consistency, shared with the
	// streams and requests that came while one was under way; its errors
	// are answered as errors, not events.
	r, err := reads.get(ctx, consistency(c), id, time.Now())
	if err != nil {
		s.writeError(c, err)
		return
	}
	first, st := r.v, r.v.st
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)

	// Later reads, of this node's state, must not be older than the first:
	// one started after it was done sees at least what it saw.
	seen := r.end
	var last []byte
	lastReached := 0
	rows := map[string]uint64{} // the board rows this stream has sent, by key
	send := func(v streamStatus) (bool, error) {
		// A board also changes when a checkpoint passes (T+5, 15, 30
		// minutes), with no count changing.
		if bytes.Equal(v.data, last) && (v.board == nil || v.board.reached == lastReached) {
			return false, nil
		}
		last = v.data
		if v.board != nil {
			lastReached = v.board.reached
		}
		status := v.data
		if v.board != nil {
			status = v.board.head
		}
		if _, err := fmt.Fprintf(c.Writer, "event: status\ndata: %s\n\n", status); err != nil {
			return false, err
		}
		if v.board != nil {
			data, err := v.board.event(rows)
			if err != nil {
				return false, err
			}
			if _, err := fmt.Fprintf(c.Writer, "event: board\ndata: %s\n\n", data); err != nil {
				return false, err
			}
		}
		c.Writer.Flush()
		return true, nil
	}
	if _, err := send(first); err != nil {
		return
	}
	// A node that is ready says so at the first heartbeat; one that is not,
	// at once: the first read may have been of its own copy (stale).
	ready, _ := s.deps.Cluster.Ready(s.cfg.MaxLag)
	if !ready && s.sendNode(c) != nil {
		return
	}
	poll := time.NewTicker(eventPoll)
	defer poll.Stop()
	quiet := time.NewTimer(eventHeartbeat)
	defer quiet.Stop()
	auth := time.NewTicker(eventAuthCheck)
	defer auth.Stop()
	for {
		if st.Status == notify.StatusStoodDown && st.Settled() || st.NeverStarts() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-auth.C:
			err := s.stillAuthorized(c, access.ActRead)
			if ctx.Err() != nil {
				return
			}
			switch code := muster.ErrorCode(err); {
			case err == nil:
			case code == muster.EUnauthorized || code == muster.EForbidden:
				s.streamError(c, err)
				return
			default: // the token could not be read just now: try again at the next check
				s.logger.Warn("event stream could not check its token", "request_id", requestID(c), "err", err)
			}
		case <-quiet.C:
			if s.sendNode(c) != nil {
				return
			}
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
			if now, _ := s.deps.Cluster.Ready(s.cfg.MaxLag); now != ready {
				ready = now
				if s.sendNode(c) != nil {
					return
				}
				sent = true
			}
			if sent {
				quiet.Reset(eventHeartbeat)
			}
		}
	}
}

// streamNode is an event stream's `node` event: whether the node serving
// the stream knows a leader and is within MaxLag entries of its commit
// index (Ready, as GET /readyz answers), and if not, why, and how long ago
// it last heard from a leader. While a node is not ready, the figures its
// streams send are its own copy as it stood when it lost the leader (or
// fell behind), not the cluster's.
type streamNode struct {
	Node string `json:"node"`
	// Ready is true when the node knows a leader and its state is within
	// MaxLag entries of the commit index.
	Ready bool `json:"ready"`
	// NotReady is why the node is not ready, as /readyz says ("no known
	// leader", "catching up: applied 10 of 5000").
	NotReady string `json:"not_ready,omitempty"`
	// Leader is the ID of the leader the node follows (itself, when it
	// leads); absent when the node is not ready.
	Leader string `json:"leader,omitempty"`
	// LeaderContactAge is how many seconds ago the node last heard from a
	// leader (or led); absent while it leads, and when it never heard from
	// one.
	LeaderContactAge *float64 `json:"leader_contact_age_s,omitempty"`
	AppliedIndex     uint64   `json:"applied_index"`
	CommitIndex      uint64   `json:"commit_index"`
}

// sendNode sends the `node` event of the node serving the stream now.
func (s *Server) sendNode(c *gin.Context) error {
	ready, why := s.deps.Cluster.Ready(s.cfg.MaxLag)
	st := s.deps.Cluster.Status()
	n := streamNode{Node: st.NodeID, Ready: ready, AppliedIndex: st.AppliedIndex, CommitIndex: st.CommitIndex}
	if ready {
		n.Leader = st.LeaderID
	} else {
		n.NotReady = why
	}
	// Raft says "0" while the node leads, "never" when it never heard
	// from a leader, else the time since it last did.
	if d, err := time.ParseDuration(st.LastContact); err == nil && st.LastContact != "0" {
		age := d.Round(100 * time.Millisecond).Seconds()
		n.LeaderContactAge = &age
	}
	data, err := json.Marshal(n)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(c.Writer, "event: node\ndata: %s\n\n", data); err != nil {
		return err
	}
	c.Writer.Flush()
	return nil
}

// streamStatus is an activation's status as an event stream shows it, and
// the board from the same read when the stream shows it too.
type streamStatus struct {
	st    notify.ActivationStatus
	data  []byte       // st as JSON: what changes, and a stream without the board sends
	board *streamBoard // nil unless asked for
}

// streamBoard is a board as event streams send it: whole, for a stream's
// first board event, and each row's fingerprint, so that later events carry
// only the rows that changed since the stream's previous one. A city-wide
// board is half a megabyte of JSON; an answer changes a few of its rows.
type streamBoard struct {
	// head is the status event's data: the status without its counts by
	// grid and acknowledgements by grid, which the board has.
	head []byte
	b    notify.Board
	// reached is how many of the board's checkpoints have passed.
	reached int
	whole   []byte            // b as JSON
	rows    map[string]uint64 // row key (boardRowKey) → FNV-64a of its JSON
}

// boardDelta is a board event after a stream's first: the board's own
// fields and total, and only the region and grid rows that changed, with
// Partial set. A client replaces its rows of the same codes.
type boardDelta struct {
	notify.Board
	Partial bool `json:"partial"`
}

func boardRowKey(kind byte, code plans.RegionCode) string { return string(kind) + string(code) }

func newStreamBoard(b notify.Board) (*streamBoard, error) {
	sb := &streamBoard{b: b, rows: make(map[string]uint64, len(b.Regions)+len(b.Grids))}
	for _, a := range b.Total.AckBy {
		if a.Reached {
			sb.reached++
		}
	}
	var err error
	if sb.whole, err = json.Marshal(b); err != nil {
		return nil, err
	}
	h := fnv.New64a()
	for kind, rows := range map[byte][]notify.BoardRow{'r': b.Regions, 'g': b.Grids} {
		for _, r := range rows {
			data, err := json.Marshal(r)
			if err != nil {
				return nil, err
			}
			h.Reset()
			h.Write(data)
			sb.rows[boardRowKey(kind, r.Code)] = h.Sum64()
		}
	}
	return sb, nil
}

// event is the data of the board event for a stream that has sent the rows
// in sent (none: the whole board), which it updates to this board's.
func (sb *streamBoard) event(sent map[string]uint64) ([]byte, error) {
	if len(sent) == 0 {
		maps.Copy(sent, sb.rows)
		return sb.whole, nil
	}
	d := boardDelta{Board: sb.b, Partial: true}
	changed := func(kind byte, rows []notify.BoardRow) []notify.BoardRow {
		out := []notify.BoardRow{}
		for _, r := range rows {
			k := boardRowKey(kind, r.Code)
			if h := sb.rows[k]; sent[k] != h {
				sent[k] = h
				out = append(out, r)
			}
		}
		return out
	}
	d.Regions, d.Grids = changed('r', sb.b.Regions), changed('g', sb.b.Grids)
	return json.Marshal(d)
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
		if v.board, err = newStreamBoard(b.At(s.cfg.Clock.Now())); err != nil {
			return v, err
		}
		head := v.st
		head.Counters.ByGrid, head.Counters.AckBy = nil, nil
		v.board.head, err = json.Marshal(head)
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
