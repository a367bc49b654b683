package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The first admin token is printed only when muster generated it: one the
// operator gave (--bootstrap-token, MUSTER_BOOTSTRAP_TOKEN: from a secret
// store) is known to them and stays out of the log, where anyone who reads
// the journal or kubectl logs would find an admin credential.
func TestBootstrapPrintsOnlyAGeneratedFirstToken(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	const supplied = "mst_fromthesecretstore0123456789abcdefghijklmn"
	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{name: "flag", args: []string{"--bootstrap-token", supplied}},
		{name: "environment", env: []string{"MUSTER_BOOTSTRAP_TOKEN=" + supplied}},
		{name: "generated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			httpAddr := freePort(t)
			args := append([]string{"agent", "--node-id", "n1", "--data-dir", filepath.Join(t.TempDir(), "n1"),
				"--raft-addr", freePort(t), "--http-addr", httpAddr, "--log-level", "warn", "--bootstrap"}, tc.args...)
			p := startProc(t, tc.name, append([]string{"MUSTER_CLUSTER_KEY=" + testClusterKey}, tc.env...), args...)
			said := p.waitOutput("cluster bootstrapped;", 30*time.Second)
			token := supplied
			if tc.name == "generated" {
				token = strings.TrimSpace(strings.TrimPrefix(said, "first admin token (shown once):"))
				require.True(t, strings.HasPrefix(token, "mst_"), "the generated token is printed: %q", said)
			} else {
				assert.Equal(t, "first admin token: the one given by --bootstrap-token (MUSTER_BOOTSTRAP_TOKEN)", said)
				assert.NotContains(t, p.out.String(), supplied, "the supplied token is nowhere in the output")
			}
			c := newAPI(t, token)
			c.waitStatus("http://"+httpAddr+"/readyz", http.StatusOK, 30*time.Second)
			assert.Equal(t, http.StatusOK, c.getJSON("http://"+httpAddr+"/api/v1/tokens", nil), "the first admin token works")
		})
	}
}
