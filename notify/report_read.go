package notify

import (
	"slices"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// GridPlace is where a grid sits on an activation's 报到 board: its own
// name and path, and the region its row rolls up into (Board.Regions).
type GridPlace struct {
	// Known is false for a grid no longer in the region tree: it is listed
	// by code only and rolls up nowhere, as on the board.
	Known bool `json:"known"`
	// Name, Kind and Path describe the grid itself; Path names the regions
	// above it below the city, top down, joined by " / ".
	Name string           `json:"name,omitempty"`
	Kind plans.RegionKind `json:"kind,omitempty"`
	Path string           `json:"path,omitempty"`
	// Rollup is the region one level below the activated regions that the
	// grid counts under, with its own path; Outside marks a rollup outside
	// every activated region (people called up by roles that reach the
	// whole plan).
	Rollup     plans.Region `json:"rollup"`
	RollupPath string       `json:"rollup_path,omitempty"`
	Outside    bool         `json:"outside,omitempty"`
}

// PlaceGrids places each of grids the way the 报到 board of an activation
// over activated does: the same names, paths and roll-up regions as Board's
// Grids and Regions rows. It reads only tx, so the answer is the same on
// every node for the same state.
func PlaceGrids(tx *bolt.Tx, activated []plans.RegionCode, grids []plans.RegionCode) (map[plans.RegionCode]GridPlace, error) {
	depths := map[plans.RegionCode]int{}
	childDepth := plans.KindGrid.Depth()
	for _, code := range activated {
		r, ok, err := plans.GetRegion(tx, code)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		d := r.Kind.Depth()
		depths[code] = d
		childDepth = min(childDepth, d+1)
	}
	out := make(map[plans.RegionCode]GridPlace, len(grids))
	regions := plans.NewRegionReader(tx)
	for _, g := range grids {
		if _, done := out[g]; done {
			continue
		}
		path, err := regions.Path(g)
		if muster.IsCode(err, muster.EInvalid) {
			out[g] = GridPlace{}
			continue
		} else if err != nil {
			return nil, err
		}
		up, outside := rollupOf(path, depths, childDepth)
		i := slices.IndexFunc(path, func(r plans.Region) bool { return r.Code == up.Code })
		out[g] = GridPlace{Known: true, Name: path[0].Name, Kind: path[0].Kind, Path: pathNames(path[1:]),
			Rollup: up, RollupPath: pathNames(path[i+1:]), Outside: outside}
	}
	return out, nil
}
