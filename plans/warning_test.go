package plans_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/plans"
)

const (
	wCity     = plans.RegionCode("990100")
	wDistrict = plans.RegionCode("990101")
	wStreet   = plans.RegionCode("990101001")
	wGrid     = plans.RegionCode("990101001001001")
	wOther    = plans.RegionCode("990102")
)

// cmdTestHold holds or releases a region for an activation, as notify does
// when an activation starts or stands down, or marks the activation as
// retracted for the warnings it answered, as notify's retraction does.
const cmdTestHold = "test.hold"

type testHold struct {
	Region  plans.RegionCode
	Level   plans.LevelCode
	Act     plans.ActivationID
	Release bool
	Retract bool
	// StandDown stands Act down over Region as notify's stand-down does
	// (from rules 12 the region is in recovery once nothing holds it);
	// with Retract, Act was stood down before and is retracted now.
	StandDown bool
	// Drill starts a drill (EXERCISE or TEST) activation over Region: it
	// holds nothing and answers the drill warnings over it.
	Drill bool
	// Actor and Reason, when set, are the hold's (default: commander,
	// 启动响应).
	Actor, Reason string
	// Requester, when set, asked for the activation that Actor approved.
	Requester string
}

type warnEnv struct {
	clk  *clustertest.Clock
	node *cluster.Node
	svc  *plans.WarningService
	// under, when set, is the rules every command is applied under instead
	// of those the leader stamped: a member of an older muster joined.
	under *atomic.Int64
}

// newWarnEnv starts a single-node cluster stamping commands with a test
// clock, with the demo city, the example plans, flood-east (the flood plan
// scoped to district 990102) and the minimal plan (level IV only).
func newWarnEnv(t *testing.T) *warnEnv { t.Helper(); return newWarnEnvUnder(t, 0) }

// newWarnEnvUnder is newWarnEnv with its node under the given state-machine
// rules (0: this muster's).
func newWarnEnvUnder(t *testing.T, rules int) *warnEnv {
	t.Helper()
	clk := clustertest.NewClock(time.Date(2026, 7, 20, 8, 0, 0, 0, time.UTC))
	under := new(atomic.Int64)
	c := clustertest.New(t, 1, clustertest.Options{
		Setup: func(_ int, n *cluster.Node) {
			reg := rulesOverride{n: n, under: under}
			plans.Register(reg)
			reg.Handle(cmdTestHold, func(tx *bolt.Tx, c *muster.Command) (any, error) {
				var h testHold
				if err := json.Unmarshal(c.Payload, &h); err != nil {
					return nil, err
				}
				if h.Retract && h.StandDown {
					if err := plans.RetractResponses(tx, h.Act, c.Time); err != nil {
						return nil, err
					}
					return nil, plans.RetractRecovery(tx, c, h.Region, h.Act, "误发撤回")
				}
				if h.StandDown {
					return nil, plans.StandDownEmergency(tx, c, h.Region, h.Act, "雨情缓解")
				}
				if h.Retract {
					if err := plans.RetractResponses(tx, h.Act, c.Time); err != nil {
						return nil, err
					}
					return nil, plans.ReleaseEmergency(tx, h.Region, h.Act, c.Time, c.Actor, "误发撤回")
				}
				if h.Release {
					return nil, plans.ReleaseEmergency(tx, h.Region, h.Act, c.Time, c.Actor, "雨停")
				}
				if h.Drill {
					return nil, plans.AnswerDrillWarnings(tx, c, []plans.RegionCode{h.Region}, h.Act, h.Level)
				}
				return nil, plans.HoldEmergency(tx, c, h.Region, h.Level, h.Act, cmp.Or(h.Reason, "启动响应"), h.Requester)
			})
		},
		Config: func(_ int, cfg *cluster.Config) { cfg.Clock, cfg.Rules = clk, rules },
	})
	n := c.Nodes[0].Node
	ps := plans.NewService(n, n)
	ctx := testCtx(t)
	_, err := ps.ImportRegions(ctx, "test", bytes.NewReader(examples.RegionsCSV()))
	require.NoError(t, err)
	files, err := examples.Plans()
	require.NoError(t, err)
	for _, f := range files {
		_, err := ps.ApplyPlan(ctx, "test", f.Name, f.Data)
		require.NoError(t, err)
		if f.Name == "flood.yaml" {
			src := strings.Replace(string(f.Data), "id: flood-control", "id: flood-east", 1)
			src = strings.Replace(src, `scope: ["990100"]`, `scope: ["990102"]`, 1)
			_, err := ps.ApplyPlan(ctx, "test", "flood-east.yaml", []byte(src))
			require.NoError(t, err)
		}
	}
	minimal, err := os.ReadFile("testdata/plans/good-minimal.yaml")
	require.NoError(t, err)
	_, err = ps.ApplyPlan(ctx, "test", "good-minimal.yaml", minimal)
	require.NoError(t, err)
	return &warnEnv{clk: clk, node: n, under: under, svc: plans.NewWarningService(n, n, plans.WarningConfig{Clock: clk, ResponseTimeout: 10 * time.Minute})}
}

