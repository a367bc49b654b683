package clustertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// SmallDisk mounts a tmpfs of size (mount's syntax: "48m") under the
// test's temp dir: a real file system that fills. Mounting needs root; CI
// runs as root and sets MUSTER_REQUIRE_TMPFS, so there a failure to mount
// fails the test instead of skipping it. The tmpfs is unmounted at cleanup,
// after whatever cleanups the test registers later (a node using it).
func SmallDisk(t testing.TB, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disk")
	require.NoError(t, os.Mkdir(dir, 0o700))
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput()
	if err != nil {
		if os.Getenv("MUSTER_REQUIRE_TMPFS") != "" {
			t.Fatalf("MUSTER_REQUIRE_TMPFS is set but a tmpfs cannot be mounted: %v: %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs (%v: %s): set MUSTER_REQUIRE_TMPFS=1 to make this a failure", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// GrowDisk remounts a SmallDisk with a new size, as an operator grows a
// full disk.
func GrowDisk(t testing.TB, dir, size string) {
	t.Helper()
	out, err := exec.Command("mount", "-o", "remount,size="+size, dir).CombinedOutput()
	require.NoError(t, err, "remount %s: %s", dir, out)
}
