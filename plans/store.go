package plans

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"muster"
)

// Buckets of the state file owned by plans. Keys are chosen so that a prefix
// scan answers the common questions: people in a region are a prefix scan of
// peopleByGrid, because every grid code starts with the codes of the regions
// above it.
var (
	bRegions        = []byte("regions")         // code → Region
	bRegionChildren = []byte("region_children") // parent/child → nil
	bPeople         = []byte("people")          // id → Person
	bPeopleByPhone  = []byte("people_by_phone") // E.164 → id
	bPeopleByExt    = []byte("people_by_ext")   // external id → id
	bPeopleByGrid   = []byte("people_by_grid")  // grid/id → nil
	// E.164 → id of the person who last had it, kept when they no longer do
	// (rulesFormerPhones)
	bPeopleFormerPhone = []byte("people_former_phone")
	bPlans             = []byte("plans")          // plan id → PlanSummary
	bPlanVersions      = []byte("plan_versions")  // plan id/%08d → PlanVersion
	bImports           = []byte("imports")        // import id → importState
	bImportBatches     = []byte("import_batches") // import id/%08d → importRows payload
)

// Command types owned by plans.
const (
	CmdRegionUpsert = "region.upsert"
	CmdPersonCreate = "person.create"
	CmdPersonUpdate = "person.update"
	CmdPersonDelete = "person.delete"
	CmdImportBegin  = "import.begin"
	CmdImportRows   = "import.rows"
	CmdImportCommit = "import.commit"
	CmdImportAbort  = "import.abort"
	CmdPlanPut      = "plan.put"
)

// Registrar is where plans registers its apply functions (cluster.Node).
type Registrar interface {
	Handle(cmdType string, fn muster.ApplyFunc)
}

// Register installs every plans command in the FSM.
func Register(r Registrar) {
	r.Handle(CmdRegionUpsert, applyRegionUpsert)
	r.Handle(CmdPersonCreate, applyPersonCreate)
	r.Handle(CmdPersonUpdate, applyPersonUpdate)
	r.Handle(CmdPersonDelete, applyPersonDelete)
	r.Handle(CmdImportBegin, applyImportBegin)
	r.Handle(CmdImportRows, applyImportRows)
	r.Handle(CmdImportCommit, applyImportCommit)
	r.Handle(CmdImportAbort, applyImportAbort)
	r.Handle(CmdPlanPut, applyPlanPut)
	r.Handle(CmdWarningIssue, applyWarningIssue)
	r.Handle(CmdWarningLift, applyWarningLift)
	r.Handle(CmdRecoveryEnd, applyRecoveryEnd)
}

func bucket(tx *bolt.Tx, name []byte) *bolt.Bucket {
	if tx.Writable() {
		b, err := tx.CreateBucketIfNotExists(name)
		if err != nil {
			panic(fmt.Sprintf("plans: create bucket %s: %v", name, err))
		}
		return b
	}
	return tx.Bucket(name) // nil when nothing was ever written: callers treat it as empty
}

func getJSON(b *bolt.Bucket, key string, v any) (bool, error) {
	if b == nil {
		return false, nil
	}
	data := b.Get([]byte(key))
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("decode %s: %w", key, err)
	}
	return true, nil
}

func putJSON(b *bolt.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), data)
}

func getString(b *bolt.Bucket, key string) string {
	if b == nil {
		return ""
	}
	return string(b.Get([]byte(key)))
}

// regionPrefix is the code prefix shared by a region and everything under it:
// a city's districts replace its trailing 00 (990100 → 9901xx).
func regionPrefix(r Region) string {
	if r.Kind == KindCity {
		return strings.TrimSuffix(string(r.Code), "00")
	}
	return string(r.Code)
}

// ----- regions -----

// RegionImportResult counts what an import of regions changed.
type RegionImportResult struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
}

// regionRow is a region with the row of the file it came from (0: none),
// as region.upsert carries it: the row only names problems; the region is
// stored without it.
type regionRow struct {
	Region
	Row int `json:"row,omitempty"`
	// KeepNameEN is set on the rows of a file without an English name
	// column: the region keeps the English name it has (rulesEnglishNames;
	// an older muster ignores it).
	KeepNameEN bool `json:"keep_name_en,omitempty"`
}

