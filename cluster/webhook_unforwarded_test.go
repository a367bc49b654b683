package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
	"muster/api"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/drills"
	"muster/examples"
	"muster/notify"
	"muster/notify/twiliosim"
	"muster/plans"
)

// A person's reply posted by the provider to a member that cannot pass it
// on to the leader (its node-to-node request refused: this member's clock
// is 30 minutes off, outside the window in which the leader takes its
// requests) is answered 503 with a Retry-After, not 403: the provider
// takes a 4xx as final and the reply "1 到" would be lost. Posted again,
// once the member's clock is right, the same signed webhook is recorded.
// A webhook whose signature is wrong is still refused with 403.
func TestAWebhookThatCannotBeForwardedIsPostedAgain(t *testing.T) {
	gin.SetMode(gin.TestMode) // no route listing on stdout
	const public, token = "https://muster.example.cn", "livetoken"
	senders := notify.Senders{
		Live:     notify.SendInfo{Account: "AC-live", Sender: "+15005550006", PerSecond: 100},
		Exercise: notify.SendInfo{Account: "AC-exercise", Sender: "+15005550007", PerSecond: 100},
	}
	clocks := []*skewClock{{}, {}, {}}
	var mu sync.Mutex
	handlers := map[string]http.Handler{}
	c := clustertest.New(t, 3, clustertest.Options{
		Setup: func(_ int, n *cluster.Node) {
			access.Register(n)
			plans.Register(n)
			notify.Register(n)
			drills.Register(n)
		},
		Config: func(i int, cfg *cluster.Config) {
			cfg.Clock = clocks[i]
			cluster.ClockedAuth(cfg)
		},
		Handler: func(_ int, n *cluster.Node) http.Handler {
			in := notify.NewInbound(n, notify.InboundConfig{View: n, Tokens: map[string]string{senders.Live.Account: token}})
			t.Cleanup(in.Close)
			h := api.New(api.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PublicURL: public},
				api.Deps{Cluster: n, Tokens: access.NewService(n, n), Plans: plans.NewService(n, n),
					Activations: notify.NewService(n, n, senders), Webhooks: in}).Handler()
			mu.Lock()
			handlers[n.ID()] = h
			mu.Unlock()
			return h
		},
	})
	handler := func(m *clustertest.Member) http.Handler {
		mu.Lock()
		defer mu.Unlock()
		return handlers[m.Node.ID()]
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	leader := c.WaitLeader(10 * time.Second)
	root, created, err := access.NewService(leader.Node, leader.Node).Bootstrap(ctx, "")
	require.NoError(t, err)
	require.True(t, created)

	// The demo city, a roster and a LIVE call-up, through the leader.
	call := func(method, path string, body []byte) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(method, path, bytes.NewReader(body)).WithContext(ctx)
		req.Header.Set("Authorization", "Bearer "+root)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		handler(leader).ServeHTTP(rec, req)
		return rec
	}
	res := call("POST", "/api/v1/regions/import", examples.RegionsCSV())
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	files, err := examples.Plans()
	require.NoError(t, err)
	res = call("POST", "/api/v1/plans?filename="+files[0].Name, files[0].Data)
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	regions, err := examples.Regions()
	require.NoError(t, err)
	var roster bytes.Buffer
	require.NoError(t, examples.GenerateRoster(&roster, 300, 3, examples.Grids(regions)))
	res = call("POST", "/api/v1/roster/import", roster.Bytes())
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	body, err := json.Marshal(map[string]any{"plan_id": "flood-control", "regions": []string{"990101"}, "level": "IV", "purpose": "LIVE", "reason": "暴雨内涝"})
	require.NoError(t, err)
	res = call("POST", "/api/v1/activations", body)
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var act notify.Activation
	require.NoError(t, json.Unmarshal(res.Body.Bytes(), &act))
	stateOf := func(p plans.PersonID) notify.State {
		t.Helper()
		n := c.WaitLeader(10 * time.Second).Node
		l, err := notify.NewService(n, n, senders).Recipients(ctx, muster.Default, act.ID, notify.RecipientFilter{}, plans.Page{Limit: 1000})
		require.NoError(t, err)
		for _, rc := range l.Items {
			if rc.Person == p {
				return rc.State
			}
		}
		require.FailNow(t, "no recipient "+string(p))
		return ""
	}
	l, err := notify.NewService(leader.Node, leader.Node, senders).Recipients(ctx, muster.Default, act.ID, notify.RecipientFilter{}, plans.Page{Limit: 1000})
	require.NoError(t, err)
	require.NotEmpty(t, l.Items)
	rc := l.Items[0]
	require.False(t, stateOf(rc.Person).Answered())

	// The reply, as the provider posts it, signed with the account's token.
	const path = "/hooks/twilio/sms-inbound"
	form := url.Values{"AccountSid": {senders.Live.Account}, "MessageSid": {"SMreply1"}, "From": {rc.Phone},
		"To": {senders.Live.Sender}, "Body": {"1 到"}}
	post := func(m *clustertest.Member, signature string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode())).WithContext(ctx)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", signature)
		rec := httptest.NewRecorder()
		handler(m).ServeHTTP(rec, req)
		return rec
	}
	signature := twiliosim.Signature(token, public+path, form)

	// A follower whose clock is 30 minutes off: the leader refuses what it
	// forwards.
	member := c.Followers()[0]
	clocks[member.Index].off.Store(int64(30 * time.Minute))
	res = post(member, signature)
	assert.Equal(t, http.StatusServiceUnavailable, res.Code, "a genuine reply that could not be recorded is to be posted again: %s", res.Body)
	assert.NotEmpty(t, res.Header().Get("Retry-After"))
	assert.Contains(t, res.Body.String(), "not recorded")
	assert.Contains(t, res.Body.String(), "nodes of a cluster must keep their clocks within", "says why")
	assert.False(t, stateOf(rc.Person).Answered(), "nothing was recorded")
	assert.Equal(t, http.StatusForbidden, post(member, "bad").Code, "a webhook that is not genuine is refused")

	// Its clock put right, the provider's next try is recorded.
	clocks[member.Index].off.Store(0)
	res = post(member, signature)
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	assert.Equal(t, notify.StateAcked, stateOf(rc.Person), "the reply posted again is recorded")
}
