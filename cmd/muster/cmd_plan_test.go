package main

import (
	"slices"
	"testing"
)

// A --version below 1 is refused rather than read as "the latest": the
// reader of plan show, or the activation, would take the latest for the
// version asked for. Left out, or 1 and up, it goes on to the (absent)
// server.
func TestVersionFlagBelowOne(t *testing.T) {
	env := []string{"MUSTER_ADDR=http://" + freePort(t), "MUSTER_TOKEN=mst_x"}
	activate := []string{"activate", "flood-control", "--region", "990105", "--level", "IV", "--purpose", "exercise", "--reason", "r", "--yes"}
	for _, tc := range []struct {
		name string
		args []string
		want string // "" for accepted
	}{
		{"plan show 0", []string{"plan", "show", "flood-control", "--version", "0"}, "--version 0: plan versions are numbered from 1"},
		{"plan show -1", []string{"plan", "show", "flood-control", "--version", "-1"}, "--version -1: plan versions are numbered from 1"},
		{"plan show 1", []string{"plan", "show", "flood-control", "--version", "1"}, ""},
		{"plan show latest", []string{"plan", "show", "flood-control"}, ""},
		{"activate 0", append(slices.Clone(activate), "--version", "0"), "--version 0: plan versions are numbered from 1"},
		{"activate -3", append(slices.Clone(activate), "--version=-3"), "--version -3: plan versions are numbered from 1"},
		{"activate 2", append(slices.Clone(activate), "--version", "2"), ""},
		{"activate latest", activate, ""},
	} {
		t.Run(tc.name, func(t *testing.T) { usageErrorOrOn(t, env, tc.args, tc.want) })
	}
}

// usageErrorOrOn runs muster with args against env's address, where no
// server listens: with want set it must fail as a usage error (exit 2)
// saying want; with want empty the arguments are taken and it goes on to
// the server, which it cannot reach (exit 1).
func usageErrorOrOn(t *testing.T, env, args []string, want string) {
	t.Helper()
	r := runCLI(t, env, args...)
	if want == "" {
		oneLineError(t, r, 1, "cannot reach muster")
		return
	}
	oneLineError(t, r, 2, want)
}
