package plans

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"muster"
)

// Read helpers for code that runs inside another package's ApplyFunc (or in a
// read transaction). They read only the transaction they are given, in key
// order, so they are deterministic.

// GetRegion reads one region; ok is false if it does not exist.
func GetRegion(tx *bolt.Tx, code RegionCode) (r Region, ok bool, err error) {
	return getRegion(tx, code)
}

// RegionPath returns the region with the given code and every region above
// it, the region itself first and the city last. A missing region is an
// EInvalid error naming it.
func RegionPath(tx *bolt.Tx, code RegionCode) ([]Region, error) {
	return NewRegionReader(tx).Path(code)
}

// RegionReader reads regions from one transaction, each at most once: the
// paths of many grids read the districts, streets and communities they
// share once, not once per grid.
type RegionReader struct {
	tx   *bolt.Tx
	read map[RegionCode]Region // a missing region is kept with an empty Code
}

// NewRegionReader reads regions from tx, which must outlive it.
func NewRegionReader(tx *bolt.Tx) *RegionReader {
	return &RegionReader{tx: tx, read: map[RegionCode]Region{}}
}

// get reads one region; ok is false if it does not exist.
func (rr *RegionReader) get(code RegionCode) (Region, bool, error) {
	if r, ok := rr.read[code]; ok {
		return r, r.Code != "", nil
	}
	r, ok, err := getRegion(rr.tx, code)
	if err != nil {
		return r, false, err
	}
	if !ok {
		r = Region{}
	}
	rr.read[code] = r
	return r, ok, nil
}

// Path is RegionPath, read through rr.
func (rr *RegionReader) Path(code RegionCode) ([]Region, error) {
	var path []Region
	for c := code; c != ""; {
		r, ok, err := rr.get(c)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, muster.Errorf(muster.EInvalid, "region %s does not exist", c)
		}
		path = append(path, r)
		if len(path) > len(regionKinds) {
			return nil, fmt.Errorf("region %s: parent chain longer than the tree", code)
		}
		c = r.Parent
	}
	return path, nil
}

// Within reports whether region code is of or lies under it; false when
// code is not in the tree.
func (rr *RegionReader) Within(code, of RegionCode) bool {
	path, err := rr.Path(code)
	return err == nil && slices.ContainsFunc(path, func(r Region) bool { return r.Code == of })
}

// RegionPrefix is the code prefix shared by the grids under r (and r's own
// code for anything below a city): every grid under r, and only those, has a
// code starting with it.
func RegionPrefix(r Region) string { return regionPrefix(r) }

// GetPlanVersion reads version v of a plan (v ≤ 0: the latest). An unknown
// plan or version is an ENotFound error.
func GetPlanVersion(tx *bolt.Tx, id PlanID, v int) (PlanVersion, error) {
	return getPlanVersion(tx, id, v)
}

// LatestPlanVersion is the number of a plan's latest version, read from its
// summary without decoding the version. An unknown plan is ENotFound.
func LatestPlanVersion(tx *bolt.Tx, id PlanID) (int, error) {
	var sum PlanSummary
	ok, err := getJSON(tx.Bucket(bPlans), string(id), &sum)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, muster.Errorf(muster.ENotFound, "plan %s does not exist", id)
	}
	return sum.Version, nil
}

// ForEachPlan calls fn with the latest version of every plan, in plan ID
// order, reading only tx (deterministic inside an ApplyFunc as in a read).
// An error from fn stops the walk and is returned.
func ForEachPlan(tx *bolt.Tx, fn func(pv PlanVersion) error) error {
	b := tx.Bucket(bPlans)
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, _ []byte) error {
		pv, err := getPlanVersion(tx, PlanID(k), 0)
		if err != nil {
			return fmt.Errorf("read plan %s: %w", k, err)
		}
		return fn(pv)
	})
}

// GetPerson reads one person; ok is false if they do not exist.
func GetPerson(tx *bolt.Tx, id PersonID) (Person, bool, error) { return getPerson(tx, id) }

