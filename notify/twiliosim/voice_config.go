package twiliosim

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// CallOutcome is how a simulated call goes once dialled.
type CallOutcome string

// Outcomes of a call.
const (
	// CallHuman: a person answers (AnsweredBy human when AMD was asked),
	// listens and presses keys.
	CallHuman CallOutcome = "human"
	// CallMachine: an answering machine answers (AnsweredBy machine_start,
	// or machine_end_beep with DetectMessageEnd, when AMD was asked); it
	// listens to everything and never presses a key.
	CallMachine CallOutcome = "machine"
	// CallBusy: the line is busy after a short ring.
	CallBusy CallOutcome = "busy"
	// CallNoAnswer: the phone rings for the call's Timeout.
	CallNoAnswer CallOutcome = "no-answer"
	// CallFailed: the call never rings (number not in service).
	CallFailed CallOutcome = "failed"
)

func (o CallOutcome) valid() bool {
	switch o {
	case CallHuman, CallMachine, CallBusy, CallNoAnswer, CallFailed:
		return true
	}
	return false
}

func (o CallOutcome) answered() bool { return o == CallHuman || o == CallMachine }

// DigitMix is how people answer a Gather: relative shares (divided by
// their sum) of pressing 1, 2, 9, some other key ("5"), or nothing.
type DigitMix struct {
	Accept  float64 // "1"
	Decline float64 // "2"
	Repeat  float64 // "9"
	Other   float64 // "5", a key the call-up does not know
	None    float64 // no key: the Gather times out
}

func (m DigitMix) zero() bool { return m == DigitMix{} }

// VoiceProfile is how the people called behave when no CallScript
// matches their number. Each call's draws depend only on Config.Seed, the
// number and how many calls to that number the simulator keeps, so a run
// repeats exactly while a second call to the same person may go otherwise.
type VoiceProfile struct {
	// Relative shares (divided by their sum) of answered, busy, no-answer
	// and failed calls. All four zero: DefaultVoiceProfile's rates and
	// MachineRate.
	AnswerRate, BusyRate, NoAnswerRate, FailedRate float64
	// MachineRate is the share of answered calls an answering machine takes.
	MachineRate float64
	// Digits is the keys people press at each Gather; zero: the default mix.
	Digits DigitMix
	// RingTime: an answered phone is picked up after 1/4 to all of
	// RingTime of ringing, drawn uniformly; if that reaches the call's
	// Timeout the call is no-answer. Default 8s.
	RingTime time.Duration
	// ThinkTime: a key comes up to ThinkTime after the Gather's prompt
	// ends, drawn uniformly; past the Gather's timeout it is no key.
	// Default 3s.
	ThinkTime time.Duration
}

// DefaultVoiceProfile is the profile a zero VoiceProfile stands for: 80%
// of calls answered (10% of those by a machine), 5% busy, 12% no answer,
// 3% failed; at a Gather 75% press 1, 10% press 2, 5% press 9, 2% press
// another key and 8% press nothing; picked up within 2–8 s of ringing; a
// key within 3 s of the prompt's end.
var DefaultVoiceProfile = VoiceProfile{
	AnswerRate: 0.80, BusyRate: 0.05, NoAnswerRate: 0.12, FailedRate: 0.03,
	MachineRate: 0.10,
	Digits:      DigitMix{Accept: 0.75, Decline: 0.10, Repeat: 0.05, Other: 0.02, None: 0.08},
	RingTime:    8 * time.Second,
	ThinkTime:   3 * time.Second,
}

func (p *VoiceProfile) setDefaults() {
	d := DefaultVoiceProfile
	if p.AnswerRate == 0 && p.BusyRate == 0 && p.NoAnswerRate == 0 && p.FailedRate == 0 {
		p.AnswerRate, p.BusyRate, p.NoAnswerRate, p.FailedRate = d.AnswerRate, d.BusyRate, d.NoAnswerRate, d.FailedRate
		if p.MachineRate == 0 {
			p.MachineRate = d.MachineRate
		}
	}
	if p.Digits.zero() {
		p.Digits = d.Digits
	}
	if p.RingTime <= 0 {
		p.RingTime = d.RingTime
	}
	if p.ThinkTime <= 0 {
		p.ThinkTime = d.ThinkTime
	}
}

// outcome picks an outcome with x drawn uniformly from [0,1).
func (p *VoiceProfile) outcome(x float64) CallOutcome {
	sum := p.AnswerRate + p.BusyRate + p.NoAnswerRate + p.FailedRate
	x *= sum
	switch {
	case x < p.AnswerRate:
		return CallHuman
	case x < p.AnswerRate+p.BusyRate:
		return CallBusy
	case x < p.AnswerRate+p.BusyRate+p.NoAnswerRate:
		return CallNoAnswer
	}
	return CallFailed
}

// key picks the key pressed at a Gather with x drawn uniformly from [0,1);
// "" is none.
func (m DigitMix) key(x float64) string {
	x *= m.Accept + m.Decline + m.Repeat + m.Other + m.None
	switch {
	case x < m.Accept:
		return "1"
	case x < m.Accept+m.Decline:
		return "2"
	case x < m.Accept+m.Decline+m.Repeat:
		return "9"
	case x < m.Accept+m.Decline+m.Repeat+m.Other:
		return "5"
	}
	return ""
}

