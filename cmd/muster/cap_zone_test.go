package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// --cap-time-zone Local is refused, as a drill schedule's --tz Local is:
// each node would stamp the cluster's alerts with its own offset. An IANA
// name is taken, an unknown one refused.
func TestCAPTimeZoneIsOneForTheCluster(t *testing.T) {
	for _, zone := range []string{"Local", " local "} {
		r := runCLI(t, nil, "dev", "--data-dir", t.TempDir(), "--http-addr", freePort(t), "--cap-time-zone", zone)
		assert.Equal(t, exitUsage, r.code, "%s%s", r.stdout, r.stderr)
		assert.Contains(t, r.stderr, "want an IANA time zone such as Asia/Shanghai (Local is each node's own zone", zone)
	}
	r := runCLI(t, nil, "dev", "--data-dir", t.TempDir(), "--http-addr", freePort(t), "--cap-time-zone", "Mars/Olympus")
	assert.Equal(t, exitUsage, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stderr, `--cap-time-zone "Mars/Olympus"`)
	loc, err := capTimeZone("Asia/Shanghai")
	if assert.NoError(t, err) {
		assert.Equal(t, "Asia/Shanghai", loc.String())
	}
}
