package notify_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
	"muster/plans"
)

// A call-up over many regions names the first three and how many there
// are in {{.Region}}; one over a few names them all. Before, a call-up
// over a district's 202 grids named every one, its SMS went past the
// provider's 1,600 characters, and no SMS of it went.
func TestACallUpOverManyRegionsNamesTheFirstAndHowMany(t *testing.T) {
	l := &plans.Level{Code: plans.LevelIV, SMS: "{{.Plan}}{{.Level}}级（{{.Region}}）。{{.Name}}请回复：1到岗，2不能到岗并说明原因。",
		SMSEN: "{{.Plan}} level {{.Level}} ({{.Region}}). {{.Name}}, reply 1 to report, 2 if you cannot."}
	call := func(n int) notify.Activation {
		a := notify.Activation{PlanTitle: "防汛预案", PlanTitleEN: "Flood plan", Level: plans.LevelIV, Purpose: "LIVE"}
		var zh, en []string
		for i := range n {
			a.Regions = append(a.Regions, plans.RegionCode(fmt.Sprintf("990101001%03d", i+1)))
			zh = append(zh, fmt.Sprintf("幸福里社区第%d网格", i+1))
			en = append(en, fmt.Sprintf("Grid %d", i+1))
		}
		a.RegionNames, a.RegionNamesEN = strings.Join(zh, "、"), strings.Join(en, ", ")
		return a
	}
	r := notify.Recipient{Name: "张三", Language: plans.LangZH}
	sms, err := notify.RenderSMS(call(202), l, r, "")
	require.NoError(t, err)
	assert.Equal(t, "防汛预案Ⅳ级（幸福里社区第1网格、幸福里社区第2网格、幸福里社区第3网格等202个区域）。张三请回复：1到岗，2不能到岗并说明原因。", sms)
	_, _, segments := plans.SMSSegments(sms)
	assert.Equal(t, 1, segments)
	sms, err = notify.RenderSMS(call(5), l, r, "")
	require.NoError(t, err)
	assert.Contains(t, sms, "（幸福里社区第1网格、幸福里社区第2网格、幸福里社区第3网格、幸福里社区第4网格、幸福里社区第5网格）", "five are named")
	r.Language = plans.LangEN
	sms, err = notify.RenderSMS(call(40), l, r, "")
	require.NoError(t, err)
	assert.Equal(t, "Flood plan level IV (Grid 1, Grid 2, Grid 3 and 37 more). 张三, reply 1 to report, 2 if you cannot.", sms)
}
