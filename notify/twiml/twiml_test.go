package twiml

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/plans"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const zhText = "这里是示例市防汛抗旱指挥部。张三同志，已启动防汛Ⅳ级应急响应。确认到岗请按1，不能到岗请按2，重听请按9。"

func zhCallUp() CallUp {
	return CallUp{Text: zhText, Language: ZhCN, Action: "https://muster.example.com/hooks/twilio/voice/A1/gather?n=1&lang=zh"}
}

func enCallUp() CallUp {
	return CallUp{
		Text:     "This is the Example City flood headquarters. Zhang San, a level 4 response is active. Press 1 if you are coming, 2 if you cannot, 9 to repeat.",
		Language: EnUS, Voice: Voice{Name: "Polly.Joanna", Language: EnUS}, Timeout: 10,
		Action: "https://muster.example.com/hooks/twilio/voice/A2/gather",
	}
}

// drillOf is c as a drill's call: its Text marked as a drill's script is,
// and Mark set as for a drill's call (【演练】, and [EXERCISE] in English).
func drillOf(c CallUp) CallUp {
	c.Mark = plans.ExerciseMark
	if c.Language == EnUS {
		c.Mark += plans.ExerciseMarkEN
	}
	c.Text = c.Mark + c.Text
	return c
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./notify/twiml -update to create it")
	assert.Equal(t, string(want), string(got))
}

func TestRenderGolden(t *testing.T) {
	noInput := zhCallUp()
	noInput.NoInput = "https://muster.example.com/hooks/twilio/voice/A1?again=1"
	correction := zhCallUp()
	correction.Text = "更正：张三同志，防汛Ⅳ级应急响应召集有误，请勿前往，以后续通知为准。"
	correction = drillOf(correction)
	tests := []struct {
		name string
		doc  Response
	}{
		{"prompt_zh.xml", Prompt(zhCallUp())},
		{"prompt_en.xml", Prompt(enCallUp())},
		{"prompt_noinput_zh.xml", Prompt(noInput)},
		{"reply_accept_zh.xml", Reply(zhCallUp(), "1")},
		{"reply_decline_zh.xml", Reply(zhCallUp(), "2")},
		{"reply_other_zh.xml", Reply(zhCallUp(), "5")},
		{"reply_accept_en.xml", Reply(enCallUp(), "1")},
		{"reply_decline_en.xml", Reply(enCallUp(), "2")},
		{"reply_other_en.xml", Reply(enCallUp(), "*")},
		{"voicemail_zh.xml", Voicemail(zhCallUp())},
		{"prompt_drill_zh.xml", Prompt(drillOf(zhCallUp()))},
		{"prompt_drill_en.xml", Prompt(drillOf(enCallUp()))},
		{"reply_accept_drill_zh.xml", Reply(drillOf(zhCallUp()), "1")},
		{"reply_other_drill_zh.xml", Reply(drillOf(zhCallUp()), "5")},
		{"reply_accept_drill_en.xml", Reply(drillOf(enCallUp()), "1")},
		{"voicemail_drill_zh.xml", Voicemail(drillOf(zhCallUp()))},
		{"voicemail_drill_en.xml", Voicemail(drillOf(enCallUp()))},
		{"notice_drill_zh.xml", Notice(correction)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, tc.name, tc.doc.Render())
			back, err := Parse(tc.doc.Render())
			require.NoError(t, err)
			assert.Equal(t, tc.doc, back, "rendered document parses back to itself")
		})
	}
}

