package twiml

import (
	"strings"
	"unicode"

	"muster/plans"
)

// An English call-up carries Chinese that no plan template can translate:
// the commander's reason as typed (特大暴雨), a region or role without an
// English name (白沙街道), a person's Chinese name, a drill's title. An
// English voice cannot say Han characters (Polly reads them as noise or
// skips them, at the words that matter most), so an English call says each
// run of Chinese in a Mandarin voice, in a Say of its own, and the rest in
// the English voice (TwiML plays Says in sequence).

// Run is a stretch of a text spoken by one voice: Chinese (Han characters
// with the punctuation and numbers among them) or the rest.
type Run struct {
	Text    string
	Chinese bool
}

// HasChinese reports whether text has a Han character, which only a
// Mandarin voice reads.
func HasChinese(text string) bool {
	return strings.ContainsFunc(text, isHan)
}

func isHan(r rune) bool { return unicode.Is(unicode.Han, r) }

// isCJKPunct is Chinese punctuation: CJK symbols and punctuation (、。【】《》),
// fullwidth forms (，：（）！？) and vertical and small forms.
func isCJKPunct(r rune) bool {
	return (r >= 0x3000 && r <= 0x303F) || (r >= 0xFF00 && r <= 0xFFEF) || (r >= 0xFE10 && r <= 0xFE1F) || (r >= 0xFE30 && r <= 0xFE6F)
}

// token kinds of SplitChinese.
const (
	tokHan     = iota // one Han character
	tokPunct          // one piece of Chinese punctuation
	tokWord           // a word of letters (no digit): English
	tokNeutral        // anything else: a space, a mark, a number, a code such as D000003
)

type token struct {
	text string
	kind int
}

// tokens cuts text into Han characters, Chinese punctuation, words (runs
// of other letters and digits) and single other characters.
func tokens(text string) []token {
	var out []token
	rs := []rune(text)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case isHan(r):
			out = append(out, token{string(r), tokHan})
			i++
		case isCJKPunct(r):
			out = append(out, token{string(r), tokPunct})
			i++
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			j, digit := i, false
			for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j])) && !isHan(rs[j]) && !isCJKPunct(rs[j]) {
				digit = digit || unicode.IsDigit(rs[j])
				j++
			}
			kind := tokWord
			if digit { // a number or a code: either voice reads it
				kind = tokNeutral
			}
			out = append(out, token{string(rs[i:j]), kind})
			i = j
		default:
			out = append(out, token{string(r), tokNeutral})
			i++
		}
	}
	return out
}

// SplitChinese cuts text an English voice is to read into runs: each run
// of Chinese, with the punctuation, spaces and numbers between its
// characters and the Chinese punctuation around it, and the text between
// them. Runs are trimmed of outer space and never empty; a stretch with no
// letter or digit (a full stop after a Chinese reason) goes with the run
// before it. Text without Han characters is one run.
func SplitChinese(text string) []Run {
	ts := tokens(text)
	zh := make([]bool, len(ts))
	for i := 0; i < len(ts); {
		if k := ts[i].kind; k == tokHan || k == tokWord {
			zh[i] = k == tokHan
			i++
			continue
		}
		// A stretch of punctuation and neutral tokens between left and right.
		j := i
		for j < len(ts) && (ts[j].kind == tokPunct || ts[j].kind == tokNeutral) {
			j++
		}
		leftHan := i > 0 && ts[i-1].kind == tokHan
		rightHan := j < len(ts) && ts[j].kind == tokHan
		switch {
		case leftHan && rightHan:
			for k := i; k < j; k++ {
				zh[k] = true
			}
		case leftHan: // Chinese punctuation closing the run stays with it
			for k := i; k < j && ts[k].kind == tokPunct; k++ {
				zh[k] = true
			}
		case rightHan: // and Chinese punctuation opening it
			for k := j - 1; k >= i && ts[k].kind == tokPunct; k-- {
				zh[k] = true
			}
		}
		i = j
	}
	var runs []Run
	var b strings.Builder
	flush := func(chinese bool) {
		if b.Len() > 0 {
			runs = append(runs, Run{Text: b.String(), Chinese: chinese})
			b.Reset()
		}
	}
	for i, t := range ts {
		if i > 0 && zh[i] != zh[i-1] {
			flush(zh[i-1])
		}
		b.WriteString(t.text)
	}
	if len(ts) > 0 {
		flush(zh[len(ts)-1])
	}
	// Merge the stretches nobody would say (": ", ".") into a neighbour.
	var out []Run
	for _, r := range runs {
		if !r.Chinese && !strings.ContainsFunc(r.Text, func(c rune) bool { return unicode.IsLetter(c) || unicode.IsDigit(c) }) {
			if len(out) > 0 {
				out[len(out)-1].Text += r.Text
				continue
			}
			if len(runs) > 1 {
				continue // leading marks: said by nobody, which loses nothing
			}
		}
		out = append(out, r)
	}
	final := out[:0]
	for _, r := range out {
		if r.Text = strings.TrimSpace(r.Text); r.Text != "" {
			if n := len(final); n > 0 && final[n-1].Chinese == r.Chinese {
				final[n-1].Text += " " + r.Text
				continue
			}
			final = append(final, r)
		}
	}
	return final
}

// SpokenEN is text as an English voice is to say it: a drill's 【演练】
// becomes [EXERCISE] (once, where the text already says both), and
// 【NOT A DRILL】 loses the Chinese brackets, so that an English speaker
// hears the marks in words they understand, not bracket characters or
// Chinese.
func SpokenEN(text string) string {
	text = strings.ReplaceAll(text, plans.ExerciseMark+plans.ExerciseMarkEN, plans.ExerciseMarkEN)
	text = strings.ReplaceAll(text, plans.ExerciseMark, plans.ExerciseMarkEN)
	if m := plans.NotADrillMark(plans.LangEN); strings.Contains(text, m) {
		text = strings.ReplaceAll(text, m, "["+strings.Trim(m, "【】")+"] ")
	}
	return text
}
