package notify

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// CmdActivationRetract retracts an activation: it stops at once and a
// correction goes to everyone it may have reached.
const CmdActivationRetract = "activation.retract"

// MaxRetractionChars bounds a retraction's text (before the sender prefix).
const MaxRetractionChars = 300

// Retraction records who retracted an activation, when, with which text,
// and the correction activation that carries the text.
type Retraction struct {
	At         time.Time          `json:"at"`
	By         string             `json:"by"`
	Message    string             `json:"message"`
	Correct    bool               `json:"correct,omitempty"` // a corrected call-up (CAP Update), not only a cancel
	Correction plans.ActivationID `json:"correction"`
	Recipients int                `json:"recipients"` // people the correction goes to
	// Calls counts the people the correction also calls: a voice
	// escalation call of the original may have reached them.
	Calls int `json:"calls,omitempty"`
	// InFlight counts those of Recipients whose call-up SMS was in flight
	// at the retraction (rules 9): they get the correction only if that
	// SMS turns out to have gone out. It is not updated as the outcomes
	// come in; Recipients is.
	InFlight int `json:"in_flight,omitempty"`
	// MessageEN is what the correction says to English speakers in place
	// of Message (rules 13): the retraction's message_en, or
	// CorrectionTextEN; empty when they read Message.
	MessageEN string `json:"message_en,omitempty"`
}

type activationRetract struct {
	Activation plans.ActivationID `json:"activation"`
	Message    string             `json:"message"`
	Correct    bool               `json:"correct,omitempty"`
	MessageEN  string             `json:"message_en,omitempty"`
}

// RetractRequest asks for an activation to be retracted with Message, a
// cancellation notice or, with Correct, the corrected text; MessageEN is
// what English speakers are told in its place (correctionTextEN: without
// it, a cancellation in Chinese tells them CorrectionTextEN, and a
// correction in Chinese that reached English speakers is refused).
type RetractRequest struct {
	Message   string `json:"message"`
	Correct   bool   `json:"correct,omitempty"`
	MessageEN string `json:"message_en,omitempty"`
}

// RetractResult is the retracted activation and the correction sent for it.
type RetractResult struct {
	Retracted  Activation `json:"retracted"`
	Correction Activation `json:"correction"`
}

// rulesRetractStarted is the behaviour (muster.Rules) from which only an
// activation that started can be retracted: a request withdrawn (stood
// down) before approval sent nothing. Under older rules its retraction
// opened an empty correction.
const rulesRetractStarted = 4

// reached reports whether a recipient in state s may have got the message:
// the provider accepted it, or a send was in flight when the activation
// stopped (expired), so its outcome is unknown.
func reached(s State) bool {
	switch s {
	case StateSent, StateDelivered, StateAcked, StateDeclined, StateEscalated, StateExpired:
		return true
	}
	return false
}

// applyActivationRetract stops the activation as a stand-down does (nothing
// more is claimed once this entry is applied, and the dispatcher checks
// before every send) and creates its correction: an activation of the same
// purpose whose recipients are the people the original may have reached,
// every one pending, with the retraction's text as their message.
func applyActivationRetract(tx *bolt.Tx, c *muster.Command) (any, error) {
	var req activationRetract
	if err := json.Unmarshal(c.Payload, &req); err != nil {
		return nil, invalidf("retraction: %v", err)
	}
	msg, err := retractionMessage(req.Message)
	if err != nil {
		return nil, err
	}
	var msgEN string
	if c.RulesAtLeast(rulesCorrectionEN) {
		if msgEN, err = correctionTextEN(msg, req.MessageEN, req.Correct); err != nil {
			return nil, err
		}
	}
	a, err := getActivation(tx, req.Activation)
	if err != nil {
		return nil, err
	}
	if err := retractable(a, c.RulesAtLeast(rulesRetractStarted)); err != nil {
		return nil, err
	}
	if a.Status == StatusActive {
		if err := standDown(tx, &a, c, "retracted: "+msg, true); err != nil {
			return nil, err
		}
	}
	// Its correction tells the people it reached: the end notice of its
	// stand-down, if still going out, stops (rulesLiveEndNotice).
	if a.EndNotice != "" && c.RulesAtLeast(rulesLiveEndNotice) {
		if err := stopEndNotice(tx, c, a.EndNotice, "retracted: "+msg); err != nil {
			return nil, err
		}
	}
	// One stood down before it was retracted left its regions in recovery
	// (rules 12): they leave it, as there was no emergency.
	for _, r := range a.Regions {
		if err := plans.RetractRecovery(tx, c, r, a.ID, "retracted: "+msg); err != nil {
			return nil, fmt.Errorf("release %s: %w", r, err)
		}
	}
	if c.RulesAtLeast(rulesRetractedAnswersNoWarning) {
		if err := plans.RetractResponses(tx, a.ID, c.Time); err != nil {
			return nil, err
		}
	}

	ab := tx.Bucket(bActivations)
	seq, err := ab.NextSequence()
	if err != nil {
		return nil, err
	}
	corr := followUp(a, activationKey(seq), c, "retraction of "+string(a.ID), msg)
	corr.MessageEN = msgEN
	var (
		calls, inFlight int
		callOnly        []plans.PersonID
	)
	if corr.Recipients, calls, inFlight, callOnly, err = copyReached(tx, c, a.ID, corr.ID, len(a.Roles)); err != nil {
		return nil, fmt.Errorf("correction of %s: %w", a.ID, err)
	}
	ob, err := tx.CreateBucketIfNotExists(bOpen)
	if err != nil {
		return nil, err
	}
	if err := ob.Put([]byte(corr.ID), nil); err != nil {
		return nil, err
	}
	a.Retraction = &Retraction{At: c.Time, By: c.Actor, Message: msg, Correct: req.Correct, Correction: corr.ID, Recipients: corr.Recipients, Calls: calls, MessageEN: msgEN}
	if c.RulesAtLeast(rulesCorrectionReachesAll) {
		a.Retraction.InFlight = inFlight
	}
	if err := putActivation(tx, a); err != nil {
		return nil, err
	}
	if err := putActivation(tx, corr); err != nil {
		return nil, err
	}
	if c.RulesAtLeast(rulesCorrectCallOnly) {
		if err := noSMSForCallOnly(tx, c, corr.ID, callOnly); err != nil {
			return nil, fmt.Errorf("correction of %s: %w", a.ID, err)
		}
	}
	return RetractResult{Retracted: a, Correction: corr}, nil
}

