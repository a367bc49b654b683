package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/notify"
	"muster/notify/twiliosim"
	"muster/plans"
)

// Recipients become sendable while a leader's dispatcher runs in ways its
// scan of fresh recipients does not see by itself: backups added by the
// escalation, people who wrote before their message went out, claims and
// results whose commit failed. These tests run one dispatcher on a stable
// single node and check each is sent in the same term, once.

// countingProvider accepts every SMS and counts them per number.
type countingProvider struct {
	mu   sync.Mutex
	to   map[string]int
	sent int
}

func (p *countingProvider) SendSMS(_ context.Context, m notify.SMS) (notify.Sent, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.to == nil {
		p.to = map[string]int{}
	}
	p.to[m.To]++
	p.sent++
	return notify.Sent{ProviderID: fmt.Sprintf("SM%032d", p.sent)}, nil
}

func (p *countingProvider) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent
}

func (p *countingProvider) sentTo(phone string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.to[phone]
}

// runExerciseDispatcher runs a dispatcher with the exercise route on prov,
// its commands applied through apply, until the test ends or stop is called.
func runExerciseDispatcher(t *testing.T, apply notify.Applier, n *cluster.Node, prov notify.Provider, tune func(*notify.DispatcherConfig)) (stop func()) {
	t.Helper()
	cfg := notify.DispatcherConfig{Exercise: &notify.Route{Name: "exercise", Account: "ACdrill", Exercise: true, Provider: prov}, Poll: 10 * time.Millisecond}
	if tune != nil {
		tune(&cfg)
	}
	d, err := notify.NewDispatcher(apply, n, cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func exerciseEveryone(t *testing.T, e *env, plan string, src []byte) notify.Activation {
	t.Helper()
	_, err := e.plans.ApplyPlan(testCtx(t), "test", plan+".yaml", src)
	require.NoError(t, err)
	a, err := e.svc.Activate(testCtx(t), "trainer", notify.ActivationRequest{Plan: plans.PlanID(plan), Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "EXERCISE", Reason: "通讯演练"})
	require.NoError(t, err)
	return a
}

// waitSends polls until prov has taken want messages; then it checks no
// more come within the dispatcher's next rounds.
func waitSends(t *testing.T, e *env, id plans.ActivationID, prov *countingProvider, want int) notify.ActivationStatus {
	t.Helper()
	var st notify.ActivationStatus
	require.Eventually(t, func() bool {
		var err error
		st, err = e.svc.Activation(testCtx(t), muster.Default, id)
		c := st.Counters.ByState
		return err == nil && prov.total() >= want && c[notify.StatePending]+c[notify.StateSending] == 0
	}, 20*time.Second, 10*time.Millisecond, "want %d sends and none left pending or sending", want)
	assert.Equal(t, want, prov.total(), "each sent once")
	return st
}

func reply(t *testing.T, n *cluster.Node, from, body string) notify.InboundResult {
	t.Helper()
	payload, err := json.Marshal(map[string]any{"i": []notify.InboundItem{{Kind: notify.InboundReply, SID: "SM" + from, From: from, Body: body, Exercise: true}}})
	require.NoError(t, err)
	var out []notify.InboundResult
	require.NoError(t, n.Apply(testCtx(t), &muster.Command{Type: notify.CmdInbound, Actor: "test", Payload: payload}, &out))
	require.Len(t, out, 1)
	return out[0]
}

func recipientOf(t *testing.T, e *env, id plans.ActivationID, person plans.PersonID) notify.Recipient {
	t.Helper()
	page := plans.Page{Limit: plans.MaxPageLimit}
	for {
		l, err := e.svc.Recipients(testCtx(t), muster.Default, id, notify.RecipientFilter{}, page)
		require.NoError(t, err)
		for _, r := range l.Items {
			if r.Person == person {
				return r
			}
		}
		require.NotEmpty(t, l.Next, "person %s is no recipient of %s", person, id)
		page.After = l.Next
	}
}

// The escalation's backup step adds the silent ones' backups as pending
// recipients after everyone else was sent: the dispatcher of the same
// term sends them. It used to leave them pending until the next leader.
func TestBackupsAddedByEscalationAreSent(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	e := newEnvWith(t, 1, 300, clustertest.Options{Setup: setup, Config: func(_ int, c *cluster.Config) { c.Clock = clock }}, testCtx(t))
	n := e.c.Leader().Node
	a := exerciseEveryone(t, e, "escalate", escalatePlan())
	prov := &countingProvider{}
	runExerciseDispatcher(t, n, n, prov, nil)
	waitSends(t, e, a.ID, prov, a.Recipients)

	clock.Add(15 * time.Minute)
	payload, err := json.Marshal(map[string]any{"a": a.ID, "step": 2}) // the backup step
	require.NoError(t, err)
	var fr notify.FireResult
	require.NoError(t, n.Apply(testCtx(t), &muster.Command{Type: notify.CmdEscalationFire, Actor: "test", Payload: payload}, &fr))
	require.Positive(t, fr.Added, "backups were added")
	st := waitSends(t, e, a.ID, prov, a.Recipients+fr.Added)
	assert.Equal(t, a.Recipients+fr.Added, st.Counters.Total)
}

// Someone who writes before their call-up went out (a question: a note,
// not an answer) is still sent it, and the note does not count them as
// reached. They used to be skipped for good, by every leader.
func TestNoteBeforeSendIsStillSent(t *testing.T) {
	e := newEnv(t, 1, 60)
	n := e.c.Leader().Node
	a := exerciseEveryone(t, e, "everyone", examples.EveryonePlan)
	l, err := e.svc.Recipients(testCtx(t), muster.Default, a.ID, notify.RecipientFilter{}, plans.Page{Limit: 5})
	require.NoError(t, err)
	asker := l.Items[1]
	out := reply(t, n, asker.Phone, "请问去哪里集合？")
	require.Equal(t, notify.InboundNote, out.Outcome)
	require.Equal(t, a.ID, out.Activation)
	r := recipientOf(t, e, a.ID, asker.Person)
	assert.True(t, r.Attempt.Reached.IsZero(), "a note before any send proves nothing reached them")

	prov := &countingProvider{}
	runExerciseDispatcher(t, n, n, prov, nil)
	waitSends(t, e, a.ID, prov, a.Recipients)
	assert.Equal(t, 1, prov.sentTo(asker.Phone))
	r = recipientOf(t, e, a.ID, asker.Person)
	assert.Equal(t, notify.StateSent, r.State)
	assert.Equal(t, 1, r.Attempt.Replies, "the note is kept")
}

// failFirst fails the first command of type typ with the outcome-unknown
// timeout cluster.Node.Apply returns, having applied it (commit) or not.
type failFirst struct {
	notify.Applier
	typ    string
	commit bool
	mu     sync.Mutex
	failed int // items in the failed command
}

func (f *failFirst) Apply(ctx context.Context, c *muster.Command, out any) error {
	f.mu.Lock()
	fail := c.Type == f.typ && f.failed == 0
	if fail {
		var p struct {
			Items []json.RawMessage `json:"i"`
		}
		_ = json.Unmarshal(c.Payload, &p)
		f.failed = max(len(p.Items), 1)
	}
	f.mu.Unlock()
	if !fail {
		return f.Applier.Apply(ctx, c, out)
	}
	if f.commit {
		if err := f.Applier.Apply(ctx, c, nil); err != nil {
			return err
		}
	}
	return muster.Errorf(muster.ETimeout, "apply %s: no result before the deadline (it may or may not have been applied)", c.Type)
}

// A claim whose apply times out, whether it committed or not, does not
// strand its recipients for the rest of the term: pending ones are found
// again, those it left in sending are re-sent, and nobody is sent twice.
func TestFailedClaimIsSentInTheSameTerm(t *testing.T) {
	for _, commit := range []bool{false, true} {
		t.Run(fmt.Sprintf("committed=%v", commit), func(t *testing.T) {
			e := newEnv(t, 1, 60)
			n := e.c.Leader().Node
			a := exerciseEveryone(t, e, "everyone", examples.EveryonePlan)
			prov := &countingProvider{}
			runExerciseDispatcher(t, &failFirst{Applier: n, typ: notify.CmdDispatchClaim, commit: commit}, n, prov,
				func(c *notify.DispatcherConfig) { c.ClaimBatch = 16 })
			waitSends(t, e, a.ID, prov, a.Recipients)
			for phone, k := range prov.to {
				assert.Equal(t, 1, k, phone)
			}
		})
	}
}

// A batch of results that fails to commit is submitted again: its
// recipients end sent without a second message. They used to stay in
// sending for the rest of the term, to be sent again by the next leader.
func TestLostResultsAreCommittedAgain(t *testing.T) {
	for _, commit := range []bool{false, true} {
		t.Run(fmt.Sprintf("committed=%v", commit), func(t *testing.T) {
			e := newEnv(t, 1, 60)
			n := e.c.Leader().Node
			a := exerciseEveryone(t, e, "everyone", examples.EveryonePlan)
			prov := &countingProvider{}
			f := &failFirst{Applier: n, typ: notify.CmdDispatchResult, commit: commit}
			runExerciseDispatcher(t, f, n, prov, nil)
			st := waitSends(t, e, a.ID, prov, a.Recipients)
			assert.Positive(t, f.failed)
			assert.Equal(t, a.Recipients, st.Counters.ByState[notify.StateSent])
		})
	}
}

// A reply goes to the open call-up that sent the person a message, not to
// a newer one that has not reached them yet; the newer one, waiting for
// their answer, takes it too (rulesAnswerEveryCallUp) and sends them
// nothing more.
func TestReplyAnswersTheCallUpThatReachedThem(t *testing.T) {
	e := newEnv(t, 1, 60)
	n := e.c.Leader().Node
	first := exerciseEveryone(t, e, "everyone", examples.EveryonePlan)
	prov := &countingProvider{}
	stop := runExerciseDispatcher(t, n, n, prov, nil)
	waitSends(t, e, first.ID, prov, first.Recipients)
	stop()
	second, err := e.svc.Activate(testCtx(t), "trainer", notify.ActivationRequest{Plan: "everyone", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "EXERCISE", Reason: "第二次通讯演练", Repeat: true})
	require.NoError(t, err)
	l, err := e.svc.Recipients(testCtx(t), muster.Default, first.ID, notify.RecipientFilter{}, plans.Page{Limit: 1})
	require.NoError(t, err)
	who := l.Items[0]

	out := reply(t, n, who.Phone, "1")
	assert.Equal(t, notify.InboundApplied, out.Outcome)
	assert.Equal(t, first.ID, out.Activation, "the call-up they got")
	assert.Equal(t, notify.StateAcked, recipientOf(t, e, first.ID, who.Person).State)
	assert.Equal(t, notify.StateAcked, recipientOf(t, e, second.ID, who.Person).State, "the newer one takes the answer too")
	prov = &countingProvider{}
	runExerciseDispatcher(t, n, n, prov, nil)
	waitSends(t, e, second.ID, prov, second.Recipients-1)
	assert.Zero(t, prov.sentTo(who.Phone), "no call-up SMS asks them again")
}

// gatedProvider holds every send until released, then fails it for good.
type gatedProvider struct {
	started chan struct{}
	release chan struct{}
}

func (p *gatedProvider) SendSMS(ctx context.Context, m notify.SMS) (notify.Sent, error) {
	select {
	case p.started <- struct{}{}:
	default:
	}
	select {
	case <-p.release:
	case <-ctx.Done():
		return notify.Sent{}, ctx.Err()
	}
	return notify.Sent{}, &notify.SendError{HTTPStatus: 400, Code: 21211, Message: "invalid 'To' phone number"}
}

// A send in flight when the call-up is stood down that then fails for good
// leaves its recipient failed, not expired (which counts as reached: a
// retraction would send them a correction of a message they never got).
func TestSendThatFailsAfterStandDownIsNotReached(t *testing.T) {
	e := newEnv(t, 1, 60)
	n := e.c.Leader().Node
	a := exerciseEveryone(t, e, "everyone", examples.EveryonePlan)
	prov := &gatedProvider{started: make(chan struct{}, 1), release: make(chan struct{})}
	runExerciseDispatcher(t, n, n, prov, func(c *notify.DispatcherConfig) { c.Workers, c.MaxInFlight, c.ClaimBatch = 1, 1, 1 })
	select {
	case <-prov.started:
	case <-time.After(10 * time.Second):
		t.Fatal("no send started")
	}
	_, err := e.svc.StandDown(testCtx(t), "trainer", a.ID, "演练结束")
	require.NoError(t, err)
	st, err := e.svc.Activation(testCtx(t), muster.Default, a.ID)
	require.NoError(t, err)
	require.Equal(t, 1, st.Counters.ByState[notify.StateExpired], "the send in flight")
	close(prov.release)
	require.Eventually(t, func() bool {
		st, err = e.svc.Activation(testCtx(t), muster.Default, a.ID)
		return err == nil && st.Counters.ByState[notify.StateExpired] == 0
	}, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, 1, st.Counters.ByState[notify.StateFailed])
	assert.Equal(t, a.Recipients-1, st.Counters.ByState[notify.StatePending])
}

// A dispatcher on a node that does not lead claims nothing: its claims are
// not forwarded to the leader (whose own dispatcher may already have
// looked for what earlier leaders left in sending), and it stops.
func TestDispatcherOffTheLeaderClaimsNothing(t *testing.T) {
	e := newEnv(t, 3, 60)
	a := exerciseEveryone(t, e, "everyone", examples.EveryonePlan)
	follower := e.c.Followers()[0].Node
	require.Eventually(t, func() bool { // it has the activation
		_, err := notify.NewService(follower, follower, senders).Activation(testCtx(t), muster.Stale, a.ID)
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
	prov := &countingProvider{}
	d, err := notify.NewDispatcher(follower, follower, notify.DispatcherConfig{
		Exercise: &notify.Route{Name: "exercise", Account: "ACdrill", Exercise: true, Provider: prov}, Poll: 10 * time.Millisecond})
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { defer close(done); d.Run(testCtx(t)) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("the dispatcher went on claiming through the leader")
	}
	assert.Zero(t, prov.total())
	st, err := e.svc.Activation(testCtx(t), muster.Default, a.ID)
	require.NoError(t, err)
	assert.Equal(t, a.Recipients, st.Counters.ByState[notify.StatePending])
}

// applyJSON applies a command with a JSON payload on n, as the dispatcher
// and the webhooks would, and decodes its result into out.
func applyJSON(t *testing.T, n *cluster.Node, typ, payload string, out any) {
	t.Helper()
	require.NoError(t, n.Apply(testCtx(t), &muster.Command{Type: typ, Actor: "test", Payload: []byte(payload)}, out))
}

// voiceDrill applies the voice escalation plan and starts its drill,
// waiting until everyone has their SMS and the simulator is idle (nobody
// answers an SMS in these tests). It returns how many are silent.
func voiceDrill(t *testing.T, r *callRig, purpose string) (*notify.Service, notify.Activation, int) {
	t.Helper()
	_, err := r.plans.ApplyPlan(testCtx(t), "test", "escalate.yaml", voiceEscalatePlan())
	require.NoError(t, err)
	n := r.c.WaitLeader(15 * time.Second).Node
	svc := notify.NewService(n, n, senders)
	a, err := svc.Activate(testCtx(t), "trainer", notify.ActivationRequest{Plan: "escalate", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: purpose, Reason: "电话叫应检查"})
	require.NoError(t, err)
	r.waitSettled(t, a.ID, 60*time.Second)
	r.waitSimIdle(t, 30*time.Second)
	return svc, a, r.status(t, a.ID).Counters.ByState[notify.StateDelivered]
}

// floodDrill starts a level IV exercise of the flood-control plan over the
// city and returns it with its first n recipients. It is asked for with
// Repeat: a test may start a second over the same people on purpose
// (演练重叠 refuses it otherwise).
func floodDrill(t *testing.T, e *env, n int) (notify.Activation, []notify.Recipient) {
	t.Helper()
	a, err := e.svc.Activate(testCtx(t), "commander", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "EXERCISE", Reason: "演练", Repeat: true})
	require.NoError(t, err)
	l, err := e.svc.Recipients(testCtx(t), muster.Default, a.ID, notify.RecipientFilter{}, plans.Page{Limit: n})
	require.NoError(t, err)
	require.Len(t, l.Items, n)
	return a, l.Items
}

// A drill's backup step does not call up a backup who is called up for real
// by a LIVE call-up elsewhere; under rules 6 it did.
func TestADrillDoesNotCallUpABackupCalledUpForReal(t *testing.T) {
	for _, rules := range []int{0, 6} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
			e := newEnvWith(t, 1, 600, clustertest.Options{Setup: setup, Config: func(_ int, c *cluster.Config) { c.Clock = clock; c.Rules = rules }}, testCtx(t))
			ctx := testCtx(t)
			n := e.c.Leader().Node
			_, err := e.plans.ApplyPlan(ctx, "test", "escalate.yaml", escalatePlan())
			require.NoError(t, err)
			ask := func(purpose string, region plans.RegionCode) notify.Activation {
				a, err := e.svc.Activate(ctx, "someone", notify.ActivationRequest{Plan: "escalate", Regions: []plans.RegionCode{region}, Level: "IV", Purpose: purpose, Reason: "志愿者集结"})
				require.NoError(t, err)
				return a
			}
			live := ask("LIVE", district)
			called := allRecipients(t, e, live.ID, notify.RecipientFilter{})
			require.NotEmpty(t, called)
			// Someone the drill over the other district calls gets a backup
			// the LIVE call-up has called up.
			elsewhere := plans.RegionCode("990102")
			l, err := e.plans.People(ctx, muster.Default, plans.PeopleFilter{Region: elsewhere, Category: "志愿者"}, plans.Page{Limit: 1})
			require.NoError(t, err)
			require.Len(t, l.Items, 1)
			p := l.Items[0]
			_, err = e.plans.UpdatePerson(ctx, "admin", p.ID, plans.PersonInput{Name: p.Name, Phones: p.Phones, Grid: string(p.Grid), Category: string(p.Category),
				Tags: p.Tags, Teams: p.Teams, Language: string(p.Language), Backup: string(called[0].Person)})
			require.NoError(t, err)
			drill := ask("EXERCISE", elsewhere)
			body, _ := json.Marshal(map[string]any{"Activation": drill.ID, "Person": p.ID, "State": notify.StateDelivered})
			require.NoError(t, n.Apply(ctx, &muster.Command{Type: cmdSetState, Actor: "test", Payload: body}, nil))

			clock.Add(15 * time.Minute)
			payload, err := json.Marshal(map[string]any{"a": drill.ID, "step": 2}) // the backup step; p alone is silent
			require.NoError(t, err)
			var fr notify.FireResult
			require.NoError(t, n.Apply(ctx, &muster.Command{Type: notify.CmdEscalationFire, Actor: "test", Payload: payload}, &fr))
			assert.Equal(t, 1, fr.Silent)
			drilled := false
			for _, r := range allRecipients(t, e, drill.ID, notify.RecipientFilter{}) {
				drilled = drilled || r.Person == called[0].Person
			}
			if rules == 6 {
				assert.Equal(t, 1, fr.Added)
				assert.True(t, drilled, "under rules 6 the drill called up the backup")
				return
			}
			assert.Zero(t, fr.Added)
			assert.False(t, drilled, "%s is called up for real", called[0].Person)
		})
	}
}

