package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// rulesFireInChunks is the behaviour (muster.Rules) from which an
// escalation step is fired in chunks: an escalation.fire that carries a
// limit looks at about that many people at most, keeps where it stopped
// (bEscFiring) and answers it (FireResult.Next), and the escalator fires
// the next chunk from there until the step is done; a new leader's
// escalator goes on from the kept place. A superior step's chunks find
// the superiors of the silent people they take and keep them by superior
// (bEscReport); once every recipient is looked at, the reports are
// written a chunk of superiors at a time, one per superior as before,
// leaving out those who answered meanwhile. Under older rules the limit is
// not looked at: the step is one entry however many it is for, and while a
// million recipients' step was applied (seconds) no reply or result was.
const rulesFireInChunks = 13

// FireChunk is about the most people one escalation.fire looks at:
// recipients, and the roster's people it reads to find their superiors or
// names in reports.
const FireChunk = 20000

var (
	// step index (2 bytes) → fireProgress (JSON): a step begun and not
	// done.
	bEscFiring = []byte("esc_firing")
	// A superior step's reports as its chunks gather them, under the step
	// index (2 bytes) and a kind:
	//	'g' grid → its 网格长 ([]superior, JSON), found once for the step
	//	'a' region → its people a silence can go up to ([]superior, JSON)
	//	'p' person → failed (1 byte): silent, for the command slot
	//	    or a region above, once the step knows the command slot's people
	//	'r' superior 0 → reportTo (JSON): who the report goes to
	//	'r' superior 0 person → failed (1 byte) + how the person came to
	//	    the superior (routeRoster, routeCommand): a silent person the
	//	    report names, in the recipients' order
	// Failed is 1 when the step took the person as not reached by SMS.
	bEscReport = []byte("esc_report")
)

// Phases of a superior step fired in chunks, after its recipients.
const (
	phaseAssign = "assign" // the silent people without a 网格长 for them are given one
	phaseReport = "report" // the reports are written, a chunk of superiors at a time
	phaseClean  = "clean"  // the step's caches are dropped
)

// How a silent person came to a superior, which says which of the
// superior's records the report takes (the first person named decides,
// as superiorReports does).
const (
	routeRoster  byte = 'r' // the grid's 网格长 or a region's above: the roster's record
	routeCommand byte = 'c' // the command slot: the call-up's recipient record
)

// fireProgress is where a step being fired in chunks goes on.
type fireProgress struct {
	After plans.PersonID `json:"after"` // the last recipient looked at, then the last person or superior done
	// Recent: the step is the chain's first to fire, which leaves out
	// those reached too recently for it (recentlyReached).
	Recent bool `json:"recent,omitempty"`
	// Phase is a superior step's after its recipients (phaseAssign, …).
	Phase string `json:"phase,omitempty"`
	// Command: a superior step's first maxCommandReports recipients of the
	// first role slot with a phone, as its chunks come to them.
	Command []superior `json:"command,omitempty"`
}

// reportTo is a superior as the report to them names them: from the
// roster (Roster) or, for the command slot, the call-up's recipient
// record (Command).
type reportTo struct {
	Roster  *superior `json:"r,omitempty"`
	Command *superior `json:"c,omitempty"`
}

// firing is the progress of step in ad, if it is being fired in chunks.
func firing(ad *bolt.Bucket, step int) (fireProgress, bool, error) {
	var p fireProgress
	b := ad.Bucket(bEscFiring)
	if b == nil {
		return p, false, nil
	}
	v := b.Get(escStepKey(step))
	if v == nil {
		return p, false, nil
	}
	if err := json.Unmarshal(v, &p); err != nil {
		return p, false, fmt.Errorf("escalation step %d progress: %w", step, err)
	}
	return p, true, nil
}

// firingSteps lists the steps of ad being fired in chunks, with the
// recipient each goes on after.
func firingSteps(ad *bolt.Bucket) map[int]plans.PersonID {
	out := map[int]plans.PersonID{}
	if b := ad.Bucket(bEscFiring); b != nil {
		_ = b.ForEach(func(k, v []byte) error {
			var p fireProgress
			if len(k) == 2 && json.Unmarshal(v, &p) == nil {
				out[int(k[0])<<8|int(k[1])] = p.After
			}
			return nil
		})
	}
	return out
}

