package plans

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"muster"
)

func openTestdata(t testing.TB, parts ...string) *os.File {
	f, err := os.Open(filepath.Join(append([]string{"testdata"}, parts...)...))
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// goodRows is what every good roster file in testdata/roster holds, in
// every format and encoding.
func goodRows(first int) []RosterRow {
	return []RosterRow{
		{Row: first, ExternalID: "A001", Name: "张伟", Phones: []string{"+8613800138000"}, Grid: "990101001001001",
			Category: CatPartyMember, Tags: []string{"网格长", "防汛"}, Teams: []string{"防汛抢险队"}, Backup: "A002", Language: LangZH},
		{Row: first + 1, ExternalID: "A002", Name: "李娜", Phones: []string{"+8613900139000", "+8618600001111"}, Grid: "990101001001002",
			Category: CatVolunteer, Tags: []string{"医疗", "心理疏导"}, Teams: []string{"医疗救护队", "志愿服务队"}, Language: LangZH},
		{Row: first + 2, ExternalID: "A003", Name: "王芳", Phones: []string{"+8615000001234"}, Grid: "990101001002003",
			Category: CatGridWorker, Tags: []string{"网格员"}, Backup: "+8613800138000", Language: LangZH},
		{Row: first + 3, ExternalID: "A004", Name: "Chen Ming", Phones: []string{"+8613700005678"}, Grid: "990101001002003",
			Category: CatVolunteer, Tags: []string{"翻译"}, Language: LangEN},
	}
}

func TestParseRosterFormats(t *testing.T) {
	tests := []struct {
		file     string
		encoding string
		format   string
		first    int // row of the first person
	}{
		{"utf8.csv", EncodingUTF8, FormatCSV, 2},
		{"utf8_bom.csv", EncodingUTF8BOM, FormatCSV, 2},
		{"gbk.csv", EncodingGBK, FormatCSV, 2},
		{"tabs.tsv", EncodingUTF8, FormatTSV, 2},
		{"utf16.txt", EncodingUTF16, FormatTSV, 2},
		{"roster.xlsx", EncodingUTF8, FormatXLSX, 3}, // sheet 名单, title row above the header
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ro, err := ParseRoster(openTestdata(t, "roster", tt.file))
			require.NoError(t, err)
			assert.Equal(t, tt.encoding, ro.Encoding)
			assert.Equal(t, tt.format, ro.Format)
			assert.Empty(t, ro.Errors)
			assert.Equal(t, goodRows(tt.first), ro.Rows)
			assert.Empty(t, ro.CheckReferences(func(RegionCode) bool { return true }, func(string) bool { return false }))
		})
	}
}

func TestParseRosterHeaderErrors(t *testing.T) {
	tests := []struct {
		name  string
		input []byte
		want  []string // in the message
	}{
		{"missing column", readTestdata(t, "roster", "missing_header.csv"),
			[]string{"missing required column 网格/网格编码/grid", "found columns 姓名, 手机, 类别"}},
		{"unknown column", readTestdata(t, "roster", "unknown_header.csv"),
			[]string{`unknown column "移动电话" (column B), "电邮" (column E)`, "missing required column 手机/手机号/电话/手机号码/联系电话/phone/phones", "known columns are 编号/工号/id/external_id", "ignored columns are 序号, 备注"}},
		{"column twice", []byte("name,phone,grid,category,姓名\n"), []string{`column given twice "姓名" (columns A and E)`}},
		{"empty file", []byte(" \n"), []string{"roster file is empty: it has no header row and no rows"}},
		{"numbered phone columns", []byte("姓名,手机号码1,手机号码2,网格,类别\n"),
			[]string{`unknown column "手机号码1" (column B), "手机号码2" (column C)`,
				`there is one phone column ("手机号码1", "手机号码2" are refused): put all of a person's numbers in its cell, separated by ; , / 、 or spaces`}},
		{"four title rows", []byte("示例市应急名单\n2027年3月\n第一批\n标题4\n\n姓名,手机,网格,类别\n张三,13800138000,990101001001001,党员\n"),
			[]string{`roster file: the header was looked for in its first 4 rows, skipping up to 3 title rows, and row 4 holds only "标题4"; ` +
				`the header seems to be row 6: more than 3 title rows are not skipped, delete the extra title rows above it`}},
		{"header only blank rows", []byte(",,,\n,,\n"), []string{"roster file has no header row"}},
		{"old xls", []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest"), []string{"old Excel .xls"}},
		{"broken xlsx", []byte("PK\x03\x04garbage"), []string{"cannot be opened"}},
		{"neither UTF-8 nor GBK", []byte("name,phone\nJos\xe9,1\n"), []string{"neither UTF-8 nor GBK", "line 2"}},
		{"binary", []byte("name\x00\x01\x02"), []string{"NUL bytes"}},
		{"bad BOM file", []byte("\xef\xbb\xbfname\n\xff\n"), []string{"byte order mark but line 2 is not UTF-8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ro, err := ParseRoster(bytes.NewReader(tt.input))
			require.Error(t, err)
			assert.Nil(t, ro)
			assert.True(t, muster.IsCode(err, muster.EInvalid), "code %s", muster.ErrorCode(err))
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestParseRosterTooLarge(t *testing.T) {
	const limit = 4 << 20
	_, err := readImport(io.LimitReader(endless('x'), limit+1), "roster", limit)
	assert.True(t, muster.IsCode(err, muster.ETooLarge), "%v", err)
	assert.Contains(t, err.Error(), "roster file is larger than 4 MiB")
	data, err := readImport(io.LimitReader(endless('x'), limit), "roster", limit)
	require.NoError(t, err)
	assert.Len(t, data, limit)
}

// endless reads as an endless run of one byte.
type endless byte

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(e)
	}
	return len(p), nil
}

func readTestdata(t testing.TB, parts ...string) []byte {
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, parts...)...))
	require.NoError(t, err)
	return b
}