// rulesOverride registers apply functions on n that apply each command
// under the rules in under when it is set (see warnEnv.under).
type rulesOverride struct {
	n     *cluster.Node
	under *atomic.Int64
}

func (r rulesOverride) Handle(t string, fn muster.ApplyFunc) {
	r.n.Handle(t, func(tx *bolt.Tx, c *muster.Command) (any, error) {
		if v := r.under.Load(); v > 0 {
			cc := *c
			cc.Rules = int(v)
			c = &cc
		}
		return fn(tx, c)
	})
}

func (e *warnEnv) issue(t *testing.T, in plans.WarningInput) plans.Warning {
	t.Helper()
	w, err := e.svc.Issue(testCtx(t), "duty", in)
	require.NoError(t, err)
	return w
}

func (e *warnEnv) lift(t *testing.T, id plans.WarningID) plans.Warning {
	t.Helper()
	w, err := e.svc.Lift(testCtx(t), "duty", id, "预警解除")
	require.NoError(t, err)
	return w
}

func (e *warnEnv) hold(t *testing.T, h testHold) {
	t.Helper()
	b, _ := json.Marshal(h)
	require.NoError(t, e.node.Apply(testCtx(t), &muster.Command{Type: cmdTestHold, Actor: cmp.Or(h.Actor, "commander"), Payload: b}, nil))
}

func (e *warnEnv) mode(t *testing.T, r plans.RegionCode) plans.RegionMode {
	t.Helper()
	var m plans.RegionMode
	require.NoError(t, e.node.View(testCtx(t), muster.Default, func(tx *bolt.Tx) error {
		var err error
		m, err = plans.EffectiveMode(tx, r)
		return err
	}))
	return m
}

func (e *warnEnv) audit(t *testing.T) []plans.AuditRecord {
	t.Helper()
	var out []plans.AuditRecord
	require.NoError(t, e.node.View(testCtx(t), muster.Default, func(tx *bolt.Tx) error {
		var err error
		out, err = plans.AuditTrail(tx, 0, 1000)
		return err
	}))
	return out
}

func (e *warnEnv) modeRecords(t *testing.T) []plans.ModeRecord {
	t.Helper()
	var out []plans.ModeRecord
	require.NoError(t, e.node.View(testCtx(t), muster.Default, func(tx *bolt.Tx) error {
		var err error
		out, err = plans.Modes(tx)
		return err
	}))
	return out
}

// holding is how a region's mode names the warnings ws holding it.
func holding(ws ...plans.Warning) []plans.WarningHold {
	out := make([]plans.WarningHold, len(ws))
	for i, w := range ws {
		out[i] = plans.WarningHold{Warning: w.ID, Level: w.Level, Headline: w.Headline}
	}
	return out
}

func rain(level string, regions ...plans.RegionCode) plans.WarningInput {
	return plans.WarningInput{Regions: regions, Level: level, Event: "暴雨", Headline: "东湖区暴雨" + level + "预警", Source: "test"}
}

