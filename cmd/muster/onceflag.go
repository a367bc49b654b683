package main

import (
	"fmt"

	"github.com/spf13/pflag"
)

// onceValue is a flag value that may be given again only with the same
// value. A flag that decides what a command does — a call-up's --purpose or
// --level — given twice with different values is refused: otherwise the
// last one silently wins, and `--purpose exercise ... --purpose live` (an
// alias or script with a flag added at the end) starts a LIVE call-up.
type onceValue struct {
	pflag.Value
	name  string
	given bool
}

// Set takes the first value; a later one must read the same once parsed
// (--version 2 and --version 02 agree), or it is refused and the first kept.
func (o *onceValue) Set(s string) error {
	if !o.given {
		o.given = true
		return o.Value.Set(s)
	}
	prev := o.Value.String()
	if err := o.Value.Set(s); err != nil {
		return err
	}
	if now := o.Value.String(); now != prev {
		_ = o.Value.Set(prev)
		return &repeatedFlagError{name: o.name, first: prev, then: now}
	}
	return nil
}

// repeatedFlagError is a flag given twice with different values. It says
// all there is to say: the command line's error handler shows it without
// pflag's "invalid argument" wrapping.
type repeatedFlagError struct {
	name, first, then string
}

func (e *repeatedFlagError) Error() string {
	return fmt.Sprintf("--%s given twice with different values (%q, then %q): give it once", e.name, e.first, e.then)
}

// takeOnce makes each named flag of fs refuse a second, different value.
// It panics on a name fs does not have: that is a mistake in the command's
// own wiring.
func takeOnce(fs *pflag.FlagSet, names ...string) {
	for _, name := range names {
		f := fs.Lookup(name)
		if f == nil {
			panic("takeOnce: no flag --" + name)
		}
		f.Value = &onceValue{Value: f.Value, name: name}
	}
}
