package notify_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/notify"
	"muster/plans"
)

// commandPlan is escalatePlan with a first role slot for the command: the
// people tagged 指挥长, whom a silence without a 网格长 is reported to.
func commandPlan() []byte {
	src := string(escalatePlan())
	slot := "          - name: 指挥长\n            name_en: Commander\n            select: {tags: [指挥长]}\n"
	return []byte(strings.Replace(src, "          - name: 全体人员\n", slot+"          - name: 全体人员\n", 1))
}

// reportRoster is a roster of the demo city (examples.RosterHeader's
// columns) whose 叫应 reports take every way there is, with commanders
// (指挥长) C01…C0n (指挥1…), n of 0 to 3, living in a grid without a
// 网格长 (each 编号 here is the person's name in what follows; muster's
// IDs go in the rows' order):
//   - grid g1: 网格长 L01 and L02, volunteers V01–V12, of whom V02 answers
//     and V03's SMS failed;
//   - grid g2: 网格长 Z01, the last superior by ID, who speaks English
//     (their report is in English),
//     volunteers V13–V18, V14 English, V15's SMS failed, V16 answers late;
//   - grid g3, of g1's community, without a 网格长: volunteers V19–V22;
//   - grid g4, of another community of the street without a 网格长 or
//     值班领导: V23, V24; the street's 值班领导 D01 lives in a third
//     community;
//   - grid g5, of another district without anyone tagged: V25, V26.
//
// The grid leaders' own silence goes to the command slot; without one
// other than themselves, a silence goes up the region tree (the
// community's 网格长, else the street's 值班领导), or to no one (g5).
func reportRoster(t *testing.T, commanders int) []string {
	t.Helper()
	regions, err := examples.Regions()
	require.NoError(t, err)
	parent := map[plans.RegionCode]plans.RegionCode{}
	for _, r := range regions {
		parent[r.Code] = r.Parent
	}
	grids := examples.Grids(regions)
	// The generated person lives in the first grid: these are others.
	g1, g2, g3 := grids[len(grids)-1], grids[len(grids)-2], grids[len(grids)-3]
	community, street := parent[g1], parent[parent[g1]]
	require.Equal(t, community, parent[g2])
	require.Equal(t, community, parent[g3])
	var g4, gD, g5 plans.RegionCode
	for _, g := range grids[1:] {
		switch c := parent[g]; {
		case c != community && parent[c] == street && g4 == "":
			g4 = g
		case c != community && c != parent[g4] && parent[c] == street && g4 != "" && gD == "":
			gD = g
		case parent[parent[c]] != parent[street] && g5 == "":
			g5 = g
		}
	}
	require.NotEmpty(t, g4)
	require.NotEmpty(t, gD)
	require.NotEmpty(t, g5)
	var rows []string
	row := func(id, name, phone string, grid plans.RegionCode, cat, tags, lang string) {
		rows = append(rows, fmt.Sprintf("%s,%s,%s,%s,%s,%s,,,%s", id, name, phone, grid, cat, tags, lang))
	}
	for i := range commanders {
		row(fmt.Sprintf("C%02d", i+1), fmt.Sprintf("指挥%d", i+1), fmt.Sprintf("1395555100%d", i+1), g3, "领导干部", "指挥长", "zh")
	}
	row("L01", "蔡春", "13955552001", g1, "社区干部", "网格长", "zh")
	row("L02", "周林", "13955552002", g1, "社区干部", "网格长", "zh")
	row("D01", "值班王", "13955552004", gD, "领导干部", "值班领导", "zh")
	row("Z01", "Zhao Yun", "13955552003", g2, "社区干部", "网格长", "en")
	for i := 1; i <= 26; i++ {
		grid := g1
		switch {
		case i > 24:
			grid = g5
		case i > 22:
			grid = g4
		case i > 18:
			grid = g3
		case i > 12:
			grid = g2
		}
		name, lang := fmt.Sprintf("队员%02d", i), "zh"
		if i == 14 {
			name, lang = "Li Lei", "en"
		}
		row(fmt.Sprintf("V%02d", i), name, fmt.Sprintf("139555530%02d", i), grid, "志愿者", "", lang)
	}
	return rows
}

