package cap

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"muster"
)

// Geocode value names muster writes in an area.
const (
	GeocodeGBT2260 = "GB/T 2260" // a six-digit administrative division code
	GeocodeRegion  = "region"    // a longer muster region code: street (9), community (12) or grid (15 digits)
)

// Languages of the info blocks muster writes.
const (
	LanguageZH = "zh-CN"
	LanguageEN = "en-US"
)

// DefaultRestriction is the <restriction> of a Restricted alert whose input
// gives none.
const DefaultRestriction = "仅限应急响应人员，请勿公开转发。For emergency responders only; do not redistribute."

// Exercise marks that start the headlines of EXERCISE and TEST alerts, so a
// person reading one never takes it for a real alert, whatever the
// receiving system does with <status>.
const (
	ExerciseMarkZH = "【演练】"
	ExerciseMarkEN = "[EXERCISE] "
)

// Header is what every alert muster produces carries.
type Header struct {
	Identifier  string    // unique per sender; no spaces, commas, < or &
	Sender      string    // who sends it, e.g. a domain name such as muster.990100.example.cn; same rule
	Sent        time.Time // written in its own location; see FormatTime
	Purpose     Purpose   // LIVE, EXERCISE or TEST: becomes status Actual, Exercise or Test
	Scope       Scope     // "" for the builder's default
	Restriction string    // for a Restricted alert; "" for DefaultRestriction
	Addresses   string    // required for a Private alert
	Note        string    // optional; for a Cancel, the reason
}

// Text is an alert's content in one language.
type Text struct {
	Event       string // required: the kind of event, such as 城市内涝 or Urban flooding
	Headline    string
	Description string
	Instruction string
	SenderName  string // the issuing body as people know it, such as 示例市应急管理局
}

func (t Text) empty() bool { return t == Text{} }

// Region is one region an alert covers.
type Region struct {
	Code   string // 6 digits (GB/T 2260 city or district), 9 (street), 12 (community) or 15 (grid)
	Name   string // Chinese name, required
	NameEN string // English name; the Chinese one is used when empty
}

// Activation is an activation of an emergency plan at a response level, as
// muster calls up its cadres.
type Activation struct {
	Header
	Updates  []Reference // the alerts this one replaces, e.g. on a level change; makes it an Update
	Level    Level
	Category Category  // e.g. from the plan, or DefaultCategory of its hazard
	Regions  []Region  // at least one
	Expires  time.Time // optional; after Sent
	Forecast bool      // the event is expected rather than under way: certainty Likely instead of Observed
	ZH       Text      // required
	EN       Text      // optional: an en-US block is written when any field is set
}

// Alert builds the CAP alert for the activation. Status comes from Purpose;
// msgType is Alert, or Update when Updates is set; scope defaults to
// Restricted (a call-up of cadres); each info block has severity from Level
// (I Extreme to IV Minor), urgency Immediate (the response is in force),
// certainty Observed (Likely if Forecast), responseType Execute and one area
// covering Regions. Invalid input is a muster.EInvalid error listing every
// problem by field.
func (in Activation) Alert() (*Alert, error) {
	var v validator
	sev, err := in.Level.Severity()
	if err != nil {
		v.add("level", "%q: want I, II, III or IV", in.Level)
	}
	c := content{
		category:  in.Category,
		urgency:   UrgencyImmediate,
		severity:  sev,
		certainty: CertaintyObserved,
		responses: []ResponseType{ResponseExecute},
		expires:   in.Expires,
		regions:   in.Regions,
		zh:        in.ZH,
		en:        in.EN,
	}
	if in.Forecast {
		c.certainty = CertaintyLikely
	}
	return build(&v, "CAP activation", in.Header, ScopeRestricted, "updates", in.Updates, &c)
}

// Warning is a warning (预警) muster issues or relays.
type Warning struct {
	Header
	Updates   []Reference // the alerts this one replaces, e.g. on a colour change; makes it an Update
	Colour    Colour
	Category  Category
	Regions   []Region       // at least one
	Onset     time.Time      // optional
	Expires   time.Time      // optional; after Sent and Onset
	Observed  bool           // the event is already happening: urgency Immediate, certainty Observed
	Responses []ResponseType // recommended actions; nil for Prepare
	ZH        Text           // required
	EN        Text           // optional: an en-US block is written when any field is set
}

