package notify_test

import (
	"cmp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
	"muster/plans"
)

// A correction's SMS names the call-up it withdraws (plan, level, region
// and the time it started, in China Standard Time) before the official's
// words: people who had a second, real call-up after the wrong one must
// not read "the previous notice was sent in error" as withdrawing that one.
func TestCorrectionNamesTheCallUpItWithdraws(t *testing.T) {
	r := newCallRig(t, rigOptions{nodes: 1, people: 5})
	a := r.activate(t, "exercise")
	r.waitSettled(t, a.ID, 60*time.Second)
	n := r.c.WaitLeader(15 * time.Second).Node
	const words = "前一条启动通知系误发，请忽略。"
	res, err := notify.NewService(n, n, senders).Retract(testCtx(t), "commander", a.ID, notify.RetractRequest{Message: words})
	require.NoError(t, err)
	r.waitSettled(t, res.Correction.ID, 60*time.Second)
	r.waitSimIdle(t, 30*time.Second)

	cst := time.FixedZone("CST", 8*60*60)
	at := a.StartedAt
	if at.IsZero() {
		at = a.CreatedAt
	}
	want := a.Sender + "【更正】关于" + at.In(cst).Format("1月2日15:04") + "「" + a.PlanTitle + "Ⅳ级响应（" + a.RegionNames + "）」的通知：" + words + "本短信无需回复。"
	// To English speakers (rules 13), in English: the call-up named as
	// its English SMS names it, and the standard English text.
	title, regions := cmp.Or(a.PlanTitleEN, a.PlanTitle), cmp.Or(a.RegionNamesEN, a.RegionNames)
	wantEN := a.Sender + `Correction to the call-up "` + title + `" level IV (` + regions + ") of " + at.In(cst).Format("Jan 2 15:04") + ": " +
		notify.CorrectionTextEN + " No reply needed."
	seen := 0
	for _, m := range r.sim.Messages("") {
		if m.Direction != "outbound-api" || !(strings.Contains(m.Body, words) || strings.Contains(m.Body, notify.CorrectionTextEN)) {
			continue
		}
		seen++
		body, ok := strings.CutPrefix(m.Body, plans.ExerciseMark)
		assert.True(t, ok, "a drill's correction is marked: %q", m.Body)
		if body, ok = strings.CutPrefix(body, plans.ExerciseMarkEN); ok { // an English speaker's
			assert.Equal(t, wantEN, body, "to %s", m.To)
			continue
		}
		assert.Equal(t, want, body, "to %s", m.To)
	}
	assert.Equal(t, res.Correction.Recipients, seen, "every recipient got the correction")
	t.Logf("correction: %s", want)
}

// The lead is in the language of the official's words (a Chinese voice
// reads Chinese words, whoever it calls), short when a call-up covered many
// regions, and names the English title and the regions' English names for
// English words, as the Chinese lead names the Chinese ones.
func TestCorrectionLeadLanguageAndLength(t *testing.T) {
	l := &plans.Level{Code: "IV", SMS: "{{.Name}}同志，请到岗。"}
	a := notify.Activation{Purpose: notify.PurposeLive, Retracts: "A000002", Sender: "【示例市应急】", PlanTitle: "防汛预案", PlanTitleEN: "Flood plan",
		Level: "IV", Regions: []plans.RegionCode{"990101", "990102", "990103", "990104"}, RegionNames: "东湖区、临江区、西林区、高新区",
		RegionNamesEN: "Donghu District, Linjiang District, Xilin District, Gaoxin District"}
	zh := notify.Recipient{Person: "P1", Name: "张三", Language: plans.LangZH}
	en := notify.Recipient{Person: "P2", Name: "Li", Language: plans.LangEN}

	a.Message = "误发，请忽略。"
	got, err := notify.RenderSMS(a, l, en, "")
	require.NoError(t, err)
	assert.Equal(t, "【示例市应急】【更正】关于「防汛预案Ⅳ级响应（东湖区、临江区等4个区域）」的通知：误发，请忽略。本短信无需回复。", got)

	a.Message = "Sent in error, please ignore."
	got, err = notify.RenderSMS(a, l, en, "")
	require.NoError(t, err)
	assert.Equal(t, `【示例市应急】Correction to the call-up "Flood plan" level IV (Donghu District, Linjiang District and 2 more): Sent in error, please ignore. No reply needed.`, got)
	got, err = notify.RenderSMS(a, l, zh, "")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(got, "【示例市应急】【更正】关于「防汛预案Ⅳ级响应"), got)

	tests := []struct {
		name           string
		codes          []plans.RegionCode
		names, namesEN string
		want           string
	}{
		{"one region", []plans.RegionCode{"990103"}, "西林区", "Xilin District", "(Xilin District)"},
		{"two regions", []plans.RegionCode{"990101", "990103"}, "东湖区、西林区", "Donghu District, Xilin District", "(Donghu District, Xilin District)"},
		{"no English names: the Chinese ones, as the call-up said them", []plans.RegionCode{"990101", "990102", "990103"}, "东湖区、临江区、西林区", "", "(东湖区、临江区等3个区域)"},
		{"an English name with a comma is said whole", []plans.RegionCode{"990101", "990103", "990104"}, "东湖区、西林区、高新区", "Donghu District, Xilin, Old Town, Gaoxin District", "(Donghu District, Xilin, Old Town, Gaoxin District)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := a
			b.Regions, b.RegionNames, b.RegionNamesEN = tt.codes, tt.names, tt.namesEN
			got, err := notify.RenderSMS(b, l, en, "")
			require.NoError(t, err)
			assert.Equal(t, `【示例市应急】Correction to the call-up "Flood plan" level IV `+tt.want+`: Sent in error, please ignore. No reply needed.`, got)
		})
	}
}
