//go:build linux

package cluster

import "syscall"

// diskFree is the space unprivileged writers may still use on the file
// system holding dir (statfs f_bavail).
func diskFree(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	unit := st.Frsize
	if unit <= 0 {
		unit = st.Bsize
	}
	return int64(st.Bavail) * unit, nil
}
