package access_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
)

func TestAllowed(t *testing.T) {
	all := []access.Action{access.ActRead, access.ActEditRoster, access.ActEditPlans, access.ActActivate, access.ActApprove, access.ActDrill, access.ActAdmin, access.ActImportCAP}
	tests := []struct {
		role    access.Role
		allowed []access.Action
	}{
		{access.Admin, all},
		{access.Commander, []access.Action{access.ActRead, access.ActEditRoster, access.ActEditPlans, access.ActActivate, access.ActApprove, access.ActImportCAP}},
		{access.Approver, []access.Action{access.ActRead, access.ActApprove}},
		{access.Operator, []access.Action{access.ActRead, access.ActEditRoster, access.ActEditPlans}},
		{access.Trainer, []access.Action{access.ActRead, access.ActDrill}},
		{access.Viewer, []access.Action{access.ActRead}},
		{access.Feed, []access.Action{access.ActImportCAP}},
		{access.Role("root"), nil},
		{access.Role(""), nil},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			for _, a := range all {
				want := false
				for _, ok := range tt.allowed {
					want = want || ok == a
				}
				assert.Equal(t, want, access.Allowed(tt.role, a), "%s may %s", tt.role, a)
			}
			if tt.role != access.Admin {
				assert.False(t, access.Allowed(tt.role, access.Action("launch")), "unknown action")
			}
		})
	}
}

func TestParseRole(t *testing.T) {
	tests := []struct {
		in   string
		want access.Role
	}{
		{"admin", access.Admin},
		{"Commander", access.Commander},
		{" approver ", access.Approver},
		{"OPERATOR", access.Operator},
		{"trainer", access.Trainer},
		{"viewer", access.Viewer},
		{"Feed", access.Feed},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := access.ParseRole(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	for _, bad := range []string{"", "root", "admins", "管理员"} {
		t.Run("bad "+bad, func(t *testing.T) {
			_, err := access.ParseRole(bad)
			assert.True(t, muster.IsCode(err, muster.EInvalid), "got %v", err)
			assert.Contains(t, err.Error(), "commander")
		})
	}
}
