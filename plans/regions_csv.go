package plans

import (
	"fmt"
	"io"
)

// Region import fields.
const (
	regColCode = iota
	regColName
	regColKind
	regColParent
	regColNameEN
	numRegionCols
)

// regionColumns are the columns a region file may have.
var regionColumns = []column{
	regColCode:   {field: "code", names: []string{"编码", "代码", "区划代码", "code"}, required: true},
	regColName:   {field: "name", names: []string{"名称", "name"}, required: true},
	regColKind:   {field: "kind", names: []string{"级别", "层级", "kind", "level"}, required: true},
	regColParent: {field: "parent", names: []string{"上级", "上级编码", "parent"}},
	regColNameEN: {field: "name_en", names: []string{"英文名", "英文名称", "name_en"}},
}

// ParseRegions reads a region file (编码/code, 名称/name, 级别/kind,
// 上级/parent and 英文名/name_en columns) in any format and encoding ParseRoster accepts; an
// .xlsx workbook is read from the sheet named 区划 or regions, else the
// first. Each row is checked on its own with Region.Validate, and a code
// given twice is an error on the later row; whether parents exist is checked
// when the regions are applied. It returns the valid regions in file order
// and one RowError per problem; the error is non-nil only when the file as a
// whole cannot be read, as for ParseRoster.
func ParseRegions(r io.Reader) ([]Region, []RowError, error) {
	rows, errs, err := parseRegionRows(r)
	regions := make([]Region, len(rows))
	for i, r := range rows {
		regions[i] = r.Region
	}
	if rows == nil {
		regions = nil
	}
	return regions, errs, err
}

// parseRegionRows is ParseRegions keeping each region's row in the file.
func parseRegionRows(r io.Reader) ([]regionRow, []RowError, error) {
	t, err := openTable(r, "regions", "区划", "regions")
	if err != nil {
		return nil, nil, err
	}
	defer t.close()
	if err := t.readHeader("regions", knownColumn(regionColumns)); err != nil {
		return nil, nil, err
	}
	idx, err := mapColumns("regions", t.header, regionColumns)
	if err != nil {
		return nil, nil, err
	}
	var regions []regionRow
	var errs []RowError
	seen := map[RegionCode]int{}
	for {
		cells, row, err := t.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		cell := func(col int) string {
			if j := idx[col]; j >= 0 && j < len(cells) {
				return trimCell(cells[j])
			}
			return ""
		}
		blank := true
		for _, c := range cells {
			if trimCell(c) != "" {
				blank = false
				break
			}
		}
		if blank {
			continue
		}
		nerr := len(errs)
		fail := func(field, value, reason string) {
			errs = append(errs, RowError{Row: row, Field: field, Value: clip(value), Reason: reason})
		}
		for i, c := range cells {
			if v := trimCell(c); v != "" && (i >= len(t.header) || headerKey(t.header[i]) == "") {
				fail("column "+columnLetter(i), v, "value in a column without a header: add a header or delete the value")
			}
		}
		rg := Region{Code: RegionCode(cell(regColCode)), Name: cell(regColName), Parent: RegionCode(cell(regColParent)), NameEN: cell(regColNameEN)}
		kind, kerr := ParseRegionKind(cell(regColKind))
		switch {
		case kerr != nil:
			fail("kind", cell(regColKind), reasonOf(kerr))
		default:
			rg.Kind = kind
			if err := rg.Validate(); err != nil {
				field, value := regionField(rg)
				fail(field, value, reasonOf(err))
			} else if p := liveNameProblem(rg.Name); p != "" {
				fail("name", rg.Name, p) // {{.Region}} puts it into LIVE messages
			}
		}
		if first, ok := seen[rg.Code]; ok && rg.Code != "" {
			fail("code", string(rg.Code), fmt.Sprintf("code already used on row %d", first))
		} else if rg.Code != "" {
			seen[rg.Code] = row
		}
		if len(errs) == nerr {
			regions = append(regions, regionRow{Region: rg, Row: row, KeepNameEN: idx[regColNameEN] < 0})
		}
	}
	return regions, errs, nil
}

// regionField names the field Region.Validate objected to, mirroring its
// checks in order.
func regionField(r Region) (field, value string) {
	if len(r.Code) != codeLen[r.Kind] || !allDigits(string(r.Code)) {
		return "code", string(r.Code)
	}
	if trimCell(r.Name) == "" {
		return "name", r.Name
	}
	if checkNameEN(r.NameEN) != nil {
		return "name_en", r.NameEN
	}
	return "parent", string(r.Parent)
}
