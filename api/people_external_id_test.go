package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/plans"
)

// GET /api/v1/people?external_id= finds the person the roster file knows
// by that 编号, with the other filters applied on top: the one person, or
// none; every item carries external_id. Before, the parameter was ignored
// and the whole roster listed.
func TestPeopleFilteredByExternalID(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	withDemo(t, f, h)
	const grid = "990101001001001"
	roster := "编号,姓名,手机,网格,类别,标签\nW0001,王五,13700137000," + grid + ",党员,网格长\nW0002,赵六,13700137001," + grid + ",志愿者,\nW0003,孙七,13700137002," + grid + ",志愿者,\n"
	res := do(t, h, request{method: "POST", path: "/api/v1/roster/import", token: f.root, body: strings.NewReader(roster)})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)

	list := func(query string) []plans.Person {
		t.Helper()
		res := do(t, h, request{method: "GET", path: "/api/v1/people?consistency=linearizable&" + query, token: f.root})
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		var out plans.List[plans.Person]
		res.decode(t, &out)
		return out.Items
	}
	require.Len(t, list(""), 3)
	for _, tc := range []struct {
		name, query string
		want        []string // names
	}{
		{"by 编号", "external_id=W0002", []string{"赵六"}},
		{"spaces around it", "external_id=%20W0002%20", []string{"赵六"}},
		{"and a category that matches", "external_id=W0002&category=volunteer", []string{"赵六"}},
		{"and a category that does not", "external_id=W0001&category=volunteer", nil},
		{"and a region", "external_id=W0003&region=990101", []string{"孙七"}},
		{"and the phone of someone else", "external_id=W0001&phone=13700137001", nil},
		{"and their own phone", "external_id=W0001&phone=13700137000", []string{"王五"}},
		{"no one has it", "external_id=W9999", nil},
		{"case matters", "external_id=w0002", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, p := range list(tc.query) {
				got = append(got, p.Name)
				assert.NotEmpty(t, p.ExternalID)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}
