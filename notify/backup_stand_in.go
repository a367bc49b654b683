package notify

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"muster/plans"
)

// rulesBackupStandsIn is the behaviour (muster.Rules) from which the
// escalation's backup step records whom each backup it calls up stands in
// for (bStandIns), and the backup's call-up says it: the silent person and
// the grid where the backup is to take their place. Under older rules the
// backup got the ordinary call-up, which names neither: a 下沉干部 asked
// to serve 以网格员身份 went to his own grid or called the duty office.
const rulesBackupStandsIn = 13

// bStandIns, under an activation's data bucket, keeps whom each backup the
// escalation's backup step called up stands in for. The recipient records
// keep their layout: a recipient with no entry here stands in for no one.
var bStandIns = []byte("stand_ins") // person → StandIn (JSON)

// StandIn is the silent person a backup was called up in place of: their
// ID and name, and their grid (the post the backup takes) by code and by
// the names the regions had when the backup was called up (NameEN empty
// when the grid has no English name; both empty when the grid was not in
// the regions).
type StandIn struct {
	Person     plans.PersonID   `json:"person"`
	Name       string           `json:"name"`
	Grid       plans.RegionCode `json:"grid"`
	GridName   string           `json:"grid_name,omitempty"`
	GridNameEN string           `json:"grid_name_en,omitempty"`
}

// putStandIn records that backup stands in for r in the activation of at.
// When r is a backup standing in for someone, the backup stands in for
// that person too: the post is still theirs. It reads only the state.
func putStandIn(tx *bolt.Tx, at *actTx, backup plans.PersonID, r Recipient) error {
	b, err := at.ad.CreateBucketIfNotExists(bStandIns)
	if err != nil {
		return err
	}
	v := b.Get([]byte(r.Person))
	if v == nil {
		s := StandIn{Person: r.Person, Name: r.Name, Grid: r.Grid}
		reg, ok, err := plans.GetRegion(tx, r.Grid)
		if err != nil {
			return err
		}
		if ok {
			s.GridName, s.GridNameEN = reg.Name, reg.NameEN
		}
		if v, err = json.Marshal(s); err != nil {
			return err
		}
	}
	return b.Put([]byte(backup), v)
}

// standInOf reads whom person stands in for in the activation whose data
// bucket is ad (nil: no one).
func standInOf(ad *bolt.Bucket, person plans.PersonID) (*StandIn, error) {
	if ad == nil {
		return nil, nil
	}
	b := ad.Bucket(bStandIns)
	if b == nil {
		return nil, nil
	}
	v := b.Get([]byte(person))
	if v == nil {
		return nil, nil
	}
	var s StandIn
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, fmt.Errorf("stand-in record of %s: %w", person, err)
	}
	return &s, nil
}

// standInSentence is what a backup's call-up says, in lang, of whom they
// stand in for and as what (roles, the role slots' names): the person's
// name and grid, by its name in lang where it has one, else the Chinese
// name, else its code. With short the grid is left out.
func standInSentence(s *StandIn, roles string, lang plans.Language, short bool) string {
	grid := s.GridName
	if lang == plans.LangEN && s.GridNameEN != "" {
		grid = s.GridNameEN
	}
	if lang == plans.LangEN {
		switch {
		case short || s.Grid == "":
			grid = ""
		case grid == "":
			grid = fmt.Sprintf(" (grid %s)", s.Grid)
		default:
			grid = fmt.Sprintf(" (%s)", grid)
		}
		as := ""
		if roles != "" {
			as = " as " + roles
		}
		return fmt.Sprintf("%s%s could not be reached: you stand in for them%s. ", s.Name, grid, as)
	}
	switch {
	case short || s.Grid == "":
		grid = ""
	case grid == "":
		grid = fmt.Sprintf("（网格%s）", s.Grid)
	default:
		grid = "（" + grid + "）"
	}
	post := "其岗位"
	if roles != "" {
		post = "其" + roles + "岗位"
	}
	return fmt.Sprintf("因%s%s未能联系，请您替补%s。", s.Name, grid, post)
}
