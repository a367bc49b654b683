package plans_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/plans"
)

// A region file's English names (英文名 / 英文名称 / name_en) are stored
// with its regions (rules 11). A file without that column leaves the names
// stored as they are, as a roster file leaves the fields it has no column
// for; a file with it and an empty cell clears the name. Under rules 10,
// which an older muster may be applying, no English name is stored.
func TestRegionFileEnglishNames(t *testing.T) {
	for _, tc := range []struct {
		rules int
		names bool
	}{{0, true}, {10, false}} {
		t.Run(fmt.Sprintf("rules %d", tc.rules), func(t *testing.T) {
			c := clustertest.New(t, 1, clustertest.Options{Setup: func(i int, n *cluster.Node) { plans.Register(n) },
				Config: func(_ int, cfg *cluster.Config) { cfg.Rules = tc.rules }})
			n := c.Nodes[0].Node
			waitRules(t, n, tc.rules)
			svc := plans.NewService(n, n)
			ctx := testCtx(t)
			_, err := svc.ImportRegions(ctx, "test", bytes.NewReader(examples.RegionsCSV()))
			require.NoError(t, err)
			nameEN := func(code plans.RegionCode) string {
				t.Helper()
				r, err := svc.Region(ctx, muster.Default, code)
				require.NoError(t, err)
				return r.NameEN
			}
			want := func(s string) string {
				if tc.names {
					return s
				}
				return ""
			}
			assert.Equal(t, want("Example City"), nameEN("990100"))
			assert.Equal(t, want("Donghu District"), nameEN("990101"))
			assert.Empty(t, nameEN("990101001"), "a street of the demo city has no English name")

			again, err := svc.ImportRegions(ctx, "test", bytes.NewReader(examples.RegionsCSV()))
			require.NoError(t, err)
			assert.Equal(t, plans.RegionImportResult{Unchanged: 1351}, again, "the same file changes nothing")

			// No English name column: the names stay, whatever else changes.
			res, err := svc.ImportRegions(ctx, "test", strings.NewReader("编码,名称,级别,上级\n990101,东湖新区,区,990100\n990102,江北区,区,990100\n"))
			require.NoError(t, err)
			assert.Equal(t, plans.RegionImportResult{Updated: 1, Unchanged: 1}, res)
			r, err := svc.Region(ctx, muster.Default, "990101")
			require.NoError(t, err)
			assert.Equal(t, "东湖新区", r.Name)
			assert.Equal(t, want("Donghu District"), r.NameEN, "a file without the column keeps the English name")
			assert.Equal(t, want("Jiangbei District"), nameEN("990102"))

			// The column, under each of its names: a cell sets, an empty cell clears.
			for _, h := range []string{"英文名", "英文名称", "name_en"} {
				res, err = svc.ImportRegions(ctx, "test", strings.NewReader("编码,名称,级别,上级,"+h+"\n990101,东湖新区,区,990100,New Donghu District ("+h+")\n990102,江北区,区,990100,\n"))
				require.NoError(t, err, h)
				assert.Equal(t, want("New Donghu District ("+h+")"), nameEN("990101"), h)
				assert.Empty(t, nameEN("990102"), "%s: an empty cell clears the English name", h)
			}
			if tc.names {
				assert.Equal(t, plans.RegionImportResult{Updated: 1, Unchanged: 1}, res, "the last file renamed one region, the one before cleared the other")
			}

			// PutRegions sets what it is given.
			_, err = svc.PutRegions(ctx, "test", []plans.Region{{Code: "990102", Name: "江北区", Kind: plans.KindDistrict, Parent: "990100", NameEN: "Jiangbei District"}})
			require.NoError(t, err)
			assert.Equal(t, want("Jiangbei District"), nameEN("990102"))
		})
	}
}

