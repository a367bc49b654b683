package plans

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
)

// Applier replicates a command and decodes its result into out
// (cluster.Node implements it).
type Applier interface {
	Apply(ctx context.Context, c *muster.Command, out any) error
}

// Viewer reads the state at a consistency level (cluster.Node implements it).
type Viewer interface {
	View(ctx context.Context, level muster.Consistency, fn func(tx *bolt.Tx) error) error
}

// Service is how the rest of muster reads and changes regions, people, roster
// imports and plans. It validates input, turns changes into commands, and
// reads the state; it holds no state of its own.
type Service struct {
	apply Applier
	view  Viewer
}

// NewService returns a Service over a replicated state.
func NewService(a Applier, v Viewer) *Service { return &Service{apply: a, view: v} }

// Page asks for one page of a list: at most Limit items after the cursor.
type Page struct {
	Limit int
	After string
}

// DefaultPageLimit and MaxPageLimit bound list pages.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

func (p Page) limit() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageLimit
	case p.Limit > MaxPageLimit:
		return MaxPageLimit
	}
	return p.Limit
}

// List is one page of results; Next is the cursor for the following page,
// empty on the last one.
type List[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next"`
}

// ----- regions -----

// ImportRegions reads a region CSV and applies it in one command: every row
// valid and every parent present (in the file or the state), or nothing.
func (s *Service) ImportRegions(ctx context.Context, actor string, r io.Reader) (RegionImportResult, error) {
	var res RegionImportResult
	regions, rowErrs, err := parseRegionRows(r)
	if err != nil {
		return res, err
	}
	// The rows that read well are checked against the tree as well (parents
	// that exist and sit one level up, kinds kept), so that one pass
	// reports every problem of the file, each at its row.
	err = s.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		more, err := treeProblems(tx, regions)
		rowErrs = append(rowErrs, more...)
		return err
	})
	if err != nil {
		return res, err
	}
	if len(rowErrs) > 0 {
		slices.SortStableFunc(rowErrs, func(a, b RowError) int { return a.Row - b.Row })
		e := muster.Errorf(muster.EInvalid, "%s in the region file; nothing was imported (first: %s)", muster.Count(len(rowErrs), "problem", "problems"), rowErrs[0].Error())
		e.Details = rowErrs
		return res, e
	}
	return s.putRegions(ctx, actor, regions)
}

// treeProblems checks regions against the stored tree and each other, as
// region.upsert will: a row whose parent is another row's region is fine.
func treeProblems(tx *bolt.Tx, regions []regionRow) ([]RowError, error) {
	sorted := slices.Clone(regions)
	sortParentsFirst(sorted)
	inFile := map[RegionCode]Region{}
	lookup := func(code RegionCode) (Region, bool, error) {
		if r, ok := inFile[code]; ok {
			return r, true, nil
		}
		return getRegion(tx, code)
	}
	var out []RowError
	for i, r := range sorted {
		problem, _, _, err := regionProblem(r, i, lookup)
		if err != nil {
			return nil, err
		}
		if problem != nil {
			out = append(out, *problem)
			continue
		}
		inFile[r.Code] = r.Region
	}
	return out, nil
}

// PutRegions creates or updates regions in one command.
func (s *Service) PutRegions(ctx context.Context, actor string, regions []Region) (RegionImportResult, error) {
	rows := make([]regionRow, len(regions))
	for i, r := range regions {
		rows[i] = regionRow{Region: r}
	}
	return s.putRegions(ctx, actor, rows)
}

func (s *Service) putRegions(ctx context.Context, actor string, regions []regionRow) (RegionImportResult, error) {
	var res RegionImportResult
	if len(regions) == 0 {
		return res, muster.Errorf(muster.EInvalid, "no regions given")
	}
	b, err := json.Marshal(regions)
	if err != nil {
		return res, err
	}
	err = s.apply.Apply(ctx, &muster.Command{Type: CmdRegionUpsert, Actor: actor, Payload: b}, &res)
	return res, err
}

