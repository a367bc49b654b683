package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A command line that is wrong is a usage error: exit code 2, one line that
// names what is wrong (in the command line's words, not a Go parser's) and
// ends with where the command's help is; nothing on standard output. A
// request that fails stays exit code 1.
func TestUsageErrors(t *testing.T) {
	env := []string{"MUSTER_ADDR=http://" + freePort(t), "MUSTER_TOKEN=mst_x"}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string // the problem, named
		help string // the command whose --help the line points to
	}{
		{"unknown subcommand", nil, []string{"drill", "bogus"}, `unknown command "bogus" for muster drill`, "muster drill"},
		{"unknown plan subcommand", nil, []string{"plan", "frobnicate"}, `unknown command "frobnicate" for muster plan`, "muster plan"},
		{"misspelt subcommand", nil, []string{"plan", "shw", "flood-control"}, `unknown command "shw" for muster plan (did you mean show?)`, "muster plan"},
		{"unknown nested subcommand", nil, []string{"drill", "finding", "bogus"}, `unknown command "bogus" for muster drill finding`, "muster drill finding"},
		{"unknown command", nil, []string{"frobnicate"}, `unknown command "frobnicate" for muster`, "muster"},
		{"subcommand missing", nil, []string{"drill", "finding"}, "missing command: muster drill finding takes one of add, list, open, update", "muster drill finding"},
		{"command missing", nil, nil, "missing command: muster takes one of activate,", "muster"},
		{"argument missing", nil, []string{"plan", "show"}, "missing argument ID", "muster plan show"},
		{"activate without a plan", nil, []string{"activate", "--region", "990101", "--level", "IV", "--purpose", "exercise", "--reason", "r", "--yes"}, "missing argument PLAN", "muster activate"},
		{"retract without an activation", nil, []string{"retract", "--message", "x"}, "missing argument ACTIVATION", "muster retract"},
		{"one argument too many", nil, []string{"plan", "show", "flood-control", "public-health"}, `unexpected argument "public-health": muster plan show takes only ID`, "muster plan show"},
		{"an argument to a command that takes none", nil, []string{"plan", "list", "flood-control"}, `unexpected argument "flood-control": muster plan list takes no arguments`, "muster plan list"},
		{"two activations", nil, []string{"status", "A000001", "A000002"}, `unexpected argument "A000002": muster status takes only [ACTIVATION]`, "muster status"},
		{"cobra's own command", nil, []string{"completion", "bash", "x"}, `unknown command "x"`, "muster completion bash"},
		{"unknown flag", nil, []string{"plan", "list", "--bogus"}, "unknown flag: --bogus", "muster plan list"},
		{"a number that is not one", nil, []string{"status", "--limit", "ten"}, `--limit "ten": want a whole number`, "muster status"},
		{"a version that is not a number", nil, []string{"plan", "show", "flood-control", "--version", "latest"}, `--version "latest": want a whole number`, "muster plan show"},
		{"neither true nor false", nil, []string{"drill", "overdue", "--all=maybe"}, `--all "maybe": want true or false`, "muster drill overdue"},
		{"a bad value from the environment", []string{"MUSTER_LIMIT=ten"}, []string{"plan", "list"}, `MUSTER_LIMIT="ten": --limit "ten": want a whole number`, "muster plan list"},
		{"a negative roster", nil, []string{"roster", "generate", "-n", "-5"}, "--people -5: want 0 or more", "muster roster generate"},
		{"a required flag left out", nil, []string{"warning", "lift", "W000001"}, "--reason is required", "muster warning lift"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, append(append([]string(nil), env...), tc.env...), tc.args...)
			oneLineError(t, r, 2, tc.want)
			assert.True(t, strings.HasSuffix(strings.TrimSpace(r.stderr), "; see '"+tc.help+" --help'"), "points to the help: %s", r.stderr)
			for _, internal := range []string{"strconv", "Parse", "invalid syntax", "arg(s)", `" flag`} {
				assert.NotContains(t, r.stderr, internal, "no parser's words")
			}
			assert.Empty(t, r.stdout, "no help on standard output")
		})
	}

	// A request that fails is not a usage error: exit code 1, no pointer
	// to the help.
	r := runCLI(t, env, "plan", "show", "flood-control")
	oneLineError(t, r, 1, "cannot reach muster")
	assert.NotContains(t, r.stderr, "--help")
	// Asking for help is not an error.
	r = runCLI(t, nil, "drill", "--help")
	assert.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "schedule")
}

// Every command refuses stray words as a usage error: one that groups
// others refuses a word that is none of them, and every other one checks
// its arguments — also a command added later.
func TestEveryCommandRefusesStrayWords(t *testing.T) {
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		require.NotNil(t, cmd.Args, "%s checks its arguments", cmd.CommandPath())
		if cmd.HasSubCommands() {
			err := cmd.Args(cmd, []string{"bogus"})
			assert.Equal(t, exitUsage, exitCode(err), "%s bogus: %v", cmd.CommandPath(), err)
			assert.Equal(t, exitUsage, exitCode(cmd.Args(cmd, nil)), "%s alone", cmd.CommandPath())
		}
		for _, sub := range cmd.Commands() {
			if sub.Name() != "help" { // cobra's: help TOPIC
				walk(sub)
			}
		}
	}
	walk(newRoot())
}
