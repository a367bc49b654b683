package main

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
)

// settings reads the Key=Value settings of a systemd unit or environment
// file (the last of each key wins, as for these keys in systemd).
func settings(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "%s: %q is no setting", path, line)
		out[k] = v
	}
	require.NoError(t, sc.Err())
	return out
}

// TestSystemdUnit runs deploy/systemd/muster.service's ExecStart with the
// settings of deploy/systemd/muster.env, as systemd would, on this host's
// loopback: the node bootstraps, serves, and on SIGTERM stops within the
// unit's TimeoutStopSec with status 0 (so Restart=on-failure leaves it
// stopped). Every MUSTER_ name in the example file, set or commented out,
// is a flag of muster agent, and the data directory lies in the unit's
// state directory, the one place its sandbox lets it write.
func TestSystemdUnit(t *testing.T) {
	unit := settings(t, filepath.Join("..", "..", "deploy", "systemd", "muster.service"))
	exec := strings.Fields(unit["ExecStart"])
	require.GreaterOrEqual(t, len(exec), 2, "ExecStart: %q", unit["ExecStart"])
	assert.Equal(t, "/usr/local/bin/muster", exec[0])
	assert.Equal(t, "/etc/muster/muster.env", strings.TrimPrefix(unit["EnvironmentFile"], "-"))
	assert.Equal(t, "on-failure", unit["Restart"])
	assert.Equal(t, fmt.Sprintf("%d %d", exitUsage, exitRefused), unit["RestartPreventExitStatus"],
		"a node refused, or started wrongly, is not restarted for ever")
	assert.Equal(t, "strict", unit["ProtectSystem"], "the sandbox the data directory check below assumes")
	stop, err := time.ParseDuration(unit["TimeoutStopSec"])
	require.NoError(t, err)

	envFile := filepath.Join("..", "..", "deploy", "systemd", "muster.env")
	data, err := os.ReadFile(envFile)
	require.NoError(t, err)
	agent, _, err := newRoot().Find([]string{"agent"})
	require.NoError(t, err)
	var documented []string
	for _, m := range regexp.MustCompile(`(?m)^#?(MUSTER_[A-Z0-9_]+)=`).FindAllStringSubmatch(string(data), -1) {
		documented = append(documented, m[1]+"=x")
	}
	require.NotEmpty(t, documented)
	assert.Empty(t, unknownEnv(agent.Flags(), documented), "names in muster.env that are no flag of muster agent")

	env := settings(t, envFile)
	names := slices.Sorted(maps.Keys(env))
	assert.True(t, strings.HasPrefix(env["MUSTER_DATA_DIR"], "/var/lib/"+unit["StateDirectory"]+"/"),
		"MUSTER_DATA_DIR %s outside the state directory", env["MUSTER_DATA_DIR"])

	// This host's stand-ins for the addresses and directory the file names.
	dir := t.TempDir()
	env["MUSTER_DATA_DIR"] = filepath.Join(dir, filepath.Base(env["MUSTER_DATA_DIR"]))
	env["MUSTER_RAFT_ADDR"], env["MUSTER_HTTP_ADDR"] = freePort(t), freePort(t)
	var list []string
	for _, k := range names {
		list = append(list, k+"="+env[k])
	}
	p := startProc(t, "muster.service", list, exec[1:]...)
	assert.NotEmpty(t, p.waitOutput("first admin token (shown once):", 30*time.Second))
	newAPI(t, "").waitStatus("http://"+env["MUSTER_HTTP_ADDR"]+"/readyz", http.StatusOK, 30*time.Second)
	assert.FileExists(t, filepath.Join(env["MUSTER_DATA_DIR"], "state.db"))

	require.NoError(t, p.terminate(stop))
	assert.Equal(t, 0, p.cmd.ProcessState.ExitCode(), "exit status on SIGTERM:\n%s", p.out.String())
	for _, k := range names {
		assert.NotContains(t, p.out.String(), k+" is set but is no flag", "every setting of muster.env is taken")
	}
}

