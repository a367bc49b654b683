package cluster

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"muster"
)

// ClusterAuthHeader carries the signature of a node-to-node request:
//
//	X-Muster-Cluster-Auth: t=<unix ms>,n=<32 hex nonce>,s=<HMAC-SHA256 hex>
//
// The MAC is over the method, path, query, time, nonce and the SHA-256 of
// the body (internalAuthString), under the cluster key. The key itself
// never travels: whoever reads the traffic between nodes learns nothing
// that opens the raft port or the node-to-node endpoints, and cannot
// change a request or play it again (the receiver takes a nonce once, and
// a time within internalAuthWindow of its own clock).
const ClusterAuthHeader = "X-Muster-Cluster-Auth"

// internalAuthWindow is how far a signed request's time may be from the
// receiving node's clock. Nodes of a cluster keep their clocks in step
// (NTP): further apart, the receiver refuses the request and says why.
const internalAuthWindow = 2 * time.Minute

// signedOnlyRules are the rules from which a cluster's nodes send the
// cluster key in no request and refuse a request that carries it instead of
// a signature. Earlier musters know only the key (ClusterKeyHeader), so
// until every member runs one that signs (the members' rules say so: see
// Node.rules), a node sends both, and takes either.
const signedOnlyRules = 12

// internalAuth signs the node-to-node requests a node makes and checks
// those it receives.
type internalAuth struct {
	key []byte
	// keyOnly is a node of a muster from before signed requests, as tests
	// make one (SpeakLegacyInternalAuth): it sends the key and takes only it.
	keyOnly bool
	// signedOnly reports whether the cluster's rules have reached
	// signedOnlyRules: then the key travels no more.
	signedOnly func() bool
	now        func() time.Time

	mu   sync.Mutex
	seen map[string]time.Time // nonces taken, until they are out of the window
	next time.Time            // when seen is swept next
}

func newInternalAuth(key string, keyOnly bool, signedOnly func() bool) *internalAuth {
	return &internalAuth{key: []byte(key), keyOnly: keyOnly, signedOnly: signedOnly, now: time.Now, seen: map[string]time.Time{}}
}

// SignRequest signs req, whose body is body, with the cluster key as a node
// of a cluster whose members all sign does: with a signature, without the
// key. A node joining signs its request so (RequestJoin).
func SignRequest(key string, req *http.Request, body []byte) {
	newInternalAuth(key, false, func() bool { return true }).sign(req, body)
}

// internalAuthString is what a request's MAC covers.
func internalAuthString(method, path, query, t, nonce string, body []byte) []byte {
	sum := sha256.Sum256(body)
	return fmt.Appendf(nil, "muster-internal-v1\n%s\n%s\n%s\n%s\n%s\n%x", method, path, query, t, nonce, sum)
}

func (a *internalAuth) mac(msg []byte) []byte {
	m := hmac.New(sha256.New, a.key)
	m.Write(msg)
	return m.Sum(nil)
}

// sign authenticates req, whose body is body: with a signature, and with
// the key as well while some member may run a muster that knows only the
// key.
func (a *internalAuth) sign(req *http.Request, body []byte) {
	if a.keyOnly || !a.signedOnly() {
		req.Header.Set(ClusterKeyHeader, string(a.key))
	}
	if a.keyOnly {
		return
	}
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	t := strconv.FormatInt(a.now().UnixMilli(), 10)
	n := hex.EncodeToString(nonce[:])
	s := a.mac(internalAuthString(req.Method, req.URL.Path, req.URL.RawQuery, t, n, body))
	req.Header.Set(ClusterAuthHeader, "t="+t+",n="+n+",s="+hex.EncodeToString(s))
}

// check authenticates a request received, reading its body (at most limit
// bytes) to check the signature over it and putting it back for the
// handler. The error says what is wrong; it is EForbidden.
func (a *internalAuth) check(r *http.Request, limit int64) error {
	if len(a.key) == 0 {
		return muster.Errorf(muster.EForbidden, "node-to-node request refused: this node has no cluster key, so it serves only itself")
	}
	sig := r.Header.Get(ClusterAuthHeader)
	if sig == "" || a.keyOnly {
		key := r.Header.Get(ClusterKeyHeader)
		if key == "" || subtle.ConstantTimeCompare([]byte(key), a.key) != 1 {
			return muster.Errorf(muster.EForbidden, "node-to-node request without the right cluster key")
		}
		if !a.keyOnly && a.signedOnly() {
			return muster.Errorf(muster.EForbidden, "node-to-node request with the cluster key in the clear and no signature: "+
				"every member of this cluster signs its requests now; the sender runs an older muster (upgrade it)")
		}
		return nil
	}
	t, nonce, mac := authFields(sig)
	ms, err := strconv.ParseInt(t, 10, 64)
	got, herr := hex.DecodeString(mac)
	if err != nil || herr != nil || len(nonce) != 32 {
		return muster.Errorf(muster.EForbidden, "node-to-node request with a malformed %s header", ClusterAuthHeader)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return muster.Errorf(muster.EForbidden, "node-to-node request: read body: %v", err)
	}
	if int64(len(body)) > limit {
		return muster.Errorf(muster.ETooLarge, "node-to-node request over %d bytes", limit)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if !hmac.Equal(got, a.mac(internalAuthString(r.Method, r.URL.Path, r.URL.RawQuery, t, nonce, body))) {
		return muster.Errorf(muster.EForbidden, "node-to-node request whose signature does not match: signed with another cluster key, or changed on its way")
	}
	at, now := time.UnixMilli(ms), a.now()
	if d := now.Sub(at); d > internalAuthWindow || d < -internalAuthWindow {
		return muster.Errorf(muster.EForbidden, "node-to-node request signed at %s, %s from this node's clock (%s): "+
			"nodes of a cluster must keep their clocks within %s of each other (NTP), or this is a recorded request played again",
			at.UTC().Format(time.RFC3339), d.Round(time.Second), now.UTC().Format(time.RFC3339), internalAuthWindow)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if now.After(a.next) { // sweep the nonces out of the window
		for k, exp := range a.seen {
			if now.After(exp) {
				delete(a.seen, k)
			}
		}
		a.next = now.Add(internalAuthWindow / 4)
	}
	if _, dup := a.seen[nonce]; dup {
		return muster.Errorf(muster.EForbidden, "node-to-node request played again (its nonce was taken already)")
	}
	// Kept until no clock in the window could take it again.
	a.seen[nonce] = at.Add(internalAuthWindow)
	return nil
}
