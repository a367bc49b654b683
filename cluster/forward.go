package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"

	"muster"
)

// ClusterKeyHeader carries the shared cluster key on node-to-node requests.
const ClusterKeyHeader = "X-Muster-Cluster-Key"

// maxForwardBody bounds a forwarded command (a roster import batch is well
// below it).
const maxForwardBody = 64 << 20

// InternalHandler serves the node-to-node endpoints under /internal/v1/:
// apply (a forwarded command), read-index, join, remove and status. Every
// request must be signed with the cluster key (internalAuth; while a member
// may run a muster from before signed requests, carrying the key does as
// well); with no key configured all are refused.
func (n *Node) InternalHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /internal/v1/apply", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxForwardBody+1))
		if err != nil || len(body) > maxForwardBody {
			writeInternalError(w, muster.Errorf(muster.ETooLarge, "forwarded command too large or unreadable"))
			return
		}
		var c muster.Command
		if err := c.UnmarshalBinary(body); err != nil {
			writeInternalError(w, muster.Errorf(muster.EInvalid, "forwarded command: %v", err))
			return
		}
		if !n.IsLeader() {
			writeInternalError(w, muster.Errorf(muster.ENotLeader, "not the leader"))
			return
		}
		if why := n.ClockOff(); why != "" {
			writeInternalError(w, muster.Errorf(muster.ENotLeader, "not the leader to stamp this command: %s", why))
			return
		}
		ctx := r.Context()
		if r.URL.Query().Get("idempotent") == "1" {
			ctx = muster.Idempotent(ctx)
		}
		var out any
		if err := n.applyLocal(ctx, &c, &out); err != nil {
			writeInternalError(w, err)
			return
		}
		writeInternalJSON(w, map[string]any{"result": out})
	})
	mux.HandleFunc("POST /internal/v1/read-index", func(w http.ResponseWriter, r *http.Request) {
		idx, err := n.readIndex(r.Context(), r.URL.Query().Get("verify") == "1")
		if err != nil {
			writeInternalError(w, err)
			return
		}
		writeInternalJSON(w, map[string]uint64{"index": idx})
	})
	mux.HandleFunc("POST /internal/v1/join", func(w http.ResponseWriter, r *http.Request) {
		var req JoinRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
			writeInternalError(w, muster.Errorf(muster.EInvalid, "join request: %v", err))
			return
		}
		if err := n.join(r.Context(), req); err != nil {
			writeInternalError(w, err)
			return
		}
		writeInternalJSON(w, map[string]string{"joined": req.ID})
	})
	mux.HandleFunc("POST /internal/v1/remove", func(w http.ResponseWriter, r *http.Request) {
		var req RemoveRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
			writeInternalError(w, muster.Errorf(muster.EInvalid, "remove request: %v", err))
			return
		}
		if err := n.RemoveMember(r.Context(), req); err != nil {
			writeInternalError(w, err)
			return
		}
		writeInternalJSON(w, map[string]string{"removed": req.ID})
	})
	mux.HandleFunc("GET /internal/v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeInternalJSON(w, n.Status())
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every answer says this node's time, so that the asking node can
		// tell how far apart their clocks are, a refused request's too.
		n.internal.stampClock(w.Header(), r, n.clock.Now())
		if !n.started.Load() {
			// Raft is not running yet, and the check below reads the
			// cluster's rules from it: nothing was applied, and the next
			// leader (or this node, once started) is asked again.
			writeInternalError(w, muster.Errorf(muster.ENotLeader, "not the leader: this node is starting"))
			return
		}
		if err := n.internal.check(r, maxForwardBody); err != nil {
			level := slog.LevelWarn
			if r.URL.Path == "/internal/v1/status" {
				// Every member asks every few seconds (watchClocks): a
				// member whose clock is off says so itself, at ERROR.
				level = slog.LevelDebug
			}
			n.logger.Log(r.Context(), level, "node-to-node request refused", "remote", r.RemoteAddr, "path", r.URL.Path, "err", err)
			writeInternalError(w, err)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeInternalJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeInternalError(w http.ResponseWriter, err error) {
	if errors.Is(err, errRetry) {
		err = muster.Errorf(muster.ENotLeader, "not the leader")
	}
	var e *muster.Error
	if !errors.As(err, &e) {
		e = &muster.Error{Code: muster.EInternal, Message: err.Error()}
	}
	status := http.StatusServiceUnavailable
	switch e.Code {
	case muster.EInvalid:
		status = http.StatusBadRequest
	case muster.EForbidden:
		status = http.StatusForbidden
	case muster.ENotFound:
		status = http.StatusNotFound
	case muster.EConflict:
		status = http.StatusConflict
	case muster.ETooLarge:
		status = http.StatusRequestEntityTooLarge
	case muster.EStorage:
		status = http.StatusInsufficientStorage
	case muster.EInternal:
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]*muster.Error{"error": e})
}

// leaderBase returns the base URL of the leader's node-to-node endpoints
// and the client to reach them with, or errRetry while there is no leader
// or its address is not yet known here. Once every member encrypts
// (sealedRules) that is the leader's raft port, over TLS; before, its HTTP
// address.
func (n *Node) leaderBase() (string, *http.Client, error) {
	addr, id := n.raft.LeaderWithID()
	if id == "" {
		return "", nil, errRetry
	}
	if string(id) == n.cfg.NodeID {
		return "", nil, errRetry // leadership moved to us: the caller retries locally
	}
	if n.sealed != nil && n.auth.sealedNow() {
		if addr == "" {
			return "", nil, errRetry
		}
		return "http://" + string(addr), n.sealed, nil
	}
	info, ok := n.nodeInfo(string(id))
	if !ok || info.HTTPAddr == "" {
		return "", nil, errRetry
	}
	// A record naming another raft address is not this leader's, and its
	// HTTP address may be another cluster's: a node that joined a cluster
	// restored from a backup installs the backup's records, the old
	// cluster's, before it applies the leader's own, and the old cluster,
	// holding the same key, may still run there. Such a request was taken
	// there: a read index from the other cluster, a write applied in it.
	if addr != "" && info.RaftAddr != "" && info.RaftAddr != string(addr) {
		return "", nil, errRetry
	}
	return strings.TrimRight(info.HTTPAddr, "/"), n.client, nil
}

// forwardApply has the leader apply c. An idempotent command
// (muster.Idempotent) goes as such: the leader answers not_leader, not
// "it may or may not have been applied", when it loses its leadership with
// the command in hand, and this node asks the next leader (post).
func (n *Node) forwardApply(ctx context.Context, c *muster.Command, out any, idempotent bool) error {
	body, err := c.MarshalBinary()
	if err != nil {
		return err
	}
	var resp struct {
		Result json.RawMessage `json:"result"`
	}
	path := "/internal/v1/apply"
	if idempotent {
		path += "?idempotent=1"
	}
	if err := n.post(ctx, path, "application/octet-stream", body, idempotent, &resp); err != nil {
		return err
	}
	if out == nil || len(resp.Result) == 0 || string(resp.Result) == "null" {
		return nil
	}
	if err := json.Unmarshal(resp.Result, out); err != nil {
		return fmt.Errorf("cluster: decode forwarded result: %w", err)
	}
	return nil
}

func (n *Node) remoteReadIndex(ctx context.Context, verify bool) (uint64, error) {
	path := "/internal/v1/read-index"
	if verify {
		path += "?verify=1"
	}
	var resp struct {
		Index uint64 `json:"index"`
	}
	err := n.post(ctx, path, "application/json", nil, true, &resp)
	return resp.Index, err
}

func (n *Node) forwardJSON(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return n.post(ctx, path, "application/json", b, false, out)
}

// post sends a node-to-node request to the leader. Failures that prove the
// request was not processed (no leader, connection refused, not_leader) come
// back as errRetry; others keep their code. An idempotent request (a read
// index) is abandoned when this node learns of a leader change meanwhile
// (a leader that hangs is replaced in about a second, where the request
// would wait out its deadline on it), and comes back as errRetry when
// abandoned or failed on the way: asked again, of the next leader, it does
// no harm. Another one stays with the leader it went to, which answers
// not_leader if it handed over before taking it; when it fails on the way
// its outcome is unknown, and the error says so and what to do.
func (n *Node) post(ctx context.Context, path, contentType string, body []byte, idempotent bool, out any) error {
	moved := n.leaderMove.wait()        // before the leader is read: a change after it is seen
	base, client, err := n.leaderBase() // no leader yet: the caller waits for one
	if err != nil {
		return err
	}
	if n.cfg.ClusterKey == "" {
		return muster.Errorf(muster.ENotLeader, "this node is not the leader and has no cluster key to forward with")
	}
	attempt, abandon := context.WithCancel(ctx)
	defer abandon()
	if idempotent {
		go func() {
			select {
			case <-moved:
				abandon()
			case <-attempt.Done():
			}
		}()
	}
	req, err := http.NewRequestWithContext(attempt, http.MethodPost, base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	n.internal.sign(req, body)
	_, leader := n.raft.LeaderWithID()
	unknown := func(what string, err error) error {
		switch {
		case idempotent && ctx.Err() == nil:
			return errRetry
		case ctx.Err() != nil:
			return muster.Errorf(muster.ETimeout, "the leader %s did not answer before the deadline (%v): it may or may not have been applied; look before trying again", leader, ctx.Err())
		case attempt.Err() != nil:
			return muster.Errorf(muster.EUnavailable, "the leader %s was replaced while it handled this request: it may or may not have been applied; look before trying again", leader)
		}
		return muster.Errorf(muster.EUnavailable, "the leader %s stopped answering while it handled this request (%s: %v): it may or may not have been applied; look before trying again", leader, what, err)
	}
	res, err := client.Do(req)
	if err != nil {
		if isDialError(err) {
			return errRetry
		}
		return unknown("forward", err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxForwardBody))
	if err != nil {
		return unknown("read reply", err)
	}
	if res.StatusCode != http.StatusOK {
		var e struct {
			Error *muster.Error `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error == nil {
			return muster.Errorf(muster.EUnavailable, "forward to leader: HTTP %d", res.StatusCode)
		}
		if e.Error.Code == muster.ENotLeader {
			return errRetry
		}
		if refusedUnread(res.StatusCode, e.Error) {
			// The leader's check of the node-to-node request refused it
			// before reading it: nothing was applied. What the caller
			// asked is not forbidden; this node cannot pass it on now (its
			// key, or its clock, is not the leader's), so it is
			// unavailable, and a provider's webhook is posted again.
			if strings.Contains(e.Error.Message, "cluster key") {
				return muster.Errorf(muster.EUnavailable, "node %s cannot forward to the leader %s (%s): the leader refuses its cluster key; set the cluster's --cluster-key (MUSTER_CLUSTER_KEY) on %s and restart it",
					n.cfg.NodeID, leader, base, n.cfg.NodeID)
			}
			return muster.Errorf(muster.EUnavailable, "node %s cannot forward to the leader %s (%s), which refused the request unread, so nothing was applied: %s",
				n.cfg.NodeID, leader, base, e.Error.Message)
		}
		return e.Error
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

// refusedUnread reports whether a node-to-node answer of status with
// error e is the answering node's check refusing the request as not
// genuine (internalAuth.check: forbidden, saying "node-to-node request"):
// its key, signature or time, not what it asked. Nothing of it was done.
func refusedUnread(status int, e *muster.Error) bool {
	return e.Code == muster.EForbidden && status == http.StatusForbidden && strings.HasPrefix(e.Message, "node-to-node request")
}

func isDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// RequestJoin asks the cluster reachable at baseURL (any member) to add the
// node described by req as a voter, signing the request with the cluster
// key (which it does not send: a cluster of a muster from before signed
// requests refuses it, so upgrade a cluster before adding nodes). It makes
// one attempt; callers retry.
func RequestJoin(ctx context.Context, baseURL, key string, req JoinRequest) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(baseURL, "/")+"/internal/v1/join", bytes.NewReader(b))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/json")
	SignRequest(key, hreq, b)
	res, err := http.DefaultClient.Do(hreq)
	if err != nil {
		return muster.Errorf(muster.EUnavailable, "join via %s: %v", baseURL, err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusOK {
		return nil
	}
	var e struct {
		Error *muster.Error `json:"error"`
	}
	if json.NewDecoder(io.LimitReader(res.Body, 1<<16)).Decode(&e) == nil && e.Error != nil {
		return e.Error
	}
	return muster.Errorf(muster.EUnavailable, "join via %s: HTTP %d", baseURL, res.StatusCode)
}
