package twiml

import (
	"strings"
	"unicode"

	"muster/plans"
)

// Keys of the call-up keypad (DOMAIN.md, "Acknowledgement words").
const (
	KeyAccept  = "1"
	KeyDecline = "2"
	KeyRepeat  = "9"
)

// DefaultTimeout is how many seconds a call-up waits for a key after the
// second reading when CallUp.Timeout is 0.
const DefaultTimeout = 8

// Answer is what the keys a person pressed mean.
type Answer int

// Answers to a call-up.
const (
	AnswerNone    Answer = iota // no key pressed
	AnswerAccept                // 1: coming
	AnswerDecline               // 2: cannot come
	AnswerRepeat                // 9: read the message again
	AnswerOther                 // any other key: help, then ask again
)

var answerNames = [...]string{"none", "accept", "decline", "repeat", "other"}

func (a Answer) String() string {
	if a < 0 || int(a) >= len(answerNames) {
		return "unknown"
	}
	return answerNames[a]
}

// ParseAnswer reads a Gather's Digits: "1" accepts, "2" declines, "9"
// repeats, "" is no answer, anything else (other keys, several keys, "#")
// is AnswerOther.
func ParseAnswer(digits string) Answer {
	switch strings.TrimSpace(digits) {
	case "":
		return AnswerNone
	case KeyAccept:
		return AnswerAccept
	case KeyDecline:
		return AnswerDecline
	case KeyRepeat:
		return AnswerRepeat
	}
	return AnswerOther
}

// LanguageFor is the language a person is called in: en-US for English
// speakers, zh-CN for everyone else.
func LanguageFor(lang plans.Language) Language {
	if lang == plans.LangEN {
		return EnUS
	}
	return ZhCN
}

// CallUp is the spoken call-up to one person.
type CallUp struct {
	// Text is the rendered voice template, read twice. It carries the key
	// instructions itself ("确认到岗请按1，不能到岗请按2，重听请按9").
	Text     string
	Language Language // empty: zh-CN
	// Voice reads every Say of the call, with its language; an empty
	// Name: DefaultVoice(Language).
	Voice Voice
	// Chinese reads the Chinese in an English call, in Says of its own
	// (SplitChinese): a commander's reason, a name with no English one.
	// An empty Name: DefaultVoice(ZhCN).
	Chinese Voice
	// Action is the absolute URL Twilio posts the pressed key to, signed
	// like every webhook.
	Action  string
	Timeout int // seconds to wait for a key after the second reading; 0: DefaultTimeout
	// NoInput, when set, is where the call goes (Redirect, POST) when no
	// key is pressed; empty: a goodbye and Hangup.
	NoInput string
	// Mark, when set (a drill's 【演练】), makes the call a drill's. It
	// begins whatever the call says besides Text (which carries it
	// already) and the drill sentences: an answer's thanks, a closing.
	// Each reading of Text is opened and ended by a sentence saying it is
	// a drill: the mark alone is one word, said while whoever picked up
	// may still be saying "喂？".
	Mark string
}

// Marked is text as the call says it besides Text: after c.Mark.
func (c CallUp) Marked(text string) string {
	if c.Mark == "" || strings.HasPrefix(text, c.Mark) {
		return text
	}
	return c.Mark + text
}

// phrases are the fixed sentences of a call-up in one language.
type phrases struct {
	accepted, declined, help string
	// noKey is said when no key was pressed, before a Redirect; noKeyBye
	// before Hangup: how to answer still, by SMS (as a message left on a
	// machine says), then goodbye. Someone who answers aloud and presses
	// nothing is not left silent on the board without a word of how.
	noKey, noKeyBye string
	// drillOpen opens each reading of a drill's call-up and drillClose
	// ends it: whoever missed the mark at the start hears in a full
	// sentence, before the call-up and again after it, that it is a drill.
	drillOpen, drillClose string
}

var phrasesOf = map[Language]phrases{
	ZhCN: {
		accepted: "已确认到岗，谢谢。",
		declined: "已记录您不能到岗，谢谢。",
		help:     "按键无效。确认到岗请按1，不能到岗请按2，重听请按9。",
		noKey:    "未收到按键。",
		noKeyBye: "未收到按键。" + voicemailPhrases[ZhCN].reply + "再见。",

		drillOpen:  "这是一次演练，不是真实事件。",
		drillClose: "以上为演练内容。",
	},
	EnUS: {
		accepted: "You are confirmed as coming. Thank you.",
		declined: "We have recorded that you cannot come. Thank you.",
		help:     "That key is not valid. Press 1 if you are coming, 2 if you cannot, 9 to repeat.",
		noKey:    "No key was pressed.",
		noKeyBye: "No key was pressed. " + voicemailPhrases[EnUS].reply + " Goodbye.",

		drillOpen:  "This is a drill, not a real emergency.",
		drillClose: "This was a drill.",
	},
}

func (c CallUp) lang() Language {
	if c.Language == "" {
		return ZhCN
	}
	return c.Language
}

