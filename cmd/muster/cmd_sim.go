package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"muster/notify/twiliosim"
)

// simOpts configure `muster twilio-sim`.
type simOpts struct {
	listen     string
	accountSID string
	authToken  string
	accounts   []string
	inboundURL string
	number     string
	mps        float64
	latency    time.Duration
	sentDelay  time.Duration
	delivered  time.Duration
	timeScale  float64
	rules      []string
	replies    []string
	cps        float64
	voice      string
	scripts    []string
	seed       int64
	duplicate  bool
	workers    int
	cbAttempts int
	cbDelay    time.Duration
	twilioTry  bool
	logLevel   string
}

func newTwilioSimCmd() *cobra.Command {
	o := &simOpts{listen: "127.0.0.1:9099", number: "+15005550006", seed: 1}
	cmd := &cobra.Command{
		Use:   "twilio-sim --listen ADDR (--account-sid AC... --auth-token TOKEN | --account AC...:TOKEN[:NUMBER]...)",
		Short: "Run a Twilio-compatible SMS and voice simulator (for drills and tests; sends nothing)",
		Long: `Run a Twilio-compatible SMS and voice simulator. It speaks the Messages and
Calls APIs that twilio-go uses (Basic auth, Twilio's JSON and error bodies). Calls
are dialled at --cps, ring, and are answered (by a person or a machine), busy or
unanswered by --voice-profile or --call-script; an answered call fetches its
TwiML from the call's Url with signed requests and presses keys. It moves messages
queued → sent → delivered on its own clock, posts signed status callbacks,
answers 429 above --mps, fails numbers by --rule, and replies from recipients
by --reply profile as signed inbound SMS to --inbound-url. Counters are at
GET /_sim/stats, every message kept at GET /_sim/messages[?to=NUMBER], every call
at GET /_sim/calls[?to=NUMBER]. Point
muster at it with --twilio-api-url http://ADDR (and --exercise-twilio-api-url).

Accounts: --account-sid/--auth-token/--number give one; --account SID:TOKEN[:NUMBER]
(repeatable) gives more, e.g. a live and an exercise account as muster uses them.

Rules:   PATTERN=OUTCOME[:ARG], e.g. +8617000=reject:21614, +8617001=undelivered:30003,
         re:^\+86170[2-4]=failed:30008, +8617099=silent, +8617098=slow:45s
Replies: SHARE:WITHIN:BODY, e.g. 0.7:30s:1 and 0.1:60s:2 家中有事`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := o.config()
			if err != nil {
				return usageError(err)
			}
			return runTwilioSim(cmd.Context(), o.listen, cfg, o.logLevel, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", o.listen, "HOST:PORT to serve on")
	f.StringVar(&o.accountSID, "account-sid", "", "account SID: AC followed by 32 hex digits")
	f.StringVar(&o.authToken, "auth-token", "", "auth token (letters and digits): Basic-auth password and webhook signing key")
	f.StringArrayVar(&o.accounts, "account", nil, "an account as SID:TOKEN[:NUMBER] (repeatable; NUMBER defaults to --number)")
	f.StringVar(&o.inboundURL, "inbound-url", "", "where replies are posted as signed inbound SMS (muster's /hooks/twilio/sms-inbound)")
	f.StringVar(&o.number, "number", o.number, "the account's number: sender for Messaging Service sends and To of replies")
	f.Float64Var(&o.mps, "mps", 0, "accepted messages per second per account; above it 429/20429 (0: unlimited)")
	f.DurationVar(&o.latency, "latency", 0, "added to every create response")
	f.DurationVar(&o.sentDelay, "sent-delay", 200*time.Millisecond, "queued → sent")
	f.DurationVar(&o.delivered, "delivered-delay", 500*time.Millisecond, "sent → delivered")
	f.Float64Var(&o.timeScale, "time-scale", 1, "multiplies every simulated delay")
	f.StringArrayVar(&o.rules, "rule", nil, "failure rule by number (repeatable)")
	f.StringArrayVar(&o.replies, "reply", nil, "reply profile SHARE:WITHIN:BODY (repeatable)")
	f.Float64Var(&o.cps, "cps", 1, "calls dialled per second per account (negative: no pacing)")
	f.StringVar(&o.voice, "voice-profile", "", "how people answer calls, e.g. answer=0.7,busy=0.1,no-answer=0.2,machine=0.05,keys=1:0.8/2:0.1/none:0.1,ring=5s,think=1s (default: 80% answer, 75% press 1)")
	f.StringArrayVar(&o.scripts, "call-script", nil, "fixed behaviour for calls to a number, e.g. +8613800138000=human:9,1 or +8617010=busy (repeatable)")
	f.Int64Var(&o.seed, "seed", o.seed, "seed for who replies and when: the same seed gives the same replies")
	f.BoolVar(&o.duplicate, "duplicate-callbacks", false, "post every status callback twice (idempotency drills)")
	f.IntVar(&o.workers, "workers", 8, "webhooks posted at once")
	f.IntVar(&o.cbAttempts, "callback-attempts", 3, "tries of each webhook (status callbacks and replies) before it is given up")
	f.DurationVar(&o.cbDelay, "callback-retry-delay", 250*time.Millisecond, "first webhook retry after this; doubles per retry")
	f.BoolVar(&o.twilioTry, "twilio-retries", false, "post a webhook again as Twilio does by default: once, only when the connection could not be made (a webhook answered with an error is lost); --callback-attempts is not looked at")
	f.StringVar(&o.logLevel, "log-level", "info", "log level")
	return cmd
}

func (o *simOpts) config() (twiliosim.Config, error) {
	var accounts []twiliosim.Account
	if o.accountSID != "" || o.authToken != "" || len(o.accounts) == 0 {
		if o.accountSID == "" || o.authToken == "" {
			return twiliosim.Config{}, errors.New("--account-sid and --auth-token are required (or --account SID:TOKEN[:NUMBER])")
		}
		accounts = append(accounts, twiliosim.Account{SID: o.accountSID, AuthToken: o.authToken, InboundURL: o.inboundURL, Number: o.number})
	}
	seen := map[string]bool{o.accountSID: o.accountSID != ""}
	for _, spec := range o.accounts {
		parts := strings.SplitN(spec, ":", 3)
		if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
			return twiliosim.Config{}, fmt.Errorf("--account %q: want SID:TOKEN[:NUMBER], e.g. AC00000000000000000000000000000002:token2:+15005550007", spec)
		}
		if seen[parts[0]] {
			return twiliosim.Config{}, fmt.Errorf("--account %q: account %s is given twice", spec, parts[0])
		}
		seen[parts[0]] = true
		a := twiliosim.Account{SID: parts[0], AuthToken: parts[1], InboundURL: o.inboundURL, Number: o.number}
		if len(parts) == 3 && parts[2] != "" {
			a.Number = parts[2]
		}
		accounts = append(accounts, a)
	}
	if o.workers <= 0 || o.cbAttempts <= 0 || o.cbDelay <= 0 {
		return twiliosim.Config{}, errors.New("--workers, --callback-attempts and --callback-retry-delay must be positive")
	}
	cfg := twiliosim.Config{
		Accounts:           accounts,
		Workers:            o.workers,
		CallbackAttempts:   o.cbAttempts,
		CallbackRetryDelay: o.cbDelay,
		TwilioRetries:      o.twilioTry,
		PublicURL:          "http://" + o.listen,
		MPS:                o.mps,
		Latency:            o.latency,
		SentDelay:          o.sentDelay,
		DeliveredDelay:     o.delivered,
		TimeScale:          o.timeScale,
		Seed:               o.seed,
		DuplicateCallbacks: o.duplicate,
	}
	for _, spec := range o.rules {
		r, err := twiliosim.ParseRule(spec)
		if err != nil {
			return cfg, err
		}
		cfg.Rules = append(cfg.Rules, r)
	}
	for _, spec := range o.replies {
		r, err := parseReply(spec)
		if err != nil {
			return cfg, err
		}
		cfg.Replies = append(cfg.Replies, r)
	}
	cfg.CPS = o.cps
	if o.voice != "" {
		v, err := twiliosim.ParseVoiceProfile(o.voice)
		if err != nil {
			return cfg, fmt.Errorf("--voice-profile: %w", err)
		}
		cfg.Voice = v
	}
	for _, spec := range o.scripts {
		sc, err := twiliosim.ParseCallScript(spec)
		if err != nil {
			return cfg, fmt.Errorf("--call-script: %w", err)
		}
		cfg.CallScripts = append(cfg.CallScripts, sc)
	}
	return cfg, nil
}

// parseReply reads SHARE:WITHIN:BODY, e.g. 0.7:30s:1.
func parseReply(spec string) (twiliosim.ReplyRule, error) {
	parts := strings.SplitN(spec, ":", 3)
	if len(parts) != 3 {
		return twiliosim.ReplyRule{}, fmt.Errorf("reply %q: want SHARE:WITHIN:BODY, e.g. 0.7:30s:1", spec)
	}
	share, err := strconv.ParseFloat(parts[0], 64)
	if err != nil || share <= 0 || share > 1 {
		return twiliosim.ReplyRule{}, fmt.Errorf("reply %q: share must be a number in (0, 1]", spec)
	}
	within, err := time.ParseDuration(parts[1])
	if err != nil || within <= 0 {
		return twiliosim.ReplyRule{}, fmt.Errorf("reply %q: within must be a duration such as 30s", spec)
	}
	if parts[2] == "" {
		return twiliosim.ReplyRule{}, fmt.Errorf("reply %q: the body is empty", spec)
	}
	return twiliosim.ReplyRule{Share: share, Within: within, Body: parts[2]}, nil
}

func runTwilioSim(parent context.Context, listen string, cfg twiliosim.Config, level string, stdout interface{ Write([]byte) (int, error) }) error {
	if parent == nil {
		parent = context.Background()
	}
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger, err := newLogger(level, os.Stderr)
	if err != nil {
		return err
	}
	cfg.Logger = logger
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	sim := twiliosim.New(cfg)
	defer sim.Close()
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	sids := make([]string, len(cfg.Accounts))
	for i, a := range cfg.Accounts {
		sids[i] = a.SID
	}
	fmt.Fprintf(stdout, "twilio simulator listening on http://%s (accounts %s); stats at /_sim/stats\n", ln.Addr(), strings.Join(sids, ", "))
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	case err := <-serveErr:
		return err
	}
}
