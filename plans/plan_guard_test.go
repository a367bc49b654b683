package plans_test

import (
	"bytes"
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/plans"
)

// withoutExpected is an example plan file with its levels' expected counts
// left out.
func withoutExpected(t *testing.T, file string) []byte {
	t.Helper()
	src, err := os.ReadFile("../examples/plans/" + file)
	require.NoError(t, err)
	out := regexp.MustCompile(`(?m)^    expected: \d+\n`).ReplaceAll(src, nil)
	require.NotEqual(t, src, out, "%s gives its levels expected counts", file)
	return out
}

// A plan whose levels give no expected count is stored, with a warning for
// each such level: the scope guard cannot count its call-ups, so a LIVE one
// calling far more people than usual would start unconfirmed. The example
// plans give every level one, and get none.
func TestPlanApplyWarnsOfLevelsTheScopeGuardCannotCount(t *testing.T) {
	svc := newService(t)
	ctx := testCtx(t)
	_, err := svc.ImportRoster(ctx, "test", bytes.NewReader(roster(t, 2000)), plans.ImportOptions{})
	require.NoError(t, err)
	for _, file := range []string{"flood.yaml", "public-health.yaml", "hazmat-fire.yaml"} {
		src, err := os.ReadFile("../examples/plans/" + file)
		require.NoError(t, err)
		res, err := svc.ApplyPlan(ctx, "test", file, src)
		require.NoError(t, err)
		assert.Empty(t, res.Warnings, file)
	}

	bare := bytes.Replace(withoutExpected(t, "flood.yaml"), []byte("title: "), []byte("title: 无预计人数"), 1)
	res, err := svc.ApplyPlan(ctx, "test", "flood.yaml", bare)
	require.NoError(t, err, "an existing plan without expected counts still loads")
	assert.True(t, res.Changed)
	require.Len(t, res.Warnings, 4, "%q", res.Warnings)
	assert.Equal(t, "levels.I.expected: not set, so the scope guard cannot count level I call-ups: a LIVE one calling far more people than usual "+
		"starts without anyone confirming its scope; give the number of people a usual activation at this level calls", res.Warnings[0])
	assert.Equal(t, "levels.IV.expected: not set, so the scope guard cannot count level IV call-ups: a LIVE one calling far more people than usual "+
		"starts without anyone confirming its scope (only one reaching the whole city, naming it, each of its districts or a district by all its streets, is asked to); give the number of people a usual activation at this level calls", res.Warnings[3])
}
