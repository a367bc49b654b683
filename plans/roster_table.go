package plans

// Reading an import file as a table of cells: the part the roster import
// (roster.go) and the region import (regions_csv.go) share. It decides the
// format from the content (XLSX by its zip signature, otherwise delimited
// text), the text encoding from the bytes (never from a file name), the
// delimiter from the header line, and numbers records the way a spreadsheet
// numbers its rows.

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"

	"muster"
)

// MaxImportBytes is the largest roster or region file accepted: room for
// about three million roster rows.
const MaxImportBytes = 256 << 20

// Text encodings an import can be in, as reported in Roster.Encoding.
const (
	EncodingUTF8    = "utf-8"     // also XLSX, which is always Unicode
	EncodingUTF8BOM = "utf-8-bom" // UTF-8 starting with a byte order mark, as Excel saves "CSV UTF-8"
	EncodingUTF16   = "utf-16"    // UTF-16 with a byte order mark, as Excel saves "Unicode text"
	EncodingGBK     = "gbk"       // GBK (code page 936), as Chinese Excel saves plain "CSV"
	EncodingGB18030 = "gb18030"   // GB18030: GBK plus four-byte sequences for rarer characters (WPS, LibreOffice)
)

// File formats an import can be in, as reported in Roster.Format.
const (
	FormatCSV  = "csv"  // comma (or semicolon) separated text
	FormatTSV  = "tsv"  // tab separated text
	FormatXLSX = "xlsx" // Excel workbook
)

var (
	zipMagic = []byte("PK\x03\x04")
	oleMagic = []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") // legacy .xls (and .doc)
	bomUTF8  = []byte("\xef\xbb\xbf")
)

// table yields the records of an import file. The header is read with
// readHeader; next then returns each following record with its spreadsheet
// row number (the first line or row of the file is 1). The slice next
// returns may be reused by the following call; the strings in it stay valid.
type table struct {
	format, encoding string
	sizeHint         int // a guess at the number of records, for sizing indexes
	maxRecords       int // room to reserve for records (usually at least their number); 0 if unknown
	header           []string
	headerRow        int
	titles           int                                         // title rows readHeader skipped above the header
	next             func() (cells []string, row int, err error) // io.EOF after the last record
	close            func()

	// sheet, for a workbook, names the sheet read and why (the first, when
	// none has a preferred name) and the other sheets, for messages about
	// its header; "" for text.
	sheet string
}

// openTable reads all of r (at most MaxImportBytes) and prepares it as a
// table. what ("roster", "regions") starts every error message; sheets are
// the preferred sheet names of a workbook (matched case-insensitively),
// otherwise its first sheet is read.
func openTable(r io.Reader, what string, sheets ...string) (*table, error) {
	data, err := readImport(r, what, MaxImportBytes)
	if err != nil {
		return nil, err
	}
	switch {
	case len(bytes.TrimSpace(data)) == 0:
		return nil, muster.Errorf(muster.EInvalid, "%s file is empty: it has no header row and no rows", what)
	case bytes.HasPrefix(data, zipMagic):
		return openXLSX(data, what, sheets)
	case bytes.HasPrefix(data, oleMagic):
		return nil, muster.Errorf(muster.EInvalid, "%s file is an old Excel .xls workbook: save it as .xlsx or as CSV UTF-8 and import that", what)
	}
	text, enc, err := decodeText(data, what, "CSV UTF-8 or .xlsx")
	if err != nil {
		return nil, err
	}
	t := openDelimited(text, enc)
	// Records never share a line. A roster row with its four required cells
	// is longer than 40 bytes; a file of shorter lines gets no more room in
	// advance than that, so a file of empty lines cannot reserve gigabytes.
	t.maxRecords = min(1+bytes.Count(text, []byte{'\n'}), 1+len(text)/40)
	t.sizeHint = t.maxRecords
	return t, nil
}

// readImport reads all of r, failing with ETooLarge beyond limit bytes.
func readImport(r io.Reader, what string, limit int) ([]byte, error) {
	size := 0 // when r knows its size, read into one buffer of that size
	switch x := r.(type) {
	case interface{ Len() int }: // bytes.Reader, strings.Reader, bytes.Buffer
		size = x.Len()
	case interface{ Stat() (os.FileInfo, error) }: // os.File
		if fi, err := x.Stat(); err == nil && fi.Mode().IsRegular() {
			size = int(fi.Size())
		}
	}
	var buf bytes.Buffer
	buf.Grow(min(size, limit) + 512)
	_, err := buf.ReadFrom(io.LimitReader(r, int64(limit)+1))
	data := buf.Bytes()
	if err != nil {
		return nil, fmt.Errorf("read %s file: %w", what, err)
	}
	if len(data) > limit {
		return nil, muster.Errorf(muster.ETooLarge, "%s file is larger than %d MiB: split it", what, limit>>20)
	}
	return data, nil
}

