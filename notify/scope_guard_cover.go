package notify

import (
	bolt "go.etcd.io/bbolt"

	"muster/plans"
)

// asksWholeCity reports whether p's activation is one the whole-city rule
// (rulesWholeCityGuard) looks at: LIVE, at a level one person starts alone
// that gives no expected count.
func (p *prepared) asksWholeCity() bool {
	return p.req.Purpose == PurposeLive && p.level.Expected <= 0 && p.level.Approvals < 2
}

// coveredCity is a city (a region without a parent) an activation's
// regions cover whole, and the requested regions that lie in it.
type coveredCity struct {
	city plans.Region
	by   []plans.RegionCode // the city itself, or the regions that together cover it
}

// wholeCities lists the cities that regions — requested, sorted, without
// duplicates — cover whole: a region is covered when it is requested, or
// when it has children and each of them is covered. So naming every
// district of a city is naming the city. It reads only tx, in code order.
func wholeCities(tx *bolt.Tx, regions []plans.Region) ([]coveredCity, error) {
	rr := plans.NewRegionReader(tx)
	named := map[plans.RegionCode]bool{}
	under := map[plans.RegionCode]bool{} // regions a requested one is or lies under
	var cities []coveredCity             // in the order of their first requested region
	for _, r := range regions {
		named[r.Code] = true
		path, err := rr.Path(r.Code)
		if err != nil {
			return nil, err
		}
		for _, a := range path {
			under[a.Code] = true
		}
		city := path[len(path)-1]
		i := 0
		for i < len(cities) && cities[i].city.Code != city.Code {
			i++
		}
		if i == len(cities) {
			cities = append(cities, coveredCity{city: city})
		}
		cities[i].by = append(cities[i].by, r.Code)
	}
	var covered func(code plans.RegionCode) (bool, error)
	covered = func(code plans.RegionCode) (bool, error) {
		if named[code] {
			return true, nil
		}
		if !under[code] {
			return false, nil // nothing requested is or lies under it
		}
		children, err := plans.RegionChildren(tx, code)
		if err != nil || len(children) == 0 {
			return false, err
		}
		for _, c := range children {
			if ok, err := covered(c); !ok || err != nil {
				return false, err
			}
		}
		return true, nil
	}
	var out []coveredCity
	for _, c := range cities {
		ok, err := covered(c.city.Code)
		if err != nil {
			return nil, err
		}
		if ok {
			if named[c.city.Code] {
				c.by = []plans.RegionCode{c.city.Code}
			}
			out = append(out, c)
		}
	}
	return out, nil
}
