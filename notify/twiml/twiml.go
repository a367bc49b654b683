// Package twiml speaks the part of Twilio's voice markup a call-up needs:
// it renders the documents muster answers a call with (the call-up read
// twice inside a one-key Gather, and the answers to each key) and parses
// TwiML for the Twilio simulator, which plays a call the way a phone would.
//
// Only the verbs a call-up uses are known: Say, Pause, Gather (holding Say
// and Pause), Redirect and Hangup. Rendering is deterministic (fixed
// attribute order, escaped text), so documents can be compared as strings.
package twiml

import (
	"bytes"
	"encoding/xml"
	"strconv"
)

// Header starts every rendered document.
const Header = `<?xml version="1.0" encoding="UTF-8"?>`

// ContentType is what a webhook answering with TwiML sends.
const ContentType = "text/xml; charset=utf-8"

// Language is a Say or Gather language tag, e.g. zh-CN.
type Language string

// Languages call-ups are read in.
const (
	ZhCN Language = "zh-CN"
	EnUS Language = "en-US"
)

// Verb is one instruction of a document: Say, Pause, Gather, Redirect or
// Hangup. The set is closed.
type Verb interface {
	verb()
}

// Say reads Text aloud.
type Say struct {
	Text     string
	Voice    string   // empty: Twilio's default voice for the language
	Language Language // empty: Twilio's default (en-US)
	// Loop is how many times the text is read. 0 and 1 both mean once and
	// render no attribute; a parsed loop="0" (Twilio: until hang-up) is 0.
	Loop int
}

// Pause is silence.
type Pause struct {
	Length int // seconds; 0 renders no attribute, which Twilio reads as 1
}

// Gather plays its Verbs and collects keys, which Twilio posts to Action
// with the call's parameters and Digits. Without a key it falls through to
// the verb after it (or posts an empty Digits when ActionOnEmptyResult).
type Gather struct {
	Input     string // "dtmf" (Twilio's default when empty), "speech", "dtmf speech"
	NumDigits int    // keys to collect; 0: no limit, ended by FinishOnKey
	Action    string // URL the keys are posted to; empty: the current document's URL
	Method    string // GET or POST; empty: POST
	Timeout   int    // seconds to wait for a key after the Verbs end; 0: Twilio's 5
	// FinishOnKey ends input early; empty renders no attribute (Twilio: "#").
	FinishOnKey         string
	ActionOnEmptyResult bool
	Verbs               []Verb // Say and Pause only
}

// Redirect continues the call with the TwiML at URL.
type Redirect struct {
	URL    string
	Method string // GET or POST; empty: POST
}

// Hangup ends the call.
type Hangup struct{}

func (Say) verb()      {}
func (Pause) verb()    {}
func (Gather) verb()   {}
func (Redirect) verb() {}
func (Hangup) verb()   {}

// Response is a TwiML document.
type Response struct {
	Verbs []Verb
}

// Render returns the document with the XML header, text and attribute
// values escaped, attributes in a fixed order, no insignificant whitespace.
func (r Response) Render() []byte {
	var b bytes.Buffer
	b.WriteString(Header)
	if len(r.Verbs) == 0 {
		b.WriteString("<Response/>")
		return b.Bytes()
	}
	b.WriteString("<Response>")
	for _, v := range r.Verbs {
		writeVerb(&b, v)
	}
	b.WriteString("</Response>")
	return b.Bytes()
}

// String is Render as a string.
func (r Response) String() string { return string(r.Render()) }

func writeVerb(b *bytes.Buffer, v Verb) {
	switch v := v.(type) {
	case Say:
		b.WriteString("<Say")
		attr(b, "voice", v.Voice)
		attr(b, "language", string(v.Language))
		if v.Loop > 1 {
			attr(b, "loop", strconv.Itoa(v.Loop))
		}
		b.WriteByte('>')
		escape(b, v.Text)
		b.WriteString("</Say>")
	case Pause:
		b.WriteString("<Pause")
		if v.Length > 0 {
			attr(b, "length", strconv.Itoa(v.Length))
		}
		b.WriteString("/>")
	case Gather:
		b.WriteString("<Gather")
		attr(b, "input", v.Input)
		if v.NumDigits > 0 {
			attr(b, "numDigits", strconv.Itoa(v.NumDigits))
		}
		attr(b, "action", v.Action)
		attr(b, "method", v.Method)
		if v.Timeout > 0 {
			attr(b, "timeout", strconv.Itoa(v.Timeout))
		}
		attr(b, "finishOnKey", v.FinishOnKey)
		if v.ActionOnEmptyResult {
			attr(b, "actionOnEmptyResult", "true")
		}
		if len(v.Verbs) == 0 {
			b.WriteString("/>")
			return
		}
		b.WriteByte('>')
		for _, n := range v.Verbs {
			writeVerb(b, n)
		}
		b.WriteString("</Gather>")
	case Redirect:
		b.WriteString("<Redirect")
		attr(b, "method", v.Method)
		b.WriteByte('>')
		escape(b, v.URL)
		b.WriteString("</Redirect>")
	case Hangup:
		b.WriteString("<Hangup/>")
	}
}

// attr writes name="value" unless value is empty.
func attr(b *bytes.Buffer, name, value string) {
	if value == "" {
		return
	}
	b.WriteByte(' ')
	b.WriteString(name)
	b.WriteString(`="`)
	escape(b, value)
	b.WriteByte('"')
}

// escape writes s as XML character data, safe inside text and attribute
// values alike: & < > " ' and line breaks become references, and characters
// XML cannot carry become U+FFFD.
func escape(b *bytes.Buffer, s string) {
	_ = xml.EscapeText(b, []byte(s)) // a bytes.Buffer never fails
}
