package drills_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/drills"
	"muster/notify"
	"muster/plans"
)

// districtPlan covers two districts and must be drilled more often than
// the defaults.
const districtPlan = `id: district-drills
title: 区级防汛预案
hazard: natural
cap_category: met
scope: ["990101", "990102"]
drills: {full: 2y, notification: 6mo}
levels:
  IV:
    criteria: 局部积水
    ack_deadline: 30m
    groups:
      - name: 网格力量
        roles:
          - name: 网格员
            select: {tags: [网格员]}
    sms: "{{.Plan}}启动{{.LevelName}}响应，请{{.Name}}回复1到岗。"
`

// overdueRun schedules a drill and runs it now.
func overdueRun(t *testing.T, e *env, in drills.ScheduleInput) drills.Run {
	t.Helper()
	ctx := testCtx(t)
	s, err := e.drills.Schedule(ctx, "trainer", in)
	require.NoError(t, err)
	r, err := e.drills.RunNow(ctx, "trainer", s.ID)
	require.NoError(t, err)
	require.Equal(t, drills.RunStarted, r.Status, "%s", r.Error)
	return r
}

func drillInput(plan plans.PlanID, typ drills.ExerciseType, regions ...plans.RegionCode) drills.ScheduleInput {
	return drills.ScheduleInput{Plan: plan, Regions: regions, Level: "IV", Type: string(typ), Title: "演练", Cron: "0 9 1 1 *", TimeZone: "Asia/Shanghai"}
}

// overdueApply proposes a command of another package through the leader,
// as the dispatcher and the webhooks do.
func overdueApply(t *testing.T, e *env, typ string, payload, out any) {
	t.Helper()
	b, err := json.Marshal(payload)
	require.NoError(t, err)
	require.NoError(t, e.c.Leader().Node.Apply(testCtx(t), &muster.Command{Type: typ, Actor: "test", Payload: b}, out))
}

// overdueRecipients reads a run's recipients in person ID order.
func overdueRecipients(t *testing.T, e *env, act plans.ActivationID) []notify.Recipient {
	t.Helper()
	var out []notify.Recipient
	require.NoError(t, e.c.Leader().Node.View(testCtx(t), muster.Default, func(tx *bolt.Tx) error {
		out = nil
		return notify.ForEachRecipient(tx, act, func(r *notify.Recipient) error {
			out = append(out, *r)
			return nil
		})
	}))
	return out
}

// overdueInbound applies webhook items as the inbound batcher does and
// checks each changed a recipient.
func overdueInbound(t *testing.T, e *env, items ...notify.InboundItem) {
	t.Helper()
	var res []notify.InboundResult
	overdueApply(t, e, notify.CmdInbound, map[string]any{"i": items}, &res)
	require.Len(t, res, len(items))
	for i, r := range res {
		require.Equal(t, notify.InboundApplied, r.Outcome, "item %d: %+v", i, items[i])
	}
}

func reply(act plans.ActivationID, r notify.Recipient, body string) notify.InboundItem {
	return notify.InboundItem{Kind: notify.InboundReply, SID: fmt.Sprintf("SM-%s-%s", act, r.Person),
		From: r.Phone, To: senders.Exercise.Sender, Body: body, Account: senders.Exercise.Account, Exercise: true}
}

// sendTo claims attempt 1 to each person and commits it sent, as the
// dispatcher does when the provider takes the message; it returns the
// message SIDs.
func sendTo(t *testing.T, e *env, act plans.ActivationID, people ...plans.PersonID) []string {
	t.Helper()
	var claims []notify.ClaimItem
	var sent []notify.ResultItem
	var sids []string
	for _, p := range people {
		claims = append(claims, notify.ClaimItem{Person: p})
		sid := fmt.Sprintf("SM%s%s", act, p)
		sids = append(sids, sid)
		sent = append(sent, notify.ResultItem{Activation: act, Person: p, N: 1, Outcome: notify.OutcomeSent, SID: sid})
	}
	var claimed notify.ClaimResult
	overdueApply(t, e, notify.CmdDispatchClaim, map[string]any{"a": act, "i": claims}, &claimed)
	require.Len(t, claimed.Claimed, len(people))
	var sum notify.ResultSummary
	overdueApply(t, e, notify.CmdDispatchResult, map[string]any{"i": sent}, &sum)
	require.Equal(t, len(people), sum.Applied)
	return sids
}