func TestParseWarningLevel(t *testing.T) {
	tests := []struct {
		in   string
		want plans.WarningLevel
	}{
		{"red", plans.WarningRed}, {" RED ", plans.WarningRed}, {"红", plans.WarningRed}, {"红色预警", plans.WarningRed},
		{"Orange", plans.WarningOrange}, {"橙", plans.WarningOrange}, {"橙色", plans.WarningOrange},
		{"yellow", plans.WarningYellow}, {"黄", plans.WarningYellow},
		{"blue", plans.WarningBlue}, {"蓝", plans.WarningBlue}, {"蓝色", plans.WarningBlue},
	}
	for _, tt := range tests {
		got, err := plans.ParseWarningLevel(tt.in)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
	for _, bad := range []string{"", "purple", "1", "一级", "I"} {
		_, err := plans.ParseWarningLevel(bad)
		assert.True(t, muster.IsCode(err, muster.EInvalid), "%q: %v", bad, err)
	}
	assert.Equal(t, []plans.LevelCode{plans.LevelI, plans.LevelII, plans.LevelIII, plans.LevelIV},
		[]plans.LevelCode{plans.WarningRed.ResponseLevel(), plans.WarningOrange.ResponseLevel(), plans.WarningYellow.ResponseLevel(), plans.WarningBlue.ResponseLevel()})
	assert.Equal(t, "Extreme", plans.WarningRed.CAPSeverity())
	assert.Equal(t, "Minor", plans.WarningBlue.CAPSeverity())
	assert.Equal(t, "橙色", plans.WarningOrange.ChineseName())
	assert.True(t, plans.WarningOrange.NeedsResponse())
	assert.False(t, plans.WarningYellow.NeedsResponse())
}

func TestWarningStandbyAndEmergencyPrecedence(t *testing.T) {
	e := newWarnEnv(t)
	t0 := e.clk.Now()

	// A warning puts the district and everything under it in standby.
	w1 := e.issue(t, rain("orange", wDistrict))
	assert.Equal(t, plans.WarningID("W000001"), w1.ID)
	assert.Equal(t, plans.WarningActive, w1.Status)
	assert.Equal(t, []plans.WarningArea{{Code: wDistrict, Name: "东湖区"}}, w1.Areas)
	assert.Equal(t, "东湖区", w1.RegionNames())
	assert.Equal(t, t0, w1.IssuedAt)
	assert.Equal(t, "duty", w1.IssuedBy)
	assert.Equal(t, t0.Add(10*time.Minute), w1.RespondBy, "the service's response time is stamped in")
	assert.Equal(t, plans.RegionMode{Region: wDistrict, Mode: plans.ModeStandby, From: wDistrict, WarningLevel: plans.WarningOrange,
		Warnings: holding(w1)}, e.mode(t, wDistrict))
	assert.Equal(t, plans.ModeStandby, e.mode(t, wGrid).Mode, "children inherit standby")
	assert.Equal(t, plans.ModeNormal, e.mode(t, wOther).Mode)
	assert.Equal(t, plans.ModeNormal, e.mode(t, wCity).Mode)

	// An activation outranks the warning; a second warning leaves it in emergency.
	e.clk.Add(time.Minute)
	e.hold(t, testHold{Region: wDistrict, Level: plans.LevelII, Act: "A000001"})
	assert.Equal(t, plans.RegionMode{Region: wDistrict, Mode: plans.ModeEmergency, Level: plans.LevelII, From: wDistrict, WarningLevel: plans.WarningOrange,
		Warnings: holding(w1)}, e.mode(t, wDistrict))
	e.clk.Add(time.Minute)
	w2 := e.issue(t, rain("yellow", wDistrict))
	assert.Equal(t, plans.ModeEmergency, e.mode(t, wStreet).Mode)

	// A warning on a street under an emergency district: the street stays in
	// emergency by inheritance although it has a standby record of its own.
	w3 := e.issue(t, rain("blue", wStreet))
	assert.Equal(t, plans.RegionMode{Region: wStreet, Mode: plans.ModeEmergency, Level: plans.LevelII, From: wDistrict, WarningLevel: plans.WarningOrange,
		Warnings: holding(w1, w2, w3)}, e.mode(t, wStreet))

	// The last activation stands down: back to standby, not normal.
	e.clk.Add(time.Minute)
	e.hold(t, testHold{Region: wDistrict, Act: "A000001", Release: true})
	assert.Equal(t, plans.ModeStandby, e.mode(t, wDistrict).Mode)
	assert.Equal(t, plans.RegionMode{Region: wStreet, Mode: plans.ModeStandby, From: wStreet, WarningLevel: plans.WarningOrange,
		Warnings: holding(w1, w2, w3)}, e.mode(t, wStreet))

	// Lifting one warning keeps the other's standby; lifting the last goes normal.
	e.clk.Add(time.Minute)
	lifted := e.lift(t, w1.ID)
	assert.Equal(t, plans.WarningLifted, lifted.Status)
	assert.Equal(t, "预警解除", lifted.LiftReason)
	assert.Equal(t, "duty", lifted.LiftedBy)
	assert.Equal(t, plans.RegionMode{Region: wDistrict, Mode: plans.ModeStandby, From: wDistrict, WarningLevel: plans.WarningYellow,
		Warnings: holding(w2)}, e.mode(t, wDistrict))
	e.lift(t, w2.ID)
	assert.Equal(t, plans.ModeNormal, e.mode(t, wDistrict).Mode)
	assert.Equal(t, plans.ModeStandby, e.mode(t, wGrid).Mode, "the street's own warning still holds it")
	e.lift(t, w3.ID)
	assert.Equal(t, plans.ModeNormal, e.mode(t, wGrid).Mode)
	assert.Empty(t, e.modeRecords(t))

	_, err := e.svc.Lift(testCtx(t), "duty", w1.ID, "again")
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	_, err = e.svc.Lift(testCtx(t), "duty", "W000099", "x")
	assert.True(t, muster.IsCode(err, muster.ENotFound), "%v", err)
	_, err = e.svc.Lift(testCtx(t), "duty", w1.ID, " ")
	assert.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)

	// Every switch is audited with its actor, reason and warning or activation.
	type sw struct {
		Action   string
		Region   plans.RegionCode
		From, To plans.Mode
		Warning  plans.WarningID
		Act      plans.ActivationID
		Actor    string
	}
	var got []sw
	for _, r := range e.audit(t) {
		got = append(got, sw{r.Action, r.Region, r.From, r.To, r.Warning, r.Activation, r.Actor})
		assert.NotEmpty(t, r.Reason)
		assert.False(t, r.Time.IsZero())
	}
	assert.Equal(t, []sw{
		{plans.AuditWarningHold, wDistrict, plans.ModeNormal, plans.ModeStandby, w1.ID, "", "duty"},
		{plans.AuditHold, wDistrict, plans.ModeStandby, plans.ModeEmergency, "", "A000001", "commander"},
		{plans.AuditWarningHold, wDistrict, plans.ModeEmergency, plans.ModeEmergency, w2.ID, "", "duty"},
		{plans.AuditWarningHold, wStreet, plans.ModeEmergency, plans.ModeEmergency, w3.ID, "", "duty"},
		{plans.AuditRelease, wDistrict, plans.ModeEmergency, plans.ModeStandby, "", "A000001", "commander"},
		{plans.AuditWarningRelease, wDistrict, plans.ModeStandby, plans.ModeStandby, w1.ID, "", "duty"},
		{plans.AuditWarningRelease, wDistrict, plans.ModeStandby, plans.ModeNormal, w2.ID, "", "duty"},
		{plans.AuditWarningRelease, wStreet, plans.ModeStandby, plans.ModeNormal, w3.ID, "", "duty"},
	}, got)
	trail := e.audit(t)
	assert.Equal(t, "预警解除", trail[5].Reason)
	assert.Equal(t, plans.WarningOrange, trail[0].WarningLevel)
	assert.Contains(t, trail[0].Reason, "橙色预警 W000001")
}