// An escalation item a dead leader left in sending is claimed again by the
// next; its message or call may have gone out already, so the re-send is
// counted (escalation_resent), as the dispatcher counts its own. Under
// rules 6 nothing counted it.
func TestEscalationResendsAreCounted(t *testing.T) {
	for _, rules := range []int{0, 6} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
			e := newEnvWith(t, 1, 120, clustertest.Options{Setup: setup, Config: func(_ int, c *cluster.Config) { c.Clock, c.Rules = clock, rules }}, testCtx(t))
			ctx := testCtx(t)
			n := e.c.Leader().Node
			a := exerciseEveryone(t, e, "escalate", escalatePlan())
			first := allRecipients(t, e, a.ID, notify.RecipientFilter{})[0]
			body, _ := json.Marshal(map[string]any{"Activation": a.ID, "Person": first.Person, "State": notify.StateDelivered})
			require.NoError(t, n.Apply(ctx, &muster.Command{Type: cmdSetState, Actor: "test", Payload: body}, nil))
			clock.Add(5 * time.Minute)
			payload, _ := json.Marshal(map[string]any{"a": a.ID, "step": 0})
			var fr notify.FireResult
			require.NoError(t, n.Apply(ctx, &muster.Command{Type: notify.CmdEscalationFire, Actor: "test", Payload: payload}, &fr))
			require.Equal(t, 1, fr.Queued)

			claim := func(ref notify.EscalationRef) notify.EscalationClaimResult {
				payload, _ := json.Marshal(map[string]any{"i": []notify.EscalationRef{ref}})
				var out notify.EscalationClaimResult
				require.NoError(t, n.Apply(ctx, &muster.Command{Type: notify.CmdEscalationClaim, Actor: "test", Payload: payload}, &out))
				require.Len(t, out.Claimed, 1)
				return out
			}
			ref := notify.EscalationRef{Activation: a.ID, Step: 0, Person: first.Person}
			ref.N = claim(ref).Claimed[0].N // the leader claims it, then dies
			ref.Resend = true
			assert.Equal(t, 2, claim(ref).Claimed[0].N, "the next leader sends it again")
			st, err := e.svc.Activation(ctx, muster.Default, a.ID)
			require.NoError(t, err)
			want := 1
			if rules == 6 {
				want = 0
			}
			assert.Equal(t, want, st.Counters.Dispatch["escalation_resent"])
		})
	}
}

