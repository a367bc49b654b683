package notify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/access"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/notify"
	"muster/plans"
)

const (
	city     = plans.RegionCode("990100")
	district = plans.RegionCode("990101")
	street   = plans.RegionCode("990101001")
	other    = plans.RegionCode("990102")
)

var senders = notify.Senders{
	Live:     notify.SendInfo{Account: "AC-live", Sender: "+8610690000", PerSecond: 100},
	Exercise: notify.SendInfo{Account: "AC-drill", Sender: "+8610690001", PerSecond: 50},
}

type env struct {
	c     *clustertest.Cluster
	plans *plans.Service
	svc   *notify.Service
}

// cmdSetState lets tests move a recipient through notify.SetRecipientState
// inside the FSM, as the dispatcher will.
const cmdSetState = "test.set_state"

func setup(i int, n *cluster.Node) {
	plans.Register(n)
	notify.Register(n)
	n.OnRestore(notify.MarkRestored)
	n.Handle(cmdSetState, func(tx *bolt.Tx, c *muster.Command) (any, error) {
		var p struct {
			Activation plans.ActivationID
			Person     plans.PersonID
			State      notify.State
		}
		if err := json.Unmarshal(c.Payload, &p); err != nil {
			return nil, err
		}
		return notify.SetRecipientState(tx, c, p.Activation, p.Person, p.State)
	})
}

// newEnv starts a real cluster of n nodes with the demo city, a generated
// roster of people and the example plans, plus flood-east: the flood plan
// scoped to district 990102 only.
func newEnv(t testing.TB, nodes, people int) *env {
	return newEnvWith(t, nodes, people, clustertest.Options{Setup: setup}, testCtx(t))
}

func newEnvWith(t testing.TB, nodes, people int, opts clustertest.Options, ctx context.Context) *env {
	if nodes == 1 {
		opts.Config = aloneFast(opts.Config)
	}
	c := clustertest.New(t, nodes, opts)
	// Until the members have recorded their rules the leader stamps rules
	// 1: regions imported then lose their English names, and the reports
	// of a test that reads them said 示例市 or Example City by the chance
	// of timing. Wait for the rules the members' muster have.
	want := muster.Rules
	for _, m := range c.Nodes {
		want = min(want, m.Node.Status().NodeRules)
	}
	require.Eventually(t, func() bool { return c.WaitLeader(15*time.Second).Node.Status().Rules == want }, 15*time.Second, 5*time.Millisecond,
		"the leader stamps the members' rules (%d)", want)
	n := c.Leader().Node
	e := &env{c: c, plans: plans.NewService(n, n), svc: notify.NewService(n, n, senders)}
	_, err := e.plans.ImportRegions(ctx, "test", bytes.NewReader(examples.RegionsCSV()))
	require.NoError(t, err)
	regions, err := examples.Regions()
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, examples.GenerateRoster(&buf, people, 7, examples.Grids(regions)))
	res, err := e.plans.ImportRoster(ctx, "test", &buf, plans.ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, people, res.Created)
	files, err := examples.Plans()
	require.NoError(t, err)
	for _, f := range files {
		_, err := e.plans.ApplyPlan(ctx, "test", f.Name, f.Data)
		require.NoError(t, err)
		if f.Name == "flood.yaml" {
			src := strings.Replace(string(f.Data), "id: flood-control", "id: flood-east", 1)
			src = strings.Replace(src, `scope: ["990100"]`, `scope: ["990102"]`, 1)
			_, err := e.plans.ApplyPlan(ctx, "test", "flood-east.yaml", []byte(src))
			require.NoError(t, err)
		}
	}
	return e
}

