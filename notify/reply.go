package notify

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"muster"
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

// rulesRepliesAsInstructed is the behaviour (muster.Rules) from which a
// reply written as the call-up asks for it is an answer: 1 or 2 run into
// Chinese text (1到岗, 2在外地, as "回复：1到岗，2不能到岗" reads), 1 with
// a word after it (1 马上到), 到岗, an accept word and a separator before
// more (收到，马上出发), a keycap ① or 1️⃣, and 不能 run into what cannot be
// done keeps it in the reason (不能到岗, not 到岗). Before, those were notes,
// answered with the help text, and their senders escalated as silent.
const rulesRepliesAsInstructed = 10

// rulesCommonAcks is the behaviour (muster.Rules) from which the
// acknowledgements people type most in Chinese work chats answer a call-up
// as 到: an accept word said twice or more (收到收到, 好的好的, 好好), 明白
// (明白了, 明白，马上到), a thumbs-up alone (👍, 👍🏻👍), what someone at their
// post or on the way writes (已到岗, 已到, 马上到, 在路上了, on my way), 可以
// and 没问题 (each alone or before a separator, unless what follows says
// no, as for the other accept words). An accept word followed by a but
// (不过, 但是, 可是, but…) is an accept when what follows is about coming
// late (1，不过要晚半小时), else a note (1，不过我生病了: whether they come
// cannot be told; caveat), and 不过来 and 不过去 (cannot come over)
// refuse. An accept word followed by a plain inability, without a but, is
// a note too (1，我生病了; 1 在住院; 1 I'm sick: unable): its sender says
// they cannot come. And N/A is a note, not a decline whose reason is "A". Before,
// those were notes, answered with the help text, and their senders
// escalated as silent if they did not answer again; a but other than
// 不过 accepted whatever followed it unless it refused; and an inability
// without a refusal word (1，我生病了) was an accept, its sender counted
// as reported.
const rulesCommonAcks = 13

// replyRules are the ways of reading a reply, by the rules it is applied
// under.
type replyRules struct {
	careful bool // rulesCarefulDeclines
	plain   bool // rulesRepliesAsInstructed
	acks    bool // rulesCommonAcks
}

// replyRulesAt is how a reply is read under rules.
func replyRulesAt(rules int) replyRules {
	return replyRules{careful: rules >= rulesCarefulDeclines, plain: rules >= rulesRepliesAsInstructed, acks: rules >= rulesCommonAcks}
}

// ParseReply reads an SMS reply. The answer is the first word: 1 / Y / YES /
// OK / 到 / 到岗 / 收到 / 好 / 是 accept, alone or with a particle (好的,
// 收到了); 1, or a Chinese accept word followed by a separator, may have
// more after it (1到岗, 1 马上到, 收到，马上出发) unless that says no (1 不能去,
// 收到，但去不了: a note, whose sender is asked to answer 1 or 2); 2 / N /
// NO / 不 / 不能 / 否 decline, and whatever follows is the reason ("2 家中有事",
// "2在外地", "不能，在外地"; "不能到岗" whole). 1 and 2 need no space before
// Chinese text. Case, full-width digits, keycaps (1️⃣, ①) and surrounding
// punctuation do not matter; anything else is a note, and so are 不用…,
// 不客气, 不要紧 and 不错, which start like a decline but refuse nothing. A
// bare 不 declines only alone, before a separator or before a word of
// buTails (不来, 不方便: the whole reply is the reason); "no problem" and the
// like are notes.
func ParseReply(body string) Reply { return parseReply(body, replyRulesAt(muster.Rules)) }

