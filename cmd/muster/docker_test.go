package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
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

// requireDocker skips the test when no Docker engine answers, or fails it
// when MUSTER_REQUIRE_DOCKER is set.
func requireDocker(t *testing.T, tools ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := docker(ctx, "info", "--format", "{{.ServerVersion}}")
	for _, tool := range tools {
		if _, lerr := exec.LookPath(tool); err == nil && lerr != nil {
			err = lerr
		}
	}
	if err != nil {
		if os.Getenv("MUSTER_REQUIRE_DOCKER") != "" {
			t.Fatalf("MUSTER_REQUIRE_DOCKER is set but Docker is not usable: %v", err)
		}
		t.Skipf("no Docker engine (%v): set MUSTER_REQUIRE_DOCKER=1 to make this a failure", err)
	}
}

// testImage is muster's image as buildImage built it: once per test
// process, for every test that runs it (deploy/build-image takes a go build
// and a docker build, some 20 s even with the build cache warm); TestMain
// removes it when the tests are done.
var testImage struct {
	once sync.Once
	name string // set once built
	err  error
	out  []byte
}

// buildImage builds muster's image from this checkout with
// deploy/build-image under a tag of this test process, the first time it
// is called, and returns its tag.
func buildImage(t *testing.T) string {
	t.Helper()
	testImage.once.Do(func() {
		image := fmt.Sprintf("muster:test-%d", os.Getpid())
		testImage.out, testImage.err = exec.Command(filepath.Join("..", "..", "deploy", "build-image"), image).CombinedOutput()
		if testImage.err == nil {
			testImage.name = image
		}
	})
	require.NoError(t, testImage.err, "deploy/build-image: %s", testImage.out)
	return testImage.name
}

// removeTestImage removes the image buildImage built, if it built one.
func removeTestImage() {
	if testImage.name == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := docker(ctx, "image", "rm", "-f", testImage.name); err != nil {
		fmt.Fprintln(os.Stderr, "remove image:", err)
	}
}

// subnetPrefix is a "10.N.M." /24 prefix for a test network, the i-th guess.
func subnetPrefix(second, i int) string {
	return fmt.Sprintf("10.%d.%d.", second, (os.Getpid()+i*37)%250+1)
}

// newDockerNet builds the image (once: see buildImage) and creates the
// network; cleanup removes the containers and the network.
func newDockerNet(t *testing.T) *dockerNet {
	t.Helper()
	requireDocker(t)
	d := &dockerNet{t: t, name: fmt.Sprintf("muster-test-%d", os.Getpid()), image: buildImage(t)}
	t.Cleanup(d.close)
	// A /24 no other network on this host uses.
	var err error
	for i := range 20 {
		d.prefix = subnetPrefix(231, i)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = docker(ctx, "network", "create", "--driver", "bridge", "--subnet", d.prefix+"0/24", "--gateway", d.prefix+"1", d.name)
		cancel()
		if err == nil {
			return d
		}
	}
	d.prefix = ""
	require.NoError(t, err, "create a Docker network")
	return d
}

// start runs a container with a fixed address; args go to muster.
func (d *dockerNet) start(name string, host int, env []string, args ...string) string {
	d.t.Helper()
	return d.startWith(name, host, nil, env, args...)
}

// startWith is start with more options for docker run (opts): network
// aliases, user, volumes. A container started again under its name (after
// docker rm) is removed once at the end.
func (d *dockerNet) startWith(name string, host int, opts, env []string, args ...string) string {
	d.t.Helper()
	full := d.name + "-" + name
	run := []string{"run", "-d", "--name", full, "--hostname", name, "--network", d.name, "--ip", d.ip(host)}
	run = append(run, opts...)
	for _, e := range env {
		run = append(run, "-e", e)
	}
	run = append(run, d.image)
	d.run(append(run, args...)...)
	if !slices.Contains(d.containers, full) {
		d.containers = append(d.containers, full)
	}
	return full
}