// sendAndFail sends attempt 1 to each person (sendTo) and has the provider
// report it undelivered with code.
func sendAndFail(t *testing.T, e *env, act plans.ActivationID, code int, people ...plans.PersonID) {
	t.Helper()
	var reports []notify.InboundItem
	for i, sid := range sendTo(t, e, act, people...) {
		reports = append(reports, notify.InboundItem{Kind: notify.InboundStatus, Attempt: notify.AttemptID(act, people[i], 1), SID: sid,
			Status: "undelivered", Code: code, Account: senders.Exercise.Account, Exercise: true})
	}
	overdueInbound(t, e, reports...)
}

// peopleBut lists rs's people but those at the indexes skipped.
func peopleBut(rs []notify.Recipient, skip ...int) []plans.PersonID {
	var out []plans.PersonID
	for i, r := range rs {
		if !slices.Contains(skip, i) {
			out = append(out, r.Person)
		}
	}
	return out
}

// refuse claims attempt 1 to person and records the provider's refusal to
// send it, as the dispatcher does with a permanent create error.
func refuse(t *testing.T, e *env, act plans.ActivationID, p plans.PersonID, code int, msg string) {
	t.Helper()
	var claimed notify.ClaimResult
	overdueApply(t, e, notify.CmdDispatchClaim, map[string]any{"a": act, "i": []notify.ClaimItem{{Person: p}}}, &claimed)
	require.Len(t, claimed.Claimed, 1)
	var sum notify.ResultSummary
	overdueApply(t, e, notify.CmdDispatchResult, map[string]any{"i": []notify.ResultItem{{Activation: act, Person: p, N: 1, Outcome: notify.OutcomeFailed, Code: code, Error: msg}}}, &sum)
	require.Equal(t, 1, sum.Applied)
}

func findRegion(t *testing.T, rep drills.OverdueReport, plan plans.PlanID, region plans.RegionCode) drills.RegionDrills {
	t.Helper()
	for _, r := range rep.Regions {
		if r.Plan == plan && r.Region == region {
			return r
		}
	}
	require.Failf(t, "region missing", "%s %s not in the report", plan, region)
	return drills.RegionDrills{}
}

