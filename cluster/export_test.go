package cluster

import (
	"context"
	"net/http"
	"time"

	"github.com/hashicorp/raft"
)

// SpeakLegacyRaft makes a node configured with c speak raft without the
// handshake, as a muster before it did.
func SpeakLegacyRaft(c *Config) {
	c.legacyRaft = true
	SpeakUnsealed(c)
}

// SpeakUnsealed makes a node configured with c refuse encrypted raft and
// node-to-node requests on its raft port, as a muster before them did, at
// the rules before them.
func SpeakUnsealed(c *Config) {
	c.unsealed = true
	if c.Rules <= 0 || c.Rules >= sealedRules {
		c.Rules = sealedRules - 1
	}
}

// SpeakLegacyInternalAuth makes a node configured with c send and take
// node-to-node requests with the cluster key in the clear, as a muster
// before signed requests did, at the rules before SignedOnlyRules.
func SpeakLegacyInternalAuth(c *Config) {
	c.legacyInternalAuth = true
	c.unsealed = true
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

// VotesWithheld is how many vote requests n answered not granted, holding
// no raft log (voteGuard).
func (n *Node) VotesWithheld() uint64 { return n.votesWithheld.Load() }

// NewBoundedLogCache is the log store a node gives raft, over store (its
// file at path).
func NewBoundedLogCache(capacity int, store raft.LogStore, path string) (*boundedLogCache, error) {
	return newBoundedLogCache(capacity, store, path)
}

// RefuseLogStores makes n's raft log store fail every batch with err, as
// a disk that stays full does, until called with nil.
func (n *Node) RefuseLogStores(err error) {
	if err == nil {
		n.logCache.refuse.Store(nil)
		return
	}
	n.logCache.refuse.Store(&err)
}

// LogStoreFailed records in n's raft log store that a batch from index
// first failed with err (nil: a batch was stored), as storing does.
func (n *Node) LogStoreFailed(first uint64, err error) {
	_ = n.logCache.note([]*raft.Log{{Index: first}}, err)
}

// CheckStillMember asks the members, as a node that knows no leader does,
// whether n is still one (checkStillMember).
func (n *Node) CheckStillMember(ctx context.Context) (leaderAnswered bool, err error) {
	return n.checkStillMember(ctx)
}

// StillMemberAsked is how many times n, knowing no leader, asked the
// members whether it is still one (watchStillMember).
func (n *Node) StillMemberAsked() uint64 { return n.stillMemberAsked.Load() }

// HeartbeatTimeout is the heartbeat timeout raft runs with now.
func (n *Node) HeartbeatTimeout() time.Duration { return n.raft.ReloadableConfig().HeartbeatTimeout }
