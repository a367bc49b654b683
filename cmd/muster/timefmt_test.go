package main

import (
	"bytes"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
	"muster/notify"
	"muster/plans"
)

func TestShowTime(t *testing.T) {
	at := time.Date(2026, 12, 5, 2, 0, 30, 0, time.UTC)
	cst := time.FixedZone("CST", 8*3600)
	for _, tc := range []struct {
		name, got, want string
	}{
		{"to the minute", showTime(at, cst, minuteLayout), "2026-12-05 10:00 +08:00"},
		{"to the second", showTime(at, cst, secondLayout), "2026-12-05 10:00:30 +08:00"},
		{"time of day", showTime(at, cst, clockLayout), "10:00:30 +08:00"},
		{"in UTC", showTime(at, time.UTC, minuteLayout), "2026-12-05 02:00 +00:00"},
		{"zero", showTime(time.Time{}, cst, minuteLayout), "-"},
		{"a schedule's zone", inZone(at, "Asia/Shanghai"), "2026-12-05 10:00 +08:00"},
		{"another schedule's zone", inZone(at, "Europe/Berlin"), "2026-12-05 03:00 +01:00"},
		{"the machine's zone", localTime(at), at.Local().Format("2006-01-02 15:04 -07:00")},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, tc.got) })
	}
}

// timeOfDay finds a time of day (10:00 or 10:00:30) and what follows it.
var timeOfDay = regexp.MustCompile(`\b\d{2}:\d{2}(:\d{2})?\b.{0,7}`)

// zoned is a time of day followed by its zone.
var zoned = regexp.MustCompile(`^\d{2}:\d{2}(:\d{2})? [+-]\d{2}:\d{2}`)

// Every time of day the CLI prints says its zone: a time read on a machine
// in another zone than the city's, or beside a drill's own zone, is not
// taken for another.
func TestTimesShowTheirZone(t *testing.T) {
	st := sampleStatus()
	st.ApprovalDeadline = statusT0.Add(30 * time.Minute)
	st.Retraction = &notify.Retraction{At: statusT0.Add(5 * time.Minute), By: "值班员", Correction: "A000008", Recipients: 12}
	api := fakeAPI{
		"GET /api/v1/activations": map[string]any{"items": []notify.Activation{st.Activation}},
		"GET /api/v1/activations/A000007": struct {
			notify.ActivationStatus
			Board notify.Board `json:"board"`
		}{st, sampleBoard()},
		"GET /api/v1/activations/A000007/escalation": map[string]any{"items": []notify.EscalationStepStatus{
			{Index: 0, After: plans.Duration(15 * time.Minute), Do: "sms", Due: statusT0.Add(15 * time.Minute), FiredAt: statusT0.Add(15*time.Minute + time.Second)},
			{Index: 1, After: plans.Duration(30 * time.Minute), Do: "voice", Due: statusT0.Add(30 * time.Minute)},
		}},
		"GET /api/v1/tokens":                       map[string]any{"items": []access.Token{{ID: "t1", Name: "值班员", Role: "operator", CreatedAt: statusT0, CreatedBy: "admin"}}},
		"GET /api/v1/plans/flood-control":          plans.PlanVersion{PlanID: "flood-control", Version: 1, Plan: &plans.Plan{ID: "flood-control"}, CreatedAt: statusT0, CreatedBy: "dev"},
		"POST /api/v1/activations/A000009/approve": notify.Preview{Activation: notify.Activation{ID: "A000009", CreatedAt: statusT0, CreatedBy: "值班员"}},
	}
	for _, args := range [][]string{
		{"status"},
		{"status", "A000007"},
		{"token", "list"},
		{"plan", "show", "flood-control"},
	} {
		out := mustRunOnFake(t, api, args...)
		times := timeOfDay.FindAllString(out, -1)
		assert.NotEmpty(t, times, "muster %v shows times:\n%s", args, out)
		for _, tm := range times {
			assert.Regexp(t, zoned, tm, "muster %v:\n%s", args, out)
		}
	}
	// The request an approver is asked about, on standard error.
	_, errOut, _ := runOnFake(t, api, "approve", "A000009")
	assert.Regexp(t, `requested by 值班员 at \S+ \d{2}:\d{2}:\d{2} [+-]\d{2}:\d{2}`, errOut)
	// What waits for approval says until when, with the zone.
	var b bytes.Buffer
	printActivated(&b, notify.Activation{ID: "A000010", Status: notify.StatusPendingApproval, ApprovalsRequired: 2, ApprovalDeadline: statusT0})
	assert.Regexp(t, `until \d{2}:\d{2}:\d{2} [+-]\d{2}:\d{2};`, b.String())
}

// A time in a server's refusal is shown as the CLI shows times: in the
// machine's zone with its offset, not as the state machine's UTC.
func TestServerTimesShowTheMachinesZone(t *testing.T) {
	at := time.Date(2026, 12, 6, 5, 34, 31, 0, time.UTC)
	api := refusal(http.StatusConflict, muster.Error{Code: muster.EConflict, Message: "activation A000007 was already stood down at " + at.Format(time.RFC3339) + " by 值班员"})
	_, _, err := runOnFake(t, api, "stand-down", "A000007", "--reason", "雨停")
	require.Error(t, err)
	assert.Equal(t, "activation A000007 was already stood down at "+at.Local().Format("2006-01-02 15:04:05 -07:00")+" by 值班员", err.Error())

	local := at.Local().Format("2006-01-02 15:04:05 -07:00")
	assert.Equal(t, "due "+local+", not "+local, localTimes("due 2026-12-06T05:34:31Z, not 2026-12-06T13:34:31.5+08:00"), "fractions are dropped, offsets read")
	assert.Equal(t, "version 2026-12-06T99:00:00Z stays", localTimes("version 2026-12-06T99:00:00Z stays"), "what does not parse is left as written")
}