// keepFiring records that step goes on from p, or, when done, that it is
// fired: the progress is dropped.
func keepFiring(ad *bolt.Bucket, step int, p fireProgress, done bool) error {
	if done {
		if b := ad.Bucket(bEscFiring); b != nil {
			if err := b.Delete(escStepKey(step)); err != nil {
				return err
			}
		}
		return nil
	}
	b, err := ad.CreateBucketIfNotExists(bEscFiring)
	if err != nil {
		return err
	}
	v, _ := json.Marshal(p)
	return b.Put(escStepKey(step), v)
}

func reportKey(step int, kind byte, s ...string) []byte {
	k := append(escStepKey(step), kind)
	for i, x := range s {
		if i > 0 {
			k = append(k, 0)
		}
		k = append(k, x...)
	}
	return k
}

// commandCandidate adds the recipient record v of k to p.Command if it is
// among the first maxCommandReports of the first role slot with a phone
// (the recipients are looked at in key order, as superiorReports reads
// them).
func (p *fireProgress) commandCandidate(k, v []byte) error {
	if len(p.Command) >= maxCommandReports {
		return nil
	}
	r, err := decodeRecipient(k, v)
	if err != nil {
		return err
	}
	if slices.Contains(r.Roles, 0) && r.Phone != "" {
		p.Command = append(p.Command, superior{ID: r.Person, Name: r.Name, Phone: r.Phone, Language: r.Language})
	}
	return nil
}

// reportBook keeps a superior step's reports as its chunks gather them
// (bEscReport), with the step's caches of who the superiors are. Looked
// counts the roster's people it read.
type reportBook struct {
	tx     *bolt.Tx
	b      *bolt.Bucket
	step   int
	grids  map[plans.RegionCode][]superior
	ups    map[plans.RegionCode][]superior
	metas  map[metaKey]bool // whose record is kept
	Looked int
}

func openReportBook(tx *bolt.Tx, at *actTx, step int) (*reportBook, error) {
	b, err := at.ad.CreateBucketIfNotExists(bEscReport)
	if err != nil {
		return nil, err
	}
	return &reportBook{tx: tx, b: b, step: step, grids: map[plans.RegionCode][]superior{},
		ups: map[plans.RegionCode][]superior{}, metas: map[metaKey]bool{}}, nil
}

// metaKey is a superior's record as one route gave it.
type metaKey struct {
	boss  plans.PersonID
	route byte
}

// cached returns the superiors kept under key, found by find when the step
// has not looked for them yet.
func (rb *reportBook) cached(key []byte, find func() ([]superior, int, error)) ([]superior, error) {
	var ps []superior
	if v := rb.b.Get(key); v != nil {
		return ps, json.Unmarshal(v, &ps)
	}
	ps, n, err := find()
	if err != nil {
		return nil, err
	}
	rb.Looked += n
	v, _ := json.Marshal(ps)
	return ps, rb.b.Put(key, v)
}

// gridLeaders is gridLeaders of grid (up to maxCommandReports), read from
// the roster once a step.
func (rb *reportBook) gridLeaders(grid plans.RegionCode) ([]superior, error) {
	if ps, ok := rb.grids[grid]; ok {
		return ps, nil
	}
	ps, err := rb.cached(reportKey(rb.step, 'g', string(grid)), func() ([]superior, int, error) {
		return gridLeaders(rb.tx, grid, maxCommandReports)
	})
	rb.grids[grid] = ps
	return ps, err
}

// regionPeople is regionLeaders of reg, read from the roster once a step.
func (rb *reportBook) regionPeople(reg plans.Region) ([]superior, error) {
	if ps, ok := rb.ups[reg.Code]; ok {
		return ps, nil
	}
	ps, err := rb.cached(reportKey(rb.step, 'a', string(reg.Code)), func() ([]superior, int, error) {
		return regionLeaders(rb.tx, reg)
	})
	rb.ups[reg.Code] = ps
	return ps, err
}

// name keeps that the report to boss names person (failed: taken as not
// reached by SMS), who came to boss by route.
func (rb *reportBook) name(boss superior, route byte, person plans.PersonID, failed bool) error {
	if m := (metaKey{boss.ID, route}); !rb.metas[m] {
		rb.metas[m] = true
		key := reportKey(rb.step, 'r', string(boss.ID), "")
		var to reportTo
		if v := rb.b.Get(key); v != nil {
			if err := json.Unmarshal(v, &to); err != nil {
				return err
			}
		}
		at := &to.Roster
		if route == routeCommand {
			at = &to.Command
		}
		if *at == nil {
			*at = &boss
			v, _ := json.Marshal(to)
			if err := rb.b.Put(key, v); err != nil {
				return err
			}
		}
	}
	return rb.b.Put(reportKey(rb.step, 'r', string(boss.ID), string(person)), []byte{flagOf(failed), route})
}