func TestOverdueRegions(t *testing.T) {
	// Stamped with the clock, moved on a run's length between the runs
	// over the same people (a run by hand over another drill's open run is
	// refused): each is still under way when the report is read.
	e := newEnvWith(t, envOptions{nodes: 1, people: 400, stamp: true})
	ctx := testCtx(t)
	_, err := e.plans.ApplyPlan(ctx, "test", "district.yaml", []byte(districtPlan))
	require.NoError(t, err)
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)

	// A notification drill in a street of the first district (under a
	// scope region), a city-wide tabletop (above both, scope confirmed),
	// and a flood-control notification drill in a district (under the
	// flood plan's city scope).
	streetRun := overdueRun(t, e, drillInput("district-drills", drills.Notification, street))
	cityIn := drillInput("district-drills", drills.Tabletop, city)
	cityIn.ConfirmScope = string(city)
	e.clock.Add(drills.DefaultLength)
	cityRun := overdueRun(t, e, cityIn)
	e.clock.Add(drills.DefaultLength)
	floodRun := overdueRun(t, e, drillInput("flood-control", drills.Notification, district))

	now := floodRun.At.Add(30 * 24 * time.Hour)
	rep, err := e.drills.Overdue(ctx, muster.Default, now)
	require.NoError(t, err)
	assert.True(t, rep.Now.Equal(now))
	var keys []string
	for _, r := range rep.Regions {
		keys = append(keys, string(r.Plan)+"/"+string(r.Region))
	}
	assert.Equal(t, []string{"district-drills/990101", "district-drills/990102", "flood-control/990100", "hazmat-fire/990100", "public-health/990100"}, keys,
		"every plan and every region of its scope, in order")

	d1 := findRegion(t, rep, "district-drills", district)
	assert.Equal(t, plans.Period{Months: 6}, d1.Notification.Interval, "the plan's own interval")
	assert.Equal(t, streetRun.ID, d1.Notification.LastRun, "a street drill covers its district")
	assert.True(t, d1.Notification.NextDue.Equal(streetRun.At.In(loc).AddDate(0, 6, 0)))
	assert.False(t, d1.Notification.Overdue)
	assert.Equal(t, plans.Period{Years: 2}, d1.Full.Interval)
	assert.Equal(t, cityRun.ID, d1.Full.LastRun, "a city-wide tabletop covers the district")
	assert.Equal(t, drills.Tabletop, d1.Full.LastType)
	assert.True(t, d1.Full.NextDue.Equal(cityRun.At.In(loc).AddDate(2, 0, 0)))
	assert.False(t, d1.Overdue)
	assert.Equal(t, "district-drills", string(d1.Plan))
	assert.Equal(t, "区级防汛预案", d1.PlanTitle)
	assert.NotEmpty(t, d1.RegionName)

	d2 := findRegion(t, rep, "district-drills", other)
	assert.Equal(t, cityRun.ID, d2.Full.LastRun)
	assert.False(t, d2.Full.Overdue)
	assert.True(t, d2.Notification.Never, "the street drill does not cover the other district")
	assert.True(t, d2.Notification.Overdue, "never drilled is overdue")
	assert.True(t, d2.Overdue)

	flood := findRegion(t, rep, "flood-control", city)
	assert.Equal(t, floodRun.ID, flood.Notification.LastRun, "a district drill covers the city scope")
	assert.False(t, flood.Notification.Overdue)
	assert.True(t, flood.Full.Never, "a notification drill is not an exercise of the full plan")
	assert.True(t, flood.Full.Overdue)
	assert.Empty(t, flood.Full.LastRun)

	hazmat := findRegion(t, rep, "hazmat-fire", city)
	assert.Equal(t, plans.Period{Years: 3}, hazmat.Full.Interval, "default for the full plan")
	assert.Equal(t, plans.Period{Years: 1}, hazmat.Notification.Interval, "default for a notification drill")
	assert.True(t, hazmat.Full.Never && hazmat.Notification.Never && hazmat.Overdue)

	// Six months on the street drill is due: at the very time it is
	// overdue, and two days later it is two days overdue.
	due := d1.Notification.NextDue
	rep, err = e.drills.Overdue(ctx, muster.Default, due.Add(-time.Second))
	require.NoError(t, err)
	assert.False(t, findRegion(t, rep, "district-drills", district).Notification.Overdue)
	rep, err = e.drills.Overdue(ctx, muster.Default, due)
	require.NoError(t, err)
	at := findRegion(t, rep, "district-drills", district).Notification
	assert.True(t, at.Overdue)
	assert.Zero(t, at.DaysOverdue)
	rep, err = e.drills.Overdue(ctx, muster.Default, due.AddDate(0, 0, 2))
	require.NoError(t, err)
	late := findRegion(t, rep, "district-drills", district)
	assert.True(t, late.Notification.Overdue)
	assert.Equal(t, 2, late.Notification.DaysOverdue)
	assert.False(t, late.Full.Overdue, "the tabletop is good for two years")
	again, err := e.drills.Overdue(ctx, muster.Default, due.AddDate(0, 0, 2))
	require.NoError(t, err)
	assert.Equal(t, rep, again, "the same state and time give the same report")

	// A plan narrowed to a street in a new version: the district-wide
	// drills of the older version lie above it and still count.
	narrowed := strings.Replace(districtPlan, `scope: ["990101", "990102"]`, `scope: ["990101001"]`, 1)
	res, err := e.plans.ApplyPlan(ctx, "test", "district.yaml", []byte(narrowed))
	require.NoError(t, err)
	require.Equal(t, 2, res.Version)
	rep, err = e.drills.Overdue(ctx, muster.Default, now)
	require.NoError(t, err)
	s := findRegion(t, rep, "district-drills", street)
	assert.Equal(t, 2, s.PlanVersion)
	assert.Equal(t, streetRun.ID, s.Notification.LastRun)
	assert.Equal(t, cityRun.ID, s.Full.LastRun, "the city-wide tabletop lies above the street")
}

