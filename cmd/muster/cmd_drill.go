package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"muster/drills"
	"muster/plans"
)

func newDrillCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drill",
		Short: "Drills (演练): schedule, list, run, report, findings and what is overdue",
		Long: `A drill is an EXERCISE activation of a plan: it goes out on the exercise
account, every message starts with 【演练】, and it switches no region to
emergency. Schedules recur (--cron in --tz) or happen once (--at); an
unannounced (no-notice) drill (--unannounced 09:00-17:00) starts at a time
picked inside the window on the due day, which only admins can see in
advance. Each due time
runs exactly once across leader changes; a drill due while one of its
regions is in a live emergency (战时), or (from rules 13) in recovery (恢复)
after one, waits until the region is back to normal (平时).`,
	}
	cmd.AddCommand(newDrillScheduleCmd(g), newDrillChangeCmd(g), newDrillListCmd(g), newDrillShowCmd(g),
		newDrillUpdateCmd(g, "pause", "Pause a schedule: no run starts until it is resumed"),
		newDrillUpdateCmd(g, "resume", "Resume a paused schedule at its next due time (due times passed while paused are not run)"),
		newDrillUpdateCmd(g, "delete", "Delete a schedule (its runs and findings stay)"),
		newDrillRunCmd(g), newDrillStandDownCmd(g), newDrillRetractCmd(g), newDrillRunsCmd(g), newDrillReportCmd(g), newDrillTrendCmd(g), newDrillFindingCmd(g), newDrillOverdueCmd(g))
	return cmd
}

// newDrillStandDownCmd ends a drill run early: trainers may, without the
// right to stand down a LIVE call-up. A run stood down before it was held
// says so: it is then cut short, not a drill held.
func newDrillStandDownCmd(g *globals) *cobra.Command {
	var noNotice bool
	var cmd *cobra.Command
	cmd = newReasonCmd(g, "stand-down RUN --reason TEXT [--no-notice]",
		"End a drill run early: stand its call-up down (no more 【演练】 sends or escalations)",
		"why (kept in the audit trail)", func(id string) string { return "/api/v1/drill-runs/" + url.PathEscape(id) + "/stand-down" },
		func(body map[string]any) {
			if noNotice {
				body["notice"] = false
			}
		},
		func(raw []byte, w io.Writer, id string) error {
			var a struct {
				ID          string    `json:"id"`
				StartedAt   time.Time `json:"started_at"`
				StoodDownAt time.Time `json:"stood_down_at"`
			}
			if err := json.Unmarshal(raw, &a); err != nil {
				return err
			}
			fmt.Fprintf(w, "drill run %s stood down (activation %s)\n", id, a.ID)
			c := newClient(g, cmd)
			printEndNotice(c, w, raw, noNotice)
			// The run says how long it had to run to be held; the stand-down
			// is done whatever this read finds.
			var run drills.Run
			var rawRun []byte
			if c.do(request{method: http.MethodGet, path: "/api/v1/drill-runs/" + url.PathEscape(id)}, &rawRun) != nil ||
				json.Unmarshal(rawRun, &run) != nil || a.StoodDownAt.IsZero() {
				return nil
			}
			fmt.Fprint(w, cutShortLine(run, a.StartedAt, a.StoodDownAt))
			return nil
		})
	cmd.Long = fmt.Sprintf(`End a drill run early: its call-up stands down (no more 【演练】 sends or
escalations). A run stood down less than %s after it started is recorded as
cut short, not as a drill held: it does not count as its regions' last drill
in muster drill overdue, nor its silent people as roster failures; the answer
says so. From rules 13 the people the drill reached are told by SMS, under
【演练】, that it has ended (本次演练已结束，无需到岗，无需回复。); --no-notice
tells nobody, as muster stand-down --no-notice does (another call-up tells
them what stands).`, plans.Duration(drills.MinHeld))
	cmd.Flags().BoolVar(&noNotice, "no-notice", false, "tell nobody the drill ended (another call-up tells them what stands); by default the people it reached are told")
	return cmd
}

// newDrillRetractCmd corrects a wrong drill message: trainers may, without
// the right to retract a LIVE call-up.
func newDrillRetractCmd(g *globals) *cobra.Command {
	return newRetractCmdFor(g, "RUN", "Retract a drill run's call-up sent in error: stop its sends and send a 【演练】 correction to everyone it may have reached",
		`Retract a drill run's call-up, as muster retract does an activation's, with a
trainer's token: once the retraction commits nothing more of it is sent, and a
correction — 【演练】, the plan's sender prefix, 【更正】 and the call-up it
withdraws, TEXT, then 本短信无需回复 — goes on the exercise account to everyone
the drill may have reached. It takes no answers. --correct marks TEXT as a
corrected call-up rather than a cancellation; it still goes to the same
people and takes no answers: to call up other people or regions, start
another run (muster drill run). The correction's text is shown on standard
error before it commits; --dry-run shows it and retracts nothing.
Follow the correction with muster status on the ID printed.`,
		func(id string) string { return "/api/v1/drill-runs/" + url.PathEscape(id) + "/retract" })
}

// cutShortLine says, when run r stood down at down, having started at
// started (zero: when the run was recorded), before it was held, that it is
// cut short rather than a drill held; "" otherwise.
func cutShortLine(r drills.Run, started, down time.Time) string {
	if started.IsZero() {
		started = r.At
	}
	ran, held := down.Sub(started), r.HeldAfter()
	if ran >= held {
		return ""
	}
	return fmt.Sprintf("%s ran %s (< %s): recorded as cut short, not as a drill held; it does not count as a drill of %s (muster drill overdue)\n",
		r.ID, roundElapsed(ran), plans.Duration(held.Round(time.Second)), strings.Join(codeStrings(r.Regions), ","))
}