// sortParentsFirst orders regions so that every parent comes before its
// children, so that a file may list a tree in any order.
func sortParentsFirst(regions []regionRow) {
	slices.SortStableFunc(regions, func(a, b regionRow) int { return a.Kind.Depth() - b.Kind.Depth() })
}

// regionProblem checks r, the i-th of an upsert sorted parents first,
// against the regions lookup finds (those stored, and the file's earlier
// ones): its parent exists and sits one level up, and a region it updates
// keeps its kind. It returns the problem, nil if there is none, and the
// region r updates (exists false when it is new).
func regionProblem(r regionRow, i int, lookup func(RegionCode) (Region, bool, error)) (problem *RowError, old Region, exists bool, err error) {
	row := r.Row
	if row == 0 {
		row = i + 1
	}
	if err := r.Validate(); err != nil {
		return &RowError{Row: row, Field: "code", Value: string(r.Code), Reason: err.Error()}, old, false, nil
	}
	if r.Kind != KindCity {
		parent, ok, err := lookup(r.Parent)
		if err != nil {
			return nil, old, false, err
		}
		if !ok {
			return &RowError{Row: row, Field: "parent", Value: string(r.Parent), Reason: "no such region"}, old, false, nil
		}
		if parent.Kind.Depth() != r.Kind.Depth()-1 {
			return &RowError{Row: row, Field: "parent", Value: string(r.Parent),
				Reason: fmt.Sprintf("a %s must sit under a %s, not a %s", r.Kind, regionKinds[r.Kind.Depth()-1], parent.Kind)}, old, false, nil
		}
	}
	if old, exists, err = lookup(r.Code); err != nil {
		return nil, old, false, err
	}
	if exists && old.Kind != r.Kind {
		return &RowError{Row: row, Field: "kind", Value: string(r.Kind), Reason: fmt.Sprintf("region %s is already a %s", r.Code, old.Kind)}, old, true, nil
	}
	return nil, old, exists, nil
}

func applyRegionUpsert(tx *bolt.Tx, c *muster.Command) (any, error) {
	var regions []regionRow
	if err := json.Unmarshal(c.Payload, &regions); err != nil {
		return nil, muster.Errorf(muster.EInvalid, "regions: %v", err)
	}
	sortParentsFirst(regions)
	rb, cb := bucket(tx, bRegions), bucket(tx, bRegionChildren)
	lookup := func(code RegionCode) (Region, bool, error) {
		var r Region
		ok, err := getJSON(rb, string(code), &r)
		return r, ok, err
	}
	var res RegionImportResult
	var problems []RowError
	for i, rr := range regions {
		problem, old, exists, err := regionProblem(rr, i, lookup)
		if err != nil {
			return nil, err
		}
		if problem != nil {
			problems = append(problems, *problem)
			continue
		}
		r, old := rr.toStore(old, exists, c)
		switch {
		case exists && old == r:
			res.Unchanged++
			continue
		case exists:
			res.Updated++
			if old.Parent != r.Parent {
				if err := cb.Delete([]byte(string(old.Parent) + "/" + string(r.Code))); err != nil {
					return nil, err
				}
			}
		default:
			res.Created++
		}
		if err := putJSON(rb, string(r.Code), r); err != nil {
			return nil, err
		}
		if r.Parent != "" {
			if err := cb.Put([]byte(string(r.Parent)+"/"+string(r.Code)), nil); err != nil {
				return nil, err
			}
		}
	}
	if len(problems) > 0 {
		slices.SortStableFunc(problems, func(a, b RowError) int { return a.Row - b.Row })
		e := muster.Errorf(muster.EInvalid, "%d of %s invalid; nothing was applied (first: %s)", len(problems), muster.Count(len(regions), "region is", "regions are"), problems[0].Error())
		e.Details = problems
		return nil, e
	}
	return res, nil
}

// getRegion reads one region; ok is false if it does not exist.
func getRegion(tx *bolt.Tx, code RegionCode) (Region, bool, error) {
	var r Region
	ok, err := getJSON(tx.Bucket(bRegions), string(code), &r)
	return r, ok, err
}

// ----- people -----

// personKey formats the bucket sequence as a person ID. Zero padding keeps
// the bucket in creation order.
func personKey(seq uint64) PersonID { return PersonID(fmt.Sprintf("P%08d", seq)) }

func getPerson(tx *bolt.Tx, id PersonID) (Person, bool, error) {
	var p Person
	ok, err := getJSON(tx.Bucket(bPeople), string(id), &p)
	return p, ok, err
}

