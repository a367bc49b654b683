package notify

import (
	"context"
	"errors"
	"sync"
	"time"
)

// batcher groups items submitted one at a time into batches: a batch is
// flushed when it holds max items or delay after its first item, and up to
// parallel batches are flushed at once, so many small submissions cost a few
// raft entries (group commit). Each submitter learns its own item's result.
type batcher[T, R any] struct {
	max      int
	delay    time.Duration
	flush    func(ctx context.Context, items []T) ([]R, error)
	in       chan batchReq[T, R]
	slots    chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once
	stop     chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
}

type batchReq[T, R any] struct {
	item T
	done func(R, error)
}

// newBatcher starts a batcher; Close stops it.
func newBatcher[T, R any](max int, delay time.Duration, parallel int, flush func(context.Context, []T) ([]R, error)) *batcher[T, R] {
	ctx, cancel := context.WithCancel(context.Background())
	b := &batcher[T, R]{max: max, delay: delay, flush: flush, in: make(chan batchReq[T, R], max*parallel),
		slots: make(chan struct{}, parallel), stop: make(chan struct{}), ctx: ctx, cancel: cancel}
	b.wg.Add(1)
	go b.loop()
	return b
}

// Submit queues item; done is called once with its result, from another
// goroutine. It blocks while the queue is full and fails when ctx ends or the
// batcher is closed.
func (b *batcher[T, R]) Submit(ctx context.Context, item T, done func(R, error)) error {
	select {
	case b.in <- batchReq[T, R]{item, done}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-b.stop:
		return errBatcherClosed
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

// Close stops taking items, flushes what was queued and waits for the
// flushes to end.
func (b *batcher[T, R]) Close() {
	b.stopOnce.Do(func() { close(b.stop) })
	b.wg.Wait()
	b.cancel()
}

func (b *batcher[T, R]) loop() {
	defer b.wg.Done()
	var batch []batchReq[T, R]
	var timer *time.Timer
	var timeout <-chan time.Time
	send := func() {
		if len(batch) == 0 {
			return
		}
		b.slots <- struct{}{}
		items := batch
		batch = nil
		timeout = nil
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
		select {
		case r := <-b.in:
			batch = append(batch, r)
			if len(batch) == 1 {
				timer = time.NewTimer(b.delay)
				timeout = timer.C
			}
			if len(batch) >= b.max {
				send()
			}
		case <-timeout:
			send()
		case <-b.stop:
			for {
				select {
				case r := <-b.in:
					batch = append(batch, r)
					if len(batch) >= b.max {
						send()
					}
				default:
					send()
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
