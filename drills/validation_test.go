package drills_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/drills"
	"muster/plans"
)

// A cron expression the parser refuses is refused with what is wrong with
// it: of five fields, the field and the values it takes (robfig/cron's own
// words with it), not a hint to give five fields.
func TestCronProblemNamesTheField(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"0 9 * * 8", `day-of-week "8": end of range (8) above maximum (6)`},
		{"0 25 * * 1", `hour "25": end of range (25) above maximum (23)`},
		{"0 9 * 13 1", `month "13": end of range (13) above maximum (12)`},
		{"0 9 * * FRY", `day-of-week "FRY"`},
		{"9am", "expected exactly 5 fields"},
		{"@every 2h", "@every is not a calendar schedule"},
		{"CRON_TZ=UTC 0 9 * * 1", "give the time zone with --tz"},
	} {
		got := drills.CronProblem(tc.spec)
		assert.Contains(t, got, tc.want, tc.spec)
		_, err := drills.ParseCron(tc.spec)
		assert.Error(t, err, "ParseCron refuses %q too", tc.spec)
	}
	for _, ok := range []string{"0 9 * * 1", "@weekly", "0 9 * * MON-FRI", "0 9 31 2 *"} {
		assert.Empty(t, drills.CronProblem(ok), ok)
	}
}

// A schedule is refused, with the field named, for a cron that has five
// fields of which one is out of range; and for the time zone "Local", the
// zone of whichever node computes a due time.
func TestScheduleRefusesABadFieldAndLocal(t *testing.T) {
	e := newEnv(t, 1, 50)
	ctx := testCtx(t)

	in := weekly(district)
	in.Cron = "0 9 * * 8"
	_, err := e.drills.Schedule(ctx, "trainer", in)
	assert.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
	assert.ErrorContains(t, err, `cron "0 9 * * 8": day-of-week "8": end of range (8) above maximum (6)`)

	for _, zone := range []string{"Local", "local"} {
		in := weekly(district)
		in.TimeZone = zone
		_, err := e.drills.Schedule(ctx, "trainer", in)
		assert.True(t, muster.IsCode(err, muster.EInvalid), "%s: %v", zone, err)
		assert.ErrorContains(t, err, "want an IANA time zone such as Asia/Shanghai", zone)
	}
	in = weekly(district)
	in.TimeZone = ""
	s, err := e.drills.Schedule(ctx, "trainer", in)
	require.NoError(t, err, "no zone is the default one")
	assert.Equal(t, drills.DefaultTimeZone, s.TimeZone)

	// A length of more than a day (9000h: a year of 【演练】 escalations,
	// every later drill over the region missed) is refused.
	for _, length := range []string{"9000h", "24h1m"} {
		in = weekly(district)
		in.Cron, in.At, in.Length = "", "2027-01-05 09:00", length
		_, err = e.drills.Schedule(ctx, "trainer", in)
		assert.True(t, muster.IsCode(err, muster.EInvalid), "%s: %v", length, err)
		assert.ErrorContains(t, err, "at most 24h (", length)
	}
	in.Length = "24h"
	_, err = e.drills.Schedule(ctx, "trainer", in)
	assert.NoError(t, err, "a day is allowed")
}

// A drill whose plan's scope was narrowed after it was scheduled is refused
// when run by hand, saying what can be done: drill run takes no
// --confirm-scope, so the activation's advice to add one is not given.
func TestRunByHandOutsideANarrowedScopeSaysWhatToDo(t *testing.T) {
	e := newEnv(t, 1, 300)
	ctx := testCtx(t)
	s, err := e.drills.Schedule(ctx, "trainer", weekly(district))
	require.NoError(t, err)
	narrowFloodScope(ctx, t, e)

	_, err = e.drills.RunNow(ctx, "trainer", s.ID)
	require.Error(t, err)
	assert.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
	msg := err.Error()
	assert.Contains(t, msg, "scope not confirmed: ", "the guard's reason")
	assert.Contains(t, msg, string(district))
	assert.Contains(t, msg, "confirm it in place (muster drill update "+string(s.ID)+" --confirm-scope "+string(district)+": it keeps its ID, runs and findings)")
	assert.NotContains(t, msg, "muster drill delete", "deleting would lose its runs and findings")
	assert.NotContains(t, msg, "confirm it by naming the regions", "the activation's advice")
	assert.NotContains(t, msg, `"confirm_scope"`)
	runs, err := e.drills.Runs(ctx, muster.Default, drills.RunFilter{}, plans.Page{})
	require.NoError(t, err)
	assert.Empty(t, runs.Items, "nothing recorded")
}
