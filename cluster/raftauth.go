package cluster

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// RaftAuth says which raft connections a node takes and how it dials its
// peers. Every mode refuses all raft connections on a node without a
// cluster key: it has no peers to hear from.
type RaftAuth string

const (
	// RaftAuthRequired, the default: every raft connection, accepted or
	// dialled, proves on both ends that it holds the cluster key before
	// raft reads or writes a byte of it; any other is closed.
	RaftAuthRequired RaftAuth = "required"
	// RaftAuthTransition is for the first pass of a rolling upgrade from a
	// muster without the raft handshake: the node also takes connections
	// that do not open with it (raft as such, unauthenticated), and dials
	// a peer that does not answer it without it. Run every node so, then
	// every node with RaftAuthRequired.
	RaftAuthTransition RaftAuth = "transition"
)

// ParseRaftAuth reads a --raft-auth value; empty is RaftAuthRequired.
func ParseRaftAuth(s string) (RaftAuth, error) {
	switch RaftAuth(s) {
	case "", RaftAuthRequired:
		return RaftAuthRequired, nil
	case RaftAuthTransition:
		return RaftAuthTransition, nil
	}
	return "", fmt.Errorf("raft auth %q: want %s or %s", s, RaftAuthRequired, RaftAuthTransition)
}

// The raft handshake, in the first bytes of every raft connection:
//
//	dialer   → listener: raftAuthMagic, dialer nonce Nd (32 random bytes)
//	listener → dialer:   raftAuthMagic, listener nonce Nl, HMAC-SHA256(key, raftAuthListener || Nd || Nl)
//	dialer   → listener: HMAC-SHA256(key, raftAuthDialer || Nd || Nl)
//
// Each end checks the other's MAC over its own fresh nonce, so neither a
// recorded handshake nor one end's MAC replayed as the other's passes. The
// dialer speaks first: a listener in transition mode tells a dialer without
// the handshake by its first bytes (a raft RPC type, 0–4, where the magic
// begins with 'M'). Version 1 authenticates a connection; it does not
// encrypt it.
//
// Version 2 (sealedRules) is version 1 with the dialer's purpose after the
// magic, in the MACs too, and TLS after it (sealedTLS: the dialer is the
// client), so that what follows is encrypted:
//
//	dialer   → listener: raftSealedMagic, purpose, Nd
//	listener → dialer:   raftSealedMagic, Nl, HMAC-SHA256(key, raftSealedListener || purpose || Nd || Nl)
//	dialer   → listener: HMAC-SHA256(key, raftSealedDialer || purpose || Nd || Nl)
//	then a TLS 1.3 handshake, and raft (purposeRaft) or node-to-node HTTP
//	requests (purposeHTTP) inside it.
//
// A node dials with version 2 once every member speaks it (as its own
// state says), before with version 1; it takes both. Taking version 1
// gives away nothing: only the dialler chooses to speak unencrypted, and a
// node does once it sees a member that cannot decrypt (a node that joined
// and whose record is not yet written counts so); refusing it would lock
// out a node whose state is behind (a new member that has yet to learn of
// an older one).
const (
	raftAuthMagic      = "MRA\x01" // muster raft auth, version 1
	raftSealedMagic    = "MRA\x02" // version 2: purpose, then TLS
	raftAuthListener   = "muster raft handshake v1: listener"
	raftAuthDialer     = "muster raft handshake v1: dialer"
	raftSealedListener = "muster raft handshake v2: listener"
	raftSealedDialer   = "muster raft handshake v2: dialer"
	purposeRaft        = 'R' // raft's own RPCs
	purposeHTTP        = 'H' // node-to-node requests (InternalHandler)
	raftNonceSize      = 32
	raftAuthTimeout    = 5 * time.Second
	// raftRefusalLogEvery rate-limits the warnings about refused
	// connections: a port scanner must not flood the log.
	raftRefusalLogEvery = 10 * time.Second
	// raftMismatchFresh is how long a peer seen with another cluster key
	// makes a node without a leader say so (Ready).
	raftMismatchFresh = 30 * time.Second
)

// errLegacyPeer marks a peer that closed the connection at the first
// handshake message without a byte in answer, as a muster without the
// handshake does (and a node that refuses this one).
var errLegacyPeer = errors.New("the peer closed the connection at the raft handshake")

