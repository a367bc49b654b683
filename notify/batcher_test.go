package notify

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gatedFlush is a flush function that reports each batch it is given and
// returns only when the test lets it.
type gatedFlush struct {
	started chan []int
	release chan struct{}
}

func newGatedFlush() *gatedFlush {
	return &gatedFlush{started: make(chan []int, 16), release: make(chan struct{}, 16)}
}

func (g *gatedFlush) flush(_ context.Context, items []int) ([]int, error) {
	g.started <- slices.Clone(items)
	<-g.release
	out := make([]int, len(items))
	for i, v := range items {
		out[i] = v * 10
	}
	return out, nil
}

// closeWith lets every flush still waiting end, then closes b, when the
// test ends, also when it fails half-way.
func (g *gatedFlush) closeWith(t *testing.T, b *batcher[int, int]) {
	t.Cleanup(func() {
		close(g.release)
		b.Close()
	})
}

func (g *gatedFlush) next(t *testing.T) []int {
	t.Helper()
	select {
	case items := <-g.started:
		return items
	case <-time.After(10 * time.Second):
		t.Fatal("no batch flushed within 10 s")
		return nil
	}
}

// collect submits items and gathers what each submitter is told.
type collect struct {
	mu  sync.Mutex
	got map[int]int
	wg  sync.WaitGroup
}

func (c *collect) submit(t *testing.T, b *batcher[int, int], items ...int) {
	t.Helper()
	for _, v := range items {
		c.wg.Add(1)
		require.NoError(t, b.Submit(t.Context(), v, func(r int, err error) {
			defer c.wg.Done()
			assert.NoError(t, err)
			c.mu.Lock()
			c.got[v] = r
			c.mu.Unlock()
		}))
	}
}

func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "%s: not within 10 s", what)
		time.Sleep(time.Millisecond)
	}
}

func TestBatcherGrowsADueBatchWhileEveryFlushIsBusy(t *testing.T) {
	g := newGatedFlush()
	// No delay: every batch is due as soon as it has an item.
	b := newBatcher(100, 0, 1, g.flush)
	g.closeWith(t, b)
	c := &collect{got: map[int]int{}}

	// Quiet: one item goes alone, at once.
	c.submit(t, b, 0)
	assert.Equal(t, []int{0}, g.next(t))

	// While that flush (the only one allowed) runs, ten more arrive. Each
	// is due as it arrives, and all wait for the next flush together
	// instead of the first of them going alone.
	c.submit(t, b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	waitCond(t, "the batcher takes the ten items", func() bool { return len(b.in) == 0 })
	g.release <- struct{}{}
	second := g.next(t)
	slices.Sort(second)
	assert.Equal(t, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, second)
	g.release <- struct{}{}

	c.wg.Wait()
	for v := 0; v <= 10; v++ {
		assert.Equal(t, v*10, c.got[v], "item %d is told its own result", v)
	}
}

func TestBatcherNeverExceedsMaxAndFlushesEverythingOnClose(t *testing.T) {
	g := newGatedFlush()
	b := newBatcher(4, time.Hour, 2, g.flush) // only a full batch or Close makes one due
	g.closeWith(t, b)
	c := &collect{got: map[int]int{}}

	c.submit(t, b, 1, 2, 3, 4)
	assert.Len(t, g.next(t), 4, "a full batch goes at once")
	c.submit(t, b, 5, 6, 7, 8, 9)
	assert.Len(t, g.next(t), 4, "the second slot takes the next full batch")
	// Both slots are busy: the ninth item waits in the batch.
	for range 2 {
		g.release <- struct{}{}
	}
	closed := make(chan struct{})
	go func() { b.Close(); close(closed) }()
	assert.Equal(t, []int{9}, g.next(t), "Close flushes what is left")
	g.release <- struct{}{}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return within 10 s")
	}
	c.wg.Wait()
	assert.Len(t, c.got, 9)
	for v := 1; v <= 9; v++ {
		assert.Equal(t, v*10, c.got[v])
	}
	assert.ErrorIs(t, b.Submit(context.Background(), 10, func(int, error) {}), errBatcherClosed)
}

func TestBatcherDueSendsABatchWithoutWaitingOutItsDelay(t *testing.T) {
	g := newGatedFlush()
	b := newBatcher(100, time.Hour, 1, g.flush) // only Due (or a full batch) makes one go
	g.closeWith(t, b)
	c := &collect{got: map[int]int{}}

	c.submit(t, b, 1, 2, 3)
	b.Due() // right after the submits: all three go, none is left behind
	first := g.next(t)
	slices.Sort(first)
	assert.Equal(t, []int{1, 2, 3}, first)
	g.release <- struct{}{}
	c.wg.Wait()

	// Due with nothing waiting makes no empty batch: the next batch to go
	// is the next item's.
	b.Due()
	c.submit(t, b, 4)
	b.Due()
	assert.Equal(t, []int{4}, g.next(t))
	g.release <- struct{}{}
	c.wg.Wait()
	assert.Equal(t, 40, c.got[4])
}
