package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// roster generate writes CSV: its usage names --out (-o is the output
// format), and a spreadsheet's name for the file is refused rather than
// given CSV text.
func TestRosterGenerateOut(t *testing.T) {
	dir := t.TempDir()
	r := runCLI(t, nil, "roster", "generate", "--help")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "muster roster generate -n N [--seed S] [--id-prefix P] [--out FILE]")
	assert.NotContains(t, r.stdout, "-o FILE")

	for _, name := range []string{"g.xlsx", "g.XLS"} {
		path := filepath.Join(dir, name)
		r = runCLI(t, nil, "roster", "generate", "-n", "5", "--out", path)
		oneLineError(t, r, 2, "roster generate writes CSV, not a spreadsheet; name the file .csv")
		assert.NoFileExists(t, path)
	}

	path := filepath.Join(dir, "g.csv")
	r = runCLI(t, nil, "roster", "generate", "-n", "5", "--out", path)
	require.Zero(t, r.code, r.stderr)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	assert.Len(t, lines, 6, "a header and five people")
	assert.True(t, strings.HasPrefix(lines[0], "编号,姓名,手机,"), lines[0])
}

// roster generate --id-prefix numbers the rows with it; a prefix that is no
// plain word is a usage error.
func TestRosterGenerateIDPrefix(t *testing.T) {
	out := mustRunOnFake(t, fakeAPI{}, "roster", "generate", "-n", "2", "--id-prefix", "T")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3)
	assert.True(t, strings.HasPrefix(lines[1], "T0000001,"), lines[1])
	assert.True(t, strings.HasPrefix(lines[2], "T0000002,"), lines[2])
	_, _, err := runOnFake(t, fakeAPI{}, "roster", "generate", "-n", "2", "--id-prefix", "a,b")
	require.Error(t, err)
	assert.Equal(t, exitUsage, exitCode(err), "%v", err)
}

// An empty list prints "items": [] with -o json, as the API gives it, with
// or without --all: scripts take its length.
func TestEmptyListIsAnEmptyArray(t *testing.T) {
	api := fakeAPI{"GET /api/v1/people": map[string]any{"items": []any{}, "next": ""}}
	for _, args := range [][]string{{"person", "list", "-o", "json"}, {"person", "list", "--all", "-o", "json"}} {
		out := mustRunOnFake(t, api, args...)
		assert.Contains(t, out, `"items": []`, "%v: %s", args, out)
	}
}
