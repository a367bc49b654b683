package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"muster/notify"
	"muster/notify/twiliosim"
)

// twilioFlags are the flags of one Twilio account: --twilio-* for LIVE
// traffic, --exercise-twilio-* for EXERCISE and TEST traffic.
type twilioFlags struct {
	prefix     string // "twilio-" or "exercise-twilio-"
	accountSID string
	authToken  string
	from       []string
	serviceSID string
	apiURL     string
	rate       float64
	senderRate float64
}

func (t *twilioFlags) flag(name string) string { return "--" + t.prefix + name }

func (t *twilioFlags) env(name string) string { return envName(t.prefix + name) }

func (t *twilioFlags) add(f *pflag.FlagSet, purpose string) {
	p := t.prefix
	f.StringVar(&t.accountSID, p+"account-sid", "", "Twilio account SID (AC + 32 hex digits) for "+purpose+" traffic")
	f.StringVar(&t.authToken, p+"auth-token", "", "auth token of the "+purpose+" account; it also signs its webhooks (prefer env "+t.env("auth-token")+")")
	f.StringSliceVar(&t.from, p+"from", nil, purpose+" sender pool: +E164[,+E164...], used in turn")
	f.StringVar(&t.serviceSID, p+"messaging-service-sid", "", purpose+" Messaging Service SID (MG + 32 hex digits) instead of "+t.flag("from")+": Twilio picks the sender")
	f.StringVar(&t.apiURL, p+"api-url", "", "base URL of the Twilio API for the "+purpose+" account, e.g. a simulator's http://127.0.0.1:9099 (default https://api.twilio.com)")
	f.Float64Var(&t.rate, p+"rate", 100, "sends per second of the "+purpose+" account (0: unlimited)")
	f.Float64Var(&t.senderRate, p+"sender-rate", 0, "sends per second of each "+purpose+" sender number (0: unlimited)")
}

// configured reports whether an account was given.
func (t *twilioFlags) configured() bool { return t.accountSID != "" }

// check validates the flags of one account; an account that is not
// configured may still carry rates (they apply to the simulator in dev).
func (t *twilioFlags) check() error {
	if t.rate < 0 {
		return fmt.Errorf("%s %v: want sends per second, 0 for unlimited", t.flag("rate"), t.rate)
	}
	if t.senderRate < 0 {
		return fmt.Errorf("%s %v: want sends per second, 0 for unlimited", t.flag("sender-rate"), t.senderRate)
	}
	if !t.configured() {
		for _, f := range []struct {
			name string
			set  bool
		}{{"auth-token", t.authToken != ""}, {"from", len(t.from) > 0}, {"messaging-service-sid", t.serviceSID != ""}, {"api-url", t.apiURL != ""}} {
			if f.set {
				return fmt.Errorf("%s needs %s (%s)", t.flag(f.name), t.flag("account-sid"), t.env("account-sid"))
			}
		}
		return nil
	}
	switch {
	case t.authToken == "":
		return fmt.Errorf("%s needs %s (%s)", t.flag("account-sid"), t.flag("auth-token"), t.env("auth-token"))
	case len(t.from) == 0 && t.serviceSID == "":
		return fmt.Errorf("%s needs senders: %s +E164[,+E164...] or %s MG...", t.flag("account-sid"), t.flag("from"), t.flag("messaging-service-sid"))
	case len(t.from) > 0 && t.serviceSID != "":
		return fmt.Errorf("give %s or %s, not both", t.flag("from"), t.flag("messaging-service-sid"))
	case t.serviceSID != "" && t.senderRate > 0:
		return fmt.Errorf("%s needs %s: with a messaging service Twilio picks the sender", t.flag("sender-rate"), t.flag("from"))
	}
	seen := map[string]bool{}
	for _, n := range t.from {
		if !isE164(n) {
			return fmt.Errorf("%s %q: want + and 8 to 15 digits (E.164), e.g. +15005550006", t.flag("from"), n)
		}
		if seen[n] {
			return fmt.Errorf("%s: %s is listed twice", t.flag("from"), n)
		}
		seen[n] = true
	}
	tw, err := t.provider()
	if err != nil {
		return err
	}
	tw.Close()
	return nil
}

