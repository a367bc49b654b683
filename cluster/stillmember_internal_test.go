package cluster

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Only a committed configuration at least as new as the node's own that
// does not list it shows the node removed (at the same index it is the
// node's own entry, committed); any other answer of a leader keeps it.
func TestRemovedByTakesOnlyACommittedConfigurationWithoutTheNode(t *testing.T) {
	servers := func(ids ...string) []ServerStatus {
		var out []ServerStatus
		for _, id := range ids {
			out = append(out, ServerStatus{ID: id})
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		st      Status
		removed bool
	}{
		{"newer committed without it", Status{Servers: servers("n1", "n2"), ConfigIndex: 40, CommitIndex: 45}, true},
		{"committed just now", Status{Servers: servers("n1", "n2"), ConfigIndex: 40, CommitIndex: 40}, true},
		{"lists it", Status{Servers: servers("n1", "n2", "n3"), ConfigIndex: 40, CommitIndex: 45}, false},
		{"not yet committed", Status{Servers: servers("n1", "n2"), ConfigIndex: 40, CommitIndex: 39}, false},
		{"as old as its own", Status{Servers: servers("n1", "n2"), ConfigIndex: 30, CommitIndex: 45}, true},
		{"older than its own", Status{Servers: servers("n1", "n2"), ConfigIndex: 20, CommitIndex: 45}, false},
		{"index unknown (an older muster)", Status{Servers: servers("n1", "n2"), CommitIndex: 45}, false},
		{"no configuration read", Status{ConfigIndex: 40, CommitIndex: 45}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.removed, removedBy(tc.st, "n3", 30))
		})
	}
}