// Region returns one region.
func (s *Service) Region(ctx context.Context, level muster.Consistency, code RegionCode) (Region, error) {
	var r Region
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		var ok bool
		var err error
		r, ok, err = getRegion(tx, code)
		if err == nil && !ok {
			err = muster.Errorf(muster.ENotFound, "region %s does not exist", code)
		}
		return err
	})
	return r, err
}

// RegionFilter narrows a region list. Parent lists the direct children of
// one region; Kind keeps one level of the tree.
type RegionFilter struct {
	Parent RegionCode
	Kind   RegionKind
}

// Regions lists regions in code order.
func (s *Service) Regions(ctx context.Context, level muster.Consistency, f RegionFilter, page Page) (List[Region], error) {
	out := List[Region]{Items: []Region{}}
	limit := page.limit()
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		rb := tx.Bucket(bRegions)
		if rb == nil {
			return nil
		}
		emit := func(r Region) bool {
			if f.Kind != "" && r.Kind != f.Kind {
				return true
			}
			if len(out.Items) == limit {
				out.Next = string(out.Items[limit-1].Code)
				return false
			}
			out.Items = append(out.Items, r)
			return true
		}
		if f.Parent != "" {
			cb := tx.Bucket(bRegionChildren)
			if cb == nil {
				return nil
			}
			prefix := []byte(string(f.Parent) + "/")
			cur := cb.Cursor()
			k, _ := cur.Seek(append(prefix, page.After...))
			for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
				code := string(k[len(prefix):])
				if code == page.After {
					continue
				}
				var r Region
				if _, err := getJSON(rb, code, &r); err != nil {
					return err
				}
				if !emit(r) {
					break
				}
			}
			return nil
		}
		cur := rb.Cursor()
		k, v := cur.Seek([]byte(page.After))
		for ; k != nil; k, v = cur.Next() {
			if string(k) == page.After {
				continue
			}
			var r Region
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			if !emit(r) {
				break
			}
		}
		return nil
	})
	return out, err
}

// ----- people -----

// PersonInput is a person as a client sends it: phones in any common
// notation, category and language in Chinese or English.
type PersonInput struct {
	ExternalID string   `json:"external_id,omitempty"`
	Name       string   `json:"name"`
	Phones     []string `json:"phones"`
	Grid       string   `json:"grid"`
	Category   string   `json:"category"`
	Tags       []string `json:"tags,omitempty"`
	Teams      []string `json:"teams,omitempty"`
	Backup     string   `json:"backup,omitempty"` // a person ID
	Language   string   `json:"language,omitempty"`
}

// person validates the input and returns the normalised person.
func (in PersonInput) person() (Person, error) {
	p := Person{ExternalID: strings.TrimSpace(in.ExternalID), Name: strings.TrimSpace(in.Name), Grid: RegionCode(strings.TrimSpace(in.Grid)),
		Tags: cleanList(in.Tags), Teams: cleanList(in.Teams), Backup: PersonID(strings.TrimSpace(in.Backup))}
	if p.Name == "" {
		return p, muster.Errorf(muster.EInvalid, "name: required")
	}
	if reason := nameProblem(p.Name); reason != "" {
		return p, muster.Errorf(muster.EInvalid, "name %q: %s", clip(p.Name), reason)
	}
	if len(in.Phones) == 0 {
		return p, muster.Errorf(muster.EInvalid, "phones: at least one phone number is required")
	}
	for _, given := range in.Phones {
		// One given as a roster's phone cell is (138…；139…) is several.
		for raw := range phoneParts(given) {
			ph, typ, err := normalizePhoneType(raw)
			if err != nil {
				return p, muster.Errorf(muster.EInvalid, "phones: %v", err)
			}
			if reason := serviceNumberProblem(raw, typ); reason != "" {
				return p, muster.Errorf(muster.EInvalid, "phones: %s", reason)
			}
			if slices.Contains(p.Phones, ph) {
				return p, muster.Errorf(muster.EInvalid, "phones: %s given twice", ph)
			}
			p.Phones = append(p.Phones, ph)
		}
	}
	if len(p.Phones) == 0 {
		return p, muster.Errorf(muster.EInvalid, "phones: at least one phone number is required")
	}
	if reason := landlineFirstProblem(p.Phones); reason != "" {
		return p, muster.Errorf(muster.EInvalid, "phones: %s", reason)
	}
	if len(p.Grid) != 15 || !allDigits(string(p.Grid)) {
		return p, muster.Errorf(muster.EInvalid, "grid: %q is not a 15-digit grid code", in.Grid)
	}
	var err error
	if p.Category, err = ParseCategory(in.Category); err != nil {
		return p, err
	}
	if p.Language, err = ParseLanguage(in.Language); err != nil {
		return p, err
	}
	return p, nil
}

