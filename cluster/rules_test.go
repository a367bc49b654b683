package cluster_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
)

// A rolling upgrade: while one member runs an older muster (rules 1), the
// leader stamps every command with rules 1, so all members apply it alike;
// once that member runs the newer muster too, commands carry the newer
// rules, and every member applied each entry under the same rules.
func TestRulesRiseOnceEveryMemberHasThem(t *testing.T) {
	var mu sync.Mutex
	older := map[int]bool{2: true}
	// Each member records the rules of every command it applied, by index.
	seen := map[int]map[uint64]int{}
	c := clustertest.New(t, 3, clustertest.Options{
		Config: func(i int, cfg *cluster.Config) {
			mu.Lock()
			defer mu.Unlock()
			if older[i] {
				cfg.Rules = 1
			}
		},
		Setup: func(i int, n *cluster.Node) {
			n.Handle("test.rules", func(_ *bolt.Tx, c *muster.Command) (any, error) {
				mu.Lock()
				defer mu.Unlock()
				if seen[i] == nil {
					seen[i] = map[uint64]int{}
				}
				seen[i][c.Index] = c.Rules
				return c.Rules, nil
			})
		},
	})
	rulesNow := func() int {
		var r int
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, c.WaitLeader(15*time.Second).Node.Apply(ctx, &muster.Command{Type: "test.rules", Actor: "test"}, &r))
		return r
	}
	// Every member's record says its rules (followers forward theirs).
	require.Eventually(t, func() bool {
		st := c.WaitLeader(15 * time.Second).Node.Status()
		got := map[string]int{}
		for _, s := range st.Servers {
			got[s.ID] = s.Rules
		}
		return got["node0"] == muster.Rules && got["node1"] == muster.Rules && got["node2"] == 1
	}, 20*time.Second, 50*time.Millisecond, "members record their rules")
	assert.Equal(t, 1, rulesNow(), "an older member holds the cluster at its rules")
	assert.Equal(t, 1, c.WaitLeader(15*time.Second).Node.Status().Rules)

	// node2 is upgraded: stopped, and started again with the newer muster.
	m := c.Nodes[2]
	c.Stop(m)
	mu.Lock()
	older[2] = false
	mu.Unlock()
	c.Restart(m)
	require.Eventually(t, func() bool { return rulesNow() == muster.Rules }, 20*time.Second, 100*time.Millisecond,
		"the leader stamps the newer rules once every member has them")
	assert.Equal(t, muster.Rules, c.WaitLeader(15*time.Second).Node.Status().Rules)

	// Every member applied every entry under the rules it was stamped with.
	last := c.WaitLeader(15 * time.Second).Node.Status().CommitIndex
	c.WaitApplied(last, 20*time.Second)
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, seen[0])
	for i := 1; i < 3; i++ {
		for idx, r := range seen[0] {
			if got, ok := seen[i][idx]; ok {
				assert.Equal(t, r, got, "entry %d on node%d", idx, i)
			}
		}
	}
	rules := map[int]int{}
	for _, r := range seen[0] {
		rules[r]++
	}
	assert.Positive(t, rules[1], "commands under rules 1 while node2 was older")
	assert.Positive(t, rules[muster.Rules], "commands under the newer rules after")
}

// A member joining with the newest muster does not lower the rules for a
// moment: its record, with its rules, is there before it is a voter, and
// the leader reads the records again only once they are committed. Every
// command stamped while two members join carries the newest rules.
func TestJoiningMembersKeepTheRules(t *testing.T) {
	var mu sync.Mutex
	stamped := map[int]int{}
	c := clustertest.New(t, 1, clustertest.Options{
		Setup: func(i int, n *cluster.Node) {
			n.Handle("test.rules", func(_ *bolt.Tx, c *muster.Command) (any, error) { return c.Rules, nil })
		},
	})
	leader := c.WaitLeader(15 * time.Second).Node
	require.Eventually(t, func() bool { return leader.Status().Rules == muster.Rules }, 10*time.Second, 20*time.Millisecond)

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			var r int
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := leader.Apply(ctx, &muster.Command{Type: "test.rules", Actor: "test"}, &r)
			cancel()
			if err == nil {
				mu.Lock()
				stamped[r]++
				mu.Unlock()
			}
		}
	}()
	c.Add()
	c.Add()
	close(stop)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("the command loop did not stop")
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("commands by the rules stamped: %v", stamped)
	assert.Positive(t, stamped[muster.Rules])
	assert.Len(t, stamped, 1, "every command under rules %d", muster.Rules)
	assert.Len(t, leader.Status().Servers, 3)
}
