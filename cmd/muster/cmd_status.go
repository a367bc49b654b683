package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"muster/access"
	"muster/cluster"
	"muster/notify"
	"muster/plans"
)

func newStatusCmd(g *globals) *cobra.Command {
	var (
		watch  bool
		grids  int
		status string
		pf     = pageFlags{limit: 100}
	)
	cmd := &cobra.Command{
		Use:   "status [ACTIVATION] [--watch] [--status STATUS[,STATUS]]",
		Short: "Show activations with their counts, or one activation's counts overall, per role, region and grid",
		Long: `Without ACTIVATION: the activations, each with its recipient counts
(recipients, pending, sending, sent, delivered, acked, declined, failed,
escalated); --status pending_approval lists only the LIVE requests that wait
for a second person's approval (muster approve ID).

With ACTIVATION: those counts overall, per role, per region one level below
the activated regions, and for the --grids grids with the most recipients
(-o json has every grid, in the board).

--watch follows the activation live: a progress bar of messages out and of
people who reported (报到), and the 报到 curve over the time since the
activation, redrawn every second, until the activation is settled (stood down
with nothing in flight, or everyone answered or failed) or Ctrl-C. A LIVE
request awaiting approval shows T+0 and is watched until it starts, or until
it is rejected or its approval window passes. When
standard output is not a terminal it prints one line per change instead, and
with -o json one ActivationStatus per line. When the node it watches has no
leader (cut off from the others, or too few of them up), its figures are its
own copy and stand still: the watch says so, with the time it last heard from
a leader, and says when it has one again.

With --consistency stale, the figures are the node's own copy, which may lag
the cluster's: a note on standard error says so, and whether the node has a
leader.`,
		Args: optionalArg("ACTIVATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := newClient(g, cmd)
			if len(args) == 0 {
				if watch {
					return usageErrorf("--watch follows one activation: give its ID")
				}
				return listStatus(c, &pf, status)
			}
			if status != "" {
				return usageErrorf("--status filters the list of activations: give no ID with it")
			}
			if grids < 0 {
				return usageErrorf("--grids %d: want 0 (all) or more", grids)
			}
			if watch {
				ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				w := &watcher{out: c.out, warn: c.err, now: time.Now, tty: isTerminal(c.out), json: g.output == "json"}
				return w.run(ctx, c, args[0])
			}
			return showStatus(c, args[0], grids)
		},
	}
	pf.add(cmd)
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "follow the activation live until it is settled or Ctrl-C")
	cmd.Flags().IntVar(&grids, "grids", 10, "grids to show, most recipients first (0: all)")
	activationStatusVar(cmd.Flags(), &status, "list only activations in these statuses, comma-separated: "+strings.Join(codeStrings(notify.Statuses()), ", "))
	return cmd
}

