package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

const memoryLimitHelp = `soft limit on the Go runtime's memory (not the mapped state file), as for GOMEMLIMIT: 900MiB, 2GiB; 0 or off: none; ` +
	`auto: 3/4 of the memory this process may use (its cgroup's limit, else the RAM). Near the limit the collector runs more often and ` +
	`returns memory; a live heap above it costs up to half the CPU. auto rather than a fixed size: a node in a small box collects harder ` +
	`instead of being killed, one with room to spare never pays that (importing a million rows needs over 1 GiB). GOMEMLIMIT, when set, wins`

// addMemoryLimit gives a server command --memory-limit (env
// MUSTER_MEMORY_LIMIT) and applies it before the command runs.
func addMemoryLimit(cmd *cobra.Command) {
	limit := autoMemoryLimit
	cmd.Flags().Var(&limit, "memory-limit", memoryLimitHelp)
	next := cmd.PreRunE
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		applyMemoryLimit(limit, os.Getenv("GOMEMLIMIT"), memoryAvailable)
		if next != nil {
			return next(cmd, args)
		}
		return nil
	}
}

// applyMemoryLimit sets the runtime's soft memory limit to limit (auto:
// 3/4 of what available returns, rounded down to MiB), unless gomemlimit
// (the GOMEMLIMIT environment variable, which the runtime has applied at
// start) is set or the limit is 0. It returns the limit in force,
// math.MaxInt64 for none.
func applyMemoryLimit(limit byteSize, gomemlimit string, available func() int64) int64 {
	if gomemlimit != "" {
		return debug.SetMemoryLimit(-1)
	}
	if limit == autoMemoryLimit {
		limit = byteSize(available()/4*3) &^ (1<<20 - 1)
	}
	if limit <= 0 {
		return debug.SetMemoryLimit(-1)
	}
	debug.SetMemoryLimit(int64(limit))
	return int64(limit)
}

// memoryAvailable is the memory this process may use: the least of the
// machine's RAM and the limits of its memory cgroup (v2 memory.max, v1
// memory.limit_in_bytes); 0 when none can be read.
func memoryAvailable() int64 {
	n := memTotal(readText("/proc/meminfo"))
	for _, f := range cgroupLimitFiles(readText("/proc/self/cgroup")) {
		if v, ok := cgroupLimit(readText(f)); ok && (n == 0 || v < n) {
			n = v
		}
	}
	return n
}

func readText(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// memTotal reads MemTotal from the text of /proc/meminfo, in bytes; 0 if
// it is not there.
func memTotal(meminfo string) int64 {
	for _, line := range strings.Split(meminfo, "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			if f := strings.Fields(rest); len(f) == 2 && f[1] == "kB" {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}

// cgroupLimitFiles lists the files that may hold this process's memory
// limit, given the text of /proc/self/cgroup: those of its own cgroup, and
// those at the root of the mounts, which are its own inside a container.
func cgroupLimitFiles(self string) []string {
	files := []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}
	for _, line := range strings.Split(self, "\n") {
		f := strings.SplitN(line, ":", 3) // hierarchy:controllers:path
		if len(f) != 3 || f[2] == "/" {
			continue
		}
		switch {
		case f[0] == "0" && f[1] == "":
			files = append(files, filepath.Join("/sys/fs/cgroup", f[2], "memory.max"))
		case slices.Contains(strings.Split(f[1], ","), "memory"):
			files = append(files, filepath.Join("/sys/fs/cgroup/memory", f[2], "memory.limit_in_bytes"))
		}
	}
	return files
}

// cgroupLimit parses a cgroup memory limit; ok is false for none: "max"
// (v2), v1's near-MaxInt64, or a file that is not there.
func cgroupLimit(text string) (int64, bool) {
	v, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	return v, err == nil && v > 0 && v < 1<<62
}

// byteSize is a number of bytes, written as GOMEMLIMIT writes it: a whole
// number with an optional unit B, KiB, MiB, GiB or TiB. 0 means none.
type byteSize int64

// autoMemoryLimit is the --memory-limit that applyMemoryLimit works out
// from the memory available.
const autoMemoryLimit byteSize = -1

var sizeUnits = []struct {
	suffix string
	shift  uint
}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}

func parseByteSize(s string) (byteSize, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "off":
		return 0, nil
	case "auto":
		return autoMemoryLimit, nil
	}
	num, shift := s, uint(0)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			num, shift = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("want a size such as 900MiB or 2GiB (units B, KiB, MiB, GiB, TiB), auto, or 0 or off for none")
	}
	if n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("%s is more than this machine can address", s)
	}
	return byteSize(n << shift), nil
}

// String writes the size in the largest unit that divides it.
func (s byteSize) String() string {
	switch {
	case s == autoMemoryLimit:
		return "auto"
	case s <= 0:
		return "off"
	}
	for _, u := range sizeUnits {
		if u.shift > 0 && s%(1<<u.shift) == 0 {
			return strconv.FormatInt(int64(s>>u.shift), 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// Set parses v for the flag package.
func (s *byteSize) Set(v string) error {
	n, err := parseByteSize(v)
	if err != nil {
		return err
	}
	*s = n
	return nil
}

// Type names the value in flag help.
func (s *byteSize) Type() string { return "size" }
