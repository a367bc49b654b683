package cluster_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
)

// A rolling upgrade from a muster that authenticates node-to-node traffic
// without encrypting it: before, what a write carries crosses the network
// readable, in raft's log entries and in the request a follower forwards
// to the leader; once every member runs a muster that encrypts, it is on
// no connection any node opens, nor is any node-to-node request in the
// clear, and writes through every node still land on every node.
func TestNodeToNodeTrafficIsEncrypted(t *testing.T) {
	var mu sync.Mutex
	older := map[int]bool{0: true, 1: true, 2: true}
	w := &wire{}
	c := clustertest.New(t, 3, clustertest.Options{Setup: kv, Config: func(i int, cfg *cluster.Config) {
		mu.Lock()
		defer mu.Unlock()
		cfg.Dial = w.dial
		if older[i] {
			cluster.SpeakUnsealed(cfg)
		}
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	writes := 0
	// throughEach writes a value naming the write through every node, and
	// returns the values; each is then read on every node.
	throughEach := func(when string) []string {
		t.Helper()
		c.WaitLeader(15 * time.Second)
		var values []string
		for _, m := range c.Nodes {
			writes++
			k, v := fmt.Sprintf("k%d", writes), fmt.Sprintf("张三 +8613800%06d %s", writes, strings.Repeat("x", 8))
			require.NoError(t, put(ctx, m.Node, k, v), "%s: a write through node%d", when, m.Index)
			values = append(values, v)
		}
		return values
	}
	throughEach("all older")
	w.record(true)
	plain := throughEach("all older, recorded")
	sent := w.String()
	w.record(false)
	for _, v := range plain {
		assert.Contains(t, sent, v, "before, the write is readable on the wire")
	}
	assert.Contains(t, sent, "/internal/v1/apply", "before, forwarded writes are HTTP requests in the clear")
	for _, m := range c.Nodes {
		assert.False(t, m.Node.Status().Encrypted, "node%d says it does not encrypt", m.Index)
	}

	upgradeEach(c, &mu, older, func(when string) { throughEach(when) })
	require.Eventually(t, func() bool {
		for _, m := range c.Nodes {
			if st := m.Node.Status(); st.Rules < cluster.SealedRules || !st.Encrypted {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond, "every node encrypts once every member's record says it can")

	w.record(true)
	sealed := throughEach("all encrypting, recorded")
	sent = w.String()
	w.record(false)
	assert.Greater(t, len(sent), 1000, "the writes were recorded")
	for _, v := range sealed {
		assert.NotContains(t, sent, v, "the write is on no connection in the clear")
	}
	assert.NotContains(t, sent, "/internal/v1/", "no node-to-node request in the clear")
	assert.NotContains(t, sent, "张三", "no name in the clear")
	for _, m := range c.Nodes {
		for i, v := range sealed {
			require.Eventually(t, func() bool {
				got, _ := get(t, m.Node, muster.Stale, fmt.Sprintf("k%d", writes-len(sealed)+1+i))
				return got == v
			},
				10*time.Second, 20*time.Millisecond, "node%d has write %d", m.Index, i)
		}
	}
}

// upgradeEach restarts the three nodes of c one by one, the leader last,
// each no longer older (their Config reads older under mu), calling after
// once each is back.
func upgradeEach(c *clustertest.Cluster, mu *sync.Mutex, older map[int]bool, after func(when string)) {
	for _, i := range []int{1, 2, 0} { // the leader last
		m := c.Nodes[i]
		c.Stop(m)
		mu.Lock()
		older[i] = false
		mu.Unlock()
		c.Restart(m)
		after(fmt.Sprintf("node%d upgraded", i))
	}
}

// BenchmarkForwardedWrites writes through a follower of a 3-node cluster
// (each write forwarded to the leader, then replicated), 16 at a time,
// with node-to-node traffic encrypted and, for comparison, as before
// rules 13 (authenticated only).
func BenchmarkForwardedWrites(b *testing.B) {
	for _, sealed := range []bool{false, true} {
		b.Run(fmt.Sprintf("encrypted=%v", sealed), func(b *testing.B) {
			c := clustertest.New(b, 3, clustertest.Options{Setup: kv, Config: func(i int, cfg *cluster.Config) {
				if !sealed {
					cluster.SpeakUnsealed(cfg)
				}
			}})
			require.Eventually(b, func() bool {
				for _, m := range c.Nodes {
					if m.Node.Status().Encrypted != sealed {
						return false
					}
				}
				return true
			}, 20*time.Second, 50*time.Millisecond)
			var follower *cluster.Node
			for _, m := range c.Nodes {
				if !m.Node.IsLeader() {
					follower = m.Node
					break
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			value := strings.Repeat("张三 +8613800000000 ", 8)
			b.ResetTimer()
			var wg sync.WaitGroup
			next := make(chan int)
			errs := make(chan error, 16)
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					failed := false
					for i := range next { // drained to the end, failed or not
						if failed {
							continue
						}
						if err := put(ctx, follower, fmt.Sprintf("w%d", i), value); err != nil {
							errs <- err
							failed = true
						}
					}
				}()
			}
			for i := range b.N {
				next <- i
			}
			close(next)
			wg.Wait()
			b.StopTimer()
			close(errs)
			for err := range errs {
				require.NoError(b, err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
	}
}