func TestParseRosterBadRows(t *testing.T) {
	ro, err := ParseRoster(openTestdata(t, "roster", "bad_rows.csv"))
	require.NoError(t, err)
	assert.Equal(t, EncodingUTF8, ro.Encoding)

	want := []struct {
		row          int
		field, value string
		reason       string // in the reason
	}{
		{3, "name", "", "name is empty"},
		{4, "phone", "12345", "too few digits"},
		{5, "phone", "", "phone is empty"},
		{6, "phone", "abc", "is not a phone number"},
		{7, "grid", "99010100100", "want 15 digits"},
		{8, "grid", "9.90101E+14", "format the grid column as text"},
		{9, "category", "群众", "want one of 党员/"},
		{10, "language", "法语", "want zh or en"},
		{11, "phone", "138 0013 8000", "phone already used on row 2 (both read as +8613800138000)"},
		{12, "external_id", "B001", "external ID already used on row 2"},
		{13, "backup", "B012", "cannot be their own backup"},
		{15, "column J", "extra", "column without a header"},
		{19, "phone", "1380013801", "not in any assigned Chinese"},
		// Neither name nor phone: both are said at once.
		{20, "name", "", "name is empty"},
		{20, "phone", "", "phone is empty"},
	}
	require.Len(t, ro.Errors, len(want), "errors: %v", ro.Errors)
	for i, w := range want {
		t.Run(w.field+"/"+w.value, func(t *testing.T) {
			got := ro.Errors[i]
			assert.Equal(t, w.row, got.Row)
			assert.Equal(t, w.field, got.Field)
			assert.Equal(t, w.value, got.Value)
			assert.Contains(t, got.Reason, w.reason)
		})
	}

	var rows []int
	for _, r := range ro.Rows {
		rows = append(rows, r.Row)
	}
	assert.Equal(t, []int{2, 16, 17, 18}, rows, "valid rows")
	assert.Equal(t, RosterRow{Row: 18, ExternalID: "B016", Name: "韩十五", Phones: []string{"+8613800138013"}, Grid: "990101001001001",
		Category: CatResponder, Tags: []string{"防汛", "医疗"}, Teams: []string{"防汛抢险队"}, Language: LangZH}, ro.Rows[3],
		"a line break inside a cell separates tags and does not shift row numbers")

	refs := ro.CheckReferences(
		func(g RegionCode) bool { return g == "990101001001001" },
		func(string) bool { return false },
	)
	require.Len(t, refs, 3, "%v", refs)
	assert.Equal(t, RowError{Row: 16, Field: "grid", Value: "990101001001002", Reason: "no grid has this code: import the regions first or correct the code"}, refs[0])
	assert.Equal(t, RowError{Row: 16, Field: "backup", Value: "+8613800138011", Reason: "no person has this phone or external ID, in this file or in the roster"}, refs[1])
	assert.Equal(t, RowError{Row: 17, Field: "backup", Value: "B003", Reason: "the backup is on row 4, which has errors: fix that row first"}, refs[2])

	// The roster in state knows the backup of row 16.
	refs = ro.CheckReferences(nil, func(s string) bool { return s == "+8613800138011" })
	assert.Len(t, refs, 1)
}

