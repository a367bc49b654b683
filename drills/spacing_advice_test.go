package drills_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
)

// A cron refused for runs closer than their length offers a shorter
// length only when a length a schedule may have (at least 15m) fits
// between every two starts, and then says which lengths do: at 15m long
// and due every minute only spacing the due times helps.
func TestSpacingRefusalOffersOnlyALengthThatFits(t *testing.T) {
	e := newClockedEnv(t, 1, 50, nil)
	ctx := testCtx(t)
	for _, tc := range []struct {
		name, cron, length string
		advice             string // "": no shorter length offered
	}{
		{name: "every minute, 15m long", cron: "* * * * *", length: "15m"},
		{name: "every 10 minutes, an hour long", cron: "*/10 * * * *"},
		{name: "every half hour, an hour long", cron: "*/30 * * * *", advice: ", or give a length from 15m to 30m"},
		{name: "the shortest gap of a day, not the first", cron: "0,40,55 9 * * *", advice: ", or give a length of 15m"},
		{name: "twice a morning, 2h long", cron: "0 9,10 * * *", length: "2h", advice: ", or give a length from 15m to 1h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := weekly(district)
			in.Cron, in.Length = tc.cron, tc.length
			_, err := e.drills.Schedule(ctx, "trainer", in)
			require.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
			assert.ErrorContains(t, err, "less than a run's length")
			assert.NotContains(t, err.Error(), "shorter length")
			if tc.advice == "" {
				assert.NotContains(t, err.Error(), "or give a length", "no length of at least 15m fits")
				assert.Regexp(t, `space the due times at least \S+ apart$`, err.Error())
				return
			}
			assert.True(t, strings.HasSuffix(err.Error(), tc.advice), "%v", err)
		})
	}
}
