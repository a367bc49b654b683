package plans

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"muster"
)

// ExerciseMark starts every EXERCISE and TEST message. The system adds it;
// a plan's templates never contain it, nor any other drill word.
const ExerciseMark = "【演练】"

// ExerciseMarkEN follows ExerciseMark in an English speaker's drill
// message, who may not read 【演练】 (the English CAP says the same).
const ExerciseMarkEN = "[EXERCISE] "

// longestMark is the longest text the system puts in front of a rendered
// message (ExerciseMark, with ExerciseMarkEN for English, or
// NotADrillMark): plan validation counts a message's segments with it.
func longestMark() string {
	longest := ""
	for _, m := range []string{ExerciseMark + ExerciseMarkEN, NotADrillMark(LangZH), NotADrillMark(LangEN)} {
		if utf8.RuneCountInString(m) > utf8.RuneCountInString(longest) {
			longest = m
		}
	}
	return longest
}

// NotADrillMark starts the messages of a LIVE call-up that stood down
// drills where it started: their people may just have had the same words
// with ExerciseMark, and must not take the real call-up for the drill
// going on. In the recipient's language.
func NotADrillMark(lang Language) string {
	if lang == LangEN {
		return "【NOT A DRILL】"
	}
	return "【非演练】"
}

// MessageData is what a plan's SMS and voice templates can refer to, as
// {{.Name}}, {{.Roles}} and so on. Every field is plain text filled in for
// one recipient, in the recipient's language.
type MessageData struct {
	Sender      string // SMS sender prefix, e.g. 【示例市应急】 (Plan.Sender)
	Plan        string // plan title (Plan.TitleEN for English when set)
	Level       string // level numeral: Ⅰ–Ⅳ in Chinese, I–IV in English (LevelCode.Numeral)
	LevelName   string // 特别重大 … 一般, or the English name
	Region      string // names of the activated regions, e.g. 示例市滨江区
	Name        string // the recipient's name
	Roles       string // the recipient's role names in this activation, joined by 、 or ", "
	Reason      string // why the plan was activated, as the commander wrote it
	AckDeadline string // how long the recipient has to answer, e.g. 15分钟 (DeadlineText)
	Link        string // one-tap answer link for the recipient
	Exercise    bool   // the activation is an EXERCISE or TEST (the system adds ExerciseMark itself)
}

// messageFields are the names of MessageData's fields, in order.
var messageFields = func() []string {
	t := reflect.TypeFor[MessageData]()
	out := make([]string, t.NumField())
	for i := range out {
		out[i] = t.Field(i).Name
	}
	return out
}()

// suggestField proposes the field of MessageData closest to f, a name it
// lacks, or lists them all.
func suggestField(f string) string {
	if best, ok := closest(f, messageFields, 2); ok { // two: a swap (Nmae)
		return ": did you mean {{." + best + "}}?"
	}
	return ": want one of {{." + strings.Join(messageFields, "}}, {{.") + "}}"
}

// allowedFuncs are the only functions a template may call; none can
// produce unbounded output or reach outside the template.
var allowedFuncs = map[string]bool{
	"and": true, "or": true, "not": true, "eq": true, "ne": true,
	"lt": true, "le": true, "gt": true, "ge": true, "len": true,
}

// maxRendered bounds the bytes one template may render to.
const maxRendered = 16 << 10

// drillWordsEN are the English drill words, matched as whole words
// (wordsIn): "Drilling rig" and "testing site" say no drill.
const drillWordsEN = `drills?|exercises?|tests?`

// drillWords matches the words a LIVE template must not contain: 演练, 演习,
// 测试, 拉练, 预演, and drill, exercise and test (and their plurals) as
// words, in any case, in text as drillText reads it.
var drillWords = regexp.MustCompile(`(?i)演练|演习|测试|拉练|预演|` + drillWordsEN)

// templateDrillWords matches the drill words in a LIVE template's text,
// also the Chinese ones with spaces, punctuation or symbols between their
// two characters (演　练, 演-练, 测·试): a reader, and a voice reading the
// text, still takes them for the word. Names and reasons are checked
// with drillWords alone (表演、练习 is no drill).
var templateDrillWords = regexp.MustCompile(`(?i)演[\s\p{Z}\p{P}\p{S}]*[练习]|测[\s\p{Z}\p{P}\p{S}]*试|拉[\s\p{Z}\p{P}\p{S}]*练|预[\s\p{Z}\p{P}\p{S}]*演|` + drillWordsEN)

