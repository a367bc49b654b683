package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
)

// openAPIDoc is the OpenAPI document as the server serves it, read as far
// as these tests need: each operation's answers and each schema's
// properties, allOf included.
type openAPIDoc struct {
	Paths map[string]map[string]struct {
		Responses map[string]struct {
			Content map[string]struct {
				Schema openAPISchema `json:"schema"`
			} `json:"content"`
		} `json:"responses"`
	} `json:"paths"`
	Components struct {
		Schemas map[string]openAPISchema `json:"schemas"`
	} `json:"components"`
}

type openAPISchema struct {
	Ref        string                   `json:"$ref"`
	AllOf      []openAPISchema          `json:"allOf"`
	Properties map[string]openAPISchema `json:"properties"`
	Required   []string                 `json:"required"`
}

// properties returns the properties s documents, following $ref and
// allOf, and the ones it requires.
func (d *openAPIDoc) properties(t *testing.T, s openAPISchema) (props map[string]openAPISchema, required []string) {
	t.Helper()
	props = map[string]openAPISchema{}
	if s.Ref != "" {
		name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/")
		require.True(t, ok, s.Ref)
		ref, ok := d.Components.Schemas[name]
		require.True(t, ok, "schema %s", name)
		return d.properties(t, ref)
	}
	for _, a := range s.AllOf {
		p, r := d.properties(t, a)
		for k, v := range p {
			props[k] = v
		}
		required = append(required, r...)
	}
	for k, v := range s.Properties {
		props[k] = v
	}
	return props, append(required, s.Required...)
}

// checkAnswer checks that the document names res's status among op's
// answers and that res's JSON body has every property the answer's
// schema requires and no property it does not document, down into the
// objects of the properties that have a schema of their own.
func (d *openAPIDoc) checkAnswer(t *testing.T, path, method string, res response) {
	t.Helper()
	op, ok := d.Paths[path][method]
	require.True(t, ok, "%s %s documented", method, path)
	status := strconv.Itoa(res.Code)
	answer, ok := op.Responses[status]
	if !assert.True(t, ok, "%s %s answers %s, which the document does not list: %s", method, path, status, res.Body) {
		return
	}
	content, ok := answer.Content["application/json"]
	require.True(t, ok, "%s %s %s: no application/json schema", method, path, status)
	var body map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(res.Body.Bytes(), &body), "%s", res.Body)
	d.checkObject(t, method+" "+path+" "+status, content.Schema, body)
}

func (d *openAPIDoc) checkObject(t *testing.T, at string, s openAPISchema, body map[string]json.RawMessage) {
	t.Helper()
	props, required := d.properties(t, s)
	for _, r := range required {
		assert.Contains(t, body, r, "%s: required %q missing", at, r)
	}
	for k, v := range body {
		p, ok := props[k]
		if !assert.True(t, ok, "%s: the answer has %q, which the document does not", at, k) {
			continue
		}
		if p.Ref == "" && len(p.AllOf) == 0 {
			continue
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(v, &obj) == nil {
			d.checkObject(t, at+" "+k, p, obj)
		}
	}
}

// POST /cap's every answer is in the document, with every field it has:
// the new warning with its ignored geocodes, the late original an Update
// replaced (200, superseded_by), the Cancel before its alert (202,
// awaited), the alert born lifted (201, superseded_by), and the Cancel that
// lifts one alert and awaits another (200, awaited). GET of a warning
// that keeps its ignored geocodes and its Cancel is in the document too.
func TestOpenAPIDocumentsCAPAnswers(t *testing.T) {
	f, h, sample := capImportFixture(t)
	res := do(t, h, request{method: "GET", path: "/api/v1/openapi.json"})
	require.Equal(t, http.StatusOK, res.Code)
	var doc openAPIDoc
	require.NoError(t, json.Unmarshal(res.Body.Bytes(), &doc))

	seen := map[string]map[string]bool{} // status -> top-level fields answered
	post := func(status int, body string) response {
		t.Helper()
		res := do(t, h, request{method: "POST", path: "/api/v1/cap", token: f.root, body: strings.NewReader(body)})
		require.Equal(t, status, res.Code, "%s", res.Body)
		doc.checkAnswer(t, "/api/v1/cap", "post", res)
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(res.Body.Bytes(), &m))
		if seen[strconv.Itoa(status)] == nil {
			seen[strconv.Itoa(status)] = map[string]bool{}
		}
		for k := range m {
			seen[strconv.Itoa(status)][k] = true
		}
		return res
	}
	unknown := []string{"<cap:value>990102</cap:value>\n      </cap:geocode>",
		"<cap:value>990102</cap:value>\n      </cap:geocode>\n      <cap:geocode><cap:valueName>GB/T 2260</cap:valueName><cap:value>990199000000</cap:value></cap:geocode>"}

	post(http.StatusCreated, capDoc(sample, "OA1U", "Update", []string{"OA1"}, unknown...))
	post(http.StatusOK, capDoc(sample, "OA1", "Alert", nil))
	post(http.StatusAccepted, capDoc(sample, "OA2C", "Cancel", []string{"OA2"}))
	born := post(http.StatusCreated, capDoc(sample, "OA2", "Alert", nil, unknown...))
	post(http.StatusCreated, capDoc(sample, "OA3", "Alert", nil))
	post(http.StatusOK, capDoc(sample, "OA3C", "Cancel", []string{"OA3", "OA4"}))

	for status, fields := range map[string][]string{
		"201": {"ignored_geocodes", "superseded_by"},
		"200": {"superseded_by", "awaited"},
		"202": {"awaited", "message"},
	} {
		for _, k := range fields {
			assert.True(t, seen[status][k], "the %s answers of this test have %s: %v", status, k, slices.Sorted(mapKeys(seen[status])))
		}
	}

	var w struct {
		ID string `json:"id"`
	}
	born.decode(t, &w)
	res = do(t, h, request{method: "GET", path: "/api/v1/warnings/" + w.ID, token: f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	doc.checkAnswer(t, "/api/v1/warnings/{id}", "get", res)
	// The same alert again answers with what its warning keeps.
	again := post(http.StatusOK, capDoc(sample, "OA2", "Alert", nil, unknown...))
	if muster.Rules >= 12 { // the warning keeps them from rules 12 (plans pins both rules)
		for _, body := range []string{res.Body.String(), again.Body.String()} {
			assert.Contains(t, body, `"ignored_geocodes":["990199000000"]`)
			assert.Contains(t, body, `"superseded_by":{`)
		}
	}
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