// aloneFast gives a cluster of one node short raft timeouts (then config,
// if set): a lone node elects itself only once its heartbeat timeout has
// passed, 1 – 2 s with clustertest's, and with no peer to lose touch with
// it has nothing a short one could make flaky.
func aloneFast(config func(int, *cluster.Config)) func(int, *cluster.Config) {
	return func(i int, c *cluster.Config) {
		c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = 100*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond
		if config != nil {
			config(i, c)
		}
	}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func floodIV(regions ...plans.RegionCode) notify.ActivationRequest {
	return notify.ActivationRequest{Plan: "flood-control", Regions: regions, Level: "IV", Purpose: "LIVE", Reason: "暴雨黄色预警"}
}

// expected computes, independently of notify, who an activation of level of
// plan over regions must call: every person, their role indices.
func expected(t *testing.T, e *env, plan plans.PlanID, code plans.LevelCode, regions ...plans.RegionCode) map[plans.PersonID][]int {
	ctx := testCtx(t)
	pv, err := e.plans.Plan(ctx, muster.Default, plan, 0)
	require.NoError(t, err)
	lvl := pv.Plan.Level(code)
	require.NotNil(t, lvl)
	var roles []plans.Role
	for _, g := range lvl.Groups {
		roles = append(roles, g.Roles...)
	}
	out := map[plans.PersonID][]int{}
	var page plans.Page
	for {
		list, err := e.plans.People(ctx, muster.Default, plans.PeopleFilter{}, plans.Page{Limit: 1000, After: page.After})
		require.NoError(t, err)
		for _, p := range list.Items {
			inActivation := slices.ContainsFunc(regions, func(r plans.RegionCode) bool { return plans.RegionUnder(p.Grid, r) })
			inScope := slices.ContainsFunc(pv.Plan.Scope, func(r plans.RegionCode) bool { return plans.RegionUnder(p.Grid, r) })
			for i, r := range roles {
				reach := inActivation
				if r.Reach == plans.ReachPlan {
					reach = inScope
				}
				if reach && r.Select.Match(p, nil) {
					out[p.ID] = append(out[p.ID], i)
				}
			}
		}
		if list.Next == "" {
			return out
		}
		page.After = list.Next
	}
}

func allRecipients(t *testing.T, e *env, id plans.ActivationID, f notify.RecipientFilter) []notify.Recipient {
	var out []notify.Recipient
	after := ""
	for {
		list, err := e.svc.Recipients(testCtx(t), muster.Default, id, f, plans.Page{Limit: 500, After: after})
		require.NoError(t, err)
		out = append(out, list.Items...)
		if list.Next == "" {
			return out
		}
		after = list.Next
	}
}

func mode(t *testing.T, e *env, r plans.RegionCode) plans.Mode {
	m, err := e.svc.Mode(testCtx(t), muster.Default, r)
	require.NoError(t, err)
	return m.Mode
}

func TestActivateDerivesRecipientsAndSwitchesModes(t *testing.T) {
	e := newEnv(t, 1, 6000)
	ctx := testCtx(t)

	preview, err := e.svc.Preview(ctx, floodIV(district))
	require.NoError(t, err)
	a, err := e.svc.Activate(ctx, "commander", floodIV(district))
	require.NoError(t, err)
	assert.Equal(t, plans.ActivationID("A000001"), a.ID)
	assert.Equal(t, 1, a.PlanVersion, "the latest version is pinned")
	assert.Equal(t, notify.StatusActive, a.Status)

	// Recipients are exactly the independently selected people, roles merged.
	want := expected(t, e, "flood-control", plans.LevelIV, district)
	require.NotEmpty(t, want)
	got := map[plans.PersonID][]int{}
	people := map[plans.PersonID]plans.Person{}
	for _, r := range allRecipients(t, e, a.ID, notify.RecipientFilter{}) {
		got[r.Person] = r.Roles
		assert.Equal(t, notify.StatePending, r.State)
		p, err := e.plans.Person(ctx, muster.Default, r.Person)
		require.NoError(t, err)
		people[r.Person] = p
		assert.Equal(t, p.Phones[0], r.Phone)
		assert.Equal(t, p.Name, r.Name)
		assert.Equal(t, p.Grid, r.Grid)
		assert.Equal(t, p.Language, r.Language)
		assert.Equal(t, p.Backup, r.Backup)
	}
	assert.Equal(t, want, got)
	assert.Equal(t, len(want), a.Recipients)
	merged := 0
	for _, roles := range want {
		if len(roles) > 1 {
			merged++
		}
	}
	assert.Positive(t, merged, "some people fill two roles and are called once")

	// Counters match the list.
	st, err := e.svc.Activation(ctx, muster.Default, a.ID)
	require.NoError(t, err)
	assert.Equal(t, len(want), st.Counters.Total)
	assert.Equal(t, map[notify.State]int{notify.StatePending: len(want)}, st.Counters.ByState)
	byRole := map[int]int{}
	byGrid := map[plans.RegionCode]int{}
	for id, roles := range want {
		byGrid[people[id].Grid]++
		for _, r := range roles {
			byRole[r]++
		}
	}
	for i := range a.Roles {
		assert.Equal(t, byRole[i], st.Counters.ByRole[i][notify.StatePending], "role %d", i)
	}
	for g, n := range byGrid {
		assert.Equal(t, n, st.Counters.ByGrid[g][notify.StatePending], "grid %s", g)
	}
	assert.Len(t, st.Counters.ByGrid, len(byGrid))

	// The preview said the same before.
	assert.Equal(t, a.Recipients, preview.Total)
	assert.Equal(t, merged, preview.Merged)
	for i, rc := range preview.Roles {
		assert.Equal(t, byRole[i], rc.Matched, "role %s", rc.Name)
		assert.Equal(t, max(0, rc.Count-rc.Matched), rc.Shortfall)
	}
	require.Len(t, preview.Regions, 1)
	assert.Equal(t, preview.Total, preview.Regions[0].Recipients+preview.OutsideRegions)
	assert.Positive(t, preview.OutsideRegions, "值班领导 reach the whole plan")
	assert.Equal(t, "AC-live", preview.Send.Account)
	assert.Equal(t, time.Duration(float64(preview.Total)/100*float64(time.Second)), preview.EstimatedSend)
	require.NotNil(t, preview.Sample)
	assert.Contains(t, want, preview.Sample.Person)
	assert.False(t, strings.HasPrefix(preview.Sample.Text, plans.ExerciseMark))
	assert.Contains(t, preview.Sample.Text, people[preview.Sample.Person].Name)

	// Modes: the district and its children are in emergency, the rest normal.
	assert.Equal(t, plans.ModeEmergency, mode(t, e, district))
	assert.Equal(t, plans.ModeEmergency, mode(t, e, street))
	assert.Equal(t, plans.ModeEmergency, mode(t, e, "990101001001001"))
	assert.Equal(t, plans.ModeNormal, mode(t, e, city))
	assert.Equal(t, plans.ModeNormal, mode(t, e, other))

	// A second activation holds a street of the district; standing down the
	// first leaves the street in emergency, the district in recovery (恢复).
	// Ending the recovery, a commander's decision, brings both to normal.
	b, err := e.svc.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{street}, Level: "III", Purpose: "LIVE", Reason: "内涝"})
	require.NoError(t, err)
	// A drill runs in peacetime: it switches no region, before or after.
	// (Not over the LIVE call-ups' district or the city above it: no drill
	// goes where the real thing is.)
	drill, err := e.svc.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{other}, Level: "IV", Purpose: "EXERCISE", Reason: "通讯演练"})
	require.NoError(t, err)
	assert.Equal(t, plans.ModeNormal, mode(t, e, other))
	_, err = e.svc.StandDown(ctx, "commander", drill.ID, "演练结束")
	require.NoError(t, err)
	sd, err := e.svc.StandDown(ctx, "commander", a.ID, "雨停")
	require.NoError(t, err)
	assert.Equal(t, notify.StatusStoodDown, sd.Status)
	assert.Equal(t, plans.ModeRecovery, mode(t, e, district))
	assert.Equal(t, plans.ModeEmergency, mode(t, e, street))
	_, err = e.svc.StandDown(ctx, "commander", a.ID, "again")
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	_, err = e.svc.StandDown(ctx, "commander", b.ID, "雨停")
	require.NoError(t, err)
	assert.Equal(t, plans.ModeRecovery, mode(t, e, street))
	modes, err := e.svc.Modes(ctx, muster.Default)
	require.NoError(t, err)
	require.Len(t, modes, 2)
	assert.Equal(t, plans.Recovery{Since: sd.StoodDownAt, By: "commander", Reason: "雨停", Activation: a.ID}, *modes[0].Recovery)
	ended, err := e.svc.EndRecovery(ctx, "commander", []plans.RegionCode{district, street}, "灾后恢复完毕")
	require.NoError(t, err)
	assert.Equal(t, []plans.RegionMode{{Region: district, Mode: plans.ModeNormal}, {Region: street, Mode: plans.ModeNormal}}, ended)
	modes, err = e.svc.Modes(ctx, muster.Default)
	require.NoError(t, err)
	assert.Empty(t, modes)

	// Every switch is audited.
	audit, err := e.svc.Audit(ctx, muster.Default, 0, 100)
	require.NoError(t, err)
	type sw struct {
		Action   string
		Region   plans.RegionCode
		From, To plans.Mode
		Act      plans.ActivationID
	}
	var sws []sw
	for _, r := range audit {
		sws = append(sws, sw{r.Action, r.Region, r.From, r.To, r.Activation})
		assert.Equal(t, "commander", r.Actor)
		assert.False(t, r.Time.IsZero())
	}
	assert.Equal(t, []sw{
		{plans.AuditHold, district, plans.ModeNormal, plans.ModeEmergency, a.ID},
		{plans.AuditHold, street, plans.ModeEmergency, plans.ModeEmergency, b.ID},
		{plans.AuditRelease, district, plans.ModeEmergency, plans.ModeRecovery, a.ID},
		{plans.AuditRelease, street, plans.ModeEmergency, plans.ModeRecovery, b.ID},
		{plans.AuditRecoveryEnd, district, plans.ModeRecovery, plans.ModeNormal, a.ID},
		{plans.AuditRecoveryEnd, street, plans.ModeRecovery, plans.ModeNormal, b.ID},
	}, sws)
	assert.Equal(t, "灾后恢复完毕", audit[5].Reason)
	assert.Equal(t, "雨停", audit[2].Reason)

	// State transitions keep the counters in step.
	first := allRecipients(t, e, a.ID, notify.RecipientFilter{})[0]
	body, _ := json.Marshal(map[string]any{"Activation": a.ID, "Person": first.Person, "State": notify.StateAcked})
	require.NoError(t, e.c.Leader().Node.Apply(ctx, &muster.Command{Type: cmdSetState, Actor: "test", Payload: body}, nil))
	st, err = e.svc.Activation(ctx, muster.Default, a.ID)
	require.NoError(t, err)
	assert.Equal(t, map[notify.State]int{notify.StatePending: len(want) - 1, notify.StateAcked: 1}, st.Counters.ByState)
	assert.Equal(t, 1, st.Counters.ByGrid[first.Grid][notify.StateAcked])
	for _, r := range first.Roles {
		assert.Equal(t, 1, st.Counters.ByRole[r][notify.StateAcked])
	}
	acked := allRecipients(t, e, a.ID, notify.RecipientFilter{State: notify.StateAcked})
	require.Len(t, acked, 1)
	assert.Equal(t, first.Person, acked[0].Person)
	leaders := allRecipients(t, e, a.ID, notify.RecipientFilter{Role: "网格长", Grid: "990101001"})
	for _, r := range leaders {
		assert.True(t, strings.HasPrefix(string(r.Grid), "990101001"))
		assert.Contains(t, r.Roles, 1)
	}
	assert.NotEmpty(t, leaders)
}

