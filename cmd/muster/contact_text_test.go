package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"muster/cluster"
)

// The CONTACT cell of muster cluster status: a member that answers the
// leader but cannot store raft entries says LOG FAILING, not how long ago
// it answered (it does not count towards the quorum).
func TestContactText(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		s    cluster.ServerStatus
		want string
	}{
		{cluster.ServerStatus{}, "-"},
		{cluster.ServerStatus{Reachable: &yes}, "-"},
		{cluster.ServerStatus{Reachable: &yes, LastContact: "35ms"}, "35ms ago"},
		{cluster.ServerStatus{Reachable: &no}, "LOST (never heard)"},
		{cluster.ServerStatus{Reachable: &no, LastContact: "4.2s"}, "LOST 4.2s ago"},
		{cluster.ServerStatus{Reachable: &no, LastContact: "20ms", LogFailing: "the raft log … cannot store entries"}, "LOG FAILING"},
	} {
		assert.Equal(t, tc.want, contactText(tc.s), "%+v", tc.s)
	}
}