func newDrillScheduleCmd(g *globals) *cobra.Command {
	var in drills.ScheduleInput
	var regions, units string
	cmd := &cobra.Command{
		Use:   "schedule PLAN --region CODE[,CODE] --level I|II|III|IV --type TYPE (--cron EXPR | --at TIME) [--tz ZONE] [--unannounced HH:MM-HH:MM] [--title TEXT]",
		Short: "Schedule a drill of a plan: recurring (--cron) or one-off (--at), announced or unannounced",
		Long: `Schedule a drill. --type is notification (通讯演练, the default), tabletop
(桌面推演), functional (功能演练) or full-scale (实战演练). --cron takes the five
standard fields (minute hour day-of-month month day-of-week) or @daily,
@weekly…, read in --tz (default Asia/Shanghai): "0 9 * * 1" is 09:00 every
Monday. --at takes 2006-01-02 15:04 in --tz, or RFC 3339. --catch-up says what
happens to due times missed while the whole cluster was down: skip (default)
records them missed; once runs the latest if it is no older than
--catch-up-within. Each run's call-up is stood down after --length.
--unannounced 09:00-17:00 makes it an unannounced (no-notice) drill: each run
starts at a time picked inside the window on the due day, shown to admins
only. (--unannounced was --no-notice, which still works but is deprecated:
on stand-down it means telling nobody that a call-up ended.)`,
		Args: needArgs("PLAN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := oneWindowFlag(cmd); err != nil {
				return err
			}
			in.Plan = plans.PlanID(strings.TrimSpace(args[0]))
			in.Regions = splitCodes(regions)
			if len(in.Regions) == 0 || in.Level == "" {
				return usageErrorf("--region and --level are required")
			}
			switch {
			case in.Cron != "" && in.At != "":
				return usageErrorf("give --cron for a recurring drill or --at for a one-off, not both")
			case in.Cron == "" && in.At == "":
				return usageErrorf("give --cron for a recurring drill or --at for a one-off")
			}
			if in.At != "" {
				if err := atChecked(in.At, in.TimeZone); err != nil {
					return err
				}
			}
			if u := splitUnits(units); len(u) > 0 {
				in.Units = u
			}
			c := newClient(g, cmd)
			var raw []byte
			if err := c.postJSON("/api/v1/drills", in, &raw); err != nil {
				return err
			}
			return c.print(raw, as(func(w io.Writer, s drills.Schedule) { printScheduled(w, s, "scheduled") }))
		},
	}
	scheduleFlags(cmd.Flags(), &in, &regions, &units, true)
	return cmd
}

// scheduleFlags defines on f the flags of what a drill schedule holds, for
// drill schedule (with its defaults) and drill update (without: only the
// flags given change).
func scheduleFlags(f *pflag.FlagSet, in *drills.ScheduleInput, regions, units *string, defaults bool) {
	def := func(v string) string {
		if defaults {
			return v
		}
		return ""
	}
	f.StringVar(regions, "region", "", "region codes, comma-separated")
	levelVar(f, &in.Level, "response level: I, II, III or IV")
	checkedVar(f, &in.Type, "type", def("notification"), "exercise type: notification, tabletop, functional or full-scale", wantExercise, parses(drills.ParseExerciseType))
	f.StringVar(&in.Title, "title", "", "the scenario, e.g. 防汛通讯演练, the reason of every run (default: the plan's title and the type)")
	cronVar(f, &in.Cron, `cron expression in --tz, e.g. "0 9 * * 1"`)
	f.StringVar(&in.At, "at", "", "one-off time: 2006-01-02 15:04 in --tz, or RFC 3339")
	zoneVar(f, &in.TimeZone, def(drills.DefaultTimeZone), "IANA time zone of --cron, --at and --unannounced")
	checkedVar(f, &in.NoNotice, "unannounced", "", "an unannounced drill: the window on the due day its start is picked in, e.g. 09:00-17:00", wantWindow, parses(drills.ParseWindow))
	// --no-notice was --unannounced's name; on stand-down it means telling
	// nobody, so it is kept for those who use it, hidden and deprecated.
	checkedVar(f, &in.NoNotice, "no-notice", "", "old name of --unannounced", wantWindow, parses(drills.ParseWindow))
	_ = f.MarkDeprecated("no-notice", "use --unannounced (the same window)")
	checkedVar(f, &in.CatchUp, "catch-up", def("skip"), "missed due times: skip, or once (run the latest within --catch-up-within)", "skip or once", parses(drills.ParseCatchUp))
	checkedVar(f, &in.CatchUpWithin, "catch-up-within", "", "with --catch-up once: how late a missed drill may still run, e.g. 4h", wantDuration, positiveDuration)
	checkedVar(f, &in.Length, "length", "", "how long each run's call-up stays open (default 1h, at least 15m: a shorter run is no drill held, at most 24h)", wantDuration, positiveDuration)
	f.StringVar(&in.ConfirmScope, "confirm-scope", "", "confirm a scope wider than the plan expects by naming the regions")
	f.StringVar(units, "units", "", "participating units (参演单位), comma-separated")
	takeOnce(f, "region", "level", "type", "cron", "at", "tz", "unannounced", "no-notice", "length")
}

// oneWindowFlag refuses --unannounced with its old name --no-notice: the
// one given last would win unsaid.
func oneWindowFlag(cmd *cobra.Command) error {
	if cmd.Flags().Changed("unannounced") && cmd.Flags().Changed("no-notice") {
		return usageErrorf("--no-notice is the old name of --unannounced: give --unannounced only")
	}
	return nil
}