func newBoardCmd(g *globals) *cobra.Command {
	var (
		sortBy string
		top    int
	)
	cmd := &cobra.Command{
		Use:   "board ACTIVATION [--sort code|recipients|acked] [--top N]",
		Short: "Show an activation's 报到 board: per region and grid, who reported, and the share at T+5, T+15 and T+30 minutes",
		Long: `Show the 报到 (report for duty) board of an activation: for each region one
level below the activated regions, then for each grid, the recipients, how
many reported (报到) and what share, how many declined, failed or have not
answered, and the share that reported within 5, 15 and 30 minutes of the
activation. A share marked … is still counting: that time has not passed.
--sort acked puts the grids with the lowest 报到 share first. JSON: Board.`,
		Args: needArgs("ACTIVATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains([]string{"code", "recipients", "acked"}, sortBy) {
				return usageErrorf("--sort %q: want code, recipients or acked", sortBy)
			}
			if top < 0 {
				return usageErrorf("--top %d: want 0 (all) or more", top)
			}
			c := newClient(g, cmd)
			c.staleNote()
			return c.get("/api/v1/activations/"+url.PathEscape(args[0])+"/board", nil, func(raw []byte, w io.Writer) error {
				var b notify.Board
				if err := json.Unmarshal(raw, &b); err != nil {
					return err
				}
				printBoard(w, b, sortBy, top)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&sortBy, "sort", "code", "order of the rows: code, recipients (most first) or acked (lowest 报到 share first)")
	cmd.Flags().IntVar(&top, "top", 0, "grids to show after sorting (0: all)")
	return cmd
}

// countColumns are the headers of the nine counts, in StatusCounts order.
const countColumns = "RECIPIENTS\tPENDING\tSENDING\tSENT\tDELIVERED\tACKED\tDECLINED\tFAILED\tESCALATED"

// extraCols are the count columns a table shows only when some recipient
// is counted in them: EXPIRED (in flight at a stand-down) and CANCELLED
// (taken off the call-up).
type extraCols struct{ expired, cancelled bool }

// header is countColumns with the extra columns shown.
func (x extraCols) header(cols string) string {
	if x.expired {
		cols += "\tEXPIRED"
	}
	if x.cancelled {
		cols += "\tCANCELLED"
	}
	return cols
}

// countCells formats the nine counts as tab-separated cells, and the
// extra ones the table shows.
func countCells(c notify.StatusCounts, extra extraCols) string {
	s := fmt.Sprintf("%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d", c.Recipients, c.Pending, c.Sending, c.Sent, c.Delivered, c.Acked, c.Declined, c.Failed, c.Escalated)
	if extra.expired {
		s += fmt.Sprintf("\t%d", c.Expired)
	}
	if extra.cancelled {
		s += fmt.Sprintf("\t%d", c.Cancelled)
	}
	return s
}

// listStatus prints a page of activations (every page with --all), each
// with its counts, only those in status (a comma list) when it is given;
// JSON adds "counts" (StatusCounts) to each Activation.
func listStatus(c *client, p *pageFlags, status string) error {
	c.staleNote()
	var query url.Values
	if status != "" {
		query = url.Values{"status": {status}}
	}
	items, next, err := c.pages("/api/v1/activations", query, p)
	if err != nil {
		return err
	}
	type row struct {
		a      notify.Activation
		counts notify.StatusCounts
		raw    json.RawMessage
	}
	rows := make([]row, 0, len(items))
	for _, it := range items {
		var r row
		if err := json.Unmarshal(it, &r.a); err != nil {
			return err
		}
		var st notify.ActivationStatus
		if err := c.do(request{method: http.MethodGet, path: "/api/v1/activations/" + url.PathEscape(string(r.a.ID))}, &st); err != nil {
			return fmt.Errorf("counts of %s: %w", r.a.ID, err)
		}
		r.counts = st.Summary().Counts
		var err error
		if r.raw, err = withFields(it, map[string]any{"counts": r.counts}); err != nil {
			return err
		}
		rows = append(rows, r)
	}
	if c.g.output == "json" {
		out := make([]json.RawMessage, len(rows))
		for i, r := range rows {
			out[i] = r.raw
		}
		raw, err := json.Marshal(map[string]any{"items": out, "next": next})
		if err != nil {
			return err
		}
		return c.print(raw, nil)
	}
	w := newTable(c.out)
	fmt.Fprintln(w, "ID\tPLAN\tLEVEL\tPURPOSE\tSTATUS\t"+countColumns+"\t报到%\tCREATED")
	for _, r := range rows {
		a := r.a
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Plan, a.Level, a.Purpose, statusLabel(a)+restoredTag(a), listCountCells(a.Status, r.counts),
			ackedShare(a, r.counts), localTime(a.CreatedAt))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if next != "" {
		fmt.Fprintf(c.err, "more: --after %s (or --all)\n", next)
	}
	var open []shownCallUp
	for _, r := range rows {
		open = append(open, shownCallUp{r.a, r.counts})
	}
	liveSMSNote(c, open...)
	return nil
}

// shownCallUp is a call-up muster status shows, with its counts.
type shownCallUp struct {
	a      notify.Activation
	counts notify.StatusCounts
}

// liveSMSNote says on standard error, when the leader has no LIVE SMS
// account as its member record says (muster cluster status), what of the
// LIVE call-ups shown that leaves undone (noLiveSMSNote): the messages of
// an active one that has some pending are not sent, and one awaiting
// approval cannot be approved. Nothing for a LIVE call-up with nothing
// left to send, and nothing when the cluster status cannot be read.
func liveSMSNote(c *client, callUps ...shownCallUp) {
	var unsent, waiting []string
	for _, u := range callUps {
		if u.a.Purpose != notify.PurposeLive {
			continue
		}
		switch {
		case u.a.Status == notify.StatusPendingApproval:
			waiting = append(waiting, string(u.a.ID))
		case u.a.Status == notify.StatusActive && u.counts.Pending > 0:
			unsent = append(unsent, fmt.Sprintf("%s (%d pending)", u.a.ID, u.counts.Pending))
		}
	}
	if len(unsent) == 0 && len(waiting) == 0 {
		return
	}
	var st cluster.Status
	if err := c.do(request{method: http.MethodGet, path: "/api/v1/cluster/status", timeout: 5 * time.Second}, &st); err != nil {
		return
	}
	for _, s := range st.Servers {
		if s.Leader && s.NoLiveSMS {
			fmt.Fprintln(c.err, noLiveSMSNote(s.ID, unsent, waiting))
		}
	}
}

// noLiveSMSNote is liveSMSNote's line: under the leader without a LIVE SMS
// account, the messages of the call-ups unsent ("A000002 (5 pending)") are
// not sent and those waiting cannot be approved until one with an account
// leads.
func noLiveSMSNote(leader string, unsent, waiting []string) string {
	var what []string
	if len(unsent) > 0 {
		what = append(what, fmt.Sprintf("the messages of LIVE %s %s are not sent", plural(len(unsent), "call-up", "call-ups"), strings.Join(unsent, ", ")))
	}
	if len(waiting) > 0 {
		what = append(what, fmt.Sprintf("LIVE %s %s awaiting approval cannot be approved", plural(len(waiting), "call-up", "call-ups"), strings.Join(waiting, ", ")))
	}
	return fmt.Sprintf("NO LIVE SMS ACCOUNT on the leader %s (主节点未配置真实短信账号): %s, until a leader with a LIVE account (--twilio-account-sid) takes over; "+
		"see muster cluster status", leader, strings.Join(what, ", and "))
}

// ackedShare is the 报到 share of a in the list, or — where it has no
// meaning: a correction takes no answers, and a request that has not
// started (awaiting approval, or never approved) has called nobody.
func ackedShare(a notify.Activation, c notify.StatusCounts) string {
	if a.Retracts != "" || c.Recipients == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", notify.Percent(c.Acked, c.Recipients))
}

// neverStarted says that a, which called recipients people, never
// started and nothing was sent, and why: it was withdrawn (stood down)
// before its approval, rejected, or not approved in time. It is "" for a
// call-up that started and for a request still awaiting approval. Such a
// request has no T+ and no checkpoints: no call-up clock ever ran.
func neverStarted(a notify.Activation, recipients int) string {
	if !a.Start().IsZero() || recipients > 0 {
		return ""
	}
	switch a.Status {
	case notify.StatusStoodDown:
		return "never started (withdrawn before approval): nothing was sent"
	case notify.StatusRejected:
		return "never started (rejected): nothing was sent"
	case notify.StatusApprovalExpired:
		if a.ApprovalDeadline.IsZero() {
			return "never started (not approved in time): nothing was sent"
		}
		return fmt.Sprintf("never started (nobody approved it by %s): nothing was sent", localTime(a.ApprovalDeadline))
	}
	return ""
}

// listCountCells are the nine counts of an activation in status as a row
// of the list: recipients still pending when the call-up stopped are never
// sent, and say so ("12 not sent"), as the status of that one activation
// does.
func listCountCells(status notify.Status, c notify.StatusCounts) string {
	cells := strings.Split(countCells(c, extraCols{}), "\t")
	if notSent(status, c.Pending) {
		cells[1] = fmt.Sprintf("%d not sent", c.Pending) // the PENDING column
	}
	return strings.Join(cells, "\t")
}

// notSent reports whether the pending recipients of an activation in
// status are never sent: the call-up stopped (stood down, retracted,
// rejected) before their turn.
func notSent(status notify.Status, pending int) bool {
	return pending > 0 && status != notify.StatusActive && status != notify.StatusPendingApproval
}

// statusLabel is an activation's status as a list shows it: a retracted
// one says so and names its correction, a correction names what it
// corrects, an end notice the call-up it ends, a drill a LIVE call-up
// stopped names that call-up.
func statusLabel(a notify.Activation) string {
	switch {
	case a.Retraction != nil:
		return fmt.Sprintf("retracted (correction %s)", a.Retraction.Correction)
	case endsCallUp(a):
		return fmt.Sprintf("%s (end notice of %s)", a.Status, a.Retracts)
	case a.Retracts != "" && a.Forced:
		return fmt.Sprintf("%s (correction of %s, forced: calls still ringing read nothing)", a.Status, a.Retracts)
	case a.Retracts != "":
		return fmt.Sprintf("%s (correction of %s)", a.Status, a.Retracts)
	case a.StoppedBy != "":
		return fmt.Sprintf("%s (by LIVE %s)", a.Status, a.StoppedBy)
	}
	return string(a.Status)
}

// standInsText says how many backups the escalation of activation id
// called up stand in for someone, and names the first the status gives:
// the backup (their state in the call-up) and whom they stand in for, in
// which grid; "" when none does.
func standInsText(id plans.ActivationID, s *notify.StandIns) string {
	if s == nil || s.Count == 0 {
		return ""
	}
	names := make([]string, len(s.First))
	for i, b := range s.First {
		where := ""
		if g := cmp.Or(b.For.GridName, string(b.For.Grid)); g != "" {
			where = " (" + g + ")"
		}
		who := cmp.Or(b.For.Name, string(b.For.Person))
		state := string(b.State)
		if b.For.NotSent {
			state = "not sent"
		}
		names[i] = fmt.Sprintf("%s [%s] for %s%s", cmp.Or(b.Name, string(b.Backup)), state, who, where)
		switch {
		case b.For.NotSent:
			names[i] += ": " + who + " answered 到 before the backup's call-up went out"
		case b.ForState == notify.StateAcked:
			names[i] += ", " + who + " answered 到 after all"
		}
	}
	more := ""
	if n := s.Count - len(s.First); n > 0 {
		more = fmt.Sprintf("; and %d more (backup_for in GET /api/v1/activations/%s/recipients)", n, id)
	}
	return fmt.Sprintf("STAND-INS %s in for people silent to the escalation: %s%s", count(s.Count, "backup stands", "backups stand"), strings.Join(names, "; "), more)
}

// restoredTag marks, in the list, a call-up open in a restored backup,
// with how many of its people the restored cluster sent to again.
func restoredTag(a notify.Activation) string {
	if a.Restored == nil {
		return ""
	}
	if a.Restored.NotSent == 0 {
		return ", RESTORED (none sent again)"
	}
	return fmt.Sprintf(", RESTORED (%d sent again)", a.Restored.NotSent)
}

// simulatedText says that st's call-up went to the built-in simulator,
// so its figures are the simulator's, not people's; "" when it did not.
func simulatedText(st notify.ActivationStatus) string {
	if !st.Simulated {
		return ""
	}
	n := st.Counters.Dispatch[notify.SimulatedCounter]
	what, prefix := "EXERCISE", "--exercise-twilio-"
	if !st.Purpose.Drill() {
		what, prefix = "LIVE", "--twilio-"
	}
	return fmt.Sprintf("!! 模拟器发送，未到达任何手机: sent through the built-in simulator, no phone was reached (%s): its delivered and 报到 figures are the simulator's, not people's; "+
		"the leader had no %s SMS account (start every member with %saccount-sid, %sauth-token and %sfrom)",
		count(n, "SMS", "SMS"), what, prefix, prefix, prefix)
}

// restoredText says that a was open in a backup restored since, when the
// backup was taken, and how many of its people the restored cluster sent
// to again; "" when it was not.
func restoredText(a notify.Activation) string {
	m := a.Restored
	if m == nil {
		return ""
	}
	taken := "at an unknown time (the backup's state does not say)"
	if !m.BackupTime.IsZero() {
		taken = "at " + showTime(m.BackupTime, time.Local, secondLayout)
	}
	return fmt.Sprintf("RESTORED from a backup taken %s (raft index %d of the cluster it was taken of), restored %s: %s not yet sent to in it %s sent again, and may have had it from the cluster before the restore",
		taken, m.BackupIndex, showTime(m.RestoredAt, time.Local, secondLayout), count(m.NotSent, "person", "people"), plural(m.NotSent, "was", "were"))
}

// withFields adds fields to a JSON object.
func withFields(obj json.RawMessage, fields map[string]any) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		return nil, err
	}
	for k, v := range fields {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		m[k] = b
	}
	return json.Marshal(m)
}