// raftAuth authenticates a node's raft connections with its cluster key.
type raftAuth struct {
	key    []byte // nil: no key, every raft connection is refused
	mode   RaftAuth
	logger *slog.Logger
	tls    *tls.Config // sealedTLS of the key; nil without a key
	// sealed is set while every member speaks version 2 (as the node's
	// state says: Node.watchSealing): then the node dials with it.
	sealed atomic.Bool
	// internal takes the node-to-node HTTP connections (purposeHTTP);
	// nil: they are refused.
	internal *connQueue
	// unsealed makes the node refuse version 2, as a muster before it
	// (SpeakUnsealed in tests).
	unsealed bool

	refusals  rateLog // inbound connections refused
	failures  rateLog // handshakes failed on dialled connections
	legacyIn  rateLog
	legacyOut rateLog
	noKeyOnce sync.Once

	refused  atomic.Int64                // inbound connections refused, but for those closed without a byte
	mismatch atomic.Pointer[keyMismatch] // the last peer seen with another key
}

// keyMismatch is a raft peer seen holding another cluster key.
type keyMismatch struct {
	addr    string // the peer's raft address, or where a connection came from
	inbound bool
	at      time.Time
}

func (m *keyMismatch) String() string {
	ago := time.Since(m.at).Round(time.Second)
	if m.inbound {
		return fmt.Sprintf("a raft connection from %s held another cluster key than this node (%s ago)", m.addr, ago)
	}
	return fmt.Sprintf("the raft peer at %s holds another cluster key than this node (%s ago)", m.addr, ago)
}

func newRaftAuth(key string, mode RaftAuth, logger *slog.Logger) (*raftAuth, error) {
	a := &raftAuth{mode: mode, logger: logger}
	if key != "" {
		a.key = []byte(key)
		cfg, err := sealedTLS(key)
		if err != nil {
			return nil, err
		}
		a.tls = cfg
	}
	return a, nil
}

func (a *raftAuth) mac(context string, nd, nl []byte) []byte {
	h := hmac.New(sha256.New, a.key)
	h.Write([]byte(context))
	h.Write(nd)
	h.Write(nl)
	return h.Sum(nil)
}

// sealedNow reports whether the node dials raft with version 2.
func (a *raftAuth) sealedNow() bool { return !a.unsealed && a.sealed.Load() }

// errNowSealed ends a connection dialled with version 1 once every member
// encrypts: raft dials again, with version 2.
var errNowSealed = errors.New("every member encrypts now: the unencrypted raft connection is closed (raft dials again, encrypted)")

// unsealedConn is a raft connection dialled with version 1. Once the node
// encrypts, its next write closes it (Node.watchSealing closes the idle
// ones at once; this ends one that was in use then, or a pipeline).
type unsealedConn struct {
	net.Conn
	a *raftAuth
}

func (c *unsealedConn) Write(p []byte) (int, error) {
	if c.a.sealedNow() {
		c.Conn.Close()
		return 0, errNowSealed
	}
	return c.Conn.Write(p)
}

// peerMismatch is the last raft peer seen with another cluster key, if it
// was seen within raftMismatchFresh; nil otherwise.
func (a *raftAuth) peerMismatch() *keyMismatch {
	m := a.mismatch.Load()
	if m == nil || time.Since(m.at) > raftMismatchFresh {
		return nil
	}
	return m
}

// accepted wraps a connection the raft listener accepted: its first Read or
// Write runs the listener's side of the handshake (within raftAuthTimeout),
// and raft gets the connection's bytes only once it passed. A connection
// that fails it is closed, logged, and reads as io.EOF, which raft closes
// without a word. The handshake runs in raft's goroutine for the
// connection, so a peer that is slow to answer holds up no other.
func (a *raftAuth) accepted(c net.Conn) net.Conn {
	return &authConn{Conn: c, a: a}
}

type authConn struct {
	net.Conn
	a    *raftAuth
	once sync.Once
	err  error
	r    io.Reader // what raft reads: the conn (or its TLS), after any bytes read to tell a dialer without the handshake
	w    io.Writer // what raft writes to: the conn, or its TLS
	// handed is set when the connection went to the node-to-node HTTP
	// server: raft, which reads io.EOF from it, must not close it.
	handed atomic.Bool
}