func TestWarningIssueRefusesBadInput(t *testing.T) {
	e := newWarnEnv(t)
	now := e.clk.Now()
	tests := []struct {
		name string
		in   plans.WarningInput
		msg  string
	}{
		{"bad level", rain("purple", wDistrict), "warning level"},
		{"no regions", rain("red"), "regions"},
		{"unknown region", rain("red", "990199"), "990199 does not exist"},
		{"no headline", plans.WarningInput{Regions: []plans.RegionCode{wDistrict}, Level: "red", Event: "暴雨"}, "headline"},
		{"no event", plans.WarningInput{Regions: []plans.RegionCode{wDistrict}, Level: "red", Headline: "x"}, "event"},
		{"bad category", func() plans.WarningInput { in := rain("red", wDistrict); in.Category = "weather"; return in }(), "hazard"},
		{"expiry in the past", func() plans.WarningInput { in := rain("red", wDistrict); in.Expires = now.Add(-time.Minute); return in }(), "in the past"},
		{"both expiries", func() plans.WarningInput {
			in := rain("red", wDistrict)
			in.Expires, in.ExpiresIn = now.Add(time.Hour), plans.Duration(time.Hour)
			return in
		}(), "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.Issue(testCtx(t), "duty", tt.in)
			require.Error(t, err)
			assert.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
	list, err := e.svc.Warnings(testCtx(t), muster.Default, plans.WarningFilter{}, plans.Page{})
	require.NoError(t, err)
	assert.Empty(t, list.Items, "nothing was issued")
	assert.Empty(t, e.modeRecords(t), "nothing was switched")
}

func TestWarningExpiry(t *testing.T) {
	e := newWarnEnv(t)
	ctx := testCtx(t)
	in := rain("yellow", wDistrict)
	in.ExpiresIn = plans.Duration(2 * time.Hour)
	w := e.issue(t, in)
	assert.Equal(t, e.clk.Now().Add(2*time.Hour), w.Expires)
	forever := e.issue(t, rain("blue", wOther))
	assert.True(t, forever.Expires.IsZero())

	// Not due: nothing to expire, and a lift "because expired" is refused by
	// the command's own time, whoever proposes it.
	n, err := e.svc.ExpireDue(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
	early, _ := json.Marshal(map[string]any{"warning": w.ID, "expired": true})
	err = e.node.Apply(ctx, &muster.Command{Type: plans.CmdWarningLift, Actor: "someone", Payload: early}, nil)
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)

	// Due: reads show it expired at once; modes follow when the leader lifts it.
	e.clk.Add(2 * time.Hour)
	got, err := e.svc.Warning(ctx, muster.Default, w.ID)
	require.NoError(t, err)
	assert.Equal(t, plans.WarningExpired, got.Status)
	active, err := e.svc.Warnings(ctx, muster.Default, plans.WarningFilter{Active: true}, plans.Page{})
	require.NoError(t, err)
	require.Len(t, active.Items, 1)
	assert.Equal(t, forever.ID, active.Items[0].ID)
	assert.Equal(t, plans.ModeStandby, e.mode(t, wDistrict).Mode)

	n, err = e.svc.ExpireDue(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, plans.ModeNormal, e.mode(t, wDistrict).Mode)
	assert.Equal(t, plans.ModeStandby, e.mode(t, wOther).Mode)
	got, err = e.svc.Warning(ctx, muster.Default, w.ID)
	require.NoError(t, err)
	assert.Equal(t, plans.WarningExpired, got.Status)
	assert.Equal(t, "已过期 (expired)", got.LiftReason)
	assert.Equal(t, "warning-expiry", got.LiftedBy)
	assert.Equal(t, e.clk.Now(), got.LiftedAt)
	n, err = e.svc.ExpireDue(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "expired once")
	_, err = e.svc.Lift(ctx, "duty", w.ID, "x")
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)

	trail := e.audit(t)
	last := trail[len(trail)-1]
	assert.Equal(t, plans.AuditWarningRelease, last.Action)
	assert.Equal(t, "warning-expiry", last.Actor)
	assert.Equal(t, "已过期 (expired)", last.Reason)
	assert.Equal(t, plans.ModeNormal, last.To)
}

func TestWarningSuggestsPlansAndLevel(t *testing.T) {
	e := newWarnEnv(t)
	type pick struct {
		Plan  plans.PlanID
		Level plans.LevelCode
	}
	picks := func(w plans.Warning) []pick {
		var out []pick
		for _, s := range w.Suggestions {
			out = append(out, pick{s.Plan, s.Level})
			assert.NotEmpty(t, s.Title)
			assert.Positive(t, s.Version)
		}
		return out
	}
	tests := []struct {
		name     string
		in       plans.WarningInput
		level    plans.LevelCode
		expected []pick
	}{
		{"red in 990102, an event of no known hazard: any plan", func() plans.WarningInput {
			in := rain("red", wOther)
			in.Event = "突发事件"
			return in
		}(), plans.LevelI, []pick{
			{"flood-control", plans.LevelI}, {"flood-east", plans.LevelI}, {"hazmat-fire", plans.LevelI},
			{"minimal", plans.LevelIV}, {"public-health", plans.LevelI}}},
		{"orange natural in 990101: flood-east's scope does not cover it", func() plans.WarningInput {
			in := rain("orange", wStreet)
			in.Category = "natural"
			return in
		}(), plans.LevelII, []pick{{"flood-control", plans.LevelII}, {"minimal", plans.LevelIV}}},
		{"blue public health over two districts", func() plans.WarningInput {
			in := rain("blue", wDistrict, wOther)
			in.Category = "公共卫生事件"
			return in
		}(), plans.LevelIV, []pick{{"public-health", plans.LevelIV}}},
		{"yellow natural over two districts", func() plans.WarningInput {
			in := rain("yellow", wDistrict, wOther)
			in.Category = "自然灾害"
			return in
		}(), plans.LevelIII, []pick{{"flood-control", plans.LevelIII}, {"minimal", plans.LevelIV}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e.issue(t, tt.in)
			assert.Equal(t, tt.level, w.SuggestedLevel)
			assert.Equal(t, tt.expected, picks(w))
			again, err := e.svc.Warning(testCtx(t), muster.Default, w.ID)
			require.NoError(t, err)
			assert.Equal(t, w.Suggestions, again.Suggestions, "returned with the warning")
		})
	}
}

// A warning issued without a category takes the one its event names
// plainly, and the CAP category: a rainstorm (暴雨) is a natural disaster,
// meteorological, and suggests the natural-disaster plans only, not the
// hazmat and public-health ones it suggested as a warning of no category.
// An event of no known hazard still suggests every plan; a category given
// is kept, and the event's CAP category taken only when it agrees.
func TestAWarningsEventNamesItsHazard(t *testing.T) {
	e := newWarnEnv(t)
	plansOf := func(w plans.Warning) []plans.PlanID {
		var out []plans.PlanID
		for _, s := range w.Suggestions {
			out = append(out, s.Plan)
		}
		return out
	}
	w := e.issue(t, rain("red", wOther))
	assert.Equal(t, [2]string{"自然灾害", "Met"}, [2]string{string(w.Category), string(w.CAPCategory)})
	assert.Equal(t, []plans.PlanID{"flood-control", "flood-east", "minimal"}, plansOf(w))

	for event, cat := range map[string]plans.CAPCategory{"6.1级地震": plans.CAPGeo, "森林火险": plans.CAPFire, "Typhoon Haikui": plans.CAPMet, "城区内涝": plans.CAPMet} {
		in := rain("yellow", wOther)
		in.Event = event
		w = e.issue(t, in)
		assert.Equal(t, [2]string{"自然灾害", string(cat)}, [2]string{string(w.Category), string(w.CAPCategory)}, event)
	}

	in := rain("blue", wOther)
	in.Event = "突发事件"
	w = e.issue(t, in)
	assert.Equal(t, [2]string{"", ""}, [2]string{string(w.Category), string(w.CAPCategory)})
	assert.Contains(t, plansOf(w), plans.PlanID("hazmat-fire"))

	in = rain("blue", wOther)
	in.Category = "公共卫生"
	w = e.issue(t, in)
	assert.Equal(t, [2]string{"公共卫生", ""}, [2]string{string(w.Category), string(w.CAPCategory)}, "a category given is kept")

	in = rain("blue", wOther)
	in.CAPCategory = "Health"
	w = e.issue(t, in)
	assert.Equal(t, [2]string{"公共卫生", "Health"}, [2]string{string(w.Category), string(w.CAPCategory)}, "the CAP category given names the hazard")
}

func TestWarningPromptAt(t *testing.T) {
	issued := time.Date(2026, 7, 20, 8, 0, 0, 0, time.UTC)
	due := issued.Add(30 * time.Minute)
	base := plans.Warning{ID: "W000001", Level: plans.WarningRed, Status: plans.WarningActive, IssuedAt: issued, RespondBy: due}
	with := func(f func(w *plans.Warning)) plans.Warning { w := base; f(&w); return w }
	tests := []struct {
		name   string
		w      plans.Warning
		now    time.Time
		prompt bool
		status plans.WarningStatus
	}{
		{"before the response time", base, due.Add(-time.Second), false, plans.WarningActive},
		{"at the response time", base, due, true, plans.WarningActive},
		{"long after", base, due.Add(5 * time.Hour), true, plans.WarningActive},
		{"orange too", with(func(w *plans.Warning) { w.Level = plans.WarningOrange }), due, true, plans.WarningActive},
		{"yellow never prompts", with(func(w *plans.Warning) { w.Level, w.RespondBy = plans.WarningYellow, time.Time{} }), due, false, plans.WarningActive},
		{"answered", with(func(w *plans.Warning) {
			w.Responses = []plans.WarningResponse{{Activation: "A000001", Region: wDistrict, Level: plans.LevelI, At: issued.Add(time.Hour)}}
		}), due.Add(2 * time.Hour), false, plans.WarningActive},
		{"lifted", with(func(w *plans.Warning) { w.Status = plans.WarningLifted }), due, false, plans.WarningLifted},
		{"expired by the reader's clock", with(func(w *plans.Warning) { w.Expires = due.Add(time.Hour) }), due.Add(time.Hour), false, plans.WarningExpired},
		{"not yet expired", with(func(w *plans.Warning) { w.Expires = due.Add(time.Hour) }), due, true, plans.WarningActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.w.At(tt.now)
			assert.Equal(t, tt.prompt, got.Prompt)
			assert.Equal(t, tt.status, got.Status)
			if tt.prompt {
				assert.Equal(t, due, got.PromptSince)
			} else {
				assert.True(t, got.PromptSince.IsZero())
			}
		})
	}
}

