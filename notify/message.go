package notify

import (
	"fmt"
	"strings"
	"sync"

	"muster/plans"
)

// MessageData fills a plan's templates for one recipient of a. link is the
// recipient's answer link ({{.Link}}; see AnswerKey.Link), "" for none. An
// English speaker reads the plan's English title, the level's English name,
// and the regions' and roles' English names where a has them (Chinese
// otherwise).
func MessageData(a Activation, r Recipient, link string) plans.MessageData {
	lang := r.Language
	d := plans.MessageData{
		Sender:    a.Sender,
		Plan:      a.PlanTitle,
		Level:     a.Level.Numeral(lang),
		LevelName: a.LevelName,
		Region:    regionsSaid(a.RegionNames, "、", len(a.Regions), namedRegions, 3),
		Name:      r.Name,
		Reason:    a.Reason,
		Link:      link,
		Exercise:  a.Purpose.Drill(),
	}
	sep := "、"
	if lang == plans.LangEN {
		sep = ", "
		if a.PlanTitleEN != "" {
			d.Plan = a.PlanTitleEN
		}
		d.LevelName = a.Level.EnglishName()
		if a.RegionNamesEN != "" {
			d.Region = regionsSaid(a.RegionNamesEN, ", ", len(a.Regions), namedRegions, 3)
		}
	}
	var names []string
	for _, i := range r.Roles {
		if i >= 0 && i < len(a.Roles) {
			name := a.Roles[i].Name
			if lang == plans.LangEN && a.Roles[i].NameEN != "" {
				name = a.Roles[i].NameEN
			}
			names = append(names, name)
		}
	}
	d.Roles = strings.Join(names, sep)
	return d
}

// namedRegions is how many regions a call-up's messages name in full
// ({{.Region}}). One over more names the first three and how many there
// are (东湖区、江北区、滨江区等202个区域; "…, and 199 more"): every name of a
// call-up over a district's grids took its SMS past the provider's 1,600
// characters, and none of them went.
const namedRegions = 5

// regionsSaid is names, the names of regions (that many; 0: as many as
// the pieces) joined by sep, as a message says them: whole when they are
// at most whole, else the first first and how many there are (等N个区域,
// "and N more" after English ones). Names are split only when the pieces
// are as many as the regions (an English name may hold a comma), else
// said whole.
//
// It runs for every message a call-up renders: the names are counted, not
// split, and only the first are cut out when there are more.
func regionsSaid(names, sep string, regions, whole, first int) string {
	n := strings.Count(names, sep) + 1
	if names == "" || n <= whole || (regions > 0 && n != regions) {
		return names
	}
	lead := strings.Join(strings.SplitN(names, sep, first+1)[:first], sep)
	if sep == "、" {
		return fmt.Sprintf("%s等%d个区域", lead, n)
	}
	return fmt.Sprintf("%s and %d more", lead, n-first)
}

// RenderSMS renders the SMS for recipient r of activation a with the level's
// template in r's language. An EXERCISE or TEST message always starts with
// plans.ExerciseMark; a LIVE one never gets it, and starts with
// plans.NotADrillMark when the call-up stood down drills where it started.
func RenderSMS(a Activation, l *plans.Level, r Recipient, link string) (string, error) {
	t, err := plans.CompileMessage(l.SMSTemplate(r.Language))
	if err != nil {
		return "", err
	}
	return renderSMS(a, l, t, r, link)
}

func renderSMS(a Activation, l *plans.Level, t *plans.MessageTemplate, r Recipient, link string) (string, error) {
	var text string
	switch {
	case a.Retracts != "" && (a.EndsDrill || a.EndsCallUp) && r.Language == plans.LangEN:
		// The end of a call-up names it as its English SMS did.
		text = endSMS(a, r.Language, shortNameEN(a, l))
	case a.Retracts != "": // a correction: what it withdraws, the retraction's own words
		text = correctionSMS(a, r.Language)
	default:
		var err error
		if text, err = renderCallUp(a, l, t, r, link, l.AckDeadline); err != nil {
			return "", err
		}
	}
	return markPurpose(a, r.Language, text), nil
}

