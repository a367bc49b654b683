package plans

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"muster"
)

// A roster import is staged and then committed: import.begin opens it,
// import.rows adds batches of rows (a few thousand per raft entry, so no
// entry is huge), import.commit applies every staged row in one transaction
// (so nothing is half-applied), and import.abort drops the staged rows.

// ImportResult says what a roster import did, or for a dry run, would do.
type ImportResult struct {
	ID         string     `json:"id,omitempty"` // the staged import; empty for a dry run
	DryRun     bool       `json:"dry_run"`
	Rows       int        `json:"rows"`      // data rows read from the file
	Created    int        `json:"created"`   // new people
	Updated    int        `json:"updated"`   // existing people whose data changed
	Unchanged  int        `json:"unchanged"` // existing people already as in the file
	Skipped    int        `json:"skipped"`   // bad rows left out (only with skip_invalid)
	ErrorCount int        `json:"error_count"`
	Errors     []RowError `json:"errors,omitempty"` // every bad row, by row number (capped at MaxReportedErrors)
	Encoding   string     `json:"encoding,omitempty"`
	Format     string     `json:"format,omitempty"`
	Batches    int        `json:"batches,omitempty"` // raft entries the rows were sent in
	// Kept are the optional fields the file has no column for, left as
	// they were on the people it updated.
	Kept []string `json:"kept,omitempty"`
	// Renamed are the people a row without an external ID matched by
	// phone and gives another name: the number may now be someone
	// else's, or the name a typo. Ordered by row (capped at
	// MaxReportedErrors; RenamedCount has the full number).
	Renamed      []Rename `json:"renamed,omitempty"`
	RenamedCount int      `json:"renamed_count,omitempty"`
}

// Rename is a person of the roster whom an import row without an external
// ID matched by phone and whose name the row changes.
type Rename struct {
	Row     int      `json:"row"`    // spreadsheet row number
	Person  PersonID `json:"person"` // muster's ID of the person matched
	Phone   string   `json:"phone"`  // the phone they were matched by, E.164
	OldName string   `json:"old_name"`
	NewName string   `json:"new_name"`
	// OldGrid and NewGrid are set when the row moves them to another
	// grid as well.
	OldGrid RegionCode `json:"old_grid,omitempty"`
	NewGrid RegionCode `json:"new_grid,omitempty"`
}

// rulesImportConfirmsRenames is the behaviour (muster.Rules) from which an
// import that renames a person it matched by phone alone is refused unless
// it was started allowing renames (importBegin.AllowRenames). Before, the
// person was renamed (and moved) and counted as updated, nothing more.
const rulesImportConfirmsRenames = 13

// rulesImportFoldsIDs is the behaviour (muster.Rules) from which an import
// compares external IDs width-folded (FoldExternalID: Ｐ０００００02 is
// P0000002) and stores them folded. Before, they were compared as given.
const rulesImportFoldsIDs = 13