// ForEachPersonUnder calls fn for every person whose grid lies under region
// (or is it), in grid code order and by person ID within a grid. fn must not
// keep p's address: the Person is reused between calls (its strings and
// slices are not, so copying fields out is safe). An error from fn stops the
// scan and is returned.
func ForEachPersonUnder(tx *bolt.Tx, region Region, fn func(p *Person) error) error {
	gb, pb := tx.Bucket(bPeopleByGrid), tx.Bucket(bPeople)
	if gb == nil || pb == nil {
		return nil
	}
	prefix := []byte(regionPrefix(region))
	var p Person
	cur := gb.Cursor()
	for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
		id := k[bytes.IndexByte(k, '/')+1:]
		data := pb.Get(id)
		if data == nil {
			return fmt.Errorf("people_by_grid names person %s, who does not exist", id)
		}
		if err := decodePerson(data, &p); err != nil {
			return fmt.Errorf("decode person %s: %w", id, err)
		}
		if err := fn(&p); err != nil {
			return err
		}
	}
	return nil
}

// decodePerson decodes a stored person. The records are written by
// json.Marshal, so a small parser for exactly that shape (an object of string
// and string-array fields, no escapes) handles nearly all of them several
// times faster than encoding/json; anything else goes to encoding/json.
func decodePerson(data []byte, p *Person) error {
	*p = Person{}
	if decodePersonFast(data, p) {
		return nil
	}
	*p = Person{}
	return json.Unmarshal(data, p)
}

func decodePersonFast(b []byte, p *Person) bool {
	i := 0
	if len(b) < 2 || b[0] != '{' {
		return false
	}
	i = 1
	str := func() (string, bool) {
		if i >= len(b) || b[i] != '"' {
			return "", false
		}
		j := i + 1
		for j < len(b) && b[j] != '"' {
			if b[j] == '\\' || b[j] < 0x20 {
				return "", false
			}
			j++
		}
		if j >= len(b) {
			return "", false
		}
		s := b[i+1 : j]
		if !utf8.Valid(s) {
			return "", false
		}
		i = j + 1
		return string(s), true
	}
	list := func() ([]string, bool) {
		if i < len(b) && b[i] == 'n' && bytes.HasPrefix(b[i:], []byte("null")) {
			i += 4
			return nil, true
		}
		if i >= len(b) || b[i] != '[' {
			return nil, false
		}
		i++
		var out []string
		if i < len(b) && b[i] == ']' {
			i++
			return []string{}, true
		}
		for {
			s, ok := str()
			if !ok {
				return nil, false
			}
			out = append(out, s)
			if i >= len(b) {
				return nil, false
			}
			if b[i] == ']' {
				i++
				return out, true
			}
			if b[i] != ',' {
				return nil, false
			}
			i++
		}
	}
	if b[i] == '}' {
		return i+1 == len(b)
	}
	for {
		key, ok := str()
		if !ok || i >= len(b) || b[i] != ':' {
			return false
		}
		i++
		var s string
		switch key {
		case "phones", "tags", "teams":
			l, ok := list()
			if !ok {
				return false
			}
			switch key {
			case "phones":
				p.Phones = l
			case "tags":
				p.Tags = l
			default:
				p.Teams = l
			}
		case "id", "external_id", "name", "grid", "category", "backup", "language":
			if s, ok = str(); !ok {
				return false
			}
			switch key {
			case "id":
				p.ID = PersonID(s)
			case "external_id":
				p.ExternalID = s
			case "name":
				p.Name = s
			case "grid":
				p.Grid = RegionCode(s)
			case "category":
				p.Category = Category(s)
			case "backup":
				p.Backup = PersonID(s)
			default:
				p.Language = Language(s)
			}
		default:
			return false
		}
		if i >= len(b) {
			return false
		}
		if b[i] == '}' {
			return i+1 == len(b)
		}
		if b[i] != ',' {
			return false
		}
		i++
	}
}

// PersonRecord is one person as ForEachPerson reads them from the roster,
// decoded only as far as deriving a call-up needs. The fields selectors test,
// and the language, are strings shared by every person with the same value
// (treat Tags and Teams as read-only). The fields unique to a person are the
// stored record's bytes: they are valid only until fn returns, so copy what
// you keep.
type PersonRecord struct {
	ID     []byte
	Name   []byte
	Phone  []byte // the first phone, the one called first; nil when there is none
	Backup []byte

	Grid     RegionCode
	Category Category
	Language Language
	Tags     []string
	Teams    []string

	raw []byte
}

// Traits returns the grid, category, tags, teams and language as a Person
// with nothing else set: everything Selector.Match looks at.
func (r *PersonRecord) Traits() Person {
	return Person{Grid: r.Grid, Category: r.Category, Tags: r.Tags, Teams: r.Teams, Language: r.Language}
}

