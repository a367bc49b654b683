package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"muster"
	"muster/notify"
	"muster/plans"
)

func newWarningCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "warning",
		Short: "Warnings (预警): issue, list, show and lift; they put regions into standby (临战)",
		Long: `A warning (blue, yellow, orange or red) puts its regions, and everything under
them, into standby (临战) and suggests the plan and level to activate
(red → I, orange → II, yellow → III, blue → IV). An orange or red warning with
no activation over its regions within the server's --warning-response-timeout
(default 30 min) is marked NO RESPONSE until one starts or it is lifted, and
the leader calls on the commanders (叫应): every holder of a commander token
with a phone is texted once, on the LIVE account, which warning it is and the
plan to activate; list and show say whom it texted and when (已叫应). Still
unanswered as long again, it goes on to their superiors (叫应升级): every
holder of an approver token (值班领导) with a phone is texted once that the
commanders were called on and nothing started (已升级叫应). A reply to either
text acknowledges it (已应: list and show say who and when); it starts no
response, and a commander's stops the escalation to the superiors.
An upstream drill's warning (EXERCISE or TEST) puts no region in standby and
is answered by a drill (--purpose exercise) over its regions, never by a
LIVE call-up: without one it is marked "no drill response", not NO RESPONSE.`,
	}
	cmd.AddCommand(newWarningIssueCmd(g), newWarningListCmd(g), newWarningShowCmd(g), newWarningLiftCmd(g))
	return cmd
}

// parseExpires reads --expires: an RFC 3339 time, or a duration from now
// that the server resolves with its own clock.
func parseExpires(s string) (expires, expiresIn string, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", "", nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Format(time.RFC3339), "", nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return "", d.String(), nil
	}
	return "", "", usageErrorf("--expires %q: want an RFC 3339 time such as 2026-07-20T18:00:00+08:00 or a duration such as 6h", s)
}