// splitUnits is --units as a list: comma-separated, blanks left out.
func splitUnits(s string) []string {
	out := []string{}
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// atChecked refuses an --at the server would not read, naming --tz's zone
// (default Asia/Shanghai): a usage error before anything is asked.
func atChecked(at, tz string) error {
	zone := cmp.Or(strings.TrimSpace(tz), drills.DefaultTimeZone)
	loc, err := time.LoadLocation(zone) // --tz was checked as it was read
	if err == nil {
		_, err = drills.ParseTime(at, loc)
	}
	if err != nil {
		return usageErrorf("--at %q: want 2006-01-02 15:04 in --tz (%s), or an RFC 3339 time", at, zone)
	}
	return nil
}

// printScheduled writes a schedule as scheduling or changing it answers:
// what it is, when it next runs, and the server's warnings.
func printScheduled(w io.Writer, s drills.Schedule, done string) {
	fmt.Fprintf(w, "drill %s %s: %s, %s level %s over %s\n", s.ID, done, s.Title, s.Type.ChineseName(), s.Level, strings.Join(codeStrings(s.Regions), ","))
	fmt.Fprintf(w, "next:\t%s\n", nextCell(s))
	for _, warn := range s.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
}

func newDrillChangeCmd(g *globals) *cobra.Command {
	var in drills.ScheduleInput
	var plan, regions, units string
	cmd := &cobra.Command{
		Use:   "update ID [--plan PLAN] [--region CODE[,CODE]] [--level L] [--type TYPE] [--title TEXT] [--cron EXPR | --at TIME] [--tz ZONE] [--unannounced HH:MM-HH:MM] [--length D] [...]",
		Short: "Change a drill schedule in place: only the flags given change; it keeps its ID, runs and findings",
		Long: `Change a drill schedule. The flags are drill schedule's, with --plan for
the plan; only those given change. --cron makes a one-off recurring and --at a
recurring drill a one-off. An empty --title names the drill for its plan and
type, an empty --unannounced makes it announced, an empty --length is the
default (1h), and an empty --confirm-scope or --units clears it. The schedule
keeps its ID, its runs, missed count and findings. New due times (--cron,
--at, --tz, --unannounced) start at the first after the change; otherwise its
next run stays. A run of it open now goes on as it started: the change applies
from the next run. The answer is checked and warned of as drill schedule's.`,
		Args: needArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := oneWindowFlag(cmd); err != nil {
				return err
			}
			var ch drills.ScheduleChange
			changed := cmd.Flags().Changed
			str := func(name string, v *string, to **string) {
				if changed(name) {
					*to = v
				}
			}
			if changed("plan") {
				p := plans.PlanID(strings.TrimSpace(plan))
				ch.Plan = &p
			}
			if changed("region") {
				r := splitCodes(regions)
				ch.Regions = &r
			}
			if changed("units") {
				u := splitUnits(units)
				ch.Units = &u
			}
			str("level", &in.Level, &ch.Level)
			str("type", &in.Type, &ch.Type)
			str("title", &in.Title, &ch.Title)
			str("cron", &in.Cron, &ch.Cron)
			str("at", &in.At, &ch.At)
			str("tz", &in.TimeZone, &ch.TimeZone)
			str("unannounced", &in.NoNotice, &ch.NoNotice)
			str("no-notice", &in.NoNotice, &ch.NoNotice)
			str("catch-up", &in.CatchUp, &ch.CatchUp)
			str("catch-up-within", &in.CatchUpWithin, &ch.CatchUpWithin)
			str("length", &in.Length, &ch.Length)
			str("confirm-scope", &in.ConfirmScope, &ch.ConfirmScope)
			switch {
			case ch == (drills.ScheduleChange{}):
				return usageErrorf("nothing to change: give a flag of drill schedule (--cron, --length, --level, --region, --title, …) or --plan")
			case ch.Regions != nil && len(*ch.Regions) == 0:
				return usageErrorf("--region: name at least one region")
			case strings.TrimSpace(in.Cron) != "" && strings.TrimSpace(in.At) != "":
				return usageErrorf("give --cron for a recurring drill or --at for a one-off, not both")
			}
			if strings.TrimSpace(in.At) != "" {
				// Read in --tz when given; the schedule's own zone is the
				// server's to apply.
				if err := atChecked(in.At, in.TimeZone); err != nil {
					return err
				}
			}
			c := newClient(g, cmd)
			var raw []byte
			if err := c.do(request{method: http.MethodPatch, path: "/api/v1/drills/" + url.PathEscape(args[0]),
				body: strings.NewReader(string(mustJSON(ch))), contentType: "application/json"}, &raw); err != nil {
				return err
			}
			return c.print(raw, as(func(w io.Writer, s drills.Schedule) { printScheduled(w, s, "updated") }))
		},
	}
	f := cmd.Flags()
	f.StringVar(&plan, "plan", "", "the plan to drill")
	scheduleFlags(f, &in, &regions, &units, false)
	takeOnce(f, "plan")
	return cmd
}

func splitCodes(s string) []plans.RegionCode {
	var out []plans.RegionCode
	for _, r := range strings.Split(s, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, plans.RegionCode(r))
		}
	}
	return out
}

func codeStrings[S ~string](in []S) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = string(s)
	}
	return out
}

// nextCell says when a schedule next runs, as far as the reader may know.
func nextCell(s drills.Schedule) string {
	switch {
	case s.Paused:
		return "paused"
	case s.Due.IsZero():
		return "none (done)"
	case s.Postponed != nil:
		return fmt.Sprintf("POSTPONED since %s: %s", inZone(s.Postponed.Since, s.TimeZone), s.Postponed.Reason)
	case s.NoNotice != nil && s.RunAt.IsZero():
		loc, _ := time.LoadLocation(s.TimeZone)
		if loc == nil {
			loc = time.Local
		}
		return fmt.Sprintf("%s, no notice between %s (%s)", s.Due.In(loc).Format("2006-01-02"), s.NoNotice, s.TimeZone)
	case s.NoNotice != nil:
		return fmt.Sprintf("%s (no notice, picked in %s; shown to admins only)", inZone(s.RunAt, s.TimeZone), s.NoNotice)
	}
	return inZone(s.RunAt, s.TimeZone)
}

