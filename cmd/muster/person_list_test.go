package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/plans"
)

// muster person list shows each person's 编号 (EXTERNAL_ID, - when none)
// after the ID, in the table and in -o json, and --external-id asks the
// API for that 编号 only (external_id). Before, the table had no 编号 and
// the flag did not exist.
func TestPersonListShowsAndFiltersByExternalID(t *testing.T) {
	people := []plans.Person{
		{ID: "P0000001", ExternalID: "W0001", Name: "王五", Phones: []string{"+8613700137000"}, Grid: "990101001001001", Category: "党员", Tags: []string{"网格长"}},
		{ID: "P0000002", Name: "赵六", Phones: []string{"+8613700137001"}, Grid: "990101001001001", Category: "志愿者"},
	}
	var queries []string
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "GET /api/v1/people", r.Method+" "+r.URL.Path)
		queries = append(queries, r.URL.Query().Get("external_id"))
		out := plans.List[plans.Person]{Items: []plans.Person{}}
		for _, p := range people {
			if ext := r.URL.Query().Get("external_id"); ext == "" || p.ExternalID == ext {
				out.Items = append(out.Items, p)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	})

	out := mustRunOnFake(t, api, "person", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	assert.Equal(t, []string{"ID", "EXTERNAL_ID", "NAME"}, strings.Fields(lines[0])[:3])
	assert.Equal(t, []string{"P0000001", "W0001", "王五"}, strings.Fields(lines[1])[:3])
	assert.Equal(t, []string{"P0000002", "-", "赵六"}, strings.Fields(lines[2])[:3], "no 编号: -, so the columns stay in place")

	out = mustRunOnFake(t, api, "person", "list", "--external-id", "W0001", "-o", "json")
	var got plans.List[plans.Person]
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	require.Len(t, got.Items, 1)
	assert.Equal(t, "W0001", got.Items[0].ExternalID)
	assert.Contains(t, out, `"external_id": "W0001"`)
	assert.Equal(t, []string{"", "W0001"}, queries, "--external-id is sent as external_id")
}
