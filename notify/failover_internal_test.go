package notify

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster/clustertest"
)

// After the fallback's minute the first account is tried again; until it
// takes a send, one outage error moves the sends back at once. The few
// sends that came after the minute (a backup called up, a retry) spent
// their attempts on an account still down while waiting for ten in a row,
// and ended failed with a healthy fallback (exploratory finding F2).
func TestAFailedOverRouteGoesBackAtTheFirstOutageUntilTheAccountTakesASend(t *testing.T) {
	rs := newRouteState(&Route{Name: "live", Account: "AC1", Fallback: &Route{Name: "live-fallback", Account: "AC2"}})
	now := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	const after, hold = 10, time.Minute
	for i := 1; i < after; i++ {
		assert.False(t, rs.outcome(now, true, after, hold), "outage %d of %d", i, after)
	}
	assert.True(t, rs.outcome(now, true, after, hold), "the tenth in a row fails over")
	assert.Same(t, rs.fallback, rs.current(now.Add(time.Second)))
	assert.False(t, rs.outcome(now.Add(time.Second), true, after, hold), "while failed over: nothing more")

	now = now.Add(hold + time.Second)
	assert.Same(t, rs, rs.current(now), "the minute is over: the first account is tried")
	assert.True(t, rs.outcome(now, true, after, hold), "still down: back to the fallback at its first outage")
	assert.Same(t, rs.fallback, rs.current(now))

	now = now.Add(hold + time.Second)
	assert.False(t, rs.outcome(now, false, after, hold), "it takes a send")
	for i := 1; i < after; i++ {
		assert.False(t, rs.outcome(now, true, after, hold), "back to ten in a row: outage %d", i)
	}
	assert.True(t, rs.outcome(now, true, after, hold))
}

// A fallback that fails too (down, or refusing a stale token) ends the
// failover after as many outages in a row as started it: the first account
// may be back, and every send on the fallback spent an attempt for nothing
// while the minute ran (exploratory finding F4). The probation stays: the
// first account's next outage moves the sends back.
func TestAFailingFallbackEndsTheFailover(t *testing.T) {
	rs := newRouteState(&Route{Name: "live", Account: "AC1", Fallback: &Route{Name: "live-fallback", Account: "AC2"}})
	now := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	const after, hold = 10, time.Minute
	for range after {
		rs.outcome(now, true, after, hold)
	}
	require.Same(t, rs.fallback, rs.current(now), "failed over")
	for i := 1; i < after; i++ {
		assert.False(t, rs.fallbackOutcome(now, true, after), "fallback outage %d", i)
	}
	assert.False(t, rs.fallbackOutcome(now, false, after), "the fallback takes one: the count starts again")
	for i := 1; i < after; i++ {
		assert.False(t, rs.fallbackOutcome(now, true, after), "fallback outage %d", i)
	}
	assert.True(t, rs.fallbackOutcome(now, true, after), "ten in a row on the fallback")
	assert.Same(t, rs, rs.current(now), "back on the first account before the minute is over")
	assert.True(t, rs.outcome(now, true, after, hold), "its next outage moves the sends back at once")
	assert.Same(t, rs.fallback, rs.current(now))
}

// An outage of the account (5xx, no answer, a refused account) gets
// MaxOutageAttempts per recipient, not MaxAttempts: six attempts, about a
// minute with the default backoff, ended every recipient of a call-up
// opened during a provider incident of a minute failed for good
// (exploratory finding F5). A temporary error of the number keeps
// MaxAttempts.
func TestAnOutageGetsMoreAttemptsThanANumbersTemporaryError(t *testing.T) {
	d := &Dispatcher{cfg: DispatcherConfig{Clock: muster.SystemClock{}}}
	d.cfg.setDefaults()
	r := &dispatchRun{d: d}
	rs := newRouteState(&Route{Name: "live", Account: "AC1"})
	try := func(n int, err error) ResultItem {
		var item ResultItem
		r.classify(job{act: &actRun{route: rs}, n: n}, rs, &item, Sent{}, err)
		return item
	}
	down := &SendError{HTTPStatus: 503, Temporary: true, Message: "Service Unavailable"}
	refused := &SendError{HTTPStatus: 401, Code: 20003, Temporary: true, Account: true, Message: "Authenticate"}
	full := &SendError{HTTPStatus: 400, Code: 21611, Temporary: true, Message: "queue full"}
	assert.Equal(t, OutcomeRetry, try(6, down).Outcome, "the sixth attempt of an outage is retried")
	assert.Equal(t, OutcomeRetry, try(11, refused).Outcome)
	last := try(12, down)
	assert.Equal(t, OutcomeFailed, last.Outcome, "the twelfth is the last")
	assert.Contains(t, last.Error, "gave up after 12 attempts")
	assert.Equal(t, OutcomeFailed, try(6, full).Outcome, "a number's temporary error: six")
	assert.Equal(t, OutcomeRetry, try(5, full).Outcome)
}

// A refused account is logged at ERROR once a minute per account, saying
// what happens next: for the first account, that its sends move to the
// fallback; for the fallback, that they go back to the first account
// (it said "no fallback account" of a fallback refusing a stale token).
func TestARefusedAccountIsLoggedOnceAMinuteSayingWhatNext(t *testing.T) {
	var out bytes.Buffer
	clock := clustertest.NewClock(time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC))
	d := &Dispatcher{cfg: DispatcherConfig{Clock: clock, Logger: slog.New(slog.NewTextHandler(&out, nil))}}
	d.cfg.setDefaults()
	primary := newRouteState(&Route{Name: "live", Account: "AC1", Fallback: &Route{Name: "live-fallback", Account: "AC2"}})
	refused := &SendError{HTTPStatus: 401, Code: 20003, Temporary: true, Account: true, Message: "Authenticate"}

	d.refused(primary, primary, refused)
	d.refused(primary, primary, refused)
	d.refused(primary, primary.fallback, refused)
	d.refused(primary, primary, &SendError{HTTPStatus: 503, Temporary: true, Message: "down"})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2, "%s", out.String())
	assert.Contains(t, lines[0], "level=ERROR")
	assert.Contains(t, lines[0], "account=AC1")
	assert.Contains(t, lines[0], `then="sends move to the fallback account AC2 after 10 refusals in a row"`)
	assert.Contains(t, lines[1], "account=AC2")
	assert.Contains(t, lines[1], `then="this is the fallback of AC1: sends go back to it after 10 refusals in a row"`)

	clock.Add(time.Minute)
	d.refused(primary, primary, refused)
	assert.Equal(t, 3, strings.Count(out.String(), "level=ERROR"), "a minute later: said again")
}
