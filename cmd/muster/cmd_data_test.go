package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/plans"
)

// roster generate writes CSV: its usage names --out (-o is the output
// format), and a spreadsheet's name for the file is refused rather than
// given CSV text.
func TestRosterGenerateOut(t *testing.T) {
	dir := t.TempDir()
	r := runCLI(t, nil, "roster", "generate", "--help")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "muster roster generate -n N [--seed S] [--out FILE]")
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

// A roster import refused for its bad rows was no dry run, and its details
// with -o json say so (the API checks it as one before refusing it).
func TestRefusedImportIsNoDryRun(t *testing.T) {
	api := refusal(http.StatusBadRequest, muster.Error{Code: "invalid", Message: "1 problems in the roster file; nothing was imported",
		Details: plans.ImportResult{DryRun: true, Rows: 1, ErrorCount: 1, Errors: []plans.RowError{{Row: 2, Field: "phone", Value: "12345", Reason: "too few digits"}}}})
	file := filepath.Join(t.TempDir(), "bad.csv")
	require.NoError(t, os.WriteFile(file, []byte("姓名,手机,网格\n吴杰,12345,990101001001001\n"), 0o600))
	out, _, err := runOnFake(t, api, "roster", "import", "-f", file, "-o", "json")
	require.Error(t, err)
	var got struct {
		Error struct {
			Details plans.ImportResult `json:"details"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	assert.False(t, got.Error.Details.DryRun, out)
	assert.Equal(t, 1, got.Error.Details.ErrorCount)
	assert.Contains(t, out, `"dry_run": false`)
}