// The backup step calls the backup the roster names now. A backup deleted
// since the call-up started, whom the roster replaced with another person,
// was called by no one under rules 7 (the step looked for the deleted one),
// and the silent person was marked escalated all the same.
func TestTheBackupStepCallsTheBackupTheRosterNamesNow(t *testing.T) {
	for _, rules := range []int{0, 7} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
			e := newEnvWith(t, 1, 300, clustertest.Options{Setup: setup, Config: func(_ int, c *cluster.Config) { c.Clock, c.Rules = clock, rules }}, testCtx(t))
			n := e.c.Leader().Node
			a := exerciseEveryone(t, e, "escalate", escalatePlan())
			prov := &countingProvider{}
			runExerciseDispatcher(t, n, n, prov, nil)
			waitSends(t, e, a.ID, prov, a.Recipients)

			// A silent recipient whose backup is not called up: the backup
			// leaves the roster, a successor takes the place.
			ctx := testCtx(t)
			recs := allRecipients(t, e, a.ID, notify.RecipientFilter{})
			in := map[plans.PersonID]bool{}
			for _, r := range recs {
				in[r.Person] = true
			}
			var silent notify.Recipient
			for _, r := range recs {
				if r.Backup != "" && !in[r.Backup] {
					silent = r
					break
				}
			}
			require.NotEmpty(t, silent.Person, "someone has a backup outside the call-up")
			old, err := e.plans.Person(ctx, muster.Default, silent.Backup)
			require.NoError(t, err)
			require.NoError(t, e.plans.DeletePerson(ctx, "admin", old.ID))
			successor, err := e.plans.CreatePerson(ctx, "admin", plans.PersonInput{Name: "接替者", Phones: []string{"+8613912340000"}, Grid: string(old.Grid),
				Category: string(old.Category)})
			require.NoError(t, err)
			p, err := e.plans.Person(ctx, muster.Default, silent.Person)
			require.NoError(t, err)
			_, err = e.plans.UpdatePerson(ctx, "admin", p.ID, plans.PersonInput{ExternalID: p.ExternalID, Name: p.Name, Phones: p.Phones, Grid: string(p.Grid),
				Category: string(p.Category), Tags: p.Tags, Teams: p.Teams, Backup: string(successor.ID), Language: string(p.Language)})
			require.NoError(t, err)

			clock.Add(15 * time.Minute)
			payload, err := json.Marshal(map[string]any{"a": a.ID, "step": 2}) // the backup step
			require.NoError(t, err)
			var fr notify.FireResult
			require.NoError(t, n.Apply(ctx, &muster.Command{Type: notify.CmdEscalationFire, Actor: "test", Payload: payload}, &fr))
			called := false
			for _, r := range allRecipients(t, e, a.ID, notify.RecipientFilter{}) {
				called = called || r.Person == successor.ID
			}
			assert.Equal(t, rules == 0, called, "the successor is called up (rules 7: no one)")
		})
	}
}

