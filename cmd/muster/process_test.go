package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// musterBin is the muster binary built once for the tests that run real
// processes.
var musterBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "muster-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	musterBin = filepath.Join(dir, "muster")
	build := exec.Command("go", "build", "-o", musterBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build muster:", err)
		os.Exit(1)
	}
	code := m.Run()
	removeTestImage()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a loopback address with a port nobody listens on now,
// below the kernel's ephemeral range (32768 and up on Linux): a port from
// that range, freed here and bound by a process a moment later, can be
// taken meanwhile by any outgoing connection of the tests running beside
// it, and the process then fails with "address already in use".
func freePort(t testing.TB) string {
	t.Helper()
	for range 100 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+mrand.IntN(12000))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue // in use: another
		}
		ln.Close()
		return addr
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// lockedBuffer collects a process's output safely.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a muster process started by a test.
type proc struct {
	t    testing.TB
	name string
	args []string
	env  []string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
}

func startProc(t testing.TB, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, args: args, env: env}
	p.start()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("--- output of %s ---\n%s", p.name, p.out.String())
		}
	})
	return p
}

func (p *proc) start() {
	p.t.Helper()
	p.out = &lockedBuffer{}
	p.cmd = exec.Command(musterBin, p.args...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	require.NoError(p.t, p.cmd.Start())
	p.done = make(chan struct{})
	go func() { p.cmd.Wait(); close(p.done) }()
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// terminate sends SIGTERM and waits (bounded) for a clean exit.
func (p *proc) terminate(timeout time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("%s did not exit within %v of SIGTERM", p.name, timeout)
	}
}

// waitOutput polls the process output for a line matching prefix and
// returns the rest of that line.
func (p *proc) waitOutput(prefix string, timeout time.Duration) string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(p.out.String()))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if i := strings.Index(line, prefix); i >= 0 {
				return strings.TrimSpace(line[i+len(prefix):])
			}
		}
		select {
		case <-p.done:
			p.t.Fatalf("%s exited before printing %q:\n%s", p.name, prefix, p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	p.t.Fatalf("%s did not print %q within %v:\n%s", p.name, prefix, timeout, p.out.String())
	return ""
}

// apiClient is a small HTTP client for the tests.
type apiClient struct {
	t     testing.TB
	token string
	http  *http.Client
}

func newAPI(t testing.TB, token string) *apiClient {
	return &apiClient{t: t, token: token, http: &http.Client{Timeout: 10 * time.Second}}
}

// call does one request and returns the status and body; a transport error
// is status 0.
func (a *apiClient) call(ctx context.Context, method, url string, body []byte, contentType string) (int, []byte) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	require.NoError(a.t, err)
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := a.http.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, data
}

// waitStatus polls url until it answers want.
func (a *apiClient) waitStatus(url string, want int, timeout time.Duration) {
	a.t.Helper()
	deadline := time.Now().Add(timeout)
	var last []byte
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		code, body := a.call(ctx, http.MethodGet, url, nil, "")
		cancel()
		if code == want {
			return
		}
		last = body
		time.Sleep(50 * time.Millisecond)
	}
	a.t.Fatalf("%s did not answer %d within %v (last: %s)", url, want, timeout, last)
}

func (a *apiClient) getJSON(url string, out any) int {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, body := a.call(ctx, http.MethodGet, url, nil, "")
	if code == http.StatusOK && out != nil {
		require.NoError(a.t, json.Unmarshal(body, out), "%s", body)
	}
	return code
}