func TestOverdueRoster(t *testing.T) {
	// Stamped by the test's clock: each run is closed when its length is
	// over, as the scheduler does (a run stood down within MinHeld was not
	// held). Under rules 10 the failed sends below are final; from rules
	// 11 p5's would go on to their second mobile, which no one sends.
	e := newEnvWith(t, envOptions{nodes: 1, people: 600, stamp: true, rules: 10})
	ctx := testCtx(t)
	in := drillInput("flood-control", drills.Notification, district)
	s, err := e.drills.Schedule(ctx, "trainer", in)
	require.NoError(t, err)

	// Run 1: p7 is never sent to (as when a drill is stood down first);
	// everyone else is, and answers but p1, p2 and p3.
	run1, err := e.drills.RunNow(ctx, "trainer", s.ID)
	require.NoError(t, err)
	rs := overdueRecipients(t, e, run1.Activation)
	require.GreaterOrEqual(t, len(rs), 9, "the district has enough people to drill")
	p := func(i int) plans.PersonID { return rs[i].Person }
	sendTo(t, e, run1.Activation, peopleBut(rs, 7)...)
	var acks []notify.InboundItem
	for i, r := range rs {
		if (i < 1 || i > 3) && i != 7 {
			acks = append(acks, reply(run1.Activation, r, "1"))
		}
	}
	overdueInbound(t, e, acks...)
	e.clock.Set(run1.EndsAt)
	_, err = e.drills.Close(ctx, "trainer", run1.ID, "")
	require.NoError(t, err)

	// Run 2: p2 declines, p3 and p5 have wrong numbers, p4 a landline, p6
	// a number the carrier filters; everyone else, p0, p1 and p7 among
	// them, stays silent.
	run2, err := e.drills.RunNow(ctx, "trainer", s.ID)
	require.NoError(t, err)
	rs2 := overdueRecipients(t, e, run2.Activation)
	require.Equal(t, len(rs), len(rs2), "the same people are called")
	sendTo(t, e, run2.Activation, peopleBut(rs, 3, 4, 5, 6)...)
	overdueInbound(t, e, reply(run2.Activation, rs2[2], "2 出差在外"))
	sendAndFail(t, e, run2.Activation, 21211, p(3))
	sendAndFail(t, e, run2.Activation, 30006, p(4))
	refuse(t, e, run2.Activation, p(5), 21610, "Attempt to send to unsubscribed recipient")
	sendAndFail(t, e, run2.Activation, 30007, p(6))
	e.clock.Set(run2.EndsAt)
	_, err = e.drills.Close(ctx, "trainer", run2.ID, "")
	require.NoError(t, err)

	// p4's number has since been corrected and p6 has left the roster.
	old, err := e.plans.Person(ctx, muster.Default, p(4))
	require.NoError(t, err)
	_, err = e.plans.UpdatePerson(ctx, "admin", p(4), plans.PersonInput{ExternalID: old.ExternalID, Name: old.Name, Phones: []string{"+8613912345678"},
		Grid: string(old.Grid), Category: string(old.Category), Tags: old.Tags, Teams: old.Teams, Backup: string(old.Backup), Language: string(old.Language)})
	require.NoError(t, err)
	require.NoError(t, e.plans.DeletePerson(ctx, "admin", p(6)))

	type line struct {
		Kind   drills.FailureKind
		Person plans.PersonID
		Code   int
	}
	roster := func(now time.Time) ([]line, []drills.RosterFailure) {
		t.Helper()
		rep, err := e.drills.Overdue(ctx, muster.Default, now)
		require.NoError(t, err)
		var lines []line
		for _, f := range rep.Roster {
			require.Equal(t, plans.PlanID("flood-control"), f.Plan)
			lines = append(lines, line{f.Kind, f.Person, f.Code})
		}
		return lines, rep.Roster
	}
	now := run2.At.Add(24 * time.Hour)
	lines, failures := roster(now)
	want := []line{
		{drills.FailWrongNumber, p(3), 21211},
		{drills.FailWrongNumber, p(5), 21610},
		{drills.FailLandline, p(4), 30006},
		{drills.FailPermanent, p(6), 30007},
		{drills.FailNoAnswer, p(1), 0},
	}
	require.Equal(t, want, lines, "p0 answered the first time, p2 declined the second, p3 failed rather than went silent, p7 was not sent to the first time")
	assert.Equal(t, "invalid phone number (21211)", failures[0].Reason)
	assert.Contains(t, failures[1].Reason, "unsubscribed")
	assert.Contains(t, failures[1].Reason, "(21610)")
	assert.Equal(t, "landline or unreachable carrier (30006)", failures[2].Reason)
	assert.Equal(t, "filtered by the carrier (30007)", failures[3].Reason)
	assert.Equal(t, []drills.RunID{run2.ID}, failures[0].Runs)
	assert.Equal(t, []drills.RunID{run1.ID, run2.ID}, failures[4].Runs)
	assert.Contains(t, failures[4].Reason, "no answer in "+string(run1.ID))
	assert.Equal(t, rs[3].Phone, failures[0].Phone, "the number the drill used")
	assert.Equal(t, rs[3].Name, failures[0].Name)
	assert.True(t, failures[2].PhoneChanged, "p4's number was changed since")
	assert.True(t, failures[3].Removed, "p6 left the roster")
	assert.False(t, failures[0].PhoneChanged || failures[0].Removed)

	// A third run still calling people up is not judged yet...
	run3, err := e.drills.RunNow(ctx, "trainer", s.ID)
	require.NoError(t, err)
	during, _ := roster(run3.At.Add(time.Minute))
	assert.Equal(t, want, during, "a drill under way changes nothing")

	// ...and once it is over, silence in runs 2 and 3 counts: everyone
	// sent to both times but p2, who declined in run 2, and p3–p6, whose
	// messages failed in run 2 (p6 was not called in run 3 either).
	rs3 := overdueRecipients(t, e, run3.Activation)
	require.Len(t, rs3, len(rs)-1, "p6 left the roster")
	var all3 []plans.PersonID
	for _, r := range rs3 {
		all3 = append(all3, r.Person)
	}
	sendTo(t, e, run3.Activation, all3...)
	after, failures := roster(run3.At.Add(2 * time.Hour))
	require.Len(t, after, len(rs)-5)
	for _, l := range after {
		assert.Equal(t, drills.FailNoAnswer, l.Kind)
		assert.NotContains(t, []plans.PersonID{p(2), p(3), p(4), p(5), p(6)}, l.Person)
	}
	assert.True(t, slices.IsSortedFunc(failures, func(a, b drills.RosterFailure) int { return strings.Compare(string(a.Person), string(b.Person)) }))
	assert.Equal(t, []drills.RunID{run2.ID, run3.ID}, failures[0].Runs)
}