// runPacedDispatcher runs the exercise dispatcher on n at perSecond, with
// window workers and claims in flight: the sends claimed wait for the rate.
func runPacedDispatcher(t *testing.T, n *cluster.Node, prov notify.Provider, perSecond float64, window int) {
	t.Helper()
	runExerciseDispatcher(t, n, n, prov, func(c *notify.DispatcherConfig) {
		c.Exercise.PerSecond, c.Workers, c.MaxInFlight = perSecond, window, window
	})
}

// firstSends records when the first message of each activation was sent.
type firstSends struct {
	countingProvider
	mu    sync.Mutex
	first map[plans.ActivationID]time.Time
}

func (p *firstSends) SendSMS(ctx context.Context, m notify.SMS) (notify.Sent, error) {
	act, _, _, err := notify.ParseAttemptID(m.AttemptID)
	if err == nil {
		p.mu.Lock()
		if p.first == nil {
			p.first = map[plans.ActivationID]time.Time{}
		}
		if _, ok := p.first[act]; !ok {
			p.first[act] = time.Now()
		}
		p.mu.Unlock()
	}
	return p.countingProvider.SendSMS(ctx, m)
}

func (p *firstSends) at(id plans.ActivationID) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.first[id]
	return t, ok
}

// The sends of a stood-down call-up that wait for the route's rate stop
// waiting and give their turn back: the next call-up on the route goes at
// once, not after one rate interval per send the stopped one had claimed.
// At 5 a second with 40 sends claimed and waiting, that used to be about
// 8 s.
func TestAStoodDownCallUpGivesItsTurnsBack(t *testing.T) {
	e := newEnv(t, 1, 300)
	n := e.c.Leader().Node
	first := exerciseEveryone(t, e, "everyone", examples.EveryonePlan)
	prov := &firstSends{}
	runPacedDispatcher(t, n, prov, 5, 40)
	require.Eventually(t, func() bool { return prov.total() >= 3 }, 10*time.Second, 10*time.Millisecond, "the first call-up is sending")
	_, err := e.svc.StandDown(testCtx(t), "trainer", first.ID, "停止")
	require.NoError(t, err)
	stood := time.Now()
	second, err := e.svc.Activate(testCtx(t), "trainer", notify.ActivationRequest{Plan: "everyone", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "EXERCISE", Reason: "第二次通讯检查"})
	require.NoError(t, err)
	var sent time.Time
	require.Eventually(t, func() bool {
		var ok bool
		sent, ok = prov.at(second.ID)
		return ok
	}, 20*time.Second, 10*time.Millisecond, "the second call-up sends")
	t.Logf("the second call-up's first message went %s after the stand-down", sent.Sub(stood))
	assert.Less(t, sent.Sub(stood), 3*time.Second, "its first message waited %s behind the stopped one's", sent.Sub(stood))
}

