package plans_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/plans"
)

// A backup named by 编号 whose row has errors is told so, as one named by
// phone is, whether the row fails in the file itself (a bad category) or
// against the roster (a grid that does not exist) (round 25, Y19).
func TestRosterBackupOnABadRowSaysWhichRow(t *testing.T) {
	svc := newService(t)
	ctx := testCtx(t)
	grid := string(demoGrids(t)[0])
	file := "编号,姓名,手机,网格,类别,备用联系人\n" +
		"B001,张三,13800138001," + grid + ",神仙,\n" + // row 2: bad category
		"B002,李四,13800138002,990199999999001,党员,\n" + // row 3: no such grid
		"B003,王五,13800138003," + grid + ",党员,B001\n" +
		"B004,赵六,13800138004," + grid + ",党员,13800138001\n" +
		"B005,钱七,13800138005," + grid + ",党员,B002\n" +
		"B006,孙八,13800138006," + grid + ",党员,13800138002\n" +
		"B007,周九,13800138007," + grid + ",党员,Ｂ００１\n"
	res, err := svc.ImportRoster(ctx, "test", strings.NewReader(file), plans.ImportOptions{DryRun: true})
	require.NoError(t, err)
	got := map[int]string{}
	for _, e := range res.Errors {
		if e.Field == "backup" {
			got[e.Row] = e.Value + ": " + e.Reason
		}
	}
	assert.Equal(t, map[int]string{
		4: "B001: refers to row 2, which has errors",
		5: "+8613800138001: refers to row 2, which has errors",
		6: "B002: refers to row 3, which has errors",
		7: "+8613800138002: refers to row 3, which has errors",
		8: "Ｂ００１: refers to row 2, which has errors",
	}, got)
}

// A row with a repeated 编号 (or another error in the file) is told of its
// backup's problems too, as a valid row is; a repeated phone is shown as
// the cell has it, the form it was compared in in the reason (round 25, Y7).
func TestRosterRowWithErrorsListsEveryProblem(t *testing.T) {
	svc := newService(t)
	ctx := testCtx(t)
	grid := string(demoGrids(t)[0])
	file := "编号,姓名,手机,网格,类别,备用联系人\n" +
		"B001,张三,13800138001," + grid + ",党员,\n" +
		"B001,李四,13800138002," + grid + ",党员,B999\n" + // row 3: repeated 编号, backup no one has
		"B003,王五,13800138003," + grid + ",党员,\n" +
		"B004,赵六,138-0013-8003;13900139004," + grid + ",党员,B004\n" + // row 5: repeated phone, own backup
		"B005,钱七,13800138005," + grid + ",神仙,13800138002\n" + // row 6: bad category, backup on row 3
		"B006,孙八,13800138006," + grid + ",志愿者,B003\n" // row 7: fine
	res, err := svc.ImportRoster(ctx, "test", strings.NewReader(file), plans.ImportOptions{DryRun: true})
	require.NoError(t, err)
	var got []string
	for _, e := range res.Errors {
		got = append(got, fmt.Sprintf("%d %s %s: %s", e.Row, e.Field, e.Value, e.Reason))
	}
	assert.Equal(t, []string{
		"3 external_id B001: external ID already used on row 2",
		"3 backup B999: no person in the file or the roster has this phone or external ID",
		"5 phone 138-0013-8003: phone already used on row 4 (both read as +8613800138003)",
		"5 backup B004: a person cannot be their own backup: name someone else's phone or 编号",
		"6 category 神仙: " + res.Errors[4].Reason,
		"6 backup +8613800138002: refers to row 3, which has errors",
	}, got)
	assert.Equal(t, 6, res.ErrorCount)
}