// TestStrayEnvIsReported: a MUSTER_ variable that sets no flag (misspelt,
// say) is named in the node's log at start instead of being ignored
// without a word.
func TestStrayEnvIsReported(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, "agent", []string{"MUSTER_EXCERCISE_TWILIO_ACCOUNT_SID=AC11111111111111111111111111111111"},
		"agent", "--node-id", "n1", "--data-dir", dir, "--raft-addr", freePort(t), "--http-addr", freePort(t), "--bootstrap")
	assert.Contains(t, p.waitOutput("MUSTER_EXCERCISE_TWILIO_ACCOUNT_SID is set", 30*time.Second), "no flag of this command")
	require.NoError(t, p.terminate(30*time.Second))
}

// TestSystemdUnitSyscallFilter runs a node under strace through a day's
// work (bootstrap, regions, roster and plan imported, a drill call-up sent
// through the built-in simulator and its delivery reports taken, a token,
// a backup, SIGTERM) and checks that every system call it made is one the
// unit's SystemCallFilter lets through, as this host's systemd expands its
// groups. A call outside it would fail with the unit's SystemCallErrorNumber
// on a real host.
func TestSystemdUnitSyscallFilter(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	strace, err1 := exec.LookPath("strace")
	analyze, err2 := exec.LookPath("systemd-analyze")
	if err := errors.Join(err1, err2); err != nil {
		if os.Getenv("MUSTER_REQUIRE_STRACE") != "" {
			t.Fatalf("strace and systemd-analyze are required: %v", err)
		}
		t.Skipf("needs strace and systemd-analyze: %v", err)
	}
	unitFile := filepath.Join("..", "..", "deploy", "systemd", "muster.service")
	filters := settingAll(t, unitFile, "SystemCallFilter")
	require.NotEmpty(t, filters, "the unit names the system calls it allows")
	assert.Equal(t, "EPERM", settings(t, unitFile)["SystemCallErrorNumber"], "a call outside the filter fails, it does not kill the node")
	allowed := allowedSyscalls(t, analyze, filters)

	trace := filepath.Join(t.TempDir(), "strace.out")
	httpAddr := freePort(t)
	base := "http://" + httpAddr
	p := &proc{t: t, name: "agent under strace", env: []string{"MUSTER_CLUSTER_KEY=" + testClusterKey}}
	p.out = &lockedBuffer{}
	p.cmd = exec.Command(strace, "-f", "-qq", "-o", trace, musterBin, "agent", "--node-id", "n1",
		"--data-dir", filepath.Join(t.TempDir(), "n1"), "--raft-addr", freePort(t), "--http-addr", httpAddr,
		"--bootstrap", "--bootstrap-token", testAdminToken, "--log-level", "warn")
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	require.NoError(t, p.cmd.Start())
	p.done = make(chan struct{})
	go func() { p.cmd.Wait(); close(p.done) }()
	node := tracee(t, p.cmd.Process.Pid)
	t.Cleanup(func() {
		select {
		case <-p.done: // the node is gone and its pid may be another's by now
		default:
			_ = syscall.Kill(node, syscall.SIGKILL) // strace ends with it
		}
		p.kill()
	})
	p.waitOutput("cluster bootstrapped", 60*time.Second)

	c := newAPI(t, testAdminToken)
	c.waitStatus(base+"/readyz", http.StatusOK, 60*time.Second)
	env := []string{"MUSTER_ADDR=" + base, "MUSTER_TOKEN=" + testAdminToken}
	loadEveryone(t, c, base, env, 300)
	id, recipients := activateCLI(t, env, "everyone", "990101")
	require.Positive(t, recipients)
	st := waitSettled(t, c, base, id, 60*time.Second)
	assert.Equal(t, map[notify.State]int{notify.StateDelivered: recipients}, st.Counters.ByState, "sent and reported through the built-in simulator")
	r := runCLI(t, env, "token", "create", "--role", "viewer", "--name", "值班员")
	require.Zero(t, r.code, r.stderr)
	r = runCLI(t, env, "backup", "-f", filepath.Join(t.TempDir(), "backup.db"))
	require.Zero(t, r.code, r.stderr)
	// SIGTERM to the node itself: strace would detach and leave it running.
	require.NoError(t, syscall.Kill(node, syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the node did not stop within 30 s of SIGTERM:\n%s", p.out.String())
	}
	assert.Equal(t, 0, p.cmd.ProcessState.ExitCode(), "strace exits with the node's status:\n%s", p.out.String())

	data, err := os.ReadFile(trace)
	require.NoError(t, err)
	used := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^\d+ +([a-z0-9_]+)\(`).FindAllSubmatch(data, -1) {
		used[string(m[1])]++
	}
	require.Contains(t, used, "fdatasync", "the trace holds the node's work")
	var outside []string
	for name := range used {
		if !allowed[name] && name != "execve" { // strace's own exec of muster; systemd's filter applies after it
			outside = append(outside, name)
		}
	}
	slices.Sort(outside)
	assert.Empty(t, outside, "system calls the unit's SystemCallFilter refuses")
	t.Logf("%d distinct system calls made, %d allowed by %q", len(used), len(allowed), filters)
}

// tracee is the muster process strace (pid) started, once it has exec'd
// it (strace forks short-lived children of its own to probe the kernel).
func tracee(t *testing.T, pid int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		require.NoError(t, err)
		for _, c := range strings.Fields(string(data)) {
			cmdline, _ := os.ReadFile("/proc/" + c + "/cmdline")
			if exe, _, _ := strings.Cut(string(cmdline), "\x00"); exe == musterBin {
				child, err := strconv.Atoi(c)
				require.NoError(t, err)
				return child
			}
		}
		require.True(t, time.Now().Before(deadline), "strace did not start muster")
		time.Sleep(10 * time.Millisecond)
	}
}

// settingAll is every value of key in a systemd unit, in order.
func settingAll(t *testing.T, path, key string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && k == key {
			out = append(out, v)
		}
	}
	return out
}

// allowedSyscalls is the set of system calls a unit's SystemCallFilter
// values allow, as systemd does it: the first value's names and groups
// (expanded by systemd-analyze, groups within groups too) make an allow
// list, and a later value starting with ~ takes names away from it.
func allowedSyscalls(t *testing.T, analyze string, filters []string) map[string]bool {
	t.Helper()
	out, err := exec.Command(analyze, "syscall-filter").Output()
	require.NoError(t, err)
	groups := map[string][]string{}
	var cur string
	for _, line := range strings.Split(string(out), "\n") {
		switch l := strings.TrimSpace(line); {
		case l == "" || strings.HasPrefix(l, "#"):
		case !strings.HasPrefix(line, " "):
			cur = l
		default:
			groups[cur] = append(groups[cur], l)
		}
	}
	var expand func(name string, into map[string]bool)
	expand = func(name string, into map[string]bool) {
		if !strings.HasPrefix(name, "@") {
			into[name] = true
			return
		}
		members, ok := groups[name]
		require.True(t, ok, "systemd knows no group %s", name)
		for _, m := range members {
			expand(m, into)
		}
	}
	allowed := map[string]bool{}
	for i, f := range filters {
		deny := strings.HasPrefix(f, "~")
		require.True(t, deny == (i > 0), "SystemCallFilter=%s: an allow list first, then ~ lists", f)
		set := map[string]bool{}
		for _, name := range strings.Fields(strings.TrimPrefix(f, "~")) {
			expand(name, set)
		}
		for name := range set {
			if deny {
				delete(allowed, name)
			} else {
				allowed[name] = true
			}
		}
	}
	return allowed
}
