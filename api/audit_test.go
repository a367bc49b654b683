package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
	"muster/api"
	"muster/cluster"
)

// GET /api/v1/audit serves the audit chain to admins: every command since
// the cluster's rules reached the audit's, paged, with the head; each
// node's own copy (consistency=stale) has the same head.
func TestAuditThroughTheAPI(t *testing.T) {
	require.GreaterOrEqual(t, muster.Rules, cluster.AuditRules, "this muster keeps the audit chain")
	f := newFixture(t, 3)
	leader := f.c.WaitLeader(10 * time.Second)
	h := f.handler(leader)
	require.Eventually(t, func() bool { return leader.Node.Status().Rules >= cluster.AuditRules }, 20*time.Second, 20*time.Millisecond)
	viewer, _ := createToken(t, h, f.root, "大屏", access.Viewer)
	_, second := createToken(t, h, f.root, "值班员", access.Operator)

	res := do(t, h, request{method: "GET", path: "/api/v1/audit", token: viewer})
	assert.Equal(t, http.StatusForbidden, res.Code, "admins only: %s", res.Body)

	var all []cluster.AuditEntry
	var head cluster.AuditHead
	for after := ""; ; {
		res = do(t, h, request{method: "GET", path: "/api/v1/audit?limit=2&after=" + after, token: f.root})
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		var p api.AuditPage
		res.decode(t, &p)
		all = append(all, p.Items...)
		head = p.Head
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	last, err := cluster.VerifyAudit("", all)
	require.NoError(t, err)
	assert.Equal(t, head.Hash, last)
	var created []string
	for _, e := range all {
		if e.Type == "token.create" {
			created = append(created, e.Actor)
		}
	}
	assert.Len(t, created, 2, "both tokens made after the rules rose: %v", all)
	for _, actor := range created {
		assert.Equal(t, access.BootstrapTokenName, actor)
	}
	assert.NotEmpty(t, second.ID)

	// Each node's own copy: once they have applied the same entries, the
	// same head (the leader's services may still be writing: look again).
	heads := func() []cluster.AuditHead {
		var out []cluster.AuditHead
		for _, m := range f.c.Nodes {
			res := do(t, f.handler(m), request{method: "GET", path: "/api/v1/audit?consistency=stale&limit=1", token: f.root})
			require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
			var p api.AuditPage
			res.decode(t, &p)
			out = append(out, p.Head)
		}
		return out
	}
	require.Eventually(t, func() bool {
		h := heads()
		return h[0].Seq >= head.Seq && h[0] == h[1] && h[1] == h[2]
	}, 20*time.Second, 50*time.Millisecond, "the nodes' heads agree: %v", heads())

	res = do(t, h, request{method: "GET", path: "/api/v1/audit?after=first", token: f.root})
	assert.Equal(t, http.StatusBadRequest, res.Code)
	assert.Contains(t, res.errorBody(t).Message, `after "first": want the number of an audit entry`)
}