// Person decodes the whole stored record into a Person of its own.
func (r *PersonRecord) Person() (Person, error) {
	var p Person
	err := decodePerson(r.raw, &p)
	return p, err
}

// ForEachPerson calls fn, in person ID order, for every person whose grid
// keep accepts. keep sees only the grid and runs before the record is
// decoded, so skipping most of a large roster is cheap. fn must not keep r's
// address or its byte fields: the record is reused between calls and the
// bytes belong to the transaction. A scan of a million people allocates
// next to nothing: shared values are allocated once per scan. An error from
// fn stops the scan and is returned.
func ForEachPerson(tx *bolt.Tx, keep func(grid RegionCode) bool, fn func(r *PersonRecord) error) error {
	pb := tx.Bucket(bPeople)
	if pb == nil {
		return nil
	}
	var (
		r  PersonRecord
		sc = scanner{strs: map[string]string{}, lists: map[string][]string{}}
	)
	cur := pb.Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		kept, ok := sc.read(v, keep, &r)
		if !ok {
			var p Person
			if err := decodePerson(v, &p); err != nil {
				return fmt.Errorf("decode person %s: %w", k, err)
			}
			r.fill(v, &p)
			kept = keep(r.Grid)
		}
		if !kept {
			continue
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	return nil
}

// fill sets r from a person decoded the slow way.
func (r *PersonRecord) fill(raw []byte, p *Person) {
	*r = PersonRecord{ID: []byte(p.ID), Name: []byte(p.Name), Backup: []byte(p.Backup), Grid: p.Grid,
		Category: p.Category, Language: p.Language, Tags: p.Tags, Teams: p.Teams, raw: raw}
	if len(p.Phones) > 0 {
		r.Phone = []byte(p.Phones[0])
	}
}

// scanner reads stored people for ForEachPerson. It hands out one string per
// distinct grid, category, language and tag list met in a scan, so those
// are allocated and checked for UTF-8 once, not once per person; the last
// value of each field is remembered, as neighbours often share it.
type scanner struct {
	strs  map[string]string
	lists map[string][]string // by the array's JSON

	grid, category, language string
	tags, teams              listMemo
}

type listMemo struct {
	raw  string
	list []string
}

// read decodes b into r the way decodePersonFast does (an object of plain
// string and string-array fields, as json.Marshal writes them), checking the
// grid with keep before the rest. ok is false for anything it does not
// handle, which the caller then decodes with encoding/json; kept is keep's
// answer. Every string handed out is valid UTF-8, as with encoding/json.
func (sc *scanner) read(b []byte, keep func(RegionCode) bool, r *PersonRecord) (kept, ok bool) {
	var f rawFields
	if !f.parse(b) {
		return false, false
	}
	grid, ok := sc.str(f.grid, &sc.grid)
	if !ok {
		return false, false
	}
	if !keep(RegionCode(grid)) {
		return false, true
	}
	for _, s := range [...][]byte{f.id, f.name, f.backup, f.phone} {
		if !utf8.Valid(s) {
			return false, false
		}
	}
	*r = PersonRecord{ID: f.id, Name: f.name, Phone: f.phone, Backup: f.backup, Grid: RegionCode(grid), raw: b}
	cat, ok1 := sc.str(f.category, &sc.category)
	lang, ok2 := sc.str(f.language, &sc.language)
	tags, ok3 := sc.list(f.tags, &sc.tags)
	teams, ok4 := sc.list(f.teams, &sc.teams)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return false, false
	}
	r.Category, r.Language, r.Tags, r.Teams = Category(cat), Language(lang), tags, teams
	return true, true
}

func (sc *scanner) str(b []byte, last *string) (string, bool) {
	if *last == string(b) {
		return *last, true
	}
	s, ok := sc.strs[string(b)]
	if !ok {
		if !utf8.Valid(b) {
			return "", false
		}
		s = string(b)
		sc.strs[s] = s
	}
	*last = s
	return s, true
}

// list interns the array of plain strings whose JSON is raw (as checked by
// recordDecoder.list); null or nothing is nil.
func (sc *scanner) list(raw []byte, last *listMemo) ([]string, bool) {
	if raw == nil || string(raw) == "null" {
		return nil, true
	}
	if last.raw == string(raw) {
		return last.list, true
	}
	l, ok := sc.lists[string(raw)]
	if !ok {
		l = []string{}
		d := recordDecoder{b: raw}
		var none string
		ok := d.list(func(s []byte) bool {
			v, ok := sc.str(s, &none)
			l = append(l, v)
			return ok
		})
		if !ok {
			return nil, false
		}
		sc.lists[string(raw)] = l
	}
	last.raw, last.list = string(raw), l
	return l, true
}