// showStatus prints one activation's counts. JSON is the ActivationStatus
// with "board" (Board, from the same read), "counts" (StatusCounts) and
// "role_counts" ([RoleCounts]) added.
func showStatus(c *client, id string, grids int) error {
	path := "/api/v1/activations/" + url.PathEscape(id)
	c.staleNote()
	var raw []byte
	if err := c.do(request{method: http.MethodGet, path: path, query: url.Values{"board": {"true"}}}, &raw); err != nil {
		return err
	}
	var st struct {
		notify.ActivationStatus
		Board notify.Board `json:"board"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return err
	}
	sum := st.Summary()
	if c.g.output == "json" {
		out, err := withFields(raw, map[string]any{"counts": sum.Counts, "role_counts": sum.Roles})
		if err != nil {
			return err
		}
		return c.print(out, nil)
	}
	var corr *notify.ActivationStatus
	if r := st.Retraction; r != nil {
		// What the correction reached so far, for the RETRACTED line; if
		// it cannot be read, the line says what the retraction recorded.
		corr = &notify.ActivationStatus{}
		if err := c.do(request{method: http.MethodGet, path: "/api/v1/activations/" + url.PathEscape(string(r.Correction))}, corr); err != nil {
			corr = nil
		}
	}
	w := newTable(c.out)
	printStatusOf(w, st.ActivationStatus, st.Board, grids, corr)
	if err := w.Flush(); err != nil {
		return err
	}
	liveSMSNote(c, shownCallUp{st.Activation, sum.Counts})
	if neverStarted(st.Activation, st.Counters.Total) != "" {
		return nil // no escalation ever ran
	}
	var esc struct {
		Items []notify.EscalationStepStatus `json:"items"`
	}
	if err := c.do(request{method: http.MethodGet, path: path + "/escalation"}, &esc); err != nil {
		return err
	}
	printEscalation(c.out, esc.Items)
	return nil
}

// staleNote says on standard error, before figures read with --consistency
// stale, that they are the node's own copy, which may lag the cluster's,
// and, from its /readyz, whether the node has a leader to follow.
func (c *client) staleNote() {
	if c.g.consistency != "stale" {
		return
	}
	note := "note: --consistency stale: these figures are the node's own copy, which may lag the cluster's"
	var ae *apiError
	switch err := c.do(request{method: http.MethodGet, path: "/readyz", timeout: 5 * time.Second}, nil); {
	case err == nil:
		note += " by a moment (the node follows a leader)"
	case errors.As(err, &ae):
		note += "; the node is " + ae.Message + ", so they may be old (read another node's with --addr)"
	}
	fmt.Fprintln(c.err, note)
}

// printEscalation lists an activation's escalation steps, when each is due
// or fired, and what it sent.
func printEscalation(out io.Writer, steps []notify.EscalationStepStatus) {
	if len(steps) == 0 {
		return
	}
	w := newTable(out)
	fmt.Fprintln(w, "\nESCALATION (叫应)\tDO\tDUE\tFIRED\tMESSAGES/CALLS")
	for _, s := range steps {
		fired, due := showTime(s.FiredAt, time.Local, clockLayout), showTime(s.Due, time.Local, clockLayout)
		var items []string
		for _, k := range []string{notify.EscQueued, notify.EscSending, notify.EscSent, notify.EscFailed, notify.EscSkipped} {
			if n := s.Items[k]; n > 0 {
				item := fmt.Sprintf("%s %d", k, n)
				if k == notify.EscQueued && s.Retrying > 0 {
					// failed for now (the provider down): tried again after a wait
					item += fmt.Sprintf(" (%d retrying)", s.Retrying)
				}
				items = append(items, item)
			}
		}
		if s.Waiting > 0 {
			items = append(items, fmt.Sprintf("%d waiting on own clock", s.Waiting))
		}
		if calls := callsText(s.Calls); calls != "" {
			items = append(items, calls)
		}
		when := "T+" + time.Duration(s.After).String()
		if s.Index == notify.CorrectionCallStep {
			when = "correction calls"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", when, s.Do, due, fired, orDash(strings.Join(items, ", ")))
	}
	w.Flush()
}

// callsText says how a voice step's calls went ("calls: answered 4,
// machine 1, no-answer 1"), in callOrder and then any other status by
// name; "" when none reported.
func callsText(calls map[string]int) string {
	keys := slices.SortedFunc(maps.Keys(calls), func(a, b string) int {
		ia, ib := slices.Index(callOrder, a), slices.Index(callOrder, b)
		if ia < 0 {
			ia = len(callOrder)
		}
		if ib < 0 {
			ib = len(callOrder)
		}
		return cmp.Or(cmp.Compare(ia, ib), strings.Compare(a, b))
	})
	var parts []string
	for _, k := range keys {
		if calls[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, calls[k]))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "calls: " + strings.Join(parts, ", ")
}

// callOrder is the order callsText names how calls went in.
var callOrder = []string{"answered", "machine", "no-answer", "busy", "failed", "canceled", "ringing"}

// printStatus writes the status tables of one activation.
func printStatus(w io.Writer, st notify.ActivationStatus, b notify.Board, grids int) {
	printStatusOf(w, st, b, grids, nil)
}

// printStatusOf writes the status tables of one activation; corr, when
// not nil, is the status of its correction (it was retracted), whose reach
// the RETRACTED line gives.
func printStatusOf(w io.Writer, st notify.ActivationStatus, b notify.Board, grids int, corr *notify.ActivationStatus) {
	sum := st.Summary()
	never := neverStarted(st.Activation, st.Counters.Total)
	if never != "" {
		// Nobody was called: no clock, no shares, no checkpoints.
		fmt.Fprintf(w, "activation %s: %s %s (%s) in %s — %s, %s\n", st.ID, st.PlanTitle, levelLabel(st.Level), st.Purpose, st.RegionNames, statusLabel(st.Activation), never)
	} else {
		fmt.Fprintf(w, "activation %s: %s %s (%s) in %s — %s, T+%s\n", st.ID, st.PlanTitle, levelLabel(st.Level), st.Purpose, st.RegionNames, statusLabel(st.Activation), roundElapsed(b.Elapsed))
		fmt.Fprintln(w, progressLine("sent", sum.Counts.Out(), sum.Counts.Recipients))
	}
	if s := simulatedText(st); s != "" {
		fmt.Fprintln(w, s)
	}
	switch {
	case never != "":
	case st.Retracts != "":
		// A correction takes no answers, nor does the notice that a
		// call-up ended: no 报到 rate or checkpoints.
		why := "a correction takes no answers"
		if st.EndsCallUp || st.EndsDrill {
			why = "an end notice takes no answers"
		}
		fmt.Fprintf(w, "报到 无需回复 (%s)\n", why)
	default:
		fmt.Fprintln(w, progressLine("报到", sum.Counts.Acked, sum.Counts.Recipients)+"   "+checkpointText(b.Total.AckBy))
		if note := cutNote(b); note != "" {
			fmt.Fprintln(w, note)
		}
	}
	if n := st.Counters.Dispatch[notify.DeclinedAfterAckCounter]; n > 0 {
		fmt.Fprintf(w, "!! %s answered 到, then that they cannot come after all: still counted 到 (the first answer stands); their replies are in the notes\n", count(n, "person", "people"))
	}
	if s := standInsText(st.ID, st.StandIns); s != "" {
		fmt.Fprintln(w, s)
	}
	if n := st.Counters.Dispatch[notify.StandInNotSentCounter]; n > 0 {
		fmt.Fprintf(w, "NOT SENT to %s: the person they stand in for answered 到 before their call-up went out (counted cancelled, not waited for)\n", count(n, "backup", "backups"))
	}
	if n := st.Counters.Dispatch["fallback"]; n > 0 {
		fmt.Fprintf(w, "%d %s sent on the fallback provider account (the primary was failing)\n", n, plural(n, "message", "messages"))
	}
	if n, m := st.Counters.Dispatch["resent"], st.Counters.Dispatch["escalation_resent"]; n+m > 0 {
		fmt.Fprintf(w, "sent again after a leader change, the first attempt's outcome lost (some may have got both): %s, %s\n",
			count(n, "SMS", "SMS"), count(m, "escalation message or call", "escalation messages or calls"))
	}
	if s := restoredText(st.Activation); s != "" {
		fmt.Fprintln(w, s)
	}
	if n := st.Counters.Dispatch[notify.EscalationUnreachedCounter]; n > 0 {
		fmt.Fprintf(w, "%s silent with no one to escalate to by the last backup or superior step (a backup step: no backup named for them; a superior step: no 网格长 in their grid, no one in the command slot, no 网格长 or 值班领导 above them): not counted as escalated\n", count(n, "person", "people"))
	}
	if n := st.Counters.Dispatch["released"]; n > 0 {
		fmt.Fprintf(w, "handed back unsent by a leader that stopped, for the next to send once: %s\n", count(n, "SMS", "SMS"))
	}
	if r := st.Retraction; r != nil {
		reach := "to " + correctionReach(st.ID, r.Recipients, r)
		if corr != nil {
			reach = correctionReached(st.ID, *corr)
		}
		fmt.Fprintf(w, "RETRACTED %s by %s; correction %s %s\n", showTime(r.At, time.Local, secondLayout), r.By, r.Correction, reach)
	}
	switch {
	case endsCallUp(st.Activation):
		fmt.Fprintf(w, "end notice of %s, stood down: %s\n", st.Retracts, st.Message)
	case st.Retracts != "":
		fmt.Fprintf(w, "correction of %s: %s\n", st.Retracts, st.Message)
	}
	if st.EndNotice != "" {
		fmt.Fprintf(w, "end notice %s tells the people it reached that it has ended (muster status %s)\n", st.EndNotice, st.EndNotice)
	}
	if s := approversTexted(st.Activation); s != "" && st.Status == notify.StatusPendingApproval {
		fmt.Fprintln(w, s) // once decided, expired or withdrawn, whom to tell no longer matters
	}
	if st.Status == notify.StatusRejected && len(st.Decisions) > 0 {
		d := st.Decisions[len(st.Decisions)-1]
		fmt.Fprintf(w, "rejected by %s at %s: %s; nothing was sent\n", decider(d), showTime(d.At, time.Local, secondLayout), d.Reason)
	}
	if s := outcomeTexted(st.Activation); s != "" {
		fmt.Fprintln(w, s)
	}
	if st.LeftOut > 0 {
		fmt.Fprintf(w, "LEFT OUT %s called up for real by a LIVE call-up: this drill does not drill them\n", count(st.LeftOut, "person", "people"))
	}
	if len(st.SparedFrom) > 0 {
		fmt.Fprintf(w, "its people were taken off the drills running elsewhere: %s\n", joinIDs(st.SparedFrom))
	}
	if never != "" {
		return // every count is zero
	}

	extra := extraCols{expired: sum.Counts.Expired > 0, cancelled: sum.Counts.Cancelled > 0}
	header := countColumns
	if notSent(st.Status, sum.Counts.Pending) {
		// Those still pending when it stopped are never sent: say so.
		header = strings.Replace(header, "PENDING", "NOT SENT", 1)
		what, how := "call-up", strings.ReplaceAll(string(st.Status), "_", " ")
		if st.Retraction != nil {
			how = "retracted"
		}
		if st.Retracts != "" {
			what = "correction"
		}
		fmt.Fprintf(w, "%s not sent: the %s was %s before their turn\n", count(sum.Counts.Pending, "recipient", "recipients"), what, how)
	}
	header = extra.header(header)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "\t"+header)
	fmt.Fprintf(w, "ALL\t%s\n", countCells(sum.Counts, extra))

	fmt.Fprintln(w, "\nROLE\t"+header)
	for _, r := range sum.Roles {
		fmt.Fprintf(w, "%s / %s\t%s\n", r.Group, r.Name, countCells(r.StatusCounts, extra))
	}

	if len(b.Regions) > 0 {
		fmt.Fprintln(w, "\nREGION\t"+header)
		for _, r := range b.Regions {
			fmt.Fprintf(w, "%s\t%s\n", regionLabel(r), countCells(r.StatusCounts, extra))
		}
	}

	rows := slices.Clone(b.Grids)
	slices.SortStableFunc(rows, func(x, y notify.BoardRow) int { return cmp.Compare(y.Recipients, x.Recipients) })
	shown := rows
	if grids > 0 && len(rows) > grids {
		shown = rows[:grids]
	}
	fmt.Fprintln(w, "\nGRID\t"+header)
	for _, r := range shown {
		fmt.Fprintf(w, "%s\t%s\n", regionLabel(r), countCells(r.StatusCounts, extra))
	}
	if more := len(rows) - len(shown); more > 0 {
		fmt.Fprintf(w, "… %d more %s (--grids 0 shows all; muster board %s has 报到 per grid)\n", more, plural(more, "grid", "grids"), st.ID)
	}
}

func regionLabel(r notify.BoardRow) string {
	label := string(r.Code) + " " + r.Name
	if r.Outside {
		label += " (outside)"
	}
	return strings.TrimSpace(label)
}

// correctionReached says what the correction corr of activation id has
// reached: how many of its people its SMS or call went out to, of how
// many, and how many are still to get it or, if it was stood down before
// their turn, never will.
func correctionReached(id plans.ActivationID, corr notify.ActivationStatus) string {
	c := corr.Summary().Counts
	s := fmt.Sprintf("reached %d of the %s %s may have reached", c.Out(), count(c.Recipients, "person", "people"), id)
	switch left := c.Pending + c.Sending; {
	case left == 0:
	case corr.Status == notify.StatusActive:
		s += fmt.Sprintf("; %d still to send", left)
	default:
		s += fmt.Sprintf("; %d NEVER SENT: the correction was stood down before their turn", left)
	}
	if c.Failed > 0 {
		s += fmt.Sprintf("; %d failed", c.Failed)
	}
	return s
}

// printBoard writes the 报到 board: regions, then grids.
func printBoard(w io.Writer, b notify.Board, sortBy string, top int) {
	t := b.Total
	status := string(b.Status)
	if rt := b.Retraction; rt != nil {
		status = fmt.Sprintf("retracted (correction %s)", rt.Correction)
	}
	if never := neverStarted(notify.Activation{Status: b.Status, StartedAt: b.StartedAt}, b.Total.Recipients); never != "" {
		fmt.Fprintf(w, "board of %s — %s, %s\n", b.Activation, status, never)
		return
	}
	fmt.Fprintf(w, "board of %s — %s, T+%s: 报到 %d of %d (%.1f%%), declined %d, failed %d, not answered %d\n",
		b.Activation, status, roundElapsed(b.Elapsed), t.Acked, t.Recipients, t.AckedPct, t.Declined, t.Failed, t.Unanswered)
	header := "\tNAME\tRECIPIENTS\t报到\t%\tDECLINED\tFAILED\tUNANSWERED"
	for _, m := range b.Checkpoints {
		header += fmt.Sprintf("\tT+%d", m)
	}
	line := func(r notify.BoardRow) string {
		name := r.Name
		if r.Outside {
			name += " (outside)"
		}
		s := fmt.Sprintf("%s\t%s\t%d\t%d\t%.1f%%\t%d\t%d\t%d", r.Code, name, r.Recipients, r.Acked, r.AckedPct, r.Declined, r.Failed, r.Unanswered)
		for _, ab := range r.AckBy {
			s += "\t" + ackByCell(ab)
		}
		return s
	}
	order := func(rows []notify.BoardRow) []notify.BoardRow {
		rows = slices.Clone(rows)
		switch sortBy {
		case "recipients":
			slices.SortStableFunc(rows, func(x, y notify.BoardRow) int { return cmp.Compare(y.Recipients, x.Recipients) })
		case "acked":
			slices.SortStableFunc(rows, func(x, y notify.BoardRow) int { return cmp.Compare(x.AckedPct, y.AckedPct) })
		}
		return rows
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "REGION"+header)
	for _, r := range order(b.Regions) {
		fmt.Fprintln(w, line(r))
	}
	fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%.1f%%\t%d\t%d\t%d", "TOTAL", "", t.Recipients, t.Acked, t.AckedPct, t.Declined, t.Failed, t.Unanswered)
	for _, ab := range t.AckBy {
		fmt.Fprint(w, "\t"+ackByCell(ab))
	}
	fmt.Fprintln(w)

	grids := order(b.Grids)
	if top > 0 && len(grids) > top {
		grids = grids[:top]
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "GRID"+header)
	for _, r := range grids {
		fmt.Fprintln(w, line(r))
	}
	if more := len(b.Grids) - len(grids); more > 0 {
		fmt.Fprintf(w, "… %d more %s (--top 0 shows all)\n", more, plural(more, "grid", "grids"))
	}
	var counting []string
	for _, ab := range t.AckBy {
		if !ab.Reached {
			counting = append(counting, fmt.Sprintf("T+%d", ab.Minutes))
		}
	}
	if len(counting) > 0 {
		fmt.Fprintf(w, "… still counting: %s not reached yet\n", strings.Join(counting, ", "))
	}
	if note := cutNote(b); note != "" {
		fmt.Fprintln(w, note)
	}
}

// ackByCell is a checkpoint's share, marked … while it is still counting
// and * when the call-up stood down before it (cutNote says so).
func ackByCell(ab notify.AckBy) string {
	return fmt.Sprintf("%.1f%%", ab.Pct) + checkpointMark(ab.Reached, ab.Cut)
}

// checkpointMark is what follows a checkpoint's figure: … while it is
// still counting (not final), * when the call-up stood down before it
// (final, counted up to the stand-down), nothing once it has passed.
func checkpointMark(final, cut bool) string {
	switch {
	case !final:
		return "…"
	case cut:
		return "*"
	}
	return ""
}

// cutNote explains the checkpoints marked * (ackByCell), or is empty.
func cutNote(b notify.Board) string {
	var cut []string
	for _, ab := range b.Total.AckBy {
		if ab.Cut {
			cut = append(cut, fmt.Sprintf("T+%d", ab.Minutes))
		}
	}
	if len(cut) == 0 {
		return ""
	}
	return fmt.Sprintf("* stood down at T+%s, before %s: the share counts the answers until the stand-down", roundElapsed(b.Elapsed), strings.Join(cut, ", "))
}

func checkpointText(abs []notify.AckBy) string {
	parts := make([]string, len(abs))
	for i, ab := range abs {
		parts[i] = fmt.Sprintf("T+%d %s", ab.Minutes, ackByCell(ab))
	}
	return strings.Join(parts, "  ")
}

func roundElapsed(d time.Duration) string {
	return max(0, d).Round(time.Second).String()
}

// progressBar draws n of total as a bar of width cells.
func progressBar(n, total, width int) string {
	filled := 0
	if total > 0 {
		filled = min(width, max(0, n*width/total))
	}
	return strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
}

// progressLine is a labelled bar with its percentage and counts.
func progressLine(label string, n, total int) string {
	return fmt.Sprintf("%s %s %5.1f%% %d/%d", label, progressBar(n, total, 30), notify.Percent(n, total), n, total)
}

// ---- --watch ----

// curvePoint is the share of recipients who had reported at a time after
// the activation.
type curvePoint struct {
	at  time.Duration
	pct float64
}

// watcher follows one activation: it keeps the latest status and the 报到
// curve seen while watching, and draws them.
type watcher struct {
	out  io.Writer
	now  func() time.Time
	tty  bool // redraw a screen rather than print a line per update
	json bool // print each status as one JSON line
	// warn is where a JSON watch says what becomes of the node's leader
	// (nil: nowhere); the others say it among the figures.
	warn io.Writer

	// idle, retry and giveUp are watchIdle, watchRetry and watchGiveUp
	// when zero; tests shorten them.
	idle, retry, giveUp time.Duration

	last   *notify.ActivationStatus
	points []curvePoint
	// node is what the stream last said of the node serving it (nil
	// before it said anything), and nodeAt when it said it.
	node   *streamNode
	nodeAt time.Time
}

// streamNode is the event stream's node event (StreamNode in the API):
// whether the node serving the stream knows a leader. While it does not,
// the figures it sends are its own copy, standing still.
type streamNode struct {
	Node     string `json:"node"`
	Ready    bool   `json:"ready"`
	NotReady string `json:"not_ready"`
	Leader   string `json:"leader"`
	// LeaderContactAge is how many seconds before the event the node last
	// heard from a leader; nil when it leads or never heard from one.
	LeaderContactAge *float64 `json:"leader_contact_age_s"`
}

// frozenAt is when the figures of a node that is not ready stopped
// following the cluster's: when it last heard from a leader. ok is false
// while the node is ready (or said nothing yet).
func (w *watcher) frozenAt() (at time.Time, ok bool) {
	n := w.node
	if n == nil || n.Ready {
		return time.Time{}, false
	}
	if n.LeaderContactAge == nil {
		return w.nodeAt, true
	}
	return w.nodeAt.Add(-time.Duration(*n.LeaderContactAge * float64(time.Second))), true
}

// nodeLine says, at now, what the node the watch follows means for the
// figures shown: "" while it is ready.
func (w *watcher) nodeLine(now time.Time) string {
	n := w.node
	at, ok := w.frozenAt()
	if !ok {
		return ""
	}
	what := fmt.Sprintf("node %s is not ready (%s)", n.Node, n.NotReady)
	if strings.HasPrefix(n.NotReady, "no known leader") {
		what = "node " + n.Node + " has no leader" + strings.TrimPrefix(n.NotReady, "no known leader")
	}
	since := fmt.Sprintf("as of %s, when it last heard from one, %s ago", showTime(at, time.Local, clockLayout), roundElapsed(now.Sub(at)))
	if n.LeaderContactAge == nil {
		since = "as of before this watch: it never heard from a leader"
	}
	return fmt.Sprintf("%s: the figures are its own copy %s, and stand still; watch another node with --addr", what, since)
}

// nodeUpdate takes what the stream says of the node serving it: a watch
// says when its node has no leader (and at each of the stream's heartbeats
// after, while it has none), and when it has one again.
func (w *watcher) nodeUpdate(n streamNode) {
	was := w.node
	w.node, w.nodeAt = &n, w.now()
	if n.Ready && (was == nil || was.Ready) {
		return
	}
	line := w.nodeLine(w.nodeAt)
	if n.Ready {
		line = fmt.Sprintf("node %s has a leader again (%s): the figures follow the call-up again", n.Node, n.Leader)
	}
	switch {
	case w.json:
		if w.warn != nil {
			fmt.Fprintln(w.warn, line)
		}
	case w.tty:
		if w.last != nil {
			w.draw()
		}
	default:
		fmt.Fprintln(w.out, line)
	}
}

// Reconnection of the event stream.
const (
	watchRetry  = time.Second      // wait before reconnecting
	watchGiveUp = 30 * time.Second // give up after this long without a connection
	// watchIdle is how long a stream may stay silent (no response headers,
	// no event, no heartbeat) before it is taken as dead: twice the
	// server's heartbeat interval (15 s, eventHeartbeat in package api).
	watchIdle    = 30 * time.Second
	watchRefresh = time.Second // redraw interval on a terminal
)

// run follows the activation's event stream until the activation is
// settled, the stream cannot be reached for watchGiveUp, or ctx ends
// (Ctrl-C, which is not an error).
func (w *watcher) run(ctx context.Context, c *client, id string) error {
	ctx, cancel := context.WithCancel(ctx)
	statuses, nodes := make(chan []byte), make(chan []byte)
	done := make(chan error, 1)
	go func() { done <- w.follow(ctx, c, id, statuses, nodes) }()
	followed := false
	defer func() {
		cancel()
		if !followed {
			<-done
		}
	}()

	tick := time.NewTicker(watchRefresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			w.finish()
			return nil
		case err := <-done:
			followed = true
			if err == nil { // ctx ended
				w.finish()
			}
			return err
		case data := <-statuses:
			var st notify.ActivationStatus
			if err := json.Unmarshal(data, &st); err != nil {
				return fmt.Errorf("status event: %w", err)
			}
			w.update(st, data)
			if watchEnds(st) {
				w.finish()
				return nil
			}
		case data := <-nodes:
			var n streamNode
			if err := json.Unmarshal(data, &n); err != nil {
				return fmt.Errorf("node event: %w", err)
			}
			w.nodeUpdate(n)
		case <-tick.C:
			if w.tty && !w.json && w.last != nil {
				w.draw()
			}
		}
	}
}

// watchEnds reports whether a watch of st is over: a request awaiting
// approval has not started (nobody is called, so the counts look settled)
// and is watched until it starts or is decided; a rejected or expired
// request never starts; a started one is watched until it is settled.
func watchEnds(st notify.ActivationStatus) bool {
	switch {
	case st.Status == notify.StatusPendingApproval:
		return false
	case st.NeverStarts():
		return true
	}
	return st.Settled()
}

// sinceStart is the time since st's call-up started at now, stopped at its
// stand-down as the board's clock is (muster status shows the same T+): T+0
// while it has not started (awaiting approval, or never approved).
func sinceStart(st notify.ActivationStatus, now time.Time) time.Duration {
	return watchBoard(st, now).Elapsed
}

// watchBoard is what the board of st would say at now of the call-up as a
// whole: its time since the start (stopped at the stand-down) and its 报到
// checkpoints, each still counting, passed, or cut by the stand-down
// (notify.Board.At decides, as it does for muster status and board).
func watchBoard(st notify.ActivationStatus, now time.Time) notify.Board {
	b := notify.Board{Activation: st.ID, Status: st.Status, StartedAt: st.Start(), StoodDownAt: st.StoodDownAt, Retraction: st.Retraction,
		Checkpoints: notify.AckCheckpoints()}
	recipients := st.Summary().Counts.Recipients
	for _, m := range b.Checkpoints {
		n := 0
		for _, by := range st.Counters.AckBy {
			n += by[m]
		}
		b.Total.AckBy = append(b.Total.AckBy, notify.AckBy{Minutes: m, Acked: n, Pct: notify.Percent(n, recipients)})
	}
	return b.At(now)
}

// outcomeTexted says whom the texts telling what became of a request
// that waited for approval went to (its requester, and the approvers
// texted about it but the one who decided), and how each went; "" when
// none was listed (it waits, or nobody has a phone, or made before rules
// 13).
func outcomeTexted(a notify.Activation) string {
	if len(a.DecisionNotices) == 0 {
		return ""
	}
	var outcomes []string
	for _, n := range a.DecisionNotices {
		outcomes = append(outcomes, noticeSaid(n))
	}
	return "outcome texted: " + strings.Join(outcomes, "; ")
}

// awaitingApproval says who a request awaiting approval waits for, and
// until when, or "" for any other activation.
func awaitingApproval(st notify.ActivationStatus) string {
	if st.Status != notify.StatusPendingApproval {
		return ""
	}
	return fmt.Sprintf("awaiting approval (%d of %d) until %s; nothing is sent yet", st.Approvals(), st.ApprovalsRequired, localTime(st.ApprovalDeadline))
}

// follow reads the event stream, reconnecting when it ends, breaks or stays
// silent for watchIdle while the activation is not yet settled, and hands
// each status to statuses and each node event to nodes. It returns nil when ctx ends, an API error (not
// found, forbidden) at once, and a connection error once no connection has
// worked for watchGiveUp: counted from the start, or from the end of the
// last stream that sent anything. A stream that ends having sent nothing
// counts as failed. So a node that freezes mid-stream is given up on at
// most watchIdle plus watchGiveUp (and a retry) after it froze.
func (w *watcher) follow(ctx context.Context, c *client, id string, statuses, nodes chan<- []byte) error {
	path := "/api/v1/activations/" + url.PathEscape(id) + "/events"
	idle, retry, giveUp := cmp.Or(w.idle, watchIdle), cmp.Or(w.retry, watchRetry), cmp.Or(w.giveUp, watchGiveUp)
	lastOK := time.Now()
	for {
		received, err := c.stream(ctx, path, idle, func(event string, data []byte) error {
			switch event {
			case "status", "node":
				to := statuses
				if event == "node" {
					to = nodes
				}
				select {
				case to <- data:
				case <-ctx.Done():
				}
			case "error":
				var e struct {
					Error *apiError `json:"error"`
				}
				if json.Unmarshal(data, &e) == nil && e.Error != nil {
					return e.Error
				}
				return fmt.Errorf("event stream error: %s", data)
			}
			return nil
		})
		if ctx.Err() != nil {
			return nil
		}
		var ae *apiError
		if errors.As(err, &ae) && ae.Status != http.StatusServiceUnavailable {
			return err
		}
		if received {
			// It worked until now: the time without a connection starts here.
			lastOK = time.Now()
		} else if err == nil {
			err = fmt.Errorf("the event stream of %s at %s ended before sending anything", id, c.g.addr)
		}
		if err != nil && time.Since(lastOK) > giveUp {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(retry):
		}
	}
}

// stream opens a Server-Sent Events stream and calls fn for every event
// until the stream ends (nil), breaks, or fn fails. A refusal before the
// stream starts is an *apiError. A stream that stays silent for idle (no
// response headers, then no byte of an event or heartbeat; the time fn
// takes does not count) is taken as dead and ends with an error, as a
// dropped one would: a frozen server or a half-open connection sends no
// error of its own. received reports whether any of the stream's body
// arrived.
func (c *client) stream(ctx context.Context, path string, idle time.Duration, fn func(event string, data []byte) error) (received bool, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	silent := fmt.Errorf("muster at %s sent nothing for %s: taking the connection as dead", c.g.addr, idle)
	dead := time.AfterFunc(idle, func() { cancel(silent) })
	defer dead.Stop()
	defer func() {
		if err != nil && context.Cause(ctx) == silent {
			err = silent
		}
	}()

	q := url.Values{}
	if c.g.consistency != "" {
		q.Set("consistency", c.g.consistency)
	}
	u := strings.TrimRight(c.g.addr, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	if c.g.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.g.token)
	}
	req.Header.Set("Accept", "text/event-stream")
	res, err := c.http.Do(req)
	if err != nil {
		return false, fmt.Errorf("cannot reach muster at %s: %w", c.g.addr, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return false, c.refusal(res)
	}
	dead.Reset(idle)
	body := &liveReader{r: res.Body, live: func() {
		received = true
		dead.Reset(idle)
	}}
	r := bufio.NewReader(body)
	var event string
	var data bytes.Buffer
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			return received, nil
		} else if err != nil {
			return received, err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if event != "" || data.Len() > 0 {
				dead.Stop()
				if err := fn(cmp.Or(event, "message"), bytes.Clone(data.Bytes())); err != nil {
					return received, err
				}
				dead.Reset(idle)
			}
			event = ""
			data.Reset()
		case strings.HasPrefix(line, ":"):
			// a comment: the heartbeat
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				event = value
			case "data":
				if data.Len() > 0 {
					data.WriteByte('\n')
				}
				data.WriteString(value)
			}
		}
	}
}

// liveReader calls live each time a read returns data.
type liveReader struct {
	r    io.Reader
	live func()
}

func (l *liveReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if n > 0 {
		l.live()
	}
	return n, err
}

// update takes a new status: it extends the curve and prints or draws.
func (w *watcher) update(st notify.ActivationStatus, raw []byte) {
	w.last = &st
	counts := st.Summary().Counts
	at := sinceStart(st, w.now())
	w.points = append(w.points, curvePoint{at: at, pct: notify.Percent(counts.Acked, counts.Recipients)})
	switch {
	case w.json:
		fmt.Fprintf(w.out, "%s\n", raw)
	case w.tty:
		w.draw()
	default:
		fmt.Fprintln(w.out, statusLine(st, at))
	}
}

// finish ends the display: a terminal keeps the last screen.
func (w *watcher) finish() {
	if w.tty && !w.json && w.last != nil {
		w.draw()
		fmt.Fprintln(w.out)
	}
}

// draw redraws the whole screen.
func (w *watcher) draw() {
	var b strings.Builder
	b.WriteString("\x1b[H\x1b[2J")
	b.WriteString(w.frame(w.now()))
	b.WriteString("Ctrl-C to stop\n")
	io.WriteString(w.out, b.String())
}

// statusLine is one update as a line: the time since the activation, the
// status, the nine counts and the two shares, as key=value.
func statusLine(st notify.ActivationStatus, at time.Duration) string {
	c := st.Summary().Counts
	when := "T+" + roundElapsed(at)
	if neverStarted(st.Activation, st.Counters.Total) != "" {
		when = "never_started" // no clock ever ran
	}
	line := fmt.Sprintf("%s status=%s recipients=%d pending=%d sending=%d sent=%d delivered=%d acked=%d declined=%d failed=%d escalated=%d out_pct=%.1f acked_pct=%.1f",
		when, st.Status, c.Recipients, c.Pending, c.Sending, c.Sent, c.Delivered, c.Acked, c.Declined, c.Failed, c.Escalated,
		notify.Percent(c.Out(), c.Recipients), notify.Percent(c.Acked, c.Recipients))
	if c.Cancelled > 0 {
		line += fmt.Sprintf(" cancelled=%d", c.Cancelled) // taken off the call-up: only when any
	}
	if st.Status == notify.StatusPendingApproval {
		line += fmt.Sprintf(" approvals=%d/%d approve_by=%s", st.Approvals(), st.ApprovalsRequired, st.ApprovalDeadline.Format(time.RFC3339))
	}
	return line
}

// frame is the watch screen at now: the headline, both bars, the counts
// and the 报到 curve.
func (w *watcher) frame(now time.Time) string {
	st := w.last
	c := st.Summary().Counts
	stale := w.nodeLine(now)
	if at, ok := w.frozenAt(); ok {
		now = at // the clock stops where the figures do
	}
	board := watchBoard(*st, now)
	elapsed := board.Elapsed
	var b strings.Builder
	if never := neverStarted(st.Activation, st.Counters.Total); never != "" {
		// Nobody was called: no clock, no bars, no checkpoints, no curve.
		fmt.Fprintf(&b, "activation %s: %s %s (%s) in %s — %s, %s\n", st.ID, st.PlanTitle, levelLabel(st.Level), st.Purpose, st.RegionNames, statusLabel(st.Activation), never)
		return b.String()
	}
	fmt.Fprintf(&b, "activation %s: %s %s (%s) in %s — %s, T+%s\n", st.ID, st.PlanTitle, levelLabel(st.Level), st.Purpose, st.RegionNames, statusLabel(st.Activation), roundElapsed(elapsed))
	if stale != "" {
		fmt.Fprintln(&b, "NOT LIVE: "+stale)
	}
	if s := awaitingApproval(*st); s != "" {
		fmt.Fprintln(&b, s)
	}
	fmt.Fprintln(&b, progressLine("sent", c.Out(), c.Recipients))
	fmt.Fprintln(&b, progressLine("报到", c.Acked, c.Recipients))
	pending := "pending"
	if notSent(st.Status, c.Pending) {
		pending = "not sent"
	}
	fmt.Fprintf(&b, "%s %d  sending %d  sent %d  delivered %d  acked %d  declined %d  failed %d  escalated %d\n",
		pending, c.Pending, c.Sending, c.Sent, c.Delivered, c.Acked, c.Declined, c.Failed, c.Escalated)
	fmt.Fprintln(&b, checkpointText(board.Total.AckBy))
	if note := cutNote(board); note != "" {
		fmt.Fprintln(&b, note)
	}
	fmt.Fprintln(&b)
	b.WriteString(ackChart(w.curve(elapsed), elapsed, 48, 6))
	switch {
	case len(w.points) == 0 || w.points[0].at <= 2*watchRefresh:
	case !board.StoodDownAt.IsZero() && w.points[0].at >= elapsed:
		// Its clock stopped before the watch began: every point is the last.
		fmt.Fprintln(&b, "watching since after the stand-down; the curve joins T+0, the T+5/15/30 counts passed before it, and the final share")
	default:
		fmt.Fprintf(&b, "watching since T+%s; before that the curve joins T+0 and the T+5/15/30 counts\n", roundElapsed(w.points[0].at))
	}
	return b.String()
}

// curve is the 报到 curve known at elapsed: none at T+0, the shares seen
// while watching, and the share reported by each checkpoint already passed
// (from the counters, so the curve has a shape before watching began).
func (w *watcher) curve(elapsed time.Duration) []curvePoint {
	pts := []curvePoint{{at: 0, pct: 0}}
	if st := w.last; st != nil {
		total := st.Counters.Total
		for _, m := range notify.AckCheckpoints() {
			at := time.Duration(m) * time.Minute
			if at > elapsed {
				break
			}
			n := 0
			for _, by := range st.Counters.AckBy {
				n += by[m]
			}
			pts = append(pts, curvePoint{at: at, pct: notify.Percent(n, total)})
		}
	}
	pts = append(pts, w.points...)
	slices.SortStableFunc(pts, func(a, b curvePoint) int { return cmp.Compare(a.at, b.at) })
	return pts
}

// curveAt is the curve's share at a time: interpolated between the known
// points around it (before watching began only the checkpoints are known),
// the last known share after them.
func curveAt(pts []curvePoint, at time.Duration) float64 {
	v := 0.0
	for i, p := range pts {
		if p.at > at {
			if i == 0 {
				return 0
			}
			prev := pts[i-1]
			return prev.pct + (p.pct-prev.pct)*float64(at-prev.at)/float64(p.at-prev.at)
		}
		v = p.pct
	}
	return v
}

// ackChart draws the curve from T+0 to elapsed as a block chart of width
// columns and height rows, each column the share reported by the end of
// its time slice; the scale goes up to the highest share rounded up to 10%.
func ackChart(pts []curvePoint, elapsed time.Duration, width, height int) string {
	top := 0.0
	for _, p := range pts {
		top = max(top, p.pct)
	}
	scale := min(100, max(10, math.Ceil(top/10)*10))
	vals := make([]float64, width)
	for i := range vals {
		vals[i] = curveAt(pts, time.Duration(float64(elapsed)*float64(i+1)/float64(width)))
	}
	const blocks = "▁▂▃▄▅▆▇█"
	cells := []rune(blocks)
	var b strings.Builder
	fmt.Fprintf(&b, "报到 %% over time, T+0 to T+%s\n", roundElapsed(elapsed))
	for r := 0; r < height; r++ {
		label := "     "
		switch r {
		case 0:
			label = fmt.Sprintf("%4.0f%%", scale)
		case height - 1:
			label = "   0%"
		}
		b.WriteString(label + " │")
		base := float64(height-1-r) * 8
		for _, v := range vals {
			eighths := v / scale * float64(height) * 8
			n := int(eighths - base + 0.5)
			switch {
			case n <= 0:
				b.WriteByte(' ')
			case n >= 8:
				b.WriteRune(cells[7])
			default:
				b.WriteRune(cells[n-1])
			}
		}
		b.WriteByte('\n')
	}
	b.WriteString("      └" + strings.Repeat("─", width) + "\n")
	end := "T+" + roundElapsed(elapsed)
	b.WriteString("       T+0" + strings.Repeat(" ", max(1, width-3-len(end))) + end + "\n")
	return b.String()
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// decider names who made decision d: the token, and the person who held it
// when another than the token's name ("张三 (李四)"), so that a token named
// as a revoked one was does not pass for that one's holder.
func decider(d notify.Decision) string {
	if d.Holder != "" && !access.SameHolder(d.Holder, d.By) {
		return fmt.Sprintf("%s (%s)", d.By, d.Holder)
	}
	return d.By
}
