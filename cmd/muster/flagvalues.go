package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"muster"
	"muster/access"
	"muster/drills"
	"muster/notify"
	"muster/plans"
)

// checkedString is a string flag whose every value is checked as it is
// read: a value check refuses is a usage error, before any request is
// made, that names the flag, gives the value as typed and says what the
// flag takes (--purpose "drill": want live, exercise or test; see
// badFlagValue). The value kept is the one typed: the server reads it as
// it always has.
type checkedString struct {
	p     *string
	check func(string) error
}

func (v *checkedString) Set(s string) error {
	if err := v.check(s); err != nil {
		return err
	}
	*v.p = s
	return nil
}

func (v *checkedString) String() string { return *v.p }

// Type is "string", so that the help shows the flag as a string flag.
func (v *checkedString) Type() string { return "string" }

// checkedVar defines a string flag, like StringVar, whose values ok must
// accept; any other value is refused with "want " + want. The empty value
// is always accepted: it means the flag was left out, and the commands
// that require the flag say so.
func checkedVar(f *pflag.FlagSet, p *string, name, value, usage, want string, ok func(string) bool) {
	*p = value
	f.Var(&checkedString{p: p, check: func(s string) error {
		if strings.TrimSpace(s) == "" || ok(s) {
			return nil
		}
		return wantError(want)
	}}, name, usage)
}

// wantError is a flag value's refusal that says what the flag takes
// ("want live, exercise or test"): the command line's error shows it after
// the flag and the value as typed, whatever the flag's type.
type wantError string

func (w wantError) Error() string { return "want " + string(w) }

// eachOf accepts a comma-separated list whose every item ok accepts (an
// empty item too: "active," is refused).
func eachOf(ok func(string) bool) func(string) bool {
	return func(s string) bool {
		for _, item := range strings.Split(s, ",") {
			if !ok(item) {
				return false
			}
		}
		return true
	}
}

// maxPageLimit is the most items a page of a list may hold: the API refuses
// a larger ?limit= (1–1000, the same bound for every list).
const maxPageLimit = 1000

// pageLimit is a list's --limit: a whole number from 1 to maxPageLimit, so
// that 0 or 5000 (also from MUSTER_LIMIT) is a usage error before any
// request rather than the server's refusal.
type pageLimit struct{ p *int }

func (v pageLimit) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > maxPageLimit {
		return wantError(fmt.Sprintf("a whole number from 1 to %d", maxPageLimit))
	}
	*v.p = n
	return nil
}

func (v pageLimit) String() string { return strconv.Itoa(*v.p) }

// Type is "int", so that the help shows the flag as a number.
func (v pageLimit) Type() string { return "int" }

// cronVar is a drill schedule's --cron: a value the schedule would be
// refused for is refused saying what is wrong with it, in the words the
// server uses (drills.CronProblem: the field out of range and what it
// takes), rather than only what the flag takes.
func cronVar(f *pflag.FlagSet, p *string, usage string) {
	*p = ""
	f.Var(&checkedString{p: p, check: func(s string) error {
		if strings.TrimSpace(s) == "" {
			return nil
		}
		if why := drills.CronProblem(s); why != "" {
			return errors.New(why)
		}
		return nil
	}}, "cron", usage)
}

// zoneVar is a drill schedule's --tz: an IANA time zone. Unlike other
// checked flags it refuses an empty value, and "Local" (drills.LoadZone):
// the zone of whichever node computes a due time, not one the cluster
// agrees on.
func zoneVar(f *pflag.FlagSet, p *string, value, usage string) {
	*p = value
	f.Var(&checkedString{p: p, check: func(s string) error {
		if _, err := drills.LoadZone(s); err != nil || strings.TrimSpace(s) == "" {
			return wantError(wantZone) // LoadZone refuses Local; "" would be its default
		}
		return nil
	}}, "tz", usage)
}

// parses turns a domain parser into the check of a flag's value.
func parses[T any](parse func(string) (T, error)) func(string) bool {
	return func(s string) bool {
		_, err := parse(s)
		return err == nil
	}
}

// oneOf accepts exactly the values given (spaces around them aside).
func oneOf(values ...string) func(string) bool {
	return func(s string) bool {
		for _, v := range values {
			if strings.TrimSpace(s) == v {
				return true
			}
		}
		return false
	}
}

