package main

import "time"

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
