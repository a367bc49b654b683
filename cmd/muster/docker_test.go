package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster"
	"muster/examples"
)

// Tests across hosts: muster's own image (deploy/build-image, FROM scratch)
// run as containers with their own addresses on a private Docker network,
// where a node can be cut off the network while it keeps running. They
// need a Docker engine; without one they skip, unless MUSTER_REQUIRE_DOCKER
// is set (CI sets it), when they fail.

// dockerNet is a private network of muster containers. Addresses are fixed
// (.10 the simulator, .11 to .13 the nodes) so a node put back on the
// network keeps the address its peers know; .1 is the host.
type dockerNet struct {
	t          *testing.T
	name       string
	image      string
	prefix     string // "10.231.N."
	containers []string
}

func docker(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

func (d *dockerNet) run(args ...string) string {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := docker(ctx, args...)
	require.NoError(d.t, err)
	return out
}

// newDockerNet builds the image and creates the network; cleanup removes
// the containers, the network and the image.
func newDockerNet(t *testing.T) *dockerNet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := docker(ctx, "info", "--format", "{{.ServerVersion}}"); err != nil {
		if os.Getenv("MUSTER_REQUIRE_DOCKER") != "" {
			t.Fatalf("MUSTER_REQUIRE_DOCKER is set but Docker is not usable: %v", err)
		}
		t.Skipf("no Docker engine (%v): set MUSTER_REQUIRE_DOCKER=1 to make this a failure", err)
	}
	d := &dockerNet{t: t, name: fmt.Sprintf("muster-test-%d", os.Getpid()), image: fmt.Sprintf("muster:test-%d", os.Getpid())}
	build := exec.Command(filepath.Join("..", "..", "deploy", "build-image"), d.image)
	out, err := build.CombinedOutput()
	require.NoError(t, err, "deploy/build-image: %s", out)
	t.Cleanup(d.close)
	// A /24 no other network on this host uses.
	for i := range 20 {
		d.prefix = fmt.Sprintf("10.231.%d.", (os.Getpid()+i*37)%250+1)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = docker(ctx, "network", "create", "--driver", "bridge", "--subnet", d.prefix+"0/24", "--gateway", d.prefix+"1", d.name)
		cancel()
		if err == nil {
			return d
		}
	}
	require.NoError(t, err, "create a Docker network")
	return d
}

// start runs a container with a fixed address; args go to muster.
func (d *dockerNet) start(name string, host int, env []string, args ...string) string {
	d.t.Helper()
	full := d.name + "-" + name
	run := []string{"run", "-d", "--name", full, "--hostname", name, "--network", d.name, "--ip", d.ip(host)}
	for _, e := range env {
		run = append(run, "-e", e)
	}
	run = append(run, d.image)
	d.run(append(run, args...)...)
	d.containers = append(d.containers, full)
	return full
}

func (d *dockerNet) ip(host int) string { return d.prefix + strconv.Itoa(host) }

// disconnect takes a container off the network (it keeps running, cut off
// from its peers, the simulator and the host); connect puts it back at the
// same address.
func (d *dockerNet) disconnect(container string) {
	d.run("network", "disconnect", "--force", d.name, container)
}

func (d *dockerNet) connect(container string, host int) {
	d.run("network", "connect", "--ip", d.ip(host), d.name, container)
}

func (d *dockerNet) logs(container string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "docker", "logs", "--tail", "60", container).CombinedOutput()
	return string(out)
}

func (d *dockerNet) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, c := range d.containers {
		if d.t.Failed() {
			d.t.Logf("--- last log lines of %s ---\n%s", c, d.logs(c))
		}
	}
	if len(d.containers) > 0 {
		if _, err := docker(ctx, append([]string{"rm", "-f", "-v"}, d.containers...)...); err != nil {
			d.t.Logf("remove containers: %v", err)
		}
	}
	if d.prefix != "" {
		if _, err := docker(ctx, "network", "rm", d.name); err != nil {
			d.t.Logf("remove network: %v", err)
		}
	}
	if _, err := docker(ctx, "image", "rm", "-f", d.image); err != nil {
		d.t.Logf("remove image: %v", err)
	}
}