// FoldExternalID is the form of an external ID (编号) that imports compare
// and store: full-width ASCII characters (Ｐ０１, what a Chinese input
// method types) as ASCII and the blanks around it (ASCII, ideographic and
// no-break spaces) trimmed. It depends on no Unicode tables, so every node
// of a cluster folds alike whatever it was built with.
func FoldExternalID(s string) string {
	s = trimCell(s)
	wide := false
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			wide = true
			break
		}
	}
	if !wide {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E: // FULLWIDTH EXCLAMATION MARK … FULLWIDTH TILDE
			b.WriteByte(byte(r - 0xFEE0))
		case r == '\u3000':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// renameRefusal is the error of an import refused for the people it would
// rename through a phone match (res.Renamed), with res as its details.
func renameRefusal(res ImportResult) *muster.Error {
	var names []string
	for _, r := range res.Renamed[:min(len(res.Renamed), 3)] {
		names = append(names, fmt.Sprintf("row %d: %s → %s (%s)", r.Row, r.OldName, r.NewName, r.Phone))
	}
	if res.RenamedCount > len(names) {
		names = append(names, fmt.Sprintf("and %d more", res.RenamedCount-len(names)))
	}
	e := muster.Errorf(muster.EConflict, "%s would be renamed through a phone match (%s); nothing was imported: "+
		"check that each number is still that person's; to rename them as the file says, import it again allowing renames "+
		"(muster roster import --allow-renames, API allow_renames=true), or give the rows their 编号 (external ID)",
		muster.Count(res.RenamedCount, "person", "people"), strings.Join(names, "; "))
	e.Details = res
	return e
}

// MaxReportedErrors caps the row errors returned in one response; ErrorCount
// always has the full number.
const MaxReportedErrors = 10000

type importState struct {
	ID          string    `json:"id"`
	Actor       string    `json:"actor"`
	Started     time.Time `json:"started"`
	SkipInvalid bool      `json:"skip_invalid"`
	Keep        []string  `json:"keep,omitempty"`
	Batches     int       `json:"batches"`
	Rows        int       `json:"rows"`
	// AllowRenames: people matched by phone alone may be renamed (rules 13).
	AllowRenames bool `json:"allow_renames,omitempty"`
}

type importBegin struct {
	SkipInvalid bool `json:"skip_invalid"`
	// Keep are the optional fields (tags, teams, backup, language) the
	// file has no column for: the people it updates keep theirs.
	Keep []string `json:"keep,omitempty"`
	// AllowRenames lets the import rename people it matches by phone
	// alone (rulesImportConfirmsRenames).
	AllowRenames bool `json:"allow_renames,omitempty"`
}

// rulesImportKeepsAbsent is the behaviour (muster.Rules) from which an
// import leaves the optional fields it has no column for as they are on
// the people it updates. Under older rules a file without a 标签 column
// cleared the tags of everyone it matched, 网格长 included, and with them
// the role slots they were called for.
const rulesImportKeepsAbsent = 6

// keptFields are the optional fields an import leaves as they are on the
// people it updates.
type keptFields struct{ tags, teams, backup, language bool }

func keepOf(names []string) keptFields {
	return keptFields{tags: slices.Contains(names, "tags"), teams: slices.Contains(names, "teams"),
		backup: slices.Contains(names, "backup"), language: slices.Contains(names, "language")}
}

type importRows struct {
	Import string      `json:"import"`
	Seq    int         `json:"seq"`
	Rows   []RosterRow `json:"rows"`
}

type importRef struct {
	Import string `json:"import"`
}

func batchKey(id string, seq int) []byte { return []byte(fmt.Sprintf("%s/%08d", id, seq)) }

func applyImportBegin(tx *bolt.Tx, c *muster.Command) (any, error) {
	var p importBegin
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		return nil, muster.Errorf(muster.EInvalid, "import: %v", err)
	}
	st := importState{ID: c.ID, Actor: c.Actor, Started: c.Time, SkipInvalid: p.SkipInvalid, Keep: p.Keep, AllowRenames: p.AllowRenames}
	return st.ID, putJSON(bucket(tx, bImports), st.ID, st)
}

func loadImport(tx *bolt.Tx, id string) (importState, error) {
	var st importState
	ok, err := getJSON(tx.Bucket(bImports), id, &st)
	if err != nil {
		return st, err
	}
	if !ok {
		return st, muster.Errorf(muster.ENotFound, "import %s does not exist (committed, aborted or never started)", id)
	}
	return st, nil
}

