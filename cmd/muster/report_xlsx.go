package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// reportXLSX is the drill report format the CLI writes itself: the
// server's CSV table (one row per recipient) as the one sheet of an Excel
// workbook, for trainers who want a spreadsheet rather than a CSV file
// Excel has to be told how to read.
const reportXLSX = "xlsx"

// reportNumber is a CSV cell the workbook stores as a number (seconds to
// ack, provider error codes): a plain decimal of at most nine integer
// digits without a leading zero, so codes and IDs made of digits (a grid's
// 15-digit code) stay text as written.
var reportNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]{0,8})(\.[0-9]+)?$`)

// reportTimeLayout is how the CSV writes a time (in the zone its time zone
// column names); the workbook stores such a cell as a date and time.
const reportTimeLayout = "2006-01-02 15:04:05"

// reportWorkbook writes the report's CSV as a workbook of one sheet named
// sheet (or "report" when Excel would refuse that name): the header row
// frozen and filterable, plain decimals as numbers, times as date cells
// shown as the CSV writes them (a date cell has no zone: the report's time
// zone column names it), every other cell as text. The CSV guards cells a
// spreadsheet would read as a formula with an apostrophe; a workbook cell
// written as text is never a formula, so the guard is taken off and the
// cell says what the person wrote.
func reportWorkbook(data []byte, sheet string) ([]byte, error) {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("the report's CSV has no header row: %w", err)
	}
	f := excelize.NewFile()
	defer f.Close()
	first := f.GetSheetName(0)
	if f.SetSheetName(first, sheet) != nil {
		sheet = "report"
		if err := f.SetSheetName(first, sheet); err != nil {
			return nil, err
		}
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return nil, err
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return nil, err
	}
	if err := sw.SetColWidth(1, max(1, len(head)), 16); err != nil {
		return nil, err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return nil, err
	}
	cells := make([]any, len(head))
	for i, h := range head {
		cells[i] = excelize.Cell{StyleID: bold, Value: h}
	}
	if err := sw.SetRow("A1", cells); err != nil {
		return nil, err
	}
	// A number keeps the decimals the CSV wrote ("95.0", not "95").
	decimals := map[int]int{} // decimal places → style
	numberCell := func(v float64, places int) (any, error) {
		if places == 0 {
			return v, nil
		}
		id, ok := decimals[places]
		if !ok {
			format := "0." + strings.Repeat("0", places)
			var err error
			if id, err = f.NewStyle(&excelize.Style{CustomNumFmt: &format}); err != nil {
				return nil, err
			}
			decimals[places] = id
		}
		return excelize.Cell{StyleID: id, Value: v}, nil
	}
	dateFormat := "yyyy-mm-dd hh:mm:ss"
	dateStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &dateFormat})
	if err != nil {
		return nil, err
	}
	row, width := 1, len(head)
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("the report's CSV, row %d: %w", row+1, err)
		}
		row++
		if row > excelize.TotalRows {
			return nil, fmt.Errorf("the report has more rows than a sheet holds (%d): write it with --format csv", excelize.TotalRows)
		}
		width = max(width, len(rec))
		cells = cells[:0]
		for _, s := range rec {
			if t, err := time.Parse(reportTimeLayout, s); err == nil {
				cells = append(cells, excelize.Cell{StyleID: dateStyle, Value: t})
				continue
			}
			v, places, isNumber := reportNumberOf(s)
			if !isNumber {
				cells = append(cells, reportText(s))
				continue
			}
			c, err := numberCell(v, places)
			if err != nil {
				return nil, err
			}
			cells = append(cells, c)
		}
		cell, err := excelize.CoordinatesToCellName(1, row)
		if err != nil {
			return nil, err
		}
		if err := sw.SetRow(cell, cells); err != nil {
			return nil, err
		}
	}
	if err := sw.Flush(); err != nil {
		return nil, err
	}
	last, err := excelize.CoordinatesToCellName(width, row)
	if err != nil {
		return nil, err
	}
	if err := f.AutoFilter(sheet, "A1:"+last, nil); err != nil {
		return nil, err
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// reportNumberOf is the value of a CSV cell the workbook stores as a
// number (see reportNumber), with its decimal places.
func reportNumberOf(s string) (v float64, places int, ok bool) {
	if !reportNumber.MatchString(s) {
		return 0, 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, 0, false
	}
	if _, frac, found := strings.Cut(s, "."); found {
		places = len(frac)
	}
	return v, places, true
}

// reportText is a CSV cell's text without the CSV's formula guard (see
// reportWorkbook).
func reportText(s string) string {
	if len(s) > 1 && s[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(s[1])) {
		return s[1:]
	}
	return s
}
