package notify

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// rulesBackupStandsIn is the behaviour (muster.Rules) from which the
// escalation's backup step records whom each backup it calls up stands in
// for (bStandIns), and the backup's call-up says it: the silent person and
// the grid where the backup is to take their place. Under older rules the
// backup got the ordinary call-up, which names neither: a 下沉干部 asked
// to serve 以网格员身份 went to his own grid or called the duty office.
const rulesBackupStandsIn = 13

// bStandIns, under an activation's data bucket, keeps whom each backup the
// escalation's backup step called up stands in for. The recipient records
// keep their layout: a recipient with no entry here stands in for no one.
var bStandIns = []byte("stand_ins") // person → StandIn (JSON)

// StandIn is the silent person a backup was called up in place of: their
// ID and name, and their grid (the post the backup takes) by code and by
// the names the regions had when the backup was called up (NameEN empty
// when the grid has no English name; both empty when the grid was not in
// the regions).
type StandIn struct {
	Person     plans.PersonID   `json:"person"`
	Name       string           `json:"name"`
	Grid       plans.RegionCode `json:"grid"`
	GridName   string           `json:"grid_name,omitempty"`
	GridNameEN string           `json:"grid_name_en,omitempty"`
	// NotSent is set when Person answered 到 before the backup's call-up
	// was sent (rulesStandInNotSent): it never was, and the backup was
	// taken off the call-up (cancelled), not needed.
	NotSent bool `json:"not_sent,omitempty"`
}

// putStandIn records that backup stands in for r in the activation of at.
// When r is a backup standing in for someone, the backup stands in for
// that person too: the post is still theirs. It reads only the state.
func putStandIn(tx *bolt.Tx, at *actTx, backup plans.PersonID, r Recipient) error {
	b, err := at.ad.CreateBucketIfNotExists(bStandIns)
	if err != nil {
		return err
	}
	v := b.Get([]byte(r.Person))
	if v == nil {
		s := StandIn{Person: r.Person, Name: r.Name, Grid: r.Grid}
		reg, ok, err := plans.GetRegion(tx, r.Grid)
		if err != nil {
			return err
		}
		if ok {
			s.GridName, s.GridNameEN = reg.Name, reg.NameEN
		}
		if v, err = json.Marshal(s); err != nil {
			return err
		}
	}
	return b.Put([]byte(backup), v)
}

// standInOf reads whom person stands in for in the activation whose data
// bucket is ad (nil: no one).
func standInOf(ad *bolt.Bucket, person plans.PersonID) (*StandIn, error) {
	if ad == nil {
		return nil, nil
	}
	b := ad.Bucket(bStandIns)
	if b == nil {
		return nil, nil
	}
	v := b.Get([]byte(person))
	if v == nil {
		return nil, nil
	}
	var s StandIn
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, fmt.Errorf("stand-in record of %s: %w", person, err)
	}
	return &s, nil
}

// standInSentence is what a backup's call-up says, in lang, of whom they
// stand in for and as what (roles, the role slots' names): the person's
// name and grid, by its name in lang where it has one, else the Chinese
// name, else its code. With short the grid is left out.
func standInSentence(s *StandIn, roles string, lang plans.Language, short bool) string {
	grid := s.GridName
	if lang == plans.LangEN && s.GridNameEN != "" {
		grid = s.GridNameEN
	}
	if lang == plans.LangEN {
		switch {
		case short || s.Grid == "":
			grid = ""
		case grid == "":
			grid = fmt.Sprintf(" (grid %s)", s.Grid)
		default:
			grid = fmt.Sprintf(" (%s)", grid)
		}
		as := ""
		if roles != "" {
			as = " as " + roles
		}
		return fmt.Sprintf("%s%s could not be reached: you stand in for them%s. ", s.Name, grid, as)
	}
	switch {
	case short || s.Grid == "":
		grid = ""
	case grid == "":
		grid = fmt.Sprintf("（网格%s）", s.Grid)
	default:
		grid = "（" + grid + "）"
	}
	post := "其岗位"
	if roles != "" {
		post = "其" + roles + "岗位"
	}
	return fmt.Sprintf("因%s%s未能联系，请您替补%s。", s.Name, grid, post)
}

// rulesStandInRelieved is the behaviour (muster.Rules) from which a
// silent person who answers 到 after the escalation's backup step called
// up a backup in their place has each backup standing in for them whom
// the call-up reached (not one who declined) told by SMS that they
// reported and the backup need not stand in (relieveStandIns); the
// backup's own escalation ends. Under older rules nobody told the backup,
// and two people went to one post.
const rulesStandInRelieved = 13

// StandInReliefStep is the step number, in an activation's escalation
// queue (and in its attempt IDs), of the SMS telling a backup that the
// person they stand in for reported: the chain has no step of its own for
// it.
const StandInReliefStep = 0xFFFE

