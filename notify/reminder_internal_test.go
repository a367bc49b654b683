package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/plans"
)

// A reminder says the clock time to answer by as it is when it is sent:
// from when the call-up reached the person when that was after it started,
// with the date across midnight, "at once" past the deadline; and it keeps
// to the segments the plan's check allows, saying less when it must.
func TestRenderReminder(t *testing.T) {
	cst := time.FixedZone("CST", 8*60*60)
	at := func(day, h, m int) time.Time { return time.Date(2026, 7, day, h, m, 0, 0, cst) }
	zh := "{{.Sender}}预案（{{.Level}}级）响应已启动。{{.Name}}同志，{{.AckDeadline}}内回复1到岗，2不能到岗。{{.Link}}"
	en := "{{.Sender}}Call-up level {{.Level}}. {{.Name}}, reply in {{.AckDeadline}}: 1=yes 2=no. {{.Link}}"
	// 655 characters rendered: ten UCS-2 segments (670) with the longest
	// mark the plan's check counts (15), not with the whole lead (21).
	long := "{{.Sender}}" + strings.Repeat("请", 655-len([]rune("【应急】张三30分钟内回复"))) + "{{.Name}}{{.AckDeadline}}内回复"
	for _, tc := range []struct {
		name       string
		sms        string
		purpose    Purpose
		lang       plans.Language
		start      time.Time
		reached    time.Time
		now        time.Time
		want       string
		wantSuffix string
	}{
		{name: "at T+10", sms: zh, purpose: PurposeLive, lang: plans.LangZH, start: at(20, 9, 0), now: at(20, 9, 10),
			want: "【应急】【提醒】您尚未回复，请于09:30前回复。预案（Ⅳ级）响应已启动。张三同志，20分钟内回复1到岗，2不能到岗。L"},
		{name: "reached after the start", sms: zh, purpose: PurposeLive, lang: plans.LangZH, start: at(20, 9, 0), reached: at(20, 9, 12), now: at(20, 9, 22),
			want: "【应急】【提醒】您尚未回复，请于09:42前回复。预案（Ⅳ级）响应已启动。张三同志，20分钟内回复1到岗，2不能到岗。L"},
		{name: "across midnight", sms: zh, purpose: PurposeExercise, lang: plans.LangZH, start: at(20, 23, 50), now: at(20, 23, 55),
			want: "【演练】【应急】【提醒】您尚未回复，请于7月21日00:20前回复。预案（Ⅳ级）响应已启动。张三同志，25分钟内回复1到岗，2不能到岗。L"},
		{name: "past the deadline", sms: zh, purpose: PurposeLive, lang: plans.LangZH, start: at(20, 9, 0), now: at(20, 9, 45),
			want: "【应急】【提醒】您尚未回复，请尽快回复。预案（Ⅳ级）响应已启动。张三同志，1分钟内回复1到岗，2不能到岗。L"},
		{name: "English", sms: en, purpose: PurposeExercise, lang: plans.LangEN, start: at(20, 23, 50), now: at(21, 0, 5),
			want: "【演练】[EXERCISE] 【应急】Reminder: you have not replied. Reply by 00:20. Call-up level IV. 张三, reply in 15 min: 1=yes 2=no. L"},
		{name: "English past the deadline", sms: en, purpose: PurposeLive, lang: plans.LangEN, start: at(20, 9, 0), now: at(20, 10, 0),
			want: "【应急】Reminder: you have not replied. Please reply now. Call-up level IV. 张三, reply in 1 min: 1=yes 2=no. L"},
		{name: "no sender in the template", sms: strings.TrimPrefix(zh, "{{.Sender}}"), purpose: PurposeLive, lang: plans.LangZH, start: at(20, 9, 0), now: at(20, 9, 10),
			want: "【提醒】您尚未回复，请于09:30前回复。预案（Ⅳ级）响应已启动。张三同志，20分钟内回复1到岗，2不能到岗。L"},
		{name: "the lead would take it past ten segments", sms: long, purpose: PurposeLive, lang: plans.LangZH, start: at(20, 9, 0), now: at(20, 9, 10),
			want: "【应急】【提醒】请请", wantSuffix: "张三20分钟内回复"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &plans.Level{AckDeadline: plans.Duration(30 * time.Minute), SMS: tc.sms}
			if tc.lang == plans.LangEN {
				l.SMSEN = tc.sms
			}
			_, _, segs := plans.SMSSegments("【演练】[EXERCISE] " + strings.NewReplacer("{{.Sender}}", "【应急】", "{{.Name}}", "张三", "{{.AckDeadline}}", "30分钟", "{{.Level}}", "Ⅳ", "{{.Link}}", "L").Replace(tc.sms))
			require.LessOrEqual(t, segs, plans.MaxSMSSegments, "the plan's check takes the template")
			a := Activation{ID: "A000001", Sender: "【应急】", Level: "IV", Purpose: tc.purpose, Status: StatusActive, CreatedAt: tc.start, StartedAt: tc.start}
			r := Recipient{Person: "P1", Name: "张三", Language: tc.lang}
			got, err := RenderReminder(a, l, r, "L", tc.reached, tc.now, cst)
			require.NoError(t, err)
			_, _, segs = plans.SMSSegments(got)
			assert.LessOrEqual(t, segs, plans.MaxSMSSegments, got)
			if tc.wantSuffix != "" {
				assert.True(t, strings.HasPrefix(got, tc.want), got)
				assert.True(t, strings.HasSuffix(got, tc.wantSuffix), got)
				return
			}
			assert.Equal(t, tc.want, got)
		})
	}
}