func cleanList(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// CreatePerson adds one person. A phone or external ID that already belongs
// to someone is a conflict; an unknown grid or backup is invalid.
func (s *Service) CreatePerson(ctx context.Context, actor string, in PersonInput) (Person, error) {
	p, err := in.person()
	if err != nil {
		return p, err
	}
	b, _ := json.Marshal(p)
	var out Person
	err = s.apply.Apply(ctx, &muster.Command{Type: CmdPersonCreate, Actor: actor, Payload: b}, &out)
	return out, err
}

// UpdatePerson replaces a person's data.
func (s *Service) UpdatePerson(ctx context.Context, actor string, id PersonID, in PersonInput) (Person, error) {
	return s.UpdatePersonIfMatch(ctx, actor, id, in, "")
}

// UpdatePersonIfMatch replaces a person's data if the person is still the
// version etag names (Person.ETag); "" replaces whatever is there. A person
// changed since is a precondition failure (muster.EPrecondition), checked
// where the change is applied, so of two keepers who read the same version
// only the first writes it.
func (s *Service) UpdatePersonIfMatch(ctx context.Context, actor string, id PersonID, in PersonInput, etag string) (Person, error) {
	p, err := in.person()
	if err != nil {
		return p, err
	}
	p.ID = id
	b, _ := json.Marshal(personUpdate{Person: p, IfMatch: etag})
	var out Person
	err = s.apply.Apply(ctx, &muster.Command{Type: CmdPersonUpdate, Actor: actor, Payload: b}, &out)
	return out, err
}

// DeletePerson removes a person; people who had them as backup lose it.
func (s *Service) DeletePerson(ctx context.Context, actor string, id PersonID) error {
	return s.apply.Apply(ctx, &muster.Command{Type: CmdPersonDelete, Actor: actor, Payload: []byte(id)}, nil)
}

// Person returns one person.
func (s *Service) Person(ctx context.Context, level muster.Consistency, id PersonID) (Person, error) {
	var p Person
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		var ok bool
		var err error
		p, ok, err = getPerson(tx, id)
		if err == nil && !ok {
			err = notAPerson(tx, string(id))
		}
		return err
	})
	return p, err
}

// notAPerson is the error for a person ID that names nobody. A roster
// keeper knows people by the 编号 of their own file, which muster keeps as
// the external ID beside its own ID: when ref is someone's 编号 the error
// names the person it belongs to.
func notAPerson(tx *bolt.Tx, ref string) error {
	if b := tx.Bucket(bPeopleByExt); b != nil {
		if id := b.Get([]byte(ref)); id != nil {
			return muster.Errorf(muster.ENotFound, "person %s does not exist; %s is the 编号 (external ID) of person %s: use that ID", ref, ref, id)
		}
	}
	return muster.Errorf(muster.ENotFound, "person %s does not exist", ref)
}

// PeopleFilter narrows a people list. Region keeps people whose grid is that
// region or lies under it; the other fields must match exactly.
type PeopleFilter struct {
	Region   RegionCode
	Category Category
	Tag      string
	Team     string
	Phone    string // E.164
	// ExternalID is the 编号 of the roster file (Person.ExternalID).
	ExternalID string
}