func newWarningIssueCmd(g *globals) *cobra.Command {
	var regions, level, event, headline, description, category, capCategory, expires string
	var eventEN, headlineEN, descriptionEN string
	cmd := &cobra.Command{
		Use:   "issue --region CODE[,CODE] --level blue|yellow|orange|red --event TEXT --headline TEXT [--expires T]",
		Short: "Issue a warning: its regions go into standby (临战); shows the suggested plans and level",
		Long: `Issue a warning. --level takes blue, yellow, orange or red (or 蓝, 黄, 橙, 红);
--expires an RFC 3339 time or a duration from now such as 6h (without it the
warning stays in force until lifted); --category a hazard category
(自然灾害, 事故灾难, 公共卫生, 社会安全) narrows the suggested plans. Without
it, the category is the one --cap-category or the event names plainly
(暴雨, 台风, 地震, 森林火险…: 自然灾害), else every plan is listed.
--event-en, --headline-en and --description-en are what English readers of
its CAP alert get (the en-US block); without them an event that names a
meteorological warning signal (暴雨, 台风, 大风…) gets the signal's English
name and a headline naming the colour and regions, and any other none.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{"level": level, "event": event, "headline": headline, "source": "cli"}
			var codes []string
			for _, r := range strings.Split(regions, ",") {
				if r = strings.TrimSpace(r); r != "" {
					codes = append(codes, r)
				}
			}
			if len(codes) == 0 || level == "" || strings.TrimSpace(event) == "" || strings.TrimSpace(headline) == "" {
				return usageErrorf("--region, --level, --event and --headline are required")
			}
			body["regions"] = codes
			at, in, err := parseExpires(expires)
			if err != nil {
				return err
			}
			for k, v := range map[string]string{"description": description, "category": category, "cap_category": capCategory, "expires": at, "expires_in": in,
				"event_en": eventEN, "headline_en": headlineEN, "description_en": descriptionEN} {
				if v != "" {
					body[k] = v
				}
			}
			c := newClient(g, cmd)
			var raw []byte
			if err := c.do(request{method: http.MethodPost, path: "/api/v1/warnings", body: bytes.NewReader(mustJSON(body)), contentType: "application/json"}, &raw); err != nil {
				return err
			}
			return c.print(raw, func(raw []byte, w io.Writer) error {
				var wa plans.Warning
				if err := json.Unmarshal(raw, &wa); err != nil {
					return err
				}
				fmt.Fprintf(w, "warning %s: %s预警 %s — %s\n", wa.ID, wa.Level.ChineseName(), wa.RegionNames(), wa.Headline)
				fmt.Fprintf(w, "regions %s and everything under them are in standby (临战) unless in emergency\n", plans.JoinCodes(wa.Regions, ","))
				printSuggestions(w, wa)
				if s := responseDueSaid(wa); s != "" {
					fmt.Fprintln(w, s)
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&regions, "region", "", "region codes, comma-separated")
	checkedVar(f, &level, "level", "", "warning level: blue, yellow, orange or red (蓝, 黄, 橙, 红)", "blue, yellow, orange or red (蓝, 黄, 橙, 红)", parses(plans.ParseWarningLevel))
	f.StringVar(&event, "event", "", "what is happening, e.g. 暴雨")
	f.StringVar(&headline, "headline", "", "one line for people, e.g. 东湖区暴雨红色预警")
	f.StringVar(&description, "description", "", "details")
	f.StringVar(&eventEN, "event-en", "", "the event in English, for English readers of the CAP alert, e.g. Urban flooding (default: the English name of the warning signal the event names, if any)")
	f.StringVar(&headlineEN, "headline-en", "", "the headline in English (default: one naming the colour, event and regions)")
	f.StringVar(&descriptionEN, "description-en", "", "the details in English (default: a line saying they are given in Chinese)")
	checkedVar(f, &category, "category", "", "hazard category: 自然灾害, 事故灾难, 公共卫生 or 社会安全 (natural, accident, public_health, social_security)",
		"自然灾害, 事故灾难, 公共卫生 or 社会安全 (natural, accident, public_health, social_security)", parses(plans.ParseHazard))
	checkedVar(f, &capCategory, "cap-category", "", "CAP 1.2 category for export (Met, Geo, ...)", muster.OrList(plans.CAPCategories()), parses(plans.ParseCAPCategory))
	f.StringVar(&expires, "expires", "", "when it expires: an RFC 3339 time or a duration such as 6h (default: in force until lifted)")
	takeOnce(f, "region", "level")
	return cmd
}

// responseDueSaid says, for a warning just issued, what response it
// expects: by when one is due, or, when an activation already over its
// regions answered it as it was issued, which (no response is then due);
// "" for one that needs none.
func responseDueSaid(wa plans.Warning) string {
	if wa.RespondBy.IsZero() {
		return ""
	}
	var by []string
	for _, r := range wa.Responses {
		if r.Retracted.IsZero() && !slices.Contains(by, string(r.Activation)) {
			by = append(by, string(r.Activation))
		}
	}
	if len(by) > 0 {
		return "answered by " + strings.Join(by, ", ") + ", already active over these regions: no further response is due"
	}
	return "an activation over these regions is expected by " + localTime(wa.RespondBy) + "; without one the warning is marked NO RESPONSE"
}

// pendingRequests reads the LIVE requests awaiting approval, each with its
// regions, as far as they can be read: a warning's show goes on without
// them.
func pendingRequests(c *client) map[plans.ActivationID][]plans.RegionCode {
	var list plans.List[notify.Activation]
	if err := c.do(request{method: http.MethodGet, path: "/api/v1/activations?status=pending_approval"}, &list); err != nil {
		return nil
	}
	out := map[plans.ActivationID][]plans.RegionCode{}
	for _, a := range list.Items {
		if a.Purpose == notify.PurposeLive {
			out[a.ID] = a.Regions
		}
	}
	return out
}

// awaitingSaid names, for an unanswered warning, the LIVE requests awaiting
// approval that hold one of its regions, a region above or below one
// (plans.Warning.Overlaps, as the server tells what answers it), and
// would answer it once approved: " (A000002 awaits approval: muster
// approve A000002)"; "" when none does.
func awaitingSaid(wa plans.Warning, pending map[plans.ActivationID][]plans.RegionCode) string {
	var ids []string
	for id, regions := range pending {
		if slices.ContainsFunc(regions, wa.Overlaps) {
			ids = append(ids, string(id))
		}
	}
	if len(ids) == 0 {
		return ""
	}
	slices.Sort(ids)
	verb := "awaits"
	if len(ids) > 1 {
		verb = "await"
	}
	return " (" + strings.Join(ids, ", ") + " " + verb + " approval: muster approve " + ids[0] + ")"
}

// printSuggestions lists the plans to activate for a warning, each with the
// command that would activate it.
func printSuggestions(w io.Writer, wa plans.Warning) {
	if len(wa.Suggestions) == 0 {
		which := "no plan"
		if wa.Category != "" {
			which = "no " + string(wa.Category) + " plan"
		}
		fmt.Fprintf(w, "%s covers all of these regions; suggested level %s\n", which, wa.SuggestedLevel)
		return
	}
	fmt.Fprintf(w, "suggested: level %s\n", wa.SuggestedLevel)
	if wa.Category == "" {
		fmt.Fprintln(w, "  (no category, and the event names no hazard known: plans of every hazard are listed; --category narrows them)")
	}
	purpose := strings.ToLower(string(wa.PurposeOrLive())) // a drill's warning is answered by a drill
	reason := wa.SuggestedReason()                         // no drill word in a LIVE one's
	for _, s := range wa.Suggestions {
		fmt.Fprintf(w, "  %s\t%s\t%s %s\tmuster activate %s --region %s --level %s --purpose %s",
			s.Plan, s.Title, levelLabel(s.Level), s.LevelName, s.Plan, plans.JoinCodes(wa.Regions, ","), s.Level, purpose)
		if reason != "" {
			fmt.Fprintf(w, " --reason %s", plans.ShellWord(reason))
		}
		fmt.Fprintln(w)
	}
	if reason == "" {
		fmt.Fprintf(w, "add --reason TEXT saying why: the warning's headline and event say %q, which a LIVE call-up's reason may not\n",
			plans.DrillWordsIn(wa.Headline + " " + wa.Event)[0])
	}
}

// drillMark is the purpose of an EXERCISE or TEST warning (an upstream
// drill's alert, which holds no region) by its labels, 【演练】EXERCISE or
// 【测试】TEST (see purposeMark); "" for a LIVE one.
func drillMark(wa plans.Warning) string {
	if wa.HoldsRegions() {
		return ""
	}
	p := string(wa.PurposeOrLive())
	return purposeMark(p) + p
}

// responseCell says where a warning stands on its response: the marker
// "!! NO RESPONSE" when the commander is prompted for a LIVE warning, "no
// drill response" for an upstream drill's, which a drill answers and which
// no operator is alerted for; for one that ended unanswered, "NO RESPONSE
// from" its due time until it expired or was lifted.
func responseCell(wa plans.Warning) string {
	switch {
	case wa.Prompt && !wa.HoldsRegions():
		return "no drill response since " + localTime(wa.PromptSince)
	case wa.Prompt:
		return "!! NO RESPONSE since " + localTime(wa.PromptSince)
	case !wa.UnansweredUntil.IsZero():
		mark := "NO RESPONSE"
		if !wa.HoldsRegions() {
			mark = "no drill response"
		}
		ended := "it expired"
		if wa.Status == plans.WarningLifted {
			ended = "it was lifted"
		}
		return fmt.Sprintf("%s from %s until %s at %s", mark, localTime(wa.RespondBy), ended, localTime(wa.UnansweredUntil))
	case wa.Answered():
		var ids []string
		for _, r := range wa.Responses {
			if r.Retracted.IsZero() {
				ids = append(ids, string(r.Activation))
			}
		}
		return "answered: " + strings.Join(ids, ",")
	case wa.Status == plans.WarningActive && !wa.RespondBy.IsZero():
		return "due " + localTime(wa.RespondBy)
	}
	return "-"
}

// promptedSaid says whom the leader called on (叫应) about a LIVE warning
// that went unanswered past its response time, when, and what became of
// each text: "已叫应 周一 sent, 冯四 failed (…) at 09:10", or that no
// commander has a phone on record; "" when nobody was called on.
func promptedSaid(wa plans.Warning) string {
	p := wa.Prompted
	switch {
	case p == nil:
		return ""
	case p.NoPhone:
		return "未能叫应: no commander has a phone on record, nobody was texted at " + localTime(p.At) + "; call them"
	}
	return calledSaid(p, "已叫应 ", "未能叫应 ")
}

// calledSaid says each text of p and when they were listed, after done,
// or, when every text failed (none could be sent: the leader had no LIVE
// account, or the provider refused them), after failed.
func calledSaid(p *plans.WarningPrompted, done, failed string) string {
	said := make([]string, len(p.Texts))
	for i, n := range p.Texts {
		said[i] = noticeSaid(n)
	}
	if len(p.Texts) > 0 && !slices.ContainsFunc(p.Texts, func(n plans.TextNotice) bool { return n.State != plans.NoticeFailed }) {
		done = failed
	}
	return done + strings.Join(said, ", ") + " at " + localTime(p.At)
}

// escalatedSaid says whom the leader texted about a LIVE warning its
// commanders were called on about and left unanswered (叫应升级: the
// approvers with a phone), when, and what became of each text: "已升级叫应
// 吴二 sent at 09:20", or that no approver has a phone on record; while it
// is still due, when it will be, or that it is not needed, a commander
// having acknowledged the 叫应 (已应); "" when it is neither.
func escalatedSaid(wa plans.Warning) string {
	e := wa.Escalated
	switch {
	case e == nil && wa.Prompt && len(wa.Prompted.Acks()) > 0:
		return "升级叫应 not needed: a commander acknowledged the 叫应 (已应); the approvers are not texted"
	case e == nil && wa.Prompted != nil && wa.Prompt && !wa.EscalateAt().IsZero():
		return "升级叫应 due " + localTime(wa.EscalateAt()) + " (the approvers with a phone are texted if it is still unanswered)"
	case e == nil:
		return ""
	case e.NoPhone:
		return "未能升级叫应: no approver has a phone on record, nobody was texted at " + localTime(e.At) + "; call the duty leaders"
	}
	return calledSaid(e, "已升级叫应 ", "未能升级叫应 ")
}

// ackedSaid says who acknowledged (应) the 叫应 of a LIVE warning by
// replying to its text, when, at which stage and with what: "已应 周一 at
// 09:13 (叫应: "1")", and, while no activation answers the warning, that
// this started no response; "" when nobody did.
func ackedSaid(wa plans.Warning) string {
	var said []string
	for _, st := range []struct {
		p    *plans.WarningPrompted
		name string
	}{{wa.Prompted, "叫应"}, {wa.Escalated, "叫应升级"}} {
		for _, n := range st.p.Acks() {
			said = append(said, fmt.Sprintf("%s at %s (%s: %q)", n.Holder, localTime(n.AckedAt), st.name, n.AckBody))
		}
	}
	if len(said) == 0 {
		return ""
	}
	s := "已应 " + strings.Join(said, ", ")
	if !wa.Answered() {
		s += "; an acknowledgement starts no response (未启动响应)"
	}
	return s
}

func newWarningListCmd(g *globals) *cobra.Command {
	var (
		pf                 pageFlags
		active, unanswered bool
	)
	cmd := &cobra.Command{
		Use:   "list [--active] [--unanswered]",
		Short: "List warnings, oldest first; orange and red ones without an activation are marked !! NO RESPONSE",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c := newClient(g, cmd)
			q := url.Values{}
			if active {
				q.Set("active", "true")
			}
			if unanswered {
				q.Set("unanswered", "true")
			}
			items, next, err := c.pages("/api/v1/warnings", q, &pf)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return c.print(mustJSON(map[string]any{"items": items, "next": next}), nil)
			}
			t := newTable(c.out)
			fmt.Fprintln(t, "ID\tLEVEL\tSTATUS\tREGIONS\tEVENT\tISSUED\tEXPIRES\tRESPONSE\tHEADLINE")
			prompts, drills := 0, 0 // LIVE ones, as muster_warnings_unanswered counts; upstream drills' apart
			for _, it := range items {
				var wa plans.Warning
				if err := json.Unmarshal(it, &wa); err != nil {
					return err
				}
				switch {
				case wa.Prompt && wa.HoldsRegions():
					prompts++
				case wa.Prompt:
					drills++
				}
				response := responseCell(wa)
				if p := promptedSaid(wa); p != "" {
					response += "; " + p
				}
				if a := ackedSaid(wa); a != "" {
					response += "; " + a
				}
				if e := escalatedSaid(wa); e != "" {
					response += "; " + e
				}
				fmt.Fprintf(t, "%s\t%s %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", wa.ID, wa.Level, wa.Level.ChineseName(), wa.Status,
					plans.JoinCodes(wa.Regions, ","), wa.Event, localTime(wa.IssuedAt), localTime(wa.Expires), response, drillMark(wa)+wa.Headline)
			}
			if err := t.Flush(); err != nil {
				return err
			}
			if next != "" {
				fmt.Fprintf(c.err, "more: --after %s (or --all)\n", next)
			}
			if prompts > 0 {
				fmt.Fprintf(c.err, "%s above %s no activation over %s regions: activate a plan (muster warning show ID suggests one) or lift the warning\n",
					count(prompts, "orange or red warning", "orange or red warnings"), plural(prompts, "has", "have"), plural(prompts, "its", "their"))
			}
			if drills > 0 {
				fmt.Fprintf(c.err, "%s above (an upstream drill) %s no drill over %s regions: start the drill muster warning show ID suggests (--purpose exercise or test) or lift the warning; a LIVE call-up does not answer it\n",
					count(drills, "exercise or test warning", "exercise or test warnings"), plural(drills, "has", "have"), plural(drills, "its", "their"))
			}
			return nil
		},
	}
	pf.add(cmd)
	cmd.Flags().BoolVar(&active, "active", false, "only warnings in force")
	cmd.Flags().BoolVar(&unanswered, "unanswered", false, "only orange and red warnings without a response in time")
	return cmd
}

func newWarningShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a warning: regions, expiry, suggested plans (while it is in force), responses and the NO RESPONSE marker; for one imported from CAP, its alert's ignored geocodes and the Cancel it arrived after",
		Args:  needArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := newClient(g, cmd)
			return c.get("/api/v1/warnings/"+url.PathEscape(args[0]), nil, func(raw []byte, w io.Writer) error {
				var wa plans.Warning
				if err := json.Unmarshal(raw, &wa); err != nil {
					return err
				}
				switch {
				case wa.Prompt && !wa.HoldsRegions():
					fmt.Fprintf(w, "no drill response: no EXERCISE or TEST activation over these regions since %s (due %s); start the drill suggested below or lift the warning (a LIVE call-up does not answer it)\n",
						localTime(wa.IssuedAt), localTime(wa.RespondBy))
				case wa.Prompt:
					fmt.Fprintf(w, "!! NO RESPONSE: no activation over these regions since %s (due %s)%s\n", localTime(wa.IssuedAt), localTime(wa.RespondBy),
						awaitingSaid(wa, pendingRequests(c)))
				}
				fmt.Fprintf(w, "warning:\t%s %s预警 (%s), %s\n", wa.ID, wa.Level.ChineseName(), wa.Level, wa.Status)
				if m := drillMark(wa); m != "" {
					fmt.Fprintf(w, "purpose:\t%s: a drill's warning; its regions are not in standby\n", m)
				}
				fmt.Fprintf(w, "event:\t%s\n", wa.Event)
				fmt.Fprintf(w, "headline:\t%s\n", wa.Headline)
				if wa.Description != "" {
					fmt.Fprintf(w, "description:\t%s\n", wa.Description)
				}
				for _, a := range wa.Areas {
					fmt.Fprintf(w, "region:\t%s %s\n", a.Code, a.Name)
				}
				printEnglish(w, wa)
				if wa.Category != "" {
					fmt.Fprintf(w, "category:\t%s\n", wa.Category)
				}
				if wa.CAPCategory != "" {
					fmt.Fprintf(w, "CAP category:\t%s\n", wa.CAPCategory)
				}
				fmt.Fprintf(w, "issued:\t%s by %s (source %s)\n", localTime(wa.IssuedAt), wa.IssuedBy, wa.Source)
				expiry := "in force until lifted"
				if !wa.Expires.IsZero() {
					expiry = localTime(wa.Expires)
				}
				fmt.Fprintf(w, "expires:\t%s\n", expiry)
				if !wa.LiftedAt.IsZero() {
					fmt.Fprintf(w, "%s:\t%s by %s: %s\n", wa.Status, localTime(wa.LiftedAt), wa.LiftedBy, wa.LiftReason)
				}
				if sup := wa.SupersededBy; sup != nil {
					fmt.Fprintf(w, "superseded:\t%s\n", supersessionLine(sup, wa))
				}
				if wa.ReplacedBy != "" {
					fmt.Fprintf(w, "replaced by:\t%s (the warning of the upstream Update that lifted this one: muster warning show %s)\n", wa.ReplacedBy, wa.ReplacedBy)
				}
				if len(wa.Replaces) > 0 {
					ids := make([]string, len(wa.Replaces))
					for i, id := range wa.Replaces {
						ids[i] = string(id)
					}
					fmt.Fprintf(w, "replaces:\t%s (the warnings in force this upstream Update lifted; its CAP is an Update referencing them)\n", strings.Join(ids, ", "))
				}
				if len(wa.IgnoredGeocodes) > 0 {
					fmt.Fprintf(w, "ignored geocodes:\t%s: the upstream alert's codes that name no region of muster; those areas are not warned\n", plans.JoinCodes(wa.IgnoredGeocodes, ","))
				}
				fmt.Fprintf(w, "response:\t%s\n", responseCell(wa))
				if p := promptedSaid(wa); p != "" {
					fmt.Fprintf(w, "叫应:\t%s\n", p)
				}
				if a := ackedSaid(wa); a != "" {
					fmt.Fprintf(w, "应答:\t%s\n", a)
				}
				if e := escalatedSaid(wa); e != "" {
					fmt.Fprintf(w, "叫应升级:\t%s\n", e)
				}
				for _, r := range wa.Responses {
					retracted := ""
					if !r.Retracted.IsZero() {
						retracted = " — retracted " + localTime(r.Retracted) + ", answers nothing"
					}
					fmt.Fprintf(w, "  activation\t%s level %s over %s at %s%s\n", r.Activation, r.Level, r.Region, localTime(r.At), retracted)
				}
				if wa.Status == plans.WarningActive { // an ended warning is answered by nothing
					printSuggestions(w, wa)
				}
				return nil
			})
		},
	}
}

// printEnglish prints what English readers of wa are told, its CAP
// alert's en-US block (plans.Warning.TextEN): the texts given with it or
// its upstream alert's, or those built for the meteorological warning
// signal its event names, said so; nothing when it has none.
func printEnglish(w io.Writer, wa plans.Warning) {
	en, ok := wa.TextEN()
	if !ok {
		return
	}
	built := ""
	if wa.EventEN == "" || wa.HeadlineEN == "" || (wa.DescriptionEN == "" && en.Description != "") {
		built = "; what was not given in English is written by muster"
	}
	fmt.Fprintf(w, "English:\t(the en-US block of its CAP alert%s)\n", built)
	fmt.Fprintf(w, "  event:\t%s\n", en.Event)
	fmt.Fprintf(w, "  headline:\t%s\n", en.Headline)
	if en.Description != "" {
		fmt.Fprintf(w, "  description:\t%s\n", en.Description)
	}
}

// supersessionLine says what a later CAP message did to the alert warning
// w was imported from, before that alert arrived, or, for an Update whose
// thread was cancelled first, to the alert of the thread it updates.
func supersessionLine(sup *plans.Supersession, w plans.Warning) string {
	own, _ := w.UpstreamAlert()
	by := "a cancellation"
	if sup.By.Identifier != "" {
		by = "CAP " + sup.By.Identifier + " of " + sup.By.Sender
	}
	switch {
	case sup.Action == plans.SupersededCancelled && own.Identifier != "" && sup.Alert != own:
		return fmt.Sprintf("%s (%s) cancelled alert %s, which this one updates, before this one arrived: created lifted, it put no region in standby", by, localTime(sup.At), sup.Alert.Identifier)
	}
	switch sup.Action {
	case plans.SupersededCancelled:
		return fmt.Sprintf("%s (%s) cancelled alert %s before it arrived: created lifted, it put no region in standby", by, localTime(sup.At), sup.Alert.Identifier)
	case plans.SupersededUpdated:
		return fmt.Sprintf("%s (%s) updated alert %s before it arrived: warning %s stands for it", by, localTime(sup.At), sup.Alert.Identifier, sup.Warning)
	}
	return fmt.Sprintf("%s (%s) %s alert %s before it arrived", by, localTime(sup.At), sup.Action, sup.Alert.Identifier)
}

func newWarningLiftCmd(g *globals) *cobra.Command {
	return newReasonCmd(g, "lift ID --reason TEXT",
		"Lift (解除) a warning: its regions leave standby unless another warning or an activation holds them",
		"why (kept in the audit trail)", func(id string) string { return "/api/v1/warnings/" + url.PathEscape(id) + "/lift" },
		nil,
		func(_ []byte, w io.Writer, id string) error {
			fmt.Fprintf(w, "warning %s lifted\n", id)
			return nil
		})
}