// Someone who answers while their claimed send still waits for the route's
// rate gets no call-up SMS asking them to reply: the send is dropped at the
// last look, and their answer stands.
func TestAnAnswerBeforeTheSendStopsIt(t *testing.T) {
	e := newEnv(t, 1, 60)
	n := e.c.Leader().Node
	a, prov, who := waitingSend(t, e)
	out := reply(t, n, who.Phone, "1")
	require.Equal(t, notify.InboundApplied, out.Outcome)
	waitSends(t, e, a.ID, prov, a.Recipients-1)
	assert.Zero(t, prov.sentTo(who.Phone), "no call-up SMS after their answer")
	assert.Equal(t, notify.StateAcked, recipientOf(t, e, a.ID, who.Person).State)
}

// waitingSend starts an exercise of everyone in e, sent by a dispatcher
// paced at 30 a second, and returns the provider and someone whose send
// is claimed and still waits for the rate (the last of those to go, about
// two seconds after the first).
func waitingSend(t *testing.T, e *env) (notify.Activation, *countingProvider, notify.Recipient) {
	t.Helper()
	a := exerciseEveryone(t, e, "everyone", examples.EveryonePlan)
	prov := &countingProvider{}
	runPacedDispatcher(t, e.c.Leader().Node, prov, 30, 60)
	require.Eventually(t, func() bool { return prov.total() >= 2 }, 10*time.Second, 10*time.Millisecond, "sending")
	var who notify.Recipient
	for _, r := range allRecipients(t, e, a.ID, notify.RecipientFilter{State: notify.StateSending}) {
		if prov.sentTo(r.Phone) == 0 {
			who = r
		}
	}
	require.NotEmpty(t, who.Person, "a claimed send still waits")
	return a, prov, who
}

