package notify

import (
	"context"
	"errors"
	"sync"
	"time"
)

// batcher groups items submitted one at a time into batches: a batch is due
// when it holds max items or delay after its first item, and up to parallel
// batches are flushed at once; a due batch that waits for a free flush keeps
// growing up to max. So many small submissions cost a few raft entries
// (group commit), more items to an entry the busier the node. Each submitter
// learns its own item's result.
type batcher[T, R any] struct {
	max      int
	delay    time.Duration
	flush    func(ctx context.Context, items []T) ([]R, error)
	in       chan batchReq[T, R]
	due      chan struct{} // Due: the batch waiting now goes without waiting out delay
	slots    chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once
	stop     chan struct{}
	// closing is held for writing while Close marks the batcher closed, so
	// no Submit puts an item in after the loop's last look at in.
	closing sync.RWMutex
	closed  bool
	ctx     context.Context
	cancel  context.CancelFunc
}

type batchReq[T, R any] struct {
	item T
	done func(R, error)
}

// newBatcher starts a batcher; Close stops it.
func newBatcher[T, R any](max int, delay time.Duration, parallel int, flush func(context.Context, []T) ([]R, error)) *batcher[T, R] {
	ctx, cancel := context.WithCancel(context.Background())
	b := &batcher[T, R]{max: max, delay: delay, flush: flush, in: make(chan batchReq[T, R], max*parallel),
		due: make(chan struct{}, 1), slots: make(chan struct{}, parallel), stop: make(chan struct{}), ctx: ctx, cancel: cancel}
	b.wg.Add(1)
	go b.loop()
	return b
}

// Submit queues item; done is called once with its result, from another
// goroutine. It blocks while the queue is full and fails when ctx ends or the
// batcher is closed.
func (b *batcher[T, R]) Submit(ctx context.Context, item T, done func(R, error)) error {
	b.closing.RLock()
	defer b.closing.RUnlock()
	if b.closed {
		return errBatcherClosed
	}
	select {
	case b.in <- batchReq[T, R]{item, done}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Do submits item and waits for its result.
func (b *batcher[T, R]) Do(ctx context.Context, item T) (R, error) {
	type res struct {
		r   R
		err error
	}
	ch := make(chan res, 1)
	if err := b.Submit(ctx, item, func(r R, err error) { ch <- res{r, err} }); err != nil {
		var zero R
		return zero, err
	}
	select {
	case x := <-ch:
		return x.r, x.err
	case <-ctx.Done():
		var zero R
		return zero, ctx.Err()
	}
}

var errBatcherClosed = errors.New("batcher closed")

// Due tells the batcher that nothing more is coming soon: what has been
// submitted so far goes as soon as a flush slot is free, without waiting
// out delay. A submitter that knows it was the last of a burst calls it
// after its Submit.
func (b *batcher[T, R]) Due() {
	select {
	case b.due <- struct{}{}:
	default: // already asked
	}
}

// Close stops taking items, flushes what was queued and waits for the
// flushes to end.
func (b *batcher[T, R]) Close() {
	b.stopOnce.Do(func() {
		b.closing.Lock()
		b.closed = true
		close(b.stop)
		b.closing.Unlock()
	})
	b.wg.Wait()
	b.cancel()
}

func (b *batcher[T, R]) loop() {
	defer b.wg.Done()
	var (
		batch   []batchReq[T, R]
		timer   *time.Timer
		timeout <-chan time.Time
		ready   bool // the batch is due: full, or delay has passed
	)
	launch := func() {
		items := batch
		batch, ready, timeout = nil, false, nil
		if timer != nil {
			timer.Stop()
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer func() { <-b.slots }()
			b.run(items)
		}()
	}
	for {
		// A due batch goes as soon as a flush slot is free. While every slot
		// is busy it keeps taking items up to max, so under load batches
		// grow with the time a commit takes instead of staying delay long;
		// a full batch stops taking them (back-pressure on submitters).
		var slot chan<- struct{}
		if ready {
			slot = b.slots
		}
		in := b.in
		if len(batch) >= b.max {
			in = nil
		}
		select {
		case r := <-in:
			batch = append(batch, r)
			if len(batch) == 1 {
				timer = time.NewTimer(b.delay)
				timeout = timer.C
			}
			ready = ready || len(batch) >= b.max
		case <-timeout:
			timeout, ready = nil, true
		case <-b.due:
			// Take what was submitted before Due was called, then go.
		take:
			for len(batch) < b.max {
				select {
				case r := <-b.in:
					batch = append(batch, r)
				default:
					break take
				}
			}
			ready = len(batch) > 0
		case slot <- struct{}{}:
			launch()
		case <-b.stop:
			for {
				select {
				case r := <-b.in:
					batch = append(batch, r)
					if len(batch) >= b.max {
						b.slots <- struct{}{}
						launch()
					}
				default:
					if len(batch) > 0 {
						b.slots <- struct{}{}
						launch()
					}
					return
				}
			}
		}
	}
}

func (b *batcher[T, R]) run(reqs []batchReq[T, R]) {
	items := make([]T, len(reqs))
	for i, r := range reqs {
		items[i] = r.item
	}
	results, err := b.flush(b.ctx, items)
	for i, r := range reqs {
		var res R
		if err == nil && i < len(results) {
			res = results[i]
		}
		r.done(res, err)
	}
}