// followUp is the activation, id, that takes a message about call-up a
// to people it reached, started at c: a correction (msg the retraction's
// text) or the end of a drill. It has a's plan, level, regions and
// purpose, so it goes out on a's account and names a as a correction
// names the call-up it withdraws; reason says what it is.
func followUp(a Activation, id plans.ActivationID, c *muster.Command, reason, msg string) Activation {
	return Activation{ID: id, Plan: a.Plan, PlanVersion: a.PlanVersion, PlanTitle: a.PlanTitle, PlanTitleEN: a.PlanTitleEN,
		Sender: a.Sender, Level: a.Level, LevelName: a.LevelName, Regions: a.Regions, RegionNames: a.RegionNames, RegionNamesEN: a.RegionNamesEN, Purpose: a.Purpose,
		Reason: reason, Status: StatusActive, Roles: a.Roles, CreatedAt: c.Time, CreatedBy: c.Actor,
		Command: c.ID, Index: c.Index, StartedAt: c.Time, Retracts: a.ID, Message: msg}
}

// rulesDrillEndNotice is the behaviour (muster.Rules) from which a drill
// that is stood down, by a trainer (activation.standdown) or by a LIVE
// call-up starting over its regions (rulesLiveStopsDrills), tells the
// people it reached that it has ended (tellDrillEnded): someone who
// answered 到 may be on the way to a drill post. The people a LIVE call-up
// in force calls are not told: nothing of the drill follows the real
// call-up, and the drill's end never speaks of it. Under older rules they
// learnt it only by texting the drill's number again.
const rulesDrillEndNotice = 13

// rulesLiveEndNotice is the behaviour (muster.Rules) from which a LIVE
// call-up stood down (activation.standdown) tells the people it reached
// that the emergency response has ended (tellEnded, LiveEndText): someone
// who answered 到 may be on the way or at their post. A stand-down that
// says another call-up replaces it (no_notice) tells nobody, of a LIVE
// call-up or a drill; a retraction tells them with its correction, and
// stops an end notice still going out. Under older rules nobody was told
// of a LIVE call-up's end, and a drill's stand-down always told them.
const rulesLiveEndNotice = 13

// tellEnded opens, for call-up d that was just stood down, the follow-up
// (followUp, with EndsDrill for a drill, EndsCallUp for a LIVE call-up)
// that tells the people it may have reached (reached) that it has ended,
// on d's account, as a correction goes: its recipients are those people,
// pending, but, for a drill, the recipients of the active LIVE call-ups
// and of live (a LIVE call-up starting, not open yet). It calls nobody.
// Nobody left to tell: nothing is opened. It sets d.EndNotice; the caller
// stores d.
func tellEnded(tx *bolt.Tx, c *muster.Command, d *Activation, live *bolt.Bucket) error {
	src := activationData(tx, d.ID)
	if d.Retracts != "" || src == nil {
		return nil
	}
	skip := func([]byte) bool { return false }
	if d.Purpose.Drill() {
		calledUp, err := liveRecipients(tx)
		if err != nil {
			return err
		}
		if live != nil {
			calledUp = append(calledUp, live)
		}
		skip = func(person []byte) bool { return inAny(calledUp, person) }
	}
	found := false
	cur := src.Bucket(bRecipients).Cursor()
	for k, v := cur.First(); k != nil && !found; k, v = cur.Next() {
		found = len(v) > 1 && reached(stateOf(v[1])) && !skip(k)
	}
	if !found {
		return nil
	}
	seq, err := tx.Bucket(bActivations).NextSequence()
	if err != nil {
		return err
	}
	n := followUp(*d, activationKey(seq), c, "end of drill "+string(d.ID), DrillEndText)
	n.EndsDrill = true
	if !d.Purpose.Drill() {
		n = followUp(*d, activationKey(seq), c, "end of call-up "+string(d.ID), LiveEndText)
		n.EndsCallUp = true
	}
	ad, rb, err := newRecipients(tx, n.ID)
	if err != nil {
		return err
	}
	grids := map[plans.RegionCode]int64{}
	roles := make([]int64, len(n.Roles))
	if n.Recipients, _, err = copyReachedTo(src, rb, skip, grids, roles); err != nil {
		return fmt.Errorf("end of %s: %w", d.ID, err)
	}
	if err := writePendingCounters(ad, n.Recipients, grids, roles); err != nil {
		return err
	}
	ob, err := tx.CreateBucketIfNotExists(bOpen)
	if err != nil {
		return err
	}
	if err := ob.Put([]byte(n.ID), nil); err != nil {
		return err
	}
	d.EndNotice = n.ID
	return putActivation(tx, n)
}

// stopEndNotice stands down the end notice id of a call-up retracted
// (why) if it is still active: those it has not sent to yet get the
// retraction's correction instead.
func stopEndNotice(tx *bolt.Tx, c *muster.Command, id plans.ActivationID, why string) error {
	n, err := getActivation(tx, id)
	if err != nil || n.Status != StatusActive {
		return err
	}
	if err := standDown(tx, &n, c, why, false); err != nil {
		return fmt.Errorf("stop end notice %s: %w", id, err)
	}
	return putActivation(tx, n)
}

// retractionMessage is a retraction's text, trimmed, or why it cannot be
// sent.
func retractionMessage(message string) (string, error) {
	msg := strings.TrimSpace(message)
	switch {
	case msg == "":
		return "", invalidf("message: say what the people already reached should be told")
	case utf8.RuneCountInString(msg) > MaxRetractionChars:
		return "", invalidf("message: %d characters; at most %d", utf8.RuneCountInString(msg), MaxRetractionChars)
	}
	return msg, nil
}

// correctionSays refuses, where a person retracts activation id with
// req, a message (or English message) its correction could not say
// (correctionText), and a corrected call-up in Chinese only that would
// reach English speakers (correctionSaysEN). The state machine does not
// check it, so retractions from before the check replay as they applied.
func (s *Service) correctionSays(ctx context.Context, id plans.ActivationID, req RetractRequest) error {
	return s.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		a, err := getActivation(tx, id)
		if err != nil {
			return nil // an unknown ID is the command's to report
		}
		if err := correctionText(a.Purpose, req.Message); err != nil {
			return err
		}
		return correctionSaysEN(tx, a, req)
	})
}