// realClaims are what a drill's text must never say: that it is not a
// drill (非演练, not a drill) or that it is real (真实事件, this is real).
// Chinese ones are read with spaces (or, in a template, marks) between
// their characters, English ones with any spacing between their words.
var realClaims = []string{
	"非演练", "非演习", "非测试", "不是演练", "不是演习", "不是测试", "并非演练", "并非演习", "不属于演练", "不属于演习",
	"真实事件", "这是真的", "是真的", "真实险情",
	"not a drill", "not an exercise", "not a test", "no drill", "this is real",
	"real emergency", "is a real emergency", "this is a real emergency",
}

// deniedClaims are realClaims said the other way round, as a drill should
// (这是一次演练，不是真实事件; "a drill, not a real emergency"), or said of
// what the drill rehearses (模拟真实险情, 像是真的一样, "practise for a real
// emergency"): found whole, they are no claim. A claim that starts before
// one of them is still one ("This is a real emergency").
var deniedClaims = []string{"不是真实事件", "非真实事件", "并非真实事件", "模拟真实事件", "仿真真实事件",
	"不是真的", "并非真的", "像是真的", "当作是真的", "当成是真的",
	"不是真实险情", "非真实险情", "并非真实险情", "模拟真实险情", "仿真真实险情",
	"a real emergency"}

// denied holds deniedClaims as squeeze reads them.
var denied = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range deniedClaims {
		m[squeeze(c)] = true
	}
	return m
}()

// squeeze is text in lower case with only its letters.
func squeeze(text string) string {
	return strings.Map(func(r rune) rune {
		if !unicode.IsLetter(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, text)
}

// realClaimsIn returns the realClaims that re finds in text, without the
// deniedClaims.
func realClaimsIn(re *regexp.Regexp, text string) []string {
	var out []string
	for _, w := range wordsIn(re, text) {
		if !denied[squeeze(w)] {
			out = append(out, w)
		}
	}
	return out
}

// reasonRealClaims and templateRealClaims match realClaims in a drill's
// reason (or other text) and in a template's EXERCISE rendering.
var (
	reasonRealClaims   = claimsPattern(`[\s\p{Z}]*`)
	templateRealClaims = claimsPattern(`[\s\p{Z}\p{P}\p{S}]*`)
)

// claimsPattern compiles realClaims and deniedClaims with sep between the
// characters of a Chinese claim and between the words of an English one,
// in any case; the longest claim at a place is the one found (并非演练,
// not 非演练; 不是真实事件, not 真实事件).
func claimsPattern(sep string) *regexp.Regexp {
	alts := make([]string, 0, len(realClaims)+len(deniedClaims))
	for _, c := range append(slices.Clone(realClaims), deniedClaims...) {
		var parts []string
		for _, w := range strings.Fields(c) {
			if w[0] < utf8.RuneSelf {
				parts = append(parts, regexp.QuoteMeta(w))
				continue
			}
			for _, r := range w {
				parts = append(parts, regexp.QuoteMeta(string(r)))
			}
		}
		alts = append(alts, strings.Join(parts, sep))
	}
	re := regexp.MustCompile(`(?i)` + strings.Join(alts, "|"))
	re.Longest()
	return re
}

// wordsIn returns re's matches in text as drillText reads it, in order,
// leaving out those that an English match only makes inside a longer word:
// a letter of a Latin, Greek or Cyrillic word right before or after it
// (Drilling, contest). Digits, _ and Chinese characters do not lengthen a
// word: 2026Drill, flood_drill and 应急drill say drill.
func wordsIn(re *regexp.Regexp, text string) []string {
	t := drillText(text)
	var out []string
	for _, m := range re.FindAllStringIndex(t, -1) {
		w := t[m[0]:m[1]]
		first, _ := utf8.DecodeRuneInString(w)
		last, _ := utf8.DecodeLastRuneInString(w)
		before, _ := utf8.DecodeLastRuneInString(t[:m[0]])
		after, _ := utf8.DecodeRuneInString(t[m[1]:])
		if first < utf8.RuneSelf && wordLetter(before) || last < utf8.RuneSelf && wordLetter(after) {
			continue
		}
		out = append(out, w)
	}
	return out
}

// wordLetter reports whether r is a letter that makes an English word
// longer: one of the Latin, Greek or Cyrillic alphabets.
func wordLetter(r rune) bool {
	return unicode.IsLetter(r) && unicode.In(r, unicode.Latin, unicode.Greek, unicode.Cyrillic)
}

// RealClaimsIn returns what text says of the words a drill must never say
// (realClaims: 非演练, 不是演练, 真实事件, "not a drill", "this is real", …),
// spaces ignored; denying it (不是真实事件) is no claim. An EXERCISE or
// TEST call-up's reason, a drill's title and a drill's retraction text,
// which its messages say under ExerciseMark, must have none, or its people
// may take the drill for a real emergency.
func RealClaimsIn(text string) []string { return realClaimsIn(reasonRealClaims, text) }

// drillText is text as a phone shows it, for the drill-word check: without
// invisible formatting characters (演\u200B练 reads 演练), in compatibility
// form (full-width ｔｅｓｔ reads test), with the Cyrillic and Greek
// letters that look like Latin ones read as those (tеst with a Cyrillic е
// reads test), and with the traditional forms of the drill words' and
// realClaims' characters simplified (演練, 演習, 測試, 真實).
func drillText(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) {
			return -1
		}
		if l, ok := latinLookalike[r]; ok {
			return l
		}
		return r
	}, norm.NFKC.String(s))
	return traditionalDrill.Replace(s)
}