func whenCell(s drills.Schedule) string {
	if s.Cron != "" {
		return fmt.Sprintf("%q %s", s.Cron, s.TimeZone)
	}
	return "once " + inZone(s.At, s.TimeZone)
}

func newDrillListCmd(g *globals) *cobra.Command {
	var pf pageFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List drill schedules with their next run; postponed ones say why",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return newClient(g, cmd).list("/api/v1/drills", nil, &pf, "ID\tPLAN\tLEVEL\tTYPE\tREGIONS\tWHEN\tNEXT\tRUNS\tMISSED\tTITLE", func(it json.RawMessage) (string, error) {
				var s drills.Schedule
				if err := json.Unmarshal(it, &s); err != nil {
					return "", err
				}
				return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s", s.ID, s.Plan, s.Level, s.Type, strings.Join(codeStrings(s.Regions), ","),
					whenCell(s), nextCell(s), s.Runs, s.Missed, s.Title), nil
			})
		},
	}
	pf.add(cmd)
	return cmd
}

func newDrillShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a drill schedule: plan, regions, when, next run, postponement, runs",
		Args:  needArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := newClient(g, cmd)
			return c.get("/api/v1/drills/"+url.PathEscape(args[0]), nil, as(func(w io.Writer, s drills.Schedule) {
				fmt.Fprintf(w, "drill:\t%s %s\n", s.ID, s.Title)
				fmt.Fprintf(w, "plan:\t%s level %s, %s (%s)\n", s.Plan, s.Level, s.Type, s.Type.ChineseName())
				fmt.Fprintf(w, "regions:\t%s\n", strings.Join(codeStrings(s.Regions), ","))
				fmt.Fprintf(w, "when:\t%s\n", whenCell(s))
				if s.NoNotice != nil {
					fmt.Fprintf(w, "no notice:\tstarts at a picked time between %s on the due day\n", s.NoNotice)
				}
				fmt.Fprintf(w, "next:\t%s\n", nextCell(s))
				if s.CatchUp == drills.CatchUpOnce {
					fmt.Fprintf(w, "catch-up:\tonce, within %s\n", s.CatchUpWithin)
				} else {
					fmt.Fprintf(w, "catch-up:\t%s\n", s.CatchUp)
				}
				fmt.Fprintf(w, "length:\t%s\n", s.RunLength())
				if len(s.Units) > 0 {
					fmt.Fprintf(w, "units:\t%s\n", strings.Join(s.Units, "、"))
				}
				fmt.Fprintf(w, "runs:\t%d started, %d missed, last %s\n", s.Runs, s.Missed, orDash(string(s.LastRun)))
				fmt.Fprintf(w, "created:\t%s by %s\n", inZone(s.CreatedAt, s.TimeZone), s.CreatedBy)
			}))
		},
	}
}

func newDrillUpdateCmd(g *globals, action, short string) *cobra.Command {
	return &cobra.Command{
		Use:   action + " ID",
		Short: short,
		Args:  needArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := newClient(g, cmd)
			r := request{method: http.MethodPost, path: "/api/v1/drills/" + url.PathEscape(args[0]) + "/" + action}
			if action == "delete" {
				r = request{method: http.MethodDelete, path: "/api/v1/drills/" + url.PathEscape(args[0])}
			}
			var raw []byte
			if err := c.do(r, &raw); err != nil {
				return err
			}
			return c.print(raw, as(func(w io.Writer, s drills.Schedule) {
				switch action {
				case "delete":
					fmt.Fprintf(w, "drill %s deleted; its %s\n", s.ID, count(s.Runs+s.Missed, "run stays", "runs stay"))
				default:
					fmt.Fprintf(w, "drill %s %sd; next: %s\n", s.ID, action, nextCell(s))
				}
			}))
		},
	}
}

func newDrillRunCmd(g *globals) *cobra.Command {
	var duringRecovery bool
	cmd := &cobra.Command{
		Use:   "run ID [--during-recovery]",
		Short: "Run a drill now: an EXERCISE activation on the exercise account, every message marked 【演练】",
		Long: `Run a drill now, whatever its due times: an EXERCISE activation on the
exercise account, every message marked 【演练】. It is refused while one of its
regions (or a region above or below one) is in a live emergency (战时), while
a run of it, or another drill's run over the same people, is open, and, from
rules 13, while such a region is in recovery (恢复) after a live emergency:
the people just called up for real may still be at work on it, and a
scheduled run of the drill waits until the region is back to normal (平时).
--during-recovery runs it during the recovery all the same, on purpose (a
drill of the recovery itself, say): the answer warns of each region in
recovery, and muster drill runs notes the run "during recovery".`,
		Args: needArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := newClient(g, cmd)
			r := request{method: http.MethodPost, path: "/api/v1/drills/" + url.PathEscape(args[0]) + "/run", timeout: 3 * time.Minute}
			if duringRecovery {
				r.body, r.contentType = strings.NewReader(string(mustJSON(drills.RunOptions{DuringRecovery: true}))), "application/json"
			}
			var raw []byte
			if err := c.do(r, &raw); err != nil {
				return err
			}
			return c.print(raw, as(printRun))
		},
	}
	cmd.Flags().BoolVar(&duringRecovery, "during-recovery", false, "run it although a region is in recovery (恢复) after a live emergency (refused without it from rules 13)")
	return cmd
}