func applyImportRows(tx *bolt.Tx, c *muster.Command) (any, error) {
	// Only the header is decoded here; the rows stay as sent until commit.
	var p struct {
		Import string `json:"import"`
		Seq    int    `json:"seq"`
		Count  int    `json:"count"`
	}
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		return nil, muster.Errorf(muster.EInvalid, "import rows: %v", err)
	}
	st, err := loadImport(tx, p.Import)
	if err != nil {
		return nil, err
	}
	switch {
	case p.Seq < st.Batches:
		return st.Batches, nil // a retried batch that is already staged
	case p.Seq > st.Batches:
		return nil, muster.Errorf(muster.EConflict, "import %s: batch %d arrived before batch %d", p.Import, p.Seq, st.Batches)
	}
	if err := bucket(tx, bImportBatches).Put(batchKey(p.Import, p.Seq), c.Payload); err != nil {
		return nil, err
	}
	st.Batches++
	st.Rows += p.Count
	return st.Batches, putJSON(bucket(tx, bImports), st.ID, st)
}

func applyImportAbort(tx *bolt.Tx, c *muster.Command) (any, error) {
	var p importRef
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		return nil, muster.Errorf(muster.EInvalid, "import abort: %v", err)
	}
	if _, err := loadImport(tx, p.Import); err != nil {
		return nil, err
	}
	return nil, dropImport(tx, p.Import)
}

func dropImport(tx *bolt.Tx, id string) error {
	bb := bucket(tx, bImportBatches)
	prefix := []byte(id + "/")
	cur := bb.Cursor()
	for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Seek(prefix) {
		if err := bb.Delete(k); err != nil {
			return err
		}
	}
	return bucket(tx, bImports).Delete([]byte(id))
}

func applyImportCommit(tx *bolt.Tx, c *muster.Command) (any, error) {
	var p importRef
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		return nil, muster.Errorf(muster.EInvalid, "import commit: %v", err)
	}
	st, err := loadImport(tx, p.Import)
	if err != nil {
		return nil, err
	}
	rows := make([]RosterRow, 0, st.Rows)
	prefix := []byte(p.Import + "/")
	cur := bucket(tx, bImportBatches).Cursor()
	var b importRows // one batch's rows at a time, in a reused slice
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
		// Unmarshal decodes into the elements it reuses: start them empty.
		clear(b.Rows[:cap(b.Rows)])
		if err := json.Unmarshal(v, &b); err != nil {
			return nil, fmt.Errorf("import %s: staged batch %s: %w", p.Import, k, err)
		}
		rows = append(rows, b.Rows...)
	}
	o := importOpts{skipInvalid: st.SkipInvalid, former: c.RulesAtLeast(rulesFormerPhones), backupsAfter: c.RulesAtLeast(rulesBackupsAfterImport),
		moves: c.RulesAtLeast(rulesImportMovesPhones), fold: c.RulesAtLeast(rulesImportFoldsIDs),
		refuseRenames: c.RulesAtLeast(rulesImportConfirmsRenames) && !st.AllowRenames}
	if c.RulesAtLeast(rulesImportKeepsAbsent) {
		o.keep = keepOf(st.Keep)
	}
	res, err := reconcile(tx, rows, true, o)
	if err != nil {
		return nil, err // rejected: the transaction rolls back, the staged rows stay for abort
	}
	res.ID = p.Import
	res.Batches = st.Batches
	return res, dropImport(tx, p.Import)
}

// reconcile matches import rows against the roster in tx and, when write is
// set, applies them. A row matches an existing person by external ID when it
// has one, else by any of its phones. Rows that conflict with the roster
// (a phone or external ID owned by someone else), name a grid that does not
// exist, or a backup that resolves to nobody are errors; unless skipInvalid,
// any error rejects the whole import. A matched person keeps the fields in
// o.keep (the file has no column for them) and an external ID the row lacks.
func reconcile(tx *bolt.Tx, rows []RosterRow, write bool, o importOpts) (ImportResult, error) {
	if !write {
		return stageRows(tx, rows, nil, o)
	}
	puts := sortedPuts{former: o.former}
	res, err := stageRows(tx, rows, &puts, o)
	if err != nil {
		return res, err
	}
	// The rows, and all stageRows derived from them, are garbage from here
	// on, while bbolt builds its nodes from the staged writes: for a million
	// rows, the two would otherwise add up.
	return res, puts.flush(tx)
}