// latinLookalike maps the Cyrillic and Greek letters that a phone shows
// like a Latin letter to that letter.
var latinLookalike = map[rune]rune{
	// Cyrillic
	'а': 'a', 'А': 'A', 'В': 'B', 'с': 'c', 'С': 'C', 'ԁ': 'd', 'е': 'e', 'Е': 'E', 'һ': 'h', 'Н': 'H',
	'і': 'i', 'І': 'I', 'ј': 'j', 'Ј': 'J', 'К': 'K', 'ӏ': 'l', 'Ӏ': 'I', 'М': 'M', 'о': 'o', 'О': 'O',
	'р': 'p', 'Р': 'P', 'ԛ': 'q', 'ѕ': 's', 'Ѕ': 'S', 'Т': 'T', 'у': 'y', 'У': 'Y', 'ԝ': 'w', 'х': 'x', 'Х': 'X',
	// Greek
	'Α': 'A', 'Β': 'B', 'Ε': 'E', 'Ζ': 'Z', 'Η': 'H', 'Ι': 'I', 'ι': 'i', 'Κ': 'K', 'Μ': 'M', 'Ν': 'N',
	'Ο': 'O', 'ο': 'o', 'Ρ': 'P', 'ρ': 'p', 'Τ': 'T', 'Υ': 'Y', 'Χ': 'X', 'χ': 'x',
}

// traditionalDrill simplifies the traditional characters of the drill
// words and of realClaims.
var traditionalDrill = strings.NewReplacer("練", "练", "習", "习", "測", "测", "試", "试", "預", "预",
	"並", "并", "屬", "属", "於", "于", "實", "实", "況", "况", "這", "这", "險", "险", "當", "当", "擬", "拟")

// MessageTemplate is a compiled message template. It is safe for concurrent use.
type MessageTemplate struct {
	t *template.Template
}

