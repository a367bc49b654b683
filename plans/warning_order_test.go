package plans_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/plans"
)

// Real CAP feeds (an ATOM index polled by a relay, retries, two relays)
// deliver out of order. These tests replay the orders that left a warning
// in force that the met service had already replaced or cancelled, under
// rules 11 (remembered) and rules 10 (as before).

// importUpstream imports the rainstorm alert id over the district at level,
// replacing the alerts replaces (an Update), and returns the outcome.
func (e *warnEnv) importUpstream(t *testing.T, id string, level plans.WarningLevel, replaces ...string) plans.WarningImport {
	t.Helper()
	in := upstreamRain(e, id, wDistrict)
	in.Level = level
	for _, r := range replaces {
		in.Replaces = append(in.Replaces, qxRef(r))
	}
	res, err := e.svc.Import(testCtx(t), "feed", in)
	require.NoError(t, err)
	return res
}

// active lists the IDs of the warnings in force.
func (e *warnEnv) active(t *testing.T) []plans.WarningID {
	t.Helper()
	l, err := e.svc.Warnings(testCtx(t), muster.Default, plans.WarningFilter{Active: true}, plans.Page{})
	require.NoError(t, err)
	var ids []plans.WarningID
	for _, w := range l.Items {
		ids = append(ids, w.ID)
	}
	return ids
}

// An Update arrives before the alert it replaces; the late original then
// comes, and the met service cancels the chain by its latest message.
func TestWarningUpdateBeforeItsOriginal(t *testing.T) {
	t.Run("rules 11: the late original creates nothing", func(t *testing.T) {
		e := newWarnEnv(t)
		up := e.importUpstream(t, "T2U", plans.WarningRed, "T2")
		require.True(t, up.Created)

		e.clk.Add(time.Minute)
		late := e.importUpstream(t, "T2", plans.WarningOrange)
		assert.False(t, late.Created)
		assert.Equal(t, up.Warning.ID, late.Warning.ID, "answered with the update's warning")
		require.NotNil(t, late.SupersededBy)
		assert.Equal(t, plans.SupersededUpdated, late.SupersededBy.Action)
		assert.Equal(t, qxRef("T2U"), late.SupersededBy.By)
		assert.Equal(t, []plans.WarningID{up.Warning.ID}, e.active(t))

		// Posted again, it answers the same.
		again := e.importUpstream(t, "T2", plans.WarningOrange)
		assert.False(t, again.Created)
		assert.Equal(t, up.Warning.ID, again.Warning.ID)

		lifted, err := e.svc.CancelUpstream(testCtx(t), "feed", plans.WarningLive, []plans.UpstreamRef{qxRef("T2U")}, "雨势减弱")
		require.NoError(t, err)
		require.Len(t, lifted, 1)
		assert.Empty(t, e.active(t), "the cancel of the latest message ends everything")
		assert.Equal(t, plans.ModeNormal, e.mode(t, wDistrict).Mode)
		e.clk.Add(time.Hour)
		assert.Empty(t, e.unanswered(t))
	})
	t.Run("rules 10: the late original stays in force", func(t *testing.T) {
		e := newWarnEnvUnder(t, 10)
		up := e.importUpstream(t, "T2U", plans.WarningRed, "T2")
		late := e.importUpstream(t, "T2", plans.WarningOrange)
		assert.True(t, late.Created)
		assert.Nil(t, late.SupersededBy)
		_, err := e.svc.CancelUpstream(testCtx(t), "feed", plans.WarningLive, []plans.UpstreamRef{qxRef("T2U")}, "雨势减弱")
		require.NoError(t, err)
		assert.Equal(t, []plans.WarningID{late.Warning.ID}, e.active(t))
		assert.NotEqual(t, up.Warning.ID, late.Warning.ID)
	})
}