func (c CallUp) phrases() phrases {
	p, ok := phrasesOf[c.lang()]
	if !ok || c.lang() == ZhCN {
		// In the call-up's own words: a level that asks "收到请按1，不能
		// 参加请按2" is answered 已收到, not 已确认到岗.
		p = phrasesOf[ZhCN]
		accept, decline := c.answerWords()
		p.accepted = "已" + accept + "，谢谢。"
		p.declined = "已记录您" + decline + "，谢谢。"
		p.help = "按键无效。" + accept + "请按" + KeyAccept + "，" + decline + "请按" + KeyDecline + "，重听请按" + KeyRepeat + "。"
		// How to answer by SMS, in the same words: a level IV call-up
		// whose SMS asks "1收到，2不能参加" is not told 1 确认到岗.
		p.noKeyBye = "未收到按键。" + c.smsReply() + "再见。"
	}
	return p
}

// answerWords are keyWords made whole: a bare verb says too little to be
// answered in ("已记录您不能"), so the default words then.
func (c CallUp) answerWords() (accept, decline string) {
	accept, decline = c.keyWords()
	if accept == "确认" {
		accept = defaultAcceptWords
	}
	if decline == "不能" || decline == "不" {
		decline = defaultDeclineWords
	}
	return accept, decline
}

// smsReply is how a call asks to be answered by SMS when no key can be
// or was pressed, in the call-up's own words (answerWords) in a Chinese
// call: "请回复短信：1 收到，2 不能参加。" for a level that asks 收到, as its
// SMS does; the English words in an English one.
func (c CallUp) smsReply() string {
	if c.lang() == EnUS {
		return voicemailPhrases[EnUS].reply
	}
	accept, decline := c.answerWords()
	return "请回复短信：1 " + accept + "，2 " + decline + "。"
}

// Words a Chinese call-up asks for with its keys when its Text does not
// say (… 请按1, … 请按2).
const (
	defaultAcceptWords  = "确认到岗"
	defaultDeclineWords = "不能到岗"
)

// keyWords are what a Chinese call-up's Text asks for with keys 1 and 2:
// the words right before "请按1" and "请按2" ("确认到岗请按1，不能到岗请按2"
// gives 确认到岗 and 不能到岗; "收到请按1，不能参加请按2" gives 收到 and 不能
// 参加), else defaultAcceptWords and defaultDeclineWords.
func (c CallUp) keyWords() (accept, decline string) {
	return wordsBefore(c.Text, "请按"+KeyAccept, defaultAcceptWords), wordsBefore(c.Text, "请按"+KeyDecline, defaultDeclineWords)
}

// wordsBefore is the run of up to 6 Han characters right before the first
// key in text, or def when there are none.
func wordsBefore(text, key, def string) string {
	i := strings.Index(text, key)
	if i <= 0 {
		return def
	}
	rs := []rune(text[:i])
	j := len(rs)
	for j > 0 && len(rs)-j < 6 && unicode.Is(unicode.Han, rs[j-1]) {
		j--
	}
	if j == len(rs) {
		return def
	}
	return string(rs[j:])
}

// says is text said in the call's voice and its language. An English
// call says its marks in English (SpokenEN) and each run of Chinese in
// the Chinese voice, in a Say of its own: an English voice cannot read it.
func (c CallUp) says(text string) []Verb {
	v := c.Voice
	if v.Name == "" {
		v = DefaultVoice(c.lang())
	}
	if c.lang() != EnUS {
		return []Verb{Say{Text: text, Voice: v.Name, Language: v.Language}}
	}
	zh := c.Chinese
	if zh.Name == "" {
		zh = DefaultVoice(ZhCN)
	}
	runs := SplitChinese(SpokenEN(text))
	if len(runs) == 0 {
		return []Verb{Say{Text: text, Voice: v.Name, Language: v.Language}}
	}
	out := make([]Verb, len(runs))
	for i, r := range runs {
		voice := v
		if r.Chinese {
			voice = zh
		}
		out[i] = Say{Text: r.Text, Voice: voice.Name, Language: voice.Language}
	}
	return out
}

// reading is one reading of the call-up: texts said in turn, a drill's
// (Mark set) opened by its drillOpen sentence and ended by its drillClose,
// which say it is a drill in words and take no mark.
func (c CallUp) reading(texts ...string) []Verb {
	var out []Verb
	p := c.phrases()
	if c.Mark != "" {
		out = append(out, c.says(p.drillOpen)...)
	}
	for _, t := range texts {
		out = append(out, c.says(t)...)
	}
	if c.Mark != "" {
		out = append(out, c.says(p.drillClose)...)
	}
	return out
}

// Speak is text said in the call's voice and its language: one Say, or,
// in an English call with Chinese in it, a Say per run of either.
func (c CallUp) Speak(text string) []Verb { return c.says(text) }

