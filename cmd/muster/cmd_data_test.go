package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// keeperRace is a node with one person on which another keeper changes the
// person (adds a tag) right after each of the first `races` reads: the
// write sent back with the version read is refused with 412, as the API
// does.
type keeperRace struct {
	mu     sync.Mutex
	p      plans.Person
	races  int
	reads  int
	writes []string // If-Match of each PUT
}

func (k *keeperRace) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("ETag", k.p.ETag())
		json.NewEncoder(w).Encode(k.p)
		if k.reads++; k.reads <= k.races {
			k.p.Tags = append(k.p.Tags, fmt.Sprintf("另一位%d", k.reads))
		}
	case http.MethodPut:
		k.writes = append(k.writes, r.Header.Get("If-Match"))
		if r.Header.Get("If-Match") != k.p.ETag() {
			w.WriteHeader(http.StatusPreconditionFailed)
			json.NewEncoder(w).Encode(map[string]any{"error": muster.Error{Code: muster.EPrecondition, Message: "person P00000001 was changed since it was read"}})
			return
		}
		var in plans.PersonInput
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		k.p.Phones, k.p.Tags = in.Phones, in.Tags
		w.Header().Set("ETag", k.p.ETag())
		json.NewEncoder(w).Encode(k.p)
	}
}

// muster person set writes with the version it read: a change another
// keeper made in between is not undone; the fields given are put on the
// person as they are then, and after three refusals in a row it gives up
// saying why.
func TestPersonSetKeepsAChangeMadeMeanwhile(t *testing.T) {
	person := plans.Person{ID: "P00000001", Name: "张三", Phones: []string{"+8613800138000"}, Grid: "990101001001001", Category: "党员"}
	k := &keeperRace{p: person, races: 2}
	out := mustRunOnFake(t, k, "person", "set", "P00000001", "--phones", "13900139000")
	assert.Contains(t, out, "13900139000")
	assert.Equal(t, []string{"13900139000"}, k.p.Phones, "the change given, as sent (a node normalises it)")
	assert.Equal(t, []string{"另一位1", "另一位2"}, k.p.Tags, "the other keeper's changes kept")
	require.Len(t, k.writes, 3, "written once per read")
	for _, etag := range k.writes {
		assert.Regexp(t, `^"[0-9a-f]{16}"$`, etag)
	}

	k = &keeperRace{p: person, races: personSetTries}
	_, _, err := runOnFake(t, k, "person", "set", "P00000001", "--phones", "13900139000")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "changed since it was read")
	assert.Len(t, k.writes, personSetTries)
	assert.Equal(t, []string{"+8613800138000"}, k.p.Phones, "nothing written over another's change")
}

// roster import --dry-run -o json of a file that would be refused prints
// what the import itself answers, {"error": {"code", "message", "details":
// ImportResult}}, and exits 1; before, a bare ImportResult, so a script
// dry-running first read two shapes.
func TestRosterDryRunRefusalIsAnErrorInJSON(t *testing.T) {
	file := filepath.Join(t.TempDir(), "r.csv")
	require.NoError(t, os.WriteFile(file, []byte("编号,姓名,手机,网格,类别\nM011,,,990101001001001,党员\n"), 0o600))
	res := plans.ImportResult{DryRun: true, Rows: 1, Format: "csv", Encoding: "utf-8", ErrorCount: 1,
		Errors: []plans.RowError{{Row: 2, Field: "name", Reason: "name is empty"}}}
	out, _, err := runOnFake(t, fakeAPI{"POST /api/v1/roster/import": res}, "roster", "import", "-f", file, "--dry-run", "-o", "json")
	require.Error(t, err)
	assert.Equal(t, 1, exitCode(err))
	var got struct {
		Error struct {
			Code    string             `json:"code"`
			Message string             `json:"message"`
			Details plans.ImportResult `json:"details"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	assert.Equal(t, "invalid", got.Error.Code)
	assert.Equal(t, "1 problem: the import would be refused", got.Error.Message)
	assert.Equal(t, res, got.Error.Details)

	out, _, err = runOnFake(t, fakeAPI{"POST /api/v1/roster/import": res}, "roster", "import", "-f", file, "--dry-run")
	require.Error(t, err)
	assert.Contains(t, out, "dry run, nothing changed", "the table as before")
}

// A dry run that would be refused says that nothing would change, and
// gives the good rows' counts as what --skip-invalid would do, where it
// printed "created 2, …, skipped 0" and then "would be refused"
// (exploratory finding I2).
func TestRosterDryRunRefusalSaysNothingWouldChange(t *testing.T) {
	file := filepath.Join(t.TempDir(), "r.csv")
	require.NoError(t, os.WriteFile(file, []byte("编号,姓名,手机,网格,类别\n"), 0o600))
	res := plans.ImportResult{DryRun: true, Rows: 18, Created: 2, Format: "csv", Encoding: "utf-8", ErrorCount: 17,
		Errors: []plans.RowError{{Row: 2, Field: "name", Reason: "name is empty"}}}
	out, _, err := runOnFake(t, fakeAPI{"POST /api/v1/roster/import": res}, "roster", "import", "-f", file, "--dry-run")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "17 problems: the import would be refused")
	assert.Contains(t, out, "dry run, nothing changed: 18 rows (csv utf-8) in ")
	assert.Contains(t, out, "refused as it is, so nothing would change; with --skip-invalid it would create 2, update 0, leave 0 unchanged and skip 16\n")
	assert.NotContains(t, out, "created 2")
}

// person show gives the backup with the 编号 and name a roster file knows
// them by, and person set --backup takes a 编号 as a roster file does;
// before, show gave muster's ID alone and set refused the 编号 as a person
// that does not exist.
func TestPersonBackupByRosterNumber(t *testing.T) {
	var mu sync.Mutex
	var put plans.PersonInput
	people := map[string]plans.Person{
		"P00002015": {ID: "P00002015", ExternalID: "Z001", Name: "探索1", Phones: []string{"+8613900000001"}, Grid: "990101001001001", Category: "党员", Backup: "P00002016"},
		"P00002016": {ID: "P00002016", ExternalID: "Z002", Name: "探索2", Phones: []string{"+8613900000002"}, Grid: "990101001001001", Category: "党员"},
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/api/v1/people":
			var items []plans.Person
			for _, p := range people {
				if p.ExternalID == r.URL.Query().Get("external_id") {
					items = append(items, p)
				}
			}
			json.NewEncoder(w).Encode(map[string]any{"items": items, "next": ""})
		case r.Method == http.MethodGet:
			json.NewEncoder(w).Encode(people[strings.TrimPrefix(r.URL.Path, "/api/v1/people/")])
		case r.Method == http.MethodPut:
			require.NoError(t, json.NewDecoder(r.Body).Decode(&put))
			json.NewEncoder(w).Encode(people["P00002015"])
		}
	})
	out := mustRunOnFake(t, api, "person", "show", "P00002015")
	assert.Regexp(t, `\nbackup: +P00002016 \(Z002 探索2\)\n`, out)

	mustRunOnFake(t, api, "person", "set", "P00002015", "--backup", "Z002")
	assert.Equal(t, "P00002016", put.Backup, "the 编号 names the person")
	mustRunOnFake(t, api, "person", "set", "P00002015", "--backup", "P00002016")
	assert.Equal(t, "P00002016", put.Backup, "muster's ID as before")
	_, _, err := runOnFake(t, api, "person", "set", "P00002015", "--backup", "Z999")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `--backup "Z999": no person has that ID or 编号`)
}
