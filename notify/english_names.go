package notify

import (
	"slices"
	"strings"

	"muster/plans"
)

// rulesEnglishNames is the behaviour (muster.Rules) from which an
// activation keeps its regions' English names (Activation.RegionNamesEN)
// and its roles' (RoleSlot.NameEN), which English speakers' messages say;
// before it an older muster, which has neither, may be applying it, and
// English speakers read the Chinese names.
const rulesEnglishNames = 11

// regionNamesEN joins the regions' English names with ", ", a region
// without one giving its Chinese name; "" when none of them has one.
func regionNamesEN(regions []plans.Region) string {
	if !slices.ContainsFunc(regions, func(r plans.Region) bool { return r.NameEN != "" }) {
		return ""
	}
	names := make([]string, len(regions))
	for i, r := range regions {
		names[i] = r.NameEN
		if names[i] == "" {
			names[i] = r.Name
		}
	}
	return strings.Join(names, ", ")
}

// withoutNamesEN is a copy of slots without their English names.
func withoutNamesEN(slots []RoleSlot) []RoleSlot {
	out := slices.Clone(slots)
	for i := range out {
		out[i].NameEN = ""
	}
	return out
}