func printRun(w io.Writer, r drills.Run) {
	switch r.Status {
	case drills.RunStarted:
		fmt.Fprintf(w, "drill run %s started: activation %s calls %s (EXERCISE, %s)\n", r.ID, r.Activation, count(r.Participants, "person", "people"), purposeMark("EXERCISE"))
		fmt.Fprintf(w, "watch it: muster status %s --watch; it is stood down at %s\n", r.Activation, runTime(r)(r.EndsAt))
		for _, warn := range r.Warnings {
			fmt.Fprintf(w, "warning: %s\n", warn)
		}
	default:
		fmt.Fprintf(w, "drill run %s %s: %s\n", r.ID, r.Status, r.Error)
	}
}

// runTime shows a time of run r, to the minute, in its schedule's zone, as
// the schedule's own times are shown; a run recorded before runs kept
// their schedule's zone shows it in the machine's zone.
// tableZone is how a table of drill runs shows their times: in their
// schedules' zone when all that name one share it (as drill run shows a
// run's; a run recorded before runs kept their schedule's zone names
// none), otherwise in the machine's zone, as the CLI's other tables do —
// one zone for the whole table, so that its rows read in time order
// whatever zone each schedule was made in.
func tableZone(zones []string) func(time.Time) string {
	zone := ""
	for _, z := range zones {
		switch {
		case z == "":
		case zone == "":
			zone = z
		case z != zone:
			return localTime
		}
	}
	if zone == "" {
		return localTime
	}
	return func(t time.Time) string { return inZone(t, zone) }
}

func runTime(r drills.Run) func(time.Time) string {
	if r.TimeZone == "" {
		return localTime
	}
	return func(t time.Time) string { return inZone(t, r.TimeZone) }
}

func newDrillRunsCmd(g *globals) *cobra.Command {
	var (
		pf                     pageFlags
		schedule, plan, status string
	)
	cmd := &cobra.Command{
		Use:   "runs [--schedule ID] [--plan PLAN] [--status started|missed|failed]",
		Short: "List drill runs, oldest first: started, missed and failed",
		Long: fmt.Sprintf(`List drill runs, oldest first. STATUS is started, missed or failed; OUTCOME
says what became of a run that started: running (its call-up still active),
held, cut_short (stood down less than %s after it started), stopped_by_live (a
LIVE call-up over its regions stood it down), retracted, or simulated (sent
through the built-in simulator, the leader having no EXERCISE SMS account: no
phone was reached; NOTE says so while it runs too).
Only a run held counts as a drill of its regions (muster drill overdue).`, plans.Duration(drills.MinHeld)),
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"schedule": schedule, "plan": plan, "status": status} {
				if v != "" {
					q.Set(k, v)
				}
			}
			// One zone for the whole table (tableZone), chosen from every
			// run listed before the first row is written.
			var at func(time.Time) string
			return newClient(g, cmd).listAll("/api/v1/drill-runs", q, &pf, "ID\tSCHEDULE\tPLAN\tTYPE\tSTATUS\tDUE\tAT\tACTIVATION\tPEOPLE\tOUTCOME\tNOTE", func(items []json.RawMessage) error {
				zones := make([]string, 0, len(items))
				for _, it := range items {
					var r drills.Run
					if err := json.Unmarshal(it, &r); err != nil {
						return err
					}
					zones = append(zones, r.TimeZone)
				}
				at = tableZone(zones)
				return nil
			}, func(it json.RawMessage) (string, error) {
				var r drills.Run
				if err := json.Unmarshal(it, &r); err != nil {
					return "", err
				}
				note := r.Error
				switch {
				case r.Retracted:
					note = strings.TrimSpace("retracted " + note)
				case r.StoppedBy != "":
					note = strings.TrimSpace("stopped by LIVE " + string(r.StoppedBy) + " " + note)
				}
				switch {
				case r.Manual && r.DuringRecovery:
					note = strings.TrimSpace("by hand during recovery " + note)
				case r.Manual:
					note = strings.TrimSpace("by hand " + note)
				}
				if r.Waited > 0 {
					note = strings.TrimSpace(fmt.Sprintf("waited %s for %s %s", roundElapsed(r.Waited.Std()), drills.WaitedWhat(r.WaitedFor), note))
				}
				if r.Simulated {
					note = strings.TrimSpace("模拟器发送，未到达任何手机 (built-in simulator: no phone was reached) " + note)
				}
				return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s", r.ID, orDash(string(r.Schedule)), r.Plan, r.Type, r.Status,
					at(r.Due), at(r.At), orDash(string(r.Activation)), r.Participants, orDash(r.Outcome), orDash(note)), nil
			})
		},
	}
	pf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&schedule, "schedule", "", "only runs of this schedule")
	f.StringVar(&plan, "plan", "", "only runs of this plan")
	checkedVar(f, &status, "status", "", "started, missed or failed", wantRunStatus, oneOf(string(drills.RunStarted), string(drills.RunMissed), string(drills.RunFailed)))
	return cmd
}

// as decodes an API answer into a T for a table printer, so each command
// only says how a T is shown.
func as[T any](show func(w io.Writer, v T)) func(raw []byte, w io.Writer) error {
	return func(raw []byte, w io.Writer) error {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		show(w, v)
		return nil
	}
}

// listOf is the shape of an API list answer.
type listOf[T any] struct {
	Items []T `json:"items"`
}

func newDrillFindingCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "finding",
		Short: "After-action findings (AAR) and improvement items (IP) of drill runs",
		Long: `A finding records what happened in a drill run and what should change, with
an owner, a due date and a status: open, in_progress, done or dropped.`,
	}
	cmd.AddCommand(newFindingAddCmd(g), newFindingUpdateCmd(g), newFindingListCmd(g), newFindingOpenCmd(g))
	return cmd
}

