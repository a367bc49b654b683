package notify

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"

	"muster/plans"
)

// State is where a recipient is in the call-up.
type State string

// Recipient states. Applying an activation writes every recipient as
// pending; the dispatcher and inbound replies move them on.
const (
	StatePending   State = "pending"   // not yet sent
	StateSending   State = "sending"   // claimed by the dispatcher, provider call in flight
	StateSent      State = "sent"      // accepted by the provider
	StateDelivered State = "delivered" // handset confirmed
	StateAcked     State = "acked"     // answered 1 / 到
	StateDeclined  State = "declined"  // answered 2, with a reason
	StateFailed    State = "failed"    // permanent delivery failure
	StateEscalated State = "escalated" // silence handed to the next escalation step
	StateExpired   State = "expired"   // deadline passed with no answer and nothing left to try
	// StateCancelled: taken off an open call-up by an operator (rules 13,
	// recipient.cancel); nothing more of it is sent to them.
	StateCancelled State = "cancelled"
)

// States lists every recipient state; a state's position is its code in the
// stored record, so the list is only ever appended to.
func States() []State {
	return []State{StatePending, StateSending, StateSent, StateDelivered, StateAcked, StateDeclined, StateFailed, StateEscalated, StateExpired, StateCancelled}
}

func (s State) code() (byte, bool) {
	i := slices.Index(States(), s)
	return byte(i), i >= 0
}

func stateOf(code byte) State {
	if st := States(); int(code) < len(st) {
		return st[code]
	}
	return State(fmt.Sprintf("unknown(%d)", code))
}

// ParseState accepts a state name.
func ParseState(s string) (State, error) {
	st := State(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := st.code(); !ok {
		return "", invalidf("state %q: want one of pending, sending, sent, delivered, acked, declined, failed, escalated, expired, cancelled", s)
	}
	return st, nil
}

// Recipient is one person called up by an activation: a copy, taken when the
// activation was applied, of what the dispatcher needs, so later roster edits
// do not change a running call-up. The phone is the exception: a send not
// yet made goes to the person's phone in the roster when it is made.
type Recipient struct {
	Person plans.PersonID `json:"person"`
	State  State          `json:"state"`
	Roles  []int          `json:"roles"` // indices into the level's role slots (RoleSlots), ascending
	// Phone (E.164) is the person's first phone when the activation was
	// applied or, once the call-up SMS went to another (the phone was
	// corrected meanwhile; rules 9), that number.
	Phone    string           `json:"phone"`
	Name     string           `json:"name"`
	Language plans.Language   `json:"language"`
	Grid     plans.RegionCode `json:"grid"`
	Backup   plans.PersonID   `json:"backup,omitempty"`
	// BackupFor is whom the recipient stands in for when the escalation's
	// backup step called them up (rules 13), nil otherwise; filled by
	// ForEachRecipient and Service.Recipients.
	BackupFor *StandIn `json:"backup_for,omitempty"`
	// Attempt is what sending and answers did, when anything has (lists only).
	Attempt *Attempt `json:"attempt,omitempty"`
}

// recipientVersion is the first byte of a stored recipient record.
const recipientVersion byte = 1

// appendRecord encodes the recipient record of a person read by
// plans.ForEachPerson: version, state code, the role indices (count then each
// as uvarint), then phone, name, language, grid and backup, each as uvarint
// length and bytes. The state is always the second byte, so a transition
// rewrites one byte.
func appendRecord(b []byte, state byte, roles []uint16, r *plans.PersonRecord) []byte {
	b = append(b, recipientVersion, state)
	b = binary.AppendUvarint(b, uint64(len(roles)))
	for _, i := range roles {
		b = binary.AppendUvarint(b, uint64(i))
	}
	b = appendField(b, r.Phone)
	b = appendField(b, r.Name)
	b = appendField(b, r.Language)
	b = appendField(b, r.Grid)
	return appendField(b, r.Backup)
}

func appendField[S ~string | ~[]byte](b []byte, s S) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errBadRecord = errors.New("recipient record is truncated or of an unknown version")

// decodeRecipient decodes a stored record for person id.
func decodeRecipient(id, b []byte) (Recipient, error) {
	r := Recipient{Person: plans.PersonID(id)}
	if len(b) < 3 || b[0] != recipientVersion {
		return r, errBadRecord
	}
	r.State = stateOf(b[1])
	b = b[2:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return r, errBadRecord
	}
	b = b[k:]
	r.Roles = make([]int, n)
	for i := range r.Roles {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return r, errBadRecord
		}
		r.Roles[i], b = int(v), b[k:]
	}
	var f [5]string
	for i := range f {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return r, errBadRecord
		}
		f[i], b = string(b[k:k+int(l)]), b[k+int(l):]
	}
	r.Phone, r.Name, r.Language, r.Grid, r.Backup = f[0], f[1], plans.Language(f[2]), plans.RegionCode(f[3]), plans.PersonID(f[4])
	return r, nil
}

