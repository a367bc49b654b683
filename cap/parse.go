package cap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/text/encoding/simplifiedchinese"

	"muster"
)

// Namespaces Parse recognises besides CAP 1.2.
const (
	namespaceCAP11  = "urn:oasis:names:tc:emergency:cap:1.1"
	namespaceCAP10  = "http://www.incident.com/cap/1.0"
	namespaceXMLSig = "http://www.w3.org/2000/09/xmldsig#"
)

// Parse reads a CAP 1.2 alert, such as one from an upstream meteorological
// service. The document must be well-formed XML in UTF-8 (or GB2312, GBK or
// GB18030 when its declaration says so) whose root is <alert> in the CAP 1.2
// namespace, with no element the schema does not define (an XML signature
// after the info blocks is allowed and ignored), each element at most as
// often as the schema allows, every required element present, enumerated
// values spelled as the schema spells them, and timestamps, sizes and
// references in their CAP form; Validate's checks apply too. Element order is
// not checked. Anything else is a muster.EInvalid error whose message names
// the first offending element and whose Details list every Problem found.
func Parse(data []byte) (*Alert, error) {
	if problems := checkDocument(data); len(problems) > 0 {
		return nil, problemsError("invalid CAP alert", problems)
	}
	var a Alert
	if err := newDecoder(data).Decode(&a); err != nil {
		// checkDocument lets through only what decodes; report it all the same.
		return nil, muster.Errorf(muster.EInvalid, "invalid CAP alert: %v", err)
	}
	a.normalize()
	if err := problemsError("invalid CAP alert", a.Validate()); err != nil {
		return nil, err
	}
	return &a, nil
}

// normalize trims the values whose schema types collapse white space.
func (a *Alert) normalize() {
	for i := range a.Infos {
		in := &a.Infos[i]
		in.Language = strings.TrimSpace(in.Language)
		in.Web = strings.TrimSpace(in.Web)
		for j := range in.Areas {
			ar := &in.Areas[j]
			ar.Altitude = strings.TrimSpace(ar.Altitude)
			ar.Ceiling = strings.TrimSpace(ar.Ceiling)
		}
	}
}

func newDecoder(data []byte) *xml.Decoder {
	d := xml.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, []byte("\uFEFF"))))
	d.CharsetReader = charsetReader
	return d
}

// charsetReader decodes the Chinese national encodings; encoding/xml handles
// UTF-8 itself.
func charsetReader(label string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "gb2312", "gbk", "gb18030", "cp936", "x-gbk":
		return simplifiedchinese.GB18030.NewDecoder().Reader(r), nil
	}
	return nil, fmt.Errorf("encoding %q: want UTF-8, GB2312, GBK or GB18030", label)
}

// element describes a child element the schema allows: how often, and its
// own children (nil for a text-only element) or a check of its text.
type element struct {
	name     string
	min, max int // max 0: unbounded
	children []element
	text     func(string) string // returns a problem, or ""
}

func (e element) leaf() bool { return e.children == nil }

func one(name string) element      { return element{name: name, min: 1, max: 1} }
func optional(name string) element { return element{name: name, max: 1} }
func many(name string) element     { return element{name: name} }

func withText(e element, check func(string) string) element {
	e.text = check
	return e
}

func withChildren(e element, children ...element) element {
	e.children = children
	return e
}

// The CAP 1.2 schema's elements, in its order.
var (
	pairElements = []element{one("valueName"), one("value")}
	alertElement = withChildren(one("alert"),
		one("identifier"), one("sender"), withText(one("sent"), timeText),
		one("status"), one("msgType"), optional("source"), one("scope"),
		optional("restriction"), optional("addresses"), many("code"), optional("note"),
		optional("references"), optional("incidents"),
		withChildren(many("info"),
			optional("language"), element{name: "category", min: 1}, one("event"),
			many("responseType"), one("urgency"), one("severity"), one("certainty"),
			optional("audience"), withChildren(many("eventCode"), pairElements...),
			withText(optional("effective"), timeText), withText(optional("onset"), timeText),
			withText(optional("expires"), timeText),
			optional("senderName"), optional("headline"), optional("description"),
			optional("instruction"), optional("web"), optional("contact"),
			withChildren(many("parameter"), pairElements...),
			withChildren(many("resource"),
				one("resourceDesc"), one("mimeType"), withText(optional("size"), integerText),
				optional("uri"), optional("derefUri"), optional("digest")),
			withChildren(many("area"),
				one("areaDesc"), many("polygon"), many("circle"),
				withChildren(many("geocode"), pairElements...),
				optional("altitude"), optional("ceiling")),
		),
	)
)

func timeText(s string) string {
	if _, err := ParseTime(strings.TrimSpace(s)); err != nil {
		return err.Error()
	}
	return ""
}

func integerText(s string) string {
	if _, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err != nil {
		return fmt.Sprintf("%q: want a whole number of bytes", clip(s))
	}
	return ""
}