// positiveDuration accepts a Go duration above zero: 90s, 30m, 4h.
func positiveDuration(s string) bool {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	return err == nil && d > 0
}

// What the flags checked here take, in words.
const (
	wantLevel     = "I, II, III or IV (also Ⅰ–Ⅳ, 1–4)"
	wantPurpose   = "live, exercise or test"
	wantDuration  = "a duration such as 30m or 4h"
	wantDate      = "a date written 2006-01-02, e.g. 2027-03-31"
	wantStatus    = "open, in_progress, done or dropped"
	wantZone      = "an IANA time zone such as Asia/Shanghai"
	wantWindow    = "HH:MM-HH:MM with the end after the start, e.g. 09:00-17:00"
	wantExercise  = "notification, tabletop, functional or full-scale"
	wantRunStatus = "started, missed or failed"
)

// levelVar is a response level flag: I to IV.
func levelVar(f *pflag.FlagSet, p *string, usage string) {
	checkedVar(f, p, "level", "", usage, wantLevel, parses(plans.ParseLevelCode))
}

// purposeVar is an activation's --purpose: live, exercise or test, in any
// case.
func purposeVar(f *pflag.FlagSet, p *string, usage string) {
	checkedVar(f, p, "purpose", "", usage, wantPurpose, parses(notify.ParsePurpose))
}

// findingStatusVar is a drill finding's --status.
func findingStatusVar(f *pflag.FlagSet, p *string, usage string) {
	checkedVar(f, p, "status", "", usage, wantStatus, parses(drills.ParseFindingStatus))
}

// dueVar is a drill finding's --due date. A date written as asked for
// that the calendar does not have (2027-02-30) is told so, with how many
// days its month has, rather than asked for the format it is in.
func dueVar(f *pflag.FlagSet, p *string, usage string) {
	*p = ""
	f.Var(&checkedString{p: p, check: func(s string) error {
		if strings.TrimSpace(s) == "" {
			return nil
		}
		if _, err := drills.ParseDate(s); err == nil {
			return nil
		}
		return dateProblem(s)
	}}, "due", usage)
}

// dateProblem says why s, which drills.ParseDate refuses, is not a date:
// a month or day the calendar does not have, else what the flag takes.
func dateProblem(s string) error {
	var y, m, d int
	var rest string
	s = strings.TrimSpace(s)
	if n, _ := fmt.Sscanf(s, "%4d-%2d-%2d%s", &y, &m, &d, &rest); n != 3 || len(s) != len("2006-01-02") || y < 2000 || y > 2999 {
		return wantError(wantDate)
	}
	if m < 1 || m > 12 {
		return fmt.Errorf("no such date: there is no month %d (want %s)", m, wantDate)
	}
	days := time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
	return fmt.Errorf("no such date: %s %d has %d days", time.Month(m), y, days)
}

// activationStatusVar is status's --status: activation statuses,
// comma-separated.
func activationStatusVar(f *pflag.FlagSet, p *string, usage string) {
	checkedVar(f, p, "status", "", usage, muster.OrList(notify.Statuses())+", or several of them comma-separated", eachOf(parses(notify.ParseStatus)))
}

// languageVar is a person's --language.
func languageVar(f *pflag.FlagSet, p *string, usage string) {
	checkedVar(f, p, "language", "", usage, muster.OrList([]plans.Language{plans.LangZH, plans.LangEN}), parses(plans.ParseLanguage))
}

// categoryVar is a person's --category: a category of the roster, by its
// name or its English name.
func categoryVar(f *pflag.FlagSet, p *string, usage string) {
	checkedVar(f, p, "category", "", usage, "one of "+strings.Join(codeStrings(plans.Categories()), ", ")+", or its English name such as volunteer", parses(plans.ParseCategory))
}

// roleVar is a token's --role.
func roleVar(f *pflag.FlagSet, p *string, usage string) {
	checkedVar(f, p, "role", "", usage, muster.OrList(access.Roles()), parses(access.ParseRole))
}

// consistencyVar is the read consistency every client verb takes.
func consistencyVar(f *pflag.FlagSet, p *string, usage string) {
	checkedVar(f, p, "consistency", "", usage, "stale, default or linearizable", parses(muster.ParseConsistency))
}