// decodeText returns data as UTF-8 and the encoding it was in: a UTF-8 or
// UTF-16 byte order mark decides; otherwise valid UTF-8 is UTF-8, and
// anything else must decode as plausible Chinese text in GBK or, failing
// that, in GB18030 (its superset, which has the rare characters of some
// names in four-byte sequences). saveAs is what an error asks the file to
// be saved as.
func decodeText(data []byte, what, saveAs string) ([]byte, string, error) {
	switch {
	case bytes.HasPrefix(data, bomUTF8):
		data = data[len(bomUTF8):]
		if off := invalidUTF8(data); off >= 0 {
			return nil, "", muster.Errorf(muster.EInvalid, "%s file starts with a UTF-8 byte order mark but line %d is not UTF-8: save it again as %s", what, lineAt(data, off), saveAs)
		}
		return data, EncodingUTF8BOM, checkNUL(data, what)
	case bytes.HasPrefix(data, []byte{0xff, 0xfe}), bytes.HasPrefix(data, []byte{0xfe, 0xff}):
		text, err := unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder().Bytes(data)
		if err != nil || bytes.ContainsRune(text, utf8.RuneError) {
			return nil, "", muster.Errorf(muster.EInvalid, "%s file starts with a UTF-16 byte order mark but is not valid UTF-16: save it as %s", what, saveAs)
		}
		return text, EncodingUTF16, checkNUL(text, what)
	}
	off := invalidUTF8(data)
	if off < 0 {
		return data, EncodingUTF8, checkNUL(data, what)
	}
	text, err := simplifiedchinese.GBK.NewDecoder().Bytes(data)
	if err == nil {
		err = plausibleGBK(text)
	}
	if err == nil {
		return text, EncodingGBK, nil
	}
	text, err18 := simplifiedchinese.GB18030.NewDecoder().Bytes(data)
	if err18 == nil && plausibleGBK(text) == nil {
		return text, EncodingGB18030, nil
	}
	return nil, "", muster.Errorf(muster.EInvalid, "%s file is neither UTF-8 nor GBK (GB18030) text (line %d is not valid UTF-8, and as GBK %v): save it as %s", what, lineAt(data, off), err, saveAs)
}

