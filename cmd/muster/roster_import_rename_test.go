package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/plans"
)

// renamingAPI answers roster imports as a node does for a file renaming
// one person through a phone match: the dry run lists them, the import is
// refused with them in its details unless allow_renames=true.
type renamingAPI struct {
	mu      sync.Mutex
	queries []string
}

var oneRename = []plans.Rename{{Row: 2, Person: "P00000001", Phone: "+8613800138000", OldName: "张三", NewName: "李四",
	OldGrid: "990101001001001", NewGrid: "990101001001002"}}

func (a *renamingAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.queries = append(a.queries, r.URL.RawQuery)
	a.mu.Unlock()
	io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	q := r.URL.Query()
	res := plans.ImportResult{DryRun: q.Get("dry_run") == "true", Rows: 1, Updated: 1, Format: "csv", Encoding: "utf-8",
		Renamed: oneRename, RenamedCount: 1}
	if !res.DryRun && q.Get("allow_renames") != "true" {
		res.Updated = 0
		w.WriteHeader(http.StatusConflict)
		json.NewEncoder(w).Encode(map[string]any{"error": muster.Error{Code: muster.EConflict,
			Message: "1 person would be renamed through a phone match (row 2: 张三 → 李四 (+8613800138000)); nothing was imported", Details: res}})
		return
	}
	json.NewEncoder(w).Encode(res)
}

// muster roster import lists the people a file renames through a phone
// match, in the dry run and in the import; without --allow-renames the dry
// run says the import would be refused (exit 1) and the import's refusal
// lists them; with it, the import is asked to allow them.
func TestRosterImportListsRenames(t *testing.T) {
	file := filepath.Join(t.TempDir(), "r.csv")
	require.NoError(t, os.WriteFile(file, []byte("姓名,手机,网格,类别\n李四,13800138000,990101001001002,党员\n"), 0o600))
	api := &renamingAPI{}
	line := regexpLine(`2\s+\+8613800138000\s+张三 → 李四\s+990101001001001 → 990101001001002`)

	out, _, err := runOnFake(t, api, "roster", "import", "-f", file, "--dry-run")
	require.Error(t, err)
	assert.Equal(t, "1 person would be renamed through a phone match: the import would be refused without --allow-renames", err.Error())
	assert.Contains(t, out, "would rename 1 person matched by phone alone (the row has no 编号):")
	assert.Regexp(t, line, out)
	assert.Contains(t, out, "add --allow-renames")
	assert.Contains(t, out, "would be refused as it is, so nothing would change; with --allow-renames it would create 0, update 1, leave 0 unchanged and skip 0")
	assert.NotContains(t, out, "updated 1", "a refused dry run counts nothing as done (Y15)")

	out, _, err = runOnFake(t, api, "roster", "import", "-f", file, "--dry-run", "-o", "json")
	require.Error(t, err)
	assert.Contains(t, out, `"code": "conflict"`)
	assert.Contains(t, out, `"renamed": [`)

	out, _, err = runOnFake(t, api, "roster", "import", "-f", file)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "1 person would be renamed through a phone match")
	assert.Regexp(t, line, out, "the refusal lists them")

	out = mustRunOnFake(t, api, "roster", "import", "-f", file, "--allow-renames")
	assert.Contains(t, out, "updated 1")
	assert.Contains(t, out, "renamed 1 person matched by phone alone (the row has no 编号):")
	assert.Regexp(t, line, out)
	assert.Contains(t, api.queries[len(api.queries)-1], "allow_renames=true")
}

func regexpLine(re string) string { return `(?m)^` + re + `\s*$` }
