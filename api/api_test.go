package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/access"
	"muster/api"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/drills"
	"muster/notify"
	"muster/plans"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode) // the test binary's main; the server itself never sets it
	os.Exit(m.Run())
}

// fixture is a real cluster whose nodes serve the real api handler: the
// handler answers test requests through httptest and peers' node-to-node
// calls through the member's listener.
type fixture struct {
	t        testing.TB
	c        *clustertest.Cluster
	mu       sync.Mutex
	handlers map[string]http.Handler // by node ID
	root     string                  // the bootstrap admin secret
	backups  string                  // the api's BackupDir
	// noLiveSMS makes the nodes started (or restarted) from now on nodes
	// without a LIVE SMS account (cluster.Config.NoLiveSMS).
	noLiveSMS atomic.Bool
}

func newFixture(t testing.TB, nodes int) *fixture {
	t.Helper()
	return newFixtureWith(t, nodes, nil, "")
}

// newFixtureWith is a fixture of nodes. With clk, the cluster stamps
// commands with it and the API serves warnings (answer time 10 minutes,
// read on clk); without, it has no warnings service. capSender is the CAP
// sender ("" for the default).
func newFixtureWith(t testing.TB, nodes int, clk muster.Clock, capSender string) *fixture {
	t.Helper()
	return newFixtureRules(t, nodes, clk, capSender, 0)
}

// newFixtureRules is newFixtureWith whose nodes implement state-machine
// rules up to rules (0: this muster's): a cluster of an older muster.
func newFixtureRules(t testing.TB, nodes int, clk muster.Clock, capSender string, rules int) *fixture {
	t.Helper()
	f := &fixture{t: t, handlers: map[string]http.Handler{}}
	f.backups = t.TempDir()
	f.c = clustertest.New(t, nodes, clustertest.Options{
		Setup: func(_ int, n *cluster.Node) {
			access.Register(n)
			plans.Register(n)
			notify.Register(n)
			drills.Register(n)
		},
		Config: func(_ int, c *cluster.Config) {
			if clk != nil {
				c.Clock = clk
			}
			c.Rules = rules
			c.NoLiveSMS = f.noLiveSMS.Load()
		},
		Handler: func(_ int, n *cluster.Node) http.Handler {
			reg := prometheus.NewRegistry()
			reg.MustRegister(n.Collector())
			var warnings api.Warnings
			var drillSvc api.Drills
			if clk != nil {
				drillSvc = drills.NewService(n, n, clk)
				ws := plans.NewWarningService(n, n, plans.WarningConfig{Clock: clk, ResponseTimeout: 10 * time.Minute})
				reg.MustRegister(ws.Collector())
				warnings = ws
			}
			acts := notify.NewService(n, n, testSenders)
			acts.Clock = clk // reads see approval windows by the clock that stamps commands
			acts.LeaderWithoutLiveSMS = n.LeaderWithoutLiveSMS
			h := api.New(api.Config{
				Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
				Metrics:   reg,
				BackupDir: f.backups,
				CAPSender: capSender,
			}, api.Deps{Cluster: n, Backup: n.FSM(), Tokens: access.NewService(n, n), Plans: plans.NewService(n, n),
				Activations: acts, Warnings: warnings, Drills: drillSvc}).Handler()
			f.mu.Lock()
			f.handlers[n.ID()] = h
			f.mu.Unlock()
			return h
		},
	})
	root, created, err := f.tokens(f.c.Leader()).Bootstrap(ctx(t), "")
	require.NoError(t, err)
	require.True(t, created)
	f.root = root
	return f
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func (f *fixture) tokens(m *clustertest.Member) *access.Service {
	return access.NewService(m.Node, m.Node)
}

func (f *fixture) handler(m *clustertest.Member) http.Handler {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.handlers[m.Node.ID()]
}

// tokenCount is the number of tokens, read through the leader.
func (f *fixture) tokenCount() int {
	f.t.Helper()
	toks, err := f.tokens(f.c.WaitLeader(10*time.Second)).List(ctx(f.t), muster.Linearizable)
	require.NoError(f.t, err)
	return len(toks)
}

// response is a recorded answer.
type response struct {
	*httptest.ResponseRecorder
}

// errorBody decodes the one error shape, failing the test if the body has
// any other shape.
func (r response) errorBody(t *testing.T) muster.Error {
	t.Helper()
	var body map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(r.Body.Bytes(), &body), "error body is JSON: %s", r.Body)
	require.Len(t, body, 1, "error body has only the error key: %s", r.Body)
	var e muster.Error
	dec := json.NewDecoder(bytes.NewReader(body["error"]))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&e), "error object: %s", r.Body)
	require.NotEmpty(t, e.Code)
	require.NotEmpty(t, e.Message)
	return e
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Body.Bytes(), v), "body: %s", r.Body)
}