// parseReply is ParseReply as it reads under rules r.
func parseReply(body string, r replyRules) Reply {
	text := strings.TrimSpace(normalizeWidth(body))
	if r.plain {
		text = strings.TrimSpace(normalizeKeycaps(text))
	}
	lower := strings.ToLower(text)
	note := Reply{Kind: ReplyNote, Reason: strings.TrimSpace(body)}
	words := acceptWords
	if r.plain {
		words = plainAcceptWords
	}
	if r.acks {
		if onlyAcks(text) {
			return Reply{Kind: ReplyAccept}
		}
		words = ackWords
	}
	for _, w := range words {
		rest, ok := cutWord(lower, text, w, r.plain)
		if !ok {
			continue
		}
		if !r.plain {
			if strings.Trim(rest, particles) == "" {
				return Reply{Kind: ReplyAccept}
			}
			continue
		}
		if strings.Trim(rest, plainParticles) == "" {
			return Reply{Kind: ReplyAccept}
		}
		// More after the word: 1 with anything, another word with a
		// separator after it and its particles (好的，收到; 收到～; OK👍).
		if w == "1" || separated(strings.TrimLeft(text[len(w):], plainParticles)) {
			if saysNo(rest, r.acks) {
				return note
			}
			return Reply{Kind: ReplyAccept}
		}
	}
	for _, w := range notDeclines {
		if strings.HasPrefix(text, w) {
			return note
		}
	}
	for _, w := range declineWords {
		rest, ok := cutWord(lower, text, w, r.plain)
		if !ok {
			continue
		}
		if r.careful {
			switch {
			case w == "不" && rest != "" && rest == text[len(w):]: // no separator: 不来, 不管
				if !slices.ContainsFunc(buTails, func(t string) bool { return strings.HasPrefix(rest, t) }) {
					return note
				}
				rest = strings.TrimSpace(body)
			case w == "不能" && r.plain && rest != "" && rest == text[len(w):]: // 不能到岗: what cannot be done
				rest = text
			case w == "n" && r.acks && strings.HasPrefix(text[len(w):], "/"): // N/A
				return note
			case (w == "n" || w == "no") && strings.HasPrefix(text[len(w):], " "): // "no problem", not "no, problem with the car"
				if slices.ContainsFunc(noNotes, func(t string) bool { return strings.HasPrefix(strings.ToLower(rest), t) }) {
					return note
				}
			}
		}
		return Reply{Kind: ReplyDecline, Reason: rest}
	}
	return note
}

// plainParticles are particles with the ones people also type after an
// acceptance (收到哦, 好哒, 收到啰 / 囉, 好的喔).
var plainParticles = particles + "哦哒啰囉喔噢"

// plainAcceptWords are acceptWords with 到岗 (before 到, which prefixes it),
// as the call-up's "回复：1到岗" has people write it.
var plainAcceptWords = []string{"1", "y", "yes", "ok", "到岗", "到", "收到", "好", "是"}

// ackWords are plainAcceptWords with 明白 and what people write who are
// at their post or on the way to it (已到岗, 马上到, 在路上, on my way), and
// 可以 and 没问题 (rulesCommonAcks).
var ackWords = append(slices.Clone(plainAcceptWords), "明白", "已经到岗", "已到岗", "已经到", "已到", "马上到", "在路上", "可以", "没问题", "on my way", "omw")

// ackTokens are what a reply of acknowledgements alone is made of
// (rulesCommonAcks): the Chinese accept words, 明白 and a thumbs-up.
var ackTokens = []string{"到岗", "收到", "明白", "到", "好", "是", "👍"}

// onlyAcks reports whether text is nothing but acknowledgements, each
// with its particles, separators and emoji skin tones: 收到收到, 好的好的,
// 好好, 👍👍🏻 (rulesCommonAcks). One word alone is read as before.
func onlyAcks(text string) bool {
	skip := func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsPunct(r) || (r >= 0x1F3FB && r <= 0x1F3FF) || r == '\uFE0F'
	}
	s, n := strings.TrimLeftFunc(text, skip), 0
	for s != "" {
		i := slices.IndexFunc(ackTokens, func(w string) bool { return strings.HasPrefix(s, w) })
		if i < 0 {
			return false
		}
		s = strings.TrimLeftFunc(strings.TrimLeft(s[len(ackTokens[i]):], plainParticles), skip)
		n++
	}
	return n > 1 || strings.HasPrefix(strings.TrimLeftFunc(text, skip), "👍")
}

