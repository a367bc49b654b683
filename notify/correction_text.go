package notify

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// correctionZone is the time zone a correction names the time of the
// call-up it withdraws in: Asia/Shanghai, or the same fixed +08:00 when the
// binary has no zone database (China has kept +08:00 all year since 1991).
func correctionZone() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*60*60)
}

// withRetracted fills, on a correction read from tx, when the call-up it
// withdraws started (the correction's text names it). It is read, not
// stored: nothing in the log or the FSM's state changes, and a correction
// whose call-up is gone names none.
func withRetracted(tx *bolt.Tx, a *Activation) {
	if a.Retracts == "" {
		return
	}
	o, err := getActivation(tx, a.Retracts)
	if err != nil {
		return
	}
	a.retractedAt = o.StartedAt
	if a.retractedAt.IsZero() {
		a.retractedAt = o.CreatedAt
	}
}

// correctionLead is what a correction's text says before the official's
// words, in lang: which call-up it withdraws, by its plan, level, regions
// and the time it started, so that people who also had a later, real
// call-up do not take the correction for the withdrawal of that one.
// Chinese: 【更正】关于3月5日11:07「示例市防汛应急预案Ⅳ级响应（西林区）」的通知：
// English: Correction to the call-up "Flood plan" level IV (Xilin District) of Mar 5 11:07:
func correctionLead(a Activation, lang plans.Language) string {
	if lang == plans.LangEN {
		return "Correction to " + callUpName(a, a.retractedAt, lang) + ": "
	}
	return "【更正】关于" + callUpName(a, a.retractedAt, lang) + "的通知："
}

// callUpName names call-up a, which started at (zero: unknown, not said),
// in lang as a correction's text does: its time in China Standard Time,
// plan, level and regions (shortened when many).
// Chinese: 3月5日11:07「示例市防汛应急预案Ⅳ级响应（西林区）」
// English: the call-up "Flood plan" level IV (Xilin District) of Mar 5 11:07
func callUpName(a Activation, at time.Time, lang plans.Language) string {
	when := ""
	if !at.IsZero() {
		t := at.In(correctionZone())
		if lang == plans.LangEN {
			when = t.Format("Jan 2 15:04")
		} else {
			when = t.Format("1月2日15:04")
		}
	}
	if lang == plans.LangEN {
		title := a.PlanTitle
		if a.PlanTitleEN != "" {
			title = a.PlanTitleEN
		}
		// Plain quotes, not %q: a title's own quotes or backslashes are
		// read as they are, not escaped.
		s := `the call-up "` + title + `" level ` + a.Level.Numeral(plans.LangEN)
		if r := shortRegionsEN(a); r != "" {
			s += " (" + r + ")"
		}
		if when != "" {
			s += " of " + when
		}
		return s
	}
	what := a.PlanTitle + a.Level.Numeral(plans.LangZH) + "级响应"
	if r := shortRegions(a.RegionNames); r != "" {
		what += "（" + r + "）"
	}
	return when + "「" + what + "」"
}

// shortRegions keeps a correction's lead short (SMS segments): the regions
// joined by 、 as they are when they are few, else the first two and 等N个区域.
func shortRegions(names string) string { return regionsSaid(names, "、", 0, 2, 2) }

// shortRegionsEN is shortRegions for an English reader: a's regions'
// English names as they are when they are few, else the first two and
// "and N more"; the Chinese names (shortRegions) when a has no English
// ones, as its call-up SMS said them (MessageData). An English name may
// hold a comma itself: the names are split only when the pieces are as
// many as a's regions, else said whole.
func shortRegionsEN(a Activation) string {
	if a.RegionNamesEN == "" {
		return shortRegions(a.RegionNames)
	}
	return regionsSaid(a.RegionNamesEN, ", ", len(a.Regions), 2, 2)
}

// correctionWords is what a correction says before its purpose mark, in
// its SMS and its call: the sender, the lead naming the call-up it
// withdraws, the official's words (its English words to an English
// speaker, when it has them: correctionMessage), and, to a person a
// call-up still in force also called (a.standing), that it stands; lead
// and note are in the language the words are written in (Chinese words
// get a Chinese lead, whoever reads them).
func correctionWords(a Activation, lang plans.Language) string {
	if a.EndsDrill || a.EndsCallUp {
		return endSMS(a, lang, "")
	}
	words, lang := correctionMessage(a, lang)
	text := a.Sender + correctionLead(a, lang) + words
	if note := standingNote(a.standing, lang); note != "" {
		text = endSentence(text, lang) + note
	}
	return text
}