func printFinding(w io.Writer, f drills.Finding) {
	fmt.Fprintf(w, "finding %s of run %s (plan %s): %s\n", f.ID, f.Run, f.Plan, f.Status)
	fmt.Fprintf(w, "what:\t%s\n", f.What)
	fmt.Fprintf(w, "change:\t%s\n", f.Change)
	fmt.Fprintf(w, "owner:\t%s\n", orDash(f.Owner))
	fmt.Fprintf(w, "due:\t%s\n", orDash(string(f.Due)))
}

func newFindingAddCmd(g *globals) *cobra.Command {
	var in drills.FindingInput
	cmd := &cobra.Command{
		Use:   "add RUN --what TEXT --change TEXT [--owner NAME] [--due 2006-01-02]",
		Short: "Record a finding of a drill run with its improvement item",
		Args:  needArgs("RUN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(in.What) == "" || strings.TrimSpace(in.Change) == "" {
				return usageErrorf("--what and --change are required")
			}
			c := newClient(g, cmd)
			var raw []byte
			if err := c.postJSON("/api/v1/drill-runs/"+url.PathEscape(args[0])+"/findings", in, &raw); err != nil {
				return err
			}
			return c.print(raw, as(printFinding))
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.What, "what", "", "what happened")
	f.StringVar(&in.Change, "change", "", "what should change (the improvement item)")
	f.StringVar(&in.Owner, "owner", "", "who owns the change")
	dueVar(f, &in.Due, "when it is due, 2006-01-02")
	findingStatusVar(f, &in.Status, "open (default), in_progress, done or dropped")
	return cmd
}

func newFindingUpdateCmd(g *globals) *cobra.Command {
	var what, change, owner, due, status string
	cmd := &cobra.Command{
		Use:   "update ID [--status S] [--owner NAME] [--due 2006-01-02] [--what TEXT] [--change TEXT]",
		Short: "Change a finding: only the flags given change (an empty --owner or --due clears it)",
		Args:  needArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var u drills.FindingUpdate
			set := func(name string, v *string, to **string) {
				if cmd.Flags().Changed(name) {
					*to = v
				}
			}
			set("what", &what, &u.What)
			set("change", &change, &u.Change)
			set("owner", &owner, &u.Owner)
			set("due", &due, &u.Due)
			set("status", &status, &u.Status)
			if u == (drills.FindingUpdate{}) {
				return usageErrorf("nothing to change: give --status, --owner, --due, --what or --change")
			}
			c := newClient(g, cmd)
			var raw []byte
			if err := c.do(request{method: http.MethodPatch, path: "/api/v1/drill-findings/" + url.PathEscape(args[0]),
				body: strings.NewReader(string(mustJSON(u))), contentType: "application/json"}, &raw); err != nil {
				return err
			}
			return c.print(raw, as(printFinding))
		},
	}
	f := cmd.Flags()
	f.StringVar(&what, "what", "", "what happened")
	f.StringVar(&change, "change", "", "what should change")
	f.StringVar(&owner, "owner", "", "who owns the change (empty clears)")
	dueVar(f, &due, "when it is due, 2006-01-02 (empty clears)")
	findingStatusVar(f, &status, "open, in_progress, done or dropped")
	return cmd
}

func newFindingListCmd(g *globals) *cobra.Command {
	var (
		pf                pageFlags
		run, plan, status string
		open              bool
	)
	cmd := &cobra.Command{
		Use:   "list [--run RUN] [--plan PLAN] [--status S] [--open]",
		Short: "List findings by ID",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"run": run, "plan": plan, "status": status} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if open {
				q.Set("open", "true")
			}
			return newClient(g, cmd).list("/api/v1/drill-findings", q, &pf, "ID\tRUN\tPLAN\tSTATUS\tOWNER\tDUE\tWHAT\tCHANGE", func(it json.RawMessage) (string, error) {
				var f drills.Finding
				if err := json.Unmarshal(it, &f); err != nil {
					return "", err
				}
				return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", f.ID, f.Run, f.Plan, f.Status, orDash(f.Owner), orDash(string(f.Due)), f.What, f.Change), nil
			})
		},
	}
	pf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&run, "run", "", "only this run's")
	f.StringVar(&plan, "plan", "", "only this plan's")
	findingStatusVar(f, &status, "open, in_progress, done or dropped")
	f.BoolVar(&open, "open", false, "only open and in_progress")
	return cmd
}

func newFindingOpenCmd(g *globals) *cobra.Command {
	var plan string
	cmd := &cobra.Command{
		Use:   "open [--plan PLAN]",
		Short: "Open improvement items per plan, by due date; overdue ones marked !!",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if plan != "" {
				q.Set("plan", plan)
			}
			return newClient(g, cmd).get("/api/v1/drill-findings/open", q, as(func(w io.Writer, out listOf[drills.PlanFindings]) {
				if len(out.Items) == 0 {
					fmt.Fprintln(w, "no open improvement items")
					return
				}
				fmt.Fprintln(w, "PLAN\tID\tRUN\tSTATUS\tDUE\tOWNER\tCHANGE")
				for _, p := range out.Items {
					for _, f := range p.Items {
						due := orDash(string(f.Due))
						if f.Overdue {
							due = fmt.Sprintf("!! %s (%s late)", f.Due, count(f.DaysOverdue, "day", "days"))
						}
						fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Plan, f.ID, f.Run, f.Status, due, orDash(f.Owner), f.Change)
					}
				}
			}))
		},
	}
	cmd.Flags().StringVar(&plan, "plan", "", "only this plan")
	return cmd
}

