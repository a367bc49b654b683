package cluster

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The node-to-node server listens from the raft transport's creation, so a
// restarted node's peers ask it before its raft runs: a read-index or a
// forwarded write then is answered "not the leader" (asked again
// elsewhere), where it read a raft that was not there yet.
func TestANodeThatIsStartingAnswersNotTheLeader(t *testing.T) {
	n, err := New(Config{NodeID: "node0", DataDir: t.TempDir(), RaftBind: "127.0.0.1:0", ClusterKey: "starting-key"})
	require.NoError(t, err)
	t.Cleanup(func() { n.fsm.Close() })
	h := n.InternalHandler()
	peer := newInternalAuth("starting-key", false, func() bool { return true }) // a member's signature
	for _, path := range []string{"/internal/v1/read-index?verify=1", "/internal/v1/apply", "/internal/v1/status"} {
		method := http.MethodPost
		if path == "/internal/v1/status" {
			method = http.MethodGet
		}
		req := httptest.NewRequest(method, path, nil)
		peer.sign(req, nil)
		rec := httptest.NewRecorder()
		require.NotPanics(t, func() { h.ServeHTTP(rec, req) }, path)
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code, path)
		var body struct {
			Error struct{ Code, Message string }
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
		assert.Equal(t, "not_leader", body.Error.Code, path)
		assert.Contains(t, body.Error.Message, "starting", path)
	}
}
