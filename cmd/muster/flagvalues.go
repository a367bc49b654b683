package main

import (
	"errors"
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
		return errors.New("want " + want)
	}}, name, usage)
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

// zoneName accepts an IANA time zone this muster knows.
func zoneName(s string) bool {
	_, err := time.LoadLocation(strings.TrimSpace(s))
	return err == nil
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
	wantCron      = `five fields (minute hour day-of-month month day-of-week) such as "0 9 * * 1", or @daily, @weekly…`
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

// dueVar is a drill finding's --due date.
func dueVar(f *pflag.FlagSet, p *string, usage string) {
	checkedVar(f, p, "due", "", usage, wantDate, parses(drills.ParseDate))
}

// roleVar is a token's --role.
func roleVar(f *pflag.FlagSet, p *string, usage string) {
	checkedVar(f, p, "role", "", usage, muster.OrList(access.Roles()), parses(access.ParseRole))
}

// consistencyVar is the read consistency every client verb takes.
func consistencyVar(f *pflag.FlagSet, p *string, usage string) {
	checkedVar(f, p, "consistency", "", usage, "stale, default or linearizable", parses(muster.ParseConsistency))
}