func flagOf(failed bool) byte {
	if failed {
		return 1
	}
	return 0
}

// take finds the superiors of r, silent in the step (failed: taken as not
// reached by SMS), as superiorReports does: the 网格长 of r's grid, else,
// once command is known (all maxCommandReports of it, or final), the
// command slot's, else the nearest region above with someone; and keeps r
// in each one's report, reporting whether it did. A person the step
// cannot place yet waits (kind 'p') for the command slot to be known; one
// it reaches no one for is noted by noOne.
func (rb *reportBook) take(r Recipient, failed bool, command []superior, final bool, noOne func() error) (bool, error) {
	bosses, err := rb.gridLeaders(r.Grid)
	if err != nil {
		return false, err
	}
	if len(bosses) > 0 && !slices.ContainsFunc(bosses, func(p superior) bool { return p.ID == r.Person }) {
		for _, boss := range bosses {
			if err := rb.name(boss, routeRoster, r.Person, failed); err != nil {
				return false, err
			}
		}
		return true, nil
	}
	if !final && len(command) < maxCommandReports {
		return false, rb.b.Put(reportKey(rb.step, 'p', string(r.Person)), []byte{flagOf(failed)})
	}
	told := false
	for _, c := range command {
		if c.ID != r.Person {
			if err := rb.name(c, routeCommand, r.Person, failed); err != nil {
				return false, err
			}
			told = true
		}
	}
	if told {
		return true, nil
	}
	above, err := leadersAbove(rb.tx, r.Grid, r.Person, rb.regionPeople)
	if err != nil {
		return false, err
	}
	for _, boss := range above {
		if err := rb.name(boss, routeRoster, r.Person, failed); err != nil {
			return false, err
		}
	}
	if len(above) == 0 {
		return false, noOne()
	}
	return true, nil
}

// escalate moves r, which a report of the step will name, to escalated
// when it is silent (not if the SMS did not reach them: failed): now, in
// the recipients' order, not when the report is written, superior by
// superior, which would rewrite the recipients all over their bucket in
// every entry. Whoever answers before the report stays answered and is
// left out of it, as before.
func (s *stepper) escalate(r Recipient, failed bool) error {
	if failed || !silent(r.State) {
		return nil
	}
	return s.at.move(r, StateEscalated)
}

// first returns the first key of the step's kind (after the kind) and its
// value; nil when there is none.
func (rb *reportBook) first(kind byte) (rest, v []byte) {
	prefix := reportKey(rb.step, kind)
	k, v := rb.b.Cursor().Seek(prefix)
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return nil, nil
	}
	return k[len(prefix):], v
}

// reportChunk goes on with superior step i, whose recipients have all been
// looked at, from p: it gives the people waiting for the command slot
// their superiors (phaseAssign), then writes the reports one superior at a
// time (phaseReport), then drops the step's caches (phaseClean), until it
// has looked at about budget people (a superior's report is written
// whole). It reports whether the step is done.
//
// As finish does for a step in one entry, each report names those of its
// people who have not answered by now, those the step took as not reached
// by SMS marked; those a report names are reached for, and the silent
// among them escalated (most were when taken: see escalate); those it
// reached no one for are noted.
func (s *stepper) reportChunk(i int, p *fireProgress, budget int) (bool, error) {
	rb, err := openReportBook(s.tx, s.at, i)
	if err != nil {
		return false, err
	}
	defer func() { s.out.Looked += rb.Looked }()
	rules := s.reportRules()
	noOne := func(person plans.PersonID) func() error {
		return func() error { return s.reachedNoOne(i, person) }
	}
	for budget > rb.Looked {
		switch p.Phase {
		case phaseAssign:
			rest, v := rb.first('p')
			if rest == nil {
				p.Phase = phaseReport
				continue
			}
			person, failed := plans.PersonID(rest), len(v) == 1 && v[0] == 1
			if err := rb.b.Delete(reportKey(i, 'p', string(person))); err != nil {
				return false, err
			}
			rb.Looked++
			r, err := s.at.record(person)
			if err != nil {
				return false, err
			}
			if !answered(r.State) {
				told, err := rb.take(r, failed, p.Command, true, noOne(person))
				if err != nil {
					return false, err
				}
				if told {
					if err := s.escalate(r, failed || r.State == StateFailed); err != nil {
						return false, err
					}
				}
			}
			p.After = person
		case phaseReport:
			rest, _ := rb.first('r')
			if rest == nil {
				p.Phase = phaseClean
				continue
			}
			boss := plans.PersonID(rest[:bytes.IndexByte(rest, 0)])
			n, err := s.report(i, rb, boss, rules)
			if err != nil {
				return false, err
			}
			rb.Looked += n
			p.After = boss
		default: // phaseClean
			prefix := escStepKey(i)
			var keys [][]byte
			c := rb.b.Cursor()
			k, _ := c.Seek(prefix)
			for ; k != nil && bytes.HasPrefix(k, prefix) && len(keys) < budget-rb.Looked; k, _ = c.Next() {
				keys = append(keys, slices.Clone(k))
			}
			more := k != nil && bytes.HasPrefix(k, prefix)
			for _, k := range keys {
				if err := rb.b.Delete(k); err != nil {
					return false, err
				}
			}
			rb.Looked += len(keys)
			if !more {
				if k, _ := rb.b.Cursor().First(); k == nil {
					return true, s.at.ad.DeleteBucket(bEscReport) // no other step's either
				}
				return true, nil
			}
		}
	}
	return false, nil
}