// correctionText refuses a retraction's message that the correction of a
// call-up of purpose p, which says it, could not say: a LIVE correction
// goes out as a LIVE message, which never reads as a drill (no drill word,
// as in a LIVE reason: 【演练】 marks a drill's messages); a drill's
// correction never says it is real (CheckDrillText).
func correctionText(p Purpose, message string) error {
	return correctionTextIn(p, "message", message)
}

// correctionTextIn is correctionText of field (message, message_en).
func correctionTextIn(p Purpose, field, message string) error {
	if p.Drill() {
		return CheckDrillText(field, message)
	}
	if words := plans.ReasonDrillWords(message); len(words) > 0 {
		eg := "前一条信息为误发，请忽略"
		if field != "message" {
			eg = "The previous message was sent in error: disregard it"
		}
		return invalidf("%s %q says %q, but the call-up retracted is LIVE: its correction goes out as a LIVE message, which never mentions drills "+
			"(%s marks a drill's messages); say what people should do without the word, e.g. %s", field, message, words[0], plans.ExerciseMark, eg)
	}
	return nil
}

// correctionSaysEN refuses req's English message (message_en) that the
// correction of a could not say (correctionTextIn), and, a corrected
// call-up (correct) in Chinese with no English message when it would reach
// English speakers (they read a's call-up in English): what it corrects
// cannot be said for the official, and it must not be told them in
// Chinese or as a plain withdrawal (CorrectionTextEN). The error says how
// many they are.
func correctionSaysEN(tx *bolt.Tx, a Activation, req RetractRequest) error {
	msg := strings.TrimSpace(req.Message)
	en, err := correctionTextEN(msg, req.MessageEN, req.Correct)
	switch {
	case err != nil:
		return err
	case strings.TrimSpace(req.MessageEN) != "":
		return correctionTextIn(a.Purpose, "message_en", en)
	case en != "" || !req.Correct || writtenIn(msg, plans.LangEN) == plans.LangEN:
		return nil
	}
	english := 0
	count := func(_ []byte, lang plans.Language) {
		if lang == plans.LangEN {
			english++
		}
	}
	if _, err := correctionPeople(activationData(tx, a.ID), count, count); err != nil || english == 0 {
		return err
	}
	who := fmt.Sprintf("%d people", english)
	if english == 1 {
		who = "1 person"
	}
	return invalidf("message_en: the correction of %s would reach %s whose language is English (they read its call-up in English), and a corrected call-up (correct) "+
		"cannot be told them in Chinese, nor can what it corrects be put in English for you: give its English words with message_en (muster retract --message-en TEXT), "+
		"or retract it without correct to tell them in English that the call-up is withdrawn (%q)",
		a.ID, who, CorrectionTextEN)
}

// retractable refuses (conflict) to retract a: a correction or an end
// notice, a call-up
// retracted already, a request that sent nothing, and (started: under
// rulesRetractStarted) one that never started.
func retractable(a Activation, started bool) error {
	switch {
	case a.Retracts != "" && (a.EndsCallUp || a.EndsDrill):
		return muster.Errorf(muster.EConflict, "activation %s is the end notice of %s, which it tells its people has ended (it was stood down): an end notice cannot be retracted; to tell them more, start a call-up of them (muster activate)", a.ID, a.Retracts)
	case a.Retracts != "":
		return muster.Errorf(muster.EConflict, "activation %s is the correction of %s, which it tells its people was withdrawn: a correction cannot be retracted; to tell them more, start a call-up of them (muster activate)", a.ID, a.Retracts)
	case a.Retraction != nil:
		return muster.Errorf(muster.EConflict, "activation %s was already retracted at %s by %s (correction %s)",
			a.ID, a.Retraction.At.Format(time.RFC3339), a.Retraction.By, a.Retraction.Correction)
	case a.Status == StatusPendingApproval:
		return muster.Errorf(muster.EConflict, "activation %s is %s: nothing was sent, so there is nothing to retract (stand it down to withdraw it)", a.ID, a.Status)
	case a.Status == StatusRejected:
		return muster.Errorf(muster.EConflict, "activation %s was rejected: nothing was sent and nothing will be, so there is nothing to retract or withdraw", a.ID)
	case a.StartedAt.IsZero() && started:
		return muster.Errorf(muster.EConflict, "activation %s is %s and never started: nothing was sent, so there is nothing to retract", a.ID, a.Status)
	}
	return nil
}

// rulesRetractedAnswersNoWarning is the behaviour (muster.Rules) from which
// a retracted activation (sent in error) no longer counts as the response
// to the warnings it answered: under older rules one mistaken call-up,
// withdrawn at once, silenced the no-response prompt of every warning over
// its regions.
const rulesRetractedAnswersNoWarning = 6

// rulesCorrectCallOnly is the behaviour (muster.Rules) from which the
// people a correction takes on only for its call (the original's SMS
// failed; its voice call may have reached them) get no correction SMS:
// it would fail as the first did, or reach someone the original never
// reached if their call turns out never to have been placed.
const rulesCorrectCallOnly = 6

// callOnlyError is the error a correction's recipient that is only called
// shows for its SMS.
const callOnlyError = "no SMS: the call-up's SMS could not reach this number; the correction is made by voice call"

// noSMSForCallOnly moves the people of the correction corr that it only
// calls from pending to failed, with callOnlyError, so the dispatcher does
// not send them its SMS; the correction's calls are queued already.
func noSMSForCallOnly(tx *bolt.Tx, c *muster.Command, corr plans.ActivationID, people []plans.PersonID) error {
	if len(people) == 0 {
		return nil
	}
	acts := actCache{}
	ct, err := acts.get(tx, corr)
	if err != nil {
		return err
	}
	for _, p := range people {
		r, att, err := ct.recipient(p)
		if err != nil {
			return err
		}
		att.Error, att.Updated = callOnlyError, c.Time
		if err := ct.move(r, StateFailed); err != nil {
			return err
		}
		if err := ct.putAttempt(p, att); err != nil {
			return err
		}
	}
	return acts.flush(c)
}

// rulesCorrectReported is the behaviour (muster.Rules) from which a
// correction also goes to the superiors whose 叫应 report of the original
// may have gone out: they were told of a call-up that is withdrawn.
const rulesCorrectReported = 4