// withPhone returns a copy of the stored recipient record v with its phone
// set to phone.
func withPhone(v []byte, phone string) ([]byte, error) {
	if len(v) < 3 || v[0] != recipientVersion {
		return nil, errBadRecord
	}
	b := v[2:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errBadRecord
	}
	b = b[k:]
	for range n {
		if _, k = binary.Uvarint(b); k <= 0 {
			return nil, errBadRecord
		}
		b = b[k:]
	}
	start := len(v) - len(b)
	l, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < l {
		return nil, errBadRecord
	}
	end := start + k + int(l)
	out := make([]byte, 0, len(v)-(end-start)+binary.MaxVarintLen64+len(phone))
	out = appendField(append(out, v[:start]...), phone)
	return append(out, v[end:]...), nil
}

// RoleSlot is one role of an activated level, numbered across its groups in
// plan order; recipients refer to roles by Index.
type RoleSlot struct {
	Index int    `json:"index"`
	Group string `json:"group"`
	Name  string `json:"name"`
	// NameEN is the role's English name (plans.Role.NameEN), which English
	// speakers' messages say instead of Name; empty when it has none.
	NameEN  string      `json:"name_en,omitempty"`
	Reach   plans.Reach `json:"reach"`
	Count   int         `json:"count"`
	MustAck bool        `json:"must_ack,omitempty"`

	sel plans.Selector
}

// RoleSlots lists the level's roles in plan order (groups, then roles).
func RoleSlots(l *plans.Level) []RoleSlot {
	var out []RoleSlot
	for _, g := range l.Groups {
		for _, r := range g.Roles {
			reach := r.Reach
			if reach == "" {
				reach = plans.ReachActivation
			}
			out = append(out, RoleSlot{Index: len(out), Group: g.Name, Name: r.Name, NameEN: r.NameEN, Reach: reach, Count: r.Count, MustAck: r.MustAck, sel: r.Select})
		}
	}
	return out
}

// outermost returns the regions none of whose ancestors is among them,
// sorted by code: scanning them visits everyone under the set exactly once.
func outermost(tx *bolt.Tx, regions []plans.Region) ([]plans.Region, error) {
	in := map[plans.RegionCode]bool{}
	for _, r := range regions {
		in[r.Code] = true
	}
	var out []plans.Region
	for _, r := range regions {
		path, err := plans.RegionPath(tx, r.Code)
		if err != nil {
			return nil, err
		}
		covered := false
		for _, a := range path[1:] {
			if in[a.Code] {
				covered = true
				break
			}
		}
		if !covered && !slices.ContainsFunc(out, func(o plans.Region) bool { return o.Code == r.Code }) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b plans.Region) int { return strings.Compare(string(a.Code), string(b.Code)) })
	return out, nil
}

// treeUnder answers Selector.Match's question from the region tree in tx,
// caching each grid's path (there are few grids and many people).
func treeUnder(tx *bolt.Tx) func(grid, region plans.RegionCode) bool {
	paths := map[plans.RegionCode][]plans.RegionCode{}
	regions := plans.NewRegionReader(tx)
	return func(grid, region plans.RegionCode) bool {
		p, ok := paths[grid]
		if !ok {
			rs, _ := regions.Path(grid) // an unknown grid is under nothing
			for _, r := range rs {
				p = append(p, r.Code)
			}
			paths[grid] = p
		}
		return slices.Contains(p, region)
	}
}

