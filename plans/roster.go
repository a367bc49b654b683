package plans

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"io"
	"iter"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"muster"
)

// Roster is a parsed roster import (人员名单): the rows that passed every check
// and a RowError for each problem found. A row with any error is not in Rows.
type Roster struct {
	Rows     []RosterRow `json:"rows"`
	Errors   []RowError  `json:"errors,omitempty"` // ordered by row
	Encoding string      `json:"encoding"`         // one of the Encoding* constants
	Format   string      `json:"format"`           // one of the Format* constants
	// Absent are the optional fields the file has no column for (tags,
	// teams, backup, language): an import leaves them as they are on the
	// people it updates.
	Absent []string `json:"absent,omitempty"`

	// rejected maps the phones and external IDs of rows with errors to their
	// row, so that CheckReferences can say why a backup does not resolve.
	rejected map[string]int
	// rejectedBackups are the rows with errors that name a backup (as a
	// valid row's would be kept: E.164 when a phone), so that an import
	// lists a backup naming no one among their other problems.
	rejectedBackups []RosterRow
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
// matched as headerKey reads them: in any case, with no heed to spaces
// (anywhere in the name) or underscores.
var rosterColumns = [numRosterCols]column{
	colExternalID: {field: "external_id", names: []string{"编号", "工号", "id", "external_id"}},
	colName:       {field: "name", names: []string{"姓名", "name"}, required: true},
	colPhone:      {field: "phone", names: []string{"手机", "手机号", "电话", "手机号码", "联系电话", "phone", "phones"}, required: true},
	colGrid:       {field: "grid", names: []string{"网格", "网格编码", "grid"}, required: true},
	colCategory:   {field: "category", names: []string{"类别", "人员类别", "category"}, required: true},
	colTags:       {field: "tags", names: []string{"标签", "tags"}},
	colTeams:      {field: "teams", names: []string{"队伍", "team", "teams"}},
	colBackup:     {field: "backup", names: []string{"备用联系人", "backup"}},
	colLanguage:   {field: "language", names: []string{"语言", "language"}},
}

// ignoredRosterColumns are columns nearly every Chinese roster has that the
// import knowingly leaves out: the row number and the remarks.
var ignoredRosterColumns = []string{"序号", "备注"}

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
	if err := t.readHeader("roster", knownColumn(rosterColumns[:], ignoredRosterColumns...)); err != nil {
		return nil, err
	}
	idx, err := mapColumns("roster", t.header, rosterColumns[:], ignoredRosterColumns...)
	if err != nil {
		if e, ok := err.(*muster.Error); ok {
			if hint := numberedPhoneColumns(t.header); hint != "" {
				e.Message += "; " + hint
			}
			if msg := t.titleOverflow("roster", knownColumn(rosterColumns[:], ignoredRosterColumns...)); msg != "" {
				e.Message = msg
			}
			if t.sheet != "" {
				e.Message += fmt.Sprintf(" (header row %d of %s)", t.headerRow, t.sheet)
			}
		}
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
	for _, col := range []int{colTags, colTeams, colBackup, colLanguage} {
		if p.idx[col] < 0 {
			ro.Absent = append(ro.Absent, rosterColumns[col].field)
		}
	}
	if err := p.run(t, ro); err != nil {
		return nil, err
	}
	return ro, nil
}

// numberedPhoneColumns says, when header has phone columns with a number
// after the name (手机号码1, 手机号码2, phone 2), that one phone column takes
// all of a person's numbers; otherwise "".
func numberedPhoneColumns(header []string) string {
	var numbered []string
	for _, h := range header {
		k := headerKey(h)
		base := strings.TrimRightFunc(k, func(r rune) bool {
			return unicode.IsDigit(r) || strings.ContainsRune("一二三四五六七八九十", r)
		})
		if base != k && slices.Contains(rosterColumns[colPhone].names, base) {
			numbered = append(numbered, strconv.Quote(trimCell(h)))
		}
	}
	if len(numbered) == 0 {
		return ""
	}
	return "there is one phone column (" + strings.Join(numbered, ", ") + " are refused): put all of a person's numbers in its cell, separated by ; , / 、 or spaces, e.g. 13800138000;13900139000"
}

// knownColumn reports whether a header key (headerKey) names one of cols or
// one of the ignored columns.
func knownColumn(cols []column, ignored ...string) func(string) bool {
	known := map[string]bool{}
	for _, c := range cols {
		for _, n := range c.names {
			known[headerKey(n)] = true
		}
	}
	for _, n := range ignored {
		known[headerKey(n)] = true
	}
	return func(k string) bool { return known[k] }
}

// rosterParser turns records into rows. Records are read in one goroutine,
// checked cell by cell (the costly part: phone numbers) by a pool of
// workers, and merged in file order by the caller, which also finds the
// duplicates.
type rosterParser struct {
	idx     [numRosterCols]int // column of each field, -1 if absent
	width   int                // header width
	unnamed []int              // columns with an empty header
	dest    []RosterRow        // when the number of records is bounded: every row, in place
}

// rosterChunkSize is the number of records handed to a worker at once.
const rosterChunkSize = 2048

// rosterChunk is a run of records, each padded or cut to the header width.
type rosterChunk struct {
	base   int      // number of records before this chunk
	rows   []int    // spreadsheet row of each record
	cells  []string // width cells per record
	errs   []RowError
	failed []int // records (index in rows) with an error in errs
}

// rosterBatch is a chunk after the per-cell checks.
type rosterBatch struct {
	base    int         // number of records before this batch
	rows    []RosterRow // in p.dest when it has room, else allocated
	bad     []bool      // the row has an error
	backups []string    // the backup cell as a phone, "" if it is not one
	phones  []string    // the phone cell as written
	errs    []RowError
}

// run reads the records of t into ro: rows, row errors, duplicates. It
// returns only when every goroutine it started has ended.
func (p *rosterParser) run(t *table, ro *Roster) error {
	type job struct {
		c   *rosterChunk
		out chan *rosterBatch
	}
	workers := max(1, runtime.GOMAXPROCS(0))
	jobs := make(chan job, workers)
	order := make(chan chan *rosterBatch, 2*workers)
	free := make(chan *rosterChunk, 4*workers) // checked chunks, for reuse
	if t.maxRecords > 0 {
		p.dest = make([]RosterRow, t.maxRecords)
	}
	var readErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // reader: owns t until it closes order
		defer wg.Done()
		defer close(order)
		defer close(jobs)
		records := 0
		c := p.newChunk(free)
		flush := func() {
			c.base = records
			records += len(c.rows)
			out := make(chan *rosterBatch, 1)
			jobs <- job{c, out}
			order <- out
			c = p.newChunk(free)
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
				b := p.check(j.c)
				j.c.reset()
				select {
				case free <- j.c:
				default:
				}
				j.out <- b
			}
		}()
	}
	m := newRosterMerger(ro, t.sizeHint)
	for out := range order {
		m.merge(<-out)
	}
	wg.Wait()
	if readErr != nil {
		return readErr
	}
	m.finish(p.dest)
	return nil
}