// checkPerson verifies p against the state: its grid exists and is a grid,
// its phones and external ID are not someone else's, its backup exists.
func checkPerson(tx *bolt.Tx, p Person) error {
	g, ok, err := getRegion(tx, p.Grid)
	if err != nil {
		return err
	}
	if !ok {
		return muster.Errorf(muster.EInvalid, "grid %s does not exist", p.Grid)
	}
	if g.Kind != KindGrid {
		return muster.Errorf(muster.EInvalid, "%s is a %s, not a grid", g.Label(), g.Kind)
	}
	for _, ph := range p.Phones {
		if other := getString(tx.Bucket(bPeopleByPhone), ph); other != "" && PersonID(other) != p.ID {
			return muster.Errorf(muster.EConflict, "phone %s already belongs to person %s", ph, other)
		}
	}
	if p.ExternalID != "" {
		if other := getString(tx.Bucket(bPeopleByExt), p.ExternalID); other != "" && PersonID(other) != p.ID {
			return muster.Errorf(muster.EConflict, "external id %s already belongs to person %s", p.ExternalID, other)
		}
	}
	if p.Backup != "" {
		if p.Backup == p.ID {
			return muster.Errorf(muster.EInvalid, "a person cannot be their own backup")
		}
		if _, ok, err := getPerson(tx, p.Backup); err != nil {
			return err
		} else if !ok {
			return muster.Errorf(muster.EInvalid, "backup person %s does not exist", p.Backup)
		}
	}
	return nil
}

// putPerson writes p and moves its index entries from old (nil for a new person).
func putPerson(tx *bolt.Tx, old *Person, p Person) error {
	byPhone, byExt, byGrid := bucket(tx, bPeopleByPhone), bucket(tx, bPeopleByExt), bucket(tx, bPeopleByGrid)
	if old != nil {
		if err := dropIndexes(byPhone, byExt, byGrid, *old); err != nil {
			return err
		}
	}
	for _, ph := range p.Phones {
		if err := byPhone.Put([]byte(ph), []byte(p.ID)); err != nil {
			return err
		}
	}
	if p.ExternalID != "" {
		if err := byExt.Put([]byte(p.ExternalID), []byte(p.ID)); err != nil {
			return err
		}
	}
	if err := byGrid.Put(gridKey(p.Grid, p.ID), nil); err != nil {
		return err
	}
	return putJSON(bucket(tx, bPeople), string(p.ID), p)
}

func dropIndexes(byPhone, byExt, byGrid *bolt.Bucket, p Person) error {
	for _, ph := range p.Phones {
		if err := byPhone.Delete([]byte(ph)); err != nil {
			return err
		}
	}
	if p.ExternalID != "" {
		if err := byExt.Delete([]byte(p.ExternalID)); err != nil {
			return err
		}
	}
	return byGrid.Delete(gridKey(p.Grid, p.ID))
}

// sortedPuts collects writes per bucket and applies them in key order. bbolt
// splits nodes only at commit, so many keys put in random order into one
// transaction make each insert move all the keys after it (quadratic);
// sorted, each insert lands at the end and moves nothing.
//
// A bulk import stages millions of writes, so they are kept compact: keys and
// values are copied into chunks that are never moved or reused (bbolt keeps
// pointing at the values until the transaction commits), and each write is
// a 16-byte reference into them.
type sortedPuts struct {
	buckets map[string]*stagedBucket
	json    bytes.Buffer // reused to encode values
	enc     *json.Encoder
	former  bool // keep the phones people no longer have (rulesFormerPhones)
}

// stagedBucket is what sortedPuts holds for one bucket.
type stagedBucket struct {
	chunks [][]byte
	refs   []stagedRef
}

// stagedRef locates one write: its key at chunks[chunk][off:], its value
// right after the key.
type stagedRef struct {
	chunk, off, klen, vlen uint32
}

// stageChunk is the size of the chunks staged writes are copied into; a
// write larger than that gets a chunk of its own.
const stageChunk = 1 << 20

// bulkFill is the page fill for a bucket whose staged writes all sort after
// its last key (see flush).
const bulkFill = 1.0

func (b *stagedBucket) key(r stagedRef) []byte {
	return b.chunks[r.chunk][r.off : r.off+r.klen : r.off+r.klen]
}