// rulesCorrectByVoice is the behaviour (muster.Rules) from which a
// correction also calls the people a voice escalation call of the original
// may have reached: they heard the call-up, and an SMS may never reach them
// (a landline).
const rulesCorrectByVoice = 5

// CorrectionCallStep is the step number of a correction's calls in its
// escalation queue (and in their attempt IDs): a correction has no chain of
// its own.
const CorrectionCallStep = 0xFFFF

// copyReached writes the recipients of activation from that may have been
// reached into a new recipients bucket of activation to, as pending, with
// their counters, and returns how many there are, how many of them the
// correction calls, how many of them its SMS was in flight to (expired),
// and those it takes on only for a call. Under rulesCorrectReported the superiors its
// escalation reported to are among them (with no role slot), once each;
// under rulesCorrectByVoice so are the people its voice calls may have
// reached, each with a call queued.
func copyReached(tx *bolt.Tx, c *muster.Command, from, to plans.ActivationID, slots int) (n, calls, inFlight int, callOnly []plans.PersonID, err error) {
	src := activationData(tx, from)
	ad, rb, err := newRecipients(tx, to)
	if err != nil {
		return 0, 0, 0, nil, err
	}
	grids := map[plans.RegionCode]int64{}
	roles := make([]int64, slots)
	if src != nil {
		if n, inFlight, err = copyReachedTo(src, rb, nil, grids, roles); err != nil {
			return 0, 0, 0, nil, err
		}
		if c.RulesAtLeast(rulesCorrectReported) {
			added, err := copyReported(tx, src, rb, grids)
			if err != nil {
				return 0, 0, 0, nil, err
			}
			n += added
		}
		if c.RulesAtLeast(rulesCorrectByVoice) {
			var queued int
			if callOnly, queued, err = copyCalled(src, ad, rb, grids, roles); err != nil {
				return 0, 0, 0, nil, err
			}
			n, calls = n+len(callOnly), queued
		}
	}
	if err := writePendingCounters(ad, n, grids, roles); err != nil {
		return 0, 0, 0, nil, err
	}
	if calls > 0 {
		err = ad.Bucket(bCounters).Put([]byte(dispatchCounter+escQueuedCounter), appendCount(nil, int64(calls)))
	}
	return n, calls, inFlight, callOnly, err
}

// newRecipients creates the data bucket of activation id, and in it its
// empty recipients bucket.
func newRecipients(tx *bolt.Tx, id plans.ActivationID) (ad, rb *bolt.Bucket, err error) {
	db, err := tx.CreateBucketIfNotExists(bActData) // none yet if no call-up ever started
	if err != nil {
		return nil, nil, err
	}
	if ad, err = db.CreateBucket([]byte(id)); err != nil {
		return nil, nil, err
	}
	if rb, err = ad.CreateBucket(bRecipients); err != nil {
		return nil, nil, err
	}
	rb.FillPercent = recipientsFill
	return ad, rb, nil
}

// copyReachedTo writes into rb, as pending, the recipients of the
// activation whose data bucket is src that it may have reached (reached)
// and that skip (nil: none) does not leave out, counting them in grids and
// roles. It returns how many it wrote, and how many of them its SMS was in
// flight to (expired).
func copyReachedTo(src, rb *bolt.Bucket, skip func(person []byte) bool, grids map[plans.RegionCode]int64, roles []int64) (n, inFlight int, err error) {
	pending, _ := StatePending.code()
	var chunk []byte
	cur := src.Bucket(bRecipients).Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		r, err := decodeRecipient(k, v)
		if err != nil {
			return 0, 0, err
		}
		if !reached(r.State) || skip != nil && skip(k) {
			continue
		}
		if cap(chunk)-len(chunk) < len(v) {
			chunk = make([]byte, 0, max(recordChunk, len(v)))
		}
		start := len(chunk)
		chunk = append(chunk, v...)
		chunk[start+1] = pending
		if err := rb.Put(bytes.Clone(k), chunk[start:len(chunk):len(chunk)]); err != nil {
			return 0, 0, err
		}
		n++
		if r.State == StateExpired {
			inFlight++
		}
		countPending(r, grids, roles)
	}
	return n, inFlight, nil
}

// countPending counts r, copied into a correction as pending, in its
// grid's and role slots' counts.
func countPending(r Recipient, grids map[plans.RegionCode]int64, roles []int64) {
	grids[r.Grid]++
	for _, i := range r.Roles {
		if i < len(roles) {
			roles[i]++
		}
	}
}

// calledMayHaveHeard reports whether a voice escalation call may have
// reached its person: it was placed, or was being placed (sending: its
// result is not in), and did not end unanswered (busy, no answer, failed,
// canceled). A call an answering machine took counts: the message is on
// the recording. A call in sending that turns out never to have been
// placed takes its correction call off again (dropCorrectionCall).
func calledMayHaveHeard(it EscalationItem) bool {
	if it.Channel != ChannelVoice || (it.State != EscSent && it.State != EscSending) {
		return false
	}
	switch callStatus(it) {
	case CallBusy, CallNoAnswer, CallFailed, CallCanceled:
		return false
	}
	return true
}

// copyCalled queues in the correction's data bucket ad one call
// (CorrectionCallStep) to every person a voice escalation call of the
// original src may have reached, on the number called, and adds those not
// already among its recipients rb (their SMS failed) as pending, counting
// them in grids and roles. It returns those it added and how many calls it
// queued.
func copyCalled(src, ad, rb *bolt.Bucket, grids map[plans.RegionCode]int64, roles []int64) (added []plans.PersonID, queued int, err error) {
	sq := src.Bucket(bEscQueue)
	if sq == nil {
		return nil, 0, nil
	}
	pending, _ := StatePending.code()
	var q *bolt.Bucket
	err = sq.ForEach(func(_, v []byte) error {
		var it EscalationItem
		if err := json.Unmarshal(v, &it); err != nil {
			return err
		}
		if !calledMayHaveHeard(it) || it.Phone == "" {
			return nil
		}
		if q == nil {
			var err error
			if q, err = ad.CreateBucket(bEscQueue); err != nil {
				return err
			}
		}
		call := EscalationItem{Step: CorrectionCallStep, Action: plans.EscalateVoice, Channel: ChannelVoice, Person: it.Person,
			Name: it.Name, Phone: it.Phone, Language: it.Language, State: EscQueued}
		if q.Get(call.key()) != nil {
			return nil // called by two steps: one correction call
		}
		if rb.Get([]byte(it.Person)) == nil {
			orig := src.Bucket(bRecipients).Get([]byte(it.Person))
			if orig == nil || len(orig) < 2 {
				return nil
			}
			r, err := decodeRecipient([]byte(it.Person), orig)
			if err != nil {
				return err
			}
			rec := bytes.Clone(orig)
			rec[1] = pending
			if err := rb.Put([]byte(it.Person), rec); err != nil {
				return err
			}
			added = append(added, it.Person)
			countPending(r, grids, roles)
		}
		queued++
		return putEscItem(q, call)
	})
	return added, queued, err
}

