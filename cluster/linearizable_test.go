package cluster_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/anishathalye/porcupine"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
)

// faultNet routes every connection a node opens to a peer (raft and the
// HTTP forwarding to the leader) through a toxiproxy proxy of its own for
// that pair of nodes, made on the first dial. Cutting a node closes and
// refuses, or blackholes, every proxy to and from it: a network partition
// of that node, in both directions, while it keeps running.
type faultNet struct {
	server *toxiproxy.ApiServer
	mu     sync.Mutex
	links  map[string]*faultLink // by "from>upstream"
	owner  map[string]int        // upstream address -> node index
	cut    map[int]string        // node index -> how it is cut: "close" or "blackhole"
}

type faultLink struct {
	from     int
	upstream string
	proxy    *toxiproxy.Proxy
	state    string // "", "close" or "blackhole": what is applied to it now
}

func newFaultNet() *faultNet {
	metrics := toxiproxy.NewMetricsContainer(prometheus.NewRegistry())
	return &faultNet{
		server: toxiproxy.NewServer(metrics, zerolog.Nop()),
		links:  map[string]*faultLink{},
		owner:  map[string]int{},
		cut:    map[int]string{},
	}
}

// own records that addr (host:port) is node i's.
func (f *faultNet) own(i int, addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.owner[strings.TrimPrefix(addr, "http://")] = i
}

// dialer is node from's cluster.Config.Dial.
func (f *faultNet) dialer(from int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		f.mu.Lock()
		key := fmt.Sprintf("%d>%s", from, addr)
		l := f.links[key]
		if l == nil {
			p := toxiproxy.NewProxy(f.server, key, "127.0.0.1:0", addr)
			if err := p.Start(); err != nil {
				f.mu.Unlock()
				return nil, err
			}
			l = &faultLink{from: from, upstream: addr, proxy: p}
			f.links[key] = l
			f.applyLocked(l)
		}
		listen := l.proxy.Listen
		f.mu.Unlock()
		var d net.Dialer
		return d.DialContext(ctx, network, listen)
	}
}

// partition cuts node i off ("close": connections reset and refused;
// "blackhole": connections accepted, nothing delivered).
func (f *faultNet) partition(i int, how string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cut[i] = how
	for _, l := range f.links {
		f.applyLocked(l)
	}
}

// heal reconnects every node.
func (f *faultNet) heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.cut)
	for _, l := range f.links {
		f.applyLocked(l)
	}
}

func (f *faultNet) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.links {
		l.proxy.Stop()
	}
}

func (f *faultNet) applyLocked(l *faultLink) {
	want := f.cut[l.from]
	if to, known := f.owner[l.upstream]; want == "" && known {
		want = f.cut[to]
	}
	if want == l.state {
		return
	}
	switch l.state { // undo what is applied
	case "close":
		if err := l.proxy.Start(); err != nil { // the same port again
			panic(fmt.Sprintf("reopen proxy %s: %v", l.proxy.Name, err))
		}
	case "blackhole":
		for _, s := range []string{"upstream", "downstream"} {
			_ = l.proxy.Toxics.RemoveToxic(context.Background(), "blackhole-"+s)
		}
	}
	switch want {
	case "close":
		l.proxy.Stop()
	case "blackhole":
		for _, s := range []string{"upstream", "downstream"} {
			_, err := l.proxy.Toxics.AddToxicJson(strings.NewReader(
				`{"name":"blackhole-` + s + `","type":"timeout","stream":"` + s + `","toxicity":1,"attributes":{"timeout":0}}`))
			if err != nil {
				panic(fmt.Sprintf("blackhole proxy %s: %v", l.proxy.Name, err))
			}
		}
	}
	l.state = want
}

// faultCluster starts three kv nodes whose connections to each other go
// through a faultNet of their own.
func faultCluster(t *testing.T) (*faultNet, *clustertest.Cluster) {
	t.Helper()
	fn := newFaultNet()
	t.Cleanup(fn.close)
	c := clustertest.New(t, 3, clustertest.Options{Setup: kv, Config: func(i int, cfg *cluster.Config) {
		cfg.Dial = fn.dialer(i)
	}})
	for _, m := range c.Nodes {
		fn.own(m.Index, m.RaftAddr)
		fn.own(m.Index, m.HTTPAddr)
	}
	return fn, c
}

// kvInput and kvOutput are the operations the porcupine model checks: a
// put of a unique value, or a linearizable read.
type kvInput struct {
	put        bool
	key, value string
}

