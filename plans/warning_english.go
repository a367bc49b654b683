package plans

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"muster"
)

// rulesWarningEnglish is the behaviour (muster.Rules) from which a warning
// keeps its texts in English (EventEN, HeadlineEN, DescriptionEN: given
// with it, or an upstream alert's en-US block's) and its regions' English
// names as issued (AreaNamesEN), for its CAP alert's en-US block. Before
// it an older muster, which has no such fields, may be applying the same
// command: the warning is stored without them.
const rulesWarningEnglish = 13

// WarningTextEN is what English readers are told of a warning: the en-US
// info block of its CAP alert.
type WarningTextEN struct {
	Event, Headline, Description string
}

// TextEN is what English readers are told of w, ok false when nothing: its
// own English event, or else the English name of the meteorological
// warning signal its event names (暴雨: Rainstorm, see WarningSignalEN);
// its English headline, or else one naming its colour, event and regions
// by their English names (the Chinese where a region has none, as an
// activation's English text does): "Red rainstorm warning for Donghu
// District"; its English description, or else, when it has a Chinese one,
// a line saying the details are in Chinese (they are not machine
// translated). A warning with no English event whose event names no
// signal has no English text, nor has one issued before
// rulesWarningEnglish (AreaNamesEN nil): its CAP alert, served before
// without an en-US block, keeps what it said under the same identifier.
func (w *Warning) TextEN() (WarningTextEN, bool) {
	if w.AreaNamesEN == nil {
		return WarningTextEN{}, false
	}
	t := WarningTextEN{Event: w.EventEN, Headline: w.HeadlineEN, Description: w.DescriptionEN}
	signal := ""
	if t.Event == "" {
		signal = WarningSignalEN(w.Event)
		t.Event = signal
	}
	if t.Event == "" {
		return WarningTextEN{}, false
	}
	if t.Headline == "" {
		names := w.RegionNamesEN()
		if signal != "" {
			t.Headline = fmt.Sprintf("%s %s warning for %s", w.Level.EnglishName(), strings.ToLower(signal), names)
		} else {
			t.Headline = fmt.Sprintf("%s warning for %s: %s", w.Level.EnglishName(), names, t.Event)
		}
	}
	if t.Description == "" && w.Description != "" {
		t.Description = "The details are given in Chinese, in the zh-CN block of this alert."
	}
	return t, true
}

// RegionNamesEN joins the English names of w's regions as issued with
// ", ", a region without one giving its Chinese name.
func (w *Warning) RegionNamesEN() string {
	names := make([]string, len(w.Areas))
	for i, a := range w.Areas {
		names[i] = a.Name
		if i < len(w.AreaNamesEN) && len(w.AreaNamesEN) == len(w.Areas) {
			names[i] = cmp.Or(w.AreaNamesEN[i], a.Name)
		}
	}
	return strings.Join(names, ", ")
}

// EnglishName is the level's colour in English: Red, Orange, Yellow or
// Blue ("" for an unknown level).
func (l WarningLevel) EnglishName() string {
	return [...]string{"", "Red", "Orange", "Yellow", "Blue"}[l.Rank()]
}

// warningSignalsEN are China's meteorological warning signals (气象灾害预警
// 信号) by the word an event names them with, and their official English
// names. No word contains another.
var warningSignalsEN = []struct{ zh, en string }{
	{"台风", "Typhoon"}, {"暴雨", "Rainstorm"}, {"暴雪", "Snowstorm"}, {"寒潮", "Cold Wave"}, {"大风", "Gale"},
	{"沙尘暴", "Sandstorm"}, {"高温", "Heat Wave"}, {"干旱", "Drought"}, {"雷电", "Lightning"}, {"冰雹", "Hail"},
	{"霜冻", "Frost"}, {"大雾", "Heavy Fog"}, {"霾", "Haze"}, {"道路结冰", "Road Icing"},
}

// WarningSignalEN is the official English name of the meteorological
// warning signal a warning's event names (暴雨红色预警: Rainstorm), those of
// several joined with " and " in the order the event names them (雷电大风:
// Lightning and Gale), or "" when it names none.
func WarningSignalEN(event string) string {
	type found struct {
		at int
		en string
	}
	var all []found
	for _, s := range warningSignalsEN {
		if i := strings.Index(event, s.zh); i >= 0 {
			all = append(all, found{i, s.en})
		}
	}
	slices.SortFunc(all, func(a, b found) int { return a.at - b.at })
	names := make([]string, len(all))
	for i, f := range all {
		names[i] = f.en
	}
	return strings.Join(names, " and ")
}

// checkEnglish checks p's English texts as check does the Chinese ones:
// plain text within the same lengths.
func (p *warningIssue) checkEnglish() error {
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"event_en", p.EventEN, MaxWarningEvent},
		{"headline_en", p.HeadlineEN, MaxWarningHeadline},
		{"description_en", p.DescriptionEN, MaxWarningDescription},
	} {
		if n := utf8.RuneCountInString(f.value); n > f.max {
			return muster.Errorf(muster.EInvalid, "%s: %d characters, at most %d", f.name, n, f.max)
		}
	}
	return nil
}

// checkEnglishInput checks the English texts of a warning as a client
// sends them: each on one line but the description, and a headline or
// description only with an event for the English block to name, given or
// the signal the Chinese event names.
func (in *WarningInput) checkEnglishInput() error {
	for _, f := range []struct {
		field, text string
		lines       bool
	}{{"event_en", in.EventEN, false}, {"headline_en", in.HeadlineEN, false}, {"description_en", in.DescriptionEN, true}} {
		if err := muster.CheckPlainText(f.field, f.text, f.lines); err != nil {
			return err
		}
	}
	if strings.TrimSpace(in.EventEN) == "" && WarningSignalEN(in.Event) == "" &&
		(strings.TrimSpace(in.HeadlineEN) != "" || strings.TrimSpace(in.DescriptionEN) != "") {
		return muster.Errorf(muster.EInvalid, "event_en: required with headline_en or description_en when the event (%q) names no meteorological warning signal (暴雨, 台风 …): give the event in English, e.g. Urban flooding", in.Event)
	}
	return nil
}

// setEnglish keeps p's English texts and the regions' English names
// (areas, in w.Areas' order) in w, under rulesWarningEnglish; before it
// w is stored without them.
func (w *Warning) setEnglish(c *muster.Command, p *warningIssue, areaNamesEN []string) error {
	if !c.RulesAtLeast(rulesWarningEnglish) {
		return nil
	}
	if err := p.checkEnglish(); err != nil {
		return err
	}
	w.EventEN, w.HeadlineEN = strings.TrimSpace(p.EventEN), strings.TrimSpace(p.HeadlineEN)
	w.DescriptionEN = strings.TrimSpace(p.DescriptionEN)
	// Set whether or not a region has an English name: it marks the
	// warning as issued under rulesWarningEnglish (TextEN).
	w.AreaNamesEN = make([]string, len(w.Areas))
	copy(w.AreaNamesEN, areaNamesEN)
	return nil
}