// refusals in what follows an acceptance make the reply a note (1 不能去,
// 收到，但去不了, 1 but cannot come): Chinese ones anywhere in it, English
// ones as words.
var (
	refusals        = []string{"不", "没", "无法", "否", "难以"}
	englishRefusals = []string{"no", "not", "cannot", "can't", "cant", "unable", "won't"}
)

// saysNo reports whether the text after an accept word refuses anything;
// with buts (rulesCommonAcks), a 不过 that means "but" (not 不过来, 不过去:
// cannot come over) refuses nothing by its 不, and a but followed by
// anything other than coming late refuses (caveat).
func saysNo(rest string, buts bool) bool {
	if buts {
		if caveat(rest) || unable(rest) {
			return true
		}
		rest = withoutBut(rest)
	}
	if slices.ContainsFunc(refusals, func(w string) bool { return strings.Contains(rest, w) }) {
		return true
	}
	words := strings.FieldsFunc(strings.ToLower(rest), func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' })
	return slices.ContainsFunc(words, func(w string) bool { return slices.Contains(englishRefusals, w) })
}

// buts are the words that put a but after an accept (不过 as "but" only:
// withoutBut), and lateness what may follow one in a reply that still
// accepts: the sender is coming, later (晚半小时, 路上堵车, 要先送孩子,
// 20 min late).
var (
	buts        = []string{"不过", "但是", "但", "可是", "只是"}
	englishButs = []string{"but", "however"}
	lateness    = []string{"晚", "迟", "分钟", "小时", "钟头", "稍后", "一会", "等会", "马上", "尽快", "路上", "堵", "先", "之后", "以后"}
	englishLate = []string{"late", "later", "min", "mins", "minute", "minutes", "hour", "hours", "soon", "traffic", "delayed"}
)

// caveat reports whether rest, what follows an accept word, puts a but
// before anything but coming late (1，不过我生病了; 收到，但是人在北京;
// 1 but I am sick): whether its sender is coming cannot be told, so the
// reply is a note and the escalation asks them again, as 1，不过要晚半小时
// (coming, late) is not.
func caveat(rest string) bool {
	if strings.Contains(withoutBut(rest), "不过") {
		return false // 不过来, 不过去: a refusal, which saysNo finds
	}
	at := -1
	for _, w := range buts {
		if i := strings.Index(rest, w); i >= 0 && (at < 0 || i < at) {
			at = i
		}
	}
	after := ""
	if at >= 0 {
		after = rest[at:]
	}
	words := strings.FieldsFunc(strings.ToLower(rest), func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' })
	if i := slices.IndexFunc(words, func(w string) bool { return slices.Contains(englishButs, w) }); i >= 0 {
		after += " " + strings.Join(words[i+1:], " ")
	} else if at < 0 {
		return false // no but
	}
	if slices.ContainsFunc(lateness, func(w string) bool { return strings.Contains(after, w) }) {
		return false
	}
	late := strings.FieldsFunc(strings.ToLower(after), func(r rune) bool { return !unicode.IsLetter(r) })
	return !slices.ContainsFunc(late, func(w string) bool { return slices.Contains(englishLate, w) })
}

// inabilities are what, after an accept word, says plainly that its sender
// cannot come, with no but and no refusal word before it (1，我生病了; 1 在
// 住院; 1 I'm sick): ill, in hospital, injured, away from the city. Those
// with a refusal word (回不来, 来不了, can't come) saysNo finds anyway.
// englishInabilities are single words, englishInabilityPhrases runs of
// words.
var (
	inabilities             = []string{"生病", "病了", "病倒", "病假", "发烧", "发热", "住院", "受伤", "骨折", "在外地", "在国外", "在出差", "出差中", "外地出差"}
	englishInabilities      = []string{"sick", "ill", "hospital", "hospitalized", "hospitalised", "injured", "hurt", "abroad", "fever"}
	englishInabilityPhrases = []string{"out of town", "out of the city", "out of the country"}
)

// unable reports whether rest, what follows an accept word, says plainly
// that its sender cannot come (inabilities): whoever wrote "1，我生病了" is
// not coming, so the reply is a note, answered with the help text, and
// the escalation asks them again (rulesCommonAcks).
func unable(rest string) bool {
	if slices.ContainsFunc(inabilities, func(w string) bool { return strings.Contains(rest, w) }) {
		return true
	}
	words := strings.FieldsFunc(strings.ToLower(rest), func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' })
	if slices.ContainsFunc(words, func(w string) bool { return slices.Contains(englishInabilities, w) }) {
		return true
	}
	joined := " " + strings.Join(words, " ") + " "
	return slices.ContainsFunc(englishInabilityPhrases, func(p string) bool { return strings.Contains(joined, " "+p+" ") })
}

// withoutBut is s without each 不过 that means "but" or "only" (1，不过要晚半
// 小时; 不过十分钟), so that its 不 is not taken for a refusal; a 不过 before
// 来 or 去, however spaced, is "cannot come over" and stays.
func withoutBut(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "不过")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		after := s[i+len("不过"):]
		next, _ := utf8.DecodeRuneInString(strings.TrimLeftFunc(after, unicode.IsSpace))
		b.WriteString(s[:i])
		if next == '来' || next == '去' {
			b.WriteString("不过")
		}
		s = after
	}
}

// separated reports whether s begins with a space, punctuation or a
// symbol (~, an emoji).
func separated(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s != "" && (unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r))
}

