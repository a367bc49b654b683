package twiml

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseVoice(t *testing.T) {
	for _, tc := range []struct {
		name, voice string
		lang        Language
		want        Voice
		err         string
	}{
		{"Polly Mandarin", "Polly.Zhiyu", ZhCN, Voice{"Polly.Zhiyu", CmnCN}, ""},
		{"Polly Mandarin neural", "Polly.Zhiyu-Neural", ZhCN, Voice{"Polly.Zhiyu-Neural", CmnCN}, ""},
		{"Google Mandarin", "Google.cmn-CN-Wavenet-A", ZhCN, Voice{"Google.cmn-CN-Wavenet-A", CmnCN}, ""},
		{"Polly English", "Polly.Joanna", EnUS, Voice{"Polly.Joanna", EnUS}, ""},
		{"Polly British English", "Polly.Amy-Neural", EnUS, Voice{"Polly.Amy-Neural", EnGB}, ""},
		{"Google English", "Google.en-US-Standard-C", EnUS, Voice{"Google.en-US-Standard-C", EnUS}, ""},
		{"English voice for Chinese", "Polly.Joanna", ZhCN, Voice{}, "speaks en-US"},
		{"Mandarin voice for English", "Polly.Zhiyu", EnUS, Voice{}, "speaks cmn-CN"},
		{"Twilio's default", "man", ZhCN, Voice{}, "want an Amazon Polly or Google voice"},
		{"alice", "alice", ZhCN, Voice{}, "want an Amazon Polly or Google voice"},
		{"unknown Polly", "Polly.Nobody", ZhCN, Voice{}, "not a Polly voice muster knows"},
		{"lower case", "polly.zhiyu", ZhCN, Voice{}, "want an Amazon Polly or Google voice"},
		{"empty", "", EnUS, Voice{}, "want an Amazon Polly or Google voice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseVoice(tc.voice, tc.lang)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.True(t, Reads(got.Name, got.Language))
		})
	}
	assert.False(t, Reads("", ZhCN), "Twilio's default voice, man, speaks no Chinese")
	assert.False(t, Reads("Polly.Zhiyu", ZhCN), "Polly names Mandarin cmn-CN")
	assert.True(t, Reads("alice", ZhCN))
}

// Every Say muster renders names a voice that speaks its language, the
// default ones when none is configured.
func TestEverySayNamesAVoiceThatSpeaksIt(t *testing.T) {
	en := enCallUp()
	en.Voice = Voice{}
	for _, c := range []CallUp{zhCallUp(), en, {Text: zhText}} {
		for _, r := range []Response{Prompt(c), Reply(c, "1"), Reply(c, "2"), Reply(c, "5"), Voicemail(c), Notice(c)} {
			for _, v := range flatten(r.Verbs) {
				if s, ok := v.(Say); ok {
					assert.NotEmpty(t, s.Voice, "%s", r)
					assert.True(t, Reads(s.Voice, s.Language), "%s %s: %s", s.Voice, s.Language, r)
				}
			}
		}
	}
}

func flatten(vs []Verb) []Verb {
	var out []Verb
	for _, v := range vs {
		if g, ok := v.(Gather); ok {
			out = append(out, g.Verbs...)
			continue
		}
		out = append(out, v)
	}
	return out
}

// A message left on an answering machine (read after the beep) drops the
// keys a recording cannot press, asks for an SMS reply of 1 or 2, and says
// it all again; a drill's phrases are marked.
func TestVoicemailAsksForAnSMSReply(t *testing.T) {
	c := zhCallUp()
	c.Mark = "【演练】"
	c.Text = c.Mark + c.Text
	var said []string
	for _, v := range Voicemail(c).Verbs {
		if s, ok := v.(Say); ok {
			said = append(said, s.Text)
		}
	}
	all := strings.Join(said, "")
	assert.NotContains(t, all, "请按", "no key instructions: %s", all)
	assert.Equal(t, 2, strings.Count(all, "这里是示例市防汛抗旱指挥部。张三同志，已启动防汛Ⅳ级应急响应。"), "the call-up twice: %s", all)
	assert.Equal(t, 2, strings.Count(all, "【演练】请回复短信：1 确认到岗，2 不能到岗。"), "the SMS reply asked twice, marked: %s", all)

	en := enCallUp()
	all = Voicemail(en).String()
	assert.NotContains(t, all, "Press 1")
	assert.Contains(t, all, "Please reply to the text message: 1 if you are coming, 2 if you cannot.")
	assert.Contains(t, all, "Zhang San, a level 4 response is active.")
}