func (b *stagedBucket) value(r stagedRef) []byte {
	start := r.off + r.klen
	return b.chunks[r.chunk][start : start+r.vlen : start+r.vlen]
}

// reserve makes room for n more writes to bucket.
func (s *sortedPuts) reserve(bucket []byte, n int) {
	b := s.staged(bucket)
	b.refs = slices.Grow(b.refs, n)
}

func (s *sortedPuts) staged(bucket []byte) *stagedBucket {
	if s.buckets == nil {
		s.buckets = map[string]*stagedBucket{}
	}
	b := s.buckets[string(bucket)]
	if b == nil {
		b = &stagedBucket{}
		s.buckets[string(bucket)] = b
	}
	return b
}

// put stages k → v in bucket; both are copied.
func (s *sortedPuts) put(bucket []byte, k, v []byte) {
	b := s.staged(bucket)
	n := len(k) + len(v)
	last := len(b.chunks) - 1
	if last < 0 || cap(b.chunks[last])-len(b.chunks[last]) < n {
		b.chunks = append(b.chunks, make([]byte, 0, max(stageChunk, n)))
		last++
	}
	c := b.chunks[last]
	b.refs = append(b.refs, stagedRef{chunk: uint32(last), off: uint32(len(c)), klen: uint32(len(k)), vlen: uint32(len(v))})
	b.chunks[last] = append(append(c, k...), v...)
}

// putJSON stages k → the JSON encoding of v (as json.Marshal gives it).
func (s *sortedPuts) putJSON(bucket []byte, k []byte, v any) error {
	if s.enc == nil {
		s.enc = json.NewEncoder(&s.json)
	}
	s.json.Reset()
	if err := s.enc.Encode(v); err != nil {
		return err
	}
	s.put(bucket, k, bytes.TrimSuffix(s.json.Bytes(), []byte("\n")))
	return nil
}

// flush writes everything collected, bucket by bucket in name order.
//
// A bucket whose staged keys all sort after its last key (every bucket on a
// first import; people on any import that only adds people, since new IDs
// come from the bucket's sequence) only receives appends, and its pages are
// written full instead of bbolt's default half full. That is safe: the fill
// only decides where bbolt splits nodes at commit, never what is stored; no
// key of this flush lands inside the full pages; and a later write into one
// of them splits it, as a write into any full page does. It halves the pages
// the commit holds in memory and writes, and the size of the state file.
func (s *sortedPuts) flush(tx *bolt.Tx) error {
	names := make([]string, 0, len(s.buckets))
	for name := range s.buckets {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		st := s.buckets[name]
		slices.SortFunc(st.refs, func(a, b stagedRef) int { return bytes.Compare(st.key(a), st.key(b)) })
		b := bucket(tx, []byte(name))
		if len(st.refs) > 0 {
			if last := muster.LastKey(b); last == nil || bytes.Compare(st.key(st.refs[0]), last) > 0 {
				b.FillPercent = bulkFill
			}
		}
		for _, r := range st.refs {
			if err := b.Put(st.key(r), st.value(r)); err != nil {
				return err
			}
		}
		// bbolt has copied the keys; only the chunks, for the values, stay.
		st.refs = nil
	}
	s.buckets = nil
	return nil
}

// stagePerson is putPerson for bulk writes: old index entries are dropped at
// once, new entries and the record go through puts.
func stagePerson(tx *bolt.Tx, puts *sortedPuts, old *Person, p Person) error {
	if old != nil {
		if err := dropIndexes(bucket(tx, bPeopleByPhone), bucket(tx, bPeopleByExt), bucket(tx, bPeopleByGrid), *old); err != nil {
			return err
		}
	}
	id := []byte(p.ID)
	if old != nil && puts.former {
		for _, ph := range droppedPhones(*old, &p) {
			puts.put(bPeopleFormerPhone, []byte(ph), id)
		}
	}
	for _, ph := range p.Phones {
		puts.put(bPeopleByPhone, []byte(ph), id)
	}
	if p.ExternalID != "" {
		puts.put(bPeopleByExt, []byte(p.ExternalID), id)
	}
	puts.put(bPeopleByGrid, gridKey(p.Grid, p.ID), nil)
	return puts.putJSON(bPeople, id, p)
}