func TestWarningWithoutResponsePrompts(t *testing.T) {
	e := newWarnEnv(t)
	ctx := testCtx(t)
	unanswered := func() []plans.WarningID {
		l, err := e.svc.Warnings(ctx, muster.Default, plans.WarningFilter{Unanswered: true}, plans.Page{})
		require.NoError(t, err)
		var ids []plans.WarningID
		for _, w := range l.Items {
			assert.True(t, w.Prompt)
			ids = append(ids, w.ID)
		}
		return ids
	}
	gauge := func(want int) {
		t.Helper()
		assert.NoError(t, testutil.CollectAndCompare(e.svc.Collector(), strings.NewReader(`
# HELP muster_warnings_unanswered LIVE orange and red warnings past their response time with no activation over their regions.
# TYPE muster_warnings_unanswered gauge
muster_warnings_unanswered `+strconv.Itoa(want)+"\n"), "muster_warnings_unanswered"))
	}

	red := e.issue(t, rain("red", wDistrict))
	yellow := e.issue(t, rain("yellow", wOther))
	assert.False(t, red.Prompt)
	e.clk.Add(9 * time.Minute)
	assert.Empty(t, unanswered())
	gauge(0)

	e.clk.Add(time.Minute)
	assert.Equal(t, []plans.WarningID{red.ID}, unanswered(), "10 minutes without an activation")
	gauge(1)
	got, err := e.svc.Warning(ctx, muster.Default, red.ID)
	require.NoError(t, err)
	assert.True(t, got.Prompt)
	assert.Equal(t, red.IssuedAt.Add(10*time.Minute), got.PromptSince)
	got, err = e.svc.Warning(ctx, muster.Default, yellow.ID)
	require.NoError(t, err)
	assert.False(t, got.Prompt, "yellow needs no response")

	// An activation over a street of the district answers it, late.
	e.hold(t, testHold{Region: wStreet, Level: plans.LevelI, Act: "A000001"})
	assert.Empty(t, unanswered())
	gauge(0)
	got, err = e.svc.Warning(ctx, muster.Default, red.ID)
	require.NoError(t, err)
	assert.Equal(t, []plans.WarningResponse{{Activation: "A000001", Region: wStreet, Level: plans.LevelI, At: e.clk.Now()}}, got.Responses)
	got, err = e.svc.Warning(ctx, muster.Default, yellow.ID)
	require.NoError(t, err)
	assert.Empty(t, got.Responses, "another district's warning is not answered")

	// A warning over a region already in emergency is answered from the start.
	orange := e.issue(t, rain("orange", wCity))
	require.Len(t, orange.Responses, 1)
	assert.Equal(t, plans.ActivationID("A000001"), orange.Responses[0].Activation)
	e.clk.Add(time.Hour)
	assert.Empty(t, unanswered())

	// A red warning that is lifted stops prompting.
	late := e.issue(t, rain("red", wOther))
	e.clk.Add(time.Hour)
	assert.Equal(t, []plans.WarningID{late.ID}, unanswered())
	e.lift(t, late.ID)
	assert.Empty(t, unanswered())
}

