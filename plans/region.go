// Package plans keeps muster's peacetime data: the region tree down to grids
// (网格), the people in the mobilization roster, emergency plans with their
// levels and role slots, and the imports that fill them. It knows nothing of
// HTTP or raft: writes are Commands applied to a bbolt transaction, reads take
// a bbolt transaction.
package plans

import (
	"fmt"
	"strings"

	"muster"
)

// RegionCode identifies a region: GB/T 2260 six digits for a city or district,
// nine for a street (街道), twelve for a community (社区), and fifteen (the
// community's twelve plus a local three-digit suffix) for a grid (网格).
type RegionCode string

// JoinCodes joins region codes with sep, for messages and flags.
func JoinCodes(codes []RegionCode, sep string) string {
	s := make([]string, len(codes))
	for i, c := range codes {
		s[i] = string(c)
	}
	return strings.Join(s, sep)
}

// RegionKind is a region's level in the tree.
type RegionKind string

// Region kinds, from the top of the tree down.
const (
	KindCity      RegionKind = "city"      // 市
	KindDistrict  RegionKind = "district"  // 区/县
	KindStreet    RegionKind = "street"    // 街道/乡镇
	KindCommunity RegionKind = "community" // 社区/村
	KindGrid      RegionKind = "grid"      // 网格
)

// regionKinds lists kinds top-down; a region's parent is always one level up.
var regionKinds = []RegionKind{KindCity, KindDistrict, KindStreet, KindCommunity, KindGrid}

// regionKindNames maps accepted spellings (English and Chinese) to kinds.
var regionKindNames = map[string]RegionKind{
	"city": KindCity, "市": KindCity,
	"district": KindDistrict, "county": KindDistrict, "区": KindDistrict, "县": KindDistrict, "区县": KindDistrict,
	"street": KindStreet, "town": KindStreet, "街道": KindStreet, "乡镇": KindStreet, "镇": KindStreet,
	"community": KindCommunity, "village": KindCommunity, "社区": KindCommunity, "村": KindCommunity,
	"grid": KindGrid, "网格": KindGrid,
}

// ParseRegionKind accepts English or Chinese kind names.
func ParseRegionKind(s string) (RegionKind, error) {
	if k, ok := regionKindNames[strings.ToLower(strings.TrimSpace(s))]; ok {
		return k, nil
	}
	return "", muster.Errorf(muster.EInvalid, "region kind %q: want city, district, street, community or grid (市/区/街道/社区/网格)", s)
}

// Depth is 0 for a city and 4 for a grid.
func (k RegionKind) Depth() int {
	for i, x := range regionKinds {
		if x == k {
			return i
		}
	}
	return -1
}

// codeLen is the number of digits a code of each kind has.
var codeLen = map[RegionKind]int{KindCity: 6, KindDistrict: 6, KindStreet: 9, KindCommunity: 12, KindGrid: 15}

// Region is one node of the region tree.
type Region struct {
	Code   RegionCode `json:"code"`
	Name   string     `json:"name"`
	Kind   RegionKind `json:"kind"`
	Parent RegionCode `json:"parent,omitempty"` // empty only for a city
	// NameEN is the region's English name (Donghu District), said instead
	// of Name in English speakers' messages; empty when it has none.
	NameEN string `json:"name_en,omitempty"`
}

// Validate checks the region on its own: code digits and length for its kind,
// a name, an English name (if any) of plain text on one line, and a parent
// code that is a plausible prefix. Whether the parent exists is checked
// when the region is applied.
func (r Region) Validate() error {
	want, ok := codeLen[r.Kind]
	if !ok {
		return muster.Errorf(muster.EInvalid, "region %s: unknown kind %q", r.Code, r.Kind)
	}
	if len(r.Code) != want || !allDigits(string(r.Code)) {
		return muster.Errorf(muster.EInvalid, "region %s: a %s code has %d digits", r.Code, r.Kind, want)
	}
	if strings.TrimSpace(r.Name) == "" {
		return muster.Errorf(muster.EInvalid, "region %s: name is empty", r.Code)
	}
	if err := checkNameEN(r.NameEN); err != nil {
		return muster.Errorf(muster.EInvalid, "region %s: %s", r.Code, reasonOf(err))
	}
	if r.Kind == KindCity {
		if r.Parent != "" {
			return muster.Errorf(muster.EInvalid, "region %s: a city has no parent", r.Code)
		}
		return nil
	}
	if r.Parent == "" {
		return muster.Errorf(muster.EInvalid, "region %s: a %s needs a parent", r.Code, r.Kind)
	}
	prefix := string(r.Parent)
	if r.Kind == KindDistrict {
		prefix = strings.TrimSuffix(prefix, "00") // 330100 → districts 3301xx
	}
	if !strings.HasPrefix(string(r.Code), prefix) {
		return muster.Errorf(muster.EInvalid, "region %s: code does not start with its parent's code %s", r.Code, r.Parent)
	}
	return nil
}

// Label is "name (code)", for messages.
func (r Region) Label() string { return fmt.Sprintf("%s (%s)", r.Name, r.Code) }

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
