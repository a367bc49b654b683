package twiml

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Languages a text-to-speech voice is named for in a Say (Twilio's Amazon
// Polly and Google voices read Mandarin as cmn-CN).
const (
	CmnCN Language = "cmn-CN"
	EnGB  Language = "en-GB"
	EnAU  Language = "en-AU"
	EnIN  Language = "en-IN"
)

// Voice is a Twilio text-to-speech voice and the language a Say names
// with it: a pair Twilio reads (an invalid pair may make the Say fail).
type Voice struct {
	Name     string   // e.g. Polly.Zhiyu, Google.cmn-CN-Standard-A
	Language Language // e.g. cmn-CN
}

// Voices are the voices a deployment reads call-ups with, by the language
// a person is called in (ZhCN, EnUS). A language it lacks is read with
// DefaultVoice's.
type Voices map[Language]Voice

// DefaultVoice is the voice a person called in lang hears when none is
// configured: Amazon Polly's Zhiyu (Mandarin, cmn-CN) for Chinese,
// Joanna (en-US) for English. Twilio's own default voice, "man", speaks
// no Mandarin.
func DefaultVoice(lang Language) Voice {
	if lang == EnUS {
		return Voice{Name: "Polly.Joanna", Language: EnUS}
	}
	return Voice{Name: "Polly.Zhiyu", Language: CmnCN}
}

// pollyVoices are the Amazon Polly voices (Twilio names them Polly.<Name>,
// with -Neural or -Generative for those engines) muster knows the language
// of: Mandarin and English ones.
var pollyVoices = map[string]Language{
	"Zhiyu":  CmnCN,
	"Joanna": EnUS, "Matthew": EnUS, "Salli": EnUS, "Kimberly": EnUS, "Kendra": EnUS, "Ivy": EnUS,
	"Joey": EnUS, "Justin": EnUS, "Kevin": EnUS, "Ruth": EnUS, "Stephen": EnUS, "Danielle": EnUS, "Gregory": EnUS,
	"Amy": EnGB, "Emma": EnGB, "Brian": EnGB, "Arthur": EnGB,
	"Nicole": EnAU, "Olivia": EnAU, "Russell": EnAU,
	"Aditi": EnIN, "Raveena": EnIN, "Kajal": EnIN,
}

// legacyVoices are Twilio's older voices and the languages they speak:
// man and woman (Twilio's default is man) no Chinese; alice zh-CN among
// others.
var legacyVoices = map[string][]Language{
	"man":   {EnUS, EnGB, "en", "en-gb", "es", "fr", "de"},
	"woman": {EnUS, EnGB, "en", "en-gb", "es", "fr", "de"},
	"alice": {ZhCN, "zh-HK", "zh-TW", EnUS, EnGB, EnAU, EnIN, "en-CA"},
}

// googleVoice is Twilio's name of a Google voice: Google.<locale>-<type>-<letter>.
var googleVoice = regexp.MustCompile(`^Google\.([a-z]{2,3}-[A-Z]{2})-(Standard|Wavenet|Neural2|Chirp3-HD|Chirp-HD|Studio|News|Polyglot)-[A-Za-z]+$`)

// pollyVoice is Twilio's name of an Amazon Polly voice.
var pollyVoice = regexp.MustCompile(`^Polly\.([A-Z][a-z]+)(-Neural|-Generative|-LongForm)?$`)

// Speaks returns the languages a voice reads ("" voice: Twilio's default,
// man), and whether muster knows the voice.
func Speaks(voice string) ([]Language, bool) {
	if voice == "" {
		voice = "man"
	}
	if m := pollyVoice.FindStringSubmatch(voice); m != nil {
		l, ok := pollyVoices[m[1]]
		return []Language{l}, ok
	}
	if m := googleVoice.FindStringSubmatch(voice); m != nil {
		return []Language{Language(m[1])}, true
	}
	l, ok := legacyVoices[voice]
	return l, ok
}

// Reads returns whether a Say with voice and language is a pair Twilio
// reads: a voice muster knows, speaking that language (an empty language
// is Twilio's default, en-US).
func Reads(voice string, lang Language) bool {
	if lang == "" {
		lang = EnUS
	}
	ls, ok := Speaks(voice)
	return ok && slices.ContainsFunc(ls, func(l Language) bool { return strings.EqualFold(string(l), string(lang)) })
}

// ParseVoice reads a configured voice for people called in lang (ZhCN or
// EnUS): a Polly (Polly.Zhiyu, Polly.Joanna-Neural) or Google
// (Google.cmn-CN-Wavenet-A) voice speaking Mandarin for ZhCN, English for
// EnUS. It refuses a name of another form, a Polly voice muster does not
// know, and one speaking another language.
func ParseVoice(name string, lang Language) (Voice, error) {
	name = strings.TrimSpace(name)
	want := "Mandarin (cmn-CN)"
	if lang == EnUS {
		want = "English (en-*)"
	}
	if !pollyVoice.MatchString(name) && !googleVoice.MatchString(name) {
		return Voice{}, fmt.Errorf("voice %q: want an Amazon Polly or Google voice as Twilio names it, speaking %s, such as %s", name, want, DefaultVoice(lang).Name)
	}
	ls, ok := Speaks(name)
	if !ok {
		return Voice{}, fmt.Errorf("voice %q: not a Polly voice muster knows the language of; known: %s", name, strings.Join(knownPolly(lang), ", "))
	}
	l := ls[0]
	switch {
	case lang == EnUS && strings.HasPrefix(string(l), "en-"):
	case lang != EnUS && (l == CmnCN || l == ZhCN):
	default:
		return Voice{}, fmt.Errorf("voice %q speaks %s, not %s", name, l, want)
	}
	return Voice{Name: name, Language: l}, nil
}

// knownPolly lists the Polly voices of lang's kind.
func knownPolly(lang Language) []string {
	var out []string
	for n, l := range pollyVoices {
		if (lang == EnUS) == strings.HasPrefix(string(l), "en-") {
			out = append(out, "Polly."+n)
		}
	}
	slices.Sort(out)
	return out
}