// An English name is plain text on one line: a row with a control
// character in it is refused, naming the row and the field.
func TestRegionFileEnglishNameChecked(t *testing.T) {
	regions, rowErrs, err := plans.ParseRegions(strings.NewReader("编码,名称,级别,上级,英文名\n990100,示例市,市,,Example City\n990101,东湖区,区,990100,\"Donghu\nDistrict\"\n"))
	require.NoError(t, err)
	require.Len(t, regions, 1)
	assert.Equal(t, "Example City", regions[0].NameEN)
	require.Len(t, rowErrs, 1)
	assert.Equal(t, 3, rowErrs[0].Row)
	assert.Equal(t, "name_en", rowErrs[0].Field)
	assert.Contains(t, rowErrs[0].Reason, "control character")
}

// A role's English name (name_en) is read from the plan file, and a plan
// version keeps it (rules 11); under rules 10 the version is stored
// without it, as an older muster stores it.
func TestPlanRoleEnglishNames(t *testing.T) {
	files, err := examples.Plans()
	require.NoError(t, err)
	var flood []byte
	for _, f := range files {
		if f.Name == "flood.yaml" {
			flood = f.Data
		}
	}
	require.NotNil(t, flood)
	p, err := plans.DecodePlan("flood.yaml", flood)
	require.NoError(t, err)
	first := p.Levels[0].Groups[0].Roles[0]
	assert.Equal(t, "总指挥", first.Name)
	assert.Equal(t, "Commander-in-Chief", first.NameEN)

	for _, tc := range []struct {
		rules int
		want  string
	}{{0, "Commander-in-Chief"}, {10, ""}} {
		t.Run(fmt.Sprintf("rules %d", tc.rules), func(t *testing.T) {
			c := clustertest.New(t, 1, clustertest.Options{Setup: func(i int, n *cluster.Node) { plans.Register(n) },
				Config: func(_ int, cfg *cluster.Config) { cfg.Rules = tc.rules }})
			n := c.Nodes[0].Node
			waitRules(t, n, tc.rules)
			svc := plans.NewService(n, n)
			ctx := testCtx(t)
			_, err := svc.ImportRegions(ctx, "test", bytes.NewReader(examples.RegionsCSV()))
			require.NoError(t, err)
			res, err := svc.ApplyPlan(ctx, "test", "flood.yaml", flood)
			require.NoError(t, err)
			pv, err := svc.Plan(ctx, muster.Default, res.PlanID, 0)
			require.NoError(t, err)
			assert.Equal(t, tc.want, pv.Plan.Levels[0].Groups[0].Roles[0].NameEN)
			assert.Equal(t, pv.Hash, pv.Plan.Hash(), "the hash is of the plan as stored")
		})
	}
}

// A role's English name goes into LIVE messages: a drill word in it is
// refused as in the role's name, and so is a control character; the
// problems point at the line.
func TestPlanRoleEnglishNameChecked(t *testing.T) {
	src, err := os.ReadFile("testdata/plans/bad-name-en.yaml")
	require.NoError(t, err)
	_, err = plans.DecodePlan("bad-name-en.yaml", src)
	require.Error(t, err)
	var merr *muster.Error
	require.True(t, errors.As(err, &merr))
	problems, ok := merr.Details.([]plans.Problem)
	require.True(t, ok)
	got := map[string]plans.Problem{}
	for _, p := range problems {
		got[p.Field] = p
	}
	drill, ok := got["levels.IV.groups[0].roles[0].name_en"]
	require.True(t, ok, "problems: %v", problems)
	assert.Contains(t, drill.Message, `"Drill crew" says "Drill"`)
	assert.Equal(t, 15, drill.Line)
	ctl, ok := got["levels.IV.groups[0].roles[1].name_en"]
	require.True(t, ok, "problems: %v", problems)
	assert.Contains(t, ctl.Message, "control character")
	assert.Equal(t, 18, ctl.Line)
	assert.Len(t, problems, 2, "problems: %v", problems)
}

// waitRules waits until n stamps commands with rules (0: muster.Rules): a
// new node stamps rules 1 until it has recorded itself as a member.
func waitRules(t *testing.T, n *cluster.Node, rules int) {
	t.Helper()
	if rules == 0 {
		rules = muster.Rules
	}
	require.Eventually(t, func() bool { return n.Status().Rules == rules }, 10*time.Second, 10*time.Millisecond, "the node's rules are published")
}