// newReportRun is chunkRun over rows: a drill of commandPlan over the
// demo city on a one-node cluster whose clock the test moves, everyone's
// SMS delivered but those with the 编号 failed's (failed), no one
// answering yet. It returns muster's ID of each 编号.
func newReportRun(t *testing.T, rows []string, failed ...string) (*chunkRun, map[string]plans.PersonID) {
	t.Helper()
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	e := newEnvWith(t, 1, 1, clustertest.Options{Setup: setup, Config: func(_ int, c *cluster.Config) { c.Clock = clock }}, testCtx(t))
	_, err := e.plans.ImportRoster(testCtx(t), "test", strings.NewReader(examples.RosterHeader+"\n"+strings.Join(rows, "\n")+"\n"), plans.ImportOptions{})
	require.NoError(t, err)
	_, err = e.plans.ApplyPlan(testCtx(t), "test", "escalate.yaml", commandPlan())
	require.NoError(t, err)
	// A new node stamps rules 1 until it has recorded itself: the reports
	// would lose the regions' English names.
	n := e.c.Leader().Node
	require.Eventually(t, func() bool { return n.Status().Rules == muster.Rules }, 10*time.Second, 10*time.Millisecond, "the node's rules are published")
	a, err := e.svc.Activate(testCtx(t), "trainer", notify.ActivationRequest{Plan: "escalate", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "EXERCISE", Reason: "叫应演练"})
	require.NoError(t, err)
	ids := map[string]plans.PersonID{}
	page := plans.Page{Limit: 500}
	for {
		list, err := e.plans.People(testCtx(t), muster.Default, plans.PeopleFilter{}, page)
		require.NoError(t, err)
		for _, p := range list.Items {
			ids[p.ExternalID] = p.ID
		}
		if list.Next == "" {
			break
		}
		page.After = list.Next
	}
	r := &chunkRun{e: e, clock: clock, a: a}
	for _, rc := range allRecipients(t, e, a.ID, notify.RecipientFilter{}) {
		s := notify.StateDelivered
		for _, f := range failed {
			if rc.Person == ids[f] {
				s = notify.StateFailed
			}
		}
		r.set(t, rc.Person, s)
		r.people = append(r.people, rc.Person)
	}
	return r, ids
}

// firedChunk is what one escalation.fire answered (notify.FireResult).
type firedChunk struct {
	Next      plans.PersonID `json:"next"`
	Silent    int            `json:"silent"`
	Queued    int            `json:"queued"`
	Unreached int            `json:"unreached"`
	Looked    int            `json:"looked"`
}

func (r *chunkRun) fireChunk(t *testing.T, step, limit int, after plans.PersonID) firedChunk {
	t.Helper()
	var res firedChunk
	applyJSON(t, r.e.c.Leader().Node, notify.CmdEscalationFire, fmt.Sprintf(`{"a":%q,"step":%d,"limit":%d,"after":%q}`, r.a.ID, step, limit, after), &res)
	return res
}

// reported counts the people the superior reports of step queued so far
// name (with each superior they are named to).
func (r *chunkRun) reported(t *testing.T, step int) int {
	t.Helper()
	n := 0
	require.NoError(t, r.e.c.Leader().Node.View(testCtx(t), muster.Default, func(tx *bolt.Tx) error {
		q, err := notify.EscalationQueue(tx, r.a.ID)
		for _, it := range q {
			if it.Step == step && it.Action == plans.EscalateSuperior {
				n += len(it.About)
			}
		}
		return err
	}))
	return n
}

// reportItems is outcome's items with each one's superior's name, phone
// and language.
func (r *chunkRun) reportItems(t *testing.T) []string {
	t.Helper()
	var items []string
	require.NoError(t, r.e.c.Leader().Node.View(testCtx(t), muster.Default, func(tx *bolt.Tx) error {
		q, err := notify.EscalationQueue(tx, r.a.ID)
		for _, it := range q {
			items = append(items, fmt.Sprintf("%d %s %s %d %s %s %s %s %v %s", it.Step, it.Action, it.Person, it.Seq, it.Name, it.Phone, it.Language, it.State,
				it.About, strings.ReplaceAll(it.Text, string(r.a.ID), "ID")))
		}
		return err
	}))
	return items
}

