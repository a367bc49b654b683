package main

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want byteSize
		text string // String of the result
	}{
		{"900MiB", 900 << 20, "900MiB"},
		{"1GiB", 1 << 30, "1GiB"},
		{"1024MiB", 1 << 30, "1GiB"},
		{"512KiB", 512 << 10, "512KiB"},
		{"2TiB", 2 << 40, "2TiB"},
		{"1000", 1000, "1000B"},
		{"1000B", 1000, "1000B"},
		{" 900 MiB ", 900 << 20, "900MiB"},
		{"0", 0, "off"},
		{"off", 0, "off"},
		{"auto", autoMemoryLimit, "auto"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseByteSize(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.text, got.String())
		})
	}
}

func TestParseByteSizeRejects(t *testing.T) {
	for _, in := range []string{"", "900MB", "1.5GiB", "-1", "-1MiB", "GiB", "900mib", "lots", "9000000000TiB"} {
		t.Run(in, func(t *testing.T) {
			_, err := parseByteSize(in)
			assert.Error(t, err)
		})
	}
}

func TestApplyMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	const none = int64(math.MaxInt64)
	gib := func(n int64) func() int64 { return func() int64 { return n << 30 } }

	for _, tc := range []struct {
		name       string
		limit      byteSize
		gomemlimit string
		available  func() int64
		want       int64 // in force afterwards
	}{
		{"a size", 900 << 20, "", gib(16), 900 << 20},
		{"auto takes 3/4 of what is available", autoMemoryLimit, "", gib(2), 1536 << 20},
		{"auto rounds down to MiB", autoMemoryLimit, "", func() int64 { return 1<<30 + 1000 }, 768 << 20},
		{"auto with nothing known is none", autoMemoryLimit, "", gib(0), none},
		{"off", 0, "", gib(16), none},
		{"GOMEMLIMIT wins", 900 << 20, "1500MiB", gib(16), none}, // left as it was: the runtime applied GOMEMLIMIT at start
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(none)
			assert.Equal(t, tc.want, applyMemoryLimit(tc.limit, tc.gomemlimit, tc.available))
			assert.Equal(t, tc.want, debug.SetMemoryLimit(-1))
		})
	}
}

func TestMemoryAvailableSources(t *testing.T) {
	assert.Equal(t, int64(24683548)<<10, memTotal("MemTotal:       24683548 kB\nMemFree:        22000000 kB\n"))
	assert.Zero(t, memTotal("MemFree: 1 kB\n"))

	for _, tc := range []struct {
		text  string
		want  int64
		limit bool
	}{
		{"1073741824\n", 1 << 30, true},
		{"max\n", 0, false},
		{"9223372036854771712\n", 0, false}, // cgroup v1: no limit
		{"", 0, false},                      // no such file
	} {
		v, ok := cgroupLimit(tc.text)
		assert.Equal(t, tc.limit, ok, "%q", tc.text)
		if ok {
			assert.Equal(t, tc.want, v)
		}
	}

	assert.Equal(t, []string{
		"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
		"/sys/fs/cgroup/system.slice/muster.service/memory.max",
	}, cgroupLimitFiles("0::/system.slice/muster.service\n"))
	assert.Equal(t, []string{
		"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
		"/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes",
	}, cgroupLimitFiles("9:name=systemd:/\n4:memory:/docker/abc\n1:cpu,cpuacct:/docker/abc\n0::/\n"))
}

func TestServerCommandsTakeMemoryLimit(t *testing.T) {
	for _, cmd := range []*cobra.Command{newAgentCmd(), newDevCmd()} {
		t.Run(cmd.Name(), func(t *testing.T) {
			f := cmd.Flags().Lookup("memory-limit")
			require.NotNil(t, f)
			assert.Equal(t, "auto", f.DefValue)
			require.NoError(t, cmd.ParseFlags([]string{"--memory-limit", "1GiB"}))
			assert.Equal(t, "1GiB", f.Value.String())
			assert.Error(t, cmd.ParseFlags([]string{"--memory-limit", "1GB"}))
		})
	}
}