// request is one call to the api.
type request struct {
	method, path, token string
	body                io.Reader
	header              map[string]string
	chunked             bool // send without a Content-Length
}

func do(t testing.TB, h http.Handler, r request) response {
	t.Helper()
	req := httptest.NewRequest(r.method, r.path, r.body)
	c, cancel := context.WithTimeout(req.Context(), 30*time.Second)
	defer cancel()
	req = req.WithContext(c)
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	if r.chunked {
		req.ContentLength = -1
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{rec}
}

func jsonBody(v any) io.Reader {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return bytes.NewReader(b)
}

// createToken issues a token through the API and returns its secret.
// createToken makes a token with admin's; holder, when given, names the
// person it is issued to.
func createToken(t testing.TB, h http.Handler, admin, name string, role access.Role, holder ...string) (string, access.Token) {
	t.Helper()
	body := map[string]string{"name": name, "role": string(role)}
	if len(holder) > 0 {
		body["holder"] = holder[0]
	}
	res := do(t, h, request{method: "POST", path: "/api/v1/tokens", token: admin, body: jsonBody(body)})
	require.Equal(t, http.StatusCreated, res.Code, "create token: %s", res.Body)
	var got struct {
		access.Token
		Secret string `json:"secret"`
	}
	res.decode(t, &got)
	require.True(t, strings.HasPrefix(got.Secret, access.SecretPrefix))
	assert.Equal(t, "/api/v1/tokens/"+string(got.ID), res.Header().Get("Location"))
	assert.Equal(t, "no-store", res.Header().Get("Cache-Control"))
	return got.Secret, got.Token
}

func TestBadRequestsAreRefusedAndChangeNothing(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	viewer, _ := createToken(t, h, f.root, "viewer", access.Viewer)
	_, op := createToken(t, h, f.root, "operator", access.Operator)
	before := f.tokenCount()
	require.Equal(t, 3, before)

	huge := `{"name":"` + strings.Repeat("x", 2<<20) + `","role":"viewer"}`
	rootID, err := f.tokens(f.c.Nodes[0]).Authenticate(ctx(t), f.root)
	require.NoError(t, err)

	tests := []struct {
		name   string
		req    request
		status int
		code   string
	}{
		{"no token", request{method: "GET", path: "/api/v1/cluster/status"}, 401, muster.EUnauthorized},
		{"unknown token", request{method: "GET", path: "/api/v1/cluster/status", token: "mst_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, 401, muster.EUnauthorized},
		{"not a muster token", request{method: "GET", path: "/api/v1/tokens", token: "hunter2"}, 401, muster.EUnauthorized},
		{"basic auth", request{method: "GET", path: "/api/v1/tokens", header: map[string]string{"Authorization": "Basic YWRtaW46YWRtaW4="}}, 401, muster.EUnauthorized},
		{"no token on a write", request{method: "POST", path: "/api/v1/tokens", body: jsonBody(map[string]string{"name": "x", "role": "admin"})}, 401, muster.EUnauthorized},
		{"viewer creates a token", request{method: "POST", path: "/api/v1/tokens", token: viewer, body: jsonBody(map[string]string{"name": "x", "role": "admin"})}, 403, muster.EForbidden},
		{"viewer lists tokens", request{method: "GET", path: "/api/v1/tokens", token: viewer}, 403, muster.EForbidden},
		{"viewer revokes a token", request{method: "DELETE", path: "/api/v1/tokens/" + string(op.ID), token: viewer}, 403, muster.EForbidden},
		{"viewer takes a backup", request{method: "GET", path: "/api/v1/backup", token: viewer}, 403, muster.EForbidden},
		{"viewer removes a node", request{method: "POST", path: "/api/v1/cluster/remove", token: viewer, body: jsonBody(map[string]string{"id": "node0"})}, 403, muster.EForbidden},
		{"body over the limit", request{method: "POST", path: "/api/v1/tokens", token: f.root, body: strings.NewReader(huge)}, 413, muster.ETooLarge},
		{"body over the limit, no length", request{method: "POST", path: "/api/v1/tokens", token: f.root, body: strings.NewReader(huge), chunked: true}, 413, muster.ETooLarge},
		{"body over the limit, no token", request{method: "POST", path: "/api/v1/tokens", body: strings.NewReader(huge)}, 413, muster.ETooLarge},
		{"unknown api route", request{method: "GET", path: "/api/v1/nothing-here", token: f.root}, 404, muster.ENotFound},
		{"unknown route", request{method: "GET", path: "/nothing-here"}, 404, muster.ENotFound},
		{"wrong method", request{method: "PUT", path: "/api/v1/tokens", token: f.root, body: jsonBody(map[string]string{})}, 405, "method_not_allowed"},
		{"bad consistency", request{method: "GET", path: "/api/v1/tokens?consistency=strong", token: f.root}, 400, muster.EInvalid},
		{"bad consistency on a write", request{method: "POST", path: "/api/v1/tokens?consistency=eventually", token: f.root, body: jsonBody(map[string]string{"name": "x", "role": "viewer"})}, 400, muster.EInvalid},
		{"limit zero", request{method: "GET", path: "/api/v1/tokens?limit=0", token: f.root}, 400, muster.EInvalid},
		{"limit too big", request{method: "GET", path: "/api/v1/tokens?limit=1001", token: f.root}, 400, muster.EInvalid},
		{"limit not a number", request{method: "GET", path: "/api/v1/tokens?limit=ten", token: f.root}, 400, muster.EInvalid},
		{"empty body", request{method: "POST", path: "/api/v1/tokens", token: f.root, body: strings.NewReader("")}, 400, muster.EInvalid},
		{"broken JSON", request{method: "POST", path: "/api/v1/tokens", token: f.root, body: strings.NewReader(`{"name":`)}, 400, muster.EInvalid},
		{"unknown field", request{method: "POST", path: "/api/v1/tokens", token: f.root, body: strings.NewReader(`{"name":"x","role":"viewer","admin":true}`)}, 400, muster.EInvalid},
		{"trailing data", request{method: "POST", path: "/api/v1/tokens", token: f.root, body: strings.NewReader(`{"name":"x","role":"viewer"} {}`)}, 400, muster.EInvalid},
		{"wrong type", request{method: "POST", path: "/api/v1/tokens", token: f.root, body: strings.NewReader(`{"name":7,"role":"viewer"}`)}, 400, muster.EInvalid},
		{"a key twice", request{method: "POST", path: "/api/v1/tokens", token: f.root, body: strings.NewReader(`{"name":"x","role":"viewer","role":"admin"}`)}, 400, muster.EInvalid},
		{"a key twice, in another case", request{method: "POST", path: "/api/v1/tokens", token: f.root, body: strings.NewReader(`{"name":"x","role":"viewer","ROLE":"admin"}`)}, 400, muster.EInvalid},
		{"an array", request{method: "POST", path: "/api/v1/tokens", token: f.root, body: strings.NewReader(`[{"name":"x","role":"viewer"}]`)}, 400, muster.EInvalid},
		{"null", request{method: "POST", path: "/api/v1/tokens", token: f.root, body: strings.NewReader(`null`)}, 400, muster.EInvalid},
		{"missing role", request{method: "POST", path: "/api/v1/tokens", token: f.root, body: jsonBody(map[string]string{"name": "x"})}, 400, muster.EInvalid},
		{"unknown role", request{method: "POST", path: "/api/v1/tokens", token: f.root, body: jsonBody(map[string]string{"name": "x", "role": "root"})}, 400, muster.EInvalid},
		{"empty name", request{method: "POST", path: "/api/v1/tokens", token: f.root, body: jsonBody(map[string]string{"name": "", "role": "viewer"})}, 400, muster.EInvalid},
		{"duplicate name", request{method: "POST", path: "/api/v1/tokens", token: f.root, body: jsonBody(map[string]string{"name": "viewer", "role": "viewer"})}, 409, muster.EConflict},
		{"revoke unknown token", request{method: "DELETE", path: "/api/v1/tokens/0000000000000000", token: f.root}, 404, muster.ENotFound},
		{"revoke the last admin", request{method: "DELETE", path: "/api/v1/tokens/" + string(rootID.TokenID), token: f.root}, 409, muster.EConflict},
		{"join without addresses", request{method: "POST", path: "/api/v1/cluster/join", token: f.root, body: jsonBody(map[string]string{"id": "x"})}, 400, muster.EInvalid},
		{"remove without id", request{method: "POST", path: "/api/v1/cluster/remove", token: f.root, body: jsonBody(map[string]string{})}, 400, muster.EInvalid},
		{"remove unknown node", request{method: "POST", path: "/api/v1/cluster/remove", token: f.root, body: jsonBody(map[string]string{"id": "node9"})}, 404, muster.ENotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, h, tt.req)
			require.Equal(t, tt.status, res.Code, "body: %s", res.Body)
			assert.Equal(t, "application/json; charset=utf-8", res.Header().Get("Content-Type"))
			assert.NotEmpty(t, res.Header().Get(api.RequestIDHeader))
			e := res.errorBody(t)
			assert.Equal(t, tt.code, e.Code)
			if tt.status == 401 {
				assert.Equal(t, `Bearer realm="muster"`, res.Header().Get("WWW-Authenticate"))
			}
			if tt.status == 405 {
				assert.Equal(t, "GET, POST", res.Header().Get("Allow"))
			}
		})
	}
	assert.Equal(t, before, f.tokenCount(), "refused requests leave the tokens as they were")
	assert.Len(t, f.c.Nodes[0].Node.Status().Servers, 1, "and the membership too")
}

func TestTokensThroughTheAPI(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])

	var ids []access.TokenID
	for _, name := range []string{"指挥长", "值班员", "演练组", "观察员", "审批人"} {
		_, tok, err := f.tokens(f.c.Nodes[0]).Create(ctx(t), "test", name, "", access.Viewer)
		require.NoError(t, err)
		ids = append(ids, tok.ID)
	}
	secret, tok := createToken(t, h, f.root, "duty commander", access.Commander)
	assert.Equal(t, access.Commander, tok.Role)
	assert.Equal(t, access.BootstrapTokenName, tok.CreatedBy)

	// The new token works at once, with its role.
	res := do(t, h, request{method: "GET", path: "/api/v1/cluster/status", token: secret})
	assert.Equal(t, http.StatusOK, res.Code)
	res = do(t, h, request{method: "GET", path: "/api/v1/tokens", token: secret})
	assert.Equal(t, http.StatusForbidden, res.Code)

	// Pages of two cover all seven tokens once, in ID order.
	var seen []string
	after := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10, "pagination ends")
		res := do(t, h, request{method: "GET", path: "/api/v1/tokens?limit=2&consistency=stale&after=" + after, token: f.root})
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		var page struct {
			Items []access.Token `json:"items"`
			Next  string         `json:"next"`
		}
		res.decode(t, &page)
		assert.LessOrEqual(t, len(page.Items), 2)
		for _, it := range page.Items {
			seen = append(seen, string(it.ID))
			assert.NotContains(t, res.Body.String(), "secret")
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	assert.Len(t, seen, 7)
	assert.IsIncreasing(t, seen)

	// Revoked, the secret stops working.
	res = do(t, h, request{method: "DELETE", path: "/api/v1/tokens/" + string(tok.ID), token: f.root})
	require.Equal(t, http.StatusNoContent, res.Code, "%s", res.Body)
	assert.Empty(t, res.Body.String())
	res = do(t, h, request{method: "GET", path: "/api/v1/cluster/status", token: secret})
	assert.Equal(t, http.StatusUnauthorized, res.Code)
	assert.Equal(t, 6, f.tokenCount())
}

