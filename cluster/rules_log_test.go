package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
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

// lockedLog is a log the nodes of a test write to from many goroutines.
type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// A node whose members include one with an older muster says so in its
// log, once, naming that member and its rules, and says again when the
// last older member is upgraded: an operator following the journal of an
// upgrade read nothing about it before (exploratory finding U2; only
// muster cluster status said it).
func TestANodeLogsWhereAnUpgradeStands(t *testing.T) {
	var (
		mu    sync.Mutex
		older = true
		log   lockedLog
	)
	c := clustertest.New(t, 2, clustertest.Options{Setup: kv, Config: func(i int, cfg *cluster.Config) {
		mu.Lock()
		defer mu.Unlock()
		if i == 0 {
			cfg.Logger = slog.New(slog.NewTextHandler(&log, nil))
		} else if older {
			cfg.Rules = muster.Rules - 1
		}
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	first, second := c.Nodes[0], c.Nodes[1]
	held := fmt.Sprintf("the cluster applies state-machine rules %d, older than this muster's %d: members %s (%d) run an older muster",
		muster.Rules-1, muster.Rules, second.Node.ID(), muster.Rules-1)
	risen := "every member runs a muster with state-machine rules " + strconv.Itoa(muster.Rules) + ": the cluster applies them from now on"
	writes := 0
	waitLog := func(line string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(log.String(), line); {
			require.True(t, time.Now().Before(deadline), "the first node's log says %q:\n%s", line, log.String())
			writes++
			require.NoError(t, put(ctx, first.Node, fmt.Sprintf("k%d", writes), "v"))
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitLog(held)

	mu.Lock()
	older = false
	mu.Unlock()
	c.Stop(second)
	c.Restart(second)
	waitLog(risen)
	assert.NotContains(t, log.String(), "the cluster applies state-machine rules 1,", "not while a member has yet to record its rules")
	assert.Equal(t, 1, strings.Count(log.String(), held), "said once")
	assert.Equal(t, 1, strings.Count(log.String(), risen), "said once")
	assert.Equal(t, muster.Rules, first.Node.Status().Rules)
}
