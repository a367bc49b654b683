package main

import (
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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A roster read from a pipe (stdin, or a FIFO) has no size: Ctrl-C while
// muster is still reading it, with the pipe open and more to come, says
// that nothing was imported, not that the node has the whole file and goes
// on with it.
func TestRosterImportInterruptedWhileReadingAPipe(t *testing.T) {
	t.Run("stdin", func(t *testing.T) { interruptPipedImport(t, "-", "standard input") })
	t.Run("fifo", func(t *testing.T) {
		fifo := filepath.Join(t.TempDir(), "fifo.csv")
		require.NoError(t, syscall.Mkfifo(fifo, 0o600))
		interruptPipedImport(t, fifo, "fifo.csv")
	})
}

func interruptPipedImport(t *testing.T, file, name string) {
	got := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int
		buf := make([]byte, 32<<10)
		for {
			m, err := r.Body.Read(buf)
			n += m
			if n >= 1000 {
				once.Do(func() { close(got) })
			}
			if err == io.EOF {
				w.WriteHeader(http.StatusOK)
				io.WriteString(w, `{"rows":0}`)
				return
			}
			if err != nil { // a body cut short, as the node refuses it
				http.Error(w, `{"error":{"code":"invalid","message":"truncated body"}}`, http.StatusBadRequest)
				return
			}
		}
	}))
	t.Cleanup(srv.Close)

	cmd := exec.Command(musterBin, "--addr", srv.URL, "--token", "mst_x", "roster", "import", "-f", file)
	var pw io.WriteCloser
	var err error
	if file == "-" {
		pw, err = cmd.StdinPipe()
	} else { // read-write: opening does not wait for muster to open it
		pw, err = os.OpenFile(file, os.O_RDWR, 0)
	}
	require.NoError(t, err)
	t.Cleanup(func() { pw.Close() })
	// The start of the file, within the pipe's buffer; the pipe stays open:
	// the rest of the file has not come yet.
	_, err = io.WriteString(pw, "姓名,手机,网格,类别\n"+strings.Repeat("张三,13800138000,990101001001001,党员\n", 200))
	require.NoError(t, err)
	r := interruptAt(t, cmd, got, "the start of the file arrived")
	oneLineError(t, r, 130, "interrupted while sending "+name+": the node did not get the whole file, so nothing was imported")
	assert.NotContains(t, r.stderr, "goes on with the import")
}
