package twiliosim

import (
	"container/heap"
	"context"
	"net/url"
	"sync"
	"time"
)

type eventKind uint8

const (
	evAdvance  eventKind = iota // move a message to its next status
	evCallback                  // post a status callback (first try or retry)
	evReply                     // post an inbound SMS (first try or retry)
	evCall                      // move a call to its next step
)

// event is one piece of scheduled work. A message has at most one pending
// evAdvance and a call at most one pending evCall, so the heap holds at most
// one step per live message or call plus the webhooks in retry.
type event struct {
	at      time.Time
	seq     uint64 // FIFO among equal times
	kind    eventKind
	sid     string
	account string
	url     string
	method  string // of a webhook: GET or POST (empty)
	form    url.Values
	attempt int
}

type eventHeap []*event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(*event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

// scheduler runs events at their time on a fixed pool of workers: one timer
// goroutine pops due events from a heap and hands them over a bounded channel.
type scheduler struct {
	mu   sync.Mutex
	h    eventHeap
	seq  uint64
	wake chan struct{}
	work chan *event
	run  func(context.Context, *event)
	// active counts events popped from the heap whose run has not ended.
	active int
}

func newScheduler(workers int, run func(context.Context, *event)) *scheduler {
	return &scheduler{
		wake: make(chan struct{}, 1),
		work: make(chan *event, workers*4),
		run:  run,
	}
}

// add schedules e; it never blocks on the workers.
func (s *scheduler) add(e *event) {
	s.mu.Lock()
	s.seq++
	e.seq = s.seq
	heap.Push(&s.h, e)
	first := s.h[0] == e
	s.mu.Unlock()
	if first {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// pending counts the events scheduled or running: zero means every status
// change and webhook so far has been carried out (a retry scheduled by a
// running event is counted before that event ends).
func (s *scheduler) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.h) + s.active
}

// start runs the timer loop and workers until ctx ends; wg tracks them all.
func (s *scheduler) start(ctx context.Context, wg *sync.WaitGroup, workers int) {
	wg.Add(1 + workers)
	go func() {
		defer wg.Done()
		s.loop(ctx)
	}()
	for range workers {
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case e := <-s.work:
					s.run(ctx, e)
					s.mu.Lock()
					s.active--
					s.mu.Unlock()
				}
			}
		}()
	}
}

func (s *scheduler) loop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		var due *event
		wait := time.Hour
		if len(s.h) > 0 {
			if d := time.Until(s.h[0].at); d <= 0 {
				due = heap.Pop(&s.h).(*event)
				s.active++
			} else {
				wait = d
			}
		}
		s.mu.Unlock()
		if due != nil {
			select {
			case s.work <- due:
			case <-ctx.Done():
				return
			}
			continue
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		}
	}
}
