package api

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/plans"
)

// TestSharedReadsStartAfterTheRequest: twenty requests come while a read
// is under way. None may take that read (it started before they came);
// they all take the one read started after it, whatever order they reach
// it in. A later request within the same read's life takes it too.
func TestSharedReadsStartAfterTheRequest(t *testing.T) {
	var calls atomic.Int64
	first := make(chan struct{})
	waiting := prometheus.NewGauge(prometheus.GaugeOpts{Name: "waiting"})
	s := newSharedReads(func(ctx context.Context, _ muster.Consistency, id plans.ActivationID) (int64, error) {
		n := calls.Add(1)
		if n == 1 {
			<-first
		}
		return n, nil
	}, waiting)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	firstGot := make(chan int64, 1)
	go func() {
		r, err := s.get(ctx, muster.Default, "A000001", time.Now())
		assert.NoError(t, err)
		firstGot <- r.v
	}()
	got := make(chan int64, 20)
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 5*time.Second, time.Millisecond)
	var wg sync.WaitGroup
	for range 20 {
		arrived := time.Now() // after the first read started
		wg.Go(func() {
			r, err := s.get(ctx, muster.Default, "A000001", arrived)
			assert.NoError(t, err)
			got <- r.v
		})
	}
	require.Eventually(t, func() bool { return testutil.ToFloat64(waiting) == 21 }, 5*time.Second, time.Millisecond,
		"every request waits for a read")
	close(first)
	wg.Wait()
	assert.Equal(t, int64(1), <-firstGot, "the first request takes the read it started")
	for range 20 {
		assert.Equal(t, int64(2), <-got, "a request takes a read started after it came")
	}
	assert.Equal(t, int64(2), calls.Load())
	assert.Zero(t, testutil.ToFloat64(waiting), "none waits once all are answered")

	// Another level or activation is another read.
	r, err := s.get(ctx, muster.Stale, "A000001", time.Time{})
	require.NoError(t, err)
	assert.Equal(t, int64(3), r.v)
	r, err = s.get(ctx, muster.Default, "A000002", time.Time{})
	require.NoError(t, err)
	assert.Equal(t, int64(4), r.v)
	// A request that allows an older read takes the latest one done.
	r, err = s.get(ctx, muster.Default, "A000001", time.Time{})
	require.NoError(t, err)
	assert.Equal(t, int64(2), r.v)
}

// TestSharedReadOutlivesItsStarter: the client whose request started a
// read goes away; the read goes on for the others, and its error, if any,
// is theirs.
func TestSharedReadOutlivesItsStarter(t *testing.T) {
	release := make(chan struct{})
	failing := errors.New("the state could not be read")
	s := newSharedReads(func(ctx context.Context, _ muster.Consistency, _ plans.ActivationID) (int, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		return 0, failing
	}, prometheus.NewGauge(prometheus.GaugeOpts{Name: "waiting"}))
	gone, leave := context.WithCancel(context.Background())
	started := time.Now()
	errs := make(chan error, 2)
	go func() {
		_, err := s.get(gone, muster.Stale, "A000001", started)
		errs <- err
	}()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := s.get(ctx, muster.Stale, "A000001", started)
		errs <- err
	}()
	leave()
	assert.ErrorIs(t, <-errs, context.Canceled, "the client that went away")
	close(release)
	assert.ErrorIs(t, <-errs, failing, "the other gets the read's own outcome")
}

// TestSharedReadPanicIsAnError: a read that panics fails the requests that
// share it, as a panic in a handler would, and the process goes on.
func TestSharedReadPanicIsAnError(t *testing.T) {
	s := newSharedReads(func(context.Context, muster.Consistency, plans.ActivationID) (int, error) {
		panic("a board of no grids")
	}, prometheus.NewGauge(prometheus.GaugeOpts{Name: "waiting"}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := s.get(ctx, muster.Stale, "A000001", time.Now())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "panic reading activation A000001: a board of no grids")
}