// cutWord reports whether text starts with the answer word w (compared in
// lower case) standing on its own: followed by nothing, a space or
// punctuation, or, for a Chinese word, anything; with plain, a Chinese
// character or a symbol may follow an ASCII word too (1到岗, 2在外地, OK👍:
// no number or English word goes on in one). It returns the rest with
// separators trimmed.
func cutWord(lower, text, w string, plain bool) (string, bool) {
	if !strings.HasPrefix(lower, w) {
		return "", false
	}
	rest := text[len(w):]
	r, _ := utf8.DecodeRuneInString(rest)
	w0, _ := utf8.DecodeRuneInString(w)
	if rest != "" && w0 < utf8.RuneSelf && !unicode.IsSpace(r) && !unicode.IsPunct(r) && !(plain && (unicode.Is(unicode.Han, r) || unicode.IsSymbol(r))) {
		return "", false // "12", "yesterday", "nobody"
	}
	if plain && w0 < utf8.RuneSelf && slices.ContainsFunc(numberUnits, func(u string) bool { return strings.HasPrefix(rest, u) }) {
		return "", false // 1号楼有积水, 2点到: a number, not an answer
	}
	return strings.TrimFunc(rest, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) }), true
}

// numberUnits make a digit run into them a number (1号楼, 2点, 1个人), not
// an answer.
var numberUnits = []string{"号", "点", "楼", "栋", "幢", "层", "单元", "户", "室", "个", "名", "位", "人", "组", "队", "次", "分", "小时", "天", "日", "月", "年", "公里", "米", "辆", "处"}

// normalizeKeycaps maps the digits phones offer as emoji and symbols to
// plain ones: 1️⃣ (1, VS16, combining keycap) and ①–⑨ / ❶–❾.
func normalizeKeycaps(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\uFE0F' || r == '\u20E3':
			return -1
		case r >= '①' && r <= '⑨':
			return r - '①' + '1'
		case r >= '❶' && r <= '❾':
			return r - '❶' + '1'
		}
		return r
	}, s)
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
	mark := drillMark(lang, drill)
	if lang == plans.LangEN {
		return mark + "You had answered before and your first answer stands; this message is kept for the duty office. If anything changes, call the duty office."
	}
	return mark + "您之前已回复，以第一次回复为准；本条已记录，值班人员可以看到。如有变化，请与值班人员联系。"
}