// correctionSMS is a correction's SMS before its purpose mark: its words,
// and that it needs no reply. A correction takes no answer; people who
// acknowledge it by habit (收到) were told their reply was not recorded,
// which read as if something were still wanted of them.
func correctionSMS(a Activation, lang plans.Language) string {
	if a.EndsDrill || a.EndsCallUp {
		return endSMS(a, lang, "")
	}
	text := correctionWords(a, lang)
	_, lang = correctionMessage(a, lang)
	text = endSentence(text, lang)
	if lang == plans.LangEN {
		return text + " " + reportNeedsNoReplyEN
	}
	return text + reportNeedsNoReply
}

// rulesCorrectionEN is the behaviour (muster.Rules) from which a
// retraction keeps what its correction says to English speakers
// (Activation.MessageEN, Retraction.MessageEN): the retraction's
// message_en, or, when it has none and its message is in Chinese, for a
// cancellation, CorrectionTextEN (correctionTextEN). Under older rules
// English speakers got the Chinese words.
const rulesCorrectionEN = 13

// CorrectionTextEN is what a correction says to English speakers, after
// naming the call-up it withdraws, when the official wrote its words in
// Chinese only and it cancels the call-up (not --correct): all that a
// retraction says whatever its Chinese words are.
const CorrectionTextEN = "It is withdrawn: disregard it, and do not report for it."

// correctionTextEN is what a retraction with message msg (trimmed),
// messageEN and correct has its correction say to English speakers: the
// English words given (trimmed), else CorrectionTextEN for a cancellation
// whose words are in Chinese; "" when the words themselves are English,
// or for a corrected call-up with none given: what it corrects cannot be
// said for the official (Service.Retract refuses it when it reaches
// English speakers).
func correctionTextEN(msg, messageEN string, correct bool) (string, error) {
	en := strings.TrimSpace(messageEN)
	switch {
	case utf8.RuneCountInString(en) > MaxRetractionChars:
		return "", invalidf("message_en: %d characters; at most %d", utf8.RuneCountInString(en), MaxRetractionChars)
	case en != "":
		return en, nil
	case correct || writtenIn(msg, plans.LangEN) == plans.LangEN:
		return "", nil
	}
	return CorrectionTextEN, nil
}

// correctionMessage is the official's words correction a says to a reader
// of lang, and the language they are written in: its English words
// (MessageEN) to an English speaker when it has them, else its message.
func correctionMessage(a Activation, lang plans.Language) (string, plans.Language) {
	if lang == plans.LangEN && a.MessageEN != "" {
		return a.MessageEN, plans.LangEN
	}
	return a.Message, writtenIn(a.Message, lang)
}

// DrillEndText is what the end of a drill (rulesDrillEndNotice) tells the
// people it reached, after naming the drill; DrillEndTextEN in English.
const (
	DrillEndText   = "本次演练已结束，无需到岗，无需回复。"
	DrillEndTextEN = "has ended: you need not report for duty, and no reply is needed."
)

// LiveEndText is what the end of a LIVE call-up stood down
// (rulesLiveEndNotice) tells the people it reached who answered 到 (and
// anyone whose answer is not known), after naming the call-up;
// LiveEndTextEN in English. liveEndWords says what the others are told.
// Neither speaks of drills: a LIVE text never does.
const (
	LiveEndText   = "应急响应已结束，可按单位安排离岗，无需回复。"
	LiveEndTextEN = "has ended: you may leave your post as your unit directs, and no reply is needed."
)