func TestOverdueDescribeFailure(t *testing.T) {
	tests := []struct {
		code   int
		err    string
		kind   drills.FailureKind
		reason string
	}{
		{21211, "", drills.FailWrongNumber, "invalid phone number (21211)"},
		{21614, "", drills.FailWrongNumber, "not a mobile number (21614)"},
		{21610, "", drills.FailWrongNumber, "unsubscribed: the number sent STOP to the exercise sender (21610)"},
		{30005, "", drills.FailWrongNumber, "unknown or inactive number (30005)"},
		{30006, "", drills.FailLandline, "landline or unreachable carrier (30006)"},
		{30003, "", drills.FailPermanent, "handset unreachable on every try (30003)"},
		{31999, "", drills.FailPermanent, "delivery failed (31999)"},
		{0, "send sms: permanent error (HTTP 404): not found", drills.FailPermanent, "delivery failed: send sms: permanent error (HTTP 404): not found"},
		{0, "", drills.FailPermanent, "delivery failed"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code, tt.err), func(t *testing.T) {
			kind, reason := drills.DescribeFailure(tt.code, tt.err)
			assert.Equal(t, tt.kind, kind)
			assert.Equal(t, tt.reason, reason)
		})
	}
}

// A drill cut short because a LIVE call-up started over its regions (which
// stands it down) was not held: it does not count as the region's last
// drill, and its silent people did not fail it.
func TestDrillCutShortByALiveCallUpIsNotADrillHeld(t *testing.T) {
	e := newEnv(t, 1, 400)
	ctx := testCtx(t)
	run := overdueRun(t, e, drillInput("flood-control", drills.Notification, district))
	live, err := e.notify.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "IV", Purpose: "LIVE", Reason: "暴雨"})
	require.NoError(t, err)
	require.Equal(t, []plans.ActivationID{run.Activation}, live.StoppedDrills)
	a, err := e.notify.Activation(ctx, muster.Default, run.Activation)
	require.NoError(t, err)
	assert.Equal(t, notify.StatusStoodDown, a.Status)
	assert.Equal(t, live.ID, a.StoppedBy)
	// The run says so as it is read, alone and in the list.
	got, err := e.drills.GetRun(ctx, muster.Default, run.ID)
	require.NoError(t, err)
	assert.Equal(t, live.ID, got.StoppedBy)
	assert.False(t, got.Retracted)
	list, err := e.drills.Runs(ctx, muster.Default, drills.RunFilter{}, plans.Page{})
	require.NoError(t, err)
	require.Len(t, list.Items, 1)
	assert.Equal(t, live.ID, list.Items[0].StoppedBy)

	rep, err := e.drills.Overdue(ctx, muster.Default, run.At.Add(24*time.Hour))
	require.NoError(t, err)
	flood := findRegion(t, rep, "flood-control", city)
	assert.True(t, flood.Notification.Never, "the interrupted drill is not the last one held")
	assert.Empty(t, flood.Notification.LastRun)
}

