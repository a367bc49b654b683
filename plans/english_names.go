package plans

import "muster"

// rulesEnglishNames is the behaviour (muster.Rules) from which regions keep
// an English name (Region.NameEN) and plan roles one (Role.NameEN): a
// region file without the English name column leaves the names stored as
// they are, one with it sets them (an empty cell clears), and a plan
// version keeps its roles' English names. Before it an older muster, which
// has no such fields, may be applying the same entries: regions are stored
// without English names and plans without their roles'.
const rulesEnglishNames = 11

// maxNameENLen bounds a region's English name, in bytes.
const maxNameENLen = 200

// checkNameEN checks an English name: plain text on one line, within
// maxNameENLen bytes. An empty name is fine: it has none.
func checkNameEN(s string) error {
	if len(s) > maxNameENLen {
		return muster.Errorf(muster.EInvalid, "name_en: %d bytes: keep it within %d", len(s), maxNameENLen)
	}
	return muster.CheckPlainText("name_en", s, false)
}

// toStore is the region row rr stores over old (exists false: none), and
// old as it is compared with it: under rules before rulesEnglishNames
// neither has an English name, as an older muster reads them; from it a
// row that keeps the English name (a file without the column) takes old's,
// and any other sets its own, an empty one clearing it.
func (rr regionRow) toStore(old Region, exists bool, c *muster.Command) (r, was Region) {
	r, was = rr.Region, old
	switch {
	case !c.RulesAtLeast(rulesEnglishNames):
		r.NameEN, was.NameEN = "", ""
	case rr.KeepNameEN:
		r.NameEN = ""
		if exists {
			r.NameEN = old.NameEN
		}
	}
	return r, was
}

// withoutRoleNamesEN removes the roles' English names from p, as a plan
// version is stored under rules before rulesEnglishNames.
func (p *Plan) withoutRoleNamesEN() {
	for i := range p.Levels {
		for j := range p.Levels[i].Groups {
			for k := range p.Levels[i].Groups[j].Roles {
				p.Levels[i].Groups[j].Roles[k].NameEN = ""
			}
		}
	}
}

// roleNameENProblem is what is wrong with a role's English name, "" if
// nothing: plain text on one line (the drill-word check is liveTexts').
func roleNameENProblem(s string) string {
	if err := muster.CheckPlainText("name_en", s, false); err != nil {
		return reasonOf(err)
	}
	return ""
}