// endSMS is the SMS of a, the end of a call-up stood down (EndsDrill,
// EndsCallUp), before its purpose mark, in lang: the plan's sender, the
// call-up named as a correction names the call-up it withdraws, that it
// has ended and that nothing is wanted of them, and, to a person another
// call-up in force also calls (a.standing: drills for the end of a drill,
// LIVE call-ups for the end of a LIVE one), that it stands; when one of
// those has the same name as the call-up ended (two drills of one plan
// started in the same minute), both are named by their numbers too
// (endNumber, endStandingNote). The end of a LIVE call-up says what fits
// the person's answer to it (a.answer: liveEndWords): that they may leave
// their post to whoever answered 到, not to one who declined. The end of
// a drill never speaks of a LIVE call-up. In English, short (shortNameEN:
// how the call-up SMS named it, "Flood level IV, Donghu District") names
// it in place of the plan's English title, level and regions when set.
// Chinese: 【示例市应急】关于3月5日11:07「示例市防汛应急预案Ⅳ级响应（西林区）」的通知：本次演练已结束，无需到岗，无需回复。
// English: 【示例市应急】The drill "Flood plan" level IV (Xilin District) of Mar 5 11:07 has ended: …
// LIVE: 【示例市应急】关于3月5日11:07「示例市防汛应急预案Ⅳ级响应（西林区）」的通知：应急响应已结束，可按单位安排离岗，无需回复。
func endSMS(a Activation, lang plans.Language, short string) string {
	name := callUpName(a, a.retractedAt, lang)
	if lang == plans.LangEN && short != "" {
		name = `the call-up "` + short + `"`
		if !a.retractedAt.IsZero() {
			name += " of " + a.retractedAt.In(correctionZone()).Format("Jan 2 15:04")
		}
	}
	name += endNumber(a, lang)
	zh, en, what := DrillEndText, DrillEndTextEN, "The drill "
	if a.EndsCallUp {
		zh, en = liveEndWords(a.answer)
		what = "The call-up "
	}
	text := a.Sender + "关于" + name + "的通知：" + zh
	if lang == plans.LangEN {
		text = a.Sender + what + strings.TrimPrefix(name, "the call-up ") + " " + en
	}
	return text + endStandingNote(a, lang)
}

// shortNameEN is how the English call-up SMS of a, of level l, named it:
// the first sentence of the level's English SMS after the plan's sender,
// without its full stop ("Flood level IV, Donghu District"), when it
// names the level and is short; "" otherwise (the level has no English
// SMS, or it does not start by naming the call-up).
func shortNameEN(a Activation, l *plans.Level) string {
	if l == nil || l.SMSEN == "" {
		return ""
	}
	t, err := plans.CompileMessage(l.SMSEN)
	if err != nil {
		return ""
	}
	d := MessageData(a, Recipient{Language: plans.LangEN}, "")
	text, err := t.Render(d)
	if err != nil {
		return ""
	}
	text = strings.TrimPrefix(text, a.Sender)
	first, _, ok := strings.Cut(text, ". ")
	if !ok || utf8.RuneCountInString(first) > shortNameMax || !strings.Contains(first, d.Level) || strings.Contains(first, `"`) {
		return ""
	}
	return first
}

// shortNameMax bounds shortNameEN: a longer first sentence is no name.
const shortNameMax = 80

// startedAt is when call-up a started (CreatedAt for a record from before
// StartedAt was kept).
func startedAt(a Activation) time.Time {
	if a.StartedAt.IsZero() {
		return a.CreatedAt
	}
	return a.StartedAt
}

// standsBeside reports whether o, an activation, is a call-up still in
// force beside corr, a correction: open, not a correction, not retracted,
// not the call-up corr withdraws. A drill's correction counts LIVE
// call-ups and drills; a LIVE correction counts LIVE call-ups only: a LIVE
// text does not speak of a drill, and someone who takes a LIVE correction
// for the end of a drill loses nothing. The end of a drill counts drills
// only: it never speaks of a real call-up.
func standsBeside(corr, o Activation) bool {
	if corr.EndsDrill && !o.Purpose.Drill() {
		return false
	}
	return o.ID != corr.ID && o.ID != corr.Retracts && o.Retracts == "" && o.Retraction == nil &&
		o.Status == StatusActive && (o.Purpose == PurposeLive || corr.Purpose.Drill())
}

// activationReader reads activations by ID, keeping those it read: the
// fields a correction's text names of a call-up in force (plan, level,
// regions, start) do not change once it started, and whether it is still
// open is read from the open list each time.
type activationReader struct {
	mu   sync.Mutex
	acts map[plans.ActivationID]Activation
}

func (c *activationReader) get(tx *bolt.Tx, id plans.ActivationID) (Activation, error) {
	if c == nil {
		return getActivation(tx, id)
	}
	c.mu.Lock()
	o, ok := c.acts[id]
	c.mu.Unlock()
	if ok {
		return o, nil
	}
	o, err := getActivation(tx, id)
	if err != nil {
		return o, err
	}
	c.mu.Lock()
	c.acts[id] = o
	c.mu.Unlock()
	return o, nil
}