// invalidUTF8 returns the offset of the first byte that is not valid UTF-8,
// or -1.
func invalidUTF8(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

func lineAt(b []byte, off int) int { return 1 + bytes.Count(b[:off], []byte{'\n'}) }

// checkNUL rejects text holding NUL bytes: UTF-16 without a byte order mark,
// or a binary file, both of which would otherwise pass as garbled UTF-8.
func checkNUL(text []byte, what string) error {
	if i := bytes.IndexByte(text, 0); i >= 0 {
		return muster.Errorf(muster.EInvalid, "%s file has NUL bytes on line %d: it is binary or UTF-16 without a byte order mark; save it as CSV UTF-8 or .xlsx", what, lineAt(text, i))
	}
	return nil
}

// plausibleGBK reports why GBK-decoded text is not believable Chinese text:
// undecodable bytes, control characters, or letters mostly outside the CJK
// ranges (which is what Latin-1 or random bytes turn into).
func plausibleGBK(text []byte) error {
	nonASCII, common, line := 0, 0, 1
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\n':
				line++
			case c < 0x20 && c != '\t' && c != '\r', c == 0x7f:
				return fmt.Errorf("line %d has control character %#02x", line, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(text[i:])
		i += n
		if r == utf8.RuneError {
			return fmt.Errorf("line %d has bytes that are not GBK", line)
		}
		nonASCII++
		if commonChineseText(r) {
			common++
		}
	}
	if common*10 < nonASCII*9 {
		return fmt.Errorf("only %d of %d non-ASCII characters are common Chinese characters or punctuation", common, nonASCII)
	}
	return nil
}

func commonChineseText(r rune) bool {
	switch {
	case r >= 0x4e00 && r <= 0x9fff: // CJK unified ideographs
	case r >= 0x3400 && r <= 0x4dbf: // extension A (䶮)
	case r >= 0x20000 && r <= 0x323af: // extensions B to H (𠀀, 𬌗), in GB18030's four-byte sequences
	case r >= 0xf900 && r <= 0xfaff, r >= 0x2f800 && r <= 0x2fa1f: // compatibility ideographs
	case r >= 0x3000 && r <= 0x303f: // CJK punctuation
	case r >= 0xff00 && r <= 0xffef: // full-width forms
	case r >= 0x2010 && r <= 0x206f: // general punctuation: “” — …
	case r == 0xb7 || r == 0xd7: // · (in minority names) and ×
	default:
		return false
	}
	return true
}

// openDelimited reads UTF-8 text as comma, tab or semicolon separated
// records, whichever the header line uses most.
func openDelimited(text []byte, enc string) *table {
	comma := delimiter(text)
	cr := csv.NewReader(bytes.NewReader(text))
	cr.Comma = comma
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	format := FormatCSV
	if comma == '\t' {
		format = FormatTSV
	}
	extra := 0 // lines taken by records beyond one each: quoted line breaks
	t := &table{format: format, encoding: enc, close: func() {}}
	t.next = func() ([]string, int, error) {
		rec, err := cr.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, 0, muster.Errorf(muster.EInvalid, "line %d, column %d: %v", pe.Line, pe.Column, pe.Err)
			}
			return nil, 0, err
		}
		line, _ := cr.FieldPos(0)
		last := len(rec) - 1
		end, _ := cr.FieldPos(last)
		end += strings.Count(rec[last], "\n")
		row := line - extra
		extra += end - line
		return rec, row, nil
	}
	return t
}

// delimiter picks the separator the first non-empty line uses most.
func delimiter(text []byte) rune {
	text = bytes.TrimLeft(text, "\r\n")
	if i := bytes.IndexByte(text, '\n'); i >= 0 {
		text = text[:i]
	}
	var commas, tabs, semis int
	quoted := false
	for _, c := range text {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == ',':
			commas++
		case c == '\t':
			tabs++
		case c == ';':
			semis++
		}
	}
	switch {
	case tabs > commas && tabs >= semis:
		return '\t'
	case semis > commas && semis > tabs:
		return ';'
	}
	return ','
}

// unzipXMLInMemory is the largest sheet (or shared string table) a
// workbook's is unzipped into memory; a larger one is unzipped to a
// temporary file and read from there.
const unzipXMLInMemory = 16 << 20

// maxWorkbookOther bounds what a workbook may hold besides its sheets and
// shared strings (pictures, embedded files, styles), unzipped: excelize
// unzips every part into memory as it opens the file, and a 1 MB upload of
// zeros packed as a "picture" took a node to 2.9 GB.
const maxWorkbookOther = 32 << 20

// checkWorkbookParts refuses a workbook whose parts other than sheets and
// shared strings unzip to more than maxWorkbookOther, before excelize
// unzips them.
func checkWorkbookParts(data []byte, what string) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return muster.Errorf(muster.EInvalid, "%s file looks like an .xlsx workbook but cannot be opened (%v): save it again from Excel or as CSV UTF-8", what, err)
	}
	var other uint64
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, "xl/worksheets/") || f.Name == "xl/sharedStrings.xml" {
			continue
		}
		other += f.UncompressedSize64
	}
	if other > maxWorkbookOther {
		return muster.Errorf(muster.EInvalid, "%s workbook holds %s besides its sheets (pictures or other embedded parts; at most %s): save the roster sheet alone as .xlsx, or as CSV UTF-8",
			what, sizeOf(other), sizeOf(maxWorkbookOther))
	}
	return nil
}

