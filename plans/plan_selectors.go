package plans

import (
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// unmatchedSelectors says, for each tag, team and category a role of p
// selects by that no one in the roster in tx has, which roles select by
// it, and the values someone has that it is one character away from, if
// any (a typo: 网格场 for 网格长). A plan that selects nobody is stored all
// the same (the roster may come later), but the official who applies it
// is told now, not by the preview of a real call-up. The roster is read
// until every value is found; a plan with one nobody has reads all of it.
func unmatchedSelectors(tx *bolt.Tx, p *Plan) ([]string, error) {
	roles := map[selectorValue][]string{}
	var order []selectorValue
	for _, l := range p.Levels {
		for _, g := range l.Groups {
			for _, r := range g.Roles {
				var vs []selectorValue
				for _, c := range r.Select.Categories {
					vs = append(vs, selectorValue{"category", string(c)})
				}
				for _, t := range r.Select.Tags {
					vs = append(vs, selectorValue{"tag", t})
				}
				for _, t := range r.Select.Teams {
					vs = append(vs, selectorValue{"team", t})
				}
				for _, v := range vs {
					if _, ok := roles[v]; !ok {
						order = append(order, v)
					}
					role := fmt.Sprintf("%s %s / %s", l.Code, g.Name, r.Name)
					if !slices.Contains(roles[v], role) {
						roles[v] = append(roles[v], role)
					}
				}
			}
		}
	}
	missing := map[selectorValue]bool{}
	for _, v := range order {
		missing[v] = true
	}
	had := map[selectorValue]bool{} // what the roster has, of the kinds missing values are of
	b := tx.Bucket(bPeople)
	if b == nil || isEmpty(b) {
		if len(order) == 0 {
			return nil, nil
		}
		return []string{"no one is in the roster yet: the plan's roles select no one until it is imported"}, nil
	}
	if len(missing) > 0 {
		var person Person
		c := b.Cursor()
		for k, data := c.First(); k != nil && len(missing) > 0; k, data = c.Next() {
			if err := decodePerson(data, &person); err != nil {
				return nil, fmt.Errorf("person %s: %w", k, err)
			}
			have := []selectorValue{{"category", string(person.Category)}}
			for _, t := range person.Tags {
				have = append(have, selectorValue{"tag", t})
			}
			for _, t := range person.Teams {
				have = append(have, selectorValue{"team", t})
			}
			for _, v := range have {
				delete(missing, v)
				had[v] = true
			}
		}
	}
	var out []string
	for _, v := range order {
		if !missing[v] {
			continue
		}
		msg := fmt.Sprintf("%s %s matches no one in the roster (%s)", v.kind, v.v, strings.Join(roles[v], "; "))
		if near := nearest(v, had); near != "" {
			msg += fmt.Sprintf("; did you mean %s?", near)
		}
		out = append(out, msg)
	}
	return out, nil
}

// selectorValue is a selector's value of one kind: category, tag or team.
type selectorValue struct{ kind, v string }

// nearest is the values of v's kind in had one character away from v
// (one changed, added or left out), in order, joined by " or ".
func nearest(v selectorValue, had map[selectorValue]bool) string {
	var near []string
	for h := range had {
		if h.kind == v.kind && editDistance(v.v, h.v) == 1 {
			near = append(near, h.v)
		}
	}
	slices.Sort(near)
	return strings.Join(near, " or ")
}

// isEmpty reports whether bucket b holds no key.
func isEmpty(b *bolt.Bucket) bool {
	k, _ := b.Cursor().First()
	return k == nil
}
