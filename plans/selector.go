package plans

import (
	"slices"
	"strings"
)

// Selector picks the people who fill a role slot. A person matches when, for
// every non-empty field, they match at least one of its values: OR within a
// field, AND across fields. An empty selector matches nobody, so a plan can
// never call up the whole roster by leaving a selector out.
type Selector struct {
	Categories []Category   `json:"categories,omitempty"` // the person's category is one of these
	Tags       []string     `json:"tags,omitempty"`       // the person carries one of these tags
	Teams      []string     `json:"teams,omitempty"`      // the person belongs to one of these teams
	Regions    []RegionCode `json:"regions,omitempty"`    // the person's grid is one of these regions or lies under it
}

// IsEmpty reports whether no field of s has a value.
func (s Selector) IsEmpty() bool {
	return len(s.Categories) == 0 && len(s.Tags) == 0 && len(s.Teams) == 0 && len(s.Regions) == 0
}

// Match reports whether p fills a slot with selector s. under(grid, region)
// must report whether the grid is region itself or lies below it in the
// region tree; a nil under falls back to RegionUnder, which decides from the
// codes alone. An empty selector matches nobody.
func (s Selector) Match(p Person, under func(grid, region RegionCode) bool) bool {
	if s.IsEmpty() {
		return false
	}
	if len(s.Categories) > 0 && !slices.Contains(s.Categories, p.Category) {
		return false
	}
	if len(s.Tags) > 0 && !slices.ContainsFunc(s.Tags, p.HasTag) {
		return false
	}
	if len(s.Teams) > 0 && !slices.ContainsFunc(s.Teams, p.InTeam) {
		return false
	}
	if len(s.Regions) > 0 {
		if under == nil {
			under = RegionUnder
		}
		if p.Grid == "" || !slices.ContainsFunc(s.Regions, func(r RegionCode) bool { return under(p.Grid, r) }) {
			return false
		}
	}
	return true
}

// RegionUnder reports from the codes alone whether code is region itself or
// lies below it: a 9-, 12- or 15-digit region covers the codes it prefixes; a
// 6-digit region covers the codes that start with it once its trailing "00"
// pairs are dropped (city 990100 covers districts 9901xx, province 990000
// covers 99xxxx). It suits the demo city's numbering; the server passes its
// region tree to Selector.Match instead.
func RegionUnder(code, region RegionCode) bool {
	if code == "" || region == "" {
		return false
	}
	if code == region {
		return true
	}
	prefix := string(region)
	if len(prefix) == 6 {
		for len(prefix) > 2 && strings.HasSuffix(prefix, "00") {
			prefix = prefix[:len(prefix)-2]
		}
	} else if len(code) <= len(region) {
		return false
	}
	return len(code) >= len(region) && strings.HasPrefix(string(code), prefix)
}

// canonicalize trims values and maps categories to their canonical spelling,
// keeping the order.
func (s *Selector) canonicalize() {
	for i, c := range s.Categories {
		if cc, err := ParseCategory(string(c)); err == nil {
			s.Categories[i] = cc
		} else {
			s.Categories[i] = Category(strings.TrimSpace(string(c)))
		}
	}
	if len(s.Categories) == 0 {
		s.Categories = nil
	}
	s.Tags = trimAll(s.Tags)
	s.Teams = trimAll(s.Teams)
	s.Regions = trimAll(s.Regions)
}

// sortSets sorts and deduplicates every field.
func (s *Selector) sortSets() {
	s.Categories = sortedSet(s.Categories)
	s.Tags = sortedSet(s.Tags)
	s.Teams = sortedSet(s.Teams)
	s.Regions = sortedSet(s.Regions)
}

func (s Selector) clone() Selector {
	return Selector{
		Categories: slices.Clone(s.Categories),
		Tags:       slices.Clone(s.Tags),
		Teams:      slices.Clone(s.Teams),
		Regions:    slices.Clone(s.Regions),
	}
}
