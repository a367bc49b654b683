package notify_test

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/notify"
	"muster/plans"
)

// englishRig is a one-node cluster under rules with the demo city (its
// city and districts have English names; its streets none), the example
// plans (flood-control's roles have English names), and
// three people of the flood plan's level IV (网格长, 网格员): in a grid of
// district 990101 Alex, who speaks English, and 王芳, who speaks Chinese;
// in a grid of street 990103001 (滨江街道) Sam, who speaks English.
type englishRig struct {
	*env
	alex, fang, sam plans.PersonID
}

func newEnglishRig(t *testing.T, rules int) *englishRig {
	c := clustertest.New(t, 1, clustertest.Options{Setup: setup, Config: func(_ int, cfg *cluster.Config) { cfg.Rules = rules }})
	n := c.Leader().Node
	if rules == 0 {
		rules = muster.Rules
	}
	// A new node stamps rules 1 until it has recorded itself as a member.
	require.Eventually(t, func() bool { return n.Status().Rules == rules }, 10*time.Second, 10*time.Millisecond, "the node's rules are published")
	e := &env{c: c, plans: plans.NewService(n, n), svc: notify.NewService(n, n, senders)}
	ctx := testCtx(t)
	_, err := e.plans.ImportRegions(ctx, "test", bytes.NewReader(examples.RegionsCSV()))
	require.NoError(t, err)
	files, err := examples.Plans()
	require.NoError(t, err)
	for _, f := range files {
		_, err := e.plans.ApplyPlan(ctx, "test", f.Name, f.Data)
		require.NoError(t, err)
	}
	r := &englishRig{env: e}
	for _, p := range []struct {
		id    *plans.PersonID
		name  string
		phone string
		lang  string
		grid  string
	}{
		{&r.alex, "Alex Morgan", "+8613900139001", "en", "990101001001001"},
		{&r.fang, "王芳", "+8613900139002", "zh", "990101001001001"},
		{&r.sam, "Sam Lee", "+8613900139003", "en", "990103001001001"},
	} {
		person, err := e.plans.CreatePerson(testCtx(t), "test", plans.PersonInput{Name: p.name, Phones: []string{p.phone},
			Grid: p.grid, Category: "网格员", Tags: []string{"网格长"}, Language: p.lang})
		require.NoError(t, err)
		*p.id = person.ID
	}
	return r
}

// sms renders the SMS the activation sends to person, as the dispatcher
// does, from the recipient record the activation holds.
func (r *englishRig) sms(t *testing.T, a notify.Activation, person plans.PersonID) string {
	t.Helper()
	ctx := testCtx(t)
	pv, err := r.plans.Plan(ctx, muster.Default, a.Plan, a.PlanVersion)
	require.NoError(t, err)
	for _, rc := range allRecipients(t, r.env, a.ID, notify.RecipientFilter{}) {
		if rc.Person == person {
			text, err := notify.RenderSMS(a, pv.Plan.Level(a.Level), rc, "")
			require.NoError(t, err)
			return text
		}
	}
	require.Fail(t, "not a recipient", "%s of %s", person, a.ID)
	return ""
}

// voice renders the script of a voice escalation call to person.
func (r *englishRig) voice(t *testing.T, a notify.Activation, person plans.PersonID) notify.VoiceScript {
	t.Helper()
	n := r.c.Leader().Node
	in := notify.NewInbound(n, notify.InboundConfig{View: n})
	t.Cleanup(in.Close)
	script, err := in.VoiceScript(testCtx(t), notify.EscalationAttemptID(a.ID, person, 1, 1))
	require.NoError(t, err)
	return script
}

