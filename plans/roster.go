package plans

import (
	"cmp"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"

	"muster"
)

// Roster is a parsed roster import (人员名单): the rows that passed every check
// and a RowError for each problem found. A row with any error is not in Rows.
type Roster struct {
	Rows     []RosterRow `json:"rows"`
	Errors   []RowError  `json:"errors,omitempty"` // ordered by row
	Encoding string      `json:"encoding"`         // one of the Encoding* constants
	Format   string      `json:"format"`           // one of the Format* constants

	// rejected maps the phones and external IDs of rows with errors to their
	// row, so that CheckReferences can say why a backup does not resolve.
	rejected map[string]int
}

// RosterRow is one person as read from an import file, before it is matched
// against the roster in state.
type RosterRow struct {
	Row        int        `json:"row"` // spreadsheet row number; the header is usually row 1
	ExternalID string     `json:"external_id,omitempty"`
	Name       string     `json:"name"`
	Phones     []string   `json:"phones"` // E.164, at least one; the first is called first
	Grid       RegionCode `json:"grid"`   // 15 digits; whether it exists is checked by CheckReferences
	Category   Category   `json:"category"`
	Tags       []string   `json:"tags,omitempty"`
	Teams      []string   `json:"teams,omitempty"`
	Backup     string     `json:"backup,omitempty"` // an E.164 phone, or an external ID as given
	Language   Language   `json:"language"`
}

// RowError is one problem with one cell of an import file.
type RowError struct {
	Row    int    `json:"row"`   // spreadsheet row number
	Field  string `json:"field"` // external_id, name, phone, grid, category, tags, teams, backup, language (regions: code, name, kind, parent), or a column letter
	Value  string `json:"value"` // the cell (or the part of it) at fault, as given
	Reason string `json:"reason"`
}

// Error formats the problem for a person: row, field, value and reason.
func (e RowError) Error() string {
	return fmt.Sprintf("row %d, %s %q: %s", e.Row, e.Field, e.Value, e.Reason)
}

// Roster import fields, in column order of the generated files.
const (
	colExternalID = iota
	colName
	colPhone
	colGrid
	colCategory
	colTags
	colTeams
	colBackup
	colLanguage
	numRosterCols
)

// rosterColumns are the columns a roster file may have; header names are
// matched case-insensitively with surrounding spaces ignored.
var rosterColumns = [numRosterCols]column{
	colExternalID: {field: "external_id", names: []string{"编号", "工号", "id", "external_id"}},
	colName:       {field: "name", names: []string{"姓名", "name"}, required: true},
	colPhone:      {field: "phone", names: []string{"手机", "手机号", "电话", "phone", "phones"}, required: true},
	colGrid:       {field: "grid", names: []string{"网格", "网格编码", "grid"}, required: true},
	colCategory:   {field: "category", names: []string{"类别", "人员类别", "category"}, required: true},
	colTags:       {field: "tags", names: []string{"标签", "tags"}},
	colTeams:      {field: "teams", names: []string{"队伍", "team", "teams"}},
	colBackup:     {field: "backup", names: []string{"备用联系人", "backup"}},
	colLanguage:   {field: "language", names: []string{"语言", "language"}},
}

