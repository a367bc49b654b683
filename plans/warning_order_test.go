package plans_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

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

// supersessions returns the identifiers of the alerts the state keeps a
// record of (what a later Update or Cancel did to them), and checks the
// time index holds each of them once (rules 12).
func (e *warnEnv) supersessions(t *testing.T) []string {
	t.Helper()
	var ids, indexed []string
	require.NoError(t, e.node.View(testCtx(t), muster.Default, func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("warnings_superseded")); b != nil {
			require.NoError(t, b.ForEach(func(k, _ []byte) error {
				_, id, _ := strings.Cut(string(k), ",")
				ids = append(ids, id)
				return nil
			}))
		}
		if b := tx.Bucket([]byte("warnings_superseded_at")); b != nil {
			require.NoError(t, b.ForEach(func(k, _ []byte) error {
				_, id, _ := strings.Cut(string(k), ",")
				indexed = append(indexed, id)
				return nil
			}))
		}
		return nil
	}))
	if indexed != nil {
		assert.ElementsMatch(t, ids, indexed, "every record indexed by time once")
	}
	return ids
}

// A Test or Exercise message that names an Actual alert does not wipe out
// what an Actual message said of it: CAP recipients disregard Test
// messages, so the late Actual alert is what the Actual messages made it.
func TestWarningDrillMessageKeepsAnActualRecord(t *testing.T) {
	testCancel := func(e *warnEnv, id string, refs ...string) {
		var rs []plans.UpstreamRef
		for _, r := range refs {
			rs = append(rs, qxRef(r))
		}
		res, err := e.svc.CancelUpstreamAlert(testCtx(t), "feed", plans.WarningTest, qxRef(id), rs, "测试")
		require.NoError(t, err)
		require.Equal(t, rs, res.Awaited)
	}
	t.Run("rules 12: a Test cancel after the Actual update", func(t *testing.T) {
		e := newWarnEnvUnder(t, 12)
		up := e.importUpstream(t, "B", plans.WarningRed, "A")
		testCancel(e, "X", "A")
		e.clk.Add(time.Minute)
		late := e.importUpstream(t, "A", plans.WarningOrange)
		assert.False(t, late.Created, "the update replaced it")
		assert.Equal(t, up.Warning.ID, late.Warning.ID)
		require.NotNil(t, late.SupersededBy)
		assert.Equal(t, qxRef("B"), late.SupersededBy.By)
		assert.Equal(t, []plans.WarningID{up.Warning.ID}, e.active(t))
		m := e.mode(t, wDistrict)
		assert.Equal(t, plans.ModeStandby, m.Mode)
		assert.Equal(t, holding(up.Warning), m.Warnings, "held by the update alone")
	})
	t.Run("rules 12: an Actual cancel after a Test cancel", func(t *testing.T) {
		e := newWarnEnvUnder(t, 12)
		testCancel(e, "X", "A")
		res, err := e.svc.CancelUpstreamAlert(testCtx(t), "feed", plans.WarningLive, qxRef("Y"), []plans.UpstreamRef{qxRef("A")}, "解除 (CAP cancel Y)")
		require.NoError(t, err)
		assert.Equal(t, []plans.UpstreamRef{qxRef("A")}, res.Awaited)
		late := e.importUpstream(t, "A", plans.WarningOrange)
		assert.True(t, late.Created)
		assert.Equal(t, plans.WarningLifted, late.Warning.Status, "the Actual cancel ends it")
		require.NotNil(t, late.SupersededBy)
		assert.Equal(t, qxRef("Y"), late.SupersededBy.By)
		assert.Empty(t, e.active(t))
		assert.Equal(t, plans.ModeNormal, e.mode(t, wDistrict).Mode, "never in standby")
	})
	t.Run("rules 12: a Test update does not override an Actual cancel", func(t *testing.T) {
		e := newWarnEnvUnder(t, 12)
		_, err := e.svc.CancelUpstreamAlert(testCtx(t), "feed", plans.WarningLive, qxRef("Y"), []plans.UpstreamRef{qxRef("A")}, "解除 (CAP cancel Y)")
		require.NoError(t, err)
		in := upstreamRain(e, "T", wOther)
		in.Purpose, in.Replaces = plans.WarningTest, []plans.UpstreamRef{qxRef("A")}
		_, err = e.svc.Import(testCtx(t), "feed", in)
		require.NoError(t, err)
		late := e.importUpstream(t, "A", plans.WarningOrange)
		assert.Equal(t, plans.WarningLifted, late.Warning.Status)
		assert.Equal(t, plans.ModeNormal, e.mode(t, wDistrict).Mode)
	})
	t.Run("rules 11: the Test cancel made the late alert a second warning in force", func(t *testing.T) {
		e := newWarnEnvUnder(t, 11)
		up := e.importUpstream(t, "B", plans.WarningRed, "A")
		testCancel(e, "X", "A")
		late := e.importUpstream(t, "A", plans.WarningOrange)
		assert.True(t, late.Created)
		assert.Equal(t, []plans.WarningID{up.Warning.ID, late.Warning.ID}, e.active(t))
	})
}

