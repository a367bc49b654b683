package plans_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/plans"
)

// everyone is the whole roster, by name.
func everyone(t *testing.T, svc *plans.Service) map[string]plans.Person {
	t.Helper()
	list, err := svc.People(testCtx(t), muster.Default, plans.PeopleFilter{}, plans.Page{Limit: 1000})
	require.NoError(t, err)
	out := map[string]plans.Person{}
	for _, p := range list.Items {
		out[p.Name] = p
	}
	return out
}

// A file without 编号 that gives a person's phone another name renames
// them: the dry run and the result list each such person (row, phone, old
// name → new name, the grid when it changes too), and the import is
// refused, changing nothing, unless it allows renames. A file with 编号
// renames by them as before.
func TestImportListsAndConfirmsPhoneRenames(t *testing.T) {
	svc := newService(t)
	ctx := testCtx(t)
	grids := demoGrids(t)
	g1, g2 := string(grids[0]), string(grids[1])
	first := "姓名,手机,网格,类别\n张三,13800138000," + g1 + ",党员\n王五,13800138001," + g1 + ",党员\n"
	_, err := svc.ImportRoster(ctx, "test", strings.NewReader(first), plans.ImportOptions{})
	require.NoError(t, err)
	zhang := everyone(t, svc)["张三"]
	require.NotEmpty(t, zhang.ID)

	// Row 2 gives 张三's number to 李四 and moves them; row 3 is unchanged.
	second := "姓名,手机,网格,类别\n李四,13800138000," + g2 + ",党员\n王五,13800138001," + g1 + ",党员\n"
	want := []plans.Rename{{Row: 2, Person: zhang.ID, Phone: "+8613800138000", OldName: "张三", NewName: "李四",
		OldGrid: plans.RegionCode(g1), NewGrid: plans.RegionCode(g2)}}

	dry, err := svc.ImportRoster(ctx, "test", strings.NewReader(second), plans.ImportOptions{DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, 1, dry.Updated)
	assert.Equal(t, want, dry.Renamed)
	assert.Equal(t, 1, dry.RenamedCount)

	_, err = svc.ImportRoster(ctx, "test", strings.NewReader(second), plans.ImportOptions{})
	require.Error(t, err)
	var e *muster.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, muster.EConflict, e.Code)
	assert.Contains(t, e.Message, "1 person would be renamed through a phone match (row 2: 张三 → 李四 (+8613800138000)); nothing was imported")
	assert.Contains(t, e.Message, "--allow-renames")
	assert.Equal(t, want, e.Details.(plans.ImportResult).Renamed)
	assert.Equal(t, zhang, everyone(t, svc)["张三"], "nothing changed")

	res, err := svc.ImportRoster(ctx, "test", strings.NewReader(second), plans.ImportOptions{AllowRenames: true})
	require.NoError(t, err)
	assert.Equal(t, 1, res.Updated)
	assert.Equal(t, want, res.Renamed)
	li := everyone(t, svc)["李四"]
	assert.Equal(t, zhang.ID, li.ID)
	assert.Equal(t, plans.RegionCode(g2), li.Grid)

	res, err = svc.ImportRoster(ctx, "test", strings.NewReader(second), plans.ImportOptions{})
	require.NoError(t, err, "the same file again renames no one")
	assert.Equal(t, 2, res.Unchanged)
	assert.Empty(t, res.Renamed)

	// With 编号, people are matched by them: a new name is theirs.
	withIDs := "编号,姓名,手机,网格,类别\nR1,赵六,13800138002," + g1 + ",党员\n"
	_, err = svc.ImportRoster(ctx, "test", strings.NewReader(withIDs), plans.ImportOptions{})
	require.NoError(t, err)
	res, err = svc.ImportRoster(ctx, "test", strings.NewReader(strings.Replace(withIDs, "赵六", "赵七", 1)), plans.ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1, res.Updated)
	assert.Empty(t, res.Renamed)
}

// applyImport stages rows and commits them through the raft log as an
// import does, started with begin, and returns the commit's result.
func applyImport(t *testing.T, n *cluster.Node, begin string, rows []plans.RosterRow) (plans.ImportResult, error) {
	t.Helper()
	ctx := testCtx(t)
	var id string
	require.NoError(t, n.Apply(ctx, &muster.Command{Type: plans.CmdImportBegin, Actor: "test", Payload: []byte(begin)}, &id))
	b, err := json.Marshal(map[string]any{"import": id, "seq": 0, "count": len(rows), "rows": rows})
	require.NoError(t, err)
	require.NoError(t, n.Apply(ctx, &muster.Command{Type: plans.CmdImportRows, Actor: "test", Payload: b}, nil))
	var res plans.ImportResult
	err = n.Apply(ctx, &muster.Command{Type: plans.CmdImportCommit, Actor: "test", Payload: []byte(fmt.Sprintf(`{"import":%q}`, id))}, &res)
	if err != nil {
		abort := fmt.Sprintf(`{"import":%q}`, id)
		require.NoError(t, n.Apply(context.WithoutCancel(ctx), &muster.Command{Type: plans.CmdImportAbort, Actor: "test", Payload: []byte(abort)}, nil))
	}
	return res, err
}

// The commit itself refuses a phone-match rename unless the import was
// begun allowing renames (rules 13); under rules 12 it renames, as before.
func TestImportCommitRefusesPhoneRenamesFromRules13(t *testing.T) {
	for _, rules := range []int{0, 12} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			svc, n := newServiceNodeAt(t, rules)
			grid := demoGrids(t)[0]
			_, err := svc.ImportRoster(testCtx(t), "test", strings.NewReader("姓名,手机,网格,类别\n张三,13800138000,"+string(grid)+",党员\n"), plans.ImportOptions{})
			require.NoError(t, err)
			row := plans.RosterRow{Row: 2, Name: "李四", Phones: []string{"+8613800138000"}, Grid: grid, Category: plans.CatPartyMember, Language: plans.LangZH}

			_, err = applyImport(t, n, `{}`, []plans.RosterRow{row})
			if rules == 12 {
				require.NoError(t, err)
				assert.Contains(t, everyone(t, svc), "李四", "renamed, as before rules 13")
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "would be renamed through a phone match")
			assert.Contains(t, everyone(t, svc), "张三", "nothing changed")

			res, err := applyImport(t, n, `{"allow_renames":true}`, []plans.RosterRow{row})
			require.NoError(t, err)
			assert.Equal(t, 1, res.Updated)
			assert.Len(t, res.Renamed, 1)
			assert.Contains(t, everyone(t, svc), "李四")
		})
	}
}
