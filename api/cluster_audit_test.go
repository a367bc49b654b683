package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
)

// A member removed through the API, and a backup taken, are recorded in
// the audit chain as by the token's name, also through a follower: the
// removal was recorded as by "cluster" and the backup not at all
// (exploratory finding Z1).
func TestMembershipAndBackupsAreAuditedAsTheToken(t *testing.T) {
	f := newFixture(t, 3)
	leader := f.c.WaitLeader(10 * time.Second)
	require.Eventually(t, func() bool { return leader.Node.Status().Rules >= cluster.BackupAuditRules }, 20*time.Second, 20*time.Millisecond)
	via, gone := f.c.Followers()[0], f.c.Followers()[1]
	h := f.handler(via)
	who, err := f.tokens(leader).Authenticate(ctx(t), f.root)
	require.NoError(t, err)

	res := do(t, h, request{method: "POST", path: "/api/v1/cluster/remove", token: f.root, body: strings.NewReader(`{"id":"` + gone.Node.ID() + `"}`)})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	res = do(t, h, request{method: "GET", path: "/api/v1/backup", token: f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)

	entries, _, err := leader.Node.Audit(ctx(t), muster.Linearizable, 0, 10000)
	require.NoError(t, err)
	by := map[string][]string{} // type → actors
	for _, e := range entries {
		by[e.Type] = append(by[e.Type], e.Actor)
	}
	assert.Equal(t, []string{who.Name}, by["cluster.node.delete"])
	assert.Equal(t, []string{who.Name}, by[cluster.CmdBackupTaken])
}
