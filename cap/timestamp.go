package cap

import (
	"encoding/xml"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// timeLayout is CAP's restriction of xs:dateTime: whole seconds and an
// explicit numeric offset. Go writes a zero offset as +00:00 with it;
// FormatTime turns that into CAP's -00:00.
const timeLayout = "2006-01-02T15:04:05-07:00"

// timePattern is the schema's pattern for every CAP timestamp.
var timePattern = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$`)

// maxOffset is the largest UTC offset xs:dateTime allows.
const maxOffset = 14 * time.Hour

// FormatTime writes t as CAP requires, in t's own location, such as
// 2026-11-23T09:00:00+08:00: no fractional seconds (they are dropped) and an
// explicit offset, and -00:00 for a zero offset, as CAP 1.2 (3.3.2)
// requires for UTC. Pass times in the city's zone to get its offset. The result is a valid CAP timestamp when TimeProblem(t) is "".
func FormatTime(t time.Time) string {
	s := t.Format(timeLayout)
	if strings.HasSuffix(s, "+00:00") {
		s = s[:len(s)-6] + "-00:00"
	}
	return s
}

// ParseTime reads a CAP timestamp such as 2026-11-23T09:00:00+08:00. It
// accepts exactly the schema's pattern with a real date and time and an
// offset within ±14:00; -00:00, which CAP senders may use for UTC, is read
// as UTC. Anything else (Z, fractional seconds, no offset) is an error that
// says what was expected.
func ParseTime(s string) (time.Time, error) {
	if !timePattern.MatchString(s) {
		return time.Time{}, fmt.Errorf("%q: want a timestamp like 2026-11-23T09:00:00+08:00 (whole seconds, numeric offset, no Z)", clip(s))
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: not a real date and time", s)
	}
	if p := TimeProblem(t); p != "" {
		return time.Time{}, fmt.Errorf("%q: %s", s, p)
	}
	return t, nil
}

// TimeProblem says why FormatTime(t) would not be a valid CAP timestamp, or
// returns "" when it would be: the year must have four digits (0001–9999) and
// the offset be whole minutes within ±14:00. The zero time is a problem.
func TimeProblem(t time.Time) string {
	if t.IsZero() {
		return "missing"
	}
	if y := t.Year(); y < 1 || y > 9999 {
		return fmt.Sprintf("year %d: want 0001 to 9999", y)
	}
	_, off := t.Zone()
	if off%60 != 0 {
		return fmt.Sprintf("offset of %d seconds: want whole minutes", off)
	}
	if d := time.Duration(off) * time.Second; d > maxOffset || d < -maxOffset {
		return fmt.Sprintf("offset %s: want within ±14:00", t.Format("-07:00"))
	}
	return ""
}

// Time is a CAP timestamp in an Alert. The zero Time stands for an absent
// optional element and is not written.
type Time struct{ time.Time }

// MarshalXML writes the element with FormatTime, or nothing for the zero Time.
func (t Time) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if t.IsZero() {
		return nil
	}
	return e.EncodeElement(FormatTime(t.Time), start)
}

// UnmarshalXML reads the element with ParseTime, ignoring surrounding white
// space as xs:dateTime does.
func (t *Time) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var s string
	if err := d.DecodeElement(&s, &start); err != nil {
		return err
	}
	v, err := ParseTime(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%s %w", start.Name.Local, err)
	}
	t.Time = v
	return nil
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 64
	if r := []rune(s); len(r) > max {
		return string(r[:max]) + "…"
	}
	return s
}
