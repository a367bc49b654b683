package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/drills"
	"muster/plans"
)

// drill update sends only the flags given (an empty --units clears the
// units), with PATCH to the schedule, and prints the schedule as it now is,
// its next run and the server's warnings. Without a flag, or with one the
// server would refuse as it is typed, nothing is sent.
func TestDrillUpdateSendsOnlyTheFlagsGiven(t *testing.T) {
	s := drills.Schedule{ID: "D000001", Plan: "flood-control", Title: "街道通讯演练", Level: "IV", Type: drills.Notification, Regions: []plans.RegionCode{"990101001"},
		Cron: "30 8 * * 1-5", TimeZone: "Asia/Shanghai", Length: plans.Duration(2 * time.Hour),
		Due: time.Date(2026, 12, 8, 0, 30, 0, 0, time.UTC), RunAt: time.Date(2026, 12, 8, 0, 30, 0, 0, time.UTC), Runs: 3,
		Warnings: []string{"its run R000003 (activation A000007) is still calling the same people up until 2026-12-07 10:00 +08:00: it goes on as it started, and the change applies from the next run"}}
	var mu sync.Mutex
	var asked []string
	var body map[string]json.RawMessage
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, r.Method+" "+r.URL.Path)
		b, _ := io.ReadAll(r.Body)
		body = nil
		_ = json.Unmarshal(b, &body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s)
	})
	out := mustRunOnFake(t, api, "drill", "update", "D000001", "--cron", "30 8 * * 1-5", "--length", "2h", "--units", "")
	mu.Lock()
	assert.Equal(t, []string{"PATCH /api/v1/drills/D000001"}, asked)
	assert.Equal(t, map[string]json.RawMessage{"cron": json.RawMessage(`"30 8 * * 1-5"`), "length": json.RawMessage(`"2h"`), "units": json.RawMessage(`[]`)}, body,
		"only the flags given, no defaults")
	mu.Unlock()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 3, out)
	assert.Equal(t, "drill D000001 updated: 街道通讯演练, 通讯演练 level IV over 990101001", lines[0])
	assert.Regexp(t, `^next:\s+2026-12-08 08:30 \+08:00$`, lines[1])
	assert.Equal(t, "warning: "+s.Warnings[0], lines[2])

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"nothing to change", nil, "nothing to change"},
		{"bad cron", []string{"--cron", "61 9 * * 1"}, `--cron "61 9 * * 1": minute "61"`},
		{"cron and at", []string{"--cron", "0 9 * * 1", "--at", "2027-01-04 09:00"}, "not both"},
		{"no region", []string{"--region", ""}, "--region: name at least one region"},
		{"bad at", []string{"--at", "next monday"}, `--at "next monday"`},
	} {
		mu.Lock()
		asked = nil
		mu.Unlock()
		_, _, err := runOnFake(t, api, append([]string{"drill", "update", "D000001"}, tc.args...)...)
		require.Error(t, err, tc.name)
		assert.Contains(t, err.Error(), tc.want, tc.name)
		mu.Lock()
		assert.Empty(t, asked, "%s: nothing is sent", tc.name)
		mu.Unlock()
	}
}

// drill update against a real node: the schedule a trainer made and ran
// by hand changes in place, keeping its ID and its run; the server's
// refusals (an unknown schedule, runs closer than their length) are one
// line each and change nothing.
func TestDrillUpdateOnANode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	addr := freePort(t)
	dev := startProc(t, "dev", nil, "dev", "--data-dir", filepath.Join(t.TempDir(), "data"), "--http-addr", addr, "--people", "200", "--log-level", "warn")
	token := strings.Fields(dev.waitOutput("admin token:", 60*time.Second))[0]
	env := []string{"MUSTER_ADDR=http://" + addr, "MUSTER_TOKEN=" + token}
	r := runCLI(t, env, "token", "create", "--role", "trainer", "--name", "演练组织者", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var trainer struct {
		Secret string `json:"secret"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &trainer))
	env = []string{"MUSTER_ADDR=http://" + addr, "MUSTER_TOKEN=" + trainer.Secret}

	r = runCLI(t, env, "drill", "schedule", "flood-control", "--region", "990102", "--level", "IV", "--title", "防汛通讯演练", "--cron", "0 9 * * 1", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var s drills.Schedule
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &s))
	r = runCLI(t, env, "drill", "run", string(s.ID), "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var run drills.Run
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &run))
	require.Equal(t, drills.RunStarted, run.Status)

	oneLineError(t, runCLI(t, env, "drill", "update", "D999999", "--length", "2h"), 1, "drill schedule D999999 does not exist")
	oneLineError(t, runCLI(t, env, "drill", "update", string(s.ID), "--cron", "*/30 * * * *"), 1, "less than a run's length")
	r = runCLI(t, env, "drill", "update", string(s.ID), "--cron", "0 14 * * 3", "--tz", "UTC", "--title", "防汛通讯演练（周三）")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "drill "+string(s.ID)+" updated: 防汛通讯演练（周三）, 通讯演练 level IV over 990102\n")
	assert.Regexp(t, `next:\s+\d{4}-\d\d-\d\d 14:00 \+00:00\n`, r.stdout, "the next due time under the new cron, in the new zone")
	assert.Contains(t, r.stdout, "warning: its run "+string(run.ID), "the run open now is named")
	assert.Contains(t, r.stdout, "the change applies from the next run")

	r = runCLI(t, env, "drill", "show", string(s.ID))
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"0 14 * * 3" UTC`)
	assert.Contains(t, r.stdout, "1 started, 0 missed, last "+string(run.ID))
	r = runCLI(t, env, "drill", "runs", "--schedule", string(s.ID))
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, string(run.ID))
}