// What an Update or Cancel did to an alert is kept while it can matter:
// not for an alert that has arrived, not once the alert arrives, and not
// past SupersessionRetention (rules 12; under rules 11 every record stayed
// for ever).
func TestWarningSupersessionRecordsAreDropped(t *testing.T) {
	t.Run("rules 12", func(t *testing.T) {
		e := newWarnEnvUnder(t, 12)
		ctx := testCtx(t)
		res, err := e.svc.CancelUpstreamAlert(ctx, "feed", plans.WarningLive, qxRef("XC"), []plans.UpstreamRef{qxRef("X")}, "解除 (CAP cancel XC)")
		require.NoError(t, err)
		require.Equal(t, []plans.UpstreamRef{qxRef("X")}, res.Awaited)
		assert.Equal(t, []string{"X"}, e.supersessions(t))

		// X arrives: born lifted, the warning keeps its Cancel, the
		// record goes.
		late := e.importUpstream(t, "X", plans.WarningOrange)
		require.Equal(t, plans.WarningLifted, late.Warning.Status)
		assert.Empty(t, e.supersessions(t))
		w, err := e.svc.Warning(ctx, muster.Default, late.Warning.ID)
		require.NoError(t, err)
		require.NotNil(t, w.SupersededBy, "the warning says why it was born lifted")
		assert.Equal(t, qxRef("XC"), w.SupersededBy.By)
		assert.Equal(t, plans.SupersededCancelled, w.SupersededBy.Action)

		// An Update of an alert that arrived (B) and of one that did not
		// (D): only D is remembered.
		e.importUpstream(t, "B", plans.WarningYellow)
		c := e.importUpstream(t, "C", plans.WarningYellow, "B", "D")
		assert.Equal(t, []string{"D"}, e.supersessions(t))

		// Within the retention the late D is still replaced.
		e.clk.Add(plans.SupersessionRetention - time.Hour)
		d := e.importUpstream(t, "D", plans.WarningOrange)
		assert.False(t, d.Created)
		assert.Equal(t, c.Warning.ID, d.Warning.ID)

		// Past it, the next record drops D's.
		e.clk.Add(2 * time.Hour)
		_, err = e.svc.CancelUpstreamAlert(ctx, "feed", plans.WarningLive, qxRef("EC"), []plans.UpstreamRef{qxRef("E")}, "解除 (CAP cancel EC)")
		require.NoError(t, err)
		assert.Equal(t, []string{"E"}, e.supersessions(t))
	})
	t.Run("rules 11: kept for ever", func(t *testing.T) {
		e := newWarnEnvUnder(t, 11)
		_, err := e.svc.CancelUpstreamAlert(testCtx(t), "feed", plans.WarningLive, qxRef("XC"), []plans.UpstreamRef{qxRef("X")}, "解除 (CAP cancel XC)")
		require.NoError(t, err)
		e.importUpstream(t, "X", plans.WarningOrange)
		e.importUpstream(t, "B", plans.WarningYellow)
		e.importUpstream(t, "C", plans.WarningYellow, "B", "D")
		e.clk.Add(plans.SupersessionRetention + time.Hour)
		_, err = e.svc.CancelUpstreamAlert(testCtx(t), "feed", plans.WarningLive, qxRef("EC"), []plans.UpstreamRef{qxRef("E")}, "解除")
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{"B", "D", "E", "X"}, e.supersessions(t))
	})
}

