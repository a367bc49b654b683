package plans

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
)

func TestSMSSegments(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		encoding string
		chars    int
		segments int
	}{
		{"empty", "", EncodingGSM7, 0, 0},
		{"short ascii", "Reply 1 to confirm", EncodingGSM7, 18, 1},
		{"160 gsm fits one", strings.Repeat("a", 160), EncodingGSM7, 160, 1},
		{"161 gsm needs two", strings.Repeat("a", 161), EncodingGSM7, 161, 2},
		{"306 gsm is two parts", strings.Repeat("a", 306), EncodingGSM7, 306, 2},
		{"307 gsm is three parts", strings.Repeat("a", 307), EncodingGSM7, 307, 3},
		{"gsm accents and symbols", "£5 @ Café Ñ §", EncodingGSM7, 13, 1},
		{"extension chars count two", "{}[]€", EncodingGSM7, 10, 1},
		{"extension char not split across parts", strings.Repeat("a", 152) + "€" + strings.Repeat("a", 10), EncodingGSM7, 164, 2},
		{"extension pushes over 160", strings.Repeat("a", 159) + "€", EncodingGSM7, 161, 2},
		{"chinese is ucs-2", "请立即到岗", EncodingUCS2, 5, 1},
		{"70 ucs-2 fits one", strings.Repeat("汛", 70), EncodingUCS2, 70, 1},
		{"71 ucs-2 needs two", strings.Repeat("汛", 71), EncodingUCS2, 71, 2},
		{"134 ucs-2 is two parts", strings.Repeat("汛", 134), EncodingUCS2, 134, 2},
		{"135 ucs-2 is three parts", strings.Repeat("汛", 135), EncodingUCS2, 135, 3},
		{"one chinese char makes ascii ucs-2", strings.Repeat("a", 69) + "汛", EncodingUCS2, 70, 1},
		{"sender prefix counts", "【示例市应急】" + strings.Repeat("a", 63), EncodingUCS2, 70, 1},
		{"emoji is two code units", "🚨", EncodingUCS2, 2, 1},
		{"surrogate pair not split", strings.Repeat("汛", 66) + "🚨" + strings.Repeat("汛", 10), EncodingUCS2, 78, 2},
		{"fullwidth punctuation is ucs-2", "Reply 1，thanks", EncodingUCS2, 14, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, chars, segs := SMSSegments(tt.text)
			assert.Equal(t, tt.encoding, enc)
			assert.Equal(t, tt.chars, chars)
			assert.Equal(t, tt.segments, segs)
		})
	}
}