func TestBadActivationsChangeNothing(t *testing.T) {
	e := newEnv(t, 1, 500)
	ctx := testCtx(t)
	cases := []struct {
		name string
		req  notify.ActivationRequest
		code string
	}{
		{"unknown plan", notify.ActivationRequest{Plan: "no-such-plan", Regions: []plans.RegionCode{district}, Level: "IV", Purpose: "LIVE", Reason: "x"}, muster.ENotFound},
		{"unknown version", notify.ActivationRequest{Plan: "flood-control", PlanVersion: 9, Regions: []plans.RegionCode{district}, Level: "IV", Purpose: "LIVE", Reason: "x"}, muster.ENotFound},
		{"unknown level", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "V", Purpose: "LIVE", Reason: "x"}, muster.EInvalid},
		{"unknown region", floodIV("990199"), muster.EInvalid},
		{"no regions", floodIV(), muster.EInvalid},
		{"bad purpose", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "IV", Purpose: "REAL", Reason: "x"}, muster.EInvalid},
		{"no reason", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "IV", Purpose: "LIVE"}, muster.EInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.Activate(ctx, "commander", tc.req)
			assert.Equal(t, tc.code, muster.ErrorCode(err), "%v", err)
			_, err = e.svc.Preview(ctx, tc.req)
			assert.Equal(t, tc.code, muster.ErrorCode(err), "%v", err)
		})
	}
	// Straight to the FSM, past the service's checks: rejected too.
	body, _ := json.Marshal(map[string]any{"plan_id": "flood-east", "plan_version": 1, "regions": []string{"990199"}, "level": "IV", "purpose": "LIVE", "reason": "x"})
	err := e.c.Leader().Node.Apply(ctx, &muster.Command{Type: notify.CmdActivationCreate, Actor: "x", Payload: body}, nil)
	assert.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
	list, err := e.svc.Activations(ctx, muster.Default, plans.Page{})
	require.NoError(t, err)
	assert.Empty(t, list.Items)
	modes, err := e.svc.Modes(ctx, muster.Default)
	require.NoError(t, err)
	assert.Empty(t, modes)
	audit, err := e.svc.Audit(ctx, muster.Default, 0, 10)
	require.NoError(t, err)
	assert.Empty(t, audit)
	_, err = e.svc.StandDown(ctx, "commander", "A000009", "x")
	assert.True(t, muster.IsCode(err, muster.ENotFound), "%v", err)

	// A good one after the bad ones is A000001: rejected commands leave no trace.
	a, err := e.svc.Activate(ctx, "commander", floodIV(other))
	require.NoError(t, err)
	assert.Equal(t, plans.ActivationID("A000001"), a.ID)
}

func TestExerciseMessagesCarryTheMark(t *testing.T) {
	e := newEnv(t, 1, 1500)
	ctx := testCtx(t)
	for _, purpose := range []string{"LIVE", "EXERCISE", "TEST"} {
		req := floodIV(district)
		req.Purpose = purpose
		p, err := e.svc.Preview(ctx, req)
		require.NoError(t, err)
		require.NotNil(t, p.Sample)
		if purpose == "LIVE" {
			assert.False(t, strings.HasPrefix(p.Sample.Text, plans.ExerciseMark), p.Sample.Text)
			assert.NotContains(t, p.Sample.Text, "演练")
			assert.Equal(t, "AC-live", p.Send.Account)
		} else {
			assert.True(t, strings.HasPrefix(p.Sample.Text, plans.ExerciseMark+"【示例市应急】"), p.Sample.Text)
			assert.Equal(t, "AC-drill", p.Send.Account)
		}
		enc, chars, segs := plans.SMSSegments(p.Sample.Text)
		assert.Equal(t, plans.EncodingUCS2, enc)
		assert.Equal(t, []int{chars, segs}, []int{p.Sample.Chars, p.Sample.Segments})
		assert.Greater(t, p.Sample.Segments, 1, "a Chinese call-up is longer than 70 characters")
	}
}

// TestActivationIsIdenticalOnEveryNode applies one activation on a 3-node
// cluster and compares the bytes of its recipients and counters on each node.
func TestActivationIsIdenticalOnEveryNode(t *testing.T) {
	e := newEnv(t, 3, 3000)
	ctx := testCtx(t)
	a, err := e.svc.Activate(ctx, "commander", floodIV(district, other))
	require.NoError(t, err)
	require.Positive(t, a.Recipients)
	e.c.WaitApplied(a.Index, 30*time.Second)
	var sums [][32]byte
	for _, m := range e.c.Nodes {
		h := sha256.New()
		n := 0
		require.NoError(t, m.Node.FSM().View(func(tx *bolt.Tx) error {
			ad := tx.Bucket([]byte("activation_data")).Bucket([]byte(a.ID))
			for _, name := range []string{"recipients", "counters"} {
				err := ad.Bucket([]byte(name)).ForEach(func(k, v []byte) error {
					if name == "recipients" {
						n++
					}
					h.Write(k)
					h.Write([]byte{0})
					h.Write(v)
					return nil
				})
				if err != nil {
					return err
				}
			}
			h.Write(tx.Bucket([]byte("activations")).Get([]byte(a.ID)))
			return nil
		}))
		assert.Equal(t, a.Recipients, n, m.Node.ID())
		sums = append(sums, [32]byte(h.Sum(nil)))
	}
	assert.Equal(t, sums[0], sums[1])
	assert.Equal(t, sums[0], sums[2])
}

// The scope guard: an activation outside its plan's scope, or calling far
// more people than the level expects, starts only when the request names
// its regions; the preview says so, and what to type.
func TestScopeGuardNeedsTheRegionsNamed(t *testing.T) {
	e := newEnv(t, 1, 500)
	ctx := testCtx(t)
	outside := notify.ActivationRequest{Plan: "flood-east", Regions: []plans.RegionCode{district}, Level: "IV", Purpose: "LIVE", Reason: "x"}
	p, err := e.svc.Preview(ctx, outside)
	require.NoError(t, err)
	require.True(t, p.Guard.Needed())
	assert.Equal(t, []plans.RegionCode{district}, p.Guard.Wider)
	assert.Equal(t, "990101", p.Guard.Confirm)
	_, err = e.svc.Activate(ctx, "commander", outside)
	require.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
	assert.Contains(t, err.Error(), "--confirm-scope 990101")
	outside.ConfirmScope = "990102"
	_, err = e.svc.Activate(ctx, "commander", outside)
	require.True(t, muster.IsCode(err, muster.EInvalid), "the wrong region does not confirm: %v", err)
	assert.Equal(t, plans.ModeNormal, mode(t, e, district))
	outside.ConfirmScope = " 990101 "
	a, err := e.svc.Activate(ctx, "commander", outside)
	require.NoError(t, err)
	assert.Equal(t, "990101", a.ConfirmedScope)
	assert.Equal(t, p.Total, a.Recipients)
	_, err = e.svc.StandDown(ctx, "commander", a.ID, "x") // no drill goes where a LIVE call-up is
	require.NoError(t, err)

	// flood-small expects 20 people at level IV: every district is far more.
	files, err := examples.Plans()
	require.NoError(t, err)
	for _, f := range files {
		if f.Name == "flood.yaml" {
			src := strings.Replace(string(f.Data), "id: flood-control", "id: flood-small", 1)
			src = strings.Replace(src, "    expected: 460\n    ack_deadline: 1h", "    expected: 20\n    ack_deadline: 1h", 1)
			_, err := e.plans.ApplyPlan(ctx, "test", "flood-small.yaml", []byte(src))
			require.NoError(t, err)
		}
	}
	wide := notify.ActivationRequest{Plan: "flood-small", Regions: []plans.RegionCode{"990106", "990105", "990104", "990103", other, district}, Level: "IV", Purpose: "EXERCISE", Reason: "x",
		DuringRecovery: true} // the district recovers from the LIVE call-up above
	p, err = e.svc.Preview(ctx, wide)
	require.NoError(t, err)
	require.Greater(t, p.Total, 30)
	assert.True(t, p.Guard.Needed())
	assert.Empty(t, p.Guard.Wider)
	assert.Equal(t, "990101,990102,990103,990104,990105,990106", p.Guard.Confirm)
	assert.Contains(t, p.Guard.Reasons[0], "more than 1.5 × the 20")
	_, err = e.svc.Activate(ctx, "trainer", wide)
	require.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
	wide.ConfirmScope = "990101, 990102,990103,990104,990105,990106"
	_, err = e.svc.Activate(ctx, "trainer", wide)
	require.NoError(t, err)
	small := notify.ActivationRequest{Plan: "flood-small", Regions: []plans.RegionCode{street}, Level: "IV", Purpose: "EXERCISE", Reason: "x"}
	p, err = e.svc.Preview(ctx, small)
	require.NoError(t, err)
	require.LessOrEqual(t, p.Total, 30)
	assert.False(t, p.Guard.Needed(), "%d recipients is within 1.5 × 20", p.Total)
}

