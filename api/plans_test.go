package api_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
	"muster/examples"
	"muster/plans"
)

// withDemo loads the demo regions and the flood plan through the API.
func withDemo(t testing.TB, f *fixture, h http.Handler) {
	t.Helper()
	res := do(t, h, request{method: "POST", path: "/api/v1/regions/import", token: f.root, body: bytes.NewReader(examples.RegionsCSV())})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	files, err := examples.Plans()
	require.NoError(t, err)
	res = do(t, h, request{method: "POST", path: "/api/v1/plans?filename=" + files[0].Name, token: f.root, body: bytes.NewReader(files[0].Data)})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
}

// state is what the bad requests must leave untouched.
type state struct{ people, planVersion int }

func readState(t *testing.T, f *fixture, h http.Handler, planID string) state {
	t.Helper()
	var st state
	res := do(t, h, request{method: "GET", path: "/api/v1/people?limit=1000&consistency=linearizable", token: f.root})
	require.Equal(t, http.StatusOK, res.Code)
	var people plans.List[plans.Person]
	res.decode(t, &people)
	st.people = len(people.Items)
	res = do(t, h, request{method: "GET", path: "/api/v1/plans/" + planID, token: f.root})
	require.Equal(t, http.StatusOK, res.Code)
	var v plans.PlanVersion
	res.decode(t, &v)
	st.planVersion = v.Version
	return st
}

