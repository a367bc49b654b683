package notify

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/plans"
)

// Applying an activation encodes records from the roster's bytes, a preview
// from a decoded Person: both give the same record, and it decodes back.
func TestRecordEncodingsAgree(t *testing.T) {
	people := []plans.Person{
		{ID: "P00000001", Name: "张建国", Phones: []string{"+8613800138000", "+8613800138009"}, Grid: "990101001001001", Language: plans.LangZH, Backup: "P00000002"},
		{ID: "P00000002", Name: "Alex", Phones: nil, Grid: "990101001001002", Language: plans.LangEN},
		{ID: "P00000003"},
	}
	for _, p := range people {
		r := plans.PersonRecord{ID: []byte(p.ID), Name: []byte(p.Name), Backup: []byte(p.Backup), Grid: p.Grid, Language: p.Language}
		if len(p.Phones) > 0 {
			r.Phone = []byte(p.Phones[0])
		}
		roles := []uint16{0, 3, 300}
		want := appendRecipient(nil, 2, roles, &p)
		assert.Equal(t, want, appendRecord(nil, 2, roles, &r), p.ID)

		got, err := decodeRecipient([]byte(p.ID), want)
		require.NoError(t, err)
		phone := ""
		if len(p.Phones) > 0 {
			phone = p.Phones[0]
		}
		assert.Equal(t, Recipient{Person: p.ID, State: StateSent, Roles: []int{0, 3, 300}, Phone: phone, Name: p.Name,
			Language: p.Language, Grid: p.Grid, Backup: p.Backup}, got)
	}
}
