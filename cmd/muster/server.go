package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	_ "time/tzdata" // CAP timestamps in Asia/Shanghai on hosts and images without a zone database

	// HTTPS to the provider from an image FROM scratch, which has no CA
	// certificates: used only when the system has none.
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"muster"
	"muster/access"
	"muster/api"
	"muster/cap"
	"muster/cluster"
	"muster/drills"
	"muster/examples"
	"muster/notify"
	"muster/notify/twiml"
	"muster/plans"
)

// serverOpts configure a muster server process (dev or agent).
type serverOpts struct {
	// strayEnv names the MUSTER_ variables set that are no flag of the
	// command, warned about once the log is set up.
	strayEnv       []string
	nodeID         string
	dataDir        string
	raftAddr       string
	raftAdvertise  string
	httpAddr       string
	httpAdvertise  string
	bootstrap      bool
	initialCluster []string // ID=HOST:PORT of every voter of a new cluster
	join           string
	clusterKey     string
	raftAuth       string // cluster.RaftAuth: required, or transition during an upgrade
	voteWithoutLog bool   // cluster.Config.VoteWithoutLog
	bootstrapToken string
	logLevel       string
	raftLogLevel   string

	heartbeat time.Duration
	election  time.Duration
	// clockTolerance is --clock-tolerance (cluster.Config.ClockTolerance).
	clockTolerance time.Duration

	approvalWindow time.Duration
	warningTimeout time.Duration
	diskReserve    byteSize

	capSender string
	capZone   string

	voiceZH, voiceEN string // text-to-speech voices of calls to Chinese and English speakers

	metricsAuth string

	sms smsOpts

	// dev only
	dev       bool
	people    int
	tokenFile string
}

func (o *serverOpts) addCommon(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", o.dataDir, "directory for the state, the raft log and snapshots")
	f.StringVar(&o.httpAddr, "http-addr", o.httpAddr, "HOST:PORT the HTTP API listens on")
	f.StringVar(&o.httpAdvertise, "http-advertise", "", "base URL other nodes use to reach this node's HTTP API (default http://<http-addr>)")
	f.StringVar(&o.bootstrapToken, "bootstrap-token", "", "secret for the first admin token (default: generated and printed once; an agent never prints one given here, muster dev prints its admin token, given or not, at every start)")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&o.raftLogLevel, "raft-log-level", "warn", "raft's own log level (its same error about one peer, such as a member down, is logged once per 30 s with how many were left out)")
	f.DurationVar(&o.heartbeat, "heartbeat-timeout", cluster.DefaultHeartbeatTimeout, "raft heartbeat timeout: a follower that hears nothing for 1–2× this starts an election")
	f.DurationVar(&o.election, "election-timeout", cluster.DefaultElectionTimeout, "raft election timeout")
	f.DurationVar(&o.clockTolerance, "clock-tolerance", cluster.DefaultClockTolerance, "how far this node's clock may be from the clocks of a majority of the members (measured every few seconds) before it stops leading, stamping commands and running call-ups, and says it is not ready; 0: not compared")
	f.DurationVar(&o.approvalWindow, "approval-window", notify.DefaultApprovalWindow, "how long a LIVE activation that needs a second approval (level I–II) waits for it")
	f.DurationVar(&o.warningTimeout, "warning-response-timeout", plans.DefaultWarningResponseTimeout, "how long an orange or red warning may go without an activation over its regions before it is marked NO RESPONSE and the commanders are texted (叫应: every commander token with a phone, once, on the LIVE account); unanswered for as long again, the approvers with a phone are texted once too (叫应升级)")
	f.StringVar(&o.capSender, "cap-sender", api.DefaultCAPSender, "<sender> of the CAP 1.2 alerts muster serves, e.g. a domain name of the city's emergency office; the same on every node")
	f.StringVar(&o.capZone, "cap-time-zone", "Asia/Shanghai", "time zone of the timestamps in CAP alerts")
	f.StringVar(&o.voiceZH, "voice-zh", twiml.DefaultVoice(twiml.ZhCN).Name, "Twilio text-to-speech voice of calls in Chinese: an Amazon Polly or Google voice speaking Mandarin (cmn-CN), e.g. Polly.Zhiyu, Google.cmn-CN-Wavenet-A (Twilio's default voice speaks none)")
	f.StringVar(&o.voiceEN, "voice-en", twiml.DefaultVoice(twiml.EnUS).Name, "Twilio text-to-speech voice of calls in English: an Amazon Polly or Google English voice, e.g. Polly.Joanna, Polly.Amy, Google.en-US-Standard-C")
	f.StringVar(&o.metricsAuth, "metrics-auth", "open", "who may read /metrics: open (anyone who reaches the HTTP port) or token (a muster token with the read permission, of any role but feed, sent as the API takes it: Authorization: Bearer mst_…; give Prometheus a viewer's)")
	o.diskReserve = cluster.DefaultDiskReserve
	f.Var(&o.diskReserve, "disk-reserve", "free disk this node keeps for call-ups: a roster import that would leave less, besides room for a snapshot of the state, is refused (e.g. 256MiB, 1GiB; 0 or off: none)")
	addMemoryLimit(cmd)
}