// CompileMessage parses src as a message template: Go text/template syntax
// over MessageData with fields, if/else/with, variables and the functions
// and, or, not, eq, ne, lt, le, gt, ge and len. Range, define, block and
// template actions and other functions are refused, so rendering is always
// quick and small. A field that MessageData lacks ({{.Nmae}}) is refused,
// naming the closest one (did you mean {{.Name}}?) or listing them; a
// field of a field fails when the template is rendered. Errors are
// EInvalid.
func CompileMessage(src string) (*MessageTemplate, error) {
	if len(src) > maxTemplateLen {
		return nil, muster.Errorf(muster.EInvalid, "template is %d bytes: keep it within %d", len(src), maxTemplateLen)
	}
	t, err := template.New("message").Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, muster.Errorf(muster.EInvalid, "template does not parse: %s", cleanTemplateError(err))
	}
	if len(t.Templates()) > 1 {
		return nil, muster.Errorf(muster.EInvalid, "template defines other templates: define and block are not allowed")
	}
	if t.Tree == nil || t.Tree.Root == nil {
		return &MessageTemplate{t: t}, nil
	}
	if err := checkNode(t.Tree.Root); err != nil {
		return nil, muster.Errorf(muster.EInvalid, "template %s", err)
	}
	return &MessageTemplate{t: t}, nil
}

// Render executes the template for one recipient and returns the text with
// surrounding white space removed. Errors are EInvalid.
func (m *MessageTemplate) Render(d MessageData) (string, error) {
	w := &cappedBuffer{max: maxRendered}
	if err := m.t.Execute(w, d); err != nil {
		return "", muster.Errorf(muster.EInvalid, "template does not render: %s", cleanTemplateError(err))
	}
	return strings.TrimSpace(w.b.String()), nil
}

// RenderMessage compiles tmpl and renders it with d. Callers rendering one
// template for many recipients should CompileMessage once instead.
func RenderMessage(tmpl string, d MessageData) (string, error) {
	m, err := CompileMessage(tmpl)
	if err != nil {
		return "", err
	}
	return m.Render(d)
}

// DrillWordsIn returns the drill words found in text (not a template): a
// LIVE activation's reason, which its messages may say, must have none.
func DrillWordsIn(text string) []string { return wordsIn(drillWords, text) }

// reasonDrillWords is drillWords that also takes the Chinese ones with
// spaces between their two characters (演 练, 测　试), which a reason's
// reader, and a voice reading it, still take for the word; punctuation
// between them is not (表演、练习 is no drill).
var reasonDrillWords = regexp.MustCompile(`(?i)演[\s\p{Z}]*[练习]|测[\s\p{Z}]*试|拉[\s\p{Z}]*练|预[\s\p{Z}]*演|` + drillWordsEN)

// ReasonDrillWords returns the drill words in a LIVE activation's reason,
// which its messages say: DrillWordsIn's, and those spaced out.
func ReasonDrillWords(reason string) []string {
	return wordsIn(reasonDrillWords, reason)
}

// DrillWords returns the drill words found in the literal text of tmpl
// (outside {{ }} actions, and in string constants inside them), in order,
// read as one text: a word that an action splits (演{{/* */}}练, 测{{"试"}})
// is found too, and so is one with a space or a mark inside it
// (templateDrillWords). A LIVE template must have none. Field names such
// as .Exercise do not count. A template that does not parse is searched as
// plain text.
func DrillWords(tmpl string) []string {
	t, err := template.New("message").Parse(tmpl)
	if err != nil || t.Tree == nil {
		return templateDrillWordsIn(tmpl)
	}
	var literal strings.Builder
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.TextNode:
			literal.Write(n.Text)
		case *parse.StringNode:
			literal.WriteString(n.Text)
		default:
			forEachChild(n, walk)
		}
	}
	walk(t.Tree.Root)
	return templateDrillWordsIn(literal.String())
}

// DrillWordAdvice names the word of text that has the drill word w (the
// whole English word: "Testing", not "Test") and what to write instead,
// for a refusal: someone who wrote 核酸测试组 or "Testing Team" wrote no
// drill, and needs a way out more than the rule.
func DrillWordAdvice(text, w string) string {
	word := w
	if t := drillText(text); w != "" && w[0] < utf8.RuneSelf {
		if i := strings.Index(t, w); i >= 0 {
			j := i + len(w)
			for j < len(t) {
				r, n := utf8.DecodeRuneInString(t[j:])
				if !unicode.IsLetter(r) {
					break
				}
				j += n
			}
			word = t[i:j]
		}
	}
	var instead string
	switch lower := strings.ToLower(drillText(w)); {
	case strings.HasPrefix(lower, "test"):
		instead = `"screening", "check" or "sampling"`
	case strings.HasPrefix(lower, "drill"), strings.HasPrefix(lower, "exercis"):
		instead = `"training" or "practice"`
	case strings.Contains(lower, "测") || strings.Contains(lower, "试"):
		instead = "检测、核查 or 排查"
	default: // 演练, 演习
		instead = "训练 or the response itself"
	}
	return fmt.Sprintf("%q reads as a drill word (%q) in an SMS; write %s instead", word, w, instead)
}