// gather is the one-key Gather reading the message twice, first preceded
// by lead when it is not empty.
func (c CallUp) gather(lead string) Gather {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	g := Gather{NumDigits: 1, Action: c.Action, Method: "POST", Timeout: timeout}
	if lead != "" {
		g.Verbs = append(append(g.Verbs, c.says(c.Marked(lead))...), Pause{Length: 1})
	}
	text := c.reading(c.Text)
	g.Verbs = append(append(append(g.Verbs, text...), Pause{Length: 1}), text...)
	return g
}

// fallback is what follows the Gather when no key comes.
func (c CallUp) fallback() []Verb {
	p := c.phrases()
	if c.NoInput != "" {
		return append(c.says(c.Marked(p.noKey)), Redirect{URL: c.NoInput, Method: "POST"})
	}
	return append(c.says(c.Marked(p.noKeyBye)), Hangup{})
}

// Prompt is the document a call-up is answered with: a one-key Gather
// posting to Action that reads Text, pauses a second and reads it again,
// then, if no key came, the fallback (NoInput or a goodbye and Hangup).
// A drill's call says before and after each reading that it is a drill.
func Prompt(c CallUp) Response {
	return Response{Verbs: append([]Verb{c.gather("")}, c.fallback()...)}
}

// Reply is the document answering the keys posted to Action: for 1 a
// confirmation ("已确认到岗") and Hangup, for 2 an acknowledgement of the
// refusal and Hangup, for 9 the Prompt again, and for anything else
// (including no key) the key help followed by the Prompt's Gather and
// fallback.
func Reply(c CallUp, digits string) Response {
	p := c.phrases()
	switch ParseAnswer(digits) {
	case AnswerAccept:
		return Response{Verbs: append(c.says(c.Marked(p.accepted)), Hangup{})}
	case AnswerDecline:
		return Response{Verbs: append(c.says(c.Marked(p.declined)), Hangup{})}
	case AnswerRepeat:
		return Prompt(c)
	}
	return Response{Verbs: append([]Verb{c.gather(p.help)}, c.fallback()...)}
}

// Notice is the document of a call that only tells (a correction): Text
// read, a second's pause, read again, and Hangup. It takes no keys. A
// drill's correction says before and after each reading that it is a
// drill.
func Notice(c CallUp) Response {
	text := c.reading(c.Text)
	return Response{Verbs: append(append(append(text, Pause{Length: 1}), text...), Hangup{})}
}

// AlreadyAnswered is the document of a call picked up by someone who had
// answered the call-up already (accepted: that they are coming): it says
// so in the call-up's own words, thanks them, and hangs up, asking for no
// key.
func AlreadyAnswered(c CallUp, accepted bool) Response {
	var text string
	switch accept, decline := c.keyWords(); {
	case c.lang() == EnUS && accepted:
		text = "You have already answered that you are coming. No key is needed. Thank you."
	case c.lang() == EnUS:
		text = "You have already answered that you cannot come. If anything changes, call the duty office. Thank you."
	case accepted:
		text = "您已回复：" + accept + "。无需再按键，谢谢。"
	default:
		text = "您已回复：" + decline + "。如有变化，请与值班人员联系。谢谢。"
	}
	return Response{Verbs: append(c.says(c.Marked(text)), Hangup{})}
}

// DeclinedAfterAck is the document answering a 2 pressed by someone who
// had accepted the call-up (pressed, or by SMS), the key kept as a note:
// it is recorded and shown to the duty office, as the SMS says, in the
// call-up's own words (a level that asks 收到 hears 您之前已回复：收到。本次
// 按键（不能参加）…, not 到岗), after a drill's mark; then Hangup.
func DeclinedAfterAck(c CallUp) Response {
	text := "You had answered that you are coming. This key, cannot come, is recorded and shown to the duty office; if it is urgent, call the duty office."
	if c.lang() != EnUS {
		accept, decline := c.answerWords()
		text = "您之前已回复：" + accept + "。本次按键（" + decline + "）已记录，并已提示值班人员；如有急事，请直接联系值班人员。"
	}
	return Response{Verbs: append(c.says(c.Marked(text)), Hangup{})}
}

// FirstAnswerStands is the document answering a key pressed by someone who
// had answered the call-up already (accepted: that they are coming), the
// key kept as a note: their first answer stands, said in the call-up's own
// words (a level that asks 收到 hears 您之前已回复：收到, not 已确认到岗),
// after a drill's mark; then Hangup.
func FirstAnswerStands(c CallUp, accepted bool) Response {
	var text string
	switch accept, decline := c.answerWords(); {
	case c.lang() == EnUS && accepted:
		text = "You had already said you are coming; your first answer stands."
	case c.lang() == EnUS:
		text = "You had already said you cannot come; your first answer stands. If anything changes, call the duty office."
	case accepted:
		text = "您之前已回复：" + accept + "，以第一次回复为准。"
	default:
		text = "您之前已回复：" + decline + "，以第一次回复为准。如有变化，请与值班人员联系。"
	}
	return Response{Verbs: append(c.says(c.Marked(text)), Hangup{})}
}