// A LIVE activation at a level that needs two approvals waits for a second
// person: nothing is derived, switched or sent until then; the requester
// cannot approve it; an approval names the recipient count of the preview
// the approver saw; the approval starts the call-up.
func TestLiveActivationWaitsForASecondPerson(t *testing.T) {
	e := newEnv(t, 1, 500)
	ctx := testCtx(t)
	req := notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "I", Purpose: "LIVE", Reason: "特大暴雨"}
	preview, err := e.svc.Preview(ctx, req)
	require.NoError(t, err)
	require.Positive(t, preview.Total)

	a, err := e.svc.Activate(ctx, "commander", req)
	require.NoError(t, err)
	assert.Equal(t, notify.StatusPendingApproval, a.Status)
	assert.Equal(t, 2, a.ApprovalsRequired)
	assert.Equal(t, 1, a.Approvals())
	assert.Equal(t, a.CreatedAt.Add(notify.DefaultApprovalWindow), a.ApprovalDeadline)
	assert.Zero(t, a.Recipients)
	assert.Equal(t, plans.ModeNormal, mode(t, e, district), "nothing switched before approval")
	_, err = e.svc.Recipients(ctx, muster.Default, a.ID, notify.RecipientFilter{}, plans.Page{})
	require.NoError(t, err)

	// The requester cannot approve their own activation.
	_, err = e.svc.Decide(ctx, "commander", a.ID, notify.DecisionRequest{Approve: true, Recipients: preview.Total})
	require.True(t, muster.IsCode(err, muster.EForbidden), "got %v", err)
	// An approval must name what it agrees to, and exactly that.
	_, err = e.svc.Decide(ctx, "approver", a.ID, notify.DecisionRequest{Approve: true})
	require.True(t, muster.IsCode(err, muster.EInvalid), "got %v", err)
	_, err = e.svc.Decide(ctx, "approver", a.ID, notify.DecisionRequest{Approve: true, Recipients: preview.Total + 1})
	require.True(t, muster.IsCode(err, muster.EConflict), "got %v", err)
	assert.Contains(t, err.Error(), "preview")
	st, err := e.svc.Activation(ctx, muster.Default, a.ID)
	require.NoError(t, err)
	assert.Equal(t, notify.StatusPendingApproval, st.Status, "a refused approval changes nothing")
	assert.Empty(t, st.Decisions)

	// Nobody was called yet: a report or an answer naming the activation
	// is unknown (audited), and does not fail the batch it came in.
	p := plans.PersonID("P00000001")
	var res []notify.InboundResult
	batch := `{"i":[{"k":"status","at":"` + notify.AttemptID(a.ID, p, 1) + `","sid":"SMpending","st":"delivered"},` +
		`{"k":"web","a":"` + string(a.ID) + `","p":"` + string(p) + `","ans":"accept","sid":"WBpending"}]}`
	require.NoError(t, e.c.Leader().Node.Apply(ctx, &muster.Command{Type: notify.CmdInbound, Actor: "test", Payload: []byte(batch)}, &res))
	require.Len(t, res, 2)
	for _, r := range res {
		assert.NotEqual(t, notify.InboundApplied, r.Outcome, "%+v", r)
	}
	assert.Equal(t, notify.InboundUnknown, res[0].Outcome)

	seen, err := e.svc.ApprovalPreview(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, preview.Total, seen.Total, "the approver sees the requester's preview")
	assert.Equal(t, preview.Sample, seen.Sample)
	assert.Equal(t, a.ID, seen.Activation.ID)

	a, err = e.svc.Decide(ctx, "approver", a.ID, notify.DecisionRequest{Approve: true, Reason: "会商确认", Recipients: seen.Total})
	require.NoError(t, err)
	assert.Equal(t, notify.StatusActive, a.Status)
	assert.Equal(t, preview.Total, a.Recipients)
	assert.Equal(t, plans.ModeEmergency, mode(t, e, district))
	require.Len(t, a.Decisions, 1)
	assert.Equal(t, notify.Decision{By: "approver", At: a.StartedAt, Approve: true, Reason: "会商确认", Recipients: preview.Total,
		Lineage: access.Lineage{{Name: "approver", Holder: "approver"}}}, a.Decisions[0], "an approver with no token is a person of that name")
	assert.False(t, a.StartedAt.Before(a.CreatedAt))
	st, err = e.svc.Activation(ctx, muster.Default, a.ID)
	require.NoError(t, err)
	assert.Equal(t, preview.Total, st.Counters.ByState[notify.StatePending], "the approval derived every recipient")
	_, err = e.svc.Decide(ctx, "someone", a.ID, notify.DecisionRequest{Approve: true, Recipients: preview.Total})
	require.True(t, muster.IsCode(err, muster.EConflict), "a started activation takes no more decisions: %v", err)

	// An EXERCISE of the same level needs nobody else (in another
	// district: none goes where the LIVE call-up is).
	req.Purpose, req.Regions = "EXERCISE", []plans.RegionCode{other}
	x, err := e.svc.Activate(ctx, "trainer", req)
	require.NoError(t, err)
	assert.Equal(t, notify.StatusActive, x.Status)
}

// approvalEnv is a node on a test clock whose approval window is 10
// minutes, and a LIVE level II request, which needs a second person.
func approvalEnv(t *testing.T) (*env, *clustertest.Clock, notify.ActivationRequest) {
	t.Helper()
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	e := newEnvWith(t, 1, 300, clustertest.Options{Setup: setup, Config: func(_ int, c *cluster.Config) { c.Clock = clock }}, testCtx(t))
	e.svc.ApprovalWindow, e.svc.Clock = 10*time.Minute, clock
	return e, clock, notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "II", Purpose: "LIVE", Reason: "暴雨橙色预警"}
}

