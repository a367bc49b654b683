// Command muster is the one binary of muster: the server (`dev`, `agent`) and
// every client verb, which talk HTTP to --addr.
package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func main() {
	cmd, err := newRoot().ExecuteC()
	if err != nil {
		code := exitCode(err)
		line := "muster: " + oneLine(unreadableAnswer(err))
		if code == exitUsage {
			line += usageHint(cmd)
		}
		fmt.Fprintln(os.Stderr, line)
		os.Exit(code)
	}
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// defaultAddr is where the client verbs look for a node without --addr:
// muster dev's default HTTP address.
const defaultAddr = "http://127.0.0.1:8080"

// globals are the flags every client verb shares.
type globals struct {
	addr        string
	token       string
	output      string
	consistency string
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "muster",
		Short: "muster: city emergency command, call-ups and drills (市域应急指挥与平战转换)",
		Long: `muster keeps emergency plans, regions, grids and mobilization rosters in a
replicated cluster, switches regions between normal and emergency mode, and
calls people up by SMS and voice.

Run a single-node cluster with demo data:   muster dev
Talk to a running cluster:                  muster plan list --addr http://127.0.0.1:8080 --token mst_...`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.addr, "addr", defaultAddr, "muster HTTP address (env MUSTER_ADDR)")
	pf.StringVar(&g.token, "token", "", "API token (env MUSTER_TOKEN)")
	pf.StringVarP(&g.output, "output", "o", "table", "output format: table or json")
	consistencyVar(pf, &g.consistency, "read consistency: stale, default or linearizable")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		addrFlag := "--addr"
		if !cmd.Flags().Changed("addr") {
			addrFlag = envName("addr")
		}
		if err := envDefaults(cmd.Flags()); err != nil {
			return err
		}
		if g.output != "table" && g.output != "json" {
			return usageErrorf("--output %q: want table or json", g.output)
		}
		if !runsANode(cmd) {
			var err error
			if g.addr, err = clientAddr(addrFlag, g.addr); err != nil {
				return err
			}
		}
		return nil
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError(flagError(err)) })
	root.AddCommand(
		newDevCmd(), newAgentCmd(), newTwilioSimCmd(),
		newRegionCmd(g), newPersonCmd(g), newRosterCmd(g), newPlanCmd(g),
		newClusterCmd(g), newTokenCmd(g), newWhoamiCmd(g), newBackupCmd(g), newAuditCmd(g),
		newActivateCmd(g), newApproveCmd(g), newRejectCmd(g), newRetractCmd(g), newStandDownCmd(g), newRecipientCmd(g), newModeCmd(g), newEndRecoveryCmd(g), newStatusCmd(g), newBoardCmd(g),
		newWarningCmd(g),
		newDrillCmd(g),
	)
	root.InitDefaultCompletionCmd() // now, so that refuseStrayWords covers it
	refuseStrayWords(root)
	return root
}

// runsANode reports whether cmd runs a node or the simulator (dev, agent,
// twilio-sim) rather than talking to one at --addr, which it ignores.
func runsANode(cmd *cobra.Command) bool {
	for c := cmd; c.HasParent(); c = c.Parent() {
		if !c.Parent().HasParent() {
			return slices.Contains([]string{"dev", "agent", "twilio-sim"}, c.Name())
		}
	}
	return false
}

// envName is the variable that sets flag name: MUSTER_<FLAG>, dashes as
// underscores.
func envName(flag string) string {
	return "MUSTER_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// envDefaults fills every flag the user did not set from MUSTER_<FLAG>
// (dashes become underscores), e.g. --node-id from MUSTER_NODE_ID.
func envDefaults(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		name := envName(f.Name)
		if v, ok := os.LookupEnv(name); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = usageErrorf("%s=%q: %w", name, v, flagError(serr))
			}
		}
	})
	return err
}

// unknownEnv lists, sorted, the MUSTER_ variables in environ (KEY=VALUE)
// that set no flag of fs: a misspelt one, say MUSTER_EXCERCISE_TWILIO_ACCOUNT_SID,
// is otherwise ignored without a word, and drills go to the simulator.
func unknownEnv(fs *pflag.FlagSet, environ []string) []string {
	known := map[string]bool{}
	fs.VisitAll(func(f *pflag.Flag) { known[envName(f.Name)] = true })
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "MUSTER_") && !known[name] {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