// checkDocument checks what decoding into an Alert would silently accept or
// get wrong: that data is XML, that its root is a CAP 1.2 <alert>, and that
// every element is one the schema allows, as often as it allows, with the
// text its type needs.
func checkDocument(data []byte) []Problem {
	d := newDecoder(data)
	var v validator
	root, err := rootElement(d)
	if err != nil {
		v.add("", "%v", err)
		return v.problems
	}
	if err := checkChildren(d, &v, "", root, alertElement); err != nil {
		return []Problem{{Message: notXML(err)}}
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return []Problem{{Message: notXML(err)}}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			v.add("", "element <%s> after </alert>: want one alert per document", t.Name.Local)
			return v.problems
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				v.add("", "text after </alert>: want one alert per document")
				return v.problems
			}
		}
	}
	return v.problems
}

func notXML(err error) string { return "not well-formed XML: " + err.Error() }

// rootElement reads up to the root element and checks it is a CAP 1.2 alert.
func rootElement(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return xml.StartElement{}, errors.New("not XML: no root element")
		}
		if err != nil {
			return xml.StartElement{}, errors.New(notXML(err))
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return xml.StartElement{}, fmt.Errorf("not XML: text %q before any element", clip(string(bytes.TrimSpace(t))))
			}
		case xml.StartElement:
			switch {
			case t.Name.Local == "alert" && t.Name.Space == Namespace:
				return t, nil
			case t.Name.Local == "alert" && (t.Name.Space == namespaceCAP11 || t.Name.Space == namespaceCAP10):
				return t, fmt.Errorf("alert in namespace %s is an earlier CAP version: want CAP 1.2 (%s)", t.Name.Space, Namespace)
			case t.Name.Local == "alert" && t.Name.Space == "":
				return t, fmt.Errorf("<alert> has no namespace: want xmlns=%q (CAP 1.2)", Namespace)
			case t.Name.Local == "alert":
				return t, fmt.Errorf("alert in namespace %q: want %s (CAP 1.2)", clip(t.Name.Space), Namespace)
			}
			return t, fmt.Errorf("root element <%s>: want a CAP 1.2 <alert xmlns=%q>", clip(t.Name.Local), Namespace)
		}
	}
}

// checkChildren reads the content of the element start, described by e, up to
// its end tag, adding problems to v under path. It returns only XML syntax
// errors.
func checkChildren(d *xml.Decoder, v *validator, path string, start xml.StartElement, e element) error {
	counts := make([]int, len(e.children))
	textReported := false
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				err = fmt.Errorf("document ends inside <%s>", start.Name.Local)
			}
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			for i, c := range e.children {
				if counts[i] < c.min {
					v.add(join(path, c.name), "missing: CAP 1.2 requires it")
				}
			}
			return nil
		case xml.CharData:
			if !textReported && len(bytes.TrimSpace(t)) > 0 {
				v.add(path, "text %q between elements: want elements only", clip(string(bytes.TrimSpace(t))))
				textReported = true
			}
		case xml.StartElement:
			i := childIndex(e.children, t.Name.Local)
			switch {
			case t.Name.Space == namespaceXMLSig && path == "":
				// An XML signature; muster does not check it.
			case t.Name.Space != Namespace:
				v.add(join(path, t.Name.Local), "element in namespace %q: want %s", clip(t.Name.Space), Namespace)
			case i < 0:
				v.add(join(path, t.Name.Local), "unknown element: CAP 1.2 has no <%s> %s", clip(t.Name.Local), where(path))
			default:
				c := e.children[i]
				counts[i]++
				p := join(path, c.name)
				if c.max != 1 {
					p = fmt.Sprintf("%s[%d]", p, counts[i]-1)
				} else if counts[i] > 1 {
					v.add(p, "given more than once: CAP 1.2 allows one")
				}
				if c.leaf() {
					if err := checkText(d, v, p, t, c); err != nil {
						return err
					}
				} else if err := checkChildren(d, v, p, t, c); err != nil {
					return err
				}
				continue
			}
			if err := d.Skip(); err != nil {
				return err
			}
		}
	}
}

// checkText reads a text-only element up to its end tag.
func checkText(d *xml.Decoder, v *validator, path string, start xml.StartElement, e element) error {
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				err = fmt.Errorf("document ends inside <%s>", start.Name.Local)
			}
			return err
		}
		switch t := tok.(type) {
		case xml.CharData:
			text.Write(t)
		case xml.StartElement:
			v.add(path, "element <%s> inside: want text only", clip(t.Name.Local))
			if err := d.Skip(); err != nil {
				return err
			}
		case xml.EndElement:
			if e.text != nil {
				if p := e.text(text.String()); p != "" {
					v.add(path, "%s", p)
				}
			}
			return nil
		}
	}
}

func childIndex(children []element, name string) int {
	for i, c := range children {
		if c.name == name {
			return i
		}
	}
	return -1
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func where(path string) string {
	if path == "" {
		return "in <alert>"
	}
	return "in " + path
}
