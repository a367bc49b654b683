package twiml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxDocument bounds the documents Parse reads; Twilio's own limit on a
// fetched document is larger, but a call-up is a few hundred bytes.
const MaxDocument = 64 << 10

// Parse reads a TwiML document: a <Response> holding Say, Pause, Gather
// (with nested Say and Pause), Redirect and Hangup. Say text is the
// document's character data with nested markup (SSML) dropped and outer
// white space trimmed; Redirect URLs are trimmed. Absent attributes are
// zero values. Any other verb, a verb nested where Twilio does not allow
// it, a bad number in an attribute or a root other than <Response> is an
// error naming the verb and attribute.
func Parse(doc []byte) (Response, error) {
	if len(doc) > MaxDocument {
		return Response{}, fmt.Errorf("twiml: document of %d bytes exceeds %d", len(doc), MaxDocument)
	}
	if !utf8.Valid(doc) {
		return Response{}, errors.New("twiml: document is not UTF-8")
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return Response{}, errors.New("twiml: empty document, want <Response>")
		}
		if err != nil {
			return Response{}, fmt.Errorf("twiml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local != "Response" {
				return Response{}, fmt.Errorf("twiml: root element <%s>, want <Response>", t.Name.Local)
			}
			verbs, err := parseVerbs(d, "Response")
			if err != nil {
				return Response{}, err
			}
			return Response{Verbs: verbs}, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return Response{}, errors.New("twiml: text before <Response>")
			}
		}
	}
}

// parseVerbs reads the children of parent up to its end tag.
func parseVerbs(d *xml.Decoder, parent string) ([]Verb, error) {
	var out []Verb
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("twiml: in <%s>: %w", parent, unexpectedEOF(err))
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return out, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("twiml: text %q directly in <%s>", strings.TrimSpace(string(t)), parent)
			}
		case xml.StartElement:
			v, err := parseVerb(d, t, parent)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
}

func parseVerb(d *xml.Decoder, t xml.StartElement, parent string) (Verb, error) {
	name := t.Name.Local
	if parent == "Gather" && name != "Say" && name != "Pause" {
		return nil, fmt.Errorf("twiml: <%s> inside <Gather>: only <Say> and <Pause> are supported there", name)
	}
	a := attrs{verb: name, list: t.Attr}
	switch name {
	case "Say":
		text, err := innerText(d, name)
		if err != nil {
			return nil, err
		}
		loop, err := a.int("loop")
		if err != nil {
			return nil, err
		}
		return Say{Text: text, Voice: a.get("voice"), Language: Language(a.get("language")), Loop: loop}, nil
	case "Pause":
		n, err := a.int("length")
		if err != nil {
			return nil, err
		}
		return Pause{Length: n}, d.Skip()
	case "Hangup":
		return Hangup{}, d.Skip()
	case "Redirect":
		u, err := innerText(d, name)
		if err != nil {
			return nil, err
		}
		if u == "" {
			return nil, errors.New("twiml: <Redirect> without a URL")
		}
		return Redirect{URL: u, Method: a.get("method")}, nil
	case "Gather":
		g := Gather{Input: a.get("input"), Action: a.get("action"), Method: a.get("method"), FinishOnKey: a.get("finishOnKey")}
		var err error
		if g.NumDigits, err = a.int("numDigits"); err != nil {
			return nil, err
		}
		if g.Timeout, err = a.int("timeout"); err != nil {
			return nil, err
		}
		if s := a.get("actionOnEmptyResult"); s != "" {
			if g.ActionOnEmptyResult, err = strconv.ParseBool(s); err != nil {
				return nil, fmt.Errorf("twiml: <Gather actionOnEmptyResult=%q>: want true or false", s)
			}
		}
		if g.Verbs, err = parseVerbs(d, name); err != nil {
			return nil, err
		}
		return g, nil
	}
	return nil, fmt.Errorf("twiml: unsupported verb <%s> in <%s>", name, parent)
}

// innerText collects the character data of the element just opened, nested
// elements' text included, up to its end tag.
func innerText(d *xml.Decoder, name string) (string, error) {
	var b strings.Builder
	depth := 1
	for depth > 0 {
		tok, err := d.Token()
		if err != nil {
			return "", fmt.Errorf("twiml: in <%s>: %w", name, unexpectedEOF(err))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			b.Write(t)
		}
	}
	return strings.TrimFunc(b.String(), unicode.IsSpace), nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// attrs reads one element's attributes by local name.
type attrs struct {
	verb string
	list []xml.Attr
}

func (a attrs) get(name string) string {
	for _, at := range a.list {
		if at.Name.Local == name {
			return strings.TrimSpace(at.Value)
		}
	}
	return ""
}

// int reads a non-negative whole number; absent is 0.
func (a attrs) int(name string) (int, error) {
	s := a.get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("twiml: <%s %s=%q>: want a whole number of 0 or more", a.verb, name, s)
	}
	return n, nil
}
