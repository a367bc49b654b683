package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
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

// newEndRecoveryCmd ends the recovery of regions: POST
// /api/v1/modes/{region}/end-recovery, several regions in one command. It
// is a verb of its own, as stand-down is: muster mode only shows.
func newEndRecoveryCmd(g *globals) *cobra.Command {
	var region, reason string
	cmd := &cobra.Command{
		Use:   "end-recovery --region CODE[,CODE] --reason TEXT",
		Short: "End the recovery (恢复) of regions: they are back to normal (平时)",
		Long: `A LIVE call-up's stand-down leaves its regions in recovery (恢复), the
post-emergency phase, until a commander decides it is over: end-recovery
ends it, with a reason kept in the audit trail. Each region must have a
recovery of its own (muster mode lists it): one under a warning's standby
(临战) ends too, and the region stays in standby, then normal when the
warning is lifted; one in recovery only through the region above it, in
emergency, or normal is refused, saying why, and then none of the regions
named ends.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			regions := codeList(region)
			if len(regions) == 0 || strings.TrimSpace(reason) == "" {
				return usageErrorf("--region and --reason are required")
			}
			codes := make([]string, len(regions))
			for i, r := range regions {
				codes[i] = string(r)
			}
			c := newClient(g, cmd)
			var raw []byte
			path := "/api/v1/modes/" + url.PathEscape(strings.Join(codes, ",")) + "/end-recovery"
			if err := c.postJSON(path, map[string]any{"reason": reason}, &raw); err != nil {
				return err
			}
			return c.print(raw, func(raw []byte, w io.Writer) error {
				var l struct {
					Items []plans.RegionMode `json:"items"`
				}
				if err := json.Unmarshal(raw, &l); err != nil {
					return err
				}
				for _, m := range l.Items {
					fmt.Fprintf(w, "%s: recovery ended (恢复结束); %s\n", m.Region, afterRecoveryEnd(m))
				}
				for _, m := range recoveriesBelow(c, regions) {
					fmt.Fprintf(w, "%s, below it, is still in its own recovery: %s; end it with muster end-recovery --region %s\n",
						m.Region, recoveryReason(m.Recovery), m.Region)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&region, "region", "", "the regions in recovery, comma-separated (all end, or none)")
	cmd.Flags().StringVar(&reason, "reason", "", "why the recovery is over (kept in the audit trail)")
	return cmd
}

// recoveriesBelow lists the regions below any of regions that are in
// recovery of their own (a street's older call-up under its district's):
// ending the district's does not end theirs. It reads the modes as the
// node has them, and the region tree up from each region in recovery;
// nothing when it cannot.
func recoveriesBelow(c *client, regions []plans.RegionCode) []plans.ModeRecord {
	var raw []byte
	if err := c.do(request{method: http.MethodGet, path: "/api/v1/modes"}, &raw); err != nil {
		return nil
	}
	var l struct {
		Items []struct {
			plans.ModeRecord
			Effective *plans.RegionMode `json:"effective"`
		} `json:"items"`
	}
	if json.Unmarshal(raw, &l) != nil {
		return nil
	}
	parents := map[plans.RegionCode]plans.RegionCode{}
	parent := func(code plans.RegionCode) (plans.RegionCode, bool) {
		if p, ok := parents[code]; ok {
			return p, true
		}
		var body []byte
		var r plans.Region
		if c.do(request{method: http.MethodGet, path: "/api/v1/regions/" + url.PathEscape(string(code))}, &body) != nil || json.Unmarshal(body, &r) != nil {
			return "", false
		}
		parents[code] = r.Parent
		return r.Parent, true
	}
	below := func(code plans.RegionCode) bool {
		for p, ok := parent(code); ok && p != ""; p, ok = parent(p) {
			if slices.Contains(regions, p) {
				return true
			}
		}
		return false
	}
	var out []plans.ModeRecord
	for _, m := range l.Items {
		if m.Mode != plans.ModeRecovery || m.Recovery == nil || (m.Effective != nil && m.Effective.Mode != plans.ModeRecovery) ||
			slices.Contains(regions, m.Region) || !below(m.Region) {
			continue
		}
		out = append(out, m.ModeRecord)
	}
	return out
}

// afterRecoveryEnd says what m, a region whose own recovery just ended, is
// in now: normal; still in standby, and what it goes to when the warnings
// are lifted; or in recovery through the region above it, and how to end
// that one.
func afterRecoveryEnd(m plans.RegionMode) string {
	mode := fmt.Sprintf("%s (%s)", m.Mode, m.Mode.ChineseName())
	if m.From != "" {
		mode += " from " + string(m.From)
	}
	switch {
	case m.Mode == plans.ModeStandby:
		then := "normal (平时)"
		if m.Recovery != nil {
			then = "recovery (恢复): " + recoveryReason(m.Recovery)
		}
		return fmt.Sprintf("still in %s, held by %s; once they are lifted, %s", mode, warningReasons(m.Warnings), then)
	case m.Mode == plans.ModeRecovery && m.Recovery != nil:
		return fmt.Sprintf("still in %s: %s; end it with muster end-recovery --region %s", mode, recoveryReason(m.Recovery), m.From)
	}
	return "now " + mode
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
	if r := m.Recovery; r != nil {
		if m.Mode == plans.ModeRecovery {
			fmt.Fprintf(w, "in recovery since %s (%s): %s; end it with muster end-recovery --region %s\n", localTime(r.Since), r.By, recoveryReason(r), m.From)
		} else {
			fmt.Fprintf(w, "back to recovery when the warnings are lifted: %s\n", recoveryReason(r))
		}
	}
}

// recoveryReason says where a recovery comes from: the activation stood
// down, and why.
func recoveryReason(r *plans.Recovery) string {
	return fmt.Sprintf("%s stood down: %s", r.Activation, r.Reason)
}

// printModes lists the regions with a mode of their own. BY is who
// switched each, with, for an activation that waited for approval, who
// approved it. HELD BY names
// what holds each, activations then warnings; REASON is, for a region in
// standby, the warnings holding it, for one in recovery the activation
// stood down and why, and otherwise the reason of the switch (the
// activation's).
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
		switch {
		case m.Mode == plans.ModeStandby && len(m.Warnings) > 0:
			reason = warningReasons(m.Warnings)
		case m.Mode == plans.ModeRecovery && m.Recovery != nil:
			reason = recoveryReason(m.Recovery)
		}
		by := m.By
		if m.ApprovedBy != "" {
			by += " (approved by " + m.ApprovedBy + ")"
		}
		fmt.Fprintf(w, "%s\t%s %s\t%s\t%s\t%s\t%s\t%s\n", m.Region, m.Mode, m.Mode.ChineseName(), orDash(string(m.Level)),
			localTime(m.Since), by, joinList(holds), reason)
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
