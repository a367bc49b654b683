package api

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"muster"
	"muster/cap"
	"muster/notify"
	"muster/plans"
)

// CAP 1.2 over HTTP: GET /activations/{id}/cap and /warnings/{id}/cap serve
// muster's own alerts, POST /cap takes an upstream feed's alert and turns it
// into a warning.
//
// Documents go out as CAPContentType. POST /cap reads the body as XML
// whatever its Content-Type says (feeds label CAP as application/xml,
// text/xml or application/cap+xml alike); cap.Parse decides what it is.
//
// Identifiers are unique per sender without a registry: they are built from
// the sender and muster's own IDs, which are never reused:
//
//	<sender>:activation:A000001      an activation, or the correction of a retracted one
//	<sender>:warning:W000001         a warning
//	<sender>:activation:A000001:stand-down  the Cancel of a stood-down activation's alert
//	<sender>:warning:W000001:lift    the Cancel of a lifted warning

// capCancelNoNote is the lift reason, before the Cancel's identifier, of a
// warning an upstream Cancel without a <note> lifted.
const capCancelNoNote = "上游已取消，未说明原因 (cancelled upstream, no reason given)"

// CAPContentType is the media type of the CAP documents muster serves.
const CAPContentType = "application/cap+xml; charset=utf-8"

// CAPImportMaxBody bounds the body of POST /cap: a CAP alert with a few
// info blocks and areas is a few kilobytes; a megabyte leaves room for
// polygons and embedded resources.
const CAPImportMaxBody = 1 << 20

// DefaultCAPSender is the <sender> of muster's alerts unless Config.CAPSender
// says otherwise.
const DefaultCAPSender = "muster.local"

// Identifier kinds of muster's alerts.
const (
	capKindActivation = "activation"
	capKindWarning    = "warning"
	capSuffixLift     = "lift"
	// capSuffixStandDown ends the identifier of the Cancel of a stood-down
	// activation's alert.
	capSuffixStandDown = "stand-down"
)

// capIdentifier is the <identifier> of muster's alert for an object.
func (s *Server) capIdentifier(parts ...string) string {
	return s.cfg.CAPSender + ":" + strings.Join(parts, ":")
}

// capFault turns a builder's refusal of stored data into a server error:
// the request was fine, the state is what CAP cannot express.
func capFault(what string, err error) error {
	if muster.IsCode(err, muster.EInvalid) {
		return fmt.Errorf("build the CAP alert of %s from the stored data: %s", what, err)
	}
	return err
}

