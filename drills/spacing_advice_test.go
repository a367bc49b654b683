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

// An unannounced drill due more than once a day is refused for that, in
// so many words: each due day's run starts at a time picked in the one
// window, where the refusal spoke of due times outside the window, "0s
// apart" and the due day's window (round 25, Y9).
func TestAnUnannouncedDrillDueTwiceADayIsRefusedForThat(t *testing.T) {
	e := newClockedEnv(t, 1, 50, nil)
	ctx := testCtx(t)
	for _, cron := range []string{"*/30 * * * *", "0 9,15 * * 1"} {
		in := weekly(district)
		in.Cron, in.NoNotice = cron, "09:00-17:00"
		_, err := e.drills.Schedule(ctx, "trainer", in)
		require.True(t, muster.IsCode(err, muster.EInvalid), "%s: %v", cron, err)
		assert.ErrorContains(t, err, "is due more than once a day", cron)
		assert.ErrorContains(t, err, "inside its window (09:00-17:00)", cron)
		assert.ErrorContains(t, err, "give a cron due at most once a day", cron)
	}
	in := weekly(district)
	in.Cron, in.NoNotice = "0 9 * * 1", "09:00-17:00"
	_, err := e.drills.Schedule(ctx, "trainer", in)
	require.NoError(t, err, "once a day is fine")
}