func TestPlanAndRosterBadInputIsRefusedAndChangesNothing(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	withDemo(t, f, h)
	files, err := examples.Plans()
	require.NoError(t, err)
	plan := files[0]
	p, err := plans.DecodePlan(plan.Name, plan.Data)
	require.NoError(t, err)
	viewer, _ := createToken(t, h, f.root, "viewer", access.Viewer)
	trainer, _ := createToken(t, h, f.root, "trainer", access.Trainer)
	grid := "990101001001001"
	person := map[string]any{"name": "张三", "phones": []string{"13800138000"}, "grid": grid, "category": "党员"}
	res := do(t, h, request{method: "POST", path: "/api/v1/people", token: f.root, body: jsonBody(person)})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	before := readState(t, f, h, string(p.ID))
	require.Equal(t, state{people: 1, planVersion: 1}, before)

	yaml := func(s string) *bytes.Reader { return bytes.NewReader([]byte(s)) }
	unknownField := strings.Replace(string(plan.Data), "\ntitle:", "\ncolour: red\ntitle:", 1)
	require.NotEqual(t, string(plan.Data), unknownField)
	bigBody := bytes.Repeat([]byte("#"), 2<<20)
	tests := []struct {
		name   string
		req    request
		status int
		code   string
		detail string // a substring of the message
	}{
		{"malformed YAML", request{method: "POST", path: "/api/v1/plans?filename=bad.yaml", token: f.root, body: yaml("id: x\nlevels: [unclosed\n")}, 400, muster.EInvalid, "bad.yaml:"},
		{"unknown field in a plan", request{method: "POST", path: "/api/v1/plans?filename=flood.yaml", token: f.root, body: yaml(unknownField)}, 400, muster.EInvalid, "colour"},
		{"oversized plan", request{method: "POST", path: "/api/v1/plans", token: f.root, body: bytes.NewReader(bigBody)}, 413, muster.ETooLarge, ""},
		{"empty plan body", request{method: "POST", path: "/api/v1/plans", token: f.root, body: yaml("")}, 400, muster.EInvalid, "empty"},
		{"invalid phone", request{method: "POST", path: "/api/v1/people", token: f.root, body: jsonBody(map[string]any{"name": "李四", "phones": []string{"12345"}, "grid": grid, "category": "党员"})}, 400, muster.EInvalid, "phone"},
		{"unknown grid", request{method: "POST", path: "/api/v1/people", token: f.root, body: jsonBody(map[string]any{"name": "李四", "phones": []string{"13900139000"}, "grid": "990109009009009", "category": "党员"})}, 400, muster.EInvalid, "grid"},
		{"duplicate person", request{method: "POST", path: "/api/v1/people", token: f.root, body: jsonBody(person)}, 409, muster.EConflict, "+8613800138000"},
		{"unknown field in a person", request{method: "POST", path: "/api/v1/people", token: f.root, body: jsonBody(map[string]any{"name": "李四", "phone": "13900139000"})}, 400, muster.EInvalid, "phone"},
		{"roster with a bad row", request{method: "POST", path: "/api/v1/roster/import", token: f.root, body: yaml("姓名,手机,网格,类别\n王五,13700137000," + grid + ",党员\n赵六,123," + grid + ",党员\n")}, 400, muster.EInvalid, "row 3"},
		{"empty roster file", request{method: "POST", path: "/api/v1/roster/import?filename=%E5%90%8D%E5%8D%95.csv", token: f.root, body: yaml("")}, 400, muster.EInvalid, "roster file 名单.csv is empty: it has no header row and no rows"},
		{"roster with a bad flag", request{method: "POST", path: "/api/v1/roster/import?dry_run=maybe", token: f.root, body: yaml("姓名,手机,网格,类别\n")}, 400, muster.EInvalid, "dry_run"},
		{"wrong token", request{method: "POST", path: "/api/v1/people", token: "mst_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", body: jsonBody(person)}, 401, muster.EUnauthorized, ""},
		{"viewer may not import", request{method: "POST", path: "/api/v1/roster/import", token: viewer, body: yaml("姓名,手机,网格,类别\n王五,13700137000," + grid + ",党员\n")}, 403, muster.EForbidden, ""},
		{"trainer may not change plans", request{method: "POST", path: "/api/v1/plans", token: trainer, body: bytes.NewReader(plan.Data)}, 403, muster.EForbidden, ""},
		{"unknown person", request{method: "DELETE", path: "/api/v1/people/P99999999", token: f.root}, 404, muster.ENotFound, "P99999999"},
		{"unknown plan version", request{method: "GET", path: "/api/v1/plans/" + string(p.ID) + "/versions/9", token: f.root}, 404, muster.ENotFound, "version 9"},
		{"bad version number", request{method: "GET", path: "/api/v1/plans/" + string(p.ID) + "/versions/first", token: f.root}, 400, muster.EInvalid, "version"},
		{"bad region kind", request{method: "GET", path: "/api/v1/regions?kind=planet", token: f.root}, 400, muster.EInvalid, "planet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, h, tt.req)
			require.Equal(t, tt.status, res.Code, "%s", res.Body)
			e := res.errorBody(t)
			assert.Equal(t, tt.code, e.Code)
			assert.Contains(t, e.Message, tt.detail)
			assert.Equal(t, before, readState(t, f, h, string(p.ID)), "state unchanged")
		})
	}
}