// A rejection needs a reason and ends the activation without sending; a
// pending activation can be withdrawn by standing it down; a pending
// activation expires at the end of its window, measured by the command
// times the leader stamps.
func TestPendingActivationRejectedWithdrawnOrExpired(t *testing.T) {
	e, clock, req := approvalEnv(t)
	ctx := testCtx(t)

	a, err := e.svc.Activate(ctx, "commander", req)
	require.NoError(t, err)
	_, err = e.svc.Decide(ctx, "approver", a.ID, notify.DecisionRequest{Reason: " "})
	require.True(t, muster.IsCode(err, muster.EInvalid), "a rejection says why: %v", err)
	r, err := e.svc.Decide(ctx, "approver", a.ID, notify.DecisionRequest{Reason: "水位未达启动条件"})
	require.NoError(t, err)
	assert.Equal(t, notify.StatusRejected, r.Status)
	require.Len(t, r.Decisions, 1)
	assert.Equal(t, notify.Decision{By: "approver", At: clock.Now(), Reason: "水位未达启动条件"}, r.Decisions[0])
	_, err = e.svc.StandDown(ctx, "commander", a.ID, "x")
	require.True(t, muster.IsCode(err, muster.EConflict), "got %v", err)
	assert.Equal(t, plans.ModeNormal, mode(t, e, district))

	b, err := e.svc.Activate(ctx, "commander", req)
	require.NoError(t, err)
	w, err := e.svc.StandDown(ctx, "commander", b.ID, "改为三级响应")
	require.NoError(t, err)
	assert.Equal(t, notify.StatusStoodDown, w.Status)
	assert.Equal(t, plans.ModeNormal, mode(t, e, district), "a withdrawn request switched nothing")
	_, err = e.svc.Decide(ctx, "approver", b.ID, notify.DecisionRequest{Approve: true, Recipients: 1})
	require.True(t, muster.IsCode(err, muster.EConflict), "got %v", err)

	c, err := e.svc.Activate(ctx, "commander", req)
	require.NoError(t, err)
	assert.Equal(t, clock.Now().Add(10*time.Minute), c.ApprovalDeadline)
	clock.Add(10 * time.Minute)
	p, err := e.svc.ApprovalPreview(ctx, c.ID)
	require.NoError(t, err)
	_, err = e.svc.Decide(ctx, "approver", c.ID, notify.DecisionRequest{Approve: true, Recipients: p.Total})
	require.True(t, muster.IsCode(err, muster.EConflict), "got %v", err)
	assert.Contains(t, err.Error(), "request it again")
	assert.Equal(t, plans.ModeNormal, mode(t, e, district))

	// Every read says it expired, the board too; a stand-down or a
	// retraction is refused as such and does not overwrite the expiry.
	st, board, err := e.svc.StatusAndBoard(ctx, muster.Default, c.ID)
	require.NoError(t, err)
	assert.Equal(t, notify.StatusApprovalExpired, st.Status)
	assert.Equal(t, notify.StatusApprovalExpired, board.Status)
	_, err = e.svc.StandDown(ctx, "commander", c.ID, "撤回")
	require.True(t, muster.IsCode(err, muster.EConflict), "got %v", err)
	assert.Contains(t, err.Error(), "approval_expired")
	_, err = e.svc.Retract(ctx, "commander", c.ID, notify.RetractRequest{Message: "请忽略"})
	require.True(t, muster.IsCode(err, muster.EConflict), "got %v", err)
	assert.Contains(t, err.Error(), "approval_expired")
	st, err = e.svc.Activation(ctx, muster.Default, c.ID)
	require.NoError(t, err)
	assert.Equal(t, notify.StatusApprovalExpired, st.Status, "not stood_down")
}

// The approver of a LIVE request sees the drills their approval will stop,
// as the requester did.
func TestTheApproverSeesTheDrillsThatStop(t *testing.T) {
	e, _, req := approvalEnv(t)
	ctx := testCtx(t)
	drill, err := e.svc.Activate(ctx, "trainer", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "IV", Purpose: "EXERCISE", Reason: "防汛演练"})
	require.NoError(t, err)
	asked, err := e.svc.Preview(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, []plans.ActivationID{drill.ID}, asked.Activation.StoppedDrills)
	pending, err := e.svc.Activate(ctx, "commander", req)
	require.NoError(t, err)
	require.Equal(t, notify.StatusPendingApproval, pending.Status)
	seen, err := e.svc.ApprovalPreview(ctx, pending.ID)
	require.NoError(t, err)
	assert.Equal(t, []plans.ActivationID{drill.ID}, seen.Activation.StoppedDrills)
	require.NotNil(t, seen.Sample)
	assert.Equal(t, asked.Sample.Text, seen.Sample.Text)
	started, err := e.svc.Decide(ctx, "approver", pending.ID, notify.DecisionRequest{Approve: true, Recipients: seen.Total})
	require.NoError(t, err)
	assert.Equal(t, []plans.ActivationID{drill.ID}, started.StoppedDrills)
}

// When a LIVE call-up starts, the drills running over, above or under its
// regions stop: people called up for real are not drilled at the same
// time, and no 【演练】 traffic goes on where the real thing is. A drill
// elsewhere runs on; the preview names the drills that would stop.
func TestLiveCallUpStandsDownTheDrillsWhereItStarts(t *testing.T) {
	street := plans.RegionCode("990101001")
	drills := func(t *testing.T, e *env) (above, under, elsewhere notify.Activation) {
		for _, p := range []struct {
			a      *notify.Activation
			region plans.RegionCode
		}{{&above, city}, {&under, street}, {&elsewhere, "990102"}} {
			var err error
			*p.a, err = e.svc.Activate(testCtx(t), "trainer", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{p.region}, Level: "IV", Purpose: "EXERCISE", Reason: "防汛演练",
				Repeat: true}) // the city's drill and the street's overlap, on purpose
			require.NoError(t, err)
		}
		return above, under, elsewhere
	}
	status := func(t *testing.T, e *env, id plans.ActivationID) notify.ActivationStatus {
		st, err := e.svc.Activation(testCtx(t), muster.Default, id)
		require.NoError(t, err)
		return st
	}

	e := newEnv(t, 1, 300)
	above, under, elsewhere := drills(t, e)
	p, err := e.svc.Preview(testCtx(t), floodIV(district))
	require.NoError(t, err)
	assert.ElementsMatch(t, []plans.ActivationID{above.ID, under.ID}, p.Activation.StoppedDrills)
	require.NotNil(t, p.Sample)
	assert.True(t, strings.HasPrefix(p.Sample.Text, plans.NotADrillMark(plans.LangZH)) || strings.HasPrefix(p.Sample.Text, plans.NotADrillMark(plans.LangEN)),
		"the sample says it is not the drill: %s", p.Sample.Text)
	live, err := e.svc.Activate(testCtx(t), "commander", floodIV(district))
	require.NoError(t, err)
	assert.ElementsMatch(t, []plans.ActivationID{above.ID, under.ID}, live.StoppedDrills)
	for _, d := range []notify.Activation{above, under} {
		st := status(t, e, d.ID)
		assert.Equal(t, notify.StatusStoodDown, st.Status, "%s", d.ID)
		assert.Contains(t, st.StandDownReason, string(live.ID))
	}
	assert.Equal(t, notify.StatusActive, status(t, e, elsewhere.ID).Status, "a drill in another district runs on")
	assert.Equal(t, plans.ModeEmergency, mode(t, e, street))

	// No new drill where the LIVE call-up is, above or under it; elsewhere
	// one starts.
	for _, r := range []plans.RegionCode{street, city} {
		req := notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{r}, Level: "IV", Purpose: "EXERCISE", Reason: "防汛演练"}
		_, err := e.svc.Preview(testCtx(t), req)
		require.True(t, muster.IsCode(err, muster.EConflict), "preview over %s: %v", r, err)
		_, err = e.svc.Activate(testCtx(t), "trainer", req)
		require.True(t, muster.IsCode(err, muster.EConflict), "drill over %s: %v", r, err)
		assert.Contains(t, err.Error(), string(live.ID))
	}
	_, err = e.svc.Activate(testCtx(t), "trainer", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{"990102"}, Level: "IV", Purpose: "TEST", Reason: "通讯测试", Repeat: true})
	require.NoError(t, err)

	// The same plan over the same district again: the preview says it is
	// already calling them up.
	p, err = e.svc.Preview(testCtx(t), floodIV(district))
	require.NoError(t, err)
	assert.Equal(t, []plans.ActivationID{live.ID}, p.AlreadyOpen)
	assert.Empty(t, p.Activation.StoppedDrills)

	t.Run("rules 4", func(t *testing.T) {
		e := newEnvWith(t, 1, 300, clustertest.Options{Setup: setup, Config: func(_ int, c *cluster.Config) { c.Rules = 4 }}, testCtx(t))
		above, under, _ := drills(t, e)
		live, err := e.svc.Activate(testCtx(t), "commander", floodIV(district))
		require.NoError(t, err)
		assert.Empty(t, live.StoppedDrills)
		assert.Equal(t, notify.StatusActive, status(t, e, above.ID).Status, "under rules 4 the drills ran on")
		assert.Equal(t, notify.StatusActive, status(t, e, under.ID).Status)
	})
}

