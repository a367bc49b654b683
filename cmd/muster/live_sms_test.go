package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/examples"
	"muster/notify"
)

// TestAgentWithoutALiveAccountRefusesLiveCallUps: an agent started
// without --twilio-account-sid refuses a LIVE activation at once (409,
// naming the node and the flags of the account it lacks), where it
// recorded it and left its messages pending for ever with only its start
// log saying why; muster activate stops at the preview, which says so; an
// EXERCISE activation is taken; muster cluster status names the leader
// without a LIVE account. An agent with a LIVE account takes the same LIVE
// activation as before, and its status says nothing of it.
func TestAgentWithoutALiveAccountRefusesLiveCallUps(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	liveReq, _ := json.Marshal(map[string]any{"plan_id": "flood-control", "regions": []string{"990101"}, "level": "IV", "purpose": "LIVE", "reason": "暴雨红色预警"})
	c := newAPI(t, testAdminToken)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// start runs a single agent with the given flags, the demo city, a
	// roster and the flood plan, and returns its base URL and the CLI's
	// env, and the agent's own arguments without flags.
	procs := map[string]*proc{}
	start := func(name string, env []string, flags ...string) (string, []string, []string) {
		httpAddr := freePort(t)
		base := "http://" + httpAddr
		own := []string{"agent", "--node-id", name, "--data-dir", filepath.Join(t.TempDir(), name), "--raft-addr", freePort(t), "--http-addr", httpAddr,
			"--bootstrap", "--bootstrap-token", testAdminToken, "--log-level", "warn"}
		args := append(slices.Clone(own), flags...)
		procs[name] = startProc(t, name, append([]string{"MUSTER_CLUSTER_KEY=" + testClusterKey}, env...), args...)
		procs[name].waitOutput("cluster bootstrapped", 30*time.Second)
		c.waitStatus(base+"/readyz", http.StatusOK, 30*time.Second)
		cli := []string{"MUSTER_ADDR=" + base, "MUSTER_TOKEN=" + testAdminToken}
		code, body := c.call(ctx, http.MethodPost, base+"/api/v1/regions/import", examples.RegionsCSV(), "text/csv")
		require.Equal(t, http.StatusOK, code, "%s", body)
		roster := filepath.Join(t.TempDir(), "roster.csv")
		require.Zero(t, runCLI(t, nil, "roster", "generate", "-n", "300", "--out", roster).code)
		r := runCLI(t, cli, "roster", "import", "-f", roster)
		require.Zero(t, r.code, r.stderr)
		r = runCLI(t, cli, "plan", "apply", "-f", filepath.Join("..", "..", "examples", "plans", "flood.yaml"))
		require.Zero(t, r.code, r.stderr)
		return base, cli, own
	}

	base, cli, _ := start("n1", nil)
	r := runCLI(t, cli, "activate", "flood-control", "--region", "990101", "--level", "IV", "--purpose", "live", "--reason", "暴雨红色预警", "--yes")
	assert.NotZero(t, r.code, "muster activate stops: %s", r.stderr)
	assert.Contains(t, r.stderr, "NO LIVE SMS ACCOUNT — refused: no LIVE SMS account: node n1, which leads the cluster", "the preview says why")
	assert.Equal(t, 1, strings.Count(strings.TrimSpace(r.stderr), "\n")+1, "one line on standard error, as docs/cli.md says: %q", r.stderr)
	assert.True(t, strings.HasPrefix(r.stderr, "muster: nothing was activated: NO LIVE SMS ACCOUNT — refused: no LIVE SMS account: node n1"), "%q", r.stderr)

	code, body := c.call(ctx, http.MethodPost, base+"/api/v1/activations", liveReq, "application/json")
	require.Equal(t, http.StatusConflict, code, "%s", body)
	var refusal struct {
		Error struct{ Code, Message string }
	}
	require.NoError(t, json.Unmarshal(body, &refusal))
	assert.Equal(t, "conflict", refusal.Error.Code)
	assert.Contains(t, refusal.Error.Message, "no LIVE SMS account: node n1, which leads the cluster and sends every call-up, was started without one")
	assert.Contains(t, refusal.Error.Message, "--twilio-account-sid, --twilio-auth-token and --twilio-from")

	id, recipients := activateCLI(t, cli, "flood-control", "990102")
	assert.Positive(t, recipients, "an EXERCISE activation is taken")
	var list struct {
		Items []struct {
			ID      string `json:"id"`
			Purpose string `json:"purpose"`
		} `json:"items"`
	}
	require.Equal(t, http.StatusOK, c.getJSON(base+"/api/v1/activations", &list))
	require.Len(t, list.Items, 1, "no LIVE call-up was recorded")
	assert.Equal(t, id, list.Items[0].ID)

	r = runCLI(t, cli, "cluster", "status")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "NO LIVE SMS ACCOUNT on the leader n1 (主节点未配置真实短信账号): LIVE activations and approvals are refused")

	// With a LIVE account (on a simulator), the same request is taken.
	acct := twilioAccount{sid: "AC0000000000000000000000000000000a", token: "agentlive1", number: "+15005550100"}
	simAddr := freePort(t)
	startProc(t, "twilio-sim", nil, "twilio-sim", "--listen", simAddr, "--account", acct.spec(), "--log-level", "error").
		waitOutput("twilio simulator listening", 10*time.Second)
	m1 := []string{"MUSTER_CLUSTER_KEY=" + testClusterKey, "MUSTER_TWILIO_AUTH_TOKEN=" + acct.token}
	base, cli, own := start("m1", m1[1:], "--twilio-account-sid", acct.sid, "--twilio-from", acct.number, "--twilio-api-url", "http://"+simAddr)
	code, body = c.call(ctx, http.MethodPost, base+"/api/v1/activations", liveReq, "application/json")
	require.Equal(t, http.StatusCreated, code, "%s", body)
	var live struct{ ID string }
	require.NoError(t, json.Unmarshal(body, &live))
	r = runCLI(t, cli, "cluster", "status")
	require.Zero(t, r.code, r.stderr)
	assert.NotContains(t, r.stdout, "LIVE SMS ACCOUNT")
	// A commander asks for a level I call-up, which waits for an approver.
	secret := func(role, name string) string {
		r := runCLI(t, cli, "token", "create", "--role", role, "--name", name, "-o", "json")
		require.Zero(t, r.code, r.stderr)
		var tok struct{ Secret string }
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &tok))
		return tok.Secret
	}
	commander, approver := newAPI(t, secret("commander", "指挥长")), secret("approver", "值班领导")
	levelI, _ := json.Marshal(map[string]any{"plan_id": "flood-control", "regions": []string{"990103"}, "level": "I", "purpose": "LIVE", "reason": "特大暴雨"})
	code, body = commander.call(ctx, http.MethodPost, base+"/api/v1/activations", levelI, "application/json")
	require.Equal(t, http.StatusCreated, code, "%s", body)
	var waiting struct{ ID, Status string }
	require.NoError(t, json.Unmarshal(body, &waiting))
	require.Equal(t, "pending_approval", waiting.Status)
	r = runCLI(t, cli, "status")
	require.Zero(t, r.code, r.stderr)
	assert.NotContains(t, r.stderr, "LIVE SMS ACCOUNT")

	// The LIVE call-up is sent to everyone.
	require.Eventually(t, func() bool {
		var st notify.ActivationStatus
		if c.getJSON(base+"/api/v1/activations/"+live.ID, &st) != http.StatusOK {
			return false
		}
		counts := st.Summary().Counts
		return counts.Recipients > 0 && counts.Pending == 0 && counts.Sending == 0
	}, 60*time.Second, 50*time.Millisecond, "%s is sent to everyone", live.ID)

	// Restarted without its LIVE account (as a restored node may be), it
	// says under muster status that the request waiting cannot be
	// approved, and says nothing of the call-up it has sent in full; its
	// log does not say that the call-up's sending resumes.
	require.NoError(t, procs["m1"].terminate(15*time.Second))
	again := startProc(t, "m1 again", m1[:1], own...)
	c.waitStatus(base+"/readyz", http.StatusOK, 30*time.Second)
	r = runCLI(t, cli, "status")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stderr, "NO LIVE SMS ACCOUNT on the leader m1 (主节点未配置真实短信账号): LIVE call-up "+waiting.ID+" awaiting approval cannot be approved, until a leader")
	assert.NotContains(t, r.stderr, "are not sent", "%s has nothing left to send", live.ID)
	r = runCLI(t, cli, "status", live.ID)
	require.Zero(t, r.code, r.stderr)
	assert.NotContains(t, r.stderr, "LIVE SMS ACCOUNT", "%s has nothing left to send", live.ID)
	again.waitOutput("nothing of this LIVE call-up is sent while it leads", 15*time.Second)
	assert.NotContains(t, again.out.String(), "sending them resumes now", "the log does not say the LIVE call-up's sending resumes")
	// muster approve shows the preview and stops: approving would call nobody.
	r = runCLI(t, []string{"MUSTER_ADDR=" + base, "MUSTER_TOKEN=" + approver}, "approve", waiting.ID, "--yes")
	assert.NotZero(t, r.code, r.stderr)
	assert.Contains(t, r.stderr, "NO LIVE SMS ACCOUNT — refused: no LIVE SMS account: node m1")
	assert.Contains(t, r.stderr, "nothing was approved: the leader has no LIVE SMS account")
	var st struct{ Status string }
	require.Equal(t, http.StatusOK, c.getJSON(base+"/api/v1/activations/"+waiting.ID, &st))
	assert.Equal(t, "pending_approval", st.Status, "nothing was approved")
}

// The note under muster status names what a leader without a LIVE SMS
// account leaves undone: pending messages of an active call-up, and
// requests waiting for approval, each in its own words.
func TestNoLiveSMSNote(t *testing.T) {
	for _, tc := range []struct {
		name            string
		unsent, waiting []string
		want            string
	}{
		{"pending", []string{"A000002 (5 pending)"}, nil, "the messages of LIVE call-up A000002 (5 pending) are not sent, until"},
		{"waiting", nil, []string{"A000003"}, "): LIVE call-up A000003 awaiting approval cannot be approved, until"},
		{"both", []string{"A000001 (1 pending)", "A000002 (5 pending)"}, []string{"A000003", "A000004"},
			"the messages of LIVE call-ups A000001 (1 pending), A000002 (5 pending) are not sent, and LIVE call-ups A000003, A000004 awaiting approval cannot be approved, until"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := noLiveSMSNote("n1", tc.unsent, tc.waiting)
			assert.True(t, strings.HasPrefix(got, "NO LIVE SMS ACCOUNT on the leader n1 (主节点未配置真实短信账号): "), got)
			assert.Contains(t, got, tc.want)
		})
	}
}
