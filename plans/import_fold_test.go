package plans_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/plans"
)

func TestFoldExternalID(t *testing.T) {
	for in, want := range map[string]string{
		"P0000002":           "P0000002",
		"Ｐ０００００02":           "P0000002",
		"\u3000Ｐ０１－ａ\u3000 ": "P01-a",
		"张三０１":               "张三01",
		"":                   "",
	} {
		assert.Equal(t, want, plans.FoldExternalID(in), "%q", in)
	}
}

// An 编号 typed in full-width characters (Ｐ０００００02, what a Chinese input
// method gives) is the same 编号 as P0000002: the file updates the person
// who has it, two rows with it are a duplicate, a backup named by it is
// that person, and it is stored folded (rules 13). An 编号 stored full-width
// by an earlier import is still found, whichever way the file writes it.
// Under rules 12 the commit compares them as given: a new person.
func TestImportFoldsFullWidthExternalIDs(t *testing.T) {
	for _, rules := range []int{0, 12} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			svc, _ := newServiceNodeAt(t, rules)
			ctx := testCtx(t)
			grid := string(demoGrids(t)[0])
			head := "编号,姓名,手机,网格,类别,备用联系人\n"
			_, err := svc.ImportRoster(ctx, "test", strings.NewReader(head+"P0000002,张三,13800138000,"+grid+",党员,\n"), plans.ImportOptions{})
			require.NoError(t, err)

			res, err := svc.ImportRoster(ctx, "test", strings.NewReader(head+"Ｐ０００００02,张三,13800138009,"+grid+",党员,\n"), plans.ImportOptions{})
			require.NoError(t, err)
			if rules == 12 {
				assert.Equal(t, 1, res.Created, "compared as given before rules 13")
				return
			}
			assert.Equal(t, 0, res.Created)
			assert.Equal(t, 1, res.Updated)
			people := everyone(t, svc)
			assert.Equal(t, 1, count(t, svc), "no second 张三")
			assert.Equal(t, "P0000002", people["张三"].ExternalID)
			assert.Equal(t, []string{"+8613800138009"}, people["张三"].Phones)

			// Twice in one file, written two ways: a duplicate.
			_, err = svc.ImportRoster(ctx, "test", strings.NewReader(head+
				"P0000003,李四,13800138001,"+grid+",党员,\nＰ０００００03,王五,13800138002,"+grid+",党员,\n"), plans.ImportOptions{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), `row 3, external_id "Ｐ０００００03": external ID already used on row 2`)

			// A backup named full-width: a person of the roster, a row of
			// the file, oneself.
			res, err = svc.ImportRoster(ctx, "test", strings.NewReader(head+
				"P0000004,李四,13800138001,"+grid+",党员,Ｐ０００００02\n"+
				"P0000005,王五,13800138002,"+grid+",党员,Ｐ０００００04\n"), plans.ImportOptions{})
			require.NoError(t, err)
			assert.Equal(t, 2, res.Created)
			people = everyone(t, svc)
			assert.Equal(t, people["张三"].ID, people["李四"].Backup)
			assert.Equal(t, people["李四"].ID, people["王五"].Backup)
			res, err = svc.ImportRoster(ctx, "test", strings.NewReader(head+"P0000006,赵六,13800138003,"+grid+",党员,Ｐ０００００06\n"), plans.ImportOptions{DryRun: true})
			require.NoError(t, err)
			require.Len(t, res.Errors, 1)
			assert.Equal(t, "a person cannot be their own backup: name someone else's phone or 编号", res.Errors[0].Reason)

			// Stored full-width (a person made by hand, or an import before
			// rules 13): found as the file writes it, either way, and then
			// stored folded.
			for i, file := range []string{"Ｐ０００００07", "P0000008"} {
				stored := []string{"Ｐ０００００07", "Ｐ０００００08"}[i]
				name := []string{"孙七", "周八"}[i]
				p, err := svc.CreatePerson(ctx, "test", plans.PersonInput{ExternalID: stored, Name: name, Phones: []string{fmt.Sprintf("1380013801%d", i)}, Grid: grid, Category: "党员"})
				require.NoError(t, err)
				require.Equal(t, stored, p.ExternalID)
				res, err = svc.ImportRoster(ctx, "test", strings.NewReader(head+file+","+name+",1390013900"+fmt.Sprint(i)+","+grid+",党员,\n"), plans.ImportOptions{})
				require.NoError(t, err, file)
				assert.Equal(t, 0, res.Created, file)
				assert.Equal(t, 1, res.Updated, file)
				got := everyone(t, svc)[name]
				assert.Equal(t, p.ID, got.ID, file)
				assert.Equal(t, plans.FoldExternalID(stored), got.ExternalID, file)
			}
			assert.Len(t, everyone(t, svc), 5, "no one twice")
		})
	}
}
