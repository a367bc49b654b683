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
// English: Correction to the call-up "Flood plan" level IV of Mar 5 11:07:
func correctionLead(a Activation, lang plans.Language) string {
	at := ""
	if !a.retractedAt.IsZero() {
		t := a.retractedAt.In(correctionZone())
		if lang == plans.LangEN {
			at = t.Format("Jan 2 15:04")
		} else {
			at = t.Format("1月2日15:04")
		}
	}
	if lang == plans.LangEN {
		title := a.PlanTitle
		if a.PlanTitleEN != "" {
			title = a.PlanTitleEN
		}
		s := fmt.Sprintf("Correction to the call-up %q level %s", title, a.Level.Numeral(plans.LangEN))
		if at != "" {
			s += " of " + at
		}
		return s + ": "
	}
	what := a.PlanTitle + a.Level.Numeral(plans.LangZH) + "级响应"
	if r := shortRegions(a.RegionNames); r != "" {
		what += "（" + r + "）"
	}
	return "【更正】关于" + at + "「" + what + "」的通知："
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

// correctionSMS is a correction's text before its purpose mark: the
// sender, the lead naming the call-up it withdraws, and the official's
// words; the lead is in the language the words are written in (Chinese
// words get a Chinese lead, whoever reads them).
func correctionSMS(a Activation, lang plans.Language) string {
	return a.Sender + correctionLead(a, writtenIn(a.Message, lang)) + a.Message
}
