package notify

import (
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

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
func shortRegions(names string) string {
	parts := strings.Split(names, "、")
	if len(parts) <= 2 || names == "" {
		return names
	}
	return fmt.Sprintf("%s等%d个区域", strings.Join(parts[:2], "、"), len(parts))
}

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
	parts := strings.Split(a.RegionNamesEN, ", ")
	if len(parts) <= 2 || len(parts) != len(a.Regions) {
		return a.RegionNamesEN
	}
	return fmt.Sprintf("%s and %d more", strings.Join(parts[:2], ", "), len(parts)-2)
}

// correctionSMS is a correction's text before its purpose mark: the
// sender, the lead naming the call-up it withdraws, and the official's
// words; the lead is in the language the words are written in (Chinese
// words get a Chinese lead, whoever reads them).
func correctionSMS(a Activation, lang plans.Language) string {
	return a.Sender + correctionLead(a, writtenIn(a.Message, lang)) + a.Message
}
