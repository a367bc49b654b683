package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"muster"
)

// fakeAPI answers each "METHOD /path" it knows (the query left out) with
// its value as JSON, and anything else with the API's not_found error: a
// stand-in for a node when a test is about what the CLI prints.
type fakeAPI map[string]any

func (f fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	v, ok := f[r.Method+" "+r.URL.Path]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "not_found", "message": r.URL.Path + " is not faked"}})
		return
	}
	json.NewEncoder(w).Encode(v)
}

// runOnFake runs muster with args in this process against api, and
// returns what it printed and its error.
func runOnFake(t *testing.T, api http.Handler, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runOnFakeWithInput(t, api, "", args...)
}

// runOnFakeWithInput is runOnFake with stdin: what a person types.
func runOnFakeWithInput(t *testing.T, api http.Handler, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetArgs(append([]string{"--addr", srv.URL, "--token", "mst_x", "-o", "table"}, args...))
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	_, err = root.ExecuteC()
	return out.String(), errOut.String(), err
}

// mustRunOnFake is runOnFake that must succeed.
func mustRunOnFake(t *testing.T, api http.Handler, args ...string) string {
	t.Helper()
	out, errOut, err := runOnFake(t, api, args...)
	require.NoError(t, err, "muster %v; stderr: %s", args, errOut)
	return out
}

// refusal answers every request with status and the API's error shape
// {"error": e}: a node that refuses what the CLI asks.
func refusal(status int, e muster.Error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"error": e})
	})
}
