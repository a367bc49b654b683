package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/notify"
	"muster/plans"
)

// chunkRun is a drill of escalatePlan on a one-node cluster whose clock
// the test moves, everyone's SMS delivered and no one answering yet.
type chunkRun struct {
	e      *env
	clock  *clustertest.Clock
	a      notify.Activation
	people []plans.PersonID // in key order
}

func newChunkRun(t *testing.T, rules int) *chunkRun {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	e := newEnvWith(t, 1, 200, clustertest.Options{Setup: setup, Config: func(_ int, c *cluster.Config) { c.Clock = clock; c.Rules = rules }}, testCtx(t))
	_, err := e.plans.ApplyPlan(testCtx(t), "test", "escalate.yaml", escalatePlan())
	require.NoError(t, err)
	a, err := e.svc.Activate(testCtx(t), "trainer", notify.ActivationRequest{Plan: "escalate", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "EXERCISE", Reason: "叫应演练"})
	require.NoError(t, err)
	r := &chunkRun{e: e, clock: clock, a: a}
	for _, rc := range allRecipients(t, e, a.ID, notify.RecipientFilter{}) {
		r.set(t, rc.Person, notify.StateDelivered)
		r.people = append(r.people, rc.Person)
	}
	require.Greater(t, len(r.people), 30)
	return r
}

func (r *chunkRun) set(t *testing.T, p plans.PersonID, s notify.State) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"Activation": r.a.ID, "Person": p, "State": s})
	require.NoError(t, r.e.c.Leader().Node.Apply(testCtx(t), &muster.Command{Type: cmdSetState, Actor: "test", Payload: body}, nil))
}

func (r *chunkRun) fire(t *testing.T, step, limit int, after plans.PersonID) notify.FireResult {
	t.Helper()
	var res notify.FireResult
	applyJSON(t, r.e.c.Leader().Node, notify.CmdEscalationFire, fmt.Sprintf(`{"a":%q,"step":%d,"limit":%d,"after":%q}`, r.a.ID, step, limit, after), &res)
	return res
}

// outcome is what the steps left: each queued item (its step, action,
// person, sequence, the people a report names and its text, the
// activation's ID left out) and each recipient's state.
func (r *chunkRun) outcome(t *testing.T) (items []string, states map[plans.PersonID]notify.State) {
	t.Helper()
	require.NoError(t, r.e.c.Leader().Node.View(testCtx(t), muster.Default, func(tx *bolt.Tx) error {
		q, err := notify.EscalationQueue(tx, r.a.ID)
		for _, it := range q {
			items = append(items, fmt.Sprintf("%d %s %s %d %v %s", it.Step, it.Action, it.Person, it.Seq, it.About, strings.ReplaceAll(it.Text, string(r.a.ID), "ID")))
		}
		return err
	}))
	states = map[plans.PersonID]notify.State{}
	for _, rc := range allRecipients(t, r.e, r.a.ID, notify.RecipientFilter{}) {
		states[rc.Person] = rc.State
	}
	return items, states
}