// What a person asks for is checked before it is proposed: a region within
// another one named (the preview would count its people twice, messages
// name both), a negative plan version, a reason too long to read out.
func TestActivationRequestsAreCheckedAsAsked(t *testing.T) {
	e := newEnv(t, 1, 100)
	ctx := testCtx(t)
	for _, tt := range []struct {
		name string
		req  notify.ActivationRequest
		msg  string
	}{
		{"a street of a district named", floodIV(district, "990101001"), "990101001 lies within 990101"},
		{"a district of the city named", floodIV("990102", city), "990102 lies within 990100"},
		{"a negative version", notify.ActivationRequest{Plan: "flood-control", PlanVersion: -1, Regions: []plans.RegionCode{district}, Level: "IV", Purpose: "LIVE", Reason: "x"}, "plan_version -1"},
		{"a long reason", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "IV", Purpose: "LIVE", Reason: strings.Repeat("雨", 201)}, "at most 200"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.Preview(ctx, tt.req)
			require.True(t, muster.IsCode(err, muster.EInvalid), "preview: %v", err)
			assert.Contains(t, err.Error(), tt.msg)
			_, err = e.svc.Activate(ctx, "commander", tt.req)
			require.True(t, muster.IsCode(err, muster.EInvalid), "activate: %v", err)
		})
	}
	p, err := e.svc.Preview(ctx, floodIV(district, "990102", district))
	require.NoError(t, err, "two districts, one named twice")
	assert.Len(t, p.Regions, 2)
}

// Requests with one idempotency key, even at once, create one activation
// per actor; under rules 4 the key was not kept and each created one.
func TestAnIdempotencyKeyCreatesOneActivation(t *testing.T) {
	for _, rules := range []int{0, 4} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			e := newEnvWith(t, 1, 100, clustertest.Options{Setup: setup, Config: func(_ int, c *cluster.Config) { c.Rules = rules }}, testCtx(t))
			req := floodIV(district)
			req.Purpose, req.Key = "EXERCISE", "drill-42"
			req.Repeat = true // a second actor drills the district again
			var wg sync.WaitGroup
			var mu sync.Mutex
			ids := map[plans.ActivationID]bool{}
			for range 4 {
				wg.Go(func() {
					a, err := e.svc.Activate(testCtx(t), "trainer", req)
					assert.NoError(t, err)
					mu.Lock()
					ids[a.ID] = true
					mu.Unlock()
				})
			}
			wg.Wait()
			if rules == 0 {
				assert.Len(t, ids, 1)
				other, err := e.svc.Activate(testCtx(t), "another trainer", req)
				require.NoError(t, err)
				assert.False(t, ids[other.ID], "the key is each actor's own")
			} else {
				assert.Len(t, ids, 4)
			}
		})
	}
}

// The same LIVE command run twice does not page everyone twice: a LIVE
// request repeating a LIVE call-up still open (same plan, level and
// regions) is refused unless it asks to repeat; another level, other
// regions, a drill, or the retry of a keyed request go through.
func TestTheSameLiveCallUpIsNotStartedTwice(t *testing.T) {
	e := newEnv(t, 1, 300)
	ctx := testCtx(t)
	req := floodIV(district)
	req.Purpose = "LIVE"
	first, err := e.svc.Activate(ctx, "commander", req)
	require.NoError(t, err)

	_, err = e.svc.Activate(ctx, "another commander", req)
	require.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	assert.Contains(t, err.Error(), string(first.ID))
	assert.Contains(t, err.Error(), "repeat")
	twice := req
	twice.Regions = []plans.RegionCode{district, district}
	_, err = e.svc.Activate(ctx, "commander", twice)
	assert.True(t, muster.IsCode(err, muster.EConflict), "a region named twice is the same regions: %v", err)

	again := req
	again.Repeat = true
	second, err := e.svc.Activate(ctx, "commander", again)
	require.NoError(t, err, "asked to repeat")
	assert.NotEqual(t, first.ID, second.ID)

	other := req
	other.Level = "III"
	_, err = e.svc.Activate(ctx, "commander", other)
	assert.NoError(t, err, "another level")

	keyed := req
	keyed.Key, keyed.Repeat = "storm-7", true
	k1, err := e.svc.Activate(ctx, "script", keyed)
	require.NoError(t, err)
	keyed.Repeat = false
	k2, err := e.svc.Activate(ctx, "script", keyed)
	require.NoError(t, err, "a keyed retry returns what its first request made")
	assert.Equal(t, k1.ID, k2.ID)

	_, err = e.svc.StandDown(ctx, "commander", first.ID, "结束")
	require.NoError(t, err)
	for _, id := range []plans.ActivationID{second.ID, k1.ID} {
		_, err = e.svc.StandDown(ctx, "commander", id, "结束")
		require.NoError(t, err)
	}
	_, err = e.svc.Activate(ctx, "commander", req)
	assert.NoError(t, err, "none of them open any more")
}

// Two identical level II requests would both be approved and page
// everyone twice: the second is refused while the first awaits approval,
// and taken once the first's window has passed.
func TestTheSameLiveRequestIsNotMadeTwice(t *testing.T) {
	e, clock, req := approvalEnv(t)
	ctx := testCtx(t)
	first, err := e.svc.Activate(ctx, "commander", req)
	require.NoError(t, err)
	require.Equal(t, notify.StatusPendingApproval, first.Status)
	_, err = e.svc.Activate(ctx, "another commander", req)
	require.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	assert.Contains(t, err.Error(), string(first.ID)+" (flood-control, level II, LIVE) over the same regions")
	assert.Contains(t, err.Error(), "awaits approval")
	refused := err.Error()
	asked, err := e.svc.Preview(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, refused, asked.Again, "the preview says so before anyone confirms")
	again := req
	again.Repeat = true
	asked, err = e.svc.Preview(ctx, again)
	require.NoError(t, err)
	assert.Empty(t, asked.Again)
	clock.Add(10 * time.Minute)
	second, err := e.svc.Activate(ctx, "commander", req)
	require.NoError(t, err, "the first expired")
	assert.Equal(t, notify.StatusPendingApproval, second.Status)

	// A request made again with repeat, approved, starts the call-up; the
	// one still waiting is then refused approval unless the approver
	// repeats too: its people have just been called.
	third, err := e.svc.Activate(ctx, "another commander", again)
	require.NoError(t, err)
	p, err := e.svc.ApprovalPreview(ctx, third.ID)
	require.NoError(t, err)
	started, err := e.svc.Decide(ctx, "approver", third.ID, notify.DecisionRequest{Approve: true, Recipients: p.Total})
	require.NoError(t, err)
	require.Equal(t, notify.StatusActive, started.Status)
	p, err = e.svc.ApprovalPreview(ctx, second.ID)
	require.NoError(t, err)
	assert.Equal(t, []plans.ActivationID{started.ID}, p.AlreadyOpen, "the approver sees it")
	_, err = e.svc.Decide(ctx, "approver", second.ID, notify.DecisionRequest{Approve: true, Recipients: p.Total})
	require.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	assert.Contains(t, err.Error(), string(started.ID)+" (flood-control, level II, LIVE) over the same regions was started by another commander")
	st, err := e.svc.Activation(ctx, muster.Default, second.ID)
	require.NoError(t, err)
	assert.Equal(t, notify.StatusPendingApproval, st.Status, "nothing decided")
	repeated, err := e.svc.Decide(ctx, "approver", second.ID, notify.DecisionRequest{Approve: true, Recipients: p.Total, Repeat: true})
	require.NoError(t, err)
	assert.Equal(t, notify.StatusActive, repeated.Status)
}

