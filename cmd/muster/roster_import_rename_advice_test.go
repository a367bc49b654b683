package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A dry run of a file with a bad row and a rename through a phone match
// says that --skip-invalid alone is refused as well: the advice names
// --allow-renames too, not --skip-invalid alone, which the import refuses.
func TestRosterImportDryRunAdviceNamesAllowRenames(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("allow_renames") == "true" {
			t.Errorf("muster asked for renames: %s", r.URL.RawQuery)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"dry_run":true,"rows":2,"updated":1,"error_count":1,"encoding":"UTF-8","format":"csv",
			"errors":[{"row":3,"field":"手机","value":"12345","reason":"not a mobile number"}],
			"renamed":[{"row":2,"person":"P0000401","phone":"+8617749465416","old_name":"肖勇勇","new_name":"肖勇"}],"renamed_count":1}`))
	}))
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "renbad.csv")
	require.NoError(t, os.WriteFile(file, []byte("姓名,手机,网格,类别\n肖勇,17749465416,990103001001001,社区干部\n坏人,12345,990103001001002,应急队伍\n"), 0o600))

	out, err := exec.Command(musterBin, "--addr", srv.URL, "--token", "mst_x", "roster", "import", "-f", file, "--dry-run").CombinedOutput()
	require.Error(t, err, "%s", out)
	assert.Contains(t, string(out), "with --skip-invalid --allow-renames it would create 0, update 1")
	assert.Contains(t, string(out), "with --skip-invalid alone the import would still be refused: 1 person would be renamed")
	assert.NotContains(t, string(out), "with --skip-invalid it would")
}