func (f PeopleFilter) match(p Person) bool {
	return (f.Category == "" || p.Category == f.Category) && (f.Tag == "" || p.HasTag(f.Tag)) && (f.Team == "" || p.InTeam(f.Team)) &&
		(f.ExternalID == "" || p.ExternalID == f.ExternalID)
}

// People lists people in ID order, or in grid order when filtered by region.
func (s *Service) People(ctx context.Context, level muster.Consistency, f PeopleFilter, page Page) (List[Person], error) {
	out := List[Person]{Items: []Person{}}
	limit := page.limit()
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		pb := tx.Bucket(bPeople)
		if pb == nil {
			return nil
		}
		var prefix []byte // of the grids under f.Region
		if f.Region != "" {
			r, ok, err := getRegion(tx, f.Region)
			if err != nil {
				return err
			}
			if !ok {
				return muster.Errorf(muster.ENotFound, "region %s does not exist", f.Region)
			}
			prefix = []byte(regionPrefix(r))
		}
		if f.Phone != "" || f.ExternalID != "" { // one person at most, by an index
			id := getString(tx.Bucket(bPeopleByPhone), f.Phone)
			if f.Phone == "" {
				id = getString(tx.Bucket(bPeopleByExt), f.ExternalID)
			}
			if id == "" {
				return nil
			}
			p, ok, err := getPerson(tx, PersonID(id))
			if ok && f.match(p) && bytes.HasPrefix([]byte(p.Grid), prefix) {
				out.Items = append(out.Items, p)
			}
			return err
		}
		if f.Region != "" {
			gb := tx.Bucket(bPeopleByGrid)
			if gb == nil {
				return nil
			}
			cur := gb.Cursor()
			k, _ := cur.Seek(append(append([]byte(nil), prefix...), page.After...))
			if page.After != "" && !bytes.HasPrefix([]byte(page.After), prefix) {
				return muster.Errorf(muster.EInvalid, "cursor %q does not belong to region %s", page.After, f.Region)
			}
			if page.After != "" {
				k, _ = cur.Seek([]byte(page.After))
			}
			for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
				if string(k) == page.After {
					continue
				}
				id := k[bytes.IndexByte(k, '/')+1:]
				var p Person
				if _, err := getJSON(pb, string(id), &p); err != nil {
					return err
				}
				if !f.match(p) {
					continue
				}
				if len(out.Items) == limit {
					last := out.Items[limit-1]
					out.Next = string(gridKey(last.Grid, last.ID))
					break
				}
				out.Items = append(out.Items, p)
			}
			return nil
		}
		cur := pb.Cursor()
		k, v := cur.Seek([]byte(page.After))
		for ; k != nil; k, v = cur.Next() {
			if string(k) == page.After {
				continue
			}
			var p Person
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			if !f.match(p) {
				continue
			}
			if len(out.Items) == limit {
				out.Next = string(out.Items[limit-1].ID)
				break
			}
			out.Items = append(out.Items, p)
		}
		return nil
	})
	return out, err
}

// CountPeople returns how many people the roster holds.
func (s *Service) CountPeople(ctx context.Context, level muster.Consistency) (int, error) {
	n := 0
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		if b := tx.Bucket(bPeople); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n, err
}

// ----- roster import -----

// ImportOptions control a roster import.
type ImportOptions struct {
	DryRun      bool // check and count, change nothing
	SkipInvalid bool // apply the good rows and report the bad ones
	BatchRows   int  // rows per raft entry; default 5000
	// AllowRenames lets the import rename people it matches by phone
	// alone (a row without an external ID); otherwise such an import is
	// refused listing them (ImportResult.Renamed). A dry run lists them
	// either way.
	AllowRenames bool
	// Progress, when set, is told how many rows have been sent of the total.
	Progress func(sent, total int)
}

