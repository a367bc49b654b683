package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"muster"
	"muster/access"
)

// Keys of the values middleware leaves in the gin context.
type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyIdentity
	keyConsistency
)

// RequestIDHeader carries the request ID: taken from the request when it is
// well formed, generated otherwise, and always echoed in the response.
const RequestIDHeader = "X-Request-ID"

// recoverPanics turns a panic in any later handler into a logged 500 in the error
// shape. http.ErrAbortHandler keeps its meaning (abort the connection).
func (s *Server) recoverPanics(c *gin.Context) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		s.logger.Error("panic serving request", "request_id", requestID(c), "method", c.Request.Method,
			"path", c.Request.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		if c.Writer.Written() {
			c.Abort()
			return
		}
		s.writeError(c, fmt.Errorf("panic: %v", v))
	}()
	c.Next()
}

// logRequests assigns the request ID and writes one access log line per
// request. Probes, scrapes and node-to-node calls log at debug level.
func (s *Server) logRequests(c *gin.Context) {
	start := time.Now()
	id := c.GetHeader(RequestIDHeader)
	if !validRequestID(id) {
		id = newRequestID()
	}
	c.Set(keyRequestID, id)
	c.Header(RequestIDHeader, id)

	c.Next()

	path := c.Request.URL.Path
	if strings.HasPrefix(path, "/hooks/") {
		route := c.FullPath()
		if route == "" {
			route = "none"
		}
		s.webhooks.WithLabelValues(route, strconv.Itoa(c.Writer.Status())).Inc()
	}
	level := slog.LevelInfo
	switch {
	case c.Writer.Status() >= 500:
		level = slog.LevelWarn
	case strings.HasPrefix(path, "/internal/"), path == "/healthz", path == "/readyz", path == "/metrics":
		level = slog.LevelDebug
	case strings.HasPrefix(path, "/hooks/") && c.Writer.Status() < 400:
		// A call-up of a million brings three million delivery reports and
		// replies: taken ones are counted (muster_webhooks_total) and only
		// refused ones (bad signature, unknown account) are logged.
		level = slog.LevelDebug
	}
	if !s.logger.Enabled(c.Request.Context(), level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("request_id", id),
		slog.String("method", c.Request.Method),
		slog.String("path", path),
		slog.String("route", c.FullPath()),
		slog.Int("status", c.Writer.Status()),
		slog.Int("bytes", max(c.Writer.Size(), 0)),
		slog.Duration("duration", time.Since(start)),
		slog.String("client", c.ClientIP()),
	}
	if who, ok := c.Get(keyIdentity); ok {
		attrs = append(attrs, slog.String("token", string(who.(access.Identity).TokenID)))
	}
	s.logger.LogAttrs(c.Request.Context(), level, "http request", attrs...)
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestID is the request's ID, or "" before logRequests ran.
func requestID(c *gin.Context) string {
	id, _ := c.Get(keyRequestID)
	s, _ := id.(string)
	return s
}

// limitBody refuses bodies over n bytes: at once when Content-Length says
// so, and while reading otherwise (decodeJSON reports it as too_large).
func limitBody(s *Server, n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > n {
			s.writeError(c, tooLarge(n))
			return
		}
		if c.Request.Body != nil {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		}
		c.Next()
	}
}

func tooLarge(n int64) error {
	return muster.Errorf(muster.ETooLarge, "request body over the limit of %d bytes here", n)
}

// authenticate requires "Authorization: Bearer <token>" and records who the
// token belongs to.
func (s *Server) authenticate(c *gin.Context) {
	secret, err := bearerSecret(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default: // a write: not under a token revoked on the leader but not yet here
		ctx = access.ForWrite(ctx)
	}
	who, err := s.deps.Tokens.Authenticate(ctx, secret)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Set(keyIdentity, who)
	c.Next()
}

// bearerSecret is the token secret of "Authorization: Bearer <token>", or
// an EUnauthorized error saying what the header lacks.
func bearerSecret(c *gin.Context) (string, error) {
	h := c.GetHeader("Authorization")
	if h == "" {
		return "", muster.Errorf(muster.EUnauthorized, "missing Authorization header: send \"Authorization: Bearer %s...\"", access.SecretPrefix)
	}
	scheme, secret, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", muster.Errorf(muster.EUnauthorized, "Authorization header must be \"Bearer <token>\"")
	}
	return strings.TrimSpace(secret), nil
}

// stillAuthorized checks again, for a long-lived request (an event
// stream), that the token it was made with still exists and may take a:
// an EUnauthorized or EForbidden error once it was revoked. Other errors
// (the cluster cannot be read just now) are returned as they are; the
// caller decides whether to go on.
func (s *Server) stillAuthorized(c *gin.Context, a access.Action) error {
	secret, err := bearerSecret(c)
	if err != nil {
		return err
	}
	who, err := s.deps.Tokens.Authenticate(c.Request.Context(), secret)
	if muster.IsCode(err, muster.EUnauthorized) {
		return muster.Errorf(muster.EUnauthorized, "token %q was revoked while this stream was open: sign in again", identity(c).Name)
	} else if err != nil {
		return err
	}
	if !access.Allowed(who.Role, a) {
		return muster.Errorf(muster.EForbidden, "token %q (role %s) lacks the %s permission this stream needs", who.Name, who.Role, a)
	}
	return nil
}

// identity is who made the request; only valid behind authenticate.
func identity(c *gin.Context) access.Identity {
	who, _ := c.Get(keyIdentity)
	id, _ := who.(access.Identity)
	return id
}

// readConsistency parses ?consistency= once for the handlers.
func (s *Server) readConsistency(c *gin.Context) {
	level, err := muster.ParseConsistency(c.Query("consistency"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Set(keyConsistency, level)
	c.Next()
}

// consistency is the read consistency the request asked for (default when
// it did not say).
func consistency(c *gin.Context) muster.Consistency {
	v, _ := c.Get(keyConsistency)
	if level, ok := v.(muster.Consistency); ok {
		return level
	}
	return muster.Default
}

// require lets the request through only if the caller's role may take a.
func (s *Server) require(a access.Action) gin.HandlerFunc {
	return func(c *gin.Context) {
		who := identity(c)
		if !access.Allowed(who.Role, a) {
			s.writeError(c, muster.Errorf(muster.EForbidden, "token %q (role %s) lacks the %s permission this request needs%s", who.Name, who.Role, a, forbiddenHint(who.Role, c.FullPath())))
			return
		}
		c.Next()
	}
}

// forbiddenHint is what a refusal of the route at path tells a role that
// has another way to do what it asked: a trainer stopping or retracting a
// call-up is pointed to its drill run's. "" when there is none.
func forbiddenHint(r access.Role, path string) string {
	if r != access.Trainer {
		return ""
	}
	switch path {
	case "/api/v1/activations/:id/stand-down":
		return ": a trainer ends a drill with muster drill stand-down RUN (POST /api/v1/drill-runs/RUN/stand-down), which stands its call-up down; any other call-up is stood down by a commander"
	case "/api/v1/activations/:id/retract":
		return ": a trainer retracts a drill with muster drill retract RUN (POST /api/v1/drill-runs/RUN/retract); any other call-up is retracted by a commander"
	}
	return ""
}