func (t *twilioFlags) provider() (*notify.Twilio, error) {
	tw, err := notify.NewTwilio(notify.TwilioConfig{AccountSID: t.accountSID, AuthToken: t.authToken, From: t.from,
		MessagingServiceSID: t.serviceSID, APIURL: t.apiURL})
	if err != nil {
		return nil, fmt.Errorf("--%s*: %w", t.prefix, err)
	}
	return tw, nil
}

func isE164(n string) bool {
	if len(n) < 9 || len(n) > 16 || n[0] != '+' || n[1] == '0' {
		return false
	}
	for _, c := range n[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// smsOpts are the SMS flags of a server: both accounts, where providers
// reach the webhooks, and the dispatcher's window.
type smsOpts struct {
	live     twilioFlags
	exercise twilioFlags
	// The fallback accounts take a purpose's sends while its account fails.
	liveFallback     twilioFlags
	exerciseFallback twilioFlags
	publicURL        string
	maxInFlight      int
	simAddr          string
}

func (s *smsOpts) add(f *pflag.FlagSet, dev bool) {
	s.live.prefix, s.exercise.prefix = "twilio-", "exercise-twilio-"
	s.liveFallback.prefix, s.exerciseFallback.prefix = "twilio-fallback-", "exercise-twilio-fallback-"
	s.live.add(f, "LIVE")
	s.exercise.add(f, "EXERCISE/TEST")
	s.liveFallback.add(f, "LIVE fallback")
	s.exerciseFallback.add(f, "EXERCISE/TEST fallback")
	f.StringVar(&s.publicURL, "public-url", "", "base URL providers post webhooks to and responders open answer links at: delivery reports and replies go to PUBLIC-URL/hooks/twilio/..., call-up SMS link to PUBLIC-URL/r/... (default: --http-advertise)")
	f.IntVar(&s.maxInFlight, "dispatch-max-inflight", 1024, "most recipients claimed and not yet resolved, per route (live, exercise); after a leader is lost at most this many per route may get their SMS twice")
	simHelp := "HOST:PORT of the built-in Twilio simulator that takes EXERCISE and TEST traffic when no --exercise-twilio-account-sid is given (port 0: any free port)"
	if dev {
		simHelp = "HOST:PORT of the built-in Twilio simulator (port 0: any free port)"
	}
	f.StringVar(&s.simAddr, "sim-addr", "127.0.0.1:0", simHelp)
}

// check validates the SMS flags before anything starts.
func (s *smsOpts) check() error {
	if err := s.live.check(); err != nil {
		return err
	}
	if err := s.exercise.check(); err != nil {
		return err
	}
	if s.live.configured() && strings.EqualFold(s.live.accountSID, s.exercise.accountSID) {
		return fmt.Errorf("--twilio-account-sid and --exercise-twilio-account-sid are both %s: drills must not share the live account", s.live.accountSID)
	}
	for _, fb := range []*twilioFlags{&s.liveFallback, &s.exerciseFallback} {
		if err := fb.check(); err != nil {
			return err
		}
	}
	// No account may serve both purposes, nor be its own fallback.
	seen := map[string]string{}
	for _, t := range []*twilioFlags{&s.live, &s.liveFallback, &s.exercise, &s.exerciseFallback} {
		if !t.configured() {
			continue
		}
		sid := strings.ToUpper(t.accountSID)
		if other, ok := seen[sid]; ok {
			return fmt.Errorf("%s and %s are both %s: every account serves one purpose, and a fallback is another account", other, t.flag("account-sid"), t.accountSID)
		}
		seen[sid] = t.flag("account-sid")
	}
	if err := s.sendersApart(); err != nil {
		return err
	}
	if s.maxInFlight <= 0 {
		return fmt.Errorf("--dispatch-max-inflight %d: want at least 1", s.maxInFlight)
	}
	if s.publicURL != "" {
		if err := checkBaseURL(s.publicURL); err != nil {
			return fmt.Errorf("--public-url %s", err)
		}
	}
	return nil
}

// sendersApart refuses a sender number or a messaging service that both a
// LIVE account (or its fallback) and an EXERCISE account (or its fallback)
// send from: a drill would reach people from the number they know as the
// live one, and a reply to either could not be told apart.
func (s *smsOpts) sendersApart() error {
	for _, l := range []*twilioFlags{&s.live, &s.liveFallback} {
		if !l.configured() {
			continue
		}
		for _, e := range []*twilioFlags{&s.exercise, &s.exerciseFallback} {
			if !e.configured() {
				continue
			}
			for _, n := range l.from {
				if slices.Contains(e.from, n) {
					return fmt.Errorf("%s and %s both list %s: drills must not send from a LIVE sender number; give the exercise account numbers of its own", l.flag("from"), e.flag("from"), n)
				}
			}
			if l.serviceSID != "" && strings.EqualFold(l.serviceSID, e.serviceSID) {
				return fmt.Errorf("%s and %s are both %s: drills must not send through the LIVE messaging service; give the exercise account a service of its own", l.flag("messaging-service-sid"), e.flag("messaging-service-sid"), l.serviceSID)
			}
		}
	}
	return nil
}

func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q: want http(s)://host[:port][/path]", raw)
	}
	return nil
}