// standingFor lists the call-ups in force beside the correction corr
// (standsBeside) that call person too, the earliest started first: its
// text to them says those stand, so that nobody takes the correction for
// the withdrawal of the call-up that is right. Read from tx at the time of
// the send (or the call), never stored: it decides nothing in the FSM.
// acts, if not nil, keeps the activations read for the next person.
func standingFor(tx *bolt.Tx, corr Activation, person plans.PersonID, acts *activationReader) []Activation {
	ob := tx.Bucket(bOpen)
	if ob == nil || corr.Retracts == "" {
		return nil
	}
	var out []Activation
	_ = ob.ForEach(func(k, _ []byte) error {
		id := plans.ActivationID(k)
		if id == corr.ID || id == corr.Retracts {
			return nil
		}
		ad := activationData(tx, id)
		if ad == nil || ad.Bucket(bRecipients).Get([]byte(person)) == nil {
			return nil
		}
		o, err := acts.get(tx, id)
		if err == nil && standsBeside(corr, o) {
			out = append(out, o)
		}
		return nil
	})
	slices.SortStableFunc(out, func(x, y Activation) int {
		return cmp.Or(startedAt(x).Compare(startedAt(y)), cmp.Compare(x.ID, y.ID))
	})
	return out
}

// standingReader returns, for activation a, a function reading from
// view's local state at the time of the send what a person's SMS says
// beyond the template (the dispatcher runs on the leader, whose state has
// every committed call-up and recipient): for a correction, standingFor
// the person; for a call-up, whom they stand in for (standInOf). nil
// without a view. A read that fails says nothing more: the SMS goes out
// as it did before.
func standingReader(ctx context.Context, view Viewer, a Activation) func(plans.PersonID) sendNotes {
	if view == nil {
		return nil
	}
	if a.Retracts == "" {
		return func(p plans.PersonID) sendNotes {
			var out sendNotes
			_ = view.View(ctx, muster.Stale, func(tx *bolt.Tx) error {
				var err error
				out.backupFor, err = standInOf(activationData(tx, a.ID), p)
				return err
			})
			return out
		}
	}
	acts := &activationReader{acts: map[plans.ActivationID]Activation{}}
	return func(p plans.PersonID) sendNotes {
		var out sendNotes
		_ = view.View(ctx, muster.Stale, func(tx *bolt.Tx) error {
			out.standing = standingFor(tx, a, p, acts)
			out.answer = endedAnswer(tx, a, p)
			return nil
		})
		return out
	}
}

// standingNote is what a correction's text says after the official's words
// to a person the call-ups standing (earliest first) also called: the
// latest of them, named as the lead names the one withdrawn, still stands
// (and how many others do). "" when none.
// Chinese: 3月5日11:20「示例市防汛应急预案Ⅲ级响应（西林区）」的通知仍然有效。
// English:  The call-up "Flood plan" level III (Xilin District) of Mar 5 11:20 still stands.
func standingNote(standing []Activation, lang plans.Language) string {
	if len(standing) == 0 {
		return ""
	}
	last := standing[len(standing)-1]
	name := callUpName(last, startedAt(last), lang)
	others := len(standing) - 1
	if lang == plans.LangEN {
		name = " The" + strings.TrimPrefix(name, "the")
		switch others {
		case 0:
			return name + " still stands."
		case 1:
			return name + " and 1 other call-up still stand."
		}
		return fmt.Sprintf("%s and %d other call-ups still stand.", name, others)
	}
	if others > 0 {
		return fmt.Sprintf("%s等%d次启动通知仍然有效。", name, len(standing))
	}
	return name + "的通知仍然有效。"
}

// endSentence ends text with a full stop in lang unless it ends a
// sentence already, so that what follows reads as a sentence of its own.
func endSentence(text string, lang plans.Language) string {
	r, _ := utf8.DecodeLastRuneInString(text)
	if strings.ContainsRune("。！？!?.…", r) {
		return text
	}
	if lang == plans.LangEN {
		return text + "."
	}
	return text + "。"
}

// recordLanguage is the language of the stored recipient record v
// (appendRecord), read without decoding the rest; "" when v is not one.
func recordLanguage(v []byte) plans.Language {
	if len(v) < 3 || v[0] != recipientVersion {
		return ""
	}
	b := v[2:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return ""
	}
	b = b[k:]
	for range n {
		_, k := binary.Uvarint(b)
		if k <= 0 {
			return ""
		}
		b = b[k:]
	}
	for i := 0; i < 3; i++ { // phone, name, then the language
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return ""
		}
		if i == 2 {
			return plans.Language(b[k : k+int(l)])
		}
		b = b[k+int(l):]
	}
	return ""
}