// sizeOf is n bytes in MiB, one decimal.
func sizeOf(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// openXLSX reads one sheet of a workbook: the first whose name is in sheets,
// else the first sheet. Cell values are raw (not number-formatted), with
// numbers Excel stored in exponent form written out as integers.
func openXLSX(data []byte, what string, sheets []string) (*table, error) {
	if err := checkWorkbookParts(data, what); err != nil {
		return nil, err
	}
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		RawCellValue:      true,
		UnzipSizeLimit:    4 * MaxImportBytes,
		UnzipXMLSizeLimit: unzipXMLInMemory,
	})
	if err != nil {
		return nil, muster.Errorf(muster.EInvalid, "%s file looks like an .xlsx workbook but cannot be opened (%v): save it again from Excel or as CSV UTF-8", what, err)
	}
	sheet := ""
	list := f.GetSheetList()
	for _, name := range list {
		for _, want := range sheets {
			if sheet == "" && strings.EqualFold(trimCell(name), want) {
				sheet = name
			}
		}
	}
	note := fmt.Sprintf("sheet %q", sheet)
	if sheet == "" && len(list) > 0 {
		sheet = list[0]
		note = sheetNote(sheet, list[1:], sheets)
	}
	if sheet == "" {
		_ = f.Close()
		return nil, muster.Errorf(muster.EInvalid, "%s workbook has no sheets", what)
	}
	rows, err := f.Rows(sheet)
	if err != nil {
		_ = f.Close()
		return nil, muster.Errorf(muster.EInvalid, "%s workbook: read sheet %q: %v", what, sheet, err)
	}
	n := 0
	opts := excelize.Options{RawCellValue: true}
	t := &table{format: FormatXLSX, encoding: EncodingUTF8, sizeHint: len(data) / 32, sheet: note}
	t.close = func() {
		_ = rows.Close()
		_ = f.Close()
	}
	t.next = func() ([]string, int, error) {
		if !rows.Next() {
			if err := rows.Error(); err != nil {
				return nil, 0, muster.Errorf(muster.EInvalid, "%s workbook sheet %q after row %d: %v", what, sheet, n, err)
			}
			return nil, 0, io.EOF
		}
		n++
		cells, err := rows.Columns(opts)
		if err != nil {
			return nil, 0, muster.Errorf(muster.EInvalid, "%s workbook sheet %q row %d: %v", what, sheet, n, err)
		}
		for i, c := range cells {
			cells[i] = xlsxInteger(c)
		}
		return cells, n, nil
	}
	return t, nil
}

// sheetNote names the first sheet of a workbook, read for want of a sheet
// with a preferred name, and the others: `sheet "说明" (the first; no sheet
// is named 名单 or roster); the workbook also has sheets "人员": rename the
// roster sheet to 名单 or move it first`.
func sheetNote(first string, others, preferred []string) string {
	note := fmt.Sprintf("sheet %q (the first", first)
	if len(preferred) > 0 {
		note += "; no sheet is named " + strings.Join(preferred, " or ")
	}
	note += ")"
	if len(others) == 0 {
		return note
	}
	quoted := make([]string, len(others))
	for i, s := range others {
		quoted[i] = strconv.Quote(s)
	}
	note += "; the workbook also has sheets " + strings.Join(quoted, ", ")
	if len(preferred) > 0 {
		note += ": rename the roster sheet to " + preferred[0] + " or move it first"
	} else {
		note += ": move the sheet to import first"
	}
	return note
}

