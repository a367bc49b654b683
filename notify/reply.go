package notify

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"muster/plans"
)

// ReplyKind is what an SMS reply to a call-up means.
type ReplyKind string

// Reply kinds.
const (
	ReplyAccept  ReplyKind = "accept"  // 1, Y, YES, OK, 到, 收到, 好, 是: reporting for duty
	ReplyDecline ReplyKind = "decline" // 2, N, NO, 不, 不能, 否 (+ a reason): cannot come
	ReplyNote    ReplyKind = "note"    // anything else: kept, and answered with the help text
)

// Reply is a parsed SMS reply.
type Reply struct {
	Kind   ReplyKind `json:"kind"`
	Reason string    `json:"reason,omitempty"` // a decline's free text, a note's whole text
}

var (
	acceptWords  = []string{"1", "y", "yes", "ok", "到", "收到", "好", "是"}
	declineWords = []string{"2", "n", "no", "不能", "不", "否"} // longest first where one prefixes another
	// particles may follow a Chinese accept word: 好的, 收到了, 是的, 到了.
	particles = "的了啦呀啊哈嘞咯"
	// notDeclines start with 不 but decline nothing: 不用担心, 不客气.
	notDeclines = []string{"不用", "不客气", "不要紧", "不错"}
	// buTails are what may follow a bare 不 in a decline (不来, 不去了,
	// 不方便); with anything else (不管多晚我都到, 不会迟到, 不好意思…) the
	// reply is a note and its sender is asked to answer 1 or 2
	// (rulesCarefulDeclines).
	buTails = []string{"来", "去", "行", "了", "在", "方便", "参加", "可以", "能"}
	// noNotes follow an English no after a space and turn it into anything
	// but a decline: "no problem", "no worries" (rulesCarefulDeclines).
	noNotes = []string{"problem", "prob", "worries", "worry", "issue", "sweat"}
)

// rulesCarefulDeclines is the behaviour (muster.Rules) from which a reply
// declines only when it says so plainly (ParseReply). Before, every reply
// starting with 不 or an English no declined: "No problem" and
// "不管多晚我都到" took people off the call-up as not coming.
const rulesCarefulDeclines = 8

// ParseReply reads an SMS reply. The answer is the first word: 1 / Y / YES /
// OK / 到 / 收到 / 好 / 是 accept, alone or with a particle (好的, 收到了);
// 2 / N / NO / 不 / 不能 / 否 decline, and whatever follows is the reason
// ("2 家中有事", "不能，在外地"). Chinese answers need no space before the
// reason. Case, full-width digits and surrounding punctuation do not
// matter; anything else is a note, and so are 不用…, 不客气, 不要紧 and 不错,
// which start like a decline but refuse nothing. A bare 不 declines only
// alone, before a separator or before a word of buTails (不来, 不方便: the
// whole reply is the reason); "no problem" and the like are notes.
func ParseReply(body string) Reply { return parseReply(body, true) }

// parseReply is ParseReply; without careful, as it read under rules
// before rulesCarefulDeclines.
func parseReply(body string, careful bool) Reply {
	text := strings.TrimSpace(normalizeWidth(body))
	lower := strings.ToLower(text)
	for _, w := range acceptWords {
		if rest, ok := cutWord(lower, text, w); ok && strings.Trim(rest, particles) == "" {
			return Reply{Kind: ReplyAccept}
		}
	}
	for _, w := range notDeclines {
		if strings.HasPrefix(text, w) {
			return Reply{Kind: ReplyNote, Reason: strings.TrimSpace(body)}
		}
	}
	for _, w := range declineWords {
		rest, ok := cutWord(lower, text, w)
		if !ok {
			continue
		}
		if careful {
			switch {
			case w == "不" && rest != "" && rest == text[len(w):]: // no separator: 不来, 不管
				if !slices.ContainsFunc(buTails, func(t string) bool { return strings.HasPrefix(rest, t) }) {
					return Reply{Kind: ReplyNote, Reason: strings.TrimSpace(body)}
				}
				rest = strings.TrimSpace(body)
			case (w == "n" || w == "no") && strings.HasPrefix(text[len(w):], " "): // "no problem", not "no, problem with the car"
				if slices.ContainsFunc(noNotes, func(t string) bool { return strings.HasPrefix(strings.ToLower(rest), t) }) {
					return Reply{Kind: ReplyNote, Reason: strings.TrimSpace(body)}
				}
			}
		}
		return Reply{Kind: ReplyDecline, Reason: rest}
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

// FirstAnswerStands answers a reply kept as a note because the sender had
// answered already: the first answer stands (as the voice call and the
// answer page say).
func FirstAnswerStands(lang plans.Language, drill bool) string {
	mark := drillMark(drill)
	if lang == plans.LangEN {
		return mark + "You had answered before and your first answer stands; this message is kept for the duty office. If anything changes, call the duty office."
	}
	return mark + "您之前已回复，以第一次回复为准；本条已记录，值班人员可以看到。如有变化，请与值班人员联系。"
}

// HelpText answers a reply that was neither an acceptance nor a decline.
func HelpText(lang plans.Language, drill bool) string {
	mark := drillMark(drill)
	if lang == plans.LangEN {
		return mark + "Reply 1 to report for duty, or 2 and a reason if you cannot come."
	}
	return mark + "回复1表示到岗报到；不能到岗请回复2并说明原因。"
}

// drillMark begins every text said back to a drill's sender: a drill's
// messages all say they are one.
func drillMark(drill bool) string {
	if drill {
		return plans.ExerciseMark
	}
	return ""
}