// voices are --voice-zh and --voice-en, each checked to be a voice Twilio
// reads that language with.
func (o *serverOpts) voices() (twiml.Voices, error) {
	zh, err := twiml.ParseVoice(o.voiceZH, twiml.ZhCN)
	if err != nil {
		return nil, usageErrorf("--voice-zh: %w", err)
	}
	en, err := twiml.ParseVoice(o.voiceEN, twiml.EnUS)
	if err != nil {
		return nil, usageErrorf("--voice-en: %w", err)
	}
	return twiml.Voices{twiml.ZhCN: zh, twiml.EnUS: en}, nil
}

// clusterClockTolerance is --clock-tolerance as cluster.Config takes it:
// 0 (not compared) is negative there.
func (o *serverOpts) clusterClockTolerance() time.Duration {
	if o.clockTolerance == 0 {
		return -1
	}
	return o.clockTolerance
}

// diskReserveBytes is --disk-reserve as cluster.Config takes it: "off" is
// no reserve (negative there; zero there is the default).
func (o *serverOpts) diskReserveBytes() int64 {
	if o.diskReserve <= 0 {
		return -1
	}
	return int64(o.diskReserve)
}

func newDevCmd() *cobra.Command {
	o := &serverOpts{nodeID: "dev", dataDir: "muster-data", httpAddr: "127.0.0.1:8080", raftAddr: "127.0.0.1:0", bootstrap: true, dev: true}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a single-node muster with the demo city, plans and roster",
		Long: `Run a single-node cluster in ./muster-data (or --data-dir) with the HTTP API
on 127.0.0.1:8080. On first start it loads the demo city (示例市: 6 districts,
24 streets, 120 communities, 1,200 grids), three plans (flood control, public
health, hazardous chemicals fire) and a generated roster of --people people.
It prints the URL and an admin token.

SMS go to a built-in Twilio simulator (nothing reaches a phone) with one
account for LIVE and one for EXERCISE/TEST traffic, whose recipients answer;
--twilio-* and --exercise-twilio-* send a purpose through a real account.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.tokenFile == "" {
				o.tokenFile = filepath.Join(o.dataDir, "admin-token")
			}
			o.strayEnv = unknownEnv(cmd.Flags(), os.Environ())
			return runServer(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	o.addCommon(cmd)
	cmd.Flags().StringVar(&o.raftAddr, "raft-addr", o.raftAddr, "HOST:PORT for raft (port 0: any free port)")
	cmd.Flags().IntVar(&o.people, "people", 2000, "size of the generated demo roster loaded on first start")
	o.sms.add(cmd.Flags(), true)
	return cmd
}

func newAgentCmd() *cobra.Command {
	o := &serverOpts{httpAddr: "127.0.0.1:8080"}
	cmd := &cobra.Command{
		Use:   "agent --node-id ID --data-dir DIR --raft-addr HOST:PORT --http-addr HOST:PORT (--bootstrap | --join URL | --initial-cluster ID=HOST:PORT,...)",
		Short: "Run a cluster node",
		Long: `Run one node of a muster cluster. The first node of a new cluster starts with
--bootstrap and prints the first admin token; the others start with --join and
the HTTP URL of any member. Or every node of a new cluster starts alike with
--initial-cluster listing them all (a StatefulSet's pods): they form the
cluster together, and a node not listed joins through --join. Nodes
authenticate to each other with the shared --cluster-key. Every flag can also
be set as MUSTER_<FLAG>, e.g. MUSTER_NODE_ID, MUSTER_CLUSTER_KEY. A restarted
node is started with the same --node-id, --data-dir, --raft-addr and
--cluster-key; --bootstrap, --join and --initial-cluster then change nothing
(they may stay in a service definition).

The leader sends call-up SMS: LIVE through the --twilio-* account, EXERCISE
and TEST through the --exercise-twilio-* account, never the other way round.
Without an exercise account drills go to a built-in simulator (nothing
reaches a phone): the agent warns of it when it starts, and the call-ups,
drill runs and reports say 模拟器发送，未到达任何手机; such a run is not a
drill held. While the leader has no live account, LIVE activations
and approvals are refused (409), as nobody would be called. Give
every node the same --public-url, reaching any node, for the providers'
webhooks and the answer links in call-up SMS (PUBLIC-URL/r/...). See
docs/operations.md.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.nodeID == "" || o.dataDir == "" || o.raftAddr == "" {
				return usageErrorf("--node-id, --data-dir and --raft-addr are required")
			}
			if o.bootstrap && o.join != "" {
				return usageErrorf("--bootstrap and --join exclude each other")
			}
			if o.join != "" && o.clusterKey == "" {
				return usageErrorf("--join needs --cluster-key (MUSTER_CLUSTER_KEY), the secret the cluster was started with")
			}
			if mode, err := cluster.ParseRaftAuth(o.raftAuth); err != nil {
				return usageErrorf("--raft-auth %q: want required, or transition for the first pass of a rolling upgrade from a muster without the raft handshake", o.raftAuth)
			} else if mode == cluster.RaftAuthTransition && o.clusterKey == "" {
				return usageErrorf("--raft-auth transition needs --cluster-key (MUSTER_CLUSTER_KEY), the secret the cluster was started with")
			}
			if len(o.initialCluster) > 0 {
				if err := o.checkInitialCluster(); err != nil {
					return usageError(err)
				}
			}
			o.strayEnv = unknownEnv(cmd.Flags(), os.Environ())
			return runServer(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	o.addCommon(cmd)
	f := cmd.Flags()
	f.StringVar(&o.nodeID, "node-id", "", "unique, stable ID of this node")
	f.StringVar(&o.raftAddr, "raft-addr", "", "HOST:PORT the raft transport listens on")
	f.StringVar(&o.raftAdvertise, "raft-advertise", "", "HOST:PORT other nodes dial for raft (default: --raft-addr)")
	f.BoolVar(&o.bootstrap, "bootstrap", false, "start a new cluster with this node as its first voter")
	f.StringVar(&o.join, "join", "", "HTTP URL of any member of the cluster to join")
	f.StringSliceVar(&o.initialCluster, "initial-cluster", nil, "every voter of a new cluster as ID=HOST:PORT (its raft address), comma-separated; each listed node bootstraps it alike")
	f.StringVar(&o.clusterKey, "cluster-key", "", "shared secret for node-to-node requests and raft (env MUSTER_CLUSTER_KEY)")
	f.StringVar(&o.raftAuth, "raft-auth", string(cluster.RaftAuthRequired), "required: every raft connection proves it holds --cluster-key; transition: also take and dial raft without that proof, only for the first pass of a rolling upgrade from a muster without it (see docs/operations.md)")
	f.BoolVar(&o.voteWithoutLog, "vote-without-log", false, "let this node vote while it holds no raft log (its data lost), as it otherwise will not for a member that has one; only when the members that kept their data cannot elect a leader without it and no other will come back (see docs/operations.md)")
	o.sms.add(f, false)
	return cmd
}

// exitCannotApply is the exit code of a node that stopped because it
// could not apply committed raft entries (its data disk full; see
// cluster.FSM.OnCannotApply): 74, EX_IOERR of sysexits.h. Started again
// once there is room, it applies them.
const exitCannotApply = 74

// exitRefused is the exit code of a node that starting again will not
// help: the cluster refused it (a removed member, a live member under its
// ID, a data dir of another cluster, another cluster key) or its own raft
// state says it is no member (cluster.ErrNotAMember), or its state was
// written by a newer muster (cluster.ErrNewerState). 78, EX_CONFIG of
// sysexits.h: deploy/systemd/muster.service does not restart a node that
// exits with it, nor with exitUsage (RestartPreventExitStatus).
const exitRefused = 78

func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErrorf("--log-level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func runServer(parent context.Context, o *serverOpts, stdout io.Writer) error {
	if parent == nil {
		parent = context.Background()
	}
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger, err := newLogger(o.logLevel, os.Stderr)
	if err != nil {
		return err
	}
	for _, name := range o.strayEnv {
		logger.Warn(name+" is set but is no flag of this command: it is ignored", "env", name)
	}
	if err := o.sms.check(); err != nil {
		return usageError(err)
	}
	if p := cap.IdentifierProblem(o.capSender); p != "" {
		return usageErrorf("--cap-sender: %s: CAP wants it without spaces, commas, < or &", p)
	}
	if o.metricsAuth != "open" && o.metricsAuth != "token" {
		return usageErrorf("--metrics-auth %q: want open or token", o.metricsAuth)
	}
	if o.diskReserve == autoMemoryLimit {
		return usageErrorf("--disk-reserve: want a size such as 256MiB or 1GiB, or 0 or off for none")
	}
	if o.clockTolerance < 0 || o.clockTolerance >= 2*time.Minute {
		return usageErrorf("--clock-tolerance %s: want 0 (not compared) or a duration under 2m, the most the members' clocks may differ for them to take each other's requests", o.clockTolerance)
	}
	capZone, err := capTimeZone(o.capZone)
	if err != nil {
		return err
	}
	voices, err := o.voices()
	if err != nil {
		return err
	}
	gin.SetMode(gin.ReleaseMode)

	ln, err := net.Listen("tcp", o.httpAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.httpAddr, err)
	}
	defer ln.Close()
	advertise := o.httpAdvertise
	if advertise == "" {
		host, port, _ := net.SplitHostPort(ln.Addr().String())
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			if !o.dev && (o.join != "" || o.clusterKey != "") {
				return usageErrorf("--http-addr %s listens on all interfaces: give --http-advertise with the address other nodes should use", o.httpAddr)
			}
			host = "127.0.0.1"
		}
		advertise = "http://" + net.JoinHostPort(host, port)
	}
	publicURL := strings.TrimRight(o.sms.publicURL, "/")
	if publicURL == "" {
		publicURL = advertise
	}
	sms, err := newSMSWiring(o, publicURL, logger, stdout)
	if err != nil {
		return err
	}
	defer sms.Close()

	node, err := cluster.New(cluster.Config{
		NodeID:           o.nodeID,
		DataDir:          o.dataDir,
		RaftBind:         o.raftAddr,
		RaftAdvertise:    o.raftAdvertise,
		HTTPAddr:         advertise,
		PublicURL:        publicURL,
		NoLiveSMS:        sms.dispatch.Live == nil,
		Bootstrap:        o.bootstrap,
		InitialCluster:   o.initialMembers(),
		Join:             o.join != "" && !o.listed(),
		ClusterKey:       o.clusterKey,
		RaftAuth:         cluster.RaftAuth(o.raftAuth),
		VoteWithoutLog:   o.voteWithoutLog,
		DiskReserve:      o.diskReserveBytes(),
		Logger:           logger,
		RaftLevel:        o.raftLogLevel,
		HeartbeatTimeout: o.heartbeat,
		ElectionTimeout:  o.election,
		ClockTolerance:   o.clusterClockTolerance(),
	})
	if errors.Is(err, cluster.ErrNewerState) {
		return &exitError{exitRefused, err}
	}
	if err != nil {
		return err
	}
	plans.Register(node)
	node.FSM().ReleaseMemoryAfter(plans.CmdImportCommit)
	// A committed entry that cannot be applied (the data disk full): the
	// FSM has logged what to do at ERROR; stop here, not with a panic's
	// stack, which reads as a bug and buries that line.
	node.FSM().OnCannotApply(func(string) { os.Exit(exitCannotApply) })
	access.Register(node)
	notify.Register(node)
	node.OnRestore(notify.MarkRestored) // the call-ups open in a restored backup say so
	drills.Register(node)
	planSvc := plans.NewService(node, node)
	warnSvc := plans.NewWarningService(node, node, plans.WarningConfig{ResponseTimeout: o.warningTimeout})
	if o.dev {
		fmt.Fprintf(stdout, "twilio simulator: %s (%s; counters at /_sim/stats)\n", sms.sim.url, orDefault(strings.Join(sms.simUses, ", "), "unused: both purposes have accounts"))
	}
	logger.Info("voice calls read with", "zh", voices[twiml.ZhCN].Name+" "+string(voices[twiml.ZhCN].Language), "en", voices[twiml.EnUS].Name+" "+string(voices[twiml.EnUS].Language))
	actSvc := notify.NewService(node, node, sms.senders)
	actSvc.ApprovalWindow = o.approvalWindow
	actSvc.PublicURL = sms.dispatch.PublicURL // previews show answer links as long as the sent ones
	// A LIVE call-up that nobody would send is refused at once.
	actSvc.LeaderWithoutLiveSMS = node.LeaderWithoutLiveSMS
	// A preview made on a follower says the leader sends, not this node.
	actSvc.Leader = func() (string, bool) {
		id, _ := node.Leader()
		return id, node.IsLeader()
	}
	drillSvc := drills.NewService(node, node, muster.SystemClock{})
	drillSvc.Rules = func() int { return node.Status().Rules } // what readers are told of postponements follows the cluster's rules
	// A run by hand warns when drills go to the built-in simulator.
	drillSvc.Simulated = func() bool { return sms.dispatch.Exercise.Simulated }
	dispatcher, err := notify.NewDispatcher(node, node, sms.dispatch)
	if err != nil {
		node.Close()
		return usageError(err)
	}
	node.OnLeader(dispatcher.Run)
	escalator := notify.NewEscalator(node, node, notify.EscalatorConfig{Live: sms.dispatch.Live, Exercise: sms.dispatch.Exercise,
		LiveVoice: voiceRoute(sms.dispatch.Live), ExerciseVoice: voiceRoute(sms.dispatch.Exercise), PublicURL: publicURL, Logger: logger})
	node.OnLeader(escalator.Run)
	if sms.dispatch.Live != nil { // without a LIVE account no LIVE request is sent, nor its approvers texted
		approvers, err := notify.NewApproverNotifier(node, node, notify.ApproverNotifierConfig{Live: sms.dispatch.Live, Logger: logger})
		if err != nil {
			node.Close()
			return usageError(err)
		}
		node.OnLeader(approvers.Run)
	}
	// An orange or red warning left unanswered past
	// --warning-response-timeout: its commanders are texted (叫应), and,
	// unanswered for as long again, their superiors (叫应升级). Without a
	// LIVE account the texts are recorded as not sent (未能叫应) and
	// logged while this node leads, and a leader with one sends them.
	prompter, err := notify.NewWarningPrompter(node, node, notify.WarningPrompterConfig{Live: sms.dispatch.Live, EscalateAfter: o.warningTimeout, Logger: logger})
	if err != nil {
		node.Close()
		return usageError(err)
	}
	node.OnLeader(prompter.Run)
	node.OnLeader(func(ctx context.Context) {
		planSvc.RunImportJanitor(ctx, muster.SystemClock{}, time.Minute, time.Hour, logger)
	})
	node.OnLeader(func(ctx context.Context) { warnSvc.RunExpiry(ctx, 5*time.Second, logger) })
	drillScheduler := drills.NewScheduler(drillSvc, node, drills.SchedulerConfig{Logger: logger})
	node.OnLeader(drillScheduler.Run)
	if err := node.Start(); err != nil {
		node.Close()
		if errors.Is(err, cluster.ErrNotAMember) {
			return &exitError{exitRefused, err}
		}
		return err
	}
	defer func() {
		if err := node.Close(); err != nil {
			logger.Warn("node shutdown", "err", err)
		}
	}()
	// Webhooks are taken on every node; closed after the HTTP server has
	// stopped, so what it accepted is applied before the node closes.
	inbound := notify.NewInbound(node, notify.InboundConfig{Tokens: sms.tokens, Exercise: sms.exerciseAccounts(), View: node})
	defer inbound.Close()

	tokens := access.NewService(node, node)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), node.Collector(), dispatcher.Collector(), escalator.Collector(), inbound.VoiceCollector(), warnSvc.Collector(), drillScheduler.Collector(), actSvc.ApprovalCollector())
	srv := &http.Server{
		Handler: api.New(api.Config{Logger: logger, Metrics: reg, MetricsNeedToken: o.metricsAuth == "token", PublicURL: publicURL, CAPSender: o.capSender, CAPZone: capZone, Voices: voices},
			api.Deps{Cluster: node, Backup: node.FSM(), Tokens: tokens, Plans: planSvc, Activations: actSvc, Webhooks: inbound, Warnings: warnSvc, Drills: drillSvc}).Handler(),
		ReadHeaderTimeout: 10 * time.Second,
	}
	// Requests see a context that ends when shutdown starts, so long-lived
	// ones (event streams) end at once instead of holding Shutdown.
	reqCtx, endRequests := context.WithCancel(context.Background())
	srv.BaseContext = func(net.Listener) context.Context { return reqCtx }
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	defer func() {
		endRequests()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	logger.Info("muster node started", "node", o.nodeID, "http", advertise, "public_url", publicURL, "raft", node.RaftAddr(), "data_dir", o.dataDir)
	if !o.dev {
		if one := webhooksOnOneNode(publicURL, o.nodeID, advertise, o.join != "" || o.listed(), node.Status().Servers); one != "" {
			logger.Warn("the providers' webhooks and the answer links reach node "+one+" only (--public-url is its own address): replies and delivery reports sent while it is down are lost, as providers do not send them again; "+
				"give every node the same --public-url, of a load balancer in front of all of them (docs/operations.md, Webhooks)", "public_url", publicURL)
		}
	}

	self := cluster.NodeInfo{ID: o.nodeID, RaftAddr: node.RaftAddr(), HTTPAddr: advertise, Rules: muster.Rules, PublicURL: publicURL, NoLiveSMS: sms.dispatch.Live == nil}
	listed := o.listed()
	if own := node.OwnState(); !o.bootstrap && o.join == "" && !listed && !own.Member && own.AppliedIndex == 0 && len(node.Status().Servers) == 0 {
		// A restarted member needs none of the flags because its data dir
		// holds its state; an empty one (a new disk, a mistyped --data-dir)
		// makes a node of no cluster, which waits to be added by hand.
		logger.Warn("this node belongs to no cluster: its data dir holds no cluster state; it waits to be added (muster cluster join --node-id "+o.nodeID+" …). "+
			"If it is a member restarted, check --data-dir; a new member starts with --join URL, a new cluster with --bootstrap", "data_dir", o.dataDir)
	}
	// The join runs beside the start-up, not before the rest of it: a
	// member restarted with the --join URL of a node gone for good is a
	// member all the same, and the HTTP server's failure must be heard.
	// A refusal stops the node, as before (a removed member, a live one
	// under the same ID).
	var joinDone chan error
	if o.join != "" && !listed {
		joinDone = make(chan error, 1)
		jctx, cancelJoin := context.WithCancel(ctx)
		var joining sync.WaitGroup
		joining.Add(1)
		go func() {
			defer joining.Done()
			joinDone <- joinCluster(jctx, logger, o.join, o.clusterKey, cluster.JoinRequest{NodeInfo: self, State: node.OwnState()}, memberWithLeader(node, self, logger))
		}()
		defer func() { cancelJoin(); joining.Wait() }()
	}
	if listed {
		// The nodes listed start in any order and at any pace (a pod may
		// wait minutes for its volume): wait for a quorum for as long as it
		// takes, then record this node's HTTP address, which no join carried.
		if err := waitLeader(ctx, node, 0, logger); err != nil {
			return err
		}
		if err := node.Join(ctx, self); err != nil && ctx.Err() == nil {
			// Only shown by cluster status until this node leads, when it
			// records its own address again: not worth stopping for.
			logger.Warn("recording this node's HTTP address failed", "err", err)
		}
	}
	if o.bootstrap || listed {
		if err := waitLeader(ctx, node, 30*time.Second, logger); err != nil {
			return err
		}
		secret, err := firstAdminToken(ctx, o, tokens)
		if err != nil {
			return err
		}
		if o.dev {
			waitOwnRules(ctx, node, 5*time.Second)
			if err := loadDemo(ctx, logger, planSvc, o.people); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "\nmuster dev is running: %s\n  admin token: %s\n  try: %s\n\n", advertise, secret, devTry(advertise, secret))
		} else if secret != "" && o.bootstrapToken != "" {
			// The operator knows it, and keeps it in a secret store: the
			// log (journal, kubectl logs) is no place for it.
			fmt.Fprintln(stdout, "cluster bootstrapped; first admin token: the one given by --bootstrap-token (MUSTER_BOOTSTRAP_TOKEN)")
		} else if secret != "" {
			fmt.Fprintf(stdout, "cluster bootstrapped; first admin token (shown once): %s\n", secret)
		}
	}

	for {
		select {
		case <-ctx.Done():
			logger.Info("shutting down: handing over leadership and closing", "node", o.nodeID)
			return nil
		case err := <-serveErr:
			return fmt.Errorf("http server: %w", err)
		case err := <-joinDone:
			if err != nil {
				return err
			}
			joinDone = nil
		case <-node.Refused():
			return refusedExit(node)
		}
	}
}

