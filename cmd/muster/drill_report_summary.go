package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"muster/drills"
)

// printReportSummary prints a short text summary of run's report to a
// terminal instead of the HTML page (about 160 KB of markup) that muster
// drill report writes to standard output otherwise: the run and its plan,
// what became of its recipients, the counts at each checkpoint, and how to
// write the whole report to a file.
func printReportSummary(c *client, run, lang string) error {
	var body []byte
	err := c.do(request{method: http.MethodGet, path: "/api/v1/drill-runs/" + url.PathEscape(run) + "/report",
		query: url.Values{"format": {string(drills.FormatJSON)}, "lang": {lang}}, timeout: 3 * time.Minute}, &body)
	if err != nil {
		return err
	}
	var m drills.Metrics
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("report of %s: %w", run, err)
	}
	writeReportSummary(c.out, m)
	fmt.Fprintf(c.out, "the full report (ack curve, by region, grid, role and category, who stayed silent): muster drill report %s --out report.html (or report.xlsx, report.csv, report.json)\n", run)
	return nil
}

// writeReportSummary writes the summary lines of m.
func writeReportSummary(w io.Writer, m drills.Metrics) {
	title := m.PlanTitle
	if m.Title != "" {
		title += " — " + m.Title
	}
	fmt.Fprintf(w, "drill run %s: plan %s v%d (%s), level %s, %s, started %s\n", m.Run, m.Plan, m.PlanVersion, title, m.Level, m.Type, m.Start.Local().Format(minuteLayout+" -07:00"))
	switch {
	case m.Simulated:
		fmt.Fprintln(w, "sent through the built-in simulator (模拟器发送，未到达任何手机): no phone was reached; not a drill held")
	case m.Retraction != nil:
		fmt.Fprintln(w, "its call-up was retracted (sent in error): cut short, not a drill held")
	case m.StoppedBy != "":
		fmt.Fprintf(w, "stood down by the LIVE call-up %s: cut short, not a drill held\n", m.StoppedBy)
	}
	t := m.Total
	fmt.Fprintf(w, "%d recipients: reached %d (%.1f%%), acknowledged %d (%.1f%%), declined %d (%.1f%%), failed %d, silent %d (%.1f%%)\n",
		t.Recipients, t.Reached, t.ReachedPct, t.Acked, t.AckedPct, t.Declined, t.DeclinedPct, t.Failed, t.Unanswered, t.UnansweredPct)
	for _, cp := range t.Checkpoints {
		note := ""
		switch {
		case cp.Cut:
			note = " (counted up to the stand-down)"
		case !cp.Passed:
			note = " (so far)"
		}
		fmt.Fprintf(w, "T+%d: reached %d (%.1f%%), acknowledged %d (%.1f%%), declined %d (%.1f%%)%s\n",
			cp.Minutes, cp.Reached, cp.ReachedPct, cp.Acked, cp.AckedPct, cp.Declined, cp.DeclinedPct, note)
	}
	if a := t.AckTime; a.N > 0 {
		fmt.Fprintf(w, "time to acknowledge: median %s, 90%% within %s, longest %s\n", a.P50, a.P90, a.Max)
	}
}