// A superior (叫应) step fired in chunks of a few people (its recipients,
// then its reports a few superiors at a time, each its own entry) queues
// the same reports as the step fired in one entry: the same superiors
// with the same records, the same parts and texts naming the same people
// in the same order (the unreached marked, in English to an English
// speaker), and leaves everyone in the same state, the same people
// counted as reached by no one. It holds with a command slot of three
// (a grid leader's own silence goes to the other two), of one (whose own
// silence goes up the region tree) and of none (a grid without a 网格长
// goes up the tree, to the community's 网格长 or the street's 值班领导, or
// to no one). Someone who answers after their chunk, before the reports,
// and someone who answers while the reports are written, before theirs,
// are named in no report, as if they had answered before the step.
func TestSuperiorReportsInChunksAreTheReportsInOneEntry(t *testing.T) {
	const limit = 5
	for _, commanders := range []int{3, 1, 0} {
		t.Run(fmt.Sprintf("%d commanders", commanders), func(t *testing.T) {
			rows := reportRoster(t, commanders)
			whole, id := newReportRun(t, rows, "V03", "V15")
			chunks, _ := newReportRun(t, rows, "V03", "V15")
			require.Equal(t, whole.people, chunks.people)
			for _, r := range []*chunkRun{whole, chunks} {
				r.clock.Add(10 * time.Minute)
				require.Empty(t, r.fire(t, 0, 0, "").Next, "the SMS again, in one entry")
			}

			whole.set(t, id["V02"], notify.StateAcked)
			whole.set(t, id["V16"], notify.StateAcked)
			w := whole.fireChunk(t, 1, 0, "")
			require.Empty(t, w.Next, "no limit: one entry")
			require.Positive(t, w.Queued)

			var got firedChunk
			entries, reporting, v02 := 0, false, false
			var after plans.PersonID
			for {
				res := chunks.fireChunk(t, 1, limit, after)
				entries++
				got.Silent, got.Queued, got.Unreached = got.Silent+res.Silent, got.Queued+res.Queued, got.Unreached+res.Unreached
				if res.Next == "" {
					break
				}
				require.Less(t, entries, 200, "the step does not end")
				if !v02 && res.Next >= id["V02"] {
					v02 = true
					chunks.set(t, id["V02"], notify.StateAcked) // taken by the chunk before
				}
				if res.Queued > 0 && !reporting {
					reporting = true
					chunks.set(t, id["V16"], notify.StateAcked) // before Z01's report, the last
				}
				after = res.Next
			}
			assert.True(t, reporting, "the reports took more than one entry")
			assert.Greater(t, entries, len(chunks.people)/limit, "in chunks of %d", limit)
			require.True(t, v02)
			assert.Equal(t, firedChunk{Silent: w.Silent + 2, Queued: w.Queued, Unreached: w.Unreached}, got, "V02 and V16 taken silent, then left out")
			assert.True(t, chunks.fire(t, 1, limit, "").Already, "a step done is not fired again")

			wantItems, wantStates := whole.outcome(t)
			gotItems, gotStates := chunks.outcome(t)
			assert.Equal(t, wantItems, gotItems)
			assert.Equal(t, whole.reportItems(t), chunks.reportItems(t))
			assert.Equal(t, wantStates, gotStates)
			for _, s := range []*chunkRun{whole, chunks} {
				st, err := s.e.svc.Activation(testCtx(t), muster.Default, s.a.ID)
				require.NoError(t, err)
				assert.Equal(t, w.Unreached, st.Counters.Dispatch[notify.EscalationUnreachedCounter])
			}

			// What the reports are, as superiorReports has them.
			reports := map[string][]string{} // by 编号
			for _, it := range gotItems {
				for ext, p := range id {
					if f := strings.Fields(it); f[0] == "1" && f[2] == string(p) {
						reports[ext] = append(reports[ext], it)
					}
				}
			}
			joined := strings.Join(gotItems, "\n")
			assert.NotContains(t, joined, "队员02", "answered after their chunk")
			assert.NotContains(t, joined, "队员16", "answered while the reports were written")
			assert.Contains(t, joined, "队员03 13955553003（短信未送达）")
			assert.Contains(t, joined, "13955553015 (SMS not delivered)", "to Z01, in English")
			assert.NotEmpty(t, reports["L01"])
			assert.NotEmpty(t, reports["L02"])
			assert.NotEmpty(t, reports["Z01"])
			assert.Equal(t, notify.StateAcked, gotStates[id["V02"]])
			assert.Equal(t, notify.StateFailed, gotStates[id["V03"]], "the SMS did not reach them: they stay failed")
			assert.Equal(t, notify.StateEscalated, gotStates[id["V01"]])
			switch commanders {
			case 3:
				assert.Contains(t, strings.Join(reports["C01"], " "), "蔡春", "a grid leader's silence to the command")
				assert.Contains(t, strings.Join(reports["C01"], " "), "指挥2", "a commander's to the others")
				assert.Zero(t, w.Unreached)
			case 1:
				assert.Contains(t, strings.Join(reports["C01"], " "), "蔡春")
				assert.Contains(t, strings.Join(reports["L01"], " "), "指挥1", "the commander's own silence up the tree")
				assert.Zero(t, w.Unreached)
			case 0:
				assert.Contains(t, strings.Join(reports["L01"], " "), "队员19", "a grid without a 网格长 to the community's")
				assert.Contains(t, strings.Join(reports["D01"], " "), "队员23", "to the street's 值班领导")
				assert.Equal(t, 2, w.Unreached, "V25 and V26: no one above them")
				assert.Equal(t, notify.StateDelivered, gotStates[id["V25"]], "not escalated: no one was told")
			}
		})
	}
}