// rulesStandInNotSent is the behaviour (muster.Rules) from which a backup
// whose call-up has not been sent yet (pending: not claimed, or waiting
// to be tried again) when the person they stand in for answers 到 is not
// sent it at all (notNeeded): they leave the call-up as cancelled, their
// stand-in record says why (StandIn.NotSent), and StandInNotSentCounter
// counts them. Under older rules the call-up went out all the same,
// asking them to stand in for someone who had reported, and nothing told
// them otherwise.
const rulesStandInNotSent = 13

// StandInNotSentCounter counts (Counters.Dispatch) the backups whose
// call-up was never sent because the person they stand in for answered
// 到 first (rulesStandInNotSent); they count as cancelled too.
const StandInNotSentCounter = "stand_in_not_sent"

// relieveStandIns queues, for person, who just answered 到 in at's
// activation, the SMS telling each backup standing in for them whom the
// call-up reached (sent, delivered, acked, escalated) that person has
// reported (standInRelief), and ends the escalation of those backups. A
// backup whose call-up was not sent yet is not sent it
// (rulesStandInNotSent: notNeeded); one whose send is on the wire is dealt
// with once its result is recorded (rulesStandInInFlight). The stand-ins are read in key order;
// it reads only the state.
func relieveStandIns(at *actTx, c *muster.Command, person plans.PersonID) error {
	sb := at.ad.Bucket(bStandIns)
	if sb == nil {
		return nil
	}
	type relief struct {
		backup plans.PersonID
		s      StandIn
	}
	var out []relief
	cur := sb.Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		var s StandIn
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("stand-in record of %s: %w", k, err)
		}
		if s.Person == person {
			out = append(out, relief{plans.PersonID(k), s})
		}
	}
	if len(out) == 0 {
		return nil
	}
	q, err := at.ad.CreateBucketIfNotExists(bEscQueue)
	if err != nil {
		return err
	}
	for _, rl := range out {
		r, att, err := at.recipient(rl.backup)
		if muster.IsCode(err, muster.ENotFound) {
			continue
		}
		if err != nil {
			return err
		}
		switch r.State {
		case StateSent, StateDelivered, StateAcked, StateEscalated:
		case StatePending:
			if c.RulesAtLeast(rulesStandInNotSent) {
				if err := notNeeded(at, c, r, &att, rl.s); err != nil {
					return err
				}
			}
			continue
		default:
			continue
		}
		if err := relieve(at, c, q, r, &rl.s); err != nil {
			return err
		}
	}
	return nil
}

// relieve ends the escalation of r, a backup standing in for s.Person,
// who answered 到, and queues the SMS telling r so (standInRelief) on q,
// at's escalation queue.
func relieve(at *actTx, c *muster.Command, q *bolt.Bucket, r Recipient, s *StandIn) error {
	if _, err := at.endEscalationOf(r.Person, "the person they stand in for reported"); err != nil {
		return err
	}
	it := EscalationItem{Step: StandInReliefStep, Action: plans.EscalateBackup, Channel: ChannelSMS, Person: r.Person,
		Seq: nextSeq(q, StandInReliefStep, r.Person), Name: r.Name, Phone: r.Phone, Language: r.Language,
		Text: markPurpose(at.a, r.Language, standInRelief(at.a, s, r.Language)), State: EscQueued, Updated: c.Time}
	escMove(at, "", EscQueued)
	return putEscItem(q, it)
}

// rulesStandInInFlight is the behaviour (muster.Rules) from which a backup
// whose call-up was on the wire (sending) when the person they stand in
// for answered 到, too late to be taken off and not yet reached to be
// relieved, is dealt with once that send's result is recorded: sent or
// delivered, they get the relief SMS a backup reached gets and their
// escalation does not start (relieveLate); failed for good, nothing more
// (no relief, no escalation of theirs); refused for now, or gone on to
// another of their numbers, their call-up is not tried again (offIfNotNeeded:
// not_sent, cancelled, as notNeeded). A claimed send not yet made (waiting
// for the account's rate, or left by an earlier leader) is dropped by the
// dispatcher (sendable) and one handed back as a dispatcher stops is
// released: either way the backup is taken off the same way. Under older
// rules the sent backup was told nothing and came in for someone who had
// reported, the refused one got their call-up on its retry, and one whose
// claim was handed back got it from the next leader, then the relief SMS.
const rulesStandInInFlight = 13

// reportedFor reads whom person, a recipient of at's call-up, stands in
// for when that person has answered 到 (an acknowledgement stands: the
// first answer counts); nil otherwise.
func (at *actTx) reportedFor(person plans.PersonID) (*StandIn, error) {
	s, err := standInOf(at.ad, person)
	if err != nil || s == nil {
		return nil, err
	}
	r, _, err := at.recipient(s.Person)
	if muster.IsCode(err, muster.ENotFound) {
		return nil, nil
	}
	if err != nil || r.State != StateAcked {
		return nil, err
	}
	return s, nil
}