func TestOperationalEndpoints(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])

	res := do(t, h, request{method: "GET", path: "/healthz"})
	assert.Equal(t, http.StatusOK, res.Code)

	waitFor(t, 10*time.Second, func() bool {
		return do(t, h, request{method: "GET", path: "/readyz"}).Code == http.StatusOK
	})

	res = do(t, h, request{method: "GET", path: "/metrics"})
	require.Equal(t, http.StatusOK, res.Code)
	body := res.Body.String()
	assert.Contains(t, body, `muster_raft_state{state="Leader"} 1`)
	assert.Contains(t, body, `muster_apply_seconds_bucket{path="local"`)
	assert.Regexp(t, `\nmuster_disk_free_bytes [0-9.e+]+\n`, body)
	assert.Contains(t, body, "\nmuster_disk_reserve_bytes 2.68435456e+08\n", "the default reserve, 256 MiB")
	assert.Regexp(t, `\nmuster_state_bytes [0-9.e+]+\n`, body)

	res = do(t, h, request{method: "GET", path: "/api/v1/openapi.json"})
	require.Equal(t, http.StatusOK, res.Code)
	var doc map[string]any
	res.decode(t, &doc)
	assert.Contains(t, doc, "paths")

	// The leader records its own HTTP address shortly after it is elected.
	var st cluster.Status
	waitFor(t, 10*time.Second, func() bool {
		res := do(t, h, request{method: "GET", path: "/api/v1/cluster/status?consistency=linearizable", token: f.root})
		require.Equal(t, http.StatusOK, res.Code)
		res.decode(t, &st)
		return len(st.Servers) == 1 && st.Servers[0].HTTPAddr != ""
	})
	assert.Equal(t, "Leader", st.State)
	assert.Equal(t, "node0", st.NodeID)

	// A caller's request ID is echoed; a malformed one is replaced.
	res = do(t, h, request{method: "GET", path: "/healthz", header: map[string]string{api.RequestIDHeader: "abc-123"}})
	assert.Equal(t, "abc-123", res.Header().Get(api.RequestIDHeader))
	res = do(t, h, request{method: "GET", path: "/healthz", header: map[string]string{api.RequestIDHeader: "bad id\n"}})
	assert.NotEqual(t, "bad id\n", res.Header().Get(api.RequestIDHeader))
	assert.NotEmpty(t, res.Header().Get(api.RequestIDHeader))

	// The node-to-node endpoints are mounted, behind the cluster key rather
	// than a bearer token.
	res = do(t, h, request{method: "GET", path: "/internal/v1/status", token: f.root})
	assert.Equal(t, http.StatusForbidden, res.Code)
	signed := httptest.NewRequest(http.MethodGet, "/internal/v1/status", nil)
	cluster.SignRequest(clustertest.Key, signed, nil)
	res = do(t, h, request{method: "GET", path: "/internal/v1/status", header: map[string]string{cluster.ClusterAuthHeader: signed.Header.Get(cluster.ClusterAuthHeader)}})
	assert.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
}