// sendTimes records when each activation's messages were sent.
type sendTimes struct {
	countingProvider
	mu sync.Mutex
	at map[plans.ActivationID][]time.Time
}

func (p *sendTimes) SendSMS(ctx context.Context, m notify.SMS) (notify.Sent, error) {
	if act, _, _, err := notify.ParseAttemptID(m.AttemptID); err == nil {
		p.mu.Lock()
		if p.at == nil {
			p.at = map[plans.ActivationID][]time.Time{}
		}
		p.at[act] = append(p.at[act], time.Now())
		p.mu.Unlock()
	}
	return p.countingProvider.SendSMS(ctx, m)
}

// of returns when id's messages were sent, in order.
func (p *sendTimes) of(id plans.ActivationID) []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.at[id]...)
}

// A level II call-up opened while a level IV one holds the route's whole
// in-flight window gets its messages out at the account's rate from the
// start. At 10 a second, with a window of 64 and the default 64 workers,
// its first 10 go within 3 s (1 s at the rate). Its sends are claimed one
// per place that frees; each used to be taken by a worker that then waited
// for its turn behind the level IV sends the other 63 workers held: its
// first message went after about 6.4 s and the 10th after about 7.
func TestASevereCallUpIsNotHeldBehindAFullWindow(t *testing.T) {
	const rate, window, first = 10, 64, 10
	e := newEnv(t, 1, 300)
	n := e.c.Leader().Node
	iv := exerciseEveryone(t, e, "everyone", examples.EveryonePlan)
	prov := &sendTimes{}
	runExerciseDispatcher(t, n, n, prov, func(c *notify.DispatcherConfig) { c.Exercise.PerSecond, c.MaxInFlight = rate, window })
	require.Eventually(t, func() bool {
		st, err := e.svc.Activation(testCtx(t), muster.Default, iv.ID)
		return err == nil && st.Counters.Dispatch["claimed"] >= window && len(prov.of(iv.ID)) >= 3
	}, 20*time.Second, 10*time.Millisecond, "level IV fills the window and sends")

	severe := bytes.Replace(examples.EveryonePlan, []byte("id: everyone"), []byte("id: everyone-ii"), 1)
	severe = bytes.Replace(severe, []byte("\n  IV:\n"), []byte("\n  II:\n"), 1)
	_, err := e.plans.ApplyPlan(testCtx(t), "test", "everyone-ii.yaml", severe)
	require.NoError(t, err)
	opened := time.Now()
	two, err := e.svc.Activate(testCtx(t), "trainer", notify.ActivationRequest{Plan: "everyone-ii", Regions: []plans.RegionCode{city}, Level: "II", Purpose: "EXERCISE", Reason: "通讯演练", Repeat: true})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(prov.of(two.ID)) >= first }, 30*time.Second, 10*time.Millisecond, "level II sends")
	sent := prov.of(two.ID)
	t.Logf("level II: first message after %s, message %d after %s; level IV sent %d meanwhile",
		sent[0].Sub(opened), first, sent[first-1].Sub(opened), countBetween(prov.of(iv.ID), opened, sent[first-1]))
	assert.Less(t, sent[first-1].Sub(opened), 3*time.Second, "level II's first %d messages", first)
}