// ImportRoster reads a roster file (CSV in UTF-8, UTF-8 with BOM or GBK, or
// XLSX) and upserts its people: matched by external ID, else by phone, so
// importing the same file twice changes nothing the second time. Unless
// SkipInvalid, any bad row (in the file or against the roster) means nothing
// is applied, and the error's details list every bad row.
func (s *Service) ImportRoster(ctx context.Context, actor string, r io.Reader, opts ImportOptions) (ImportResult, error) {
	roster, err := ParseRoster(r)
	if err != nil {
		return ImportResult{}, err
	}
	// The parsed rows are the biggest thing an import holds: keep only what
	// the answer needs, so that the rows can be collected once they are
	// staged, before the commit builds a million records on this node.
	rows, parseErrors, encoding, format, absent := roster.Rows, roster.Errors, roster.Encoding, roster.Format, roster.Absent
	rejected, badBackups := roster.rejected, roster.rejectedBackups
	roster = nil
	parseBad := map[int]bool{}
	for _, e := range parseErrors {
		parseBad[e.Row] = true
	}
	total := len(rows) + len(parseBad)
	merge := func(res ImportResult) ImportResult {
		res.Rows = total
		backupsOnBadRows(res.Errors, rejected)
		res.Encoding, res.Format, res.Kept = encoding, format, absent
		if len(parseErrors) > 0 {
			all := append(append([]RowError(nil), parseErrors...), res.Errors...)
			slices.SortStableFunc(all, func(a, b RowError) int { return a.Row - b.Row })
			res.ErrorCount += len(parseErrors)
			if len(all) > MaxReportedErrors {
				all = all[:MaxReportedErrors]
			}
			res.Errors = all
			if opts.SkipInvalid {
				res.Skipped += len(parseBad)
			}
		}
		return res
	}

	// Check everything against the current roster first, so the answer lists
	// every problem at once and a doomed import stages nothing.
	var check ImportResult
	err = s.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		var err error
		check, err = reconcile(tx, rows, false, importOpts{skipInvalid: true, backupsAfter: true, moves: true, fold: true, keep: keepOf(absent)})
		if err == nil {
			// Rows with errors in the file are told of their backup too.
			if more := rejectedBackups(tx, badBackups, rows, rejected); len(more) > 0 {
				parseErrors = append(slices.Clip(parseErrors), more...)
				slices.SortStableFunc(parseErrors, func(a, b RowError) int { return a.Row - b.Row })
			}
		}
		return err
	})
	if err != nil {
		return ImportResult{}, err
	}
	check = merge(check)
	if opts.DryRun {
		if !opts.SkipInvalid {
			check.Skipped = 0
		}
		return check, nil
	}
	if check.ErrorCount > 0 && !opts.SkipInvalid {
		check.Created, check.Updated, check.Unchanged, check.Skipped = 0, 0, 0, 0
		check.DryRun = false // checked as one, but asked to change the roster
		e := muster.Errorf(muster.EInvalid, "%s in the roster file; nothing was imported (first: %s)", muster.Count(check.ErrorCount, "problem", "problems"), check.Errors[0].Error())
		e.Details = check
		return check, e
	}
	if len(rows) == 0 {
		check.DryRun = false // nothing to import, and it was not asked as a dry run
		return check, nil
	}
	if check.RenamedCount > 0 && !opts.AllowRenames {
		check.Created, check.Updated, check.Unchanged, check.Skipped = 0, 0, 0, 0
		check.DryRun = false
		return check, renameRefusal(check)
	}
	res, err := s.stageAndCommit(ctx, actor, rows, absent, opts)
	if err != nil {
		if e, ok := err.(*muster.Error); ok {
			if d, ok := e.Details.(ImportResult); ok {
				e.Details = merge(d)
			}
		}
		return res, err
	}
	return merge(res), nil
}