func TestReadyzReportsWhyNot(t *testing.T) {
	h := api.New(api.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, api.Deps{Cluster: notReady{}}).Handler()
	res := do(t, h, request{method: "GET", path: "/readyz"})
	require.Equal(t, http.StatusServiceUnavailable, res.Code)
	e := res.errorBody(t)
	assert.Equal(t, muster.EUnavailable, e.Code)
	assert.Contains(t, e.Message, "no known leader")
	assert.Equal(t, "1", res.Header().Get("Retry-After"))
}

type notReady struct{ api.Cluster }

func (notReady) Ready(uint64) (bool, string)   { return false, "no known leader" }
func (notReady) InternalHandler() http.Handler { return http.NotFoundHandler() }

func TestPanicsBecomeInternalErrors(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	h := api.New(api.Config{Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))},
		api.Deps{Cluster: notReady{}, Tokens: panicky{}}).Handler()
	res := do(t, h, request{method: "GET", path: "/api/v1/tokens", token: "mst_whatever"})
	require.Equal(t, http.StatusInternalServerError, res.Code)
	e := res.errorBody(t)
	assert.Equal(t, muster.EInternal, e.Code)
	assert.NotContains(t, e.Message, "secret detail", "internal details stay in the log")
	assert.Contains(t, e.Message, res.Header().Get(api.RequestIDHeader))
	mu.Lock()
	assert.Contains(t, logs.String(), "secret detail")
	mu.Unlock()
}