func TestCheckReferencesAsksOncePerGrid(t *testing.T) {
	var in bytes.Buffer
	in.WriteString("姓名,手机,网格,类别\n")
	for i := range 50 {
		fmt.Fprintf(&in, "某某,1380013%04d,990101001001001,党员\n", i)
	}
	ro, err := ParseRoster(&in)
	require.NoError(t, err)
	require.Len(t, ro.Rows, 50)
	calls := 0
	assert.Empty(t, ro.CheckReferences(func(RegionCode) bool { calls++; return true }, nil))
	assert.Equal(t, 1, calls)
}

func TestSplitCells(t *testing.T) {
	phones := []struct {
		name, cell string
		want       []string
		bad        []string
	}{
		{"one", "13800138000", []string{"+8613800138000"}, nil},
		{"semicolons", "13800138000;13900139000", []string{"+8613800138000", "+8613900139000"}, nil},
		{"full-width", "13800138000；13900139000，18600001111", []string{"+8613800138000", "+8613900139000", "+8618600001111"}, nil},
		{"full-width slash and bar", "13800138000／13900139000｜18600001111", []string{"+8613800138000", "+8613900139000", "+8618600001111"}, nil},
		{"slash", "13800138000/010-12345678", []string{"+8613800138000", "+861012345678"}, nil},
		{"spaces between numbers", "13800138000 13900139000", []string{"+8613800138000", "+8613900139000"}, nil},
		{"spaces inside numbers", "138 0013 8000 139 0013 9000", []string{"+8613800138000", "+8613900139000"}, nil},
		{"repeat dropped", "13800138000;138-0013-8000", []string{"+8613800138000"}, nil},
		{"one bad", "13800138000;123", []string{"+8613800138000"}, []string{"123"}},
		{"bad with spaces", "138 0013", nil, []string{"138 0013"}},
		{"empty parts", ";;13800138000;", []string{"+8613800138000"}, nil},
	}
	for _, tt := range phones {
		t.Run("phones/"+tt.name, func(t *testing.T) {
			var bad []string
			got := appendPhones(nil, tt.cell, func(v, _ string) { bad = append(bad, v) })
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.bad, bad)
		})
	}
	lists := []struct {
		name, cell string
		want       []string
	}{
		{"empty", "", nil},
		{"mixed separators", "防汛;医疗；消防,驾驶员，无人机、翻译|心理疏导", []string{"防汛", "医疗", "消防", "驾驶员", "无人机", "翻译", "心理疏导"}},
		{"spaces kept inside", " 防汛 ; 心理 疏导 ", []string{"防汛", "心理 疏导"}},
		{"repeats dropped", "防汛;防汛", []string{"防汛"}},
		{"one item", "防汛", []string{"防汛"}},
	}
	for _, tt := range lists {
		t.Run("list/"+tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, appendList(nil, tt.cell, func(string) { t.Error("too many") }))
		})
	}
}

func TestDelimiterAndRowNumbers(t *testing.T) {
	tests := []struct {
		name, text string
		format     string
		rows       []int
	}{
		{"comma", "name,phone,grid,category\n张三,13800138000,990101001001001,党员\n", FormatCSV, []int{2}},
		{"tab", "name\tphone\tgrid\tcategory\n张三\t13800138000\t990101001001001\t党员\n", FormatTSV, []int{2}},
		{"semicolon", "name;phone;grid;category\n张三;13800138000;990101001001001;党员\n", FormatCSV, []int{2}},
		{"CRLF and blank lines", "\r\nname,phone,grid,category\r\n\r\n张三,13800138000,990101001001001,党员\r\n,,,\r\n李四,13900139000,990101001001001,党员\r\n", FormatCSV, []int{4, 6}},
		{"quoted line breaks", "name,phone,grid,category,tags\n张三,13800138000,990101001001001,党员,\"a\nb\nc\"\n李四,13900139000,990101001001001,党员,\n", FormatCSV, []int{2, 3}},
		{"quoted commas in header", "\"name\",phone,grid,category\n张三,13800138000,990101001001001,党员\n", FormatCSV, []int{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ro, err := ParseRoster(strings.NewReader(tt.text))
			require.NoError(t, err)
			require.Empty(t, ro.Errors)
			assert.Equal(t, tt.format, ro.Format)
			var rows []int
			for _, r := range ro.Rows {
				rows = append(rows, r.Row)
			}
			assert.Equal(t, tt.rows, rows)
		})
	}
}

