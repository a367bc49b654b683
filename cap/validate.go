package cap

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"muster"
)

// Problem is one thing wrong with an alert or a builder's input. Element is
// the path of the offending element or field, such as info[0].severity.
type Problem struct {
	Element string `json:"element,omitempty"`
	Message string `json:"message"`
}

// String formats the problem as element: message.
func (p Problem) String() string {
	if p.Element == "" {
		return p.Message
	}
	return p.Element + ": " + p.Message
}

// problemsError wraps problems in a *muster.Error with code EInvalid, a
// message naming the first problem and how many more there are, and Details
// holding all of them. It returns nil for no problems.
func problemsError(what string, problems []Problem) error {
	if len(problems) == 0 {
		return nil
	}
	msg := what + ": " + problems[0].String()
	if n := len(problems) - 1; n == 1 {
		msg += " (and 1 more problem)"
	} else if n > 1 {
		msg += fmt.Sprintf(" (and %d more problems)", n)
	}
	return &muster.Error{Code: muster.EInvalid, Message: msg, Details: problems}
}

// maxProblems bounds how many problems one document reports.
const maxProblems = 50

// validator collects problems.
type validator struct{ problems []Problem }

func (v *validator) add(element, format string, args ...any) {
	if len(v.problems) < maxProblems {
		v.problems = append(v.problems, Problem{Element: element, Message: fmt.Sprintf(format, args...)})
	}
}

// required reports an empty or blank text value.
func (v *validator) required(element, s string) {
	if strings.TrimSpace(s) == "" {
		v.add(element, "missing or empty")
	}
}

// identifier checks an <identifier> or <sender>.
func (v *validator) identifier(element, s string) {
	switch p := IdentifierProblem(s); {
	case s == "":
		v.add(element, "missing or empty")
	case p != "":
		v.add(element, "%s: CAP wants it without spaces, commas, < or &", p)
	}
}

// time checks a timestamp; required ones must not be zero.
func (v *validator) time(element string, t Time, required bool) {
	if t.IsZero() && !required {
		return
	}
	if p := TimeProblem(t.Time); p != "" {
		v.add(element, "%s", p)
	}
}

// enum checks a value against its type's allowed values.
func enum[T ~string](v *validator, element string, value T, valid bool, allowed []T) {
	switch {
	case value == "":
		v.add(element, "missing: want %s", muster.OrList(allowed))
	case !valid:
		v.add(element, "%q: want %s", clip(string(value)), muster.OrList(allowed))
	}
}

// languagePattern is xs:language.
var languagePattern = regexp.MustCompile(`^[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*$`)

// decimalPattern is xs:decimal.
var decimalPattern = regexp.MustCompile(`^[+-]?(\d+(\.\d*)?|\.\d+)$`)

// Validate reports everything wrong with the alert, in document order, or
// nil when Marshal may write it. Beyond the CAP 1.2 schema's required
// elements and enumerations it checks the standard's rules that muster relies
// on: identifier and sender without spaces, commas, < or &; well-formed
// references; timestamps CAP can express; addresses for Private scope; web
// a URL (net/url's rule, close to xs:anyURI); and non-empty event, areaDesc,
// valueName, resourceDesc and mimeType.
func (a *Alert) Validate() []Problem {
	var v validator
	v.identifier("identifier", a.Identifier)
	v.identifier("sender", a.Sender)
	v.time("sent", a.Sent, true)
	enum(&v, "status", a.Status, a.Status.Valid(), statuses)
	enum(&v, "msgType", a.MsgType, a.MsgType.Valid(), msgTypes)
	enum(&v, "scope", a.Scope, a.Scope.Valid(), scopes)
	if a.Scope == ScopePrivate && strings.TrimSpace(a.Addresses) == "" {
		v.add("addresses", "missing: CAP requires addresses when scope is Private")
	}
	if _, err := ParseReferences(a.References); err != nil {
		v.add("references", "%v", err)
	}
	for i := range a.Infos {
		v.info(fmt.Sprintf("info[%d]", i), &a.Infos[i])
	}
	return v.problems
}

func (v *validator) info(path string, in *Info) {
	if in.Language != "" && !languagePattern.MatchString(in.Language) {
		v.add(path+".language", "%q: want a language tag such as zh-CN or en-US", clip(in.Language))
	}
	if len(in.Categories) == 0 {
		v.add(path+".category", "missing: want at least one of %s", muster.OrList(categories))
	}
	for i, c := range in.Categories {
		enum(v, fmt.Sprintf("%s.category[%d]", path, i), c, c.Valid(), categories)
	}
	v.required(path+".event", in.Event)
	for i, r := range in.ResponseTypes {
		enum(v, fmt.Sprintf("%s.responseType[%d]", path, i), r, r.Valid(), responseTypes)
	}
	enum(v, path+".urgency", in.Urgency, in.Urgency.Valid(), urgencies)
	enum(v, path+".severity", in.Severity, in.Severity.Valid(), severities)
	enum(v, path+".certainty", in.Certainty, in.Certainty.Valid(), certainties)
	v.namedValues(path+".eventCode", in.EventCodes)
	v.time(path+".effective", in.Effective, false)
	v.time(path+".onset", in.Onset, false)
	v.time(path+".expires", in.Expires, false)
	if in.Web != "" {
		if _, err := url.Parse(in.Web); err != nil {
			v.add(path+".web", "%q: want a URL", clip(in.Web))
		}
	}
	v.namedValues(path+".parameter", in.Parameters)
	for i, r := range in.Resources {
		p := fmt.Sprintf("%s.resource[%d]", path, i)
		v.required(p+".resourceDesc", r.Desc)
		v.required(p+".mimeType", r.MimeType)
	}
	for i, ar := range in.Areas {
		p := fmt.Sprintf("%s.area[%d]", path, i)
		v.required(p+".areaDesc", ar.Desc)
		v.namedValues(p+".geocode", ar.Geocodes)
		for _, d := range []struct{ name, value string }{{"altitude", ar.Altitude}, {"ceiling", ar.Ceiling}} {
			if d.value != "" && !decimalPattern.MatchString(d.value) {
				v.add(p+"."+d.name, "%q: want a decimal number of feet", clip(d.value))
			}
		}
	}
}

func (v *validator) namedValues(path string, nvs []NamedValue) {
	for i, nv := range nvs {
		v.required(fmt.Sprintf("%s[%d].valueName", path, i), nv.ValueName)
	}
}
