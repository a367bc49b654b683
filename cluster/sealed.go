package cluster

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"sync"
	"time"
)

// sealedRules are the rules from which a cluster's nodes encrypt what they
// say to each other: raft (log entries carry names and phone numbers) and
// the node-to-node requests (forwarded writes and reads), which then go to
// the leader's raft port instead of its HTTP port. A muster before them
// knows neither the encrypted raft handshake nor node-to-node requests on
// the raft port, so until every member runs one that does (the members'
// rules say so), nodes speak as before.
const sealedRules = 13

// SealedRules are the rules from which nodes encrypt (sealedRules).
const SealedRules = sealedRules

// sealedTLSInfo names what the nodes' TLS key is derived for.
const sealedTLSInfo = "muster node-to-node tls v1"

// sealedTLS is the TLS configuration of every encrypted connection between
// nodes, both ends: TLS 1.3, mutual, with one certificate whose Ed25519 key
// is derived from the cluster key (HKDF-SHA256). Each end takes only a peer
// that presents that key: whoever holds the cluster key is a node, as the
// raft handshake and signed requests already say, and no one else can read
// or change the traffic, nor stand between two nodes.
func sealedTLS(clusterKey string) (*tls.Config, error) {
	seed, err := hkdf.Key(sha256.New, []byte(clusterKey), nil, sealedTLSInfo, ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("derive the node-to-node TLS key: %w", err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "muster cluster"},
		DNSNames:     []string{"muster"},
		NotBefore:    time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return nil, fmt.Errorf("make the node-to-node certificate: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: priv}},
		MinVersion:   tls.VersionTLS13,
		ServerName:   "muster",
		ClientAuth:   tls.RequireAnyClientCert,
		// The peer is checked by its key below, not by a chain of
		// authorities: there is one certificate, the cluster's.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the peer presented no certificate")
			}
			if k, ok := cs.PeerCertificates[0].PublicKey.(ed25519.PublicKey); !ok || !k.Equal(pub) {
				return errors.New("the peer's certificate is not derived from this node's cluster key")
			}
			return nil
		},
	}, nil
}

// connQueue is the listener of the node-to-node HTTP server on the raft
// port: the raft listener hands it the connections that asked for it once
// their handshake passed.
type connQueue struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

// hand gives c to the server, or closes it when the queue is closed.
func (q *connQueue) hand(c net.Conn) {
	select {
	case q.ch <- c:
	case <-q.done:
		c.Close()
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.done) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }

// sealedServer serves the node-to-node endpoints (h) on the connections the
// raft listener hands to q, until q closes.
func sealedServer(q *connQueue, h http.Handler) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go srv.Serve(q) //nolint:errcheck // ends with net.ErrClosed when the transport closes
	return srv
}

// sealingEvery is how often a node asks whether every member encrypts.
const sealingEvery = time.Second

// watchSealing keeps the raft auth's sealed flag to whether every member
// encrypts (the members' rules reach sealedRules), from now until the node
// stops. When they come to, it closes the connections opened before, which
// raft and the forwarder open again encrypted.
func (n *Node) watchSealing() {
	defer n.wg.Done()
	if n.auth.key == nil || n.cfg.legacyRaft || n.auth.unsealed {
		return
	}
	t := time.NewTicker(sealingEvery)
	defer t.Stop()
	for {
		// A node that has yet to learn its cluster's members (a new node
		// waiting to join) has no peer to speak to, encrypted or not.
		servers, err := n.servers()
		sealed := err == nil && len(servers) > 0 && n.rules() >= sealedRules
		if n.auth.sealed.Swap(sealed) != sealed {
			if sealed {
				n.transport.CloseStreams()
				n.client.CloseIdleConnections()
				n.logger.Info("every member encrypts: raft and node-to-node requests go encrypted (TLS 1.3) from now on; the unencrypted connections are closed")
			} else {
				n.logger.Warn("a member does not encrypt (its muster is older, or its record is not yet written): raft and node-to-node requests go unencrypted until it does")
			}
		}
		select {
		case <-t.C:
		case <-n.stop:
			return
		}
	}
}