// The built-in simulator's accounts: one for LIVE traffic (muster dev only)
// and one for EXERCISE and TEST, so a drill never shares an account.
var (
	devLive     = twiliosim.Account{SID: "AC00000000000000000000000000000001", AuthToken: "devlivetoken", Number: "+15005550006"}
	devExercise = twiliosim.Account{SID: "AC00000000000000000000000000000002", AuthToken: "devexercisetoken", Number: "+15005550007"}
)

// devReplies is how the people of muster dev answer: most confirm, some
// decline, the rest stay silent.
var devReplies = []twiliosim.ReplyRule{
	{Share: 0.7, Within: 30 * time.Second, Body: "1"},
	{Share: 0.1, Within: 60 * time.Second, Body: "2 家中有事"},
}

// smsWiring is how one node sends SMS and takes provider webhooks: the
// dispatcher's routes, the senders previews show, the auth tokens webhooks
// are checked with, and the built-in simulator when one runs.
type smsWiring struct {
	dispatch  notify.DispatcherConfig
	senders   notify.Senders
	tokens    map[string]string
	sim       *devSim
	simUses   []string // "LIVE AC…": the purposes the simulator takes
	providers []*notify.Twilio
}

// newSMSWiring builds the routes of o (checked by smsOpts.check). In dev the
// built-in simulator backs both routes unless flags name real accounts; an
// agent without an exercise account sends drills to a built-in simulator
// of its own, never to the live account (it warns that they reach no
// phone, naming the flags to give), and one without a live account sends
// no LIVE message (while it leads, LIVE call-ups are refused). Each route
// is logged and printed on stdout.
func newSMSWiring(o *serverOpts, publicURL string, logger *slog.Logger, stdout io.Writer) (_ *smsWiring, err error) {
	s := &o.sms
	w := &smsWiring{tokens: map[string]string{}}
	defer func() {
		if err != nil {
			w.Close()
		}
	}()
	w.dispatch = notify.DispatcherConfig{PublicURL: publicURL, MaxInFlight: s.maxInFlight, Logger: logger}

	var simAccounts []twiliosim.Account
	switch {
	case o.dev:
		simAccounts = []twiliosim.Account{devLive, devExercise}
	case !s.exercise.configured():
		simAccounts = []twiliosim.Account{{SID: devExercise.SID, AuthToken: simToken(o.clusterKey), Number: devExercise.Number}}
	}
	if len(simAccounts) > 0 {
		inbound := strings.TrimRight(publicURL, "/") + "/hooks/twilio/sms-inbound"
		cfg := twiliosim.Config{CallbackAttempts: 8, Logger: logger.With("component", "twilio-sim")}
		if o.dev {
			cfg.Replies = devReplies
		}
		for _, a := range simAccounts {
			a.InboundURL = inbound
			cfg.Accounts = append(cfg.Accounts, a)
		}
		if w.sim, err = startSimulator(s.simAddr, cfg); err != nil {
			return nil, err
		}
		logger.Info("built-in Twilio simulator", "url", w.sim.url, "replies_to", inbound)
	}

	say := func(r *notify.Route, info notify.SendInfo, via string) {
		logger.Info("SMS route", "purpose", strings.ToUpper(r.Name), "account", r.Account, "via", via, "senders", info.Sender,
			"per_second", r.PerSecond, "per_sender", r.PerSender)
		fmt.Fprintf(stdout, "%s SMS: account %s, sender %s, via %s\n", strings.ToUpper(r.Name), r.Account, info.Sender, via)
	}
	if s.live.configured() || o.dev {
		r, info, via, err := w.route(&s.live, "live", false, devLive)
		if err != nil {
			return nil, err
		}
		w.dispatch.Live, w.senders.Live = r, info
		say(r, info, via)
		if err := w.fallback(r, &s.liveFallback, say); err != nil {
			return nil, err
		}
	} else if s.liveFallback.configured() {
		return nil, usageErrorf("%s without --twilio-account-sid: a fallback takes over from the LIVE account while it fails, and there is none; "+
			"give the LIVE account too, or this one as --twilio-account-sid", s.liveFallback.flag("account-sid"))
	} else {
		w.senders.Live = notify.SendInfo{Account: "(no LIVE SMS account configured on this node: while it leads, LIVE call-ups are refused)"}
		w.senders.NoLive = true
		logger.Warn("no LIVE SMS account (--twilio-account-sid, --twilio-auth-token, --twilio-from): while this node leads, LIVE activations and approvals are refused, " +
			"LIVE call-ups already open keep their messages pending, and the commanders of a warning left unanswered are not texted (未能叫应, recorded in the warning)")
	}
	exSim := devExercise
	if len(simAccounts) > 0 {
		exSim = simAccounts[len(simAccounts)-1]
	}
	r, info, via, err := w.route(&s.exercise, "exercise", true, exSim)
	if err != nil {
		return nil, err
	}
	w.dispatch.Exercise, w.senders.Exercise = r, info
	say(r, info, via)
	if r.Simulated && !o.dev {
		logger.Warn("no EXERCISE SMS account: drills and every EXERCISE or TEST call-up go to the built-in simulator and reach no phone "+
			"(演练短信经模拟器发送，不会到达任何手机); their status and reports say so, and their runs do not count as drills held. "+
			"To reach people's phones in drills, start every member with the exercise account: "+
			s.exercise.flag("account-sid")+", "+s.exercise.flag("auth-token")+" and "+s.exercise.flag("from")+" (or "+s.exercise.flag("messaging-service-sid")+")",
			"simulator", w.sim.url)
	}
	if err := w.fallback(r, &s.exerciseFallback, say); err != nil {
		return nil, err
	}
	if l := w.dispatch.Live; l != nil && strings.EqualFold(l.Account, r.Account) {
		return nil, usageErrorf("LIVE and EXERCISE traffic would both use account %s (one of them the built-in simulator's): give the other purpose its own account", l.Account)
	}
	return w, nil
}

