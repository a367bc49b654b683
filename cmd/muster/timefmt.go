package main

import (
	"regexp"
	"time"
)

// Layouts of the times the CLI shows people; showTime adds the zone to each.
const (
	minuteLayout = "2006-01-02 15:04"
	secondLayout = "2006-01-02 15:04:05"
	clockLayout  = "15:04:05"
)

// showTime is how the CLI shows a person a time of day: t in loc with
// layout, then the zone as its offset from UTC (2026-12-05 10:00 +08:00).
// A time never goes out without its zone: the CLI may run on a machine set
// to another zone than the city's, and drills show their schedule's zone
// beside the machine's. The zero time is "-".
func showTime(t time.Time, loc *time.Location, layout string) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(loc).Format(layout + " -07:00")
}

// localTime is t to the minute in the zone of the machine the CLI runs on.
func localTime(t time.Time) string { return showTime(t, time.Local, minuteLayout) }

// inZone is t to the minute in the named zone (a drill schedule's), or in
// the machine's zone when the name is unknown here.
func inZone(t time.Time, zone string) string {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		loc = time.Local
	}
	return showTime(t, loc, minuteLayout)
}

// serverTime is a time as the server writes it into a message (RFC 3339,
// UTC: the state machine knows no zone).
var serverTime = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})`)

// localTimes shows the times in a server's message as every other time the
// CLI prints: to the second, in the machine's zone, with the offset
// ("stood down at 2026-12-06 13:34:31 +08:00", not "2026-12-06T05:34:31Z").
// -o json keeps the message as the server wrote it.
func localTimes(msg string) string {
	return serverTime.ReplaceAllStringFunc(msg, func(s string) string {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return s
		}
		return showTime(t, time.Local, secondLayout)
	})
}