type panicky struct{ api.Tokens }

func (panicky) Authenticate(context.Context, string) (access.Identity, error) {
	panic("secret detail")
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestBackupIsAStateFile(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	for _, name := range []string{"a", "b"} {
		createToken(t, h, f.root, name, access.Operator)
	}

	res := do(t, h, request{method: "GET", path: "/api/v1/backup", token: f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	assert.Equal(t, "application/octet-stream", res.Header().Get("Content-Type"))
	idx := res.Header().Get(api.AppliedIndexHeader)
	require.NotEmpty(t, idx)
	assert.NotEqual(t, "0", idx)
	assert.Equal(t, res.Header().Get("Content-Length"), itoa(res.Body.Len()))

	path := filepath.Join(t.TempDir(), "backup.db")
	require.NoError(t, os.WriteFile(path, res.Body.Bytes(), 0o600))
	n := countBucket(t, path, access.TokensBucket)
	assert.Equal(t, 3, n, "the backup holds the bootstrap token and the two created")

	spooled, err := os.ReadDir(f.backups)
	require.NoError(t, err)
	assert.Empty(t, spooled, "the spool file is removed after sending")
}

func countBucket(t *testing.T, path, bucket string) int {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	require.NoError(t, err, "the backup opens as a bbolt file")
	defer db.Close()
	n := 0
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		require.NotNil(t, b, "bucket %s", bucket)
		n = b.Stats().KeyN
		return nil
	}))
	return n
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestJoinAndRemoveThroughTheAPI(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])

	extra := startLoneNode(t, "extra")
	ready, why := extra.node.Ready(100)
	assert.False(t, ready)
	assert.Contains(t, why, "a member of no cluster", "a node started on an empty data dir says what it waits for")
	// Added by hand, a node must answer as itself at the addresses given:
	// a port where something else listens, a member's raft address pasted
	// for the new node, or no HTTP address to ask is refused, and nothing
	// changes (before, each was made a voter, and the pasted address took
	// the member out).
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("twilio simulator")) }))
	t.Cleanup(other.Close)
	leaderRaft := f.c.Nodes[0].Node.RaftAddr()
	for _, tc := range []struct {
		name string
		info cluster.NodeInfo
		code int
		says string
	}{
		{"another program's port", cluster.NodeInfo{ID: "extra", RaftAddr: strings.TrimPrefix(other.URL, "http://"), HTTPAddr: other.URL}, http.StatusConflict, "what answers at " + other.URL + " is not a muster node of this cluster"},
		{"a member's raft address", cluster.NodeInfo{ID: "extra", RaftAddr: leaderRaft, HTTPAddr: extra.url}, http.StatusConflict, "node extra listens for raft at " + extra.node.RaftAddr() + ", not " + leaderRaft},
		{"another node's HTTP address", cluster.NodeInfo{ID: "extra2", RaftAddr: extra.node.RaftAddr(), HTTPAddr: extra.url}, http.StatusConflict, "the node at " + extra.url + " is extra, not extra2"},
		{"no HTTP address", cluster.NodeInfo{ID: "extra", RaftAddr: extra.node.RaftAddr()}, http.StatusBadRequest, "give the node's --http-addr"},
	} {
		res := do(t, h, request{method: "POST", path: "/api/v1/cluster/join", token: f.root, body: jsonBody(tc.info)})
		assert.Equal(t, tc.code, res.Code, "%s: %s", tc.name, res.Body)
		assert.Contains(t, res.Body.String(), tc.says, tc.name)
		assert.Len(t, f.c.Nodes[0].Node.Status().Servers, 1, "%s: nothing changed", tc.name)
	}
	res := do(t, h, request{method: "POST", path: "/api/v1/cluster/join", token: f.root, body: jsonBody(cluster.NodeInfo{
		ID: "extra", RaftAddr: extra.node.RaftAddr(), HTTPAddr: extra.url,
	})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)

	var st cluster.Status
	waitFor(t, 10*time.Second, func() bool {
		res := do(t, h, request{method: "GET", path: "/api/v1/cluster/status", token: f.root})
		res.decode(t, &st)
		return len(st.Servers) == 2
	})
	assert.Equal(t, "extra", st.Servers[0].ID)
	assert.Equal(t, extra.url, st.Servers[0].HTTPAddr)

	// The new member knows the tokens: it reads the leader through the
	// node-to-node endpoints mounted in the api handler.
	_, err := access.NewService(extra.node, extra.node).Authenticate(ctx(t), f.root)
	require.NoError(t, err)

	res = do(t, h, request{method: "POST", path: "/api/v1/cluster/remove", token: f.root, body: jsonBody(map[string]string{"id": "extra"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	res = do(t, h, request{method: "GET", path: "/api/v1/cluster/status", token: f.root})
	res.decode(t, &st)
	assert.Len(t, st.Servers, 1)

	// The cluster of one still takes writes.
	createToken(t, h, f.root, "after remove", access.Viewer)
}

// loneNode is a node started without bootstrap, waiting to be joined.
type loneNode struct {
	node *cluster.Node
	url  string
}

func startLoneNode(t *testing.T, id string) loneNode {
	t.Helper()
	var (
		mu   sync.Mutex
		node *cluster.Node
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n := node
		mu.Unlock()
		if n == nil {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		n.InternalHandler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	n, err := cluster.New(cluster.Config{
		NodeID:             id,
		DataDir:            t.TempDir(),
		RaftBind:           "127.0.0.1:0",
		HTTPAddr:           srv.URL,
		ClusterKey:         clustertest.Key,
		Logger:             slog.New(slog.NewTextHandler(io.Discard, nil)),
		RaftLog:            io.Discard,
		HeartbeatTimeout:   500 * time.Millisecond,
		ElectionTimeout:    500 * time.Millisecond,
		LeaderLeaseTimeout: 250 * time.Millisecond,
	})
	require.NoError(t, err)
	access.Register(n)
	require.NoError(t, n.Start())
	t.Cleanup(func() { _ = n.Close() })
	mu.Lock()
	node = n
	mu.Unlock()
	return loneNode{node: n, url: srv.URL}
}

func TestAnyNodeServesAnyRequest(t *testing.T) {
	f := newFixture(t, 3)
	leader := f.c.Leader()
	followers := f.c.Followers()
	require.Len(t, followers, 2)
	a, b := f.handler(followers[0]), f.handler(followers[1])

	// Created through one follower, the token works at once through the
	// other follower and the leader.
	secret, tok := createToken(t, a, f.root, "duty operator", access.Operator)
	for _, m := range []*clustertest.Member{followers[1], leader, followers[0]} {
		res := do(t, f.handler(m), request{method: "GET", path: "/api/v1/cluster/status?consistency=stale", token: secret})
		require.Equal(t, http.StatusOK, res.Code, "through %s: %s", m.Node.ID(), res.Body)
	}
	res := do(t, b, request{method: "GET", path: "/api/v1/tokens?consistency=linearizable", token: f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	assert.Contains(t, res.Body.String(), string(tok.ID))

	// Revoked through the other follower, it stops working everywhere once
	// each node has applied the revoke.
	res = do(t, b, request{method: "DELETE", path: "/api/v1/tokens/" + string(tok.ID), token: f.root})
	require.Equal(t, http.StatusNoContent, res.Code, "%s", res.Body)
	f.c.WaitApplied(leader.Node.FSM().AppliedIndex(), 10*time.Second)
	for _, m := range f.c.Nodes {
		res := do(t, f.handler(m), request{method: "GET", path: "/api/v1/cluster/status", token: secret})
		assert.Equal(t, http.StatusUnauthorized, res.Code, "through %s", m.Node.ID())
	}

	// Every node is ready and reports forwarded applies.
	for _, m := range f.c.Nodes {
		h := f.handler(m)
		waitFor(t, 10*time.Second, func() bool {
			return do(t, h, request{method: "GET", path: "/readyz"}).Code == http.StatusOK
		})
	}
	res = do(t, a, request{method: "GET", path: "/metrics"})
	assert.Contains(t, res.Body.String(), `muster_apply_seconds_bucket{path="forwarded"`)
	assert.Contains(t, res.Body.String(), `muster_raft_state{state="Follower"} 1`)
	assert.Equal(t, 1, f.tokenCount(), "only the bootstrap token is left")
}

func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// With MetricsNeedToken, /metrics answers only a muster token (a viewer's
// will do), as the API does: its gauges name the raft term and index.
func TestMetricsCanNeedAToken(t *testing.T) {
	f := newFixture(t, 1)
	n := f.c.Nodes[0].Node
	reg := prometheus.NewRegistry()
	reg.MustRegister(n.Collector())
	h := api.New(api.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: reg, MetricsNeedToken: true},
		api.Deps{Cluster: n, Tokens: access.NewService(n, n), Plans: plans.NewService(n, n)}).Handler()
	viewer, _ := createToken(t, f.handler(f.c.Nodes[0]), f.root, "prometheus", access.Viewer)

	res := do(t, h, request{method: "GET", path: "/metrics"})
	assert.Equal(t, http.StatusUnauthorized, res.Code)
	assert.NotContains(t, res.Body.String(), "muster_raft_term")
	res = do(t, h, request{method: "GET", path: "/metrics", token: "mst_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
	assert.Equal(t, http.StatusUnauthorized, res.Code)
	res = do(t, h, request{method: "GET", path: "/metrics", token: viewer})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	assert.Contains(t, res.Body.String(), "\nmuster_raft_term ")

	res = do(t, f.handler(f.c.Nodes[0]), request{method: "GET", path: "/metrics"})
	assert.Equal(t, http.StatusOK, res.Code, "open unless configured")
}
