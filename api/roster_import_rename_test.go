package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
	"muster/api"
	"muster/plans"
)

// A roster file without 编号 that gives a person's phone another name: the
// dry run lists the rename ("renamed"), the import is refused (409,
// conflict, the renames in its details) unless allow_renames=true, and
// then its answer lists them too.
func TestRosterImportRenamesThroughTheAPI(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	withDemo(t, f, h)
	grid := "990101001001001"
	post := func(query, csv string) response {
		return do(t, h, request{method: "POST", path: "/api/v1/roster/import" + query, token: f.root, body: strings.NewReader(csv)})
	}
	res := post("", "姓名,手机,网格,类别\n张三,13800138000,"+grid+",党员\n")
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	renaming := "姓名,手机,网格,类别\n李四,13800138000," + grid + ",党员\n"

	res = post("?dry_run=true", renaming)
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var dry plans.ImportResult
	res.decode(t, &dry)
	require.Len(t, dry.Renamed, 1, "%s", res.Body)
	assert.Equal(t, plans.Rename{Row: 2, Person: dry.Renamed[0].Person, Phone: "+8613800138000", OldName: "张三", NewName: "李四"}, dry.Renamed[0])
	assert.Contains(t, res.Body.String(), `"renamed":[{"row":2,`)

	res = post("", renaming)
	require.Equal(t, http.StatusConflict, res.Code, "%s", res.Body)
	e := res.errorBody(t)
	assert.Equal(t, muster.EConflict, e.Code)
	assert.Contains(t, e.Message, "row 2: 张三 → 李四 (+8613800138000)")
	assert.Contains(t, res.Body.String(), `"renamed":[{"row":2,`)
	assert.Equal(t, 1, peopleCount(t, f, h))

	res = post("?allow_renames=true", renaming)
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var done plans.ImportResult
	res.decode(t, &done)
	assert.Equal(t, 1, done.Updated)
	assert.Equal(t, dry.Renamed, done.Renamed)
	var people plans.List[plans.Person]
	do(t, h, request{method: "GET", path: "/api/v1/people", token: f.root}).decode(t, &people)
	require.Len(t, people.Items, 1)
	assert.Equal(t, "李四", people.Items[0].Name)
}

// gatedPlans is the plans service whose roster import waits, once called,
// until the test lets it go on.
type gatedPlans struct {
	plansAPI
	entered, release chan struct{}
}

func (g gatedPlans) ImportRoster(ctx context.Context, actor string, r io.Reader, opts plans.ImportOptions) (plans.ImportResult, error) {
	close(g.entered)
	<-g.release
	return g.plansAPI.ImportRoster(ctx, actor, r, opts)
}

// plansAPI is api.Plans under a name that, embedded, does not hide its
// Plans method.
type plansAPI = api.Plans

// An import whose client goes away (Ctrl-C) once the node has the whole
// file goes on to its end: a client that left cannot tell how far it got.
// Before, the request's end cancelled it wherever it was.
func TestRosterImportOutlivesItsClient(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	withDemo(t, f, h)
	n := f.c.Nodes[0].Node
	g := gatedPlans{plansAPI: plans.NewService(n, n), entered: make(chan struct{}), release: make(chan struct{})}
	gated := api.New(api.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		api.Deps{Cluster: n, Backup: n.FSM(), Tokens: access.NewService(n, n), Plans: g}).Handler()

	grid := "990101001001001"
	csv := "编号,姓名,手机,网格,类别\nC1,张三,13800138000," + grid + ",党员\nC2,李四,13800138001," + grid + ",党员\n"
	reqCtx, leave := context.WithCancel(context.Background())
	defer leave()
	req := httptest.NewRequest("POST", "/api/v1/roster/import", strings.NewReader(csv)).WithContext(reqCtx)
	req.Header.Set("Authorization", "Bearer "+f.root)
	rec := httptest.NewRecorder()
	served := make(chan struct{})
	go func() {
		defer close(served)
		gated.ServeHTTP(rec, req)
	}()
	select {
	case <-g.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the import was not called")
	}
	leave() // the client is gone, as the server sees it
	close(g.release)
	select {
	case <-served:
	case <-time.After(60 * time.Second):
		t.Fatal("the import did not end")
	}
	assert.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
	assert.Equal(t, 2, peopleCount(t, f, h), "imported whole")
}

// peopleCount is the number of people in the roster, read linearizably.
func peopleCount(t *testing.T, f *fixture, h http.Handler) int {
	t.Helper()
	res := do(t, h, request{method: "GET", path: "/api/v1/people?limit=1000&consistency=linearizable", token: f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var people plans.List[plans.Person]
	res.decode(t, &people)
	return len(people.Items)
}