func gridKey(grid RegionCode, id PersonID) []byte {
	k := make([]byte, 0, len(grid)+1+len(id))
	k = append(k, grid...)
	k = append(k, '/')
	return append(k, id...)
}

func applyPersonCreate(tx *bolt.Tx, c *muster.Command) (any, error) {
	var p Person
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		return nil, muster.Errorf(muster.EInvalid, "person: %v", err)
	}
	seq, err := bucket(tx, bPeople).NextSequence()
	if err != nil {
		return nil, err
	}
	p.ID = personKey(seq)
	if err := checkPerson(tx, p); err != nil {
		return nil, err
	}
	return p, putPerson(tx, nil, p)
}

// personUpdate is person.update's payload: the person's new data and, when
// the writer read it first, the version they read (Person.ETag; an older
// muster reads the payload as a Person and leaves it out).
type personUpdate struct {
	Person
	IfMatch string `json:"if_match,omitempty"`
}

func applyPersonUpdate(tx *bolt.Tx, c *muster.Command) (any, error) {
	var u personUpdate
	if err := json.Unmarshal(c.Payload, &u); err != nil {
		return nil, muster.Errorf(muster.EInvalid, "person: %v", err)
	}
	p := u.Person
	old, ok, err := getPerson(tx, p.ID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notAPerson(tx, string(p.ID))
	}
	if u.IfMatch != "" && c.RulesAtLeast(rulesPersonIfMatch) && old.ETag() != u.IfMatch {
		return nil, muster.Errorf(muster.EPrecondition, "person %s was changed since it was read (version %s, now %s): read it again and repeat the change", p.ID, u.IfMatch, old.ETag())
	}
	if err := checkPerson(tx, p); err != nil {
		return nil, err
	}
	if c.RulesAtLeast(rulesFormerPhones) {
		if err := keepFormerPhones(tx, old, &p); err != nil {
			return nil, err
		}
	}
	return p, putPerson(tx, &old, p)
}

// rulesPersonIfMatch is the behaviour (muster.Rules) from which a person's
// update that names the version it was made from (If-Match) is refused when
// the person changed since; before it the version is not looked at.
const rulesPersonIfMatch = 11

// rulesFormerPhones is the behaviour (muster.Rules) from which a phone a
// person no longer has (changed, or the person deleted) is kept with their
// ID (FormerPersonByPhone): a reply from it still finds the call-up that
// went to it.
const rulesFormerPhones = 5

// droppedPhones lists the phones of old that p (nil: deleted) no longer has.
func droppedPhones(old Person, p *Person) []string {
	var out []string
	for _, ph := range old.Phones {
		if p == nil || !slices.Contains(p.Phones, ph) {
			out = append(out, ph)
		}
	}
	return out
}

// keepFormerPhones records old's phones that p (nil: deleted) no longer has
// as old's former phones.
func keepFormerPhones(tx *bolt.Tx, old Person, p *Person) error {
	b := bucket(tx, bPeopleFormerPhone)
	for _, ph := range droppedPhones(old, p) {
		if err := b.Put([]byte(ph), []byte(old.ID)); err != nil {
			return err
		}
	}
	return nil
}

func applyPersonDelete(tx *bolt.Tx, c *muster.Command) (any, error) {
	id := PersonID(c.Payload)
	old, ok, err := getPerson(tx, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notAPerson(tx, string(id))
	}
	// Whoever named this person as backup loses the backup; the scan is the
	// price of keeping no reverse index for a rare operation.
	pb := bucket(tx, bPeople)
	var dependants []Person
	err = pb.ForEach(func(k, v []byte) error {
		if !bytes.Contains(v, []byte(`"backup":"`+string(id)+`"`)) {
			return nil
		}
		var p Person
		if err := json.Unmarshal(v, &p); err != nil {
			return err
		}
		if p.Backup == id {
			dependants = append(dependants, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, p := range dependants {
		p.Backup = ""
		if err := putJSON(pb, string(p.ID), p); err != nil {
			return nil, err
		}
	}
	if err := dropIndexes(bucket(tx, bPeopleByPhone), bucket(tx, bPeopleByExt), bucket(tx, bPeopleByGrid), old); err != nil {
		return nil, err
	}
	if c.RulesAtLeast(rulesFormerPhones) {
		if err := keepFormerPhones(tx, old, nil); err != nil {
			return nil, err
		}
	}
	return nil, pb.Delete([]byte(id))
}
