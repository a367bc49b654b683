package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/plans"
)

// A --version below 1 is refused rather than read as "the latest": the
// reader of plan show, or the activation, would take the latest for the
// version asked for. Left out, or 1 and up, it goes on to the (absent)
// server.
func TestVersionFlagBelowOne(t *testing.T) {
	env := []string{"MUSTER_ADDR=http://" + freePort(t), "MUSTER_TOKEN=mst_x"}
	activate := []string{"activate", "flood-control", "--region", "990105", "--level", "IV", "--purpose", "exercise", "--reason", "r", "--yes"}
	for _, tc := range []struct {
		name string
		args []string
		want string // "" for accepted
	}{
		{"plan show 0", []string{"plan", "show", "flood-control", "--version", "0"}, "--version 0: plan versions are numbered from 1"},
		{"plan show -1", []string{"plan", "show", "flood-control", "--version", "-1"}, "--version -1: plan versions are numbered from 1"},
		{"plan show 1", []string{"plan", "show", "flood-control", "--version", "1"}, ""},
		{"plan show latest", []string{"plan", "show", "flood-control"}, ""},
		{"activate 0", append(slices.Clone(activate), "--version", "0"), "--version 0: plan versions are numbered from 1"},
		{"activate -3", append(slices.Clone(activate), "--version=-3"), "--version -3: plan versions are numbered from 1"},
		{"activate 2", append(slices.Clone(activate), "--version", "2"), ""},
		{"activate latest", activate, ""},
	} {
		t.Run(tc.name, func(t *testing.T) { usageErrorOrOn(t, env, tc.args, tc.want) })
	}
}

// usageErrorOrOn runs muster with args against env's address, where no
// server listens: with want set it must fail as a usage error (exit 2)
// saying want; with want empty the arguments are taken and it goes on to
// the server, which it cannot reach (exit 1).
func usageErrorOrOn(t *testing.T, env, args []string, want string) {
	t.Helper()
	r := runCLI(t, env, args...)
	if want == "" {
		oneLineError(t, r, 1, "cannot reach muster")
		return
	}
	oneLineError(t, r, 2, want)
}

// With -o json the problems of a plan file come out as JSON, in the API's
// error shape, from plan validate (offline) and plan apply (the server's)
// alike; the table output lists them one per line.
func TestPlanProblemsAsJSON(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(file, []byte("id: x\ntitle: t\nbogus: 1\nlevels: []\n"), 0o600))
	_, decodeErr := plans.DecodePlan("bad.yaml", []byte("id: x\ntitle: t\nbogus: 1\nlevels: []\n"))
	var me *muster.Error
	require.ErrorAs(t, decodeErr, &me)
	problems := me.Details.([]plans.Problem)
	require.Len(t, problems, 2)
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"error": muster.Error{Code: me.Code, Message: me.Message, Details: problems}})
	})
	for _, verb := range []string{"validate", "apply"} {
		out, _, err := runOnFake(t, api, "plan", verb, "-f", file, "-o", "json")
		require.Error(t, err, verb)
		var got struct {
			Error struct {
				Code    string          `json:"code"`
				Message string          `json:"message"`
				Details []plans.Problem `json:"details"`
			} `json:"error"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &got), "%s: %s", verb, out)
		assert.Equal(t, "invalid", got.Error.Code, verb)
		assert.Equal(t, me.Message, got.Error.Message, verb)
		require.Len(t, got.Error.Details, 2, verb)
		assert.Equal(t, "bogus", got.Error.Details[0].Field, verb)
		assert.Equal(t, 3, got.Error.Details[0].Line, verb)

		out, _, err = runOnFake(t, api, "plan", verb, "-f", file)
		require.Error(t, err, verb)
		assert.Contains(t, out, ":3: bogus: unknown field", verb)
		assert.Contains(t, out, ":4: levels:", verb)
	}
}

// plan apply prints each warning the server gives (a selector no one has,
// a drill schedule the new scope leaves out) on a warning: line of its own
// after the version stored.
func TestPlanApplyPrintsWarnings(t *testing.T) {
	const w = `drill schedule D000001 "江北区通讯演练" runs in 江北区 (990102), outside plan flood-control's new scope (990101): its next run, due 2026-12-14 09:00 +08:00 (Asia/Shanghai), will be refused; …`
	api := fakeAPI{"POST /api/v1/plans": plans.PlanApplyResult{PlanID: "flood-control", Version: 2, Changed: true, Warnings: []string{"tag 网格场 …", w}}}
	out := mustRunOnFake(t, api, "plan", "apply", "-f", filepath.Join("..", "..", "examples", "plans", "flood.yaml"))
	assert.Equal(t, "plan flood-control: version 2 stored\nwarning: tag 网格场 …\nwarning: "+w+"\n", out)
}