// Alert builds the CAP alert for the warning. Status comes from Purpose;
// msgType is Alert, or Update when Updates is set; scope defaults to Public;
// each info block has severity from Colour (red Extreme, orange Severe,
// yellow Moderate, blue Minor), urgency Expected and certainty Likely (a
// forecast) or, if Observed, Immediate and Observed, and one area covering
// Regions. Invalid input is a muster.EInvalid error listing every problem by
// field.
func (in Warning) Alert() (*Alert, error) {
	var v validator
	sev, err := in.Colour.Severity()
	if err != nil {
		v.add("colour", "%q: want red, orange, yellow or blue", in.Colour)
	}
	c := content{
		category:  in.Category,
		urgency:   UrgencyExpected,
		severity:  sev,
		certainty: CertaintyLikely,
		responses: in.Responses,
		onset:     in.Onset,
		expires:   in.Expires,
		regions:   in.Regions,
		zh:        in.ZH,
		en:        in.EN,
	}
	if in.Observed {
		c.urgency, c.certainty = UrgencyImmediate, CertaintyObserved
	}
	if c.responses == nil {
		c.responses = []ResponseType{ResponsePrepare}
	}
	for i, r := range c.responses {
		if !r.Valid() {
			v.add(fmt.Sprintf("responses[%d]", i), "%q: want %s", r, muster.OrList(responseTypes))
		}
	}
	return build(&v, "CAP warning", in.Header, ScopePublic, "updates", in.Updates, &c)
}

// Cancel retracts earlier alerts: an activation stood down, a warning
// lifted or a message sent in error.
type Cancel struct {
	Header              // Scope is required: that of the alerts cancelled; Note gives the reason
	Cancels []Reference // at least one
}

// Alert builds the CAP Cancel: status from Purpose, msgType Cancel,
// references listing Cancels and no info block. Invalid input is a
// muster.EInvalid error listing every problem by field.
func (in Cancel) Alert() (*Alert, error) {
	var v validator
	if in.Scope == "" {
		v.add("scope", "missing: give the scope of the alerts cancelled")
	}
	if len(in.Cancels) == 0 {
		v.add("cancels", "missing: list the alerts to cancel")
	}
	return build(&v, "CAP cancel", in.Header, "", "cancels", in.Cancels, nil)
}

// content is what an activation or a warning puts in its info blocks.
type content struct {
	category       Category
	urgency        Urgency
	severity       Severity
	certainty      Certainty
	responses      []ResponseType
	onset, expires time.Time
	regions        []Region
	zh, en         Text
}

// build checks the header, references and content, adding to v, and returns
// the alert, or v's problems as an error named what. msgType is Cancel
// without content, Update with refs and Alert otherwise.
func build(v *validator, what string, h Header, defaultScope Scope, refsField string, refs []Reference, c *content) (*Alert, error) {
	a := &Alert{
		Identifier:  h.Identifier,
		Sender:      h.Sender,
		Sent:        Time{h.Sent.Truncate(time.Second)},
		Scope:       cmp.Or(h.Scope, defaultScope),
		Restriction: h.Restriction,
		Addresses:   h.Addresses,
		Note:        h.Note,
		MsgType:     MsgTypeAlert,
	}
	v.identifier("identifier", h.Identifier)
	v.identifier("sender", h.Sender)
	if p := TimeProblem(h.Sent); p != "" {
		v.add("sent", "%s", p)
	}
	status, err := h.Purpose.Status()
	if err != nil {
		v.add("purpose", "%q: want LIVE, EXERCISE or TEST", h.Purpose)
	}
	a.Status = status
	if a.Scope != "" && !a.Scope.Valid() {
		v.add("scope", "%q: want %s", a.Scope, muster.OrList(scopes))
	}
	if a.Scope == ScopeRestricted && strings.TrimSpace(a.Restriction) == "" {
		a.Restriction = DefaultRestriction
	}
	if a.Scope == ScopePrivate && strings.TrimSpace(a.Addresses) == "" {
		v.add("addresses", "missing: a Private alert names its recipients")
	}
	for i, r := range refs {
		p := fmt.Sprintf("%s[%d]", refsField, i)
		v.identifier(p+".sender", r.Sender)
		v.identifier(p+".identifier", r.Identifier)
		if t := TimeProblem(r.Sent); t != "" {
			v.add(p+".sent", "%s", t)
		}
		if r.Sender == h.Sender && r.Identifier == h.Identifier {
			v.add(p, "refers to this alert itself: give the earlier alert's identifier")
		}
	}
	a.References = formatReferences(refs)
	if c == nil {
		a.MsgType = MsgTypeCancel
	} else {
		if len(refs) > 0 {
			a.MsgType = MsgTypeUpdate
		}
		a.Infos = c.infos(v, h)
	}
	if err := problemsError(what, v.problems); err != nil {
		return nil, err
	}
	// The inputs were checked above; this catches a builder bug.
	if err := problemsError(what+": built an invalid alert", a.Validate()); err != nil {
		return nil, err
	}
	return a, nil
}