// importOpts say how reconcile takes a file: whether bad rows are skipped,
// the fields kept for want of a column, and the rules it applies under
// (former: the phones people no longer have are kept, rulesFormerPhones;
// backupsAfter: rulesBackupsAfterImport; moves: rulesImportMovesPhones;
// fold: rulesImportFoldsIDs; refuseRenames: rulesImportConfirmsRenames,
// and the import was not started allowing renames).
type importOpts struct {
	skipInvalid, former, backupsAfter, moves, fold, refuseRenames bool
	keep                                                          keptFields
}

// rulesImportMovesPhones is the behaviour (muster.Rules) from which a row
// may take a phone from another person of the roster when a row of the same
// file, matched to that person by external ID, gives them other phones (a
// duty phone handed on, two numbers swapped): the file's own final state
// holds each phone once. Before, the row was refused and the number could
// only move in two imports.
const rulesImportMovesPhones = 10

// phoneMove is a phone a row takes from a person whom another row of the
// same file gives other phones.
type phoneMove struct {
	row, from int // the row taking the phone, the row of its holder
	phone     string
	holder    string // as personLabel names them
}

// personLabel names a person the way the roster keeper knows them: their
// external ID and name, or their name and internal ID when they have no
// external ID.
// externalHint names what a roster file gives for p as a backup: their
// external ID, else their first phone.
func externalHint(p Person) string {
	switch {
	case p.ExternalID != "":
		return ": give " + p.ExternalID
	case len(p.Phones) > 0:
		return ": give " + p.Phones[0]
	}
	return ""
}

func personLabel(p Person) string {
	if p.ExternalID != "" {
		return p.ExternalID + " " + p.Name
	}
	return fmt.Sprintf("%s (%s)", p.Name, p.ID)
}

// rulesBackupsAfterImport is the behaviour (muster.Rules) from which a
// backup named by a phone resolves as the roster will be after the import:
// a phone a row of the file takes from its holder names no one. Before,
// it named the holder, and the same file imported again was refused.
const rulesBackupsAfterImport = 8

// extFinder returns a function that finds the person an external ID of a
// file names: as it is compared (folded, with fold), else as given, else
// (folded) among the stored IDs that are not in folded form, which earlier
// imports kept as given.
func extFinder(tx *bolt.Tx, fold bool) func(id string) PersonID {
	byExt := tx.Bucket(bPeopleByExt)
	extKey := func(id string) string { return id }
	if fold {
		extKey = FoldExternalID
	}
	var unfolded map[string]string // folded → person; read on first need
	return func(id string) PersonID {
		key := extKey(id)
		if p := getString(byExt, key); p != "" || !fold {
			return PersonID(p)
		}
		if key != id {
			if p := getString(byExt, id); p != "" {
				return PersonID(p)
			}
		}
		if unfolded == nil {
			unfolded = map[string]string{}
			if byExt != nil {
				cur := byExt.Cursor()
				for k, v := cur.First(); k != nil; k, v = cur.Next() {
					if f := FoldExternalID(string(k)); f != string(k) {
						if _, dup := unfolded[f]; !dup { // the first in key order
							unfolded[f] = string(v)
						}
					}
				}
			}
		}
		return PersonID(unfolded[key])
	}
}

