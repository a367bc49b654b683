package api_test

import (
	"fmt"
	"net/http"
	"strings"
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
	last, err := cluster.VerifyAudit(cluster.AuditHead{}, all)
	require.NoError(t, err)
	assert.Equal(t, head.Hash, last.Hash)
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

// POST /api/v1/audit/cut cuts the chain up to an exported entry, for
// admins only, a bounded number of entries a request; a hash that is not
// the chain's is a conflict and cuts nothing; GET /api/v1/audit then
// starts after the checkpoint it names, on every node.
func TestAuditCutThroughTheAPI(t *testing.T) {
	require.GreaterOrEqual(t, muster.Rules, cluster.AuditCutRules, "this muster cuts the audit chain")
	f := newFixture(t, 3)
	leader := f.c.WaitLeader(10 * time.Second)
	h := f.handler(leader)
	require.Eventually(t, func() bool { return leader.Node.Status().Rules >= cluster.AuditCutRules }, 20*time.Second, 20*time.Millisecond)
	operator, _ := createToken(t, h, f.root, "值班员", access.Operator)
	for i := range 4 {
		createToken(t, h, f.root, fmt.Sprintf("大屏%d", i), access.Viewer)
	}

	res := do(t, h, request{method: "GET", path: "/api/v1/audit?limit=1000", token: f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var export api.AuditPage
	res.decode(t, &export)
	require.GreaterOrEqual(t, len(export.Items), 5)
	through := export.Items[4]
	body := func(hash string, max int) string {
		return fmt.Sprintf(`{"from":1,"through":%d,"hash":%q,"reason":"归档至审计存储","max":%d}`, through.Seq, hash, max)
	}

	res = do(t, h, request{method: "POST", path: "/api/v1/audit/cut", token: operator, body: strings.NewReader(body(through.Hash, 0))})
	assert.Equal(t, http.StatusForbidden, res.Code, "admins only: %s", res.Body)
	res = do(t, h, request{method: "POST", path: "/api/v1/audit/cut", token: f.root, body: strings.NewReader(body(strings.Repeat("f", 64), 0))})
	assert.Equal(t, http.StatusConflict, res.Code, "%s", res.Body)
	assert.Contains(t, res.errorBody(t).Message, "nothing was cut")
	res = do(t, h, request{method: "GET", path: "/api/v1/audit?limit=1", token: f.root})
	var p api.AuditPage
	res.decode(t, &p)
	require.NotEmpty(t, p.Items)
	assert.Equal(t, uint64(1), p.Items[0].Seq, "nothing cut")
	assert.Zero(t, p.Head.Checkpoint)

	// Two entries a request: 2, 2, 1.
	var removed []uint64
	for {
		res = do(t, f.handler(f.c.Followers()[0]), request{method: "POST", path: "/api/v1/audit/cut", token: f.root, body: strings.NewReader(body(through.Hash, 2))})
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		var r cluster.AuditCutResult
		res.decode(t, &r)
		removed = append(removed, r.Removed)
		if r.Remaining == 0 {
			assert.Equal(t, through.Seq, r.Checkpoint.Seq)
			assert.Equal(t, through.Hash, r.Checkpoint.Hash)
			assert.Equal(t, access.BootstrapTokenName, r.Checkpoint.Actor)
			assert.Equal(t, "归档至审计存储", r.Checkpoint.Reason)
			break
		}
		require.Less(t, len(removed), 5)
	}
	assert.Equal(t, []uint64{2, 2, 1}, removed)

	// Every node's own copy starts after the checkpoint and verifies from it.
	require.Eventually(t, func() bool {
		var heads []cluster.AuditHead
		for _, m := range f.c.Nodes {
			res := do(t, f.handler(m), request{method: "GET", path: "/api/v1/audit?consistency=stale&limit=1000", token: f.root})
			require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
			var p api.AuditPage
			res.decode(t, &p)
			if p.Head.Checkpoint.Seq != through.Seq || len(p.Items) == 0 {
				return false
			}
			require.Equal(t, through.Seq+1, p.Items[0].Seq)
			last, err := cluster.VerifyAudit(p.Head.Checkpoint.Before(), p.Items)
			require.NoError(t, err)
			if last.Hash != p.Head.Hash {
				return false
			}
			heads = append(heads, p.Head)
		}
		return heads[0] == heads[1] && heads[1] == heads[2]
	}, 20*time.Second, 50*time.Millisecond, "every node holds the cut chain")
}
