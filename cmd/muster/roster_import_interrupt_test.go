package main

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Ctrl-C once the node has the whole file does not pass for "nothing
// happened": muster roster import says that the node goes on with the
// import, that it cannot be stopped, and how to see what it did, and exits
// 130. Before, it died of the signal without a word.
func TestRosterImportInterruptedAfterTheFileIsSent(t *testing.T) {
	got := make(chan struct{})
	gone := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		once.Do(func() { close(got) })
		select { // a node busy importing, until its client is gone
		case <-r.Context().Done():
			close(gone)
		case <-time.After(30 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "big.csv")
	require.NoError(t, os.WriteFile(file, []byte("姓名,手机,网格,类别\n张三,13800138000,990101001001001,党员\n"), 0o600))

	r := interruptAt(t, exec.Command(musterBin, "--addr", srv.URL, "--token", "mst_x", "roster", "import", "-f", file), got, "the file arrived")
	assert.Equal(t, 130, r.code, "stderr: %s", r.stderr)
	oneLineError(t, r, 130, "interrupted, but the node has the whole of big.csv: it goes on with the import to its end")
	assert.Contains(t, r.stderr, "Ctrl-C cannot stop once the file is sent")
	assert.Contains(t, r.stderr, "muster person list")
	select {
	case <-gone:
	case <-time.After(30 * time.Second):
		t.Fatal("the connection outlived muster")
	}
	assert.False(t, strings.Contains(r.stdout, "imported:"), r.stdout)
}

// Ctrl-C while the file is still being sent imports nothing, and muster
// roster import says so. Before, it died of the signal without a word.
func TestRosterImportInterruptedWhileSending(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(started) })
		<-release // reads none of the body: the upload stalls once the socket buffers are full
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	// Far more than the loopback socket buffers hold (a few MiB each way).
	file := filepath.Join(t.TempDir(), "big.csv")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	require.NoError(t, os.Truncate(file, 64<<20))

	r := interruptAt(t, exec.Command(musterBin, "--addr", srv.URL, "--token", "mst_x", "-o", "json", "roster", "import", "-f", file), started, "the upload started")
	oneLineError(t, r, 130, "interrupted while sending big.csv: the node did not get the whole file, so nothing was imported")
}

// interruptAt starts cmd, waits until arrived is closed (what names it,
// for the failures), sends it Ctrl-C (SIGINT) and returns what muster
// printed and its exit code, which it must give within 30 s.
func interruptAt(t *testing.T, cmd *exec.Cmd, arrived <-chan struct{}, what string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	select {
	case <-arrived:
	case err := <-exited:
		t.Fatalf("muster exited before %s: %v: %s", what, err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("never: %s", what)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	var err error
	select {
	case err = <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("muster did not exit within 30 s of Ctrl-C")
	}
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "%v", err)
	return cliResult{code: ee.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}
