package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
)

// POST /api/v1/cluster/join with an http_addr that is neither HOST:PORT nor
// an http(s) base URL is bad input (400, saying which forms it takes), not
// a conflict telling to start the node (exploratory finding Z2).
func TestClusterJoinRefusesAnHTTPAddressThatIsNoURL(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	res := do(t, h, request{method: "POST", path: "/api/v1/cluster/join", token: f.root,
		body: strings.NewReader(`{"id":"n9","raft_addr":"127.0.0.1:27009","http_addr":"ftp://x"}`)})
	require.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
	e := res.errorBody(t)
	assert.Equal(t, muster.EInvalid, e.Code)
	assert.Contains(t, e.Message, "as HOST:PORT (as its muster agent --http-addr) or as a URL such as http://")
	assert.Len(t, f.c.Nodes[0].Node.Status().Servers, 1)
}
