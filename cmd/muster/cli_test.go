package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
)

// cliResult is one run of the muster binary as a client.
type cliResult struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(musterBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	done := make(chan error, 1)
	require.NoError(t, cmd.Start())
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("muster %v did not finish within 60 s", args)
	}
	res := cliResult{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return res
}

// oneLineError asserts the failure convention: a single "muster: …" line on stderr.
func oneLineError(t *testing.T, r cliResult, code int, contains string) {
	t.Helper()
	assert.Equal(t, code, r.code, "exit code; stderr: %s", r.stderr)
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	require.Len(t, lines, 1, "exactly one line on stderr: %q", r.stderr)
	assert.True(t, strings.HasPrefix(lines[0], "muster: "), lines[0])
	assert.Contains(t, lines[0], contains)
}

func TestDevAndClientVerbs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	dir := t.TempDir()
	addr := freePort(t)
	dev := startProc(t, "dev", nil, "dev", "--data-dir", filepath.Join(dir, "data"), "--http-addr", addr, "--people", "1500", "--log-level", "warn")
	token := strings.Fields(dev.waitOutput("admin token:", 60*time.Second))[0]
	require.True(t, strings.HasPrefix(token, "mst_"))
	env := []string{"MUSTER_ADDR=http://" + addr, "MUSTER_TOKEN=" + token}
	root := filepath.Join("..", "..")

	// Demo data is there, as JSON a program can read.
	r := runCLI(t, env, "plan", "list", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var plans struct {
		Items []struct {
			ID      string `json:"id"`
			Version int    `json:"version"`
			Levels  []string
		} `json:"items"`
		Next string `json:"next"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &plans), r.stdout)
	require.Len(t, plans.Items, 3)
	for _, p := range plans.Items {
		assert.Equal(t, []string{"I", "II", "III", "IV"}, p.Levels, p.ID)
	}
	r = runCLI(t, env, "region", "list", "--kind", "district", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, 6, strings.Count(r.stdout, `"kind": "district"`))
	r = runCLI(t, env, "region", "list", "--kind", "district")
	require.Zero(t, r.code, r.stderr)
	assert.Regexp(t, `NAME_EN\n(.*\n)*990101\s+district\s+东湖区\s+990100\s+Donghu District\n`, r.stdout, "the table shows the English names")
	r = runCLI(t, env, "person", "list", "--tag", "网格长", "--limit", "5")
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, 6, strings.Count(r.stdout, "\n"), "a header and five people:\n%s", r.stdout)
	assert.Contains(t, r.stderr, "--after", "more pages are pointed out")
	id := strings.Fields(strings.Split(r.stdout, "\n")[1])[0]
	r = runCLI(t, env, "person", "show", id)
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "网格长")
	before := r.stdout

	// A keeper corrects one phone without a file: only that field changes.
	r = runCLI(t, env, "person", "set", id, "--phones", "139 0000 1234,010-12345678")
	require.Zero(t, r.code, r.stderr)
	assert.Regexp(t, `phones:\s+\+8613900001234,\+861012345678\n`, r.stdout)
	r = runCLI(t, env, "person", "show", id)
	require.Zero(t, r.code, r.stderr)
	changed := func(s string) []string {
		var lines []string
		for _, l := range strings.Split(s, "\n") {
			if !strings.HasPrefix(l, "phones:") {
				lines = append(lines, l)
			}
		}
		return lines
	}
	assert.Equal(t, changed(before), changed(r.stdout), "every other field as it was")
	oneLineError(t, runCLI(t, env, "person", "set", id), 2, "give at least one field")
	oneLineError(t, runCLI(t, env, "person", "set", id, "--phones", "12"), 1, "phone")
	r = runCLI(t, env, "person", "list", "--phone", "+8613900001234")
	assert.Contains(t, r.stdout, id, "found by the new number")

	// Offline plan validation: good, then bad with every problem listed.
	r = runCLI(t, nil, "plan", "validate", "-f", filepath.Join(root, "examples", "plans", "flood.yaml"))
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "valid plan flood-control")
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("id: bad-plan\ntitle: t\ncolour: red\n"), 0o600))
	r = runCLI(t, nil, "plan", "validate", "-f", bad)
	oneLineError(t, r, 1, "invalid plan: bad.yaml:")
	assert.Contains(t, r.stdout, "bad.yaml:3: colour: unknown field", "every problem is listed on stdout")
	r = runCLI(t, env, "plan", "apply", "-f", filepath.Join(root, "examples", "plans", "flood.yaml"))
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "unchanged (version 1)")

	// Roster import: GBK file, twice; then a file with bad rows.
	gbk := filepath.Join(root, "plans", "testdata", "roster", "gbk.csv")
	r = runCLI(t, env, "roster", "import", "-f", gbk, "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var res struct {
		Rows, Created, Unchanged int
		Encoding                 string
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &res))
	assert.Equal(t, "gbk", res.Encoding)
	assert.Equal(t, res.Rows, res.Created)
	r = runCLI(t, env, "roster", "import", "-f", gbk)
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "unchanged "+itoa(res.Rows))
	r = runCLI(t, env, "roster", "import", "-f", filepath.Join(root, "plans", "testdata", "roster", "bad_rows.csv"))
	oneLineError(t, r, 1, "nothing was imported")
	assert.Contains(t, r.stdout, "ROW", "the bad rows are listed on stdout")
	// A file without some columns says the people it updates keep those;
	// a file with no rows imported nothing, and says so.
	full, partial, empty := filepath.Join(dir, "full.csv"), filepath.Join(dir, "partial.csv"), filepath.Join(dir, "empty.csv")
	require.NoError(t, os.WriteFile(full, []byte("姓名,手机,网格,类别,标签\n吴杰,13800138111,990101001001001,网格员,网格长\n"), 0o600))
	require.NoError(t, os.WriteFile(partial, []byte("姓名,手机,网格,类别\n吴杰（更名）,13800138111,990101001001001,网格员\n"), 0o600))
	require.NoError(t, os.WriteFile(empty, []byte("姓名,手机,网格,类别\n"), 0o600))
	require.Zero(t, runCLI(t, env, "roster", "import", "-f", full).code)
	r = runCLI(t, env, "roster", "import", "-f", partial, "--allow-renames") // matched by phone alone, renamed
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "updated 1")
	assert.Contains(t, r.stdout, "renamed 1 person matched by phone alone")
	assert.Contains(t, r.stdout, "no column for tags, teams, backup, language: the people updated keep theirs")
	r = runCLI(t, env, "roster", "import", "-f", empty)
	require.Zero(t, r.code, r.stderr)
	assert.True(t, strings.HasPrefix(r.stdout, "imported: 0 rows"), "not a dry run: %s", r.stdout)

	// Roles: a viewer reads but may not import.
	r = runCLI(t, env, "token", "create", "--role", "viewer", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var created struct {
		Secret string `json:"secret"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &created))
	viewer := []string{"MUSTER_ADDR=http://" + addr, "MUSTER_TOKEN=" + created.Secret}
	require.Zero(t, runCLI(t, viewer, "plan", "list").code)
	oneLineError(t, runCLI(t, viewer, "roster", "import", "-f", gbk), 1, "lacks the edit_roster permission")
	r = runCLI(t, viewer, "whoami")
	require.Zero(t, r.code, r.stderr)
	assert.Regexp(t, `^token [0-9a-f]+ \(viewer, held by viewer\), role viewer\npermissions: read\nmay: activate no, approve no, reject no, retract no, stand down no\n$`, r.stdout)
	r = runCLI(t, env, "whoami")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "role admin\n")
	assert.Contains(t, r.stdout, "may: activate yes, approve yes, reject yes, retract yes, stand down yes\n")

	// Cluster status and a backup that is a real state file.
	r = runCLI(t, env, "cluster", "status", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"state": "Leader"`)
	r = runCLI(t, env, "cluster", "status")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, fmt.Sprintf("state-machine rules %d (this node's muster has %d)\n", muster.Rules, muster.Rules), "a single node has its own rules")
	assert.Regexp(t, `\ndata disk: [0-9.]+ (B|KiB|MiB|GiB) free, 256 MiB kept for call-ups, state [0-9.]+ (KiB|MiB)\n`, r.stdout)
	backup := filepath.Join(dir, "backup.db")
	r = runCLI(t, env, "backup", "-f", backup)
	require.Zero(t, r.code, r.stderr)
	assert.Regexp(t, `^backup of node dev at raft index [1-9][0-9]* written to .*backup\.db \([0-9]+ bytes\)\n$`, r.stdout)
	st, err := os.Stat(backup)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "phones, token hashes and the answer-link key: its owner's only")
	oneLineError(t, runCLI(t, env, "backup", "-f", backup), 1, "exists: give another file, or --force")
	r = runCLI(t, env, "backup", "-f", backup, "--force", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"node": "dev"`)
	db, err := bolt.Open(backup, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	require.NoError(t, err)
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		assert.NotNil(t, tx.Bucket([]byte("people")))
		return nil
	}))
	db.Close()

	// Failures: wrong token, usage errors, an unreachable server.
	oneLineError(t, runCLI(t, []string{"MUSTER_ADDR=http://" + addr, "MUSTER_TOKEN=mst_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "plan", "list"), 1, "unknown or revoked token")
	oneLineError(t, runCLI(t, env, "roster", "import"), 2, "-f FILE is required")
	oneLineError(t, runCLI(t, env, "plan", "list", "-o", "yaml"), 2, "--output")
	oneLineError(t, runCLI(t, env, "plan", "list", "--no-such-flag"), 2, "no-such-flag")
	oneLineError(t, runCLI(t, []string{"MUSTER_ADDR=http://" + freePort(t), "MUSTER_TOKEN=" + token}, "plan", "list"), 1, "cannot reach muster")

	// SIGTERM stops dev cleanly; a restart prints the same token and loads nothing twice.
	require.NoError(t, dev.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-dev.done:
		assert.Zero(t, dev.cmd.ProcessState.ExitCode(), dev.out.String())
	case <-time.After(10 * time.Second):
		t.Fatal("dev did not exit within 10 s of SIGTERM")
	}
	dev.start()
	again := strings.Fields(dev.waitOutput("admin token:", 60*time.Second))[0]
	assert.Equal(t, token, again)
	r = runCLI(t, env, "plan", "list", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, 3, strings.Count(r.stdout, `"version": 1`))

	// A person leaves the roster.
	r = runCLI(t, env, "person", "delete", id)
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, "person "+id+" deleted\n", r.stdout)
	oneLineError(t, runCLI(t, env, "person", "show", id), 1, "does not exist")
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestActivateStatusModeStandDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	addr := freePort(t)
	dev := startProc(t, "dev", nil, "dev", "--data-dir", filepath.Join(t.TempDir(), "data"), "--http-addr", addr, "--people", "1500", "--log-level", "warn")
	token := strings.Fields(dev.waitOutput("admin token:", 60*time.Second))[0]
	env := []string{"MUSTER_ADDR=http://" + addr, "MUSTER_TOKEN=" + token}
	simLine := dev.waitOutput("twilio simulator:", 10*time.Second)
	simURL := strings.Fields(simLine)[0]
	require.Equal(t, http.StatusOK, newAPI(t, "").getJSON(simURL+"/_sim/stats", nil), "the built-in simulator serves")
	assert.Contains(t, simLine, "(LIVE AC00000000000000000000000000000001, EXERCISE AC00000000000000000000000000000002;", "purposes are labelled in capitals")
	activate := []string{"activate", "flood-control", "--region", "990101", "--level", "IV", "--purpose", "exercise", "--reason", "防汛通讯演练"}

	// Without --yes the preview is shown and a wrong answer cancels.
	cmd := exec.Command(musterBin, activate...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader("no\n")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 1, ee.ExitCode())
	assert.Contains(t, errOut.String(), "PREVIEW")
	assert.Contains(t, errOut.String(), "【演练】", "the exercise sample SMS carries the mark")
	assert.Contains(t, errOut.String(), "AC00000000000000000000000000000002", "a drill goes out on the exercise account")
	assert.Contains(t, errOut.String(), "cancelled: nothing was activated")
	r := runCLI(t, env, "mode", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"items": []`, "a cancelled activation switches nothing")

	r = runCLI(t, env, append(activate, "--yes", "-o", "json")...)
	require.Zero(t, r.code, r.stderr)
	var a struct {
		ID         string `json:"id"`
		Recipients int    `json:"recipients"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &a))
	require.Positive(t, a.Recipients)
	// A script run again with its idempotency key gets the activation its
	// first run created (--repeat: the first drill still drills them).
	var keyed [2]struct {
		ID string `json:"id"`
	}
	for i := range keyed {
		r = runCLI(t, env, append(slices.Clone(activate), "--yes", "-o", "json", "--idempotency-key", "nightly-1", "--repeat")...)
		require.Zero(t, r.code, r.stderr)
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &keyed[i]))
	}
	assert.Equal(t, keyed[0].ID, keyed[1].ID)
	assert.NotEqual(t, a.ID, keyed[0].ID)
	r = runCLI(t, env, "mode", "--region", "990101001001001")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "normal (平时)", "a drill runs in peacetime: it switches no region")
	r = runCLI(t, env, "status", a.ID)
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "PENDING")
	assert.Contains(t, r.stdout, "ESCALATION (叫应)", "the plan's escalation chain is listed")
	assert.Regexp(t, `T\+30m0s +voice`, r.stdout, "with its steps")

	// A LIVE level I activation waits for a second person, who sees the
	// preview and types the activation ID to approve it. The requester is
	// the duty office; the second person's token is made by someone else:
	// one that comes from the requester's does not count as another person.
	var office, second struct {
		Secret string `json:"secret"`
	}
	r = runCLI(t, env, "token", "create", "--role", "admin", "--name", "值班主任", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &office))
	officeEnv := []string{"MUSTER_ADDR=http://" + addr, "MUSTER_TOKEN=" + office.Secret}
	r = runCLI(t, env, "token", "create", "--role", "approver", "--name", "值班领导", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &second))
	r = runCLI(t, officeEnv, "activate", "flood-control", "--region", "990102", "--level", "I", "--purpose", "live", "--reason", "暴雨", "--yes", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var pending struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &pending))
	assert.Equal(t, "pending_approval", pending.Status)
	oneLineError(t, runCLI(t, officeEnv, "approve", pending.ID, "--yes"), 1, "another person must decide")
	approverEnv := []string{"MUSTER_ADDR=http://" + addr, "MUSTER_TOKEN=" + second.Secret}
	cmd = exec.Command(musterBin, "approve", pending.ID, "--reason", "会商确认")
	cmd.Env = append(os.Environ(), approverEnv...)
	cmd.Stdin = strings.NewReader(pending.ID + "\n")
	out.Reset()
	errOut.Reset()
	cmd.Stdout, cmd.Stderr = &out, &errOut
	require.NoError(t, cmd.Run(), errOut.String())
	assert.Contains(t, errOut.String(), "PREVIEW")
	assert.Contains(t, errOut.String(), "requested by 值班主任")
	assert.Contains(t, out.String(), "activation "+pending.ID+": ")
	assert.Contains(t, out.String(), "recipients")
	r = runCLI(t, env, "mode", "--region", "990102")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "emergency (战时) I")
	r = runCLI(t, env, "retract", pending.ID, "--message", "前一条特别重大响应启动通知系误发，请忽略。")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "activation "+pending.ID+" retracted")
	assert.Contains(t, r.stdout, "may have reached (its SMS to them was sent or in flight, or a call of it was placed to them)")
	assert.NotContains(t, r.stdout, "already reached", "muster cannot know they were reached")
	oneLineError(t, runCLI(t, env, "retract", pending.ID, "--message", "again"), 1, "already retracted")
	r = runCLI(t, env, "mode", "--region", "990102")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "normal", "the retracted activation released its region")
	r = runCLI(t, env, "stand-down", a.ID, "--reason", "演练结束")
	require.Zero(t, r.code, r.stderr)
	r = runCLI(t, env, "mode")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "every region is normal")
	oneLineError(t, runCLI(t, env, "stand-down", a.ID, "--reason", "again"), 1, "already stood down")
}

// muster dev on an address other than the client verbs' default suggests a
// command that names it with --addr, and the command works as suggested;
// on the default address the suggestion needs no --addr.
func TestDevSuggestsACommandThatReachesIt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	addr := freePort(t)
	dev := startProc(t, "dev", nil, "dev", "--data-dir", filepath.Join(t.TempDir(), "data"), "--http-addr", addr, "--people", "50", "--log-level", "warn")
	try := dev.waitOutput("try:", 60*time.Second)
	token := strings.Fields(dev.waitOutput("admin token:", time.Second))[0]
	assert.Equal(t, "export MUSTER_TOKEN="+token+"; go run ./cmd/muster plan list --addr http://"+addr, try)
	_, command, ok := strings.Cut(try, "go run ./cmd/muster ")
	require.True(t, ok, try)
	r := runCLI(t, []string{"MUSTER_ADDR=", "MUSTER_TOKEN=" + token}, strings.Fields(command)...)
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "flood-control")

	assert.Equal(t, "export MUSTER_TOKEN=mst_x; go run ./cmd/muster plan list", devTry(defaultAddr, "mst_x"))
}
