// Package drills keeps every plan exercised: drill schedules (cron with a
// time zone, or one-off; announced or no-notice inside a window), runs that
// are EXERCISE activations started exactly once per due time, metrics and
// reports of how fast people reported, after-action findings, and the
// plans and regions overdue for a drill. It knows nothing of HTTP; the
// scheduler is a leader-only service that proposes commands, and everything
// it decides is stamped into them so every node applies the same thing.
package drills

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"muster"
	"muster/plans"
)

// ScheduleID identifies a drill schedule (D000001, ...).
type ScheduleID string

// RunID identifies a drill run (R000001, ...).
type RunID string

// ExerciseType is the kind of exercise a drill is.
type ExerciseType string

// Exercise types (DOMAIN.md "drills").
const (
	Notification ExerciseType = "notification" // 通讯(通知)演练: the call-up itself, reach and time to ack
	Tabletop     ExerciseType = "tabletop"     // 桌面推演: a scenario discussed; findings only
	Functional   ExerciseType = "functional"   // 功能演练: command functions exercised, field units simulated
	FullScale    ExerciseType = "full-scale"   // 实战演练/综合演练: people actually report to their posts
)

// ExerciseTypes lists every exercise type, lightest first.
func ExerciseTypes() []ExerciseType {
	return []ExerciseType{Notification, Tabletop, Functional, FullScale}
}

var exerciseTypeNames = map[string]ExerciseType{
	"notification": Notification, "通讯演练": Notification, "通知演练": Notification,
	"tabletop": Tabletop, "桌面推演": Tabletop,
	"functional": Functional, "功能演练": Functional,
	"full-scale": FullScale, "fullscale": FullScale, "full_scale": FullScale, "实战演练": FullScale, "综合演练": FullScale,
}

// ParseExerciseType accepts an exercise type by its English or Chinese name.
func ParseExerciseType(s string) (ExerciseType, error) {
	if t, ok := exerciseTypeNames[strings.ToLower(strings.TrimSpace(s))]; ok {
		return t, nil
	}
	return "", invalidf("type %q: want notification, tabletop, functional or full-scale", s)
}

// ChineseName is the exercise type's Chinese name.
func (t ExerciseType) ChineseName() string {
	switch t {
	case Notification:
		return "通讯演练"
	case Tabletop:
		return "桌面推演"
	case Functional:
		return "功能演练"
	case FullScale:
		return "实战演练"
	}
	return string(t)
}

// ClockTime is a time of day, in minutes after midnight.
type ClockTime int

// String writes t as HH:MM.
func (t ClockTime) String() string { return fmt.Sprintf("%02d:%02d", int(t)/60, int(t)%60) }

func parseClockTime(s string) (ClockTime, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || (hh == 24 && mm != 0) {
		return 0, invalidf("time of day %q: want HH:MM", s)
	}
	return ClockTime(hh*60 + mm), nil
}

// Window is a stretch of the due day, in the schedule's time zone, inside
// which a no-notice drill starts at a time nobody is told in advance.
type Window struct {
	Start ClockTime `json:"start"`
	End   ClockTime `json:"end"`
}

// ParseWindow reads a window such as "09:00-17:00" (an en dash or "~" also
// separates the ends). The end must come after the start.
func ParseWindow(s string) (Window, error) {
	s = strings.NewReplacer("–", "-", "—", "-", "~", "-", "至", "-").Replace(strings.TrimSpace(s))
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return Window{}, invalidf("no-notice window %q: want HH:MM-HH:MM, e.g. 09:00-17:00", s)
	}
	start, err := parseClockTime(a)
	if err != nil {
		return Window{}, err
	}
	end, err := parseClockTime(b)
	if err != nil {
		return Window{}, err
	}
	if end <= start {
		return Window{}, invalidf("no-notice window %q: the end must come after the start", s)
	}
	return Window{Start: start, End: end}, nil
}

// String writes w as HH:MM-HH:MM.
func (w Window) String() string { return w.Start.String() + "-" + w.End.String() }

// On returns the window's bounds on the calendar day of t, in loc. Each
// bound is the instant the clocks in loc show it, as for a cron's due time
// (NextDue): a reading the clocks skip when they go forward is the instant
// they jump (02:30 in America/New_York on 2026-03-08 is 03:00 EDT, never
// 01:30 EST), and a reading they show twice is its first showing.
func (w Window) On(t time.Time, loc *time.Location) (time.Time, time.Time) {
	y, m, d := t.In(loc).Date()
	day := func(c ClockTime) time.Time {
		return wallInstant(time.Date(y, m, d, int(c)/60, int(c)%60, 0, 0, time.UTC), loc).In(loc)
	}
	return day(w.Start), day(w.End)
}

// CatchUpPolicy says what happens to due times that passed while no leader
// was running the scheduler (the whole cluster down, say).
type CatchUpPolicy string

// Catch-up policies.
const (
	// CatchUpSkip records missed due times and runs none of them.
	CatchUpSkip CatchUpPolicy = "skip"
	// CatchUpOnce runs the latest missed due time once, if it is no older
	// than the schedule's catch-up window and the next due time cannot
	// start before that run's length is over, and records the rest as
	// missed.
	CatchUpOnce CatchUpPolicy = "once"
)

// ParseCatchUp accepts skip or once.
func ParseCatchUp(s string) (CatchUpPolicy, error) {
	switch p := CatchUpPolicy(strings.ToLower(strings.TrimSpace(s))); p {
	case "":
		return CatchUpSkip, nil
	case CatchUpSkip, CatchUpOnce:
		return p, nil
	}
	return "", invalidf("catch-up %q: want skip or once", s)
}

// Grace is how late the scheduler may start a due time and still count it
// as on time rather than missed: a leader election or a slow tick.
const Grace = 2 * time.Minute

// DefaultLength is how long a drill's call-up runs before the scheduler
// stands it down, unless its schedule says otherwise.
const DefaultLength = time.Hour

// MaxLength bounds a schedule's length: a drill's call-up, with its
// reminders and escalations, keeps people answering for no longer than a
// day (a --length of 9000h was a year of 【演练】 escalations).
const MaxLength = 24 * time.Hour

// DefaultTimeZone is the time zone of a schedule that names none.
const DefaultTimeZone = "Asia/Shanghai"

// RunStatus is what became of one due time of a schedule.
type RunStatus string

// Run statuses.
const (
	RunStarted RunStatus = "started" // its EXERCISE activation was created
	RunMissed  RunStatus = "missed"  // its due time passed without a run (catch-up skip, or postponed past the next due)
	RunFailed  RunStatus = "failed"  // its activation could not be created (see Error)
)

func invalidf(format string, args ...any) error {
	return muster.Errorf(muster.EInvalid, format, args...)
}

func conflictf(format string, args ...any) error {
	return muster.Errorf(muster.EConflict, format, args...)
}

// regionCodes trims and checks a list of region codes, each kept once, in
// the order given.
func regionCodes(in []plans.RegionCode) ([]plans.RegionCode, error) {
	var out []plans.RegionCode
	for _, r := range in {
		for _, part := range strings.Split(string(r), ",") {
			if part = strings.TrimSpace(part); part != "" && !slices.Contains(out, plans.RegionCode(part)) {
				out = append(out, plans.RegionCode(part))
			}
		}
	}
	if len(out) == 0 {
		return nil, invalidf("regions: name at least one region to drill")
	}
	return out, nil
}