// TestDockerLeaderCutOffMidDispatch runs three agents and the Twilio
// simulator as containers of muster's own image, each with its own address,
// and cuts the leader off in the middle of an exercise call-up: taken off
// the network while it keeps running, or frozen. The two nodes left elect a
// leader that finishes the call-up. Brought back, the old leader follows
// the new one and reports the same call-up; then every recipient ends in
// one final state, every number got a message, and the extra messages
// (the old leader's sends in flight among them) are counted re-sends
// within the in-flight window.
func TestDockerLeaderCutOffMidDispatch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts containers")
	}
	// How the leader is cut off, and how it is brought back.
	faults := []struct {
		name      string
		cut, heal func(d *dockerNet, container string, host int)
	}{
		{"network disconnected",
			func(d *dockerNet, c string, _ int) { d.disconnect(c) },
			func(d *dockerNet, c string, host int) { d.connect(c, host) }},
		// Frozen (as by a long stall of its machine): it wakes up believing
		// it leads, with sends in flight.
		{"paused",
			func(d *dockerNet, c string, _ int) { d.run("pause", c) },
			func(d *dockerNet, c string, _ int) { d.run("unpause", c) }},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) { leaderCutOffMidDispatch(t, f.cut, f.heal) })
	}
}

func leaderCutOffMidDispatch(t *testing.T, cut, heal func(d *dockerNet, container string, host int)) {
	d := newDockerNet(t)
	const (
		people = 5_000
		window = 256
		rate   = "1000" // exercise messages per second: the call-up takes about 5 s
	)
	live := twilioAccount{sid: "AC0000000000000000000000000000000c", token: "dockerlive1", number: "+15005550110"}
	drill := twilioAccount{sid: "AC0000000000000000000000000000000d", token: "dockerdrill2", number: "+15005550111"}

	// The public URL is a load balancer on the host, on the network's gateway.
	lb, publicURL := newFrontOn(t, d.ip(1)+":0")
	d.start("sim", 10, nil, "twilio-sim", "--listen", "0.0.0.0:8080",
		"--account", live.spec(), "--account", drill.spec(), "--inbound-url", publicURL+"/hooks/twilio/sms-inbound",
		"--sent-delay", "5ms", "--delivered-delay", "10ms", "--workers", "64",
		"--callback-attempts", "12", "--callback-retry-delay", "200ms", "--log-level", "error")
	simURL := "http://" + d.ip(10) + ":8080"
	sc := newAPI(t, "")
	sc.waitStatus(simURL+"/_sim/stats", http.StatusOK, 30*time.Second)

	c := newAPI(t, testAdminToken)
	type node struct {
		id, container, http string
		host                int
	}
	var nodes []*node
	for i := 1; i <= 3; i++ {
		n := &node{id: fmt.Sprintf("n%d", i), host: 10 + i, http: fmt.Sprintf("http://%s:8080", d.ip(10+i))}
		args := []string{"agent", "--node-id", n.id, "--data-dir", "/data/" + n.id,
			"--raft-addr", "0.0.0.0:7000", "--raft-advertise", d.ip(n.host) + ":7000",
			"--http-addr", "0.0.0.0:8080", "--http-advertise", n.http, "--log-level", "warn",
			"--public-url", publicURL, "--dispatch-max-inflight", strconv.Itoa(window),
			"--twilio-account-sid", live.sid, "--twilio-auth-token", live.token, "--twilio-from", live.number, "--twilio-api-url", simURL,
			"--exercise-twilio-account-sid", drill.sid, "--exercise-twilio-auth-token", drill.token, "--exercise-twilio-from", drill.number,
			"--exercise-twilio-api-url", simURL, "--exercise-twilio-rate", rate}
		if i == 1 {
			args = append(args, "--bootstrap", "--bootstrap-token", testAdminToken)
		} else {
			args = append(args, "--join", nodes[0].http)
		}
		n.container = d.start(n.id, n.host, []string{"MUSTER_CLUSTER_KEY=" + testClusterKey}, args...)
		nodes = append(nodes, n)
		c.waitStatus(n.http+"/readyz", http.StatusOK, 60*time.Second)
	}
	waitUntil(t, 30*time.Second, func() bool {
		var st cluster.Status
		return c.getJSON(nodes[0].http+"/api/v1/cluster/status", &st) == http.StatusOK && len(st.Servers) == 3
	})
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.http)
	}
	lb.setNodes(urls)

	// The demo city, the roster and a plan that calls everyone, through the CLI.
	env := []string{"MUSTER_ADDR=" + nodes[1].http, "MUSTER_TOKEN=" + testAdminToken}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code, body := c.call(ctx, http.MethodPost, nodes[1].http+"/api/v1/regions/import", examples.RegionsCSV(), "text/csv")
	require.Equal(t, http.StatusOK, code, "%s", body)
	dir := t.TempDir()
	roster, planFile := filepath.Join(dir, "roster.csv"), filepath.Join(dir, "everyone.yaml")
	regions, err := examples.Regions()
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, examples.GenerateRoster(&buf, people, 1, examples.Grids(regions)))
	require.NoError(t, os.WriteFile(roster, buf.Bytes(), 0o600))
	require.NoError(t, os.WriteFile(planFile, examples.EveryonePlan, 0o600))
	r := runCLI(t, env, "roster", "import", "-f", roster)
	require.Zero(t, r.code, r.stderr)
	r = runCLI(t, env, "plan", "apply", "-f", planFile)
	require.Zero(t, r.code, r.stderr)

	leaderOfNodes := func(among []*node) *node {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			for _, n := range among {
				var st cluster.Status
				if c.getJSON(n.http+"/api/v1/cluster/status?consistency=stale", &st) == http.StatusOK && st.State == "Leader" {
					return n
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatal("no leader within 20 s")
		return nil
	}
	leader := leaderOfNodes(nodes)
	start := time.Now()
	id, recipients := activateCLI(t, env, "everyone", string(examples.CityCode))
	require.Equal(t, people, recipients)

	// Cut the leader off once a fifth is claimed.
	var st activationStatus
	waitUntil(t, 30*time.Second, func() bool {
		return c.getJSON(leader.http+"/api/v1/activations/"+id+"?consistency=stale", &st) == http.StatusOK &&
			st.Counters.Dispatch["claimed"] >= people/5
	})
	cut(d, leader.container, leader.host)
	cutAt := time.Now()
	var rest []*node
	for _, n := range nodes {
		if n != leader {
			rest = append(rest, n)
		}
	}
	next := leaderOfNodes(rest)
	t.Logf("cut off leader %s at %d claimed, %v after activation; %s leads %v later",
		leader.id, st.Counters.Dispatch["claimed"], cutAt.Sub(start).Round(time.Millisecond), next.id, time.Since(cutAt).Round(time.Millisecond))

	st = waitSettled(t, c, next.http, id, 90*time.Second)
	t.Logf("settled %v after activation: %v, dispatch %v", time.Since(start).Round(time.Millisecond), st.Counters.ByState, st.Counters.Dispatch)
	assert.Positive(t, metricValue(t, c, next.http, "muster_dispatch_claimed_total"), "the new leader's dispatcher resumed")

	// Brought back, the old leader follows the new one and serves the same
	// call-up.
	heal(d, leader.container, leader.host)
	waitUntil(t, 60*time.Second, func() bool {
		var old activationStatus
		var cs cluster.Status
		return c.getJSON(leader.http+"/api/v1/cluster/status?consistency=stale", &cs) == http.StatusOK && cs.State == "Follower" &&
			c.getJSON(leader.http+"/api/v1/activations/"+id+"?consistency=stale", &old) == http.StatusOK &&
			assert.ObjectsAreEqual(st.Counters.ByState, old.Counters.ByState)
	})
	var cs cluster.Status
	require.Equal(t, http.StatusOK, c.getJSON(leader.http+"/api/v1/cluster/status", &cs))
	assert.Len(t, cs.Servers, 3)
	assertEveryoneOnce(t, c, next.http, simURL, id, people, window, live, drill, st)
}