func (c *authConn) Read(p []byte) (int, error) {
	c.once.Do(c.handshake)
	if c.err != nil {
		return 0, c.err
	}
	return c.r.Read(p)
}

func (c *authConn) Write(p []byte) (int, error) {
	c.once.Do(c.handshake)
	if c.err != nil {
		return 0, c.err
	}
	return c.w.Write(p)
}

func (c *authConn) Close() error {
	if c.handed.Load() {
		return nil
	}
	return c.Conn.Close()
}

func (c *authConn) handshake() {
	a := c.a
	remote := c.RemoteAddr().String()
	if a.key == nil {
		c.Conn.Close()
		c.err = io.EOF
		a.refused.Add(1)
		a.noKeyOnce.Do(func() {
			a.logger.Warn("raft connection refused: this node has no cluster key, so it takes no raft connections (a single node); "+
				"nodes of a cluster share one --cluster-key (MUSTER_CLUSTER_KEY)", "remote", remote)
		})
		return
	}
	reason, silent := c.listen()
	if reason == "" {
		return
	}
	if reason == handedOver {
		c.err = io.EOF
		return
	}
	c.Conn.Close()
	c.err = io.EOF
	if silent {
		// Nothing was said: a check that the port is open (a join checks
		// so), or a scanner. Nothing to warn about.
		a.logger.Debug("raft connection closed before the handshake", "remote", remote)
		return
	}
	a.refused.Add(1)
	if ok, unlogged := a.refusals.allow(); ok {
		a.logger.Warn("raft connection refused: "+reason, "remote", remote, "refused_unlogged", unlogged)
	}
}

// listen runs the listener's side of the handshake; a non-empty reason
// refuses the connection, silently when the dialer said nothing at all.
func (c *authConn) listen() (reason string, silent bool) {
	a := c.a
	if err := c.Conn.SetDeadline(time.Now().Add(raftAuthTimeout)); err != nil {
		return "set handshake deadline: " + err.Error(), false
	}
	hello := make([]byte, len(raftAuthMagic)+raftNonceSize)
	n, err := io.ReadFull(c.Conn, hello[:len(raftAuthMagic)])
	if err != nil {
		if n == 0 && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
			return "closed", true
		}
		return "no handshake: " + describe(err), false
	}
	magic := string(hello[:len(raftAuthMagic)])
	if magic == raftSealedMagic && !a.unsealed {
		return c.listenSealed()
	}
	if magic != raftAuthMagic {
		if a.mode == RaftAuthTransition && a.sealedNow() {
			// Every member encrypts, so every member has the handshake:
			// transition mode has nothing left to let in.
			return "it did not open with muster's raft handshake, and every member encrypts (--raft-auth=transition takes raft without it only until then): no member of this cluster", false
		}
		if a.mode == RaftAuthTransition {
			if err := c.Conn.SetDeadline(time.Time{}); err != nil {
				return "clear handshake deadline: " + err.Error(), false
			}
			c.r = io.MultiReader(bytes.NewReader(hello[:len(raftAuthMagic)]), c.Conn)
			c.w = c.Conn
			if ok, unlogged := a.legacyIn.allow(); ok {
				a.logger.Info("raft connection without the handshake taken (--raft-auth=transition): a muster without it dialled, "+
					"or something that does not hold the cluster key", "remote", c.RemoteAddr().String(), "unlogged", unlogged)
			}
			return "", false
		}
		return "it did not open with muster's raft handshake: a muster without it (upgrade every node with --raft-auth=transition first), or no muster", false
	}
	if _, err := io.ReadFull(c.Conn, hello[len(raftAuthMagic):]); err != nil {
		return "incomplete handshake: " + describe(err), false
	}
	if reason := c.challenge(raftAuthMagic, raftAuthListener, raftAuthDialer, hello[len(raftAuthMagic):]); reason != "" {
		return reason, false
	}
	if err := c.Conn.SetDeadline(time.Time{}); err != nil {
		return "clear handshake deadline: " + err.Error(), false
	}
	c.r, c.w = c.Conn, c.Conn
	return "", false
}