func TestRenderMessage(t *testing.T) {
	d := MessageData{Sender: "【示例市应急】", Plan: "示例市防汛应急预案", Level: "Ⅰ", LevelName: "特别重大",
		Name: "张建国", Roles: "总指挥", AckDeadline: "15分钟", Link: "https://m.example.cn/r/x"}
	tests := []struct {
		name    string
		tmpl    string
		want    string
		wantErr string
	}{
		{name: "fields", tmpl: "{{.Sender}}{{.Plan}}启动{{.LevelName}}（{{.Level}}级）响应，请{{.Name}}（{{.Roles}}）{{.AckDeadline}}内回复。",
			want: "【示例市应急】示例市防汛应急预案启动特别重大（Ⅰ级）响应，请张建国（总指挥）15分钟内回复。"},
		{name: "if else", tmpl: "{{if .Link}}点击{{.Link}}{{else}}回复1{{end}}", want: "点击https://m.example.cn/r/x"},
		{name: "with and comparison", tmpl: `{{with .Reason}}原因：{{.}}{{end}}{{if eq .Level "Ⅰ"}}立即{{end}}`, want: "立即"},
		{name: "surrounding space trimmed", tmpl: "\n  {{.Name}}  \n", want: "张建国"},
		{name: "unknown field", tmpl: "{{.Nmae}}", wantErr: "refers to {{.Nmae}}, which is no field: did you mean {{.Name}}?"},
		{name: "misspelt field", tmpl: "{{.Plann}}启动", wantErr: "did you mean {{.Plan}}?"},
		{name: "lower-case field", tmpl: "{{.name}}", wantErr: "did you mean {{.Name}}?"},
		{name: "field nothing is close to", tmpl: "{{if .Urgent}}x{{end}}", wantErr: "no field: want one of {{.Sender}}, {{.Plan}}, {{.Level}}"},
		{name: "field of a field", tmpl: "{{.Name.First}}", wantErr: "can't evaluate field First"},
		{name: "does not parse", tmpl: "{{.Name", wantErr: "does not parse"},
		{name: "range refused", tmpl: "{{range 10}}x{{end}}", wantErr: "range"},
		{name: "printf refused", tmpl: `{{printf "%09999d" 1}}`, wantErr: `function "printf"`},
		{name: "call refused", tmpl: `{{call .Name}}`, wantErr: `function "call"`},
		{name: "define refused", tmpl: `{{define "x"}}a{{end}}{{.Name}}`, wantErr: "define"},
		{name: "template call refused", tmpl: `{{template "message" .}}`, wantErr: "template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RenderMessage(tt.tmpl, d)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.True(t, muster.IsCode(err, muster.EInvalid))
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCompileMessageRendersConcurrently(t *testing.T) {
	m, err := CompileMessage("{{.Name}}，请回复1。")
	require.NoError(t, err)
	done := make(chan string, 8)
	for i := range 8 {
		go func() {
			s, _ := m.Render(MessageData{Name: strings.Repeat("王", i+1)})
			done <- s
		}()
	}
	for range 8 {
		assert.True(t, strings.HasSuffix(<-done, "，请回复1。"))
	}
}

func TestDrillWords(t *testing.T) {
	tests := []struct {
		name string
		tmpl string
		want []string
	}{
		{"clean chinese", "{{.Plan}}启动响应，请回复1到岗。", nil},
		{"演练", "本次为演练，请回复", []string{"演练"}},
		{"exercise mark", "【演练】{{.Name}}", []string{"演练"}},
		{"演习 and 测试", "演习测试", []string{"演习", "测试"}},
		{"drill any case", "This is a DRILL", []string{"DRILL"}},
		{"exercise", "exercise alert", []string{"exercise"}},
		{"test", "Test message", []string{"Test"}},
		{"testing is a word of its own", "we are testing", nil},
		{"latest is not a drill word", "the latest update", nil},
		{"field name Exercise is allowed", "{{if .Exercise}}{{end}}{{.Name}}", nil},
		{"string constant in an action counts", `{{if .Link}}{{"drill"}}{{end}}`, []string{"drill"}},
		{"unparsable template searched as text", "{{.Name 演练", []string{"演练"}},
		// As a phone shows it: invisible characters, full-width letters and
		// traditional characters hide no drill word.
		{"zero-width space inside", "【演\u200b练】请到岗", []string{"演练"}},
		{"traditional", "【演練】防汛演習，測試", []string{"演练", "演习", "测试"}},
		{"full-width letters", "ＤＲＩＬＬ only", []string{"DRILL"}},
		// Read as one text, as a reader and a voice read it: a word an
		// action splits, and one with a space or a mark inside it.
		{"split by a comment", "这不是演{{/* c */}}练，回复1", []string{"演练"}},
		{"split by a string constant", `也不是测{{"试"}}`, []string{"测试"}},
		{"split by an empty if", "演{{if .Link}}{{end}}习开始", []string{"演习"}},
		{"ideographic space inside", "到岗（演　练）", []string{"演 练"}},
		{"hyphen inside", "这是一次演-练。", []string{"演-练"}},
		{"middle dot inside", "测·试", []string{"测·试"}},
		{"words apart are no drill word", "演出结束后训练", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, DrillWords(tt.tmpl))
		})
	}
}

func TestDeadlineText(t *testing.T) {
	tests := []struct {
		d      time.Duration
		zh, en string
	}{
		{30 * time.Second, "30秒", "30 s"},
		{15 * time.Minute, "15分钟", "15 min"},
		{time.Hour, "1小时", "1 h"},
		{90 * time.Minute, "1小时30分钟", "1 h 30 min"},
	}
	for _, tt := range tests {
		t.Run(tt.d.String(), func(t *testing.T) {
			assert.Equal(t, tt.zh, DeadlineText(Duration(tt.d), LangZH))
			assert.Equal(t, tt.en, DeadlineText(Duration(tt.d), LangEN))
		})
	}
}

func TestDurationJSON(t *testing.T) {
	tests := []struct {
		d    time.Duration
		json string
	}{
		{15 * time.Minute, `"15m"`},
		{time.Hour, `"1h"`},
		{90 * time.Minute, `"1h30m"`},
		{90 * time.Second, `"1m30s"`},
		{0, `"0s"`},
	}
	for _, tt := range tests {
		t.Run(tt.json, func(t *testing.T) {
			b, err := Duration(tt.d).MarshalJSON()
			require.NoError(t, err)
			assert.Equal(t, tt.json, string(b))
			var d Duration
			require.NoError(t, d.UnmarshalJSON(b))
			assert.Equal(t, tt.d, d.Std())
		})
	}
	var d Duration
	require.NoError(t, d.UnmarshalJSON([]byte("60000000000")))
	assert.Equal(t, time.Minute, d.Std())
	assert.Error(t, d.UnmarshalJSON([]byte(`"soon"`)))
}

// A LIVE message that only rendering puts a drill word into (an {{if}}
// branch the text pieces do not show together) is refused; a drill word
// from a name the plan or roster fills in is left to the check where that
// name is written.
func TestCheckTemplateRefusesADrillWordTheLiveMessageSays(t *testing.T) {
	sample := MessageData{Name: "张三", Plan: "防汛预案", Level: "Ⅳ", Sender: "【示例市应急】"}
	msgs := checkTemplate(`{{.Name}}请到岗，{{if eq .Level "Ⅳ"}}演{{else}}训{{end}}{{if .Exercise}}{{else}}练{{end}}开始。`, sample, true)
	require.Len(t, msgs, 1, "%q", msgs)
	assert.Contains(t, msgs[0], `renders a LIVE message with the drill word "演练" (某请到岗，演练开始。)`)
	sample.Name = "测试员"
	assert.Empty(t, checkTemplate("{{.Name}}请到岗。", sample, true), "names are checked where they are written")
}

func TestCheckTemplateRendersBothPurposes(t *testing.T) {
	sample := MessageData{Name: "张建国"}
	assert.Empty(t, checkTemplate("{{.Name}}{{if .Exercise}}，请回复{{end}}", sample, true))
	msgs := checkTemplate("{{.Name}}{{if .Exercise}}{{.Nmae}}{{end}}", sample, true)
	require.Len(t, msgs, 1)
	assert.Contains(t, msgs[0], "Nmae")
	assert.Equal(t, []string{"renders to empty text"}, checkTemplate("{{if .Exercise}}x{{end}}", sample, true))
}

// A refusal for a drill word names the whole word written and what to
// write instead: someone who wrote "Testing and Tracing Team" or 核酸测试组
// wrote no drill.
func TestDrillWordAdvice(t *testing.T) {
	assert.Equal(t, `"Testing" reads as a drill word ("Test") in an SMS; write "screening", "check" or "sampling" instead`,
		DrillWordAdvice("Testing and Tracing Team", "Test"))
	assert.Equal(t, `"测试" reads as a drill word ("测试") in an SMS; write 检测、核查 or 排查 instead`, DrillWordAdvice("核酸测试组", "测试"))
	assert.Equal(t, `"DRILLS" reads as a drill word ("DRILL") in an SMS; write "training" or "practice" instead`, DrillWordAdvice("ＤＲＩＬＬＳ team", "DRILL"))
	assert.Equal(t, `"演练" reads as a drill word ("演练") in an SMS; write 训练 or the response itself instead`, DrillWordAdvice("应急演练组", "演练"))
	p := fmt.Sprint(checkTemplate("{{.Name}}请到核酸测试点。", MessageData{Name: "张三"}, true))
	assert.Contains(t, p, `write 检测、核查 or 排查 instead`)
}
