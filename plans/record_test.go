package plans

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// ForEachPerson hands out exactly what encoding/json reads from the stored
// records, whether a record takes the fast path or not, and skips the grids
// keep rejects before looking further.
func TestForEachPersonMatchesJSON(t *testing.T) {
	marshal := func(p Person) string {
		b, err := json.Marshal(p)
		require.NoError(t, err)
		return string(b)
	}
	records := map[string]string{
		"P01": marshal(Person{ID: "P01", Name: "张建国", Phones: []string{"+8613800138000"}, Grid: "990101001001001", Category: CatPartyMember, Language: LangZH}),
		"P02": marshal(Person{ID: "P02", ExternalID: "E-7", Name: "Alex Morgan", Phones: []string{"+8613800138001", "+8613800138002"}, Grid: "990101001001002",
			Category: CatVolunteer, Tags: []string{"防汛", "网格长"}, Teams: []string{"防汛抢险队"}, Backup: "P01", Language: LangEN}),
		"P03": marshal(Person{ID: "P03", Name: `O"Brien <x> & \ y`, Phones: []string{"+8613800138003"}, Grid: "990101001001003", Category: CatGridWorker, Tags: []string{"a]b", "防汛"}}),
		"P04": marshal(Person{ID: "P04", Name: "空标签", Phones: []string{}, Tags: []string{}, Grid: "990101001001003"}),
		"P05": marshal(Person{ID: "P05", Grid: "990101001001001", Tags: []string{"防汛", "网格长"}}), // the same tags as P02: shared
		"P06": "{\"id\":\"P06\",\"name\":\"bad \xff utf8\",\"phones\":[\"+8613800138006\"],\"grid\":\"990101001001001\"}",
		"P07": `{"id":"P07","grid":"990101001001001","unknown":"x","phones":null}`,
		"P08": `{"id":"P08","grid":"990102001001001","name":"filtered out"}`,
		"P09": `{"grid":"990101001001001","id":"P09","tags":["\u7f51\u683c\u957f"],"category":"志愿者"}`,
	}
	db, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bPeople)
		if err != nil {
			return err
		}
		for k, v := range records {
			if err := b.Put([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	}))

	var seen []string
	var shared [][]string
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		return ForEachPerson(tx, func(g RegionCode) bool { return g != "990102001001001" }, func(r *PersonRecord) error {
			var want Person
			require.NoError(t, json.Unmarshal([]byte(records[string(r.ID)]), &want), string(r.ID))
			seen = append(seen, string(r.ID))
			assert.Equal(t, want.ID, PersonID(r.ID))
			assert.Equal(t, want.Name, string(r.Name), want.ID)
			assert.Equal(t, want.Backup, PersonID(r.Backup), want.ID)
			if len(want.Phones) > 0 {
				assert.Equal(t, want.Phones[0], string(r.Phone), want.ID)
			} else {
				assert.Empty(t, r.Phone, want.ID)
			}
			traits := r.Traits()
			assert.Equal(t, want.Grid, traits.Grid, want.ID)
			assert.Equal(t, want.Category, traits.Category, want.ID)
			assert.Equal(t, want.Language, traits.Language, want.ID)
			assert.Equal(t, len(want.Tags), len(traits.Tags), want.ID)
			for i := range want.Tags {
				assert.Equal(t, want.Tags[i], traits.Tags[i], want.ID)
			}
			assert.Equal(t, len(want.Teams), len(traits.Teams), want.ID)
			if want.ID == "P02" || want.ID == "P05" {
				shared = append(shared, traits.Tags)
			}
			full, err := r.Person()
			require.NoError(t, err)
			assert.Equal(t, want, full, want.ID)
			return nil
		})
	}))
	assert.Equal(t, []string{"P01", "P02", "P03", "P04", "P05", "P06", "P07", "P09"}, seen, "in key order, P08's grid rejected")
	require.Len(t, shared, 2)
	assert.Same(t, &shared[0][0], &shared[1][0], "equal tag lists are one slice")

	// An error from fn stops the scan; a record that is not JSON is an error.
	stop := errors.New("stop")
	n := 0
	require.ErrorIs(t, db.View(func(tx *bolt.Tx) error {
		return ForEachPerson(tx, func(RegionCode) bool { return true }, func(*PersonRecord) error { n++; return stop })
	}), stop)
	assert.Equal(t, 1, n)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bPeople).Put([]byte("P11"), []byte(`{"id":"P11",`)) }))
	require.ErrorContains(t, db.View(func(tx *bolt.Tx) error {
		return ForEachPerson(tx, func(RegionCode) bool { return true }, func(*PersonRecord) error { return nil })
	}), "decode person P11")
}

// Records as json.Marshal writes them take the fast path: a scan allocates
// for the values people share, not per person.
func TestForEachPersonAllocatesPerValueNotPerPerson(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	const people = 2000
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bPeople)
		if err != nil {
			return err
		}
		for i := range people {
			p := Person{ID: personKey(uint64(i + 1)), ExternalID: fmt.Sprintf("E%d", i), Name: "张建国", Phones: []string{fmt.Sprintf("+86138%08d", i)},
				Grid: RegionCode(fmt.Sprintf("99010100100100%d", i%4)), Category: Categories()[i%12], Tags: []string{"网格长"}, Language: LangZH}
			data, err := json.Marshal(p)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(p.ID), data); err != nil {
				return err
			}
		}
		return nil
	}))
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		n := 0
		allocs := testing.AllocsPerRun(3, func() {
			n = 0
			require.NoError(t, ForEachPerson(tx, func(RegionCode) bool { return true }, func(r *PersonRecord) error { n++; return nil }))
		})
		assert.Equal(t, people, n)
		assert.Less(t, allocs, float64(people)/10, "allocations per scan of %d people", people)
		return nil
	}))
}
