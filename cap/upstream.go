package cap

import (
	"cmp"
	"strings"
	"time"

	"muster"
)

// Upstream is what muster takes from an upstream alert to raise, change or
// lift a warning: the alert's identity and kind, and one info block's
// content.
type Upstream struct {
	Identifier string
	Sender     string
	Sent       time.Time
	Status     Status
	MsgType    MsgType
	References []Reference // the alerts an Update or Cancel replaces

	// From the chosen info block; empty for an alert without one.
	Language    string // en-US when the block gives none, as CAP says
	Event       string
	Headline    string
	Description string
	Severity    Severity
	Urgency     Urgency
	Certainty   Certainty
	Expires     time.Time // zero when not given
	Areas       []UpstreamArea
}

// UpstreamArea is an area of an upstream alert: its description and the
// geocodes that locate it (GB/T 2260 codes from Chinese senders).
type UpstreamArea struct {
	Desc     string
	Geocodes []NamedValue
}

// Upstream extracts what a warning needs from a parsed alert, reading the
// info block in language lang ("" for zh-CN): the one whose language equals
// lang ignoring case, else the first whose primary language matches (zh for
// zh-CN), else the first block. An Alert or Update without any info block,
// and an Update or Cancel without references, is a muster.EInvalid error:
// muster could not tell what to warn of or what to change. Status is
// returned as sent; whether a Test, Exercise, System or Draft alert is acted
// on is the caller's decision.
func (a *Alert) Upstream(lang string) (Upstream, error) {
	refs, err := ParseReferences(a.References)
	if err != nil {
		return Upstream{}, muster.Errorf(muster.EInvalid, "CAP alert %s: references: %v", a.Identifier, err)
	}
	u := Upstream{
		Identifier: a.Identifier,
		Sender:     a.Sender,
		Sent:       a.Sent.Time,
		Status:     a.Status,
		MsgType:    a.MsgType,
		References: refs,
	}
	if (a.MsgType == MsgTypeUpdate || a.MsgType == MsgTypeCancel) && len(refs) == 0 {
		return Upstream{}, muster.Errorf(muster.EInvalid, "CAP alert %s: msgType %s without references: want the sender,identifier,sent of the alerts it replaces", a.Identifier, a.MsgType)
	}
	in := a.info(cmp.Or(lang, LanguageZH))
	if in == nil {
		if a.MsgType == MsgTypeAlert || a.MsgType == MsgTypeUpdate {
			return Upstream{}, muster.Errorf(muster.EInvalid, "CAP alert %s: msgType %s without an info block: nothing to warn of", a.Identifier, a.MsgType)
		}
		return u, nil
	}
	u.Language = cmp.Or(in.Language, LanguageEN)
	u.Event = in.Event
	u.Headline = in.Headline
	u.Description = in.Description
	u.Severity = in.Severity
	u.Urgency = in.Urgency
	u.Certainty = in.Certainty
	u.Expires = in.Expires.Time
	for _, ar := range in.Areas {
		u.Areas = append(u.Areas, UpstreamArea{Desc: ar.Desc, Geocodes: append([]NamedValue(nil), ar.Geocodes...)})
	}
	return u, nil
}

// TextIn is the text of the alert's info block in language lang: the one
// whose language equals lang ignoring case, else the first whose primary
// language matches (en for en-US); ok is false when no block is in that
// language (unlike Upstream, no block of another language stands in). A
// warning imported from the alert keeps its en-US block's text so.
func (a *Alert) TextIn(lang string) (t Text, ok bool) {
	in := a.info(lang)
	if in == nil || primaryLanguage(cmp.Or(in.Language, LanguageEN)) != primaryLanguage(lang) {
		return Text{}, false
	}
	return Text{Event: in.Event, Headline: in.Headline, Description: in.Description, Instruction: in.Instruction, SenderName: in.SenderName}, true
}

// primaryLanguage is a language tag's primary language, lower-cased: zh
// for zh-CN.
func primaryLanguage(tag string) string { p, _, _ := strings.Cut(tag, "-"); return strings.ToLower(p) }

// info picks the block for lang, or nil when there is none.
func (a *Alert) info(lang string) *Info {
	if len(a.Infos) == 0 {
		return nil
	}
	language := func(in *Info) string { return cmp.Or(in.Language, LanguageEN) }
	for i := range a.Infos {
		if strings.EqualFold(language(&a.Infos[i]), lang) {
			return &a.Infos[i]
		}
	}
	for i := range a.Infos {
		if primaryLanguage(language(&a.Infos[i])) == primaryLanguage(lang) {
			return &a.Infos[i]
		}
	}
	return &a.Infos[0]
}