// rejectedBackups checks the backups of rows the file has errors on, so
// that they are listed with the rows' other problems: a backup that is
// no valid row's phone or 编号 nor a person's in the roster names no one,
// and one on another row with errors refers to it. rows are the valid
// rows; rejected the keys of the others (Roster.rejected).
func rejectedBackups(tx *bolt.Tx, bad, rows []RosterRow, rejected map[string]int) []RowError {
	if len(bad) == 0 {
		return nil
	}
	inFile := make(map[string]bool, 2*len(rows))
	for _, r := range rows {
		for _, ph := range r.Phones {
			inFile[ph] = true
		}
		if r.ExternalID != "" {
			inFile[FoldExternalID(r.ExternalID)] = true
		}
	}
	byPhone, personByExt := tx.Bucket(bPeopleByPhone), extFinder(tx, true)
	var errs []RowError
	for _, r := range bad {
		key := r.Backup
		if !strings.HasPrefix(key, "+") {
			key = FoldExternalID(key)
		}
		if inFile[key] {
			continue
		}
		if strings.HasPrefix(key, "+") && getString(byPhone, key) != "" || !strings.HasPrefix(key, "+") && personByExt(r.Backup) != "" {
			continue
		}
		reason := noBackupPerson
		if row, ok := rejected[key]; ok && row != r.Row {
			reason = fmt.Sprintf("refers to row %d, which has errors", row)
		}
		errs = append(errs, RowError{Row: r.Row, Field: "backup", Value: clip(r.Backup), Reason: reason})
	}
	return errs
}

// noBackupPerson is the reason given for a backup that resolves to no one.
const noBackupPerson = "no person in the file or the roster has this phone or external ID"

