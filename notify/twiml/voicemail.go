package twiml

import (
	"regexp"
	"strings"
)

// voicemailPhrases are what a message left on an answering machine says
// besides the call-up: how to answer it (a recording cannot press a key),
// and that it is said again. A Chinese call says the reply in the
// call-up's own words (CallUp.smsReply).
var voicemailPhrases = map[Language]struct{ reply, again string }{
	ZhCN: {reply: "请回复短信：1 确认到岗，2 不能到岗。", again: "再播一遍。"},
	EnUS: {reply: "Please reply to the text message: 1 if you are coming, 2 if you cannot.", again: "Once more."},
}

// keyInstruction finds a sentence telling the listener to press a key.
var keyInstruction = regexp.MustCompile(`按\s*[0-9０-９#＃*＊]|(?i)\bpress\s*[0-9#*]`)

// sentenceEnd splits text after each sentence's end.
var sentenceEnd = regexp.MustCompile(`[。！？!?；;]|\.(\s|$)`)

// WithoutKeys is text without its sentences that ask for a key
// ("确认到岗请按1，不能到岗请按2，重听请按9。", "Press 1 …"); text that is
// nothing else is kept whole.
func WithoutKeys(text string) string {
	var b strings.Builder
	rest := text
	for rest != "" {
		end := len(rest)
		if loc := sentenceEnd.FindStringIndex(rest); loc != nil {
			end = loc[1]
		}
		if s := rest[:end]; !keyInstruction.MatchString(s) {
			b.WriteString(s)
		}
		rest = rest[end:]
	}
	if strings.TrimSpace(b.String()) == "" {
		return text
	}
	return strings.TrimSpace(b.String())
}

// Voicemail is the document for a call an answering machine took (placed
// with DetectMessageEnd, so it is read after the greeting's beep): the
// call-up without its key instructions, which a recording cannot follow,
// then how to answer (reply 1 or 2 to the SMS), a pause, and both again;
// a drill's marked, each reading opened and ended by a sentence saying it
// is a drill. No Gather: such a call never acknowledges.
func Voicemail(c CallUp) Response {
	p, ok := voicemailPhrases[c.lang()]
	if !ok {
		p = voicemailPhrases[ZhCN]
	}
	said := c.reading(WithoutKeys(c.Text), c.Marked(p.reply))
	if c.lang() == ZhCN {
		said = c.reading(WithoutKeys(c.Text), c.Marked(c.smsReply()))
	}
	verbs := append(append([]Verb{}, said...), Pause{Length: 1})
	verbs = append(append(append(verbs, c.says(c.Marked(p.again))...), said...), Hangup{})
	return Response{Verbs: verbs}
}