// People a LIVE call-up calls up for real are not drilled anywhere, also not
// by a drill in another district that reaches them through a role drawn
// from the whole plan (值班领导): the LIVE call-up takes them off it (those
// it has not sent to yet leave; one it has reached stays, counted), and a
// drill that starts while it is active leaves them out, as its preview
// says; the drill's reminders queued to them are skipped. Under rules 6 the
// drill elsewhere kept them all.
func TestPeopleCalledUpForRealAreNotDrilledElsewhere(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	elsewhere := plans.RegionCode("990102")
	drillReq := notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{elsewhere}, Level: "IV", Purpose: "EXERCISE", Reason: "防汛演练"}
	people := func(t *testing.T, e *env, id plans.ActivationID) map[plans.PersonID]notify.State {
		out := map[plans.PersonID]notify.State{}
		for _, r := range allRecipients(t, e, id, notify.RecipientFilter{}) {
			out[r.Person] = r.State
		}
		return out
	}
	// drillThenLive starts the drill elsewhere, marks one of the people the
	// LIVE call-up will share with it as delivered, then starts the LIVE
	// call-up over the district.
	drillThenLive := func(t *testing.T, e *env) (drill, live notify.Activation, before map[plans.PersonID]notify.State, shared []plans.PersonID, reached plans.PersonID) {
		ctx := testCtx(t)
		drill, err := e.svc.Activate(ctx, "trainer", drillReq)
		require.NoError(t, err)
		before = people(t, e, drill.ID)
		for p := range expected(t, e, "flood-control", "IV", district) {
			if _, ok := before[p]; ok {
				shared = append(shared, p)
			}
		}
		slices.Sort(shared)
		require.Greater(t, len(shared), 1, "值班领导 are in both")
		reached = shared[0]
		body, _ := json.Marshal(map[string]any{"Activation": drill.ID, "Person": reached, "State": notify.StateDelivered})
		require.NoError(t, e.c.Leader().Node.Apply(ctx, &muster.Command{Type: cmdSetState, Actor: "test", Payload: body}, nil))
		// The drill's first step (an SMS reminder at T+15) queues one for
		// the silent one.
		clock.Add(15 * time.Minute)
		payload, err := json.Marshal(map[string]any{"a": drill.ID, "step": 0})
		require.NoError(t, err)
		var fr notify.FireResult
		require.NoError(t, e.c.Leader().Node.Apply(ctx, &muster.Command{Type: notify.CmdEscalationFire, Actor: "test", Payload: payload}, &fr))
		require.Equal(t, 1, fr.Queued)
		live, err = e.svc.Activate(ctx, "commander", floodIV(district))
		require.NoError(t, err)
		return drill, live, before, shared, reached
	}
	reminders := func(t *testing.T, e *env, id plans.ActivationID) map[string]int {
		steps, err := e.svc.Escalation(testCtx(t), muster.Default, id)
		require.NoError(t, err)
		require.NotEmpty(t, steps)
		return steps[0].Items
	}
	withClock := func(rules int) clustertest.Options {
		return clustertest.Options{Setup: setup, Config: func(_ int, c *cluster.Config) { c.Clock, c.Rules = clock, rules }}
	}

	e := newEnvWith(t, 1, 1500, withClock(0), testCtx(t))
	drill, live, before, shared, reached := drillThenLive(t, e)
	assert.Equal(t, map[string]int{notify.EscSkipped: 1}, reminders(t, e, drill.ID), "the drill's reminder to %s is skipped", reached)
	assert.Empty(t, live.StoppedDrills, "the drill is in another district")
	assert.Equal(t, []plans.ActivationID{drill.ID}, live.SparedFrom)
	st, err := e.svc.Activation(testCtx(t), muster.Default, drill.ID)
	require.NoError(t, err)
	assert.Equal(t, notify.StatusActive, st.Status, "the drill runs on for the others")
	assert.Equal(t, len(shared), st.LeftOut)
	after := people(t, e, drill.ID)
	assert.Len(t, after, len(before)-len(shared)+1, "those not sent to yet left the drill")
	assert.Equal(t, notify.StateDelivered, after[reached], "one it reached stays")
	for _, p := range shared[1:] {
		assert.NotContains(t, after, p)
	}
	assert.Equal(t, len(after), st.Recipients)
	assert.Equal(t, map[notify.State]int{notify.StatePending: len(after) - 1, notify.StateDelivered: 1}, st.Counters.ByState, "the counters follow")

	// A drill that starts now leaves them out, and its preview says so.
	p, err := e.svc.Preview(testCtx(t), drillReq)
	require.NoError(t, err)
	assert.Equal(t, len(shared), p.LeftOut)
	assert.Equal(t, len(before)-len(shared), p.Total)
	test := drillReq
	test.Purpose, test.Reason, test.Repeat = "TEST", "通讯测试", true
	second, err := e.svc.Activate(testCtx(t), "trainer", test)
	require.NoError(t, err)
	assert.Equal(t, len(shared), second.LeftOut)
	assert.Equal(t, p.Total, second.Recipients)
	got := people(t, e, second.ID)
	assert.Len(t, got, p.Total)
	for _, p := range shared {
		assert.NotContains(t, got, p)
	}

	// A second LIVE call-up over a third district calls the same 值班领导:
	// they are not counted again.
	other, err := e.svc.Activate(testCtx(t), "commander", floodIV("990103"))
	require.NoError(t, err)
	assert.Empty(t, other.SparedFrom, "nobody left to take off")
	st, err = e.svc.Activation(testCtx(t), muster.Default, drill.ID)
	require.NoError(t, err)
	assert.Equal(t, len(shared), st.LeftOut)

	// Once the LIVE call-ups stand down they are drilled again.
	for _, id := range []plans.ActivationID{live.ID, other.ID} {
		_, err = e.svc.StandDown(testCtx(t), "commander", id, "解除")
		require.NoError(t, err)
	}
	p, err = e.svc.Preview(testCtx(t), drillReq)
	require.NoError(t, err)
	assert.Zero(t, p.LeftOut)
	assert.Equal(t, len(before), p.Total)

	t.Run("rules 6", func(t *testing.T) {
		e := newEnvWith(t, 1, 1500, withClock(6), testCtx(t))
		drill, live, before, _, _ := drillThenLive(t, e)
		assert.Empty(t, live.SparedFrom)
		assert.Equal(t, map[string]int{notify.EscQueued: 1}, reminders(t, e, drill.ID))
		assert.Len(t, people(t, e, drill.ID), len(before), "under rules 6 the drill kept them")
	})
}