// challenge runs the listener's part of the handshake after the dialer's
// nonce nd: it sends magic, its own nonce and its MAC (listener context),
// and checks the dialer's answer (dialer context). A non-empty reason
// refuses the connection.
func (c *authConn) challenge(magic, listener, dialer string, nd []byte) (reason string) {
	a := c.a
	nl := make([]byte, raftNonceSize)
	rand.Read(nl)
	challenge := make([]byte, 0, len(magic)+2*raftNonceSize)
	challenge = append(challenge, magic...)
	challenge = append(challenge, nl...)
	challenge = append(challenge, a.mac(listener, nd, nl)...)
	if _, err := c.Conn.Write(challenge); err != nil {
		return "write handshake: " + describe(err)
	}
	answer := make([]byte, sha256.Size)
	if _, err := io.ReadFull(c.Conn, answer); err != nil {
		return "the dialer left the handshake (it holds another cluster key, or is no muster: see its log): " + describe(err)
	}
	if !hmac.Equal(answer, a.mac(dialer, nd, nl)) {
		a.mismatch.Store(&keyMismatch{addr: c.RemoteAddr().String(), inbound: true, at: time.Now()})
		return "the dialer does not hold this node's cluster key"
	}
	return ""
}

// handedOver is listen's answer for a connection handed to the node-to-node
// HTTP server.
const handedOver = "\x00handed over"

// listenSealed runs the rest of the listener's side of a version 2
// handshake (the magic is read) and TLS; a connection for node-to-node
// requests goes to the HTTP server (handedOver).
func (c *authConn) listenSealed() (reason string, silent bool) {
	a := c.a
	hello := make([]byte, 1+raftNonceSize)
	if _, err := io.ReadFull(c.Conn, hello); err != nil {
		return "incomplete handshake: " + describe(err), false
	}
	purpose, nd := hello[0], hello[1:]
	if purpose != purposeRaft && purpose != purposeHTTP {
		return fmt.Sprintf("unknown purpose %q in the handshake", purpose), false
	}
	if reason := c.challenge(raftSealedMagic, raftSealedListener+string(purpose), raftSealedDialer+string(purpose), nd); reason != "" {
		return reason, false
	}
	tc := tls.Server(c.Conn, a.tls)
	if err := tc.Handshake(); err != nil {
		return "TLS after the handshake: " + describe(err), false
	}
	if err := c.Conn.SetDeadline(time.Time{}); err != nil {
		return "clear handshake deadline: " + err.Error(), false
	}
	if purpose == purposeHTTP {
		if a.internal == nil {
			return "node-to-node requests on the raft port, which this node does not serve", false
		}
		c.handed.Store(true)
		a.internal.hand(tc)
		return handedOver, false
	}
	c.r, c.w = tc, tc
	return "", false
}

// dial opens a raft connection to addr with dial and runs the dialer's side
// of the handshake on it, within raftAuthTimeout and ctx. In transition
// mode a peer that closes at the handshake (a muster without it) is
// dialled again without it.
func (a *raftAuth) dial(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error), addr string) (net.Conn, error) {
	if a.key == nil {
		return nil, fmt.Errorf("raft to %s: this node has no cluster key, and dials no peers", addr)
	}
	if a.sealedNow() {
		return a.dialSealed(ctx, dial, addr, purposeRaft)
	}
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	err = a.greet(ctx, conn, addr)
	if err == nil {
		return &unsealedConn{Conn: conn, a: a}, nil
	}
	conn.Close()
	if errors.Is(err, errLegacyPeer) && a.mode == RaftAuthTransition {
		if ok, unlogged := a.legacyOut.allow(); ok {
			a.logger.Info("raft peer without the handshake: dialled without it (--raft-auth=transition)", "peer", addr, "unlogged", unlogged)
		}
		return dial(ctx, "tcp", addr)
	}
	if errors.Is(err, errLegacyPeer) {
		err = fmt.Errorf("%w: it runs a muster without the handshake (during a rolling upgrade, run every node with --raft-auth=transition first), or it refused this node (see its log)", err)
	}
	if ok, unlogged := a.failures.allow(); ok {
		a.logger.Warn("raft handshake failed", "peer", addr, "err", err, "failed_unlogged", unlogged)
	}
	return nil, fmt.Errorf("raft handshake with %s: %w", addr, err)
}