// ReplyWords are the words a call-up's Chinese SMS asks its people to
// answer with ("回复：1收到，2不能参加并说明原因" asks 收到 and 不能参加), so
// that what is said back to an SMS reply uses them. The zero value is the
// usual 到岗 / 不能到岗.
type ReplyWords struct {
	Accept  string `json:"accept,omitempty"`
	Decline string `json:"decline,omitempty"`
}

// words are w's accept and decline words, the usual ones where w gives none.
func (w ReplyWords) words() (accept, decline string) {
	return cmp.Or(w.Accept, "到岗"), cmp.Or(w.Decline, "不能到岗")
}

// ReplyWordsOf reads the words a Chinese SMS template asks to be answered
// with: the Han characters right after "回复：1" (or "回复1") and after the
// "2" that follows, up to 6 each, the latter without "并说明原因". It is the
// zero ReplyWords (到岗 / 不能到岗) when the template asks those or does not
// say.
func ReplyWordsOf(template string) ReplyWords {
	i := strings.Index(template, "回复")
	if i < 0 {
		return ReplyWords{}
	}
	rest := strings.TrimLeft(template[i+len("回复"):], "：: ")
	han := func(s string) string {
		n := 0
		for j, r := range s {
			if !unicode.Is(unicode.Han, r) || n == 6 {
				return s[:j]
			}
			n++
		}
		return s
	}
	if !strings.HasPrefix(rest, "1") {
		return ReplyWords{}
	}
	accept := han(rest[1:])
	j := strings.Index(rest, "2")
	if accept == "" || j < 0 {
		return ReplyWords{}
	}
	decline := rest[j+1:]
	if k := strings.Index(decline, "并"); k >= 0 {
		decline = decline[:k]
	}
	decline = han(decline)
	if decline == "" {
		return ReplyWords{}
	}
	w := ReplyWords{Accept: accept, Decline: decline}
	if w.Accept == "到岗" && w.Decline == "不能到岗" {
		return ReplyWords{}
	}
	return w
}

// AnswerRecorded answers an SMS answer recorded on a call-up (kind:
// accepted or declined), so that the sender knows it counted, in the
// call-up's words (words) in Chinese. When they have other call-ups open
// it names the one that took it (named), and when some of those still
// wait for their answer (waiting, the one the next reply answers first)
// it asks them to reply again for the next, in that one's words (next).
func AnswerRecorded(lang plans.Language, drill bool, words ReplyWords, kind ReplyKind, named string, waiting []string, next ReplyWords) string {
	mark := drillMark(lang, drill)
	if lang == plans.LangEN {
		what := "you will report for duty."
		if kind == ReplyDecline {
			what = "you cannot come."
		}
		switch {
		case named == "":
			return mark + "Recorded: " + what
		case len(waiting) == 0:
			return mark + "Recorded for " + named + ": " + what
		case len(waiting) == 1:
			return mark + "Recorded for " + named + ": " + what + " You have not answered " + waiting[0] + " yet: reply 1 to report for duty, or 2 and a reason if you cannot come."
		}
		return mark + "Recorded for " + named + ": " + what + " You have " + strconv.Itoa(len(waiting)) + " more call-ups to answer; your next reply answers " + waiting[0] + ": reply 1 to report for duty, or 2 and a reason if you cannot come."
	}
	what := "到岗报到。"
	if accept, decline := words.words(); kind == ReplyDecline {
		what = decline + "。"
	} else if words.Accept != "" {
		what = accept + "。"
	}
	nextAccept, nextDecline := next.words()
	switch {
	case named == "":
		return mark + "已记录：" + what
	case len(waiting) == 0:
		return mark + "已记录您对" + named + "的回复：" + what
	case len(waiting) == 1:
		return mark + "已记录您对" + named + "的回复：" + what + "您另有" + waiting[0] + "的召集尚未回复：" + nextAccept + "请再回复1，" + nextDecline + "请回复2并说明原因。"
	}
	return mark + "已记录您对" + named + "的回复：" + what + "您另有" + strconv.Itoa(len(waiting)) + "项召集尚未回复，下一条回复记为对" + waiting[0] + "的答复：" + nextAccept + "请回复1，" + nextDecline + "请回复2并说明原因。"
}