// relieveLate goes through the recipients whose call-up went out, or
// failed, in this command after at's chain began (at.late, whose
// escalation clocks are about to start) for backups whose person already
// answered 到 (rulesStandInInFlight): their send was in flight when that
// person reported. Those reached get the relief SMS, unless one was
// queued for them already (the person's answer in the same command);
// none of them starts an escalation clock.
func (at *actTx) relieveLate(c *muster.Command) error {
	if len(at.late) == 0 || !c.RulesAtLeast(rulesStandInInFlight) || at.ad.Bucket(bStandIns) == nil {
		return nil
	}
	keep := at.late[:0]
	for _, p := range at.late {
		s, err := at.reportedFor(p)
		if err != nil {
			return err
		}
		if s == nil {
			keep = append(keep, p)
			continue
		}
		r, _, err := at.recipient(p)
		if err != nil {
			return err
		}
		if !silent(r.State) { // failed: not reached, nothing to take back
			if _, err := at.endEscalationOf(p, "the person they stand in for reported"); err != nil {
				return err
			}
			continue
		}
		q, err := at.ad.CreateBucketIfNotExists(bEscQueue)
		if err != nil {
			return err
		}
		if q.Get(escItemKey(StandInReliefStep, p, 0)) != nil {
			continue // told already
		}
		if err := relieve(at, c, q, r, s); err != nil {
			return err
		}
	}
	at.late = keep
	return nil
}

// offIfNotNeeded takes person, a backup whose send was in flight when the
// person they stand in for answered 到 and who is pending again (their
// send refused for now, or gone on to another number), off the call-up
// as notNeeded does (rulesStandInInFlight), and says so. att is their
// attempt record, which the caller writes.
func (at *actTx) offIfNotNeeded(c *muster.Command, person plans.PersonID, att *Attempt) (bool, error) {
	if !c.RulesAtLeast(rulesStandInInFlight) || at.ad.Bucket(bStandIns) == nil {
		return false, nil
	}
	r, _, err := at.recipient(person)
	if err != nil || r.State != StatePending {
		return false, err
	}
	s, err := at.reportedFor(person)
	if err != nil || s == nil {
		return false, err
	}
	return true, notNeeded(at, c, r, att, *s)
}

// notNeeded takes r, a backup standing in for s.Person whose call-up is
// still pending (never claimed, or waiting to be tried again), with its
// attempt record att (left unscheduled), off at's
// call-up once s.Person answered 到: their call-up is never sent (the
// dispatcher claims only pending recipients), a retry waiting is
// unscheduled, their escalation ends, and their stand-in record says why
// (NotSent).
func notNeeded(at *actTx, c *muster.Command, r Recipient, att *Attempt, s StandIn) error {
	if !att.NextTry.IsZero() {
		if err := at.unschedule(r.Person, att); err != nil {
			return err
		}
		att.Updated = c.Time
		if err := at.putAttempt(r.Person, *att); err != nil {
			return err
		}
	}
	if err := at.move(r, StateCancelled); err != nil {
		return err
	}
	if _, err := at.endEscalationOf(r.Person, fmt.Sprintf("not needed: %s, whom they stand in for, answered 到 before their call-up was sent", s.Name)); err != nil {
		return err
	}
	s.NotSent = true
	v, err := json.Marshal(s)
	if err != nil {
		return err
	}
	at.count(StandInNotSentCounter, 1)
	return at.ad.Bucket(bStandIns).Put([]byte(r.Person), v)
}

// standInRelief is the SMS, before its purpose mark, telling a backup of
// call-up a, in lang, that s, the person they stand in for, has reported:
// they need not stand in, and need not reply.
// Chinese: 【示例市应急】朱明（春晖里社区第8网格）已回复到岗，您无需替补其岗位。本短信无需回复。
// English: 【示例市应急】Zhu Ming (Chunhui Li Grid 8) has answered that they are coming: you need not stand in for them. No reply needed.
func standInRelief(a Activation, s *StandIn, lang plans.Language) string {
	grid := s.GridName
	if lang == plans.LangEN {
		grid = s.GridNameEN
		if grid == "" && s.Grid != "" {
			grid = "grid " + string(s.Grid)
		}
		if grid != "" {
			grid = " (" + grid + ")"
		}
		return a.Sender + s.Name + grid + " has answered that they are coming: you need not stand in for them. " + reportNeedsNoReplyEN
	}
	if grid == "" && s.Grid != "" {
		grid = "网格" + string(s.Grid)
	}
	if grid != "" {
		grid = "（" + grid + "）"
	}
	return a.Sender + s.Name + grid + "已回复到岗，您无需替补其岗位。" + reportNeedsNoReply
}