// infos checks the content and returns the zh-CN block and, when English
// text is given, the en-US block.
func (c *content) infos(v *validator, h Header) []Info {
	switch {
	case c.category == "":
		v.add("category", "missing: want one of %s (DefaultCategory maps a hazard to one)", muster.OrList(categories))
	case !c.category.Valid():
		v.add("category", "%q: want one of %s", c.category, muster.OrList(categories))
	}
	var onset, expires time.Time
	if !c.onset.IsZero() {
		onset = c.onset.Truncate(time.Second)
		if p := TimeProblem(onset); p != "" {
			v.add("onset", "%s", p)
		}
	}
	if !c.expires.IsZero() {
		expires = c.expires.Truncate(time.Second)
		if p := TimeProblem(expires); p != "" {
			v.add("expires", "%s", p)
		} else if !expires.After(h.Sent) {
			v.add("expires", "%s is not after sent %s", FormatTime(expires), FormatTime(h.Sent))
		} else if !onset.IsZero() && !expires.After(onset) {
			v.add("expires", "%s is not after onset %s", FormatTime(expires), FormatTime(onset))
		}
	}
	geocodes, zhNames, enNames := c.area(v)
	drill := h.Purpose != PurposeLive
	v.text("zh", c.zh, drill)
	infos := []Info{c.info(LanguageZH, c.zh, zhNames, geocodes, onset, expires, drill)}
	if !c.en.empty() {
		v.text("en", c.en, drill)
		infos = append(infos, c.info(LanguageEN, c.en, enNames, geocodes, onset, expires, drill))
	}
	return infos
}

// text checks one language's text. A LIVE alert never carries an exercise
// mark: people would take the real thing for a drill.
func (v *validator) text(path string, t Text, drill bool) {
	v.required(path+".event", t.Event)
	if drill {
		return
	}
	for _, f := range []struct{ name, value string }{{"event", t.Event}, {"headline", t.Headline}} {
		if strings.Contains(f.value, ExerciseMarkZH) || strings.Contains(f.value, strings.TrimSpace(ExerciseMarkEN)) {
			v.add(path+"."+f.name, "contains an exercise mark: a LIVE alert must not look like a drill")
		}
	}
}

// area checks the regions and returns their geocodes and the areaDesc of
// each language.
func (c *content) area(v *validator) (geocodes []NamedValue, zh, en string) {
	if len(c.regions) == 0 {
		v.add("regions", "missing: give at least one region the alert covers")
	}
	var zhNames, enNames []string
	seen := map[string]bool{}
	for i, r := range c.regions {
		p := fmt.Sprintf("regions[%d]", i)
		name := GeocodeRegion
		switch {
		case !allDigits(r.Code) || !slices.Contains([]int{6, 9, 12, 15}, len(r.Code)):
			v.add(p+".code", "%q: want 6 (city, district), 9 (street), 12 (community) or 15 (grid) digits", clip(r.Code))
		case seen[r.Code]:
			v.add(p+".code", "%s is given more than once", r.Code)
		case len(r.Code) == 6:
			name = GeocodeGBT2260
		}
		seen[r.Code] = true
		v.required(p+".name", r.Name)
		geocodes = append(geocodes, NamedValue{ValueName: name, Value: r.Code})
		zhNames = append(zhNames, r.Name)
		enNames = append(enNames, cmp.Or(r.NameEN, r.Name))
	}
	return geocodes, strings.Join(zhNames, "、"), strings.Join(enNames, ", ")
}

// info is one block; a drill's headline starts with the exercise mark.
func (c *content) info(lang string, t Text, areaDesc string, geocodes []NamedValue, onset, expires time.Time, drill bool) Info {
	headline := t.Headline
	if drill {
		mark := ExerciseMarkZH
		if lang == LanguageEN {
			mark = ExerciseMarkEN
		}
		if !strings.HasPrefix(headline, mark) {
			headline = mark + cmp.Or(headline, t.Event)
		}
	}
	return Info{
		Language:      lang,
		Categories:    []Category{c.category},
		Event:         t.Event,
		ResponseTypes: slices.Clone(c.responses),
		Urgency:       c.urgency,
		Severity:      c.severity,
		Certainty:     c.certainty,
		Onset:         Time{onset},
		Expires:       Time{expires},
		SenderName:    t.SenderName,
		Headline:      headline,
		Description:   t.Description,
		Instruction:   t.Instruction,
		Areas:         []Area{{Desc: areaDesc, Geocodes: slices.Clone(geocodes)}},
	}
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