// devTry is the command muster dev suggests trying against the node at
// addr with the admin token secret: it names the node with --addr unless
// addr is the client verbs' default.
func devTry(addr, secret string) string {
	try := fmt.Sprintf("export MUSTER_TOKEN=%s; go run ./cmd/muster plan list", secret)
	if addr != defaultAddr {
		try += " --addr " + addr
	}
	return try
}

// joinCluster asks the cluster at url to add this node, retrying with
// backoff until it succeeds, is refused (wrong key, bad request, or a
// conflict such as a live member under the same ID), the process is
// stopped, or member says the node is a voter of a cluster with a leader
// already (a member restarted whose --join URL names a node gone for good,
// or a join applied whose answer was lost): then there is nothing to do.
func joinCluster(ctx context.Context, logger *slog.Logger, url, key string, self cluster.JoinRequest, member func(context.Context) (leader string, ok bool)) error {
	wait := 200 * time.Millisecond
	for {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := cluster.RequestJoin(rctx, url, key, self)
		cancel()
		if err == nil {
			logger.Info("joined the cluster", "via", url)
			return nil
		}
		if muster.IsCode(err, muster.EForbidden) && strings.Contains(err.Error(), "without the right cluster key") {
			// The answer of a muster from before signed node-to-node
			// requests, as well as of one with another key.
			return &exitError{exitRefused, fmt.Errorf("join via %s refused: %w (check --cluster-key; a cluster whose nodes run a muster from before signed node-to-node requests refuses new nodes too: upgrade it first)", url, err)}
		}
		if muster.IsCode(err, muster.EForbidden) || muster.IsCode(err, muster.EInvalid) || muster.IsCode(err, muster.EConflict) {
			return &exitError{exitRefused, fmt.Errorf("join via %s refused: %w", url, err)}
		}
		if leader, ok := member(ctx); ok {
			logger.Info("the --join URL does not answer, but this node is already a voter of the cluster, whose leader is "+leader+": nothing to do, no more join attempts; "+
				"point --join at a member that runs (or leave it: a restarted member needs none)", "via", url, "err", err)
			return nil
		}
		logger.Warn("join failed, retrying", "via", url, "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}

// memberWithLeader reports, for joinCluster, whether node is a voter in
// the configuration it holds and knows a leader, which then has it as a
// member: a removed node knows none. It then records self, this node's
// addresses, through that leader (idempotent; a restarted member's HTTP
// address may have changed), as the join would have.
func memberWithLeader(node *cluster.Node, self cluster.NodeInfo, logger *slog.Logger) func(context.Context) (string, bool) {
	return func(ctx context.Context) (string, bool) {
		st := node.Status()
		if st.LeaderID == "" || !slices.ContainsFunc(st.Servers, func(s cluster.ServerStatus) bool {
			return s.ID == self.ID && s.Suffrage == "Voter" // raft.Voter
		}) {
			return "", false
		}
		if err := node.Join(ctx, self); err != nil && ctx.Err() == nil {
			// Only shown by cluster status until this node leads, when it
			// records its own address again: not worth stopping for.
			logger.Warn("recording this node's HTTP address failed", "err", err)
		}
		return st.LeaderID, true
	}
}

// waitLeader waits until node is ready (Node.Ready: it knows a leader and
// has caught up with it): for at most timeout, or, with no timeout, for as
// long as it takes, saying so and why (no leader yet, catching up) in the
// log every 10 s. A node that learns meanwhile that it is no member (it was
// removed while it was down) ends the wait with exitRefused.
func waitLeader(ctx context.Context, node *cluster.Node, timeout time.Duration, logger *slog.Logger) error {
	start := time.Now()
	said := start
	for {
		ok, why := node.Ready(0)
		if ok {
			return nil
		}
		if timeout > 0 && time.Since(start) > timeout {
			return fmt.Errorf("not ready within %v: %s", timeout, why)
		}
		if time.Since(said) >= 10*time.Second {
			logger.Warn("waiting to be ready", "why", why, "waited", time.Since(start).Round(time.Second))
			said = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-node.Refused():
			return refusedExit(node)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// refusedExit is the error muster agent exits with when its node, running,
// learns that it is no member of its cluster (cluster.Node.Refused: it was
// removed while it was down): exitRefused, as a node refused at its start.
func refusedExit(node *cluster.Node) error {
	return &exitError{exitRefused, node.RefusedErr()}
}

// waitOwnRules waits, at most timeout, until the cluster applies commands
// under this node's own rules (muster.Rules): a node that has just
// bootstrapped applies them under rules 1 until its member record is in,
// and the demo data is loaded under the rules that keep all of it (the
// regions' English names). On timeout it returns all the same.
func waitOwnRules(ctx context.Context, node *cluster.Node, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for st := node.Status(); st.Rules < st.NodeRules && time.Now().Before(deadline); st = node.Status() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// firstAdminToken creates the first admin token if the cluster has none and
// returns its secret; "" when the cluster already had tokens. In dev the
// secret is kept in the data dir so every start can print it again.
func firstAdminToken(ctx context.Context, o *serverOpts, tokens *access.Service) (string, error) {
	secret, kept := o.bootstrapToken, ""
	if o.dev {
		if b, err := os.ReadFile(o.tokenFile); err == nil {
			kept = strings.TrimSpace(string(b))
		}
		if secret == "" {
			secret = kept
		}
	}
	if secret == "" {
		var err error
		if secret, err = tokens.NewSecret(); err != nil {
			return "", err
		}
	}
	issued, created, err := tokens.Bootstrap(ctx, secret)
	if err != nil {
		return "", fmt.Errorf("first admin token: %w", err)
	}
	if created {
		if o.dev {
			if err := os.WriteFile(o.tokenFile, []byte(issued+"\n"), 0o600); err != nil {
				return "", err
			}
		}
		return issued, nil
	}
	if o.dev {
		// Show the kept secret only if it still works.
		if kept != "" {
			if _, err := tokens.Authenticate(ctx, kept); err == nil {
				return kept, nil
			}
		}
		return "(unknown: this data dir has tokens but no valid " + o.tokenFile + "; use a token you created)", nil
	}
	return "", nil
}

// loadDemo fills an empty cluster with the demo city, plans and roster.
func loadDemo(ctx context.Context, logger *slog.Logger, svc *plans.Service, people int) error {
	existing, err := svc.Regions(ctx, muster.Stale, plans.RegionFilter{}, plans.Page{Limit: 1})
	if err != nil {
		return err
	}
	if len(existing.Items) > 0 {
		return nil
	}
	start := time.Now()
	if _, err := svc.ImportRegions(ctx, "dev", bytes.NewReader(examples.RegionsCSV())); err != nil {
		return fmt.Errorf("demo regions: %w", err)
	}
	files, err := examples.Plans()
	if err != nil {
		return err
	}
	for _, f := range files {
		if _, err := svc.ApplyPlan(ctx, "dev", f.Name, f.Data); err != nil {
			return fmt.Errorf("demo plan %s: %w", f.Name, err)
		}
	}
	regions, err := examples.Regions()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := examples.GenerateRoster(&buf, people, 1, examples.Grids(regions)); err != nil {
		return err
	}
	res, err := svc.ImportRoster(ctx, "dev", &buf, plans.ImportOptions{})
	if err != nil {
		return fmt.Errorf("demo roster: %w", err)
	}
	logger.Info("demo data loaded", "regions", len(regions), "plans", len(files), "people", res.Created, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// checkInitialCluster checks --initial-cluster: well-formed, each ID once,
// with the flags it needs and without the one it excludes.
func (o *serverOpts) checkInitialCluster() error {
	if o.bootstrap {
		return errors.New("--bootstrap and --initial-cluster exclude each other: list this node in --initial-cluster")
	}
	if o.clusterKey == "" {
		return errors.New("--initial-cluster needs --cluster-key (MUSTER_CLUSTER_KEY), the secret every node is started with")
	}
	seen := map[string]bool{}
	for _, m := range o.initialCluster {
		id, addr, ok := strings.Cut(m, "=")
		if !ok || id == "" {
			return fmt.Errorf("--initial-cluster %q: want ID=HOST:PORT", m)
		}
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
			return fmt.Errorf("--initial-cluster %q: the raft address %q is no HOST:PORT", m, addr)
		}
		if seen[id] {
			return fmt.Errorf("--initial-cluster lists %s twice", id)
		}
		seen[id] = true
	}
	if !seen[o.nodeID] && o.join == "" {
		return fmt.Errorf("--initial-cluster does not list this node (%s): list it, or give --join to add it to the cluster", o.nodeID)
	}
	return nil
}

// initialMembers is --initial-cluster as cluster members.
func (o *serverOpts) initialMembers() []cluster.NodeInfo {
	var ms []cluster.NodeInfo
	for _, m := range o.initialCluster {
		id, addr, _ := strings.Cut(m, "=")
		ms = append(ms, cluster.NodeInfo{ID: id, RaftAddr: addr})
	}
	return ms
}

// listed reports whether --initial-cluster lists this node.
// webhooksOnOneNode is the node whose own address publicURL is, when the
// cluster has other members (servers, or one to come: more), so that the
// providers' webhooks and the answer links depend on that one node; else
// "".
func webhooksOnOneNode(publicURL, self, advertise string, more bool, servers []cluster.ServerStatus) string {
	if len(servers) < 2 && !more {
		return ""
	}
	if publicURL == advertise {
		return self
	}
	for _, s := range servers {
		if s.HTTPAddr != "" && strings.TrimRight(s.HTTPAddr, "/") == publicURL {
			return s.ID
		}
	}
	return ""
}

func (o *serverOpts) listed() bool {
	return slices.ContainsFunc(o.initialMembers(), func(m cluster.NodeInfo) bool { return m.ID == o.nodeID })
}

// capTimeZone is the zone of the timestamps in CAP alerts (--cap-time-zone),
// taken as a drill schedule's is (drills.LoadZone): an IANA name such as
// Asia/Shanghai; Local is refused, being the zone of whichever node
// renders an alert, so one alert's <sent> would carry another offset on
// each node.
func capTimeZone(name string) (*time.Location, error) {
	loc, err := drills.LoadZone(name)
	if err != nil {
		return nil, usageErrorf("--cap-time-zone %q: %v", name, err)
	}
	return loc, nil
}
