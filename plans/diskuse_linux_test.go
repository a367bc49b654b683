//go:build linux

package plans_test

import (
	"io/fs"
	"path/filepath"
	"syscall"
)

// diskUsed is the disk the files under dir take (their allocated blocks,
// not their apparent sizes: bbolt's files are sparse where unwritten).
func diskUsed(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		var st syscall.Stat_t
		if syscall.Stat(path, &st) == nil {
			total += st.Blocks * 512
		}
		return nil
	})
	return total
}