// A warning imported from an alert keeps the alert's region codes that
// name no region of muster (rules 12), which warning show lists.
func TestWarningKeepsItsAlertsIgnoredGeocodes(t *testing.T) {
	for _, rules := range []int{12, 11} {
		e := newWarnEnvUnder(t, rules)
		in := upstreamRain(e, "G1", wDistrict, "990199", "990101000000", " 990198000000 ")
		res, err := e.svc.Import(testCtx(t), "feed", in)
		require.NoError(t, err)
		assert.Equal(t, []plans.RegionCode{"990198000000", "990199"}, res.Ignored, "rules %d: the answer lists them", rules)
		w, err := e.svc.Warning(testCtx(t), muster.Default, res.Warning.ID)
		require.NoError(t, err)
		if rules >= 12 {
			assert.Equal(t, res.Ignored, w.IgnoredGeocodes)
			assert.Equal(t, res.Ignored, res.Warning.IgnoredGeocodes)
		} else {
			assert.Empty(t, w.IgnoredGeocodes, "rules 11 keeps none")
		}
		assert.Nil(t, w.SupersededBy)
	}
}

// A cancellation whose reason no lift takes is refused as such (EInvalid),
// whether or not its alerts have arrived: it is not answered ENotFound and
// forgotten.
func TestWarningCancelWithABadReasonIsInvalid(t *testing.T) {
	e := newWarnEnv(t)
	for _, reason := range []string{"雨势减弱\n解除", "  "} {
		_, err := e.svc.CancelUpstreamAlert(testCtx(t), "feed", plans.WarningLive, qxRef("BC"), []plans.UpstreamRef{qxRef("B")}, reason)
		assert.True(t, muster.IsCode(err, muster.EInvalid), "%q: %v", reason, err)
	}
	late := e.importUpstream(t, "B", plans.WarningOrange)
	assert.Equal(t, plans.WarningActive, late.Warning.Status, "nothing was remembered")
}

// A Cancel that names only the original alert of a chain an Update
// continued (some feeds reference the first message of a thread) ends the
// chain: the Update's warning is lifted and the district goes back to
// normal. Under rules 12 the Update's warning stayed in force.
func TestWarningCancelOfAnUpdatedOriginal(t *testing.T) {
	t.Run("rules 13: the update's warning is lifted", func(t *testing.T) {
		e := newWarnEnv(t)
		first := e.importUpstream(t, "T6", plans.WarningYellow)
		e.clk.Add(time.Minute)
		up := e.importUpstream(t, "T6U", plans.WarningRed, "T6")
		require.Equal(t, []plans.WarningID{first.Warning.ID}, up.Replaced)
		e.clk.Add(time.Minute)
		res, err := e.svc.CancelUpstreamAlert(testCtx(t), "feed", plans.WarningLive, qxRef("T6C"), []plans.UpstreamRef{qxRef("T6")}, "解除 (CAP cancel T6C)")
		require.NoError(t, err)
		assert.Empty(t, res.Awaited, "the original arrived")
		var lifted []plans.WarningID
		for _, w := range res.Lifted {
			assert.Equal(t, plans.WarningLifted, w.Status, "%s", w.ID)
			lifted = append(lifted, w.ID)
		}
		assert.Contains(t, lifted, up.Warning.ID, "the update's warning is among the lifted")
		assert.Empty(t, e.active(t))
		assert.Equal(t, plans.ModeNormal, e.mode(t, wDistrict).Mode)
		w, err := e.svc.Warning(testCtx(t), muster.Default, up.Warning.ID)
		require.NoError(t, err)
		assert.Contains(t, w.LiftReason, "T6C")
	})
	t.Run("rules 12: the update's warning stays", func(t *testing.T) {
		e := newWarnEnvUnder(t, 12)
		e.importUpstream(t, "T6", plans.WarningYellow)
		up := e.importUpstream(t, "T6U", plans.WarningRed, "T6")
		_, err := e.svc.CancelUpstreamAlert(testCtx(t), "feed", plans.WarningLive, qxRef("T6C"), []plans.UpstreamRef{qxRef("T6")}, "解除")
		require.NoError(t, err)
		assert.Equal(t, []plans.WarningID{up.Warning.ID}, e.active(t))
	})
}

