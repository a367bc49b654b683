package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
	"muster/cluster"
	"muster/drills"
	"muster/notify"
	"muster/plans"
)

// stubCluster satisfies Cluster for tests that only look at routing.
type stubCluster struct{}

func (stubCluster) Status() cluster.Status                                     { return cluster.Status{} }
func (stubCluster) Ready(uint64) (bool, string)                                { return true, "ok" }
func (stubCluster) JoinByHand(context.Context, string, cluster.NodeInfo) error { return nil }
func (stubCluster) RecordBackup(context.Context, string, uint64) error         { return nil }
func (stubCluster) RemoveMember(context.Context, cluster.RemoveRequest) error  { return nil }
func (stubCluster) InternalHandler() http.Handler                              { return http.NotFoundHandler() }
func (stubCluster) Backup(io.Writer) (uint64, error)                           { return 0, nil }
func (stubCluster) Audit(context.Context, muster.Consistency, uint64, int) ([]cluster.AuditEntry, cluster.AuditHead, error) {
	return nil, cluster.AuditHead{}, nil
}
func (stubCluster) CutAudit(context.Context, string, cluster.AuditCutRequest) (cluster.AuditCutResult, error) {
	return cluster.AuditCutResult{}, nil
}
func (stubCluster) Authenticate(context.Context, string) (access.Identity, error) {
	return access.Identity{}, muster.Errorf(muster.EUnauthorized, "stub")
}
func (stubCluster) CreateToken(context.Context, string, access.NewToken) (string, access.Token, error) {
	return "", access.Token{}, nil
}
func (stubCluster) List(context.Context, muster.Consistency) ([]access.Token, error) { return nil, nil }
func (stubCluster) Revoke(context.Context, string, access.TokenID) error             { return nil }

func stubServer() *Server {
	return New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, Deps{Cluster: stubCluster{}, Backup: stubCluster{}, Tokens: stubCluster{}})
}

