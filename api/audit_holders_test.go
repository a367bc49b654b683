package api_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/access"
	"muster/api"
	"muster/cluster"
)

// GET /api/v1/audit names, beside the chain's entries, who held the token
// each entry's actor names when it was made (holders, by entry number),
// from the token records: a name reused after a revoke is the revoked
// token's holder in the entries before the revoke and the new one's after.
// The entries themselves, and their hashes, stay as the chain has them.
func TestAuditPageNamesTheHolders(t *testing.T) {
	f := newFixture(t, 1)
	leader := f.c.WaitLeader(10 * time.Second)
	h := f.handler(leader)
	require.Eventually(t, func() bool { return leader.Node.Status().Rules >= cluster.AuditRules }, 20*time.Second, 20*time.Millisecond)

	zhang, first := createToken(t, h, f.root, "张三", access.Admin, "张三丰")
	createToken(t, h, zhang, "大屏甲", access.Viewer)
	res := do(t, h, request{method: "DELETE", path: "/api/v1/tokens/" + string(first.ID), token: f.root})
	require.Equal(t, http.StatusNoContent, res.Code, "%s", res.Body)
	res = do(t, h, request{method: "POST", path: "/api/v1/tokens", token: f.root,
		body: jsonBody(map[string]any{"name": "张三", "holder": "李四", "role": "admin", "reuse_name": true})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var again struct {
		Secret string `json:"secret"`
	}
	res.decode(t, &again)
	createToken(t, h, again.Secret, "大屏乙", access.Viewer)

	res = do(t, h, request{method: "GET", path: "/api/v1/audit?limit=1000", token: f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var p api.AuditPage
	res.decode(t, &p)
	_, err := cluster.VerifyAudit(cluster.AuditHead{}, p.Items)
	require.NoError(t, err, "the entries as the chain has them")
	var byZhang []string
	for _, e := range p.Items {
		seq := strconv.FormatUint(e.Seq, 10)
		switch e.Actor {
		case "张三":
			byZhang = append(byZhang, p.Holders[seq])
		case access.BootstrapTokenName:
			assert.Equal(t, access.BootstrapTokenName, p.Holders[seq], "entry %d", e.Seq)
		}
	}
	assert.Equal(t, []string{"张三丰", "李四"}, byZhang, "each entry by the holder of the token named 张三 when it was made")
}