// A person read through the API carries its version (ETag); a change sent
// back with it (If-Match) is refused with 412 once someone else changed the
// person, and taken when made from the person as they are.
func TestPersonChangeNamesTheVersionItWasMadeFrom(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	withDemo(t, f, h)
	person := map[string]any{"name": "张三", "phones": []string{"13800138000"}, "grid": "990101001001001", "category": "党员"}
	res := do(t, h, request{method: "POST", path: "/api/v1/people", token: f.root, body: jsonBody(person)})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var p plans.Person
	res.decode(t, &p)
	path := "/api/v1/people/" + string(p.ID)

	res = do(t, h, request{method: "GET", path: path, token: f.root})
	require.Equal(t, http.StatusOK, res.Code)
	read := res.Header().Get("ETag")
	require.Equal(t, p.ETag(), read)

	person["phones"] = []string{"13900139000"}
	res = do(t, h, request{method: "PUT", path: path, token: f.root, body: jsonBody(person), header: map[string]string{"If-Match": read}})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	changed := res.Header().Get("ETag")
	assert.NotEqual(t, read, changed, "the answer carries the new version")

	person["phones"], person["tags"] = []string{"13800138000"}, []string{"网格长"}
	for _, stale := range []string{read, strings.Trim(read, `"`)} {
		res = do(t, h, request{method: "PUT", path: path, token: f.root, body: jsonBody(person), header: map[string]string{"If-Match": stale}})
		require.Equal(t, http.StatusPreconditionFailed, res.Code, "%s", res.Body)
		e := res.errorBody(t)
		assert.Equal(t, muster.EPrecondition, e.Code)
		assert.Contains(t, e.Message, "read it again")
	}
	res = do(t, h, request{method: "GET", path: path, token: f.root})
	res.decode(t, &p)
	assert.Equal(t, []string{"+8613900139000"}, p.Phones, "the first change stands")
	assert.Equal(t, changed, res.Header().Get("ETag"))

	for _, etag := range []string{changed, "*"} {
		res = do(t, h, request{method: "PUT", path: path, token: f.root, body: jsonBody(person), header: map[string]string{"If-Match": etag}})
		require.Equal(t, http.StatusOK, res.Code, "If-Match %s: %s", etag, res.Body)
	}
}

func TestRosterImportAndPlanVersionsThroughTheAPI(t *testing.T) {
	f := newFixture(t, 3)
	// Everything through a follower: forwarded writes, reads that catch up.
	h := f.handler(f.c.Followers()[0])
	withDemo(t, f, h)
	regions, err := examples.Regions()
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, examples.GenerateRoster(&buf, 3000, 9, examples.Grids(regions)))
	file := buf.Bytes()

	res := do(t, h, request{method: "POST", path: "/api/v1/roster/import?dry_run=true", token: f.root, body: bytes.NewReader(file)})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var dry plans.ImportResult
	res.decode(t, &dry)
	assert.True(t, dry.DryRun)
	assert.Equal(t, 3000, dry.Created)

	res = do(t, h, request{method: "POST", path: "/api/v1/roster/import", token: f.root, body: bytes.NewReader(file)})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var got plans.ImportResult
	res.decode(t, &got)
	assert.Equal(t, 3000, got.Created)
	assert.Equal(t, "utf-8", got.Encoding)

	res = do(t, h, request{method: "POST", path: "/api/v1/roster/import", token: f.root, body: bytes.NewReader(file)})
	require.Equal(t, http.StatusOK, res.Code)
	res.decode(t, &got)
	assert.Equal(t, 3000, got.Unchanged, "re-importing changes nothing")
	assert.Zero(t, got.Created+got.Updated)

	// Every node answers the same, paging through 3000 people.
	for _, m := range f.c.Nodes {
		n, after := 0, ""
		for {
			res := do(t, f.handler(m), request{method: "GET", path: "/api/v1/people?limit=1000&after=" + after, token: f.root})
			require.Equal(t, http.StatusOK, res.Code)
			var page plans.List[plans.Person]
			res.decode(t, &page)
			n += len(page.Items)
			if page.Next == "" {
				break
			}
			after = page.Next
		}
		assert.Equal(t, 3000, n, "node %s", m.Node.ID())
	}

	files, err := examples.Plans()
	require.NoError(t, err)
	res = do(t, h, request{method: "POST", path: "/api/v1/plans?filename=" + files[0].Name, token: f.root, body: bytes.NewReader(files[0].Data)})
	require.Equal(t, http.StatusOK, res.Code, "the same file again is not a new version: %s", res.Body)
	var ap plans.PlanApplyResult
	res.decode(t, &ap)
	assert.False(t, ap.Changed)
	res = do(t, h, request{method: "GET", path: "/api/v1/plans/" + string(ap.PlanID) + "/versions", token: f.root})
	require.Equal(t, http.StatusOK, res.Code)
	var versions plans.List[plans.PlanVersion]
	res.decode(t, &versions)
	assert.Len(t, versions.Items, 1)
}
