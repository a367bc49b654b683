package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// exitUsage is the exit code of a command line that is wrong; a request
// that fails exits 1.
const exitUsage = 2

// exitError carries a specific exit code (exitUsage for usage errors).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError is a command line that is wrong: an argument missing or too
// many, an unknown command or flag, a flag's value that cannot be read, a
// required flag left out. muster exits with exitUsage, and its one line ends
// with where the command's help is (see usageHint).
func usageError(err error) error { return &exitError{exitUsage, err} }

// usageErrorf is usageError of a formatted message.
func usageErrorf(format string, a ...any) error { return usageError(fmt.Errorf(format, a...)) }

// exitCode is the code muster exits with after err.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// usageHint is what ends the line of a usage error of cmd: where its help
// is.
func usageHint(cmd *cobra.Command) string {
	path := "muster"
	if cmd != nil {
		path = cmd.CommandPath()
	}
	return fmt.Sprintf("; see '%s --help'", path)
}

// positional says which arguments a command takes: each of required, then
// at most the optional ones, by the names its help shows (ID, PLAN). An
// argument missing or one too many is a usage error that names it.
func positional(required, optional []string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < len(required) {
			return usageErrorf("missing argument %s", required[len(args)])
		}
		if max := len(required) + len(optional); len(args) > max {
			return usageErrorf("unexpected argument %q: %s", args[max], takes(cmd, required, optional))
		}
		return nil
	}
}

// takes says in words which arguments cmd takes: "muster plan show takes
// only ID", "muster plan list takes no arguments".
func takes(cmd *cobra.Command, required, optional []string) string {
	var words []string
	words = append(words, required...)
	for _, o := range optional {
		words = append(words, "["+o+"]")
	}
	if len(words) == 0 {
		return cmd.CommandPath() + " takes no arguments"
	}
	return cmd.CommandPath() + " takes only " + strings.Join(words, " ")
}

// needArgs takes exactly the named arguments, in order.
func needArgs(names ...string) cobra.PositionalArgs { return positional(names, nil) }

// optionalArg takes the named argument or none.
func optionalArg(name string) cobra.PositionalArgs { return positional(nil, []string{name}) }

// noArgs takes no arguments.
var noArgs = positional(nil, nil)

// refuseStrayWords makes every command under root, and root, refuse what
// cobra would let pass, as usage errors: a command that only groups others
// (muster drill) run alone or with a word that is none of its commands,
// which cobra answers with its help and exit code 0, so that `muster drill
// bogus` in a script seemed to work; and a command that declares no
// arguments given some. The arguments cobra's own commands (completion)
// refuse are usage errors too.
func refuseStrayWords(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		refuseStrayWords(sub)
	}
	switch {
	case cmd.HasSubCommands() && !cmd.Runnable():
		cmd.Args = subcommandArgs
		// Runnable, so that cobra checks the arguments rather than print
		// the help; subcommandArgs refuses every call that gets here.
		cmd.RunE = func(cmd *cobra.Command, args []string) error { return subcommandArgs(cmd, args) }
	case cmd.Args == nil:
		cmd.Args = noArgs
	default:
		check := cmd.Args
		cmd.Args = func(cmd *cobra.Command, args []string) error {
			err := check(cmd, args)
			if err != nil && exitCode(err) != exitUsage {
				err = usageError(err)
			}
			return err
		}
	}
}

// subcommandArgs refuses the arguments of a command that only groups
// others: they are either none (a command is missing) or an unknown one.
func subcommandArgs(cmd *cobra.Command, args []string) error {
	var names []string
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	if len(args) == 0 {
		return usageErrorf("missing command: %s takes one of %s", cmd.CommandPath(), strings.Join(names, ", "))
	}
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	msg := fmt.Sprintf("unknown command %q for %s", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
	}
	return usageError(errors.New(msg))
}

// flagError says what is wrong with a flag in the words of the command
// line: pflag's `invalid argument "x" for "--limit" flag: strconv.ParseInt:
// parsing "x": invalid syntax` becomes `--limit "x": want a whole number`.
func flagError(err error) error {
	var re *repeatedFlagError
	if errors.As(err, &re) {
		return re // the whole story already
	}
	var ie *pflag.InvalidValueError
	if errors.As(err, &ie) {
		return badFlagValue(ie.GetFlag(), ie.GetValue(), ie.Unwrap())
	}
	return err
}

// flagWants is what a flag of each pflag value type takes, in words.
var flagWants = map[string]string{
	"int":         "a whole number",
	"int64":       "a whole number",
	"uint":        "a whole number, 0 or more",
	"float64":     "a number",
	"bool":        "true or false",
	"duration":    "a duration such as 90s, 30m or 2h",
	"stringSlice": "values separated by commas",
}

// badFlagValue is the error of value given to f, which f's Set refused
// with cause: what the flag wants, for the types whose parser speaks Go
// (strconv.ParseInt: …), or else what the command's own value said.
func badFlagValue(f *pflag.Flag, value string, cause error) error {
	var we wantError
	if errors.As(cause, &we) {
		return fmt.Errorf("--%s %q: %w", f.Name, value, we)
	}
	if want, ok := flagWants[f.Value.Type()]; ok {
		return fmt.Errorf("--%s %q: want %s", f.Name, value, want)
	}
	return fmt.Errorf("--%s %q: %w", f.Name, value, cause)
}