// copyReported adds to the correction's recipients rb, as pending, the
// superiors whose reports in the original's escalation src went out (or
// were in flight) and who are not recipients already, counting them in
// grids. It returns how many it added.
func copyReported(tx *bolt.Tx, src, rb *bolt.Bucket, grids map[plans.RegionCode]int64) (int, error) {
	q := src.Bucket(bEscQueue)
	if q == nil {
		return 0, nil
	}
	pending, _ := StatePending.code()
	n := 0
	err := q.ForEach(func(_, v []byte) error {
		var it EscalationItem
		if err := json.Unmarshal(v, &it); err != nil {
			return err
		}
		if it.Action != plans.EscalateSuperior || (it.State != EscSent && it.State != EscSending) || it.Phone == "" || rb.Get([]byte(it.Person)) != nil {
			return nil
		}
		rec := plans.PersonRecord{ID: []byte(it.Person), Name: []byte(it.Name), Phone: []byte(it.Phone), Language: it.Language}
		if p, ok, err := plans.GetPerson(tx, it.Person); err != nil {
			return err
		} else if ok {
			rec.Grid = p.Grid
		}
		if err := rb.Put([]byte(it.Person), appendRecord(nil, pending, nil, &rec)); err != nil {
			return err
		}
		grids[rec.Grid]++
		n++
		return nil
	})
	return n, err
}

// Retract retracts an activation in one step: once the retraction commits
// the dispatcher sends nothing more of it, and a correction carrying req's
// text goes to everyone it may have reached. A retraction cannot be undone;
// retracting twice is a conflict.
func (s *Service) Retract(ctx context.Context, actor string, id plans.ActivationID, req RetractRequest) (RetractResult, error) {
	var out RetractResult
	if err := muster.CheckPlainText("message", req.Message, true); err != nil {
		return out, err
	}
	if err := muster.CheckPlainText("message_en", req.MessageEN, false); err != nil {
		return out, err
	}
	if err := s.notExpired(ctx, id, "retract"); err != nil {
		return out, err
	}
	if err := s.correctionSays(ctx, id, req); err != nil {
		return out, err
	}
	b, err := json.Marshal(activationRetract{Activation: id, Message: req.Message, Correct: req.Correct, MessageEN: req.MessageEN})
	if err != nil {
		return out, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, activationTimeout)
		defer cancel()
	}
	err = s.apply.Apply(ctx, &muster.Command{Type: CmdActivationRetract, Actor: actor, Payload: b}, &out)
	return out, err
}

// RetractPreview is what retracting an activation would do if it were
// retracted now; nothing is committed. The retraction itself decides: its
// correction goes to the people it may have reached when it commits.
type RetractPreview struct {
	Activation Activation `json:"activation"` // the call-up the correction would withdraw
	// Recipients counts the people its correction would go to now (as
	// the retraction counts them under the current rules).
	Recipients int `json:"recipients"`
	// Text is the correction's SMS to a Chinese speaker whom no other
	// call-up in force calls.
	Text string `json:"text"`
	// English counts, of Recipients, those whose language is English
	// (rules 13): TextEN is the correction's SMS to them, as Text is to
	// a Chinese speaker.
	English int    `json:"english"`
	TextEN  string `json:"text_en"`
	// Standing lists the call-ups still in force that also call some of
	// those people (a drill's correction counts LIVE call-ups and drills,
	// a LIVE one LIVE call-ups), the earliest started first. The
	// correction names only Activation; its text to those people says
	// that the call-up in force stands.
	Standing []StandingCallUp `json:"standing"`
}

// StandingCallUp is a call-up in force beside a correction that also
// calls some of the people the correction reaches.
type StandingCallUp struct {
	ID          plans.ActivationID `json:"id"`
	PlanTitle   string             `json:"plan_title"`
	Level       plans.LevelCode    `json:"level"`
	LevelName   string             `json:"level_name"`
	RegionNames string             `json:"region_names"`
	Purpose     Purpose            `json:"purpose"`
	StartedAt   time.Time          `json:"started_at"`
	// People counts the correction's people this call-up calls too.
	People int `json:"people"`
	// Text is the correction's SMS to a Chinese speaker whom only this
	// call-up in force also calls.
	Text string `json:"text"`
}

// RetractPreview says what retracting activation id with req would do
// now, without doing it: how many people the correction would reach, its
// text, and which call-ups still in force also call some of those people
// (see RetractPreview). It refuses what Retract would refuse.
func (s *Service) RetractPreview(ctx context.Context, id plans.ActivationID, req RetractRequest) (RetractPreview, error) {
	var out RetractPreview
	if err := muster.CheckPlainText("message", req.Message, true); err != nil {
		return out, err
	}
	msg, err := retractionMessage(req.Message)
	if err != nil {
		return out, err
	}
	if err := muster.CheckPlainText("message_en", req.MessageEN, false); err != nil {
		return out, err
	}
	msgEN, err := correctionTextEN(msg, req.MessageEN, req.Correct)
	if err != nil {
		return out, err
	}
	if err := s.notExpired(ctx, id, "retract"); err != nil {
		return out, err
	}
	err = s.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		a, err := getActivation(tx, id)
		if err != nil {
			return err
		}
		if err := retractable(a, true); err != nil {
			return err
		}
		if err := correctionText(a.Purpose, msg); err != nil {
			return err
		}
		if err := correctionSaysEN(tx, a, req); err != nil {
			return err
		}
		out, err = retractPreview(tx, a, msg, msgEN)
		return err
	})
	return out, err
}