// fallback gives route r its fallback account when t names one.
func (w *smsWiring) fallback(r *notify.Route, t *twilioFlags, say func(*notify.Route, notify.SendInfo, string)) error {
	if !t.configured() {
		return nil
	}
	fb, info, via, err := w.route(t, r.Name+"-fallback", r.Exercise, twiliosim.Account{})
	if err != nil {
		return err
	}
	r.Fallback = fb
	say(fb, info, via)
	return nil
}

// exerciseAccounts are the accounts whose webhooks only concern drills.
func (w *smsWiring) exerciseAccounts() []string {
	out := []string{w.dispatch.Exercise.Account}
	if fb := w.dispatch.Exercise.Fallback; fb != nil {
		out = append(out, fb.Account)
	}
	return out
}

// route builds the route of one purpose on its flags' account, or on the
// simulator's account sim when the flags name none, and records the
// account's webhook token.
func (w *smsWiring) route(t *twilioFlags, name string, exercise bool, sim twiliosim.Account) (*notify.Route, notify.SendInfo, string, error) {
	r := &notify.Route{Name: name, Exercise: exercise, PerSecond: t.rate, PerSender: t.senderRate}
	var (
		tw    *notify.Twilio
		err   error
		token string
		via   string
	)
	if t.configured() {
		r.Account, r.Senders, token = t.accountSID, t.from, t.authToken
		via = "Twilio API " + orDefault(t.apiURL, "https://api.twilio.com")
		tw, err = t.provider()
	} else {
		r.Account, r.Senders, token = sim.SID, []string{sim.Number}, sim.AuthToken
		r.Simulated = true
		via = "built-in simulator " + w.sim.url + " (nothing reaches a phone)"
		w.simUses = append(w.simUses, strings.ToUpper(name)+" "+sim.SID) // labelled as purposes are
		tw, err = notify.NewTwilio(notify.TwilioConfig{AccountSID: sim.SID, AuthToken: sim.AuthToken, From: r.Senders, APIURL: w.sim.url})
	}
	if err != nil {
		return nil, notify.SendInfo{}, "", err
	}
	r.Provider = tw
	w.providers = append(w.providers, tw)
	w.tokens[r.Account] = token
	info := notify.SendInfo{Account: r.Account, Sender: orDefault(strings.Join(r.Senders, ","), t.serviceSID), PerSecond: sendRate(r)}
	if !t.configured() {
		info.Account += " (built-in simulator)"
	}
	return r, info, via, nil
}