// A drill's escalation step that fires after a LIVE call-up took some of
// its people off it passes over those it had reached: no 【演练】 reminder,
// call or report follows the real call-up. Under rules 7 the step chased
// them all the same.
func TestADrillStepPassesOverThoseCalledUpForReal(t *testing.T) {
	for _, rules := range []int{0, 7} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
			e := newEnvWith(t, 1, 1500, clustertest.Options{Setup: setup, Config: func(_ int, c *cluster.Config) { c.Clock, c.Rules = clock, rules }}, testCtx(t))
			ctx := testCtx(t)
			drill, err := e.svc.Activate(ctx, "trainer", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{"990102"}, Level: "IV", Purpose: "EXERCISE", Reason: "防汛演练"})
			require.NoError(t, err)
			var shared plans.PersonID // reached by the drill, then called up for real
			drilled := allRecipients(t, e, drill.ID, notify.RecipientFilter{})
			for p := range expected(t, e, "flood-control", "IV", district) {
				if slices.ContainsFunc(drilled, func(r notify.Recipient) bool { return r.Person == p }) {
					shared = p
					break
				}
			}
			require.NotEmpty(t, shared, "值班领导 are in both")
			body, _ := json.Marshal(map[string]any{"Activation": drill.ID, "Person": shared, "State": notify.StateDelivered})
			require.NoError(t, e.c.Leader().Node.Apply(ctx, &muster.Command{Type: cmdSetState, Actor: "test", Payload: body}, nil))
			live, err := e.svc.Activate(ctx, "commander", floodIV(district))
			require.NoError(t, err)
			require.Equal(t, []plans.ActivationID{drill.ID}, live.SparedFrom)

			clock.Add(15 * time.Minute)
			payload, err := json.Marshal(map[string]any{"a": drill.ID, "step": 0})
			require.NoError(t, err)
			var fr notify.FireResult
			require.NoError(t, e.c.Leader().Node.Apply(ctx, &muster.Command{Type: notify.CmdEscalationFire, Actor: "test", Payload: payload}, &fr))
			if rules == 0 {
				assert.Zero(t, fr.Queued, "no drill reminder to %s", shared)
				assert.Equal(t, 1, fr.Spared)
			} else {
				assert.Equal(t, 1, fr.Queued, "rules 7 reminded them")
			}
		})
	}
}

// A LIVE call-up whose reason says 演练 (or drill, test…) is refused, with
// its preview: it is a drill started as LIVE by mistake, or a real call-up
// whose messages (the reason is read out, and in the CAP alert) would read
// as a drill. A drill may say so.
func TestALiveReasonMustNotReadAsADrill(t *testing.T) {
	e := newEnv(t, 1, 300)
	ctx := testCtx(t)
	for _, reason := range []string{"防汛通讯演练", "二级审批叠加演习", "系统测试", "flood drill", "Exercise Yangtze", "防汛演 练", "系统测　试"} {
		req := floodIV(district)
		req.Reason = reason
		_, err := e.svc.Preview(ctx, req)
		require.True(t, muster.IsCode(err, muster.EInvalid), "%s: %v", reason, err)
		assert.Contains(t, err.Error(), "purpose is LIVE", reason)
		_, err = e.svc.Activate(ctx, "commander", req)
		require.True(t, muster.IsCode(err, muster.EInvalid), "%s: %v", reason, err)
		req.Purpose = "EXERCISE"
		_, err = e.svc.Preview(ctx, req)
		assert.NoError(t, err, "a drill says what it is: %s", reason)
	}
	for _, reason := range []string{"暴雨，检测到内涝", "文艺表演、练习取消"} { // 检测 is no drill word, nor 表演、练习
		req := floodIV(district)
		req.Reason = reason
		_, err := e.svc.Preview(ctx, req)
		assert.NoError(t, err, reason)
	}
}

// A plan version stored before plan validation refused drill words in the
// texts every message says (here its sender, 【演练】) cannot start a LIVE
// call-up: each of its SMS would begin 【演练】. It still drills.
func TestALivePlanMustNotSayDrill(t *testing.T) {
	e := newEnv(t, 1, 300)
	ctx := testCtx(t)
	pv, err := e.plans.Plan(ctx, muster.Default, "flood-control", 0)
	require.NoError(t, err)
	old := *pv.Plan
	old.Sender = plans.ExerciseMark
	b, err := json.Marshal(map[string]any{"filename": "flood.yaml", "source": pv.Source, "plan": old})
	require.NoError(t, err)
	require.NoError(t, e.c.Leader().Node.Apply(ctx, &muster.Command{Type: plans.CmdPlanPut, Actor: "test", Payload: b}, nil))

	req := floodIV(district)
	_, err = e.svc.Preview(ctx, req)
	require.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
	assert.Contains(t, err.Error(), `plan flood-control version 2: its sender "【演练】" says "演练"`)
	_, err = e.svc.Activate(ctx, "commander", req)
	require.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)
	req.Purpose = "EXERCISE"
	_, err = e.svc.Activate(ctx, "trainer", req)
	assert.NoError(t, err, "a drill of it goes, marked as ever")
}

// A second person approves a level I–II call-up: tokens held by one person
// (a desk's and a phone's) are that one person, however they are named;
// under rules 8, before holders existed, each token name was a person.
func TestTokensOfOnePersonAreOnePerson(t *testing.T) {
	for _, rules := range []int{muster.Rules, 8} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			e := newEnvWith(t, 1, 300, clustertest.Options{
				Setup:  func(i int, n *cluster.Node) { setup(i, n); access.Register(n) },
				Config: func(_ int, c *cluster.Config) { c.Rules = rules },
			}, testCtx(t))
			ctx := testCtx(t)
			n := e.c.Leader().Node
			require.Eventually(t, func() bool { return n.Status().Rules == rules }, 10*time.Second, 10*time.Millisecond, "the node's rules are published")
			tokens := access.NewService(n, n)
			for _, tok := range []struct{ name, holder string }{{"zhang-desk", "张三"}, {"zhang-phone", "张三"}, {"li", ""}, {"张三", ""}} {
				_, _, err := tokens.Create(ctx, "admin", tok.name, tok.holder, access.Approver)
				require.NoError(t, err)
			}
			req := notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "II", Purpose: "LIVE", Reason: "暴雨橙色预警"}
			preview, err := e.svc.Preview(ctx, req)
			require.NoError(t, err)
			a, err := e.svc.Activate(ctx, "zhang-desk", req)
			require.NoError(t, err)
			require.Equal(t, notify.StatusPendingApproval, a.Status)

			approve := notify.DecisionRequest{Approve: true, Recipients: preview.Total}
			for _, same := range []string{"zhang-phone", "张三"} { // another token of 张三's; a token named 张三 with no holder of its own
				_, err = e.svc.Decide(ctx, same, a.ID, approve)
				if rules < 9 {
					require.NoError(t, err, "under rules %d the token %q is another person", rules, same)
					return
				}
				require.True(t, muster.IsCode(err, muster.EForbidden), "%s: %v", same, err)
				assert.Contains(t, err.Error(), `activation `+string(a.ID)+` was requested by 张三 with the token "zhang-desk"; "`+same+`" is theirs too`)
			}
			a, err = e.svc.Decide(ctx, "li", a.ID, approve)
			require.NoError(t, err)
			assert.Equal(t, notify.StatusActive, a.Status)
		})
	}
}