func TestXLSXInteger(t *testing.T) {
	tests := map[string]string{
		"1.3800138E10":         "13800138000",
		"9.90101001001001E+14": "990101001001001",
		"13800138000":          "13800138000",
		"1.5E0":                "1.5E0",
		"张三":                   "张三",
		"E10":                  "E10",
		"1e400":                "1e400",
	}
	for in, want := range tests {
		assert.Equal(t, want, xlsxInteger(in), in)
	}
}

func TestColumnLetter(t *testing.T) {
	for i, want := range map[int]string{0: "A", 8: "I", 25: "Z", 26: "AA", 27: "AB", 701: "ZZ", 702: "AAA"} {
		assert.Equal(t, want, columnLetter(i))
	}
}

func TestParseRosterManyRowsInOrder(t *testing.T) {
	// More rows than one chunk, so the workers' results must be merged in order.
	var in bytes.Buffer
	in.WriteString("编号,姓名,手机,网格,类别\n")
	n := 3*rosterChunkSize + 17
	for i := range n {
		fmt.Fprintf(&in, "E%07d,某某,139%08d,990101001001001,党员\n", i, i)
	}
	fmt.Fprintf(&in, "E-dup,某某,139%08d,990101001001001,党员\n", 5)
	ro, err := ParseRoster(&in)
	require.NoError(t, err)
	require.Len(t, ro.Rows, n)
	for i, r := range ro.Rows {
		require.Equal(t, i+2, r.Row)
		require.Equal(t, fmt.Sprintf("+86139%08d", i), r.Phones[0])
	}
	require.Len(t, ro.Errors, 1)
	assert.Equal(t, RowError{Row: n + 2, Field: "phone", Value: "13900000005", Reason: "phone already used on row 7 (both read as +8613900000005)"}, ro.Errors[0])
}

func TestParseRegions(t *testing.T) {
	want := []Region{
		{Code: "990100", Name: "示例市", Kind: KindCity},
		{Code: "990101", Name: "东湖区", Kind: KindDistrict, Parent: "990100"},
		{Code: "990101001", Name: "青山街道", Kind: KindStreet, Parent: "990101"},
		{Code: "990101001001", Name: "幸福里社区", Kind: KindCommunity, Parent: "990101001"},
		{Code: "990101001001001", Name: "幸福里社区第1网格", Kind: KindGrid, Parent: "990101001001"},
	}
	for _, file := range []string{"regions.csv", "regions_gbk.csv"} {
		t.Run(file, func(t *testing.T) {
			got, errs, err := ParseRegions(openTestdata(t, "regions", file))
			require.NoError(t, err)
			assert.Empty(t, errs)
			assert.Equal(t, want, got)
		})
	}
}

func TestParseRegionsBadRows(t *testing.T) {
	got, errs, err := ParseRegions(openTestdata(t, "regions", "bad_regions.csv"))
	require.NoError(t, err)
	assert.Equal(t, []Region{{Code: "990100", Name: "示例市", Kind: KindCity}}, got)
	want := []struct {
		row          int
		field, value string
		reason       string
	}{
		{3, "code", "99010", "a district code has 6 digits"},
		{4, "name", "", "name is empty"},
		{5, "kind", "省", "want city, district"},
		{6, "parent", "990101", "does not start with its parent's code"},
		{7, "code", "990100", "code already used on row 2"},
		{8, "parent", "", "needs a parent"},
		// {{.Region}} puts a region's name into LIVE messages.
		{9, "name", "演练场网格区", `name has "演练": it goes into LIVE messages`},
		{10, "name", "【演练】区", "name has 【 or 】"},
	}
	require.Len(t, errs, len(want), "%v", errs)
	for i, w := range want {
		assert.Equal(t, w.row, errs[i].Row, "error %d", i)
		assert.Equal(t, w.field, errs[i].Field, "error %d", i)
		assert.Equal(t, w.value, errs[i].Value, "error %d", i)
		assert.Contains(t, errs[i].Reason, w.reason, "error %d", i)
	}
}

