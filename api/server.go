// Package api is muster's HTTP surface: the JSON API under /api/v1, health,
// readiness and metrics endpoints, the provider webhooks under /hooks/, the
// web console at / (console.go), the responders' answer page under /r/
// (responder.go), and the node-to-node endpoints of the cluster mounted
// under /internal/. It is strictly HTTP: it authenticates,
// checks roles, decodes and validates the shape of requests, calls the
// services it is given and maps their errors to statuses in one place.
package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"muster"
	"muster/access"
	"muster/cluster"
	twimlpkg "muster/notify/twiml"
)

// Defaults for Config's zero values.
const (
	DefaultMaxBody = 1 << 20 // bytes of request body on /api/v1
	DefaultMaxLag  = 1000    // entries the local state may trail the commit index and still be ready
)

// Config configures a Server. Zero values take the defaults noted.
type Config struct {
	Logger *slog.Logger // default slog.Default()

	// MaxBody bounds request bodies on /api/v1 (default DefaultMaxBody).
	// Route groups that take larger uploads set their own limit.
	MaxBody int64
	// MaxLag is how far behind the commit index the node's state may be for
	// /readyz to answer 200 (default DefaultMaxLag).
	MaxLag uint64
	// Metrics is what /metrics exposes. The caller registers the node's
	// collector and the Go and process collectors in it; nil serves an
	// empty registry.
	Metrics prometheus.Gatherer
	// MetricsNeedToken makes /metrics take a muster token with the read
	// permission (any role but feed: a viewer's will do) as the API does;
	// false serves it to anyone who can reach the port.
	MetricsNeedToken bool
	// TrustedProxies are the proxies whose X-Forwarded-For is believed for
	// the client address in logs; empty trusts none.
	TrustedProxies []string
	// BackupDir holds a backup while it is being sent (default os.TempDir()).
	BackupDir string
	// PublicURL is the base URL providers were given for webhooks
	// (--public-url); signatures are checked against it. Empty: the URL
	// each request came to.
	PublicURL string
	// CAPSender is the <sender> of the CAP alerts muster serves (default
	// DefaultCAPSender), such as a domain name of the city's emergency
	// office. Give every node the same one: it is part of each alert's
	// identity, which receivers match updates and cancels by.
	CAPSender string
	// CAPZone is the location CAP timestamps are written in (default
	// Asia/Shanghai, China Standard Time, +08:00).
	CAPZone *time.Location
	// Voices read voice calls, by the language a person is called in
	// (default twiml.DefaultVoice: Polly.Zhiyu, Polly.Joanna).
	Voices twimlpkg.Voices
	// Clock stamps boards with the time they are read at (default the
	// system clock; tests move one by hand).
	Clock muster.Clock
}

// Cluster is what api needs of the local cluster node (cluster.Node).
type Cluster interface {
	Status() cluster.Status
	Ready(maxLag uint64) (bool, string)
	// JoinByHand and RemoveMember record actor (RemoveRequest.Actor), the
	// token's name, as who changed the membership.
	JoinByHand(ctx context.Context, actor string, info cluster.NodeInfo) error
	RemoveMember(ctx context.Context, req cluster.RemoveRequest) error
	InternalHandler() http.Handler
	// RecordBackup records in the audit chain that actor took a copy of
	// this node's state at raft index applied (GET /api/v1/backup).
	RecordBackup(ctx context.Context, actor string, applied uint64) error
	// Audit reads the audit chain (GET /api/v1/audit).
	Audit(ctx context.Context, level muster.Consistency, after uint64, limit int) ([]cluster.AuditEntry, cluster.AuditHead, error)
	// CutAudit cuts the oldest entries of the audit chain (POST /api/v1/audit/cut).
	CutAudit(ctx context.Context, actor string, req cluster.AuditCutRequest) (cluster.AuditCutResult, error)
}

// StateBackup writes a consistent copy of the state file (cluster.FSM).
type StateBackup interface {
	Backup(w io.Writer) (uint64, error)
}

// Tokens is what api needs of token management (access.Service).
type Tokens interface {
	Authenticate(ctx context.Context, secret string) (access.Identity, error)
	CreateToken(ctx context.Context, actor string, req access.NewToken) (string, access.Token, error)
	List(ctx context.Context, level muster.Consistency) ([]access.Token, error)
	Revoke(ctx context.Context, actor string, id access.TokenID) error
}