// A Cancel arrives before the alert it cancels.
func TestWarningCancelBeforeItsAlert(t *testing.T) {
	t.Run("rules 11: the alert is born lifted", func(t *testing.T) {
		e := newWarnEnv(t)
		ctx := testCtx(t)
		res, err := e.svc.CancelUpstreamAlert(ctx, "feed", plans.WarningLive, qxRef("T4C"), []plans.UpstreamRef{qxRef("T4")}, "解除 (CAP cancel T4C)")
		require.NoError(t, err)
		assert.Empty(t, res.Lifted)
		assert.Equal(t, []plans.UpstreamRef{qxRef("T4")}, res.Awaited)

		e.clk.Add(time.Minute)
		late := e.importUpstream(t, "T4", plans.WarningOrange)
		assert.True(t, late.Created)
		assert.Equal(t, plans.WarningLifted, late.Warning.Status)
		assert.Contains(t, late.Warning.LiftReason, "CAP cancel T4C")
		require.NotNil(t, late.SupersededBy)
		assert.Equal(t, plans.SupersededCancelled, late.SupersededBy.Action)
		assert.Equal(t, qxRef("T4C"), late.SupersededBy.By)
		assert.Empty(t, e.active(t))
		assert.Equal(t, plans.ModeNormal, e.mode(t, wDistrict).Mode, "never in standby")
		e.clk.Add(time.Hour)
		assert.Empty(t, e.unanswered(t))

		// The Cancel again now names the warning, as it stands.
		again, err := e.svc.CancelUpstreamAlert(ctx, "feed", plans.WarningLive, qxRef("T4C"), []plans.UpstreamRef{qxRef("T4")}, "解除 (CAP cancel T4C)")
		require.NoError(t, err)
		require.Len(t, again.Lifted, 1)
		assert.Equal(t, late.Warning.ID, again.Lifted[0].ID)
		assert.Empty(t, again.Awaited)

		// A test cancellation is still kept off a LIVE alert.
		_, err = e.svc.CancelUpstreamAlert(ctx, "feed", plans.WarningTest, qxRef("X"), []plans.UpstreamRef{qxRef("T4")}, "测试")
		assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	})
	t.Run("rules 10: the cancel is forgotten", func(t *testing.T) {
		e := newWarnEnvUnder(t, 10)
		_, err := e.svc.CancelUpstreamAlert(testCtx(t), "feed", plans.WarningLive, qxRef("T4C"), []plans.UpstreamRef{qxRef("T4")}, "解除")
		assert.True(t, muster.IsCode(err, muster.ENotFound), "%v", err)
		late := e.importUpstream(t, "T4", plans.WarningOrange)
		assert.True(t, late.Created)
		assert.Equal(t, plans.WarningActive, late.Warning.Status)
		assert.Equal(t, []plans.WarningID{late.Warning.ID}, e.active(t))
	})
}

// R0 (yellow), R1 updates it to orange, R2 back to yellow naming R0 and
// R1; delivered R0, R2, R1.
func TestWarningStaleUpdateAfterANewerOne(t *testing.T) {
	t.Run("rules 11: the stale update creates nothing", func(t *testing.T) {
		e := newWarnEnv(t)
		r0 := e.importUpstream(t, "R0", plans.WarningYellow)
		r2 := e.importUpstream(t, "R2", plans.WarningYellow, "R0", "R1")
		assert.Equal(t, []plans.WarningID{r0.Warning.ID}, r2.Replaced)

		e.clk.Add(time.Minute)
		r1 := e.importUpstream(t, "R1", plans.WarningOrange, "R0")
		assert.False(t, r1.Created)
		assert.Equal(t, r2.Warning.ID, r1.Warning.ID)
		assert.Equal(t, plans.WarningYellow, r1.Warning.Level)
		require.NotNil(t, r1.SupersededBy)
		assert.Equal(t, qxRef("R2"), r1.SupersededBy.By)
		assert.Equal(t, []plans.WarningID{r2.Warning.ID}, e.active(t))
		e.clk.Add(time.Hour)
		assert.Empty(t, e.unanswered(t), "no NO RESPONSE prompt for a withdrawn upgrade")
	})
	t.Run("rules 10: the stale update is in force", func(t *testing.T) {
		e := newWarnEnvUnder(t, 10)
		e.importUpstream(t, "R0", plans.WarningYellow)
		r2 := e.importUpstream(t, "R2", plans.WarningYellow, "R0", "R1")
		r1 := e.importUpstream(t, "R1", plans.WarningOrange, "R0")
		assert.True(t, r1.Created)
		assert.Equal(t, []plans.WarningID{r2.Warning.ID, r1.Warning.ID}, e.active(t))
	})
}

// A stale update that replaces an alert the newer one did not name still
// replaces it: R1 (late, replaced by R2) names R0, which R2 did not.
func TestWarningStaleUpdateStillReplacesItsOwnReferences(t *testing.T) {
	e := newWarnEnv(t)
	r0 := e.importUpstream(t, "R0", plans.WarningYellow)
	r2 := e.importUpstream(t, "R2", plans.WarningYellow, "R1")
	assert.Equal(t, []plans.WarningID{r0.Warning.ID, r2.Warning.ID}, e.active(t))
	r1 := e.importUpstream(t, "R1", plans.WarningOrange, "R0")
	assert.False(t, r1.Created)
	assert.Equal(t, []plans.WarningID{r0.Warning.ID}, r1.Replaced)
	assert.Equal(t, []plans.WarningID{r2.Warning.ID}, e.active(t))
}

// A Test cancel of an Actual alert not yet arrived does not end it: the
// alert, when it comes, is in force.
func TestWarningTestCancelBeforeALiveAlert(t *testing.T) {
	e := newWarnEnv(t)
	res, err := e.svc.CancelUpstreamAlert(testCtx(t), "feed", plans.WarningTest, qxRef("T5C"), []plans.UpstreamRef{qxRef("T5")}, "测试")
	require.NoError(t, err)
	assert.Equal(t, []plans.UpstreamRef{qxRef("T5")}, res.Awaited)
	late := e.importUpstream(t, "T5", plans.WarningOrange)
	assert.True(t, late.Created)
	assert.Equal(t, plans.WarningActive, late.Warning.Status)
	assert.Nil(t, late.SupersededBy)
}