// A Cancel of a thread's first alert that arrives before the thread's
// Update (a relay retrying the Update) ends the Update too: it is created
// lifted and puts no region in standby, whichever of the alert and the
// Cancel came first, or when the Update comes before the alert it
// updates. Under rules 12 the late Update was in force.
func TestWarningUpdateAfterTheCancelOfItsThread(t *testing.T) {
	cancel := func(t *testing.T, e *warnEnv, id, of string) plans.UpstreamCancel {
		t.Helper()
		res, err := e.svc.CancelUpstreamAlert(testCtx(t), "feed", plans.WarningLive, qxRef(id), []plans.UpstreamRef{qxRef(of)}, "解除 (CAP cancel "+id+")")
		require.NoError(t, err)
		return res
	}
	bornLifted := func(t *testing.T, e *warnEnv, up plans.WarningImport, by string) {
		t.Helper()
		assert.True(t, up.Created)
		assert.Equal(t, plans.WarningLifted, up.Warning.Status, "the update of a cancelled thread is born lifted")
		require.NotNil(t, up.SupersededBy)
		assert.Equal(t, plans.SupersededCancelled, up.SupersededBy.Action)
		assert.Equal(t, qxRef(by), up.SupersededBy.By)
		assert.Empty(t, e.active(t))
		assert.Equal(t, plans.ModeNormal, e.mode(t, wDistrict).Mode, "no standby")
	}
	t.Run("alert, cancel, update", func(t *testing.T) {
		e := newWarnEnv(t)
		e.importUpstream(t, "T7", plans.WarningYellow)
		cancel(t, e, "T7C", "T7")
		bornLifted(t, e, e.importUpstream(t, "T7U", plans.WarningRed, "T7"), "T7C")
	})
	t.Run("cancel, alert, update", func(t *testing.T) {
		e := newWarnEnv(t)
		require.Equal(t, []plans.UpstreamRef{qxRef("T8")}, cancel(t, e, "T8C", "T8").Awaited)
		first := e.importUpstream(t, "T8", plans.WarningYellow)
		require.Equal(t, plans.WarningLifted, first.Warning.Status)
		bornLifted(t, e, e.importUpstream(t, "T8U", plans.WarningRed, "T8"), "T8C")
	})
	t.Run("cancel, update, alert", func(t *testing.T) {
		e := newWarnEnv(t)
		cancel(t, e, "T9C", "T9")
		bornLifted(t, e, e.importUpstream(t, "T9U", plans.WarningRed, "T9"), "T9C")
		late := e.importUpstream(t, "T9", plans.WarningYellow)
		assert.NotEqual(t, plans.WarningActive, late.Warning.Status)
		assert.Empty(t, e.active(t))
	})
	t.Run("rules 12: the late update is in force", func(t *testing.T) {
		e := newWarnEnvUnder(t, 12)
		e.importUpstream(t, "T7", plans.WarningYellow)
		cancel(t, e, "T7C", "T7")
		up := e.importUpstream(t, "T7U", plans.WarningRed, "T7")
		assert.Equal(t, []plans.WarningID{up.Warning.ID}, e.active(t))
	})
}
