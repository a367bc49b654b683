package plans_test

import (
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