// templateDrillWordsIn returns the drill words in a template's text, as
// a phone shows it, in order.
func templateDrillWordsIn(text string) []string {
	return wordsIn(templateDrillWords, text)
}

// checkTemplate returns what is wrong with a LIVE template: it must compile,
// have no drill words and render sample, as a LIVE and as an exercise
// message, without error to non-empty text; the exercise message must
// not say it is real (realClaims); an SMS must fit in MaxSMSSegments with
// ExerciseMark in front.
func checkTemplate(src string, sample MessageData, sms bool) []string {
	var msgs []string
	if err := muster.CheckPlainText("text", src, true); err != nil {
		msgs = append(msgs, strings.TrimPrefix(err.Error(), "text: "))
	}
	literal := DrillWords(src)
	if w := literal; len(w) > 0 {
		msgs = append(msgs, fmt.Sprintf("contains the drill word %q: LIVE messages never mention drills; exercise messages get %s from the system (%s)", w[0], ExerciseMark, DrillWordAdvice(src, w[0])))
	}
	m, err := CompileMessage(src)
	if err != nil {
		return append(msgs, err.Error())
	}
	longest := ""
	for _, exercise := range []bool{false, true} {
		d := sample
		d.Exercise = exercise
		text, err := m.Render(d)
		if err != nil {
			return append(msgs, err.Error())
		}
		if text == "" {
			return append(msgs, "renders to empty text")
		}
		if !exercise && len(literal) == 0 {
			// What a LIVE message says, whatever the template's pieces:
			// a word only rendering puts together ({{if}} branches). The
			// names and texts a plan or roster fills in are checked where
			// they are written, so they are left out here.
			own, err := m.Render(withoutNames(d))
			if err != nil {
				return append(msgs, err.Error())
			}
			if w := templateDrillWordsIn(own); len(w) > 0 {
				msgs = append(msgs, fmt.Sprintf("renders a LIVE message with the drill word %q (%s): LIVE messages never mention drills; exercise messages get %s from the system", w[0], own, ExerciseMark))
			}
		}
		if exercise {
			// What a drill's message says, whatever branch only drills
			// take ({{if .Exercise}}): never that it is real.
			own, err := m.Render(withoutNames(d))
			if err != nil {
				return append(msgs, err.Error())
			}
			if w := realClaimsIn(templateRealClaims, own); len(w) > 0 {
				msgs = append(msgs, fmt.Sprintf("renders an EXERCISE message that says %q (%s): a drill must never say it is real or not a drill, "+
					"or its people may take it for a real emergency; put text only LIVE messages say in {{if not .Exercise}}…{{end}}", w[0], own))
			}
		}
		if len(text) > len(longest) {
			longest = text
		}
	}
	if sms {
		mark := longestMark()
		enc, chars, segs := SMSSegments(mark + longest)
		if segs > MaxSMSSegments {
			msgs = append(msgs, fmt.Sprintf("renders to %d SMS segments (%s, %d characters with %s in front); the limit is %d",
				segs, enc, chars, strings.TrimSpace(mark), MaxSMSSegments))
		}
	}
	return msgs
}

// withoutNames is d with each name and free text it carries (sender, plan
// title, level name, regions, person, roles, reason) that is not empty
// put as 某, so that rendering it shows only what the template itself
// says; empty ones stay empty, so that {{if}} takes the same branches.
func withoutNames(d MessageData) MessageData {
	for _, f := range []*string{&d.Sender, &d.Plan, &d.LevelName, &d.Region, &d.Name, &d.Roles, &d.Reason} {
		if *f != "" {
			*f = "某"
		}
	}
	return d
}