// An English speaker's call-up names the regions and the roles in English
// where the data gives English names (rules 11): a region without one, a
// street here, is said in Chinese among the English ones. A Chinese
// speaker's message is as it was. Under rules 10 an older muster may be
// applying the call-up, and English speakers read the Chinese names.
func TestEnglishSpeakersReadEnglishNames(t *testing.T) {
	for _, tc := range []struct {
		rules    int
		regions  string // district, other
		fallback string // 990103001 (滨江街道, no English name), 990104
		roles    string // 网格长, 网格员
	}{
		{0, "Donghu District, Jiangbei District", "滨江街道, Xilin District", "Grid Leader, Grid Worker"},
		{10, "东湖区、江北区", "滨江街道、西林区", "网格长, 网格员"},
	} {
		t.Run(fmt.Sprintf("rules %d", tc.rules), func(t *testing.T) {
			r := newEnglishRig(t, tc.rules)
			ctx := testCtx(t)
			a, err := r.svc.Activate(ctx, "commander", floodIV(district, other))
			require.NoError(t, err)

			assert.Equal(t, "【示例市应急】Flood level IV, "+tc.regions+". Alex Morgan, report as "+tc.roles+
				". Reply in 1 h: 1=yes 2=no.", r.sms(t, a, r.alex))
			assert.Equal(t, "【示例市应急】示例市防汛应急预案一般（Ⅳ级）响应已启动（东湖区、江北区）。王芳同志，请以网格长、网格员身份做好巡查值守，1小时内回复：1收到，2不能参加并说明原因。",
				r.sms(t, a, r.fang), "a Chinese speaker's message is as before")

			// Voice: the English voice text says the English names too; the
			// Chinese one the Chinese names.
			script := r.voice(t, a, r.alex)
			assert.Equal(t, plans.LangEN, script.Language)
			assert.Equal(t, "This is the Example City flood control headquarters. Alex Morgan, a level IV flood response is active in "+tc.regions+
				": 暴雨黄色预警. Please report now as "+tc.roles+". Press 1 if you are coming, 2 if you cannot, 9 to repeat.", script.Text)
			script = r.voice(t, a, r.fang)
			assert.Equal(t, plans.LangZH, script.Language)
			assert.Equal(t, "这里是示例市防汛抗旱指挥部。王芳同志，东湖区、江北区已启动防汛一般（Ⅳ级）应急响应。请您以网格长、网格员身份做好巡查值守。收到请按1，不能参加请按2，重听请按9。", script.Text)

			// A region without an English name keeps its Chinese one.
			drill, err := r.svc.Activate(ctx, "commander", notify.ActivationRequest{Plan: "flood-control", Level: "IV", Purpose: "EXERCISE",
				Reason: "通讯演练", Regions: []plans.RegionCode{"990103001", "990104"}})
			require.NoError(t, err)
			assert.Equal(t, "【演练】[EXERCISE] 【示例市应急】Flood level IV, "+tc.fallback+". Sam Lee, report as "+tc.roles+
				". Reply in 1 h: 1=yes 2=no.", r.sms(t, drill, r.sam))
		})
	}
}

// A call reads its text in the language the text is written in, names
// included: an English speaker of a level without English voice text
// hears the Chinese text, in a Chinese voice, with the Chinese names.
func TestChineseVoiceTextSaysChineseNames(t *testing.T) {
	r := newEnglishRig(t, 0)
	ctx := testCtx(t)
	files, err := examples.Plans()
	require.NoError(t, err)
	var src string
	for _, f := range files {
		if f.Name == "flood.yaml" {
			src = string(f.Data)
		}
	}
	require.NotEmpty(t, src)
	src = strings.Replace(src, "id: flood-control", "id: flood-zh-voice", 1)
	src = regexp.MustCompile(`(?m)^    voice_en: .*\n`).ReplaceAllString(src, "")
	_, err = r.plans.ApplyPlan(ctx, "test", "flood-zh-voice.yaml", []byte(src))
	require.NoError(t, err)
	req := floodIV(district, other)
	req.Plan = "flood-zh-voice"
	a, err := r.svc.Activate(ctx, "commander", req)
	require.NoError(t, err)

	script := r.voice(t, a, r.alex)
	assert.Equal(t, plans.LangZH, script.Language)
	assert.Equal(t, "这里是示例市防汛抗旱指挥部。Alex Morgan同志，东湖区、江北区已启动防汛一般（Ⅳ级）应急响应。请您以网格长、网格员身份做好巡查值守。收到请按1，不能参加请按2，重听请按9。", script.Text)
	assert.Contains(t, r.sms(t, a, r.alex), "level IV, Donghu District, Jiangbei District. Alex Morgan, report as Grid Leader, Grid Worker.", "the SMS is English")
}