// A step fired in chunks of recipients, each its own raft entry, does
// what the step fired at once does: the same SMS again, and one 叫应
// report per superior naming all of their silent people however the
// chunks cut the grids, the silent escalated. Someone who answers between
// two chunks of the superior step, after theirs, is not in the report, as
// if they had answered before it. A chunk proposed again (from a place
// the step has gone past) does nothing and says where the step goes on;
// a step done is not fired again. Under rules 12 the limit is not looked
// at: the step is one entry.
func TestEscalationStepFiresInChunks(t *testing.T) {
	whole, chunks := newChunkRun(t, 0), newChunkRun(t, 0)
	require.Equal(t, whole.people, chunks.people, "the same roster and call-up")
	// Someone of the first chunk who is no one's superior answers.
	var answers plans.PersonID
	for _, id := range whole.people[1:7] {
		p, err := whole.e.plans.Person(testCtx(t), muster.Default, id)
		require.NoError(t, err)
		if !p.HasTag(notify.GridLeaderTag) && !p.HasTag(notify.DutyLeaderTag) {
			answers = id
			break
		}
	}
	require.NotEmpty(t, answers)
	for _, r := range []*chunkRun{whole, chunks} {
		r.clock.Add(10 * time.Minute)
	}

	res := whole.fire(t, 0, 0, "")
	assert.Empty(t, res.Next)
	assert.Equal(t, len(whole.people), res.Silent)
	whole.set(t, answers, notify.StateAcked)
	res = whole.fire(t, 1, 0, "")
	assert.Empty(t, res.Next, "no limit: the whole step")

	fires := 0
	fireAll := func(step int) (silent, queued int) {
		var after plans.PersonID
		for {
			res := chunks.fire(t, step, 7, after)
			fires++
			silent, queued = silent+res.Silent, queued+res.Queued
			if res.Next == "" {
				return silent, queued
			}
			require.LessOrEqual(t, res.Silent, 7)
			if step == 1 && after == "" {
				// Between the first two chunks someone the first took
				// answers, and the first chunk is proposed again.
				chunks.set(t, answers, notify.StateAcked)
				again := chunks.fire(t, step, 7, "")
				assert.Equal(t, notify.FireResult{Next: res.Next}, again, "a chunk again: nothing done, go on from there")
			}
			after = res.Next
		}
	}
	silent, queued := fireAll(0)
	assert.Equal(t, len(chunks.people), silent)
	assert.Equal(t, len(chunks.people), queued)
	_, reports := fireAll(1)
	assert.Greater(t, fires, 2*len(chunks.people)/7, "each step in chunks of 7")
	assert.True(t, chunks.fire(t, 1, 7, "").Already, "a step done is not fired again")

	wantItems, wantStates := whole.outcome(t)
	gotItems, gotStates := chunks.outcome(t)
	assert.Equal(t, wantItems, gotItems)
	assert.Equal(t, wantStates, gotStates)
	assert.Equal(t, notify.StateAcked, gotStates[answers])
	n := 0
	for _, it := range gotItems {
		if strings.HasPrefix(it, "1 ") {
			n++
			about := it[strings.Index(it, "[") : strings.Index(it, "]")+1]
			assert.NotContains(t, about, string(answers), "who answered is not reported")
		}
	}
	assert.Equal(t, reports, n)
	assert.Positive(t, reports)

	// A step begun in chunks by an earlier leader: the escalator goes on
	// where it stopped, a chunk at a time, and the step ends as above.
	resumed := newChunkRun(t, 0)
	resumed.clock.Add(5 * time.Minute) // step 0 due, step 1 not yet
	require.NotEmpty(t, resumed.fire(t, 0, 7, "").Next)
	node := resumed.e.c.Leader().Node
	esc := notify.NewEscalator(node, node, notify.EscalatorConfig{Clock: resumed.clock, Tick: 20 * time.Millisecond, FireChunk: 7})
	ctx, stop := context.WithCancel(testCtx(t))
	done := make(chan struct{})
	go func() { defer close(done); esc.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for esc.Stats().Fired == 0 {
		require.True(t, time.Now().Before(deadline), "the escalator did not finish the step")
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-done
	assert.EqualValues(t, (len(resumed.people)-7+6)/7, esc.Stats().FireChunks, "from the chunk after the first, one entry per 7")
	resumedItems, _ := resumed.outcome(t)
	var step0 []string
	for _, it := range wantItems {
		if strings.HasPrefix(it, "0 ") {
			step0 = append(step0, it)
		}
	}
	assert.Equal(t, step0, resumedItems)

	older := newChunkRun(t, 12)
	older.clock.Add(10 * time.Minute)
	res = older.fire(t, 0, 7, "")
	assert.Empty(t, res.Next, "rules 12: the whole step in one entry")
	assert.Equal(t, len(older.people), res.Queued)
}

// TestStepBegunInChunksWaitsForTheRulesBack: a member of a muster whose
// rules predate chunks joins while a step is being fired in chunks. The
// cluster then takes the step as fired: the escalator warns, naming the
// step, and proposes it again once a minute, not every tick; once every
// member implements chunks again the step goes on where it stopped and
// ends with an SMS to everyone, as if nothing had happened.
func TestStepBegunInChunksWaitsForTheRulesBack(t *testing.T) {
	r := newChunkRun(t, 0)
	r.clock.Add(5 * time.Minute) // step 0 due, step 1 not yet
	require.NotEmpty(t, r.fire(t, 0, 7, "").Next)
	node := r.e.c.Leader().Node
	record := func(rules int) {
		b, _ := json.Marshal(cluster.NodeInfo{ID: node.ID(), RaftAddr: node.RaftAddr(), Rules: rules})
		require.NoError(t, node.Apply(testCtx(t), &muster.Command{Type: "cluster.node.put", Actor: "test", Payload: b}, nil))
	}
	record(12) // as an older member's record would make the cluster's rules

	logs := &levelHandler{match: "begun in chunks"}
	esc := notify.NewEscalator(node, node, notify.EscalatorConfig{Clock: r.clock, Tick: 20 * time.Millisecond, FireChunk: 7, Logger: slog.New(logs)})
	ctx, stop := context.WithCancel(testCtx(t))
	done := make(chan struct{})
	go func() { defer close(done); esc.Run(ctx) }()
	defer func() { stop(); <-done }()
	warned := func(n int) {
		t.Helper()
		require.Eventually(t, func() bool { c, _ := logs.count(slog.LevelWarn); return c == n }, 30*time.Second, 5*time.Millisecond, "warning %d", n)
	}
	warned(1)
	assert.EqualValues(t, 1, esc.Stats().FireChunks, "proposed once, taken as fired")
	r.clock.Add(time.Minute)
	warned(2)
	assert.EqualValues(t, 2, esc.Stats().FireChunks, "again a minute later, not at every tick")
	assert.Zero(t, esc.Stats().Fired)

	record(muster.Rules)
	r.clock.Add(time.Minute)
	require.Eventually(t, func() bool { return esc.Stats().Fired == 1 }, 30*time.Second, 5*time.Millisecond, "the step did not go on")
	assert.EqualValues(t, 2+(len(r.people)-7+6)/7, esc.Stats().FireChunks, "then one entry per 7, from the second chunk")
	items, _ := r.outcome(t)
	sent := map[string]bool{}
	for _, it := range items {
		if strings.HasPrefix(it, "0 sms ") {
			sent[strings.Fields(it)[2]] = true
		}
	}
	assert.Len(t, sent, len(r.people), "everyone got the step's SMS")
	c, _ := logs.count(slog.LevelWarn)
	assert.Equal(t, 2, c)
}