// retractPreview computes the preview of retracting a with msg (msgEN to
// English speakers: correctionTextEN) from tx.
func retractPreview(tx *bolt.Tx, a Activation, msg, msgEN string) (RetractPreview, error) {
	out := RetractPreview{Activation: a, Standing: []StandingCallUp{}}
	corr := Activation{Retracts: a.ID, Message: msg, MessageEN: msgEN, Sender: a.Sender, Purpose: a.Purpose, PlanTitle: a.PlanTitle, PlanTitleEN: a.PlanTitleEN,
		Level: a.Level, Regions: a.Regions, RegionNames: a.RegionNames, RegionNamesEN: a.RegionNamesEN, retractedAt: startedAt(a)}
	out.Text = markPurpose(corr, plans.LangZH, correctionSMS(corr, plans.LangZH))
	out.TextEN = markPurpose(corr, plans.LangEN, correctionSMS(corr, plans.LangEN))

	// The call-ups in force, each with a cursor over its recipients:
	// the correction's people are met in key order, and each cursor
	// moves forward with them (one pass over both, not a look-up per
	// person, for a call-up of a million).
	type open struct {
		a    Activation
		cur  *bolt.Cursor
		k    []byte
		rb   *bolt.Bucket
		seen int
	}
	var opens []*open
	if ob := tx.Bucket(bOpen); ob != nil {
		err := ob.ForEach(func(k, _ []byte) error {
			o, err := getActivation(tx, plans.ActivationID(k))
			if err != nil {
				return err
			}
			ad := activationData(tx, o.ID)
			if !standsBeside(corr, o) || ad == nil {
				return nil
			}
			op := &open{a: o, rb: ad.Bucket(bRecipients)}
			op.cur = op.rb.Cursor()
			op.k, _ = op.cur.First()
			opens = append(opens, op)
			return nil
		})
		if err != nil {
			return out, err
		}
	}
	inOrder := func(person []byte, lang plans.Language) {
		if lang == plans.LangEN {
			out.English++
		}
		for _, op := range opens {
			for op.k != nil && bytes.Compare(op.k, person) < 0 {
				op.k, _ = op.cur.Next()
			}
			if op.k != nil && bytes.Equal(op.k, person) {
				op.seen++
			}
		}
	}
	anyOrder := func(person []byte, lang plans.Language) {
		if lang == plans.LangEN {
			out.English++
		}
		for _, op := range opens {
			if op.rb.Get(person) != nil {
				op.seen++
			}
		}
	}
	n, err := correctionPeople(activationData(tx, a.ID), inOrder, anyOrder)
	if err != nil {
		return out, err
	}
	out.Recipients = n
	slices.SortStableFunc(opens, func(x, y *open) int {
		return cmp.Or(startedAt(x.a).Compare(startedAt(y.a)), cmp.Compare(x.a.ID, y.a.ID))
	})
	for _, op := range opens {
		if op.seen == 0 {
			continue
		}
		one := corr
		one.standing = []Activation{op.a}
		o := op.a
		out.Standing = append(out.Standing, StandingCallUp{ID: o.ID, PlanTitle: o.PlanTitle, Level: o.Level, LevelName: o.LevelName,
			RegionNames: o.RegionNames, Purpose: o.Purpose, StartedAt: startedAt(o), People: op.seen,
			Text: markPurpose(one, plans.LangZH, correctionSMS(one, plans.LangZH))})
	}
	return out, nil
}

// correctionPeople goes over the people the correction of the activation
// whose data bucket is src (nil: none started) would go to, as
// copyReached takes them on under the current rules, and counts them: the
// recipients it may have reached, in key order (inOrder), then, in no
// order (anyOrder), the superiors its escalation reported to and the
// people only its voice calls may have reached, once each. It writes
// nothing.
func correctionPeople(src *bolt.Bucket, inOrder, anyOrder func(person []byte, lang plans.Language)) (int, error) {
	if src == nil {
		return 0, nil
	}
	n := 0
	rb := src.Bucket(bRecipients)
	cur := rb.Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if len(v) < 2 || !reached(stateOf(v[1])) {
			continue
		}
		inOrder(k, recordLanguage(v))
		n++
	}
	q := src.Bucket(bEscQueue)
	if q == nil {
		return n, nil
	}
	isReached := func(person []byte) bool {
		v := rb.Get(person)
		return len(v) >= 2 && reached(stateOf(v[1]))
	}
	taken := map[plans.PersonID]bool{}
	var items []EscalationItem
	err := q.ForEach(func(_, v []byte) error {
		var it EscalationItem
		if err := json.Unmarshal(v, &it); err != nil {
			return err
		}
		items = append(items, it)
		return nil
	})
	if err != nil {
		return 0, err
	}
	take := func(p plans.PersonID, lang plans.Language) {
		if taken[p] || isReached([]byte(p)) {
			return
		}
		taken[p] = true
		anyOrder([]byte(p), lang)
		n++
	}
	// The superiors first, then the calls, as copyReached adds them.
	for _, it := range items {
		if it.Action == plans.EscalateSuperior && (it.State == EscSent || it.State == EscSending) && it.Phone != "" {
			take(it.Person, it.Language)
		}
	}
	for _, it := range items {
		if v := rb.Get([]byte(it.Person)); calledMayHaveHeard(it) && it.Phone != "" && len(v) >= 2 {
			take(it.Person, recordLanguage(v))
		}
	}
	return n, nil
}

// rulesDropCallOnly is the behaviour (muster.Rules) from which a person a
// correction took on only for its call leaves the correction when that call
// is dropped: nothing of the call-up reached them. Under older rules they
// stayed among its recipients, failed with callOnlyError (or pending, and
// sent its SMS, before rulesCorrectCallOnly).
const rulesDropCallOnly = 7

// dropCorrectionCall takes off the correction of at's activation (if it
// was retracted) the call queued for person, whose escalation call of the
// original was in flight at the retraction and then was not placed: it
// cannot have reached them. A call the correction has claimed already
// stays. The person stays among the correction's recipients if the
// original's SMS may have reached them; otherwise, unclaimed, they leave it
// (rulesDropCallOnly).
func dropCorrectionCall(tx *bolt.Tx, c *muster.Command, acts actCache, at *actTx, person plans.PersonID) error {
	ret := at.a.Retraction
	if ret == nil {
		return nil
	}
	ct, q, err := escQueue(tx, acts, ret.Correction)
	if err != nil || q == nil {
		return err
	}
	k := escItemKey(CorrectionCallStep, person, 0)
	call, ok, err := getEscItem(q, k)
	if err != nil || !ok || call.State != EscQueued || call.N != 0 {
		return err
	}
	if err := q.Delete(k); err != nil {
		return err
	}
	escCount(ct, EscQueued, -1)
	ret.Calls--
	if err := putActivation(tx, at.a); err != nil {
		return err
	}
	if !c.RulesAtLeast(rulesDropCallOnly) {
		return nil
	}
	if r, _, err := at.recipient(person); err != nil || reached(r.State) {
		return err
	}
	cr, catt, err := ct.recipient(person)
	if err != nil || catt.N != 0 || (cr.State != StatePending && cr.State != StateFailed) {
		return err
	}
	return offCorrection(tx, at, ct, cr)
}

