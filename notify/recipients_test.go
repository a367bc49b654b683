package notify

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/plans"
)

// A record encoded from the roster's bytes decodes back to the person's
// fields, with the state and the roles.
func TestRecordEncodingRoundTrip(t *testing.T) {
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
		got, err := decodeRecipient([]byte(p.ID), appendRecord(nil, 2, roles, &r))
		require.NoError(t, err)
		phone := ""
		if len(p.Phones) > 0 {
			phone = p.Phones[0]
		}
		assert.Equal(t, Recipient{Person: p.ID, State: StateSent, Roles: []int{0, 3, 300}, Phone: phone, Name: p.Name,
			Language: p.Language, Grid: p.Grid, Backup: p.Backup}, got)

		// withPhone changes the phone and nothing else.
		v, err := withPhone(appendRecord(nil, 2, roles, &r), "+8613912345678")
		require.NoError(t, err)
		readdressed, err := decodeRecipient([]byte(p.ID), v)
		require.NoError(t, err)
		got.Phone = "+8613912345678"
		assert.Equal(t, got, readdressed)
	}
	_, err := withPhone([]byte{recipientVersion, 2, 5, 1}, "+8613912345678")
	assert.ErrorIs(t, err, errBadRecord, "truncated")
}