// record reads one recipient, without its attempt record.
func (at *actTx) record(person plans.PersonID) (Recipient, error) {
	v := get(at.rc, []byte(person))
	if v == nil {
		return Recipient{}, muster.Errorf(muster.ENotFound, "person %s is not a recipient of activation %s", person, at.a.ID)
	}
	r, err := decodeRecipient([]byte(person), v)
	if err != nil {
		return r, fmt.Errorf("recipient %s of %s: %w", person, at.a.ID, err)
	}
	return r, nil
}

// answered reports whether a recipient in state s has answered the
// call-up: a report leaves them out.
func answered(s State) bool { return s == StateAcked || s == StateDeclined }

// report writes superior step i's report to boss from rb, as
// superiorReports and finish would for the people it names who have not
// answered, and drops it from rb. It returns how many people it looked at.
func (s *stepper) report(i int, rb *reportBook, boss plans.PersonID, rules reportRules) (int, error) {
	prefix := reportKey(i, 'r', string(boss), "")
	var to reportTo
	if err := json.Unmarshal(rb.b.Get(prefix), &to); err != nil {
		return 0, fmt.Errorf("escalation step %d report to %s: %w", i, boss, err)
	}
	type named struct {
		r      Recipient
		failed bool
	}
	var people []named
	var keys [][]byte
	var it EscalationItem
	var names []string
	c := rb.b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		keys = append(keys, slices.Clone(k))
		if len(k) == len(prefix) || len(v) != 2 {
			continue // the superior's records
		}
		person := plans.PersonID(k[len(prefix):])
		r, err := s.at.record(person)
		if err != nil {
			return 0, err
		}
		if answered(r.State) {
			continue
		}
		failed := v[0] == 1 || r.State == StateFailed
		if len(people) == 0 { // the first named says whose record the report takes
			sup := to.Roster
			if v[1] == routeCommand {
				sup = to.Command
			}
			if sup == nil {
				return 0, fmt.Errorf("escalation step %d report to %s: no record for route %q", i, boss, v[1])
			}
			it = EscalationItem{Person: sup.ID, Name: sup.Name, Phone: sup.Phone, Language: sup.Language}
		}
		people = append(people, named{r, failed})
		it.About = append(it.About, person)
		shown := r
		if failed {
			shown.State = StateFailed
		}
		names = append(names, reportName(shown, rules, it.Language))
	}
	for _, k := range keys {
		if err := rb.b.Delete(k); err != nil {
			return 0, err
		}
	}
	if len(people) == 0 {
		return len(keys), nil
	}
	for _, part := range reportParts(s.at.a, it, names, rules.noReply, rules.english && it.Language == plans.LangEN) {
		part.Step, part.Action, part.Channel = i, plans.EscalateSuperior, ChannelSMS
		part.Seq = nextSeq(s.queue, i, part.Person)
		if err := s.put(part); err != nil {
			return 0, err
		}
	}
	for _, n := range people {
		if err := s.reachedFor(n.r.Person); err != nil {
			return 0, err
		}
		// As read above (take escalated most of them already, and a
		// report before this one may have); not if the SMS did not reach
		// them: they stay failed.
		if !n.failed && silent(n.r.State) {
			if err := s.at.move(n.r, StateEscalated); err != nil {
				return 0, err
			}
		}
	}
	return len(keys), nil
}
