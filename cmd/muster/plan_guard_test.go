package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// muster plan validate says which levels give no expected count, so the
// scope guard cannot count their call-ups; the plan is valid all the same.
// The example plans give every level one.
func TestPlanValidateWarnsOfLevelsWithoutAnExpectedCount(t *testing.T) {
	flood := filepath.Join("..", "..", "examples", "plans", "flood.yaml")
	r := runCLI(t, nil, "plan", "validate", "-f", flood)
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "valid plan flood-control")
	assert.NotContains(t, r.stdout, "warning:")

	src, err := os.ReadFile(flood)
	require.NoError(t, err)
	bare := filepath.Join(t.TempDir(), "flood.yaml")
	require.NoError(t, os.WriteFile(bare, regexp.MustCompile(`(?m)^    expected: \d+\n`).ReplaceAll(src, nil), 0o600))
	r = runCLI(t, nil, "plan", "validate", "-f", bare)
	require.Zero(t, r.code, "valid all the same: %s", r.stderr)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	require.Len(t, lines, 5, r.stdout)
	assert.Contains(t, lines[0], "valid plan flood-control")
	for i, level := range []string{"I", "II", "III", "IV"} {
		assert.True(t, strings.HasPrefix(lines[i+1], "warning: levels."+level+".expected: not set, so the scope guard cannot count"), lines[i+1])
	}
	assert.Contains(t, lines[4], "(only one reaching the whole city, naming it, each of its districts or a district by all its streets, is asked to)")

	r = runCLI(t, nil, "plan", "validate", "-f", bare, "-o", "json")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"warnings": [`)
	assert.Contains(t, r.stdout, "levels.IV.expected: not set")
}