// countBetween counts the times in ts from a to b.
func countBetween(ts []time.Time, a, b time.Time) int {
	n := 0
	for _, t := range ts {
		if !t.Before(a) && !t.After(b) {
			n++
		}
	}
	return n
}

// A phone corrected while a call-up runs: the call-up SMS still waiting
// for the route's rate goes to the new number, and the old one gets
// nothing. The call-up keeps the number its message went to, so a reply
// from the new number answers it and one from the old does not; under
// rules 8 the record kept the old number, which still answered. It used to
// go to the old number.
func TestACorrectedPhoneGetsTheCallUpSMS(t *testing.T) {
	for _, rules := range []int{0, 8} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			const corrected = "+8613912345678"
			e := newEnvWith(t, 1, 60, clustertest.Options{Setup: setup, Config: func(_ int, c *cluster.Config) { c.Rules = rules }}, testCtx(t))
			n := e.c.Leader().Node
			a, prov, who := waitingSend(t, e)
			e.renumber(t, who.Person, corrected)
			waitSends(t, e, a.ID, prov, a.Recipients)
			assert.Equal(t, 1, prov.sentTo(corrected), "the call-up SMS goes to the corrected number")
			assert.Zero(t, prov.sentTo(who.Phone), "and not to the old one")

			old := reply(t, n, who.Phone, "1")
			got := recipientOf(t, e, a.ID, who.Person)
			if rules == 8 {
				assert.Equal(t, who.Phone, got.Phone, "rules 8: the record keeps the old number")
				assert.Equal(t, notify.InboundApplied, old.Outcome, "rules 8: the old number answers")
				return
			}
			assert.Equal(t, corrected, got.Phone, "the call-up keeps the number its message went to")
			assert.Equal(t, notify.InboundUnknown, old.Outcome, "the old number got nothing and answers nothing")
			assert.Equal(t, notify.StateSent, got.State)
			assert.Equal(t, notify.InboundApplied, reply(t, n, corrected, "1").Outcome)
			assert.Equal(t, notify.StateAcked, recipientOf(t, e, a.ID, who.Person).State)
		})
	}
}