// backupsOnBadRows says of each backup that names no one but is the phone
// or 编号 of a row the file itself has errors on (rejected: its phones and
// folded external IDs → row) which row that is, as a backup on a row that
// fails against the roster is told, whether named by phone or by 编号.
func backupsOnBadRows(errs []RowError, rejected map[string]int) {
	if len(rejected) == 0 {
		return
	}
	for i, e := range errs {
		if e.Field != "backup" || e.Reason != noBackupPerson {
			continue
		}
		key := e.Value
		if !strings.HasPrefix(key, "+") {
			key = FoldExternalID(key)
		}
		if row, ok := rejected[key]; ok {
			errs[i].Reason = fmt.Sprintf("refers to row %d, which has errors", row)
		}
	}
}

// importRowBytes is the disk one imported row is expected to take on every
// node: its records, the raft entry that stages it and its share of the
// snapshots that copy them (measured, BenchmarkImportRoster's disk_B/row:
// 1.2 KiB per row at 100,000 and at 1,000,000 rows; docs/operations.md,
// "Disk").
const importRowBytes = 2 << 10

// importTimeout bounds a whole import when the caller set no deadline: a
// commit of a million rows takes seconds, not the default apply timeout.
const importTimeout = 15 * time.Minute

func (s *Service) stageAndCommit(ctx context.Context, actor string, rows []RosterRow, keep []string, opts ImportOptions) (ImportResult, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, importTimeout)
		defer cancel()
	}
	batch := opts.BatchRows
	if batch <= 0 {
		batch = 5000
	}
	room := muster.Room{What: "this import of " + muster.Count(len(rows), "row", "rows"), Bytes: int64(len(rows)) * importRowBytes, Reserve: true}
	if err := muster.CheckRoom(ctx, s.apply, room); err != nil {
		return ImportResult{}, err
	}
	begin, _ := json.Marshal(importBegin{SkipInvalid: opts.SkipInvalid, Keep: keep, AllowRenames: opts.AllowRenames})
	var id string
	if err := s.apply.Apply(ctx, &muster.Command{Type: CmdImportBegin, Actor: actor, Payload: begin}, &id); err != nil {
		return ImportResult{}, fmt.Errorf("start import: %w", err)
	}
	abort := func() {
		p, _ := json.Marshal(importRef{Import: id})
		_ = s.apply.Apply(context.WithoutCancel(ctx), &muster.Command{Type: CmdImportAbort, Actor: actor, Payload: p}, nil)
	}
	for seq, start := 0, 0; start < len(rows); seq, start = seq+1, start+batch {
		end := min(start+batch, len(rows))
		p, err := json.Marshal(struct {
			importRows
			Count int `json:"count"`
		}{importRows{Import: id, Seq: seq, Rows: rows[start:end]}, end - start})
		if err != nil {
			abort()
			return ImportResult{}, err
		}
		if err := s.apply.Apply(ctx, &muster.Command{Type: CmdImportRows, Actor: actor, Payload: p}, nil); err != nil {
			abort()
			return ImportResult{}, fmt.Errorf("send rows %d–%d: %w", rows[start].Row, rows[end-1].Row, err)
		}
		if opts.Progress != nil {
			opts.Progress(end, len(rows))
		}
	}
	p, _ := json.Marshal(importRef{Import: id})
	var res ImportResult
	if err := s.apply.Apply(ctx, &muster.Command{Type: CmdImportCommit, Actor: actor, Payload: p}, &res); err != nil {
		abort()
		return ImportResult{}, err
	}
	return res, nil
}

// ----- plans -----