// uid is the user ID container's process runs as, read from the engine's
// host (/proc/PID/status), not from the image's configuration.
func (d *dockerNet) uid(container string) string {
	d.t.Helper()
	pid := d.run("inspect", "-f", "{{.State.Pid}}", container)
	status, err := os.ReadFile("/proc/" + pid + "/status")
	require.NoError(d.t, err, "the tests expect the Docker engine on this host")
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Uid:" {
			return f[1] // real; effective, saved and filesystem follow
		}
	}
	d.t.Fatalf("no Uid line in /proc/%s/status", pid)
	return ""
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
		// Ready means its files under /data were created: as the image's
		// unprivileged user, not root.
		require.Equal(t, "65532", d.uid(n.container), "%s runs as", n.id)
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
	loadEveryone(t, c, nodes[1].http, env, people)

	leaderOfNodes := func(among []*node) *node {
		t.Helper()
		var urls []string
		for _, n := range among {
			urls = append(urls, n.http)
		}
		return among[leaderAmong(t, c, urls)]
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

// TestDockerCompose brings up deploy/compose.yaml (three agents and the
// simulator) from muster's own image, calls up a small exercise through
// the published ports with the CLI, kills n1 and sees the other two carry
// on, then starts n1 again and sees it follow.
func TestDockerCompose(t *testing.T) {
	if testing.Short() {
		t.Skip("starts containers")
	}
	requireDocker(t, "docker-compose")
	image := buildImage(t)
	ports := map[string]string{}
	for _, name := range []string{"MUSTER_N1_PORT", "MUSTER_N2_PORT", "MUSTER_N3_PORT", "MUSTER_SIM_PORT"} {
		_, port, _ := strings.Cut(freePort(t), ":")
		ports[name] = port
	}
	project := fmt.Sprintf("muster-compose-%d", os.Getpid())
	var env []string
	compose := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "docker-compose", append([]string{"-p", project, "-f", filepath.Join("..", "..", "deploy", "compose.yaml")}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := compose("logs", "--tail=40")
			t.Logf("--- docker-compose logs ---\n%s", out)
		}
		if out, err := compose("down", "-v", "--remove-orphans", "--timeout", "5"); err != nil {
			t.Logf("docker-compose down: %v\n%s", err, out)
		}
	})
	// A /24 no other network on this host uses.
	var out string
	var err error
	for i := range 10 {
		env = []string{"MUSTER_IMAGE=" + image, "MUSTER_NET=" + strings.TrimSuffix(subnetPrefix(232, i), "."),
			"MUSTER_CLUSTER_KEY=" + testClusterKey, "MUSTER_BOOTSTRAP_TOKEN=" + testAdminToken}
		for k, v := range ports {
			env = append(env, k+"="+v)
		}
		if out, err = compose("up", "-d"); err == nil {
			break
		}
		_, _ = compose("down", "-v", "--remove-orphans", "--timeout", "5")
	}
	require.NoError(t, err, "docker-compose up: %s", out)

	c := newAPI(t, testAdminToken)
	node := func(i int) string { return "http://127.0.0.1:" + ports[fmt.Sprintf("MUSTER_N%d_PORT", i)] }
	for i := 1; i <= 3; i++ {
		c.waitStatus(node(i)+"/readyz", http.StatusOK, 90*time.Second)
	}
	waitUntil(t, 60*time.Second, func() bool {
		var st cluster.Status
		return c.getJSON(node(1)+"/api/v1/cluster/status", &st) == http.StatusOK && len(st.Servers) == 3
	})
	// The three containers encrypt what they say to each other.
	for i := 1; i <= 3; i++ {
		waitUntil(t, 15*time.Second, func() bool {
			var st cluster.Status
			return c.getJSON(node(i)+"/api/v1/cluster/status?consistency=stale", &st) == http.StatusOK && st.Encrypted
		})
	}

	// A small exercise through n2, with the CLI.
	const people = 300
	env2 := []string{"MUSTER_ADDR=" + node(2), "MUSTER_TOKEN=" + testAdminToken}
	loadEveryone(t, c, node(2), env2, people)
	id, recipients := activateCLI(t, env2, "everyone", string(examples.CityCode))
	require.Equal(t, people, recipients)
	st := waitSettled(t, c, node(2), id, 90*time.Second)
	assert.Equal(t, people, st.Counters.Total)
	simURL := "http://127.0.0.1:" + ports["MUSTER_SIM_PORT"]
	var stats simStats // every send's result is committed: the counts of messages are final
	require.Equal(t, http.StatusOK, newAPI(t, "").getJSON(simURL+"/_sim/stats", &stats))
	assert.Zero(t, stats.Accounts["AC00000000000000000000000000000a11"].Created, "a drill never uses the live account")
	assert.EqualValues(t, people, stats.Accounts["AC00000000000000000000000000000e11"].Created, "one message per person on the exercise account")

	// n1 killed: the other two elect a leader; started again, n1 follows.
	// (docker-compose kill would have Docker restart it at once.)
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel2()
	n1 := project + "_n1_1"
	_, err = docker(ctx2, "update", "--restart=no", n1)
	require.NoError(t, err)
	_, err = docker(ctx2, "kill", n1)
	require.NoError(t, err)
	var cs cluster.Status
	deadline := time.Now().Add(30 * time.Second)
	for c.getJSON(node(2)+"/api/v1/cluster/status?consistency=stale", &cs) != http.StatusOK || cs.LeaderID == "" || cs.LeaderID == "n1" {
		require.True(t, time.Now().Before(deadline), "no leader but n1 within 30 s: %+v", cs)
		time.Sleep(50 * time.Millisecond)
	}
	out, err = compose("start", "n1")
	require.NoError(t, err, out)
	waitUntil(t, 60*time.Second, func() bool {
		var st cluster.Status
		return c.getJSON(node(1)+"/api/v1/cluster/status?consistency=stale", &st) == http.StatusOK && st.State == "Follower"
	})
	var again activationStatus
	require.Equal(t, http.StatusOK, c.getJSON(node(1)+"/api/v1/activations/"+id, &again))
	assert.Equal(t, st.Counters.Total, again.Counters.Total, "n1 serves the call-up after its restart")
}