// ParseRoster reads a roster file: an .xlsx workbook (recognised by its
// content; the sheet named 名单 or roster, else the first) or CSV/TSV text in
// UTF-8, UTF-8 with BOM, UTF-16 with BOM or GBK (recognised by content).
//
// The header names the columns in Chinese or English; name, phone, grid and
// category are required, and an unknown or missing column fails the whole
// file with an EInvalid error listing the columns found. Otherwise the
// result holds every valid row and one RowError per problem: empty name,
// each bad phone, malformed grid code, unknown category or language, a phone
// or external ID already used on an earlier row, a person who is their own
// backup, a value in a column without a header. Whether grids exist and
// backups resolve is left to CheckReferences.
//
// The error is non-nil (and the roster nil) only when the file as a whole
// cannot be read: too large (ETooLarge), not a table, wrong encoding or header
// (EInvalid), or an I/O error from r.
func ParseRoster(r io.Reader) (*Roster, error) {
	t, err := openTable(r, "roster", "名单", "roster")
	if err != nil {
		return nil, err
	}
	defer t.close()
	if err := t.readHeader("roster", knownColumn(rosterColumns[:])); err != nil {
		return nil, err
	}
	idx, err := mapColumns("roster", t.header, rosterColumns[:])
	if err != nil {
		return nil, err
	}
	p := rosterParser{width: len(t.header)}
	copy(p.idx[:], idx)
	for i, h := range t.header {
		if headerKey(h) == "" {
			p.unnamed = append(p.unnamed, i)
		}
	}
	ro := &Roster{Encoding: t.encoding, Format: t.format}
	if err := p.run(t, ro); err != nil {
		return nil, err
	}
	return ro, nil
}

func knownColumn(cols []column) func(string) bool {
	return func(k string) bool {
		for _, c := range cols {
			if slices.Contains(c.names, k) {
				return true
			}
		}
		return false
	}
}

// rosterParser turns records into rows. Records are read in one goroutine,
// checked cell by cell (the costly part: phone numbers) by a pool of
// workers, and merged in file order by the caller, which also finds the
// duplicates.
type rosterParser struct {
	idx     [numRosterCols]int // column of each field, -1 if absent
	width   int                // header width
	unnamed []int              // columns with an empty header
}

// rosterChunkSize is the number of records handed to a worker at once.
const rosterChunkSize = 2048

// rosterChunk is a run of records, each padded or cut to the header width.
type rosterChunk struct {
	rows   []int
	cells  []string // width cells per record
	errs   []RowError
	failed []int // records (index in rows) with an error in errs
}

// rosterBatch is a chunk after the per-cell checks.
type rosterBatch struct {
	rows    []RosterRow
	bad     []bool   // the row has an error
	backups []string // the backup cell as a phone, "" if it is not one
	errs    []RowError
}

func (p *rosterParser) run(t *table, ro *Roster) error {
	type job struct {
		c   *rosterChunk
		out chan *rosterBatch
	}
	workers := max(1, runtime.GOMAXPROCS(0))
	jobs := make(chan job, workers)
	order := make(chan chan *rosterBatch, 2*workers)
	var readErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // reader: owns t until it closes order
		defer wg.Done()
		defer close(order)
		defer close(jobs)
		c := p.newChunk()
		flush := func() {
			out := make(chan *rosterBatch, 1)
			jobs <- job{c, out}
			order <- out
			c = p.newChunk()
		}
		for {
			cells, row, err := t.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				readErr = err
				break
			}
			if p.add(c, cells, row) && len(c.rows) == rosterChunkSize {
				flush()
			}
		}
		if len(c.rows) > 0 || len(c.errs) > 0 {
			flush()
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				j.out <- p.check(j.c)
			}
		}()
	}
	m := newRosterMerger(ro)
	for out := range order {
		m.merge(<-out)
	}
	wg.Wait()
	if readErr != nil {
		return readErr
	}
	m.finish()
	return nil
}

func (p *rosterParser) newChunk() *rosterChunk {
	return &rosterChunk{
		rows:  make([]int, 0, rosterChunkSize),
		cells: make([]string, 0, rosterChunkSize*p.width),
	}
}

// add appends one record to c, skipping blank records; it reports whether
// the record was added. Values beyond the header width are errors.
func (p *rosterParser) add(c *rosterChunk, cells []string, row int) bool {
	blank := true
	for _, s := range cells {
		if strings.TrimSpace(s) != "" {
			blank = false
			break
		}
	}
	if blank {
		return false
	}
	nerr := len(c.errs)
	for i := p.width; i < len(cells); i++ {
		if v := strings.TrimSpace(cells[i]); v != "" {
			c.errs = append(c.errs, RowError{Row: row, Field: "column " + columnLetter(i), Value: v,
				Reason: "value in a column without a header: add a header or delete the value"})
		}
	}
	if len(c.errs) > nerr {
		c.failed = append(c.failed, len(c.rows))
	}
	c.rows = append(c.rows, row)
	n := min(len(cells), p.width)
	c.cells = append(c.cells, cells[:n]...)
	for range p.width - n {
		c.cells = append(c.cells, "")
	}
	return true
}

