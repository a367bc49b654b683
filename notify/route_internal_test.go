package notify

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
)

// The dispatcher and the escalator each keep a state for the same route;
// together they keep to the account's rate. 20 sends at 10 a second, taken
// in turn by the two, take about 1.9 s; each with a limiter of its own, they
// took half that, and the account got twice its rate.
func TestARouteKeepsItsRateForAllThatSendOnIt(t *testing.T) {
	r := &Route{Name: "live", Account: "AC1", PerSecond: 10}
	dispatcher, escalator := newRouteState(r), newRouteState(r)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	for i := range 20 {
		rs := dispatcher
		if i%2 == 1 {
			rs = escalator
		}
		_, err := rs.take(ctx, muster.SystemClock{})
		require.NoError(t, err)
	}
	took := time.Since(start)
	t.Logf("20 sends at 10/s across two senders' states took %s", took)
	assert.GreaterOrEqual(t, took, 1800*time.Millisecond)
}
