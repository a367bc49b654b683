package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"muster/plans"
)

func newModeCmd(g *globals) *cobra.Command {
	var region string
	cmd := &cobra.Command{
		Use:   "mode [--region CODE]",
		Short: "Show region modes: 平时 normal, 临战 standby, 战时 emergency, 恢复 recovery",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c := newClient(g, cmd)
			if region != "" {
				return c.get("/api/v1/modes", url.Values{"region": {region}}, func(raw []byte, w io.Writer) error {
					var m plans.RegionMode
					if err := json.Unmarshal(raw, &m); err != nil {
						return err
					}
					printRegionMode(w, m)
					return nil
				})
			}
			return c.get("/api/v1/modes", nil, func(raw []byte, w io.Writer) error {
				var l struct {
					Items []plans.ModeRecord `json:"items"`
				}
				if err := json.Unmarshal(raw, &l); err != nil {
					return err
				}
				printModes(w, l.Items)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&region, "region", "", "show one region's effective mode")
	return cmd
}

// printRegionMode says one region's effective mode, where it comes from,
// and the warnings in force that hold it (or the regions above it) in
// standby.
func printRegionMode(w io.Writer, m plans.RegionMode) {
	from := "no region above it has a mode of its own"
	if m.From != "" {
		from = "from " + string(m.From)
	}
	fmt.Fprintf(w, "%s: %s (%s) %s (%s)\n", m.Region, m.Mode, m.Mode.ChineseName(), m.Level, from)
	if len(m.Warnings) > 0 {
		held := "held in standby by"
		if m.Mode == plans.ModeEmergency {
			held = "back to standby when the emergency ends, held by"
		}
		fmt.Fprintf(w, "%s %s\n", held, warningReasons(m.Warnings))
	}
}

// printModes lists the regions with a mode of their own. HELD BY names
// what holds each, activations then warnings; REASON is, for a region in
// standby, the warnings holding it, and otherwise the reason of the switch
// (the activation's).
func printModes(w io.Writer, items []plans.ModeRecord) {
	if len(items) == 0 {
		fmt.Fprintln(w, "every region is normal (平时)")
		return
	}
	fmt.Fprintln(w, "REGION\tMODE\tLEVEL\tSINCE\tBY\tHELD BY\tREASON")
	for _, m := range items {
		var holds []string
		for _, h := range m.Holds {
			holds = append(holds, string(h.Activation))
		}
		for _, h := range m.Warnings {
			holds = append(holds, string(h.Warning))
		}
		reason := m.Reason
		if m.Mode == plans.ModeStandby && len(m.Warnings) > 0 {
			reason = warningReasons(m.Warnings)
		}
		fmt.Fprintf(w, "%s\t%s %s\t%s\t%s\t%s\t%s\t%s\n", m.Region, m.Mode, m.Mode.ChineseName(), orDash(string(m.Level)),
			localTime(m.Since), m.By, joinList(holds), reason)
	}
}

// warningReasons names each warning hold with its level and headline.
func warningReasons(holds []plans.WarningHold) string {
	s := make([]string, len(holds))
	for i, h := range holds {
		s[i] = h.Reason()
	}
	return strings.Join(s, "; ")
}
