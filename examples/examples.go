// Package examples is muster's demo content: the fictional city 示例市 with
// its districts, streets, communities and grids, a generator for realistic
// rosters of any size, and example emergency plans. `muster dev` loads it,
// and tests use it as realistic input.
package examples

import (
	"bytes"
	_ "embed"
	"fmt"

	"muster/plans"
)

//go:embed city/regions.csv
var regionsCSV []byte

// RegionsCSV returns the demo city's region file (city/regions.csv, UTF-8
// CSV with Chinese headers) as committed; the caller may keep or change the
// returned copy.
func RegionsCSV() []byte { return bytes.Clone(regionsCSV) }

// Regions parses city/regions.csv with plans.ParseRegions: 1,351 regions,
// parents before children. Any row error is returned as an error: the
// committed file is always valid.
func Regions() ([]plans.Region, error) {
	regions, rowErrs, err := plans.ParseRegions(bytes.NewReader(regionsCSV))
	if err != nil {
		return nil, fmt.Errorf("parse demo city regions: %w", err)
	}
	if len(rowErrs) > 0 {
		return nil, fmt.Errorf("parse demo city regions: %d bad rows, first: %w", len(rowErrs), rowErrs[0])
	}
	return regions, nil
}

// Grids returns the codes of the grids among regions, in their order.
func Grids(regions []plans.Region) []plans.RegionCode {
	var out []plans.RegionCode
	for _, r := range regions {
		if r.Kind == plans.KindGrid {
			out = append(out, r.Code)
		}
	}
	return out
}
