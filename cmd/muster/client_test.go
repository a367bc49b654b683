package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --addr takes HOST:PORT as http://HOST:PORT, what people type for an
// address, and refuses what is no http(s) URL with a usage error that
// shows one, instead of Go's URL parser's words.
func TestClientAddr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"127.0.0.1:18081", "http://127.0.0.1:18081"},
		{"localhost:8080", "http://localhost:8080"},
		{" http://127.0.0.1:8080/ ", "http://127.0.0.1:8080"},
		{"https://muster.example.org/api-gw", "https://muster.example.org/api-gw"},
		{"[::1]:8080", "http://[::1]:8080"},
		{"", defaultAddr},
	} {
		got, err := clientAddr("--addr", tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
	for _, in := range []string{"ftp://127.0.0.1:8080", "http://", "http://h:1/?x=1", "http://[::1"} {
		_, err := clientAddr("MUSTER_ADDR", in)
		require.Error(t, err, in)
		assert.Equal(t, exitUsage, exitCode(err), in)
		assert.Equal(t, `MUSTER_ADDR "`+in+`": want a URL such as http://127.0.0.1:8080 (or HOST:PORT)`, err.Error())
	}
}

// The first things a newcomer gets wrong, against a real muster dev: an
// address without http:// works; no token says to give --token or set
// MUSTER_TOKEN and where dev keeps its token, for a request and for the
// event stream of status --watch, rather than naming an HTTP header.
func TestFirstContactErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	dir := t.TempDir()
	addr := freePort(t)
	dev := startProc(t, "dev", nil, "dev", "--data-dir", filepath.Join(dir, "data"), "--http-addr", addr, "--people", "200", "--log-level", "warn")
	token := strings.Fields(dev.waitOutput("admin token:", 60*time.Second))[0]

	r := runCLI(t, []string{"MUSTER_ADDR=", "MUSTER_TOKEN=" + token}, "plan", "list", "--addr", addr)
	assert.Zero(t, r.code, "HOST:PORT is http://HOST:PORT: %s", r.stderr)
	assert.Contains(t, r.stdout, "flood-control")

	const want = "no API token: give --token mst_… or set MUSTER_TOKEN (muster dev prints its admin token when it starts and keeps it in DATA-DIR/admin-token"
	for _, args := range [][]string{
		{"plan", "list", "--addr", "http://" + addr},
		{"status", "A000001", "--watch", "--addr", addr},
	} {
		r = runCLI(t, []string{"MUSTER_ADDR=", "MUSTER_TOKEN="}, args...)
		oneLineError(t, r, 1, want)
		assert.NotContains(t, r.stderr, "Authorization")
	}
	// A token that is wrong is the node's to explain.
	r = runCLI(t, []string{"MUSTER_ADDR=" + addr, "MUSTER_TOKEN=mst_wrong"}, "plan", "list")
	assert.Equal(t, 1, r.code, r.stderr)
	assert.NotContains(t, r.stderr, "no API token")

	oneLineError(t, runCLI(t, []string{"MUSTER_ADDR=ftp://" + addr, "MUSTER_TOKEN=" + token}, "plan", "list"), 2,
		`MUSTER_ADDR "ftp://`+addr+`": want a URL such as http://127.0.0.1:8080 (or HOST:PORT)`)
	oneLineError(t, runCLI(t, []string{"MUSTER_ADDR=", "MUSTER_TOKEN=" + token}, "plan", "list", "--addr", "http://"), 2,
		`--addr "http://": want a URL such as`)
}
