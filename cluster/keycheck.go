package cluster

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// keyCheckEvery is how often a follower checks that the leader takes its
// cluster key (and at once when the leader changes).
const keyCheckEvery = 10 * time.Second

// keyRefusal is a leader's refusal of this node's cluster key.
type keyRefusal struct {
	leader, addr string
}

func (r *keyRefusal) String() string {
	return fmt.Sprintf("the leader %s (%s) refuses this node's cluster key: set the cluster's --cluster-key (MUSTER_CLUSTER_KEY) on this node and restart it", r.leader, r.addr)
}

// keyState is what the last check of the leader's answer to this node's
// key found: nil while it was taken or not known.
type keyState struct{ refused atomic.Pointer[keyRefusal] }

// watchKey checks, while this node follows, that the leader takes its
// cluster key over HTTP, where every write and default read it forwards
// goes; it is not ready while not (Ready), and says so in its log. (A node
// with another key cannot follow at all: the raft handshake refuses it.)
func (n *Node) watchKey() {
	defer n.wg.Done()
	t := time.NewTicker(keyCheckEvery)
	defer t.Stop()
	for {
		moved := n.leaderMove.wait()
		n.checkKey()
		select {
		case <-n.stop:
			return
		case <-moved:
		case <-t.C:
		}
	}
}

// checkKey asks the leader for its node-to-node status with this node's key.
func (n *Node) checkKey() {
	if n.IsLeader() || n.cfg.ClusterKey == "" {
		n.keys.refused.Store(nil)
		return
	}
	base, err := n.leaderHTTP()
	if err != nil {
		return // no leader known: Ready says so
	}
	_, leader := n.raft.LeaderWithID()
	ctx, cancel := context.WithTimeout(context.Background(), roomTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/internal/v1/status", nil)
	if err != nil {
		return
	}
	req.Header.Set(ClusterKeyHeader, n.cfg.ClusterKey)
	res, err := n.client.Do(req)
	if err != nil {
		return // unreachable: not a matter of keys
	}
	res.Body.Close()
	switch res.StatusCode {
	case http.StatusForbidden:
		r := &keyRefusal{leader: string(leader), addr: base}
		if old := n.keys.refused.Swap(r); old == nil || *old != *r {
			n.logger.Error("cluster key refused: this node's --cluster-key differs from the cluster's; it forwards nothing and is not ready", "leader", r.leader, "leader_http", r.addr)
		}
	case http.StatusOK:
		if n.keys.refused.Swap(nil) != nil {
			n.logger.Info("cluster key taken by the leader again", "leader", string(leader))
		}
	}
}

// keyRefused is the leader's refusal of this node's key, or nil.
func (n *Node) keyRefused() *keyRefusal { return n.keys.refused.Load() }