// rulesCorrectionReachesAll is the behaviour (muster.Rules) from which a
// retraction reaches everyone its correction goes to: the correction is
// not stood down while it still has SMS to send or calls to make (its
// people would never be told), it ends by itself once everything went
// out (correction.end), and a call of the retracted call-up that the
// escalator canceled before it rang takes its correction call off
// (correction.uncall). Under older rules a correction was stood down
// whenever asked and stayed active until then, and called everyone whose
// call was in flight at the retraction; the retraction recorded no
// InFlight.
const rulesCorrectionReachesAll = 9

// CmdCorrectionEnd ends a correction whose SMS and calls have all gone
// out (the escalator proposes it). It is ignorable: older members skip it.
const CmdCorrectionEnd = "correction.end"

// CmdCorrectionUncall takes off a correction the calls queued for people
// whose calls of the retracted call-up were canceled before they rang (the
// escalator proposes it). It is ignorable: older members skip it.
const CmdCorrectionUncall = "correction.uncall"

// CorrectionEndReason is the stand-down reason of a correction that ended
// by itself.
const CorrectionEndReason = "更正已全部发出 (correction complete: every SMS has its delivery outcome and every call is over)"

// callOverAfter is how long after its last report a correction's placed
// call with no final status counts as over: its end was not reported, and
// no call rings and reads a correction that long.
const callOverAfter = 10 * time.Minute

// correctionToGo counts what the correction whose data bucket is ad still
// has to get out at now: people whose SMS the carrier does not have yet
// (pending or being sent) and calls not over (queued, being placed, or
// placed with no final status reported within callOverAfter). With unreported,
// SMS the carrier has not reported on count too: a report that the
// handset could not be reached has the SMS sent again. The escalator asks
// that every tick only to know whether anything is left, so then SMS left
// are the answer, without reading the calls (calls is 0).
func correctionToGo(ad *bolt.Bucket, now time.Time, unreported bool) (sms, calls int, err error) {
	cb := ad.Bucket(bCounters)
	n := counterValue(cb, string(stateKey(StatePending))) + counterValue(cb, string(stateKey(StateSending)))
	if unreported {
		n += counterValue(cb, string(stateKey(StateSent)))
		if n > 0 {
			return int(n), 0, nil
		}
	}
	q := ad.Bucket(bEscQueue)
	if q == nil {
		return int(n), 0, nil
	}
	err = q.ForEach(func(_, v []byte) error {
		var it EscalationItem
		if err := json.Unmarshal(v, &it); err != nil {
			return err
		}
		switch it.State {
		case EscQueued, EscSending:
			calls++
		case EscSent:
			if !callStatus(it).Final() && now.Before(it.Updated.Add(callOverAfter)) {
				calls++
			}
		}
		return nil
	})
	return int(n), calls, err
}

// correctionMayStop refuses (conflict) to stand down a, an active
// correction, while it has SMS to send or calls to make at c's time: their
// people would never be told that the call-up was withdrawn (of an end
// notice: that the call-up has ended). still says
// what is still to go, for a stand-down forced anyway.
func correctionMayStop(tx *bolt.Tx, a Activation, c *muster.Command) (still string, err error) {
	ad := activationData(tx, a.ID)
	if ad == nil || !c.RulesAtLeast(rulesCorrectionReachesAll) {
		return "", nil
	}
	sms, calls, err := correctionToGo(ad, c.Time, false)
	if err != nil || sms+calls == 0 {
		return "", err
	}
	var left []string
	if sms > 0 {
		left = append(left, fmt.Sprintf("%d SMS not yet sent", sms))
	}
	if calls > 0 {
		left = append(left, fmt.Sprintf("%d %s not yet made", calls, map[bool]string{true: "call", false: "calls"}[calls == 1]))
	}
	still = strings.Join(left, " and ")
	if a.EndsCallUp || a.EndsDrill {
		return still, muster.Errorf(muster.EConflict, "activation %s is the end notice of %s and still has %s: stood down now, the end notice would not reach them, and they would never be told that %s has ended; it ends by itself once everything has gone out (muster status %s). "+
			"Only a wrong end notice is stopped anyway: stand it down with --force (API: \"force\": true)",
			a.ID, a.Retracts, still, a.Retracts, a.ID)
	}
	return still, muster.Errorf(muster.EConflict, "activation %s is the correction of %s and still has %s: stood down now, the correction would not reach them, and they would never be told that %s was withdrawn; it ends by itself once everything has gone out (muster status %s). "+
		"Only a wrong correction is stopped anyway: stand it down with --force (API: \"force\": true)",
		a.ID, a.Retracts, still, a.Retracts, a.ID)
}

type correctionEnd struct {
	Activation plans.ActivationID `json:"activation"`
}

// CorrectionEndResult is what correction.end did.
type CorrectionEndResult struct {
	Ended bool `json:"ended,omitempty"` // stood down, with CorrectionEndReason
	Older bool `json:"older,omitempty"` // the cluster's rules predate it: nothing done
	ToGo  int  `json:"to_go,omitempty"` // SMS and calls it still waits for: not ended
}

// applyCorrectionEnd stands down an active correction that has nothing
// more to get out: every SMS has its delivery outcome and every call is
// over (correctionToGo). Anything else is left as it is.
func applyCorrectionEnd(tx *bolt.Tx, c *muster.Command) (any, error) {
	var req correctionEnd
	if err := json.Unmarshal(c.Payload, &req); err != nil {
		return nil, invalidf("correction end: %v", err)
	}
	var out CorrectionEndResult
	if !c.RulesAtLeast(rulesCorrectionReachesAll) {
		out.Older = true // an older member would not know the command: it is ignorable, and does nothing here either
		return out, nil
	}
	a, err := getActivation(tx, req.Activation)
	if err != nil {
		return nil, err
	}
	ad := activationData(tx, a.ID)
	if a.Retracts == "" || a.Status != StatusActive || ad == nil {
		return out, nil
	}
	sms, calls, err := correctionToGo(ad, c.Time, true)
	if err != nil {
		return nil, err
	}
	if out.ToGo = sms + calls; out.ToGo > 0 {
		return out, nil
	}
	if err := standDown(tx, &a, c, CorrectionEndReason, false); err != nil {
		return nil, err
	}
	out.Ended = true
	return out, putActivation(tx, a)
}