// The escalation of someone whose phone was corrected after their call-up
// SMS went out reaches the corrected number: the SMS reminder and the
// voice call go there, and the old number gets nothing more. They used to
// go to the number the call-up began with.
func TestEscalationReachesACorrectedPhone(t *testing.T) {
	for _, tc := range []struct {
		name string
		plan []byte
		sent func(sim *twiliosim.Server, to string) int
	}{
		{"sms", escalatePlan(), func(sim *twiliosim.Server, to string) int { return len(sim.Messages(to)) }},
		{"voice", voiceEscalatePlan(), func(sim *twiliosim.Server, to string) int { return len(sim.Calls(to)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const corrected = "+8613912345678"
			clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
			r := newCallRig(t, rigOptions{nodes: 1, people: 100, clock: clock, sim: twiliosim.Config{TimeScale: 0.002}})
			a := escalateDrillOf(t, r, tc.plan)
			who := r.recipientsOf(t, a.ID)[0]
			require.Equal(t, notify.StateDelivered, who.State, "silent")
			before := tc.sent(r.sim, who.Phone)
			r.renumber(t, who.Person, corrected)

			clock.Add(5 * time.Minute)
			r.waitFired(t, a.ID, 0) // every message or call of the step is with the provider
			assert.Equal(t, 1, tc.sent(r.sim, corrected), "the step reaches the corrected number")
			assert.Equal(t, before, tc.sent(r.sim, who.Phone), "and nothing more goes to the old one")
		})
	}
}