// ReasonWanted follows AnswerRecorded for a decline that gave no reason
// (InboundResult.AskReason): the call-up asks for one, and the sender's
// next reply is kept as it.
func ReasonWanted(lang plans.Language) string {
	if lang == plans.LangEN {
		return " Please reply with the reason, so the duty office can plan."
	}
	return "请回复原因，便于调度。"
}

// ReasonRecorded answers a reply kept as the reason of the sender's
// decline (InboundResult.ReasonKept), in the call-up's words (words) in
// Chinese: 已记录不能参加的原因 for one that asks 不能参加.
func ReasonRecorded(lang plans.Language, drill bool, words ReplyWords) string {
	mark := drillMark(lang, drill)
	if lang == plans.LangEN {
		return mark + "Recorded: the reason you cannot come. The duty office can see it."
	}
	_, decline := words.words()
	return mark + "已记录" + decline + "的原因，值班人员可以看到。"
}

// optOutWords are what people send to unsubscribe from SMS: the carriers'
// keywords (Twilio's among them) and the Chinese ones.
var optOutWords = []string{"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "退订", "td", "取消订阅"}

// OptOut reports whether an SMS reply asks to unsubscribe (STOP, 退订, TD),
// and nothing else.
func OptOut(body string) bool {
	w := strings.ToLower(strings.TrimFunc(normalizeWidth(body), func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) }))
	return slices.Contains(optOutWords, w)
}

// OptOutText answers a reply that asks to unsubscribe (OptOut): call-up
// messages cannot be, whom to ask to change one's number or leave the
// roster, and how to answer the call-up (in its words), where the help
// text alone told them to report for duty. (A provider may still opt the
// number out itself on STOP: its later SMS then fail, and the call-up goes
// on to their next phone or a call.)
func OptOutText(lang plans.Language, drill bool, words ReplyWords) string {
	mark := drillMark(lang, drill)
	if lang == plans.LangEN {
		return mark + "Call-up messages cannot be unsubscribed. To change your number or leave the roster, contact the duty office. For this call-up: reply 1 to report for duty, or 2 and a reason if you cannot come."
	}
	accept, decline := words.words()
	return mark + "应急召集短信不能退订。如需更改联系方式或退出名单，请联系值班人员。本次召集：" + accept + "请回复1，" + decline + "请回复2并说明原因。"
}

// DeclineAfterAckNoted answers a decline from someone who had accepted
// (InboundResult.DeclinedAfterAck): their first answer stands, and this
// one is flagged to the duty office, who may call them. Chinese says both
// in the call-up's words.
func DeclineAfterAckNoted(lang plans.Language, drill bool, words ReplyWords) string {
	mark := drillMark(lang, drill)
	if lang == plans.LangEN {
		return mark + "You had answered that you are coming. This reply (cannot come) is recorded and shown to the duty office; if it is urgent, call the duty office."
	}
	accept, decline := words.words()
	return mark + "您之前已回复" + accept + "。本条（" + decline + "）已记录，并已提示值班人员；如有急事，请直接联系值班人员。"
}

// HelpText answers a reply that was neither an acceptance nor a decline,
// in the call-up's words in Chinese.
func HelpText(lang plans.Language, drill bool, words ReplyWords) string {
	mark := drillMark(lang, drill)
	if lang == plans.LangEN {
		return mark + "Reply 1 to report for duty, or 2 and a reason if you cannot come."
	}
	if words.Accept == "" {
		return mark + "回复1表示到岗报到；不能到岗请回复2并说明原因。"
	}
	accept, decline := words.words()
	return mark + "回复1表示" + accept + "；" + decline + "请回复2并说明原因。"
}