// derive resolves the level's role slots against the roster in tx and calls
// emit once per person called up, in person ID order, with the roster's
// record (its bytes are valid only during the call, see plans.PersonRecord;
// a million people cost no allocation each) and the indices of every role
// they fill (ascending; the slice is reused between calls). Roles that reach
// the activation draw from people under regions; roles that reach the plan
// draw from people under the plan's scope. The roster is read in key order
// and nothing depends on map order, so every node derives the same list,
// already sorted for writing. Applying an activation and its preview both
// use it.
func derive(tx *bolt.Tx, plan *plans.Plan, slots []RoleSlot, regions []plans.Region, emit func(r *plans.PersonRecord, roles []uint16) error) error {
	activated, err := prefixes(tx, regions)
	if err != nil {
		return err
	}
	planReach := slices.ContainsFunc(slots, func(s RoleSlot) bool { return s.Reach == plans.ReachPlan })
	var scope []string
	if planReach {
		var rs []plans.Region
		for _, code := range plan.Scope {
			r, ok, err := plans.GetRegion(tx, code)
			if err != nil {
				return err
			}
			if ok {
				rs = append(rs, r)
			}
		}
		if scope, err = prefixes(tx, rs); err != nil {
			return err
		}
	}
	under := treeUnder(tx)
	roles := make([]uint16, 0, len(slots))
	keep := func(g plans.RegionCode) bool { return hasPrefix(g, activated) || (planReach && hasPrefix(g, scope)) }
	return plans.ForEachPerson(tx, keep, func(r *plans.PersonRecord) error {
		all := hasPrefix(r.Grid, activated)
		p := r.Traits()
		roles = roles[:0]
		for i := range slots {
			if (all || slots[i].Reach == plans.ReachPlan) && slots[i].sel.Match(p, under) {
				roles = append(roles, uint16(i))
			}
		}
		if len(roles) == 0 {
			return nil
		}
		return emit(r, roles)
	})
}

// prefixes returns the grid code prefixes of the outermost of regions: a
// grid lies under one of the regions exactly when its code has one of them.
func prefixes(tx *bolt.Tx, regions []plans.Region) ([]string, error) {
	outer, err := outermost(tx, regions)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(outer))
	for i, r := range outer {
		out[i] = plans.RegionPrefix(r)
	}
	return out, nil
}

func hasPrefix(g plans.RegionCode, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(string(g), p) {
			return true
		}
	}
	return false
}

// Counter keys in an activation's counters bucket, each holding an 8-byte
// big-endian count: state/<state>, grid/<grid>/<state>, role/<%04d index>/<state>.
// A transition of one recipient changes 2 + 2·(its roles) + 2 counters.
func stateKey(s State) []byte { return []byte("state/" + string(s)) }
func gridKey(g plans.RegionCode, s State) []byte {
	return []byte("grid/" + string(g) + "/" + string(s))
}
func roleKey(i int, s State) []byte {
	d := strconv.Itoa(i)
	k := append(make([]byte, 0, 16+len(s)), "role/"...)
	k = append(k, "000"[:max(0, 4-len(d))]...) // %04d
	return append(append(append(k, d...), '/'), s...)
}