// rawFields are the bytes of a stored person's fields, unchecked for UTF-8:
// strings without their quotes, tags and teams as their JSON.
type rawFields struct {
	id, name, backup, phone  []byte
	grid, category, language []byte
	tags, teams              []byte
}

// parse splits b, an object of plain string and string-array fields (no
// escapes, the known fields only), into its fields.
func (f *rawFields) parse(b []byte) bool {
	if len(b) < 2 || b[0] != '{' {
		return false
	}
	d := recordDecoder{b: b, i: 1}
	if b[1] == '}' {
		return len(b) == 2
	}
	for {
		key, ok := d.str()
		if !ok || !d.skip(':') {
			return false
		}
		switch string(key) {
		case "phones":
			f.phone = nil
			first := true
			ok = d.list(func(s []byte) bool {
				if first {
					f.phone, first = s, false
				}
				return true
			})
		case "tags", "teams":
			start := d.i
			ok = d.list(nil)
			if string(key) == "tags" {
				f.tags = b[start:d.i]
			} else {
				f.teams = b[start:d.i]
			}
		default:
			var s []byte
			s, ok = d.str()
			switch string(key) {
			case "id":
				f.id = s
			case "name":
				f.name = s
			case "backup":
				f.backup = s
			case "grid":
				f.grid = s
			case "category":
				f.category = s
			case "language":
				f.language = s
			case "external_id":
			default:
				return false
			}
		}
		if !ok || d.i >= len(b) {
			return false
		}
		if b[d.i] == '}' {
			return d.i+1 == len(b)
		}
		if b[d.i] != ',' {
			return false
		}
		d.i++
	}
}

// recordDecoder reads the plain JSON of a stored person: strings without
// escapes or control characters, arrays of them, and null.
type recordDecoder struct {
	b []byte
	i int
}

func (d *recordDecoder) skip(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// stringEnd marks the bytes that end a plain string: its closing quote, or
// an escape or control character, which the plain reader does not handle.
var stringEnd = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// str reads a string and returns its bytes, unchecked for UTF-8.
func (d *recordDecoder) str() ([]byte, bool) {
	if !d.skip('"') {
		return nil, false
	}
	j := d.i
	for j < len(d.b) && !stringEnd[d.b[j]] {
		j++
	}
	if j >= len(d.b) || d.b[j] != '"' {
		return nil, false
	}
	s := d.b[d.i:j]
	d.i = j + 1
	return s, true
}

// list reads an array of strings or null, calling each (when not nil) for
// every element; each returning false fails the read.
func (d *recordDecoder) list(each func(s []byte) bool) bool {
	if bytes.HasPrefix(d.b[d.i:], []byte("null")) {
		d.i += 4
		return true
	}
	if !d.skip('[') {
		return false
	}
	if d.skip(']') {
		return true
	}
	for {
		s, ok := d.str()
		if !ok || (each != nil && !each(s)) {
			return false
		}
		if d.skip(']') {
			return true
		}
		if !d.skip(',') {
			return false
		}
	}
}

var gridField = []byte(`"grid":"`)

// rawGrid finds the grid in a stored person without decoding it. A quote
// inside a JSON string is always escaped, so the field name cannot be faked
// by a value; ok is false when the field is missing or escaped.
func rawGrid(v []byte) (string, bool) {
	i := bytes.Index(v, gridField)
	if i < 0 {
		return "", false
	}
	rest := v[i+len(gridField):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || bytes.IndexByte(rest[:j], '\\') >= 0 {
		return "", false
	}
	return string(rest[:j]), true
}

// PersonByPhone returns the ID of the person with the E.164 phone number, ""
// if no one in the roster has it.
func PersonByPhone(tx *bolt.Tx, phone string) PersonID {
	return PersonID(getString(tx.Bucket(bPeopleByPhone), phone))
}

// FormerPersonByPhone returns the ID of the person who last had the phone
// and no longer does (their number changed, or they were deleted), ""
// if none is known. Only changes under rules 5 or later are known.
func FormerPersonByPhone(tx *bolt.Tx, phone string) PersonID {
	return PersonID(getString(tx.Bucket(bPeopleFormerPhone), phone))
}
