package main

import (
	"net/http"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingAPI counts the requests that reach it and answers none.
type countingAPI struct{ n atomic.Int32 }

func (c *countingAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	fakeAPI{}.ServeHTTP(w, r)
}

// A flag value the command cannot take is a usage error (exit 2) before any
// request: it names the flag, gives the value as typed and says what the
// flag takes, instead of a server's refusal (exit 1) that echoed the value
// as the CLI passed it on (purpose "DRILL" for --purpose drill).
func TestBadFlagValuesAreUsageErrors(t *testing.T) {
	activate := []string{"activate", "flood-control", "--region", "990101", "--reason", "演练", "--yes"}
	schedule := []string{"drill", "schedule", "flood-control", "--region", "990101"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"activate purpose", append(slices.Clone(activate), "--level", "IV", "--purpose", "drill"), `--purpose "drill": want live, exercise or test`},
		{"activate level", append(slices.Clone(activate), "--level", "V", "--purpose", "exercise"), `--level "V": want I, II, III or IV (also Ⅰ–Ⅳ, 1–4)`},
		{"schedule level", append(slices.Clone(schedule), "--level", "X", "--cron", "0 9 * * 1"), `--level "X": want I, II, III or IV`},
		{"schedule type", append(slices.Clone(schedule), "--level", "IV", "--type", "drill", "--cron", "0 9 * * 1"), `--type "drill": want notification, tabletop, functional or full-scale`},
		{"schedule cron", append(slices.Clone(schedule), "--level", "IV", "--cron", "9am"), `--cron "9am": expected exactly 5 fields, found 1: [9am] (want five fields: minute hour`},
		{"schedule cron field", append(slices.Clone(schedule), "--level", "IV", "--cron", "0 9 * * 8"), `--cron "0 9 * * 8": day-of-week "8": end of range (8) above maximum (6): 8 (day-of-week takes 0–6`},
		{"schedule cron every", append(slices.Clone(schedule), "--level", "IV", "--cron", "@every 2h"), `--cron "@every 2h": @every is not a calendar schedule`},
		{"schedule cron zone", append(slices.Clone(schedule), "--level", "IV", "--cron", "CRON_TZ=UTC 0 9 * * 1"), `--cron "CRON_TZ=UTC 0 9 * * 1": give the time zone with --tz, not in the expression`},
		{"schedule tz Local", append(slices.Clone(schedule), "--level", "IV", "--cron", "0 9 * * 1", "--tz", "Local"), `--tz "Local": want an IANA time zone such as Asia/Shanghai`},
		{"schedule tz empty", append(slices.Clone(schedule), "--level", "IV", "--cron", "0 9 * * 1", "--tz", ""), `--tz "": want an IANA time zone such as Asia/Shanghai`},
		{"list limit 0", []string{"person", "list", "--limit", "0"}, `--limit "0": want a whole number from 1 to 1000`},
		{"list limit 1001", []string{"person", "list", "--limit", "1001"}, `--limit "1001": want a whole number from 1 to 1000`},
		{"list limit ten", []string{"drill", "list", "--limit", "ten"}, `--limit "ten": want a whole number from 1 to 1000`},
		{"status limit", []string{"status", "--limit", "2000"}, `--limit "2000": want a whole number from 1 to 1000`},
		{"status status", []string{"status", "--status", "bogus"}, `--status "bogus": want pending_approval, active, stood_down, rejected or approval_expired, or several of them comma-separated`},
		{"status status list", []string{"status", "--status", "active,bogus"}, `--status "active,bogus": want pending_approval`},
		{"person set language", []string{"person", "set", "P00000001", "--language", "fr"}, `--language "fr": want zh or en`},
		{"person set category", []string{"person", "set", "P00000001", "--category", "nobody"}, `--category "nobody": want one of 党员`},
		{"schedule at", append(slices.Clone(schedule), "--level", "IV", "--at", "tomorrow"), `--at "tomorrow": want 2006-01-02 15:04 in --tz (Asia/Shanghai), or an RFC 3339 time`},
		{"schedule tz", append(slices.Clone(schedule), "--level", "IV", "--cron", "0 9 * * 1", "--tz", "Beijing"), `--tz "Beijing": want an IANA time zone such as Asia/Shanghai`},
		{"schedule length", append(slices.Clone(schedule), "--level", "IV", "--cron", "0 9 * * 1", "--length", "1hour"), `--length "1hour": want a duration such as 30m or 4h`},
		{"schedule catch-up", append(slices.Clone(schedule), "--level", "IV", "--cron", "0 9 * * 1", "--catch-up", "all"), `--catch-up "all": want skip or once`},
		{"schedule catch-up-within", append(slices.Clone(schedule), "--level", "IV", "--cron", "0 9 * * 1", "--catch-up", "once", "--catch-up-within", "-4h"), `--catch-up-within "-4h": want a duration`},
		{"schedule no-notice", append(slices.Clone(schedule), "--level", "IV", "--cron", "0 9 * * 1", "--no-notice", "17:00-09:00"), `--no-notice "17:00-09:00": want HH:MM-HH:MM with the end after the start`},
		{"report format", []string{"drill", "report", "R000001", "--format", "pdf"}, `--format "pdf": want html, csv, json or xlsx`},
		{"report lang", []string{"drill", "report", "R000001", "--lang", "fr"}, `--lang "fr": want zh or en`},
		{"runs status", []string{"drill", "runs", "--status", "done"}, `--status "done": want started, missed or failed`},
		{"finding due", []string{"drill", "finding", "add", "R000001", "--what", "a", "--change", "b", "--due", "next week"}, `--due "next week": want a date written 2006-01-02`},
		{"finding due no such day", []string{"drill", "finding", "add", "R000001", "--what", "a", "--change", "b", "--due", "2027-02-30"}, `--due "2027-02-30": no such date: February 2027 has 28 days`},
		{"finding due no such month", []string{"drill", "finding", "update", "F000001", "--due", "2027-13-01"}, `--due "2027-13-01": no such date: there is no month 13`},
		{"schedule cron and at", append(slices.Clone(schedule), "--level", "IV", "--cron", "0 9 * * 1", "--at", "2027-03-01 09:00"), "give --cron for a recurring drill or --at for a one-off, not both"},
		{"finding status", []string{"drill", "finding", "update", "F000001", "--status", "fixed"}, `--status "fixed": want open, in_progress, done or dropped`},
		{"finding list status", []string{"drill", "finding", "list", "--status", "fixed"}, `--status "fixed": want open, in_progress, done or dropped`},
		{"region kind", []string{"region", "list", "--kind", "province"}, `--kind "province": want city, district, street, community or grid`},
		{"person category", []string{"person", "list", "--category", "nobody"}, `--category "nobody": want one of 党员`},
		{"token role", []string{"token", "create", "--role", "root"}, `--role "root": want admin, commander, approver, operator, trainer, viewer or feed`},
		{"warning level", []string{"warning", "issue", "--region", "990101", "--level", "purple", "--event", "大风", "--headline", "大风预警"}, `--level "purple": want blue, yellow, orange or red`},
		{"warning category", []string{"warning", "issue", "--region", "990101", "--level", "blue", "--event", "大风", "--headline", "大风预警", "--category", "weather"}, `--category "weather": want 自然灾害`},
		{"warning cap category", []string{"warning", "issue", "--region", "990101", "--level", "blue", "--event", "大风", "--headline", "大风预警", "--cap-category", "weather"}, `--cap-category "weather": want Geo, Met,`},
		{"consistency", []string{"plan", "list", "--consistency", "strong"}, `--consistency "strong": want stale, default or linearizable`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &countingAPI{}
			_, _, err := runOnFake(t, api, tc.args...)
			require.Error(t, err)
			assert.Equal(t, exitUsage, exitCode(err), "%v", err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Zero(t, api.n.Load(), "refused before any request")
		})
	}
}