func newDrillOverdueCmd(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "overdue [--all]",
		Short: "Plans and regions not drilled within their required interval, and roster entries the last drills found broken",
		Long: `Each plan says how often it must be drilled (drills: {full: 3y, notification: 1y}
by default): a full exercise (tabletop, functional or full-scale) and a
notification drill. Lists every region of a plan's scope that is overdue
(--all: every region), then the people whose number failed in the plan's last
drill (wrong number, landline, other failure) or who answered in neither of
the last two. A run counts for a region when it called up that region, one
above it or one under it; a run over a part of the region only (one district
of a city-wide plan) is shown with the regions it called up ("over 990106
only"), and the regions under it that no such drill ever covered ("never
drilled: 990101,990102"): the rest of the region was not drilled by it. A
run cut short does not count, nor does one the leader sent through the
built-in simulator (模拟器发送，未到达任何手机: no EXERCISE SMS account; muster
drill runs shows it simulated): no phone was reached, so nobody was drilled,
and the people silent in it are not listed.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return newClient(g, cmd).get("/api/v1/drills/overdue", nil, as(func(w io.Writer, rep drills.OverdueReport) {
				due := func(d drills.DrillDue) string {
					// A run over a part of the region (one district of the
					// city) says which: the rest was not drilled by it.
					over, never := "", ""
					if d.Partial {
						over = " over " + strings.Join(codeStrings(d.LastRegions), ",") + " only"
					}
					if len(d.NeverDrilled) > 0 {
						// The regions under it no such drill ever covered.
						never = "; never drilled: " + strings.Join(codeStrings(d.NeverDrilled), ",")
					}
					switch {
					case d.Never:
						return fmt.Sprintf("!! never (every %s)", d.Interval)
					case d.Overdue:
						return fmt.Sprintf("!! %s late: last %s%s %s%s", count(d.DaysOverdue, "day", "days"), d.LastRun, over, localTime(d.LastAt), never)
					}
					return fmt.Sprintf("due %s (last %s%s%s)", localTime(d.NextDue), d.LastRun, over, never)
				}
				shown := 0
				fmt.Fprintln(w, "PLAN\tREGION\tFULL EXERCISE\tNOTIFICATION DRILL")
				for _, r := range rep.Regions {
					if !all && !r.Overdue {
						continue
					}
					shown++
					fmt.Fprintf(w, "%s\t%s %s\t%s\t%s\n", r.Plan, r.Region, r.RegionName, due(r.Full), due(r.Notification))
				}
				if shown == 0 {
					fmt.Fprintln(w, "-\tevery region of every plan was drilled in time\t\t")
				}
				if len(rep.Roster) > 0 {
					fmt.Fprintln(w)
					fmt.Fprintln(w, "PLAN\tPERSON\tNAME\tPHONE\tGRID\tPROBLEM\tRUNS")
					for _, f := range rep.Roster {
						note := f.Reason
						if f.PhoneChanged {
							note += " (phone changed since)"
						}
						if f.Removed {
							note += " (no longer in the roster)"
						}
						fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Plan, f.Person, f.Name, f.Phone, f.Grid, note, strings.Join(codeStrings(f.Runs), ","))
					}
				}
			}))
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "list every region, not only overdue ones")
	return cmd
}

func newDrillReportCmd(g *globals) *cobra.Command {
	var format, lang, out string
	cmd := &cobra.Command{
		Use:   "report RUN [--format html|csv|json|xlsx] [--lang zh|en] [--out FILE]",
		Short: "A drill run's report: reached, acknowledged and declined at T+5/15/30, time to ack, per region, grid, role and category",
		Long: `Writes a run's report to standard output, or to --out FILE. Without --out
and --format, a terminal gets a short summary instead (recipients reached,
acknowledged, declined and silent, the counts at T+5/15/30) and the command
that writes the report; piped, the report is written. html (the default)
is one self-contained page (inline SVG ack curve and per-grid bars) that
prints on A4; csv has one row per recipient (UTF-8 with BOM, opens in a
spreadsheet); xlsx is that table as an Excel workbook (one sheet, header
frozen; needs --out or standard output that is not a terminal); json is the
metrics. Without --format, an --out file named .html, .csv, .json or .xlsx
says which; a file named for anything else is refused. With -o json (or
MUSTER_OUTPUT=json) and neither, it is json; -o json with another --format
printed to standard output is refused. --lang en writes it in English.`,
		Args: needArgs("RUN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			// --out names the format when --format does not: report.csv
			// is CSV. A file named for another format than --format's, or
			// for none muster writes (report.pdf), is refused rather than
			// written with the wrong content.
			byName := reportFormatOf(out)
			switch ext := filepath.Ext(out); {
			case byName == "" && ext != "":
				return usageErrorf("--out %s: muster writes no %s report; name the file .html, .csv, .json or .xlsx (or give --format with a name without extension)", out, ext)
			case byName == "":
			case !cmd.Flags().Changed("format"):
				format = byName
			case !strings.EqualFold(strings.TrimSpace(format), byName):
				return usageErrorf("--out %s names a %s file but --format is %s: give --format %s or name the file for %s", out, strings.ToUpper(byName), format, byName, format)
			}
			toStdout := out == "" || out == "-"
			// -o json prints JSON, as every command does: the report's
			// metrics (--format json) when neither --format nor --out says
			// otherwise, and another format printed instead is refused.
			if g.output == "json" {
				switch {
				case !cmd.Flags().Changed("format") && byName == "":
					format = string(drills.FormatJSON)
				case toStdout && !strings.EqualFold(strings.TrimSpace(format), string(drills.FormatJSON)):
					return usageErrorf("-o json prints the report's metrics as JSON (--format json), and --format %s asks for %s: give one of them "+
						"(-o also comes from MUSTER_OUTPUT), or --out FILE for the %s", format, strings.ToUpper(strings.TrimSpace(format)), strings.ToUpper(strings.TrimSpace(format)))
				}
			}
			c := newClient(g, cmd)
			if toStdout && g.output != "json" && !cmd.Flags().Changed("format") && byName == "" && isTerminal(c.out) {
				// The HTML page is ~160 KB of markup: a terminal gets a
				// summary and how to write the report (round 25, Y20).
				return printReportSummary(c, args[0], lang)
			}
			xlsx := strings.EqualFold(strings.TrimSpace(format), reportXLSX)
			if xlsx {
				if toStdout && isTerminal(c.out) {
					return usageErrorf("--format xlsx writes a workbook, not text: give --out FILE.xlsx or redirect standard output to a file")
				}
				format = string(drills.FormatCSV) // the workbook is the CSV's table
			}
			var body []byte
			err := c.do(request{method: http.MethodGet, path: "/api/v1/drill-runs/" + url.PathEscape(args[0]) + "/report",
				query: url.Values{"format": {format}, "lang": {lang}}, timeout: 3 * time.Minute}, &body)
			if err != nil {
				return err
			}
			if xlsx {
				if body, err = reportWorkbook(body, args[0]); err != nil {
					return fmt.Errorf("report of %s as xlsx: %w", args[0], err)
				}
			}
			if toStdout && g.output == "json" {
				return c.print(body, nil) // indented, keys sorted, as -o json prints
			}
			if toStdout {
				_, err = c.out.Write(body)
				return err
			}
			if err := os.WriteFile(out, body, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(c.err, "report of %s written to %s (%s)\n", args[0], out, count(len(body), "byte", "bytes"))
			return nil
		},
	}
	f := cmd.Flags()
	checkedVar(f, &format, "format", "html", "html, csv, json or xlsx", "html, csv, json or xlsx", func(s string) bool {
		return strings.EqualFold(strings.TrimSpace(s), reportXLSX) || parses(drills.ParseReportFormat)(s)
	})
	checkedVar(f, &lang, "lang", "zh", "zh or en", "zh or en", func(s string) bool { return oneOf("zh", "en")(strings.ToLower(s)) })
	f.StringVar(&out, "out", "", "write to this file instead of standard output")
	return cmd
}

// reportFormatOf is the report format a file name's extension asks for
// (.html or .htm, .csv, .json, .xlsx), "" for any other name.
func reportFormatOf(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".xlsx":
		return reportXLSX
	case ".html", ".htm":
		return "html"
	case ".csv":
		return "csv"
	case ".json":
		return "json"
	}
	return ""
}

func newDrillTrendCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "trend PLAN",
		Short: "Compare every drill run of a plan: reached and acknowledged at T+5/15/30, time to ack",
		Args:  needArgs("PLAN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := newClient(g, cmd)
			return c.get("/api/v1/drills/trend", url.Values{"plan": {args[0]}}, as(func(w io.Writer, out listOf[drills.TrendRow]) {
				if len(out.Items) == 0 {
					fmt.Fprintf(w, "no drill of %s has run yet\n", args[0])
					return
				}
				printTrend(w, out.Items)
			}))
		},
	}
}

// printTrend writes the trend table: a checkpoint still to come is marked
// … (still counting), one the call-up stood down before * (final, counted
// up to the stand-down), and a run cut short rather than held says why in
// NOTE; a line under the table explains each mark used.
func printTrend(w io.Writer, rows []drills.TrendRow) {
	var counting, cut, short, simulated bool
	zones := make([]string, len(rows))
	for i, r := range rows {
		zones[i] = r.TimeZone
	}
	startAt := tableZone(zones) // one zone for the whole table
	fmt.Fprintln(w, "RUN\tSTARTED\tTYPE\tLEVEL\tPEOPLE\tREACHED\tACKED\tACKED T+5\tT+15\tT+30\tACK p50\tp90\tNOTE")
	for _, r := range rows {
		at := make([]string, 3)
		for i := range at {
			at[i] = "-"
			if i < len(r.Total.Checkpoints) {
				cp := r.Total.Checkpoints[i]
				at[i] = fmt.Sprintf("%.1f%%", cp.AckedPct) + checkpointMark(cp.Passed, cp.Cut)
				counting = counting || !cp.Passed
				cut = cut || cp.Passed && cp.Cut
			}
		}
		note := "-"
		switch {
		case r.Retracted:
			note = "retracted"
		case r.StoppedBy != "":
			note = "stopped by " + string(r.StoppedBy)
		case r.CutShort && !r.StoodDownAt.IsZero():
			note = "stood down at T+" + roundElapsed(r.StoodDownAt.Sub(r.Start))
		case r.CutShort:
			note = "cut short"
		}
		if r.Simulated {
			note = strings.TrimPrefix(note+"; ", "-; ") + "simulator: no phone reached"
			simulated = true
		}
		short = short || r.CutShort || r.Retracted || r.StoppedBy != ""
		started := startAt(r.Start)
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%.1f%%\t%.1f%%\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Run, started, r.Type, r.Level, r.Participants,
			r.Total.ReachedPct, r.Total.AckedPct, at[0], at[1], at[2], r.Total.AckTime.P50.Std().Round(time.Second), r.Total.AckTime.P90.Std().Round(time.Second), note)
	}
	if short {
		fmt.Fprintf(w, "NOTE: a run retracted, stopped by a LIVE call-up or stood down within %s of its start was cut short, not held: it is not a drill to compare\n", strings.TrimSuffix(drills.MinHeld.String(), "0s"))
	}
	if simulated {
		fmt.Fprintln(w, "NOTE: a run sent through the built-in simulator (模拟器发送，未到达任何手机: the leader had no EXERCISE SMS account) reached no phone: its figures are the simulator's, and it is not a drill held")
	}
	if cut {
		fmt.Fprintln(w, "* the call-up stood down before this checkpoint: the share is final and counts the answers until the stand-down")
	}
	if counting {
		fmt.Fprintln(w, "… the run is under way and this checkpoint has not come: the share is still counting")
	}
}
