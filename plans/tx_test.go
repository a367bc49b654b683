package plans

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fast person decoder gives exactly what encoding/json gives, and falls
// back to it for records it does not handle.
func TestDecodePersonMatchesJSON(t *testing.T) {
	people := []Person{
		{ID: "P00000001", Name: "张建国", Phones: []string{"+8613800138000"}, Grid: "990101001001001", Category: CatPartyMember, Language: LangZH},
		{ID: "P00000002", ExternalID: "E-7", Name: "Alex Morgan", Phones: []string{"+8613800138001", "+8613800138002"}, Grid: "990101001001002",
			Category: CatVolunteer, Tags: []string{"防汛", "网格长"}, Teams: []string{"防汛抢险队"}, Backup: "P00000001", Language: LangEN},
		{ID: "P00000003", Name: `O"Brien <x> & \ y`, Phones: []string{"+8613800138003"}, Grid: "990101001001003", Category: CatGridWorker, Language: LangZH},
		{ID: "P00000004", Name: "空标签", Phones: []string{}, Tags: []string{}, Grid: "990101001001003"},
		{},
	}
	for _, p := range people {
		data, err := json.Marshal(p)
		require.NoError(t, err)
		var want, got Person
		require.NoError(t, json.Unmarshal(data, &want))
		require.NoError(t, decodePerson(data, &got))
		assert.Equal(t, want, got, string(data))
		if g, ok := rawGrid(data); ok {
			assert.Equal(t, string(want.Grid), g)
		}
	}
	var p Person
	assert.Error(t, decodePerson([]byte(`{"name":`), &p))
	assert.True(t, decodePersonFast([]byte(`{}`), &p))
	assert.False(t, decodePersonFast([]byte(`{"unknown":"x"}`), &p))
	assert.False(t, decodePersonFast([]byte(`{"name":"x"} `), &p))
}