// newChunk takes a chunk from free, or makes one.
func (p *rosterParser) newChunk(free chan *rosterChunk) *rosterChunk {
	select {
	case c := <-free:
		return c
	default:
	}
	return &rosterChunk{
		rows:  make([]int, 0, rosterChunkSize),
		cells: make([]string, 0, rosterChunkSize*p.width),
	}
}

// reset empties c for reuse; the strings it held live on in the rows made
// from them.
func (c *rosterChunk) reset() {
	clear(c.cells)
	c.rows, c.cells, c.errs, c.failed = c.rows[:0], c.cells[:0], nil, c.failed[:0]
}

// add appends one record to c, skipping blank records; it reports whether
// the record was added. Values beyond the header width are errors.
func (p *rosterParser) add(c *rosterChunk, cells []string, row int) bool {
	blank := true
	for _, s := range cells {
		if trimCell(s) != "" {
			blank = false
			break
		}
	}
	if blank {
		return false
	}
	nerr := len(c.errs)
	for i := p.width; i < len(cells); i++ {
		if v := trimCell(cells[i]); v != "" {
			c.errs = append(c.errs, RowError{Row: row, Field: "column " + columnLetter(i), Value: clip(v),
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
		base:    c.base,
		bad:     make([]bool, n),
		backups: make([]string, n),
		phones:  make([]string, n),
		errs:    c.errs,
	}
	if c.base+n <= len(p.dest) {
		b.rows = p.dest[c.base : c.base+n : c.base+n]
	} else {
		b.rows = make([]RosterRow, n)
	}
	phones := make([]string, 0, n+n/4) // backing store for Phones of the whole chunk
	var lists []string                 // backing store for Tags and Teams
	for i := range n {
		rec := c.cells[i*p.width : (i+1)*p.width]
		row := &b.rows[i]
		row.Row = c.rows[i]
		nerr := len(b.errs)
		fail := func(field, value, reason string) {
			b.errs = append(b.errs, RowError{Row: row.Row, Field: field, Value: clip(value), Reason: reason})
		}
		cell := func(col int) string {
			if j := p.idx[col]; j >= 0 {
				return trimCell(rec[j])
			}
			return ""
		}
		row.ExternalID = cell(colExternalID)
		if row.Name = cell(colName); row.Name == "" {
			fail("name", "", "name is empty")
		} else if reason := nameProblem(row.Name); reason != "" {
			fail("name", row.Name, reason)
		} else if strings.ContainsAny(row.Name, "?？") {
			fail("name", row.Name, lostCharacter)
		}
		start, phoneErrs := len(phones), len(b.errs)
		b.phones[i] = cell(colPhone)
		phones = appendPhones(phones, b.phones[i], func(v, reason string) { fail("phone", v, reason) })
		row.Phones = phones[start:len(phones):len(phones)]
		if len(row.Phones) == 0 && len(b.errs) == phoneErrs { // a row without a name is told of its phone too
			fail("phone", "", "phone is empty: at least one number is needed")
		} else if reason := landlineFirstProblem(row.Phones); reason != "" {
			fail("phone", cell(colPhone), reason)
		}
		grid := cell(colGrid)
		row.Grid = RegionCode(grid)
		if reason := gridCodeProblem(grid); reason != "" {
			fail("grid", grid, reason)
		}
		if v := cell(colCategory); v == "" {
			fail("category", "", "category is empty: want one of "+strings.Join(categoryList(), "/"))
		} else if cat, err := parseCategory(v); err != nil {
			fail("category", v, err.Error())
		} else {
			row.Category = cat
		}
		start = len(lists)
		lists = appendList(lists, cell(colTags), func(v string) { fail("tags", v, tooManyItems) })
		row.Tags = lists[start:len(lists):len(lists)]
		start = len(lists)
		lists = appendList(lists, cell(colTeams), func(v string) { fail("teams", v, tooManyItems) })
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
		if lang, err := ParseLanguage(clip(v)); err != nil {
			fail("language", v, err.Error())
		} else {
			row.Language = lang
		}
		for _, j := range p.unnamed {
			if v := trimCell(rec[j]); v != "" {
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
const phoneSeparators = ";；,，/／、|｜\n"

// phoneParts yields the parts of cell between phoneSeparators (； ， 、 as
// well as ; and ,), trimmed, leaving out empty ones; a cell without a
// separator is yielded whole, as it is.
func phoneParts(cell string) iter.Seq[string] {
	return func(yield func(string) bool) {
		if !hasSeparator(cell, phoneSeparators) {
			yield(cell)
			return
		}
		for part := range strings.FieldsFuncSeq(cell, func(r rune) bool { return strings.ContainsRune(phoneSeparators, r) }) {
			if part = trimCell(part); part != "" && !yield(part) {
				return
			}
		}
	}
}

// appendPhones appends the numbers in cell to dst in E.164, dropping
// repeats, and calls bad for each part that is not a valid number.
func appendPhones(dst []string, cell string, bad func(value, reason string)) []string {
	if cell == "" {
		return dst
	}
	start, parts := len(dst), 0
	for part := range phoneParts(cell) {
		if parts++; parts > maxPhonesPerCell {
			bad(cell, fmt.Sprintf("more than %d numbers in one cell", maxPhonesPerCell))
			return dst[:start]
		}
		dst = appendPhonePart(dst, start, part, bad)
	}
	return dst
}

// appendPhonePart reads part as one number or, failing that, as several
// separated by spaces: each number is the fewest words (at most
// maxPhoneWords, as in "+86 138 0013 8000") that make a valid number. A
// valid number that is no person's (a 400 or 800 hotline) is bad.
func appendPhonePart(dst []string, start int, part string, bad func(value, reason string)) []string {
	add := func(value, p string, typ phonenumbers.PhoneNumberType) {
		if reason := serviceNumberProblem(value, typ); reason != "" {
			bad(value, reason)
		} else if !slices.Contains(dst[start:], p) {
			dst = append(dst, p)
		}
	}
	ph, typ, err := normalizePhoneType(part)
	if err == nil {
		add(part, ph, typ)
		return dst
	}
	words := strings.Fields(part)
	if len(words) < 2 || len(words) > maxPhonesPerCell*maxPhoneWords {
		bad(part, reasonOf(err))
		return dst
	}
	type number struct {
		value, e164 string
		typ         phonenumbers.PhoneNumberType
	}
	var got []number
	for i := 0; i < len(words); {
		j := i
		for ; j < min(len(words), i+maxPhoneWords); j++ {
			value := strings.Join(words[i:j+1], " ")
			if ph, typ, err := normalizePhoneType(value); err == nil {
				got = append(got, number{value, ph, typ})
				break
			}
		}
		if j == min(len(words), i+maxPhoneWords) {
			bad(part, reasonOf(err))
			return dst
		}
		i = j + 1
	}
	for _, n := range got {
		add(n.value, n.e164, n.typ)
	}
	return dst
}

// Limits on reading several numbers out of one cell separated by spaces.
const (
	maxPhoneWords    = 5  // words in one number: "0086 10 1234 5678 8"
	maxPhonesPerCell = 10 // numbers in one cell
)

func reasonOf(err error) string {
	if e, ok := err.(*muster.Error); ok {
		return e.Message
	}
	return err.Error()
}

// listSeparators separate tags or teams in one cell.
const listSeparators = ";；,，、|\n"

// maxListItems bounds the tags or teams in one cell.
const maxListItems = 50

var tooManyItems = fmt.Sprintf("more than %d items in one cell", maxListItems)

// appendList appends the distinct non-empty items of cell to dst; with more
// than maxListItems it appends none and calls tooMany.
func appendList(dst []string, cell string, tooMany func(cell string)) []string {
	if cell == "" {
		return dst
	}
	start := len(dst)
	if !hasSeparator(cell, listSeparators) {
		return append(dst, cell)
	}
	for item := range strings.FieldsFuncSeq(cell, func(r rune) bool { return strings.ContainsRune(listSeparators, r) }) {
		if item = trimCell(item); item != "" && !slices.Contains(dst[start:], item) {
			if len(dst)-start == maxListItems {
				tooMany(cell)
				return dst[:start]
			}
			dst = append(dst, item)
		}
	}
	return dst
}

// clip shortens a value quoted in a RowError to at most 60 characters.
func clip(s string) string {
	n := 0
	for i := range s {
		if n == 60 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// hasSeparator reports whether s contains any rune of seps; it is quick on
// ASCII text.
func hasSeparator(s, seps string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return strings.ContainsAny(s[i:], seps)
		}
		if strings.IndexByte(seps, c) >= 0 {
			return true
		}
	}
	return false
}

// trimCell removes the blanks people leave around a value: ASCII white
// space, no-break spaces, ideographic (full-width) spaces and stray byte
// order marks.
func trimCell(s string) string {
	for len(s) > 0 {
		if c := s[0]; c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			s = s[1:]
		} else if n := wideBlank(s); n > 0 {
			s = s[n:]
		} else {
			break
		}
	}
	for len(s) > 0 {
		if c := s[len(s)-1]; c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			s = s[:len(s)-1]
		} else if c < utf8.RuneSelf {
			break
		} else if r, n := utf8.DecodeLastRuneInString(s); r == '\u3000' || r == '\u00a0' || r == '\ufeff' {
			s = s[:len(s)-n]
		} else {
			break
		}
	}
	return s
}

// wideBlank returns the length of a non-ASCII blank at the start of s, or 0.
func wideBlank(s string) int {
	if s[0] < utf8.RuneSelf {
		return 0
	}
	if r, n := utf8.DecodeRuneInString(s); r == '\u3000' || r == '\u00a0' || r == '\ufeff' {
		return n
	}
	return 0
}

// parseCategory is ParseCategory with the canonical names first: they are
// what nearly every row holds.
func parseCategory(s string) (Category, error) {
	switch c := Category(s); c {
	case CatPartyMember, CatDeputy, CatCPPCC, CatLeague, CatCommunityCadre, CatSecondedCadre,
		CatActivist, CatProperty, CatVolunteer, CatResponder, CatGridWorker, CatOfficial:
		return c, nil
	}
	return ParseCategory(clip(s)) // no category is long: a clipped value fails the same way
}

// rosterMerger collects checked batches in file order and finds what needs
// the whole file: repeated phones and external IDs, and self-backups.
type rosterMerger struct {
	ro      *Roster
	phones  phoneIndex  // phone → first row that has it
	ext     stringIndex // external ID → first row that has it
	batches []*rosterBatch
	backups []rowBackup // rows whose backup cell reads as a phone
}

// rowBackup is a row whose backup cell reads as phone.
type rowBackup struct {
	row   *RosterRow
	phone string
}

// newRosterMerger sizes its indexes for about sizeHint rows.
func newRosterMerger(ro *Roster, sizeHint int) *rosterMerger {
	sizeHint = min(sizeHint, 4<<20)
	m := &rosterMerger{ro: ro}
	m.phones.init(sizeHint + sizeHint/8)
	m.ext.init(sizeHint)
	return m
}

func (m *rosterMerger) merge(b *rosterBatch) {
	m.ro.Errors = append(m.ro.Errors, b.errs...)
	for i := range b.rows {
		row := &b.rows[i]
		if id := row.ExternalID; id != "" {
			key := FoldExternalID(id) // Ｐ０１ is P01
			if first, ok := m.ext.find(key); ok {
				m.fail(row.Row, "external_id", clip(id), fmt.Sprintf("external ID already used on row %d", first))
				b.bad[i] = true
			} else {
				m.ext.add(key, row.Row)
			}
		}
		for _, ph := range row.Phones {
			if first, ok := m.phones.find(ph); ok {
				// The number as the cell has it, which the user can find;
				// the form it was compared in when it reads otherwise.
				written, reason := writtenPhone(b.phones[i], ph), fmt.Sprintf("phone already used on row %d", first)
				if written != ph {
					reason += " (both read as " + ph + ")"
				}
				m.fail(row.Row, "phone", clip(written), reason)
				b.bad[i] = true
			} else {
				m.phones.add(ph, row.Row)
			}
		}
		if b.bad[i] {
			m.reject(row)
		}
		if b.backups[i] != "" {
			m.backups = append(m.backups, rowBackup{row, b.backups[i]})
		}
	}
	m.batches = append(m.batches, b)
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
		if key := FoldExternalID(row.ExternalID); m.ro.rejected[key] == 0 {
			m.ro.rejected[key] = row.Row
		}
	}
}

// finish settles each backup (a value that is an external ID in the file
// stays as given, otherwise a valid phone becomes E.164, otherwise it is kept
// as given for CheckReferences; naming oneself is an error) and gathers the
// valid rows into Rows: when every batch lies in dest, in place. Errors end
// up ordered by row.
func (m *rosterMerger) finish(dest []RosterRow) {
	for _, rb := range m.backups {
		if _, isExt := m.ext.find(FoldExternalID(rb.row.Backup)); !isExt {
			rb.row.Backup = rb.phone
		}
	}
	total, good, inPlace := 0, 0, true
	for _, b := range m.batches {
		inPlace = inPlace && b.base == total && b.base+len(b.rows) <= len(dest)
		total += len(b.rows)
		for i := range b.rows {
			row := &b.rows[i]
			// A row with other errors is told of this one too.
			if row.Backup != "" && (row.ExternalID != "" && FoldExternalID(row.Backup) == FoldExternalID(row.ExternalID) || slices.Contains(row.Phones, row.Backup)) {
				m.fail(row.Row, "backup", clip(row.Backup), "a person cannot be their own backup: name someone else's phone or 编号")
				m.reject(row)
				b.bad[i] = true
			} else if b.bad[i] && row.Backup != "" {
				m.ro.rejectedBackups = append(m.ro.rejectedBackups, RosterRow{Row: row.Row, Backup: row.Backup})
			}
			if !b.bad[i] {
				good++
			}
		}
	}
	var rows []RosterRow
	if inPlace {
		rows = dest[:0:total]
	} else {
		rows = make([]RosterRow, 0, good)
	}
	for _, b := range m.batches {
		for i := range b.rows {
			if !b.bad[i] {
				rows = append(rows, b.rows[i]) // in place: copies only after a bad row
			}
		}
	}
	if inPlace {
		clear(dest[len(rows):]) // let dropped rows go
	}
	m.batches, m.backups = nil, nil
	m.ro.Rows = rows
	slices.SortStableFunc(m.ro.Errors, func(a, b RowError) int { return cmp.Compare(a.Row, b.Row) })
}

// writtenPhone is the part of the phone cell that reads as ph, as written;
// ph when none does.
func writtenPhone(cell, ph string) string {
	for part := range phoneParts(cell) {
		if n, err := NormalizePhone(part); err == nil && n == ph {
			return part
		}
	}
	if cell != "" {
		return cell
	}
	return ph
}

// phoneIndex maps E.164 phones to rows. E.164 is "+" and at most 15
// digits without a leading zero, so the digits as an integer identify it.
type phoneIndex struct {
	nums  map[uint64]int32
	other map[string]int32 // anything else, which NormalizePhone does not return
}

func (x *phoneIndex) init(size int) { x.nums = make(map[uint64]int32, size) }

func phoneKey(ph string) (uint64, bool) {
	if len(ph) < 2 || len(ph) > 16 || ph[0] != '+' || ph[1] == '0' {
		return 0, false
	}
	var v uint64
	for i := 1; i < len(ph); i++ {
		c := ph[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

func (x *phoneIndex) find(ph string) (int, bool) {
	if k, ok := phoneKey(ph); ok {
		r, ok := x.nums[k]
		return int(r), ok
	}
	r, ok := x.other[ph]
	return int(r), ok
}

func (x *phoneIndex) add(ph string, row int) {
	if k, ok := phoneKey(ph); ok {
		x.nums[k] = int32(row)
		return
	}
	if x.other == nil {
		x.other = map[string]int32{}
	}
	x.other[ph] = int32(row)
}

// stringIndex maps strings to rows through their 64-bit hashes, which keeps
// a million-entry index compact and its misses from touching the strings.
type stringIndex struct {
	size     int // expected entries, allocated on the first add
	seed     maphash.Seed
	byHash   map[uint64]int32 // hash → entry in list
	list     []indexEntry
	collided map[string]int32 // strings whose hash another string had first
}

type indexEntry struct {
	s   string
	row int32
}

func (x *stringIndex) init(size int) {
	x.size = size
	x.seed = maphash.MakeSeed()
}

func (x *stringIndex) find(s string) (int, bool) {
	i, ok := x.byHash[maphash.String(x.seed, s)]
	if !ok {
		return 0, false
	}
	if e := x.list[i]; e.s == s {
		return int(e.row), true
	}
	r, ok := x.collided[s]
	return int(r), ok
}

// add records s, which find does not know, at row.
func (x *stringIndex) add(s string, row int) {
	if x.byHash == nil {
		x.byHash = make(map[uint64]int32, x.size)
		x.list = make([]indexEntry, 0, x.size)
	}
	h := maphash.String(x.seed, s)
	if _, taken := x.byHash[h]; taken {
		if x.collided == nil {
			x.collided = map[string]int32{}
		}
		x.collided[s] = int32(row)
		return
	}
	x.byHash[h] = int32(len(x.list))
	x.list = append(x.list, indexEntry{s, int32(row)})
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
		switch first, rejected := r.rejected[FoldExternalID(row.Backup)]; {
		case inFile[FoldExternalID(row.Backup)]:
		case personByPhoneOrExt(row.Backup):
		case rejected:
			errs = append(errs, RowError{Row: row.Row, Field: "backup", Value: clip(row.Backup),
				Reason: fmt.Sprintf("the backup is on row %d, which has errors: fix that row first", first)})
		default:
			errs = append(errs, RowError{Row: row.Row, Field: "backup", Value: clip(row.Backup),
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
			k[FoldExternalID(row.ExternalID)] = true
		}
	}
	return k
}

// lostCharacter is the problem with a name holding "?" or "？": what Excel
// writes for a character the code page of a plain "CSV" lacks (a rare
// character of a name saved as GBK), which would go into every SMS and
// voice script to that person.
const lostCharacter = `name has "?": looks like a character lost when the file was saved: save it as CSV UTF-8 or .xlsx`

// MaxNameChars bounds a person's name: it goes into every call-up SMS and
// voice script, and a name of hundreds of characters would push the SMS
// past the segments the plan's templates were checked for.
const MaxNameChars = 50

// nameProblem says what is wrong with a non-empty name, "" if nothing.
func nameProblem(name string) string {
	if n := utf8.RuneCountInString(name); n > MaxNameChars {
		return fmt.Sprintf("name is %d characters; at most %d", n, MaxNameChars)
	}
	if err := muster.CheckPlainText("name", name, false); err != nil {
		return err.Error()
	}
	// A name goes into every LIVE message to its person ({{.Name}}).
	return liveNameProblem(name)
}

// liveNameProblem says what is wrong with a name that goes into LIVE
// messages (a person's, {{.Name}}; a region's, {{.Region}}), "" if
// nothing: one that reads like a mark (【演练】张三) or says 演练, 演习 or
// 测试 would make a real call-up look like a drill. English drill words
// are left to the templates: names such as Tester or Drillon are real.
func liveNameProblem(name string) string {
	if strings.ContainsAny(name, "【】") {
		return "name has 【 or 】: those marks are the system's (【演练】 marks a drill); write the name alone"
	}
	for _, w := range DrillWordsIn(name) {
		if w[0] >= utf8.RuneSelf { // 演练, 演习, 测试
			return fmt.Sprintf("name has %q: it goes into LIVE messages, which never mention drills; write the name alone", w)
		}
	}
	return ""
}