// renderCallUp is the call-up SMS text of recipient r of a, t the level's
// template in r's language, before its purpose mark, saying left as the
// time to answer in ({{.AckDeadline}}).
func renderCallUp(a Activation, l *plans.Level, t *plans.MessageTemplate, r Recipient, link string, left plans.Duration) (string, error) {
	// The names are in the language the template is written in: an
	// English speaker whose level has no English SMS gets the Chinese
	// one, with the Chinese names in it, not English ones among
	// Chinese words (the drill mark is still theirs).
	written := r
	if r.Language == plans.LangEN && l.SMSEN == "" {
		written.Language = plans.LangZH
	}
	d := MessageData(a, written, link)
	d.AckDeadline = plans.DeadlineText(left, written.Language)
	text, err := t.Render(d)
	if err != nil || r.BackupFor == nil {
		return text, err
	}
	return standingIn(a, r, written.Language, d.Roles, text), nil
}

// standingIn is text, the call-up SMS of r, a backup standing in for
// someone (r.BackupFor), saying after the plan's sender (in front, when
// the template does not start with it) whom they stand in for, where and
// as what (standInSentence in lang, the language text is written in). When
// that would take the SMS, marked as it will be, past plans.MaxSMSSegments
// it leaves the grid out, and when even that would, text is as it was.
func standingIn(a Activation, r Recipient, lang plans.Language, roles, text string) string {
	if s, ok := withLead(a, r.Language, text, standInSentence(r.BackupFor, roles, lang, false), standInSentence(r.BackupFor, roles, lang, true)); ok {
		return s
	}
	return text
}

// withLead is text, an SMS of a to a reader of lang before its purpose
// mark, with the first of leads said after the plan's sender (in front,
// when text does not start with it) that keeps it, marked, within
// plans.MaxSMSSegments; ok is false when none does.
func withLead(a Activation, lang plans.Language, text string, leads ...string) (string, bool) {
	head, body := "", text
	if a.Sender != "" && strings.HasPrefix(text, a.Sender) {
		head, body = a.Sender, text[len(a.Sender):]
	}
	for _, lead := range leads {
		s := head + lead + body
		if _, _, segs := plans.SMSSegments(markPurpose(a, lang, s)); segs <= plans.MaxSMSSegments {
			return s, true
		}
	}
	return "", false
}

// markPurpose starts a drill's text with plans.ExerciseMark (and, for an
// English speaker, who may not read it, [EXERCISE] after it, as in the
// English CAP), and the text of a LIVE call-up that stood down drills
// (a.StoppedDrills) or took its people off drills running elsewhere
// (a.SparedFrom) with plans.NotADrillMark: the same people may just have
// had the drill's.
func markPurpose(a Activation, lang plans.Language, text string) string {
	switch {
	case a.Purpose.Drill() && lang == plans.LangEN:
		return plans.ExerciseMark + plans.ExerciseMarkEN + text
	case a.Purpose.Drill():
		return plans.ExerciseMark + text
	case len(a.StoppedDrills)+len(a.SparedFrom) > 0 && a.Retracts == "":
		return plans.NotADrillMark(lang) + text
	}
	return text
}

// smsRenderer renders the SMS of one activation for many recipients,
// compiling each language's template once. It is safe for concurrent use.
type smsRenderer struct {
	a     Activation
	l     *plans.Level
	mu    sync.Mutex
	cache map[plans.Language]*plans.MessageTemplate
	// standing, when set, reads at the time of the send what a person's
	// SMS says beyond the template (standingReader): on a correction's,
	// the call-ups in force that also call them (the text says they
	// stand); on a call-up's, whom they stand in for as a backup.
	standing func(plans.PersonID) sendNotes
}

// sendNotes is what one person's SMS says beyond the level's template, as
// the state has it when it is sent.
type sendNotes struct {
	standing  []Activation // a correction's: the call-ups that stand
	answer    State        // the end of a LIVE call-up's: the person's state in it (endedAnswer)
	backupFor *StandIn     // a call-up's: whom the person stands in for
}

func newSMSRenderer(a Activation, l *plans.Level) *smsRenderer {
	return &smsRenderer{a: a, l: l, cache: map[plans.Language]*plans.MessageTemplate{}}
}

// render is RenderSMS with the compiled template reused.
func (s *smsRenderer) render(r Recipient, link string) (string, error) {
	s.mu.Lock()
	t, ok := s.cache[r.Language]
	if !ok {
		var err error
		if t, err = plans.CompileMessage(s.l.SMSTemplate(r.Language)); err != nil {
			s.mu.Unlock()
			return "", err
		}
		s.cache[r.Language] = t
	}
	s.mu.Unlock()
	a := s.a
	if s.standing != nil {
		n := s.standing(r.Person)
		a.standing = n.standing
		a.answer = n.answer
		if r.BackupFor == nil {
			r.BackupFor = n.backupFor
		}
	}
	return renderSMS(a, s.l, t, r, link)
}
