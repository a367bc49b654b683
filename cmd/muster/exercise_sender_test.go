package main

import (
	"path/filepath"
	"testing"
)

// TestExerciseSendersApartFromLive: a server whose exercise account (or
// its fallback) sends from a number, or through a messaging service, that
// a LIVE account sends from stops before it starts, naming both flags: a
// drill would reach people from the number they know as the live one.
func TestExerciseSendersApartFromLive(t *testing.T) {
	const (
		sidA = "AC0000000000000000000000000000000a"
		sidB = "AC0000000000000000000000000000000b"
		sidC = "AC0000000000000000000000000000000c"
		mgA  = "MG0000000000000000000000000000000a"
	)
	base := func(extra ...string) []string {
		return append([]string{"agent", "--node-id", "n1", "--data-dir", filepath.Join(t.TempDir(), "d"), "--raft-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--log-level", "error"}, extra...)
	}
	live := func(from ...string) []string {
		return append([]string{"--twilio-account-sid", sidA, "--twilio-auth-token", "tok"}, from...)
	}
	exercise := func(from ...string) []string {
		return append([]string{"--exercise-twilio-account-sid", sidB, "--exercise-twilio-auth-token", "tok2"}, from...)
	}
	join := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return base(out...)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{name: "same number", args: join(live("--twilio-from", "+15005550100,+15005550101"), exercise("--exercise-twilio-from", "+15005550199,+15005550101")),
			want: "--twilio-from and --exercise-twilio-from both list +15005550101: drills must not send from a LIVE sender number"},
		{name: "same messaging service", args: join(live("--twilio-messaging-service-sid", mgA), exercise("--exercise-twilio-messaging-service-sid", mgA)),
			want: "--twilio-messaging-service-sid and --exercise-twilio-messaging-service-sid are both " + mgA},
		{name: "exercise fallback on a live number", args: join(live("--twilio-from", "+15005550100"), exercise("--exercise-twilio-from", "+15005550101"),
			[]string{"--exercise-twilio-fallback-account-sid", sidC, "--exercise-twilio-fallback-auth-token", "tok3", "--exercise-twilio-fallback-from", "+15005550100"}),
			want: "--twilio-from and --exercise-twilio-fallback-from both list +15005550100"},
		{name: "live fallback on an exercise number", args: join(live("--twilio-from", "+15005550100"), exercise("--exercise-twilio-from", "+15005550101"),
			[]string{"--twilio-fallback-account-sid", sidC, "--twilio-fallback-auth-token", "tok3", "--twilio-fallback-from", "+15005550101"}),
			want: "--twilio-fallback-from and --exercise-twilio-from both list +15005550101"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oneLineError(t, runCLI(t, nil, tc.args...), 2, tc.want)
		})
	}
}