// A drill retracted as a mistake, or stood down by hand seconds after it
// started, was not held either: it does not count as the region's last
// drill, and the people who had no time to answer it are not listed as
// silent. One stood down by hand after MinHeld was held.
func TestDrillRetractedOrStoodDownEarlyIsNotADrillHeld(t *testing.T) {
	e := newClockedEnv(t, 1, 400, nil)
	ctx := testCtx(t)
	s, err := e.drills.Schedule(ctx, "trainer", drillInput("flood-control", drills.Notification, district))
	require.NoError(t, err)
	// runSilent runs the drill now and sends to everyone, who all stay silent.
	runSilent := func() drills.Run {
		t.Helper()
		r, err := e.drills.RunNow(ctx, "trainer", s.ID)
		require.NoError(t, err)
		var people []plans.PersonID
		for _, rc := range overdueRecipients(t, e, r.Activation) {
			people = append(people, rc.Person)
		}
		require.NotEmpty(t, people)
		sendTo(t, e, r.Activation, people...)
		return r
	}
	report := func(now time.Time) (drills.DrillDue, []drills.RosterFailure) {
		t.Helper()
		rep, err := e.drills.Overdue(ctx, muster.Default, now)
		require.NoError(t, err)
		return findRegion(t, rep, "flood-control", city).Notification, rep.Roster
	}

	retracted := runSilent()
	e.clock.Add(30 * time.Second)
	_, err = e.notify.Retract(ctx, "commander", retracted.Activation, notify.RetractRequest{Message: "误发，请忽略"})
	require.NoError(t, err)
	got, err := e.drills.GetRun(ctx, muster.Default, retracted.ID)
	require.NoError(t, err)
	assert.True(t, got.Retracted, "the run says it was retracted")
	assert.Empty(t, got.StoppedBy)
	e.clock.Add(time.Minute)
	early := runSilent()
	e.clock.Add(6 * time.Second)
	_, err = e.notify.StandDown(ctx, "trainer", early.Activation, "x")
	require.NoError(t, err)

	notification, roster := report(early.At.Add(24 * time.Hour))
	assert.True(t, notification.Never, "neither was a drill held: last %s", notification.LastRun)
	assert.Empty(t, roster, "nobody had the time to answer either")

	// Stood down by hand after MinHeld, a run was held (a run closed when
	// its length is over is held whenever that is).
	e.clock.Add(time.Minute)
	held := runSilent()
	e.clock.Add(drills.MinHeld)
	_, err = e.notify.StandDown(ctx, "trainer", held.Activation, "都已回复")
	require.NoError(t, err)
	notification, roster = report(held.At.Add(24 * time.Hour))
	assert.Equal(t, held.ID, notification.LastRun)
	assert.Empty(t, roster, "one run held is not two runs unanswered")
}