// writeCAP writes the alert as a CAP document, or err in the error shape.
func (s *Server) writeCAP(c *gin.Context, what string, a *cap.Alert, err error) {
	var doc []byte
	if err == nil {
		doc, err = a.Marshal()
		err = capFault(what, err)
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Data(http.StatusOK, CAPContentType, doc)
}

// ----- activations -----

// activationCAP serves an activation as CAP: the Alert it was issued as
// while it is in force; once stood down, the Cancel of that alert, sent at
// the stand-down with its reason as note; for the correction of a retracted
// activation (Retracts set) the Cancel of that activation's alert, or an
// Update carrying the corrected text when the retraction was a correction
// (the retracted activation keeps its Alert as issued). An activation that
// never started (pending approval, rejected, expired, or withdrawn before
// approval) has no alert: 409.
func (s *Server) activationCAP(c *gin.Context) {
	ctx, level := c.Request.Context(), consistency(c)
	st, err := s.deps.Activations.Activation(ctx, level, plans.ActivationID(idParam(c)))
	if err != nil {
		s.writeError(c, err)
		return
	}
	a, err := s.activationAlert(ctx, level, st.Activation)
	s.writeCAP(c, "activation "+string(st.ID), a, err)
}

func (s *Server) activationAlert(ctx context.Context, level muster.Consistency, a notify.Activation) (*cap.Alert, error) {
	if a.Retracts != "" && (a.EndsCallUp || a.EndsDrill) {
		// The notice that a call-up ended is no alert of its own: the
		// call-up's stand-down Cancel is the one ending receivers get.
		orig, err := s.deps.Activations.Activation(ctx, level, a.Retracts)
		if err != nil {
			return nil, fmt.Errorf("activation %s ends %s: %w", a.ID, a.Retracts, err)
		}
		return s.activationAlert(ctx, level, orig.Activation)
	}
	if a.Retracts == "" {
		in, err := s.capActivation(ctx, level, a)
		if err != nil {
			return nil, err
		}
		out, err := in.Alert()
		if err != nil || !endedByStandDown(a) {
			return out, capFault("activation "+string(a.ID), err)
		}
		out, err = cap.Cancel{
			Header: cap.Header{
				Identifier: s.capIdentifier(capKindActivation, string(a.ID), capSuffixStandDown),
				Sender:     s.cfg.CAPSender,
				Sent:       a.StoodDownAt.In(s.cfg.CAPZone),
				Purpose:    cap.Purpose(a.Purpose),
				Scope:      out.Scope,
				Note:       cmp.Or(strings.TrimSpace(a.StandDownReason), "stood down"),
			},
			Cancels: []cap.Reference{out.Reference()},
		}.Alert()
		return out, capFault("activation "+string(a.ID), err)
	}
	orig, err := s.deps.Activations.Activation(ctx, level, a.Retracts)
	if err != nil {
		return nil, fmt.Errorf("activation %s corrects %s: %w", a.ID, a.Retracts, err)
	}
	origIn, err := s.capActivation(ctx, level, orig.Activation)
	if err != nil {
		return nil, fmt.Errorf("activation %s corrects %s: %w", a.ID, a.Retracts, err)
	}
	origAlert, err := origIn.Alert()
	if err != nil {
		return nil, capFault("activation "+string(orig.ID), err)
	}
	ref := origAlert.Reference()
	if orig.Retraction != nil && orig.Retraction.Correct {
		in, err := s.capActivation(ctx, level, a)
		if err != nil {
			return nil, err
		}
		in.Updates = []cap.Reference{ref}
		in.ZH.Headline = "更正：" + origIn.ZH.Headline
		in.ZH.Description = a.Message
		// A correction takes no answers (to count who comes, a new call-up
		// is started): it says to follow it, not to reply.
		in.ZH.Instruction = "原召集已更正，请以更正通知为准；本更正无需回复。"
		if in.EN.Event != "" {
			in.EN.Headline = "Correction: " + origIn.EN.Headline
			in.EN.Description = "Correction as sent to the people called up: " + a.Message
			in.EN.Instruction = "The call-up was corrected: follow the correction. No reply is needed."
		}
		out, err := in.Alert()
		return out, capFault("activation "+string(a.ID), err)
	}
	out, err := cap.Cancel{
		Header: cap.Header{
			Identifier: s.capIdentifier(capKindActivation, string(a.ID)),
			Sender:     s.cfg.CAPSender,
			Sent:       a.CreatedAt.In(s.cfg.CAPZone),
			Purpose:    cap.Purpose(a.Purpose),
			Scope:      origAlert.Scope,
			Note:       a.Message,
		},
		Cancels: []cap.Reference{ref},
	}.Alert()
	return out, capFault("activation "+string(a.ID), err)
}

// endedByStandDown reports whether a started activation ended by a
// stand-down of its own: stood down, and not by its retraction, whose
// correction is the Cancel (a call-up stood down and retracted later keeps
// the stand-down's Cancel receivers already had).
func endedByStandDown(a notify.Activation) bool {
	if a.Status != notify.StatusStoodDown || a.StoodDownAt.IsZero() || a.Start().IsZero() {
		return false
	}
	return a.Retraction == nil || a.StoodDownAt.Before(a.Retraction.At)
}

// capActivation fills the CAP builder for an activation as issued: sent
// when it started (its approval, for one that waited for it), severity from its level, the plan's CAP category, its
// regions, and a zh-CN block, with an en-US one when the plan has an
// English title; both headlines name the regions (the English one by
// their English names, the Chinese where a region has none).
func (s *Server) capActivation(ctx context.Context, level muster.Consistency, a notify.Activation) (cap.Activation, error) {
	switch {
	case a.Status == notify.StatusPendingApproval, a.Status == notify.StatusApprovalExpired, a.Status == notify.StatusRejected:
		return cap.Activation{}, muster.Errorf(muster.EConflict, "activation %s is %s: it was never issued, so it has no CAP alert", a.ID, a.Status)
	case a.Start().IsZero():
		// A request withdrawn (stood down) before its last approval: nothing
		// was sent.
		return cap.Activation{}, muster.Errorf(muster.EConflict, "activation %s is %s and never started (withdrawn before approval): it was never issued, so it has no CAP alert", a.ID, a.Status)
	}
	category, err := s.planCategory(ctx, level, a.Plan, a.PlanVersion)
	if err != nil {
		return cap.Activation{}, err
	}
	regions, err := s.activationRegions(ctx, level, a)
	if err != nil {
		return cap.Activation{}, err
	}
	zhLevel := fmt.Sprintf("%s（%s级）", a.LevelName, a.Level.Numeral(plans.LangZH))
	in := cap.Activation{
		Header: cap.Header{
			Identifier: s.capIdentifier(capKindActivation, string(a.ID)),
			Sender:     s.cfg.CAPSender,
			// Issued when it started: a request waiting for its approval
			// was no alert (the 409 above), so one approved later is not
			// dated back to the request.
			Sent:    a.Start().In(s.cfg.CAPZone),
			Purpose: cap.Purpose(a.Purpose),
		},
		Level:    cap.Level(a.Level),
		Category: category,
		Regions:  regions,
		ZH: cap.Text{
			Event:       a.PlanTitle + a.Level.Numeral(plans.LangZH) + "级应急响应",
			Headline:    a.RegionNames + "启动" + a.PlanTitle + zhLevel + "应急响应",
			Description: "启动原因：" + a.Reason,
			Instruction: "被召集人员请按通知要求立即到岗，并回复确认。",
			SenderName:  strings.Trim(a.Sender, "【】[] "),
		},
	}
	if a.PlanTitleEN != "" {
		// The regions as the Chinese headline names them, in English where
		// they have an English name (as the en-US areaDesc does).
		namesEN := make([]string, len(regions))
		for i, r := range regions {
			namesEN[i] = cmp.Or(r.NameEN, r.Name)
		}
		in.EN = cap.Text{
			Event: fmt.Sprintf("%s: level %s response", a.PlanTitleEN, a.Level),
			Headline: fmt.Sprintf("%s: level %s (%s) response activated in %s", a.PlanTitleEN, a.Level, a.Level.EnglishName(),
				strings.Join(namesEN, ", ")),
			Description: "Reason given: " + a.Reason,
			Instruction: "People called up: report as your message says and reply to confirm.",
		}
	}
	return in, nil
}

// planCategory is the CAP category of a plan version: the plan's own, or the
// default of its hazard, or Other.
func (s *Server) planCategory(ctx context.Context, level muster.Consistency, id plans.PlanID, version int) (cap.Category, error) {
	pv, err := s.deps.Plans.Plan(ctx, level, id, version)
	if err != nil {
		return "", fmt.Errorf("plan %s version %d: %w", id, version, err)
	}
	if c := cap.Category(pv.Plan.CAPCategory); c.Valid() {
		return c, nil
	}
	if c, err := cap.DefaultCategory(cap.Hazard(pv.Plan.Hazard)); err == nil {
		return c, nil
	}
	return cap.CategoryOther, nil
}

// activationRegions pairs an activation's region codes with the names it
// was issued with (RegionNames, in the same order) and the English names
// English speakers were told (RegionNamesEN, for the en-US info block;
// none when it has none: the Chinese names are said), reading the region
// tree only if the names cannot be told apart.
func (s *Server) activationRegions(ctx context.Context, level muster.Consistency, a notify.Activation) ([]cap.Region, error) {
	names := strings.Split(a.RegionNames, "、")
	var namesEN []string
	if a.RegionNamesEN != "" {
		namesEN = strings.Split(a.RegionNamesEN, ", ")
	}
	out := make([]cap.Region, len(a.Regions))
	for i, code := range a.Regions {
		out[i].Code = string(code)
		if len(names) == len(a.Regions) && (namesEN == nil || len(namesEN) == len(a.Regions)) {
			out[i].Name = names[i]
			if namesEN != nil {
				out[i].NameEN = namesEN[i]
			}
			continue
		}
		r, err := s.deps.Plans.Region(ctx, level, code)
		if err != nil {
			return nil, fmt.Errorf("region %s of activation %s: %w", code, a.ID, err)
		}
		out[i].Name = r.Name
		if namesEN != nil {
			out[i].NameEN = r.NameEN
		}
	}
	return out, nil
}

// ----- warnings -----

// warningCAP serves a warning as CAP: the Alert it was issued as (a zh-CN
// info block, and an en-US one when the warning has English text: see
// plans.Warning.TextEN), or the Cancel of that alert once it was lifted, with the reason it was lifted
// for as note; an expired warning is its Alert, whose expires says it is
// over. The warning of an upstream Update that replaced warnings in force
// (rules 13: Replaces) is an Update referencing their alerts and, through
// them, every earlier alert of the thread, original first; lifted, its
// Cancel references the thread and its own alert. A warning so replaced
// (ReplacedBy, named back by Replaces) is served as the latest message of
// its thread, the document of the warning at its end, not as a Cancel of
// its own: a receiver that ends a thread on a Cancel of any of its alerts
// (as muster does with its upstream's from rules 13) would end the Update
// with it. Warnings replaced under older rules have no such links and
// are served as before: the Cancel of each, and the Update's warning as an
// Alert of its own.
func (s *Server) warningCAP(c *gin.Context) {
	ws, err := s.warningsDep()
	if err != nil {
		s.writeError(c, err)
		return
	}
	ctx, level := c.Request.Context(), consistency(c)
	w, err := ws.Warning(ctx, level, plans.WarningID(idParam(c)))
	if err != nil {
		s.writeError(c, err)
		return
	}
	a, err := s.warningAlert(ctx, level, ws, w)
	s.writeCAP(c, "warning "+string(w.ID), a, err)
}

// maxCAPThread bounds how many warnings of an upstream thread (an alert
// and the Updates that replaced it) a warning's CAP document follows or
// references; a met service's thread has a few.
const maxCAPThread = 64

func (s *Server) warningAlert(ctx context.Context, level muster.Consistency, ws Warnings, w plans.Warning) (*cap.Alert, error) {
	for range maxCAPThread {
		if w.ReplacedBy == "" {
			break
		}
		next, err := ws.Warning(ctx, level, w.ReplacedBy)
		if err != nil {
			return nil, fmt.Errorf("warning %s was replaced by %s: %w", w.ID, w.ReplacedBy, err)
		}
		if !slices.Contains(next.Replaces, w.ID) {
			break
		}
		w = next
	}
	earlier, err := s.warningThread(ctx, level, ws, w)
	if err != nil {
		return nil, err
	}
	category := cap.Category(w.CAPCategory)
	if !category.Valid() {
		category = cap.CategoryOther
		if c, err := cap.DefaultCategory(cap.Hazard(w.Category)); err == nil {
			category = c
		}
	}
	in := cap.Warning{
		Header: cap.Header{
			Identifier: s.capIdentifier(capKindWarning, string(w.ID)),
			Sender:     s.cfg.CAPSender,
			Sent:       w.IssuedAt.In(s.cfg.CAPZone),
			Purpose:    cap.Purpose(w.PurposeOrLive()),
		},
		Updates:  earlier,
		Colour:   cap.Colour(w.Level),
		Category: category,
		ZH:       cap.Text{Event: w.Event, Headline: w.Headline, Description: w.Description},
	}
	if !w.Expires.IsZero() {
		in.Expires = w.Expires.In(s.cfg.CAPZone)
	}
	for i, ar := range w.Areas {
		in.Regions = append(in.Regions, cap.Region{Code: string(ar.Code), Name: ar.Name})
		if len(w.AreaNamesEN) == len(w.Areas) {
			in.Regions[i].NameEN = w.AreaNamesEN[i]
		}
	}
	if en, ok := w.TextEN(); ok {
		in.EN = cap.Text{Event: en.Event, Headline: en.Headline, Description: en.Description}
	}
	a, err := in.Alert()
	if err != nil {
		return nil, err
	}
	if src, ok := strings.CutPrefix(w.Source, plans.CAPSourcePrefix); ok {
		a.Source = "relayed from " + src // the upstream alert's sender,identifier,sent
	}
	if w.Status != plans.WarningLifted {
		return a, nil
	}
	return cap.Cancel{
		Header: cap.Header{
			Identifier: s.capIdentifier(capKindWarning, string(w.ID), capSuffixLift),
			Sender:     s.cfg.CAPSender,
			Sent:       w.LiftedAt.In(s.cfg.CAPZone),
			Purpose:    in.Purpose,
			Scope:      a.Scope,
			Note:       w.LiftReason,
		},
		Cancels: slices.Concat(earlier, []cap.Reference{a.Reference()}),
	}.Alert()
}

// warningThread returns the references of the alerts of the warnings w
// replaced (Replaces, each naming w back in ReplacedBy) and of those they
// replaced in turn, at most maxCAPThread, the earliest issued first.
func (s *Server) warningThread(ctx context.Context, level muster.Consistency, ws Warnings, w plans.Warning) ([]cap.Reference, error) {
	var thread []plans.Warning
	seen := map[plans.WarningID]bool{w.ID: true}
	next := []plans.Warning{w}
	for len(next) > 0 && len(thread) < maxCAPThread {
		by := next[0]
		next = next[1:]
		for _, id := range by.Replaces {
			if seen[id] || len(thread) == maxCAPThread {
				continue
			}
			seen[id] = true
			old, err := ws.Warning(ctx, level, id)
			if err != nil {
				return nil, fmt.Errorf("warning %s replaced %s: %w", by.ID, id, err)
			}
			if old.ReplacedBy != by.ID {
				continue
			}
			thread = append(thread, old)
			next = append(next, old)
		}
	}
	slices.SortFunc(thread, func(a, b plans.Warning) int {
		return cmp.Or(a.IssuedAt.Compare(b.IssuedAt), cmp.Compare(a.ID, b.ID))
	})
	refs := make([]cap.Reference, len(thread))
	for i, old := range thread {
		refs[i] = cap.Reference{Sender: s.cfg.CAPSender, Identifier: s.capIdentifier(capKindWarning, string(old.ID)),
			Sent: old.IssuedAt.In(s.cfg.CAPZone).Truncate(time.Second)}
	}
	return refs, nil
}

// ----- import -----

// WarningImporter is what POST /cap needs of warnings beyond Warnings
// (plans.WarningService has both): Deps.Warnings is asked for it.
type WarningImporter interface {
	Import(ctx context.Context, actor string, in plans.UpstreamWarning) (plans.WarningImport, error)
	CancelUpstreamAlert(ctx context.Context, actor string, purpose plans.WarningPurpose, by plans.UpstreamRef, refs []plans.UpstreamRef, reason string) (plans.UpstreamCancel, error)
}

// importerDep is the warnings service as a WarningImporter, or an
// unavailable error on a server whose warnings service cannot import.
func (s *Server) importerDep() (WarningImporter, error) {
	ws, err := s.warningsDep()
	if err != nil {
		return nil, err
	}
	imp, ok := ws.(WarningImporter)
	if !ok {
		return nil, muster.Errorf(muster.EUnavailable, "this node does not import CAP alerts")
	}
	return imp, nil
}

// CAPSentTolerance is how far ahead of the node's clock an upstream alert's
// sent may be: clocks drift, but an alert sent further in the future comes
// from a sender whose clock, or the time zone of its timestamps, is wrong.
const CAPSentTolerance = 15 * time.Minute

// capImportReply is the body POST /cap answers with: the warning (the one
// the alert became, the one a Cancel lifted, or for a late alert the one
// that replaced it), and what the import left out or found already done.
type capImportReply struct {
	plans.Warning
	// IgnoredGeocodes are the alert's region codes, as it gave them, that
	// name no region of muster: those areas are not warned.
	IgnoredGeocodes []plans.RegionCode `json:"ignored_geocodes,omitempty"`
	// CoveredGeocodes are codes left out because they lie within another
	// region of the alert, which the warning names instead.
	CoveredGeocodes []plans.RegionCode `json:"covered_geocodes,omitempty"`
	// SupersededBy says which later Update or Cancel had referenced the
	// alert before it arrived (rules 11).
	SupersededBy *plans.Supersession `json:"superseded_by,omitempty"`
	// Awaited are the alerts a Cancel names that have not arrived: they
	// are remembered as cancelled (rules 11).
	Awaited []plans.UpstreamRef `json:"awaited,omitempty"`
}

// newCAPImportReply is the answer for w: the geocodes it left out and the
// Cancel it arrived after as w keeps them (rules 12), which the import's own
// findings replace when it has them. The reply's fields hide w's of the same
// JSON name, so they are copied.
func newCAPImportReply(w plans.Warning) capImportReply {
	return capImportReply{Warning: w, IgnoredGeocodes: w.IgnoredGeocodes, SupersededBy: w.SupersededBy}
}

// capCancelAwaited is the body of 202 for a Cancel none of whose alerts has
// arrived yet.
type capCancelAwaited struct {
	Awaited []plans.UpstreamRef `json:"awaited"`
	Message string              `json:"message"`
}

// importCAP takes a CAP 1.2 alert from an upstream feed. An Alert or Update
// of status Actual, Exercise or Test becomes a warning (201), once: the same
// sender and identifier again answers 200 with the warning it became. An
// Update also lifts the warnings of the sender's alerts it references; a
// Cancel lifts them and answers 200 with the first it lifted. Feeds deliver out of
// order, so (rules 11) every alert an Update or Cancel references is
// remembered: a Cancel none of whose alerts has arrived answers 202 with
// them (awaited); an alert arriving after an Update that replaced it
// answers 200 with that update's warning and creates nothing, and one
// arriving after its Cancel is created lifted (201), both with
// superseded_by; under rules 10 such a Cancel was 404. An Update or Cancel
// that references an alert that became a warning of another purpose, and
// muster's own alerts relayed back to it, are 409 and change nothing. An
// Alert or Update whose expires is not after its sent, or whose sent is
// more than CAPSentTolerance ahead of the node's clock, is 400 (a Cancel
// is taken all the same, and logged), as is anything else that is not a
// CAP 1.2 alert muster can act on.
func (s *Server) importCAP(c *gin.Context) {
	ws, err := s.importerDep()
	if err != nil {
		s.writeError(c, err)
		return
	}
	data, err := readBody(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	alert, err := cap.Parse(data)
	if err != nil {
		s.writeError(c, err)
		return
	}
	u, err := alert.Upstream(cap.LanguageZH)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.notOwnAlert(u); err != nil {
		s.writeError(c, err)
		return
	}
	purpose, err := upstreamPurpose(u.Status)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.checkCAPTimes(u); err != nil {
		if u.MsgType != cap.MsgTypeCancel {
			s.writeError(c, err)
			return
		}
		// A Cancel carries no times into a warning: refused, it would
		// leave the regions it ends in standby until someone lifted the
		// warning by hand.
		s.logger.Warn("CAP cancel taken despite a clock error", "request_id", requestID(c), "alert", u.Identifier,
			"sender", u.Sender, "err", err)
	}
	own := ownReferences(u)
	ctx, actor := c.Request.Context(), identity(c).Name
	if u.MsgType == cap.MsgTypeUpdate || u.MsgType == cap.MsgTypeCancel {
		if err := s.checkReferencedPurposes(ctx, u, purpose, own); err != nil {
			s.writeError(c, err)
			return
		}
	}
	switch u.MsgType {
	case cap.MsgTypeAlert, cap.MsgTypeUpdate:
	case cap.MsgTypeCancel:
		if len(own) == 0 {
			s.writeError(c, muster.Errorf(muster.EInvalid, "CAP cancel %s: none of its references is an alert of its sender %s: muster lifts only warnings imported from the cancel's own sender", u.Identifier, u.Sender))
			return
		}
		// A <note> may be wrapped or indented over several lines; the
		// reason a lift records is one line. Without one the reason says
		// so, in Chinese with the English in brackets as muster's own
		// lift reasons (it is the note of muster's Cancel in turn).
		reason := fmt.Sprintf("%s (CAP cancel %s)", cmp.Or(strings.Join(strings.Fields(alert.Note), " "), capCancelNoNote), u.Identifier)
		// The state machine refuses it too if a warning of another purpose
		// came in between (checkReferencedPurposes read before).
		res, err := ws.CancelUpstreamAlert(ctx, actor, purpose, plans.UpstreamRef{Sender: u.Sender, Identifier: u.Identifier}, own, reason)
		switch {
		case err != nil:
			s.writeError(c, err)
		case len(res.Lifted) == 0:
			s.logger.Info("CAP cancel remembered for alerts not yet arrived", "request_id", requestID(c), "alert", u.Identifier,
				"sender", u.Sender, "awaited", res.Awaited)
			s.reply(c, http.StatusAccepted, capCancelAwaited{Awaited: res.Awaited,
				Message: fmt.Sprintf("CAP cancel %s: none of the alerts it cancels has arrived; they are remembered as cancelled and become lifted warnings if they come", u.Identifier)}, nil)
		default:
			// A Cancel lists the chain it ends, original first: answer
			// with a warning it ended, not one an Update had lifted
			// before (this Cancel's reason is on the ones it ended, also
			// when it comes again).
			ended := max(0, slices.IndexFunc(res.Lifted, func(w plans.Warning) bool { return strings.HasSuffix(w.LiftReason, reason) }))
			c.Header("Location", "/api/v1/warnings/"+string(res.Lifted[ended].ID))
			reply := newCAPImportReply(res.Lifted[ended])
			reply.Awaited = res.Awaited
			s.reply(c, http.StatusOK, reply, nil)
		}
		return
	default:
		s.writeError(c, muster.Errorf(muster.EInvalid, "CAP alert %s: msgType %s: muster takes Alert, Update and Cancel", u.Identifier, u.MsgType))
		return
	}
	level, err := plans.WarningLevelOfSeverity(string(u.Severity))
	if err != nil {
		s.writeError(c, fmt.Errorf("CAP alert %s: %w", u.Identifier, err))
		return
	}
	in := plans.UpstreamWarning{
		Alert:       plans.UpstreamRef{Sender: u.Sender, Identifier: u.Identifier},
		Source:      plans.CAPSourcePrefix + alert.Reference().String(),
		Purpose:     purpose,
		Replaces:    own,
		Regions:     upstreamRegions(u),
		Level:       level,
		Event:       u.Event,
		Headline:    u.Headline,
		Description: u.Description,
		CAPCategory: upstreamCategory(alert, u),
		Expires:     u.Expires,
	}
	if en, ok := alert.TextIn(cap.LanguageEN); ok {
		// English readers of the relayed warning read the upstream's own
		// English.
		in.EventEN, in.HeadlineEN, in.DescriptionEN = en.Event, en.Headline, en.Description
	}
	if u.MsgType == cap.MsgTypeAlert {
		in.Replaces = nil
	}
	res, err := ws.Import(ctx, actor, in)
	if err != nil {
		s.writeError(c, fmt.Errorf("CAP alert %s: %w", u.Identifier, err))
		return
	}
	if len(res.Ignored) > 0 {
		s.logger.Warn("CAP import left out unknown region codes", "request_id", requestID(c), "alert", u.Identifier,
			"sender", u.Sender, "warning", res.Warning.ID, "codes", res.Ignored)
	}
	if len(res.Covered) > 0 {
		s.logger.Info("CAP import left out region codes within another of the alert's regions", "request_id", requestID(c), "alert", u.Identifier,
			"sender", u.Sender, "warning", res.Warning.ID, "codes", res.Covered, "named", res.Warning.Regions)
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	if res.SupersededBy != nil {
		s.logger.Info("CAP alert arrived after a later message that references it", "request_id", requestID(c), "alert", u.Identifier,
			"sender", u.Sender, "action", res.SupersededBy.Action, "by", res.SupersededBy.By.Identifier, "warning", res.Warning.ID)
	}
	c.Header("Location", "/api/v1/warnings/"+string(res.Warning.ID))
	reply := newCAPImportReply(res.Warning)
	if len(res.Ignored) > 0 {
		reply.IgnoredGeocodes = res.Ignored
	}
	if res.SupersededBy != nil {
		reply.SupersededBy = res.SupersededBy
	}
	reply.CoveredGeocodes = res.Covered
	s.reply(c, status, reply, nil)
}

// checkCAPTimes refuses (EInvalid) an alert that expires at or before it
// was sent, or that was sent more than CAPSentTolerance after the node's
// clock: both are a sender's clock or time-zone error, which a warning
// would carry on silently.
func (s *Server) checkCAPTimes(u cap.Upstream) error {
	if !u.Expires.IsZero() && !u.Expires.After(u.Sent) {
		return muster.Errorf(muster.EInvalid, "CAP alert %s: expires %s is not after sent %s: check the sender's clock and the time zone of its timestamps",
			u.Identifier, cap.FormatTime(u.Expires), cap.FormatTime(u.Sent))
	}
	if now := s.cfg.Clock.Now(); u.Sent.After(now.Add(CAPSentTolerance)) {
		return muster.Errorf(muster.EInvalid, "CAP alert %s: sent %s is %s ahead of this server's clock (%s), more than the %s clocks may drift: check the sender's clock and the time zone of its timestamps",
			u.Identifier, cap.FormatTime(u.Sent), u.Sent.Sub(now).Round(time.Second), cap.FormatTime(now.In(u.Sent.Location())), CAPSentTolerance)
	}
	return nil
}

// notOwnAlert refuses (EConflict) an alert that is muster's own, relayed
// back to it: one whose sender is Config.CAPSender, or whose identifier is
// one of the identifiers muster gives its alerts (<sender>:warning:…,
// <sender>:activation:…) under another sender, as a relay that rewrites
// the sender passes it on. Imported, an echo would double a warning in
// force, raise a lifted one again, or turn a call-up into a warning.
func (s *Server) notOwnAlert(u cap.Upstream) error {
	if strings.EqualFold(strings.TrimSpace(u.Sender), s.cfg.CAPSender) {
		return muster.Errorf(muster.EConflict, "CAP alert %s: its sender %s is muster's own CAP sender (--cap-sender): an alert this cluster serves, relayed back to it, is not imported",
			u.Identifier, u.Sender)
	}
	id := strings.ToLower(u.Identifier)
	for _, kind := range []string{capKindWarning, capKindActivation} {
		if prefix := strings.ToLower(s.capIdentifier(kind, "")); strings.HasPrefix(id, prefix) {
			return muster.Errorf(muster.EConflict, "CAP alert %s of %s: its identifier is one of muster's own (%s…): an alert this cluster serves, relayed back under another sender, is not imported",
				u.Identifier, u.Sender, s.capIdentifier(kind, ""))
		}
	}
	return nil
}

// checkReferencedPurposes refuses (EConflict) an Update or Cancel that
// references an alert of its sender that became a warning of another
// purpose: CAP recipients disregard Test messages and only exercise
// participants act on Exercise ones, so neither may update or lift a LIVE
// warning, and an Actual message does not end a drill's warning. Nothing
// is changed then, not even the warnings of the same purpose it references.
func (s *Server) checkReferencedPurposes(ctx context.Context, u cap.Upstream, purpose plans.WarningPurpose, refs []plans.UpstreamRef) error {
	if len(refs) == 0 {
		return nil
	}
	ws, err := s.warningsDep()
	if err != nil {
		return err
	}
	sources := make([]string, len(refs))
	for i, r := range refs {
		sources[i] = plans.CAPSourcePrefix + r.Sender + "," + r.Identifier + ","
	}
	page := plans.Page{Limit: plans.MaxPageLimit}
	for {
		l, err := ws.Warnings(ctx, muster.Default, plans.WarningFilter{}, page)
		if err != nil {
			return fmt.Errorf("CAP %s %s: read the warnings it references: %w", strings.ToLower(string(u.MsgType)), u.Identifier, err)
		}
		for _, w := range l.Items {
			i := slices.IndexFunc(sources, func(src string) bool { return strings.HasPrefix(w.Source, src) })
			if i < 0 || w.PurposeOrLive() == purpose {
				continue
			}
			return muster.Errorf(muster.EConflict, "CAP %s %s (status %s) references alert %s of %s, which became %s warning %s: an alert updates or cancels only warnings of its own purpose (a Test or Exercise message never ends a LIVE warning, an Actual one never ends a drill's); nothing was changed",
				strings.ToLower(string(u.MsgType)), u.Identifier, u.Status, refs[i].Identifier, refs[i].Sender, w.PurposeOrLive(), w.ID)
		}
		if l.Next == "" {
			return nil
		}
		page.After = l.Next
	}
}

// upstreamPurpose maps the status of an upstream alert to the purpose of
// its warning; System and Draft alerts are not warnings.
func upstreamPurpose(st cap.Status) (plans.WarningPurpose, error) {
	switch st {
	case cap.StatusActual:
		return plans.WarningLive, nil
	case cap.StatusExercise:
		return plans.WarningExercise, nil
	case cap.StatusTest:
		return plans.WarningTest, nil
	}
	return "", muster.Errorf(muster.EInvalid, "CAP status %s: muster turns only Actual, Exercise and Test alerts into warnings", st)
}

// ownReferences are the alerts u references that its own sender sent: an
// Update or Cancel replaces only those.
func ownReferences(u cap.Upstream) []plans.UpstreamRef {
	var out []plans.UpstreamRef
	for _, r := range u.References {
		ref := plans.UpstreamRef{Sender: r.Sender, Identifier: r.Identifier}
		if r.Sender == u.Sender && !slices.Contains(out, ref) {
			out = append(out, ref)
		}
	}
	return out
}

// upstreamRegions collects the region codes of u's areas: the values of
// geocodes named GB/T 2260 (a 6-digit administrative division) or region
// (muster's longer codes), in any letter case and spacing. Other geocodes
// (a neighbour's own schemes) are not muster's and are skipped.
func upstreamRegions(u cap.Upstream) []plans.RegionCode {
	var out []plans.RegionCode
	for _, ar := range u.Areas {
		for _, g := range ar.Geocodes {
			name := strings.ToLower(strings.NewReplacer(" ", "", "/", "").Replace(g.ValueName))
			if name != "gbt2260" && name != cap.GeocodeRegion {
				continue
			}
			if code := plans.RegionCode(strings.TrimSpace(g.Value)); code != "" && !slices.Contains(out, code) {
				out = append(out, code)
			}
		}
	}
	return out
}

// upstreamCategory is the first CAP category of the info block u was read
// from, "" when it has none muster knows.
func upstreamCategory(a *cap.Alert, u cap.Upstream) plans.CAPCategory {
	for _, in := range a.Infos {
		if in.Event == u.Event && strings.EqualFold(cmp.Or(in.Language, cap.LanguageEN), u.Language) && len(in.Categories) > 0 {
			if c, err := plans.ParseCAPCategory(string(in.Categories[0])); err == nil {
				return c
			}
		}
	}
	return ""
}