// Deps are the services a Server calls. Cluster and Tokens are required;
// without Backup, GET /api/v1/backup fails with an internal error.
type Deps struct {
	Cluster Cluster     // the local node
	Backup  StateBackup // the local node's FSM
	Tokens  Tokens      // access.Service
	Plans   Plans       // plans.Service: regions, people, imports, plans
	// Activations is notify.Service: activations and region modes.
	Activations Activations
	// Webhooks takes provider webhooks; nil answers them 503.
	Webhooks Webhooks
	// Warnings is plans.WarningService; nil answers /warnings 503.
	Warnings Warnings
	// Drills is drills.Service; nil answers /drills and /drill-runs 503.
	Drills Drills
}

// Server routes HTTP requests to muster's services.
type Server struct {
	cfg    Config
	deps   Deps
	logger *slog.Logger
	engine *gin.Engine

	// actions records the action each authenticated route requires
	// ("" for one every token may use), keyed by "METHOD /full/path", so
	// tests can hold the OpenAPI document to it and whoami says what the
	// routes allow.
	actions map[string]access.Action

	// webhooks counts provider webhooks by route and HTTP status: taken
	// ones are not logged one by one.
	webhooks *prometheus.CounterVec

	// statuses and watches share the reads of an activation's status,
	// without and with its board, among the requests and event streams
	// that may take them.
	statuses *sharedReads[streamStatus]
	watches  *sharedReads[streamStatus]
}

// New builds a Server and its routes.
func New(cfg Config, deps Deps) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxLag == 0 {
		cfg.MaxLag = DefaultMaxLag
	}
	if cfg.Metrics == nil {
		cfg.Metrics = prometheus.NewRegistry()
	}
	if cfg.BackupDir == "" {
		cfg.BackupDir = os.TempDir()
	}
	if cfg.CAPSender == "" {
		cfg.CAPSender = DefaultCAPSender
	}
	if cfg.CAPZone == nil {
		cfg.CAPZone = chinaStandardTime()
	}
	if cfg.Clock == nil {
		cfg.Clock = muster.SystemClock{}
	}
	s := &Server{cfg: cfg, deps: deps, logger: cfg.Logger, actions: map[string]access.Action{},
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "muster_webhooks_total",
			Help: "Provider webhooks answered by this node, by route and HTTP status.",
		}, []string{"route", "code"})}
	waiting := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "muster_api_shared_read_waiters",
		Help: "Requests and event streams of this node waiting now for a shared read of an activation's status (read=status) or status and board (read=board).",
	}, []string{"read"})
	s.statuses = newSharedReads(s.readStatus(false), waiting.WithLabelValues("status"))
	s.watches = newSharedReads(s.readStatus(true), waiting.WithLabelValues("board"))
	// /metrics shows the webhook counts and the shared reads' waiters when
	// it gathers from a registry this server may add to (the caller's, or
	// its own default).
	if r, ok := cfg.Metrics.(prometheus.Registerer); ok {
		for _, c := range []prometheus.Collector{s.webhooks, waiting} {
			if err := r.Register(c); err != nil {
				s.logger.Warn("a metric is not exposed", "err", err)
			}
		}
	}
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	if err := e.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		s.logger.Warn("ignoring bad trusted proxies", "err", err)
		_ = e.SetTrustedProxies(nil)
	}
	e.Use(s.recoverPanics, s.logRequests)
	e.NoRoute(func(c *gin.Context) {
		s.writeError(c, muster.Errorf(muster.ENotFound, "no route %s %s", c.Request.Method, c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		s.writeError(c, &muster.Error{
			Code:    codeMethodNotAllowed,
			Message: "method " + c.Request.Method + " is not allowed on " + c.Request.URL.Path + "; allowed: " + c.Writer.Header().Get("Allow"),
		})
	})
	s.engine = e
	s.routes()
	return s
}

// chinaStandardTime is Asia/Shanghai, or the same fixed +08:00 offset when
// the binary has no time zone database (China has kept +08:00 all year
// since 1991).
func chinaStandardTime() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*60*60)
}

// Handler is the Server's http.Handler.
func (s *Server) Handler() http.Handler { return s.engine }