// dialSealed opens a connection to addr for purpose with a version 2
// handshake and TLS, within raftAuthTimeout and ctx.
func (a *raftAuth) dialSealed(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error), addr string, purpose byte) (net.Conn, error) {
	if a.key == nil {
		return nil, fmt.Errorf("node-to-node to %s: this node has no cluster key, and dials no peers", addr)
	}
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc, err := a.greetSealed(ctx, conn, addr, purpose)
	if err != nil {
		conn.Close()
		if errors.Is(err, errLegacyPeer) {
			err = fmt.Errorf("%w: it runs a muster without the handshake or from before encryption, though its member record says otherwise (was it downgraded?), or it refused this node (see its log)", err)
		}
		if ok, unlogged := a.failures.allow(); ok {
			a.logger.Warn("raft handshake failed", "peer", addr, "err", err, "failed_unlogged", unlogged)
		}
		return nil, fmt.Errorf("raft handshake with %s: %w", addr, err)
	}
	return tc, nil
}

// greet runs the dialer's side of the version 1 handshake on conn.
func (a *raftAuth) greet(ctx context.Context, conn net.Conn, addr string) error {
	if err := conn.SetDeadline(handshakeDeadline(ctx)); err != nil {
		return err
	}
	nd := make([]byte, raftNonceSize)
	rand.Read(nd)
	if _, err := conn.Write(append([]byte(raftAuthMagic), nd...)); err != nil {
		return err
	}
	if err := a.challenged(conn, addr, raftAuthMagic, raftAuthListener, raftAuthDialer, nd); err != nil {
		return err
	}
	return conn.SetDeadline(time.Time{})
}

// greetSealed runs the dialer's side of the version 2 handshake on conn,
// then TLS, and returns the TLS connection.
func (a *raftAuth) greetSealed(ctx context.Context, conn net.Conn, addr string, purpose byte) (net.Conn, error) {
	if err := conn.SetDeadline(handshakeDeadline(ctx)); err != nil {
		return nil, err
	}
	nd := make([]byte, raftNonceSize)
	rand.Read(nd)
	hello := make([]byte, 0, len(raftSealedMagic)+1+raftNonceSize)
	hello = append(hello, raftSealedMagic...)
	hello = append(hello, purpose)
	hello = append(hello, nd...)
	if _, err := conn.Write(hello); err != nil {
		return nil, err
	}
	if err := a.challenged(conn, addr, raftSealedMagic, raftSealedListener+string(purpose), raftSealedDialer+string(purpose), nd); err != nil {
		return nil, err
	}
	tc := tls.Client(conn, a.tls)
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("TLS after the handshake: %s", describe(err))
	}
	return tc, conn.SetDeadline(time.Time{})
}

// challenged reads the listener's challenge to the dialer's nonce nd,
// checks its MAC (listener context) and answers it (dialer context).
func (a *raftAuth) challenged(conn net.Conn, addr, magic, listener, dialer string, nd []byte) error {
	challenge := make([]byte, len(magic)+raftNonceSize+sha256.Size)
	n, err := io.ReadFull(conn, challenge)
	switch {
	case err != nil && n == 0 && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)):
		return errLegacyPeer
	case err != nil:
		return fmt.Errorf("no answer to the handshake: %s", describe(err))
	case string(challenge[:len(magic)]) != magic:
		return errors.New("the peer does not speak muster's raft handshake")
	}
	nl := challenge[len(magic) : len(magic)+raftNonceSize]
	if !hmac.Equal(challenge[len(magic)+raftNonceSize:], a.mac(listener, nd, nl)) {
		a.mismatch.Store(&keyMismatch{addr: addr, at: time.Now()})
		return errors.New("the peer does not hold this node's cluster key")
	}
	_, err = conn.Write(a.mac(dialer, nd, nl))
	return err
}

// handshakeDeadline is raftAuthTimeout from now, or ctx's deadline if sooner.
func handshakeDeadline(ctx context.Context) time.Time {
	deadline := time.Now().Add(raftAuthTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	return deadline
}

// describe says what a read or write error in the handshake was.
func describe(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "no answer within " + raftAuthTimeout.String()
	}
	return err.Error()
}

// rateLog lets a message through at most once per raftRefusalLogEvery and
// counts the ones held back since the last.
type rateLog struct {
	mu   sync.Mutex
	next time.Time
	held int
}

// allow reports whether to log now, and how many were held back before.
func (l *rateLog) allow() (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Before(l.next) {
		l.held++
		return false, 0
	}
	l.next = now.Add(raftRefusalLogEvery)
	held := l.held
	l.held = 0
	return true, held
}
