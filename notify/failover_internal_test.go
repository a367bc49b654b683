package notify

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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