// check runs the per-cell checks of one chunk; it touches no shared state.
func (p *rosterParser) check(c *rosterChunk) *rosterBatch {
	n := len(c.rows)
	b := &rosterBatch{
		rows:    make([]RosterRow, n),
		bad:     make([]bool, n),
		backups: make([]string, n),
		errs:    c.errs,
	}
	phones := make([]string, 0, n+n/4) // backing store for Phones of the whole chunk
	var lists []string                 // backing store for Tags and Teams
	for i := range n {
		rec := c.cells[i*p.width : (i+1)*p.width]
		row := &b.rows[i]
		row.Row = c.rows[i]
		nerr := len(b.errs)
		fail := func(field, value, reason string) {
			b.errs = append(b.errs, RowError{Row: row.Row, Field: field, Value: value, Reason: reason})
		}
		cell := func(col int) string {
			if j := p.idx[col]; j >= 0 {
				return strings.TrimSpace(rec[j])
			}
			return ""
		}
		row.ExternalID = cell(colExternalID)
		if row.Name = cell(colName); row.Name == "" {
			fail("name", "", "name is empty")
		}
		start := len(phones)
		phones = appendPhones(phones, cell(colPhone), func(v, reason string) { fail("phone", v, reason) })
		row.Phones = phones[start:len(phones):len(phones)]
		if len(row.Phones) == 0 && len(b.errs) == nerr {
			fail("phone", "", "phone is empty: at least one number is needed")
		}
		grid := cell(colGrid)
		row.Grid = RegionCode(grid)
		if reason := gridCodeProblem(grid); reason != "" {
			fail("grid", grid, reason)
		}
		if v := cell(colCategory); v == "" {
			fail("category", "", "category is empty: want one of "+strings.Join(categoryList(), "/"))
		} else if cat, err := ParseCategory(v); err != nil {
			fail("category", v, err.Error())
		} else {
			row.Category = cat
		}
		start = len(lists)
		lists = appendList(lists, cell(colTags))
		row.Tags = lists[start:len(lists):len(lists)]
		start = len(lists)
		lists = appendList(lists, cell(colTeams))
		row.Teams = lists[start:len(lists):len(lists)]
		if len(row.Tags) == 0 {
			row.Tags = nil
		}
		if len(row.Teams) == 0 {
			row.Teams = nil
		}
		if row.Backup = cell(colBackup); row.Backup != "" {
			if ph, err := NormalizePhone(row.Backup); err == nil {
				b.backups[i] = ph
			}
		}
		v := cell(colLanguage)
		if lang, err := ParseLanguage(v); err != nil {
			fail("language", v, err.Error())
		} else {
			row.Language = lang
		}
		for _, j := range p.unnamed {
			if v := strings.TrimSpace(rec[j]); v != "" {
				fail("column "+columnLetter(j), v, "value in a column without a header: add a header or delete the value")
			}
		}
		b.bad[i] = len(b.errs) > nerr
	}
	for _, i := range c.failed {
		b.bad[i] = true
	}
	return b
}

// gridCodeProblem says what is wrong with a grid code, or "".
func gridCodeProblem(s string) string {
	switch {
	case s == "":
		return "grid is empty: want the grid's 15-digit code"
	case len(s) == 15 && allDigits(s):
		return ""
	case strings.ContainsAny(s, "eE") && strings.Trim(s, "0123456789.eE+") == "":
		return "Excel shortened the code to a number in exponent form: format the grid column as text and enter the 15 digits again"
	case len(s) == 12 && allDigits(s):
		return "this is a community code (12 digits): a grid code has 15 digits, the community's 12 and the grid's 3"
	}
	return "want 15 digits: the community's 12-digit code and the grid's 3 (e.g. 990101001001001)"
}