func TestWarningLevelOfSeverity(t *testing.T) {
	for _, l := range plans.WarningLevels() {
		got, err := plans.WarningLevelOfSeverity(l.CAPSeverity())
		require.NoError(t, err, l)
		assert.Equal(t, l, got, "the inverse of CAPSeverity")
	}
	for _, bad := range []string{"", "Unknown", "severe", "Catastrophic"} {
		_, err := plans.WarningLevelOfSeverity(bad)
		assert.True(t, muster.IsCode(err, muster.EInvalid), "%q: %v", bad, err)
	}
}

// upstreamRain is an orange rainstorm alert of the meteorological service
// with the given identifier.
func upstreamRain(e *warnEnv, id string, regions ...plans.RegionCode) plans.UpstreamWarning {
	return plans.UpstreamWarning{
		Alert:       plans.UpstreamRef{Sender: "qx.990100.example.cn", Identifier: id},
		Source:      "cap:qx.990100.example.cn," + id + ",2026-07-20T16:00:00+08:00",
		Purpose:     plans.WarningLive,
		Regions:     regions,
		Level:       plans.WarningOrange,
		Event:       "暴雨",
		Description: "预计未来3小时内降雨量将达50毫米以上。",
		CAPCategory: plans.CAPMet,
		Expires:     e.clk.Now().Add(12 * time.Hour),
	}
}