// From rules 11 a call-up SMS goes on from a number that cannot take it
// to the person's next phone. The roster report lists the number it left,
// which needs correcting though the person was reached, saying where the
// call-up went; a number still theirs is not "changed since".
func TestOverdueRosterListsTheNumberACallUpLeft(t *testing.T) {
	e := newEnvWith(t, envOptions{nodes: 1, people: 600, stamp: true})
	ctx := testCtx(t)
	s, err := e.drills.Schedule(ctx, "trainer", drillInput("flood-control", drills.Notification, district))
	require.NoError(t, err)
	run, err := e.drills.RunNow(ctx, "trainer", s.ID)
	require.NoError(t, err)
	var who plans.PersonID
	var phones []string
	for _, r := range overdueRecipients(t, e, run.Activation) {
		p, err := e.plans.Person(ctx, muster.Default, r.Person)
		require.NoError(t, err)
		if len(p.Phones) >= 2 {
			who, phones = r.Person, p.Phones
			break
		}
	}
	require.NotEmpty(t, who, "someone called up has two phones")

	sendAndFail(t, e, run.Activation, 21211, who)
	var moved []notify.Recipient
	for _, r := range overdueRecipients(t, e, run.Activation) {
		if r.Person == who {
			moved = append(moved, r)
		}
	}
	require.Len(t, moved, 1)
	require.Equal(t, phones[1], moved[0].Phone, "the call-up went on to the next phone")
	var claimed notify.ClaimResult
	overdueApply(t, e, notify.CmdDispatchClaim, map[string]any{"a": run.Activation, "i": []notify.ClaimItem{{Person: who, N: 1}}}, &claimed)
	require.Len(t, claimed.Claimed, 1)
	var sum notify.ResultSummary
	overdueApply(t, e, notify.CmdDispatchResult, map[string]any{"i": []notify.ResultItem{{Activation: run.Activation, Person: who, N: 2, Outcome: notify.OutcomeSent, SID: "SMnext"}}}, &sum)
	require.Equal(t, 1, sum.Applied)
	e.clock.Set(run.EndsAt)
	_, err = e.drills.Close(ctx, "trainer", run.ID, "")
	require.NoError(t, err)

	rep, err := e.drills.Overdue(ctx, muster.Default, run.At.Add(24*time.Hour))
	require.NoError(t, err)
	var listed []drills.RosterFailure
	for _, f := range rep.Roster {
		if f.Person == who {
			listed = append(listed, f)
		}
	}
	require.Len(t, listed, 1, "%+v", listed)
	f := listed[0]
	assert.Equal(t, drills.FailWrongNumber, f.Kind)
	assert.Equal(t, phones[0], f.Phone, "the number that failed")
	assert.Equal(t, 21211, f.Code)
	assert.Equal(t, "invalid phone number (21211); the call-up went on to "+phones[1], f.Reason)
	assert.Equal(t, []drills.RunID{run.ID}, f.Runs)
	assert.False(t, f.PhoneChanged, "the number is still theirs")
	assert.False(t, f.Removed)
}