// phoneSeparators separate several numbers in one phone cell; spaces do too,
// when the cell does not read as one number with spaces in it.
const phoneSeparators = ";；,，/、|\n"

// appendPhones appends the numbers in cell to dst in E.164, dropping
// repeats, and calls bad for each part that is not a valid number.
func appendPhones(dst []string, cell string, bad func(value, reason string)) []string {
	if cell == "" {
		return dst
	}
	if !strings.ContainsAny(cell, phoneSeparators) {
		return appendPhonePart(dst, len(dst), cell, bad)
	}
	start := len(dst)
	for part := range strings.FieldsFuncSeq(cell, func(r rune) bool { return strings.ContainsRune(phoneSeparators, r) }) {
		if part = strings.TrimSpace(part); part != "" {
			dst = appendPhonePart(dst, start, part, bad)
		}
	}
	return dst
}

// appendPhonePart reads part as one number or, failing that, as several
// separated by spaces (grouping words until they make a valid number).
func appendPhonePart(dst []string, start int, part string, bad func(value, reason string)) []string {
	add := func(p string) {
		if !slices.Contains(dst[start:], p) {
			dst = append(dst, p)
		}
	}
	ph, err := NormalizePhone(part)
	if err == nil {
		add(ph)
		return dst
	}
	words := strings.Fields(part)
	if len(words) < 2 {
		bad(part, reasonOf(err))
		return dst
	}
	var got []string
	for i := 0; i < len(words); {
		j := i
		for ; j < len(words); j++ {
			if ph, err := NormalizePhone(strings.Join(words[i:j+1], " ")); err == nil {
				got = append(got, ph)
				break
			}
		}
		if j == len(words) {
			bad(part, reasonOf(err))
			return dst
		}
		i = j + 1
	}
	for _, ph := range got {
		add(ph)
	}
	return dst
}

func reasonOf(err error) string {
	if e, ok := err.(*muster.Error); ok {
		return e.Message
	}
	return err.Error()
}

// listSeparators separate tags or teams in one cell.
const listSeparators = ";；,，、|\n"

// appendList appends the distinct non-empty items of cell to dst.
func appendList(dst []string, cell string) []string {
	if cell == "" {
		return dst
	}
	start := len(dst)
	for item := range strings.FieldsFuncSeq(cell, func(r rune) bool { return strings.ContainsRune(listSeparators, r) }) {
		if item = strings.TrimSpace(item); item != "" && !slices.Contains(dst[start:], item) {
			dst = append(dst, item)
		}
	}
	return dst
}

// rosterMerger collects checked batches in file order and finds what needs
// the whole file: repeated phones and external IDs, and self-backups.
type rosterMerger struct {
	ro      *Roster
	phones  map[string]int // phone → first row that has it
	ext     map[string]int // external ID → first row that has it
	backups []string       // parallel to ro.Rows: the backup cell as a phone, or ""
}

func newRosterMerger(ro *Roster) *rosterMerger {
	return &rosterMerger{ro: ro, phones: map[string]int{}, ext: map[string]int{}}
}

func (m *rosterMerger) merge(b *rosterBatch) {
	m.ro.Errors = append(m.ro.Errors, b.errs...)
	for i := range b.rows {
		row := &b.rows[i]
		bad := b.bad[i]
		if id := row.ExternalID; id != "" {
			if first, ok := m.ext[id]; ok {
				m.fail(row.Row, "external_id", id, fmt.Sprintf("external ID already used on row %d", first))
				bad = true
			} else {
				m.ext[id] = row.Row
			}
		}
		for _, ph := range row.Phones {
			if first, ok := m.phones[ph]; ok {
				m.fail(row.Row, "phone", ph, fmt.Sprintf("phone already used on row %d", first))
				bad = true
			} else {
				m.phones[ph] = row.Row
			}
		}
		if bad {
			m.reject(row)
			continue
		}
		m.ro.Rows = append(m.ro.Rows, *row)
		m.backups = append(m.backups, b.backups[i])
	}
}

