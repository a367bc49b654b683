package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"muster/drills"
	"muster/notify"
	"muster/plans"
)

func newActivateCmd(g *globals) *cobra.Command {
	var (
		regions, level, purpose, reason string
		confirmScope, key               string
		version                         int
		yes, repeat, duringRecovery     bool
	)
	cmd := &cobra.Command{
		Use:   "activate PLAN --region CODE[,CODE] --level I|II|III|IV --purpose live|exercise|test --reason TEXT",
		Short: "Activate a plan (平战转换): preview who is called up, confirm, switch the regions to emergency",
		Long: `Activate a plan for regions at a level. muster first shows the preview:
recipients per region and role (people in several roles are called once), one
rendered sample SMS with its segment count, the provider account and sender,
and how long sending everyone takes; then it asks you to confirm by typing the
region codes. --yes skips the question (scripts). A LIVE activation that
repeats one still open (same plan, level and regions) is refused unless
--repeat is given: the same command run twice would page everyone twice; the
preview says so, and muster stops there without asking. So is an EXERCISE
or TEST activation over (or above or below) the people another drill call-up
still drills — one started by hand or a drill's run (演练重叠): a reply
answers one call-up only, so neither drill would measure its own (--repeat
drills them twice at once all the same); and one over a region in recovery
(恢复) after a live emergency, as muster drill run is, unless
--during-recovery is given. An
activation wider than the
plan expects — regions outside its scope, or more people than the level's
expected count times the plan's guard factor, or a LIVE one of the whole
city at a level one person starts alone that gives no expected count — also
needs --confirm-scope naming its regions: the preview says so, and without
the flag muster stops there without asking. EXERCISE and TEST messages
always start with 【演练】 and go out on their own account. A LIVE activation at
a level that needs more approvals (I and II by default) waits in
pending_approval until other people approve it with muster approve; nothing is
switched or sent before that.`,
		Args: needArgs("PLAN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := notify.ActivationRequest{Plan: plans.PlanID(args[0]), PlanVersion: version, Level: level, Purpose: strings.ToUpper(purpose), Reason: reason,
				ConfirmScope: confirmScope, Repeat: repeat, DuringRecovery: duringRecovery}
			req.Regions = codeList(regions)
			if len(req.Regions) == 0 || level == "" || purpose == "" || strings.TrimSpace(reason) == "" {
				return usageErrorf("--region, --level, --purpose and --reason are required")
			}
			if err := checkVersionFlag(cmd, version); err != nil {
				return err
			}
			regions = plans.JoinCodes(req.Regions, ",") // what to type to confirm: each region once
			c := newClient(g, cmd)
			body := func(dry bool) io.Reader {
				return bytes.NewReader(mustJSON(struct {
					notify.ActivationRequest
					DryRun bool `json:"dry_run"`
				}{req, dry}))
			}
			var raw []byte
			if err := c.do(request{method: http.MethodPost, path: "/api/v1/activations", body: body(true), contentType: "application/json"}, &raw); err != nil {
				return repeatFlagError(err)
			}
			var p notify.Preview
			if err := json.Unmarshal(raw, &p); err != nil {
				return err
			}
			// The preview's line of a refusal that stops the command:
			// with --yes it is said once, in the error line, not above it
			// as well.
			refused := ""
			if yes {
				refused = refusedLine(p)
				for _, warning := range previewWarnings(p) {
					if warning != refused {
						fmt.Fprintln(c.err, warning)
					}
				}
			} else {
				printPreview(c.err, p)
			}
			if refused != "" {
				return errors.New("nothing was activated: " + refused)
			}
			if p.Again != "" {
				// The activation would be refused: asking to confirm it
				// would only waste the time of whoever answers.
				return errors.New("nothing was activated: it repeats a LIVE call-up still open; add --repeat if a repeat is meant")
			}
			if p.DrillOverlap != "" {
				return errors.New("nothing was activated: another drill call-up still drills these people (演练重叠 above); add --repeat if drilling them twice at once is meant")
			}
			if p.Recovery != "" {
				return errors.New("nothing was activated: a region is in recovery (恢复) after a live emergency (IN RECOVERY above); add --during-recovery if a drill during the recovery is meant")
			}
			if p.NoLiveSMS != "" {
				return errors.New("nothing was activated: the leader has no LIVE SMS account, so nobody would be called (NO LIVE SMS ACCOUNT above)")
			}
			if !yes && p.Guard.Needed() && !p.Guard.ConfirmedBy(req.ConfirmScope) {
				// Only --confirm-scope confirms a scope wider than the plan
				// expects, so that it is a choice made apart from the usual
				// confirmation: asking for the codes would lead nowhere.
				return fmt.Errorf("nothing was activated: it reaches wider than plan %s expects (SCOPE WARNING above); if that is meant, run the same command with --confirm-scope %s", req.Plan, p.Guard.Confirm)
			}
			if !yes {
				fmt.Fprintf(c.err, "\nType the region codes (%s) to activate, anything else to cancel: ", regions)
				if !confirmCodes(bufio.NewReader(cmd.InOrStdin()), c.err, req.Regions) {
					return errors.New("cancelled: nothing was activated")
				}
			}
			raw = nil
			// Every activation goes with an idempotency key (one of this
			// run's own unless given), so that when its outcome is unknown
			// (the leader lost while it handled it) asking again cannot
			// start a second call-up: this run asks once more, and says
			// how to ask with the same key after.
			if key == "" {
				key = newIdempotencyKey()
			}
			commit := request{method: http.MethodPost, path: "/api/v1/activations", body: body(false), contentType: "application/json",
				header: map[string]string{"Idempotency-Key": key}}
			err := c.do(commit, &raw)
			if outcomeUnknown(err) {
				fmt.Fprintf(c.err, "warning: %v\nasking again with the same idempotency key %s (it cannot start a second call-up)\n", err, key)
				raw = nil
				commit.body = body(false)
				err = c.do(commit, &raw)
			}
			if err != nil {
				if outcomeUnknown(err) {
					return fmt.Errorf("%w; it may or may not have been activated: muster status lists the call-ups; to try again without a second call-up, run the same command with --idempotency-key %s", err, key)
				}
				return repeatFlagError(err)
			}
			return c.print(raw, func(raw []byte, w io.Writer) error {
				var a notify.Activation
				if err := json.Unmarshal(raw, &a); err != nil {
					return err
				}
				printActivated(w, a)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&regions, "region", "", "region codes, comma-separated")
	levelVar(f, &level, "response level: I, II, III or IV")
	purposeVar(f, &purpose, "live, exercise or test (fixed for the activation's life)")
	f.StringVar(&reason, "reason", "", "why: shown to recipients and kept in the audit trail")
	f.IntVar(&version, "version", 0, "plan version to pin (default: the latest)")
	f.StringVar(&confirmScope, "confirm-scope", "", "confirm a scope wider than the plan expects (outside its scope, far more people than the level's expected count, or LIVE the whole city at a level without one) by naming the regions, e.g. 990100")
	f.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	f.BoolVar(&repeat, "repeat", false, "call the people of a LIVE call-up still open (same plan, level and regions) a second time, or drill people another drill call-up still drills (演练重叠); without it such a request is refused")
	f.BoolVar(&duringRecovery, "during-recovery", false, "drill (exercise, test) although a region is in recovery (恢复) after a live emergency; without it such a request is refused")
	f.StringVar(&key, "idempotency-key", "", "run again with the same key, it gets the activation the first run created instead of a second one (default: a key of this run's own, which it asks again with once when the outcome is unknown and prints)")
	takeOnce(f, "region", "level", "purpose", "reason", "version", "confirm-scope", "idempotency-key")
	return cmd
}

// printActivated says what became of an activation request or decision.
func printActivated(w io.Writer, a notify.Activation) {
	switch a.Status {
	case notify.StatusPendingApproval:
		fmt.Fprintf(w, "activation %s: %s %s (%s) in %s waits for approval (%d of %d) until %s; nothing is sent yet.\n  another person approves it with: muster approve %s\n",
			a.ID, a.PlanTitle, levelLabel(a.Level), a.Purpose, a.RegionNames, a.Approvals(), a.ApprovalsRequired, showTime(a.ApprovalDeadline, time.Local, clockLayout), a.ID)
		if s := approversTexted(a); s != "" {
			fmt.Fprintln(w, "  "+s)
		}
	case notify.StatusRejected:
		d := a.Decisions[len(a.Decisions)-1]
		fmt.Fprintf(w, "activation %s rejected by %s: %s; nothing was sent\n", a.ID, decider(d), d.Reason)
	default:
		fmt.Fprintf(w, "activation %s: %s %s (%s) in %s — %s; follow it with: muster status %s\n",
			a.ID, a.PlanTitle, levelLabel(a.Level), a.Purpose, a.RegionNames, count(a.Recipients, "recipient", "recipients"), a.ID)
	}
}

// requestedBy names who requested a as decider names who decided: the
// token, and the person who held it when another than its name
// ("值班 (张三)"), from the lineage a request waiting for approval keeps
// (rules 13).
func requestedBy(a notify.Activation) string {
	d := notify.Decision{By: a.CreatedBy}
	if len(a.RequesterLineage) > 0 {
		d.Holder = a.RequesterLineage[0].Holder
	}
	return decider(d)
}

// approversTexted says whom the texts telling approvers about a request
// awaiting approval go to, and what became of each, or that nobody is
// texted as no approver has a phone; "" for a request that lists neither
// (made before rules 12).
func approversTexted(a notify.Activation) string {
	if a.NoApproverPhone {
		return "no approver has a phone on record: tell them yourself (muster token create --phone gives an approver's token one)"
	}
	if len(a.ApproversNotified) == 0 {
		return ""
	}
	var holders, outcomes []string
	due := true
	for _, n := range a.ApproversNotified {
		holders = append(holders, n.Holder)
		outcomes = append(outcomes, noticeSaid(n))
		due = due && n.State == notify.NoticeDue
	}
	if due {
		return "texting the approvers: " + strings.Join(holders, ", ")
	}
	return "approvers texted: " + strings.Join(outcomes, "; ")
}

// noticeSaid is whom text n went to and how it went.
func noticeSaid(n notify.ApproverNotice) string {
	if n.Error != "" {
		return n.Holder + " " + string(n.State) + " (" + n.Error + ")"
	}
	return n.Holder + " " + string(n.State)
}

func newApproveCmd(g *globals) *cobra.Command {
	var (
		reason      string
		yes, repeat bool
	)
	cmd := &cobra.Command{
		Use:   "approve ACTIVATION [--reason TEXT]",
		Short: "Approve a LIVE activation waiting for a second person (level I–II), after seeing its preview",
		Long: `Approve an activation in pending_approval. muster shows the same preview the
requester saw, computed over the roster as it is now, and asks you to type the
activation ID. The approval names the recipient count you saw: if the roster
changed meanwhile and the call-up would reach a different number of people, it
is refused and you look again. The requester cannot approve their own
activation; the last approval needed starts the call-up. If the same LIVE
call-up (plan, level, regions) was started while the request waited, the
approval is refused unless --repeat is given: its people have been called.`,
		Args: needArgs("ACTIVATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := newClient(g, cmd)
			path := "/api/v1/activations/" + url.PathEscape(args[0]) + "/approve"
			var raw []byte
			if err := c.postJSON(path, map[string]bool{"dry_run": true}, &raw); err != nil {
				return err
			}
			var p notify.Preview
			if err := json.Unmarshal(raw, &p); err != nil {
				return err
			}
			// The preview is shown with --yes too: a second person approves
			// what they have seen, and --yes only spares the question.
			a := p.Activation
			fmt.Fprintf(c.err, "activation %s requested by %s at %s: %s\n", a.ID, requestedBy(a), showTime(a.CreatedAt, time.Local, secondLayout), a.Reason)
			printPreview(c.err, p)
			if p.NoLiveSMS != "" {
				return errors.New("nothing was approved: the leader has no LIVE SMS account, so nobody would be called (NO LIVE SMS ACCOUNT above)")
			}
			if !yes {
				fmt.Fprintf(c.err, "\nType the activation ID (%s) to approve it, anything else to cancel: ", a.ID)
				line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if strings.TrimSpace(line) != string(a.ID) {
					return errors.New("cancelled: nothing was approved")
				}
			}
			raw = nil
			body := map[string]any{"reason": reason, "recipients": p.Total, "repeat": repeat}
			if err := c.postJSON(path, body, &raw); err != nil {
				return repeatFlagError(err)
			}
			return c.print(raw, func(raw []byte, w io.Writer) error {
				var a notify.Activation
				if err := json.Unmarshal(raw, &a); err != nil {
					return err
				}
				if n := len(a.Decisions); n > 0 && a.Decisions[n-1].Approve {
					fmt.Fprintf(w, "activation %s approved by %s\n", a.ID, decider(a.Decisions[n-1]))
				}
				printActivated(w, a)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why you approve (kept with the decision)")
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation (the preview is still shown)")
	cmd.Flags().BoolVar(&repeat, "repeat", false, "approve even though the same LIVE call-up started while the request waited (its people are called again)")
	return cmd
}

func newRejectCmd(g *globals) *cobra.Command {
	return newReasonCmd(g, "reject ACTIVATION --reason TEXT", "Reject a LIVE activation waiting for approval: nothing is sent",
		"why (kept with the decision)", func(id string) string { return "/api/v1/activations/" + url.PathEscape(id) + "/reject" },
		nil,
		func(raw []byte, w io.Writer, _ string) error {
			var a notify.Activation
			if err := json.Unmarshal(raw, &a); err != nil {
				return err
			}
			printActivated(w, a)
			return nil
		})
}

func newRetractCmd(g *globals) *cobra.Command {
	return newRetractCmdFor(g, "ACTIVATION", "Retract a wrong activation in one step: stop its sends now and send a correction to everyone it may have reached",
		`Retract an activation. Once the retraction commits nothing more of it is sent,
its regions are released, and a correction goes to everyone the activation may
have reached, in all its regions, on the same account (and calls those its
calls may have reached). Its SMS names the call-up it withdraws, then TEXT,
and ends saying that no reply is needed (a drill's starts with 【演练】):
  【示例市应急】【更正】关于3月5日11:07「示例市防汛应急预案Ⅳ级响应（西林区）」的通知：TEXT本短信无需回复。
Its call reads the same words. A correction takes no answers: a reply to it
is not recorded, nor a key pressed on its call. There is no confirmation
question: a wrong alert is corrected fastest in one step. Before it commits,
the correction's text is shown on standard error, and so is any call-up still
in force that called some of the same people (the right call-up that followed
the wrong one, say): the correction names only ACTIVATION, and tells those
people that the other call-up stands. --dry-run shows that and retracts
nothing. Follow the correction with muster status on the ID printed.

--correct marks TEXT as a corrected call-up rather than a cancellation (CAP
Update instead of Cancel; a late reply to the retracted call-up is told it
was corrected, not withdrawn). It goes out as any correction does: to
everyone the call-up may have reached, taking no answers. It calls up nobody
and cannot change who must come: for other regions, another level or other
people, or for answers (到) to count, start a new activation (muster
activate). A correction sent once that one has started tells the people both
call up that it stands.

People whose language is English (the roster's language) read their call-up
in English, and read the correction in English too: --message-en TEXT is
what they are told in place of --message. Without it, when --message is in
Chinese:
  - a cancellation tells them, after naming the call-up, the standard
    English text: "`+notify.CorrectionTextEN+`";
  - a corrected call-up (--correct) is refused when it reached any of them
    (the error says how many): what it corrects cannot be put in English
    for you, and they must not be sent Chinese they may not read. Give
    --message-en, or retract without --correct to tell them it is withdrawn.
The preview shows what they read and how many they are.`,
		func(id string) string { return "/api/v1/activations/" + url.PathEscape(id) + "/retract" })
}

// newRetractCmdFor is a retract command of an ARG (an activation, a drill
// run) whose retraction is posted to path(ARG).
func newRetractCmdFor(g *globals, arg, short, long string, path func(string) string) *cobra.Command {
	var (
		message   string
		messageEN string
		correct   bool
		dryRun    bool
	)
	cmd := &cobra.Command{
		Use:   "retract " + arg + " --message TEXT [--message-en TEXT] [--correct] [--dry-run]",
		Short: short,
		Long:  long,
		Args:  needArgs(arg),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(message) == "" {
				return usageErrorf("--message is required: what the people the activation may have reached should be told")
			}
			c := newClient(g, cmd)
			path := path(args[0])
			var raw []byte
			preview := map[string]any{"message": message, "correct": correct, "dry_run": true}
			if messageEN != "" { // a server from before --message-en refuses the field
				preview["message_en"] = messageEN
			}
			err := c.postJSON(path, preview, &raw)
			var ae *apiError
			switch {
			case err == nil:
				var p notify.RetractPreview
				if err := json.Unmarshal(raw, &p); err != nil {
					return err
				}
				if dryRun {
					return c.print(raw, func(_ []byte, w io.Writer) error {
						printRetractPreview(w, p)
						return nil
					})
				}
				printRetractPreview(c.err, p)
			case dryRun:
				return err
			case errors.As(err, &ae) && ae.Status == http.StatusBadRequest && strings.Contains(ae.Message, "dry_run"):
				// A server from before retraction previews: the
				// correction is not held up for a preview.
				fmt.Fprintf(c.err, "(this server shows no preview of a retraction: retracting now)\n")
			default:
				return err
			}
			raw = nil
			if err := c.postJSON(path, notify.RetractRequest{Message: message, Correct: correct, MessageEN: messageEN}, &raw); err != nil {
				return err
			}
			return c.print(raw, func(raw []byte, w io.Writer) error {
				var res notify.RetractResult
				if err := json.Unmarshal(raw, &res); err != nil {
					return err
				}
				fmt.Fprintf(w, "activation %s retracted: nothing more of it is sent.\ncorrection %s goes to %s\nfollow it with: muster status %s (it ends by itself once everything has gone out)\n",
					res.Retracted.ID, res.Correction.ID, correctionReach(res.Retracted.ID, res.Correction.Recipients, res.Retracted.Retraction), res.Correction.ID)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&message, "message", "", "the correction sent to everyone the activation may have reached (at most 300 characters)")
	cmd.Flags().StringVar(&messageEN, "message-en", "", "what people whose language is English are told in place of --message (at most 300 characters); without it they get a standard English cancellation, and --correct in Chinese is refused if it reached them")
	cmd.Flags().BoolVar(&correct, "correct", false, "the message is a corrected call-up, not only a cancellation (CAP Update): it goes to the same people as any correction, takes no answers and ends with 本短信无需回复; to change who must come, start a new activation")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show whom the correction would reach, its text, and the call-ups in force that also called them; retract nothing")
	return cmd
}

// printRetractPreview shows what a retraction will do before it commits:
// whom the correction reaches and what it says, and, for every call-up
// still in force that also called some of them, that it stays in force and
// what those people read.
func printRetractPreview(w io.Writer, p notify.RetractPreview) {
	a := p.Activation
	fmt.Fprintf(w, "correction of %s (%s, level %s, started at %s) goes to %s:\n  %s\n",
		a.ID, a.PlanTitle, a.Level, showTime(startedAt(a), time.Local, secondLayout), count(p.Recipients, "person", "people"), p.Text)
	if p.English > 0 && p.TextEN != "" {
		fmt.Fprintf(w, "%s whose language is English %s:\n  %s\n", count(p.English, "person", "people"), plural(p.English, "reads", "read"), p.TextEN)
	}
	for _, o := range p.Standing {
		fmt.Fprintf(w, "NOTE: %d of the people this correction reaches %s also called by %s (%s, level %s, started at %s), which stays in force; the correction names only %s. They read:\n  %s\n",
			o.People, plural(o.People, "was", "were"), o.ID, o.PlanTitle, o.Level, showTime(o.StartedAt, time.Local, secondLayout), a.ID, o.Text)
	}
}

// startedAt is when activation a started (when it was created, for a
// record from before that was kept).
func startedAt(a notify.Activation) time.Time {
	if a.StartedAt.IsZero() {
		return a.CreatedAt
	}
	return a.StartedAt
}

// correctionReach says whom the correction of activation id goes to:
// recipients people it may have reached. "May", not "did": muster knows
// whose SMS the provider took (sent, delivered, answered) or was in flight
// when the activation stopped, and to whom a voice call of it was placed,
// not who read or heard it. Calls of them the correction calls too.
func correctionReach(id plans.ActivationID, recipients int, r *notify.Retraction) string {
	s := fmt.Sprintf("%s %s may have reached (its SMS to them was sent or in flight, or a call of it was placed to them)",
		count(recipients, "person", "people"), id)
	if r != nil && r.InFlight > 0 {
		s = fmt.Sprintf("up to %s; %d of them get it only if its SMS to them, in flight at the retraction, turns out to have gone out", s, r.InFlight)
	}
	if r != nil && r.Calls > 0 {
		s += fmt.Sprintf("; %d of them %s also called", r.Calls, plural(r.Calls, "is", "are"))
	}
	return s
}

// printPreview shows a preview for a person to confirm.
func printPreview(w io.Writer, p notify.Preview) {
	a := p.Activation
	t := newTable(w)
	fmt.Fprintf(t, "PREVIEW — nothing has been sent or switched yet\n")
	fmt.Fprintf(t, "plan:\t%s (%s version %d), level %s %s, purpose %s\n", a.PlanTitle, a.Plan, a.PlanVersion, a.Level, a.LevelName, a.Purpose)
	fmt.Fprintf(t, "recipients:\t%s (%d in more than one role, called once)\n", count(p.Total, "person", "people"), p.Merged)
	for _, r := range p.Regions {
		fmt.Fprintf(t, "  region\t%s %s\t%d\n", r.Region, r.Name, r.Recipients)
	}
	if p.OutsideRegions > 0 {
		fmt.Fprintf(t, "  plan-wide roles\t(outside the regions)\t%d\n", p.OutsideRegions)
	}
	for _, r := range p.Roles {
		short := ""
		if r.Shortfall > 0 {
			short = fmt.Sprintf("  (needs %d: %d short)", r.Count, r.Shortfall)
		}
		fmt.Fprintf(t, "  role\t%s / %s\t%d%s\n", r.Group, r.Name, r.Matched, short)
	}
	if p.Sample != nil {
		fmt.Fprintf(t, "sample SMS to %s (%s, %s, %s):\n  %s\n", p.Sample.Name, p.Sample.Encoding,
			count(p.Sample.Chars, "char", "chars"), count(p.Sample.Segments, "segment", "segments"), p.Sample.Text)
	}
	est := "unknown (no send rate configured)"
	if p.EstimatedSend > 0 {
		est = p.EstimatedSend.Round(time.Second).String()
	} else if p.Send.Leader != "" && p.Send.Sender == "" {
		est = "unknown here"
	}
	fmt.Fprintf(t, "provider:\t%s, sender %s; sending everyone takes %s\n", p.Send.Account, orDash(p.Send.Sender), est)
	if p.Send.Leader != "" && p.Send.Sender != "" {
		// Shown by a follower: the leader sends, with its own flags.
		fmt.Fprintf(t, "\t(as this node is set up; the leader %s sends it, with the account it was started with)\n", p.Send.Leader)
	}
	t.Flush()
	for _, warning := range previewWarnings(p) {
		fmt.Fprintf(w, "\n%s\n", warning)
	}
	if p.Guard.Needed() {
		fmt.Fprintf(w, "\nSCOPE WARNING — wider than this plan expects:\n")
		for _, r := range p.Guard.Reasons {
			fmt.Fprintf(w, "  - %s\n", r)
		}
		if p.Guard.ConfirmedBy(p.Activation.ConfirmedScope) {
			fmt.Fprintf(w, "Its scope is confirmed (--confirm-scope %s).\n", p.Guard.Confirm)
		} else {
			fmt.Fprintf(w, "It starts only with --confirm-scope %s.\n", p.Guard.Confirm)
		}
	}
}

// previewWarnings are the warnings of a preview that still hold when the
// confirmation is skipped with --yes, so that a script's log shows them: the
// plan already calling up these regions' people, the people other LIVE
// call-ups have called up already, and drills this LIVE activation stands
// down, a LIVE call-up refused as the leader has no LIVE SMS account, and
// the server's own warnings (a long SMS).
func previewWarnings(p notify.Preview) []string {
	var out []string
	out = append(out, p.Warnings...)
	if len(p.AlreadyOpen) > 0 && p.DrillOverlap == "" { // a drill overlap's refusal says it
		out = append(out, fmt.Sprintf("ALREADY ACTIVE — this plan is already calling up these regions (%s) for the same purpose: starting it again calls their people again.", joinIDs(p.AlreadyOpen)))
	}
	if p.AlreadyCalledUp > 0 {
		calls := make([]string, len(p.CalledUpBy))
		for i, c := range p.CalledUpBy {
			calls[i] = fmt.Sprintf("%s (%s %s in %s: %s)", c.ID, c.PlanTitle, levelLabel(c.Level), c.RegionNames, count(c.People, "person", "people"))
		}
		out = append(out, fmt.Sprintf("ALREADY CALLED UP — %d of these %s %s called up already by active LIVE call-ups: %s. Starting this one calls them for it too.",
			p.AlreadyCalledUp, count(p.Total, "person", "people"), plural(p.AlreadyCalledUp, "is", "are"), strings.Join(calls, ", ")))
	}
	if len(p.Activation.StoppedDrills) > 0 {
		out = append(out, fmt.Sprintf("DRILLS STOP — the drills running here (%s) are stood down when this LIVE activation starts.", joinIDs(p.Activation.StoppedDrills)))
	}
	if p.Again != "" {
		out = append(out, repeatWarning(p))
	}
	if p.DrillOverlap != "" {
		out = append(out, drillOverlapWarning(p))
	}
	if p.Recovery != "" {
		out = append(out, recoveryWarning(p))
	}
	if p.NoLiveSMS != "" {
		out = append(out, noLiveSMSWarning+p.NoLiveSMS)
	}
	if p.LeftOut > 0 {
		out = append(out, fmt.Sprintf("LEFT OUT — %s called up for real by an active LIVE call-up %s not drilled.", count(p.LeftOut, "person", "people"), plural(p.LeftOut, "is", "are")))
	}
	return out
}

// noLiveSMSWarning starts the preview's line saying that a LIVE call-up is
// refused because the leader has no LIVE SMS account.
const noLiveSMSWarning = "NO LIVE SMS ACCOUNT — refused: "

// repeatWarning is the preview's line saying that p's activation is
// refused as a repeat of a LIVE call-up still open, naming --repeat.
func repeatWarning(p notify.Preview) string {
	again := repeatFlag(p.Again)
	if !strings.Contains(again, "--repeat") {
		again += " (--repeat)"
	}
	return "REFUSED AS A REPEAT — " + again
}

// drillOverlapWarning is the preview's line saying that p's EXERCISE or
// TEST activation is refused as it overlaps another drill call-up (演练重叠),
// naming --repeat.
func drillOverlapWarning(p notify.Preview) string {
	overlap := repeatFlag(p.DrillOverlap)
	if !strings.Contains(overlap, "--repeat") {
		overlap += " (--repeat)"
	}
	return "REFUSED AS A DRILL OVERLAP — " + overlap
}

// recoveryWarning is the preview's line saying that p's EXERCISE or TEST
// activation is refused as a region is in recovery, naming
// --during-recovery.
func recoveryWarning(p notify.Preview) string {
	return "IN RECOVERY — refused: " + p.Recovery
}

// refusedLine is the line of p's warnings (previewWarnings) saying why the
// activation is refused whatever is answered, the repeat first, as the
// command stops on it; "" when nothing refuses it.
func refusedLine(p notify.Preview) string {
	switch {
	case p.Again != "":
		return repeatWarning(p)
	case p.DrillOverlap != "":
		return drillOverlapWarning(p)
	case p.Recovery != "":
		return recoveryWarning(p)
	case p.NoLiveSMS != "":
		return noLiveSMSWarning + p.NoLiveSMS
	}
	return ""
}

// repeatFlag writes the API's "with repeat", which names the request's
// field, as the flag of the CLI that sets it: "or ask again with --repeat".
func repeatFlag(msg string) string { return strings.ReplaceAll(msg, " with repeat", " with --repeat") }

// repeatFlagError is err with its API message in the CLI's words
// (repeatFlag); other errors are returned as they are.
// newIdempotencyKey is a key for one run of muster activate.
func newIdempotencyKey() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "cli-" + hex.EncodeToString(b)
}

// outcomeUnknown reports whether err leaves it unknown whether the request
// took effect: the server said so (unavailable, timeout: the leader lost
// while it handled it), or the answer never came back.
func outcomeUnknown(err error) bool {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status == http.StatusServiceUnavailable || ae.Status == http.StatusGatewayTimeout
	}
	return err != nil && !errors.Is(err, syscall.ECONNREFUSED)
}

func repeatFlagError(err error) error {
	var ae *apiError
	if errors.As(err, &ae) {
		ae.Message = repeatFlag(ae.Message)
	}
	return err
}

func newStandDownCmd(g *globals) *cobra.Command {
	var force, noNotice bool
	var cmd *cobra.Command
	cmd = newReasonCmd(g, "stand-down ACTIVATION --reason TEXT [--force] [--no-notice]",
		"Stand an activation down: stop its sends; a LIVE one's regions go to recovery (恢复) unless something else holds them",
		"why (kept in the audit trail)", func(id string) string { return "/api/v1/activations/" + url.PathEscape(id) + "/stand-down" },
		func(body map[string]any) {
			if force {
				body["force"] = true
			}
			if noNotice {
				body["notice"] = false
			}
		},
		func(raw []byte, w io.Writer, id string) error {
			fmt.Fprintf(w, "activation %s stood down\n", id)
			c := newClient(g, cmd)
			printEndNotice(c, w, raw, noNotice)
			printRecovery(c, w, raw)
			printDrillRunCutShort(c, w, raw)
			return nil
		})
	cmd.Long = `Stand an activation down: no more of its messages are sent or escalated.
A LIVE activation's regions do not go back to normal (平时): each goes to
recovery (恢复), the post-emergency phase, unless another activation holds
it (a warning in force shows it in standby, 临战, over the recovery until it
is lifted; before rules 12 they went back to normal). A region stays in
recovery until a commander ends it: muster mode --region CODE shows it, and
muster end-recovery --region CODE[,CODE] --reason TEXT ends it.
EXERCISE and TEST activations switch no region; the call-up of a drill run
stood down before it was held is recorded as cut short, as muster drill
stand-down says, and the answer says so. A correction that still has
messages to go is not stood down (it ends by itself once they have gone)
unless --force says to stop a wrong one.
From rules 13 the people a LIVE call-up or a drill reached are told by SMS
that it has ended, on its own account, in their language (a LIVE one, to
whoever answered 到: 应急响应已结束，可按单位安排离岗，无需回复。; to whoever
declined: 应急响应已结束，无需回复。; to whoever never answered:
应急响应已结束，无需到岗；已到岗的可按单位安排离岗，无需回复。); --no-notice tells nobody,
for a call-up replaced by another one that tells them what stands. A
retraction (muster retract) tells them with its correction instead.`
	cmd.Flags().BoolVar(&force, "force", false, "also a correction that still has messages to go (a wrong correction): those it has not reached are not told")
	cmd.Flags().BoolVar(&noNotice, "no-notice", false, "tell nobody it ended (another call-up replaces it); by default the people it reached are told")
	return cmd
}

// recoveryShown bounds the regions of a stood-down call-up whose mode
// stand-down looks up.
const recoveryShown = 20

// printRecovery names, after a LIVE call-up (raw, the stand-down's answer)
// stood down, those of its regions now in recovery (恢复) and how to end
// it: the stand-down leaves them there, not in normal. It looks up at most
// recoveryShown regions and says nothing when a lookup fails (the
// stand-down itself is done).
func printRecovery(c *client, w io.Writer, raw []byte) {
	var a notify.Activation
	if json.Unmarshal(raw, &a) != nil || a.Purpose.Drill() || len(a.Regions) == 0 {
		return
	}
	names := strings.Split(a.RegionNames, "、")
	var codes, labels []string
	for i, code := range a.Regions[:min(len(a.Regions), recoveryShown)] {
		var m plans.RegionMode
		if c.do(request{method: http.MethodGet, path: "/api/v1/modes", query: url.Values{"region": {string(code)}}}, &m) != nil {
			return
		}
		if m.Mode != plans.ModeRecovery {
			continue
		}
		label := string(code)
		if len(names) == len(a.Regions) {
			label = names[i] + " (" + label + ")"
		}
		codes, labels = append(codes, string(code)), append(labels, label)
	}
	if len(codes) > 0 {
		fmt.Fprintf(w, "in recovery (恢复) now: %s; muster end-recovery --region %s --reason TEXT ends it\n", strings.Join(labels, "、"), strings.Join(codes, ","))
	}
}

// printDrillRunCutShort says of the drill run whose call-up the activation
// a stand-down answered with raw is what muster drill stand-down says of it
// (cutShortLine): nothing for a LIVE activation, one no drill run started,
// or a run held; the stand-down is done whatever this read finds.
func printDrillRunCutShort(c *client, w io.Writer, raw []byte) {
	var a notify.Activation
	if json.Unmarshal(raw, &a) != nil || !a.Purpose.Drill() || a.StoodDownAt.IsZero() {
		return
	}
	var runs plans.List[drills.Run]
	if c.do(request{method: http.MethodGet, path: "/api/v1/drill-runs", query: url.Values{"activation": {string(a.ID)}}}, &runs) != nil {
		return
	}
	for _, r := range runs.Items {
		if r.Activation == a.ID { // a server before ?activation= lists every run
			fmt.Fprint(w, cutShortLine(r, a.StartedAt, a.StoodDownAt))
			return
		}
	}
}

// newReasonCmd is a verb on one object that needs --reason: it posts
// {"reason": TEXT} to pathOf(ID), with what more (when not nil) adds from
// the command's other flags, and shows the answer with show.
func newReasonCmd(g *globals, use, short, reasonHelp string, pathOf func(id string) string, more func(body map[string]any), show func(raw []byte, w io.Writer, id string) error) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  needArgs(strings.Fields(use)[1]), // the name in use: ACTIVATION, ID
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return usageErrorf("--reason is required")
			}
			c := newClient(g, cmd)
			var raw []byte
			body := map[string]any{"reason": reason}
			if more != nil {
				more(body)
			}
			if err := c.postJSON(pathOf(args[0]), body, &raw); err != nil {
				return err
			}
			return c.print(raw, func(raw []byte, w io.Writer) error { return show(raw, w, args[0]) })
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", reasonHelp)
	return cmd
}

func joinIDs(ids []plans.ActivationID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return strings.Join(s, ", ")
}

// codeList reads comma-separated region codes, each once, in the order
// given.
func codeList(s string) []plans.RegionCode {
	var out []plans.RegionCode
	// Commas, as the flag documents, and what a Chinese input method types
	// for them (，、) or spaces between codes.
	for _, r := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '，' || r == '、' || unicode.IsSpace(r) }) {
		if !slices.Contains(out, plans.RegionCode(r)) {
			out = append(out, plans.RegionCode(r))
		}
	}
	return out
}

// confirmTries is how often a typed confirmation that names other codes
// than the preview's is asked again before the activation is cancelled.
const confirmTries = 3

// confirmCodes reads the region codes typed to confirm an activation of
// regions: the same codes, in any order and with any separator codeList
// reads, confirm it. Codes that differ are said and asked again (a typo
// under time pressure should not mean starting over), up to confirmTries;
// an empty line, or one without a single code, cancels.
func confirmCodes(in *bufio.Reader, w io.Writer, regions []plans.RegionCode) bool {
	want := slices.Sorted(slices.Values(regions))
	for try := 1; ; try++ {
		line, _ := in.ReadString('\n')
		typed := codeList(line)
		if len(typed) == 0 || !slices.ContainsFunc(typed, func(c plans.RegionCode) bool { return allDigits(string(c)) }) {
			return false // nothing, or a word such as no: cancelled
		}
		if slices.Equal(slices.Sorted(slices.Values(typed)), want) {
			return true
		}
		if try == confirmTries {
			return false
		}
		fmt.Fprintf(w, "you typed %s, the preview is for %s: type those codes, or press Enter to cancel: ", plans.JoinCodes(typed, ","), plans.JoinCodes(regions, ","))
	}
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