// UnrungCalls are the calls of a retracted call-up to one person that
// never rang them with the call-up, by SID: the escalator canceled them
// while nothing but their being queued had been reported (not dialled,
// not ringing, not answered), or (rulesUncallBusyFailed) they ended busy
// or failed.
type UnrungCalls struct {
	Person plans.PersonID `json:"person"`
	SIDs   []string       `json:"sids"`
}

type correctionUncall struct {
	Activation plans.ActivationID `json:"activation"` // the correction
	Calls      []UnrungCalls      `json:"calls"`
}

// UncallResult is what correction.uncall did.
type UncallResult struct {
	Older   bool             `json:"older,omitempty"` // the cluster's rules predate it: nothing done
	Dropped []plans.PersonID `json:"dropped"`         // whose correction call came off
}

// unrung reports whether a call whose last reported status is s had not
// rung: nothing but its being queued was reported. A call reported
// initiated (being dialled) counts as one that may have rung: its ringing
// report may be on its way.
func unrung(s CallStatus) bool {
	return s == "" || s == CallQueued
}

// rulesUncallBusyFailed is the behaviour (muster.Rules) from which a call
// of the retracted call-up that ended busy or failed (endedUnrung) takes
// its person's correction call off (correction.uncall) as one canceled
// before it was dialled does, and a call of theirs that rang unanswered
// or was canceled after the retraction keeps it (rangSince). Under older
// rules such a call kept its correction call, and only calls that may
// have reached their person counted against taking one off.
const rulesUncallBusyFailed = 10

// endedUnrung reports whether a call whose last reported status is s
// ended without its person hearing it ring with the call-up: the line was
// busy, or the call failed (a number not in service, refused).
func endedUnrung(s CallStatus) bool {
	return s == CallBusy || s == CallFailed
}

// callStatus is the status last reported of a voice item's call, without
// the answering machine's mark.
func callStatus(it EscalationItem) CallStatus {
	return CallStatus(strings.TrimSuffix(it.Call, " (machine)"))
}

// rangSince reports whether a voice escalation call of a retracted
// call-up may have reached its person (calledMayHaveHeard) or rang them
// in flight at the retraction at: it ended unanswered, or canceled, at
// or after it. Such a person may call back: they keep their correction
// call. A call that ended so before the retraction queued no correction
// call and counts for nothing.
func rangSince(it EscalationItem, at time.Time) bool {
	if calledMayHaveHeard(it) {
		return true
	}
	st := callStatus(it)
	return it.Channel == ChannelVoice && it.State == EscSent && (st == CallNoAnswer || st == CallCanceled) && !it.Updated.Before(at)
}

// applyCorrectionUncall takes off the correction the queued call of each
// person whose calls of the retracted call-up never rang them, as the
// escalator reports, when the state agrees: those calls have no dialling,
// ringing or answer reported (their status is none, queued or canceled)
// or (rulesUncallBusyFailed) ended busy or failed, and no other call of
// the call-up to that person may have reached them (from
// rulesUncallBusyFailed, or rang them after the retraction: rangSince).
// Such a call never told the person of the call-up: as for a call not
// placed at all (dropCorrectionCall), the person keeps the correction's
// SMS if the call-up's SMS may have reached them.
func applyCorrectionUncall(tx *bolt.Tx, c *muster.Command) (any, error) {
	var req correctionUncall
	if err := json.Unmarshal(c.Payload, &req); err != nil {
		return nil, invalidf("correction uncall: %v", err)
	}
	out := UncallResult{Dropped: []plans.PersonID{}}
	if !c.RulesAtLeast(rulesCorrectionReachesAll) {
		out.Older = true
		return out, nil
	}
	corr, err := getActivation(tx, req.Activation)
	if err != nil {
		return nil, err
	}
	if corr.Retracts == "" {
		return nil, invalidf("activation %s is not a correction", corr.ID)
	}
	acts := actCache{}
	at, q, err := escQueue(tx, acts, corr.Retracts)
	if err != nil || q == nil {
		return out, err
	}
	canceled := map[plans.PersonID]map[string]bool{}
	for _, uc := range req.Calls {
		canceled[uc.Person] = map[string]bool{}
		for _, sid := range uc.SIDs {
			canceled[uc.Person][sid] = true
		}
	}
	// Whether a call of the call-up to each person may have rung.
	rang := map[plans.PersonID]bool{}
	busyFailed := c.RulesAtLeast(rulesUncallBusyFailed)
	err = q.ForEach(func(_, v []byte) error {
		var it EscalationItem
		if err := json.Unmarshal(v, &it); err != nil {
			return err
		}
		sids, ok := canceled[it.Person]
		if !ok || it.Channel != ChannelVoice {
			return nil
		}
		st := callStatus(it)
		switch {
		case it.State == EscSent && sids[it.SID]:
			rang[it.Person] = rang[it.Person] || !(unrung(st) || st == CallCanceled || (busyFailed && endedUnrung(st)))
		case busyFailed:
			rang[it.Person] = rang[it.Person] || rangSince(it, corr.StartedAt)
		default:
			rang[it.Person] = rang[it.Person] || calledMayHaveHeard(it)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	ct, cq, err := escQueue(tx, acts, corr.ID)
	if err != nil || cq == nil || ct == nil {
		return out, err
	}
	for _, uc := range req.Calls {
		if rang[uc.Person] {
			continue
		}
		call, ok, err := getEscItem(cq, escItemKey(CorrectionCallStep, uc.Person, 0))
		if err != nil {
			return nil, err
		}
		if !ok || call.State != EscQueued || call.N != 0 {
			continue
		}
		if err := dropCorrectionCall(tx, c, acts, at, uc.Person); err != nil {
			return nil, err
		}
		out.Dropped = append(out.Dropped, uc.Person)
	}
	return out, acts.flush(c)
}
