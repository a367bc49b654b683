//go:build !linux

package cluster

// dropMappedPages does nothing where madvise is not used; see the Linux
// version.
func dropMappedPages(addr uintptr, size int64) error { return nil }