type operation struct {
	OperationID string         `json:"operationId"`
	Security    *[]any         `json:"security"`
	Action      string         `json:"x-muster-action"`
	Responses   map[string]any `json:"responses"`
	Parameters  []struct {
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                          `json:"openapi"`
		Paths   map[string]map[string]operation `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(openAPIDocument, &doc))
	assert.True(t, strings.HasPrefix(doc.OpenAPI, "3.0."), "OpenAPI 3.0, got %q", doc.OpenAPI)

	documented := map[string]operation{}
	ids := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			key := strings.ToUpper(method) + " " + path
			documented[key] = op
			assert.NotEmpty(t, op.OperationID, "%s has an operationId", key)
			assert.False(t, ids[op.OperationID], "operationId %s is unique", op.OperationID)
			ids[op.OperationID] = true
			assert.NotEmpty(t, op.Responses, "%s documents its responses", key)
		}
	}

	s := stubServer()
	param := regexp.MustCompile(`[:*]([A-Za-z_]+)`) // gin's :id → OpenAPI's {id}
	braces := regexp.MustCompile(`\{([A-Za-z_]+)\}`)
	registered := map[string]bool{}
	for _, r := range s.engine.Routes() {
		if strings.HasPrefix(r.Path, "/internal/") {
			continue
		}
		registered[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
	}

	for key := range registered {
		_, ok := documented[key]
		assert.True(t, ok, "route %s is registered but not in openapi.json", key)
	}
	for key, op := range documented {
		assert.True(t, registered[key], "openapi.json documents %s but no such route is registered", key)
		for _, m := range braces.FindAllStringSubmatch(key, -1) {
			found := false
			for _, p := range op.Parameters {
				found = found || (p.In == "path" && p.Name == m[1])
			}
			assert.True(t, found, "%s documents its path parameter %s", key, m[1])
		}
		public := op.Security != nil && len(*op.Security) == 0
		action, authed := s.actions[braces.ReplaceAllString(key, ":$1")]
		if public {
			assert.False(t, authed, "%s is public in openapi.json but requires a token", key)
			assert.Empty(t, op.Action, "%s is public but names an action", key)
			continue
		}
		assert.True(t, authed, "%s needs a token per openapi.json but is not registered through handle", key)
		assert.Equal(t, string(action), op.Action, "%s: x-muster-action must name the action the route requires", key)
	}
}

func TestOpenAPIReferencesResolve(t *testing.T) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal(openAPIDocument, &doc))
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "$ref" {
					refs = append(refs, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	require.NotEmpty(t, refs)
	sort.Strings(refs)
	for _, ref := range refs {
		require.True(t, strings.HasPrefix(ref, "#/"), "local reference %s", ref)
		var at any = doc
		for _, part := range strings.Split(ref[2:], "/") {
			m, ok := at.(map[string]any)
			require.True(t, ok, "%s: %s is not an object", ref, part)
			at, ok = m[part]
			require.True(t, ok, "%s does not resolve", ref)
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	rec := httptest.NewRecorder()
	stubServer().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/openapi.json", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.JSONEq(t, string(openAPIDocument), rec.Body.String())
}

func TestPaginate(t *testing.T) {
	items := []string{"a", "b", "c", "d", "e"}
	id := func(s string) string { return s }
	tests := []struct {
		name      string
		p         page
		want      []string
		wantAfter string
	}{
		{"first page", page{limit: 2}, []string{"a", "b"}, "b"},
		{"middle", page{limit: 2, after: "b"}, []string{"c", "d"}, "d"},
		{"last page is short", page{limit: 2, after: "d"}, []string{"e"}, ""},
		{"exact end", page{limit: 5}, []string{"a", "b", "c", "d", "e"}, ""},
		{"cursor between keys", page{limit: 2, after: "bb"}, []string{"c", "d"}, "d"},
		{"past the end", page{limit: 2, after: "z"}, []string{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := paginate(items, id, tt.p)
			assert.Equal(t, tt.want, got.Items)
			assert.Equal(t, tt.wantAfter, got.Next)
		})
	}
	b, err := json.Marshal(paginate([]string(nil), id, page{limit: 10}))
	require.NoError(t, err)
	assert.JSONEq(t, `{"items":[],"next":""}`, string(b), "an empty list is [] and not null")
}

func TestStatusOfEveryCode(t *testing.T) {
	tests := map[string]int{
		muster.EInvalid:      400,
		muster.EUnauthorized: 401,
		muster.EForbidden:    403,
		muster.ENotFound:     404,
		muster.EConflict:     409,
		muster.EPrecondition: 412,
		muster.ETooLarge:     413,
		muster.ENotLeader:    503,
		muster.EUnavailable:  503,
		muster.ETimeout:      503,
		muster.EStorage:      507,
		muster.EInternal:     500,
		"made_up":            500,
	}
	for code, want := range tests {
		assert.Equal(t, want, statusOf(code), code)
	}
}

// jsonFields lists the JSON names of t's fields, those of embedded structs
// included.
func jsonFields(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			maps.Copy(out, jsonFields(ft))
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = true
	}
	return out
}

// The schemas of what the API returns document only fields the response
// has: a client written from the document finds every field it reads.
func TestOpenAPISchemasNameRealFields(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(openAPIDocument, &doc))
	types := map[string]any{
		"Activation": notify.Activation{}, "ActivationStatus": notify.ActivationStatus{}, "Recipient": notify.Recipient{},
		"Board": notify.Board{}, "BoardRow": notify.BoardRow{}, "AckBy": notify.AckBy{},
		"Region": plans.Region{}, "Person": plans.Person{}, "ImportResult": plans.ImportResult{},
		"ModeRecord": plans.ModeRecord{}, "RegionMode": plans.RegionMode{}, "Warning": plans.Warning{},
		"DrillSchedule": drills.Schedule{}, "DrillRun": drills.Run{}, "Finding": drills.Finding{},
		"DrillMetrics": drills.Metrics{}, "DrillTally": drills.Tally{}, "DrillCheckpoint": drills.Checkpoint{}, "DrillOutcome": drills.Outcome{}, "DrillTrendRow": drills.TrendRow{},
		"Token": access.Token{}, "Retraction": notify.Retraction{}, "ApproverNotice": notify.ApproverNotice{},
		"ClusterStatus": cluster.Status{}, "ServerStatus": cluster.ServerStatus{}, "Disk": cluster.Disk{},
		"AuditEntry": cluster.AuditEntry{}, "AuditHead": cluster.AuditHead{}, "AuditPage": AuditPage{},
		"AuditCheckpoint": cluster.AuditCheckpoint{}, "AuditCutRequest": cluster.AuditCutRequest{}, "AuditCutResult": cluster.AuditCutResult{},
		"RetractPreview": notify.RetractPreview{}, "StandingCallUp": notify.StandingCallUp{},
		"Cancellation": notify.Cancellation{}, "PersonCallUp": notify.PersonCallUp{}, "PersonDeleted": PersonDeleted{},
		"StatusCounts": notify.StatusCounts{},
		"Whoami":       Whoami{},
	}
	for name, v := range types {
		s, ok := doc.Components.Schemas[name]
		if !assert.True(t, ok, "schema %s", name) {
			continue
		}
		fields := jsonFields(reflect.TypeOf(v))
		for p := range s.Properties {
			assert.True(t, fields[p], "schema %s documents %q, which %T does not have", name, p, v)
		}
	}
}