// checkNode refuses template constructs that could loop, recurse or call
// arbitrary functions.
func checkNode(n parse.Node) error {
	var err error
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		if err != nil || n == nil {
			return
		}
		switch n := n.(type) {
		case *parse.RangeNode:
			err = errors.New("uses range: not allowed in message templates")
		case *parse.TemplateNode:
			err = fmt.Errorf("calls template %q: not allowed in message templates", n.Name)
		case *parse.BreakNode, *parse.ContinueNode:
			err = errors.New("uses break or continue: not allowed in message templates")
		case *parse.IdentifierNode:
			if !allowedFuncs[n.Ident] {
				err = fmt.Errorf("calls function %q: only and, or, not, eq, ne, lt, le, gt, ge and len are allowed", n.Ident)
			}
		case *parse.FieldNode:
			// Every field of MessageData is plain text or a flag: a field
			// it lacks, or one of a field, can only fail when rendered,
			// where text/template says "can't evaluate field".
			if f := n.Ident[0]; !slices.Contains(messageFields, f) {
				err = fmt.Errorf("refers to {{.%s}}, which is no field%s", f, suggestField(f))
			}
		default:
			forEachChild(n, walk)
		}
	}
	walk(n)
	return err
}

// forEachChild calls f on each direct child of n.
func forEachChild(n parse.Node, f func(parse.Node)) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n != nil {
			for _, c := range n.Nodes {
				f(c)
			}
		}
	case *parse.ActionNode:
		f(n.Pipe)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, d := range n.Decl {
			f(d)
		}
		for _, c := range n.Cmds {
			f(c)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			f(a)
		}
	case *parse.ChainNode:
		f(n.Node)
	case *parse.IfNode:
		forBranch(&n.BranchNode, f)
	case *parse.WithNode:
		forBranch(&n.BranchNode, f)
	case *parse.RangeNode:
		forBranch(&n.BranchNode, f)
	case *parse.TemplateNode:
		f(n.Pipe)
	}
}

func forBranch(b *parse.BranchNode, f func(parse.Node)) {
	f(b.Pipe)
	if b.List != nil {
		f(b.List)
	}
	if b.ElseList != nil {
		f(b.ElseList)
	}
}

// cleanTemplateError drops text/template's "template: message:" prefix.
func cleanTemplateError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "template: ")
	s = strings.TrimPrefix(s, "message:")
	return s
}

// cappedBuffer is a writer that fails once more than max bytes are written.
type cappedBuffer struct {
	b   strings.Builder
	max int
}

func (w *cappedBuffer) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > w.max {
		return 0, fmt.Errorf("output is longer than %d bytes", w.max)
	}
	return w.b.Write(p)
}

// DeadlineText writes an ack deadline for a message in lang: 15分钟, 1小时30分钟
// in Chinese; 15 min, 1 h 30 min in English. Seconds are shown only below a
// minute.
func DeadlineText(d Duration, lang Language) string {
	t := time.Duration(d)
	if t < time.Minute {
		if lang == LangEN {
			return fmt.Sprintf("%d s", int(t.Seconds()))
		}
		return fmt.Sprintf("%d秒", int(t.Seconds()))
	}
	h, m := int(t.Hours()), int(t.Minutes())%60
	var parts []string
	if h > 0 {
		if lang == LangEN {
			parts = append(parts, fmt.Sprintf("%d h", h))
		} else {
			parts = append(parts, fmt.Sprintf("%d小时", h))
		}
	}
	if m > 0 {
		if lang == LangEN {
			parts = append(parts, fmt.Sprintf("%d min", m))
		} else {
			parts = append(parts, fmt.Sprintf("%d分钟", m))
		}
	}
	if lang == LangEN {
		return strings.Join(parts, " ")
	}
	return strings.Join(parts, "")
}

// SampleLink stands for a one-tap answer link when templates are checked:
// as long as a real one under a short public URL (a 23-character token, the
// longest muster makes below 16,384 activations and two million people),
// so the segment count a plan is checked with is not flattered.
const SampleLink = "https://muster.example.cn/r/AbCdEfGhIjKlMnOpQrStUvW"

