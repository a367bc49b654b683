//go:build linux

package cluster

import "syscall"

// dropMappedPages tells the kernel this process no longer needs the pages
// mapped at [addr, addr+size) (madvise MADV_DONTNEED). For the state file,
// mapped shared and read-only by bbolt, the pages stay in the page cache
// and the next read maps them again; only this process's resident set
// shrinks.
func dropMappedPages(addr uintptr, size int64) error {
	if addr == 0 || size <= 0 {
		return nil
	}
	if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, addr, uintptr(size), syscall.MADV_DONTNEED); errno != 0 {
		return errno
	}
	return nil
}