type kvOutput struct {
	value   string
	unknown bool // a put whose outcome the client never learned
}

var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(kvInput).key
			if byKey[k] == nil {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in, out := input.(kvInput), output.(kvOutput)
		if in.put {
			return true, in.value
		}
		return out.value == state.(string), state
	},
	Equal: func(a, b any) bool { return a.(string) == b.(string) },
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		switch {
		case !in.put:
			return fmt.Sprintf("get(%s) -> %q", in.key, out.value)
		case out.unknown:
			return fmt.Sprintf("put(%s, %s) -> ?", in.key, in.value)
		}
		return fmt.Sprintf("put(%s, %s)", in.key, in.value)
	},
}

// TestLinearizableUnderPartitionsAndLeaderLoss runs clients writing and
// reading a few keys through all three nodes while the network cuts nodes
// off (leaders among them) and a leader is killed and restarted, then
// checks with porcupine that the history of acknowledged writes and
// linearizable reads is linearizable. A write that failed may or may not
// have happened; the checker is told so.
func TestLinearizableUnderPartitionsAndLeaderLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test")
	}
	fn, c := faultCluster(t)
	// A restart replaces a member's Node: clients take it under mu.
	var mu sync.RWMutex
	nodeOf := func(i int) *cluster.Node {
		mu.RLock()
		defer mu.RUnlock()
		return c.Nodes[i].Node
	}

	const clients, keys = 6, 8
	duration := 12 * time.Second
	const minOps = 100 // puts acknowledged and linearizable reads, each
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	var (
		histMu            sync.Mutex
		history           []porcupine.Operation
		putsOK, getsOK    atomic.Int64
		putsLost, getsErr atomic.Int64
		stop              = make(chan struct{})
		wg                sync.WaitGroup
	)
	record := func(op porcupine.Operation) {
		histMu.Lock()
		history = append(history, op)
		histMu.Unlock()
	}
	for cl := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(cl), 7))
			for seq := 0; ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				n := nodeOf(cl % len(c.Nodes))
				key := fmt.Sprintf("k%d", rng.IntN(keys))
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				if rng.IntN(10) < 4 {
					in := kvInput{put: true, key: key, value: fmt.Sprintf("c%d-%d", cl, seq)}
					call := now()
					err := put(ctx, n, in.key, in.value)
					ret := now()
					if err != nil {
						// It may have been committed: it may take effect at any
						// time after its call.
						ret = math.MaxInt64
						putsLost.Add(1)
					} else {
						putsOK.Add(1)
					}
					record(porcupine.Operation{ClientId: cl, Input: in, Call: call, Output: kvOutput{unknown: err != nil}, Return: ret})
				} else {
					call := now()
					v, err := linearizableGet(ctx, n, key)
					ret := now()
					if err != nil {
						getsErr.Add(1) // a failed read has no effect
					} else {
						getsOK.Add(1)
						record(porcupine.Operation{ClientId: cl, Input: kvInput{key: key}, Call: call, Output: kvOutput{value: v}, Return: ret})
					}
				}
				cancel()
				if err := ctx.Err(); err != nil {
					time.Sleep(50 * time.Millisecond) // cut off: do not spin
				}
			}
		})
	}

	// The nemesis: cut a node off (the leader two times in three), heal,
	// and once, in the middle, kill the leader and restart it.
	leaders := map[string]bool{}
	rng := rand.New(rand.NewPCG(42, 42))
	killed := false
	round := 0
	// Rounds go on past duration, up to three times it, until enough went
	// through for the check to mean something (below): a machine busy with
	// other tests gets fewer operations through each round.
	enough := func() bool { return putsOK.Load() > minOps && getsOK.Load() > minOps }
	for time.Since(start) < duration || (!enough() && time.Since(start) < 3*duration) {
		round++
		victim := rng.IntN(len(c.Nodes))
		mu.RLock()
		for _, m := range c.Nodes {
			if id, _ := m.Node.Leader(); id != "" {
				leaders[string(id)] = true
				if rng.IntN(3) > 0 && m.Node.IsLeader() {
					victim = m.Index
				}
			}
		}
		mu.RUnlock()
		if !killed && time.Since(start) > duration/2 {
			killed = true
			if l := c.Leader(); l != nil {
				leaders[string(l.Node.ID())] = true
				mu.Lock()
				c.Kill(l)
				mu.Unlock()
				// Down until the others elect a leader of their own (at
				// least 1.5 s, at most 15): sampled only at the rounds'
				// starts, a leader elected while it was down and gone
				// again when it came back was not seen.
				down := time.Now()
				elected := false
				for !elected && time.Since(down) < 15*time.Second {
					time.Sleep(50 * time.Millisecond)
					mu.RLock()
					for _, m := range c.Nodes {
						if m != l && m.Node.IsLeader() {
							leaders[string(m.Node.ID())], elected = true, true
						}
					}
					mu.RUnlock()
				}
				if d := 1500*time.Millisecond - time.Since(down); d > 0 {
					time.Sleep(d)
				}
				mu.Lock()
				c.Restart(l)
				mu.Unlock()
				continue
			}
		}
		how := []string{"close", "blackhole"}[round%2]
		t.Logf("%5.1fs: cut node%d (%s)", time.Since(start).Seconds(), victim, how)
		fn.partition(victim, how)
		time.Sleep(time.Duration(1500+rng.IntN(1000)) * time.Millisecond)
		fn.heal()
		time.Sleep(time.Duration(500+rng.IntN(1000)) * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	fn.heal()
	t.Logf("%5.1fs: clients stopped, network healed", time.Since(start).Seconds())
	for _, m := range c.Nodes {
		if id, _ := m.Node.Leader(); id != "" {
			leaders[string(id)] = true
		}
	}

	t.Logf("%d rounds; puts acknowledged %d, unknown %d; linearizable reads %d, failed %d; leaders seen %d",
		round, putsOK.Load(), putsLost.Load(), getsOK.Load(), getsErr.Load(), len(leaders))
	// The faults did something, and enough got through for the check to mean something.
	require.Greater(t, putsOK.Load(), int64(minOps))
	require.Greater(t, getsOK.Load(), int64(minOps))
	require.Positive(t, putsLost.Load()+getsErr.Load(), "no operation ever failed: the faults did not bite")
	require.GreaterOrEqual(t, len(leaders), 2, "leadership never moved")

	// A write whose answer was lost and that never took effect is left out:
	// told it might have happened at any time, the checker would have to
	// try it everywhere. Healed, and with a write through every node
	// committed after the clients stopped, nothing in flight can still land.
	c.WaitLeader(15 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, m := range c.Nodes {
		require.NoError(t, put(ctx, m.Node, "after", m.Node.ID()))
	}
	applied := map[string]bool{}
	require.NoError(t, nodeOf(0).View(ctx, muster.Linearizable, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("kv-applied")).ForEach(func(k, _ []byte) error {
			applied[string(k)] = true
			return nil
		})
	}))
	kept, dropped := history[:0], 0
	for _, op := range history {
		if out := op.Output.(kvOutput); out.unknown && !applied[op.Input.(kvInput).value] {
			dropped++
			continue
		}
		kept = append(kept, op)
	}
	history = kept
	t.Logf("%d writes with a lost answer never took effect; %d did", dropped, putsLost.Load()-int64(dropped))

	checkStart := time.Now()
	res, info := porcupine.CheckOperationsVerbose(kvModel, history, time.Minute)
	t.Logf("porcupine checked %d operations in %v: %v", len(history), time.Since(checkStart).Round(time.Millisecond), res)
	if res != porcupine.Ok {
		path := filepath.Join(os.TempDir(), fmt.Sprintf("muster-linearizability-%d.html", time.Now().UnixNano()))
		if err := porcupine.VisualizePath(kvModel, info, path); err == nil {
			t.Logf("history visualised in %s", path)
		}
	}
	require.Equal(t, porcupine.Ok, res, "history of %d operations is not linearizable (Unknown: the check timed out)", len(history))

	// Every node converges on the same values.
	var want []string
	for k := range keys {
		v, err := linearizableGet(ctx, nodeOf(0), fmt.Sprintf("k%d", k))
		require.NoError(t, err)
		want = append(want, v)
	}
	for _, m := range c.Nodes {
		for k := range keys {
			v, err := linearizableGet(ctx, m.Node, fmt.Sprintf("k%d", k))
			require.NoError(t, err)
			require.Equal(t, want[k], v, "node%d k%d", m.Index, k)
		}
	}
}

func linearizableGet(ctx context.Context, n *cluster.Node, k string) (string, error) {
	var v []byte
	err := n.View(ctx, muster.Linearizable, func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("kv")); b != nil {
			v = append([]byte(nil), b.Get([]byte(k))...)
		}
		return nil
	})
	return string(v), err
}
