package plans_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/plans"
)

// The reasons the state machine writes itself when it lifts a warning are
// read by officials and, as the note of the CAP Cancel, by downstream
// receivers: from rules 13 they are Chinese with the English in brackets;
// under rules 12 they stay English as they were.
func TestWarningSystemLiftReasons(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules int // 0: this muster's
		// updated is the reason of a warning an Update replaced, with the
		// Update's identifier and warning; cancelled that of an alert
		// created lifted after its Cancel, before the Cancel's reason;
		// expired that of an expiry.
		updated   func(update string, by plans.WarningID) string
		cancelled string
		expired   string
	}{
		{
			name: "rules 13: Chinese, English in brackets",
			updated: func(update string, by plans.WarningID) string {
				return fmt.Sprintf("已由上游预警 %s 更新，现为预警 %s (updated by upstream alert %s, now warning %s)", update, by, update, by)
			},
			cancelled: "上游在本预警到达前已将其取消 (cancelled before this alert arrived): ",
			expired:   "已过期 (expired)",
		},
		{
			name:  "rules 12: English, as before",
			rules: 12,
			updated: func(update string, by plans.WarningID) string {
				return fmt.Sprintf("updated by upstream alert %s (warning %s)", update, by)
			},
			cancelled: "cancelled before this alert arrived: ",
			expired:   "expired",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("replaced by an upstream update", func(t *testing.T) {
				e := newWarnEnvUnder(t, tc.rules)
				first := e.importUpstream(t, "L1", plans.WarningYellow)
				e.clk.Add(time.Minute)
				up := e.importUpstream(t, "L1U", plans.WarningOrange, "L1")
				require.Equal(t, []plans.WarningID{first.Warning.ID}, up.Replaced)
				old := e.warning(t, first.Warning.ID)
				assert.Equal(t, plans.WarningLifted, old.Status)
				assert.Equal(t, tc.updated("L1U", up.Warning.ID), old.LiftReason)
			})
			t.Run("cancelled before it arrived", func(t *testing.T) {
				e := newWarnEnvUnder(t, tc.rules)
				_, err := e.svc.CancelUpstreamAlert(testCtx(t), "feed", plans.WarningLive, qxRef("L2C"), []plans.UpstreamRef{qxRef("L2")}, "雨势减弱 (CAP cancel L2C)")
				require.NoError(t, err)
				e.clk.Add(time.Minute)
				late := e.importUpstream(t, "L2", plans.WarningOrange)
				assert.Equal(t, plans.WarningLifted, late.Warning.Status)
				assert.Equal(t, tc.cancelled+"雨势减弱 (CAP cancel L2C)", late.Warning.LiftReason)
			})
			t.Run("expired", func(t *testing.T) {
				e := newWarnEnvUnder(t, tc.rules)
				in := rain("yellow", wDistrict)
				in.ExpiresIn = plans.Duration(time.Hour)
				w := e.issue(t, in)
				e.clk.Add(time.Hour)
				n, err := e.svc.ExpireDue(testCtx(t))
				require.NoError(t, err)
				require.Equal(t, 1, n)
				got := e.warning(t, w.ID)
				assert.Equal(t, plans.WarningExpired, got.Status)
				assert.Equal(t, tc.expired, got.LiftReason)
				trail := e.audit(t)
				last := trail[len(trail)-1]
				assert.Equal(t, plans.AuditWarningRelease, last.Action)
				assert.Equal(t, tc.expired, last.Reason, "the district leaves standby for the same reason")
			})
		})
	}
}

// An Update that comes after the Cancel of the alert it updates is created
// lifted (rules 13), saying which alert of its thread was cancelled, in
// Chinese with the English in brackets, and the Cancel's reason.
func TestWarningUpdateOfACancelledThreadSaysWhy(t *testing.T) {
	e := newWarnEnv(t)
	e.importUpstream(t, "L3", plans.WarningYellow)
	_, err := e.svc.CancelUpstreamAlert(testCtx(t), "feed", plans.WarningLive, qxRef("L3C"), []plans.UpstreamRef{qxRef("L3")}, "解除 (CAP cancel L3C)")
	require.NoError(t, err)
	e.clk.Add(time.Minute)
	up := e.importUpstream(t, "L3U", plans.WarningRed, "L3")
	require.Equal(t, plans.WarningLifted, up.Warning.Status)
	assert.Equal(t, "本预警所更新的上游预警 L3 在本预警到达前已被取消 (upstream alert L3, which this one updates, was cancelled before this alert arrived): 解除 (CAP cancel L3C)",
		up.Warning.LiftReason)
	got, err := e.svc.Warning(testCtx(t), muster.Default, up.Warning.ID)
	require.NoError(t, err)
	assert.Equal(t, up.Warning.LiftReason, got.LiftReason, "as stored")
}

// From rules 13 the warning of an upstream Update names the warnings in
// force it lifted (Replaces), as each names it (ReplacedBy): the thread
// its CAP Update references. A stale Update, arriving after a newer one
// that replaced it, adds those it lifts to the newer one's. Under rules
// 12 neither is kept.
func TestWarningUpdateNamesTheWarningsItReplaced(t *testing.T) {
	t.Run("rules 13", func(t *testing.T) {
		e := newWarnEnv(t)
		first := e.importUpstream(t, "N1", plans.WarningYellow)
		up := e.importUpstream(t, "N1U", plans.WarningOrange, "N1", "never-seen")
		assert.Equal(t, []plans.WarningID{first.Warning.ID}, up.Warning.Replaces, "as imported")
		assert.Equal(t, []plans.WarningID{first.Warning.ID}, e.warning(t, up.Warning.ID).Replaces, "as stored")
		assert.Equal(t, up.Warning.ID, e.warning(t, first.Warning.ID).ReplacedBy)

		// R0 in force; R2 replaces R1, not yet arrived; R1 comes late
		// naming R0: R0 is lifted as replaced by R2's warning.
		r0 := e.importUpstream(t, "R0", plans.WarningYellow)
		r2 := e.importUpstream(t, "R2", plans.WarningYellow, "R1")
		assert.Empty(t, r2.Warning.Replaces, "R1 has not arrived")
		r1 := e.importUpstream(t, "R1", plans.WarningOrange, "R0")
		require.False(t, r1.Created)
		assert.Equal(t, []plans.WarningID{r0.Warning.ID}, r1.Warning.Replaces, "the answer is R2's warning as it stands")
		assert.Equal(t, []plans.WarningID{r0.Warning.ID}, e.warning(t, r2.Warning.ID).Replaces)
		assert.Equal(t, r2.Warning.ID, e.warning(t, r0.Warning.ID).ReplacedBy)
	})
	t.Run("rules 12", func(t *testing.T) {
		e := newWarnEnvUnder(t, 12)
		first := e.importUpstream(t, "N1", plans.WarningYellow)
		up := e.importUpstream(t, "N1U", plans.WarningOrange, "N1")
		require.Equal(t, []plans.WarningID{first.Warning.ID}, up.Replaced)
		assert.Empty(t, e.warning(t, up.Warning.ID).Replaces)
		assert.Empty(t, e.warning(t, first.Warning.ID).ReplacedBy)
	})
}
