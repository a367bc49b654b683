package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"muster"
	"muster/plans"
)

func newPlanCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "plan", Short: "Emergency plans (应急预案): validate, apply, list, show"}

	var file string
	validate := &cobra.Command{
		Use:   "validate -f FILE",
		Short: "Check a plan file offline (no server): syntax, fields, levels, templates",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, _, err := readInput(file)
			if err != nil {
				return err
			}
			src, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				return err
			}
			p, err := plans.DecodePlan(filepath.Base(file), src)
			if err != nil {
				var e *muster.Error
				if g.output == "json" && errors.As(err, &e) {
					printErrorJSON(cmd.OutOrStdout(), e.Code, e.Message, e.Details)
				} else {
					printProblems(cmd.OutOrStdout(), err)
				}
				return err
			}
			warnings := p.GuardWarnings()
			if g.output == "json" {
				out := map[string]any{"valid": true, "plan": p}
				if len(warnings) > 0 {
					out["warnings"] = warnings
				}
				return newClient(g, cmd).print(mustJSON(out), nil)
			}
			var levels []string
			for _, l := range p.Levels {
				levels = append(levels, string(l.Code))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid plan %s (%s), levels %s\n", file, p.ID, p.Title, strings.Join(levels, ","))
			for _, w := range warnings {
				fmt.Fprintf(cmd.OutOrStdout(), "warning: %s\n", w)
			}
			return nil
		},
	}
	validate.Flags().StringVarP(&file, "file", "f", "", "plan YAML file (- for stdin)")

	var (
		applyFile  string
		applyForce bool
	)
	apply := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Store a plan file as the plan's new version (nothing changes if it is identical)",
		Long: `Store a plan file as the plan's new version; an identical file changes nothing.
A file that drops a level a drill schedule uses is refused, naming the schedule
(it would fail at its next due time), unless --force is given.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c := newClient(g, cmd)
			q := url.Values{"filename": {filepath.Base(applyFile)}}
			if applyForce {
				q.Set("force", "true")
			}
			raw, err := c.postFile(applyFile, "/api/v1/plans", q, "application/yaml", 0)
			if err != nil {
				var ae *apiError
				if errors.As(err, &ae) && len(ae.Details) > 0 {
					var problems []plans.Problem
					switch {
					case json.Unmarshal(ae.Details, &problems) != nil:
					case g.output == "json":
						printErrorJSON(c.out, ae.Code, ae.Message, problems)
					default:
						printProblems(c.out, plans.ProblemsError(problems))
					}
				}
				return err
			}
			return c.print(raw, func(raw []byte, w io.Writer) error {
				var r plans.PlanApplyResult
				if err := json.Unmarshal(raw, &r); err != nil {
					return err
				}
				if r.Changed {
					fmt.Fprintf(w, "plan %s: version %d stored\n", r.PlanID, r.Version)
				} else {
					fmt.Fprintf(w, "plan %s: unchanged (version %d)\n", r.PlanID, r.Version)
				}
				for _, warning := range r.Warnings {
					fmt.Fprintf(w, "warning: %s\n", warning)
				}
				return nil
			})
		},
	}
	apply.Flags().StringVarP(&applyFile, "file", "f", "", "plan YAML file (- for stdin)")
	apply.Flags().BoolVar(&applyForce, "force", false, "store it even though it drops a level a drill schedule uses")

	var pf pageFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List plans with their latest version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return newClient(g, cmd).list("/api/v1/plans", nil, &pf, "ID\tVERSION\tHAZARD\tLEVELS\tTITLE", func(it json.RawMessage) (string, error) {
				var s plans.PlanSummary
				err := json.Unmarshal(it, &s)
				var levels []string
				for _, l := range s.Levels {
					levels = append(levels, string(l))
				}
				return fmt.Sprintf("%s\t%d\t%s\t%s\t%s", s.ID, s.Version, s.Hazard, strings.Join(levels, ","), s.Title), err
			})
		},
	}
	pf.add(list)

	var version int
	show := &cobra.Command{
		Use:   "show ID [--version N]",
		Short: "Show a plan (the latest version unless --version is given)",
		Args:  needArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkVersionFlag(cmd, version); err != nil {
				return err
			}
			path := "/api/v1/plans/" + url.PathEscape(args[0])
			if version > 0 {
				path += "/versions/" + strconv.Itoa(version)
			}
			return newClient(g, cmd).get(path, nil, func(raw []byte, w io.Writer) error {
				var v plans.PlanVersion
				if err := json.Unmarshal(raw, &v); err != nil {
					return err
				}
				p := v.Plan
				fmt.Fprintf(w, "plan:\t%s (version %d, %s by %s)\n", v.PlanID, v.Version, localTime(v.CreatedAt), v.CreatedBy)
				fmt.Fprintf(w, "title:\t%s\nhazard:\t%s (CAP %s)\n", p.Title, p.Hazard, p.CAPCategory)
				var scope []string
				for _, s := range p.Scope {
					scope = append(scope, string(s))
				}
				fmt.Fprintf(w, "scope:\t%s\n", strings.Join(scope, ","))
				for _, l := range p.Levels {
					roles := 0
					for _, gr := range l.Groups {
						roles += len(gr.Roles)
					}
					fmt.Fprintf(w, "level %s:\t%s — %s, %s, ack within %s, %s\n", l.Code, l.Name, count(len(l.Groups), "group", "groups"),
						count(roles, "role", "roles"), l.AckDeadline, count(l.Approvals, "approval", "approvals"))
				}
				return nil
			})
		},
	}
	show.Flags().IntVar(&version, "version", 0, "version number (default: latest)")
	cmd.AddCommand(validate, apply, list, show)
	return cmd
}

// checkVersionFlag refuses a --version given below 1: left out, it means the
// plan's latest version, but given as 0 or -1 it would silently mean the
// latest too, and the reader would take it for the version they asked for.
func checkVersionFlag(cmd *cobra.Command, version int) error {
	if cmd.Flags().Changed("version") && version < 1 {
		return usageErrorf("--version %d: plan versions are numbered from 1 (leave --version out for the latest)", version)
	}
	return nil
}

// printProblems lists a plan error's problems one per line.
func printProblems(w io.Writer, err error) {
	var e *muster.Error
	if !errors.As(err, &e) {
		return
	}
	if problems, ok := e.Details.([]plans.Problem); ok && len(problems) > 1 {
		for _, p := range problems {
			fmt.Fprintln(w, p.String())
		}
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