func TestParseRegionsHeader(t *testing.T) {
	_, _, err := ParseRegions(strings.NewReader("编码,名字,级别\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown column "名字" (column B)`)
	assert.Contains(t, err.Error(), "missing required column 名称/name")
}

func TestRowErrorJSONAndText(t *testing.T) {
	e := RowError{Row: 4, Field: "phone", Value: "12345", Reason: "has too few digits"}
	assert.Equal(t, `row 4, phone "12345": has too few digits`, e.Error())
}

func TestParseRosterShortLines(t *testing.T) {
	// Lines too short to be rows get no room reserved in advance; the rows
	// after them still come out right.
	var in bytes.Buffer
	in.WriteString("name,phone,grid,category\n")
	in.WriteString(strings.Repeat("x\n", 3*rosterChunkSize))
	for i := range 10 {
		fmt.Fprintf(&in, "某某,139%08d,990101001001001,党员\n", i)
	}
	ro, err := ParseRoster(&in)
	require.NoError(t, err)
	require.Len(t, ro.Rows, 10)
	for i, r := range ro.Rows {
		assert.Equal(t, 3*rosterChunkSize+2+i, r.Row)
		assert.Equal(t, fmt.Sprintf("+86139%08d", i), r.Phones[0])
	}
	assert.Len(t, ro.Errors, 3*3*rosterChunkSize) // phone, grid and category of each short line
}

// A name goes into every SMS and voice script: at most MaxNameChars
// characters of plain text.
func TestParseRosterNames(t *testing.T) {
	long := strings.Repeat("长", MaxNameChars)
	csv := "姓名,手机,网格,类别\n" +
		long + ",13800138001,990101001001001,党员\n" +
		long + "名,13800138002,990101001001001,党员\n" +
		"张\x1b[31m三,13800138003,990101001001001,党员\n" +
		"阿依古丽·买买提,13800138004,990101001001001,党员\n" +
		// A name goes into every LIVE message: none may read like a drill
		// mark or hide characters.
		"【演练】张三,13800138005,990101001001001,党员\n" + // 6
		"演練李四,13800138006,990101001001001,党员\n" + // 7
		"彭\u202e斌,13800138007,990101001001001,党员\n" + // 8
		"Tom Tester,13800138008,990101001001001,党员\n"
	ro, err := ParseRoster(strings.NewReader(csv))
	require.NoError(t, err)
	require.Len(t, ro.Errors, 5, "%v", ro.Errors)
	assert.Equal(t, 3, ro.Errors[0].Row)
	assert.Contains(t, ro.Errors[0].Reason, "name is 51 characters; at most 50")
	assert.Equal(t, 4, ro.Errors[1].Row)
	assert.Contains(t, ro.Errors[1].Reason, "control character U+001B")
	assert.Equal(t, 6, ro.Errors[2].Row)
	assert.Contains(t, ro.Errors[2].Reason, "name has 【 or 】")
	assert.Equal(t, 7, ro.Errors[3].Row)
	assert.Contains(t, ro.Errors[3].Reason, `name has "演练": it goes into LIVE messages`)
	assert.Equal(t, 8, ro.Errors[4].Row)
	assert.Contains(t, ro.Errors[4].Reason, "invisible formatting character U+202E")
	require.Len(t, ro.Rows, 3)
	assert.Equal(t, long, ro.Rows[0].Name)
	assert.Equal(t, "阿依古丽·买买提", ro.Rows[1].Name)
	assert.Equal(t, "Tom Tester", ro.Rows[2].Name, "an English name that starts like a drill word is a name")
}

// Call-up SMS and voice calls go to a person's first phone only: a landline
// listed before a mobile would make every call-up SMS fail while the mobile
// is never tried, so the row is a problem that says to put the mobile first.
func TestParseRosterLandlineBeforeMobile(t *testing.T) {
	csv := "姓名,手机,网格,类别\n" +
		"座机甲,021-61234599；13977779999,990101001001001,党员\n" + // 2: landline first
		"座机乙,021-61234598 13977779997,990101001001001,党员\n" + // 3: the same, separated by a space
		"座机丙,13977779996；021-61234597,990101001001001,党员\n" + // 4: mobile first
		"座机丁,010-12345678,990101001001001,党员\n" + // 5: a landline alone
		"座机戊,010-12345679/021-61234596,990101001001001,党员\n" // 6: two landlines
	ro, err := ParseRoster(strings.NewReader(csv))
	require.NoError(t, err)
	require.Len(t, ro.Errors, 2, "%v", ro.Errors)
	assert.Equal(t, RowError{Row: 2, Field: "phone", Value: "021-61234599；13977779999",
		Reason: "the first phone 021-61234599 is a landline: call-up SMS try the first phone first; put the mobile first"}, ro.Errors[0])
	assert.Equal(t, 3, ro.Errors[1].Row)
	assert.Contains(t, ro.Errors[1].Reason, "the first phone 021-61234598 is a landline")
	var rows []int
	for _, r := range ro.Rows {
		rows = append(rows, r.Row)
	}
	assert.Equal(t, []int{4, 5, 6}, rows)
	assert.Equal(t, []string{"+8613977779996", "+862161234597"}, ro.Rows[0].Phones)
}

// Header names are matched in any case with no heed to spaces, wherever
// they are (forms pad two-character headers: "姓　名"), or underscores; the
// everyday 手机号码 and 联系电话 name the phone column, and the 序号 and 备注
// columns are left out. Any other column still refuses the file.
func TestParseRosterHeaderSpellings(t *testing.T) {
	tests := []struct {
		name, header, row string
		want              RosterRow
	}{
		{"full-width space", "编号,姓　名,手　机,网　格,类　别", "H001,头甲,13966660001,990101001001010,党员",
			RosterRow{ExternalID: "H001", Name: "头甲", Phones: []string{"+8613966660001"}, Grid: "990101001001010", Category: CatPartyMember}},
		{"spaces inside", "编 号,姓 名,手  机,网格,人员 类别", "H002,头乙,13966660002,990101001001010,党员",
			RosterRow{ExternalID: "H002", Name: "头乙", Phones: []string{"+8613966660002"}, Grid: "990101001001010", Category: CatPartyMember}},
		{"English with a space for _", "External ID,Name,PHONE,Grid,Category", "H003,Head C,13966660003,990101001001010,volunteer",
			RosterRow{ExternalID: "H003", Name: "Head C", Phones: []string{"+8613966660003"}, Grid: "990101001001010", Category: CatVolunteer}},
		{"手机号码", "编号,姓名,手机号码,网格,类别", "H004,头丁,13966660004,990101001001010,党员",
			RosterRow{ExternalID: "H004", Name: "头丁", Phones: []string{"+8613966660004"}, Grid: "990101001001010", Category: CatPartyMember}},
		{"序号, 联系电话 and 备注", "序号,编号,姓名,联系电话,网格,人员类别,备 注", "1,H005,头戊,13966660005,990101001001010,党员,夜班",
			RosterRow{ExternalID: "H005", Name: "头戊", Phones: []string{"+8613966660005"}, Grid: "990101001001010", Category: CatPartyMember}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ro, err := ParseRoster(strings.NewReader(tt.header + "\n" + tt.row + "\n"))
			require.NoError(t, err)
			require.Empty(t, ro.Errors)
			tt.want.Row, tt.want.Language = 2, LangZH
			assert.Equal(t, []RosterRow{tt.want}, ro.Rows)
		})
	}

	_, err := ParseRoster(strings.NewReader("序号,姓名,手机,所属网格,网格,类别\n1,头己,13966660006,东区,990101001001010,党员\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown column "所属网格" (column D)`)
	assert.NotContains(t, err.Error(), `"序号"`)
	_, err = ParseRoster(strings.NewReader("ID,Name,Phone,Grid,Category,External ID\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `column given twice "External ID" (columns A and F)`)
}

// A 400 or 800 hotline, a premium-rate or a voicemail number is valid but no
// person's: it takes neither the call-up SMS nor a call to them, so it is a
// row problem. Landlines stay accepted (they are called).
func TestParseRosterServiceNumbers(t *testing.T) {
	csv := "姓名,手机,网格,类别\n" +
		"号码巳,4008001234,990101001001001,党员\n" + // 2
		"号码午,800-810-1234,990101001001001,党员\n" + // 3
		"号码未,13800138001 400 800 1235,990101001001001,党员\n" + // 4: split on spaces
		"号码申,+1 800 555 1234,990101001001001,党员\n" + // 5: a US toll-free number
		"号码酉,010-12345678,990101001001001,党员\n" + // 6: a landline
		"号码戌,13800138002；021-61234599,990101001001001,党员\n" // 7
	ro, err := ParseRoster(strings.NewReader(csv))
	require.NoError(t, err)
	want := []RowError{
		{Row: 2, Field: "phone", Value: "4008001234", Reason: `phone "4008001234" is a shared-cost hotline number (such as 400…): a hotline cannot be called up; want the person's own mobile or landline`},
		{Row: 3, Field: "phone", Value: "800-810-1234", Reason: `phone "800-810-1234" is a toll-free hotline number (such as 800…): a hotline cannot be called up; want the person's own mobile or landline`},
		{Row: 4, Field: "phone", Value: "400 800 1235", Reason: `phone "400 800 1235" is a shared-cost hotline number (such as 400…): a hotline cannot be called up; want the person's own mobile or landline`},
		{Row: 5, Field: "phone", Value: "+1 800 555 1234", Reason: `phone "+1 800 555 1234" is a toll-free hotline number (such as 800…): a hotline cannot be called up; want the person's own mobile or landline`},
	}
	assert.Equal(t, want, ro.Errors)
	require.Len(t, ro.Rows, 2)
	assert.Equal(t, []string{"+861012345678"}, ro.Rows[0].Phones)
	assert.Equal(t, []string{"+8613800138002", "+862161234599"}, ro.Rows[1].Phones)

	for typ, want := range map[phonenumbers.PhoneNumberType]string{
		phonenumbers.PREMIUM_RATE: "premium-rate", phonenumbers.UAN: "company hotline",
		phonenumbers.VOICEMAIL: "voicemail", phonenumbers.PAGER: "pager",
	} {
		assert.Contains(t, serviceNumberProblem("x", typ), want)
	}
	for _, typ := range []phonenumbers.PhoneNumberType{phonenumbers.MOBILE, phonenumbers.FIXED_LINE,
		phonenumbers.FIXED_LINE_OR_MOBILE, phonenumbers.VOIP, phonenumbers.PERSONAL_NUMBER} {
		assert.Empty(t, serviceNumberProblem("x", typ))
	}
}

// A GB18030 file (what WPS and LibreOffice save for names with characters
// GBK lacks, in four-byte sequences) is read; a "?" or "？" in a name, what
// Excel's plain "CSV" writes for such a character, is a row problem.
func TestParseRosterGB18030AndLostCharacters(t *testing.T) {
	text := "编号,姓名,手机,网格,类别\n" +
		"G001,刘䶮,13933330001,990101001001007,党员\n" +
		"G002,𠀀明,13933330002,990101001001007,党员\n" +
		"G003,陈𬌗,13933330003,990101001001007,党员\n"
	data, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(text))
	require.NoError(t, err)
	require.False(t, utf8.Valid(data))
	ro, err := ParseRoster(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, EncodingGB18030, ro.Encoding)
	assert.Empty(t, ro.Errors)
	var names []string
	for _, r := range ro.Rows {
		names = append(names, r.Name)
	}
	assert.Equal(t, []string{"刘䶮", "𠀀明", "陈𬌗"}, names)

	lost := "编号,姓名,手机,网格,类别\n" +
		"Q001,?明,13933330004,990101001001007,党员\n" +
		"Q002,陈？？,13933330005,990101001001007,党员\n" +
		"Q003,王明,13933330006,990101001001007,党员\n"
	data, err = simplifiedchinese.GBK.NewEncoder().Bytes([]byte(lost))
	require.NoError(t, err)
	ro, err = ParseRoster(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, EncodingGBK, ro.Encoding)
	assert.Equal(t, []RowError{
		{Row: 2, Field: "name", Value: "?明", Reason: `name has "?": looks like a character lost when the file was saved: save it as CSV UTF-8 or .xlsx`},
		{Row: 3, Field: "name", Value: "陈？？", Reason: `name has "?": looks like a character lost when the file was saved: save it as CSV UTF-8 or .xlsx`},
	}, ro.Errors)
	require.Len(t, ro.Rows, 1)
	assert.Equal(t, "王明", ro.Rows[0].Name)
}

// A workbook whose first sheet holds instructions: the refusal names the
// sheet read, why it was read, and the other sheets, and says what to do.
func TestParseRosterNamesTheSheetRead(t *testing.T) {
	workbook := func(first string, firstRows [][]any, roster string) []byte {
		f := excelize.NewFile()
		defer f.Close()
		require.NoError(t, f.SetSheetName("Sheet1", first))
		for i, row := range firstRows {
			require.NoError(t, f.SetSheetRow(first, fmt.Sprintf("A%d", i+1), &row))
		}
		_, err := f.NewSheet(roster)
		require.NoError(t, err)
		require.NoError(t, f.SetSheetRow(roster, "A1", &[]any{"姓名", "手机", "网格", "类别"}))
		require.NoError(t, f.SetSheetRow(roster, "A2", &[]any{"张三", "13800138000", "990101001001001", "党员"}))
		_, err = f.NewSheet("附表")
		require.NoError(t, err)
		var buf bytes.Buffer
		require.NoError(t, f.Write(&buf))
		return buf.Bytes()
	}
	instructions := [][]any{{"填表说明：请在第二个工作表填写"}}

	_, err := ParseRoster(bytes.NewReader(workbook("说明", instructions, "人员")))
	require.Error(t, err)
	assert.True(t, muster.IsCode(err, muster.EInvalid))
	assert.Equal(t, `roster file has no header row in sheet "说明" (the first; no sheet is named 名单 or roster); `+
		`the workbook also has sheets "人员", "附表": rename the roster sheet to 名单 or move it first`, err.Error())

	// Instructions that look like a header: the header problem names the sheet too.
	_, err = ParseRoster(bytes.NewReader(workbook("说明", [][]any{{"说明", "示例"}}, "人员")))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown column "说明" (column A), "示例" (column B)`)
	assert.Contains(t, err.Error(), `(header row 1 of sheet "说明" (the first; no sheet is named 名单 or roster); the workbook also has sheets "人员", "附表": rename the roster sheet to 名单 or move it first)`)

	// Four title rows: the refusal points at the header one row down,
	// not at an unknown column "标题4" (round 25, Y6).
	f := excelize.NewFile()
	for i, row := range [][]any{{"标题1"}, {"标题2"}, {"标题3"}, {"标题4"}, {"姓名", "手机", "网格", "类别"}, {"张三", "13800138000", "990101001001001", "党员"}} {
		require.NoError(t, f.SetSheetRow("Sheet1", fmt.Sprintf("A%d", i+1), &row))
	}
	var buf bytes.Buffer
	require.NoError(t, f.Write(&buf))
	require.NoError(t, f.Close())
	_, err = ParseRoster(bytes.NewReader(buf.Bytes()))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `row 4 holds only "标题4"; the header seems to be row 5: more than 3 title rows are not skipped, delete the extra title rows above it`)
	assert.NotContains(t, err.Error(), "unknown column")

	// Named 名单, the roster sheet is read wherever it is.
	ro, err := ParseRoster(bytes.NewReader(workbook("说明", instructions, "名单")))
	require.NoError(t, err)
	require.Len(t, ro.Rows, 1)
	assert.Equal(t, "张三", ro.Rows[0].Name)
}

// A workbook that packs a huge "picture" (zeros compress a thousandfold) is
// refused before it is unzipped: excelize unzips every part into memory as
// it opens a file, and a 1 MB upload took a node to 2.9 GB. A workbook
// with a picture of ordinary size is read.
func TestParseRosterRefusesAWorkbookThatUnzipsHuge(t *testing.T) {
	withMedia := func(size int) []byte {
		f := excelize.NewFile()
		defer f.Close()
		require.NoError(t, f.SetSheetRow("Sheet1", "A1", &[]any{"姓名", "手机", "网格", "类别"}))
		require.NoError(t, f.SetSheetRow("Sheet1", "A2", &[]any{"张三", "13800138000", "990101001001001", "党员"}))
		var book bytes.Buffer
		require.NoError(t, f.Write(&book))
		zr, err := zip.NewReader(bytes.NewReader(book.Bytes()), int64(book.Len()))
		require.NoError(t, err)
		var out bytes.Buffer
		zw := zip.NewWriter(&out)
		for _, part := range zr.File {
			w, err := zw.CreateHeader(&part.FileHeader)
			require.NoError(t, err)
			r, err := part.Open()
			require.NoError(t, err)
			_, err = io.Copy(w, r)
			require.NoError(t, err)
			r.Close()
		}
		w, err := zw.Create("xl/media/image1.bin")
		require.NoError(t, err)
		_, err = w.Write(make([]byte, size))
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		return out.Bytes()
	}
	bomb := withMedia(200 << 20)
	assert.Less(t, len(bomb), 1<<20, "the upload is small")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ParseRoster(bytes.NewReader(bomb))
	runtime.ReadMemStats(&after)
	require.Error(t, err)
	assert.True(t, muster.IsCode(err, muster.EInvalid))
	assert.Contains(t, err.Error(), "roster workbook holds 200.0 MiB besides its sheets (pictures or other embedded parts; at most 32.0 MiB)")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(32<<20), "refused before it was unzipped")

	ro, err := ParseRoster(bytes.NewReader(withMedia(1 << 20)))
	require.NoError(t, err)
	require.Len(t, ro.Rows, 1)
}