func (m *rosterMerger) fail(row int, field, value, reason string) {
	m.ro.Errors = append(m.ro.Errors, RowError{Row: row, Field: field, Value: value, Reason: reason})
}

func (m *rosterMerger) reject(row *RosterRow) {
	if m.ro.rejected == nil {
		m.ro.rejected = map[string]int{}
	}
	for _, ph := range row.Phones {
		if _, ok := m.ro.rejected[ph]; !ok {
			m.ro.rejected[ph] = row.Row
		}
	}
	if row.ExternalID != "" {
		if _, ok := m.ro.rejected[row.ExternalID]; !ok {
			m.ro.rejected[row.ExternalID] = row.Row
		}
	}
}

// finish settles each backup: a value that is an external ID in the file
// stays as given, otherwise a valid phone becomes E.164, otherwise it is kept
// as given for CheckReferences. A person named as their own backup is an
// error. Errors end up ordered by row.
func (m *rosterMerger) finish() {
	rows := m.ro.Rows[:0]
	for i, row := range m.ro.Rows {
		if row.Backup != "" {
			given := row.Backup
			if _, isExt := m.ext[given]; !isExt && m.backups[i] != "" {
				row.Backup = m.backups[i]
			}
			if row.Backup == row.ExternalID || slices.Contains(row.Phones, row.Backup) {
				m.fail(row.Row, "backup", given, "a person cannot be their own backup: name someone else's phone or 编号")
				m.reject(&row)
				continue
			}
		}
		rows = append(rows, row)
	}
	clear(m.ro.Rows[len(rows):])
	m.ro.Rows = rows
	slices.SortStableFunc(m.ro.Errors, func(a, b RowError) int { return cmp.Compare(a.Row, b.Row) })
}

// CheckReferences checks what ParseRoster cannot know alone: that each row's
// grid exists (gridExists) and that each backup is a person, either a valid
// row of this roster or someone personByPhoneOrExt finds by E.164 phone or
// external ID. It returns one RowError per unresolved reference, ordered by
// row; a nil function skips its check. Each distinct grid is asked about once.
func (r *Roster) CheckReferences(gridExists func(RegionCode) bool, personByPhoneOrExt func(string) bool) []RowError {
	var errs []RowError
	grids := map[RegionCode]bool{}
	var inFile map[string]bool
	for _, row := range r.Rows {
		if gridExists != nil {
			ok, seen := grids[row.Grid]
			if !seen {
				ok = gridExists(row.Grid)
				grids[row.Grid] = ok
			}
			if !ok {
				errs = append(errs, RowError{Row: row.Row, Field: "grid", Value: string(row.Grid),
					Reason: "no grid has this code: import the regions first or correct the code"})
			}
		}
		if row.Backup == "" || personByPhoneOrExt == nil {
			continue
		}
		if inFile == nil {
			inFile = r.keys()
		}
		switch first, rejected := r.rejected[row.Backup]; {
		case inFile[row.Backup]:
		case personByPhoneOrExt(row.Backup):
		case rejected:
			errs = append(errs, RowError{Row: row.Row, Field: "backup", Value: row.Backup,
				Reason: fmt.Sprintf("the backup is on row %d, which has errors: fix that row first", first)})
		default:
			errs = append(errs, RowError{Row: row.Row, Field: "backup", Value: row.Backup,
				Reason: "no person has this phone or external ID, in this file or in the roster"})
		}
	}
	return errs
}

// keys returns the phones and external IDs of the valid rows.
func (r *Roster) keys() map[string]bool {
	k := make(map[string]bool, 2*len(r.Rows))
	for _, row := range r.Rows {
		for _, ph := range row.Phones {
			k[ph] = true
		}
		if row.ExternalID != "" {
			k[row.ExternalID] = true
		}
	}
	return k
}
