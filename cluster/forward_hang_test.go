package cluster_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
)

// TestAReadThroughAFollowerGoesOnToTheNextLeader: a follower's read asks
// the leader for its read index, and the leader hangs on it. When the
// leader is replaced (it hands over and stops) the follower abandons the
// request and asks the next leader, and the read succeeds, where it waited
// out its deadline on the hung leader. When the leader is killed with the
// request in hand (the connection reset), the read, which changes nothing,
// is asked of the next leader too, instead of failing as a write whose
// outcome is unknown would.
func TestAReadThroughAFollowerGoesOnToTheNextLeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		lose func(c *clustertest.Cluster, m *clustertest.Member)
	}{
		{"replaced", func(_ *clustertest.Cluster, m *clustertest.Member) { require.NoError(t, m.Node.Close()) }},
		{"killed", func(c *clustertest.Cluster, m *clustertest.Member) { c.Kill(m) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hang atomic.Int64 // the index of the node whose read indexes hang, +1
			var held atomic.Int64
			c := clustertest.New(t, 3, clustertest.Options{Setup: kv,
				Config: func(_ int, cfg *cluster.Config) {
					cluster.SpeakUnsealed(cfg) // node-to-node requests go to the HTTP addresses, where the test holds them
				},
				Handler: func(i int, n *cluster.Node) http.Handler {
					h := n.InternalHandler()
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if int64(i)+1 == hang.Load() && r.URL.Path == "/internal/v1/read-index" {
							held.Add(1)
							<-r.Context().Done() // hangs until the caller gives up
							return
						}
						h.ServeHTTP(w, r)
					})
				}})
			leader := c.WaitLeader(10 * time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			require.NoError(t, put(ctx, leader.Node, "k", "v"))
			follower := c.Followers()[0]
			hang.Store(int64(leader.Index) + 1)

			type read struct {
				v   string
				err error
				at  time.Duration
			}
			done := make(chan read, 1)
			start := time.Now()
			go func() {
				v, _, err := lookup(follower.Node, muster.Default, "k")
				done <- read{v, err, time.Since(start)}
			}()
			waitFor(t, 10*time.Second, func() bool { return held.Load() > 0 })
			tc.lose(c, leader)
			select {
			case r := <-done:
				require.NoError(t, r.err)
				assert.Equal(t, "v", r.v)
				t.Logf("read answered %v after it started, by the next leader", r.at.Round(time.Millisecond))
			case <-ctx.Done():
				t.Fatal("the read did not come back")
			}
		})
	}
}