// stageRows is reconcile up to the writes, which it stages in puts; with
// puts nil it only counts (a dry run).
func stageRows(tx *bolt.Tx, rows []RosterRow, puts *sortedPuts, o importOpts) (ImportResult, error) {
	keep := o.keep
	write := puts != nil
	res := ImportResult{Rows: len(rows), DryRun: !write}
	var errs []RowError
	bad := make([]bool, len(rows))
	fail := func(i int, field, value, reason string) {
		bad[i] = true
		errs = append(errs, RowError{Row: rows[i].Row, Field: field, Value: value, Reason: reason})
	}
	byPhone := tx.Bucket(bPeopleByPhone)
	// extKey is the form in which external IDs are compared.
	extKey := func(id string) string { return id }
	if o.fold {
		extKey = FoldExternalID
	}
	personByExt := extFinder(tx, o.fold)

	// Keys within the file: a later duplicate is an error (the parser checks
	// this too; rows may also come from elsewhere).
	filePhone := make(map[string]int, len(rows))
	fileExt := map[string]int{}
	for i, r := range rows {
		for _, ph := range r.Phones {
			if j, dup := filePhone[ph]; dup {
				fail(i, "phone", ph, fmt.Sprintf("also on row %d", rows[j].Row))
				continue
			}
			filePhone[ph] = i
		}
		if r.ExternalID != "" {
			if j, dup := fileExt[extKey(r.ExternalID)]; dup {
				fail(i, "external_id", r.ExternalID, fmt.Sprintf("also on row %d", rows[j].Row))
				continue
			}
			fileExt[extKey(r.ExternalID)] = i
		}
	}

	// Grids and matches against the roster.
	grids := map[RegionCode]string{} // "" = a grid; otherwise why not
	match := make([]PersonID, len(rows))
	matchPhone := make([]string, len(rows)) // the phone a row without an external ID matched by
	claimed := map[PersonID]int{}
	var moves []phoneMove
	for i, r := range rows {
		why, seen := grids[r.Grid]
		if !seen {
			g, ok, err := getRegion(tx, r.Grid)
			switch {
			case err != nil:
				return res, err
			case !ok:
				why = "no such grid"
			case g.Kind != KindGrid:
				why = fmt.Sprintf("%s is a %s, not a grid", g.Label(), g.Kind)
			}
			grids[r.Grid] = why
		}
		if why != "" {
			fail(i, "grid", string(r.Grid), why)
		}
		var m PersonID
		if r.ExternalID != "" {
			m = personByExt(r.ExternalID)
		}
		for _, ph := range r.Phones {
			owner := PersonID(getString(byPhone, ph))
			if owner == "" || owner == m {
				continue
			}
			if m == "" && r.ExternalID == "" {
				m, matchPhone[i] = owner, ph // matched by phone
				continue
			}
			holder, _, err := getPerson(tx, owner)
			if err != nil {
				return res, err
			}
			if m == "" && holder.ExternalID == "" {
				m = owner // matched by phone; the row gives them its external ID
				continue
			}
			// The phone is another person's: it moves when a row of this
			// file, matched to them by external ID, gives them other phones.
			j, released := -1, false
			if holder.ExternalID != "" {
				j, released = fileExt[extKey(holder.ExternalID)]
				released = released && !slices.Contains(rows[j].Phones, ph)
			}
			who := personLabel(holder)
			switch {
			case released && o.moves:
				moves = append(moves, phoneMove{row: i, from: j, phone: ph, holder: who})
			case released:
				fail(i, "phone", ph, fmt.Sprintf("belongs to %s in the roster, whom row %d of this file gives other phones; "+
					"a number moves only once its holder has let it go (rules before %d): import the file without this number on row %d first, then as it is",
					who, rows[j].Row, rulesImportMovesPhones, r.Row))
			case holder.ExternalID != "":
				fail(i, "phone", ph, fmt.Sprintf("belongs to %s in the roster: a number moves to another person only when a valid row of the same file (编号 %s) gives its holder other phones; "+
					"add or correct that row, or take the number off them first", who, holder.ExternalID))
			default:
				fail(i, "phone", ph, fmt.Sprintf("belongs to %s in the roster, who has no external ID: take the number off them first", who))
			}
		}
		if m != "" {
			if j, dup := claimed[m]; dup {
				fail(i, "phone", strings.Join(r.Phones, ";"), fmt.Sprintf("row %d already updates person %s", rows[j].Row, m))
			}
			claimed[m] = i
		}
		match[i] = m
	}

	// Backups resolve to a row of the file or a person in the roster.
	resolveBackup := func(i int) (row int, id PersonID, ok bool) {
		ref := rows[i].Backup
		if strings.HasPrefix(ref, "+") {
			if j, in := filePhone[ref]; in {
				return j, "", true
			}
			if id := getString(byPhone, ref); id != "" {
				if _, updated := claimed[PersonID(id)]; updated && o.backupsAfter {
					return -1, PersonID(id), false // the file gives its holder other phones
				}
				return -1, PersonID(id), true
			}
			return -1, "", false
		}
		if j, in := fileExt[extKey(ref)]; in {
			return j, "", true
		}
		if id := personByExt(ref); id != "" {
			return -1, id, true
		}
		return -1, "", false
	}
	backupRow := make([]int, len(rows))
	backupID := make([]PersonID, len(rows))
	for i, r := range rows {
		backupRow[i] = -1
		if r.Backup == "" {
			continue
		}
		j, id, ok := resolveBackup(i)
		switch {
		case !ok && id != "":
			fail(i, "backup", r.Backup, fmt.Sprintf("is the phone of person %s in the roster, whom row %d of this file gives other phones: "+
				"name the backup by a phone they keep, or by their external ID", id, rows[claimed[id]].Row))
		case !ok:
			// muster's own ID, as person show gives it, is not what a file
			// names people by: say whose it is (the message only).
			if p, found, err := getPerson(tx, PersonID(r.Backup)); err == nil && found {
				fail(i, "backup", r.Backup, fmt.Sprintf("is muster's ID of %s: a roster file names a backup by a phone or by 编号 (external ID)%s",
					personLabel(p), externalHint(p)))
				continue
			}
			fail(i, "backup", r.Backup, noBackupPerson)
		case j == i || (id != "" && id == match[i]):
			fail(i, "backup", r.Backup, "a person cannot be their own backup")
		default:
			backupRow[i], backupID[i] = j, id
		}
	}
	// With skip_invalid, a row whose backup is a skipped row is skipped too,
	// and so is a row taking a phone from a person whose row is skipped (who
	// keeps it). Repeat until nothing changes: chains of backups and moves.
	for changed := true; changed; {
		changed = false
		for i := range rows {
			if !bad[i] && backupRow[i] >= 0 && bad[backupRow[i]] {
				fail(i, "backup", rows[i].Backup, fmt.Sprintf("refers to row %d, which has errors", rows[backupRow[i]].Row))
				changed = true
			}
		}
		for _, mv := range moves {
			if !bad[mv.row] && bad[mv.from] {
				fail(mv.row, "phone", mv.phone, fmt.Sprintf("belongs to %s in the roster, whom row %d gives other phones, but that row has errors: they keep it",
					mv.holder, rows[mv.from].Row))
				changed = true
			}
		}
	}

	slices.SortStableFunc(errs, func(a, b RowError) int { return a.Row - b.Row })
	res.ErrorCount = len(errs)
	res.Errors = errs
	if len(errs) > MaxReportedErrors {
		res.Errors = errs[:MaxReportedErrors]
	}
	if len(errs) > 0 && !o.skipInvalid {
		e := muster.Errorf(muster.EInvalid, "%s in %s; nothing was imported (first: %s)", muster.Count(len(errs), "problem", "problems"), muster.Count(countTrue(bad), "row", "rows"), errs[0].Error())
		e.Details = res
		return res, e
	}

	// Assign IDs to new people in row order, then compare and write.
	pb := tx.Bucket(bPeople)
	if write {
		pb = bucket(tx, bPeople)
	}
	ids := make([]PersonID, len(rows))
	olds := make([]*Person, len(rows))
	for i := range rows {
		if bad[i] {
			res.Skipped++
			continue
		}
		if match[i] != "" {
			ids[i] = match[i]
			var old Person
			if _, err := getJSON(pb, string(match[i]), &old); err != nil {
				return res, err
			}
			olds[i] = &old
			if matchPhone[i] != "" && old.Name != rows[i].Name {
				rn := Rename{Row: rows[i].Row, Person: old.ID, Phone: matchPhone[i], OldName: old.Name, NewName: rows[i].Name}
				if old.Grid != rows[i].Grid {
					rn.OldGrid, rn.NewGrid = old.Grid, rows[i].Grid
				}
				if res.RenamedCount++; len(res.Renamed) < MaxReportedErrors {
					res.Renamed = append(res.Renamed, rn)
				}
			}
			continue
		}
		if write {
			seq, err := pb.NextSequence()
			if err != nil {
				return res, err
			}
			ids[i] = personKey(seq)
		}
	}
	if o.refuseRenames && res.RenamedCount > 0 {
		return res, renameRefusal(res)
	}
	if write {
		// Room for every write up front: growing the lists one append at a
		// time would copy them several times over for a million rows.
		var people, phones, exts int
		for i, r := range rows {
			if !bad[i] {
				people, phones = people+1, phones+len(r.Phones)
				if r.ExternalID != "" || olds[i] != nil && olds[i].ExternalID != "" {
					exts++
				}
			}
		}
		puts.reserve(bPeople, people)
		puts.reserve(bPeopleByGrid, people)
		puts.reserve(bPeopleByPhone, phones)
		puts.reserve(bPeopleByExt, exts)
	}
	for i, r := range rows {
		if bad[i] {
			continue
		}
		p := Person{ID: ids[i], ExternalID: extKey(r.ExternalID), Name: r.Name, Phones: r.Phones, Grid: r.Grid,
			Category: r.Category, Tags: r.Tags, Teams: r.Teams, Language: r.Language}
		if backupRow[i] >= 0 {
			p.Backup = ids[backupRow[i]]
		} else {
			p.Backup = backupID[i]
		}
		if old := olds[i]; old != nil {
			if p.ExternalID == "" {
				p.ExternalID = old.ExternalID
			}
			if keep.tags {
				p.Tags = old.Tags
			}
			if keep.teams {
				p.Teams = old.Teams
			}
			if keep.backup {
				p.Backup = old.Backup
			}
			if keep.language {
				p.Language = old.Language
			}
		}
		switch {
		case olds[i] == nil:
			res.Created++
		case olds[i].Equal(p):
			res.Unchanged++
			continue
		default:
			res.Updated++
		}
		if write {
			if err := stagePerson(tx, puts, olds[i], p); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

func countTrue(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}