// xlsxInteger turns a raw numeric cell in exponent form ("1.3800138E10") back
// into the integer it holds; any other value is returned unchanged.
func xlsxInteger(s string) string {
	if len(s) < 3 || len(s) > 24 || strings.IndexAny(s, "eE") < 0 || strings.Trim(s, "0123456789.eE+-") != "" {
		return s
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) >= 1e17 {
		return s
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// readHeader reads up to the header: blank rows are skipped, and so are up
// to three title rows above it (a single non-empty cell that known does not
// recognise as a column name, such as "示例市应急名单").
func (t *table) readHeader(what string, known func(string) bool) error {
	titles := 0
	for {
		cells, row, err := t.next()
		if err == io.EOF {
			if t.sheet != "" {
				return muster.Errorf(muster.EInvalid, "%s file has no header row in %s", what, t.sheet)
			}
			return muster.Errorf(muster.EInvalid, "%s file has no header row", what)
		}
		if err != nil {
			return err
		}
		filled, first := 0, ""
		for _, c := range cells {
			if c = trimCell(c); c != "" {
				filled++
				first = c
			}
		}
		if filled == 0 {
			continue
		}
		if filled == 1 && !known(headerKey(first)) && titles < maxTitleRows {
			titles++
			continue
		}
		t.header = append([]string(nil), cells...)
		t.headerRow, t.titles = row, titles
		return nil
	}
}

// maxTitleRows is how many title rows readHeader skips above a header.
const maxTitleRows = 3

// titleOverflow explains a header that is one more title row: readHeader
// took it as the header, having skipped maxTitleRows title rows above it.
// When a row a little further down names at least two known columns, it
// says that this is where the header seems to be and what to do; otherwise
// "". It reads on in t, which is then spent.
func (t *table) titleOverflow(what string, known func(string) bool) string {
	filled, first := 0, ""
	for _, c := range t.header {
		if c = trimCell(c); c != "" {
			filled++
			first = c
		}
	}
	if filled != 1 || t.titles < maxTitleRows {
		return ""
	}
	for range 10 { // a few rows: a header further down is not a title overflow
		cells, row, err := t.next()
		if err != nil {
			return ""
		}
		n := 0
		for _, c := range cells {
			if known(headerKey(c)) {
				n++
			}
		}
		if n >= 2 {
			return fmt.Sprintf("%s file: the header was looked for in its first %d rows, skipping up to %d title rows, and row %d holds only %q; "+
				"the header seems to be row %d: more than %d title rows are not skipped, delete the extra title rows above it",
				what, t.headerRow, maxTitleRows, t.headerRow, first, row, maxTitleRows)
		}
	}
	return ""
}

// headerKey is the form header names are compared in: lower case, without
// any blanks (ASCII, full-width and no-break spaces, wherever they are) or
// underscores, so "姓　名", "手 机" and "External ID" read as 姓名, 手机 and
// external_id.
func headerKey(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch r {
		case ' ', '\t', '\r', '\n', '_', '\u3000', '\u00a0', '\ufeff':
			continue
		}
		b.WriteRune(r)
	}
	return strings.ToLower(b.String())
}

// column describes one column an import understands.
type column struct {
	field    string   // name used in RowError.Field
	names    []string // accepted header spellings, lower case; the first is shown in messages
	required bool
}

func (c column) label() string { return strings.Join(c.names, "/") }

// mapColumns finds each column of cols in header and returns its index (-1
// when absent). Columns named in ignore are left out without a word.
// Unknown, repeated and missing required columns are one EInvalid error
// that lists them next to the header found.
func mapColumns(what string, header []string, cols []column, ignore ...string) ([]int, error) {
	byName := map[string]int{}
	for i, c := range cols {
		for _, n := range c.names {
			byName[headerKey(n)] = i
		}
	}
	skip := map[string]bool{}
	for _, n := range ignore {
		skip[headerKey(n)] = true
	}
	idx := make([]int, len(cols))
	for i := range idx {
		idx[i] = -1
	}
	var unknown, repeated, missing, found []string
	for i, h := range header {
		k := headerKey(h)
		if k == "" {
			continue
		}
		found = append(found, trimCell(h))
		c, ok := byName[k]
		switch {
		case !ok && skip[k]:
		case !ok:
			unknown = append(unknown, fmt.Sprintf("%q (column %s)", trimCell(h), columnLetter(i)))
		case idx[c] >= 0:
			repeated = append(repeated, fmt.Sprintf("%q (columns %s and %s)", trimCell(h), columnLetter(idx[c]), columnLetter(i)))
		default:
			idx[c] = i
		}
	}
	for i, c := range cols {
		if c.required && idx[i] < 0 {
			missing = append(missing, c.label())
		}
	}
	if len(unknown)+len(repeated)+len(missing) == 0 {
		return idx, nil
	}
	var problems []string
	if len(unknown) > 0 {
		problems = append(problems, "unknown column "+strings.Join(unknown, ", "))
	}
	if len(repeated) > 0 {
		problems = append(problems, "column given twice "+strings.Join(repeated, ", "))
	}
	if len(missing) > 0 {
		problems = append(problems, "missing required column "+strings.Join(missing, ", "))
	}
	var known []string
	for _, c := range cols {
		known = append(known, c.label())
	}
	ignored := ""
	if len(ignore) > 0 {
		ignored = "; ignored columns are " + strings.Join(ignore, ", ")
	}
	e := muster.Errorf(muster.EInvalid, "%s header: %s; found columns %s; known columns are %s%s",
		what, strings.Join(problems, "; "), strings.Join(found, ", "), strings.Join(known, ", "), ignored)
	e.Details = map[string]any{"unknown": unknown, "repeated": repeated, "missing": missing, "found": found}
	return nil, e
}

// columnLetter is the spreadsheet name of the zero-based column i: A, B, …, AA.
func columnLetter(i int) string {
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('A'+(i-1)%26)) + s
	}
	return s
}
