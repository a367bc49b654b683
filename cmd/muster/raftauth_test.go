package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster"
)

// --raft-auth takes required or transition, and transition only with a
// cluster key.
func TestAgentRaftAuthFlag(t *testing.T) {
	dir := t.TempDir()
	base := []string{"agent", "--node-id", "n1", "--data-dir", dir, "--raft-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}
	r := runCLI(t, nil, append(base, "--raft-auth", "off")...)
	oneLineError(t, r, 2, `--raft-auth "off": want required, or transition`)
	r = runCLI(t, []string{"MUSTER_CLUSTER_KEY="}, append(base, "--raft-auth", "transition", "--bootstrap")...)
	oneLineError(t, r, 2, "--raft-auth transition needs --cluster-key")
}

// Three agents form a cluster with --raft-auth transition, as in the first
// pass of a rolling upgrade, and keep it, taking writes, as each is
// restarted with the default (required); then the raft port of each
// refuses an AppendEntries without the handshake, and says so in its log.
func TestAgentsRollFromTransitionToRequiredRaftAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	agents := startAgents(t, "--raft-auth", "transition")
	c := newAPI(t, testAdminToken)
	write := func(via *agent, name string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		code, body := c.call(ctx, http.MethodPost, via.http+"/api/v1/tokens", []byte(`{"name":"`+name+`","role":"viewer"}`), "application/json")
		require.Equal(t, http.StatusCreated, code, "%s", body)
	}
	write(agents[0], "transition")
	for _, a := range agents {
		assert.Contains(t, a.out.String(), "raft takes connections without the cluster key too (--raft-auth=transition)")
		require.NoError(t, a.terminate(20*time.Second))
		i := slices.Index(a.args, "--raft-auth")
		a.args = slices.Delete(slices.Clone(a.args), i, i+2)
		a.start()
		c.waitStatus(a.http+"/readyz", http.StatusOK, 30*time.Second)
		write(a, "required-"+a.id)
	}
	for _, a := range agents {
		c.waitStatus(a.http+"/readyz", http.StatusOK, 30*time.Second)
		assert.NotContains(t, a.out.String(), "raft takes connections without the cluster key too")
	}
	for _, a := range agents {
		var st cluster.Status
		require.Equal(t, http.StatusOK, c.getJSON(a.http+"/api/v1/cluster/status", &st))
		raftAddr := a.args[slices.Index(a.args, "--raft-addr")+1]
		tr, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, 5*time.Second, io.Discard)
		require.NoError(t, err)
		req := &raft.AppendEntriesRequest{
			RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("intruder"), Addr: []byte(tr.LocalAddr())},
			Term:      st.Term + 1, PrevLogEntry: st.LastLogIndex, PrevLogTerm: st.Term, LeaderCommitIndex: st.LastLogIndex + 1,
			Entries: []*raft.Log{{Index: st.LastLogIndex + 1, Term: st.Term + 1, Type: raft.LogCommand, Data: []byte{0xff, 0x00}}},
		}
		var resp raft.AppendEntriesResponse
		err = tr.AppendEntries("target", raft.ServerAddress(raftAddr), req, &resp)
		tr.Close()
		assert.Error(t, err, a.id)
		assert.False(t, resp.Success, a.id)
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(a.out.String(), "raft connection refused: it did not open with muster's raft handshake") {
			require.True(t, time.Now().Before(deadline), "%s logs the refusal", a.id)
			time.Sleep(20 * time.Millisecond)
		}
		c.waitStatus(a.http+"/readyz", http.StatusOK, 10*time.Second)
	}
	write(agents[2], fmt.Sprintf("after-%d", len(agents)))
}
