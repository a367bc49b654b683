package notify

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"muster/plans"
)

// ReplyKind is what an SMS reply to a call-up means.
type ReplyKind string

// Reply kinds.
const (
	ReplyAccept  ReplyKind = "accept"  // 1, Y, YES, 到, 收到, 好: reporting for duty
	ReplyDecline ReplyKind = "decline" // 2, N, NO, 不, 不能 (+ a reason): cannot come
	ReplyNote    ReplyKind = "note"    // anything else: kept, and answered with the help text
)

// Reply is a parsed SMS reply.
type Reply struct {
	Kind   ReplyKind `json:"kind"`
	Reason string    `json:"reason,omitempty"` // a decline's free text, a note's whole text
}

var (
	acceptWords  = []string{"1", "y", "yes", "到", "收到", "好"}
	declineWords = []string{"2", "n", "no", "不能", "不"} // longest first where one prefixes another
)

// ParseReply reads an SMS reply. The answer is the first word: 1 / Y / YES /
// 到 / 收到 / 好 accept; 2 / N / NO / 不 / 不能 decline, and whatever follows
// is the reason ("2 家中有事", "不能，在外地"). Chinese answers need no space
// before the reason. Case, full-width digits and surrounding punctuation do
// not matter; anything else is a note.
func ParseReply(body string) Reply {
	text := strings.TrimSpace(normalizeWidth(body))
	lower := strings.ToLower(text)
	for _, w := range acceptWords {
		if rest, ok := cutWord(lower, text, w); ok && rest == "" {
			return Reply{Kind: ReplyAccept}
		}
	}
	for _, w := range declineWords {
		if rest, ok := cutWord(lower, text, w); ok {
			return Reply{Kind: ReplyDecline, Reason: rest}
		}
	}
	return Reply{Kind: ReplyNote, Reason: strings.TrimSpace(body)}
}

// cutWord reports whether text starts with the answer word w (compared in
// lower case) standing on its own: followed by nothing, a space or
// punctuation, or, for a Chinese word, anything. It returns the rest with
// separators trimmed.
func cutWord(lower, text, w string) (string, bool) {
	if !strings.HasPrefix(lower, w) {
		return "", false
	}
	rest := text[len(w):]
	r, _ := utf8.DecodeRuneInString(rest)
	w0, _ := utf8.DecodeRuneInString(w)
	if rest != "" && w0 < utf8.RuneSelf && !unicode.IsSpace(r) && !unicode.IsPunct(r) {
		return "", false // "12", "yesterday", "nobody"
	}
	return strings.TrimFunc(rest, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) }), true
}

// normalizeWidth maps full-width ASCII (１, ＹＥＳ) to its half-width form,
// as phones with a Chinese keyboard often send it.
func normalizeWidth(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '！' && r <= '～':
			return r - '！' + '!'
		case r == '\u3000':
			return ' '
		}
		return r
	}, s)
}

// HelpText answers a reply that was neither an acceptance nor a decline.
func HelpText(lang plans.Language) string {
	if lang == plans.LangEN {
		return "Reply 1 to report for duty, or 2 and a reason if you cannot come."
	}
	return "回复1表示到岗报到；不能到岗请回复2并说明原因。"
}