// SampleMessageData is typical data for previews and for checking a level's
// templates: the plan's own sender, title and level, a made-up region, and a
// made-up recipient (a three-character name, the level's first role, a
// one-tap link) in lang; in English the region and the role (when it has
// an English name) are English too.
func SampleMessageData(p *Plan, l *Level, lang Language) MessageData {
	d := MessageData{
		Sender:      p.Sender,
		Plan:        p.Title,
		Level:       l.Code.Numeral(lang),
		LevelName:   l.Name,
		Region:      "示例市滨江区",
		Name:        "张建国",
		Reason:      "经会商研判，决定启动应急响应",
		AckDeadline: DeadlineText(l.AckDeadline, lang),
		Link:        SampleLink,
	}
	var first Role
	for _, g := range l.Groups {
		if len(g.Roles) > 0 {
			first = g.Roles[0]
			break
		}
	}
	d.Roles = first.Name
	if lang == LangEN {
		if p.TitleEN != "" {
			d.Plan = p.TitleEN
		}
		d.Region = "Binjiang District, Example City"
		if first.NameEN != "" {
			d.Roles = first.NameEN
		}
		d.LevelName = l.Code.EnglishName()
		d.Name = "Alex Morgan"
		d.Reason = "ordered by the command centre"
	}
	return d
}

// GSM 03.38 default alphabet and its extension table (each extension
// character takes two septets).
const (
	gsmBasic     = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtension = "\f^{}\\[~]|€"
)

// SMS encodings reported by SMSSegments.
const (
	EncodingGSM7 = "GSM-7"
	EncodingUCS2 = "UCS-2"
)

// SMSSegments reports how text travels as SMS. Text made only of GSM 03.38
// characters is GSM-7: chars counts septets (extension characters such as
// € and { count two), one segment holds 160 and each part of a longer
// message 153. Any other text is UCS-2: chars counts UTF-16 code units,
// one segment holds 70 and each part 67. Parts never split an extension
// character or a surrogate pair. Empty text is 0 segments.
func SMSSegments(text string) (encoding string, chars, segments int) {
	if text == "" {
		return EncodingGSM7, 0, 0
	}
	gsm := true
	for _, r := range text {
		if !strings.ContainsRune(gsmBasic, r) && !strings.ContainsRune(gsmExtension, r) {
			gsm = false
			break
		}
	}
	// units holds the size of each character in the encoding's units.
	var units []int
	single, part := 70, 67
	encoding = EncodingUCS2
	if gsm {
		encoding, single, part = EncodingGSM7, 160, 153
	}
	for _, r := range text {
		n := 1
		switch {
		case gsm && strings.ContainsRune(gsmExtension, r):
			n = 2
		case !gsm && utf16.RuneLen(r) == 2:
			n = 2
		}
		units = append(units, n)
		chars += n
	}
	if chars <= single {
		return encoding, chars, 1
	}
	used := 0
	segments = 1
	for _, n := range units {
		if used+n > part {
			segments++
			used = 0
		}
		used += n
	}
	return encoding, chars, segments
}

// SMSLength measures a text as it is built piece by piece, to tell whether
// it still fits in a number of segments without measuring the whole text
// again for each piece, as SMSSegments would.
type SMSLength struct {
	septets int  // as GSM-7
	units   int  // as UCS-2 (UTF-16 code units)
	ucs2    bool // a character outside GSM-7 was added
}

// Add measures piece as appended to the text.
func (l *SMSLength) Add(piece string) {
	for _, r := range piece {
		switch {
		case strings.ContainsRune(gsmBasic, r):
			l.septets++
		case strings.ContainsRune(gsmExtension, r):
			l.septets += 2
		default:
			l.ucs2 = true
		}
		l.units += max(utf16.RuneLen(r), 1)
	}
}

// Fits reports whether the text measured, which text returns, takes at
// most segments (SMSSegments). It is told from the counts alone unless
// the text is within a few characters of the limit: parts never split a
// character, which leaves at most one unit of a part unused.
func (l SMSLength) Fits(segments int, text func() string) bool {
	n, single, part := l.septets, 160, 153
	if l.ucs2 {
		n, single, part = l.units, 70, 67
	}
	switch {
	case n <= single || n <= segments*(part-1):
		return true
	case n > segments*part:
		return false
	}
	_, _, segs := SMSSegments(text())
	return segs <= segments
}
