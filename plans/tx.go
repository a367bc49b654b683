package plans

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	var path []Region
	for c := code; c != ""; {
		r, ok, err := getRegion(tx, c)
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

// RegionPrefix is the code prefix shared by the grids under r (and r's own
// code for anything below a city): every grid under r, and only those, has a
// code starting with it.
func RegionPrefix(r Region) string { return regionPrefix(r) }

// GetPlanVersion reads version v of a plan (v ≤ 0: the latest). An unknown
// plan or version is an ENotFound error.
func GetPlanVersion(tx *bolt.Tx, id PlanID, v int) (PlanVersion, error) {
	return getPlanVersion(tx, id, v)
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

// ForEachPerson calls fn, in person ID order, for every person whose grid
// keep accepts. keep sees only the grid and runs before the record is fully
// decoded, so skipping most of a large roster is cheap. fn must not keep p's
// address: the Person is reused between calls (its strings and slices are
// not). An error from fn stops the scan and is returned.
func ForEachPerson(tx *bolt.Tx, keep func(grid RegionCode) bool, fn func(p *Person) error) error {
	pb := tx.Bucket(bPeople)
	if pb == nil {
		return nil
	}
	var p Person
	cur := pb.Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if g, ok := rawGrid(v); ok && !keep(RegionCode(g)) {
			continue
		}
		if err := decodePerson(v, &p); err != nil {
			return fmt.Errorf("decode person %s: %w", k, err)
		}
		if !keep(p.Grid) {
			continue
		}
		if err := fn(&p); err != nil {
			return err
		}
	}
	return nil
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