// The values the flags take in any of their spellings still go through.
func TestGoodFlagValuesGoThrough(t *testing.T) {
	for _, args := range [][]string{
		{"activate", "flood-control", "--region", "990101", "--reason", "演练", "--yes", "--level", "iv", "--purpose", "Exercise"},
		{"drill", "schedule", "flood-control", "--region", "990101", "--level", "4", "--type", "桌面推演", "--at", "2027-03-01 09:00",
			"--tz", "Europe/Berlin", "--no-notice", "09:00-17:00", "--catch-up", "once", "--catch-up-within", "4h", "--length", "90m"},
		{"drill", "report", "R000001", "--format", "CSV", "--lang", "EN"},
		{"drill", "finding", "update", "F000001", "--status", "in-progress", "--due", ""},
		{"region", "list", "--kind", "街道"},
		{"warning", "issue", "--region", "990101", "--level", "蓝", "--event", "大风", "--headline", "大风预警", "--category", "natural", "--cap-category", "met"},
		{"plan", "list", "--consistency", "linearizable"},
		{"person", "list", "--limit", "1000"},
		{"person", "list", "--limit", "1"},
		{"status", "--status", "active, stood_down", "--limit", "5"},
		{"person", "set", "P00000001", "--language", "EN", "--category", "volunteer"},
		{"drill", "schedule", "flood-control", "--region", "990101", "--level", "IV", "--cron", "0 9 * * MON-FRI", "--tz", "UTC"},
	} {
		api := &countingAPI{}
		_, _, err := runOnFake(t, api, args...)
		require.Error(t, err, "%v: the fake answers nothing", args)
		assert.Equal(t, 1, exitCode(err), "%v: %v", args, err)
		assert.Positive(t, api.n.Load(), "%v reached the API", args)
	}
}

// A list's --limit from MUSTER_LIMIT is checked as the flag is: out of
// 1–1000 it is a usage error naming the variable, before any request.
func TestLimitFromTheEnvironmentIsChecked(t *testing.T) {
	t.Setenv("MUSTER_LIMIT", "5000")
	api := &countingAPI{}
	_, _, err := runOnFake(t, api, "person", "list")
	require.Error(t, err)
	assert.Equal(t, exitUsage, exitCode(err), "%v", err)
	assert.Contains(t, err.Error(), `MUSTER_LIMIT="5000": --limit "5000": want a whole number from 1 to 1000`)
	assert.Zero(t, api.n.Load(), "refused before any request")

	t.Setenv("MUSTER_LIMIT", "7")
	var asked atomic.Value
	_, _, err = runOnFake(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Store(r.URL.Query().Get("limit"))
		fakeAPI{}.ServeHTTP(w, r)
	}), "person", "list")
	require.Error(t, err, "the fake answers nothing")
	assert.Equal(t, "7", asked.Load(), "a limit in range is asked for")
}
