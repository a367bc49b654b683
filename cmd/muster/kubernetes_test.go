package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster"
)

// The parts of deploy/kubernetes/muster.yaml the tests read: the objects'
// kinds and names, the services, and the StatefulSet's pod template.
type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		// Service
		ClusterIP                string `yaml:"clusterIP"`
		PublishNotReadyAddresses bool   `yaml:"publishNotReadyAddresses"`
		// StatefulSet
		ServiceName         string `yaml:"serviceName"`
		Replicas            int    `yaml:"replicas"`
		PodManagementPolicy string `yaml:"podManagementPolicy"`
		Template            struct {
			Spec struct {
				SecurityContext struct {
					RunAsUser  int `yaml:"runAsUser"`
					RunAsGroup int `yaml:"runAsGroup"`
				} `yaml:"securityContext"`
				Containers []k8sContainer `yaml:"containers"`
				Volumes    []struct {
					Name     string    `yaml:"name"`
					EmptyDir *struct{} `yaml:"emptyDir"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
		VolumeClaimTemplates []k8sClaim `yaml:"volumeClaimTemplates"`
	} `yaml:"spec"`
}

type k8sClaim struct {
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
}

type k8sContainer struct {
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Env   []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			FieldRef *struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
			SecretKeyRef *struct {
				Name     string `yaml:"name"`
				Key      string `yaml:"key"`
				Optional bool   `yaml:"optional"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	ReadinessProbe k8sProbe `yaml:"readinessProbe"`
	LivenessProbe  k8sProbe `yaml:"livenessProbe"`
	SecurityCtx    struct {
		ReadOnlyRootFilesystem bool `yaml:"readOnlyRootFilesystem"`
		Capabilities           struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

// k8sManifest reads every object of a multi-document manifest.
func k8sManifest(t *testing.T, path string) []k8sObject {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var objs []k8sObject
	for {
		var o k8sObject
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return objs
		}
		require.NoError(t, err)
		objs = append(objs, o)
	}
}

func k8sFind(t *testing.T, objs []k8sObject, kind, name string) k8sObject {
	t.Helper()
	for _, o := range objs {
		if o.Kind == kind && (name == "" || o.Metadata.Name == name) {
			return o
		}
	}
	t.Fatalf("no %s %q in the manifest", kind, name)
	return k8sObject{}
}

// k8sExpand expands $(VAR) references as the kubelet does in a container's
// args and env values: a defined variable is replaced, an undefined
// reference is left as it is, and $$ is a literal $.
func k8sExpand(s string, vars map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '(':
			if end := strings.IndexByte(s[i:], ')'); end > 0 {
				if v, ok := vars[s[i+2:i+end]]; ok {
					b.WriteString(v)
					i += end
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// k8sPod is what the kubelet would run for one pod of the StatefulSet: its
// environment (downward API and secrets resolved) and its args expanded.
type k8sPod struct {
	name string
	env  []string
	args []string
}

func k8sPodOf(t *testing.T, c k8sContainer, pod, namespace string, secrets map[string]string) k8sPod {
	t.Helper()
	vars := map[string]string{}
	p := k8sPod{name: pod}
	for _, e := range c.Env {
		v := k8sExpand(e.Value, vars)
		if f := e.ValueFrom; f != nil {
			switch {
			case f.FieldRef != nil && f.FieldRef.FieldPath == "metadata.name":
				v = pod
			case f.FieldRef != nil && f.FieldRef.FieldPath == "metadata.namespace":
				v = namespace
			case f.SecretKeyRef != nil:
				s, ok := secrets[f.SecretKeyRef.Name+"/"+f.SecretKeyRef.Key]
				if !ok {
					require.True(t, f.SecretKeyRef.Optional, "secret %s/%s is not optional", f.SecretKeyRef.Name, f.SecretKeyRef.Key)
					continue
				}
				v = s
			default:
				t.Fatalf("env %s: a valueFrom this test does not know", e.Name)
			}
		}
		vars[e.Name] = v
		p.env = append(p.env, e.Name+"="+v)
	}
	for _, a := range c.Args {
		p.args = append(p.args, k8sExpand(a, vars))
	}
	return p
}

// flagValue is the value of --name=value among args.
func flagValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

// TestKubernetesStatefulSet checks deploy/kubernetes/muster.yaml. It reads
// the objects and checks what the cluster's forming depends on: pods
// started together, peers found through a headless service that publishes
// them before they are ready, an --initial-cluster that lists every pod of
// the StatefulSet under the name it advertises. Then it does what the
// kubelet would, short of Kubernetes itself: each pod of the StatefulSet
// runs as a container of muster's own image with the pod's args and
// environment (downward API and secrets resolved, $(VAR) expanded), its
// user, read-only root, dropped capabilities, volumes, and the DNS name the
// headless service gives it. The three form a cluster with no pod going
// first. The leader's pod is then deleted and comes back, as a rescheduled
// pod does, with its volume but at a new IP: the cluster keeps the member
// (its name did not change), elects a leader without it meanwhile, and the
// member catches up with a write made while it was gone. Last, a pod loses
// its volume and comes back empty: it catches up as the same member.
func TestKubernetesStatefulSet(t *testing.T) {
	objs := k8sManifest(t, filepath.Join("..", "..", "deploy", "kubernetes", "muster.yaml"))
	sts := k8sFind(t, objs, "StatefulSet", "")
	peers := k8sFind(t, objs, "Service", sts.Spec.ServiceName)
	assert.Equal(t, "None", peers.Spec.ClusterIP, "the StatefulSet's service is headless")
	assert.True(t, peers.Spec.PublishNotReadyAddresses, "peers find each other before any is ready")
	assert.Equal(t, "Parallel", sts.Spec.PodManagementPolicy, "no pod can be ready before a quorum runs")
	k8sFind(t, objs, "PodDisruptionBudget", "")
	require.Len(t, sts.Spec.Template.Spec.Containers, 1)
	c := sts.Spec.Template.Spec.Containers[0]
	assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)

	const namespace = "muster-test"
	secrets := map[string]string{"muster/cluster-key": "k8s-test-cluster-key", "muster/bootstrap-token": testAdminToken}
	var pods []k8sPod
	for i := range sts.Spec.Replicas {
		pods = append(pods, k8sPodOf(t, c, fmt.Sprintf("%s-%d", sts.Metadata.Name, i), namespace, secrets))
	}
	// Every pod of the StatefulSet is listed under the address it advertises.
	initial := flagValue(pods[0].args, "initial-cluster")
	var listed []string
	for _, p := range pods {
		assert.Equal(t, initial, flagValue(p.args, "initial-cluster"), "every pod lists the same cluster")
		listed = append(listed, p.name+"="+flagValue(p.args, "raft-advertise"))
		assert.Equal(t, p.name, flagValue(p.args, "node-id"))
	}
	assert.Equal(t, strings.Join(listed, ","), initial)
	httpPort := ""
	for _, port := range c.Ports {
		if port.Name == c.ReadinessProbe.HTTPGet.Port {
			httpPort = strconv.Itoa(port.ContainerPort)
		}
	}
	require.NotEmpty(t, httpPort, "the probes' port is a named container port")
	assert.True(t, strings.HasSuffix(flagValue(pods[0].args, "http-addr"), ":"+httpPort), "the probes reach the HTTP API")
	if t.Failed() {
		return
	}

	var volumes []string
	t.Cleanup(func() { // after the containers are gone (cleanups run last first)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, v := range volumes {
			if _, err := docker(ctx, "volume", "rm", "-f", v); err != nil {
				t.Logf("remove volume: %v", err)
			}
		}
	})
	d := newDockerNet(t)
	podSuffix := "." + sts.Spec.ServiceName + "." + namespace + ".svc.cluster.local"
	// run starts pod i's container at host address .host, as the kubelet
	// would start the pod on some node with some IP.
	run := func(i, host int) string {
		p := pods[i]
		opts := []string{
			"--network-alias", p.name + podSuffix, // the headless service's name for the pod
			"--network-alias", "muster." + namespace + ".svc.cluster.local", // the client service
			"--user", fmt.Sprintf("%d:%d", sts.Spec.Template.Spec.SecurityContext.RunAsUser, sts.Spec.Template.Spec.SecurityContext.RunAsGroup),
			"--security-opt", "no-new-privileges"}
		if c.SecurityCtx.ReadOnlyRootFilesystem {
			opts = append(opts, "--read-only")
		}
		for _, cap := range c.SecurityCtx.Capabilities.Drop {
			opts = append(opts, "--cap-drop", cap)
		}
		for _, m := range c.VolumeMounts {
			switch {
			case slices.ContainsFunc(sts.Spec.VolumeClaimTemplates, func(v k8sClaim) bool { return v.Metadata.Name == m.Name }):
				vol := d.name + "-" + m.Name + "-" + p.name // the pod's claim: kept across restarts
				if !slices.Contains(volumes, vol) {
					volumes = append(volumes, vol)
				}
				opts = append(opts, "-v", vol+":"+m.MountPath)
			default:
				opts = append(opts, "--tmpfs", m.MountPath+":mode=1777") // an emptyDir
			}
		}
		return d.startWith(p.name, host, opts, p.env, p.args...)
	}
	hosts := []int{21, 22, 23}
	for i := range pods {
		run(i, hosts[i])
	}
	c0 := newAPI(t, testAdminToken)
	url := func(host int) string { return "http://" + d.ip(host) + ":" + httpPort }
	for _, h := range hosts {
		c0.waitStatus(url(h)+"/readyz", http.StatusOK, 90*time.Second)
	}
	var st cluster.Status
	waitUntil(t, 30*time.Second, func() bool {
		if c0.getJSON(url(hosts[0])+"/api/v1/cluster/status", &st) != http.StatusOK || len(st.Servers) != len(pods) {
			return false
		}
		return !slices.ContainsFunc(st.Servers, func(s cluster.ServerStatus) bool { return s.HTTPAddr == "" }) // each records its own
	})
	for i, s := range st.Servers {
		assert.Equal(t, pods[i].name, s.ID)
		assert.Equal(t, pods[i].name+podSuffix+":7000", s.RaftAddr, "members are known by name")
		assert.Equal(t, "http://"+pods[i].name+podSuffix+":"+httpPort, s.HTTPAddr)
		assert.Equal(t, "Voter", s.Suffrage)
	}

	// The leader's pod is deleted; the two left elect a leader and take a
	// write; the pod comes back at another IP with its volume.
	var leader int
	for i, s := range st.Servers {
		if s.Leader {
			leader = i
		}
	}
	d.run("rm", "-f", d.name+"-"+pods[leader].name)
	var others []int
	for i := range pods {
		if i != leader {
			others = append(others, hosts[i])
		}
	}
	var created struct {
		Secret string `json:"secret"`
	}
	waitUntil(t, 60*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		code, body := c0.call(ctx, http.MethodPost, url(others[0])+"/api/v1/tokens", []byte(`{"name":"while-away","role":"viewer"}`), "application/json")
		return code == http.StatusCreated && json.Unmarshal(body, &created) == nil
	})
	written := appliedAt(t, c0, url(others[0]), url(others[1]))
	moved := hosts[leader] + 10
	run(leader, moved)
	c0.waitStatus(url(moved)+"/readyz", http.StatusOK, 90*time.Second)
	// The write made while it was away is in its own state.
	waitUntil(t, 30*time.Second, func() bool { return appliedAt(t, c0, url(moved)) >= written })
	require.Equal(t, http.StatusOK, c0.getJSON(url(others[1])+"/api/v1/cluster/status", &st))
	require.Len(t, st.Servers, len(pods), "the same members: the pod came back as itself")
	assert.Equal(t, pods[leader].name+podSuffix+":7000", st.Servers[leader].RaftAddr)
	// And it follows the leader from here on: a write after its return
	// reaches it too.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code, body := c0.call(ctx, http.MethodPost, url(others[1])+"/api/v1/tokens", []byte(`{"name":"after-return","role":"viewer"}`), "application/json")
	require.Equal(t, http.StatusCreated, code, "%s", body)
	written = appliedAt(t, c0, url(others[0]), url(others[1]))
	waitUntil(t, 30*time.Second, func() bool { return appliedAt(t, c0, url(moved)) >= written })

	// A pod whose volume is lost comes back under its name with an empty
	// data dir: it bootstraps the same initial configuration, which the
	// others' log begins with, and catches up from the leader as the same
	// member, without being removed first.
	lost := (leader + 1) % len(pods)
	d.run("rm", "-f", d.name+"-"+pods[lost].name)
	d.run("volume", "rm", d.name+"-data-"+pods[lost].name)
	fresh := hosts[lost] + 20
	run(lost, fresh)
	c0.waitStatus(url(fresh)+"/readyz", http.StatusOK, 90*time.Second)
	written = appliedAt(t, c0, url(moved))
	waitUntil(t, 30*time.Second, func() bool { return appliedAt(t, c0, url(fresh)) >= written })
	require.Equal(t, http.StatusOK, c0.getJSON(url(fresh)+"/api/v1/cluster/status", &st))
	assert.Len(t, st.Servers, len(pods))
}

// appliedAt is the highest index applied to the state of the nodes at
// urls, as each reports it from its own state.
func appliedAt(t *testing.T, c *apiClient, urls ...string) uint64 {
	var top uint64
	for _, u := range urls {
		var st cluster.Status
		if c.getJSON(u+"/api/v1/cluster/status?consistency=stale", &st) == http.StatusOK {
			top = max(top, st.AppliedIndex)
		}
	}
	return top
}
