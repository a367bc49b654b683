package cluster

import (
	"net/http"
	"time"
)

// SpeakLegacyRaft makes a node configured with c speak raft without the
// handshake, as a muster before it did.
func SpeakLegacyRaft(c *Config) { c.legacyRaft = true }

// SpeakLegacyInternalAuth makes a node configured with c send and take
// node-to-node requests with the cluster key in the clear, as a muster
// before signed requests did, at the rules before SignedOnlyRules.
func SpeakLegacyInternalAuth(c *Config) {
	c.legacyInternalAuth = true
	c.Rules = signedOnlyRules - 1
}

// SignedOnlyRules are the rules from which nodes send no key (signedOnlyRules).
const SignedOnlyRules = signedOnlyRules

// SignInternal signs req (with body) as a node holding key would at t.
func SignInternal(key string, req *http.Request, body []byte, t time.Time) {
	a := newInternalAuth(key, false, func() bool { return true })
	a.now = func() time.Time { return t }
	a.sign(req, body)
}