// With a limit of L, no entry of a superior step looks at many more than L
// people (recipients, the roster's people read to find their superiors,
// the people its reports name) or names many more than L in its reports:
// at most one grid's people or one superior's report more. Before, the
// last chunk named everyone.
func TestSuperiorStepEntriesAreBounded(t *testing.T) {
	const limit = 5
	const unit = 15 // the most people of a grid (g1: 14) or of one report (13)
	r, _ := newReportRun(t, reportRoster(t, 3), "V03", "V15")
	r.clock.Add(10 * time.Minute)
	require.Empty(t, r.fire(t, 0, 0, "").Next)
	var after plans.PersonID
	named, entries := 0, 0
	for {
		res := r.fireChunk(t, 1, limit, after)
		entries++
		now := r.reported(t, 1)
		assert.LessOrEqual(t, now-named, limit+unit, "entry %d names %d", entries, now-named)
		assert.LessOrEqual(t, res.Looked, limit+unit, "entry %d", entries)
		assert.Positive(t, res.Looked, "entry %d", entries)
		named = now
		if res.Next == "" {
			break
		}
		require.Less(t, entries, 200, "the step does not end")
		after = res.Next
	}
	assert.Greater(t, named, 2*(limit+unit), "more named than one entry may")
	t.Logf("%d named in %d entries", named, entries)
}

// Under rules 12 a superior step is one entry whatever the limit: its
// reports are superiorReports' as before.
func TestSuperiorStepUnderRules12IsOneEntry(t *testing.T) {
	r, _ := newReportRun(t, reportRoster(t, 3), "V03")
	b, _ := json.Marshal(cluster.NodeInfo{ID: r.e.c.Leader().Node.ID(), RaftAddr: r.e.c.Leader().Node.RaftAddr(), Rules: 12})
	require.NoError(t, r.e.c.Leader().Node.Apply(testCtx(t), &muster.Command{Type: "cluster.node.put", Actor: "test", Payload: b}, nil))
	require.Eventually(t, func() bool { return r.e.c.Leader().Node.Status().Rules == 12 }, 10*time.Second, 10*time.Millisecond)
	r.clock.Add(10 * time.Minute)
	require.Empty(t, r.fire(t, 0, 0, "").Next)
	res := r.fireChunk(t, 1, 5, "")
	assert.Empty(t, res.Next, "one entry")
	assert.Zero(t, res.Looked)
	assert.Positive(t, res.Queued)
}