// ReportTakesNoReply answers an SMS reply taken for a 叫应 report sent to
// its sender (InboundResult.ToReport): the report needs none, and their
// own call-up is answered with 1 or 2.
func ReportTakesNoReply(lang plans.Language, drill bool) string {
	mark := drillMark(lang, drill)
	if lang == plans.LangEN {
		return mark + "The report needs no reply. To answer your own call-up, reply 1 to report for duty, or 2 and a reason if you cannot come."
	}
	return mark + "通报无需回复。您本人的召集：到岗请回复1，不能到岗请回复2并说明原因。"
}

// CallUpEnded answers an SMS reply to a call-up that had ended (how) when
// it came: nothing was recorded, as the voice call and the answer page say
// to a key or an answer after the end. A withdrawn call-up needs nothing
// of them, and a reply to its correction (收到, by habit) is told so rather
// than that it was not recorded.
func CallUpEnded(lang plans.Language, drill bool, how Ending) string {
	mark := drillMark(lang, drill)
	if lang == plans.LangEN {
		switch how {
		case EndedWithdrawn:
			return mark + "This call-up was withdrawn: you need not come, and no reply is needed."
		case EndedCorrected:
			return mark + "This call-up was corrected: follow the correction. Your reply was not recorded."
		case EndedForLive:
			return mark + "This drill was stopped for a REAL call-up that has been sent to you: answer that message, marked " + plans.NotADrillMark(plans.LangEN) + ". Your reply was not recorded."
		}
		if drill {
			return mark + "This drill has ended. Your reply was not recorded."
		}
		return mark + "This call-up has ended. Your reply was not recorded."
	}
	switch how {
	case EndedForLive:
		return mark + "本次演练已因真实召集停止，真实召集已另发给您：请回复那条标有" + plans.NotADrillMark(plans.LangZH) + "的短信。您的这条回复未记录。"
	case EndedWithdrawn:
		return mark + "本次召集已撤回，无需到岗，也无需回复。"
	case EndedCorrected:
		return mark + "本次召集已更正，请以更正通知为准，您的回复未记录。"
	}
	if drill {
		return mark + "本次演练已结束，您的回复未记录。"
	}
	return mark + "本次召集已结束，您的回复未记录。"
}

// LiveCallUpWaits follows what is said back to a reply on a drill's
// number from someone a LIVE call-up waits for (InboundResult.LiveWaiting):
// it points to the real call-up's message, from the other number and
// without the drill's mark, which is where they answer it; a reply here
// answers no real call-up. It does not say the message is marked 【非演练】:
// only a LIVE call-up that stood down or spared a drill marks its
// messages so. Alone (without a text before it), it begins with the
// drill's mark.
func LiveCallUpWaits(lang plans.Language, drill, alone bool) string {
	mark := drillMark(lang, drill)
	if !alone {
		mark = ""
	}
	if lang == plans.LangEN {
		if !alone {
			mark = " "
		}
		return mark + "A REAL call-up is waiting for your answer: reply to its message from the other number, the one not marked " +
			strings.TrimSpace(plans.ExerciseMarkEN) + ". Replies to this number do not answer it."
	}
	return mark + "另有真实召集等待您的回复：请回复另一号码发来、不带" + plans.ExerciseMark + "的召集短信，回复本号码不计入真实召集。"
}

// drillMark begins every text said back to a drill's sender in lang: a
// drill's messages all say they are one, an English speaker's with
// ExerciseMarkEN too, as their call-up began.
func drillMark(lang plans.Language, drill bool) string {
	switch {
	case !drill:
		return ""
	case lang == plans.LangEN:
		return plans.ExerciseMark + plans.ExerciseMarkEN
	}
	return plans.ExerciseMark
}