func TestRenderStrings(t *testing.T) {
	tests := []struct {
		name string
		doc  Response
		want string
	}{
		{"empty", Response{}, Header + `<Response/>`},
		{"hangup", Response{Verbs: []Verb{Hangup{}}}, Header + `<Response><Hangup/></Response>`},
		{"escaped text and attributes",
			Response{Verbs: []Verb{
				Say{Text: `暴雨<红色>预警 & "内涝" 'A'`, Language: ZhCN, Loop: 2},
				Redirect{URL: "https://x.example/v?a=1&b=<2>", Method: "GET"},
			}},
			Header + `<Response><Say language="zh-CN" loop="2">暴雨&lt;红色&gt;预警 &amp; &#34;内涝&#34; &#39;A&#39;</Say>` +
				`<Redirect method="GET">https://x.example/v?a=1&amp;b=&lt;2&gt;</Redirect></Response>`},
		{"line breaks and control characters",
			Response{Verbs: []Verb{Say{Text: "第一行\n第二行\x01"}}},
			Header + `<Response><Say>第一行&#xA;第二行` + "\uFFFD" + `</Say></Response>`},
		{"gather attributes in fixed order",
			Response{Verbs: []Verb{Gather{Input: "dtmf", NumDigits: 1, Action: "/g?x=1&y=2", Method: "POST", Timeout: 5,
				FinishOnKey: "#", ActionOnEmptyResult: true, Verbs: []Verb{Pause{}}}}},
			Header + `<Response><Gather input="dtmf" numDigits="1" action="/g?x=1&amp;y=2" method="POST" timeout="5" finishOnKey="#" actionOnEmptyResult="true"><Pause/></Gather></Response>`},
		{"empty gather", Response{Verbs: []Verb{Gather{NumDigits: 1}}}, Header + `<Response><Gather numDigits="1"/></Response>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.doc.String())
		})
	}
}

func TestCallUpDocuments(t *testing.T) {
	c := zhCallUp()
	p := Prompt(c)
	require.Len(t, p.Verbs, 3)
	g, ok := p.Verbs[0].(Gather)
	require.True(t, ok)
	assert.Equal(t, 1, g.NumDigits)
	assert.Equal(t, c.Action, g.Action)
	assert.Equal(t, "POST", g.Method)
	assert.Equal(t, DefaultTimeout, g.Timeout)
	assert.Equal(t, []Verb{
		Say{Text: zhText, Voice: "Polly.Zhiyu", Language: CmnCN}, Pause{Length: 1}, Say{Text: zhText, Voice: "Polly.Zhiyu", Language: CmnCN},
	}, g.Verbs, "the message read twice with a pause between")
	assert.Equal(t, Hangup{}, p.Verbs[2])

	assert.Equal(t, p, Reply(c, "9"), "9 repeats the prompt")
	assert.Equal(t, Reply(c, "5"), Reply(c, ""), "no key gets the help too")
	assert.Equal(t, Reply(c, "5"), Reply(c, "12"))

	noLang := c
	noLang.Language = ""
	assert.Equal(t, Prompt(c), Prompt(noLang), "zh-CN by default")

	assert.Equal(t, Response{Verbs: []Verb{
		Say{Text: zhText, Voice: "Polly.Zhiyu", Language: CmnCN}, Pause{Length: 1}, Say{Text: zhText, Voice: "Polly.Zhiyu", Language: CmnCN}, Hangup{},
	}}, Notice(c), "a notice is read twice, takes no key and hangs up")
}

// segments are the Says of verbs (those inside a Gather too), cut at each
// Pause: a call's readings, and what comes before or between them.
func segments(verbs []Verb) [][]Say {
	out := [][]Say{nil}
	var walk func([]Verb)
	walk = func(vs []Verb) {
		for _, v := range vs {
			switch v := v.(type) {
			case Say:
				out[len(out)-1] = append(out[len(out)-1], v)
			case Pause:
				out = append(out, nil)
			case Gather:
				walk(v.Verbs)
			}
		}
	}
	walk(verbs)
	return out
}

// A drill's call says in a full sentence that it is a drill before each
// reading of the call-up and again after it, in the call's language and
// its voice, to a person (the call-up, the key help's readings), to an
// answering machine and in a correction; its answers keep their mark.
// Before, a drill's call said so only by the mark, one word (演练) read
// first, while whoever picked up was still saying 喂, and then a call-up
// that sounded live. A live call says neither sentence.
func TestDrillCallSaysItIsADrill(t *testing.T) {
	tests := []struct {
		name, open, close, mark string
		live                    CallUp
		voice                   Voice
		callUp                  string // said in every reading of the call-up
	}{
		{"zh", "这是一次演练，不是真实事件。", "以上为演练内容。", plans.ExerciseMark, zhCallUp(), DefaultVoice(ZhCN), "已启动防汛Ⅳ级应急响应"},
		{"en", "This is a drill, not a real emergency.", "This was a drill.", plans.ExerciseMarkEN, enCallUp(), Voice{Name: "Polly.Joanna", Language: EnUS}, "a level 4 response is active"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			drill := drillOf(tc.live)
			docs := []struct {
				name     string
				doc      Response
				readings func([][]Say) [][]Say // the call-up's readings among the segments
			}{
				{"prompt", Prompt(drill), func(s [][]Say) [][]Say { return s[:2] }},
				{"key help", Reply(drill, "5"), func(s [][]Say) [][]Say { return s[1:3] }},
				{"voicemail", Voicemail(drill), func(s [][]Say) [][]Say { return s }},
				{"correction", Notice(drill), func(s [][]Say) [][]Say { return s }},
			}
			for _, d := range docs {
				segs := segments(d.doc.Verbs)
				if d.name != "key help" {
					require.NotEmpty(t, segs[0], d.name)
					assert.Equal(t, tc.open, segs[0][0].Text, "%s: the call begins with the drill sentence", d.name)
				}
				readings := d.readings(segs)
				require.Len(t, readings, 2, "%s: the call-up is read twice: %+v", d.name, segs)
				for i, r := range readings {
					var opened, said, closed int
					for _, s := range r {
						switch {
						case s.Text == tc.open:
							opened++
							assert.Zero(t, said, "%s, reading %d: the drill sentence comes before the call-up", d.name, i+1)
						case s.Text == tc.close:
							closed++
							assert.Positive(t, said, "%s, reading %d: the closing drill sentence comes after the call-up", d.name, i+1)
						case strings.Contains(s.Text, tc.callUp):
							said++
							assert.Zero(t, closed, "%s, reading %d: the call-up before the closing drill sentence", d.name, i+1)
						}
						if s.Text == tc.open || s.Text == tc.close {
							assert.Equal(t, tc.voice.Name, s.Voice, "%s: said in the call's voice", d.name)
							assert.Equal(t, tc.voice.Language, s.Language, "%s: and its language", d.name)
						}
					}
					assert.Equal(t, 1, opened, "%s, reading %d opens with the drill sentence: %+v", d.name, i+1, r)
					assert.Equal(t, 1, said, "%s, reading %d reads the call-up: %+v", d.name, i+1, r)
					assert.Equal(t, 1, closed, "%s, reading %d says it was a drill after the call-up: %+v", d.name, i+1, r)
				}
			}
			for _, key := range []string{"1", "2"} {
				said := segments(Reply(drill, key).Verbs)[0]
				require.Len(t, said, 1)
				assert.True(t, strings.HasPrefix(said[0].Text, tc.mark), "the answer to %s keeps its mark: %q", key, said[0].Text)
			}
			for _, doc := range []Response{Prompt(tc.live), Reply(tc.live, "5"), Reply(tc.live, "1"), Voicemail(tc.live), Notice(tc.live)} {
				for _, seg := range segments(doc.Verbs) {
					for _, s := range seg {
						assert.NotContains(t, s.Text, tc.open, "a live call says no drill sentence")
						assert.NotContains(t, s.Text, tc.close, "a live call says no drill sentence")
					}
				}
			}
		})
	}
}

func TestParseAnswer(t *testing.T) {
	for digits, want := range map[string]Answer{
		"1": AnswerAccept, "2": AnswerDecline, "9": AnswerRepeat, "": AnswerNone, " 1 ": AnswerAccept,
		"3": AnswerOther, "0": AnswerOther, "#": AnswerOther, "*": AnswerOther, "11": AnswerOther, "12": AnswerOther,
	} {
		assert.Equal(t, want, ParseAnswer(digits), "digits %q", digits)
	}
	assert.Equal(t, "accept", AnswerAccept.String())
	assert.Equal(t, "unknown", Answer(42).String())
}

func TestLanguageFor(t *testing.T) {
	assert.Equal(t, ZhCN, LanguageFor(plans.LangZH))
	assert.Equal(t, EnUS, LanguageFor(plans.LangEN))
	assert.Equal(t, ZhCN, LanguageFor(""))
}

func TestParse(t *testing.T) {
	// As twilio-go's twiml package writes it: attributes in any order,
	// indentation, SSML inside Say, a comment.
	doc := `<?xml version="1.0" encoding="UTF-8"?>
<!-- call-up -->
<Response>
  <Gather method="POST" actionOnEmptyResult="true" timeout="8" action="https://m.example/voice/gather?attempt=A2" numDigits="1" language="cmn-CN">
    <Say loop="2" language="cmn-CN" voice="Google.cmn-CN-Standard-A">
      紧急集结演练。<break time="300ms"/>确认请按1，无法到岗请按2。
    </Say>
    <Pause length="2"></Pause>
  </Gather>
  <Pause/>
  <Redirect method="GET">
    https://m.example/voice/again
  </Redirect>
  <Hangup/>
</Response>`
	got, err := Parse([]byte(doc))
	require.NoError(t, err)
	assert.Equal(t, Response{Verbs: []Verb{
		Gather{NumDigits: 1, Timeout: 8, Action: "https://m.example/voice/gather?attempt=A2", Method: "POST", ActionOnEmptyResult: true,
			Verbs: []Verb{
				Say{Text: "紧急集结演练。确认请按1，无法到岗请按2。", Voice: "Google.cmn-CN-Standard-A", Language: "cmn-CN", Loop: 2},
				Pause{Length: 2},
			}},
		Pause{},
		Redirect{URL: "https://m.example/voice/again", Method: "GET"},
		Hangup{},
	}}, got)

	empty, err := Parse([]byte(`<Response/>`))
	require.NoError(t, err)
	assert.Empty(t, empty.Verbs)
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"empty", ``, "empty document"},
		{"wrong root", `<Foo/>`, "root element <Foo>"},
		{"unsupported verb", `<Response><Play>https://x/a.mp3</Play></Response>`, "unsupported verb <Play>"},
		{"dial in gather", `<Response><Gather><Dial>+861</Dial></Gather></Response>`, "<Dial> inside <Gather>"},
		{"bad numDigits", `<Response><Gather numDigits="one"/></Response>`, `<Gather numDigits="one">`},
		{"negative pause", `<Response><Pause length="-1"/></Response>`, `<Pause length="-1">`},
		{"bad loop", `<Response><Say loop="x">a</Say></Response>`, `<Say loop="x">`},
		{"bad bool", `<Response><Gather actionOnEmptyResult="yes"/></Response>`, "want true or false"},
		{"redirect without URL", `<Response><Redirect/></Response>`, "without a URL"},
		{"stray text", `<Response>hello<Hangup/></Response>`, `text "hello"`},
		{"unclosed", `<Response><Say>a</Say>`, "unexpected EOF"},
		{"not XML", `{"twiml":1}`, "text before"},
		{"not UTF-8", "<Response><Say>\xff</Say></Response>", "not UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	big := make([]byte, MaxDocument+1)
	_, err := Parse(big)
	assert.ErrorContains(t, err, "exceeds")
}