func TestWarningImportIsIdempotent(t *testing.T) {
	e := newWarnEnv(t)
	ctx := testCtx(t)

	in := upstreamRain(e, "RS-1", wDistrict, "990199")
	in.Purpose = plans.WarningExercise
	in.Description = strings.Repeat("雨", plans.MaxWarningDescription+10)
	first, err := e.svc.Import(ctx, "feed", in)
	require.NoError(t, err)
	assert.True(t, first.Created)
	w := first.Warning
	assert.Equal(t, []plans.RegionCode{wDistrict}, w.Regions, "unknown codes are left out")
	assert.Equal(t, []plans.RegionCode{"990199"}, first.Ignored)
	assert.Equal(t, plans.WarningOrange, w.Level)
	assert.Equal(t, plans.WarningExercise, w.Purpose)
	assert.Equal(t, "暴雨", w.Headline, "the headline defaults to the event")
	assert.Equal(t, plans.MaxWarningDescription, utf8.RuneCountInString(w.Description), "a long description is cut to the limit")
	assert.True(t, strings.HasSuffix(w.Description, "…"))
	assert.Equal(t, plans.HazardNatural, w.Category, "Met narrows the suggestions to natural disasters")
	assert.Equal(t, in.Source, w.Source)
	assert.Equal(t, "feed", w.IssuedBy)
	assert.Equal(t, plans.ModeNormal, e.mode(t, wDistrict).Mode, "a drill's warning holds no region")

	// The same alert again, even changed, is the same warning.
	e.clk.Add(time.Minute)
	again := in
	again.Level = plans.WarningRed
	second, err := e.svc.Import(ctx, "feed", again)
	require.NoError(t, err)
	assert.False(t, second.Created)
	assert.Equal(t, w.ID, second.Warning.ID)
	assert.Equal(t, plans.WarningOrange, second.Warning.Level)
	assert.Empty(t, second.Ignored)

	// Concurrent imports of a new alert agree on one warning, decided in
	// the state machine.
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		ids     = map[plans.WarningID]bool{}
	)
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := e.svc.Import(ctx, "feed", upstreamRain(e, "RS-2", wOther))
			assert.NoError(t, err)
			mu.Lock()
			defer mu.Unlock()
			ids[res.Warning.ID] = true
			if res.Created {
				created++
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, created)
	assert.Len(t, ids, 1)

	// The same identifier from another sender is another alert.
	other := upstreamRain(e, "RS-1", wOther)
	other.Alert.Sender = "qx.990200.example.cn"
	res, err := e.svc.Import(ctx, "feed", other)
	require.NoError(t, err)
	assert.True(t, res.Created)
	assert.NotEqual(t, w.ID, res.Warning.ID)
	list, err := e.svc.Warnings(ctx, muster.Default, plans.WarningFilter{}, plans.Page{})
	require.NoError(t, err)
	assert.Len(t, list.Items, 3)
}

// An upstream drill's alert (CAP Exercise or Test) becomes an EXERCISE or
// TEST warning that puts no region in standby and does not count for
// operators: the modes and the metrics are the city's real state. A LIVE
// warning over the same district does both.
func TestDrillWarningsHoldNoRegion(t *testing.T) {
	active := func(e *warnEnv, orange int) string {
		return fmt.Sprintf(`# HELP muster_warnings_active LIVE warnings in force, by level.
# TYPE muster_warnings_active gauge
muster_warnings_active{level="blue"} 0
muster_warnings_active{level="orange"} %d
muster_warnings_active{level="red"} 0
muster_warnings_active{level="yellow"} 0
`, orange)
	}
	e := newWarnEnv(t)
	for i, purpose := range []plans.WarningPurpose{plans.WarningExercise, plans.WarningTest} {
		in := upstreamRain(e, "DRILL-"+strconv.Itoa(i), wDistrict)
		in.Purpose = purpose
		res, err := e.svc.Import(testCtx(t), "feed", in)
		require.NoError(t, err)
		assert.Equal(t, purpose, res.Warning.Purpose)
		assert.Equal(t, plans.WarningActive, res.Warning.Status)
	}
	assert.Equal(t, plans.ModeNormal, e.mode(t, wDistrict).Mode)
	assert.Equal(t, plans.ModeNormal, e.mode(t, wGrid).Mode)
	assert.Empty(t, e.modeRecords(t))
	assert.Empty(t, e.audit(t), "no mode switched")
	assert.NoError(t, testutil.CollectAndCompare(e.svc.Collector(), strings.NewReader(active(e, 0)), "muster_warnings_active"))

	live, err := e.svc.Import(testCtx(t), "feed", upstreamRain(e, "LIVE-1", wDistrict))
	require.NoError(t, err)
	assert.Equal(t, plans.WarningLive, live.Warning.Purpose)
	assert.Equal(t, plans.ModeStandby, e.mode(t, wGrid).Mode)
	assert.NoError(t, testutil.CollectAndCompare(e.svc.Collector(), strings.NewReader(active(e, 1)), "muster_warnings_active"))

	t.Run("rules 4", func(t *testing.T) {
		e := newWarnEnvUnder(t, 4)
		in := upstreamRain(e, "DRILL-0", wDistrict)
		in.Purpose = plans.WarningExercise
		_, err := e.svc.Import(testCtx(t), "feed", in)
		require.NoError(t, err)
		assert.Equal(t, plans.ModeStandby, e.mode(t, wDistrict).Mode, "under rules 4 a drill's warning held its regions")
	})
}

