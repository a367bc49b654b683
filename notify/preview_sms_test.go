package notify_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/examples"
	"muster/notify"
	"muster/plans"
)

// A preview whose sample SMS runs to more than ten segments warns that each
// recipient's message is billed as that many, and over 1,600 characters
// that Twilio will refuse it; a short one warns of nothing. The plan's own
// check renders the template with a short sample reason, so a template that
// says the activation's reason nine times is stored.
func TestPreviewWarnsOfALongSMS(t *testing.T) {
	e := newEnv(t, 1, 300)
	ctx := testCtx(t)
	files, err := examples.Plans()
	require.NoError(t, err)
	for _, f := range files {
		if f.Name == "flood.yaml" {
			src := strings.Replace(string(f.Data), "id: flood-control", "id: flood-long", 1)
			src = strings.ReplaceAll(src, "响应已启动（{{.Region}}）。", "响应已启动（{{.Region}}）。"+strings.Repeat("{{.Reason}}", 9))
			_, err := e.plans.ApplyPlan(ctx, "test", "flood-long.yaml", []byte(src))
			require.NoError(t, err)
		}
	}
	preview := func(reason string) notify.Preview {
		t.Helper()
		p, err := e.svc.Preview(ctx, notify.ActivationRequest{Plan: "flood-long", Regions: []plans.RegionCode{district}, Level: "IV", Purpose: "LIVE", Reason: reason})
		require.NoError(t, err)
		require.NotNil(t, p.Sample)
		return p
	}

	p := preview("暴雨")
	assert.LessOrEqual(t, p.Sample.Segments, plans.MaxSMSSegments)
	assert.Empty(t, p.Warnings, "a short SMS")

	p = preview(strings.Repeat("暴雨", 40)) // 9 × 80 characters
	require.Greater(t, p.Sample.Segments, plans.MaxSMSSegments)
	require.LessOrEqual(t, len([]rune(p.Sample.Text)), notify.MaxSMSBody)
	require.Len(t, p.Warnings, 1)
	assert.Contains(t, p.Warnings[0], "LONG SMS — each recipient's SMS runs to about ")
	assert.Contains(t, p.Warnings[0], "providers bill every part")
	assert.Contains(t, p.Warnings[0], "Twilio refuses a body over 1600 characters, and then nothing is sent")
	assert.NotContains(t, p.Warnings[0], "WILL")

	p = preview(strings.Repeat("暴雨", 100)) // 9 × 200 characters
	require.Greater(t, len([]rune(p.Sample.Text)), notify.MaxSMSBody)
	require.Len(t, p.Warnings, 1)
	assert.Contains(t, p.Warnings[0], "Twilio WILL refuse")
}