// sendRate is how many SMS per second a route sends at most: its account
// rate, or all its senders at their own rate if that is lower; 0 when
// neither limits it.
func sendRate(r *notify.Route) float64 {
	if r.PerSender > 0 && len(r.Senders) > 0 {
		if s := r.PerSender * float64(len(r.Senders)); r.PerSecond <= 0 || s < r.PerSecond {
			return s
		}
	}
	return r.PerSecond
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// simToken is the auth token of an agent's built-in exercise simulator.
// Every node of a cluster derives the same one from the cluster key, so any
// node can check the webhooks of whichever node led; it is secret as the
// key is. Without a key (a single node) it is random.
func simToken(clusterKey string) string {
	if clusterKey == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		return hex.EncodeToString(b[:])
	}
	m := hmac.New(sha256.New, []byte(clusterKey))
	m.Write([]byte("muster built-in exercise simulator"))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// Close releases the providers' connections and stops the simulator. Call
// it after the dispatcher has stopped (the node is closed).
func (w *smsWiring) Close() {
	for _, p := range w.providers {
		p.Close()
	}
	if w.sim != nil {
		w.sim.Close()
	}
}

// devSim is the built-in simulator served on its own listener.
type devSim struct {
	sim  *twiliosim.Server
	srv  *http.Server
	url  string
	done chan struct{} // closed when Serve has returned
}

// startSimulator serves a Twilio simulator on addr.
func startSimulator(addr string, cfg twiliosim.Config) (*devSim, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("twilio simulator: listen on %s: %w", addr, err)
	}
	u := "http://" + ln.Addr().String()
	cfg.PublicURL = u
	sim := twiliosim.New(cfg)
	d := &devSim{sim: sim, srv: &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}, url: u, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		if err := d.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Logger.Error("twilio simulator stopped serving", "err", err)
		}
	}()
	return d, nil
}

// Close stops serving, waits for the server, and stops the simulator.
func (d *devSim) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = d.srv.Shutdown(ctx)
	<-d.done
	d.sim.Close()
}

// voiceRoute is the voice counterpart of an SMS route: calls go out on the
// same account when its provider can place them. nil when it cannot.
func voiceRoute(r *notify.Route) *notify.VoiceRoute {
	if r == nil {
		return nil
	}
	caller, ok := r.Provider.(notify.Caller)
	if !ok {
		return nil
	}
	return &notify.VoiceRoute{Name: r.Name, Account: r.Account, Caller: caller, Exercise: r.Exercise, PerSecond: r.PerSecond}
}
