package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/drills"
	"muster/plans"
)

// openPTY opens a pseudo-terminal: what muster writes to tty, a terminal
// for isTerminal, is read from master.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	var unlock int32
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Skipf("unlock pseudo-terminal: %v", e)
	}
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Skipf("pseudo-terminal number: %v", e)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return master, tty
}

// muster drill report RUN without --out on a terminal prints a short
// summary of the run and how to write the whole report, not the HTML page;
// piped (standard output not a terminal) it writes the page as before
// (round 25, Y20).
func TestDrillReportOnATerminalIsASummary(t *testing.T) {
	html := "<!doctype html>" + strings.Repeat("<p>x</p>", 20000)
	m := drills.Metrics{Run: "R000001", Plan: "flood-control", PlanVersion: 2, PlanTitle: "防汛应急预案", Type: drills.ExerciseType("notification"),
		Level: plans.LevelCode("IV"), Start: time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC),
		Total: drills.Tally{Recipients: 10, Reached: 9, ReachedPct: 90, Acked: 6, AckedPct: 60, Declined: 1, DeclinedPct: 10, Failed: 1, Unanswered: 2, UnansweredPct: 20,
			Checkpoints: []drills.Checkpoint{{Minutes: 5, Passed: true, Reached: 8, ReachedPct: 80, Acked: 3, AckedPct: 30},
				{Minutes: 15, Passed: true, Reached: 9, ReachedPct: 90, Acked: 5, AckedPct: 50, Declined: 1, DeclinedPct: 10},
				{Minutes: 30, Reached: 9, ReachedPct: 90, Acked: 6, AckedPct: 60, Declined: 1, DeclinedPct: 10}}}}
	var mu sync.Mutex
	var formats []string
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		formats = append(formats, r.URL.Query().Get("format"))
		mu.Unlock()
		if r.URL.Query().Get("format") == "json" {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(m)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(html))
	})

	// Piped: the page, as before.
	out := mustRunOnFake(t, api, "drill", "report", "R000001")
	assert.Equal(t, html, out)

	// On a terminal: the summary.
	master, tty := openPTY(t)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	read := make(chan string, 1)
	go func() {
		var b bytes.Buffer
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		read <- b.String()
	}()
	root := newRoot()
	var errOut bytes.Buffer
	root.SetArgs([]string{"--addr", srv.URL, "--token", "mst_x", "-o", "table", "drill", "report", "R000001"})
	root.SetOut(tty)
	root.SetErr(&errOut)
	_, err := root.ExecuteC()
	require.NoError(t, err, "%s", errOut.String())
	tty.Close() // the reader ends (EIO) once what was written is read
	var got string
	select {
	case got = <-read:
	case <-time.After(10 * time.Second):
		t.Fatal("nothing read from the terminal")
	}
	got = strings.ReplaceAll(got, "\r\n", "\n")
	assert.NotContains(t, got, "<!doctype html>")
	assert.Contains(t, got, "drill run R000001: plan flood-control v2 (防汛应急预案), level IV, notification, started ")
	assert.Contains(t, got, "10 recipients: reached 9 (90.0%), acknowledged 6 (60.0%), declined 1 (10.0%), failed 1, silent 2 (20.0%)\n")
	assert.Contains(t, got, "T+5: reached 8 (80.0%), acknowledged 3 (30.0%), declined 0 (0.0%)\n")
	assert.Contains(t, got, "T+30: reached 9 (90.0%), acknowledged 6 (60.0%), declined 1 (10.0%) (so far)\n")
	assert.Contains(t, got, "muster drill report R000001 --out report.html (or report.xlsx, report.csv, report.json)")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"html", "json"}, formats)
}