// counterValue reads one counter of an activation: 0 when it has none.
func counterValue(b *bolt.Bucket, k string) int64 {
	if v := b.Get([]byte(k)); len(v) == 8 {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

func addCounter(b *bolt.Bucket, k []byte, delta int64) error {
	var n int64
	if v := b.Get(k); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	n += delta
	if n < 0 {
		return fmt.Errorf("counter %s would go below zero", k)
	}
	if n == 0 {
		return b.Delete(k)
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(n))
	return b.Put(k, v[:])
}

// Counters are an activation's recipient counts: by state, and by state per
// grid and per role slot (a recipient in two roles counts in both).
type Counters struct {
	Total   int           `json:"total"`
	ByState map[State]int `json:"by_state"`
	// ByGrid and AckBy are left out only when nil (never as read): an event
	// stream that sends the board leaves them to its board events.
	ByGrid map[plans.RegionCode]map[State]int `json:"by_grid,omitzero"`
	ByRole map[int]map[State]int              `json:"by_role"`
	// Dispatch counts sending work: claimed (attempts started), retried,
	// resent (claims whose outcome a leader failover lost, sent again).
	Dispatch map[string]int `json:"dispatch"`
	// AckBy counts, per grid, acknowledgements within 5, 15 and 30 minutes
	// of the activation (keys 5, 15, 30).
	AckBy map[plans.RegionCode]map[int]int `json:"ack_by,omitzero"`
}

func readCounters(b *bolt.Bucket) (Counters, error) {
	c := Counters{ByState: map[State]int{}, ByGrid: map[plans.RegionCode]map[State]int{}, ByRole: map[int]map[State]int{},
		Dispatch: map[string]int{}, AckBy: map[plans.RegionCode]map[int]int{}}
	if b == nil {
		return c, nil
	}
	// The counters are read on every status, board and live-event poll:
	// keys are split in place, and each region and state name is made a
	// string once.
	names := map[string]string{}
	name := func(raw []byte) string {
		if s, ok := names[string(raw)]; ok {
			return s
		}
		s := string(raw)
		names[s] = s
		return s
	}
	err := b.ForEach(func(k, v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("counter %s: bad value", k)
		}
		n := int(binary.BigEndian.Uint64(v))
		kind, rest, two := bytes.Cut(k, []byte("/"))
		mid, last, three := bytes.Cut(rest, []byte("/"))
		if !two || (three && bytes.IndexByte(last, '/') >= 0) {
			return fmt.Errorf("unknown counter %s", k)
		}
		switch {
		case string(kind) == "state" && !three:
			c.ByState[State(name(rest))] = n
			c.Total += n
		case string(kind) == "grid" && three:
			g := plans.RegionCode(name(mid))
			if c.ByGrid[g] == nil {
				c.ByGrid[g] = map[State]int{}
			}
			c.ByGrid[g][State(name(last))] = n
		case string(kind) == "role" && three:
			i, err := strconv.Atoi(string(mid))
			if err != nil {
				return fmt.Errorf("counter %s: %w", k, err)
			}
			if c.ByRole[i] == nil {
				c.ByRole[i] = map[State]int{}
			}
			c.ByRole[i][State(name(last))] = n
		case string(kind) == "dispatch" && !three:
			c.Dispatch[name(rest)] = n
		case string(kind) == "ackby" && three:
			m, err := strconv.Atoi(string(last))
			if err != nil {
				return fmt.Errorf("counter %s: %w", k, err)
			}
			g := plans.RegionCode(name(mid))
			if c.AckBy[g] == nil {
				c.AckBy[g] = map[int]int{}
			}
			c.AckBy[g][m] = n
		default:
			return fmt.Errorf("unknown counter %s", k)
		}
		return nil
	})
	return c, err
}

// ForEachRecipient calls fn for every recipient of activation id in person
// ID order, with its attempt record when it has one (Attempt is nil for a
// recipient nothing was tried for) and whom it stands in for (BackupFor).
// It reads inside tx, so a report over a large call-up sees one
// consistent state. An unknown activation is ENotFound; an error from fn
// stops the walk and is returned.
func ForEachRecipient(tx *bolt.Tx, id plans.ActivationID, fn func(r *Recipient) error) error {
	if _, err := getActivation(tx, id); err != nil {
		return err
	}
	ad := activationData(tx, id)
	if ad == nil {
		return nil // waiting for approval, or rejected: nobody was called
	}
	// Attempts are keyed by person like the recipients: walk both in step
	// instead of looking each attempt up.
	var ac *bolt.Cursor
	var ak, av []byte
	if b := ad.Bucket(bAttempts); b != nil {
		ac = b.Cursor()
		ak, av = ac.First()
	}
	cur := ad.Bucket(bRecipients).Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		r, err := decodeRecipient(k, v)
		if err != nil {
			return err
		}
		for ak != nil && bytes.Compare(ak, k) < 0 {
			ak, av = ac.Next()
		}
		if ak != nil && bytes.Equal(ak, k) {
			var att Attempt
			if err := decodeAttempt(av, &att); err != nil {
				return fmt.Errorf("attempt of %s: %w", k, err)
			}
			r.Attempt = &att
		}
		if r.BackupFor, err = standInOf(ad, r.Person); err != nil {
			return err
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	return nil
}
