package cluster_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
)

// A leader that closes ends its leader services with muster.ErrClosing
// and waits for them while it still leads: what a service writes as it
// finishes commits, and only then is leadership handed over. A killed
// leader's services just stop, with no such cause; nor does losing
// leadership give one.
func TestClosingLeaderLetsServicesFinish(t *testing.T) {
	type end struct {
		node    string
		closing bool
		wrote   error
	}
	var (
		mu   sync.Mutex
		ends []end
	)
	c := clustertest.New(t, 3, clustertest.Options{Setup: func(i int, n *cluster.Node) {
		kv(i, n)
		n.OnLeader(func(ctx context.Context) {
			<-ctx.Done()
			e := end{node: n.ID(), closing: errors.Is(context.Cause(ctx), muster.ErrClosing)}
			if e.closing {
				wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				e.wrote = put(muster.LeaderOnly(wctx), n, "finished-by", n.ID())
				cancel()
			}
			mu.Lock()
			ends = append(ends, e)
			mu.Unlock()
		})
	}})
	ended := func() []end {
		mu.Lock()
		defer mu.Unlock()
		return append([]end(nil), ends...)
	}

	first := c.Leader()
	c.Stop(first)
	require.Len(t, ended(), 1, "Close returned after the service")
	assert.Equal(t, end{node: first.Node.ID(), closing: true}, ended()[0], "it finished as the leader")
	second := c.WaitLeader(10 * time.Second)
	v, ok := get(t, second.Node, muster.Default, "finished-by")
	assert.True(t, ok)
	assert.Equal(t, first.Node.ID(), v)

	c.Kill(second)
	waitFor(t, 10*time.Second, func() bool { return len(ended()) == 2 })
	assert.Equal(t, end{node: second.Node.ID()}, ended()[1], "a kill gives no closing cause")
}