// CallScript fixes what happens to calls to the numbers it matches
// (Prefix, or Match when set), in place of the VoiceProfile. The first
// matching script wins.
type CallScript struct {
	Prefix  string
	Match   *regexp.Regexp
	Outcome CallOutcome // empty: CallHuman
	// Keys are what the person presses at each Gather in turn: "1", "2",
	// "9", any other key, or "" for none. After the last one, none.
	Keys []string
	// Ring is how long the phone rings before an answered or busy outcome;
	// 0: 2s. No-answer rings for the call's Timeout, failed never rings.
	Ring time.Duration
}

func (c *CallScript) matches(to string) bool { return matchNumber(c.Prefix, c.Match, to) }

// ParseCallScript reads a script written as PATTERN=OUTCOME[:KEYS], where
// PATTERN is a number prefix or "re:" and a regular expression, OUTCOME is
// human, machine, busy, no-answer or failed, and KEYS (human only) are the
// keys pressed at each Gather, comma-separated, "-" for none. Examples:
// "+8613800138000=human:9,1", "+8617010=busy", "re:^\+86170[2-4]=machine",
// "+8617012=human:-,2".
func ParseCallScript(spec string) (CallScript, error) {
	prefix, re, out, err := cutPattern("call script", spec, "OUTCOME[:KEYS]")
	if err != nil {
		return CallScript{}, err
	}
	c := CallScript{Prefix: prefix, Match: re}
	kind, keys, hasKeys := strings.Cut(out, ":")
	c.Outcome = CallOutcome(kind)
	if !c.Outcome.valid() {
		return CallScript{}, fmt.Errorf("call script %q: outcome %q is not one of human, machine, busy, no-answer, failed", spec, kind)
	}
	if hasKeys {
		if c.Outcome != CallHuman {
			return CallScript{}, fmt.Errorf("call script %q: only human answers press keys", spec)
		}
		for k := range strings.SplitSeq(keys, ",") {
			k = strings.TrimSpace(k)
			switch {
			case k == "-":
				k = ""
			case !validKeys(k):
				return CallScript{}, fmt.Errorf("call script %q: key %q: want digits, * or #, or - for none", spec, k)
			}
			c.Keys = append(c.Keys, k)
		}
	}
	return c, nil
}

func validKeys(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if (r < '0' || r > '9') && r != '*' && r != '#' {
			return false
		}
	}
	return true
}

// ParseVoiceProfile reads a profile written as comma-separated NAME=VALUE:
// answer, busy, no-answer, failed and machine take shares; keys takes
// KEY:SHARE pairs separated by "/" (KEY 1, 2, 9, other or none); ring and
// think take durations. Names left out keep DefaultVoiceProfile's values,
// except that giving any of the four outcome shares sets the others to 0.
// Example: "answer=0.7,busy=0.1,no-answer=0.2,machine=0.05,keys=1:0.8/2:0.1/none:0.1,ring=5s".
func ParseVoiceProfile(spec string) (VoiceProfile, error) {
	p := DefaultVoiceProfile
	outcomes := false
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, val, ok := strings.Cut(item, "=")
		if !ok {
			return VoiceProfile{}, fmt.Errorf("voice profile %q: item %q: want NAME=VALUE", spec, item)
		}
		var err error
		switch name {
		case "answer", "busy", "no-answer", "failed":
			if !outcomes {
				p.AnswerRate, p.BusyRate, p.NoAnswerRate, p.FailedRate = 0, 0, 0, 0
				outcomes = true
			}
			var x float64
			x, err = share(val)
			switch name {
			case "answer":
				p.AnswerRate = x
			case "busy":
				p.BusyRate = x
			case "no-answer":
				p.NoAnswerRate = x
			default:
				p.FailedRate = x
			}
		case "machine":
			p.MachineRate, err = share(val)
		case "keys":
			p.Digits, err = parseDigitMix(val)
		case "ring", "think":
			var d time.Duration
			d, err = time.ParseDuration(val)
			if err == nil && d <= 0 {
				err = fmt.Errorf("want a positive duration")
			}
			if name == "ring" {
				p.RingTime = d
			} else {
				p.ThinkTime = d
			}
		default:
			return VoiceProfile{}, fmt.Errorf("voice profile %q: %q is not one of answer, busy, no-answer, failed, machine, keys, ring, think", spec, name)
		}
		if err != nil {
			return VoiceProfile{}, fmt.Errorf("voice profile %q: %s=%q: %w", spec, name, val, err)
		}
	}
	if outcomes && p.AnswerRate+p.BusyRate+p.NoAnswerRate+p.FailedRate == 0 {
		return VoiceProfile{}, fmt.Errorf("voice profile %q: the outcome shares add up to 0", spec)
	}
	return p, nil
}

func share(s string) (float64, error) {
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || x < 0 || x > 1 {
		return 0, fmt.Errorf("want a share between 0 and 1")
	}
	return x, nil
}

func parseDigitMix(s string) (DigitMix, error) {
	var m DigitMix
	for pair := range strings.SplitSeq(s, "/") {
		k, v, ok := strings.Cut(pair, ":")
		if !ok {
			return DigitMix{}, fmt.Errorf("pair %q: want KEY:SHARE", pair)
		}
		x, err := share(v)
		if err != nil {
			return DigitMix{}, fmt.Errorf("pair %q: %w", pair, err)
		}
		switch k {
		case "1":
			m.Accept = x
		case "2":
			m.Decline = x
		case "9":
			m.Repeat = x
		case "other":
			m.Other = x
		case "none":
			m.None = x
		default:
			return DigitMix{}, fmt.Errorf("pair %q: key %q is not one of 1, 2, 9, other, none", pair, k)
		}
	}
	if m.zero() {
		return DigitMix{}, fmt.Errorf("the key shares add up to 0")
	}
	return m, nil
}