func TestWarningImportUpdateAndCancel(t *testing.T) {
	e := newWarnEnv(t)
	ctx := testCtx(t)
	first, err := e.svc.Import(ctx, "feed", upstreamRain(e, "RS-1", wDistrict))
	require.NoError(t, err)

	// An update replaces the warning: the old one is lifted in the same
	// step, the district stays in standby under the new one.
	e.clk.Add(time.Hour)
	up := upstreamRain(e, "RS-2", wDistrict)
	up.Level = plans.WarningRed
	up.Replaces = []plans.UpstreamRef{{Sender: "qx.990100.example.cn", Identifier: "RS-1"}, {Sender: "qx.990100.example.cn", Identifier: "never-seen"}}
	res, err := e.svc.Import(ctx, "feed", up)
	require.NoError(t, err)
	assert.True(t, res.Created)
	assert.Equal(t, []plans.WarningID{first.Warning.ID}, res.Replaced)
	old, err := e.svc.Warning(ctx, muster.Default, first.Warning.ID)
	require.NoError(t, err)
	assert.Equal(t, plans.WarningLifted, old.Status)
	assert.Contains(t, old.LiftReason, "RS-2")
	assert.Equal(t, plans.RegionMode{Region: wDistrict, Mode: plans.ModeStandby, From: wDistrict, WarningLevel: plans.WarningRed,
		Warnings: holding(res.Warning)}, e.mode(t, wDistrict))

	// A cancellation lifts it; received twice, it answers the same.
	cancel := []plans.UpstreamRef{{Sender: "qx.990100.example.cn", Identifier: "RS-2"}}
	lifted, err := e.svc.LiftUpstream(ctx, "feed", cancel, "雨势减弱")
	require.NoError(t, err)
	require.Len(t, lifted, 1)
	assert.Equal(t, res.Warning.ID, lifted[0].ID)
	assert.Equal(t, plans.WarningLifted, lifted[0].Status)
	assert.Equal(t, plans.ModeNormal, e.mode(t, wDistrict).Mode)
	e.clk.Add(time.Minute)
	again, err := e.svc.LiftUpstream(ctx, "feed", cancel, "雨势减弱")
	require.NoError(t, err)
	assert.Equal(t, lifted, again)

	// A cancellation of an alert never seen lifts nothing and is
	// remembered (rules 11, see warning_order_test.go).
	none, err := e.svc.LiftUpstream(ctx, "feed", []plans.UpstreamRef{{Sender: "qx.990100.example.cn", Identifier: "never-seen-2"}}, "x")
	require.NoError(t, err)
	assert.Empty(t, none)
}

func TestWarningImportRefusesBadInput(t *testing.T) {
	e := newWarnEnv(t)
	tests := []struct {
		name string
		edit func(*plans.UpstreamWarning)
		msg  string
	}{
		{"no known region", func(in *plans.UpstreamWarning) { in.Regions = []plans.RegionCode{"990199", "110101"} }, "110101, 990199"},
		{"no region", func(in *plans.UpstreamWarning) { in.Regions = nil }, "no region code"},
		{"unknown level", func(in *plans.UpstreamWarning) { in.Level = "" }, "level"},
		{"expired", func(in *plans.UpstreamWarning) { in.Expires = e.clk.Now().Add(-time.Minute) }, "has passed"},
		{"no event", func(in *plans.UpstreamWarning) { in.Event = " " }, "event"},
		{"bad purpose", func(in *plans.UpstreamWarning) { in.Purpose = "DRAFT" }, "purpose"},
		{"identifier with a comma", func(in *plans.UpstreamWarning) { in.Alert.Identifier = "a,b" }, "identifier"},
		{"no sender", func(in *plans.UpstreamWarning) { in.Alert.Sender = "" }, "sender"},
		{"huge identifier", func(in *plans.UpstreamWarning) { in.Alert.Identifier = strings.Repeat("x", plans.MaxUpstreamRef+1) }, "at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := upstreamRain(e, "RS-1", wDistrict)
			tt.edit(&in)
			_, err := e.svc.Import(testCtx(t), "feed", in)
			require.Error(t, err)
			assert.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
	assert.Empty(t, e.modeRecords(t), "nothing was switched")
	// A refused alert can come again once it is right.
	res, err := e.svc.Import(testCtx(t), "feed", upstreamRain(e, "RS-1", wDistrict))
	require.NoError(t, err)
	assert.True(t, res.Created)
}