// ApplyPlan decodes a plan file and stores it as a new version, unless it is
// identical to the latest version. Problems come back as one invalid error
// whose details list each with file, line and field; the warnings name the
// selectors no one matches and the levels the scope guard cannot count
// (Plan.GuardWarnings).
func (s *Service) ApplyPlan(ctx context.Context, actor, filename string, src []byte) (PlanApplyResult, error) {
	var res PlanApplyResult
	src, err := PlanText(filename, src) // stored as the text it is
	if err != nil {
		return res, err
	}
	p, err := DecodePlan(filename, src)
	if err != nil {
		return res, err
	}
	var (
		problems []Problem
		warnings []string
	)
	err = s.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		problems = p.CheckReferences(filename, src, func(code RegionCode) bool {
			_, ok, _ := getRegion(tx, code)
			return ok
		})
		if len(problems) > 0 {
			return nil
		}
		var err error
		warnings, err = unmatchedSelectors(tx, p)
		return err
	})
	if err != nil {
		return res, err
	}
	if len(problems) > 0 {
		return res, ProblemsError(problems)
	}
	b, err := json.Marshal(planPut{Filename: filename, Source: string(src), Plan: p})
	if err != nil {
		return res, err
	}
	err = s.apply.Apply(ctx, &muster.Command{Type: CmdPlanPut, Actor: actor, Payload: b}, &res)
	res.Warnings = append(warnings, p.GuardWarnings()...)
	return res, err
}

// Plan returns version v of a plan (v ≤ 0: the latest).
func (s *Service) Plan(ctx context.Context, level muster.Consistency, id PlanID, v int) (PlanVersion, error) {
	var pv PlanVersion
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		var err error
		pv, err = getPlanVersion(tx, id, v)
		return err
	})
	return pv, err
}

// PlanVersions lists a plan's versions, oldest first, without their files.
func (s *Service) PlanVersions(ctx context.Context, level muster.Consistency, id PlanID) ([]PlanVersion, error) {
	var out []PlanVersion
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		var err error
		out, err = planVersions(tx, id)
		return err
	})
	return out, err
}

// Plans lists plans in ID order with their latest version.
func (s *Service) Plans(ctx context.Context, level muster.Consistency, page Page) (List[PlanSummary], error) {
	out := List[PlanSummary]{Items: []PlanSummary{}}
	limit := page.limit()
	err := s.view.View(ctx, level, func(tx *bolt.Tx) error {
		b := tx.Bucket(bPlans)
		if b == nil {
			return nil
		}
		cur := b.Cursor()
		k, v := cur.Seek([]byte(page.After))
		for ; k != nil; k, v = cur.Next() {
			if string(k) == page.After {
				continue
			}
			if len(out.Items) == limit {
				out.Next = string(out.Items[limit-1].ID)
				break
			}
			var sum PlanSummary
			if err := json.Unmarshal(v, &sum); err != nil {
				return err
			}
			out.Items = append(out.Items, sum)
		}
		return nil
	})
	return out, err
}

// ExpireImports aborts staged imports that started before now-maxAge: their
// importer died between staging and commit. It returns how many it aborted.
func (s *Service) ExpireImports(ctx context.Context, now time.Time, maxAge time.Duration) (int, error) {
	var stale []string
	err := s.view.View(ctx, muster.Default, func(tx *bolt.Tx) error {
		b := tx.Bucket(bImports)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var st importState
			if err := json.Unmarshal(v, &st); err != nil {
				return err
			}
			if now.Sub(st.Started) > maxAge {
				stale = append(stale, st.ID)
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range stale {
		p, _ := json.Marshal(importRef{Import: id})
		err := s.apply.Apply(ctx, &muster.Command{Type: CmdImportAbort, Actor: "import-janitor", Payload: p}, nil)
		switch {
		case err == nil:
			n++
		case muster.IsCode(err, muster.ENotFound): // committed or aborted meanwhile
		default:
			return n, err
		}
	}
	return n, nil
}

// RunImportJanitor calls ExpireImports every interval until ctx is done. It
// is a leader-only service: run it from the node's leader hook.
func (s *Service) RunImportJanitor(ctx context.Context, clock muster.Clock, interval, maxAge time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := s.ExpireImports(ctx, clock.Now(), maxAge)
			if err != nil && ctx.Err() == nil {
				logger.Warn("expiring abandoned imports failed", "err", err)
			}
			if n > 0 {
				logger.Info("aborted abandoned imports", "count", n, "older_than", maxAge)
			}
		}
	}
}
